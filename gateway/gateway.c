#define _GNU_SOURCE
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "model_json.h"

#define TICK_MS 1000
#define OFFLINE_AFTER_S 60     /* an asset silent this long is offline */
#define KEEP_ENDED_S 3600      /* ended signals stay visible this long */
#define STATUS_EVERY_MS 5000   /* demo status block */
#define PRUNE_EVERY_MS 3600000 /* retention of events, set-point log, meter values */

static const struct fg_adapter_ops *const adapter_table[] = {
    &fg_sim_adapter, &fg_ocpp_adapter, &fg_modbus_adapter, &fg_openadr_adapter};

int64_t fg_gw_now(const struct fg_gw *gw)
{
    return fg_clock_now_s(&gw->clock);
}

/* ---- config -> model ------------------------------------------------------ */

/* Static (configured) properties of an asset; measurements stay. */
static void apply_cfg_asset(struct fg_asset *a, const struct fg_cfg_asset *c)
{
    snprintf(a->name, sizeof(a->name), "%s", c->name[0] ? c->name : c->id);
    snprintf(a->adapter, sizeof(a->adapter), "%s", c->adapter);
    switch (c->kind) {
    case FG_ASSET_EVSE:
        a->evse.rated_w = c->rated_w;
        a->evse.phases = c->phases;
        a->evse.voltage = c->voltage;
        a->evse.min_current_a = c->min_current_a;
        a->evse.max_current_a = c->max_current_a;
        a->evse.bidirectional = c->bidirectional;
        a->evse.max_discharge_w = c->max_discharge_w;
        break;
    case FG_ASSET_BATTERY:
        a->battery.capacity_wh = c->capacity_wh;
        a->battery.max_charge_w = c->max_charge_w;
        a->battery.max_discharge_w = c->max_discharge_w;
        a->battery.soc_min = c->soc_min;
        a->battery.soc_max = c->soc_max;
        snprintf(a->battery.chemistry, sizeof(a->battery.chemistry), "%s", c->chemistry);
        break;
    case FG_ASSET_PV:
        a->pv.rated_w = c->rated_w;
        a->pv.curtailable = c->curtailable;
        break;
    case FG_ASSET_LOAD:
        a->load.rated_w = c->rated_w;
        a->load.type = c->load_type;
        break;
    }
}

static int add_cfg_asset(struct fg_gw *gw, const struct fg_cfg_asset *c,
                         struct fg_error *err)
{
    struct fg_asset a;
    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "%s", c->id);
    a.kind = c->kind;
    a.power_w = NAN;
    a.reactive_var = NAN;
    a.battery.soc = NAN;
    a.battery.soh = NAN;
    a.battery.temperature_c = NAN;
    a.pv.limit_w = NAN;
    a.evse.ev_soc = NAN;
    a.load.connected = true;
    apply_cfg_asset(&a, c);
    return fg_model_add_asset(&gw->model, &a, err);
}

static const struct fg_cfg_asset *cfg_asset(const struct fg_config *c, const char *id)
{
    for (size_t i = 0; i < c->site.n_assets; i++) {
        if (!strcmp(c->site.assets[i].id, id))
            return &c->site.assets[i];
    }
    return NULL;
}

/* Make the model's assets match the config: update kept ones in place (their
 * measurements survive a reload), add new ones, drop removed ones. */
static int sync_assets(struct fg_gw *gw, struct fg_error *err)
{
    for (size_t i = gw->model.n_assets; i-- > 0;) {
        const struct fg_asset *a = &gw->model.assets[i];
        const struct fg_cfg_asset *c = cfg_asset(&gw->cfg, a->id);
        if (!c || c->kind != a->kind) {
            fg_info("gw", "asset %s removed", a->id);
            fg_model_remove_asset(&gw->model, a->id);
        }
    }
    for (size_t i = 0; i < gw->cfg.site.n_assets; i++) {
        const struct fg_cfg_asset *c = &gw->cfg.site.assets[i];
        struct fg_asset *a = fg_model_find_asset(&gw->model, c->id);
        if (a) {
            apply_cfg_asset(a, c);
            continue;
        }
        int rc = add_cfg_asset(gw, c, err);
        if (rc)
            return rc;
    }
    return 0;
}

static void apply_site(struct fg_gw *gw)
{
    struct fg_site *s = &gw->model.site;
    snprintf(s->id, sizeof(s->id), "%s", gw->cfg.site.id);
    snprintf(s->name, sizeof(s->name), "%s", gw->cfg.site.name);
    s->import_limit_w = gw->cfg.site.import_limit_w;
    s->export_limit_w = gw->cfg.site.export_limit_w;
    s->isp_s = gw->cfg.site.isp_s;
    s->utc_offset_min = gw->cfg.site.utc_offset_min;
    snprintf(s->currency, sizeof(s->currency), "%s", gw->cfg.site.currency);
    s->n_tariff = gw->cfg.site.n_tariff;
    memcpy(s->tariff, gw->cfg.site.tariff, sizeof(s->tariff[0]) * s->n_tariff);
    gw->model.version++;
}

static int64_t local_day(const struct fg_gw *gw, int64_t t)
{
    int64_t local = t + (int64_t)gw->cfg.site.utc_offset_min * 60;
    return (local - (((local % 86400) + 86400) % 86400)) / 86400;
}

/* Config signals repeat daily: instantiate the windows of yesterday (one
 * crossing midnight may still run), today and tomorrow that have not ended,
 * so the one covering "now" and the next one for planning always exist. */
static void make_config_signals(struct fg_gw *gw, int64_t now)
{
    int64_t day = local_day(gw, now);
    int64_t off = (int64_t)gw->cfg.site.utc_offset_min * 60;
    for (size_t i = gw->model.n_signals; i-- > 0;) {
        const struct fg_signal *s = &gw->model.signals[i];
        int keep = s->source != FG_SRC_CONFIG;
        for (size_t j = 0; !keep && j < gw->cfg.site.n_signals; j++)
            keep = !strcmp(gw->cfg.site.signals[j].id, s->id);
        if (!keep) {
            char id[FG_SIGNAL_ID_MAX];
            snprintf(id, sizeof(id), "%s", s->id);
            fg_model_signal_remove(&gw->model, FG_SRC_CONFIG, id);
        }
    }
    struct fg_signal *sig = calloc(1, sizeof(*sig));
    if (!sig)
        return;
    for (size_t j = 0; j < gw->cfg.site.n_signals; j++) {
        const struct fg_cfg_signal *c = &gw->cfg.site.signals[j];
        memset(sig, 0, sizeof(*sig));
        snprintf(sig->id, sizeof(sig->id), "%s", c->id);
        sig->source = FG_SRC_CONFIG;
        sig->type = c->type;
        sig->priority = c->priority;
        sig->created = sig->updated = now;
        int len_min = ((c->until_min - c->from_min) % 1440 + 1440) % 1440;
        for (int d = -1; d <= 1; d++) {
            int64_t start = (day + d) * 86400 + (int64_t)c->from_min * 60 - off;
            if (start + (int64_t)len_min * 60 <= now)
                continue; /* ended: only current and coming windows */
            struct fg_signal_interval *iv = &sig->intervals[sig->n_intervals++];
            iv->start = start;
            iv->duration_s = (int64_t)len_min * 60;
            iv->value = c->value;
            iv->export_value = c->export_value;
        }
        struct fg_error e;
        if (fg_model_signal_put(&gw->model, sig, now, &e))
            fg_warn("gw", "config signal %s: %s%s%s", c->id, e.path,
                    e.path[0] ? ": " : "", e.msg);
    }
    free(sig);
    gw->config_signals_day = day;
}

/* ---- signals and their persistence ---------------------------------------- */

static int persist_signal(struct fg_gw *gw, const struct fg_signal *s)
{
    cJSON *j = fg_signal_to_json(s);
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!txt)
        return FG_ENOMEM;
    int rc = fg_store_signal_put(gw->store, fg_signal_source_name(s->source), s->id, txt,
                                 fg_clock_now_ms(&gw->clock));
    free(txt);
    return rc;
}

int fg_gw_signal_put(struct fg_gw *gw, const struct fg_signal *s, struct fg_error *err)
{
    int64_t now = fg_gw_now(gw);
    int rc = fg_model_signal_put(&gw->model, s, now, err);
    if (rc)
        return rc;
    if (s->source != FG_SRC_CONFIG) {
        const struct fg_signal *stored =
            fg_model_signal_find(&gw->model, s->source, s->id);
        rc = persist_signal(gw, stored);
        if (rc) {
            /* Not durable, so not accepted: take it back out of the model. */
            fg_model_signal_cancel(&gw->model, s->source, s->id, now);
            return fg_error_set(err, FG_ESTORE, NULL, "cannot store the signal: %s",
                                fg_store_errmsg(gw->store));
        }
    }
    gw->metrics.signals_received++;
    fg_gw_kick_scheduler(gw);
    fg_info("gw", "signal %s/%s (%s) accepted", fg_signal_source_name(s->source), s->id,
            fg_signal_type_name(s->type));
    return 0;
}

int fg_gw_signal_cancel(struct fg_gw *gw, enum fg_signal_source src, const char *id,
                        struct fg_error *err)
{
    int rc = fg_model_signal_cancel(&gw->model, src, id, fg_gw_now(gw));
    if (rc)
        return fg_error_set(err, rc, "/id", "no %s signal \"%s\"",
                            fg_signal_source_name(src), id);
    const struct fg_signal *s = fg_model_signal_find(&gw->model, src, id);
    if (s && persist_signal(gw, s))
        return fg_error_set(err, FG_ESTORE, NULL, "cannot store the cancellation: %s",
                            fg_store_errmsg(gw->store));
    fg_gw_kick_scheduler(gw);
    fg_info("gw", "signal %s/%s cancelled", fg_signal_source_name(src), id);
    return 0;
}

static int host_signal_put(void *gw, const struct fg_signal *s, struct fg_error *err)
{
    return fg_gw_signal_put(gw, s, err);
}

static int host_signal_cancel(void *gw, enum fg_signal_source src, const char *id,
                              struct fg_error *err)
{
    return fg_gw_signal_cancel(gw, src, id, err);
}

static int load_signal(void *arg, const char *source, const char *id, const char *json)
{
    struct fg_gw *gw = arg;
    cJSON *j = cJSON_Parse(json);
    struct fg_signal *s = calloc(1, sizeof(*s));
    struct fg_error e = {0};
    int rc = !j || !s ? FG_ENOMEM : fg_signal_from_json(j, s, &e);
    if (!rc)
        rc = fg_model_signal_put(&gw->model, s, fg_gw_now(gw), &e);
    if (rc)
        fg_warn("gw", "stored signal %s/%s ignored: %s %s", source, id, e.path, e.msg);
    cJSON_Delete(j);
    free(s);
    return 0;
}

void *fg_gw_adapter_state(struct fg_gw *gw, const char *name)
{
    for (size_t i = 0; i < gw->n_adapters; i++)
        if (!strcmp(gw->adapters[i].ops->name, name))
            return gw->adapters[i].state;
    return NULL;
}

/* ---- set-points ------------------------------------------------------------ */

/* Hand the asset's set-point to its adapter. FG_EUNSUPPORTED if no running
 * adapter can execute it; the reason in *err. */
static int send_to_adapter(struct fg_gw *gw, struct fg_asset *a, struct fg_error *err)
{
    for (size_t i = 0; i < gw->n_adapters; i++) {
        if (!strcmp(gw->adapters[i].ops->name, a->adapter) && gw->adapters[i].state) {
            if (a->sp.active && a->sp.has_var && !gw->adapters[i].ops->reactive)
                return fg_error_set(err, FG_EUNSUPPORTED, "/var",
                                    "the %s adapter cannot control reactive power "
                                    "(\"%s\")",
                                    a->adapter, a->id);
            int rc = gw->adapters[i].ops->setpoint(gw->adapters[i].state, a, err);
            if (rc && !err->msg[0])
                fg_error_set(err, rc, "/asset", "the %s adapter cannot execute it: %s",
                             a->adapter, fg_strerror(rc));
            return rc;
        }
    }
    return fg_error_set(err, FG_EUNSUPPORTED, "/asset",
                        "no running %s adapter executes set-points on \"%s\"", a->adapter,
                        a->id);
}

int fg_gw_setpoint(struct fg_gw *gw, const char *asset_id, double w,
                   enum fg_sp_source src, int64_t expires_at, struct fg_setpoint *applied,
                   struct fg_error *err)
{
    return fg_gw_setpoint_var(gw, asset_id, w, NAN, src, expires_at, applied, err);
}

#define SP_LOG_RENEWAL_S 60 /* an unchanged scheduler set-point: a log row a minute */
#define SP_LOG_MIN_W 10.0   /* and "unchanged" is within this, or 0.5 % */

/* The clamp flags the log tells apart: a clamp of less than a watt (an
 * answer a hair over a limit because the load moved) is none. */
static unsigned log_clamp(const struct fg_setpoint *sp)
{
    return fabs(sp->requested_w - sp->w) < 1.0 ? 0 : sp->clamp;
}

static int gw_setpoint(struct fg_gw *gw, const char *asset_id, double w, double var,
                       enum fg_sp_source src, int64_t expires_at, double other_w,
                       struct fg_setpoint *applied, struct fg_error *err)
{
    struct fg_asset *a = fg_model_find_asset(&gw->model, asset_id);
    struct fg_setpoint before = a ? a->sp : (struct fg_setpoint){0};
    struct fg_setpoint sp;
    int64_t now = fg_gw_now(gw);
    int rc = fg_model_apply_setpoint_other(&gw->model, asset_id, w, src, expires_at, now,
                                           other_w, &sp, err);
    if (rc)
        return rc;
    a = fg_model_find_asset(&gw->model, asset_id);
    a->sp.has_var = sp.has_var = isfinite(var);
    a->sp.var = sp.var = sp.has_var ? var : 0;
    rc = send_to_adapter(gw, a, err);
    if (rc) {
        /* Not executed, so not accepted: the model keeps what the device does. */
        a->sp = before;
        gw->model.version++;
        return rc;
    }
    /* The log gets every set-point of a person or a signal source, and of
     * the scheduler (which renews its set-points every call) the changes
     * and, while one holds, a row a minute. */
    bool renewal = (src == FG_SP_SCHEDULER || src == FG_SP_FALLBACK) && before.active &&
                   before.source == src && before.logged_at &&
                   now - before.logged_at < SP_LOG_RENEWAL_S && now >= before.logged_at &&
                   fabs(before.w - sp.w) < fmax(SP_LOG_MIN_W, 0.005 * fabs(sp.w)) &&
                   log_clamp(&before) == log_clamp(&sp) && before.has_var == sp.has_var &&
                   (!sp.has_var || fabs(before.var - sp.var) < SP_LOG_MIN_W);
    if (renewal) {
        a->sp.logged_at = sp.logged_at = before.logged_at;
    } else {
        struct fg_store_setpoint log = {
            .ts_ms = fg_clock_now_ms(&gw->clock),
            .asset_id = asset_id,
            .requested_w = w,
            .applied_w = sp.w,
            .source = fg_sp_source_name(src),
            .expires_at = expires_at,
            .clamp = sp.clamp,
        };
        if (fg_store_setpoint_add(gw->store, &log))
            fg_warn("gw", "set-point log: %s", fg_store_errmsg(gw->store));
        a->sp.logged_at = sp.logged_at = now;
    }
    gw->metrics.setpoints_sent++;
    if (sp.clamp)
        gw->metrics.setpoints_clamped++;
    if (applied)
        *applied = sp;
    return 0;
}

int fg_gw_setpoint_var(struct fg_gw *gw, const char *asset_id, double w, double var,
                       enum fg_sp_source src, int64_t expires_at,
                       struct fg_setpoint *applied, struct fg_error *err)
{
    return gw_setpoint(gw, asset_id, w, var, src, expires_at, NAN, applied, err);
}

int fg_sp_batch_init(struct fg_sp_batch *b, struct fg_gw *gw)
{
    const struct fg_model *m = &gw->model;
    int64_t now = fg_gw_now(gw);
    memset(b, 0, sizeof(*b));
    b->counted = calloc(m->n_assets ? m->n_assets : 1, sizeof(double));
    if (!b->counted)
        return FG_ENOMEM;
    b->n = m->n_assets;
    for (size_t i = 0; i < b->n; i++)
        b->total += b->counted[i] = fg_asset_counted_w(&m->assets[i], now);
    /* the batch's log rows in one transaction: one commit (one fsync with
     * storage.sync_full) per answer, not one per set-point */
    b->in_tx = fg_store_batch_begin(gw->store) == 0;
    return 0;
}

/* The batch's index of asset_id, or SIZE_MAX. */
static size_t batch_index(const struct fg_sp_batch *b, struct fg_gw *gw,
                          const char *asset_id)
{
    const struct fg_asset *a = fg_model_find_asset_c(&gw->model, asset_id);
    size_t i = a ? (size_t)(a - gw->model.assets) : SIZE_MAX;
    return i < b->n ? i : SIZE_MAX;
}

void fg_sp_batch_intend(struct fg_sp_batch *b, struct fg_gw *gw, const char *asset_id,
                        double w)
{
    size_t i = batch_index(b, gw, asset_id);
    if (i == SIZE_MAX || !isfinite(w) || !gw->model.assets[i].online)
        return;
    struct fg_envelope e =
        fg_asset_envelope_at(&gw->model.assets[i], fg_gw_now(gw), fg_gw_now(gw));
    double v = fmin(fmax(w, e.min_w), e.max_w);
    b->total += v - b->counted[i];
    b->counted[i] = v;
}

int fg_sp_batch_apply(struct fg_sp_batch *b, struct fg_gw *gw, const char *asset_id,
                      double w, double var, enum fg_sp_source src, int64_t expires_at,
                      struct fg_setpoint *applied, struct fg_error *err)
{
    size_t i = batch_index(b, gw, asset_id);
    double other = i == SIZE_MAX ? NAN : b->total - b->counted[i];
    int rc = gw_setpoint(gw, asset_id, w, var, src, expires_at, other, applied, err);
    i = batch_index(b, gw, asset_id); /* the adapter may have added assets */
    if (i != SIZE_MAX) {
        double now_w = fg_asset_counted_w(&gw->model.assets[i], fg_gw_now(gw));
        b->total += now_w - b->counted[i];
        b->counted[i] = now_w;
    }
    return rc;
}

void fg_sp_batch_free(struct fg_sp_batch *b, struct fg_gw *gw)
{
    if (b->in_tx && fg_store_batch_end(gw->store, 0))
        fg_warn("gw", "set-point log: %s", fg_store_errmsg(gw->store));
    free(b->counted);
    memset(b, 0, sizeof(*b));
}

int fg_gw_setpoint_clear(struct fg_gw *gw, const char *asset_id, struct fg_error *err)
{
    struct fg_asset *a = fg_model_find_asset(&gw->model, asset_id);
    if (!a)
        return fg_error_set(err, FG_ENOTFOUND, "/asset", "no asset \"%s\"", asset_id);
    a->sp.active = false;
    gw->model.version++;
    struct fg_error e = {0};
    int rc = send_to_adapter(gw, a, &e);
    if (rc && rc != FG_EUNSUPPORTED)
        fg_warn("gw", "asset %s: releasing the set-point: %s", asset_id, e.msg);
    return 0;
}

/* ---- battery health -------------------------------------------------------- */

/* The ageing states go to the store every FG_HEALTH_SAVE_S, and at once
 * (force) before a reload and at shutdown. */
static void save_health(struct fg_gw *gw, bool force)
{
    if (gw->store &&
        fg_health_save(&gw->health, gw->store, fg_clock_now_ms(&gw->clock), force))
        fg_warn("gw", "saving the battery ageing states: %s", fg_store_errmsg(gw->store));
}

/* ---- forecasts ----------------------------------------------------------------- */

/* The learned profiles go to the store after an ISP was learned (at most
 * every FG_FORECAST_SAVE_MS), and at once (force) before a reload and at
 * shutdown. */
static void save_forecast(struct fg_gw *gw, bool force)
{
    if (gw->store &&
        fg_forecast_save(&gw->forecast, gw->store, fg_clock_now_ms(&gw->clock), force))
        fg_warn("gw", "saving the forecast profiles: %s", fg_store_errmsg(gw->store));
}

/* ---- adapters ---------------------------------------------------------------- */

static void stop_adapters(struct fg_gw *gw)
{
    for (size_t i = gw->n_adapters; i-- > 0;)
        gw->adapters[i].ops->stop(gw->adapters[i].state);
    gw->n_adapters = 0;
}

static int start_adapters(struct fg_gw *gw, struct fg_error *err)
{
    for (size_t i = 0; i < sizeof(adapter_table) / sizeof(adapter_table[0]); i++) {
        const struct fg_adapter_ops *ops = adapter_table[i];
        void *st = NULL;
        int rc = ops->start(&gw->host, &gw->cfg, &st, err);
        if (rc)
            return rc;
        gw->adapters[gw->n_adapters].ops = ops;
        gw->adapters[gw->n_adapters].state = st;
        gw->n_adapters++;
    }
    return 0;
}

/* After a reload: adapters that can take the new config in place keep their
 * connections; the others are restarted on it. */
static int reconfigure_adapters(struct fg_gw *gw, struct fg_error *err)
{
    for (size_t i = 0; i < gw->n_adapters; i++) {
        const struct fg_adapter_ops *ops = gw->adapters[i].ops;
        if (ops->reconfigure && !ops->reconfigure(gw->adapters[i].state, &gw->cfg))
            continue;
        ops->stop(gw->adapters[i].state);
        gw->adapters[i].state = NULL;
        int rc = ops->start(&gw->host, &gw->cfg, &gw->adapters[i].state, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Sections whose adapter this build does not have yet. Enabling one is an
 * error at start-up rather than a silently ignored setting. */
static int check_unbuilt(const struct fg_config *c, struct fg_error *err)
{
    static const struct {
        size_t off;
        const char *name;
    } s[] = {
        {offsetof(struct fg_config, uftp.enabled), "uftp"},
        {offsetof(struct fg_config, mqtt.enabled), "mqtt"},
    };
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        if (*(const bool *)((const char *)c + s[i].off)) {
            char path[32];
            snprintf(path, sizeof(path), "/%s/enabled", s[i].name);
            return fg_error_set(err, FG_EUNSUPPORTED, path,
                                "this build of flexgw has no %s adapter yet", s[i].name);
        }
    }
    for (size_t i = 0; i < c->site.n_assets; i++) {
        if (strcmp(c->site.assets[i].adapter, "sim") &&
            strcmp(c->site.assets[i].adapter, "ocpp") &&
            strcmp(c->site.assets[i].adapter, "modbus")) {
            char path[48];
            snprintf(path, sizeof(path), "/site/assets/%zu/adapter", i);
            return fg_error_set(err, FG_EUNSUPPORTED, path,
                                "this build of flexgw has no %s adapter yet",
                                c->site.assets[i].adapter);
        }
    }
    return 0;
}

/* ---- applying a config ------------------------------------------------------- */

/* Settings that need a restart keep their running value. */
static void keep_restart_settings(struct fg_gw *gw, struct fg_config *next)
{
    if (memcmp(&next->web.listen, &gw->cfg.web.listen, sizeof(next->web.listen))) {
        fg_warn("gw", "web.listen changes on restart; still serving on %s:%u",
                gw->cfg.web.listen.host, gw->cfg.web.listen.port);
        next->web.listen = gw->cfg.web.listen;
    }
    if (strcmp(next->storage.path, gw->cfg.storage.path)) {
        fg_warn("gw", "storage.path changes on restart");
        memcpy(next->storage.path, gw->cfg.storage.path, sizeof(next->storage.path));
    }
    if (strcmp(next->web.tls_cert, gw->cfg.web.tls_cert) ||
        strcmp(next->web.tls_key, gw->cfg.web.tls_key))
        fg_warn("gw", "web TLS certificate changes on restart");
}

/* Take `next` (moved into gw->cfg) and apply it to the running gateway. The
 * old config stays alive until every adapter has let go of it. */
static int apply_config(struct fg_gw *gw, struct fg_config *next, struct fg_error *err)
{
    int rc = check_unbuilt(next, err);
    if (rc)
        return rc;
    keep_restart_settings(gw, next);
    save_health(gw, true);
    save_forecast(gw, true);
    struct fg_config old = gw->cfg;
    gw->cfg = *next;
    fg_config_defaults(next);
    if (gw->opts.log_level < 0)
        fg_log_set_level(gw->cfg.log.level);
    fg_http_set_max_body(gw->http, gw->cfg.web.max_body);
    apply_site(gw);
    rc = sync_assets(gw, err);
    if (!rc && fg_health_configure(&gw->health, &gw->cfg))
        rc = fg_error_set(err, FG_ENOMEM, NULL, "out of memory (battery health)");
    if (!rc)
        rc = reconfigure_adapters(gw, err);
    if (!rc)
        rc = fg_scheduler_reconfigure(gw, err);
    fg_config_clear(&old);
    make_config_signals(gw, fg_gw_now(gw));
    gw->metrics.config_reloads++;
    return rc;
}

static void log_errlist(const char *what, const struct fg_errlist *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fg_err("config", "%s: %s%s%s", what, errs->v[i].path,
               errs->v[i].path[0] ? ": " : "", errs->v[i].msg);
    if (errs->dropped)
        fg_err("config", "%s: ... and %zu more errors", what, errs->dropped);
}

int fg_gw_reload(struct fg_gw *gw, struct fg_errlist *errs)
{
    struct fg_config next;
    fg_config_defaults(&next);
    int rc = fg_config_load(gw->config_path, &next, errs);
    if (rc) {
        gw->metrics.config_reload_failures++;
        log_errlist(gw->config_path, errs);
        fg_err("gw", "reload rejected: %zu errors, still running the previous config",
               fg_errlist_count(errs));
        return rc;
    }
    struct fg_error e = {0};
    rc = apply_config(gw, &next, &e);
    fg_config_clear(&next);
    if (rc) {
        gw->metrics.config_reload_failures++;
        fg_err("gw", "reload: %s: %s", e.path, e.msg);
        fg_errlist_add(errs, rc, e.path, "%s", e.msg);
        return rc;
    }
    fg_info("gw", "configuration reloaded from %s", gw->config_path);
    fg_store_event_add(gw->store, fg_clock_now_ms(&gw->clock), "info", "gw", "config",
                       "configuration reloaded", NULL);
    return 0;
}

/* Write a file so that a crash leaves either the old or the new content. */
static int write_atomic(const char *path, const char *text, size_t len,
                        struct fg_error *err)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return fg_error_set(err, FG_EIO, NULL, "cannot write %s: %s", tmp,
                            strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    int ok = off == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return fg_error_set(err, FG_EIO, NULL, "cannot write %s: %s", path, strerror(e));
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int fg_gw_replace_config(struct fg_gw *gw, const char *json, size_t len,
                         struct fg_errlist *errs, struct fg_error *err)
{
    cJSON *doc = cJSON_ParseWithLength(json, len);
    if (!doc)
        return fg_error_set(err, FG_EPARSE, "", "malformed JSON");
    char *text = NULL;
    int rc = fg_config_unredact(doc, &gw->cfg);
    if (!rc) {
        text = cJSON_Print(doc);
        rc = text ? 0 : FG_ENOMEM;
    }
    cJSON_Delete(doc);
    if (rc)
        return fg_error_set(err, rc, NULL, "out of memory");
    struct fg_config next;
    fg_config_defaults(&next);
    rc = fg_config_parse(text, strlen(text), gw->config_dir, &next, errs);
    if (!rc)
        rc = check_unbuilt(&next, err);
    if (!rc)
        rc = write_atomic(gw->config_path, text, strlen(text), err);
    if (!rc)
        rc = apply_config(gw, &next, err);
    if (!rc) {
        fg_info("gw", "configuration replaced through the API and written to %s",
                gw->config_path);
        fg_store_event_add(gw->store, fg_clock_now_ms(&gw->clock), "info", "api",
                           "config", "configuration replaced", NULL);
    }
    fg_config_clear(&next);
    free(text);
    return rc;
}

/* ---- tick, status, signals ------------------------------------------------------ */

static void print_status(struct fg_gw *gw, int64_t now)
{
    char when[32];
    int64_t local = now + (int64_t)gw->cfg.site.utc_offset_min * 60;
    struct tm tm;
    time_t lt = (time_t)local;
    gmtime_r(&lt, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
    struct fg_limits lim;
    fg_model_limits_at(&gw->model, now, &lim);
    printf("%s local  site %+.1f kW  import limit %.1f kW%s%s  price %.2f %s/kWh\n", when,
           fg_model_site_power(&gw->model) / 1000.0, lim.import_max_w / 1000.0,
           lim.import_by ? " by " : "", lim.import_by ? lim.import_by->id : "",
           lim.price_import, gw->model.site.currency);
    for (size_t i = 0; i < gw->model.n_assets; i++) {
        const struct fg_asset *a = &gw->model.assets[i];
        char extra[96] = "";
        if (a->kind == FG_ASSET_BATTERY)
            snprintf(extra, sizeof(extra), "SoC %.1f %%", a->battery.soc);
        else if (a->kind == FG_ASSET_EVSE && a->evse.session_active)
            snprintf(extra, sizeof(extra), "%s %.1f/%.1f kWh",
                     fg_connector_state_name(a->evse.state), a->evse.energy_wh / 1000.0,
                     a->evse.energy_requested_wh / 1000.0);
        else if (a->kind == FG_ASSET_EVSE)
            snprintf(extra, sizeof(extra), "%s", fg_connector_state_name(a->evse.state));
        else if (a->kind == FG_ASSET_PV)
            snprintf(extra, sizeof(extra), "available %.1f kW",
                     a->pv.available_w / 1000.0);
        char sp[48] = "";
        if (a->sp.active)
            snprintf(sp, sizeof(sp), "  sp %+.1f kW (%s)", a->sp.w / 1000.0,
                     fg_sp_source_name(a->sp.source));
        printf("  %-8s %-7s %-7s %+8.1f kW  %s%s\n", a->id, fg_asset_kind_name(a->kind),
               a->online ? "online" : "OFFLINE", a->power_w / 1000.0, extra, sp);
    }
    fflush(stdout);
}

struct gone {
    struct fg_gw *gw;
    size_t n, cap;
    struct {
        char source[16];
        char id[FG_SIGNAL_ID_MAX];
    } * v;
};

static int collect_gone(void *arg, const char *source, const char *id, const char *json)
{
    (void)json;
    struct gone *g = arg;
    enum fg_signal_source src;
    if (!fg_signal_source_parse(source, &src) &&
        fg_model_signal_find(&g->gw->model, src, id))
        return 0;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        void *v = realloc(g->v, cap * sizeof(*g->v));
        if (!v)
            return 1; /* stop; the rest goes next time */
        g->v = v;
        g->cap = cap;
    }
    snprintf(g->v[g->n].source, sizeof(g->v[0].source), "%s", source);
    snprintf(g->v[g->n].id, sizeof(g->v[0].id), "%s", id);
    g->n++;
    return 0;
}

/* Old events, set-point log entries and meter values go after
 * storage.retention_days. Stored signals go once the model has dropped them
 * (ended or cancelled for a while), so the table does not grow forever and
 * a restart does not bring back dead signals. Transactions and the outbox
 * stay: their adapters own them. */
static void prune(struct fg_gw *gw)
{
    int64_t keep_ms = (int64_t)gw->cfg.storage.retention_days * 86400 * 1000;
    if (fg_store_prune(gw->store, fg_clock_now_ms(&gw->clock) - keep_ms))
        fg_warn("gw", "pruning the store: %s", fg_store_errmsg(gw->store));
    struct gone g = {.gw = gw};
    if (fg_store_signal_foreach(gw->store, collect_gone, &g) < 0)
        fg_warn("gw", "listing stored signals: %s", fg_store_errmsg(gw->store));
    for (size_t i = 0; i < g.n; i++) {
        if (fg_store_signal_delete(gw->store, g.v[i].source, g.v[i].id))
            fg_warn("gw", "deleting stored signal: %s", fg_store_errmsg(gw->store));
    }
    if (g.n)
        fg_info("gw", "%zu ended signals removed from the store", g.n);
    free(g.v);
}

static void tick(struct fg_timer *t)
{
    struct fg_gw *gw = t->arg;
    int64_t now = fg_gw_now(gw);
    if (local_day(gw, now) != gw->config_signals_day)
        make_config_signals(gw, now);
    fg_model_expire(&gw->model, now, KEEP_ENDED_S);
    /* silence is measured in real time: at --speed 600 a minute of the
     * demo's clock is 0.1 s, less than a device's reporting interval */
    int64_t offline_after = OFFLINE_AFTER_S;
    if (gw->clock.sim && gw->clock.speed > 1)
        offline_after = (int64_t)(OFFLINE_AFTER_S * gw->clock.speed);
    int changed = fg_model_refresh(&gw->model, now, offline_after);
    if (changed)
        fg_info("gw", "%d assets changed online state", changed);
    fg_health_tick(&gw->health, &gw->model, &gw->cfg, now);
    save_health(gw, false);
    fg_forecast_tick(&gw->forecast, &gw->model, now);
    save_forecast(gw, false);
    fg_scheduler_tick(gw, now);
    int64_t mono = fg_mono_ms();
    if (mono - gw->last_prune_mono >= PRUNE_EVERY_MS) {
        gw->last_prune_mono = mono;
        prune(gw);
    }
    if (gw->opts.status_lines && mono - gw->last_status_mono >= STATUS_EVERY_MS) {
        gw->last_status_mono = mono;
        print_status(gw, now);
    }
    fg_timer_start(t, TICK_MS);
}

static void sched_kick(struct fg_timer *t)
{
    struct fg_gw *gw = t->arg;
    fg_scheduler_kicked(gw, fg_gw_now(gw));
}

void fg_gw_kick_scheduler(struct fg_gw *gw)
{
    gw->sched.kick = true;
    if (gw->sched_kick_ready)
        fg_timer_start(&gw->sched_kick, 0);
}

static void on_signal(void *arg, int signo)
{
    struct fg_gw *gw = arg;
    if (signo == SIGHUP) {
        fg_info("gw", "SIGHUP: reloading %s", gw->config_path);
        struct fg_errlist errs;
        fg_errlist_init(&errs);
        fg_gw_reload(gw, &errs);
        fg_errlist_clear(&errs);
        return;
    }
    fg_info("gw", "%s: shutting down", signo == SIGTERM ? "SIGTERM" : "SIGINT");
    fg_loop_stop(gw->loop);
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int load_config(struct fg_gw *gw, struct fg_error *err)
{
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    int rc = fg_config_load(gw->config_path, &gw->cfg, &errs);
    if (rc) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s: %s%s%s\n", gw->config_path, errs.v[i].path,
                    errs.v[i].path[0] ? ": " : "", errs.v[i].msg);
        fg_error_set(err, FG_ECONFIG, NULL, "%zu errors in %s", fg_errlist_count(&errs),
                     gw->config_path);
    }
    fg_errlist_clear(&errs);
    return rc;
}

static int start_model(struct fg_gw *gw, struct fg_error *err)
{
    fg_model_init(&gw->model);
    apply_site(gw);
    int rc = sync_assets(gw, err);
    if (rc)
        return rc;
    make_config_signals(gw, fg_gw_now(gw));
    rc = fg_store_signal_foreach(gw->store, load_signal, gw);
    if (!rc && fg_health_configure(&gw->health, &gw->cfg))
        rc = fg_error_set(err, FG_ENOMEM, NULL, "out of memory (battery health)");
    if (!rc &&
        fg_health_load(&gw->health, gw->store, &gw->cfg, fg_clock_now_ms(&gw->clock)))
        fg_warn("gw", "battery ageing states not read; they start afresh");
    if (!rc && fg_forecast_load(&gw->forecast, gw->store, &gw->model.site,
                                fg_clock_now_ms(&gw->clock)))
        fg_warn("gw", "forecast profiles not read; they are learned afresh");
    return rc;
}

int fg_gw_init(struct fg_gw *gw, const struct fg_gw_opts *o, struct fg_error *err)
{
    memset(gw, 0, sizeof(*gw));
    gw->opts = *o;
    gw->start_mono_ms = fg_mono_ms();
    fg_config_defaults(&gw->cfg);
    fg_model_init(&gw->model);
    fg_health_init(&gw->health);
    fg_forecast_init(&gw->forecast);
    fg_metrics_init(&gw->metrics);
    if (!realpath(o->config_path, gw->config_path))
        snprintf(gw->config_path, sizeof(gw->config_path), "%s", o->config_path);
    snprintf(gw->config_dir, sizeof(gw->config_dir), "%s", gw->config_path);
    dirname(gw->config_dir);

    int rc = load_config(gw, err);
    if (!rc)
        rc = check_unbuilt(&gw->cfg, err);
    if (rc)
        return rc;
    if (o->data_dir)
        snprintf(gw->cfg.storage.path, sizeof(gw->cfg.storage.path), "%s", o->data_dir);
    if (o->listen && fg_hostport_parse(o->listen, &gw->cfg.web.listen))
        return fg_error_set(err, FG_EINVAL, "--listen", "\"%s\" is not a valid host:port",
                            o->listen);
    fg_log_set_level(o->log_level >= 0 ? (enum fg_log_level)o->log_level
                                       : gw->cfg.log.level);
    if (o->demo)
        fg_clock_init_sim(&gw->clock, fg_clock_now_ms(&(struct fg_clock){0}), o->speed);
    else
        fg_clock_init_real(&gw->clock);

    rc = fg_loop_new(&gw->loop, err);
    if (!rc)
        rc = fg_loop_catch_signals(gw->loop, on_signal, gw);
    if (!rc)
        rc = fg_store_open(&gw->store, gw->cfg.storage.path, gw->cfg.storage.sync_full,
                           err);
    if (!rc)
        rc = start_model(gw, err);
    if (rc)
        return rc;
    gw->host = (struct fg_adapter_host){.model = &gw->model,
                                        .loop = gw->loop,
                                        .clock = &gw->clock,
                                        .metrics = &gw->metrics,
                                        .store = gw->store,
                                        .gw = gw,
                                        .signal_put = host_signal_put,
                                        .signal_cancel = host_signal_cancel};
    rc = start_adapters(gw, err);
    if (rc)
        return rc;
    struct fg_http_opts ho = {
        .listen = gw->cfg.web.listen,
        .max_body = gw->cfg.web.max_body,
        .tls_cert = gw->cfg.web.tls_cert,
        .tls_key = gw->cfg.web.tls_key,
    };
    rc = fg_http_start(&gw->http, gw->loop, &ho, fg_api_handle, gw, err);
    if (!rc)
        rc = fg_scheduler_start(gw, err);
    if (rc)
        return rc;
    /* The first tick prints the status and prunes at once; "0" would mean
     * "an hour after the machine booted". */
    gw->last_prune_mono = fg_mono_ms() - PRUNE_EVERY_MS;
    gw->last_status_mono = fg_mono_ms() - STATUS_EVERY_MS;
    fg_timer_init(&gw->tick, gw->loop, tick, gw);
    fg_timer_start(&gw->tick, 0);
    fg_timer_init(&gw->sched_kick, gw->loop, sched_kick, gw);
    gw->sched_kick_ready = true;
    fg_info("gw", "site %s: %zu assets, API on %s://%s:%u/", gw->cfg.site.id,
            gw->model.n_assets, gw->cfg.web.tls_cert[0] ? "https" : "http",
            gw->cfg.web.listen.host, gw->cfg.web.listen.port);
    fg_store_event_add(gw->store, fg_clock_now_ms(&gw->clock), "info", "gw", "start",
                       "gateway started", NULL);
    return 0;
}

int fg_gw_run(struct fg_gw *gw)
{
    fg_loop_run(gw->loop);
    if (gw->store)
        fg_store_event_add(gw->store, fg_clock_now_ms(&gw->clock), "info", "gw", "stop",
                           "gateway stopped", NULL);
    return gw->exit_code;
}

void fg_gw_clear(struct fg_gw *gw)
{
    if (gw->loop) {
        fg_timer_stop(&gw->tick);
        if (gw->sched_kick_ready)
            fg_timer_stop(&gw->sched_kick);
        gw->sched_kick_ready = false;
    }
    fg_scheduler_stop(gw);
    stop_adapters(gw);
    fg_loop_free(gw->loop); /* closes every connection */
    gw->loop = NULL;
    fg_http_free(gw->http);
    gw->http = NULL;
    save_health(gw, true);
    fg_health_clear(&gw->health);
    save_forecast(gw, true);
    fg_forecast_clear(&gw->forecast);
    fg_store_close(gw->store);
    gw->store = NULL;
    fg_model_clear(&gw->model);
    fg_config_clear(&gw->cfg);
}
