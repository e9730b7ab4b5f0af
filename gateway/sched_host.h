/* The scheduler host: loading a scheduler (built-in or a plugin .so), the
 * worker process it runs in, and the host's side of the conversation.
 *
 * Why a process: a plugin is third-party code. In a process of its own a
 * segfault, an abort or an endless loop costs one answer, not the gateway.
 * flexgw starts the worker by executing itself (/proc/self/exe
 * --scheduler-worker FD PLUGIN), never by a bare fork() of the
 * multi-threaded gateway; the two talk over a socketpair (sched_wire.h).
 *
 * Threads: fg_sched_proc_* run on one thread at a time (the scheduler's
 * worker thread, see scheduler.c); they block up to the deadline given. */
#ifndef FG_SCHED_HOST_H
#define FG_SCHED_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fg_err.h"
#include "fg_scheduler.h"

/* The built-in scheduler called name, or NULL ("none", or not a built-in).
 * fg_sched_is_builtin tells the two apart. */
const struct fg_sched_plugin *fg_sched_builtin(const char *name);
bool fg_sched_is_builtin(const char *name);

/* A loaded scheduler. */
struct fg_sched_lib {
    void *dl; /* dlopen handle, NULL for a built-in */
    const struct fg_sched_plugin *p;
};

/* Load `plugin`: a built-in name, or a path to a shared object whose
 * FG_SCHED_ENTRY returns a table of ABI FG_SCHED_ABI_VERSION at least as
 * large as version 1's. Errors name the file and what is wrong: FG_ENOTFOUND
 * (no such file, no entry symbol, not a built-in), FG_EINVAL (not a shared
 * object: dlerror's text; the entry returned NULL), FG_EUNSUPPORTED (ABI
 * version mismatch: both numbers; table too small). */
int fg_sched_load(const char *plugin, struct fg_sched_lib *out, struct fg_error *err);
void fg_sched_unload(struct fg_sched_lib *l);

/* The worker process's main (flexgw --scheduler-worker FD PLUGIN): load the
 * plugin, serve requests on fd until it closes. Returns the exit code. */
int fg_sched_worker_main(int fd, const char *plugin);

/* Answers to wear_cost_per_kwh() questions, on the host side. */
typedef double (*fg_sched_wear_fn)(void *ctx, const char *asset_id, double dod,
                                   double crate, double temp_c);

/* How a call ended. */
enum fg_sched_outcome {
    FG_SCHED_OK,       /* answered, rc 0 */
    FG_SCHED_FAILED,   /* answered with rc != 0 */
    FG_SCHED_TIMEOUT,  /* no answer by the deadline: killed */
    FG_SCHED_CRASHED,  /* the worker died (signal or exit) */
    FG_SCHED_PROTOCOL, /* an answer that does not decode: killed */
    FG_SCHED_DOWN,     /* not running: start failed or waiting to restart */
};
const char *fg_sched_outcome_name(enum fg_sched_outcome o);

/* The host's handle on the worker process. */
struct fg_sched_proc {
    char exe[4096];     /* what to execute, normally /proc/self/exe */
    char plugin[4096];  /* a built-in name or a path */
    char *options;      /* JSON text for create(), owned */
    int log_level;      /* enum fg_log_level for the worker */
    pid_t pid;          /* 0: not running */
    int fd;             /* -1: not running */
    char name[64];      /* what the plugin calls itself */
    int64_t restart_at; /* fg_mono_ms before which no start is tried */
    int64_t backoff_ms; /* next back-off: 1 s doubling to 60 s, reset on success */
    unsigned starts;
    int cancel_fd; /* readable: give up waiting now (shutdown); -1 none */
};

void fg_sched_proc_init(struct fg_sched_proc *p, const char *exe, const char *plugin,
                        const char *options_json, int log_level);
/* Kill (SIGKILL) and reap the worker if running; free the options. */
void fg_sched_proc_clear(struct fg_sched_proc *p);

/* One realtime() call: start the worker if needed (and not in back-off),
 * send the encoded view (sched_wire.h, without the trailing cap), wait for
 * the answer until timeout_ms, answering wear questions with wear(). On
 * TIMEOUT and PROTOCOL the worker is killed and reaped; on CRASHED it is
 * reaped; each schedules a restart after a back-off. why (a message naming
 * the plugin and what happened, e.g. the signal) is filled unless OK. */
enum fg_sched_outcome fg_sched_proc_realtime(struct fg_sched_proc *p, const void *view,
                                             size_t view_len, int timeout_ms,
                                             fg_sched_wear_fn wear, void *wear_ctx,
                                             struct fg_sched_setpoints *out, char *why,
                                             size_t why_len);

/* One plan() call, the same way: the caller provides out->w (out->n_assets
 * = the view's assets, x out->cap_isp), out->slack (out->slack_cap). On OK
 * out holds the plan (rows out->n_isp apart); otherwise n_isp = 0. The
 * values are not judged (the caller's guard does). */
enum fg_sched_outcome fg_sched_proc_plan(struct fg_sched_proc *p, const void *view,
                                         size_t view_len, int timeout_ms,
                                         fg_sched_wear_fn wear, void *wear_ctx,
                                         struct fg_sched_plan *out, char *why,
                                         size_t why_len);

#endif
