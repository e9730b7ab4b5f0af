"""flexgw against a whole simulated site on ONE Modbus/TCP gateway (issue 5):
battery_sim serving three unit ids on one port, all on one flexgw bus:

- unit 1: the battery, controlled through SunSpec 704 (--battery-704:
  WSet, WSetRvrtTms, WSetEna) instead of 124;
- unit 2: a PV inverter (1 + 103 + 704) whose output follows a settable
  irradiance, capped by 704's WMaxLimPct when WMaxLimPctEna, with revert;
- unit 3: a wye meter (1 + 203) reading the site balance: base load - PV +
  battery (+ = import), per-phase voltages 230 / 231.5 / 228.5 V.

Asserted: each device's values reach the model (pv1's power, the site
meter's power and per-phase V and A); all three keep being polled
(last_seen advances, changes on the simulator show up); a PV curtailment
writes WMaxLimPct/Ena/RvrtTms, the simulated output drops to the limit and
the meter sees it, release restores; a reactive power set-point ("var")
goes out through 704 VarSet (sign: API + = absorbing, 704 + = injecting)
and is read back, a value the device refuses is "rejected"; a var target
for a device or adapter without reactive control is a 422 and changes
nothing; the battery's charge / discharge set-points via WSet; after
kill -9 of flexgw the battery's WSet and the PV limit both revert.

Environment (set by ctest): FLEXGW, BATTERY_SIM, FG_SOURCE_DIR."""

import time

from fgtest import Gateway, base_config, run, wait_asset
from test_modbus_sim import REVERT_S, RETRIES, TIMEOUT_MS, Sim, wait_log

POLL_MS = 500
PV_RATED = 10000
PHASE_V = [230.0, 231.5, 228.5]


def site_sim():
    return Sim("--battery-704", "--pv-unit", "2", "--meter-unit", "3",
               "--pv-rated-w", str(PV_RATED), "--irradiance", "800",
               "--base-load-w", "2000")


def dev(unit):
    return {"bus": "tcp1", "unit_id": unit, "poll_interval_ms": POLL_MS,
            "retries": RETRIES, "revert_s": REVERT_S}


def site_config(sim):
    cfg = base_config()
    cfg["site"]["assets"] = [
        {"id": "bat1", "kind": "battery", "adapter": "modbus", "capacity_wh": 10000,
         "max_charge_w": 5000, "max_discharge_w": 5000, "modbus": dev(1)},
        {"id": "pv1", "kind": "pv", "adapter": "modbus", "rated_w": PV_RATED,
         "modbus": dev(2)},
        # an in-process battery: the sim adapter has no reactive control
        {"id": "sbat", "kind": "battery", "capacity_wh": 10000, "max_charge_w": 5000,
         "max_discharge_w": 5000, "sim": {"initial_soc": 50}},
    ]
    cfg["modbus"] = {"enabled": True,
                     "buses": [{"id": "tcp1", "tcp": f"127.0.0.1:{sim.port}",
                                "response_timeout_ms": TIMEOUT_MS}],
                     "site_meter": dev(3)}
    return cfg


def site(gw):
    st, _, m = gw.get("/api/v1/site")
    assert st == 200, (st, m)
    return m["site"]


def wait_site(gw, pred, what, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        s = site(gw)
        if pred(s):
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"site: expected {what}; got {s}")
        time.sleep(0.05)


def put_sp(gw, asset_id, body):
    return gw.request("PUT", f"/api/v1/assets/{asset_id}/setpoint",
                      body=dict(body, duration_s=3600), auth="token")


def sp_state(gw, asset_id, body, state="verified"):
    st, _, a = put_sp(gw, asset_id, body)
    assert st == 200, (st, a)
    return wait_asset(gw, asset_id,
                      lambda a: (a["setpoint"] or {}).get("state") == state,
                      f"set-point {body} {state}")


def near(a, b, tol=0.02):
    return a is not None and abs(a - b) <= tol


def test_site_on_one_bus():
    with site_sim() as sim:
        gw = Gateway(site_config(sim)).start()
        try:
            readings_and_polling(sim, gw)
            pv_curtailment_and_var(sim, gw)
            battery_704_and_revert_after_kill(sim, gw)
        finally:
            if gw.proc.poll() is None:
                gw.kill9()
                print(gw.stderr())
            gw.check_sanitizers()
            gw.tmp.cleanup()


def readings_and_polling(sim, gw):
    bat = wait_asset(gw, "bat1", lambda a: a["online"], "bat1 online", timeout=5)
    pv = wait_asset(gw, "pv1", lambda a: a["online"] and a["power_w"] == -8000,
                    "pv1 online at 8000 W", timeout=5)
    wait_log(gw, "bat1: SunSpec map at 40000, models: 1 802 704")
    wait_log(gw, "pv1: SunSpec map at 40000, models: 1 103 704")
    wait_log(gw, "site_meter: SunSpec map at 40000, models: 1 203")
    wait_log(gw, f"pv1: device flexgw pv_sim, serial BSIM-{sim.port}-2")
    wait_log(gw, "pv1: online (unit 2 on bus tcp1)")
    assert pv["pv"]["available_w"] == 8000 and pv["pv"]["limit_w"] is None, pv
    assert pv["reactive_var"] == 0, pv
    assert bat["power_w"] == 0 and bat["battery"]["soc"] == 50, bat
    # the meter: 2000 base - 8000 PV + 0 battery; phases apart by voltage
    s = wait_site(gw, lambda s: s["meter_power_w"] == -6000, "meter at -6000 W")
    assert s["meter_v"] == PHASE_V, s
    for p in range(3):
        assert near(s["meter_a"][p], -6000 / 3 / PHASE_V[p]), s
    # all three keep being polled on the shared bus
    seen = {i: wait_asset(gw, i, lambda a: True, "")["last_seen"] for i in ("bat1", "pv1")}
    sim.send(cmd="set", point="irradiance", value=600)
    sim.send(cmd="set", point="base_load_w", value=2500)
    sim.send(cmd="set", point="soc", value=55)
    wait_asset(gw, "pv1", lambda a: a["power_w"] == -6000, "pv1 follows irradiance")
    wait_site(gw, lambda s: s["meter_power_w"] == 2500 - 6000, "meter follows")
    wait_asset(gw, "bat1", lambda a: a["battery"]["soc"] == 55, "bat1 follows its SoC")
    time.sleep(2.2)
    for i in ("bat1", "pv1"):
        a = wait_asset(gw, i, lambda a: True, "")
        assert a["online"] and a["last_seen"] >= seen[i] + 2, (seen[i], a)
    sim.send(cmd="set", point="irradiance", value=800)
    sim.send(cmd="set", point="base_load_w", value=2000)
    wait_site(gw, lambda s: s["meter_power_w"] == -6000, "meter back at -6000 W")


def pv_curtailment_and_var(sim, gw):
    # curtail to 3 kW: WMaxLimPct 30 %, revert time, enable; output capped
    a = sp_state(gw, "pv1", {"w": -3000})
    ev = sim.wait("pv_setpoint", limit_enabled=True)
    assert ev["limit_pct"] == 30 and ev["limit_revert_s"] == REVERT_S, ev
    assert sim.state()["pv"]["w"] == 3000
    a = wait_asset(gw, "pv1", lambda a: a["power_w"] == -3000 and
                   a["pv"]["limit_w"] == 3000, "pv1 curtailed to 3000 W")
    assert a["setpoint"]["w"] == -3000 and "var" not in a["setpoint"], a
    wait_site(gw, lambda s: s["meter_power_w"] == 2000 - 3000, "meter sees the cut")

    # reactive power: -1500 var = injecting 1500 var; 704 VarSet = +1500
    a = sp_state(gw, "pv1", {"w": -3000, "var": -1500})
    assert a["setpoint"]["var"] == -1500, a
    ev = sim.wait("pv_setpoint", var_enabled=True)
    assert ev["var"] == 1500 and ev["var_revert_s"] == REVERT_S, ev
    s = sim.state()["pv"]
    assert s["var"] == 1500 and s["w"] == 3000, s
    wait_asset(gw, "pv1", lambda a: a["reactive_var"] == -1500, "pv1 injecting 1500 var")
    # beyond the inverter's 4400 var: refused by the device, reported
    a = sp_state(gw, "pv1", {"w": -3000, "var": 5000}, state="rejected")
    assert "VarSet" in a["setpoint"]["detail"], a
    assert sim.state()["pv"]["var"] == 1500  # unchanged
    # a set-point without var hands reactive power back to the device
    sp_state(gw, "pv1", {"w": -3000})
    sim.wait("pv_setpoint", var_enabled=False)
    wait_asset(gw, "pv1", lambda a: a["reactive_var"] == 0, "var released")

    # no reactive control: a 422, and the previous set-point stays
    st, _, body = put_sp(gw, "sbat", {"w": 1000, "var": 500})
    assert st == 422 and body["path"] == "/var", (st, body)
    assert "the sim adapter cannot control reactive power" in body["error"], body
    _, _, a = gw.get("/api/v1/assets/sbat")
    assert a["setpoint"] is None, a
    st, _, body = put_sp(gw, "pv1", {"w": -3000, "var": "x"})
    assert st == 400, (st, body)

    # release: the limit off, full output again
    st, _, a = gw.request("DELETE", "/api/v1/assets/pv1/setpoint", auth="token")
    assert st == 200, (st, a)
    sim.wait("pv_setpoint", limit_enabled=False)
    wait_asset(gw, "pv1", lambda a: a["power_w"] == -8000 and a["pv"]["limit_w"] is None,
               "pv1 released to 8000 W")
    assert sim.state()["pv"]["w"] == 8000


def battery_704_and_revert_after_kill(sim, gw):
    sp_state(gw, "bat1", {"w": 3000})
    ev = sim.wait("setpoint", w=3000)
    assert ev["revert_s"] == REVERT_S, ev
    assert sim.state()["w"] == 3000
    wait_asset(gw, "bat1", lambda a: a["power_w"] == 3000, "bat1 charging 3000 W")
    wait_site(gw, lambda s: s["meter_power_w"] == 2000 - 8000 + 3000, "meter sees it")
    sp_state(gw, "bat1", {"w": -2000})
    sim.wait("setpoint", w=-2000)
    assert sim.state()["w"] == -2000
    wait_asset(gw, "bat1", lambda a: a["power_w"] == -2000, "bat1 discharging 2000 W")
    # the battery's 704 has VarSet but this battery no reactive range: refused
    a = sp_state(gw, "bat1", {"w": -2000, "var": 500}, state="rejected")
    assert "VarSet" in a["setpoint"]["detail"], a
    sp_state(gw, "bat1", {"w": -2000})
    # and a curtailed PV, to see both revert
    sp_state(gw, "pv1", {"w": -4000})
    sim.wait("pv_setpoint", limit_enabled=True, limit_pct=40)
    assert not sim.seen("reverted"), sim.seen("reverted")

    gw.kill9()
    t_kill = time.monotonic()
    ev = sim.wait("reverted", timeout=REVERT_S + 2, from_w=-2000)
    ev2 = sim.wait("reverted", timeout=REVERT_S + 2, what="WMaxLimPct")
    took = time.monotonic() - t_kill
    assert took <= REVERT_S + 1, took
    s = sim.state()
    assert s["w"] == 0 and s["cmd_w"] == 0, s
    assert s["pv"]["w"] == 8000 and not s["pv"]["limit_enabled"], s
    assert s["meter"]["w"] == 2000 - 8000, s
    print(f"     battery and PV reverted {took:.1f} s after kill -9 ({ev}, {ev2})")


def test_no_reactive_control_is_422():
    """A battery with 124 only (no 704) cannot take a var target: 422 at
    once, nothing written, the model keeps the set-point it had."""
    with Sim() as sim:
        cfg = site_config(sim)
        cfg["site"]["assets"] = cfg["site"]["assets"][:1]
        del cfg["modbus"]["site_meter"]
        with Gateway(cfg) as gw:
            wait_asset(gw, "bat1", lambda a: a["online"], "online", timeout=5)
            wait_log(gw, "bat1: SunSpec map at 40000, models: 1 802 124")
            sp_state(gw, "bat1", {"w": 1000})
            sim.wait("setpoint", w=1000)
            writes = len(sim.seen("write"))
            st, _, body = put_sp(gw, "bat1", {"w": 2000, "var": 300})
            assert st == 422, (st, body)
            assert body["path"] == "/var", body
            assert "no reactive-power control (SunSpec 704 VarSet)" in body["error"], body
            time.sleep(0.3)
            assert len(sim.seen("write")) == writes, sim.seen("write")[writes:]
            _, _, a = gw.get("/api/v1/assets/bat1")
            assert a["setpoint"]["w"] == 1000 and "var" not in a["setpoint"], a


if __name__ == "__main__":
    run([test_site_on_one_bus, test_no_reactive_control_is_422])
