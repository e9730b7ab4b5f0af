/* The gateway: one object owning the config, the clock, the loop, the model,
 * the store, the web server and the adapters, and the operations the API,
 * the adapters and the scheduler use to change the site (set-points,
 * signals, config). Loop thread only. */
#ifndef FG_GATEWAY_H
#define FG_GATEWAY_H

#include <limits.h>
#include <stdbool.h>

#include "clock.h"
#include "config.h"
#include "fg_adapter.h"
#include "forecast.h"
#include "health.h"
#include "http.h"
#include "loop.h"
#include "metrics.h"
#include "model.h"
#include "scheduler.h"
#include "store.h"

#define FG_GW_MAX_ADAPTERS 8
#define FG_AUTH_PEERS 64 /* clients whose failed logins are tracked */

struct fg_gw_opts {
    const char *config_path; /* the file to run on (and write on PUT /config) */
    const char *data_dir;    /* overrides storage.path when not NULL */
    const char *listen;      /* overrides web.listen when not NULL */
    bool demo;               /* simulated clock, status lines */
    double speed;            /* demo: simulated seconds per second */
    int log_level;           /* -1: from config */
    bool status_lines;       /* print a live status block */
};

struct fg_gw {
    char config_path[PATH_MAX];
    char config_dir[PATH_MAX];
    struct fg_gw_opts opts;
    struct fg_config cfg;
    struct fg_clock clock;
    struct fg_loop *loop;
    struct fg_model model;
    struct fg_store *store;
    struct fg_health health;     /* battery ageing states (health.h) */
    struct fg_forecast forecast; /* learned load and PV profiles (forecast.h) */
    struct fg_http *http;
    struct fg_metrics metrics;
    struct fg_adapter_host host;
    size_t n_adapters;
    struct {
        const struct fg_adapter_ops *ops;
        void *state;
    } adapters[FG_GW_MAX_ADAPTERS];
    struct fg_timer tick;
    /* fires at once after a signal changed: realtime() runs then, not at
     * the next scheduler.interval_s (fg_gw_kick_scheduler) */
    struct fg_timer sched_kick;
    bool sched_kick_ready;      /* initialised (the loop runs) */
    struct fg_scheduler sched;  /* the scheduler host (scheduler.h) */
    int64_t config_signals_day; /* local day the config signals were made for */
    int64_t last_status_mono;
    int64_t last_prune_mono;
    int64_t start_mono_ms;
    bool first_answer_logged;
    /* Failed authentications per client, to throttle guessing (api.c). */
    struct {
        char peer[64];
        int64_t window_start_ms; /* monotonic */
        unsigned failures;
    } auth_fail[FG_AUTH_PEERS];
    int exit_code;
};

/* Load the config (errors printed, FG_ECONFIG), open the store, build the
 * model, start adapters and the web server. */
int fg_gw_init(struct fg_gw *gw, const struct fg_gw_opts *o, struct fg_error *err);
/* Something the scheduler acts on changed (a signal was put or cancelled):
 * run realtime() right away, on the loop thread, instead of at the next
 * interval, so a limit reaches the devices within the call's own time. */
void fg_gw_kick_scheduler(struct fg_gw *gw);
/* Serve until SIGTERM/SIGINT. Returns the process exit code. */
int fg_gw_run(struct fg_gw *gw);
void fg_gw_clear(struct fg_gw *gw);

/* Re-read the config file; swap only if it is entirely valid. Errors go to
 * errs. */
int fg_gw_reload(struct fg_gw *gw, struct fg_errlist *errs);
/* Validate a new config document, write it atomically to the config file
 * and apply it. errs receives validation errors (FG_ECONFIG). */
int fg_gw_replace_config(struct fg_gw *gw, const char *json, size_t len,
                         struct fg_errlist *errs, struct fg_error *err);

/* Set-point through the model's clamping, logged in the store and sent to
 * the asset's adapter. */
/* The running state of adapter `name` ("ocpp", ...), NULL when it is not
 * running. For adapter-specific API calls (adapters/ocpp/fg_ocpp_adapter.h). */
void *fg_gw_adapter_state(struct fg_gw *gw, const char *name);

int fg_gw_setpoint(struct fg_gw *gw, const char *asset_id, double w,
                   enum fg_sp_source src, int64_t expires_at, struct fg_setpoint *applied,
                   struct fg_error *err);
/* The same with a reactive power target var (fg_setpoint.var; NAN = none).
 * FG_EUNSUPPORTED (HTTP 422) when the asset's adapter or device has no
 * reactive-power control; the model then keeps its previous set-point. */
int fg_gw_setpoint_var(struct fg_gw *gw, const char *asset_id, double w, double var,
                       enum fg_sp_source src, int64_t expires_at,
                       struct fg_setpoint *applied, struct fg_error *err);
/* Set-points decided together (a scheduler's answer, the fallback): each is
 * clamped against the site limits with the other assets counted at what
 * the batch gives them, not at the set-points it replaces. Without this a
 * limit coming in clamps the first EVs to 0 W, because the others still
 * count at their old, higher set-points. Use: init, intend() every
 * set-point of the batch, apply() each (as fg_gw_setpoint_var), free. The
 * batch is one store transaction: nothing else may open one meanwhile.
 * Clear set-points outside the batch's functions as usual. */
struct fg_sp_batch {
    double *counted; /* per model asset (by index): the power the site counts it at */
    size_t n;
    double total; /* their sum */
    bool in_tx;   /* the set-point log rows go into one store transaction */
};
int fg_sp_batch_init(struct fg_sp_batch *b, struct fg_gw *gw);
void fg_sp_batch_intend(struct fg_sp_batch *b, struct fg_gw *gw, const char *asset_id,
                        double w);
int fg_sp_batch_apply(struct fg_sp_batch *b, struct fg_gw *gw, const char *asset_id,
                      double w, double var, enum fg_sp_source src, int64_t expires_at,
                      struct fg_setpoint *applied, struct fg_error *err);
/* Commits the batch's log rows (a failure is logged: the set-points stand). */
void fg_sp_batch_free(struct fg_sp_batch *b, struct fg_gw *gw);
/* Release an asset's set-point. */
int fg_gw_setpoint_clear(struct fg_gw *gw, const char *asset_id, struct fg_error *err);

/* Accept a signal: into the model and, unless it comes from the config,
 * committed to the store before this returns 0. */
int fg_gw_signal_put(struct fg_gw *gw, const struct fg_signal *s, struct fg_error *err);
int fg_gw_signal_cancel(struct fg_gw *gw, enum fg_signal_source src, const char *id,
                        struct fg_error *err);

/* Current (possibly simulated) epoch seconds. */
int64_t fg_gw_now(const struct fg_gw *gw);

#endif
