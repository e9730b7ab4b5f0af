/* The optimising planner (gateway/sched/planner): optimality against a
 * dynamic programme and against glpsol, named slack on infeasible inputs,
 * the time limit, and scenario validation; the reference day simulated under
 * the real-time controller (tests/unit/scenario_run.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "plan.h"
#include "planner_gen.h"
#include "realtime.h"
#include "scenario_run.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fg_planner_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- small instances against a dynamic programme over discretised SoC ---- */

/* One battery on a 1 kWh grid: every power is a whole number of kWh per
 * ISP, efficiencies are 1, so the LP's vertices lie on the grid and the DP
 * over SoC in {0..cap} kWh is exact. Quantities in kWh per ISP. */
struct dp_case {
    uint32_t n;
    double pi[6], pe[6], load[6], pv[6];
    double imax, emax; /* kWh per ISP */
    int cap, pc, pd, s0, smin;
    double wear, pen_grid, pen_soc;
};

/* The cost of one ISP at net energy (import - export) e. */
static double isp_cost(const struct dp_case *c, uint32_t t, double e)
{
    if (e >= 0)
        return c->pi[t] * e + (e > c->imax ? c->pen_grid * (e - c->imax) : 0);
    return c->pe[t] * e + (-e > c->emax ? c->pen_grid * (-e - c->emax) : 0);
}

static double dp_optimum(const struct dp_case *c)
{
    double v[16] = {0}, nv[16];
    for (uint32_t t = c->n; t-- > 0;) {
        for (int s = 0; s <= c->cap; s++) {
            double best = INFINITY;
            for (int s2 = s - c->pd; s2 <= s + c->pc; s2++) {
                if (s2 < 0 || s2 > c->cap)
                    continue;
                int b = s2 - s;
                double cost = isp_cost(c, t, c->load[t] - c->pv[t] + b) +
                              c->wear * abs(b) +
                              (s2 < c->smin ? c->pen_soc * (c->smin - s2) : 0) + v[s2];
                if (cost < best)
                    best = cost;
            }
            nv[s] = best;
        }
        memcpy(v, nv, sizeof(v));
    }
    return v[c->s0];
}

/* The same instance as a planning problem with ISPs of isp_s seconds. */
static void dp_problem(const struct dp_case *c, int32_t isp_s, struct fg_plan_problem *p)
{
    double dt = isp_s / 3600.0, kw = 1000 / dt; /* W per kWh-per-ISP */
    fg_plan_problem_init(p);
    assert_int_equal(fg_gen_empty(p, c->n, isp_s), 0);
    p->pen.grid_per_kwh = c->pen_grid;
    p->pen.soc_per_kwh = c->pen_soc;
    struct fg_plan_asset *b = fg_plan_asset_add(p, FG_PLAN_BATTERY, "bat");
    struct fg_plan_asset *l = fg_plan_asset_add(p, FG_PLAN_LOAD, "load");
    struct fg_plan_asset *s = fg_plan_asset_add(p, FG_PLAN_PV, "pv");
    assert_non_null(b);
    assert_non_null(l);
    assert_non_null(s);
    b = &p->assets[0];
    l = &p->assets[1];
    s = &p->assets[2];
    b->capacity_wh = b->max_wh = c->cap * 1000.0;
    b->energy_wh = c->s0 * 1000.0;
    b->min_wh = c->smin * 1000.0;
    b->max_charge_w = c->pc * kw;
    b->max_discharge_w = c->pd * kw;
    b->wear_per_kwh = c->wear;
    l->load_type = FG_SCHED_LOAD_INFLEXIBLE;
    l->w = calloc(c->n, sizeof(double));
    s->avail_w = calloc(c->n, sizeof(double));
    assert_non_null(l->w);
    assert_non_null(s->avail_w);
    for (uint32_t t = 0; t < c->n; t++) {
        p->price_import[t] = c->pi[t];
        p->price_export[t] = c->pe[t];
        p->import_max_w[t] = c->imax * kw;
        p->export_max_w[t] = c->emax * kw;
        l->w[t] = c->load[t] * kw;
        s->avail_w[t] = c->pv[t] * kw;
    }
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static void test_small_instances_match_dp(void **state)
{
    (void)state;
    static const double levels[] = {-0.05, 0.05, 0.1, 0.2, 0.3, 0.5};
    static const double share[] = {0, 0.3, 0.5, 1};
    static const double wear[] = {0, 0.01, 0.05};
    uint32_t seed = 42;
    for (int k = 0; k < 40; k++) {
        struct dp_case c = {.n = 4 + lcg(&seed) % 3};
        for (uint32_t t = 0; t < c.n; t++) {
            c.pi[t] = levels[lcg(&seed) % 6];
            double sh = share[lcg(&seed) % 4];
            c.pe[t] = c.pi[t] < 0 ? c.pi[t] : c.pi[t] * sh;
            c.load[t] = lcg(&seed) % 5;
            c.pv[t] = lcg(&seed) % 4;
        }
        c.imax = 3 + lcg(&seed) % 4;
        c.emax = 2 + lcg(&seed) % 4;
        c.cap = 2 + lcg(&seed) % 4;
        c.pc = 1 + lcg(&seed) % 3;
        c.pd = 1 + lcg(&seed) % 3;
        c.s0 = lcg(&seed) % (c.cap + 1);
        c.smin = lcg(&seed) % 2;
        c.wear = wear[lcg(&seed) % 3];
        c.pen_grid = 1.0;
        c.pen_soc = 0.5;
        double best = dp_optimum(&c);
        for (int isp = 0; isp < 2; isp++) {
            struct fg_plan_problem p;
            struct fg_plan_result r = {0};
            struct fg_error err = {0};
            dp_problem(&c, isp ? 900 : 3600, &p);
            assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
            if (fabs(r.objective - best) > 1e-6 * fmax(1, fabs(best)))
                fail_msg("case %d (isp %d s): planner %.9f, DP %.9f", k, p.isp_s,
                         r.objective, best);
            fg_plan_result_clear(&r);
            fg_plan_problem_clear(&p);
        }
    }
}

/* ---- against glpsol on the exported LP ---- */

static double glpsol_objective(const char *lp)
{
    char out[192], cmd[640], line[256];
    snprintf(out, sizeof(out), "%s.sol", lp);
    snprintf(cmd, sizeof(cmd), "glpsol --lp '%s' -o '%s' > '%s.log' 2>&1", lp, out, lp);
    if (system(cmd) != 0)
        fail_msg("glpsol failed (is glpk-utils installed? see %s.log)", lp);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    double obj = NAN;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Objective: obj = %lf", &obj) == 1)
            break;
    fclose(f);
    if (isnan(obj))
        fail_msg("no objective in %s", out);
    return obj;
}

/* The plan is a plan: the balance holds in every ISP and the parts of the
 * cost add up to the objective. */
static void check_plan(const struct fg_plan_problem *p, const struct fg_plan_result *r)
{
    double sum = r->cost_energy + r->cost_wear + r->cost_demand + r->cost_penalty;
    assert_true(fabs(sum - r->objective) <= 1e-9 * fmax(1, fabs(r->objective)));
    double per_isp = 0;
    for (uint32_t t = 0; t < r->n_isp; t++) {
        double w = 0;
        for (uint32_t a = 0; a < r->n_assets; a++)
            w += r->w[(size_t)a * r->n_isp + t];
        if (fabs(r->import_w[t] - r->export_w[t] - w) > 1e-3)
            fail_msg("ISP %u: import %.3f - export %.3f != assets %.3f", t,
                     r->import_w[t], r->export_w[t], w);
        per_isp += r->cost[t];
    }
    (void)p;
    assert_true(per_isp <= r->objective + 1e-6 + fabs(r->objective) * 1e-9 ||
                r->cost_demand > 0 || r->cost_penalty > 0);
}

static void solve_and_compare(const struct fg_plan_problem *p, const char *name,
                              struct fg_plan_result *r)
{
    char lp[128];
    struct fg_error err = {0};
    snprintf(lp, sizeof(lp), "%s/%s.lp", tmpdir, name);
    FILE *f = fopen(lp, "w");
    assert_non_null(f);
    assert_int_equal(fg_plan_write_lp(p, f, &err), 0);
    assert_int_equal(fclose(f), 0);
    int rc = fg_plan_solve(p, r, &err);
    if (rc)
        fail_msg("%s: %s", name, err.msg);
    double g = glpsol_objective(lp);
    print_message("%s: planner %.9f, glpsol %.9f, energy %.6f wear %.6f demand %.6f "
                  "penalty %.6f\n",
                  name, r->objective, g, r->cost_energy, r->cost_wear, r->cost_demand,
                  r->cost_penalty);
    for (size_t i = 0; i < r->n_slack; i++)
        print_message("  slack %s %s %lld: %.3f %s\n", r->slack[i].name,
                      r->slack[i].asset, (long long)r->slack[i].at, r->slack[i].amount,
                      r->slack[i].unit);
    if (fabs(r->objective - g) > 1e-6 * fmax(1, fabs(g)))
        fail_msg("%s: planner %.9f, glpsol %.9f", name, r->objective, g);
    check_plan(p, r);
}

static void test_reference_day_matches_glpsol(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_errlist errs;
    fg_plan_problem_init(&p);
    fg_errlist_init(&errs);
    int rc = fg_plan_scenario_load(FG_SOURCE_DIR "/conf/scenarios/reference-day.json", &p,
                                   &errs);
    if (rc)
        fail_msg("reference-day.json: %s: %s", errs.v[0].path, errs.v[0].msg);
    assert_int_equal(p.n_isp, 96);
    uint32_t evs = 0, bats = 0;
    for (uint32_t i = 0; i < p.n_assets; i++) {
        evs += p.assets[i].kind == FG_PLAN_EV;
        bats += p.assets[i].kind == FG_PLAN_BATTERY;
    }
    assert_int_equal(evs, 20);
    assert_int_equal(bats, 1);
    solve_and_compare(&p, "reference-day", &r);
    /* every EV gets its energy: no ev_energy slack */
    for (size_t i = 0; i < r.n_slack; i++)
        assert_string_not_equal(r.slack[i].name, "ev_energy");
    /* the printed plan reads back */
    char buf[1 << 16];
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fg_plan_print_json(&p, &r, f), 0);
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_true(fabs(cJSON_GetObjectItem(j, "objective")->valuedouble - r.objective) <
                1e-9);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "assets")),
                     (int)p.n_assets);
    cJSON_Delete(j);
    rewind(f);
    assert_int_equal(fg_plan_print_csv(&p, &r, f), 0);
    fflush(f);
    long end = ftell(f);
    rewind(f);
    int lines = 0;
    while (ftell(f) < end && fgets(buf, sizeof(buf), f))
        lines++;
    assert_int_equal(lines, 2 + 96); /* the cost line, the header, one row per ISP */
    fclose(f);
    fg_plan_result_clear(&r);
    fg_errlist_clear(&errs);
    fg_plan_problem_clear(&p);
}

/* ---- the reference day simulated (scenario_run.c), as planner_bench does ---- */

static void load_reference_day(struct fg_plan_problem *p)
{
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    int rc = fg_plan_scenario_load(FG_SOURCE_DIR "/conf/scenarios/reference-day.json", p,
                                   &errs);
    if (rc)
        fail_msg("reference-day.json: %s: %s", errs.v[0].path, errs.v[0].msg);
    fg_errlist_clear(&errs);
    int64_t end = p->start + (int64_t)p->n_isp * p->isp_s;
    for (uint32_t a = 0; a < p->n_assets; a++)
        if (p->assets[a].kind == FG_PLAN_EV && p->assets[a].departure > end)
            p->assets[a].departure = end;
}

/* Without set-points the simulator is the uncontrolled schedule: its cost
 * agrees with fg_scenario_uncontrolled()'s within 1 %. */
static void test_reference_day_simulated_uncontrolled(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    fg_plan_problem_init(&p);
    load_reference_day(&p);
    size_t n = (size_t)p.n_assets * p.n_isp;
    double *w = calloc(2 * n, sizeof(double)), a[4], b[4];
    assert_non_null(w);
    fg_scenario_uncontrolled(&p, w);
    assert_int_equal(fg_scenario_run(&p, NULL, NULL, 60, w + n, NULL), 0);
    double cu = fg_scenario_cost(&p, w, a), cs = fg_scenario_cost(&p, w + n, b);
    print_message("uncontrolled %.4f, simulated %.4f\n", cu, cs);
    assert_true(cu > 0);
    assert_true(fabs(cs - cu) <= 0.01 * cu);
    assert_int_equal(fg_scenario_run(&p, NULL, NULL, 7, w + n, NULL), FG_EINVAL);
    free(w);
    fg_plan_problem_clear(&p);
}

/* The real-time controller alone through the reference day in 60 s steps:
 * it never fails, every EV gets the energy it asked for by departure, the
 * import and export limits hold in every step, the battery stays within
 * its SoC bounds, and the ISP averages carry the same energy. */
static void test_reference_day_realtime_physics(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    fg_plan_problem_init(&p);
    load_reference_day(&p);
    const struct fg_sched_plugin *rt = fg_sched_realtime_plugin();
    char err[256] = "";
    void *inst = rt->create(NULL, "{}", err, sizeof err);
    assert_non_null(inst);
    double *w = calloc((size_t)p.n_assets * p.n_isp, sizeof(double)), parts[4];
    struct fg_scenario_stats st = {.ev_wh = calloc(p.n_assets, sizeof(double))};
    assert_non_null(w);
    assert_non_null(st.ev_wh);
    assert_int_equal(fg_scenario_run(&p, rt, inst, 60, w, &st), 0);
    rt->destroy(inst);
    assert_int_equal(st.steps, 1440);
    assert_int_equal(st.calls, 1440);
    assert_int_equal(st.failures, 0);
    double dt = p.isp_s / 3600.0;
    for (uint32_t a = 0; a < p.n_assets; a++) {
        const struct fg_plan_asset *as = &p.assets[a];
        if (as->kind != FG_PLAN_EV)
            continue;
        double need = as->end_min_wh - as->energy_wh, sum = 0;
        print_message("%s: %.0f of %.0f Wh\n", as->id, st.ev_wh[a], need);
        assert_true(isfinite(st.ev_wh[a]));
        assert_true(st.ev_wh[a] >= need - 1);
        assert_true(st.ev_wh[a] <= need + 1e-6);
        for (uint32_t t = 0; t < p.n_isp; t++)
            sum += w[(size_t)a * p.n_isp + t] * dt * as->eta_charge;
        assert_true(fabs(sum - st.ev_wh[a]) < 1e-3);
    }
    print_message("limits exceeded by at most %.3f W; battery SoC %+.3f / %+.3f %% "
                  "from its bounds\n",
                  st.max_excess_w, st.soc_lo_pct, st.soc_hi_pct);
    assert_true(st.max_excess_w <= 1e-6);
    assert_true(st.soc_lo_pct >= -1e-9);
    assert_true(st.soc_hi_pct <= 1e-9);
    double c = fg_scenario_cost(&p, w, parts);
    print_message("cost %.2f: energy %.2f, wear %.2f, demand %.2f, penalty %.2f\n", c,
                  parts[0], parts[1], parts[2], parts[3]);
    assert_true(isfinite(c));
    free(st.ev_wh);
    free(w);
    fg_plan_problem_clear(&p);
}

static void test_generated_50_assets_matches_glpsol(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    fg_plan_problem_init(&p);
    assert_int_equal(fg_gen_problem(&p, 50, 1), 0);
    p.time_limit_s = 120;
    solve_and_compare(&p, "gen-50", &r);
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
}

/* ---- constraints that cannot hold give way, named and sized ---- */

static const struct fg_sched_slack *find_slack(const struct fg_plan_result *r,
                                               const char *name, int64_t at)
{
    for (size_t i = 0; i < r->n_slack; i++)
        if (!strcmp(r->slack[i].name, name) && r->slack[i].at == at)
            return &r->slack[i];
    return NULL;
}

static void test_ev_short_of_energy(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    fg_plan_problem_init(&p);
    assert_int_equal(fg_gen_empty(&p, 8, 900), 0);
    for (uint32_t t = 0; t < 8; t++)
        p.price_import[t] = 0.3;
    /* 11 kW for 1.5 h = 16.5 kWh, but 30 kWh wanted: 13.5 kWh short */
    struct fg_plan_asset *a = fg_plan_asset_add(&p, FG_PLAN_EV, "ev-late");
    a->arrival = FG_GEN_T0 + 900;
    a->departure = FG_GEN_T0 + 900 + 5400;
    a->max_charge_w = 11000;
    a->end_min_wh = a->capacity_wh = a->max_wh = 30000;
    assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
    const struct fg_sched_slack *s = find_slack(&r, "ev_energy", 0);
    assert_non_null(s);
    assert_string_equal(s->asset, "ev-late");
    assert_string_equal(s->unit, "Wh");
    assert_true(fabs(s->amount - 13500) < 1e-3);
    assert_true(fabs(r.cost_penalty - 13.5 * p.pen.ev_energy_per_kwh) < 1e-6);
    /* it charged at full power while it was there, and not outside */
    assert_true(fabs(r.w[0]) < 1e-6);
    for (uint32_t t = 1; t <= 6; t++)
        assert_true(fabs(r.w[t] - 11000) < 1e-3);
    assert_true(fabs(r.w[7]) < 1e-6);
    check_plan(&p, &r);
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
}

static void test_dso_limit_below_inflexible_load(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    fg_plan_problem_init(&p);
    assert_int_equal(fg_gen_empty(&p, 4, 900), 0);
    struct fg_plan_asset *l = fg_plan_asset_add(&p, FG_PLAN_LOAD, "office");
    l->load_type = FG_SCHED_LOAD_INFLEXIBLE;
    l->w = calloc(4, sizeof(double));
    assert_non_null(l->w);
    for (uint32_t t = 0; t < 4; t++) {
        p.price_import[t] = 0.2;
        l->w[t] = 8000;
    }
    p.import_max_w[1] = p.import_max_w[2] = 5000; /* DSO: 5 kW, load 8 kW */
    assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
    assert_int_equal(r.n_slack, 2);
    for (uint32_t t = 1; t <= 2; t++) {
        const struct fg_sched_slack *s =
            find_slack(&r, "grid_import", FG_GEN_T0 + 900 * t);
        assert_non_null(s);
        assert_string_equal(s->unit, "W");
        assert_true(fabs(s->amount - 3000) < 1e-3);
    }
    /* the load is still served: the plan says the limit gave way, by 3 kW */
    assert_true(fabs(r.import_w[1] - 8000) < 1e-3);
    assert_true(fabs(r.cost_penalty - 2 * 3 * 0.25 * p.pen.grid_per_kwh) < 1e-9);
    check_plan(&p, &r);
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
}

static void test_battery_relieves_dso_limit(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    fg_plan_problem_init(&p);
    assert_int_equal(fg_gen_empty(&p, 4, 900), 0);
    struct fg_plan_asset *l = fg_plan_asset_add(&p, FG_PLAN_LOAD, "office");
    l->load_type = FG_SCHED_LOAD_INFLEXIBLE;
    l->w = calloc(4, sizeof(double));
    assert_non_null(l->w);
    for (uint32_t t = 0; t < 4; t++) {
        p.price_import[t] = 0.2;
        l->w[t] = 8000;
    }
    p.import_max_w[2] = p.import_max_w[3] = 5000;
    struct fg_plan_asset *b = fg_plan_asset_add(&p, FG_PLAN_BATTERY, "bat");
    b->capacity_wh = b->max_wh = 10000;
    b->energy_wh = 1000; /* 1 kWh: 0.75 kWh of the 1.5 kWh missing */
    b->max_charge_w = b->max_discharge_w = 3000;
    assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
    /* 2 x 3 kW x 0.25 h = 1.5 kWh are missing under the limit; the battery
     * holds 1 kWh and charges the other 0.5 kWh in ISPs 0-1: no slack */
    assert_int_equal(r.n_slack, 0);
    assert_true(fabs(r.w[(size_t)1 * 4 + 2] + 3000) < 1e-3);
    assert_true(fabs(r.w[(size_t)1 * 4 + 3] + 3000) < 1e-3);
    check_plan(&p, &r);
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
}

/* A charge_state target (90 % in ISPs 5-6, none before and after): the
 * battery (3 of 10 kWh, 8 kW) charges the 6 kWh ahead, in the two cheap
 * ISPs first, is at 9 kWh at the end of ISP 5 and holds it through ISP 6;
 * no slack. A target it cannot reach in time (100 % by the end of ISP 0)
 * is softened and named. */
static void test_charge_state_target(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    static const double price[8] = {0.3, 0.1, 0.1, 0.3, 0.3, 0.3, 0.3, 0.3};
    fg_plan_problem_init(&p);
    assert_int_equal(fg_gen_empty(&p, 8, 900), 0);
    p.soc_target_pct = malloc(8 * sizeof(double));
    assert_non_null(p.soc_target_pct);
    for (uint32_t t = 0; t < 8; t++) {
        p.price_import[t] = price[t];
        p.soc_target_pct[t] = t == 5 || t == 6 ? 90 : NAN;
    }
    struct fg_plan_asset *b = fg_plan_asset_add(&p, FG_PLAN_BATTERY, "bat");
    b->capacity_wh = b->max_wh = 10000;
    b->energy_wh = 3000;
    b->max_charge_w = b->max_discharge_w = 8000;
    assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
    assert_int_equal(r.n_slack, 0);
    double e = 3000;
    for (uint32_t t = 0; t < 8; t++) {
        e += r.w[t] * 0.25;
        if (t == 5 || t == 6)
            assert_true(fabs(e - 9000) < 1e-3);
    }
    assert_true(fabs(r.w[1] - 8000) < 1e-3 && fabs(r.w[2] - 8000) < 1e-3);
    check_plan(&p, &r);
    fg_plan_result_clear(&r);
    for (uint32_t t = 0; t < 8; t++)
        p.soc_target_pct[t] = t == 0 ? 100 : NAN;
    assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
    const struct fg_sched_slack *sl = find_slack(&r, "soc_target_under", p.start);
    assert_non_null(sl);
    assert_string_equal(sl->asset, "bat");
    assert_true(fabs(sl->amount - 5000) < 1e-3); /* 10 kWh wanted, 3 + 2 reached */
    check_plan(&p, &r);
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
}

static void test_shiftable_runs_in_cheapest_window(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    static const double price[6] = {0.3, 0.2, 0.1, 0.1, 0.25, 0.3};
    fg_plan_problem_init(&p);
    assert_int_equal(fg_gen_empty(&p, 6, 3600), 0);
    memcpy(p.price_import, price, sizeof(price));
    struct fg_plan_asset *a = fg_plan_asset_add(&p, FG_PLAN_LOAD, "washer");
    a->load_type = FG_SCHED_LOAD_SHIFTABLE;
    a->rated_w = 2000;
    a->run_s = 7200;
    a->earliest_start = FG_GEN_T0;
    a->latest_end = FG_GEN_T0 + 6 * 3600;
    struct fg_plan_asset *d = fg_plan_asset_add(&p, FG_PLAN_LOAD, "heater");
    d->load_type = FG_SCHED_LOAD_DISCONNECTABLE;
    d->rated_w = 1000;
    d->off_cost_per_kwh = 0.22; /* off where energy costs more than 0.22 */
    assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
    static const double want[6] = {0, 0, 2000, 2000, 0, 0};
    static const double heat[6] = {0, 1000, 1000, 1000, 0, 0};
    for (uint32_t t = 0; t < 6; t++) {
        assert_true(fabs(r.w[t] - want[t]) < 1e-6);
        assert_true(fabs(r.w[6 + t] - heat[t]) < 1e-6);
    }
    const struct fg_sched_slack *s = find_slack(&r, "load_off", 0);
    assert_non_null(s);
    assert_string_equal(s->asset, "heater");
    assert_true(fabs(s->amount - 3000) < 1e-6);
    /* washer 2 x 2 kWh at 0.1, heater 0.2 + 0.1 + 0.1, three hours off at 0.22 */
    assert_true(fabs(r.objective - (0.4 + 0.4 + 3 * 0.22)) < 1e-9);
    check_plan(&p, &r);
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
}

static void test_shiftable_window_past_horizon_is_not_forced(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    fg_plan_problem_init(&p);
    assert_int_equal(fg_gen_empty(&p, 4, 3600), 0);
    for (uint32_t t = 0; t < 4; t++)
        p.price_import[t] = 0.3;
    struct fg_plan_asset *a = fg_plan_asset_add(&p, FG_PLAN_LOAD, "dryer");
    a->load_type = FG_SCHED_LOAD_SHIFTABLE;
    a->rated_w = 2000;
    a->run_s = 3600;
    a->earliest_start = FG_GEN_T0;
    a->latest_end = FG_GEN_T0 + 10 * 3600; /* the horizon has 4 h */
    assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
    assert_int_equal(r.n_slack, 0);
    assert_true(fabs(r.objective) < 1e-9); /* it waits for a later plan */
    fg_plan_result_clear(&r);
    /* the same window inside the horizon: it must run, once */
    p.assets[0].latest_end = FG_GEN_T0 + 4 * 3600;
    assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
    assert_int_equal(r.n_slack, 0);
    assert_true(fabs(r.objective - 0.6) < 1e-9);
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
}

static void test_brp_target_deviation(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    fg_plan_problem_init(&p);
    assert_int_equal(fg_gen_empty(&p, 4, 900), 0);
    p.target_w = malloc(4 * sizeof(double));
    assert_non_null(p.target_w);
    p.brp_price_per_kwh = 0.5;
    struct fg_plan_asset *l = fg_plan_asset_add(&p, FG_PLAN_LOAD, "base");
    l->load_type = FG_SCHED_LOAD_INFLEXIBLE;
    l->w = calloc(4, sizeof(double));
    struct fg_plan_asset *b = fg_plan_asset_add(&p, FG_PLAN_BATTERY, "bat");
    b->capacity_wh = b->max_wh = 10000;
    b->energy_wh = 5000;
    b->max_charge_w = b->max_discharge_w = 1000;
    for (uint32_t t = 0; t < 4; t++) {
        p.price_import[t] = 0.2;
        p.price_export[t] = 0.2;
        p.assets[0].w[t] = 2000;
        p.target_w[t] = t == 3 ? NAN : 4000; /* 2 kW more than the load */
    }
    assert_int_equal(fg_plan_solve(&p, &r, &err), 0);
    /* the battery charges 1 kW; 1 kW stays short of the target */
    for (uint32_t t = 0; t < 3; t++) {
        const struct fg_sched_slack *s =
            find_slack(&r, "brp_target_under", FG_GEN_T0 + 900 * t);
        assert_non_null(s);
        assert_true(fabs(s->amount - 1000) < 1e-3);
    }
    assert_null(find_slack(&r, "brp_target_under", FG_GEN_T0 + 900 * 3));
    check_plan(&p, &r);
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
}

/* ---- the time limit: a clear failure, no plan ---- */

static void test_time_limit_is_a_failure(void **state)
{
    (void)state;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    fg_plan_problem_init(&p);
    assert_int_equal(fg_gen_problem(&p, 400, 3), 0);
    p.time_limit_s = 0.01;
    int rc = fg_plan_solve(&p, &r, &err);
    assert_int_equal(rc, FG_ETIMEOUT);
    assert_non_null(strstr(err.msg, "time limit"));
    assert_null(r.w);
    assert_int_equal(r.n_isp, 0);
    fg_plan_problem_clear(&p);
}

/* ---- scenario validation ---- */

static bool has_error(const struct fg_errlist *e, const char *path, const char *msg)
{
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->v[i].path, path) && strstr(e->v[i].msg, msg))
            return true;
    return false;
}

static void test_scenario_errors_have_paths(void **state)
{
    (void)state;
    static const char text[] =
        "{\"start\": \"2026-06-01T00:00:00Z\", \"isp_s\": 900, \"horizon_s\": 3600,"
        " \"site\": {\"import_max_w\": 1000, \"export_max_w\": -1, \"colour\": 1,"
        "   \"dso_import_max_w\": [1, 2]},"
        " \"prices\": {\"import\": [0.1, 0.2, 0.3, 0.3], \"export\": [0.1, 0.5, 0, 0]},"
        " \"evs\": [{\"id\": \"e1\", \"arrival\": \"2026-06-01T09:00:00Z\","
        "   \"departure\": \"2026-06-01T08:00:00Z\", \"energy_wh\": 1000,"
        "   \"max_charge_w\": \"fast\"},"
        "  {\"id\": \"e1\", \"arrival\": \"noon\", \"departure\": "
        "\"2026-06-01T08:00:00Z\","
        "   \"energy_wh\": 1000, \"max_charge_w\": 7000, \"max_discharge_w\": 5000},"
        "  {\"id\": \"e3\", \"arrival\": \"2026-05-31T20:00:00Z\","
        "   \"departure\": \"2026-05-31T22:00:00Z\", \"energy_wh\": 1, \"max_charge_w\": "
        "1}],"
        " \"loads\": [{\"id\": \"w\", \"type\": \"shiftable\", \"rated_w\": 1000,"
        "   \"run_s\": 1000, \"earliest_start\": \"2026-06-01T00:00:00Z\","
        "   \"latest_end\": \"2026-06-01T01:00:00Z\"}, {\"id\": \"x\", \"type\": "
        "\"kettle\"}],"
        " \"batteries\": [{\"id\": \"b\", \"capacity_wh\": 1000, \"soc_pct\": 90,"
        "   \"soc_max_pct\": 80, \"max_charge_w\": 1, \"max_discharge_w\": 1}]}";
    struct fg_plan_problem p;
    struct fg_errlist e;
    fg_plan_problem_init(&p);
    fg_errlist_init(&e);
    assert_int_equal(fg_plan_scenario_parse(text, strlen(text), &p, &e), FG_ECONFIG);
    for (size_t i = 0; i < e.n; i++)
        print_message("%s: %s\n", e.v[i].path, e.v[i].msg);
    assert_true(has_error(&e, "/site/export_max_w", "-1 not in [0,"));
    assert_true(has_error(&e, "/site/colour", "unknown key"));
    assert_true(has_error(&e, "/site/dso_import_max_w", "2 values, expected 4"));
    assert_true(has_error(&e, "/prices/export/1", "0.5 above the import price 0.2"));
    assert_true(has_error(&e, "/evs/0/departure", "not after arrival"));
    assert_true(has_error(&e, "/evs/0/max_charge_w", "expected number, got string"));
    assert_true(has_error(&e, "/evs/1/id", "duplicate id \"e1\""));
    assert_true(has_error(&e, "/evs/1/arrival", "not a UTC time"));
    assert_true(has_error(&e, "/evs/1/max_discharge_w", "without \"v2g\": true"));
    assert_true(has_error(&e, "/evs/2/departure", "before the horizon's start"));
    assert_true(has_error(&e, "/loads/0/run_s", "not a multiple of isp_s 900"));
    assert_true(has_error(&e, "/loads/1/type", "expected \"inflexible\""));
    assert_true(has_error(&e, "/batteries/0/soc_pct", "90 above soc_max_pct 80"));
    fg_errlist_clear(&e);
    fg_plan_problem_clear(&p);

    static const char bad[] = "{\"start\": 1,\n \"horizon_s\": }";
    fg_plan_problem_init(&p);
    fg_errlist_init(&e);
    assert_int_equal(fg_plan_scenario_parse(bad, strlen(bad), &p, &e), FG_EPARSE);
    assert_true(has_error(&e, "", "malformed JSON at line 2"));
    fg_errlist_clear(&e);
    fg_plan_problem_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_instances_match_dp),
        cmocka_unit_test(test_reference_day_matches_glpsol),
        cmocka_unit_test(test_reference_day_simulated_uncontrolled),
        cmocka_unit_test(test_reference_day_realtime_physics),
        cmocka_unit_test(test_generated_50_assets_matches_glpsol),
        cmocka_unit_test(test_ev_short_of_energy),
        cmocka_unit_test(test_dso_limit_below_inflexible_load),
        cmocka_unit_test(test_battery_relieves_dso_limit),
        cmocka_unit_test(test_charge_state_target),
        cmocka_unit_test(test_shiftable_runs_in_cheapest_window),
        cmocka_unit_test(test_shiftable_window_past_horizon_is_not_forced),
        cmocka_unit_test(test_brp_target_deviation),
        cmocka_unit_test(test_time_limit_is_a_failure),
        cmocka_unit_test(test_scenario_errors_have_paths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
