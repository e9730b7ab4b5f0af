/* The deterministic site simulator (see site_sim.h). */
#include "site_sim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PI 3.14159265358979323846

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

void fg_sim_init(struct fg_sim_site *s, int64_t t0, int32_t step_s)
{
    memset(s, 0, sizeof *s);
    s->t0 = s->now = t0;
    s->step_s = step_s;
    s->load_base_w = 500;
    s->load_peak_w = 2000;
    s->import_max_w = 1e6;
    s->export_max_w = 1e6;
    s->kw_max_w = NAN;
    s->dispatch_w = NAN;
    s->reactive_var = NAN;
    s->soc_target_pct = NAN;
    s->volt_k = 0.0015;
    s->volt_kq = 0.0015;
    s->voltage_v = 230;
    for (int i = 0; i < FG_SIM_NSERIES; i++) {
        s->price_import[i] = 0.30;
        s->price_export[i] = 0.05;
        s->dispatch_series[i] = NAN;
    }
}

#define ADD(arr, n)                                                                      \
    ((n) < FG_SIM_MAX ? memset(&(arr)[(n)], 0, sizeof(arr)[0]), &(arr)[(n)++] : NULL)

struct fg_sim_battery *fg_sim_add_battery(struct fg_sim_site *s, const char *id,
                                          double capacity_wh, double soc_pct,
                                          double max_w)
{
    struct fg_sim_battery *b = ADD(s->bat, s->nb);
    if (!b)
        return NULL;
    snprintf(b->id, sizeof b->id, "%s", id);
    b->capacity_wh = capacity_wh;
    b->soc_pct = soc_pct;
    b->soc_min_pct = 10;
    b->soc_max_pct = 95;
    b->max_charge_w = b->max_discharge_w = max_w;
    b->sp_w = NAN;
    return b;
}

struct fg_sim_ev *fg_sim_add_ev(struct fg_sim_site *s, const char *id, int64_t arrival,
                                int64_t departure, double energy_wh, double max_w,
                                double min_w)
{
    struct fg_sim_ev *e = ADD(s->ev, s->ne);
    if (!e)
        return NULL;
    snprintf(e->id, sizeof e->id, "%s", id);
    e->arrival = arrival;
    e->departure = departure;
    e->energy_requested_wh = energy_wh;
    e->max_w = max_w;
    e->min_w = min_w;
    e->sp_w = NAN;
    e->sp_raw_min = INFINITY;
    return e;
}

struct fg_sim_pv *fg_sim_add_pv(struct fg_sim_site *s, const char *id, double peak_w,
                                int curtailable)
{
    struct fg_sim_pv *p = ADD(s->pv, s->np);
    if (!p)
        return NULL;
    snprintf(p->id, sizeof p->id, "%s", id);
    p->peak_w = peak_w;
    p->curtailable = curtailable != 0;
    p->sp_w = NAN;
    return p;
}

struct fg_sim_load *fg_sim_add_load(struct fg_sim_site *s, const char *id, double rated_w)
{
    struct fg_sim_load *l = ADD(s->load, s->nl);
    if (!l)
        return NULL;
    snprintf(l->id, sizeof l->id, "%s", id);
    l->rated_w = rated_w;
    l->connected = 1;
    return l;
}

static double hour_of(const struct fg_sim_site *s, int64_t t)
{
    return fmod((double)(t - s->t0) / 3600.0, 24.0);
}

/* A cosine bump of height 1 centred on c, half-width hw hours. */
static double bump(double h, double c, double hw)
{
    return fabs(h - c) < hw ? 0.5 * (1 + cos(PI * (h - c) / hw)) : 0;
}

double fg_sim_load_forecast_w(const struct fg_sim_site *s, int64_t t)
{
    double h = hour_of(s, t);
    return s->load_base_w + s->load_peak_w * (0.5 * bump(h, 7.5, 1.5) + bump(h, 19, 2.5));
}

/* A deterministic value in [-1, 1] for each 5-minute block of t. */
static double noise(int64_t t)
{
    uint64_t x = (uint64_t)(t / 300) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (double)(x % 20001) / 10000.0 - 1.0;
}

double fg_sim_load_w(const struct fg_sim_site *s, int64_t t)
{
    return fg_sim_load_forecast_w(s, t) * (1 + s->load_dev_pct / 100.0 * noise(t));
}

double fg_sim_pv_forecast_w(const struct fg_sim_pv *pv, int64_t t)
{
    /* the profile needs t0: hours since midnight UTC of t */
    double h = fmod((double)t / 3600.0, 24.0);
    return h > 6 && h < 18 ? pv->peak_w * sin(PI * (h - 6) / 12) : 0;
}

double fg_sim_pv_avail_w(const struct fg_sim_pv *pv, int64_t t)
{
    double f = t >= pv->cloud_from && t < pv->cloud_to ? 1 - pv->cloud_pct / 100.0 : 1;
    return fg_sim_pv_forecast_w(pv, t) * f;
}

/* The ISP means (one sample a minute) of the load and PV forecasts. */
static void forecasts(struct fg_sim_site *s)
{
    for (int i = 0; i < FG_SIM_NSERIES; i++) {
        double l = 0, p = 0;
        for (int m = 0; m < 15; m++) {
            int64_t t = s->t0 + (int64_t)i * 900 + m * 60 + 30;
            l += fg_sim_load_forecast_w(s, t) / 15;
            for (int k = 0; k < s->np; k++)
                p += fg_sim_pv_forecast_w(&s->pv[k], t) / 15;
        }
        s->load_forecast[i] = l;
        s->pv_forecast[i] = p;
    }
    s->forecast_ready = 1;
}

static void blank(struct fg_sched_asset *a, uint32_t kind, const char *id)
{
    memset(a, 0, sizeof *a);
    a->size = sizeof *a;
    a->kind = kind;
    a->online = 1;
    snprintf(a->id, sizeof a->id, "%s", id);
    a->power_w = a->min_w = a->max_w = a->voltage_v = NAN;
    a->capacity_wh = a->soc_pct = a->soc_min_pct = a->soc_max_pct = NAN;
    a->max_charge_w = a->max_discharge_w = a->temperature_c = NAN;
    a->energy_wh = a->energy_requested_wh = a->min_charge_w = NAN;
    a->available_w = a->rated_w = a->run_s = NAN;
    a->plan_w = NAN;
}

static int ev_present(const struct fg_sim_ev *e, int64_t t)
{
    return t >= e->arrival && t < e->departure;
}

void fg_sim_view(struct fg_sim_site *s, struct fg_sched_view *v)
{
    uint32_t n = 0;
    if (!s->stepped) { /* before the first step: idle assets, the load and PV */
        s->grid_w = fg_sim_load_w(s, s->now);
        for (int i = 0; i < s->nl; i++)
            s->grid_w += s->load[i].connected ? s->load[i].rated_w : 0;
        for (int i = 0; i < s->np; i++) {
            s->pv[i].w = -fg_sim_pv_avail_w(&s->pv[i], s->now);
            s->grid_w += s->pv[i].w;
        }
    }
    if (!s->forecast_ready)
        forecasts(s);
    memset(v, 0, sizeof *v);
    v->size = sizeof *v;
    v->abi = FG_SCHED_ABI_VERSION;
    v->now = s->now;
    v->isp_s = 900;
    v->horizon_s = 86400;
    v->site_power_w = s->grid_w;
    for (int i = 0; i < 3; i++)
        v->site_voltage_v[i] = s->voltage_v;
    v->import_max_w = s->import_max_w;
    v->export_max_w = s->export_max_w;
    v->kw_max_w = s->kw_max_w;
    v->dispatch_w = s->dispatch_w;
    v->reactive_var = s->reactive_var;
    v->island = s->island;
    v->soc_target_pct = s->soc_target_pct;
    v->soc_target_until = s->soc_target_until;
    v->price_import =
        (struct fg_sched_series){s->t0, 900, FG_SIM_NSERIES, s->price_import};
    v->price_export =
        (struct fg_sched_series){s->t0, 900, FG_SIM_NSERIES, s->price_export};
    v->dispatch_w_series =
        (struct fg_sched_series){s->t0, 900, FG_SIM_NSERIES, s->dispatch_series};
    v->load_forecast_w =
        (struct fg_sched_series){s->t0, 900, FG_SIM_NSERIES, s->load_forecast};
    v->pv_forecast_w =
        (struct fg_sched_series){s->t0, 900, FG_SIM_NSERIES, s->pv_forecast};
    for (int i = 0; i < s->nb; i++) {
        struct fg_sim_battery *b = &s->bat[i];
        struct fg_sched_asset *a = &s->assets[n++];
        blank(a, FG_SCHED_BATTERY, b->id);
        a->caps = b->caps;
        a->power_w = b->w;
        a->min_w = -b->max_discharge_w;
        a->max_w = b->max_charge_w;
        a->capacity_wh = b->capacity_wh;
        a->soc_pct = b->soc_pct;
        a->soc_min_pct = b->soc_min_pct;
        a->soc_max_pct = b->soc_max_pct;
        a->max_charge_w = b->max_charge_w;
        a->max_discharge_w = b->max_discharge_w;
        a->temperature_c = 25;
    }
    for (int i = 0; i < s->ne; i++) {
        struct fg_sim_ev *e = &s->ev[i];
        struct fg_sched_asset *a = &s->assets[n++];
        blank(a, FG_SCHED_EVSE, e->id);
        a->power_w = e->w;
        a->min_w = -e->max_discharge_w;
        a->max_w = e->max_w;
        if (e->max_discharge_w > 0) {
            a->caps = FG_SCHED_CAP_V2G;
            a->max_discharge_w = e->max_discharge_w;
        }
        if (ev_present(e, s->now)) {
            a->session = 1;
            a->priority = e->priority;
            a->energy_wh = e->energy_wh;
            a->energy_requested_wh = e->energy_requested_wh;
            a->arrival = e->arrival;
            a->departure = e->departure;
            a->min_charge_w = e->min_w;
        }
    }
    for (int i = 0; i < s->np; i++) {
        struct fg_sim_pv *p = &s->pv[i];
        struct fg_sched_asset *a = &s->assets[n++];
        blank(a, FG_SCHED_PV, p->id);
        a->caps = p->caps;
        a->power_w = p->w;
        a->min_w = -p->peak_w;
        a->max_w = 0;
        a->available_w = fg_sim_pv_avail_w(p, s->now);
        a->curtailable = p->curtailable;
        a->rated_w = p->peak_w;
    }
    for (int i = 0; i < s->nl; i++) {
        struct fg_sim_load *l = &s->load[i];
        struct fg_sched_asset *a = &s->assets[n++];
        blank(a, FG_SCHED_LOAD, l->id);
        a->caps = FG_SCHED_CAP_DISCONNECT;
        a->load_type = FG_SCHED_LOAD_DISCONNECTABLE;
        a->power_w = l->connected ? l->rated_w : 0;
        a->min_w = 0;
        a->max_w = a->rated_w = l->rated_w;
        a->connected = (uint32_t)l->connected;
    }
    v->n_assets = n;
    v->asset_stride = sizeof(struct fg_sched_asset);
    v->assets = s->assets;
}

static void apply_one(struct fg_sim_site *s, const struct fg_sched_setpoint *p)
{
    const char *id = p->id;
    int var = (p->flags & FG_SCHED_SP_VAR) != 0;
    if (!isfinite(p->w) || (var && !isfinite(p->var))) {
        s->st.nan_setpoints++;
        return;
    }
    for (int i = 0; i < s->nb; i++) {
        struct fg_sim_battery *b = &s->bat[i];
        if (strcmp(b->id, id))
            continue;
        b->sp_w = clampd(p->w, -b->max_discharge_w, b->max_charge_w);
        if (var)
            b->sp_var = p->var;
        if (p->flags & FG_SCHED_SP_GRID_FORMING)
            b->grid_forming = (b->caps & FG_SCHED_CAP_GRID_FORMING) != 0;
        if (p->flags & FG_SCHED_SP_GRID_FOLLOWING)
            b->grid_forming = 0;
    }
    for (int i = 0; i < s->ne; i++)
        if (!strcmp(s->ev[i].id, id)) {
            s->ev[i].sp_raw_min = fmin(s->ev[i].sp_raw_min, p->w);
            s->ev[i].sp_w = clampd(p->w, -s->ev[i].max_discharge_w, s->ev[i].max_w);
        }
    for (int i = 0; i < s->np; i++) {
        struct fg_sim_pv *pv = &s->pv[i];
        if (strcmp(pv->id, id))
            continue;
        if (pv->curtailable)
            pv->sp_w = clampd(p->w, -pv->peak_w, 0);
        if (var)
            pv->sp_var = p->var;
    }
    for (int i = 0; i < s->nl; i++) {
        if (strcmp(s->load[i].id, id))
            continue;
        /* as the gateway and its sim adapter: DISCONNECT is 0 W, CONNECT
         * releases the set-point (the load's default: on); 0 W is off, more
         * is on (a switch) */
        if (p->flags & FG_SCHED_SP_CONNECT)
            s->load[i].connected = 1;
        else
            s->load[i].connected = !(p->flags & FG_SCHED_SP_DISCONNECT) && p->w > 0;
    }
}

void fg_sim_apply(struct fg_sim_site *s, const struct fg_sched_setpoints *sp)
{
    for (uint32_t i = 0; i < sp->n && i < sp->cap; i++)
        apply_one(s, &sp->sp[i]);
}

/* What a battery can do within its limits and SoC over one step. */
static void battery_limits(const struct fg_sim_site *s, const struct fg_sim_battery *b,
                           double *lo, double *hi)
{
    double per_pct = b->capacity_wh / 100.0 * 3600.0 / s->step_s;
    *hi = fmin(b->max_charge_w, fmax(b->soc_max_pct - b->soc_pct, 0) * per_pct);
    *lo = -fmin(b->max_discharge_w, fmax(b->soc_pct - b->soc_min_pct, 0) * per_pct);
}

static double step_evs(struct fg_sim_site *s, double dt)
{
    double sum = 0;
    for (int i = 0; i < s->ne; i++) {
        struct fg_sim_ev *e = &s->ev[i];
        double left = e->energy_requested_wh - e->energy_wh, cmd = 0;
        if (ev_present(e, s->now) && e->sp_w < 0) { /* V2G */
            cmd = e->sp_w;
            if (-cmd < e->min_w - 1e-6) {
                cmd = 0;
                e->below_min++;
            }
            e->running = 0;
        } else if (ev_present(e, s->now) && left > 1e-9) {
            cmd = isnan(e->sp_w) ? e->max_w : e->sp_w;
            if (cmd > 1e-9 && cmd < e->min_w - 1e-6) {
                cmd = 0;
                e->below_min++;
            }
            int run = cmd > 1e-9;
            if (run != e->running)
                e->switches++;
            e->running = run;
            cmd = fmin(cmd, left * 3600.0 / dt);
        } else {
            e->running = 0;
        }
        e->w = cmd;
        e->energy_wh += cmd * dt / 3600.0;
        sum += cmd;
    }
    return sum;
}

static double step_pv(struct fg_sim_site *s, double dt)
{
    double sum = 0;
    for (int i = 0; i < s->np; i++) {
        struct fg_sim_pv *p = &s->pv[i];
        double avail = fg_sim_pv_avail_w(p, s->now);
        double prod = avail;
        if (p->curtailable && !isnan(p->sp_w))
            prod = fmin(avail, -p->sp_w);
        p->available_w = avail;
        p->w = -prod;
        p->var = (p->caps & FG_SCHED_CAP_REACTIVE) ? p->sp_var : 0;
        s->st.pv_wh += prod * dt / 3600.0;
        s->st.pv_curtailed_wh += (avail - prod) * dt / 3600.0;
        sum += p->w;
    }
    return sum;
}

void fg_sim_step(struct fg_sim_site *s)
{
    double dt = s->step_s, others = fg_sim_load_w(s, s->now), gf_lo = 0, gf_hi = 0,
           var = 0;
    int ngf = 0;
    for (int i = 0; i < s->nl; i++)
        others += s->load[i].connected ? s->load[i].rated_w : 0;
    others += step_evs(s, dt) + step_pv(s, dt);
    for (int i = 0; i < s->np; i++)
        var += s->pv[i].var;
    for (int i = 0; i < s->nb; i++) {
        struct fg_sim_battery *b = &s->bat[i];
        double lo, hi;
        battery_limits(s, b, &lo, &hi);
        b->var = (b->caps & FG_SCHED_CAP_REACTIVE) ? b->sp_var : 0;
        var += b->var;
        if (s->island && b->grid_forming) {
            gf_lo += lo;
            gf_hi += hi;
            ngf++;
            continue;
        }
        b->w = clampd(isnan(b->sp_w) ? 0 : b->sp_w, lo, hi);
        others += b->w;
    }
    if (s->island) {
        /* the grid-forming batteries take whatever balances the island */
        double need = -others, got = clampd(need, gf_lo, gf_hi);
        for (int i = 0; i < s->nb && ngf; i++) {
            struct fg_sim_battery *b = &s->bat[i];
            double lo, hi;
            if (!b->grid_forming)
                continue;
            battery_limits(s, b, &lo, &hi);
            double room = got >= 0 ? gf_hi : -gf_lo, part = got >= 0 ? hi : -lo;
            b->w = room > 0 ? got * part / room : 0;
        }
        s->grid_w = others + got; /* what no one could balance */
        s->st.island_max_abs_w = fmax(s->st.island_max_abs_w, fabs(s->grid_w));
        s->st.island_batt_excess_w = fmax(s->st.island_batt_excess_w, fabs(need - got));
        s->st.island_steps++;
        s->voltage_v = 230;
    } else {
        s->grid_w = others;
        s->voltage_v = 230 - s->volt_k * s->grid_w - s->volt_kq * var;
    }
    for (int i = 0; i < s->nb; i++) {
        struct fg_sim_battery *b = &s->bat[i];
        b->soc_pct += b->w * dt / 3600.0 / b->capacity_wh * 100.0;
    }
    if (!s->island) {
        s->st.peak_import_w = fmax(s->st.peak_import_w, s->grid_w);
        s->st.peak_export_w = fmax(s->st.peak_export_w, -s->grid_w);
        s->st.import_wh += fmax(s->grid_w, 0) * dt / 3600.0;
        s->st.export_wh += fmax(-s->grid_w, 0) * dt / 3600.0;
    }
    s->now += s->step_s;
    s->stepped = 1;
}

int fg_sim_run(struct fg_sim_site *s, const struct fg_sched_plugin *p, void *inst,
               int64_t seconds, fg_sim_hook hook, void *ctx)
{
    struct fg_sched_setpoint buf[4 * FG_SIM_MAX];
    int64_t end = s->now + seconds;
    while (s->now < end) {
        if (p && p->realtime) {
            struct fg_sched_view v;
            struct fg_sched_setpoints out = {.cap = 4 * FG_SIM_MAX, .sp = buf};
            fg_sim_view(s, &v);
            if (s->view_hook)
                s->view_hook(s, &v, s->view_ctx);
            int rc = p->realtime(inst, &v, &out);
            if (rc)
                return rc;
            fg_sim_apply(s, &out);
        }
        fg_sim_step(s);
        if (hook)
            hook(s, ctx);
    }
    return 0;
}
