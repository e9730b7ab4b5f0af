/* OpenADR events -> model signals (see map.h and docs/openadr.md). */
#include "map.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool strs_has(const struct fg_openadr_strs *s, const char *v)
{
    if (!v)
        return false;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] && !strcmp(s->v[i], v))
            return true;
    return false;
}

static bool in_groups(const struct fg_openadr_strs *s, const char *groups)
{
    for (size_t i = 0; groups && i < s->n; i++)
        if (fg_openadr_groups_has(groups, s->v[i]))
            return true;
    return false;
}

static bool target_empty(const struct fg_openadr_target *t)
{
    return !t->group_ids.n && !t->group_names.n && !t->resource_ids.n && !t->ven_ids.n &&
           !t->party_ids.n;
}

static bool target_match(const struct fg_openadr_target *t,
                         const struct fg_oadr_map_opts *o)
{
    return target_empty(t) || strs_has(&t->ven_ids, o->ven_id) ||
           strs_has(&t->party_ids, o->ven_id) || strs_has(&t->resource_ids, o->site_id) ||
           in_groups(&t->group_ids, o->groups) || in_groups(&t->group_names, o->groups);
}

bool fg_oadr_event_targets_us(const struct fg_openadr_event *ev,
                              const struct fg_oadr_map_opts *o)
{
    return target_match(&ev->target, o);
}

/* emix scale (SI prefix) to a factor; unknown or none: 1. */
static double scale_factor(const struct fg_openadr_signal *s)
{
    static const struct {
        const char *p;
        double f;
    } t[] = {{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"m", 1e-3}};
    if (!s->has_unit || !s->unit.scale)
        return 1;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(s->unit.scale, t[i].p))
            return t[i].f;
    return 1;
}

/* A CHARGE_STATE value as a share of the batteries' capacity, %: energy
 * units (energyReal, Wh with the emix scale) against the capacity, anything
 * else is taken as a percentage already. */
static double charge_pct(const struct fg_openadr_signal *s,
                         const struct fg_oadr_map_opts *o, double v)
{
    if (s->has_unit && s->unit.kind && !strncmp(s->unit.kind, "energy", 6))
        return v * scale_factor(s) / o->battery_capacity_wh * 100.0;
    return v;
}

/* How one OpenADR signal becomes a model signal value; false: not mapped. */
static bool map_value(const struct fg_openadr_signal *s, const struct fg_oadr_map_opts *o,
                      double v, enum fg_signal_type *type, double *out)
{
    double lim = o->import_limit_w;
    switch (s->name_id) {
    case FG_OADR_SIGNAL_SIMPLE: {
        *type = FG_SIG_GRID_LIMIT;
        int lvl = (int)lround(v);
        *out = lvl <= 0 ? lim : lim * o->level_fraction[(lvl > 3 ? 3 : lvl) - 1];
        return true;
    }
    case FG_OADR_SIGNAL_ELECTRICITY_PRICE:
    case FG_OADR_SIGNAL_ENERGY_PRICE:
        *type = FG_SIG_PRICE;
        if (s->type == FG_OADR_SIGTYPE_PRICE_RELATIVE)
            *out = (isnan(o->tariff_import) ? 0 : o->tariff_import) + v;
        else if (s->type == FG_OADR_SIGTYPE_PRICE_MULTIPLIER)
            *out = (isnan(o->tariff_import) ? 0 : o->tariff_import) * v;
        else
            *out = v;
        return true;
    case FG_OADR_SIGNAL_LOAD_DISPATCH:
        *type = FG_SIG_DISPATCH;
        v *= scale_factor(s);
        if (s->type == FG_OADR_SIGTYPE_DELTA)
            *out = (isnan(o->site_power_w) ? 0 : o->site_power_w) + v;
        else if (s->type == FG_OADR_SIGTYPE_SETPOINT)
            *out = v;
        else
            return false;
        return true;
    case FG_OADR_SIGNAL_CHARGE_STATE: {
        /* the stationary batteries' target state of charge: level /
         * setpoint as given, delta added to the SoC at receipt, multiplier
         * times it (fixed when the event arrives, like LOAD_DISPATCH delta) */
        double soc = o->battery_soc_pct;
        *type = FG_SIG_CHARGE_STATE;
        if (!(o->battery_capacity_wh > 0))
            return false;
        if (s->type == FG_OADR_SIGTYPE_LEVEL || s->type == FG_OADR_SIGTYPE_SETPOINT)
            *out = charge_pct(s, o, v);
        else if (s->type == FG_OADR_SIGTYPE_DELTA && isfinite(soc))
            *out = soc + charge_pct(s, o, v);
        else if (s->type == FG_OADR_SIGTYPE_MULTIPLIER && isfinite(soc))
            *out = soc * v;
        else
            return false;
        if (!isfinite(*out))
            return false;
        *out = *out < 0 ? 0 : *out > 100 ? 100 : *out;
        return true;
    }
    case FG_OADR_SIGNAL_LOAD_CONTROL:
        *type = FG_SIG_GRID_LIMIT;
        if (s->type == FG_OADR_SIGTYPE_LOAD_CONTROL_CAPACITY)
            *out = lim * (v < 0 ? 0 : v > 1 ? 1 : v);
        else if (s->type == FG_OADR_SIGTYPE_LOAD_CONTROL_SETPOINT)
            *out = v * scale_factor(s);
        else
            return false;
        if (*out < 0)
            *out = 0;
        return true;
    default:
        return false;
    }
}

/* Ramp-up and recovery of a grid limit (docs/openadr.md "Events ->
 * signals"). x-eiRampUp is the time before the event in which the site may
 * start to respond, x-eiRecovery the time after it in which it returns to
 * normal. For a limit that means: step it in from the connection's limit
 * over the ramp-up period, so the site (EV chargers first) does not fall
 * from full power to the event's level at dtstart in one go, and step it
 * back out over the recovery period, so everything that was held back does
 * not come back at once when the event ends (the rebound peak a DSO wants
 * to avoid). RAMP_STEPS_MAX steps of at least RAMP_STEP_MIN_S each (one step
 * for a shorter period), at 1/(n+1) .. n/(n+1) of the way between the
 * connection's limit and the event's first (ramp-up) or last (recovery)
 * value: the event's own intervals are never changed. */
#define RAMP_STEPS_MAX 4
#define RAMP_STEP_MIN_S 60

static size_t ramp_steps(int64_t period_s)
{
    if (period_s <= 0)
        return 0;
    int64_t n = period_s / RAMP_STEP_MIN_S;
    return n < 1 ? 1 : n > RAMP_STEPS_MAX ? RAMP_STEPS_MAX : (size_t)n;
}

/* n steps over [start, start + period): toward `to` (ramp-up) from `from`,
 * step j at from + (to - from) * (j + 1) / (n + 1). */
static void ramp(struct fg_signal_interval *out, size_t n, int64_t start, int64_t period,
                 double from, double to)
{
    for (size_t j = 0; j < n; j++) {
        int64_t a = period * (int64_t)j / (int64_t)n;
        int64_t b = period * (int64_t)(j + 1) / (int64_t)n;
        out[j] = (struct fg_signal_interval){
            .start = start + a,
            .duration_s = b - a,
            .value = from + (to - from) * (double)(j + 1) / (double)(n + 1),
            .export_value = NAN,
        };
    }
}

static void add_ramps(const struct fg_openadr_event *ev, const struct fg_oadr_map_opts *o,
                      struct fg_signal *s)
{
    if (s->type != FG_SIG_GRID_LIMIT || !s->n_intervals)
        return;
    double normal = o->import_limit_w;
    const struct fg_signal_interval *first = &s->intervals[0];
    const struct fg_signal_interval *last = &s->intervals[s->n_intervals - 1];
    size_t up = ev->has_ramp_up && first->value < normal ? ramp_steps(ev->ramp_up_s) : 0;
    size_t rec =
        ev->has_recovery && last->value < normal ? ramp_steps(ev->recovery_s) : 0;
    size_t room = FG_SIGNAL_MAX_INTERVALS - s->n_intervals;
    if (up > room)
        up = room;
    if (rec > room - up)
        rec = room - up;
    if (!up && !rec)
        return;
    struct fg_signal_interval iv[FG_SIGNAL_MAX_INTERVALS];
    ramp(iv, up, first->start - ev->ramp_up_s, ev->ramp_up_s, normal, first->value);
    memcpy(&iv[up], s->intervals, s->n_intervals * sizeof(iv[0]));
    ramp(&iv[up + s->n_intervals], rec, last->start + last->duration_s, ev->recovery_s,
         last->value, normal);
    s->n_intervals += up + rec;
    memcpy(s->intervals, iv, s->n_intervals * sizeof(iv[0]));
}

static int map_signal(const struct fg_openadr_event *ev,
                      const struct fg_openadr_signal *s, const struct fg_oadr_map_opts *o,
                      struct fg_signal *out, struct fg_error *err)
{
    memset(out, 0, sizeof(*out));
    out->source = FG_SRC_OPENADR;
    out->modification = ev->modification_number;
    out->priority = ev->has_priority && ev->priority > 0
                        ? 1000 - (int)(ev->priority > 999 ? 999 : ev->priority)
                        : 0;
    int64_t t = ev->dtstart + o->start_offset_s;
    int64_t left = ev->duration_s > 0 ? ev->duration_s : 0;
    size_t n = 0;
    for (size_t i = 0; i < s->n_intervals && n < FG_SIGNAL_MAX_INTERVALS; i++) {
        const struct fg_openadr_interval *iv = &s->intervals[i];
        int64_t d = iv->duration_s;
        if (d <= 0) /* the rest of the event, or open-ended */
            d = left > 0 ? left : o->open_ended_s;
        if (d <= 0)
            return fg_error_set(err, FG_EINVAL, "/intervals",
                                "interval %zu has no length", i);
        double v;
        if (!map_value(s, o, iv->value, &out->type, &v))
            return 1;
        out->intervals[n].start = t;
        out->intervals[n].duration_s = d;
        out->intervals[n].value = v;
        out->intervals[n].export_value = NAN;
        n++;
        t += d;
        left = left > d ? left - d : 0;
    }
    out->n_intervals = n;
    if (n)
        add_ramps(ev, o, out);
    return n ? 0 : 1;
}

int fg_oadr_map_event(const struct fg_openadr_event *ev, const struct fg_oadr_map_opts *o,
                      struct fg_signal *out, size_t *n, size_t *skipped,
                      struct fg_error *err)
{
    *n = 0;
    *skipped = 0;
    if (ev->status == FG_OADR_STATUS_CANCELLED || ev->status == FG_OADR_STATUS_COMPLETED)
        return 0;
    for (size_t i = 0; i < ev->n_signals; i++) {
        const struct fg_openadr_signal *s = &ev->signals[i];
        if ((s->has_target && !target_match(&s->target, o)) || *n == FG_OADR_MAP_MAX) {
            (*skipped)++;
            continue;
        }
        int rc = map_signal(ev, s, o, &out[*n], err);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            (*skipped)++;
            continue;
        }
        snprintf(out[*n].id, sizeof(out[*n].id), "%s/%s", ev->event_id,
                 s->id ? s->id : "");
        (*n)++;
    }
    if (*n == 1)
        snprintf(out[0].id, sizeof(out[0].id), "%s", ev->event_id);
    return 0;
}

/* Whether a signal interval overlaps an unavailability window; *w gets it. */
static bool in_window(const struct fg_signal *s, size_t n,
                      const struct fg_openadr_window *win, size_t n_win,
                      const struct fg_openadr_window **w)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].n_intervals; k++) {
            const struct fg_signal_interval *iv = &s[i].intervals[k];
            for (size_t j = 0; j < n_win; j++)
                if (iv->start < win[j].dtstart + win[j].duration_s &&
                    win[j].dtstart < iv->start + iv->duration_s) {
                    *w = &win[j];
                    return true;
                }
        }
    return false;
}

enum fg_openadr_opt fg_oadr_decide(enum fg_oadr_policy policy, const struct fg_signal *s,
                                   size_t n, double inflexible_w,
                                   const struct fg_openadr_window *unavailable,
                                   size_t n_unavailable, char *why, size_t why_n)
{
    why[0] = 0;
    if (policy == FG_OADR_POLICY_OUT) {
        snprintf(why, why_n, "opt_policy out");
        return FG_OADR_OPT_OUT;
    }
    if (policy == FG_OADR_POLICY_IN)
        return FG_OADR_OPT_IN;
    const struct fg_openadr_window *w = NULL;
    if (in_window(s, n, unavailable, n_unavailable, &w)) {
        char from[FG_OPENADR_DATETIME_MAX], to[FG_OPENADR_DATETIME_MAX];
        fg_openadr_datetime_format(w->dtstart, from);
        fg_openadr_datetime_format(w->dtstart + w->duration_s, to);
        snprintf(why, why_n, "overlaps the unavailability window %s .. %s", from, to);
        return FG_OADR_OPT_OUT;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i].type != FG_SIG_GRID_LIMIT)
            continue;
        for (size_t k = 0; k < s[i].n_intervals; k++) {
            if (s[i].intervals[k].value < inflexible_w) {
                snprintf(why, why_n, "grid limit %.0f W below the inflexible load %.0f W",
                         s[i].intervals[k].value, inflexible_w);
                return FG_OADR_OPT_OUT;
            }
        }
    }
    return FG_OADR_OPT_IN;
}
