"""flexgw --plan: the optimising planner offline on scenario files (JSON,
CSV, --export-lp read back by glpsol) and its errors."""

import csv
import io
import json
import os
import re
import subprocess
import tempfile

from fgtest import FLEXGW, SRC, run

REF = os.path.join(SRC, "conf/scenarios/reference-day.json")


def flexgw(*args, timeout=120):
    return subprocess.run([FLEXGW, *args], capture_output=True, text=True, timeout=timeout)


def test_reference_day_json():
    r = flexgw("--plan", REF)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["n_isp"] == 96 and plan["isp_s"] == 900
    c = plan["cost"]
    parts = c["energy"] + c["wear"] + c["demand"] + c["penalty"]
    assert abs(parts - plan["objective"]) < 1e-9 * max(1, abs(plan["objective"])), plan["cost"]
    ids = [a["id"] for a in plan["assets"]]
    assert sum(1 for a in plan["assets"] if a["kind"] == "ev") == 20, ids
    for t in range(96):
        net = plan["import_w"][t] - plan["export_w"][t]
        assets = sum(a["w"][t] for a in plan["assets"])
        assert abs(net - assets) < 0.05, (t, net, assets)
    assert "Cbc" in plan["solver"]


def test_reference_day_csv_and_lp():
    with tempfile.TemporaryDirectory() as d:
        lp = os.path.join(d, "ref.lp")
        r = flexgw("--plan", REF, "--csv", "--export-lp", lp)
        assert r.returncode == 0, r.stderr
        head, body = r.stdout.split("\n", 1)
        m = re.match(r"# objective=(\S+) energy=(\S+) wear=(\S+) demand=(\S+) penalty=(\S+)", head)
        assert m, head
        obj = float(m.group(1))
        rows = list(csv.DictReader(io.StringIO(body)))
        assert len(rows) == 96
        assert {"isp_start", "import_w", "export_w", "bat1", "ev01", "ev20", "cost"} <= set(rows[0])
        sol = os.path.join(d, "ref.sol")
        g = subprocess.run(["glpsol", "--lp", lp, "-o", sol], capture_output=True, text=True,
                           timeout=120)
        assert g.returncode == 0, g.stdout
        with open(sol) as f:
            gobj = float(re.search(r"Objective:\s+obj = (\S+)", f.read()).group(1))
        assert abs(gobj - obj) <= 1e-6 * abs(gobj), (gobj, obj)


def test_errors_name_file_and_path():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"start": "2026-06-01T00:00:00Z", "horizon_s": 3600,
                   "site": {"import_max_w": 1000, "export_max_w": 0},
                   "prices": {"import": 0.2, "export": 0.1},
                   "evs": [{"id": "e", "arrival": "2026-06-01T00:00:00Z",
                            "departure": "2026-06-01T01:00:00Z", "energy_wh": 1000,
                            "max_charge_w": 0}]}, f)
    try:
        r = flexgw("--plan", f.name)
        assert r.returncode == 2, r
        assert f"flexgw: {f.name}: /evs/0/max_charge_w: 0 not in [0.001," in r.stderr, r.stderr
        assert r.stdout == ""
    finally:
        os.unlink(f.name)
    r = flexgw("--plan", "/nonexistent/s.json")
    assert r.returncode == 2 and "flexgw: /nonexistent/s.json: No such file" in r.stderr, r.stderr
    r = flexgw("--csv")
    assert r.returncode == 2 and "--csv and --export-lp only apply to --plan" in r.stderr


if __name__ == "__main__":
    run([test_reference_day_json, test_reference_day_csv_and_lp, test_errors_name_file_and_path])
