"""flexgw --demo: the simulated site comes up with all its assets, answers
the API within 10 s, prints status lines, and its simulated day moves. Its
EVSEs are OCPP stations run by tests/sim's ocpp_sim, and its battery is a
SunSpec device over Modbus/TCP run by tests/sim's battery_sim; the gateway
starts both, keeps them on its clock, and takes them down with it."""

import json
import os
import re
import socket
import struct
import time

from fgtest import SRC, Gateway, run, wait_asset

BATTERY_SIM = os.environ.get("BATTERY_SIM", "build/tests/sim/battery_sim")


def test_demo_serves_site_quickly():
    gw = Gateway(demo=True, args=["--speed", "600"])
    gw.start(wait=False)
    try:
        t0 = time.monotonic()
        site = None
        while time.monotonic() - t0 < 10:
            try:
                st, _, site = gw.get("/api/v1/site", timeout=1)
                # the simulated devices connect (OCPP) or are polled (Modbus:
                # discovery, then a read) once the loop runs
                if st == 200 and len(site["assets"]) >= 6 and \
                        all(a["online"] for a in site["assets"]):
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
        # the scheduler's set-points outlive the time between its calls, at
        # 600x too (a call per second of real time is 10 simulated minutes):
        # the battery is never found without one
        gaps = []
        for _ in range(8):
            _, _, now = gw.get("/api/v1/site")
            bat = next(a for a in now["assets"] if a["id"] == "bat1")
            sp = bat["setpoint"]
            if not (sp and sp["source"] == "scheduler" and sp["expires_at"] > now["time"]):
                gaps.append((now["time"], sp))
            time.sleep(0.4)
        assert not gaps, gaps
        assert "site" in gw.stdout() and "bat1" in gw.stdout(), gw.stdout()
    finally:
        gw.stop()
        gw.tmp.cleanup()


def model_802_point(name):
    """Offset of a point of model 802 from its ID register (official JSON)."""
    with open(os.path.join(SRC, "protocols/sunspec/models/model_802.json")) as f:
        off = 0
        for p in json.load(f)["group"]["points"]:
            if p["name"] == name:
                return off
            off += p["size"]
    raise KeyError(name)


def read_holding(port, addr, n=1, unit=1):
    """One Modbus/TCP read (function 3), by hand: the simulator as a client
    other than flexgw sees it."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
        c.sendall(struct.pack(">HHHBBHH", 1, 0, 6, unit, 3, addr, n))
        hdr = c.recv(9, socket.MSG_WAITALL)
        assert len(hdr) == 9 and hdr[7] == 3, hdr
        data = c.recv(hdr[8], socket.MSG_WAITALL)
        return list(struct.unpack(f">{n}H", data))


def sim_soc(port):
    """The simulated battery's SoC (802 at 40070: SunS, then model 1)."""
    soc, = read_holding(port, 40070 + model_802_point("SoC"))
    sf, = read_holding(port, 40070 + model_802_point("SoC_SF"))
    sf = sf - 0x10000 if sf >= 0x8000 else sf
    return soc * 10 ** sf


def battery_sim(gw):
    """(pid, port) of the battery simulator the gateway says it started."""
    m = re.search(r"battery bat1: battery_sim pid (\d+) on 127.0.0.1:(\d+)", gw.stderr())
    assert m, gw.stderr()
    return int(m.group(1)), int(m.group(2))


def test_demo_battery_follows_setpoint():
    """bat1 is the Modbus battery of battery_sim (started at 55 % SoC on a
    free port, its clock at the demo's speed): online through the modbus
    adapter with the simulator's SoC, and a discharge set-point written over
    Modbus moves the simulated battery and its SoC."""
    gw = Gateway(demo=True, args=["--speed", "60"])
    gw.start()
    try:
        pid, port = battery_sim(gw)
        assert alive(pid), gw.stderr()
        bat = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            _, _, bat = gw.get("/api/v1/assets/bat1")
            if bat["online"] and bat["battery"]["soc"] is not None:
                break
            time.sleep(0.05)
        assert bat["adapter"] == "modbus" and bat["online"], bat
        soc0 = bat["battery"]["soc"]
        assert abs(soc0 - 55) <= 0.5, bat  # battery_sim --soc 55, idle
        assert abs(sim_soc(port) - soc0) <= 0.2, (sim_soc(port), soc0)
        err = gw.stderr()
        assert f"bat1: device flexgw battery_sim, serial BSIM-{port}-1" in err, err
        assert "bat1: online (unit 1 on bus battery-sim)" in err, err

        st, _, a = gw.request("PUT", "/api/v1/assets/bat1/setpoint",
                              body={"w": -50000, "duration_s": 3600},
                              headers={"Authorization": "Bearer demo-token"})
        assert st == 200, a
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            _, _, bat = gw.get("/api/v1/assets/bat1")
            if (bat["setpoint"] or {}).get("state") == "verified":
                break
            time.sleep(0.05)
        assert bat["setpoint"]["state"] == "verified", bat
        time.sleep(3)  # 3 simulated minutes
        _, _, bat = gw.get("/api/v1/assets/bat1")
        # it follows its set-point: 50 kW, or less where the site's export
        # limit cuts it (how much depends on the simulated PV, load and EVs
        # at this time of day); 124's rates are 0.01 % steps of 50 kW and
        # 802's W has 10 W steps
        w = bat["setpoint"]["w"]
        assert w < 0 and abs(bat["power_w"] - w) <= 20, bat
        # 3 simulated minutes at |w| from 100 kWh, in the simulator and as read
        drop = -w * 180 / 3600 / 100000 * 100
        assert bat["battery"]["soc"] < soc0 - 0.5 * drop, (soc0, drop, bat["battery"])
        assert sim_soc(port) < soc0 - 0.5 * drop, (soc0, drop, sim_soc(port))
    finally:
        gw.stop()
        gw.tmp.cleanup()
    assert not wait_gone([pid], timeout=1), "battery_sim left running after stop"


def sim_pids(gw):
    """The charger and battery simulators the gateway says it started."""
    return [int(p) for p in re.findall(r"(?:ocpp_sim|battery_sim) pid (\d+)",
                                       gw.stderr())]


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
        assert len(pids) == 3 and all(alive(p) for p in pids), (pids, gw.stderr())
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
        while time.monotonic() < deadline and len(sim_pids(gw)) < 3:
            time.sleep(0.05)
        pids = sim_pids(gw)
        assert len(pids) == 3, gw.stderr()  # 2 ocpp_sim, 1 battery_sim
        gw.kill9()
        left = wait_gone(pids)
        assert not left, f"simulators {left} still running after the gateway was killed"
    finally:
        gw.tmp.cleanup()


def test_demo_without_simulator_still_runs():
    """No ocpp_sim to be found: the site runs, its chargers stay offline, and
    the log says why and how to build it. battery_sim is found through
    $FLEXGW_BATTERY_SIM."""
    env = os.environ.get("FLEXGW_OCPP_SIM")
    os.environ["FLEXGW_OCPP_SIM"] = "/nonexistent/ocpp_sim"
    os.environ["FLEXGW_BATTERY_SIM"] = os.path.abspath(BATTERY_SIM)
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
        wait_asset(gw, "bat1", lambda a: a["online"], "bat1 online", timeout=5)
        _, _, site = gw.get("/api/v1/site")
        kinds = {x["id"]: x for x in site["assets"]}
        assert kinds["bat1"]["online"] and not kinds["ev1"]["online"], kinds
        err = gw.stderr()
        assert "ocpp_sim not found" in err and "--target ocpp_sim" in err, err
        assert "FLEXGW_OCPP_SIM=/nonexistent/ocpp_sim is not an executable" in err, err
        assert len(sim_pids(gw)) == 1 and "battery_sim pid" in err, err
    finally:
        if env is None:
            del os.environ["FLEXGW_OCPP_SIM"]
        else:
            os.environ["FLEXGW_OCPP_SIM"] = env
        del os.environ["FLEXGW_BATTERY_SIM"]
        gw.stop()
        gw.tmp.cleanup()


def test_demo_without_battery_simulator():
    """No battery_sim to be found: the site runs, bat1 stays offline (the
    adapter cannot connect), and the log says why and how to build it."""
    os.environ["FLEXGW_BATTERY_SIM"] = "/nonexistent/battery_sim"
    gw = Gateway(demo=True, args=["--speed", "600"])
    try:
        import shutil
        from fgtest import FLEXGW
        lone = os.path.join(gw.tmp.name, "bin", "flexgw")
        os.makedirs(os.path.dirname(lone))
        shutil.copy(FLEXGW, lone)
        gw.cmd = lambda: [lone] + Gateway.cmd(gw)[1:]
        gw.start()
        time.sleep(1)
        _, _, bat = gw.get("/api/v1/assets/bat1")
        assert bat["adapter"] == "modbus" and not bat["online"], bat
        err = gw.stderr()
        assert "battery_sim not found" in err and "--target battery_sim" in err, err
        assert "bat1: reading 2 registers at 40000: Connection refused" in err, err
    finally:
        del os.environ["FLEXGW_BATTERY_SIM"]
        gw.stop()
        gw.tmp.cleanup()


if __name__ == "__main__":
    run([test_demo_serves_site_quickly, test_demo_battery_follows_setpoint,
         test_demo_chargers_are_ocpp_and_evs_arrive, test_demo_chargers_die_with_the_gateway,
         test_demo_without_simulator_still_runs, test_demo_without_battery_simulator])
