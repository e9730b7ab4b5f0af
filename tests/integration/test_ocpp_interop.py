"""Interop with an independent OCPP implementation: the npm package ocpp-rpc
(pinned in tests/node/package-lock.json, installed by packaging/install-deps.sh)
as a charging station in strict mode (ocpp2.0.1), tests/node/interop_station.js.
Strict mode validates every CALL and CALLRESULT either way against ocpp-rpc's
own copy of the OCPP 2.0.1 schemas, so any answer or call of ours that it
finds invalid shows up as a 'strictValidationFailure' line (and a non-zero
exit) from the station."""

import datetime
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

from fgtest import SRC, Gateway, base_config, free_port, run, wait_asset

NODE_DIR = os.path.join(SRC, "tests", "node")
STATION_JS = os.path.join(NODE_DIR, "interop_station.js")
CP = {"id": "cp-rpc", "kind": "evse", "adapter": "ocpp", "station": "RPC1", "evse_id": 1,
      "rated_w": 11000}
VOLTAGE = 230  # the station's phase voltage and the asset's (config default 230 V, 3 phases)


def need_node():
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ocpp-rpc")):
        raise AssertionError(f"{NODE_DIR}/node_modules/ocpp-rpc is missing: "
                             "run packaging/install-deps.sh")
    node = shutil.which("node")
    if not node:
        raise AssertionError("node is not on PATH: run packaging/install-deps.sh")
    return node


def interop_gateway():
    cfg = base_config()
    cfg["site"]["assets"].append(dict(CP))
    port = free_port()
    cfg["ocpp"] = {"enabled": True, "listen": f"127.0.0.1:{port}", "heartbeat_s": 60}
    gw = Gateway(cfg)
    gw.ocpp_port = port
    return gw


def utc(t=None):
    return datetime.datetime.fromtimestamp(t or time.time(), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def parse_time(s):
    """RFC 3339 (as JSON schema date-time allows) -> epoch seconds."""
    assert isinstance(s, str), f"not a date-time: {s!r}"
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def check_now(s, slack=3.0):
    t = parse_time(s)
    assert abs(t - time.time()) <= slack, f"{s} is off by {t - time.time():.1f} s"


class Station:
    """node interop_station.js as a child process; its JSON lines are
    collected by a thread and looked up with wait()."""

    def __init__(self, gw, station_id=CP["station"], args=()):
        node = need_node()
        self.tmp = tempfile.TemporaryFile()
        url = f"ws://127.0.0.1:{gw.ocpp_port}/ocpp"
        self.proc = subprocess.Popen([node, STATION_JS, url, station_id, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.tmp, text=True, bufsize=1)
        self.events = []
        self.lock = threading.Lock()
        self.q = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.seen = 0  # wait() looks at events from here on unless told otherwise

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "garbage", "line": line}
            with self.lock:
                self.events.append(ev)
            self.q.put(ev)
        self.q.put(None)

    def stderr(self):
        self.tmp.seek(0)
        return self.tmp.read().decode("utf-8", "replace")

    def transcript(self):
        with self.lock:
            lines = [json.dumps(e) for e in self.events]
        return "\n".join(lines[-40:]) + "\n---- station stderr ----\n" + self.stderr()

    def wait(self, pred, what, timeout=10.0, since=None):
        """The first event from `since` (default: after the last one wait()
        returned) that satisfies pred."""
        start = self.seen if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                evs = self.events[start:]
            for i, e in enumerate(evs):
                if pred(e):
                    self.seen = start + i + 1
                    return e
            start += len(evs)
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self.q.empty()
                             and not self.reader.is_alive()):
                raise AssertionError(f"station: no {what} within {timeout} s:\n"
                                     + self.transcript())
            try:
                self.q.get(timeout=min(left, 0.1))
            except queue.Empty:
                pass

    def event(self, kind, what=None, timeout=10.0, **match):
        return self.wait(lambda e: e.get("event") == kind and all(
            e.get(k) == v for k, v in match.items()), what or f"{kind} {match}", timeout)

    def call(self, action, params, timeout=10.0):
        self.send({"cmd": "call", "action": action, "params": params})
        e = self.wait(lambda e: e.get("event") in ("result", "call_error")
                      and e.get("action") == action, f"answer to {action}", timeout)
        assert e["event"] == "result", f"{action}: {e}\n" + self.transcript()
        return e["result"]

    def send(self, cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def all(self, kind):
        with self.lock:
            return [e for e in self.events if e.get("event") == kind]

    def finish(self):
        """Ask it to exit; assert it saw nothing unexpected (no validation
        failure, no bad message, no failed call) and exited 0."""
        try:
            self.send({"cmd": "exit"})
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("station did not exit:\n" + self.transcript())
        self.reader.join(5)
        bad = self.all("unexpected")
        assert not bad and rc == 0, f"station exited {rc}, unexpected: {bad}\n" \
            + self.transcript()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.kill()
        self.tmp.close()
        return False


def started_transaction(st, tx="RPC-TX-1", power_w=11000):
    """EV plugged in and charging: StatusNotification Occupied, TransactionEvent
    Started, MeterValues."""
    st.call("StatusNotification", {"timestamp": utc(), "connectorStatus": "Occupied",
                                   "evseId": 1, "connectorId": 1})
    r = st.call("TransactionEvent", {
        "eventType": "Started", "timestamp": utc(), "seqNo": 0,
        "triggerReason": "Authorized",
        "transactionInfo": {"transactionId": tx, "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "RPCTAG", "type": "ISO14443"},
        "meterValue": [{"timestamp": utc(), "sampledValue": [
            {"value": 1000, "measurand": "Energy.Active.Import.Register",
             "unitOfMeasure": {"unit": "Wh"}},
            {"value": power_w, "measurand": "Power.Active.Import",
             "unitOfMeasure": {"unit": "W"}}]}]})
    assert r == {"idTokenInfo": {"status": "Accepted"}}, r
    r = st.call("MeterValues", {"evseId": 1, "meterValue": [{"timestamp": utc(), "sampledValue": [
        {"value": power_w / 1000, "measurand": "Power.Active.Import",
         "unitOfMeasure": {"unit": "kW"}}]}]})
    assert r == {}, r


# --------------------------------------------------------------------------


def test_station_script_against_ocpp_rpc_server():
    """The station script itself, against ocpp-rpc's RPCServer in strict mode
    as the CSMS (no flexgw): every call it serves is answered validly, so
    what it reports about flexgw is about flexgw."""
    node = need_node()
    p = subprocess.run([node, os.path.join(NODE_DIR, "interop_selftest.js")],
                       capture_output=True, text=True, timeout=90)
    failed = [line for line in p.stdout.splitlines() if '"ok": false' in line
              or '"ok":false' in line]
    assert p.returncode == 0 and not failed, \
        f"interop_selftest.js exited {p.returncode}:\n{p.stdout}\n{p.stderr}"


def boot_status_heartbeat(protocol):
    with interop_gateway() as gw, Station(gw, args=["--protocol", protocol]) as st:
        e = st.event("connected")
        assert e["protocol"] == protocol, e
        boot = st.event("result", action="BootNotification")["result"]
        assert boot["status"] == "Accepted" and boot["interval"] == 60, boot
        check_now(boot["currentTime"])
        assert st.event("result", action="StatusNotification")["result"] == {}
        hb = st.event("result", action="Heartbeat")["result"]
        assert set(hb) == {"currentTime"}, hb
        check_now(hb["currentTime"])
        st.event("ready", timeout=15)
        a = wait_asset(gw, CP["id"], lambda a: a["online"] is True
                       and a["evse"]["state"] == "available", "online, available")
        assert a["adapter"] == "ocpp", a
        # a fourth kind of call, and the state follows
        started_transaction(st)
        a = wait_asset(gw, CP["id"], lambda a: a["evse"]["state"] == "charging"
                       and a["power_w"] == 11000, "charging at 11 kW")
        assert a["evse"]["session"]["id"] == "RPC-TX-1", a["evse"]
        r = st.call("Heartbeat", {})
        check_now(r["currentTime"])
        st.finish()
        wait_asset(gw, CP["id"], lambda a: a["online"] is False, "offline after close")


def test_boot_status_heartbeat_in_strict_mode():
    """Boot, status and heartbeat from ocpp-rpc; our CALLRESULTs pass its
    strict validation (it would report a strictValidationFailure and exit 1
    otherwise), and the model sees the station."""
    boot_status_heartbeat("ocpp2.0.1")


def test_boot_status_heartbeat_in_strict_mode_ocpp21():
    """The same in OCPP 2.1, against ocpp-rpc's 2.1 schemas (interop_station.js
    works around ocpp-rpc 2.2.1 looking them up under the wrong names)."""
    boot_status_heartbeat("ocpp2.1")


def test_invalid_calls_get_the_matching_rpc_error():
    """Deliberately invalid calls (sent with ocpp-rpc's outbound validation
    off for that call only) are refused with the CALLERROR the schema names,
    which ocpp-rpc raises as the RPCError class of that code."""
    with interop_gateway() as gw, Station(gw) as st:
        st.event("ready", timeout=15)
        bad = {e["name"]: e for e in st.all("bad_call")}
        want = {"BootNotification without chargingStation":
                ("RPCOccurrenceConstraintViolationError", "OccurrenceConstraintViolation",
                 "chargingStation"),
                "BootNotification with an unknown property":
                ("RPCFormatViolationError", "FormatViolation", "firmware"),
                "StatusNotification with a wrong type":
                ("RPCTypeConstraintViolationError", "TypeConstraintViolation", "evseId")}
        assert set(bad) == set(want), bad
        for name, (cls, code, field) in want.items():
            e = bad[name]
            assert e["ok"] is True and e["error"]["class"] == cls, e
            assert e["error"]["code"] == code and field in e["error"]["message"], e
        # still booted and usable afterwards
        check_now(st.call("Heartbeat", {})["currentTime"])
        wait_asset(gw, CP["id"], lambda a: a["online"] is True, "online")
        st.finish()


def check_profile(params, w, duration_s, sent_at):
    """A SetChargingProfileRequest that caps EVSE 1 at w watts (or the same
    in amperes) and ends duration_s after it was sent."""
    assert params["evseId"] == 1, params
    p = params["chargingProfile"]
    sched = p["chargingSchedule"]
    assert isinstance(sched, list) and sched, p
    s = sched[0]
    periods = s["chargingSchedulePeriod"]
    first = periods[0]
    assert first["startPeriod"] == 0, s
    if s["chargingRateUnit"] == "W":
        assert abs(first["limit"] - w) <= 1, f"limit {first['limit']} W, want {w}: {p}"
    else:
        phases = first.get("numberPhases", 3)
        amps = w / (VOLTAGE * phases)
        # rounded to what a station takes (0.1 A, whole amperes), never up
        assert amps - 1 < first["limit"] <= amps + 0.05, \
            f"limit {first['limit']} A on {phases} phases, want {amps:.2f} A: {p}"
    # it must end: validTo, or a finite schedule from a known start
    ends = []
    if "validTo" in p:
        ends.append(parse_time(p["validTo"]))
    if "duration" in s:
        start = parse_time(s["startSchedule"]) if "startSchedule" in s else sent_at
        ends.append(start + s["duration"])
    assert ends, f"the profile never ends (no validTo, no schedule duration): {p}"
    for end in ends:
        assert abs(end - (sent_at + duration_s)) <= 5, \
            f"profile ends at {end - sent_at:.0f} s, want {duration_s} s: {p}"
    return p


def test_setpoint_is_a_charging_profile_accepted_in_strict_mode():
    setpoint_as_profile("ocpp2.0.1")


def test_setpoint_is_a_charging_profile_accepted_in_strict_mode_ocpp21():
    """The same in OCPP 2.1, against ocpp-rpc's 2.1 schemas, from a station
    that takes 1.5 s to answer SetChargingProfile (flexgw's once-a-second
    tick runs meanwhile; it once kept the set-point from being verified)."""
    setpoint_as_profile("ocpp2.1", ["--answer-delay-ms", "1500"])


def setpoint_as_profile(protocol, args=()):
    """PUT set-point -> flexgw sends SetChargingProfile; ocpp-rpc validates it
    in strict mode (an invalid one would be a strictValidationFailure and a
    CALLERROR back to flexgw), the station answers Accepted; flexgw's
    GetCompositeSchedule is answered from that profile and the set-point is
    verified; DELETE clears the profile at the station."""
    with interop_gateway() as gw, Station(gw, args=["--protocol", protocol, *args]) as st:
        st.event("ready", timeout=15)
        started_transaction(st)
        wait_asset(gw, CP["id"], lambda a: a["evse"]["state"] == "charging", "charging")
        mark = len(st.events)
        sent_at = time.time()
        code, _, j = gw.request("PUT", f"/api/v1/assets/{CP['id']}/setpoint",
                                body={"w": 7000, "duration_s": 600}, auth="token")
        assert code == 200, f"PUT setpoint: {code} {j}"
        assert j["setpoint"]["w"] == 7000, j
        e = st.wait(lambda e: e.get("event") == "call"
                    and e.get("action") == "SetChargingProfile", "SetChargingProfile",
                    since=mark)
        check_profile(e["params"], 7000, 600, sent_at)
        a = st.wait(lambda e: e.get("event") in ("answer", "call_answered_error")
                    and e.get("action") == "SetChargingProfile",
                    "the station's answer to SetChargingProfile", since=mark)
        assert a["event"] == "answer" and a["result"] == {"status": "Accepted"}, \
            f"{a}\n" + st.transcript()
        # flexgw checks what the station applies: GetCompositeSchedule, in the
        # profile's unit, answered from the profile the station holds
        e = st.wait(lambda e: e.get("event") == "call"
                    and e.get("action") == "GetCompositeSchedule", "GetCompositeSchedule",
                    since=mark)
        unit = e["params"].get("chargingRateUnit")
        a = st.wait(lambda e: e.get("event") in ("answer", "call_answered_error")
                    and e.get("action") == "GetCompositeSchedule",
                    "the station's answer to GetCompositeSchedule", since=mark)
        assert a["event"] == "answer" and a["result"]["status"] == "Accepted", a
        assert unit is None or a["result"]["schedule"]["chargingRateUnit"] == unit, (e, a)
        a = wait_asset(gw, CP["id"], lambda a: (a["setpoint"] or {}).get("state")
                       == "verified", "set-point verified")
        assert a["setpoint"]["w"] == 7000 and a["setpoint"]["requested_w"] == 7000, a
        assert abs(a["setpoint"]["expires_at"] - (sent_at + 600)) <= 5, a
        # releasing the asset clears our profile at the station
        mark = len(st.events)
        code, _, j = gw.request("DELETE", f"/api/v1/assets/{CP['id']}/setpoint",
                                auth="token")
        assert code in (200, 204), f"DELETE setpoint: {code} {j}"
        st.wait(lambda e: e.get("event") == "call" and e.get("action") ==
                "ClearChargingProfile", "ClearChargingProfile", since=mark)
        a = st.wait(lambda e: e.get("event") in ("answer", "call_answered_error")
                    and e.get("action") == "ClearChargingProfile",
                    "the station's answer to ClearChargingProfile", since=mark)
        assert a["event"] == "answer" and a["result"] == {"status": "Accepted"}, a
        e = st.wait(lambda e: e.get("event") == "profiles_cleared", "profiles cleared",
                    since=mark)
        assert e["profiles"] == 0, e
        a = wait_asset(gw, CP["id"], lambda a: a["setpoint"] is None, "no set-point")
        st.finish()
        errors = st.all("call_answered_error")
        assert not errors, f"the station refused calls from flexgw: {errors}"
        unhandled = st.all("unhandled")
        assert not unhandled, f"flexgw sent calls the station does not handle: {unhandled}"
        assert "BUG" not in gw.stderr(), gw.stderr()


if __name__ == "__main__":
    run([test_station_script_against_ocpp_rpc_server,
         test_boot_status_heartbeat_in_strict_mode,
         test_boot_status_heartbeat_in_strict_mode_ocpp21,
         test_invalid_calls_get_the_matching_rpc_error,
         test_setpoint_is_a_charging_profile_accepted_in_strict_mode,
         test_setpoint_is_a_charging_profile_accepted_in_strict_mode_ocpp21])
