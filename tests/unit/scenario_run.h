/* A scenario (gateway/sched/planner/plan.h, docs/scenario.md) run in
 * simulated time under a real-time scheduler, and the cost of a schedule
 * under the scenario's model. Plain C, no I/O, no clock. Shared by
 * tests/bench/planner_bench.c (the reference day's three strategies) and
 * tests/unit/test_planner.c (the simulator's physics). */
#ifndef FG_SCENARIO_RUN_H
#define FG_SCENARIO_RUN_H

#include "plan.h"

/* The cost of schedule w (W, n_assets rows of n_isp, row per asset) under
 * p's model: parts[0..3] = energy, wear, demand, penalty (grid limits, EV
 * energy short, battery end target); returns their sum. Disconnection and
 * shift penalties are not counted. */
double fg_scenario_cost(const struct fg_plan_problem *p, const double *w, double *parts);

/* Uncontrolled into w (n_assets * n_isp, by the caller): EVs at full power
 * from arrival until they have their energy, the battery idle, PV not
 * curtailed, disconnectable loads on, shiftable loads from their earliest
 * start. */
void fg_scenario_uncontrolled(const struct fg_plan_problem *p, double *w);

/* What a run measured, beside the schedule. */
struct fg_scenario_stats {
    double *ev_wh;         /* n_assets: energy delivered to each EV (0 others) */
    double max_excess_w;   /* largest import (export) above import_max_w
                              (export_max_w) in any step; <= 0 when they held */
    double soc_lo_pct;     /* lowest / highest battery SoC, relative to the */
    double soc_hi_pct;     /* battery's own bounds: >= 0 / <= 0 when kept */
    uint32_t steps, calls; /* steps simulated, realtime() calls made */
    uint32_t failures;     /* realtime() calls that returned non-zero */
};

/* Run p from its start to the end of its horizon in steps of step_s (a
 * divisor of p->isp_s) with plugin's realtime() called before every step on
 * a view built from the scenario and the state so far (inst from its
 * create(); plugin NULL = no set-points, which is uncontrolled as above).
 * Set-points are clamped to the envelope of the asset they name (unknown
 * ids ignored) and hold until replaced; each asset's power is averaged per
 * ISP into w (n_assets * n_isp, by the caller). st (optional, ev_wh by the
 * caller or NULL) gets the physical outcome. 0, FG_EINVAL (step_s) or
 * FG_ENOMEM; a failing realtime() keeps the previous set-points, as the
 * host would fall back, and is counted. */
int fg_scenario_run(const struct fg_plan_problem *p, const struct fg_sched_plugin *plugin,
                    void *inst, int32_t step_s, double *w, struct fg_scenario_stats *st);

/* The same with a plan in force from p's start, as the host hands it to
 * realtime(): plan (n_assets * n_isp, row per problem asset, e.g. a
 * fg_plan_result's w) gives each view asset's plan_w and, summed over all
 * assets (the inflexible load included), plan_site_w. plan NULL = none. */
int fg_scenario_run_plan(const struct fg_plan_problem *p, const double *plan,
                         const struct fg_sched_plugin *plugin, void *inst, int32_t step_s,
                         double *w, struct fg_scenario_stats *st);

#endif
