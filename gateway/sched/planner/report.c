/* The plan as JSON or CSV (flexgw --plan). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "plan.h"

static const char *iso(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, 32, "%lld", (long long)t);
    return buf;
}

static const char *kind_name(const struct fg_plan_asset *a)
{
    static const char *const kinds[] = {"battery", "ev", "pv", "load"};
    static const char *const loads[] = {"inflexible", "disconnectable", "shiftable"};
    return a->kind == FG_PLAN_LOAD ? loads[a->load_type % 3] : kinds[a->kind % 4];
}

/* Values rounded to what matters (mW, 1e-9 currency) so the output is
 * stable across solvers' last-bit noise. */
static double r3(double v)
{
    double x = round(v * 1e3) / 1e3;
    return x == 0 ? 0 : x;
}

static cJSON *arr(const double *v, uint32_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, isnan(v[i]) ? cJSON_CreateNull()
                                            : cJSON_CreateNumber(r3(v[i])));
    return a;
}

int fg_plan_print_json(const struct fg_plan_problem *p, const struct fg_plan_result *r,
                       FILE *f)
{
    char b[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "start", iso(p->start, b));
    cJSON_AddNumberToObject(o, "isp_s", p->isp_s);
    cJSON_AddNumberToObject(o, "n_isp", r->n_isp);
    cJSON_AddStringToObject(o, "solver", fg_lp_solver_name());
    cJSON_AddNumberToObject(o, "objective", r->objective);
    cJSON *c = cJSON_AddObjectToObject(o, "cost");
    cJSON_AddNumberToObject(c, "energy", r->cost_energy);
    cJSON_AddNumberToObject(c, "wear", r->cost_wear);
    cJSON_AddNumberToObject(c, "demand", r->cost_demand);
    cJSON_AddNumberToObject(c, "penalty", r->cost_penalty);
    cJSON *sl = cJSON_AddArrayToObject(o, "slack");
    for (size_t i = 0; i < r->n_slack; i++) {
        const struct fg_sched_slack *s = &r->slack[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", s->name);
        if (s->asset[0])
            cJSON_AddStringToObject(e, "asset", s->asset);
        if (s->at)
            cJSON_AddStringToObject(e, "at", iso(s->at, b));
        cJSON_AddNumberToObject(e, "amount", r3(s->amount));
        cJSON_AddStringToObject(e, "unit", s->unit);
        cJSON_AddItemToArray(sl, e);
    }
    cJSON_AddItemToObject(o, "import_w", arr(r->import_w, r->n_isp));
    cJSON_AddItemToObject(o, "export_w", arr(r->export_w, r->n_isp));
    cJSON_AddItemToObject(o, "cost_per_isp", arr(r->cost, r->n_isp));
    cJSON *as = cJSON_AddArrayToObject(o, "assets");
    for (uint32_t ai = 0; ai < r->n_assets; ai++) {
        const struct fg_plan_asset *a = &p->assets[ai];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", a->id);
        cJSON_AddStringToObject(e, "kind", kind_name(a));
        cJSON_AddItemToObject(e, "w", arr(r->w + (size_t)ai * r->n_isp, r->n_isp));
        if (a->kind == FG_PLAN_BATTERY || a->kind == FG_PLAN_EV)
            cJSON_AddItemToObject(e, "energy_wh",
                                  arr(r->energy_wh + (size_t)ai * r->n_isp, r->n_isp));
        cJSON_AddItemToArray(as, e);
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s)
        return FG_ENOMEM;
    fprintf(f, "%s\n", s);
    free(s);
    return ferror(f) ? FG_EIO : 0;
}

int fg_plan_print_csv(const struct fg_plan_problem *p, const struct fg_plan_result *r,
                      FILE *f)
{
    char b[32];
    fprintf(f,
            "# objective=%.9g energy=%.9g wear=%.9g demand=%.9g penalty=%.9g slack=%zu\n",
            r->objective, r->cost_energy, r->cost_wear, r->cost_demand, r->cost_penalty,
            r->n_slack);
    fputs("isp_start,import_w,export_w", f);
    for (uint32_t ai = 0; ai < r->n_assets; ai++)
        fprintf(f, ",%s", p->assets[ai].id);
    fputs(",cost\n", f);
    for (uint32_t t = 0; t < r->n_isp; t++) {
        fprintf(f, "%s,%.3f,%.3f", iso(p->start + (int64_t)t * p->isp_s, b),
                r3(r->import_w[t]), r3(r->export_w[t]));
        for (uint32_t ai = 0; ai < r->n_assets; ai++)
            fprintf(f, ",%.3f", r3(r->w[(size_t)ai * r->n_isp + t]));
        fprintf(f, ",%.9g\n", r->cost[t]);
    }
    return ferror(f) ? FG_EIO : 0;
}
