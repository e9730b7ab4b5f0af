#define _GNU_SOURCE /* pipe2 */
/* flexgw --demo: the demo's config copy and its charger simulators (demo.h). */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"

extern char **environ;

#define WATCH_EVERY_MS 2000 /* how often exited simulators are noticed */
#define STOP_WAIT_MS 3000   /* SIGTERM, then this long before SIGKILL */
#define AUTO_SEED 2024      /* --auto seed of the first station (+1 each) */
#define V2X_SHARE "0.5"     /* --auto EVs offering V2X on a bidirectional station */

/* ---- the config copy ------------------------------------------------------- */

static int mkdir_p(const char *dir)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0750) && errno != EEXIST ? -1 : 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, n = 0, r;
    char *buf = malloc(cap + 1);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int write_all(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
    if (fclose(f))
        rc = -1;
    return rc;
}

/* The demo config's text with ocpp.listen set to listen (NULL: unchanged). */
static char *demo_text(const char *src, const char *listen, size_t *len)
{
    char *text = read_all(src, len);
    if (!text || !listen)
        return text;
    cJSON *j = cJSON_ParseWithLength(text, *len);
    cJSON *ocpp = cJSON_GetObjectItemCaseSensitive(j, "ocpp");
    char *out = NULL;
    if (cJSON_IsObject(ocpp)) {
        cJSON *v = cJSON_CreateString(listen);
        if (v && (cJSON_GetObjectItemCaseSensitive(ocpp, "listen")
                      ? cJSON_ReplaceItemInObjectCaseSensitive(ocpp, "listen", v)
                      : cJSON_AddItemToObject(ocpp, "listen", v)))
            out = cJSON_Print(j);
        else
            cJSON_Delete(v);
    }
    cJSON_Delete(j);
    free(text);
    if (!out) {
        errno = EINVAL;
        return NULL;
    }
    *len = strlen(out);
    return out;
}

int fg_demo_prepare(const char *data_dir_opt, const char *ocpp_listen, char *config_out,
                    size_t n, char *data_out, size_t dn)
{
    static const char *const candidates[] = {FG_SOURCE_CONF_DIR "/demo.json",
                                             FG_INSTALL_CONF_DIR "/demo.json"};
    const char *src = NULL;
    for (size_t i = 0; i < 2 && !src; i++) {
        if (access(candidates[i], R_OK) == 0)
            src = candidates[i];
    }
    if (!src) {
        fprintf(stderr, "flexgw: demo.json not found in %s or %s\n", FG_SOURCE_CONF_DIR,
                FG_INSTALL_CONF_DIR);
        return 1;
    }
    struct fg_config c;
    struct fg_errlist errs;
    fg_config_defaults(&c);
    fg_errlist_init(&errs);
    int rc = fg_config_load(src, &c, &errs);
    snprintf(data_out, dn, "%s", data_dir_opt ? data_dir_opt : c.storage.path);
    fg_config_clear(&c);
    fg_errlist_clear(&errs);
    if (rc) {
        fprintf(stderr, "flexgw: %s is not valid; run flexgw --check-config %s\n", src,
                src);
        return 2;
    }
    if (mkdir_p(data_out)) {
        fprintf(stderr, "flexgw: cannot create %s: %s\n", data_out, strerror(errno));
        return 1;
    }
    if (snprintf(config_out, n, "%s/demo.json", data_out) >= (int)n) {
        fprintf(stderr, "flexgw: data directory path too long\n");
        return 2;
    }
    size_t len = 0;
    char *text = demo_text(src, ocpp_listen, &len);
    if (!text || write_all(config_out, text, len)) {
        fprintf(stderr, "flexgw: cannot copy %s to %s: %s\n", src, config_out,
                strerror(errno));
        free(text);
        return 1;
    }
    free(text);
    return 0;
}

/* ---- the charger simulators -------------------------------------------------- */

struct demo_station {
    char id[FG_ID_MAX];
    int n_evses; /* the highest evse_id */
    double rated_w;
    int phases;
    double voltage;
    bool v2x; /* a bidirectional EVSE: OCPP 2.1 */
    pid_t pid;
    int stdin_w; /* our end of its stdin pipe, -1 when closed */
};

struct fg_demo {
    struct fg_timer watch;
    bool watching;
    size_t n;
    struct demo_station *st;
};

static bool executable(const char *path)
{
    struct stat sb;
    return path && path[0] && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
           access(path, X_OK) == 0;
}

/* Where ocpp_sim is; false with the places looked in `tried`. */
static bool find_sim(char *out, size_t n, char *tried, size_t tn)
{
    const char *env = getenv("FLEXGW_OCPP_SIM");
    tried[0] = '\0';
    if (env && env[0]) {
        if (executable(env)) {
            snprintf(out, n, "%s", env);
            return true;
        }
        fg_warn("demo", "FLEXGW_OCPP_SIM=%s is not an executable file", env);
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        exe[len] = '\0';
        /* build/gateway/flexgw -> build/tests/sim/ocpp_sim */
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/../tests/sim/ocpp_sim", dirname(exe));
        char real[PATH_MAX];
        if (realpath(path, real) && executable(real)) {
            snprintf(out, n, "%s", real);
            return true;
        }
        snprintf(tried, tn, "%s, ", path);
    }
    size_t used = strlen(tried);
    snprintf(tried + used, tn - used, "%s", FG_INSTALL_LIBEXEC_DIR "/ocpp_sim");
    if (executable(FG_INSTALL_LIBEXEC_DIR "/ocpp_sim")) {
        snprintf(out, n, "%s", FG_INSTALL_LIBEXEC_DIR "/ocpp_sim");
        return true;
    }
    return false;
}

/* The OCPP EVSE assets of cfg, by station. */
static int collect_stations(struct fg_demo *d, const struct fg_config *cfg)
{
    for (size_t i = 0; i < cfg->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &cfg->site.assets[i];
        if (a->kind != FG_ASSET_EVSE || strcmp(a->adapter, "ocpp"))
            continue;
        const char *id = a->station[0] ? a->station : a->id;
        struct demo_station *s = NULL;
        for (size_t k = 0; k < d->n && !s; k++) {
            if (!strcmp(d->st[k].id, id))
                s = &d->st[k];
        }
        if (!s) {
            struct demo_station *v = realloc(d->st, (d->n + 1) * sizeof(*v));
            if (!v)
                return FG_ENOMEM;
            d->st = v;
            s = &d->st[d->n++];
            memset(s, 0, sizeof(*s));
            snprintf(s->id, sizeof(s->id), "%s", id);
            s->stdin_w = -1;
        }
        int evse = a->evse_id > 0 ? a->evse_id : 1;
        if (evse > s->n_evses)
            s->n_evses = evse;
        if (a->rated_w > s->rated_w)
            s->rated_w = a->rated_w;
        if (a->phases > 0)
            s->phases = a->phases;
        if (a->voltage > 0)
            s->voltage = a->voltage;
        s->v2x |= a->bidirectional;
    }
    return 0;
}

/* The host to connect to for a listen address: loopback for a wildcard. */
static const char *connect_host(const struct fg_hostport *hp)
{
    if (!hp->host[0] || !strcmp(hp->host, "0.0.0.0") || !strcmp(hp->host, "*"))
        return "127.0.0.1";
    if (!strcmp(hp->host, "::"))
        return "[::1]";
    return hp->host;
}

static int spawn_station(struct demo_station *s, size_t index, const char *sim,
                         const char *url, double speed)
{
    char evses[16], rated[32], phases[16], voltage[32], seed[32], spd[32], meter[32];
    snprintf(evses, sizeof(evses), "%d", s->n_evses > 8 ? 8 : s->n_evses);
    snprintf(rated, sizeof(rated), "%.0f", s->rated_w > 0 ? s->rated_w : 11000);
    snprintf(phases, sizeof(phases), "%d", s->phases == 1 ? 1 : 3);
    snprintf(voltage, sizeof(voltage), "%.1f", s->voltage > 0 ? s->voltage : 230);
    snprintf(seed, sizeof(seed), "%zu", AUTO_SEED + index);
    snprintf(spd, sizeof(spd), "%g", speed);
    /* meter values about every simulated minute, 1..10 s apart in real time */
    snprintf(meter, sizeof(meter), "%.1f", fmin(10, fmax(1, round(600 / speed) / 10)));
    const char *proto = s->v2x ? "ocpp2.1" : "ocpp2.0.1";
    const char *argv[40];
    int k = 0;
    argv[k++] = sim;
    argv[k++] = "--url";
    argv[k++] = url;
    argv[k++] = "--id";
    argv[k++] = s->id;
    argv[k++] = "--evses";
    argv[k++] = evses;
    argv[k++] = "--protocol";
    argv[k++] = proto;
    argv[k++] = "--rated-w";
    argv[k++] = rated;
    argv[k++] = "--phases";
    argv[k++] = phases;
    argv[k++] = "--voltage";
    argv[k++] = voltage;
    argv[k++] = "--meter-interval";
    argv[k++] = meter;
    argv[k++] = "--auto";
    argv[k++] = seed;
    if (s->v2x) {
        argv[k++] = "--auto-v2x";
        argv[k++] = V2X_SHARE;
    }
    argv[k++] = "--speed";
    argv[k++] = spd;
    argv[k++] = "--quiet";
    argv[k++] = "--quit-on-eof";
    argv[k] = NULL;

    int p[2];
    if (pipe2(p, O_CLOEXEC))
        return FG_EIO;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    /* stdin: the pipe (dup2 clears close-on-exec); stdout: its events are
     * not read; stderr: ours, so its errors land in the gateway's log */
    posix_spawn_file_actions_adddup2(&fa, p[0], STDIN_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    /* the gateway blocks SIGTERM/SIGINT/SIGHUP (loop.c) and ignores SIGPIPE:
     * the child starts clean; its own process group, so that a terminal's
     * Ctrl-C reaches the gateway, which then stops it */
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dflt);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawn(&pid, sim, &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[0]);
    if (rc) {
        close(p[1]);
        fg_err("demo", "cannot start %s for station %s: %s", sim, s->id, strerror(rc));
        return FG_EIO;
    }
    s->pid = pid;
    s->stdin_w = p[1];
    fg_info("demo",
            "charger %s: %d EVSE(s) over %s, ocpp_sim pid %d (--auto %s --speed %s)",
            s->id, s->n_evses, proto, (int)pid, seed, spd);
    return 0;
}

static void describe_exit(const struct demo_station *s, int status)
{
    if (WIFEXITED(status))
        fg_warn("demo",
                "charger simulator for %s (pid %d) exited with %d; its EVSEs go "
                "offline",
                s->id, (int)s->pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fg_warn("demo",
                "charger simulator for %s (pid %d) killed by signal %d; its EVSEs "
                "go offline",
                s->id, (int)s->pid, WTERMSIG(status));
}

static void close_stdin(struct demo_station *s)
{
    if (s->stdin_w >= 0)
        close(s->stdin_w);
    s->stdin_w = -1;
}

static void on_watch(struct fg_timer *t)
{
    struct fg_demo *d = t->arg;
    for (size_t i = 0; i < d->n; i++) {
        struct demo_station *s = &d->st[i];
        int status;
        if (s->pid > 0 && waitpid(s->pid, &status, WNOHANG) == s->pid) {
            describe_exit(s, status);
            s->pid = 0;
            close_stdin(s);
        }
    }
    fg_timer_start(&d->watch, WATCH_EVERY_MS);
}

int fg_demo_start(struct fg_demo **out, const struct fg_config *cfg, struct fg_loop *loop,
                  double speed)
{
    struct fg_demo *d = calloc(1, sizeof(*d));
    if (!d)
        return FG_ENOMEM;
    *out = d;
    if (!cfg->ocpp.enabled)
        return 0;
    int rc = collect_stations(d, cfg);
    if (rc || !d->n)
        return rc;
    char sim[PATH_MAX], tried[2 * PATH_MAX + 64];
    if (!find_sim(sim, sizeof(sim), tried, sizeof(tried))) {
        fg_warn("demo",
                "charger simulator ocpp_sim not found (looked in %s; or set "
                "FLEXGW_OCPP_SIM): the demo's %zu OCPP charging station(s) will not "
                "connect and their EVSEs stay offline. Build it: cmake --build build "
                "--target ocpp_sim (make demo builds it)",
                tried, d->n);
        return 0;
    }
    char url[FG_CFG_HOST_MAX + 32];
    snprintf(url, sizeof(url), "ws://%s:%u/ocpp", connect_host(&cfg->ocpp.listen),
             cfg->ocpp.listen.port);
    for (size_t i = 0; i < d->n; i++)
        spawn_station(&d->st[i], i, sim, url, speed); /* a failure is logged */
    fg_timer_init(&d->watch, loop, on_watch, d);
    fg_timer_start(&d->watch, WATCH_EVERY_MS);
    d->watching = true;
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

void fg_demo_stop(struct fg_demo *d)
{
    if (!d)
        return;
    if (d->watching)
        fg_timer_stop(&d->watch);
    size_t left = 0;
    for (size_t i = 0; i < d->n; i++) {
        struct demo_station *s = &d->st[i];
        close_stdin(s); /* --quit-on-eof: this alone stops it */
        if (s->pid > 0) {
            kill(s->pid, SIGTERM);
            left++;
        }
    }
    for (int waited = 0; left && waited < STOP_WAIT_MS; waited += 10) {
        sleep_ms(10);
        for (size_t i = 0; i < d->n; i++) {
            struct demo_station *s = &d->st[i];
            int status;
            if (s->pid > 0 && waitpid(s->pid, &status, WNOHANG) == s->pid) {
                if (!WIFEXITED(status) || WEXITSTATUS(status))
                    describe_exit(s, status);
                s->pid = 0;
                left--;
            }
        }
    }
    for (size_t i = 0; i < d->n; i++) {
        struct demo_station *s = &d->st[i];
        if (s->pid <= 0)
            continue;
        fg_warn("demo",
                "charger simulator for %s (pid %d) did not stop in %d ms: "
                "SIGKILL",
                s->id, (int)s->pid, STOP_WAIT_MS);
        kill(s->pid, SIGKILL);
        while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        s->pid = 0;
    }
    free(d->st);
    free(d);
}
