/* OpenADR 2.0b codec: the sample payloads in unit/data/openadr/ (written for
 * these tests, each valid against the official XSD) decode to the values
 * asserted here; every payload the VEN builds is validated against the XSD
 * with libxml2 (and written to FG_OADR_OUT_DIR, where the ctest
 * openadr/xmllint checks it again with xmllint) and read back with XPath;
 * hostile and broken input gives the error named here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "fg_err.h"
#include "fg_openadr.h"

#define DATA FG_TEST_DATA "/openadr"
#define XSD FG_SOURCE_DIR "/protocols/openadr/xsd"

static struct fg_openadr_schema *schema;

/* ---- helpers ------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return s;
}

/* Decode a sample file; fail the test with the codec's message if it fails. */
static void decode_file(const char *name, struct fg_openadr_msg *m, bool with_schema)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DATA, name);
    size_t len;
    char *xml = slurp(path, &len);
    struct fg_error e;
    fg_error_clear(&e);
    struct fg_openadr_opts o = {.schema = with_schema ? schema : NULL};
    fg_openadr_msg_init(m);
    int rc = fg_openadr_decode(xml, len, &o, m, &e);
    free(xml);
    if (rc)
        fail_msg("%s: %s %s: %s", name, fg_errname(rc), e.path, e.msg);
}

/* Decode bytes expecting failure code; the message must contain want and,
 * if given, the path want_path. */
static void expect_error(const char *xml, size_t len, const struct fg_openadr_opts *o,
                         int code, const char *want, const char *want_path)
{
    struct fg_openadr_msg m;
    struct fg_error e;
    fg_error_clear(&e);
    fg_openadr_msg_init(&m);
    int rc = fg_openadr_decode(xml, len, o, &m, &e);
    fg_openadr_msg_clear(&m);
    if (rc != code || !strstr(e.msg, want) || (want_path && strcmp(e.path, want_path)))
        fail_msg("want %s '%s' at %s, got %s '%s' at '%s'", fg_errname(code), want,
                 want_path ? want_path : "*", fg_errname(rc), e.msg, e.path);
}

static void expect_file_error(const char *name, const struct fg_openadr_opts *o, int code,
                              const char *want, const char *want_path)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DATA, name);
    size_t len;
    char *xml = slurp(path, &len);
    expect_error(xml, len, o, code, want, want_path);
    free(xml);
}

/* A built document: validated against the XSD, written for xmllint, and
 * kept for XPath questions. */
struct built {
    char *xml;
    xmlDocPtr doc;
    xmlXPathContextPtr xp;
};

static void check_built(struct built *b, struct fg_buf *buf, int rc, struct fg_error *e,
                        const char *file)
{
    if (rc)
        fail_msg("%s: build: %s %s: %s", file, fg_errname(rc), e->path, e->msg);
    b->xml = fg_buf_take(buf);
    assert_non_null(b->xml);
    size_t len = strlen(b->xml);
    struct fg_error ve;
    fg_error_clear(&ve);
    rc = fg_openadr_validate(schema, b->xml, len, NULL, &ve);
    if (rc)
        fail_msg("%s does not validate: %s\n%s", file, ve.msg, b->xml);
    char path[512];
    mkdir(FG_OADR_OUT_DIR, 0755);
    snprintf(path, sizeof path, "%s/%s", FG_OADR_OUT_DIR, file);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->xml, 1, len, f), len);
    fclose(f);
    b->doc = xmlReadMemory(b->xml, (int)len, NULL, NULL, XML_PARSE_NONET);
    assert_non_null(b->doc);
    b->xp = xmlXPathNewContext(b->doc);
    static const char *const ns[][2] = {
        {"oadr", FG_OPENADR_NS_OADR},   {"ei", FG_OPENADR_NS_EI},
        {"pyld", FG_OPENADR_NS_PYLD},   {"emix", FG_OPENADR_NS_EMIX},
        {"xcal", FG_OPENADR_NS_XCAL},   {"strm", FG_OPENADR_NS_STRM},
        {"power", FG_OPENADR_NS_POWER},
    };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        xmlXPathRegisterNs(b->xp, (const xmlChar *)ns[i][0], (const xmlChar *)ns[i][1]);
}

/* The string value of an XPath expression over the built document. */
static void assert_xpath(struct built *b, const char *expr, const char *want)
{
    char q[512];
    snprintf(q, sizeof q, "string(%s)", expr);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)q, b->xp);
    assert_non_null(o);
    const char *got = o->stringval ? (const char *)o->stringval : "";
    if (strcmp(got, want))
        fail_msg("%s: want '%s', got '%s'\n%s", expr, want, got, b->xml);
    xmlXPathFreeObject(o);
}

static void assert_xpath_count(struct built *b, const char *expr, int want)
{
    char q[512];
    snprintf(q, sizeof q, "count(%s)", expr);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)q, b->xp);
    assert_non_null(o);
    if ((int)o->floatval != want)
        fail_msg("%s: want %d, got %g", expr, want, o->floatval);
    xmlXPathFreeObject(o);
}

static void built_free(struct built *b)
{
    xmlXPathFreeContext(b->xp);
    xmlFreeDoc(b->doc);
    free(b->xml);
}

static int64_t t_of(const char *s)
{
    int64_t t;
    assert_int_equal(fg_openadr_datetime_parse(s, &t, NULL), 0);
    return t;
}

/* ---- xcal values ------------------------------------------------------------------ */

static void durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t v;
    } good[] = {
        {"PT1H", 3600}, {"P1D", 86400},        {"-PT5M", -300},  {"+PT10S", 10},
        {"PT0S", 0},    {"P1DT2H3M4S", 93784}, {"P2W", 1209600}, {"PT90M", 5400},
        {"P0D", 0},     {"PT2H30M", 9000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        struct fg_error e;
        fg_error_clear(&e);
        if (fg_openadr_duration_parse(good[i].s, &v, &e))
            fail_msg("%s: %s", good[i].s, e.msg);
        assert_int_equal(v, good[i].v);
    }
    static const struct {
        const char *s;
        int code;
        const char *msg;
    } bad[] = {
        {"P", FG_ERANGE, "no component"},
        {"PT", FG_ERANGE, "no component"},
        {"P1DT", FG_ERANGE, "T without a time"},
        {"PT1H1H", FG_ERANGE, "not allowed here"},
        {"PT1M1H", FG_ERANGE, "not allowed here"},
        {"P1H", FG_ERANGE, "not allowed here"},
        {"PT1D", FG_ERANGE, "not allowed here"},
        {"1H", FG_ERANGE, "must start with P"},
        {"", FG_ERANGE, "must start with P"},
        {"PT1.5S", FG_ERANGE, "not allowed here"},
        {"P1W1D", FG_ERANGE, "not allowed here"},
        {"PTT1H", FG_ERANGE, "second T"},
        {"P1Y", FG_EUNSUPPORTED, "years and months"},
        {"P1M", FG_EUNSUPPORTED, "years and months"},
        {"PT99999999999999999999S", FG_ERANGE, "expected a number"},
        {"P999999999999999D", FG_ERANGE, "too long"},
        {"PT1H ", FG_ERANGE, "expected a number"},
        {"PT-1H", FG_ERANGE, "expected a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 77;
        struct fg_error e;
        fg_error_clear(&e);
        int rc = fg_openadr_duration_parse(bad[i].s, &v, &e);
        if (rc != bad[i].code || !strstr(e.msg, bad[i].msg))
            fail_msg("'%s': want %s '%s', got %s '%s'", bad[i].s, fg_errname(bad[i].code),
                     bad[i].msg, fg_errname(rc), e.msg);
        assert_int_equal(v, 77);
    }
    static const struct {
        int64_t v;
        const char *s;
    } fmt[] = {{0, "PT0S"},     {3600, "PT1H"},        {86400, "P1D"},
               {-300, "-PT5M"}, {93784, "P1DT2H3M4S"}, {90061, "P1DT1H1M1S"},
               {60, "PT1M"}};
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        char s[FG_OPENADR_DURATION_MAX];
        fg_openadr_duration_format(fmt[i].v, s);
        assert_string_equal(s, fmt[i].s);
        int64_t back;
        assert_int_equal(fg_openadr_duration_parse(s, &back, NULL), 0);
        assert_int_equal(back, fmt[i].v);
    }
}

static void datetimes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t v;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-06-01T14:00:00Z", 1780322400},
        {"2026-06-01T16:00:00+02:00", 1780322400},
        {"2026-06-01T09:30:00-04:30", 1780322400},
        {"2026-06-01T14:00:00.999Z", 1780322400},
        {"2026-06-01T14:00:00", 1780322400},
        {"2024-02-29T00:00:00Z", 1709164800},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v;
        struct fg_error e;
        fg_error_clear(&e);
        if (fg_openadr_datetime_parse(good[i].s, &v, &e))
            fail_msg("%s: %s", good[i].s, e.msg);
        assert_int_equal(v, good[i].v);
    }
    static const char *const bad[] = {
        "2026-02-29T00:00:00Z",  "2026-06-01 14:00:00Z",  "2026-13-01T00:00:00Z",
        "2026-06-01T24:00:00Z",  "2026-06-01T14:00:00ZZ", "2026-06-01T14:00:00+2:00",
        "2026-06-01T14:00:00.Z", "26-06-01T14:00:00Z",    "",
        "2026-06-01T14:60:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        struct fg_error e;
        fg_error_clear(&e);
        if (fg_openadr_datetime_parse(bad[i], &v, &e) != FG_ERANGE)
            fail_msg("'%s' accepted", bad[i]);
        assert_non_null(strstr(e.msg, "date-time"));
    }
    char s[FG_OPENADR_DATETIME_MAX];
    fg_openadr_datetime_format(1780322400, s);
    assert_string_equal(s, "2026-06-01T14:00:00Z");
}

/* ---- decoding the samples ---------------------------------------------------------- */

static void distribute_event(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        struct fg_openadr_msg m;
        decode_file("distribute_event.xml", &m, pass == 1);
        assert_int_equal(m.type, FG_OADR_DISTRIBUTE_EVENT);
        assert_string_equal(m.schema_version, "2.0b");
        const struct fg_openadr_distribute_event *d = &m.u.distribute_event;
        assert_true(d->has_response);
        assert_int_equal(d->response.code, 200);
        assert_string_equal(d->response.description, "OK");
        assert_string_equal(d->response.request_id, "");
        assert_string_equal(d->request_id, "req-de-0042");
        assert_string_equal(d->vtn_id, "DSO-VTN-1");
        assert_int_equal(d->n_events, 3);

        const struct fg_openadr_event *e = &d->events[0];
        assert_string_equal(e->event_id, "evt-price-20260601");
        assert_int_equal(e->modification_number, 0);
        assert_false(e->has_modification_time);
        assert_null(e->modification_reason);
        assert_true(e->has_priority);
        assert_int_equal(e->priority, 1);
        assert_string_equal(e->market_context, "http://dso.example/markets/dayahead");
        assert_int_equal(e->created, t_of("2026-05-31T12:00:00Z"));
        assert_int_equal(e->status, FG_OADR_STATUS_FAR);
        assert_false(e->test);
        assert_string_equal(e->vtn_comment, "day-ahead tariff & peak price");
        assert_int_equal(e->dtstart, t_of("2026-06-01T14:00:00Z"));
        assert_int_equal(e->duration_s, 4 * 3600);
        assert_true(e->has_start_after);
        assert_int_equal(e->start_after_s, 300);
        assert_true(e->has_notification);
        assert_int_equal(e->notification_s, 86400);
        assert_true(e->has_ramp_up);
        assert_int_equal(e->ramp_up_s, 600);
        assert_true(e->has_recovery);
        assert_int_equal(e->recovery_s, 900);
        assert_true(e->response_required);
        assert_int_equal(e->target.ven_ids.n, 1);
        assert_string_equal(e->target.ven_ids.v[0], "VEN-flexgw-7");
        assert_int_equal(e->n_signals, 1);
        const struct fg_openadr_signal *s = &e->signals[0];
        assert_int_equal(s->name_id, FG_OADR_SIGNAL_ELECTRICITY_PRICE);
        assert_int_equal(s->type, FG_OADR_SIGTYPE_PRICE);
        assert_string_equal(s->id, "sig-price");
        assert_true(s->has_unit);
        assert_string_equal(s->unit.kind, "currencyPerKWh");
        assert_string_equal(s->unit.units, "EUR");
        assert_string_equal(s->unit.scale, "none");
        assert_true(s->has_current);
        assert_true(s->current == 0.0);
        assert_int_equal(s->n_intervals, 4);
        static const double prices[] = {0.21, 0.35, 0.42, 0.18};
        for (size_t i = 0; i < 4; i++) {
            char uid[4];
            snprintf(uid, sizeof uid, "%zu", i);
            assert_string_equal(s->intervals[i].uid, uid);
            assert_int_equal(s->intervals[i].duration_s, 3600);
            assert_false(s->intervals[i].has_dtstart);
            assert_true(fabs(s->intervals[i].value - prices[i]) < 1e-12);
        }

        e = &d->events[1];
        assert_string_equal(e->event_id, "evt-limit-77");
        assert_int_equal(e->modification_number, 2);
        assert_true(e->has_modification_time);
        assert_int_equal(e->modification_time, t_of("2026-06-01T09:30:00Z"));
        assert_string_equal(e->modification_reason, "feeder forecast updated");
        assert_int_equal(e->priority, 0);
        assert_int_equal(e->created, t_of("2026-06-01T08:00:00Z"));
        assert_int_equal(e->status, FG_OADR_STATUS_ACTIVE);
        assert_null(e->test_event);
        assert_false(e->has_start_after);
        assert_false(e->has_ramp_up);
        assert_int_equal(e->duration_s, 9000);
        assert_int_equal(e->target.group_ids.n, 1);
        assert_string_equal(e->target.group_ids.v[0], "feeder-12");
        assert_int_equal(e->target.resource_ids.n, 2);
        assert_string_equal(e->target.resource_ids.v[1], "battery-1");
        assert_int_equal(e->target.ven_ids.n, 0);
        assert_int_equal(e->n_signals, 2);
        s = &e->signals[0];
        assert_int_equal(s->name_id, FG_OADR_SIGNAL_LOAD_DISPATCH);
        assert_int_equal(s->type, FG_OADR_SIGTYPE_SETPOINT);
        assert_string_equal(s->unit.kind, "powerReal");
        assert_string_equal(s->unit.description, "RealPower");
        assert_string_equal(s->unit.units, "W");
        assert_true(s->has_target);
        assert_string_equal(s->target.resource_ids.v[0], "site-main-meter");
        assert_int_equal(s->n_intervals, 2);
        assert_int_equal(s->intervals[0].duration_s, 5400);
        assert_true(s->intervals[0].value == 11000.0);
        assert_true(s->intervals[1].value == 7500.5);
        s = &e->signals[1];
        assert_string_equal(s->name, "simple");
        assert_int_equal(s->name_id, FG_OADR_SIGNAL_SIMPLE);
        assert_int_equal(s->type, FG_OADR_SIGTYPE_LEVEL);
        assert_false(s->has_unit);
        assert_true(s->current == 2.0);

        e = &d->events[2];
        assert_string_equal(e->event_id, "evt-shed-5");
        assert_int_equal(e->status, FG_OADR_STATUS_CANCELLED);
        assert_true(e->test);
        assert_false(e->response_required);
        assert_false(e->has_priority);
        assert_int_equal(e->signals[0].name_id, FG_OADR_SIGNAL_LOAD_CONTROL);
        assert_int_equal(e->signals[0].type, FG_OADR_SIGTYPE_LOAD_CONTROL_CAPACITY);
        assert_false(e->signals[0].has_current);
        assert_true(e->signals[0].intervals[0].value == -3500.0);
        fg_openadr_msg_clear(&m);
        assert_null(m.arena);
    }
}

static void registration(void **state)
{
    (void)state;
    struct fg_openadr_msg m;
    decode_file("created_party_registration.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_CREATED_PARTY_REGISTRATION);
    const struct fg_openadr_created_party_registration *r = &m.u.created_registration;
    assert_int_equal(r->response.code, 200);
    assert_string_equal(r->response.request_id, "req-reg-1");
    assert_string_equal(r->registration_id, "reg-5f1c");
    assert_string_equal(r->ven_id, "VEN-flexgw-7");
    assert_string_equal(r->vtn_id, "DSO-VTN-1");
    assert_int_equal(r->n_profiles, 2);
    assert_string_equal(r->profiles[0].name, "2.0a");
    assert_int_equal(r->profiles[0].transports.n, 1);
    assert_string_equal(r->profiles[1].name, "2.0b");
    assert_int_equal(r->profiles[1].transports.n, 2);
    assert_string_equal(r->profiles[1].transports.v[0], "simpleHttp");
    assert_string_equal(r->profiles[1].transports.v[1], "xmpp");
    assert_true(r->has_poll_freq);
    assert_int_equal(r->poll_freq_s, 10);
    fg_openadr_msg_clear(&m);

    decode_file("canceled_party_registration.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_CANCELED_PARTY_REGISTRATION);
    assert_string_equal(m.u.ack.registration_id, "reg-5f1c");
    assert_string_equal(m.u.ack.ven_id, "VEN-flexgw-7");
    assert_null(m.u.ack.response.description);
    fg_openadr_msg_clear(&m);

    decode_file("cancel_party_registration.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_CANCEL_PARTY_REGISTRATION);
    assert_string_equal(m.u.cancel_registration.request_id, "req-vtn-unreg-4");
    assert_string_equal(m.u.cancel_registration.registration_id, "reg-5f1c");
    fg_openadr_msg_clear(&m);

    decode_file("request_reregistration.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_REQUEST_REREGISTRATION);
    assert_string_equal(m.u.reregistration_ven_id, "VEN-flexgw-7");
    fg_openadr_msg_clear(&m);

    decode_file("response.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_RESPONSE);
    assert_int_equal(m.u.ack.response.code, 200);
    assert_string_equal(m.u.ack.response.request_id, "req-ce-11");
    assert_string_equal(m.u.ack.ven_id, "VEN-flexgw-7");
    fg_openadr_msg_clear(&m);

    decode_file("created_opt.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_CREATED_OPT);
    assert_string_equal(m.u.ack.opt_id, "opt-maint-1");
    fg_openadr_msg_clear(&m);
    decode_file("canceled_opt.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_CANCELED_OPT);
    assert_string_equal(m.u.ack.opt_id, "opt-maint-1");
    assert_string_equal(m.u.ack.response.request_id, "req-opt-2");
    fg_openadr_msg_clear(&m);
}

static void reports(void **state)
{
    (void)state;
    struct fg_openadr_msg m;
    decode_file("create_report.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_CREATE_REPORT);
    const struct fg_openadr_report_requests *q = &m.u.reports;
    assert_string_equal(q->request_id, "req-cr-9");
    assert_string_equal(q->ven_id, "VEN-flexgw-7");
    assert_int_equal(q->n_requests, 2);
    const struct fg_openadr_report_request *r = &q->requests[0];
    assert_string_equal(r->report_request_id, "rr-usage-1");
    assert_string_equal(r->report_specifier_id, "spec-usage");
    assert_int_equal(r->granularity_s, 60);
    assert_int_equal(r->report_back_s, 300);
    assert_true(r->has_interval);
    assert_int_equal(r->interval_start, t_of("2026-06-01T10:00:00Z"));
    assert_int_equal(r->interval_duration_s, 7200);
    assert_int_equal(r->n_payloads, 2);
    assert_string_equal(r->payloads[0].rid, "site-power");
    assert_true(r->payloads[0].has_unit);
    assert_string_equal(r->payloads[0].unit.kind, "powerReal");
    assert_string_equal(r->payloads[0].reading_type, "Direct Read");
    assert_string_equal(r->payloads[1].rid, "site-energy");
    assert_false(r->payloads[1].has_unit);
    r = &q->requests[1];
    assert_string_equal(r->report_request_id, "rr-status-1");
    assert_false(r->has_interval);
    assert_int_equal(r->granularity_s, 900);
    assert_string_equal(r->payloads[0].reading_type, "x-notApplicable");
    fg_openadr_msg_clear(&m);

    decode_file("registered_report.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_REGISTERED_REPORT);
    assert_string_equal(m.u.reports.response.request_id, "req-rr-2");
    assert_int_equal(m.u.reports.n_requests, 1);
    assert_string_equal(m.u.reports.requests[0].report_request_id, "rr-usage-2");
    assert_int_equal(m.u.reports.requests[0].report_back_s, 3600);
    fg_openadr_msg_clear(&m);

    decode_file("cancel_report.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_CANCEL_REPORT);
    assert_string_equal(m.u.cancel_report.request_id, "req-cancel-3");
    assert_int_equal(m.u.cancel_report.report_request_ids.n, 2);
    assert_string_equal(m.u.cancel_report.report_request_ids.v[1], "rr-status-1");
    assert_false(m.u.cancel_report.report_to_follow);
    fg_openadr_msg_clear(&m);

    decode_file("updated_report.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_UPDATED_REPORT);
    assert_true(m.u.ack.has_cancel);
    assert_string_equal(m.u.ack.cancel.report_request_ids.v[0], "rr-status-1");
    assert_true(m.u.ack.cancel.report_to_follow);
    assert_null(m.u.ack.cancel.ven_id);
    assert_string_equal(m.u.ack.ven_id, "VEN-flexgw-7");
    fg_openadr_msg_clear(&m);

    decode_file("register_report.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_REGISTER_REPORT);
    assert_string_equal(m.u.register_report.request_id, "vtn-rr-77");
    assert_int_equal(m.u.register_report.n_reports, 1);
    assert_string_equal(m.u.register_report.reports[0].report_specifier_id, "vtn-spec-1");
    assert_string_equal(m.u.register_report.reports[0].report_name,
                        "METADATA_TELEMETRY_STATUS");
    assert_string_equal(m.u.register_report.reports[0].report_request_id, "0");
    assert_int_equal(m.u.register_report.reports[0].n_descriptions, 1);
    assert_string_equal(m.u.register_report.ven_id, "VEN-flexgw-7");
    assert_null(m.u.register_report.report_request_id);
    fg_openadr_msg_clear(&m);

    decode_file("created_report.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_CREATED_REPORT);
    assert_int_equal(m.u.ack.pending.n, 1);
    assert_string_equal(m.u.ack.pending.v[0], "rr-vtn-1");
    assert_null(m.u.ack.ven_id);
    fg_openadr_msg_clear(&m);
    decode_file("canceled_report.xml", &m, true);
    assert_int_equal(m.type, FG_OADR_CANCELED_REPORT);
    assert_int_equal(m.u.ack.pending.n, 0);
    fg_openadr_msg_clear(&m);
}

/* ---- building -----------------------------------------------------------------------
 */

static const struct fg_openadr_ei_response ok = {200, "OK", "req-vtn-1"};

static void build_registration(void **state)
{
    (void)state;
    struct fg_buf buf;
    struct fg_error e;
    struct built b;
    fg_buf_init(&buf, FG_OPENADR_BUILD_MAX);
    fg_error_clear(&e);

    check_built(&b, &buf, fg_openadr_build_query_registration(&buf, "q-1", &e), &e,
                "query_registration.xml");
    assert_xpath(&b, "//oadr:oadrQueryRegistration/pyld:requestID", "q-1");
    built_free(&b);

    struct fg_openadr_create_party_registration first = {
        .request_id = "reg-1", .ven_name = "flexgw <site 7> & co"};
    check_built(&b, &buf, fg_openadr_build_create_party_registration(&buf, &first, &e),
                &e, "create_party_registration.xml");
    assert_xpath(&b, "//oadr:oadrProfileName", "2.0b");
    assert_xpath(&b, "//oadr:oadrTransportName", "simpleHttp");
    assert_xpath(&b, "//oadr:oadrReportOnly", "false");
    assert_xpath(&b, "//oadr:oadrXmlSignature", "false");
    assert_xpath(&b, "//oadr:oadrHttpPullModel", "true");
    assert_xpath(&b, "//oadr:oadrVenName", "flexgw <site 7> & co");
    assert_xpath_count(&b, "//ei:venID", 0);
    assert_xpath(&b, "//oadr:oadrCreatePartyRegistration/@ei:schemaVersion", "2.0b");
    built_free(&b);

    struct fg_openadr_create_party_registration again = {
        .request_id = "reg-2", .registration_id = "reg-5f1c", .ven_id = "VEN-flexgw-7"};
    check_built(&b, &buf, fg_openadr_build_create_party_registration(&buf, &again, &e),
                &e, "create_party_registration_again.xml");
    assert_xpath(&b, "//ei:venID", "VEN-flexgw-7");
    assert_xpath(&b, "//ei:registrationID", "reg-5f1c");
    built_free(&b);

    check_built(&b, &buf,
                fg_openadr_build_cancel_party_registration(&buf, "c-1", "reg-5f1c",
                                                           "VEN-flexgw-7", &e),
                &e, "cancel_party_registration.xml");
    assert_xpath(&b, "//oadr:oadrCancelPartyRegistration/ei:registrationID", "reg-5f1c");
    built_free(&b);

    check_built(&b, &buf,
                fg_openadr_build_canceled_party_registration(&buf, &ok, "reg-5f1c",
                                                             "VEN-flexgw-7", &e),
                &e, "canceled_party_registration.xml");
    assert_xpath(&b, "//ei:responseCode", "200");
    assert_xpath(&b, "//pyld:requestID", "req-vtn-1");
    built_free(&b);

    check_built(&b, &buf,
                fg_openadr_build_request_event(&buf, "re-1", "VEN-flexgw-7", 0, &e), &e,
                "request_event.xml");
    assert_xpath(&b, "//oadr:oadrRequestEvent/pyld:eiRequestEvent/pyld:requestID",
                 "re-1");
    assert_xpath(&b, "//pyld:eiRequestEvent/ei:venID", "VEN-flexgw-7");
    assert_xpath_count(&b, "//pyld:replyLimit", 0);
    assert_xpath(&b, "//oadr:oadrRequestEvent/@ei:schemaVersion", "2.0b");
    built_free(&b);
    check_built(&b, &buf,
                fg_openadr_build_request_event(&buf, "re-2", "VEN-flexgw-7", 50, &e), &e,
                "request_event_limit.xml");
    assert_xpath(&b, "//pyld:eiRequestEvent/pyld:replyLimit", "50");
    built_free(&b);
    assert_int_equal(fg_openadr_build_request_event(&buf, "re-3", NULL, 0, &e),
                     FG_EINVAL);
    assert_string_equal(e.path, "ei:venID");
    fg_buf_clear(&buf);
    fg_buf_init(&buf, FG_OPENADR_BUILD_MAX);

    check_built(&b, &buf, fg_openadr_build_poll(&buf, "VEN-flexgw-7", &e), &e,
                "poll.xml");
    assert_xpath(&b, "//oadr:oadrPoll/ei:venID", "VEN-flexgw-7");
    built_free(&b);

    struct fg_openadr_ei_response bad = {400, NULL, "req-x"};
    check_built(&b, &buf, fg_openadr_build_response(&buf, &bad, "VEN-flexgw-7", &e), &e,
                "response.xml");
    assert_xpath(&b, "//ei:eiResponse/ei:responseCode", "400");
    assert_xpath_count(&b, "//ei:responseDescription", 0);
    built_free(&b);
}

static void build_events(void **state)
{
    (void)state;
    struct fg_buf buf;
    struct fg_error e;
    struct built b;
    fg_buf_init(&buf, FG_OPENADR_BUILD_MAX);
    fg_error_clear(&e);
    struct fg_openadr_event_response ev[] = {
        {200, "OK", "req-de-0042", "evt-price-20260601", 0, FG_OADR_OPT_IN},
        {200, NULL, "req-de-0042", "evt-limit-77", 2, FG_OADR_OPT_OUT},
    };
    struct fg_openadr_ei_response r = {200, "OK", "req-de-0042"};
    check_built(&b, &buf,
                fg_openadr_build_created_event(&buf, &r, ev, 2, "VEN-flexgw-7", &e), &e,
                "created_event.xml");
    assert_xpath_count(&b, "//ei:eventResponse", 2);
    assert_xpath(&b, "//ei:eventResponse[1]/ei:optType", "optIn");
    assert_xpath(&b, "//ei:eventResponse[2]/ei:optType", "optOut");
    assert_xpath(&b, "//ei:eventResponse[2]/ei:qualifiedEventID/ei:eventID",
                 "evt-limit-77");
    assert_xpath(&b, "//ei:eventResponse[2]/ei:qualifiedEventID/ei:modificationNumber",
                 "2");
    assert_xpath(&b, "//ei:eventResponse[1]/pyld:requestID", "req-de-0042");
    assert_xpath(&b, "//pyld:eiCreatedEvent/ei:venID", "VEN-flexgw-7");
    built_free(&b);

    check_built(&b, &buf, fg_openadr_build_created_event(&buf, &r, NULL, 0, "V", &e), &e,
                "created_event_none.xml");
    assert_xpath_count(&b, "//ei:eventResponses", 0);
    built_free(&b);
}

static const struct fg_openadr_point usage_points[] = {
    {"site-power", FG_OADR_POINT_POWER_W, "site-main-meter", NULL},
    {"site-energy", FG_OADR_POINT_ENERGY_WH, "site-main-meter", "http://dso.example/m"},
};
static const struct fg_openadr_point status_points[] = {
    {"site-status", FG_OADR_POINT_STATUS, NULL, NULL},
};

static void build_reports(void **state)
{
    (void)state;
    struct fg_buf buf;
    struct fg_error e;
    struct built b;
    fg_buf_init(&buf, FG_OPENADR_BUILD_MAX);
    fg_error_clear(&e);
    int64_t now = t_of("2026-06-01T10:00:00Z");
    struct fg_openadr_report_meta meta[] = {
        {.report_specifier_id = "spec-usage",
         .name = FG_OADR_REPORT_TELEMETRY_USAGE,
         .duration_s = 7200,
         .min_period_s = 60,
         .max_period_s = 3600,
         .points = usage_points,
         .n_points = 2,
         .created = now},
        {.report_specifier_id = "spec-status",
         .name = FG_OADR_REPORT_TELEMETRY_STATUS,
         .duration_s = 7200,
         .min_period_s = 60,
         .max_period_s = 3600,
         .on_change = true,
         .points = status_points,
         .n_points = 1,
         .created = now},
    };
    check_built(
        &b, &buf,
        fg_openadr_build_register_report(&buf, "rr-1", meta, 2, "VEN-flexgw-7", &e), &e,
        "register_report.xml");
    assert_xpath_count(&b, "//oadr:oadrReport", 2);
    assert_xpath(&b, "//oadr:oadrReport[1]/ei:reportName", "METADATA_TELEMETRY_USAGE");
    assert_xpath(&b, "//oadr:oadrReport[2]/ei:reportName", "METADATA_TELEMETRY_STATUS");
    assert_xpath(&b, "//oadr:oadrReport[1]/ei:reportRequestID", "0");
    assert_xpath(&b, "//oadr:oadrReport[1]/xcal:duration/xcal:duration", "PT2H");
    assert_xpath(&b, "//oadr:oadrReport[1]/ei:createdDateTime", "2026-06-01T10:00:00Z");
    assert_xpath(&b, "//oadr:oadrReportDescription[1]/ei:rID", "site-power");
    assert_xpath(&b, "//oadr:oadrReportDescription[1]/power:powerReal/power:itemUnits",
                 "W");
    assert_xpath(&b, "//oadr:oadrReportDescription[2]/power:energyReal/power:itemUnits",
                 "Wh");
    assert_xpath(&b, "//oadr:oadrReport[2]//ei:reportType", "x-resourceStatus");
    assert_xpath(&b, "//oadr:oadrReport[1]//oadr:oadrMinPeriod", "PT1M");
    assert_xpath(&b, "//oadr:oadrReport[2]//oadr:oadrOnChange", "true");
    built_free(&b);

    check_built(&b, &buf,
                fg_openadr_build_registered_report(&buf, &ok, "VEN-flexgw-7", &e), &e,
                "registered_report.xml");
    assert_xpath(&b, "//oadr:oadrRegisteredReport/ei:venID", "VEN-flexgw-7");
    built_free(&b);

    const char *pending[] = {"rr-usage-1", "rr-status-1"};
    check_built(
        &b, &buf,
        fg_openadr_build_created_report(&buf, &ok, pending, 2, "VEN-flexgw-7", &e), &e,
        "created_report.xml");
    assert_xpath_count(&b, "//oadr:oadrPendingReports/ei:reportRequestID", 2);
    built_free(&b);
    check_built(&b, &buf, fg_openadr_build_canceled_report(&buf, &ok, NULL, 0, NULL, &e),
                &e, "canceled_report.xml");
    assert_xpath_count(&b, "//oadr:oadrPendingReports/ei:reportRequestID", 0);
    built_free(&b);

    struct fg_openadr_report_value v0[] = {
        {.rid = "site-power", .value = 4321.5},
        {.rid = "site-energy", .value = 1.25e6},
    };
    struct fg_openadr_report_value v1[] = {
        {.rid = "site-power", .value = -1500},
        {.rid = "site-energy", .value = 1250375},
    };
    struct fg_openadr_report_value st[] = {{
        .rid = "site-status",
        .is_status = true,
        .status = {.online = true,
                   .manual_override = false,
                   .capacity = {.has = true,
                                .has_min = true,
                                .has_max = true,
                                .min = -11000,
                                .max = 22000,
                                .current = 7000},
                   .level_offset = {.has = true, .current = -2000, .has_normal = true}},
    }};
    struct fg_openadr_report_interval iv[] = {{now, 60, v0, 2}, {now + 60, 60, v1, 2}};
    struct fg_openadr_report_interval siv[] = {{now, 900, st, 1}};
    struct fg_openadr_report_data data[] = {
        {.report_id = "rep-1",
         .report_request_id = "rr-usage-1",
         .report_specifier_id = "spec-usage",
         .name = FG_OADR_REPORT_TELEMETRY_USAGE,
         .dtstart = now,
         .duration_s = 120,
         .intervals = iv,
         .n_intervals = 2,
         .created = now + 120},
        {.report_request_id = "rr-status-1",
         .report_specifier_id = "spec-status",
         .name = FG_OADR_REPORT_TELEMETRY_STATUS,
         .dtstart = now,
         .duration_s = 900,
         .intervals = siv,
         .n_intervals = 1,
         .created = now + 120},
    };
    check_built(&b, &buf,
                fg_openadr_build_update_report(&buf, "ur-1", data, 2, "VEN-flexgw-7", &e),
                &e, "update_report.xml");
    assert_xpath_count(&b, "//oadr:oadrReport[1]//ei:interval", 2);
    assert_xpath(&b,
                 "//oadr:oadrReport[1]//ei:interval[2]/oadr:oadrReportPayload[1]"
                 "/ei:payloadFloat/ei:value",
                 "-1500");
    assert_xpath(&b,
                 "//oadr:oadrReport[1]//ei:interval[1]/oadr:oadrReportPayload[1]"
                 "/ei:payloadFloat/ei:value",
                 "4321.5");
    assert_xpath(&b, "//oadr:oadrReport[1]//ei:interval[2]/xcal:dtstart/xcal:date-time",
                 "2026-06-01T10:01:00Z");
    assert_xpath(&b, "//oadr:oadrReport[1]/ei:reportRequestID", "rr-usage-1");
    assert_xpath(&b, "//oadr:oadrReport[1]/ei:eiReportID", "rep-1");
    assert_xpath(&b, "//oadr:oadrReport[2]/ei:reportName", "TELEMETRY_STATUS");
    assert_xpath(&b, "//oadr:oadrPayloadResourceStatus/oadr:oadrOnline", "true");
    assert_xpath(&b, "//oadr:oadrLoadControlState/oadr:oadrCapacity/oadr:oadrMax",
                 "22000");
    assert_xpath(&b, "//oadr:oadrLoadControlState/oadr:oadrCapacity/oadr:oadrCurrent",
                 "7000");
    assert_xpath(&b, "//oadr:oadrLoadControlState/oadr:oadrLevelOffset/oadr:oadrCurrent",
                 "-2000");
    built_free(&b);
}

static void build_opts(void **state)
{
    (void)state;
    struct fg_buf buf;
    struct fg_error e;
    struct built b;
    fg_buf_init(&buf, FG_OPENADR_BUILD_MAX);
    fg_error_clear(&e);
    int64_t t0 = t_of("2026-06-03T06:00:00Z");
    struct fg_openadr_window win[] = {{t0, 4 * 3600}, {t0 + 86400, 2 * 3600}};
    const char *res[] = {"battery-1"};
    struct fg_openadr_create_opt o = {.request_id = "opt-req-1",
                                      .opt_id = "opt-maint-1",
                                      .opt = FG_OADR_OPT_OUT,
                                      .reason = "x-schedule",
                                      .market_context =
                                          "http://dso.example/markets/congestion",
                                      .ven_id = "VEN-flexgw-7",
                                      .windows = win,
                                      .n_windows = 2,
                                      .created = t0 - 3600,
                                      .resource_ids = res,
                                      .n_resource_ids = 1};
    check_built(&b, &buf, fg_openadr_build_create_opt(&buf, &o, &e), &e,
                "create_opt.xml");
    assert_xpath(&b, "//ei:optType", "optOut");
    assert_xpath(&b, "//ei:optReason", "x-schedule");
    assert_xpath_count(&b, "//xcal:available", 2);
    assert_xpath(&b, "//xcal:available[2]//xcal:date-time", "2026-06-04T06:00:00Z");
    assert_xpath(&b, "//xcal:available[2]//xcal:duration/xcal:duration", "PT2H");
    assert_xpath(&b, "//ei:eiTarget/ei:resourceID", "battery-1");
    assert_xpath_count(&b, "//ei:qualifiedEventID", 0);
    built_free(&b);

    struct fg_openadr_create_opt oe = {.request_id = "opt-req-2",
                                       .opt_id = "opt-ev-1",
                                       .opt = FG_OADR_OPT_OUT,
                                       .reason = "notParticipating",
                                       .ven_id = "VEN-flexgw-7",
                                       .created = t0,
                                       .event_id = "evt-limit-77",
                                       .modification_number = 2};
    check_built(&b, &buf, fg_openadr_build_create_opt(&buf, &oe, &e), &e,
                "create_opt_event.xml");
    assert_xpath(&b, "//ei:qualifiedEventID/ei:eventID", "evt-limit-77");
    assert_xpath(&b, "//ei:eiTarget/ei:venID", "VEN-flexgw-7");
    assert_xpath_count(&b, "//xcal:vavailability", 0);
    built_free(&b);

    check_built(
        &b, &buf,
        fg_openadr_build_cancel_opt(&buf, "opt-req-3", "opt-maint-1", "VEN-flexgw-7", &e),
        &e, "cancel_opt.xml");
    assert_xpath(&b, "//oadr:oadrCancelOpt/ei:optID", "opt-maint-1");
    built_free(&b);
}

/* Builder refusals name the field; a small buffer is FG_ETOOBIG. */
static void build_errors(void **state)
{
    (void)state;
    struct fg_buf buf;
    struct fg_error e;
    fg_buf_init(&buf, FG_OPENADR_BUILD_MAX);
    fg_error_clear(&e);
    assert_int_equal(fg_openadr_build_poll(&buf, NULL, &e), FG_EINVAL);
    assert_string_equal(e.path, "ei:venID");
    fg_buf_clear(&buf);
    assert_int_equal(fg_openadr_build_poll(&buf, "bad\001id", &e), FG_EINVAL);
    assert_string_equal(e.path, "ei:venID");
    fg_buf_clear(&buf);
    assert_int_equal(fg_openadr_build_poll(&buf, "bad\xff", &e), FG_EINVAL);
    fg_buf_clear(&buf);
    struct fg_openadr_ei_response r = {1000, NULL, "x"};
    assert_int_equal(fg_openadr_build_response(&buf, &r, NULL, &e), FG_EINVAL);
    assert_string_equal(e.path, "ei:responseCode");
    fg_buf_clear(&buf);
    struct fg_openadr_create_opt o = {
        .request_id = "r", .opt_id = "o", .reason = "because", .ven_id = "v"};
    assert_int_equal(fg_openadr_build_create_opt(&buf, &o, &e), FG_EINVAL);
    assert_string_equal(e.path, "ei:optReason");
    fg_buf_clear(&buf);
    struct fg_openadr_report_value v = {.rid = "p", .value = NAN};
    struct fg_openadr_report_interval iv = {0, 60, &v, 1};
    struct fg_openadr_report_data d = {.report_request_id = "a",
                                       .report_specifier_id = "b",
                                       .intervals = &iv,
                                       .n_intervals = 1};
    assert_int_equal(fg_openadr_build_update_report(&buf, "u", &d, 1, NULL, &e),
                     FG_EINVAL);
    assert_string_equal(e.path, "ei:value");
    fg_buf_clear(&buf);

    struct fg_buf small;
    fg_buf_init(&small, 100);
    assert_int_equal(fg_openadr_build_poll(&small, "VEN-flexgw-7", &e), FG_ETOOBIG);
    assert_null(fg_buf_take(&small));
}

/* What the VEN builds decodes as a payload a VEN does not receive: the type
 * is named, and the error says so. */
static void built_not_received(void **state)
{
    (void)state;
    struct fg_buf buf;
    struct fg_error e;
    fg_buf_init(&buf, FG_OPENADR_BUILD_MAX);
    fg_error_clear(&e);
    assert_int_equal(fg_openadr_build_poll(&buf, "VEN-1", &e), 0);
    char *xml = fg_buf_take(&buf);
    struct fg_openadr_msg m;
    fg_openadr_msg_init(&m);
    assert_int_equal(fg_openadr_decode(xml, strlen(xml), NULL, &m, &e), FG_EUNSUPPORTED);
    assert_int_equal(m.type, FG_OADR_POLL);
    assert_string_equal(fg_openadr_type_name(m.type), "oadrPoll");
    assert_string_equal(e.path, "/oadrPoll");
    fg_openadr_msg_clear(&m);
    free(xml);
    fg_buf_init(&buf, FG_OPENADR_BUILD_MAX);
    assert_int_equal(fg_openadr_build_request_event(&buf, "re-1", "VEN-1", 0, &e), 0);
    xml = fg_buf_take(&buf);
    fg_openadr_msg_init(&m);
    assert_int_equal(fg_openadr_decode(xml, strlen(xml), NULL, &m, &e), FG_EUNSUPPORTED);
    assert_int_equal(m.type, FG_OADR_REQUEST_EVENT);
    fg_openadr_msg_clear(&m);
    free(xml);
}

/* ---- bad input ----------------------------------------------------------------------
 */

static void hostile(void **state)
{
    (void)state;
    struct fg_openadr_opts with = {.schema = schema};
    expect_file_error("bad/billion_laughs.xml", NULL, FG_EFORBIDDEN, "DOCTYPE", NULL);
    expect_file_error("bad/xxe.xml", NULL, FG_EFORBIDDEN, "DOCTYPE", NULL);
    expect_file_error("bad/xxe.xml", &with, FG_EFORBIDDEN, "DOCTYPE", NULL);
    expect_file_error("bad/external_dtd.xml", NULL, FG_EFORBIDDEN, "DOCTYPE", NULL);
    /* Refused at the DOCTYPE's name: the broken internal subset after it is
     * never read (else this would be a parse error). */
    expect_file_error("bad/doctype_then_garbage.xml", NULL, FG_EFORBIDDEN, "DOCTYPE",
                      NULL);
    expect_file_error("bad/xxe_no_doctype.xml", NULL, FG_EPARSE, "xxe", NULL);
    expect_file_error("bad/malformed.xml", NULL, FG_EPARSE, "line 2", NULL);

    /* Over the size limit: refused before parsing, whatever the content. */
    size_t big = 100u * 1024 * 1024;
    char *body = malloc(big);
    assert_non_null(body);
    memset(body, '<', big);
    expect_error(body, big, NULL, FG_ETOOBIG, "over the limit of 1048576", NULL);
    free(body);
    size_t len;
    char *xml = slurp(DATA "/distribute_event.xml", &len);
    struct fg_openadr_opts tight = {.max_bytes = len - 1};
    expect_error(xml, len, &tight, FG_ETOOBIG, "over the limit", NULL);
    tight.max_bytes = len;
    struct fg_openadr_msg m;
    struct fg_error e;
    fg_openadr_msg_init(&m);
    assert_int_equal(fg_openadr_decode(xml, len, &tight, &m, &e), 0);
    fg_openadr_msg_clear(&m);
    /* The sample nests 12 deep (oadrPayload .. payloadFloat/value). */
    struct fg_openadr_opts shallow = {.max_depth = 11};
    expect_error(xml, len, &shallow, FG_ETOOBIG, "deeper than 11", NULL);
    shallow.max_depth = 12;
    fg_openadr_msg_init(&m);
    assert_int_equal(fg_openadr_decode(xml, len, &shallow, &m, &e), 0);
    fg_openadr_msg_clear(&m);
    free(xml);

    /* Deep nesting: 10,000 levels stop at the default limit. */
    size_t depth = 10000;
    char *deep = malloc(depth * 7 + 1);
    assert_non_null(deep);
    for (size_t i = 0; i < depth; i++)
        memcpy(deep + 3 * i, "<a>", 3);
    for (size_t i = 0; i < depth; i++)
        memcpy(deep + 3 * depth + 4 * i, "</a>", 4);
    expect_error(deep, depth * 7, NULL, FG_ETOOBIG, "deeper than 40", NULL);
    free(deep);

    expect_error("", 0, NULL, FG_EPARSE, "", NULL);
    expect_error("not xml at all", 14, NULL, FG_EPARSE, "not well-formed", NULL);
    static const char undeclared[] =
        "<oadr:oadrPayload xmlns:oadr=\"http://openadr.org/oadr-2.0b/2012/07\">"
        "<oadr:oadrSignedObject><oadr:oadrRequestReregistration><ei:venID>v</ei:venID>"
        "</oadr:oadrRequestReregistration></oadr:oadrSignedObject></oadr:oadrPayload>";
    expect_error(undeclared, sizeof undeclared - 1, NULL, FG_EPARSE,
                 "Namespace prefix ei on venID is not defined", NULL);
    static const char wrong_root[] = "<oadrPayload xmlns=\"urn:other\"/>";
    expect_error(wrong_root, sizeof wrong_root - 1, NULL, FG_EINVAL,
                 "root element must be oadr:oadrPayload", NULL);
}

static void schema_invalid(void **state)
{
    (void)state;
    struct fg_openadr_opts with = {.schema = schema};
    /* The decoder's own checks name the element path. */
    expect_file_error("bad/missing_event_id.xml", NULL, FG_EINVAL,
                      "expected ei:eventID, found ei:modificationNumber",
                      "/oadrDistributeEvent/oadrEvent[0]/eiEvent/eventDescriptor");
    expect_file_error("bad/wrong_order.xml", NULL, FG_EINVAL,
                      "expected ei:signalName, found ei:signalType",
                      "/oadrDistributeEvent/oadrEvent[0]/eiEvent/eiEventSignals/"
                      "eiEventSignal");
    expect_file_error(
        "bad/duration_p.xml", NULL, FG_ERANGE, "duration 'P': no component",
        "/oadrDistributeEvent/oadrEvent[0]/eiEvent/eiActivePeriod/properties/"
        "duration/duration");
    expect_file_error("bad/duration_twice.xml", NULL, FG_ERANGE,
                      "duration 'PT1H1H': unit 'H' not allowed here", NULL);
    /* With the XSD, libxml2's validator speaks first. */
    expect_file_error("bad/missing_event_id.xml", &with, FG_EINVAL,
                      "schema-invalid: line 26", NULL);
    expect_file_error("bad/wrong_order.xml", &with, FG_EINVAL, "signalType", NULL);
    expect_file_error("bad/duration_twice.xml", &with, FG_EINVAL, "pattern", NULL);
    /* The XSD's pattern lets "P" through; the decoder does not. */
    expect_file_error("bad/duration_p.xml", &with, FG_ERANGE, "no component", NULL);

    /* Right local name, wrong namespace: not matched. */
    static const char other_ns[] =
        "<oadrPayload xmlns=\"http://openadr.org/oadr-2.0b/2012/07\"><oadrSignedObject>"
        "<oadrRequestReregistration><venID>v</venID></oadrRequestReregistration>"
        "</oadrSignedObject></oadrPayload>";
    expect_error(other_ns, sizeof other_ns - 1, NULL, FG_EINVAL,
                 "expected ei:venID, found oadr:venID", "/oadrRequestReregistration");
    static const char extra[] =
        "<oadrPayload xmlns=\"http://openadr.org/oadr-2.0b/2012/07\" "
        "xmlns:ei=\"http://docs.oasis-open.org/ns/energyinterop/"
        "201110\"><oadrSignedObject>"
        "<oadrRequestReregistration><ei:venID>v</ei:venID><ei:vtnID>x</ei:vtnID>"
        "</oadrRequestReregistration></oadrSignedObject></oadrPayload>";
    expect_error(extra, sizeof extra - 1, NULL, FG_EINVAL, "unexpected ei:vtnID",
                 "/oadrRequestReregistration");
    static const char unknown[] =
        "<oadrPayload xmlns=\"http://openadr.org/oadr-2.0b/2012/07\"><oadrSignedObject>"
        "<oadrSomethingElse/></oadrSignedObject></oadrPayload>";
    expect_error(unknown, sizeof unknown - 1, NULL, FG_EINVAL, "unknown payload", NULL);

    /* Bad values inside a well-formed document. */
    size_t len;
    char *xml = slurp(DATA "/distribute_event.xml", &len);
    static const struct {
        const char *from, *to;
        int code;
        const char *msg, *path;
    } edits[] = {
        {"<e:value>7500.5<", "<e:value>lots<", FG_ERANGE, "'lots' is not a finite number",
         "/oadrDistributeEvent/oadrEvent[1]/eiEvent/eiEventSignals/eiEventSignal[0]/"
         "intervals/interval[1]/signalPayload/payloadFloat/value"},
        {"<e:resourceID>battery-1<", "<e:resourceID><x/><", FG_EINVAL,
         "expected text, found element x",
         "/oadrDistributeEvent/oadrEvent[1]/eiEvent/eiTarget/resourceID[1]"},
        {"<e:eventStatus>far<", "<e:eventStatus>soon<", FG_EINVAL,
         "'soon' is not a known eventStatus", NULL},
        {"<e:modificationNumber>2<", "<e:modificationNumber>-2<", FG_ERANGE,
         "not an unsigned integer", NULL},
        {"<e:value>0.21<", "<e:value>nan<", FG_ERANGE, "not a finite number", NULL},
        {"<e:value>0.35<", "<e:value>1e999<", FG_ERANGE, "not a finite number", NULL},
        {"<e:signalType>price<", "<e:signalType>cheap<", FG_EINVAL,
         "not a known signalType", NULL},
        {">ELECTRICITY_PRICE<", ">GAS_PRICE<", FG_EINVAL, "not a signalName", NULL},
        {"2026-05-31T12:00:00Z", "2026-02-30T12:00:00Z", FG_ERANGE, "no such time", NULL},
        {"<e:responseCode>200<", "<e:responseCode>20<", FG_EINVAL, "not 3 digits", NULL},
        {"<oadrResponseRequired>always<", "<oadrResponseRequired>sometimes<", FG_EINVAL,
         "not a known oadrResponseRequired", NULL},
        {"<p:requestID>req-de-0042</p:requestID>", "", FG_EINVAL,
         "expected pyld:requestID, found ei:vtnID", NULL},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        const char *at = strstr(xml, edits[i].from);
        assert_non_null(at);
        size_t fl = strlen(edits[i].from), tl = strlen(edits[i].to);
        char *s = malloc(len + tl + 1);
        assert_non_null(s);
        size_t pre = (size_t)(at - xml);
        memcpy(s, xml, pre);
        memcpy(s + pre, edits[i].to, tl);
        memcpy(s + pre + tl, at + fl, len - pre - fl + 1);
        expect_error(s, strlen(s), NULL, edits[i].code, edits[i].msg, edits[i].path);
        free(s);
    }
    free(xml);
}

/* Character encodings: declared ones are converted to UTF-8, broken ones are
 * parse errors, and libxml2 prints nothing to stderr either way (the codec
 * does not log). */
static void encodings(void **state)
{
    (void)state;
    fflush(stderr);
    int saved = dup(2);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    dup2(fileno(cap), 2);

    static const char latin1[] =
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<oadr:oadrPayload "
        "xmlns:oadr=\"http://openadr.org/oadr-2.0b/2012/07\" "
        "xmlns:ei=\"http://docs.oasis-open.org/ns/energyinterop/201110\">"
        "<oadr:oadrSignedObject><oadr:oadrRequestReregistration><ei:venID>V\xe9N</"
        "ei:venID>"
        "</oadr:oadrRequestReregistration></oadr:oadrSignedObject></oadr:oadrPayload>";
    struct fg_openadr_msg m;
    struct fg_error e;
    fg_openadr_msg_init(&m);
    int rc = fg_openadr_decode(latin1, sizeof latin1 - 1, NULL, &m, &e);
    bool latin_ok = rc == 0 && !strcmp(m.u.reregistration_ven_id, "V\xc3\xa9N");
    fg_openadr_msg_clear(&m);
    static const char utf16[] =
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\xff\xff\xff\xff<a/>";
    static const char bad_utf8[] = "<?xml version=\"1.0\"?>\n<a>\xff\xfe</a>";
    static const char unknown[] = "<?xml version=\"1.0\" encoding=\"X-NONE\"?><a/>";
    int rc16 = fg_openadr_decode(utf16, sizeof utf16 - 1, NULL, &m, &e);
    fg_openadr_msg_clear(&m);
    int rc8 = fg_openadr_decode(bad_utf8, sizeof bad_utf8 - 1, NULL, &m, &e);
    fg_openadr_msg_clear(&m);
    int rcx = fg_openadr_decode(unknown, sizeof unknown - 1, NULL, &m, &e);
    fg_openadr_msg_clear(&m);
    /* An encoding name iconv half-knows: libxml2 2.9 reports its conversion
     * errors without a parser context (found by fuzz_openadr). */
    size_t ilen;
    char *ixml = slurp(DATA "/bad/iconv_error.xml", &ilen);
    struct fg_error ie;
    int rci = fg_openadr_decode(ixml, ilen, NULL, &m, &ie);
    fg_openadr_msg_clear(&m);
    free(ixml);
    expect_file_error("bad/billion_laughs.xml", NULL, FG_EFORBIDDEN, "DOCTYPE", NULL);
    expect_file_error("bad/malformed.xml", NULL, FG_EPARSE, "line 2", NULL);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long printed = ftell(cap);
    fseek(cap, 0, SEEK_END);
    printed = ftell(cap);
    fclose(cap);
    assert_true(latin_ok);
    assert_int_equal(rc16, FG_EPARSE);
    assert_int_equal(rc8, FG_EPARSE);
    assert_int_equal(rcx, FG_EPARSE);
    if (rci != FG_EPARSE)
        fail_msg("iconv_error.xml: %s %s: %s", fg_errname(rci), ie.path, ie.msg);
    assert_int_equal(printed, 0);
}

/* Every good sample validates against the XSD through the library too. */
static void samples_validate(void **state)
{
    (void)state;
    static const char *const files[] = {
        "distribute_event.xml",
        "created_party_registration.xml",
        "create_report.xml",
        "cancel_report.xml",
        "registered_report.xml",
        "response.xml",
        "canceled_party_registration.xml",
        "cancel_party_registration.xml",
        "request_reregistration.xml",
        "created_opt.xml",
        "canceled_opt.xml",
        "updated_report.xml",
        "created_report.xml",
        "canceled_report.xml",
        "register_report.xml",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", DATA, files[i]);
        size_t len;
        char *xml = slurp(path, &len);
        struct fg_error e;
        fg_error_clear(&e);
        if (fg_openadr_validate(schema, xml, len, NULL, &e))
            fail_msg("%s: %s", files[i], e.msg);
        free(xml);
    }
}

static int setup(void **state)
{
    (void)state;
    struct fg_error e;
    fg_error_clear(&e);
    schema = fg_openadr_schema_load(XSD, &e);
    if (!schema) {
        fprintf(stderr, "schema: %s: %s\n", e.path, e.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fg_openadr_schema_free(schema);
    xmlCleanupParser();
    return 0;
}

/* openadr.groups: the configured list and its lookup. */
static void groups(void **state)
{
    (void)state;
    char why[128];
    assert_int_equal(fg_openadr_groups_check("north", why, sizeof(why)), 0);
    assert_int_equal(fg_openadr_groups_check(" north ,feeder-12,\tx ", why, sizeof(why)),
                     0);
    assert_int_equal(fg_openadr_groups_check("a,,b", why, sizeof(why)), FG_EINVAL);
    assert_string_equal(why, "entry 1 is empty (write \"a, b\")");
    assert_int_equal(fg_openadr_groups_check("a, ", why, sizeof(why)), FG_EINVAL);
    assert_string_equal(why, "entry 1 is empty (write \"a, b\")");
    assert_int_equal(fg_openadr_groups_check("a,b\nc", why, sizeof(why)), FG_EINVAL);
    assert_string_equal(why, "entry 1 holds a control character");
    char longer[FG_OPENADR_GROUP_MAX + 8];
    memset(longer, 'g', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = 0;
    assert_int_equal(fg_openadr_groups_check(longer, why, sizeof(why)), FG_EINVAL);
    assert_non_null(strstr(why, "entry 0 is longer than 127"));
    const char *list = " north ,feeder-12";
    assert_true(fg_openadr_groups_has(list, "north"));
    assert_true(fg_openadr_groups_has(list, "feeder-12"));
    assert_false(fg_openadr_groups_has(list, "feeder-1"));
    assert_false(fg_openadr_groups_has(list, "North"));
    assert_false(fg_openadr_groups_has(list, ""));
    assert_false(fg_openadr_groups_has("", ""));
    assert_false(fg_openadr_groups_has(NULL, "north"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations),
        cmocka_unit_test(datetimes),
        cmocka_unit_test(distribute_event),
        cmocka_unit_test(registration),
        cmocka_unit_test(reports),
        cmocka_unit_test(build_registration),
        cmocka_unit_test(build_events),
        cmocka_unit_test(build_reports),
        cmocka_unit_test(build_opts),
        cmocka_unit_test(build_errors),
        cmocka_unit_test(built_not_received),
        cmocka_unit_test(hostile),
        cmocka_unit_test(schema_invalid),
        cmocka_unit_test(encodings),
        cmocka_unit_test(samples_validate),
        cmocka_unit_test(groups),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
