/* A scenario run in simulated time under a real-time scheduler; the cost of
 * a schedule under the scenario's model. See scenario_run.h. */
#include "scenario_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double fg_scenario_cost(const struct fg_plan_problem *p, const double *w, double *parts)
{
    double dt = p->isp_s / 3600.0, peak = 0;
    memset(parts, 0, 4 * sizeof(double));
    for (uint32_t t = 0; t < p->n_isp; t++) {
        double net = 0;
        for (uint32_t a = 0; a < p->n_assets; a++)
            net += w[(size_t)a * p->n_isp + t];
        double imp = fmax(net, 0) / 1000, exp = fmax(-net, 0) / 1000;
        parts[0] += dt * (p->price_import[t] * imp - p->price_export[t] * exp);
        parts[3] += p->pen.grid_per_kwh * dt *
                    (fmax(0, imp - p->import_max_w[t] / 1000) +
                     fmax(0, exp - p->export_max_w[t] / 1000));
        peak = fmax(peak, imp);
    }
    for (uint32_t a = 0; a < p->n_assets; a++) {
        const struct fg_plan_asset *as = &p->assets[a];
        if (as->kind != FG_PLAN_BATTERY && as->kind != FG_PLAN_EV)
            continue;
        double e = as->energy_wh;
        for (uint32_t t = 0; t < p->n_isp; t++) {
            double x = w[(size_t)a * p->n_isp + t];
            parts[1] += as->wear_per_kwh * dt * fabs(x) / 1000;
            e += x > 0 ? x * dt * as->eta_charge : x * dt / as->eta_discharge;
        }
        if (!isnan(as->end_min_wh) && e < as->end_min_wh - 1e-6)
            parts[3] +=
                (as->kind == FG_PLAN_EV ? p->pen.ev_energy_per_kwh : p->pen.soc_per_kwh) *
                (as->end_min_wh - e) / 1000;
    }
    parts[2] = p->demand_price_per_kw * peak;
    return parts[0] + parts[1] + parts[2] + parts[3];
}

void fg_scenario_uncontrolled(const struct fg_plan_problem *p, double *w)
{
    double dt = p->isp_s / 3600.0;
    for (uint32_t a = 0; a < p->n_assets; a++) {
        const struct fg_plan_asset *as = &p->assets[a];
        double *row = w + (size_t)a * p->n_isp;
        double need = isnan(as->end_min_wh) ? 0 : as->end_min_wh - as->energy_wh;
        int64_t run_from = as->earliest_start;
        for (uint32_t t = 0; t < p->n_isp; t++) {
            int64_t s = p->start + (int64_t)t * p->isp_s, e = s + p->isp_s;
            row[t] = 0;
            if (as->kind == FG_PLAN_EV) {
                int64_t from = as->arrival > s ? as->arrival : s;
                int64_t to = as->departure < e ? as->departure : e;
                double f = to > from ? (double)(to - from) / p->isp_s : 0;
                double wh =
                    fmin(as->max_charge_w * f * dt * as->eta_charge, fmax(need, 0));
                row[t] = wh / dt / as->eta_charge;
                need -= wh;
            } else if (as->kind == FG_PLAN_PV) {
                row[t] = -as->avail_w[t];
            } else if (as->kind == FG_PLAN_LOAD) {
                if (as->load_type == FG_SCHED_LOAD_INFLEXIBLE)
                    row[t] = as->w[t];
                else if (as->load_type == FG_SCHED_LOAD_DISCONNECTABLE)
                    row[t] = as->rated_w;
                else if (s >= run_from && s < run_from + (int64_t)as->run_s)
                    row[t] = as->rated_w;
            }
        }
    }
}

/* The simulated site: per scenario asset its energy (battery, EV), the
 * set-point in force (NAN none), its power in the last step and whether it
 * is switched on (disconnectable loads); the view handed to the plugin, in
 * which view asset i is scenario asset idx[i]. */
struct sim {
    const struct fg_plan_problem *p;
    const double *plan; /* n_assets * n_isp, NULL none */
    int32_t step_s;
    int64_t now;
    uint32_t isp; /* now's ISP */
    double *e, *sp, *pw, *on;
    /* shiftable loads: when the run started (NAN: not yet); controlled: a
     * scheduler runs the site, so a shiftable load waits for its start */
    double *run_from;
    int controlled;
    double *load, *pv; /* n_isp: the site's inflexible load and PV forecasts */
    double site_w;     /* net of the last step */
    uint32_t n_view, *idx;
    struct fg_sched_asset *va;
    struct fg_sched_setpoint *spv;
};

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static int ev_present(const struct fg_plan_asset *a, int64_t t)
{
    return t >= a->arrival && t < a->departure;
}

/* What asset a can do over the next step: the device's own limits, which for
 * a battery include its SoC window (its BMS) and for an EV its presence and
 * the energy it still takes. */
static void envelope(const struct sim *s, uint32_t a, double *lo, double *hi)
{
    const struct fg_plan_asset *as = &s->p->assets[a];
    double h = s->step_s / 3600.0;
    *lo = *hi = 0;
    switch (as->kind) {
    case FG_PLAN_BATTERY:
        *lo = -fmin(as->max_discharge_w,
                    fmax(s->e[a] - as->min_wh, 0) * as->eta_discharge / h);
        *hi = fmin(as->max_charge_w, fmax(as->max_wh - s->e[a], 0) / as->eta_charge / h);
        break;
    case FG_PLAN_EV:
        if (!ev_present(as, s->now))
            break;
        /* the session ends when the EV has what it asked for */
        *lo = -fmin(as->max_discharge_w, fmax(s->e[a], 0) * as->eta_discharge / h);
        *hi = fmin(as->max_charge_w, fmax(fmin(as->end_min_wh, as->max_wh) - s->e[a], 0) /
                                         as->eta_charge / h);
        break;
    case FG_PLAN_PV:
        *lo = -as->avail_w[s->isp];
        break;
    default:
        *hi = as->load_type == FG_SCHED_LOAD_INFLEXIBLE ? 0 : as->rated_w;
        break;
    }
}

static void view_asset(const struct sim *s, uint32_t a, struct fg_sched_asset *v)
{
    const struct fg_plan_asset *as = &s->p->assets[a];
    static const uint32_t kinds[] = {FG_SCHED_BATTERY, FG_SCHED_EVSE, FG_SCHED_PV,
                                     FG_SCHED_LOAD};
    memset(v, 0, sizeof *v);
    v->size = sizeof *v;
    v->kind = kinds[as->kind];
    memcpy(v->id, as->id, sizeof v->id);
    v->online = 1;
    v->power_w = s->pw[a];
    envelope(s, a, &v->min_w, &v->max_w);
    v->voltage_v = v->capacity_wh = v->soc_pct = v->soc_min_pct = v->soc_max_pct = NAN;
    v->max_charge_w = v->max_discharge_w = v->temperature_c = NAN;
    v->energy_wh = v->energy_requested_wh = v->min_charge_w = NAN;
    v->available_w = v->rated_w = v->run_s = NAN;
    v->plan_w = s->plan ? s->plan[(size_t)a * s->p->n_isp + s->isp] : NAN;
    if (as->kind == FG_PLAN_BATTERY || as->kind == FG_PLAN_EV) {
        v->capacity_wh = as->capacity_wh;
        v->soc_pct = 100 * s->e[a] / as->capacity_wh;
        v->soc_min_pct = as->kind == FG_PLAN_EV ? 0 : 100 * as->min_wh / as->capacity_wh;
        v->soc_max_pct = 100 * as->max_wh / as->capacity_wh;
        v->max_charge_w = as->max_charge_w;
        v->max_discharge_w = as->max_discharge_w;
    }
    if (as->kind == FG_PLAN_EV && ev_present(as, s->now)) {
        v->session = 1;
        v->caps = as->max_discharge_w > 0 ? FG_SCHED_CAP_V2G : 0;
        v->energy_wh = s->e[a] - as->energy_wh;
        v->energy_requested_wh = as->end_min_wh - as->energy_wh;
        v->arrival = as->arrival;
        v->departure = as->departure;
        v->min_charge_w = 0;
    } else if (as->kind == FG_PLAN_PV) {
        v->available_w = as->avail_w[s->isp];
        v->curtailable = as->curtailable;
    } else if (as->kind == FG_PLAN_LOAD) {
        v->load_type = as->load_type;
        v->rated_w = as->rated_w;
        v->caps =
            as->load_type == FG_SCHED_LOAD_DISCONNECTABLE ? FG_SCHED_CAP_DISCONNECT : 0;
        v->connected =
            as->load_type == FG_SCHED_LOAD_SHIFTABLE ? s->pw[a] > 0 : s->on[a] != 0;
        v->run_s = as->run_s;
        v->earliest_start = as->earliest_start;
        v->latest_end = as->latest_end;
    }
}

static struct fg_sched_series series(const struct sim *s, const double *v)
{
    const struct fg_plan_problem *p = s->p;
    return (struct fg_sched_series){p->start + (int64_t)s->isp * p->isp_s, p->isp_s,
                                    p->n_isp - s->isp, v ? v + s->isp : NULL};
}

/* The view now; the inflexible load is the site's load forecast (no asset). */
static void build_view(struct sim *s, struct fg_sched_view *v)
{
    const struct fg_plan_problem *p = s->p;
    memset(v, 0, sizeof *v);
    v->size = sizeof *v;
    v->abi = FG_SCHED_ABI_VERSION;
    v->now = s->now;
    v->isp_s = p->isp_s;
    v->horizon_s = (int32_t)(p->start + (int64_t)p->n_isp * p->isp_s - s->now);
    v->site_power_w = s->site_w;
    v->site_voltage_v[0] = v->site_voltage_v[1] = v->site_voltage_v[2] = NAN;
    v->import_max_w = p->import_max_w[s->isp];
    v->export_max_w = p->export_max_w[s->isp];
    v->kw_max_w = v->dispatch_w = v->reactive_var = NAN;
    v->price_import = series(s, p->price_import);
    v->price_export = series(s, p->price_export);
    v->import_max_w_series = series(s, p->import_max_w);
    v->export_max_w_series = series(s, p->export_max_w);
    v->load_forecast_w = series(s, s->load);
    v->pv_forecast_w = series(s, s->pv);
    for (uint32_t i = 0; i < s->n_view; i++)
        view_asset(s, s->idx[i], &s->va[i]);
    v->n_assets = s->n_view;
    v->asset_stride = sizeof(struct fg_sched_asset);
    v->assets = s->va;
    if (s->plan) { /* made at the start, knowing every EV of the scenario */
        v->plan_created = p->start ? p->start : 1;
        v->plan_site_w = 0;
        for (uint32_t a = 0; a < p->n_assets; a++)
            v->plan_site_w += s->plan[(size_t)a * p->n_isp + s->isp];
    }
}

/* Record set-points as the host does: clamped to the envelope of the asset
 * they name, unknown ids ignored, non-finite values dropped. */
static void apply(struct sim *s, const struct fg_sched_setpoints *out)
{
    for (uint32_t k = 0; k < out->n && k < out->cap; k++) {
        const struct fg_sched_setpoint *sp = &out->sp[k];
        for (uint32_t i = 0; i < s->n_view; i++) {
            const struct fg_sched_asset *v = &s->va[i];
            uint32_t a = s->idx[i];
            if (strncmp(v->id, sp->id, FG_SCHED_ID_MAX))
                continue;
            if (isfinite(sp->w))
                s->sp[a] = clampd(sp->w, v->min_w, v->max_w);
            if (!(v->caps & FG_SCHED_CAP_DISCONNECT))
                continue;
            /* as the gateway (apply_answer) and its sim adapter: DISCONNECT
             * is 0 W, CONNECT releases the set-point (default: on), 0 W is
             * off and more is on */
            if (sp->flags & FG_SCHED_SP_DISCONNECT)
                s->sp[a] = 0;
            if (sp->flags & FG_SCHED_SP_CONNECT)
                s->sp[a] = NAN;
            s->on[a] = isnan(s->sp[a]) || s->sp[a] > 0;
        }
    }
}

/* Asset a's power over the step from now, within what it can do. */
static double power(const struct sim *s, uint32_t a)
{
    const struct fg_plan_asset *as = &s->p->assets[a];
    double lo, hi, sp = s->sp[a];
    envelope(s, a, &lo, &hi);
    switch (as->kind) {
    case FG_PLAN_BATTERY:
        return clampd(isnan(sp) ? 0 : sp, lo, hi);
    case FG_PLAN_EV: /* charges at full power until told otherwise */
        return clampd(isnan(sp) ? hi : sp, lo, hi);
    case FG_PLAN_PV: /* a set-point limits production */
        return as->curtailable && !isnan(sp) ? clampd(sp, lo, 0) : lo;
    default:
        if (as->load_type == FG_SCHED_LOAD_INFLEXIBLE)
            return as->w[s->isp];
        if (as->load_type == FG_SCHED_LOAD_DISCONNECTABLE)
            return s->on[a] ? as->rated_w : 0;
        return !isnan(s->run_from[a]) && (double)s->now < s->run_from[a] + as->run_s
                   ? as->rated_w
                   : 0;
    }
}

/* A shiftable load starts its one run in its window: uncontrolled at once
 * (at its earliest start); under a scheduler as the gateway's sim adapter,
 * when it gets a set-point above 0 W, else at the latest start that ends by
 * latest_end. */
static void shift_start(struct sim *s, uint32_t a)
{
    const struct fg_plan_asset *as = &s->p->assets[a];
    if (as->kind != FG_PLAN_LOAD || as->load_type != FG_SCHED_LOAD_SHIFTABLE ||
        !isnan(s->run_from[a]) || s->now < as->earliest_start || s->now >= as->latest_end)
        return;
    if (!s->controlled || s->sp[a] > 0 ||
        (double)s->now >= (double)as->latest_end - as->run_s)
        s->run_from[a] = (double)s->now;
}

/* One step: powers, energies, the per-ISP averages in w, the stats. */
static void step(struct sim *s, double *w, struct fg_scenario_stats *st)
{
    const struct fg_plan_problem *p = s->p;
    double h = s->step_s / 3600.0, f = (double)s->step_s / p->isp_s, net = 0;
    for (uint32_t a = 0; a < p->n_assets; a++) {
        const struct fg_plan_asset *as = &p->assets[a];
        shift_start(s, a);
        double x = power(s, a);
        s->pw[a] = x;
        net += x;
        w[(size_t)a * p->n_isp + s->isp] += x * f;
        if (as->kind == FG_PLAN_BATTERY || as->kind == FG_PLAN_EV)
            s->e[a] += x > 0 ? x * h * as->eta_charge : x * h / as->eta_discharge;
        if (st && as->kind == FG_PLAN_BATTERY) {
            double soc = 100 * s->e[a] / as->capacity_wh;
            st->soc_lo_pct =
                fmin(st->soc_lo_pct, soc - 100 * as->min_wh / as->capacity_wh);
            st->soc_hi_pct =
                fmax(st->soc_hi_pct, soc - 100 * as->max_wh / as->capacity_wh);
        }
    }
    s->site_w = net;
    if (st) {
        st->max_excess_w = fmax(st->max_excess_w, net - p->import_max_w[s->isp]);
        st->max_excess_w = fmax(st->max_excess_w, -net - p->export_max_w[s->isp]);
        st->steps++;
    }
}

static int sim_init(struct sim *s, const struct fg_plan_problem *p, int32_t step_s)
{
    uint32_t n = p->n_assets;
    memset(s, 0, sizeof *s);
    s->p = p;
    s->step_s = step_s;
    s->now = p->start;
    s->e = calloc(5 * (size_t)n + 1, sizeof(double));
    s->idx = calloc(n + 1, sizeof *s->idx);
    s->va = calloc(n + 1, sizeof *s->va);
    s->spv = calloc(n + 1, sizeof *s->spv);
    s->load = calloc(2 * (size_t)p->n_isp + 1, sizeof(double));
    if (!s->e || !s->idx || !s->va || !s->spv || !s->load)
        return FG_ENOMEM;
    s->pv = s->load + p->n_isp;
    s->sp = s->e + n;
    s->pw = s->sp + n;
    s->on = s->pw + n;
    s->run_from = s->on + n;
    for (uint32_t a = 0; a < n; a++) {
        const struct fg_plan_asset *as = &p->assets[a];
        s->e[a] = as->energy_wh;
        s->sp[a] = NAN;
        s->on[a] = 1;
        s->run_from[a] = NAN;
        int inflexible =
            as->kind == FG_PLAN_LOAD && as->load_type == FG_SCHED_LOAD_INFLEXIBLE;
        for (uint32_t t = 0; t < p->n_isp; t++) {
            s->load[t] += inflexible ? as->w[t] : 0;
            s->pv[t] += as->kind == FG_PLAN_PV ? as->avail_w[t] : 0;
        }
        if (!inflexible)
            s->idx[s->n_view++] = a;
    }
    /* before the first step: every asset as it would run uncontrolled */
    for (uint32_t a = 0; a < n; a++)
        s->site_w +=
            power(s, a) + (p->assets[a].kind == FG_PLAN_LOAD &&
                                   p->assets[a].load_type == FG_SCHED_LOAD_SHIFTABLE &&
                                   s->now >= p->assets[a].earliest_start &&
                                   s->now < p->assets[a].latest_end
                               ? p->assets[a].rated_w
                               : 0);
    return 0;
}

static void sim_clear(struct sim *s)
{
    free(s->e);
    free(s->idx);
    free(s->va);
    free(s->spv);
    free(s->load);
}

int fg_scenario_run(const struct fg_plan_problem *p, const struct fg_sched_plugin *plugin,
                    void *inst, int32_t step_s, double *w, struct fg_scenario_stats *st)
{
    return fg_scenario_run_plan(p, NULL, plugin, inst, step_s, w, st);
}

int fg_scenario_run_plan(const struct fg_plan_problem *p, const double *plan,
                         const struct fg_sched_plugin *plugin, void *inst, int32_t step_s,
                         double *w, struct fg_scenario_stats *st)
{
    if (step_s <= 0 || p->isp_s % step_s)
        return FG_EINVAL;
    struct sim s;
    int rc = sim_init(&s, p, step_s);
    s.plan = plan;
    s.controlled = plugin && plugin->realtime;
    if (rc)
        goto out;
    memset(w, 0, (size_t)p->n_assets * p->n_isp * sizeof(double));
    if (st) {
        st->max_excess_w = -INFINITY;
        st->soc_lo_pct = INFINITY;
        st->soc_hi_pct = -INFINITY;
        st->steps = st->calls = st->failures = 0;
    }
    int64_t end = p->start + (int64_t)p->n_isp * p->isp_s;
    for (; s.now < end; s.now += step_s) {
        s.isp = (uint32_t)((s.now - p->start) / p->isp_s);
        if (plugin && plugin->realtime) {
            struct fg_sched_view v;
            struct fg_sched_setpoints out = {.cap = s.n_view + 1, .sp = s.spv};
            build_view(&s, &v);
            int fail = plugin->realtime(inst, &v, &out);
            if (!fail)
                apply(&s, &out);
            if (st) {
                st->calls++;
                st->failures += fail != 0;
            }
        }
        step(&s, w, st);
    }
    if (st && st->ev_wh)
        for (uint32_t a = 0; a < p->n_assets; a++)
            st->ev_wh[a] =
                p->assets[a].kind == FG_PLAN_EV ? s.e[a] - p->assets[a].energy_wh : 0;
out:
    sim_clear(&s);
    return rc;
}
