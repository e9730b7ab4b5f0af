#include "forecast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define DAY_S 86400
#define ALPHA_WEEK 0.25   /* weekly slots: about the last 4 to 7 weeks count */
#define ALPHA_DAY 0.2     /* daily load slots: about the last 5 to 9 days */
#define ALPHA_PV 0.3      /* daily PV slots: about the last 3 to 6 days */
#define N_MAX 1000000u    /* a slot's count saturates here */
#define PV_DAYLIGHT 0.05  /* slot above this share of the profile's peak: daylight */
#define PV_K_MAX 2.0      /* the scaling of the last daylight ISP is clamped to this */
#define PV_K_TAU_S 7200.0 /* ... and fades with this time constant */
#define MAX_W 1e9         /* a stored mean beyond this is refused */
#define FORMAT 1          /* of the stored blob */
#define LOAD_EVENTS_MAX 4

static const char *const method_names[] = {"none", "persistence", "daily", "weekly"};

const char *fg_fc_method_name(enum fg_fc_method m)
{
    return (unsigned)m < sizeof(method_names) / sizeof(method_names[0]) ? method_names[m]
                                                                        : "?";
}

/* ---- time -> slot ----------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

static size_t day_slot(const struct fg_forecast *f, int64_t t, int offset_min)
{
    size_t s = (size_t)(floor_mod(t + (int64_t)offset_min * 60, DAY_S) / f->isp_s);
    return s < f->per_day ? s : f->per_day - 1;
}

static size_t week_slot(const struct fg_forecast *f, int64_t t)
{
    int64_t day = floor_div(t + (int64_t)f->utc_offset_min * 60, DAY_S);
    return (size_t)floor_mod(day, 7) * f->per_day + day_slot(f, t, f->utc_offset_min);
}

/* The slot of series s holding t: load in local time, pv in UTC. */
static size_t load_day_slot(const struct fg_forecast *f, int64_t t)
{
    return day_slot(f, t, f->utc_offset_min);
}

static size_t pv_day_slot(const struct fg_forecast *f, int64_t t)
{
    return day_slot(f, t, 0);
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void profile_free(struct fg_fc_profile *p)
{
    free(p->mean);
    free(p->n);
    memset(p, 0, sizeof(*p));
}

static int profile_alloc(struct fg_fc_profile *p, size_t slots)
{
    memset(p, 0, sizeof(*p));
    if (!slots)
        return 0;
    p->mean = calloc(slots, sizeof(*p->mean));
    p->n = calloc(slots, sizeof(*p->n));
    if (!p->mean || !p->n) {
        profile_free(p);
        return FG_ENOMEM;
    }
    p->slots = slots;
    return 0;
}

static void learner_free(struct fg_fc_learner *l)
{
    profile_free(&l->week);
    profile_free(&l->day);
    memset(l, 0, sizeof(*l));
}

/* A fresh learner with weeks (0 for pv) and per_day slots. */
static int learner_alloc(struct fg_fc_learner *l, size_t week_slots, size_t per_day)
{
    memset(l, 0, sizeof(*l));
    l->last_mean = NAN;
    l->pv_k = 1;
    if (profile_alloc(&l->week, week_slots) || profile_alloc(&l->day, per_day)) {
        learner_free(l);
        return FG_ENOMEM;
    }
    return 0;
}

void fg_forecast_init(struct fg_forecast *f)
{
    memset(f, 0, sizeof(*f));
    f->load.last_mean = f->pv.last_mean = NAN;
    f->last_save_mono_ms = fg_mono_ms();
}

void fg_forecast_clear(struct fg_forecast *f)
{
    learner_free(&f->load);
    learner_free(&f->pv);
    memset(f, 0, sizeof(*f));
}

/* Start learning afresh for ISPs of isp_s (a divisor of a day). */
static int start(struct fg_forecast *f, int isp_s)
{
    learner_free(&f->load);
    learner_free(&f->pv);
    f->isp_s = 0;
    f->per_day = 0;
    f->cur_start = f->prev_t = 0;
    if (isp_s <= 0 || DAY_S % isp_s)
        return FG_EINVAL;
    size_t per_day = DAY_S / (size_t)isp_s;
    if (learner_alloc(&f->load, 7 * per_day, per_day) ||
        learner_alloc(&f->pv, 0, per_day)) {
        learner_free(&f->load);
        return FG_ENOMEM;
    }
    f->isp_s = isp_s;
    f->per_day = per_day;
    return 0;
}

/* ---- measuring ------------------------------------------------------------------ */

static bool known(const struct fg_asset *a)
{
    return a->online && isfinite(a->power_w);
}

/* What the PV assets produce, or could while curtailed. False when a PV
 * asset is not measured, or there is none. */
static bool measure_pv(const struct fg_model *m, double *out)
{
    size_t n = 0;
    double sum = 0;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (a->kind != FG_ASSET_PV)
            continue;
        if (!known(a))
            return false;
        double w = fmax(0, -a->power_w);
        bool curtailed = isfinite(a->pv.limit_w) || a->sp.active;
        if (curtailed && isfinite(a->pv.available_w) && a->pv.available_w > w)
            w = a->pv.available_w;
        sum += w;
        n++;
    }
    *out = sum;
    return n > 0;
}

/* Does the site's load forecast hold this asset (else it is subtracted)? */
static bool inflexible(const struct fg_asset *a)
{
    return a->kind == FG_ASSET_LOAD && a->load.type == FG_LOAD_INFLEXIBLE;
}

/* The inflexible load: the meter minus every other asset; without a meter
 * (none ever seen) the inflexible load assets. False when unknown. */
static bool measure_load(const struct fg_model *m, int64_t now, double *out)
{
    const struct fg_site *s = &m->site;
    bool meter = isfinite(s->meter_power_w);
    if (!meter && s->meter_seen)
        return false; /* the site has a meter, and it has no reading now */
    if (meter && s->meter_seen && now - s->meter_seen > FG_FORECAST_METER_STALE_S)
        return false;
    size_t n = 0;
    double sum = 0;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (meter == inflexible(a))
            continue;
        if (!known(a))
            return false;
        sum += a->power_w;
        n++;
    }
    if (!meter && !n)
        return false;
    *out = meter ? s->meter_power_w - sum : sum;
    return true;
}

/* ---- learning --------------------------------------------------------------------- */

static void update(struct fg_fc_profile *p, size_t i, double x, double alpha)
{
    if (i >= p->slots)
        return;
    uint32_t n = p->n[i];
    if (!n) {
        p->mean[i] = x;
    } else {
        double a = fmax(alpha, 1.0 / (n + 1.0)); /* a plain mean while it is young */
        p->mean[i] += a * (x - p->mean[i]);
    }
    if (n < N_MAX)
        p->n[i] = n + 1;
}

static double profile_peak(const struct fg_fc_profile *p)
{
    double peak = 0;
    for (size_t i = 0; i < p->slots; i++)
        if (p->n[i] && p->mean[i] > peak)
            peak = p->mean[i];
    return peak;
}

static void learn_pv(struct fg_forecast *f, int64_t start, double x)
{
    struct fg_fc_learner *l = &f->pv;
    size_t i = pv_day_slot(f, start);
    double p = l->day.mean[i], peak = profile_peak(&l->day);
    if (l->day.n[i] && peak > 0 && p >= PV_DAYLIGHT * peak) {
        l->pv_k = fmin(PV_K_MAX, fmax(0, x / p));
        l->pv_k_t = start + f->isp_s;
    }
    update(&l->day, i, x, ALPHA_PV);
}

/* The ISP from start has ended: its means update the profiles. */
static void close_isp(struct fg_forecast *f, int64_t start)
{
    struct fg_fc_learner *ls[2] = {&f->load, &f->pv};
    for (int k = 0; k < 2; k++) {
        struct fg_fc_learner *l = ls[k];
        if (l->acc_s * 2 < f->isp_s) {
            l->isps_dropped++;
        } else {
            double x = l->acc_wx / l->acc_s;
            if (k) {
                learn_pv(f, start, x);
            } else {
                update(&l->week, week_slot(f, start), x, ALPHA_WEEK);
                update(&l->day, load_day_slot(f, start), x, ALPHA_DAY);
            }
            l->last_start = start;
            l->last_mean = x;
            l->isps_learned++;
            f->dirty = true;
        }
        l->acc_wx = l->acc_s = 0;
    }
}

/* A measurement stands for the time since the previous tick when that tick
 * measured the series too (a fast simulated clock, a stalled loop), within
 * the current ISP; else for one second. */
static void sample(struct fg_forecast *f, struct fg_fc_learner *l, bool ok, double x,
                   int64_t now, int64_t dt)
{
    if (!ok) {
        l->skipped_s++;
        l->prev_ok = false;
        return;
    }
    int64_t in_isp = now - f->cur_start;
    int64_t w = l->prev_ok ? dt : 1;
    w = w > in_isp ? in_isp : w;
    w = w < 1 ? 1 : w;
    l->acc_wx += (double)w * x;
    l->acc_s += (double)w;
    l->prev_ok = true;
}

void fg_forecast_tick(struct fg_forecast *f, const struct fg_model *m, int64_t now)
{
    if (m->site.isp_s != f->isp_s) {
        if (m->site.isp_s == f->refused_isp_s)
            return;
        if (f->isp_s)
            fg_info("forecast",
                    "ISP length changed from %d to %d s: learning starts afresh",
                    f->isp_s, m->site.isp_s);
        int rc = start(f, m->site.isp_s);
        if (rc) {
            fg_err("forecast", "cannot learn with ISPs of %d s: %s", m->site.isp_s,
                   fg_strerror(rc));
            f->refused_isp_s = m->site.isp_s;
            return;
        }
        f->refused_isp_s = 0;
        f->dirty = true; /* the stored profiles are for another ISP length */
    }
    f->utc_offset_min = m->site.utc_offset_min;
    if (now <= f->prev_t) {
        if (now < f->prev_t) { /* the clock went back: the ISP measured is void */
            f->cur_start = 0;
            f->load.acc_wx = f->load.acc_s = f->pv.acc_wx = f->pv.acc_s = 0;
            f->load.prev_ok = f->pv.prev_ok = false;
            f->prev_t = now;
        }
        return;
    }
    int64_t isp_start = floor_div(now, f->isp_s) * f->isp_s;
    if (isp_start != f->cur_start) {
        if (f->cur_start)
            close_isp(f, f->cur_start);
        f->cur_start = isp_start;
    }
    int64_t dt = f->prev_t ? now - f->prev_t : 1;
    double load = 0, pv = 0;
    bool load_ok = measure_load(m, now, &load);
    bool pv_ok = measure_pv(m, &pv);
    sample(f, &f->load, load_ok, load, now, dt);
    sample(f, &f->pv, pv_ok, pv, now, dt);
    f->prev_t = now;
}

/* ---- forecasting --------------------------------------------------------------------
 */

static double persistence(const struct fg_fc_learner *l, int64_t isp_start, int64_t reach,
                          enum fg_fc_method *how)
{
    int64_t ahead = isp_start - l->last_start;
    if (!l->last_start || ahead < 0 || ahead > reach || !isfinite(l->last_mean)) {
        *how = FG_FC_NONE;
        return NAN;
    }
    *how = FG_FC_PERSISTENCE;
    return l->last_mean;
}

static double load_at(const struct fg_forecast *f, int64_t isp_start,
                      enum fg_fc_method *how)
{
    const struct fg_fc_learner *l = &f->load;
    size_t w = week_slot(f, isp_start), d = load_day_slot(f, isp_start);
    if (l->week.n[w] >= FG_FORECAST_WEEKS_MIN) {
        *how = FG_FC_WEEKLY;
        return l->week.mean[w];
    }
    if (l->day.n[d]) {
        *how = FG_FC_DAILY;
        return l->day.mean[d];
    }
    return persistence(l, isp_start, FG_FORECAST_LOAD_PERSIST_S, how);
}

/* The daily slot, scaled by how the last daylight ISP compared with the
 * profile: the weather of the last hours says something about the next
 * ones, nothing about tomorrow. */
static double pv_at(const struct fg_forecast *f, int64_t isp_start,
                    enum fg_fc_method *how)
{
    const struct fg_fc_learner *l = &f->pv;
    size_t d = pv_day_slot(f, isp_start);
    if (!l->day.n[d])
        return persistence(l, isp_start, FG_FORECAST_PV_PERSIST_S, how);
    double k = 1;
    double mid = (double)isp_start + f->isp_s / 2.0;
    if (l->pv_k_t && mid > (double)l->pv_k_t)
        k = 1 + (l->pv_k - 1) * exp(-(mid - (double)l->pv_k_t) / PV_K_TAU_S);
    *how = FG_FC_DAILY;
    return fmax(0, l->day.mean[d] * k);
}

double fg_forecast_at(const struct fg_forecast *f, enum fg_fc_series s, int64_t t,
                      enum fg_fc_method *how)
{
    enum fg_fc_method h = FG_FC_NONE;
    double v = NAN;
    if (f->isp_s > 0 && f->per_day) {
        int64_t isp_start = floor_div(t, f->isp_s) * f->isp_s;
        v = s == FG_FC_PV ? pv_at(f, isp_start, &h) : load_at(f, isp_start, &h);
    }
    if (how)
        *how = h;
    return v;
}

/* The mean over the learned ISPs inside [t, t + isp_s): NAN (and NONE)
 * when one of them is unknown, else the weakest method. */
static double interval(const struct fg_forecast *f, enum fg_fc_series s, int64_t t,
                       int isp_s, enum fg_fc_method *how)
{
    int64_t k = f->isp_s > 0 && isp_s > f->isp_s ? isp_s / f->isp_s : 1;
    double sum = 0;
    enum fg_fc_method weakest = FG_FC_WEEKLY;
    for (int64_t j = 0; j < k; j++) {
        enum fg_fc_method h;
        double v = fg_forecast_at(f, s, t + j * f->isp_s, &h);
        if (isnan(v)) {
            *how = FG_FC_NONE;
            return NAN;
        }
        sum += v;
        weakest = h < weakest ? h : weakest;
    }
    *how = weakest;
    return sum / (double)k;
}

void fg_forecast_series(const struct fg_forecast *f, int64_t start, int isp_s, size_t n,
                        double *load_w, double *pv_w, enum fg_fc_method *load_how,
                        enum fg_fc_method *pv_how)
{
    for (size_t i = 0; i < n; i++) {
        int64_t t = start + (int64_t)i * (isp_s > 0 ? isp_s : 0);
        enum fg_fc_method h;
        double v = interval(f, FG_FC_LOAD, t, isp_s, &h);
        if (load_w)
            load_w[i] = v;
        if (load_how)
            load_how[i] = h;
        v = interval(f, FG_FC_PV, t, isp_s, &h);
        if (pv_w)
            pv_w[i] = v;
        if (pv_how)
            pv_how[i] = h;
    }
}

/* ---- the stored state -----------------------------------------------------------------
 *
 * Format 1, a series of little-endian IEEE-754 doubles:
 *   per_day, week slots (7 * per_day for load, 0 for pv), day slots (per_day),
 *   week means, week counts, day means, day counts,
 *   last_start, last_mean, pv_k, pv_k_t.
 * Counts and times are whole numbers; a series without a last ISP stores
 * last_start 0 and last_mean 0. */

#define HEAD_N 3
#define TAIL_N 4

static size_t blob_doubles(size_t week, size_t day)
{
    return HEAD_N + 2 * week + 2 * day + TAIL_N;
}

static void put_d(unsigned char **p, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    for (int i = 0; i < 8; i++)
        *(*p)++ = (unsigned char)(u >> (8 * i));
}

static double get_d(const unsigned char **p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t) * (*p)++ << (8 * i);
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

static unsigned char *encode(const struct fg_forecast *f, const struct fg_fc_learner *l,
                             size_t *len)
{
    const struct fg_fc_profile *pr[2] = {&l->week, &l->day};
    *len = 8 * blob_doubles(l->week.slots, l->day.slots);
    unsigned char *b = malloc(*len), *p = b;
    if (!b)
        return NULL;
    put_d(&p, (double)f->per_day);
    put_d(&p, (double)l->week.slots);
    put_d(&p, (double)l->day.slots);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < pr[k]->slots; i++)
            put_d(&p, pr[k]->n[i] ? pr[k]->mean[i] : 0);
        for (size_t i = 0; i < pr[k]->slots; i++)
            put_d(&p, (double)pr[k]->n[i]);
    }
    bool last = l->last_start && isfinite(l->last_mean);
    put_d(&p, last ? (double)l->last_start : 0);
    put_d(&p, last ? l->last_mean : 0);
    put_d(&p, l->pv_k);
    put_d(&p, (double)l->pv_k_t);
    return b;
}

int fg_forecast_save(struct fg_forecast *f, struct fg_store *s, int64_t now_ms,
                     bool force)
{
    if (!f->dirty || !f->isp_s)
        return 0;
    int64_t mono = fg_mono_ms();
    if (!force && mono - f->last_save_mono_ms < FG_FORECAST_SAVE_MS)
        return 0;
    size_t len[2];
    unsigned char *b[2] = {encode(f, &f->load, &len[0]), encode(f, &f->pv, &len[1])};
    static const char *const names[2] = {"load", "pv"};
    int rc = b[0] && b[1] ? 0 : FG_ENOMEM;
    if (!rc)
        rc = fg_store_batch_begin(s);
    if (!rc) {
        for (int k = 0; k < 2 && !rc; k++) {
            struct fg_store_forecast r = {names[k], FORMAT, f->isp_s,
                                          b[k],     len[k], now_ms};
            rc = fg_store_forecast_put(s, &r);
        }
        rc = fg_store_batch_end(s, rc);
    }
    free(b[0]);
    free(b[1]);
    if (!rc) {
        f->dirty = false;
        f->last_save_mono_ms = mono;
    }
    return rc;
}

/* ---- loading
 * ---------------------------------------------------------------------------- */

struct load_ctx {
    struct fg_forecast *f;
    int rc; /* FG_ENOMEM */
    size_t n_bad;
    char bad[LOAD_EVENTS_MAX][200];
};

/* A whole number in [lo, hi]? */
static bool whole(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi && v == floor(v);
}

/* Read one profile (means, counts) from p into pr; why on failure. */
static const char *decode_profile(const unsigned char **p, struct fg_fc_profile *pr,
                                  bool pv)
{
    for (size_t i = 0; i < pr->slots; i++) {
        pr->mean[i] = get_d(p);
        if (!isfinite(pr->mean[i]) || fabs(pr->mean[i]) > MAX_W ||
            (pv && pr->mean[i] < 0))
            return "a mean out of range or not a number";
    }
    for (size_t i = 0; i < pr->slots; i++) {
        double n = get_d(p);
        if (!whole(n, 0, N_MAX))
            return "a count out of range or not a whole number";
        pr->n[i] = (uint32_t)n;
        if (!pr->n[i] && pr->mean[i] != 0)
            return "a mean without a count";
    }
    return NULL;
}

/* Decode r into l (allocated for f's ISP length); NULL or why not. */
static const char *decode(const struct fg_forecast *f, const struct fg_store_forecast *r,
                          bool pv, struct fg_fc_learner *l)
{
    if (r->format != FORMAT)
        return "unknown format";
    if (r->isp_s != f->isp_s)
        return "stored for another ISP length";
    size_t week = pv ? 0 : 7 * f->per_day;
    if (r->len != 8 * blob_doubles(week, f->per_day))
        return "wrong size";
    const unsigned char *p = r->state;
    double head[HEAD_N];
    for (int i = 0; i < HEAD_N; i++)
        head[i] = get_d(&p);
    if (head[0] != (double)f->per_day || head[1] != (double)week ||
        head[2] != (double)f->per_day)
        return "wrong number of slots";
    const char *why = decode_profile(&p, &l->week, pv);
    if (!why)
        why = decode_profile(&p, &l->day, pv);
    if (why)
        return why;
    double last_start = get_d(&p), last_mean = get_d(&p);
    double k = get_d(&p), k_t = get_d(&p);
    if (!whole(last_start, 0, 1e15) || fmod(last_start, f->isp_s) != 0)
        return "bad time of the last ISP";
    if (!isfinite(last_mean) || fabs(last_mean) > MAX_W || (pv && last_mean < 0))
        return "bad mean of the last ISP";
    if (!isfinite(k) || k < 0 || k > PV_K_MAX || !whole(k_t, 0, 1e15))
        return "bad PV scaling";
    l->last_start = (int64_t)last_start;
    l->last_mean = l->last_start ? last_mean : NAN;
    l->pv_k = k;
    l->pv_k_t = (int64_t)k_t;
    return NULL;
}

static size_t learned(const struct fg_fc_profile *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->slots; i++)
        n += p->n[i] > 0;
    return n;
}

static void refuse(struct load_ctx *c, const char *series, const char *why)
{
    fg_warn("forecast", "stored %.16s forecast profile not loaded (%s); it learns afresh",
            series, why);
    if (c->n_bad < LOAD_EVENTS_MAX)
        snprintf(c->bad[c->n_bad++], sizeof(c->bad[0]),
                 "stored %.16s forecast profile not loaded (%.100s); it learns afresh",
                 series, why);
}

static int load_row(void *arg, const struct fg_store_forecast *r)
{
    struct load_ctx *c = arg;
    struct fg_forecast *f = c->f;
    bool pv = !strcmp(r->series, "pv");
    if (!pv && strcmp(r->series, "load")) {
        refuse(c, r->series, "unknown series");
        return 0;
    }
    struct fg_fc_learner l;
    if (learner_alloc(&l, pv ? 0 : 7 * f->per_day, f->per_day)) {
        c->rc = FG_ENOMEM;
        return FG_ENOMEM;
    }
    const char *why = decode(f, r, pv, &l);
    if (why) {
        refuse(c, r->series, why);
        learner_free(&l);
        return 0;
    }
    struct fg_fc_learner *dst = pv ? &f->pv : &f->load;
    learner_free(dst);
    *dst = l;
    fg_info("forecast", "stored %s profile loaded (%zu of %zu daily slots learned)",
            r->series, learned(&dst->day), dst->day.slots);
    return 0;
}

int fg_forecast_load(struct fg_forecast *f, struct fg_store *s,
                     const struct fg_site *site, int64_t now_ms)
{
    int rc = start(f, site->isp_s);
    if (rc)
        return rc;
    f->utc_offset_min = site->utc_offset_min;
    struct load_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return FG_ENOMEM;
    c->f = f;
    rc = fg_store_forecast_foreach(s, load_row, c);
    if (c->rc)
        rc = c->rc;
    else if (rc)
        fg_err("forecast", "reading the stored profiles: %s", fg_store_errmsg(s));
    for (size_t i = 0; i < c->n_bad; i++)
        fg_store_event_add(s, now_ms, "warn", "forecast", "profile", c->bad[i], NULL);
    if (c->n_bad)
        f->dirty = true; /* the refused rows are replaced at the next save */
    free(c);
    return rc;
}
