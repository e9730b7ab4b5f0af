#include "health.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "model_json.h"

#define FORECAST_HORIZON_Y 50.0
#define FORECAST_CACHE_MS 60000 /* the health API predicts at most once a minute */
#define LOAD_EVENTS_MAX 16      /* failed loads recorded as events, per start */
#define MAX_POWER_GAP_S 60      /* longer since the last sample: power not used */

/* ---- the index: (ev, key) -> entry -------------------------------------- */

static uint32_t key_hash(bool ev, const char *key)
{
    uint32_t h = ev ? 2166136261u : 84696351u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static int rebuild_idx(struct fg_health *h, size_t want)
{
    size_t cap = 64;
    while (cap < 2 * want)
        cap *= 2;
    uint32_t *idx = calloc(cap, sizeof(*idx));
    if (!idx)
        return FG_ENOMEM;
    for (size_t i = 0; i < h->n; i++) {
        size_t s = key_hash(h->v[i].ev, h->v[i].key) & (cap - 1);
        while (idx[s])
            s = (s + 1) & (cap - 1);
        idx[s] = (uint32_t)i + 1;
    }
    free(h->idx);
    h->idx = idx;
    h->idx_cap = cap;
    return 0;
}

static struct fg_health_entry *find(struct fg_health *h, bool ev, const char *key)
{
    if (!h->idx_cap)
        return NULL;
    for (size_t s = key_hash(ev, key) & (h->idx_cap - 1); h->idx[s];
         s = (s + 1) & (h->idx_cap - 1)) {
        struct fg_health_entry *e = &h->v[h->idx[s] - 1];
        if (e->ev == ev && !strcmp(e->key, key))
            return e;
    }
    return NULL;
}

static struct fg_health_entry *add(struct fg_health *h, bool ev, const char *key)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        void *v = realloc(h->v, cap * sizeof(*h->v));
        if (!v)
            return NULL;
        h->v = v;
        h->cap = cap;
    }
    if (2 * (h->n + 1) > h->idx_cap && rebuild_idx(h, h->n + 1))
        return NULL;
    struct fg_health_entry *e = &h->v[h->n];
    memset(e, 0, sizeof(*e));
    e->ev = ev;
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->dev_soh = NAN;
    size_t s = key_hash(ev, e->key) & (h->idx_cap - 1);
    while (h->idx[s])
        s = (s + 1) & (h->idx_cap - 1);
    h->idx[s] = (uint32_t)h->n + 1;
    h->n++;
    h->n_ev += ev;
    return e;
}

/* Swap-remove entry i; the index is rebuilt (removals are rare). */
static void remove_at(struct fg_health *h, size_t i)
{
    h->n_ev -= h->v[i].ev;
    h->v[i] = h->v[h->n - 1];
    h->n--;
    if (rebuild_idx(h, h->n)) {
        /* no index is better than a stale one: add() builds it again */
        fg_err("health", "out of memory rebuilding the index");
        free(h->idx);
        h->idx = NULL;
        h->idx_cap = 0;
    }
}

/* Make room for one more EV: the one seen least recently goes (its row is
 * deleted at the next save). */
static void evict_ev(struct fg_health *h)
{
    size_t old = h->n;
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].ev && (old == h->n || h->v[i].seen < h->v[old].seen))
            old = i;
    if (old == h->n)
        return;
    fg_dbg("health", "EV %s evicted (seen least recently)", h->v[old].key);
    if (h->n_gone < FG_HEALTH_EVS_MAX)
        memcpy(h->gone[h->n_gone++], h->v[old].key, FG_HEALTH_KEY_MAX);
    remove_at(h, old);
}

static struct fg_health_entry *add_ev(struct fg_health *h, const char *key)
{
    while (h->n_ev >= FG_HEALTH_EVS_MAX)
        evict_ev(h);
    /* a key that comes back after its eviction is not deleted after all */
    for (size_t i = h->n_gone; i-- > 0;)
        if (!strcmp(h->gone[i], key))
            memmove(h->gone[i], h->gone[--h->n_gone], FG_HEALTH_KEY_MAX);
    return add(h, true, key);
}

/* ---- lifecycle ------------------------------------------------------------ */

void fg_health_init(struct fg_health *h)
{
    memset(h, 0, sizeof(*h));
    h->last_save_mono_ms = fg_mono_ms();
}

void fg_health_clear(struct fg_health *h)
{
    free(h->v);
    free(h->idx);
    memset(h, 0, sizeof(*h));
}

/* A state under a different model, or a fresh one: the old state's SoH
 * becomes prior loss of a new state under params. */
static void restart_state(struct fg_health_entry *e, const char *why)
{
    double soh = e->started ? fg_age_soh(&e->st) : 1.0;
    e->started = false;
    if (!e->params || fg_age_init(&e->st, e->params, e->capacity_wh))
        return;
    if (soh < 1.0 && soh > 0.0 && fg_age_init_soh(&e->st, soh))
        return;
    e->started = true;
    e->dirty = true;
    e->fc_mono_ms = 0;
    fg_info("health", "%s %s: %s; ageing continues under %s from SoH %.2f %%",
            e->ev ? "EV" : "battery", e->key, why, fg_age_params_name(e->params),
            soh * 100.0);
}

/* The configured model and capacity apply to a state that has one. */
static void apply_params(struct fg_health_entry *e, const struct fg_age_params *p,
                         double capacity_wh)
{
    e->params = p;
    if (capacity_wh > 0)
        e->capacity_wh = capacity_wh;
    if (!e->started)
        return;
    if (e->st.p != p) {
        restart_state(e, "the configured ageing model changed");
        return;
    }
    if (capacity_wh > 0 && e->st.capacity_wh != capacity_wh) {
        e->st.capacity_wh = capacity_wh;
        e->dirty = true;
    }
}

int fg_health_configure(struct fg_health *h, const struct fg_config *cfg)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i].configured = h->v[i].ev;
    for (size_t i = 0; i < cfg->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &cfg->site.assets[i];
        if (a->kind != FG_ASSET_BATTERY || !a->ageing.params)
            continue;
        struct fg_health_entry *e = find(h, false, a->id);
        if (!e && !(e = add(h, false, a->id)))
            return FG_ENOMEM;
        e->configured = true;
        apply_params(e, a->ageing.params, a->capacity_wh);
    }
    for (size_t i = h->n; i-- > 0;) {
        struct fg_health_entry *e = &h->v[i];
        if (e->ev)
            apply_params(e, cfg->site.ev_ageing.params, 0);
        else if (!e->configured)
            remove_at(h, i);
    }
    return 0;
}

/* ---- loading -------------------------------------------------------------- */

struct load_ctx {
    struct fg_health *h;
    size_t n_bad;
    char bad[LOAD_EVENTS_MAX][256];
};

static void load_failed(struct load_ctx *c, const char *kind, const char *key,
                        const char *why)
{
    fg_warn("health", "stored ageing state of %s %s not loaded (%s); it starts afresh",
            kind, key, why);
    if (c->n_bad < LOAD_EVENTS_MAX)
        snprintf(c->bad[c->n_bad++], sizeof(c->bad[0]),
                 "stored ageing state of %s %.48s not loaded (%.150s); it starts afresh",
                 kind, key, why);
}

static int load_row(void *arg, const struct fg_store_ageing *r)
{
    struct load_ctx *c = arg;
    bool ev = !strcmp(r->kind, "ev");
    if (!ev && strcmp(r->kind, "battery")) {
        load_failed(c, r->kind, r->key, "unknown kind");
        return 0;
    }
    if (strlen(r->key) >= FG_HEALTH_KEY_MAX) {
        load_failed(c, r->kind, r->key, "key too long");
        return 0;
    }
    struct fg_health_entry *e = find(c->h, ev, r->key);
    if (!e && !ev) {
        fg_dbg("health", "stored ageing state of battery %s: not in the config", r->key);
        return 0;
    }
    char err[160] = "";
    cJSON *j = cJSON_Parse(r->json);
    struct fg_age_state *st = malloc(sizeof(*st));
    int rc = !st  ? FG_ENOMEM
             : !j ? FG_EPARSE
                  : fg_age_state_from_json(st, j, err, sizeof(err));
    cJSON_Delete(j);
    if (rc) {
        load_failed(c, r->kind, r->key, err[0] ? err : !j ? "not JSON" : fg_strerror(rc));
        free(st);
        return 0;
    }
    if (!e)
        e = add_ev(c->h, r->key);
    if (!e) {
        free(st);
        return FG_ENOMEM;
    }
    if (ev) {
        e->params = e->params ? e->params : st->p;
        snprintf(e->asset, sizeof(e->asset), "%s", r->asset_id ? r->asset_id : "");
        e->capacity_wh = st->capacity_wh;
    }
    e->st = *st;
    free(st);
    e->started = true;
    e->dirty = false;
    e->seen = e->st.t_last;
    if (e->st.n_cp) {
        e->dev_soh = e->st.cp[e->st.n_cp - 1].soh * 100.0;
        e->dev_cp_t = e->st.cp[e->st.n_cp - 1].t;
    }
    return 0;
}

int fg_health_load(struct fg_health *h, struct fg_store *s, const struct fg_config *cfg,
                   int64_t now_ms)
{
    struct load_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return FG_ENOMEM;
    c->h = h;
    int rc = fg_store_ageing_foreach(s, load_row, c);
    if (rc)
        fg_err("health", "reading the stored ageing states: %s", fg_store_errmsg(s));
    for (size_t i = 0; i < c->n_bad; i++)
        fg_store_event_add(s, now_ms, "warn", "health", "ageing", c->bad[i], NULL);
    free(c);
    /* a stored state under another model than the one configured now */
    int crc = fg_health_configure(h, cfg);
    return rc ? rc : crc;
}

/* ---- feeding -------------------------------------------------------------- */

static void sample(struct fg_health_entry *e, int64_t now, double soc_pct, double power_w,
                   double temp_c)
{
    if (!e->started) {
        if (!e->params || fg_age_init(&e->st, e->params, e->capacity_wh))
            return;
        e->started = true;
    }
    if (e->st.t_last && now <= e->st.t_last)
        return; /* one sample per second at most; the clock never goes back here */
    double soc = soc_pct / 100.0;
    soc = soc < 0 ? 0 : soc > 1 ? 1 : soc;
    /* After a gap (the device was offline, the gateway stopped, a fast
     * simulated clock) today's power says nothing about the time since the
     * last sample: the SoC change measures it. The library does the same
     * past FG_AGE_GAP_S; the gateway samples every second, so a minute is
     * already a gap here. */
    if (e->st.t_last && now - e->st.t_last > MAX_POWER_GAP_S)
        power_w = NAN;
    int rc = fg_age_sample(&e->st, now, soc, isfinite(power_w) ? power_w : NAN,
                           isfinite(temp_c) ? temp_c : NAN);
    if (rc) {
        fg_dbg("health", "%s: sample refused: %s", e->key, fg_strerror(rc));
        return;
    }
    e->seen = now;
    e->dirty = true;
}

/* A SoH the device reports: a checkpoint when it is a real measurement
 * (below 100 %), new, and the last one is a day old. */
static void device_soh(struct fg_health_entry *e, double soh, int64_t now)
{
    if (!isfinite(soh) || soh <= 0 || soh >= 100 || soh == e->dev_soh || !e->st.t_last)
        return;
    if (e->dev_cp_t && now - e->dev_cp_t < FG_HEALTH_SOH_CP_S)
        return;
    char why[128];
    struct fg_error err = {0};
    if (fg_health_checkpoint(e, soh, why, &err)) {
        fg_warn("health", "battery %s: SoH %.2f %% not recorded: %s", e->key, soh,
                err.msg);
        e->dev_soh = soh; /* not again and again */
        return;
    }
    e->dev_soh = soh;
    e->dev_cp_t = now;
    fg_info("health", "battery %s: reported SoH %.2f %% recorded%s%s", e->key, soh,
            why[0] ? "; " : "", why);
}

static void tick_battery(struct fg_health *h, const struct fg_asset *a, int64_t now)
{
    const struct fg_battery *b = &a->battery;
    struct fg_health_entry *e = find(h, false, a->id);
    if (!e || !a->online || !isfinite(b->soc))
        return; /* an offline device's SoC is stale: the gap is aged when it is back */
    if (!e->started && isfinite(b->soh) && b->soh > 0 && b->soh < 100) {
        /* aged before it was monitored: its SoH is prior loss */
        if (!e->params || fg_age_init(&e->st, e->params, e->capacity_wh) ||
            fg_age_init_soh(&e->st, b->soh / 100.0))
            return;
        e->started = true;
        e->dev_soh = b->soh;
        e->dev_cp_t = now;
        fg_info("health", "battery %s: monitoring starts at its reported SoH %.2f %%",
                a->id, b->soh);
    }
    sample(e, now, b->soc, a->power_w, b->temperature_c);
    device_soh(e, b->soh, now);
}

static void tick_evse(struct fg_health *h, const struct fg_asset *a,
                      const struct fg_config *cfg, int64_t now)
{
    const struct fg_evse *v = &a->evse;
    if (!a->online || !v->session_active || !isfinite(v->ev_soc))
        return;
    const char *key = v->id_token[0] ? v->id_token : v->session_id;
    if (!key[0] || !cfg->site.ev_ageing.params)
        return;
    struct fg_health_entry *e = find(h, true, key);
    if (!e && !(e = add_ev(h, key)))
        return;
    double cap =
        v->ev_capacity_wh > 0 ? v->ev_capacity_wh : cfg->site.ev_ageing.capacity_wh;
    if (!e->params)
        e->params = cfg->site.ev_ageing.params;
    if (e->capacity_wh != cap)
        apply_params(e, e->params, cap);
    if (strcmp(e->asset, a->id))
        snprintf(e->asset, sizeof(e->asset), "%s", a->id);
    sample(e, now, v->ev_soc, a->power_w, NAN);
}

void fg_health_tick(struct fg_health *h, const struct fg_model *m,
                    const struct fg_config *cfg, int64_t now)
{
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->kind == FG_ASSET_BATTERY)
            tick_battery(h, a, now);
        else if (a->kind == FG_ASSET_EVSE)
            tick_evse(h, a, cfg, now);
    }
}

/* ---- saving ------------------------------------------------------------------ */

static int put_entry(struct fg_health_entry *e, struct fg_store *s, int64_t now_ms)
{
    fg_age_flush(&e->st);
    cJSON *j = fg_age_state_to_json(&e->st);
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!txt)
        return FG_ENOMEM;
    struct fg_store_ageing r = {
        .kind = e->ev ? "ev" : "battery",
        .key = e->key,
        .asset_id = e->ev && e->asset[0] ? e->asset : NULL,
        .json = txt,
        .updated_ms = now_ms,
    };
    int rc = fg_store_ageing_put(s, &r);
    free(txt);
    return rc;
}

int fg_health_save_entry(struct fg_health_entry *e, struct fg_store *s, int64_t now_ms)
{
    if (!e->started)
        return 0;
    int rc = put_entry(e, s, now_ms);
    if (!rc)
        e->dirty = false;
    return rc;
}

int fg_health_save(struct fg_health *h, struct fg_store *s, int64_t now_ms, bool force)
{
    int64_t mono = fg_mono_ms();
    if (!force && mono - h->last_save_mono_ms < FG_HEALTH_SAVE_S * 1000)
        return 0;
    h->last_save_mono_ms = mono;
    size_t n = h->n_gone;
    for (size_t i = 0; i < h->n; i++)
        n += h->v[i].dirty && h->v[i].started;
    if (!n)
        return 0;
    int rc = fg_store_batch_begin(s);
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < h->n_gone; i++)
        rc = fg_store_ageing_delete(s, "ev", h->gone[i]);
    for (size_t i = 0; !rc && i < h->n; i++)
        if (h->v[i].dirty && h->v[i].started)
            rc = put_entry(&h->v[i], s, now_ms);
    rc = fg_store_batch_end(s, rc);
    if (rc)
        return rc;
    h->n_gone = 0;
    for (size_t i = 0; i < h->n; i++)
        h->v[i].dirty = false;
    fg_dbg("health", "%zu ageing states saved", n);
    return 0;
}

/* ---- the API's view ------------------------------------------------------------ */

struct fg_health_entry *fg_health_find(struct fg_health *h, const struct fg_asset *a,
                                       struct fg_error *err)
{
    struct fg_health_entry *e = NULL;
    if (a->kind == FG_ASSET_BATTERY) {
        e = find(h, false, a->id);
        if (!e) {
            fg_error_set(err, FG_EUNSUPPORTED, "",
                         "battery \"%s\" has no ageing model: chemistry \"%s\" has no "
                         "default one; set site.assets[].ageing.model",
                         a->id, a->battery.chemistry);
            return NULL;
        }
        if (!e->started || !e->st.t_last) {
            fg_error_set(err, FG_ESTATE, "",
                         "no measurement of battery \"%s\" yet (its SoC is unknown)",
                         a->id);
            return NULL;
        }
        return e;
    }
    if (a->kind != FG_ASSET_EVSE) {
        fg_error_set(err, FG_EUNSUPPORTED, "",
                     "asset \"%s\" is a %s, not a battery or an EVSE", a->id,
                     fg_asset_kind_name(a->kind));
        return NULL;
    }
    const struct fg_evse *v = &a->evse;
    const char *key = v->id_token[0] ? v->id_token : v->session_id;
    if (v->session_active && key[0])
        e = find(h, true, key);
    /* no EV plugged in (or not fed yet): the one seen last on this EVSE */
    if (!(e && e->started && e->st.t_last)) {
        e = NULL;
        for (size_t i = 0; i < h->n; i++) {
            struct fg_health_entry *x = &h->v[i];
            if (x->ev && x->started && x->st.t_last && !strcmp(x->asset, a->id) &&
                (!e || x->seen > e->seen))
                e = x;
        }
    }
    if (!e || !e->started || !e->st.t_last) {
        fg_error_set(err, FG_ESTATE, "",
                     "no EV with a known SoC has been seen on EVSE \"%s\"", a->id);
        return NULL;
    }
    return e;
}

const struct fg_cfg_ageing *fg_health_cfg(const struct fg_config *cfg,
                                          const struct fg_health_entry *e)
{
    if (e->ev)
        return &cfg->site.ev_ageing;
    for (size_t i = 0; i < cfg->site.n_assets; i++)
        if (!strcmp(cfg->site.assets[i].id, e->key))
            return &cfg->site.assets[i].ageing;
    return &cfg->site.ev_ageing; /* not reached for a configured battery */
}

int fg_health_checkpoint(struct fg_health_entry *e, double soh_pct, char *fit_msg,
                         struct fg_error *err)
{
    if (fit_msg)
        fit_msg[0] = '\0';
    if (!isfinite(soh_pct) || soh_pct <= 0 || soh_pct > 100)
        return fg_error_set(err, FG_ERANGE, "/soh_pct", "%g not in (0, 100] %%", soh_pct);
    if (!e->started || !e->st.t_last)
        return fg_error_set(err, FG_ESTATE, "/soh_pct",
                            "no measurement of %s yet: nothing to compare the SoH with",
                            e->key);
    int rc = fg_age_checkpoint(&e->st, soh_pct / 100.0);
    if (rc)
        return fg_error_set(
            err, rc, "/soh_pct", "checkpoint refused: %s%s", fg_strerror(rc),
            e->st.n_cp >= FG_AGE_CHECKPOINTS_MAX ? " (too many checkpoints)" : "");
    e->dirty = true;
    e->fc_mono_ms = 0;
    rc = fg_age_fit(&e->st);
    if (rc && fit_msg)
        snprintf(fit_msg, 128,
                 "not fitted (%s): the checkpoints show no loss beyond the "
                 "prior loss yet",
                 fg_strerror(rc));
    return 0;
}

static bool add_num(cJSON *o, const char *k, double v)
{
    return isfinite(v) ? cJSON_AddNumberToObject(o, k, v) != NULL
                       : cJSON_AddNullToObject(o, k) != NULL;
}

static bool add_time(cJSON *o, const char *k, int64_t t)
{
    char buf[32];
    fg_time_format_rfc3339(t, buf, sizeof(buf));
    return cJSON_AddStringToObject(o, k, buf) != NULL;
}

static cJSON *factors_json(const struct fg_age_state *st, double loss)
{
    double f[FG_AGE_FACTORS];
    fg_age_factors(st, f);
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < FG_AGE_FACTORS; i++) {
        cJSON *x = cJSON_AddObjectToObject(o, fg_age_factor_name((enum fg_age_factor)i));
        if (!x || !add_num(x, "loss_pct", f[i] * 100.0) ||
            !add_num(x, "share_pct", loss > 0 ? 100.0 * f[i] / loss : 0)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static cJSON *forecast_json(struct fg_health_entry *e, double eol_soh, int64_t now)
{
    int64_t mono = fg_mono_ms();
    if (!e->fc_mono_ms || mono - e->fc_mono_ms > FORECAST_CACHE_MS) {
        int64_t t = now > e->st.t_last ? now : e->st.t_last;
        e->fc_rc = fg_age_predict(&e->st, t, eol_soh / 100.0, FORECAST_HORIZON_Y, &e->fc);
        e->fc_mono_ms = mono;
    }
    const struct fg_age_forecast *f = &e->fc;
    cJSON *o = cJSON_CreateObject();
    bool ok = o && add_num(o, "eol_soh_pct", eol_soh) &&
              add_num(o, "horizon_years", FORECAST_HORIZON_Y);
    if (ok && e->fc_rc) {
        ok = cJSON_AddStringToObject(o, "error", fg_strerror(e->fc_rc)) != NULL;
    } else if (ok) {
        ok = (f->reached ? add_time(o, "eol_date", f->eol_t)
                         : cJSON_AddNullToObject(o, "eol_date") != NULL) &&
             add_num(o, "days_left", f->reached ? f->days_left : NAN) &&
             add_num(o, "efc_at_eol", f->reached ? f->eol_efc : NAN) &&
             add_num(o, "efc_per_day", f->efc_per_day) &&
             add_num(o, "cal_temp_c", f->cal_temp_c) &&
             add_num(o, "cal_soc_pct", f->cal_soc * 100.0);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *fit_json(const struct fg_age_state *st)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && add_num(o, "s_cal", st->s_cal) && add_num(o, "s_cyc", st->s_cyc) &&
              add_num(o, "checkpoints", (double)st->n_cp) &&
              add_num(o, "fit_rms_pct", st->fit_rms * 100.0);
    cJSON *pts = ok ? cJSON_AddArrayToObject(o, "points") : NULL;
    for (size_t i = 0; pts && i < st->n_cp; i++) {
        cJSON *p = cJSON_CreateObject();
        if (!p || !cJSON_AddItemToArray(pts, p) || !add_time(p, "time", st->cp[i].t) ||
            !add_num(p, "soh_pct", st->cp[i].soh * 100.0))
            pts = NULL;
    }
    if (!pts) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *model_json(const struct fg_age_params *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *params = fg_age_params_json(p);
    if (!o || !params || !cJSON_AddStringToObject(o, "name", fg_age_params_name(p)) ||
        !cJSON_AddStringToObject(o, "chemistry", fg_age_params_chemistry(p)) ||
        !cJSON_AddStringToObject(o, "cell", fg_age_params_cell(p)) ||
        !cJSON_AddStringToObject(o, "source", fg_age_params_source(p)) ||
        !cJSON_AddItemToObject(o, "params", params)) {
        cJSON_Delete(params);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *fg_health_json(struct fg_health_entry *e, const struct fg_cfg_ageing *ageing,
                      int64_t now)
{
    const struct fg_age_state *st = &e->st;
    double loss = fg_age_loss(st);
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, e->ev ? "ev" : "battery", e->key) &&
              (!e->ev || cJSON_AddStringToObject(o, "evse", e->asset)) &&
              add_num(o, "soh_pct", (1.0 - loss) * 100.0) &&
              add_num(o, "loss_pct", loss * 100.0) && add_num(o, "efc", st->efc) &&
              add_num(o, "cycles", st->cycles) &&
              add_num(o, "age_days", (st->age_s + st->win_s) / 86400.0) &&
              add_num(o, "throughput_kwh", st->throughput_wh / 1000.0) &&
              add_num(o, "capacity_wh", st->capacity_wh) &&
              add_num(o, "replacement_cost", ageing->replacement_cost) &&
              add_time(o, "monitored_since", st->t0) &&
              add_time(o, "updated", st->t_last);
    cJSON *parts[] = {factors_json(st, loss), forecast_json(e, ageing->eol_soh, now),
                      fit_json(st), model_json(st->p)};
    static const char *const names[] = {"factors", "forecast", "fit", "model"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (ok && parts[i] && cJSON_AddItemToObject(o, names[i], parts[i]))
            continue;
        ok = false;
        cJSON_Delete(parts[i]);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
