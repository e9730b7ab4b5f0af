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

#define N_SERIES 7
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

/* The PV forecast per ISP: the sum of what the PV assets could produce. One
 * pass over the assets, the ISPs inside: most assets of a large site are not
 * PV. */
static void pv_forecast(const struct fg_model *m, int64_t now, int64_t start, int isp,
                        size_t n, double *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 0;
    for (size_t k = 0; k < m->n_assets; k++) {
        const struct fg_asset *a = &m->assets[k];
        if (a->kind != FG_ASSET_PV)
            continue;
        for (size_t i = 0; i < n; i++) {
            int64_t t = start + (int64_t)i * isp;
            struct fg_envelope e = fg_asset_envelope_at(a, now, t < now ? now : t);
            out[i] += e.min_w < 0 ? -e.min_w : 0;
        }
    }
}

bool fg_sched_overridden(const struct fg_asset *a, int64_t now)
{
    return a->sp.active && a->sp.source != FG_SP_SCHEDULER &&
           a->sp.source != FG_SP_FALLBACK &&
           (a->sp.expires_at == 0 || a->sp.expires_at > now);
}

void fg_sched_view_build(const struct fg_model *m, int64_t now, int horizon_s,
                         double kw_max_w, struct fg_sched_asset *assets, double *values,
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
    v->plan_created = 0; /* set by fg_sched_view_plan */
    v->plan_site_w = NAN;
    struct fg_sched_series *s[N_SERIES] = {
        &v->price_import,        &v->price_export,      &v->import_max_w_series,
        &v->export_max_w_series, &v->dispatch_w_series, &v->pv_forecast_w,
        &v->load_forecast_w};
    for (int k = 0; k < N_SERIES; k++) {
        s[k]->start = start;
        s[k]->step_s = isp;
        s[k]->v = values + (size_t)k * n;
        s[k]->n = (uint32_t)n;
    }
    v->load_forecast_w.n = 0; /* no load forecast in the model yet */
    v->load_forecast_w.v = NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t t = start + (int64_t)i * isp;
        int64_t at = t < now ? now : t;
        fg_model_limits_at(m, at, &lim);
        values[0 * n + i] = lim.price_import;
        values[1 * n + i] = lim.price_export;
        values[2 * n + i] = lim.import_max_w;
        values[3 * n + i] = lim.export_max_w;
        values[4 * n + i] = lim.has_dispatch ? lim.dispatch_w : NAN;
    }
    pv_forecast(m, now, start, isp, n, values + 5 * n);
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
    double excess = fg_model_site_power(m) - lim.import_max_w;
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
    for (size_t i = 0; i < n; i++) {
        const struct fg_asset *a = fg_model_find_asset_c(&gw->model, act[i].id);
        double prev = a && a->sp.active && a->sp.source == FG_SP_FALLBACK ? a->sp.w : NAN;
        struct fg_error e = {0};
        int rc = act[i].clear ? fg_gw_setpoint_clear(gw, act[i].id, &e)
                              : fg_gw_setpoint(gw, act[i].id, act[i].w, FG_SP_FALLBACK,
                                               now + FALLBACK_HOLD_S, NULL, &e);
        if (rc)
            fg_warn("sched", "fallback schedule: %s: %s", act[i].id, e.msg);
        else if (!act[i].clear && !(prev == act[i].w))
            fg_info("sched",
                    "fallback schedule: %s limited to %.0f W (site above its "
                    "import limit)",
                    act[i].id, act[i].w);
    }
    free(act);
}

/* ---- the exchange ---------------------------------------------------------------- */

struct wear_entry {
    char id[FG_ID_MAX];
    struct fg_age_state st;
    double soc, replacement_cost, eol_soh;
};

struct job {
    struct fg_gw *gw;
    unsigned gen;
    struct fg_sched_proc *proc;
    struct fg_sched_wbuf view;
    int timeout_ms;
    struct wear_entry *wear;
    size_t n_wear;
    struct fg_sched_setpoints out;
    enum fg_sched_outcome outcome;
    char why[512];
    char name[64];
};

/* wear_cost_per_kwh() on the exchange thread: from the snapshot taken on
 * the loop thread with the view. */
static double job_wear(void *ctx, const char *id, double dod, double crate, double temp)
{
    struct job *j = ctx;
    for (size_t i = 0; i < j->n_wear; i++) {
        struct wear_entry *w = &j->wear[i];
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
    free(j->wear);
    free(j->out.sp);
    free(j);
}

static void job_work(void *arg)
{
    struct job *j = arg;
    j->outcome = fg_sched_proc_realtime(j->proc, j->view.p, j->view.len, j->timeout_ms,
                                        job_wear, j, &j->out, j->why, sizeof(j->why));
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

static void apply_answer(struct fg_gw *gw, struct job *j, int64_t now)
{
    struct fg_scheduler *s = &gw->sched;
    int64_t expires = now + 3 * (int64_t)gw->cfg.scheduler.interval_s + 2;
    unsigned clamped = 0, failed = 0;
    for (uint32_t i = 0; i < j->out.n; i++) {
        const struct fg_sched_setpoint *sp = &j->out.sp[i];
        struct fg_setpoint applied;
        struct fg_error e = {0};
        double var = (sp->flags & FG_SCHED_SP_VAR) ? sp->var : NAN;
        const struct fg_asset *a = fg_model_find_asset_c(&gw->model, sp->id);
        if (a && fg_sched_overridden(a, now))
            continue;
        int rc = fg_gw_setpoint_var(gw, sp->id, sp->w, var, FG_SP_SCHEDULER, expires,
                                    &applied, &e);
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
}

static int snapshot_wear(struct fg_gw *gw, struct job *j)
{
    size_t n = 0;
    for (size_t i = 0; i < gw->model.n_assets; i++)
        n += gw->model.assets[i].kind == FG_ASSET_BATTERY ||
             gw->model.assets[i].kind == FG_ASSET_EVSE;
    j->wear = calloc(n ? n : 1, sizeof(*j->wear));
    if (!j->wear)
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
        struct wear_entry *w = &j->wear[j->n_wear++];
        snprintf(w->id, sizeof(w->id), "%s", a->id);
        w->st = h->st;
        w->soc = a->kind == FG_ASSET_BATTERY ? a->battery.soc : a->evse.ev_soc;
        w->replacement_cost = c ? c->replacement_cost : 0;
        w->eol_soh = c ? c->eol_soh : 80;
    }
    return 0;
}

static struct job *make_job(struct fg_gw *gw, int64_t now)
{
    struct fg_scheduler *s = &gw->sched;
    int horizon_s = gw->cfg.scheduler.horizon_h * 3600;
    int isp = gw->model.site.isp_s > 0 ? gw->model.site.isp_s : 900;
    struct job *j = calloc(1, sizeof(*j));
    struct fg_sched_asset *assets =
        calloc(gw->model.n_assets ? gw->model.n_assets : 1, sizeof(*assets));
    double *values = calloc(fg_sched_view_values(horizon_s, isp) + 1, sizeof(double));
    if (j) {
        j->out.cap = (uint32_t)(gw->model.n_assets + EXTRA_SP);
        j->out.sp = calloc(j->out.cap, sizeof(*j->out.sp));
    }
    if (!j || !assets || !values || !j->out.sp || snapshot_wear(gw, j)) {
        if (j)
            job_free(j);
        free(assets);
        free(values);
        return NULL;
    }
    struct fg_sched_view v;
    fg_sched_view_build(&gw->model, now, horizon_s, gw->cfg.site.kw_max_w, assets, values,
                        &v);
    fg_sched_wbuf_init(&j->view);
    fg_sched_view_encode(&j->view, &v);
    free(assets);
    free(values);
    if (j->view.err) {
        job_free(j);
        return NULL;
    }
    j->gw = gw;
    j->gen = s->gen;
    j->proc = s->proc;
    j->timeout_ms = s->timeout_ms;
    return j;
}

void fg_scheduler_tick(struct fg_gw *gw, int64_t now)
{
    struct fg_scheduler *s = &gw->sched;
    if (!s->running)
        return;
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
    if (s->last_call && now - s->last_call < gw->cfg.scheduler.interval_s &&
        now >= s->last_call)
        return;
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

/* ---- lifecycle ------------------------------------------------------------------- */

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
    if (!s->plugin[0] || !strcmp(s->plugin, "none")) {
        fg_info("sched", "no scheduler (scheduler.plugin \"none\")");
        goto idle;
    }
    if (fg_sched_is_builtin(s->plugin)) {
        const struct fg_sched_plugin *p = fg_sched_builtin(s->plugin);
        if (!p || (!p->realtime && !p->plan)) {
            fg_info("sched", "scheduler \"%s\" does nothing: no scheduler runs",
                    p && p->name ? p->name : s->plugin);
            goto idle;
        }
    }
    s->proc = calloc(1, sizeof(*s->proc));
    if (!s->proc)
        return fg_error_set(err, FG_ENOMEM, "/scheduler", "out of memory");
    fg_sched_proc_init(s->proc, "/proc/self/exe", s->plugin, s->options,
                       (int)fg_log_get_level());
    /* stop() makes this readable so that no wait for the worker (its start
     * has seconds) holds up a reload or shutdown */
    s->proc->cancel_fd = eventfd(0, EFD_CLOEXEC);
    int rc = fg_worker_new(gw->loop, "scheduler", &s->worker);
    if (rc) {
        fg_sched_proc_clear(s->proc);
        free(s->proc);
        s->proc = NULL;
        return fg_error_set(err, rc, "/scheduler", "cannot start the scheduler thread");
    }
    s->running = true;
    fg_info("sched", "scheduler %s: realtime() every %d s, deadline %d ms", s->plugin,
            c->scheduler.interval_s, s->timeout_ms);
    return 0;
idle:
    if (s->fallback) {
        s->fallback = false;
        gw->metrics.sched_fallback_active = 0;
    }
    return 0;
}

void fg_scheduler_stop(struct fg_gw *gw)
{
    struct fg_scheduler *s = &gw->sched;
    if (s->proc && s->proc->cancel_fd >= 0)
        (void)eventfd_write(s->proc->cancel_fd, 1);
    if (s->worker)
        fg_worker_free(s->worker); /* the running call returns at once */
    s->worker = NULL;
    if (s->proc) {
        fg_sched_proc_clear(s->proc);
        if (s->proc->cancel_fd >= 0)
            close(s->proc->cancel_fd);
        free(s->proc);
    }
    s->proc = NULL;
    s->running = false;
    s->busy = false;
    s->gen++;
}

int fg_scheduler_reconfigure(struct fg_gw *gw, struct fg_error *err)
{
    struct fg_scheduler *s = &gw->sched;
    const struct fg_config *c = &gw->cfg;
    if (!strcmp(s->plugin, c->scheduler.plugin) &&
        !strcmp(s->options, c->scheduler.options) &&
        s->timeout_ms == c->scheduler.realtime_timeout_ms)
        return 0;
    fg_info("sched", "scheduler settings changed: restarting it");
    fg_scheduler_stop(gw);
    return fg_scheduler_start(gw, err);
}
