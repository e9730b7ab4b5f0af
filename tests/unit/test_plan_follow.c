/* The real-time controller following a plan (view->plan_created,
 * plan_site_w, asset plan_w) on the site simulator, 10 s steps: a day
 * planned by the real planner (COIN-OR Cbc) with load and PV off their
 * forecast, a BRP portfolio target, V2G on a negative plan, a reactive-power
 * target, an EV newer than the plan and a plan that ends, and the
 * self-consumption guard against a stale meter. Each test asserts the
 * physical outcome; the figures seen are printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "realtime.h"
#include "rt_test.h"
#include "site_sim.h"

#define T0 1700006400 /* midnight UTC */
#define H 3600
#define DAY 86400
#define STEP 10
#define ISP 900
#define NISP 96
#define TOL_W 150.0 /* one step of load/PV drift at 10 s */

static const struct fg_sched_plugin *P;

static void *make(const char *json)
{
    return rt_make(P, json);
}

#define check rt_check

/* ---- the plan as the host hands it over -------------------------------- */

#define MAXA (4 * FG_SIM_MAX)

/* A plan: per asset id its power per ISP from start, the site power per
 * ISP, when it was made and until when it reaches (plan_site_w NAN after). */
struct plan {
    int64_t created, start, ends;
    uint32_t n_isp, n_assets;
    char id[MAXA][FG_SCHED_ID_MAX];
    double w[MAXA][NISP + 1];
    double site[NISP + 1];
    int solves;
};

static int plan_asset(const struct plan *pl, const char *id)
{
    for (uint32_t a = 0; a < pl->n_assets; a++)
        if (!strcmp(pl->id[a], id))
            return (int)a;
    return -1;
}

/* What the host fills: plan_created, plan_site_w for now's ISP (NAN past the
 * plan), each asset's plan_w (NAN for an EV session newer than the plan). */
static void plan_view(const struct plan *pl, struct fg_sched_view *v)
{
    if (!pl->created)
        return;
    int64_t i = (v->now - pl->start) / ISP;
    int in = v->now >= pl->start && i < (int64_t)pl->n_isp && v->now < pl->ends;
    v->plan_created = pl->created;
    v->plan_site_w = in ? pl->site[i] : NAN;
    for (uint32_t k = 0; k < v->n_assets; k++) {
        struct fg_sched_asset *a = (struct fg_sched_asset *)fg_sched_asset_at(v, k);
        int j = plan_asset(pl, a->id);
        int newer = a->kind == FG_SCHED_EVSE && a->session && a->arrival > pl->created;
        a->plan_w = in && j >= 0 && !newer ? pl->w[j][i] : NAN;
    }
}

/* Run the planner on view v (as the planner plugin's plan() does) and keep
 * the plan: view assets by id, the site power = every row of the problem
 * (the load forecast included). */
static void replan(struct plan *pl, const struct fg_sched_view *v)
{
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    fg_plan_problem_init(&p);
    p.time_limit_s = 60;
    assert_int_equal(fg_plan_from_view(v, NULL, NISP, 0.3, &p, &err), 0);
    int rc = fg_plan_solve(&p, &r, &err);
    if (rc)
        fprintf(stderr, "plan: %s\n", err.msg);
    assert_int_equal(rc, 0);
    pl->created = v->now;
    pl->start = p.start;
    pl->ends = INT64_MAX;
    pl->n_isp = r.n_isp < NISP ? r.n_isp : NISP;
    pl->n_assets = v->n_assets;
    for (uint32_t a = 0; a < v->n_assets; a++) {
        snprintf(pl->id[a], FG_SCHED_ID_MAX, "%s", fg_sched_asset_at(v, a)->id);
        for (uint32_t t = 0; t < pl->n_isp; t++)
            pl->w[a][t] = r.w[(size_t)a * r.n_isp + t];
    }
    for (uint32_t t = 0; t < pl->n_isp; t++) {
        pl->site[t] = 0;
        for (uint32_t a = 0; a < r.n_assets; a++)
            pl->site[t] += r.w[(size_t)a * r.n_isp + t];
    }
    pl->solves++;
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
}

/* ---- per-ISP accounting -------------------------------------------------- */

/* The site's energy per ISP, the target it had, and whether the battery had
 * room all through it (SoC off its limits, power off its limits). */
struct isp_log {
    struct plan *pl;       /* plan to follow and replan; NULL none */
    int replan_on_arrival; /* replan when an EV newer than the plan arrives */
    const double *target;  /* or a per-ISP target from t0 (BRP) */
    double wh[NISP], want_wh[NISP];
    double ev_wh[NISP], ev_plan_wh[NISP]; /* the first EV's */
    int room[NISP], has_target[NISP];
    int64_t isp_first; /* first ISP counted (plan in force from its start) */
};

static void on_view(struct fg_sim_site *s, struct fg_sched_view *v, void *ctx)
{
    struct isp_log *L = ctx;
    (void)s;
    if (!L->pl)
        return;
    if (L->replan_on_arrival)
        for (uint32_t k = 0; k < v->n_assets; k++) {
            const struct fg_sched_asset *a = fg_sched_asset_at(v, k);
            if (a->kind == FG_SCHED_EVSE && a->session && a->arrival > L->pl->created)
                replan(L->pl, v);
        }
    plan_view(L->pl, v);
}

static double plan_target(const struct isp_log *L, int64_t t)
{
    int64_t i = (t - T0) / ISP;
    if (L->target)
        return i >= 0 && i < NISP ? L->target[i] : NAN;
    const struct plan *pl = L->pl;
    int64_t j = (t - pl->start) / ISP;
    return t >= pl->start && j < (int64_t)pl->n_isp && t < pl->ends ? pl->site[j] : NAN;
}

static void on_step(struct fg_sim_site *s, void *ctx)
{
    struct isp_log *L = ctx;
    int64_t t = s->now - s->step_s, i = (t - T0) / ISP;
    if (i < 0 || i >= NISP)
        return;
    const struct fg_sim_battery *b = &s->bat[0];
    if (t % ISP == 0) {
        double tg = plan_target(L, t);
        L->has_target[i] = isfinite(tg);
        L->want_wh[i] = isfinite(tg) ? tg * ISP / 3600.0 : 0;
        L->room[i] = 1;
        int e = L->pl && s->ne ? plan_asset(L->pl, s->ev[0].id) : -1;
        int64_t j = L->pl ? (t - L->pl->start) / ISP : -1;
        L->ev_plan_wh[i] = e >= 0 && j >= 0 && j < (int64_t)L->pl->n_isp
                               ? L->pl->w[e][j] * ISP / 3600.0
                               : 0;
    }
    L->wh[i] += s->grid_w * s->step_s / 3600.0;
    if (s->ne)
        L->ev_wh[i] += s->ev[0].w * s->step_s / 3600.0;
    if (b->soc_pct <= b->soc_min_pct + 0.5 || b->soc_pct >= b->soc_max_pct - 0.5 ||
        fabs(b->w) >= b->max_charge_w - 1)
        L->room[i] = 0;
}

/* The largest per-ISP deviation |energy - target| over the ISPs with a
 * target and battery room; *n gets how many there were. */
static double worst(const struct isp_log *L, int *n, int64_t from_isp)
{
    double m = 0;
    *n = 0;
    for (int64_t i = from_isp; i < NISP; i++)
        if (L->has_target[i] && L->room[i]) {
            m = fmax(m, fabs(L->wh[i] - L->want_wh[i]));
            (*n)++;
        }
    return m;
}

/* ---- the tests --------------------------------------------------------- */

/* A site for the planned day: 10 kWh battery, 6 kW PV, an 11 kW EV in the
 * evening; peak import prices 17-21 h, cheap at night. The actual load is
 * +-15 % off its forecast (a new value every 5 minutes) and a cloud takes
 * 60 % of the PV from 11:00 to 12:30. */
static void planned_site(struct fg_sim_site *s)
{
    fg_sim_init(s, T0, STEP);
    s->load_dev_pct = 15;
    fg_sim_add_battery(s, "bat", 10000, 50, 5000);
    struct fg_sim_pv *pv = fg_sim_add_pv(s, "pv", 6000, 1);
    pv->cloud_from = T0 + 11 * H;
    pv->cloud_to = T0 + 12 * H + 1800;
    pv->cloud_pct = 60;
    fg_sim_add_ev(s, "ev", T0 + 17 * H, T0 + 23 * H, 15000, 11000, 1400);
    for (int i = 0; i < FG_SIM_NSERIES; i++) {
        int h = i / 4;
        s->price_import[i] = h < 6 || h >= 22 ? 0.20 : (h >= 17 && h < 21 ? 0.40 : 0.30);
        s->price_export[i] = 0.05;
    }
}

/* Why the bound: the controller sees the meter one 10 s step late. Inside
 * an ISP it makes good any earlier error (ISP energy), so what is left is
 * the error of the ISP's last step: the load and PV drift over 10 s (< 100 W
 * here, < 0.3 Wh). Following the plan's power instead (no ISP energy) leaves
 * one step of every load jump (+-15 % of up to 2.5 kW, i.e. up to 2 Wh; 1.9
 * and 2.3 Wh seen), and not following the plan at all leaves the forecast
 * error (> 1 kWh seen). 1 Wh per ISP (4 W mean) separates the three. */
#define PLAN_DEV_WH 1.0

static void test_planned_day(void **state)
{
    static struct fg_sim_site s, u;
    static struct plan pl;
    static struct isp_log L, U;
    (void)state;
    planned_site(&s);
    memset(&pl, 0, sizeof pl);
    memset(&L, 0, sizeof L);
    L.pl = &pl;
    L.replan_on_arrival = 1;
    struct fg_sched_view v;
    fg_sim_view(&s, &v);
    replan(&pl, &v);
    static struct plan pu;
    pu = pl; /* the plan made at midnight */
    u = s;
    s.view_hook = on_view;
    s.view_ctx = &L;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, on_step, &L), 0);
    P->destroy(inst);
    int n;
    double dev = worst(&L, &n, 0);
    /* the same day without following the plan (plan_created 0), measured
     * against the same plan */
    memset(&U, 0, sizeof U);
    U.target = pu.site; /* the plan made at midnight, as the reference */
    u.view_hook = NULL;
    inst = make("{}");
    assert_int_equal(fg_sim_run(&u, P, inst, DAY, on_step, &U), 0);
    P->destroy(inst);
    int nu;
    double dev_u = worst(&U, &nu, 0);
    double ev_off = 0; /* the EV's energy off its plan, summed over the ISPs */
    for (int i = 0; i < NISP; i++)
        ev_off += fabs(L.ev_wh[i] - L.ev_plan_wh[i]);
    fprintf(stderr,
            "planned day: %d solves, %d ISPs with battery room, worst |dev| %.2f Wh "
            "(without plan following %.1f Wh over %d); EV %.0f of 15000 Wh, "
            "SoC end %.1f %%, EV off its plan %.1f Wh\n",
            pl.solves, n, dev, dev_u, nu, s.ev[0].energy_wh, s.bat[0].soc_pct, ev_off);
    check(n >= 48, "ISPs with battery room", n, 48);
    check(dev <= PLAN_DEV_WH, "per-ISP deviation from the plan", dev, PLAN_DEV_WH);
    check(s.ev[0].energy_wh >= 15000 * 0.99, "EV energy", s.ev[0].energy_wh, 15000);
    check(s.ev[0].below_min == 0, "EV between 0 and its minimum", s.ev[0].below_min, 0);
    /* the EV charges when the plan says: off by one 10 s step per on/off of
     * the plan (<= 31 Wh at 11 kW) and a trickle below its minimum current
     * served as a pulse; 1 % of its energy */
    check(ev_off <= 150, "EV energy off its plan", ev_off, 150);
    check(s.st.nan_setpoints == 0, "NaN set-points", s.st.nan_setpoints, 0);
}

/* BRP portfolio target (dispatch_w_series, no dispatch_w, no plan) from
 * 08:00 to 20:00, varying per ISP between -1500 and +1500 W, with the load
 * +-15 % off and PV the battery has to balance. */
static void test_brp_target(void **state)
{
    static struct fg_sim_site s;
    static struct isp_log L;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    s.load_dev_pct = 15;
    fg_sim_add_battery(&s, "bat", 40000, 25, 10000);
    fg_sim_add_pv(&s, "pv", 4000, 0);
    for (int i = 32; i < 80; i++)
        s.dispatch_series[i] = 1500 * sin(i / 5.0);
    memset(&L, 0, sizeof L);
    L.target = s.dispatch_series;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, on_step, &L), 0);
    P->destroy(inst);
    int n;
    double dev = worst(&L, &n, 0);
    fprintf(stderr, "BRP target: %d ISPs with battery room, worst |dev| %.2f Wh\n", n,
            dev);
    check(n >= 40, "ISPs with battery room", n, 40);
    check(dev <= PLAN_DEV_WH, "per-ISP BRP deviation", dev, PLAN_DEV_WH);
}

/* V2G: the plan discharges a V2G EV at 7 kW (above its 5 kW limit) around
 * noon, when PV export would break the 9 kW export limit, at 3 kW at 18:00
 * and at 7 kW at 19:00; it charges it back from 20:00 to 23:00. */
struct v2g_ctx {
    struct plan pl;
    double at_1830, grid_1100, worst_export;
};

static void v2g_step(struct fg_sim_site *s, void *ctx)
{
    struct v2g_ctx *c = ctx;
    int64_t t = s->now - s->step_s;
    if (t == T0 + 18 * H + 1800)
        c->at_1830 = s->ev[0].w;
    if (t == T0 + 11 * H)
        c->grid_1100 = s->grid_w;
    c->worst_export = fmax(c->worst_export, -s->grid_w);
}

static void v2g_view(struct fg_sim_site *s, struct fg_sched_view *v, void *ctx)
{
    (void)s;
    plan_view(&((struct v2g_ctx *)ctx)->pl, v);
}

static void test_v2g(void **state)
{
    static struct fg_sim_site s;
    static struct v2g_ctx c;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    s.export_max_w = 9000;
    fg_sim_add_pv(&s, "pv", 8000, 0);
    struct fg_sim_ev *e =
        fg_sim_add_ev(&s, "ev", T0 + 8 * H, T0 + 23 * H, 5000, 11000, 1400);
    e->max_discharge_w = 5000;
    memset(&c, 0, sizeof c);
    c.pl.created = T0 + 8 * H; /* made when the EV arrived */
    c.pl.start = T0;
    c.pl.ends = INT64_MAX;
    c.pl.n_isp = NISP;
    c.pl.n_assets = 1;
    snprintf(c.pl.id[0], FG_SCHED_ID_MAX, "ev");
    for (int i = 0; i < NISP; i++) {
        int h = i / 4;
        c.pl.site[i] = NAN; /* only the asset's plan */
        c.pl.w[0][i] = h >= 10 && h < 14   ? -7000
                       : h == 18           ? -3000
                       : h == 19           ? -7000
                       : h >= 20 && h < 23 ? 8000
                                           : 0;
    }
    s.view_hook = v2g_view;
    s.view_ctx = &c;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, v2g_step, &c), 0);
    P->destroy(inst);
    fprintf(stderr,
            "V2G: lowest set-point %.0f W, at 18:30 %.0f W, grid at 11:00 %.0f W, "
            "peak export %.0f W, EV %.0f Wh net\n",
            e->sp_raw_min, c.at_1830, c.grid_1100, c.worst_export, e->energy_wh);
    check(e->sp_raw_min >= -5000 - 1e-6 && e->sp_raw_min <= -5000 + 1,
          "V2G at (not beyond) the discharge limit", e->sp_raw_min, -5000);
    check(c.worst_export <= 9000 + TOL_W, "export limit", c.worst_export, 9000);
    check(fabs(c.at_1830 + 3000) <= 1, "V2G follows plan_w at 18:30", c.at_1830, -3000);
    /* at 11:00 the EV discharges as far as the export limit allows */
    check(c.grid_1100 <= -9000 + TOL_W, "export used at 11:00", c.grid_1100, -9000);
    check(e->energy_wh >= 5000 * 0.99, "EV energy by departure", e->energy_wh, 5000);
    check(e->below_min == 0, "EV between 0 and its minimum", e->below_min, 0);
}

/* Reactive target: -4 kvar (inject) 10-11 h, +12 kvar (beyond the rating)
 * 14-15 h, over a battery and a PV that take var: the sum follows the
 * target as far as sqrt(rated^2 - P^2) of both allows, within one step's
 * drift of P (60 var). The voltage stays in the
 * volt-var dead band (weak voltage sensitivity); then, with a strong one,
 * volt-var takes the PV's var at noon whatever the target. */
struct q_ctx {
    int fixed; /* keep the test's reactive_var */
    int n_1011, n_1415, bad_s;
    double worst_1011, worst_1415;
    int vv_steps, vv_wrong;
    double v_prev; /* the voltage the controller saw for this step */
};

static double q_room(double rated, double p)
{
    return sqrt(fmax(rated * rated - p * p, 0));
}

static void q_step(struct fg_sim_site *s, void *ctx)
{
    struct q_ctx *c = ctx;
    int64_t t = s->now - s->step_s;
    const struct fg_sim_battery *b = &s->bat[0];
    const struct fg_sim_pv *p = &s->pv[0];
    double q = b->var + p->var;
    /* apparent power within the rating (the var was set for the last
     * step's P: allow that step's drift) */
    if (hypot(b->w, b->var) > 5000 + 60 || hypot(p->w, p->var) > 5000 + 60)
        c->bad_s++;
    if (t >= T0 + 10 * H + 60 && t < T0 + 11 * H) {
        double room = q_room(5000, b->w) + q_room(5000, p->w);
        c->n_1011++;
        c->worst_1011 = fmax(c->worst_1011, fabs(q - fmax(-4000, -room)));
    }
    if (t >= T0 + 14 * H + 60 && t < T0 + 15 * H) {
        double room = q_room(5000, b->w) + q_room(5000, p->w);
        c->n_1415++;
        c->worst_1415 = fmax(c->worst_1415, fabs(q - room));
    }
    if (!c->fixed)
        s->reactive_var = t >= T0 + 10 * H && t < T0 + 11 * H   ? -4000
                          : t >= T0 + 14 * H && t < T0 + 15 * H ? 12000
                                                                : NAN;
    if (c->v_prev > 1.02 * 230 + 1.5) {
        c->vv_steps++;
        c->vv_wrong += p->var <= 0; /* volt-var absorbs above the band */
    }
    c->v_prev = s->voltage_v;
}

static void test_reactive(void **state)
{
    static struct fg_sim_site s;
    struct q_ctx c = {0};
    (void)state;
    fg_sim_init(&s, T0, STEP);
    s.volt_k = s.volt_kq = 0.0003;
    struct fg_sim_battery *b = fg_sim_add_battery(&s, "bat", 20000, 50, 5000);
    b->caps = FG_SCHED_CAP_REACTIVE;
    struct fg_sim_pv *p = fg_sim_add_pv(&s, "pv", 5000, 1);
    p->caps = FG_SCHED_CAP_REACTIVE;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, q_step, &c), 0);
    fprintf(stderr,
            "reactive: -4 kvar worst |err| %.1f var (%d steps), beyond rating worst "
            "|err| %.1f var (%d steps), S over rating %d, volt-var steps %d\n",
            c.worst_1011, c.n_1011, c.worst_1415, c.n_1415, c.bad_s, c.vv_steps);
    check(c.n_1011 > 300 && c.worst_1011 <= 60, "reactive target followed", c.worst_1011,
          0);
    check(c.n_1415 > 300 && c.worst_1415 <= 60, "reactive target saturated at rating",
          c.worst_1415, 0);
    check(c.bad_s == 0, "apparent power above the rating", c.bad_s, 0);
    check(c.vv_steps == 0, "voltage out of band (weak grid)", c.vv_steps, 0);
    P->destroy(inst);

    /* a strong voltage rise at noon: volt-var first, the target does not
     * turn it into injection */
    fg_sim_init(&s, T0, STEP);
    s.volt_k = 0.0015;
    s.volt_kq = 0.0003;
    b = fg_sim_add_battery(&s, "bat", 20000, 95, 5000);
    b->caps = FG_SCHED_CAP_REACTIVE;
    p = fg_sim_add_pv(&s, "pv", 8000, 1);
    p->caps = FG_SCHED_CAP_REACTIVE;
    memset(&c, 0, sizeof c);
    c.fixed = 1;
    s.reactive_var = -4000;
    inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, 12 * H, q_step, &c), 0);
    fprintf(stderr, "volt-var first: %d steps above the band, %d injecting\n", c.vv_steps,
            c.vv_wrong);
    check(c.vv_steps > 0, "voltage above the band", c.vv_steps, 1);
    check(c.vv_wrong == 0, "PV injecting above the band", c.vv_wrong, 0);
    P->destroy(inst);
}

/* An EV that arrives after the plan (plan_w NAN) is charged by the laxity
 * rule and not balanced by the battery (the plan's site power excludes it);
 * the plan reaches until 20:00 (plan_site_w NAN after): self-consumption
 * from there. */
struct fb_ctx {
    struct plan pl;
    struct isp_log L;
    double worst_after;
    int n_after;
};

static void fb_view(struct fg_sim_site *s, struct fg_sched_view *v, void *ctx)
{
    (void)s;
    plan_view(&((struct fb_ctx *)ctx)->pl, v);
}

static void fb_step(struct fg_sim_site *s, void *ctx)
{
    struct fb_ctx *c = ctx;
    int64_t t = s->now - s->step_s, i = (t - T0) / ISP;
    on_step(s, &c->L);
    /* the EV is not in the plan: count the site without it */
    if (i >= 0 && i < NISP)
        c->L.wh[i] -= s->ev[0].w * s->step_s / 3600.0;
    const struct fg_sim_battery *b = &s->bat[0];
    /* (but the step in which the load jumps: the controller sees it later) */
    if (t >= T0 + 20 * H + 60 && t % 300 && b->soc_pct > b->soc_min_pct + 1) {
        c->worst_after = fmax(c->worst_after, fabs(s->grid_w));
        c->n_after++;
    }
}

static void test_unplanned_ev_and_plan_end(void **state)
{
    static struct fg_sim_site s;
    static struct fb_ctx c;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    s.load_dev_pct = 15;
    fg_sim_add_battery(&s, "bat", 10000, 30, 5000);
    fg_sim_add_pv(&s, "pv", 4000, 0);
    struct fg_sim_ev *e =
        fg_sim_add_ev(&s, "ev", T0 + 17 * H, T0 + 19 * H + 1800, 12000, 11000, 1400);
    memset(&c, 0, sizeof c);
    c.pl.created = T0;
    c.pl.start = T0;
    c.pl.ends = T0 + 20 * H;
    c.pl.n_isp = NISP;
    c.pl.n_assets = 2;
    snprintf(c.pl.id[0], FG_SCHED_ID_MAX, "ev");
    snprintf(c.pl.id[1], FG_SCHED_ID_MAX, "pv");
    struct fg_sched_view v;
    fg_sim_view(&s, &v); /* fills the forecasts */
    for (int i = 0; i < NISP; i++) {
        c.pl.site[i] = 800;
        c.pl.w[0][i] = 0; /* no session when planned */
        c.pl.w[1][i] = -s.pv_forecast[i];
    }
    c.L.pl = &c.pl;
    s.view_hook = fb_view;
    s.view_ctx = &c;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, fb_step, &c), 0);
    P->destroy(inst);
    int n;
    double dev = worst(&c.L, &n, 0);
    fprintf(stderr,
            "unplanned EV: %.0f of 12000 Wh, below min %d; plan (without the EV) worst "
            "|dev| %.2f Wh over %d ISPs; after the plan |grid| <= %.0f W (%d steps)\n",
            e->energy_wh, e->below_min, dev, n, c.worst_after, c.n_after);
    check(e->energy_wh >= 12000 * 0.99, "unplanned EV energy", e->energy_wh, 12000);
    check(e->below_min == 0, "EV between 0 and its minimum", e->below_min, 0);
    check(n >= 40 && dev <= PLAN_DEV_WH, "site without the EV follows the plan", dev,
          PLAN_DEV_WH);
    check(c.n_after > 360 && c.worst_after <= TOL_W, "self-consumption after the plan",
          c.worst_after, 0);
}

/* Self-consumption never charges from the grid, even when the meter lags
 * the assets (60 s here, as in the demo): the base estimate then runs away,
 * and the battery is bounded by the measured PV production. */
struct stale_ctx {
    double held;
    int n;
    double peak_charge_over_pv;
};

static void stale_view(struct fg_sim_site *s, struct fg_sched_view *v, void *ctx)
{
    struct stale_ctx *c = ctx;
    (void)s;
    if (c->n++ % 6 == 0) /* a new meter value every 60 s */
        c->held = v->site_power_w;
    v->site_power_w = c->held;
}

static void stale_step(struct fg_sim_site *s, void *ctx)
{
    struct stale_ctx *c = ctx;
    c->peak_charge_over_pv = fmax(c->peak_charge_over_pv, s->bat[0].w + s->pv[0].w);
}

static void test_stale_meter(void **state)
{
    static struct fg_sim_site s;
    struct stale_ctx c = {0};
    (void)state;
    fg_sim_init(&s, T0, STEP);
    s.import_max_w = 40000;
    struct fg_sim_battery *b = fg_sim_add_battery(&s, "bat", 100000, 20, 30000);
    (void)b;
    fg_sim_add_pv(&s, "pv", 5000, 0);
    s.view_hook = stale_view;
    s.view_ctx = &c;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, stale_step, &c), 0);
    P->destroy(inst);
    fprintf(stderr,
            "stale meter: peak import %.0f W, battery charge beyond PV %.0f W, "
            "SoC end %.1f %%\n",
            s.st.peak_import_w, c.peak_charge_over_pv, s.bat[0].soc_pct);
    check(c.peak_charge_over_pv <= TOL_W, "battery charged beyond the PV",
          c.peak_charge_over_pv, 0);
    check(s.st.peak_import_w <= 0.5 * 40000, "import headroom", s.st.peak_import_w,
          20000);
}

/* PV follows a curtailing plan when exporting costs money (11-13 h, export
 * price -0.05, the battery full), not when the plan is only a low forecast
 * (14-15 h, positive price, plan_w = 80 % of the forecast). */
struct pv_ctx {
    struct plan pl;
    double peak_1113, curtailed_1415;
};

static void pv_view(struct fg_sim_site *s, struct fg_sched_view *v, void *ctx)
{
    (void)s;
    plan_view(&((struct pv_ctx *)ctx)->pl, v);
}

static void pv_step(struct fg_sim_site *s, void *ctx)
{
    struct pv_ctx *c = ctx;
    int64_t t = s->now - s->step_s;
    const struct fg_sim_pv *p = &s->pv[0];
    if (t >= T0 + 11 * H + 60 && t < T0 + 13 * H)
        c->peak_1113 = fmax(c->peak_1113, -p->w);
    if (t >= T0 + 14 * H && t < T0 + 15 * H)
        c->curtailed_1415 += (p->available_w + p->w) * s->step_s / 3600.0;
}

static void test_pv_curtail(void **state)
{
    static struct fg_sim_site s;
    static struct pv_ctx c;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_battery(&s, "bat", 10000, 95, 5000);
    fg_sim_add_pv(&s, "pv", 6000, 1);
    for (int i = 44; i < 52; i++)
        s.price_export[i] = -0.05;
    memset(&c, 0, sizeof c);
    struct fg_sched_view v;
    fg_sim_view(&s, &v); /* fills the forecasts */
    c.pl.created = T0;
    c.pl.start = T0;
    c.pl.ends = INT64_MAX;
    c.pl.n_isp = NISP;
    c.pl.n_assets = 1;
    snprintf(c.pl.id[0], FG_SCHED_ID_MAX, "pv");
    for (int i = 0; i < NISP; i++) {
        c.pl.site[i] = NAN;
        c.pl.w[0][i] = i >= 44 && i < 52 ? -2000 : -0.8 * s.pv_forecast[i];
    }
    s.view_hook = pv_view;
    s.view_ctx = &c;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, pv_step, &c), 0);
    P->destroy(inst);
    fprintf(stderr, "PV: peak 11-13 h %.0f W (plan 2000), curtailed 14-15 h %.1f Wh\n",
            c.peak_1113, c.curtailed_1415);
    check(c.peak_1113 <= 2000 + 1, "PV above the plan at a negative price", c.peak_1113,
          2000);
    check(c.curtailed_1415 <= 1, "PV curtailed to a low forecast", c.curtailed_1415, 0);
}

/* A writer from before the plan fields (view and asset sizes without
 * them): read as before, whatever lies beyond its sizes. */
static void test_old_writer(void **state)
{
    static struct fg_sim_site s;
    struct fg_sched_view v, old;
    struct fg_sched_setpoint a[8], b[8];
    struct fg_sched_setpoints oa = {.cap = 8, .sp = a}, ob = {.cap = 8, .sp = b};
    size_t vs = offsetof(struct fg_sched_view, plan_created);
    size_t as = offsetof(struct fg_sched_asset, plan_w);
    static char buf[8 * sizeof(struct fg_sched_asset)];
    (void)state;
    fg_sim_init(&s, T0 + 12 * H, STEP);
    fg_sim_add_battery(&s, "bat", 10000, 50, 5000);
    fg_sim_add_pv(&s, "pv", 6000, 1);
    fg_sim_add_ev(&s, "ev", T0, T0 + DAY, 10000, 11000, 1400);
    fg_sim_view(&s, &v);
    void *i1 = make("{}"), *i2 = make("{}");
    assert_int_equal(P->realtime(i1, &v, &oa), 0);
    old = v;
    old.size = (uint32_t)vs;
    old.plan_created = 12345; /* beyond the writer's size: not read */
    old.plan_site_w = 1e9;
    memset(buf, 0x7f, sizeof buf);
    for (uint32_t i = 0; i < v.n_assets; i++) {
        struct fg_sched_asset x = *fg_sched_asset_at(&v, i);
        x.size = (uint32_t)as;
        memcpy(buf + i * as, &x, as);
    }
    old.asset_stride = (uint32_t)as;
    old.assets = (const struct fg_sched_asset *)(const void *)buf;
    assert_int_equal(P->realtime(i2, &old, &ob), 0);
    assert_int_equal(oa.n, ob.n);
    for (uint32_t i = 0; i < oa.n; i++) {
        assert_string_equal(a[i].id, b[i].id);
        check(a[i].w == b[i].w, "same set-point from an old writer", b[i].w, a[i].w);
    }
    P->destroy(i1);
    P->destroy(i2);
}

/* Catch-up: the plan charges an EV at 4 kW from 16:00 to 20:00; a DSO
 * limit of 2.5 kW from 17:00 to 18:00 pauses it (the load takes ~2 kW,
 * what is left is below its minimum). After the limit it makes the hour up
 * in about an ISP (plan_catchup_s) and is back on the plan's energy. */
struct cu_ctx {
    struct plan pl;
    double at_1700, at_1800, at_1900, peak_excess;
};

static void cu_view(struct fg_sim_site *s, struct fg_sched_view *v, void *ctx)
{
    (void)s;
    plan_view(&((struct cu_ctx *)ctx)->pl, v);
}

static void cu_step(struct fg_sim_site *s, void *ctx)
{
    struct cu_ctx *c = ctx;
    int64_t t = s->now;
    if (t == T0 + 17 * H)
        c->at_1700 = s->ev[0].energy_wh;
    if (t == T0 + 18 * H)
        c->at_1800 = s->ev[0].energy_wh;
    if (t == T0 + 19 * H)
        c->at_1900 = s->ev[0].energy_wh;
    c->peak_excess = fmax(c->peak_excess, s->grid_w - s->import_max_w);
    s->import_max_w = t >= T0 + 17 * H && t < T0 + 18 * H ? 2500 : 1e6;
}

static void test_ev_catch_up(void **state)
{
    static struct fg_sim_site s;
    static struct cu_ctx c;
    (void)state;
    fg_sim_init(&s, T0, STEP);
    struct fg_sim_ev *e =
        fg_sim_add_ev(&s, "ev", T0 + 16 * H, T0 + 23 * H, 16000, 11000, 1400);
    memset(&c, 0, sizeof c);
    c.pl.created = T0 + 16 * H;
    c.pl.start = T0;
    c.pl.ends = INT64_MAX;
    c.pl.n_isp = NISP;
    c.pl.n_assets = 1;
    snprintf(c.pl.id[0], FG_SCHED_ID_MAX, "ev");
    for (int i = 0; i < NISP; i++) {
        c.pl.site[i] = NAN;
        c.pl.w[0][i] = i >= 64 && i < 80 ? 4000 : 0;
    }
    s.view_hook = cu_view;
    s.view_ctx = &c;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, DAY, cu_step, &c), 0);
    P->destroy(inst);
    fprintf(stderr,
            "catch-up: EV at 17:00 %.0f Wh (plan 4000), 18:00 %.0f (plan 8000), 19:00 "
            "%.0f (plan 12000), end %.0f; import above the limit %.0f W\n",
            c.at_1700, c.at_1800, c.at_1900, e->energy_wh, c.peak_excess);
    check(c.at_1800 - c.at_1700 <= 1000, "the limit held the EV back",
          c.at_1800 - c.at_1700, 0);
    check(fabs(c.at_1900 - 12000) <= 0.02 * 12000, "back on the plan by 19:00", c.at_1900,
          12000);
    check(e->energy_wh >= 16000 * 0.99, "EV energy", e->energy_wh, 16000);
    check(c.peak_excess <= TOL_W, "import limit", c.peak_excess, 0);
    check(e->below_min == 0, "EV between 0 and its minimum", e->below_min, 0);
}

/* ---- loads on the plan ------------------------------------------------- */

/* A disconnectable load the plan has off over ISPs [off_from, off_to) (0 W)
 * and on elsewhere; a second one pinned by an operator (min = max); an
 * island over [isl_from, isl_to). Per step, whether each was on. */
struct ld_ctx {
    int64_t off_from, off_to, isl_from, isl_to;
    int on_when_off, off_when_on, pinned_off, island_on, steps_off;
    int64_t first_on_after_island;
};

static int ld_plan_off(const struct ld_ctx *c, int64_t t)
{
    int64_t i = (t - T0) / ISP;
    return i >= c->off_from && i < c->off_to;
}

static void ld_view(struct fg_sim_site *s, struct fg_sched_view *v, void *ctx)
{
    const struct ld_ctx *c = ctx;
    struct fg_sched_asset *a = (struct fg_sched_asset *)v->assets;
    v->plan_created = T0;
    v->plan_site_w = NAN; /* the battery is not in this plan */
    for (uint32_t i = 0; i < v->n_assets; i++) {
        if (a[i].kind != FG_SCHED_LOAD)
            continue;
        a[i].plan_w = ld_plan_off(c, s->now) ? 0 : a[i].rated_w;
        if (!strcmp(a[i].id, "pinned"))
            a[i].min_w = a[i].max_w = a[i].rated_w;
    }
}

static void ld_step(struct fg_sim_site *s, void *ctx)
{
    struct ld_ctx *c = ctx;
    int64_t t = s->now - s->step_s; /* the step just made */
    int island = t >= c->isl_from && t < c->isl_to;
    int on = s->load[0].connected;
    s->island = s->now >= c->isl_from && s->now < c->isl_to;
    if (island)
        c->island_on += on;
    else if (ld_plan_off(c, t))
        c->on_when_off += on, c->steps_off += !on;
    else if (!on)
        c->off_when_on++;
    if (!island && t >= c->isl_to && on && !c->first_on_after_island)
        c->first_on_after_island = t;
    c->pinned_off += !s->load[1].connected;
}

/* The plan switches a disconnectable load off for two hours: it is off in
 * every step of those ISPs and on in every other step; an island sheds it
 * whatever the plan says, and after the island it comes back at once where
 * the plan has it on, and stays off where the plan has it off; the load an
 * operator pinned is never touched. */
static void load_case(int64_t isl_from, int64_t isl_to, int64_t want_back)
{
    static struct fg_sim_site s;
    struct ld_ctx c = {
        .off_from = 40, .off_to = 48, .isl_from = isl_from, .isl_to = isl_to};
    fg_sim_init(&s, T0, STEP);
    fg_sim_add_battery(&s, "bat", 20000, 50, 5000)->caps = FG_SCHED_CAP_GRID_FORMING;
    fg_sim_add_load(&s, "chiller", 6000);
    fg_sim_add_load(&s, "pinned", 1500);
    s.load[0].connected = s.load[1].connected = 1;
    s.view_hook = ld_view;
    s.view_ctx = &c;
    void *inst = make("{}");
    assert_int_equal(fg_sim_run(&s, P, inst, 16 * H, ld_step, &c), 0);
    P->destroy(inst);
    print_message("load: on in %d plan-off steps, off in %d plan-on steps, %d steps off; "
                  "on in %d island steps; pinned off %d; back at %+lld s after the "
                  "island\n",
                  c.on_when_off, c.off_when_on, c.steps_off, c.island_on, c.pinned_off,
                  (long long)(c.first_on_after_island - isl_to));
    check(c.on_when_off == 0, "on where the plan has it off", c.on_when_off, 0);
    check(c.off_when_on == 0, "off where the plan has it on (outside the island)",
          c.off_when_on, 0);
    check(c.island_on == 0, "on in the island", c.island_on, 0);
    check(c.pinned_off == 0, "the pinned load switched off", c.pinned_off, 0);
    check(c.first_on_after_island == want_back, "back on after the island",
          (double)(c.first_on_after_island - T0), (double)(want_back - T0));
}

static void test_disconnectable_on_plan(void **state)
{
    (void)state;
    /* island 13:00-13:30, plan on: back at once */
    load_case(T0 + 13 * H, T0 + 13 * H + 1800, T0 + 13 * H + 1800);
    /* island 9:30-10:30 ends inside the plan's off hours (10:00-12:00): the
     * load stays off until 12:00 */
    load_case(T0 + 9 * H + 1800, T0 + 10 * H + 1800, T0 + 12 * H);
}

/* A shiftable load with its device as the gateway's sim adapter plays it:
 * one run of run_s at rated power in [earliest, latest_end), started by a
 * set-point above 0 W, else at the latest start; never interrupted. */
struct shift_dev {
    double rated, run;
    int64_t earliest, latest, started, runs;
    int sp_while_running, sp_not_positive;
};

static double shift_power(const struct shift_dev *d, int64_t t)
{
    return d->started && t < d->started + (int64_t)d->run ? d->rated : 0;
}

/* One day in 60 s steps from 08:00; plan_isp: first of the plan's ISPs with
 * the load at rated power (two hours), -1 no plan; an island over
 * [isl_from, isl_to). */
static void shift_day(struct shift_dev *d, int plan_isp, int64_t isl_from, int64_t isl_to)
{
    void *inst = make("{}");
    struct fg_sched_asset a;
    struct fg_sched_setpoint sp[4];
    memset(d, 0, sizeof *d);
    d->rated = 2000;
    d->run = 7200;
    d->earliest = T0 + 10 * H;
    d->latest = T0 + 22 * H;
    for (int64_t t = T0 + 8 * H; t < T0 + 24 * H; t += 60) {
        struct fg_sched_view v = {.size = sizeof v, .abi = FG_SCHED_ABI_VERSION};
        struct fg_sched_setpoints out = {.cap = 4, .sp = sp};
        int64_t isp = (t - T0) / ISP;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        a.kind = FG_SCHED_LOAD;
        snprintf(a.id, sizeof a.id, "washer");
        a.online = 1;
        a.load_type = FG_SCHED_LOAD_SHIFTABLE;
        a.power_w = shift_power(d, t);
        a.connected = a.power_w > 0;
        a.min_w = 0;
        a.max_w = a.rated_w = d->rated;
        a.run_s = d->run;
        a.earliest_start = d->earliest;
        a.latest_end = d->latest;
        a.voltage_v = a.soc_pct = a.available_w = NAN;
        a.plan_w = plan_isp >= 0 && isp >= plan_isp && isp < plan_isp + 8 ? d->rated : 0;
        v.now = t;
        v.isp_s = ISP;
        v.site_power_w = 500 + a.power_w;
        v.import_max_w = 50000;
        v.export_max_w = 50000;
        v.kw_max_w = v.dispatch_w = v.reactive_var = v.plan_site_w = NAN;
        for (int i = 0; i < 3; i++)
            v.site_voltage_v[i] = NAN;
        v.island = t >= isl_from && t < isl_to;
        v.n_assets = 1;
        v.asset_stride = sizeof a;
        v.assets = &a;
        v.plan_created = plan_isp >= 0 ? T0 : 0;
        assert_int_equal(P->realtime(inst, &v, &out), 0);
        for (uint32_t i = 0; i < out.n; i++) {
            if (strcmp(sp[i].id, "washer"))
                continue;
            d->sp_while_running += a.power_w > 0;
            d->sp_not_positive += !(sp[i].w > 0);
            if (sp[i].w > 0 && !d->started && t >= d->earliest && t < d->latest)
                d->started = t, d->runs++;
        }
        if (!d->started && t >= d->latest - (int64_t)d->run)
            d->started = t, d->runs++; /* the device's own latest start */
    }
    P->destroy(inst);
    print_message("washer: started %+.2f h from midnight, %lld run(s), %d set-points "
                  "while running, %d not above 0 W\n",
                  (double)(d->started - T0) / H, (long long)d->runs, d->sp_while_running,
                  d->sp_not_positive);
}

/* The plan runs the washer 14:00-16:00: it starts in the first step of ISP
 * 56, runs its two hours, gets no set-point while running and none of 0 W;
 * without a plan it starts at its earliest start; an island at the planned
 * start holds it until the island ends (14:00-14:30: starts 14:30). */
static void test_shiftable_on_plan(void **state)
{
    (void)state;
    struct shift_dev d;
    shift_day(&d, 56, 0, 0);
    check(d.started == T0 + 14 * H, "planned start", (double)(d.started - T0) / H, 14);
    check(d.runs == 1 && d.sp_while_running == 0 && d.sp_not_positive == 0,
          "one run, never interrupted", (double)d.runs, 1);
    shift_day(&d, -1, 0, 0);
    check(d.started == d.earliest, "without a plan: earliest start",
          (double)(d.started - T0) / H, 10);
    shift_day(&d, 56, T0 + 14 * H, T0 + 14 * H + 1800);
    check(d.started == T0 + 14 * H + 1800, "start after the island",
          (double)(d.started - T0) / H, 14.5);
    check(d.runs == 1 && d.sp_while_running == 0, "one run", (double)d.runs, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_planned_day),
        cmocka_unit_test(test_brp_target),
        cmocka_unit_test(test_v2g),
        cmocka_unit_test(test_reactive),
        cmocka_unit_test(test_unplanned_ev_and_plan_end),
        cmocka_unit_test(test_stale_meter),
        cmocka_unit_test(test_ev_catch_up),
        cmocka_unit_test(test_disconnectable_on_plan),
        cmocka_unit_test(test_shiftable_on_plan),
        cmocka_unit_test(test_pv_curtail),
        cmocka_unit_test(test_old_writer),
    };
    P = fg_sched_realtime_plugin();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
