/* Answers to the CSMS's CALLs, as a strict station gives them: every CALL is
 * validated against its official schema first (the CALLERROR the validator
 * names otherwise; NotImplemented for an unknown action, NotSupported for a
 * known one this simulator does not handle), then a handler from the table
 * builds the CALLRESULT, which is validated too. What a handler has the
 * station say in reply (StatusNotification, NotifyReport, ...) is queued
 * behind the answer: our CALLs wait while a handler runs (in_handler).
 *
 * Misbehaviour (a test's choice): slow delays the handling of each CALL by
 * mb_ms, silent never answers, error answers GenericError. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct req {
    struct sim_station *st;
    const struct fg_ocppj_msg *msg;
    const cJSON *p;
    cJSON *reply;
    struct fg_ocpp_verror err;    /* a CALLERROR instead of the reply */
    const char *refused;          /* a Rejected-like status: why, for the event */
    void (*after)(struct req *r); /* once the answer is queued */
    int arg;
};

static void set_status(struct req *r, const char *status, const char *reason,
                       const char *detail)
{
    cJSON_AddStringToObject(r->reply, "status", status);
    if (reason) {
        cJSON *si = cJSON_AddObjectToObject(r->reply, "statusInfo");
        cJSON_AddStringToObject(si, "reasonCode", reason);
        if (detail && detail[0])
            cJSON_AddStringToObject(si, "additionalInfo", detail);
        r->refused = reason;
    }
}

static int jint(const cJSON *o, const char *key, int dflt)
{
    double v;
    return sim_jnum(o, key, &v) ? (int)v : dflt;
}

static void after_tick(struct req *r)
{
    sim_evse_tick(r->st);
}

/* ---- smart charging ------------------------------------------------------------- */

static void h_set_profile(struct req *r)
{
    struct sim_station *st = r->st;
    int evse = jint(r->p, "evseId", -1);
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(r->p, "chargingProfile");
    if (!st->smart_enabled) {
        set_status(r, "Rejected", "NotEnabled", "SmartChargingCtrlr.Enabled is false");
        return;
    }
    struct sim_profile prof;
    const char *reason = NULL;
    char detail[160];
    if (sim_profile_parse(st, evse, cp, &prof, &reason, detail, sizeof(detail))) {
        set_status(r, "Rejected", reason, detail);
        sim_profile_clear(&prof);
        return;
    }
    int rc = sim_profile_store(st, &prof);
    sim_profile_clear(&prof);
    if (rc == FG_EEXISTS)
        set_status(r, "Rejected", "DuplicateProfile",
                   "same purpose, stackLevel and EVSE with overlapping validity");
    else if (rc)
        set_status(r, "Rejected", "NoSpace", "no room for another profile");
    else
        set_status(r, "Accepted", NULL, NULL);
    r->after = after_tick;
}

static bool clear_matches(const struct sim_profile *p, const cJSON *crit)
{
    double v;
    if (sim_jnum(crit, "evseId", &v) && p->evse_id != (int)v)
        return false;
    if (sim_jnum(crit, "stackLevel", &v) && p->stack_level != (int)v)
        return false;
    const char *pu = sim_jstr(crit, "chargingProfilePurpose");
    const char *mine = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(p->json, "chargingProfilePurpose"));
    return !pu[0] || (mine && !strcmp(pu, mine));
}

static void h_clear_profile(struct req *r)
{
    struct sim_station *st = r->st;
    double id;
    bool by_id = sim_jnum(r->p, "chargingProfileId", &id);
    const cJSON *crit = cJSON_GetObjectItemCaseSensitive(r->p, "chargingProfileCriteria");
    int j = 0, removed = 0;
    for (int i = 0; i < st->n_prof; i++) {
        struct sim_profile *p = st->prof[i];
        if (by_id ? p->id == (int)id : clear_matches(p, crit)) {
            sim_profile_clear(p);
            free(p);
            removed++;
        } else {
            st->prof[j++] = p;
        }
    }
    st->n_prof = j;
    set_status(r, removed ? "Accepted" : "Unknown", NULL, NULL);
    r->after = after_tick;
}

static bool get_matches(const struct sim_profile *p, const cJSON *req, const cJSON *crit)
{
    double v;
    if (sim_jnum(req, "evseId", &v) && p->evse_id != (int)v)
        return false;
    if (!clear_matches(p, crit))
        return false;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(crit, "chargingProfileId");
    if (ids) {
        bool any = false;
        const cJSON *x;
        cJSON_ArrayForEach(x, ids) any |= (int)x->valuedouble == p->id;
        if (!any)
            return false;
    }
    const cJSON *srcs = cJSON_GetObjectItemCaseSensitive(crit, "chargingLimitSource");
    if (srcs) {
        bool cso = false;
        const cJSON *x;
        cJSON_ArrayForEach(x, srcs) cso |=
            cJSON_IsString(x) && !strcmp(x->valuestring, "CSO");
        if (!cso)
            return false;
    }
    return true;
}

/* One ReportChargingProfiles per EVSE with matching profiles (K09). */
static void after_get_profiles(struct req *r)
{
    struct sim_station *st = r->st;
    const cJSON *crit = cJSON_GetObjectItemCaseSensitive(r->p, "chargingProfile");
    int last_evse = -1;
    for (int e = 0; e <= st->n_evse; e++) {
        for (int i = 0; i < st->n_prof; i++) {
            if (st->prof[i]->evse_id == e && get_matches(st->prof[i], r->p, crit))
                last_evse = e;
        }
    }
    for (int e = 0; e <= last_evse; e++) {
        cJSON *arr = NULL;
        for (int i = 0; i < st->n_prof; i++) {
            if (st->prof[i]->evse_id != e || !get_matches(st->prof[i], r->p, crit))
                continue;
            if (!arr)
                arr = cJSON_CreateArray();
            cJSON_AddItemToArray(arr, cJSON_Duplicate(st->prof[i]->json, 1));
        }
        if (!arr)
            continue;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "requestId", r->arg);
        cJSON_AddStringToObject(p, "chargingLimitSource", "CSO");
        cJSON_AddItemToObject(p, "chargingProfile", arr);
        cJSON_AddBoolToObject(p, "tbc", e < last_evse);
        cJSON_AddNumberToObject(p, "evseId", e);
        sim_call(st, "ReportChargingProfiles", p, false);
    }
}

static void h_get_profiles(struct req *r)
{
    struct sim_station *st = r->st;
    const cJSON *crit = cJSON_GetObjectItemCaseSensitive(r->p, "chargingProfile");
    int n = 0;
    for (int i = 0; i < st->n_prof; i++)
        n += get_matches(st->prof[i], r->p, crit);
    set_status(r, n ? "Accepted" : "NoProfiles", NULL, NULL);
    if (n) {
        r->arg = jint(r->p, "requestId", 0);
        r->after = after_get_profiles;
    }
}

static void h_composite(struct req *r)
{
    int evse = jint(r->p, "evseId", -1);
    int duration = jint(r->p, "duration", 0);
    if (evse < 0 || evse > r->st->n_evse) {
        set_status(r, "Rejected", "UnknownEvse", "no such EVSE");
        return;
    }
    sim_composite(r->st, evse, duration, !strcmp(sim_jstr(r->p, "chargingRateUnit"), "A"),
                  r->reply);
}

/* ---- device model ----------------------------------------------------------------- */

enum dm_type { DM_INT, DM_BOOL, DM_STR };

struct dm_var {
    const char *component, *variable;
    enum dm_type type;
    bool rw;
    int lo, hi;
    ptrdiff_t field;      /* int or bool in struct sim_station; -1: get() */
    const char *constant; /* read-only constant, or NULL */
    void (*get)(struct sim_station *st, char *out, size_t n);
    void (*set)(struct sim_station *st, int v); /* for field < 0 */
    void (*apply)(struct sim_station *st);      /* after a change */
};

static void get_meter_s(struct sim_station *st, char *out, size_t n)
{
    snprintf(out, n, "%d", st->meter_ms / 1000);
}

static void set_meter_s(struct sim_station *st, int v)
{
    st->meter_ms = v * 1000;
}

static void get_entries(struct sim_station *st, char *out, size_t n)
{
    snprintf(out, n, "%d", st->n_prof);
}

static void get_identity(struct sim_station *st, char *out, size_t n)
{
    snprintf(out, n, "%s", st->id);
}

static void get_availability(struct sim_station *st, char *out, size_t n)
{
    bool any = false;
    for (int i = 1; i <= st->n_evse; i++)
        any |= st->evse[i].operative;
    snprintf(out, n, "%s", any ? "Available" : "Unavailable");
}

static void get_security_profile(struct sim_station *st, char *out, size_t n)
{
    const struct sim_opts *o = &st->sim->o;
    snprintf(out, n, "%d", o->tls ? (o->cert ? 3 : 2) : o->password ? 1 : 0);
}

static void apply_tick(struct sim_station *st)
{
    sim_evse_tick(st);
}

#define FIELD(f) offsetof(struct sim_station, f)

/* Sorted by component, then variable (bsearch). */
static const struct dm_var dm[] = {
    {"AlignedDataCtrlr", "Interval", DM_INT, true, 0, 86400, -1, NULL, get_meter_s,
     set_meter_s, sim_restart_meter},
    {"AuthCtrlr", "Enabled", DM_BOOL, true, 0, 1, FIELD(auth_enabled), NULL, NULL, NULL,
     NULL},
    {"ChargingStation", "AvailabilityState", DM_STR, false, 0, 0, -1, NULL,
     get_availability, NULL, NULL},
    {"ChargingStation", "Model", DM_STR, false, 0, 0, -1, "ocpp_sim", NULL, NULL, NULL},
    {"ChargingStation", "VendorName", DM_STR, false, 0, 0, -1, "flexgw", NULL, NULL,
     NULL},
    {"OCPPCommCtrlr", "HeartbeatInterval", DM_INT, true, 1, 86400, FIELD(hb_s), NULL,
     NULL, NULL, sim_restart_heartbeat},
    {"SampledDataCtrlr", "Enabled", DM_BOOL, false, 0, 0, -1, "true", NULL, NULL, NULL},
    {"SampledDataCtrlr", "TxUpdatedInterval", DM_INT, true, 0, 86400, FIELD(tx_updated_s),
     NULL, NULL, NULL, NULL},
    {"SampledDataCtrlr", "TxUpdatedMeasurands", DM_STR, false, 0, 0, -1,
     "Energy.Active.Import.Register,Power.Active.Import,SoC", NULL, NULL, NULL},
    {"SecurityCtrlr", "Identity", DM_STR, false, 0, 0, -1, NULL, get_identity, NULL,
     NULL},
    {"SecurityCtrlr", "SecurityProfile", DM_INT, false, 0, 3, -1, NULL,
     get_security_profile, NULL, NULL},
    {"SmartChargingCtrlr", "Enabled", DM_BOOL, true, 0, 1, FIELD(smart_enabled), NULL,
     NULL, NULL, apply_tick},
    {"SmartChargingCtrlr", "Entries", DM_INT, false, 0, 0, -1, NULL, get_entries, NULL,
     NULL},
    {"SmartChargingCtrlr", "PeriodsPerSchedule", DM_INT, false, 0, 0, -1, "48", NULL,
     NULL, NULL},
    {"SmartChargingCtrlr", "ProfileStackLevel", DM_INT, false, 0, 0, -1, "99", NULL, NULL,
     NULL},
    {"SmartChargingCtrlr", "RateUnit", DM_STR, false, 0, 0, -1, "A,W", NULL, NULL, NULL},
    {"TxCtrlr", "EVConnectionTimeOut", DM_INT, true, 1, 3600, FIELD(ev_timeout_s), NULL,
     NULL, NULL, NULL},
    {"TxCtrlr", "StopTxOnEVSideDisconnect", DM_BOOL, false, 0, 0, -1, "true", NULL, NULL,
     NULL},
};
#define N_DM (sizeof(dm) / sizeof(dm[0]))

void sim_dm_init(struct sim_station *st)
{
    st->tx_updated_s = 0;
    st->auth_enabled = true;
    st->smart_enabled = true;
    st->ev_timeout_s = 120;
    st->meter_ms = st->sim->o.meter_ms;
}

static void dm_value(struct sim_station *st, const struct dm_var *v, char *out, size_t n)
{
    if (v->constant) {
        snprintf(out, n, "%s", v->constant);
    } else if (v->get) {
        v->get(st, out, n);
    } else if (v->type == DM_BOOL) {
        snprintf(out, n, "%s", *(bool *)((char *)st + v->field) ? "true" : "false");
    } else {
        snprintf(out, n, "%d", *(int *)((char *)st + v->field));
    }
}

/* Parse and set a value; false if it is not acceptable. */
static bool dm_set(struct sim_station *st, const struct dm_var *v, const char *s)
{
    int x;
    if (v->type == DM_BOOL) {
        if (strcmp(s, "true") && strcmp(s, "false"))
            return false;
        x = !strcmp(s, "true");
    } else {
        char *end;
        errno = 0;
        long l = strtol(s, &end, 10);
        if (errno || end == s || *end || l < v->lo || l > v->hi)
            return false;
        x = (int)l;
    }
    if (v->set)
        v->set(st, x);
    else if (v->type == DM_BOOL)
        *(bool *)((char *)st + v->field) = x;
    else
        *(int *)((char *)st + v->field) = x;
    if (v->apply)
        v->apply(st);
    return true;
}

/* The variable a request names; *status says why not when NULL. */
static const struct dm_var *dm_find(const cJSON *component, const cJSON *variable,
                                    const char **status)
{
    const char *cn = sim_jstr(component, "name"), *vn = sim_jstr(variable, "name");
    bool comp_known = false;
    bool comp_plain = !cJSON_GetObjectItemCaseSensitive(component, "instance") &&
                      !cJSON_GetObjectItemCaseSensitive(component, "evse");
    for (size_t i = 0; i < N_DM; i++) {
        if (strcmp(dm[i].component, cn))
            continue;
        comp_known = comp_plain;
        if (comp_plain && !strcmp(dm[i].variable, vn) &&
            !cJSON_GetObjectItemCaseSensitive(variable, "instance"))
            return &dm[i];
    }
    *status = comp_known ? "UnknownVariable" : "UnknownComponent";
    return NULL;
}

static cJSON *echo(const cJSON *o, const char *key)
{
    return cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, key), 1);
}

static void h_get_variables(struct req *r)
{
    cJSON *out = cJSON_AddArrayToObject(r->reply, "getVariableResult");
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(r->p, "getVariableData"))
    {
        cJSON *res = cJSON_CreateObject();
        const char *status = "Accepted", *type = sim_jstr(d, "attributeType");
        const struct dm_var *v =
            dm_find(cJSON_GetObjectItemCaseSensitive(d, "component"),
                    cJSON_GetObjectItemCaseSensitive(d, "variable"), &status);
        if (v && type[0] && strcmp(type, "Actual"))
            status = "NotSupportedAttributeType";
        cJSON_AddStringToObject(res, "attributeStatus", status);
        if (type[0])
            cJSON_AddStringToObject(res, "attributeType", type);
        if (!strcmp(status, "Accepted")) {
            char val[256];
            dm_value(r->st, v, val, sizeof(val));
            cJSON_AddStringToObject(res, "attributeValue", val);
        }
        cJSON_AddItemToObject(res, "component", echo(d, "component"));
        cJSON_AddItemToObject(res, "variable", echo(d, "variable"));
        cJSON_AddItemToArray(out, res);
    }
}

static void h_set_variables(struct req *r)
{
    cJSON *out = cJSON_AddArrayToObject(r->reply, "setVariableResult");
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(r->p, "setVariableData"))
    {
        cJSON *res = cJSON_CreateObject();
        const char *status = "Accepted", *type = sim_jstr(d, "attributeType");
        const struct dm_var *v =
            dm_find(cJSON_GetObjectItemCaseSensitive(d, "component"),
                    cJSON_GetObjectItemCaseSensitive(d, "variable"), &status);
        if (v && type[0] && strcmp(type, "Actual"))
            status = "NotSupportedAttributeType";
        else if (v && (!v->rw || !dm_set(r->st, v, sim_jstr(d, "attributeValue"))))
            status = "Rejected";
        if (type[0])
            cJSON_AddStringToObject(res, "attributeType", type);
        cJSON_AddStringToObject(res, "attributeStatus", status);
        cJSON_AddItemToObject(res, "component", echo(d, "component"));
        cJSON_AddItemToObject(res, "variable", echo(d, "variable"));
        cJSON_AddItemToArray(out, res);
    }
}

static cJSON *report_item(struct sim_station *st, const struct dm_var *v)
{
    static const char *const types[] = {"integer", "boolean", "string"};
    char val[256];
    dm_value(st, v, val, sizeof(val));
    cJSON *it = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(it, "component"), "name",
                            v->component);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(it, "variable"), "name", v->variable);
    cJSON *attrs = cJSON_AddArrayToObject(it, "variableAttribute");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "type", "Actual");
    cJSON_AddStringToObject(a, "value", val);
    cJSON_AddStringToObject(a, "mutability", v->rw ? "ReadWrite" : "ReadOnly");
    cJSON_AddItemToArray(attrs, a);
    cJSON *c = cJSON_AddObjectToObject(it, "variableCharacteristics");
    cJSON_AddStringToObject(c, "dataType", types[v->type]);
    cJSON_AddBoolToObject(c, "supportsMonitoring", false);
    return it;
}

static void after_base_report(struct req *r)
{
    bool config_only = !strcmp(sim_jstr(r->p, "reportBase"), "ConfigurationInventory");
    char now[32];
    sim_time_text(sim_now_ms(), now);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "requestId", r->arg);
    cJSON_AddStringToObject(p, "generatedAt", now);
    cJSON_AddNumberToObject(p, "seqNo", 0);
    cJSON_AddBoolToObject(p, "tbc", false);
    cJSON *data = cJSON_AddArrayToObject(p, "reportData");
    for (size_t i = 0; i < N_DM; i++) {
        if (!config_only || dm[i].rw)
            cJSON_AddItemToArray(data, report_item(r->st, &dm[i]));
    }
    sim_call(r->st, "NotifyReport", p, false);
}

static void h_base_report(struct req *r)
{
    set_status(r, "Accepted", NULL, NULL);
    r->arg = jint(r->p, "requestId", 0);
    r->after = after_base_report;
}

/* ---- transactions and availability ------------------------------------------------- */

/* The EVSE a RequestStartTransaction without evseId means: one with an EV
 * waiting, else an idle one. */
static int pick_evse(struct sim_station *st)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 1; i <= st->n_evse; i++) {
            const struct sim_evse *e = &st->evse[i];
            if (e->operative && e->txp == SIM_TX_NONE && (pass || e->plugged))
                return i;
        }
    }
    return 0;
}

static void h_start(struct req *r)
{
    struct sim_station *st = r->st;
    int evse = jint(r->p, "evseId", 0);
    if (evse == 0)
        evse = pick_evse(st);
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(r->p, "idToken");
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(r->p, "chargingProfile");
    if (evse < 1 || evse > st->n_evse) {
        set_status(r, "Rejected", "UnknownEvse", "no such or no free EVSE");
        return;
    }
    if (cp && strcmp(sim_jstr(cp, "chargingProfilePurpose"), "TxProfile")) {
        set_status(r, "Rejected", "InvalidProfile",
                   "chargingProfile must be a TxProfile");
        return;
    }
    struct sim_evse *e = &st->evse[evse];
    if (cp) {
        cJSON_Delete(e->remote_profile);
        e->remote_profile = cJSON_Duplicate(cp, 1);
    }
    if (sim_evse_remote_start(st, evse, jint(r->p, "remoteStartId", 0),
                              sim_jstr(tok, "idToken"), sim_jstr(tok, "type"))) {
        cJSON_Delete(e->remote_profile);
        e->remote_profile = NULL;
        set_status(r, "Rejected", "Busy", "EVSE unavailable or in a transaction");
        return;
    }
    set_status(r, "Accepted", NULL, NULL);
    if (e->txp == SIM_TX_ACTIVE)
        cJSON_AddStringToObject(r->reply, "transactionId", e->tx_id);
}

static void h_stop(struct req *r)
{
    if (sim_evse_remote_stop(r->st, sim_jstr(r->p, "transactionId")))
        set_status(r, "Rejected", "TxNotFound", "no such transaction");
    else
        set_status(r, "Accepted", NULL, NULL);
}

static void h_availability(struct req *r)
{
    struct sim_station *st = r->st;
    bool op = !strcmp(sim_jstr(r->p, "operationalStatus"), "Operative");
    const cJSON *evse = cJSON_GetObjectItemCaseSensitive(r->p, "evse");
    int id = evse ? jint(evse, "id", -1) : 0;
    int conn = evse ? jint(evse, "connectorId", 1) : 1;
    if (id < 0 || id > st->n_evse || conn != 1) {
        set_status(r, "Rejected", "UnknownEvse", "no such EVSE or connector");
        return;
    }
    const char *status = "Accepted";
    for (int i = 1; i <= st->n_evse; i++) {
        if (id == 0 || id == i) {
            if (!strcmp(sim_evse_set_operative(st, &st->evse[i], op), "Scheduled"))
                status = "Scheduled";
        }
    }
    set_status(r, status, NULL, NULL);
    r->after = after_tick;
}

static void h_reset(struct req *r)
{
    struct sim_station *st = r->st;
    const char *type = sim_jstr(r->p, "type");
    if (cJSON_GetObjectItemCaseSensitive(r->p, "evseId")) {
        set_status(r, "Rejected", "UnsupportedRequest", "EVSE reset not supported");
        return;
    }
    bool busy = false;
    for (int i = 1; i <= st->n_evse; i++)
        busy |= st->evse[i].txp == SIM_TX_ACTIVE;
    if (!strcmp(type, "OnIdle") && busy) {
        st->reset_pending = true;
        set_status(r, "Scheduled", NULL, NULL);
        return;
    }
    set_status(r, "Accepted", NULL, NULL);
    sim_evse_end_all(st, "ResetCommand", "ImmediateReset");
    sim_station_reset(st);
}

static void trigger_evse(struct sim_station *st, const char *what, int evse, bool *any)
{
    for (int i = 1; i <= st->n_evse; i++) {
        struct sim_evse *e = &st->evse[i];
        if (evse && i != evse)
            continue;
        if (!strcmp(what, "StatusNotification")) {
            sim_evse_send_status(st, e);
            *any = true;
        } else if (!strcmp(what, "MeterValues")) {
            sim_evse_send_meter(st, e, "Trigger");
            *any = true;
        } else if (e->txp == SIM_TX_ACTIVE) {
            sim_evse_send_tx_update(st, e, "Trigger");
            *any = true;
        }
    }
}

static void after_trigger(struct req *r)
{
    const char *what = sim_jstr(r->p, "requestedMessage");
    bool any = false;
    if (!strcmp(what, "BootNotification"))
        sim_send_boot(r->st, "Triggered");
    else if (!strcmp(what, "Heartbeat"))
        sim_call(r->st, "Heartbeat", cJSON_CreateObject(), false);
    else
        trigger_evse(r->st, what, r->arg, &any);
}

static void h_trigger(struct req *r)
{
    struct sim_station *st = r->st;
    static const char *const known[] = {"BootNotification", "Heartbeat", "MeterValues",
                                        "StatusNotification", "TransactionEvent"};
    const char *what = sim_jstr(r->p, "requestedMessage");
    const cJSON *evse = cJSON_GetObjectItemCaseSensitive(r->p, "evse");
    int id = evse ? jint(evse, "id", -1) : 0;
    bool handled = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        handled |= !strcmp(what, known[i]);
    if (!handled) {
        set_status(r, "NotImplemented", NULL, NULL);
        r->refused = "NotImplemented";
        return;
    }
    if (id < 0 || id > st->n_evse) {
        set_status(r, "Rejected", "UnknownEvse", "no such EVSE");
        return;
    }
    /* F06.FR.17: no BootNotification once it was accepted. */
    if (!strcmp(what, "BootNotification") && st->boot_accepted) {
        set_status(r, "Rejected", "AlreadyBooted", "BootNotification already accepted");
        return;
    }
    if (!strcmp(what, "TransactionEvent")) {
        bool any = false;
        for (int i = 1; i <= st->n_evse; i++)
            any |= (!id || id == i) && st->evse[i].txp == SIM_TX_ACTIVE;
        if (!any) {
            set_status(r, "Rejected", "NoTransaction", "no transaction to report");
            return;
        }
    }
    set_status(r, "Accepted", NULL, NULL);
    r->arg = id;
    r->after = after_trigger;
}

static void h_unlock(struct req *r)
{
    struct sim_station *st = r->st;
    int id = jint(r->p, "evseId", -1), conn = jint(r->p, "connectorId", -1);
    if (id < 1 || id > st->n_evse || conn != 1)
        set_status(r, "UnknownConnector", NULL, NULL);
    else if (st->evse[id].txp == SIM_TX_ACTIVE)
        set_status(r, "OngoingAuthorizedTransaction", NULL, NULL);
    else
        set_status(r, "Unlocked", NULL, NULL);
}

/* ---- dispatch -------------------------------------------------------------------- */

typedef void (*handler_fn)(struct req *r);

/* Sorted by action (bsearch). */
static const struct handler {
    const char *action;
    handler_fn fn;
} handlers[] = {
    {"ChangeAvailability", h_availability},
    {"ClearChargingProfile", h_clear_profile},
    {"GetBaseReport", h_base_report},
    {"GetChargingProfiles", h_get_profiles},
    {"GetCompositeSchedule", h_composite},
    {"GetVariables", h_get_variables},
    {"RequestStartTransaction", h_start},
    {"RequestStopTransaction", h_stop},
    {"Reset", h_reset},
    {"SetChargingProfile", h_set_profile},
    {"SetVariables", h_set_variables},
    {"TriggerMessage", h_trigger},
    {"UnlockConnector", h_unlock},
};

static int cmp_handler(const void *k, const void *e)
{
    return strcmp(k, ((const struct handler *)e)->action);
}

static void set_err(struct fg_ocpp_verror *e, enum fg_ocpp_errcode code, const char *desc)
{
    e->code = code;
    e->path[0] = '\0';
    snprintf(e->desc, sizeof(e->desc), "%s", desc);
}

static void send_error(struct sim_station *st, const struct fg_ocppj_msg *msg,
                       const struct fg_ocpp_verror *e)
{
    char desc[sizeof(e->path) + sizeof(e->desc) + 2];
    if (e->path[0])
        snprintf(desc, sizeof(desc), "%s: %s", e->path, e->desc);
    else
        snprintf(desc, sizeof(desc), "%s", e->desc);
    struct fg_buf b;
    fg_buf_init(&b, 4096);
    if (!fg_ocppj_encode_error(&b, FG_OCPPJ_CALLERROR, msg->id, e->code, desc, NULL))
        sim_write(st, b.s, b.len);
    fg_buf_clear(&b);
    cJSON *ev = sim_ev_station(st, "rejected");
    cJSON_AddStringToObject(ev, "action", msg->action);
    cJSON_AddStringToObject(ev, "code", fg_ocpp_errcode_name(e->code));
    cJSON_AddStringToObject(ev, "reason", desc);
    cJSON_AddStringToObject(ev, "id", msg->id);
    sim_ev_emit(st->sim, ev);
}

static void send_result(struct sim_station *st, const char *id, const cJSON *p)
{
    struct fg_buf b;
    fg_buf_init(&b, SIM_FRAME_MAX);
    if (!fg_ocppj_encode_result(&b, id, p))
        sim_write(st, b.s, b.len);
    fg_buf_clear(&b);
}

/* Validate, dispatch, validate our answer, send, then what follows. */
static void handle(struct sim_station *st, const struct fg_ocppj_msg *msg)
{
    enum fg_ocpp_version v = sim_version(st);
    struct req r = {.st = st, .msg = msg, .p = msg->payload};
    const struct fg_ocpp_msg_schema *req = fg_ocpp_schema_find(v, msg->action, 0);
    const struct handler *h =
        bsearch(msg->action, handlers, sizeof(handlers) / sizeof(handlers[0]),
                sizeof(handlers[0]), cmp_handler);
    if (!req)
        set_err(&r.err, FG_OCPP_NOT_IMPLEMENTED, "unknown action");
    else if (fg_ocpp_validate(req, msg->payload, &r.err))
        ; /* r.err says why */
    else if (!h)
        set_err(&r.err, FG_OCPP_NOT_SUPPORTED, "not supported by this station");
    if (r.err.code) {
        /* the event names the action too */
        send_error(st, msg, &r.err);
        return;
    }
    r.reply = cJSON_CreateObject();
    st->in_handler = true;
    if (r.reply)
        h->fn(&r);
    const struct fg_ocpp_msg_schema *res = fg_ocpp_schema_find(v, msg->action, 1);
    struct fg_ocpp_verror self;
    if (!r.reply || !res || fg_ocpp_validate(res, r.reply, &self)) {
        if (r.reply && res)
            fprintf(stderr, "ocpp_sim: BUG: our %sResponse is invalid: %s %s\n",
                    msg->action, self.path, self.desc);
        set_err(&r.err, FG_OCPP_INTERNAL_ERROR, "could not answer");
        send_error(st, msg, &r.err);
    } else {
        send_result(st, msg->id, r.reply);
        if (r.refused) {
            cJSON *ev = sim_ev_station(st, "rejected");
            cJSON_AddStringToObject(ev, "action", msg->action);
            cJSON_AddStringToObject(ev, "reason", r.refused);
            cJSON_AddItemToObject(ev, "answer", cJSON_Duplicate(r.reply, 1));
            sim_ev_emit(st->sim, ev);
        }
        if (r.after)
            r.after(&r);
    }
    cJSON_Delete(r.reply);
    st->in_handler = false;
    sim_pump(st);
}

static void delayed_run(lws_sorted_usec_list_t *sul)
{
    struct sim_delayed *d = lws_container_of(sul, struct sim_delayed, sul);
    struct sim_station *st = d->st;
    for (struct sim_delayed **pp = &st->delayed; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    struct fg_ocppj_msg m;
    fg_ocppj_msg_init(&m);
    if (st->open && !fg_ocppj_decode(d->frame, d->len, st->sim->o.dialect, &m, NULL))
        handle(st, &m);
    fg_ocppj_msg_clear(&m);
    free(d);
}

static void delay(struct sim_station *st, const struct fg_ocppj_msg *msg)
{
    struct fg_buf b;
    fg_buf_init(&b, SIM_FRAME_MAX);
    if (fg_ocppj_encode_call(&b, msg->id, msg->action, msg->payload)) {
        fg_buf_clear(&b);
        return;
    }
    struct sim_delayed *d = calloc(1, sizeof(*d) + b.len + 1);
    if (d) {
        d->st = st;
        d->len = b.len;
        memcpy(d->frame, b.s, b.len);
        d->next = st->delayed;
        st->delayed = d;
        lws_sul_schedule(st->sim->ctx, 0, &d->sul, delayed_run,
                         (lws_usec_t)st->mb_ms * 1000);
    }
    fg_buf_clear(&b);
}

void sim_csms_call(struct sim_station *st, const struct fg_ocppj_msg *msg)
{
    if (!st->sim->o.quiet) {
        cJSON *ev = sim_ev_station(st, "call_in");
        cJSON_AddStringToObject(ev, "action", msg->action);
        cJSON_AddStringToObject(ev, "id", msg->id);
        cJSON_AddItemToObject(ev, "payload", cJSON_Duplicate(msg->payload, 1));
        sim_ev_emit(st->sim, ev);
    }
    switch (st->mb) {
    case SIM_MB_SILENT:
        return;
    case SIM_MB_ERROR: {
        struct fg_ocpp_verror e;
        set_err(&e, FG_OCPP_GENERIC_ERROR, "misbehaving on purpose");
        send_error(st, msg, &e);
        return;
    }
    case SIM_MB_SLOW:
        delay(st, msg);
        return;
    default:
        handle(st, msg);
    }
}
