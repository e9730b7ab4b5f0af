"""SIGHUP reloads the config: a valid file is applied, an invalid one is
refused with the old config kept; SIGTERM stops cleanly."""

import json
import signal
import time

from fgtest import Gateway, base_config, run


def wait_for(pred, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def test_sighup_valid_and_invalid():
    cfg = base_config()
    with Gateway(cfg) as gw:
        cfg["site"]["name"] = "After reload"
        cfg["site"]["import_limit_w"] = 22000
        cfg["site"]["assets"].append({"id": "pv2", "kind": "pv", "rated_w": 5000})
        with open(gw.config_path, "w") as f:
            json.dump(cfg, f)
        gw.proc.send_signal(signal.SIGHUP)
        site = wait_for(lambda: (lambda s: s if s["site"]["name"] == "After reload" else None)(
            gw.get("/api/v1/site")[2]))
        assert site, gw.stderr()
        assert site["site"]["import_limit_w"] == 22000
        assert "pv2" in {a["id"] for a in site["assets"]}
        # battery state survived the reload (same asset, updated in place)
        bat = [a for a in site["assets"] if a["id"] == "bat1"][0]
        assert bat["battery"]["soc"] is not None

        cfg["site"]["name"] = "Broken"
        cfg["site"]["import_limit_w"] = -1
        with open(gw.config_path, "w") as f:
            json.dump(cfg, f)
        gw.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload rejected" in gw.stderr()), gw.stderr()
        _, _, site = gw.get("/api/v1/site")
        assert site["site"]["name"] == "After reload"
        assert "/site/import_limit_w" in gw.stderr()
        _, _, m = gw.get("/metrics")
        assert 'flexgw_config_reloads_total{result="rejected"} 1' in m, m


def test_config_signals_follow_the_file():
    cfg = base_config()  # utc_offset_min 0: local time is UTC
    hhmm = lambda t: time.strftime("%H:%M", time.gmtime(t))
    now = time.time()
    cfg["site"]["signals"] = [
        {"id": "window-a", "type": "grid_limit", "from": hhmm(now - 3600),
         "until": hhmm(now + 3600),
         "value": 15000, "export_value": None},
        {"id": "window-b", "type": "price", "from": "10:00", "until": "11:00", "value": 0.4}]
    with Gateway(cfg) as gw:
        _, _, sigs = gw.get("/api/v1/signals")
        assert {s["id"] for s in sigs if s["source"] == "config"} == {"window-a", "window-b"}
        _, _, site = gw.get("/api/v1/site")
        assert site["site"]["limits"]["import_max_w"] == 15000, site["site"]["limits"]
        del cfg["site"]["signals"][0]
        with open(gw.config_path, "w") as f:
            json.dump(cfg, f)
        gw.proc.send_signal(signal.SIGHUP)
        ids = wait_for(lambda: (lambda ids: ids if ids == {"window-b"} else None)(
            {s["id"] for s in gw.get("/api/v1/signals")[2] if s["source"] == "config"}))
        assert ids == {"window-b"}, gw.stderr()
        _, _, site = gw.get("/api/v1/site")
        assert site["site"]["limits"]["import_max_w"] == 40000


if __name__ == "__main__":
    run([test_sighup_valid_and_invalid, test_config_signals_follow_the_file])
