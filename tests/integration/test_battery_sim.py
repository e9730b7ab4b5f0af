"""The battery simulator (tests/sim/battery_sim) read and driven by an
independent Modbus client, Debian's python3-pymodbus, with point offsets
taken from the official SunSpec JSON models (not from flexgw's tables):
discovery of "SunS" and the model chain, a charge and a discharge set-point
moving the SoC, the revert timeout, refused writes, each misbehaviour as the
client sees it, and the register-map variant at the map's addresses.

Environment (set by ctest): BATTERY_SIM (the simulator), FG_SOURCE_DIR."""

import json
import os
import sys
import time

from batterysim import BatterySim

try:
    from pymodbus.client import ModbusTcpClient
except ImportError:
    print("SKIP: python3-pymodbus is not installed (packaging/install-deps.sh)")
    sys.exit(0)

SRC = os.environ.get("FG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = os.path.join(SRC, "protocols", "sunspec", "models")


def offsets(model_id):
    """{point: (offset from the model's ID register, size)} of the top-level
    group, from the official JSON model."""
    with open(os.path.join(MODELS, f"model_{model_id}.json")) as f:
        group = json.load(f)["group"]
    out, off = {}, 0
    for p in group["points"]:
        out[p["name"]] = (off, p["size"])
        off += p["size"]
    return out


class Sim(BatterySim):
    """The simulator on its own clock, with a pymodbus client connected."""

    def __init__(self, *args):
        super().__init__(*args, revert_real=False)

    def start(self):
        super().start()
        self.client = ModbusTcpClient("127.0.0.1", port=self.port, timeout=1, retries=0)
        assert self.client.connect()
        return self

    def stop(self):
        self.client.close()
        super().stop()

    def read(self, addr, n):
        r = self.client.read_holding_registers(addr, n, slave=1)
        assert not r.isError(), f"read {addr}+{n}: {r}"
        return r.registers

def s16(r):
    return r - 65536 if r >= 32768 else r


def walk(sim, base):
    assert sim.read(base, 2) == [0x5375, 0x6E53], "no SunS marker"
    models, addr = {}, base + 2
    while True:
        mid, length = sim.read(addr, 2)
        if mid == 0xFFFF:
            return models
        models[mid] = addr
        addr += 2 + length


class SunSpec:
    """Read and write points of the chain by name, scale factors applied."""

    def __init__(self, sim, base=40000):
        self.sim, self.models = sim, walk(sim, base)
        self.off = {m: offsets(m) for m in self.models}

    def addr(self, model, point):
        return self.models[model] + self.off[model][point][0]

    def raw(self, model, point):
        return self.sim.read(self.addr(model, point), 1)[0]

    def value(self, model, point, sf_point, signed=False):
        raw, sf = self.raw(model, point), s16(self.raw(model, sf_point))
        return (s16(raw) if signed else raw) * 10 ** sf

    def write(self, model, point, raw):
        return self.sim.client.write_register(self.addr(model, point), raw & 0xFFFF, slave=1)


def soc(ss):
    return ss.value(802, "SoC", "SoC_SF")


def power(ss):
    """Battery power in the model's sign (+ charging); 802 W is + discharging."""
    return -ss.value(802, "W", "W_SF", signed=True)


def test_sunspec_chain_and_setpoints():
    with Sim("--speed", "100", "--soc", "50", "--capacity-wh", "10000") as sim:
        ss = SunSpec(sim)
        assert list(ss.models) == [1, 802, 124], ss.models
        common = sim.read(ss.addr(1, "Mn"), 8)
        assert bytes(b for r in common for b in (r >> 8, r & 255)).rstrip(b"\0") == b"flexgw"
        assert abs(soc(ss) - 50) < 0.5
        assert ss.value(802, "WHRtg", "WHRtg_SF") == 10000
        assert ss.value(124, "WChaMax", "WChaMax_SF") == 5000
        # charge at 50 % of WChaMax
        assert not ss.write(124, "InWRte", 5000).isError()  # InOutWRte_SF = -2
        assert not ss.write(124, "StorCtl_Mod", 1).isError()
        sim.wait("setpoint", w=2500)
        s0 = soc(ss)
        time.sleep(2)
        assert power(ss) == 2500, power(ss)
        s1 = soc(ss)
        assert s1 > s0 + 0.5, (s0, s1)
        # discharge at 40 % of the discharge rating
        assert not ss.write(124, "OutWRte", 4000).isError()
        assert not ss.write(124, "StorCtl_Mod", 2).isError()
        sim.wait("setpoint", w=-2000)
        time.sleep(2)
        assert power(ss) == -2000, power(ss)
        assert soc(ss) < s1 - 0.5
        # refused writes
        r = ss.write(124, "InWRte", 20000)  # 200 %
        assert r.isError() and r.exception_code == 3, r
        r = ss.write(802, "SoC", 100)  # read-only
        assert r.isError() and r.exception_code == 2, r
        r = ss.write(124, "WChaMax", 9000)  # above the rating
        assert r.isError() and r.exception_code == 3, r


def test_revert_timeout():
    with Sim("--speed", "100") as sim:
        ss = SunSpec(sim)
        assert not ss.write(124, "InOutWRte_RvrtTms", 60).isError()
        assert not ss.write(124, "InWRte", 10000).isError()
        assert not ss.write(124, "StorCtl_Mod", 1).isError()
        sim.wait("setpoint", w=5000)
        time.sleep(0.2)
        assert power(ss) == 5000
        ev = sim.wait("reverted", timeout=5)  # 60 s simulated = 0.6 s
        assert ev["from_w"] == 5000
        time.sleep(0.2)
        assert power(ss) == 0
        assert ss.raw(124, "StorCtl_Mod") == 0


def test_misbehaviour():
    with Sim("--base", "50000") as sim:
        ss = SunSpec(sim, 50000)
        sim.send(cmd="exception", code=4, on=True)
        r = sim.client.read_holding_registers(50000, 2, slave=1)
        assert r.isError() and r.exception_code == 4, r
        sim.send(cmd="exception", on=False)
        sim.send(cmd="garbage", on=True)
        assert ss.raw(802, "SoC") == 0xFFFF  # "not implemented"
        assert ss.raw(802, "W") == 0x8000
        assert ss.value(802, "SoH", "SoH_SF") > 100
        sim.send(cmd="garbage", on=False)
        assert 0 <= soc(ss) <= 100
        sim.send(cmd="break_chain")
        mid, length = sim.read(ss.models[802], 2)
        assert mid == 802 and ss.models[802] + 2 + length > 65535
        sim.send(cmd="break_chain", on=False)
        assert list(walk(sim, 50000)) == [1, 802, 124]
        sim.send(cmd="set", point="soc", value=80)
        assert abs(soc(ss) - 80) < 0.2
        sim.send(cmd="timeout", on=True)
        r = sim.client.read_holding_registers(50000, 2, slave=1)
        assert r.isError(), r
        sim.send(cmd="timeout", on=False)
        sim.client.close()
        assert sim.client.connect()
        assert sim.read(50000, 2) == [0x5375, 0x6E53]
        sim.proc.stdin.write('{"cmd":"nonsense"}\n')
        sim.proc.stdin.flush()
        sim.wait("error", cmd="nonsense")
        sim.send(cmd="state")  # the state event comes before its "ok"
        st = [e for e in sim.log if e["ev"] == "state"][-1]
        assert st["soc"] == 80


def test_register_map():
    m = os.path.join(SRC, "conf", "devices", "generic_battery.json")
    with Sim("--map", m, "--speed", "100", "--soc", "40") as sim:
        # discovery addresses of SunSpec do not exist here
        r = sim.client.read_holding_registers(40000, 2, slave=1)
        assert r.isError() and r.exception_code == 2
        regs = sim.read(0, 16)
        assert regs[0] == 400  # soc_pct, 0.1 %
        assert regs[4] << 16 | regs[5] == 10000  # capacity_wh, u32 big-endian
        # setpoint_w i32 at 100: -1500 W (discharge)
        v = -1500 & 0xFFFFFFFF
        assert not sim.client.write_registers(100, [v >> 16, v & 0xFFFF], slave=1).isError()
        sim.wait("setpoint", w=-1500)
        time.sleep(1)
        regs = sim.read(0, 4)
        p = regs[2] << 16 | regs[3]
        assert p - (1 << 32) == -1500, p
        assert regs[0] < 400
        # beyond the battery's rating and the map's max: ILLEGAL_DATA_VALUE
        v = 200000
        r = sim.client.write_registers(100, [v >> 16, v & 0xFFFF], slave=1)
        assert r.isError() and r.exception_code == 3, r
        # a read-only point: ILLEGAL_DATA_ADDRESS
        r = sim.client.write_register(0, 1, slave=1)
        assert r.isError() and r.exception_code == 2, r
        sim.send(cmd="garbage", on=True)
        assert sim.read(0, 1) == [0xFFFF]  # its "na"


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            print(name, flush=True)
            fn()
    print("ok")
