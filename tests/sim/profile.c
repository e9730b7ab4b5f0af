/* Charging profiles of one station (OCPP 2.0.1 part 2, K "Smart charging"):
 * storage, the limit in force at a time, and composite schedules.
 *
 * The rules a strict station applies, as simulated here:
 * - ChargingStationMaxProfile only on EVSE 0; TxProfile only on an EVSE with
 *   the transaction it names (else Rejected); ChargingStationExternalConstraints
 *   is the station's own business and cannot be set by the CSMS.
 * - Absolute and Recurring schedules need startSchedule; Recurring needs
 *   recurrencyKind; the first period starts at 0 and periods increase.
 * - A profile with the id of a stored one replaces it; another with the same
 *   purpose, stack level and EVSE whose validity overlaps is Rejected.
 * - The limit on an EVSE is the lowest of the station-wide limit (station
 *   max, external constraints) and the EVSE's TxProfile, or else its
 *   TxDefaultProfile, or else the TxDefaultProfile on EVSE 0. Within one
 *   purpose the highest stack level that has a period in force wins; when its
 *   validity or schedule duration ends, the next lower one applies, then
 *   none (the EVSE's rated power).
 * - A Relative schedule starts with the EVSE's transaction; without one it is
 *   evaluated as if the transaction started at the time asked about. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define BREAKPOINTS_MAX 2048
#define DAY_MS (86400LL * 1000)

void sim_profile_clear(struct sim_profile *p)
{
    cJSON_Delete(p->json);
    p->json = NULL;
}

static const struct {
    const char *name;
    enum sim_purpose purpose;
} purposes[] = {
    {"ChargingStationMaxProfile", SIM_P_STATION_MAX},
    {"ChargingStationExternalConstraints", SIM_P_EXTERNAL},
    {"TxDefaultProfile", SIM_P_TX_DEFAULT},
    {"TxProfile", SIM_P_TX},
};

static enum sim_purpose purpose_of(const char *s)
{
    for (size_t i = 0; i < sizeof(purposes) / sizeof(purposes[0]); i++) {
        if (!strcmp(s, purposes[i].name))
            return purposes[i].purpose;
    }
    return SIM_P_OTHER;
}

static int reject(const char **reason, char *detail, size_t n, const char *code,
                  const char *text)
{
    *reason = code;
    snprintf(detail, n, "%s", text);
    return FG_EINVAL;
}

static int parse_time(const cJSON *o, const char *key, int64_t *out, int64_t dflt)
{
    const char *s = sim_jstr(o, key);
    *out = dflt;
    return s[0] ? sim_time_parse(s, out) : 0;
}

static int parse_schedule(struct sim_station *st, const cJSON *cs, struct sim_profile *p,
                          const char **reason, char *detail, size_t n)
{
    double d;
    p->amps = !strcmp(sim_jstr(cs, "chargingRateUnit"), "A");
    p->duration_ms = sim_jnum(cs, "duration", &d) ? (int64_t)d * 1000 : -1;
    if (parse_time(cs, "startSchedule", &p->start, INT64_MIN))
        return reject(reason, detail, n, "InvalidSchedule", "bad startSchedule");
    if (p->kind != SIM_K_RELATIVE && p->start == INT64_MIN)
        return reject(reason, detail, n, "InvalidSchedule",
                      "Absolute and Recurring schedules need startSchedule");
    const cJSON *periods = cJSON_GetObjectItemCaseSensitive(cs, "chargingSchedulePeriod");
    const cJSON *pe;
    cJSON_ArrayForEach(pe, periods)
    {
        if (p->n_periods == SIM_PERIODS_MAX)
            return reject(reason, detail, n, "TooManyPeriods",
                          "more periods than PeriodsPerSchedule");
        struct sim_period *q = &p->p[p->n_periods];
        sim_jnum(pe, "startPeriod", &d);
        q->start_ms = (int64_t)d * 1000;
        q->limit = sim_jnum(pe, "limit", &d) ? d : NAN;
        q->phases = sim_jnum(pe, "numberPhases", &d) ? (int)d : 0;
        if (p->n_periods == 0 ? q->start_ms != 0
                              : q->start_ms <= p->p[p->n_periods - 1].start_ms)
            return reject(reason, detail, n, "InvalidSchedule",
                          "the first startPeriod must be 0 and later ones increase");
        if (!isnan(q->limit) && q->limit < 0)
            return reject(reason, detail, n, "InvalidSchedule", "negative limit");
        p->n_periods++;
    }
    (void)st;
    return 0;
}

int sim_profile_parse(struct sim_station *st, int evse_id, const cJSON *cp,
                      struct sim_profile *p, const char **reason, char *detail, size_t n)
{
    double d;
    memset(p, 0, sizeof(*p));
    p->evse_id = evse_id;
    sim_jnum(cp, "id", &d);
    p->id = (int)d;
    sim_jnum(cp, "stackLevel", &d);
    p->stack_level = (int)d;
    p->purpose = purpose_of(sim_jstr(cp, "chargingProfilePurpose"));
    const char *kind = sim_jstr(cp, "chargingProfileKind");
    p->kind = !strcmp(kind, "Recurring")  ? SIM_K_RECURRING
              : !strcmp(kind, "Relative") ? SIM_K_RELATIVE
                                          : SIM_K_ABSOLUTE;
    if (evse_id < 0 || evse_id > st->n_evse)
        return reject(reason, detail, n, "UnknownEvse", "no such EVSE");
    if (!strcmp(kind, "Dynamic"))
        return reject(reason, detail, n, "UnsupportedKind", "Dynamic profiles");
    if (p->stack_level > SIM_STACK_MAX)
        return reject(reason, detail, n, "InvalidStackLevel",
                      "stackLevel above ProfileStackLevel");
    if (p->purpose == SIM_P_EXTERNAL)
        return reject(reason, detail, n, "InvalidProfile",
                      "ChargingStationExternalConstraints cannot be set by the CSMS");
    if (p->purpose == SIM_P_STATION_MAX && evse_id != 0)
        return reject(reason, detail, n, "InvalidProfile",
                      "ChargingStationMaxProfile only on evseId 0");
    if (p->purpose == SIM_P_TX) {
        const char *tx = sim_jstr(cp, "transactionId");
        struct sim_evse *e = evse_id > 0 ? &st->evse[evse_id] : NULL;
        if (!e || e->txp != SIM_TX_ACTIVE || strcmp(e->tx_id, tx))
            return reject(reason, detail, n, "TxNotFound",
                          "TxProfile needs the transactionId of the EVSE's transaction");
        snprintf(p->tx_id, sizeof(p->tx_id), "%s", tx);
    }
    if (p->kind == SIM_K_RECURRING) {
        const char *rk = sim_jstr(cp, "recurrencyKind");
        if (!rk[0])
            return reject(reason, detail, n, "InvalidProfile",
                          "Recurring needs recurrencyKind");
        p->recur_ms = !strcmp(rk, "Weekly") ? 7 * DAY_MS : DAY_MS;
    }
    if (parse_time(cp, "validFrom", &p->valid_from, INT64_MIN) ||
        parse_time(cp, "validTo", &p->valid_to, INT64_MAX))
        return reject(reason, detail, n, "InvalidProfile", "bad validFrom / validTo");
    if (p->valid_to <= p->valid_from)
        return reject(reason, detail, n, "InvalidProfile", "validTo before validFrom");
    const cJSON *scheds = cJSON_GetObjectItemCaseSensitive(cp, "chargingSchedule");
    int rc = parse_schedule(st, cJSON_GetArrayItem(scheds, 0), p, reason, detail, n);
    if (rc)
        return rc;
    p->json = cJSON_Duplicate(cp, 1);
    return p->json ? 0 : reject(reason, detail, n, "InternalError", "out of memory");
}

static bool overlaps(const struct sim_profile *a, const struct sim_profile *b)
{
    return a->valid_from < b->valid_to && b->valid_from < a->valid_to;
}

int sim_profile_store(struct sim_station *st, struct sim_profile *p)
{
    int same = -1;
    for (int i = 0; i < st->n_prof; i++) {
        const struct sim_profile *q = st->prof[i];
        if (q->id == p->id)
            same = i;
        else if (q->purpose == p->purpose && q->stack_level == p->stack_level &&
                 q->evse_id == p->evse_id && !strcmp(q->tx_id, p->tx_id) &&
                 overlaps(p, q))
            return FG_EEXISTS;
    }
    if (same < 0 && st->n_prof == SIM_PROFILES_MAX)
        return FG_EFULL;
    struct sim_profile *n = malloc(sizeof(*n));
    if (!n)
        return FG_ENOMEM;
    *n = *p;
    p->json = NULL;
    if (same >= 0) {
        sim_profile_clear(st->prof[same]);
        free(st->prof[same]);
        st->prof[same] = n;
    } else {
        st->prof[st->n_prof++] = n;
    }
    return 0;
}

void sim_profile_drop_tx(struct sim_station *st, const char *tx_id)
{
    int j = 0;
    for (int i = 0; i < st->n_prof; i++) {
        struct sim_profile *p = st->prof[i];
        if (p->purpose == SIM_P_TX && !strcmp(p->tx_id, tx_id)) {
            sim_profile_clear(p);
            free(p);
        } else {
            st->prof[j++] = p;
        }
    }
    st->n_prof = j;
}

/* ---- evaluation ------------------------------------------------------------------ */

static double to_watts(const struct sim_station *st, const struct sim_profile *p,
                       const struct sim_period *q)
{
    if (!p->amps)
        return q->limit;
    int phases = q->phases > 0 ? q->phases : st->sim->o.phases;
    return q->limit * phases * st->sim->o.voltage;
}

/* The start of the schedule instance in force at t (INT64_MIN: none yet). */
static int64_t schedule_start(const struct sim_profile *p, int64_t t, int64_t anchor)
{
    switch (p->kind) {
    case SIM_K_RELATIVE:
        return anchor;
    case SIM_K_RECURRING:
        if (t < p->start)
            return INT64_MIN;
        return p->start + (t - p->start) / p->recur_ms * p->recur_ms;
    case SIM_K_ABSOLUTE:
    default:
        return p->start;
    }
}

/* p's limit in W at t, NAN when no period of p is in force. */
static double profile_at(const struct sim_station *st, const struct sim_profile *p,
                         int64_t t, int64_t anchor)
{
    if (t < p->valid_from || t >= p->valid_to)
        return NAN;
    int64_t s = schedule_start(p, t, anchor);
    if (s == INT64_MIN || t < s)
        return NAN;
    int64_t off = t - s;
    if (p->duration_ms >= 0 && off >= p->duration_ms)
        return NAN;
    const struct sim_period *q = NULL;
    for (int i = 0; i < p->n_periods && p->p[i].start_ms <= off; i++)
        q = &p->p[i];
    return q && !isnan(q->limit) ? to_watts(st, p, q) : NAN;
}

/* The highest-stack-level profile in force of one purpose on one EVSE. */
static double purpose_at(const struct sim_station *st, enum sim_purpose pu, int evse_id,
                         const char *tx_id, int64_t t, int64_t anchor)
{
    double v = NAN;
    int best = -1;
    for (int i = 0; i < st->n_prof; i++) {
        const struct sim_profile *p = st->prof[i];
        if (p->purpose != pu || p->evse_id != evse_id || p->stack_level <= best)
            continue;
        if (tx_id && strcmp(p->tx_id, tx_id))
            continue;
        double l = profile_at(st, p, t, anchor);
        if (!isnan(l)) {
            v = l;
            best = p->stack_level;
        }
    }
    return v;
}

static double min_nan(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : fmin(a, b);
}

static double limit_eval(struct sim_station *st, int evse_id, int64_t t, int64_t anchor,
                         bool evse_only)
{
    double station = NAN;
    if (!evse_only) {
        station = purpose_at(st, SIM_P_STATION_MAX, 0, NULL, t, anchor);
        station = min_nan(station, purpose_at(st, SIM_P_EXTERNAL, 0, NULL, t, anchor));
    }
    if (evse_id == 0)
        return station;
    const struct sim_evse *e = &st->evse[evse_id];
    if (e->txp == SIM_TX_ACTIVE)
        anchor = e->tx_start_ms;
    double l = NAN;
    if (e->txp == SIM_TX_ACTIVE)
        l = purpose_at(st, SIM_P_TX, evse_id, e->tx_id, t, anchor);
    if (isnan(l))
        l = purpose_at(st, SIM_P_TX_DEFAULT, evse_id, NULL, t, anchor);
    if (isnan(l))
        l = purpose_at(st, SIM_P_TX_DEFAULT, 0, NULL, t, anchor);
    return min_nan(station, l);
}

double sim_limit_at(struct sim_station *st, int evse_id, int64_t t_ms, bool evse_only)
{
    return limit_eval(st, evse_id, t_ms, t_ms, evse_only);
}

/* ---- composite schedules ---------------------------------------------------------- */

struct bps {
    int64_t v[BREAKPOINTS_MAX];
    size_t n;
    int64_t t0, t1;
};

/* Breakpoints in whole seconds (startPeriod is an integer); one slot is kept
 * for t0. */
static void bp_add(struct bps *b, int64_t t)
{
    if (t <= b->t0 || t >= b->t1)
        return; /* also keeps INT64_MIN / INT64_MAX out of the arithmetic */
    t = (t + 999) / 1000 * 1000;
    if (t < b->t1 && b->n < BREAKPOINTS_MAX - 1)
        b->v[b->n++] = t;
}

static void bp_instance(struct bps *b, const struct sim_profile *p, int64_t s)
{
    for (int i = 0; i < p->n_periods; i++)
        bp_add(b, s + p->p[i].start_ms);
    if (p->duration_ms >= 0)
        bp_add(b, s + p->duration_ms);
}

static void bp_profile(struct bps *b, const struct sim_profile *p, int64_t anchor)
{
    bp_add(b, p->valid_from);
    bp_add(b, p->valid_to);
    if (p->kind == SIM_K_RECURRING) {
        int64_t k = b->t0 > p->start ? (b->t0 - p->start) / p->recur_ms : 0;
        for (int64_t s = p->start + k * p->recur_ms;
             s < b->t1 && b->n < BREAKPOINTS_MAX - 1; s += p->recur_ms)
            bp_instance(b, p, s);
    } else {
        bp_instance(b, p, p->kind == SIM_K_RELATIVE ? anchor : p->start);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void sim_composite(struct sim_station *st, int evse_id, int duration_s, bool amps,
                   cJSON *reply)
{
    const struct sim_opts *o = &st->sim->o;
    /* Whole seconds: startPeriod is an integer number of seconds. */
    int64_t t0 = sim_now_ms() / 1000 * 1000;
    struct bps *b = malloc(sizeof(*b));
    if (!b) {
        cJSON_AddStringToObject(reply, "status", "Rejected");
        return;
    }
    b->n = 0;
    b->t0 = t0;
    b->t1 = t0 + (int64_t)duration_s * 1000;
    const struct sim_evse *e = evse_id > 0 ? &st->evse[evse_id] : NULL;
    int64_t anchor = e && e->txp == SIM_TX_ACTIVE ? e->tx_start_ms : t0;
    for (int i = 0; i < st->n_prof; i++)
        bp_profile(b, st->prof[i], anchor);
    b->v[b->n++] = t0;
    qsort(b->v, b->n, sizeof(b->v[0]), cmp_i64);

    double rated = evse_id > 0 ? o->rated_w : o->rated_w * st->n_evse;
    double per_amp = o->phases * o->voltage;
    char start[32];
    sim_time_text(t0, start);
    cJSON_AddStringToObject(reply, "status", "Accepted");
    cJSON *s = cJSON_AddObjectToObject(reply, "schedule");
    cJSON_AddNumberToObject(s, "evseId", evse_id);
    cJSON_AddNumberToObject(s, "duration", duration_s);
    cJSON_AddStringToObject(s, "scheduleStart", start);
    cJSON_AddStringToObject(s, "chargingRateUnit", amps ? "A" : "W");
    cJSON *periods = cJSON_AddArrayToObject(s, "chargingSchedulePeriod");
    double last = NAN;
    for (size_t i = 0; i < b->n; i++) {
        if (i > 0 && b->v[i] == b->v[i - 1])
            continue;
        double w = min_nan(limit_eval(st, evse_id, b->v[i], anchor, false), rated);
        double v = amps ? w / per_amp : w;
        v = round(v * 10) / 10;
        if (v == last)
            continue;
        last = v;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "startPeriod", (double)((b->v[i] - t0) / 1000));
        cJSON_AddNumberToObject(p, "limit", v);
        if (amps)
            cJSON_AddNumberToObject(p, "numberPhases", o->phases);
        cJSON_AddItemToArray(periods, p);
    }
    free(b);
}
