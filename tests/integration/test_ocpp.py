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

from fgtest import Gateway, base_config, free_port, run
from wsclient import ConnectionClosed, HandshakeRefused, connect

V201, V21 = ["ocpp2.0.1"], ["ocpp2.1"]
BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M1", "vendorName": "V"}}
CP1_1 = {"id": "cp1-1", "kind": "evse", "adapter": "ocpp", "station": "CP1", "evse_id": 1,
         "rated_w": 11000}
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def ocpp_gateway(**ocpp):
    """A Gateway with OCPP on a free loopback port (gw.ocpp_port) and the
    configured station CP1 (asset cp1-1)."""
    cfg = base_config()
    cfg["site"]["assets"].append(dict(CP1_1))
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


def wait_asset(gw, asset_id, pred, what, timeout=2.0):
    deadline = time.monotonic() + timeout
    while True:
        st, _, a = gw.get(f"/api/v1/assets/{asset_id}")
        if st == 200 and pred(a):
            return a
        if time.monotonic() > deadline:
            raise AssertionError(f"{asset_id}: expected {what} within {timeout} s, "
                                 f"got {st} {a!r}")
        time.sleep(0.05)


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


def sized_call(id, n):
    """A valid DataTransfer CALL of exactly n bytes."""
    pad = n - len(json.dumps([2, id, "DataTransfer", {"vendorId": "x", "data": ""}]))
    s = json.dumps([2, id, "DataTransfer", {"vendorId": "x", "data": "a" * pad}])
    assert len(s) == n
    return s


def bad_payloads():
    """(name, frame, (code, id) or None = no answer) for a booted 2.0.1
    connection."""
    B = lambda id, p: json.dumps([2, id, "BootNotification", p])  # noqa: E731
    S = lambda id, **kw: json.dumps([2, id, "StatusNotification", dict(  # noqa: E731
        {"timestamp": "2024-05-01T12:00:00Z", "connectorStatus": "Occupied", "evseId": 1,
         "connectorId": 1}, **kw)])
    cs = BOOT["chargingStation"]
    deep = "[" * 40 + "]" * 40
    return [
        # validators
        ("enum", B("v1", dict(BOOT, reason="Kaboom")), ("PropertyConstraintViolation", "v1")),
        ("required", B("v2", {"reason": "PowerUp"}), ("OccurrenceConstraintViolation", "v2")),
        ("type", B("v3", dict(BOOT, reason=5)), ("TypeConstraintViolation", "v3")),
        ("extra top property", B("v4", dict(BOOT, extra=1)), ("FormatViolation", "v4")),
        ("extra nested property", B("v5", dict(BOOT, chargingStation=dict(cs, x=1))),
         ("FormatViolation", "v5")),
        ("maxLength", B("v6", dict(BOOT, chargingStation=dict(cs, model="M" * 21))),
         ("PropertyConstraintViolation", "v6")),
        ("null", B("v7", dict(BOOT, reason=None)), ("TypeConstraintViolation", "v7")),
        ("duplicate key",
         '[2,"v8","BootNotification",{"reason":"PowerUp","reason":"PowerUp",'
         '"chargingStation":{"model":"M1","vendorName":"V"}}]', ("FormatViolation", "v8")),
        ("status enum", S("v9", connectorStatus="Broken"), ("PropertyConstraintViolation", "v9")),
        ("fraction", S("v10", evseId=1.5), ("TypeConstraintViolation", "v10")),
        ("int32", S("v11", evseId=2 ** 40), ("TypeConstraintViolation", "v11")),
        ("date-time", S("v12", timestamp="yesterday"), ("PropertyConstraintViolation", "v12")),
        ("missing timestamp", json.dumps([2, "v13", "StatusNotification", {
            "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}]),
         ("OccurrenceConstraintViolation", "v13")),
        ("heartbeat extra", '[2,"v14","Heartbeat",{"x":1}]', ("FormatViolation", "v14")),
        ("customData no vendorId", '[2,"v15","Heartbeat",{"customData":{}}]',
         ("OccurrenceConstraintViolation", "v15")),
        # payload / action
        ("payload array", '[2,"p1","BootNotification",[]]', ("FormatViolation", "p1")),
        ("payload null", '[2,"p2","Heartbeat",null]', ("FormatViolation", "p2")),
        ("payload too deep", '[2,"p3","DataTransfer",{"vendorId":"x","data":%s}]' % deep,
         ("FormatViolation", "p3")),
        ("number beyond 1e308", '[2,"p4","DataTransfer",{"vendorId":"x","data":1e309}]',
         ("FormatViolation", "p4")),
        ("unknown action", '[2,"a1","FooBar",{}]', ("NotImplemented", "a1")),
        ("impossible action", '[2,"a2","Heart-beat",{}]', ("NotImplemented", "a2")),
        ("long unknown action", '[2,"a5","%s",{}]' % ("A" * 64), ("NotImplemented", "a5")),
        ("too long action", '[2,"a6","%s",{}]' % ("A" * 65), ("NotImplemented", "a6")),
        ("known, not handled", '[2,"a3","DataTransfer",{"vendorId":"x"}]',
         ("NotSupported", "a3")),
        ("action not a string", '[2,"a4",5,{}]', ("RpcFrameworkError", "a4")),
        # frame
        ("3 elements", '[2,"7","Heartbeat"]', ("RpcFrameworkError", "7")),
        ("5 elements", '[2,"f1","Heartbeat",{},{}]', ("RpcFrameworkError", "f1")),
        ("type 9", '[9,"f2","Heartbeat",{}]', ("MessageTypeNotSupported", "f2")),
        ("type 5 in 2.0.1", '[5,"f3","GenericError","",{}]',
         ("MessageTypeNotSupported", "f3")),
        ("type 6 in 2.0.1", '[6,"f4","Heartbeat",{}]', ("MessageTypeNotSupported", "f4")),
        ("truncated JSON, id readable", '[2, "f5", "Heartbeat", {',
         ("RpcFrameworkError", "f5")),
        ("trailing data", '[2,"f6","Heartbeat",{}] x', ("RpcFrameworkError", "f6")),
        ("lax number", '[2,"f7","DataTransfer",{"vendorId":"x","data":01}]',
         ("RpcFrameworkError", "f7")),
        ("id of 36 characters, bad frame", '[2,"%s","Heartbeat"]' % ("i" * 36),
         ("RpcFrameworkError", "i" * 36)),
        # no answer: no id, type not an integer, or not a CALL (2.0.1)
        ("not JSON", "hello", None),
        ("empty text", "", None),
        ("truncated id", '[2, "f8', None),
        ("id not a string", '[2,8,"Heartbeat",{}]', None),
        ("empty id", '[2,"","Heartbeat",{}]', None),
        ("id of 37 characters", '[2,"%s","Heartbeat",{}]' % ("i" * 37), None),
        ("type a string", '["2","f9","Heartbeat",{}]', None),
        ("object frame", '{"a":1}', None),
        ("empty array", "[]", None),
        ("CALLRESULT, unknown id", '[3,"nobody",{}]', None),
        ("CALLERROR, unknown id", '[4,"nobody2","GenericError","",{}]', None),
        ("broken CALLRESULT", '[3, "r1", {', None),
    ]


def test_callerror_table():
    with ocpp_gateway() as gw:
        ws = ws_open(gw)
        assert ws.subprotocol == "ocpp2.0.1"
        boot(ws)
        cases = bad_payloads()
        assert sum(1 for c in cases if c[2]) >= 25
        bad = []
        for n, (name, frame, want) in enumerate(cases):
            ws.send_text(frame)
            try:
                if want is None:
                    # nothing may come back: the next answer is the probe's
                    probe = f"probe{n}"
                    r = ws.call("Heartbeat", {}, id=probe, timeout=3)
                    assert r[:2] == [3, probe], f"expected no answer, then [3, {probe!r}, ..."\
                        f"], got {r!r}"
                else:
                    check_error(ws.answer(timeout=3), want[1], want[0])
            except (AssertionError, TimeoutError) as e:
                bad.append(f"{name}: sent {frame[:80]!r}: {type(e).__name__} {e}")
            except (ConnectionClosed, OSError) as e:
                bad.append(f"{name}: sent {frame[:80]!r}: connection lost: {e}")
                break
        assert not bad, "\n" + "\n".join(bad)
        heartbeat(ws, "still-usable")
        ws.close()


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
         test_callerror_table,
         test_ocpp21_dialect,
         test_frame_limits_default,
         test_frame_limits_configured,
         test_reconnect_replaces_the_connection,
         test_misbehaving_station_does_not_stall_others,
         test_disconnect_takes_assets_offline])
