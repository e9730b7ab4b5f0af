/* flexgw scheduler plugin ABI, version 1.
 *
 * A scheduler is a shared object exporting one function,
 *
 *     const struct fg_sched_plugin *flexgw_scheduler_v1(void);
 *
 * that returns a constant table: the ABI version, the table's size, a name
 * and four functions. The host (flexgw) loads it with dlopen() from the path
 * in the configuration (scheduler.plugin), checks version and size, and runs
 * it in a worker process of its own: a plugin that crashes, hangs past its
 * deadline or returns nonsense is logged and replaced by the host's safe
 * built-in schedule, and whatever it returns is clamped to each asset's
 * envelope and the site's limits before it reaches a device.
 *
 * This header is the whole contract: it needs nothing else from flexgw.
 * Everything is plain data. Rules of evolution: fields are only ever
 * appended to a struct, each struct that may grow starts with its own size
 * (set by whoever fills it), and a reader never reads past the size the
 * writer set. A change that cannot follow those rules gets a new version
 * number and a new entry symbol.
 *
 * Units: W, Wh, var, V, s, %, currency per kWh, UTC epoch seconds. Power
 * sign: + = consumption / charging / import, - = production / discharge /
 * export. Reactive power: + = absorbing (inductive), - = injecting. */
#ifndef FG_SCHEDULER_H
#define FG_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FG_SCHED_ABI_VERSION 1u
#define FG_SCHED_ENTRY "flexgw_scheduler_v1"
#define FG_SCHED_ID_MAX 48

enum fg_sched_kind {
    FG_SCHED_EVSE = 0,
    FG_SCHED_BATTERY = 1,
    FG_SCHED_PV = 2,
    FG_SCHED_LOAD = 3,
};

enum fg_sched_load_type {
    FG_SCHED_LOAD_INFLEXIBLE = 0,
    FG_SCHED_LOAD_DISCONNECTABLE = 1,
    FG_SCHED_LOAD_SHIFTABLE = 2,
};

/* What an asset's device can do beyond active power (bit flags). */
#define FG_SCHED_CAP_REACTIVE 0x1u     /* takes reactive-power set-points */
#define FG_SCHED_CAP_GRID_FORMING 0x2u /* can form an island (backup mode) */
#define FG_SCHED_CAP_DISCONNECT 0x4u   /* can be switched off (loads) */
#define FG_SCHED_CAP_V2G 0x8u          /* EVSE and EV allow discharge now */

/* One asset as the scheduler sees it. Values that are unknown are NAN
 * (doubles) or 0 (times). */
struct fg_sched_asset {
    uint32_t size; /* sizeof(struct fg_sched_asset) of the writer */
    uint32_t kind; /* enum fg_sched_kind */
    char id[FG_SCHED_ID_MAX];
    uint32_t online;
    uint32_t caps;  /* FG_SCHED_CAP_* */
    double power_w; /* measured */
    double min_w;   /* envelope now: what the asset can do, min <= max */
    double max_w;
    double voltage_v; /* at the asset's connection (volt-var), NAN if unknown */

    /* battery, and the EV of an EVSE session */
    double capacity_wh;
    double soc_pct;
    double soc_min_pct; /* battery: keep at least; EV: 0 */
    double soc_max_pct;
    double max_charge_w;    /* >= 0 */
    double max_discharge_w; /* >= 0 */
    double temperature_c;

    /* EVSE session (session != 0) */
    uint32_t session;
    int32_t priority;           /* higher gets capacity first; 0 normal */
    double energy_wh;           /* delivered so far */
    double energy_requested_wh; /* wanted by departure; NAN unknown */
    int64_t arrival;            /* session start */
    int64_t departure;          /* 0 unknown */
    double min_charge_w;        /* below this the EV stops (minimum current) */

    /* PV */
    double available_w; /* what it could produce now, >= 0 */
    uint32_t curtailable;

    /* load */
    uint32_t load_type; /* enum fg_sched_load_type */
    double rated_w;
    uint32_t connected; /* disconnectable: switched on now */
    double run_s;       /* shiftable: one run's duration */
    int64_t earliest_start, latest_end;

    /* This asset's planned mean power over the current ISP, when the view
     * has a plan (view->plan_created != 0); NAN when the plan does not cover
     * it (the asset or its EV session is newer than the plan, or the EV has
     * not said how much energy it wants). */
    double plan_w;
};

/* A time series on a regular grid: v[i] holds for [start + i*step_s,
 * start + (i+1)*step_s). NAN = no value for that step. */
struct fg_sched_series {
    int64_t start;
    int32_t step_s;
    uint32_t n;
    const double *v;
};

/* Everything a scheduler may read. The host builds a fresh view for each
 * call; pointers are valid for that call only. */
struct fg_sched_view {
    uint32_t size; /* sizeof(struct fg_sched_view) of the writer */
    uint32_t abi;  /* FG_SCHED_ABI_VERSION */
    int64_t now;
    int32_t isp_s; /* settlement period, e.g. 900 */
    int32_t horizon_s;

    /* the connection point now */
    double site_power_w;      /* measured at the main meter, or the sum of assets */
    double site_voltage_v[3]; /* per phase, NAN unknown */
    double import_max_w;      /* effective now: connection and DSO limits, >= 0 */
    double export_max_w;      /* >= 0 */
    double kw_max_w;          /* peak-shaving target for import (kWmax), NAN = none */
    double dispatch_w;        /* a dispatch target at the connection point, NAN = none */
    double reactive_var;      /* a reactive-power target at the connection, NAN = none */
    uint32_t island;          /* 1: an islanding signal is active */

    /* per-ISP series over the horizon, from now's ISP */
    struct fg_sched_series price_import; /* currency per kWh */
    struct fg_sched_series price_export;
    struct fg_sched_series import_max_w_series; /* limits ahead (DSO signals) */
    struct fg_sched_series export_max_w_series;
    struct fg_sched_series dispatch_w_series; /* BRP portfolio target, NAN none */
    struct fg_sched_series pv_forecast_w;     /* whole site, >= 0 */
    struct fg_sched_series load_forecast_w;   /* inflexible load, whole site */

    /* the assets; element i is at (const char *)assets + i * asset_stride */
    uint32_t n_assets;
    uint32_t asset_stride; /* = assets[0].size */
    const struct fg_sched_asset *assets;

    /* The plan in force (the planner's last good plan), only when
     * plan_created != 0: the site power it expects over the current ISP (the
     * load forecast plus every asset's planned power; NAN when the plan does
     * not reach this ISP), and each asset's plan_w. A real-time scheduler
     * follows it and corrects deviations. */
    int64_t plan_created; /* when that plan was made; 0: no plan, ignore plan_* */
    double plan_site_w;

    /* Appended later in ABI 1 (read them only when size covers them): a
     * charge_state signal in force now asks the stationary batteries to
     * reach soc_target_pct (% of their capacity; NAN: no such signal) by
     * soc_target_until (clock s, the end of its interval) and hold it. */
    double soc_target_pct;
    int64_t soc_target_until;
    /* the same per ISP over the horizon (on the grid of the other series):
     * the target in force at the ISP's start, NAN none; a planner charges
     * or discharges ahead so that the batteries are there when it starts */
    struct fg_sched_series soc_target_series;
};

static inline const struct fg_sched_asset *
fg_sched_asset_at(const struct fg_sched_view *v, uint32_t i)
{
    return (const struct fg_sched_asset *)(const void *)((const char *)v->assets +
                                                         (size_t)i * v->asset_stride);
}

/* One set-point. */
#define FG_SCHED_SP_VAR 0x1u          /* var is set */
#define FG_SCHED_SP_GRID_FORMING 0x2u /* switch the inverter to grid-forming */
#define FG_SCHED_SP_GRID_FOLLOWING 0x4u
#define FG_SCHED_SP_DISCONNECT 0x8u /* switch a disconnectable load off */
#define FG_SCHED_SP_CONNECT 0x10u   /* and on again */
struct fg_sched_setpoint {
    char id[FG_SCHED_ID_MAX];
    double w;
    double var;
    uint32_t flags; /* FG_SCHED_SP_* */
};

/* What realtime() fills: up to cap set-points (the host provides the
 * array), n the number written. Assets without a set-point keep theirs
 * until it expires. note: free text for the log and the API. */
struct fg_sched_setpoints {
    uint32_t cap;
    uint32_t n;
    struct fg_sched_setpoint *sp;
    char note[256];
};

/* A constraint the planner had to soften, and by how much. */
struct fg_sched_slack {
    char name[64]; /* e.g. "ev_energy:ev3", "grid_import" */
    char asset[FG_SCHED_ID_MAX];
    int64_t at;    /* the ISP it concerns (start), 0 for the whole horizon */
    double amount; /* in the constraint's unit (Wh, W) */
    char unit[8];
};

/* What plan() fills. The host provides w (n_assets * n_isp, row per asset,
 * in the order of view->assets) and slack (slack_cap); n_isp is at most the
 * horizon's ISPs. */
struct fg_sched_plan {
    int64_t start;
    int32_t isp_s;
    uint32_t n_isp;   /* set by the plugin, <= cap_isp */
    uint32_t cap_isp; /* set by the host */
    uint32_t n_assets;
    double *w;
    double expected_cost; /* currency, total */
    double cost_energy;   /* parts of expected_cost */
    double cost_wear;
    double cost_demand;
    double cost_penalty; /* slack penalties */
    char services[128];  /* comma-separated services the plan serves */
    uint32_t slack_cap;
    uint32_t n_slack;
    struct fg_sched_slack *slack;
};

/* Services the host offers to a plugin. */
struct fg_sched_host {
    uint32_t size; /* sizeof(struct fg_sched_host) of the host */
    uint32_t abi;
    void *ctx;
    /* level: 0 error, 1 warning, 2 info, 3 debug */
    void (*log)(void *ctx, int level, const char *msg);
    int64_t (*now)(void *ctx);
    /* The battery wear cost of one full cycle of depth dod (0..1) at a
     * C-rate and temperature, per kWh of throughput, from the ageing model
     * of asset_id (a battery, or the EV at an EVSE); 0 when the asset has
     * no ageing model or no replacement cost. */
    double (*wear_cost_per_kwh)(void *ctx, const char *asset_id, double dod, double crate,
                                double temp_c);
};

/* The table a plugin exports. create() gets the host's services and the
 * plugin's own configuration (the JSON text of scheduler.options, "{}" if
 * none); it returns an instance or NULL with a message in err. plan() and
 * realtime() return 0 on success, anything else is a failure (the host
 * falls back). Either may be NULL when the plugin does not do that part.
 * The host calls them one at a time, never concurrently. */
struct fg_sched_plugin {
    uint32_t abi;  /* FG_SCHED_ABI_VERSION */
    uint32_t size; /* sizeof(struct fg_sched_plugin) */
    const char *name;
    void *(*create)(const struct fg_sched_host *host, const char *config_json, char *err,
                    size_t errlen);
    int (*plan)(void *inst, const struct fg_sched_view *view, struct fg_sched_plan *out);
    int (*realtime)(void *inst, const struct fg_sched_view *view,
                    struct fg_sched_setpoints *out);
    void (*destroy)(void *inst);
};

typedef const struct fg_sched_plugin *(*fg_sched_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
