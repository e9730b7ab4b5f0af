/* Forecasts of the site's inflexible load and of its PV production, learned
 * from the model's own measurements (docs/forecast.md).
 *
 * The gateway's tick feeds the learner the model once per second:
 *   load = measured site power (fg_model_site_power) minus the power of
 *          every asset the scheduler steers or plans itself (EVSEs,
 *          batteries, PV, disconnectable and shiftable loads), so that
 *          inflexible load assets and whatever the meter sees but the model
 *          does not know are in it. It may be negative (generation that is
 *          not an asset of the model).
 *   pv   = what the PV assets produce (-power, >= 0), or what they could
 *          produce (available_w) while curtailed.
 * A second whose meter or a needed measurement is unknown (NAN, an asset
 * offline, a stale meter) is skipped and counted, never learned. Each ISP's
 * mean (if at least half of the ISP was measured) updates
 *   - load: a weekly profile (7 days x ISPs per day, local time) and a daily
 *     profile (ISPs per day, local time);
 *   - pv:   a daily profile in UTC (the sun does not follow the local clock),
 * each slot an exponentially weighted mean over weeks / days. The forecast
 * of an ISP is the first of: weekly slot (>= FG_FORECAST_WEEKS_MIN weeks
 * seen), daily slot (>= 1 day), persistence (the last complete ISP), else
 * unknown (NAN). PV has no weekly profile; its daily value is scaled by how
 * the last daylight ISP compared with the profile, fading out over hours.
 *
 * The state is saved in the store (fg_forecast_save: after each learned
 * ISP, at most every FG_FORECAST_SAVE_MS, and at reload and shutdown) and
 * read back at start; a stored state that does not load (corrupt, another
 * ISP length) is logged, recorded as an event and the learner starts fresh.
 *
 * The learner is replaceable: the scheduler uses only fg_forecast_series()
 * (or fg_forecast_at()). Loop thread only. */
#ifndef FG_FORECAST_H
#define FG_FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "store.h"

#define FG_FORECAST_WEEKS_MIN 2       /* weekly slot used from this many weeks on */
#define FG_FORECAST_SAVE_MS 60000     /* real ms between two periodic saves, at least */
#define FG_FORECAST_METER_STALE_S 60  /* an older meter reading is not used */
#define FG_FORECAST_PV_PERSIST_S 3600 /* PV persistence reaches this far ahead */
#define FG_FORECAST_LOAD_PERSIST_S (2 * 86400) /* load persistence, likewise */

/* Where a forecast value came from (for the explain API). Ordered from no
 * knowledge to the most specific. */
enum fg_fc_method {
    FG_FC_NONE,        /* nothing known: the value is NAN */
    FG_FC_PERSISTENCE, /* the last complete ISP's mean */
    FG_FC_DAILY,       /* the daily profile's slot (PV: scaled, see above) */
    FG_FC_WEEKLY,      /* the weekly profile's slot (load only) */
};

/* "none", "persistence", "daily", "weekly". */
const char *fg_fc_method_name(enum fg_fc_method m);

enum fg_fc_series { FG_FC_LOAD, FG_FC_PV };

/* A profile: per slot an exponentially weighted mean (W) and the number of
 * ISPs it has seen (saturating). */
struct fg_fc_profile {
    size_t slots;
    double *mean;
    uint32_t *n;
};

/* One learned series (load or pv). */
struct fg_fc_learner {
    struct fg_fc_profile week; /* load only; slots 0 for pv */
    struct fg_fc_profile day;
    double acc_wx, acc_s;  /* the ISP being measured: sum w * x and covered s */
    int64_t last_start;    /* the last complete ISP; 0 = none */
    double last_mean;      /* its mean, W */
    bool prev_ok;          /* the previous tick measured this series */
    uint64_t isps_learned; /* ISPs that updated the profiles */
    uint64_t isps_dropped; /* ISPs measured less than half */
    uint64_t skipped_s;    /* ticks skipped (unknown measurements) */
    double pv_k;           /* pv: last daylight ISP / profile */
    int64_t pv_k_t;        /* pv: end of that ISP; 0 = none */
};

struct fg_forecast {
    int isp_s;      /* the ISP length learned with; 0 = not started */
    size_t per_day; /* ISPs per day */
    int utc_offset_min;
    int64_t cur_start; /* the ISP being measured; 0 = none */
    int64_t prev_t;    /* the previous tick */
    struct fg_fc_learner load, pv;
    int refused_isp_s; /* an ISP length it cannot learn with (logged once) */
    bool dirty;        /* learned since the last save */
    int64_t last_save_mono_ms;
};

void fg_forecast_init(struct fg_forecast *f);
void fg_forecast_clear(struct fg_forecast *f);

/* One tick at clock time now (epoch s; at most one per second counts):
 * measure the model, close the ISP before now's and learn from it. Takes
 * isp_s and utc_offset_min from m->site: a changed isp_s restarts learning
 * (logged); a changed utc_offset_min keeps the profiles (they are in local
 * time). Allocation failure is logged and the tick skipped. */
void fg_forecast_tick(struct fg_forecast *f, const struct fg_model *m, int64_t now);

/* The forecast of the ISPs [start + i * isp_s, start + (i + 1) * isp_s) for
 * i < n, in W: load_w the inflexible load (+ = consumption), pv_w the PV
 * production (>= 0). NAN where nothing is known. An isp_s other than the
 * learned one averages the learned ISPs inside each interval (or takes the
 * one holding its start when it is shorter). load_how / pv_how receive the
 * method of each value (the weakest one averaged). Any of the four arrays
 * may be NULL; the others have room for n values. Pure: reads f only. */
void fg_forecast_series(const struct fg_forecast *f, int64_t start, int isp_s, size_t n,
                        double *load_w, double *pv_w, enum fg_fc_method *load_how,
                        enum fg_fc_method *pv_how);

/* The forecast of series s for the learned ISP holding t; how (may be NULL)
 * receives its method. NAN when nothing is known. */
double fg_forecast_at(const struct fg_forecast *f, enum fg_fc_series s, int64_t t,
                      enum fg_fc_method *how);

/* Save both series in one batch when something was learned since the last
 * save and FG_FORECAST_SAVE_MS real time has passed (force: at once).
 * Returns 0 or the store's error (the state stays dirty then). */
int fg_forecast_save(struct fg_forecast *f, struct fg_store *s, int64_t now_ms,
                     bool force);

/* Read the stored state for the site's ISP length (isp_s; utc_offset_min
 * is taken too, so that the forecast is right before the first tick). A row that does not
 * load (unknown format, another isp_s, wrong size, a value out of range or not a number)
 * is logged with the reason and recorded as an event, and that series starts fresh.
 * Returns 0 (also when a row was refused), FG_ENOMEM or the store's error. */
int fg_forecast_load(struct fg_forecast *f, struct fg_store *s,
                     const struct fg_site *site, int64_t now_ms);

#endif
