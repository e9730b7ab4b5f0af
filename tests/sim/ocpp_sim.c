/* ocpp_sim: simulated OCPP 2.0.1 / 2.1 charging stations for tests and demos.
 *
 *   ocpp_sim --url ws://127.0.0.1:9000/ocpp --stations 3 --evses 2
 *
 * This file: the command line, the event loop, stdin commands and stdout
 * events (one JSON object a line each way; README.md lists them), --auto EV
 * arrivals, clock and random helpers.
 *
 * Why stdin and stdout are polled from a 10 ms timer instead of being lws
 * file descriptors: it works the same for pipes, terminals and files, and the
 * writes never block the loop. stdout is made non-blocking when it is a pipe
 * (a test that reads slowly must not stall 1,000 stations); events are
 * buffered (up to 64 MiB, then counted and dropped) until the pipe takes them. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define IO_TICK_MS 10
#define OUT_MAX (64u * 1024 * 1024)
#define IN_LINE_MAX (2u * 1024 * 1024)
#define STATIONS_MAX 100000

static volatile sig_atomic_t got_signal;
static int stdout_flags = -1; /* restored at exit */

/* ---- clock and random ------------------------------------------------------------- */

/* The stations' clock: `speed` times real time from (base_ms at
 * base_mono_ms). It starts at the wall clock and follows the CSMS's
 * currentTime (sim_clock_adopt), as a real station sets its clock from the
 * BootNotification and Heartbeat answers. */
static struct {
    int64_t base_ms, base_mono_ms;
    double speed;
} sim_clock = {0, 0, 1.0};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sim_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sim_clock_init(double speed)
{
    sim_clock.base_ms = wall_ms();
    sim_clock.base_mono_ms = sim_mono_ms();
    sim_clock.speed = speed;
}

int64_t sim_now_ms(void)
{
    if (!sim_clock.base_mono_ms) /* before main() set it up */
        return wall_ms();
    double d = (double)(sim_mono_ms() - sim_clock.base_mono_ms) * sim_clock.speed;
    return sim_clock.base_ms + (int64_t)d;
}

/* currentTime comes in whole seconds (flexgw) or finer: a clock within
 * [csms, csms + 1 s + ADOPT_SLACK_MS] is left alone, so that the answers do
 * not make it jitter; else it jumps to the middle of that second. */
#define ADOPT_SLACK_MS 1000

void sim_clock_adopt(struct sim_station *st, const char *current_time)
{
    int64_t csms;
    if (!current_time[0] || sim_time_parse(current_time, &csms))
        return;
    int64_t now = sim_now_ms();
    if (now >= csms && now <= csms + 1000 + ADOPT_SLACK_MS)
        return;
    sim_clock.base_ms = csms + 500;
    sim_clock.base_mono_ms = sim_mono_ms();
    cJSON *ev = sim_ev_station(st, "clock");
    cJSON_AddStringToObject(ev, "time", current_time);
    cJSON_AddNumberToObject(ev, "offset_ms", (double)(csms + 500 - now));
    sim_ev_emit(st->sim, ev);
}

void sim_time_text(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

int sim_time_parse(const char *s, int64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int n = 0;
    char t;
    if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &t,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 7 ||
        (t != 'T' && t != 't'))
        return FG_EPARSE;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *p = s + n;
    double frac = 0;
    if (*p == '.') {
        char *end;
        frac = strtod(p, &end);
        p = end;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return FG_EPARSE;
        off = (int64_t)(hh * 60 + mm) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return FG_EPARSE;
    }
    if (*p)
        return FG_EPARSE;
    *ms = ((int64_t)timegm(&tm) - off) * 1000 + (int64_t)(frac * 1000);
    return 0;
}

uint64_t sim_rand(struct sim *s)
{
    /* xorshift64* */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545F4914F6CDD1DULL;
}

double sim_rand_range(struct sim *s, double lo, double hi)
{
    return lo + (hi - lo) * (double)(sim_rand(s) >> 11) / 9007199254740992.0;
}

/* ---- events ----------------------------------------------------------------------- */

cJSON *sim_ev_new(struct sim *s, const char *name)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ev", name);
    cJSON_AddNumberToObject(o, "t", (double)(sim_mono_ms() - s->t0_mono_ms));
    return o;
}

cJSON *sim_ev_station(struct sim_station *st, const char *name)
{
    cJSON *o = sim_ev_new(st->sim, name);
    cJSON_AddStringToObject(o, "station", st->id);
    return o;
}

static void flush_out(struct sim *s)
{
    size_t done = 0;
    while (done < s->out.len) {
        ssize_t n = write(STDOUT_FILENO, s->out.s + done, s->out.len - done);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            break;
        } else {
            s->out.len = 0; /* the reader is gone: nothing more to say */
            s->quitting = true;
            return;
        }
    }
    if (done) {
        memmove(s->out.s, s->out.s + done, s->out.len - done);
        s->out.len -= done;
        s->out.s[s->out.len] = '\0';
    }
}

void sim_ev_emit(struct sim *s, cJSON *ev)
{
    char *line = ev ? cJSON_PrintUnformatted(ev) : NULL;
    cJSON_Delete(ev);
    if (!line) {
        s->out_dropped++;
        return;
    }
    size_t n = strlen(line);
    if (s->out.len + n + 1 > OUT_MAX) {
        s->out_dropped++;
    } else {
        fg_buf_append(&s->out, line, n);
        fg_buf_append(&s->out, "\n", 1);
        if (s->out.failed) { /* an allocation failed: start afresh */
            fg_buf_clear(&s->out);
            fg_buf_init(&s->out, OUT_MAX);
            s->out_dropped++;
        }
    }
    free(line);
    flush_out(s);
}

void sim_ev_error(struct sim *s, struct sim_station *st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *ev = st ? sim_ev_station(st, "error") : sim_ev_new(s, "error");
    cJSON_AddStringToObject(ev, "error", msg);
    sim_ev_emit(s, ev);
}

/* ---- stdin commands ------------------------------------------------------------------
 */

struct cmd {
    struct sim *s;
    const cJSON *j;
    const char *name;
    char err[400];
};

static int cmd_fail(struct cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cmd_fail(struct cmd *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return FG_EINVAL;
}

/* A number member in [lo, hi]; integer if asked; dflt when absent (NAN:
 * required). */
static int cmd_num(struct cmd *c, const char *key, double lo, double hi, bool integer,
                   double dflt, double *out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c->j, key);
    if (!x) {
        if (isnan(dflt))
            return cmd_fail(c, "\"%s\" is required", key);
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(x))
        return cmd_fail(c, "\"%s\" must be a number", key);
    double v = x->valuedouble;
    if (!isfinite(v) || v < lo || v > hi || (integer && v != floor(v)))
        return cmd_fail(c, "\"%s\": %g not %s in [%g, %g]", key, v,
                        integer ? "an integer" : "a number", lo, hi);
    *out = v;
    return 0;
}

static int cmd_str(struct cmd *c, const char *key, size_t max, const char *dflt,
                   const char **out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c->j, key);
    if (!x) {
        if (!dflt)
            return cmd_fail(c, "\"%s\" is required", key);
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsString(x))
        return cmd_fail(c, "\"%s\" must be a string", key);
    if (max && strlen(x->valuestring) > max)
        return cmd_fail(c, "\"%s\" longer than %zu characters", key, max);
    *out = x->valuestring;
    return 0;
}

static int cmd_station(struct cmd *c, struct sim_station **out)
{
    const char *id = "";
    int rc = cmd_str(c, "station", 0, NULL, &id);
    if (rc)
        return rc;
    *out = sim_station_find(c->s, id);
    return *out ? 0 : cmd_fail(c, "no station \"%s\"", id);
}

static int c_plug(struct cmd *c)
{
    struct sim_station *st = NULL;
    const struct sim_opts *o = &c->s->o;
    double evse = 1, energy, dep, maxw, soc, cap;
    const char *tok, *type;
    char dflt_tok[SIM_TOKEN_MAX + 1];
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    int rc = cmd_station(c, &st);
    if (!rc)
        rc = cmd_num(c, "evse", 1, SIM_EVSE_MAX, true, 1, &evse);
    if (rc)
        return rc;
    snprintf(dflt_tok, sizeof(dflt_tok), "TOK-%.20s-%d", st->id, (int)evse);
    if (!rc)
        rc = cmd_str(c, "id_token", SIM_TOKEN_MAX, dflt_tok, &tok);
    if (!rc)
        rc = cmd_str(c, "id_token_type", 20, "ISO14443", &type);
    if (!rc)
        rc = cmd_num(c, "energy_wh", 0, 1e7, false, 20000, &energy);
    if (!rc)
        rc = cmd_num(c, "departure_s", 0, 1e7, false, 0, &dep);
    if (!rc)
        rc = cmd_num(c, "ev_max_w", 0, 1e6, false, o->rated_w, &maxw);
    if (!rc)
        rc = cmd_num(c, "soc", 0, 100, false, 30, &soc);
    if (!rc)
        rc = cmd_num(c, "capacity_wh", 1, 1e7, false, 60000, &cap);
    if (rc)
        return rc;
    const cJSON *v2x = cJSON_GetObjectItemCaseSensitive(c->j, "v2x");
    if (v2x && !cJSON_IsBool(v2x))
        return cmd_fail(c, "\"v2x\" must be true or false");
    snprintf(ev.token, sizeof(ev.token), "%s", tok);
    snprintf(ev.token_type, sizeof(ev.token_type), "%s", type);
    ev.need_wh = energy;
    ev.max_w = maxw;
    ev.soc0 = soc;
    ev.capacity_wh = cap;
    ev.departure_ms = dep > 0 ? sim_now_ms() + (int64_t)(dep * 1000) : 0;
    ev.v2x = cJSON_IsTrue(v2x);
    return sim_evse_plug(st, (int)evse, &ev, c->err, sizeof(c->err));
}

static int c_unplug(struct cmd *c)
{
    struct sim_station *st;
    double evse;
    int rc = cmd_station(c, &st);
    if (!rc)
        rc = cmd_num(c, "evse", 1, SIM_EVSE_MAX, true, 1, &evse);
    return rc ? rc : sim_evse_unplug(st, (int)evse, c->err, sizeof(c->err));
}

static int c_disconnect(struct cmd *c)
{
    struct sim_station *st;
    double ms;
    int rc = cmd_station(c, &st);
    if (!rc)
        rc = cmd_num(c, "ms", 0, 3600000, true, c->s->o.reconnect_ms, &ms);
    if (!rc)
        sim_station_drop(st, (int)ms);
    return rc;
}

static int c_storm(struct cmd *c)
{
    double ms;
    int rc = cmd_num(c, "ms", 0, 3600000, true, c->s->o.reconnect_ms, &ms);
    for (size_t i = 0; !rc && i < c->s->n_st; i++)
        sim_station_drop(c->s->st[i], (int)ms);
    return rc;
}

static int c_send(struct cmd *c)
{
    struct sim_station *st;
    const char *frame;
    int rc = cmd_station(c, &st);
    if (!rc)
        rc = cmd_str(c, "frame", SIM_FRAME_MAX, NULL, &frame);
    if (rc)
        return rc;
    rc = sim_write(st, frame, strlen(frame));
    return rc ? cmd_fail(c, "not sent: %s", st->open ? fg_strerror(rc) : "not connected")
              : 0;
}

static const char *const mb_names[] = {
    [SIM_MB_OFF] = "off",   [SIM_MB_MALFORMED] = "malformed", [SIM_MB_DUP_ID] = "dup_id",
    [SIM_MB_SLOW] = "slow", [SIM_MB_SILENT] = "silent",       [SIM_MB_ERROR] = "error",
};

static int c_misbehave(struct cmd *c)
{
    struct sim_station *st;
    const char *mode;
    double ms;
    int rc = cmd_station(c, &st);
    if (!rc)
        rc = cmd_str(c, "mode", 0, NULL, &mode);
    if (!rc)
        rc = cmd_num(c, "ms", 0, 3600000, true, 2000, &ms);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(mb_names) / sizeof(mb_names[0]); i++) {
        if (!strcmp(mode, mb_names[i])) {
            st->mb = (enum sim_misbehave)i;
            st->mb_ms = (int)ms;
            return 0;
        }
    }
    return cmd_fail(c,
                    "\"mode\": \"%s\" is not off, malformed, dup_id, slow, silent "
                    "or error",
                    mode);
}

static int c_status(struct cmd *c)
{
    struct sim_station *st;
    int rc = cmd_station(c, &st);
    if (rc)
        return rc;
    cJSON *ev = sim_ev_station(st, "status");
    cJSON_AddBoolToObject(ev, "connected", st->open);
    cJSON_AddBoolToObject(ev, "booted", st->boot_accepted);
    cJSON_AddNumberToObject(ev, "queued", (double)st->q_len);
    cJSON_AddNumberToObject(ev, "profiles", st->n_prof);
    cJSON *arr = cJSON_AddArrayToObject(ev, "evses");
    for (int i = 1; i <= st->n_evse; i++) {
        const struct sim_evse *e = &st->evse[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "evse", i);
        cJSON_AddStringToObject(o, "status", sim_evse_status(e));
        if (e->txp == SIM_TX_ACTIVE) {
            cJSON_AddStringToObject(o, "tx", e->tx_id);
            cJSON_AddStringToObject(o, "state", e->cstate);
        }
        cJSON_AddNumberToObject(o, "w", round(e->power_w * 10) / 10);
        cJSON_AddNumberToObject(o, "register_wh", round(e->reg_wh * 10) / 10);
        if (isnan(e->limit_w))
            cJSON_AddNullToObject(o, "limit_w");
        else
            cJSON_AddNumberToObject(o, "limit_w", round(e->limit_w * 10) / 10);
        cJSON_AddItemToArray(arr, o);
    }
    sim_ev_emit(c->s, ev);
    return 0;
}

static int c_quit(struct cmd *c)
{
    c->s->quitting = true;
    return 0;
}

/* Sorted by name (bsearch). */
static const struct command {
    const char *name;
    int (*fn)(struct cmd *c);
} commands[] = {
    {"disconnect", c_disconnect},
    {"misbehave", c_misbehave},
    {"plug", c_plug},
    {"quit", c_quit},
    {"send", c_send},
    {"status", c_status},
    {"storm", c_storm},
    {"unplug", c_unplug},
};

static int cmp_command(const void *k, const void *e)
{
    return strcmp(k, ((const struct command *)e)->name);
}

static void run_line(struct sim *s, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (!len)
        return;
    struct cmd c = {.s = s};
    cJSON *j = cJSON_ParseWithLength(line, len);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "cmd");
    const struct command *cm =
        cJSON_IsString(name)
            ? bsearch(name->valuestring, commands, sizeof(commands) / sizeof(commands[0]),
                      sizeof(commands[0]), cmp_command)
            : NULL;
    c.j = j;
    int rc;
    if (!cJSON_IsObject(j))
        rc = cmd_fail(&c, "not a JSON object");
    else if (!cJSON_IsString(name))
        rc = cmd_fail(&c, "\"cmd\" (a string) is required");
    else if (!cm)
        rc = cmd_fail(&c, "unknown command \"%s\"", name->valuestring);
    else
        rc = cm->fn(&c);
    cJSON *ev = sim_ev_new(s, rc ? "error" : "ok");
    if (cJSON_IsString(name))
        cJSON_AddStringToObject(ev, "cmd", name->valuestring);
    if (rc)
        cJSON_AddStringToObject(ev, "error", c.err[0] ? c.err : fg_strerror(rc));
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
    if (seq)
        cJSON_AddItemToObject(ev, "seq", cJSON_Duplicate(seq, 1));
    sim_ev_emit(s, ev);
    cJSON_Delete(j);
}

static void read_stdin(struct sim *s)
{
    for (int rounds = 0; rounds < 16 && !s->in_eof; rounds++) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0)
            return;
        if (s->in_cap - s->in_len < 65536) {
            size_t cap = s->in_cap ? s->in_cap * 2 : 131072;
            char *n = realloc(s->in, cap);
            if (!n)
                return;
            s->in = n;
            s->in_cap = cap;
        }
        ssize_t n = read(STDIN_FILENO, s->in + s->in_len, s->in_cap - s->in_len);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            /* keep running (stop with a signal or "quit"), unless stdin is
             * the parent's pipe: then its end means the parent is gone */
            s->in_eof = true;
            if (s->o.quit_on_eof)
                s->quitting = true;
            return;
        }
        if (n < 0)
            return;
        s->in_len += (size_t)n;
        size_t start = 0;
        for (size_t i = s->in_len - (size_t)n; i < s->in_len; i++) {
            if (s->in[i] != '\n')
                continue;
            if (s->in_overlong)
                s->in_overlong = false;
            else
                run_line(s, s->in + start, i - start);
            start = i + 1;
        }
        memmove(s->in, s->in + start, s->in_len - start);
        s->in_len -= start;
        if (s->in_len > IN_LINE_MAX) {
            sim_ev_error(s, NULL, "command line over %u bytes ignored", IN_LINE_MAX);
            s->in_len = 0;
            s->in_overlong = true;
        }
    }
}

static void on_io(lws_sorted_usec_list_t *sul)
{
    struct sim *s = lws_container_of(sul, struct sim, sul_io);
    if (got_signal)
        s->quitting = true;
    read_stdin(s);
    flush_out(s);
    if (s->quitting)
        lws_cancel_service(s->ctx);
    else
        lws_sul_schedule(s->ctx, 0, &s->sul_io, on_io, IO_TICK_MS * 1000);
}

/* ---- --auto: EVs come and go --------------------------------------------------------
 */

/* Mean time an EVSE stays free, in simulated seconds (--speed shortens it
 * like everything else of an EV's visit). */
#define AUTO_MEAN_IDLE_S 120.0

static void on_auto(lws_sorted_usec_list_t *sul)
{
    struct sim *s = lws_container_of(sul, struct sim, sul_auto);
    static const double ev_max[] = {3700, 7400, 11000, 22000};
    for (size_t i = 0; i < s->n_st; i++) {
        struct sim_station *st = s->st[i];
        if (!st->boot_accepted)
            continue;
        for (int k = 1; k <= st->n_evse; k++) {
            const struct sim_evse *e = &st->evse[k];
            double p = fmin(0.5, s->o.speed / AUTO_MEAN_IDLE_S);
            if (e->plugged || !e->operative || sim_rand_range(s, 0, 1) >= p)
                continue;
            struct sim_ev ev;
            memset(&ev, 0, sizeof(ev));
            snprintf(ev.token, sizeof(ev.token), "AUTO%08llx",
                     (unsigned long long)(sim_rand(s) & 0xffffffffULL));
            snprintf(ev.token_type, sizeof(ev.token_type), "ISO14443");
            ev.need_wh = round(sim_rand_range(s, 5000, 40000));
            ev.max_w = ev_max[sim_rand(s) % 4];
            ev.soc0 = round(sim_rand_range(s, 10, 60));
            ev.capacity_wh = 60000;
            ev.departure_ms =
                sim_now_ms() + (int64_t)(sim_rand_range(s, 3600, 36000) * 1000);
            ev.v2x = s->o.auto_v2x > 0 && s->o.dialect == FG_OCPPJ_21 &&
                     sim_rand_range(s, 0, 1) < s->o.auto_v2x;
            char msg[128];
            if (sim_evse_plug(st, k, &ev, msg, sizeof(msg)) == 0) {
                cJSON *o = sim_ev_station(st, "arrival");
                cJSON_AddNumberToObject(o, "evse", k);
                cJSON_AddStringToObject(o, "id_token", ev.token);
                cJSON_AddNumberToObject(o, "energy_wh", ev.need_wh);
                cJSON_AddNumberToObject(o, "ev_max_w", ev.max_w);
                sim_ev_emit(s, o);
            }
        }
    }
    lws_sul_schedule(s->ctx, 0, &s->sul_auto, on_auto, LWS_US_PER_SEC);
}

/* ---- command line ---------------------------------------------------------------------
 */

static void usage(FILE *f)
{
    fputs("usage: ocpp_sim --url ws://HOST:PORT/PATH [options]\n"
          "Simulated OCPP-J charging stations; each connects to URL/<stationId>.\n"
          "Commands: JSON lines on stdin; events: JSON lines on stdout (README.md).\n"
          "\n"
          "  --url URL             ws:// or wss:// CSMS endpoint without the station id "
          "(required)\n"
          "  --stations N          number of stations (default 1, max 100000)\n"
          "  --prefix P            station ids P1..PN (default SIM)\n"
          "  --id ID               an explicit station id (repeat; replaces --stations)\n"
          "  --evses K             EVSEs per station (default 1, max 8)\n"
          "  --protocol P          ocpp2.0.1 (default) or ocpp2.1\n"
          "  --rated-w W           rated power per EVSE (default 11000)\n"
          "  --phases N            1 or 3 (default 3)\n"
          "  --voltage V           phase voltage (default 230)\n"
          "  --meter-interval S    MeterValues period in s, 0.1 steps (default 10)\n"
          "  --ramp-w-per-s W      EV power ramp (default 2000)\n"
          "  --auto SEED           EVs arrive at random (needs, departures) from SEED\n"
          "  --auto-v2x P          share of --auto EVs offering V2X over ocpp2.1 "
          "(0..1, default 0)\n"
          "  --speed X             the clock (energy, departures) runs X times real "
          "time\n"
          "  --reconnect-ms MS     delay before reconnecting (default 1000)\n"
          "  --call-timeout-ms MS  wait this long for an answer (default 30000)\n"
          "  --no-authorize        start transactions without Authorize\n"
          "  --password P          HTTP Basic auth (user = station id), profile 1\n"
          "  --ca FILE             CA bundle for wss://\n"
          "  --cert FILE --key FILE  client certificate for wss:// (profile 3)\n"
          "  --insecure            wss:// without checking the server certificate\n"
          "  --quiet               no per-frame events (call_in, answer, power)\n"
          "  --quit-on-eof         stop when stdin ends (run from a parent's pipe)\n"
          "  --help                this text\n",
          f);
}

static int parse_num(const char *opt, const char *s, double lo, double hi, bool integer,
                     double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi ||
        (integer && v != floor(v))) {
        fprintf(stderr, "ocpp_sim: --%s: \"%s\" is not %s in [%g, %g]\n", opt, s,
                integer ? "an integer" : "a number", lo, hi);
        return FG_ERANGE;
    }
    *out = v;
    return 0;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SIM_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int parse_url(struct sim_opts *o, const char *url)
{
    const char *p;
    if (!strncmp(url, "ws://", 5)) {
        p = url + 5;
        o->port = 80;
    } else if (!strncmp(url, "wss://", 6)) {
        p = url + 6;
        o->tls = true;
        o->port = 443;
    } else {
        fprintf(stderr, "ocpp_sim: --url: \"%s\" is not ws://... or wss://...\n", url);
        return FG_EINVAL;
    }
    const char *slash = strchr(p, '/');
    const char *hostend = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(hostend - p));
    const char *h_end = colon ? colon : hostend;
    if (h_end == p) {
        fprintf(stderr, "ocpp_sim: --url: no host in \"%s\"\n", url);
        return FG_EINVAL;
    }
    o->host = strndup(p, (size_t)(h_end - p));
    if (colon) {
        char port[8] = "";
        size_t n = (size_t)(hostend - colon - 1);
        double v;
        if (n == 0 || n >= sizeof(port))
            return fprintf(stderr, "ocpp_sim: --url: bad port\n"), FG_EINVAL;
        memcpy(port, colon + 1, n);
        if (parse_num("url port", port, 1, 65535, true, &v))
            return FG_EINVAL;
        o->port = (int)v;
    }
    o->path = strdup(slash ? slash : "");
    size_t n = strlen(o->path);
    while (n && o->path[n - 1] == '/')
        o->path[--n] = '\0';
    return o->host && o->path ? 0 : FG_ENOMEM;
}

enum {
    O_URL = 256,
    O_STATIONS,
    O_PREFIX,
    O_ID,
    O_EVSES,
    O_PROTOCOL,
    O_RATED,
    O_PHASES,
    O_VOLTAGE,
    O_METER,
    O_RAMP,
    O_AUTO,
    O_AUTO_V2X,
    O_SPEED,
    O_RECONNECT,
    O_CALL_TIMEOUT,
    O_NO_AUTH,
    O_PASSWORD,
    O_CA,
    O_CERT,
    O_KEY,
    O_INSECURE,
    O_QUIET,
    O_QUIT_EOF,
    O_HELP,
};

static const struct option long_opts[] = {
    {"url", required_argument, NULL, O_URL},
    {"stations", required_argument, NULL, O_STATIONS},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"id", required_argument, NULL, O_ID},
    {"evses", required_argument, NULL, O_EVSES},
    {"protocol", required_argument, NULL, O_PROTOCOL},
    {"rated-w", required_argument, NULL, O_RATED},
    {"phases", required_argument, NULL, O_PHASES},
    {"voltage", required_argument, NULL, O_VOLTAGE},
    {"meter-interval", required_argument, NULL, O_METER},
    {"ramp-w-per-s", required_argument, NULL, O_RAMP},
    {"auto", required_argument, NULL, O_AUTO},
    {"auto-v2x", required_argument, NULL, O_AUTO_V2X},
    {"speed", required_argument, NULL, O_SPEED},
    {"reconnect-ms", required_argument, NULL, O_RECONNECT},
    {"call-timeout-ms", required_argument, NULL, O_CALL_TIMEOUT},
    {"no-authorize", no_argument, NULL, O_NO_AUTH},
    {"password", required_argument, NULL, O_PASSWORD},
    {"ca", required_argument, NULL, O_CA},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"quiet", no_argument, NULL, O_QUIET},
    {"quit-on-eof", no_argument, NULL, O_QUIT_EOF},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* check_dup: an id given by the user (generated ones are unique). */
static int add_id(struct sim_opts *o, const char *id, bool check_dup)
{
    if (!id_ok(id)) {
        fprintf(stderr, "ocpp_sim: station id \"%s\" is not 1-%d of [A-Za-z0-9._-]\n", id,
                SIM_ID_MAX);
        return FG_EINVAL;
    }
    for (size_t i = 0; check_dup && i < o->n_stations; i++) {
        if (!strcmp(o->ids[i], id)) {
            fprintf(stderr, "ocpp_sim: station id \"%s\" given twice\n", id);
            return FG_EEXISTS;
        }
    }
    char **v = realloc(o->ids, (o->n_stations + 1) * sizeof(*v));
    if (!v)
        return FG_ENOMEM;
    o->ids = v;
    if (!(o->ids[o->n_stations] = strdup(id)))
        return FG_ENOMEM;
    o->n_stations++;
    return 0;
}

/* One option; 0, 1 (--help) or a negative code. */
static int parse_opt(struct sim_opts *o, int c, const char *a, double *n_stations,
                     const char **prefix)
{
    double v;
    int rc = 0;
    switch (c) {
    case O_URL:
        free(o->host);
        free(o->path);
        return parse_url(o, a);
    case O_STATIONS:
        return parse_num("stations", a, 1, STATIONS_MAX, true, n_stations);
    case O_PREFIX:
        if (strlen(a) > SIM_ID_MAX - 6 || (a[0] && !id_ok(a)))
            return fprintf(stderr, "ocpp_sim: --prefix: \"%s\" is not a short id\n", a),
                   FG_EINVAL;
        *prefix = a;
        return 0;
    case O_ID:
        return add_id(o, a, true);
    case O_EVSES:
        rc = parse_num("evses", a, 1, SIM_EVSE_MAX, true, &v);
        o->n_evses = (int)v;
        return rc;
    case O_PROTOCOL:
        if (!strcmp(a, "ocpp2.0.1"))
            o->dialect = FG_OCPPJ_201;
        else if (!strcmp(a, "ocpp2.1"))
            o->dialect = FG_OCPPJ_21;
        else
            return fprintf(stderr, "ocpp_sim: --protocol: ocpp2.0.1 or ocpp2.1\n"),
                   FG_EINVAL;
        return 0;
    case O_RATED:
        return parse_num("rated-w", a, 1, 1e6, false, &o->rated_w);
    case O_PHASES:
        rc = parse_num("phases", a, 1, 3, true, &v);
        if (!rc && v == 2)
            return fprintf(stderr, "ocpp_sim: --phases: 1 or 3\n"), FG_EINVAL;
        o->phases = (int)v;
        return rc;
    case O_VOLTAGE:
        return parse_num("voltage", a, 50, 1000, false, &o->voltage);
    case O_METER:
        rc = parse_num("meter-interval", a, 0.1, 86400, false, &v);
        if (!rc && fabs(v * 10 - round(v * 10)) > 1e-6)
            return fprintf(stderr, "ocpp_sim: --meter-interval: 0.1 s steps\n"),
                   FG_EINVAL;
        o->meter_ms = (int)round(v * 1000);
        return rc;
    case O_RAMP:
        return parse_num("ramp-w-per-s", a, 1, 1e7, false, &o->ramp_w_per_s);
    case O_AUTO:
        rc = parse_num("auto", a, 0, 9007199254740991.0, true, &v);
        o->auto_on = true;
        o->seed = (uint64_t)v;
        return rc;
    case O_AUTO_V2X:
        return parse_num("auto-v2x", a, 0, 1, false, &o->auto_v2x);
    case O_SPEED:
        return parse_num("speed", a, 0.001, 100000, false, &o->speed);
    case O_RECONNECT:
        rc = parse_num("reconnect-ms", a, 0, 3600000, true, &v);
        o->reconnect_ms = (int)v;
        return rc;
    case O_CALL_TIMEOUT:
        rc = parse_num("call-timeout-ms", a, 100, 3600000, true, &v);
        o->call_timeout_ms = (int)v;
        return rc;
    case O_NO_AUTH:
        o->no_authorize = true;
        return 0;
    case O_PASSWORD:
        if (strlen(a) > 200)
            return fprintf(stderr, "ocpp_sim: --password: at most 200 bytes\n"),
                   FG_EINVAL;
        o->password = a;
        return 0;
    case O_CA:
        o->ca = a;
        return 0;
    case O_CERT:
        o->cert = a;
        return 0;
    case O_KEY:
        o->key = a;
        return 0;
    case O_INSECURE:
        o->insecure = true;
        return 0;
    case O_QUIET:
        o->quiet = true;
        return 0;
    case O_QUIT_EOF:
        o->quit_on_eof = true;
        return 0;
    case O_HELP:
        return 1;
    default:
        return FG_EINVAL;
    }
}

static void opts_clear(struct sim_opts *o)
{
    for (size_t i = 0; i < o->n_stations; i++)
        free(o->ids[i]);
    free(o->ids);
    free(o->host);
    free(o->path);
}

/* 0, 1 (--help printed) or a negative code (message printed). */
static int parse_args(struct sim_opts *o, int argc, char **argv)
{
    double n_stations = 1;
    const char *prefix = "SIM";
    bool stations_given = false;
    int c, rc;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (c == '?') {
            fputs("Try 'ocpp_sim --help'.\n", stderr);
            return FG_EINVAL;
        }
        stations_given |= c == O_STATIONS || c == O_PREFIX;
        rc = parse_opt(o, c, optarg, &n_stations, &prefix);
        if (rc == 1) {
            usage(stdout);
            return 1;
        }
        if (rc)
            return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "ocpp_sim: unexpected argument \"%s\"\n", argv[optind]);
        return FG_EINVAL;
    }
    if (!o->host) {
        fputs("ocpp_sim: --url is required (try --help)\n", stderr);
        return FG_EINVAL;
    }
    if (o->n_stations && stations_given) {
        fputs("ocpp_sim: --id replaces --stations / --prefix; give one or the other\n",
              stderr);
        return FG_EINVAL;
    }
    if (!!o->cert != !!o->key) {
        fputs("ocpp_sim: --cert and --key go together\n", stderr);
        return FG_EINVAL;
    }
    if ((o->ca || o->cert || o->insecure) && !o->tls) {
        fputs("ocpp_sim: --ca, --cert, --key and --insecure need a wss:// URL\n", stderr);
        return FG_EINVAL;
    }
    size_t want = o->n_stations ? 0 : (size_t)n_stations;
    for (size_t k = 1; k <= want; k++) {
        char id[SIM_ID_MAX + 1];
        snprintf(id, sizeof(id), "%s%zu", prefix, k);
        if ((rc = add_id(o, id, false)))
            return rc;
    }
    return 0;
}

/* ---- main
 * ------------------------------------------------------------------------------ */

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

static size_t raise_nofile(size_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 1024;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur < want ? (size_t)rl.rlim_cur : want;
}

static const struct lws_protocols protocols[] = {
    {"ocpp-sim", sim_lws_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static int create_context(struct sim *s)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.fd_limit_per_thread = (unsigned)raise_nofile(s->n_st * 2 + 256);
    info.timeout_secs = 20;
    if (s->o.tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = s->o.ca;
        info.client_ssl_cert_filepath = s->o.cert;
        info.client_ssl_private_key_filepath = s->o.key;
    }
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        fputs("ocpp_sim: cannot create the libwebsockets context\n", stderr);
        return FG_EIO;
    }
    return 0;
}

static void on_start(lws_sorted_usec_list_t *sul)
{
    /* Connect in steps of 50 stations a millisecond apart: a burst the CSMS
     * sees as one, without a single loop turn doing a thousand connects. */
    struct sim *s = lws_container_of(sul, struct sim, sul_auto);
    for (size_t k = 0; k < 50 && s->next_connect < s->n_st; k++)
        sim_station_connect(s->st[s->next_connect++]);
    if (s->next_connect < s->n_st)
        lws_sul_schedule(s->ctx, 0, &s->sul_auto, on_start, 1000);
    else if (s->o.auto_on)
        lws_sul_schedule(s->ctx, 0, &s->sul_auto, on_auto, LWS_US_PER_SEC);
}

static void stdout_setup(void)
{
    struct stat sb;
    if (fstat(STDOUT_FILENO, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
        stdout_flags = fcntl(STDOUT_FILENO, F_GETFL);
        if (stdout_flags >= 0)
            fcntl(STDOUT_FILENO, F_SETFL, stdout_flags | O_NONBLOCK);
    }
}

static void stdout_final(struct sim *s)
{
    if (stdout_flags >= 0)
        fcntl(STDOUT_FILENO, F_SETFL, stdout_flags);
    if (s->out_dropped) {
        cJSON *ev = sim_ev_new(s, "dropped");
        cJSON_AddNumberToObject(ev, "events", (double)s->out_dropped);
        char *line = cJSON_PrintUnformatted(ev);
        cJSON_Delete(ev);
        if (line) {
            fg_buf_append(&s->out, line, strlen(line));
            fg_buf_append(&s->out, "\n", 1);
            free(line);
        }
    }
    flush_out(s);
}

int main(int argc, char **argv)
{
    static struct sim s; /* zeroed; the loop's timers point into it */
    s.o = (struct sim_opts){
        .n_evses = 1,
        .dialect = FG_OCPPJ_201,
        .rated_w = 11000,
        .phases = 3,
        .voltage = 230,
        .meter_ms = 10000,
        .ramp_w_per_s = 2000,
        .speed = 1,
        .reconnect_ms = 1000,
        .call_timeout_ms = 30000,
    };
    int rc = parse_args(&s.o, argc, argv);
    if (rc) {
        opts_clear(&s.o);
        return rc == 1 ? 0 : 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    stdout_setup();
    fg_buf_init(&s.out, OUT_MAX);
    s.t0_mono_ms = sim_mono_ms();
    sim_clock_init(s.o.speed);
    s.rng = s.o.auto_on
                ? s.o.seed * 0x9E3779B97F4A7C15ULL + 1
                : (uint64_t)wall_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    if (!s.rng)
        s.rng = 1;
    s.n_st = s.o.n_stations;
    rc = create_context(&s);
    if (!rc) {
        s.st = calloc(s.n_st, sizeof(*s.st));
        rc = s.st ? 0 : FG_ENOMEM;
    }
    for (size_t i = 0; !rc && i < s.n_st; i++)
        rc = sim_station_new(&s, s.o.ids[i], &s.st[i]);
    if (!rc) {
        cJSON *ev = sim_ev_new(&s, "started");
        cJSON_AddNumberToObject(ev, "stations", (double)s.n_st);
        cJSON_AddNumberToObject(ev, "evses", s.o.n_evses);
        cJSON_AddStringToObject(ev, "protocol",
                                s.o.dialect == FG_OCPPJ_21 ? "ocpp2.1" : "ocpp2.0.1");
        sim_ev_emit(&s, ev);
        lws_sul_schedule(s.ctx, 0, &s.sul_io, on_io, IO_TICK_MS * 1000);
        lws_sul_schedule(s.ctx, 0, &s.sul_auto, on_start, 0);
        while (!s.quitting && lws_service(s.ctx, 0) >= 0)
            ;
    }
    /* Stop every timer before the context (which owns their lists) goes, and
     * detach the stations from their connections. */
    s.quitting = true;
    lws_sul_cancel(&s.sul_io);
    lws_sul_cancel(&s.sul_auto);
    for (size_t i = 0; i < s.n_st; i++) {
        if (s.st && s.st[i])
            sim_station_stop(s.st[i]);
    }
    if (s.ctx)
        lws_context_destroy(s.ctx);
    for (size_t i = 0; i < s.n_st; i++)
        sim_station_free(s.st ? s.st[i] : NULL);
    free(s.st);
    free(s.in);
    stdout_final(&s);
    fg_buf_clear(&s.out);
    opts_clear(&s.o);
    return rc ? 1 : 0;
}
