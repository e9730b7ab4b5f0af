/* A small deterministic site simulator for scheduler tests: PV and load
 * profiles over a day, batteries (SoC integration), EV sessions (arrival,
 * departure, energy), disconnectable loads, a voltage model and an island
 * mode. Plain C, no I/O, no clock: time advances by fg_sim_step().
 *
 * Use: fg_sim_init(), add assets, then per step fg_sim_view() -> a
 * scheduler's realtime() -> fg_sim_apply() -> fg_sim_step(); or
 * fg_sim_run() does that loop (a NULL plugin runs the site uncontrolled:
 * EVs charge at full power, batteries idle, PV produces all it can).
 * Set-points are clamped to each asset's envelope as the host would, and
 * stay until replaced. fg_sim_stats holds the physical outcome. */
#ifndef FG_SITE_SIM_H
#define FG_SITE_SIM_H

#include <stdint.h>

#include "fg_scheduler.h"

#define FG_SIM_MAX 16
#define FG_SIM_NSERIES 96

struct fg_sim_battery {
    char id[FG_SCHED_ID_MAX];
    uint32_t caps;
    double capacity_wh, soc_pct, soc_min_pct, soc_max_pct;
    double max_charge_w, max_discharge_w;
    double sp_w, sp_var; /* last set-point */
    int grid_forming;
    double w, var; /* now */
};

struct fg_sim_ev {
    char id[FG_SCHED_ID_MAX];
    int64_t arrival, departure;
    double energy_requested_wh, max_w, min_w;
    double max_discharge_w; /* > 0: V2G allowed (FG_SCHED_CAP_V2G), 0 default */
    int32_t priority;
    double sp_w;       /* NAN: none yet (charges at max_w) */
    double sp_raw_min; /* lowest set-point received, before clamping */
    double energy_wh, w;
    int running;   /* charging now */
    int switches;  /* pause <-> resume while plugged in and not full */
    int below_min; /* steps a set-point in (0, min_w) stopped it */
};

struct fg_sim_pv {
    char id[FG_SCHED_ID_MAX];
    uint32_t caps, curtailable;
    double peak_w;
    /* a cloud: availability down by cloud_pct in [cloud_from, cloud_to) (not
     * in the forecast) */
    int64_t cloud_from, cloud_to;
    double cloud_pct;
    double sp_w; /* production limit as a negative set-point, NAN none */
    double sp_var;
    double available_w, w, var;
};

struct fg_sim_load {
    char id[FG_SCHED_ID_MAX];
    double rated_w;
    int connected;
};

struct fg_sim_stats {
    double peak_import_w, peak_export_w; /* max over the steps, >= 0 */
    double import_wh, export_wh, pv_wh, pv_curtailed_wh;
    double island_max_abs_w;     /* largest |grid| while islanded */
    double island_batt_excess_w; /* largest demand beyond the battery's limits */
    int nan_setpoints;
    int island_steps;
};

struct fg_sim_site {
    int64_t t0, now;
    int32_t step_s;
    double load_base_w, load_peak_w; /* inflexible load: base + morning/evening */
    double import_max_w, export_max_w, kw_max_w; /* kw_max NAN = none */
    double dispatch_w;                           /* NAN = none */
    double reactive_var;                         /* NAN = none */
    double soc_target_pct;                       /* a charge_state signal: NAN = none */
    int64_t soc_target_until;                    /* its interval's end */
    double dispatch_series[FG_SIM_NSERIES];      /* per ISP from t0, NAN none */
    /* the inflexible load deviates from its (forecast) profile by up to
     * +-load_dev_pct, a fresh deterministic value every 5 minutes */
    double load_dev_pct;
    /* forecasts in the view (per ISP from t0): the load profile without the
     * deviation, the PV without clouds; filled by the first fg_sim_view() */
    double load_forecast[FG_SIM_NSERIES], pv_forecast[FG_SIM_NSERIES];
    int forecast_ready;
    /* called on each view in fg_sim_run() before realtime() (e.g. to add a
     * plan); NULL none */
    void (*view_hook)(struct fg_sim_site *s, struct fg_sched_view *v, void *ctx);
    void *view_ctx;
    double volt_k;   /* V per W of export */
    double volt_kq;  /* V per var absorbed (lowers the voltage) */
    uint32_t island; /* set by the test */
    double price_import[FG_SIM_NSERIES], price_export[FG_SIM_NSERIES];
    double grid_w, voltage_v;
    int stepped; /* 0 until the first fg_sim_step() */
    int nb, ne, np, nl;
    struct fg_sim_battery bat[FG_SIM_MAX];
    struct fg_sim_ev ev[FG_SIM_MAX];
    struct fg_sim_pv pv[FG_SIM_MAX];
    struct fg_sim_load load[FG_SIM_MAX];
    struct fg_sim_stats st;
    /* the view handed out: valid until the next fg_sim_view() */
    struct fg_sched_asset assets[4 * FG_SIM_MAX];
};

/* A site at t0 (midnight UTC of the simulated day), step_s per step, no
 * assets, 500 W base load, generous limits, flat prices. */
void fg_sim_init(struct fg_sim_site *s, int64_t t0, int32_t step_s);

struct fg_sim_battery *fg_sim_add_battery(struct fg_sim_site *s, const char *id,
                                          double capacity_wh, double soc_pct,
                                          double max_w);
struct fg_sim_ev *fg_sim_add_ev(struct fg_sim_site *s, const char *id, int64_t arrival,
                                int64_t departure, double energy_wh, double max_w,
                                double min_w);
struct fg_sim_pv *fg_sim_add_pv(struct fg_sim_site *s, const char *id, double peak_w,
                                int curtailable);
struct fg_sim_load *fg_sim_add_load(struct fg_sim_site *s, const char *id,
                                    double rated_w);

/* The inflexible load and PV availability at t (deterministic profiles,
 * with the load deviation and clouds); their forecasts (without). */
double fg_sim_load_w(const struct fg_sim_site *s, int64_t t);
double fg_sim_pv_avail_w(const struct fg_sim_pv *pv, int64_t t);
double fg_sim_load_forecast_w(const struct fg_sim_site *s, int64_t t);
double fg_sim_pv_forecast_w(const struct fg_sim_pv *pv, int64_t t);

/* Fill view (and its assets, owned by s) from the state after the last step. */
void fg_sim_view(struct fg_sim_site *s, struct fg_sched_view *view);
/* Record set-points (clamped to envelopes; unknown ids ignored). */
void fg_sim_apply(struct fg_sim_site *s, const struct fg_sched_setpoints *sp);
/* Advance by step_s: powers from set-points, island balance, energies. */
void fg_sim_step(struct fg_sim_site *s);

/* Per step, after fg_sim_step(); may change s (limits, island). */
typedef void (*fg_sim_hook)(struct fg_sim_site *s, void *ctx);
/* Run seconds of simulated time; plugin NULL = uncontrolled. Returns 0, or
 * the first non-zero realtime() result. */
int fg_sim_run(struct fg_sim_site *s, const struct fg_sched_plugin *p, void *inst,
               int64_t seconds, fg_sim_hook hook, void *ctx);

#endif
