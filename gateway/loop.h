/* The event loop: one thread, libwebsockets' own loop.
 *
 * Everything that touches the model or a socket runs on the loop thread. The
 * loop has exactly one entry from other threads: fg_loop_post(), a queue
 * drained on the loop thread after lws_cancel_service() wakes it. Timers are
 * lws_sul entries. Blocking work (a device bus, a solver) runs on workers:
 * dedicated threads with their own job queue whose completions come back
 * through fg_loop_post().
 *
 * Signals: fg_loop_catch_signals() blocks SIGTERM, SIGINT and SIGHUP in the
 * calling thread (and so in every thread started after it) and starts one
 * thread that sigwait()s for them and posts them to the loop; no code runs
 * in signal-handler context. */
#ifndef FG_LOOP_H
#define FG_LOOP_H

#include <stdint.h>

#include <libwebsockets.h>

#include "fg_err.h"

struct fg_loop;
struct fg_worker;

typedef void (*fg_loop_fn)(void *arg);

/* Create the loop and its lws context (explicit vhosts: servers add their own
 * with lws_create_vhost on fg_loop_context()). */
int fg_loop_new(struct fg_loop **out, struct fg_error *err);
/* Stop workers, drop queued calls (their fn is not run), destroy the context.
 * Call from the thread that ran the loop, after fg_loop_run returned. */
void fg_loop_free(struct fg_loop *l);
struct lws_context *fg_loop_context(struct fg_loop *l);

/* Serve until fg_loop_stop(). Returns 0. */
int fg_loop_run(struct fg_loop *l);
/* Ask the loop to return from fg_loop_run. Any thread. */
void fg_loop_stop(struct fg_loop *l);

/* Run fn(arg) on the loop thread, soon. Any thread. FG_ENOMEM if the entry
 * cannot be allocated, FG_ESTATE once the loop is being freed. */
int fg_loop_post(struct fg_loop *l, fg_loop_fn fn, void *arg);

/* A timer on the loop. Embed in your struct; init once; start re-arms. */
struct fg_timer {
    lws_sorted_usec_list_t sul; /* first: the sul callback casts back */
    struct fg_loop *loop;
    void (*cb)(struct fg_timer *t);
    void *arg;
};
void fg_timer_init(struct fg_timer *t, struct fg_loop *l, void (*cb)(struct fg_timer *t),
                   void *arg);
/* (Re)arm to fire once after delay_ms real milliseconds. Loop thread only. */
void fg_timer_start(struct fg_timer *t, int64_t delay_ms);
void fg_timer_stop(struct fg_timer *t);

/* Block SIGTERM/SIGINT/SIGHUP and deliver them as on_signal(arg, signo) on
 * the loop thread. Call before starting any other thread. */
int fg_loop_catch_signals(struct fg_loop *l, void (*on_signal)(void *arg, int signo),
                          void *arg);

/* Scheduling lag of the loop: how late a 100 ms probe timer fired, in ms;
 * the maximum seen over the last second and since start. */
double fg_loop_lag_ms(const struct fg_loop *l);
double fg_loop_lag_max_ms(const struct fg_loop *l);

/* A dedicated worker thread. Jobs run in submission order; done(arg) runs
 * afterwards on the loop thread (done may be NULL). */
int fg_worker_new(struct fg_loop *l, const char *name, struct fg_worker **out);
/* Finish the running job, drop the queued ones (their done() is called with
 * cancelled=1 on the calling thread), join the thread. */
void fg_worker_free(struct fg_worker *w);
int fg_worker_submit(struct fg_worker *w, fg_loop_fn work,
                     void (*done)(void *arg, int cancelled), void *arg);

/* The loop's shared worker, for occasional blocking work. */
struct fg_worker *fg_loop_worker(struct fg_loop *l);

#endif
