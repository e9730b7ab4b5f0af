/* Register-map devices (profile "map"): what to poll, what it means for the
 * model, and how a set-point is written, for a device described by a map
 * file (docs/devices.md) instead of SunSpec models.
 *
 * Loop thread only. modbus.c keeps the device's life (timer, jobs, online /
 * offline, back-off, set-point state and its rewrite before the revert time
 * lapses), exactly as for SunSpec devices; this file only fills a job's reads
 * and writes and reads its results. The codec is protocols/regmap.
 *
 * Why only the points the model uses are polled, and not setpoint_w, the
 * revert time or vendor extras ("x_"): every request costs bus time shared
 * with the other devices, and the control registers are read back after
 * each write anyway. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mb.h"

/* One block of adjacent registers (or bits) of one function, read at once. */
struct block {
    uint8_t function;
    uint16_t addr, n;
};

/* A polled point, its place in the blocks and its last value. */
struct polled {
    const struct fg_regmap_point *p;
    size_t block;
    uint16_t off;
    bool have; /* read at least once since the last failed poll */
    struct fg_regmap_value v;
};

struct mb_map {
    struct fg_regmap map;
    char name[160];
    double cfg_charge_w, cfg_discharge_w;
    size_t n_blocks;
    struct block blocks[MB_MAX_READS];
    size_t n_polled;
    struct polled *polled;
};

/* Points that are written, not polled (see the top of the file). */
static bool is_control(const struct fg_regmap_point *p)
{
    static const char *const names[] = {"setpoint_w", "grid_setpoint_w",
                                        "setpoint_revert_s", "heartbeat"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(p->name, names[i]))
            return true;
    return false;
}

static int by_place(const void *a, const void *b)
{
    const struct polled *x = a, *y = b;
    if (x->p->function != y->p->function)
        return x->p->function - y->p->function;
    return (int)x->p->address - (int)y->p->address;
}

/* Merge the sorted points into blocks: a point joins the current block when
 * it is of the same function, starts where the block ends and the block
 * stays within MB_REQ_REGS. Gaps are never read: a device may answer an
 * undefined register with an exception. */
static int plan_blocks(struct mb_map *m, char *err, size_t errlen)
{
    qsort(m->polled, m->n_polled, sizeof(*m->polled), by_place);
    struct block *cur = NULL;
    for (size_t i = 0; i < m->n_polled; i++) {
        const struct fg_regmap_point *p = m->polled[i].p;
        if (!cur || cur->function != p->function ||
            (uint32_t)cur->addr + cur->n != p->address ||
            cur->n + p->size > MB_REQ_REGS) {
            if (m->n_blocks == MB_MAX_READS) {
                snprintf(err, errlen, "%s: the points need more than %d reads", m->name,
                         MB_MAX_READS);
                return FG_ETOOBIG;
            }
            cur = &m->blocks[m->n_blocks++];
            *cur = (struct block){p->function, p->address, 0};
        }
        m->polled[i].block = (size_t)(cur - m->blocks);
        m->polled[i].off = cur->n;
        cur->n = (uint16_t)(cur->n + p->size);
    }
    return 0;
}

int mb_map_new(const char *file, double max_charge_w, double max_discharge_w,
               struct mb_map **out, char *err, size_t errlen)
{
    struct mb_map *m = calloc(1, sizeof(*m));
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    int rc = m ? fg_config_load_map(file, &m->map, "", &errs) : FG_ENOMEM;
    if (rc) {
        snprintf(err, errlen, "%s", errs.n ? errs.v[0].msg : "out of memory");
        goto fail;
    }
    const char *base = strrchr(file, '/');
    snprintf(m->name, sizeof(m->name), "%.60s (%.40s %.40s)", base ? base + 1 : file,
             m->map.manufacturer, m->map.model);
    m->cfg_charge_w = max_charge_w;
    m->cfg_discharge_w = max_discharge_w;
    m->polled = calloc(m->map.npoints + 1, sizeof(*m->polled));
    if (!m->polled) {
        rc = FG_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < m->map.npoints; i++) {
        const struct fg_regmap_point *p = &m->map.points[i];
        if (p->vocab && !is_control(p))
            m->polled[m->n_polled++].p = p;
    }
    rc = plan_blocks(m, err, errlen);
    if (rc)
        goto fail;
    fg_errlist_clear(&errs);
    *out = m;
    return 0;
fail:
    fg_errlist_clear(&errs);
    mb_map_free(m);
    return rc;
}

void mb_map_free(struct mb_map *m)
{
    if (!m)
        return;
    fg_regmap_clear(&m->map);
    free(m->polled);
    free(m);
}

const char *mb_map_name(const struct mb_map *m)
{
    return m->name;
}

/* ---- polling ----------------------------------------------------------------- */

void mb_map_reads(const struct mb_map *m, struct mb_job *j)
{
    for (size_t i = 0; i < m->n_blocks && j->n_reads < MB_MAX_READS; i++)
        j->reads[j->n_reads++] = (struct mb_read){.function = m->blocks[i].function,
                                                  .addr = m->blocks[i].addr,
                                                  .n = m->blocks[i].n};
}

int mb_map_take(struct mb_map *m, const struct mb_job *j, char *err, size_t errlen)
{
    if (j->n_reads != m->n_blocks) {
        snprintf(err, errlen, "%zu of %zu register blocks read", j->n_reads, m->n_blocks);
        return -1;
    }
    for (size_t i = 0; i < m->n_polled; i++) {
        struct polled *q = &m->polled[i];
        const struct mb_read *r = &j->reads[q->block];
        struct fg_error e = {0};
        q->have = r->regs && !fg_regmap_decode(q->p, r->regs + q->off,
                                               (size_t)(r->n - q->off), &q->v, &e);
        if (!q->have) {
            snprintf(err, errlen, "%s at %u: %s", q->p->name, q->p->address,
                     r->regs ? e.msg : "not read");
            return -1;
        }
    }
    return 0;
}

/* A point's value in the model's unit, NAN if the map has no such point or
 * its reading is not valid; the latter is named in miss. */
static double get(const struct mb_map *m, const char *name, char *miss, size_t n)
{
    for (size_t i = 0; i < m->n_polled; i++) {
        const struct polled *q = &m->polled[i];
        if (strcmp(q->p->name, name))
            continue;
        if (q->have && q->v.status == FG_REGMAP_OK)
            return q->v.v;
        size_t len = strlen(miss);
        snprintf(miss + len, n - len, "%s%s (%s)", len ? ", " : "", name,
                 !q->have                      ? "not read"
                 : q->v.status == FG_REGMAP_NA ? "na"
                                               : "implausible");
        return NAN;
    }
    return NAN;
}

static bool has(const struct mb_map *m, const char *name)
{
    const struct fg_regmap_point *p = fg_regmap_find(&m->map, name);
    return p && p->vocab;
}

/* The device's limit now, never above the configured one. */
static double limit(double dev, double cfg)
{
    return isfinite(dev) && dev >= 0 && dev < cfg ? dev : cfg;
}

static void apply_battery(const struct mb_map *m, struct fg_asset *a, char *miss,
                          size_t n)
{
    struct fg_battery *b = &a->battery;
    a->power_w = get(m, "power_w", miss, n);
    b->soc = get(m, "soc_pct", miss, n);
    if (has(m, "soh_pct"))
        b->soh = get(m, "soh_pct", miss, n);
    double wh = get(m, "capacity_wh", miss, n);
    if (isfinite(wh) && wh > 0)
        b->capacity_wh = wh;
    b->max_charge_w = limit(get(m, "max_charge_w", miss, n), m->cfg_charge_w);
    b->max_discharge_w = limit(get(m, "max_discharge_w", miss, n), m->cfg_discharge_w);
    b->temperature_c = get(m, "temperature_c", miss, n);
    double al = get(m, "alarm", miss, n);
    b->alarms[0] = '\0';
    if (isfinite(al) && al != 0)
        snprintf(b->alarms, sizeof(b->alarms), "alarm 0x%llx", (unsigned long long)al);
}

/* The limit in force, NAN when there is none (100 % or the rating). */
static void apply_pv(const struct mb_map *m, struct fg_asset *a, char *miss, size_t n)
{
    double w = get(m, "power_w", miss, n);
    a->power_w = w;
    if (isfinite(w))
        a->pv.available_w = w < 0 ? -w : 0;
    double lim = NAN;
    if (has(m, "pv_limit_w"))
        lim = get(m, "pv_limit_w", miss, n);
    else if (has(m, "pv_limit_pct") && a->pv.rated_w > 0)
        lim = get(m, "pv_limit_pct", miss, n) / 100.0 * a->pv.rated_w;
    a->pv.limit_w =
        isfinite(lim) && (a->pv.rated_w <= 0 || lim < a->pv.rated_w) ? lim : NAN;
}

static void apply_meter(const struct mb_map *m, struct fg_site *s, char *miss, size_t n)
{
    static const char *const v[3] = {"voltage_l1_v", "voltage_l2_v", "voltage_l3_v"};
    static const char *const c[3] = {"current_l1_a", "current_l2_a", "current_l3_a"};
    static const char *const w[3] = {"power_l1_w", "power_l2_w", "power_l3_w"};
    double sum = 0;
    for (int p = 0; p < 3; p++) {
        s->meter_v[p] = get(m, v[p], miss, n);
        s->meter_a[p] = get(m, c[p], miss, n);
        sum += has(m, w[p]) ? get(m, w[p], miss, n) : NAN;
    }
    /* Without a total, the sum of the three phases. */
    s->meter_power_w = has(m, "power_w") ? get(m, "power_w", miss, n) : sum;
}

void mb_map_apply(const struct mb_map *m, struct fg_asset *a, struct fg_site *s,
                  char *miss, size_t misslen)
{
    miss[0] = '\0';
    if (m->map.kind == FG_REGMAP_METER && s)
        apply_meter(m, s, miss, misslen);
    else if (m->map.kind == FG_REGMAP_BATTERY && a)
        apply_battery(m, a, miss, misslen);
    else if (m->map.kind == FG_REGMAP_PV && a)
        apply_pv(m, a, miss, misslen);
}

/* ---- set-points -------------------------------------------------------------- */

static const struct fg_regmap_point *writable(const struct mb_map *m, const char *name)
{
    const struct fg_regmap_point *p = fg_regmap_find(&m->map, name);
    return p && p->writable ? p : NULL;
}

/* Append the write of value to p; the codec refuses values outside the
 * map's min/max or the type, naming the point. */
static int add(struct mb_write *w, int *n, const struct fg_regmap_point *p, double value,
               struct fg_error *e)
{
    if (*n >= MB_MAX_WRITES) {
        fg_error_set(e, FG_EUNSUPPORTED, NULL, "too many points to write");
        return -1;
    }
    struct mb_write *o = &w[*n];
    *o = (struct mb_write){
        .what = p->name, .function = p->function, .addr = p->address, .n = p->size};
    struct fg_error ce = {0};
    if (fg_regmap_encode(p, value, o->regs, &ce)) {
        fg_error_set(e, FG_EUNSUPPORTED, NULL, "refused by the map: %s", ce.msg);
        return -1;
    }
    ++*n;
    return 0;
}

static int battery_writes(const struct mb_map *m, const struct fg_asset *a, int revert_s,
                          struct mb_write *w, struct fg_error *e)
{
    const struct fg_regmap_point *sp = writable(m, "setpoint_w");
    const struct fg_regmap_point *rv = writable(m, "setpoint_revert_s");
    int n = 0;
    if (!sp)
        return fg_error_set(e, FG_EUNSUPPORTED, NULL,
                            has(m, "grid_setpoint_w")
                                ? "the map's set-point is a grid set-point "
                                  "(grid_setpoint_w); flexgw writes battery power "
                                  "(setpoint_w) only"
                                : "the map has no writable setpoint_w");
    /* The revert time first, so the set-point never runs without it. */
    if (rv && add(w, &n, rv, revert_s, e))
        return FG_EUNSUPPORTED;
    if (add(w, &n, sp, a->sp.active ? a->sp.w : 0, e))
        return FG_EUNSUPPORTED;
    return n;
}

/* PV: the limit is -w (the model's set-point is production, negative);
 * released, the limit goes back to 100 % (or the point's max / the rating). */
static int pv_writes(const struct mb_map *m, const struct fg_asset *a, struct mb_write *w,
                     struct fg_error *e)
{
    const struct fg_regmap_point *lw = writable(m, "pv_limit_w");
    const struct fg_regmap_point *lp = writable(m, "pv_limit_pct");
    double lim = a->sp.active ? (a->sp.w < 0 ? -a->sp.w : 0) : NAN;
    double rated = a->pv.rated_w;
    int n = 0;
    if (lw) {
        if (isnan(lim))
            lim = lw->has_max ? lw->max : rated;
        if (!(lim >= 0))
            return fg_error_set(e, FG_EUNSUPPORTED, NULL,
                                "no rated_w (or max of pv_limit_w) to release the limit");
        return add(w, &n, lw, lim, e) ? FG_EUNSUPPORTED : n;
    }
    if (!lp)
        return fg_error_set(e, FG_EUNSUPPORTED, NULL,
                            "the map has no writable pv_limit_w or pv_limit_pct");
    if (!isnan(lim) && !(rated > 0))
        return fg_error_set(e, FG_EUNSUPPORTED, NULL, "no rated_w to scale the limit");
    double pct = isnan(lim) ? 100 : lim / rated * 100.0;
    return add(w, &n, lp, pct > 100 ? 100 : pct, e) ? FG_EUNSUPPORTED : n;
}

int mb_map_writes(const struct mb_map *m, const struct fg_asset *a, int revert_s,
                  struct mb_write *w, struct fg_error *e)
{
    switch (m->map.kind) {
    case FG_REGMAP_BATTERY:
        return battery_writes(m, a, revert_s, w, e);
    case FG_REGMAP_PV:
        return pv_writes(m, a, w, e);
    default:
        return fg_error_set(e, FG_EUNSUPPORTED, NULL, "a meter takes no set-points");
    }
}
