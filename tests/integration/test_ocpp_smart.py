"""Smart charging against the real binary, the station played by this test
over a raw WebSocket: set-points become SetChargingProfile (TxProfile while a
transaction runs, TxDefaultProfile otherwise, always with validTo and a
duration), verified with GetCompositeSchedule; rejections, mismatches,
timeouts and disconnects are reported on the set-point; changes are
rate-limited; release clears the profile; V2X discharge over OCPP 2.1 only;
Authorize against the local list; ISO 15118 charging needs into the
envelope; answers to unknown calls ignored."""

import datetime
import json
import time

from fgtest import run, wait_asset
from test_ocpp import BOOT, V21, boot, ocpp_gateway, status, tx_event, ws_open


def next_call(ws, action, timeout=5.0):
    """The next CALL from the gateway (from ws.calls first); it must be `action`."""
    deadline = time.monotonic() + timeout
    while not ws.calls:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {action} from the gateway within {timeout} s")
        try:
            m = ws.recv(timeout=left)
        except TimeoutError:
            continue
        if m[0] == "text":
            j = json.loads(m[1])
            if isinstance(j, list) and j and j[0] == 2:
                ws.calls.append(j)
    c = ws.calls.pop(0)
    assert c[2] == action, f"expected a {action} CALL, got {c!r}"
    return c


def no_call(ws, quiet=1.0):
    """Nothing comes from the gateway for `quiet` seconds."""
    assert not ws.calls, ws.calls
    try:
        m = ws.recv(timeout=quiet)
    except TimeoutError:
        return
    raise AssertionError(f"expected silence, got {m!r}")


def reply(ws, call, payload):
    ws.send_text(json.dumps([3, call[1], payload]))


def parse_utc(s):
    return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def composite(limit, unit="A", duration=300, **extra):
    per = {"startPeriod": 0, "limit": limit}
    per.update(extra)
    return {"status": "Accepted",
            "schedule": {"evseId": 1, "duration": duration, "scheduleStart": "2030-01-01T00:00:00Z",
                         "chargingRateUnit": unit, "chargingSchedulePeriod": [per]}}


def put_sp(gw, w, asset="cp1-1", **extra):
    body = {"w": w}
    body.update(extra)
    return gw.request("PUT", f"/api/v1/assets/{asset}/setpoint", body=body, auth="token")


def sp_state(gw, state, asset="cp1-1", timeout=3.0):
    return wait_asset(gw, asset, lambda a: a["setpoint"] and a["setpoint"]["state"] == state,
                      f"set-point state {state}", timeout)["setpoint"]


def session(ws, gw, tx="TX-1", protocols=None):
    """Boot, plug in and start a transaction so that the EVSE can take power."""
    boot(ws)
    status(ws, "Occupied")
    r = ws.call("TransactionEvent", tx_event("Started", 0, tx=tx, state="Charging",
                                             energy_wh=1000, power_w=0), id="t0")
    assert r[:2] == [3, "t0"], r
    wait_asset(gw, "cp1-1", lambda a: a["envelope"]["max_w"] > 0, "an envelope")


# --------------------------------------------------------------------------


def test_setpoint_becomes_a_verified_tx_profile():
    with ocpp_gateway(profile_min_interval_s=0) as gw:
        ws = ws_open(gw)
        session(ws, gw)
        t0 = time.time()
        st, _, a = put_sp(gw, 6900, duration_s=600)
        assert st == 200 and a["setpoint"]["state"] in ("sent", "pending"), (st, a)
        c = next_call(ws, "SetChargingProfile")
        p = c[3]
        assert p["evseId"] == 1, p
        prof = p["chargingProfile"]
        assert prof["chargingProfilePurpose"] == "TxProfile", prof
        assert prof["transactionId"] == "TX-1", prof
        assert prof["chargingProfileKind"] == "Absolute", prof
        # the station falls back by itself: validTo and a schedule duration
        assert abs(parse_utc(prof["validTo"]) - (t0 + 600)) <= 3, prof
        sched = prof["chargingSchedule"][0]
        # it starts a minute before now (a station's clock a little behind
        # ours applies it at once) and ends when the set-point does
        start = parse_utc(sched["startSchedule"])
        assert t0 - 62 <= start <= t0 - 58, (sched, t0)
        assert parse_utc(prof["validFrom"]) == start, prof
        assert abs(start + sched["duration"] - (t0 + 600)) <= 3, (sched, t0)
        assert sched["chargingRateUnit"] == "A", sched
        per = sched["chargingSchedulePeriod"]
        # 6900 W on 3 x 230 V = 10 A per phase
        assert per == [{"startPeriod": 0, "limit": 10, "numberPhases": 3}], per
        reply(ws, c, {"status": "Accepted"})
        g = next_call(ws, "GetCompositeSchedule")
        assert g[3]["evseId"] == 1 and g[3]["chargingRateUnit"] == "A", g
        assert 1 <= g[3]["duration"] <= 300, g
        reply(ws, g, composite(10))
        sp = sp_state(gw, "verified")
        assert sp["w"] == 6900 and "detail" not in sp, sp
        # same value again: nothing goes out
        assert put_sp(gw, 6950, duration_s=600)[0] == 200
        no_call(ws)
        # release: our profile is cleared by its id
        st, _, a = gw.request("DELETE", "/api/v1/assets/cp1-1/setpoint", auth="token")
        assert st == 200 and a["setpoint"] is None, a
        c = next_call(ws, "ClearChargingProfile")
        assert c[3] == {"chargingProfileId": prof["id"]}, c
        reply(ws, c, {"status": "Accepted"})
        ws.close()


def test_default_profile_without_transaction_and_watts():
    """No transaction: a TxDefaultProfile for the EVSE, here in W
    (ocpp.rate_unit); a station limiting further is still verified."""
    with ocpp_gateway(rate_unit="W", profile_min_interval_s=0) as gw:
        ws = ws_open(gw)
        session(ws, gw)
        r = ws.call("TransactionEvent", tx_event("Ended", 1, energy_wh=2000), id="t1")
        assert r[:2] == [3, "t1"], r
        status(ws, "Occupied", id="s2")
        st, _, a = put_sp(gw, 0)
        assert st == 200, a
        c = next_call(ws, "SetChargingProfile")
        prof = c[3]["chargingProfile"]
        assert prof["chargingProfilePurpose"] == "TxDefaultProfile", prof
        assert "transactionId" not in prof, prof
        sched = prof["chargingSchedule"][0]
        assert sched["chargingRateUnit"] == "W", sched
        assert sched["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 0}], sched
        reply(ws, c, {"status": "Accepted"})
        g = next_call(ws, "GetCompositeSchedule")
        assert g[3]["chargingRateUnit"] == "W", g
        reply(ws, g, composite(0, unit="W"))
        sp_state(gw, "verified")
        ws.close()


def test_rejected_mismatch_timeout_and_disconnect_are_reported():
    with ocpp_gateway(profile_min_interval_s=0, call_timeout_s=1) as gw:
        ws = ws_open(gw)
        session(ws, gw)
        put_sp(gw, 6900)
        c = next_call(ws, "SetChargingProfile")
        reply(ws, c, {"status": "Rejected", "statusInfo": {"reasonCode": "TxNotFound"}})
        sp = sp_state(gw, "rejected")
        assert sp["detail"] == "SetChargingProfile Rejected: TxNotFound", sp
        no_call(ws)  # a refused profile is not retried until the set-point changes
        # the station claims it applies more than we allow
        put_sp(gw, 4600)
        c = next_call(ws, "SetChargingProfile")
        reply(ws, c, {"status": "Accepted"})
        g = next_call(ws, "GetCompositeSchedule")
        reply(ws, g, composite(16))
        sp = sp_state(gw, "mismatch")
        assert "station applies 16 A, we sent 6.7 A" in sp["detail"], sp
        # a station that does not answer: failed after call_timeout_s, then
        # retried after 2 s, 4 s, 8 s, ...
        put_sp(gw, 2300)  # 6 A minimum current: 4140 W
        next_call(ws, "SetChargingProfile")
        t_fail = time.monotonic()
        sp = sp_state(gw, "failed", timeout=3)
        assert "no answer within 1 s" in sp["detail"], sp
        # an answer that is not a valid SetChargingProfileResponse
        c = next_call(ws, "SetChargingProfile", timeout=5)  # retried
        assert time.monotonic() - t_fail >= 1.5, "retried without backing off"
        reply(ws, c, {"status": "Maybe"})
        sp = sp_state(gw, "failed")
        assert "invalid SetChargingProfileResponse" in sp["detail"], sp
        # a CALLERROR
        c = next_call(ws, "SetChargingProfile", timeout=7)
        ws.send_text(json.dumps([4, c[1], "InternalError", "boom", {}]))
        sp = sp_state(gw, "failed")
        assert "InternalError: boom" in sp["detail"], sp
        # an answer to a message we never sent is ignored; the next works
        ws.send_text(json.dumps([3, "no-such-call", {"status": "Accepted"}]))
        c = next_call(ws, "SetChargingProfile", timeout=11)
        reply(ws, c, {"status": "Accepted"})
        g = next_call(ws, "GetCompositeSchedule")
        reply(ws, g, composite(6))
        sp_state(gw, "verified")
        # disconnected: set-points are refused with the reason
        ws.close()
        wait_asset(gw, "cp1-1", lambda a: not a["online"], "offline")
        st, _, j = put_sp(gw, 1000)
        assert st == 409 and "offline" in j["error"], (st, j)


def test_changes_are_rate_limited_and_small_ones_dropped():
    """Small changes are dropped; an increase waits for
    profile_min_interval_s; a reduction (a limit coming in) goes at once."""
    with ocpp_gateway(profile_min_interval_s=3, profile_threshold_w=500) as gw:
        ws = ws_open(gw)
        session(ws, gw)
        put_sp(gw, 6900)
        reply(ws, next_call(ws, "SetChargingProfile"), {"status": "Accepted"})
        reply(ws, next_call(ws, "GetCompositeSchedule"), composite(10))
        sp_state(gw, "verified")
        put_sp(gw, 6600)  # below the threshold: not sent
        no_call(ws, 0.5)
        t_put = time.monotonic()
        put_sp(gw, 4600)  # a reduction within the minimum interval: sent at once
        c = next_call(ws, "SetChargingProfile", timeout=5)
        waited = time.monotonic() - t_put
        assert waited < 1.0, f"reduction held back {waited:.1f} s"
        t_sent = time.monotonic()
        per = c[3]["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
        assert per["limit"] == 6.7, per
        reply(ws, c, {"status": "Accepted"})
        reply(ws, next_call(ws, "GetCompositeSchedule"), composite(6.7))
        sp_state(gw, "verified")
        put_sp(gw, 6900)  # an increase within the minimum interval: held back
        sp = sp_state(gw, "pending")
        assert "profile_min_interval_s" in sp["detail"], sp
        c = next_call(ws, "SetChargingProfile", timeout=5)
        waited = time.monotonic() - t_sent
        assert waited >= 2.9, f"increase after {waited:.1f} s, minimum is 3 s"
        per = c[3]["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
        assert per["limit"] == 10, per
        reply(ws, c, {"status": "Accepted"})
        reply(ws, next_call(ws, "GetCompositeSchedule"), composite(10))
        sp_state(gw, "verified")
        ws.close()


def test_profiles_are_renewed_before_they_end():
    """With profile_fallback_s 60 a 10-minute set-point goes out valid for
    60 s and is renewed when half of that has passed."""
    with ocpp_gateway(profile_min_interval_s=0, profile_fallback_s=60) as gw:
        ws = ws_open(gw)
        session(ws, gw)
        t0 = time.time()
        put_sp(gw, 6900, duration_s=600)
        c = next_call(ws, "SetChargingProfile")
        assert abs(parse_utc(c[3]["chargingProfile"]["validTo"]) - (t0 + 60)) <= 3, c
        reply(ws, c, {"status": "Accepted"})
        reply(ws, next_call(ws, "GetCompositeSchedule"), composite(10))
        c = next_call(ws, "SetChargingProfile", timeout=35)
        t1 = time.time()
        assert 28 <= t1 - t0 <= 34, f"renewed after {t1 - t0:.1f} s"
        assert abs(parse_utc(c[3]["chargingProfile"]["validTo"]) - (t1 + 60)) <= 3, c
        reply(ws, c, {"status": "Accepted"})
        ws.close()


def test_scheduler_profile_lasts_and_is_not_resent():
    """The scheduler renews its set-point every second, each expiring a few
    seconds later. The profile lasts profile_fallback_s all the same (the
    adapter clears it if the scheduler stops), and is not sent again while
    the limit holds: before, each went out valid for ~5 s and was re-sent
    whenever the minimum interval allowed, so the station was without a
    limit part of the time."""
    with ocpp_gateway(profile_min_interval_s=2, profile_fallback_s=60,
                      site={"assets": [], "import_limit_w": 6900},
                      scheduler={"plugin": "realtime", "planner": "none",
                                 "interval_s": 1}) as gw:
        ws = ws_open(gw)
        session(ws, gw)
        c = next_call(ws, "SetChargingProfile")
        t0 = time.time()
        valid_to = parse_utc(c[3]["chargingProfile"]["validTo"])
        assert abs(valid_to - (t0 + 60)) <= 3, (valid_to - t0, c)
        per = c[3]["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
        assert per["limit"] == 10, per  # 6900 W / 230 V / 3
        reply(ws, c, {"status": "Accepted"})
        reply(ws, next_call(ws, "GetCompositeSchedule"), composite(10))
        sp = sp_state(gw, "verified")
        assert sp["source"] == "scheduler", sp
        no_call(ws, 8)  # 8 scheduler calls, 4 minimum intervals: nothing to send
        a = wait_asset(gw, "cp1-1", lambda a: True, "")
        assert a["setpoint"]["state"] == "verified" and a["setpoint"]["w"] == 6900, a
        ws.close()


def test_v2x_discharge_only_over_ocpp21():
    bidir = {"bidirectional": True, "max_discharge_w": 7000}
    needs = {"evseId": 1, "chargingNeeds": {
        "requestedEnergyTransfer": "AC_BPT",
        "departureTime": "2030-01-01T08:00:00Z",
        "acChargingParameters": {"energyAmount": 20000, "evMinCurrent": 6,
                                 "evMaxCurrent": 16, "evMaxVoltage": 400},
        "v2xChargingParameters": {"maxChargePower": 11000, "maxDischargePower": 5000}}}
    with ocpp_gateway(cp1=bidir, profile_min_interval_s=0) as gw:
        # OCPP 2.0.1: no V2X; the envelope keeps discharge out
        ws = ws_open(gw)
        session(ws, gw)
        a = wait_asset(gw, "cp1-1", lambda a: True, "")
        assert a["envelope"]["min_w"] == 0, a
        st, _, a = put_sp(gw, -3000)
        assert st == 200 and a["setpoint"]["w"] == 0, (st, a)
        ws.close()
    with ocpp_gateway(cp1=bidir, profile_min_interval_s=0) as gw:
        ws = ws_open(gw, protocols=V21)
        session(ws, gw)
        r = ws.call("NotifyEVChargingNeeds", dict(needs), id="n1")
        assert r == [3, "n1", {"status": "Accepted"}], r
        a = wait_asset(gw, "cp1-1", lambda a: a["envelope"]["min_w"] < 0, "V2X envelope")
        assert a["envelope"] == {"min_w": -5000, "max_w": 11000}, a["envelope"]
        s = a["evse"]["session"]
        assert s["energy_requested_wh"] == 20000 and s["ev_bidirectional"] is True, s
        assert s["departure"] == 1893484800, s
        st, _, a = put_sp(gw, -4830)
        assert st == 200 and a["setpoint"]["w"] == -4830, (st, a)
        c = next_call(ws, "SetChargingProfile")
        per = c[3]["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
        assert per["operationMode"] == "CentralSetpoint", per
        assert per["setpoint"] == -7 and per["dischargeLimit"] == -7, per
        reply(ws, c, {"status": "Accepted"})
        g = next_call(ws, "GetCompositeSchedule")
        reply(ws, g, composite(0, setpoint=-7, operationMode="CentralSetpoint"))
        sp_state(gw, "verified")
        ws.close()


def test_authorize_against_the_local_list():
    tokens = [{"id": "04A2B3C4", "type": "ISO14443"},
              {"id": "blocked1", "status": "Blocked"},
              {"id": "fleet-7", "group": "FLEET"}]
    with ocpp_gateway(authorization="list", id_tokens=tokens) as gw:
        ws = ws_open(gw)
        boot(ws)
        cases = [({"idToken": "04a2b3c4", "type": "ISO14443"}, "Accepted"),  # any case
                 ({"idToken": "04A2B3C4", "type": "KeyCode"}, "Unknown"),    # wrong type
                 ({"idToken": "BLOCKED1", "type": "Central"}, "Blocked"),
                 ({"idToken": "nobody", "type": "Central"}, "Unknown")]
        bad = []
        for i, (tok, want) in enumerate(cases):
            r = ws.call("Authorize", {"idToken": tok}, id=f"a{i}")
            got = r[2]["idTokenInfo"]["status"] if r[0] == 3 else r
            if got != want:
                bad.append(f"{tok}: {got}, expected {want}")
        r = ws.call("Authorize", {"idToken": {"idToken": "fleet-7", "type": "Central"}}, id="g")
        assert r[2]["idTokenInfo"] == {"status": "Accepted", "groupIdToken": {
            "idToken": "FLEET", "type": "Central"}}, r
        # TransactionEvent with a token gets the same answer
        r = ws.call("TransactionEvent", tx_event("Started", 0, token="nobody"), id="t")
        assert r[2]["idTokenInfo"]["status"] == "Unknown", r
        assert not bad, bad
        ws.close()
    with ocpp_gateway() as gw:  # authorization "any"
        ws = ws_open(gw)
        boot(ws)
        r = ws.call("Authorize", {"idToken": {"idToken": "x", "type": "Central"}}, id="a")
        assert r == [3, "a", {"idTokenInfo": {"status": "Accepted"}}], r
        ws.close()


def test_station_reports_become_events():
    with ocpp_gateway() as gw:
        ws = ws_open(gw)
        boot(ws)
        now = "2030-01-01T00:00:00Z"
        calls = [("NotifyEvent", {"generatedAt": now, "seqNo": 0, "eventData": [{
                     "eventId": 1, "timestamp": now, "trigger": "Alerting",
                     "actualValue": "Overheated", "eventNotificationType": "HardWiredMonitor",
                     "component": {"name": "EVSE"}, "variable": {"name": "Problem"}}]}),
                 ("FirmwareStatusNotification", {"status": "Installed"}),
                 ("LogStatusNotification", {"status": "Uploaded", "requestId": 3}),
                 ("NotifyChargingLimit", {"evseId": 1, "chargingLimit": {
                     "chargingLimitSource": "SO"}}),
                 ("NotifyReport", {"requestId": 1, "generatedAt": now, "seqNo": 0}),
                 ("ReportChargingProfiles", {"requestId": 1, "chargingLimitSource": "CSO",
                                             "evseId": 1, "chargingProfile": [{
                     "id": 5, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                     "chargingProfileKind": "Relative", "chargingSchedule": [{
                         "id": 1, "chargingRateUnit": "A",
                         "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}]}]})]
        for i, (action, payload) in enumerate(calls):
            r = ws.call(action, payload, id=f"c{i}")
            assert r == [3, f"c{i}", {}], (action, r)
        _, _, ev = gw.get("/api/v1/events")
        kinds = {e["kind"]: e for e in ev if e["source"] == "ocpp"}
        assert kinds["station_event"]["level"] == "warn", kinds
        assert "Alerting EVSE.Problem = Overheated" in kinds["station_event"]["message"], kinds
        assert "firmware Installed" in kinds["firmware"]["message"], kinds
        assert "log upload Uploaded" in kinds["log_upload"]["message"], kinds
        assert "SO" in kinds["charging_limit"]["message"], kinds
        # charging needs without a session on the EVSE are refused
        r = ws.call("NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": {
            "requestedEnergyTransfer": "AC_three_phase"}}, id="n")
        assert r == [3, "n", {"status": "Rejected"}], r
        ws.close()


def test_operator_calls_through_the_api():
    with ocpp_gateway(call_timeout_s=1) as gw:
        ws = ws_open(gw)
        boot(ws)
        st, _, j = gw.get("/api/v1/ocpp/stations")
        assert st == 200 and len(j) == 1, j
        assert {k: j[0][k] for k in ("id", "connected", "booted", "protocol", "vendor")} == {
            "id": "CP1", "connected": True, "booted": True, "protocol": "ocpp2.0.1",
            "vendor": "V"}, j
        path = "/api/v1/ocpp/stations/CP1/calls"
        st, h, j = gw.request("POST", path, auth="token",
                              body={"action": "Reset", "payload": {"type": "OnIdle"}})
        assert st == 202 and j["state"] in ("queued", "sent"), (st, j)
        loc = h["location"]
        assert loc == f"/api/v1/ocpp/calls/{j['id']}", h
        c = next_call(ws, "Reset")
        assert c[3] == {"type": "OnIdle"}, c
        reply(ws, c, {"status": "Scheduled"})
        deadline = time.monotonic() + 3
        while True:
            st, _, r = gw.get(loc)
            if r.get("state") == "answered" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r == {"id": j["id"], "station": "CP1", "action": "Reset", "state": "answered",
                     "result": {"status": "Scheduled"}}, r
        # refused before anything is sent, with the reason
        bad = []
        for body, code, words in [
                ({"action": "Reset", "payload": {"type": "Sometime"}}, 400, "/type"),
                ({"action": "Reset", "payload": {}}, 400, "type"),
                ({"action": "BootNotification", "payload": BOOT}, 400, "not an action"),
                ({"action": "FooBar"}, 400, "not an action"),
                ({"action": "Reset", "payload": [1]}, 400, "object"),
                ({"action": "Reset", "payload": {"type": "OnIdle"}, "x": 1}, 400, "unknown key"),
                ({"payload": {}}, 400, "string")]:
            st, _, e = gw.request("POST", path, auth="token", body=body)
            if st != code or words not in e.get("error", "") + e.get("path", ""):
                bad.append(f"{body}: {st} {e}")
        st, _, e = gw.request("POST", "/api/v1/ocpp/stations/CP9/calls", auth="token",
                              body={"action": "Reset", "payload": {"type": "OnIdle"}})
        if st != 404:
            bad.append(f"unknown station: {st} {e}")
        st, _, e = gw.request("POST", path, body={"action": "Reset",
                                                  "payload": {"type": "OnIdle"}})
        if st != 401:
            bad.append(f"no credentials: {st} {e}")
        assert not bad, "\n".join(bad)
        no_call(ws, 0.3)
        # a station that does not answer: failed after call_timeout_s
        st, h, j = gw.request("POST", path, auth="token", body={
            "action": "GetVariables", "payload": {"getVariableData": [{
                "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}})
        assert st == 202, j
        next_call(ws, "GetVariables")
        time.sleep(2.2)
        _, _, r = gw.get(h["location"])
        assert r["state"] == "failed" and "no answer within 1 s" in r["error"], r
        ws.close()
        wait_asset(gw, "cp1-1", lambda a: not a["online"], "offline")
        st, _, e = gw.request("POST", path, auth="token",
                              body={"action": "Reset", "payload": {"type": "OnIdle"}})
        assert st == 409 and "not connected" in e["error"], (st, e)


def test_invalid_answer_gets_callresulterror_over_ocpp21():
    """OCPP 2.1 FR.06: a CALLRESULT that breaks its schema is answered with a
    CALLRESULTERROR; over 2.0.1 nothing can be said, the call just fails."""
    for protocols, want in ((V21, [5]), (["ocpp2.0.1"], [])):
        with ocpp_gateway() as gw:
            ws = ws_open(gw, protocols=protocols)
            boot(ws)
            st, h, j = gw.request("POST", "/api/v1/ocpp/stations/CP1/calls", auth="token",
                                  body={"action": "Reset", "payload": {"type": "OnIdle"}})
            assert st == 202, j
            c = next_call(ws, "Reset")
            reply(ws, c, {"status": "Bogus"})
            got = []
            try:
                while True:
                    got.append(ws.recv_json(timeout=1))
            except TimeoutError:
                pass
            assert [g[0] for g in got] == want, (protocols, got)
            if want:
                assert got[0][1] == c[1] and got[0][2] == "PropertyConstraintViolation", got
            _, _, r = gw.get(h["location"])
            assert r["state"] == "failed" and "invalid ResetResponse" in r["error"], r
            ws.close()


if __name__ == "__main__":
    run([test_scheduler_profile_lasts_and_is_not_resent, test_setpoint_becomes_a_verified_tx_profile,
         test_default_profile_without_transaction_and_watts,
         test_rejected_mismatch_timeout_and_disconnect_are_reported,
         test_changes_are_rate_limited_and_small_ones_dropped,
         test_profiles_are_renewed_before_they_end,
         test_v2x_discharge_only_over_ocpp21,
         test_authorize_against_the_local_list,
         test_station_reports_become_events,
         test_operator_calls_through_the_api,
         test_invalid_answer_gets_callresulterror_over_ocpp21])
