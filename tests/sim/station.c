/* One simulated station's connection: the lws client, our CALL queue (one
 * CALL outstanding at a time, the rest wait behind it), the frames waiting
 * for the socket, inbound frames, BootNotification and Heartbeat.
 *
 * Why a queue per station and one CALL in flight: OCPP-J (part 4, 4.1.1)
 * lets a station have one CALL outstanding; a real station serialises what it
 * has to say. TransactionEvents are kept across disconnects (offline
 * queueing, sent with offline=true when they happened while offline); other
 * CALLs of a lost connection are dropped, the station boots again and
 * reports its state anew. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define BOOT_RETRY_S 10  /* BootNotification without a usable interval */
#define TX_RETRY_MS 2000 /* TransactionEvent retry back-off */
#define TX_RETRIES_MAX 5
#define RESET_CLOSE_MS 3000 /* close at the latest this long after a Reset */

enum fg_ocpp_version sim_version(const struct sim_station *st)
{
    return st->sim->o.dialect == FG_OCPPJ_21 ? FG_OCPP_V21 : FG_OCPP_V201;
}

struct sim_station *sim_station_find(struct sim *s, const char *id)
{
    for (size_t i = 0; i < s->n_st; i++) {
        if (!strcmp(s->st[i]->id, id))
            return s->st[i];
    }
    return NULL;
}

static bool quiet(const struct sim_station *st)
{
    return st->sim->o.quiet;
}

/* ---- frames for the socket ---------------------------------------------------- */

int sim_write(struct sim_station *st, const char *data, size_t len)
{
    if (!st->wsi || !st->open)
        return FG_ESTATE;
    if (st->w_len >= SIM_WRITEQ_MAX)
        return FG_EFULL;
    struct sim_frame *f = malloc(sizeof(*f) + LWS_PRE + len);
    if (!f)
        return FG_ENOMEM;
    f->next = NULL;
    f->len = len;
    memcpy(f->data + LWS_PRE, data, len);
    if (st->w_tail)
        st->w_tail->next = f;
    else
        st->w_head = f;
    st->w_tail = f;
    st->w_len++;
    lws_callback_on_writable(st->wsi);
    return 0;
}

static void drop_writes(struct sim_station *st)
{
    while (st->w_head) {
        struct sim_frame *f = st->w_head;
        st->w_head = f->next;
        free(f);
    }
    st->w_tail = NULL;
    st->w_len = 0;
}

/* ---- our CALLs --------------------------------------------------------------------- */

static void call_free(struct sim_call *c)
{
    if (c) {
        cJSON_Delete(c->payload);
        free(c);
    }
}

static int enqueue(struct sim_station *st, const char *action, cJSON *payload, bool front,
                   int evse_id, unsigned plug_gen)
{
    if (!payload)
        return FG_ENOMEM;
    /* Offline, only TransactionEvents are kept (E04); the rest is said anew
     * after the next boot. */
    if (!st->open && strcmp(action, "TransactionEvent")) {
        cJSON_Delete(payload);
        return FG_ESTATE;
    }
    if (st->q_len >= SIM_CALLQ_MAX) {
        sim_ev_error(st->sim, st, "CALL queue full, %s dropped", action);
        cJSON_Delete(payload);
        return FG_EFULL;
    }
    struct sim_call *c = calloc(1, sizeof(*c));
    if (!c) {
        cJSON_Delete(payload);
        return FG_ENOMEM;
    }
    snprintf(c->action, sizeof(c->action), "%s", action);
    c->payload = payload;
    c->evse_id = evse_id;
    c->plug_gen = plug_gen;
    if (front) {
        c->next = st->q_head;
        st->q_head = c;
        if (!st->q_tail)
            st->q_tail = c;
    } else {
        if (st->q_tail)
            st->q_tail->next = c;
        else
            st->q_head = c;
        st->q_tail = c;
    }
    st->q_len++;
    if (!st->in_handler)
        sim_pump(st);
    return 0;
}

int sim_call(struct sim_station *st, const char *action, cJSON *payload, bool front)
{
    return enqueue(st, action, payload, front, 0, 0);
}

int sim_call_for(struct sim_station *st, const char *action, cJSON *payload, int evse_id,
                 unsigned plug_gen)
{
    return enqueue(st, action, payload, false, evse_id, plug_gen);
}

static struct sim_call *queue_pop(struct sim_station *st)
{
    struct sim_call *c = st->q_head;
    if (c) {
        st->q_head = c->next;
        if (!st->q_head)
            st->q_tail = NULL;
        c->next = NULL;
        st->q_len--;
    }
    return c;
}

static void on_call_timeout(lws_sorted_usec_list_t *sul);

/* Why a frame is broken this way: the gateway can still read the message id
 * from it and should answer RpcFrameworkError, the interesting case. */
static void break_frame(struct fg_buf *b)
{
    if (b->len > 1)
        b->s[--b->len] = '\0'; /* drop the closing ']' */
}

void sim_pump(struct sim_station *st)
{
    if (!st->open || st->pending || !st->q_head || st->in_handler)
        return;
    if (!st->boot_accepted && strcmp(st->q_head->action, "BootNotification"))
        return;
    int64_t now = sim_mono_ms();
    if (st->hold_until_ms > now) {
        lws_sul_schedule(st->sim->ctx, 0, &st->sul_timeout, on_call_timeout,
                         (lws_usec_t)(st->hold_until_ms - now) * 1000);
        return;
    }
    struct sim_call *c = queue_pop(st);
    /* Our own CALLs are checked like the CSMS's: a payload the schema
     * refuses is a bug in this simulator, not a test of the CSMS. */
    const struct fg_ocpp_msg_schema *s =
        fg_ocpp_schema_find(sim_version(st), c->action, 0);
    struct fg_ocpp_verror err;
    if (!s || fg_ocpp_validate(s, c->payload, &err)) {
        sim_ev_error(st->sim, st, "BUG: our %s is invalid: %s %s", c->action,
                     s ? err.path : "", s ? err.desc : "unknown action");
        call_free(c);
        sim_pump(st);
        return;
    }
    if (st->mb != SIM_MB_DUP_ID || !st->last_id[0])
        fg_ocppj_make_id(st->last_id, st->id_prefix, ++st->id_counter);
    struct fg_buf b;
    fg_buf_init(&b, SIM_FRAME_MAX);
    int rc = fg_ocppj_encode_call(&b, st->last_id, c->action, c->payload);
    if (!rc && st->mb == SIM_MB_MALFORMED)
        break_frame(&b);
    if (!rc)
        rc = sim_write(st, b.s, b.len);
    fg_buf_clear(&b);
    if (rc) {
        sim_ev_error(st->sim, st, "cannot send %s: %s", c->action, fg_strerror(rc));
        call_free(c);
        return;
    }
    st->pending = c;
    snprintf(st->pending_id, sizeof(st->pending_id), "%s", st->last_id);
    lws_sul_schedule(st->sim->ctx, 0, &st->sul_timeout, on_call_timeout,
                     (lws_usec_t)st->sim->o.call_timeout_ms * 1000);
}

/* The pending CALL is done with: the next one may go. */
static void pending_done(struct sim_station *st)
{
    call_free(st->pending);
    st->pending = NULL;
    st->pending_id[0] = '\0';
    lws_sul_cancel(&st->sul_timeout);
    if (st->close_after_flush && st->wsi)
        lws_callback_on_writable(st->wsi); /* a Reset may close now */
}

/* A TransactionEvent without an answer is kept and sent again. */
static bool retry_tx(struct sim_station *st)
{
    struct sim_call *c = st->pending;
    if (!c || strcmp(c->action, "TransactionEvent") || ++c->retries > TX_RETRIES_MAX)
        return false;
    st->pending = NULL;
    st->pending_id[0] = '\0';
    c->next = st->q_head;
    st->q_head = c;
    if (!st->q_tail)
        st->q_tail = c;
    st->q_len++;
    st->hold_until_ms = sim_mono_ms() + TX_RETRY_MS;
    return true;
}

/* ---- answers to our CALLs ------------------------------------------------------- */

static void on_hb(lws_sorted_usec_list_t *sul);

void sim_send_boot(struct sim_station *st, const char *reason)
{
    cJSON *p = cJSON_CreateObject();
    cJSON *cs = cJSON_AddObjectToObject(p, "chargingStation");
    cJSON_AddStringToObject(cs, "model", "ocpp_sim");
    cJSON_AddStringToObject(cs, "vendorName", "flexgw");
    cJSON_AddStringToObject(p, "reason", reason);
    sim_call(st, "BootNotification", p, true);
}

static void boot_retry(lws_sorted_usec_list_t *sul)
{
    struct sim_station *st = lws_container_of(sul, struct sim_station, sul_hb);
    if (st->open && !st->boot_accepted)
        sim_send_boot(st, st->boot_reason);
}

static void r_boot(struct sim_station *st, const struct sim_call *c, const cJSON *res)
{
    (void)c;
    const char *status = sim_jstr(res, "status");
    double interval = 0;
    sim_jnum(res, "interval", &interval);
    cJSON *ev = sim_ev_station(st, "booted");
    cJSON_AddStringToObject(ev, "status", status);
    cJSON_AddNumberToObject(ev, "interval", interval);
    sim_ev_emit(st->sim, ev);
    if (strcmp(status, "Accepted")) {
        /* Pending / Rejected: boot again after the interval (B02, B03). */
        int s = interval > 0 ? (int)interval : BOOT_RETRY_S;
        lws_sul_schedule(st->sim->ctx, 0, &st->sul_hb, boot_retry,
                         (lws_usec_t)s * LWS_US_PER_SEC);
        return;
    }
    sim_clock_adopt(st, sim_jstr(res, "currentTime"));
    st->boot_accepted = true;
    st->ever_booted = true;
    st->boot_reason = "PowerUp";
    if (interval > 0)
        st->hb_s = (int)interval;
    sim_restart_heartbeat(st);
    for (int i = 1; i <= st->n_evse; i++)
        sim_evse_send_status(st, &st->evse[i]);
}

static void e_boot(struct sim_station *st, const struct sim_call *c)
{
    (void)c;
    lws_sul_schedule(st->sim->ctx, 0, &st->sul_hb, boot_retry,
                     (lws_usec_t)BOOT_RETRY_S * LWS_US_PER_SEC);
}

static void r_heartbeat(struct sim_station *st, const struct sim_call *c,
                        const cJSON *res)
{
    (void)c;
    sim_clock_adopt(st, sim_jstr(res, "currentTime"));
}

static void r_authorize(struct sim_station *st, const struct sim_call *c,
                        const cJSON *res)
{
    const char *status =
        sim_jstr(cJSON_GetObjectItemCaseSensitive(res, "idTokenInfo"), "status");
    char why[80];
    snprintf(why, sizeof(why), "idTokenInfo.status %s", status);
    sim_evse_authorized(st, c->evse_id, c->plug_gen, !strcmp(status, "Accepted"), why);
}

static void e_authorize(struct sim_station *st, const struct sim_call *c)
{
    sim_evse_authorized(st, c->evse_id, c->plug_gen, false, "no Authorize answer");
}

static void r_tx_event(struct sim_station *st, const struct sim_call *c, const cJSON *res)
{
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(res, "idTokenInfo");
    if (!info || strcmp(sim_jstr(c->payload, "eventType"), "Started"))
        return;
    const cJSON *ti = cJSON_GetObjectItemCaseSensitive(c->payload, "transactionInfo");
    sim_evse_tx_token_status(st, sim_jstr(ti, "transactionId"), sim_jstr(info, "status"));
}

typedef void (*result_fn)(struct sim_station *st, const struct sim_call *c,
                          const cJSON *res);
typedef void (*error_fn)(struct sim_station *st, const struct sim_call *c);

/* What follows an answer to one of our CALLs, by action (sorted). */
static const struct answer_handler {
    const char *action;
    result_fn result;
    error_fn error;
} answer_handlers[] = {
    {"Authorize", r_authorize, e_authorize},
    {"BootNotification", r_boot, e_boot},
    {"Heartbeat", r_heartbeat, NULL},
    {"TransactionEvent", r_tx_event, NULL},
};

static int cmp_answer(const void *k, const void *e)
{
    return strcmp(k, ((const struct answer_handler *)e)->action);
}

static const struct answer_handler *answer_handler(const char *action)
{
    return bsearch(action, answer_handlers,
                   sizeof(answer_handlers) / sizeof(answer_handlers[0]),
                   sizeof(answer_handlers[0]), cmp_answer);
}

static void emit_rejected(struct sim_station *st, const char *action, const char *why)
{
    cJSON *ev = sim_ev_station(st, "rejected");
    cJSON_AddStringToObject(ev, "action", action);
    cJSON_AddStringToObject(ev, "reason", why);
    sim_ev_emit(st->sim, ev);
}

static void send_error_frame(struct sim_station *st, enum fg_ocppj_type t, const char *id,
                             enum fg_ocpp_errcode code, const char *desc)
{
    struct fg_buf b;
    fg_buf_init(&b, 4096);
    if (!fg_ocppj_encode_error(&b, t, id, code, desc, NULL))
        sim_write(st, b.s, b.len);
    fg_buf_clear(&b);
}

/* The pending CALL failed (CALLERROR, bad CALLRESULT, or no answer). */
static void call_failed(struct sim_station *st, const char *code, const char *desc)
{
    struct sim_call *c = st->pending;
    if (!quiet(st)) {
        cJSON *ev = sim_ev_station(st, "answer");
        cJSON_AddStringToObject(ev, "action", c->action);
        cJSON_AddStringToObject(ev, "id", st->pending_id);
        cJSON_AddStringToObject(ev, "error", code);
        cJSON_AddStringToObject(ev, "description", desc);
        sim_ev_emit(st->sim, ev);
    }
    char why[400];
    snprintf(why, sizeof(why), "%s: %s", code, desc);
    emit_rejected(st, c->action, why);
    bool transient = !strcmp(code, "Timeout") || !strcmp(code, "InternalError") ||
                     !strcmp(code, "GenericError");
    if (transient && retry_tx(st)) {
        lws_sul_cancel(&st->sul_timeout);
        sim_pump(st);
        return;
    }
    const struct answer_handler *h = answer_handler(c->action);
    if (h && h->error)
        h->error(st, c);
    pending_done(st);
    sim_pump(st);
}

static void on_call_timeout(lws_sorted_usec_list_t *sul)
{
    struct sim_station *st = lws_container_of(sul, struct sim_station, sul_timeout);
    if (!st->pending) {
        sim_pump(st); /* a back-off ended */
        return;
    }
    call_failed(st, "Timeout", "no answer from the CSMS");
}

static void on_result(struct sim_station *st, struct fg_ocppj_msg *m)
{
    struct sim_call *c = st->pending;
    const struct fg_ocpp_msg_schema *s =
        fg_ocpp_schema_find(sim_version(st), c->action, 1);
    struct fg_ocpp_verror err = {0};
    if (s && fg_ocpp_validate(s, m->payload, &err)) {
        char desc[sizeof(err.path) + sizeof(err.desc) + FG_OCPPJ_ACTION_MAX + 32];
        snprintf(desc, sizeof(desc), "invalid %sResponse: %s %s", c->action, err.path,
                 err.desc);
        /* OCPP 2.1 answers a CALLRESULT it cannot accept (FR.06). */
        if (st->sim->o.dialect == FG_OCPPJ_21)
            send_error_frame(st, FG_OCPPJ_CALLRESULTERROR, m->id, err.code, desc);
        call_failed(st, fg_ocpp_errcode_name(err.code), desc);
        return;
    }
    if (!quiet(st)) {
        cJSON *ev = sim_ev_station(st, "answer");
        cJSON_AddStringToObject(ev, "action", c->action);
        cJSON_AddStringToObject(ev, "id", m->id);
        cJSON_AddItemToObject(ev, "result", cJSON_Duplicate(m->payload, 1));
        sim_ev_emit(st->sim, ev);
    }
    const struct answer_handler *h = answer_handler(c->action);
    if (h && h->result)
        h->result(st, c, m->payload);
    pending_done(st);
    sim_pump(st);
}

/* An answer whose id is not our pending CALL's (a raw "send", a late answer,
 * a confused CSMS). */
static void on_stray(struct sim_station *st, const struct fg_ocppj_msg *m)
{
    cJSON *ev = sim_ev_station(st, "answer");
    cJSON_AddNullToObject(ev, "action");
    cJSON_AddStringToObject(ev, "id", m->id);
    if (m->type == FG_OCPPJ_CALLRESULT) {
        cJSON_AddItemToObject(ev, "result", cJSON_Duplicate(m->payload, 1));
    } else {
        cJSON_AddStringToObject(ev, "error", m->error_code_text);
        cJSON_AddStringToObject(ev, "description", m->error_desc);
    }
    sim_ev_emit(st->sim, ev);
}

static void on_message(struct sim_station *st, const char *buf, size_t len)
{
    struct fg_ocppj_msg m;
    struct fg_ocpp_verror err = {0};
    fg_ocppj_msg_init(&m);
    if (fg_ocppj_decode(buf, len, st->sim->o.dialect, &m, &err)) {
        char why[sizeof(err.desc) + 64];
        snprintf(why, sizeof(why), "undecodable frame: %s", err.desc);
        emit_rejected(st, m.action[0] ? m.action : "frame", why);
        if (m.answer != FG_OCPPJ_ANSWER_NONE && st->mb != SIM_MB_SILENT)
            send_error_frame(st,
                             m.answer == FG_OCPPJ_ANSWER_CALLRESULTERROR
                                 ? FG_OCPPJ_CALLRESULTERROR
                                 : FG_OCPPJ_CALLERROR,
                             m.id, err.code, err.desc);
    } else if (m.type == FG_OCPPJ_CALL) {
        sim_csms_call(st, &m);
    } else if (m.type == FG_OCPPJ_SEND) {
        emit_rejected(st, m.action, "SEND from the CSMS ignored");
    } else if (st->pending && !strcmp(m.id, st->pending_id)) {
        if (m.type == FG_OCPPJ_CALLRESULT)
            on_result(st, &m);
        else
            call_failed(st, m.error_code_text, m.error_desc);
    } else {
        on_stray(st, &m);
    }
    fg_ocppj_msg_clear(&m);
}

/* ---- boot and heartbeat ------------------------------------------------------- */

static void on_hb(lws_sorted_usec_list_t *sul)
{
    struct sim_station *st = lws_container_of(sul, struct sim_station, sul_hb);
    if (!st->open || !st->boot_accepted)
        return;
    sim_call(st, "Heartbeat", cJSON_CreateObject(), false);
    sim_restart_heartbeat(st);
}

void sim_restart_heartbeat(struct sim_station *st)
{
    if (st->open && st->boot_accepted && st->hb_s > 0)
        lws_sul_schedule(st->sim->ctx, 0, &st->sul_hb, on_hb,
                         (lws_usec_t)st->hb_s * LWS_US_PER_SEC);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct sim_station *st = lws_container_of(sul, struct sim_station, sul_tick);
    sim_evse_tick(st);
    int ms = st->meter_ms < 1000 && st->meter_ms > 0 ? st->meter_ms : 1000;
    lws_sul_schedule(st->sim->ctx, 0, &st->sul_tick, on_tick, (lws_usec_t)ms * 1000);
}

static void on_meter(lws_sorted_usec_list_t *sul)
{
    struct sim_station *st = lws_container_of(sul, struct sim_station, sul_meter);
    sim_evse_meter_tick(st);
    sim_restart_meter(st);
}

void sim_restart_meter(struct sim_station *st)
{
    if (st->meter_ms > 0)
        lws_sul_schedule(st->sim->ctx, 0, &st->sul_meter, on_meter,
                         (lws_usec_t)st->meter_ms * 1000);
    else
        lws_sul_cancel(&st->sul_meter);
}

/* ---- connection ----------------------------------------------------------------- */

static void on_connect_timer(lws_sorted_usec_list_t *sul)
{
    sim_station_connect(lws_container_of(sul, struct sim_station, sul_conn));
}

static void schedule_reconnect(struct sim_station *st, int ms)
{
    if (st->sim->quitting)
        return;
    lws_sul_schedule(st->sim->ctx, 0, &st->sul_conn, on_connect_timer,
                     (lws_usec_t)(ms < 0 ? st->sim->o.reconnect_ms : ms) * 1000);
}

void sim_station_connect(struct sim_station *st)
{
    const struct sim_opts *o = &st->sim->o;
    if (st->wsi || st->sim->quitting)
        return;
    char path[512], host[300];
    snprintf(path, sizeof(path), "%s/%s", o->path, st->id);
    /* RFC 7230 5.4: the port belongs in Host unless it is the default */
    if (o->port == (o->tls ? 443 : 80))
        snprintf(host, sizeof(host), "%s", o->host);
    else
        snprintf(host, sizeof(host), "%s:%d", o->host, o->port);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = st->sim->ctx;
    ci.address = o->host;
    ci.port = o->port;
    ci.path = path;
    ci.host = host;
    ci.origin = host;
    ci.protocol = o->dialect == FG_OCPPJ_21 ? "ocpp2.1" : "ocpp2.0.1";
    ci.local_protocol_name = "ocpp-sim";
    ci.opaque_user_data = st;
    ci.pwsi = &st->wsi;
    if (o->tls) {
        ci.ssl_connection = LCCSCF_USE_SSL;
        if (o->insecure)
            ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
                                 LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                 LCCSCF_ALLOW_EXPIRED;
    }
    if (!lws_client_connect_via_info(&ci)) {
        st->wsi = NULL;
        schedule_reconnect(st, -1);
    }
}

static void on_close_timer(lws_sorted_usec_list_t *sul)
{
    struct sim_station *st = lws_container_of(sul, struct sim_station, sul_close);
    if (st->wsi)
        lws_set_timeout(st->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

void sim_station_drop(struct sim_station *st, int ms)
{
    st->reconnect_next_ms = ms;
    if (st->wsi) {
        lws_set_timeout(st->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    } else {
        st->reconnect_next_ms = -1;
        schedule_reconnect(st, ms);
    }
}

/* Reset: close once the answer (and what the station still had to say) is
 * out, or after RESET_CLOSE_MS; boot again with reason RemoteReset. */
void sim_station_reset(struct sim_station *st)
{
    st->boot_reason = "RemoteReset";
    st->close_after_flush = true;
    lws_sul_schedule(st->sim->ctx, 0, &st->sul_close, on_close_timer,
                     (lws_usec_t)RESET_CLOSE_MS * 1000);
    if (st->wsi)
        lws_callback_on_writable(st->wsi);
}

static void on_established(struct sim_station *st, struct lws *wsi)
{
    /* We offer one subprotocol; lws refuses a handshake that picks another. */
    const char *proto = st->sim->o.dialect == FG_OCPPJ_21 ? "ocpp2.1" : "ocpp2.0.1";
    (void)wsi;
    st->open = true;
    st->boot_accepted = false;
    st->close_after_flush = false;
    st->id_prefix = sim_rand(st->sim);
    st->id_counter = 0;
    st->last_id[0] = '\0';
    st->rx_len = 0;
    st->rx_too_big = false;
    cJSON *ev = sim_ev_station(st, "connected");
    cJSON_AddStringToObject(ev, "protocol", proto);
    sim_ev_emit(st->sim, ev);
    /* Boot first, before anything queued while offline. */
    lws_sul_cancel(&st->sul_hb);
    boot_retry(&st->sul_hb);
}

static void on_closed(struct sim_station *st, const char *why)
{
    bool was_open = st->open;
    st->wsi = NULL;
    st->open = false;
    st->boot_accepted = false;
    st->close_after_flush = false;
    lws_sul_cancel(&st->sul_hb);
    lws_sul_cancel(&st->sul_close);
    drop_writes(st);
    if (st->pending && !retry_tx(st))
        pending_done(st);
    lws_sul_cancel(&st->sul_timeout);
    st->hold_until_ms = 0;
    /* Only TransactionEvents survive a lost connection. */
    struct sim_call **pp = &st->q_head;
    st->q_tail = NULL;
    while (*pp) {
        struct sim_call *c = *pp;
        if (strcmp(c->action, "TransactionEvent")) {
            *pp = c->next;
            call_free(c);
            st->q_len--;
        } else {
            st->q_tail = c;
            pp = &c->next;
        }
    }
    if (st->sim->quitting)
        return;
    cJSON *ev = sim_ev_station(st, "disconnected");
    cJSON_AddStringToObject(ev, "reason", why);
    cJSON_AddBoolToObject(ev, "was_connected", was_open);
    sim_ev_emit(st->sim, ev);
    int ms = st->reconnect_next_ms;
    st->reconnect_next_ms = -1;
    schedule_reconnect(st, ms);
}

static int on_receive(struct sim_station *st, const void *in, size_t len, struct lws *wsi)
{
    if (lws_frame_is_binary(wsi)) {
        emit_rejected(st, "frame", "binary frame from the CSMS");
        return 0;
    }
    if (st->rx_len + len > SIM_FRAME_MAX) {
        st->rx_too_big = true;
    } else {
        if (st->rx_len + len > st->rx_cap) {
            size_t cap = st->rx_cap ? st->rx_cap : 4096;
            while (cap < st->rx_len + len)
                cap *= 2;
            char *n = realloc(st->rx, cap);
            if (!n)
                return -1;
            st->rx = n;
            st->rx_cap = cap;
        }
        memcpy(st->rx + st->rx_len, in, len);
        st->rx_len += len;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    size_t n = st->rx_len;
    st->rx_len = 0;
    if (st->rx_too_big) {
        st->rx_too_big = false;
        emit_rejected(st, "frame", "frame over 1 MiB dropped");
        return 0;
    }
    on_message(st, st->rx, n);
    return 0;
}

static int on_writeable(struct sim_station *st, struct lws *wsi)
{
    struct sim_frame *f = st->w_head;
    if (f) {
        if (lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
            return -1;
        st->w_head = f->next;
        if (!st->w_head)
            st->w_tail = NULL;
        st->w_len--;
        free(f);
    }
    if (st->w_head) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (st->close_after_flush && !st->pending && !st->q_head)
        return -1;
    return 0;
}

static int append_auth(struct sim_station *st, struct lws *wsi, void *in, size_t len)
{
    const char *pw = st->sim->o.password;
    if (!pw)
        return 0;
    char plain[SIM_ID_MAX + 1 + 256], b64[512], hdr[540];
    int n = snprintf(plain, sizeof(plain), "%s:%s", st->id, pw);
    if (n < 0 || (size_t)n >= sizeof(plain))
        return -1;
    if (lws_b64_encode_string(plain, n, b64, sizeof(b64)) < 0)
        return -1;
    n = snprintf(hdr, sizeof(hdr), "Basic %s", b64);
    unsigned char **p = in, *end = *p + len;
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                        (unsigned char *)hdr, n, p, end)
               ? -1
               : 0;
}

int sim_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                     void *in, size_t len)
{
    (void)user;
    struct sim_station *st = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return st ? append_auth(st, wsi, in, len) : 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (st)
            on_established(st, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (st && (st->wsi == wsi || !st->wsi)) {
            char why[200];
            snprintf(why, sizeof(why), "connection error: %s",
                     in ? (const char *)in : "unknown");
            on_closed(st, why);
            lws_set_opaque_user_data(wsi, NULL);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return st && st->wsi == wsi ? on_receive(st, in, len, wsi) : 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return st && st->wsi == wsi ? on_writeable(st, wsi) : 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (st && st->wsi == wsi)
            on_closed(st, "closed");
        lws_set_opaque_user_data(wsi, NULL);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (st && st->wsi == wsi)
            on_closed(st, "closed");
        lws_set_opaque_user_data(wsi, NULL);
        return 0;
    default:
        return 0;
    }
}

/* ---- life ---------------------------------------------------------------------- */

int sim_station_new(struct sim *s, const char *id, struct sim_station **out)
{
    struct sim_station *st = calloc(1, sizeof(*st));
    if (!st)
        return FG_ENOMEM;
    st->sim = s;
    snprintf(st->id, sizeof(st->id), "%s", id);
    st->boot_reason = "PowerUp";
    st->hb_s = 300;
    st->reconnect_next_ms = -1;
    st->n_evse = s->o.n_evses;
    for (int i = 1; i <= st->n_evse; i++) {
        struct sim_evse *e = &st->evse[i];
        e->id = i;
        e->operative = true;
        e->limit_w = NAN;
        e->soc = NAN;
        e->cstate = "EVConnected";
    }
    sim_dm_init(st);
    lws_sul_schedule(s->ctx, 0, &st->sul_tick, on_tick, 1000 * 1000);
    sim_restart_meter(st);
    *out = st;
    return 0;
}

void sim_station_stop(struct sim_station *st)
{
    lws_sul_cancel(&st->sul_conn);
    lws_sul_cancel(&st->sul_hb);
    lws_sul_cancel(&st->sul_tick);
    lws_sul_cancel(&st->sul_meter);
    lws_sul_cancel(&st->sul_timeout);
    lws_sul_cancel(&st->sul_close);
    for (struct sim_delayed *d = st->delayed; d; d = d->next)
        lws_sul_cancel(&d->sul);
    if (st->wsi)
        lws_set_opaque_user_data(st->wsi, NULL);
    st->wsi = NULL;
    st->open = false;
}

void sim_station_free(struct sim_station *st)
{
    if (!st)
        return;
    drop_writes(st);
    call_free(st->pending);
    while (st->q_head)
        call_free(queue_pop(st));
    while (st->delayed) {
        struct sim_delayed *d = st->delayed;
        st->delayed = d->next;
        free(d);
    }
    for (int i = 0; i < st->n_prof; i++) {
        sim_profile_clear(st->prof[i]);
        free(st->prof[i]);
    }
    for (int i = 1; i <= st->n_evse; i++)
        cJSON_Delete(st->evse[i].remote_profile);
    free(st->rx);
    free(st);
}
