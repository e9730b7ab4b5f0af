/* Building what the VEN sends: each payload written in its schema's order,
 * wrapped in oadrPayload / oadrSignedObject with the namespaces of
 * oadr_20b.xsd. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fg_openadr.h"
#include "fg_utf8.h"

/* One document being written; the first error wins. */
struct w {
    struct fg_buf *b;
    struct fg_error *err;
    int rc;
    const char *payload;
};

static void fail(struct w *w, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct w *w, int code, const char *field, const char *fmt, ...)
{
    if (w->rc)
        return;
    char msg[FG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->rc = fg_error_set(w->err, code, field, "%s", msg);
}

static void raw(struct w *w, const char *s)
{
    fg_buf_append(w->b, s, strlen(s));
}

/* Text content: UTF-8, no control characters XML 1.0 forbids, escaped. */
static void text(struct w *w, const char *field, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t k = fg_utf8_len(p, 4);
        if (!k || (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')) {
            fail(w, FG_EINVAL, field, "not UTF-8 text that XML allows");
            return;
        }
        const char *e = NULL;
        switch (*p) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\r':
            e = "&#13;";
            break;
        }
        if (e)
            raw(w, e);
        else
            fg_buf_append(w->b, (const char *)p, k);
        p += k;
    }
}

/* <tag>s</tag>; s required (not NULL, not empty). */
static void el(struct w *w, const char *tag, const char *s)
{
    if (!s || !*s) {
        fail(w, FG_EINVAL, tag, "%s required", tag);
        return;
    }
    fg_buf_printf(w->b, "<%s>", tag);
    text(w, tag, s);
    fg_buf_printf(w->b, "</%s>", tag);
}

/* The same, left out when s is NULL. */
static void el_opt(struct w *w, const char *tag, const char *s)
{
    if (s)
        el(w, tag, s);
}

static void el_u32(struct w *w, const char *tag, uint32_t v)
{
    fg_buf_printf(w->b, "<%s>%" PRIu32 "</%s>", tag, v, tag);
}

static void el_bool(struct w *w, const char *tag, bool v)
{
    fg_buf_printf(w->b, "<%s>%s</%s>", tag, v ? "true" : "false", tag);
}

static void el_float(struct w *w, const char *tag, double v)
{
    if (!isfinite(v)) {
        fail(w, FG_EINVAL, tag, "%g is not a finite number", v);
        return;
    }
    fg_buf_printf(w->b, "<%s>%.17g</%s>", tag, v, tag);
}

static void el_time(struct w *w, const char *tag, int64_t t)
{
    char s[FG_OPENADR_DATETIME_MAX];
    fg_openadr_datetime_format(t, s);
    fg_buf_printf(w->b, "<%s>%s</%s>", tag, s, tag);
}

static void dtstart(struct w *w, int64_t t)
{
    raw(w, "<xcal:dtstart>");
    el_time(w, "xcal:date-time", t);
    raw(w, "</xcal:dtstart>");
}

/* A DurationPropType element: <tag><xcal:duration>PT1H</xcal:duration></tag>. */
static void duration(struct w *w, const char *tag, int64_t s)
{
    char d[FG_OPENADR_DURATION_MAX];
    fg_openadr_duration_format(s, d);
    fg_buf_printf(w->b, "<%s><xcal:duration>%s</xcal:duration></%s>", tag, d, tag);
}

static void begin(struct w *w, struct fg_buf *b, struct fg_error *err,
                  const char *payload)
{
    w->b = b;
    w->err = err;
    w->rc = 0;
    w->payload = payload;
    raw(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<oadr:oadrPayload xmlns:oadr=\"" FG_OPENADR_NS_OADR "\""
           " xmlns:pyld=\"" FG_OPENADR_NS_PYLD "\""
           " xmlns:ei=\"" FG_OPENADR_NS_EI "\""
           " xmlns:emix=\"" FG_OPENADR_NS_EMIX "\""
           " xmlns:xcal=\"" FG_OPENADR_NS_XCAL "\""
           " xmlns:strm=\"" FG_OPENADR_NS_STRM "\""
           " xmlns:power=\"" FG_OPENADR_NS_POWER "\""
           " xmlns:scale=\"" FG_OPENADR_NS_SCALE "\">"
           "<oadr:oadrSignedObject>");
    fg_buf_printf(b, "<oadr:%s ei:schemaVersion=\"2.0b\">", payload);
}

static int end(struct w *w)
{
    fg_buf_printf(w->b, "</oadr:%s></oadr:oadrSignedObject></oadr:oadrPayload>\n",
                  w->payload);
    if (w->rc)
        return w->rc;
    if (w->b->failed)
        return fg_error_set(w->err, FG_ETOOBIG, w->payload,
                            "document over the buffer's maximum of %zu bytes", w->b->max);
    return 0;
}

/* responseCode, responseDescription, requestID: an eiResponse's content, and
 * the start of an eventResponse's. */
static void response_parts(struct w *w, const struct fg_openadr_ei_response *r)
{
    if (!r || r->code < 0 || r->code > 999) {
        fail(w, FG_EINVAL, "ei:responseCode", "a code in [0, 999] required");
        return;
    }
    fg_buf_printf(w->b, "<ei:responseCode>%03d</ei:responseCode>", r->code);
    el_opt(w, "ei:responseDescription", r->description);
    raw(w, "<pyld:requestID>");
    text(w, "pyld:requestID", r->request_id ? r->request_id : "");
    raw(w, "</pyld:requestID>");
}

static void ei_response(struct w *w, const struct fg_openadr_ei_response *r)
{
    raw(w, "<ei:eiResponse>");
    response_parts(w, r);
    raw(w, "</ei:eiResponse>");
}

/* ---- registration ------------------------------------------------------------- */

int fg_openadr_build_query_registration(struct fg_buf *out, const char *request_id,
                                        struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrQueryRegistration");
    el(&w, "pyld:requestID", request_id);
    return end(&w);
}

int fg_openadr_build_create_party_registration(
    struct fg_buf *out, const struct fg_openadr_create_party_registration *r,
    struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrCreatePartyRegistration");
    el(&w, "pyld:requestID", r->request_id);
    el_opt(&w, "ei:registrationID", r->registration_id);
    el_opt(&w, "ei:venID", r->ven_id);
    raw(&w, "<oadr:oadrProfileName>2.0b</oadr:oadrProfileName>"
            "<oadr:oadrTransportName>simpleHttp</oadr:oadrTransportName>");
    el_opt(&w, "oadr:oadrTransportAddress", r->transport_address);
    el_bool(&w, "oadr:oadrReportOnly", false);
    el_bool(&w, "oadr:oadrXmlSignature", false);
    el_opt(&w, "oadr:oadrVenName", r->ven_name);
    el_bool(&w, "oadr:oadrHttpPullModel", true);
    return end(&w);
}

int fg_openadr_build_cancel_party_registration(struct fg_buf *out, const char *request_id,
                                               const char *registration_id,
                                               const char *ven_id, struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrCancelPartyRegistration");
    el(&w, "pyld:requestID", request_id);
    el(&w, "ei:registrationID", registration_id);
    el_opt(&w, "ei:venID", ven_id);
    return end(&w);
}

int fg_openadr_build_canceled_party_registration(struct fg_buf *out,
                                                 const struct fg_openadr_ei_response *r,
                                                 const char *registration_id,
                                                 const char *ven_id, struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrCanceledPartyRegistration");
    ei_response(&w, r);
    el_opt(&w, "ei:registrationID", registration_id);
    el_opt(&w, "ei:venID", ven_id);
    return end(&w);
}

int fg_openadr_build_poll(struct fg_buf *out, const char *ven_id, struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrPoll");
    el(&w, "ei:venID", ven_id);
    return end(&w);
}

int fg_openadr_build_request_event(struct fg_buf *out, const char *request_id,
                                   const char *ven_id, uint32_t reply_limit,
                                   struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrRequestEvent");
    raw(&w, "<pyld:eiRequestEvent>");
    el(&w, "pyld:requestID", request_id);
    el(&w, "ei:venID", ven_id);
    if (reply_limit)
        el_u32(&w, "pyld:replyLimit", reply_limit);
    raw(&w, "</pyld:eiRequestEvent>");
    return end(&w);
}

int fg_openadr_build_response(struct fg_buf *out, const struct fg_openadr_ei_response *r,
                              const char *ven_id, struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrResponse");
    ei_response(&w, r);
    el_opt(&w, "ei:venID", ven_id);
    return end(&w);
}

/* ---- events ------------------------------------------------------------------- */

static const char *const opt_names[] = {
    [FG_OADR_OPT_IN] = "optIn", [FG_OADR_OPT_OUT] = "optOut"};

static void opt_type(struct w *w, enum fg_openadr_opt o)
{
    if ((unsigned)o > FG_OADR_OPT_OUT) {
        fail(w, FG_EINVAL, "ei:optType", "optIn or optOut required");
        return;
    }
    el(w, "ei:optType", opt_names[o]);
}

static void qualified_event_id(struct w *w, const char *event_id, uint32_t mod)
{
    raw(w, "<ei:qualifiedEventID>");
    el(w, "ei:eventID", event_id);
    el_u32(w, "ei:modificationNumber", mod);
    raw(w, "</ei:qualifiedEventID>");
}

int fg_openadr_build_created_event(struct fg_buf *out,
                                   const struct fg_openadr_ei_response *r,
                                   const struct fg_openadr_event_response *ev, size_t n,
                                   const char *ven_id, struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrCreatedEvent");
    raw(&w, "<pyld:eiCreatedEvent>");
    ei_response(&w, r);
    if (n) {
        raw(&w, "<ei:eventResponses>");
        for (size_t i = 0; i < n; i++) {
            const struct fg_openadr_event_response *e = &ev[i];
            struct fg_openadr_ei_response er = {e->code, e->description, e->request_id};
            raw(&w, "<ei:eventResponse>");
            response_parts(&w, &er);
            qualified_event_id(&w, e->event_id, e->modification_number);
            opt_type(&w, e->opt);
            raw(&w, "</ei:eventResponse>");
        }
        raw(&w, "</ei:eventResponses>");
    }
    el(&w, "ei:venID", ven_id);
    raw(&w, "</pyld:eiCreatedEvent>");
    return end(&w);
}

/* ---- reports ------------------------------------------------------------------ */

static const char *const report_names[] = {
    [FG_OADR_REPORT_TELEMETRY_USAGE] = "TELEMETRY_USAGE",
    [FG_OADR_REPORT_TELEMETRY_STATUS] = "TELEMETRY_STATUS",
};

static const char *report_name(struct w *w, enum fg_openadr_report_name n)
{
    if ((unsigned)n > FG_OADR_REPORT_TELEMETRY_STATUS) {
        fail(w, FG_EINVAL, "ei:reportName", "unknown report name %d", (int)n);
        return "TELEMETRY_USAGE";
    }
    return report_names[n];
}

static void item_power(struct w *w, double hz, double volt)
{
    raw(w,
        "<power:powerReal><power:itemDescription>RealPower</power:itemDescription>"
        "<power:itemUnits>W</power:itemUnits><scale:siScaleCode>none</scale:siScaleCode>"
        "<power:powerAttributes>");
    el_float(w, "power:hertz", hz > 0 ? hz : 50);
    el_float(w, "power:voltage", volt > 0 ? volt : 230);
    raw(w, "<power:ac>true</power:ac></power:powerAttributes></power:powerReal>");
}

static void description(struct w *w, const struct fg_openadr_report_meta *m,
                        const struct fg_openadr_point *p)
{
    raw(w, "<oadr:oadrReportDescription>");
    el(w, "ei:rID", p->rid);
    if (p->resource_id) {
        raw(w, "<ei:reportDataSource>");
        el(w, "ei:resourceID", p->resource_id);
        raw(w, "</ei:reportDataSource>");
    }
    switch (p->kind) {
    case FG_OADR_POINT_POWER_W:
        raw(w, "<ei:reportType>usage</ei:reportType>");
        item_power(w, m->hertz, m->voltage);
        raw(w, "<ei:readingType>Direct Read</ei:readingType>");
        break;
    case FG_OADR_POINT_ENERGY_WH:
        raw(w,
            "<ei:reportType>usage</ei:reportType>"
            "<power:energyReal><power:itemDescription>RealEnergy</power:itemDescription>"
            "<power:itemUnits>Wh</power:itemUnits>"
            "<scale:siScaleCode>none</scale:siScaleCode></power:energyReal>"
            "<ei:readingType>Direct Read</ei:readingType>");
        break;
    case FG_OADR_POINT_STATUS:
        raw(w, "<ei:reportType>x-resourceStatus</ei:reportType>"
               "<ei:readingType>x-notApplicable</ei:readingType>");
        break;
    default:
        fail(w, FG_EINVAL, "oadr:oadrReportDescription", "unknown point kind %d",
             (int)p->kind);
    }
    el_opt(w, "emix:marketContext", p->market_context);
    char a[FG_OPENADR_DURATION_MAX], b[FG_OPENADR_DURATION_MAX];
    fg_openadr_duration_format(m->min_period_s, a);
    fg_openadr_duration_format(m->max_period_s, b);
    fg_buf_printf(w->b,
                  "<oadr:oadrSamplingRate><oadr:oadrMinPeriod>%s</oadr:oadrMinPeriod>"
                  "<oadr:oadrMaxPeriod>%s</oadr:oadrMaxPeriod>",
                  a, b);
    el_bool(w, "oadr:oadrOnChange", m->on_change);
    raw(w, "</oadr:oadrSamplingRate></oadr:oadrReportDescription>");
}

int fg_openadr_build_register_report(struct fg_buf *out, const char *request_id,
                                     const struct fg_openadr_report_meta *reports,
                                     size_t n, const char *ven_id, struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrRegisterReport");
    el(&w, "pyld:requestID", request_id);
    for (size_t i = 0; i < n; i++) {
        const struct fg_openadr_report_meta *m = &reports[i];
        raw(&w, "<oadr:oadrReport>");
        duration(&w, "xcal:duration", m->duration_s);
        for (size_t k = 0; k < m->n_points; k++)
            description(&w, m, &m->points[k]);
        raw(&w, "<ei:reportRequestID>0</ei:reportRequestID>");
        el(&w, "ei:reportSpecifierID", m->report_specifier_id);
        fg_buf_printf(w.b, "<ei:reportName>METADATA_%s</ei:reportName>",
                      report_name(&w, m->name));
        el_time(&w, "ei:createdDateTime", m->created);
        raw(&w, "</oadr:oadrReport>");
    }
    el_opt(&w, "ei:venID", ven_id);
    return end(&w);
}

int fg_openadr_build_registered_report(struct fg_buf *out,
                                       const struct fg_openadr_ei_response *r,
                                       const char *ven_id, struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrRegisteredReport");
    ei_response(&w, r);
    el_opt(&w, "ei:venID", ven_id);
    return end(&w);
}

static void lcs_part(struct w *w, const char *tag, const struct fg_openadr_lcs *l)
{
    if (!l->has)
        return;
    fg_buf_printf(w->b, "<oadr:%s>", tag);
    if (l->has_min)
        el_float(w, "oadr:oadrMin", l->min);
    if (l->has_max)
        el_float(w, "oadr:oadrMax", l->max);
    el_float(w, "oadr:oadrCurrent", l->current);
    if (l->has_normal)
        el_float(w, "oadr:oadrNormal", l->normal);
    fg_buf_printf(w->b, "</oadr:%s>", tag);
}

static void resource_status(struct w *w, const struct fg_openadr_resource_status *s)
{
    raw(w, "<oadr:oadrPayloadResourceStatus>");
    el_bool(w, "oadr:oadrOnline", s->online);
    el_bool(w, "oadr:oadrManualOverride", s->manual_override);
    if (s->capacity.has || s->level_offset.has || s->percent_offset.has ||
        s->set_point.has) {
        raw(w, "<oadr:oadrLoadControlState>");
        lcs_part(w, "oadrCapacity", &s->capacity);
        lcs_part(w, "oadrLevelOffset", &s->level_offset);
        lcs_part(w, "oadrPercentOffset", &s->percent_offset);
        lcs_part(w, "oadrSetPoint", &s->set_point);
        raw(w, "</oadr:oadrLoadControlState>");
    }
    raw(w, "</oadr:oadrPayloadResourceStatus>");
}

static void report_interval(struct w *w, const struct fg_openadr_report_interval *iv)
{
    raw(w, "<ei:interval>");
    dtstart(w, iv->dtstart);
    duration(w, "xcal:duration", iv->duration_s);
    if (!iv->n_values)
        fail(w, FG_EINVAL, "ei:interval", "at least one value required");
    for (size_t i = 0; i < iv->n_values; i++) {
        const struct fg_openadr_report_value *v = &iv->values[i];
        raw(w, "<oadr:oadrReportPayload>");
        el(w, "ei:rID", v->rid);
        if (v->is_status) {
            resource_status(w, &v->status);
        } else {
            raw(w, "<ei:payloadFloat>");
            el_float(w, "ei:value", v->value);
            raw(w, "</ei:payloadFloat>");
        }
        raw(w, "</oadr:oadrReportPayload>");
    }
    raw(w, "</ei:interval>");
}

int fg_openadr_build_update_report(struct fg_buf *out, const char *request_id,
                                   const struct fg_openadr_report_data *reports, size_t n,
                                   const char *ven_id, struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrUpdateReport");
    el(&w, "pyld:requestID", request_id);
    for (size_t i = 0; i < n; i++) {
        const struct fg_openadr_report_data *d = &reports[i];
        raw(&w, "<oadr:oadrReport>");
        dtstart(&w, d->dtstart);
        duration(&w, "xcal:duration", d->duration_s);
        if (d->n_intervals) {
            raw(&w, "<strm:intervals>");
            for (size_t k = 0; k < d->n_intervals; k++)
                report_interval(&w, &d->intervals[k]);
            raw(&w, "</strm:intervals>");
        }
        el_opt(&w, "ei:eiReportID", d->report_id);
        el(&w, "ei:reportRequestID", d->report_request_id);
        el(&w, "ei:reportSpecifierID", d->report_specifier_id);
        el(&w, "ei:reportName", report_name(&w, d->name));
        el_time(&w, "ei:createdDateTime", d->created);
        raw(&w, "</oadr:oadrReport>");
    }
    el_opt(&w, "ei:venID", ven_id);
    return end(&w);
}

static int report_ack(struct fg_buf *out, const char *payload,
                      const struct fg_openadr_ei_response *r, const char *const *pending,
                      size_t n, const char *ven_id, struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, payload);
    ei_response(&w, r);
    raw(&w, "<oadr:oadrPendingReports>");
    for (size_t i = 0; i < n; i++)
        el(&w, "ei:reportRequestID", pending[i]);
    raw(&w, "</oadr:oadrPendingReports>");
    el_opt(&w, "ei:venID", ven_id);
    return end(&w);
}

int fg_openadr_build_created_report(struct fg_buf *out,
                                    const struct fg_openadr_ei_response *r,
                                    const char *const *pending, size_t n_pending,
                                    const char *ven_id, struct fg_error *err)
{
    return report_ack(out, "oadrCreatedReport", r, pending, n_pending, ven_id, err);
}

int fg_openadr_build_canceled_report(struct fg_buf *out,
                                     const struct fg_openadr_ei_response *r,
                                     const char *const *pending, size_t n_pending,
                                     const char *ven_id, struct fg_error *err)
{
    return report_ack(out, "oadrCanceledReport", r, pending, n_pending, ven_id, err);
}

/* ---- opt ---------------------------------------------------------------------- */

static const char *const opt_reasons[] = {
    "economic",        "emergency",      "mustRun",       "notParticipating",
    "outageRunStatus", "overrideStatus", "participating", "x-schedule",
};

static void opt_reason(struct w *w, const char *reason)
{
    if (reason && strncmp(reason, "x-", 2) == 0 && reason[2] && reason[2] != ' ' &&
        reason[2] != '\t' && reason[2] != '\n' && reason[2] != '\r') {
        el(w, "ei:optReason", reason);
        return;
    }
    for (size_t i = 0; reason && i < sizeof opt_reasons / sizeof opt_reasons[0]; i++)
        if (!strcmp(reason, opt_reasons[i])) {
            el(w, "ei:optReason", reason);
            return;
        }
    fail(w, FG_EINVAL, "ei:optReason", "'%s' is not an optReason",
         reason ? reason : "(null)");
}

int fg_openadr_build_create_opt(struct fg_buf *out, const struct fg_openadr_create_opt *o,
                                struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrCreateOpt");
    el(&w, "ei:optID", o->opt_id);
    opt_type(&w, o->opt);
    opt_reason(&w, o->reason);
    el_opt(&w, "emix:marketContext", o->market_context);
    el(&w, "ei:venID", o->ven_id);
    if (o->n_windows) {
        raw(&w, "<xcal:vavailability><xcal:components>");
        for (size_t i = 0; i < o->n_windows; i++) {
            raw(&w, "<xcal:available><xcal:properties>");
            dtstart(&w, o->windows[i].dtstart);
            duration(&w, "xcal:duration", o->windows[i].duration_s);
            raw(&w, "</xcal:properties></xcal:available>");
        }
        raw(&w, "</xcal:components></xcal:vavailability>");
    }
    el_time(&w, "ei:createdDateTime", o->created);
    el(&w, "pyld:requestID", o->request_id);
    if (o->event_id)
        qualified_event_id(&w, o->event_id, o->modification_number);
    raw(&w, "<ei:eiTarget>");
    if (o->n_resource_ids)
        for (size_t i = 0; i < o->n_resource_ids; i++)
            el(&w, "ei:resourceID", o->resource_ids[i]);
    else
        el(&w, "ei:venID", o->ven_id);
    raw(&w, "</ei:eiTarget>");
    return end(&w);
}

int fg_openadr_build_cancel_opt(struct fg_buf *out, const char *request_id,
                                const char *opt_id, const char *ven_id,
                                struct fg_error *err)
{
    struct w w;
    begin(&w, out, err, "oadrCancelOpt");
    el(&w, "pyld:requestID", request_id);
    el(&w, "ei:optID", opt_id);
    el(&w, "ei:venID", ven_id);
    return end(&w);
}
