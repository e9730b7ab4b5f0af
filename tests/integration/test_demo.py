"""flexgw --demo: the simulated site comes up with all its assets, answers
the API within 10 s, prints status lines, and its simulated day moves. Its
EVSEs are OCPP stations run by tests/sim's ocpp_sim, which the gateway
starts, keeps on its clock, and takes down with it."""

import os
import re
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
        time.sleep(3)  # 3 simulated minutes
        _, _, bat = gw.get("/api/v1/assets/bat1")
        # it follows its set-point: 50 kW, or less where the site's export
        # limit cuts it (how much depends on the simulated PV, load and EVs
        # at this time of day)
        w = bat["setpoint"]["w"]
        assert w < 0 and bat["power_w"] == w, bat
        # 3 simulated minutes at |w| from 100 kWh
        drop = -w * 180 / 3600 / 100000 * 100
        assert bat["battery"]["soc"] < soc0 - 0.5 * drop, (soc0, drop, bat["battery"])
    finally:
        gw.stop()
        gw.tmp.cleanup()


def sim_pids(gw):
    """The charger simulators the gateway says it started."""
    return [int(p) for p in re.findall(r"ocpp_sim pid (\d+)", gw.stderr())]


def alive(pid):
    """Running (not gone, not a zombie waiting for its new parent)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def test_demo_chargers_are_ocpp_and_evs_arrive():
    """ev1..ev4 are EVSEs of two OCPP stations (CP2 over 2.1 for the V2G
    charger) that connect and boot on their own; at 600x --auto EVs arrive
    within seconds, and their times (transaction start, departure) are on
    the gateway's simulated clock, not the wall clock."""
    gw = Gateway(demo=True, args=["--speed", "600"])
    gw.start()
    try:
        t0 = time.monotonic()
        a = None
        while time.monotonic() - t0 < 10:
            _, _, site = gw.get("/api/v1/site")
            a = {x["id"]: x for x in site["assets"] if x["kind"] == "evse"}
            if len(a) == 4 and all(x["online"] for x in a.values()):
                break
            time.sleep(0.05)
        assert sorted(a) == ["ev1", "ev2", "ev3", "ev4"], a
        for x in a.values():
            assert x["adapter"] == "ocpp" and x["online"], x
        pids = sim_pids(gw)
        assert len(pids) == 2 and all(alive(p) for p in pids), (pids, gw.stderr())
        err = gw.stderr()
        assert "CP1: connected (ocpp2.0.1)" in err and "CP2: connected (ocpp2.1)" in err, err

        session = None
        while time.monotonic() - t0 < 20 and not session:
            _, _, site = gw.get("/api/v1/site")
            for x in site["assets"]:
                s = (x.get("evse") or {}).get("session")
                if s and s.get("departure"):
                    session, now, evse = s, site["time"], x["id"]
                    break
            time.sleep(0.1)
        assert session, "no EV session within 20 s at 600x:\n" + gw.stderr()
        assert session["id_token"].startswith("AUTO"), session
        # the station stamped the start and the EV's departure (1-10 h ahead)
        # with the clock it took from the gateway; the wall clock would be
        # hours behind the demo's by now
        assert now - 3600 <= session["start"] <= now + 60, (session, now)
        assert 0 < session["departure"] - now <= 36000 + 60, (session, now)

        # a set-point becomes a charging profile whose schedule starts at the
        # gateway's "now": the station applies it at once (its composite
        # schedule verifies it) and the EV stays under it
        st, _, a = gw.request("PUT", f"/api/v1/assets/{evse}/setpoint",
                              body={"w": 4000, "duration_s": 36000},
                              headers={"Authorization": "Bearer demo-token"})
        assert st == 200, a
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _, _, a = gw.get(f"/api/v1/assets/{evse}")
            if (a["setpoint"] or {}).get("state") == "verified":
                break
            time.sleep(0.1)
        assert a["setpoint"]["state"] == "verified", a
        time.sleep(1.5)  # 15 simulated minutes, a few meter values
        _, _, a = gw.get(f"/api/v1/assets/{evse}")
        assert a["setpoint"]["state"] == "verified", a
        assert (a["power_w"] or 0) <= a["setpoint"]["w"] + 1, a
    finally:
        gw.stop()
        gw.tmp.cleanup()
    assert not wait_gone(pids, timeout=1), "simulators left running after stop"


def test_demo_chargers_die_with_the_gateway():
    """SIGKILL leaves the gateway no chance to stop its simulators: they see
    their stdin pipe end and exit by themselves."""
    gw = Gateway(demo=True, args=["--speed", "60"])
    gw.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(sim_pids(gw)) < 2:
            time.sleep(0.05)
        pids = sim_pids(gw)
        assert len(pids) == 2, gw.stderr()
        gw.kill9()
        left = wait_gone(pids)
        assert not left, f"ocpp_sim {left} still running after the gateway was killed"
    finally:
        gw.tmp.cleanup()


def test_demo_without_simulator_still_runs():
    """No ocpp_sim to be found: the site runs, its chargers stay offline, and
    the log says why and how to build it."""
    env = os.environ.get("FLEXGW_OCPP_SIM")
    os.environ["FLEXGW_OCPP_SIM"] = "/nonexistent/ocpp_sim"
    gw = Gateway(demo=True, args=["--speed", "600"])
    try:
        # the build tree's simulator would still be found next to flexgw:
        # run a copy of the binary from a directory without one
        import shutil
        from fgtest import FLEXGW
        lone = os.path.join(gw.tmp.name, "bin", "flexgw")
        os.makedirs(os.path.dirname(lone))
        shutil.copy(FLEXGW, lone)
        gw.cmd = lambda: [lone] + Gateway.cmd(gw)[1:]
        gw.start()
        _, _, site = gw.get("/api/v1/site")
        kinds = {x["id"]: x for x in site["assets"]}
        assert kinds["bat1"]["online"] and not kinds["ev1"]["online"], kinds
        err = gw.stderr()
        assert "ocpp_sim not found" in err and "--target ocpp_sim" in err, err
        assert "FLEXGW_OCPP_SIM=/nonexistent/ocpp_sim is not an executable" in err, err
        assert not sim_pids(gw), err
    finally:
        if env is None:
            del os.environ["FLEXGW_OCPP_SIM"]
        else:
            os.environ["FLEXGW_OCPP_SIM"] = env
        gw.stop()
        gw.tmp.cleanup()


if __name__ == "__main__":
    run([test_demo_serves_site_quickly, test_demo_battery_follows_setpoint,
         test_demo_chargers_are_ocpp_and_evs_arrive, test_demo_chargers_die_with_the_gateway,
         test_demo_without_simulator_still_runs])
