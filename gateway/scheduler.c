/* The scheduler in the gateway (scheduler.h): the view, the exchange on a
 * worker thread, the guard and the safe fallback schedule. */
#include "scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "sched_host.h"
#include "sched_wire.h"

#define N_SERIES 8
#define FALLBACK_HOLD_S 60   /* a fallback set-point lasts this long unless renewed */
#define EXTRA_SP 64          /* room for set-points beyond one per asset */
#define FALLBACK_MARGIN 0.03 /* the fallback aims this fraction below the limit */
#define FALLBACK_MARGIN_MIN_W 100.0 /* and at least this far */

/* ---- the view ------------------------------------------------------------------ */

size_t fg_sched_view_values(int horizon_s, int isp_s)
{
    int n = isp_s > 0 ? horizon_s / isp_s : 0;
    return (size_t)(n > 0 ? n : 0) * N_SERIES;
}

static double nan_if_zero(double v)
{
    return v > 0 ? v : NAN;
}

static void view_asset(const struct fg_asset *a, struct fg_sched_asset *s)
{
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    s->kind = (uint32_t)a->kind; /* the enums agree: evse 0, battery 1, pv 2, load 3 */
    snprintf(s->id, sizeof(s->id), "%s", a->id);
    s->online = a->online;
    s->power_w = a->power_w;
    s->min_w = a->env.min_w;
    s->max_w = a->env.max_w;
    s->voltage_v = NAN;
    s->capacity_wh = s->soc_pct = s->soc_min_pct = s->soc_max_pct = NAN;
    s->max_charge_w = s->max_discharge_w = s->temperature_c = NAN;
    s->energy_wh = s->energy_requested_wh = s->min_charge_w = NAN;
    s->available_w = s->rated_w = s->run_s = NAN;
    s->plan_w = NAN;
    switch (a->kind) {
    case FG_ASSET_BATTERY:
        s->capacity_wh = a->battery.capacity_wh;
        s->soc_pct = a->battery.soc;
        s->soc_min_pct = a->battery.soc_min;
        s->soc_max_pct = a->battery.soc_max;
        s->max_charge_w = a->battery.max_charge_w;
        s->max_discharge_w = a->battery.max_discharge_w;
        s->temperature_c = a->battery.temperature_c;
        break;
    case FG_ASSET_EVSE: {
        const struct fg_evse *e = &a->evse;
        s->voltage_v = e->voltage > 0 ? e->voltage : NAN;
        if (e->bidirectional)
            s->caps |= FG_SCHED_CAP_V2G;
        s->max_charge_w = e->rated_w;
        s->max_discharge_w = e->bidirectional ? e->max_discharge_w : 0;
        s->session = e->session_active;
        if (!e->session_active)
            break;
        s->capacity_wh = nan_if_zero(e->ev_capacity_wh);
        s->soc_pct = e->ev_soc;
        s->soc_min_pct = 0;
        s->soc_max_pct = 100;
        s->energy_wh = e->energy_wh;
        s->energy_requested_wh = nan_if_zero(e->energy_requested_wh);
        s->arrival = e->session_start;
        s->departure = e->departure;
        s->min_charge_w =
            e->ev_min_w > 0 ? e->ev_min_w : e->min_current_a * e->voltage * e->phases;
        break;
    }
    case FG_ASSET_PV:
        s->available_w = a->pv.available_w;
        s->curtailable = a->pv.curtailable;
        s->rated_w = a->pv.rated_w;
        break;
    case FG_ASSET_LOAD:
        s->load_type = (uint32_t)a->load.type;
        s->rated_w = a->load.rated_w;
        s->connected = a->load.connected;
        s->run_s = a->load.run_s;
        s->earliest_start = a->load.earliest_start;
        s->latest_end = a->load.latest_end;
        if (a->load.type == FG_LOAD_DISCONNECTABLE)
            s->caps |= FG_SCHED_CAP_DISCONNECT;
        break;
    }
}

/* The reactive-power target at t: the highest-priority site-wide signal. */
static double reactive_at(const struct fg_model *m, int64_t t)
{
    const struct fg_signal *best = NULL;
    const struct fg_signal_interval *iv = NULL;
    for (size_t i = 0; i < m->n_signals; i++) {
        const struct fg_signal *s = &m->signals[i];
        const struct fg_signal_interval *x;
        if (s->type != FG_SIG_REACTIVE || s->status == FG_SIGST_CANCELLED || s->target[0])
            continue;
        if (!(x = fg_signal_interval_at(s, t)))
            continue;
        if (!best || s->priority > best->priority ||
            (s->priority == best->priority && s->updated > best->updated)) {
            best = s;
            iv = x;
        }
    }
    return iv ? iv->value : NAN;
}

/* Does PV asset a's own forecast (from its adapter) cover t? */
static bool pv_own_forecast(const struct fg_asset *a, int64_t t)
{
    const struct fg_pv *p = &a->pv;
    int step = p->forecast_step_s > 0 ? p->forecast_step_s : 900;
    size_t n = p->n_forecast < FG_FORECAST_MAX ? p->n_forecast : FG_FORECAST_MAX;
    return n > 0 && t >= p->forecast_start && t < p->forecast_start + (int64_t)n * step;
}

/* The PV forecast per ISP, whole site. Where every PV asset has a forecast
 * of its own (its adapter's) for the ISP, their sum; else what the site's
 * history gives (learned, forecast.h: the assets' measured production); else,
 * for the current ISP only, what the assets could produce now; else NAN
 * (the planner then expects none). One pass over the assets, the ISPs
 * inside: most assets of a large site are not PV. */
static void pv_forecast(const struct fg_model *m, int64_t now, int64_t start, int isp,
                        size_t n, const double *learned, double *out)
{
    bool *own = calloc(n ? n : 1, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        out[i] = 0;
        if (own)
            own[i] = true;
    }
    for (size_t k = 0; k < m->n_assets; k++) {
        const struct fg_asset *a = &m->assets[k];
        if (a->kind != FG_ASSET_PV)
            continue;
        for (size_t i = 0; i < n; i++) {
            int64_t t = start + (int64_t)i * isp;
            int64_t at = t < now ? now : t;
            struct fg_envelope e = fg_asset_envelope_at(a, now, at);
            out[i] += e.min_w < 0 ? -e.min_w : 0;
            if (own && a->online && !pv_own_forecast(a, at))
                own[i] = false;
        }
    }
    for (size_t i = 0; i < n && own; i++) {
        if (own[i])
            continue;
        if (learned && isfinite(learned[i]))
            out[i] = learned[i] > 0 ? learned[i] : 0;
        else if (i > 0)
            out[i] = NAN;
    }
    free(own);
}

/* The inflexible-load forecast per ISP from the site's history, gaps filled
 * with the nearest known value; 0 when nothing is known (the view then has
 * no load forecast and the planner takes the loads' measured power). */
static size_t load_forecast(double *v, size_t n)
{
    size_t first = n;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            first = i;
            break;
        }
    if (first == n)
        return 0;
    for (size_t i = 0; i < first; i++)
        v[i] = v[first];
    for (size_t i = first + 1; i < n; i++)
        if (!isfinite(v[i]))
            v[i] = v[i - 1];
    return n;
}

bool fg_sched_overridden(const struct fg_asset *a, int64_t now)
{
    return a->sp.active && a->sp.source != FG_SP_SCHEDULER &&
           a->sp.source != FG_SP_FALLBACK &&
           (a->sp.expires_at == 0 || a->sp.expires_at > now);
}

void fg_sched_view_build(const struct fg_model *m, int64_t now, int horizon_s,
                         double kw_max_w, const struct fg_forecast *fc,
                         struct fg_sched_asset *assets, double *values,
                         struct fg_sched_view *v)
{
    struct fg_limits lim;
    int isp = m->site.isp_s > 0 ? m->site.isp_s : 900;
    size_t n = fg_sched_view_values(horizon_s, isp) / N_SERIES;
    int64_t start = now - (((now % isp) + isp) % isp);
    memset(v, 0, sizeof(*v));
    v->size = sizeof(*v);
    v->abi = FG_SCHED_ABI_VERSION;
    v->now = now;
    v->isp_s = isp;
    v->horizon_s = horizon_s;
    v->site_power_w = fg_model_site_power(m);
    for (int i = 0; i < 3; i++)
        v->site_voltage_v[i] = m->site.meter_v[i];
    fg_model_limits_at(m, now, &lim);
    v->import_max_w = lim.import_max_w;
    v->export_max_w = lim.export_max_w;
    v->kw_max_w = kw_max_w;
    v->dispatch_w = lim.has_dispatch ? lim.dispatch_w : NAN;
    v->reactive_var = reactive_at(m, now);
    v->island = lim.island;
    v->soc_target_pct = lim.soc_target_pct;
    v->soc_target_until = lim.soc_target_until;
    v->plan_created = 0; /* set by fg_sched_view_plan */
    v->plan_site_w = NAN;
    struct fg_sched_series *s[N_SERIES] = {
        &v->price_import,        &v->price_export,      &v->import_max_w_series,
        &v->export_max_w_series, &v->dispatch_w_series, &v->pv_forecast_w,
        &v->load_forecast_w,     &v->soc_target_series};
    for (int k = 0; k < N_SERIES; k++) {
        s[k]->start = start;
        s[k]->step_s = isp;
        s[k]->v = values + (size_t)k * n;
        s[k]->n = (uint32_t)n;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t t = start + (int64_t)i * isp;
        int64_t at = t < now ? now : t;
        fg_model_limits_at(m, at, &lim);
        values[0 * n + i] = lim.price_import;
        values[1 * n + i] = lim.price_export;
        values[2 * n + i] = lim.import_max_w;
        values[3 * n + i] = lim.export_max_w;
        values[4 * n + i] = lim.has_dispatch ? lim.dispatch_w : NAN;
        values[7 * n + i] = lim.soc_target_pct;
    }
    /* the learned forecasts (forecast.h): load into its series, PV to
     * stand in where the PV assets have no forecast of their own */
    double *learned_pv = n ? malloc(n * sizeof(double)) : NULL;
    for (size_t i = 0; i < n; i++)
        values[6 * n + i] = NAN;
    if (fc)
        fg_forecast_series(fc, start, isp, n, values + 6 * n, learned_pv, NULL, NULL);
    pv_forecast(m, now, start, isp, n, fc && learned_pv ? learned_pv : NULL,
                values + 5 * n);
    free(learned_pv);
    v->load_forecast_w.n = (uint32_t)load_forecast(values + 6 * n, n);
    if (!v->load_forecast_w.n)
        v->load_forecast_w.v = NULL;
    for (size_t i = 0; i < m->n_assets; i++) {
        view_asset(&m->assets[i], &assets[i]);
        /* An operator's (or a signal source's) own set-point overrides the
         * scheduler until it expires: the scheduler sees that asset pinned
         * at it, and its own set-points for it are not applied. */
        if (fg_sched_overridden(&m->assets[i], now))
            assets[i].min_w = assets[i].max_w = m->assets[i].sp.w;
    }
    v->n_assets = (uint32_t)m->n_assets;
    v->asset_stride = sizeof(struct fg_sched_asset);
    v->assets = assets;
}

/* The plan's row of asset id; i is where it usually is (the plan was made
 * from a view of the same model). SIZE_MAX when the plan has none. */
static size_t plan_row(const struct fg_plan *p, const char *id, size_t i)
{
    if (i < p->n_assets && !strcmp(p->asset_ids[i], id))
        return i;
    for (size_t k = 0; k < p->n_assets; k++)
        if (!strcmp(p->asset_ids[k], id))
            return k;
    return SIZE_MAX;
}

/* The ISP of the plan that holds t, or -1. */
static int64_t plan_isp_at(const struct fg_plan *p, int64_t t)
{
    if (!p->created || !p->n_isp || p->isp_s <= 0 || !p->w || !p->asset_ids ||
        t < p->start)
        return -1;
    int64_t k = (t - p->start) / p->isp_s;
    return k < (int64_t)p->n_isp ? k : -1;
}

void fg_sched_view_plan(const struct fg_model *m, struct fg_sched_view *v,
                        struct fg_sched_asset *assets)
{
    const struct fg_plan *p = &m->plan;
    int64_t k = plan_isp_at(p, v->now);
    if (k < 0)
        return;
    v->plan_created = p->created;
    v->plan_site_w = fg_plan_isp(p, FG_PLAN_SITE_W, (size_t)k);
    for (size_t i = 0; i < v->n_assets && i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        size_t r = plan_row(p, a->id, i);
        if (r == SIZE_MAX)
            continue;
        /* An EV that arrived after the plan was made is not in it; nor is
         * one that has not said how much energy it wants: the planner gives
         * such an EV nothing (it cannot value what it does not know), and
         * the real-time scheduler's own rules charge it. */
        if (a->kind == FG_ASSET_EVSE && a->evse.session_active &&
            (a->evse.session_start > p->created || !(a->evse.energy_requested_wh > 0)))
            continue;
        assets[i].plan_w = p->w[r * p->n_isp + (size_t)k];
    }
}

/* ---- the guard ------------------------------------------------------------------ */

int fg_sched_guard_check(const struct fg_model *m, const struct fg_sched_setpoint *sp,
                         uint32_t n, char *why, size_t why_len)
{
    unsigned bad = 0;
    why[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        const char *what = NULL;
        if (!fg_model_find_asset_c(m, sp[i].id))
            what = "no such asset";
        else if (!isfinite(sp[i].w))
            what = "power is not a finite number";
        else if ((sp[i].flags & FG_SCHED_SP_VAR) && !isfinite(sp[i].var))
            what = "reactive power is not a finite number";
        if (what && !bad++)
            snprintf(why, why_len, "set-point %u (\"%.48s\", %g W): %s", i, sp[i].id,
                     sp[i].w, what);
    }
    if (!bad)
        return 0;
    size_t l = strlen(why);
    if (bad > 1 && l < why_len)
        snprintf(why + l, why_len - l, " (and %u more)", bad - 1);
    return FG_EINVAL;
}

/* ---- the fallback schedule ------------------------------------------------------- */

static size_t add_action(struct fg_sched_fallback_action *out, size_t n, size_t cap,
                         const char *id, bool clear, double w)
{
    if (n >= cap)
        return n;
    snprintf(out[n].id, sizeof(out[n].id), "%s", id);
    out[n].clear = clear;
    out[n].w = w;
    return n + 1;
}

static double measured(const struct fg_asset *a)
{
    return isfinite(a->power_w) ? a->power_w : 0;
}

/* The site exports more than it may: discharging batteries stop, then
 * curtailable PV gives up the same fraction of its production, as far as
 * needed (aiming a little inside the limit). Each only moves towards 0 W
 * and by no more than the excess, so the site stays an exporter: no import
 * limit can be crossed this way. */
static size_t fallback_export(const struct fg_model *m, double excess, double limit,
                              struct fg_sched_fallback_action *out, size_t n, size_t cap)
{
    double margin = limit * FALLBACK_MARGIN;
    excess += margin > FALLBACK_MARGIN_MIN_W ? margin : FALLBACK_MARGIN_MIN_W;
    for (size_t i = 0; i < m->n_assets && excess > 0; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->kind == FG_ASSET_BATTERY && a->online && measured(a) < 0) {
            n = add_action(out, n, cap, a->id, false, 0);
            excess += measured(a);
        }
    }
    double curtailable = 0;
    for (size_t i = 0; i < m->n_assets && excess > 0; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->kind == FG_ASSET_PV && a->online && a->pv.curtailable && measured(a) < 0)
            curtailable -= measured(a);
    }
    if (!(excess > 0) || !(curtailable > 0))
        return n;
    double share = excess >= curtailable ? 1.0 : excess / curtailable;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->kind == FG_ASSET_PV && a->online && a->pv.curtailable && measured(a) < 0)
            n = add_action(out, n, cap, a->id, false, measured(a) * (1.0 - share));
    }
    return n;
}

size_t fg_sched_fallback(const struct fg_model *m, int64_t now,
                         struct fg_sched_fallback_action *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->sp.active && a->sp.source == FG_SP_SCHEDULER)
            n = add_action(out, n, cap, a->id, true, 0);
    }
    struct fg_limits lim;
    fg_model_limits_at(m, now, &lim);
    double site = fg_model_site_power(m);
    double excess = site - lim.import_max_w;
    if (-site - lim.export_max_w > 0)
        return fallback_export(m, -site - lim.export_max_w, lim.export_max_w, out, n,
                               cap);
    if (!(excess > 0)) {
        /* within the limit: the caps set earlier hold (renewed) */
        for (size_t i = 0; i < m->n_assets; i++) {
            const struct fg_asset *a = &m->assets[i];
            if (a->sp.active && a->sp.source == FG_SP_FALLBACK)
                n = add_action(out, n, cap, a->id, false, a->sp.w);
        }
        return n;
    }
    /* aim a little below the limit: measurements lag and loads wander */
    double margin = lim.import_max_w * FALLBACK_MARGIN;
    excess += margin > FALLBACK_MARGIN_MIN_W ? margin : FALLBACK_MARGIN_MIN_W;
    for (size_t i = 0; i < m->n_assets && excess > 0; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->kind == FG_ASSET_BATTERY && a->online && measured(a) > 0) {
            n = add_action(out, n, cap, a->id, false, 0);
            excess -= measured(a);
        }
    }
    if (!(excess > 0))
        return n;
    double reducible = 0;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        double floor = a->env.min_w > 0 ? a->env.min_w : 0;
        if (a->kind == FG_ASSET_EVSE && a->online && measured(a) > floor)
            reducible += measured(a) - floor;
    }
    if (!(reducible > 0))
        return n;
    double share = excess >= reducible ? 1.0 : excess / reducible;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        double floor = a->env.min_w > 0 ? a->env.min_w : 0;
        if (a->kind == FG_ASSET_EVSE && a->online && measured(a) > floor)
            n = add_action(out, n, cap, a->id, false,
                           measured(a) - share * (measured(a) - floor));
    }
    return n;
}

static void run_fallback(struct fg_gw *gw, int64_t now)
{
    size_t cap = 2 * gw->model.n_assets + 1; /* a release and a cap per asset */
    struct fg_sched_fallback_action *act = calloc(cap, sizeof(*act));
    if (!act) {
        fg_err("sched", "fallback schedule: out of memory");
        return;
    }
    size_t n = fg_sched_fallback(&gw->model, now, act, cap);
    struct fg_sp_batch batch;
    bool batched = fg_sp_batch_init(&batch, gw) == 0;
    for (size_t i = 0; i < n && batched; i++) {
        const struct fg_asset *a = fg_model_find_asset_c(&gw->model, act[i].id);
        /* a released asset counts at what it measures */
        if (a)
            fg_sp_batch_intend(&batch, gw, act[i].id,
                               act[i].clear ? (isfinite(a->power_w) ? a->power_w : 0)
                                            : act[i].w);
    }
    for (size_t i = 0; i < n; i++) {
        const struct fg_asset *a = fg_model_find_asset_c(&gw->model, act[i].id);
        double prev = a && a->sp.active && a->sp.source == FG_SP_FALLBACK ? a->sp.w : NAN;
        struct fg_error e = {0};
        int rc = act[i].clear ? fg_gw_setpoint_clear(gw, act[i].id, &e)
                 : batched
                     ? fg_sp_batch_apply(&batch, gw, act[i].id, act[i].w, NAN,
                                         FG_SP_FALLBACK, now + FALLBACK_HOLD_S, NULL, &e)
                     : fg_gw_setpoint(gw, act[i].id, act[i].w, FG_SP_FALLBACK,
                                      now + FALLBACK_HOLD_S, NULL, &e);
        if (rc)
            fg_warn("sched", "fallback schedule: %s: %s", act[i].id, e.msg);
        else if (!act[i].clear && !(prev == act[i].w))
            fg_info("sched",
                    "fallback schedule: %s limited to %.0f W (site beyond its "
                    "import or export limit)",
                    act[i].id, act[i].w);
    }
    if (batched)
        fg_sp_batch_free(&batch, gw);
    free(act);
}

static void plan_tick(struct fg_gw *gw, int64_t now);

/* ---- the exchange ---------------------------------------------------------------- */

struct wear_entry {
    char id[FG_ID_MAX];
    struct fg_age_state st;
    double soc, replacement_cost, eol_soh;
};

/* The ageing states wear_cost_per_kwh() answers from. */
struct wear_set {
    struct wear_entry *e;
    size_t n;
};

struct job {
    struct fg_gw *gw;
    unsigned gen;
    struct fg_sched_proc *proc;
    struct fg_sched_wbuf view;
    int timeout_ms;
    struct wear_set wear;
    struct fg_sched_setpoints out;
    enum fg_sched_outcome outcome;
    char why[512];
    char name[64];
};

/* wear_cost_per_kwh() on the exchange thread: from the snapshot taken on
 * the loop thread with the view. */
static double job_wear(void *ctx, const char *id, double dod, double crate, double temp)
{
    const struct wear_set *ws = ctx;
    for (size_t i = 0; i < ws->n; i++) {
        const struct wear_entry *w = &ws->e[i];
        if (strcmp(w->id, id))
            continue;
        double cap_kwh = w->st.capacity_wh / 1000.0;
        if (!(dod > 0 && dod <= 1) || !(cap_kwh > 0) || !isfinite(crate) ||
            !(w->replacement_cost > 0))
            return 0;
        double cost = fg_age_cycle_cost(&w->st, dod, isfinite(w->soc) ? w->soc : 50.0,
                                        crate, isfinite(temp) ? temp : 25.0,
                                        w->replacement_cost, w->eol_soh);
        return isfinite(cost) && cost > 0 ? cost / (2.0 * dod * cap_kwh) : 0;
    }
    return 0;
}

static void job_free(struct job *j)
{
    fg_sched_wbuf_clear(&j->view);
    free(j->wear.e);
    free(j->out.sp);
    free(j);
}

static void job_work(void *arg)
{
    struct job *j = arg;
    j->outcome =
        fg_sched_proc_realtime(j->proc, j->view.p, j->view.len, j->timeout_ms, job_wear,
                               &j->wear, &j->out, j->why, sizeof(j->why));
    snprintf(j->name, sizeof(j->name), "%s", j->proc->name);
}

static void count_failure(struct fg_gw *gw, enum fg_sched_outcome o)
{
    gw->metrics.sched_failures++;
    if (o == FG_SCHED_TIMEOUT)
        gw->metrics.sched_timeouts++;
    if (o == FG_SCHED_CRASHED)
        gw->metrics.sched_crashes++;
}

static void enter_fallback(struct fg_gw *gw, int64_t now)
{
    struct fg_scheduler *s = &gw->sched;
    if (!s->fallback) {
        s->fallback = true;
        gw->metrics.sched_fallbacks++;
        gw->metrics.sched_fallback_active = 1;
        fg_warn("sched", "scheduler \"%s\": the safe fallback schedule takes over",
                s->name);
    }
    run_fallback(gw, now);
}

/* No adapter can switch an inverter between grid-following and
 * grid-forming: say so once per asset and scheduler start, not every call. */
static void mode_not_executable(struct fg_scheduler *s, const char *name,
                                const struct fg_asset *a, uint32_t flags)
{
    for (size_t i = 0; i < s->n_mode_logged; i++)
        if (!strcmp(s->mode_logged[i], a->id))
            return;
    char(*more)[FG_ID_MAX] =
        realloc(s->mode_logged, (s->n_mode_logged + 1) * sizeof(*s->mode_logged));
    if (more) {
        s->mode_logged = more;
        snprintf(more[s->n_mode_logged++], FG_ID_MAX, "%s", a->id);
    }
    fg_warn("sched",
            "%s: %s asked to switch to %s: not executable (no adapter switches the "
            "inverter mode), its active-power set-point is applied",
            name, a->id,
            (flags & FG_SCHED_SP_GRID_FORMING) ? "grid-forming" : "grid-following");
}

/* What a set-point's flags make of it for asset a (docs/scheduler.md, "The
 * guard"): on a disconnectable load, FG_SCHED_SP_DISCONNECT is a 0 W
 * set-point (the load's envelope is [0, rated]: 0 W is off) and
 * FG_SCHED_SP_CONNECT releases the scheduler's set-point, handing the load
 * back to its own default (on). *release is set for the latter. Returns the
 * power to set. The flags mean nothing on other assets. */
static double flagged_w(const struct fg_asset *a, const struct fg_sched_setpoint *sp,
                        bool *release)
{
    *release = false;
    if (!a || a->kind != FG_ASSET_LOAD || a->load.type != FG_LOAD_DISCONNECTABLE)
        return sp->w;
    if (sp->flags & FG_SCHED_SP_DISCONNECT)
        return 0;
    *release = (sp->flags & FG_SCHED_SP_CONNECT) != 0;
    return sp->w;
}

/* Largest |w| first; ties by id, so the order does not depend on qsort. */
static int by_magnitude(const void *x, const void *y)
{
    const struct fg_sched_setpoint *a = x, *b = y;
    double d = fabs(b->w) - fabs(a->w);
    if (d != 0 && !isnan(d))
        return d > 0 ? 1 : -1;
    return strcmp(a->id, b->id);
}

static void apply_answer(struct fg_gw *gw, struct job *j, int64_t now)
{
    struct fg_scheduler *s = &gw->sched;
    /* Three calls' time and a margin. The calls come at most once per tick
     * of real time (1 s), which a faster simulated clock (the demo at
     * --speed 600) turns into minutes: count the interval in that case as
     * the clock's seconds per tick, or set-points expire between calls. */
    int64_t per = gw->cfg.scheduler.interval_s;
    if (gw->clock.sim && gw->clock.speed > 1 && (int64_t)ceil(gw->clock.speed) > per)
        per = (int64_t)ceil(gw->clock.speed);
    int64_t expires = now + 3 * per + 2;
    unsigned clamped = 0, failed = 0;
    /* the answer as a whole: each set-point is clamped with the others at
     * their new values (fg_sp_batch) */
    struct fg_sp_batch batch;
    bool batched = fg_sp_batch_init(&batch, gw) == 0;
    /* An answer that overshoots a limit by a little (the site moved since
     * its view) is clamped in the first set-points applied: the largest
     * go first, so a few watts do not push an EV below its minimum
     * current (to 0 W) while another has room to give. */
    qsort(j->out.sp, j->out.n, sizeof(*j->out.sp), by_magnitude);
    for (uint32_t i = 0; i < j->out.n && batched; i++) {
        const struct fg_sched_setpoint *sp = &j->out.sp[i];
        const struct fg_asset *a = fg_model_find_asset_c(&gw->model, sp->id);
        bool release;
        double w = flagged_w(a, sp, &release);
        if (a && !release && !fg_sched_overridden(a, now))
            fg_sp_batch_intend(&batch, gw, sp->id, w);
    }
    for (uint32_t i = 0; i < j->out.n; i++) {
        const struct fg_sched_setpoint *sp = &j->out.sp[i];
        struct fg_setpoint applied;
        struct fg_error e = {0};
        double var = (sp->flags & FG_SCHED_SP_VAR) ? sp->var : NAN;
        const struct fg_asset *a = fg_model_find_asset_c(&gw->model, sp->id);
        bool release;
        if (a && fg_sched_overridden(a, now))
            continue;
        if (a && a->kind == FG_ASSET_BATTERY &&
            (sp->flags & (FG_SCHED_SP_GRID_FORMING | FG_SCHED_SP_GRID_FOLLOWING)))
            mode_not_executable(s, j->name, a, sp->flags);
        double w = flagged_w(a, sp, &release);
        if (release) {
            if (a->sp.active && a->sp.source == FG_SP_SCHEDULER &&
                fg_gw_setpoint_clear(gw, sp->id, &e) == 0)
                fg_info("sched", "%s: %s switched on again (set-point released)", j->name,
                        sp->id);
            continue;
        }
        if (a && w == 0 && (sp->flags & FG_SCHED_SP_DISCONNECT) && a->load.connected &&
            !(a->sp.active && a->sp.source == FG_SP_SCHEDULER && a->sp.w == 0))
            fg_info("sched", "%s: %s switched off (0 W)", j->name, sp->id);
        int rc = batched ? fg_sp_batch_apply(&batch, gw, sp->id, w, var, FG_SP_SCHEDULER,
                                             expires, &applied, &e)
                         : fg_gw_setpoint_var(gw, sp->id, w, var, FG_SP_SCHEDULER,
                                              expires, &applied, &e);
        if (rc) {
            if (!failed++)
                fg_dbg("sched", "%s: set-point for %s not applied: %s", j->name, sp->id,
                       e.msg);
        } else if (applied.clamp && clamped++ == 0) {
            /* info when clamping starts, not every second */
            bool news = s->last_clamped == 0;
            fg_log(news ? FG_LOG_INFO : FG_LOG_DEBUG, "sched",
                   "%s: %s asked %.0f W, clamped to %.0f W by the%s%s%s", j->name, sp->id,
                   sp->w, applied.w,
                   (applied.clamp & FG_CLAMP_ENVELOPE) ? " envelope" : "",
                   (applied.clamp & FG_CLAMP_IMPORT) ? " import limit" : "",
                   (applied.clamp & FG_CLAMP_EXPORT) ? " export limit" : "");
        }
    }
    if (batched)
        fg_sp_batch_free(&batch, gw);
    s->last_clamped = clamped;
    if (s->fallback) {
        s->fallback = false;
        gw->metrics.sched_fallback_active = 0;
        fg_info("sched", "scheduler \"%s\" answers correctly again: it is back in charge",
                j->name);
    }
}

static void job_done(void *arg, int cancelled)
{
    struct job *j = arg;
    struct fg_gw *gw = j->gw;
    if (cancelled || j->gen != gw->sched.gen) {
        job_free(j);
        return;
    }
    struct fg_scheduler *s = &gw->sched;
    int64_t now = fg_gw_now(gw);
    s->busy = false;
    snprintf(s->name, sizeof(s->name), "%s", j->name);
    char why[512];
    if (j->outcome == FG_SCHED_OK &&
        fg_sched_guard_check(&gw->model, j->out.sp, j->out.n, why, sizeof(why))) {
        gw->metrics.sched_refused++;
        count_failure(gw, j->outcome);
        fg_warn("sched", "scheduler \"%s\": answer refused: %s", j->name, why);
        enter_fallback(gw, now);
    } else if (j->outcome != FG_SCHED_OK) {
        count_failure(gw, j->outcome);
        if (j->outcome == FG_SCHED_DOWN && s->fallback)
            fg_dbg("sched", "%s", j->why);
        else
            fg_warn("sched", "scheduler: %s", j->why);
        enter_fallback(gw, now);
    } else {
        apply_answer(gw, j, now);
    }
    job_free(j);
    if (s->kick && gw->sched_kick_ready)
        fg_timer_start(&gw->sched_kick, 0); /* something changed during the call */
}

static int snapshot_wear(struct fg_gw *gw, struct wear_set *ws)
{
    size_t n = 0;
    for (size_t i = 0; i < gw->model.n_assets; i++)
        n += gw->model.assets[i].kind == FG_ASSET_BATTERY ||
             gw->model.assets[i].kind == FG_ASSET_EVSE;
    ws->e = calloc(n ? n : 1, sizeof(*ws->e));
    if (!ws->e)
        return FG_ENOMEM;
    for (size_t i = 0; i < gw->model.n_assets; i++) {
        const struct fg_asset *a = &gw->model.assets[i];
        struct fg_error e = {0};
        struct fg_health_entry *h;
        if (a->kind != FG_ASSET_BATTERY && a->kind != FG_ASSET_EVSE)
            continue;
        if (!(h = fg_health_find(&gw->health, a, &e)) || !h->started)
            continue;
        const struct fg_cfg_ageing *c = fg_health_cfg(&gw->cfg, h);
        struct wear_entry *w = &ws->e[ws->n++];
        snprintf(w->id, sizeof(w->id), "%s", a->id);
        w->st = h->st;
        w->soc = a->kind == FG_ASSET_BATTERY ? a->battery.soc : a->evse.ev_soc;
        w->replacement_cost = c ? c->replacement_cost : 0;
        w->eol_soh = c ? c->eol_soh : 80;
    }
    return 0;
}

/* What the view cannot know from the model alone: which assets' adapters
 * take reactive-power set-points (fg_adapter_ops.reactive, per device when
 * the adapter has can_var). FG_SCHED_CAP_GRID_FORMING stays unset: no
 * adapter can switch an inverter's mode. */
static void view_caps(const struct fg_gw *gw, struct fg_sched_asset *assets)
{
    for (size_t i = 0; i < gw->model.n_assets; i++) {
        const struct fg_asset *a = &gw->model.assets[i];
        for (size_t k = 0; k < gw->n_adapters; k++) {
            const struct fg_adapter_ops *ops = gw->adapters[k].ops;
            void *st = gw->adapters[k].state;
            if (!st || strcmp(ops->name, a->adapter))
                continue;
            if (ops->reactive && (!ops->can_var || ops->can_var(st, a)))
                assets[i].caps |= FG_SCHED_CAP_REACTIVE;
            break;
        }
    }
}

/* The view of the model at now as a scheduler gets it (the plan in force,
 * the adapters' capabilities), encoded into w; its series into values
 * (fg_sched_view_values long). *v keeps the view's scalars and series; its
 * asset pointer is not valid after the return. FG_ENOMEM or w's error. */
static int encode_view(struct fg_gw *gw, int64_t now, double *values,
                       struct fg_sched_wbuf *w, struct fg_sched_view *v)
{
    struct fg_sched_asset *assets =
        calloc(gw->model.n_assets ? gw->model.n_assets : 1, sizeof(*assets));
    if (!assets)
        return FG_ENOMEM;
    fg_sched_view_build(&gw->model, now, gw->cfg.scheduler.horizon_h * 3600,
                        gw->cfg.site.kw_max_w, &gw->forecast, assets, values, v);
    fg_sched_view_plan(&gw->model, v, assets);
    view_caps(gw, assets);
    fg_sched_wbuf_init(w);
    fg_sched_view_encode(w, v);
    free(assets);
    v->assets = NULL;
    return w->err;
}

static struct job *make_job(struct fg_gw *gw, int64_t now)
{
    struct fg_scheduler *s = &gw->sched;
    int horizon_s = gw->cfg.scheduler.horizon_h * 3600;
    int isp = gw->model.site.isp_s > 0 ? gw->model.site.isp_s : 900;
    struct job *j = calloc(1, sizeof(*j));
    double *values = calloc(fg_sched_view_values(horizon_s, isp) + 1, sizeof(double));
    struct fg_sched_view v;
    if (j) {
        j->out.cap = (uint32_t)(gw->model.n_assets + EXTRA_SP);
        j->out.sp = calloc(j->out.cap, sizeof(*j->out.sp));
    }
    if (!j || !values || !j->out.sp || snapshot_wear(gw, &j->wear) ||
        encode_view(gw, now, values, &j->view, &v)) {
        if (j)
            job_free(j);
        free(values);
        return NULL;
    }
    free(values);
    j->gw = gw;
    j->gen = s->gen;
    j->proc = s->proc;
    j->timeout_ms = s->timeout_ms;
    return j;
}

static void realtime_tick(struct fg_gw *gw, int64_t now)
{
    struct fg_scheduler *s = &gw->sched;
    if (!s->running) {
        s->kick = false;
        return;
    }
    if (s->busy) {
        /* A call that outlasts its deadline by a second is a worker being
         * (re)started, whose create() may take up to its own limit: the
         * site is not left without control meanwhile. */
        if (s->fallback)
            run_fallback(gw, now);
        else if (fg_mono_ms() - s->call_mono_ms > s->timeout_ms + 1000) {
            fg_warn("sched",
                    "scheduler \"%s\": no answer after %lld ms (a worker starting?)",
                    s->name, (long long)(fg_mono_ms() - s->call_mono_ms));
            enter_fallback(gw, now);
        }
        return;
    }
    if (!s->kick && s->last_call && now - s->last_call < gw->cfg.scheduler.interval_s &&
        now >= s->last_call)
        return;
    s->kick = false;
    struct job *j = make_job(gw, now);
    if (!j) {
        fg_err("sched", "scheduler: out of memory building the view");
        gw->metrics.sched_failures++;
        enter_fallback(gw, now);
        return;
    }
    if (fg_worker_submit(s->worker, job_work, job_done, j)) {
        job_free(j);
        return;
    }
    s->busy = true;
    s->last_call = now;
    s->call_mono_ms = fg_mono_ms();
    gw->metrics.sched_calls++;
}

void fg_scheduler_tick(struct fg_gw *gw, int64_t now)
{
    plan_tick(gw, now);
    realtime_tick(gw, now);
}

void fg_scheduler_kicked(struct fg_gw *gw, int64_t now)
{
    realtime_tick(gw, now);
}

/* ---- the planner ----------------------------------------------------------------- */

#define PLAN_MIN_GAP_S 10 /* no two plan() calls closer than this (clock s) */
#define PLAN_RETRY_S 60   /* after a failed plan(), try again after this */
#define PLAN_SLACK_CAP 256

struct plan_job {
    struct fg_gw *gw;
    unsigned gen;
    struct fg_sched_proc *proc;
    struct fg_sched_wbuf view;
    int timeout_ms;
    struct wear_set wear;
    struct fg_sched_plan out;
    /* what the view held, for the plan's record */
    int64_t now, isp_start;
    int isp_s;
    uint32_t n_assets, n_view_isp, n_pv;
    char (*ids)[FG_ID_MAX];
    double *series; /* the view's N_SERIES x n_view_isp values */
    bool have_load; /* the view had a load forecast */
    double kw_max_w, conn_import_w, conn_export_w;
    char reason[64];
    enum fg_sched_outcome outcome;
    char why[512];
    char name[64];
    double solve_s;
};

static void plan_job_free(struct plan_job *j)
{
    fg_sched_wbuf_clear(&j->view);
    free(j->wear.e);
    free(j->out.w);
    free(j->out.slack);
    free(j->ids);
    free(j->series);
    free(j);
}

static void plan_job_work(void *arg)
{
    struct plan_job *j = arg;
    int64_t t0 = fg_mono_ms();
    j->outcome = fg_sched_proc_plan(j->proc, j->view.p, j->view.len, j->timeout_ms,
                                    job_wear, &j->wear, &j->out, j->why, sizeof(j->why));
    j->solve_s = (double)(fg_mono_ms() - t0) / 1000.0;
    snprintf(j->name, sizeof(j->name), "%s", j->proc->name);
}

/* The guard for a plan: on the view's ISP grid, from its ISP, every value
 * finite. 0, or FG_EINVAL with the reason. */
static int plan_check(const struct plan_job *j, char *why, size_t len)
{
    const struct fg_sched_plan *o = &j->out;
    if (o->n_isp == 0)
        return snprintf(why, len, "a plan of no ISPs"), FG_EINVAL;
    if (o->isp_s != j->isp_s || o->start != j->isp_start)
        return snprintf(
                   why, len,
                   "a plan from %lld in steps of %d s; the view's ISPs start at %lld "
                   "in steps of %d s",
                   (long long)o->start, o->isp_s, (long long)j->isp_start, j->isp_s),
               FG_EINVAL;
    for (size_t i = 0; i < (size_t)o->n_assets * o->n_isp; i++)
        if (!isfinite(o->w[i]))
            return snprintf(why, len,
                            "asset \"%s\", ISP %zu: power is not a finite number",
                            j->ids[i / o->n_isp], i % o->n_isp),
                   FG_EINVAL;
    if (!isfinite(o->expected_cost))
        return snprintf(why, len, "expected cost is not a finite number"), FG_EINVAL;
    return 0;
}

/* The plan's record: what it assumed and the site power it expects. */
static int plan_record(struct plan_job *j, struct fg_plan *p)
{
    const struct fg_sched_plan *o = &j->out;
    size_t n = o->n_isp, na = o->n_assets, nv = j->n_view_isp;
    memset(p, 0, sizeof(*p));
    p->asset_ids = j->ids;
    p->w = malloc((na * n + 1) * sizeof(double));
    p->isp = malloc(FG_PLAN_N_SERIES * n * sizeof(double));
    p->slack = calloc(o->n_slack ? o->n_slack : 1, sizeof(*p->slack));
    if (!p->w || !p->isp || !p->slack) {
        free(p->w);
        free(p->isp);
        free(p->slack);
        return FG_ENOMEM;
    }
    j->ids = NULL;
    memcpy(p->w, o->w, na * n * sizeof(double));
    p->created = j->now;
    p->start = o->start;
    p->isp_s = o->isp_s;
    p->n_isp = n;
    p->n_assets = na;
    p->expected_cost = o->expected_cost;
    p->cost_energy = o->cost_energy;
    p->cost_wear = o->cost_wear;
    p->cost_demand = o->cost_demand;
    p->cost_penalty = o->cost_penalty;
    snprintf(p->services, sizeof(p->services), "%s", o->services);
    snprintf(p->producer, sizeof(p->producer), "%.31s", j->name);
    snprintf(p->reason, sizeof(p->reason), "%s", j->reason);
    p->kw_max_w = j->kw_max_w;
    p->connection_import_w = j->conn_import_w;
    p->connection_export_w = j->conn_export_w;
    p->solve_s = j->solve_s;
    for (size_t i = 0; i < o->n_slack; i++) {
        const struct fg_sched_slack *x = &o->slack[i];
        struct fg_plan_slack *y = &p->slack[p->n_slack++];
        snprintf(y->name, sizeof(y->name), "%s", x->name);
        snprintf(y->asset, sizeof(y->asset), "%s", x->asset);
        y->at = x->at;
        y->amount = x->amount;
        snprintf(y->unit, sizeof(y->unit), "%s", x->unit);
    }
    /* view series order: price_import, price_export, import_max, export_max,
     * dispatch, pv, load */
    static const int from[FG_PLAN_N_SERIES] = {
        [FG_PLAN_LOAD_W] = 6,       [FG_PLAN_PV_W] = 5,
        [FG_PLAN_PRICE_IMPORT] = 0, [FG_PLAN_PRICE_EXPORT] = 1,
        [FG_PLAN_IMPORT_MAX_W] = 2, [FG_PLAN_EXPORT_MAX_W] = 3,
        [FG_PLAN_DISPATCH_W] = 4};
    for (size_t i = 0; i < n; i++) {
        for (int k = FG_PLAN_LOAD_W; k < FG_PLAN_N_SERIES; k++)
            p->isp[(size_t)k * n + i] = i < nv && (k != FG_PLAN_LOAD_W || j->have_load)
                                            ? j->series[(size_t)from[k] * nv + i]
                                            : NAN;
        /* what the plan expects at the connection: its assets, the load
         * forecast it was given, and the PV forecast when no PV asset
         * carries it (fg_scheduler.h: plan_site_w) */
        double site = 0;
        for (size_t a = 0; a < na; a++)
            site += p->w[a * n + i];
        double load = p->isp[FG_PLAN_LOAD_W * n + i];
        double pv = p->isp[FG_PLAN_PV_W * n + i];
        site += isfinite(load) ? load : 0;
        if (!j->n_pv && isfinite(pv))
            site -= pv;
        p->isp[FG_PLAN_SITE_W * n + i] = site;
    }
    return 0;
}

static void plan_done(void *arg, int cancelled)
{
    struct plan_job *j = arg;
    struct fg_gw *gw = j->gw;
    if (cancelled || j->gen != gw->sched.gen) {
        plan_job_free(j);
        return;
    }
    struct fg_scheduler *s = &gw->sched;
    int64_t now = fg_gw_now(gw);
    char why[512];
    s->plan_busy = false;
    if (j->outcome != FG_SCHED_OK) {
        snprintf(why, sizeof(why), "%s", j->why);
    } else if (!plan_check(j, why, sizeof(why))) {
        struct fg_plan p;
        if (plan_record(j, &p)) {
            snprintf(why, sizeof(why), "out of memory keeping the plan");
        } else {
            gw->metrics.plans++;
            gw->metrics.plan_solve_s = j->solve_s;
            fg_info("sched",
                    "planner \"%s\" (%s): plan of %zu ISPs from %lld, expected cost %.4f "
                    "(energy %.4f, wear %.4f, demand %.4f, penalties %.4f), %zu slack, "
                    "%.2f s",
                    j->name, j->reason, p.n_isp, (long long)p.start, p.expected_cost,
                    p.cost_energy, p.cost_wear, p.cost_demand, p.cost_penalty, p.n_slack,
                    j->solve_s);
            for (size_t i = 0; i < p.n_slack; i++)
                fg_warn("sched", "plan: constraint %s%s%s gave way by %g %s",
                        p.slack[i].name, p.slack[i].asset[0] ? " of " : "",
                        p.slack[i].asset, p.slack[i].amount, p.slack[i].unit);
            fg_model_set_plan(&gw->model, &p);
            plan_job_free(j);
            return;
        }
    }
    gw->metrics.plan_failures++;
    s->plan_retry_at = now + PLAN_RETRY_S;
    fg_warn("sched", "planner: no new plan (%s): %s; %s", j->reason, why,
            gw->model.plan.created ? "the previous plan stays in force"
                                   : "the real-time scheduler works without a plan");
    plan_job_free(j);
}

static struct plan_job *make_plan_job(struct fg_gw *gw, int64_t now, const char *reason)
{
    struct fg_scheduler *s = &gw->sched;
    const struct fg_model *m = &gw->model;
    int horizon_s = gw->cfg.scheduler.horizon_h * 3600;
    int isp = m->site.isp_s > 0 ? m->site.isp_s : 900;
    size_t nv = fg_sched_view_values(horizon_s, isp) / N_SERIES;
    struct plan_job *j = calloc(1, sizeof(*j));
    struct fg_sched_view v;
    if (!j)
        return NULL;
    j->series = calloc(nv * N_SERIES + 1, sizeof(double));
    j->ids = calloc(m->n_assets ? m->n_assets : 1, sizeof(*j->ids));
    j->out.w = calloc(m->n_assets * nv + 1, sizeof(double));
    j->out.slack = calloc(PLAN_SLACK_CAP, sizeof(*j->out.slack));
    if (!j->series || !j->ids || !j->out.w || !j->out.slack ||
        snapshot_wear(gw, &j->wear) || encode_view(gw, now, j->series, &j->view, &v)) {
        plan_job_free(j);
        return NULL;
    }
    for (size_t i = 0; i < m->n_assets; i++) {
        snprintf(j->ids[i], sizeof(j->ids[i]), "%s", m->assets[i].id);
        j->n_pv += m->assets[i].kind == FG_ASSET_PV;
    }
    j->gw = gw;
    j->gen = s->gen;
    j->proc = s->plan_proc;
    j->timeout_ms = s->plan_timeout_s * 1000;
    j->out.cap_isp = (uint32_t)nv;
    j->out.n_assets = (uint32_t)m->n_assets;
    j->out.slack_cap = PLAN_SLACK_CAP;
    j->now = now;
    j->isp_s = isp;
    j->isp_start = v.price_import.start;
    j->n_assets = (uint32_t)m->n_assets;
    j->n_view_isp = (uint32_t)nv;
    j->have_load = v.load_forecast_w.n > 0;
    j->kw_max_w = gw->cfg.site.kw_max_w;
    j->conn_import_w = m->site.import_limit_w;
    j->conn_export_w = m->site.export_limit_w;
    snprintf(j->reason, sizeof(j->reason), "%s", reason);
    return j;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xbf58476d1ce4e5b9ull;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
    while (*s)
        h = mix(h, (unsigned char)*s++);
    return h;
}

/* What a new plan depends on that changes by events: EV sessions (arrival,
 * departure, the energy asked for) and signals (new, changed, cancelled). */
static uint64_t fingerprint_evs(const struct fg_model *m)
{
    uint64_t h = 1;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->kind != FG_ASSET_EVSE || !a->evse.session_active)
            continue;
        h = mix_str(h, a->id);
        h = mix(h, (uint64_t)a->evse.session_start);
        h = mix(h, (uint64_t)a->evse.departure);
        h = mix(h, (uint64_t)(int64_t)a->evse.energy_requested_wh);
    }
    return h;
}

static uint64_t fingerprint_signals(const struct fg_model *m)
{
    uint64_t h = 2;
    for (size_t i = 0; i < m->n_signals; i++) {
        const struct fg_signal *g = &m->signals[i];
        h = mix_str(h, g->id);
        h = mix(h, (uint64_t)g->source);
        h = mix(h, (uint64_t)g->status);
        h = mix(h, g->modification);
        h = mix(h, (uint64_t)g->n_intervals);
    }
    return h;
}

/* Follow the uncontrolled load (site less EVs and batteries) over each ISP
 * of the plan; at the ISP's end, a mean further from the plan's than
 * scheduler.replan_deviation_w asks for a new plan. */
static void track_deviation(struct fg_gw *gw, int64_t now)
{
    struct fg_scheduler *s = &gw->sched;
    const struct fg_model *m = &gw->model;
    const struct fg_plan *p = &m->plan;
    int64_t k = plan_isp_at(p, now);
    int64_t isp_start = k >= 0 ? p->start + k * p->isp_s : 0;
    if (s->dev_isp != isp_start) {
        int64_t kp = s->dev_isp ? plan_isp_at(p, s->dev_isp) : -1;
        if (kp >= 0 && s->dev_n >= (unsigned)p->isp_s / 2) {
            double planned = fg_plan_isp(p, FG_PLAN_SITE_W, (size_t)kp);
            for (size_t r = 0; r < p->n_assets; r++) {
                const struct fg_asset *a = fg_model_find_asset_c(m, p->asset_ids[r]);
                if (a && (a->kind == FG_ASSET_EVSE || a->kind == FG_ASSET_BATTERY))
                    planned -= p->w[r * p->n_isp + (size_t)kp];
            }
            double mean = s->dev_sum_w / s->dev_n;
            double thr = isfinite(gw->cfg.scheduler.replan_deviation_w)
                             ? gw->cfg.scheduler.replan_deviation_w
                             : 0.1 * m->site.import_limit_w;
            if (isfinite(planned) && fabs(mean - planned) > thr && !s->plan_want[0])
                snprintf(s->plan_want, sizeof(s->plan_want), "forecast deviation %+.0f W",
                         mean - planned);
        }
        s->dev_isp = isp_start;
        s->dev_sum_w = 0;
        s->dev_n = 0;
    }
    if (k < 0)
        return;
    double base = fg_model_site_power(m);
    for (size_t i = 0; i < m->n_assets && isfinite(base); i++) {
        const struct fg_asset *a = &m->assets[i];
        if ((a->kind == FG_ASSET_EVSE || a->kind == FG_ASSET_BATTERY) && a->online &&
            isfinite(a->power_w))
            base -= a->power_w;
    }
    if (isfinite(base)) {
        s->dev_sum_w += base;
        s->dev_n++;
    }
}

static void plan_tick(struct fg_gw *gw, int64_t now)
{
    struct fg_scheduler *s = &gw->sched;
    if (!s->plan_running || s->plan_busy)
        return;
    track_deviation(gw, now);
    uint64_t fe = fingerprint_evs(&gw->model), fs = fingerprint_signals(&gw->model);
    int64_t since = now - s->plan_last_call;
    const char *why = NULL;
    if (!s->plan_last_call)
        why = "first plan";
    else if (s->plan_want[0])
        why = s->plan_want;
    else if (fe != s->fp_ev)
        why = "EV sessions changed";
    else if (fs != s->fp_sig)
        why = "signals changed";
    else if (since >= gw->cfg.scheduler.plan_interval_s || since < 0)
        why = "periodic re-plan";
    if (!why || now < s->plan_retry_at ||
        (s->plan_last_call && since >= 0 && since < PLAN_MIN_GAP_S))
        return;
    struct plan_job *j = make_plan_job(gw, now, why);
    if (!j) {
        fg_err("sched", "planner: out of memory building the view");
        s->plan_retry_at = now + PLAN_RETRY_S;
        return;
    }
    if (fg_worker_submit(s->plan_worker, plan_job_work, plan_done, j)) {
        plan_job_free(j);
        return;
    }
    fg_dbg("sched", "planner: plan() called (%s)", why);
    s->plan_busy = true;
    s->plan_last_call = now;
    s->plan_want[0] = '\0';
    s->fp_ev = fe;
    s->fp_sig = fs;
}

/* ---- lifecycle ------------------------------------------------------------------- */

/* A worker process for plugin and its exchange thread. */
static int start_proc(struct fg_gw *gw, const char *plugin, const char *options,
                      const char *thread, struct fg_sched_proc **proc,
                      struct fg_worker **worker, struct fg_error *err)
{
    struct fg_sched_proc *p = calloc(1, sizeof(*p));
    if (!p)
        return fg_error_set(err, FG_ENOMEM, "/scheduler", "out of memory");
    fg_sched_proc_init(p, "/proc/self/exe", plugin, options, (int)fg_log_get_level());
    /* stop() makes this readable so that no wait for the worker (its start
     * has seconds) holds up a reload or shutdown */
    p->cancel_fd = eventfd(0, EFD_CLOEXEC);
    int rc = fg_worker_new(gw->loop, thread, worker);
    if (rc) {
        fg_sched_proc_clear(p);
        if (p->cancel_fd >= 0)
            close(p->cancel_fd);
        free(p);
        return fg_error_set(err, rc, "/scheduler", "cannot start the %s thread", thread);
    }
    *proc = p;
    return 0;
}

static void stop_proc(struct fg_sched_proc **proc, struct fg_worker **worker)
{
    struct fg_sched_proc *p = *proc;
    if (p && p->cancel_fd >= 0)
        (void)eventfd_write(p->cancel_fd, 1);
    if (*worker)
        fg_worker_free(*worker); /* the running call returns at once */
    *worker = NULL;
    if (p) {
        fg_sched_proc_clear(p);
        if (p->cancel_fd >= 0)
            close(p->cancel_fd);
        free(p);
    }
    *proc = NULL;
}

/* Does the built-in or plugin name do something (has the function)? */
static bool builtin_idle(const char *name, bool want_plan)
{
    if (!name[0] || !strcmp(name, "none"))
        return true;
    if (!fg_sched_is_builtin(name))
        return false; /* a .so: its worker tells */
    const struct fg_sched_plugin *p = fg_sched_builtin(name);
    return !p || (want_plan ? !p->plan : !p->realtime);
}

static int start_planner(struct fg_gw *gw, struct fg_error *err)
{
    struct fg_scheduler *s = &gw->sched;
    const struct fg_config *c = &gw->cfg;
    snprintf(s->planner, sizeof(s->planner), "%s", c->scheduler.planner);
    snprintf(s->planner_options, sizeof(s->planner_options), "%s",
             c->scheduler.planner_options);
    s->plan_timeout_s = c->scheduler.plan_timeout_s;
    if (builtin_idle(s->planner, true)) {
        fg_info("sched",
                "no planner (scheduler.planner \"%s\"): the real-time "
                "scheduler works without a plan",
                s->planner);
        return 0;
    }
    int rc = start_proc(gw, s->planner, s->planner_options, "planner", &s->plan_proc,
                        &s->plan_worker, err);
    if (rc)
        return rc;
    s->plan_running = true;
    fg_info("sched", "planner %s: plan() every %d s and on events, deadline %d s",
            s->planner, c->scheduler.plan_interval_s, s->plan_timeout_s);
    return 0;
}

int fg_scheduler_start(struct fg_gw *gw, struct fg_error *err)
{
    struct fg_scheduler *s = &gw->sched;
    const struct fg_config *c = &gw->cfg;
    unsigned gen = s->gen + 1;
    bool fallback = s->fallback;
    memset(s, 0, sizeof(*s));
    s->gen = gen;
    s->fallback = fallback;
    snprintf(s->plugin, sizeof(s->plugin), "%s", c->scheduler.plugin);
    snprintf(s->options, sizeof(s->options), "%s", c->scheduler.options);
    const char *base = strrchr(c->scheduler.plugin, '/'); /* until it names itself */
    snprintf(s->name, sizeof(s->name), "%.63s", base ? base + 1 : c->scheduler.plugin);
    s->timeout_ms = c->scheduler.realtime_timeout_ms;
    if (builtin_idle(s->plugin, false)) {
        fg_info("sched", "no real-time scheduler (scheduler.plugin \"%s\")", s->plugin);
        if (s->fallback) {
            s->fallback = false;
            gw->metrics.sched_fallback_active = 0;
        }
    } else {
        int rc =
            start_proc(gw, s->plugin, s->options, "scheduler", &s->proc, &s->worker, err);
        if (rc)
            return rc;
        s->running = true;
        fg_info("sched", "scheduler %s: realtime() every %d s, deadline %d ms", s->plugin,
                c->scheduler.interval_s, s->timeout_ms);
    }
    int rc = start_planner(gw, err);
    if (rc)
        fg_scheduler_stop(gw);
    return rc;
}

void fg_scheduler_stop(struct fg_gw *gw)
{
    struct fg_scheduler *s = &gw->sched;
    free(s->mode_logged);
    s->mode_logged = NULL;
    s->n_mode_logged = 0;
    stop_proc(&s->proc, &s->worker);
    stop_proc(&s->plan_proc, &s->plan_worker);
    s->running = false;
    s->busy = false;
    s->plan_running = false;
    s->plan_busy = false;
    s->gen++;
}

int fg_scheduler_reconfigure(struct fg_gw *gw, struct fg_error *err)
{
    struct fg_scheduler *s = &gw->sched;
    const struct fg_config *c = &gw->cfg;
    if (!strcmp(s->plugin, c->scheduler.plugin) &&
        !strcmp(s->options, c->scheduler.options) &&
        s->timeout_ms == c->scheduler.realtime_timeout_ms &&
        !strcmp(s->planner, c->scheduler.planner) &&
        !strcmp(s->planner_options, c->scheduler.planner_options) &&
        s->plan_timeout_s == c->scheduler.plan_timeout_s) {
        /* the site, its assets or tariff may have changed: plan again */
        snprintf(s->plan_want, sizeof(s->plan_want), "configuration changed");
        return 0;
    }
    fg_info("sched", "scheduler settings changed: restarting it");
    fg_scheduler_stop(gw);
    return fg_scheduler_start(gw, err);
}
