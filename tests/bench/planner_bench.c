/* The optimising planner: solve time for one day of 96 ISPs with 10, 50 and
 * 200 assets (tests/unit/planner_gen.c), and the reference day's cost with
 * uncontrolled charging (each EV at full power from arrival until it has
 * its energy, the battery idle, everything else as planned without
 * control) against the planner's.
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

/* The cost of a given schedule w (W, row per asset) under p's model. */
static double schedule_cost(const struct fg_plan_problem *p, const double *w,
                            double *parts)
{
    double dt = p->isp_s / 3600.0, peak = 0;
    memset(parts, 0, 4 * sizeof(double));
    for (uint32_t t = 0; t < p->n_isp; t++) {
        double net = 0;
        for (uint32_t a = 0; a < p->n_assets; a++)
            net += w[(size_t)a * p->n_isp + t];
        double imp = fmax(net, 0) / 1000, exp = fmax(-net, 0) / 1000;
        parts[0] += dt * (p->price_import[t] * imp - p->price_export[t] * exp);
        parts[3] += p->pen.grid_per_kwh * dt *
                    (fmax(0, imp - p->import_max_w[t] / 1000) +
                     fmax(0, exp - p->export_max_w[t] / 1000));
        peak = fmax(peak, imp);
    }
    for (uint32_t a = 0; a < p->n_assets; a++) {
        const struct fg_plan_asset *as = &p->assets[a];
        if (as->kind != FG_PLAN_BATTERY && as->kind != FG_PLAN_EV)
            continue;
        double e = as->energy_wh;
        for (uint32_t t = 0; t < p->n_isp; t++) {
            double x = w[(size_t)a * p->n_isp + t];
            parts[1] += as->wear_per_kwh * dt * fabs(x) / 1000;
            e += x > 0 ? x * dt * as->eta_charge : x * dt / as->eta_discharge;
        }
        if (!isnan(as->end_min_wh) && e < as->end_min_wh - 1e-6)
            parts[3] +=
                (as->kind == FG_PLAN_EV ? p->pen.ev_energy_per_kwh : p->pen.soc_per_kwh) *
                (as->end_min_wh - e) / 1000;
    }
    parts[2] = p->demand_price_per_kw * peak;
    return parts[0] + parts[1] + parts[2] + parts[3];
}

/* Uncontrolled: EVs at full power from arrival until they have their energy,
 * the battery idle, PV not curtailed, disconnectable loads on, shiftable
 * loads from their earliest start. */
static int uncontrolled(const struct fg_plan_problem *p, double *w)
{
    double dt = p->isp_s / 3600.0;
    for (uint32_t a = 0; a < p->n_assets; a++) {
        const struct fg_plan_asset *as = &p->assets[a];
        double *row = w + (size_t)a * p->n_isp;
        double need = isnan(as->end_min_wh) ? 0 : as->end_min_wh - as->energy_wh;
        int64_t run_from = as->earliest_start;
        for (uint32_t t = 0; t < p->n_isp; t++) {
            int64_t s = p->start + (int64_t)t * p->isp_s, e = s + p->isp_s;
            row[t] = 0;
            if (as->kind == FG_PLAN_EV) {
                int64_t from = as->arrival > s ? as->arrival : s;
                int64_t to = as->departure < e ? as->departure : e;
                double f = to > from ? (double)(to - from) / p->isp_s : 0;
                double wh =
                    fmin(as->max_charge_w * f * dt * as->eta_charge, fmax(need, 0));
                row[t] = wh / dt / as->eta_charge;
                need -= wh;
            } else if (as->kind == FG_PLAN_PV) {
                row[t] = -as->avail_w[t];
            } else if (as->kind == FG_PLAN_LOAD) {
                if (as->load_type == FG_SCHED_LOAD_INFLEXIBLE)
                    row[t] = as->w[t];
                else if (as->load_type == FG_SCHED_LOAD_DISCONNECTABLE)
                    row[t] = as->rated_w;
                else if (s >= run_from && s < run_from + (int64_t)as->run_s)
                    row[t] = as->rated_w;
            }
        }
    }
    return 0;
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
    double *w = calloc((size_t)p.n_assets * p.n_isp, sizeof(double)), u[4], o[4];
    if (!w) {
        rc = FG_ENOMEM;
        goto out;
    }
    uncontrolled(&p, w);
    double cu = schedule_cost(&p, w, u);
    double t0 = now_s();
    rc = fg_plan_solve(&p, &r, &err);
    double ts = now_s() - t0;
    if (!rc) {
        double co = schedule_cost(&p, r.w, o);
        printf("\n%s (%u ISPs, %u assets; departures clipped to the horizon)\n\n", file,
               p.n_isp, p.n_assets);
        printf("| schedule | total | energy | wear | demand | penalty "
               "|\n|---|---|---|---|---|---|\n");
        printf("| uncontrolled | %.2f | %.2f | %.2f | %.2f | %.2f |\n", cu, u[0], u[1],
               u[2], u[3]);
        printf("| planner (%.3f s) | %.2f | %.2f | %.2f | %.2f | %.2f |\n", ts,
               r.objective, r.cost_energy, r.cost_wear, r.cost_demand, r.cost_penalty);
        printf("\nsaving: %.2f (%.1f %%); the planner's schedule re-costed here: %.2f + "
               "disconnection/shift penalties %.2f\n",
               cu - r.objective, 100 * (cu - r.objective) / cu, co, r.objective - co);
    } else {
        fprintf(stderr, "planner_bench: %s: %s\n", file, err.msg);
    }
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
