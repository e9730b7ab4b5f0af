#include "model_json.h"

#include "fg_buf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- RFC 3339 ---- */

#define TIME_MAX 4102444800LL /* 2100-01-01T00:00:00Z */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); avoids timegm() and the TZ environment entirely. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Reads exactly n digits; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 5.6 allows "t" and "z" for "T" and "Z". */
static bool is_letter(char c, char upper)
{
    return c == upper || c == upper - 'A' + 'a';
}

/* Offset "Z" or "+hh:mm"/"-hh:mm" in seconds east of UTC. */
static int parse_offset(const char *s, int *off)
{
    if (is_letter(s[0], 'Z') && s[1] == '\0') {
        *off = 0;
        return 0;
    }
    if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':')
        return FG_EPARSE;
    int hh = digits(s + 1, 2), mm = digits(s + 4, 2);
    if (hh < 0 || mm < 0 || hh > 23 || mm > 59)
        return FG_EPARSE;
    *off = (s[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    return 0;
}

/* Leap seconds (":60") are rejected: epoch seconds cannot represent them. */
int fg_time_parse_rfc3339(const char *s, int64_t *out)
{
    if (!s || strnlen(s, 40) < 20 || strnlen(s, 40) >= 40)
        return FG_EPARSE;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (s[4] != '-' || s[7] != '-' || !is_letter(s[10], 'T') || s[13] != ':' ||
        s[16] != ':')
        return FG_EPARSE;
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        se < 0 || se > 59 || d > days_in_month(y, mo))
        return FG_EPARSE;
    const char *p = s + 19;
    if (*p == '.') {
        size_t n = 0;
        while (p[1 + n] >= '0' && p[1 + n] <= '9')
            n++;
        if (n < 1 || n > 9)
            return FG_EPARSE;
        p += 1 + n; /* the fraction is dropped: times are whole seconds */
    }
    int off;
    if (parse_offset(p, &off))
        return FG_EPARSE;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    return 0;
}

void fg_time_format_rfc3339(int64_t t, char *buf, size_t len)
{
    int64_t days = t / 86400, sec = t % 86400;
    if (sec < 0) {
        sec += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d,
             (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60));
}

/* ---- views ---- */

/* Each add reports success so a view can be dropped as a whole when memory
 * runs out. */
static bool add(cJSON *o, const char *k, cJSON *v)
{
    if (!v)
        return false;
    if (!cJSON_AddItemToObject(o, k, v)) {
        cJSON_Delete(v);
        return false;
    }
    return true;
}

static bool add_num(cJSON *o, const char *k, double v)
{
    return add(o, k, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

static bool add_int(cJSON *o, const char *k, int64_t v)
{
    return add(o, k, cJSON_CreateNumber((double)v));
}

static bool add_str(cJSON *o, const char *k, const char *s)
{
    return add(o, k, cJSON_CreateString(s));
}

static bool add_bool(cJSON *o, const char *k, bool b)
{
    return add(o, k, cJSON_CreateBool(b));
}

static cJSON *finish(cJSON *o, bool ok)
{
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *envelope_json(const struct fg_envelope *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_num(o, "min_w", e->min_w);
    ok = ok && add_num(o, "max_w", e->max_w);
    return finish(o, ok);
}

static cJSON *clamp_json(unsigned clamp)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{FG_CLAMP_ENVELOPE, "envelope"},
                 {FG_CLAMP_IMPORT, "import"},
                 {FG_CLAMP_EXPORT, "export"}};
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < NELEM(names); i++) {
        if (!(clamp & names[i].bit))
            continue;
        cJSON *s = cJSON_CreateString(names[i].name);
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static cJSON *setpoint_json(const struct fg_setpoint *sp)
{
    if (!sp->active)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_num(o, "w", sp->w);
    ok = ok && add_num(o, "requested_w", sp->requested_w);
    if (sp->has_var)
        ok = ok && add_num(o, "var", sp->var);
    ok = ok && add_str(o, "source", fg_sp_source_name(sp->source));
    ok = ok && add_int(o, "set_at", sp->set_at);
    ok = ok && add_int(o, "expires_at", sp->expires_at);
    ok = ok && add(o, "clamped", clamp_json(sp->clamp));
    ok = ok && add_str(o, "state", fg_sp_state_name(sp->state));
    if (sp->detail[0])
        ok = ok && add_str(o, "detail", sp->detail);
    if (sp->deviation_w != 0)
        ok = ok && add_num(o, "deviation_w", sp->deviation_w);
    return finish(o, ok);
}

static cJSON *session_json(const struct fg_evse *e)
{
    if (!e->session_active)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_str(o, "id", e->session_id);
    ok = ok && add_str(o, "id_token", e->id_token);
    ok = ok && add_int(o, "start", e->session_start);
    ok = ok && add_num(o, "energy_wh", e->energy_wh);
    ok = ok && add_num(o, "energy_requested_wh", e->energy_requested_wh);
    ok = ok && add_int(o, "departure", e->departure);
    ok = ok && add_num(o, "ev_soc", e->ev_soc);
    ok = ok && add_num(o, "ev_capacity_wh", e->ev_capacity_wh);
    ok = ok && add_num(o, "ev_min_w", e->ev_min_w);
    ok = ok && add_num(o, "ev_max_w", e->ev_max_w);
    ok = ok && add_num(o, "ev_max_discharge_w", e->ev_max_discharge_w);
    ok = ok && add_bool(o, "ev_bidirectional", e->ev_bidirectional);
    return finish(o, ok);
}

static bool evse_fill(cJSON *o, const struct fg_asset *a)
{
    const struct fg_evse *e = &a->evse;
    bool ok = add_str(o, "state", fg_connector_state_name(e->state));
    ok = ok && add_num(o, "rated_w", e->rated_w);
    ok = ok && add_num(o, "max_discharge_w", e->max_discharge_w);
    ok = ok && add_bool(o, "bidirectional", e->bidirectional);
    ok = ok && add_int(o, "phases", e->phases);
    ok = ok && add_num(o, "voltage", e->voltage);
    ok = ok && add_num(o, "min_current_a", e->min_current_a);
    ok = ok && add_num(o, "max_current_a", e->max_current_a);
    return ok && add(o, "session", session_json(e));
}

static bool battery_fill(cJSON *o, const struct fg_asset *a)
{
    const struct fg_battery *b = &a->battery;
    bool ok = add_num(o, "capacity_wh", b->capacity_wh);
    ok = ok && add_num(o, "soc", b->soc);
    ok = ok && add_num(o, "soh", b->soh);
    ok = ok && add_num(o, "soc_min", b->soc_min);
    ok = ok && add_num(o, "soc_max", b->soc_max);
    ok = ok && add_num(o, "max_charge_w", b->max_charge_w);
    ok = ok && add_num(o, "max_discharge_w", b->max_discharge_w);
    ok = ok && add_num(o, "temperature_c", b->temperature_c);
    ok = ok && add_str(o, "alarms", b->alarms);
    return ok && add_str(o, "chemistry", b->chemistry);
}

static bool pv_fill(cJSON *o, const struct fg_asset *a)
{
    const struct fg_pv *p = &a->pv;
    bool ok = add_num(o, "rated_w", p->rated_w);
    ok = ok && add_num(o, "available_w", p->available_w);
    ok = ok && add_bool(o, "curtailable", p->curtailable);
    ok = ok && add_num(o, "limit_w", p->limit_w);
    ok = ok && add_int(o, "forecast_start", p->forecast_start);
    ok = ok &&
         add_int(o, "forecast_step_s", p->forecast_step_s > 0 ? p->forecast_step_s : 900);
    return ok && add_int(o, "forecast_len", (int64_t)p->n_forecast);
}

static bool load_fill(cJSON *o, const struct fg_asset *a)
{
    const struct fg_load *l = &a->load;
    bool ok = add_str(o, "type", fg_load_type_name(l->type));
    ok = ok && add_num(o, "rated_w", l->rated_w);
    ok = ok && add_bool(o, "connected", l->connected);
    ok = ok && add_num(o, "run_s", l->run_s);
    ok = ok && add_int(o, "earliest_start", l->earliest_start);
    return ok && add_int(o, "latest_end", l->latest_end);
}

/* Indexed by enum fg_asset_kind. */
static bool (*const kind_fill[FG_ASSET_KIND_COUNT])(cJSON *, const struct fg_asset *) = {
    evse_fill, battery_fill, pv_fill, load_fill};

static cJSON *kind_json(const struct fg_asset *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    return finish(o, kind_fill[a->kind](o, a));
}

cJSON *fg_asset_to_json(const struct fg_asset *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_str(o, "id", a->id);
    ok = ok && add_str(o, "name", a->name);
    ok = ok && add_str(o, "kind", fg_asset_kind_name(a->kind));
    ok = ok && add_str(o, "adapter", a->adapter);
    ok = ok && add_bool(o, "online", a->online);
    ok = ok && add_int(o, "last_seen", a->last_seen);
    ok = ok && add_num(o, "power_w", a->power_w);
    ok = ok && add_num(o, "reactive_var", a->reactive_var);
    ok = ok && add(o, "envelope", envelope_json(&a->env));
    ok = ok && add(o, "setpoint", setpoint_json(&a->sp));
    if (ok && (unsigned)a->kind < FG_ASSET_KIND_COUNT)
        ok = add(o, fg_asset_kind_name(a->kind), kind_json(a));
    return finish(o, ok);
}

static cJSON *interval_json(const struct fg_signal_interval *iv)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_int(o, "start", iv->start);
    ok = ok && add_int(o, "duration_s", iv->duration_s);
    ok = ok && add_num(o, "value", iv->value);
    ok = ok && add_num(o, "export_value", iv->export_value);
    return finish(o, ok);
}

static cJSON *intervals_json(const struct fg_signal *s)
{
    cJSON *a = cJSON_CreateArray();
    size_t n = s->n_intervals < FG_SIGNAL_MAX_INTERVALS ? s->n_intervals
                                                        : FG_SIGNAL_MAX_INTERVALS;
    for (size_t i = 0; a && i < n; i++) {
        cJSON *iv = interval_json(&s->intervals[i]);
        if (!iv || !cJSON_AddItemToArray(a, iv)) {
            cJSON_Delete(iv);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

cJSON *fg_signal_to_json(const struct fg_signal *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_str(o, "id", s->id);
    ok = ok && add_str(o, "source", fg_signal_source_name(s->source));
    ok = ok && add_str(o, "type", fg_signal_type_name(s->type));
    ok = ok && add_int(o, "priority", s->priority);
    ok = ok && add_str(o, "status", fg_signal_status_name(s->status));
    ok = ok && add_str(o, "target", s->target);
    ok = ok && add_int(o, "created", s->created);
    ok = ok && add_int(o, "updated", s->updated);
    ok = ok && add_int(o, "modification", s->modification);
    ok = ok && add(o, "intervals", intervals_json(s));
    return finish(o, ok);
}

static cJSON *signal_ref_json(const struct fg_signal *s)
{
    if (!s)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_str(o, "source", fg_signal_source_name(s->source));
    ok = ok && add_str(o, "id", s->id);
    return finish(o, ok);
}

cJSON *fg_limits_to_json(const struct fg_limits *l)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_num(o, "import_max_w", l->import_max_w);
    ok = ok && add_num(o, "export_max_w", l->export_max_w);
    ok = ok && add(o, "import_by", signal_ref_json(l->import_by));
    ok = ok && add(o, "export_by", signal_ref_json(l->export_by));
    ok = ok && add_num(o, "price_import", l->price_import);
    ok = ok && add_num(o, "price_export", l->price_export);
    ok = ok && add(o, "price_by", signal_ref_json(l->price_by));
    ok = ok && add_num(o, "dispatch_w", l->has_dispatch ? l->dispatch_w : NAN);
    ok = ok && add(o, "dispatch_by", signal_ref_json(l->dispatch_by));
    ok = ok && add_bool(o, "island", l->island);
    ok = ok && add_num(o, "soc_target_pct", l->soc_target_pct);
    ok = ok && add(o, "soc_target_by", signal_ref_json(l->soc_target_by));
    return finish(o, ok);
}

static bool plan_head(cJSON *o, const struct fg_plan *p)
{
    bool ok = add_int(o, "created", p->created);
    ok = ok && add_int(o, "start", p->start);
    ok = ok && add_int(o, "isp_s", p->isp_s);
    ok = ok && add_int(o, "n_isp", (int64_t)p->n_isp);
    ok = ok && add_int(o, "n_assets", (int64_t)p->n_assets);
    ok = ok && add_num(o, "expected_cost", p->expected_cost);
    ok = ok && add_str(o, "services", p->services);
    ok = ok && add_str(o, "reason", p->reason);
    ok = ok && add_int(o, "n_slack", (int64_t)p->n_slack);
    return ok && add_str(o, "producer", p->producer);
}

/* Which site constraints were binding in ISP i (within 1 %, at least 50 W),
 * and which softened constraints concern it. */
static cJSON *plan_shaped_by(const struct fg_plan *p, size_t i)
{
    cJSON *a = cJSON_CreateArray();
    double site = fg_plan_isp(p, FG_PLAN_SITE_W, i);
    double imax = fg_plan_isp(p, FG_PLAN_IMPORT_MAX_W, i);
    double emax = fg_plan_isp(p, FG_PLAN_EXPORT_MAX_W, i);
    double disp = fg_plan_isp(p, FG_PLAN_DISPATCH_W, i);
    const char *names[8];
    int n = 0;
    if (isfinite(site) && isfinite(imax) && site >= imax - fmax(50, 0.01 * imax))
        names[n++] =
            imax < p->connection_import_w - 1 ? "dso_import_limit" : "import_limit";
    if (isfinite(site) && isfinite(p->kw_max_w) && !(p->kw_max_w >= imax) &&
        site >= p->kw_max_w - fmax(50, 0.01 * p->kw_max_w))
        names[n++] = "kw_max";
    if (isfinite(site) && isfinite(emax) && site <= -emax + fmax(50, 0.01 * emax))
        names[n++] =
            emax < p->connection_export_w - 1 ? "dso_export_limit" : "export_limit";
    if (isfinite(site) && isfinite(disp))
        names[n++] = fabs(site - disp) <= fmax(50, 0.01 * fabs(disp))
                         ? "brp_target"
                         : "brp_target_missed";
    for (int k = 0; a && k < n; k++) {
        cJSON *x = cJSON_CreateString(names[k]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            cJSON_Delete(a);
            return NULL;
        }
    }
    int64_t at = p->start + (int64_t)i * p->isp_s;
    for (size_t k = 0; a && k < p->n_slack; k++) {
        if (p->slack[k].at != at)
            continue;
        char buf[160];
        snprintf(buf, sizeof(buf), "slack:%s", p->slack[k].name);
        cJSON *x = cJSON_CreateString(buf);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* Per ISP: what the plan assumed (prices, limits, forecasts), the site
 * power it expects and what shaped it. */
static cJSON *plan_isps_json(const struct fg_plan *p)
{
    static const char *const keys[FG_PLAN_N_SERIES] = {
        [FG_PLAN_SITE_W] = "site_w",
        [FG_PLAN_LOAD_W] = "load_forecast_w",
        [FG_PLAN_PV_W] = "pv_forecast_w",
        [FG_PLAN_PRICE_IMPORT] = "price_import",
        [FG_PLAN_PRICE_EXPORT] = "price_export",
        [FG_PLAN_IMPORT_MAX_W] = "import_max_w",
        [FG_PLAN_EXPORT_MAX_W] = "export_max_w",
        [FG_PLAN_DISPATCH_W] = "dispatch_w"};
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && p->isp && i < p->n_isp; i++) {
        cJSON *o = cJSON_CreateObject();
        bool ok = o && add_int(o, "start", p->start + (int64_t)i * p->isp_s);
        for (int k = 0; ok && k < FG_PLAN_N_SERIES; k++)
            ok = add_num(o, keys[k], fg_plan_isp(p, (enum fg_plan_series)k, i));
        ok = ok && add(o, "shaped_by", plan_shaped_by(p, i));
        if (!ok || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *plan_slack_json(const struct fg_plan *p)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < p->n_slack; i++) {
        const struct fg_plan_slack *x = &p->slack[i];
        cJSON *o = cJSON_CreateObject();
        bool ok = o && add_str(o, "constraint", x->name);
        ok = ok && add(o, "asset",
                       x->asset[0] ? cJSON_CreateString(x->asset) : cJSON_CreateNull());
        ok = ok && (x->at ? add_int(o, "at", x->at) : add(o, "at", cJSON_CreateNull()));
        ok = ok && add_num(o, "amount", x->amount);
        ok = ok && add_str(o, "unit", x->unit);
        if (!ok || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *plan_cost_json(const struct fg_plan *p)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && add_num(o, "total", p->expected_cost);
    ok = ok && add_num(o, "energy", p->cost_energy);
    ok = ok && add_num(o, "wear", p->cost_wear);
    ok = ok && add_num(o, "demand", p->cost_demand);
    ok = ok && add_num(o, "penalty", p->cost_penalty);
    return finish(o, ok);
}

static cJSON *plan_row_json(const struct fg_plan *p, size_t i)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *w = cJSON_CreateArray();
    bool ok = o && w && add_str(o, "id", p->asset_ids[i]);
    for (size_t k = 0; ok && k < p->n_isp; k++) {
        double v = p->w[i * p->n_isp + k];
        cJSON *n = isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
        ok = n && cJSON_AddItemToArray(w, n);
        if (!ok)
            cJSON_Delete(n);
    }
    if (ok)
        return finish(o, add(o, "w", w));
    cJSON_Delete(w);
    cJSON_Delete(o);
    return NULL;
}

cJSON *fg_plan_to_json(const struct fg_plan *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *rows = cJSON_CreateArray();
    bool ok = o && rows && plan_head(o, p);
    ok = ok && add_num(o, "solve_s", p->solve_s);
    ok = ok && add(o, "cost", plan_cost_json(p));
    ok = ok && add(o, "slack", plan_slack_json(p));
    ok = ok && add(o, "isps", plan_isps_json(p));
    for (size_t i = 0; ok && i < p->n_assets && p->asset_ids && p->w; i++) {
        cJSON *r = plan_row_json(p, i);
        ok = r && cJSON_AddItemToArray(rows, r);
        if (!ok)
            cJSON_Delete(r);
    }
    if (ok)
        return finish(o, add(o, "assets", rows));
    cJSON_Delete(rows);
    cJSON_Delete(o);
    return NULL;
}

/* Three per-phase values, null where unknown. */
static cJSON *phases_json(const double v[3])
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < 3; i++) {
        cJSON *n = isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull();
        if (!n || !cJSON_AddItemToArray(a, n)) {
            cJSON_Delete(n);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static cJSON *site_json(const struct fg_model *m, int64_t now)
{
    const struct fg_site *s = &m->site;
    struct fg_limits lim;
    fg_model_limits_at(m, now, &lim);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_str(o, "id", s->id);
    ok = ok && add_str(o, "name", s->name);
    ok = ok && add_num(o, "import_limit_w", s->import_limit_w);
    ok = ok && add_num(o, "export_limit_w", s->export_limit_w);
    ok = ok && add_int(o, "isp_s", s->isp_s);
    ok = ok && add_str(o, "currency", s->currency);
    ok = ok && add_int(o, "utc_offset_min", s->utc_offset_min);
    ok = ok && add_num(o, "meter_power_w", s->meter_power_w);
    ok = ok && add(o, "meter_v", phases_json(s->meter_v));
    ok = ok && add(o, "meter_a", phases_json(s->meter_a));
    ok = ok && add_num(o, "power_w", fg_model_site_power(m));
    ok = ok && add(o, "limits", fg_limits_to_json(&lim));
    return finish(o, ok);
}

/* The model view carries the plan's summary only; GET /plan has the rows. */
static cJSON *plan_summary_json(const struct fg_plan *p)
{
    if (p->n_isp == 0 && p->n_assets == 0 && p->created == 0)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    return finish(o, plan_head(o, p));
}

cJSON *fg_assets_to_json(const struct fg_model *m)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < m->n_assets; i++) {
        cJSON *a = fg_asset_to_json(&m->assets[i]);
        if (!a || !cJSON_AddItemToArray(arr, a)) {
            cJSON_Delete(a);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

cJSON *fg_signals_to_json(const struct fg_model *m)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < m->n_signals; i++) {
        cJSON *s = fg_signal_to_json(&m->signals[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

cJSON *fg_model_to_json(const struct fg_model *m, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add(o, "site", site_json(m, now));
    ok = ok && add_int(o, "time", now);
    ok = ok && add(o, "assets", fg_assets_to_json(m));
    ok = ok && add(o, "signals", fg_signals_to_json(m));
    ok = ok && add(o, "plan", plan_summary_json(&m->plan));
    return finish(o, ok);
}

/* ---- strict signal decoder ---- */

#define ID_MAX_LEN 63
#define PRIORITY_MAX 1000
#define DURATION_MAX 172800
#define VALUE_MAX 1e9

static int want_string(const cJSON *v, const char *path, struct fg_error *err)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return fg_error_set(err, FG_ETYPE, path, "expected string");
    return 0;
}

static int want_integer(const cJSON *v, const char *path, double lo, double hi,
                        double *out, struct fg_error *err)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        v->valuedouble != floor(v->valuedouble))
        return fg_error_set(err, FG_ETYPE, path, "expected integer");
    if (v->valuedouble < lo || v->valuedouble > hi)
        return fg_error_set(err, FG_ERANGE, path, "%.17g not in [%.17g, %.17g]",
                            v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return 0;
}

static int want_time(const cJSON *v, const char *path, int64_t *out, struct fg_error *err)
{
    double d;
    if (cJSON_IsNumber(v)) {
        int rc = want_integer(v, path, 0, (double)TIME_MAX, &d, err);
        if (!rc)
            *out = (int64_t)d;
        return rc;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return fg_error_set(err, FG_ETYPE, path,
                            "expected time (epoch seconds or string)");
    int64_t t;
    if (fg_time_parse_rfc3339(v->valuestring, &t))
        return fg_error_set(err, FG_EPARSE, path, "expected RFC 3339 time");
    if (t < 0 || t > TIME_MAX)
        return fg_error_set(err, FG_ERANGE, path, "time not in [1970, 2100]");
    *out = t;
    return 0;
}

/* A number or null (NAN); |value| bounded so arithmetic on it stays exact. */
static int want_value(const cJSON *v, const char *path, double *out, struct fg_error *err)
{
    if (cJSON_IsNull(v)) {
        *out = NAN;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return fg_error_set(err, FG_ETYPE, path, "expected number or null");
    if (!isfinite(v->valuedouble) || fabs(v->valuedouble) > VALUE_MAX)
        return fg_error_set(err, FG_ERANGE, path, "value not in [-1e9, 1e9]");
    *out = v->valuedouble;
    return 0;
}

static bool id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

struct dec {
    struct fg_signal *out;
    const char *path;
    size_t index; /* intervals: the element being decoded */
    struct fg_error *err;
};

typedef int (*field_fn)(const cJSON *v, struct dec *d);

struct field {
    const char *key;
    field_fn fn;
    bool required;
};

static int f_id(const cJSON *v, struct dec *d)
{
    int rc = want_string(v, d->path, d->err);
    if (rc)
        return rc;
    size_t n = strlen(v->valuestring);
    if (n < 1 || n > ID_MAX_LEN)
        return fg_error_set(d->err, FG_ERANGE, d->path, "id must be 1..%d characters",
                            ID_MAX_LEN);
    for (size_t i = 0; i < n; i++)
        if (!id_char(v->valuestring[i]))
            return fg_error_set(d->err, FG_EINVAL, d->path,
                                "id may contain only A-Z a-z 0-9 . _ : -");
    memcpy(d->out->id, v->valuestring, n + 1);
    return 0;
}

static int f_type(const cJSON *v, struct dec *d)
{
    int rc = want_string(v, d->path, d->err);
    if (!rc && fg_signal_type_parse(v->valuestring, &d->out->type))
        rc = fg_error_set(d->err, FG_EINVAL, d->path, "unknown signal type");
    return rc;
}

static int f_source(const cJSON *v, struct dec *d)
{
    int rc = want_string(v, d->path, d->err);
    if (!rc && fg_signal_source_parse(v->valuestring, &d->out->source))
        rc = fg_error_set(d->err, FG_EINVAL, d->path, "unknown signal source");
    return rc;
}

/* Every status name is accepted so that views decode again; only "cancelled"
 * is kept, the others are derived by fg_model_signal_put(). */
static int f_status(const cJSON *v, struct dec *d)
{
    enum fg_signal_status st;
    int rc = want_string(v, d->path, d->err);
    if (!rc && fg_signal_status_parse(v->valuestring, &st))
        rc = fg_error_set(d->err, FG_EINVAL, d->path, "unknown signal status");
    if (!rc)
        d->out->status = st == FG_SIGST_CANCELLED ? st : FG_SIGST_PENDING;
    return rc;
}

static int f_priority(const cJSON *v, struct dec *d)
{
    double x;
    int rc = want_integer(v, d->path, -PRIORITY_MAX, PRIORITY_MAX, &x, d->err);
    if (!rc)
        d->out->priority = (int)x;
    return rc;
}

static int f_target(const cJSON *v, struct dec *d)
{
    int rc = want_string(v, d->path, d->err);
    if (rc)
        return rc;
    size_t n = strlen(v->valuestring);
    if (n >= FG_ID_MAX)
        return fg_error_set(d->err, FG_ERANGE, d->path, "target longer than %d",
                            FG_ID_MAX - 1);
    memcpy(d->out->target, v->valuestring, n + 1);
    return 0;
}

static int f_modification(const cJSON *v, struct dec *d)
{
    double x;
    int rc = want_integer(v, d->path, 0, UINT32_MAX, &x, d->err);
    if (!rc)
        d->out->modification = (uint32_t)x;
    return rc;
}

static int f_created(const cJSON *v, struct dec *d)
{
    return want_time(v, d->path, &d->out->created, d->err);
}

static int f_updated(const cJSON *v, struct dec *d)
{
    return want_time(v, d->path, &d->out->updated, d->err);
}

static int iv_start(const cJSON *v, struct dec *d)
{
    return want_time(v, d->path, &d->out->intervals[d->index].start, d->err);
}

static int iv_duration(const cJSON *v, struct dec *d)
{
    double x;
    int rc = want_integer(v, d->path, 1, DURATION_MAX, &x, d->err);
    if (!rc)
        d->out->intervals[d->index].duration_s = (int64_t)x;
    return rc;
}

static int iv_value(const cJSON *v, struct dec *d)
{
    return want_value(v, d->path, &d->out->intervals[d->index].value, d->err);
}

static int iv_export(const cJSON *v, struct dec *d)
{
    return want_value(v, d->path, &d->out->intervals[d->index].export_value, d->err);
}

static const struct field interval_fields[] = {
    {"start", iv_start, true},
    {"duration_s", iv_duration, true},
    {"value", iv_value, true},
    {"export_value", iv_export, false},
};

/* Decode object j against a field table: unknown, duplicate and missing keys
 * are errors; each value goes to its field's function. */
static int decode_object(const cJSON *j, const struct field *f, size_t nf,
                         const char *path, struct dec *d)
{
    if (!cJSON_IsObject(j))
        return fg_error_set(d->err, FG_ETYPE, path, "expected object");
    char sub[FG_ERR_PATH_MAX];
    unsigned seen = 0;
    for (const cJSON *c = j->child; c; c = c->next) {
        fg_json_pointer_key(sub, sizeof(sub), path, c->string ? c->string : "");
        size_t i = 0;
        while (i < nf && (!c->string || strcmp(f[i].key, c->string) != 0))
            i++;
        if (i == nf)
            return fg_error_set(d->err, FG_EUNKNOWN, sub, "unknown key");
        if (seen & (1u << i))
            return fg_error_set(d->err, FG_EINVAL, sub, "duplicate key");
        seen |= 1u << i;
        d->path = sub;
        int rc = f[i].fn(c, d);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < nf; i++) {
        if (f[i].required && !(seen & (1u << i))) {
            fg_json_pointer_key(sub, sizeof(sub), path, f[i].key);
            return fg_error_set(d->err, FG_EMISSING, sub, "required");
        }
    }
    return 0;
}

static int f_intervals(const cJSON *v, struct dec *d)
{
    if (!cJSON_IsArray(v))
        return fg_error_set(d->err, FG_ETYPE, d->path, "expected array");
    int n = cJSON_GetArraySize(v);
    if (n < 1)
        return fg_error_set(d->err, FG_ERANGE, d->path, "at least one interval");
    if (n > FG_SIGNAL_MAX_INTERVALS)
        return fg_error_set(d->err, FG_ETOOBIG, d->path, "more than %d intervals",
                            FG_SIGNAL_MAX_INTERVALS);
    char base[FG_ERR_PATH_MAX];
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        snprintf(base, sizeof(base), "/intervals/%zu", i);
        d->index = i;
        d->out->intervals[i].export_value = NAN;
        int rc = decode_object(c, interval_fields, NELEM(interval_fields), base, d);
        if (rc)
            return rc;
    }
    d->out->n_intervals = i;
    return 0;
}

static const struct field signal_fields[] = {
    {"id", f_id, true},
    {"type", f_type, true},
    {"source", f_source, false},
    {"priority", f_priority, false},
    {"target", f_target, false},
    {"status", f_status, false},
    {"modification", f_modification, false},
    {"created", f_created, false},
    {"updated", f_updated, false},
    {"intervals", f_intervals, true},
};

int fg_signal_from_json(const cJSON *j, struct fg_signal *out, struct fg_error *err)
{
    memset(out, 0, sizeof(*out));
    out->source = FG_SRC_API;
    out->status = FG_SIGST_PENDING;
    struct dec d = {.out = out, .err = err};
    return decode_object(j, signal_fields, NELEM(signal_fields), "", &d);
}
