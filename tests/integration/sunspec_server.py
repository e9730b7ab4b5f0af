"""A SunSpec device played by Debian's python3-pymodbus (an independent
Modbus implementation), for test_modbus.py (TCP) and test_modbus_rtu.py
(RTU on a serial line).

usage: sunspec_server.py PORT MAP.json CONTROL.json
       sunspec_server.py --rtu DEVICE [--baud N] [--parity N|E|O]
                         [--stopbits 1|2] MAP.json CONTROL.json

MAP.json: {"start": 40000, "regs": [...]} holding registers from `start`
(Modbus addresses, zero-based); anything outside answers "illegal data
address". Several devices behind one server (unit ids, e.g. on one serial
bus): {"units": {"1": {"start": ..., "regs": [...]}, "2": {...}}}; a unit
id not listed never answers (a dead device on the bus). Without "units"
the map answers every unit id (TCP) or unit 1 (RTU).
CONTROL.json is re-read on every request:
  {"refuse_write": [addr, ...]}  writes touching addr answer an exception
  {"ignore_write": [addr, ...]}  writes to addr succeed but change nothing
The registers can be read and changed from outside with any Modbus client
(TCP). On a serial line the test is the only other party, so --dump FILE
writes every unit's registers there as JSON ({"1": [...], ...}, from each
map's start) after each write: what a master wrote, seen from the device.
Ready (RTU): "ready" on stdout once the serial device is open."""

import argparse
import asyncio
import logging
import json
import os

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer


def control(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class Block(ModbusSequentialDataBlock):
    def __init__(self, start, regs, ctl):
        super().__init__(start, regs)
        self.ctl = ctl
        self.writing = False

    def setValues(self, address, values):
        if not isinstance(values, list):
            values = [values]
        ignore = set(control(self.ctl).get("ignore_write", []))
        cur = self.getValues(address, len(values))
        values = [cur[i] if address + i in ignore and self.writing else v
                  for i, v in enumerate(values)]
        super().setValues(address, values)


class Slave(ModbusSlaveContext):
    def __init__(self, block, ctl, on_write=None):
        super().__init__(hr=block, zero_mode=True)
        self.ctl = ctl
        self.block = block
        self.on_write = on_write

    def validate(self, fc_as_hex, address, count=1):
        if fc_as_hex in (6, 16):
            refuse = set(control(self.ctl).get("refuse_write", []))
            if any(a in refuse for a in range(address, address + count)):
                return False
        return super().validate(fc_as_hex, address, count)

    def setValues(self, fc_as_hex, address, values):
        self.block.writing = fc_as_hex in (6, 16)
        try:
            super().setValues(fc_as_hex, address, values)
        finally:
            self.block.writing = False
        if self.on_write and fc_as_hex in (6, 16):
            self.on_write()


def dumper(path, slaves):
    def dump():
        out = {u: s.block.getValues(s.block.address, len(s.block.values))
               for u, s in slaves.items()}
        with open(path + ".tmp", "w") as f:
            json.dump(out, f)
        os.replace(path + ".tmp", path)
    return dump if path else None


def contexts(m, ctl, rtu, dump):
    if "units" in m:
        slaves = {}
        on_write = dumper(dump, slaves)
        for u, d in m["units"].items():
            slaves[int(u)] = Slave(Block(d["start"], d["regs"], ctl), ctl, on_write)
        return ModbusServerContext(slaves=slaves, single=False)
    slaves = {}
    slave = slaves[1] = Slave(Block(m["start"], m["regs"], ctl), ctl,
                              dumper(dump, slaves))
    if rtu:
        return ModbusServerContext(slaves={1: slave}, single=False)
    return ModbusServerContext(slaves=slave, single=True)


async def main():
    logging.disable(logging.CRITICAL)
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtu", metavar="DEVICE")
    ap.add_argument("--baud", type=int, default=9600)
    ap.add_argument("--parity", choices="NEO", default="E")
    ap.add_argument("--stopbits", type=int, choices=(1, 2), default=1)
    ap.add_argument("--dump", metavar="FILE")
    ap.add_argument("args", nargs="+")
    o = ap.parse_args()
    if o.rtu:
        map_path, ctl = o.args
    else:
        port, map_path, ctl = int(o.args[0]), o.args[1], o.args[2]
    with open(map_path) as f:
        m = json.load(f)
    context = contexts(m, ctl, o.rtu, o.dump)
    if o.rtu:
        # ignore_missing_slaves: a request to a unit id nobody serves gets
        # no answer at all, as on a real bus (not a gateway exception).
        server = ModbusSerialServer(context, framer=ModbusRtuFramer, port=o.rtu,
                                    baudrate=o.baud, parity=o.parity,
                                    stopbits=o.stopbits, bytesize=8,
                                    ignore_missing_slaves=True)
        await server.start()
        if server.transport is None:
            raise SystemExit(f"sunspec_server.py: cannot open {o.rtu}")
        print("ready", flush=True)
    else:
        server = ModbusTcpServer(context, address=("127.0.0.1", port),
                                 allow_reuse_address=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
