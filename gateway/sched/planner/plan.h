/* The planning problem, neutral: what the scenario file (scenario.c) and,
 * later, the plugin's view adapter fill; the model built from it
 * (fg_plan_build) and the plan read back from the solution (fg_plan_solve).
 *
 * One ISP is one step. Powers are W (+ consumption / charging / import),
 * energies Wh, prices currency per kWh. Inside the LP, powers are kW and
 * energies kWh so the coefficients stay near 1. See docs/scenario.md for the
 * model in words. */
#ifndef FG_PLAN_H
#define FG_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "fg_err.h"
#include "fg_scheduler.h"
#include "lp.h"

enum fg_plan_kind {
    FG_PLAN_BATTERY = 0,
    FG_PLAN_EV = 1,
    FG_PLAN_PV = 2,
    FG_PLAN_LOAD = 3,
};

/* One asset. Series (w, avail_w) hold n_isp values and are owned by the
 * problem (freed by fg_plan_problem_clear). */
struct fg_plan_asset {
    char id[FG_SCHED_ID_MAX];
    uint32_t kind; /* enum fg_plan_kind */

    /* battery and EV: energy content in Wh */
    double capacity_wh;
    double energy_wh;       /* battery: now; EV: at arrival */
    double min_wh;          /* battery: soft floor (slack soc_min) */
    double max_wh;          /* hard ceiling */
    double end_min_wh;      /* at the end (battery) or departure (EV), soft; NAN none */
    double max_charge_w;    /* >= 0 */
    double max_discharge_w; /* >= 0; EV: 0 unless V2G */
    double eta_charge, eta_discharge; /* (0, 1] */
    double wear_per_kwh;        /* cost per kWh of throughput (charge + discharge) */
    int64_t arrival, departure; /* EV: presence window */

    /* PV */
    double *avail_w; /* forecast, >= 0 */
    uint32_t curtailable;

    /* load */
    uint32_t load_type;      /* enum fg_sched_load_type */
    double *w;               /* inflexible: the profile */
    double rated_w;          /* disconnectable, shiftable */
    double off_cost_per_kwh; /* disconnectable: value of energy not served */
    double run_s;            /* shiftable: one run */
    int64_t earliest_start, latest_end;
};

struct fg_plan_penalties {
    double grid_per_kwh;      /* import or export beyond its limit */
    double ev_energy_per_kwh; /* EV energy short at departure */
    double soc_per_kwh;       /* battery below its floor, per ISP; end target */
    double shiftable_miss;    /* a shiftable load that does not run */
};

struct fg_plan_problem {
    int64_t start;
    int32_t isp_s;
    uint32_t n_isp;
    /* n_isp values each */
    double *price_import, *price_export;
    double *import_max_w, *export_max_w;
    double *target_w; /* BRP portfolio target at the connection, NAN none; NULL none */
    /* the stationary batteries' target state of charge (%) from a
     * charge_state signal, held at the end of each ISP, NAN none; NULL none
     * (soft: soc_per_kwh per kWh away from it, per ISP) */
    double *soc_target_pct;
    double demand_price_per_kw; /* on the horizon's peak import; 0 none */
    double brp_price_per_kwh;   /* per kWh of |net - target| */
    struct fg_plan_penalties pen;
    double time_limit_s;
    double gap;
    uint32_t n_assets;
    struct fg_plan_asset *assets;
};

void fg_plan_problem_init(struct fg_plan_problem *p);
void fg_plan_problem_clear(struct fg_plan_problem *p);

/* Cost categories of the LP columns (fg_lp_col.tag). */
enum fg_plan_cost {
    FG_PLAN_COST_NONE = 0,
    FG_PLAN_COST_ENERGY,
    FG_PLAN_COST_WEAR,
    FG_PLAN_COST_DEMAND,
    FG_PLAN_COST_PENALTY,
};

/* Where each quantity lives in the LP: filled by fg_plan_build. */
struct fg_plan_map;

/* Build the model of p into lp (initialised by the caller). *map is
 * allocated (free with fg_plan_map_free). 0, or FG_ENOMEM / FG_EINVAL. */
int fg_plan_build(const struct fg_plan_problem *p, struct fg_lp *lp,
                  struct fg_plan_map **map);
void fg_plan_map_free(struct fg_plan_map *map);

#define FG_PLAN_SLACK_MAX 4096

struct fg_plan_result {
    uint32_t n_isp, n_assets;
    double *w;         /* n_assets * n_isp, row per asset */
    double *energy_wh; /* battery / EV energy at the end of each ISP, NAN otherwise */
    double *import_w, *export_w; /* n_isp */
    double *cost;                /* n_isp: each ISP's energy + wear + penalty */
    double objective, cost_energy, cost_wear, cost_demand, cost_penalty;
    size_t n_slack;
    struct fg_sched_slack *slack;
};

void fg_plan_result_clear(struct fg_plan_result *r);

/* Build, solve (time limit p->time_limit_s) and read the plan back into r
 * (cleared by the caller). 0, or FG_ETIMEOUT (time limit; r is empty and the
 * caller keeps its previous plan), FG_ESTATE, FG_ENOMEM with err filled. */
int fg_plan_solve(const struct fg_plan_problem *p, struct fg_plan_result *r,
                  struct fg_error *err);

/* Build p's model and write it in CPLEX LP format to f. */
int fg_plan_write_lp(const struct fg_plan_problem *p, FILE *f, struct fg_error *err);

/* The plan as JSON / CSV (one row per ISP) on f. */
int fg_plan_print_json(const struct fg_plan_problem *p, const struct fg_plan_result *r,
                       FILE *f);
int fg_plan_print_csv(const struct fg_plan_problem *p, const struct fg_plan_result *r,
                      FILE *f);

/* Scenario files (docs/scenario.md): parse and validate text (len bytes
 * and a NUL at text[len]) into p
 * (initialised by the caller); every error goes to errs with its JSON path.
 * 0 or FG_ECONFIG / FG_EPARSE / FG_ENOMEM. */
int fg_plan_scenario_parse(const char *text, size_t len, struct fg_plan_problem *p,
                           struct fg_errlist *errs);
/* Append an asset to p (zeroed, end target NAN, efficiencies 1); NULL when
 * out of memory. */
struct fg_plan_asset *fg_plan_asset_add(struct fg_plan_problem *p, uint32_t kind,
                                        const char *id);

/* The host's view -> p (initialised by the caller, penalties and solver
 * options already set): problem asset i is view asset i; the site's load
 * forecast, and its PV forecast when there is no PV asset, follow as
 * "site-load" / "site-pv". The horizon starts at the ISP holding view->now
 * and has at most max_isp ISPs. Battery and V2G wear costs come from
 * host->wear_cost_per_kwh (host may be NULL). Prices and limits missing in
 * the series hold their last value / the view's limit now. 0, FG_EINVAL or
 * FG_ENOMEM with err filled. */
int fg_plan_from_view(const struct fg_sched_view *v, const struct fg_sched_host *host,
                      uint32_t max_isp, double off_cost_per_kwh,
                      struct fg_plan_problem *p, struct fg_error *err);

/* The same for a file (at most 16 MiB). */
int fg_plan_scenario_load(const char *file, struct fg_plan_problem *p,
                          struct fg_errlist *errs);

#endif
