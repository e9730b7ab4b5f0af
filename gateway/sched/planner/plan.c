/* The planning model (plan.h): problem -> LP, solution -> plan.
 *
 * Why this shape: every quantity is linear in a handful of columns per asset
 * and ISP, so the model is a plain LP except for the on/off of
 * disconnectable loads and the start of shiftable loads (binaries). Each
 * column carries one cost category, which makes the cost breakdown a sum
 * over columns that adds up to the objective by construction. Every
 * constraint that may be impossible to meet has a named slack column with a
 * penalty, so the model is always feasible and the plan says what gave way.
 * Import and export are separate columns; the scenario guarantees export
 * price <= import price so that buying and selling at once never pays. */
#include "plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct slack_ref {
    int col;
    const char *name;
    int32_t asset; /* -1 none */
    int64_t at;    /* 0 whole horizon: entries of one asset are summed */
    const char *unit;
    double scale; /* column value -> amount */
};

struct fg_plan_map {
    uint32_t n_isp, n_assets;
    int *imp, *exp;    /* n_isp */
    int *c1, *c2, *c3; /* n_assets * n_isp: see asset_w() */
    double *fixed_w;   /* n_assets * n_isp: the part that is no column */
    double *scale1;    /* c1's W per unit */
    struct slack_ref *slack;
    size_t n_slack, cap_slack;
};

void fg_plan_problem_init(struct fg_plan_problem *p)
{
    memset(p, 0, sizeof(*p));
    p->isp_s = 900;
    p->time_limit_s = 30;
    p->pen = (struct fg_plan_penalties){10, 5, 5, 100};
}

void fg_plan_problem_clear(struct fg_plan_problem *p)
{
    free(p->price_import);
    free(p->price_export);
    free(p->import_max_w);
    free(p->export_max_w);
    free(p->target_w);
    free(p->soc_target_pct);
    for (uint32_t i = 0; i < p->n_assets; i++) {
        free(p->assets[i].avail_w);
        free(p->assets[i].w);
    }
    free(p->assets);
    fg_plan_problem_init(p);
}

void fg_plan_map_free(struct fg_plan_map *m)
{
    if (!m)
        return;
    free(m->imp);
    free(m->exp);
    free(m->c1);
    free(m->c2);
    free(m->c3);
    free(m->fixed_w);
    free(m->scale1);
    free(m->slack);
    free(m);
}

static struct fg_plan_map *map_new(uint32_t n_isp, uint32_t n_assets)
{
    struct fg_plan_map *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    size_t cells = (size_t)n_isp * (n_assets ? n_assets : 1);
    m->n_isp = n_isp;
    m->n_assets = n_assets;
    m->imp = malloc(n_isp * sizeof(int));
    m->exp = malloc(n_isp * sizeof(int));
    m->c1 = malloc(cells * sizeof(int));
    m->c2 = malloc(cells * sizeof(int));
    m->c3 = malloc(cells * sizeof(int));
    m->fixed_w = calloc(cells, sizeof(double));
    m->scale1 = calloc(cells, sizeof(double));
    if (!m->imp || !m->exp || !m->c1 || !m->c2 || !m->c3 || !m->fixed_w || !m->scale1) {
        fg_plan_map_free(m);
        return NULL;
    }
    for (size_t i = 0; i < cells; i++)
        m->c1[i] = m->c2[i] = m->c3[i] = -1;
    return m;
}

static int add_slack(struct fg_plan_map *m, int col, const char *name, int32_t asset,
                     int64_t at, const char *unit, double scale)
{
    if (col < 0)
        return 0; /* the builder's sticky error reports it */
    if (m->n_slack == m->cap_slack) {
        size_t nc = m->cap_slack ? m->cap_slack * 2 : 64;
        struct slack_ref *v = realloc(m->slack, nc * sizeof(*v));
        if (!v)
            return FG_ENOMEM;
        m->slack = v;
        m->cap_slack = nc;
    }
    m->slack[m->n_slack++] = (struct slack_ref){col, name, asset, at, unit, scale};
    return 0;
}

struct ctx {
    const struct fg_plan_problem *p;
    struct fg_lp *lp;
    struct fg_plan_map *m;
    double dt; /* h */
    int rc;
};

static int64_t isp_at(const struct fg_plan_problem *p, uint32_t t)
{
    return p->start + (int64_t)t * p->isp_s;
}

/* Fraction of ISP t during which an EV is plugged in. */
static double presence(const struct fg_plan_problem *p, const struct fg_plan_asset *a,
                       uint32_t t)
{
    int64_t s = isp_at(p, t), e = s + p->isp_s;
    int64_t from = a->arrival > s ? a->arrival : s,
            to = a->departure < e ? a->departure : e;
    return to > from ? (double)(to - from) / p->isp_s : 0.0;
}

/* A charge_state target in ISP t: the battery's energy (column e: at the
 * ISP's start or end, `which`) at target % of its capacity, softly both
 * ways (slack at soc_per_kwh per kWh), so that it is charged, or
 * discharged, ahead. */
static void soc_target(struct ctx *c, uint32_t ai, uint32_t t, int e, const char *which)
{
    const struct fg_plan_problem *p = c->p;
    const struct fg_plan_asset *a = &p->assets[ai];
    double pct = fmin(fmax(p->soc_target_pct[t], 0), 100);
    double want = fmin(fmax(a->capacity_wh * pct / 100, 0), a->max_wh);
    int under =
        fg_lp_col(c->lp, 0, FG_LP_INF, p->pen.soc_per_kwh, false, FG_PLAN_COST_PENALTY,
                  (int32_t)t, "s_soclo_%s_a%u_t%u", which, ai, t);
    int over =
        fg_lp_col(c->lp, 0, FG_LP_INF, p->pen.soc_per_kwh, false, FG_PLAN_COST_PENALTY,
                  (int32_t)t, "s_sochi_%s_a%u_t%u", which, ai, t);
    fg_lp_row(c->lp, 'E', want / 1000, "soct_%s_a%u_t%u", which, ai, t);
    fg_lp_add(c->lp, e, 1);
    fg_lp_add(c->lp, under, 1);
    fg_lp_add(c->lp, over, -1);
    c->rc = c->rc ? c->rc
                  : add_slack(c->m, under, "soc_target_under", (int32_t)ai, isp_at(p, t),
                              "Wh", 1000);
    c->rc = c->rc ? c->rc
                  : add_slack(c->m, over, "soc_target_over", (int32_t)ai, isp_at(p, t),
                              "Wh", 1000);
}

/* Battery or EV: charge, discharge and energy columns per ISP it is there,
 * the energy balance, the soft floor, the soft charge-state targets and the
 * soft end target. */
static void build_storage(struct ctx *c, uint32_t ai)
{
    const struct fg_plan_problem *p = c->p;
    const struct fg_plan_asset *a = &p->assets[ai];
    struct fg_lp *lp = c->lp;
    bool ev = a->kind == FG_PLAN_EV;
    int prev = -1, last = -1;
    int64_t last_at = 0;
    for (uint32_t t = 0; t < p->n_isp; t++) {
        double f = ev ? presence(p, a, t) : 1.0;
        if (f <= 0)
            continue;
        size_t k = (size_t)ai * p->n_isp + t;
        double wear = a->wear_per_kwh * c->dt;
        int ch = fg_lp_col(lp, 0, a->max_charge_w * f / 1000, wear, false,
                           FG_PLAN_COST_WEAR, (int32_t)t, "ch_a%u_t%u", ai, t);
        int dis = -1;
        if (a->max_discharge_w > 0)
            dis = fg_lp_col(lp, 0, a->max_discharge_w * f / 1000, wear, false,
                            FG_PLAN_COST_WEAR, (int32_t)t, "dis_a%u_t%u", ai, t);
        int e = fg_lp_col(lp, 0, a->max_wh / 1000, 0, false, FG_PLAN_COST_NONE,
                          (int32_t)t, "e_a%u_t%u", ai, t);
        /* e_t - e_{t-1} - eta_c dt ch + dt/eta_d dis = 0 (e_{-1} = energy now) */
        fg_lp_row(lp, 'E', prev < 0 ? a->energy_wh / 1000 : 0, "soc_a%u_t%u", ai, t);
        fg_lp_add(lp, e, 1);
        fg_lp_add(lp, prev, -1);
        fg_lp_add(lp, ch, -a->eta_charge * c->dt);
        fg_lp_add(lp, dis, c->dt / a->eta_discharge);
        if (!ev && a->min_wh > 0) {
            int s =
                fg_lp_col(lp, 0, FG_LP_INF, p->pen.soc_per_kwh, false,
                          FG_PLAN_COST_PENALTY, (int32_t)t, "s_socmin_a%u_t%u", ai, t);
            fg_lp_row(lp, 'G', a->min_wh / 1000, "socmin_a%u_t%u", ai, t);
            fg_lp_add(lp, e, 1);
            fg_lp_add(lp, s, 1);
            c->rc = c->rc ? c->rc
                          : add_slack(c->m, s, "soc_min", (int32_t)ai, isp_at(p, t), "Wh",
                                      1000);
        }
        if (!ev && p->soc_target_pct && isfinite(p->soc_target_pct[t])) {
            /* there when the target starts (the end of the ISP before the
             * first one that has it), and at the end of each that has it */
            if (prev >= 0 && !(t > 0 && isfinite(p->soc_target_pct[t - 1])))
                soc_target(c, ai, t, prev, "start");
            soc_target(c, ai, t, e, "end");
        }
        c->m->c1[k] = ch;
        c->m->c2[k] = dis;
        c->m->c3[k] = e;
        c->m->scale1[k] = 1000;
        prev = e;
        last = e;
        last_at = isp_at(p, t);
    }
    if (last < 0 || isnan(a->end_min_wh))
        return;
    double need = a->end_min_wh;
    int64_t end = isp_at(p, p->n_isp);
    if (ev && a->departure > end) /* what can still be charged after the horizon */
        need -= a->max_charge_w * a->eta_charge * (double)(a->departure - end) / 3600;
    if (need <= a->energy_wh && ev)
        return;
    double pen = ev ? p->pen.ev_energy_per_kwh : p->pen.soc_per_kwh;
    int s = fg_lp_col(lp, 0, FG_LP_INF, pen, false, FG_PLAN_COST_PENALTY, -1, "s_end_a%u",
                      ai);
    fg_lp_row(lp, 'G', need / 1000, "end_a%u", ai);
    fg_lp_add(lp, last, 1);
    fg_lp_add(lp, s, 1);
    (void)last_at;
    c->rc = c->rc ? c->rc
                  : add_slack(c->m, s, ev ? "ev_energy" : "battery_end_energy",
                              (int32_t)ai, 0, "Wh", 1000);
}

static void build_pv(struct ctx *c, uint32_t ai)
{
    const struct fg_plan_asset *a = &c->p->assets[ai];
    for (uint32_t t = 0; t < c->p->n_isp; t++) {
        size_t k = (size_t)ai * c->p->n_isp + t;
        if (!a->curtailable || a->avail_w[t] <= 0) {
            c->m->fixed_w[k] = -a->avail_w[t];
            continue;
        }
        c->m->c1[k] = fg_lp_col(c->lp, 0, a->avail_w[t] / 1000, 0, false,
                                FG_PLAN_COST_NONE, (int32_t)t, "pv_a%u_t%u", ai, t);
        c->m->scale1[k] = -1000;
    }
}

static void build_load(struct ctx *c, uint32_t ai)
{
    const struct fg_plan_problem *p = c->p;
    const struct fg_plan_asset *a = &p->assets[ai];
    struct fg_plan_map *m = c->m;
    size_t base = (size_t)ai * p->n_isp;
    if (a->load_type == FG_SCHED_LOAD_INFLEXIBLE) {
        for (uint32_t t = 0; t < p->n_isp; t++)
            m->fixed_w[base + t] = a->w[t];
        return;
    }
    if (a->load_type == FG_SCHED_LOAD_DISCONNECTABLE) {
        /* w = rated (1 - off) */
        for (uint32_t t = 0; t < p->n_isp; t++) {
            int off =
                fg_lp_col(c->lp, 0, 1, a->off_cost_per_kwh * a->rated_w / 1000 * c->dt,
                          true, FG_PLAN_COST_PENALTY, (int32_t)t, "off_a%u_t%u", ai, t);
            m->fixed_w[base + t] = a->rated_w;
            m->c1[base + t] = off;
            m->scale1[base + t] = -a->rated_w;
            c->rc = c->rc ? c->rc
                          : add_slack(m, off, "load_off", (int32_t)ai, 0, "Wh",
                                      a->rated_w * c->dt);
        }
        return;
    }
    /* shiftable: one run of d ISPs; y_s = 1 starts it in ISP s. c1 holds the
     * start column of ISP t, c2 marks the ISPs a run may cover. */
    uint32_t d = (uint32_t)(a->run_s / p->isp_s);
    /* a window that ends after the horizon: the run may come in a later
     * plan, so not running in this one is free and no slack */
    bool later = a->latest_end > isp_at(p, p->n_isp);
    int miss = fg_lp_col(c->lp, 0, 1, later ? 0 : p->pen.shiftable_miss, false,
                         FG_PLAN_COST_PENALTY, -1, "miss_a%u", ai);
    fg_lp_row(c->lp, 'E', 1, "run_a%u", ai);
    fg_lp_add(c->lp, miss, 1);
    for (uint32_t s = 0; s + d <= p->n_isp; s++) {
        int64_t from = isp_at(p, s), to = isp_at(p, s + d);
        if (from < a->earliest_start || to > a->latest_end)
            continue;
        int y = fg_lp_col(c->lp, 0, 1, 0, true, FG_PLAN_COST_NONE, (int32_t)s,
                          "start_a%u_t%u", ai, s);
        m->c1[base + s] = y;
        m->scale1[base + s] = a->rated_w;
        fg_lp_add(c->lp, y, 1);
    }
    if (!later)
        c->rc =
            c->rc ? c->rc : add_slack(m, miss, "shiftable_run", (int32_t)ai, 0, "run", 1);
}

/* The power of asset ai in ISP t in the balance row, as coef * column terms
 * in kW (the fixed part goes to the right-hand side). */
static void balance_terms(struct ctx *c, uint32_t ai, uint32_t t)
{
    const struct fg_plan_problem *p = c->p;
    const struct fg_plan_asset *a = &p->assets[ai];
    struct fg_plan_map *m = c->m;
    size_t base = (size_t)ai * p->n_isp;
    if (a->kind == FG_PLAN_LOAD && a->load_type == FG_SCHED_LOAD_SHIFTABLE) {
        uint32_t d = (uint32_t)(a->run_s / p->isp_s);
        for (uint32_t s = t + 1 > d ? t + 1 - d : 0; s <= t; s++)
            fg_lp_add(c->lp, m->c1[base + s], a->rated_w / 1000);
        return;
    }
    fg_lp_add(c->lp, m->c1[base + t], m->scale1[base + t] / 1000);
    fg_lp_add(c->lp, m->c2[base + t], -1); /* discharge */
}

static void build_site(struct ctx *c)
{
    const struct fg_plan_problem *p = c->p;
    struct fg_lp *lp = c->lp;
    struct fg_plan_map *m = c->m;
    int peak = -1;
    if (p->demand_price_per_kw > 0)
        peak = fg_lp_col(lp, 0, FG_LP_INF, p->demand_price_per_kw, false,
                         FG_PLAN_COST_DEMAND, -1, "peak");
    for (uint32_t t = 0; t < p->n_isp; t++) {
        int64_t at = isp_at(p, t);
        int imp = fg_lp_col(lp, 0, FG_LP_INF, p->price_import[t] * c->dt, false,
                            FG_PLAN_COST_ENERGY, (int32_t)t, "imp_t%u", t);
        int exp = fg_lp_col(lp, 0, FG_LP_INF, -p->price_export[t] * c->dt, false,
                            FG_PLAN_COST_ENERGY, (int32_t)t, "exp_t%u", t);
        m->imp[t] = imp;
        m->exp[t] = exp;
        double fixed = 0;
        for (uint32_t ai = 0; ai < p->n_assets; ai++)
            fixed += m->fixed_w[(size_t)ai * p->n_isp + t];
        /* imp - exp - (flexible powers) = fixed powers */
        fg_lp_row(lp, 'E', fixed / 1000, "bal_t%u", t);
        fg_lp_add(lp, imp, 1);
        fg_lp_add(lp, exp, -1);
        for (uint32_t ai = 0; ai < p->n_assets; ai++) {
            size_t before = lp->n_nz;
            balance_terms(c, ai, t);
            for (size_t e = before; e < lp->n_nz; e++)
                lp->nz_val[e] = -lp->nz_val[e];
        }
        const double lim[2] = {p->import_max_w[t], p->export_max_w[t]};
        const int col[2] = {imp, exp};
        static const char *const what[2] = {"grid_import", "grid_export"};
        for (int i = 0; i < 2; i++) {
            int s = fg_lp_col(lp, 0, FG_LP_INF, p->pen.grid_per_kwh * c->dt, false,
                              FG_PLAN_COST_PENALTY, (int32_t)t, "s_%s_t%u", what[i], t);
            fg_lp_row(lp, 'L', lim[i] / 1000, "%s_t%u", what[i], t);
            fg_lp_add(lp, col[i], 1);
            fg_lp_add(lp, s, -1);
            c->rc = c->rc ? c->rc : add_slack(m, s, what[i], -1, at, "W", 1000);
        }
        if (peak >= 0) {
            fg_lp_row(lp, 'L', 0, "peak_t%u", t);
            fg_lp_add(lp, imp, 1);
            fg_lp_add(lp, peak, -1);
        }
        if (p->target_w && !isnan(p->target_w[t]) && p->brp_price_per_kwh > 0) {
            double pr = p->brp_price_per_kwh * c->dt;
            int up = fg_lp_col(lp, 0, FG_LP_INF, pr, false, FG_PLAN_COST_PENALTY,
                               (int32_t)t, "dev_up_t%u", t);
            int dn = fg_lp_col(lp, 0, FG_LP_INF, pr, false, FG_PLAN_COST_PENALTY,
                               (int32_t)t, "dev_dn_t%u", t);
            fg_lp_row(lp, 'E', p->target_w[t] / 1000, "brp_t%u", t);
            fg_lp_add(lp, imp, 1);
            fg_lp_add(lp, exp, -1);
            fg_lp_add(lp, up, -1);
            fg_lp_add(lp, dn, 1);
            c->rc =
                c->rc ? c->rc : add_slack(m, up, "brp_target_over", -1, at, "W", 1000);
            c->rc =
                c->rc ? c->rc : add_slack(m, dn, "brp_target_under", -1, at, "W", 1000);
        }
    }
}

int fg_plan_build(const struct fg_plan_problem *p, struct fg_lp *lp,
                  struct fg_plan_map **map)
{
    *map = NULL;
    struct fg_plan_map *m = map_new(p->n_isp, p->n_assets);
    if (!m)
        return FG_ENOMEM;
    struct ctx c = {.p = p, .lp = lp, .m = m, .dt = p->isp_s / 3600.0};
    for (uint32_t ai = 0; ai < p->n_assets; ai++) {
        switch (p->assets[ai].kind) {
        case FG_PLAN_BATTERY:
        case FG_PLAN_EV:
            build_storage(&c, ai);
            break;
        case FG_PLAN_PV:
            build_pv(&c, ai);
            break;
        default:
            build_load(&c, ai);
            break;
        }
    }
    build_site(&c);
    int rc = c.rc ? c.rc : fg_lp_error(lp);
    if (rc) {
        fg_plan_map_free(m);
        return rc;
    }
    *map = m;
    return 0;
}

void fg_plan_result_clear(struct fg_plan_result *r)
{
    free(r->w);
    free(r->energy_wh);
    free(r->import_w);
    free(r->export_w);
    free(r->cost);
    free(r->slack);
    memset(r, 0, sizeof(*r));
}

static double val(const double *x, int col)
{
    return col < 0 ? 0 : x[col];
}

static void read_assets(const struct fg_plan_problem *p, const struct fg_plan_map *m,
                        const double *x, struct fg_plan_result *r)
{
    for (uint32_t ai = 0; ai < p->n_assets; ai++) {
        const struct fg_plan_asset *a = &p->assets[ai];
        size_t base = (size_t)ai * p->n_isp;
        bool shift = a->kind == FG_PLAN_LOAD && a->load_type == FG_SCHED_LOAD_SHIFTABLE;
        uint32_t d = shift ? (uint32_t)(a->run_s / p->isp_s) : 0;
        for (uint32_t t = 0; t < p->n_isp; t++) {
            size_t k = base + t;
            double w = m->fixed_w[k];
            if (shift) {
                for (uint32_t s = t + 1 > d ? t + 1 - d : 0; s <= t; s++)
                    w += a->rated_w * val(x, m->c1[base + s]);
            } else {
                w += m->scale1[k] * val(x, m->c1[k]) - 1000 * val(x, m->c2[k]);
            }
            r->w[k] = w;
            r->energy_wh[k] = m->c3[k] >= 0 ? 1000 * x[m->c3[k]] : NAN;
        }
    }
}

static void read_slack(const struct fg_plan_problem *p, const struct fg_plan_map *m,
                       const double *x, struct fg_plan_result *r)
{
    for (size_t i = 0; i < m->n_slack; i++) {
        const struct slack_ref *s = &m->slack[i];
        double amount = x[s->col] * s->scale;
        if (fabs(amount) < 1e-3)
            continue;
        struct fg_sched_slack *prev = r->n_slack ? &r->slack[r->n_slack - 1] : NULL;
        const char *asset = s->asset >= 0 ? p->assets[s->asset].id : "";
        if (prev && !s->at && !prev->at && !strcmp(prev->name, s->name) &&
            !strcmp(prev->asset, asset)) {
            prev->amount += amount;
            continue;
        }
        struct fg_sched_slack *o = &r->slack[r->n_slack++];
        memset(o, 0, sizeof(*o));
        snprintf(o->name, sizeof(o->name), "%s", s->name);
        snprintf(o->asset, sizeof(o->asset), "%s", asset);
        snprintf(o->unit, sizeof(o->unit), "%s", s->unit);
        o->at = s->at;
        o->amount = amount;
    }
}

static int read_plan(const struct fg_plan_problem *p, const struct fg_lp *lp,
                     const struct fg_plan_map *m, double *x, struct fg_plan_result *r)
{
    size_t cells = (size_t)p->n_isp * (p->n_assets ? p->n_assets : 1);
    r->n_isp = p->n_isp;
    r->n_assets = p->n_assets;
    r->w = calloc(cells, sizeof(double));
    r->energy_wh = calloc(cells, sizeof(double));
    r->import_w = calloc(p->n_isp, sizeof(double));
    r->export_w = calloc(p->n_isp, sizeof(double));
    r->cost = calloc(p->n_isp, sizeof(double));
    r->slack = calloc(m->n_slack ? m->n_slack : 1, sizeof(*r->slack));
    if (!r->w || !r->energy_wh || !r->import_w || !r->export_w || !r->cost || !r->slack)
        return FG_ENOMEM;
    /* binaries exactly 0 or 1, so w and the costs are those of a real plan */
    for (size_t j = 0; j < lp->n_col; j++)
        if (lp->col[j].is_int)
            x[j] = round(x[j]);
    double *part[] = {NULL, &r->cost_energy, &r->cost_wear, &r->cost_demand,
                      &r->cost_penalty};
    for (size_t j = 0; j < lp->n_col; j++) {
        double v = lp->col[j].obj * x[j];
        if (lp->col[j].tag)
            *part[lp->col[j].tag] += v;
        if (lp->col[j].group >= 0)
            r->cost[lp->col[j].group] += v;
    }
    r->objective = r->cost_energy + r->cost_wear + r->cost_demand + r->cost_penalty;
    for (uint32_t t = 0; t < p->n_isp; t++) {
        r->import_w[t] = 1000 * x[m->imp[t]];
        r->export_w[t] = 1000 * x[m->exp[t]];
    }
    read_assets(p, m, x, r);
    read_slack(p, m, x, r);
    return 0;
}

int fg_plan_solve(const struct fg_plan_problem *p, struct fg_plan_result *r,
                  struct fg_error *err)
{
    struct fg_lp lp;
    struct fg_plan_map *m = NULL;
    double *x = NULL, obj = 0;
    enum fg_lp_status st;
    fg_lp_init(&lp);
    int rc = fg_plan_build(p, &lp, &m);
    if (rc) {
        fg_error_set(err, rc, NULL, "cannot build the model: %s", fg_strerror(rc));
        goto out;
    }
    x = calloc(lp.n_col ? lp.n_col : 1, sizeof(double));
    if (!x) {
        rc = fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
        goto out;
    }
    struct fg_lp_opts o = {.time_limit_s = p->time_limit_s, .gap = p->gap};
    rc = fg_lp_solve(&lp, &o, x, &obj, &st, err);
    if (rc)
        goto out;
    rc = read_plan(p, &lp, m, x, r);
    if (rc)
        fg_error_set(err, rc, NULL, "out of memory reading the plan");
out:
    if (rc)
        fg_plan_result_clear(r);
    free(x);
    fg_plan_map_free(m);
    fg_lp_clear(&lp);
    return rc;
}

int fg_plan_write_lp(const struct fg_plan_problem *p, FILE *f, struct fg_error *err)
{
    struct fg_lp lp;
    struct fg_plan_map *m = NULL;
    fg_lp_init(&lp);
    int rc = fg_plan_build(p, &lp, &m);
    if (rc)
        fg_error_set(err, rc, NULL, "cannot build the model: %s", fg_strerror(rc));
    else if ((rc = fg_lp_write(&lp, f)))
        fg_error_set(err, rc, NULL, "write error");
    fg_plan_map_free(m);
    fg_lp_clear(&lp);
    return rc;
}
