/* flexgw --battery-life: the ageing model offline, for stated conditions.
 * The document format is in docs/battery-model.md. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ageing_int.h"

#define WHATIF_MAX_CASES 1000
#define WHATIF_MAX_POINTS 1000
#define WHATIF_MAX_CYCLES 1e7
#define WHATIF_MAX_DAYS (100 * 365.25)
#define DAY_S 86400.0

struct ctx {
    char *err;
    size_t errlen;
};

static bool fail(struct ctx *x, const char *path, const char *what)
{
    snprintf(x->err, x->errlen, "%s: %s", path, what);
    return false;
}

/* A number member in [lo, hi] (lo_open: lo itself excluded); missing: def
 * (NAN def = required). */
static bool num(struct ctx *x, const cJSON *o, const char *base, const char *key,
                double lo, bool lo_open, double hi, double def, double *out)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", base, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (isnan(def))
            return fail(x, path, "is required");
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail(x, path, "must be a number");
    double d = v->valuedouble;
    if ((lo_open ? d <= lo : d < lo) || d > hi) {
        char msg[96];
        snprintf(msg, sizeof msg, "%g is out of range %c%g, %g]", d, lo_open ? '(' : '[',
                 lo, hi);
        return fail(x, path, msg);
    }
    *out = d;
    return true;
}

static bool only_keys(struct ctx *x, const cJSON *o, const char *base,
                      const char *const *keys)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        bool ok = false;
        for (size_t i = 0; keys[i]; i++)
            if (it->string && strcmp(it->string, keys[i]) == 0)
                ok = true;
        if (!ok) {
            char path[160];
            snprintf(path, sizeof path, "%s/%s", base, it->string ? it->string : "?");
            return fail(x, path, "unknown key");
        }
    }
    return true;
}

static void add_point(cJSON *arr, const struct fg_age_state *st, double days)
{
    cJSON *pt = cJSON_CreateObject();
    if (!pt)
        return;
    double loss = fg_age_loss(st);
    cJSON_AddNumberToObject(pt, "days", days);
    cJSON_AddNumberToObject(pt, "efc", st->efc);
    cJSON_AddNumberToObject(pt, "capacity_retention_pct", 100.0 * (1.0 - loss));
    cJSON_AddItemToArray(arr, pt);
}

static cJSON *run_case(struct ctx *x, const cJSON *c, size_t idx)
{
    char base[64], sub[96];
    snprintf(base, sizeof base, "/cases/%zu", idx);
    if (!cJSON_IsObject(c))
        return fail(x, base, "must be an object"), NULL;
    static const char *const keys[] = {
        "name",      "model",           "storage", "cycling", "scale_cal",
        "scale_cyc", "initial_soh_pct", "points",  NULL};
    if (!only_keys(x, c, base, keys))
        return NULL;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
    if (name && !cJSON_IsString(name))
        return snprintf(sub, sizeof sub, "%s/name", base),
               fail(x, sub, "must be a string"), NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(c, "model");
    snprintf(sub, sizeof sub, "%s/model", base);
    if (!cJSON_IsString(model))
        return fail(x, sub, "is required: a parameter set name"), NULL;
    const struct fg_age_params *p = fg_age_params_find(model->valuestring);
    if (!p) {
        char msg[512];
        int n = snprintf(msg, sizeof msg,
                         "unknown parameter set \"%.64s\"; known:", model->valuestring);
        for (size_t i = 0; i < fg_age_params_count() && n > 0 && (size_t)n < sizeof msg;
             i++)
            n += snprintf(msg + n, sizeof msg - (size_t)n, " %s",
                          fg_age_params_name(fg_age_params_at(i)));
        return fail(x, sub, msg), NULL;
    }
    double s_cal, s_cyc, soh0, points;
    if (!num(x, c, base, "scale_cal", 0, true, 1e3, 1, &s_cal) ||
        !num(x, c, base, "scale_cyc", 0, true, 1e3, 1, &s_cyc) ||
        !num(x, c, base, "initial_soh_pct", 0, true, 100, 100, &soh0) ||
        !num(x, c, base, "points", 0, false, WHATIF_MAX_POINTS, 0, &points))
        return NULL;
    const cJSON *storage = cJSON_GetObjectItemCaseSensitive(c, "storage");
    const cJSON *cycling = cJSON_GetObjectItemCaseSensitive(c, "cycling");
    if (!!storage == !!cycling)
        return fail(x, base, "needs exactly one of \"storage\" and \"cycling\""), NULL;

    struct fg_age_state st;
    fg_age_init(&st, p, 1000.0);
    st.s_cal = s_cal;
    st.s_cyc = s_cyc;
    fg_age_init_soh(&st, soh0 / 100.0);
    cJSON *out = cJSON_CreateObject();
    if (!out)
        return fail(x, base, "out of memory"), NULL;
    cJSON_AddStringToObject(out, "name", name ? name->valuestring : "");
    cJSON_AddStringToObject(out, "model", p->name);
    cJSON *curve = points > 0 ? cJSON_CreateArray() : NULL;
    int npts = (int)points;
    double days = 0;

    if (storage) {
        snprintf(sub, sizeof sub, "%s/storage", base);
        static const char *const sk[] = {"temp_c", "soc_pct", "days", NULL};
        double temp, soc, d;
        if (!cJSON_IsObject(storage) || !only_keys(x, storage, sub, sk) ||
            !num(x, storage, sub, "temp_c", -40, false, 80, NAN, &temp) ||
            !num(x, storage, sub, "soc_pct", 0, false, 100, NAN, &soc) ||
            !num(x, storage, sub, "days", 0, true, WHATIF_MAX_DAYS, NAN, &d)) {
            if (!cJSON_IsObject(storage))
                fail(x, sub, "must be an object");
            cJSON_Delete(out);
            cJSON_Delete(curve);
            return NULL;
        }
        int chunks = npts > 0 ? npts : 1;
        for (int i = 0; i < chunks; i++) {
            fg_age_book_cal(&st, d * 86400.0 / chunks, temp, soc / 100.0);
            if (curve)
                add_point(curve, &st, d * (i + 1) / chunks);
        }
        days = d;
    } else {
        snprintf(sub, sizeof sub, "%s/cycling", base);
        static const char *const ck[] = {
            "dod_pct", "mean_soc_pct", "c_rate",         "temp_c",
            "cycles",  "calendar",     "cycles_per_day", NULL};
        double dod, mean, crate, temp, n, per_day;
        bool ok = cJSON_IsObject(cycling);
        if (!ok)
            fail(x, sub, "must be an object");
        ok = ok && only_keys(x, cycling, sub, ck) &&
             num(x, cycling, sub, "dod_pct", 0, true, 100, NAN, &dod) &&
             num(x, cycling, sub, "mean_soc_pct", 0, false, 100, 50, &mean) &&
             num(x, cycling, sub, "c_rate", 0, true, 10, NAN, &crate) &&
             num(x, cycling, sub, "temp_c", -40, false, 80, NAN, &temp) &&
             num(x, cycling, sub, "cycles", 0, true, WHATIF_MAX_CYCLES, NAN, &n) &&
             num(x, cycling, sub, "cycles_per_day", 0, false, 1e4, 0, &per_day);
        const cJSON *cal =
            ok ? cJSON_GetObjectItemCaseSensitive(cycling, "calendar") : NULL;
        if (ok && cal && !cJSON_IsBool(cal)) {
            char path[160];
            snprintf(path, sizeof path, "%s/calendar", sub);
            ok = fail(x, path, "must be true or false");
        }
        if (ok && (mean - dod / 2 < -1e-9 || mean + dod / 2 > 100 + 1e-9)) {
            char path[160];
            snprintf(path, sizeof path, "%s/mean_soc_pct", sub);
            ok = fail(x, path, "a cycle of dod_pct around it leaves 0..100 %");
        }
        if (!ok) {
            cJSON_Delete(out);
            cJSON_Delete(curve);
            return NULL;
        }
        bool with_cal = cal ? cJSON_IsTrue(cal) : true;
        /* a cycle's time: back to back, or 1 / cycles_per_day with the rest
         * spent at the mean SoC */
        double cycle_s = 2.0 * (dod / 100.0) / crate * 3600.0;
        if (per_day > 0) {
            if (cycle_s > DAY_S / per_day * (1 + 1e-9)) {
                char path[160];
                snprintf(path, sizeof path, "%s/cycles_per_day", sub);
                cJSON_Delete(out);
                cJSON_Delete(curve);
                fail(x, path, "more cycles a day than fit at this c_rate and dod_pct");
                return NULL;
            }
            cycle_s = DAY_S / per_day;
        }
        /* calendar and cycle ageing interleaved in small chunks */
        int chunks = (int)fmin(ceil(n), 1000.0);
        if (npts > chunks)
            chunks = npts;
        int next_pt = 1;
        for (int i = 0; i < chunks; i++) {
            double nc = n / chunks;
            if (with_cal)
                fg_age_book_cal(&st, nc * cycle_s, temp, mean / 100.0);
            fg_age_book_cyc(&st, dod / 100.0, mean / 100.0, crate, temp, nc);
            days += nc * cycle_s / 86400.0;
            if (curve && (double)(i + 1) * npts >= (double)next_pt * chunks) {
                add_point(curve, &st, days);
                next_pt++;
            }
        }
        cJSON_AddBoolToObject(out, "calendar", with_cal);
    }
    double loss = fg_age_loss(&st), f[FG_AGE_FACTORS];
    fg_age_factors(&st, f);
    cJSON_AddNumberToObject(out, "capacity_retention_pct", 100.0 * (1.0 - loss));
    cJSON_AddNumberToObject(out, "loss_pct", 100.0 * loss);
    cJSON_AddNumberToObject(out, "efc", st.efc);
    cJSON_AddNumberToObject(out, "days", days);
    cJSON *fo = cJSON_AddObjectToObject(out, "loss_by_factor");
    for (int i = 0; fo && i < FG_AGE_FACTORS; i++) {
        cJSON *e = cJSON_AddObjectToObject(fo, fg_age_factor_name((enum fg_age_factor)i));
        if (e) {
            cJSON_AddNumberToObject(e, "loss_pct", 100.0 * f[i]);
            cJSON_AddNumberToObject(e, "share_pct", loss > 0 ? 100.0 * f[i] / loss : 0);
        }
    }
    if (curve)
        cJSON_AddItemToObject(out, "curve", curve);
    return out;
}

cJSON *fg_age_whatif(const cJSON *doc, char *err, size_t errlen)
{
    struct ctx x = {err, errlen};
    if (!cJSON_IsObject(doc))
        return fail(&x, "/", "must be an object with \"cases\""), NULL;
    static const char *const keys[] = {"cases", "$comment", NULL};
    if (!only_keys(&x, doc, "", keys))
        return NULL;
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(doc, "cases");
    if (!cJSON_IsArray(cases) || cJSON_GetArraySize(cases) == 0)
        return fail(&x, "/cases", "must be a non-empty array"), NULL;
    if (cJSON_GetArraySize(cases) > WHATIF_MAX_CASES)
        return fail(&x, "/cases", "more than 1000 cases"), NULL;
    cJSON *out = cJSON_CreateObject(),
          *res = out ? cJSON_AddArrayToObject(out, "cases") : NULL;
    if (!res) {
        cJSON_Delete(out);
        return fail(&x, "/", "out of memory"), NULL;
    }
    size_t i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        cJSON *r = run_case(&x, c, i++);
        if (!r) {
            cJSON_Delete(out);
            return NULL;
        }
        cJSON_AddItemToArray(res, r);
    }
    return out;
}
