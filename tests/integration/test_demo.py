"""flexgw --demo: the simulated site comes up with all its assets, answers
the API within 10 s, prints status lines, and its simulated day moves."""

import time

from fgtest import Gateway, run


def test_demo_serves_site_quickly():
    gw = Gateway(demo=True, args=["--speed", "600"])
    gw.start(wait=False)
    try:
        t0 = time.monotonic()
        site = None
        while time.monotonic() - t0 < 10:
            try:
                st, _, site = gw.get("/api/v1/site", timeout=1)
                if st == 200 and len(site["assets"]) >= 6:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        assert site and len(site["assets"]) >= 6, site
        kinds = {a["kind"] for a in site["assets"]}
        assert kinds == {"evse", "battery", "pv", "load"}, kinds
        assert sum(a["kind"] == "evse" for a in site["assets"]) >= 4
        assert all(a["online"] for a in site["assets"]), site["assets"]
        # the scripted DSO congestion signal and the tariff are there
        sigs = {s["id"]: s for s in site["signals"]}
        assert sigs["dso-evening-congestion"]["type"] == "grid_limit"
        assert site["site"]["limits"]["price_import"] is not None
        # at 600x, 4 s of real time are 40 simulated minutes
        t_first = site["time"]
        time.sleep(4)
        _, _, later = gw.get("/api/v1/site")
        assert later["time"] - t_first >= 1800, (t_first, later["time"])
        assert "site" in gw.stdout() and "bat1" in gw.stdout(), gw.stdout()
    finally:
        gw.stop()
        gw.tmp.cleanup()


def test_demo_battery_follows_setpoint():
    gw = Gateway(demo=True, args=["--speed", "60"])
    gw.start()
    try:
        _, _, bat = gw.get("/api/v1/assets/bat1")
        soc0 = bat["battery"]["soc"]
        st, _, a = gw.request("PUT", "/api/v1/assets/bat1/setpoint",
                              body={"w": -50000, "duration_s": 3600},
                              headers={"Authorization": "Bearer demo-token"})
        assert st == 200, a
        time.sleep(3)  # 3 simulated minutes at 50 kW from 100 kWh: about -2.6 %
        _, _, bat = gw.get("/api/v1/assets/bat1")
        assert bat["power_w"] == -50000, bat
        assert bat["battery"]["soc"] < soc0 - 1.0, (soc0, bat["battery"])
    finally:
        gw.stop()
        gw.tmp.cleanup()


if __name__ == "__main__":
    run([test_demo_serves_site_quickly, test_demo_battery_follows_setpoint])
