"""Modbus/SunSpec against an independent implementation: Debian's
python3-pymodbus serves a SunSpec map written here (SunS at 40000, models 1,
802, 124, end) on loopback (sunspec_server.py), flexgw reads it over
Modbus/TCP. Checks: values with their scale factors in the model; a charge
and a discharge set-point written to model 124 (rates, mode, revert
timeout) and read back; a refused write (exception) and an ignored one
(read-back mismatch) reported on the set-point; a sentinel value; the
server stopped -> offline within two poll intervals, restarted -> online;
a broken model chain and a map without "SunS" reported in the log.

The layout of each model is computed from the official SunSpec JSON in
protocols/sunspec/models, not from flexgw's generated tables."""

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time

from fgtest import SRC, Gateway, base_config, free_port, run, wait_asset

PY = "/usr/bin/python3"  # Debian's, with python3-pymodbus
HERE = os.path.dirname(os.path.abspath(__file__))
POLL_MS = 500
REVERT_S = 30
SENTINEL = {"int16": 0x8000, "sunssf": 0x8000, "uint16": 0xFFFF, "enum16": 0xFFFF,
            "bitfield16": 0xFFFF, "count": 0xFFFF}


def layout(model_id):
    """{point: (offset from the ID register, size, type)} and L."""
    with open(os.path.join(SRC, "protocols/sunspec/models", f"model_{model_id}.json")) as f:
        g = json.load(f)["group"]
    out, off = {}, 0
    for p in g["points"]:
        out[p["name"]] = (off, p["size"], p["type"])
        off += p["size"]
    return out, off - 2


def model(model_id, **raw):
    """Registers of a model: every point "not implemented" unless given raw."""
    pts, length = layout(model_id)
    regs = [0] * (length + 2)
    for name, (off, size, typ) in pts.items():
        if typ in SENTINEL:
            regs[off] = SENTINEL[typ]
        elif typ in ("uint32", "bitfield32", "enum32"):
            regs[off:off + 2] = [0xFFFF, 0xFFFF]
        elif typ == "int32":
            regs[off:off + 2] = [0x8000, 0]
    regs[0], regs[1] = model_id, length
    for name, v in raw.items():
        off, size, typ = pts[name]
        if typ == "string":
            b = v.encode().ljust(size * 2, b"\0")
            regs[off:off + size] = [b[i] << 8 | b[i + 1] for i in range(0, size * 2, 2)]
        elif size == 2:
            regs[off:off + 2] = [(v >> 16) & 0xFFFF, v & 0xFFFF]
        else:
            regs[off] = v & 0xFFFF
    return regs


def addr_of(regs_before, model_id, point):
    return 40000 + regs_before + layout(model_id)[0][point][0]


M1 = model(1, Mn="flexgw-test", Md="pymodbus battery", SN="PM-0001", DA=1)
M802 = model(802, WHRtg=200, WHRtg_SF=2, WChaRteMax=500, WDisChaRteMax=400,
             WChaDisChaMax_SF=1, SoC=655, SoC_SF=-1, SoH=97, SoH_SF=0, W=-150, W_SF=1,
             Evt1=0b10, ChaSt=4)
M124 = model(124, WChaMax=500, WChaMax_SF=1, StorCtl_Mod=0, InWRte=1000, OutWRte=1000,
             InOutWRte_SF=-1, InOutWRte_RvrtTms=0)
END = [0xFFFF, 0]
SUNS = [0x5375, 0x6E53]
MAP = SUNS + M1 + M802 + M124 + END
AT_124 = len(SUNS) + len(M1) + len(M802)
AT_802 = len(SUNS) + len(M1)


def reg(name):
    return addr_of(AT_124, 124, name)


class Device:
    """sunspec_server.py in its own process; stop() and start() again."""

    def __init__(self, regs, port=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="fgmb-")
        self.port = port or free_port()
        self.map = os.path.join(self.tmp.name, "map.json")
        self.ctl = os.path.join(self.tmp.name, "control.json")
        with open(self.map, "w") as f:
            json.dump({"start": 40000, "regs": regs}, f)
        self.control()
        self.proc = None

    def control(self, **c):
        with open(self.ctl + ".tmp", "w") as f:
            json.dump(c, f)
        os.replace(self.ctl + ".tmp", self.ctl)

    def start(self):
        self.proc = subprocess.Popen([PY, os.path.join(HERE, "sunspec_server.py"),
                                      str(self.port), self.map, self.ctl])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("sunspec_server.py did not listen")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def client(self):
        from pymodbus.client import ModbusTcpClient
        c = ModbusTcpClient("127.0.0.1", port=self.port)
        assert c.connect()
        return c

    def read(self, addr, n=1):
        c = self.client()
        try:
            r = c.read_holding_registers(addr, n, slave=1)
            assert not r.isError(), r
            return r.registers
        finally:
            c.close()

    def write(self, addr, values):
        c = self.client()
        try:
            assert not c.write_registers(addr, values, slave=1).isError()
        finally:
            c.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.tmp.cleanup()
        return False


def config(port, base=None):
    cfg = base_config()
    cfg["site"]["assets"] = [
        {"id": "bat1", "kind": "battery", "adapter": "modbus", "capacity_wh": 10000,
         "max_charge_w": 10000, "max_discharge_w": 10000,
         "modbus": {"bus": "tcp1", "unit_id": 1, "poll_interval_ms": POLL_MS,
                    "retries": 0, "revert_s": REVERT_S, "base_address": base}},
    ]
    cfg["modbus"] = {"enabled": True, "buses": [
        {"id": "tcp1", "tcp": f"127.0.0.1:{port}", "response_timeout_ms": 300}]}
    return cfg


def s16(v):
    return v - 0x10000 if v >= 0x8000 else v


def wait_log(gw, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in gw.stderr():
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line with {text!r}:\n{gw.stderr()}")
        time.sleep(0.05)


def online(a):
    return a["online"]


def test_read_scale_factors():
    with Device(MAP) as dev, Gateway(config(dev.port)) as gw:
        a = wait_asset(gw, "bat1", lambda a: a["online"] and a["battery"]["soc"] is not None,
                       "online with a SoC", timeout=5)
        b = a["battery"]
        assert abs(b["soc"] - 65.5) < 1e-9, b
        assert b["soh"] == 97, b
        assert b["capacity_wh"] == 20000, b  # 200 * 10^2 from the device
        assert b["max_charge_w"] == 5000, b  # device 5000 below config 10000
        assert b["max_discharge_w"] == 4000, b
        assert b["alarms"] == "OVER_TEMP_ALARM", b
        assert a["power_w"] == 1500, a  # 802 W = -1500 (DER: charging) -> +1500
        wait_asset(gw, "bat1", lambda a: a["envelope"] == {"min_w": -4000, "max_w": 5000},
                   "the device's limits in the envelope")
        wait_log(gw, "SunSpec map at 40000, models: 1 802 124")
        wait_log(gw, "flexgw-test pymodbus battery, serial PM-0001")


def test_setpoints_written_and_verified():
    with Device(MAP) as dev, Gateway(config(dev.port)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 2000},
                              auth="token")
        assert st == 200, (st, j)
        a = wait_asset(gw, "bat1", lambda a: a["setpoint"]["state"] == "verified",
                       "a verified set-point")
        # 2000 W of WChaMax 5000 W = 40.0 % (InOutWRte_SF -1); forced charge
        assert s16(dev.read(reg("InWRte"))[0]) == 400
        assert s16(dev.read(reg("OutWRte"))[0]) == -400
        assert dev.read(reg("InOutWRte_RvrtTms"))[0] == REVERT_S
        assert dev.read(reg("StorCtl_Mod"))[0] == 3
        st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": -1000},
                              auth="token")
        assert st == 200, (st, j)
        deadline = time.monotonic() + 3
        while s16(dev.read(reg("OutWRte"))[0]) != 200:
            assert time.monotonic() < deadline, dev.read(reg("OutWRte"))
            time.sleep(0.05)
        assert s16(dev.read(reg("InWRte"))[0]) == -200
        a = wait_asset(gw, "bat1", lambda a: a["setpoint"]["state"] == "verified",
                       "the discharge verified")
        assert a["setpoint"]["w"] == -1000
        # release: the control mode off
        st, _, _ = gw.request("DELETE", "/api/v1/assets/bat1/setpoint", auth="token")
        assert st in (200, 204), st
        deadline = time.monotonic() + 3
        while dev.read(reg("StorCtl_Mod"))[0] != 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_refused_and_mismatching_writes():
    with Device(MAP) as dev, Gateway(config(dev.port)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        dev.control(refuse_write=[reg("StorCtl_Mod")])
        gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 1000}, auth="token")
        a = wait_asset(gw, "bat1", lambda a: a["setpoint"]["state"] == "rejected",
                       "the set-point rejected")
        assert "exception" in a["setpoint"]["detail"].lower(), a["setpoint"]
        assert "StorCtl_Mod" in a["setpoint"]["detail"], a["setpoint"]
        wait_log(gw, "set-point rejected")
        assert a["online"], a  # a refusal is not a dead device
        dev.control(ignore_write=[reg("InWRte")])
        gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 1500}, auth="token")
        a = wait_asset(gw, "bat1", lambda a: a["setpoint"]["state"] == "mismatch",
                       "the set-point mismatching")
        assert "InWRte" in a["setpoint"]["detail"], a["setpoint"]
        wait_log(gw, "set-point mismatch")


def test_sentinel():
    with Device(MAP) as dev, Gateway(config(dev.port)) as gw:
        wait_asset(gw, "bat1", lambda a: a["battery"]["soc"] is not None, "a SoC", timeout=5)
        dev.write(addr_of(AT_802, 802, "SoC"), [0xFFFF])
        a = wait_asset(gw, "bat1", lambda a: a["battery"]["soc"] is None, "SoC unknown")
        assert a["online"] and a["battery"]["soh"] == 97, a
        wait_log(gw, "not implemented on the device (sentinel value): 802/SoC")


def test_offline_and_back():
    with Device(MAP) as dev, Gateway(config(dev.port)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        dev.stop()
        t0 = time.monotonic()
        a = wait_asset(gw, "bat1", lambda a: not a["online"], "offline",
                       timeout=2 * POLL_MS / 1000 + 0.5)
        took = time.monotonic() - t0
        assert a["envelope"] == {"min_w": 0, "max_w": 0}, a
        assert a["power_w"] is None, a
        print(f"     offline after {took:.2f} s (poll {POLL_MS} ms)")
        wait_log(gw, "bat1: offline")
        st, _, _ = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 100},
                              auth="token")
        assert st >= 400, st
        time.sleep(1.5)
        dev.start()
        wait_asset(gw, "bat1", online, "back online", timeout=12)


def test_broken_chain():
    broken = SUNS + M1 + M802 + [0, 7] + [0] * 7
    with Device(broken) as dev, Gateway(config(dev.port)) as gw:
        a = wait_asset(gw, "bat1", lambda a: a["online"], "online from the models before "
                       "the fault", timeout=5)
        assert abs(a["battery"]["soc"] - 65.5) < 1e-9, a
        wait_log(gw, "model chain at 40000 is broken after 2 models")
        st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 100},
                              auth="token")
        assert st >= 400, (st, j)  # no 124 or 704: nothing to control with
    with Device([0x1234, 0x5678] + M1 + END) as dev, Gateway(config(dev.port)) as gw:
        wait_log(gw, "no SunSpec marker")
        a = wait_asset(gw, "bat1", lambda a: True, "the asset")
        assert not a["online"], a


def test_config_errors():
    cfg = config(1502)
    cfg["site"]["assets"][0]["modbus"]["bus"] = "nope"
    cfg["modbus"]["buses"].append({"id": "rtu1", "tcp": "127.0.0.1:1503",
                                   "rtu": {"device": "/dev/null"}})
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg, f)
    try:
        r = subprocess.run([os.environ.get("FLEXGW", "build/gateway/flexgw"),
                            "--check-config", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "/site/assets/0/modbus/bus" in out, out
    assert "/modbus/buses/1" in out and "either tcp or rtu" in out, out


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    logging.disable(logging.CRITICAL)
    run([test_read_scale_factors, test_setpoints_written_and_verified,
         test_refused_and_mismatching_writes, test_sentinel, test_offline_and_back,
         test_broken_chain, test_config_errors])
