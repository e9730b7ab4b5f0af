/* Battery ageing: state of health, remaining life, what drives the loss, and
 * the wear cost of a schedule.
 *
 * A pure library: no I/O, no clock reads, no allocation in the sample path.
 * It lives under protocols/ because it is computation over numbers handed in,
 * like the codecs: the gateway feeds it measurements from the flexibility
 * model and stores its state; the scheduler calls the cost functions; the
 * what-if tool (flexgw --battery-life) runs it offline. Keeping it free of the
 * gateway makes all three use the same code and lets the tests drive it with
 * simulated years in milliseconds.
 *
 * The model (docs/battery-model.md has the equations and sources):
 *
 *   capacity loss L = g(s_cal * D_cal + s_cyc * D_cyc)
 *
 *   - D_cal, calendar ageing: a power law k_cal(T, SoC) * t^z_cal of storage
 *     time, advanced under changing conditions with the equivalent-time
 *     method (the time that would have given today's loss under today's
 *     conditions);
 *   - D_cyc, cycle ageing: a power law k_cyc(DoD, mean SoC, C-rate, T) * x^z_cyc
 *     of the throughput x of each cycle that rainflow counting (ASTM E1049)
 *     finds in the SoC history, advanced the same way;
 *   - g: the identity for the power-law sets, or the two-exponential
 *     SEI-formation form of Xu et al. 2018 (a fast first stage, then linear);
 *   - s_cal, s_cyc: free scale factors, 1 as published, fitted to measured
 *     capacity checkpoints (fg_age_fit).
 *
 * Units: time in UTC epoch seconds, temperature in degrees Celsius, SoC and
 * DoD as fractions 0..1 in this API (the gateway and the JSON views use %),
 * power in W (+ charging), energy in Wh, loss as a fraction of the nominal
 * capacity. */
#ifndef FG_AGEING_H
#define FG_AGEING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fg_err.h"

/* ---- parameter sets ------------------------------------------------------ */

struct fg_age_params; /* one published model; see fg_age_params_find() */

/* The sets, by stable name (docs/battery-model.md lists them):
 *   "nmc-sanyo-ur18650e-schmalstieg2014"
 *   "lfp-sony-us26650-naumann2020"
 *   "nca-panasonic-ncr18650b-blastlite"
 *   "lmo-nrel-xu2018"
 * NULL if unknown. */
const struct fg_age_params *fg_age_params_find(const char *name);
size_t fg_age_params_count(void);
const struct fg_age_params *fg_age_params_at(size_t i); /* NULL past the end */
const char *fg_age_params_name(const struct fg_age_params *p);
const char *fg_age_params_chemistry(const struct fg_age_params *p); /* "LFP", ... */
const char *fg_age_params_cell(const struct fg_age_params *p);   /* the cell measured */
const char *fg_age_params_source(const struct fg_age_params *p); /* citation */
/* The set's fitted constants as a JSON object {"name": value, ...} and its
 * equations as text, for the health API. */
cJSON *fg_age_params_json(const struct fg_age_params *p);
/* The default set for a chemistry name as devices report it ("LFP", "NMC",
 * "NCA", "LMO", case-insensitive); NULL if none. */
const struct fg_age_params *fg_age_params_for_chemistry(const char *chem);

/* ---- impact factors ------------------------------------------------------- */

/* Where a loss is booked. Calendar loss at the reference conditions (25 C,
 * 50 % SoC) is TIME; cycle loss at the reference conditions (25 C, 50 % mean
 * SoC, 0.5 C) is DOD (it is the cycling, at the depth it had); the difference
 * that the actual temperature, SoC and C-rate make, in calendar and cycle
 * ageing alike, is split between TEMPERATURE, SOC and CRATE by Shapley
 * values (so the parts always add up to the loss, and a benign condition,
 * e.g. a cool battery, has a negative share). PRIOR is loss the state was
 * given when monitoring started (fg_age_init_soh). */
enum fg_age_factor {
    FG_AGE_F_TIME,
    FG_AGE_F_TEMPERATURE,
    FG_AGE_F_DOD,
    FG_AGE_F_CRATE,
    FG_AGE_F_SOC,
    FG_AGE_F_PRIOR,
};
#define FG_AGE_FACTORS 6
const char *fg_age_factor_name(enum fg_age_factor f); /* "time", "temperature", ... */

/* Reference conditions of the attribution. */
#define FG_AGE_REF_TEMP_C 25.0
#define FG_AGE_REF_SOC 0.5
#define FG_AGE_REF_CRATE 0.5

/* ---- rainflow counting ---------------------------------------------------- */

/* One counted cycle: a full cycle (count 1) or a half cycle (count 0.5). */
struct fg_rf_cycle {
    double range;      /* |peak - valley| */
    double mean;       /* (peak + valley) / 2 */
    double count;      /* 1 or 0.5 */
    size_t start, end; /* indices of the two reversals in the input */
};

/* Rainflow counting of a sequence, ASTM E1049-85 (2017) section 5.4.4:
 * reversals are extracted first (points that repeat or continue a slope are
 * dropped); what is left in the residue at the end is counted as half
 * cycles. Calls emit for each cycle in the order found. Returns the number
 * of cycles. */
size_t fg_rainflow(const double *x, size_t n,
                   void (*emit)(const struct fg_rf_cycle *, void *), void *arg);

/* ---- the state of one battery ---------------------------------------------- */

/* A turn of the SoC counts as a reversal once the SoC has gone back by this
 * much (fraction): smaller wiggles, e.g. the 1 % steps of a rounded SoC
 * reading, are not cycles. */
#define FG_AGE_GATE 0.01
/* Samples further apart than this are a gap: the interval's C-rate and
 * throughput come from the SoC's change, not from the power. */
#define FG_AGE_GAP_S 300
#define FG_AGE_RESIDUE_MAX 48  /* reversals kept open; older ones close as half cycles */
#define FG_AGE_CAL_T_BINS 16   /* recent usage: storage temperature, 5 K from -15 C */
#define FG_AGE_CAL_SOC_BINS 10 /*              storage SoC, 10 % */
#define FG_AGE_CYC_DOD_BINS 10 /*              cycle depth, 10 % */
#define FG_AGE_CYC_C_BINS 4    /*              C-rate: <0.25, <0.5, <1, >=1 */
#define FG_AGE_CHECKPOINTS_MAX 64

/* A reversal of the SoC that has not closed a cycle yet. */
struct fg_age_reversal {
    double soc;
    int64_t t;
    /* Of the segment that ends at this reversal: */
    double active_s; /* seconds with current flowing */
    double ah_s;     /* integral of |P| / capacity over time, in SoC*s (for the C-rate) */
    double temp_s;   /* integral of temperature over time, C*s */
    double dur_s;    /* segment duration, s */
};

/* A measured capacity, with the model's unscaled damage at that time. */
struct fg_age_checkpoint {
    int64_t t;
    double soh; /* fraction, e.g. 0.93 */
    double d_cal, d_cyc;
};

/* Everything that must survive a restart (fg_age_state_to_json). Plain data:
 * copy it with = to try a schedule without touching the original. */
struct fg_age_state {
    const struct fg_age_params *p;
    double capacity_wh;  /* nominal, for C-rate and throughput */
    double s_cal, s_cyc; /* scale factors, 1 as published */
    int64_t t0;          /* first sample */
    int64_t t_last;      /* last sample; 0 = none yet */
    double soc_last, temp_last;

    /* damage, unscaled (in the set's own units) */
    double d_cal, d_cyc;
    double prior; /* loss given at init (fraction), outside g */
    /* damage per factor, unscaled; by_cal sums to d_cal, by_cyc to d_cyc
     * (the loss per factor follows from the scales and g) */
    double by_cal[FG_AGE_FACTORS];
    double by_cyc[FG_AGE_FACTORS];

    double efc;    /* equivalent full cycles counted (closed cycles) */
    double cycles; /* rainflow cycles counted (half = 0.5) */
    double age_s;  /* seconds of calendar ageing applied */
    double throughput_wh;

    /* calendar window: conditions averaged until they move */
    double win_s, win_temp_s, win_soc_s;
    double win_temp0, win_soc0;

    /* rainflow: the gated turning-point detector and the open residue */
    int dir;                     /* +1 rising, -1 falling, 0 unknown */
    struct fg_age_reversal cand; /* the running extreme, not yet confirmed */
    struct fg_age_reversal seg;  /* accumulators of the segment since the last reversal */
    size_t n_res;
    struct fg_age_reversal res[FG_AGE_RESIDUE_MAX];

    /* recent usage, exponentially forgotten (time constant FG_AGE_RECENT_S) */
    int64_t recent_t;
    double cal_w[FG_AGE_CAL_T_BINS][FG_AGE_CAL_SOC_BINS];   /* seconds */
    double cal_tw[FG_AGE_CAL_T_BINS][FG_AGE_CAL_SOC_BINS];  /* sum of temperature * s */
    double cal_sw[FG_AGE_CAL_T_BINS][FG_AGE_CAL_SOC_BINS];  /* sum of SoC * s */
    double cyc_n[FG_AGE_CYC_DOD_BINS][FG_AGE_CYC_C_BINS];   /* cycles */
    double cyc_dod[FG_AGE_CYC_DOD_BINS][FG_AGE_CYC_C_BINS]; /* sum of dod * n */
    double cyc_soc[FG_AGE_CYC_DOD_BINS][FG_AGE_CYC_C_BINS]; /* sum of mean SoC * n */
    double cyc_c[FG_AGE_CYC_DOD_BINS][FG_AGE_CYC_C_BINS];   /* sum of C-rate * n */
    double cyc_t[FG_AGE_CYC_DOD_BINS][FG_AGE_CYC_C_BINS];   /* sum of temperature * n */
    double recent_s; /* forgotten seconds observed */

    size_t n_cp;
    struct fg_age_checkpoint cp[FG_AGE_CHECKPOINTS_MAX];
    double fit_rms; /* RMS SoH error of the last fit, fraction; NAN = never fitted */
};

#define FG_AGE_RECENT_S (14 * 86400.0)

/* A fresh state. capacity_wh > 0. */
int fg_age_init(struct fg_age_state *st, const struct fg_age_params *p,
                double capacity_wh);
/* Start from a battery that has aged before it was monitored: its measured
 * state of health (fraction) becomes PRIOR loss. Only before the first sample. */
int fg_age_init_soh(struct fg_age_state *st, double soh);

/* One measurement. t must not go backwards (a sample with t < t_last is
 * refused with FG_EINVAL); soc 0..1 (required); power_w + charging, NAN if
 * unknown (then the C-rate comes from the SoC slope); temp_c NAN if unknown
 * (then the last known, or 25 C). A gap between samples ages the battery at
 * the conditions of the earlier sample, and its C-rate comes from the SoC
 * change (FG_AGE_GAP_S). */
int fg_age_sample(struct fg_age_state *st, int64_t t, double soc, double power_w,
                  double temp_c);

/* Book what is pending: the calendar window and the open residue's half
 * cycles are NOT booked by this (they are counted when they close); use
 * fg_age_loss() for the loss including them. This only flushes the calendar
 * window, e.g. before saving. */
void fg_age_flush(struct fg_age_state *st);

/* Loss now (fraction), counting the pending calendar window and the open
 * residue as half cycles (ASTM's end-of-history rule), without changing st. */
double fg_age_loss(const struct fg_age_state *st);
static inline double fg_age_soh(const struct fg_age_state *st)
{
    return 1.0 - fg_age_loss(st);
}

/* The loss per factor (fractions, adding up to fg_age_loss()). */
void fg_age_factors(const struct fg_age_state *st, double out[FG_AGE_FACTORS]);

/* ---- prediction -------------------------------------------------------------- */

struct fg_age_forecast {
    bool reached;     /* the end-of-life SoH is reached within the horizon */
    int64_t eol_t;    /* when, if reached */
    double eol_efc;   /* equivalent full cycles (from new) at end of life */
    double days_left; /* days from now to end of life */
    double efc_per_day, cal_temp_c, cal_soc; /* the recent usage pattern used */
};

/* Run the model forward from st under its recent usage pattern (calendar
 * conditions and cycles as observed, exponentially weighted with a time
 * constant of two weeks) until SoH falls to eol_soh (e.g. 0.8) or horizon_years pass. */
int fg_age_predict(const struct fg_age_state *st, int64_t now, double eol_soh,
                   double horizon_years, struct fg_age_forecast *out);

/* ---- fitting -------------------------------------------------------------------- */

/* Record a measured state of health (fraction) at st's current time. */
int fg_age_checkpoint(struct fg_age_state *st, double soh);
/* Fit s_cal and s_cyc to the checkpoints by least squares (Gauss-Newton on
 * g; both scales when the checkpoints tell calendar and cycle ageing apart,
 * one common scale when they do not). Needs one checkpoint with loss beyond
 * prior. Returns FG_EINVAL when there is nothing to fit; sets fit_rms. The
 * booked per-factor loss is rescaled to the new fit. */
int fg_age_fit(struct fg_age_state *st);

/* ---- cost ----------------------------------------------------------------------- */

/* One step of a proposed schedule. */
struct fg_age_step {
    double dt_s;   /* > 0 */
    double soc;    /* at the end of the step, 0..1 */
    double temp_c; /* NAN = last known */
};

struct fg_age_cost {
    double loss;          /* extra capacity loss, fraction */
    double cost;          /* loss * replacement_cost / (1 - eol_soh) */
    double throughput_wh; /* charge + discharge energy */
    double per_kwh;       /* cost per kWh of throughput; 0 when none */
};

/* The wear cost of running a schedule from st's present state (st is not
 * changed): calendar and cycle ageing over the schedule, the cycles still
 * open at its end counted as half cycles, minus the loss those open cycles
 * already stood for. Wear costs the replacement cost per (1 - eol_soh) of
 * capacity lost. */
int fg_age_schedule_cost(const struct fg_age_state *st, const struct fg_age_step *steps,
                         size_t n, double replacement_cost, double eol_soh,
                         struct fg_age_cost *out);

/* The cycle ageing cost of one full cycle at the given conditions, from st's
 * present state, in currency. Non-decreasing in dod, crate and (above 25 C)
 * temp_c. Divide by 2 * dod * capacity for a price per kWh of throughput. */
double fg_age_cycle_cost(const struct fg_age_state *st, double dod, double mean_soc,
                         double crate, double temp_c, double replacement_cost,
                         double eol_soh);

/* ---- persistence ------------------------------------------------------------------ */

/* The state as JSON (compact: zero bins left out) and back. from_json
 * checks every field and names the first wrong one in err. */
cJSON *fg_age_state_to_json(const struct fg_age_state *st);
int fg_age_state_from_json(struct fg_age_state *st, const cJSON *j, char *err,
                           size_t errlen);

/* ---- the what-if tool ---------------------------------------------------------- */

/* Evaluate a CASES document (docs/battery-model.md) and return the result
 * document. On a bad document returns NULL and names what is wrong (with its
 * JSON path) in err. */
cJSON *fg_age_whatif(const cJSON *cases, char *err, size_t errlen);

#endif
