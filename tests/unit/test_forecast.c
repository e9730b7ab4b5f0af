/* Unit tests of gateway/forecast.c on a real model and a real store (a
 * mkdtemp directory per test): a simulated site (a weekly load pattern with
 * noise, an EV, a battery, a shiftable load, PV with day-to-day weather and
 * curtailment) is fed second by second in simulated time; the tests check
 * the forecast's error, the fallback from weekly to nothing, that unknown
 * measurements are never learned, and the stored state. */
#define _GNU_SOURCE
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "forecast.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */
#define DAY 86400
#define ISP 900
#define OFFSET_MIN 60  /* local time = UTC + 1 h */
#define SIGMA_W 200.0  /* sd of an ISP's load around the weekly pattern */
#define SECOND_W 600.0 /* per-second noise: uniform in +- this */
#define PV_PEAK_W 5000.0

struct fx {
    char dir[64];
    struct fg_model m;
    struct fg_forecast f;
    struct fg_store *s;
    struct fg_asset *ev, *bat, *pv, *fridge, *washer;
};

/* ---- the simulated site ----------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Uniform in [0, 1) from (stream, i). */
static double uni(uint64_t stream, int64_t i)
{
    return (double)(mix(stream * 0x100000001b3ull ^ (uint64_t)i) >> 11) /
           9007199254740992.0;
}

/* About normal (Irwin-Hall of 4), mean 0, sd 1. */
static double gauss(uint64_t stream, int64_t i)
{
    double s = 0;
    for (int k = 0; k < 4; k++)
        s += uni(stream + 1000 * (uint64_t)k, i);
    return (s - 2) * sqrt(3);
}

/* The weekly pattern of the inflexible load at local time: weekdays an
 * office day, weekends a smaller bump. */
static double pattern(int64_t t)
{
    int64_t local = t + OFFSET_MIN * 60;
    int64_t day = local / DAY;
    double h = (double)(local % DAY) / 3600;
    if (day % 7 < 5)
        return 1500 + (h >= 8 && h < 18 ? 3000 : 0) + 500 * sin(2 * M_PI * h / 24);
    return 1200 + (h >= 9 && h < 17 ? 800 : 0);
}

/* The true mean of the inflexible load over the ISP holding t. */
static double load_isp(int64_t t)
{
    int64_t isp = t / ISP;
    return pattern(isp * ISP) + SIGMA_W * gauss(1, isp);
}

/* PV available at t: a bell over 06:00-18:00 UTC times the day's weather. */
static double pv_avail(int64_t t)
{
    double h = (double)(t % DAY) / 3600;
    if (h <= 6 || h >= 18)
        return 0;
    double weather = 0.6 + 0.4 * uni(2, t / DAY);
    return PV_PEAK_W * weather * sin(M_PI * (h - 6) / 12);
}

/* Set every measurement of the site for second t. */
static void site_at(struct fx *x, int64_t t)
{
    int64_t day = t / DAY;
    double h = (double)(t % DAY) / 3600;
    /* an EV on half of the days, 3 h from a random hour */
    double ev_from = 6 + 12 * uni(3, day);
    x->ev->power_w = uni(4, day) < 0.5 && h >= ev_from && h < ev_from + 3 ? 7000 : 0;
    x->bat->power_w = 3000 * sin((double)t / 5000);
    x->washer->power_w = uni(5, t / ISP) < 0.2 ? 2000 : 0;
    /* every third day curtailed to 1500 W around noon */
    double avail = pv_avail(t);
    bool curtail = day % 3 == 2 && h >= 11 && h < 13;
    x->pv->pv.available_w = avail;
    x->pv->pv.limit_w = curtail ? 1500 : NAN;
    x->pv->power_w = -(curtail ? fmin(avail, 1500) : avail);
    double load = load_isp(t) + SECOND_W * (2 * uni(6, t) - 1);
    x->fridge->power_w = 0.1 * load; /* part of the load, in the meter */
    x->m.site.meter_power_w =
        load + x->ev->power_w + x->bat->power_w + x->washer->power_w + x->pv->power_w;
    x->m.site.meter_seen = t;
}

/* Run the site from `from` to `to` (exclusive), a tick every step s. */
static void feed(struct fx *x, int64_t from, int64_t to, int64_t step)
{
    for (int64_t t = from; t < to; t += step) {
        site_at(x, t);
        fg_forecast_tick(&x->f, &x->m, t);
    }
}

static void add(struct fx *x, const char *id, enum fg_asset_kind kind,
                enum fg_load_type lt)
{
    struct fg_asset a;
    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "%s", id);
    a.kind = kind;
    a.online = true;
    a.power_w = 0;
    a.pv.limit_w = NAN;
    a.load.type = lt;
    struct fg_error e;
    assert_int_equal(fg_model_add_asset(&x->m, &a, &e), 0);
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    if (!x)
        return -1;
    snprintf(x->dir, sizeof(x->dir), "/tmp/fg-test-forecast-XXXXXX");
    if (!mkdtemp(x->dir))
        return -1;
    fg_model_init(&x->m);
    x->m.site.isp_s = ISP;
    x->m.site.utc_offset_min = OFFSET_MIN;
    add(x, "ev1", FG_ASSET_EVSE, 0);
    add(x, "bat1", FG_ASSET_BATTERY, 0);
    add(x, "pv1", FG_ASSET_PV, 0);
    add(x, "fridge", FG_ASSET_LOAD, FG_LOAD_INFLEXIBLE);
    add(x, "washer", FG_ASSET_LOAD, FG_LOAD_SHIFTABLE);
    x->ev = fg_model_find_asset(&x->m, "ev1");
    x->bat = fg_model_find_asset(&x->m, "bat1");
    x->pv = fg_model_find_asset(&x->m, "pv1");
    x->fridge = fg_model_find_asset(&x->m, "fridge");
    x->washer = fg_model_find_asset(&x->m, "washer");
    fg_forecast_init(&x->f);
    struct fg_error e = {0};
    if (fg_store_open(&x->s, x->dir, 0, &e))
        return -1;
    *state = x;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *x = *state;
    fg_forecast_clear(&x->f);
    fg_store_close(x->s);
    fg_model_clear(&x->m);
    int rc = nftw(x->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(x);
    return rc;
}

/* ---- accuracy ---------------------------------------------------------------- */

/* After three weeks the weekly profile forecasts the fourth week of load.
 * Each slot is the mean of three noisy ISPs, so the error of a forecast is
 * the new ISP's own noise (sd SIGMA_W) plus the estimate's (sd about
 * SIGMA_W / sqrt(3)), plus what is left of the per-second noise (about
 * SECOND_W / sqrt(3 * 900) = 12 W): RMS about 1.16 SIGMA_W = 231 W. The
 * bound 1.5 SIGMA_W leaves room for the sample; a learner that did not
 * subtract the EV, battery, PV or washer, or mixed weekdays and weekends,
 * is far above it (the weekday/weekend difference alone is 3000 W). */
static void test_weekly_load_accuracy(void **state)
{
    struct fx *x = *state;
    feed(x, T0, T0 + 21 * DAY, 1);
    assert_int_equal(x->f.load.isps_learned, 21 * 96 - 1); /* the last one goes on */
    assert_int_equal(x->f.load.skipped_s, 0);

    size_t n = 7 * 96;
    double *load = calloc(n, sizeof(double)), *pv = calloc(n, sizeof(double));
    enum fg_fc_method *lh = calloc(n, sizeof(*lh)), *ph = calloc(n, sizeof(*ph));
    assert_true(load && pv && lh && ph);
    int64_t start = T0 + 21 * DAY;
    fg_forecast_series(&x->f, start, ISP, n, load, pv, lh, ph);
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(lh[i], FG_FC_WEEKLY);
        assert_int_equal(ph[i], FG_FC_DAILY); /* never a weekly PV profile */
        double e = load[i] - load_isp(start + (int64_t)i * ISP);
        se += e * e;
    }
    double rms = sqrt(se / (double)n);
    printf("weekly load forecast: RMS %.0f W (sigma %.0f W)\n", rms, SIGMA_W);
    assert_true(rms < 1.5 * SIGMA_W);

    /* PV for the next day: the daily profile, which is about the mean
     * weather (0.8) times the bell. The weather is uniform in [0.6, 1.0]
     * (sd 0.115), the profile's own error adds a little, so the daylight
     * RMS is about 0.13 x the bell's daylight RMS (0.71 PV_PEAK_W): 460 W.
     * Bound: twice that. */
    se = 0;
    int nd = 0;
    for (size_t i = 0; i < 96; i++) {
        int64_t t = start + (int64_t)i * ISP;
        double truth = 0;
        for (int s = 0; s < ISP; s += 60)
            truth += pv_avail(t + s) / (ISP / 60);
        assert_true(pv[i] >= 0);
        if (truth == 0 && pv_avail(t - ISP) == 0 && pv_avail(t + ISP) == 0)
            assert_true(pv[i] == 0); /* night is night */
        if (truth > 0) {
            se += (pv[i] - truth) * (pv[i] - truth);
            nd++;
        }
    }
    rms = sqrt(se / nd);
    printf("daily PV forecast: daylight RMS %.0f W (peak %.0f W)\n", rms, PV_PEAK_W);
    assert_true(rms < 0.13 * 0.71 * PV_PEAK_W * 2);
    free(load);
    free(pv);
    free(lh);
    free(ph);
}

/* ---- fallback ----------------------------------------------------------------- */

static enum fg_fc_method method(struct fx *x, enum fg_fc_series s, int64_t t)
{
    enum fg_fc_method h;
    double v = fg_forecast_at(&x->f, s, t, &h);
    assert_true(h == FG_FC_NONE ? isnan(v) : isfinite(v));
    return h;
}

/* As history grows the forecast of the same ISP goes from unknown to
 * persistence, daily and weekly; PV never weekly, and persistence only
 * for the next hour. Ticks every 10 s: each stands for its 10 s. */
static void test_fallback(void **state)
{
    struct fx *x = *state;
    int64_t t = T0 + 3 * DAY; /* a Sunday */
    assert_int_equal(method(x, FG_FC_LOAD, t + 600), FG_FC_NONE);
    assert_int_equal(method(x, FG_FC_PV, t + 600), FG_FC_NONE);
    double v[4];
    enum fg_fc_method h[4];
    fg_forecast_series(&x->f, t, ISP, 4, v, NULL, h, NULL);
    assert_true(isnan(v[0]) && h[0] == FG_FC_NONE);

    /* 08:00 to 10:00 UTC: two hours, persistence only */
    int64_t from = T0 + 8 * 3600;
    feed(x, from, from + 2 * 3600, 10);
    assert_int_equal(x->f.load.isps_learned, 7); /* the 8th is not complete yet */
    int64_t next = from + 2 * 3600;
    enum fg_fc_method how;
    double last = fg_forecast_at(&x->f, FG_FC_LOAD, next + 5 * 3600, &how);
    assert_int_equal(how, FG_FC_PERSISTENCE);
    assert_int_equal(x->f.load.last_start, next - 2 * ISP); /* the last complete ISP */
    assert_float_equal(last, x->f.load.last_mean, 0);
    assert_true(fabs(last - load_isp(next - 2 * ISP)) < 200);
    assert_int_equal(method(x, FG_FC_PV, next + 1800), FG_FC_PERSISTENCE);
    assert_int_equal(method(x, FG_FC_PV, next + 2 * 3600), FG_FC_NONE);
    assert_int_equal(method(x, FG_FC_LOAD, next + 3 * DAY), FG_FC_NONE);

    /* a whole day: the daily profile for tomorrow */
    feed(x, next, T0 + DAY + 3600, 10);
    assert_int_equal(method(x, FG_FC_LOAD, T0 + DAY + 12 * 3600), FG_FC_DAILY);
    assert_int_equal(method(x, FG_FC_PV, T0 + DAY + 12 * 3600), FG_FC_DAILY);
    /* a slot not seen yet (local 02:00 to 09:00): the last ISP persists */
    assert_int_equal(method(x, FG_FC_LOAD, T0 + DAY + 4 * 3600), FG_FC_PERSISTENCE);

    /* one week of a weekday slot: still daily; two weeks: weekly */
    feed(x, T0 + DAY + 3600, T0 + 8 * DAY, 10);
    assert_int_equal(method(x, FG_FC_LOAD, T0 + 8 * DAY + 12 * 3600), FG_FC_DAILY);
    feed(x, T0 + 8 * DAY, T0 + 15 * DAY, 10);
    for (int64_t s = 0; s < DAY; s += ISP) {
        assert_int_equal(method(x, FG_FC_LOAD, T0 + 15 * DAY + s), FG_FC_WEEKLY);
        assert_int_equal(method(x, FG_FC_PV, T0 + 15 * DAY + s), FG_FC_DAILY);
    }
    /* a coarser step averages four ISPs */
    double hour[2], isps[8];
    fg_forecast_series(&x->f, T0 + 15 * DAY, 3600, 2, hour, NULL, h, NULL);
    fg_forecast_series(&x->f, T0 + 15 * DAY, ISP, 8, isps, NULL, NULL, NULL);
    assert_int_equal(h[0], FG_FC_WEEKLY);
    assert_float_equal(hour[1], (isps[4] + isps[5] + isps[6] + isps[7]) / 4, 1e-6);
}

/* ---- what is measured ----------------------------------------------------------- */

/* A site at constant powers: the inflexible load is 1000 W whatever the
 * EV, the washer and the (curtailed) PV do; the fridge is part of it. */
static void constant_site(struct fx *x, int64_t t)
{
    x->ev->power_w = 7000;
    x->bat->power_w = -2000;
    x->washer->power_w = 2000;
    x->fridge->power_w = 400;
    x->pv->power_w = -1000;
    x->pv->pv.limit_w = 1000;
    x->pv->pv.available_w = 4000;
    x->m.site.meter_power_w = 1000 + 7000 - 2000 + 2000 - 1000;
    x->m.site.meter_seen = t;
}

static void test_unknown_seconds_skipped(void **state)
{
    struct fx *x = *state;
    int64_t t0 = T0 + 10 * 3600;
    /* ISP 1: every third second the meter has no reading */
    uint64_t nan_s = 0;
    for (int64_t t = t0; t < t0 + ISP; t++) {
        constant_site(x, t);
        if (t % 3 == 0) {
            x->m.site.meter_power_w = NAN;
            nan_s++;
        }
        fg_forecast_tick(&x->f, &x->m, t);
    }
    assert_int_equal(x->f.load.skipped_s, nan_s);
    assert_int_equal(x->f.pv.skipped_s, 0);
    /* ISP 2: the meter is unknown for 600 s, the EV offline for 60 s, the
     * meter stale for 60 s: too little left to learn from */
    for (int64_t t = t0 + ISP; t < t0 + 2 * ISP; t++) {
        constant_site(x, t);
        int64_t s = t - t0 - ISP;
        if (s < 600)
            x->m.site.meter_power_w = NAN;
        else if (s < 660)
            x->ev->online = false;
        else if (s < 720)
            x->m.site.meter_seen = t - 2 * FG_FORECAST_METER_STALE_S;
        fg_forecast_tick(&x->f, &x->m, t);
        x->ev->online = true;
    }
    assert_int_equal(x->f.load.skipped_s, nan_s + 720);
    /* ISP 3 closes ISP 2 */
    constant_site(x, t0 + 2 * ISP);
    fg_forecast_tick(&x->f, &x->m, t0 + 2 * ISP);
    assert_int_equal(x->f.load.isps_learned, 1);
    assert_int_equal(x->f.load.isps_dropped, 1);
    assert_int_equal(x->f.load.last_start, t0);
    assert_float_equal(x->f.load.last_mean, 1000, 1e-9); /* NAN never counted as 0 */
    assert_int_equal(x->f.pv.isps_learned, 2);
    assert_float_equal(x->f.pv.last_mean, 4000, 1e-9); /* available, not curtailed */

    /* without a meter (never seen one) the load is the inflexible loads */
    x->m.site.meter_power_w = NAN;
    x->m.site.meter_seen = 0;
    for (int64_t t = t0 + 2 * ISP + 1; t <= t0 + 3 * ISP; t++)
        fg_forecast_tick(&x->f, &x->m, t);
    assert_int_equal(x->f.load.last_start, t0 + 2 * ISP);
    assert_float_equal(x->f.load.last_mean, 400, 1); /* and one second of 1000 W */
    /* a PV asset without a reading: no PV sample */
    x->pv->power_w = NAN;
    uint64_t pv_skipped = x->f.pv.skipped_s;
    fg_forecast_tick(&x->f, &x->m, t0 + 3 * ISP + 1);
    assert_int_equal(x->f.pv.skipped_s, pv_skipped + 1);
}

/* ---- the stored state ----------------------------------------------------------- */

static void assert_same_forecast(const struct fg_forecast *a, const struct fg_forecast *b,
                                 int64_t start)
{
    enum { N = 192 };
    double la[N], pa[N], lb[N], pb[N];
    enum fg_fc_method ha[N], hb[N], qa[N], qb[N];
    fg_forecast_series(a, start, ISP, N, la, pa, ha, qa);
    fg_forecast_series(b, start, ISP, N, lb, pb, hb, qb);
    assert_memory_equal(la, lb, sizeof(la));
    assert_memory_equal(pa, pb, sizeof(pa));
    assert_memory_equal(ha, hb, sizeof(ha));
    assert_memory_equal(qa, qb, sizeof(qa));
}

static void reopen(struct fx *x)
{
    fg_store_close(x->s);
    struct fg_error e = {0};
    assert_int_equal(fg_store_open(&x->s, x->dir, 0, &e), 0);
}

static void test_save_and_load(void **state)
{
    struct fx *x = *state;
    /* the last tick opens the ISP from now: every ISP before it is learned
     * and saved */
    int64_t now = T0 + 15 * DAY + 11 * 3600;
    feed(x, T0, now + 5, 5);
    assert_int_equal(fg_forecast_save(&x->f, x->s, 1000, true), 0);
    uint64_t learned = x->f.load.isps_learned;
    assert_false(x->f.dirty);
    assert_int_equal(fg_forecast_save(&x->f, x->s, 1000, false), 0); /* nothing new */
    reopen(x);

    struct fg_forecast g;
    fg_forecast_init(&g);
    assert_int_equal(fg_forecast_load(&g, x->s, &x->m.site, 2000), 0);
    assert_same_forecast(&x->f, &g, now);
    enum fg_fc_method h;
    fg_forecast_at(&g, FG_FC_LOAD, now, &h);
    assert_int_equal(h, FG_FC_WEEKLY);
    fg_forecast_at(&g, FG_FC_PV, now + 2 * ISP, &h);
    assert_int_equal(h, FG_FC_DAILY);
    /* both go on learning alike; the ISP the restart cut is dropped by the
     * one that saw its first tick, never seen by the other */
    struct fg_forecast tmp = x->f;
    x->f = g;
    feed(x, now + ISP, now + 2 * DAY, 5);
    g = x->f;
    x->f = tmp;
    feed(x, now + ISP, now + 2 * DAY, 5);
    assert_true(g.load.isps_learned > 150);
    assert_int_equal(x->f.load.isps_learned - learned, g.load.isps_learned);
    assert_same_forecast(&x->f, &g, now + 2 * DAY);
    fg_forecast_clear(&g);
}

struct rows {
    int n;
    struct {
        char series[8];
        int64_t format, isp_s;
        size_t len;
        unsigned char *state;
    } r[4];
};

static int copy_row(void *arg, const struct fg_store_forecast *f)
{
    struct rows *r = arg;
    if (r->n == 4)
        return 0;
    snprintf(r->r[r->n].series, sizeof(r->r[0].series), "%s", f->series);
    r->r[r->n].format = f->format;
    r->r[r->n].isp_s = f->isp_s;
    r->r[r->n].len = f->len;
    r->r[r->n].state = malloc(f->len);
    memcpy(r->r[r->n].state, f->state, f->len);
    r->n++;
    return 0;
}

static int count_forecast_event(void *arg, const struct fg_store_event *e)
{
    if (!strcmp(e->source, "forecast") && strstr(e->message, "not loaded"))
        ++*(int *)arg;
    return 0;
}

static int events(struct fx *x)
{
    int n = 0;
    assert_int_equal(fg_store_event_list(x->s, 0, 100, count_forecast_event, &n), 0);
    return n;
}

/* Put row `i` back with one double at `at` replaced (or the length cut). */
static void put_bad(struct fx *x, struct rows *r, int i, size_t at, double v, size_t len)
{
    unsigned char *b = malloc(r->r[i].len);
    memcpy(b, r->r[i].state, r->r[i].len);
    if (at != (size_t)-1) {
        uint64_t u;
        memcpy(&u, &v, sizeof(u));
        for (int k = 0; k < 8; k++)
            b[8 * at + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
    struct fg_store_forecast f = {
        r->r[i].series, r->r[i].format, r->r[i].isp_s, b, len ? len : r->r[i].len, 5000};
    assert_int_equal(fg_store_forecast_put(x->s, &f), 0);
    free(b);
}

/* Load the store into a fresh learner: what the load and pv forecast of
 * tomorrow noon come from. */
static void load_methods(struct fx *x, int isp_s, enum fg_fc_method *load,
                         enum fg_fc_method *pv)
{
    struct fg_forecast g;
    fg_forecast_init(&g);
    struct fg_site site = x->m.site;
    site.isp_s = isp_s;
    assert_int_equal(fg_forecast_load(&g, x->s, &site, 6000), 0);
    fg_forecast_at(&g, FG_FC_LOAD, T0 + 9 * DAY + 12 * 3600, load);
    fg_forecast_at(&g, FG_FC_PV, T0 + 9 * DAY + 12 * 3600, pv);
    fg_forecast_clear(&g);
}

static void test_bad_rows(void **state)
{
    struct fx *x = *state;
    feed(x, T0, T0 + 2 * DAY, 10);
    assert_int_equal(fg_forecast_save(&x->f, x->s, 1000, true), 0);
    struct rows r = {0};
    assert_int_equal(fg_store_forecast_foreach(x->s, copy_row, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.r[0].series, "load");
    enum fg_fc_method lh, ph;
    load_methods(x, ISP, &lh, &ph);
    assert_int_equal(lh, FG_FC_DAILY);
    assert_int_equal(ph, FG_FC_DAILY);
    assert_int_equal(events(x), 0);

    /* the load row's first weekly mean is NAN: load refused, pv kept */
    put_bad(x, &r, 0, 3, NAN, 0);
    load_methods(x, ISP, &lh, &ph);
    assert_int_equal(lh, FG_FC_NONE);
    assert_int_equal(ph, FG_FC_DAILY);
    assert_int_equal(events(x), 1);
    /* a count that is not a whole number; a cut blob; another format */
    put_bad(x, &r, 0, 3 + 7 * 96, 0.5, 0);
    load_methods(x, ISP, &lh, &ph);
    assert_int_equal(lh, FG_FC_NONE);
    put_bad(x, &r, 0, (size_t)-1, 0, r.r[0].len - 8);
    load_methods(x, ISP, &lh, &ph);
    assert_int_equal(lh, FG_FC_NONE);
    r.r[1].format = 99;
    put_bad(x, &r, 1, (size_t)-1, 0, 0);
    load_methods(x, ISP, &lh, &ph);
    assert_int_equal(ph, FG_FC_NONE);
    assert_int_equal(events(x), 5);
    /* a negative PV mean */
    r.r[1].format = 1;
    put_bad(x, &r, 1, 3 + 48, -5, 0);
    load_methods(x, ISP, &lh, &ph);
    assert_int_equal(ph, FG_FC_NONE);

    /* intact rows for another ISP length are refused too */
    put_bad(x, &r, 0, (size_t)-1, 0, 0);
    put_bad(x, &r, 1, (size_t)-1, 0, 0);
    load_methods(x, 300, &lh, &ph);
    assert_int_equal(lh, FG_FC_NONE);
    assert_int_equal(ph, FG_FC_NONE);
    load_methods(x, ISP, &lh, &ph);
    assert_int_equal(lh, FG_FC_DAILY);
    assert_int_equal(ph, FG_FC_DAILY);

    /* refused, the learner starts afresh and learns again; its next save
     * replaces the bad row */
    put_bad(x, &r, 0, 3, INFINITY, 0);
    fg_forecast_clear(&x->f);
    fg_forecast_init(&x->f);
    assert_int_equal(fg_forecast_load(&x->f, x->s, &x->m.site, 7000), 0);
    assert_true(x->f.dirty);
    assert_int_equal(x->f.load.isps_learned, 0);
    feed(x, T0 + 7 * DAY, T0 + 8 * DAY + 60, 10);
    load_methods(x, ISP, &lh, &ph); /* still the bad row: not saved yet */
    assert_int_equal(lh, FG_FC_NONE);
    assert_int_equal(fg_forecast_save(&x->f, x->s, 8000, true), 0);
    load_methods(x, ISP, &lh, &ph);
    assert_int_equal(lh, FG_FC_DAILY);
    for (int i = 0; i < r.n; i++)
        free(r.r[i].state);
}

/* A changed ISP length (a reload) restarts learning. */
static void test_isp_change(void **state)
{
    struct fx *x = *state;
    feed(x, T0, T0 + DAY + 3600, 10);
    assert_int_equal(method(x, FG_FC_LOAD, T0 + DAY + 12 * 3600), FG_FC_DAILY);
    x->m.site.isp_s = 300;
    feed(x, T0 + DAY + 3600, T0 + DAY + 7200, 10);
    assert_int_equal(x->f.isp_s, 300);
    assert_int_equal(x->f.per_day, 288);
    assert_int_equal(method(x, FG_FC_LOAD, T0 + 2 * DAY + 12 * 3600), FG_FC_PERSISTENCE);
    assert_true(x->f.dirty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_weekly_load_accuracy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_seconds_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_and_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isp_change, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
