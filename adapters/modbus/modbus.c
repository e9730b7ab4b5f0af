/* The Modbus adapter, loop half: SunSpec devices into the model.
 *
 * Threads: one worker per bus (bus.c) owns that bus's libmodbus context;
 * everything here runs on the loop thread. Each device has a timer; when it
 * fires and the device has no job out, a job is built (discover, or read the
 * models that matter, plus any set-point writes) and submitted to the bus's
 * worker; its done callback comes back here, on the loop thread, and only
 * then is the model touched. A device never has more than one job out, so
 * a slow device delays only the devices on its own bus.
 *
 * Lifetime: jobs hold a reference to the adapter state. stop() frees the
 * workers (queued jobs come back cancelled) and drops its own reference; a
 * job whose completion was already posted to the loop releases the last
 * reference when it runs (or when the loop drops it as cancelled).
 *
 * Failure: a poll whose requests all fail (after the configured retries)
 * marks the asset offline at once, so the scheduler's next refresh gives it
 * an envelope of [0, 0]; the device is then retried with exponential
 * back-off, rediscovered from scratch (the map may have changed), and back
 * online after its first good poll. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fg_adapter.h"
#include "log.h"
#include "mb.h"

#define BACKOFF_MAX_MS 60000 /* longest wait between attempts at a silent device */
#define BACKOFF_MAX_POLLS 16 /* ... and at most this many poll intervals */
#define SITE_METER_ID "site_meter"

enum role { ROLE_BATTERY, ROLE_PV, ROLE_METER };

/* The models read per role, in order of preference where they overlap. */
static const uint16_t battery_models[] = {802, 124, 704, 713, 714, 701};
static const uint16_t pv_models[] = {101, 102, 103, 111, 112, 113, 701, 704};
static const uint16_t meter_models[] = {201, 202, 203, 204};

/* One model of the device as last read. */
struct mdl {
    uint16_t id;
    uint32_t addr;
    uint16_t len;
    uint16_t *regs; /* owned; NULL until read */
    struct fg_sunspec_model m;
    bool ok; /* regs bound to the definition */
};

struct dev {
    char id[FG_ID_MAX]; /* asset id, or SITE_METER_ID */
    enum role role;
    struct fg_cfg_modbus_dev cfg;
    struct mb_bus *bus;
    struct mb *mb;
    struct fg_timer timer;
    struct mb_map *map; /* profile "map" (regmap_dev.c); NULL: SunSpec */
    bool busy;          /* a job is out */
    bool discovered;    /* chain known; else the next job discovers */
    bool need_common;
    size_t n_mdl;
    struct mdl mdl[MB_MAX_READS];
    bool online;
    int fails; /* consecutive failed attempts */
    char last_err[200];
    char missing[160]; /* needed points that read as not implemented */
    char range[160];   /* points out of range at the last poll, as logged */
    char range_now[160];
    /* set-points */
    bool sp_dirty;      /* write at the next job */
    bool controlling;   /* the device runs a set-point of ours */
    bool var_written;   /* ... and VarSetEna = 1 of ours (704) */
    int64_t written_ms; /* monotonic time of the last write */
};

struct mb {
    int refs;
    bool stopped;
    struct fg_adapter_host host;
    size_t n_buses;
    struct mb_bus *buses;
    size_t n_devs;
    struct dev *devs;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mb_unref(struct mb *mb)
{
    if (--mb->refs > 0)
        return;
    for (size_t i = 0; i < mb->n_devs; i++) {
        for (size_t k = 0; k < mb->devs[i].n_mdl; k++)
            free(mb->devs[i].mdl[k].regs);
        mb_map_free(mb->devs[i].map);
    }
    free(mb->devs);
    free(mb->buses);
    free(mb);
}

static struct fg_asset *dev_asset(struct dev *d)
{
    return d->role == ROLE_METER ? NULL : fg_model_find_asset(d->mb->host.model, d->id);
}

static void dev_event(struct dev *d, const char *level, const char *kind, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void dev_event(struct dev *d, const char *level, const char *kind, const char *fmt,
                      ...)
{
    char msg[320];
    int n = snprintf(msg, sizeof(msg), "%s: ", d->id);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    struct fg_adapter_host *h = &d->mb->host;
    if (h->store && fg_store_event_add(h->store, fg_clock_now_ms(h->clock), level,
                                       "modbus", kind, msg, NULL))
        fg_warn("modbus", "event not stored: %s", fg_store_errmsg(h->store));
    if (!strcmp(level, "warn"))
        fg_warn("modbus", "%s", msg);
    else
        fg_info("modbus", "%s", msg);
}

/* ---- reading values --------------------------------------------------------- */

static struct mdl *find_mdl(struct dev *d, uint16_t id)
{
    for (size_t i = 0; i < d->n_mdl; i++)
        if (d->mdl[i].id == id && d->mdl[i].ok)
            return &d->mdl[i];
    return NULL;
}

/* A point's value, NAN if the model or the value is not there. A needed
 * point that reads as "not implemented" is noted in *miss for the log. */
static double val(struct dev *d, uint16_t id, const char *path, char *miss, size_t n)
{
    struct mdl *m = find_mdl(d, id);
    struct fg_sunspec_value v;
    if (!m || fg_sunspec_model_get(&m->m, path, NULL, &v, NULL))
        return NAN;
    if (v.status == FG_SUNSPEC_OK)
        return v.v;
    if (miss && v.status != FG_SUNSPEC_ABSENT) {
        size_t len = strlen(miss);
        snprintf(miss + len, n - len, "%s%u/%s", len ? ", " : "", id, path);
    }
    return NAN;
}

/* A percentage (SoC, SoH): outside [0, 100] it is the device's nonsense,
 * not a reading. It becomes unknown and is noted for the log. */
static double pct(struct dev *d, uint16_t id, const char *path, char *miss, size_t n)
{
    double v = val(d, id, path, miss, n);
    if (!isfinite(v) || (v >= 0 && v <= 100))
        return v;
    size_t len = strlen(d->range_now);
    snprintf(d->range_now + len, sizeof(d->range_now) - len, "%s%u/%s = %g",
             len ? ", " : "", id, path, v);
    return NAN;
}

static double first(double a, double b)
{
    return isfinite(a) ? a : b;
}

/* Names of the set bits of 802's Evt1 (alarms and warnings). */
static void alarms(struct dev *d, char *out, size_t n)
{
    struct mdl *m = find_mdl(d, 802);
    struct fg_sunspec_value v;
    out[0] = '\0';
    if (!m || fg_sunspec_model_get(&m->m, "Evt1", NULL, &v, NULL) ||
        v.status != FG_SUNSPEC_OK)
        return;
    size_t len = 0;
    for (unsigned bit = 0; bit < 32 && len < n; bit++) {
        if (!(v.u & (1u << bit)))
            continue;
        const char *name = fg_sunspec_symbol_name(v.def, bit);
        char num[16];
        snprintf(num, sizeof(num), "BIT%u", bit);
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "",
                                name ? name : num);
    }
}

static void apply_battery(struct dev *d, struct fg_asset *a, char *miss, size_t n)
{
    struct fg_battery *b = &a->battery;
    /* 802's W is the DER convention (+ = discharge), like 701 and 714. */
    double w = val(d, 802, "W", miss, n);
    if (!isfinite(w))
        w = first(val(d, 714, "DCW", NULL, 0), val(d, 701, "W", NULL, 0));
    a->power_w = isfinite(w) ? 0 - w : NAN; /* 0 - w: not -0 at rest */
    b->soc = first(pct(d, 802, "SoC", miss, n),
                   first(pct(d, 713, "SoC", NULL, 0), pct(d, 124, "ChaState", NULL, 0)));
    b->soh = first(pct(d, 802, "SoH", NULL, 0), pct(d, 713, "SoH", NULL, 0));
    double wh = first(val(d, 802, "WHRtg", NULL, 0), val(d, 713, "WHRtg", NULL, 0));
    if (isfinite(wh) && wh > 0)
        b->capacity_wh = wh;
    /* The device's limits, never above what the config allows. */
    double cha =
        first(val(d, 802, "WChaRteMax", NULL, 0), val(d, 124, "WChaMax", NULL, 0));
    double dis = val(d, 802, "WDisChaRteMax", NULL, 0);
    if (isfinite(cha) && cha >= 0 && cha < b->max_charge_w)
        b->max_charge_w = cha;
    if (isfinite(dis) && dis >= 0 && dis < b->max_discharge_w)
        b->max_discharge_w = dis;
    double t = first(val(d, 714, "Prt.Tmp", NULL, 0), val(d, 701, "TmpCab", NULL, 0));
    b->temperature_c = t;
    alarms(d, b->alarms, sizeof(b->alarms));
}

static void apply_pv(struct dev *d, struct fg_asset *a, char *miss, size_t n)
{
    double w = NAN;
    for (size_t i = 0; i < 6 && !isfinite(w); i++)
        w = val(d, pv_models[i], "W", miss, n);
    w = first(w, val(d, 701, "W", miss, n));
    a->power_w = isfinite(w) ? 0 - w : NAN; /* + = generation in SunSpec */
    double var = NAN;
    for (size_t i = 0; i < 6 && !isfinite(var); i++)
        var = val(d, pv_models[i], "VAr", NULL, 0);
    a->reactive_var = isfinite(var) ? 0 - var : NAN; /* + = injecting in SunSpec */
    if (isfinite(w))
        a->pv.available_w = w > 0 ? w : 0;
    struct mdl *m = find_mdl(d, 704);
    double pct = val(d, 704, "WMaxLimPct", NULL, 0);
    double ena = val(d, 704, "WMaxLimPctEna", NULL, 0);
    if (m && ena == 1 && isfinite(pct) && a->pv.rated_w > 0)
        a->pv.limit_w = pct / 100.0 * a->pv.rated_w;
    else
        a->pv.limit_w = NAN;
}

static void apply_meter(struct dev *d, char *miss, size_t n)
{
    struct fg_site *s = &d->mb->host.model->site;
    static const char *const v[3] = {"PhVphA", "PhVphB", "PhVphC"};
    static const char *const a[3] = {"AphA", "AphB", "AphC"};
    s->meter_power_w = NAN;
    for (size_t i = 0; i < 4; i++) {
        if (!find_mdl(d, meter_models[i]))
            continue;
        /* 20x meters: + = power from the grid into the site (import). */
        s->meter_power_w = val(d, meter_models[i], "W", miss, n);
        for (int p = 0; p < 3; p++) {
            s->meter_v[p] = val(d, meter_models[i], v[p], NULL, 0);
            s->meter_a[p] = val(d, meter_models[i], a[p], NULL, 0);
        }
        break;
    }
    s->meter_seen = fg_clock_now_s(d->mb->host.clock);
}

static void apply_readings(struct dev *d)
{
    struct fg_model *model = d->mb->host.model;
    char miss[sizeof(d->missing)] = "";
    d->range_now[0] = '\0';
    if (d->map) {
        struct fg_asset *a = dev_asset(d);
        if (d->role != ROLE_METER && !a)
            return;
        mb_map_apply(d->map, a, d->role == ROLE_METER ? &model->site : NULL, miss,
                     sizeof(miss));
        if (a)
            a->last_seen = fg_clock_now_s(d->mb->host.clock);
        else
            model->site.meter_seen = fg_clock_now_s(d->mb->host.clock);
    } else if (d->role == ROLE_METER) {
        apply_meter(d, miss, sizeof(miss));
    } else {
        struct fg_asset *a = dev_asset(d);
        if (!a)
            return;
        if (d->role == ROLE_BATTERY)
            apply_battery(d, a, miss, sizeof(miss));
        else
            apply_pv(d, a, miss, sizeof(miss));
        a->last_seen = fg_clock_now_s(d->mb->host.clock);
    }
    if (strcmp(miss, d->missing)) {
        if (miss[0] && d->map)
            dev_event(d, "warn", "sentinel", "no valid reading, taken as unknown: %s",
                      miss);
        else if (miss[0])
            dev_event(d, "warn", "sentinel",
                      "not implemented on the device (sentinel "
                      "value): %s",
                      miss);
        else
            dev_event(d, "info", "sentinel", "all points readable again");
        snprintf(d->missing, sizeof(d->missing), "%s", miss);
    }
    if (strcmp(d->range_now, d->range)) {
        if (d->range_now[0])
            dev_event(d, "warn", "range", "out of range, taken as unknown: %s",
                      d->range_now);
        else
            dev_event(d, "info", "range", "all values in range again");
        memcpy(d->range, d->range_now, sizeof(d->range));
    }
    model->version++;
}

/* ---- online / offline ------------------------------------------------------- */

static void set_online(struct dev *d, bool online, const char *why)
{
    struct fg_model *model = d->mb->host.model;
    if (d->online != online) {
        if (online)
            dev_event(d, "info", "online", "online (unit %d on bus %s)", d->cfg.unit_id,
                      d->bus->cfg.id);
        else
            dev_event(d, "warn", "offline", "offline: %s", why);
    }
    d->online = online;
    if (d->role == ROLE_METER) {
        if (!online) {
            model->site.meter_power_w = NAN;
            for (int p = 0; p < 3; p++)
                model->site.meter_v[p] = model->site.meter_a[p] = NAN;
        }
    } else {
        struct fg_asset *a = dev_asset(d);
        if (!a)
            return;
        a->online = online;
        if (!online) {
            a->power_w = NAN;
            a->env = (struct fg_envelope){0, 0}; /* out of the plan now */
        }
    }
    model->version++;
}

/* ---- set-points -------------------------------------------------------------- */

struct wlist {
    struct mb_job *j;
    struct fg_error e;
};

/* Append the registers of one point to the job; -1 (with e set) if the
 * device cannot take the value. */
static int add_write(struct dev *d, struct wlist *wl, uint16_t model, const char *path,
                     double value)
{
    struct mdl *m = find_mdl(d, model);
    const struct fg_sunspec_point *p = m ? fg_sunspec_point_find(m->m.def, path) : NULL;
    struct fg_sunspec_write w;
    if (!p) {
        fg_error_set(&wl->e, FG_EUNSUPPORTED, NULL, "model %u has no %s", model, path);
        return -1;
    }
    if (wl->j->n_writes >= MB_MAX_WRITES) {
        fg_error_set(&wl->e, FG_ETOOBIG, NULL, "too many points to write");
        return -1;
    }
    if (fg_sunspec_encode(&m->m, p, NULL, value, &w, &wl->e))
        return -1;
    struct mb_write *o = &wl->j->writes[wl->j->n_writes++];
    o->what = p->path;
    o->addr = m->addr + w.offset;
    o->n = w.n;
    memcpy(o->regs, w.regs, sizeof(o->regs));
    return 0;
}

/* Battery through 704 (WSet, DER convention: + = discharge). */
static int battery_704(struct dev *d, struct wlist *wl, const struct fg_setpoint *sp)
{
    if (!sp->active)
        return add_write(d, wl, 704, "WSetEna", 0);
    if (add_write(d, wl, 704, "WSetMod", 1) || add_write(d, wl, 704, "WSet", -sp->w) ||
        add_write(d, wl, 704, "WSetRvrtTms", d->cfg.revert_s))
        return -1;
    return add_write(d, wl, 704, "WSetEna", 1);
}

/* Battery through 124: rates in % of WChaMax. Charging at P is "charge at
 * most P, discharge at most -P" (a negative discharge limit forces charge),
 * and the other way round; StorCtl_Mod enables both limits last. */
static int battery_124(struct dev *d, struct wlist *wl, const struct fg_setpoint *sp,
                       const struct fg_asset *a)
{
    if (!sp->active)
        return add_write(d, wl, 124, "StorCtl_Mod", 0);
    double ref = val(d, 124, "WChaMax", NULL, 0);
    if (!isfinite(ref) || ref <= 0) {
        ref = a->battery.max_charge_w;
        if (add_write(d, wl, 124, "WChaMax", ref))
            return -1;
    }
    double pct = fabs(sp->w) / ref * 100.0;
    if (pct > 100)
        pct = 100;
    double in = sp->w >= 0 ? pct : -pct;
    if (add_write(d, wl, 124, "InWRte", in) || add_write(d, wl, 124, "OutWRte", -in) ||
        add_write(d, wl, 124, "InOutWRte_RvrtTms", d->cfg.revert_s))
        return -1;
    return add_write(d, wl, 124, "StorCtl_Mod", 3);
}

static int pv_704(struct dev *d, struct wlist *wl, const struct fg_setpoint *sp,
                  const struct fg_asset *a)
{
    if (!sp->active)
        return add_write(d, wl, 704, "WMaxLimPctEna", 0);
    if (a->pv.rated_w <= 0)
        return fg_error_set(&wl->e, FG_ESTATE, NULL, "no rated_w to scale the limit");
    double pct = (sp->w < 0 ? -sp->w : 0) / a->pv.rated_w * 100.0;
    if (add_write(d, wl, 704, "WMaxLimPct", pct > 100 ? 100 : pct) ||
        add_write(d, wl, 704, "WMaxLimPctRvrtTms", d->cfg.revert_s))
        return -1;
    return add_write(d, wl, 704, "WMaxLimPctEna", 1);
}

/* Reactive power through 704 (VarSet in var, DER convention: + = injecting,
 * so -sp->var), after the active power: VarSetMod = VARS, VarSet,
 * VarSetRvrtTms, VarSetEna last. A set-point without var, or a release,
 * hands reactive power back to the device (VarSetEna = 0) if we had it. */
static int var_704(struct dev *d, struct wlist *wl, const struct fg_setpoint *sp)
{
    if (!sp->active || !sp->has_var)
        return d->var_written ? add_write(d, wl, 704, "VarSetEna", 0) : 0;
    if (add_write(d, wl, 704, "VarSetMod", 4) ||
        add_write(d, wl, 704, "VarSet", -sp->var) ||
        add_write(d, wl, 704, "VarSetRvrtTms", d->cfg.revert_s))
        return -1;
    return add_write(d, wl, 704, "VarSetEna", 1);
}

/* Why the device cannot take a reactive power target, NULL if it can. */
static const char *no_var_control(struct dev *d)
{
    if (d->map)
        return "register-map devices have no reactive-power set-point";
    struct mdl *m = find_mdl(d, 704);
    if (!m || !fg_sunspec_point_find(m->m.def, "VarSet"))
        return "the device offers no reactive-power control (SunSpec 704 VarSet)";
    return NULL;
}

/* Which control the device offers for the asset, 0 if none. */
static uint16_t control_model(struct dev *d)
{
    if (find_mdl(d, 704))
        return 704;
    if (d->role == ROLE_BATTERY && find_mdl(d, 124))
        return 124;
    return 0;
}

static int build_writes(struct dev *d, struct mb_job *j, struct fg_error *err)
{
    struct fg_asset *a = dev_asset(d);
    struct wlist wl = {.j = j};
    uint16_t cm = control_model(d);
    int rc = -1;
    if (!a)
        return fg_error_set(err, FG_ENOTFOUND, NULL, "asset gone");
    if (d->map) {
        rc = mb_map_writes(d->map, a, d->cfg.revert_s, j->writes, err);
        j->n_writes = rc > 0 ? (size_t)rc : 0;
        return rc < 0 ? rc : 0;
    }
    if (!cm)
        return fg_error_set(err, FG_EUNSUPPORTED, NULL,
                            "the device has no control model (124 or 704)");
    if (d->role == ROLE_BATTERY && cm == 704)
        rc = battery_704(d, &wl, &a->sp);
    else if (d->role == ROLE_BATTERY)
        rc = battery_124(d, &wl, &a->sp, a);
    else
        rc = pv_704(d, &wl, &a->sp, a);
    if (!rc && cm == 704)
        rc = var_704(d, &wl, &a->sp);
    if (rc) {
        j->n_writes = 0;
        *err = wl.e;
        return wl.e.code ? wl.e.code : FG_EINVAL;
    }
    return 0;
}

static void sp_state(struct dev *d, enum fg_sp_state s, const char *detail)
{
    struct fg_asset *a = dev_asset(d);
    if (!a)
        return;
    a->sp.state = s;
    snprintf(a->sp.detail, sizeof(a->sp.detail), "%s", detail ? detail : "");
    d->mb->host.model->version++;
}

/* ---- jobs -------------------------------------------------------------------- */

static void schedule(struct dev *d, int64_t ms)
{
    fg_timer_start(&d->timer, ms < 0 ? 0 : ms);
}

static int64_t backoff_ms(const struct dev *d)
{
    int64_t poll = d->cfg.poll_interval_ms, ms = poll;
    for (int i = 1; i < d->fails && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    int64_t cap = poll * BACKOFF_MAX_POLLS;
    if (cap > BACKOFF_MAX_MS)
        cap = BACKOFF_MAX_MS;
    if (cap < poll)
        cap = poll;
    return ms > cap ? cap : ms;
}

static bool wanted(const struct dev *d, uint16_t id)
{
    const uint16_t *v = d->role == ROLE_BATTERY ? battery_models
                        : d->role == ROLE_PV    ? pv_models
                                                : meter_models;
    size_t n = d->role == ROLE_BATTERY ? sizeof(battery_models) / sizeof(v[0])
               : d->role == ROLE_PV    ? sizeof(pv_models) / sizeof(v[0])
                                       : sizeof(meter_models) / sizeof(v[0]);
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return id == 1;
}

/* After discovery: keep the first instance of each model that matters. */
static int take_chain(struct dev *d, const struct mb_job *j)
{
    char list[160] = "";
    size_t len = 0;
    for (size_t k = 0; k < d->n_mdl; k++)
        free(d->mdl[k].regs);
    d->n_mdl = 0;
    for (size_t i = 0; i < j->chain.n; i++) {
        const struct fg_sunspec_model_ref *r = &j->chain.models[i];
        if (len < sizeof(list))
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%u", i ? " " : "",
                                    r->id);
        bool dup = false;
        for (size_t k = 0; k < d->n_mdl; k++)
            dup |= d->mdl[k].id == r->id;
        if (dup || !wanted(d, r->id) || !r->def || d->n_mdl >= MB_MAX_READS)
            continue;
        if (2u + r->len > MB_READ_MAX) {
            dev_event(d, "warn", "sunspec",
                      "model %u at %u: L = %u is more than flexgw "
                      "reads (%d); ignored",
                      r->id, r->addr, r->len, MB_READ_MAX - 2);
            continue;
        }
        d->mdl[d->n_mdl++] = (struct mdl){.id = r->id, .addr = r->addr, .len = r->len};
    }
    if (j->chain_rc)
        dev_event(d, "warn", "sunspec",
                  "SunSpec model chain at %u is broken after %zu "
                  "models (%s): %s; using the models before the fault",
                  j->chain.base, j->chain.n, fg_errname(j->chain_rc),
                  j->err[0] ? j->err : "no end marker, reading a header failed");
    dev_event(d, "info", "sunspec", "SunSpec map at %u, models: %s", j->chain.base,
              list[0] ? list : "(none)");
    bool useful = false;
    for (size_t k = 0; k < d->n_mdl; k++)
        useful |= d->mdl[k].id != 1;
    return useful ? 0 : -1;
}

static void log_common(struct dev *d)
{
    struct mdl *m = find_mdl(d, 1);
    struct fg_sunspec_value mn, md, sn;
    if (!m || fg_sunspec_model_get(&m->m, "Mn", NULL, &mn, NULL) ||
        fg_sunspec_model_get(&m->m, "Md", NULL, &md, NULL) ||
        fg_sunspec_model_get(&m->m, "SN", NULL, &sn, NULL))
        return;
    fg_info("modbus", "%s: device %s %s, serial %s", d->id, mn.str, md.str, sn.str);
}

/* Take the registers read into the device's models. */
static int take_reads(struct dev *d, struct mb_job *j, char *err, size_t n)
{
    for (size_t i = 0; i < j->n_reads; i++) {
        struct mb_read *r = &j->reads[i];
        for (size_t k = 0; r->regs && k < d->n_mdl; k++) {
            struct mdl *m = &d->mdl[k];
            if (m->id != r->id || m->addr != r->addr)
                continue;
            struct fg_error e = {0};
            free(m->regs);
            m->regs = r->regs;
            r->regs = NULL;
            m->ok = m->regs[0] == m->id && m->regs[1] == m->len &&
                    !fg_sunspec_model_bind(&m->m, m->regs, r->n, m->addr, &e);
            if (!m->ok) {
                snprintf(err, n, "model %u at %u changed or does not decode%s%.120s",
                         m->id, m->addr, e.msg[0] ? ": " : "", e.msg);
                return -1;
            }
        }
    }
    return 0;
}

static void job_failed(struct dev *d, struct mb_job *j, const char *why)
{
    d->fails++;
    d->discovered = false; /* it may come back with another map */
    if (j->n_writes && j->write_at < j->n_writes)
        sp_state(d, FG_SPS_FAILED, why);
    if (strcmp(why, d->last_err) || d->online)
        fg_warn("modbus", "%s: %s", d->id, why);
    snprintf(d->last_err, sizeof(d->last_err), "%s", why);
    set_online(d, false, why);
    schedule(d, backoff_ms(d));
}

/* Set-point results: exception -> REJECTED, read-back differs ->
 * MISMATCH, all verified -> VERIFIED. */
static void writes_done(struct dev *d, struct mb_job *j)
{
    if (!j->n_writes)
        return;
    if (j->fail == MB_FAIL_EXCEPTION || j->fail == MB_FAIL_MISMATCH) {
        enum fg_sp_state s =
            j->fail == MB_FAIL_EXCEPTION ? FG_SPS_REJECTED : FG_SPS_MISMATCH;
        sp_state(d, s, j->err);
        dev_event(d, "warn", "setpoint", "set-point %s: %s", fg_sp_state_name(s), j->err);
        d->controlling = false;
        return;
    }
    if (j->fail)
        return; /* comm failures: job_failed() */
    struct fg_asset *a = dev_asset(d);
    d->written_ms = mono_ms();
    d->controlling = a && a->sp.active;
    d->var_written = d->controlling && a->sp.has_var;
    sp_state(d, FG_SPS_VERIFIED, NULL);
}

static void job_done(void *arg, int cancelled)
{
    struct mb_job *j = arg;
    struct dev *d = j->owner;
    struct mb *mb = d->mb;
    if (cancelled || mb->stopped) {
        mb_job_free(j);
        mb_unref(mb);
        return;
    }
    d->busy = false;
    fg_metrics_adapter(mb->host.metrics, "modbus", j->n_reads + (j->discover ? 1 : 0),
                       j->n_writes);
    char why[256];
    writes_done(d, j);
    if (j->fail == MB_FAIL_COMM || j->fail == MB_FAIL_SUNSPEC) {
        job_failed(d, j, j->err);
        goto out;
    }
    if (j->discover) {
        if (take_chain(d, j)) {
            job_failed(d, j, "no SunSpec model flexgw can use for this asset");
            goto out;
        }
        d->discovered = true;
        d->need_common = true;
        schedule(d, 0);
        goto out;
    }
    if (j->fail == MB_FAIL_EXCEPTION && j->write_at == j->n_writes) {
        /* The device answers but refuses to read a model it announced. */
        job_failed(d, j, j->err);
        goto out;
    }
    if (j->fail) {
        /* A refused write (reported above): the device is there; read it at
         * the next poll. */
        schedule(d, d->cfg.poll_interval_ms);
        goto out;
    }
    if (d->map ? mb_map_take(d->map, j, why, sizeof(why))
               : take_reads(d, j, why, sizeof(why))) {
        job_failed(d, j, why);
        goto out;
    }
    if (d->need_common && find_mdl(d, 1))
        log_common(d);
    d->need_common = false;
    d->fails = 0;
    d->last_err[0] = '\0';
    apply_readings(d);
    set_online(d, true, NULL);
    schedule(d, d->cfg.poll_interval_ms);
out:
    mb_job_free(j);
    mb_unref(mb);
}

/* Writes are due for a new set-point, and before the revert timeout of the
 * last one lapses (at half of it, so one lost poll does not let it lapse). */
static bool writes_due(struct dev *d)
{
    struct fg_asset *a = dev_asset(d);
    if (!a || d->role == ROLE_METER)
        return false;
    if (d->sp_dirty)
        return true;
    if (!a->sp.active)
        return d->controlling; /* expired: release */
    return d->controlling &&
           mono_ms() - d->written_ms >= (int64_t)d->cfg.revert_s * 1000 / 2;
}

static void tick(struct fg_timer *t)
{
    struct dev *d = t->arg;
    if (d->busy)
        return; /* its done() schedules the next */
    struct mb_job *j = calloc(1, sizeof(*j));
    if (!j) {
        schedule(d, d->cfg.poll_interval_ms);
        return;
    }
    j->bus = d->bus;
    j->unit_id = d->cfg.unit_id;
    j->retries = d->cfg.retries;
    j->owner = d;
    if (!d->discovered && !d->map) {
        j->discover = true;
        j->base = d->cfg.base_address;
    } else {
        if (writes_due(d)) {
            struct fg_error e = {0};
            d->sp_dirty = false;
            if (build_writes(d, j, &e)) {
                sp_state(d, e.code == FG_EUNSUPPORTED ? FG_SPS_REJECTED : FG_SPS_FAILED,
                         e.msg);
                dev_event(d, "warn", "setpoint", "set-point not sent: %s", e.msg);
                d->controlling = false;
            } else {
                sp_state(d, FG_SPS_SENT, NULL);
            }
        }
        if (d->map)
            mb_map_reads(d->map, j);
        for (size_t i = 0; i < d->n_mdl; i++) {
            if (d->mdl[i].id == 1 && !d->need_common)
                continue;
            struct mb_read *r = &j->reads[j->n_reads++];
            r->id = d->mdl[i].id;
            r->addr = d->mdl[i].addr;
            r->n = (uint16_t)(2 + d->mdl[i].len);
        }
    }
    if (fg_worker_submit(d->bus->worker, mb_job_run, job_done, j)) {
        mb_job_free(j);
        schedule(d, d->cfg.poll_interval_ms);
        return;
    }
    d->busy = true;
    d->mb->refs++;
}

/* ---- the adapter ------------------------------------------------------------- */

static struct mb_bus *bus_by_id(struct mb *mb, const char *id)
{
    for (size_t i = 0; i < mb->n_buses; i++)
        if (!strcmp(mb->buses[i].cfg.id, id))
            return &mb->buses[i];
    return NULL;
}

static void add_dev(struct mb *mb, const char *id, enum role role,
                    const struct fg_cfg_modbus_dev *cfg)
{
    struct dev *d = &mb->devs[mb->n_devs++];
    snprintf(d->id, sizeof(d->id), "%s", id);
    d->role = role;
    d->cfg = *cfg;
    d->bus = bus_by_id(mb, cfg->bus); /* the config checks that it exists */
    d->mb = mb;
    fg_timer_init(&d->timer, mb->host.loop, tick, d);
}

static void mb_stop(void *state);

/* profile "map": the device's register map (checked with the config). */
static int open_map(struct dev *d, const struct fg_cfg_asset *a, struct fg_error *err)
{
    char msg[200];
    int rc = mb_map_new(d->cfg.map_path, a ? a->max_charge_w : 0,
                        a ? a->max_discharge_w : 0, &d->map, msg, sizeof(msg));
    if (rc)
        return fg_error_set(err, rc, NULL, "%s: %s", d->id, msg);
    fg_info("modbus", "%s: register map %s", d->id, mb_map_name(d->map));
    return 0;
}

static int start_buses(struct mb *mb, const struct fg_config *cfg, struct fg_error *err)
{
    for (size_t i = 0; i < cfg->modbus.n_buses; i++) {
        struct mb_bus *b = &mb->buses[mb->n_buses++];
        char msg[200], name[16];
        b->cfg = cfg->modbus.buses[i];
        if (mb_bus_open(b, msg, sizeof(msg)))
            return fg_error_set(err, FG_EIO, "/modbus/buses", "%s", msg);
        snprintf(name, sizeof(name), "mb-%.12s", b->cfg.id);
        if (fg_worker_new(mb->host.loop, name, &b->worker))
            return fg_error_set(err, FG_EIO, "/modbus/buses", "bus %s: no worker thread",
                                b->cfg.id);
    }
    return 0;
}

static int mb_start(const struct fg_adapter_host *host, const struct fg_config *cfg,
                    void **state, struct fg_error *err)
{
    size_t n_dev = cfg->modbus.has_site_meter ? 1 : 0;
    for (size_t i = 0; i < cfg->site.n_assets; i++)
        n_dev += !strcmp(cfg->site.assets[i].adapter, "modbus");
    if (!cfg->modbus.enabled) {
        if (n_dev)
            fg_warn("modbus", "%zu Modbus devices configured but modbus.enabled is false",
                    n_dev);
        *state = NULL;
        return 0;
    }
    struct mb *mb = calloc(1, sizeof(*mb));
    if (!mb)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    mb->refs = 1;
    mb->host = *host;
    mb->buses = calloc(cfg->modbus.n_buses + 1, sizeof(*mb->buses));
    mb->devs = calloc(n_dev + 1, sizeof(*mb->devs));
    if (!mb->buses || !mb->devs) {
        mb_stop(mb);
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    }
    int rc = start_buses(mb, cfg, err);
    if (rc) {
        mb_stop(mb);
        return rc;
    }
    for (size_t i = 0; i < cfg->site.n_assets && !rc; i++) {
        const struct fg_cfg_asset *a = &cfg->site.assets[i];
        if (!strcmp(a->adapter, "modbus")) {
            add_dev(mb, a->id, a->kind == FG_ASSET_PV ? ROLE_PV : ROLE_BATTERY,
                    &a->modbus);
            if (a->modbus.profile == FG_MB_PROFILE_MAP)
                rc = open_map(&mb->devs[mb->n_devs - 1], a, err);
        }
    }
    if (!rc && cfg->modbus.has_site_meter) {
        add_dev(mb, SITE_METER_ID, ROLE_METER, &cfg->modbus.site_meter);
        if (cfg->modbus.site_meter.profile == FG_MB_PROFILE_MAP)
            rc = open_map(&mb->devs[mb->n_devs - 1], NULL, err);
    }
    if (rc) {
        mb_stop(mb);
        return rc;
    }
    for (size_t i = 0; i < mb->n_devs; i++)
        schedule(&mb->devs[i], (int64_t)(i * 7 % 100)); /* spread the first polls */
    fg_info("modbus", "%zu buses, %zu devices", mb->n_buses, mb->n_devs);
    *state = mb;
    return 0;
}

static void mb_stop(void *state)
{
    struct mb *mb = state;
    if (!mb)
        return;
    mb->stopped = true;
    for (size_t i = 0; i < mb->n_devs; i++)
        fg_timer_stop(&mb->devs[i].timer);
    for (size_t i = 0; i < mb->n_buses; i++) {
        fg_worker_free(mb->buses[i].worker); /* queued jobs: done(cancelled) */
        mb->buses[i].worker = NULL;
        mb_bus_close(&mb->buses[i]);
    }
    /* The model outlives us: our assets are no longer read. */
    for (size_t i = 0; i < mb->n_devs; i++) {
        struct fg_asset *a = dev_asset(&mb->devs[i]);
        if (a)
            a->online = false;
    }
    mb_unref(mb);
}

static struct dev *dev_by_asset(struct mb *mb, const char *id)
{
    for (size_t i = 0; mb && i < mb->n_devs; i++)
        if (mb->devs[i].role != ROLE_METER && !strcmp(mb->devs[i].id, id))
            return &mb->devs[i];
    return NULL;
}

static int mb_setpoint(void *state, struct fg_asset *asset, struct fg_error *err)
{
    struct dev *d = dev_by_asset(state, asset->id);
    if (!d)
        return fg_error_set(err, FG_ESTATE, NULL, "modbus adapter not running for %s",
                            asset->id);
    if (!d->online || (!d->discovered && !d->map))
        return fg_error_set(err, FG_ESTATE, NULL, "%s is offline", asset->id);
    const char *why = asset->sp.active && asset->sp.has_var ? no_var_control(d) : NULL;
    if (why)
        return fg_error_set(err, FG_EUNSUPPORTED, "/var", "%s: %s", asset->id, why);
    if (d->map) {
        /* Refused here, before anything is written: a map without a
         * set-point point, a value outside the map's min/max. */
        struct mb_write w[MB_MAX_WRITES];
        int rc = mb_map_writes(d->map, asset, d->cfg.revert_s, w, err);
        if (rc < 0)
            return rc;
    } else if (!control_model(d))
        return fg_error_set(err, FG_EUNSUPPORTED, NULL,
                            "the device offers no control model (124 or 704)");
    asset->sp.state = FG_SPS_PENDING;
    asset->sp.detail[0] = '\0';
    d->sp_dirty = true;
    if (!d->busy)
        schedule(d, 0);
    return 0;
}

/* A device known to offer SunSpec 704 VarSet (discovered, not a map). */
static bool mb_can_var(void *state, const struct fg_asset *asset)
{
    struct dev *d = dev_by_asset(state, asset->id);
    return d && d->discovered && !no_var_control(d);
}

const struct fg_adapter_ops fg_modbus_adapter = {
    .name = "modbus",
    .start = mb_start,
    .stop = mb_stop,
    .setpoint = mb_setpoint,
    .reactive = true,
    .can_var = mb_can_var,
};
