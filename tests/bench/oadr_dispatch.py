"""OpenADR dispatch benchmark (issue 8, acceptance point 5): the time from
an oadrDistributeEvent leaving the VTN to the reduced set-points reaching
1,000 OCPP stations, through the real gateway.

  oadr_dispatch.py bench --gw BUILD/gateway/flexgw --load BUILD/tests/bench/ocpp_load
                         --work DIR [--stations 1000] [--levels 0.35,0.3,0.25,0.2,0.15]
                         [--settle 12] [--event-timeout 30] [--log-level info]
      runs it and prints one JSON line (the result);
  oadr_dispatch.py report RESULT.json
      prints the Markdown section of tests/bench/run.sh's report.

What runs (all on loopback, one machine, wall clock = CLOCK_REALTIME):
- the test VTN (tests/sim/openadr_vtn.py) in this process, HTTPS with mutual
  TLS, certificates from tests/sim/openadr_certs.py (the production path);
  it names a poll frequency of 1 s; its xmllint validation of every payload
  is off (Vtn(validate=False)): it runs a process per payload, which would
  sit between the VTN's record of the answer and its sending, and compete
  for the 2 cores during the measured window (the integration tests
  validate what the VEN sends);
- flexgw: VEN polling that VTN, OCPP CSMS with N configured EVSE assets
  (station BENCH00000.., EVSE 1, 11 kW, 3 x 230 V), scheduler.plugin
  "realtime", planner "none", site.import_limit_w = N x 11 kW (every EV
  gets its 11 kW until an event lowers the limit), default ocpp.* settings;
- ocpp_load --ev: N stations, each with an EV charging (TransactionEvent
  Started, MeterValues every 10 s), answering the CSMS, logging every
  SetChargingProfile with its receive time.

Per event: the VTN gets an event (LOAD_CONTROL x-loadControlCapacity, one
interval, the next level; later ones are modifications of the same event).
t0 = the VTN's record time of the oadrDistributeEvent it answers the next
poll with (taken right before the answer is written to the socket); t1 =
when a station read the first SetChargingProfile after t0 whose limit is
below the one it had. After each event a modification back to level 1.0
lifts the limit again (the run waits until every EV has its 11 kW limit
back), then --settle s pass before the next event (longer than
ocpp.profile_min_interval_s, 10 s). scheduler.options min_dwell_s is 5 s
(default 300 s), so that the EVs the event paused charge again after the
lift.

Why levels below 0.376 (the defaults 0.35 .. 0.15): the real-time
scheduler gives every EV its minimum (6 A x 3 x 230 V = 4,140 W) first, in
rank order, and what is left in rank order, so a shallow limit reduces
only some EVs and leaves the others at 11 kW. Below N x 4,140 W no EV keeps
more than its minimum: every station gets a lower limit (6 A, or 0 A for
the EVs that do not fit), which is what "set-points sent to 1,000
stations" measures."""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sim"))

import openadr_certs  # noqa: E402
import openadr_vtn  # noqa: E402

EV_W = 11000
MIN_DWELL_S = 5
EVENT_ID = "bench"
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_time(line):
    """The gateway log line's time stamp, epoch seconds, or None."""
    m = LOG_TIME.match(line)
    if not m:
        return None
    import calendar
    date, frac = m.group(1).split(".")
    return calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000


def gateway_config(a, vtn, certs, ocpp_port, data):
    assets = [{"id": f"ev{i:05d}", "kind": "evse", "adapter": "ocpp",
               "station": f"BENCH{i:05d}", "evse_id": 1, "rated_w": EV_W}
              for i in range(a.stations)]
    limit = a.stations * EV_W
    return {
        "site": {"id": "bench", "name": "OpenADR dispatch benchmark",
                 "import_limit_w": limit, "export_limit_w": limit,
                 "tariff": [{"from": "00:00", "import_price": 0.25, "export_price": 0.05}],
                 "assets": assets},
        "ocpp": {"enabled": True, "listen": f"127.0.0.1:{ocpp_port}"},
        # min_dwell_s (default 300 s) keeps a paused EV paused that long after
        # the limit is lifted; the repetitions need every EV charging again.
        "scheduler": {"plugin": "realtime", "planner": "none",
                      "options": {"min_dwell_s": MIN_DWELL_S}},
        "openadr": {"enabled": True, "vtn_url": vtn.url(), "ven_name": "flexgw-bench",
                    "client_cert": certs["ven"][0], "client_key": certs["ven"][1],
                    "ca_file": certs["ca"][0], "timeout_s": 5, "poll_s": 1},
        "storage": {"path": data},
        "log": {"level": a.log_level},
    }


class ProfileLog:
    """ocpp_load's --profile-log, read as it grows: per station, every
    (t_ns, limit) received."""

    def __init__(self, path, n):
        self.path, self.pos, self.buf = path, 0, b""
        self.got = [[] for _ in range(n)]
        self.last_ns = 0
        self.lines = 0

    def read(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        self.pos += len(data)
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for ln in lines:
            p = ln.split()
            if len(p) < 3:
                continue
            i, t = int(p[0]), int(p[1])
            lim = None if p[2] == b"clear" else float(p[2])
            self.got[i].append((t, lim))
            self.last_ns = max(self.last_ns, t)
            self.lines += 1

    def limit_before(self, i, t0_ns):
        lim = None
        for t, v in self.got[i]:
            if t < t0_ns:
                lim = v
        return lim



def sleep_reading(plog, secs):
    end = time.time() + secs
    while time.time() < end:
        plog.read()
        time.sleep(0.1)


def distribute(vtn, level, first):
    """Put the event at `level`; (the event, t0 of its distribution)."""
    seq0 = max((r["seq"] for r in vtn.payloads()), default=0)
    sig = [{"name": "LOAD_CONTROL", "type": "x-loadControlCapacity",
            "intervals": [{"duration": 3600, "value": level}]}]
    if first:
        ev = vtn.add_event(EVENT_ID, sig, start_in=0, duration=3600)
    else:
        ev = vtn.modify_event(EVENT_ID, signals=sig)
    recs = vtn.wait_for(lambda: [r for r in vtn.records if r["seq"] > seq0 and
                                 r["dir"] == "out" and r["name"] == "oadrDistributeEvent"],
                        10)
    if not recs:
        raise RuntimeError("the VTN did not distribute the event within 10 s")
    return ev, recs[0]["time"]


def wait_changes(plog, n, t0_ns, timeout, want):
    """Per station, the first (t_ns, limit) at or after t0_ns for which
    want(limit before t0, limit) holds; until all n have one or timeout s."""
    before = [plog.limit_before(i, t0_ns) for i in range(n)]
    got = {}
    end = time.time() + timeout
    while time.time() < end:
        plog.read()
        for i in range(n):
            if i not in got:
                for t, v in plog.got[i]:
                    if t >= t0_ns and v is not None and want(before[i], v):
                        got[i] = (t, v)
                        break
        if len(got) >= n:
            break
        time.sleep(0.05)
    return before, got


def pct(v, p):
    v = sorted(v)
    if not v:
        return None
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def stop(proc, timeout=20):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "killed"
    return proc.returncode


def ven_lines(log_path, mark):
    """VEN 'event bench (modification M)' lines after byte `mark`: {M: time}."""
    out = {}
    with open(log_path, "rb") as f:
        f.seek(mark)
        for ln in f.read().decode("utf-8", "replace").splitlines():
            m = re.search(r"openadr: event %s \(modification (\d+)\)" % EVENT_ID, ln)
            if m:
                out.setdefault(int(m.group(1)), log_time(ln))
    return out


def bench(a):
    os.makedirs(a.work, exist_ok=True)
    certs = openadr_certs.generate(os.path.join(a.work, "certs"))
    vtn = openadr_vtn.Vtn(tls=openadr_vtn.tls_config(certs), poll_freq=1,
                          validate=False).start()
    ocpp_port, web_port = free_port(), free_port()
    cfg_path = os.path.join(a.work, "flexgw.json")
    with open(cfg_path, "w") as f:
        json.dump(gateway_config(a, vtn, certs, ocpp_port, os.path.join(a.work, "data")),
                  f, indent=1)
    gw_log = os.path.join(a.work, "flexgw.log")
    plog_path = os.path.join(a.work, "profiles.log")
    res = {"stations": a.stations, "levels": a.levels, "settle_s": a.settle,
           "import_limit_w": a.stations * EV_W, "log_level": a.log_level, "events": []}
    gw = load = None
    try:
        with open(gw_log, "wb") as out:
            gw = subprocess.Popen([a.gw, "--config", cfg_path, "--listen",
                                   f"127.0.0.1:{web_port}"], stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT)
        regs = vtn.wait_for(lambda: dict(vtn.registrations), 30)
        if not regs:
            raise RuntimeError("the VEN did not register at the VTN within 30 s")
        sys.stderr.write(f"oadr_dispatch: VEN registered ({next(iter(regs))})\n")
        t_conn = time.time()
        with open(os.path.join(a.work, "ocpp_load.out"), "wb") as out:
            load = subprocess.Popen(
                [a.load, "--port", str(ocpp_port), "--stations", str(a.stations),
                 "--connect-rate", "2000", "--max-pending", "200", "--connect-timeout", "120",
                 "--hold", "3600", "--ev", "--profile-log", plog_path, "--meter-s", "10",
                 "--ev-w", str(EV_W), "--server-pid", str(gw.pid), "--label", "oadr-dispatch"],
                stdin=subprocess.DEVNULL, stdout=out)
        plog = ProfileLog(plog_path, a.stations)
        # Every EV charging with its first profile (11 kW), then quiet.
        deadline = time.time() + 180
        while time.time() < deadline:
            plog.read()
            if sum(1 for g in plog.got if g) >= a.stations:
                break
            if gw.poll() is not None or load.poll() is not None:
                raise RuntimeError("the gateway or ocpp_load exited during the set-up")
            time.sleep(0.2)
        res["initial_profiles"] = sum(1 for g in plog.got if g)
        full_a = max((g[-1][1] for g in plog.got if g and g[-1][1] is not None), default=0)
        res["setup_s"] = round(time.time() - t_conn, 1)
        sys.stderr.write(f"oadr_dispatch: {res['initial_profiles']} of {a.stations} stations "
                         f"have a profile after {res['setup_s']} s\n")
        for k, level in enumerate(a.levels):
            sleep_reading(plog, a.settle)
            mark = os.path.getsize(gw_log)
            ev, t0 = distribute(vtn, level, k == 0)
            t0_ns = int(t0 * 1e9)
            before, got = wait_changes(plog, a.stations, t0_ns, a.event_timeout,
                                       lambda b, v: b is None or v < b - 0.05)
            lat = sorted((t - t0_ns) / 1e6 for t, _ in got.values())
            limits = sorted({v for _, v in got.values()})
            ven = ven_lines(gw_log, mark).get(ev["modificationNumber"])
            # lift it again: every EV back to its 11 kW (15.9 A)
            _, r0 = distribute(vtn, 1.0, False)
            _, back = wait_changes(plog, a.stations, int(r0 * 1e9), a.event_timeout,
                                   lambda b, v: v >= full_a - 0.05)
            e = {"level": level, "modification": ev["modificationNumber"],
                 "limit_w": round(level * a.stations * EV_W), "t0": round(t0, 6),
                 "reached": len(got), "limits_a": limits[:5],
                 "before_a": sorted({b for b in before if b is not None})[:5],
                 "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95),
                 "min_ms": lat[0] if lat else None, "max_ms": lat[-1] if lat else None,
                 "ven_log_ms": round((ven - t0) * 1000, 1) if ven else None,
                 "lifted": len(back),
                 "lift_max_ms": round(max((t - r0 * 1e9) / 1e6 for t, _ in back.values()))
                 if back else None}
            res["events"].append(e)
            sys.stderr.write("oadr_dispatch: level %.2f: %d of %d stations, p50 %s ms, "
                             "p95 %s ms, max %s ms (VEN logged the event at %s ms)\n" % (
                                 level, e["reached"], a.stations, fmt(e["p50_ms"]),
                                 fmt(e["p95_ms"]), fmt(e["max_ms"]), fmt(e["ven_log_ms"])))
        plog.read()
        res["profiles_total"] = plog.lines
    except Exception as ex:  # noqa: BLE001 - reported in the result
        res["error"] = f"{type(ex).__name__}: {ex}"
        sys.stderr.write(f"oadr_dispatch: {res['error']}\n")
    finally:
        if load:
            res["load_exit"] = stop(load)
            with open(os.path.join(a.work, "ocpp_load.out")) as f:
                res["load"] = [json.loads(ln) for ln in f if ln.startswith("{")]
        if gw:
            res["exit"] = stop(gw)
            if res["exit"] != 0:
                with open(gw_log, "rb") as f:
                    sys.stderr.write(f.read()[-3000:].decode("utf-8", "replace"))
        res["vtn_payloads"] = len(vtn.payloads())
        vtn.stop()
    print(json.dumps(res))
    return 0 if "error" not in res and res.get("exit") == 0 else 3


def fmt(v, f="%.0f"):
    return "n/a" if v is None else f % v


def report(path):
    with open(path) as f:
        r = json.loads(f.read().strip().splitlines()[-1])
    n = r["stations"]
    evs = r.get("events", [])
    w = print
    w(f"## OpenADR: event to set-points at {n:,} stations\n")
    w(f"flexgw as an OpenADR 2.0b VEN (HTTPS with mutual TLS, polling the test VTN "
      f"`tests/sim/openadr_vtn.py` every 1 s) and as the OCPP 2.0.1 CSMS of {n:,} stations "
      f"(`ocpp_load --ev`, each with an EV charging at {EV_W} W; EVSE assets configured, "
      f"default ocpp.* settings), scheduler `realtime`, planner `none`, "
      f"site.import_limit_w {r['import_limit_w']:,} W. Each row is one event (the first "
      f"new, the others modifications of it): LOAD_CONTROL x-loadControlCapacity at the "
      f"level given, i.e. an import limit of level x import_limit_w, which every EV's "
      f"share has to follow. t0: the VTN's time stamp of the poll answer carrying the "
      f"oadrDistributeEvent (taken just before it is written to the socket); t1: when a "
      f"station read the first SetChargingProfile after t0 with a limit below the one it "
      f"had; both CLOCK_REALTIME on the same machine. After each event a modification "
      f"to level 1.0 lifts the limit; once every EV has its 11 kW limit back, "
      f"{r['settle_s']:g} s pass before the next event. scheduler.options "
      f"min_dwell_s {MIN_DWELL_S} s (default 300 s), so that the EVs an event paused "
      f"charge again after the lift. "
      f"\"VEN\" is when the gateway logged the event (log time, ms resolution).\n")
    w("| Event (level, limit) | Stations reached | p50 (ms) | p95 (ms) | max (ms) | "
      "first (ms) | VEN logged (ms) | limit before -> after (A) |")
    w("|---|---|---|---|---|---|---|---|")
    for e in evs:
        w(f"| {e['level']:.2f}, {e['limit_w'] / 1e6:.2f} MW | {e['reached']} of {n} | "
          f"{fmt(e['p50_ms'])} | {fmt(e['p95_ms'])} | {fmt(e['max_ms'])} | "
          f"{fmt(e['min_ms'])} | {fmt(e['ven_log_ms'], '%.1f')} | "
          f"{', '.join('%g' % x for x in e['before_a'])} -> "
          f"{', '.join('%g' % x for x in e['limits_a'])} |")
    w("")
    maxes = [e["max_ms"] for e in evs if e["max_ms"] is not None]
    all_reached = evs and all(e["reached"] == n for e in evs)
    if maxes:
        ok = all_reached and max(maxes) < 500
        w(f"Against the target (set-points sent to all {n:,} in < 500 ms): max over the "
          f"{len(evs)} events {max(maxes):.0f} ms (median of the maxima "
          f"{pct(maxes, 50):.0f} ms): **{'met' if ok else 'NOT met'}**"
          + ("" if all_reached else f"; not every event reached all {n:,} stations") + "\n")
    bad = []
    if r.get("error"):
        bad.append(r["error"])
    if r.get("exit") != 0:
        bad.append(f"flexgw exit status {r.get('exit')} after SIGTERM")
    for ln in r.get("load", []):
        for k in ("callerrors", "bad_frames", "lost", "not_implemented"):
            if ln.get(k):
                bad.append(f"ocpp_load {ln['phase']}: {ln[k]} {k} ({ln.get('first_error')})")
        if ln.get("phase") == "held" and ln.get("failed"):
            bad.append(f"ocpp_load: {ln['failed']} stations not connected")
    w("Errors: " + ("none" if not bad else "**" + "; ".join(bad) + "**") + "\n")
    w("### Raw result (JSON)\n")
    w("```")
    w(json.dumps(r))
    w("```")
    return 3 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sp = ap.add_subparsers(dest="cmd", required=True)
    b = sp.add_parser("bench")
    b.add_argument("--gw", required=True)
    b.add_argument("--load", required=True)
    b.add_argument("--work", required=True)
    b.add_argument("--stations", type=int, default=1000)
    b.add_argument("--levels", default="0.35,0.3,0.25,0.2,0.15")
    b.add_argument("--settle", type=float, default=12)
    b.add_argument("--event-timeout", type=float, default=30)
    b.add_argument("--log-level", default="info")
    rp = sp.add_parser("report")
    rp.add_argument("result")
    a = ap.parse_args()
    if a.cmd == "report":
        return report(a.result)
    a.levels = [float(x) for x in a.levels.replace(" ", ",").split(",") if x]
    if not 1 <= a.stations <= 20000 or not a.levels or \
            not all(0 < x <= 1 for x in a.levels):
        ap.error("--stations in [1, 20000], --levels in (0, 1]")
    return bench(a)


if __name__ == "__main__":
    sys.exit(main())
