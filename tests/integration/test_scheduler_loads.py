"""Loads under the scheduler, against the real binary: a simulated site (sim
adapter: a disconnectable load, a battery, PV, an EV, and a shiftable load)
run by the built-in real-time controller. An island signal sheds the
disconnectable load (0 W, its set-point 0 W from the scheduler, connected
false) and pauses the EV; removing the signal brings both back (the EV
after its dwell time, 5 s here). The
shiftable load, with no plan, starts at its earliest start, runs its one
run at rated power and stops, its window moved to the next day."""

import time

from fgtest import TOKEN, Gateway, run
from test_scheduler_guard import metrics, wait_for

RUN_S = 60


def hhmm(t):
    m = int(t // 60) % 1440
    return f"{m // 60:02d}:{m % 60:02d}"


def site_config():
    now = time.time()
    return {
        "site": {
            "id": "loads",
            "import_limit_w": 40000,
            "export_limit_w": 30000,
            "tariff": [{"from": "00:00", "import_price": 0.25, "export_price": 0.05}],
            "assets": [
                {"id": "bat1", "kind": "battery", "capacity_wh": 20000,
                 "max_charge_w": 10000, "max_discharge_w": 10000,
                 "sim": {"initial_soc": 60}},
                {"id": "pv1", "kind": "pv", "rated_w": 15000},
                {"id": "load1", "kind": "load", "rated_w": 4000,
                 "sim": {"profile": "flat"}},
                {"id": "chiller", "kind": "load", "type": "disconnectable",
                 "rated_w": 6000, "sim": {"profile": "flat"}},
                # a window that opened a minute ago and closes in 30 minutes
                {"id": "washer", "kind": "load", "type": "shiftable", "rated_w": 2000,
                 "sim": {"arrival": hhmm(now - 60), "departure": hhmm(now + 1800),
                         "run_s": RUN_S}},
                {"id": "ev1", "kind": "evse", "rated_w": 11000,
                 "sim": {"arrival": "00:00", "departure": "23:59", "energy_wh": 80000}},
            ],
        },
        # a short EV dwell so the EV resumes within the test after the island
        "scheduler": {"plugin": "realtime", "planner": "none", "interval_s": 1,
                      "options": {"min_dwell_s": 5}},
        "web": {"token": TOKEN},
        "log": {"level": "info"},
    }


def asset(gw, aid):
    st, _, s = gw.get("/api/v1/site")
    assert st == 200, st
    for a in s["assets"]:
        if a["id"] == aid:
            return a
    raise AssertionError(f"no asset {aid}")


def wait_asset(gw, aid, pred, what, timeout=10):
    got = {}

    def ok():
        got["a"] = asset(gw, aid)
        return pred(got["a"])

    wait_for(ok, timeout, f"{aid}: {what}", gw)
    return got["a"]


def island(gw, on):
    if on:
        sig = {"id": "grid-outage", "type": "island", "priority": 10,
               "intervals": [{"start": int(time.time()) - 5, "duration_s": 3600,
                              "value": 1}]}
        st, _, j = gw.request("POST", "/api/v1/signals", body=sig, auth="token")
        assert st == 201, (st, j)
    else:
        st, _, j = gw.request("DELETE", "/api/v1/signals/grid-outage", auth="token")
        assert st == 200, (st, j)


def shed(a):
    sp = a["setpoint"]
    return (a["power_w"] == 0 and not a["load"]["connected"] and sp is not None
            and sp["w"] == 0 and sp["source"] == "scheduler")


def test_island_sheds_and_restores():
    with Gateway(site_config()) as gw:
        c = wait_asset(gw, "chiller", lambda a: a["power_w"] > 2000, "drawing power")
        assert c["load"]["connected"] and c["setpoint"] is None, c
        wait_asset(gw, "ev1", lambda a: a["power_w"] > 1000, "charging")
        before = c["power_w"]
        island(gw, True)
        c = wait_asset(gw, "chiller", shed, "shed in the island")
        e = wait_asset(gw, "ev1", lambda a: a["power_w"] == 0, "paused in the island")
        assert e["setpoint"]["w"] == 0 and e["setpoint"]["source"] == "scheduler", e
        # it stays shed while the island lasts (the set-point is renewed)
        time.sleep(4 * 1.0 + 3)
        c = asset(gw, "chiller")
        assert shed(c), c
        assert asset(gw, "ev1")["power_w"] == 0
        print(f"island: chiller {before:.0f} W -> {c['power_w']:.0f} W, "
              f"set-point {c['setpoint']['w']} W, EV paused")
        island(gw, False)
        c = wait_asset(gw, "chiller",
                       lambda a: a["power_w"] > 2000 and a["load"]["connected"]
                       and a["setpoint"] is None, "back on after the island")
        e = wait_asset(gw, "ev1", lambda a: a["power_w"] > 1000, "charging again", 15)
        assert "switched off (0 W)" in gw.stderr() and "switched on again" in gw.stderr()
        print(f"after: chiller {c['power_w']:.0f} W, connected, no set-point; "
              f"EV {e['power_w']:.0f} W")


def test_shiftable_runs_once():
    cfg = site_config()
    opened = (int(time.time() - 60) // 60) * 60  # the window's start, epoch s
    with Gateway(cfg) as gw:
        t0 = time.monotonic()
        w = wait_asset(gw, "washer", lambda a: a["power_w"] == 2000, "running", 15)
        started, at = time.monotonic(), time.time()
        assert w["load"]["connected"] and w["load"]["run_s"] == RUN_S, w
        # started by the controller (no plan: at its earliest start), inside
        # today's window; the device now waits for tomorrow's
        assert "washer: run of 60 s started (set-point)" in gw.stderr(), gw.stderr()
        assert opened <= at < opened + 1800, (opened, at)
        assert w["load"]["earliest_start"] == opened + 86400, (w, opened)
        # it runs its run_s without a break, then stops
        while time.monotonic() - started < RUN_S - 5:
            a = asset(gw, "washer")
            assert a["power_w"] == 2000 and a["load"]["connected"], a
            time.sleep(1)
        w = wait_asset(gw, "washer", lambda a: a["power_w"] == 0, "done", 15)
        ran = time.monotonic() - started
        assert not w["load"]["connected"], w
        assert time.time() < w["load"]["latest_end"] - 86400, "ended inside its window"
        time.sleep(3)
        assert asset(gw, "washer")["power_w"] == 0  # not a second run
        assert gw.stderr().count("washer: run of") == 1, gw.stderr()
        print(f"washer: running {started - t0:.1f} s after start, for about {ran:.0f} s "
              f"(run_s {RUN_S}), once")


def test_signal_calls_the_scheduler_at_once():
    """With realtime() every 60 s, a signal put (or cancelled) through the
    API still reaches the devices within a second or two: a signal change
    calls the scheduler at once. Without that the island would wait for the
    next interval, up to a minute."""
    cfg = site_config()
    cfg["scheduler"]["interval_s"] = 60
    with Gateway(cfg) as gw:
        wait_asset(gw, "ev1", lambda a: a["power_w"] > 1000, "charging")
        wait_for(lambda: metrics(gw).get("flexgw_scheduler_calls_total", 0) >= 1, 10,
                 "a first realtime() call", gw)
        calls = metrics(gw)["flexgw_scheduler_calls_total"]
        t0 = time.monotonic()
        island(gw, True)
        e = wait_asset(gw, "ev1", lambda a: a["setpoint"] is not None
                       and a["setpoint"]["w"] == 0, "paused by the island", 5)
        took = time.monotonic() - t0
        assert e["setpoint"]["source"] == "scheduler", e
        assert took < 3, f"island set-point after {took:.2f} s"
        assert metrics(gw)["flexgw_scheduler_calls_total"] == calls + 1, metrics(gw)
        t1 = time.monotonic()
        island(gw, False)
        wait_for(lambda: metrics(gw)["flexgw_scheduler_calls_total"] == calls + 2, 3,
                 "a call after the cancellation", gw)
        print(f"island set-point {took:.2f} s after the signal (interval 60 s); "
              f"call after the cancellation {time.monotonic() - t1:.2f} s")


if __name__ == "__main__":
    run([test_island_sheds_and_restores, test_shiftable_runs_once,
         test_signal_calls_the_scheduler_at_once])
