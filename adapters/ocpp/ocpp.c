/* The OCPP CSMS adapter: charging stations connect to us over OCPP-J.
 *
 * Transport: libwebsockets vhosts (made by security.c) on ocpp.listen and,
 * with TLS, ocpp.tls_listen serving ws(s)://HOST:PORT/ocpp/{stationId} with
 * the subprotocols "ocpp2.1" and "ocpp2.0.1"; of those a station offers, the
 * first in its list wins (RFC 6455: the client lists them by preference). A
 * connection that offers neither, whose path is not /ocpp/{id}, whose
 * station no evse asset names (unless ocpp.allow_unknown_stations), or that
 * does not meet the station's security profile (security.c) is refused
 * before the upgrade. A station that connects again replaces its old
 * connection.
 *
 * Every inbound frame is decoded (protocols/ocpp/fg_ocppj.h) and every CALL
 * validated against its official schema (fg_ocpp_schema.h) before a handler
 * sees it; the answer to a bad frame is the CALLERROR the codec or the
 * validator names. Handlers are a table by action. Our own answers are
 * validated too: a handler that builds an invalid payload is a bug, and the
 * station gets InternalError rather than a frame it would reject.
 *
 * Stations are heap objects that outlive their connections (boot state,
 * EVSEs); a connection's session data points at its station and is detached
 * when the station gets a newer connection or the adapter stops, so no
 * callback ever follows a stale pointer. Loop thread only. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libwebsockets.h>

#include "fg_adapter.h"
#include "fg_ocpp_adapter.h"
#include "fg_buf.h"
#include "fg_ocpp_schema.h"
#include "fg_ocppj.h"
#include "fg_utf8.h"
#include "log.h"
#include "model_json.h"
#include "security.h"

#define STATION_ID_MAX 44 /* leaves room for "-NN" in an asset id */
#define MAX_STATIONS 10000
#define TX_QUEUE_MAX 64 /* frames waiting for a slow station */

struct frame {
    struct frame *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the frame */
};

#define TX_MAX 16 /* transactions tracked per station */

/* What we keep of a transaction to apply its events once and in order. */
struct tx {
    char id[37];
    int evse_id;
    long long seq_no;       /* last applied event */
    double energy_start_wh; /* first energy register reading, NAN until seen */
};

struct station;
struct ocpp;
struct cfg_evse;
struct write;
struct held;
struct out_call;

/* Called once per CALL of ours: with the validated CALLRESULT payload, or
 * with result NULL and `why` (CALLERROR, timeout, disconnect). */
typedef void (*reply_fn)(struct ocpp *o, struct station *st, struct out_call *c,
                         const cJSON *result, const char *why);

#define CALLQ_MAX 32 /* our CALLs waiting per station */

struct out_call {
    struct out_call *next;
    char id[FG_OCPPJ_ID_MAX + 1];
    char action[FG_OCPPJ_ACTION_MAX + 1];
    cJSON *payload; /* owned */
    reply_fn done;
    int evse_id;      /* context for done */
    double w;         /* SetChargingProfile: the set-point it carries */
    double limit;     /* ... and its limit in the profile's unit */
    int64_t valid_to; /* ... and its end */
    int purpose;      /* ... enum purpose */
    bool sent;
    bool pre_boot;       /* may go before the station has booted */
    unsigned op;         /* operator call id, 0 = ours */
    int64_t deadline_ms; /* monotonic, once sent */
};

enum purpose { P_NONE, P_TX_DEFAULT, P_TX };

/* Our control of one EVSE: what the set-point wants and what the station
 * was given. Profiles are re-sent only when the wish changes meaningfully,
 * increases not more often than ocpp.profile_min_interval_s (reductions at
 * once), and renewed before they
 * end (validTo), so a station whose gateway goes silent falls back by
 * itself within ocpp.profile_fallback_s. */
struct evse_ctl {
    int evse_id;
    char asset[FG_ID_MAX];
    bool want;          /* a set-point is to be executed */
    double want_w;      /* its value, W */
    int64_t want_until; /* its expiry */
    /* its source renews it every call (scheduler, fallback), each expiring
     * seconds later: the profile lasts profile_fallback_s regardless (the
     * tick clears it when the set-point lapses) */
    bool renewed;
    /* the last state reported on the set-point, and its detail: a renewed
     * set-point the station already has gets them back (not "pending") */
    enum fg_sp_state state;
    char detail[sizeof(((struct fg_setpoint *)0)->detail)];
    int installed;        /* enum purpose of our profile on the station, P_NONE */
    char tx_id[37];       /* TxProfile: its transaction */
    double sent_w;        /* what the installed profile carries */
    int64_t valid_to;     /* when it ends */
    int64_t last_sent_ms; /* gateway clock */
    bool busy;            /* a call for this EVSE is queued or in flight */
    bool refused;         /* the station rejected the profile for this wish */
    int failures;         /* calls failed in a row (timeout, error): back off */
    int64_t retry_ms;     /* monotonic: not before this after a failure */
    bool dirty;           /* the wish changed while busy, or was held back */
};

struct st_evse {
    int evse_id;
    char asset[FG_ID_MAX];
    int64_t meter_stored_ms; /* gateway clock; 0: nothing stored yet */
    size_t asset_i;          /* where the asset was last found in the model (a hint) */
};

#define EVSE_INLINE 2 /* most stations have one or two EVSEs */

struct station {
    /* What every message touches comes first, in as few cache lines as
     * possible: with thousands of stations each message is a cache miss. */
    struct lws *wsi; /* current connection, NULL when disconnected */
    enum fg_ocppj_dialect dialect;
    bool booted;
    bool asked_boot; /* TriggerMessage(BootNotification) sent on this connection */
    size_t n_tx;
    struct st_evse *evses; /* its EVSEs and their assets (station_fill) */
    size_t n_evses, cap_evses;
    struct frame *head, *tail;
    size_t queued;
    struct out_call *cq_head, *cq_tail; /* our CALLs; the head may be in flight */
    size_t n_cq;
    struct evse_ctl *ctl; /* EVSEs we control */
    size_t n_ctl;
    uint64_t id_prefix, id_seq;           /* message ids of our CALLs */
    struct st_evse evse_inl[EVSE_INLINE]; /* evses, while there are this few */
    char id[STATION_ID_MAX + 1];
    char vendor[51], model[51];
    struct tx tx[TX_MAX];
};

struct pss {
    struct ocpp *o;
    struct station *st;
    char *rx; /* message being reassembled */
    size_t rx_len, rx_cap;
    bool rx_too_big;
};

#define OPS_KEPT 256 /* operator calls remembered for GET /api/v1/ocpp/calls/{n} */

enum op_state { OP_QUEUED, OP_SENT, OP_ANSWERED, OP_FAILED };

struct op_result {
    unsigned id; /* 0 = free */
    char station[STATION_ID_MAX + 1];
    char action[FG_OCPPJ_ACTION_MAX + 1];
    int state;                /* enum op_state */
    const struct out_call *c; /* while queued; compared, never followed */
    cJSON *result;            /* owned */
    char error[320];
};

struct ocpp {
    struct fg_adapter_host host;
    struct fg_ocpp_sec *sec; /* listeners and security profiles (security.c) */
    bool allow_unknown;
    int heartbeat_s;
    size_t max_frame;
    int64_t meter_interval_ms;   /* storage.meter_interval_s */
    const struct fg_config *cfg; /* valid while started (the gateway restarts us) */
    struct station **stations;
    size_t n_stations, cap_stations;
    struct fg_buf out;       /* scratch for encoding one answer */
    struct fg_ocppj_msg msg; /* the frame being handled; its arena is reused */
    bool msg_busy;           /* (a frame handled inside another gets its own) */
    unsigned char *tx;       /* LWS_PRE + a frame, for sending at once */
    size_t tx_cap;
    struct fg_timer alive;
    struct fg_timer tick; /* call timeouts, held-back and renewed profiles */
    const struct fg_cfg_id_token **tokens; /* ocpp.id_tokens sorted, for bsearch */
    struct op_result ops[OPS_KEPT];
    unsigned op_seq;
    struct cfg_evse *by_station, *by_asset; /* index_cfg() */
    size_t n_cfg_evses;
    struct write *w_head, *w_tail; /* group commit: writes to store ... */
    struct held *h_head, *h_tail;  /* ... and the answers waiting for them */
    struct fg_timer flush;
    bool flush_due;
};

#define ALIVE_EVERY_MS 15000
#define TICK_MS 1000
#define RETRY_FIRST_MS 2000LL /* after a failed SetChargingProfile, doubling */
#define DEVIATION_GRACE_S 30  /* EVs ramp; judge the measured power after this */

/* ---- stations and their EVSE assets ---------------------------------------- */

static bool station_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > STATION_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- the configured EVSEs, indexed ----------------------------------------------------
 */

/* Looked up on every connection and message, so sorted once per config:
 * by (station, evseId) and by asset id. Pointers into o->cfg. */
struct cfg_evse {
    const char *station, *asset;
    int evse_id;
};

static int cmp_by_station(const void *a, const void *b)
{
    const struct cfg_evse *x = a, *y = b;
    int c = strcmp(x->station, y->station);
    return c ? c : (x->evse_id > y->evse_id) - (x->evse_id < y->evse_id);
}

static int cmp_by_asset(const void *a, const void *b)
{
    return strcmp(((const struct cfg_evse *)a)->asset,
                  ((const struct cfg_evse *)b)->asset);
}

static int index_cfg(struct ocpp *o, const struct fg_config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &cfg->site.assets[i];
        n += a->kind == FG_ASSET_EVSE && !strcmp(a->adapter, "ocpp");
    }
    struct cfg_evse *s = n ? malloc(n * sizeof(*s)) : NULL;
    struct cfg_evse *b = n ? malloc(n * sizeof(*b)) : NULL;
    if (n && (!s || !b)) {
        free(s);
        free(b);
        return FG_ENOMEM;
    }
    n = 0;
    for (size_t i = 0; i < cfg->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &cfg->site.assets[i];
        if (a->kind == FG_ASSET_EVSE && !strcmp(a->adapter, "ocpp"))
            s[n++] = (struct cfg_evse){a->station, a->id, a->evse_id};
    }
    if (n) {
        memcpy(b, s, n * sizeof(*s));
        qsort(s, n, sizeof(*s), cmp_by_station);
        qsort(b, n, sizeof(*b), cmp_by_asset);
    }
    free(o->by_station);
    free(o->by_asset);
    o->by_station = s;
    o->by_asset = b;
    o->n_cfg_evses = n;
    return 0;
}

/* The first configured EVSE of a station, or NULL; the station's others
 * follow it in by_station. */
static const struct cfg_evse *cfg_station(const struct ocpp *o, const char *id)
{
    size_t lo = 0, hi = o->n_cfg_evses;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(o->by_station[mid].station, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < o->n_cfg_evses && !strcmp(o->by_station[lo].station, id)
               ? &o->by_station[lo]
               : NULL;
}

static bool station_configured(const struct ocpp *o, const char *id)
{
    return cfg_station(o, id) != NULL;
}

static const struct cfg_evse *cfg_asset(const struct ocpp *o, const char *asset)
{
    struct cfg_evse key = {.asset = asset};
    return o->n_cfg_evses
               ? bsearch(&key, o->by_asset, o->n_cfg_evses, sizeof(key), cmp_by_asset)
               : NULL;
}

/* ---- stations and their EVSEs ---------------------------------------------------------
 */

static struct st_evse *st_evse_find(struct station *st, int evse_id)
{
    for (size_t i = 0; i < st->n_evses; i++)
        if (st->evses[i].evse_id == evse_id)
            return &st->evses[i];
    return NULL;
}

static int st_evse_add(struct station *st, int evse_id, const char *asset)
{
    if (st->n_evses == st->cap_evses) {
        /* in the station itself at first: one cache miss less per message */
        size_t cap = st->cap_evses ? st->cap_evses * 2 : EVSE_INLINE;
        struct st_evse *n = cap <= EVSE_INLINE ? st->evse_inl : malloc(cap * sizeof(*n));
        if (!n)
            return FG_ENOMEM;
        if (n != st->evses && st->n_evses)
            memcpy(n, st->evses, st->n_evses * sizeof(*n));
        if (st->evses != st->evse_inl)
            free(st->evses);
        st->evses = n;
        st->cap_evses = cap;
    }
    struct st_evse *v = st->evses;
    memset(&v[st->n_evses], 0, sizeof(*v));
    v[st->n_evses].evse_id = evse_id;
    snprintf(v[st->n_evses].asset, sizeof(v->asset), "%s", asset);
    st->n_evses++;
    return 0;
}

/* A station's EVSEs: the configured ones, and those discovered before that
 * are still assets and not configured now. After every config change. */
static void station_fill(struct ocpp *o, struct station *st)
{
    struct st_evse kept[EVSE_INLINE], *old = st->evses;
    size_t n_old = st->n_evses;
    if (old == st->evse_inl) { /* rebuilt in place below */
        memcpy(kept, old, n_old * sizeof(*old));
        old = kept;
    }
    st->evses = NULL;
    st->n_evses = st->cap_evses = 0;
    const struct cfg_evse *c = cfg_station(o, st->id);
    for (; c && c < o->by_station + o->n_cfg_evses && !strcmp(c->station, st->id); c++)
        st_evse_add(st, c->evse_id, c->asset);
    for (size_t i = 0; i < n_old; i++) {
        if (!cfg_asset(o, old[i].asset) && !st_evse_find(st, old[i].evse_id) &&
            fg_model_find_asset(o->host.model, old[i].asset))
            st_evse_add(st, old[i].evse_id, old[i].asset);
    }
    if (old != kept)
        free(old);
}

static struct station *station_find(struct ocpp *o, const char *id)
{
    for (size_t i = 0; i < o->n_stations; i++) {
        if (!strcmp(o->stations[i]->id, id))
            return o->stations[i];
    }
    return NULL;
}

static struct station *station_get(struct ocpp *o, const char *id)
{
    struct station *st = station_find(o, id);
    if (st)
        return st;
    if (o->n_stations >= MAX_STATIONS)
        return NULL;
    if (o->n_stations == o->cap_stations) {
        size_t cap = o->cap_stations ? o->cap_stations * 2 : 16;
        struct station **v = realloc(o->stations, cap * sizeof(*v));
        if (!v)
            return NULL;
        o->stations = v;
        o->cap_stations = cap;
    }
    st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    snprintf(st->id, sizeof(st->id), "%s", id);
    station_fill(o, st);
    o->stations[o->n_stations++] = st;
    return st;
}

/* The asset of EVSE evse_id of a station: the configured one, or (for
 * stations we accept without configuration) one made now, named
 * "<station>-<evseId>", with no power until the station tells us more. */
static struct fg_asset *evse_asset(struct ocpp *o, struct station *st, int evse_id)
{
    struct fg_model *m = o->host.model;
    struct st_evse *e = st_evse_find(st, evse_id);
    if (e) {
        /* The hint spares the id index (a cache miss or two per message with
         * thousands of stations); assets move only when others are removed. */
        if (e->asset_i < m->n_assets && !strcmp(m->assets[e->asset_i].id, e->asset))
            return &m->assets[e->asset_i];
        struct fg_asset *a = fg_model_find_asset(m, e->asset);
        if (a)
            e->asset_i = (size_t)(a - m->assets);
        return a;
    }
    if (!o->allow_unknown)
        return NULL;
    char id[FG_ID_MAX];
    snprintf(id, sizeof(id), "%s-%d", st->id, evse_id);
    struct fg_asset *a = fg_model_find_asset(m, id);
    if (!a) {
        struct fg_asset n;
        memset(&n, 0, sizeof(n));
        snprintf(n.id, sizeof(n.id), "%s", id);
        snprintf(n.name, sizeof(n.name), "%s EVSE %d", st->id, evse_id);
        snprintf(n.adapter, sizeof(n.adapter), "ocpp");
        n.kind = FG_ASSET_EVSE;
        n.power_w = NAN;
        n.reactive_var = NAN;
        n.evse.ev_soc = NAN;
        n.evse.state = FG_CONN_AVAILABLE;
        struct fg_error err = {0};
        if (fg_model_add_asset(m, &n, &err)) {
            fg_warn("ocpp", "%s: EVSE %d not added: %s", st->id, evse_id, err.msg);
            return NULL;
        }
        fg_info("ocpp", "%s: new EVSE %d added as asset %s", st->id, evse_id, id);
        a = fg_model_find_asset(m, id);
    }
    if (st_evse_add(st, evse_id, id))
        return NULL;
    return a;
}

/* Mark every EVSE asset of a station online or offline. */
static void station_assets_online(struct ocpp *o, const struct station *st, bool online)
{
    struct fg_model *m = o->host.model;
    int64_t now = fg_clock_now_s(o->host.clock);
    for (size_t i = 0; i < st->n_evses; i++) {
        struct fg_asset *a = fg_model_find_asset(m, st->evses[i].asset);
        if (!a)
            continue;
        a->online = online;
        if (online)
            a->last_seen = now;
        m->version++;
    }
}

/* ---- sending ------------------------------------------------------------------ */

/* Send a frame. Straight away when nothing waits before it (the usual case:
 * one answer per CALL): no copy to the heap, no extra pass of the loop and
 * no epoll changes for POLLOUT, which the benchmark showed cost more than
 * the send. lws keeps what a short write leaves over; while it holds such a
 * rest, frames wait in our queue, at most TX_QUEUE_MAX, for
 * SERVER_WRITEABLE, so a station that stops reading cannot grow memory. */
static void queue_frame(struct ocpp *o, struct station *st, const char *data, size_t len)
{
    if (!st->wsi)
        return;
    if (!st->head && !lws_partial_buffered(st->wsi) && LWS_PRE + len <= o->tx_cap) {
        memcpy(o->tx + LWS_PRE, data, len);
        if (lws_write(st->wsi, o->tx + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len) {
            fg_warn("ocpp", "%s: send failed, closing", st->id);
            lws_set_timeout(st->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        }
        fg_metrics_adapter(o->host.metrics, "ocpp", 0, 1);
        return;
    }
    if (st->queued >= TX_QUEUE_MAX) {
        fg_warn("ocpp", "%s: %zu frames unsent, dropping the connection", st->id,
                st->queued);
        lws_set_timeout(st->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        return;
    }
    struct frame *f = malloc(sizeof(*f) + LWS_PRE + len);
    if (!f)
        return;
    f->next = NULL;
    f->len = len;
    memcpy(f->data + LWS_PRE, data, len);
    if (st->tail)
        st->tail->next = f;
    else
        st->head = f;
    st->tail = f;
    st->queued++;
    fg_metrics_adapter(o->host.metrics, "ocpp", 0, 1);
    lws_callback_on_writable(st->wsi);
}

static void drop_queue(struct station *st)
{
    while (st->head) {
        struct frame *f = st->head;
        st->head = f->next;
        free(f);
    }
    st->tail = NULL;
    st->queued = 0;
}

static void send_error(struct ocpp *o, struct station *st, enum fg_ocppj_type t,
                       const char *id, const struct fg_ocpp_verror *e)
{
    /* path + ": " + text; the encoder cuts it to 255 bytes on a UTF-8 boundary */
    char desc[sizeof(e->path) + sizeof(e->desc) + 2];
    if (e->path[0])
        snprintf(desc, sizeof(desc), "%s: %s", e->path, e->desc);
    else
        snprintf(desc, sizeof(desc), "%s", e->desc);
    fg_buf_clear(&o->out);
    if (fg_ocppj_encode_error(&o->out, t, id, e->code, desc, NULL) == 0)
        queue_frame(o, st, o->out.s, o->out.len);
    fg_dbg("ocpp", "%s: %s for message %s: %s", st->id, fg_ocpp_errcode_name(e->code), id,
           desc);
}

static void send_result(struct ocpp *o, struct station *st, const char *id,
                        const cJSON *p)
{
    fg_buf_clear(&o->out);
    if (fg_ocppj_encode_result(&o->out, id, p) == 0)
        queue_frame(o, st, o->out.s, o->out.len);
}

/* ---- group commit -------------------------------------------------------------------
 */

/* What a station is told we have must be stored first, but one SQLite commit
 * (an fsync) per MeterValues caps the gateway at a few thousand messages a
 * second. So writes are queued while the loop reads what the stations sent,
 * and stored together in one transaction right after (a zero-delay timer);
 * the answers that depend on them are held until that commit and then sent,
 * or replaced by InternalError if it failed (the station keeps the data and
 * retries). Nothing else writes to the store in between: the flush is one
 * synchronous step on the loop thread. */

enum { W_METER, W_TX };

struct write {
    struct write *next;
    int kind;
    int evse;
    int64_t ts_ms;
    double power_w, energy_wh, soc;
    char *json;          /* W_TX: the event, owned */
    char key[FG_ID_MAX]; /* W_METER: asset id; W_TX: transaction id */
    char station[STATION_ID_MAX + 1];
    char event[16];
};

struct held {
    struct held *next;
    struct station *st; /* stations outlive their connections */
    struct lws *wsi;    /* the connection the answer is for */
    char id[FG_OCPPJ_ID_MAX + 1];
    char action[FG_OCPPJ_ACTION_MAX + 1];
    size_t len;
    char frame[];
};

static void queue_write(struct ocpp *o, struct write *w)
{
    if (o->w_tail)
        o->w_tail->next = w;
    else
        o->w_head = w;
    o->w_tail = w;
    if (!o->flush_due) {
        o->flush_due = true;
        fg_timer_start(&o->flush, 0);
    }
}

static int store_write(struct ocpp *o, const struct write *w)
{
    if (w->kind == W_METER)
        return fg_store_meter_add(o->host.store, w->key, w->ts_ms, w->power_w,
                                  w->energy_wh, w->soc);
    return fg_store_tx_put(o->host.store, w->key, w->station, w->evse, w->event, w->json,
                           w->ts_ms);
}

static void flush_writes(struct ocpp *o)
{
    struct write *w = o->w_head;
    struct held *h = o->h_head;
    o->w_head = o->w_tail = NULL;
    o->h_head = o->h_tail = NULL;
    o->flush_due = false;
    int rc = 0;
    size_t n = 0;
    if (w) {
        rc = fg_store_batch_begin(o->host.store);
        for (struct write *x = w; x && !rc; x = x->next, n++)
            rc = store_write(o, x);
        rc = fg_store_batch_end(o->host.store, rc);
        if (rc)
            fg_err("ocpp", "%zu station messages not stored: %s; answering InternalError",
                   n, fg_store_errmsg(o->host.store));
    }
    while (w) {
        struct write *next = w->next;
        free(w->json);
        free(w);
        w = next;
    }
    while (h) {
        struct held *next = h->next;
        if (h->st->wsi && h->st->wsi == h->wsi) {
            if (!rc) {
                queue_frame(o, h->st, h->frame, h->len);
            } else {
                struct fg_ocpp_verror e = {.code = FG_OCPP_INTERNAL_ERROR};
                snprintf(e.desc, sizeof(e.desc), "%s not stored, send it again",
                         h->action);
                send_error(o, h->st, FG_OCPPJ_CALLERROR, h->id, &e);
            }
        }
        free(h);
        h = next;
    }
}

static void on_flush(struct fg_timer *t)
{
    flush_writes(t->arg);
}

/* Hold an encoded answer (o->out) until the writes before it are stored. */
static int hold_answer(struct ocpp *o, struct station *st, const struct fg_ocppj_msg *msg)
{
    struct held *h = malloc(sizeof(*h) + o->out.len);
    if (!h)
        return FG_ENOMEM;
    h->next = NULL;
    h->st = st;
    h->wsi = st->wsi;
    snprintf(h->id, sizeof(h->id), "%s", msg->id);
    snprintf(h->action, sizeof(h->action), "%s", msg->action);
    h->len = o->out.len;
    memcpy(h->frame, o->out.s, o->out.len);
    if (o->h_tail)
        o->h_tail->next = h;
    else
        o->h_head = h;
    o->h_tail = h;
    return 0;
}

/* ---- handlers ------------------------------------------------------------------ */

struct call {
    struct ocpp *o;
    struct station *st;
    const struct fg_ocppj_msg *msg;
    cJSON *reply;              /* the CALLRESULT payload to build */
    struct fg_ocpp_verror err; /* or the CALLERROR to answer */
    bool wrote;                /* the answer waits for queued writes */
};

static void now_rfc3339(struct ocpp *o, char *buf, size_t n)
{
    time_t t = (time_t)fg_clock_now_s(o->host.clock);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *str_at(const cJSON *j, const char *a, const char *b)
{
    const cJSON *x = fg_json_get(j, a);
    if (b)
        x = fg_json_get(x, b);
    return fg_json_is(x, cJSON_String) ? x->valuestring : "";
}

static int h_boot(struct call *c)
{
    char now[32];
    now_rfc3339(c->o, now, sizeof(now));
    snprintf(c->st->vendor, sizeof(c->st->vendor), "%s",
             str_at(c->msg->payload, "chargingStation", "vendorName"));
    snprintf(c->st->model, sizeof(c->st->model), "%s",
             str_at(c->msg->payload, "chargingStation", "model"));
    c->st->booted = true;
    station_assets_online(c->o, c->st, true);
    /* After a (re)boot, what the station holds is not known: send the
     * wanted profiles again (same ids replace) and clear unwanted ones. */
    for (size_t i = 0; i < c->st->n_ctl; i++) {
        struct evse_ctl *ctl = &c->st->ctl[i];
        ctl->last_sent_ms = 0;
        if (ctl->want)
            ctl->installed = P_NONE;
        ctl->dirty = ctl->want || ctl->installed != P_NONE;
    }
    fg_info("ocpp", "%s: booted (%s %s, reason %s)", c->st->id, c->st->vendor,
            c->st->model, str_at(c->msg->payload, "reason", NULL));
    cJSON_AddStringToObject(c->reply, "currentTime", now);
    cJSON_AddNumberToObject(c->reply, "interval", c->o->heartbeat_s);
    cJSON_AddStringToObject(c->reply, "status", "Accepted");
    return 0;
}

static int h_heartbeat(struct call *c)
{
    char now[32];
    now_rfc3339(c->o, now, sizeof(now));
    station_assets_online(c->o, c->st, true);
    cJSON_AddStringToObject(c->reply, "currentTime", now);
    return 0;
}

/* OCPP state names to the model's connector state. */
struct state_name {
    const char *name;
    enum fg_connector_state state;
};

#define NSTATES(t) (sizeof(t) / sizeof((t)[0]))

/* Set *state from the table entry named `name`; unknown names change nothing. */
static void map_state(const struct state_name *t, size_t n, const char *name,
                      enum fg_connector_state *state)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(name, t[i].name)) {
            *state = t[i].state;
            return;
        }
    }
}

static const struct state_name connector_states[] = {
    {"Available", FG_CONN_AVAILABLE}, {"Occupied", FG_CONN_OCCUPIED},
    {"Reserved", FG_CONN_AVAILABLE},  {"Unavailable", FG_CONN_UNAVAILABLE},
    {"Faulted", FG_CONN_FAULTED},
};

static int h_status(struct call *c)
{
    const cJSON *p = c->msg->payload;
    int evse_id = fg_json_get(p, "evseId")->valueint;
    const char *status = str_at(p, "connectorStatus", NULL);
    struct fg_asset *a = evse_asset(c->o, c->st, evse_id);
    if (!a) {
        /* A configured station reporting an EVSE the site does not know. */
        fg_warn("ocpp", "%s: status of unconfigured EVSE %d ignored", c->st->id, evse_id);
        return 0;
    }
    map_state(connector_states, NSTATES(connector_states), status, &a->evse.state);
    a->online = true;
    a->last_seen = fg_clock_now_s(c->o->host.clock);
    c->o->host.model->version++;
    return 0;
}

/* ---- authorisation --------------------------------------------------------------- */

static int cmp_token(const void *a, const void *b)
{
    return strcasecmp((*(const struct fg_cfg_id_token *const *)a)->id,
                      (*(const struct fg_cfg_id_token *const *)b)->id);
}

static int cmp_token_key(const void *k, const void *e)
{
    return strcasecmp(k, (*(const struct fg_cfg_id_token *const *)e)->id);
}

/* The local list, sorted: Authorize looks a token up in log n, also with
 * 100,000 cards. Config validation has refused duplicates. */
static int index_tokens(struct ocpp *o, const struct fg_config *cfg)
{
    const struct fg_cfg_id_token **v = NULL;
    size_t n = cfg->ocpp.n_id_tokens;
    if (n && !(v = malloc(n * sizeof(*v))))
        return FG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = &cfg->ocpp.id_tokens[i];
    if (n)
        qsort(v, n, sizeof(*v), cmp_token);
    free(o->tokens);
    o->tokens = v;
    return 0;
}

/* idTokenInfo for a token the station presents: with authorization "any"
 * every token is accepted; with "list" only those listed (and of the listed
 * type, if one is given) get their listed status, others Unknown. */
static void token_info(const struct ocpp *o, const cJSON *id_token, cJSON *info)
{
    const char *token = str_at(id_token, "idToken", NULL);
    const char *type = str_at(id_token, "type", NULL);
    const char *status = "Accepted";
    const struct fg_cfg_id_token *t = NULL;
    if (o->cfg->ocpp.n_id_tokens) {
        const struct fg_cfg_id_token *const *hit =
            bsearch(token, o->tokens, o->cfg->ocpp.n_id_tokens, sizeof(*o->tokens),
                    cmp_token_key);
        if (hit &&
            (!(*hit)->type || !strcmp(fg_cfg_id_token_type_name((*hit)->type), type)))
            t = *hit;
    }
    if (t)
        status = fg_cfg_id_token_status_name(t->status);
    else if (o->cfg->ocpp.authorization == FG_OCPP_AUTH_LIST)
        status = "Unknown";
    cJSON_AddStringToObject(info, "status", status);
    if (t && t->group[0]) {
        cJSON *g = cJSON_AddObjectToObject(info, "groupIdToken");
        cJSON_AddStringToObject(g, "idToken", t->group);
        cJSON_AddStringToObject(g, "type", "Central");
    }
}

static int h_authorize(struct call *c)
{
    const cJSON *tok = fg_json_get(c->msg->payload, "idToken");
    cJSON *info = cJSON_AddObjectToObject(c->reply, "idTokenInfo");
    if (!info)
        return -1;
    token_info(c->o, tok, info);
    fg_info("ocpp", "%s: Authorize %s: %s", c->st->id, str_at(tok, "idToken", NULL),
            str_at(info, "status", NULL));
    return 0;
}

/* ---- transactions and meter values ---------------------------------------------- */

static struct tx *tx_find(struct station *st, const char *id)
{
    for (size_t i = 0; i < st->n_tx; i++) {
        if (!strcmp(st->tx[i].id, id))
            return &st->tx[i];
    }
    return NULL;
}

static struct tx *tx_new(struct station *st, const char *id, int evse_id)
{
    if (st->n_tx == TX_MAX) /* forget the oldest */
        memmove(&st->tx[0], &st->tx[1], sizeof(st->tx[0]) * --st->n_tx);
    struct tx *t = &st->tx[st->n_tx++];
    snprintf(t->id, sizeof(t->id), "%s", id);
    t->evse_id = evse_id;
    t->seq_no = -1;
    t->energy_start_wh = NAN;
    return t;
}

static void tx_forget(struct station *st, struct tx *t)
{
    size_t i = (size_t)(t - st->tx);
    memmove(&st->tx[i], &st->tx[i + 1], sizeof(st->tx[0]) * (st->n_tx - i - 1));
    st->n_tx--;
}

/* A sampled value in base units (W, Wh, %): value x 10^multiplier, and a
 * "k" unit prefix folded in. */
static double sample_value(const cJSON *sv)
{
    const cJSON *uom = fg_json_get(sv, "unitOfMeasure");
    const cJSON *mul = fg_json_get(uom, "multiplier");
    const char *unit = str_at(uom, "unit", NULL);
    double v = fg_json_get(sv, "value")->valuedouble;
    if (fg_json_is(mul, cJSON_Number))
        v *= pow(10.0, mul->valuedouble);
    if (!strcmp(unit, "kW") || !strcmp(unit, "kWh"))
        v *= 1000.0;
    return v;
}

struct meter {
    double power_w, energy_wh, soc;
};

/* The latest totals in a meterValue array (per-phase samples are skipped:
 * the totals are what the model needs). */
static struct meter read_meter(const cJSON *meter_values)
{
    struct meter m = {NAN, NAN, NAN};
    const cJSON *mv, *sv;
    cJSON_ArrayForEach(mv, meter_values)
    {
        cJSON_ArrayForEach(sv, fg_json_get(mv, "sampledValue"))
        {
            if (fg_json_get(sv, "phase"))
                continue;
            const char *what = str_at(sv, "measurand", NULL);
            double v = sample_value(sv);
            if (!what[0] || !strcmp(what, "Energy.Active.Import.Register"))
                m.energy_wh = v;
            else if (!strcmp(what, "Power.Active.Import"))
                m.power_w = v;
            else if (!strcmp(what, "Power.Active.Export"))
                m.power_w = -v;
            else if (!strcmp(what, "SoC"))
                m.soc = v;
        }
    }
    return m;
}

/* Measured power against the set-point: a charging limit must not be
 * exceeded, a V2X set-point should be followed; judged after the EV has had
 * DEVIATION_GRACE_S to ramp. */
static void check_deviation(struct ocpp *o, struct fg_asset *a)
{
    struct fg_setpoint *sp = &a->sp;
    int64_t now = fg_clock_now_s(o->host.clock);
    if (!sp->active || isnan(a->power_w) ||
        (sp->state != FG_SPS_ACCEPTED && sp->state != FG_SPS_VERIFIED) ||
        now - sp->set_at < DEVIATION_GRACE_S) {
        sp->deviation_w = 0;
        return;
    }
    double tol = fmax(500, 0.1 * fabs(sp->w));
    double dev = a->power_w - sp->w;
    bool off = sp->w >= 0 ? dev > tol : fabs(dev) > tol;
    double was = sp->deviation_w;
    sp->deviation_w = off ? dev : 0;
    if (off && was == 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s: measured %.0f W against a set-point of %.0f W",
                 a->id, a->power_w, sp->w);
        fg_warn("ocpp", "%s", msg);
        fg_store_event_add(o->host.store, fg_clock_now_ms(o->host.clock), "warn", "ocpp",
                           "setpoint_deviation", msg, NULL);
    }
}

/* Meter history keeps at most one reading per EVSE per
 * storage.meter_interval_s (the first of each interval); every reading still
 * updates the model. Why: a station may send MeterValues as often as it
 * likes, and one row per message would let one busy (or broken) station grow
 * the store without bound and hold every answer for a commit. What must not be
 * lost, the transaction events with their meter values, is stored whole in
 * any case. */

static void apply_meter(struct call *c, struct fg_asset *a, int evse_id, struct tx *t,
                        struct meter m)
{
    if (!isnan(m.power_w))
        a->power_w = m.power_w;
    if (!isnan(m.soc))
        a->evse.ev_soc = m.soc;
    if (t && !isnan(m.energy_wh)) {
        if (isnan(t->energy_start_wh))
            t->energy_start_wh = m.energy_wh;
        a->evse.energy_wh = m.energy_wh - t->energy_start_wh;
    }
    int64_t now = fg_clock_now_s(c->o->host.clock);
    a->online = true;
    a->last_seen = now;
    c->o->host.model->version++;
    check_deviation(c->o, a);
    int64_t now_ms = fg_clock_now_ms(c->o->host.clock);
    struct st_evse *e = st_evse_find(c->st, evse_id);
    if (e && e->meter_stored_ms &&
        now_ms - e->meter_stored_ms < c->o->meter_interval_ms &&
        now_ms >= e->meter_stored_ms)
        return;
    struct write *w = calloc(1, sizeof(*w));
    if (!w) {
        fg_warn("ocpp", "%s: meter values not stored: out of memory", a->id);
        return;
    }
    if (e)
        e->meter_stored_ms = now_ms;
    w->kind = W_METER;
    w->ts_ms = now_ms;
    w->power_w = m.power_w;
    w->energy_wh = m.energy_wh;
    w->soc = m.soc;
    snprintf(w->key, sizeof(w->key), "%s", a->id);
    queue_write(c->o, w);
    c->wrote = true;
}

static const struct state_name charging_states[] = {
    {"Charging", FG_CONN_CHARGING},     {"EVConnected", FG_CONN_OCCUPIED},
    {"SuspendedEV", FG_CONN_SUSPENDED}, {"SuspendedEVSE", FG_CONN_SUSPENDED},
    {"Idle", FG_CONN_OCCUPIED},
};

static void apply_tx_event(struct call *c, struct fg_asset *a, int evse_id, struct tx *t,
                           const char *event)
{
    const cJSON *p = c->msg->payload;
    const cJSON *info = fg_json_get(p, "transactionInfo");
    const char *cs = str_at(info, "chargingState", NULL);
    map_state(charging_states, NSTATES(charging_states), cs, &a->evse.state);
    if (!a->evse.session_active || strcmp(a->evse.session_id, t->id)) {
        /* A new session: nothing the previous EV said applies to this one. */
        struct fg_evse *e = &a->evse;
        e->session_active = true;
        snprintf(e->session_id, sizeof(e->session_id), "%s", t->id);
        e->energy_wh = 0;
        e->energy_requested_wh = 0;
        e->departure = 0;
        e->ev_soc = NAN;
        e->ev_min_w = e->ev_max_w = e->ev_max_discharge_w = 0;
        e->ev_bidirectional = false;
        int64_t ts;
        a->evse.session_start =
            fg_time_parse_rfc3339(str_at(p, "timestamp", NULL), &ts) ? 0 : ts;
    }
    const char *token = str_at(p, "idToken", "idToken");
    if (token[0])
        snprintf(a->evse.id_token, sizeof(a->evse.id_token), "%s", token);
    apply_meter(c, a, evse_id, t, read_meter(fg_json_get(p, "meterValue")));
    if (!strcmp(event, "Ended")) {
        a->evse.session_active = false;
        a->power_w = 0;
        fg_info("ocpp", "%s: transaction %s ended (%.1f kWh, %s)", c->st->id, t->id,
                a->evse.energy_wh / 1000.0, str_at(info, "stoppedReason", NULL));
    }
}

/* Stored before it is acknowledged: a TransactionEvent the station was told
 * we have survives a crash of the gateway. */
static int store_tx_event(struct call *c, const char *tx_id, int evse_id,
                          const char *event)
{
    struct write *w = calloc(1, sizeof(*w));
    char *json = w ? cJSON_PrintUnformatted(c->msg->payload) : NULL;
    if (!json) {
        free(w);
        return FG_ENOMEM;
    }
    w->kind = W_TX;
    w->json = json;
    w->evse = evse_id;
    w->ts_ms = fg_clock_now_ms(c->o->host.clock);
    snprintf(w->key, sizeof(w->key), "%s", tx_id);
    snprintf(w->station, sizeof(w->station), "%s", c->st->id);
    snprintf(w->event, sizeof(w->event), "%s", event);
    queue_write(c->o, w);
    c->wrote = true;
    return 0;
}

static int h_transaction_event(struct call *c)
{
    const cJSON *p = c->msg->payload;
    const char *event = str_at(p, "eventType", NULL);
    const char *tx_id = str_at(p, "transactionInfo", "transactionId");
    long long seq = (long long)fg_json_get(p, "seqNo")->valuedouble;
    const cJSON *evse = fg_json_get(p, "evse");
    struct tx *t = tx_find(c->st, tx_id);
    int evse_id = evse ? fg_json_get(evse, "id")->valueint : (t ? t->evse_id : 0);
    if (store_tx_event(c, tx_id, evse_id, event)) {
        fg_err("ocpp", "%s: transaction %s not stored: out of memory", c->st->id, tx_id);
        return -1; /* InternalError: the station keeps it and retries */
    }
    if (!t)
        t = tx_new(c->st, tx_id, evse_id);
    else if (seq <= t->seq_no)
        fg_dbg("ocpp", "%s: transaction %s event %lld again (retry), not reapplied",
               c->st->id, tx_id, seq);
    if (seq > t->seq_no) {
        t->seq_no = seq;
        struct fg_asset *a = evse_id > 0 ? evse_asset(c->o, c->st, evse_id) : NULL;
        if (a)
            apply_tx_event(c, a, evse_id, t, event);
        else
            fg_warn("ocpp", "%s: transaction %s on unknown EVSE %d", c->st->id, tx_id,
                    evse_id);
    }
    if (!strcmp(event, "Ended"))
        tx_forget(c->st, t);
    const cJSON *tok = fg_json_get(p, "idToken");
    if (tok) {
        cJSON *info = cJSON_AddObjectToObject(c->reply, "idTokenInfo");
        if (!info)
            return -1;
        token_info(c->o, tok, info);
    }
    return 0;
}

static int h_security_event(struct call *c)
{
    return fg_ocpp_sec_event(c->o->sec, c->st->id, c->msg->payload);
}

static int h_meter_values(struct call *c)
{
    const cJSON *p = c->msg->payload;
    int evse_id = fg_json_get(p, "evseId")->valueint;
    if (evse_id == 0)
        return 0; /* the station's main meter: not an EVSE */
    struct fg_asset *a = evse_asset(c->o, c->st, evse_id);
    if (!a)
        return 0;
    struct tx *t = NULL;
    for (size_t i = 0; i < c->st->n_tx && !t; i++) {
        if (c->st->tx[i].evse_id == evse_id)
            t = &c->st->tx[i];
    }
    apply_meter(c, a, evse_id, t, read_meter(fg_json_get(p, "meterValue")));
    return 0;
}

/* ---- what stations report ------------------------------------------------------- */

static double num_at(const cJSON *j, const char *a, double dflt)
{
    const cJSON *x = fg_json_get(j, a);
    return fg_json_is(x, cJSON_Number) ? x->valuedouble : dflt;
}

/* Store one thing a station told us as an event (GET /api/v1/events). */
static void station_event(struct ocpp *o, const struct station *st, const char *level,
                          const char *kind, const cJSON *data, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void station_event(struct ocpp *o, const struct station *st, const char *level,
                          const char *kind, const cJSON *data, const char *fmt, ...)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "%s: ", st->id);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    char *json = data ? cJSON_PrintUnformatted(data) : NULL;
    if (fg_store_event_add(o->host.store, fg_clock_now_ms(o->host.clock), level, "ocpp",
                           kind, msg, json))
        fg_warn("ocpp", "event not stored: %s", fg_store_errmsg(o->host.store));
    free(json);
    if (!strcmp(level, "warn"))
        fg_warn("ocpp", "%s", msg);
    else
        fg_info("ocpp", "%s", msg);
}

/* ISO 15118 charging needs: what the EV wants by when, and what it can take
 * (and, over OCPP 2.1 V2X, give back). They bound the EVSE's envelope. */
static int h_ev_charging_needs(struct call *c)
{
    const cJSON *p = c->msg->payload;
    const cJSON *needs = fg_json_get(p, "chargingNeeds");
    int evse_id = fg_json_get(p, "evseId")->valueint;
    struct fg_asset *a = evse_asset(c->o, c->st, evse_id);
    const char *status = "Accepted";
    if (!a || !a->evse.session_active) {
        status = "Rejected"; /* no session on that EVSE to attach the needs to */
    } else {
        struct fg_evse *e = &a->evse;
        double volts = e->voltage > 0 ? e->voltage : 230;
        int phases = e->phases > 0 ? e->phases : 3;
        const cJSON *ac = fg_json_get(needs, "acChargingParameters");
        const cJSON *dc = fg_json_get(needs, "dcChargingParameters");
        const cJSON *v2x = fg_json_get(needs, "v2xChargingParameters");
        int64_t dep;
        if (!fg_time_parse_rfc3339(str_at(needs, "departureTime", NULL), &dep))
            e->departure = dep;
        if (ac) {
            e->energy_requested_wh = num_at(ac, "energyAmount", 0);
            e->ev_min_w = num_at(ac, "evMinCurrent", 0) * volts * phases;
            e->ev_max_w = num_at(ac, "evMaxCurrent", 0) * volts * phases;
        } else if (dc) {
            e->energy_requested_wh = num_at(dc, "energyAmount", 0);
            e->ev_max_w =
                num_at(dc, "evMaxPower",
                       num_at(dc, "evMaxCurrent", 0) * num_at(dc, "evMaxVoltage", 0));
            e->ev_capacity_wh = num_at(dc, "evEnergyCapacity", e->ev_capacity_wh);
            if (fg_json_is(fg_json_get(dc, "stateOfCharge"), cJSON_Number))
                e->ev_soc = num_at(dc, "stateOfCharge", 0);
        }
        if (v2x) {
            e->ev_min_w = num_at(v2x, "minChargePower", e->ev_min_w);
            e->ev_max_w = num_at(v2x, "maxChargePower", e->ev_max_w);
            e->ev_max_discharge_w = fabs(num_at(v2x, "maxDischargePower", 0));
            e->ev_bidirectional = e->ev_max_discharge_w > 0;
        }
        c->o->host.model->version++;
        fg_info("ocpp", "%s: EVSE %d needs %.1f kWh by %lld, %.0f..%.0f W%s", c->st->id,
                evse_id, e->energy_requested_wh / 1000.0, (long long)e->departure,
                e->ev_min_w, e->ev_max_w, e->ev_bidirectional ? ", offers V2X" : "");
    }
    cJSON_AddStringToObject(c->reply, "status", status);
    return 0;
}

static int h_charging_limit(struct call *c)
{
    const cJSON *p = c->msg->payload;
    const cJSON *lim = fg_json_get(p, "chargingLimit");
    station_event(c->o, c->st, "info", "charging_limit", p,
                  "external charging limit from %s on EVSE %d",
                  str_at(lim, "chargingLimitSource", NULL), (int)num_at(p, "evseId", 0));
    return 0;
}

static int h_report_profiles(struct call *c)
{
    const cJSON *p = c->msg->payload;
    int n = cJSON_GetArraySize(fg_json_get(p, "chargingProfile"));
    fg_info("ocpp", "%s: ReportChargingProfiles request %d: %d profiles (%s) on EVSE %d",
            c->st->id, (int)num_at(p, "requestId", 0), n,
            str_at(p, "chargingLimitSource", NULL), (int)num_at(p, "evseId", 0));
    return 0;
}

static int h_notify_report(struct call *c)
{
    const cJSON *p = c->msg->payload;
    int n = cJSON_GetArraySize(fg_json_get(p, "reportData"));
    fg_info("ocpp", "%s: report %d part %d: %d variables%s", c->st->id,
            (int)num_at(p, "requestId", 0), (int)num_at(p, "seqNo", 0), n,
            cJSON_IsTrue(fg_json_get(p, "tbc")) ? " (more follow)" : "");
    return 0;
}

static int h_notify_event(struct call *c)
{
    const cJSON *ev;
    cJSON_ArrayForEach(ev, fg_json_get(c->msg->payload, "eventData"))
    {
        const cJSON *comp = fg_json_get(ev, "component");
        const cJSON *var = fg_json_get(ev, "variable");
        const char *trigger = str_at(ev, "trigger", NULL);
        station_event(c->o, c->st, strcmp(trigger, "Alerting") ? "info" : "warn",
                      "station_event", ev, "%s %s.%s = %s", trigger,
                      str_at(comp, "name", NULL), str_at(var, "name", NULL),
                      str_at(ev, "actualValue", NULL));
    }
    return 0;
}

static int h_firmware_status(struct call *c)
{
    station_event(c->o, c->st, "info", "firmware", c->msg->payload, "firmware %s",
                  str_at(c->msg->payload, "status", NULL));
    return 0;
}

static int h_log_status(struct call *c)
{
    station_event(c->o, c->st, "info", "log_upload", c->msg->payload, "log upload %s",
                  str_at(c->msg->payload, "status", NULL));
    return 0;
}

typedef int (*handler_fn)(struct call *c);

/* Sorted by action, for bsearch. Actions with a schema but no row here are
 * answered NotSupported. */
static const struct handler {
    const char *action;
    handler_fn fn;
} handlers[] = {
    // clang-format off
    {"Authorize", h_authorize},
    {"BootNotification", h_boot},
    {"FirmwareStatusNotification", h_firmware_status},
    {"Heartbeat", h_heartbeat},
    {"LogStatusNotification", h_log_status},
    {"MeterValues", h_meter_values},
    {"NotifyChargingLimit", h_charging_limit},
    {"NotifyEVChargingNeeds", h_ev_charging_needs},
    {"NotifyEvent", h_notify_event},
    {"NotifyReport", h_notify_report},
    {"ReportChargingProfiles", h_report_profiles},
    {"SecurityEventNotification", h_security_event},
    {"StatusNotification", h_status},
    {"TransactionEvent", h_transaction_event},
    // clang-format on
};

static int cmp_handler(const void *k, const void *e)
{
    return strcmp(k, ((const struct handler *)e)->action);
}

static enum fg_ocpp_version version_of(enum fg_ocppj_dialect d)
{
    return d == FG_OCPPJ_21 ? FG_OCPP_V21 : FG_OCPP_V201;
}

static void set_err(struct fg_ocpp_verror *e, enum fg_ocpp_errcode code, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

static void set_err(struct fg_ocpp_verror *e, enum fg_ocpp_errcode code, const char *fmt,
                    ...)
{
    e->code = code;
    e->path[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->desc, sizeof(e->desc), fmt, ap);
    va_end(ap);
}

static int call_send(struct station *st, const char *action, cJSON *payload,
                     reply_fn done, struct out_call **out);
static void call_pump(struct ocpp *o, struct station *st);

/* A station that talks before it booted on this gateway (typically: it was
 * connected to us before our restart, and reconnects without rebooting) is
 * asked for a BootNotification instead of being refused for ever. */
static void ask_boot(struct ocpp *o, struct station *st)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "requestedMessage", "BootNotification");
    if (call_send(st, "TriggerMessage", req, NULL, NULL) == 0) {
        st->asked_boot = true;
        call_pump(o, st);
        fg_info("ocpp", "%s: not booted here, asked for a BootNotification", st->id);
    }
}

/* Validate, dispatch, validate our answer, send. */
static void on_call(struct ocpp *o, struct station *st, const struct fg_ocppj_msg *msg)
{
    enum fg_ocpp_version v = version_of(st->dialect);
    struct call c; /* (not zeroed whole: err is mostly text buffers) */
    c.o = o;
    c.st = st;
    c.msg = msg;
    c.reply = NULL;
    c.wrote = false;
    c.err.code = FG_OCPP_OK;
    c.err.path[0] = c.err.desc[0] = '\0';
    const struct fg_ocpp_msg_schema *req = fg_ocpp_schema_find(v, msg->action, 0);
    const struct handler *h =
        bsearch(msg->action, handlers, sizeof(handlers) / sizeof(handlers[0]),
                sizeof(handlers[0]), cmp_handler);
    /* Until its BootNotification is accepted a station gets SecurityError for
     * anything else, known action or not (OCPP 2.0.1 B02/B03). */
    if (!st->booted && strcmp(msg->action, "BootNotification"))
        set_err(&c.err, FG_OCPP_SECURITY_ERROR, "%s before an accepted BootNotification",
                msg->action);
    else if (!req)
        set_err(&c.err, FG_OCPP_NOT_IMPLEMENTED, "unknown action %s", msg->action);
    else if (fg_ocpp_validate(req, msg->payload, &c.err))
        ; /* c.err says why */
    else if (!h)
        set_err(&c.err, FG_OCPP_NOT_SUPPORTED, "%s is not handled by this gateway",
                msg->action);
    if (c.err.code) {
        send_error(o, st, FG_OCPPJ_CALLERROR, msg->id, &c.err);
        if (c.err.code == FG_OCPP_SECURITY_ERROR && !st->asked_boot)
            ask_boot(o, st);
        return;
    }
    /* The answer's root lives here; handlers add (malloc'ed) members. */
    cJSON reply = {.type = cJSON_Object};
    c.reply = &reply;
    int rc = h->fn(&c);
    const struct fg_ocpp_msg_schema *res = fg_ocpp_schema_find(v, msg->action, 1);
    struct fg_ocpp_verror self;
    if (rc || !res || fg_ocpp_validate(res, c.reply, &self)) {
        if (!rc && res)
            fg_err("ocpp", "BUG: our %sResponse is invalid: %s %s", msg->action,
                   self.path, self.desc);
        set_err(&c.err, FG_OCPP_INTERNAL_ERROR, "could not answer %s", msg->action);
        send_error(o, st, FG_OCPPJ_CALLERROR, msg->id, &c.err);
    } else if (!c.wrote) {
        send_result(o, st, msg->id, c.reply);
    } else {
        /* after the queued writes are stored (flush_writes) */
        fg_buf_clear(&o->out);
        if (fg_ocppj_encode_result(&o->out, msg->id, c.reply) ||
            hold_answer(o, st, msg)) {
            set_err(&c.err, FG_OCPP_INTERNAL_ERROR, "could not answer %s", msg->action);
            send_error(o, st, FG_OCPPJ_CALLERROR, msg->id, &c.err);
        }
    }
    cJSON_Delete(reply.child); /* and every member after it */
}

/* ---- our CALLs -------------------------------------------------------------------- */

/* At most one CALL of ours is in flight per station (OCPP-J 4.1.1); the rest
 * wait in order behind it. Each is validated against its request schema
 * before it goes (a payload a station would refuse is our bug), and its
 * answer against the response schema before the callback sees it. */

static void out_call_free(struct out_call *c)
{
    cJSON_Delete(c->payload);
    free(c);
}

static struct out_call *call_pop(struct station *st)
{
    struct out_call *c = st->cq_head;
    if (c) {
        st->cq_head = c->next;
        if (!st->cq_head)
            st->cq_tail = NULL;
        st->n_cq--;
    }
    return c;
}

/* The head call is answered (result) or failed (why): run its callback, then
 * send the next one. */
static void call_finish(struct ocpp *o, struct station *st, const cJSON *result,
                        const char *why)
{
    struct out_call *c = call_pop(st);
    if (!c)
        return;
    if (why)
        fg_warn("ocpp", "%s: %s failed: %s", st->id, c->action, why);
    if (c->done)
        c->done(o, st, c, result, why);
    out_call_free(c);
    call_pump(o, st);
}

static void call_pump(struct ocpp *o, struct station *st)
{
    while (st->cq_head && !st->cq_head->sent && st->wsi &&
           (st->booted || st->cq_head->pre_boot)) {
        struct out_call *c = st->cq_head;
        const struct fg_ocpp_msg_schema *req =
            fg_ocpp_schema_find(version_of(st->dialect), c->action, 0);
        struct fg_ocpp_verror e;
        char why[sizeof(e.path) + sizeof(e.desc) + 96];
        if (!req || fg_ocpp_validate(req, c->payload, &e)) {
            snprintf(why, sizeof(why), "BUG: our %s is invalid: %s %s", c->action,
                     req ? e.path : "", req ? e.desc : "no schema");
            fg_err("ocpp", "%s: %s", st->id, why);
            call_finish(o, st, NULL, why);
            return; /* call_finish pumped the rest */
        }
        fg_ocppj_make_id(c->id, st->id_prefix, ++st->id_seq);
        fg_buf_clear(&o->out);
        if (fg_ocppj_encode_call(&o->out, c->id, c->action, c->payload)) {
            call_finish(o, st, NULL, "could not encode the call");
            return;
        }
        queue_frame(o, st, o->out.s, o->out.len);
        c->sent = true;
        c->deadline_ms = fg_mono_ms() + (int64_t)o->cfg->ocpp.call_timeout_s * 1000;
        fg_dbg("ocpp", "%s: -> %s %s", st->id, c->action, c->id);
    }
}

/* Queue a CALL (payload taken, also on failure). FG_ESTATE when the station
 * is not connected and booted, FG_EFULL when CALLQ_MAX are waiting. The
 * caller fills in the call's context (*out) and then runs call_pump(): the
 * callback may run from there, so nothing may be set after it. */
static int call_send(struct station *st, const char *action, cJSON *payload,
                     reply_fn done, struct out_call **out)
{
    if (!payload)
        return FG_ENOMEM;
    bool pre_boot = !strcmp(action, "TriggerMessage");
    if (!st->wsi || (!st->booted && !pre_boot)) {
        cJSON_Delete(payload);
        return FG_ESTATE;
    }
    if (st->n_cq >= CALLQ_MAX) {
        cJSON_Delete(payload);
        return FG_EFULL;
    }
    struct out_call *c = calloc(1, sizeof(*c));
    if (!c) {
        cJSON_Delete(payload);
        return FG_ENOMEM;
    }
    snprintf(c->action, sizeof(c->action), "%s", action);
    c->payload = payload;
    c->done = done;
    c->pre_boot = pre_boot;
    if (st->cq_tail)
        st->cq_tail->next = c;
    else
        st->cq_head = c;
    st->cq_tail = c;
    st->n_cq++;
    if (out)
        *out = c;
    return 0;
}

/* A CALLRESULT or CALLERROR from the station: it answers our head call, or
 * nothing (late answer to a call that timed out, or a confused peer). */
static void on_answer(struct ocpp *o, struct station *st, const struct fg_ocppj_msg *msg)
{
    struct out_call *c = st->cq_head;
    if (!c || !c->sent || strcmp(c->id, msg->id)) {
        fg_warn("ocpp", "%s: answer to unknown message %s ignored", st->id, msg->id);
        return;
    }
    char why[sizeof(((struct fg_ocpp_verror *)0)->path) + FG_OCPPJ_DESC_MAX + 160];
    if (msg->type != FG_OCPPJ_CALLRESULT) {
        snprintf(why, sizeof(why), "%s: %s", msg->error_code_text, msg->error_desc);
        call_finish(o, st, NULL, why);
        return;
    }
    const struct fg_ocpp_msg_schema *res =
        fg_ocpp_schema_find(version_of(st->dialect), c->action, 1);
    struct fg_ocpp_verror e;
    if (res && fg_ocpp_validate(res, msg->payload, &e)) {
        snprintf(why, sizeof(why), "invalid %sResponse: %s %s", c->action, e.path,
                 e.desc);
        /* OCPP 2.1 (FR.06): a CALLRESULT that breaks its schema is answered
         * with a CALLRESULTERROR; 2.0.1 has no way to say so. */
        if (st->dialect == FG_OCPPJ_21)
            send_error(o, st, FG_OCPPJ_CALLRESULTERROR, msg->id, &e);
        call_finish(o, st, NULL, why);
        return;
    }
    call_finish(o, st, msg->payload, NULL);
}

/* The connection is gone: nothing in flight or waiting will be answered. */
static void fail_calls(struct ocpp *o, struct station *st, const char *why)
{
    while (st->cq_head)
        call_finish(o, st, NULL, why);
}

static void check_timeouts(struct ocpp *o, struct station *st, int64_t now_ms)
{
    struct out_call *c = st->cq_head;
    if (c && c->sent && now_ms >= c->deadline_ms) {
        char why[64];
        snprintf(why, sizeof(why), "no answer within %d s", o->cfg->ocpp.call_timeout_s);
        call_finish(o, st, NULL, why);
    }
}

/* ---- smart charging: set-points to charging profiles --------------------------------
 */

#define STACK_LEVEL 1 /* of our profiles */
/* A profile starts this far before our "now": a station whose clock is a
 * little behind ours (it set it from our last currentTime, rounded, and the
 * message took time) applies it at once instead of after the skew, and the
 * composite schedule we ask for right after shows it. */
#define PROFILE_BACKDATE_S 60
#define PROFILE_ID_BASE 780000 /* ours: BASE + purpose * 1000 + evseId */
#define VERIFY_TOLERANCE_A 0.5

static struct evse_ctl *ctl_find(struct station *st, int evse_id)
{
    for (size_t i = 0; i < st->n_ctl; i++)
        if (st->ctl[i].evse_id == evse_id)
            return &st->ctl[i];
    return NULL;
}

static struct evse_ctl *ctl_get(struct station *st, int evse_id, const char *asset)
{
    struct evse_ctl *c = ctl_find(st, evse_id);
    if (c)
        return c;
    struct evse_ctl *v = realloc(st->ctl, (st->n_ctl + 1) * sizeof(*v));
    if (!v)
        return NULL;
    st->ctl = v;
    c = &v[st->n_ctl++];
    memset(c, 0, sizeof(*c));
    c->evse_id = evse_id;
    snprintf(c->asset, sizeof(c->asset), "%s", asset);
    return c;
}

static int profile_id(int purpose, int evse_id)
{
    return PROFILE_ID_BASE + purpose * 1000 + evse_id;
}

/* Watts in the profile's unit: A per phase on an AC EVSE. */
static double to_unit(const struct ocpp *o, const struct fg_asset *a, double w)
{
    if (o->cfg->ocpp.rate_unit == FG_OCPP_UNIT_W)
        return round(w);
    double volts = a->evse.voltage > 0 ? a->evse.voltage : 230;
    int phases = a->evse.phases > 0 ? a->evse.phases : 3;
    return round(w / (volts * phases) * 10) / 10; /* 0.1 A */
}

static const char *unit_name(const struct ocpp *o)
{
    return o->cfg->ocpp.rate_unit == FG_OCPP_UNIT_W ? "W" : "A";
}

static void fmt_time(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The open transaction on an EVSE, or NULL. */
static const struct tx *tx_on(const struct station *st, int evse_id)
{
    for (size_t i = 0; i < st->n_tx; i++)
        if (st->tx[i].evse_id == evse_id)
            return &st->tx[i];
    return NULL;
}

static void sp_state(struct ocpp *o, struct evse_ctl *ctl, enum fg_sp_state s,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void sp_state(struct ocpp *o, struct evse_ctl *ctl, enum fg_sp_state s,
                     const char *fmt, ...)
{
    struct fg_asset *a = fg_model_find_asset(o->host.model, ctl->asset);
    if (!a || !a->sp.active)
        return;
    a->sp.state = s;
    a->sp.detail[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->sp.detail, sizeof(a->sp.detail), fmt, ap);
        va_end(ap);
    }
    ctl->state = s;
    memcpy(ctl->detail, a->sp.detail, sizeof(ctl->detail));
    o->host.model->version++;
}

/* SetChargingProfile for a set-point of w until `until`: a TxProfile for
 * the running transaction, else a TxDefaultProfile for the EVSE. Absolute,
 * with validTo and a schedule duration, so the station drops it by itself. */
static cJSON *profile_request(struct ocpp *o, const struct fg_asset *a, int evse_id,
                              double w, int64_t now, int64_t until, int purpose,
                              const char *tx_id, double *limit)
{
    char t0[32], t1[32];
    int64_t from = now - PROFILE_BACKDATE_S;
    fmt_time(from, t0, sizeof(t0));
    fmt_time(until, t1, sizeof(t1));
    cJSON *req = cJSON_CreateObject();
    cJSON_AddNumberToObject(req, "evseId", evse_id);
    cJSON *p = cJSON_AddObjectToObject(req, "chargingProfile");
    cJSON_AddNumberToObject(p, "id", profile_id(purpose, evse_id));
    cJSON_AddNumberToObject(p, "stackLevel", STACK_LEVEL);
    cJSON_AddStringToObject(p, "chargingProfilePurpose",
                            purpose == P_TX ? "TxProfile" : "TxDefaultProfile");
    cJSON_AddStringToObject(p, "chargingProfileKind", "Absolute");
    cJSON_AddStringToObject(p, "validFrom", t0);
    cJSON_AddStringToObject(p, "validTo", t1);
    if (purpose == P_TX)
        cJSON_AddStringToObject(p, "transactionId", tx_id);
    cJSON *sched = cJSON_CreateObject();
    cJSON_AddItemToObject(p, "chargingSchedule", cJSON_CreateArray());
    cJSON_AddItemToArray(fg_json_get(p, "chargingSchedule"), sched);
    cJSON_AddNumberToObject(sched, "id", profile_id(purpose, evse_id));
    cJSON_AddStringToObject(sched, "startSchedule", t0);
    cJSON_AddNumberToObject(sched, "duration", (double)(until - from));
    cJSON_AddStringToObject(sched, "chargingRateUnit", unit_name(o));
    cJSON *periods = cJSON_AddArrayToObject(sched, "chargingSchedulePeriod");
    cJSON *per = cJSON_CreateObject();
    cJSON_AddItemToArray(periods, per);
    cJSON_AddNumberToObject(per, "startPeriod", 0);
    *limit = to_unit(o, a, w);
    if (w >= 0) {
        cJSON_AddNumberToObject(per, "limit", *limit);
    } else {
        /* OCPP 2.1 V2X: follow a discharge set-point (negative), charging not
         * allowed meanwhile. The envelope keeps this from 2.0.1 stations. */
        cJSON_AddNumberToObject(per, "limit", 0);
        cJSON_AddNumberToObject(per, "dischargeLimit", *limit);
        cJSON_AddNumberToObject(per, "setpoint", *limit);
        cJSON_AddStringToObject(per, "operationMode", "CentralSetpoint");
    }
    if (o->cfg->ocpp.rate_unit == FG_OCPP_UNIT_A && a->evse.phases > 0)
        cJSON_AddNumberToObject(per, "numberPhases", a->evse.phases);
    return req;
}

static void ctl_sync(struct ocpp *o, struct station *st, struct evse_ctl *ctl);

static struct evse_ctl *ctl_of_call(struct station *st, const struct out_call *c)
{
    struct evse_ctl *ctl = ctl_find(st, c->evse_id);
    if (ctl)
        ctl->busy = false;
    return ctl;
}

/* What the station says it applies, for the next few minutes, must not exceed
 * what we asked (less is fine: the station or the EV may limit further). */
static void on_composite(struct ocpp *o, struct station *st, struct out_call *c,
                         const cJSON *result, const char *why)
{
    struct evse_ctl *ctl = ctl_of_call(st, c);
    if (!ctl)
        return;
    const cJSON *sched = fg_json_get(result, "schedule");
    const cJSON *per =
        cJSON_GetArrayItem(fg_json_get(sched, "chargingSchedulePeriod"), 0);
    const char *status = str_at(result, "status", NULL);
    if (!result || strcmp(status, "Accepted") || !per) {
        sp_state(o, ctl, FG_SPS_MISMATCH, "GetCompositeSchedule: %s",
                 why                          ? why
                 : strcmp(status, "Accepted") ? status
                                              : "no schedule");
    } else {
        const char *unit = str_at(sched, "chargingRateUnit", NULL);
        bool discharge = c->limit < 0;
        double got = num_at(per, discharge ? "setpoint" : "limit", NAN);
        double tol = strcmp(unit, "W") ? VERIFY_TOLERANCE_A : VERIFY_TOLERANCE_A * 230;
        if (strcmp(unit, unit_name(o)) || isnan(got))
            sp_state(o, ctl, FG_SPS_MISMATCH, "composite schedule in %s without %s", unit,
                     discharge ? "setpoint" : "limit");
        else if (discharge ? fabs(got - c->limit) > tol : got > c->limit + tol)
            sp_state(o, ctl, FG_SPS_MISMATCH, "station applies %g %s, we sent %g %s", got,
                     unit, c->limit, unit);
        else if (got < c->limit - tol)
            sp_state(o, ctl, FG_SPS_VERIFIED, "station limits further, to %g %s", got,
                     unit);
        else
            sp_state(o, ctl, FG_SPS_VERIFIED, NULL);
    }
    if (ctl->dirty)
        ctl_sync(o, st, ctl);
}

static void verify(struct ocpp *o, struct station *st, struct evse_ctl *ctl,
                   const struct out_call *set)
{
    int64_t now = fg_clock_now_s(o->host.clock);
    int64_t left = set->valid_to - now;
    cJSON *req = cJSON_CreateObject();
    cJSON_AddNumberToObject(req, "duration",
                            (double)(left < 300 ? (left > 1 ? left : 1) : 300));
    cJSON_AddStringToObject(req, "chargingRateUnit", unit_name(o));
    cJSON_AddNumberToObject(req, "evseId", ctl->evse_id);
    struct out_call *c = NULL;
    if (call_send(st, "GetCompositeSchedule", req, on_composite, &c) == 0) {
        c->evse_id = ctl->evse_id;
        c->limit = set->limit;
        ctl->busy = true;
        call_pump(o, st);
    }
}

static void on_set_profile(struct ocpp *o, struct station *st, struct out_call *c,
                           const cJSON *result, const char *why)
{
    struct evse_ctl *ctl = ctl_of_call(st, c);
    if (!ctl)
        return;
    const char *status = str_at(result, "status", NULL);
    if (!result) {
        /* Try again, backing off: 2 s, 4 s, ... at most 5 min. */
        int shift = ctl->failures < 8 ? ctl->failures : 8;
        ctl->failures++;
        ctl->retry_ms = fg_mono_ms() + (RETRY_FIRST_MS << shift);
        sp_state(o, ctl, FG_SPS_FAILED, "SetChargingProfile: %s", why);
        ctl->dirty = true;
        return;
    }
    ctl->failures = 0;
    if (strcmp(status, "Accepted")) {
        ctl->refused = true;
        const char *reason = str_at(result, "statusInfo", "reasonCode");
        sp_state(o, ctl, FG_SPS_REJECTED, "SetChargingProfile %s%s%s", status,
                 reason[0] ? ": " : "", reason);
        return;
    }
    ctl->installed = c->purpose;
    ctl->sent_w = c->w;
    ctl->valid_to = c->valid_to;
    const cJSON *tx =
        fg_json_get(fg_json_get(c->payload, "chargingProfile"), "transactionId");
    snprintf(ctl->tx_id, sizeof(ctl->tx_id), "%s",
             fg_json_is(tx, cJSON_String) ? tx->valuestring : "");
    sp_state(o, ctl, FG_SPS_ACCEPTED, NULL);
    /* The tick marks a busy EVSE dirty every second, so dirty may mean
     * nothing changed: verify unless ctl_sync sent or held back a new one. */
    if (ctl->dirty)
        ctl_sync(o, st, ctl);
    if (!ctl->busy && !ctl->dirty)
        verify(o, st, ctl, c);
}

static void on_clear_profile(struct ocpp *o, struct station *st, struct out_call *c,
                             const cJSON *result, const char *why)
{
    struct evse_ctl *ctl = ctl_of_call(st, c);
    if (!ctl)
        return;
    /* Unknown (already gone: ended, expired) is as good as Accepted. */
    if (result || !why)
        ctl->installed = P_NONE;
    if (ctl->dirty)
        ctl_sync(o, st, ctl);
}

/* Bring the station in line with the wish for one EVSE, within the limits on
 * how often profiles go out. Runs on set-points, answers and the tick. */
static void ctl_sync(struct ocpp *o, struct station *st, struct evse_ctl *ctl)
{
    if (ctl->busy) {
        ctl->dirty = true;
        return;
    }
    ctl->dirty = false;
    struct fg_asset *a = fg_model_find_asset(o->host.model, ctl->asset);
    int64_t now = fg_clock_now_s(o->host.clock);
    int64_t mono = fg_mono_ms();
    /* Profile times (interval, validity) on the gateway's clock, which the
     * demo runs faster; retries after failures on the real one. */
    int64_t now_ms = fg_clock_now_ms(o->host.clock);
    const struct tx *t = tx_on(st, ctl->evse_id);
    if (ctl->installed == P_TX && (!t || strcmp(t->id, ctl->tx_id)))
        ctl->installed = P_NONE; /* a TxProfile ends with its transaction */
    if (!a || !ctl->want) {
        if (ctl->installed == P_NONE)
            return;
        cJSON *req = cJSON_CreateObject();
        cJSON_AddNumberToObject(req, "chargingProfileId",
                                profile_id(ctl->installed, ctl->evse_id));
        struct out_call *c = NULL;
        if (call_send(st, "ClearChargingProfile", req, on_clear_profile, &c) == 0) {
            c->evse_id = ctl->evse_id;
            ctl->busy = true;
            call_pump(o, st);
        }
        return;
    }
    bool have = ctl->installed != P_NONE;
    int purpose = have ? ctl->installed : t ? P_TX : P_TX_DEFAULT;
    if (!have && ctl->refused)
        return; /* the station said no; a new set-point tries again */
    int64_t fallback = o->cfg->ocpp.profile_fallback_s;
    int64_t until = ctl->renewed ? now + fallback : ctl->want_until;
    if (until > now + fallback)
        until = now + fallback;
    bool renew = ctl->valid_to - now < fallback / 2 &&
                 (ctl->renewed || ctl->valid_to < ctl->want_until);
    bool changed = fabs(ctl->want_w - ctl->sent_w) >= o->cfg->ocpp.profile_threshold_w ||
                   (ctl->want_w == 0) != (ctl->sent_w == 0) ||
                   (ctl->want_w < 0) != (ctl->sent_w < 0);
    if (have && !renew && !changed) {
        /* the station has it (near enough): a renewed set-point is in the
         * state the installed profile reached */
        if (a->sp.active && a->sp.state == FG_SPS_PENDING &&
            ctl->state != FG_SPS_PENDING) {
            a->sp.state = ctl->state;
            memcpy(a->sp.detail, ctl->detail, sizeof(a->sp.detail));
            o->host.model->version++;
        }
        return;
    }
    if (ctl->failures && mono < ctl->retry_ms) {
        ctl->dirty = true;
        return; /* the state stays FAILED until the retry */
    }
    /* Less charging (a limit coming in) is never held back: the interval
     * keeps stations from being flooded with increases, not the site from
     * its limit. */
    bool reduces = ctl->want_w >= 0 && (!have || ctl->want_w < ctl->sent_w);
    if (!reduces && ctl->last_sent_ms &&
        now_ms - ctl->last_sent_ms < o->cfg->ocpp.profile_min_interval_s * 1000LL) {
        ctl->dirty = true; /* the tick sends it when the interval has passed */
        sp_state(o, ctl, FG_SPS_PENDING, "held back by ocpp.profile_min_interval_s");
        return;
    }
    double limit = 0;
    cJSON *req = profile_request(o, a, ctl->evse_id, ctl->want_w, now, until, purpose,
                                 t ? t->id : NULL, &limit);
    struct out_call *c = NULL;
    int rc = call_send(st, "SetChargingProfile", req, on_set_profile, &c);
    if (rc) {
        sp_state(o, ctl, FG_SPS_PENDING, "not sent: %s", fg_strerror(rc));
        ctl->dirty = true;
        return;
    }
    c->evse_id = ctl->evse_id;
    c->w = ctl->want_w;
    c->limit = limit;
    c->valid_to = until;
    c->purpose = purpose;
    ctl->busy = true;
    ctl->last_sent_ms = now_ms;
    sp_state(o, ctl, FG_SPS_SENT, NULL);
    call_pump(o, st);
}

/* Station and EVSE number of an OCPP evse asset. */
static struct station *asset_station(struct ocpp *o, const struct fg_asset *a,
                                     int *evse_id)
{
    const struct cfg_evse *c = cfg_asset(o, a->id);
    if (c) {
        *evse_id = c->evse_id;
        return station_find(o, c->station);
    }
    /* Discovered: "<station>-<evseId>". */
    const char *dash = strrchr(a->id, '-');
    char sid[STATION_ID_MAX + 1];
    char *end;
    if (!dash || (size_t)(dash - a->id) > STATION_ID_MAX)
        return NULL;
    long n = strtol(dash + 1, &end, 10);
    if (*end || n < 1 || n > 999)
        return NULL;
    memcpy(sid, a->id, (size_t)(dash - a->id));
    sid[dash - a->id] = '\0';
    *evse_id = (int)n;
    return station_find(o, sid);
}

static int handle_frame(struct ocpp *o, struct station *st, const char *buf, size_t len,
                        struct fg_ocppj_msg *m);

/* With thousands of stations a message's asset is not in the cache: start
 * fetching the first EVSE's (most stations have one) while the frame is
 * parsed and validated, which takes longer than the fetch. */
static void prefetch_asset(const struct ocpp *o, const struct station *st)
{
    const struct fg_model *m = o->host.model;
    if (st->n_evses && st->evses[0].asset_i < m->n_assets) {
        const char *a = (const char *)&m->assets[st->evses[0].asset_i];
        __builtin_prefetch(a, 1);
        __builtin_prefetch(a + 64, 1);
    }
}

/* One text message; -1 if it is not UTF-8 (the caller fails the connection). */
static int on_message(struct ocpp *o, struct station *st, const char *buf, size_t len)
{
    prefetch_asset(o, st);
    fg_metrics_adapter(o->host.metrics, "ocpp", 1, 0);
    if (o->msg_busy) {
        struct fg_ocppj_msg own;
        fg_ocppj_msg_init(&own);
        int rc = handle_frame(o, st, buf, len, &own);
        fg_ocppj_msg_clear(&own);
        return rc;
    }
    o->msg_busy = true;
    int rc = handle_frame(o, st, buf, len, &o->msg);
    o->msg_busy = false;
    return rc;
}

static bool utf8_ok(const unsigned char *s, size_t n);

static int handle_frame(struct ocpp *o, struct station *st, const char *buf, size_t len,
                        struct fg_ocppj_msg *m)
{
    struct fg_ocpp_verror err; /* (set by the decoder) */
    if (fg_ocppj_decode(buf, len, st->dialect, m, &err)) {
        /* A frame that decodes is UTF-8 throughout (the parser checks); only
         * one that does not needs the check. */
        if (!utf8_ok((const unsigned char *)buf, len))
            return -1;
        if (m->answer != FG_OCPPJ_ANSWER_NONE)
            send_error(o, st,
                       m->answer == FG_OCPPJ_ANSWER_CALLRESULTERROR
                           ? FG_OCPPJ_CALLRESULTERROR
                           : FG_OCPPJ_CALLERROR,
                       m->id, &err);
        else
            fg_dbg("ocpp", "%s: unanswerable frame dropped: %s", st->id, err.desc);
    } else if (m->type == FG_OCPPJ_CALL) {
        on_call(o, st, m);
    } else if (m->type == FG_OCPPJ_CALLRESULT || m->type == FG_OCPPJ_CALLERROR) {
        on_answer(o, st, m);
    } else {
        /* 2.1 SEND (none we act on yet) or a CALLRESULTERROR about one of
         * our answers: logged, never answered. */
        fg_info("ocpp", "%s: %s %s ignored", st->id,
                m->type == FG_OCPPJ_SEND ? "SEND" : "CALLRESULTERROR",
                m->type == FG_OCPPJ_SEND ? m->action : m->error_code_text);
    }
    return 0;
}

/* ---- the websocket protocol --------------------------------------------------- */

/* "/ocpp/{id}" -> id; false if the path has another shape. */
static bool station_from_path(struct lws *wsi, char *id, size_t n)
{
    char uri[128];
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
        return false;
    static const char prefix[] = "/ocpp/";
    if (strncmp(uri, prefix, sizeof(prefix) - 1))
        return false;
    const char *s = uri + sizeof(prefix) - 1;
    size_t len = strlen(s);
    if (!station_id_ok(s, len) || len >= n)
        return false;
    memcpy(id, s, len + 1);
    return true;
}

static int on_filter(struct ocpp *o, struct lws *wsi)
{
    char id[STATION_ID_MAX + 1];
    if (!station_from_path(wsi, id, sizeof(id))) {
        fg_warn("ocpp", "connection refused: path is not /ocpp/{stationId}");
        return 1;
    }
    /* lws has matched an offered subprotocol to ours by now; without one it
     * would fall back to the first protocol, so check the offer ourselves. */
    char offer[128] = "";
    lws_hdr_copy(wsi, offer, sizeof(offer), WSI_TOKEN_PROTOCOL);
    if (!strstr(offer, "ocpp2.0.1") && !strstr(offer, "ocpp2.1")) {
        fg_warn("ocpp", "%s: refused, offers no supported subprotocol (\"%s\")", id,
                offer);
        return 1;
    }
    bool known = o->allow_unknown || station_configured(o, id);
    return fg_ocpp_sec_admit(o->sec, wsi, id, known) ? 1 : 0;
}

static void detach(struct pss *p)
{
    if (p->st && p->st->wsi && lws_wsi_user(p->st->wsi) == p) {
        p->st->wsi = NULL;
        drop_queue(p->st);
        if (p->o)
            fail_calls(p->o, p->st, "station disconnected");
    }
    p->st = NULL;
    free(p->rx);
    p->rx = NULL;
    p->rx_len = p->rx_cap = 0;
}

static int on_established(struct ocpp *o, struct lws *wsi, struct pss *p)
{
    char id[STATION_ID_MAX + 1];
    if (!station_from_path(wsi, id, sizeof(id)))
        return -1;
    struct station *st = station_get(o, id);
    if (!st)
        return -1;
    if (st->wsi) {
        /* The station came back: its old connection is dead to it. */
        struct pss *old = lws_wsi_user(st->wsi);
        fg_info("ocpp", "%s: reconnected, closing the previous connection", id);
        lws_set_timeout(st->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        if (old)
            detach(old);
    }
    p->o = o;
    p->st = st;
    st->wsi = wsi;
    st->asked_boot = false;
    lws_get_random(lws_get_context(wsi), &st->id_prefix, sizeof(st->id_prefix));
    st->id_seq = 0;
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    st->dialect = proto && !strcmp(proto->name, "ocpp2.1") ? FG_OCPPJ_21 : FG_OCPPJ_201;
    fg_info("ocpp", "%s: connected (%s)", id, proto ? proto->name : "?");
    return 0;
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint64_t w; /* eight ASCII bytes at a time */
        if (n - i >= 8 && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ull))) {
            i += 8;
            continue;
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = fg_utf8_len(s + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* RFC 6455 8.1: a text message that is not UTF-8 fails the connection. */
static int close_not_utf8(struct lws *wsi, const struct station *st)
{
    fg_warn("ocpp", "%s: text message is not UTF-8, closing", st->id);
    lws_close_reason(wsi, LWS_CLOSE_STATUS_INVALID_PAYLOAD, (unsigned char *)"not UTF-8",
                     9);
    return -1;
}

static int on_receive(struct lws *wsi, struct pss *p, const void *in, size_t len)
{
    struct ocpp *o = p->o;
    if (!o || !p->st)
        return -1;
    if (lws_frame_is_binary(wsi)) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                         (unsigned char *)"OCPP-J uses text frames", 23);
        return -1;
    }
    if (p->rx_len + len > o->max_frame) {
        fg_warn("ocpp", "%s: message over %zu bytes, closing", p->st->id, o->max_frame);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         (unsigned char *)"message too large", 17);
        return -1;
    }
    if (p->rx_len == 0 && lws_is_final_fragment(wsi) &&
        !lws_remaining_packet_payload(wsi))
        return on_message(o, p->st, in, len) ? close_not_utf8(wsi, p->st) : 0;
    if (p->rx_len + len > p->rx_cap) {
        size_t cap = p->rx_cap ? p->rx_cap : 1024;
        while (cap < p->rx_len + len)
            cap *= 2;
        char *nb = realloc(p->rx, cap);
        if (!nb)
            return -1;
        p->rx = nb;
        p->rx_cap = cap;
    }
    if (len)
        memcpy(p->rx + p->rx_len, in, len);
    p->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    size_t n = p->rx_len;
    p->rx_len = 0;
    return on_message(o, p->st, p->rx, n) ? close_not_utf8(wsi, p->st) : 0;
}

static int on_writeable(struct lws *wsi, struct pss *p)
{
    struct station *st = p->st;
    if (!st || st->wsi != wsi || !st->head)
        return 0;
    struct frame *f = st->head;
    if (lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
        return -1;
    st->head = f->next;
    if (!st->head)
        st->tail = NULL;
    st->queued--;
    free(f);
    if (st->head)
        lws_callback_on_writable(wsi);
    return 0;
}

static int ocpp_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                   void *in, size_t len)
{
    struct pss *p = user;
    struct lws_vhost *vh = lws_get_vhost(wsi);
    struct ocpp *o = vh ? lws_get_vhost_user(vh) : NULL;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        return o ? fg_ocpp_sec_tls_ctx(o->sec, user) : -1;
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        return 0; /* decided per station when it is admitted (security.c) */
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return o ? on_filter(o, wsi) : 1;
    case LWS_CALLBACK_ESTABLISHED:
        return o ? on_established(o, wsi, p) : -1;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, p, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, p);
    case LWS_CALLBACK_CLOSED:
        if (p && p->o && p->st && p->st->wsi == wsi) {
            fg_info("ocpp", "%s: disconnected", p->st->id);
            station_assets_online(p->o, p->st, false);
        }
        if (p)
            detach(p);
        return 0;
    default:
        return 0;
    }
}

/* Static: lws keeps a pointer to the protocol list for the vhost's life,
 * which can outlast a stopped adapter by a few service rounds. */
static const struct lws_protocols protocols[] = {
    {"ocpp2.1", ocpp_cb, sizeof(struct pss), 4096, 0, NULL, 0},
    {"ocpp2.0.1", ocpp_cb, sizeof(struct pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Idle connections are pinged; a station that stops answering is dropped. */
static const lws_retry_bo_t keepalive = {
    .secs_since_valid_ping = 60,
    .secs_since_valid_hangup = 150,
};

/* A station may stay silent for a whole heartbeat interval (default 300 s),
 * longer than the gateway waits before it calls an asset offline. Its open
 * WebSocket is the evidence instead: lws pings it and drops it when the
 * station stops answering, so a connected, booted station's EVSEs are seen. */
static void keep_alive(struct fg_timer *t)
{
    struct ocpp *o = t->arg;
    for (size_t i = 0; i < o->n_stations; i++) {
        if (o->stations[i]->wsi && o->stations[i]->booted)
            station_assets_online(o, o->stations[i], true);
    }
    fg_timer_start(t, ALIVE_EVERY_MS);
}

/* Once a second: answers that did not come, profiles held back by the
 * minimum interval or due for renewal, set-points the model let expire. */
static void tick(struct fg_timer *t)
{
    struct ocpp *o = t->arg;
    int64_t mono = fg_mono_ms();
    for (size_t i = 0; i < o->n_stations; i++) {
        struct station *st = o->stations[i];
        check_timeouts(o, st, mono);
        for (size_t k = 0; k < st->n_ctl; k++) {
            struct evse_ctl *ctl = &st->ctl[k];
            const struct fg_asset *a = fg_model_find_asset(o->host.model, ctl->asset);
            if (ctl->want && (!a || !a->sp.active))
                ctl->want = false;                   /* expired */
            if (st->wsi && st->booted && !ctl->busy) /* busy: its answer re-syncs */
                ctl_sync(o, st, ctl);
        }
    }
    fg_timer_start(t, TICK_MS);
}

/* ---- operator calls (REST API)
 * --------------------------------------------------------- */

/* What an operator may send a station through the API. Set-point profiles
 * are the gateway's own business (ctl_sync); an operator SetChargingProfile
 * is meant for ChargingStationMaxProfile and the like. Sorted for bsearch. */
static const char *const operator_actions[] = {
    "CancelReservation",
    "ChangeAvailability",
    "ClearCache",
    "ClearChargingProfile",
    "ClearVariableMonitoring",
    "CustomerInformation",
    "DataTransfer",
    "GetBaseReport",
    "GetChargingProfiles",
    "GetCompositeSchedule",
    "GetLocalListVersion",
    "GetLog",
    "GetReport",
    "GetTransactionStatus",
    "GetVariables",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReserveNow",
    "Reset",
    "SetChargingProfile",
    "SetVariables",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
};

static int cmp_str(const void *k, const void *e)
{
    return strcmp(k, *(const char *const *)e);
}

static struct op_result *op_slot(struct ocpp *o, unsigned id)
{
    struct op_result *r = &o->ops[id % OPS_KEPT];
    return r->id == id && id ? r : NULL;
}

static void on_operator(struct ocpp *o, struct station *st, struct out_call *c,
                        const cJSON *result, const char *why)
{
    (void)st;
    struct op_result *r = op_slot(o, c->op);
    if (!r)
        return;
    if (result) {
        r->state = OP_ANSWERED;
        r->result = cJSON_Duplicate(result, 1);
    } else {
        r->state = OP_FAILED;
        snprintf(r->error, sizeof(r->error), "%s", why);
    }
}

int fg_ocpp_operator_call(void *state, const char *station, const char *action,
                          cJSON *payload, unsigned *id, struct fg_error *err)
{
    struct ocpp *o = state;
    struct station *st = station_find(o, station);
    int rc = 0;
    if (!bsearch(action, operator_actions, NSTATES(operator_actions),
                 sizeof(operator_actions[0]), cmp_str)) {
        rc = fg_error_set(err, FG_EINVAL, "/action",
                          "\"%s\" is not an action an operator can send", action);
    } else if (!st) {
        rc = fg_error_set(err, FG_ENOTFOUND, "/station", "no station \"%s\"", station);
    } else if (!st->wsi || !st->booted) {
        rc = fg_error_set(err, FG_ESTATE, "/station", "station %s is not connected",
                          station);
    } else {
        const struct fg_ocpp_msg_schema *req =
            fg_ocpp_schema_find(version_of(st->dialect), action, 0);
        struct fg_ocpp_verror e;
        if (!req)
            rc =
                fg_error_set(err, FG_EINVAL, "/action", "%s does not exist in %s", action,
                             st->dialect == FG_OCPPJ_21 ? "OCPP 2.1" : "OCPP 2.0.1");
        else if (fg_ocpp_validate(req, payload, &e))
            rc = fg_error_set(err, FG_EINVAL, "/payload", "%s%s%s: %s",
                              e.path[0] ? "at " : "", e.path, e.path[0] ? "" : "payload",
                              e.desc);
    }
    if (rc) {
        cJSON_Delete(payload);
        return rc;
    }
    struct out_call *c = NULL;
    rc = call_send(st, action, payload, on_operator, &c);
    if (rc)
        return fg_error_set(err, rc, "/station", "station %s: %s", station,
                            rc == FG_EFULL ? "too many calls waiting" : fg_strerror(rc));
    unsigned n = ++o->op_seq ? o->op_seq : ++o->op_seq; /* 0 is never an id */
    struct op_result *r = &o->ops[n % OPS_KEPT];
    cJSON_Delete(r->result);
    memset(r, 0, sizeof(*r));
    r->id = n;
    snprintf(r->station, sizeof(r->station), "%s", station);
    snprintf(r->action, sizeof(r->action), "%s", action);
    r->c = c;
    c->op = n;
    *id = n;
    fg_info("ocpp", "%s: operator %s queued as call %u", station, action, n);
    call_pump(o, st);
    return 0;
}

cJSON *fg_ocpp_call_json(void *state, unsigned id)
{
    struct ocpp *o = state;
    struct op_result *r = op_slot(o, id);
    if (!r)
        return NULL;
    static const char *const names[] = {"queued", "sent", "answered", "failed"};
    int s = r->state;
    if (s == OP_QUEUED) {
        /* still in the station's queue: sent yet? */
        struct station *st = station_find(o, r->station);
        for (struct out_call *c = st ? st->cq_head : NULL; c; c = c->next)
            if (c == r->c && c->sent)
                s = OP_SENT;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", r->id);
    cJSON_AddStringToObject(j, "station", r->station);
    cJSON_AddStringToObject(j, "action", r->action);
    cJSON_AddStringToObject(j, "state", names[s]);
    if (r->result)
        cJSON_AddItemToObject(j, "result", cJSON_Duplicate(r->result, 1));
    if (r->error[0])
        cJSON_AddStringToObject(j, "error", r->error);
    return j;
}

cJSON *fg_ocpp_stations_json(void *state)
{
    struct ocpp *o = state;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < o->n_stations; i++) {
        const struct station *st = o->stations[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", st->id);
        cJSON_AddBoolToObject(j, "connected", st->wsi != NULL);
        cJSON_AddBoolToObject(j, "booted", st->booted);
        cJSON_AddStringToObject(j, "protocol",
                                st->dialect == FG_OCPPJ_21 ? "ocpp2.1" : "ocpp2.0.1");
        cJSON_AddStringToObject(j, "vendor", st->vendor);
        cJSON_AddStringToObject(j, "model", st->model);
        cJSON_AddNumberToObject(j, "calls_queued", (double)st->n_cq);
        cJSON_AddNumberToObject(j, "transactions_open", (double)st->n_tx);
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

/* ---- after a restart ------------------------------------------------------------------
 */

#define RESUME_DAYS 7 /* open transactions older than this are not resumed */

/* The transactions stations had open when the gateway stopped come back from
 * the store: their events are applied once (seqNo) and later events that
 * leave out the EVSE still find it; the EVSE's session shows again, offline
 * until its station reconnects. What is not stored is the first energy
 * reading unless the last event was the Started one: energy counts again
 * from the next reading. */
struct resume {
    struct ocpp *o;
    size_t n;
};

static int resume_tx(void *arg, const struct fg_store_tx *r)
{
    struct resume *res = arg;
    struct ocpp *o = res->o;
    if (!station_id_ok(r->station, strlen(r->station)) || strlen(r->tx_id) > 36)
        return 0;
    struct station *st = station_get(o, r->station);
    if (!st || tx_find(st, r->tx_id))
        return 0;
    cJSON *j = cJSON_Parse(r->json);
    struct tx *t = tx_new(st, r->tx_id, r->evse);
    const cJSON *seq = fg_json_get(j, "seqNo");
    if (fg_json_is(seq, cJSON_Number))
        t->seq_no = (long long)seq->valuedouble;
    struct meter m = read_meter(fg_json_get(j, "meterValue"));
    if (!strcmp(r->state, "Started"))
        t->energy_start_wh = m.energy_wh;
    struct fg_asset *a = r->evse > 0 ? evse_asset(o, st, r->evse) : NULL;
    if (a) {
        struct fg_evse *e = &a->evse;
        e->session_active = true;
        snprintf(e->session_id, sizeof(e->session_id), "%s", r->tx_id);
        const char *token = str_at(j, "idToken", "idToken");
        if (token[0])
            snprintf(e->id_token, sizeof(e->id_token), "%s", token);
        map_state(charging_states, NSTATES(charging_states),
                  str_at(j, "transactionInfo", "chargingState"), &e->state);
        int64_t ts;
        if (!strcmp(r->state, "Started") &&
            !fg_time_parse_rfc3339(str_at(j, "timestamp", NULL), &ts))
            e->session_start = ts;
        o->host.model->version++;
    }
    cJSON_Delete(j);
    res->n++;
    return 0;
}

static void resume_transactions(struct ocpp *o)
{
    int64_t since = fg_clock_now_ms(o->host.clock) - RESUME_DAYS * 86400000LL;
    struct resume res = {o, 0};
    if (fg_store_tx_open_foreach(o->host.store, since, resume_tx, &res))
        fg_warn("ocpp", "open transactions not resumed: %s",
                fg_store_errmsg(o->host.store));
    else if (res.n)
        fg_info("ocpp", "%zu open transactions resumed from the store", res.n);
}

/* ---- adapter ops ------------------------------------------------------------------ */

static int ocpp_start(const struct fg_adapter_host *host, const struct fg_config *cfg,
                      void **state, struct fg_error *err)
{
    *state = NULL;
    if (!cfg->ocpp.enabled)
        return 0;
    struct ocpp *o = calloc(1, sizeof(*o));
    if (!o)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    o->host = *host;
    o->cfg = cfg;
    o->allow_unknown = cfg->ocpp.allow_unknown_stations;
    o->heartbeat_s = cfg->ocpp.heartbeat_s;
    o->max_frame = (size_t)cfg->ocpp.max_frame_bytes;
    o->meter_interval_ms = (int64_t)cfg->storage.meter_interval_s * 1000;
    fg_buf_init(&o->out, o->max_frame + 1024);
    fg_ocppj_msg_init(&o->msg);
    o->tx_cap = LWS_PRE + 16384; /* larger frames take the queue */
    o->tx = malloc(o->tx_cap);
    if (!o->tx) {
        fg_buf_clear(&o->out);
        free(o);
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    }

    const struct fg_ocpp_listen l = {protocols, &keepalive, o};
    int rc = fg_ocpp_sec_new(host, cfg, &l, &o->sec, err);
    if (rc) {
        fg_buf_clear(&o->out);
        free(o->tx);
        free(o);
        return rc;
    }
    if (index_tokens(o, cfg) || index_cfg(o, cfg)) {
        free(o->tokens);
        free(o->by_station);
        free(o->by_asset);
        fg_ocpp_sec_free(o->sec);
        fg_buf_clear(&o->out);
        free(o->tx);
        free(o);
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    }
    fg_timer_init(&o->alive, host->loop, keep_alive, o);
    fg_timer_start(&o->alive, ALIVE_EVERY_MS);
    fg_timer_init(&o->tick, host->loop, tick, o);
    fg_timer_start(&o->tick, TICK_MS);
    fg_timer_init(&o->flush, host->loop, on_flush, o);
    resume_transactions(o);
    *state = o;
    return 0;
}

static void ocpp_stop(void *state)
{
    struct ocpp *o = state;
    if (!o)
        return;
    fg_timer_stop(&o->alive);
    fg_timer_stop(&o->tick);
    fg_timer_stop(&o->flush);
    flush_writes(o); /* what stations sent is stored; the answers go nowhere */
    for (size_t i = 0; i < o->n_stations; i++) {
        struct station *st = o->stations[i];
        struct out_call *c;
        while ((c = call_pop(st)))
            out_call_free(c); /* no callbacks: the adapter is going */
        free(st->ctl);
        if (st->evses != st->evse_inl)
            free(st->evses);
        if (st->wsi) {
            struct pss *p = lws_wsi_user(st->wsi);
            if (p) {
                p->o = NULL;
                detach(p);
            }
        }
        drop_queue(st);
        free(st);
    }
    free(o->stations);
    free(o->tokens);
    free(o->by_station);
    free(o->by_asset);
    for (size_t i = 0; i < OPS_KEPT; i++)
        cJSON_Delete(o->ops[i].result);
    /* Connections close as the vhosts go (lws does it lazily); their
     * callbacks find no adapter (p->o cleared) and no station. */
    fg_ocpp_sec_free(o->sec);
    fg_buf_clear(&o->out);
    fg_ocppj_msg_clear(&o->msg);
    free(o->tx);
    free(o);
}

/* A reload keeps the stations connected, except those on a listener whose
 * address or TLS files changed (security.c replaces it) and those whose
 * security settings changed; the new config replaces the old one, which the
 * gateway frees after this. */
static int ocpp_reconfigure(void *state, const struct fg_config *cfg)
{
    struct ocpp *o = state;
    if (!o || !cfg->ocpp.enabled)
        return o || cfg->ocpp.enabled ? FG_ESTATE : 0;
    for (size_t i = 0; i < o->n_stations; i++) {
        struct station *st = o->stations[i];
        if (st->wsi && fg_ocpp_sec_station_changed(o->sec, cfg, st->id)) {
            fg_info("ocpp", "%s: security settings changed, disconnecting", st->id);
            lws_set_timeout(st->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        }
    }
    struct fg_error err;
    if (fg_ocpp_sec_reconfigure(o->sec, cfg, &err)) {
        fg_err("ocpp", "%s: %s; restarting the CSMS", err.path, err.msg);
        return FG_ESTATE;
    }
    if (index_tokens(o, cfg) || index_cfg(o, cfg))
        return FG_ENOMEM;
    o->cfg = cfg;
    for (size_t i = 0; i < o->n_stations; i++)
        station_fill(o, o->stations[i]);
    o->allow_unknown = cfg->ocpp.allow_unknown_stations;
    o->heartbeat_s = cfg->ocpp.heartbeat_s;
    o->max_frame = (size_t)cfg->ocpp.max_frame_bytes;
    o->meter_interval_ms = (int64_t)cfg->storage.meter_interval_s * 1000;
    o->out.max = o->max_frame + 1024;
    return 0;
}

/* A set-point becomes a charging profile (ctl_sync); the answer comes later
 * and shows in asset->sp.state. Refused at once when the station is not
 * connected, and for discharge over OCPP 2.0.1 (no V2X there). */
static int ocpp_setpoint(void *state, struct fg_asset *a, struct fg_error *err)
{
    struct ocpp *o = state;
    int evse_id = 0;
    struct station *st = asset_station(o, a, &evse_id);
    if (!st || !st->wsi || !st->booted)
        return fg_error_set(err, FG_ESTATE, "/asset",
                            "the charging station of \"%s\" is not connected", a->id);
    if (a->sp.active && a->sp.w < 0 && st->dialect != FG_OCPPJ_21)
        return fg_error_set(err, FG_EUNSUPPORTED, "/w",
                            "discharge needs OCPP 2.1; station %s speaks 2.0.1", st->id);
    struct evse_ctl *ctl = ctl_get(st, evse_id, a->id);
    if (!ctl)
        return fg_error_set(err, FG_ENOMEM, "/asset", "out of memory");
    ctl->want = a->sp.active;
    ctl->want_w = a->sp.w;
    ctl->want_until = a->sp.expires_at;
    ctl->renewed = a->sp.source == FG_SP_SCHEDULER || a->sp.source == FG_SP_FALLBACK;
    ctl->refused = false;
    if (a->sp.active) {
        a->sp.state = FG_SPS_PENDING;
        a->sp.detail[0] = '\0';
    }
    ctl_sync(o, st, ctl);
    return 0;
}

const struct fg_adapter_ops fg_ocpp_adapter = {
    .name = "ocpp",
    .start = ocpp_start,
    .stop = ocpp_stop,
    .reconfigure = ocpp_reconfigure,
    .setpoint = ocpp_setpoint,
};
