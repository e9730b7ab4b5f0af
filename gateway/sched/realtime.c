/* The built-in real-time controller (issue 7): view in, set-points out.
 *
 * Why one pass with bounds instead of one function per service: the
 * services compete for the same few watts, and the priority order (limits >
 * islanding > DSO congestion > kWmax > dispatch > self-consumption >
 * fairness) is easiest to keep when every service is a bound or a target on
 * the same sum. The site's net power is
 *
 *     site = base + sum(EV) + sum(battery) + sum(curtailable PV)
 *
 * where base is everything we do not steer (inflexible load, fixed PV),
 * estimated as the measured site power minus the measured power of what we
 * steer. The limits (import_max, export_max, which include the DSO's, and
 * kWmax) bound site; EVs get what fits under the import bound with the
 * batteries fully discharging and PV fully producing (fair share, minimum
 * current, dwell, hysteresis); the batteries then follow the target
 * (dispatch, else zero exchange = self-consumption) inside the bounds; PV
 * is curtailed last, only for the export bound. Volt-watt narrows what PV
 * and batteries may export before all that; volt-var only sets var.
 *
 * With a plan (view->plan_created != 0) the same pass follows it: the
 * battery target becomes the plan's site power, tracked as ISP energy (the
 * rest of the ISP aims at what the plan expects for the whole ISP, so an
 * early deviation is made good later in the same ISP); planned EVs get
 * their plan_w (plus a catch-up of what they fell behind) instead of the
 * laxity rule, V2G EVs discharge when the plan says so, PV follows a
 * curtailing plan when exporting earns nothing. The limits bound all of it
 * exactly as before. docs/realtime.md has the whole picture. */
#include "realtime.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RT_MAX_STATE 256
#define RT_NPTS 4

struct opts {
    double hysteresis_w;
    double min_dwell_s;
    double v_nominal;
    double vv_v[RT_NPTS]; /* pu, increasing */
    double vv_q[RT_NPTS]; /* % of rated, + = absorbing */
    double vw_start, vw_end;
    double price_margin;
    double island_margin_pct;
    double island_reserve_pct;
    double grid_charge_pct;
    double plan_catchup_s;
};

/* Views and assets written before the plan fields were appended are still
 * read (without a plan); the plan fields only when the writer's size holds
 * them. */
#define VIEW_MIN_SIZE offsetof(struct fg_sched_view, plan_created)
#define VIEW_PLAN_SIZE (offsetof(struct fg_sched_view, plan_site_w) + sizeof(double))
#define VIEW_SOC_SIZE (offsetof(struct fg_sched_view, soc_target_until) + sizeof(int64_t))
#define ASSET_MIN_SIZE offsetof(struct fg_sched_asset, plan_w)
/* A charge-state target: within SOC_BAND_PCT of it a battery holds (0 W);
 * further away it moves at the power that would close the gap in
 * SOC_TAU_S, within its envelope: at full power while far off, tapering
 * as it comes near, so the target is reached as soon as possible without
 * overshooting. */
#define SOC_BAND_PCT 0.2
#define SOC_TAU_S 60.0
#define ASSET_PLAN_SIZE (offsetof(struct fg_sched_asset, plan_w) + sizeof(double))

/* What the controller remembers of one EVSE between calls. */
struct ev_state {
    char id[FG_SCHED_ID_MAX];
    int used;
    int seen;
    int on;
    double last_w;
    int64_t last_switch; /* 0: never switched by us */
    /* plan following: energy the EV is behind its plan (Wh, < 0 ahead), the
     * plan_w in force since plan_t */
    double debt_wh;
    double plan_w;
    int64_t plan_t;
    /* loads: a disconnectable one we switched off (it gets CONNECT when it
     * may run again); when a shiftable one was last started or seen running */
    int load_off;
    int64_t load_started;
};

struct rt {
    struct opts o;
    int islanded;
    /* the site's energy in the current ISP, without assets the plan does not
     * cover (Wh, from the measured power at each call) */
    int64_t isp_start, last_t;
    double isp_wh;
    struct work **ptr; /* 4 * n_assets scratch pointers, this call only */
    struct ev_state st[RT_MAX_STATE];
};

/* One asset of this call. */
struct work {
    const struct fg_sched_asset *a;
    int steer;     /* we send an active-power set-point */
    double lo;     /* what we may set, after SoC and volt-watt */
    double lo_res; /* battery: lo keeping the island reserve */
    double vw;     /* PV: the volt-watt share of available it may produce */
    double hi;
    double meas; /* measured power, 0 if unknown */
    double w;
    double var;
    uint32_t flags;
    double plan;   /* plan_w, NAN when none */
    int vv_active; /* volt-var is outside its dead band: var is taken */
    int planned;   /* EV: rate from the plan; PV: curtailed to the plan */
    int v2g;       /* EV discharging on the plan */
    double full;   /* EV: its full power now (hi before the plan's cap) */
    /* EV */
    double need_wh;
    double min_on;
    double weight;
    double laxity;
    struct ev_state *s;
    int admit;
};

static double fin(double x, double dflt)
{
    return isfinite(x) ? x : dflt;
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static void opts_default(struct opts *o)
{
    static const double v[RT_NPTS] = {0.92, 0.98, 1.02, 1.08};
    static const double q[RT_NPTS] = {-44, 0, 0, 44};
    o->hysteresis_w = 100;
    o->min_dwell_s = 300;
    o->v_nominal = 230;
    memcpy(o->vv_v, v, sizeof v);
    memcpy(o->vv_q, q, sizeof q);
    o->vw_start = 1.06;
    o->vw_end = 1.10;
    o->price_margin = 0;
    o->island_margin_pct = 10;
    o->island_reserve_pct = 20;
    o->grid_charge_pct = 50;
    o->plan_catchup_s = 900;
}

/* A number at key of j within [lo, hi]; absent keeps *out. */
static int num_opt(const cJSON *j, const char *key, double lo, double hi, double *out,
                   char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!it)
        return 0;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < lo ||
        it->valuedouble > hi) {
        snprintf(err, errlen, "/%s: must be a number in [%g, %g]", key, lo, hi);
        return -1;
    }
    *out = it->valuedouble;
    return 0;
}

static int array4(const cJSON *j, const char *path, double lo, double hi, double *out,
                  char *err, size_t errlen)
{
    const cJSON *it;
    int i = 0;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != RT_NPTS) {
        snprintf(err, errlen, "%s: must be an array of %d numbers", path, RT_NPTS);
        return -1;
    }
    cJSON_ArrayForEach(it, j)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble < lo || it->valuedouble > hi) {
            snprintf(err, errlen, "%s/%d: must be a number in [%g, %g]", path, i, lo, hi);
            return -1;
        }
        out[i++] = it->valuedouble;
    }
    return 0;
}

static int only_keys(const cJSON *j, const char *path, const char *const *keys, char *err,
                     size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, j)
    {
        int ok = 0;
        for (const char *const *k = keys; *k; k++)
            ok |= strcmp(*k, it->string) == 0;
        if (!ok) {
            snprintf(err, errlen, "%s/%s: unknown option", path, it->string);
            return -1;
        }
    }
    return 0;
}

static int parse_curves(const cJSON *j, struct opts *o, char *err, size_t errlen)
{
    static const char *const vv_keys[] = {"v_pu", "q_pct", NULL};
    static const char *const vw_keys[] = {"v_start_pu", "v_end_pu", NULL};
    const cJSON *vv = cJSON_GetObjectItemCaseSensitive(j, "volt_var");
    const cJSON *vw = cJSON_GetObjectItemCaseSensitive(j, "volt_watt");
    if (vv) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(vv, "v_pu");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(vv, "q_pct");
        if (!cJSON_IsObject(vv)) {
            snprintf(err, errlen, "/volt_var: must be an object");
            return -1;
        }
        if (only_keys(vv, "/volt_var", vv_keys, err, errlen) ||
            (v && array4(v, "/volt_var/v_pu", 0.5, 1.5, o->vv_v, err, errlen)) ||
            (q && array4(q, "/volt_var/q_pct", -100, 100, o->vv_q, err, errlen)))
            return -1;
        for (int i = 1; i < RT_NPTS; i++)
            if (!(o->vv_v[i] > o->vv_v[i - 1])) {
                snprintf(err, errlen, "/volt_var/v_pu: must be increasing");
                return -1;
            }
    }
    if (vw) {
        if (!cJSON_IsObject(vw)) {
            snprintf(err, errlen, "/volt_watt: must be an object");
            return -1;
        }
        if (only_keys(vw, "/volt_watt", vw_keys, err, errlen) ||
            num_opt(vw, "v_start_pu", 0.5, 1.5, &o->vw_start, err, errlen) ||
            num_opt(vw, "v_end_pu", 0.5, 1.5, &o->vw_end, err, errlen))
            return -1;
        if (!(o->vw_end > o->vw_start)) {
            snprintf(err, errlen, "/volt_watt/v_end_pu: must be above v_start_pu");
            return -1;
        }
    }
    return 0;
}

static int parse_opts(const char *json, struct opts *o, char *err, size_t errlen)
{
    static const char *const keys[] = {"hysteresis_w",
                                       "min_dwell_s",
                                       "v_nominal",
                                       "volt_var",
                                       "volt_watt",
                                       "price_margin",
                                       "island_margin_pct",
                                       "island_reserve_pct",
                                       "grid_charge_pct",
                                       "plan_catchup_s",
                                       NULL};
    cJSON *j = cJSON_Parse(json ? json : "{}");
    int rc = -1;
    if (!j || !cJSON_IsObject(j)) {
        snprintf(err, errlen, "realtime options: not a JSON object");
        goto out;
    }
    if (only_keys(j, "", keys, err, errlen) ||
        num_opt(j, "hysteresis_w", 0, 1e6, &o->hysteresis_w, err, errlen) ||
        num_opt(j, "min_dwell_s", 0, 86400, &o->min_dwell_s, err, errlen) ||
        num_opt(j, "v_nominal", 50, 1000, &o->v_nominal, err, errlen) ||
        num_opt(j, "price_margin", -1e3, 1e3, &o->price_margin, err, errlen) ||
        num_opt(j, "island_margin_pct", 0, 100, &o->island_margin_pct, err, errlen) ||
        num_opt(j, "island_reserve_pct", 0, 100, &o->island_reserve_pct, err, errlen) ||
        num_opt(j, "grid_charge_pct", 0, 100, &o->grid_charge_pct, err, errlen) ||
        num_opt(j, "plan_catchup_s", 60, 86400, &o->plan_catchup_s, err, errlen) ||
        parse_curves(j, o, err, errlen))
        goto out;
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

static void *rt_create(const struct fg_sched_host *host, const char *config_json,
                       char *err, size_t errlen)
{
    struct rt *r = calloc(1, sizeof *r);
    (void)host;
    if (!r) {
        snprintf(err, errlen, "realtime: out of memory");
        return NULL;
    }
    opts_default(&r->o);
    if (parse_opts(config_json, &r->o, err, errlen)) {
        free(r);
        return NULL;
    }
    return r;
}

static void rt_destroy(void *inst)
{
    free(inst);
}

static struct ev_state *state_for(struct rt *r, const char *id)
{
    struct ev_state *free_slot = NULL;
    for (int i = 0; i < RT_MAX_STATE; i++) {
        if (r->st[i].used && strncmp(r->st[i].id, id, FG_SCHED_ID_MAX) == 0)
            return &r->st[i];
        if (!r->st[i].used && !free_slot)
            free_slot = &r->st[i];
    }
    if (free_slot) {
        free_slot->used = 1;
        snprintf(free_slot->id, sizeof free_slot->id, "%.*s", FG_SCHED_ID_MAX - 1, id);
    }
    return free_slot;
}

/* The value of a series at t, NAN when it has none. */
static double series_at(const struct fg_sched_series *s, int64_t t)
{
    if (!s->v || s->step_s <= 0 || t < s->start)
        return NAN;
    int64_t i = (t - s->start) / s->step_s;
    return i < (int64_t)s->n ? s->v[i] : NAN;
}

static double series_max_from(const struct fg_sched_series *s, int64_t t)
{
    double m = NAN;
    if (!s->v || s->step_s <= 0)
        return NAN;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->start + (int64_t)(i + 1) * s->step_s > t && isfinite(s->v[i]))
            m = isfinite(m) ? fmax(m, s->v[i]) : s->v[i];
    return m;
}

static double site_voltage(const struct fg_sched_view *v)
{
    double sum = 0;
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (isfinite(v->site_voltage_v[i]) && v->site_voltage_v[i] > 0) {
            sum += v->site_voltage_v[i];
            n++;
        }
    return n ? sum / n : NAN;
}

static double asset_voltage(const struct fg_sched_view *v, const struct fg_sched_asset *a)
{
    return isfinite(a->voltage_v) && a->voltage_v > 0 ? a->voltage_v : site_voltage(v);
}

/* Volt-var: % of rated at pu voltage, piecewise linear, flat outside. */
static double volt_var_pct(const struct opts *o, double pu)
{
    if (pu <= o->vv_v[0])
        return o->vv_q[0];
    for (int i = 1; i < RT_NPTS; i++)
        if (pu <= o->vv_v[i])
            return o->vv_q[i - 1] + (o->vv_q[i] - o->vv_q[i - 1]) *
                                        (pu - o->vv_v[i - 1]) /
                                        (o->vv_v[i] - o->vv_v[i - 1]);
    return o->vv_q[RT_NPTS - 1];
}

/* Volt-watt: the share (0..1) of export allowed at voltage v. */
static double volt_watt(const struct opts *o, double v)
{
    if (!isfinite(v))
        return 1;
    double pu = v / o->v_nominal;
    return clampd((o->vw_end - pu) / (o->vw_end - o->vw_start), 0, 1);
}

static double rated_of(const struct fg_sched_asset *a)
{
    double r = 0;
    const double c[] = {fabs(a->min_w),     fabs(a->max_w), a->max_charge_w,
                        a->max_discharge_w, a->available_w, a->rated_w};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        r = fmax(r, fin(c[i], 0));
    return r;
}

/* The envelope [lo, hi] a battery may be set to now. */
static void battery_range(const struct opts *o, const struct fg_sched_view *v,
                          struct work *k)
{
    const struct fg_sched_asset *a = k->a;
    double lo = fmax(fin(a->min_w, 0), -fabs(fin(a->max_discharge_w, INFINITY)));
    double hi = fmin(fin(a->max_w, 0), fabs(fin(a->max_charge_w, INFINITY)));
    if (isfinite(a->soc_pct) && a->soc_pct <= fin(a->soc_min_pct, 0))
        lo = fmax(lo, 0);
    if (isfinite(a->soc_pct) && a->soc_pct >= fin(a->soc_max_pct, 100))
        hi = fmin(hi, 0);
    if (lo < 0)
        lo *= volt_watt(o, asset_voltage(v, a));
    k->lo = fmin(lo, 0);
    k->hi = fmax(hi, 0);
    k->lo_res = k->lo;
    if ((a->caps & FG_SCHED_CAP_GRID_FORMING) && isfinite(a->soc_pct) &&
        a->soc_pct <= fin(a->soc_min_pct, 0) + o->island_reserve_pct)
        k->lo_res = 0;
}

/* A V2G EV the plan discharges: at most its discharge limit, never between
 * 0 and its minimum current, not below its minimum SoC. */
static void ev_v2g(struct work *k)
{
    const struct fg_sched_asset *a = k->a;
    double dis =
        fmin(fabs(fin(a->max_discharge_w, INFINITY)), fmax(-fin(a->min_w, 0), 0));
    k->hi = 0;
    if (!(dis > 0) || (isfinite(a->soc_pct) && a->soc_pct <= fin(a->soc_min_pct, 0)))
        return;
    double x = fmin(-k->plan, dis);
    if (x < k->min_on)
        x = x >= 0.5 * k->min_on && dis >= k->min_on ? k->min_on : 0;
    k->v2g = x > 0;
    k->lo = k->w = -x;
}

/* An EV on the plan. Its rate is plan_w plus what it is behind: debt_wh,
 * the planned minus the measured energy since the plan reached it, spread
 * over plan_catchup_s. So an EV the budget (or a dwell time) held back
 * catches up as soon as there is room, and one that ran ahead (its minimum
 * current is above plan_w) waits. Minimum current with a hysteresis: a
 * running EV keeps at least its minimum while the rate is above 0, a paused
 * one starts when the rate reaches half its minimum or it is a minute at
 * its minimum behind (so a plan's trickle below the minimum current is
 * served in pulses, not lost). The rate is a cap in
 * the fair sharing, which still decides under the budget. An EV that can
 * no longer make its energy by departure even at full power (laxity < 0:
 * the plan fell short or is old) and an EV without plan_w (newer than the
 * plan) follow the laxity rule. A negative plan_w on an EV that may
 * discharge (FG_SCHED_CAP_V2G) is V2G, while the EV keeps at least one ISP
 * of laxity (it can still charge what it needs by departure). */
static void ev_plan(const struct rt *r, const struct fg_sched_view *v, struct work *k)
{
    struct ev_state *s = k->s;
    if (!s)
        return;
    if (!isfinite(k->plan)) {
        s->debt_wh = 0;
        s->plan_w = NAN;
        s->plan_t = 0;
        return;
    }
    /* plan_w is the ISP's mean: in an ISP the EV arrives or departs in, the
     * rate while it is plugged in is higher */
    int64_t isp = v->isp_s > 0 ? v->isp_s : 900;
    int64_t start = v->now - ((v->now % isp) + isp) % isp, end = start + isp;
    int64_t from = k->a->arrival > start ? k->a->arrival : start;
    int64_t to =
        k->a->departure > v->now && k->a->departure < end ? k->a->departure : end;
    if (to > from)
        k->plan *= (double)isp / (double)(to - from);
    double span = r->o.plan_catchup_s;
    if (s->plan_t && isfinite(s->plan_w) && s->plan_w >= 0 && v->now > s->plan_t)
        s->debt_wh += (s->plan_w - k->meas) * (double)(v->now - s->plan_t) / 3600.0;
    s->debt_wh = clampd(s->debt_wh, -k->hi * span / 3600.0, k->need_wh);
    s->plan_w = k->plan;
    s->plan_t = v->now;
    if (k->plan < 0 && (k->a->caps & FG_SCHED_CAP_V2G) &&
        k->laxity >= (v->isp_s > 0 ? v->isp_s : 900)) {
        k->planned = 1;
        s->debt_wh = 0;
        ev_v2g(k);
        return;
    }
    if (k->laxity < 0)
        return;
    double want = clampd(fmax(k->plan, 0) + s->debt_wh * 3600.0 / span, 0, k->hi);
    if (want > 0 && want < k->min_on)
        want = s->on || want >= 0.5 * k->min_on || s->debt_wh * 3600.0 >= 60 * k->min_on
                   ? k->min_on
                   : 0;
    k->planned = 1;
    k->hi = want;
    k->weight = fmax(want, 1.0);
}

static void ev_setup(struct rt *r, const struct fg_sched_view *v, struct work *k)
{
    const struct fg_sched_asset *a = k->a;
    double need = fin(a->energy_requested_wh, INFINITY) - fin(a->energy_wh, 0);
    if (isfinite(a->soc_pct) && a->soc_pct >= fin(a->soc_max_pct, 100))
        need = 0;
    k->need_wh = fmax(need, 0);
    k->lo = 0;
    k->hi = fmax(fmin(fin(a->max_w, 0), INFINITY), 0);
    k->min_on = fmax(fin(a->min_charge_w, 0), fmax(fin(a->min_w, 0), 0));
    if (k->min_on > k->hi)
        k->hi = 0; /* cannot run at its minimum: paused */
    k->full = k->hi;
    double left = a->departure > v->now ? (double)(a->departure - v->now) : NAN;
    double rate = k->need_wh * 3600.0 / fin(left, 86400.0);
    k->weight = fmax(isfinite(rate) ? rate : k->hi, 1.0);
    k->laxity = k->hi > 0 && isfinite(left) ? left - k->need_wh * 3600.0 / k->hi : 1e12;
    k->s = state_for(r, a->id);
    if (k->s && !k->s->seen) {
        k->s->seen = 1;
        k->s->on = k->meas > 0.5 * fmax(k->min_on, 1);
        k->s->last_w = k->s->on ? k->meas : 0;
        k->s->plan_w = NAN;
    }
    ev_plan(r, v, k);
}

static int ev_locked(const struct rt *r, const struct work *k, int64_t now)
{
    return k->s && k->s->last_switch &&
           (double)(now - k->s->last_switch) < r->o.min_dwell_s;
}

/* Ranking: priority, then running EVs inside their dwell, then least
 * laxity, where a running EV's laxity counts four dwell times less so two
 * EVs with close laxities do not swap back and forth, and one that got
 * more than its minimum last time one dwell time less again: among EVs
 * with nearly the same laxity the share above the minimum would otherwise
 * move to another EV every call, as the one that has it charges faster and
 * its laxity grows (seen: a new charging profile at two stations a
 * second). */
static double rank_key(const struct rt *r, const struct work *k, int64_t now)
{
    double lax = k->laxity - (k->s && k->s->on ? 4 * r->o.min_dwell_s : 0);
    if (k->s && k->s->on && k->s->last_w > k->min_on + r->o.hysteresis_w)
        lax -= r->o.min_dwell_s;
    return (ev_locked(r, k, now) && k->s->on ? -1e13 : 0) + clampd(lax, -1e12, 1e12);
}

static void sort_evs(const struct rt *r, struct work **e, int m, int64_t now)
{
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0; j--) {
            const struct work *x = e[j - 1], *y = e[j];
            int swap = y->a->priority > x->a->priority ||
                       (y->a->priority == x->a->priority &&
                        rank_key(r, y, now) < rank_key(r, x, now));
            if (!swap)
                break;
            e[j - 1] = (struct work *)y;
            e[j] = (struct work *)x;
        }
}

/* Least laxity first: in rank order, each admitted EV is raised to the rate
 * that gets its energy by departure (10 % spare), as far as rest goes.
 * Returns what is left. */
static double fill_required(struct work **e, int m, double rest)
{
    for (int i = 0; i < m && rest > 1e-9; i++) {
        struct work *k = e[i];
        if (!k->admit)
            continue;
        double add = fmin(fmin(1.1 * k->weight, k->hi) - k->w, rest);
        if (add > 0) {
            k->w += add;
            rest -= add;
        }
    }
    return rest;
}

/* Water-filling of rest over the admitted EVs of one priority, each up to
 * its cap, in proportion to its weight (energy still needed per second
 * left). Returns what is left. */
static double water_fill(struct work **e, int m, double rest)
{
    for (int iter = 0; iter < m && rest > 1e-9; iter++) {
        double wsum = 0;
        for (int i = 0; i < m; i++)
            if (e[i]->admit && e[i]->w < e[i]->hi - 1e-9)
                wsum += e[i]->weight;
        if (wsum <= 0)
            break;
        double given = 0;
        for (int i = 0; i < m; i++) {
            struct work *k = e[i];
            if (!k->admit || k->w >= k->hi - 1e-9)
                continue;
            double add = isfinite(rest) ? rest * k->weight / wsum : k->hi;
            double nw = fmin(k->w + add, k->hi);
            given += nw - k->w;
            k->w = nw;
        }
        rest -= given;
    }
    return rest;
}

static void ev_hysteresis(struct rt *r, struct work **e, int m, double budget)
{
    double sum = 0;
    for (int i = 0; i < m; i++) {
        struct work *k = e[i];
        /* (going up to full power is always made: held just below it, an EV
         * that needs all it can get would fall short) */
        int to_full = k->s && k->w >= k->full - 1e-9 && k->w > k->s->last_w;
        if (k->w > 0 && k->s && k->s->on &&
            fabs(k->w - k->s->last_w) < r->o.hysteresis_w && k->s->last_w >= k->min_on &&
            k->s->last_w <= k->hi && !to_full)
            k->w = k->s->last_w;
        sum += k->w;
    }
    if (sum <= budget + 1e-6)
        return;
    /* holding an old value would break the limit: undo the holds upwards */
    for (int i = 0; i < m && sum > budget + 1e-6; i++)
        if (e[i]->w > 0 && e[i]->s && e[i]->w == e[i]->s->last_w) {
            /* recompute the share this EV would have got: its minimum */
            double cut = fmin(e[i]->w - e[i]->min_on, sum - budget);
            e[i]->w -= cut;
            sum -= cut;
        }
}

/* EVs share budget (W): minimums first in rank order, then each EV's
 * required rate in rank order, the rest by water-filling per priority. Returns the EVs'
 * total. */
static double ev_allocate(struct rt *r, struct work **e, int m, double budget,
                          int64_t now)
{
    double sum_min = 0, total = 0;
    sort_evs(r, e, m, now);
    for (int i = 0; i < m; i++) {
        struct work *k = e[i];
        int want = k->need_wh > 0 && k->hi > 0;
        int may = !k->s || k->s->on || !ev_locked(r, k, now);
        k->w = 0;
        k->admit = want && may && sum_min + k->min_on <= budget;
        if (k->admit) {
            sum_min += k->min_on;
            k->w = k->min_on;
        }
    }
    double rest = fill_required(e, m, budget - sum_min);
    for (int i = 0; i < m;) {
        int j = i;
        while (j < m && e[j]->a->priority == e[i]->a->priority)
            j++;
        rest = water_fill(e + i, j - i, rest);
        i = j;
    }
    ev_hysteresis(r, e, m, budget);
    for (int i = 0; i < m; i++) {
        struct work *k = e[i];
        int on = k->w > 0;
        if (k->s) {
            if (on != k->s->on && k->need_wh > 0)
                k->s->last_switch = now;
            k->s->on = on;
            k->s->last_w = k->w;
        }
        total += k->w;
    }
    return total;
}

/* Share total over the assets by their room in the direction of total
 * (discharge: the room above the island reserve while that is enough). */
static void share(struct work **x, int m, double total, int res)
{
    double room = 0;
    for (int i = 0; i < m; i++)
        room += total >= 0 ? x[i]->hi : -(res ? x[i]->lo_res : x[i]->lo);
    for (int i = 0; i < m; i++) {
        double part = total >= 0 ? x[i]->hi : -(res ? x[i]->lo_res : x[i]->lo);
        x[i]->w = room > 0 ? total * part / room : 0;
    }
}

struct sums {
    double base;
    double blo, bhi;  /* batteries */
    double blo_res;   /* blo keeping the island reserve */
    double pv;        /* curtailable PV at full (volt-watt limited) production, <= 0 */
    double site;      /* measured, or the sum of the assets */
    double unplanned; /* measured power of assets a plan in force does not cover */
    double pv_meas;   /* measured power of all PV assets, <= 0 when producing */
    int nb, ne, np, npv;
};

static int view_plan(const struct fg_sched_view *v)
{
    return v->size >= VIEW_PLAN_SIZE && v->plan_created != 0;
}

/* A charge_state signal is in force (and the view's writer had the field;
 * a zeroed view has soc_target_until 0, which is never in force). */
static int view_soc_target(const struct fg_sched_view *v)
{
    return v->size >= VIEW_SOC_SIZE && isfinite(v->soc_target_pct) &&
           v->soc_target_until > v->now;
}

/* Battery k's power toward the charge-state target (SOC_BAND_PCT,
 * SOC_TAU_S); 0 when its SoC or capacity is unknown. */
static double soc_want(const struct fg_sched_view *v, const struct work *k)
{
    const struct fg_sched_asset *a = k->a;
    if (!isfinite(a->soc_pct) || !(a->capacity_wh > 0))
        return 0;
    double d = clampd(v->soc_target_pct, 0, 100) - a->soc_pct;
    if (fabs(d) < SOC_BAND_PCT)
        return 0;
    return clampd(d / 100.0 * a->capacity_wh * 3600.0 / SOC_TAU_S, k->lo_res, k->hi);
}

/* An asset's plan_w, NAN when the view has no plan or the asset's writer
 * did not have the field. */
static double plan_of(const struct fg_sched_view *v, const struct fg_sched_asset *a)
{
    if (!view_plan(v) || a->size < ASSET_PLAN_SIZE || v->asset_stride < ASSET_PLAN_SIZE)
        return NAN;
    return a->plan_w;
}

/* The plan curtails a PV: follow it only when exporting earns nothing now
 * (export price <= 0). At a positive price the planner curtails only for the
 * export limit, which the controller enforces itself from measurements; and
 * a plan_w above -available is as often a forecast that was too low, which
 * must not cost real production. */
static int pv_plan_curtails(const struct fg_sched_view *v, const struct work *k)
{
    double pe = series_at(&v->price_export, v->now);
    return isfinite(k->plan) && k->plan <= 0 && k->plan > k->lo + 1 && isfinite(pe) &&
           pe <= 0;
}

static int is_disconnectable(const struct fg_sched_asset *a)
{
    return a->kind == FG_SCHED_LOAD && ((a->caps & FG_SCHED_CAP_DISCONNECT) ||
                                        a->load_type == FG_SCHED_LOAD_DISCONNECTABLE);
}

/* An operator's set-point pins an asset (min = max): it is left alone. */
static int pinned(const struct fg_sched_asset *a)
{
    return isfinite(a->min_w) && a->min_w == a->max_w;
}

/* A disconnectable load, grid-connected: off (0 W with
 * FG_SCHED_SP_DISCONNECT, renewed every call) while the plan in force has it
 * at about 0 W over this ISP, and switched on again (FG_SCHED_SP_CONNECT)
 * once the plan has it on, or there is no plan any more. Islanding sheds it
 * whatever the plan says (run_island); after the island the same rule
 * brings it back. */
static void load_disconnectable(struct rt *r, struct work *k)
{
    double rated = fin(k->a->rated_w, fin(k->a->max_w, 0));
    struct ev_state *st = state_for(r, k->a->id);
    if (!st)
        return;
    if (isfinite(k->plan) && k->plan < 0.5 * rated) {
        k->steer = 1;
        k->w = 0;
        k->flags |= FG_SCHED_SP_DISCONNECT;
        st->load_off = 1;
    } else if (st->load_off) {
        k->steer = 1;
        k->w = rated;
        k->flags |= FG_SCHED_SP_CONNECT;
        st->load_off = 0;
    }
}

/* A shiftable load makes one run of run_s at rated power in its window
 * [earliest_start, latest_end) and cannot be interrupted. It is started (a
 * set-point of rated W) in the first ISP in which the plan in force has it
 * above half its rated power, or, without a plan, at its earliest start; it
 * never gets a set-point while it runs, and no second start within run_s
 * plus the minimum dwell of the first. Not started in an island. */
static void load_shiftable(struct rt *r, const struct fg_sched_view *v, struct work *k)
{
    const struct fg_sched_asset *a = k->a;
    double rated = fin(a->rated_w, fin(a->max_w, 0)), run = fin(a->run_s, 0);
    struct ev_state *st = state_for(r, a->id);
    if (!st || !(rated > 0) || !(run > 0))
        return;
    if (k->meas > 0.5 * rated || a->connected) {
        if (!st->load_started)
            st->load_started = v->now;
        return;
    }
    if (st->load_started && (double)(v->now - st->load_started) < run + r->o.min_dwell_s)
        return;
    st->load_started = 0;
    int want = view_plan(v) ? isfinite(k->plan) && k->plan > 0.5 * rated : 1;
    if (!want || v->island || v->now < a->earliest_start ||
        (a->latest_end && v->now >= a->latest_end))
        return;
    k->steer = 1;
    k->w = rated;
}

static void load_setup(struct rt *r, const struct fg_sched_view *v, struct work *k)
{
    if (pinned(k->a))
        return;
    if (is_disconnectable(k->a) && !v->island)
        load_disconnectable(r, k);
    else if (k->a->load_type == FG_SCHED_LOAD_SHIFTABLE)
        load_shiftable(r, v, k);
}

/* Classify the assets, fill ranges, and estimate base. */
static void classify(struct rt *r, const struct fg_sched_view *v, struct work *w,
                     uint32_t n, struct sums *s)
{
    double site = v->site_power_w, measured_sum = 0, steered = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct work *k = &w[i];
        const struct fg_sched_asset *a = k->a;
        k->meas = fin(a->power_w, 0);
        k->plan = plan_of(v, a);
        measured_sum += k->meas;
        if (a->kind == FG_SCHED_PV) {
            s->pv_meas += k->meas;
            s->npv++;
        }
        if (!a->online)
            continue;
        /* not in the plan's site power: a new EV session, PV or load */
        if (view_plan(v) && isfinite(v->plan_site_w) && !isfinite(k->plan) &&
            a->kind != FG_SCHED_BATTERY && (a->kind != FG_SCHED_EVSE || a->session))
            s->unplanned += k->meas;
        if (a->kind == FG_SCHED_BATTERY) {
            k->steer = 1;
            battery_range(&r->o, v, k);
            s->blo += k->lo;
            s->blo_res += k->lo_res;
            s->bhi += k->hi;
            s->nb++;
        } else if (a->kind == FG_SCHED_EVSE && a->session) {
            k->steer = 1;
            ev_setup(r, v, k);
            s->ne++;
        } else if (a->kind == FG_SCHED_EVSE) {
            /* no session: the next EV starts without the last one's timers */
            struct ev_state *st = state_for(r, a->id);
            if (st)
                memset(st, 0, sizeof *st);
        } else if (a->kind == FG_SCHED_PV && a->curtailable) {
            double avail = fmax(fin(a->available_w, -k->meas), 0);
            k->steer = 1;
            k->vw = volt_watt(&r->o, asset_voltage(v, a));
            k->lo = -avail * k->vw;
            k->hi = 0;
            if (pv_plan_curtails(v, k)) {
                k->planned = 1;
                k->lo = k->plan;
            }
            s->pv += k->lo;
            s->np++;
        } else if (a->kind == FG_SCHED_LOAD) {
            load_setup(r, v, k);
        }
        if (k->steer)
            steered += k->meas;
    }
    s->site = fin(site, measured_sum);
    s->base = s->site - steered;
}

static void emit(struct fg_sched_setpoints *out, const struct work *k)
{
    if (out->n >= out->cap)
        return;
    struct fg_sched_setpoint *p = &out->sp[out->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%.*s", FG_SCHED_ID_MAX - 1, k->a->id);
    p->w = isfinite(k->w) ? k->w : 0;
    p->flags = k->flags;
    if ((k->flags & FG_SCHED_SP_VAR) && isfinite(k->var))
        p->var = k->var;
    else
        p->flags &= ~FG_SCHED_SP_VAR;
}

/* An asset that gets only var: its active power stays where it is. */
static void var_only(struct work *k)
{
    if (k->steer)
        return;
    k->steer = 1;
    k->w = k->a->kind == FG_SCHED_PV ? fin(k->a->min_w, -rated_of(k->a)) : k->meas;
}

static void volt_var(const struct rt *r, const struct fg_sched_view *v, struct work *k)
{
    const struct fg_sched_asset *a = k->a;
    if (!a->online || !(a->caps & FG_SCHED_CAP_REACTIVE) || a->kind == FG_SCHED_LOAD)
        return;
    double volt = asset_voltage(v, a);
    if (!isfinite(volt))
        return;
    double pct = volt_var_pct(&r->o, volt / r->o.v_nominal);
    k->var = pct / 100.0 * rated_of(a);
    k->vv_active = pct != 0;
    k->flags |= FG_SCHED_SP_VAR;
    var_only(k);
}

/* The reactive target at the connection point (view->reactive_var). Volt-var
 * comes first: an asset whose voltage is outside the curve's dead band keeps
 * its volt-var value, which counts towards the target. The rest is shared
 * over the other reactive-capable assets in proportion to what each can
 * give at its active power within its rating (sqrt(rated^2 - P^2)), and
 * saturates there. Open loop: the view has no reactive measurement at the
 * meter, so the var of loads is not compensated. */
static void reactive_target(const struct fg_sched_view *v, struct work *w, uint32_t n)
{
    double need = fin(v->reactive_var, NAN), room = 0;
    if (!isfinite(need))
        return;
    for (uint32_t pass = 0; pass < 2; pass++) {
        double frac = room > 0 ? clampd(need / room, -1, 1) : 0;
        for (uint32_t i = 0; i < n; i++) {
            struct work *k = &w[i];
            const struct fg_sched_asset *a = k->a;
            if (!a->online || !(a->caps & FG_SCHED_CAP_REACTIVE) ||
                a->kind == FG_SCHED_LOAD)
                continue;
            if (k->vv_active) {
                need -= pass ? 0 : k->var;
                continue;
            }
            var_only(k);
            double p = k->w;
            if (a->kind == FG_SCHED_PV)
                p = fmax(k->w, -fmax(fin(a->available_w, -k->meas), 0));
            double r = rated_of(a), q = sqrt(fmax(r * r - p * p, 0));
            if (!pass) {
                room += q;
                continue;
            }
            k->var = frac * q;
            k->flags |= FG_SCHED_SP_VAR;
        }
    }
}

/* Integrate x (the measured site power less what the plan does not cover)
 * over the current ISP: the power measured now has held since the last
 * call (its part inside this ISP); on the first call or after a gap, as if
 * the ISP so far ran at it. */
static void isp_track(struct rt *r, const struct fg_sched_view *v, double x)
{
    int64_t isp = v->isp_s > 0 ? v->isp_s : 900;
    int64_t start = v->now - ((v->now % isp) + isp) % isp;
    if (r->last_t == v->now && r->isp_start == start)
        return;
    if (r->last_t && r->last_t < v->now && v->now - r->last_t <= isp) {
        int64_t from = r->last_t > start ? r->last_t : start;
        if (r->isp_start != start)
            r->isp_wh = 0;
        r->isp_wh += x * (double)(v->now - from) / 3600.0;
    } else {
        r->isp_wh = x * (double)(v->now - start) / 3600.0;
    }
    r->isp_start = start;
    r->last_t = v->now;
}

/* The site power for the rest of the ISP that makes the ISP's energy what
 * a mean power of e_w over the whole ISP gives: what is left of it over the
 * time left. Bounded to e_w +- c (the batteries' range: no more can be
 * corrected) so the last seconds of an ISP do not ask for absurd powers. */
static double isp_rest(const struct rt *r, const struct fg_sched_view *v, double e_w,
                       double c)
{
    double isp = v->isp_s > 0 ? v->isp_s : 900;
    double left = fmax((double)(r->isp_start + (int64_t)isp - v->now), 1);
    double t = (e_w * isp / 3600.0 - r->isp_wh) * 3600.0 / left;
    return clampd(t, e_w - c, e_w + c);
}

enum target_kind { T_SELF, T_DISPATCH, T_PLAN, T_BRP, T_CHARGE };
static const char *const target_names[] = {"self-consumption", "dispatch", "plan",
                                           "BRP target", "charge state"};

/* The battery target at the connection point, in priority order: an
 * explicit dispatch_w (instantaneous), the plan's site power (ISP energy;
 * plus what the plan does not cover, measured now), a BRP portfolio target
 * from dispatch_w_series (ISP energy), else zero exchange. */
static double site_target(const struct rt *r, const struct fg_sched_view *v,
                          const struct sums *s, int *kind)
{
    double c = s->bhi - s->blo;
    double brp = series_at(&v->dispatch_w_series, v->now);
    if (isfinite(v->dispatch_w)) {
        *kind = T_DISPATCH;
        return v->dispatch_w;
    }
    if (view_plan(v) && isfinite(v->plan_site_w)) {
        *kind = T_PLAN;
        return isp_rest(r, v, v->plan_site_w, c) + s->unplanned;
    }
    if (isfinite(brp)) {
        *kind = T_BRP;
        return isp_rest(r, v, brp, c);
    }
    *kind = T_SELF;
    return 0;
}

/* Share total over the batteries from their plan: each starts at its
 * plan_w (0 without one) and the difference to total is shared by the room
 * left in its direction, so the plan's split holds while the sum follows
 * the site target. */
static void share_plan(struct work **x, int m, double total, int res)
{
    double sum = 0, room = 0;
    for (int i = 0; i < m; i++) {
        x[i]->w = clampd(fin(x[i]->plan, 0), res ? x[i]->lo_res : x[i]->lo, x[i]->hi);
        sum += x[i]->w;
    }
    double d = total - sum;
    for (int i = 0; i < m; i++)
        room += d >= 0 ? x[i]->hi - x[i]->w : x[i]->w - (res ? x[i]->lo_res : x[i]->lo);
    for (int i = 0; i < m; i++) {
        double part =
            d >= 0 ? x[i]->hi - x[i]->w : x[i]->w - (res ? x[i]->lo_res : x[i]->lo);
        x[i]->w += room > 0 ? d * part / room : 0;
    }
}

/* V2G gives up discharge before PV is curtailed for the export bound (never
 * between 0 and the minimum current). Returns the V2G sum after. */
static double v2g_export(struct work **x, int m, double vsum, double excess)
{
    double cut = fmin(excess, -vsum), after = 0;
    for (int i = 0; i < m; i++) {
        if (vsum < 0)
            x[i]->w *= (vsum + cut) / vsum;
        if (-x[i]->w < x[i]->min_on)
            x[i]->w = 0;
        after += x[i]->w;
    }
    return after;
}

/* The battery target: the service's, then the price rule and the headroom
 * rule of self-consumption (docs/realtime.md). */
static double battery_target(const struct rt *r, const struct fg_sched_view *v,
                             const struct sums *s, double fixed, double hard, int *kind)
{
    double b = site_target(r, v, s, kind) - fixed;
    if (*kind != T_SELF)
        return b;
    if (b > 0) {
        /* store surplus only when importing later costs more than exporting now */
        double pe = series_at(&v->price_export, v->now);
        double pi = series_max_from(&v->price_import, v->now);
        if (isfinite(pe) && isfinite(pi) && !(pi > pe + r->o.price_margin))
            b = 0;
    }
    /* Without a plan or a target the batteries store surplus, they do not
     * charge from the grid. Both guards hold even when the base estimate is
     * wrong (a meter older than the asset readings makes it run away): with
     * PV assets, never more than their measured production; and never so
     * much that the site goes above grid_charge_pct of the import limit. */
    if (s->npv)
        b = fmin(b, fmax(-s->pv_meas, 0));
    double cap = isfinite(hard) ? r->o.grid_charge_pct / 100.0 * hard : INFINITY;
    return fmin(b, fmax(cap - fixed, 0));
}

/* Grid-connected: the bounds and targets described at the top. */
static void run_grid(struct rt *r, const struct fg_sched_view *v, struct work *w,
                     uint32_t n, const struct sums *s, char *note, size_t notelen)
{
    struct work **ev = r->ptr, **bat = r->ptr + n, **pv = r->ptr + 2 * n;
    struct work **v2g = r->ptr + 3 * n;
    int ne = 0, nb = 0, np = 0, nv = 0, kind;
    double hard = fin(v->import_max_w, INFINITY), lo = -fin(v->export_max_w, INFINITY);
    double hi = hard; /* the soft bound: kWmax, kept with the island reserve */
    double vsum = 0;
    if (isfinite(v->kw_max_w) && v->kw_max_w >= 0)
        hi = fmin(hi, v->kw_max_w);
    for (uint32_t i = 0; i < n; i++) {
        struct work *k = &w[i];
        if (!k->steer || !k->a->online)
            continue;
        if (k->a->kind == FG_SCHED_EVSE && k->v2g) {
            v2g[nv++] = k;
            vsum += k->w;
            if (k->s)
                k->s->on = 0, k->s->last_w = 0;
        } else if (k->a->kind == FG_SCHED_EVSE) {
            ev[ne++] = k;
        } else if (k->a->kind == FG_SCHED_BATTERY) {
            bat[nb++] = k;
        } else if (k->a->kind == FG_SCHED_PV && k->a->curtailable) {
            pv[np++] = k;
        }
    }
    double budget =
        fmin(hard - s->base - s->blo, hi - s->base - s->blo_res) - s->pv - vsum;
    double esum = ev_allocate(r, ev, ne, budget, v->now);
    double fixed = s->base + esum + s->pv + vsum;
    double b = 0;
    if (!isfinite(v->dispatch_w) && view_soc_target(v)) {
        /* a charge-state signal: each battery toward the target (its
         * share below starts there), the site's bounds still first */
        kind = T_CHARGE;
        for (int i = 0; i < nb; i++)
            b += bat[i]->plan = soc_want(v, bat[i]);
    } else {
        b = battery_target(r, v, s, fixed, hard, &kind);
    }
    b = fmin(fmax(b, lo - fixed), hi - fixed);
    b = clampd(b, s->blo_res, s->bhi);
    /* the hard import limit may use the reserve too (limits > islanding) */
    b = clampd(fmin(b, hard - fixed), s->blo, s->bhi);
    if (kind == T_PLAN || kind == T_CHARGE)
        share_plan(bat, nb, b, b >= s->blo_res);
    else
        share(bat, nb, b, b >= s->blo_res);
    double site = fixed + b, pvw = s->pv;
    if (site < lo && vsum < 0) {
        double after = v2g_export(v2g, nv, vsum, lo - site);
        site += after - vsum;
        vsum = after;
    }
    if (site < lo && s->pv < 0)
        pvw = fmin(s->pv + (lo - site), 0);
    for (int i = 0; i < np; i++)
        pv[i]->w = s->pv < 0 ? pv[i]->lo * pvw / s->pv : 0;
    /* neither curtailed nor limited: no limit beyond the envelope */
    if (pvw <= s->pv)
        for (int i = 0; i < np; i++)
            if (pv[i]->vw >= 1 && !pv[i]->planned)
                pv[i]->w = fmin(fin(pv[i]->a->min_w, pv[i]->lo), pv[i]->lo);
    snprintf(note, notelen,
             "realtime: %s, base %.0f W, EVs %.0f W, V2G %.0f W, batteries %.0f W, "
             "PV %.0f W, bounds [%.0f, %.0f] W",
             target_names[kind], s->base, esum, vsum, b, pvw, lo, hi);
}

/* Islanded: grid-forming batteries hold the island; shed disconnectable
 * loads, pause EVs, curtail PV to what the load and the grid-forming
 * batteries (less a margin) absorb. */
static void run_island(struct rt *r, const struct fg_sched_view *v, struct work *w,
                       uint32_t n, const struct sums *s, char *note, size_t notelen)
{
    double base = s->base, charge = 0, avail = 0;
    int ngf = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct work *k = &w[i];
        if (!k->a->online)
            continue;
        if (is_disconnectable(k->a) && !pinned(k->a)) {
            struct ev_state *st = state_for(r, k->a->id);
            base -= k->meas; /* it is going off */
            k->steer = 1;
            k->w = 0;
            k->flags |= FG_SCHED_SP_DISCONNECT;
            if (st)
                st->load_off = 1; /* on again after the island (load_disconnectable) */
        } else if (k->a->kind == FG_SCHED_BATTERY &&
                   (k->a->caps & FG_SCHED_CAP_GRID_FORMING)) {
            charge += k->hi;
            ngf++;
        } else if (k->a->kind == FG_SCHED_PV && k->a->curtailable) {
            avail -= k->lo;
        }
    }
    charge *= 1 - r->o.island_margin_pct / 100.0;
    double prod = clampd(base + charge, 0, avail);
    double bsum = 0, gf_lo = 0, gf_hi = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct work *k = &w[i];
        if (!k->steer || !k->a->online || is_disconnectable(k->a))
            continue;
        if (k->a->kind == FG_SCHED_EVSE) {
            k->w = 0;
            if (k->s && k->s->on) {
                k->s->on = 0;
                k->s->last_switch = v->now;
            }
            if (k->s)
                k->s->last_w = 0;
        } else if (k->a->kind == FG_SCHED_PV) {
            k->w = avail > 0 ? k->lo * prod / avail : 0;
        } else if (k->a->kind == FG_SCHED_BATTERY) {
            k->w = 0;
            if (k->a->caps & FG_SCHED_CAP_GRID_FORMING) {
                k->flags |= FG_SCHED_SP_GRID_FORMING;
                gf_lo += k->lo;
                gf_hi += k->hi;
            }
        }
    }
    /* what the grid-forming batteries will carry, shared by their room */
    bsum = clampd(prod - base, gf_lo, gf_hi);
    for (uint32_t i = 0; i < n; i++) {
        struct work *k = &w[i];
        if (k->flags & FG_SCHED_SP_GRID_FORMING) {
            double room = bsum >= 0 ? gf_hi : -gf_lo;
            double part = bsum >= 0 ? k->hi : -k->lo;
            k->w = room > 0 ? bsum * part / room : 0;
        }
    }
    snprintf(
        note, notelen,
        "realtime: island, %d grid-forming, load %.0f W, PV %.0f W, batteries %.0f W%s",
        ngf, base, -prod, bsum, ngf ? "" : " (no grid-forming battery!)");
}

/* After an island: back to grid-following. The loads it shed come on
 * again by the grid rule (load_disconnectable: unless the plan keeps them
 * off). */
static void resync(struct work *w, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct work *k = &w[i];
        if (!k->a->online)
            continue;
        if (k->a->kind == FG_SCHED_BATTERY && (k->a->caps & FG_SCHED_CAP_GRID_FORMING))
            k->flags |= FG_SCHED_SP_GRID_FOLLOWING;
    }
}

static int rt_realtime(void *inst, const struct fg_sched_view *v,
                       struct fg_sched_setpoints *out)
{
    struct rt *r = inst;
    if (!r || !v || !out || (out->cap && !out->sp))
        return -1;
    out->n = 0;
    out->note[0] = 0;
    if (v->size < VIEW_MIN_SIZE ||
        (v->n_assets && (!v->assets || v->asset_stride < ASSET_MIN_SIZE))) {
        snprintf(out->note, sizeof out->note, "realtime: view or asset size too small");
        return -1;
    }
    uint32_t n = 0;
    struct work *w = calloc(v->n_assets ? v->n_assets : 1, sizeof *w);
    r->ptr = calloc(4 * (size_t)v->n_assets + 4, sizeof *r->ptr);
    if (!w || !r->ptr) {
        free(w);
        free(r->ptr);
        r->ptr = NULL;
        snprintf(out->note, sizeof out->note, "realtime: out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < v->n_assets; i++) {
        const struct fg_sched_asset *a = fg_sched_asset_at(v, i);
        if (a->size >= ASSET_MIN_SIZE)
            w[n++].a = a;
    }
    struct sums s = {0};
    classify(r, v, w, n, &s);
    isp_track(r, v, s.site - s.unplanned);
    if (v->island) {
        r->islanded = 1;
        run_island(r, v, w, n, &s, out->note, sizeof out->note);
    } else {
        if (r->islanded)
            resync(w, n);
        r->islanded = 0;
        run_grid(r, v, w, n, &s, out->note, sizeof out->note);
    }
    for (uint32_t i = 0; i < n; i++)
        volt_var(r, v, &w[i]);
    if (!v->island)
        reactive_target(v, w, n);
    for (uint32_t i = 0; i < n; i++)
        if (w[i].steer)
            emit(out, &w[i]);
    free(w);
    free(r->ptr);
    r->ptr = NULL;
    return 0;
}

static const struct fg_sched_plugin realtime_plugin = {
    .abi = FG_SCHED_ABI_VERSION,
    .size = sizeof(struct fg_sched_plugin),
    .name = "realtime",
    .create = rt_create,
    .plan = NULL,
    .realtime = rt_realtime,
    .destroy = rt_destroy,
};

const struct fg_sched_plugin *fg_sched_realtime_plugin(void)
{
    return &realtime_plugin;
}
