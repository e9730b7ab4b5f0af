#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- name tables ---- */

static const char *const asset_kind_names[] = {"evse", "battery", "pv", "load"};
static const char *const load_type_names[] = {"inflexible", "disconnectable",
                                              "shiftable"};
static const char *const connector_state_names[] = {
    "available", "occupied", "charging", "suspended", "faulted", "unavailable"};
static const char *const sp_source_names[] = {"scheduler", "api",  "mqtt",
                                              "openadr",   "uftp", "fallback"};
static const char *const sp_state_names[] = {"applied",  "pending",  "sent",
                                             "accepted", "verified", "rejected",
                                             "mismatch", "failed"};
static const char *const signal_source_names[] = {"openadr", "uftp", "mqtt", "api",
                                                  "config"};
static const char *const signal_type_names[] = {"price",    "grid_limit", "dispatch",
                                                "reactive", "island",     "charge_state"};
static const char *const signal_status_names[] = {"pending", "active", "completed",
                                                  "cancelled"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *tab, size_t n, unsigned v)
{
    return v < n ? tab[v] : "unknown";
}

static int parse_in(const char *const *tab, size_t n, const char *s, unsigned *out)
{
    for (size_t i = 0; s && i < n; i++) {
        if (strcmp(tab[i], s) == 0) {
            *out = (unsigned)i;
            return 0;
        }
    }
    return FG_EINVAL;
}

/* Defines fg_<fname>_name() and fg_<fname>_parse() over one name table. */
#define FG_NAME_FUNCS(fname, type, tab)                                                  \
    const char *fg_##fname##_name(type v)                                                \
    {                                                                                    \
        return name_of(tab, NELEM(tab), (unsigned)v);                                    \
    }                                                                                    \
    int fg_##fname##_parse(const char *s, type *out)                                     \
    {                                                                                    \
        unsigned v;                                                                      \
        int rc = parse_in(tab, NELEM(tab), s, &v);                                       \
        if (rc == 0)                                                                     \
            *out = (type)v;                                                              \
        return rc;                                                                       \
    }

FG_NAME_FUNCS(asset_kind, enum fg_asset_kind, asset_kind_names)
FG_NAME_FUNCS(load_type, enum fg_load_type, load_type_names)
FG_NAME_FUNCS(connector_state, enum fg_connector_state, connector_state_names)
FG_NAME_FUNCS(sp_source, enum fg_sp_source, sp_source_names)
FG_NAME_FUNCS(sp_state, enum fg_sp_state, sp_state_names)
FG_NAME_FUNCS(signal_source, enum fg_signal_source, signal_source_names)
FG_NAME_FUNCS(signal_type, enum fg_signal_type, signal_type_names)
FG_NAME_FUNCS(signal_status, enum fg_signal_status, signal_status_names)

/* ---- small helpers ---- */

/* Kind data may hold NAN or negative values from a half-configured device;
 * such a capability counts as none. */
static double cap(double x)
{
    return isfinite(x) && x > 0 ? x : 0;
}

static double known(double x)
{
    return isfinite(x) ? x : 0;
}

static struct fg_envelope env_of(double lo, double hi)
{
    if (!(lo <= hi))
        hi = lo;
    return (struct fg_envelope){lo, hi};
}

/* Bounds on stored interval times keep start + duration far from overflow. */
#define MAX_TIME 4102444800LL /* 2100-01-01 */
#define MAX_DURATION (10LL * 366 * 86400)

static int64_t signal_end(const struct fg_signal *s)
{
    const struct fg_signal_interval *last = &s->intervals[s->n_intervals - 1];
    return last->start + last->duration_s;
}

/* ---- model ---- */

void fg_model_init(struct fg_model *m)
{
    memset(m, 0, sizeof(*m));
    m->site.isp_s = 900;
    m->site.meter_power_w = NAN;
    for (int i = 0; i < 3; i++)
        m->site.meter_v[i] = m->site.meter_a[i] = NAN;
}

void fg_model_clear(struct fg_model *m)
{
    free(m->idx);
    free(m->assets);
    free(m->signals);
    fg_plan_clear(&m->plan);
    fg_model_init(m);
}

/* Assets are found by id on every OCPP message: a hash index keeps that O(1)
 * with 20,000 assets. FNV-1a. */
static uint32_t id_hash(const char *id)
{
    uint32_t h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h;
}

static size_t asset_index(const struct fg_model *m, const char *id)
{
    if (m->idx && m->idx_n == m->n_assets) {
        size_t mask = m->idx_cap - 1;
        uint32_t h = id_hash(id);
        for (size_t k = h & mask;; k = (k + 1) & mask) {
            uint64_t e = m->idx[k];
            if (!e)
                return SIZE_MAX;
            size_t i = (uint32_t)e - 1;
            /* the stored hash spares strcmp on ids that only share a slot */
            if ((uint32_t)(e >> 32) == h && strcmp(m->assets[i].id, id) == 0)
                return i;
        }
    }
    for (size_t i = 0; i < m->n_assets; i++)
        if (strcmp(m->assets[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

static void index_put(struct fg_model *m, size_t i)
{
    size_t mask = m->idx_cap - 1;
    uint32_t h = id_hash(m->assets[i].id);
    size_t k = h & mask;
    while (m->idx[k])
        k = (k + 1) & mask;
    m->idx[k] = (uint64_t)h << 32 | (uint32_t)(i + 1);
}

/* Rebuild the index for n_assets, at most half full. Without memory the
 * index is dropped and lookups scan. */
static void index_rebuild(struct fg_model *m)
{
    size_t cap = 64;
    while (cap < m->n_assets * 2)
        cap *= 2;
    if (cap != m->idx_cap) {
        free(m->idx);
        m->idx = malloc(cap * sizeof(*m->idx));
        m->idx_cap = m->idx ? cap : 0;
    }
    m->idx_n = 0;
    if (!m->idx)
        return;
    memset(m->idx, 0, cap * sizeof(*m->idx));
    for (size_t i = 0; i < m->n_assets; i++)
        index_put(m, i);
    m->idx_n = m->n_assets;
}

/* Grows by realloc: pointers returned by fg_model_find_asset() stay valid only
 * until the next fg_model_add_asset() or fg_model_remove_asset(). */
static int grow(void **v, size_t *cap_n, size_t n, size_t elem)
{
    if (n < *cap_n)
        return 0;
    size_t c = *cap_n ? *cap_n * 2 : 8;
    void *p = realloc(*v, c * elem);
    if (!p)
        return FG_ENOMEM;
    *v = p;
    *cap_n = c;
    return 0;
}

int fg_model_add_asset(struct fg_model *m, const struct fg_asset *a, struct fg_error *err)
{
    size_t len = strnlen(a->id, FG_ID_MAX);
    if (len == 0 || len == FG_ID_MAX)
        return fg_error_set(err, FG_EINVAL, "/id", "asset id must be 1..%d characters",
                            FG_ID_MAX - 1);
    if (asset_index(m, a->id) != SIZE_MAX)
        return fg_error_set(err, FG_EEXISTS, "/id", "asset \"%s\" already exists", a->id);
    if (m->n_assets >= FG_MODEL_MAX_ASSETS)
        return fg_error_set(err, FG_EFULL, "/id", "more than %d assets",
                            FG_MODEL_MAX_ASSETS);
    if (grow((void **)&m->assets, &m->cap_assets, m->n_assets, sizeof(*m->assets)))
        return fg_error_set(err, FG_ENOMEM, "/id", "out of memory");
    m->assets[m->n_assets++] = *a;
    if (m->idx && m->idx_n == m->n_assets - 1 && m->n_assets * 2 <= m->idx_cap) {
        index_put(m, m->n_assets - 1);
        m->idx_n = m->n_assets;
    } else {
        index_rebuild(m);
    }
    m->version++;
    return 0;
}

struct fg_asset *fg_model_find_asset(struct fg_model *m, const char *id)
{
    size_t i = asset_index(m, id);
    return i == SIZE_MAX ? NULL : &m->assets[i];
}

const struct fg_asset *fg_model_find_asset_c(const struct fg_model *m, const char *id)
{
    size_t i = asset_index(m, id);
    return i == SIZE_MAX ? NULL : &m->assets[i];
}

int fg_model_remove_asset(struct fg_model *m, const char *id)
{
    size_t i = asset_index(m, id);
    if (i == SIZE_MAX)
        return FG_ENOTFOUND;
    memmove(&m->assets[i], &m->assets[i + 1], (m->n_assets - i - 1) * sizeof(*m->assets));
    m->n_assets--;
    index_rebuild(m);
    m->version++;
    return 0;
}

/* ---- envelopes ---- */

static double evse_max_w(const struct fg_evse *e)
{
    double w = cap(e->rated_w);
    double by_current =
        cap(e->max_current_a) * cap(e->voltage) * (e->phases > 0 ? e->phases : 0);
    if (by_current > 0 && by_current < w)
        w = by_current;
    if (e->session_active && e->ev_max_w > 0 && e->ev_max_w < w)
        w = e->ev_max_w;
    return w;
}

/* Power at the EV's minimum current; 0 when unknown. */
static double evse_min_power_w(const struct fg_evse *e)
{
    int phases = e->phases > 0 ? e->phases : 1;
    double w = cap(e->min_current_a) * cap(e->voltage) * phases;
    return e->session_active && e->ev_min_w > w ? e->ev_min_w : w;
}

/* The minimum current is not a lower bound of the envelope: the charger can
 * always pause (0 W). The scheduler enforces it by rounding set-points in
 * (0, min power), see round_min_current(). */
static struct fg_envelope evse_envelope(const struct fg_evse *e, int64_t t)
{
    bool plugged = e->state == FG_CONN_OCCUPIED || e->state == FG_CONN_CHARGING ||
                   e->state == FG_CONN_SUSPENDED;
    if (!e->session_active || !plugged || (e->departure > 0 && t >= e->departure))
        return env_of(0, 0);
    /* Discharge needs both ends: a bidirectional EVSE and an EV that offered
     * it over a protocol that can ask for it (OCPP 2.1 V2X). */
    double lo = 0;
    if (e->bidirectional && e->ev_bidirectional) {
        lo = -cap(e->max_discharge_w);
        if (e->ev_max_discharge_w > 0 && -e->ev_max_discharge_w > lo)
            lo = -e->ev_max_discharge_w;
    }
    return env_of(lo, evse_max_w(e));
}

static struct fg_envelope battery_envelope(const struct fg_battery *b)
{
    double lo = -cap(b->max_discharge_w), hi = cap(b->max_charge_w);
    if (b->soc <= b->soc_min)
        lo = 0;
    if (b->soc >= b->soc_max)
        hi = 0;
    return env_of(lo, hi);
}

static double pv_available_at(const struct fg_pv *p, int64_t now, int64_t t)
{
    double avail = cap(p->available_w);
    int step = p->forecast_step_s > 0 ? p->forecast_step_s : 900;
    if (t > now && p->n_forecast > 0 && t >= p->forecast_start) {
        int64_t i = (t - p->forecast_start) / step;
        if (i < (int64_t)p->n_forecast && i < FG_FORECAST_MAX)
            avail = cap(p->forecast_w[i]);
    }
    if (p->rated_w > 0 && avail > p->rated_w)
        avail = p->rated_w;
    return avail;
}

static struct fg_envelope pv_envelope(const struct fg_pv *p, int64_t now, int64_t t)
{
    double avail = pv_available_at(p, now, t);
    return env_of(-avail, p->curtailable ? 0 : -avail);
}

static struct fg_envelope load_envelope(const struct fg_asset *a)
{
    if (a->load.type == FG_LOAD_INFLEXIBLE)
        return env_of(known(a->power_w), known(a->power_w));
    return env_of(0, cap(a->load.rated_w));
}

struct fg_envelope fg_asset_envelope_at(const struct fg_asset *a, int64_t now, int64_t t)
{
    if (!a->online)
        return a->kind == FG_ASSET_LOAD ? env_of(known(a->power_w), known(a->power_w))
                                        : env_of(0, 0);
    switch (a->kind) {
    case FG_ASSET_EVSE:
        return evse_envelope(&a->evse, t);
    case FG_ASSET_BATTERY:
        return battery_envelope(&a->battery);
    case FG_ASSET_PV:
        return pv_envelope(&a->pv, now, t);
    case FG_ASSET_LOAD:
        return load_envelope(a);
    }
    return env_of(0, 0);
}

int fg_model_refresh(struct fg_model *m, int64_t now, int64_t offline_after_s)
{
    int changed = 0;
    bool any = false;
    for (size_t i = 0; i < m->n_assets; i++) {
        struct fg_asset *a = &m->assets[i];
        if (a->online && offline_after_s > 0 && now - a->last_seen >= offline_after_s) {
            a->online = false;
            changed++;
        }
        struct fg_envelope e = fg_asset_envelope_at(a, now, now);
        if (e.min_w != a->env.min_w || e.max_w != a->env.max_w)
            any = true;
        a->env = e;
    }
    if (changed || any)
        m->version++;
    return changed;
}

double fg_model_site_power(const struct fg_model *m)
{
    if (isfinite(m->site.meter_power_w))
        return m->site.meter_power_w;
    double sum = 0;
    for (size_t i = 0; i < m->n_assets; i++)
        sum += known(m->assets[i].power_w);
    return sum;
}

/* ---- tariff ---- */

static const struct fg_tariff_period *tariff_at(const struct fg_site *s, int64_t t)
{
    if (s->n_tariff == 0)
        return NULL;
    size_t n = s->n_tariff < FG_TARIFF_MAX_PERIODS ? s->n_tariff : FG_TARIFF_MAX_PERIODS;
    int64_t local = t + (int64_t)s->utc_offset_min * 60;
    int minute = (int)(((local % 86400) + 86400) % 86400 / 60);
    /* The period with the latest start at or before `minute`; before the first
     * start the last period of the previous day still runs (wrap). */
    const struct fg_tariff_period *best = NULL, *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct fg_tariff_period *p = &s->tariff[i];
        if (p->start_min <= minute && (!best || p->start_min >= best->start_min))
            best = p;
        if (!last || p->start_min >= last->start_min)
            last = p;
    }
    return best ? best : last;
}

double fg_site_tariff_import(const struct fg_site *s, int64_t t)
{
    const struct fg_tariff_period *p = tariff_at(s, t);
    return p ? p->import_price : NAN;
}

double fg_site_tariff_export(const struct fg_site *s, int64_t t)
{
    const struct fg_tariff_period *p = tariff_at(s, t);
    return p ? p->export_price : NAN;
}

/* ---- limits ---- */

const struct fg_signal_interval *fg_signal_interval_at(const struct fg_signal *s,
                                                       int64_t t)
{
    size_t n = s->n_intervals < FG_SIGNAL_MAX_INTERVALS ? s->n_intervals
                                                        : FG_SIGNAL_MAX_INTERVALS;
    for (size_t i = 0; i < n; i++) {
        const struct fg_signal_interval *iv = &s->intervals[i];
        /* Unsigned difference: no overflow whatever the stored values. */
        if (t >= iv->start && iv->duration_s > 0 &&
            (uint64_t)t - (uint64_t)iv->start < (uint64_t)iv->duration_s)
            return iv;
    }
    return NULL;
}

static bool outranks(const struct fg_signal *a, const struct fg_signal *b)
{
    if (!b)
        return true;
    if (a->priority != b->priority)
        return a->priority > b->priority;
    return a->updated > b->updated;
}

static void apply_grid_limit(struct fg_limits *l, const struct fg_signal *s,
                             const struct fg_signal_interval *iv)
{
    if (isfinite(iv->value) && iv->value >= 0 && iv->value < l->import_max_w) {
        l->import_max_w = iv->value;
        l->import_by = s;
    }
    if (isfinite(iv->export_value) && iv->export_value >= 0 &&
        iv->export_value < l->export_max_w) {
        l->export_max_w = iv->export_value;
        l->export_by = s;
    }
}

/* A signal counts at t when it is not cancelled and one of its intervals
 * covers t; the stored status is not used so that limits for a future t
 * (planning) see pending signals too. */
void fg_model_limits_at(const struct fg_model *m, int64_t t, struct fg_limits *out)
{
    memset(out, 0, sizeof(*out));
    out->import_max_w = cap(m->site.import_limit_w);
    out->export_max_w = cap(m->site.export_limit_w);
    const struct fg_signal_interval *price_iv = NULL, *disp_iv = NULL, *soc_iv = NULL;
    for (size_t i = 0; i < m->n_signals; i++) {
        const struct fg_signal *s = &m->signals[i];
        if (s->status == FG_SIGST_CANCELLED || s->target[0])
            continue;
        const struct fg_signal_interval *iv = fg_signal_interval_at(s, t);
        if (!iv)
            continue;
        if (s->type == FG_SIG_GRID_LIMIT) {
            apply_grid_limit(out, s, iv);
        } else if (s->type == FG_SIG_PRICE && isfinite(iv->value) &&
                   outranks(s, out->price_by)) {
            out->price_by = s;
            price_iv = iv;
        } else if (s->type == FG_SIG_DISPATCH && isfinite(iv->value) &&
                   outranks(s, out->dispatch_by)) {
            out->dispatch_by = s;
            disp_iv = iv;
        } else if (s->type == FG_SIG_ISLAND && iv->value >= 0.5) {
            out->island = true;
        } else if (s->type == FG_SIG_CHARGE_STATE && outranks(s, out->soc_target_by)) {
            out->soc_target_by = s;
            soc_iv = iv;
        }
    }
    out->soc_target_pct = soc_iv ? soc_iv->value : NAN;
    out->soc_target_until = soc_iv ? soc_iv->start + soc_iv->duration_s : 0;
    out->price_import = price_iv ? price_iv->value : fg_site_tariff_import(&m->site, t);
    /* A price signal without an export price leaves the tariff's in force. */
    out->price_export = price_iv && isfinite(price_iv->export_value)
                            ? price_iv->export_value
                            : fg_site_tariff_export(&m->site, t);
    if (disp_iv) {
        out->has_dispatch = true;
        out->dispatch_w =
            fmin(fmax(disp_iv->value, -out->export_max_w), out->import_max_w);
    }
}

/* ---- set-points ---- */

double fg_asset_counted_w(const struct fg_asset *a, int64_t now)
{
    if (a->sp.active && a->sp.expires_at > now)
        return a->sp.w;
    return known(a->power_w);
}

static double other_power(const struct fg_model *m, const struct fg_asset *self,
                          int64_t now)
{
    double sum = 0;
    for (size_t i = 0; i < m->n_assets; i++)
        if (&m->assets[i] != self)
            sum += fg_asset_counted_w(&m->assets[i], now);
    return sum;
}

struct range {
    double lo, hi;
};

/* Clamp into the site range; when it does not meet the envelope the envelope
 * bound nearest the violated limit is kept (the device cannot do better). */
static double clamp_site(double v, struct fg_envelope e, struct range site,
                         unsigned *flags)
{
    if (v > site.hi) {
        *flags |= FG_CLAMP_IMPORT;
        v = site.hi;
        if (v < e.min_w) {
            v = e.min_w;
            *flags |= FG_CLAMP_ENVELOPE;
        }
    } else if (v < site.lo) {
        *flags |= FG_CLAMP_EXPORT;
        v = site.lo;
        if (v > e.max_w) {
            v = e.max_w;
            *flags |= FG_CLAMP_ENVELOPE;
        }
    }
    return v;
}

static bool fits(double v, struct fg_envelope e, struct range site)
{
    return v >= e.min_w && v <= e.max_w && v >= site.lo && v <= site.hi;
}

/* An EV stops below its minimum current, so a set-point in (0, min power)
 * (or (-min power, 0) when discharging) is rounded: below half of it to 0,
 * else to the minimum. If the preferred value breaks a bound the other one is
 * tried; if both do, the value stays as clamped. */
static double round_min_current(double v, const struct fg_asset *a, struct fg_envelope e,
                                struct range site)
{
    double pmin = evse_min_power_w(&a->evse);
    double mag = fabs(v);
    if (pmin <= 0 || mag == 0 || mag >= pmin)
        return v;
    double sign = v < 0 ? -1 : 1;
    double first = mag < pmin / 2 ? 0 : sign * pmin;
    double second = first == 0 ? sign * pmin : 0;
    if (fits(first, e, site))
        return first;
    if (fits(second, e, site))
        return second;
    return v;
}

static double clamp_setpoint(const struct fg_model *m, const struct fg_asset *a, double w,
                             int64_t now, double other, unsigned *flags)
{
    struct fg_envelope e = fg_asset_envelope_at(a, now, now);
    double v = fmin(fmax(w, e.min_w), e.max_w);
    if (v != w)
        *flags |= FG_CLAMP_ENVELOPE;
    struct fg_limits lim;
    fg_model_limits_at(m, now, &lim);
    if (!isfinite(other))
        other = other_power(m, a, now);
    struct range site = {-lim.export_max_w - other, lim.import_max_w - other};
    v = clamp_site(v, e, site, flags);
    if (a->kind == FG_ASSET_EVSE)
        v = round_min_current(v, a, e, site);
    return v;
}

int fg_model_apply_setpoint(struct fg_model *m, const char *asset_id, double w,
                            enum fg_sp_source src, int64_t expires_at, int64_t now,
                            struct fg_setpoint *applied, struct fg_error *err)
{
    return fg_model_apply_setpoint_other(m, asset_id, w, src, expires_at, now, NAN,
                                         applied, err);
}

int fg_model_apply_setpoint_other(struct fg_model *m, const char *asset_id, double w,
                                  enum fg_sp_source src, int64_t expires_at, int64_t now,
                                  double other_w, struct fg_setpoint *applied,
                                  struct fg_error *err)
{
    struct fg_asset *a = fg_model_find_asset(m, asset_id);
    if (!a)
        return fg_error_set(err, FG_ENOTFOUND, "/asset", "no asset \"%s\"", asset_id);
    if (!isfinite(w))
        return fg_error_set(err, FG_EINVAL, "/w", "set-point must be a finite number");
    if (expires_at <= now)
        return fg_error_set(err, FG_EINVAL, "/expires_at",
                            "expiry must be in the future");
    if ((unsigned)src >= NELEM(sp_source_names))
        return fg_error_set(err, FG_EINVAL, "/source", "unknown set-point source");
    if (!a->online)
        return fg_error_set(err, FG_ESTATE, "/asset", "asset \"%s\" is offline",
                            asset_id);
    unsigned flags = 0;
    double v = clamp_setpoint(m, a, w, now, other_w, &flags);
    a->env = fg_asset_envelope_at(a, now, now);
    a->sp = (struct fg_setpoint){.active = true,
                                 .w = v,
                                 .requested_w = w,
                                 .source = src,
                                 .set_at = now,
                                 .expires_at = expires_at,
                                 .clamp = flags};
    m->version++;
    if (applied)
        *applied = a->sp;
    return 0;
}

/* ---- signals ---- */

static enum fg_signal_status derived_status(const struct fg_signal *s, int64_t now)
{
    if (s->status == FG_SIGST_CANCELLED)
        return FG_SIGST_CANCELLED;
    if (now >= signal_end(s))
        return FG_SIGST_COMPLETED;
    if (now >= s->intervals[0].start)
        return FG_SIGST_ACTIVE;
    return FG_SIGST_PENDING;
}

static bool gc_due(const struct fg_signal *s, int64_t now, int64_t keep_s)
{
    int64_t ref;
    if (s->status == FG_SIGST_COMPLETED)
        ref = signal_end(s);
    else if (s->status == FG_SIGST_CANCELLED)
        ref = s->updated;
    else
        return false;
    return now - ref >= keep_s;
}

int fg_model_expire(struct fg_model *m, int64_t now, int64_t keep_s)
{
    int expired = 0;
    bool changed = false;
    for (size_t i = 0; i < m->n_assets; i++) {
        struct fg_setpoint *sp = &m->assets[i].sp;
        if (sp->active && sp->expires_at <= now) {
            sp->active = false;
            expired++;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < m->n_signals; i++) {
        struct fg_signal *s = &m->signals[i];
        enum fg_signal_status st = derived_status(s, now);
        if (st != s->status) {
            s->status = st;
            changed = true;
        }
        if (gc_due(s, now, keep_s)) {
            changed = true;
            continue;
        }
        if (k != i)
            m->signals[k] = *s;
        k++;
    }
    m->n_signals = k;
    if (expired || changed)
        m->version++;
    return expired;
}

static int check_id(const char *id, size_t max, const char *path, bool empty_ok,
                    struct fg_error *err)
{
    size_t len = strnlen(id, max);
    if ((len == 0 && !empty_ok) || len == max)
        return fg_error_set(err, FG_EINVAL, path, "must be %s..%zu characters",
                            empty_ok ? "0" : "1", max - 1);
    return 0;
}

static int check_interval(const struct fg_signal *s, size_t i, struct fg_error *err)
{
    const struct fg_signal_interval *iv = &s->intervals[i];
    char path[64];
    snprintf(path, sizeof(path), "/intervals/%zu/start", i);
    if (iv->start < 0 || iv->start > MAX_TIME)
        return fg_error_set(err, FG_ERANGE, path, "start %lld not in [0, %lld]",
                            (long long)iv->start, MAX_TIME);
    /* The previous interval passed these checks, so its end cannot overflow. */
    if (i > 0 && iv->start < iv[-1].start + iv[-1].duration_s)
        return fg_error_set(err, FG_EINVAL, path,
                            "interval overlaps or precedes the previous one");
    snprintf(path, sizeof(path), "/intervals/%zu/duration_s", i);
    if (iv->duration_s <= 0 || iv->duration_s > MAX_DURATION)
        return fg_error_set(err, FG_ERANGE, path, "duration %lld not in [1, %lld]",
                            (long long)iv->duration_s, MAX_DURATION);
    snprintf(path, sizeof(path), "/intervals/%zu/value", i);
    /* A grid limit may leave one direction open: NAN value = no import limit. */
    bool nan_ok = s->type == FG_SIG_GRID_LIMIT && isnan(iv->value);
    if (!isfinite(iv->value) && !nan_ok)
        return fg_error_set(err, FG_ERANGE, path, "value must be a finite number");
    if (s->type == FG_SIG_GRID_LIMIT && iv->value < 0)
        return fg_error_set(err, FG_ERANGE, path, "grid limit must be >= 0");
    if (s->type == FG_SIG_CHARGE_STATE && (iv->value < 0 || iv->value > 100))
        return fg_error_set(err, FG_ERANGE, path, "state of charge %g %% not in [0, 100]",
                            iv->value);
    snprintf(path, sizeof(path), "/intervals/%zu/export_value", i);
    if (isinf(iv->export_value) || (s->type == FG_SIG_GRID_LIMIT && iv->export_value < 0))
        return fg_error_set(err, FG_ERANGE, path, "export value must be finite%s",
                            s->type == FG_SIG_GRID_LIMIT ? " and >= 0" : "");
    return 0;
}

static int check_signal(const struct fg_signal *s, struct fg_error *err)
{
    int rc = check_id(s->id, FG_SIGNAL_ID_MAX, "/id", false, err);
    if (!rc)
        rc = check_id(s->target, FG_ID_MAX, "/target", true, err);
    if (rc)
        return rc;
    if ((unsigned)s->source >= NELEM(signal_source_names))
        return fg_error_set(err, FG_EINVAL, "/source", "unknown signal source");
    if ((unsigned)s->type >= NELEM(signal_type_names))
        return fg_error_set(err, FG_EINVAL, "/type", "unknown signal type");
    if ((unsigned)s->status >= NELEM(signal_status_names))
        return fg_error_set(err, FG_EINVAL, "/status", "unknown signal status");
    if (s->n_intervals < 1 || s->n_intervals > FG_SIGNAL_MAX_INTERVALS)
        return fg_error_set(err, FG_ERANGE, "/intervals", "%zu intervals not in [1, %d]",
                            s->n_intervals, FG_SIGNAL_MAX_INTERVALS);
    for (size_t i = 0; i < s->n_intervals; i++) {
        rc = check_interval(s, i, err);
        if (rc)
            return rc;
    }
    return 0;
}

struct fg_signal *fg_model_signal_find(struct fg_model *m, enum fg_signal_source src,
                                       const char *id)
{
    for (size_t i = 0; i < m->n_signals; i++)
        if (m->signals[i].source == src && strcmp(m->signals[i].id, id) == 0)
            return &m->signals[i];
    return NULL;
}

/* Pointers to signals (also those in struct fg_limits) stay valid only until
 * the next fg_model_signal_put() or fg_model_expire(). */
int fg_model_signal_put(struct fg_model *m, const struct fg_signal *s, int64_t now,
                        struct fg_error *err)
{
    int rc = check_signal(s, err);
    if (rc)
        return rc;
    struct fg_signal *dst = fg_model_signal_find(m, s->source, s->id);
    int64_t created = s->created ? s->created : now;
    if (dst) {
        created = dst->created;
    } else {
        if (m->n_signals >= FG_MODEL_MAX_SIGNALS)
            return fg_error_set(err, FG_EFULL, "", "more than %d signals",
                                FG_MODEL_MAX_SIGNALS);
        if (grow((void **)&m->signals, &m->cap_signals, m->n_signals,
                 sizeof(*m->signals)))
            return fg_error_set(err, FG_ENOMEM, "", "out of memory");
        dst = &m->signals[m->n_signals++];
    }
    *dst = *s;
    dst->created = created;
    dst->updated = s->updated ? s->updated : now;
    dst->status = derived_status(s, now);
    m->version++;
    return 0;
}

int fg_model_signal_cancel(struct fg_model *m, enum fg_signal_source src, const char *id,
                           int64_t now)
{
    struct fg_signal *s = fg_model_signal_find(m, src, id);
    if (!s)
        return FG_ENOTFOUND;
    s->status = FG_SIGST_CANCELLED;
    s->updated = now;
    m->version++;
    return 0;
}

int fg_model_signal_remove(struct fg_model *m, enum fg_signal_source src, const char *id)
{
    struct fg_signal *s = fg_model_signal_find(m, src, id);
    if (!s)
        return FG_ENOTFOUND;
    size_t i = (size_t)(s - m->signals);
    memmove(&m->signals[i], &m->signals[i + 1], (m->n_signals - i - 1) * sizeof(*s));
    m->n_signals--;
    m->version++;
    return 0;
}

/* ---- plan ---- */

void fg_model_set_plan(struct fg_model *m, struct fg_plan *p)
{
    fg_plan_clear(&m->plan);
    m->plan = *p;
    memset(p, 0, sizeof(*p));
    m->version++;
}

void fg_plan_clear(struct fg_plan *p)
{
    free(p->asset_ids);
    free(p->w);
    free(p->isp);
    free(p->slack);
    memset(p, 0, sizeof(*p));
}
