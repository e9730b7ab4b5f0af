/* Synthetic planning problems for the planner's tests and benchmark: a day
 * of 96 ISPs with n assets (batteries, EVs, PV, loads of each type), the
 * same for the same seed. */
#ifndef FG_PLANNER_GEN_H
#define FG_PLANNER_GEN_H

#include <stdint.h>

#include "plan.h"

#define FG_GEN_T0 1800000000 /* 2027-01-15T08:00:00Z, a whole hour */

/* p initialised by the caller. 0 or FG_ENOMEM. */
int fg_gen_problem(struct fg_plan_problem *p, uint32_t n_assets, uint32_t seed);

/* An empty problem of n ISPs of isp_s seconds: prices 0, limits 1 MW. */
int fg_gen_empty(struct fg_plan_problem *p, uint32_t n, int32_t isp_s);

#endif
