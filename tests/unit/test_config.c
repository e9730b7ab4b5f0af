/* Configuration: defaults, every type's errors with their JSON paths, the
 * shipped files, secrets, round trip, redaction and schema/reference drift. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fg_ageing.h"

#define DATA FG_TEST_DATA "/config"

struct res {
    int rc;
    struct fg_config c;
    struct fg_errlist e;
};

static void res_clear(struct res *r)
{
    fg_config_clear(&r->c);
    fg_errlist_clear(&r->e);
}

static void parse_in(struct res *r, const char *json, const char *base_dir)
{
    fg_errlist_init(&r->e);
    r->rc = fg_config_parse(json, strlen(json), base_dir, &r->c, &r->e);
}

static void parse(struct res *r, const char *json)
{
    parse_in(r, json, NULL);
}

static void print_errs(const struct fg_errlist *e)
{
    for (size_t i = 0; i < e->n; i++)
        fprintf(stderr, "  %s: %s\n", e->v[i].path, e->v[i].msg);
}

/* Exactly one error, at `path`, reading `msg`. */
static void expect_one(const char *json, const char *path, const char *msg)
{
    struct res r;
    parse(&r, json);
    if (fg_errlist_count(&r.e) != 1 || strcmp(r.e.v[0].path, path) ||
        strcmp(r.e.v[0].msg, msg)) {
        fprintf(stderr, "input: %s\nwant: %s: %s\ngot:\n", json, path, msg);
        print_errs(&r.e);
        fail();
    }
    assert_int_equal(r.rc, FG_ECONFIG);
    res_clear(&r);
}

static bool has_err(const struct fg_errlist *e, const char *path, const char *msg)
{
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->v[i].path, path) && (!msg || !strcmp(e->v[i].msg, msg)))
            return true;
    return false;
}

static char *slurp(const char *file)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static char *to_text(const struct fg_config *c, bool redact)
{
    cJSON *j = fg_config_to_json(c, redact);
    assert_non_null(j);
    char *s = cJSON_PrintUnformatted(j);
    assert_non_null(s);
    cJSON_Delete(j);
    return s;
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    (void)state;
    struct res r;
    parse(&r, "{}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(fg_errlist_count(&r.e), 0);
    struct fg_config *c = &r.c;
    assert_string_equal(c->site.id, "site1");
    assert_true(c->site.import_limit_w == 100000 && c->site.export_limit_w == 100000);
    assert_int_equal(c->site.isp_s, 900);
    assert_int_equal(c->site.utc_offset_min, 0);
    assert_string_equal(c->site.currency, "EUR");
    assert_int_equal(c->site.n_tariff + c->site.n_assets + c->site.n_signals, 0);
    assert_null(c->site.assets);
    assert_false(c->ocpp.enabled);
    assert_string_equal(c->ocpp.listen.host, "0.0.0.0");
    assert_int_equal(c->ocpp.listen.port, 9000);
    assert_int_equal(c->ocpp.tls_listen.port, 9443);
    assert_int_equal(c->ocpp.call_timeout_s, 30);
    assert_int_equal(c->ocpp.heartbeat_s, 300);
    assert_string_equal(c->mqtt.broker.host, "127.0.0.1");
    assert_int_equal(c->mqtt.broker.port, 1883);
    assert_string_equal(c->mqtt.prefix, "flexgw/site1");
    assert_string_equal(c->mqtt.client_id, "flexgw-site1");
    assert_null(c->mqtt.password.value);
    assert_int_equal(c->mqtt.keepalive_s, 30);
    assert_string_equal(c->scheduler.plugin, "realtime");
    assert_int_equal(c->scheduler.interval_s, 1);
    assert_int_equal(c->scheduler.horizon_h, 36);
    assert_string_equal(c->web.listen.host, "127.0.0.1");
    assert_int_equal(c->web.listen.port, 8080);
    assert_null(c->web.token.value);
    assert_null(c->web.admin_password.value);
    assert_int_equal(c->web.max_body, 1048576);
    assert_string_equal(c->web.tls_cert, "");
    assert_string_equal(c->storage.path, "/var/lib/flexgw");
    assert_true(c->storage.sync_full);
    assert_int_equal(c->storage.retention_days, 90);
    assert_int_equal(c->log.level, FG_LOG_INFO);

    /* fg_config_defaults() gives the same as parsing "{}". */
    struct fg_config d;
    fg_config_defaults(&d);
    char *a = to_text(&r.c, false), *b = to_text(&d, false);
    assert_string_equal(a, b);
    free(a);
    free(b);
    res_clear(&r);
}

static void test_site_id_expansion(void **state)
{
    (void)state;
    struct res r;
    parse(&r,
          "{\"site\":{\"id\":\"plant-7\"},\"mqtt\":{\"client_id\":\"gw-{siteId}-x\"}}");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.c.mqtt.prefix, "flexgw/plant-7");
    assert_string_equal(r.c.mqtt.client_id, "gw-plant-7-x");
    res_clear(&r);
    expect_one("{\"site\":{\"id\":\"" /* 47 characters */
               "abcdefghijabcdefghijabcdefghijabcdefghijabcdefg"
               "\"},\"mqtt\":{\"prefix\":\"{siteId}/{siteId}/{siteId}\"}}",
               "/mqtt/prefix", "longer than 127 characters");
}

/* ---- every type's errors ---- */

static void test_type_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json, *path, *msg;
    } cases[] = {
        {"{\"ocpp\":{\"listen\":\"0.0.0.0:99999\"}}", "/ocpp/listen",
         "\"0.0.0.0:99999\" is not a valid host:port"},
        {"{\"ocpp\":{\"enabled\":\"yes\"}}", "/ocpp/enabled",
         "expected boolean, got string"},
        {"{\"ocpp\":{\"call_timeout_s\":\"30\"}}", "/ocpp/call_timeout_s",
         "expected integer, got string"},
        {"{\"ocpp\":{\"call_timeout_s\":301}}", "/ocpp/call_timeout_s",
         "301 not in [1, 300]"},
        {"{\"ocpp\":{\"call_timeout_s\":1.5}}", "/ocpp/call_timeout_s",
         "1.5 is not an integer"},
        {"{\"ocpp\":{\"heartbeat_s\":1e999}}", "/ocpp/heartbeat_s",
         "inf is not an integer"},
        {"{\"web\":{\"max_body\":10}}", "/web/max_body", "10 not in [1024, 67108864]"},
        {"{\"site\":{\"import_limit_w\":0}}", "/site/import_limit_w",
         "0 not in (0, 1000000000]"},
        {"{\"site\":{\"import_limit_w\":true}}", "/site/import_limit_w",
         "expected number, got boolean"},
        {"{\"site\":{\"utc_offset_min\":-721}}", "/site/utc_offset_min",
         "-721 not in [-720, 840]"},
        {"{\"site\":{\"name\":"
         "\"0123456789012345678901234567890123456789012345678901234567"
         "890123\"}}",
         "/site/name", "longer than 63 characters"},
        {"{\"site\":{\"id\":\"a b\"}}", "/site/id",
         "\"a b\" is not a valid id ([A-Za-z0-9._-]+)"},
        {"{\"site\":{\"currency\":\"eur\"}}", "/site/currency",
         "\"eur\" is not a currency code (3 capital letters)"},
        {"{\"log\":{\"level\":\"verbose\"}}", "/log/level",
         "\"verbose\" is not one of error, warn, info, debug"},
        {"{\"log\":{\"level\":3}}", "/log/level", "expected string, got number"},
        {"{\"site\":{\"tariff\":[{\"from\":\"7:00\",\"import_price\":0.1}]}}",
         "/site/tariff/0/from", "\"7:00\" is not a valid time (HH:MM)"},
        {"{\"site\":{\"tariff\":[{\"from\":\"00:00\",\"import_price\":101}]}}",
         "/site/tariff/0/import_price", "101 not in [-10, 100]"},
        {"{\"site\":{\"tariff\":[{\"from\":\"24:00\",\"import_price\":1}]}}",
         "/site/tariff/0/from", "24:00 not in [00:00, 23:59]"},
        {"{\"web\":{\"token\":5}}", "/web/token",
         "expected string or {\"file\": path} or null, got number"},
        {"{\"web\":{\"tls_cert\":\"/nonexistent/c.pem\",\"tls_key\":\"" FG_SOURCE_DIR
         "/conf/flexgw.json\"}}",
         "/web/tls_cert", "\"/nonexistent/c.pem\": No such file or directory"},
        {"{\"web\":{\"tls_cert\":\"/\",\"tls_key\":\"" FG_SOURCE_DIR
         "/conf/flexgw.json\"}}",
         "/web/tls_cert", "\"/\": not a regular file"},
        {"{\"web\":{\"tls_key\":\"" FG_SOURCE_DIR "/conf/flexgw.json\"}}",
         "/web/tls_cert", "required when /web/tls_key is set"},
        {"{\"web\":{\"tls_cert\":\"" FG_SOURCE_DIR "/conf/flexgw.json\"}}",
         "/web/tls_key", "required when /web/tls_cert is set"},
        {"{\"scheduler\":{\"plugin\":\"fancy\"}}", "/scheduler/plugin",
         "\"fancy\" is neither a built-in (realtime, none) nor a path"},
        {"{\"scheduler\":{\"plugin\":\"/nonexistent/p.so\"}}", "/scheduler/plugin",
         "\"/nonexistent/p.so\": No such file or directory"},
        {"{\"openadr\":{\"vtn_url\":\"ftp://vtn\"}}", "/openadr/vtn_url",
         "\"ftp://vtn\" is not an http:// or https:// URL"},
        {"{\"openadr\":{\"enabled\":true}}", "/openadr/vtn_url",
         "required when openadr is enabled"},
        {"{\"openadr\":{\"unavailable\":[{\"from\":\"2026-12-01T10:00:00Z\","
         "\"to\":\"2026-12-01T09:00:00+00:00\"}]}}",
         "/openadr/unavailable/0/to", "2026-12-01T09:00:00+00:00 is not after from"},
        {"{\"openadr\":{\"unavailable\":[{\"from\":\"tomorrow\",\"to\":\"x\"}]}}",
         "/openadr/unavailable/0/from",
         "date-time 'tomorrow': expected YYYY-MM-DDThh:mm:ss"},
        {"{\"openadr\":{\"opt_policy\":\"maybe\"}}", "/openadr/opt_policy",
         "\"maybe\" is not one of auto, in, out"},
        {"{\"ocpp\":{\"enabled\":true,\"tls_listen\":\"[::]:9000\"}}", "/ocpp/tls_listen",
         "port 9000 is also the port of /ocpp/listen"},
        {"{\"site\":{\"isp_s\":700}}", "/site/isp_s", "700 does not divide 3600"},
        {"{\"site\":{\"isp_s\":30}}", "/site/isp_s", "30 not in [60, 3600]"},
        {"{\"site\":{\"assets\":{}}}", "/site/assets", "expected array, got object"},
        {"{\"site\":{\"assets\":[1]}}", "/site/assets/0", "expected object, got number"},
        {"{\"ocpp\":[]}", "/ocpp", "expected object, got array"},
        {"{\"ocpp\":null}", "/ocpp", "expected object, got null"},
        {"{\"site\":{\"assets\":[{\"id\":\"e\",\"kind\":\"evse\",\"rated_w\":7000,"
         "\"phases\":2}"
         "]}}",
         "/site/assets/0/phases", "2 is not one of 1, 3"},
        {"{\"site\":{\"assets\":[{\"id\":\"e\",\"kind\":\"car\"}]}}",
         "/site/assets/0/kind", "\"car\" is not one of evse, battery, pv, load"},
        {"{\"site\":{\"assets\":[{\"id\":\"e\",\"kind\":\"evse\",\"rated_w\":0}]}}",
         "/site/assets/0/rated_w", "0 not in [1, 1000000]"},
        {"{\"site\":{\"assets\":[{\"id\":\"e\",\"kind\":\"evse\",\"rated_w\":7000,"
         "\"min_current_a\":40,\"max_current_a\":16}]}}",
         "/site/assets/0/min_current_a", "40 is above max_current_a 16"},
        {"{\"site\":{\"assets\":[{\"id\":\"b\",\"kind\":\"battery\",\"capacity_wh\":1,"
         "\"max_charge_w\":1,\"max_discharge_w\":0}]}}",
         "/site/assets/0/max_discharge_w", "must be > 0 for a battery"},
        {"{\"site\":{\"assets\":[{\"id\":\"b\",\"kind\":\"battery\",\"capacity_wh\":1,"
         "\"max_charge_w\":1,\"max_discharge_w\":1,\"soc_min\":50,\"soc_max\":50}]}}",
         "/site/assets/0/soc_max", "50 is not above soc_min 50"},
        {"{\"site\":{\"assets\":[{\"id\":\"b\",\"kind\":\"battery\",\"capacity_wh\":0,"
         "\"max_charge_w\":1,\"max_discharge_w\":1}]}}",
         "/site/assets/0/capacity_wh", "0 not in (0, 1000000000]"},
        {"{\"site\":{\"assets\":[{\"id\":\"p\",\"kind\":\"pv\",\"rated_w\":1,"
         "\"sim\":{\"cloudiness\":1.5}}]}}",
         "/site/assets/0/sim/cloudiness", "1.5 not in [0, 1]"},
        {"{\"site\":{\"assets\":[{\"id\":\"l\",\"kind\":\"load\",\"rated_w\":1,"
         "\"sim\":{\"profile\":\"factory\"}}]}}",
         "/site/assets/0/sim/profile",
         "\"factory\" is not one of household, office, flat"},
        {"{\"site\":{\"signals\":[{\"id\":\"s\",\"type\":\"price\",\"from\":\"10:00\","
         "\"until\":\"10:00\",\"value\":1}]}}",
         "/site/signals/0/until", "equals from"},
        {"{\"site\":{\"signals\":[{\"id\":\"s\",\"type\":\"charge_state\","
         "\"from\":\"10:00\",\"until\":\"11:00\",\"value\":101}]}}",
         "/site/signals/0/value", "state of charge 101 % not in [0, 100]"},
        {"{\"site\":{\"signals\":[{\"id\":\"s\",\"type\":\"grid_limit\","
         "\"from\":\"10:00\",\"until\":\"11:00\",\"value\":-5}]}}",
         "/site/signals/0/value", "grid limit -5 W is negative"},
        {"{\"site\":{\"signals\":[{\"id\":\"s\",\"type\":\"price\",\"from\":\"10:00\","
         "\"until\":\"24:01\",\"value\":1}]}}",
         "/site/signals/0/until", "\"24:01\" is not a valid time (HH:MM)"},
        {"{\"site\":{\"signals\":[{\"id\":\"s\",\"type\":\"price\",\"from\":\"10:00\","
         "\"until\":\"12:00\",\"value\":null}]}}",
         "/site/signals/0/value", "expected number, got null"},
        {"{\"site\":{\"signals\":[{\"id\":\"s\",\"type\":\"price\",\"from\":\"10:00\","
         "\"until\":\"12:00\",\"value\":1,\"export_value\":\"x\"}]}}",
         "/site/signals/0/export_value", "expected number or null, got string"},
        {"{\"site\":{\"tariff\":[{\"from\":\"01:00\",\"import_price\":1}]}}",
         "/site/tariff/0/from", "the first period must start at 00:00"},
        {"{\"site\":{\"tariff\":[{\"from\":\"00:00\",\"import_price\":1},{\"from\":\"07:"
         "00\","
         "\"import_price\":1},{\"from\":\"07:00\",\"import_price\":1}]}}",
         "/site/tariff/2/from", "not after the previous period (07:00)"},
        {"{\"log\":{\"level\":\"info\",\"level\":\"debug\"}}", "/log/level",
         "duplicate key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_one(cases[i].json, cases[i].path, cases[i].msg);
}

static void test_required(void **state)
{
    (void)state;
    struct res r;
    parse(
        &r,
        "{\"site\":{\"assets\":[{\"id\":\"b\",\"kind\":\"battery\"},{\"rated_w\":5}]}}");
    assert_int_equal(r.rc, FG_ECONFIG);
    assert_int_equal(fg_errlist_count(&r.e), 5);
    const char *want[] = {"/site/assets/0/max_discharge_w", "/site/assets/0/capacity_wh",
                          "/site/assets/0/max_charge_w", "/site/assets/1/id",
                          "/site/assets/1/kind"};
    for (size_t i = 0; i < 5; i++)
        assert_true(has_err(&r.e, want[i], "required key missing"));
    res_clear(&r);
    expect_one("{\"site\":{\"assets\":[{\"id\":\"e\",\"kind\":\"evse\"}]}}",
               "/site/assets/0/rated_w", "required key missing");
    expect_one("{\"site\":{\"assets\":[{\"id\":\"e\",\"kind\":\"pv\"}]}}",
               "/site/assets/0/rated_w", "required key missing");
    expect_one(
        "{\"site\":{\"signals\":[{\"id\":\"s\",\"type\":\"price\",\"from\":\"10:00\","
        "\"until\":\"12:00\"}]}}",
        "/site/signals/0/value", "required key missing");
}

static void test_too_many(void **state)
{
    (void)state;
    char json[8192] = "{\"site\":{\"signals\":[";
    for (int i = 0; i < 65; i++)
        snprintf(json + strlen(json), sizeof(json) - strlen(json), "%s{}", i ? "," : "");
    strcat(json, "]}}");
    expect_one(json, "/site/signals", "65 items, at most 64");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_one("{\"color\":1}", "/color", "unknown key");
    expect_one("{\"ocpp\":{\"port\":9000}}", "/ocpp/port", "unknown key");
    expect_one("{\"site\":{\"assets\":[{\"id\":\"p\",\"kind\":\"pv\",\"rated_w\":1,"
               "\"colour\":\"red\"}]}}",
               "/site/assets/0/colour", "unknown key");
    expect_one("{\"site\":{\"assets\":[{\"id\":\"p\",\"kind\":\"pv\",\"rated_w\":1,"
               "\"sim\":{\"speed\":1}}]}}",
               "/site/assets/0/sim/speed", "unknown key");
    expect_one("{\"a/b~c\":1}", "/a~1b~0c", "unknown key");
    /* two assets cannot be the same EVSE of one OCPP station */
    expect_one("{\"site\":{\"assets\":["
               "{\"id\":\"a\",\"kind\":\"evse\",\"adapter\":\"ocpp\",\"rated_w\":1,"
               "\"station\":\"S\",\"evse_id\":2},"
               "{\"id\":\"b\",\"kind\":\"evse\",\"adapter\":\"ocpp\",\"rated_w\":1,"
               "\"station\":\"S\",\"evse_id\":2}]}}",
               "/site/assets/1/evse_id",
               "EVSE 2 of station \"S\" is already asset \"a\"");
    expect_one("{\"site\":{\"assets\":[{\"id\":\"p\",\"kind\":\"pv\",\"rated_w\":1,"
               "\"station\":\"S\"}]}}",
               "/site/assets/0/station", "not applicable to kind pv");
    /* a likely typo gets the closest known key; a far-off one does not */
    expect_one("{\"log\":{\"levle\":\"info\"}}", "/log/levle",
               "unknown key (did you mean \"level\"?)");
    expect_one("{\"web\":{\"tokn\":\"x\"}}", "/web/tokn",
               "unknown key (did you mean \"token\"?)");
}

static void test_kind_scoped(void **state)
{
    (void)state;
    expect_one("{\"site\":{\"assets\":[{\"id\":\"p\",\"kind\":\"pv\",\"rated_w\":1,"
               "\"capacity_wh\":5}]}}",
               "/site/assets/0/capacity_wh", "not applicable to kind pv");
    expect_one(
        "{\"site\":{\"assets\":[{\"id\":\"b\",\"kind\":\"battery\",\"capacity_wh\":1,"
        "\"max_charge_w\":1,\"max_discharge_w\":1,\"rated_w\":5}]}}",
        "/site/assets/0/rated_w", "not applicable to kind battery");
    expect_one("{\"site\":{\"assets\":[{\"id\":\"l\",\"kind\":\"load\",\"rated_w\":1,"
               "\"curtailable\":true}]}}",
               "/site/assets/0/curtailable", "not applicable to kind load");
    /* max_discharge_w is shared by evse (optional) and battery (required). */
    struct res r;
    parse(&r, "{\"site\":{\"assets\":[{\"id\":\"e\",\"kind\":\"evse\",\"rated_w\":7400,"
              "\"phases\":1,\"bidirectional\":true,\"max_discharge_w\":5000}]}}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.c.site.assets[0].kind, FG_ASSET_EVSE);
    assert_int_equal(r.c.site.assets[0].phases, 1);
    assert_true(r.c.site.assets[0].max_discharge_w == 5000);
    assert_false(r.c.site.assets[0].has_sim);
    res_clear(&r);
}

static void test_duplicate_ids(void **state)
{
    (void)state;
    expect_one("{\"site\":{\"assets\":[{\"id\":\"a\",\"kind\":\"pv\",\"rated_w\":1},"
               "{\"id\":\"b\",\"kind\":\"pv\",\"rated_w\":1},"
               "{\"id\":\"a\",\"kind\":\"load\",\"rated_w\":1}]}}",
               "/site/assets/2/id", "duplicate asset id \"a\" (also /site/assets/0)");
    expect_one(
        "{\"site\":{\"signals\":[{\"id\":\"s\",\"type\":\"price\",\"from\":\"10:00\","
        "\"until\":\"12:00\",\"value\":1},{\"id\":\"s\",\"type\":\"island\","
        "\"from\":\"13:00\",\"until\":\"14:00\",\"value\":1}]}}",
        "/site/signals/1/id", "duplicate signal id \"s\" (also /site/signals/0)");
}

/* ---- battery ageing ---- */

#define BAT(extra) BATN("b", extra)
#define BATN(id, extra)                                                                  \
    "{\"id\":\"" id                                                                      \
    "\",\"kind\":\"battery\",\"capacity_wh\":10000,\"max_charge_w\":5000,"               \
    "\"max_discharge_w\":5000" extra "}"

static void test_ageing_defaults(void **state)
{
    (void)state;
    struct res r;
    parse(&r, "{\"site\":{\"assets\":[" BAT("") "," BATN("n",
                                                         ",\"chemistry\":\"NMC\"") "]}}");
    if (r.rc)
        print_errs(&r.e);
    assert_int_equal(r.rc, 0);
    const struct fg_cfg_asset *a = &r.c.site.assets[0];
    assert_false(a->has_ageing);
    assert_string_equal(a->ageing.model, "");
    assert_non_null(a->ageing.params);
    assert_ptr_equal(a->ageing.params, fg_age_params_for_chemistry("LFP"));
    assert_true(a->ageing.eol_soh == 80 && a->ageing.replacement_cost == 0);
    assert_ptr_equal(r.c.site.assets[1].ageing.params,
                     fg_age_params_for_chemistry("NMC"));
    const struct fg_cfg_ageing *ev = &r.c.site.ev_ageing;
    assert_non_null(ev->params);
    assert_ptr_equal(ev->params, fg_age_params_for_chemistry("NMC"));
    assert_true(ev->capacity_wh == 60000 && ev->eol_soh == 80 &&
                ev->replacement_cost == 0);
    res_clear(&r);
    /* the defaults of a config that was never parsed name the EV set too */
    struct fg_config d;
    fg_config_defaults(&d);
    assert_ptr_equal(d.site.ev_ageing.params, fg_age_params_for_chemistry("NMC"));
    fg_config_clear(&d);
}

static void test_ageing_keys(void **state)
{
    (void)state;
    struct res r;
    parse(&r, "{\"site\":{\"currency\":\"EUR\",\"assets\":[" BAT(
                  ",\"chemistry\":\"LFP\",\"ageing\":{\"model\":"
                  "\"nca-panasonic-ncr18650b-blastlite\",\"replacement_cost\":4500.5,"
                  "\"eol_soh\":70}") "],\"ev_ageing\":{\"model\":\"lmo-nrel-xu2018\","
                                     "\"capacity_wh\":40000,\"replacement_cost\":9000,"
                                     "\"eol_soh\":75}}}");
    if (r.rc)
        print_errs(&r.e);
    assert_int_equal(r.rc, 0);
    const struct fg_cfg_asset *a = &r.c.site.assets[0];
    assert_true(a->has_ageing);
    assert_ptr_equal(a->ageing.params,
                     fg_age_params_find("nca-panasonic-ncr18650b-blastlite"));
    assert_true(a->ageing.replacement_cost == 4500.5 && a->ageing.eol_soh == 70);
    const struct fg_cfg_ageing *ev = &r.c.site.ev_ageing;
    assert_ptr_equal(ev->params, fg_age_params_find("lmo-nrel-xu2018"));
    assert_true(ev->capacity_wh == 40000 && ev->replacement_cost == 9000 &&
                ev->eol_soh == 75);
    /* written back and read again: the same */
    char *t1 = to_text(&r.c, false);
    struct res r2;
    parse(&r2, t1);
    assert_int_equal(r2.rc, 0);
    char *t2 = to_text(&r2.c, false);
    assert_string_equal(t1, t2);
    assert_ptr_equal(r2.c.site.assets[0].ageing.params, a->ageing.params);
    free(t1);
    free(t2);
    res_clear(&r2);
    res_clear(&r);

    /* a chemistry without a default set is simply not tracked... */
    parse(&r, "{\"site\":{\"assets\":[" BAT(",\"chemistry\":\"LTO\"") "]}}");
    assert_int_equal(r.rc, 0);
    assert_null(r.c.site.assets[0].ageing.params);
    res_clear(&r);
    /* ...unless a model is named */
    parse(
        &r,
        "{\"site\":{\"assets\":[" BAT(
            ",\"chemistry\":\"other\",\"ageing\":{\"model\":\"lmo-nrel-xu2018\"}") "]}}");
    assert_int_equal(r.rc, 0);
    assert_ptr_equal(r.c.site.assets[0].ageing.params,
                     fg_age_params_find("lmo-nrel-xu2018"));
    res_clear(&r);
}

/* One error at path whose message starts with prefix and names the first
 * parameter set (the list of valid models). */
static void expect_model_error(const char *json, const char *path, const char *prefix)
{
    struct res r;
    parse(&r, json);
    bool ok = r.rc == FG_ECONFIG && fg_errlist_count(&r.e) == 1 &&
              !strcmp(r.e.v[0].path, path) &&
              !strncmp(r.e.v[0].msg, prefix, strlen(prefix)) &&
              strstr(r.e.v[0].msg, fg_age_params_name(fg_age_params_at(0)));
    if (!ok) {
        fprintf(stderr, "input: %s\nwant: %s: %s...\ngot:\n", json, path, prefix);
        print_errs(&r.e);
        fail();
    }
    res_clear(&r);
}

static void test_ageing_errors(void **state)
{
    (void)state;
    expect_model_error(
        "{\"site\":{\"assets\":[" BAT(",\"ageing\":{\"model\":\"nope\"}") "]}}",
        "/site/assets/0/ageing/model", "\"nope\" is not an ageing model (");
    expect_model_error(
        "{\"site\":{\"assets\":[" BAT(",\"chemistry\":\"LTO\",\"ageing\":{}") "]}}",
        "/site/assets/0/ageing/model",
        "required: chemistry \"LTO\" has no default ageing model (");
    expect_model_error("{\"site\":{\"ev_ageing\":{\"model\":\"lfp\"}}}",
                       "/site/ev_ageing/model", "\"lfp\" is not an ageing model (");
    expect_one("{\"site\":{\"assets\":[" BAT(",\"ageing\":{\"eol_soh\":100}") "]}}",
               "/site/assets/0/ageing/eol_soh", "100 not in (1, 99]");
    expect_one(
        "{\"site\":{\"assets\":[" BAT(",\"ageing\":{\"replacement_cost\":-1}") "]}}",
        "/site/assets/0/ageing/replacement_cost", "-1 not in [0, 1000000000]");
    expect_one("{\"site\":{\"assets\":[" BAT(",\"ageing\":{\"model\":7}") "]}}",
               "/site/assets/0/ageing/model", "expected string, got number");
    expect_one("{\"site\":{\"assets\":[" BAT(",\"ageing\":{\"capacity_wh\":1}") "]}}",
               "/site/assets/0/ageing/capacity_wh", "unknown key");
    expect_one("{\"site\":{\"assets\":[{\"id\":\"p\",\"kind\":\"pv\",\"rated_w\":1,"
               "\"ageing\":{}}]}}",
               "/site/assets/0/ageing", "not applicable to kind pv");
    expect_one("{\"site\":{\"ev_ageing\":{\"capacity_wh\":10}}}",
               "/site/ev_ageing/capacity_wh", "10 not in [1000, 1000000]");
    expect_one("{\"site\":{\"ev_ageing\":[]}}", "/site/ev_ageing",
               "expected object, got array");
}

/* ---- secrets ---- */

static void test_secret_inline(void **state)
{
    (void)state;
    struct res r;
    parse(&r, "{\"web\":{\"token\":\"t0k\",\"admin_password\":\"\"},"
              "\"mqtt\":{\"password\":null}}");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.c.web.token.value, "t0k");
    assert_string_equal(r.c.web.token.file, "");
    assert_null(r.c.web.admin_password.value); /* "" = not set */
    assert_null(r.c.mqtt.password.value);
    res_clear(&r);
}

static void test_secret_file(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/fg-test-secret-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\r\n\n", 9), 9);
    close(fd);
    char json[512];
    snprintf(json, sizeof(json), "{\"mqtt\":{\"password\":{\"file\":\"%s\"}}}", tmpl);
    struct res r;
    parse(&r, json);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.c.mqtt.password.value, "s3cret");
    assert_string_equal(r.c.mqtt.password.file, tmpl);
    res_clear(&r);

    /* Relative paths are resolved against base_dir. */
    parse_in(&r, "{\"web\":{\"token\":{\"file\":\"secret.txt\"}}}", DATA);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.c.web.token.value, "file-secret");
    assert_string_equal(r.c.web.token.file, DATA "/secret.txt");
    res_clear(&r);

    /* Too long: 4097 bytes. */
    FILE *f = fopen(tmpl, "w");
    assert_non_null(f);
    for (int i = 0; i < 4097; i++)
        fputc('x', f);
    fclose(f);
    snprintf(json, sizeof(json), "{\"web\":{\"token\":{\"file\":\"%s\"}}}", tmpl);
    char msg[256];
    snprintf(msg, sizeof(msg), "\"%s\": longer than 4096 bytes", tmpl);
    expect_one(json, "/web/token/file", msg);
    /* Empty. */
    f = fopen(tmpl, "w");
    assert_non_null(f);
    fputs("\n", f);
    fclose(f);
    snprintf(msg, sizeof(msg), "\"%s\": empty or contains a NUL byte", tmpl);
    expect_one(json, "/web/token/file", msg);
    unlink(tmpl);
}

static void test_secret_errors(void **state)
{
    (void)state;
    expect_one("{\"web\":{\"token\":{\"file\":\"/nonexistent/api-token\"}}}",
               "/web/token/file",
               "\"/nonexistent/api-token\": No such file or directory");
    expect_one("{\"web\":{\"token\":{\"file\":3}}}", "/web/token/file",
               "expected string, got number");
    expect_one("{\"web\":{\"token\":{}}}", "/web/token/file", "required key missing");
    struct res r;
    parse(&r, "{\"web\":{\"token\":{\"path\":\"x\"}}}");
    assert_int_equal(fg_errlist_count(&r.e), 2);
    assert_true(has_err(&r.e, "/web/token/path", "unknown key"));
    assert_true(has_err(&r.e, "/web/token/file", "required key missing"));
    res_clear(&r);
}

/* ---- host:port and HH:MM ---- */

static void test_hostport(void **state)
{
    (void)state;
    struct fg_hostport hp;
    assert_int_equal(fg_hostport_parse("[::1]:8080", &hp), 0);
    assert_string_equal(hp.host, "::1");
    assert_int_equal(hp.port, 8080);
    assert_int_equal(fg_hostport_parse("broker.example.com:1883", &hp), 0);
    assert_string_equal(hp.host, "broker.example.com");
    assert_int_equal(hp.port, 1883);
    assert_int_equal(fg_hostport_parse("10.0.0.1:65535", &hp), 0);
    assert_int_equal(hp.port, 65535);
    static const char *bad[] = {":80",      "host:0",       "host:65536",
                                "a b:80",   "host:",        "host",
                                "::1:80",   "[::1]80",      "[::1:80",
                                "[]:80",    "[1.2.3.4]:80", "999.1.1.1:80",
                                "host:+80", "host:-1",      "host:123456",
                                "host:8o",  "[zz::1]:80",   "h\xc3\xa9:80",
                                ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (fg_hostport_parse(bad[i], &hp) != FG_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    struct res r;
    parse(&r, "{\"web\":{\"listen\":\"[::1]:8081\"}}");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.c.web.listen.host, "::1");
    char *s = to_text(&r.c, false);
    assert_non_null(strstr(s, "\"listen\":\"[::1]:8081\""));
    free(s);
    res_clear(&r);
    expect_one("{\"mqtt\":{\"broker\":\"host:0\"}}", "/mqtt/broker",
               "\"host:0\" is not a valid host:port");
}

static void test_hhmm(void **state)
{
    (void)state;
    int m = -1;
    assert_int_equal(fg_hhmm_parse("00:00", &m), 0);
    assert_int_equal(m, 0);
    assert_int_equal(fg_hhmm_parse("07:45", &m), 0);
    assert_int_equal(m, 465);
    assert_int_equal(fg_hhmm_parse("23:59", &m), 0);
    assert_int_equal(m, 1439);
    assert_int_equal(fg_hhmm_parse("24:00", &m), 0);
    assert_int_equal(m, 1440);
    static const char *bad[] = {"24:01", "7:00",  "07:60", "0700",  "07:00 ",
                                "",      "ab:cd", "25:00", "-1:00", "07-00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (fg_hhmm_parse(bad[i], &m) != FG_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    /* A signal window may end at 24:00 and cross midnight. */
    struct res r;
    parse(&r,
          "{\"site\":{\"signals\":[{\"id\":\"a\",\"type\":\"price\",\"from\":\"18:00\","
          "\"until\":\"24:00\",\"value\":1},{\"id\":\"b\",\"type\":\"dispatch\","
          "\"from\":\"22:00\",\"until\":\"06:00\",\"value\":-500}]}}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.c.site.signals[0].until_min, 1440);
    assert_int_equal(r.c.site.signals[1].from_min, 1320);
    assert_int_equal(r.c.site.signals[1].until_min, 360);
    assert_int_equal(r.c.site.signals[1].type, FG_SIG_DISPATCH);
    assert_true(isnan(r.c.site.signals[1].export_value));
    res_clear(&r);
}

/* ---- malformed input ---- */

static void test_malformed(void **state)
{
    (void)state;
    struct res r;
    parse(&r, "{\n  \"site\": {\n    \"id\": \"x\",\n  }\n}");
    assert_int_equal(r.rc, FG_ECONFIG);
    assert_int_equal(fg_errlist_count(&r.e), 1);
    assert_string_equal(r.e.v[0].path, "");
    assert_non_null(strstr(r.e.v[0].msg, "malformed JSON at line 4, column"));
    assert_non_null(strstr(r.e.v[0].msg, "(byte 3"));
    res_clear(&r);

    parse(&r, "{}\n x");
    assert_int_equal(fg_errlist_count(&r.e), 1);
    assert_string_equal(
        r.e.v[0].msg,
        "unexpected data after the JSON document at line 2, column 2 (byte 4)");
    res_clear(&r);

    expect_one("", "", "malformed JSON at line 1, column 1 (byte 0)");
    expect_one("[]", "", "expected object, got array");

    /* Text that is not NUL-terminated: only len bytes are read. */
    fg_errlist_init(&r.e);
    r.rc = fg_config_parse("{}garbage", 2, NULL, &r.c, &r.e);
    assert_int_equal(r.rc, 0);
    res_clear(&r);
}

static void test_load_missing(void **state)
{
    (void)state;
    struct res r;
    fg_errlist_init(&r.e);
    r.rc = fg_config_load("/nonexistent/flexgw.json", &r.c, &r.e);
    assert_int_equal(r.rc, FG_ECONFIG);
    assert_int_equal(fg_errlist_count(&r.e), 1);
    assert_string_equal(r.e.v[0].path, "");
    assert_string_equal(
        r.e.v[0].msg, "cannot read /nonexistent/flexgw.json: No such file or directory");
    res_clear(&r);
}

/* All mistakes reported at once: this file (also used by the --check-config
 * integration test) has exactly five. */
static void test_five_mistakes(void **state)
{
    (void)state;
    struct res r;
    fg_errlist_init(&r.e);
    r.rc = fg_config_load(DATA "/five-mistakes.json", &r.c, &r.e);
    assert_int_equal(r.rc, FG_ECONFIG);
    if (fg_errlist_count(&r.e) != 5)
        print_errs(&r.e);
    assert_int_equal(fg_errlist_count(&r.e), 5);
    assert_true(
        has_err(&r.e, "/ocpp/listen", "\"0.0.0.0:99999\" is not a valid host:port"));
    assert_true(has_err(&r.e, "/site/assets/0/capacity_wh", "not applicable to kind pv"));
    assert_true(has_err(&r.e, "/web/max_body", "10 not in [1024, 67108864]"));
    assert_true(has_err(&r.e, "/storage/retension_days",
                        "unknown key (did you mean \"retention_days\"?)"));
    assert_true(
        has_err(&r.e, "/log/level", "\"loud\" is not one of error, warn, info, debug"));
    /* On error *out is left with defaults. */
    assert_string_equal(r.c.site.id, "site1");
    assert_null(r.c.site.assets);
    res_clear(&r);
}

/* ---- shipped files ---- */

static void load_ok(const char *file, struct res *r)
{
    fg_errlist_init(&r->e);
    r->rc = fg_config_load(file, &r->c, &r->e);
    print_errs(&r->e);
    assert_int_equal(r->rc, 0);
    assert_int_equal(fg_errlist_count(&r->e), 0);
}

static void test_default_file(void **state)
{
    (void)state;
    struct res r;
    struct fg_config d;
    load_ok(FG_SOURCE_DIR "/conf/flexgw.json", &r);
    fg_config_defaults(&d);
    char *a = to_text(&r.c, false), *b = to_text(&d, false);
    assert_string_equal(a, b); /* the shipped file holds exactly the defaults */
    free(a);
    free(b);
    res_clear(&r);
}

static void test_demo_file(void **state)
{
    (void)state;
    struct res r;
    load_ok(FG_SOURCE_DIR "/conf/demo.json", &r);
    const struct fg_config *c = &r.c;
    assert_string_equal(c->site.id, "demo");
    assert_string_equal(c->site.name, "Demo site");
    assert_true(c->site.import_limit_w == 60000 && c->site.export_limit_w == 40000);
    assert_int_equal(c->site.utc_offset_min, 60);
    assert_int_equal(c->site.n_tariff, 4);
    assert_int_equal(c->site.tariff[2].start_min, 17 * 60);
    assert_true(c->site.tariff[2].import_price == 0.45);
    assert_int_equal(c->site.n_assets, 7);
    const struct fg_cfg_asset *ev4 = &c->site.assets[3];
    assert_string_equal(ev4->id, "ev4");
    assert_true(ev4->bidirectional && ev4->max_discharge_w == 10000);
    /* the chargers are OCPP stations (ocpp_sim plays them, gateway/demo.c) */
    for (size_t i = 0; i < 4; i++) {
        const struct fg_cfg_asset *ev = &c->site.assets[i];
        assert_int_equal(ev->kind, FG_ASSET_EVSE);
        assert_string_equal(ev->adapter, "ocpp");
        assert_string_equal(ev->station, i < 2 ? "CP1" : "CP2");
        assert_int_equal(ev->evse_id, (int)(i % 2) + 1);
        assert_false(ev->has_sim);
    }
    assert_true(c->ocpp.enabled);
    assert_string_equal(c->ocpp.listen.host, "127.0.0.1");
    assert_int_equal(c->ocpp.listen.port, 9000);
    const struct fg_cfg_asset *bat = &c->site.assets[4];
    assert_int_equal(bat->kind, FG_ASSET_BATTERY);
    assert_true(bat->capacity_wh == 100000);
    assert_string_equal(bat->chemistry, "LFP");
    /* the battery is on Modbus (battery_sim plays it, gateway/demo.c) */
    assert_string_equal(bat->adapter, "modbus");
    assert_false(bat->has_sim);
    assert_true(bat->has_modbus);
    assert_string_equal(bat->modbus.bus, "battery-sim");
    assert_int_equal(bat->modbus.unit_id, 1);
    assert_int_equal(bat->modbus.profile, FG_MB_PROFILE_SUNSPEC);
    assert_int_equal(bat->modbus.revert_s, 60);
    assert_true(c->modbus.enabled);
    assert_int_equal(c->modbus.n_buses, 1);
    assert_true(c->site.assets[5].curtailable);
    assert_int_equal(c->site.assets[6].load_type, FG_LOAD_INFLEXIBLE);
    assert_string_equal(c->site.assets[6].sim.profile, "office");
    assert_int_equal(c->site.n_signals, 1);
    assert_string_equal(c->site.signals[0].id, "dso-evening-congestion");
    assert_int_equal(c->site.signals[0].type, FG_SIG_GRID_LIMIT);
    assert_true(isnan(c->site.signals[0].export_value));
    assert_int_equal(c->site.signals[0].priority, 10);
    assert_string_equal(c->web.token.value, "demo-token");
    assert_string_equal(c->web.admin_password.value, "demo");
    assert_string_equal(c->storage.path, "/var/tmp/flexgw-demo");
    assert_string_equal(c->mqtt.prefix, "flexgw/demo");
    res_clear(&r);
}

/* ---- JSON views ---- */

static void roundtrip(const char *json, const char *base_dir)
{
    struct res a, b;
    parse_in(&a, json, base_dir);
    print_errs(&a.e);
    assert_int_equal(a.rc, 0);
    char *t1 = to_text(&a.c, false);
    parse_in(&b, t1, NULL);
    print_errs(&b.e);
    assert_int_equal(b.rc, 0);
    char *t2 = to_text(&b.c, false);
    assert_string_equal(t1, t2);
    assert_int_equal(a.c.site.n_assets, b.c.site.n_assets);
    if (a.c.web.token.value)
        assert_string_equal(a.c.web.token.value, b.c.web.token.value);
    free(t1);
    free(t2);
    res_clear(&a);
    res_clear(&b);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char *demo = slurp(FG_SOURCE_DIR "/conf/demo.json");
    assert_non_null(demo);
    roundtrip(demo, NULL);
    free(demo);
    roundtrip(
        "{\"site\":{\"assets\":[{\"id\":\"l\",\"kind\":\"load\",\"rated_w\":2,"
        "\"type\":\"shiftable\"}]},\"web\":{\"token\":{\"file\":\"secret.txt\"},"
        "\"tls_cert\":\"secret.txt\",\"tls_key\":\"secret.txt\"},"
        "\"scheduler\":{\"plugin\":\"./secret.txt\"},\"log\":{\"level\":\"debug\"}}",
        DATA);
}

static void test_to_json_redaction(void **state)
{
    (void)state;
    struct res r;
    parse_in(&r,
             "{\"web\":{\"token\":\"abc\",\"admin_password\":{\"file\":\"secret.txt\"}}}",
             DATA);
    assert_int_equal(r.rc, 0);
    cJSON *j = fg_config_to_json(&r.c, true);
    cJSON *web = cJSON_GetObjectItem(j, "web");
    assert_string_equal(cJSON_GetObjectItem(web, "token")->valuestring, "********");
    cJSON *ap = cJSON_GetObjectItem(web, "admin_password");
    assert_true(cJSON_IsObject(ap));
    assert_string_equal(cJSON_GetObjectItem(ap, "file")->valuestring, DATA "/secret.txt");
    assert_true(
        cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "mqtt"), "password")));
    char *s = cJSON_PrintUnformatted(j);
    assert_null(strstr(s, "abc"));
    assert_null(strstr(s, "file-secret"));
    free(s);
    cJSON_Delete(j);
    j = fg_config_to_json(&r.c, false);
    web = cJSON_GetObjectItem(j, "web");
    assert_string_equal(cJSON_GetObjectItem(web, "token")->valuestring, "abc");
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(web, "admin_password")));
    cJSON_Delete(j);
    res_clear(&r);
}

static void test_unredact(void **state)
{
    (void)state;
    struct res cur, next;
    parse(&cur, "{\"web\":{\"token\":\"abc\"},\"mqtt\":{\"password\":\"m\"}}");
    assert_int_equal(cur.rc, 0);
    cJSON *j = fg_config_to_json(&cur.c, true);
    /* The user edits one key of the redacted document and "PUT"s it back,
     * also sending "********" for a secret that was not set. */
    cJSON *web = cJSON_GetObjectItem(j, "web");
    cJSON_ReplaceItemInObject(web, "auth_reads", cJSON_CreateTrue());
    cJSON_ReplaceItemInObject(web, "admin_password", cJSON_CreateString("********"));
    assert_int_equal(fg_config_unredact(j, &cur.c), 0);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    parse(&next, text);
    print_errs(&next.e);
    free(text);
    assert_int_equal(next.rc, 0);
    assert_string_equal(next.c.web.token.value, "abc");
    assert_string_equal(next.c.mqtt.password.value, "m");
    assert_null(next.c.web.admin_password.value);
    assert_true(next.c.web.auth_reads);
    res_clear(&cur);
    res_clear(&next);
}

/* ---- OCPP security ---- */

#define H1                                                                               \
    "$argon2id$v=19$m=65536,t=2,p=1$NuJFz6xSeZFiZKtdGZTqDg$"                             \
    "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I"
#define EVSE(st)                                                                         \
    "{\"id\":\"" st "-1\",\"kind\":\"evse\",\"adapter\":\"ocpp\",\"station\":\"" st      \
    "\",\"rated_w\":11000}"
#define SITE "\"site\":{\"assets\":[" EVSE("CP1") "," EVSE("CP2") "]}"

static void test_argon2id_shape(void **state)
{
    (void)state;
    assert_true(fg_config_argon2id_ok(H1));
    assert_true(fg_config_argon2id_ok("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAA$"
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    static const char *const bad[] = {
        "",
        "hunter2",
        "$argon2i$v=19$m=65536,t=2,p=1$NuJFz6xSeZFiZKtdGZTqDg$"
        "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I",
        "$argon2id$v=16$m=65536,t=2,p=1$NuJFz6xSeZFiZKtdGZTqDg$"
        "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I",
        "$argon2id$v=19$m=2097152,t=2,p=1$NuJFz6xSeZFiZKtdGZTqDg$"
        "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I",
        "$argon2id$v=19$m=65536,t=33,p=1$NuJFz6xSeZFiZKtdGZTqDg$"
        "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I",
        "$argon2id$v=19$m=65536,t=0,p=1$NuJFz6xSeZFiZKtdGZTqDg$"
        "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I",
        "$argon2id$v=19$m=65536,t=2,p=4$NuJFz6xSeZFiZKtdGZTqDg$"
        "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I",
        "$argon2id$v=19$m=65536,t=2,p=1$short$ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+"
        "I",
        "$argon2id$v=19$m=65536,t=2,p=1$NuJFz6xSeZFiZKtdGZTqDg$tooshort",
        "$argon2id$v=19$m=65536,t=2,p=1$NuJFz6xSeZFiZKtdGZTqDg$"
        "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I=",
        "$argon2id$v=19$m=65536,t=2,p=1$NuJFz6xSeZFiZKtdGZTqDg$"
        "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I$",
        "$argon2id$v=19$m=99999999999999999999,t=2,p=1$NuJFz6xSeZFiZKtdGZTqDg$"
        "ENDmvo4xsJTKghXzTzVFEKeHObGGb7TNzU3gCljle+I",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (fg_config_argon2id_ok(bad[i]))
            fail_msg("accepted: %s", bad[i]);
}

static void test_ocpp_security_ok(void **state)
{
    (void)state;
    struct res r;
    char tmpl[] = "/tmp/fgcfg-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    close(fd);
    char json[2048];
    snprintf(json, sizeof(json),
             "{" SITE ",\"ocpp\":{\"security_profile\":3,\"tls_cert\":\"%s\","
             "\"tls_key\":\"%s\",\"tls_ca\":\"%s\",\"stations\":["
             "{\"id\":\"CP1\",\"security_profile\":2,\"password_hash\":\"" H1 "\"},"
             "{\"id\":\"CP2\",\"security_profile\":null}]}}",
             tmpl, tmpl, tmpl);
    parse(&r, json);
    print_errs(&r.e);
    assert_int_equal(r.rc, 0);
    const struct fg_cfg_ocpp_station *e = NULL;
    assert_int_equal(fg_config_ocpp_profile(&r.c, "CP1", &e), 2);
    assert_string_equal(e->password_hash.value, H1);
    assert_int_equal(fg_config_ocpp_profile(&r.c, "CP2", &e), 3);
    assert_int_equal(e->security_profile, -1);
    assert_int_equal(fg_config_ocpp_profile(&r.c, "CPX", &e), 3);
    assert_null(e);
    /* the hash is a secret: redacted, and null profiles stay null */
    char *text = to_text(&r.c, true);
    assert_non_null(strstr(text, "\"password_hash\":\"********\""));
    assert_non_null(strstr(text, "{\"id\":\"CP2\",\"security_profile\":null"));
    assert_null(strstr(text, "argon2id"));
    free(text);
    res_clear(&r);
    unlink(tmpl);
}

static void test_ocpp_security_errors(void **state)
{
    (void)state;
    struct res r;
    parse(&r, "{" SITE ",\"ocpp\":{\"security_profile\":1,\"tls_key\":\"\",\"stations\":["
              "{\"id\":\"CP1\",\"security_profile\":2,\"password_hash\":\"$argon2id$x\"},"
              "{\"id\":\"CP9\",\"security_profile\":3},"
              "{\"id\":\"CP9\",\"security_profile\":0,\"password_hash\":\"" H1 "\"},"
              "{\"id\":\"CP2\",\"security_profile\":7}]}}");
    print_errs(&r.e);
    assert_int_equal(r.rc, FG_ECONFIG);
    const struct fg_errlist *e = &r.e;
    assert_true(has_err(e, "/ocpp/stations/0/security_profile",
                        "security profile 2 needs TLS: set /ocpp/tls_cert and "
                        "/ocpp/tls_key"));
    assert_true(has_err(e, "/ocpp/stations/0/password_hash", NULL));
    assert_true(has_err(e, "/ocpp/stations/1/security_profile",
                        "security profile 3 needs /ocpp/tls_ca, the CA that issues "
                        "station certificates"));
    assert_true(has_err(e, "/ocpp/stations/1/id",
                        "no evse asset with adapter \"ocpp\" names station \"CP9\" (and "
                        "allow_unknown_stations is off)"));
    assert_true(has_err(e, "/ocpp/stations/2/password_hash",
                        "security profile 0 would ignore it: set security_profile to 1 "
                        "or 2"));
    assert_true(has_err(e, "/ocpp/stations/2/id",
                        "duplicate station id \"CP9\" (also "
                        "/ocpp/stations/1)"));
    assert_true(has_err(e, "/ocpp/stations/3/security_profile", "7 not in [0, 3]"));
    /* CP2's entry had an error: its station is not reported again below */
    assert_false(has_err(e, "/ocpp/security_profile", NULL));
    res_clear(&r);

    expect_one("{" SITE ",\"ocpp\":{\"security_profile\":1,\"stations\":["
               "{\"id\":\"CP1\",\"password_hash\":\"" H1 "\"}]}}",
               "/ocpp/security_profile",
               "security profile 1 needs a password: station \"CP2\" has no "
               "password_hash in /ocpp/stations");
    expect_one("{" SITE
               ",\"ocpp\":{\"stations\":[{\"id\":\"CP1\",\"security_profile\":1}]}}",
               "/ocpp/stations/0/password_hash",
               "required for security profile 1 (make one with flexgw --hash-password)");
    expect_one("{\"ocpp\":{\"allow_unknown_stations\":true,\"security_profile\":1}}",
               "/ocpp/allow_unknown_stations",
               "unknown stations have no password_hash, so security profile 1 "
               "(/ocpp/security_profile) would refuse them all: use 0 or 3");
    expect_one("{\"ocpp\":{\"tls_key\":\"" FG_SOURCE_DIR "/CMakeLists.txt\"}}",
               "/ocpp/tls_cert", "required when /ocpp/tls_key is set");
    expect_one("{\"ocpp\":{\"tls_ca\":\"" FG_SOURCE_DIR "/CMakeLists.txt\"}}",
               "/ocpp/tls_cert",
               "required when /ocpp/tls_ca is set (client certificates come over "
               "wss://)");
    expect_one("{\"ocpp\":{\"tls_cert\":\"/nonexistent.pem\",\"tls_key\":\"" FG_SOURCE_DIR
               "/CMakeLists.txt\"}}",
               "/ocpp/tls_cert", "\"/nonexistent.pem\": No such file or directory");
    /* unknown stations may be listed when they are allowed */
    parse(&r, "{\"ocpp\":{\"allow_unknown_stations\":true,\"stations\":["
              "{\"id\":\"CP9\",\"security_profile\":1,\"password_hash\":\"" H1 "\"}]}}");
    print_errs(&r.e);
    assert_int_equal(r.rc, 0);
    res_clear(&r);
}

/* A redacted GET of the stations, edited and PUT back, keeps each station's
 * hash by id (not by position). */
static void test_unredact_stations(void **state)
{
    (void)state;
    struct res cur, next;
    parse(&cur,
          "{" SITE ",\"ocpp\":{\"stations\":["
          "{\"id\":\"CP1\",\"security_profile\":1,\"password_hash\":\"" H1 "\"}]}}");
    assert_int_equal(cur.rc, 0);
    cJSON *j = fg_config_to_json(&cur.c, true);
    cJSON *st = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "ocpp"), "stations");
    cJSON *added = cJSON_Parse("{\"id\":\"CP2\",\"password_hash\":\"********\"}");
    cJSON_InsertItemInArray(st, 0, added); /* now first: CP1 moves to index 1 */
    assert_int_equal(fg_config_unredact(j, &cur.c), 0);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    parse(&next, text);
    free(text);
    print_errs(&next.e);
    assert_int_equal(next.rc, 0);
    assert_string_equal(next.c.ocpp.stations[1].id, "CP1");
    assert_string_equal(next.c.ocpp.stations[1].password_hash.value, H1);
    assert_null(next.c.ocpp.stations[0].password_hash.value); /* not CP1's */
    res_clear(&cur);
    res_clear(&next);
}

/* ---- generated files ---- */

static void strip_nl(char *s)
{
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n')
        s[n - 1] = '\0';
}

static void expect_same(char *generated, const char *file, const char *how)
{
    char *checked_in = slurp(file);
    if (!checked_in)
        fail_msg("%s is missing; run: %s", file, how);
    strip_nl(generated);
    strip_nl(checked_in);
    if (strcmp(generated, checked_in) != 0)
        fail_msg("%s is out of date with gateway/config.c; run: %s", file, how);
    free(checked_in);
    free(generated);
}

static void test_schema_drift(void **state)
{
    (void)state;
    char *s = fg_config_schema();
    assert_non_null(s);
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "$schema")->valuestring,
                        "https://json-schema.org/draft/2020-12/schema");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "additionalProperties")));
    cJSON_Delete(j);
    char *again = fg_config_schema();
    assert_string_equal(s, again); /* deterministic */
    free(again);
    expect_same(s, FG_SOURCE_DIR "/conf/flexgw.schema.json",
                "build/gateway/flexgw --config-schema > conf/flexgw.schema.json");
}

static void test_reference_drift(void **state)
{
    (void)state;
    char *s = fg_config_reference();
    assert_non_null(s);
    assert_non_null(strstr(s, "| `capacity_wh` |"));
    expect_same(s, FG_SOURCE_DIR "/docs/config.md",
                "build/gateway/flexgw --config-reference > docs/config.md");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_site_id_expansion),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_kind_scoped),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_ageing_defaults),
        cmocka_unit_test(test_ageing_keys),
        cmocka_unit_test(test_ageing_errors),
        cmocka_unit_test(test_secret_inline),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_secret_errors),
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_hhmm),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_load_missing),
        cmocka_unit_test(test_five_mistakes),
        cmocka_unit_test(test_default_file),
        cmocka_unit_test(test_demo_file),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_to_json_redaction),
        cmocka_unit_test(test_unredact),
        cmocka_unit_test(test_argon2id_shape),
        cmocka_unit_test(test_ocpp_security_ok),
        cmocka_unit_test(test_ocpp_security_errors),
        cmocka_unit_test(test_unredact_stations),
        cmocka_unit_test(test_schema_drift),
        cmocka_unit_test(test_reference_drift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
