"""Register-map devices (profile "map"): flexgw against the battery simulator
serving conf/devices/generic_battery.json (tests/sim/battery_sim --map) on a
free loopback port. The readings in the model against the simulator's own
state; a charge set-point moving the simulated battery, with the revert time
written first, rewritten before it lapses, and the battery reverting after
the gateway is killed; a value outside the map's min/max refused before
anything is written; a refused write and the simulator's exception mode
reported; garbage readings taken as unknown with one log line; offline when
the simulator dies and online when it is back; map errors named by
--check-config with the file and the place in it.

Environment (set by ctest): FLEXGW, BATTERY_SIM, FG_SOURCE_DIR."""

import copy
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from batterysim import BatterySim  # noqa: E402
from fgtest import Gateway, base_config, run, wait_asset, FLEXGW  # noqa: E402

SRC = os.environ.get("FG_SOURCE_DIR", os.path.join(HERE, "..", ".."))
MAP = os.path.join(SRC, "conf", "devices", "generic_battery.json")
POLL_MS = 200
REVERT_S = 10


class Sim(BatterySim):
    """battery_sim serving the generic map."""

    def __init__(self, *args, port=None):
        super().__init__("--map", MAP, "--capacity-wh", "1000", "--soc", "40", "--soh", "97",
                         *args, port=port)

def config(port, map_file="generic_battery.json", **mb):
    cfg = base_config()
    dev = {"bus": "tcp1", "unit_id": 1, "poll_interval_ms": POLL_MS, "retries": 0,
           "revert_s": REVERT_S, "profile": "map", "map": map_file}
    dev.update(mb)
    cfg["site"]["assets"] = [
        {"id": "bat1", "kind": "battery", "adapter": "modbus", "capacity_wh": 20000,
         "max_charge_w": 10000, "max_discharge_w": 10000, "modbus": dev},
    ]
    cfg["modbus"] = {"enabled": True, "buses": [
        {"id": "tcp1", "tcp": f"127.0.0.1:{port}", "response_timeout_ms": 300}]}
    return cfg


def online(a):
    return a["online"] and a["battery"]["soc"] is not None


def wait_log(gw, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in gw.stderr():
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line with {text!r}:\n{gw.stderr()}")
        time.sleep(0.05)


def put_sp(gw, w):
    return gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": w}, auth="token")


def i32(values):
    v = values[0] << 16 | values[1]
    return v - (1 << 32) if v & 0x80000000 else v


def test_values_match_the_simulator():
    with Sim("--max-charge-w", "5000", "--max-discharge-w", "4000") as sim, \
            Gateway(config(sim.port)) as gw:
        a = wait_asset(gw, "bat1", online, "online with a SoC", timeout=5)
        st = sim.state()
        b = a["battery"]
        assert abs(b["soc"] - st["soc"]) <= 0.1, (b, st)  # 0.1 % resolution
        assert b["soh"] == 97, b
        assert b["capacity_wh"] == 1000, b  # from the device, not the config's 20000
        assert b["max_charge_w"] == 5000 and b["max_discharge_w"] == 4000, b
        assert abs(b["temperature_c"] - st["temperature_c"]) <= 0.1, (b, st)
        assert a["power_w"] == 0, a
        assert b["alarms"] == "", b
        sim.send(cmd="set", point="alarm", value=5)
        a = wait_asset(gw, "bat1", lambda a: a["battery"]["alarms"] == "alarm 0x5",
                       "the alarm word")
        wait_asset(gw, "bat1",
                   lambda a: a["envelope"] == {"min_w": -4000, "max_w": 5000},
                   "the device's limits in the envelope")
        wait_log(gw, "bat1: register map generic_battery.json (flexgw Generic battery)")


def test_charge_setpoint_and_revert():
    with Sim() as sim, Gateway(config(sim.port)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        soc0 = sim.state()["soc"]
        st, _, j = put_sp(gw, 2000)
        assert st == 200, (st, j)
        a = wait_asset(gw, "bat1", lambda a: a["setpoint"]["state"] == "verified",
                       "a verified set-point")
        ev = sim.wait("setpoint", w=2000)
        assert ev["revert_s"] == REVERT_S, ev
        # the revert time is written before the set-point
        order = [e["address"] for e in sim.log if e["ev"] == "write"]
        assert order[:2] == [102, 100], order
        assert sim.writes(102)[0] == [REVERT_S], sim.writes(102)
        assert i32(sim.writes(100)[0]) == 2000, sim.writes(100)
        a = wait_asset(gw, "bat1", lambda a: a["power_w"] == 2000, "charging at 2000 W")
        time.sleep(2)
        st = sim.state()
        assert st["w"] == 2000 and st["soc"] > soc0, (soc0, st)
        a = wait_asset(gw, "bat1", lambda a: a["battery"]["soc"] > soc0, "the SoC rising")
        # rewritten at half the revert time, so it never lapses while we run
        deadline = time.monotonic() + REVERT_S
        while len(sim.writes(100)) < 2:
            assert time.monotonic() < deadline, sim.writes(100)
            time.sleep(0.1)
        assert not [e for e in sim.log if e["ev"] == "reverted"], sim.log
        # the gateway dies: the battery falls back to 0 W by itself
        gw.kill9()
        ev = sim.wait("reverted", timeout=REVERT_S + 3)
        assert ev["from_w"] == 2000, ev
        gw.proc = None


def test_release_writes_zero():
    with Sim() as sim, Gateway(config(sim.port)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        put_sp(gw, -1500)
        sim.wait("setpoint", w=-1500)
        st, _, _ = gw.request("DELETE", "/api/v1/assets/bat1/setpoint", auth="token")
        assert st in (200, 204), st
        sim.wait("setpoint", w=0)


def test_out_of_range_refused_before_writing():
    with open(MAP) as f:
        m = json.load(f)
    narrow = copy.deepcopy(m)
    for p in narrow["points"]:
        if p["name"] == "setpoint_w":
            p["min"], p["max"] = -3000, 3000
    with tempfile.TemporaryDirectory() as tmp, Sim() as sim:
        path = os.path.join(tmp, "narrow.json")
        with open(path, "w") as f:
            json.dump(narrow, f)
        with Gateway(config(sim.port, map_file=path)) as gw:
            wait_asset(gw, "bat1", online, "online", timeout=5)
            st, _, j = put_sp(gw, 4000)
            assert st == 422, (st, j)
            assert "setpoint_w" in j["error"] and "3000" in j["error"], j
            time.sleep(3 * POLL_MS / 1000)
            assert not sim.writes(100) and not sim.writes(102), sim.log
            a = wait_asset(gw, "bat1", lambda a: True, "the asset")
            assert a["setpoint"] is None or a["setpoint"]["w"] != 4000, a
            st, _, j = put_sp(gw, 2500)  # inside: written
            assert st == 200, (st, j)
            sim.wait("setpoint", w=2500)


def test_refused_write_and_exception_mode():
    with Sim() as sim, Gateway(config(sim.port)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        # the device reports 8000 W of charge limit but its rating is 5000 W:
        # it refuses 7000 W with ILLEGAL_DATA_VALUE
        sim.send(cmd="set", point="charge_limit_w", value=8000)
        wait_asset(gw, "bat1", lambda a: a["battery"]["max_charge_w"] == 8000, "8000 W")
        st, _, j = put_sp(gw, 7000)
        assert st == 200, (st, j)
        a = wait_asset(gw, "bat1", lambda a: a["setpoint"]["state"] == "rejected",
                       "the set-point rejected")
        d = a["setpoint"]["detail"]
        assert "setpoint_w" in d and "exception" in d.lower(), a["setpoint"]
        wait_log(gw, "set-point rejected")
        assert a["online"], a  # a refusal is not a dead device
        # every request answered with exception 4: the readings would be stale
        sim.send(cmd="exception", code=4, on=True)
        a = wait_asset(gw, "bat1", lambda a: not a["online"], "offline")
        assert a["power_w"] is None and a["envelope"] == {"min_w": 0, "max_w": 0}, a
        wait_log(gw, "bat1: offline: reading 16 holding registers at 0: Modbus "
                 "exception")
        st, _, _ = put_sp(gw, 100)
        assert st == 409, st
        sim.send(cmd="exception", on=False)
        wait_asset(gw, "bat1", online, "back online", timeout=8)


def test_garbage_is_unknown():
    with Sim() as sim, Gateway(config(sim.port)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        sim.send(cmd="garbage", on=True)
        a = wait_asset(gw, "bat1", lambda a: a["battery"]["soc"] is None, "SoC unknown")
        assert a["online"], a
        assert a["power_w"] is None, a
        assert a["battery"]["temperature_c"] is None, a
        wait_log(gw, "bat1: no valid reading, taken as unknown: power_w (na), soc_pct (na)")
        time.sleep(5 * POLL_MS / 1000)
        log = gw.stderr()
        assert log.count("no valid reading") == 1, log  # once per change, not per poll
        line = next(ln for ln in log.splitlines() if "no valid reading" in ln)
        assert "capacity_wh (implausible)" in line and "temperature_c (na)" in line, line
        sim.send(cmd="garbage", on=False)
        a = wait_asset(gw, "bat1", online, "readings back")
        assert a["power_w"] == 0, a
        wait_log(gw, "bat1: all points readable again")


def test_offline_and_back():
    sim = Sim().start()
    try:
        with Gateway(config(sim.port)) as gw:
            wait_asset(gw, "bat1", online, "online", timeout=5)
            sim.kill()
            a = wait_asset(gw, "bat1", lambda a: not a["online"], "offline",
                           timeout=2 * POLL_MS / 1000 + 1)
            assert a["power_w"] is None and a["envelope"] == {"min_w": 0, "max_w": 0}, a
            wait_log(gw, "bat1: offline")
            st, _, _ = put_sp(gw, 100)
            assert st == 409, st
            sim = Sim(port=sim.port).start()
            wait_asset(gw, "bat1", online, "back online", timeout=12)
            wait_log(gw, "bat1: online")
    finally:
        sim.stop()


def check_config(cfg, tmp):
    path = os.path.join(tmp, "flexgw.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([FLEXGW, "--check-config", path], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def test_map_errors_in_check_config():
    with open(MAP) as f:
        m = json.load(f)
    bad = copy.deepcopy(m)
    bad["points"][3]["type"] = "u24"
    bad["points"][0]["bogus"] = 1
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "bad.json"), "w") as f:
            json.dump(bad, f)
        # relative to the config's directory
        code, out = check_config(config(1502, map_file="bad.json"), tmp)
        assert code != 0, out
        assert "/site/assets/0/modbus/map" in out, out
        assert os.path.join(tmp, "bad.json") in out, out
        assert "/points/3/type" in out and "u24" in out, out
        assert "/points/0/bogus" in out, out
        # a shipped map by its name; a missing one; profile without a map
        code, out = check_config(config(1502), tmp)
        assert code == 0, out
        code, out = check_config(config(1502, map_file="nope.json"), tmp)
        assert code != 0 and "nope.json" in out and "no such file" in out, out
        cfg = config(1502)
        del cfg["site"]["assets"][0]["modbus"]["map"]
        code, out = check_config(cfg, tmp)
        assert code != 0 and "/site/assets/0/modbus/map" in out, out
        # a battery map on a pv asset
        cfg = config(1502)
        a = cfg["site"]["assets"][0]
        for k in ("capacity_wh", "max_charge_w", "max_discharge_w"):
            del a[k]
        a["kind"], a["rated_w"] = "pv", 5000
        code, out = check_config(cfg, tmp)
        assert code != 0 and "a battery map, the device is a pv" in out, out


if __name__ == "__main__":
    run([test_values_match_the_simulator, test_charge_setpoint_and_revert,
         test_release_writes_zero, test_out_of_range_refused_before_writing,
         test_refused_write_and_exception_mode, test_garbage_is_unknown,
         test_offline_and_back, test_map_errors_in_check_config])
