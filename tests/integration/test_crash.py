"""kill -9 right after a write was acknowledged: after a restart on the same
data directory the record is there."""

import time

from fgtest import Gateway, base_config, run


def signal_body(i, now):
    return {"id": f"s{i}", "type": "grid_limit", "priority": i,
            "intervals": [{"start": now + 3600, "duration_s": 900, "value": 10000 + i}]}


def test_acknowledged_signal_survives_kill9():
    cfg = base_config()
    gw = Gateway(cfg).start()
    now = int(time.time())
    acked = []
    for i in range(30):
        st, _, j = gw.request("POST", "/api/v1/signals", body=signal_body(i, now),
                              auth="token")
        assert st == 201, j
        acked.append(f"s{i}")
    # killed at once after the last answer: no chance to flush anything
    gw.kill9()
    again = Gateway(config_path=gw.config_path, data_dir=gw.data_dir)
    again.start()
    try:
        st, _, sigs = again.get("/api/v1/signals")
        assert st == 200
        got = {s["id"]: s for s in sigs if s["source"] == "api"}
        missing = [i for i in acked if i not in got]
        assert not missing, f"acknowledged signals lost: {missing}"
        assert got["s7"]["intervals"][0]["value"] == 10007
        assert got["s7"]["priority"] == 7
    finally:
        again.stop()
        again.tmp.cleanup()
        gw.tmp.cleanup()


def test_cancellation_survives_kill9():
    gw = Gateway(base_config()).start()
    now = int(time.time())
    st, _, _ = gw.request("POST", "/api/v1/signals", body=signal_body(1, now), auth="token")
    assert st == 201
    st, _, j = gw.request("DELETE", "/api/v1/signals/s1", auth="token")
    assert st == 200 and j["status"] == "cancelled"
    gw.kill9()
    again = Gateway(config_path=gw.config_path, data_dir=gw.data_dir)
    again.start()
    try:
        _, _, sigs = again.get("/api/v1/signals")
        s1 = [s for s in sigs if s["id"] == "s1"]
        assert s1 and s1[0]["status"] == "cancelled", sigs
    finally:
        again.stop()
        again.tmp.cleanup()
        gw.tmp.cleanup()


def test_ended_signals_leave_the_store():
    import os
    import sqlite3
    gw = Gateway(base_config()).start()
    now = int(time.time())
    old = {"id": "old", "type": "price",
           "intervals": [{"start": now - 3 * 3600, "duration_s": 3600, "value": 0.1}]}
    cur = {"id": "cur", "type": "price",
           "intervals": [{"start": now - 60, "duration_s": 3600, "value": 0.2}]}
    for body in (old, cur):
        st, _, j = gw.request("POST", "/api/v1/signals", body=body, auth="token")
        assert st == 201, j
    gw.stop()
    again = Gateway(config_path=gw.config_path, data_dir=gw.data_dir)
    again.start()
    try:
        deadline = time.time() + 5
        while time.time() < deadline:
            ids = {s["id"] for s in again.get("/api/v1/signals")[2] if s["source"] == "api"}
            if ids == {"cur"}:
                break
            time.sleep(0.1)
        assert ids == {"cur"}, ids
    finally:
        again.stop()
    db = sqlite3.connect(os.path.join(gw.data_dir, "flexgw.db"))
    rows = {r[0] for r in db.execute("SELECT id FROM signals")}
    db.close()
    assert rows == {"cur"}, rows
    again.tmp.cleanup()
    gw.tmp.cleanup()


if __name__ == "__main__":
    run([test_acknowledged_signal_survives_kill9, test_cancellation_survives_kill9,
         test_ended_signals_leave_the_store])
