"""The scheduler host's guard against the real binary: flexgw runs each
misbehaving test plugin (tests/plugins: segfault, hang, a create() that
hangs, +Inf, NaN, unknown
ids, an error code, a wrong ABI version, no entry symbol, a table too small)
on a simulated site whose chargers alone would take it far past its import
limit. Each time the gateway stays up and answers the API, the log and the
metrics say the safe fallback schedule took over, and the site stays within
its import limit once the fallback has acted."""

import os
import re
import time

from fgtest import Gateway, run

PLUGIN_DIR = os.environ.get("FG_PLUGIN_DIR", "build/tests/plugins")
LIMIT_W = 9000.0


def plugin(mode):
    return os.path.join(PLUGIN_DIR, f"libfgtest_sched_{mode}.so")


def site_config(plugin_path, limit=LIMIT_W):
    """Two 11 kW chargers with an EV each, a battery and a 2 kW load behind a
    9 kW connection: uncontrolled, the site draws about 24 kW."""
    return {
        "site": {
            "id": "guard",
            "import_limit_w": limit,
            "export_limit_w": 30000,
            "tariff": [{"from": "00:00", "import_price": 0.25, "export_price": 0.05}],
            "assets": [
                {"id": "bat1", "kind": "battery", "capacity_wh": 20000,
                 "max_charge_w": 10000, "max_discharge_w": 10000,
                 "sim": {"initial_soc": 50}},
                {"id": "load1", "kind": "load", "rated_w": 4000,
                 "sim": {"profile": "flat"}},
                {"id": "ev1", "kind": "evse", "rated_w": 11000,
                 "sim": {"arrival": "00:00", "departure": "23:59", "energy_wh": 80000}},
                {"id": "ev2", "kind": "evse", "rated_w": 11000,
                 "sim": {"arrival": "00:00", "departure": "23:59", "energy_wh": 80000}},
            ],
        },
        "scheduler": {"plugin": plugin_path, "interval_s": 1,
                      "realtime_timeout_ms": 300},
        "web": {"token": "test-token-0123456789"},
        "log": {"level": "info"},
    }


def metrics(gw):
    st, _, text = gw.get("/metrics")
    assert st == 200, st
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(flexgw_scheduler_\w+) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def wait_for(pred, timeout, what, gw):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout} s:\n" + gw.stderr())


def assert_within_limit(gw, seconds, tolerance=0.0):
    """Poll the site: the API answers and the import stays within the limit
    (plus tolerance, a fraction of it)."""
    end = time.monotonic() + seconds
    worst = -1e18
    while time.monotonic() < end:
        st, _, h = gw.get("/api/v1/health")
        assert st == 200, st
        st, _, s = gw.get("/api/v1/site")
        assert st == 200, st
        p, lim = s["site"]["power_w"], s["site"]["limits"]["import_max_w"]
        assert lim == LIMIT_W, s["site"]["limits"]
        worst = max(worst, p)
        assert p <= lim * (1 + tolerance), f"site imports {p} W, limit {lim} W:\n" + gw.stderr()
        time.sleep(0.2)
    return worst


def check_plugin(mode, log_marks, counter=None):
    with Gateway(site_config(plugin(mode))) as gw:
        wait_for(lambda: metrics(gw).get("flexgw_scheduler_fallback_active") == 1, 15,
                 f"{mode}: the fallback taking over", gw)
        # the fallback acts on measured power: give the simulator two steps
        time.sleep(2.0)
        assert_within_limit(gw, 3.0)
        m = metrics(gw)
        assert m["flexgw_scheduler_fallbacks_total"] >= 1, m
        assert m["flexgw_scheduler_failures_total"] >= 1, m
        if counter:
            assert m[counter] >= 1, (counter, m)
        err = gw.stderr()
        assert "the safe fallback schedule takes over" in err, err
        for mark in log_marks:
            assert mark in err, (mode, mark, err)
        # the chargers were curtailed by the fallback, not by the plugin
        st, _, a = gw.get("/api/v1/assets/ev1")
        sp = a["asset"]["setpoint"] if "asset" in a else a["setpoint"]
        assert sp is not None and sp["source"] == "fallback", a
        assert gw.proc.poll() is None


def test_segfault():
    check_plugin("segv", ["killed by signal SIGSEGV"], "flexgw_scheduler_crashes_total")


def test_hang():
    check_plugin("hang", ["no answer within 300 ms", "SIGKILL"],
                 "flexgw_scheduler_timeouts_total")


def test_create_hangs():
    # the worker's start (load + create) has 5 s; the fallback does not wait
    check_plugin("createhang", ["no answer after", "(a worker starting?)"])


def test_stop_does_not_wait_for_the_worker():
    # a worker still in create() (which may take 5 s) does not hold up a
    # shutdown: the exchange is cancelled, the worker killed and reaped
    gw = Gateway(site_config(plugin("createhang"))).start()
    try:
        time.sleep(2.5)
        t0 = time.monotonic()
        gw.stop()
        took = time.monotonic() - t0
        assert took < 1.5, f"stop took {took:.2f} s:\n" + gw.stderr()
    finally:
        gw.tmp.cleanup()


def test_infinity():
    check_plugin("inf", ["answer refused", "not a finite number"],
                 "flexgw_scheduler_refused_total")


def test_nan():
    check_plugin("nan", ["answer refused", "not a finite number"],
                 "flexgw_scheduler_refused_total")


def test_unknown_ids():
    check_plugin("unknown", ["answer refused", "\"no-such-asset\"", "no such asset"],
                 "flexgw_scheduler_refused_total")


def test_error_code():
    check_plugin("fail", ["realtime() returned -1: told to fail"])


def test_wrong_abi():
    check_plugin("badabi", ["scheduler ABI version 99, this flexgw speaks version 1",
                            "libfgtest_sched_badabi.so"])


def test_missing_symbol():
    check_plugin("nosym", ["no symbol flexgw_scheduler_v1", "libfgtest_sched_nosym.so"])


def test_table_too_small():
    check_plugin("small", ["plugin table of 8 bytes"])


if __name__ == "__main__":
    run([test_segfault, test_hang, test_create_hangs,
         test_stop_does_not_wait_for_the_worker, test_infinity, test_nan, test_unknown_ids,
         test_error_code, test_wrong_abi, test_missing_symbol, test_table_too_small])
