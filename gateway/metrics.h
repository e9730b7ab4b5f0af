/* Counters for GET /metrics (Prometheus text exposition format 0.0.4).
 * Loop thread only. */
#ifndef FG_METRICS_H
#define FG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define FG_METRICS_MAX_ADAPTERS 16

struct fg_metrics {
    int64_t start_mono_ms;
    uint64_t http_requests[6]; /* by status class: [1]=1xx .. [5]=5xx */
    uint64_t http_auth_failures;
    uint64_t setpoints_sent;
    uint64_t setpoints_clamped;
    uint64_t signals_received;
    uint64_t config_reloads;
    uint64_t config_reload_failures;
    /* the scheduler host (scheduler.c) */
    uint64_t sched_calls;      /* realtime() calls made */
    uint64_t sched_failures;   /* calls without a usable answer, for any reason */
    uint64_t sched_timeouts;   /* of which: past the deadline (worker killed) */
    uint64_t sched_crashes;    /* of which: the worker died */
    uint64_t sched_refused;    /* of which: answers refused by the guard */
    uint64_t sched_fallbacks;  /* times the safe fallback schedule took over */
    int sched_fallback_active; /* 1 while the fallback is in charge */
    uint64_t plans;            /* plans put in force */
    uint64_t plan_failures;    /* plan() calls without a usable plan */
    double plan_solve_s;       /* wall time of the last good plan() call */
    size_t n_adapters;
    struct {
        char name[16];
        uint64_t in, out;
    } adapters[FG_METRICS_MAX_ADAPTERS];
};

void fg_metrics_init(struct fg_metrics *m);
/* Count messages received from / sent to the peers of an adapter. */
void fg_metrics_adapter(struct fg_metrics *m, const char *adapter, uint64_t in,
                        uint64_t out);
void fg_metrics_http(struct fg_metrics *m, int status);

/* Render everything, with the model's gauges (assets online per kind, site
 * power, effective limits) and the loop lag. Returns malloc'ed text or
 * NULL. */
char *fg_metrics_render(const struct fg_metrics *m, const struct fg_model *model,
                        int64_t now, double loop_lag_ms, double loop_lag_max_ms);

#endif
