/* EVSEs, the EVs plugged into them, transactions, meter values and the
 * charging physics.
 *
 * One EVSE has one connector (id 1). A plug-in reports Occupied, asks the
 * CSMS to Authorize the EV's token (unless authorisation is off or a
 * RequestStartTransaction waits for this EVSE), then starts a transaction
 * (TransactionEvent Started) and sends the EV's charging needs
 * (NotifyEVChargingNeeds, ISO 15118 style).
 *
 * Physics, every tick: the EV's power ramps up at --ramp-w-per-s toward
 * min(the EVSE's limit, the EV's maximum, the rated power) and drops at once
 * when the limit falls (a compliant EV); the station-wide limit is shared in
 * proportion when the EVSEs together would exceed it. Energy accrues --speed
 * times faster than real time. At the requested energy the EV stops
 * (SuspendedEV); a limit of 0 suspends it (SuspendedEVSE). At its departure
 * time the driver stops the transaction and leaves. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

const char *sim_jstr(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(x) ? x->valuestring : "";
}

bool sim_jnum(const cJSON *o, const char *key, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x))
        return false;
    *v = x->valuedouble;
    return true;
}

static double r1(double v)
{
    return round(v * 10) / 10;
}

static bool online(const struct sim_station *st)
{
    return st->open && st->boot_accepted;
}

const char *sim_evse_status(const struct sim_evse *e)
{
    if (!e->operative)
        return "Unavailable";
    return e->plugged ? "Occupied" : "Available";
}

struct sim_evse *sim_evse_by_tx(struct sim_station *st, const char *tx_id)
{
    for (int i = 1; i <= st->n_evse; i++) {
        if (st->evse[i].txp == SIM_TX_ACTIVE && !strcmp(st->evse[i].tx_id, tx_id))
            return &st->evse[i];
    }
    return NULL;
}

static void add_now(cJSON *o, const char *key)
{
    char ts[32];
    sim_time_text(sim_now_ms(), ts);
    cJSON_AddStringToObject(o, key, ts);
}

void sim_evse_send_status(struct sim_station *st, struct sim_evse *e)
{
    cJSON *p = cJSON_CreateObject();
    add_now(p, "timestamp");
    cJSON_AddStringToObject(p, "connectorStatus", sim_evse_status(e));
    cJSON_AddNumberToObject(p, "evseId", e->id);
    cJSON_AddNumberToObject(p, "connectorId", 1);
    sim_call(st, "StatusNotification", p, false);
}

static void add_sample(cJSON *sv, double v, const char *measurand, const char *unit,
                       const char *context)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "value", v);
    cJSON_AddStringToObject(s, "context", context);
    cJSON_AddStringToObject(s, "measurand", measurand);
    cJSON *u = cJSON_AddObjectToObject(s, "unitOfMeasure");
    cJSON_AddStringToObject(u, "unit", unit);
    cJSON_AddItemToArray(sv, s);
}

/* One meterValue: power, the energy register and (with an EV) its SoC. */
static cJSON *meter_value(const struct sim_evse *e, const char *context)
{
    cJSON *mv = cJSON_CreateObject();
    add_now(mv, "timestamp");
    cJSON *sv = cJSON_AddArrayToObject(mv, "sampledValue");
    add_sample(sv, r1(e->reg_wh), "Energy.Active.Import.Register", "Wh", context);
    add_sample(sv, r1(e->power_w), "Power.Active.Import", "W", context);
    if (e->plugged && !isnan(e->soc))
        add_sample(sv, r1(e->soc), "SoC", "Percent", context);
    return mv;
}

static void emit_power(struct sim_station *st, const struct sim_evse *e)
{
    if (st->sim->o.quiet)
        return;
    cJSON *ev = sim_ev_station(st, "power");
    cJSON_AddNumberToObject(ev, "evse", e->id);
    cJSON_AddNumberToObject(ev, "w", r1(e->power_w));
    cJSON_AddNumberToObject(ev, "energy_wh", r1(e->reg_wh - e->tx_reg0_wh));
    cJSON_AddNumberToObject(ev, "register_wh", r1(e->reg_wh));
    if (!isnan(e->soc))
        cJSON_AddNumberToObject(ev, "soc", r1(e->soc));
    cJSON_AddStringToObject(ev, "state", e->cstate);
    sim_ev_emit(st->sim, ev);
}

void sim_evse_send_meter(struct sim_station *st, struct sim_evse *e, const char *context)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "evseId", e->id);
    cJSON *arr = cJSON_AddArrayToObject(p, "meterValue");
    cJSON_AddItemToArray(arr, meter_value(e, context));
    sim_call(st, "MeterValues", p, false);
    emit_power(st, e);
}

static void emit_tx(struct sim_station *st, const struct sim_evse *e, const char *event,
                    const char *detail)
{
    cJSON *ev = sim_ev_station(st, "tx");
    cJSON_AddNumberToObject(ev, "evse", e->id);
    cJSON_AddStringToObject(ev, "event", event);
    cJSON_AddStringToObject(ev, "tx", e->tx_id);
    if (detail)
        cJSON_AddStringToObject(ev, "detail", detail);
    cJSON_AddNumberToObject(ev, "energy_wh", r1(e->reg_wh - e->tx_reg0_wh));
    sim_ev_emit(st->sim, ev);
}

/* A TransactionEvent of e's transaction; the caller adds what the event
 * needs. Generated while offline: offline=true (E04). */
static cJSON *tx_event(struct sim_station *st, struct sim_evse *e, const char *type,
                       const char *trigger, const char *context)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "eventType", type);
    add_now(p, "timestamp");
    cJSON_AddStringToObject(p, "triggerReason", trigger);
    cJSON_AddNumberToObject(p, "seqNo", e->seq_no++);
    if (!online(st))
        cJSON_AddBoolToObject(p, "offline", true);
    cJSON *ti = cJSON_AddObjectToObject(p, "transactionInfo");
    cJSON_AddStringToObject(ti, "transactionId", e->tx_id);
    cJSON_AddStringToObject(ti, "chargingState", e->cstate);
    if (e->tx_remote)
        cJSON_AddNumberToObject(ti, "remoteStartId", e->tx_remote_id);
    cJSON *evse = cJSON_AddObjectToObject(p, "evse");
    cJSON_AddNumberToObject(evse, "id", e->id);
    cJSON_AddNumberToObject(evse, "connectorId", 1);
    if (context) {
        cJSON *arr = cJSON_AddArrayToObject(p, "meterValue");
        cJSON_AddItemToArray(arr, meter_value(e, context));
    }
    return p;
}

void sim_evse_send_tx_update(struct sim_station *st, struct sim_evse *e,
                             const char *trigger)
{
    if (e->txp != SIM_TX_ACTIVE)
        return;
    const char *ctx = !strcmp(trigger, "Trigger") ? "Trigger" : "Sample.Periodic";
    sim_call(st, "TransactionEvent", tx_event(st, e, "Updated", trigger, ctx), false);
    e->last_tx_update_ms = sim_now_ms();
}

/* ISO 15118 style charging needs; 2.1 adds the V2X parameters. */
static void send_needs(struct sim_station *st, struct sim_evse *e)
{
    const struct sim_opts *o = &st->sim->o;
    double per_amp = o->phases * o->voltage;
    bool v21 = o->dialect == FG_OCPPJ_21;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "evseId", e->id);
    if (v21)
        add_now(p, "timestamp");
    cJSON *n = cJSON_AddObjectToObject(p, "chargingNeeds");
    const char *ac = o->phases == 1 ? "AC_single_phase" : "AC_three_phase";
    cJSON_AddStringToObject(n, "requestedEnergyTransfer",
                            v21 && e->ev.v2x ? "AC_BPT" : ac);
    if (e->ev.departure_ms) {
        char ts[32];
        sim_time_text(e->ev.departure_ms, ts);
        cJSON_AddStringToObject(n, "departureTime", ts);
    }
    /* integers in 2.0.1, numbers in 2.1 */
    cJSON *acp = cJSON_AddObjectToObject(n, "acChargingParameters");
    cJSON_AddNumberToObject(acp, "energyAmount",
                            v21 ? r1(e->ev.need_wh) : round(e->ev.need_wh));
    cJSON_AddNumberToObject(acp, "evMinCurrent", 0);
    cJSON_AddNumberToObject(acp, "evMaxCurrent",
                            v21 ? r1(e->ev.max_w / per_amp)
                                : ceil(e->ev.max_w / per_amp - 0.05));
    cJSON_AddNumberToObject(acp, "evMaxVoltage", round(o->voltage));
    if (v21) {
        cJSON *modes = cJSON_AddArrayToObject(n, "availableEnergyTransfer");
        cJSON_AddItemToArray(modes, cJSON_CreateString(ac));
        if (e->ev.v2x)
            cJSON_AddItemToArray(modes, cJSON_CreateString("AC_BPT"));
        cJSON_AddStringToObject(n, "controlMode", "ScheduledControl");
        cJSON *v2x = cJSON_AddObjectToObject(n, "v2xChargingParameters");
        cJSON_AddNumberToObject(v2x, "minChargePower", 0);
        cJSON_AddNumberToObject(v2x, "maxChargePower", r1(e->ev.max_w));
        if (e->ev.v2x) {
            cJSON_AddNumberToObject(v2x, "minDischargePower", 0);
            cJSON_AddNumberToObject(v2x, "maxDischargePower", r1(e->ev.max_w));
        }
        cJSON_AddNumberToObject(v2x, "evTargetEnergyRequest", r1(e->ev.need_wh));
        double cap_left = e->ev.capacity_wh * (100 - e->ev.soc0) / 100;
        cJSON_AddNumberToObject(v2x, "evMaxEnergyRequest", r1(fmax(cap_left, 0)));
        cJSON_AddNumberToObject(v2x, "evMinEnergyRequest", 0);
    }
    sim_call(st, "NotifyEVChargingNeeds", p, false);
}

static void random_uuid(struct sim *s, char out[SIM_TX_ID_MAX + 1])
{
    uint64_t a = sim_rand(s), b = sim_rand(s);
    snprintf(out, SIM_TX_ID_MAX + 1, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             (unsigned)((b >> 48) & 0x3fff) | 0x8000,
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* A TxProfile that came with RequestStartTransaction, stored once the
 * transaction has its id. */
static void store_remote_profile(struct sim_station *st, struct sim_evse *e)
{
    cJSON *cp = e->remote_profile;
    e->remote_profile = NULL;
    if (!cp)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(cp, "transactionId");
    cJSON_AddStringToObject(cp, "transactionId", e->tx_id);
    struct sim_profile p;
    const char *reason = "";
    char detail[160];
    if (sim_profile_parse(st, e->id, cp, &p, &reason, detail, sizeof(detail)) ||
        sim_profile_store(st, &p))
        sim_ev_error(st->sim, st, "RequestStartTransaction profile not applied: %s %s",
                     reason, detail);
    sim_profile_clear(&p);
    cJSON_Delete(cp);
}

static void start_tx(struct sim_station *st, struct sim_evse *e, const char *trigger,
                     const char *token, const char *type)
{
    e->txp = SIM_TX_ACTIVE;
    random_uuid(st->sim, e->tx_id);
    e->tx_start_ms = sim_now_ms();
    e->seq_no = 0;
    e->cstate = "EVConnected";
    e->tx_reg0_wh = e->reg_wh;
    e->power_w = 0;
    e->last_phys_ms = sim_mono_ms();
    e->last_tx_update_ms = e->tx_start_ms;
    cJSON *p = tx_event(st, e, "Started", trigger, "Transaction.Begin");
    cJSON *tok = cJSON_AddObjectToObject(p, "idToken");
    cJSON_AddStringToObject(tok, "idToken", token);
    cJSON_AddStringToObject(tok, "type", type);
    sim_call(st, "TransactionEvent", p, false);
    emit_tx(st, e, "Started", trigger);
    store_remote_profile(st, e);
    send_needs(st, e);
    sim_evse_tick(st);
}

static void end_tx(struct sim_station *st, struct sim_evse *e, const char *trigger,
                   const char *reason)
{
    if (e->txp != SIM_TX_ACTIVE) {
        e->txp = SIM_TX_NONE;
        return;
    }
    e->power_w = 0;
    e->cstate =
        e->plugged && strcmp(trigger, "EVCommunicationLost") ? "EVConnected" : "Idle";
    cJSON *p = tx_event(st, e, "Ended", trigger, "Transaction.End");
    cJSON *ti = cJSON_GetObjectItemCaseSensitive(p, "transactionInfo");
    cJSON_AddStringToObject(ti, "stoppedReason", reason);
    sim_call(st, "TransactionEvent", p, false);
    emit_tx(st, e, "Ended", reason);
    e->txp = SIM_TX_NONE;
    e->tx_remote = false;
    sim_profile_drop_tx(st, e->tx_id);
    if (e->inop_pending) {
        e->inop_pending = false;
        e->operative = false;
        sim_evse_send_status(st, e);
    }
    if (st->reset_pending) {
        bool busy = false;
        for (int i = 1; i <= st->n_evse; i++)
            busy |= st->evse[i].txp == SIM_TX_ACTIVE;
        if (!busy) {
            st->reset_pending = false;
            sim_station_reset(st);
        }
    }
    sim_evse_tick(st);
}

int sim_evse_plug(struct sim_station *st, int evse_id, const struct sim_ev *ev, char *msg,
                  size_t n)
{
    if (evse_id < 1 || evse_id > st->n_evse) {
        snprintf(msg, n, "no EVSE %d (1..%d)", evse_id, st->n_evse);
        return FG_EINVAL;
    }
    struct sim_evse *e = &st->evse[evse_id];
    if (e->plugged) {
        snprintf(msg, n, "EVSE %d already has an EV", evse_id);
        return FG_ESTATE;
    }
    if (!e->operative) {
        snprintf(msg, n, "EVSE %d is Unavailable", evse_id);
        return FG_ESTATE;
    }
    e->plugged = true;
    e->plug_gen++;
    e->ev = *ev;
    e->soc = ev->soc0;
    sim_evse_send_status(st, e);
    if (e->remote_pending && sim_now_ms() < e->remote_until_ms) {
        e->remote_pending = false;
        e->tx_remote = true;
        e->tx_remote_id = e->remote_id;
        start_tx(st, e, "RemoteStart", e->remote_token, e->remote_type);
    } else if (st->sim->o.no_authorize || !st->auth_enabled) {
        start_tx(st, e, "CablePluggedIn", ev->token, ev->token_type);
    } else if (!online(st)) {
        /* Offline: authorised locally; the events go out when back. */
        start_tx(st, e, "CablePluggedIn", ev->token, ev->token_type);
    } else {
        e->txp = SIM_TX_AUTHORIZING;
        cJSON *p = cJSON_CreateObject();
        cJSON *tok = cJSON_AddObjectToObject(p, "idToken");
        cJSON_AddStringToObject(tok, "idToken", ev->token);
        cJSON_AddStringToObject(tok, "type", ev->token_type);
        if (sim_call_for(st, "Authorize", p, e->id, e->plug_gen))
            e->txp = SIM_TX_NONE;
    }
    return 0;
}

void sim_evse_authorized(struct sim_station *st, int evse_id, unsigned plug_gen, bool ok,
                         const char *why)
{
    if (evse_id < 1 || evse_id > st->n_evse)
        return;
    struct sim_evse *e = &st->evse[evse_id];
    if (!e->plugged || e->plug_gen != plug_gen || e->txp != SIM_TX_AUTHORIZING)
        return;
    if (ok) {
        start_tx(st, e, "Authorized", e->ev.token, e->ev.token_type);
        return;
    }
    e->txp = SIM_TX_NONE;
    cJSON *ev = sim_ev_station(st, "rejected");
    cJSON_AddStringToObject(ev, "action", "Authorize");
    cJSON_AddNumberToObject(ev, "evse", e->id);
    cJSON_AddStringToObject(ev, "reason", why);
    cJSON_AddStringToObject(ev, "detail", "transaction not started");
    sim_ev_emit(st->sim, ev);
}

void sim_evse_tx_token_status(struct sim_station *st, const char *tx_id,
                              const char *status)
{
    struct sim_evse *e = sim_evse_by_tx(st, tx_id);
    if (!e || !strcmp(status, "Accepted"))
        return;
    cJSON *ev = sim_ev_station(st, "rejected");
    cJSON_AddStringToObject(ev, "action", "TransactionEvent");
    cJSON_AddNumberToObject(ev, "evse", e->id);
    cJSON_AddStringToObject(ev, "reason", status);
    cJSON_AddStringToObject(ev, "detail", "idToken not accepted: transaction stopped");
    sim_ev_emit(st->sim, ev);
    end_tx(st, e, "Deauthorized", "DeAuthorized");
}

int sim_evse_unplug(struct sim_station *st, int evse_id, char *msg, size_t n)
{
    if (evse_id < 1 || evse_id > st->n_evse) {
        snprintf(msg, n, "no EVSE %d (1..%d)", evse_id, st->n_evse);
        return FG_EINVAL;
    }
    struct sim_evse *e = &st->evse[evse_id];
    if (!e->plugged) {
        snprintf(msg, n, "EVSE %d has no EV", evse_id);
        return FG_ESTATE;
    }
    e->plugged = false;
    end_tx(st, e, "EVCommunicationLost", "EVDisconnected");
    e->txp = SIM_TX_NONE;
    e->power_w = 0;
    e->soc = NAN;
    sim_evse_send_status(st, e);
    return 0;
}

int sim_evse_remote_start(struct sim_station *st, int evse_id, int remote_id,
                          const char *token, const char *type)
{
    struct sim_evse *e = &st->evse[evse_id];
    if (!e->operative || e->txp != SIM_TX_NONE)
        return FG_ESTATE;
    if (e->plugged) {
        e->tx_remote = true;
        e->tx_remote_id = remote_id;
        start_tx(st, e, "RemoteStart", token, type);
        return 0;
    }
    e->remote_pending = true;
    e->remote_id = remote_id;
    snprintf(e->remote_token, sizeof(e->remote_token), "%s", token);
    snprintf(e->remote_type, sizeof(e->remote_type), "%s", type);
    e->remote_until_ms = sim_now_ms() + (int64_t)st->ev_timeout_s * 1000;
    return 0;
}

int sim_evse_remote_stop(struct sim_station *st, const char *tx_id)
{
    struct sim_evse *e = sim_evse_by_tx(st, tx_id);
    if (!e)
        return FG_ENOTFOUND;
    end_tx(st, e, "RemoteStop", "Remote");
    return 0;
}

void sim_evse_end_all(struct sim_station *st, const char *trigger, const char *reason)
{
    for (int i = 1; i <= st->n_evse; i++) {
        if (st->evse[i].txp == SIM_TX_ACTIVE)
            end_tx(st, &st->evse[i], trigger, reason);
        else
            st->evse[i].txp = SIM_TX_NONE;
    }
}

const char *sim_evse_set_operative(struct sim_station *st, struct sim_evse *e, bool op)
{
    if (!op && e->txp == SIM_TX_ACTIVE) {
        e->inop_pending = true;
        return "Scheduled";
    }
    e->inop_pending = false;
    if (e->operative != op) {
        e->operative = op;
        sim_evse_send_status(st, e);
    }
    return "Accepted";
}

/* ---- physics ------------------------------------------------------------------ */

static double min_nan(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : fmin(a, b);
}

static void report_limit(struct sim_station *st, struct sim_evse *e, double lim)
{
    if (e->limit_reported &&
        (isnan(lim) ? isnan(e->limit_w)
                    : !isnan(e->limit_w) && fabs(lim - e->limit_w) < 0.05))
        return;
    e->limit_w = lim;
    e->limit_reported = true;
    cJSON *ev = sim_ev_station(st, "limit");
    cJSON_AddNumberToObject(ev, "evse", e->id);
    if (isnan(lim))
        cJSON_AddNullToObject(ev, "limit_w");
    else
        cJSON_AddNumberToObject(ev, "limit_w", r1(lim));
    sim_ev_emit(st->sim, ev);
}

/* Integrate energy over the (monotonic) time since the last tick at the
 * power held, times --speed; returns that real time in s (the ramp's). */
static double accrue(struct sim_station *st, struct sim_evse *e, int64_t mono_ms)
{
    double dt = (double)(mono_ms - e->last_phys_ms) / 1000.0;
    e->last_phys_ms = mono_ms;
    if (dt > 60)
        dt = 60; /* a stalled loop does not make a jump */
    if (e->txp != SIM_TX_ACTIVE || dt <= 0)
        return dt > 0 ? dt : 0;
    e->reg_wh += e->power_w * dt / 3600.0 * st->sim->o.speed;
    double delivered = e->reg_wh - e->tx_reg0_wh;
    if (e->ev.capacity_wh > 0)
        e->soc = fmin(100, e->ev.soc0 + delivered / e->ev.capacity_wh * 100);
    return dt;
}

static void set_state(struct sim_station *st, struct sim_evse *e, const char *cs)
{
    if (!strcmp(e->cstate, cs))
        return;
    e->cstate = cs;
    sim_evse_send_tx_update(st, e, "ChargingStateChanged");
    emit_tx(st, e, "Updated", cs);
}

void sim_evse_tick(struct sim_station *st)
{
    if (st->in_tick)
        return; /* a transaction ended inside this tick */
    st->in_tick = true;
    const struct sim_opts *o = &st->sim->o;
    int64_t now = sim_now_ms(), mono = sim_mono_ms();
    double station = sim_limit_at(st, 0, now, false);
    double want[SIM_EVSE_MAX + 1] = {0}, dt[SIM_EVSE_MAX + 1] = {0}, sum = 0;
    for (int i = 1; i <= st->n_evse; i++) {
        struct sim_evse *e = &st->evse[i];
        double own = st->smart_enabled ? sim_limit_at(st, i, now, true) : NAN;
        report_limit(st, e, st->smart_enabled ? min_nan(station, own) : NAN);
        dt[i] = accrue(st, e, mono);
        if (e->txp != SIM_TX_ACTIVE)
            continue;
        if (e->ev.departure_ms && now >= e->ev.departure_ms) {
            end_tx(st, e, "StopAuthorized", "Local");
            e->plugged = false;
            e->soc = NAN;
            sim_evse_send_status(st, e);
            continue;
        }
        bool full = e->reg_wh - e->tx_reg0_wh >= e->ev.need_wh ||
                    (!isnan(e->soc) && e->soc >= 100);
        want[i] = full ? 0 : fmax(0, min_nan(own, fmin(e->ev.max_w, o->rated_w)));
        sum += want[i];
    }
    double share = st->smart_enabled && !isnan(station) && sum > station
                       ? fmax(station, 0) / sum
                       : 1.0;
    for (int i = 1; i <= st->n_evse; i++) {
        struct sim_evse *e = &st->evse[i];
        if (e->txp != SIM_TX_ACTIVE)
            continue;
        double target = want[i] * share;
        if (target < e->power_w)
            e->power_w = target;
        else
            e->power_w = fmin(target, e->power_w + o->ramp_w_per_s * dt[i]);
        bool full = e->reg_wh - e->tx_reg0_wh >= e->ev.need_wh ||
                    (!isnan(e->soc) && e->soc >= 100);
        set_state(st, e,
                  full           ? "SuspendedEV"
                  : target < 0.5 ? "SuspendedEVSE"
                                 : "Charging");
    }
    st->in_tick = false;
}

void sim_evse_meter_tick(struct sim_station *st)
{
    int64_t now = sim_now_ms();
    for (int i = 1; i <= st->n_evse; i++) {
        struct sim_evse *e = &st->evse[i];
        if (e->txp != SIM_TX_ACTIVE)
            continue;
        sim_evse_send_meter(st, e, "Sample.Periodic");
        if (st->tx_updated_s > 0 &&
            now - e->last_tx_update_ms >= (int64_t)st->tx_updated_s * 1000)
            sim_evse_send_tx_update(st, e, "MeterValuePeriodic");
    }
}
