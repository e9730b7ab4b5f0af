/* Scenario files (docs/scenario.md) -> struct fg_plan_problem, validated
 * strictly: unknown keys, wrong types and values out of range are errors,
 * all reported at once, each with its JSON path. */
#include <cjson/cJSON.h>

#include "fg_json.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan.h"

#define SCENARIO_FILE_MAX (16u << 20)
#define ISP_MAX 4032 /* six weeks of 15 min */

struct sp {
    struct fg_errlist *errs;
    struct fg_plan_problem *p;
    uint32_t n; /* ISPs, 0 until known */
};

/* A JSON path into out (FG_ERR_PATH_MAX bytes); a longer one is cut. */
static void __attribute__((format(printf, 2, 3))) pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, FG_ERR_PATH_MAX, fmt, ap);
    va_end(ap);
}

static void join(char *out, const char *path, const char *key)
{
    pathf(out, "%s/%s", path, key);
}

/* Unknown keys of obj (allowed: NULL-terminated keys) are errors. */
static void check_keys(struct sp *s, const cJSON *obj, const char *path,
                       const char *const *keys)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, obj)
    {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k->string))
            i++;
        if (!keys[i]) {
            char p[FG_ERR_PATH_MAX];
            join(p, path, k->string);
            fg_errlist_add(s->errs, FG_EUNKNOWN, p, "unknown key");
        }
    }
}

/* The member key of obj, NULL if absent (an error if required). */
static const cJSON *member(struct sp *s, const cJSON *obj, const char *key,
                           const char *path, bool required)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j && required) {
        char p[FG_ERR_PATH_MAX];
        join(p, path, key);
        fg_errlist_add(s->errs, FG_EMISSING, p, "required key missing");
    }
    return j;
}

static bool num_at(struct sp *s, const cJSON *j, const char *p, double lo, double hi,
                   double *out)
{
    if (!cJSON_IsNumber(j)) {
        fg_errlist_add(s->errs, FG_ETYPE, p, "expected number, got %s",
                       fg_json_type_name(j));
        return false;
    }
    double v = j->valuedouble;
    if (!isfinite(v) || v < lo || v > hi) {
        fg_errlist_add(s->errs, FG_ERANGE, p, "%g not in [%g, %g]", v, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

/* A number in [lo, hi]; *out keeps its default when absent. */
static bool num(struct sp *s, const cJSON *obj, const char *key, const char *path,
                bool req, double lo, double hi, double *out)
{
    const cJSON *j = member(s, obj, key, path, req);
    if (!j)
        return !req;
    char p[FG_ERR_PATH_MAX];
    join(p, path, key);
    return num_at(s, j, p, lo, hi, out);
}

static bool boolean(struct sp *s, const cJSON *obj, const char *key, const char *path,
                    uint32_t *out)
{
    const cJSON *j = member(s, obj, key, path, false);
    if (!j)
        return true;
    if (!cJSON_IsBool(j)) {
        char p[FG_ERR_PATH_MAX];
        join(p, path, key);
        fg_errlist_add(s->errs, FG_ETYPE, p, "expected boolean, got %s",
                       fg_json_type_name(j));
        return false;
    }
    *out = cJSON_IsTrue(j);
    return true;
}

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) -> epoch seconds. */
static int parse_time(const char *str, int64_t *out)
{
    struct tm tm = {0};
    int n = 0;
    if (sscanf(str, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 20 || str[n] || tm.tm_year < 1970 || tm.tm_year > 9999 || tm.tm_mon < 1 ||
        tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 59)
        return -1;
    int mday = tm.tm_mday;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != mday) /* 31 February */
        return -1;
    *out = (int64_t)t;
    return 0;
}

static bool when(struct sp *s, const cJSON *obj, const char *key, const char *path,
                 int64_t *out)
{
    const cJSON *j = member(s, obj, key, path, true);
    if (!j)
        return false;
    char p[FG_ERR_PATH_MAX];
    join(p, path, key);
    if (!cJSON_IsString(j)) {
        fg_errlist_add(s->errs, FG_ETYPE, p, "expected string (UTC time), got %s",
                       fg_json_type_name(j));
        return false;
    }
    if (parse_time(j->valuestring, out)) {
        fg_errlist_add(s->errs, FG_EPARSE, p,
                       "\"%s\" is not a UTC time like \"2026-06-01T07:30:00Z\"",
                       j->valuestring);
        return false;
    }
    return true;
}

/* A series: one number for every ISP, or an array of exactly n numbers
 * (null entries allowed where nulls is set: NAN). *out is allocated; when
 * the key is absent it holds def (NAN def with !req: *out stays NULL). */
static bool series(struct sp *s, const cJSON *obj, const char *key, const char *path,
                   bool req, double lo, double hi, double def, bool nulls, double **out)
{
    const cJSON *j = member(s, obj, key, path, req);
    if ((!j && (req || isnan(def))) || !s->n)
        return !req && !j;
    double *v = malloc(s->n * sizeof(double));
    if (!v) {
        fg_errlist_add(s->errs, FG_ENOMEM, path, "out of memory");
        return false;
    }
    free(*out);
    *out = v;
    char p[FG_ERR_PATH_MAX], q[FG_ERR_PATH_MAX];
    join(p, path, key);
    bool ok = true;
    if (!j || cJSON_IsNumber(j)) {
        double c = def;
        if (j)
            ok = num_at(s, j, p, lo, hi, &c);
        for (uint32_t i = 0; i < s->n; i++)
            v[i] = c;
        return ok;
    }
    if (!cJSON_IsArray(j)) {
        fg_errlist_add(s->errs, FG_ETYPE, p,
                       "expected number or array of numbers, got %s",
                       fg_json_type_name(j));
        return false;
    }
    int len = cJSON_GetArraySize(j);
    if (len != (int)s->n) {
        fg_errlist_add(s->errs, FG_ERANGE, p, "%d values, expected %u (one per ISP)", len,
                       s->n);
        return false;
    }
    uint32_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        pathf(q, "%s/%u", p, i);
        v[i] = NAN;
        if (!(nulls && cJSON_IsNull(e)))
            ok &= num_at(s, e, q, lo, hi, &v[i]);
        i++;
    }
    return ok;
}

static void id_of(struct sp *s, const cJSON *obj, const char *path,
                  struct fg_plan_asset *a)
{
    const cJSON *j = member(s, obj, "id", path, true);
    if (!j)
        return;
    char p[FG_ERR_PATH_MAX];
    join(p, path, "id");
    if (!cJSON_IsString(j)) {
        fg_errlist_add(s->errs, FG_ETYPE, p, "expected string, got %s",
                       fg_json_type_name(j));
        return;
    }
    size_t n = strlen(j->valuestring);
    if (!n || n >= sizeof(a->id)) {
        fg_errlist_add(s->errs, FG_ERANGE, p, "length %zu not in [1, %zu]", n,
                       sizeof(a->id) - 1);
        return;
    }
    for (uint32_t i = 0; i < s->p->n_assets; i++)
        if (!strcmp(s->p->assets[i].id, j->valuestring)) {
            fg_errlist_add(s->errs, FG_EEXISTS, p, "duplicate id \"%s\"", j->valuestring);
            return;
        }
    memcpy(a->id, j->valuestring, n + 1);
}

#define WMAX 1e9  /* W */
#define EMAX 1e10 /* Wh */
#define PMAX 1e4  /* currency per kWh */

static void battery(struct sp *s, const cJSON *o, const char *path,
                    struct fg_plan_asset *a)
{
    static const char *const keys[] = {"id",
                                       "capacity_wh",
                                       "soc_pct",
                                       "soc_min_pct",
                                       "soc_max_pct",
                                       "soc_end_min_pct",
                                       "max_charge_w",
                                       "max_discharge_w",
                                       "efficiency_charge",
                                       "efficiency_discharge",
                                       "wear_cost_per_kwh",
                                       NULL};
    check_keys(s, o, path, keys);
    a->kind = FG_PLAN_BATTERY;
    double cap = 1, soc = 0, lo = 0, hi = 100, end = NAN;
    num(s, o, "capacity_wh", path, true, 1e-3, EMAX, &cap);
    num(s, o, "soc_pct", path, true, 0, 100, &soc);
    num(s, o, "soc_min_pct", path, false, 0, 100, &lo);
    num(s, o, "soc_max_pct", path, false, 0, 100, &hi);
    num(s, o, "soc_end_min_pct", path, false, 0, 100, &end);
    num(s, o, "max_charge_w", path, true, 0, WMAX, &a->max_charge_w);
    num(s, o, "max_discharge_w", path, true, 0, WMAX, &a->max_discharge_w);
    a->eta_charge = a->eta_discharge = 0.95;
    num(s, o, "efficiency_charge", path, false, 0.01, 1, &a->eta_charge);
    num(s, o, "efficiency_discharge", path, false, 0.01, 1, &a->eta_discharge);
    num(s, o, "wear_cost_per_kwh", path, false, 0, PMAX, &a->wear_per_kwh);
    char p[FG_ERR_PATH_MAX];
    if (lo > hi) {
        join(p, path, "soc_min_pct");
        fg_errlist_add(s->errs, FG_ERANGE, p, "%g above soc_max_pct %g", lo, hi);
    }
    if (soc > hi) {
        join(p, path, "soc_pct");
        fg_errlist_add(s->errs, FG_ERANGE, p, "%g above soc_max_pct %g", soc, hi);
    }
    if (!isnan(end) && end > hi) {
        join(p, path, "soc_end_min_pct");
        fg_errlist_add(s->errs, FG_ERANGE, p, "%g above soc_max_pct %g", end, hi);
    }
    a->capacity_wh = cap;
    a->energy_wh = cap * soc / 100;
    a->min_wh = cap * lo / 100;
    a->max_wh = cap * hi / 100;
    a->end_min_wh = isnan(end) ? NAN : cap * end / 100;
}

static void ev(struct sp *s, const cJSON *o, const char *path, struct fg_plan_asset *a)
{
    static const char *const keys[] = {"id",
                                       "arrival",
                                       "departure",
                                       "energy_wh",
                                       "max_charge_w",
                                       "v2g",
                                       "max_discharge_w",
                                       "capacity_wh",
                                       "energy_at_arrival_wh",
                                       "efficiency",
                                       "wear_cost_per_kwh",
                                       NULL};
    check_keys(s, o, path, keys);
    a->kind = FG_PLAN_EV;
    double need = 0, cap = NAN, e0 = 0, eta = 1;
    uint32_t v2g = 0;
    char p[FG_ERR_PATH_MAX];
    bool times = when(s, o, "arrival", path, &a->arrival);
    times &= when(s, o, "departure", path, &a->departure);
    if (times && a->departure <= a->arrival) {
        join(p, path, "departure");
        fg_errlist_add(s->errs, FG_ERANGE, p, "not after arrival");
    } else if (times && s->n && a->departure <= s->p->start) {
        join(p, path, "departure");
        fg_errlist_add(s->errs, FG_ERANGE, p, "before the horizon's start");
    }
    num(s, o, "energy_wh", path, true, 0, EMAX, &need);
    num(s, o, "max_charge_w", path, true, 1e-3, WMAX, &a->max_charge_w);
    boolean(s, o, "v2g", path, &v2g);
    num(s, o, "max_discharge_w", path, false, 0, WMAX, &a->max_discharge_w);
    num(s, o, "capacity_wh", path, v2g, 1e-3, EMAX, &cap);
    num(s, o, "energy_at_arrival_wh", path, false, 0, EMAX, &e0);
    num(s, o, "efficiency", path, false, 0.01, 1, &eta);
    num(s, o, "wear_cost_per_kwh", path, false, 0, PMAX, &a->wear_per_kwh);
    if (!v2g && a->max_discharge_w > 0) {
        join(p, path, "max_discharge_w");
        fg_errlist_add(s->errs, FG_ERANGE, p, "%g without \"v2g\": true",
                       a->max_discharge_w);
    }
    if (!isnan(cap) && e0 + need > cap) {
        join(p, path, "energy_wh");
        fg_errlist_add(s->errs, FG_ERANGE, p,
                       "%g plus energy_at_arrival_wh %g exceeds capacity_wh %g", need, e0,
                       cap);
    }
    a->eta_charge = a->eta_discharge = eta;
    a->energy_wh = e0;
    a->end_min_wh = e0 + need;
    a->capacity_wh = isnan(cap) ? e0 + need : cap;
    a->max_wh = a->capacity_wh;
}

static void pv(struct sp *s, const cJSON *o, const char *path, struct fg_plan_asset *a)
{
    static const char *const keys[] = {"id", "forecast_w", "curtailable", NULL};
    check_keys(s, o, path, keys);
    a->kind = FG_PLAN_PV;
    a->curtailable = 1;
    series(s, o, "forecast_w", path, true, 0, WMAX, NAN, false, &a->avail_w);
    boolean(s, o, "curtailable", path, &a->curtailable);
}

static void load(struct sp *s, const cJSON *o, const char *path, struct fg_plan_asset *a)
{
    static const char *const types[] = {"inflexible", "disconnectable", "shiftable"};
    static const char *const keys[][7] = {
        {"id", "type", "profile_w", NULL},
        {"id", "type", "rated_w", "off_cost_per_kwh", NULL},
        {"id", "type", "rated_w", "run_s", "earliest_start", "latest_end", NULL},
    };
    a->kind = FG_PLAN_LOAD;
    const cJSON *t = member(s, o, "type", path, true);
    char p[FG_ERR_PATH_MAX];
    join(p, path, "type");
    uint32_t k = 0;
    while (t && cJSON_IsString(t) && k < 3 && strcmp(types[k], t->valuestring))
        k++;
    if (!t)
        return;
    if (k == 3 || !cJSON_IsString(t)) {
        fg_errlist_add(s->errs, FG_ERANGE, p,
                       "expected \"inflexible\", \"disconnectable\" or \"shiftable\"");
        return;
    }
    check_keys(s, o, path, keys[k]);
    a->load_type = k;
    if (k == FG_SCHED_LOAD_INFLEXIBLE) {
        series(s, o, "profile_w", path, true, -WMAX, WMAX, NAN, false, &a->w);
        return;
    }
    num(s, o, "rated_w", path, true, 1e-3, WMAX, &a->rated_w);
    if (k == FG_SCHED_LOAD_DISCONNECTABLE) {
        num(s, o, "off_cost_per_kwh", path, true, 0, PMAX, &a->off_cost_per_kwh);
        return;
    }
    bool ok = num(s, o, "run_s", path, true, 1, 7 * 86400.0, &a->run_s);
    if (ok && s->p->isp_s && fmod(a->run_s, s->p->isp_s) != 0) {
        join(p, path, "run_s");
        fg_errlist_add(s->errs, FG_ERANGE, p, "%g is not a multiple of isp_s %d",
                       a->run_s, s->p->isp_s);
    }
    bool times = when(s, o, "earliest_start", path, &a->earliest_start);
    times &= when(s, o, "latest_end", path, &a->latest_end);
    if (ok && times && a->latest_end - a->earliest_start < a->run_s) {
        join(p, path, "latest_end");
        fg_errlist_add(s->errs, FG_ERANGE, p, "the window is shorter than run_s %g",
                       a->run_s);
    }
}

typedef void (*asset_fn)(struct sp *, const cJSON *, const char *,
                         struct fg_plan_asset *);

static void assets(struct sp *s, const cJSON *root, const char *key, asset_fn fn)
{
    const cJSON *arr = member(s, root, key, "", false);
    char p[FG_ERR_PATH_MAX];
    join(p, "", key);
    if (!arr)
        return;
    if (!cJSON_IsArray(arr)) {
        fg_errlist_add(s->errs, FG_ETYPE, p, "expected array, got %s",
                       fg_json_type_name(arr));
        return;
    }
    int n = cJSON_GetArraySize(arr), i = 0;
    struct fg_plan_asset *v =
        realloc(s->p->assets, (s->p->n_assets + (size_t)n + 1) * sizeof(*v));
    if (!v) {
        fg_errlist_add(s->errs, FG_ENOMEM, p, "out of memory");
        return;
    }
    s->p->assets = v;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        char q[FG_ERR_PATH_MAX];
        pathf(q, "%s/%d", p, i++);
        if (!cJSON_IsObject(o)) {
            fg_errlist_add(s->errs, FG_ETYPE, q, "expected object, got %s",
                           fg_json_type_name(o));
            continue;
        }
        struct fg_plan_asset *a = &s->p->assets[s->p->n_assets];
        memset(a, 0, sizeof(*a));
        a->end_min_wh = NAN;
        id_of(s, o, q, a);
        fn(s, o, q, a);
        s->p->n_assets++; /* even when invalid: its series are freed by clear */
    }
}

static void site(struct sp *s, const cJSON *root)
{
    static const char *const keys[] = {"import_max_w",        "export_max_w",
                                       "dso_import_max_w",    "dso_export_max_w",
                                       "demand_price_per_kw", NULL};
    const cJSON *o = member(s, root, "site", "", true);
    if (!o)
        return;
    if (!cJSON_IsObject(o)) {
        fg_errlist_add(s->errs, FG_ETYPE, "/site", "expected object, got %s",
                       fg_json_type_name(o));
        return;
    }
    check_keys(s, o, "/site", keys);
    struct fg_plan_problem *p = s->p;
    double imax = 0, emax = 0;
    bool ok = num(s, o, "import_max_w", "/site", true, 0, WMAX, &imax);
    ok &= num(s, o, "export_max_w", "/site", true, 0, WMAX, &emax);
    num(s, o, "demand_price_per_kw", "/site", false, 0, PMAX, &p->demand_price_per_kw);
    ok &= series(s, o, "dso_import_max_w", "/site", false, 0, WMAX, imax, false,
                 &p->import_max_w);
    ok &= series(s, o, "dso_export_max_w", "/site", false, 0, WMAX, emax, false,
                 &p->export_max_w);
    for (uint32_t t = 0; ok && t < s->n; t++) {
        p->import_max_w[t] = fmin(p->import_max_w[t], imax);
        p->export_max_w[t] = fmin(p->export_max_w[t], emax);
    }
}

static void prices(struct sp *s, const cJSON *root)
{
    static const char *const keys[] = {"import", "export", NULL};
    const cJSON *o = member(s, root, "prices", "", true);
    if (!o)
        return;
    if (!cJSON_IsObject(o)) {
        fg_errlist_add(s->errs, FG_ETYPE, "/prices", "expected object, got %s",
                       fg_json_type_name(o));
        return;
    }
    check_keys(s, o, "/prices", keys);
    bool ok = series(s, o, "import", "/prices", true, -PMAX, PMAX, NAN, false,
                     &s->p->price_import);
    ok &= series(s, o, "export", "/prices", true, -PMAX, PMAX, NAN, false,
                 &s->p->price_export);
    for (uint32_t t = 0; ok && t < s->n; t++)
        if (s->p->price_export[t] > s->p->price_import[t]) {
            char q[FG_ERR_PATH_MAX];
            pathf(q, "/prices/export/%u", t);
            fg_errlist_add(s->errs, FG_ERANGE, q,
                           "%g above the import price %g (the plan would buy and sell at "
                           "once)",
                           s->p->price_export[t], s->p->price_import[t]);
        }
}

static void options(struct sp *s, const cJSON *root)
{
    static const char *const bk[] = {"target_w", "deviation_price_per_kwh", NULL};
    static const char *const pk[] = {"grid_per_kwh", "ev_energy_per_kwh", "soc_per_kwh",
                                     "shiftable_miss", NULL};
    static const char *const sk[] = {"time_limit_s", "gap", NULL};
    struct fg_plan_problem *p = s->p;
    const cJSON *o;
    if ((o = member(s, root, "brp", "", false))) {
        if (!cJSON_IsObject(o)) {
            fg_errlist_add(s->errs, FG_ETYPE, "/brp", "expected object, got %s",
                           fg_json_type_name(o));
        } else {
            check_keys(s, o, "/brp", bk);
            series(s, o, "target_w", "/brp", true, -WMAX, WMAX, NAN, true, &p->target_w);
            num(s, o, "deviation_price_per_kwh", "/brp", true, 0, PMAX,
                &p->brp_price_per_kwh);
        }
    }
    if ((o = member(s, root, "penalties", "", false))) {
        if (!cJSON_IsObject(o)) {
            fg_errlist_add(s->errs, FG_ETYPE, "/penalties", "expected object, got %s",
                           fg_json_type_name(o));
        } else {
            check_keys(s, o, "/penalties", pk);
            num(s, o, "grid_per_kwh", "/penalties", false, 0, 1e6, &p->pen.grid_per_kwh);
            num(s, o, "ev_energy_per_kwh", "/penalties", false, 0, 1e6,
                &p->pen.ev_energy_per_kwh);
            num(s, o, "soc_per_kwh", "/penalties", false, 0, 1e6, &p->pen.soc_per_kwh);
            num(s, o, "shiftable_miss", "/penalties", false, 0, 1e9,
                &p->pen.shiftable_miss);
        }
    }
    if ((o = member(s, root, "solver", "", false))) {
        if (!cJSON_IsObject(o)) {
            fg_errlist_add(s->errs, FG_ETYPE, "/solver", "expected object, got %s",
                           fg_json_type_name(o));
        } else {
            check_keys(s, o, "/solver", sk);
            num(s, o, "time_limit_s", "/solver", false, 0.001, 86400, &p->time_limit_s);
            num(s, o, "gap", "/solver", false, 0, 1, &p->gap);
        }
    }
}

/* start, isp_s, horizon_s: the grid everything else is read on. */
static void grid(struct sp *s, const cJSON *root)
{
    double isp = 900, horizon = 0;
    bool ok = when(s, root, "start", "", &s->p->start);
    ok &= num(s, root, "isp_s", "", false, 60, 3600, &isp);
    ok &= num(s, root, "horizon_s", "", true, 60, 86400.0 * 42, &horizon);
    if (isp != floor(isp)) {
        fg_errlist_add(s->errs, FG_ERANGE, "/isp_s", "%g is not a whole number", isp);
        ok = false;
    }
    s->p->isp_s = (int32_t)isp;
    if (ok && fmod(horizon, isp) != 0) {
        fg_errlist_add(s->errs, FG_ERANGE, "/horizon_s",
                       "%g is not a multiple of isp_s %g", horizon, isp);
        ok = false;
    }
    if (ok && horizon / isp > ISP_MAX) {
        fg_errlist_add(s->errs, FG_ERANGE, "/horizon_s", "%g ISPs, at most %u",
                       horizon / isp, ISP_MAX);
        ok = false;
    }
    if (ok)
        s->n = s->p->n_isp = (uint32_t)(horizon / isp);
}

int fg_plan_scenario_parse(const char *text, size_t len, struct fg_plan_problem *p,
                           struct fg_errlist *errs)
{
    static const char *const keys[] = {
        "description", "start",  "isp_s",     "horizon_s", "site", "prices", "brp",
        "penalties",   "solver", "batteries", "evs",       "pv",   "loads",  NULL};
    size_t before = fg_errlist_count(errs);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : len, line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++, col++)
            if (text[i] == '\n') {
                line++;
                col = 0;
            }
        fg_errlist_add(errs, FG_EPARSE, "", "malformed JSON at line %zu column %zu", line,
                       col);
        return FG_EPARSE;
    }
    struct sp s = {.errs = errs, .p = p};
    if (!cJSON_IsObject(root)) {
        fg_errlist_add(errs, FG_ETYPE, "", "expected object, got %s",
                       fg_json_type_name(root));
        cJSON_Delete(root);
        return FG_ECONFIG;
    }
    check_keys(&s, root, "", keys);
    grid(&s, root);
    site(&s, root);
    prices(&s, root);
    options(&s, root);
    assets(&s, root, "batteries", battery);
    assets(&s, root, "evs", ev);
    assets(&s, root, "pv", pv);
    assets(&s, root, "loads", load);
    cJSON_Delete(root);
    return fg_errlist_count(errs) > before ? FG_ECONFIG : 0;
}

int fg_plan_scenario_load(const char *file, struct fg_plan_problem *p,
                          struct fg_errlist *errs)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return fg_errlist_add(errs, FG_EIO, "", "%s", strerror(errno));
    char *buf = malloc(SCENARIO_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, SCENARIO_FILE_MAX + 1, f) : 0;
    int rc = !buf        ? fg_errlist_add(errs, FG_ENOMEM, "", "out of memory")
             : ferror(f) ? fg_errlist_add(errs, FG_EIO, "", "read error")
             : n > SCENARIO_FILE_MAX
                 ? fg_errlist_add(errs, FG_ETOOBIG, "", "larger than 16 MiB")
                 : 0;
    fclose(f);
    if (!rc) {
        buf[n] = '\0';
        rc = fg_plan_scenario_parse(buf, n, p, errs);
    }
    free(buf);
    return rc;
}
