/* The optimising planner: solve time for one day of 96 ISPs with 10, 50 and
 * 200 assets (tests/unit/planner_gen.c), and the reference day's cost with
 * uncontrolled charging (each EV at full power from arrival until it has
 * its energy, the battery idle, everything else as planned without
 * control), with the built-in real-time controller alone (gateway/sched/
 * realtime.c, called every 60 s of simulated time by tests/unit/
 * scenario_run.c) and with the planner.
 *
 *   planner_bench [SCENARIO]   (default: conf/scenarios/reference-day.json)
 *
 * For the comparison both plans deliver the same EV energy: departures
 * after the horizon are moved to its end, so the planner cannot win by
 * leaving energy for the next day. Prints figures; not a pass/fail test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan.h"
#include "planner_gen.h"
#include "realtime.h"
#include "scenario_run.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench_size(uint32_t n)
{
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    struct fg_lp lp;
    struct fg_plan_map *m = NULL;
    fg_plan_problem_init(&p);
    fg_lp_init(&lp);
    if (fg_gen_problem(&p, n, 1) || fg_plan_build(&p, &lp, &m)) {
        fprintf(stderr, "planner_bench: out of memory\n");
        return 1;
    }
    size_t ints = 0;
    for (size_t j = 0; j < lp.n_col; j++)
        ints += lp.col[j].is_int;
    p.time_limit_s = 600;
    double t0 = now_s();
    int rc = fg_plan_solve(&p, &r, &err);
    double t = now_s() - t0;
    if (rc)
        printf("| %u | %zu | %zu | %zu | failed: %s | |\n", n, lp.n_col, lp.n_row, ints,
               err.msg);
    else
        printf("| %u | %zu | %zu | %zu | %.3f | %.2f |\n", n, lp.n_col, lp.n_row, ints, t,
               r.objective);
    fg_plan_map_free(m);
    fg_lp_clear(&lp);
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
    return rc ? 1 : 0;
}

/* Where the batteries end in schedule w against their end targets: the
 * real-time controller has no end-of-day target, so this is most of its
 * penalty. */
static void battery_end(const struct fg_plan_problem *p, const double *w)
{
    double dt = p->isp_s / 3600.0;
    for (uint32_t a = 0; a < p->n_assets; a++) {
        const struct fg_plan_asset *as = &p->assets[a];
        if (as->kind != FG_PLAN_BATTERY || isnan(as->end_min_wh))
            continue;
        double e = as->energy_wh;
        for (uint32_t t = 0; t < p->n_isp; t++) {
            double x = w[(size_t)a * p->n_isp + t];
            e += x > 0 ? x * dt * as->eta_charge : x * dt / as->eta_discharge;
        }
        printf("\nreal-time controller: %s ends at %.1f %% SoC, end target %.1f %%: "
               "penalty %.2f\n",
               as->id, 100 * e / as->capacity_wh, 100 * as->end_min_wh / as->capacity_wh,
               p->pen.soc_per_kwh * fmax(as->end_min_wh - e, 0) / 1000);
    }
}

/* The real-time controller through p in 60 s steps, alone (plan NULL) or
 * following plan; its schedule, averaged per ISP, into w. */
static int realtime_day(const struct fg_plan_problem *p, const double *plan, double *w)
{
    const struct fg_sched_plugin *rt = fg_sched_realtime_plugin();
    char err[256] = "";
    void *inst = rt->create(NULL, "{}", err, sizeof err);
    if (!inst) {
        fprintf(stderr, "planner_bench: realtime: %s\n", err);
        return FG_EINVAL;
    }
    struct fg_scenario_stats st = {0};
    int rc = fg_scenario_run_plan(p, plan, rt, inst, 60, w, &st);
    rt->destroy(inst);
    if (rc)
        fprintf(stderr, "planner_bench: simulating the real-time controller failed\n");
    else if (st.failures)
        fprintf(stderr, "planner_bench: realtime() failed %u of %u times\n", st.failures,
                st.calls);
    return rc;
}

/* The value of the energy disconnectable loads did not get in schedule w
 * (off_cost_per_kwh), which fg_scenario_cost() leaves out. */
static double off_value(const struct fg_plan_problem *p, const double *w)
{
    double v = 0, dt = p->isp_s / 3600.0;
    for (uint32_t a = 0; a < p->n_assets; a++) {
        const struct fg_plan_asset *as = &p->assets[a];
        if (as->kind != FG_PLAN_LOAD || as->load_type != FG_SCHED_LOAD_DISCONNECTABLE)
            continue;
        for (uint32_t t = 0; t < p->n_isp; t++)
            v += as->off_cost_per_kwh *
                 fmax(as->rated_w - w[(size_t)a * p->n_isp + t], 0) / 1000 * dt;
    }
    return v;
}

static int bench_reference(const char *file)
{
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_errlist errs;
    struct fg_error err = {0};
    fg_plan_problem_init(&p);
    fg_errlist_init(&errs);
    int rc = fg_plan_scenario_load(file, &p, &errs);
    if (rc) {
        fprintf(stderr, "planner_bench: %s: %s: %s\n", file, errs.n ? errs.v[0].path : "",
                errs.n ? errs.v[0].msg : "invalid");
        goto out;
    }
    int64_t end = p.start + (int64_t)p.n_isp * p.isp_s;
    for (uint32_t a = 0; a < p.n_assets; a++)
        if (p.assets[a].kind == FG_PLAN_EV && p.assets[a].departure > end)
            p.assets[a].departure = end;
    double *w = calloc((size_t)p.n_assets * p.n_isp, sizeof(double)), u[4], c[4], o[4];
    if (!w) {
        rc = FG_ENOMEM;
        goto out;
    }
    fg_scenario_uncontrolled(&p, w);
    double cu = fg_scenario_cost(&p, w, u);
    rc = realtime_day(&p, NULL, w);
    if (rc)
        goto out_w;
    double cr = fg_scenario_cost(&p, w, c);
    double t0 = now_s();
    rc = fg_plan_solve(&p, &r, &err);
    double ts = now_s() - t0;
    double f[4] = {NAN, NAN, NAN, NAN}, cf = NAN, off_f = NAN;
    if (!rc) {
        double *wf = calloc((size_t)p.n_assets * p.n_isp, sizeof(double));
        if (wf && !realtime_day(&p, r.w, wf)) {
            cf = fg_scenario_cost(&p, wf, f);
            off_f = off_value(&p, wf);
        }
        free(wf);
    }
    if (!rc) {
        double co = fg_scenario_cost(&p, r.w, o);
        printf("\n%s (%u ISPs, %u assets; departures clipped to the horizon)\n\n", file,
               p.n_isp, p.n_assets);
        printf("| schedule | total | energy | wear | demand | penalty "
               "|\n|---|---|---|---|---|---|\n");
        printf("| uncontrolled | %.2f | %.2f | %.2f | %.2f | %.2f |\n", cu, u[0], u[1],
               u[2], u[3]);
        printf("| real-time controller | %.2f | %.2f | %.2f | %.2f | %.2f |\n", cr, c[0],
               c[1], c[2], c[3]);
        printf("| planner (%.3f s) | %.2f | %.2f | %.2f | %.2f | %.2f |\n", ts,
               r.objective, r.cost_energy, r.cost_wear, r.cost_demand, r.cost_penalty);
        printf("| real-time controller following the plan | %.2f | %.2f | %.2f | %.2f | "
               "%.2f |\n",
               cf, f[0], f[1], f[2], f[3]);
        battery_end(&p, w);
        printf("\nsaving against uncontrolled: real-time controller %.2f (%.1f %%), "
               "planner %.2f (%.1f %%); the planner's schedule re-costed here: %.2f + "
               "disconnection/shift penalties %.2f\n",
               cu - cr, 100 * (cu - cr) / cu, cu - r.objective,
               100 * (cu - r.objective) / cu, co, r.objective - co);
        printf("following the plan, disconnected loads' energy not served is worth %.2f "
               "(the plan's %.2f): %.2f in all, against the planner's %.2f\n",
               off_f, off_value(&p, r.w), cf + off_f, r.objective);
    } else {
        fprintf(stderr, "planner_bench: %s: %s\n", file, err.msg);
    }
out_w:
    free(w);
out:
    fg_plan_result_clear(&r);
    fg_errlist_clear(&errs);
    fg_plan_problem_clear(&p);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *ref =
        argc > 1 ? argv[1] : FG_SOURCE_DIR "/conf/scenarios/reference-day.json";
    printf("planner: %s, 96 ISPs of 15 min\n\n", fg_lp_solver_name());
    printf("| assets | columns | rows | binaries | solve s | objective |\n"
           "|---|---|---|---|---|---|\n");
    int rc = 0;
    static const uint32_t sizes[] = {10, 50, 200};
    for (size_t i = 0; i < 3; i++)
        rc |= bench_size(sizes[i]);
    rc |= bench_reference(ref);
    return rc;
}
