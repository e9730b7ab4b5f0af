/* Unit tests of the flexibility model (gateway/model.c) and its JSON views
 * and signal decoder (gateway/model_json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_json.h"

#define NOW 1795626000LL /* 2026-11-25T17:00:00Z */

#define ASSERT_W(a, b)                                                                   \
    do {                                                                                 \
        double a_ = (a), b_ = (b);                                                       \
        if (!(fabs(a_ - b_) < 1e-6))                                                     \
            fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                          \
    } while (0)

#define ASSERT_ENV(e, lo, hi)                                                            \
    do {                                                                                 \
        struct fg_envelope e_ = (e);                                                     \
        ASSERT_W(e_.min_w, lo);                                                          \
        ASSERT_W(e_.max_w, hi);                                                          \
    } while (0)

/* ---- fixtures ---- */

static struct fg_asset base_asset(const char *id, enum fg_asset_kind kind)
{
    struct fg_asset a;
    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "%s", id);
    snprintf(a.name, sizeof(a.name), "asset %s", id);
    snprintf(a.adapter, sizeof(a.adapter), "sim");
    a.kind = kind;
    a.online = true;
    a.last_seen = NOW;
    a.power_w = NAN;
    a.reactive_var = NAN;
    return a;
}

static struct fg_asset battery(const char *id)
{
    struct fg_asset a = base_asset(id, FG_ASSET_BATTERY);
    a.battery = (struct fg_battery){.capacity_wh = 10000,
                                    .soc = 50,
                                    .soh = 98,
                                    .soc_min = 10,
                                    .soc_max = 90,
                                    .max_charge_w = 5000,
                                    .max_discharge_w = 3000,
                                    .temperature_c = NAN,
                                    .chemistry = "LFP"};
    return a;
}

static struct fg_asset evse(const char *id)
{
    struct fg_asset a = base_asset(id, FG_ASSET_EVSE);
    a.evse = (struct fg_evse){.state = FG_CONN_CHARGING,
                              .rated_w = 11000,
                              .phases = 3,
                              .voltage = 230,
                              .min_current_a = 6,
                              .max_current_a = 16,
                              .session_active = true,
                              .session_id = "s1",
                              .id_token = "tok",
                              .session_start = NOW - 600,
                              .departure = NOW + 3600,
                              .ev_soc = NAN};
    return a;
}

static struct fg_asset pv(const char *id, bool curtailable)
{
    struct fg_asset a = base_asset(id, FG_ASSET_PV);
    a.pv.rated_w = 8000;
    a.pv.available_w = 4000;
    a.pv.curtailable = curtailable;
    a.pv.limit_w = NAN;
    return a;
}

static struct fg_asset load(const char *id, enum fg_load_type t, double power)
{
    struct fg_asset a = base_asset(id, FG_ASSET_LOAD);
    a.load.type = t;
    a.load.rated_w = 2000;
    a.load.connected = true;
    a.power_w = power;
    return a;
}

static void site_model(struct fg_model *m)
{
    fg_model_init(m);
    snprintf(m->site.id, sizeof(m->site.id), "site1");
    m->site.import_limit_w = 10000;
    m->site.export_limit_w = 5000;
}

static void add(struct fg_model *m, struct fg_asset a)
{
    struct fg_error err = {0};
    assert_int_equal(fg_model_add_asset(m, &a, &err), 0);
}

/* A heap signal (they are large) with one interval. */
static struct fg_signal *sig(const char *id, enum fg_signal_type type, int64_t start,
                             int64_t dur, double value, double export_value)
{
    struct fg_signal *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->source = FG_SRC_OPENADR;
    s->type = type;
    s->n_intervals = 1;
    s->intervals[0] = (struct fg_signal_interval){start, dur, value, export_value};
    return s;
}

static void put(struct fg_model *m, struct fg_signal *s, int64_t now)
{
    struct fg_error err = {0};
    int rc = fg_model_signal_put(m, s, now, &err);
    if (rc)
        fail_msg("put %s: %s %s", s->id, err.path, err.msg);
    free(s);
}

/* ---- names ---- */

/* Assets are found through a hash index: every one of many, after removals
 * too, and never one that is gone; the limit holds. */
static void test_many_assets_found_by_id(void **state)
{
    (void)state;
    struct fg_model m;
    fg_model_init(&m);
    char id[FG_ID_MAX];
    for (int i = 0; i < FG_MODEL_MAX_ASSETS; i++) {
        snprintf(id, sizeof(id), "st%d-%d", i / 2, i % 2 + 1);
        struct fg_asset a = evse(id);
        assert_int_equal(fg_model_add_asset(&m, &a, NULL), 0);
    }
    struct fg_asset extra = evse("one-too-many");
    assert_int_equal(fg_model_add_asset(&m, &extra, NULL), FG_EFULL);
    for (int i = 0; i < FG_MODEL_MAX_ASSETS; i += 7) {
        snprintf(id, sizeof(id), "st%d-%d", i / 2, i % 2 + 1);
        struct fg_asset *a = fg_model_find_asset(&m, id);
        assert_non_null(a);
        assert_string_equal(a->id, id);
    }
    assert_int_equal(fg_model_remove_asset(&m, "st0-1"), 0);
    assert_int_equal(fg_model_remove_asset(&m, "st500-2"), 0);
    assert_null(fg_model_find_asset(&m, "st0-1"));
    assert_null(fg_model_find_asset(&m, "st500-2"));
    assert_null(fg_model_find_asset(&m, "nobody"));
    assert_string_equal(fg_model_find_asset(&m, "st9999-2")->id, "st9999-2");
    assert_string_equal(fg_model_find_asset_c(&m, "st0-2")->id, "st0-2");
    struct fg_asset again = evse("st0-1");
    assert_int_equal(fg_model_add_asset(&m, &again, NULL), 0);
    assert_int_equal(fg_model_add_asset(&m, &again, NULL), FG_EEXISTS);
    assert_ptr_equal(fg_model_find_asset(&m, "st0-1"), &m.assets[m.n_assets - 1]);
    fg_model_clear(&m);
}

static void test_names(void **state)
{
    (void)state;
    for (int k = 0; k < FG_ASSET_KIND_COUNT; k++) {
        enum fg_asset_kind v;
        assert_int_equal(fg_asset_kind_parse(fg_asset_kind_name(k), &v), 0);
        assert_int_equal(v, k);
    }
    assert_string_equal(fg_asset_kind_name(FG_ASSET_PV), "pv");
    assert_string_equal(fg_load_type_name(FG_LOAD_SHIFTABLE), "shiftable");
    assert_string_equal(fg_connector_state_name(FG_CONN_UNAVAILABLE), "unavailable");
    assert_string_equal(fg_sp_source_name(FG_SP_FALLBACK), "fallback");
    assert_string_equal(fg_signal_source_name(FG_SRC_CONFIG), "config");
    assert_string_equal(fg_signal_type_name(FG_SIG_GRID_LIMIT), "grid_limit");
    assert_string_equal(fg_signal_status_name(FG_SIGST_CANCELLED), "cancelled");
    enum fg_connector_state cs;
    assert_int_equal(fg_connector_state_parse("suspended", &cs), 0);
    assert_int_equal(cs, FG_CONN_SUSPENDED);
    enum fg_signal_type st;
    assert_int_equal(fg_signal_type_parse("island", &st), 0);
    assert_int_equal(st, FG_SIG_ISLAND);
    assert_int_equal(fg_signal_type_parse("Island", &st), FG_EINVAL);
    enum fg_sp_source sp;
    assert_int_equal(fg_sp_source_parse("uftp", &sp), 0);
    assert_int_equal(sp, FG_SP_UFTP);
    enum fg_load_type lt;
    assert_int_equal(fg_load_type_parse("", &lt), FG_EINVAL);
    assert_int_equal(fg_load_type_parse(NULL, &lt), FG_EINVAL);
    enum fg_signal_source ss;
    assert_int_equal(fg_signal_source_parse("mqtt", &ss), 0);
    assert_int_equal(ss, FG_SRC_MQTT);
    enum fg_signal_status sst;
    assert_int_equal(fg_signal_status_parse("completed", &sst), 0);
    assert_int_equal(sst, FG_SIGST_COMPLETED);
    assert_string_equal(fg_asset_kind_name((enum fg_asset_kind)99), "unknown");
}

/* ---- envelopes ---- */

static void test_envelope_battery(void **state)
{
    (void)state;
    struct fg_asset a = battery("b");
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -3000, 5000);
    a.battery.soc = 10; /* at soc_min: no discharge */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 5000);
    a.battery.soc = 5;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 5000);
    a.battery.soc = 90; /* at soc_max: no charge */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -3000, 0);
    a.battery.soc = 50;
    a.battery.soh = NAN; /* unknown soh / capacity do not matter */
    a.battery.capacity_wh = 0;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -3000, 5000);
    a.online = false;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 0);
}

static void test_envelope_evse(void **state)
{
    (void)state;
    struct fg_asset a = evse("e");
    /* 16 A * 230 V * 3 = 11040 W > rated 11000; min current does not raise min */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 11000);
    a.evse.max_current_a = 10; /* 6900 W */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 6900);
    a.evse.bidirectional = true;
    a.evse.max_discharge_w = 5000;
    /* discharge needs the EV to offer it too (OCPP 2.1 V2X charging needs) */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 6900);
    a.evse.ev_bidirectional = true;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -5000, 6900);
    a.evse.ev_max_discharge_w = 3000; /* the EV gives less than the EVSE could */
    a.evse.ev_max_w = 4000;           /* ... and takes less */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -3000, 4000);
    a.evse.ev_max_discharge_w = 0; /* unknown: the EVSE's own limits */
    a.evse.ev_max_w = 0;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -5000, 6900);
    /* departure: before it the envelope holds, at and after it [0, 0] */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 3599), -5000, 6900);
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 3600), 0, 0);
    a.evse.departure = 0; /* unknown departure */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 86400), -5000, 6900);
    a.evse.state = FG_CONN_SUSPENDED;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -5000, 6900);
    a.evse.state = FG_CONN_FAULTED;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 0);
    a.evse.state = FG_CONN_CHARGING;
    a.evse.session_active = false; /* no session */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 0);
    a.evse.session_active = true;
    a.online = false;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 0);
    struct fg_asset b = evse("f");
    b.evse.max_current_a = 0; /* unknown current limit: rated only */
    ASSERT_ENV(fg_asset_envelope_at(&b, NOW, NOW), 0, 11000);
}

static void test_envelope_pv(void **state)
{
    (void)state;
    struct fg_asset a = pv("p", false);
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -4000, -4000);
    a.pv.curtailable = true;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -4000, 0);
    /* no forecast: the future falls back to available */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 900), -4000, 0);
    a.pv.forecast_start = NOW;
    a.pv.n_forecast = 3;
    a.pv.forecast_w[0] = 4500;
    a.pv.forecast_w[1] = 3000;
    a.pv.forecast_w[2] = 9000;                                /* above rated 8000 */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), -4000, 0); /* now: available */
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 1), -4500, 0);
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 900), -3000, 0);
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 1799), -3000, 0);
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 1800), -8000, 0);
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 2700), -4000, 0); /* past end */
    a.pv.forecast_step_s = 3600;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW + 3599), -4500, 0);
    a.pv.available_w = NAN;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 0);
    a.pv.available_w = 4000;
    a.online = false;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 0);
}

static void test_envelope_load(void **state)
{
    (void)state;
    struct fg_asset a = load("l", FG_LOAD_INFLEXIBLE, 1200);
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 1200, 1200);
    a.power_w = NAN;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 0);
    a.load.type = FG_LOAD_DISCONNECTABLE;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 2000);
    a.load.type = FG_LOAD_SHIFTABLE;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 2000);
    a.online = false; /* offline loads still draw what they draw */
    a.power_w = 700;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 700, 700);
    a.power_w = NAN;
    ASSERT_ENV(fg_asset_envelope_at(&a, NOW, NOW), 0, 0);
}

/* ---- assets ---- */

static void test_assets(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_error err = {0};
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i);
        add(&m, load(id, FG_LOAD_INFLEXIBLE, i));
    }
    assert_int_equal(m.n_assets, 100);
    struct fg_asset dup = battery("a7");
    assert_int_equal(fg_model_add_asset(&m, &dup, &err), FG_EEXISTS);
    assert_string_equal(err.path, "/id");
    struct fg_asset empty = battery("");
    assert_int_equal(fg_model_add_asset(&m, &empty, &err), FG_EINVAL);
    ASSERT_W(fg_model_find_asset(&m, "a42")->power_w, 42);
    assert_null(fg_model_find_asset(&m, "nope"));
    uint64_t v = m.version;
    assert_int_equal(fg_model_remove_asset(&m, "a42"), 0);
    assert_true(m.version > v);
    assert_null(fg_model_find_asset_c(&m, "a42"));
    ASSERT_W(fg_model_find_asset_c(&m, "a43")->power_w, 43);
    assert_int_equal(fg_model_remove_asset(&m, "a42"), FG_ENOTFOUND);
    assert_int_equal(m.n_assets, 99);
    fg_model_clear(&m);
    assert_int_equal(m.n_assets, 0);
}

static void test_refresh_and_site_power(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_asset b = battery("b");
    b.last_seen = NOW - 100;
    b.power_w = 1000;
    add(&m, b);
    add(&m, load("l", FG_LOAD_INFLEXIBLE, 500));
    add(&m, pv("p", true)); /* power NAN counts as 0 */
    ASSERT_W(fg_model_site_power(&m), 1500);
    m.site.meter_power_w = 1234;
    ASSERT_W(fg_model_site_power(&m), 1234);

    assert_int_equal(fg_model_refresh(&m, NOW, 300), 0);
    ASSERT_ENV(fg_model_find_asset(&m, "b")->env, -3000, 5000);
    ASSERT_ENV(fg_model_find_asset(&m, "p")->env, -4000, 0);
    assert_int_equal(fg_model_refresh(&m, NOW, 100), 1); /* b not seen for 100 s */
    assert_false(fg_model_find_asset(&m, "b")->online);
    ASSERT_ENV(fg_model_find_asset(&m, "b")->env, 0, 0);
    assert_true(fg_model_find_asset(&m, "l")->online);
    assert_int_equal(fg_model_refresh(&m, NOW, 100), 0);
    fg_model_clear(&m);
}

/* ---- set-points ---- */

static void test_setpoint_envelope(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    add(&m, battery("b"));
    struct fg_setpoint sp;
    struct fg_error err = {0};
    uint64_t v = m.version;
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", 8000, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 5000);
    ASSERT_W(sp.requested_w, 8000);
    assert_int_equal(sp.clamp, FG_CLAMP_ENVELOPE);
    assert_int_equal(sp.source, FG_SP_API);
    assert_int_equal(sp.set_at, NOW);
    assert_int_equal(sp.expires_at, NOW + 60);
    assert_true(m.version > v);
    const struct fg_asset *a = fg_model_find_asset_c(&m, "b");
    assert_true(a->sp.active);
    ASSERT_W(a->sp.w, 5000);
    assert_int_equal(fg_model_apply_setpoint(&m, "b", -2000, FG_SP_SCHEDULER, NOW + 60,
                                             NOW, &sp, &err),
                     0);
    ASSERT_W(sp.w, -2000);
    assert_int_equal(sp.clamp, 0);
    fg_model_clear(&m);
}

static void test_setpoint_import_limit(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_asset b = battery("b");
    b.battery.max_charge_w = 10000;
    add(&m, b);
    add(&m, load("l", FG_LOAD_INFLEXIBLE, 4000));
    struct fg_asset p = pv("p", true);
    p.power_w = -3000; /* measured, but its set-point counts */
    add(&m, p);
    struct fg_error err = {0};
    struct fg_setpoint sp;
    assert_int_equal(fg_model_apply_setpoint(&m, "p", -2000, FG_SP_SCHEDULER, NOW + 60,
                                             NOW, &sp, &err),
                     0);
    ASSERT_W(sp.w, -2000);
    /* other = 4000 + (-2000): the battery may draw 10000 - 2000 */
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", 9500, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 8000);
    assert_int_equal(sp.clamp, FG_CLAMP_IMPORT);
    /* An expired set-point no longer counts: the pv's measurement does. */
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", 9500, FG_SP_API, NOW + 120, NOW + 60, &sp, &err),
        0);
    ASSERT_W(sp.w, 9000);
    fg_model_clear(&m);
}

static void test_setpoint_export_limit(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_asset b = battery("b");
    b.battery.max_discharge_w = 10000;
    add(&m, b);
    add(&m, load("l", FG_LOAD_INFLEXIBLE, 1000));
    add(&m, pv("p", false)); /* power unknown: 0 */
    struct fg_error err = {0};
    struct fg_setpoint sp;
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", -9000, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, -6000); /* -5000 export limit - 1000 load */
    assert_int_equal(sp.clamp, FG_CLAMP_EXPORT);
    fg_model_find_asset(&m, "p")->power_w = -4000;
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", -9000, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, -2000);
    assert_int_equal(sp.clamp, FG_CLAMP_EXPORT);
    fg_model_clear(&m);
}

static void test_setpoint_conflict_envelope_wins(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_asset b = battery("b");
    b.battery.soc = 10; /* [0, 5000] */
    add(&m, b);
    add(&m, load("l", FG_LOAD_INFLEXIBLE, 12000)); /* already over the 10 kW limit */
    struct fg_error err = {0};
    struct fg_setpoint sp;
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", 1000, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 0); /* limit wants -2000, the battery cannot discharge */
    assert_int_equal(sp.clamp, FG_CLAMP_IMPORT | FG_CLAMP_ENVELOPE);

    /* export side: a non-curtailable pv pushes the site past its export limit */
    struct fg_asset p = pv("p", false);
    p.pv.available_w = 7000;
    p.power_w = -7000;
    add(&m, p);
    fg_model_find_asset(&m, "l")->power_w = 0;
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", 0, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 2000); /* needs >= 2000 to keep export at 5000 */
    assert_int_equal(sp.clamp, FG_CLAMP_EXPORT);
    fg_model_find_asset(&m, "b")->battery.max_charge_w = 1500;
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", 0, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 1500);
    assert_int_equal(sp.clamp, FG_CLAMP_EXPORT | FG_CLAMP_ENVELOPE);
    fg_model_clear(&m);
}

static void test_setpoint_evse_min_current(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    add(&m, evse("e")); /* min 6 A * 230 V * 3 = 4140 W */
    struct fg_error err = {0};
    struct fg_setpoint sp;
    assert_int_equal(
        fg_model_apply_setpoint(&m, "e", 1000, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 0);
    ASSERT_W(sp.requested_w, 1000);
    assert_int_equal(
        fg_model_apply_setpoint(&m, "e", 2070, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 4140); /* exactly half rounds up */
    assert_int_equal(
        fg_model_apply_setpoint(&m, "e", 3000, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 4140);
    assert_int_equal(
        fg_model_apply_setpoint(&m, "e", 5000, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 5000);
    /* rounding up would break the import limit: pause instead */
    m.site.import_limit_w = 3500;
    assert_int_equal(
        fg_model_apply_setpoint(&m, "e", 3000, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 0);
    /* clamped by the limit to 3500, which also rounds to 0 */
    assert_int_equal(
        fg_model_apply_setpoint(&m, "e", 9000, FG_SP_API, NOW + 60, NOW, &sp, &err), 0);
    ASSERT_W(sp.w, 0);
    assert_true(sp.clamp & FG_CLAMP_IMPORT);
    fg_model_clear(&m);
}

static void test_setpoint_errors(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    add(&m, battery("b"));
    struct fg_asset off = battery("off");
    off.online = false;
    add(&m, off);
    struct fg_error err = {0};
    assert_int_equal(
        fg_model_apply_setpoint(&m, "x", 1, FG_SP_API, NOW + 1, NOW, NULL, &err),
        FG_ENOTFOUND);
    assert_string_equal(err.path, "/asset");
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", NAN, FG_SP_API, NOW + 1, NOW, NULL, &err),
        FG_EINVAL);
    assert_string_equal(err.path, "/w");
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", INFINITY, FG_SP_API, NOW + 1, NOW, NULL, &err),
        FG_EINVAL);
    assert_int_equal(fg_model_apply_setpoint(&m, "b", 1, FG_SP_API, NOW, NOW, NULL, &err),
                     FG_EINVAL);
    assert_string_equal(err.path, "/expires_at");
    assert_int_equal(
        fg_model_apply_setpoint(&m, "off", 1, FG_SP_API, NOW + 1, NOW, NULL, &err),
        FG_ESTATE);
    assert_string_equal(err.path, "/asset");
    assert_false(fg_model_find_asset(&m, "b")->sp.active);
    fg_model_clear(&m);
}

/* ---- expiry ---- */

static void test_expire_setpoints(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    add(&m, battery("b"));
    add(&m, battery("c"));
    struct fg_error err = {0};
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", 100, FG_SP_API, NOW + 60, NOW, NULL, &err), 0);
    assert_int_equal(
        fg_model_apply_setpoint(&m, "c", 100, FG_SP_API, NOW + 120, NOW, NULL, &err), 0);
    assert_int_equal(fg_model_expire(&m, NOW + 59, 3600), 0);
    assert_true(fg_model_find_asset(&m, "b")->sp.active);
    uint64_t v = m.version;
    assert_int_equal(fg_model_expire(&m, NOW + 60, 3600), 1); /* exactly at expiry */
    assert_false(fg_model_find_asset(&m, "b")->sp.active);
    assert_true(fg_model_find_asset(&m, "c")->sp.active);
    assert_true(m.version > v);
    assert_int_equal(fg_model_expire(&m, NOW + 200, 3600), 1);
    assert_int_equal(fg_model_expire(&m, NOW + 300, 3600), 0);
    fg_model_clear(&m);
}

static void test_expire_signals(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    put(&m, sig("s", FG_SIG_PRICE, NOW + 100, 900, 0.2, NAN), NOW);
    put(&m, sig("c", FG_SIG_PRICE, NOW + 100, 900, 0.2, NAN), NOW);
    struct fg_signal *s = fg_model_signal_find(&m, FG_SRC_OPENADR, "s");
    assert_int_equal(s->status, FG_SIGST_PENDING);
    assert_int_equal(s->created, NOW);
    assert_int_equal(fg_model_signal_cancel(&m, FG_SRC_OPENADR, "c", NOW + 10), 0);
    assert_int_equal(fg_model_signal_cancel(&m, FG_SRC_UFTP, "c", NOW + 10),
                     FG_ENOTFOUND);
    fg_model_expire(&m, NOW + 99, 3600);
    s = fg_model_signal_find(&m, FG_SRC_OPENADR, "s");
    assert_int_equal(s->status, FG_SIGST_PENDING);
    fg_model_expire(&m, NOW + 100, 3600);
    s = fg_model_signal_find(&m, FG_SRC_OPENADR, "s");
    assert_int_equal(s->status, FG_SIGST_ACTIVE);
    assert_int_equal(fg_model_signal_find(&m, FG_SRC_OPENADR, "c")->status,
                     FG_SIGST_CANCELLED);
    fg_model_expire(&m, NOW + 999, 3600);
    assert_int_equal(fg_model_signal_find(&m, FG_SRC_OPENADR, "s")->status,
                     FG_SIGST_ACTIVE);
    fg_model_expire(&m, NOW + 1000, 3600); /* end of the last interval */
    assert_int_equal(fg_model_signal_find(&m, FG_SRC_OPENADR, "s")->status,
                     FG_SIGST_COMPLETED);
    /* cancelled: kept for keep_s after its update */
    fg_model_expire(&m, NOW + 10 + 3599, 3600);
    assert_non_null(fg_model_signal_find(&m, FG_SRC_OPENADR, "c"));
    fg_model_expire(&m, NOW + 10 + 3600, 3600);
    assert_null(fg_model_signal_find(&m, FG_SRC_OPENADR, "c"));
    /* completed: kept for keep_s after its end */
    fg_model_expire(&m, NOW + 1000 + 3599, 3600);
    assert_non_null(fg_model_signal_find(&m, FG_SRC_OPENADR, "s"));
    fg_model_expire(&m, NOW + 1000 + 3600, 3600);
    assert_null(fg_model_signal_find(&m, FG_SRC_OPENADR, "s"));
    assert_int_equal(m.n_signals, 0);
    fg_model_clear(&m);
}

/* ---- limits and signal precedence ---- */

static void test_limits_defaults_and_tariff(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_limits l;
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.import_max_w, 10000);
    ASSERT_W(l.export_max_w, 5000);
    assert_null(l.import_by);
    assert_null(l.export_by);
    assert_true(isnan(l.price_import));
    assert_true(isnan(l.price_export));
    assert_false(l.has_dispatch);
    assert_false(l.island);

    /* 06:00 peak 0.30, 22:00 off-peak 0.10 (no period at 0: wraps) */
    m.site.n_tariff = 2;
    m.site.tariff[0] = (struct fg_tariff_period){360, 0.30, 0.08};
    m.site.tariff[1] = (struct fg_tariff_period){1320, 0.10, 0.05};
    int64_t midnight = NOW - 17 * 3600; /* 2026-11-25T00:00:00Z */
    ASSERT_W(fg_site_tariff_import(&m.site, midnight + 60 * 60), 0.10); /* 01:00 wrap */
    ASSERT_W(fg_site_tariff_export(&m.site, midnight + 60 * 60), 0.05);
    ASSERT_W(fg_site_tariff_import(&m.site, midnight + 6 * 3600), 0.30);
    ASSERT_W(fg_site_tariff_import(&m.site, midnight + 6 * 3600 - 1), 0.10);
    ASSERT_W(fg_site_tariff_import(&m.site, midnight + 22 * 3600), 0.10);
    /* UTC+1: 05:30 UTC is 06:30 local */
    m.site.utc_offset_min = 60;
    ASSERT_W(fg_site_tariff_import(&m.site, midnight + 5 * 3600 + 1800), 0.30);
    /* UTC-2: 01:00 UTC is 23:00 local the day before */
    m.site.utc_offset_min = -120;
    ASSERT_W(fg_site_tariff_import(&m.site, midnight + 3600), 0.10);
    ASSERT_W(fg_site_tariff_import(&m.site, midnight + 8 * 3600), 0.30);
    fg_model_limits_at(&m, midnight + 8 * 3600, &l);
    ASSERT_W(l.price_import, 0.30);
    ASSERT_W(l.price_export, 0.08);
    assert_null(l.price_by);
    m.site.n_tariff = 0;
    assert_true(isnan(fg_site_tariff_import(&m.site, NOW)));
    fg_model_clear(&m);
}

static void test_limits_dso_beats_price_and_dispatch(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_signal *g = sig("dso", FG_SIG_GRID_LIMIT, NOW, 3600, 4000, NAN);
    g->source = FG_SRC_UFTP;
    g->priority = -5; /* priority does not matter for limits */
    put(&m, g, NOW);
    struct fg_signal *p = sig("price", FG_SIG_PRICE, NOW, 3600, 0.01, -0.05);
    p->priority = 100;
    put(&m, p, NOW);
    struct fg_signal *d = sig("disp", FG_SIG_DISPATCH, NOW, 3600, 9000, NAN);
    d->priority = 100;
    put(&m, d, NOW);
    struct fg_limits l;
    fg_model_limits_at(&m, NOW + 10, &l);
    ASSERT_W(l.import_max_w, 4000);
    ASSERT_W(l.export_max_w, 5000);
    assert_non_null(l.import_by);
    assert_string_equal(l.import_by->id, "dso");
    assert_null(l.export_by);
    assert_true(l.has_dispatch);
    ASSERT_W(l.dispatch_w, 4000); /* 9000 asked, clamped to the DSO limit */
    assert_string_equal(l.dispatch_by->id, "disp");
    ASSERT_W(l.price_import, 0.01);
    ASSERT_W(l.price_export, -0.05);

    /* A set-point obeys the DSO limit too. */
    struct fg_asset b = battery("b");
    b.battery.max_charge_w = 8000;
    add(&m, b);
    struct fg_setpoint sp;
    struct fg_error err = {0};
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", 8000, FG_SP_API, NOW + 60, NOW + 10, &sp, &err),
        0);
    ASSERT_W(sp.w, 4000);
    assert_int_equal(sp.clamp, FG_CLAMP_IMPORT);

    /* a charge_state signal: the batteries' target and its interval's end;
     * the higher priority of two wins */
    assert_true(isnan(l.soc_target_pct));
    assert_null(l.soc_target_by);
    put(&m, sig("soc-a", FG_SIG_CHARGE_STATE, NOW, 1800, 90, NAN), NOW);
    struct fg_signal *c = sig("soc-b", FG_SIG_CHARGE_STATE, NOW, 600, 20, NAN);
    c->priority = 5;
    put(&m, c, NOW);
    fg_model_limits_at(&m, NOW + 10, &l);
    ASSERT_W(l.soc_target_pct, 20);
    assert_int_equal(l.soc_target_until, NOW + 600);
    assert_string_equal(l.soc_target_by->id, "soc-b");
    fg_model_limits_at(&m, NOW + 900, &l);
    ASSERT_W(l.soc_target_pct, 90);
    assert_int_equal(l.soc_target_until, NOW + 1800);

    /* dispatch far below the export limit is clamped to it */
    put(&m, sig("disp", FG_SIG_DISPATCH, NOW, 3600, -20000, NAN), NOW);
    fg_model_limits_at(&m, NOW + 10, &l);
    ASSERT_W(l.dispatch_w, -5000);
    /* outside the signals' intervals only the connection counts */
    fg_model_limits_at(&m, NOW + 3600, &l);
    ASSERT_W(l.import_max_w, 10000);
    assert_false(l.has_dispatch);
    assert_true(isnan(l.price_import));
    fg_model_clear(&m);
}

static void test_limits_tighter_grid_limit_wins(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    put(&m, sig("a", FG_SIG_GRID_LIMIT, NOW, 3600, 6000, 3000), NOW);
    put(&m, sig("b", FG_SIG_GRID_LIMIT, NOW, 3600, NAN, 2000), NOW); /* export only */
    struct fg_limits l;
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.import_max_w, 6000);
    assert_string_equal(l.import_by->id, "a");
    ASSERT_W(l.export_max_w, 2000);
    assert_string_equal(l.export_by->id, "b");
    put(&m, sig("c", FG_SIG_GRID_LIMIT, NOW, 3600, 5000, NAN), NOW); /* import only */
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.import_max_w, 5000);
    assert_string_equal(l.import_by->id, "c");
    ASSERT_W(l.export_max_w, 2000);
    assert_string_equal(l.export_by->id, "b");
    /* a limit looser than the connection does not widen it */
    put(&m, sig("d", FG_SIG_GRID_LIMIT, NOW, 3600, 50000, 50000), NOW);
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.import_max_w, 5000);
    /* cancelled and targeted limits do not count */
    assert_int_equal(fg_model_signal_cancel(&m, FG_SRC_OPENADR, "c", NOW), 0);
    struct fg_signal *t = sig("t", FG_SIG_GRID_LIMIT, NOW, 3600, 100, 100);
    snprintf(t->target, sizeof(t->target), "b1");
    put(&m, t, NOW);
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.import_max_w, 6000);
    ASSERT_W(l.export_max_w, 2000);
    /* a pending limit applies when asked about its interval */
    put(&m, sig("later", FG_SIG_GRID_LIMIT, NOW + 7200, 900, 1000, 0), NOW);
    fg_model_limits_at(&m, NOW + 7200, &l);
    ASSERT_W(l.import_max_w, 1000);
    ASSERT_W(l.export_max_w, 0);
    fg_model_clear(&m);
}

static void test_limits_price_priority(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    m.site.n_tariff = 1;
    m.site.tariff[0] = (struct fg_tariff_period){0, 0.25, 0.07};
    struct fg_signal *s = sig("p1", FG_SIG_PRICE, NOW, 3600, 0.30, NAN);
    s->updated = NOW + 50;
    put(&m, s, NOW);
    struct fg_limits l;
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.price_import, 0.30);
    ASSERT_W(l.price_export, 0.07); /* no export price in the signal: tariff */
    s = sig("p2", FG_SIG_PRICE, NOW, 3600, 0.10, 0.01);
    s->priority = 5;
    s->updated = NOW;
    put(&m, s, NOW);
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.price_import, 0.10);
    ASSERT_W(l.price_export, 0.01);
    assert_string_equal(l.price_by->id, "p2");
    s = sig("p3", FG_SIG_PRICE, NOW, 3600, 0.20, 0.02); /* same priority, newer */
    s->priority = 5;
    s->updated = NOW + 10;
    put(&m, s, NOW);
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.price_import, 0.20);
    assert_string_equal(l.price_by->id, "p3");
    assert_int_equal(fg_model_signal_cancel(&m, FG_SRC_OPENADR, "p3", NOW), 0);
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.price_import, 0.10);
    /* targeted price does not set the site price */
    s = sig("pt", FG_SIG_PRICE, NOW, 3600, 9.0, NAN);
    s->priority = 50;
    snprintf(s->target, sizeof(s->target), "b1");
    put(&m, s, NOW);
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.price_import, 0.10);
    /* dispatch: higher priority wins */
    s = sig("d1", FG_SIG_DISPATCH, NOW, 3600, 1000, NAN);
    s->priority = 1;
    put(&m, s, NOW);
    put(&m, sig("d2", FG_SIG_DISPATCH, NOW, 3600, 2000, NAN), NOW);
    fg_model_limits_at(&m, NOW, &l);
    ASSERT_W(l.dispatch_w, 1000);
    fg_model_clear(&m);
}

static void test_limits_island(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    put(&m, sig("i0", FG_SIG_ISLAND, NOW, 600, 0, NAN), NOW);
    struct fg_limits l;
    fg_model_limits_at(&m, NOW, &l);
    assert_false(l.island);
    put(&m, sig("i1", FG_SIG_ISLAND, NOW + 300, 600, 1, NAN), NOW);
    fg_model_limits_at(&m, NOW + 299, &l);
    assert_false(l.island);
    fg_model_limits_at(&m, NOW + 300, &l);
    assert_true(l.island);
    fg_model_clear(&m);
}

/* ---- signal validation ---- */

static void expect_put_error(struct fg_model *m, struct fg_signal *s, int code,
                             const char *path)
{
    struct fg_error err = {0};
    int rc = fg_model_signal_put(m, s, NOW, &err);
    free(s);
    if (rc != code || strcmp(err.path, path) != 0)
        fail_msg("got %s at \"%s\" (%s), expected %s at \"%s\"", fg_errname(rc), err.path,
                 err.msg, fg_errname(code), path);
}

static struct fg_signal *three(void)
{
    struct fg_signal *s = sig("x", FG_SIG_PRICE, NOW, 900, 0.1, NAN);
    s->n_intervals = 3;
    s->intervals[1] = (struct fg_signal_interval){NOW + 900, 900, 0.2, NAN};
    s->intervals[2] = (struct fg_signal_interval){NOW + 1800, 900, 0.3, NAN};
    return s;
}

static void test_signal_put_validation(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_signal *s = three();
    s->intervals[2].start = NOW + 1799; /* overlaps interval 1 */
    expect_put_error(&m, s, FG_EINVAL, "/intervals/2/start");
    s = three();
    s->intervals[1].start = NOW - 900; /* out of order */
    expect_put_error(&m, s, FG_EINVAL, "/intervals/1/start");
    s = three();
    s->intervals[1].duration_s = 0;
    expect_put_error(&m, s, FG_ERANGE, "/intervals/1/duration_s");
    s = three();
    s->intervals[0].duration_s = -5;
    expect_put_error(&m, s, FG_ERANGE, "/intervals/0/duration_s");
    s = three();
    s->intervals[2].value = NAN;
    expect_put_error(&m, s, FG_ERANGE, "/intervals/2/value");
    s = three();
    s->intervals[0].export_value = INFINITY;
    expect_put_error(&m, s, FG_ERANGE, "/intervals/0/export_value");
    s = three();
    s->id[0] = '\0';
    expect_put_error(&m, s, FG_EINVAL, "/id");
    s = three();
    s->n_intervals = 0;
    expect_put_error(&m, s, FG_ERANGE, "/intervals");
    s = three();
    s->n_intervals = FG_SIGNAL_MAX_INTERVALS + 1;
    expect_put_error(&m, s, FG_ERANGE, "/intervals");
    s = sig("g", FG_SIG_GRID_LIMIT, NOW, 900, -1, NAN);
    expect_put_error(&m, s, FG_ERANGE, "/intervals/0/value");
    s = sig("g", FG_SIG_GRID_LIMIT, NOW, 900, 100, -1);
    expect_put_error(&m, s, FG_ERANGE, "/intervals/0/export_value");
    s = sig("g", FG_SIG_GRID_LIMIT, NOW, 900, INFINITY, NAN);
    expect_put_error(&m, s, FG_ERANGE, "/intervals/0/value");
    s = sig("c", FG_SIG_CHARGE_STATE, NOW, 900, 100.5, NAN);
    expect_put_error(&m, s, FG_ERANGE, "/intervals/0/value");
    s = sig("c", FG_SIG_CHARGE_STATE, NOW, 900, -1, NAN);
    expect_put_error(&m, s, FG_ERANGE, "/intervals/0/value");
    assert_int_equal(m.n_signals, 0);
    assert_int_equal(m.version, 0);
    fg_model_clear(&m);
}

static void test_signal_put_replace_and_full(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_signal *s = three();
    s->created = NOW - 500;
    put(&m, s, NOW);
    s = three();
    s->intervals[0].value = 0.9;
    s->modification = 2;
    put(&m, s, NOW + 100);
    assert_int_equal(m.n_signals, 1);
    struct fg_signal *f = fg_model_signal_find(&m, FG_SRC_OPENADR, "x");
    assert_int_equal(f->created, NOW - 500); /* kept */
    assert_int_equal(f->updated, NOW + 100);
    assert_int_equal(f->modification, 2);
    ASSERT_W(f->intervals[0].value, 0.9);
    assert_int_equal(f->status, FG_SIGST_ACTIVE);
    /* same id from another source is another signal */
    s = three();
    s->source = FG_SRC_UFTP;
    put(&m, s, NOW);
    assert_int_equal(m.n_signals, 2);
    /* a cancelled signal stays cancelled */
    s = three();
    s->status = FG_SIGST_CANCELLED;
    put(&m, s, NOW);
    assert_int_equal(fg_model_signal_find(&m, FG_SRC_OPENADR, "x")->status,
                     FG_SIGST_CANCELLED);
    for (int i = 2; i < FG_MODEL_MAX_SIGNALS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "n%d", i);
        put(&m, sig(id, FG_SIG_PRICE, NOW, 900, 0.1, NAN), NOW);
    }
    assert_int_equal(m.n_signals, FG_MODEL_MAX_SIGNALS);
    expect_put_error(&m, sig("over", FG_SIG_PRICE, NOW, 900, 0.1, NAN), FG_EFULL, "");
    put(&m, sig("n7", FG_SIG_PRICE, NOW, 900, 0.2, NAN), NOW); /* replace still works */
    fg_model_clear(&m);
}

static void test_signal_remove(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    put(&m, sig("a", FG_SIG_PRICE, NOW, 900, 0.1, NAN), NOW);
    put(&m, sig("b", FG_SIG_PRICE, NOW, 900, 0.2, NAN), NOW);
    put(&m, sig("c", FG_SIG_PRICE, NOW, 900, 0.3, NAN), NOW);
    uint64_t v = m.version;
    const struct fg_signal *b = fg_model_signal_find(&m, FG_SRC_OPENADR, "b");
    assert_int_equal(fg_model_signal_remove(&m, b->source, "b"), 0);
    assert_true(m.version > v);
    assert_int_equal(m.n_signals, 2);
    assert_null(fg_model_signal_find(&m, FG_SRC_OPENADR, "b"));
    /* the others keep their order and content */
    assert_string_equal(m.signals[0].id, "a");
    assert_string_equal(m.signals[1].id, "c");
    ASSERT_W(m.signals[1].intervals[0].value, 0.3);
    assert_int_equal(fg_model_signal_remove(&m, FG_SRC_OPENADR, "b"), FG_ENOTFOUND);
    assert_int_equal(fg_model_signal_remove(&m, FG_SRC_API, "a"), FG_ENOTFOUND);
    fg_model_clear(&m);
}

/* ---- plan ---- */

static void test_plan(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_plan p = {.created = NOW,
                        .start = NOW,
                        .isp_s = 900,
                        .n_isp = 2,
                        .n_assets = 1,
                        .expected_cost = 1.5};
    p.asset_ids = calloc(1, sizeof(*p.asset_ids));
    p.w = calloc(2, sizeof(double));
    assert_non_null(p.asset_ids);
    assert_non_null(p.w);
    snprintf(p.asset_ids[0], FG_ID_MAX, "b");
    p.w[0] = 100;
    p.w[1] = NAN;
    snprintf(p.producer, sizeof(p.producer), "greedy");
    fg_model_set_plan(&m, &p);
    assert_null(p.w);
    assert_null(p.asset_ids);
    assert_int_equal(m.plan.n_isp, 2);

    cJSON *j = fg_plan_to_json(&m.plan);
    assert_non_null(j);
    cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "assets"), 0);
    assert_string_equal(cJSON_GetObjectItem(a0, "id")->valuestring, "b");
    cJSON *w = cJSON_GetObjectItem(a0, "w");
    ASSERT_W(cJSON_GetArrayItem(w, 0)->valuedouble, 100);
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(w, 1)));
    assert_string_equal(cJSON_GetObjectItem(j, "producer")->valuestring, "greedy");
    cJSON_Delete(j);

    struct fg_plan q = {.created = NOW + 1, .n_isp = 0};
    fg_model_set_plan(&m, &q); /* frees the previous plan */
    assert_int_equal(m.plan.created, NOW + 1);
    fg_model_clear(&m);
}

/* ---- JSON views ---- */

static cJSON *obj(const cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        fail_msg("no key \"%s\"", k);
    return v;
}

static void test_json_asset_views(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    struct fg_asset b = battery("b");
    b.power_w = 1500;
    add(&m, b);
    add(&m, evse("e"));
    struct fg_asset p = pv("p", true);
    p.pv.n_forecast = 4;
    add(&m, p);
    add(&m, load("l", FG_LOAD_SHIFTABLE, NAN));
    fg_model_refresh(&m, NOW, 0);
    struct fg_error err = {0};
    assert_int_equal(
        fg_model_apply_setpoint(&m, "b", 9000, FG_SP_MQTT, NOW + 60, NOW, NULL, &err), 0);

    cJSON *j = fg_asset_to_json(fg_model_find_asset_c(&m, "b"));
    assert_non_null(j);
    assert_string_equal(obj(j, "id")->valuestring, "b");
    assert_string_equal(obj(j, "kind")->valuestring, "battery");
    assert_string_equal(obj(j, "adapter")->valuestring, "sim");
    assert_true(cJSON_IsTrue(obj(j, "online")));
    ASSERT_W(obj(j, "power_w")->valuedouble, 1500);
    assert_true(cJSON_IsNull(obj(j, "reactive_var")));
    ASSERT_W(obj(obj(j, "envelope"), "min_w")->valuedouble, -3000);
    ASSERT_W(obj(obj(j, "envelope"), "max_w")->valuedouble, 5000);
    cJSON *sp = obj(j, "setpoint");
    ASSERT_W(obj(sp, "w")->valuedouble, 5000);
    ASSERT_W(obj(sp, "requested_w")->valuedouble, 9000);
    assert_string_equal(obj(sp, "source")->valuestring, "mqtt");
    ASSERT_W(obj(sp, "expires_at")->valuedouble, (double)(NOW + 60));
    cJSON *cl = obj(sp, "clamped");
    assert_int_equal(cJSON_GetArraySize(cl), 1);
    assert_string_equal(cJSON_GetArrayItem(cl, 0)->valuestring, "envelope");
    cJSON *bat = obj(j, "battery");
    ASSERT_W(obj(bat, "soc")->valuedouble, 50);
    assert_true(cJSON_IsNull(obj(bat, "temperature_c")));
    assert_string_equal(obj(bat, "chemistry")->valuestring, "LFP");
    assert_null(cJSON_GetObjectItem(j, "evse"));
    char *txt = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(txt, "\"temperature_c\":null"));
    cJSON_free(txt);
    cJSON_Delete(j);

    j = fg_asset_to_json(fg_model_find_asset_c(&m, "e"));
    assert_true(cJSON_IsNull(obj(j, "setpoint")));
    cJSON *e = obj(j, "evse");
    assert_string_equal(obj(e, "state")->valuestring, "charging");
    cJSON *sess = obj(e, "session");
    assert_string_equal(obj(sess, "id")->valuestring, "s1");
    ASSERT_W(obj(sess, "departure")->valuedouble, (double)(NOW + 3600));
    assert_true(cJSON_IsNull(obj(sess, "ev_soc")));
    cJSON_Delete(j);
    fg_model_find_asset(&m, "e")->evse.session_active = false;
    j = fg_asset_to_json(fg_model_find_asset_c(&m, "e"));
    assert_true(cJSON_IsNull(obj(obj(j, "evse"), "session")));
    cJSON_Delete(j);

    j = fg_asset_to_json(fg_model_find_asset_c(&m, "p"));
    ASSERT_W(obj(obj(j, "pv"), "forecast_len")->valuedouble, 4);
    assert_true(cJSON_IsTrue(obj(obj(j, "pv"), "curtailable")));
    assert_true(cJSON_IsNull(obj(j, "power_w")));
    cJSON_Delete(j);
    j = fg_asset_to_json(fg_model_find_asset_c(&m, "l"));
    assert_string_equal(obj(obj(j, "load"), "type")->valuestring, "shiftable");
    cJSON_Delete(j);
    fg_model_clear(&m);
}

static void test_json_model_view(void **state)
{
    (void)state;
    struct fg_model m;
    site_model(&m);
    snprintf(m.site.currency, sizeof(m.site.currency), "EUR");
    add(&m, load("l", FG_LOAD_INFLEXIBLE, 800));
    struct fg_signal *g = sig("dso", FG_SIG_GRID_LIMIT, NOW, 900, 3000, NAN);
    g->source = FG_SRC_UFTP;
    put(&m, g, NOW);
    cJSON *j = fg_model_to_json(&m, NOW);
    assert_non_null(j);
    ASSERT_W(obj(j, "time")->valuedouble, (double)NOW);
    cJSON *site = obj(j, "site");
    assert_string_equal(obj(site, "id")->valuestring, "site1");
    assert_string_equal(obj(site, "currency")->valuestring, "EUR");
    ASSERT_W(obj(site, "power_w")->valuedouble, 800);
    ASSERT_W(obj(site, "import_limit_w")->valuedouble, 10000);
    cJSON *lim = obj(site, "limits");
    ASSERT_W(obj(lim, "import_max_w")->valuedouble, 3000);
    assert_string_equal(obj(obj(lim, "import_by"), "source")->valuestring, "uftp");
    assert_string_equal(obj(obj(lim, "import_by"), "id")->valuestring, "dso");
    assert_true(cJSON_IsNull(obj(lim, "export_by")));
    assert_true(cJSON_IsNull(obj(lim, "price_import")));
    assert_true(cJSON_IsNull(obj(lim, "dispatch_w")));
    assert_true(cJSON_IsFalse(obj(lim, "island")));
    assert_int_equal(cJSON_GetArraySize(obj(j, "assets")), 1);
    cJSON *s0 = cJSON_GetArrayItem(obj(j, "signals"), 0);
    assert_string_equal(obj(s0, "type")->valuestring, "grid_limit");
    assert_string_equal(obj(s0, "status")->valuestring, "active");
    cJSON *iv = cJSON_GetArrayItem(obj(s0, "intervals"), 0);
    ASSERT_W(obj(iv, "value")->valuedouble, 3000);
    assert_true(cJSON_IsNull(obj(iv, "export_value")));
    assert_true(cJSON_IsNull(obj(j, "plan")));
    cJSON_Delete(j);
    fg_model_clear(&m);
}

/* ---- signal decoder ---- */

static int decode(const char *text, struct fg_signal *out, struct fg_error *err)
{
    cJSON *j = cJSON_Parse(text);
    if (!j)
        fail_msg("test JSON does not parse: %s", text);
    int rc = fg_signal_from_json(j, out, err);
    cJSON_Delete(j);
    return rc;
}

struct bad_case {
    const char *json;
    int code;
    const char *path;
};

#define IV "{\"start\":1795626000,\"duration_s\":900,\"value\":1}"

static const struct bad_case bad_cases[] = {
    {"[]", FG_ETYPE, ""},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[" IV "],\"foo\":1}", FG_EUNKNOWN,
     "/foo"},
    {"{\"a/b~\":1}", FG_EUNKNOWN, "/a~1b~0"},
    {"{\"id\":5,\"type\":\"price\",\"intervals\":[" IV "]}", FG_ETYPE, "/id"},
    {"{\"type\":\"price\",\"intervals\":[" IV "]}", FG_EMISSING, "/id"},
    {"{\"id\":\"a\",\"intervals\":[" IV "]}", FG_EMISSING, "/type"},
    {"{\"id\":\"a\",\"type\":\"price\"}", FG_EMISSING, "/intervals"},
    {"{\"id\":\"\",\"type\":\"price\",\"intervals\":[" IV "]}", FG_ERANGE, "/id"},
    {"{\"id\":\"a b\",\"type\":\"price\",\"intervals\":[" IV "]}", FG_EINVAL, "/id"},
    {"{\"id\":\"a\",\"id\":\"b\",\"type\":\"price\",\"intervals\":[" IV "]}", FG_EINVAL,
     "/id"},
    {"{\"id\":\"a\",\"type\":\"cost\",\"intervals\":[" IV "]}", FG_EINVAL, "/type"},
    {"{\"id\":\"a\",\"type\":1,\"intervals\":[" IV "]}", FG_ETYPE, "/type"},
    {"{\"id\":\"a\",\"type\":\"price\",\"source\":\"dso\",\"intervals\":[" IV "]}",
     FG_EINVAL, "/source"},
    {"{\"id\":\"a\",\"type\":\"price\",\"priority\":1001,\"intervals\":[" IV "]}",
     FG_ERANGE, "/priority"},
    {"{\"id\":\"a\",\"type\":\"price\",\"priority\":1.5,\"intervals\":[" IV "]}",
     FG_ETYPE, "/priority"},
    {"{\"id\":\"a\",\"type\":\"price\",\"priority\":\"1\",\"intervals\":[" IV "]}",
     FG_ETYPE, "/priority"},
    {"{\"id\":\"a\",\"type\":\"price\",\"status\":\"done\",\"intervals\":[" IV "]}",
     FG_EINVAL, "/status"},
    {"{\"id\":\"a\",\"type\":\"price\",\"modification\":-1,\"intervals\":[" IV "]}",
     FG_ERANGE, "/modification"},
    {"{\"id\":\"a\",\"type\":\"price\",\"target\":false,\"intervals\":[" IV "]}",
     FG_ETYPE, "/target"},
    {"{\"id\":\"a\",\"type\":\"price\",\"created\":\"yesterday\",\"intervals\":[" IV "]}",
     FG_EPARSE, "/created"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":{}}", FG_ETYPE, "/intervals"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[]}", FG_ERANGE, "/intervals"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[1]}", FG_ETYPE, "/intervals/0"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[" IV
     ",{\"start\":1795626900,\"value\":1}]}",
     FG_EMISSING, "/intervals/1/duration_s"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":0,\"duration_s\":0,"
     "\"value\":1}]}",
     FG_ERANGE, "/intervals/0/duration_s"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":0,\"duration_s\":172801,"
     "\"value\":1}]}",
     FG_ERANGE, "/intervals/0/duration_s"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":0,\"duration_s\":60,"
     "\"value\":\"1\"}]}",
     FG_ETYPE, "/intervals/0/value"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":0,\"duration_s\":60,"
     "\"value\":2e9}]}",
     FG_ERANGE, "/intervals/0/value"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":0,\"duration_s\":60,"
     "\"value\":1,\"export_value\":-1e10}]}",
     FG_ERANGE, "/intervals/0/export_value"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":-1,\"duration_s\":60,"
     "\"value\":1}]}",
     FG_ERANGE, "/intervals/0/start"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":4102444801,"
     "\"duration_s\":60,\"value\":1}]}",
     FG_ERANGE, "/intervals/0/start"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":\"2026-13-01T00:00:"
     "00Z\","
     "\"duration_s\":60,\"value\":1}]}",
     FG_EPARSE, "/intervals/0/start"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":true,"
     "\"duration_s\":60,\"value\":1}]}",
     FG_ETYPE, "/intervals/0/start"},
    {"{\"id\":\"a\",\"type\":\"price\",\"intervals\":[{\"start\":0,\"duration_s\":60,"
     "\"value\":1,\"pct\":1}]}",
     FG_EUNKNOWN, "/intervals/0/pct"},
};

static void test_signal_from_json_errors(void **state)
{
    (void)state;
    struct fg_signal *s = malloc(sizeof(*s));
    assert_non_null(s);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct fg_error err = {0};
        int rc = decode(bad_cases[i].json, s, &err);
        if (rc != bad_cases[i].code || strcmp(err.path, bad_cases[i].path) != 0)
            fail_msg("case %zu: got %s at \"%s\" (%s), expected %s at \"%s\"", i,
                     fg_errname(rc), err.path, err.msg, fg_errname(bad_cases[i].code),
                     bad_cases[i].path);
    }
    struct fg_error err = {0};
    assert_int_equal(decode("{\"id\":5}", s, &err), FG_ETYPE);
    assert_string_equal(err.msg, "expected string");

    /* id of 63 characters passes, 64 does not */
    char text[512];
    char id[70];
    memset(id, 'x', 64);
    id[64] = '\0';
    snprintf(text, sizeof(text),
             "{\"id\":\"%s\",\"type\":\"price\",\"intervals\":[" IV "]}", id);
    assert_int_equal(decode(text, s, &err), FG_ERANGE);
    id[63] = '\0';
    snprintf(text, sizeof(text),
             "{\"id\":\"%s\",\"type\":\"price\",\"intervals\":[" IV "]}", id);
    assert_int_equal(decode(text, s, &err), 0);

    /* too many intervals */
    size_t cap = 64 + (FG_SIGNAL_MAX_INTERVALS + 1) * 60;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t o =
        (size_t)snprintf(big, cap, "{\"id\":\"a\",\"type\":\"price\",\"intervals\":[");
    for (int i = 0; i <= FG_SIGNAL_MAX_INTERVALS; i++)
        o += (size_t)snprintf(big + o, cap - o,
                              "%s{\"start\":%d,\"duration_s\":1,\"value\":0}",
                              i ? "," : "", i);
    snprintf(big + o, cap - o, "]}");
    assert_int_equal(decode(big, s, &err), FG_ETOOBIG);
    assert_string_equal(err.path, "/intervals");
    free(big);
    free(s);
}

static void test_signal_from_json_ok(void **state)
{
    (void)state;
    struct fg_signal *s = malloc(sizeof(*s));
    assert_non_null(s);
    struct fg_error err = {0};
    assert_int_equal(
        decode(
            "{\"id\":\"evt-1:a_b.c\",\"type\":\"grid_limit\",\"source\":\"uftp\","
            "\"priority\":-3,\"target\":\"b1\",\"modification\":7,"
            "\"status\":\"active\",\"intervals\":["
            "{\"start\":\"2026-11-25T18:00:00+01:00\",\"duration_s\":900,\"value\":null,"
            "\"export_value\":2000},"
            "{\"start\":1795626900,\"duration_s\":900,\"value\":4000}]}",
            s, &err),
        0);
    assert_string_equal(s->id, "evt-1:a_b.c");
    assert_int_equal(s->type, FG_SIG_GRID_LIMIT);
    assert_int_equal(s->source, FG_SRC_UFTP);
    assert_int_equal(s->priority, -3);
    assert_string_equal(s->target, "b1");
    assert_int_equal(s->modification, 7);
    assert_int_equal(s->status, FG_SIGST_PENDING); /* derived later */
    assert_int_equal(s->n_intervals, 2);
    assert_int_equal(s->intervals[0].start, NOW);
    assert_true(isnan(s->intervals[0].value));
    ASSERT_W(s->intervals[0].export_value, 2000);
    assert_true(isnan(s->intervals[1].export_value));

    assert_int_equal(decode("{\"id\":\"a\",\"type\":\"price\",\"status\":\"cancelled\","
                            "\"intervals\":[" IV "]}",
                            s, &err),
                     0);
    assert_int_equal(s->status, FG_SIGST_CANCELLED);
    assert_int_equal(s->source, FG_SRC_API); /* default */
    assert_int_equal(s->priority, 0);
    assert_string_equal(s->target, "");

    /* view -> decode round trip of a stored signal */
    struct fg_model m;
    site_model(&m);
    struct fg_signal *in = three();
    in->priority = 7;
    in->intervals[1].export_value = -0.25;
    put(&m, in, NOW);
    const struct fg_signal *st = fg_model_signal_find(&m, FG_SRC_OPENADR, "x");
    cJSON *j = fg_signal_to_json(st);
    assert_int_equal(fg_signal_from_json(j, s, &err), 0);
    cJSON_Delete(j);
    assert_string_equal(s->id, st->id);
    assert_int_equal(s->created, st->created);
    assert_int_equal(s->updated, st->updated);
    assert_int_equal(s->priority, 7);
    assert_int_equal(s->n_intervals, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s->intervals[i].start, st->intervals[i].start);
        assert_int_equal(s->intervals[i].duration_s, st->intervals[i].duration_s);
        ASSERT_W(s->intervals[i].value, st->intervals[i].value);
    }
    ASSERT_W(s->intervals[1].export_value, -0.25);
    assert_true(isnan(s->intervals[0].export_value));
    fg_model_clear(&m);
    free(s);
}

/* ---- RFC 3339 ---- */

static void test_rfc3339(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t t;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-25T17:00:00Z", NOW},
        {"2026-11-25T18:30:00+01:30", NOW},
        {"2026-11-25T12:00:00-05:00", NOW},
        {"2026-11-25T17:00:00.999Z", NOW},
        {"2026-11-25t17:00:00z", NOW},
        {"2024-02-29T12:34:56Z", 1709210096},
        {"2000-03-01T00:00:00Z", 951868800},
        {"2099-12-31T23:59:59Z", 4102444799LL},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t t = -1;
        if (fg_time_parse_rfc3339(good[i].s, &t) != 0 || t != good[i].t)
            fail_msg("%s -> %lld, expected %lld", good[i].s, (long long)t,
                     (long long)good[i].t);
    }
    static const char *const bad[] = {
        "",
        "2026-11-25",
        "2026-11-25T17:00:00",
        "2026-11-25 17:00:00Z",
        "2026-11-25T17:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T17:60:00Z",
        "2026-11-25T17:00:60Z",
        "2026-11-25T17:00:00.Z",
        "2026-11-25T17:00:00.1234567890Z",
        "2026-11-25T17:00:00+01",
        "2026-11-25T17:00:00+01:0",
        "2026-11-25T17:00:00+24:00",
        "2026-11-25T17:00:00+01:60",
        "2026-11-25T17:00:00ZZ",
        "2026-11-25T17:00:00Z ",
        "+026-11-25T17:00:00Z",
        "2026-1-25T17:00:00Z",
        "2026/11/25T17:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t t;
        if (fg_time_parse_rfc3339(bad[i], &t) != FG_EPARSE)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(fg_time_parse_rfc3339(NULL, &(int64_t){0}), FG_EPARSE);

    char buf[32];
    fg_time_format_rfc3339(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    fg_time_format_rfc3339(NOW, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25T17:00:00Z");
    fg_time_format_rfc3339(1709210096, buf, sizeof(buf));
    assert_string_equal(buf, "2024-02-29T12:34:56Z");
    fg_time_format_rfc3339(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59Z");
    for (int64_t t = 0; t < 4102444800LL; t += 7777777) {
        int64_t back;
        fg_time_format_rfc3339(t, buf, sizeof(buf));
        assert_int_equal(fg_time_parse_rfc3339(buf, &back), 0);
        assert_int_equal(back, t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_assets_found_by_id),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_envelope_battery),
        cmocka_unit_test(test_envelope_evse),
        cmocka_unit_test(test_envelope_pv),
        cmocka_unit_test(test_envelope_load),
        cmocka_unit_test(test_assets),
        cmocka_unit_test(test_refresh_and_site_power),
        cmocka_unit_test(test_setpoint_envelope),
        cmocka_unit_test(test_setpoint_import_limit),
        cmocka_unit_test(test_setpoint_export_limit),
        cmocka_unit_test(test_setpoint_conflict_envelope_wins),
        cmocka_unit_test(test_setpoint_evse_min_current),
        cmocka_unit_test(test_setpoint_errors),
        cmocka_unit_test(test_expire_setpoints),
        cmocka_unit_test(test_expire_signals),
        cmocka_unit_test(test_limits_defaults_and_tariff),
        cmocka_unit_test(test_limits_dso_beats_price_and_dispatch),
        cmocka_unit_test(test_limits_tighter_grid_limit_wins),
        cmocka_unit_test(test_limits_price_priority),
        cmocka_unit_test(test_limits_island),
        cmocka_unit_test(test_signal_put_validation),
        cmocka_unit_test(test_signal_put_replace_and_full),
        cmocka_unit_test(test_signal_remove),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_json_asset_views),
        cmocka_unit_test(test_json_model_view),
        cmocka_unit_test(test_signal_from_json_errors),
        cmocka_unit_test(test_signal_from_json_ok),
        cmocka_unit_test(test_rfc3339),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
