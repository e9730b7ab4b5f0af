/* The host's view (fg_scheduler.h) -> struct fg_plan_problem, for the
 * plugin's plan(). Problem asset i is view asset i, so the plan's rows
 * come back in the view's order; what the view has for the whole site
 * (load and PV forecasts without a PV asset) is appended after them. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

/* The value of series s for the ISP starting at t, or def. */
static double at(const struct fg_sched_series *s, int64_t t, double def)
{
    if (!s->v || !s->n || s->step_s <= 0 || t < s->start)
        return def;
    int64_t i = (t - s->start) / s->step_s;
    return i < (int64_t)s->n && !isnan(s->v[i]) ? s->v[i] : def;
}

static double num(double v, double def)
{
    return isfinite(v) ? v : def;
}

static double *series_new(uint32_t n, double v)
{
    double *s = malloc((n ? n : 1) * sizeof(double));
    for (uint32_t i = 0; s && i < n; i++)
        s[i] = v;
    return s;
}

static int site(const struct fg_sched_view *v, struct fg_plan_problem *p)
{
    uint32_t n = p->n_isp;
    p->price_import = series_new(n, 0);
    p->price_export = series_new(n, 0);
    p->import_max_w = series_new(n, 0);
    p->export_max_w = series_new(n, 0);
    bool target = p->brp_price_per_kwh > 0 && v->dispatch_w_series.n;
    if (target)
        p->target_w = series_new(n, NAN);
    /* appended to the view later in ABI 1: only when its writer had it */
    const struct fg_sched_series *soc =
        v->size >= offsetof(struct fg_sched_view, soc_target_series) +
                       sizeof(v->soc_target_series)
            ? &v->soc_target_series
            : NULL;
    bool socs = false;
    for (uint32_t t = 0; soc && t < n && !socs; t++)
        socs = isfinite(at(soc, p->start + (int64_t)t * p->isp_s, NAN));
    if (socs && !(p->soc_target_pct = series_new(n, NAN)))
        return FG_ENOMEM;
    if (!p->price_import || !p->price_export || !p->import_max_w || !p->export_max_w ||
        (target && !p->target_w))
        return FG_ENOMEM;
    double imax = num(v->import_max_w, 1e9), emax = num(v->export_max_w, 1e9);
    if (isfinite(v->kw_max_w) && v->kw_max_w < imax)
        imax = v->kw_max_w;
    double last_i = 0, last_e = 0;
    for (uint32_t t = 0; t < n; t++) {
        int64_t s = p->start + (int64_t)t * p->isp_s;
        last_i = at(&v->price_import, s, last_i);
        last_e = at(&v->price_export, s, last_e);
        p->price_import[t] = last_i;
        /* the model needs export <= import (never buy and sell at once) */
        p->price_export[t] = fmin(last_e, last_i);
        p->import_max_w[t] = fmin(imax, fmax(0, at(&v->import_max_w_series, s, imax)));
        p->export_max_w[t] = fmin(emax, fmax(0, at(&v->export_max_w_series, s, emax)));
        if (target)
            p->target_w[t] = at(&v->dispatch_w_series, s, NAN);
        if (socs)
            p->soc_target_pct[t] = at(soc, s, NAN);
    }
    return 0;
}

static void battery(const struct fg_sched_host *h, const struct fg_sched_asset *a,
                    struct fg_plan_asset *o)
{
    double cap = num(a->capacity_wh, 0);
    double lo = num(a->soc_min_pct, 0), hi = num(a->soc_max_pct, 100);
    o->kind = FG_PLAN_BATTERY;
    o->capacity_wh = cap;
    o->max_wh = cap * hi / 100;
    o->min_wh = cap * lo / 100;
    o->energy_wh = fmin(cap * num(a->soc_pct, lo) / 100, o->max_wh);
    o->max_charge_w = fmax(0, fmin(num(a->max_charge_w, 0), num(a->max_w, 0)));
    o->max_discharge_w = fmax(0, fmin(num(a->max_discharge_w, 0), -num(a->min_w, 0)));
    o->eta_charge = o->eta_discharge = 0.95;
    if (h && h->wear_cost_per_kwh && cap > 0)
        o->wear_per_kwh =
            num(h->wear_cost_per_kwh(h->ctx, a->id, (hi - lo) / 100,
                                     o->max_charge_w / cap, num(a->temperature_c, 25)),
                0);
}

static void evse(const struct fg_sched_view *v, const struct fg_sched_host *h,
                 const struct fg_sched_asset *a, int64_t end, struct fg_plan_asset *o)
{
    o->kind = FG_PLAN_EV;
    o->eta_charge = o->eta_discharge = 1;
    if (!a->session || !a->online)
        return; /* no presence: power 0 */
    o->arrival = v->now;
    o->departure = a->departure > v->now ? a->departure : end;
    o->max_charge_w = fmax(0, fmin(num(a->max_charge_w, a->max_w), num(a->max_w, 0)));
    double need = isfinite(a->energy_requested_wh)
                      ? fmax(0, a->energy_requested_wh - num(a->energy_wh, 0))
                      : 0;
    double cap = num(a->capacity_wh, 0);
    if ((a->caps & FG_SCHED_CAP_V2G) && cap > 0 && isfinite(a->soc_pct)) {
        o->capacity_wh = cap;
        o->energy_wh = cap * a->soc_pct / 100;
        o->max_wh = cap * num(a->soc_max_pct, 100) / 100;
        o->max_discharge_w = fmax(0, fmin(num(a->max_discharge_w, 0), -num(a->min_w, 0)));
        if (h && h->wear_cost_per_kwh)
            o->wear_per_kwh =
                num(h->wear_cost_per_kwh(h->ctx, a->id, 0.5, o->max_charge_w / cap,
                                         num(a->temperature_c, 25)),
                    0);
    }
    o->end_min_wh = o->energy_wh + need;
    if (o->max_wh < o->end_min_wh)
        o->max_wh = o->capacity_wh = o->end_min_wh;
}

static int load(const struct fg_sched_view *v, const struct fg_sched_asset *a,
                const struct fg_plan_problem *p, double off_cost, struct fg_plan_asset *o)
{
    o->kind = FG_PLAN_LOAD;
    o->load_type = a->load_type;
    o->rated_w = num(a->rated_w, num(a->power_w, 0));
    if (a->online && o->rated_w > 0 && a->load_type == FG_SCHED_LOAD_DISCONNECTABLE &&
        (a->caps & FG_SCHED_CAP_DISCONNECT)) {
        o->off_cost_per_kwh = off_cost;
        return 0;
    }
    if (a->online && o->rated_w > 0 && a->load_type == FG_SCHED_LOAD_SHIFTABLE &&
        a->run_s > 0 && a->latest_end > v->now) {
        o->run_s = ceil(a->run_s / p->isp_s) * p->isp_s;
        o->earliest_start = a->earliest_start > p->start ? a->earliest_start : p->start;
        o->latest_end = a->latest_end;
        return 0;
    }
    /* inflexible, or not controllable now: its measured power throughout,
     * unless the site's load forecast already holds it (it holds inflexible
     * loads only: the gateway learns it without the loads it may switch) */
    bool in_forecast = v->load_forecast_w.n && a->load_type == FG_SCHED_LOAD_INFLEXIBLE;
    o->load_type = FG_SCHED_LOAD_INFLEXIBLE;
    o->w = series_new(p->n_isp, in_forecast ? 0 : num(a->power_w, 0));
    return o->w ? 0 : FG_ENOMEM;
}

static int pv(const struct fg_sched_view *v, const struct fg_sched_asset *a, double share,
              const struct fg_plan_problem *p, struct fg_plan_asset *o)
{
    o->kind = FG_PLAN_PV;
    o->curtailable = a->online && a->curtailable;
    o->avail_w = series_new(p->n_isp, 0);
    if (!o->avail_w)
        return FG_ENOMEM;
    double now = fmax(0, num(a->available_w, -num(a->power_w, 0)));
    for (uint32_t t = 0; t < p->n_isp; t++) {
        int64_t s = p->start + (int64_t)t * p->isp_s;
        double f = at(&v->pv_forecast_w, s, NAN);
        o->avail_w[t] = isnan(f) ? (t == 0 ? now : 0) : fmax(0, f) * share;
    }
    return 0;
}

struct fg_plan_asset *fg_plan_asset_add(struct fg_plan_problem *p, uint32_t kind,
                                        const char *id)
{
    struct fg_plan_asset *v = realloc(p->assets, (p->n_assets + 1) * sizeof(*v));
    if (!v)
        return NULL;
    p->assets = v;
    struct fg_plan_asset *a = &v[p->n_assets++];
    memset(a, 0, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", id);
    a->kind = kind;
    a->end_min_wh = NAN;
    a->eta_charge = a->eta_discharge = 1;
    return a;
}

/* Site-wide forecasts as assets of their own (after the view's). */
static int site_assets(const struct fg_sched_view *v, struct fg_plan_problem *p,
                       bool have_pv)
{
    const struct fg_sched_series *s[2] = {&v->load_forecast_w, &v->pv_forecast_w};
    for (int k = 0; k < 2; k++) {
        if (!s[k]->n || (k == 1 && have_pv))
            continue;
        struct fg_plan_asset *a = fg_plan_asset_add(p, k ? FG_PLAN_PV : FG_PLAN_LOAD,
                                                    k ? "site-pv" : "site-load");
        double *w = a ? series_new(p->n_isp, 0) : NULL;
        if (!w)
            return FG_ENOMEM;
        /* the load may be negative (generation the model does not know) */
        for (uint32_t t = 0; t < p->n_isp; t++) {
            double x = at(s[k], p->start + (int64_t)t * p->isp_s, 0);
            w[t] = k ? fmax(0, x) : x;
        }
        if (k)
            a->avail_w = w;
        else
            a->w = w;
    }
    return 0;
}

int fg_plan_from_view(const struct fg_sched_view *v, const struct fg_sched_host *h,
                      uint32_t max_isp, double off_cost_per_kwh,
                      struct fg_plan_problem *p, struct fg_error *err)
{
    if (v->isp_s <= 0 || v->horizon_s < v->isp_s || !max_isp)
        return fg_error_set(err, FG_EINVAL, "view",
                            "isp_s %d / horizon_s %d / plan "
                            "capacity %u make no horizon",
                            v->isp_s, v->horizon_s, max_isp);
    p->isp_s = v->isp_s;
    p->start = v->now - ((v->now % v->isp_s) + v->isp_s) % v->isp_s;
    p->n_isp = (uint32_t)(v->horizon_s / v->isp_s);
    if (p->n_isp > max_isp)
        p->n_isp = max_isp;
    int64_t end = p->start + (int64_t)p->n_isp * p->isp_s;
    int rc = site(v, p);
    if (rc)
        return fg_error_set(err, rc, NULL, "out of memory");
    p->assets = calloc(v->n_assets ? v->n_assets : 1, sizeof(*p->assets));
    if (!p->assets)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    double pv_total = 0;
    uint32_t n_pv = 0;
    for (uint32_t i = 0; i < v->n_assets; i++) {
        const struct fg_sched_asset *a = fg_sched_asset_at(v, i);
        if (a->kind == FG_SCHED_PV) {
            pv_total += fmax(1, num(a->available_w, 0));
            n_pv++;
        }
    }
    for (uint32_t i = 0; i < v->n_assets && !rc; i++) {
        const struct fg_sched_asset *a = fg_sched_asset_at(v, i);
        struct fg_plan_asset *o = &p->assets[p->n_assets++];
        memset(o, 0, sizeof(*o));
        memcpy(o->id, a->id, sizeof(o->id));
        o->id[sizeof(o->id) - 1] = '\0';
        o->end_min_wh = NAN;
        o->eta_charge = o->eta_discharge = 1;
        switch (a->kind) {
        case FG_SCHED_BATTERY:
            battery(a->online ? h : NULL, a, o);
            if (!a->online)
                o->max_charge_w = o->max_discharge_w = 0;
            break;
        case FG_SCHED_EVSE:
            evse(v, h, a, end, o);
            break;
        case FG_SCHED_PV:
            rc = pv(v, a, fmax(1, num(a->available_w, 0)) / pv_total, p, o);
            break;
        default:
            rc = load(v, a, p, off_cost_per_kwh, o);
            break;
        }
    }
    if (!rc)
        rc = site_assets(v, p, n_pv > 0);
    return rc ? fg_error_set(err, rc, NULL, "out of memory") : 0;
}
