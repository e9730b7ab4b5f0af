/* The ageing state as JSON, for the store: everything fg_age_state holds,
 * empty statistics bins left out. Reading checks every field. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ageing_int.h"

#define STATE_VERSION 1

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *nums(const double *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *rev_json(const struct fg_age_reversal *r)
{
    double v[6] = {r->soc, (double)r->t, r->active_s, r->ah_s, r->temp_s, r->dur_s};
    return nums(v, 6);
}

cJSON *fg_age_state_to_json(const struct fg_age_state *st)
{
    if (!st || !st->p)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "v", STATE_VERSION);
    cJSON_AddStringToObject(o, "model", st->p->name);
    add_num(o, "capacity_wh", st->capacity_wh);
    add_num(o, "s_cal", st->s_cal);
    add_num(o, "s_cyc", st->s_cyc);
    add_num(o, "t0", (double)st->t0);
    add_num(o, "t_last", (double)st->t_last);
    add_num(o, "soc_last", st->soc_last);
    add_num(o, "temp_last", st->temp_last);
    add_num(o, "d_cal", st->d_cal);
    add_num(o, "d_cyc", st->d_cyc);
    add_num(o, "prior", st->prior);
    cJSON_AddItemToObject(o, "by_cal", nums(st->by_cal, FG_AGE_FACTORS));
    cJSON_AddItemToObject(o, "by_cyc", nums(st->by_cyc, FG_AGE_FACTORS));
    add_num(o, "efc", st->efc);
    add_num(o, "cycles", st->cycles);
    add_num(o, "age_s", st->age_s);
    add_num(o, "throughput_wh", st->throughput_wh);
    double win[5] = {st->win_s, st->win_temp_s, st->win_soc_s, st->win_temp0,
                     st->win_soc0};
    cJSON_AddItemToObject(o, "win", nums(win, 5));
    cJSON_AddNumberToObject(o, "dir", st->dir);
    cJSON_AddItemToObject(o, "cand", rev_json(&st->cand));
    cJSON_AddItemToObject(o, "seg", rev_json(&st->seg));
    cJSON *res = cJSON_AddArrayToObject(o, "res");
    for (size_t i = 0; res && i < st->n_res; i++)
        cJSON_AddItemToArray(res, rev_json(&st->res[i]));
    add_num(o, "recent_t", (double)st->recent_t);
    add_num(o, "recent_s", st->recent_s);
    cJSON *cal = cJSON_AddArrayToObject(o, "cal");
    for (int i = 0; cal && i < FG_AGE_CAL_T_BINS; i++)
        for (int j = 0; j < FG_AGE_CAL_SOC_BINS; j++)
            if (st->cal_w[i][j] > 0) {
                double v[5] = {i, j, st->cal_w[i][j], st->cal_tw[i][j], st->cal_sw[i][j]};
                cJSON_AddItemToArray(cal, nums(v, 5));
            }
    cJSON *cyc = cJSON_AddArrayToObject(o, "cyc");
    for (int i = 0; cyc && i < FG_AGE_CYC_DOD_BINS; i++)
        for (int j = 0; j < FG_AGE_CYC_C_BINS; j++)
            if (st->cyc_n[i][j] > 0) {
                double v[7] = {i,
                               j,
                               st->cyc_n[i][j],
                               st->cyc_dod[i][j],
                               st->cyc_soc[i][j],
                               st->cyc_c[i][j],
                               st->cyc_t[i][j]};
                cJSON_AddItemToArray(cyc, nums(v, 7));
            }
    cJSON *cp = cJSON_AddArrayToObject(o, "checkpoints");
    for (size_t i = 0; cp && i < st->n_cp; i++) {
        double v[4] = {(double)st->cp[i].t, st->cp[i].soh, st->cp[i].d_cal,
                       st->cp[i].d_cyc};
        cJSON_AddItemToArray(cp, nums(v, 4));
    }
    add_num(o, "fit_rms", st->fit_rms);
    return o;
}

struct rd {
    const cJSON *o;
    char *err;
    size_t errlen;
    bool ok;
};

static void bad(struct rd *r, const char *key, const char *what)
{
    if (r->ok)
        snprintf(r->err, r->errlen, "%s: %s", key, what);
    r->ok = false;
}

static double get(struct rd *r, const char *key, double lo, double hi, bool nullable)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->o, key);
    if (!v) {
        bad(r, key, "missing");
        return NAN;
    }
    if (cJSON_IsNull(v) && nullable)
        return NAN;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        bad(r, key, "not a number");
        return NAN;
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        bad(r, key, "out of range");
        return NAN;
    }
    return v->valuedouble;
}

/* A time or small integer: 0 when the field was bad (r->ok says so). */
static int64_t get_int(struct rd *r, const char *key, double lo, double hi)
{
    double v = get(r, key, lo, hi, false);
    return isfinite(v) ? (int64_t)v : 0;
}

/* An array of exactly n finite numbers. */
static bool arr(struct rd *r, const cJSON *a, const char *key, double *out, size_t n)
{
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n) {
        bad(r, key, "wrong shape");
        return false;
    }
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            bad(r, key, "not a number");
            return false;
        }
        out[i++] = e->valuedouble;
    }
    return true;
}

static bool get_rev(struct rd *r, const cJSON *a, const char *key,
                    struct fg_age_reversal *out)
{
    double v[6];
    if (!arr(r, a, key, v, 6))
        return false;
    if (v[0] < 0 || v[0] > 1 || v[1] < 0 || v[2] < 0 || v[5] < 0) {
        bad(r, key, "out of range");
        return false;
    }
    if (v[1] > 9e15) {
        bad(r, key, "out of range");
        return false;
    }
    *out = (struct fg_age_reversal){v[0], (int64_t)v[1], v[2], v[3], v[4], v[5]};
    return true;
}

int fg_age_state_from_json(struct fg_age_state *st, const cJSON *j, char *err,
                           size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = 0;
    if (!st || !cJSON_IsObject(j)) {
        snprintf(err, errlen, "not a JSON object");
        return FG_EINVAL;
    }
    struct rd r = {j, err, errlen, true};
    struct fg_age_state s;
    double v = get(&r, "v", 0, 1e9, false);
    if (r.ok && v != STATE_VERSION) {
        bad(&r, "v", "unknown state version");
        return FG_EINVAL;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    const struct fg_age_params *p =
        cJSON_IsString(m) ? fg_age_params_find(m->valuestring) : NULL;
    if (!p) {
        bad(&r, "model", "unknown parameter set");
        return FG_EINVAL;
    }
    double cap = get(&r, "capacity_wh", 1e-9, 1e12, false);
    if (!r.ok || fg_age_init(&s, p, cap) != 0) {
        bad(&r, "capacity_wh", "out of range");
        return FG_EINVAL;
    }
    s.s_cal = get(&r, "s_cal", 1e-6, 1e6, false);
    s.s_cyc = get(&r, "s_cyc", 1e-6, 1e6, false);
    s.t0 = get_int(&r, "t0", 0, 9e15);
    s.t_last = get_int(&r, "t_last", 0, 9e15);
    s.soc_last = get(&r, "soc_last", 0, 1, true);
    s.temp_last = get(&r, "temp_last", -100, 200, false);
    s.d_cal = get(&r, "d_cal", 0, 1e12, false);
    s.d_cyc = get(&r, "d_cyc", 0, 1e12, false);
    s.prior = get(&r, "prior", 0, 1, false);
    s.efc = get(&r, "efc", 0, 1e12, false);
    s.cycles = get(&r, "cycles", 0, 1e12, false);
    s.age_s = get(&r, "age_s", 0, 1e15, false);
    s.throughput_wh = get(&r, "throughput_wh", 0, 1e18, false);
    s.dir = (int)get_int(&r, "dir", -1, 1);
    s.recent_t = get_int(&r, "recent_t", 0, 9e15);
    s.recent_s = get(&r, "recent_s", 0, 1e15, false);
    s.fit_rms = get(&r, "fit_rms", 0, 10, true);
    if (!r.ok)
        return FG_EINVAL;
    if (s.t_last && s.t_last < s.t0) {
        bad(&r, "t_last", "before t0");
        return FG_EINVAL;
    }
    if (!arr(&r, cJSON_GetObjectItemCaseSensitive(j, "by_cal"), "by_cal", s.by_cal,
             FG_AGE_FACTORS) ||
        !arr(&r, cJSON_GetObjectItemCaseSensitive(j, "by_cyc"), "by_cyc", s.by_cyc,
             FG_AGE_FACTORS))
        return FG_EINVAL;
    double win[5];
    if (!arr(&r, cJSON_GetObjectItemCaseSensitive(j, "win"), "win", win, 5))
        return FG_EINVAL;
    if (win[0] < 0 || win[4] < 0 || win[4] > 1) {
        bad(&r, "win", "out of range");
        return FG_EINVAL;
    }
    s.win_s = win[0];
    s.win_temp_s = win[1];
    s.win_soc_s = win[2];
    s.win_temp0 = win[3];
    s.win_soc0 = win[4];
    if (!get_rev(&r, cJSON_GetObjectItemCaseSensitive(j, "cand"), "cand", &s.cand) ||
        !get_rev(&r, cJSON_GetObjectItemCaseSensitive(j, "seg"), "seg", &s.seg))
        return FG_EINVAL;
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "res"), *e;
    if (!cJSON_IsArray(res) || cJSON_GetArraySize(res) > FG_AGE_RESIDUE_MAX) {
        bad(&r, "res", "wrong shape");
        return FG_EINVAL;
    }
    s.n_res = 0;
    cJSON_ArrayForEach(e, res)
    {
        if (!get_rev(&r, e, "res", &s.res[s.n_res++]))
            return FG_EINVAL;
    }
    if (s.t_last && s.n_res == 0) {
        bad(&r, "res", "empty after samples");
        return FG_EINVAL;
    }
    const cJSON *cal = cJSON_GetObjectItemCaseSensitive(j, "cal");
    if (!cJSON_IsArray(cal)) {
        bad(&r, "cal", "wrong shape");
        return FG_EINVAL;
    }
    cJSON_ArrayForEach(e, cal)
    {
        double b[5];
        if (!arr(&r, e, "cal", b, 5))
            return FG_EINVAL;
        if (b[0] < 0 || b[0] >= FG_AGE_CAL_T_BINS || b[1] < 0 ||
            b[1] >= FG_AGE_CAL_SOC_BINS || b[2] < 0) {
            bad(&r, "cal", "bin out of range");
            return FG_EINVAL;
        }
        int i = (int)b[0], k = (int)b[1];
        s.cal_w[i][k] = b[2];
        s.cal_tw[i][k] = b[3];
        s.cal_sw[i][k] = b[4];
    }
    const cJSON *cyc = cJSON_GetObjectItemCaseSensitive(j, "cyc");
    if (!cJSON_IsArray(cyc)) {
        bad(&r, "cyc", "wrong shape");
        return FG_EINVAL;
    }
    cJSON_ArrayForEach(e, cyc)
    {
        double b[7];
        if (!arr(&r, e, "cyc", b, 7))
            return FG_EINVAL;
        if (b[0] < 0 || b[0] >= FG_AGE_CYC_DOD_BINS || b[1] < 0 ||
            b[1] >= FG_AGE_CYC_C_BINS || b[2] < 0) {
            bad(&r, "cyc", "bin out of range");
            return FG_EINVAL;
        }
        int i = (int)b[0], k = (int)b[1];
        s.cyc_n[i][k] = b[2];
        s.cyc_dod[i][k] = b[3];
        s.cyc_soc[i][k] = b[4];
        s.cyc_c[i][k] = b[5];
        s.cyc_t[i][k] = b[6];
    }
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(j, "checkpoints");
    if (!cJSON_IsArray(cp) || cJSON_GetArraySize(cp) > FG_AGE_CHECKPOINTS_MAX) {
        bad(&r, "checkpoints", "wrong shape");
        return FG_EINVAL;
    }
    s.n_cp = 0;
    cJSON_ArrayForEach(e, cp)
    {
        double b[4];
        if (!arr(&r, e, "checkpoints", b, 4))
            return FG_EINVAL;
        if (b[0] < 0 || b[0] > 9e15 || !(b[1] > 0 && b[1] <= 1.2) || b[2] < 0 ||
            b[3] < 0) {
            bad(&r, "checkpoints", "out of range");
            return FG_EINVAL;
        }
        s.cp[s.n_cp++] = (struct fg_age_checkpoint){(int64_t)b[0], b[1], b[2], b[3]};
    }
    *st = s;
    return 0;
}
