#include "api.h"
#include "ocpp/fg_ocpp_adapter.h"

#include <math.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gateway.h"
#include "log.h"
#include "fg_buf.h"
#include "model_json.h"
#include "web_assets.h"

#define MAX_SEGMENTS 8
#define MAX_SETPOINT_S (7 * 86400)

enum auth { AUTH_NONE, AUTH_READ, AUTH_WRITE };

struct call {
    struct fg_gw *gw;
    const struct fg_http_req *req;
    struct fg_http_resp *resp;
    const char *arg; /* the {id} segment, if the route has one */
};

typedef void (*handler_fn)(struct call *c);

struct route {
    enum fg_http_method method;
    const char *pattern; /* "*" matches one path segment */
    enum auth auth;
    handler_fn fn;
};

/* ---- responses ----------------------------------------------------------- */

static void reply_text(struct fg_http_resp *r, int status, const char *type, char *body)
{
    r->status = body ? status : 500;
    r->content_type = type;
    r->body = body;
    r->len = body ? strlen(body) : 0;
}

/* Reply with a JSON document (taken). */
static void reply_json(struct call *c, int status, cJSON *j)
{
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    reply_text(c->resp, status, "application/json", txt);
}

static void reply_error(struct call *c, int status, const char *path, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

static void reply_error(struct call *c, int status, const char *path, const char *fmt,
                        ...)
{
    char msg[FG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    cJSON_AddStringToObject(j, "path", path ? path : "");
    reply_json(c, status, j);
}

static int status_of(int code)
{
    switch (code) {
    case FG_ENOTFOUND:
        return 404;
    case FG_ESTATE:
    case FG_EEXISTS:
        return 409;
    case FG_ENOMEM:
    case FG_ESTORE:
    case FG_EIO:
        return 500;
    case FG_EFULL:
        return 503;
    case FG_EUNSUPPORTED:
    case FG_ECONFIG:
        return 422;
    default:
        return 400;
    }
}

static void reply_fg_error(struct call *c, const struct fg_error *e)
{
    reply_error(c, status_of(e->code), e->path, "%s", e->msg[0] ? e->msg : "error");
}

/* Parse the request body as a JSON object; replies 4xx and returns NULL on
 * failure. */
static cJSON *body_json(struct call *c)
{
    const char *ct = c->req->content_type;
    if (ct[0] && strncasecmp(ct, "application/json", 16) != 0) {
        reply_error(c, 415, "", "Content-Type must be application/json, not %.60s", ct);
        return NULL;
    }
    const char *end = NULL;
    /* The body is NUL-terminated; cJSON wants the terminator counted when it
     * must check that nothing follows the document. */
    cJSON *j = cJSON_ParseWithLengthOpts(c->req->body, c->req->body_len + 1, &end, 1);
    if (!j) {
        size_t off = end && end >= c->req->body ? (size_t)(end - c->req->body) : 0;
        if (!end)
            off = c->req->body_len;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < c->req->body_len; i++, col++) {
            if (c->req->body[i] == '\n') {
                line++;
                col = 0;
            }
        }
        reply_error(c, 400, "", "malformed JSON at line %zu column %zu (byte %zu)", line,
                    col, off);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        reply_error(c, 400, "", "expected a JSON object");
        return NULL;
    }
    return j;
}

/* ---- authentication ------------------------------------------------------ */

/* Constant-time equality that does not leak the length either: compare
 * digests. */
static int secret_eq(const char *given, size_t n, const char *secret)
{
    unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned la = 0, lb = 0;
    if (!EVP_Digest(given, n, a, &la, EVP_sha256(), NULL) ||
        !EVP_Digest(secret, strlen(secret), b, &lb, EVP_sha256(), NULL) || la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}

static int check_basic(const char *b64, const char *password)
{
    size_t n = strlen(b64);
    if (n == 0 || n > 340 || n % 4)
        return 0;
    unsigned char dec[256];
    int len = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
    if (len < 0)
        return 0;
    /* EVP_DecodeBlock counts padding as zero bytes: drop them. */
    for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
        len--;
    dec[len] = '\0';
    const char *colon = memchr(dec, ':', (size_t)len);
    if (!colon || colon - (const char *)dec != 5 || memcmp(dec, "admin", 5))
        return 0;
    return secret_eq(colon + 1, (size_t)len - 6, password);
}

/* Guessing the token is throttled per client: past AUTH_MAX_FAILURES failed
 * attempts within AUTH_WINDOW_MS, that client gets 429 until the window ends
 * (correct credentials included, so the limit cannot be probed). Clients are
 * tracked in a small table; the oldest entry makes room for a new one. */
#define AUTH_MAX_FAILURES 30
#define AUTH_WINDOW_MS 60000

static unsigned *auth_failures(struct fg_gw *gw, const char *peer, int create)
{
    int64_t now = fg_mono_ms();
    size_t oldest = 0;
    for (size_t i = 0; i < FG_AUTH_PEERS; i++) {
        if (!strcmp(gw->auth_fail[i].peer, peer)) {
            if (now - gw->auth_fail[i].window_start_ms >= AUTH_WINDOW_MS) {
                gw->auth_fail[i].window_start_ms = now;
                gw->auth_fail[i].failures = 0;
            }
            return &gw->auth_fail[i].failures;
        }
        if (gw->auth_fail[i].window_start_ms < gw->auth_fail[oldest].window_start_ms)
            oldest = i;
    }
    if (!create)
        return NULL;
    snprintf(gw->auth_fail[oldest].peer, sizeof(gw->auth_fail[oldest].peer), "%s", peer);
    gw->auth_fail[oldest].window_start_ms = now;
    gw->auth_fail[oldest].failures = 0;
    return &gw->auth_fail[oldest].failures;
}

static int throttled(struct call *c)
{
    unsigned *n = auth_failures(c->gw, c->req->peer, 0);
    if (!n || *n < AUTH_MAX_FAILURES)
        return 0;
    fg_http_resp_header(c->resp, "Retry-After", "60");
    reply_error(c, 429, "", "too many failed authentications from %s; retry later",
                c->req->peer);
    return 1;
}

/* 0 if allowed; otherwise replies 401/403/429 and returns -1. */
static int authorize(struct call *c, enum auth need)
{
    const struct fg_config *cfg = &c->gw->cfg;
    if (need == AUTH_NONE || (need == AUTH_READ && !cfg->web.auth_reads))
        return 0;
    const char *tok = cfg->web.token.value, *pw = cfg->web.admin_password.value;
    int have_tok = tok && tok[0], have_pw = pw && pw[0];
    if (!have_tok && !have_pw) {
        reply_error(c, 403, "",
                    "no credentials are configured (web.token or "
                    "web.admin_password); this request is disabled");
        return -1;
    }
    if (throttled(c))
        return -1;
    const char *h = c->req->authorization;
    int ok = 0;
    if (have_tok && !strncasecmp(h, "Bearer ", 7))
        ok = secret_eq(h + 7, strlen(h + 7), tok);
    else if (have_pw && !strncasecmp(h, "Basic ", 6))
        ok = check_basic(h + 6, pw);
    if (ok)
        return 0;
    c->gw->metrics.http_auth_failures++;
    unsigned *fails = auth_failures(c->gw, c->req->peer, 1);
    if (++*fails == AUTH_MAX_FAILURES) {
        fg_warn("api", "%s: %d failed authentications, refusing it for a minute",
                c->req->peer, AUTH_MAX_FAILURES);
        fg_store_event_add(c->gw->store, fg_clock_now_ms(&c->gw->clock), "warn", "api",
                           "security", "failed authentications throttled", NULL);
    }
    fg_warn("api", "%s %s from %s: %s credentials", fg_http_method_name(c->req->method),
            c->req->path, c->req->peer, h[0] ? "wrong" : "no");
    fg_http_resp_header(c->resp, "WWW-Authenticate", "Bearer realm=\"flexgw\"");
    reply_error(c, 401, "", h[0] ? "invalid credentials" : "authentication required");
    return -1;
}

/* ---- handlers -------------------------------------------------------------- */

static void h_health(struct call *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddStringToObject(j, "version", FG_VERSION_STRING);
    cJSON_AddNumberToObject(j, "time", (double)fg_gw_now(c->gw));
    cJSON_AddNumberToObject(j, "uptime_s",
                            (double)(fg_mono_ms() - c->gw->start_mono_ms) / 1000.0);
    cJSON_AddNumberToObject(j, "assets", (double)c->gw->model.n_assets);
    reply_json(c, 200, j);
}

static void h_site(struct call *c)
{
    reply_json(c, 200, fg_model_to_json(&c->gw->model, fg_gw_now(c->gw)));
}

static void h_assets(struct call *c)
{
    reply_json(c, 200, fg_assets_to_json(&c->gw->model));
}

static const struct fg_asset *find_asset(struct call *c)
{
    const struct fg_asset *a = fg_model_find_asset_c(&c->gw->model, c->arg);
    if (!a)
        reply_error(c, 404, "", "no asset \"%.64s\"", c->arg);
    return a;
}

static void h_asset(struct call *c)
{
    const struct fg_asset *a = find_asset(c);
    if (a)
        reply_json(c, 200, fg_asset_to_json(a));
}

#define DEFAULT_SETPOINT_S 900
#define EPOCH_MAX 4102444800.0 /* 2100-01-01 */

struct sp_req {
    double w;
    double var; /* NAN = none */
    int64_t expires_at;
};

static int decode_expiry(const cJSON *it, const char *path, int64_t now, int64_t *out,
                         struct fg_error *e)
{
    int64_t t = 0;
    if (cJSON_IsString(it)) {
        if (fg_time_parse_rfc3339(it->valuestring, &t))
            return fg_error_set(e, FG_EPARSE, path, "not an RFC 3339 time");
    } else if (cJSON_IsNumber(it) && it->valuedouble >= 0 &&
               it->valuedouble <= EPOCH_MAX) {
        t = (int64_t)it->valuedouble;
    } else {
        return fg_error_set(e, FG_ETYPE, path,
                            "expected epoch seconds or an RFC 3339 time");
    }
    if (t <= now || t > now + MAX_SETPOINT_S)
        return fg_error_set(e, FG_ERANGE, path, "must lie within the next %d s",
                            MAX_SETPOINT_S);
    *out = t;
    return 0;
}

/* Body: {"w": W, "duration_s": s} or {"w": W, "expires_at": t}; without
 * either the set-point lapses after DEFAULT_SETPOINT_S. Optional "var":
 * reactive power, + = absorbing (fg_setpoint.var). */
static int decode_setpoint(const cJSON *j, int64_t now, struct sp_req *out,
                           struct fg_error *e)
{
    int have_w = 0, have_dur = 0, have_exp = 0;
    out->expires_at = now + DEFAULT_SETPOINT_S;
    out->var = NAN;
    const cJSON *it;
    cJSON_ArrayForEach(it, j)
    {
        char path[96];
        fg_json_pointer_key(path, sizeof(path), "", it->string);
        int rc = 0;
        if (!strcmp(it->string, "w")) {
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
                return fg_error_set(e, FG_ETYPE, path, "expected a number of W");
            out->w = it->valuedouble;
            have_w = 1;
        } else if (!strcmp(it->string, "var")) {
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
                return fg_error_set(e, FG_ETYPE, path,
                                    "expected a number of var (+ absorbing)");
            out->var = it->valuedouble;
        } else if (!strcmp(it->string, "duration_s")) {
            if (!cJSON_IsNumber(it))
                return fg_error_set(e, FG_ETYPE, path, "expected a number of seconds");
            if (!(it->valuedouble >= 1 && it->valuedouble <= MAX_SETPOINT_S))
                return fg_error_set(e, FG_ERANGE, path, "%g not in [1, %d]",
                                    it->valuedouble, MAX_SETPOINT_S);
            out->expires_at = now + (int64_t)it->valuedouble;
            have_dur = 1;
        } else if (!strcmp(it->string, "expires_at")) {
            rc = decode_expiry(it, path, now, &out->expires_at, e);
            have_exp = 1;
        } else {
            rc = fg_error_set(e, FG_EUNKNOWN, path, "unknown key");
        }
        if (rc)
            return rc;
    }
    if (have_dur && have_exp)
        return fg_error_set(e, FG_EINVAL, "/expires_at",
                            "give duration_s or expires_at, not both");
    if (!have_w)
        return fg_error_set(e, FG_EMISSING, "/w",
                            "required: the set-point in W (+ charge, - discharge)");
    return 0;
}

static void h_setpoint_put(struct call *c)
{
    if (!find_asset(c))
        return;
    cJSON *j = body_json(c);
    if (!j)
        return;
    struct sp_req r = {0};
    struct fg_error e = {0};
    int rc = decode_setpoint(j, fg_gw_now(c->gw), &r, &e);
    cJSON_Delete(j);
    if (!rc)
        rc = fg_gw_setpoint_var(c->gw, c->arg, r.w, r.var, FG_SP_API, r.expires_at, NULL,
                                &e);
    if (rc) {
        reply_fg_error(c, &e);
        return;
    }
    reply_json(c, 200, fg_asset_to_json(fg_model_find_asset_c(&c->gw->model, c->arg)));
}

static void h_setpoint_delete(struct call *c)
{
    struct fg_error e = {0};
    if (fg_gw_setpoint_clear(c->gw, c->arg, &e))
        reply_fg_error(c, &e);
    else
        reply_json(c, 200,
                   fg_asset_to_json(fg_model_find_asset_c(&c->gw->model, c->arg)));
}

/* ---- battery health ---- */

/* The health document of an asset: a battery's own, or for an EVSE that of
 * the EV plugged in (else the one seen last), with which EV it is. */
static void reply_health(struct call *c, const struct fg_asset *a,
                         struct fg_health_entry *e, int status, const char *fit_msg)
{
    cJSON *j = fg_health_json(e, fg_health_cfg(&c->gw->cfg, e), fg_gw_now(c->gw));
    if (!j) {
        reply_error(c, 500, "", "out of memory");
        return;
    }
    cJSON_AddStringToObject(j, "asset", a->id);
    if (a->kind == FG_ASSET_EVSE) {
        const char *key = a->evse.id_token[0] ? a->evse.id_token : a->evse.session_id;
        cJSON_AddBoolToObject(j, "ev_present",
                              a->evse.session_active && !strcmp(key, e->key));
    }
    if (fit_msg && fit_msg[0])
        cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(j, "fit"), "status",
                                fit_msg);
    reply_json(c, status, j);
}

static void h_asset_health(struct call *c)
{
    const struct fg_asset *a = find_asset(c);
    struct fg_error e = {0};
    struct fg_health_entry *h = a ? fg_health_find(&c->gw->health, a, &e) : NULL;
    if (a && !h)
        reply_fg_error(c, &e);
    else if (h)
        reply_health(c, a, h, 200, NULL);
}

/* Body: {"soh_pct": 93.1}, a measured state of health of the battery (or
 * of the EV the EVSE reports); recorded as a checkpoint, the model refitted
 * and the state stored before the answer. */
static void h_health_checkpoint(struct call *c)
{
    const struct fg_asset *a = find_asset(c);
    struct fg_error e = {0};
    struct fg_health_entry *h = a ? fg_health_find(&c->gw->health, a, &e) : NULL;
    if (a && !h)
        reply_fg_error(c, &e);
    cJSON *j = h ? body_json(c) : NULL;
    if (!j)
        return;
    const cJSON *it, *soh = NULL;
    int rc = 0;
    cJSON_ArrayForEach(it, j)
    {
        char path[96];
        fg_json_pointer_key(path, sizeof(path), "", it->string);
        if (strcmp(it->string, "soh_pct"))
            rc = fg_error_set(&e, FG_EUNKNOWN, path, "unknown key (soh_pct)");
        else if (!cJSON_IsNumber(it))
            rc = fg_error_set(&e, FG_ETYPE, path, "expected a number of %%");
        else
            soh = it;
        if (rc)
            break;
    }
    if (!rc && !soh)
        rc = fg_error_set(&e, FG_EMISSING, "/soh_pct",
                          "required: the measured state of health in %%");
    char fit_msg[128] = "";
    double soh_pct = soh ? soh->valuedouble : NAN; /* j goes before the log line */
    if (!rc)
        rc = fg_health_checkpoint(h, soh_pct, fit_msg, &e);
    cJSON_Delete(j);
    if (!rc && fg_health_save_entry(h, c->gw->store, fg_clock_now_ms(&c->gw->clock)))
        rc = fg_error_set(&e, FG_ESTORE, NULL, "cannot store the checkpoint: %s",
                          fg_store_errmsg(c->gw->store));
    if (rc) {
        /* a range error is the client's (400); a state without samples is 409 */
        reply_fg_error(c, &e);
        return;
    }
    fg_info("api", "%s: SoH checkpoint %.2f %% recorded (%s)", a->id, soh_pct,
            fit_msg[0] ? fit_msg : "refitted");
    reply_health(c, a, h, 201, fit_msg);
}

static void h_signals(struct call *c)
{
    reply_json(c, 200, fg_signals_to_json(&c->gw->model));
}

static void h_signal_post(struct call *c)
{
    cJSON *j = body_json(c);
    if (!j)
        return;
    struct fg_signal *s = calloc(1, sizeof(*s));
    struct fg_error e = {0};
    int rc = s ? fg_signal_from_json(j, s, &e) : FG_ENOMEM;
    cJSON_Delete(j);
    if (!rc && s->source != FG_SRC_API)
        rc = fg_error_set(&e, FG_EINVAL, "/source",
                          "only \"api\" signals can be created through the API");
    if (!rc)
        rc = fg_gw_signal_put(c->gw, s, &e);
    if (rc) {
        if (rc == FG_ENOMEM && !e.msg[0])
            fg_error_set(&e, rc, NULL, "out of memory");
        reply_fg_error(c, &e);
    } else {
        char loc[160];
        snprintf(loc, sizeof(loc), "/api/v1/signals/%s", s->id);
        fg_http_resp_header(c->resp, "Location", loc);
        reply_json(
            c, 201,
            fg_signal_to_json(fg_model_signal_find(&c->gw->model, FG_SRC_API, s->id)));
    }
    free(s);
}

static void h_signal_delete(struct call *c)
{
    struct fg_error e = {0};
    if (fg_gw_signal_cancel(c->gw, FG_SRC_API, c->arg, &e))
        reply_fg_error(c, &e);
    else
        reply_json(
            c, 200,
            fg_signal_to_json(fg_model_signal_find(&c->gw->model, FG_SRC_API, c->arg)));
}

static void h_plan(struct call *c)
{
    const struct fg_plan *p = &c->gw->model.plan;
    if (!p->n_isp) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNullToObject(j, "plan");
        cJSON_AddStringToObject(j, "reason", "no scheduler has produced a plan yet");
        reply_json(c, 200, j);
        return;
    }
    reply_json(c, 200, fg_plan_to_json(p));
}

static int add_event(void *arg, const struct fg_store_event *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)e->id);
    cJSON_AddNumberToObject(o, "time", (double)(e->ts_ms / 1000));
    cJSON_AddStringToObject(o, "level", e->level);
    cJSON_AddStringToObject(o, "source", e->source);
    cJSON_AddStringToObject(o, "kind", e->kind);
    cJSON_AddStringToObject(o, "message", e->message);
    cJSON_AddItemToArray(arg, o);
    return 0;
}

static void h_events(struct call *c)
{
    cJSON *arr = cJSON_CreateArray();
    if (fg_store_event_list(c->gw->store, 0, 100, add_event, arr)) {
        cJSON_Delete(arr);
        reply_error(c, 500, "", "cannot read events: %s", fg_store_errmsg(c->gw->store));
        return;
    }
    reply_json(c, 200, arr);
}

static void h_config_get(struct call *c)
{
    reply_json(c, 200, fg_config_to_json(&c->gw->cfg, true));
}

static void h_config_put(struct call *c)
{
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    struct fg_error e = {0};
    int rc = fg_gw_replace_config(c->gw, c->req->body, c->req->body_len, &errs, &e);
    if (rc == FG_ECONFIG && errs.n) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", "invalid configuration");
        cJSON_AddStringToObject(j, "path", errs.v[0].path);
        cJSON *arr = cJSON_AddArrayToObject(j, "errors");
        for (size_t i = 0; i < errs.n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "path", errs.v[i].path);
            cJSON_AddStringToObject(o, "error", errs.v[i].msg);
            cJSON_AddItemToArray(arr, o);
        }
        reply_json(c, 422, j);
    } else if (rc) {
        reply_fg_error(c, &e);
    } else {
        reply_json(c, 200, fg_config_to_json(&c->gw->cfg, true));
    }
    fg_errlist_clear(&errs);
}

/* ---- OCPP stations and operator calls ---- */

static void *ocpp_state(struct call *c)
{
    void *o = fg_gw_adapter_state(c->gw, "ocpp");
    if (!o)
        reply_error(c, 409, "/ocpp/enabled", "the OCPP CSMS is not running");
    return o;
}

static void h_ocpp_stations(struct call *c)
{
    void *o = ocpp_state(c);
    if (o)
        reply_json(c, 200, fg_ocpp_stations_json(o));
}

static void h_ocpp_call_post(struct call *c)
{
    void *o = ocpp_state(c);
    cJSON *j = o ? body_json(c) : NULL;
    if (!j)
        return;
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(j, "action");
    cJSON *payload = cJSON_DetachItemFromObjectCaseSensitive(j, "payload");
    struct fg_error e = {0};
    unsigned id = 0;
    int rc;
    const cJSON *k;
    const char *extra = NULL;
    cJSON_ArrayForEach(k, j)
    {
        if (strcmp(k->string, "action") && strcmp(k->string, "payload"))
            extra = k->string;
    }
    if (extra) {
        rc = fg_error_set(&e, FG_EINVAL, "", "unknown key \"%.40s\" (action, payload)",
                          extra);
        cJSON_Delete(payload);
    } else if (!cJSON_IsString(action)) {
        rc = fg_error_set(&e, FG_EINVAL, "/action", "a string is required");
        cJSON_Delete(payload);
    } else if (payload && !cJSON_IsObject(payload)) {
        rc = fg_error_set(&e, FG_EINVAL, "/payload", "must be an object");
        cJSON_Delete(payload);
    } else {
        /* the payload is taken */
        rc = fg_ocpp_operator_call(o, c->arg, action->valuestring,
                                   payload ? payload : cJSON_CreateObject(), &id, &e);
    }
    cJSON_Delete(j);
    if (rc) {
        reply_fg_error(c, &e);
        return;
    }
    char loc[64];
    snprintf(loc, sizeof(loc), "/api/v1/ocpp/calls/%u", id);
    fg_http_resp_header(c->resp, "Location", loc);
    reply_json(c, 202, fg_ocpp_call_json(o, id));
}

static void h_ocpp_call_get(struct call *c)
{
    void *o = ocpp_state(c);
    if (!o)
        return;
    char *end;
    unsigned long id = strtoul(c->arg, &end, 10);
    cJSON *j = *end || !c->arg[0] || id > 0xffffffffUL
                   ? NULL
                   : fg_ocpp_call_json(o, (unsigned)id);
    if (!j)
        reply_error(c, 404, "", "no call %.20s (the newest 256 are kept)", c->arg);
    else
        reply_json(c, 200, j);
}

static void h_metrics(struct call *c)
{
    char *txt =
        fg_metrics_render(&c->gw->metrics, &c->gw->model, fg_gw_now(c->gw),
                          fg_loop_lag_ms(c->gw->loop), fg_loop_lag_max_ms(c->gw->loop));
    reply_text(c->resp, 200, "text/plain; version=0.0.4; charset=utf-8", txt);
}

static const struct route routes[] = {
    {FG_HTTP_GET, "/api/v1/health", AUTH_NONE, h_health},
    {FG_HTTP_GET, "/api/v1/site", AUTH_READ, h_site},
    {FG_HTTP_GET, "/api/v1/assets", AUTH_READ, h_assets},
    {FG_HTTP_GET, "/api/v1/assets/*", AUTH_READ, h_asset},
    {FG_HTTP_PUT, "/api/v1/assets/*/setpoint", AUTH_WRITE, h_setpoint_put},
    {FG_HTTP_GET, "/api/v1/assets/*/health", AUTH_READ, h_asset_health},
    {FG_HTTP_POST, "/api/v1/assets/*/health/checkpoints", AUTH_WRITE,
     h_health_checkpoint},
    {FG_HTTP_DELETE, "/api/v1/assets/*/setpoint", AUTH_WRITE, h_setpoint_delete},
    {FG_HTTP_GET, "/api/v1/signals", AUTH_READ, h_signals},
    {FG_HTTP_POST, "/api/v1/signals", AUTH_WRITE, h_signal_post},
    {FG_HTTP_DELETE, "/api/v1/signals/*", AUTH_WRITE, h_signal_delete},
    {FG_HTTP_GET, "/api/v1/plan", AUTH_READ, h_plan},
    {FG_HTTP_GET, "/api/v1/events", AUTH_READ, h_events},
    {FG_HTTP_GET, "/api/v1/config", AUTH_WRITE, h_config_get},
    {FG_HTTP_PUT, "/api/v1/config", AUTH_WRITE, h_config_put},
    {FG_HTTP_GET, "/api/v1/ocpp/stations", AUTH_READ, h_ocpp_stations},
    {FG_HTTP_POST, "/api/v1/ocpp/stations/*/calls", AUTH_WRITE, h_ocpp_call_post},
    {FG_HTTP_GET, "/api/v1/ocpp/calls/*", AUTH_READ, h_ocpp_call_get},
    {FG_HTTP_GET, "/metrics", AUTH_READ, h_metrics},
};

/* ---- the web page ------------------------------------------------------------ */

/* Serve an embedded file of the web page; 0 if path is not one. The page is
 * public (it holds no data: it reads the API, with the user's credentials
 * where the API asks for them). */
static int serve_page(struct call *c, const char *path)
{
    if (c->req->method != FG_HTTP_GET && c->req->method != FG_HTTP_HEAD)
        return 0;
    if (!strcmp(path, "/"))
        path = "/index.html";
    for (unsigned i = 0; i < fg_web_asset_count; i++) {
        const struct fg_web_asset *a = &fg_web_assets[i];
        if (strcmp(a->path, path))
            continue;
        char *body = malloc(a->len + 1);
        if (body) {
            memcpy(body, a->data, a->len);
            body[a->len] = '\0';
        }
        fg_http_resp_header(
            c->resp, "Content-Security-Policy",
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'none'");
        fg_http_resp_header(c->resp, "X-Frame-Options", "DENY");
        reply_text(c->resp, 200, a->type, body);
        return 1;
    }
    return 0;
}

/* ---- routing ------------------------------------------------------------------ */

/* Match path against pattern; the segment matched by "*" goes to arg. */
static int match(const char *pattern, const char *path, char *arg, size_t argn)
{
    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= argn)
                return 0;
            memcpy(arg, path, n);
            arg[n] = '\0';
            path += n;
            pattern++;
            continue;
        }
        if (*pattern++ != *path++)
            return 0;
    }
    return !*pattern && !*path;
}

void fg_api_handle(void *ctx, const struct fg_http_req *req, struct fg_http_resp *resp)
{
    struct fg_gw *gw = ctx;
    char arg[256] = "";
    struct call c = {.gw = gw, .req = req, .resp = resp, .arg = arg};
    const struct route *hit = NULL;
    char allow[64] = "";
    size_t path_len = strlen(req->path);
    /* Accept one trailing slash. */
    char path[sizeof(req->path)];
    memcpy(path, req->path, path_len + 1);
    if (path_len > 1 && path[path_len - 1] == '/')
        path[path_len - 1] = '\0';
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!match(routes[i].pattern, path, arg, sizeof(arg)))
            continue;
        enum fg_http_method m = req->method == FG_HTTP_HEAD ? FG_HTTP_GET : req->method;
        if (routes[i].method == m) {
            hit = &routes[i];
            break;
        }
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "",
                 fg_http_method_name(routes[i].method));
    }
    if (!hit && allow[0]) {
        fg_http_resp_header(resp, "Allow", allow);
        reply_error(&c, 405, "", "method %s not allowed here (allowed: %s)",
                    fg_http_method_name(req->method), allow);
    } else if (!hit && !serve_page(&c, path)) {
        reply_error(&c, 404, "", "no such resource: %.200s", req->path);
    } else if (hit && authorize(&c, hit->auth) == 0) {
        hit->fn(&c);
    }
    fg_metrics_http(&gw->metrics, resp->status);
    if (!gw->first_answer_logged) {
        gw->first_answer_logged = true;
        fg_info("api", "first request answered %.1f ms after start",
                (double)(fg_mono_ms() - gw->start_mono_ms));
    }
    fg_dbg("api", "%s %s -> %d", fg_http_method_name(req->method), req->path,
           resp->status);
}
