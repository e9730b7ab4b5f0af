/* The OpenADR 2.0b VEN: registration, polling, events -> signals, reports.
 *
 * Why it is built like this. The VEN is a pull client: everything it learns
 * comes in the answer to a POST it made. All state lives on the loop thread;
 * a POST is a blocking libcurl call on the adapter's own worker thread (one
 * request at a time, in order), and its answer comes back on the loop
 * thread, where it is decoded (protocols/openadr) and acted on. Outgoing
 * requests wait in a small queue; each remembers what its answer means
 * (kind). A failed registration or poll is retried with exponential
 * back-off (1 s doubling to 60 s); other failed requests are logged and
 * dropped (the VTN repeats what it needs: events on the next distribute,
 * report data on the next period).
 *
 * Persistent state: venID and registrationID in the store's key-value table
 * ("openadr.ven_id", "openadr.registration_id"), so a restart registers
 * again as the same VEN. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fg_adapter.h"
#include "fg_openadr.h"
#include "flex.h"
#include "http.h"
#include "log.h"
#include "map.h"

#define MOD "openadr"
#define QMAX 32
#define EVENTS_MAX 128 /* events known at once: a 100-event distribute fits */
/* Report requests at once: the array grows as the VTN asks (a VTN may
 * request each point separately, per market context, ...), up to this cap,
 * which is logged when hit; past it a request is refused (not pending). */
#define REPORTS_CAP 256
#define SAMPLES 3600 /* one per second: an hour of site power */
#define BACKOFF_MAX_S 60
#define ID_MAX 128
#define SPEC_USAGE "flexgw-telemetry-usage"
#define SPEC_STATUS "flexgw-telemetry-status"
#define RID_POWER "site_power"
#define RID_ENERGY "site_energy"
#define RID_STATUS "site_status"

enum kind {
    K_QUERY,
    K_CREATE,
    K_REGISTER_REPORT,
    K_POLL,
    K_REQUEST_EVENT,
    K_ACK, /* any answer that is only an acknowledgement */
};

struct ven;

struct req {
    struct ven *v;
    enum kind kind;
    const char *service;
    char what[40]; /* payload name for the log */
    char url[FG_CFG_PATH_MAX + 64];
    char *body;
    size_t len;
    struct fg_oadr_http_req http;
    struct fg_oadr_http_resp resp;
    struct fg_error err;
    int rc;
    atomic_int cancel; /* set by ven_stop while the request runs */
};

struct known_event {
    char id[FG_SIGNAL_ID_MAX];
    uint32_t mod;
    int64_t offset_s;
    enum fg_openadr_opt opt;
    size_t n_sig;
    char sig[FG_OADR_MAP_MAX][FG_SIGNAL_ID_MAX];
    bool seen; /* in the latest oadrDistributeEvent */
};

struct report {
    char rr_id[ID_MAX], spec_id[ID_MAX];
    int64_t gran_s, back_s;
    int64_t end_t; /* reportInterval's end, epoch s; 0: until cancelled */
    bool power, energy, status;
    struct fg_timer timer;
    struct ven *v;
};

struct sample {
    int64_t t;
    double w, wh;
    struct fg_oadr_flex flex; /* for TELEMETRY_STATUS */
};

struct ven {
    struct fg_adapter_host host;
    const struct fg_config *cfg;
    struct fg_worker *worker;
    /* the VTN connection, kept open between requests (used on the worker
     * only; closed after the worker has stopped) */
    struct fg_oadr_http_conn conn;
    /* What the connection and the registration depend on, as started: a
     * reload that changes any of it restarts the VEN (ven_reconfigure). */
    char url[sizeof(((struct fg_config *)0)->openadr.vtn_url)];
    char name[sizeof(((struct fg_config *)0)->openadr.ven_name)];
    char cert[sizeof(((struct fg_config *)0)->openadr.client_cert)];
    char key[sizeof(((struct fg_config *)0)->openadr.client_key)];
    char ca[sizeof(((struct fg_config *)0)->openadr.ca_file)];
    char pin[sizeof(((struct fg_config *)0)->openadr.vtn_pin_sha256)];
    /* the unavailability windows the opt schedules were made from */
    size_t n_win;
    struct fg_cfg_oadr_window win[FG_OADR_WINDOWS_MAX];
    struct fg_timer poll_timer, sample_timer;
    struct req *q[QMAX];
    struct req *current; /* on the worker; orphaned (v = NULL) at stop */
    size_t q_head, q_n;
    bool in_flight, poll_queued, registering, registered;
    char ven_id[ID_MAX], reg_id[ID_MAX];
    int64_t poll_s;
    int backoff_s;
    uint64_t next_id;
    struct known_event events[EVENTS_MAX];
    size_t n_events;
    struct report **reports; /* n_reports used of cap_reports; each malloc'ed */
    size_t n_reports, cap_reports;
    struct sample samples[SAMPLES];
    size_t n_samples, s_head; /* ring: s_head is the next slot */
    double energy_wh;
};

/* ---- small helpers ---------------------------------------------------------- */

static int64_t now_s(const struct ven *v)
{
    return fg_clock_now_ms(v->host.clock) / 1000;
}

static void new_id(struct ven *v, const char *kind, char *out, size_t n)
{
    snprintf(out, n, "flexgw-%s-%llu", kind, (unsigned long long)++v->next_id);
}

static const char *opt_ven_id(const struct ven *v)
{
    return v->ven_id[0] ? v->ven_id : NULL;
}

static void kv_save(struct ven *v)
{
    if (fg_store_kv_put(v->host.store, "openadr.ven_id", v->ven_id) ||
        fg_store_kv_put(v->host.store, "openadr.registration_id", v->reg_id))
        fg_warn(MOD, "cannot store the registration (venID %s)", v->ven_id);
}

static void kv_load(struct ven *v)
{
    char *s = NULL;
    if (!fg_store_kv_get(v->host.store, "openadr.ven_id", &s) && s)
        snprintf(v->ven_id, sizeof(v->ven_id), "%s", s);
    free(s);
    s = NULL;
    if (!fg_store_kv_get(v->host.store, "openadr.registration_id", &s) && s)
        snprintf(v->reg_id, sizeof(v->reg_id), "%s", s);
    free(s);
}

/* ---- the request queue ------------------------------------------------------- */

static void pump(struct ven *v);
static void on_answer(struct req *r);

static void req_free(struct req *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->resp.body);
    free(r);
}

static void work(void *arg)
{
    struct req *r = arg;
    r->rc = fg_oadr_http_post(&r->http, &r->resp, &r->err);
}

static void done(void *arg, int cancelled)
{
    struct req *r = arg;
    if (cancelled || !r->v) {
        req_free(r);
        return;
    }
    struct ven *v = r->v;
    v->in_flight = false;
    v->current = NULL;
    on_answer(r);
    req_free(r);
    pump(v);
}

/* Take ownership of a built document (fg_buf) and queue it. */
static void enqueue(struct ven *v, enum kind kind, const char *service, const char *what,
                    struct fg_buf *b, int build_rc, struct fg_error *berr)
{
    char *body = build_rc ? NULL : fg_buf_take(b);
    size_t len = body ? strlen(body) : 0;
    fg_buf_clear(b);
    if (!body) {
        fg_err(MOD, "cannot build %s: %s: %s %s", what, fg_errname(build_rc), berr->path,
               berr->msg);
        return;
    }
    if (v->q_n == QMAX) {
        fg_warn(MOD, "request queue full: %s dropped", what);
        free(body);
        return;
    }
    struct req *r = calloc(1, sizeof(*r));
    if (!r) {
        free(body);
        return;
    }
    const struct fg_config *c = v->cfg;
    const char *base = c->openadr.vtn_url;
    size_t bl = strlen(base);
    r->v = v;
    r->kind = kind;
    r->service = service;
    snprintf(r->what, sizeof(r->what), "%s", what);
    snprintf(r->url, sizeof(r->url), "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/",
             service);
    r->body = body;
    r->len = len;
    r->http = (struct fg_oadr_http_req){
        .url = r->url,
        .body = body,
        .len = len,
        .tls = {c->openadr.client_cert, c->openadr.client_key, c->openadr.ca_file,
                c->openadr.vtn_pin_sha256},
        .timeout_s = c->openadr.timeout_s,
        .max_body = (size_t)c->openadr.max_body,
        .cancel = &r->cancel,
        .conn = &v->conn,
    };
    if (kind == K_POLL)
        v->poll_queued = true;
    v->q[(v->q_head + v->q_n++) % QMAX] = r;
    pump(v);
}

static void pump(struct ven *v)
{
    if (v->in_flight || !v->q_n)
        return;
    struct req *r = v->q[v->q_head];
    v->q_head = (v->q_head + 1) % QMAX;
    v->q_n--;
    if (fg_worker_submit(v->worker, work, done, r)) {
        req_free(r);
        return;
    }
    v->in_flight = true;
    v->current = r;
}

/* ---- registration ------------------------------------------------------------- */

static void start_registration(struct ven *v);

static void retry_later(struct ven *v)
{
    fg_info(MOD, "retrying in %d s", v->backoff_s);
    fg_timer_start(&v->poll_timer, (int64_t)v->backoff_s * 1000);
    v->backoff_s = v->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : v->backoff_s * 2;
}

static void start_registration(struct ven *v)
{
    struct fg_buf b;
    struct fg_error e = {0};
    char rid[48];
    v->registering = true;
    v->registered = false;
    new_id(v, "req", rid, sizeof(rid));
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_query_registration(&b, rid, &e);
    enqueue(v, K_QUERY, "EiRegisterParty", "oadrQueryRegistration", &b, rc, &e);
}

static void send_create_registration(struct ven *v)
{
    struct fg_buf b;
    struct fg_error e = {0};
    char rid[48];
    new_id(v, "req", rid, sizeof(rid));
    struct fg_openadr_create_party_registration r = {
        .request_id = rid,
        .registration_id = v->reg_id[0] ? v->reg_id : NULL,
        .ven_id = opt_ven_id(v),
        .ven_name = v->cfg->openadr.ven_name[0] ? v->cfg->openadr.ven_name : NULL,
    };
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_create_party_registration(&b, &r, &e);
    enqueue(v, K_CREATE, "EiRegisterParty", "oadrCreatePartyRegistration", &b, rc, &e);
}

static void send_register_report(struct ven *v)
{
    static const struct fg_openadr_point usage[] = {
        {.rid = RID_POWER, .kind = FG_OADR_POINT_POWER_W},
        {.rid = RID_ENERGY, .kind = FG_OADR_POINT_ENERGY_WH},
    };
    static const struct fg_openadr_point status[] = {
        {.rid = RID_STATUS, .kind = FG_OADR_POINT_STATUS},
    };
    int64_t t = now_s(v);
    struct fg_openadr_report_meta meta[2] = {
        {.report_specifier_id = SPEC_USAGE,
         .name = FG_OADR_REPORT_TELEMETRY_USAGE,
         .duration_s = SAMPLES,
         .min_period_s = 1,
         .max_period_s = 3600,
         .points = usage,
         .n_points = 2,
         .created = t},
        {.report_specifier_id = SPEC_STATUS,
         .name = FG_OADR_REPORT_TELEMETRY_STATUS,
         .duration_s = SAMPLES,
         .min_period_s = 1,
         .max_period_s = 3600,
         .points = status,
         .n_points = 1,
         .created = t},
    };
    struct fg_buf b;
    struct fg_error e = {0};
    char rid[48];
    new_id(v, "req", rid, sizeof(rid));
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_register_report(&b, rid, meta, 2, v->ven_id, &e);
    enqueue(v, K_REGISTER_REPORT, "EiReport", "oadrRegisterReport", &b, rc, &e);
}

/* Opt schedules: every configured window still to come goes to the VTN as an
 * opt-out schedule (oadrCreateOpt; the optID is made from the window, so a
 * registration sends the same ones again, which the VTN takes as a
 * replacement); the ids sent are stored, and those no longer configured are
 * withdrawn with oadrCancelOpt. */
static void sync_opts(struct ven *v)
{
    const struct fg_config *c = v->cfg;
    int64_t t = now_s(v);
    struct fg_buf list;
    fg_buf_init(&list, 4096);
    for (size_t i = 0; i < c->openadr.n_unavailable; i++) {
        const struct fg_cfg_oadr_window *w = &c->openadr.unavailable[i];
        if (w->to_t <= t)
            continue;
        char opt_id[64], rid[48];
        snprintf(opt_id, sizeof(opt_id), "flexgw-opt-%lld-%lld", (long long)w->from_t,
                 (long long)w->to_t);
        fg_buf_printf(&list, "%s ", opt_id);
        new_id(v, "req", rid, sizeof(rid));
        struct fg_openadr_window win = {w->from_t, w->to_t - w->from_t};
        struct fg_openadr_create_opt o = {.request_id = rid,
                                          .opt_id = opt_id,
                                          .opt = FG_OADR_OPT_OUT,
                                          .reason = "x-schedule",
                                          .ven_id = v->ven_id,
                                          .windows = &win,
                                          .n_windows = 1,
                                          .created = t};
        struct fg_buf b;
        struct fg_error e = {0};
        fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
        int rc = fg_openadr_build_create_opt(&b, &o, &e);
        enqueue(v, K_ACK, "EiOpt", "oadrCreateOpt", &b, rc, &e);
        fg_info(MOD, "unavailable %s .. %s: opt-out schedule %s", w->from, w->to, opt_id);
    }
    char *now_ids = fg_buf_take(&list);
    char *old = NULL;
    if (!fg_store_kv_get(v->host.store, "openadr.opts", &old) && old && now_ids) {
        char *save = NULL;
        for (char *id = strtok_r(old, " ", &save); id; id = strtok_r(NULL, " ", &save)) {
            char key[80];
            snprintf(key, sizeof(key), "%s ", id);
            if (strstr(now_ids, key))
                continue;
            char rid[48];
            struct fg_buf b;
            struct fg_error e = {0};
            new_id(v, "req", rid, sizeof(rid));
            fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
            int rc = fg_openadr_build_cancel_opt(&b, rid, id, v->ven_id, &e);
            enqueue(v, K_ACK, "EiOpt", "oadrCancelOpt", &b, rc, &e);
            fg_info(MOD, "opt-out schedule %s withdrawn", id);
        }
    }
    if (now_ids && fg_store_kv_put(v->host.store, "openadr.opts", now_ids))
        fg_warn(MOD, "cannot store the opt schedules sent");
    free(old);
    free(now_ids);
}

/* After each (re-)registration: ask for the current events at once rather
 * than wait for the VTN to push them into a poll answer (2.0b: a VEN
 * requests events after registering); the answer, an oadrDistributeEvent,
 * is handled like a polled one. */
static void send_request_event(struct ven *v)
{
    struct fg_buf b;
    struct fg_error e = {0};
    char rid[48];
    new_id(v, "req", rid, sizeof(rid));
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_request_event(&b, rid, v->ven_id, 0, &e);
    enqueue(v, K_REQUEST_EVENT, "EiEvent", "oadrRequestEvent", &b, rc, &e);
}

static void on_registered(struct ven *v,
                          const struct fg_openadr_created_party_registration *r)
{
    if (r->response.code != 200 || !r->ven_id || !r->registration_id) {
        fg_warn(MOD, "registration refused by the VTN: %d %s", r->response.code,
                r->response.description ? r->response.description : "");
        v->ven_id[0] = v->reg_id[0] = 0;
        v->registering = false;
        retry_later(v);
        return;
    }
    bool same = !strcmp(v->ven_id, r->ven_id);
    snprintf(v->ven_id, sizeof(v->ven_id), "%s", r->ven_id);
    snprintf(v->reg_id, sizeof(v->reg_id), "%s", r->registration_id);
    if (r->has_poll_freq && r->poll_freq_s > 0)
        v->poll_s = r->poll_freq_s;
    kv_save(v);
    v->registering = false;
    v->registered = true;
    v->backoff_s = 1;
    fg_info(MOD,
            "registered at %s as venID %s (registrationID %s%s), polling every %lld s",
            v->cfg->openadr.vtn_url, v->ven_id, v->reg_id, same ? ", as before" : "",
            (long long)v->poll_s);
    send_register_report(v);
    sync_opts(v);
    send_request_event(v);
    fg_timer_start(&v->poll_timer, 0);
}

/* ---- events ------------------------------------------------------------------- */

static struct known_event *find_event(struct ven *v, const char *id)
{
    for (size_t i = 0; i < v->n_events; i++)
        if (!strcmp(v->events[i].id, id))
            return &v->events[i];
    return NULL;
}

static void cancel_signals(struct ven *v, struct known_event *k, const char *why)
{
    for (size_t i = 0; i < k->n_sig; i++) {
        struct fg_error e = {0};
        if (!v->host.signal_cancel(v->host.gw, FG_SRC_OPENADR, k->sig[i], &e))
            fg_info(MOD, "event %s: signal %s cancelled (%s)", k->id, k->sig[i], why);
    }
    k->n_sig = 0;
}

static double inflexible_w(const struct fg_model *m)
{
    double w = 0;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->kind == FG_ASSET_LOAD && a->load.type == FG_LOAD_INFLEXIBLE &&
            !isnan(a->power_w) && a->power_w > 0)
            w += a->power_w;
    }
    return w;
}

static int64_t random_offset(int64_t max_s)
{
    uint64_t r = 0;
    if (max_s <= 0)
        return 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint64_t)rand();
    return (int64_t)(r % (uint64_t)(max_s + 1));
}

/* The stationary batteries together: capacity (Wh) and state of charge (%,
 * capacity-weighted; NAN when no online battery reports one). */
static void battery_state(const struct fg_model *m, double *cap_wh, double *soc_pct)
{
    double cap = 0, known = 0, stored = 0;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->kind != FG_ASSET_BATTERY || !(a->battery.capacity_wh > 0))
            continue;
        cap += a->battery.capacity_wh;
        if (a->online && isfinite(a->battery.soc)) {
            known += a->battery.capacity_wh;
            stored += a->battery.capacity_wh * a->battery.soc;
        }
    }
    *cap_wh = cap;
    *soc_pct = known > 0 ? stored / known : NAN;
}

/* Apply one event; returns the opt to answer with. */
static enum fg_openadr_opt apply_event(struct ven *v, const struct fg_openadr_event *ev,
                                       struct known_event *k)
{
    const struct fg_model *m = v->host.model;
    const struct fg_config *c = v->cfg;
    int64_t t = now_s(v);
    struct fg_oadr_map_opts o = {
        .ven_id = v->ven_id,
        .site_id = m->site.id,
        .groups = c->openadr.groups,
        .import_limit_w = m->site.import_limit_w,
        .site_power_w = fg_model_site_power(m),
        .level_fraction = {c->openadr.level_fraction[0], c->openadr.level_fraction[1],
                           c->openadr.level_fraction[2]},
        .tariff_import = fg_site_tariff_import(&m->site, t),
        .battery_soc_pct = NAN,
        .start_offset_s = k->offset_s,
        .open_ended_s = 86400,
    };
    battery_state(m, &o.battery_capacity_wh, &o.battery_soc_pct);
    struct fg_signal sig[FG_OADR_MAP_MAX];
    size_t n = 0, skipped = 0;
    struct fg_error e = {0};
    if (fg_oadr_map_event(ev, &o, sig, &n, &skipped, &e)) {
        fg_warn(MOD, "event %s: not usable: %s", ev->event_id, e.msg);
        cancel_signals(v, k, "unusable modification");
        return FG_OADR_OPT_OUT;
    }
    if (ev->status == FG_OADR_STATUS_CANCELLED ||
        ev->status == FG_OADR_STATUS_COMPLETED) {
        cancel_signals(
            v, k, ev->status == FG_OADR_STATUS_CANCELLED ? "cancelled" : "completed");
        return k->opt;
    }
    char why[160];
    struct fg_openadr_window win[FG_OADR_WINDOWS_MAX];
    for (size_t i = 0; i < c->openadr.n_unavailable; i++)
        win[i] = (struct fg_openadr_window){c->openadr.unavailable[i].from_t,
                                            c->openadr.unavailable[i].to_t -
                                                c->openadr.unavailable[i].from_t};
    enum fg_openadr_opt opt =
        fg_oadr_decide((enum fg_oadr_policy)c->openadr.opt_policy, sig, n,
                       inflexible_w(m), win, c->openadr.n_unavailable, why, sizeof(why));
    if (opt == FG_OADR_OPT_OUT || !n) {
        cancel_signals(v, k, "opted out");
        if (n) {
            fg_info(MOD, "event %s (modification %u): opt out: %s", ev->event_id,
                    ev->modification_number, why);
            return opt;
        }
        /* Nothing the site would do differently (e.g. CHARGE_STATE without
         * batteries, only BID_* signals): promising it would be a lie, so
         * auto opts out; policy in answers in all the same. */
        bool in = c->openadr.opt_policy == FG_OADR_POLICY_IN;
        fg_info(MOD, "event %s: no signal the gateway acts on (%zu skipped): opt %s",
                ev->event_id, skipped, in ? "in (opt_policy in)" : "out");
        return in ? FG_OADR_OPT_IN : FG_OADR_OPT_OUT;
    }
    char old[FG_OADR_MAP_MAX][FG_SIGNAL_ID_MAX];
    size_t n_old = k->n_sig;
    memcpy(old, k->sig, sizeof(old));
    k->n_sig = 0;
    for (size_t i = 0; i < n; i++) {
        if (v->host.signal_put(v->host.gw, &sig[i], &e)) {
            fg_warn(MOD, "event %s: signal %s refused: %s %s", ev->event_id, sig[i].id,
                    e.path, e.msg);
            continue;
        }
        memcpy(k->sig[k->n_sig++], sig[i].id, FG_SIGNAL_ID_MAX); /* same size */
    }
    for (size_t i = 0; i < n_old; i++) {
        bool kept = false;
        for (size_t j = 0; j < k->n_sig; j++)
            kept |= !strcmp(old[i], k->sig[j]);
        if (!kept)
            v->host.signal_cancel(v->host.gw, FG_SRC_OPENADR, old[i], &e);
    }
    fg_info(MOD, "event %s (modification %u): %zu signal(s), opt in%s", ev->event_id,
            ev->modification_number, k->n_sig, k->offset_s ? " (start randomised)" : "");
    return k->n_sig ? FG_OADR_OPT_IN : FG_OADR_OPT_OUT;
}

static void on_events(struct ven *v, const struct fg_openadr_distribute_event *de)
{
    struct fg_openadr_event_response resp[EVENTS_MAX];
    size_t n_resp = 0;
    for (size_t i = 0; i < v->n_events; i++)
        v->events[i].seen = false;
    for (size_t i = 0; i < de->n_events; i++) {
        const struct fg_openadr_event *ev = &de->events[i];
        struct fg_oadr_map_opts o = {.ven_id = v->ven_id,
                                     .site_id = v->host.model->site.id,
                                     .groups = v->cfg->openadr.groups};
        struct known_event *k = find_event(v, ev->event_id);
        bool ours = fg_oadr_event_targets_us(ev, &o);
        if (!k && v->n_events < EVENTS_MAX && strlen(ev->event_id) < FG_SIGNAL_ID_MAX) {
            k = &v->events[v->n_events++];
            memset(k, 0, sizeof(*k));
            snprintf(k->id, sizeof(k->id), "%s", ev->event_id);
            k->mod = ev->modification_number + 1; /* "changed" */
        }
        if (!k) {
            fg_warn(MOD, "event %s ignored: too many events", ev->event_id);
            continue;
        }
        k->seen = true;
        if (k->mod == ev->modification_number)
            continue; /* known as it is */
        k->mod = ev->modification_number;
        k->offset_s = ev->has_start_after ? random_offset(ev->start_after_s) : 0;
        if (ours) {
            k->opt = apply_event(v, ev, k);
        } else {
            fg_info(MOD, "event %s: targets other VENs, resources or groups; ignored",
                    ev->event_id);
            k->opt = FG_OADR_OPT_OUT;
        }
        if (ev->response_required && n_resp < EVENTS_MAX)
            resp[n_resp++] = (struct fg_openadr_event_response){
                .code = 200,
                .description = ours ? "OK" : "not targeted",
                .request_id = de->request_id ? de->request_id : "",
                .event_id = ev->event_id,
                .modification_number = ev->modification_number,
                .opt = k->opt,
            };
    }
    /* Events the VTN no longer lists are over. */
    for (size_t i = 0; i < v->n_events;) {
        if (v->events[i].seen) {
            i++;
            continue;
        }
        cancel_signals(v, &v->events[i], "no longer distributed");
        v->events[i] = v->events[--v->n_events];
    }
    if (!n_resp)
        return;
    struct fg_openadr_ei_response r = {
        .code = 200, .description = "OK", .request_id = ""};
    struct fg_buf b;
    struct fg_error e = {0};
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_created_event(&b, &r, resp, n_resp, v->ven_id, &e);
    enqueue(v, K_ACK, "EiEvent", "oadrCreatedEvent", &b, rc, &e);
}

/* ---- reports ------------------------------------------------------------------ */

static void report_fire(struct fg_timer *t);

static const struct sample *sample_at(const struct ven *v, size_t back)
{
    /* back 0 = newest */
    if (back >= v->n_samples)
        return NULL;
    return &v->samples[(v->s_head + SAMPLES - 1 - back) % SAMPLES];
}

static void on_sample(struct fg_timer *t)
{
    struct ven *v = t->arg;
    int64_t ts = now_s(v);
    double w = fg_model_site_power(v->host.model);
    const struct sample *last = sample_at(v, 0);
    if (last && !isnan(w) && ts > last->t)
        v->energy_wh += w * (double)(ts - last->t) / 3600.0;
    if (!last || ts > last->t) {
        struct sample *s = &v->samples[v->s_head];
        *s = (struct sample){ts, w, v->energy_wh, {0}};
        fg_oadr_flex_now(v->host.model, ts, &s->flex);
        v->s_head = (v->s_head + 1) % SAMPLES;
        if (v->n_samples < SAMPLES)
            v->n_samples++;
    }
    fg_timer_start(&v->sample_timer, 1000);
}

/* Mean power and the energy register over [from, to); *newest: the newest
 * sample in it (NULL: none). */
static bool bucket(const struct ven *v, int64_t from, int64_t to, double *w, double *wh,
                   const struct sample **newest)
{
    *newest = NULL;
    double sum = 0;
    int n = 0;
    bool any = false;
    for (size_t i = 0; i < v->n_samples; i++) {
        const struct sample *s = sample_at(v, i);
        if (s->t < from)
            break;
        if (s->t >= to)
            continue;
        if (!any) {
            *wh = s->wh; /* newest in the bucket */
            *newest = s;
        }
        any = true;
        if (!isnan(s->w)) {
            sum += s->w;
            n++;
        }
    }
    *w = n ? sum / n : NAN;
    return any && n;
}

/* TELEMETRY_STATUS (docs/openadr.md "Reports"): online; the effective
 * import limit as oadrCapacity (normal: the connection's); the site's net
 * power as oadrSetPoint, min / max the range it can be set to now, so
 * max - current is the flexibility up and current - min the flexibility
 * down. */
static struct fg_openadr_report_value status_value(const struct ven *v,
                                                   const struct fg_oadr_flex *f)
{
    return (struct fg_openadr_report_value){
        .rid = RID_STATUS,
        .is_status = true,
        .status = {.online = f->online,
                   .manual_override = false,
                   .capacity = {.has = true,
                                .current = f->import_max_w,
                                .has_normal = true,
                                .normal = v->host.model->site.import_limit_w},
                   .set_point = {.has = true,
                                 .has_min = true,
                                 .min = f->min_w,
                                 .has_max = true,
                                 .max = f->max_w,
                                 .current = f->power_w}}};
}

static void send_update(struct ven *v, struct report *rp)
{
    int64_t t = now_s(v);
    int64_t g = rp->gran_s, b = rp->back_s;
    size_t n_iv = (size_t)(b / g);
    if (n_iv < 1)
        n_iv = 1;
    if (n_iv > 600)
        n_iv = 600;
    struct fg_openadr_report_interval *iv = calloc(n_iv, sizeof(*iv));
    struct fg_openadr_report_value *val = calloc(n_iv * 3, sizeof(*val));
    size_t used = 0, nv = 0;
    for (size_t i = 0; iv && val && i < n_iv; i++) {
        int64_t from = t - (int64_t)(n_iv - i) * g;
        double w = NAN, wh = NAN;
        const struct sample *last = NULL;
        bool have = bucket(v, from, from + g, &w, &wh, &last);
        struct fg_openadr_report_value *first = &val[nv];
        size_t k = 0;
        if (rp->power || rp->energy) {
            if (!have)
                continue;
            if (rp->power)
                val[nv + k++] =
                    (struct fg_openadr_report_value){.rid = RID_POWER, .value = w};
            if (rp->energy)
                val[nv + k++] =
                    (struct fg_openadr_report_value){.rid = RID_ENERGY, .value = wh};
        }
        if (rp->status && last)
            val[nv + k++] = status_value(v, &last->flex);
        if (!k)
            continue;
        iv[used++] = (struct fg_openadr_report_interval){from, g, first, k};
        nv += k;
    }
    if (used) {
        struct fg_openadr_report_data d = {
            .report_request_id = rp->rr_id,
            .report_specifier_id = rp->spec_id,
            .name = rp->status && !rp->power && !rp->energy
                        ? FG_OADR_REPORT_TELEMETRY_STATUS
                        : FG_OADR_REPORT_TELEMETRY_USAGE,
            .dtstart = iv[0].dtstart,
            .duration_s = (int64_t)used * g,
            .intervals = iv,
            .n_intervals = used,
            .created = t,
        };
        char rid[48];
        struct fg_buf buf;
        struct fg_error e = {0};
        new_id(v, "req", rid, sizeof(rid));
        fg_buf_init(&buf, FG_OPENADR_BUILD_MAX);
        int rc = fg_openadr_build_update_report(&buf, rid, &d, 1, v->ven_id, &e);
        enqueue(v, K_ACK, "EiReport", "oadrUpdateReport", &buf, rc, &e);
    }
    free(iv);
    free(val);
}

static struct report *find_report(const struct ven *v, const char *rr_id, size_t *at)
{
    for (size_t i = 0; i < v->n_reports; i++)
        if (!strcmp(v->reports[i]->rr_id, rr_id)) {
            if (at)
                *at = i;
            return v->reports[i];
        }
    return NULL;
}

/* A new report slot, or NULL (logged) at REPORTS_CAP or out of memory. */
static struct report *add_report(struct ven *v, const char *rr_id)
{
    if (v->n_reports == REPORTS_CAP) {
        fg_warn(MOD,
                "report request %s refused: %d report requests at once, the most the "
                "VEN keeps; cancel some first",
                rr_id, REPORTS_CAP);
        return NULL;
    }
    if (v->n_reports == v->cap_reports) {
        size_t cap = v->cap_reports ? v->cap_reports * 2 : 8;
        if (cap > REPORTS_CAP)
            cap = REPORTS_CAP;
        struct report **a = realloc(v->reports, cap * sizeof(*a));
        if (!a) {
            fg_warn(MOD, "report request %s refused: out of memory", rr_id);
            return NULL;
        }
        v->reports = a;
        v->cap_reports = cap;
    }
    struct report *rp = calloc(1, sizeof(*rp));
    if (!rp) {
        fg_warn(MOD, "report request %s refused: out of memory", rr_id);
        return NULL;
    }
    v->reports[v->n_reports++] = rp;
    return rp;
}

/* Stop and forget report i (its timer may be the one firing now). */
static void drop_report(struct ven *v, size_t i)
{
    struct report *rp = v->reports[i];
    fg_timer_stop(&rp->timer);
    free(rp);
    v->reports[i] = v->reports[--v->n_reports];
}

static void drop_reports(struct ven *v)
{
    while (v->n_reports)
        drop_report(v, v->n_reports - 1);
}

/* Every back_s an update; a report whose reportInterval ends gets its last
 * update at the end (the period before it cut short) and is dropped. */
static void report_fire(struct fg_timer *t)
{
    struct report *rp = t->arg;
    struct ven *v = rp->v;
    int64_t now = now_s(v);
    if (v->registered)
        send_update(v, rp);
    if (rp->end_t && now >= rp->end_t) {
        size_t at;
        fg_info(MOD, "report %s: its reportInterval ended; no more updates", rp->rr_id);
        if (find_report(v, rp->rr_id, &at))
            drop_report(v, at);
        return;
    }
    int64_t next = rp->back_s;
    if (rp->end_t && now + next > rp->end_t)
        next = rp->end_t - now;
    fg_timer_start(&rp->timer, next * 1000);
}

/* The pending reportRequestIDs (malloc'ed array of borrowed strings; NULL
 * with n 0 when there are none or memory ran out). */
static const char **pending_ids(struct ven *v, size_t *n)
{
    *n = 0;
    const char **out = v->n_reports ? calloc(v->n_reports, sizeof(*out)) : NULL;
    for (size_t i = 0; out && i < v->n_reports; i++)
        out[(*n)++] = v->reports[i]->rr_id;
    return out;
}

static void on_report_requests(struct ven *v, const struct fg_openadr_report_requests *rq,
                               bool answer)
{
    for (size_t i = 0; i < rq->n_requests; i++) {
        const struct fg_openadr_report_request *q = &rq->requests[i];
        bool usage =
            q->report_specifier_id && !strcmp(q->report_specifier_id, SPEC_USAGE);
        bool status =
            q->report_specifier_id && !strcmp(q->report_specifier_id, SPEC_STATUS);
        if (!usage && !status) {
            fg_warn(MOD, "report request %s for unknown report %s ignored",
                    q->report_request_id, q->report_specifier_id);
            continue;
        }
        if (strlen(q->report_request_id) >= ID_MAX) {
            fg_warn(MOD,
                    "report request %.40s... refused: reportRequestID longer than %d",
                    q->report_request_id, ID_MAX - 1);
            continue;
        }
        int64_t end_t = 0, start_t = 0;
        if (q->has_interval && q->interval_start > now_s(v))
            start_t = q->interval_start; /* the first report covers its first back_s */
        if (q->has_interval && q->interval_duration_s > 0) {
            end_t = q->interval_start + q->interval_duration_s;
            if (end_t <= now_s(v)) {
                fg_warn(MOD,
                        "report request %s refused: its reportInterval ended already",
                        q->report_request_id);
                continue;
            }
        }
        struct report *rp = find_report(v, q->report_request_id, NULL);
        if (rp)
            fg_timer_stop(&rp->timer); /* a new version of the same request */
        else if (!(rp = add_report(v, q->report_request_id)))
            continue;
        memset(rp, 0, sizeof(*rp));
        rp->v = v;
        rp->end_t = end_t;
        snprintf(rp->rr_id, sizeof(rp->rr_id), "%s", q->report_request_id);
        snprintf(rp->spec_id, sizeof(rp->spec_id), "%s", q->report_specifier_id);
        rp->gran_s = q->granularity_s > 0 ? q->granularity_s : 10;
        rp->back_s = q->report_back_s > 0 ? q->report_back_s : rp->gran_s;
        for (size_t p = 0; p < q->n_payloads; p++) {
            const char *rid = q->payloads[p].rid;
            rp->power |= usage && rid && !strcmp(rid, RID_POWER);
            rp->energy |= usage && rid && !strcmp(rid, RID_ENERGY);
            rp->status |= status && rid && !strcmp(rid, RID_STATUS);
        }
        if (!q->n_payloads) {
            rp->power = rp->energy = usage;
            rp->status = status;
        }
        fg_timer_init(&rp->timer, v->host.loop, report_fire, rp);
        int64_t first = (start_t ? start_t - now_s(v) : 0) + rp->back_s;
        if (rp->end_t && now_s(v) + first > rp->end_t)
            first = rp->end_t - now_s(v);
        fg_timer_start(&rp->timer, first * 1000);
        char until[FG_OPENADR_DATETIME_MAX] = "cancelled", from[FG_OPENADR_DATETIME_MAX];
        if (rp->end_t)
            fg_openadr_datetime_format(rp->end_t, until);
        if (start_t)
            fg_openadr_datetime_format(start_t, from);
        fg_info(MOD, "report %s (%s): every %lld s, granularity %lld s, %s%s%suntil %s",
                rp->rr_id, rp->spec_id, (long long)rp->back_s, (long long)rp->gran_s,
                start_t ? "from " : "", start_t ? from : "", start_t ? " " : "", until);
    }
    if (!answer)
        return;
    size_t np;
    const char **pend = pending_ids(v, &np);
    struct fg_openadr_ei_response r = {.code = 200,
                                       .description = "OK",
                                       .request_id =
                                           rq->request_id ? rq->request_id : ""};
    struct fg_buf b;
    struct fg_error e = {0};
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_created_report(&b, &r, pend, np, v->ven_id, &e);
    free(pend);
    enqueue(v, K_ACK, "EiReport", "oadrCreatedReport", &b, rc, &e);
}

static void on_cancel_report(struct ven *v, const struct fg_openadr_cancel_report *c,
                             bool answer)
{
    for (size_t i = 0; i < c->report_request_ids.n; i++) {
        size_t at;
        if (find_report(v, c->report_request_ids.v[i], &at)) {
            drop_report(v, at);
            fg_info(MOD, "report %s cancelled", c->report_request_ids.v[i]);
        }
    }
    if (!answer)
        return;
    size_t np;
    const char **pend = pending_ids(v, &np);
    struct fg_openadr_ei_response r = {.code = 200,
                                       .description = "OK",
                                       .request_id = c->request_id ? c->request_id : ""};
    struct fg_buf b;
    struct fg_error e = {0};
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_canceled_report(&b, &r, pend, np, v->ven_id, &e);
    free(pend);
    enqueue(v, K_ACK, "EiReport", "oadrCanceledReport", &b, rc, &e);
}

/* ---- what the VTN sends in a poll answer ---------------------------------------- */

static void send_response(struct ven *v, const char *service, const char *request_id)
{
    struct fg_openadr_ei_response r = {
        .code = 200, .description = "OK", .request_id = request_id ? request_id : ""};
    struct fg_buf b;
    struct fg_error e = {0};
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_response(&b, &r, opt_ven_id(v), &e);
    enqueue(v, K_ACK, service, "oadrResponse", &b, rc, &e);
}

static void on_cancel_registration(struct ven *v,
                                   const struct fg_openadr_cancel_registration *c)
{
    struct fg_openadr_ei_response r = {.code = 200,
                                       .description = "OK",
                                       .request_id = c->request_id ? c->request_id : ""};
    struct fg_buf b;
    struct fg_error e = {0};
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_canceled_party_registration(
        &b, &r, c->registration_id ? c->registration_id : v->reg_id, opt_ven_id(v), &e);
    enqueue(v, K_ACK, "EiRegisterParty", "oadrCanceledPartyRegistration", &b, rc, &e);
    fg_warn(MOD, "the VTN cancelled registration %s (venID %s); registering anew",
            v->reg_id, v->ven_id);
    drop_reports(v);
    v->ven_id[0] = v->reg_id[0] = 0;
    kv_save(v);
    start_registration(v);
}

/* Returns true when the answer carried something (poll again at once). */
static bool on_message(struct ven *v, const struct fg_openadr_msg *m)
{
    switch (m->type) {
    case FG_OADR_RESPONSE:
        if (m->u.ack.response.code == 463 || m->u.ack.response.code == 452) {
            fg_warn(MOD, "the VTN does not know venID %s (%d): registering again",
                    v->ven_id, m->u.ack.response.code);
            start_registration(v);
        }
        return false;
    case FG_OADR_DISTRIBUTE_EVENT:
        on_events(v, &m->u.distribute_event);
        return true;
    case FG_OADR_CREATE_REPORT:
        on_report_requests(v, &m->u.reports, true);
        return true;
    case FG_OADR_CANCEL_REPORT:
        on_cancel_report(v, &m->u.cancel_report, true);
        return true;
    case FG_OADR_REGISTER_REPORT: {
        struct fg_openadr_ei_response r = {
            .code = 200,
            .description = "OK",
            .request_id =
                m->u.register_report.request_id ? m->u.register_report.request_id : ""};
        struct fg_buf b;
        struct fg_error e = {0};
        fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
        int rc = fg_openadr_build_registered_report(&b, &r, v->ven_id, &e);
        enqueue(v, K_ACK, "EiReport", "oadrRegisteredReport", &b, rc, &e);
        return true;
    }
    case FG_OADR_REQUEST_REREGISTRATION:
        fg_info(MOD, "the VTN asks to register again");
        send_response(v, "EiRegisterParty", "");
        start_registration(v);
        return false;
    case FG_OADR_CANCEL_PARTY_REGISTRATION:
        on_cancel_registration(v, &m->u.cancel_registration);
        return false;
    default:
        fg_warn(MOD, "unexpected %s from the VTN ignored", fg_openadr_type_name(m->type));
        return false;
    }
}

/* ---- answers -------------------------------------------------------------------- */

static void on_failure(struct ven *v, struct req *r, const char *what_failed,
                       const struct fg_error *e, int code)
{
    fg_warn(MOD, "%s to %s: %s: %s%s%s: %s", r->what, r->url, what_failed,
            fg_errname(code), e->path[0] ? " at " : "", e->path[0] ? e->path : "",
            e->msg);
    if (r->kind == K_QUERY || r->kind == K_CREATE) {
        v->registering = false;
        retry_later(v);
    } else if (r->kind == K_POLL) {
        v->poll_queued = false;
        retry_later(v);
    }
}

static void on_answer(struct req *r)
{
    struct ven *v = r->v;
    if (r->rc) {
        on_failure(v, r, r->rc == FG_EAUTH ? "TLS failed" : "request failed", &r->err,
                   r->rc);
        return;
    }
    struct fg_openadr_msg m;
    struct fg_error e = {0};
    struct fg_openadr_opts o = {.max_bytes = (size_t)v->cfg->openadr.max_body};
    fg_openadr_msg_init(&m);
    int rc = fg_openadr_decode(r->resp.body, r->resp.len, &o, &m, &e);
    if (rc) {
        on_failure(v, r, "answer refused", &e, rc);
        fg_openadr_msg_clear(&m);
        return;
    }
    bool more = false;
    switch (r->kind) {
    case K_QUERY:
        if (m.type != FG_OADR_CREATED_PARTY_REGISTRATION) {
            fg_error_set(&e, FG_EINVAL, NULL,
                         "expected oadrCreatedPartyRegistration, got %s",
                         fg_openadr_type_name(m.type));
            on_failure(v, r, "answer refused", &e, FG_EINVAL);
            break;
        }
        if (m.u.created_registration.has_poll_freq &&
            m.u.created_registration.poll_freq_s > 0)
            v->poll_s = m.u.created_registration.poll_freq_s;
        send_create_registration(v);
        break;
    case K_CREATE:
        if (m.type != FG_OADR_CREATED_PARTY_REGISTRATION) {
            fg_error_set(&e, FG_EINVAL, NULL,
                         "expected oadrCreatedPartyRegistration, got %s",
                         fg_openadr_type_name(m.type));
            on_failure(v, r, "answer refused", &e, FG_EINVAL);
            break;
        }
        on_registered(v, &m.u.created_registration);
        break;
    case K_REGISTER_REPORT:
        if (m.type == FG_OADR_REGISTERED_REPORT)
            on_report_requests(v, &m.u.reports, m.u.reports.n_requests > 0);
        break;
    case K_POLL:
        v->poll_queued = false;
        v->backoff_s = 1;
        more = on_message(v, &m);
        if (v->registered && !v->registering)
            fg_timer_start(&v->poll_timer, more ? 0 : v->poll_s * 1000);
        break;
    case K_REQUEST_EVENT:
        if (m.type == FG_OADR_DISTRIBUTE_EVENT)
            on_events(v, &m.u.distribute_event);
        else if (m.type == FG_OADR_RESPONSE)
            fg_warn(MOD, "%s: the VTN answered %d %s; events come with the next poll",
                    r->what, m.u.ack.response.code,
                    m.u.ack.response.description ? m.u.ack.response.description : "");
        else
            fg_warn(MOD, "%s: unexpected %s from the VTN ignored", r->what,
                    fg_openadr_type_name(m.type));
        break;
    case K_ACK:
        if (m.type == FG_OADR_UPDATED_REPORT && m.u.ack.has_cancel)
            on_cancel_report(v, &m.u.ack.cancel, false);
        else if (m.type == FG_OADR_RESPONSE || m.type == FG_OADR_UPDATED_REPORT ||
                 m.type == FG_OADR_CREATED_OPT || m.type == FG_OADR_CANCELED_OPT ||
                 m.type == FG_OADR_CREATED_REPORT || m.type == FG_OADR_CANCELED_REPORT)
            if (m.u.ack.response.code != 200)
                fg_warn(MOD, "%s: the VTN answered %d %s", r->what, m.u.ack.response.code,
                        m.u.ack.response.description ? m.u.ack.response.description : "");
        break;
    }
    fg_openadr_msg_clear(&m);
}

/* ---- timers, start, stop ---------------------------------------------------------- */

static void on_poll_timer(struct fg_timer *t)
{
    struct ven *v = t->arg;
    if (v->registering)
        return;
    if (!v->registered) {
        start_registration(v);
        return;
    }
    if (v->poll_queued)
        return;
    struct fg_buf b;
    struct fg_error e = {0};
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    int rc = fg_openadr_build_poll(&b, v->ven_id, &e);
    enqueue(v, K_POLL, "OadrPoll", "oadrPoll", &b, rc, &e);
}

static void remember_cfg(struct ven *v, const struct fg_config *cfg)
{
    const __typeof__(cfg->openadr) *c = &cfg->openadr;
    memcpy(v->url, c->vtn_url, sizeof(v->url));
    memcpy(v->name, c->ven_name, sizeof(v->name));
    memcpy(v->cert, c->client_cert, sizeof(v->cert));
    memcpy(v->key, c->client_key, sizeof(v->key));
    memcpy(v->ca, c->ca_file, sizeof(v->ca));
    memcpy(v->pin, c->vtn_pin_sha256, sizeof(v->pin));
    v->n_win = c->n_unavailable;
    memcpy(v->win, c->unavailable, sizeof(v->win));
}

/* A reload keeps the registration and the connection unless what they
 * depend on changed (VTN URL, VEN name, TLS files and pin): the rest
 * (timeouts, limits, policy, levels, groups, windows) is read from the
 * config as it is used. Changed windows go to the VTN at once. The next
 * request opens a new connection all the same, so that a certificate
 * renewed under the same file names is used. */
static int ven_reconfigure(void *state, const struct fg_config *cfg)
{
    struct ven *v = state;
    if (!v || !cfg->openadr.enabled)
        return v || cfg->openadr.enabled ? FG_ESTATE : 0;
    const __typeof__(cfg->openadr) *c = &cfg->openadr;
    if (strcmp(v->url, c->vtn_url) || strcmp(v->name, c->ven_name) ||
        strcmp(v->cert, c->client_cert) || strcmp(v->key, c->client_key) ||
        strcmp(v->ca, c->ca_file) || strcmp(v->pin, c->vtn_pin_sha256)) {
        fg_info(MOD, "VTN, VEN name or TLS settings changed: restarting the VEN");
        return FG_ESTATE;
    }
    bool windows = v->n_win != c->n_unavailable;
    for (size_t i = 0; i < c->n_unavailable && !windows; i++)
        windows = v->win[i].from_t != c->unavailable[i].from_t ||
                  v->win[i].to_t != c->unavailable[i].to_t;
    v->cfg = cfg;
    remember_cfg(v, cfg);
    atomic_store(&v->conn.reset, 1);
    fg_info(MOD, "configuration reloaded: registration %s kept%s", v->ven_id,
            windows ? ", opt schedules updated" : "");
    if (windows && v->registered)
        sync_opts(v);
    return 0;
}

static int ven_start(const struct fg_adapter_host *host, const struct fg_config *cfg,
                     void **state, struct fg_error *err)
{
    *state = NULL;
    if (!cfg->openadr.enabled)
        return 0;
    if (!host->signal_put || !host->signal_cancel)
        return fg_error_set(err, FG_ESTATE, "/openadr", "no signal sink");
    if (fg_oadr_http_global_init())
        return fg_error_set(err, FG_ENOMEM, "/openadr", "libcurl initialisation failed");
    struct ven *v = calloc(1, sizeof(*v));
    if (!v)
        return fg_error_set(err, FG_ENOMEM, "/openadr", "out of memory");
    v->host = *host;
    v->cfg = cfg;
    remember_cfg(v, cfg);
    v->poll_s = cfg->openadr.poll_s;
    v->backoff_s = 1;
    if (fg_worker_new(host->loop, "openadr", &v->worker)) {
        free(v);
        return fg_error_set(err, FG_ENOMEM, "/openadr", "cannot start the worker");
    }
    kv_load(v);
    fg_timer_init(&v->poll_timer, host->loop, on_poll_timer, v);
    fg_timer_init(&v->sample_timer, host->loop, on_sample, v);
    fg_timer_start(&v->sample_timer, 0);
    fg_info(MOD, "VEN for %s%s%s", cfg->openadr.vtn_url, v->ven_id[0] ? ", venID " : "",
            v->ven_id);
    start_registration(v);
    *state = v;
    return 0;
}

static void ven_stop(void *state)
{
    struct ven *v = state;
    if (!v)
        return;
    fg_timer_stop(&v->poll_timer);
    fg_timer_stop(&v->sample_timer);
    drop_reports(v);
    free(v->reports);
    if (v->current) {
        v->current->v = NULL; /* its done() may still come through the loop */
        atomic_store(&v->current->cancel, 1);
    }
    fg_worker_free(v->worker); /* the running request stops within about 1 s */
    fg_oadr_http_conn_close(&v->conn);
    while (v->q_n) {
        req_free(v->q[v->q_head]);
        v->q_head = (v->q_head + 1) % QMAX;
        v->q_n--;
    }
    free(v);
}

const struct fg_adapter_ops fg_openadr_adapter = {
    .name = "openadr",
    .start = ven_start,
    .stop = ven_stop,
    .reconfigure = ven_reconfigure,
};
