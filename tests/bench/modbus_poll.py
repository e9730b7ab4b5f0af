#!/usr/bin/python3
"""Modbus part of the flexgw benchmark (tests/bench/run.sh calls it).

Two modes:

  modbus_poll.py poll --target HOST:PORT:FIRST_UNIT:N_UNITS [...]
      The reference client: Debian's python3-pymodbus 3.0 asyncio client
      polling every device once per --interval s, reading the same register
      blocks flexgw reads per poll of a battery_sim battery (802 at 40070,
      64 registers; 124 at 40134, 26 registers). Like flexgw, one connection
      per target (bus) and one request at a time on it, the devices of a bus
      in turn. Prints "ready" once every device answered, a summary JSON line
      at the end; runs until stdin ends.

  modbus_poll.py bench --client flexgw|pymodbus ...
      The harness: starts BUSES battery_sim processes (--units UNITS each:
      BUSES x UNITS devices), then either flexgw with one bus per simulator and
      one SunSpec battery asset per unit id, or the pymodbus poller above;
      waits for all devices, warms up, then measures over --duration s: polls
      answered per device (the simulators count the reads they answer, per unit
      id), the client's CPU (utime + stime from /proc/PID/stat) and, for
      flexgw, the latency from just before PUT /api/v1/assets/{id}/setpoint
      to the simulator's write events (its stdout read as it arrives). Prints
      one JSON line.
"""
import argparse
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

# The blocks flexgw reads at each poll of a battery_sim battery (models 802
# and 124, header included); model 1 is read once after discovery only.
BLOCKS = [(40070, 64), (40134, 26)]
# 124 StorCtl_Mod: written last, it turns the set-point on.
STORCTL_MOD = 40134 + 2 + 3
TICK = os.sysconf("SC_CLK_TCK")


# ---- the pymodbus poller ---------------------------------------------------------


def run_poller(args):
    import asyncio

    from pymodbus.client import AsyncModbusTcpClient

    targets = []
    for t in args.target:
        host, port, first, n = t.rsplit(":", 3)
        targets.append((host, int(port), int(first), int(n)))
    stats = {"polls": 0, "errors": 0, "late": 0, "first_error": None}

    async def bus(host, port, first, n, ready):
        c = AsyncModbusTcpClient(host, port=port, timeout=2, retries=0)
        await c.connect()
        next_t = time.monotonic()
        first_round = True
        while True:
            for u in range(first, first + n):
                ok = True
                for addr, count in BLOCKS:
                    try:
                        r = await c.read_holding_registers(addr, count, slave=u)
                        if r.isError() or len(r.registers) != count:
                            raise IOError(str(r))
                    except Exception as e:  # noqa: BLE001 (count and go on)
                        ok = False
                        stats["errors"] += 1
                        stats["first_error"] = stats["first_error"] or repr(e)
                        break
                if ok:
                    stats["polls"] += 1
            if first_round:
                first_round = False
                ready.set_result(True)
            next_t += args.interval
            delay = next_t - time.monotonic()
            if delay < 0:
                stats["late"] += 1
                next_t = time.monotonic()
            else:
                await asyncio.sleep(delay)

    async def main():
        loop = asyncio.get_running_loop()
        readies = [loop.create_future() for _ in targets]
        tasks = [asyncio.create_task(bus(*t, r)) for t, r in zip(targets, readies)]
        await asyncio.gather(*readies)
        print("ready", flush=True)
        eof = loop.create_future()
        loop.add_reader(0, lambda: eof.done() or (os.read(0, 4096) or eof.set_result(1)))
        await eof
        for t in tasks:
            t.cancel()
        print(json.dumps(stats), flush=True)

    asyncio.run(main())


# ---- the harness -------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])


class Sim:
    """One battery_sim: a thread reads its events as they arrive, stamped."""

    def __init__(self, binary, units, log):
        self.port = free_port()
        self.units = units
        self.p = subprocess.Popen(
            [binary, "--port", str(self.port), "--units", str(units), "--quit-on-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
        self.writes = queue.Queue()
        self.states = queue.Queue()
        self.listening = threading.Event()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.p.stdout:
            t = time.monotonic()
            try:
                e = json.loads(line)
            except ValueError:
                continue
            ev = e.get("ev")
            if ev == "write":
                self.writes.put((t, e["unit"], e["address"]))
            elif ev == "state":
                self.states.put(e)
            elif ev == "listening":
                self.listening.set()

    def reads(self):
        self.p.stdin.write('{"cmd":"state"}\n')
        self.p.stdin.flush()
        return self.states.get(timeout=10)["reads"]

    def stop(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def http(method, url, body=None, token=None):
    req = urllib.request.Request(url, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read() or b"null")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else None


def run_bench(args):
    os.makedirs(args.work, exist_ok=True)
    log = open(os.path.join(args.work, f"sims-{args.client}.log"), "w")
    sims = []
    client = None
    out = {"label": args.client, "devices": args.buses * args.units, "buses": args.buses,
           "units_per_bus": args.units, "interval_s": args.interval, "duration_s": args.duration}
    try:
        for _ in range(args.buses):
            sims.append(Sim(args.sim, args.units, log))
        for s in sims:
            if not s.listening.wait(10):
                raise SystemExit(f"battery_sim on port {s.port} did not start (see {log.name})")
        t_start = time.monotonic()
        if args.client == "flexgw":
            token = "bench-token"
            web = free_port()
            base = f"http://127.0.0.1:{web}"
            assets = []
            for b, s in enumerate(sims):
                for u in range(1, s.units + 1):
                    assets.append({
                        "id": f"b{b}u{u}", "kind": "battery", "adapter": "modbus",
                        "capacity_wh": 10000, "max_charge_w": 5000, "max_discharge_w": 5000,
                        "modbus": {"bus": f"bus{b}", "unit_id": u,
                                   "poll_interval_ms": int(args.interval * 1000),
                                   "profile": "sunspec", "base_address": 40000,
                                   "revert_s": 60}})
            conf = {
                "site": {"id": "bench", "import_limit_w": 100000000,
                         "export_limit_w": 100000000,
                         "tariff": [{"from": "00:00", "import_price": 0.25,
                                     "export_price": 0.05}],
                         "assets": assets},
                "modbus": {"enabled": True,
                           "buses": [{"id": f"bus{b}", "tcp": f"127.0.0.1:{s.port}",
                                      "response_timeout_ms": 1000}
                                     for b, s in enumerate(sims)]},
                "scheduler": {"plugin": "none"},
                "web": {"listen": f"127.0.0.1:{web}", "token": token},
                "storage": {"path": os.path.join(args.work, "data")},
                "log": {"level": "warn"},
            }
            os.makedirs(os.path.join(args.work, "data"), exist_ok=True)
            cpath = os.path.join(args.work, "flexgw-modbus.json")
            with open(cpath, "w") as f:
                json.dump(conf, f, indent=1)
            glog = open(os.path.join(args.work, "flexgw-modbus.log"), "w")
            client = subprocess.Popen([args.gw, "--config", cpath], stdin=subprocess.DEVNULL,
                                      stdout=glog, stderr=subprocess.STDOUT)
            # every asset online (discovery done), 120 s at most
            online = 0
            while time.monotonic() - t_start < 120:
                if client.poll() is not None:
                    raise SystemExit(f"flexgw exited ({client.returncode}); see {glog.name}")
                try:
                    _, a = http("GET", base + "/api/v1/assets")
                    a = a["assets"] if isinstance(a, dict) else a
                    online = sum(1 for x in a if x.get("online"))
                    if online == len(assets):
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            out["online_s"] = round(time.monotonic() - t_start, 2)
            out["online"] = online
        else:
            client = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "poll", "--interval",
                 str(args.interval)] +
                sum((["--target", f"127.0.0.1:{s.port}:1:{s.units}"] for s in sims), []),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            line = client.stdout.readline()
            if line.strip() != "ready":
                raise SystemExit("pymodbus poller did not get ready: " + line)
            out["online_s"] = round(time.monotonic() - t_start, 2)
            out["online"] = out["devices"]
        time.sleep(args.warm)
        for s in sims:  # forget writes before the window
            while not s.writes.empty():
                s.writes.get()
        r0 = [s.reads() for s in sims]
        c0, t0 = ticks(client.pid), time.monotonic()
        lat_first, lat_on, put_ms, sp_err = [], [], [], []
        n_sp = args.setpoints if args.client == "flexgw" else 0
        writes = [[0] * s.units for s in sims]
        for i in range(n_sp):
            at = t0 + (i + 0.5) * args.duration / n_sp
            time.sleep(max(0, at - time.monotonic()))
            b, u = i % len(sims), 1 + (i // len(sims)) % sims[0].units
            w = 2000 if i % 2 else -2000
            ts = time.monotonic()
            try:
                st, _ = http("PUT", f"{base}/api/v1/assets/b{b}u{u}/setpoint",
                             {"w": w, "duration_s": 900}, token)
            except OSError as e:
                sp_err.append(f"b{b}u{u}: {e}")
                continue
            put_ms.append((time.monotonic() - ts) * 1000)
            first = None
            deadline = ts + 5
            while True:
                try:
                    t, unit, addr = sims[b].writes.get(timeout=max(0, deadline - time.monotonic()))
                except queue.Empty:
                    sp_err.append(f"b{b}u{u}: no write within 5 s")
                    break
                writes[b][unit - 1] += 1
                if unit != u:
                    continue
                first = first or t
                if addr == STORCTL_MOD:
                    lat_first.append((first - ts) * 1000)
                    lat_on.append((t - ts) * 1000)
                    break
        time.sleep(max(0, t0 + args.duration - time.monotonic()))
        c1, t1 = ticks(client.pid), time.monotonic()
        r1 = [s.reads() for s in sims]
        for b, s in enumerate(sims):  # writes after the last set-point's
            while not s.writes.empty():
                writes[b][s.writes.get()[1] - 1] += 1
        # each poll reads len(BLOCKS) blocks; each written register is read back once
        per_dev = [(r1[b][k] - r0[b][k] - writes[b][k]) / len(BLOCKS) / (t1 - t0)
                   for b in range(len(sims)) for k in range(sims[b].units)]
        cpu_s = (c1 - c0) / TICK
        polls = sum(per_dev) * (t1 - t0)
        out.update({
            "window_s": round(t1 - t0, 2),
            "polls_per_s": round(sum(per_dev), 1),
            "min_device_hz": round(min(per_dev), 3),
            "max_device_hz": round(max(per_dev), 3),
            "cpu_pct": round(100 * cpu_s / (t1 - t0), 2),
            "cpu_us_per_poll": round(1e6 * cpu_s / polls, 1) if polls else None,
        })
        if n_sp:
            out["setpoint"] = {
                "n": n_sp, "measured": len(lat_on),
                "first_write_p50_ms": round(statistics.median(lat_first), 2) if lat_first else None,
                "first_write_p99_ms": round(pct(lat_first, 99), 2) if lat_first else None,
                "p50_ms": round(statistics.median(lat_on), 2) if lat_on else None,
                "p99_ms": round(pct(lat_on, 99), 2) if lat_on else None,
                "max_ms": round(max(lat_on), 2) if lat_on else None,
                "put_p50_ms": round(statistics.median(put_ms), 2) if put_ms else None,
                "errors": sp_err[:5], "n_errors": len(sp_err)}
        if client.poll() is not None:
            out["died"] = True
        if args.client == "pymodbus":
            client.stdin.close()
            try:
                out["poller"] = json.loads(client.stdout.readline() or "null")
            except ValueError:
                out["poller"] = None
            client.wait(10)
        else:
            client.terminate()
            out["exit"] = client.wait(15)
        client = None
        print(json.dumps(out), flush=True)
    finally:
        if client and client.poll() is None:
            client.kill()
            client.wait()
        for s in sims:
            s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("poll")
    p.add_argument("--target", action="append", required=True)
    p.add_argument("--interval", type=float, default=1.0)
    b = sub.add_parser("bench")
    b.add_argument("--client", choices=["flexgw", "pymodbus"], required=True)
    b.add_argument("--sim", required=True)
    b.add_argument("--gw")
    b.add_argument("--work", required=True)
    b.add_argument("--buses", type=int, default=10)
    b.add_argument("--units", type=int, default=20)
    b.add_argument("--interval", type=float, default=1.0)
    b.add_argument("--warm", type=float, default=5)
    b.add_argument("--duration", type=float, default=20)
    b.add_argument("--setpoints", type=int, default=50)
    a = ap.parse_args()
    if a.mode == "poll":
        run_poller(a)
    else:
        run_bench(a)


if __name__ == "__main__":
    main()
