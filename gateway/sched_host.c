/* The scheduler host (sched_host.h): loader, built-ins, the worker process
 * and the host's side of the conversation with it. */
#define _GNU_SOURCE 1 /* sigabbrev_np */
#include "sched_host.h"
#include "planner.h"
#include "realtime.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sched_wire.h"

#define WORKER_FD 3
#define START_TIMEOUT_MS 5000 /* load + create() */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define REAP_GRACE_MS 500 /* a worker that closed its socket gets this to exit */

extern char **environ;

/* The version 1 table ends with destroy: a plugin's table is at least this. */
#define PLUGIN_V1_SIZE                                                                   \
    (offsetof(struct fg_sched_plugin, destroy) +                                         \
     sizeof(((struct fg_sched_plugin *)0)->destroy))

/* ---- built-in schedulers --------------------------------------------------- */

/* The built-in schedulers: gateway/sched/realtime.c ("realtime"). */

static const struct {
    const char *name;
    const struct fg_sched_plugin *(*get)(void); /* NULL: no scheduler */
} builtins[] = {
    {"none", NULL},
    {"realtime", fg_sched_realtime_plugin},
    {"planner", fg_sched_planner_plugin},
};

bool fg_sched_is_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (!strcmp(builtins[i].name, name))
            return true;
    return false;
}

const struct fg_sched_plugin *fg_sched_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (!strcmp(builtins[i].name, name))
            return builtins[i].get ? builtins[i].get() : NULL;
    return NULL;
}

/* ---- the loader ------------------------------------------------------------- */

static int check_table(const char *file, const struct fg_sched_plugin *p,
                       struct fg_error *err)
{
    if (!p)
        return fg_error_set(err, FG_EINVAL, file, "%s: %s() returned no table", file,
                            FG_SCHED_ENTRY);
    if (p->abi != FG_SCHED_ABI_VERSION)
        return fg_error_set(err, FG_EUNSUPPORTED, file,
                            "%s: scheduler ABI version %u, this flexgw speaks version %u",
                            file, p->abi, FG_SCHED_ABI_VERSION);
    if (p->size < PLUGIN_V1_SIZE)
        return fg_error_set(err, FG_EUNSUPPORTED, file,
                            "%s: plugin table of %u bytes, version 1 needs at least %zu",
                            file, p->size, (size_t)PLUGIN_V1_SIZE);
    if (!p->create)
        return fg_error_set(err, FG_EINVAL, file, "%s: the table has no create()", file);
    return 0;
}

int fg_sched_load(const char *plugin, struct fg_sched_lib *out, struct fg_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!strchr(plugin, '/')) {
        if (!fg_sched_is_builtin(plugin))
            return fg_error_set(err, FG_ENOTFOUND, plugin,
                                "\"%s\" is not a built-in scheduler", plugin);
        out->p = fg_sched_builtin(plugin);
        return 0;
    }
    struct stat st;
    if (stat(plugin, &st))
        return fg_error_set(err, FG_ENOTFOUND, plugin, "%s: %s", plugin, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fg_error_set(err, FG_EINVAL, plugin, "%s: not a regular file", plugin);
    dlerror();
    void *dl = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        return fg_error_set(err, FG_EINVAL, plugin,
                            "%s: not a loadable shared object: %s", plugin,
                            e ? e : "unknown error");
    }
    dlerror();
    fg_sched_entry_fn entry;
    *(void **)&entry = dlsym(dl, FG_SCHED_ENTRY);
    if (!entry) {
        const char *e = dlerror();
        fg_error_set(err, FG_ENOTFOUND, plugin, "%s: no symbol %s (%s)", plugin,
                     FG_SCHED_ENTRY, e ? e : "NULL");
        dlclose(dl);
        return FG_ENOTFOUND;
    }
    const struct fg_sched_plugin *p = entry();
    int rc = check_table(plugin, p, err);
    if (rc) {
        dlclose(dl);
        return rc;
    }
    out->dl = dl;
    out->p = p;
    return 0;
}

void fg_sched_unload(struct fg_sched_lib *l)
{
    if (l->dl)
        dlclose(l->dl);
    memset(l, 0, sizeof(*l));
}

/* ---- the worker process ------------------------------------------------------ */

struct wctx {
    int fd;
    const char *name;
    int64_t view_now;     /* the gateway clock at the last request */
    int64_t view_mono_ms; /* when it came */
    int broken;           /* the connection failed during a call */
};

static void w_log(void *ctx, int level, const char *msg)
{
    struct wctx *c = ctx;
    if (level < FG_LOG_ERROR)
        level = FG_LOG_ERROR;
    if (level > FG_LOG_DEBUG)
        level = FG_LOG_DEBUG;
    fg_log((enum fg_log_level)level, c->name, "%.1000s", msg ? msg : "(null)");
}

static int64_t w_now(void *ctx)
{
    struct wctx *c = ctx;
    return c->view_now + (fg_mono_ms() - c->view_mono_ms) / 1000;
}

/* A question to the host; 0 when the connection fails (the call's answer
 * will not get through either). */
static double w_wear(void *ctx, const char *asset_id, double dod, double crate,
                     double temp_c)
{
    struct wctx *c = ctx;
    char id[FG_SCHED_ID_MAX] = {0};
    struct fg_sched_wbuf w;
    if (c->broken || !asset_id)
        return 0;
    snprintf(id, sizeof(id), "%s", asset_id);
    fg_sched_wbuf_init(&w);
    fg_sched_put(&w, id, sizeof(id));
    fg_sched_put_f64(&w, dod);
    fg_sched_put_f64(&w, crate);
    fg_sched_put_f64(&w, temp_c);
    int rc = w.err ? w.err : fg_sched_frame_write(c->fd, FG_SCHED_MSG_WEAR_Q, w.p, w.len);
    fg_sched_wbuf_clear(&w);
    uint32_t type;
    unsigned char *p = NULL;
    size_t len;
    struct fg_error e = {0};
    double v = 0;
    if (!rc)
        rc = fg_sched_frame_read(c->fd, -1, 64, &type, &p, &len, &e);
    if (!rc && (type != FG_SCHED_MSG_WEAR_A || len != sizeof(double)))
        rc = FG_EPARSE;
    if (rc)
        c->broken = 1;
    else
        memcpy(&v, p, sizeof(v));
    free(p);
    return v;
}

static int send_str(int fd, uint32_t type, const char *s)
{
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_put_str(&w, s);
    int rc = w.err ? w.err : fg_sched_frame_write(fd, type, w.p, w.len);
    fg_sched_wbuf_clear(&w);
    return rc;
}

static int serve_realtime(struct wctx *c, const struct fg_sched_plugin *p, void *inst,
                          const unsigned char *msg, size_t len)
{
    struct fg_sched_rbuf r;
    struct fg_sched_wire_view wv;
    struct fg_error e = {0};
    uint32_t cap = 0;
    fg_sched_rbuf_init(&r, msg, len >= 4 ? len - 4 : 0);
    if (len >= 4)
        memcpy(&cap, msg + len - 4, 4);
    int rc = fg_sched_view_decode(&r, &wv, &e);
    if (cap > FG_SCHED_SP_MAX)
        cap = FG_SCHED_SP_MAX;
    struct fg_sched_setpoints out = {.cap = cap,
                                     .sp = calloc(cap ? cap : 1, sizeof(*out.sp))};
    int32_t prc = -1;
    if (rc) {
        fg_err(c->name, "request not understood: %s: %s", e.path, e.msg);
    } else if (!out.sp) {
        fg_err(c->name, "out of memory");
    } else if (!p->realtime) {
        snprintf(out.note, sizeof(out.note), "this scheduler has no realtime()");
    } else {
        c->view_now = wv.v.now;
        c->view_mono_ms = fg_mono_ms();
        prc = p->realtime(inst, &wv.v, &out);
    }
    fg_sched_wire_view_clear(&wv);
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_result_encode(&w, prc, &out);
    rc = w.err ? w.err : fg_sched_frame_write(c->fd, FG_SCHED_MSG_RESULT, w.p, w.len);
    fg_sched_wbuf_clear(&w);
    free(out.sp);
    return rc;
}

static int serve_plan(struct wctx *c, const struct fg_sched_plugin *p, void *inst,
                      const unsigned char *msg, size_t len)
{
    struct fg_sched_rbuf r;
    struct fg_sched_wire_view wv;
    struct fg_error e = {0};
    uint32_t cap = 0, slack_cap = 0;
    fg_sched_rbuf_init(&r, msg, len >= 8 ? len - 8 : 0);
    if (len >= 8) {
        memcpy(&cap, msg + len - 8, 4);
        memcpy(&slack_cap, msg + len - 4, 4);
    }
    int rc = fg_sched_view_decode(&r, &wv, &e);
    if (cap > FG_SCHED_SERIES_MAX)
        cap = FG_SCHED_SERIES_MAX;
    if (slack_cap > FG_SCHED_SLACK_MAX)
        slack_cap = FG_SCHED_SLACK_MAX;
    struct fg_sched_plan out = {.cap_isp = cap, .slack_cap = slack_cap};
    int32_t prc = -1;
    if (!rc) {
        out.n_assets = wv.v.n_assets;
        out.w = calloc((size_t)out.n_assets * cap + 1, sizeof(double));
        out.slack = calloc(slack_cap + 1, sizeof(*out.slack));
    }
    if (rc) {
        fg_err(c->name, "request not understood: %s: %s", e.path, e.msg);
    } else if (!out.w || !out.slack) {
        fg_err(c->name, "out of memory");
    } else if (!p->plan) {
        fg_err(c->name, "this scheduler has no plan()");
    } else {
        c->view_now = wv.v.now;
        c->view_mono_ms = fg_mono_ms();
        prc = p->plan(inst, &wv.v, &out);
        if (!prc && (out.n_isp > cap || out.n_slack > slack_cap)) {
            fg_err(c->name, "plan() claims %u ISPs and %u slack, room for %u and %u",
                   out.n_isp, out.n_slack, cap, slack_cap);
            prc = -1;
        }
        out.n_assets = wv.v.n_assets; /* the rows are the view's */
    }
    fg_sched_wire_view_clear(&wv);
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_plan_result_encode(&w, prc, &out);
    rc =
        w.err ? w.err : fg_sched_frame_write(c->fd, FG_SCHED_MSG_PLAN_RESULT, w.p, w.len);
    fg_sched_wbuf_clear(&w);
    free(out.w);
    free(out.slack);
    return rc;
}

int fg_sched_worker_main(int fd, const char *plugin)
{
    /* Die with the gateway, whatever it died of. (Strictly: with the thread
     * that started us, the scheduler's exchange thread, which lives exactly
     * as long as this worker is wanted.) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 1;
    /* Nothing of the gateway's but the socketpair: descriptors that were not
     * close-on-exec (the database, a socket) are none of a plugin's business. */
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0u, 0);
    signal(SIGPIPE, SIG_IGN);
    struct wctx c = {.fd = fd, .name = "scheduler"};
    uint32_t type;
    unsigned char *msg = NULL;
    size_t len;
    struct fg_error e = {0};
    if (fg_sched_frame_read(fd, -1, FG_SCHED_STR_MAX + 64, &type, &msg, &len, &e) ||
        type != FG_SCHED_MSG_INIT)
        return 1;
    struct fg_sched_rbuf r;
    int32_t level = FG_LOG_INFO;
    char *options = NULL;
    fg_sched_rbuf_init(&r, msg, len);
    fg_sched_get_i32(&r, &level);
    fg_sched_get_str(&r, FG_SCHED_STR_MAX, &options);
    free(msg);
    if (r.err)
        return 1;
    if (level >= FG_LOG_ERROR && level <= FG_LOG_DEBUG)
        fg_log_set_level((enum fg_log_level)level);

    struct fg_sched_lib lib;
    int rc = fg_sched_load(plugin, &lib, &e);
    if (!rc && !lib.p)
        rc = fg_error_set(&e, FG_EINVAL, plugin, "%s: no scheduler to run", plugin);
    if (rc) {
        send_str(fd, FG_SCHED_MSG_FAIL, e.msg);
        free(options);
        return 2;
    }
    c.name = lib.p->name ? lib.p->name : plugin;
    struct fg_sched_host host = {.size = sizeof(host),
                                 .abi = FG_SCHED_ABI_VERSION,
                                 .ctx = &c,
                                 .log = w_log,
                                 .now = w_now,
                                 .wear_cost_per_kwh = w_wear};
    char cerr[256] = "";
    void *inst = lib.p->create(&host, options ? options : "{}", cerr, sizeof(cerr));
    free(options);
    if (!inst) {
        char why[400];
        cerr[sizeof(cerr) - 1] = '\0';
        snprintf(why, sizeof(why), "%s: create() failed: %s", plugin,
                 cerr[0] ? cerr : "(no message)");
        send_str(fd, FG_SCHED_MSG_FAIL, why);
        fg_sched_unload(&lib);
        return 2;
    }
    rc = send_str(fd, FG_SCHED_MSG_READY, c.name);
    while (!rc) {
        rc = fg_sched_frame_read(fd, -1, FG_SCHED_FRAME_MAX, &type, &msg, &len, &e);
        if (rc)
            break;
        if (type == FG_SCHED_MSG_REALTIME)
            rc = serve_realtime(&c, lib.p, inst, msg, len);
        else if (type == FG_SCHED_MSG_PLAN)
            rc = serve_plan(&c, lib.p, inst, msg, len);
        else
            rc = FG_EPARSE;
        free(msg);
        msg = NULL;
        if (c.broken)
            rc = FG_EIO;
    }
    if (lib.p->destroy)
        lib.p->destroy(inst);
    fg_sched_unload(&lib);
    return 0;
}

/* ---- the host's side -------------------------------------------------------- */

const char *fg_sched_outcome_name(enum fg_sched_outcome o)
{
    static const char *const n[] = {"ok",      "failed",   "timeout",
                                    "crashed", "protocol", "down"};
    return (unsigned)o < sizeof(n) / sizeof(n[0]) ? n[o] : "?";
}

void fg_sched_proc_init(struct fg_sched_proc *p, const char *exe, const char *plugin,
                        const char *options_json, int log_level)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->exe, sizeof(p->exe), "%s", exe);
    snprintf(p->plugin, sizeof(p->plugin), "%s", plugin);
    p->options = strdup(options_json ? options_json : "{}");
    p->log_level = log_level;
    p->fd = -1;
    p->cancel_fd = -1;
    p->backoff_ms = BACKOFF_MIN_MS;
    const char *base = strrchr(plugin, '/'); /* until the plugin names itself */
    snprintf(p->name, sizeof(p->name), "%s", base ? base + 1 : plugin);
}

static void describe_status(int st, char *buf, size_t len)
{
    if (WIFSIGNALED(st)) {
        const char *abbr = sigabbrev_np(WTERMSIG(st));
        snprintf(buf, len, "killed by signal SIG%s (%s)", abbr ? abbr : "?",
                 strsignal(WTERMSIG(st)));
    } else if (WIFEXITED(st)) {
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
    } else {
        snprintf(buf, len, "ended (status 0x%x)", (unsigned)st);
    }
}

/* Close, kill if asked (or if it does not exit by itself soon), reap, and
 * schedule the next start. status describes how it ended. */
static void stop_worker(struct fg_sched_proc *p, bool kill_it, char *status, size_t len)
{
    int st = 0;
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    if (p->pid > 0) {
        pid_t r = 0;
        if (!kill_it) {
            int64_t until = fg_mono_ms() + REAP_GRACE_MS;
            while ((r = waitpid(p->pid, &st, WNOHANG)) == 0 && fg_mono_ms() < until)
                usleep(10000);
        }
        if (r == 0) {
            kill(p->pid, SIGKILL);
            while ((r = waitpid(p->pid, &st, 0)) < 0 && errno == EINTR)
                ;
        }
        if (status)
            describe_status(st, status, len);
    } else if (status) {
        snprintf(status, len, "not running");
    }
    p->pid = 0;
    p->restart_at = fg_mono_ms() + p->backoff_ms;
    p->backoff_ms =
        p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
}

void fg_sched_proc_clear(struct fg_sched_proc *p)
{
    if (p->pid > 0)
        stop_worker(p, true, NULL, 0);
    free(p->options);
    p->options = NULL;
}

/* The worker's environment: the gateway's, with sanitizer options (when
 * flexgw is built with them) that let a plugin's crash be the crash it is:
 * the host reports it, a sanitizer's report of it would be a false alarm
 * about flexgw. */
static char **worker_env(void)
{
    static const char extra[] = "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:"
                                "handle_sigill=0:handle_abort=0";
    size_t n = 0;
    while (environ[n])
        n++;
    char **e = calloc(n + 2, sizeof(*e));
    if (!e)
        return NULL;
    const char *old = getenv("ASAN_OPTIONS");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13))
            e[k++] = environ[i];
    char *asan = NULL;
    if (asprintf(&asan, "ASAN_OPTIONS=%s%s%s", old ? old : "", old && *old ? ":" : "",
                 extra) < 0) {
        free(e);
        return NULL;
    }
    e[k++] = asan;
    e[k] = NULL;
    return e;
}

static void free_env(char **e)
{
    if (!e)
        return;
    for (size_t i = 0; e[i]; i++)
        if (!strncmp(e[i], "ASAN_OPTIONS=", 13))
            free(e[i]);
    free(e);
}

static int spawn_worker(struct fg_sched_proc *p, char *why, size_t why_len)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        snprintf(why, why_len, "socketpair: %s", strerror(errno));
        return FG_EIO;
    }
    if (sv[1] == WORKER_FD) { /* dup2 onto itself would keep CLOEXEC */
        int k = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
        close(sv[1]);
        sv[1] = k;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], WORKER_FD);
    posix_spawnattr_init(&at);
    /* The gateway's threads block SIGTERM/INT/HUP (loop.h): the worker
     * starts with nothing blocked and default dispositions. */
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGHUP);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char fdarg[16];
    snprintf(fdarg, sizeof(fdarg), "%d", WORKER_FD);
    char *argv[] = {"flexgw", "--scheduler-worker", fdarg, p->plugin, NULL};
    pid_t pid;
    char **envp = worker_env();
    int rc = envp ? posix_spawn(&pid, p->exe, &fa, &at, argv, envp) : ENOMEM;
    free_env(envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(sv[1]);
    if (rc) {
        close(sv[0]);
        snprintf(why, why_len, "cannot start %s --scheduler-worker: %s", p->exe,
                 strerror(rc));
        return FG_EIO;
    }
    p->pid = pid;
    p->fd = sv[0];
    p->starts++;
    return 0;
}

/* Start the worker and wait for READY. */
static enum fg_sched_outcome start_worker(struct fg_sched_proc *p, char *why,
                                          size_t why_len)
{
    if (fg_mono_ms() < p->restart_at) {
        snprintf(why, why_len, "%s: not running, next start in %.1f s", p->plugin,
                 (double)(p->restart_at - fg_mono_ms()) / 1000.0);
        return FG_SCHED_DOWN;
    }
    if (spawn_worker(p, why, why_len)) {
        p->restart_at = fg_mono_ms() + p->backoff_ms;
        return FG_SCHED_DOWN;
    }
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_put_i32(&w, p->log_level);
    fg_sched_put_str(&w, p->options);
    int rc = w.err ? w.err : fg_sched_frame_write(p->fd, FG_SCHED_MSG_INIT, w.p, w.len);
    fg_sched_wbuf_clear(&w);
    uint32_t type = 0;
    unsigned char *msg = NULL;
    size_t len = 0;
    struct fg_error e = {0};
    if (!rc)
        rc = fg_sched_frame_read_c(p->fd, p->cancel_fd, fg_mono_ms() + START_TIMEOUT_MS,
                                   4096, &type, &msg, &len, &e);
    char *text = NULL;
    if (!rc) {
        struct fg_sched_rbuf r;
        fg_sched_rbuf_init(&r, msg, len);
        fg_sched_get_str(&r, 1024, &text);
    }
    free(msg);
    if (!rc && type == FG_SCHED_MSG_READY && text) {
        snprintf(p->name, sizeof(p->name), "%s", text);
        free(text);
        fg_info("sched", "scheduler \"%s\" (%s) running in worker process %d", p->name,
                p->plugin, (int)p->pid);
        return FG_SCHED_OK;
    }
    char status[128];
    stop_worker(p, rc == FG_ETIMEOUT || rc == FG_ESTATE, status, sizeof(status));
    if (type == FG_SCHED_MSG_FAIL && text)
        snprintf(why, why_len, "%.300s", text);
    else if (rc)
        snprintf(why, why_len, "%s: the worker did not start: %s (%s)", p->plugin, e.msg,
                 status);
    else
        snprintf(why, why_len, "%s: the worker did not start: unexpected message %u",
                 p->plugin, type);
    free(text);
    return FG_SCHED_DOWN;
}

static int answer_wear(struct fg_sched_proc *p, const unsigned char *msg, size_t len,
                       fg_sched_wear_fn wear, void *ctx)
{
    char id[FG_SCHED_ID_MAX];
    double dod, crate, temp, v = 0;
    struct fg_sched_rbuf r;
    fg_sched_rbuf_init(&r, msg, len);
    fg_sched_get(&r, id, sizeof(id));
    fg_sched_get_f64(&r, &dod);
    fg_sched_get_f64(&r, &crate);
    fg_sched_get_f64(&r, &temp);
    if (r.err || r.off != len || !memchr(id, '\0', sizeof(id)))
        return FG_EPARSE;
    if (wear)
        v = wear(ctx, id, dod, crate, temp);
    return fg_sched_frame_write(p->fd, FG_SCHED_MSG_WEAR_A, &v, sizeof(v));
}

/* How the answer of one kind of call decodes: 0, or an error in err; *prc
 * the plugin's return code. */
typedef int (*decode_fn)(void *out, struct fg_sched_rbuf *r, int32_t *prc,
                         struct fg_error *err);

static int decode_setpoints(void *out, struct fg_sched_rbuf *r, int32_t *prc,
                            struct fg_error *err)
{
    return fg_sched_result_decode(r, prc, out, err);
}

static int decode_plan(void *out, struct fg_sched_rbuf *r, int32_t *prc,
                       struct fg_error *err)
{
    return fg_sched_plan_result_decode(r, prc, out, err);
}

/* One call: send type with view + trailer, answer wear questions until the
 * answer of type reply arrives, decode it. */
static enum fg_sched_outcome call(struct fg_sched_proc *p, uint32_t type, uint32_t reply,
                                  const char *fn, const void *view, size_t view_len,
                                  const uint32_t *trailer, size_t n_trailer,
                                  int timeout_ms, size_t max, fg_sched_wear_fn wear,
                                  void *wear_ctx, decode_fn decode, void *out, char *why,
                                  size_t why_len)
{
    enum fg_sched_outcome o;
    why[0] = '\0';
    if (p->pid <= 0 && (o = start_worker(p, why, why_len)) != FG_SCHED_OK)
        return o;
    int64_t deadline = fg_mono_ms() + timeout_ms;
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_put(&w, view, view_len);
    for (size_t i = 0; i < n_trailer; i++)
        fg_sched_put_u32(&w, trailer[i]);
    int rc = w.err ? w.err : fg_sched_frame_write(p->fd, type, w.p, w.len);
    fg_sched_wbuf_clear(&w);
    struct fg_error e = {0};
    while (!rc) {
        uint32_t t;
        unsigned char *msg;
        size_t len;
        rc =
            fg_sched_frame_read_c(p->fd, p->cancel_fd, deadline, max, &t, &msg, &len, &e);
        if (rc)
            break;
        if (t == FG_SCHED_MSG_WEAR_Q) {
            rc = answer_wear(p, msg, len, wear, wear_ctx);
            if (rc)
                fg_error_set(&e, rc, NULL, "a wear-cost question that does not decode");
            free(msg);
            continue;
        }
        if (t != reply) {
            free(msg);
            rc = fg_error_set(&e, FG_EPARSE, NULL, "unexpected message type %u", t);
            break;
        }
        struct fg_sched_rbuf r;
        int32_t prc = 0;
        fg_sched_rbuf_init(&r, msg, len);
        rc = decode(out, &r, &prc, &e);
        free(msg);
        if (rc)
            break;
        p->backoff_ms = BACKOFF_MIN_MS;
        if (prc) {
            snprintf(why, why_len, "%s: %s() returned %d", p->name, fn, prc);
            return FG_SCHED_FAILED;
        }
        return FG_SCHED_OK;
    }
    char status[128];
    if (rc == FG_ETIMEOUT || rc == FG_ESTATE) {
        stop_worker(p, true, status, sizeof(status));
        if (rc == FG_ESTATE) {
            snprintf(why, why_len, "%s: call cancelled (shutdown)", p->name);
            return FG_SCHED_TIMEOUT;
        }
        snprintf(why, why_len, "%s: no answer within %d ms; worker killed (%s)", p->name,
                 timeout_ms, status);
        return FG_SCHED_TIMEOUT;
    }
    if (rc == FG_EIO) {
        stop_worker(p, false, status, sizeof(status));
        snprintf(why, why_len, "%s: the worker process died: %s (%s)", p->name, status,
                 e.msg);
        return FG_SCHED_CRASHED;
    }
    stop_worker(p, true, status, sizeof(status));
    snprintf(why, why_len, "%s: an answer that does not decode: %s%s%s; worker killed",
             p->name, e.path, e.path[0] ? ": " : "", e.msg);
    return FG_SCHED_PROTOCOL;
}

enum fg_sched_outcome fg_sched_proc_realtime(struct fg_sched_proc *p, const void *view,
                                             size_t view_len, int timeout_ms,
                                             fg_sched_wear_fn wear, void *wear_ctx,
                                             struct fg_sched_setpoints *out, char *why,
                                             size_t why_len)
{
    out->n = 0;
    size_t max = 64 + (size_t)out->cap * (FG_SCHED_ID_MAX + 20) + 256;
    enum fg_sched_outcome o =
        call(p, FG_SCHED_MSG_REALTIME, FG_SCHED_MSG_RESULT, "realtime", view, view_len,
             &out->cap, 1, timeout_ms, max, wear, wear_ctx, decode_setpoints, out, why,
             why_len);
    if (o == FG_SCHED_FAILED) {
        size_t l = strlen(why);
        if (out->note[0] && l < why_len)
            snprintf(why + l, why_len - l, ": %.200s", out->note);
        out->n = 0;
    }
    return o;
}

enum fg_sched_outcome fg_sched_proc_plan(struct fg_sched_proc *p, const void *view,
                                         size_t view_len, int timeout_ms,
                                         fg_sched_wear_fn wear, void *wear_ctx,
                                         struct fg_sched_plan *out, char *why,
                                         size_t why_len)
{
    uint32_t caps[2] = {out->cap_isp, out->slack_cap};
    size_t max = fg_sched_plan_result_max(out->n_assets, out->cap_isp, out->slack_cap);
    enum fg_sched_outcome o =
        call(p, FG_SCHED_MSG_PLAN, FG_SCHED_MSG_PLAN_RESULT, "plan", view, view_len, caps,
             2, timeout_ms, max, wear, wear_ctx, decode_plan, out, why, why_len);
    if (o != FG_SCHED_OK)
        out->n_isp = out->n_slack = 0;
    return o;
}
