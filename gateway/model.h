/* The flexibility model: the one picture of the site that every adapter feeds
 * and the scheduler reads.
 *
 * Units everywhere: W, Wh, s, %, UTC epoch seconds (int64_t). Power sign:
 * + = consumption / charging / import, - = production / discharge / export.
 *
 * Threading: the model is owned by the loop thread. Adapters running on
 * workers hand their readings to the loop, which writes them here.
 *
 * Signals come from outside parties (DSO, market, cloud, API, config).
 * Their precedence, implemented by fg_model_limits_at():
 *   - grid limits are hard constraints and always apply, whatever a price or
 *     dispatch signal says (a DSO limit beats a price signal);
 *   - of several active limits on the same direction the tighter one wins;
 *   - of several active price (or dispatch, reactive) signals the one with
 *     the highest priority wins, ties go to the most recently updated one;
 *   - a dispatch target is clamped into the active limits.
 * Set-points are clamped to the asset's envelope and then to the site's
 * effective limits, see fg_model_apply_setpoint(). */
#ifndef FG_MODEL_H
#define FG_MODEL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_err.h"

#define FG_ID_MAX 48
#define FG_NAME_MAX 64
#define FG_SIGNAL_ID_MAX 64
#define FG_SIGNAL_MAX_INTERVALS 192 /* 48 h of 15-minute ISPs */
#define FG_MODEL_MAX_ASSETS 20000   /* 10,000 two-EVSE stations */
#define FG_MODEL_MAX_SIGNALS 256
#define FG_FORECAST_MAX 192

enum fg_asset_kind { FG_ASSET_EVSE, FG_ASSET_BATTERY, FG_ASSET_PV, FG_ASSET_LOAD };
#define FG_ASSET_KIND_COUNT 4

enum fg_load_type { FG_LOAD_INFLEXIBLE, FG_LOAD_DISCONNECTABLE, FG_LOAD_SHIFTABLE };

enum fg_connector_state {
    FG_CONN_AVAILABLE,   /* nothing plugged in */
    FG_CONN_OCCUPIED,    /* EV plugged in, not drawing power */
    FG_CONN_CHARGING,    /* energy flowing (either direction) */
    FG_CONN_SUSPENDED,   /* EV or EVSE paused the session */
    FG_CONN_FAULTED,     /* out of order */
    FG_CONN_UNAVAILABLE, /* taken out of service */
};

/* Who decided a set-point. */
enum fg_sp_source {
    FG_SP_SCHEDULER,
    FG_SP_API,
    FG_SP_MQTT,
    FG_SP_OPENADR,
    FG_SP_UFTP,
    FG_SP_FALLBACK,
};

enum fg_signal_source {
    FG_SRC_OPENADR,
    FG_SRC_UFTP,
    FG_SRC_MQTT,
    FG_SRC_API,
    FG_SRC_CONFIG
};

enum fg_signal_type {
    FG_SIG_PRICE,      /* value: import price per kWh; export_value: export price */
    FG_SIG_GRID_LIMIT, /* value: import max W; export_value: export max W (NAN: none) */
    FG_SIG_DISPATCH,   /* value: site net power target W (+ import) */
    FG_SIG_REACTIVE,   /* value: reactive power target var (+ absorb) */
    FG_SIG_ISLAND,     /* value: 1 = island now, 0 = reconnect */
    /* value: state of charge the site's stationary batteries are to reach
     * and hold during the interval, % of capacity [0, 100] (EVs excluded:
     * their energy is their drivers') */
    FG_SIG_CHARGE_STATE,
};

enum fg_signal_status {
    FG_SIGST_PENDING,   /* received, not started */
    FG_SIGST_ACTIVE,    /* an interval covers now */
    FG_SIGST_COMPLETED, /* the last interval has ended */
    FG_SIGST_CANCELLED, /* withdrawn by its source */
};

/* Name <-> enum for the JSON views and the config; parse returns 0 or
 * FG_EINVAL. */
const char *fg_asset_kind_name(enum fg_asset_kind k);
int fg_asset_kind_parse(const char *s, enum fg_asset_kind *out);
const char *fg_load_type_name(enum fg_load_type t);
int fg_load_type_parse(const char *s, enum fg_load_type *out);
const char *fg_connector_state_name(enum fg_connector_state s);
int fg_connector_state_parse(const char *s, enum fg_connector_state *out);
const char *fg_sp_source_name(enum fg_sp_source s);
int fg_sp_source_parse(const char *s, enum fg_sp_source *out);
const char *fg_signal_source_name(enum fg_signal_source s);
int fg_signal_source_parse(const char *s, enum fg_signal_source *out);
const char *fg_signal_type_name(enum fg_signal_type t);
int fg_signal_type_parse(const char *s, enum fg_signal_type *out);
const char *fg_signal_status_name(enum fg_signal_status s);
int fg_signal_status_parse(const char *s, enum fg_signal_status *out);

/* What an asset can do, in W. min <= max always holds. */
struct fg_envelope {
    double min_w;
    double max_w;
};

/* Why a set-point was changed from what was asked (bit flags). */
#define FG_CLAMP_ENVELOPE 0x1u /* limited by the asset's envelope */
#define FG_CLAMP_IMPORT 0x2u   /* limited by the site's import limit */
#define FG_CLAMP_EXPORT 0x4u   /* limited by the site's export limit */

/* How far the device has taken a set-point. Adapters that execute at once
 * leave APPLIED; those that talk to a device move it along as answers come. */
enum fg_sp_state {
    FG_SPS_APPLIED,  /* executed; the device gives no further confirmation */
    FG_SPS_PENDING,  /* waiting to be sent (minimum interval, station busy) */
    FG_SPS_SENT,     /* sent, no answer yet */
    FG_SPS_ACCEPTED, /* the device accepted it */
    FG_SPS_VERIFIED, /* the device reports that it applies it */
    FG_SPS_REJECTED, /* the device refused it */
    FG_SPS_MISMATCH, /* accepted, but the device applies something else */
    FG_SPS_FAILED,   /* not delivered: timeout, disconnect, error answer */
};

const char *fg_sp_state_name(enum fg_sp_state s);
int fg_sp_state_parse(const char *s, enum fg_sp_state *out);

struct fg_setpoint {
    bool active;
    double w;           /* applied (clamped) value */
    double requested_w; /* what the source asked for */
    /* Reactive power target, var, in the same load convention as w: + =
     * absorbing (consuming, inductive, under-excited), - = injecting
     * (capacitive, over-excited). Only with has_var; otherwise the device
     * keeps its own reactive-power control. Not clamped: the device refuses
     * what it cannot do (adapters without reactive control refuse it). */
    bool has_var;
    double var;
    enum fg_sp_source source;
    int64_t set_at;
    int64_t expires_at; /* the set-point is dropped at this time */
    unsigned clamp;     /* FG_CLAMP_* */
    enum fg_sp_state state;
    double deviation_w; /* measured power beyond the set-point, 0 when within */
    char detail[96];    /* why REJECTED / MISMATCH / FAILED, "" otherwise */
    int64_t logged_at;  /* when the set-point log last got a row for it, 0 never */
};

struct fg_evse {
    enum fg_connector_state state;
    double rated_w;         /* max charge power of the EVSE */
    double max_discharge_w; /* >= 0; only used when bidirectional */
    bool bidirectional;     /* EVSE and EV both allow discharge (V2G) */
    int phases;             /* 1 or 3 */
    double voltage;         /* phase voltage, V */
    double min_current_a;   /* below this the EV stops; 0 = none */
    double max_current_a;   /* per phase */
    /* Session (valid when session_active). */
    bool session_active;
    char session_id[40];
    char id_token[40];
    int64_t session_start;
    double energy_wh;           /* delivered in this session */
    double energy_requested_wh; /* wanted by departure; 0 = unknown */
    int64_t departure;          /* 0 = unknown */
    double ev_soc;              /* %, NAN if unknown */
    double ev_capacity_wh;      /* 0 = unknown */
    /* What the EV reported it can do (ISO 15118 charging needs); 0 = unknown. */
    double ev_min_w;           /* below this it stops charging */
    double ev_max_w;           /* most it takes */
    double ev_max_discharge_w; /* most it gives back, >= 0 */
    bool ev_bidirectional;     /* the EV offers discharge (and the protocol can ask) */
};

struct fg_battery {
    double capacity_wh;
    double soc;             /* % */
    double soh;             /* % */
    double soc_min;         /* % the scheduler must not go below */
    double soc_max;         /* % the scheduler must not go above */
    double max_charge_w;    /* >= 0 */
    double max_discharge_w; /* >= 0 */
    double temperature_c;   /* NAN if unknown */
    char chemistry[16];     /* "LFP", "NMC", "NCA", ... */
    char alarms[128];       /* active alarms/warnings the device reports, comma-
                               separated names; "" = none (or not reported) */
};

struct fg_pv {
    double rated_w;     /* peak, >= 0 */
    double available_w; /* what it could produce now, >= 0 */
    bool curtailable;   /* production can be reduced */
    double limit_w;     /* current curtailment limit (>= 0), NAN = none */
    /* Forecast of available production (>= 0 W), one value per step from
     * forecast_start. */
    int64_t forecast_start;
    int forecast_step_s; /* length of one forecast value; 0 = 900 s */
    size_t n_forecast;
    double forecast_w[FG_FORECAST_MAX];
};

struct fg_load {
    enum fg_load_type type;
    double rated_w; /* >= 0 */
    bool connected; /* disconnectable: switched on now; shiftable: running now */
    double run_s;   /* shiftable: duration of one run */
    int64_t earliest_start, latest_end; /* shiftable: window, 0 = none */
};

struct fg_asset {
    /* Measurements first, next to the id: with thousands of assets each
     * meter reading is a cache miss, best one line rather than several. */
    char id[FG_ID_MAX];
    bool online;
    enum fg_asset_kind kind;
    int64_t last_seen;
    double power_w;      /* measured, sign convention above; NAN until known */
    double reactive_var; /* measured, + = absorbing (as sp.var); NAN if unknown */
    struct fg_setpoint sp;
    struct fg_envelope env; /* envelope now, kept by fg_model_refresh() */
    char name[FG_NAME_MAX];
    char adapter[16]; /* "sim", "ocpp", "modbus", ... */
    /* Kind-specific data; only the member matching `kind` is meaningful. */
    struct fg_evse evse;
    struct fg_battery battery;
    struct fg_pv pv;
    struct fg_load load;
};

struct fg_signal_interval {
    int64_t start;
    int64_t duration_s;
    double value;        /* see enum fg_signal_type */
    double export_value; /* see enum fg_signal_type; NAN if not used */
};

struct fg_signal {
    char id[FG_SIGNAL_ID_MAX]; /* unique per source */
    enum fg_signal_source source;
    enum fg_signal_type type;
    int priority; /* higher wins among signals of the same type */
    enum fg_signal_status status;
    char target[FG_ID_MAX]; /* asset id, or "" for the whole site */
    int64_t created;
    int64_t updated;
    uint32_t modification; /* bumped by the source on every change */
    size_t n_intervals;    /* >= 1, sorted, non-overlapping */
    struct fg_signal_interval intervals[FG_SIGNAL_MAX_INTERVALS];
};

struct fg_tariff_period {
    int start_min;       /* minutes after local midnight, 0..1439 */
    double import_price; /* per kWh */
    double export_price; /* per kWh */
};

#define FG_TARIFF_MAX_PERIODS 48

struct fg_site {
    char id[FG_ID_MAX];
    char name[FG_NAME_MAX];
    double import_limit_w; /* grid connection, > 0 */
    double export_limit_w; /* grid connection, >= 0 */
    int isp_s;             /* imbalance settlement period, default 900 */
    double meter_power_w;  /* main meter; NAN if no meter (then sum of assets) */
    int64_t meter_seen;
    double meter_v[3]; /* main meter, per phase: voltage to neutral, V; NAN unknown */
    double meter_a[3]; /* main meter, per phase: current, A (+ = import); NAN unknown */
    char currency[8];
    int utc_offset_min; /* local time = UTC + this, for tariff periods */
    size_t n_tariff;    /* periods sorted by start_min, first at 0 */
    struct fg_tariff_period tariff[FG_TARIFF_MAX_PERIODS];
};

/* A constraint the planner softened (fg_sched_slack, copied). */
struct fg_plan_slack {
    char name[64]; /* e.g. "ev_energy:ev3", "grid_import" */
    char asset[FG_ID_MAX];
    int64_t at; /* the ISP it concerns (start), 0 the whole horizon */
    double amount;
    char unit[8];
};

/* What a plan assumed and expects, per ISP (rows of fg_plan.isp). */
enum fg_plan_series {
    FG_PLAN_SITE_W,       /* the site power it expects: load forecast + planned assets */
    FG_PLAN_LOAD_W,       /* the inflexible-load forecast it used, NAN none */
    FG_PLAN_PV_W,         /* the PV forecast it used */
    FG_PLAN_PRICE_IMPORT, /* currency per kWh */
    FG_PLAN_PRICE_EXPORT,
    FG_PLAN_IMPORT_MAX_W, /* effective limits (connection, DSO signals) */
    FG_PLAN_EXPORT_MAX_W,
    FG_PLAN_DISPATCH_W, /* BRP / dispatch target, NAN none */
    FG_PLAN_N_SERIES
};

/* A plan: per-ISP set-points per asset over the horizon. */
struct fg_plan {
    int64_t created; /* the time of the view it was made from */
    int64_t start;
    int isp_s;
    size_t n_isp;
    size_t n_assets;
    char (*asset_ids)[FG_ID_MAX]; /* n_assets ids, owned */
    double *w;                    /* n_assets * n_isp values, row per asset, owned */
    double expected_cost;
    char services[128]; /* comma-separated services the plan serves */
    char producer[32];  /* scheduler name */
    /* the cost's parts (sum = expected_cost), NAN unknown */
    double cost_energy, cost_wear, cost_demand, cost_penalty;
    double *isp; /* FG_PLAN_N_SERIES * n_isp, row per series, owned; or NULL */
    struct fg_plan_slack *slack; /* n_slack, owned */
    size_t n_slack;
    double kw_max_w;            /* the peak-shaving target it planned for, NAN none */
    double connection_import_w; /* the grid connection's limits then */
    double connection_export_w;
    char reason[64]; /* why it was made: "first plan", "EV session", ... */
    double solve_s;  /* wall time of the plan() call */
};

/* The plan's value of series k for ISP i. */
static inline double fg_plan_isp(const struct fg_plan *p, enum fg_plan_series k, size_t i)
{
    return p->isp && i < p->n_isp ? p->isp[(size_t)k * p->n_isp + i] : (double)NAN;
}

/* The effective site constraints at one instant. */
struct fg_limits {
    double import_max_w;               /* >= 0 */
    double export_max_w;               /* >= 0 */
    const struct fg_signal *import_by; /* signal that set it, NULL = connection */
    const struct fg_signal *export_by;
    double price_import; /* NAN if no price known */
    double price_export;
    const struct fg_signal *price_by; /* NULL = site tariff (or none) */
    bool has_dispatch;
    double dispatch_w; /* clamped into [-export_max_w, import_max_w] */
    const struct fg_signal *dispatch_by;
    bool island;
    /* a charge_state signal: the batteries' target SoC, % (NAN none), and
     * when its interval ends (the target is to be reached by then) */
    double soc_target_pct;
    int64_t soc_target_until;
    const struct fg_signal *soc_target_by;
};

struct fg_model {
    struct fg_site site;
    struct fg_asset *assets;
    size_t n_assets, cap_assets;
    /* id -> index + 1 (0 = empty), open addressing over a power of two; valid
     * while idx_n == n_assets (a model built by hand falls back to a scan). */
    uint64_t *idx; /* id hash << 32 | asset index + 1; 0 = empty */
    size_t idx_cap, idx_n;
    struct fg_signal *signals;
    size_t n_signals, cap_signals;
    struct fg_plan plan;
    uint64_t version; /* bumped on every change, for cheap change detection */
};

void fg_model_init(struct fg_model *m);
void fg_model_clear(struct fg_model *m);

/* Add an asset (copied). FG_EEXISTS if the id is taken, FG_EINVAL for an
 * empty id, FG_EFULL past FG_MODEL_MAX_ASSETS. The asset starts offline
 * with power NAN unless the copy says otherwise. */
int fg_model_add_asset(struct fg_model *m, const struct fg_asset *a,
                       struct fg_error *err);
/* The asset array grows by realloc: a pointer from find stays valid only until
 * the next fg_model_add_asset() or fg_model_remove_asset(). */
struct fg_asset *fg_model_find_asset(struct fg_model *m, const char *id);
const struct fg_asset *fg_model_find_asset_c(const struct fg_model *m, const char *id);
/* Remove an asset; FG_ENOTFOUND if absent. */
int fg_model_remove_asset(struct fg_model *m, const char *id);

/* The envelope of an asset at time t (now or later) from its kind data:
 * offline -> [0, 0] (evse, battery, pv) or [p, p] (loads: measured power);
 * battery -> [-max_discharge, max_charge], discharge 0 at/below soc_min,
 *   charge 0 at/above soc_max;
 * evse -> [0, 0] without a session (or when not plugged in / faulted), else
 *   [0, rated] ([-max_discharge_w, rated] if bidirectional), rated capped by
 *   max_current_a * voltage * phases, and [0, 0] from departure on. The
 *   minimum current is not a lower bound (the charger can pause):
 *   fg_model_apply_setpoint() rounds set-points in (0, min power) instead;
 * pv -> [-available, -available] if not curtailable, [-available, 0] if it is
 *   (for t beyond now the forecast value covering t replaces `available`;
 *   outside the forecast `available` is used; capped at rated_w if > 0);
 * load -> inflexible [p, p]; disconnectable [0, rated] ; shiftable [0, rated].
 * Pure: reads only the asset. */
struct fg_envelope fg_asset_envelope_at(const struct fg_asset *a, int64_t now, int64_t t);

/* Recompute every asset's envelope for `now`, mark assets not seen for
 * `offline_after_s` (0 = never) as offline. Returns number of assets whose
 * online flag changed. */
int fg_model_refresh(struct fg_model *m, int64_t now, int64_t offline_after_s);

/* Net site power now: the main meter if it has a reading, else the sum of the
 * measured asset powers (unknown powers count as 0). */
double fg_model_site_power(const struct fg_model *m);

/* The effective constraints at time t, per the precedence rules above. A
 * signal counts at t if it is not cancelled, has no target and one of its
 * intervals covers t (so pending signals count for a future t). A price signal
 * without export_value leaves the tariff's export price. The *_by pointers
 * point into m->signals: valid until the next signal put/cancel/expire. */
void fg_model_limits_at(const struct fg_model *m, int64_t t, struct fg_limits *out);

/* Apply a set-point: w is clamped to the asset's envelope, then to the
 * site's effective limits at `now` given the other assets (their active
 * set-point, else their measured power). If the two cannot both hold, the
 * envelope wins and the value nearest the violated limit is taken. For an
 * EVSE with a minimum current the result, if in (0, min power) (or
 * (-min power, 0)), is rounded to 0 below half of min power, else to min
 * power, unless that breaks a bound.
 * Errors: FG_ENOTFOUND (no such asset), FG_ESTATE (asset offline),
 * FG_EINVAL (w not finite, expires_at <= now). On success the asset's sp is
 * updated, the model version bumped, and *applied (if not NULL) receives a
 * copy. */
int fg_model_apply_setpoint(struct fg_model *m, const char *asset_id, double w,
                            enum fg_sp_source src, int64_t expires_at, int64_t now,
                            struct fg_setpoint *applied, struct fg_error *err);
/* The same with the rest of the site counted at other_w (W, + import)
 * instead of at each other asset's fg_asset_counted_w(): for set-points
 * decided together (a scheduler's answer), where the others are about to
 * change too. NAN: counted from the model, as above. */
int fg_model_apply_setpoint_other(struct fg_model *m, const char *asset_id, double w,
                                  enum fg_sp_source src, int64_t expires_at, int64_t now,
                                  double other_w, struct fg_setpoint *applied,
                                  struct fg_error *err);
/* What the site limits count an asset at: its set-point while one is in
 * force, else its measured power (unknown: 0). */
double fg_asset_counted_w(const struct fg_asset *a, int64_t now);

/* Drop set-points whose expires_at <= now; move signals whose last interval
 * has ended to COMPLETED and started ones to ACTIVE; remove completed or
 * cancelled signals older than `keep_s` (by their end or update time).
 * Returns the number of set-points expired. */
int fg_model_expire(struct fg_model *m, int64_t now, int64_t keep_s);

/* Validate and insert or replace a signal (copied), keyed by (source, id).
 * Validation: id non-empty, 1..FG_SIGNAL_MAX_INTERVALS intervals, sorted and
 * non-overlapping, positive durations, finite values (grid limits >= 0,
 * NAN allowed for export_value). Status is derived from `now` unless the
 * signal is CANCELLED. Errors name the field as a JSON path
 * ("/intervals/3/duration_s"). */
int fg_model_signal_put(struct fg_model *m, const struct fg_signal *s, int64_t now,
                        struct fg_error *err);
struct fg_signal *fg_model_signal_find(struct fg_model *m, enum fg_signal_source src,
                                       const char *id);
/* Mark cancelled; FG_ENOTFOUND if absent. */
int fg_model_signal_cancel(struct fg_model *m, enum fg_signal_source src, const char *id,
                           int64_t now);
/* Remove a signal outright (a source that withdraws it without history, e.g.
 * a config signal deleted from the file); FG_ENOTFOUND if absent. */
int fg_model_signal_remove(struct fg_model *m, enum fg_signal_source src, const char *id);
/* The interval of s covering t, or NULL. */
const struct fg_signal_interval *fg_signal_interval_at(const struct fg_signal *s,
                                                       int64_t t);

/* Tariff price at t from the site's periods; NAN if there is no tariff. */
double fg_site_tariff_import(const struct fg_site *s, int64_t t);
double fg_site_tariff_export(const struct fg_site *s, int64_t t);

/* Replace the plan (taken: *p is moved into the model and zeroed). */
void fg_model_set_plan(struct fg_model *m, struct fg_plan *p);
void fg_plan_clear(struct fg_plan *p);

#endif
