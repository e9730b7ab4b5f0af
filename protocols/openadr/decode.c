/* Decoding what a VEN receives: each payload walked in its schema's order. */
#include <stdint.h>
#include <string.h>

#include <libxml/tree.h>

#include "openadr_int.h"

/* The next child, which must be ns:name (else return the error). */
#define REQ(ns, name)                                                                    \
    ({                                                                                   \
        xmlNodePtr n_ = cur_req(c, ns, name);                                            \
        if (!n_)                                                                         \
            return r->rc;                                                                \
        n_;                                                                              \
    })
#define TRY(x)                                                                           \
    do {                                                                                 \
        if (x)                                                                           \
            return r->rc;                                                                \
    } while (0)

typedef int (*walk_fn)(struct rd *r, struct cur *c, void *out);

/* Enter el, read its children with fn, check none is left over. */
static int walk(struct rd *r, xmlNodePtr el, walk_fn fn, void *out)
{
    xmlNodePtr plen = rd_enter(r, el);
    struct cur c = cur_of(r, el);
    TRY(fn(r, &c, out));
    TRY(cur_end(&c));
    rd_leave(r, plen);
    return 0;
}

static size_t count(const struct cur *c, enum ns ns, const char *name)
{
    struct cur k = *c;
    size_t n = 0;
    while (cur_opt(&k, ns, name))
        n++;
    return n;
}

static void *alloc_n(struct rd *r, size_t n, size_t size)
{
    void *p = NULL;
    if (n && n <= SIZE_MAX / size)
        p = arena_alloc(&r->m->arena, n * size);
    if (!p)
        rd_fail(r, FG_ENOMEM, "out of memory");
    return p;
}

/* Consecutive ns:name children as strings; at least min of them. */
static int strs(struct rd *r, struct cur *c, enum ns ns, const char *name, size_t min,
                struct fg_openadr_strs *out)
{
    size_t n = count(c, ns, name);
    if (n < min) {
        cur_req(c, ns, name);
        return r->rc;
    }
    if (!n)
        return 0;
    out->v = alloc_n(r, n, sizeof *out->v);
    if (!out->v)
        return r->rc;
    for (size_t i = 0; i < n; i++)
        TRY(rd_str(r, cur_opt(c, ns, name), &out->v[i]));
    out->n = n;
    return 0;
}

/* Consecutive ns:name children, each walked with fn into an array of n
 * elements of size bytes; at least min of them. */
static int array(struct rd *r, struct cur *c, enum ns ns, const char *name, size_t min,
                 size_t size, walk_fn fn, void **out, size_t *n_out)
{
    size_t n = count(c, ns, name);
    if (n < min) {
        cur_req(c, ns, name);
        return r->rc;
    }
    *n_out = 0;
    if (!n)
        return 0;
    unsigned char *v = alloc_n(r, n, size);
    if (!v)
        return r->rc;
    for (size_t i = 0; i < n; i++)
        TRY(walk(r, cur_opt(c, ns, name), fn, v + i * size));
    *out = v;
    *n_out = n;
    return 0;
}

/* Index of the token in names, or an error naming what was found. */
static int lookup(struct rd *r, xmlNodePtr el, const char *const *names, size_t n,
                  int *out)
{
    const char *s;
    TRY(rd_token(r, el, &s));
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    xmlNodePtr plen = rd_enter(r, el);
    rd_fail(r, FG_EINVAL, "'%s' is not a known %s", s, (const char *)el->name);
    rd_leave(r, plen);
    return r->rc;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- shared parts ------------------------------------------------------------- */

static int ei_response(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_ei_response *e = out;
    const char *code;
    xmlNodePtr n = REQ(NS_EI, "responseCode");
    TRY(rd_token(r, n, &code));
    if (strlen(code) != 3 || strspn(code, "0123456789") != 3) {
        xmlNodePtr plen = rd_enter(r, n);
        rd_fail(r, FG_EINVAL, "responseCode '%s' is not 3 digits", code);
        rd_leave(r, plen);
        return r->rc;
    }
    e->code = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    if ((n = cur_opt(c, NS_EI, "responseDescription")))
        TRY(rd_str(r, n, &e->description));
    return rd_str(r, REQ(NS_PYLD, "requestID"), &e->request_id);
}

static int opt_str(struct rd *r, struct cur *c, enum ns ns, const char *name,
                   const char **out)
{
    xmlNodePtr n = cur_opt(c, ns, name);
    return n ? rd_str(r, n, out) : 0;
}

static int target(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_target *t = out;
    static const struct {
        enum ns ns;
        const char *name;
    } skipped[] = {
        {NS_POWER, "aggregatedPnode"}, {NS_POWER, "endDeviceAsset"},
        {NS_POWER, "meterAsset"},      {NS_POWER, "pnode"},
        {NS_EMIX, "serviceArea"},      {NS_POWER, "serviceDeliveryPoint"},
        {NS_POWER, "serviceLocation"}, {NS_POWER, "transportInterface"},
    };
    for (size_t i = 0; i < N(skipped); i++)
        cur_skip(c, skipped[i].ns, skipped[i].name);
    TRY(strs(r, c, NS_EI, "groupID", 0, &t->group_ids));
    TRY(strs(r, c, NS_EI, "groupName", 0, &t->group_names));
    TRY(strs(r, c, NS_EI, "resourceID", 0, &t->resource_ids));
    TRY(strs(r, c, NS_EI, "venID", 0, &t->ven_ids));
    return strs(r, c, NS_EI, "partyID", 0, &t->party_ids);
}

/* An emix:itemBase substitute: its parts are in its own namespace. */
static int item(struct rd *r, xmlNodePtr el, struct fg_openadr_item *it)
{
    xmlNodePtr plen = rd_enter(r, el);
    for (xmlNodePtr n = el->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)n->name;
        if (!strcmp(name, "itemDescription"))
            TRY(rd_str(r, n, &it->description));
        else if (!strcmp(name, "itemUnits"))
            TRY(rd_token(r, n, &it->units));
        else if (is_el(n, NS_SCALE, "siScaleCode"))
            TRY(rd_token(r, n, &it->scale));
    }
    rd_leave(r, plen);
    size_t k = strlen((const char *)el->name);
    char *kind = arena_alloc(&r->m->arena, k + 1);
    if (!kind)
        return rd_fail(r, FG_ENOMEM, "out of memory");
    memcpy(kind, el->name, k + 1);
    it->kind = kind;
    return 0;
}

/* xcal:properties of an active period, a report interval or an opt window. */
struct props {
    int64_t dtstart, duration;
    bool has_start_after, has_notification, has_ramp_up, has_recovery;
    int64_t start_after, notification, ramp_up, recovery;
};

static int tolerate(struct rd *r, struct cur *c, void *out)
{
    struct props *p = out;
    xmlNodePtr n = cur_opt(c, NS_XCAL, "startafter");
    if (!n)
        return 0;
    p->has_start_after = true;
    return rd_duration_text(r, n, &p->start_after);
}

static int tolerance(struct rd *r, struct cur *c, void *out)
{
    return walk(r, REQ(NS_XCAL, "tolerate"), tolerate, out);
}

static int properties(struct rd *r, struct cur *c, void *out)
{
    struct props *p = out;
    xmlNodePtr n;
    TRY(rd_dtstart(r, REQ(NS_XCAL, "dtstart"), &p->dtstart));
    TRY(rd_duration_prop(r, REQ(NS_XCAL, "duration"), &p->duration));
    if ((n = cur_opt(c, NS_XCAL, "tolerance")))
        TRY(walk(r, n, tolerance, p));
    if ((n = cur_opt(c, NS_EI, "x-eiNotification"))) {
        p->has_notification = true;
        TRY(rd_duration_prop(r, n, &p->notification));
    }
    if ((n = cur_opt(c, NS_EI, "x-eiRampUp"))) {
        p->has_ramp_up = true;
        TRY(rd_duration_prop(r, n, &p->ramp_up));
    }
    if ((n = cur_opt(c, NS_EI, "x-eiRecovery"))) {
        p->has_recovery = true;
        TRY(rd_duration_prop(r, n, &p->recovery));
    }
    return 0;
}

static int payload_float(struct rd *r, struct cur *c, void *out)
{
    return rd_float(r, REQ(NS_EI, "value"), out);
}

/* ei:signalPayload or ei:currentValue: a payloadFloat. */
static int float_holder(struct rd *r, struct cur *c, void *out)
{
    return walk(r, REQ(NS_EI, "payloadFloat"), payload_float, out);
}

static int uid(struct rd *r, struct cur *c, void *out)
{
    return rd_str(r, REQ(NS_XCAL, "text"), out);
}

/* ---- events ------------------------------------------------------------------- */

static int interval(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_interval *iv = out;
    xmlNodePtr n;
    if ((n = cur_opt(c, NS_XCAL, "dtstart"))) {
        iv->has_dtstart = true;
        TRY(rd_dtstart(r, n, &iv->dtstart));
    }
    if ((n = cur_opt(c, NS_XCAL, "duration")))
        TRY(rd_duration_prop(r, n, &iv->duration_s));
    if ((n = cur_opt(c, NS_XCAL, "uid")))
        TRY(walk(r, n, uid, &iv->uid));
    TRY(walk(r, REQ(NS_EI, "signalPayload"), float_holder, &iv->value));
    /* More payloads are allowed by the schema; an event signal has one. */
    cur_skip(c, NS_EI, "signalPayload");
    return 0;
}

static int intervals(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_signal *s = out;
    return array(r, c, NS_EI, "interval", 1, sizeof *s->intervals, interval,
                 (void **)&s->intervals, &s->n_intervals);
}

static const struct {
    const char *name;
    enum fg_openadr_signal_name id;
} signal_names[] = {
    {"SIMPLE", FG_OADR_SIGNAL_SIMPLE},
    {"simple", FG_OADR_SIGNAL_SIMPLE},
    {"ELECTRICITY_PRICE", FG_OADR_SIGNAL_ELECTRICITY_PRICE},
    {"ENERGY_PRICE", FG_OADR_SIGNAL_ENERGY_PRICE},
    {"DEMAND_CHARGE", FG_OADR_SIGNAL_DEMAND_CHARGE},
    {"BID_PRICE", FG_OADR_SIGNAL_BID_PRICE},
    {"BID_LOAD", FG_OADR_SIGNAL_BID_LOAD},
    {"BID_ENERGY", FG_OADR_SIGNAL_BID_ENERGY},
    {"CHARGE_STATE", FG_OADR_SIGNAL_CHARGE_STATE},
    {"LOAD_DISPATCH", FG_OADR_SIGNAL_LOAD_DISPATCH},
    {"LOAD_CONTROL", FG_OADR_SIGNAL_LOAD_CONTROL},
};

static const char *const signal_types[] = {
    [FG_OADR_SIGTYPE_DELTA] = "delta",
    [FG_OADR_SIGTYPE_LEVEL] = "level",
    [FG_OADR_SIGTYPE_MULTIPLIER] = "multiplier",
    [FG_OADR_SIGTYPE_PRICE] = "price",
    [FG_OADR_SIGTYPE_PRICE_MULTIPLIER] = "priceMultiplier",
    [FG_OADR_SIGTYPE_PRICE_RELATIVE] = "priceRelative",
    [FG_OADR_SIGTYPE_SETPOINT] = "setpoint",
    [FG_OADR_SIGTYPE_LOAD_CONTROL_CAPACITY] = "x-loadControlCapacity",
    [FG_OADR_SIGTYPE_LOAD_CONTROL_LEVEL_OFFSET] = "x-loadControlLevelOffset",
    [FG_OADR_SIGTYPE_LOAD_CONTROL_PERCENT_OFFSET] = "x-loadControlPercentOffset",
    [FG_OADR_SIGTYPE_LOAD_CONTROL_SETPOINT] = "x-loadControlSetpoint",
};

static int signal_name(struct rd *r, xmlNodePtr el, struct fg_openadr_signal *s)
{
    TRY(rd_token(r, el, &s->name));
    for (size_t i = 0; i < N(signal_names); i++)
        if (!strcmp(s->name, signal_names[i].name)) {
            s->name_id = signal_names[i].id;
            return 0;
        }
    if (strncmp(s->name, "x-", 2) == 0 && s->name[2] && s->name[2] != ' ') {
        s->name_id = FG_OADR_SIGNAL_OTHER;
        return 0;
    }
    xmlNodePtr plen = rd_enter(r, el);
    rd_fail(r, FG_EINVAL, "'%s' is not a signalName (nor an x- extension)", s->name);
    rd_leave(r, plen);
    return r->rc;
}

static int event_signal(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_signal *s = out;
    xmlNodePtr n;
    TRY(walk(r, REQ(NS_STRM, "intervals"), intervals, s));
    if ((n = cur_opt(c, NS_EI, "eiTarget"))) {
        s->has_target = true;
        TRY(walk(r, n, target, &s->target));
    }
    TRY(signal_name(r, REQ(NS_EI, "signalName"), s));
    int t;
    TRY(lookup(r, REQ(NS_EI, "signalType"), signal_types, N(signal_types), &t));
    s->type = (enum fg_openadr_signal_type)t;
    TRY(rd_str(r, REQ(NS_EI, "signalID"), &s->id));
    if (c->next && !is_el(c->next, NS_EI, "currentValue")) {
        s->has_unit = true;
        TRY(item(r, cur_any(c), &s->unit));
    }
    if ((n = cur_opt(c, NS_EI, "currentValue"))) {
        s->has_current = true;
        TRY(walk(r, n, float_holder, &s->current));
    }
    return 0;
}

static int event_signals(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_event *ev = out;
    TRY(array(r, c, NS_EI, "eiEventSignal", 1, sizeof *ev->signals, event_signal,
              (void **)&ev->signals, &ev->n_signals));
    cur_skip(c, NS_EI, "eiEventBaseline");
    return 0;
}

static int market_context(struct rd *r, struct cur *c, void *out)
{
    return rd_token(r, REQ(NS_EMIX, "marketContext"), out);
}

static const char *const event_status[] = {
    [FG_OADR_STATUS_NONE] = "none",           [FG_OADR_STATUS_FAR] = "far",
    [FG_OADR_STATUS_NEAR] = "near",           [FG_OADR_STATUS_ACTIVE] = "active",
    [FG_OADR_STATUS_COMPLETED] = "completed", [FG_OADR_STATUS_CANCELLED] = "cancelled",
};

static int event_descriptor(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_event *ev = out;
    xmlNodePtr n;
    TRY(rd_str(r, REQ(NS_EI, "eventID"), &ev->event_id));
    TRY(rd_uint(r, REQ(NS_EI, "modificationNumber"), &ev->modification_number));
    if ((n = cur_opt(c, NS_EI, "modificationDateTime"))) {
        ev->has_modification_time = true;
        TRY(rd_datetime_text(r, n, &ev->modification_time));
    }
    TRY(opt_str(r, c, NS_EI, "modificationReason", &ev->modification_reason));
    if ((n = cur_opt(c, NS_EI, "priority"))) {
        ev->has_priority = true;
        TRY(rd_uint(r, n, &ev->priority));
    }
    TRY(walk(r, REQ(NS_EI, "eiMarketContext"), market_context, &ev->market_context));
    TRY(rd_datetime_text(r, REQ(NS_EI, "createdDateTime"), &ev->created));
    int st;
    TRY(lookup(r, REQ(NS_EI, "eventStatus"), event_status, N(event_status), &st));
    ev->status = (enum fg_openadr_event_status)st;
    if ((n = cur_opt(c, NS_EI, "testEvent"))) {
        TRY(rd_token(r, n, &ev->test_event));
        ev->test = strcmp(ev->test_event, "false") != 0;
    }
    return opt_str(r, c, NS_EI, "vtnComment", &ev->vtn_comment);
}

static int active_period(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_event *ev = out;
    struct props p = {0};
    TRY(walk(r, REQ(NS_XCAL, "properties"), properties, &p));
    REQ(NS_XCAL, "components");
    ev->dtstart = p.dtstart;
    ev->duration_s = p.duration;
    ev->has_start_after = p.has_start_after;
    ev->start_after_s = p.start_after;
    ev->has_notification = p.has_notification;
    ev->notification_s = p.notification;
    ev->has_ramp_up = p.has_ramp_up;
    ev->ramp_up_s = p.ramp_up;
    ev->has_recovery = p.has_recovery;
    ev->recovery_s = p.recovery;
    return 0;
}

static int ei_event(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_event *ev = out;
    TRY(walk(r, REQ(NS_EI, "eventDescriptor"), event_descriptor, ev));
    TRY(walk(r, REQ(NS_EI, "eiActivePeriod"), active_period, ev));
    TRY(walk(r, REQ(NS_EI, "eiEventSignals"), event_signals, ev));
    return walk(r, REQ(NS_EI, "eiTarget"), target, &ev->target);
}

static const char *const response_required[] = {"never", "always"};

static int oadr_event(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_event *ev = out;
    TRY(walk(r, REQ(NS_EI, "eiEvent"), ei_event, ev));
    int rr;
    TRY(lookup(r, REQ(NS_OADR, "oadrResponseRequired"), response_required,
               N(response_required), &rr));
    ev->response_required = rr == 1;
    return 0;
}

static int distribute_event(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_distribute_event *d = out;
    xmlNodePtr n;
    if ((n = cur_opt(c, NS_EI, "eiResponse"))) {
        d->has_response = true;
        TRY(walk(r, n, ei_response, &d->response));
    }
    TRY(rd_str(r, REQ(NS_PYLD, "requestID"), &d->request_id));
    TRY(rd_str(r, REQ(NS_EI, "vtnID"), &d->vtn_id));
    return array(r, c, NS_OADR, "oadrEvent", 0, sizeof *d->events, oadr_event,
                 (void **)&d->events, &d->n_events);
}

/* ---- registration ----------------------------------------------------------- */

static int transports(struct rd *r, struct cur *c, void *out)
{
    const char **name = out;
    return rd_token(r, REQ(NS_OADR, "oadrTransportName"), name);
}

static int profile(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_profile *p = out;
    TRY(rd_token(r, REQ(NS_OADR, "oadrProfileName"), &p->name));
    xmlNodePtr ts = REQ(NS_OADR, "oadrTransports");
    xmlNodePtr plen = rd_enter(r, ts);
    struct cur k = cur_of(r, ts);
    const char **names = NULL;
    size_t n;
    TRY(array(r, &k, NS_OADR, "oadrTransport", 1, sizeof *names, transports,
              (void **)&names, &n));
    TRY(cur_end(&k));
    rd_leave(r, plen);
    p->transports.v = names;
    p->transports.n = n;
    return 0;
}

static int profiles(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_created_party_registration *p = out;
    return array(r, c, NS_OADR, "oadrProfile", 1, sizeof *p->profiles, profile,
                 (void **)&p->profiles, &p->n_profiles);
}

static int created_registration(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_created_party_registration *p = out;
    xmlNodePtr n;
    TRY(walk(r, REQ(NS_EI, "eiResponse"), ei_response, &p->response));
    TRY(opt_str(r, c, NS_EI, "registrationID", &p->registration_id));
    TRY(opt_str(r, c, NS_EI, "venID", &p->ven_id));
    TRY(rd_str(r, REQ(NS_EI, "vtnID"), &p->vtn_id));
    TRY(walk(r, REQ(NS_OADR, "oadrProfiles"), profiles, p));
    if ((n = cur_opt(c, NS_OADR, "oadrRequestedOadrPollFreq"))) {
        p->has_poll_freq = true;
        TRY(rd_duration_prop(r, n, &p->poll_freq_s));
    }
    cur_skip(c, NS_OADR, "oadrServiceSpecificInfo");
    cur_skip(c, NS_OADR, "oadrExtensions");
    return 0;
}

static int cancel_registration(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_cancel_registration *p = out;
    TRY(rd_str(r, REQ(NS_PYLD, "requestID"), &p->request_id));
    TRY(rd_str(r, REQ(NS_EI, "registrationID"), &p->registration_id));
    return opt_str(r, c, NS_EI, "venID", &p->ven_id);
}

static int reregistration(struct rd *r, struct cur *c, void *out)
{
    return rd_str(r, REQ(NS_EI, "venID"), out);
}

/* ---- acknowledgements ------------------------------------------------------- */

static int ack_head(struct rd *r, struct cur *c, struct fg_openadr_ack *a)
{
    return walk(r, REQ(NS_EI, "eiResponse"), ei_response, &a->response);
}

static int response(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_ack *a = out;
    TRY(ack_head(r, c, a));
    return opt_str(r, c, NS_EI, "venID", &a->ven_id);
}

static int canceled_registration(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_ack *a = out;
    TRY(ack_head(r, c, a));
    TRY(opt_str(r, c, NS_EI, "registrationID", &a->registration_id));
    return opt_str(r, c, NS_EI, "venID", &a->ven_id);
}

static int created_opt(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_ack *a = out;
    TRY(ack_head(r, c, a));
    return rd_str(r, REQ(NS_EI, "optID"), &a->opt_id);
}

static int canceled_opt(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_ack *a = out;
    TRY(ack_head(r, c, a));
    return opt_str(r, c, NS_EI, "optID", &a->opt_id);
}

static int pending(struct rd *r, struct cur *c, void *out)
{
    return strs(r, c, NS_EI, "reportRequestID", 0, out);
}

static int report_ack(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_ack *a = out;
    TRY(ack_head(r, c, a));
    TRY(walk(r, REQ(NS_OADR, "oadrPendingReports"), pending, &a->pending));
    return opt_str(r, c, NS_EI, "venID", &a->ven_id);
}

/* ---- reports ---------------------------------------------------------------- */

static int cancel_report(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_cancel_report *p = out;
    TRY(rd_str(r, REQ(NS_PYLD, "requestID"), &p->request_id));
    TRY(strs(r, c, NS_EI, "reportRequestID", 1, &p->report_request_ids));
    TRY(rd_bool(r, REQ(NS_PYLD, "reportToFollow"), &p->report_to_follow));
    return opt_str(r, c, NS_EI, "venID", &p->ven_id);
}

static int updated_report(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_ack *a = out;
    xmlNodePtr n;
    TRY(ack_head(r, c, a));
    if ((n = cur_opt(c, NS_OADR, "oadrCancelReport"))) {
        a->has_cancel = true;
        TRY(walk(r, n, cancel_report, &a->cancel));
    }
    return opt_str(r, c, NS_EI, "venID", &a->ven_id);
}

static int specifier_payload(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_specifier_payload *p = out;
    TRY(rd_str(r, REQ(NS_EI, "rID"), &p->rid));
    if (c->next && !is_el(c->next, NS_EI, "readingType")) {
        p->has_unit = true;
        TRY(item(r, cur_any(c), &p->unit));
    }
    return rd_token(r, REQ(NS_EI, "readingType"), &p->reading_type);
}

static int report_interval(struct rd *r, struct cur *c, void *out)
{
    return walk(r, REQ(NS_XCAL, "properties"), properties, out);
}

static int report_specifier(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_report_request *q = out;
    xmlNodePtr n;
    TRY(rd_str(r, REQ(NS_EI, "reportSpecifierID"), &q->report_specifier_id));
    TRY(rd_duration_prop(r, REQ(NS_XCAL, "granularity"), &q->granularity_s));
    TRY(rd_duration_prop(r, REQ(NS_EI, "reportBackDuration"), &q->report_back_s));
    if ((n = cur_opt(c, NS_EI, "reportInterval"))) {
        struct props p = {0};
        TRY(walk(r, n, report_interval, &p));
        q->has_interval = true;
        q->interval_start = p.dtstart;
        q->interval_duration_s = p.duration;
    }
    return array(r, c, NS_EI, "specifierPayload", 1, sizeof *q->payloads,
                 specifier_payload, (void **)&q->payloads, &q->n_payloads);
}

static int report_request(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_report_request *q = out;
    TRY(rd_str(r, REQ(NS_EI, "reportRequestID"), &q->report_request_id));
    return walk(r, REQ(NS_EI, "reportSpecifier"), report_specifier, q);
}

static int create_report(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_report_requests *p = out;
    TRY(rd_str(r, REQ(NS_PYLD, "requestID"), &p->request_id));
    TRY(array(r, c, NS_OADR, "oadrReportRequest", 1, sizeof *p->requests, report_request,
              (void **)&p->requests, &p->n_requests));
    return opt_str(r, c, NS_EI, "venID", &p->ven_id);
}

static int registered_report(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_report_requests *p = out;
    TRY(walk(r, REQ(NS_EI, "eiResponse"), ei_response, &p->response));
    TRY(array(r, c, NS_OADR, "oadrReportRequest", 0, sizeof *p->requests, report_request,
              (void **)&p->requests, &p->n_requests));
    return opt_str(r, c, NS_EI, "venID", &p->ven_id);
}

static int offered_report(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_offered_report *o = out;
    cur_skip(c, NS_XCAL, "dtstart");
    cur_skip(c, NS_XCAL, "duration");
    cur_skip(c, NS_STRM, "intervals");
    cur_skip(c, NS_EI, "eiReportID");
    o->n_descriptions = count(c, NS_OADR, "oadrReportDescription");
    cur_skip(c, NS_OADR, "oadrReportDescription");
    TRY(rd_str(r, REQ(NS_EI, "reportRequestID"), &o->report_request_id));
    TRY(rd_str(r, REQ(NS_EI, "reportSpecifierID"), &o->report_specifier_id));
    xmlNodePtr n = cur_opt(c, NS_EI, "reportName");
    if (n)
        TRY(rd_token(r, n, &o->report_name));
    REQ(NS_EI, "createdDateTime");
    return 0;
}

static int register_report(struct rd *r, struct cur *c, void *out)
{
    struct fg_openadr_register_report *p = out;
    TRY(rd_str(r, REQ(NS_PYLD, "requestID"), &p->request_id));
    TRY(array(r, c, NS_OADR, "oadrReport", 0, sizeof *p->reports, offered_report,
              (void **)&p->reports, &p->n_reports));
    TRY(opt_str(r, c, NS_EI, "venID", &p->ven_id));
    return opt_str(r, c, NS_EI, "reportRequestID", &p->report_request_id);
}

/* ---- dispatch --------------------------------------------------------------- */

/* A payload with no reader is one a VEN never receives. */
static const struct {
    const char *name;
    walk_fn fn;
    size_t off; /* where in fg_openadr_msg the reader writes */
} payloads[FG_OADR_TYPE_COUNT] = {
#define AT(member) offsetof(struct fg_openadr_msg, u.member)
    [FG_OADR_DISTRIBUTE_EVENT] = {"oadrDistributeEvent", distribute_event,
                                  AT(distribute_event)},
    [FG_OADR_CREATED_EVENT] = {"oadrCreatedEvent", NULL, 0},
    [FG_OADR_REQUEST_EVENT] = {"oadrRequestEvent", NULL, 0},
    [FG_OADR_RESPONSE] = {"oadrResponse", response, AT(ack)},
    [FG_OADR_CANCEL_OPT] = {"oadrCancelOpt", NULL, 0},
    [FG_OADR_CANCELED_OPT] = {"oadrCanceledOpt", canceled_opt, AT(ack)},
    [FG_OADR_CREATE_OPT] = {"oadrCreateOpt", NULL, 0},
    [FG_OADR_CREATED_OPT] = {"oadrCreatedOpt", created_opt, AT(ack)},
    [FG_OADR_CANCEL_REPORT] = {"oadrCancelReport", cancel_report, AT(cancel_report)},
    [FG_OADR_CANCELED_REPORT] = {"oadrCanceledReport", report_ack, AT(ack)},
    [FG_OADR_CREATE_REPORT] = {"oadrCreateReport", create_report, AT(reports)},
    [FG_OADR_CREATED_REPORT] = {"oadrCreatedReport", report_ack, AT(ack)},
    [FG_OADR_REGISTER_REPORT] = {"oadrRegisterReport", register_report,
                                 AT(register_report)},
    [FG_OADR_REGISTERED_REPORT] = {"oadrRegisteredReport", registered_report,
                                   AT(reports)},
    [FG_OADR_UPDATE_REPORT] = {"oadrUpdateReport", NULL, 0},
    [FG_OADR_UPDATED_REPORT] = {"oadrUpdatedReport", updated_report, AT(ack)},
    [FG_OADR_CANCEL_PARTY_REGISTRATION] = {"oadrCancelPartyRegistration",
                                           cancel_registration, AT(cancel_registration)},
    [FG_OADR_CANCELED_PARTY_REGISTRATION] = {"oadrCanceledPartyRegistration",
                                             canceled_registration, AT(ack)},
    [FG_OADR_CREATE_PARTY_REGISTRATION] = {"oadrCreatePartyRegistration", NULL, 0},
    [FG_OADR_CREATED_PARTY_REGISTRATION] = {"oadrCreatedPartyRegistration",
                                            created_registration,
                                            AT(created_registration)},
    [FG_OADR_REQUEST_REREGISTRATION] = {"oadrRequestReregistration", reregistration,
                                        AT(reregistration_ven_id)},
    [FG_OADR_QUERY_REGISTRATION] = {"oadrQueryRegistration", NULL, 0},
    [FG_OADR_POLL] = {"oadrPoll", NULL, 0},
#undef AT
};

const char *fg_openadr_type_name(enum fg_openadr_type t)
{
    return t > FG_OADR_NONE && t < FG_OADR_TYPE_COUNT ? payloads[t].name : "?";
}

int decode_payload(struct rd *r, xmlNodePtr el)
{
    struct fg_openadr_msg *m = r->m;
    for (int t = FG_OADR_NONE + 1; t < FG_OADR_TYPE_COUNT; t++) {
        if (!is_el(el, NS_OADR, payloads[t].name))
            continue;
        m->type = (enum fg_openadr_type)t;
        xmlAttrPtr a = xmlHasNsProp(el, (const xmlChar *)"schemaVersion",
                                    (const xmlChar *)FG_OPENADR_NS_EI);
        if (a && a->children && a->children->content) {
            size_t k = strlen((const char *)a->children->content);
            char *v = arena_alloc(&m->arena, k + 1);
            if (!v)
                return rd_fail(r, FG_ENOMEM, "out of memory");
            memcpy(v, a->children->content, k + 1);
            m->schema_version = v;
        }
        if (!payloads[t].fn) {
            xmlNodePtr plen = rd_enter(r, el);
            rd_fail(r, FG_EUNSUPPORTED, "%s is sent by a VEN, not to one",
                    payloads[t].name);
            rd_leave(r, plen);
            return r->rc;
        }
        return walk(r, el, payloads[t].fn, (char *)m + payloads[t].off);
    }
    xmlNodePtr plen = rd_enter(r, el);
    rd_fail(r, FG_EINVAL, "unknown payload {%s}%s",
            el->ns && el->ns->href ? (const char *)el->ns->href : "",
            (const char *)el->name);
    rd_leave(r, plen);
    return r->rc;
}
