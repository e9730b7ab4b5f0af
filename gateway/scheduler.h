/* The scheduler in the gateway: every scheduler.interval_s the model becomes
 * a view (fg_scheduler.h), the scheduler's worker process answers with
 * set-points (sched_host.h), and the guard checks them before they reach
 * fg_gw_setpoint (source FG_SP_SCHEDULER).
 *
 * The guard: an answer naming an unknown asset, or with a NaN or infinite
 * value, is nonsense and refused whole. Values that are merely too large are
 * clamped by fg_model_apply_setpoint: the asset's envelope first, then the
 * site's import/export limits.
 *
 * The safe fallback schedule takes over when a call fails for any reason
 * (error code, crash, deadline, nonsense, no worker) and stays in charge
 * until the scheduler has answered correctly again. See fg_sched_fallback().
 *
 * Loop thread only, except the exchange with the worker process, which runs
 * on a dedicated fg_worker thread so the loop never waits for a plugin. */
#ifndef FG_SCHEDULER_GW_H
#define FG_SCHEDULER_GW_H

#include <stdbool.h>
#include <stdint.h>

#include "fg_err.h"
#include "fg_scheduler.h"
#include "model.h"

struct fg_gw;
struct fg_worker;
struct fg_forecast;
struct fg_sched_proc;

struct fg_scheduler {
    bool running;       /* a scheduler that does something is configured */
    char plugin[4096];  /* what runs (config scheduler.plugin) */
    char options[4096]; /* and its options */
    int timeout_ms;
    struct fg_worker *worker; /* the exchange thread */
    struct fg_sched_proc *proc;
    unsigned gen;         /* bumped on every restart: answers of older ones are dropped */
    bool busy;            /* a call is under way */
    bool kick;            /* call at once, not at the next interval */
    int64_t last_call;    /* clock s of the last call */
    int64_t call_mono_ms; /* fg_mono_ms when it was made */
    bool fallback;        /* the fallback schedule is in charge */
    char name[64];        /* what the scheduler calls itself */
    unsigned last_clamped; /* set-points of the last answer that were clamped */
    /* assets whose inverter-mode request was logged as not executable */
    char (*mode_logged)[FG_ID_MAX];
    size_t n_mode_logged;

    /* The planner (scheduler.planner): plan() in a worker process of its
     * own, on a thread of its own, so a solve never delays realtime(). */
    bool plan_running;
    char planner[4096];
    char planner_options[4096];
    int plan_timeout_s;
    struct fg_worker *plan_worker;
    struct fg_sched_proc *plan_proc;
    bool plan_busy;
    int64_t plan_last_call; /* clock s of the last plan() call, 0 none */
    int64_t plan_retry_at;  /* after a failure: not before (clock s) */
    char plan_want[64];     /* a reason to re-plan, "" none */
    uint64_t fp_ev, fp_sig; /* EV sessions and signals at the last call */
    /* the uncontrolled load (site less EVs and batteries) over this ISP */
    int64_t dev_isp;
    double dev_sum_w;
    unsigned dev_n;
};

/* Start the scheduler of gw->cfg (nothing for "none" or a built-in that
 * does nothing, which is logged). FG_ENOMEM or the worker thread's error. */
int fg_scheduler_start(struct fg_gw *gw, struct fg_error *err);
/* Stop it: join the exchange thread, kill and reap the worker process. */
void fg_scheduler_stop(struct fg_gw *gw);
/* After a config change: restart if plugin, options or deadline changed. */
int fg_scheduler_reconfigure(struct fg_gw *gw, struct fg_error *err);
/* The tick: call realtime() when interval_s has passed and no call is
 * under way; keep the fallback schedule going while it is in charge. */
void fg_scheduler_tick(struct fg_gw *gw, int64_t now);
/* After fg_gw_kick_scheduler(): call realtime() now if no call is under
 * way (else the answer of the running one makes the call it asks for). */
void fg_scheduler_kicked(struct fg_gw *gw, int64_t now);

/* The plan-related parts of the view: the plan in force at v->now
 * (v->plan_created, v->plan_site_w, each asset's plan_w); nothing when m has
 * no plan covering now. v->assets must be the view of m's assets in order. */
void fg_sched_view_plan(const struct fg_model *m, struct fg_sched_view *v,
                        struct fg_sched_asset *assets);

/* An asset whose set-point comes from the operator or a signal source (API,
 * MQTT, OpenADR, UFTP) and has not expired: the scheduler leaves it alone,
 * and sees it pinned at that set-point. */
bool fg_sched_overridden(const struct fg_asset *a, int64_t now);

/* Build the view of the model at now (horizon_h hours, kw_max_w from the
 * config; the load forecast and where needed the PV forecast from fc, the
 * learned profiles, or none when NULL): v->assets points to assets (n_assets entries,
 * caller's), the series to values (8 * the ISPs of the horizon, caller's, see
 * fg_sched_view_values). */
size_t fg_sched_view_values(int horizon_s, int isp_s);
void fg_sched_view_build(const struct fg_model *m, int64_t now, int horizon_s,
                         double kw_max_w, const struct fg_forecast *fc,
                         struct fg_sched_asset *assets, double *values,
                         struct fg_sched_view *v);

/* The guard's first step: 0 if every set-point names an asset of m and has
 * finite values, else FG_EINVAL with the first problem (and how many there
 * are) in why. */
int fg_sched_guard_check(const struct fg_model *m, const struct fg_sched_setpoint *sp,
                         uint32_t n, char *why, size_t why_len);

/* One action of the fallback schedule. */
struct fg_sched_fallback_action {
    char id[FG_ID_MAX];
    bool clear; /* release the scheduler's set-point (the device's own default) */
    double w;   /* else: this set-point, source FG_SP_FALLBACK */
};

/* The safe fallback schedule at now, as actions (at most cap; returns how
 * many). Why it is safe: it only ever lowers consumption.
 *   1. Every set-point from the scheduler is released: the devices go back
 *      to their own defaults (what they do with no scheduler at all).
 *   2. If the site imports more than its effective import limit now
 *      (fg_model_limits_at), batteries that charge are set to 0 W, and if
 *      that is not enough every charging EVSE is curtailed by the same
 *      fraction of its power above its floor (its envelope minimum, never
 *      below 0 W), as far as needed; the model clamps each again to the
 *      envelope and the site limits when it is applied.
 *   3. If the site exports more than its effective export limit,
 *      discharging batteries are set to 0 W and, if that is not enough,
 *      curtailable PV gives up the same fraction of its production.
 * For import nothing is ever raised; for export a battery or PV only moves
 * towards 0 W by no more than the excess: the fallback cannot push the
 * site past a limit it is within. Pure: reads only m. */
size_t fg_sched_fallback(const struct fg_model *m, int64_t now,
                         struct fg_sched_fallback_action *out, size_t cap);

#endif
