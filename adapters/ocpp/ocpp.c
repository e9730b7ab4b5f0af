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
#include <time.h>

#include <libwebsockets.h>

#include "fg_adapter.h"
#include "fg_buf.h"
#include "fg_ocpp_schema.h"
#include "fg_ocppj.h"
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

struct station {
    char id[STATION_ID_MAX + 1];
    struct tx tx[TX_MAX];
    size_t n_tx;
    struct lws *wsi; /* current connection, NULL when disconnected */
    enum fg_ocppj_dialect dialect;
    bool booted;
    char vendor[51], model[51];
    struct frame *head, *tail;
    size_t queued;
};

struct pss {
    struct ocpp *o;
    struct station *st;
    char *rx; /* message being reassembled */
    size_t rx_len, rx_cap;
    bool rx_too_big;
};

struct ocpp {
    struct fg_adapter_host host;
    struct fg_ocpp_sec *sec; /* listeners and security profiles (security.c) */
    bool allow_unknown;
    int heartbeat_s;
    size_t max_frame;
    const struct fg_config *cfg; /* valid while started (the gateway restarts us) */
    struct station **stations;
    size_t n_stations, cap_stations;
    struct fg_buf out; /* scratch for encoding one answer */
    struct fg_timer alive;
};

#define ALIVE_EVERY_MS 15000

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

static bool station_configured(const struct ocpp *o, const char *id)
{
    for (size_t i = 0; i < o->cfg->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &o->cfg->site.assets[i];
        if (a->kind == FG_ASSET_EVSE && !strcmp(a->adapter, "ocpp") &&
            !strcmp(a->station, id))
            return true;
    }
    return false;
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
    o->stations[o->n_stations++] = st;
    return st;
}

/* The asset of EVSE evse_id of a station: the configured one, or (for
 * stations we accept without configuration) one made now, named
 * "<station>-<evseId>", with no power until the station tells us more. */
static struct fg_asset *evse_asset(struct ocpp *o, const struct station *st, int evse_id)
{
    struct fg_model *m = o->host.model;
    for (size_t i = 0; i < o->cfg->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &o->cfg->site.assets[i];
        if (a->kind == FG_ASSET_EVSE && !strcmp(a->adapter, "ocpp") &&
            !strcmp(a->station, st->id) && a->evse_id == evse_id)
            return fg_model_find_asset(m, a->id);
    }
    if (!o->allow_unknown)
        return NULL;
    char id[FG_ID_MAX];
    snprintf(id, sizeof(id), "%s-%d", st->id, evse_id);
    struct fg_asset *a = fg_model_find_asset(m, id);
    if (a)
        return a;
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
    if (fg_model_add_asset(m, &n, NULL))
        return NULL;
    fg_info("ocpp", "%s: new EVSE %d added as asset %s", st->id, evse_id, id);
    return fg_model_find_asset(m, id);
}

/* Mark every EVSE asset of a station online or offline. */
static void station_assets_online(struct ocpp *o, const struct station *st, bool online)
{
    struct fg_model *m = o->host.model;
    int64_t now = fg_clock_now_s(o->host.clock);
    char prefix[STATION_ID_MAX + 2];
    snprintf(prefix, sizeof(prefix), "%s-", st->id);
    for (size_t i = 0; i < m->n_assets; i++) {
        struct fg_asset *a = &m->assets[i];
        if (a->kind != FG_ASSET_EVSE || strcmp(a->adapter, "ocpp"))
            continue;
        const struct fg_cfg_asset *c = NULL;
        for (size_t j = 0; j < o->cfg->site.n_assets && !c; j++) {
            if (!strcmp(o->cfg->site.assets[j].id, a->id))
                c = &o->cfg->site.assets[j];
        }
        bool mine =
            c ? !strcmp(c->station, st->id) : !strncmp(a->id, prefix, strlen(prefix));
        if (!mine)
            continue;
        a->online = online;
        if (online)
            a->last_seen = now;
        m->version++;
    }
}

/* ---- sending ------------------------------------------------------------------ */

static void queue_frame(struct ocpp *o, struct station *st, const char *data, size_t len)
{
    if (!st->wsi)
        return;
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

/* ---- handlers ------------------------------------------------------------------ */

struct call {
    struct ocpp *o;
    struct station *st;
    const struct fg_ocppj_msg *msg;
    cJSON *reply;              /* the CALLRESULT payload to build */
    struct fg_ocpp_verror err; /* or the CALLERROR to answer */
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
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : "";
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
    int evse_id = cJSON_GetObjectItemCaseSensitive(p, "evseId")->valueint;
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
    const cJSON *uom = cJSON_GetObjectItemCaseSensitive(sv, "unitOfMeasure");
    const cJSON *mul = cJSON_GetObjectItemCaseSensitive(uom, "multiplier");
    const char *unit = str_at(uom, "unit", NULL);
    double v = cJSON_GetObjectItemCaseSensitive(sv, "value")->valuedouble;
    if (cJSON_IsNumber(mul))
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
        cJSON_ArrayForEach(sv, cJSON_GetObjectItemCaseSensitive(mv, "sampledValue"))
        {
            if (cJSON_GetObjectItemCaseSensitive(sv, "phase"))
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

static void apply_meter(struct call *c, struct fg_asset *a, struct tx *t, struct meter m)
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
    if (fg_store_meter_add(c->o->host.store, a->id, fg_clock_now_ms(c->o->host.clock),
                           m.power_w, m.energy_wh, m.soc))
        fg_warn("ocpp", "%s: meter values not stored: %s", a->id,
                fg_store_errmsg(c->o->host.store));
}

static const struct state_name charging_states[] = {
    {"Charging", FG_CONN_CHARGING},     {"EVConnected", FG_CONN_OCCUPIED},
    {"SuspendedEV", FG_CONN_SUSPENDED}, {"SuspendedEVSE", FG_CONN_SUSPENDED},
    {"Idle", FG_CONN_OCCUPIED},
};

static void apply_tx_event(struct call *c, struct fg_asset *a, struct tx *t,
                           const char *event)
{
    const cJSON *p = c->msg->payload;
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(p, "transactionInfo");
    const char *cs = str_at(info, "chargingState", NULL);
    map_state(charging_states, NSTATES(charging_states), cs, &a->evse.state);
    if (!strcmp(event, "Started") || !a->evse.session_active) {
        a->evse.session_active = true;
        snprintf(a->evse.session_id, sizeof(a->evse.session_id), "%s", t->id);
        a->evse.energy_wh = 0;
        int64_t ts;
        a->evse.session_start =
            fg_time_parse_rfc3339(str_at(p, "timestamp", NULL), &ts) ? 0 : ts;
    }
    const char *token = str_at(p, "idToken", "idToken");
    if (token[0])
        snprintf(a->evse.id_token, sizeof(a->evse.id_token), "%s", token);
    apply_meter(c, a, t, read_meter(cJSON_GetObjectItemCaseSensitive(p, "meterValue")));
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
    char *json = cJSON_PrintUnformatted(c->msg->payload);
    int rc = json ? fg_store_tx_put(c->o->host.store, tx_id, c->st->id, evse_id, event,
                                    json, fg_clock_now_ms(c->o->host.clock))
                  : FG_ENOMEM;
    free(json);
    return rc;
}

static int h_transaction_event(struct call *c)
{
    const cJSON *p = c->msg->payload;
    const char *event = str_at(p, "eventType", NULL);
    const char *tx_id = str_at(p, "transactionInfo", "transactionId");
    long long seq = (long long)cJSON_GetObjectItemCaseSensitive(p, "seqNo")->valuedouble;
    const cJSON *evse = cJSON_GetObjectItemCaseSensitive(p, "evse");
    struct tx *t = tx_find(c->st, tx_id);
    int evse_id = evse ? cJSON_GetObjectItemCaseSensitive(evse, "id")->valueint
                       : (t ? t->evse_id : 0);
    if (store_tx_event(c, tx_id, evse_id, event)) {
        fg_err("ocpp", "%s: transaction %s not stored: %s", c->st->id, tx_id,
               fg_store_errmsg(c->o->host.store));
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
            apply_tx_event(c, a, t, event);
        else
            fg_warn("ocpp", "%s: transaction %s on unknown EVSE %d", c->st->id, tx_id,
                    evse_id);
    }
    if (!strcmp(event, "Ended"))
        tx_forget(c->st, t);
    if (cJSON_GetObjectItemCaseSensitive(p, "idToken")) {
        /* No local authorisation list yet: every token is accepted. */
        cJSON *info = cJSON_AddObjectToObject(c->reply, "idTokenInfo");
        cJSON_AddStringToObject(info, "status", "Accepted");
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
    int evse_id = cJSON_GetObjectItemCaseSensitive(p, "evseId")->valueint;
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
    apply_meter(c, a, t, read_meter(cJSON_GetObjectItemCaseSensitive(p, "meterValue")));
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
    {"BootNotification", h_boot},
    {"Heartbeat", h_heartbeat},
    {"MeterValues", h_meter_values},
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

/* Validate, dispatch, validate our answer, send. */
static void on_call(struct ocpp *o, struct station *st, const struct fg_ocppj_msg *msg)
{
    enum fg_ocpp_version v = version_of(st->dialect);
    struct call c = {.o = o, .st = st, .msg = msg};
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
        return;
    }
    c.reply = cJSON_CreateObject();
    int rc = c.reply ? h->fn(&c) : -1;
    const struct fg_ocpp_msg_schema *res = fg_ocpp_schema_find(v, msg->action, 1);
    struct fg_ocpp_verror self;
    if (rc || !res || fg_ocpp_validate(res, c.reply, &self)) {
        if (!rc && res)
            fg_err("ocpp", "BUG: our %sResponse is invalid: %s %s", msg->action,
                   self.path, self.desc);
        set_err(&c.err, FG_OCPP_INTERNAL_ERROR, "could not answer %s", msg->action);
        send_error(o, st, FG_OCPPJ_CALLERROR, msg->id, &c.err);
    } else {
        send_result(o, st, msg->id, c.reply);
    }
    cJSON_Delete(c.reply);
}

static void on_message(struct ocpp *o, struct station *st, const char *buf, size_t len)
{
    struct fg_ocppj_msg msg;
    struct fg_ocpp_verror err = {0};
    fg_ocppj_msg_init(&msg);
    fg_metrics_adapter(o->host.metrics, "ocpp", 1, 0);
    if (fg_ocppj_decode(buf, len, st->dialect, &msg, &err)) {
        if (msg.answer != FG_OCPPJ_ANSWER_NONE)
            send_error(o, st,
                       msg.answer == FG_OCPPJ_ANSWER_CALLRESULTERROR
                           ? FG_OCPPJ_CALLRESULTERROR
                           : FG_OCPPJ_CALLERROR,
                       msg.id, &err);
        else
            fg_dbg("ocpp", "%s: unanswerable frame dropped: %s", st->id, err.desc);
    } else if (msg.type == FG_OCPPJ_CALL) {
        on_call(o, st, &msg);
    } else {
        /* No CALLs of ours are outstanding yet: nothing to match. */
        fg_dbg("ocpp", "%s: unexpected reply to message %s ignored", st->id, msg.id);
    }
    fg_ocppj_msg_clear(&msg);
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
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    st->dialect = proto && !strcmp(proto->name, "ocpp2.1") ? FG_OCPPJ_21 : FG_OCPPJ_201;
    fg_info("ocpp", "%s: connected (%s)", id, proto ? proto->name : "?");
    return 0;
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
    on_message(o, p->st, p->rx, n);
    return 0;
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
    fg_buf_init(&o->out, o->max_frame + 1024);

    const struct fg_ocpp_listen l = {protocols, &keepalive, o};
    int rc = fg_ocpp_sec_new(host, cfg, &l, &o->sec, err);
    if (rc) {
        fg_buf_clear(&o->out);
        free(o);
        return rc;
    }
    fg_timer_init(&o->alive, host->loop, keep_alive, o);
    fg_timer_start(&o->alive, ALIVE_EVERY_MS);
    *state = o;
    return 0;
}

static void ocpp_stop(void *state)
{
    struct ocpp *o = state;
    if (!o)
        return;
    fg_timer_stop(&o->alive);
    for (size_t i = 0; i < o->n_stations; i++) {
        struct station *st = o->stations[i];
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
    /* Connections close as the vhosts go (lws does it lazily); their
     * callbacks find no adapter (p->o cleared) and no station. */
    fg_ocpp_sec_free(o->sec);
    fg_buf_clear(&o->out);
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
    o->cfg = cfg;
    o->allow_unknown = cfg->ocpp.allow_unknown_stations;
    o->heartbeat_s = cfg->ocpp.heartbeat_s;
    o->max_frame = (size_t)cfg->ocpp.max_frame_bytes;
    o->out.max = o->max_frame + 1024;
    return 0;
}

static int ocpp_setpoint(void *state, struct fg_asset *asset)
{
    (void)state;
    /* Charging profiles arrive with the smart-charging step of this adapter;
     * until then fg_gw_setpoint() sees this and refuses the set-point. */
    (void)asset;
    return FG_EUNSUPPORTED;
}

const struct fg_adapter_ops fg_ocpp_adapter = {
    .name = "ocpp",
    .start = ocpp_start,
    .stop = ocpp_stop,
    .reconfigure = ocpp_reconfigure,
    .setpoint = ocpp_setpoint,
};
