/* The real-time controller against the site simulator: each scenario runs a
 * simulated day (10 s steps) and asserts the physical outcome (peaks,
 * energies, island balance, switch counts), plus the volt-var curve point
 * by point, the options' errors, and garbage in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "realtime.h"
#include "rt_test.h"
#include "site_sim.h"

#define T0 1700006400 /* midnight UTC */
#define H 3600
#define DAY 86400
#define STEP 10
#define TOL_W 150.0 /* one step of load/PV drift at 10 s */

static const struct fg_sched_plugin *P;

static void *make(const char *json)
{
    return rt_make(P, json);
}

#define check rt_check

static void test_table(void **state)
{
    (void)state;
    assert_int_equal(P->abi, FG_SCHED_ABI_VERSION);
    assert_int_equal(P->size, sizeof(struct fg_sched_plugin));
    assert_string_equal(P->name, "realtime");
    assert_non_null(P->create);
    assert_non_null(P->realtime);
    assert_null(P->plan);
    assert_non_null(P->destroy);
}

/* kWmax: an 11 kW EV in the evening peak; the battery and EV curtailment
 * keep import under 6 kW all day, and the EV still gets its energy. */
static void test_kwmax(void **state)
{
    struct fg_sim_site s, u;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_battery(&s, "bat", 10000, 60, 5000);
    fg_sim_add_ev(&s, "ev", T0 + 17 * H, T0 + 23 * H, 20000, 11000, 1400);
    s.kw_max_w = 6000;
    u = s;
    assert_int_equal(fg_sim_run(&u, NULL, NULL, DAY, NULL, NULL), 0);
    check(u.st.peak_import_w > 10000, "uncontrolled peak", u.st.peak_import_w, 10000);
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, NULL, NULL), 0);
    check(s.st.peak_import_w <= 6000 + TOL_W, "controlled peak", s.st.peak_import_w,
          6000);
    check(s.ev[0].energy_wh >= 20000 * 0.99, "EV energy", s.ev[0].energy_wh, 20000);
    check(s.ev[0].below_min == 0, "EV set below its minimum", s.ev[0].below_min, 0);
    P->destroy(inst);
}

/* Self-consumption: the battery stores the PV surplus and releases it in
 * the evening; export drops by at least 40 % against no control. */
static void test_self_consumption(void **state)
{
    struct fg_sim_site s, u;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_battery(&s, "bat", 20000, 20, 5000);
    fg_sim_add_pv(&s, "pv", 5000, 1);
    u = s;
    fg_sim_run(&u, NULL, NULL, DAY, NULL, NULL);
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, NULL, NULL), 0);
    check(s.st.export_wh <= 0.6 * u.st.export_wh, "export Wh", s.st.export_wh,
          0.6 * u.st.export_wh);
    check(s.st.import_wh < u.st.import_wh - 3000, "import Wh", s.st.import_wh,
          u.st.import_wh - 3000);
    check(s.bat[0].soc_pct >= 10 - 0.1, "battery SoC >= soc_min", s.bat[0].soc_pct, 10);
    check(s.st.pv_curtailed_wh < 1, "PV curtailed without need", s.st.pv_curtailed_wh, 0);
    P->destroy(inst);
}

/* With export paying as much as any import, storing does not pay: the
 * battery leaves the surplus alone. */
static void test_price_no_storage(void **state)
{
    struct fg_sim_site s;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_battery(&s, "bat", 10000, 20, 5000);
    fg_sim_add_pv(&s, "pv", 5000, 1);
    for (int i = 0; i < FG_SIM_NSERIES; i++)
        s.price_export[i] = 0.40;
    void *inst = make("{}");
    fg_sim_run(&s, P, inst, 14 * H, NULL, NULL);
    check(s.bat[0].soc_pct <= 20.5, "battery charged although storing does not pay",
          s.bat[0].soc_pct, 20);
    P->destroy(inst);
}

struct window {
    int64_t from, to;
    double limit, peak;
};

static void dso_hook(struct fg_sim_site *s, void *ctx)
{
    struct window *w = ctx;
    /* the step just simulated ran at now - step with the limit then */
    if (s->now - s->step_s >= w->from && s->now - s->step_s < w->to)
        w->peak = fmax(w->peak, s->grid_w);
    s->import_max_w = s->now >= w->from && s->now < w->to ? w->limit : 1e6;
}

/* DSO congestion: import limited to 5 kW from 17:00 to 21:00 with two
 * 7.4 kW EVs charging; the limit holds, no EV runs below its minimum, the
 * EVs do not flap, and both are full by morning. */
static void test_dso_import_limit(void **state)
{
    struct fg_sim_site s;
    struct window w = {T0 + 17 * H, T0 + 21 * H, 5000, 0};
    (void)state;
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_ev(&s, "ev1", T0 + 16 * H, T0 + 24 * H - STEP, 20000, 7400, 1400);
    fg_sim_add_ev(&s, "ev2", T0 + 16 * H + 600, T0 + 24 * H - STEP, 20000, 7400, 1400);
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, dso_hook, &w), 0);
    check(w.peak <= w.limit + TOL_W, "import in the DSO window", w.peak, w.limit);
    for (int i = 0; i < 2; i++) {
        check(s.ev[i].energy_wh >= 20000 * 0.99, s.ev[i].id, s.ev[i].energy_wh, 20000);
        check(s.ev[i].below_min == 0, "EV set below its minimum", s.ev[i].below_min, 0);
        check(s.ev[i].switches <= 4, "EV pause/resume switches", s.ev[i].switches, 4);
    }
    P->destroy(inst);
}

/* DSO export limit: PV is curtailed so export stays under 2 kW. */
static void test_dso_export_limit(void **state)
{
    struct fg_sim_site s;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_pv(&s, "pv", 8000, 1);
    s.export_max_w = 2000;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, NULL, NULL), 0);
    check(s.st.peak_export_w <= 2000 + TOL_W, "peak export", s.st.peak_export_w, 2000);
    check(s.st.pv_curtailed_wh > 0, "PV curtailed", s.st.pv_curtailed_wh, 1);
    P->destroy(inst);
}

/* Fair sharing: three EVs under an 8 kW import limit, different departures;
 * all reach their energy by departure, never below minimum, few switches. */
static void test_fair_sharing(void **state)
{
    struct fg_sim_site s;
    static const struct {
        const char *id;
        int dep_h;
        double wh;
    } evs[] = {{"ev-early", 12, 14000}, {"ev-mid", 16, 18000}, {"ev-late", 20, 22000}};
    (void)state;
    fg_sim_init(&s, T0, STEP);
    s.import_max_w = 8000;
    for (int i = 0; i < 3; i++)
        fg_sim_add_ev(&s, evs[i].id, T0 + 8 * H, T0 + evs[i].dep_h * H, evs[i].wh, 7400,
                      1400);
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, NULL, NULL), 0);
    check(s.st.peak_import_w <= 8000 + TOL_W, "peak import", s.st.peak_import_w, 8000);
    for (int i = 0; i < 3; i++) {
        check(s.ev[i].energy_wh >= evs[i].wh * 0.99, evs[i].id, s.ev[i].energy_wh,
              evs[i].wh);
        check(s.ev[i].below_min == 0, "EV set below its minimum", s.ev[i].below_min, 0);
        check(s.ev[i].switches <= 6, "EV pause/resume switches", s.ev[i].switches, 6);
    }
    P->destroy(inst);
}

/* Capacity for only two minimums: the third EV is paused (never between 0
 * and its minimum) and the higher-priority EV is among those charging. */
static void test_min_charge_and_priority(void **state)
{
    struct fg_sim_site s;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    s.load_peak_w = 0;
    s.import_max_w = 500 + 2 * 1400 + 300;
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "ev%d", i);
        fg_sim_add_ev(&s, id, T0, T0 + DAY, 50000, 7400, 1400);
    }
    s.ev[2].priority = 5;
    void *inst = make("{}");
    fg_sim_run(&s, P, inst, H, NULL, NULL);
    int running = 0;
    for (int i = 0; i < 3; i++) {
        running += s.ev[i].running;
        check(s.ev[i].w == 0 || s.ev[i].w >= 1400 - 1e-6, "EV power", s.ev[i].w, 1400);
        check(s.ev[i].below_min == 0, "EV set below its minimum", s.ev[i].below_min, 0);
    }
    check(running == 2, "EVs running", running, 2);
    check(s.ev[2].running, "priority EV running", s.ev[2].running, 1);
    check(s.st.peak_import_w <= s.import_max_w + TOL_W, "peak import", s.st.peak_import_w,
          s.import_max_w);
    P->destroy(inst);
}

/* IEEE 1547-style default curve, evaluated independently of the module. */
static double curve(double v)
{
    static const double x[] = {0.92 * 230, 0.98 * 230, 1.02 * 230, 1.08 * 230};
    static const double y[] = {-0.44, 0, 0, 0.44};
    if (v <= x[0])
        return y[0];
    for (int i = 1; i < 4; i++)
        if (v <= x[i])
            return y[i - 1] + (y[i] - y[i - 1]) * (v - x[i - 1]) / (x[i] - x[i - 1]);
    return y[3];
}

static void test_volt_var_curve(void **state)
{
    struct fg_sched_asset a[2];
    struct fg_sched_setpoint buf[4];
    (void)state;
    void *inst = make("{}");
    memset(a, 0, sizeof a);
    for (int i = 0; i < 2; i++) {
        a[i].size = sizeof a[i];
        a[i].online = 1;
        a[i].caps = FG_SCHED_CAP_REACTIVE;
        a[i].power_w = a[i].min_w = a[i].max_w = NAN;
        a[i].soc_pct = a[i].available_w = NAN;
    }
    a[0].kind = FG_SCHED_PV;
    snprintf(a[0].id, sizeof a[0].id, "pv");
    a[0].min_w = -10000;
    a[0].max_w = 0;
    a[1].kind = FG_SCHED_BATTERY;
    snprintf(a[1].id, sizeof a[1].id, "bat");
    a[1].min_w = -5000;
    a[1].max_w = 5000;
    a[1].max_charge_w = a[1].max_discharge_w = 5000;
    for (double v = 200; v <= 260; v += 0.5) {
        struct fg_sched_view view = {.size = sizeof view, .abi = FG_SCHED_ABI_VERSION};
        struct fg_sched_setpoints out = {.cap = 4, .sp = buf};
        view.now = T0;
        view.site_power_w = 0;
        view.import_max_w = view.export_max_w = 1e5;
        view.kw_max_w = view.dispatch_w = view.reactive_var = NAN;
        view.site_voltage_v[0] = view.site_voltage_v[1] = view.site_voltage_v[2] = NAN;
        a[0].voltage_v = v;         /* the asset's own measurement */
        view.site_voltage_v[0] = v; /* the battery uses the site's */
        view.n_assets = 2;
        view.asset_stride = sizeof a[0];
        view.assets = a;
        assert_int_equal(P->realtime(inst, &view, &out), 0);
        assert_int_equal(out.n, 2);
        for (uint32_t i = 0; i < out.n; i++) {
            double rated = strcmp(buf[i].id, "pv") ? 5000 : 10000;
            double want = curve(v) * rated;
            assert_true(buf[i].flags & FG_SCHED_SP_VAR);
            if (fabs(buf[i].var - want) > 1e-6 * rated) {
                fprintf(stderr, "%s at %.1f V: var %.3f, curve %.3f\n", buf[i].id, v,
                        buf[i].var, want);
                fail();
            }
        }
    }
    P->destroy(inst);
}

/* In the simulator the PV's var follows the curve at the voltage it saw,
 * and pulls the midday voltage rise down against no control. */
static void test_volt_var_sim(void **state)
{
    struct fg_sim_site s, u;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_pv(&s, "pv", 12000, 0)->caps = FG_SCHED_CAP_REACTIVE;
    u = s;
    fg_sim_run(&u, NULL, NULL, 12 * H, NULL, NULL);
    double v_uncontrolled = u.voltage_v;
    void *inst = make("{}");
    double v_seen = s.voltage_v;
    for (int i = 0; i < 12 * H / STEP; i++) {
        v_seen = s.voltage_v;
        fg_sim_run(&s, P, inst, STEP, NULL, NULL);
    }
    check(fabs(s.pv[0].var - curve(v_seen) * 12000) < 1, "var on the curve", s.pv[0].var,
          curve(v_seen) * 12000);
    check(s.voltage_v < v_uncontrolled - 2, "noon voltage", s.voltage_v, v_uncontrolled);
    P->destroy(inst);
}

static void dispatch_hook(struct fg_sim_site *s, void *ctx)
{
    struct window *w = ctx;
    if (s->now - s->step_s > w->from && s->now - s->step_s < w->to)
        w->peak = fmax(w->peak, fabs(s->grid_w - w->limit));
    s->dispatch_w = s->now >= w->from && s->now < w->to ? w->limit : NAN;
}

/* A BRP dispatch target (export 2 kW from 02:00 to 03:00): the battery
 * follows it at the connection point. */
static void test_dispatch(void **state)
{
    struct fg_sim_site s;
    struct window w = {T0 + 2 * H, T0 + 3 * H, -2000, 0};
    (void)state;
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_battery(&s, "bat", 20000, 80, 5000);
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, 4 * H, dispatch_hook, &w), 0);
    check(w.peak <= TOL_W, "distance from the dispatch target", w.peak, 0);
    P->destroy(inst);
}

/* Volt-watt: at 1.08 pu (halfway between 1.06 and 1.10) PV may export at
 * most half of what it could. */
static void test_volt_watt(void **state)
{
    struct fg_sim_site s;
    struct fg_sched_view v;
    struct fg_sched_setpoint buf[8];
    struct fg_sched_setpoints out = {.cap = 8, .sp = buf};
    (void)state;
    fg_sim_init(&s, T0 + 12 * H, STEP);
    fg_sim_add_pv(&s, "pv", 8000, 1);
    s.voltage_v = 1.08 * 230;
    s.stepped = 1;
    s.grid_w = -7500;
    s.pv[0].w = -8000;
    void *inst = make("{}");
    fg_sim_view(&s, &v);
    assert_int_equal(P->realtime(inst, &v, &out), 0);
    assert_int_equal(out.n, 1);
    check(buf[0].w >= -4000 - 1e-6 && buf[0].w <= -3000, "PV set-point at 1.08 pu",
          buf[0].w, -4000);
    P->destroy(inst);
}

struct island_script {
    int64_t from, to;
};

static void island_hook(struct fg_sim_site *s, void *ctx)
{
    const struct island_script *w = ctx;
    s->island = s->now >= w->from && s->now < w->to;
}

/* Islanding at midday (PV far above the load) and in the evening: the
 * grid-forming battery holds the island within its limits, the load is
 * shed, PV curtailed, the EV paused; afterwards everything is back. */
static void island_case(int64_t from, int64_t to)
{
    struct fg_sim_site s;
    struct island_script w = {from, to};
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_battery(&s, "bat", 20000, 50, 3000)->caps = FG_SCHED_CAP_GRID_FORMING;
    fg_sim_add_pv(&s, "pv", 8000, 1);
    fg_sim_add_load(&s, "heater", 2000);
    fg_sim_add_ev(&s, "ev", T0 + 8 * H, T0 + 23 * H, 90000, 7400, 1400);
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, to - T0, island_hook, &w), 0);
    check(s.st.island_steps >= (to - from) / STEP - 1, "island steps", s.st.island_steps,
          (double)(to - from) / STEP);
    check(s.st.island_max_abs_w <= 50, "island imbalance", s.st.island_max_abs_w, 0);
    check(s.st.island_batt_excess_w <= 50, "battery beyond its limits",
          s.st.island_batt_excess_w, 0);
    check(s.bat[0].grid_forming, "battery grid-forming in the island", 0, 1);
    check(!s.load[0].connected, "load shed in the island", 1, 0);
    double ev_wh = s.ev[0].energy_wh;
    fg_sim_run(&s, P, inst, 30 * 60, island_hook, &w);
    check(!s.bat[0].grid_forming, "battery back to grid-following", 1, 0);
    check(s.load[0].connected, "load reconnected", 0, 1);
    check(s.ev[0].energy_wh > ev_wh + 1000, "EV charging again", s.ev[0].energy_wh,
          ev_wh + 1000);
    check(s.bat[0].soc_pct >= 10 - 0.1 && s.bat[0].soc_pct <= 95 + 0.1, "battery SoC",
          s.bat[0].soc_pct, 50);
    P->destroy(inst);
}

static void test_island_midday(void **state)
{
    (void)state;
    island_case(T0 + 11 * H, T0 + 13 * H);
}

static void test_island_evening(void **state)
{
    (void)state;
    island_case(T0 + 18 * H, T0 + 19 * H);
}

static void no_nan(const struct fg_sched_setpoints *out)
{
    for (uint32_t i = 0; i < out->n; i++) {
        if (!isfinite(out->sp[i].w) || !isfinite(out->sp[i].var)) {
            fprintf(stderr, "set-point %s: w %g var %g\n", out->sp[i].id, out->sp[i].w,
                    out->sp[i].var);
            fail();
        }
    }
}

struct soc_window {
    int64_t from, to;
    double target, import_max, export_max;
    double reached_at;       /* first time within 1 % of the target, 0 none */
    double hold_lo, hold_hi; /* SoC range after reaching it, in the window */
    double peak_import, peak_export;
};

static void soc_hook(struct fg_sim_site *s, void *ctx)
{
    struct soc_window *w = ctx;
    int64_t t = s->now - s->step_s; /* the step just simulated */
    double soc = s->bat[0].soc_pct;
    if (t >= w->from && t < w->to) {
        w->peak_import = fmax(w->peak_import, s->grid_w);
        w->peak_export = fmax(w->peak_export, -s->grid_w);
        if (!w->reached_at && fabs(soc - w->target) < 1)
            w->reached_at = (double)s->now;
        if (w->reached_at) {
            w->hold_lo = fmin(w->hold_lo, soc);
            w->hold_hi = fmax(w->hold_hi, soc);
        }
    }
    int in = s->now >= w->from && s->now < w->to;
    s->soc_target_pct = in ? w->target : NAN;
    s->soc_target_until = in ? w->to : 0;
    s->import_max_w = in ? w->import_max : 1e6;
    s->export_max_w = in ? w->export_max : 1e6;
}

/* A charge_state signal (OpenADR CHARGE_STATE): the battery goes to the
 * target as fast as the site's bounds let it, holds it to the window's end,
 * and the import / export limits of the window still hold. Up from 30 % to
 * 90 % under a 3 kW import limit (the battery alone could take 5 kW), down
 * from 80 % to 20 % under a 1 kW export limit. */
static void test_charge_state(void **state)
{
    (void)state;
    struct {
        double soc0, target, import_max, export_max;
    } c[] = {{30, 90, 3000, 1e6}, {80, 20, 1e6, 1000}};
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        struct fg_sim_site s;
        struct soc_window w = {T0 + 2 * H,
                               T0 + 14 * H,
                               c[k].target,
                               c[k].import_max,
                               c[k].export_max,
                               0,
                               100,
                               0,
                               0,
                               0};
        fg_sim_init(&s, T0, STEP);
        fg_sim_add_battery(&s, "bat", 10000, c[k].soc0, 5000);
        void *inst = make("{}");
        /* until the window: self-consumption (no PV: it serves the load) */
        assert_int_equal(fg_sim_run(&s, P, inst, 2 * H, soc_hook, &w), 0);
        check(s.bat[0].soc_pct <= c[k].soc0 + 0.1, "SoC before the window",
              s.bat[0].soc_pct, c[k].soc0);
        assert_int_equal(fg_sim_run(&s, P, inst, 12 * H, soc_hook, &w), 0);
        check(w.reached_at > 0, "target reached", s.bat[0].soc_pct, c[k].target);
        /* 6 kWh at what the limit leaves beside the 0.5-2 kW load: well
         * within 6 h; down: 6 kWh at up to 1 kW export plus the load */
        double took_h = (w.reached_at - (double)w.from) / H;
        check(took_h < 6, "hours to reach the target", took_h, 6);
        check(w.hold_lo >= c[k].target - 1 && w.hold_hi <= c[k].target + 1,
              "SoC held at the target", w.hold_hi - w.hold_lo, 0);
        check(w.peak_import <= c[k].import_max + TOL_W, "import in the window",
              w.peak_import, c[k].import_max);
        check(w.peak_export <= c[k].export_max + TOL_W, "export in the window",
              w.peak_export, c[k].export_max);
        fprintf(stderr,
                "charge_state %.0f -> %.0f %%: reached after %.2f h, held in "
                "[%.2f, %.2f] %%, peak import %.0f W, export %.0f W\n",
                c[k].soc0, c[k].target, took_h, w.hold_lo, w.hold_hi, w.peak_import,
                w.peak_export);
        P->destroy(inst);
    }
}

/* A view from a writer without the charge-state fields (size before them),
 * or zeroed ones (soc_target_until 0): no target, self-consumption. */
static void test_charge_state_absent(void **state)
{
    (void)state;
    struct fg_sim_site s;
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_battery(&s, "bat", 10000, 30, 5000);
    s.soc_target_pct = 90;
    s.soc_target_until = 0; /* not in force */
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, H, NULL, NULL), 0);
    check(s.bat[0].soc_pct <= 30, "SoC without a target in force (self-consumption)",
          s.bat[0].soc_pct, 30);
    struct fg_sched_view v;
    fg_sim_view(&s, &v);
    v.soc_target_until = v.now + H;
    v.size = offsetof(struct fg_sched_view, soc_target_pct); /* an older writer */
    struct fg_sched_setpoint sp[8];
    struct fg_sched_setpoints out = {.cap = 8, .sp = sp};
    assert_int_equal(P->realtime(inst, &v, &out), 0);
    assert_int_equal(out.n, 1);
    check(sp[0].w <= 0, "older view: battery set-point (serves the load)", sp[0].w, 0);
    v.size = sizeof v; /* the same view with the fields: charges */
    assert_int_equal(P->realtime(inst, &v, &out), 0);
    check(sp[0].w > 4900, "battery set-point with the target", sp[0].w, 5000);
    P->destroy(inst);
}

/* NAN everywhere, offline assets, no assets, no room for set-points. */
static void test_garbage(void **state)
{
    struct fg_sim_site s;
    struct fg_sched_view v;
    struct fg_sched_setpoint buf[64];
    struct fg_sched_setpoints out = {.cap = 64, .sp = buf};
    (void)state;
    void *inst = make("{}");
    fg_sim_init(&s, T0 + 12 * H, STEP);
    fg_sim_add_battery(&s, "bat", 10000, 50, 3000)->caps = 3;
    fg_sim_add_pv(&s, "pv", 8000, 1)->caps = FG_SCHED_CAP_REACTIVE;
    fg_sim_add_ev(&s, "ev", T0, T0 + DAY, 10000, 7400, 1400);
    fg_sim_add_load(&s, "heater", 2000);
    for (int island = 0; island < 2; island++) {
        s.island = (uint32_t)island;
        fg_sim_view(&s, &v);
        v.site_power_w = v.import_max_w = v.export_max_w = v.kw_max_w = NAN;
        for (int i = 0; i < 3; i++)
            v.site_voltage_v[i] = NAN;
        for (uint32_t i = 0; i < v.n_assets; i++) {
            struct fg_sched_asset *a = &s.assets[i];
            a->power_w = a->min_w = a->max_w = a->soc_pct = a->available_w = NAN;
            a->energy_wh = a->energy_requested_wh = a->min_charge_w = NAN;
            a->max_charge_w = a->max_discharge_w = a->voltage_v = NAN;
        }
        assert_int_equal(P->realtime(inst, &v, &out), 0);
        no_nan(&out);
        for (uint32_t i = 0; i < v.n_assets; i++)
            s.assets[i].online = 0;
        assert_int_equal(P->realtime(inst, &v, &out), 0);
        no_nan(&out);
    }
    v.n_assets = 0;
    v.assets = NULL;
    assert_int_equal(P->realtime(inst, &v, &out), 0);
    assert_int_equal(out.n, 0);
    fg_sim_view(&s, &v);
    out.cap = 1;
    assert_int_equal(P->realtime(inst, &v, &out), 0);
    assert_true(out.n <= 1);
    v.size = 8; /* a writer older than any version */
    assert_int_not_equal(P->realtime(inst, &v, &out), 0);
    assert_non_null(strstr(out.note, "size"));
    P->destroy(inst);
}

static void test_options(void **state)
{
    static const struct {
        const char *json, *err;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"hysteresis\": 5}", "/hysteresis: unknown option"},
        {"{\"min_dwell_s\": -1}", "/min_dwell_s: must be a number in [0, 86400]"},
        {"{\"volt_var\": {\"v_pu\": [1, 0.9, 1.1, 1.2]}}",
         "/volt_var/v_pu: must be increasing"},
        {"{\"volt_var\": {\"q_pct\": [1, 2]}}", "/volt_var/q_pct: must be an array of 4"},
        {"{\"volt_watt\": {\"v_start_pu\": 1.1, \"v_end_pu\": 1.05}}",
         "/volt_watt/v_end_pu: must be above v_start_pu"},
        {"{\"volt_watt\": {\"x\": 1}}", "/volt_watt/x: unknown option"},
    };
    char err[256];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        void *inst = P->create(NULL, bad[i].json, err, sizeof err);
        if (inst || !strstr(err, bad[i].err)) {
            fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", bad[i].json, err,
                    bad[i].err);
            fail();
        }
    }
    P->destroy(make("{\"hysteresis_w\": 50, \"min_dwell_s\": 600, \"v_nominal\": 240, "
                    "\"volt_var\": {\"v_pu\": [0.9, 0.97, 1.03, 1.1], "
                    "\"q_pct\": [-30, 0, 0, 30]}, \"volt_watt\": {\"v_start_pu\": 1.05, "
                    "\"v_end_pu\": 1.09}, \"price_margin\": 0.02, "
                    "\"island_margin_pct\": 5}"));
    P->destroy(make(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_kwmax),
        cmocka_unit_test(test_self_consumption),
        cmocka_unit_test(test_price_no_storage),
        cmocka_unit_test(test_dso_import_limit),
        cmocka_unit_test(test_dso_export_limit),
        cmocka_unit_test(test_fair_sharing),
        cmocka_unit_test(test_min_charge_and_priority),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_volt_watt),
        cmocka_unit_test(test_volt_var_curve),
        cmocka_unit_test(test_volt_var_sim),
        cmocka_unit_test(test_island_midday),
        cmocka_unit_test(test_island_evening),
        cmocka_unit_test(test_charge_state),
        cmocka_unit_test(test_charge_state_absent),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_options),
    };
    P = fg_sched_realtime_plugin();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
