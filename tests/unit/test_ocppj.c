/* OCPP-J framing: golden frames modelled on the part 4 examples, round trips
 * for every message type, a table of malformed frames with the CALLERROR each
 * must produce, truncation of descriptions and the message-id generator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"
#include "fg_ocppj.h"

#define BUF_MAX (1u << 20)

static char *encode_done(struct fg_buf *b, int rc)
{
    assert_int_equal(rc, 0);
    char *s = fg_buf_take(b);
    assert_non_null(s);
    return s;
}

/* ---- golden frames ---------------------------------------------------------- */

struct golden {
    enum fg_ocppj_dialect d;
    const char *frame;   /* as on the wire, with the spec's whitespace */
    const char *compact; /* what our encoder writes for it */
    enum fg_ocppj_type type;
    const char *id, *action, *payload;
    enum fg_ocpp_errcode code;
    const char *desc;
};

static const struct golden goldens[] = {
    {FG_OCPPJ_201,
     "[2,\n \"19223201\",\n \"BootNotification\",\n {\n  \"reason\": \"PowerUp\",\n"
     "  \"chargingStation\": {\n   \"model\": \"SingleSocketCharger\",\n"
     "   \"vendorName\": \"VendorX\"\n  }\n }\n]",
     "[2,\"19223201\",\"BootNotification\",{\"reason\":\"PowerUp\",\"chargingStation\":"
     "{\"model\":\"SingleSocketCharger\",\"vendorName\":\"VendorX\"}}]",
     FG_OCPPJ_CALL, "19223201", "BootNotification",
     "{\"reason\":\"PowerUp\",\"chargingStation\":{\"model\":\"SingleSocketCharger\","
     "\"vendorName\":\"VendorX\"}}",
     FG_OCPP_OK, NULL},
    {FG_OCPPJ_201,
     "[3,\n \"19223201\",\n {\n  \"currentTime\": \"2013-02-01T20:53:32.486Z\",\n"
     "  \"interval\": 300,\n  \"status\": \"Accepted\"\n }\n]",
     "[3,\"19223201\",{\"currentTime\":\"2013-02-01T20:53:32.486Z\",\"interval\":300,"
     "\"status\":\"Accepted\"}]",
     FG_OCPPJ_CALLRESULT, "19223201", "",
     "{\"currentTime\":\"2013-02-01T20:53:32.486Z\",\"interval\":300,"
     "\"status\":\"Accepted\"}",
     FG_OCPP_OK, NULL},
    {FG_OCPPJ_201,
     "[4,\n \"162376037\",\n \"NotSupported\",\n \"SetDisplayMessageRequest not "
     "implemented\",\n {}\n]",
     "[4,\"162376037\",\"NotSupported\",\"SetDisplayMessageRequest not implemented\",{}]",
     FG_OCPPJ_CALLERROR, "162376037", "", "{}", FG_OCPP_NOT_SUPPORTED,
     "SetDisplayMessageRequest not implemented"},
    {FG_OCPPJ_21,
     "[6, \"162376041\", \"NotifyPeriodicEventStream\", {\"id\": 1, \"pending\": 0,"
     " \"basetime\": \"2024-01-10T12:00:00Z\", \"data\": [{\"t\": 0, \"v\": "
     "\"230.1\"}]}]",
     "[6,\"162376041\",\"NotifyPeriodicEventStream\",{\"id\":1,\"pending\":0,"
     "\"basetime\":\"2024-01-10T12:00:00Z\",\"data\":[{\"t\":0,\"v\":\"230.1\"}]}]",
     FG_OCPPJ_SEND, "162376041", "NotifyPeriodicEventStream",
     "{\"id\":1,\"pending\":0,\"basetime\":\"2024-01-10T12:00:00Z\","
     "\"data\":[{\"t\":0,\"v\":\"230.1\"}]}",
     FG_OCPP_OK, NULL},
    {FG_OCPPJ_21,
     "[5, \"19223202\", \"FormatViolation\", \"Unable to parse tariff\", {\"field\": "
     "\"tariff\"}]",
     "[5,\"19223202\",\"FormatViolation\",\"Unable to parse "
     "tariff\",{\"field\":\"tariff\"}]",
     FG_OCPPJ_CALLRESULTERROR, "19223202", "", "{\"field\":\"tariff\"}",
     FG_OCPP_FORMAT_VIOLATION, "Unable to parse tariff"},
};

static char *reencode(const struct fg_ocppj_msg *m)
{
    struct fg_buf b;
    int rc = FG_EINVAL;
    fg_buf_init(&b, BUF_MAX);
    switch (m->type) {
    case FG_OCPPJ_CALL:
        rc = fg_ocppj_encode_call(&b, m->id, m->action, m->payload);
        break;
    case FG_OCPPJ_SEND:
        rc = fg_ocppj_encode_send(&b, m->id, m->action, m->payload);
        break;
    case FG_OCPPJ_CALLRESULT:
        rc = fg_ocppj_encode_result(&b, m->id, m->payload);
        break;
    case FG_OCPPJ_CALLERROR:
    case FG_OCPPJ_CALLRESULTERROR:
        rc = fg_ocppj_encode_error(&b, m->type, m->id, m->error_code, m->error_desc,
                                   m->error_details);
        break;
    case FG_OCPPJ_NONE:
        break;
    }
    return encode_done(&b, rc);
}

static void test_golden(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
        const struct golden *g = &goldens[i];
        struct fg_ocppj_msg m;
        struct fg_ocpp_verror err;
        fg_ocppj_msg_init(&m);
        int rc = fg_ocppj_decode(g->frame, strlen(g->frame), g->d, &m, &err);
        if (rc)
            fprintf(stderr, "golden %zu: %s\n", i, err.desc);
        assert_int_equal(rc, 0);
        assert_int_equal(err.code, FG_OCPP_OK);
        assert_int_equal(m.type, g->type);
        assert_string_equal(m.id, g->id);
        assert_string_equal(m.action, g->action);
        assert_int_equal(m.answer, FG_OCPPJ_ANSWER_NONE);
        cJSON *want = cJSON_Parse(g->payload);
        const cJSON *got = g->code ? m.error_details : m.payload;
        assert_true(cJSON_Compare(want, got, 1));
        if (g->code) {
            assert_int_equal(m.error_code, g->code);
            assert_string_equal(m.error_desc, g->desc);
            assert_string_equal(m.error_code_text, fg_ocpp_errcode_name(g->code));
            assert_null(m.payload);
        } else {
            assert_null(m.error_details);
        }
        char *s = reencode(&m);
        assert_string_equal(s, g->compact);
        free(s);
        cJSON_Delete(want);
        fg_ocppj_msg_clear(&m);
    }
}

/* ---- round trips ------------------------------------------------------------ */

static void roundtrip_one(enum fg_ocppj_type t, const char *id, const char *action,
                          const char *json)
{
    cJSON *p = json ? cJSON_Parse(json) : NULL;
    struct fg_ocppj_msg in, out;
    struct fg_ocpp_verror err;
    fg_ocppj_msg_init(&in);
    fg_ocppj_msg_init(&out);
    in.type = t;
    snprintf(in.id, sizeof(in.id), "%s", id);
    snprintf(in.action, sizeof(in.action), "%s", action);
    in.error_code = FG_OCPP_PROPERTY_CONSTRAINT_VIOLATION;
    snprintf(in.error_desc, sizeof(in.error_desc),
             "bad \"value\"\n\tat /a/b \xe2\x82\xac");
    if (t == FG_OCPPJ_CALLERROR || t == FG_OCPPJ_CALLRESULTERROR)
        in.error_details = p;
    else
        in.payload = p;
    char *frame = reencode(&in);
    int rc = fg_ocppj_decode(frame, strlen(frame), FG_OCPPJ_21, &out, &err);
    if (rc)
        fprintf(stderr, "%s: %s\n", frame, err.desc);
    assert_int_equal(rc, 0);
    assert_int_equal(out.type, t);
    assert_string_equal(out.id, id);
    cJSON *empty = cJSON_CreateObject();
    if (t == FG_OCPPJ_CALLERROR || t == FG_OCPPJ_CALLRESULTERROR) {
        assert_int_equal(out.error_code, in.error_code);
        assert_string_equal(out.error_desc, in.error_desc);
        assert_true(cJSON_Compare(p ? p : empty, out.error_details, 1));
    } else {
        assert_string_equal(out.action, action);
        assert_true(cJSON_Compare(p ? p : empty, out.payload, 1));
    }
    cJSON_Delete(empty);
    free(frame);
    cJSON_Delete(p); /* a message's trees are not its to free */
    fg_ocppj_msg_clear(&in);
    fg_ocppj_msg_clear(&out);
}

static void test_roundtrip(void **state)
{
    (void)state;
    static const char *payloads[] = {
        NULL,
        "{}",
        "{\"a\":1,\"b\":-0.5,\"c\":1e300,\"d\":[true,false,null],\"e\":\"\\u00e9\\\"\"}",
        "{\"s\":\"\\u0001\\u001f\\\\/\\ud83d\\ude00 "
        "\xe2\x82\xac\",\"n\":123456789012345}",
        "{\"x\":{\"y\":{\"z\":[[[[{}]]]]}},\"big\":1e308,\"m\":-9.999999999999999e307,"
        "\"t\":5e-324}",
    };
    static const struct {
        enum fg_ocppj_type t;
        const char *action;
    } types[] = {{FG_OCPPJ_CALL, "Heartbeat"},
                 {FG_OCPPJ_SEND, "NotifyPeriodicEventStream"},
                 {FG_OCPPJ_CALLRESULT, ""},
                 {FG_OCPPJ_CALLERROR, ""},
                 {FG_OCPPJ_CALLRESULTERROR, ""}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        for (size_t j = 0; j < sizeof(payloads) / sizeof(payloads[0]); j++) {
            roundtrip_one(types[i].t, "a-1", types[i].action, payloads[j]);
            roundtrip_one(types[i].t, "x\"y\\z 012345678901234567890123456789",
                          types[i].action, payloads[j]);
        }
    }
}

/* A payload larger than the encoder's first guess, so the buffer grows. */
static void test_large_payload(void **state)
{
    (void)state;
    cJSON *p = cJSON_CreateObject();
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    cJSON_AddStringToObject(p, "blob", big);
    struct fg_buf b;
    fg_buf_init(&b, BUF_MAX);
    char *frame = encode_done(&b, fg_ocppj_encode_call(&b, "1", "DataTransfer", p));
    struct fg_ocppj_msg m;
    fg_ocppj_msg_init(&m);
    assert_int_equal(fg_ocppj_decode(frame, strlen(frame), FG_OCPPJ_201, &m, NULL), 0);
    assert_true(cJSON_Compare(p, m.payload, 1));
    fg_ocppj_msg_clear(&m);
    free(frame);
    free(big);
    cJSON_Delete(p);
}

/* ---- malformed frames ------------------------------------------------------- */

struct bad {
    const char *frame;
    size_t len; /* 0: strlen(frame) */
    enum fg_ocppj_dialect d;
    enum fg_ocpp_errcode code;
    const char *id; /* "" if it cannot be recovered */
    enum fg_ocppj_answer answer;
};

#define RPC FG_OCPP_RPC_FRAMEWORK_ERROR
#define MTNS FG_OCPP_MESSAGE_TYPE_NOT_SUPPORTED
#define FV FG_OCPP_FORMAT_VIOLATION
#define NI FG_OCPP_NOT_IMPLEMENTED
#define D201 FG_OCPPJ_201
#define D21 FG_OCPPJ_21
#define A_NO FG_OCPPJ_ANSWER_NONE
#define A_CE FG_OCPPJ_ANSWER_CALLERROR
#define A_CRE FG_OCPPJ_ANSWER_CALLRESULTERROR

static const struct bad bads[] = {
    /* frame structure */
    {"[2,\"1\",\"Heartbeat\"]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"Heartbeat\",{},{}]", 0, D201, RPC, "1", A_CE},
    {"[2,1,\"Heartbeat\",{}]", 0, D201, RPC, "-1", A_CE},
    {"[2,[\"1\"],\"Heartbeat\",{}]", 0, D201, RPC, "-1", A_CE},
    {"[2,\"0123456789012345678901234567890123456\",\"A\",{}]", 0, D201, RPC, "-1", A_CE},
    {"[2,\"\",\"A\",{}]", 0, D201, RPC, "-1", A_CE},
    {"[2,\"a\\u0001b\",\"A\",{}]", 0, D201, RPC, "-1", A_CE},
    {"[2,\"a\\u007fb\",\"A\",{}]", 0, D201, RPC, "-1", A_CE},
    {"[2,\"\xc3\xa9\",\"A\",{}]", 0, D201, RPC, "-1", A_CE},
    {"[2]", 0, D201, RPC, "-1", A_CE},
    {"{}", 0, D201, RPC, "-1", A_CE},
    {"\"x\"", 0, D201, RPC, "-1", A_CE},
    {"42", 0, D201, RPC, "-1", A_CE},
    {"null", 0, D201, RPC, "-1", A_CE},
    {"[]", 0, D201, RPC, "-1", A_CE},
    {"", 0, D201, RPC, "-1", A_CE},
    {"   ", 0, D201, RPC, "-1", A_CE},
    {"[\"2\",\"1\",\"A\",{}]", 0, D201, RPC, "1", A_CE},
    {"[2.5,\"1\",\"A\",{}]", 0, D201, RPC, "1", A_CE},
    {"[true,\"1\",\"A\",{}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",5,{}]", 0, D201, RPC, "1", A_CE},
    /* not JSON, not UTF-8 (the id is still salvaged where it precedes the damage) */
    {"[2,\"1\",\"Heartbeat\",{", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"Heartbeat\",{}", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{}]x", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{}][]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{}]\x01", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":\"b\0c\"}]", 22, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{}]\0", 15, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":\"\xff\"}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":\"\xc0\xaf\"}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":\"\xed\xa0\x80\"}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":\"\xf4\x90\x80\x80\"}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":\"\xe2\x82\"}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":\"\\ud800\"}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":\"\\u0000\"}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":\"tab\there\"}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":01}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":+1}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":1.}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":-}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":1,}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{},]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":tru}]", 0, D201, RPC, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":1\x0b}]", 0, D201, RPC, "1", A_CE},
    {"\xef\xbb\xbf[2,\"1\",\"A\",{}]", 0, D201, RPC, "-1", A_CE},
    {"[2 \"1\",\"A\",{}]", 0, D201, RPC, "-1", A_CE},
    {"[2,\"1\\\"\",\"A\",{]", 0, D201, RPC, "-1", A_CE}, /* escaped id: not salvaged */
    {"[3,\"7\",{]", 0, D201, RPC, "7", A_NO},
    /* message types */
    {"[9,\"1\",\"X\",{}]", 0, D201, MTNS, "1", A_CE},
    {"[0,\"1\",\"X\",{}]", 0, D201, MTNS, "1", A_CE},
    {"[-2,\"1\",\"X\",{}]", 0, D201, MTNS, "1", A_CE},
    {"[1e20,\"1\",\"X\",{}]", 0, D201, MTNS, "1", A_CE},
    {"[9,\"1\"]", 0, D201, MTNS, "1", A_CE},
    {"[5,\"1\",\"GenericError\",\"x\",{}]", 0, D201, MTNS, "1", A_CE},
    {"[6,\"1\",\"A\",{}]", 0, D201, MTNS, "1", A_CE},
    /* actions */
    {"[2,\"1\",\"\",{}]", 0, D201, NI, "1", A_CE},
    {"[2,\"1\",\"Boot-Notification\",{}]", 0, D201, NI, "1", A_CE},
    {"[2,\"1\",\"Boot\\u00e9\",{}]", 0, D201, NI, "1", A_CE},
    {"[2,\"1\",\"A1234567890123456789012345678901234567890123456789012345678901234"
     "\",{}]",
     0, D201, NI, "1", A_CE},
    {"[6,\"1\",\"\",{}]", 0, D21, NI, "1", A_NO},
    /* payloads */
    {"[2,\"1\",\"Heartbeat\",[]]", 0, D201, FV, "1", A_CE},
    {"[2,\"1\",\"Heartbeat\",null]", 0, D201, FV, "1", A_CE},
    {"[2,\"1\",\"Heartbeat\",\"{}\"]", 0, D201, FV, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":1e999}]", 0, D201, FV, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":[-1E+400]}]", 0, D201, FV, "1", A_CE},
    {"[2,\"1\",\"A\",{\"a\":1.7976931348623157e308}]", 0, D201, FV, "1", A_CE},
    {"[3,\"1\",{\"a\":{\"b\":-1.1e308}}]", 0, D21, FV, "1", A_CRE},
    {"[6,\"1\",\"A\",[]]", 0, D21, FV, "1", A_NO},
    /* responses are never answered with a CALLERROR */
    {"[3,\"1\"]", 0, D201, RPC, "1", A_NO},
    {"[3,\"1\"]", 0, D21, RPC, "1", A_CRE},
    {"[3,\"1\",[]]", 0, D201, FV, "1", A_NO},
    {"[3,\"1\",[]]", 0, D21, FV, "1", A_CRE},
    {"[3,\"1\",{}", 0, D21, RPC, "1", A_CRE},
    {"[4,\"1\",\"GenericError\",\"x\"]", 0, D201, RPC, "1", A_NO},
    {"[4,\"1\",5,\"x\",{}]", 0, D201, RPC, "1", A_NO},
    {"[4,\"1\",\"GenericError\",5,{}]", 0, D201, RPC, "1", A_NO},
    {"[4,\"1\",\"GenericError\",\"x\",[]]", 0, D201, FV, "1", A_NO},
    {"[5,\"1\",\"GenericError\",\"x\",null]", 0, D21, FV, "1", A_NO},
    {"[6,\"1\",\"A\"]", 0, D21, RPC, "1", A_NO},
};

static void check_bad(size_t i, const struct bad *t)
{
    struct fg_ocppj_msg m;
    struct fg_ocpp_verror err;
    size_t len = t->len ? t->len : strlen(t->frame);
    fg_ocppj_msg_init(&m);
    int rc = fg_ocppj_decode(t->frame, len, t->d, &m, &err);
    if (rc >= 0 || err.code != t->code || strcmp(m.id, t->id) || m.answer != t->answer)
        fprintf(stderr, "bad[%zu] %.60s: rc %d code %s id \"%s\" answer %d (%s)\n", i,
                t->frame, rc, fg_ocpp_errcode_name(err.code), m.id, m.answer, err.desc);
    assert_true(rc < 0);
    assert_int_equal(err.code, t->code);
    assert_string_equal(m.id, t->id);
    assert_int_equal(m.answer, t->answer);
    assert_true(err.desc[0] != '\0');
    assert_true(strlen(err.desc) <= FG_OCPPJ_DESC_MAX);
    assert_null(m.payload);
    assert_null(m.error_details);
    fg_ocppj_msg_clear(&m);
}

static void test_malformed(void **state)
{
    (void)state;
    assert_true(sizeof(bads) / sizeof(bads[0]) >= 40);
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
        check_bad(i, &bads[i]);
}

/* Descriptions name the problem precisely. */
static void test_descriptions(void **state)
{
    (void)state;
    static const struct {
        const char *frame;
        const char *desc;
    } cases[] = {
        {"[2,\"1\",\"Heartbeat\"]", "CALL must have 4 elements, not 3"},
        {"[2,\"1\",\"A\",{}]x", "frame has trailing data at byte 14"},
        {"[2,\"1\",\"A\",{\"a\":\"\xff\"}]",
         "frame is not valid JSON at byte 17: not UTF-8"},
        {"[2,\"1\",\"Heartbeat\",{",
         "frame is not valid JSON at byte 20: it ends too early"},
        {"[2,\"1\",\"Heartbeat\",{} 1]", "frame is not valid JSON at byte 22"},
        {"[9,\"1\",\"X\",{}]", "message type 9 is not supported"},
        {"[6,\"1\",\"X\",{}]", "message type 6 is not supported before OCPP 2.1"},
        {"[2,\"0123456789012345678901234567890123456\",\"A\",{}]",
         "message id is longer than 36 characters"},
        {"[2,\"1\",\"Heartbeat\",[]]", "payload is not a JSON object"},
        {"[4,\"1\",\"GenericError\",\"x\",[]]", "errorDetails is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fg_ocppj_msg m;
        struct fg_ocpp_verror err;
        fg_ocppj_msg_init(&m);
        fg_ocppj_decode(cases[i].frame, strlen(cases[i].frame), FG_OCPPJ_201, &m, &err);
        assert_string_equal(err.desc, cases[i].desc);
        assert_string_equal(err.path, "");
        fg_ocppj_msg_clear(&m);
    }
}

/* ---- nesting ------------------------------------------------------------------ */

/* "[2,"1","A",{"a":[[...]]}]" with the payload object plus its arrays
 * `levels` deep or, with frame_only, just `levels` nested arrays. */
static char *nested(size_t levels, int frame_only)
{
    char *s = malloc(2 * levels + 32), *p = s;
    size_t arrays = frame_only ? levels : levels - 1;
    if (!frame_only)
        p += sprintf(p, "[2,\"1\",\"A\",{\"a\":");
    memset(p, '[', arrays);
    memset(p + arrays, ']', arrays);
    p += 2 * arrays;
    strcpy(p, frame_only ? "" : (arrays ? "}]" : "null}]"));
    return s;
}

static int decode_str(const char *s, struct fg_ocppj_msg *m, struct fg_ocpp_verror *e)
{
    return fg_ocppj_decode(s, strlen(s), FG_OCPPJ_201, m, e);
}

static void test_depth(void **state)
{
    (void)state;
    struct fg_ocppj_msg m;
    struct fg_ocpp_verror err;
    fg_ocppj_msg_init(&m);

    char *ok = nested(FG_OCPPJ_DEPTH_MAX, 0), *deep = nested(FG_OCPPJ_DEPTH_MAX + 1, 0);
    assert_int_equal(decode_str(ok, &m, &err), 0);
    assert_int_equal(decode_str(deep, &m, &err), FG_ETOOBIG);
    assert_int_equal(err.code, FG_OCPP_FORMAT_VIOLATION);
    assert_string_equal(m.id, "1");
    assert_int_equal(m.answer, FG_OCPPJ_ANSWER_CALLERROR);
    free(ok);
    free(deep);

    char *huge = nested(10000, 0);
    assert_true(decode_str(huge, &m, &err) < 0);
    assert_int_equal(err.code, FG_OCPP_FORMAT_VIOLATION);
    assert_string_equal(m.id, "1");
    free(huge);

    char *bare = nested(10000, 1);
    assert_true(decode_str(bare, &m, &err) < 0);
    assert_int_equal(err.code, FG_OCPP_RPC_FRAMEWORK_ERROR);
    assert_string_equal(m.id, "-1"); /* no id to read: OCPP-J 4.2.3 */
    assert_int_equal(m.answer, FG_OCPPJ_ANSWER_CALLERROR);
    free(bare);
    fg_ocppj_msg_clear(&m);
}

/* ---- accepted oddities -------------------------------------------------------- */

static void test_accepted(void **state)
{
    (void)state;
    struct fg_ocppj_msg m;
    struct fg_ocpp_verror err;
    fg_ocppj_msg_init(&m);

    /* whitespace around tokens and an integral type written as 2.0 */
    assert_int_equal(
        decode_str(" \t\r\n[ 2.0 , \"a b\" , \"Heartbeat\" , { } ] \n", &m, &err), 0);
    assert_string_equal(m.id, "a b");
    assert_string_equal(m.action, "Heartbeat");

    /* duplicate keys are passed through, in order, for the validator */
    assert_int_equal(decode_str("[3,\"1\",{\"a\":1,\"a\":2}]", &m, &err), 0);
    assert_int_equal(cJSON_GetArraySize(m.payload), 2);

    /* unknown error codes become GenericError; the text is kept */
    assert_int_equal(decode_str("[4,\"1\",\"NoSuchThingAsThisErrorCodeInOcppAtAll!\","
                                "\"d\",{}]",
                                &m, &err),
                     0);
    assert_int_equal(m.error_code, FG_OCPP_GENERIC_ERROR);
    assert_string_equal(m.error_code_text, "NoSuchThingAsThisErrorCodeInOcppAtAll!");

    /* a 300-byte description we receive is accepted and cut to 255 bytes on a
     * UTF-8 boundary (254 'a' then a 2-byte character that does not fit) */
    char frame[512];
    char desc[301];
    memset(desc, 'a', 254);
    strcpy(desc + 254, "\xc3\xa9");
    memset(desc + 256, 'b', 44);
    desc[300] = '\0';
    snprintf(frame, sizeof(frame), "[4,\"1\",\"InternalError\",\"%s\",{}]", desc);
    assert_int_equal(decode_str(frame, &m, &err), 0);
    assert_int_equal(strlen(m.error_desc), 254);
    assert_memory_equal(m.error_desc, desc, 254);

    /* a struct can be reused: decode clears it first */
    assert_int_equal(decode_str("[2,\"1\",\"A\",{\"x\":1}]", &m, &err), 0);
    assert_int_equal(decode_str("[2,\"1\",\"A\",{\"x\":1}]", &m, &err), 0);
    fg_ocppj_msg_clear(&m);
}

/* ---- encoding ------------------------------------------------------------------ */

static void test_encode_desc_truncation(void **state)
{
    (void)state;
    /* 254 ASCII bytes, then a 3-byte euro sign straddling byte 255 */
    char desc[400];
    memset(desc, 'a', 254);
    strcpy(desc + 254, "\xe2\x82\xac tail that is cut off");
    struct fg_buf b;
    fg_buf_init(&b, BUF_MAX);
    char *s = encode_done(&b, fg_ocppj_encode_error(&b, FG_OCPPJ_CALLERROR, "9",
                                                    FG_OCPP_INTERNAL_ERROR, desc, NULL));
    struct fg_ocppj_msg m;
    fg_ocppj_msg_init(&m);
    assert_int_equal(decode_str(s, &m, NULL), 0);
    assert_int_equal(strlen(m.error_desc), 254);
    assert_memory_equal(m.error_desc, desc, 254);
    free(s);

    /* exactly 255 bytes ending in a complete 2-byte character is kept whole */
    memset(desc, 'a', 253);
    strcpy(desc + 253, "\xc3\xa9xyz");
    s = encode_done(&b, fg_ocppj_encode_error(&b, FG_OCPPJ_CALLERROR, "9",
                                              FG_OCPP_INTERNAL_ERROR, desc, NULL));
    assert_int_equal(decode_str(s, &m, NULL), 0);
    assert_int_equal(strlen(m.error_desc), 255);
    free(s);

    /* escapes and invalid UTF-8 */
    s = encode_done(&b, fg_ocppj_encode_error(&b, FG_OCPPJ_CALLRESULTERROR, "9",
                                              FG_OCPP_FORMAT_VIOLATION,
                                              "q\"b\\n\n\x01\xff", NULL));
    assert_string_equal(s, "[5,\"9\",\"FormatViolation\",\"q\\\"b\\\\n\\n\\u0001?\",{}]");
    free(s);
    fg_ocppj_msg_clear(&m);
}

static void test_encode_errors(void **state)
{
    (void)state;
    struct fg_buf b;
    cJSON *arr = cJSON_CreateArray(), *obj = cJSON_CreateObject();
    fg_buf_init(&b, BUF_MAX);
    assert_int_equal(fg_ocppj_encode_call(&b, "", "A", NULL), FG_EINVAL);
    assert_int_equal(fg_ocppj_encode_call(&b, NULL, "A", NULL), FG_EINVAL);
    assert_int_equal(
        fg_ocppj_encode_call(&b, "0123456789012345678901234567890123456", "A", NULL),
        FG_EINVAL);
    assert_int_equal(fg_ocppj_encode_call(&b, "a\nb", "A", NULL), FG_EINVAL);
    assert_int_equal(fg_ocppj_encode_call(&b, "1", "Bad-Action", NULL), FG_EINVAL);
    assert_int_equal(fg_ocppj_encode_call(&b, "1", "", NULL), FG_EINVAL);
    assert_int_equal(fg_ocppj_encode_send(&b, "1", NULL, NULL), FG_EINVAL);
    assert_int_equal(fg_ocppj_encode_result(&b, "1", arr), FG_EINVAL);
    assert_int_equal(
        fg_ocppj_encode_error(&b, FG_OCPPJ_CALL, "1", FG_OCPP_GENERIC_ERROR, "", NULL),
        FG_EINVAL);
    assert_int_equal(
        fg_ocppj_encode_error(&b, FG_OCPPJ_CALLERROR, "1", FG_OCPP_OK, "", NULL),
        FG_EINVAL);
    assert_int_equal(fg_ocppj_encode_error(&b, FG_OCPPJ_CALLERROR, "1",
                                           (enum fg_ocpp_errcode)99, "", NULL),
                     FG_EINVAL);
    assert_int_equal(fg_ocppj_encode_error(&b, FG_OCPPJ_CALLERROR, "1",
                                           FG_OCPP_GENERIC_ERROR, NULL, arr),
                     FG_EINVAL);
    assert_int_equal(b.len, 0);
    assert_false(b.failed);

    /* the buffer's maximum is respected, both in the header and the payload */
    const char *want = "[3,\"1\",{\"k\":\"0123456789\"}]";
    cJSON_AddStringToObject(obj, "k", "0123456789");
    for (size_t max = 0; max < strlen(want); max++) {
        fg_buf_init(&b, max);
        assert_int_equal(fg_ocppj_encode_result(&b, "1", obj), FG_ETOOBIG);
        assert_true(b.failed);
        assert_null(fg_buf_take(&b));
    }
    fg_buf_init(&b, strlen(want) + 8);
    char *s = encode_done(&b, fg_ocppj_encode_result(&b, "1", obj));
    assert_string_equal(s, want);
    free(s);
    fg_buf_clear(&b);
    cJSON_Delete(arr);
    cJSON_Delete(obj);
}

/* Frames appended one after another share a buffer correctly. */
static void test_encode_append(void **state)
{
    (void)state;
    struct fg_buf b;
    fg_buf_init(&b, BUF_MAX);
    assert_int_equal(fg_ocppj_encode_call(&b, "1", "Heartbeat", NULL), 0);
    assert_int_equal(fg_ocppj_encode_result(&b, "1", NULL), 0);
    char *s = fg_buf_take(&b);
    assert_string_equal(s, "[2,\"1\",\"Heartbeat\",{}][3,\"1\",{}]");
    free(s);
}

/* ---- message ids ------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_make_id(void **state)
{
    (void)state;
    enum { N = 100000 };
    char(*ids)[FG_OCPPJ_ID_MAX + 1] = malloc(2 * N * sizeof(*ids));
    for (uint64_t i = 0; i < N; i++) {
        fg_ocppj_make_id(ids[i], 0x0123456789abcdefULL, i * 0x9e3779b97f4a7c15ULL);
        fg_ocppj_make_id(ids[N + i], 0xfedcba9876543210ULL, i);
    }
    for (size_t i = 0; i < 2 * N; i++) {
        size_t n = strlen(ids[i]);
        assert_true(n >= 18 && n <= FG_OCPPJ_ID_MAX);
        for (size_t k = 0; k < n; k++)
            assert_true(ids[i][k] > 0x20 && ids[i][k] < 0x7f);
    }
    qsort(ids, 2 * N, sizeof(*ids), cmp_id);
    for (size_t i = 1; i < 2 * N; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) != 0);

    char id[FG_OCPPJ_ID_MAX + 1];
    fg_ocppj_make_id(id, UINT64_MAX, UINT64_MAX);
    assert_string_equal(id, "ffffffffffffffff-ffffffffffffffff");
    fg_ocppj_make_id(id, 1, 0);
    assert_string_equal(id, "0000000000000001-0");

    /* a generated id is accepted by our own encoder and decoder */
    struct fg_buf b;
    struct fg_ocppj_msg m;
    fg_buf_init(&b, BUF_MAX);
    fg_ocppj_msg_init(&m);
    fg_ocppj_make_id(id, UINT64_MAX, UINT64_MAX);
    char *s = encode_done(&b, fg_ocppj_encode_call(&b, id, "Heartbeat", NULL));
    assert_int_equal(decode_str(s, &m, NULL), 0);
    assert_string_equal(m.id, id);
    free(s);
    fg_ocppj_msg_clear(&m);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_large_payload),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_descriptions),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_encode_desc_truncation),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_encode_append),
        cmocka_unit_test(test_make_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
