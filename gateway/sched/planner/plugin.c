/* The optimising planner as a scheduler plugin (fg_scheduler.h, ABI 1):
 * plan() turns the host's view into a planning problem (view.c), solves it
 * (plan.c, COIN-OR Cbc) and copies the plan, its cost breakdown and the
 * slack into the host's buffers. realtime() is left to the host's built-in
 * controller. Options (scheduler.options, all optional):
 *
 *   {"time_limit_s": 20, "gap": 0, "off_cost_per_kwh": 0.3,
 *    "brp_deviation_price_per_kwh": 0, "demand_price_per_kw": 0,
 *    "penalties": {"grid_per_kwh": 10, "ev_energy_per_kwh": 5,
 *                  "soc_per_kwh": 5, "shiftable_miss": 100}} */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_scheduler.h"
#include "plan.h"
#include "planner.h"

struct planner {
    struct fg_sched_host host;
    bool have_host;
    struct fg_plan_problem opts; /* only the scalar options are used */
    double off_cost_per_kwh;
};

struct opt {
    const char *key;
    double lo, hi;
    size_t off; /* in struct planner */
};

#define OPT(k, lo, hi, field)                                                            \
    {                                                                                    \
        k, lo, hi, offsetof(struct planner, field)                                       \
    }
static const struct opt opts[] = {
    OPT("time_limit_s", 0.001, 3600, opts.time_limit_s),
    OPT("gap", 0, 1, opts.gap),
    OPT("off_cost_per_kwh", 0, 1e4, off_cost_per_kwh),
    OPT("brp_deviation_price_per_kwh", 0, 1e4, opts.brp_price_per_kwh),
    OPT("demand_price_per_kw", 0, 1e4, opts.demand_price_per_kw),
    OPT("penalties/grid_per_kwh", 0, 1e6, opts.pen.grid_per_kwh),
    OPT("penalties/ev_energy_per_kwh", 0, 1e6, opts.pen.ev_energy_per_kwh),
    OPT("penalties/soc_per_kwh", 0, 1e6, opts.pen.soc_per_kwh),
    OPT("penalties/shiftable_miss", 0, 1e9, opts.pen.shiftable_miss),
};

/* Apply one object of options (prefix "" or "penalties/"); the first error
 * goes to err with its path. */
static int apply(struct planner *pl, const cJSON *o, const char *prefix, char *err,
                 size_t errlen)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, o)
    {
        char name[96];
        snprintf(name, sizeof(name), "%s%s", prefix, k->string);
        if (!prefix[0] && !strcmp(k->string, "penalties") && cJSON_IsObject(k)) {
            if (apply(pl, k, "penalties/", err, errlen))
                return -1;
            continue;
        }
        size_t i = 0;
        while (i < sizeof(opts) / sizeof(opts[0]) && strcmp(opts[i].key, name))
            i++;
        if (i == sizeof(opts) / sizeof(opts[0])) {
            snprintf(err, errlen, "/%s: unknown key", name);
            return -1;
        }
        double v = k->valuedouble;
        if (!cJSON_IsNumber(k) || !isfinite(v) || v < opts[i].lo || v > opts[i].hi) {
            snprintf(err, errlen, "/%s: expected a number in [%g, %g]", name, opts[i].lo,
                     opts[i].hi);
            return -1;
        }
        *(double *)(void *)((char *)pl + opts[i].off) = v;
    }
    return 0;
}

static void *create(const struct fg_sched_host *host, const char *config_json, char *err,
                    size_t errlen)
{
    struct planner *pl = calloc(1, sizeof(*pl));
    if (!pl) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fg_plan_problem_init(&pl->opts);
    pl->opts.time_limit_s = 20;
    pl->off_cost_per_kwh = 0.3;
    if (host) {
        size_t n = host->size < sizeof(pl->host) ? host->size : sizeof(pl->host);
        memcpy(&pl->host, host, n);
        pl->have_host = n >= offsetof(struct fg_sched_host, wear_cost_per_kwh) +
                                 sizeof(host->wear_cost_per_kwh);
    }
    cJSON *o = cJSON_Parse(config_json ? config_json : "{}");
    int rc = 0;
    if (!o || !cJSON_IsObject(o)) {
        snprintf(err, errlen, "options: %s", o ? "expected an object" : "malformed JSON");
        rc = -1;
    } else {
        rc = apply(pl, o, "", err, errlen);
    }
    cJSON_Delete(o);
    if (rc) {
        free(pl);
        return NULL;
    }
    return pl;
}

static void logf_(const struct planner *pl, int level, const char *msg)
{
    if (pl->have_host && pl->host.log)
        pl->host.log(pl->host.ctx, level, msg);
}

/* Does a series change over the horizon (a tariff with periods, a DSO
 * limit for some ISPs)? */
static bool varies(const double *x, uint32_t n)
{
    for (uint32_t t = 1; x && t < n; t++)
        if (fabs(x[t] - x[0]) > 1e-9 * fmax(1, fabs(x[0])))
            return true;
    return false;
}

static bool any_pv(const struct fg_plan_problem *p)
{
    for (size_t a = 0; a < p->n_assets; a++)
        for (uint32_t t = 0;
             p->assets[a].kind == FG_PLAN_PV && p->assets[a].avail_w && t < p->n_isp; t++)
            if (p->assets[a].avail_w[t] > 0)
                return true;
    return false;
}

static void copy_out(const struct fg_sched_view *v, const struct fg_plan_problem *p,
                     const struct fg_plan_result *r, struct fg_sched_plan *out)
{
    uint32_t n = r->n_isp < out->cap_isp ? r->n_isp : out->cap_isp;
    out->start = p->start;
    out->isp_s = p->isp_s;
    out->n_isp = n;
    out->n_assets = v->n_assets;
    for (uint32_t a = 0; a < v->n_assets; a++)
        for (uint32_t t = 0; t < n; t++)
            out->w[(size_t)a * n + t] = r->w[(size_t)a * r->n_isp + t];
    out->expected_cost = r->objective;
    out->cost_energy = r->cost_energy;
    out->cost_wear = r->cost_wear;
    out->cost_demand = r->cost_demand;
    out->cost_penalty = r->cost_penalty;
    snprintf(out->services, sizeof(out->services), "energy_cost%s%s%s%s%s",
             varies(p->price_import, p->n_isp) ? ",time_of_use" : "",
             any_pv(p) ? ",self_balancing" : "",
             p->demand_price_per_kw > 0 || isfinite(v->kw_max_w) ? ",peak_shaving" : "",
             varies(p->import_max_w, p->n_isp) || varies(p->export_max_w, p->n_isp)
                 ? ",congestion"
                 : "",
             p->target_w ? ",brp_target" : "");
    out->n_slack = 0;
    for (size_t i = 0; i < r->n_slack && out->n_slack < out->slack_cap; i++)
        out->slack[out->n_slack++] = r->slack[i];
}

static int plan(void *inst, const struct fg_sched_view *v, struct fg_sched_plan *out)
{
    struct planner *pl = inst;
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_error err = {0};
    char msg[FG_ERR_MSG_MAX + 32];
    if (!v || v->abi != FG_SCHED_ABI_VERSION || v->size < sizeof(*v) || !out || !out->w ||
        (v->n_assets && v->asset_stride < sizeof(struct fg_sched_asset))) {
        logf_(pl, 0, "planner: view or plan buffers of another ABI");
        return -1;
    }
    fg_plan_problem_init(&p);
    p.pen = pl->opts.pen;
    p.time_limit_s = pl->opts.time_limit_s;
    p.gap = pl->opts.gap;
    p.brp_price_per_kwh = pl->opts.brp_price_per_kwh;
    p.demand_price_per_kw = pl->opts.demand_price_per_kw;
    int rc = fg_plan_from_view(v, pl->have_host ? &pl->host : NULL, out->cap_isp,
                               pl->off_cost_per_kwh, &p, &err);
    if (!rc)
        rc = fg_plan_solve(&p, &r, &err);
    if (rc) {
        snprintf(msg, sizeof(msg), "planner: no plan: %s", err.msg);
        logf_(pl, 0, msg);
    } else {
        copy_out(v, &p, &r, out);
        snprintf(msg, sizeof(msg), "planner: %u ISPs, cost %.4f, %zu slack", out->n_isp,
                 r.objective, r.n_slack);
        logf_(pl, 2, msg);
    }
    fg_plan_result_clear(&r);
    fg_plan_problem_clear(&p);
    return rc ? -1 : 0;
}

static void destroy(void *inst)
{
    free(inst);
}

static const struct fg_sched_plugin table = {
    .abi = FG_SCHED_ABI_VERSION,
    .size = sizeof(struct fg_sched_plugin),
    .name = "planner",
    .create = create,
    .plan = plan,
    .realtime = NULL,
    .destroy = destroy,
};

const struct fg_sched_plugin *fg_sched_planner_plugin(void)
{
    return &table;
}
