"""flexgw against the battery simulator (tests/sim/battery_sim) over
Modbus/TCP on loopback, issue 5 acceptance 1 and 3:

- discovery and reading: the log names the map and the device, the asset
  carries the simulator's SoC, SoH, capacity and limits;
- a charge and a discharge set-point through the REST API, followed by the
  simulated battery (its power and SoC, asked with {"cmd":"state"}) and seen
  in the asset; the set-point is renewed while flexgw runs and the battery
  reverts to 0 W within revert_s after flexgw is killed with SIGKILL;
- offline detection (the simulator silent, or killed) and recovery;
- bad input: Modbus exceptions, timeouts, sentinel and out-of-range values
  ("garbage"), a broken model chain: each a log line and a model state;
- two batteries on two buses: one silent does not stop the other's polls,
  and the REST API answers while a bus waits on timeouts.

Environment (set by ctest): FLEXGW, BATTERY_SIM, FG_SOURCE_DIR."""

import time

from batterysim import BatterySim as Sim
from fgtest import Gateway, base_config, run, wait_asset

POLL_MS = 500
TIMEOUT_MS = 300
RETRIES = 1
REVERT_S = 10  # the config's minimum
# How long a poll that meets a silent device takes at worst: every request
# is tried 1 + retries times, each waiting response_timeout_ms.
FAIL_S = (1 + RETRIES) * TIMEOUT_MS / 1000
SLACK_S = 0.4  # our 50 ms polling of the API, scheduling, sanitizers


def battery(asset_id, bus, **kw):
    return {"id": asset_id, "kind": "battery", "adapter": "modbus",
            "capacity_wh": kw.pop("capacity_wh", 50000), "max_charge_w": 10000,
            "max_discharge_w": 10000,
            "modbus": dict({"bus": bus, "unit_id": 1, "poll_interval_ms": POLL_MS,
                            "retries": RETRIES, "revert_s": REVERT_S}, **kw)}


def config(*sims):
    """bat1, bat2, ... one per simulator, each on a bus of its own."""
    cfg = base_config()
    cfg["site"]["assets"] = [battery(f"bat{i + 1}", f"tcp{i + 1}")
                             for i in range(len(sims))]
    cfg["modbus"] = {"enabled": True, "buses": [
        {"id": f"tcp{i + 1}", "tcp": f"127.0.0.1:{s.port}",
         "response_timeout_ms": TIMEOUT_MS} for i, s in enumerate(sims)]}
    return cfg


def wait_log(gw, text, timeout=5.0, after=0):
    """A line with text in the gateway's stderr (from offset `after`)."""
    deadline = time.monotonic() + timeout
    while text not in gw.stderr()[after:]:
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line with {text!r}:\n{gw.stderr()[after:]}")
        time.sleep(0.05)


def setpoint(gw, asset_id, w, state="verified"):
    st, _, a = gw.request("PUT", f"/api/v1/assets/{asset_id}/setpoint",
                          body={"w": w, "duration_s": 3600}, auth="token")
    assert st == 200, (st, a)
    return wait_asset(gw, asset_id, lambda a: (a["setpoint"] or {}).get("state") == state,
                      f"set-point {w} W {state}")


def online(a):
    return a["online"] and a["battery"]["soc"] is not None


def offline(a):
    return not a["online"]


def assert_out_of_plan(a):
    """An offline asset: power unknown, envelope [0, 0] (out of the plan)."""
    assert not a["online"], a
    assert a["power_w"] is None, a
    assert a["envelope"] == {"min_w": 0, "max_w": 0}, a


def wait_offline(gw, asset_id, bound):
    t0 = time.monotonic()
    a = wait_asset(gw, asset_id, offline, "offline", timeout=bound)
    return a, time.monotonic() - t0


# ---- acceptance 1 -------------------------------------------------------------


def test_discovery_and_values():
    with Sim("--capacity-wh", "20000", "--soc", "62.5", "--soh", "97",
             "--max-charge-w", "4000", "--max-discharge-w", "3000") as sim, \
            Gateway(config(sim)) as gw:
        a = wait_asset(gw, "bat1", online, "online with a SoC", timeout=5)
        wait_log(gw, "bat1: SunSpec map at 40000, models: 1 802 124")
        wait_log(gw, f"bat1: device flexgw battery_sim, serial BSIM-{sim.port}-1")
        wait_log(gw, "bat1: online (unit 1 on bus tcp1)")
        assert a["adapter"] == "modbus", a
        b = a["battery"]
        assert b["soc"] == 62.5 and b["soh"] == 97, b
        assert b["capacity_wh"] == 20000, b  # the device's, not the config's 50000
        assert b["max_charge_w"] == 4000 and b["max_discharge_w"] == 3000, b
        assert a["power_w"] == 0, a
        # the envelope follows the device's limits at the gateway's next tick
        wait_asset(gw, "bat1", lambda a: a["envelope"] == {"min_w": -3000, "max_w": 4000},
                   "the device's limits in the envelope")
        # an alarm bit set on the device reaches the asset by name
        sim.send(cmd="set", point="alarm", value=2)
        wait_asset(gw, "bat1", lambda a: a["battery"]["alarms"] == "OVER_TEMP_ALARM",
                   "the 802 Evt1 alarm")
    # the marker at another base is found without configuring it
    with Sim("--base", "50000") as sim, Gateway(config(sim)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        wait_log(gw, "bat1: SunSpec map at 50000, models: 1 802 124")


def test_setpoints_move_soc_and_revert_after_kill():
    """Charge, then discharge: the simulator runs at the set-point and its
    SoC moves that way, and so does the asset's. The simulator's battery
    clock runs 100x (SoC moves visibly) but its revert timer counts real
    seconds (--revert-real), as flexgw renews the set-point every revert_s / 2
    of real time. So over more than revert_s with flexgw alive nothing
    reverts; after kill -9 the battery is back at 0 W within revert_s of the
    last write."""
    with Sim("--speed", "100", "--capacity-wh", "20000", "--soc", "50",
             "--max-charge-w", "5000", "--max-discharge-w", "5000") as sim:
        gw = Gateway(config(sim)).start()
        try:
            charge_discharge_kill(sim, gw)
        finally:
            if gw.proc.poll() is None:
                gw.kill9()
                print(gw.stderr())
            gw.check_sanitizers()
            gw.tmp.cleanup()


def charge_discharge_kill(sim, gw):
    wait_asset(gw, "bat1", online, "online", timeout=5)
    t_first = time.monotonic()
    a = setpoint(gw, "bat1", 4000)
    ev = sim.wait("setpoint", w=4000)
    assert ev["revert_s"] == REVERT_S, ev
    soc0 = sim.state()["soc"]
    time.sleep(2)  # 200 simulated s at 4 kW x 0.95 into 20 kWh: +1.06 %
    s = sim.state()
    assert s["w"] == 4000 and s["cmd_w"] == 4000, s
    assert s["soc"] > soc0 + 0.5, (soc0, s)
    a = wait_asset(gw, "bat1", lambda a: a["power_w"] == 4000 and
                   a["battery"]["soc"] > soc0 + 0.5, "charging at 4000 W, SoC up")

    a = setpoint(gw, "bat1", -3000)
    sim.wait("setpoint", w=-3000)
    soc1 = sim.state()["soc"]
    time.sleep(2)  # 200 s at -3 kW / 0.95 out of 20 kWh: -0.88 %
    s = sim.state()
    assert s["w"] == -3000, s
    assert s["soc"] < soc1 - 0.4, (soc1, s)
    wait_asset(gw, "bat1", lambda a: a["power_w"] == -3000 and
               a["battery"]["soc"] < soc1 - 0.4, "discharging at 3000 W, SoC down")

    # flexgw alive: renewed, never reverted, for more than revert_s
    while time.monotonic() - t_first < REVERT_S + 2:
        time.sleep(0.2)
    assert not sim.seen("reverted"), sim.seen("reverted")
    assert sim.state()["w"] == -3000
    # renewed: the whole sequence written again after revert_s / 2
    renewals = [e["t"] for e in sim.seen("setpoint") if e["w"] == -3000]
    assert renewals[-1] - renewals[0] >= (REVERT_S / 2 - 0.5) * 1000, renewals

    gw.kill9()
    t_kill = time.monotonic()
    last_write = max(e["t"] for e in sim.seen("setpoint"))
    ev = sim.wait("reverted", timeout=REVERT_S + 2)
    took = time.monotonic() - t_kill
    assert ev["from_w"] == -3000, ev
    assert REVERT_S - 0.5 <= (ev["t"] - last_write) / 1000 <= REVERT_S + 0.5, \
        (ev, last_write)
    s = sim.state()
    assert s["w"] == 0 and s["cmd_w"] == 0, s
    print(f"     reverted {took:.1f} s after kill -9 (revert_s {REVERT_S})")


def test_offline_and_recovery():
    """Bound asserted: offline within one poll interval (the wait for the next
    poll) plus (1 + retries) x response_timeout (that poll's request and its
    retry both unanswered), + SLACK_S: 0.5 + 0.6 + 0.4 = 1.5 s. That is
    docs/modbus.md's bound and lies within issue 5's "two poll intervals"
    plus the response timeout (1.3 s) + the same slack. A killed simulator
    refuses connections at once, so one poll interval + slack there."""
    with Sim("--speed", "100") as sim, Gateway(config(sim)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        sim.send(cmd="timeout", on=True)
        a, took = wait_offline(gw, "bat1", POLL_MS / 1000 + FAIL_S + SLACK_S)
        print(f"     silent: offline after {took:.2f} s")
        assert_out_of_plan(a)
        wait_log(gw, "bat1: offline: reading model")
        assert "timed out" in gw.stderr(), gw.stderr()
        st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 1000},
                              auth="token")
        assert st == 409, (st, j)
        time.sleep(2)
        # back: answered again -> online at the next attempt (back-off after a
        # few failures: at most 16 poll intervals, 8 s)
        sim.send(cmd="timeout", on=False)
        sim.send(cmd="set", point="power", value=2000)  # the device is charging
        a = wait_asset(gw, "bat1", lambda a: online(a) and a["power_w"] == 2000,
                       "online, values flowing", timeout=16 * POLL_MS / 1000 + 2)
        seen = a["last_seen"]
        soc = a["battery"]["soc"]
        wait_asset(gw, "bat1", lambda a: a["last_seen"] > seen and a["battery"]["soc"] > soc,
                   "last_seen and the SoC moving", timeout=3)
        setpoint(gw, "bat1", 1000)

        sim.kill()
        a, took = wait_offline(gw, "bat1", POLL_MS / 1000 + SLACK_S)
        print(f"     killed: offline after {took:.2f} s")
        assert_out_of_plan(a)
        sim.start()  # same port
        wait_asset(gw, "bat1", online, "back online after a restart",
                   timeout=16 * POLL_MS / 1000 + 2)


# ---- acceptance 3 -------------------------------------------------------------


def test_exceptions():
    """A device answering every request with an exception: offline with the
    exception in the log (also for the rediscovery, which is not "no marker"
    alone), online again when it answers."""
    with Sim() as sim, Gateway(config(sim)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        sim.send(cmd="exception", code=4, on=True)
        a, _ = wait_offline(gw, "bat1", POLL_MS / 1000 + SLACK_S)
        assert_out_of_plan(a)
        wait_log(gw, "bat1: offline: reading model 802 at 40070: Modbus exception: "
                 "Slave device or server failure")
        wait_log(gw, 'bat1: no SunSpec marker "SunS" at 40000, 50000 or 0 (Modbus '
                 "exception: Slave device or server failure)", timeout=3)
        sim.send(cmd="exception", on=False)
        wait_asset(gw, "bat1", online, "back online", timeout=16 * POLL_MS / 1000 + 2)


def test_garbage_sentinels_and_out_of_range():
    """The simulator's garbage: 802 SoC and W "not implemented", SoH 150 %,
    WHRtg_SF not implemented, 124 ChaState 3276.7 %. The device still
    answers, so the asset stays online; what cannot be believed is unknown
    (null), what was known and is not re-read keeps its value (capacity)."""
    with Sim("--capacity-wh", "20000") as sim, Gateway(config(sim)) as gw:
        wait_asset(gw, "bat1", lambda a: online(a) and a["battery"]["capacity_wh"] == 20000,
                   "online", timeout=5)
        at = len(gw.stderr())
        sim.send(cmd="garbage", on=True)
        a = wait_asset(gw, "bat1", lambda a: a["battery"]["soc"] is None, "SoC unknown")
        wait_log(gw, "bat1: not implemented on the device (sentinel value): 802/W, "
                 "802/SoC", after=at)
        wait_log(gw, "bat1: out of range, taken as unknown: 124/ChaState = 3276.7, "
                 "802/SoH = 150", after=at)
        a = wait_asset(gw, "bat1", lambda a: a["battery"]["soh"] is None, "SoH unknown")
        assert a["online"], a
        assert a["power_w"] is None, a
        assert a["battery"]["soc"] is None, a
        assert a["battery"]["capacity_wh"] == 20000, a
        # logged once, not at every poll
        time.sleep(3 * POLL_MS / 1000)
        assert gw.stderr().count("out of range, taken as unknown") == 1, gw.stderr()
        sim.send(cmd="garbage", on=False)
        a = wait_asset(gw, "bat1", lambda a: a["battery"]["soc"] == 50 and
                       a["battery"]["soh"] == 98 and a["power_w"] == 0, "values back")
        wait_log(gw, "bat1: all points readable again", after=at)
        wait_log(gw, "bat1: all values in range again", after=at)


def test_broken_chain():
    """802's length made to run past 65535: the poll sees the model changed
    (offline), the rediscovery names the fault; the models before it (only 1)
    are no use for a battery, so the asset stays offline; repaired, it comes
    back."""
    with Sim() as sim, Gateway(config(sim)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        sim.send(cmd="break_chain")
        a, _ = wait_offline(gw, "bat1", POLL_MS / 1000 + SLACK_S)
        assert_out_of_plan(a)
        wait_log(gw, "bat1: offline: model 802 at 40070 changed or does not decode")
        wait_log(gw, "bat1: SunSpec model chain at 40000 is broken after 1 models "
                 "(FG_ERANGE): SunSpec chain at 40000: model 802 at address 40070: "
                 "length 60000 runs past address 65535", timeout=3)
        wait_log(gw, "bat1: no SunSpec model flexgw can use for this asset")
        time.sleep(1)
        assert not gw.get("/api/v1/assets/bat1")[2]["online"]
        sim.send(cmd="break_chain", on=False)
        wait_asset(gw, "bat1", online, "back online", timeout=16 * POLL_MS / 1000 + 2)


def test_two_buses_one_silent():
    """bat1 (bus tcp1) stops answering; bat2 (bus tcp2) is charging. While
    tcp1's worker waits on timeouts, bat2 keeps being polled (last_seen
    advances every second, SoC rises), and GETs are answered quickly."""
    with Sim("--speed", "100") as s1, Sim("--speed", "100", "--soc", "20") as s2, \
            Gateway(config(s1, s2)) as gw:
        wait_asset(gw, "bat1", online, "online", timeout=5)
        wait_asset(gw, "bat2", online, "online", timeout=5)
        setpoint(gw, "bat2", 5000)
        s1.send(cmd="timeout", on=True)
        wait_offline(gw, "bat1", POLL_MS / 1000 + FAIL_S + SLACK_S)
        t0 = time.monotonic()
        seen, socs, worst = set(), [], 0.0
        while time.monotonic() - t0 < 5:
            t = time.monotonic()
            st, _, a = gw.get("/api/v1/assets/bat2", timeout=2)
            worst = max(worst, time.monotonic() - t)
            assert st == 200 and a["online"], a
            seen.add(a["last_seen"])
            socs.append(a["battery"]["soc"])
            time.sleep(0.1)
        print(f"     bat2 last_seen values in 5 s: {len(seen)}, slowest GET "
              f"{worst * 1000:.0f} ms")
        assert len(seen) >= 4, seen  # a new second stamped at (nearly) every one
        assert socs[-1] > socs[0] + 1, socs  # 5 kW at 100x into 10 kWh: ~+6.6 %
        assert worst < 0.5, worst
        assert not gw.get("/api/v1/assets/bat1")[2]["online"]
        s1.send(cmd="timeout", on=False)
        wait_asset(gw, "bat1", online, "bat1 back", timeout=16 * POLL_MS / 1000 + 2)


if __name__ == "__main__":
    run([test_discovery_and_values, test_setpoints_move_soc_and_revert_after_kill,
         test_offline_and_recovery, test_exceptions, test_garbage_sentinels_and_out_of_range,
         test_broken_chain, test_two_buses_one_silent])
