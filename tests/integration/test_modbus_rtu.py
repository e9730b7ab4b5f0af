"""Modbus RTU on a virtual serial line: socat links two ptys, Debian's
python3-pymodbus (sunspec_server.py --rtu, pymodbus' own serial RTU server)
serves SunSpec maps on one end for unit ids 1 and 2, flexgw's rtu bus opens
the other end (libmodbus, modbus_new_rtu).

Checks: discovery and readings (SoC, SoH, capacity) of both units over RTU;
a set-point written, read back by flexgw (verified) and seen in the
device's registers; a third configured unit id that never answers goes
offline while the other two keep being polled (last_seen advances) and the
REST API stays responsive; the line lost (socat and the server gone) ->
offline, back -> online; a bus whose device does not exist, or refuses the
serial settings, gives a log line naming the device and its assets
offline; --check-config refuses bad baud / parity / data / stop bits with
their JSON path.

Note on parity: Linux ptys do not do parity or 7 data bits (pyserial's
tcsetattr() with PARENB fails with EINVAL; libmodbus' succeeds but the pty
keeps PARENB clear), so the line runs 8N2 here; even parity (the RTU
default) is what the "refused settings" case uses."""

import json
import logging
import os
import subprocess
import sys
import tempfile
import time

from fgtest import FLEXGW, Gateway, base_config, run, wait_asset
from test_modbus import END, M124, MAP, SUNS, model, reg, s16, wait_log

PY = "/usr/bin/python3"  # Debian's, with python3-pymodbus
HERE = os.path.dirname(os.path.abspath(__file__))
POLL_MS = 500
BAUD = 19200

M1_2 = model(1, Mn="flexgw-test", Md="pymodbus battery 2", SN="PM-0002", DA=2)
M802_2 = model(802, WHRtg=100, WHRtg_SF=2, WChaRteMax=300, WDisChaRteMax=300,
               WChaDisChaMax_SF=1, SoC=420, SoC_SF=-1, SoH=88, SoH_SF=0, W=0, W_SF=1,
               ChaSt=3)
MAP_2 = SUNS + M1_2 + M802_2 + M124 + END


class Line:
    """socat's pty pair (gw <-> srv) and sunspec_server.py --rtu on srv,
    serving unit ids 1 and 2. stop() and start() again: the line is gone
    and comes back under the same path."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fgrtu-")
        self.gw = os.path.join(self.tmp.name, "ttyGW")
        self.srv = os.path.join(self.tmp.name, "ttySRV")
        self.map = os.path.join(self.tmp.name, "map.json")
        self.ctl = os.path.join(self.tmp.name, "control.json")
        self.dump = os.path.join(self.tmp.name, "dump.json")
        with open(self.map, "w") as f:
            json.dump({"units": {"1": {"start": 40000, "regs": MAP},
                                 "2": {"start": 40000, "regs": MAP_2}}}, f)
        with open(self.ctl, "w") as f:
            json.dump({}, f)
        self.socat = self.server = None

    def start(self):
        self.socat = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.gw}", f"pty,raw,echo=0,link={self.srv}"],
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while not (os.path.exists(self.gw) and os.path.exists(self.srv)):
            assert time.monotonic() < deadline, "socat made no pty pair"
            time.sleep(0.02)
        self.server = subprocess.Popen(
            [PY, os.path.join(HERE, "sunspec_server.py"), "--rtu", self.srv, "--baud",
             str(BAUD), "--parity", "N", "--stopbits", "2", "--dump", self.dump, self.map,
             self.ctl], stdout=subprocess.PIPE, text=True)
        assert self.server.stdout.readline().strip() == "ready", "server not ready"
        return self

    def stop(self):
        for p in (self.server, self.socat):
            if p and p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
        self.server = self.socat = None

    def registers(self, unit):
        """The unit's registers from 40000, as the device last saw them written."""
        with open(self.dump) as f:
            return json.load(f)[str(unit)]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.tmp.cleanup()
        return False


def battery(aid, bus, unit, timeout_retries=0):
    return {"id": aid, "kind": "battery", "adapter": "modbus", "capacity_wh": 10000,
            "max_charge_w": 10000, "max_discharge_w": 10000,
            "modbus": {"bus": bus, "unit_id": unit, "poll_interval_ms": POLL_MS,
                       "retries": timeout_retries, "revert_s": 30}}


def rtu(device, **kw):
    r = {"device": device, "baud": BAUD, "parity": "none", "stop_bits": 2}
    r.update(kw)
    return r


def config(device, units=(1, 2), extra_buses=()):
    cfg = base_config()
    cfg["site"]["assets"] = [battery(f"bat{u}", "rs485", u) for u in units]
    cfg["modbus"] = {"enabled": True, "buses": [
        {"id": "rs485", "rtu": rtu(device), "response_timeout_ms": 200}]}
    for b, assets in extra_buses:
        cfg["modbus"]["buses"].append(b)
        cfg["site"]["assets"] += assets
    return cfg


def online(a):
    return a["online"]


def test_two_units_read():
    with Line() as line, Gateway(config(line.gw)) as gw:
        a = wait_asset(gw, "bat1", lambda a: a["online"] and a["battery"]["soc"] is not None,
                       "online with a SoC", timeout=8)
        b = a["battery"]
        assert abs(b["soc"] - 65.5) < 1e-9, b
        assert b["soh"] == 97 and b["capacity_wh"] == 20000, b
        assert a["power_w"] == 1500, a
        a = wait_asset(gw, "bat2", lambda a: a["online"] and a["battery"]["soc"] is not None,
                       "online with a SoC", timeout=8)
        b = a["battery"]
        assert abs(b["soc"] - 42.0) < 1e-9, b
        assert b["soh"] == 88 and b["capacity_wh"] == 10000, b
        wait_log(gw, "online (unit 1 on bus rs485)")
        wait_log(gw, "online (unit 2 on bus rs485)")
        wait_log(gw, "serial PM-0001")
        wait_log(gw, "serial PM-0002")


def test_setpoint_over_rtu():
    with Line() as line, Gateway(config(line.gw)) as gw:
        wait_asset(gw, "bat2", online, "online", timeout=8)
        st, _, j = gw.request("PUT", "/api/v1/assets/bat2/setpoint", body={"w": 1500},
                              auth="token")
        assert st == 200, (st, j)
        a = wait_asset(gw, "bat2", lambda a: a["setpoint"]["state"] == "verified",
                       "a set-point written and read back over RTU", timeout=5)
        assert a["setpoint"]["w"] == 1500, a
        regs = line.registers(2)
        at = reg("InWRte") - 40000  # MAP_2 has the same models as MAP
        # 1500 W of WChaMax 5000 W = 30.0 % (InOutWRte_SF -1); forced charge
        assert s16(regs[at]) == 300, regs[at]
        assert regs[reg("StorCtl_Mod") - 40000] == 3
        assert line.registers(1)[reg("StorCtl_Mod") - 40000] == 0  # unit 1 untouched


def test_dead_unit_does_not_stall_the_bus():
    with Line() as line, Gateway(config(line.gw, units=(1, 2, 3))) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=8)
        wait_asset(gw, "bat2", online, "online", timeout=8)
        a = wait_asset(gw, "bat3", lambda a: not a["online"], "offline", timeout=5)
        assert a["envelope"] == {"min_w": 0, "max_w": 0}, a
        # never online, so no "offline" transition: the reason is logged
        wait_log(gw, "bat3: reading 2 registers at 40000: Connection timed out")
        seen = {aid: gw.get(f"/api/v1/assets/{aid}")[2]["last_seen"] for aid in
                ("bat1", "bat2")}
        worst = 0.0
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            st, _, _ = gw.get("/api/v1/assets")
            worst = max(worst, time.monotonic() - t0)
            assert st == 200
            time.sleep(0.1)
        print(f"     slowest GET /api/v1/assets while unit 3 times out: {worst * 1000:.0f} ms")
        assert worst < 0.5, worst
        for aid, t in seen.items():
            a = gw.get(f"/api/v1/assets/{aid}")[2]
            assert a["online"], a
            assert a["last_seen"] >= t + 2, (aid, t, a["last_seen"])
        assert not gw.get("/api/v1/assets/bat3")[2]["online"]
        # a set-point on a live unit still goes through between the timeouts
        st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 1000},
                              auth="token")
        assert st == 200, (st, j)
        wait_asset(gw, "bat1", lambda a: a["setpoint"]["state"] == "verified", "verified",
                   timeout=5)


def test_line_lost_and_back():
    with Line() as line, Gateway(config(line.gw)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=8)
        line.stop()
        wait_asset(gw, "bat1", lambda a: not a["online"], "offline", timeout=3)
        wait_asset(gw, "bat2", lambda a: not a["online"], "offline", timeout=3)
        time.sleep(1)
        line.start()
        wait_asset(gw, "bat1", online, "back online", timeout=15)
        wait_asset(gw, "bat2", online, "back online", timeout=15)


def test_missing_and_refusing_devices():
    with Line() as line:
        missing = os.path.join(line.tmp.name, "ttyUSB9")
        other = os.path.join(line.tmp.name, "ttyEVEN")
        # a second pty pair with nobody on the far end, opened with even
        # parity: this pty refuses it, as some USB adapters refuse a setting
        socat = subprocess.Popen(["socat", f"pty,raw,echo=0,link={other}",
                                  f"pty,raw,echo=0,link={other}.far"],
                                 stderr=subprocess.DEVNULL)
        cfg = config(line.gw, units=(1,), extra_buses=[
            ({"id": "ghost", "rtu": rtu(missing), "response_timeout_ms": 200},
             [battery("ghost1", "ghost", 1)]),
            ({"id": "even", "rtu": rtu(other, parity="even"),
              "response_timeout_ms": 200}, [battery("even1", "even", 5)]),
        ])
        try:
            with Gateway(cfg) as gw:
                wait_asset(gw, "bat1", online, "online", timeout=8)
                a = wait_asset(gw, "ghost1", lambda a: True, "the asset")
                assert not a["online"], a
                wait_log(gw, f"ghost1: cannot open serial device {missing} (19200 8N2): "
                         "No such file or directory")
                wait_log(gw, f"even1: cannot open serial device {other} (19200 8E2): "
                         "its driver does not take these settings")
                assert not gw.get("/api/v1/assets/even1")[2]["online"]
                assert gw.get("/api/v1/assets/bat1")[2]["online"]
        finally:
            socat.terminate()
            socat.wait(timeout=10)


def test_check_config():
    cfg = config("/dev/ttyUSB0")
    cfg["modbus"]["buses"][0]["rtu"].update(baud=12345, parity="mark", stop_bits=3,
                                            data_bits=9)
    cfg["modbus"]["buses"].append({"id": "r2", "rtu": {"baud": 9600}})
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg, f)
    try:
        r = subprocess.run([FLEXGW, "--check-config", f.name], capture_output=True,
                           text=True)
    finally:
        os.unlink(f.name)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    for path in ("/modbus/buses/0/rtu/baud", "/modbus/buses/0/rtu/parity",
                 "/modbus/buses/0/rtu/stop_bits", "/modbus/buses/0/rtu/data_bits",
                 "/modbus/buses/1/rtu/device"):
        assert path in out, (path, out)
    assert "mark" in out and "12345" in out, out


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    logging.disable(logging.CRITICAL)
    run([test_two_units_read, test_setpoint_over_rtu, test_dead_unit_does_not_stall_the_bus,
         test_line_lost_and_back, test_missing_and_refusing_devices, test_check_config])
