#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* libwebsockets' own event loop is poll(): every wake-up walks every socket,
 * which is most of the CPU with thousands of stations connected. When lws
 * has its libev plugin (Debian's libwebsockets-evlib-ev) it serves the same
 * sockets through libev's epoll backend instead; poll() remains the fallback. */
#ifdef FG_HAVE_LIBEV
#include <ev.h>
#endif

#define LAG_PROBE_MS 100

struct post {
    struct post *next;
    fg_loop_fn fn;
    void *arg;
};

struct job {
    struct job *next;
    fg_loop_fn work;
    void (*done)(void *arg, int cancelled);
    void *arg;
    struct fg_worker *w;
};

struct fg_loop {
    struct lws_context *ctx;
    struct lws_vhost *internal; /* listens nowhere; receives wake-ups */
    pthread_mutex_t mu;         /* guards the post queue and `closing` */
    struct post *head, *tail;
    int closing;
    volatile int stop;
    /* signals */
    pthread_t sig_thread;
    int sig_running;
    void (*on_signal)(void *arg, int signo);
    void *sig_arg;
    /* lag probe */
    struct fg_timer lag_timer;
    int64_t lag_due_us;
    double lag_window_ms, lag_last_ms, lag_max_ms;
    int64_t lag_window_start_us;
    struct fg_worker *worker;
    void *ev; /* the libev loop lws runs on, NULL: lws' poll() loop */
};

/* ---- cross-thread queue ------------------------------------------------- */

int fg_loop_post(struct fg_loop *l, fg_loop_fn fn, void *arg)
{
    struct post *p = calloc(1, sizeof(*p));
    if (!p)
        return FG_ENOMEM;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&l->mu);
    if (l->closing) {
        pthread_mutex_unlock(&l->mu);
        free(p);
        return FG_ESTATE;
    }
    if (l->tail)
        l->tail->next = p;
    else
        l->head = p;
    l->tail = p;
    pthread_mutex_unlock(&l->mu);
    lws_cancel_service(l->ctx);
    return 0;
}

/* Run everything queued so far. Entries posted while running wait for the
 * next wake-up (which their own lws_cancel_service() guarantees). */
static void drain(struct fg_loop *l)
{
    pthread_mutex_lock(&l->mu);
    struct post *p = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (p) {
        struct post *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
}

static int internal_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                       void *in, size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        struct fg_loop *l = lws_context_user(lws_get_context(wsi));
        if (l)
            drain(l);
    }
    return 0;
}

static const struct lws_protocols internal_protocols[] = {
    {"fg-loop", internal_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- timers ------------------------------------------------------------- */

static void timer_fire(lws_sorted_usec_list_t *sul)
{
    struct fg_timer *t = lws_container_of(sul, struct fg_timer, sul);
    t->cb(t);
}

void fg_timer_init(struct fg_timer *t, struct fg_loop *l, void (*cb)(struct fg_timer *t),
                   void *arg)
{
    memset(t, 0, sizeof(*t));
    t->loop = l;
    t->cb = cb;
    t->arg = arg;
}

void fg_timer_start(struct fg_timer *t, int64_t delay_ms)
{
    if (delay_ms < 0)
        delay_ms = 0;
    lws_sul_schedule(t->loop->ctx, 0, &t->sul, timer_fire,
                     (lws_usec_t)delay_ms * LWS_US_PER_MS);
}

void fg_timer_stop(struct fg_timer *t)
{
    lws_sul_cancel(&t->sul);
}

static void lag_probe(struct fg_timer *t)
{
    struct fg_loop *l = t->arg;
    int64_t now = fg_mono_us();
    double lag = (double)(now - l->lag_due_us) / 1000.0;
    if (lag < 0)
        lag = 0;
    if (lag > l->lag_window_ms)
        l->lag_window_ms = lag;
    if (lag > l->lag_max_ms)
        l->lag_max_ms = lag;
    if (now - l->lag_window_start_us >= 1000000) {
        l->lag_last_ms = l->lag_window_ms;
        l->lag_window_ms = 0;
        l->lag_window_start_us = now;
    }
    l->lag_due_us = now + LAG_PROBE_MS * 1000;
    fg_timer_start(t, LAG_PROBE_MS);
}

double fg_loop_lag_ms(const struct fg_loop *l)
{
    return l->lag_last_ms > l->lag_window_ms ? l->lag_last_ms : l->lag_window_ms;
}

double fg_loop_lag_max_ms(const struct fg_loop *l)
{
    return l->lag_max_ms;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void lws_log_to_ours(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    fg_log(level & LLL_ERR ? FG_LOG_ERROR : FG_LOG_WARN, "lws", "%.*s", (int)n, line);
}

/* The libev loop goes after the lws context that ran on it. */
static void free_ev(struct fg_loop *l)
{
#ifdef FG_HAVE_LIBEV
    if (l->ev)
        ev_loop_destroy(l->ev);
#endif
    l->ev = NULL;
}

int fg_loop_new(struct fg_loop **out, struct fg_error *err)
{
    struct fg_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options =
        LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = l;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
#ifdef FG_HAVE_LIBEV
    /* Our own libev loop handed to lws as a "foreign" loop: lws installs no
     * signal watchers on it (the signal thread owns the signals) and we can
     * break it to stop. */
    l->ev = ev_loop_new(EVBACKEND_EPOLL);
    if (l->ev) {
        void *foreign[] = {l->ev};
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = foreign;
        l->ctx = lws_create_context(&info);
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = NULL;
        if (!l->ctx) {
            fg_warn("loop", "libwebsockets has no libev support (libwebsockets-evlib-ev "
                            "missing?): using its poll() loop");
            ev_loop_destroy(l->ev);
            l->ev = NULL;
        }
    }
    if (!l->ctx)
#endif
        l->ctx = lws_create_context(&info);
    if (!l->ctx) {
        pthread_mutex_destroy(&l->mu);
        free(l);
        return fg_error_set(err, FG_EIO, NULL, "cannot create the libwebsockets context");
    }
    info.protocols = internal_protocols;
    info.vhost_name = "fg-internal";
    l->internal = lws_create_vhost(l->ctx, &info);
    int rc = l->internal ? 0 : FG_EIO;
    if (!rc)
        rc = fg_worker_new(l, "fg-work", &l->worker);
    if (rc) {
        lws_context_destroy(l->ctx);
        free_ev(l);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return fg_error_set(err, rc, NULL, "cannot set up the event loop");
    }
    fg_timer_init(&l->lag_timer, l, lag_probe, l);
    l->lag_window_start_us = fg_mono_us();
    l->lag_due_us = l->lag_window_start_us + LAG_PROBE_MS * 1000;
    fg_timer_start(&l->lag_timer, LAG_PROBE_MS);
    *out = l;
    return 0;
}

struct lws_context *fg_loop_context(struct fg_loop *l)
{
    return l->ctx;
}

struct fg_worker *fg_loop_worker(struct fg_loop *l)
{
    return l->worker;
}

int fg_loop_run(struct fg_loop *l)
{
    while (!l->stop) {
        if (lws_service(l->ctx, 0) < 0)
            break;
    }
    return 0;
}

static void set_stop(void *arg)
{
    struct fg_loop *l = arg;
    l->stop = 1;
#ifdef FG_HAVE_LIBEV
    /* On libev, lws_service() returns only when the loop is broken. */
    if (l->ev)
        ev_break(l->ev, EVBREAK_ALL);
#endif
}

void fg_loop_stop(struct fg_loop *l)
{
    /* Through the queue so the flag is set on the loop thread and the loop
     * wakes up; if posting fails (closing), the loop is stopping anyway. */
    if (fg_loop_post(l, set_stop, l))
        l->stop = 1;
}

static void job_done(void *arg);
static void deliver_signal(void *arg);

/* A call still queued when the loop goes away is not run; what it owns is
 * released (a worker job learns it was cancelled). */
static void drop_post(struct post *p)
{
    if (p->fn == job_done) {
        struct job *j = p->arg;
        if (j->done)
            j->done(j->arg, 1);
        free(j);
    } else if (p->fn == deliver_signal) {
        free(p->arg);
    }
    free(p);
}

void fg_loop_free(struct fg_loop *l)
{
    if (!l)
        return;
    if (l->sig_running) {
        pthread_cancel(l->sig_thread);
        pthread_join(l->sig_thread, NULL);
    }
    fg_worker_free(l->worker);
    fg_timer_stop(&l->lag_timer);
    pthread_mutex_lock(&l->mu);
    l->closing = 1;
    struct post *p = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (p) {
        struct post *next = p->next;
        drop_post(p);
        p = next;
    }
    lws_context_destroy(l->ctx);
    free_ev(l);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* ---- signals -------------------------------------------------------------- */

struct sig_post {
    struct fg_loop *l;
    int signo;
};

static void deliver_signal(void *arg)
{
    struct sig_post *sp = arg;
    sp->l->on_signal(sp->l->sig_arg, sp->signo);
    free(sp);
}

static void *sig_main(void *arg)
{
    struct fg_loop *l = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int signo = 0;
        if (sigwait(&set, &signo) != 0)
            continue;
        struct sig_post *sp = malloc(sizeof(*sp));
        if (!sp)
            continue;
        sp->l = l;
        sp->signo = signo;
        if (fg_loop_post(l, deliver_signal, sp))
            free(sp);
    }
    return NULL;
}

int fg_loop_catch_signals(struct fg_loop *l, void (*on_signal)(void *arg, int signo),
                          void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc)
        return FG_EIO;
    l->on_signal = on_signal;
    l->sig_arg = arg;
    if (pthread_create(&l->sig_thread, NULL, sig_main, l))
        return FG_EIO;
    l->sig_running = 1;
    return 0;
}

/* ---- workers ---------------------------------------------------------------- */

struct fg_worker {
    struct fg_loop *loop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    int quit;
    char name[16];
};

static void job_done(void *arg)
{
    struct job *j = arg;
    if (j->done)
        j->done(j->arg, 0);
    free(j);
}

static void *worker_main(void *arg)
{
    struct fg_worker *w = arg;
    pthread_setname_np(pthread_self(), w->name);
    /* Termination and reload signals belong to the loop's signal thread; a
     * worker that took one would kill the process with the default action. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit)
            break;
        struct job *j = w->head;
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        j->work(j->arg);
        if (fg_loop_post(w->loop, job_done, j)) {
            /* The loop is closing: nobody will run done on it any more. */
            if (j->done)
                j->done(j->arg, 1);
            free(j);
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int fg_worker_new(struct fg_loop *l, const char *name, struct fg_worker **out)
{
    struct fg_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return FG_ENOMEM;
    w->loop = l;
    snprintf(w->name, sizeof(w->name), "%s", name ? name : "fg-worker");
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return FG_EIO;
    }
    *out = w;
    return 0;
}

int fg_worker_submit(struct fg_worker *w, fg_loop_fn work,
                     void (*done)(void *arg, int cancelled), void *arg)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return FG_ENOMEM;
    j->work = work;
    j->done = done;
    j->arg = arg;
    j->w = w;
    pthread_mutex_lock(&w->mu);
    if (w->quit) {
        pthread_mutex_unlock(&w->mu);
        free(j);
        return FG_ESTATE;
    }
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void fg_worker_free(struct fg_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    struct job *j = w->head;
    w->head = w->tail = NULL;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    while (j) {
        struct job *next = j->next;
        if (j->done)
            j->done(j->arg, 1);
        free(j);
        j = next;
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
