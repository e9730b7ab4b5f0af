"""A SunSpec device played by Debian's python3-pymodbus (an independent
Modbus/TCP implementation), for test_modbus.py.

usage: sunspec_server.py PORT MAP.json CONTROL.json

MAP.json: {"start": 40000, "regs": [...]} holding registers from `start`
(Modbus addresses, zero-based); anything outside answers "illegal data
address". CONTROL.json is re-read on every request:
  {"refuse_write": [addr, ...]}  writes touching addr answer an exception
  {"ignore_write": [addr, ...]}  writes to addr succeed but change nothing
The registers can be read and changed from outside with any Modbus client."""

import asyncio
import logging
import json
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusTcpServer


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
    def __init__(self, block, ctl):
        super().__init__(hr=block, zero_mode=True)
        self.ctl = ctl
        self.block = block

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


async def main():
    logging.disable(logging.CRITICAL)
    port, map_path, ctl = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(map_path) as f:
        m = json.load(f)
    block = Block(m["start"], m["regs"], ctl)
    context = ModbusServerContext(slaves=Slave(block, ctl), single=True)
    server = ModbusTcpServer(context, address=("127.0.0.1", port),
                             allow_reuse_address=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
