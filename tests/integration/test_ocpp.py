"""OCPP 2.0.1 / 2.1 WebSocket transport against the real binary: handshake
(path, station id, subprotocol), BootNotification gating, Heartbeat,
StatusNotification into the model, CALLERROR codes from the codec and the
validators, frame limits, reconnects, isolation between stations, offline
on disconnect."""

import datetime
import json
import re
import socket
import threading
import time

from fgtest import Gateway, base_config, free_port, run, wait_asset
from wsclient import ConnectionClosed, HandshakeRefused, connect

V201, V21 = ["ocpp2.0.1"], ["ocpp2.1"]
BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M1", "vendorName": "V"}}
CP1_1 = {"id": "cp1-1", "kind": "evse", "adapter": "ocpp", "station": "CP1", "evse_id": 1,
         "rated_w": 11000}
CP2_1 = dict(CP1_1, id="cp2-1", station="CP2")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def ocpp_gateway(extra_assets=(), cp1=None, storage=None, site=None, scheduler=None,
                 **ocpp):
    """A Gateway with OCPP on a free loopback port (gw.ocpp_port) and the
    configured station CP1 (asset cp1-1, with the keys of cp1 added), plus
    extra_assets; storage: keys for the storage section; site: keys of the
    site section replaced (before CP1 is added); scheduler: the scheduler
    section (default none)."""
    cfg = base_config(**(site or {}))
    if scheduler:
        cfg["scheduler"] = scheduler
    if storage:
        cfg.setdefault("storage", {}).update(storage)
    cfg["site"]["assets"].append(dict(CP1_1, **(cp1 or {})))
    cfg["site"]["assets"] += [dict(a) for a in extra_assets]
    port = free_port()
    cfg["ocpp"] = {"enabled": True, "listen": f"127.0.0.1:{port}", "heartbeat_s": 60}
    cfg["ocpp"].update(ocpp)
    gw = Gateway(cfg)
    gw.ocpp_port = port
    return gw


def ws_open(gw, station="CP1", protocols=V201, path=None, timeout=3):
    return connect("127.0.0.1", gw.ocpp_port, path or f"/ocpp/{station}", protocols,
                   timeout=timeout)


def refused(gw, path, protocols=V201):
    """Assert that the handshake is refused (no 101); returns the status."""
    try:
        ws = connect("127.0.0.1", gw.ocpp_port, path, protocols, timeout=3)
    except HandshakeRefused as e:
        return e.status_code
    ws.close()
    raise AssertionError(f"handshake for {path} offering {protocols} was accepted "
                         f"(subprotocol {ws.subprotocol!r}); expected a refusal")


def check_time(s, slack=2.0):
    assert isinstance(s, str) and RFC3339_UTC.match(s), f"not an RFC 3339 UTC time: {s!r}"
    t = datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert abs(t - time.time()) <= slack, f"currentTime {s} is off by {t - time.time():.1f} s"


def check_error(r, id, code):
    assert isinstance(r, list) and len(r) == 5 and r[0] == 4, f"not a CALLERROR: {r!r}"
    assert r[1] == id and r[2] == code, f"expected [4, {id!r}, {code!r}, ...], got {r!r}"
    assert isinstance(r[3], str) and len(r[3].encode()) <= 255, r
    assert isinstance(r[4], dict), r


def boot(ws, id="boot"):
    r = ws.call("BootNotification", BOOT, id=id)
    assert r[:2] == [3, id] and r[2].get("status") == "Accepted", r
    return r


def heartbeat(ws, id):
    r = ws.call("Heartbeat", {}, id=id, timeout=3)
    assert len(r) == 3 and r[:2] == [3, id], f"Heartbeat {id}: {r!r}"
    check_time(r[2]["currentTime"])


def status(ws, state, evse=1, id="st"):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = ws.call("StatusNotification", {"timestamp": now, "connectorStatus": state,
                                       "evseId": evse, "connectorId": 1}, id=id)
    assert r == [3, id, {}], f"StatusNotification {state}: {r!r}"


def expect_closed(ws, code=None, timeout=3):
    """The server closes: a close frame (with this code, if given) or EOF."""
    try:
        m = ws.recv(timeout=timeout)
        while m[0] != "close":
            m = ws.recv(timeout=timeout)
    except (ConnectionClosed, ConnectionResetError):
        assert code is None, f"expected close code {code}, the server dropped the TCP " \
                             "connection without a close frame"
        return
    except TimeoutError:
        raise AssertionError(f"server did not close the connection within {timeout} s")
    assert code is None or m[1] == code, f"expected close code {code}, got {m!r}"


# --------------------------------------------------------------------------


def test_subprotocols_and_unknown_station():
    with ocpp_gateway() as gw:
        bad = []
        for offer, want in [(["ocpp2.0.1"], "ocpp2.0.1"), (["ocpp2.1"], "ocpp2.1"),
                            # RFC 6455: the client lists them by preference
                            (["ocpp2.0.1", "ocpp2.1"], "ocpp2.0.1"),
                            (["ocpp2.1", "ocpp2.0.1"], "ocpp2.1"),
                            (["ocpp1.6", "ocpp2.0.1"], "ocpp2.0.1")]:
            ws = ws_open(gw, protocols=offer)
            if ws.subprotocol != want:
                bad.append(f"offered {offer}: expected {want!r}, got {ws.subprotocol!r}")
            ws.close()
        for offer in (["ocpp1.6"], [], ["chat"]):
            refused(gw, "/ocpp/CP1", offer)
        # not configured, and allow_unknown_stations is off by default
        refused(gw, "/ocpp/X9")
        for path in ("/", "/ocpp", "/ocpp/", "/foo/CP1", "/ocpp/CP1/"):
            refused(gw, path)
        ws = ws_open(gw)
        boot(ws)
        heartbeat(ws, "after-refusals")
        ws.close()
        assert not bad, "\n" + "\n".join(bad)


def test_station_ids_with_unknown_stations_allowed():
    with ocpp_gateway(allow_unknown_stations=True) as gw:
        for sid in ("X9", "a.b_c-9", "A" * 44):
            ws = ws_open(gw, sid)
            assert ws.subprotocol == "ocpp2.0.1"
            ws.close()
        for sid in ("A" * 45, "bad$id", "bad%20id", "b:d", "b@d"):
            refused(gw, f"/ocpp/{sid}")
        refused(gw, "/ocpp/")
        # StatusNotification creates the asset <station>-<evseId>
        ws = ws_open(gw, "X9")
        boot(ws)
        status(ws, "Available", evse=2)
        a = wait_asset(gw, "X9-2", lambda a: a["online"] is True, "online")
        assert a["kind"] == "evse" and a["adapter"] == "ocpp", a
        assert a["evse"]["state"] == "available", a
        _, _, assets = gw.get("/api/v1/assets")
        assert "X9-2" in {x["id"] for x in assets}, assets
        ws.close()
        wait_asset(gw, "X9-2", lambda a: a["online"] is False, "offline after close")


def test_boot_gating_boot_and_heartbeat():
    """Before an accepted BootNotification every other CALL, known, handled
    or not, is answered SecurityError (OCPP 2.0.1 B02.FR.09 / B03.FR.08)."""
    status_payload = {"timestamp": "2024-01-01T00:00:00Z", "connectorStatus": "Occupied",
                      "evseId": 1, "connectorId": 1}
    with ocpp_gateway() as gw:
        ws = ws_open(gw)
        bad = []
        for id, action, payload in [("h0", "Heartbeat", {}),
                                    ("s0", "StatusNotification", status_payload),
                                    ("d0", "DataTransfer", {"vendorId": "x"}),
                                    ("u0", "FooBar", {})]:
            try:
                check_error(ws.call(action, payload, id=id), id, "SecurityError")
            except AssertionError as e:
                bad.append(f"{action} before boot: {e}")
        # a refused BootNotification does not count as accepted
        r = ws.call("BootNotification", dict(BOOT, reason="Kaboom"), id="b0")
        check_error(r, "b0", "PropertyConstraintViolation")
        check_error(ws.call("Heartbeat", {}, id="h1"), "h1", "SecurityError")
        # a station that talks before booting here is asked to boot, once
        triggers = [c for c in ws.calls if c[2] == "TriggerMessage"]
        assert len(triggers) == 1 and triggers[0][3] == {
            "requestedMessage": "BootNotification"}, ws.calls
        r = boot(ws, "b1")
        assert set(r[2]) == {"currentTime", "interval", "status"}, r
        assert r[2]["interval"] == 60 and r[2]["status"] == "Accepted", r
        check_time(r[2]["currentTime"])
        heartbeat(ws, "h2")
        ws.close()
        assert not bad, "\n" + "\n".join(bad)


def test_status_notification_sets_the_model():
    with ocpp_gateway() as gw:
        ws = ws_open(gw)
        boot(ws)
        for i, (ocpp, state) in enumerate([("Occupied", "occupied"),
                                           ("Available", "available"),
                                           ("Faulted", "faulted"),
                                           ("Unavailable", "unavailable")]):
            status(ws, ocpp, id=f"st{i}")
            wait_asset(gw, "cp1-1", lambda a, s=state: a["online"] is True
                       and a["evse"]["state"] == s, f"online, state {state}")
        ws.close()


def utc(t=None):
    return datetime.datetime.fromtimestamp(t or time.time(), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def tx_event(event, seq, tx="TX-1", energy_wh=None, power_w=None, evse=1, state=None,
             token=None, unit_kw=False):
    p = {"eventType": event, "timestamp": utc(), "seqNo": seq,
         "triggerReason": {"Started": "Authorized", "Updated": "MeterValuePeriodic",
                           "Ended": "EVDeparted"}[event],
         "transactionInfo": {"transactionId": tx}}
    if state:
        p["transactionInfo"]["chargingState"] = state
    if event == "Ended":
        p["transactionInfo"]["stoppedReason"] = "EVDisconnected"
    if evse:
        p["evse"] = {"id": evse, "connectorId": 1}
    if token:
        p["idToken"] = {"idToken": token, "type": "ISO14443"}
    sv = []
    if energy_wh is not None:
        sv.append({"value": energy_wh / 1000 if unit_kw else energy_wh,
                   "measurand": "Energy.Active.Import.Register",
                   "unitOfMeasure": {"unit": "kWh" if unit_kw else "Wh"}})
    if power_w is not None:
        sv.append({"value": power_w, "measurand": "Power.Active.Import",
                   "unitOfMeasure": {"unit": "W"}})
        sv.append({"value": power_w / 3, "measurand": "Power.Active.Import", "phase": "L1",
                   "unitOfMeasure": {"unit": "W"}})
    if sv:
        p["meterValue"] = [{"timestamp": utc(), "sampledValue": sv}]
    return p


def test_transaction_session_reaches_the_model():
    with ocpp_gateway() as gw:
        ws = ws_open(gw)
        boot(ws)
        status(ws, "Occupied", id="s1")
        r = ws.call("TransactionEvent", tx_event("Started", 0, energy_wh=1000, power_w=7000,
                                                   state="Charging", token="TAG1"), id="t0")
        assert r == [3, "t0", {"idTokenInfo": {"status": "Accepted"}}], r
        a = wait_asset(gw, "cp1-1", lambda a: a["power_w"] == 7000, "7 kW")
        sess = a["evse"]["session"]
        assert sess["id"] == "TX-1" and sess["id_token"] == "TAG1", a["evse"]
        assert sess["energy_wh"] == 0 and a["evse"]["state"] == "charging", a["evse"]
        # energy counted from the start register; per-phase samples ignored;
        # a kWh register with a multiplier-free unit
        r = ws.call("TransactionEvent", tx_event("Updated", 1, energy_wh=2500, power_w=11000,
                                                   evse=None, unit_kw=True), id="t1")
        assert r == [3, "t1", {}], r
        a = wait_asset(gw, "cp1-1", lambda a: a["power_w"] == 11000, "11 kW")
        assert a["evse"]["session"]["energy_wh"] == 1500, a["evse"]
        # a retry of an applied event is acknowledged but not applied again
        r = ws.call("TransactionEvent", tx_event("Updated", 1, energy_wh=9999, power_w=1,
                                                   evse=None), id="t1b")
        assert r == [3, "t1b", {}], r
        _, _, a = gw.get("/api/v1/assets/cp1-1")
        assert a["power_w"] == 11000 and a["evse"]["session"]["energy_wh"] == 1500, a
        # MeterValues between events update the power
        r = ws.call("MeterValues", {"evseId": 1, "meterValue": [
            {"timestamp": utc(), "sampledValue": [{"value": 3.2, "measurand":
                                                   "Power.Active.Import",
                                                   "unitOfMeasure": {"unit": "kW"}}]}]},
                    id="m1")
        assert r == [3, "m1", {}], r
        wait_asset(gw, "cp1-1", lambda a: a["power_w"] == 3200, "3.2 kW")
        r = ws.call("TransactionEvent", tx_event("Ended", 2, energy_wh=4000, evse=None),
                    id="t2")
        assert r == [3, "t2", {}], r
        a = wait_asset(gw, "cp1-1", lambda a: "session" not in a["evse"] or
                       not a["evse"].get("session"), "session ended")
        assert a["power_w"] == 0, a
        _, _, m = gw.get("/metrics")
        ws.close()


def test_acknowledged_transaction_event_survives_kill9():
    import os
    import sqlite3
    gw = ocpp_gateway().start()
    try:
        ws = ws_open(gw)
        boot(ws)
        r = ws.call("TransactionEvent", tx_event("Started", 0, tx="TX-K", energy_wh=10),
                    id="k0")
        assert r[0] == 3, r
        gw.kill9()  # right after the CALLRESULT
        db = sqlite3.connect(os.path.join(gw.data_dir, "flexgw.db"))
        rows = list(db.execute("SELECT station, evse, state, json FROM transactions"
                               " WHERE tx_id='TX-K'"))
        db.close()
        assert len(rows) == 1, rows
        station, evse, state, body = rows[0]
        assert (station, evse, state) == ("CP1", 1, "Started"), rows
        assert json.loads(body)["transactionInfo"]["transactionId"] == "TX-K"
    finally:
        if gw.proc.poll() is None:
            gw.kill9()
        gw.tmp.cleanup()


def meter_rows(gw, asset):
    import os
    import sqlite3
    db = sqlite3.connect(os.path.join(gw.data_dir, "flexgw.db"))
    try:
        return [r[0] for r in db.execute(
            "SELECT power_w FROM meter_values WHERE asset_id=? ORDER BY ts_ms", (asset,))]
    finally:
        db.close()


def test_meter_history_keeps_one_reading_per_interval():
    """Every MeterValues updates the model; the history stores the first
    reading of each storage.meter_interval_s per EVSE, so a flooding station
    cannot grow the store without bound; 0 stores every reading."""
    def meter(ws, id, kw):
        r = ws.call("MeterValues", {"evseId": 1, "meterValue": [
            {"timestamp": utc(), "sampledValue": [{"value": kw, "measurand":
                                                   "Power.Active.Import",
                                                   "unitOfMeasure": {"unit": "kW"}}]}]},
                    id=id)
        assert r == [3, id, {}], r

    with ocpp_gateway(storage={"meter_interval_s": 1}) as gw:
        ws = ws_open(gw)
        boot(ws)
        t0 = time.monotonic()
        for i in range(20):
            meter(ws, f"m{i}", 1.0 + i)
        burst_s = time.monotonic() - t0
        wait_asset(gw, "cp1-1", lambda a: a["power_w"] == 20000, "the last reading")
        rows = meter_rows(gw, "cp1-1")
        # 20 readings within a fraction of a second: one row (two if the burst
        # straddled the end of a window, which a slow machine may do)
        assert rows[0] == 1000, rows
        assert len(rows) <= 1 + int(burst_s) + 1, (rows, burst_s)
        time.sleep(1.1)
        meter(ws, "late", 7.5)
        wait_asset(gw, "cp1-1", lambda a: a["power_w"] == 7500, "7.5 kW")
        rows = meter_rows(gw, "cp1-1")
        assert rows[-1] == 7500, rows
        ws.close()
    with ocpp_gateway(storage={"meter_interval_s": 0}) as gw:
        ws = ws_open(gw)
        boot(ws)
        for i in range(5):
            meter(ws, f"a{i}", 2.0 + i)
        wait_asset(gw, "cp1-1", lambda a: a["power_w"] == 6000, "the last reading")
        assert meter_rows(gw, "cp1-1") == [2000, 3000, 4000, 5000, 6000]
        ws.close()


def test_open_transaction_resumed_after_restart():
    """A transaction open when the gateway died comes back from the store: its
    session shows again, a retried event is not applied twice, and an
    Updated event without the EVSE still finds it."""
    gw = ocpp_gateway().start()
    again = None
    try:
        ws = ws_open(gw)
        boot(ws)
        r = ws.call("TransactionEvent", tx_event("Started", 0, tx="TX-R", energy_wh=1000,
                                                 token="TOK-R", state="Charging"), id="r0")
        assert r[0] == 3, r
        r = ws.call("TransactionEvent", tx_event("Updated", 1, tx="TX-R", energy_wh=3000,
                                                 power_w=7000, evse=None), id="r1")
        assert r[0] == 3, r
        gw.kill9()
        again = Gateway(config_path=gw.config_path, data_dir=gw.data_dir)
        again.ocpp_port = gw.ocpp_port
        again.start()
        a = wait_asset(again, "cp1-1", lambda a: a["evse"]["session"] is not None,
                       "the session resumed")
        s = a["evse"]["session"]
        # the store keeps the last event: Updated, which carries no id token
        assert s["id"] == "TX-R", s
        assert a["online"] is False, a  # until the station is back
        ws = ws_open(again)
        boot(ws)
        # a retry of the last event before the restart: acknowledged, not applied
        r = ws.call("TransactionEvent", tx_event("Updated", 1, tx="TX-R", energy_wh=9999,
                                                 power_w=1, evse=None), id="r1b")
        assert r[0] == 3, r
        time.sleep(0.2)
        _, _, a = again.get("/api/v1/assets/cp1-1")
        assert a["power_w"] != 1, a
        # the next one, without evse, lands on the EVSE of the transaction
        r = ws.call("TransactionEvent", tx_event("Updated", 2, tx="TX-R", energy_wh=5000,
                                                 power_w=6000, evse=None), id="r2")
        assert r[0] == 3, r
        a = wait_asset(again, "cp1-1", lambda a: a["power_w"] == 6000, "6 kW")
        # the stored event was not the Started one: energy counts from the
        # first reading after the restart
        assert a["evse"]["session"]["energy_wh"] == 0, a["evse"]["session"]
        r = ws.call("TransactionEvent", tx_event("Ended", 3, tx="TX-R", energy_wh=6000,
                                                 evse=None), id="r3")
        assert r[0] == 3, r
        wait_asset(again, "cp1-1", lambda a: a["evse"]["session"] is None, "ended")
        ws.close()
        again.stop()
        # an ended transaction is not resumed
        third = Gateway(config_path=gw.config_path, data_dir=gw.data_dir)
        third.ocpp_port = gw.ocpp_port
        third.start()
        time.sleep(0.3)
        _, _, a = third.get("/api/v1/assets/cp1-1")
        assert a["evse"]["session"] is None, a
        third.stop()
    finally:
        if gw.proc.poll() is None:
            gw.kill9()
        if again and again.proc.poll() is None:
            again.kill9()
        gw.tmp.cleanup()


def sized_call(id, n):
    """A valid DataTransfer CALL of exactly n bytes."""
    pad = n - len(json.dumps([2, id, "DataTransfer", {"vendorId": "x", "data": ""}]))
    s = json.dumps([2, id, "DataTransfer", {"vendorId": "x", "data": "a" * pad}])
    assert len(s) == n
    return s


# ---- the CALLERROR table -------------------------------------------------
#
# Every case is (name, frame, answer over ocpp2.0.1, answer over ocpp2.1).
# An answer is None (nothing may come back), ("CALLRESULT", id),
# (4, id, errorCode) for a CALLERROR or (5, id, errorCode) for an OCPP 2.1
# CALLRESULTERROR. A frame is a str or, for bytes that are not UTF-8, bytes.
# The answers are flexgw's documented behaviour (docs/ocpp.md, fg_ocppj.h,
# fg_ocpp_schema.h); where that departs from the letter of OCPP-J part 4 the
# case says so in a comment.

SAME = object()  # the 2.1 answer is the 2.0.1 one
NA = object()    # the case is not sent in this dialect
RESULT = "CALLRESULT"
FV, TCV, OCV, PCV = ("FormatViolation", "TypeConstraintViolation",
                     "OccurrenceConstraintViolation", "PropertyConstraintViolation")
RPC, MTNS, NIMPL, NSUP = ("RpcFrameworkError", "MessageTypeNotSupported", "NotImplemented",
                          "NotSupported")


CLOSED_1007 = ("close", 1007)  # the gateway closes the connection with this code


def E(code, id):
    return (4, id, code)


def E5(code, id):
    return (5, id, code)


def OK(id):
    return (RESULT, id)


def edit(base, path, value=None, delete=False):
    """A deep copy of base with the value at path (keys and indices) set, or
    deleted."""
    d = json.loads(json.dumps(base))
    node = d
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


def call(id, action, payload):
    return json.dumps([2, id, action, payload], ensure_ascii=False)


TS = "2024-05-01T12:00:00Z"
P_STATUS = {"timestamp": TS, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}
P_METER = {"evseId": 1, "meterValue": [{"timestamp": TS, "sampledValue": [
    {"value": 230.1, "measurand": "Voltage", "phase": "L1-N",
     "unitOfMeasure": {"unit": "V"}},
    {"value": 7.5, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}}]}]}
# Ended for a transaction nobody knows, on an EVSE the site does not have:
# stored and acknowledged, but it changes nothing in the model.
P_TX = {"eventType": "Ended", "timestamp": TS, "triggerReason": "EVDeparted", "seqNo": 0,
        "transactionInfo": {"transactionId": "TX-TABLE", "stoppedReason": "EVDisconnected"},
        "evse": {"id": 99, "connectorId": 1},
        "idToken": {"idToken": "TAG1", "type": "ISO14443"},
        "meterValue": [{"timestamp": TS, "sampledValue": [
            {"value": 1000, "measurand": "Energy.Active.Import.Register"}]}]}
P_AUTH = {"idToken": {"idToken": "TAG1", "type": "ISO14443"}}
OCSP = {"hashAlgorithm": "SHA256", "issuerNameHash": "a" * 64, "issuerKeyHash": "b" * 64,
        "serialNumber": "01", "responderURL": "http://ocsp.example"}
P_EVENT = {"generatedAt": TS, "seqNo": 0, "eventData": [
    {"eventId": 1, "timestamp": TS, "trigger": "Delta", "actualValue": "Faulted",
     "eventNotificationType": "HardWiredNotification",
     "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
     "variable": {"name": "AvailabilityState"}}]}
P_REPORT = {"requestId": 1, "generatedAt": TS, "seqNo": 0, "reportData": [
    {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
     "variableAttribute": [{"type": "Actual", "value": "11000", "mutability": "ReadOnly"}],
     "variableCharacteristics": {"dataType": "decimal", "supportsMonitoring": True,
                                 "unit": "W"}}]}
P_NEEDS = {"evseId": 1, "chargingNeeds": {
    "requestedEnergyTransfer": "DC", "departureTime": "2024-05-01T18:00:00Z",
    "dcChargingParameters": {"evMaxCurrent": 125, "evMaxVoltage": 400,
                             "stateOfCharge": 40}}}
P_LIMIT = {"evseId": 1, "chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": False},
           "chargingSchedule": [{"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [
               {"startPeriod": 0, "limit": 7000.0}]}]}
TARIFF = {"id": 1, "salesTariffEntry": [{"relativeTimeInterval": {"start": 0},
                                         "ePriceLevel": 0}]}
COST = {"startValue": 0, "cost": [{"costKind": "RenewableGenerationPercentage",
                                   "amount": 40}]}
SCHED = {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [
    {"startPeriod": 0, "limit": 16.0}]}
P_PROFILES = {"requestId": 1, "chargingLimitSource": "CSO", "evseId": 1, "chargingProfile": [
    {"id": 7, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
     "chargingProfileKind": "Absolute", "chargingSchedule": [SCHED]}]}
P_SECURITY = {"type": "FirmwareUpdated", "timestamp": TS}


def callerror_table():
    """The table for a booted station: ≥ 100 distinct mistakes plus the
    boundary values next to them that must be accepted."""
    B = lambda id, p: call(id, "BootNotification", p)  # noqa: E731
    S = lambda id, path, v=None, **kw: call(  # noqa: E731
        id, "StatusNotification", edit(P_STATUS, path, v, **kw))
    M = lambda id, path, v=None, **kw: call(  # noqa: E731
        id, "MeterValues", edit(P_METER, path, v, **kw))
    T = lambda id, path, v=None, **kw: call(  # noqa: E731
        id, "TransactionEvent", edit(P_TX, path, v, **kw))
    A = lambda id, path, v=None, **kw: call(  # noqa: E731
        id, "Authorize", edit(P_AUTH, path, v, **kw))
    EV = lambda id, path, v=None, **kw: call(  # noqa: E731
        id, "NotifyEvent", edit(P_EVENT, path, v, **kw))
    RP = lambda id, path, v=None, **kw: call(  # noqa: E731
        id, "NotifyReport", edit(P_REPORT, path, v, **kw))
    ND = lambda id, path, v=None, **kw: call(  # noqa: E731
        id, "NotifyEVChargingNeeds", edit(P_NEEDS, path, v, **kw))
    LM = lambda id, path, v=None, **kw: call(  # noqa: E731
        id, "NotifyChargingLimit", edit(P_LIMIT, path, v, **kw))
    PR = lambda id, path, v=None, **kw: call(  # noqa: E731
        id, "ReportChargingProfiles", edit(P_PROFILES, path, v, **kw))
    cs = BOOT["chargingStation"]
    dt = lambda id, data: '[2,"%s","DataTransfer",{"vendorId":"x","data":%s}]' % (  # noqa
        id, data)
    hb = lambda id, cd: call(id, "Heartbeat", {"customData": cd})  # noqa: E731
    nest = lambda n: "[" * n + "]" * n  # noqa: E731
    periods = lambda n: [{"startPeriod": 60 * i, "limit": 16.0} for i in range(n)]  # noqa
    attrs = [{"type": t, "value": "1"} for t in ("Actual", "Target", "MinSet", "MaxSet")]
    t_sv = ("meterValue", 0, "sampledValue", 0)
    m_sv = ("meterValue", 0, "sampledValue")
    return [
        # ---- framing: not JSON, or not RFC 8259 JSON -----------------------
        # A frame whose id cannot be read (or is no valid id) is answered with
        # a CALLERROR whose id is "-1" (OCPP-J 4.2.3), unless it is
        # recognisably a CALLRESULT, CALLERROR or SEND.
        ("fr: not JSON", "hello", E(RPC, "-1"), SAME),
        ("fr: empty text frame", "", E(RPC, "-1"), SAME),
        ("fr: whitespace only", " \r\n\t", E(RPC, "-1"), SAME),
        ("fr: truncated before the id ends", '[2, "f8', E(RPC, "-1"), SAME),
        ("fr: truncated after the id", '[2, "f5", "Heartbeat", {', E(RPC, "f5"), SAME),
        ("fr: trailing garbage", '[2,"f6","Heartbeat",{}] x', E(RPC, "f6"), SAME),
        ("fr: two frames in one message", '[2,"f6b","Heartbeat",{}][2,"f6c","Heartbeat",{}]',
         E(RPC, "f6b"), SAME),
        ("fr: trailing comma in the frame", '[2,"tc1","Heartbeat",{},]', E(RPC, "tc1"), SAME),
        ("fr: trailing comma in the payload",
         '[2,"tc2","Heartbeat",{"customData":{"vendorId":"x"},}]', E(RPC, "tc2"), SAME),
        ("fr: single quotes", "[2,'sq1','Heartbeat',{}]", E(RPC, "-1"), SAME),
        ("fr: unquoted key", '[2,"uq1","Heartbeat",{customData:{"vendorId":"x"}}]',
         E(RPC, "uq1"), SAME),
        ("fr: byte-order mark", '\ufeff[2,"bom","Heartbeat",{}]', E(RPC, "-1"), SAME),
        ("fr: raw tab in a string",
         '[2,"cc1","Heartbeat",{"customData":{"vendorId":"a\tb"}}]', E(RPC, "cc1"), SAME),
        ("fr: raw newline in a string",
         '[2,"cc2","Heartbeat",{"customData":{"vendorId":"a\nb"}}]', E(RPC, "cc2"), SAME),
        ("fr: control byte between tokens", '[2,"cc3",\x01"Heartbeat",{}]', E(RPC, "cc3"),
         SAME),
        ("fr: form feed as whitespace", '[2,"cc4",\x0c"Heartbeat",{}]', E(RPC, "cc4"), SAME),
        ("fr: NUL byte after the frame", '[2,"nul","Heartbeat",{}]\x00', E(RPC, "nul"), SAME),
        ("fr: \\u0000 in a string", dt("u0", '"a\\u0000b"'), E(RPC, "u0"), SAME),
        ("fr: lone surrogate escape", dt("sur", '"\\ud800"'), E(RPC, "sur"), SAME),
        # RFC 6455 8.1: a text frame that is not UTF-8 fails the connection
        ("fr: invalid UTF-8 byte in a string",
         b'[2,"u8a","Heartbeat",{"customData":{"vendorId":"\xff"}}]', CLOSED_1007, SAME),
        ("fr: overlong UTF-8 '/'", b'[2,"u8b","DataTransfer",{"vendorId":"\xc0\xaf"}]',
         CLOSED_1007, SAME),
        ("fr: UTF-8 encoded surrogate",
         b'[2,"u8c","DataTransfer",{"vendorId":"\xed\xa0\x80"}]', CLOSED_1007, SAME),
        ("fr: truncated UTF-8 sequence",
         b'[2,"u8d","DataTransfer",{"vendorId":"\xe2\x82"}]', CLOSED_1007, SAME),
        ("fr: Latin-1 byte outside strings", b'[2,"u8e","Heartbeat",{}]\xe9', CLOSED_1007,
         SAME),
        ("fr: lax number 01", dt("ln1", "01"), E(RPC, "ln1"), SAME),
        ("fr: lax number 1.", dt("ln2", "1."), E(RPC, "ln2"), SAME),
        ("fr: lax number +1", dt("ln3", "+1"), E(RPC, "ln3"), SAME),
        ("fr: lax number .5", dt("ln4", ".5"), E(RPC, "ln4"), SAME),
        ("fr: hex number", dt("ln5", "0x10"), E(RPC, "ln5"), SAME),
        ("fr: NaN", dt("ln6", "NaN"), E(RPC, "ln6"), SAME),
        ("fr: Infinity", dt("ln7", "Infinity"), E(RPC, "ln7"), SAME),
        ("fr: number beyond 1e308", dt("p4", "1e309"), E(FV, "p4"), SAME),
        ("fr: number below -1e308", dt("p4b", "-2e308"), E(FV, "p4b"), SAME),
        ("fr: payload nests 33 deep", dt("p3", nest(32)), E(FV, "p3"), SAME),
        ("ok: payload nests 32 deep (DataTransfer)", dt("p3ok", nest(31)), E(NSUP, "p3ok"),
         SAME),
        ("fr: frame nests too deep before the id", nest(40), E(RPC, "-1"), SAME),
        # ---- framing: the array and its elements -----------------------------
        ("fr: frame is an object", '{"a":1}', E(RPC, "-1"), SAME),
        ("fr: frame is a string", '"[2,\\"js\\",\\"Heartbeat\\",{}]"', E(RPC, "-1"), SAME),
        ("fr: frame is a number", "42", E(RPC, "-1"), SAME),
        ("fr: frame is null", "null", E(RPC, "-1"), SAME),
        ("fr: empty array", "[]", E(RPC, "-1"), SAME),
        ("fr: only a message type", "[2]", E(RPC, "-1"), SAME),
        ("fr: frame inside an array", '[[2,"na","Heartbeat",{}]]', E(RPC, "-1"), SAME),
        ("fr: CALL of 2 elements", '[2,"two"]', E(RPC, "two"), SAME),
        ("fr: CALL of 3 elements", '[2,"7","Heartbeat"]', E(RPC, "7"), SAME),
        ("fr: CALL of 5 elements", '[2,"f1","Heartbeat",{},{}]', E(RPC, "f1"), SAME),
        ("fr: type is a string", '["2","f9","Heartbeat",{}]', E(RPC, "f9"), SAME),
        ("fr: type is null", '[null,"tn","Heartbeat",{}]', E(RPC, "tn"), SAME),
        ("fr: type is true", '[true,"tt","Heartbeat",{}]', E(RPC, "tt"), SAME),
        ("fr: type 2.5", '[2.5,"t25","Heartbeat",{}]', E(RPC, "t25"), SAME),
        ("ok: type 2.0 is the integer 2", '[2.0,"t20","Heartbeat",{}]', OK("t20"), SAME),
        ("fr: type 0", '[0,"t0","Heartbeat",{}]', E(MTNS, "t0"), SAME),
        ("fr: type 1", '[1,"t1","Heartbeat",{}]', E(MTNS, "t1"), SAME),
        ("fr: type -1", '[-1,"tm1","Heartbeat",{}]', E(MTNS, "tm1"), SAME),
        ("fr: type 7", '[7,"t7","Heartbeat",{}]', E(MTNS, "t7"), SAME),
        ("fr: type 9", '[9,"f2","Heartbeat",{}]', E(MTNS, "f2"), SAME),
        ("fr: type 1e10", '[1e10,"tbig","Heartbeat",{}]', E(MTNS, "tbig"), SAME),
        # 5 and 6 exist in 2.1 only: there a valid CALLRESULTERROR for an id
        # we never used and a SEND are logged, never answered
        ("fr: type 5 (CALLRESULTERROR)", '[5,"f3","GenericError","",{}]', E(MTNS, "f3"), None),
        ("fr: type 6 (SEND)", '[6,"f4","Heartbeat",{}]', E(MTNS, "f4"), None),
        # ids (string[36], OCPP-J 4.1.4). flexgw takes 1-36 printable ASCII
        # characters and answers a frame with any other id with "-1" (4.2.3
        # names "unique identifier too long" as a CALLERROR case)
        ("id: not a string", '[2,8,"Heartbeat",{}]', E(RPC, "-1"), SAME),
        ("id: null", '[2,null,"Heartbeat",{}]', E(RPC, "-1"), SAME),
        ("id: an object", '[2,{"id":"x"},"Heartbeat",{}]', E(RPC, "-1"), SAME),
        ("id: empty", '[2,"","Heartbeat",{}]', E(RPC, "-1"), SAME),
        ("id: 37 characters", '[2,"%s","Heartbeat",{}]' % ("i" * 37), E(RPC, "-1"), SAME),
        ("id: control character", '[2,"a\\u0001b","Heartbeat",{}]', E(RPC, "-1"), SAME),
        ("id: non-ASCII", '[2,"idé","Heartbeat",{}]', E(RPC, "-1"), SAME),
        ("ok: id of 36 characters", '[2,"%s","Heartbeat",{}]' % ("j" * 36), OK("j" * 36),
         SAME),
        ("id: 36 characters, bad frame", '[2,"%s","Heartbeat"]' % ("i" * 36),
         E(RPC, "i" * 36), SAME),
        ("ok: id with a space", '[2,"a b","Heartbeat",{}]', OK("a b"), SAME),
        ("ok: id with an escaped quote", '[2,"q\\"1","Heartbeat",{}]', OK('q"1'), SAME),
        # ---- answers from the station: never answered in 2.0.1 -----------------
        ("re: CALLRESULT, unknown id", '[3,"nobody",{}]', None, SAME),
        ("re: CALLERROR, unknown id", '[4,"nobody2","GenericError","",{}]', None, SAME),
        ("re: CALLERROR, unknown error code", '[4,"e4","Kaboom","x",{}]', None, SAME),
        ("re: CALLRESULT truncated", '[3, "r1", {', None, E5(RPC, "r1")),
        ("re: CALLRESULT of 2 elements", '[3,"r2"]', None, E5(RPC, "r2")),
        ("re: CALLRESULT of 4 elements", '[3,"r3",{},{}]', None, E5(RPC, "r3")),
        ("re: CALLRESULT payload an array", '[3,"r4",[]]', None, E5(FV, "r4")),
        ("re: CALLRESULT payload null", '[3,"r5",null]', None, E5(FV, "r5")),
        ("re: CALLRESULT nests too deep", '[3,"r6",{"a":%s}]' % nest(40), None, E5(FV, "r6")),
        ("re: CALLRESULT, empty id", '[3,"",{}]', None, SAME),
        ("re: CALLRESULT, id a number", "[3,5,{}]", None, SAME),
        ("re: CALLERROR of 4 elements", '[4,"e1","GenericError",""]', None, SAME),
        ("re: CALLERROR code not a string", '[4,"e2",5,"",{}]', None, SAME),
        ("re: CALLERROR details an array", '[4,"e3","GenericError","",[]]', None, SAME),
        ("re: CALLERROR truncated", '[4,"e5","Gen', None, SAME),
        # ---- actions ----------------------------------------------------------
        ("act: unknown", '[2,"a1","FooBar",{}]', E(NIMPL, "a1"), SAME),
        ("act: impossible name", '[2,"a2","Heart-beat",{}]', E(NIMPL, "a2"), SAME),
        ("act: 64 characters", '[2,"a5","%s",{}]' % ("A" * 64), E(NIMPL, "a5"), SAME),
        ("act: 65 characters", '[2,"a6","%s",{}]' % ("A" * 65), E(NIMPL, "a6"), SAME),
        ("act: empty", '[2,"a7","",{}]', E(NIMPL, "a7"), SAME),
        ("act: lower case (case-sensitive)", '[2,"a8","heartbeat",{}]', E(NIMPL, "a8"), SAME),
        ("act: with the Request suffix", '[2,"a9","HeartbeatRequest",{}]', E(NIMPL, "a9"),
         SAME),
        ("act: trailing space", '[2,"a10","Heartbeat ",{}]', E(NIMPL, "a10"), SAME),
        ("act: non-ASCII", '[2,"a11","Héartbeat",{}]', E(NIMPL, "a11"), SAME),
        ("act: OCPP 1.6 StartTransaction", '[2,"a12","StartTransaction",{"connectorId":1}]',
         E(NIMPL, "a12"), SAME),
        ("act: not a string", '[2,"a4",5,{}]', E(RPC, "a4"), SAME),
        ("act: null", '[2,"a13",null,{}]', E(RPC, "a13"), SAME),
        ("act: known, not handled", '[2,"a3","DataTransfer",{"vendorId":"x"}]',
         E(NSUP, "a3"), SAME),
        ("act: CSMS-to-station action", call("a14", "ClearCache", {}), E(NSUP, "a14"), SAME),
        ("act: 2.1-only BatterySwap", call("a15", "BatterySwap", {
            "eventType": "BatteryIn", "requestId": 1, "idToken": {"idToken": "T", "type": "Local"},
            "batteryData": [{"evseId": 1, "serialNumber": "S1", "soC": 50.0, "soH": 90.0}]}),
         E(NIMPL, "a15"), E(NSUP, "a15")),
        # ---- payload shape ------------------------------------------------------
        ("pl: an array", '[2,"p1","BootNotification",[]]', E(FV, "p1"), SAME),
        ("pl: null", '[2,"p2","Heartbeat",null]', E(FV, "p2"), SAME),
        ("pl: a string", '[2,"p5","Heartbeat","{}"]', E(FV, "p5"), SAME),
        ("pl: a number", '[2,"p6","Heartbeat",0]', E(FV, "p6"), SAME),
        ("pl: broken payload of an unknown action", '[2,"p7","FooBar",[]]', E(FV, "p7"),
         SAME),
        # ---- BootNotification ------------------------------------------------------
        ("boot: reason not in the enum", B("v1", dict(BOOT, reason="Kaboom")), E(PCV, "v1"),
         SAME),
        ("boot: reason in the wrong case", B("v1b", dict(BOOT, reason="powerUp")),
         E(PCV, "v1b"), SAME),
        ("boot: chargingStation missing", B("v2", {"reason": "PowerUp"}), E(OCV, "v2"), SAME),
        ("boot: vendorName missing at depth 2",
         B("v2b", dict(BOOT, chargingStation={"model": "M1"})), E(OCV, "v2b"), SAME),
        ("boot: reason a number", B("v3", dict(BOOT, reason=5)), E(TCV, "v3"), SAME),
        ("boot: reason null", B("v7", dict(BOOT, reason=None)), E(TCV, "v7"), SAME),
        ("boot: chargingStation an array", B("v3b", dict(BOOT, chargingStation=[cs])),
         E(TCV, "v3b"), SAME),
        ("boot: extra top property", B("v4", dict(BOOT, extra=1)), E(FV, "v4"), SAME),
        ("boot: extra nested property", B("v5", dict(BOOT, chargingStation=dict(cs, x=1))),
         E(FV, "v5"), SAME),
        ("boot: OCPP 1.6 payload", B("v5b", {"chargePointVendor": "V",
                                             "chargePointModel": "M1"}), E(FV, "v5b"), SAME),
        ("boot: model of 21 characters",
         B("v6", dict(BOOT, chargingStation=dict(cs, model="M" * 21))), E(PCV, "v6"), SAME),
        ("ok: boot: model of 20, vendorName of 50",
         B("v6ok", dict(BOOT, chargingStation={"model": "M" * 20, "vendorName": "V" * 50})),
         OK("v6ok"), SAME),
        ("boot: model of 21 characters of 2 bytes",
         B("v6u", dict(BOOT, chargingStation=dict(cs, model="é" * 21))), E(PCV, "v6u"), SAME),
        ("ok: boot: model of 20 characters of 3 bytes (40 > 20 bytes)",
         B("v6uok", dict(BOOT, chargingStation=dict(cs, model="€" * 20))), OK("v6uok"), SAME),
        ("boot: serialNumber of 26 characters",
         B("v6s", dict(BOOT, chargingStation=dict(cs, serialNumber="S" * 26))),
         E(PCV, "v6s"), SAME),
        ("boot: modem.iccid of 21 characters at depth 3",
         B("v6m", dict(BOOT, chargingStation=dict(cs, modem={"iccid": "8" * 21}))),
         E(PCV, "v6m"), SAME),
        ("boot: duplicate key", '[2,"v8","BootNotification",{"reason":"PowerUp","reason":'
         '"PowerUp","chargingStation":{"model":"M1","vendorName":"V"}}]', E(FV, "v8"), SAME),
        ("ok: boot: customData with vendor members",
         B("v9ok", dict(BOOT, customData={"vendorId": "com.example", "x": [1, {"y": None}]})),
         OK("v9ok"), SAME),
        # ---- Heartbeat / customData ----------------------------------------------
        ("hb: extra property", '[2,"v14","Heartbeat",{"x":1}]', E(FV, "v14"), SAME),
        ("hb: customData without vendorId", hb("v15", {}), E(OCV, "v15"), SAME),
        ("hb: customData a string", hb("v16", "acme"), E(TCV, "v16"), SAME),
        ("hb: customData.vendorId a number", hb("v17", {"vendorId": 7}), E(TCV, "v17"), SAME),
        ("hb: customData.vendorId of 256", hb("v18", {"vendorId": "v" * 256}), E(PCV, "v18"),
         SAME),
        ("ok: hb: customData.vendorId of 255", hb("v18ok", {"vendorId": "v" * 255}),
         OK("v18ok"), SAME),
        ("hb: customData.vendorId twice",
         '[2,"v19","Heartbeat",{"customData":{"vendorId":"a","vendorId":"b"}}]', E(FV, "v19"),
         SAME),
        # fg_ocpp_schema.h: duplicates among undeclared members are not checked
        ("ok: hb: customData vendor member twice",
         '[2,"v19ok","Heartbeat",{"customData":{"vendorId":"a","x":1,"x":2}}]', OK("v19ok"),
         SAME),
        # ---- StatusNotification: enums, integers, date-time -------------------------
        ("st: connectorStatus not in the enum", S("v9", ["connectorStatus"], "Broken"),
         E(PCV, "v9"), SAME),
        ("st: connectorStatus lower case", S("s1", ["connectorStatus"], "available"),
         E(PCV, "s1"), SAME),
        ("st: connectorStatus of OCPP 1.6 (Charging)", S("s2", ["connectorStatus"],
                                                        "Charging"), E(PCV, "s2"), SAME),
        ("st: evseId 1.5", S("v10", ["evseId"], 1.5), E(TCV, "v10"), SAME),
        ("st: evseId 2^40", S("v11", ["evseId"], 2 ** 40), E(TCV, "v11"), SAME),
        ("st: evseId 2^31", S("s3", ["evseId"], 2 ** 31), E(TCV, "s3"), SAME),
        ("ok: st: evseId 2^31 - 1", S("s3ok", ["evseId"], 2 ** 31 - 1), OK("s3ok"), SAME),
        ("ok: st: evseId 1.0 is an integer", S("s4ok", ["evseId"], 1.0), OK("s4ok"), SAME),
        ("st: evseId a string", S("s5", ["evseId"], "1"), E(TCV, "s5"), SAME),
        ("st: connectorId a boolean", S("s6", ["connectorId"], True), E(TCV, "s6"), SAME),
        # 2.0.1 has no minimum for evseId; 2.1 says minimum 0
        ("ok: st: evseId -1 (no minimum in 2.0.1)", S("s7", ["evseId"], -1), OK("s7"),
         E(PCV, "s7")),
        ("st: timestamp missing", S("v13", ["timestamp"], delete=True), E(OCV, "v13"), SAME),
        ("st: timestamp 'yesterday'", S("v12", ["timestamp"], "yesterday"), E(PCV, "v12"),
         SAME),
        ("st: timestamp without a zone", S("d1", ["timestamp"], "2024-05-01T12:00:00"),
         E(PCV, "d1"), SAME),
        ("st: timestamp with a space", S("d2", ["timestamp"], "2024-05-01 12:00:00Z"),
         E(PCV, "d2"), SAME),
        ("st: timestamp a date only", S("d3", ["timestamp"], "2024-05-01"), E(PCV, "d3"),
         SAME),
        ("st: timestamp 30 February", S("d4", ["timestamp"], "2024-02-30T12:00:00Z"),
         E(PCV, "d4"), SAME),
        ("st: timestamp 24:00", S("d5", ["timestamp"], "2024-05-01T24:00:00Z"), E(PCV, "d5"),
         SAME),
        ("st: timestamp offset without colon", S("d6", ["timestamp"],
                                                 "2024-05-01T12:00:00+0200"), E(PCV, "d6"),
         SAME),
        ("st: timestamp as epoch seconds", S("d7", ["timestamp"], 1714564800), E(TCV, "d7"),
         SAME),
        ("st: leap second at noon", S("d8", ["timestamp"], "2016-12-31T12:00:60Z"),
         E(PCV, "d8"), SAME),
        ("ok: st: leap second 23:59:60Z", S("d8ok", ["timestamp"], "2016-12-31T23:59:60Z"),
         OK("d8ok"), SAME),
        ("ok: st: timestamp with offset and fraction",
         S("d9ok", ["timestamp"], "2024-05-01T14:00:00.123456+02:00"), OK("d9ok"), SAME),
        ("ok: st: 29 February of a leap year, lower case t and z",
         S("d10ok", ["timestamp"], "2024-02-29t12:00:00z"), OK("d10ok"), SAME),
        ("st: duplicate evseId", '[2,"s8","StatusNotification",{"timestamp":"%s",'
         '"connectorStatus":"Occupied","evseId":1,"evseId":2,"connectorId":1}]' % TS,
         E(FV, "s8"), SAME),
        # ---- MeterValues: nested arrays of objects ----------------------------------------
        ("mv: evseId missing", M("m1", ["evseId"], delete=True), E(OCV, "m1"), SAME),
        ("mv: meterValue empty", M("m2", ["meterValue"], []), E(OCV, "m2"), SAME),
        ("mv: meterValue an object", M("m3", ["meterValue"], P_METER["meterValue"][0]),
         E(TCV, "m3"), SAME),
        ("mv: sampledValue empty", M("m4", m_sv, []), E(OCV, "m4"), SAME),
        ("mv: value a string (OCPP 1.6 habit)", M("m5", m_sv + (1, "value"), "7.5"),
         E(TCV, "m5"), SAME),
        ("mv: value missing in the 2nd sample", M("m6", m_sv + (1, "value"), delete=True),
         E(OCV, "m6"), SAME),
        ("mv: measurand not in the enum", M("m7", m_sv + (1, "measurand"), "Power.Active"),
         E(PCV, "m7"), SAME),
        ("mv: phase lower case", M("m8", m_sv + (0, "phase"), "l1-n"), E(PCV, "m8"), SAME),
        ("mv: unit of 21 characters", M("m9", m_sv + (0, "unitOfMeasure", "unit"), "V" * 21),
         E(PCV, "m9"), SAME),
        ("ok: mv: unit of 20 characters", M("m9ok", m_sv + (0, "unitOfMeasure", "unit"),
                                            "V" * 20), OK("m9ok"), SAME),
        ("mv: multiplier 0.5", M("m10", m_sv + (0, "unitOfMeasure", "multiplier"), 0.5),
         E(TCV, "m10"), SAME),
        ("mv: unit flat in the sample (OCPP 1.6 shape)", M("m11", m_sv + (0, "unit"), "V"),
         E(FV, "m11"), SAME),
        ("mv: meterValue timestamp invalid", M("m12", ("meterValue", 0, "timestamp"),
                                               "2024-13-01T00:00:00Z"), E(PCV, "m12"), SAME),
        ("mv: signedMeterValue without publicKey", M("m13", m_sv + (0, "signedMeterValue"), {
            "signedMeterData": "AA==", "signingMethod": "ECDSA", "encodingMethod": "OCMF"}),
         E(OCV, "m13"), OK("m13")),  # 2.1: publicKey optional
        ("ok: mv: value 1e300", M("m14ok", m_sv + (0, "value"), 1e300), OK("m14ok"), SAME),
        ("mv: sample null", M("m15", m_sv + (1,), None), E(TCV, "m15"), SAME),
        # ---- TransactionEvent ---------------------------------------------------------
        ("tx: eventType lower case", T("x1", ["eventType"], "ended"), E(PCV, "x1"), SAME),
        ("tx: triggerReason unknown", T("x2", ["triggerReason"], "Unplugged"), E(PCV, "x2"),
         SAME),
        ("tx: seqNo a string", T("x3", ["seqNo"], "0"), E(TCV, "x3"), SAME),
        ("tx: transactionInfo missing", T("x4", ["transactionInfo"], delete=True),
         E(OCV, "x4"), SAME),
        ("tx: transactionId missing at depth 2",
         T("x5", ["transactionInfo", "transactionId"], delete=True), E(OCV, "x5"), SAME),
        ("tx: transactionId of 37 characters",
         T("x6", ["transactionInfo", "transactionId"], "t" * 37), E(PCV, "x6"), SAME),
        ("ok: tx: transactionId of 36 characters",
         T("x6ok", ["transactionInfo", "transactionId"], "t" * 36), OK("x6ok"), SAME),
        ("tx: idToken.type RFID (not in the 2.0.1 enum)",
         T("x7", ["idToken", "type"], "RFID"), E(PCV, "x7"), OK("x7")),  # 2.1: string[20]
        ("tx: offline the string 'false'", T("x8", ["offline"], "false"), E(TCV, "x8"), SAME),
        ("tx: evse.id missing", T("x9", ["evse", "id"], delete=True), E(OCV, "x9"), SAME),
        ("tx: numberOfPhasesUsed 3.5", T("x10", ["numberOfPhasesUsed"], 3.5), E(TCV, "x10"),
         SAME),
        ("tx: sampled value null", T("x11", t_sv + ("value",), None), E(TCV, "x11"), SAME),
        ("tx: additionalInfo empty", T("x12", ["idToken", "additionalInfo"], []),
         E(OCV, "x12"), SAME),
        ("tx: stoppedReason of OCPP 1.6 (UnlockCommand)",
         T("x13", ["transactionInfo", "stoppedReason"], "UnlockCommand"), E(PCV, "x13"), SAME),
        ("tx: stoppedReason new in 2.1",
         T("x14", ["transactionInfo", "stoppedReason"], "ReqEnergyTransferRejected"),
         E(PCV, "x14"), OK("x14")),
        # ---- Authorize ---------------------------------------------------------------------
        ("auth: OCPP 1.6 idTag", call("u1", "Authorize", {"idTag": "TAG1"}), E(FV, "u1"),
         SAME),
        ("auth: idToken missing", call("u2", "Authorize", {}), E(OCV, "u2"), SAME),
        ("auth: idToken a string", call("u3", "Authorize", {"idToken": "TAG1"}),
         E(TCV, "u3"), SAME),
        # 2.1: idToken is string[255] and type string[20], no enum
        ("auth: idToken of 37 characters", A("u4", ["idToken", "idToken"], "T" * 37),
         E(PCV, "u4"), OK("u4")),
        ("ok: auth: idToken of 36 characters", A("u4ok", ["idToken", "idToken"], "T" * 36),
         OK("u4ok"), SAME),
        ("auth: type not in the 2.0.1 enum", A("u5", ["idToken", "type"], "Foo"),
         E(PCV, "u5"), OK("u5")),
        ("auth: type in the wrong case", A("u6", ["idToken", "type"], "iso14443"),
         E(PCV, "u6"), OK("u6")),
        ("auth: 5 OCSP entries (maxItems 4)", A("u7", ["iso15118CertificateHashData"],
                                                [OCSP] * 5), E(OCV, "u7"), SAME),
        ("ok: auth: 4 OCSP entries", A("u7ok", ["iso15118CertificateHashData"], [OCSP] * 4),
         OK("u7ok"), SAME),
        ("auth: no OCSP entries (minItems 1)", A("u8", ["iso15118CertificateHashData"], []),
         E(OCV, "u8"), SAME),
        ("auth: hashAlgorithm lower case", A("u9", ["iso15118CertificateHashData"],
                                             [dict(OCSP, hashAlgorithm="sha256")]),
         E(PCV, "u9"), SAME),
        ("auth: certificate of 5501 characters", A("u10", ["certificate"], "c" * 5501),
         E(PCV, "u10"), OK("u10")),  # 2.1: string[10000]
        # ---- NotifyEvent ----------------------------------------------------------------
        ("ev: eventData empty", EV("n1", ["eventData"], []), E(OCV, "n1"), SAME),
        ("ev: trigger lower case", EV("n2", ["eventData", 0, "trigger"], "delta"),
         E(PCV, "n2"), SAME),
        ("ev: actualValue of 2501", EV("n3", ["eventData", 0, "actualValue"], "a" * 2501),
         E(PCV, "n3"), SAME),
        ("ok: ev: actualValue of 2500", EV("n3ok", ["eventData", 0, "actualValue"], "a" * 2500),
         OK("n3ok"), SAME),
        ("ev: component.name missing", EV("n4", ["eventData", 0, "component", "name"],
                                          delete=True), E(OCV, "n4"), SAME),
        ("ev: eventId a string", EV("n5", ["eventData", 0, "eventId"], "1"), E(TCV, "n5"),
         SAME),
        ("ev: generatedAt not a date-time", EV("n6", ["generatedAt"], "now"), E(PCV, "n6"),
         SAME),
        ("ev: component.evse.id missing at depth 4",
         EV("n7", ["eventData", 0, "component", "evse"], {"connectorId": 1}), E(OCV, "n7"),
         SAME),
        # ---- NotifyReport -------------------------------------------------------------------
        ("rep: 5 variableAttributes (maxItems 4)",
         RP("r7", ["reportData", 0, "variableAttribute"], attrs + [attrs[0]]), E(OCV, "r7"),
         SAME),
        ("ok: rep: 4 variableAttributes", RP("r7ok", ["reportData", 0, "variableAttribute"],
                                             attrs), OK("r7ok"), SAME),
        ("rep: dataType in the wrong case",
         RP("r8", ["reportData", 0, "variableCharacteristics", "dataType"], "Decimal"),
         E(PCV, "r8"), SAME),
        ("rep: supportsMonitoring the string 'true'",
         RP("r9", ["reportData", 0, "variableCharacteristics", "supportsMonitoring"], "true"),
         E(TCV, "r9"), SAME),
        ("rep: requestId missing", RP("r10", ["requestId"], delete=True), E(OCV, "r10"), SAME),
        # ---- NotifyEVChargingNeeds: numeric bounds ------------------------------------------
        ("needs: stateOfCharge 101", ND("c1", ["chargingNeeds", "dcChargingParameters",
                                               "stateOfCharge"], 101), E(PCV, "c1"), SAME),
        ("needs: stateOfCharge -1", ND("c2", ["chargingNeeds", "dcChargingParameters",
                                              "stateOfCharge"], -1), E(PCV, "c2"), SAME),
        ("ok: needs: stateOfCharge 100", ND("c3ok", ["chargingNeeds", "dcChargingParameters",
                                                     "stateOfCharge"], 100), OK("c3ok"), SAME),
        ("needs: requestedEnergyTransfer AC", ND("c4", ["chargingNeeds",
                                                        "requestedEnergyTransfer"], "AC"),
         E(PCV, "c4"), SAME),
        ("needs: AC parameters without evMaxVoltage",
         ND("c5", ["chargingNeeds", "acChargingParameters"],
            {"energyAmount": 20000, "evMinCurrent": 6, "evMaxCurrent": 32}), E(OCV, "c5"),
         SAME),
        ("needs: departureTime without seconds",
         ND("c6", ["chargingNeeds", "departureTime"], "2024-05-01T18:00Z"), E(PCV, "c6"),
         SAME),
        # ---- NotifyChargingLimit / ReportChargingProfiles: array bounds -----------------------
        ("lim: 1025 schedule periods (maxItems 1024)",
         LM("l1", ["chargingSchedule", 0, "chargingSchedulePeriod"], periods(1025)),
         E(OCV, "l1"), SAME),
        ("ok: lim: 1024 schedule periods",
         LM("l1ok", ["chargingSchedule", 0, "chargingSchedulePeriod"], periods(1024)),
         OK("l1ok"), SAME),
        ("lim: no schedule periods", LM("l2", ["chargingSchedule", 0, "chargingSchedulePeriod"],
                                        []), E(OCV, "l2"), SAME),
        # 2.1: chargingLimitSource is a string[20], no enum
        ("lim: chargingLimitSource unknown", LM("l3", ["chargingLimit", "chargingLimitSource"],
                                                "Grid"), E(PCV, "l3"), OK("l3")),
        ("lim: chargingRateUnit kW", LM("l4", ["chargingSchedule", 0, "chargingRateUnit"], "kW"),
         E(PCV, "l4"), SAME),
        ("lim: ePriceLevel -1 (minimum 0)", LM("l5", ["chargingSchedule", 0, "salesTariff"],
                                               edit(TARIFF, ["salesTariffEntry", 0,
                                                             "ePriceLevel"], -1)),
         E(PCV, "l5"), SAME),
        ("lim: 4 consumptionCosts (maxItems 3)",
         LM("l6", ["chargingSchedule", 0, "salesTariff"],
            edit(TARIFF, ["salesTariffEntry", 0, "consumptionCost"], [COST] * 4)),
         E(OCV, "l6"), SAME),
        ("ok: lim: 3 consumptionCosts",
         LM("l6ok", ["chargingSchedule", 0, "salesTariff"],
            edit(TARIFF, ["salesTariffEntry", 0, "consumptionCost"], [COST] * 3)),
         OK("l6ok"), SAME),
        ("prof: 4 chargingSchedules (maxItems 3)",
         PR("q1", ["chargingProfile", 0, "chargingSchedule"], [SCHED] * 4), E(OCV, "q1"),
         SAME),
        ("prof: chargingProfile empty", PR("q2", ["chargingProfile"], []), E(OCV, "q2"), SAME),
        ("prof: validTo not a date-time", PR("q3", ["chargingProfile", 0, "validTo"],
                                             "2024-05-01T12:00:00.Z"), E(PCV, "q3"), SAME),
        # ---- other station messages -------------------------------------------------------
        ("fw: status with a trailing space", call("w1", "FirmwareStatusNotification",
                                                  {"status": "Installed "}), E(PCV, "w1"),
         SAME),
        ("fw: requestId 1.5", call("w2", "FirmwareStatusNotification",
                                   {"status": "Installed", "requestId": 1.5}), E(TCV, "w2"),
         SAME),
        ("log: status missing", call("w3", "LogStatusNotification", {"requestId": 1}),
         E(OCV, "w3"), SAME),
        ("sec: type of 51 characters", call("w4", "SecurityEventNotification",
                                            dict(P_SECURITY, type="T" * 51)), E(PCV, "w4"),
         SAME),
        ("sec: timestamp missing", call("w5", "SecurityEventNotification",
                                        {"type": "FirmwareUpdated"}), E(OCV, "w5"), SAME),
        ("ok: sec: valid, stored as a security event", call("w6", "SecurityEventNotification", P_SECURITY),
         OK("w6"), SAME),
        ("sign: csr of 5501 characters", call("w7", "SignCertificate", {"csr": "c" * 5501}),
         E(PCV, "w7"), SAME),
        ("ok: sign: csr of 5500 characters, not handled",
         call("w8", "SignCertificate", {"csr": "c" * 5500}), E(NSUP, "w8"), SAME),
        ("clr: chargingLimitSource lower case", call("w9", "ClearedChargingLimit", {
            "chargingLimitSource": "ems"}), E(PCV, "w9"), E(NSUP, "w9")),
        ("dt: vendorId of 256", call("w10", "DataTransfer", {"vendorId": "v" * 256}),
         E(PCV, "w10"), SAME),
        ("ok: dt: vendorId of 255, data any JSON", call("w11", "DataTransfer", {
            "vendorId": "v" * 255, "data": [1, "two", {"three": None}]}), E(NSUP, "w11"), SAME),
        ("dt: messageId a number", call("w12", "DataTransfer", {"vendorId": "v",
                                                                "messageId": 1}),
         E(TCV, "w12"), SAME),
        ("dt: vendorId missing", call("w13", "DataTransfer", {"data": "x"}), E(OCV, "w13"),
         SAME),
    ]


def ocpp21_table():
    """Only over ocpp2.1: what the 2.1 dialect adds (CALLRESULTERROR, SEND) and
    2.1-only schemas."""
    return [
        ("21: SEND, unknown action", '[6,"s1","FooBar",{}]', NA, None),
        ("21: SEND, invalid payload", '[6,"s2","NotifyPeriodicEventStream",{"x":1}]', NA,
         None),
        ("21: SEND of 3 elements", '[6,"s3","Heartbeat"]', NA, None),
        ("21: SEND truncated", '[6,"s4","Heart', NA, None),
        ("21: SEND with a broken action", '[6,"s5",5,{}]', NA, None),
        ("21: CALLRESULTERROR of 4 elements", '[5,"s6","GenericError",""]', NA, None),
        ("21: CALLRESULTERROR truncated", '[5,"s7","Gen', NA, None),
        ("21: BatterySwap eventType unknown", call("b1", "BatterySwap", {
            "eventType": "BatteryIn2", "requestId": 1, "idToken": {"idToken": "T", "type": "X"},
            "batteryData": [{"evseId": 1, "serialNumber": "S1", "soC": 50.0, "soH": 90.0}]}),
         NA, E(PCV, "b1")),
        ("21: BatterySwap batteryData empty", call("b2", "BatterySwap", {
            "eventType": "BatteryIn", "requestId": 1, "idToken": {"idToken": "T", "type": "X"},
            "batteryData": []}), NA, E(OCV, "b2")),
        ("21: BatterySwap soC 101 (maximum 100)", call("b3", "BatterySwap", {
            "eventType": "BatteryIn", "requestId": 1, "idToken": {"idToken": "T", "type": "X"},
            "batteryData": [{"evseId": 1, "serialNumber": "S1", "soC": 101.0, "soH": 90.0}]}),
         NA, E(PCV, "b3")),
        ("21: idToken of 256 characters", call("b4", "Authorize", {
            "idToken": {"idToken": "T" * 256, "type": "ISO14443"}}), NA, E(PCV, "b4")),
        ("ok: 21: idToken of 255 characters", call("b5", "Authorize", {
            "idToken": {"idToken": "T" * 255, "type": "ISO14443"}}), NA, OK("b5")),
        ("21: certificate of 10001 characters", call("b7", "Authorize", {
            "idToken": {"idToken": "T", "type": "ISO14443"}, "certificate": "c" * 10001}), NA,
         E(PCV, "b7")),
        ("21: idToken type of 21 characters", call("b6", "Authorize", {
            "idToken": {"idToken": "T", "type": "X" * 21}}), NA, E(PCV, "b6")),
    ]


def expected(case, dialect):
    """The answer due in dialect; NA if the case is not sent there."""
    return case[2] if dialect == "ocpp2.0.1" or case[3] is SAME else case[3]


def describe(want):
    if want is None:
        return "no answer"
    if want[0] == RESULT:
        return f"[3, {want[1]!r}, {{...}}]"
    return f"[{want[0]}, {want[1]!r}, {want[2]!r}, ...]"


def check_answer(r, want):
    """None if r is the answer want describes, else what is wrong."""
    if want[0] == RESULT:
        if not (isinstance(r, list) and len(r) == 3 and r[:2] == [3, want[1]]
                and isinstance(r[2], dict)):
            return f"expected {describe(want)}, got {r!r}"
        return None
    if not (isinstance(r, list) and len(r) == 5 and r[:3] == [want[0], want[1], want[2]]):
        return f"expected {describe(want)}, got {r!r}"
    if not (isinstance(r[3], str) and len(r[3].encode()) <= 255 and isinstance(r[4], dict)):
        return f"errorDescription / errorDetails malformed: {r!r}"
    return None


def run_table(gw, station, protocols, cases):
    """Send every case on one connection of station, each followed by a
    Heartbeat probe, and collect what came back before the probe's answer.
    Returns the list of failures (all of them, not just the first); after a
    lost connection the station reconnects and the table goes on."""
    dialect = protocols[0]
    ws = ws_open(gw, station, protocols)
    assert ws.subprotocol == dialect, ws.subprotocol
    boot(ws, f"boot-{dialect}")
    bad = []
    for n, case in enumerate(cases):
        name, frame = case[0], case[1]
        want = expected(case, dialect)
        if want is NA:
            continue
        shown = frame[:100] if isinstance(frame, (str, bytes)) else frame
        probe = f"probe-{n}"
        if want == CLOSED_1007:
            try:
                ws.send_text(frame)
                expect_closed(ws, 1007)
            except AssertionError as e:
                bad.append(f"[{dialect}] {name}: sent {shown!r}: {e}")
            ws.close()
            ws = ws_open(gw, station, protocols)
            boot(ws, f"reboot-{n}")
            continue
        try:
            ws.send_text(frame)
            ws.send_text(json.dumps([2, probe, "Heartbeat", {}]))
            got = []
            while True:
                r = ws.answer(timeout=3)
                if isinstance(r, list) and r[:2] == [3, probe]:
                    break
                got.append(r)
                if len(got) > 3:
                    raise AssertionError(f"the probe {probe} is not answered")
            if want is None:
                problem = f"expected no answer, got {got!r}" if got else None
            elif len(got) != 1:
                problem = f"expected {describe(want)}, got {got!r}"
            else:
                problem = check_answer(got[0], want)
            if problem:
                bad.append(f"[{dialect}] {name}: sent {shown!r}: {problem}")
        except (AssertionError, TimeoutError, ValueError) as e:
            bad.append(f"[{dialect}] {name}: sent {shown!r}: {type(e).__name__} {e}")
        except (ConnectionClosed, OSError) as e:
            bad.append(f"[{dialect}] {name}: sent {shown!r}: connection lost: {e}")
            ws.close()
            ws = ws_open(gw, station, protocols)
            boot(ws, f"reboot-{n}")
    heartbeat(ws, f"still-usable-{dialect}")
    ws.close()
    return bad


class OtherStation(threading.Thread):
    """A second, well-behaved station that keeps sending Heartbeats and
    StatusNotifications on its own connection and times every answer."""

    def __init__(self, gw, station, protocols, limit_s=1.0):
        super().__init__(daemon=True)
        self.ws = ws_open(gw, station, protocols)
        boot(self.ws, "other-boot")
        self.limit_s = limit_s
        self.stop_ev = threading.Event()
        self.started_ev = threading.Event()
        self.times = []     # (send time, latency) of every answered exchange
        self.problems = []

    def exchange(self, i):
        t0 = time.monotonic()
        if i % 2:
            state = ("Available", "Occupied")[(i // 2) % 2]
            r = self.ws.call("StatusNotification", dict(P_STATUS, connectorStatus=state,
                                                        timestamp=utc()),
                             id=f"o{i}", timeout=3)
            ok = r == [3, f"o{i}", {}]
        else:
            r = self.ws.call("Heartbeat", {}, id=f"o{i}", timeout=3)
            ok = isinstance(r, list) and r[:2] == [3, f"o{i}"] and "currentTime" in r[2]
        dt = time.monotonic() - t0
        if not ok:
            self.problems.append(f"exchange {i}: unexpected answer {r!r}")
        elif dt >= self.limit_s:
            self.problems.append(f"exchange {i}: answered after {dt:.3f} s")
        self.times.append((t0, dt))

    def run(self):
        i = 0
        try:
            while True:
                last = self.stop_ev.is_set()
                self.exchange(i)
                i += 1
                self.started_ev.set()
                if last:
                    break
                time.sleep(0.01)
        except Exception as e:  # noqa: BLE001 - reported by check()
            self.problems.append(f"exchange {i}: {type(e).__name__} {e}")
        finally:
            self.started_ev.set()
            self.ws.close()

    def check(self, t_start, t_end):
        """Every exchange answered within the limit, and they covered
        [t_start, t_end] without a gap longer than the limit."""
        assert not self.problems, "the other station was not served:\n" + "\n".join(
            self.problems[:20])
        assert self.times, "the other station made no exchange"
        starts = [t for t, _ in self.times]
        assert starts[0] <= t_start and starts[-1] >= t_end, \
            "the other station's exchanges did not span the table"
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert max(gaps, default=0) < self.limit_s + 0.1, \
            f"the other station waited {max(gaps):.3f} s between two exchanges"
        return len(self.times), max(dt for _, dt in self.times)


def table_with_bystander(protocols):
    cases = callerror_table() + ocpp21_table()
    dialect = protocols[0]
    counted = [c for c in cases if expected(c, dialect) is not NA]
    assert len(counted) >= 110, len(counted)
    with ocpp_gateway(extra_assets=[CP2_1]) as gw:
        other = OtherStation(gw, "CP2", protocols)
        other.start()
        assert other.started_ev.wait(5), "the other station did not start"
        t0 = time.monotonic()
        bad = run_table(gw, "CP1", protocols, cases)
        t1 = time.monotonic()
        # the bystander's StatusNotifications reached the model
        wait_asset(gw, "cp2-1", lambda a: a["online"] is True, "online")
        other.stop_ev.set()
        other.join(10)
        assert not other.is_alive(), "the other station is stuck"
        n, worst = other.check(t0, t1)
        assert not bad, f"{len(bad)} of {len(counted)} cases failed:\n" + "\n".join(bad)
        print(f"     {dialect}: {len(counted)} cases in {t1 - t0:.2f} s; the other station "
              f"made {n} exchanges meanwhile, slowest {worst * 1000:.0f} ms")


def test_callerror_table():
    table_with_bystander(V201)


def test_callerror_table_ocpp21():
    table_with_bystander(V21)


def test_ocpp21_dialect():
    """2.1 answers a broken CALLRESULT with a CALLRESULTERROR and never answers
    a SEND (fg_ocppj.h)."""
    with ocpp_gateway() as gw:
        ws = ws_open(gw, protocols=V21)
        assert ws.subprotocol == "ocpp2.1"
        boot(ws)
        ws.send_text('[3, "r21", {')
        r = ws.answer(timeout=3)
        assert len(r) == 5 and r[:3] == [5, "r21", "RpcFrameworkError"], r
        assert isinstance(r[3], str) and isinstance(r[4], dict), r
        check_error(ws.call("FooBar", {}, id="x21"), "x21", "NotImplemented")
        for frame in ('[3,"nobody",{}]', '[6,"s21","Heartbeat",{}]',
                      '[5,"nobody3","GenericError","",{}]'):
            ws.send_text(frame)
            r = ws.call("Heartbeat", {}, id="p21", timeout=3)
            assert r[:2] == [3, "p21"], f"after {frame}: expected no answer, got {r!r}"
        ws.close()


def test_frame_limits_default():
    with ocpp_gateway() as gw:
        ws = ws_open(gw)
        boot(ws)
        ws.send_text(sized_call("max", 65536))
        check_error(ws.answer(timeout=3), "max", "NotSupported")
        ws.send_text(sized_call("over", 65537))
        expect_closed(ws, 1009)
        ws = ws_open(gw)
        ws.send_binary(b"\x01\x02")
        expect_closed(ws, 1003)
        ws = ws_open(gw)
        boot(ws)
        heartbeat(ws, "after-limits")
        ws.close()


def test_frame_limits_configured():
    with ocpp_gateway(max_frame_bytes=4096) as gw:
        ws = ws_open(gw)
        boot(ws)
        ws.send_text(sized_call("max", 4096))
        check_error(ws.answer(timeout=3), "max", "NotSupported")
        # a message in fragments (RFC 6455 5.4) under the limit is reassembled
        data = json.dumps([2, "frag-ok", "Heartbeat", {}]).encode()
        ws.send_raw_frame(0x1, data[:5], fin=False)
        ws.send_raw_frame(0x9, b"ping", fin=True)
        ws.send_raw_frame(0x0, data[5:12], fin=False)
        ws.send_raw_frame(0x0, data[12:], fin=True)
        r = ws.answer(timeout=3)
        assert r[:2] == [3, "frag-ok"], f"fragmented Heartbeat: {r!r}"
        ws.send_text(sized_call("over", 4097))
        expect_closed(ws, 1009)
        # the limit holds for a message sent in fragments of 2000 bytes
        ws = ws_open(gw)
        boot(ws)
        data = sized_call("frag", 6000).encode()
        ws.send_raw_frame(0x1, data[:2000], fin=False)
        ws.send_raw_frame(0x0, data[2000:4000], fin=False)
        ws.send_raw_frame(0x0, data[4000:], fin=True)
        expect_closed(ws, 1009)
        ws = ws_open(gw)
        boot(ws)
        ws.send_binary(b"[2]")
        expect_closed(ws, 1003)
        ws = ws_open(gw)
        boot(ws)
        heartbeat(ws, "after-limits")
        ws.close()


def test_reconnect_replaces_the_connection():
    with ocpp_gateway() as gw:
        ws1 = ws_open(gw)
        boot(ws1, "b1")
        status(ws1, "Available")
        ws2 = ws_open(gw)
        boot(ws2, "b2")
        status(ws2, "Occupied", id="st2")
        expect_closed(ws1, timeout=3)
        heartbeat(ws2, "h2")
        # the replaced connection going away does not take the station offline
        time.sleep(0.3)
        wait_asset(gw, "cp1-1", lambda a: a["online"] is True
                   and a["evse"]["state"] == "occupied", "online, occupied", timeout=0.5)
        ws2.close()


def test_misbehaving_station_does_not_stall_others():
    with ocpp_gateway(allow_unknown_stations=True) as gw:
        good = ws_open(gw, "CP1")
        boot(good)
        bad = ws_open(gw, "BAD")
        garbage = ["hello", "[2", '[2,"g","Heartbeat"]', '[9,"g",1,{}]', "{}" * 100,
                   '[2,"g","FooBar",{}]', "[" * 200, '[2,"g","BootNotification",[]]',
                   "\t", '[2,"g","Heartbeat",{}] x']
        errors = []

        def misbehave():
            try:
                for i in range(50):
                    bad.send_text(garbage[i % len(garbage)])
                    time.sleep(0.002)
            except OSError as e:  # being disconnected for it is fine
                errors.append(e)

        t = threading.Thread(target=misbehave)
        t.start()
        try:
            for i in range(25):
                heartbeat(good, f"good{i}")
        finally:
            t.join()
        heartbeat(good, "good-last")
        good.close()
        bad.close()


def test_disconnect_takes_assets_offline():
    with ocpp_gateway() as gw:
        ws = ws_open(gw)
        boot(ws)
        status(ws, "Available")
        wait_asset(gw, "cp1-1", lambda a: a["online"] is True, "online")
        ws.close()
        wait_asset(gw, "cp1-1", lambda a: a["online"] is False, "offline after close")
        # dropping TCP without a close frame counts too
        ws = ws_open(gw)
        boot(ws)
        status(ws, "Occupied")
        wait_asset(gw, "cp1-1", lambda a: a["online"] is True, "online again")
        ws.sock.shutdown(socket.SHUT_RDWR)
        ws.sock.close()
        wait_asset(gw, "cp1-1", lambda a: a["online"] is False, "offline after TCP drop")


if __name__ == "__main__":
    run([test_subprotocols_and_unknown_station,
         test_station_ids_with_unknown_stations_allowed,
         test_boot_gating_boot_and_heartbeat,
         test_status_notification_sets_the_model,
         test_transaction_session_reaches_the_model,
         test_acknowledged_transaction_event_survives_kill9,
         test_meter_history_keeps_one_reading_per_interval,
         test_open_transaction_resumed_after_restart,
         test_callerror_table,
         test_callerror_table_ocpp21,
         test_ocpp21_dialect,
         test_frame_limits_default,
         test_frame_limits_configured,
         test_reconnect_replaces_the_connection,
         test_misbehaving_station_does_not_stall_others,
         test_disconnect_takes_assets_offline])
