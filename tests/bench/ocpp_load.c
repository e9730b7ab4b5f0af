/* ocpp_load: an OCPP-J 2.0.1 load generator for the OCPP benchmark
 * (tests/bench/run.sh). It plays N charging stations against one CSMS on
 * loopback so that the CSMS, not the client, is what is measured:
 *
 *   - one thread, epoll, non-blocking sockets; its own minimal WebSocket
 *     client (HTTP upgrade offering the subprotocol ocpp2.0.1, masked client
 *     frames, answers pings); every buffer is allocated once at start, there
 *     is no allocation per message;
 *   - connects the stations at a controlled rate (at most --max-pending
 *     handshakes in flight), each sends a BootNotification and must get it
 *     Accepted;
 *   - holds them idle for --hold seconds (the CSMS's memory per station);
 *   - then runs the load phases named by --load, each a warm-up of --warmup s
 *     and a measured window of --duration s:
 *       b2b    every station sends MeterValues back to back, one outstanding
 *              call each (a new call as soon as the previous is answered);
 *       paced  the stations send MeterValues in turn at --rate calls/s in
 *              total (round robin); a station whose previous call is still
 *              unanswered when its turn comes sends as soon as it is ("late"),
 *              and its latency counts from when it was due (no coordinated
 *              omission);
 *   - checks every answer: a CALLRESULT with the id of the outstanding call
 *     (and for BootNotification status Accepted). CALLERRORs, frames that
 *     are not that, connections lost or refused are counted and reported;
 *   - latency from a fixed-size log-linear histogram (about 0.2 % resolution);
 *   - its own CPU time (getrusage) and, with --server-pid, the server's CPU
 *     time (utime + stime from /proc/PID/stat) and VmRSS, over the same
 *     windows.
 *
 * With --ev (the OpenADR dispatch benchmark, tests/bench/oadr_dispatch.py)
 * every station has an EV charging instead of running load phases: after
 * its boot it sends TransactionEvent Started (EVSE --evse, chargingState
 * Charging, a Power.Active.Import sample) and then MeterValues every
 * --meter-s s with the power the EV would draw under the last limit it got
 * (at most --ev-w). It answers the CSMS's CALLs: SetChargingProfile and
 * ClearChargingProfile Accepted, GetCompositeSchedule with the last limit,
 * anything else CALLERROR NotImplemented; and writes one line per received
 * SetChargingProfile to --profile-log: "<station index> <CLOCK_REALTIME ns
 * when the frame was read> <limit> <unit>" (a ClearChargingProfile gives
 * "<index> <ns> clear"). It runs until SIGTERM or the end of --hold.
 *
 * Output: for each phase ("held", then one per --load entry) a JSON line
 * (starts with '{') and a human line (starts with "ocpp_load:") on stdout.
 * Exit status: 0 when it ran (error counts are in the output), 1 when it
 * could not (bad options, no connection at all), 2 on usage errors. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RX_CAP 4096 /* largest frame we accept from the server, with header */
#define TX_CAP 2048
#define MAX_EVENTS 512
#define MAX_SRC 64

/* RFC 6455's example key and its accept value: the key is a nonce the server
 * only hashes, so one for every connection is enough for a benchmark. */
static const char ws_key[] = "dGhlIHNhbXBsZSBub25jZQ==";
static const char ws_accept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

enum cstate { C_NEW, C_CONNECTING, C_HANDSHAKE, C_BOOTING, C_READY, C_DEAD };

struct conn {
    int fd;
    uint8_t state;
    bool outstanding; /* a call is in flight */
    bool due;         /* paced: its turn came while a call was in flight */
    bool want_out;    /* EPOLLOUT registered */
    uint32_t idx;
    uint32_t seq;    /* message id counter */
    int64_t base_ns; /* latency is measured from here */
    int64_t due_ns;  /* paced: when the pending turn was due */
    uint32_t rx_len;
    uint32_t tx_len, tx_off;
    bool ev_started;      /* --ev: TransactionEvent Started answered */
    bool limit_w;         /* --ev: `limit` is in W (else A per phase) */
    double limit;         /* --ev: last SetChargingProfile's limit; NAN: none */
    int64_t meter_due_ns; /* --ev: next MeterValues (monotonic); 0: none due */
    char rx[RX_CAP];
    char tx[TX_CAP];
};

/* ---- latency histogram: exact below 1024 us, then 512 sub-buckets per
 * power of two ----------------------------------------------------------- */

#define H_SUB 512
#define H_LIN 1024
#define H_EXP 40
#define H_N (H_LIN + H_EXP * H_SUB)

struct hist {
    uint64_t n[H_N];
    uint64_t count, max_us, sum_us;
};

static int hist_index(uint64_t us)
{
    if (us < H_LIN)
        return (int)us;
    int shift = 63 - __builtin_clzll(us) - 9; /* us >> shift in [512, 1023] */
    if (shift > H_EXP)
        return H_N - 1;
    return H_LIN + (shift - 1) * H_SUB + (int)((us >> shift) - H_SUB);
}

static uint64_t hist_value(int i)
{
    if (i < H_LIN)
        return (uint64_t)i;
    int shift = (i - H_LIN) / H_SUB + 1;
    uint64_t sub = (uint64_t)((i - H_LIN) % H_SUB) + H_SUB;
    return (sub << shift) + ((1ull << shift) >> 1); /* bucket middle */
}

static void hist_add(struct hist *h, int64_t ns)
{
    uint64_t us = ns > 0 ? (uint64_t)(ns / 1000) : 0;
    h->n[hist_index(us)]++;
    h->count++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
}

static double hist_pct_ms(const struct hist *h, double pct)
{
    if (!h->count)
        return 0;
    uint64_t want = (uint64_t)((double)h->count * pct / 100.0 + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t acc = 0;
    for (int i = 0; i < H_N; i++) {
        acc += h->n[i];
        if (acc >= want) {
            uint64_t v = hist_value(i);
            return (double)(v > h->max_us ? h->max_us : v) / 1000.0;
        }
    }
    return (double)h->max_us / 1000.0;
}

/* ---- options and state ------------------------------------------------- */

static struct {
    const char *host;
    int port;
    const char *path;
    const char *prefix;
    unsigned n;
    unsigned src_addrs;
    double connect_rate;
    unsigned max_pending;
    double connect_timeout_s;
    double hold_s;
    char load[64];
    double rate;
    double warmup_s, duration_s;
    int server_pid;
    int evse;
    const char *label;
    bool ev;
    const char *profile_log;
    double meter_s;
    double ev_w;
} opt = {
    .host = "127.0.0.1",
    .path = "/ocpp/",
    .prefix = "BENCH",
    .n = 1000,
    .src_addrs = 1,
    .connect_rate = 2000,
    .max_pending = 200,
    .connect_timeout_s = 120,
    .hold_s = 5,
    .load = "",
    .rate = 20000,
    .warmup_s = 5,
    .duration_s = 20,
    .evse = 1,
    .label = "",
    .meter_s = 10,
    .ev_w = 11000,
};

enum mode { M_NONE, M_B2B, M_PACED };

/* What one window counts. */
struct stats {
    uint64_t rt;         /* answered with the CALLRESULT expected */
    uint64_t callerrors; /* answered with a CALLERROR */
    uint64_t bad;        /* frames that are neither, or protocol violations */
    uint64_t closed;     /* connections lost */
    uint64_t late;       /* paced: turns that found the previous call unanswered */
    uint64_t skipped;    /* paced: turns dropped (one was already late) */
    uint64_t pings;
    struct hist h;
};

static struct conn *conns;
static int ep = -1;
static struct sockaddr_in dst;
static struct in_addr src[MAX_SRC];
static enum mode mode = M_NONE;
static bool draining; /* no new calls: wait for the outstanding ones */
static struct stats st;
static char first_error[160];
static char ts_now[32];
static time_t ts_sec;
static uint32_t rng = 0x9e3779b9u;
static unsigned n_started, n_booted, n_failed, n_open, n_outstanding;
static unsigned fail_connect, fail_http, fail_boot, fail_closed;
static char fail_what[160];
static volatile sig_atomic_t stop_now;
/* --ev */
static FILE *profile_log;
static bool profile_log_dirty;
static unsigned n_tx_started;
static uint64_t n_set_profile, n_clear_profile, n_composite, n_not_implemented;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* /proc/<server pid>/<file> into buf, NUL-terminated; false without
 * --server-pid or when it cannot be read. */
static bool read_server_proc(const char *file, char *buf, size_t size)
{
    if (!opt.server_pid)
        return false;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", opt.server_pid, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* utime + stime of the server, seconds; -1 without --server-pid. */
static double server_cpu_s(void)
{
    char buf[1024];
    if (!read_server_proc("stat", buf, sizeof(buf)))
        return -1;
    const char *p = strrchr(buf, ')'); /* comm may contain spaces */
    if (!p)
        return -1;
    /* after ") ": field 3 (state) ... field 14 utime, 15 stime */
    unsigned long long ut = 0, stt = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
               &stt) != 2)
        return -1;
    return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

/* A kB field of /proc/PID/status of the server; -1 without --server-pid. */
static long server_kb(const char *field)
{
    char buf[4096];
    if (!read_server_proc("status", buf, sizeof(buf)))
        return -1;
    size_t fl = strlen(field);
    for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, field, fl) && p[fl] == ':')
            return strtol(p + fl + 1, NULL, 10);
    }
    return -1;
}

/* Keep the first error of a window: `what` and up to 100 bytes of `s`. */
static void note_error(const char *what, const char *s, size_t n)
{
    if (!first_error[0])
        snprintf(first_error, sizeof(first_error), "%s%.*s", what,
                 (int)(n > 100 ? 100 : n), s);
}

/* ---- sockets ------------------------------------------------------------- */

static void set_events(struct conn *c, bool out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u),
                             .data.u32 = c->idx};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void conn_kill(struct conn *c, bool lost)
{
    if (c->state == C_DEAD || c->state == C_NEW)
        return;
    bool was_open = c->state == C_READY || c->state == C_BOOTING;
    if (c->state != C_READY) {
        n_failed++;
        if (c->state == C_CONNECTING)
            fail_connect++;
        else if (c->state == C_HANDSHAKE)
            fail_http++;
        else
            fail_closed++;
    } else if (lost) {
        st.closed++;
    }
    if (c->outstanding)
        n_outstanding--;
    if (was_open && c->state == C_READY)
        n_open--;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = C_DEAD;
    c->outstanding = false;
}

static void flush(struct conn *c)
{
    while (c->tx_off < c->tx_len) {
        ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->tx_off += (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(c, true);
            return;
        }
        conn_kill(c, true);
        return;
    }
    c->tx_len = c->tx_off = 0;
    if (c->state != C_CONNECTING)
        set_events(c, false);
}

/* Append one masked client frame; false if the buffer is full. */
static bool put_frame(struct conn *c, int opcode, const char *p, size_t len)
{
    size_t hdr = len < 126 ? 6 : 8;
    if (len > 65535 || c->tx_len + hdr + len > TX_CAP)
        return false;
    if (c->tx_off && c->tx_off == c->tx_len)
        c->tx_len = c->tx_off = 0;
    unsigned char *o = (unsigned char *)c->tx + c->tx_len;
    o[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        o[1] = (unsigned char)(0x80 | len);
    } else {
        o[1] = 0x80 | 126;
        o[2] = (unsigned char)(len >> 8);
        o[3] = (unsigned char)len;
    }
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    unsigned char *m = o + hdr - 4;
    memcpy(m, &rng, 4);
    for (size_t i = 0; i < len; i++)
        o[hdr + i] = (unsigned char)p[i] ^ m[i & 3];
    c->tx_len += (uint32_t)(hdr + len);
    return true;
}

static void update_ts(void)
{
    time_t t = time(NULL);
    if (t == ts_sec)
        return;
    ts_sec = t;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts_now, sizeof(ts_now), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Send the next call: BootNotification before boot, MeterValues after. */
/* --ev: what the EV draws under the last limit, W (3 phases at 230 V). */
static unsigned ev_power_w(const struct conn *c)
{
    double w = opt.ev_w;
    if (!isnan(c->limit)) {
        double lim = c->limit_w ? c->limit : c->limit * 230 * 3;
        if (lim < w)
            w = lim > 0 ? lim : 0;
    }
    return (unsigned)(w + 0.5);
}

/* Send the next call: BootNotification before boot, with --ev then
 * TransactionEvent Started, then MeterValues. */
static void send_call(struct conn *c, int64_t base_ns)
{
    char buf[768];
    int n;
    c->seq++;
    if (c->state == C_BOOTING) {
        n = snprintf(
            buf, sizeof(buf),
            "[2,\"%u\",\"BootNotification\",{\"chargingStation\":{\"model\":"
            "\"bench\",\"vendorName\":\"flexgw-bench\"},\"reason\":\"PowerUp\"}]",
            c->seq);
    } else if (opt.ev && !c->ev_started) {
        n = snprintf(
            buf, sizeof(buf),
            "[2,\"%u\",\"TransactionEvent\",{\"eventType\":\"Started\",\"timestamp\":"
            "\"%s\",\"triggerReason\":\"Authorized\",\"seqNo\":0,\"transactionInfo\":{"
            "\"transactionId\":\"TX%05u\",\"chargingState\":\"Charging\"},\"idToken\":{"
            "\"idToken\":\"TOK%05u\",\"type\":\"ISO14443\"},\"evse\":{\"id\":%d,"
            "\"connectorId\":1},\"meterValue\":[{\"timestamp\":\"%s\",\"sampledValue\":[{"
            "\"value\":%u,\"measurand\":\"Power.Active.Import\",\"unitOfMeasure\":{"
            "\"unit\":\"W\"}},{\"value\":0,\"measurand\":\"Energy.Active.Import."
            "Register\",\"unitOfMeasure\":{\"unit\":\"Wh\"}}]}]}]",
            c->seq, ts_now, c->idx, c->idx, opt.evse, ts_now, ev_power_w(c));
    } else {
        unsigned power = opt.ev ? ev_power_w(c) : 7000 + (c->seq % 400);
        n = snprintf(buf, sizeof(buf),
                     "[2,\"%u\",\"MeterValues\",{\"evseId\":%d,\"meterValue\":[{"
                     "\"timestamp\":\"%s\",\"sampledValue\":[{\"value\":%u,"
                     "\"measurand\":\"Power.Active.Import\",\"unitOfMeasure\":{\"unit\":"
                     "\"W\"}},{\"value\":%u.5,\"measurand\":\"Energy.Active.Import."
                     "Register\",\"unitOfMeasure\":{\"unit\":\"Wh\"}}]}]}]",
                     c->seq, opt.evse, ts_now, power, c->seq * 3);
    }
    if (n <= 0 || (size_t)n >= sizeof(buf) || !put_frame(c, 1, buf, (size_t)n)) {
        st.bad++;
        note_error("cannot frame a call", "", 0);
        conn_kill(c, true);
        return;
    }
    c->outstanding = true;
    n_outstanding++;
    c->base_ns = base_ns;
    flush(c);
}

static void start_connect(struct conn *c)
{
    n_started++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(fail_what, sizeof(fail_what), "socket: %s", strerror(errno));
        c->state = C_DEAD;
        n_failed++;
        fail_connect++;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (opt.src_addrs > 1) {
        /* Several source addresses: the port is picked at connect() time
         * for the 4-tuple, so each address has its own ephemeral range. */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_addr = src[c->idx % opt.src_addrs]};
        if (bind(c->fd, (struct sockaddr *)&a, sizeof(a)))
            snprintf(fail_what, sizeof(fail_what), "bind: %s", strerror(errno));
    }
    c->state = C_CONNECTING;
    c->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = c->idx};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) && errno != EINPROGRESS) {
        snprintf(fail_what, sizeof(fail_what), "connect: %s", strerror(errno));
        conn_kill(c, false);
    }
}

static void on_connected(struct conn *c)
{
    int e = 0;
    socklen_t l = sizeof(e);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
    if (e) {
        snprintf(fail_what, sizeof(fail_what), "connect: %s", strerror(e));
        conn_kill(c, false);
        return;
    }
    int n =
        snprintf(c->tx, TX_CAP,
                 "GET %s%s%05u HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n",
                 opt.path, opt.prefix, c->idx, opt.host, opt.port, ws_key);
    c->tx_len = (uint32_t)n;
    c->tx_off = 0;
    c->state = C_HANDSHAKE;
    flush(c);
}

/* The value of header `name` in an HTTP head (NUL-terminated), or NULL. */
static const char *header(const char *head, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
        p += 2;
        if (!strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            *len = e ? (size_t)(e - v) : strlen(v);
            while (*len && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
                (*len)--;
            return v;
        }
    }
    return NULL;
}

/* The HTTP answer to the upgrade; true once it is complete and valid. */
static bool on_http(struct conn *c)
{
    char *end = memmem(c->rx, c->rx_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->rx_len >= RX_CAP - 1) {
            snprintf(fail_what, sizeof(fail_what), "HTTP answer too long");
            conn_kill(c, false);
        }
        return false;
    }
    size_t hl = (size_t)(end - c->rx) + 4;
    char save = c->rx[hl - 2];
    c->rx[hl - 2] = '\0';
    size_t al = 0, pl = 0;
    const char *acc = header(c->rx, "Sec-WebSocket-Accept", &al);
    const char *proto = header(c->rx, "Sec-WebSocket-Protocol", &pl);
    bool ok = !strncmp(c->rx, "HTTP/1.1 101", 12) && acc && al == strlen(ws_accept) &&
              !memcmp(acc, ws_accept, al) && proto && pl == 9 &&
              !memcmp(proto, "ocpp2.0.1", 9);
    if (!ok) {
        char *eol = strstr(c->rx, "\r\n");
        snprintf(fail_what, sizeof(fail_what), "upgrade refused: %.*s",
                 eol ? (int)(eol - c->rx) : 60, c->rx);
        c->rx[hl - 2] = save;
        conn_kill(c, false);
        return false;
    }
    memmove(c->rx, c->rx + hl, c->rx_len - hl);
    c->rx_len -= (uint32_t)hl;
    c->state = C_BOOTING;
    update_ts();
    send_call(c, now_ns());
    return true;
}

/* Parse `[T,"id",` at the start of a message; returns T or -1, sets *id. */
static int msg_head(const char *p, size_t n, const char **id, size_t *idl, size_t *rest)
{
    if (n < 6 || p[0] != '[' || (p[1] != '3' && p[1] != '4') || p[2] != ',' ||
        p[3] != '"')
        return -1;
    const char *q = memchr(p + 4, '"', n - 4);
    if (!q || (size_t)(q - p) + 2 > n || q[1] != ',')
        return -1;
    *id = p + 4;
    *idl = (size_t)(q - p - 4);
    *rest = (size_t)(q - p) + 2;
    return p[1] - '0';
}

/* ---- --ev: the CSMS's CALLs ---------------------------------------------- */

/* The string at p (which must start with '"') up to its closing quote, no
 * escapes (ids and action names have none); NULL if there is none. */
static const char *quoted(const char *p, const char *end, size_t *len)
{
    if (p >= end || *p != '"')
        return NULL;
    const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
    if (!q)
        return NULL;
    *len = (size_t)(q - p - 1);
    return p + 1;
}

/* The number after `key` (e.g. "\"limit\":") in [p, end); NAN if none. */
static double number_after(const char *p, const char *end, const char *key)
{
    size_t kl = strlen(key);
    const char *k = memmem(p, (size_t)(end - p), key, kl);
    if (!k)
        return NAN;
    char num[32];
    size_t n = (size_t)(end - (k + kl));
    if (n > sizeof(num) - 1)
        n = sizeof(num) - 1;
    memcpy(num, k + kl, n);
    num[n] = '\0';
    char *e;
    double v = strtod(num, &e);
    return e == num ? NAN : v;
}

static int64_t wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Each answers one CALL (payload [p, end)) into out: the CALLRESULT
 * payload's length, or -1 for NotImplemented. */
typedef int (*answer_fn)(struct conn *c, const char *p, const char *end, char *out,
                         size_t size);

static int ans_set_profile(struct conn *c, const char *p, const char *end, char *out,
                           size_t size)
{
    int64_t t = wall_ns();
    const char *per = memmem(p, (size_t)(end - p), "\"chargingSchedulePeriod\"", 24);
    c->limit = per ? number_after(per, end, "\"limit\":") : NAN;
    c->limit_w = memmem(p, (size_t)(end - p), "\"chargingRateUnit\":\"W\"", 22) != NULL;
    n_set_profile++;
    fprintf(profile_log, "%u %lld %.1f %s\n", c->idx, (long long)t, c->limit,
            c->limit_w ? "W" : "A");
    profile_log_dirty = true;
    return snprintf(out, size, "{\"status\":\"Accepted\"}");
}

static int ans_clear_profile(struct conn *c, const char *p, const char *end, char *out,
                             size_t size)
{
    (void)p;
    (void)end;
    c->limit = NAN;
    n_clear_profile++;
    fprintf(profile_log, "%u %lld clear\n", c->idx, (long long)wall_ns());
    profile_log_dirty = true;
    return snprintf(out, size, "{\"status\":\"Accepted\"}");
}

/* What the station applies: the last limit, for the next 300 s. */
static int ans_composite(struct conn *c, const char *p, const char *end, char *out,
                         size_t size)
{
    (void)p;
    (void)end;
    n_composite++;
    if (isnan(c->limit))
        return snprintf(out, size, "{\"status\":\"Rejected\"}");
    return snprintf(out, size,
                    "{\"status\":\"Accepted\",\"schedule\":{\"evseId\":%d,\"duration\":"
                    "300,\"scheduleStart\":\"%s\",\"chargingRateUnit\":\"%s\","
                    "\"chargingSchedulePeriod\":[{\"startPeriod\":0,\"limit\":%.1f}]}}",
                    opt.evse, ts_now, c->limit_w ? "W" : "A", c->limit);
}

static const struct {
    const char *action;
    answer_fn answer;
} csms_calls[] = {
    {"ClearChargingProfile", ans_clear_profile},
    {"GetCompositeSchedule", ans_composite},
    {"SetChargingProfile", ans_set_profile},
};

/* A CALL [2,"id","Action",{...}] from the CSMS: answer it. */
static void on_csms_call(struct conn *c, const char *p, size_t n)
{
    const char *end = p + n, *id, *act;
    size_t idl, al;
    if (n < 4 || !(id = quoted(p + 3, end, &idl)) || id + idl + 2 >= end ||
        id[idl + 1] != ',' || !(act = quoted(id + idl + 2, end, &al))) {
        st.bad++;
        note_error("malformed CALL: ", p, n);
        return;
    }
    const char *payload = act + al + 2;
    char res[512], frame[640];
    int rl = -1;
    for (size_t i = 0; i < sizeof(csms_calls) / sizeof(csms_calls[0]); i++) {
        if (strlen(csms_calls[i].action) == al &&
            !memcmp(csms_calls[i].action, act, al)) {
            rl = csms_calls[i].answer(c, payload < end ? payload : end, end, res,
                                      sizeof(res));
            break;
        }
    }
    int fl;
    if (rl < 0) {
        n_not_implemented++;
        fl = snprintf(frame, sizeof(frame), "[4,\"%.*s\",\"NotImplemented\",\"\",{}]",
                      (int)idl, id);
    } else {
        fl = snprintf(frame, sizeof(frame), "[3,\"%.*s\",%.*s]", (int)idl, id, rl, res);
    }
    if (fl <= 0 || (size_t)fl >= sizeof(frame) || !put_frame(c, 1, frame, (size_t)fl)) {
        st.bad++;
        note_error("cannot frame an answer to ", p, n);
        return;
    }
    flush(c);
}

/* --ev: our call was answered; the next MeterValues is due. The first
 * periodic one comes after 0.5..1.5 intervals, spread by station, so the
 * stations' meter readings do not arrive in bursts. */
static void ev_answered(struct conn *c, int64_t now)
{
    if (!c->ev_started) {
        c->ev_started = true;
        n_tx_started++;
        c->meter_due_ns = now; /* the first MeterValues at once */
        return;
    }
    if (opt.meter_s <= 0)
        return;
    double f = c->seq <= 3 ? 0.5 + (double)(c->idx % 997) / 997.0 : 1.0;
    c->meter_due_ns = now + (int64_t)(opt.meter_s * f * 1e9);
}

/* --ev: send the MeterValues that are due. */
static void ev_meters(int64_t now)
{
    for (unsigned i = 0; i < opt.n; i++) {
        struct conn *c = &conns[i];
        if (c->meter_due_ns && now >= c->meter_due_ns && c->state == C_READY &&
            !c->outstanding) {
            c->meter_due_ns = 0;
            send_call(c, now);
        }
    }
}

static void next_call(struct conn *c, int64_t now)
{
    if (draining || c->state != C_READY)
        return;
    if (mode == M_B2B) {
        send_call(c, now);
    } else if (mode == M_PACED && c->due) {
        c->due = false;
        send_call(c, c->due_ns);
    }
}

/* One complete text message from the server. */
static void on_text(struct conn *c, const char *p, size_t n, int64_t now)
{
    const char *id;
    size_t idl, rest;
    if (opt.ev && n > 3 && !memcmp(p, "[2,", 3)) {
        on_csms_call(c, p, n);
        return;
    }
    int t = msg_head(p, n, &id, &idl, &rest);
    char want[16];
    int wl = snprintf(want, sizeof(want), "%u", c->seq);
    if (t < 0 || !c->outstanding || idl != (size_t)wl || memcmp(id, want, idl)) {
        st.bad++;
        note_error("unexpected frame: ", p, n);
        return;
    }
    c->outstanding = false;
    n_outstanding--;
    if (t == 4) {
        st.callerrors++;
        note_error("CALLERROR: ", p, n);
        if (c->state == C_BOOTING) {
            fail_boot++;
            snprintf(fail_what, sizeof(fail_what), "BootNotification: %.*s",
                     (int)(n > 100 ? 100 : n), p);
            conn_kill(c, false);
            return;
        }
        next_call(c, now);
        return;
    }
    if (rest >= n || p[rest] != '{' || p[n - 1] != ']') {
        st.bad++;
        note_error("malformed CALLRESULT: ", p, n);
        return;
    }
    if (c->state == C_BOOTING) {
        if (!memmem(p, n, "\"status\":\"Accepted\"", 19)) {
            fail_boot++;
            snprintf(fail_what, sizeof(fail_what), "BootNotification not accepted: %.*s",
                     (int)(n > 100 ? 100 : n), p);
            conn_kill(c, false);
            return;
        }
        c->state = C_READY;
        n_booted++;
        n_open++;
        if (opt.ev)
            send_call(c, now); /* TransactionEvent Started */
        return;
    }
    st.rt++;
    hist_add(&st.h, now - c->base_ns);
    if (opt.ev)
        ev_answered(c, now);
    next_call(c, now);
}

/* Every complete frame in rx. */
static void on_frames(struct conn *c, int64_t now)
{
    size_t off = 0;
    while (c->state != C_DEAD) {
        const unsigned char *b = (const unsigned char *)c->rx + off;
        size_t have = c->rx_len - off;
        if (have < 2)
            break;
        size_t hdr = 2;
        uint64_t len = b[1] & 0x7f;
        if (len == 126) {
            if (have < 4)
                break;
            len = (uint64_t)b[2] << 8 | b[3];
            hdr = 4;
        } else if (len == 127) {
            if (have < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | b[2 + i];
            hdr = 10;
        }
        if ((b[1] & 0x80) || hdr + len > RX_CAP) {
            st.bad++;
            note_error("frame masked by the server or too large", "", 0);
            conn_kill(c, true);
            return;
        }
        if (have < hdr + len)
            break;
        const char *pl = (const char *)b + hdr;
        int opcode = b[0] & 0x0f;
        bool fin = b[0] & 0x80;
        if (opcode == 1 && fin) {
            on_text(c, pl, (size_t)len, now);
        } else if (opcode == 9) {
            st.pings++;
            if (put_frame(c, 10, pl, (size_t)len))
                flush(c);
        } else if (opcode == 10) {
            /* unsolicited pong: ignore */
        } else if (opcode == 8) {
            note_error("server closed the connection: ", pl + (len >= 2 ? 2 : 0),
                       len >= 2 ? (size_t)len - 2 : 0);
            conn_kill(c, true);
            return;
        } else {
            st.bad++;
            note_error("unexpected frame opcode or fragment", "", 0);
        }
        off += hdr + (size_t)len;
    }
    if (c->state == C_DEAD)
        return;
    if (off) {
        memmove(c->rx, c->rx + off, c->rx_len - off);
        c->rx_len -= (uint32_t)off;
    }
}

static void on_readable(struct conn *c, int64_t now)
{
    for (;;) {
        if (c->rx_len >= RX_CAP) {
            st.bad++;
            conn_kill(c, true);
            return;
        }
        ssize_t n = recv(c->fd, c->rx + c->rx_len, RX_CAP - c->rx_len, 0);
        if (n == 0) {
            if (c->state == C_HANDSHAKE)
                snprintf(fail_what, sizeof(fail_what), "closed during the upgrade");
            conn_kill(c, true);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            conn_kill(c, true);
            return;
        }
        c->rx_len += (uint32_t)n;
        if (c->state == C_HANDSHAKE && !on_http(c))
            return;
        on_frames(c, now);
        if (c->state == C_DEAD)
            return;
        if ((size_t)n < 1024)
            return; /* drained, most likely: leave the rest to epoll */
    }
}

/* ---- the loop -------------------------------------------------------------- */

static int64_t pace_t0, connect_t0;
static uint64_t pace_done;
static unsigned pace_rr;

static void connect_more(int64_t now)
{
    if (n_started >= opt.n)
        return;
    uint64_t allowed =
        (uint64_t)((double)(now - connect_t0) / 1e9 * opt.connect_rate) + 1;
    while (n_started < opt.n && n_started < allowed &&
           n_started - n_booted - n_failed < opt.max_pending)
        start_connect(&conns[n_started]);
}

static void pace(int64_t now)
{
    uint64_t due = (uint64_t)((double)(now - pace_t0) / 1e9 * opt.rate);
    unsigned guard = 0;
    while (pace_done < due && guard++ < 4 * opt.n + 1000) {
        struct conn *c = &conns[pace_rr];
        pace_rr = (pace_rr + 1) % opt.n;
        if (c->state != C_READY)
            continue; /* a lost station: its turns are not sent */
        int64_t when = pace_t0 + (int64_t)((double)pace_done * 1e9 / opt.rate);
        pace_done++;
        if (!c->outstanding) {
            send_call(c, when);
        } else if (!c->due) {
            c->due = true;
            c->due_ns = when;
            st.late++;
        } else {
            st.skipped++;
        }
    }
}

/* Serve events until `until` (monotonic ns) or until done() says so. */
static void run(int64_t until, bool (*done)(void))
{
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int64_t now = now_ns();
        if (stop_now || now >= until || (done && done()))
            return;
        update_ts();
        connect_more(now);
        if (mode == M_PACED && !draining)
            pace(now);
        if (opt.ev)
            ev_meters(now);
        int64_t wait = until - now;
        if (n_started < opt.n && wait > 1000000)
            wait = 1000000;
        if (mode == M_PACED && !draining && wait > 100000)
            wait = 100000;
        if (wait > 200000000)
            wait = 200000000;
        if (opt.ev && wait > 50000000)
            wait = 50000000; /* MeterValues due */
        struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
        int n = epoll_pwait2(ep, evs, MAX_EVENTS, &ts, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("ocpp_load: epoll_pwait2");
            exit(1);
        }
        now = now_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[evs[i].data.u32];
            if (c->state == C_DEAD)
                continue;
            if (c->state == C_CONNECTING) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    on_connected(c);
                continue;
            }
            if (evs[i].events & EPOLLOUT)
                flush(c);
            if (c->state != C_DEAD && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(c, now);
        }
        if (profile_log_dirty) {
            fflush(profile_log); /* once per batch: the driver reads it live */
            profile_log_dirty = false;
        }
    }
}

static bool all_settled(void)
{
    return n_started >= opt.n && n_booted + n_failed >= opt.n;
}

static bool none_outstanding(void)
{
    return n_outstanding == 0;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_now = 1;
}

/* ---- output ------------------------------------------------------------------ */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void usage(FILE *f)
{
    fprintf(
        f, "usage: ocpp_load --port PORT [options]\n"
           "  --host ADDR           server IPv4 address (127.0.0.1)\n"
           "  --port PORT           server port\n"
           "  --path P              URL path before the station id (/ocpp/)\n"
           "  --prefix S            station id prefix (BENCH): ids are S00000, S00001..\n"
           "  --stations N          stations (1000)\n"
           "  --src-addrs K         spread connections over source addresses\n"
           "                        127.0.0.1..127.0.0.K (1)\n"
           "  --connect-rate R      new connections per second (2000)\n"
           "  --max-pending M       at most M handshakes/boots in flight (200)\n"
           "  --connect-timeout S   give up waiting for the boots after S s (120)\n"
           "  --hold S              hold idle S s after all booted (5)\n"
           "  --load LIST           load phases after the hold, comma-separated:\n"
           "                        b2b, paced (none)\n"
           "  --rate R              paced: MeterValues per second in total (20000)\n"
           "  --warmup S            warm-up before each measured window (5)\n"
           "  --duration S          measured window of each load phase (20)\n"
           "  --evse ID             evseId of the MeterValues (1)\n"
           "  --server-pid PID      report this process's CPU and RSS too\n"
           "  --label S             copied into the JSON lines\n"
           "  --ev                  an EV charging at every station (no --load): after\n"
           "                        the boot TransactionEvent Started, MeterValues, the\n"
           "                        CSMS's CALLs answered; runs until SIGTERM or --hold\n"
           "  --profile-log FILE    --ev: one line per SetChargingProfile received:\n"
           "                        index, CLOCK_REALTIME ns, limit, unit\n"
           "  --meter-s S           --ev: MeterValues period, 0: only the first (10)\n"
           "  --ev-w W              --ev: what the EV draws without a limit (11000)\n");
}

static double num_arg(const char *name, const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "ocpp_load: --%s: \"%s\" is not a number in [%g, %g]\n", name, s,
                lo, hi);
        exit(2);
    }
    return v;
}

static void raise_nofile(unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    if (rl.rlim_cur >= need)
        return;
    if (rl.rlim_max < need) {
        struct rlimit want = {need, need};
        if (!setrlimit(RLIMIT_NOFILE, &want))
            return;
    }
    rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
        fprintf(stderr, "ocpp_load: RLIMIT_NOFILE is %llu, %u wanted: expect failures\n",
                (unsigned long long)rl.rlim_cur, need);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"path", required_argument, NULL, 'P'},
        {"prefix", required_argument, NULL, 'x'},
        {"stations", required_argument, NULL, 'n'},
        {"src-addrs", required_argument, NULL, 's'},
        {"connect-rate", required_argument, NULL, 'c'},
        {"max-pending", required_argument, NULL, 'm'},
        {"connect-timeout", required_argument, NULL, 'T'},
        {"hold", required_argument, NULL, 'h'},
        {"load", required_argument, NULL, 'l'},
        {"rate", required_argument, NULL, 'r'},
        {"warmup", required_argument, NULL, 'w'},
        {"duration", required_argument, NULL, 'd'},
        {"evse", required_argument, NULL, 'e'},
        {"server-pid", required_argument, NULL, 'S'},
        {"label", required_argument, NULL, 'L'},
        {"ev", no_argument, NULL, 'E'},
        {"profile-log", required_argument, NULL, 'F'},
        {"meter-s", required_argument, NULL, 'M'},
        {"ev-w", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, '?'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'H':
            opt.host = optarg;
            break;
        case 'p':
            opt.port = (int)num_arg("port", optarg, 1, 65535);
            break;
        case 'P':
            opt.path = optarg;
            break;
        case 'x':
            opt.prefix = optarg;
            break;
        case 'n':
            opt.n = (unsigned)num_arg("stations", optarg, 1, 1000000);
            break;
        case 's':
            opt.src_addrs = (unsigned)num_arg("src-addrs", optarg, 1, MAX_SRC);
            break;
        case 'c':
            opt.connect_rate = num_arg("connect-rate", optarg, 1, 1e6);
            break;
        case 'm':
            opt.max_pending = (unsigned)num_arg("max-pending", optarg, 1, 1e6);
            break;
        case 'T':
            opt.connect_timeout_s = num_arg("connect-timeout", optarg, 1, 3600);
            break;
        case 'h':
            opt.hold_s = num_arg("hold", optarg, 0, 3600);
            break;
        case 'l':
            snprintf(opt.load, sizeof(opt.load), "%s", optarg);
            break;
        case 'r':
            opt.rate = num_arg("rate", optarg, 1, 1e7);
            break;
        case 'w':
            opt.warmup_s = num_arg("warmup", optarg, 0, 3600);
            break;
        case 'd':
            opt.duration_s = num_arg("duration", optarg, 0.1, 3600);
            break;
        case 'e':
            opt.evse = (int)num_arg("evse", optarg, 0, 1000);
            break;
        case 'S':
            opt.server_pid = (int)num_arg("server-pid", optarg, 1, 1e9);
            break;
        case 'L':
            opt.label = optarg;
            break;
        case 'E':
            opt.ev = true;
            break;
        case 'F':
            opt.profile_log = optarg;
            break;
        case 'M':
            opt.meter_s = num_arg("meter-s", optarg, 0, 3600);
            break;
        case 'W':
            opt.ev_w = num_arg("ev-w", optarg, 0, 1e6);
            break;
        case '?':
        default:
            usage(o == '?' && optopt == 0 ? stdout : stderr);
            return o == '?' && optopt == 0 ? 0 : 2;
        }
    }
    if (!opt.port || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (opt.ev && (opt.load[0] || !opt.profile_log)) {
        fprintf(stderr, "ocpp_load: --ev needs --profile-log and no --load\n");
        return 2;
    }
    if (opt.ev) {
        profile_log = fopen(opt.profile_log, "w");
        if (!profile_log) {
            fprintf(stderr, "ocpp_load: %s: %s\n", opt.profile_log, strerror(errno));
            return 1;
        }
    }
    if (strlen(opt.prefix) + 7 > 44) {
        fprintf(stderr, "ocpp_load: --prefix too long\n");
        return 2;
    }
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &dst.sin_addr) != 1) {
        fprintf(stderr, "ocpp_load: --host: \"%s\" is not an IPv4 address\n", opt.host);
        return 2;
    }
    for (unsigned i = 0; i < opt.src_addrs; i++)
        src[i].s_addr = htonl(0x7f000001u + i);

    raise_nofile(opt.n + 64);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    conns = calloc(opt.n, sizeof(*conns));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || ep < 0) {
        perror("ocpp_load");
        return 1;
    }
    for (unsigned i = 0; i < opt.n; i++) {
        conns[i].idx = i;
        conns[i].fd = -1;
        conns[i].limit = NAN;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* ---- connect, boot, hold ---- */
    long rss0 = server_kb("VmRSS");
    double scpu0 = server_cpu_s(), ccpu0 = cpu_s();
    connect_t0 = now_ns();
    run(connect_t0 + (int64_t)(opt.connect_timeout_s * 1e9), all_settled);
    int64_t t_booted = now_ns();
    double connect_s = (double)(t_booted - connect_t0) / 1e9;
    double scpu1 = server_cpu_s(), ccpu1 = cpu_s();
    uint64_t boot_errors = st.callerrors, boot_bad = st.bad;
    run(t_booted + (int64_t)(opt.hold_s * 1e9), NULL);
    long rss_held = server_kb("VmRSS");
    unsigned held = n_open;
    double per_station =
        held && rss0 >= 0 && rss_held >= 0 ? (double)(rss_held - rss0) / held : -1;
    printf("{\"phase\":\"held\",\"label\":");
    json_str(stdout, opt.label);
    printf(
        ",\"stations\":%u,\"booted\":%u,\"held\":%u,\"failed\":%u,"
        "\"fail_connect\":%u,\"fail_upgrade\":%u,\"fail_boot\":%u,\"fail_closed\":%u,"
        "\"connect_s\":%.3f,\"hold_s\":%.1f,\"boot_callerrors\":%llu,\"bad_frames\":%llu,"
        "\"lost\":%llu,\"server_rss_before_kb\":%ld,\"server_rss_held_kb\":%ld,"
        "\"server_kib_per_station\":%.2f,\"server_cpu_connect_s\":%.2f,"
        "\"client_cpu_connect_s\":%.2f,\"first_failure\":",
        opt.n, n_booted, held, n_failed, fail_connect, fail_http, fail_boot, fail_closed,
        connect_s, opt.hold_s, (unsigned long long)boot_errors,
        (unsigned long long)boot_bad, (unsigned long long)st.closed, rss0, rss_held,
        per_station, scpu0 >= 0 ? scpu1 - scpu0 : -1, ccpu1 - ccpu0);
    json_str(stdout, fail_what);
    printf(",\"first_error\":");
    json_str(stdout, first_error);
    printf("}\n");
    printf("ocpp_load: %s%s%u/%u stations connected and booted in %.2f s, %u held after "
           "%.0f s; server RSS %ld -> %ld kB = %.1f KiB/station%s%s\n",
           opt.label, opt.label[0] ? ": " : "", n_booted, opt.n, connect_s, held,
           opt.hold_s, rss0, rss_held, per_station, n_failed ? "; FAILED: " : "",
           n_failed ? fail_what : "");
    if (!held) {
        fprintf(stderr, "ocpp_load: no station connected\n");
        return 1;
    }
    if (opt.ev) {
        printf("{\"phase\":\"ev\",\"label\":");
        json_str(stdout, opt.label);
        printf(",\"stations\":%u,\"held\":%u,\"tx_started\":%u,\"set_profile\":%llu,"
               "\"clear_profile\":%llu,\"composite\":%llu,\"not_implemented\":%llu,"
               "\"callerrors\":%llu,\"bad_frames\":%llu,\"lost\":%llu,\"first_error\":",
               opt.n, held, n_tx_started, (unsigned long long)n_set_profile,
               (unsigned long long)n_clear_profile, (unsigned long long)n_composite,
               (unsigned long long)n_not_implemented, (unsigned long long)st.callerrors,
               (unsigned long long)st.bad, (unsigned long long)st.closed);
        json_str(stdout, first_error);
        printf("}\n");
        fclose(profile_log);
    }

    /* ---- load phases ---- */
    char *save = NULL;
    for (char *ph = strtok_r(opt.load, ",", &save); ph && !stop_now;
         ph = strtok_r(NULL, ",", &save)) {
        if (!strcmp(ph, "b2b"))
            mode = M_B2B;
        else if (!strcmp(ph, "paced"))
            mode = M_PACED;
        else {
            fprintf(stderr, "ocpp_load: --load: unknown phase \"%s\"\n", ph);
            return 2;
        }
        memset(&st, 0, sizeof(st));
        first_error[0] = '\0';
        draining = false;
        int64_t t0 = now_ns();
        pace_t0 = t0;
        pace_done = 0;
        if (mode == M_B2B) {
            for (unsigned i = 0; i < opt.n; i++) {
                if (conns[i].state == C_READY && !conns[i].outstanding)
                    send_call(&conns[i], t0);
            }
        }
        run(t0 + (int64_t)(opt.warmup_s * 1e9), NULL);
        /* the measured window */
        memset(&st, 0, sizeof(st));
        first_error[0] = '\0';
        unsigned open0 = n_open;
        double c0 = cpu_s(), s0 = server_cpu_s();
        int64_t m0 = now_ns(), m1 = m0 + (int64_t)(opt.duration_s * 1e9);
        long rss_max = -1;
        for (int64_t t = m0; t < m1 && !stop_now;) {
            int64_t next = t + 1000000000 < m1 ? t + 1000000000 : m1;
            run(next, NULL);
            long r = server_kb("VmRSS");
            if (r > rss_max)
                rss_max = r;
            t = now_ns();
        }
        int64_t m_end = now_ns();
        double c1 = cpu_s(), s1 = server_cpu_s();
        long hwm = server_kb("VmHWM");
        double secs = (double)(m_end - m0) / 1e9;
        double rps = (double)st.rt / secs;
        double scpu = s0 >= 0 ? s1 - s0 : -1;
        double us_rt = st.rt && scpu >= 0 ? scpu * 1e6 / (double)st.rt : -1;
        double load_per_station =
            open0 && rss_max >= 0 && rss0 >= 0 ? (double)(rss_max - rss0) / open0 : -1;
        printf("{\"phase\":\"%s\",\"label\":", ph);
        json_str(stdout, opt.label);
        printf(",\"stations\":%u,\"active\":%u,\"target_rate\":%.0f,\"warmup_s\":%.1f,"
               "\"duration_s\":%.3f,\"round_trips\":%llu,\"rt_per_s\":%.1f,"
               "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
               "\"max_ms\":%.3f,\"mean_ms\":%.3f,\"callerrors\":%llu,\"bad_frames\":%llu,"
               "\"lost\":%llu,\"late\":%llu,\"skipped\":%llu,\"pings\":%llu,"
               "\"client_cpu_s\":%.3f,\"client_cpu_pct\":%.1f,\"server_cpu_s\":%.3f,"
               "\"server_cpu_pct\":%.1f,\"server_cpu_us_per_rt\":%.2f,"
               "\"server_rss_load_kb\":%ld,\"server_hwm_kb\":%ld,"
               "\"server_kib_per_station_load\":%.2f,\"first_error\":",
               open0, n_open, mode == M_PACED ? opt.rate : 0, opt.warmup_s, secs,
               (unsigned long long)st.rt, rps, hist_pct_ms(&st.h, 50),
               hist_pct_ms(&st.h, 90), hist_pct_ms(&st.h, 99), hist_pct_ms(&st.h, 99.9),
               (double)st.h.max_us / 1000.0,
               st.h.count ? (double)st.h.sum_us / (double)st.h.count / 1000.0 : 0,
               (unsigned long long)st.callerrors, (unsigned long long)st.bad,
               (unsigned long long)st.closed, (unsigned long long)st.late,
               (unsigned long long)st.skipped, (unsigned long long)st.pings, c1 - c0,
               100 * (c1 - c0) / secs, scpu, scpu >= 0 ? 100 * scpu / secs : -1, us_rt,
               rss_max, hwm, load_per_station);
        json_str(stdout, first_error);
        printf("}\n");
        bool errs = st.callerrors || st.bad || st.closed;
        printf(
            "ocpp_load: %s%s%s, %u stations: %.0f round trips/s, p50 %.2f ms, p99 %.2f "
            "ms, max %.2f ms; server %.1f us CPU/rt, RSS %ld kB under load "
            "(%.1f KiB/station); client CPU %.0f %%%s%s\n",
            opt.label, opt.label[0] ? ": " : "", ph, open0, rps, hist_pct_ms(&st.h, 50),
            hist_pct_ms(&st.h, 99), (double)st.h.max_us / 1000.0, us_rt, rss_max,
            load_per_station, 100 * (c1 - c0) / secs, errs ? "; ERRORS: " : "",
            errs ? first_error : "");
        /* let the outstanding calls come back before the next phase */
        draining = true;
        run(now_ns() + 10 * (int64_t)1000000000, none_outstanding);
        mode = M_NONE;
        for (unsigned i = 0; i < opt.n; i++)
            conns[i].due = false;
    }
    for (unsigned i = 0; i < opt.n; i++) {
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    }
    free(conns);
    close(ep);
    return 0;
}
