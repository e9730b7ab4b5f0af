"""Battery health (issue 6) against the real binary: a simulated battery
cycled through set-points, GET /api/v1/assets/{id}/health, SoH checkpoints
through the API, the ageing states surviving a restart, and the offline
what-if tool flexgw --battery-life.

The gateway runs on the real clock here (a simulated clock is only for
--demo), so the battery is small and driven hard: a few seconds make
cycles, and the ageing model turns them and the minute of storage into a
small but non-zero loss."""

import json
import os
import subprocess
import tempfile
import time

from fgtest import FLEXGW, SRC, Gateway, base_config, run

CASES = os.path.join(SRC, "tests/integration/data/battery-life-cases.json")


def config():
    cfg = base_config()
    bat = cfg["site"]["assets"][0]
    assert bat["id"] == "bat1"
    # 250 Wh at 5 kW: 20 C, half a % of SoC per second (the model counts
    # reversals of 1 % and more)
    bat.update({"capacity_wh": 250, "max_charge_w": 5000, "max_discharge_w": 5000,
                "chemistry": "LFP",
                "ageing": {"replacement_cost": 3000, "eol_soh": 70}})
    cfg["site"]["ev_ageing"] = {"capacity_wh": 50000}
    return cfg


def health(gw, asset="bat1", timeout=5.0):
    """Poll until the asset has a health document (the first tick after its
    first SoC reading)."""
    deadline = time.monotonic() + timeout
    while True:
        st, _, j = gw.get(f"/api/v1/assets/{asset}/health")
        if st == 200:
            return j
        if time.monotonic() > deadline:
            raise AssertionError(f"{asset}: no health document: {st} {j!r}")
        time.sleep(0.1)


def cycle(gw, n=3, seconds=4):
    for _ in range(n):
        for w in (5000, -5000):
            st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint",
                                  body={"w": w, "duration_s": 60}, auth="token")
            assert st == 200, j
            time.sleep(seconds)


def check_document(h):
    assert h["asset"] == "bat1" and h["battery"] == "bat1", h
    assert 90 < h["soh_pct"] < 100, h["soh_pct"]
    assert abs(h["soh_pct"] + h["loss_pct"] - 100) < 1e-9, h
    assert h["age_days"] > 0 and h["efc"] >= 0 and h["cycles"] >= 0, h
    factors = h["factors"]
    assert set(factors) == {"time", "temperature", "dod", "crate", "soc", "prior"}, factors
    total = sum(f["loss_pct"] for f in factors.values())
    assert abs(total - h["loss_pct"]) <= 1e-9 + 1e-6 * h["loss_pct"], (total, h)
    shares = sum(f["share_pct"] for f in factors.values())
    assert abs(shares - 100) < 1e-6, shares
    fc = h["forecast"]
    assert fc["eol_soh_pct"] == 70 and fc["horizon_years"] == 50, fc
    for k in ("eol_date", "days_left", "efc_at_eol", "efc_per_day", "cal_temp_c",
              "cal_soc_pct"):
        assert k in fc, (k, fc)
    if fc["eol_date"] is not None:
        assert fc["eol_date"].endswith("Z") and fc["days_left"] > 0, fc
    m = h["model"]
    assert m["chemistry"] == "LFP" and m["name"] and m["source"] and m["cell"], m
    assert isinstance(m["params"], dict) and m["params"], m
    assert h["replacement_cost"] == 3000


def test_health_checkpoints_and_restart():
    data = tempfile.TemporaryDirectory(prefix="fgtest-data-")
    try:
        with Gateway(config(), data_dir=data.name) as gw:
            health(gw)
            cycle(gw)
            h = health(gw)
            check_document(h)
            assert h["fit"]["checkpoints"] == 0 and h["fit"]["s_cal"] == 1, h["fit"]

            # assets that are not batteries, and ones that do not exist
            st, _, j = gw.get("/api/v1/assets/pv1/health")
            assert st == 422 and "pv" in j["error"], (st, j)
            st, _, j = gw.get("/api/v1/assets/nope/health")
            assert st == 404 and "nope" in j["error"], (st, j)
            # the simulated EV on ev1 (plugged in all day)
            ev = health(gw, "ev1")
            assert ev["ev"] == "SIMev1" and ev["evse"] == "ev1" and ev["ev_present"], ev
            # the simulated EV reports its capacity, which beats site.ev_ageing.capacity_wh
            assert ev["capacity_wh"] == 60000 and ev["model"]["chemistry"] == "NMC", ev

            # checkpoints: authenticated, validated, then recorded and refitted
            path = "/api/v1/assets/bat1/health/checkpoints"
            st, _, j = gw.request("POST", path, body={"soh_pct": 99.9})
            assert st == 401, (st, j)
            for body, where in (({"soh_pct": 120}, "/soh_pct"), ({"soh_pct": "x"}, "/soh_pct"),
                                ({"soh": 99}, "/soh"), ({}, "/soh_pct")):
                st, _, j = gw.request("POST", path, body=body, auth="token")
                assert st == 400 and j["path"] == where and j["error"], (body, st, j)
            st, _, j = gw.request("POST", path, body={"soh_pct": 99.9}, auth="token")
            assert st == 201, (st, j)
            assert j["fit"]["checkpoints"] == 1, j["fit"]
            assert abs(j["fit"]["points"][0]["soh_pct"] - 99.9) < 1e-9, j["fit"]
            st, _, j = gw.request("POST", "/api/v1/assets/pv1/health/checkpoints",
                                  body={"soh_pct": 99}, auth="token")
            assert st == 422, (st, j)
            before = health(gw)
            assert before["fit"]["checkpoints"] == 1

        # the same storage: the state goes on where it stopped
        with Gateway(config(), data_dir=data.name) as gw:
            after = health(gw)
            assert after["monitored_since"] == before["monitored_since"], (before, after)
            assert after["age_days"] >= before["age_days"] > 0, (before, after)
            assert after["efc"] >= before["efc"], (before, after)
            assert after["fit"]["checkpoints"] == 1, after["fit"]
            ev = health(gw, "ev1")
            assert ev["monitored_since"] <= after["updated"], ev
    finally:
        data.cleanup()


def flexgw(*args):
    return subprocess.run([FLEXGW, *args], capture_output=True, text=True, timeout=60)


def test_battery_life_tool():
    r = flexgw("--battery-life", CASES)
    assert r.returncode == 0, (r.returncode, r.stderr)
    out = json.loads(r.stdout)
    with open(CASES) as f:
        cases = json.load(f)
    results = out["cases"]
    assert len(results) == len(cases["cases"]) == 2, out
    for want, got in zip(cases["cases"], results):
        assert got["name"] == want["name"] and got["model"] == want["model"], got
        assert 50 < got["capacity_retention_pct"] < 100, got
        total = sum(f["loss_pct"] for f in got["loss_by_factor"].values())
        assert abs(total - got["loss_pct"]) < 1e-6, got
    assert len(results[0]["curve"]) == 4, results[0]

    r = flexgw("--help")
    assert r.returncode == 0 and "--battery-life FILE" in r.stdout, r.stdout


def test_battery_life_broken_files():
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            f.write('{"cases": [\n  {"name": "x",}\n]}\n')
        r = flexgw("--battery-life", bad)
        assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout)
        assert r.stderr.startswith(f"flexgw: {bad}: malformed JSON at line 2"), r.stderr

        wrong = os.path.join(d, "wrong.json")
        with open(wrong, "w") as f:
            json.dump({"cases": 5}, f)
        r = flexgw("--battery-life", wrong)
        assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout)
        assert r.stderr == f"flexgw: {wrong}: /cases: must be a non-empty array\n", r.stderr

        with open(wrong, "w") as f:
            json.dump({"cases": [{"name": "x", "model": "nope",
                                  "storage": {"temp_c": 25, "soc_pct": 50, "days": 3}}]}, f)
        r = flexgw("--battery-life", wrong)
        assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout)
        assert r.stderr.startswith(f"flexgw: {wrong}: /cases/0/model: ") and "nope" in r.stderr

        r = flexgw("--battery-life", os.path.join(d, "missing.json"))
        assert r.returncode == 2 and "No such file" in r.stderr, r.stderr


if __name__ == "__main__":
    run([test_health_checkpoints_and_restart, test_battery_life_tool,
         test_battery_life_broken_files])
