#define _GNU_SOURCE /* pipe2 */
/* flexgw --demo: the demo's config copy and its device simulators (demo.h). */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"

extern char **environ;

#define WATCH_EVERY_MS 2000 /* how often exited simulators are noticed */
#define LISTEN_WAIT_MS 3000 /* for a battery simulator to listen */
#define BATTERY_SOC "55"    /* the demo battery's SoC at start, % */
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

/* ocpp.listen set to listen (NULL: unchanged); -1 if the file has no ocpp
 * object to put it in. */
static int set_ocpp_listen(cJSON *j, const char *listen)
{
    cJSON *ocpp = cJSON_GetObjectItemCaseSensitive(j, "ocpp");
    if (!listen)
        return 0;
    if (!cJSON_IsObject(ocpp))
        return -1;
    cJSON *v = cJSON_CreateString(listen);
    if (v && (cJSON_GetObjectItemCaseSensitive(ocpp, "listen")
                  ? cJSON_ReplaceItemInObjectCaseSensitive(ocpp, "listen", v)
                  : cJSON_AddItemToObject(ocpp, "listen", v)))
        return 0;
    cJSON_Delete(v);
    return -1;
}

/* A TCP port on 127.0.0.1 that nothing listens on now, 0 if none. The
 * battery simulator binds it a moment later; the kernel hands out its
 * ephemeral ports in turn, so another process taking it in between is
 * unlikely. */
static unsigned free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof(a);
    unsigned port = 0;
    if (s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof(a)) &&
        !getsockname(s, (struct sockaddr *)&a, &n))
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

static bool str_is(const cJSON *o, const char *key, const char *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(x) && !strcmp(x->valuestring, v);
}

/* The TCP bus of each Modbus battery gets a free loopback port in the copy:
 * the battery simulator listens there (fg_demo_start), so that demos run
 * side by side as they do with --ocpp-listen. */
static void battery_ports(cJSON *j)
{
    const cJSON *site = cJSON_GetObjectItemCaseSensitive(j, "site");
    const cJSON *assets = cJSON_GetObjectItemCaseSensitive(site, "assets");
    const cJSON *modbus = cJSON_GetObjectItemCaseSensitive(j, "modbus");
    cJSON *buses = cJSON_GetObjectItemCaseSensitive(modbus, "buses");
    const cJSON *a;
    cJSON_ArrayForEach(a, assets)
    {
        const cJSON *mb = cJSON_GetObjectItemCaseSensitive(a, "modbus");
        const cJSON *bus = cJSON_GetObjectItemCaseSensitive(mb, "bus");
        if (!str_is(a, "kind", "battery") || !str_is(a, "adapter", "modbus") ||
            !cJSON_IsString(bus))
            continue;
        cJSON *b;
        cJSON_ArrayForEach(b, buses)
        {
            unsigned port;
            char hp[32];
            if (!str_is(b, "id", bus->valuestring) ||
                !cJSON_GetObjectItemCaseSensitive(b, "tcp") || !(port = free_port()))
                continue;
            snprintf(hp, sizeof(hp), "127.0.0.1:%u", port);
            cJSON *v = cJSON_CreateString(hp);
            if (v && !cJSON_ReplaceItemInObjectCaseSensitive(b, "tcp", v))
                cJSON_Delete(v);
        }
    }
}

/* The demo config's text with ocpp.listen set to listen (NULL: unchanged)
 * and a free port for each simulated battery's bus. */
static char *demo_text(const char *src, const char *listen, size_t *len)
{
    char *text = read_all(src, len);
    if (!text)
        return NULL;
    cJSON *j = cJSON_ParseWithLength(text, *len);
    free(text);
    char *out = NULL;
    if (j && !set_ocpp_listen(j, listen)) {
        battery_ports(j);
        out = cJSON_Print(j);
    }
    cJSON_Delete(j);
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

/* ---- the simulator processes ------------------------------------------------ */

/* One simulator child. */
struct demo_child {
    char what[FG_ID_MAX + 32]; /* "charger simulator for CP1", for the log */
    const char *effect;        /* what its end means: "its EVSEs go offline" */
    pid_t pid;
    int stdin_w; /* our end of its stdin pipe, -1 when closed */
};

struct demo_station {
    char id[FG_ID_MAX];
    int n_evses; /* the highest evse_id */
    double rated_w;
    int phases;
    double voltage;
    bool v2x; /* a bidirectional EVSE: OCPP 2.1 */
    struct demo_child c;
};

struct fg_demo {
    struct fg_timer watch;
    bool watching;
    size_t n;
    struct demo_station *st;
    size_t nb;
    struct demo_child *bat; /* one battery_sim per Modbus battery */
};

static size_t n_children(const struct fg_demo *d)
{
    return d->n + d->nb;
}

static struct demo_child *child(struct fg_demo *d, size_t i)
{
    return i < d->n ? &d->st[i].c : &d->bat[i - d->n];
}

static bool executable(const char *path)
{
    struct stat sb;
    return path && path[0] && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
           access(path, X_OK) == 0;
}

/* Where the simulator `name` is: $env, the build tree, the install dir;
 * false with the places looked in `tried`. */
static bool find_sim(const char *name, const char *env_name, char *out, size_t n,
                     char *tried, size_t tn)
{
    const char *env = getenv(env_name);
    tried[0] = '\0';
    if (env && env[0]) {
        if (executable(env)) {
            snprintf(out, n, "%s", env);
            return true;
        }
        fg_warn("demo", "%s=%s is not an executable file", env_name, env);
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        exe[len] = '\0';
        /* build/gateway/flexgw -> build/tests/sim/<name> */
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/../tests/sim/%s", dirname(exe), name);
        char real[PATH_MAX];
        if (realpath(path, real) && executable(real)) {
            snprintf(out, n, "%s", real);
            return true;
        }
        snprintf(tried, tn, "%s, ", path);
    }
    char inst[PATH_MAX];
    snprintf(inst, sizeof(inst), "%s/%s", FG_INSTALL_LIBEXEC_DIR, name);
    size_t used = strlen(tried);
    snprintf(tried + used, tn - used, "%s", inst);
    if (executable(inst)) {
        snprintf(out, n, "%s", inst);
        return true;
    }
    return false;
}

/* Start path with argv: stdin a pipe only we hold, stdout discarded. 0, or
 * FG_EIO (logged). */
static int spawn_child(struct demo_child *c, const char *path, const char *const *argv)
{
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
    int rc = posix_spawn(&pid, path, &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[0]);
    if (rc) {
        close(p[1]);
        fg_err("demo", "cannot start %s (%s): %s", path, c->what, strerror(rc));
        return FG_EIO;
    }
    c->pid = pid;
    c->stdin_w = p[1];
    return 0;
}

static void describe_exit(const struct demo_child *c, int status)
{
    if (WIFEXITED(status))
        fg_warn("demo", "%s (pid %d) exited with %d; %s", c->what, (int)c->pid,
                WEXITSTATUS(status), c->effect);
    else if (WIFSIGNALED(status))
        fg_warn("demo", "%s (pid %d) killed by signal %d; %s", c->what, (int)c->pid,
                WTERMSIG(status), c->effect);
}

static void close_stdin(struct demo_child *c)
{
    if (c->stdin_w >= 0)
        close(c->stdin_w);
    c->stdin_w = -1;
}

/* ---- the charger simulators -------------------------------------------------- */

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
            snprintf(s->c.what, sizeof(s->c.what), "charger simulator for %s", id);
            s->c.effect = "its EVSEs go offline";
            s->c.stdin_w = -1;
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
    if (spawn_child(&s->c, sim, argv))
        return FG_EIO;
    fg_info("demo",
            "charger %s: %d EVSE(s) over %s, ocpp_sim pid %d (--auto %s --speed %s)",
            s->id, s->n_evses, proto, (int)s->c.pid, seed, spd);
    return 0;
}

static int start_chargers(struct fg_demo *d, const struct fg_config *cfg, double speed)
{
    int rc = collect_stations(d, cfg);
    if (rc || !d->n)
        return rc;
    char sim[PATH_MAX], tried[2 * PATH_MAX + 64];
    if (!find_sim("ocpp_sim", "FLEXGW_OCPP_SIM", sim, sizeof(sim), tried,
                  sizeof(tried))) {
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
    return 0;
}

/* ---- the battery simulators -------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

/* Wait until something accepts on 127.0.0.1:port, so that the adapter's
 * first poll finds the battery rather than logging it offline. False after
 * LISTEN_WAIT_MS or when the child has gone. */
static bool wait_listening(struct demo_child *c, unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int waited = 0; waited < LISTEN_WAIT_MS; waited += 10) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = s >= 0 && !connect(s, (struct sockaddr *)&a, sizeof(a));
        if (s >= 0)
            close(s);
        if (ok)
            return true;
        int status;
        if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
            describe_exit(c, status);
            c->pid = 0;
            close_stdin(c);
            return false;
        }
        sleep_ms(10);
    }
    fg_warn("demo", "%s (pid %d) does not listen on 127.0.0.1:%u after %d ms", c->what,
            (int)c->pid, port, LISTEN_WAIT_MS);
    return false;
}

/* One battery_sim for a Modbus battery: its ratings from the asset, its
 * clock at the demo's speed; its revert timer on real time (--revert-real),
 * since the adapter renews set-points on real time. */
static void spawn_battery(struct demo_child *c, const struct fg_cfg_asset *a,
                          const struct fg_cfg_modbus_bus *b, const char *sim,
                          double speed)
{
    char port[16], unit[16], cap[32], cha[32], dis[32], spd[32];
    snprintf(port, sizeof(port), "%u", b->tcp_addr.port);
    snprintf(unit, sizeof(unit), "%d", a->modbus.unit_id);
    snprintf(cap, sizeof(cap), "%.0f", a->capacity_wh);
    snprintf(cha, sizeof(cha), "%.0f", a->max_charge_w);
    snprintf(dis, sizeof(dis), "%.0f", a->max_discharge_w);
    snprintf(spd, sizeof(spd), "%g", speed);
    const char *argv[] = {sim,
                          "--port",
                          port,
                          "--unit",
                          unit,
                          "--capacity-wh",
                          cap,
                          "--max-charge-w",
                          cha,
                          "--max-discharge-w",
                          dis,
                          "--soc",
                          BATTERY_SOC,
                          "--speed",
                          spd,
                          "--revert-real",
                          "--quit-on-eof",
                          NULL};
    snprintf(c->what, sizeof(c->what), "battery simulator for %s", a->id);
    c->effect = "the battery goes offline";
    c->stdin_w = -1;
    if (spawn_child(c, sim, argv))
        return;
    fg_info("demo",
            "battery %s: battery_sim pid %d on 127.0.0.1:%s, unit %s (--speed %s)", a->id,
            (int)c->pid, port, unit, spd);
    wait_listening(c, b->tcp_addr.port);
}

static const struct fg_cfg_modbus_bus *bus_of(const struct fg_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->modbus.n_buses; i++)
        if (!strcmp(cfg->modbus.buses[i].id, id))
            return &cfg->modbus.buses[i];
    return NULL;
}

/* A Modbus battery the demo simulates: on a TCP bus to loopback (battery_sim
 * listens on 127.0.0.1 only), the only battery on that bus. */
static const struct fg_cfg_modbus_bus *sim_bus(const struct fg_config *cfg,
                                               const struct fg_cfg_asset *a, bool warn)
{
    if (a->kind != FG_ASSET_BATTERY || strcmp(a->adapter, "modbus"))
        return NULL;
    const struct fg_cfg_modbus_bus *b = bus_of(cfg, a->modbus.bus);
    if (!b || b->has_rtu || strcmp(b->tcp_addr.host, "127.0.0.1"))
        return NULL;
    for (size_t i = 0; i < cfg->site.n_assets && &cfg->site.assets[i] != a; i++) {
        const struct fg_cfg_asset *o = &cfg->site.assets[i];
        if (!strcmp(o->adapter, "modbus") && !strcmp(o->modbus.bus, a->modbus.bus)) {
            if (warn)
                fg_warn("demo", "%s shares bus %s with %s: not simulated", a->id, b->id,
                        o->id);
            return NULL;
        }
    }
    return b;
}

static int start_batteries(struct fg_demo *d, const struct fg_config *cfg, double speed)
{
    size_t want = 0;
    for (size_t i = 0; i < cfg->site.n_assets; i++)
        want += sim_bus(cfg, &cfg->site.assets[i], false) != NULL;
    if (!want)
        return 0;
    char sim[PATH_MAX], tried[2 * PATH_MAX + 64];
    if (!find_sim("battery_sim", "FLEXGW_BATTERY_SIM", sim, sizeof(sim), tried,
                  sizeof(tried))) {
        fg_warn(
            "demo",
            "battery simulator battery_sim not found (looked in %s; or set "
            "FLEXGW_BATTERY_SIM): the demo's %zu Modbus battery(ies) stay offline. "
            "Build it: cmake --build build --target battery_sim (make demo builds it)",
            tried, want);
        return 0;
    }
    d->bat = calloc(want, sizeof(*d->bat));
    if (!d->bat)
        return FG_ENOMEM;
    for (size_t i = 0; i < cfg->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &cfg->site.assets[i];
        const struct fg_cfg_modbus_bus *b = sim_bus(cfg, a, true);
        if (b && d->nb < want)
            spawn_battery(&d->bat[d->nb++], a, b, sim, speed); /* failures logged */
    }
    return 0;
}

/* ---- start, watch, stop ------------------------------------------------------ */

static void on_watch(struct fg_timer *t)
{
    struct fg_demo *d = t->arg;
    for (size_t i = 0; i < n_children(d); i++) {
        struct demo_child *c = child(d, i);
        int status;
        if (c->pid > 0 && waitpid(c->pid, &status, WNOHANG) == c->pid) {
            describe_exit(c, status);
            c->pid = 0;
            close_stdin(c);
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
    int rc = 0;
    if (cfg->ocpp.enabled)
        rc = start_chargers(d, cfg, speed);
    if (!rc && cfg->modbus.enabled)
        rc = start_batteries(d, cfg, speed);
    if (rc || !n_children(d))
        return rc;
    fg_timer_init(&d->watch, loop, on_watch, d);
    fg_timer_start(&d->watch, WATCH_EVERY_MS);
    d->watching = true;
    return 0;
}

void fg_demo_stop(struct fg_demo *d)
{
    if (!d)
        return;
    if (d->watching)
        fg_timer_stop(&d->watch);
    size_t left = 0, n = n_children(d);
    for (size_t i = 0; i < n; i++) {
        struct demo_child *c = child(d, i);
        close_stdin(c); /* --quit-on-eof: this alone stops it */
        if (c->pid > 0) {
            kill(c->pid, SIGTERM);
            left++;
        }
    }
    for (int waited = 0; left && waited < STOP_WAIT_MS; waited += 10) {
        sleep_ms(10);
        for (size_t i = 0; i < n; i++) {
            struct demo_child *c = child(d, i);
            int status;
            if (c->pid > 0 && waitpid(c->pid, &status, WNOHANG) == c->pid) {
                if (!WIFEXITED(status) || WEXITSTATUS(status))
                    describe_exit(c, status);
                c->pid = 0;
                left--;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct demo_child *c = child(d, i);
        if (c->pid <= 0)
            continue;
        fg_warn("demo", "%s (pid %d) did not stop in %d ms: SIGKILL", c->what,
                (int)c->pid, STOP_WAIT_MS);
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->pid = 0;
    }
    free(d->st);
    free(d->bat);
    free(d);
}
