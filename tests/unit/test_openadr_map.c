/* The VEN's event -> signal mapping (adapters/openadr/map.c): a pure
 * function, tested on hand-made decoded events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "openadr/flex.h"
#include "openadr/map.h"

#define T0 1790000000

static struct fg_openadr_interval iv2[2] = {{.duration_s = 300, .value = 0.2},
                                            {.duration_s = 600, .value = 0.25}};

static struct fg_oadr_map_opts opts(void)
{
    return (struct fg_oadr_map_opts){.ven_id = "ven-1",
                                     .site_id = "site-a",
                                     .import_limit_w = 40000,
                                     .site_power_w = 12000,
                                     .level_fraction = {0.75, 0.5, 0.25},
                                     .tariff_import = 0.30,
                                     .open_ended_s = 86400};
}

static struct fg_openadr_event event(struct fg_openadr_signal *s, size_t n)
{
    return (struct fg_openadr_event){.event_id = "ev1",
                                     .modification_number = 3,
                                     .status = FG_OADR_STATUS_ACTIVE,
                                     .dtstart = T0,
                                     .duration_s = 900,
                                     .signals = s,
                                     .n_signals = n};
}

static void map1(const struct fg_openadr_event *ev, const struct fg_oadr_map_opts *o,
                 struct fg_signal *out, size_t want_n)
{
    size_t n = 99, skipped = 99;
    struct fg_error e = {0};
    assert_int_equal(fg_oadr_map_event(ev, o, out, &n, &skipped, &e), 0);
    assert_int_equal(n, want_n);
}

static void test_capacity(void **state)
{
    (void)state;
    struct fg_openadr_signal s = {.name_id = FG_OADR_SIGNAL_LOAD_CONTROL,
                                  .type = FG_OADR_SIGTYPE_LOAD_CONTROL_CAPACITY,
                                  .id = "s0",
                                  .intervals = iv2,
                                  .n_intervals = 2};
    struct fg_openadr_event ev = event(&s, 1);
    ev.has_priority = true;
    ev.priority = 1;
    struct fg_oadr_map_opts o = opts();
    o.start_offset_s = 42;
    struct fg_signal out[FG_OADR_MAP_MAX];
    map1(&ev, &o, out, 1);
    assert_string_equal(out[0].id, "ev1");
    assert_int_equal(out[0].source, FG_SRC_OPENADR);
    assert_int_equal(out[0].type, FG_SIG_GRID_LIMIT);
    assert_int_equal(out[0].modification, 3);
    assert_int_equal(out[0].priority, 999);
    assert_int_equal(out[0].n_intervals, 2);
    assert_int_equal(out[0].intervals[0].start, T0 + 42);
    assert_int_equal(out[0].intervals[0].duration_s, 300);
    assert_true(out[0].intervals[0].value == 8000);
    assert_int_equal(out[0].intervals[1].start, T0 + 42 + 300);
    assert_true(out[0].intervals[1].value == 10000);
    assert_true(isnan(out[0].intervals[1].export_value));
}

static void test_simple_levels(void **state)
{
    (void)state;
    struct fg_openadr_interval iv[4] = {{.duration_s = 60, .value = 0},
                                        {.duration_s = 60, .value = 1},
                                        {.duration_s = 60, .value = 2},
                                        {.duration_s = 60, .value = 3}};
    struct fg_openadr_signal s = {.name_id = FG_OADR_SIGNAL_SIMPLE,
                                  .type = FG_OADR_SIGTYPE_LEVEL,
                                  .intervals = iv,
                                  .n_intervals = 4};
    struct fg_openadr_event ev = event(&s, 1);
    struct fg_oadr_map_opts o = opts();
    struct fg_signal out[FG_OADR_MAP_MAX];
    map1(&ev, &o, out, 1);
    double want[4] = {40000, 30000, 20000, 10000};
    for (int i = 0; i < 4; i++)
        assert_true(out[0].intervals[i].value == want[i]);
    assert_int_equal(out[0].priority, 0);
}

static void test_prices_and_dispatch(void **state)
{
    (void)state;
    struct fg_openadr_interval p[1] = {{.duration_s = 900, .value = 0.1}};
    struct fg_openadr_interval d[1] = {{.duration_s = 900, .value = -2}};
    struct fg_openadr_signal s[5] = {
        {.name_id = FG_OADR_SIGNAL_ELECTRICITY_PRICE,
         .type = FG_OADR_SIGTYPE_PRICE,
         .id = "a",
         .intervals = p,
         .n_intervals = 1},
        {.name_id = FG_OADR_SIGNAL_ENERGY_PRICE,
         .type = FG_OADR_SIGTYPE_PRICE_RELATIVE,
         .id = "b",
         .intervals = p,
         .n_intervals = 1},
        {.name_id = FG_OADR_SIGNAL_ELECTRICITY_PRICE,
         .type = FG_OADR_SIGTYPE_PRICE_MULTIPLIER,
         .id = "c",
         .intervals = p,
         .n_intervals = 1},
        {.name_id = FG_OADR_SIGNAL_LOAD_DISPATCH,
         .type = FG_OADR_SIGTYPE_SETPOINT,
         .id = "d",
         .has_unit = true,
         .unit = {.kind = "powerReal", .scale = "k"},
         .intervals = d,
         .n_intervals = 1},
        {.name_id = FG_OADR_SIGNAL_LOAD_DISPATCH,
         .type = FG_OADR_SIGTYPE_DELTA,
         .id = "e",
         .intervals = d,
         .n_intervals = 1},
    };
    struct fg_openadr_event ev = event(s, 5);
    struct fg_oadr_map_opts o = opts();
    struct fg_signal out[FG_OADR_MAP_MAX];
    map1(&ev, &o, out, 5);
    assert_string_equal(out[0].id, "ev1/a");
    assert_int_equal(out[0].type, FG_SIG_PRICE);
    assert_float_equal(out[0].intervals[0].value, 0.1, 1e-12);
    assert_float_equal(out[1].intervals[0].value, 0.4, 1e-12);
    assert_float_equal(out[2].intervals[0].value, 0.03, 1e-12);
    assert_int_equal(out[3].type, FG_SIG_DISPATCH);
    assert_float_equal(out[3].intervals[0].value, -2000, 1e-9);
    assert_float_equal(out[4].intervals[0].value, 11998, 1e-9); /* 12000 W now - 2 */
}

static void test_skipped_cancelled_open_ended(void **state)
{
    (void)state;
    struct fg_openadr_interval iv[2] = {{.duration_s = 300, .value = 1},
                                        {.duration_s = 0, .value = 2}};
    struct fg_openadr_signal s[2] = {
        {.name_id = FG_OADR_SIGNAL_CHARGE_STATE,
         .type = FG_OADR_SIGTYPE_LEVEL,
         .id = "cs",
         .intervals = iv,
         .n_intervals = 2},
        {.name_id = FG_OADR_SIGNAL_SIMPLE,
         .type = FG_OADR_SIGTYPE_LEVEL,
         .id = "sp",
         .intervals = iv,
         .n_intervals = 2},
    };
    struct fg_openadr_event ev = event(s, 2);
    struct fg_oadr_map_opts o = opts();
    struct fg_signal out[FG_OADR_MAP_MAX];
    size_t n, skipped;
    struct fg_error e = {0};
    assert_int_equal(fg_oadr_map_event(&ev, &o, out, &n, &skipped, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(skipped, 1);
    assert_string_equal(out[0].id, "ev1"); /* the only mapped signal */
    /* the open interval runs to the event's end: 900 - 300 */
    assert_int_equal(out[0].intervals[1].duration_s, 600);
    ev.duration_s = 0; /* open-ended event: open_ended_s */
    assert_int_equal(fg_oadr_map_event(&ev, &o, out, &n, &skipped, &e), 0);
    assert_int_equal(out[0].intervals[1].duration_s, 86400);
    ev.status = FG_OADR_STATUS_CANCELLED;
    assert_int_equal(fg_oadr_map_event(&ev, &o, out, &n, &skipped, &e), 0);
    assert_int_equal(n, 0);
}

static void test_targets(void **state)
{
    (void)state;
    struct fg_openadr_event ev = event(NULL, 0);
    struct fg_oadr_map_opts o = opts();
    assert_true(fg_oadr_event_targets_us(&ev, &o));
    const char *other[] = {"ven-2"}, *mine[] = {"ven-2", "ven-1"}, *site[] = {"site-a"};
    ev.target.ven_ids = (struct fg_openadr_strs){other, 1};
    assert_false(fg_oadr_event_targets_us(&ev, &o));
    ev.target.ven_ids = (struct fg_openadr_strs){mine, 2};
    assert_true(fg_oadr_event_targets_us(&ev, &o));
    ev.target.ven_ids = (struct fg_openadr_strs){other, 1};
    ev.target.resource_ids = (struct fg_openadr_strs){site, 1};
    assert_true(fg_oadr_event_targets_us(&ev, &o));
    /* Groups: ours as groupID or groupName; another group alone is not us. */
    const char *g_other[] = {"south"}, *g_ours[] = {"south", "feeder-12"};
    ev.target = (struct fg_openadr_target){0};
    ev.target.group_ids = (struct fg_openadr_strs){g_other, 1};
    assert_false(fg_oadr_event_targets_us(&ev, &o)); /* no groups configured */
    o.groups = "north, feeder-12";
    assert_false(fg_oadr_event_targets_us(&ev, &o));
    ev.target.group_ids = (struct fg_openadr_strs){g_ours, 2};
    assert_true(fg_oadr_event_targets_us(&ev, &o));
    ev.target.group_ids = (struct fg_openadr_strs){0};
    ev.target.group_names = (struct fg_openadr_strs){g_ours, 2};
    assert_true(fg_oadr_event_targets_us(&ev, &o));
    ev.target.group_names = (struct fg_openadr_strs){g_other, 1};
    assert_false(fg_oadr_event_targets_us(&ev, &o));
    /* A signal targeted at another group is skipped, ours is mapped. */
    struct fg_openadr_interval iv[1] = {{.duration_s = 60, .value = 1}};
    struct fg_openadr_signal s[2] = {
        {.name_id = FG_OADR_SIGNAL_SIMPLE,
         .type = FG_OADR_SIGTYPE_LEVEL,
         .id = "theirs",
         .has_target = true,
         .target = {.group_names = {g_other, 1}},
         .intervals = iv,
         .n_intervals = 1},
        {.name_id = FG_OADR_SIGNAL_SIMPLE,
         .type = FG_OADR_SIGTYPE_LEVEL,
         .id = "ours",
         .has_target = true,
         .target = {.group_ids = {g_ours, 2}},
         .intervals = iv,
         .n_intervals = 1},
    };
    struct fg_openadr_event ev2 = event(s, 2);
    struct fg_signal out[FG_OADR_MAP_MAX];
    size_t n, skipped;
    struct fg_error e = {0};
    assert_int_equal(fg_oadr_map_event(&ev2, &o, out, &n, &skipped, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(skipped, 1);
    assert_true(out[0].intervals[0].value == 30000);
}

static void test_decide(void **state)
{
    (void)state;
    struct fg_signal s = {.type = FG_SIG_GRID_LIMIT, .n_intervals = 2};
    s.intervals[0].value = 10000;
    s.intervals[1].value = 3000;
    char why[128];
    assert_int_equal(
        fg_oadr_decide(FG_OADR_POLICY_AUTO, &s, 1, 4000, NULL, 0, why, sizeof(why)),
        FG_OADR_OPT_OUT);
    assert_non_null(strstr(why, "3000 W below the inflexible load 4000 W"));
    assert_int_equal(
        fg_oadr_decide(FG_OADR_POLICY_AUTO, &s, 1, 2000, NULL, 0, why, sizeof(why)),
        FG_OADR_OPT_IN);
    assert_int_equal(
        fg_oadr_decide(FG_OADR_POLICY_IN, &s, 1, 9000, NULL, 0, why, sizeof(why)),
        FG_OADR_OPT_IN);
    assert_int_equal(
        fg_oadr_decide(FG_OADR_POLICY_OUT, &s, 1, 0, NULL, 0, why, sizeof(why)),
        FG_OADR_OPT_OUT);
}

/* openadr.unavailable: under auto an event overlapping a window is opted
 * out with the window named; in / out decide alone. */
static void test_decide_unavailable(void **state)
{
    (void)state;
    struct fg_signal s = {.type = FG_SIG_PRICE, .n_intervals = 2};
    s.intervals[0] = (struct fg_signal_interval){T0, 600, 0.3, NAN};
    s.intervals[1] = (struct fg_signal_interval){T0 + 600, 600, 0.4, NAN};
    struct fg_openadr_window w[2] = {{T0 - 3600, 3600}, /* ends as the event starts */
                                     {T0 + 1200, 600}}; /* starts as it ends */
    char why[128];
    assert_int_equal(
        fg_oadr_decide(FG_OADR_POLICY_AUTO, &s, 1, 0, w, 2, why, sizeof(why)),
        FG_OADR_OPT_IN);
    w[1].dtstart = T0 + 1199; /* one second of overlap */
    assert_int_equal(
        fg_oadr_decide(FG_OADR_POLICY_AUTO, &s, 1, 0, w, 2, why, sizeof(why)),
        FG_OADR_OPT_OUT);
    char from[FG_OPENADR_DATETIME_MAX], to[FG_OPENADR_DATETIME_MAX], want[160];
    fg_openadr_datetime_format(T0 + 1199, from);
    fg_openadr_datetime_format(T0 + 1799, to);
    snprintf(want, sizeof(want), "overlaps the unavailability window %s .. %s", from, to);
    assert_string_equal(why, want);
    assert_int_equal(fg_oadr_decide(FG_OADR_POLICY_IN, &s, 1, 0, w, 2, why, sizeof(why)),
                     FG_OADR_OPT_IN);
    assert_int_equal(fg_oadr_decide(FG_OADR_POLICY_OUT, &s, 1, 0, w, 2, why, sizeof(why)),
                     FG_OADR_OPT_OUT);
    assert_string_equal(why, "opt_policy out");
}

static struct fg_asset asset(const char *id, enum fg_asset_kind kind, double power)
{
    struct fg_asset a;
    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "%s", id);
    a.kind = kind;
    a.online = true;
    a.last_seen = T0;
    a.power_w = power;
    a.reactive_var = NAN;
    return a;
}

/* Flexibility for TELEMETRY_STATUS: up = more consumption the site can take
 * now, down = how much it can reduce, both within the site's limits. */
static void test_flex(void **state)
{
    (void)state;
    static struct fg_model m; /* large */
    fg_model_init(&m);
    m.site.import_limit_w = 10000;
    m.site.export_limit_w = 5000;
    m.site.meter_power_w = NAN;
    struct fg_asset bat = asset("bat", FG_ASSET_BATTERY, 2000);
    bat.battery = (struct fg_battery){.capacity_wh = 10000,
                                      .soc = 50,
                                      .soc_min = 10,
                                      .soc_max = 90,
                                      .max_charge_w = 5000,
                                      .max_discharge_w = 5000};
    struct fg_asset load = asset("load", FG_ASSET_LOAD, 3000);
    load.load.type = FG_LOAD_INFLEXIBLE;
    struct fg_asset ev = asset("ev", FG_ASSET_EVSE, 0);
    ev.online = false; /* no flexibility */
    assert_int_equal(fg_model_add_asset(&m, &bat, NULL), 0);
    assert_int_equal(fg_model_add_asset(&m, &load, NULL), 0);
    assert_int_equal(fg_model_add_asset(&m, &ev, NULL), 0);
    struct fg_oadr_flex f;
    fg_oadr_flex_now(&m, T0, &f);
    assert_true(f.online);
    assert_float_equal(f.power_w, 5000, 1e-9);
    assert_float_equal(f.up_w, 3000, 1e-9);   /* battery 2000 -> 5000 W */
    assert_float_equal(f.down_w, 7000, 1e-9); /* battery 2000 -> -5000 W */
    assert_float_equal(f.max_w, 8000, 1e-9);
    assert_float_equal(f.min_w, -2000, 1e-9);
    assert_float_equal(f.import_max_w, 10000, 1e-9);
    /* A DSO limit of 6000 W leaves 1000 W up. */
    static struct fg_signal lim;
    memset(&lim, 0, sizeof(lim));
    snprintf(lim.id, sizeof(lim.id), "dso");
    lim.source = FG_SRC_OPENADR;
    lim.type = FG_SIG_GRID_LIMIT;
    lim.n_intervals = 1;
    lim.intervals[0] = (struct fg_signal_interval){T0 - 10, 600, 6000, NAN};
    struct fg_error e = {0};
    assert_int_equal(fg_model_signal_put(&m, &lim, T0, &e), 0);
    fg_oadr_flex_now(&m, T0, &f);
    assert_float_equal(f.up_w, 1000, 1e-9);
    assert_float_equal(f.import_max_w, 6000, 1e-9);
    /* Past the limit: no room up, never negative; down unchanged. The
     * export limit bounds down: the load rises, the battery could go to
     * -5000 W, the site to 6000 W. */
    fg_model_find_asset(&m, "load")->power_w = 9000;
    fg_oadr_flex_now(&m, T0, &f);
    assert_float_equal(f.power_w, 11000, 1e-9);
    assert_float_equal(f.up_w, 0, 1e-9);
    assert_float_equal(f.down_w, 7000, 1e-9);
    /* A site at the export limit cannot reduce further. */
    fg_model_find_asset(&m, "load")->power_w = 0;
    fg_model_find_asset(&m, "bat")->power_w = -5000;
    fg_oadr_flex_now(&m, T0, &f);
    assert_float_equal(f.power_w, -5000, 1e-9);
    assert_float_equal(f.down_w, 0, 1e-9);
    assert_float_equal(f.up_w, 10000, 1e-9); /* battery -5000 -> 5000 W, under 6000 */
    /* Nothing online: offline, no flexibility. */
    for (size_t i = 0; i < m.n_assets; i++)
        m.assets[i].online = false;
    fg_oadr_flex_now(&m, T0, &f);
    assert_false(f.online);
    assert_float_equal(f.up_w, 0, 1e-9);
    assert_float_equal(f.down_w, 0, 1e-9);
    fg_model_clear(&m);
}

/* x-eiRampUp / x-eiRecovery: a grid limit steps in before dtstart and out
 * after the end; the event's own intervals keep their times and values. */
static void test_ramp_up_recovery(void **state)
{
    (void)state;
    struct fg_openadr_interval iv[1] = {{.duration_s = 900, .value = 3}}; /* 10 kW */
    struct fg_openadr_interval pv[1] = {{.duration_s = 900, .value = 0.2}};
    struct fg_openadr_signal s[2] = {
        {.name_id = FG_OADR_SIGNAL_SIMPLE,
         .type = FG_OADR_SIGTYPE_LEVEL,
         .id = "lim",
         .intervals = iv,
         .n_intervals = 1},
        {.name_id = FG_OADR_SIGNAL_ELECTRICITY_PRICE,
         .type = FG_OADR_SIGTYPE_PRICE,
         .id = "price",
         .intervals = pv,
         .n_intervals = 1},
    };
    struct fg_openadr_event ev = event(s, 2);
    ev.has_ramp_up = ev.has_recovery = true;
    ev.ramp_up_s = 600; /* 4 steps of 150 s */
    ev.recovery_s = 90; /* 1 step */
    struct fg_oadr_map_opts o = opts();
    o.start_offset_s = 10;
    struct fg_signal out[FG_OADR_MAP_MAX];
    map1(&ev, &o, out, 2);
    const struct fg_signal *l = &out[0];
    assert_int_equal(l->n_intervals, 6);
    const struct {
        int64_t start, dur;
        double w;
    } want[6] = {
        {T0 + 10 - 600, 150, 34000}, {T0 + 10 - 450, 150, 28000},
        {T0 + 10 - 300, 150, 22000}, {T0 + 10 - 150, 150, 16000},
        {T0 + 10, 900, 10000},       {T0 + 10 + 900, 90, 25000},
    };
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(l->intervals[i].start, want[i].start);
        assert_int_equal(l->intervals[i].duration_s, want[i].dur);
        assert_float_equal(l->intervals[i].value, want[i].w, 1e-9);
        assert_true(isnan(l->intervals[i].export_value));
    }
    /* Prices have no ramp. */
    assert_int_equal(out[1].n_intervals, 1);
    assert_int_equal(out[1].intervals[0].start, T0 + 10);
    /* The opt decision looks at the event's level, not the steps. */
    char why[128];
    assert_int_equal(
        fg_oadr_decide(FG_OADR_POLICY_AUTO, l, 1, 12000, NULL, 0, why, sizeof(why)),
        FG_OADR_OPT_OUT);
    assert_non_null(strstr(why, "10000 W"));
    /* A ramp shorter than a step: one step over it. Level 0 (no reduction):
     * nothing to ramp. */
    ev.ramp_up_s = 30;
    ev.has_recovery = false;
    map1(&ev, &o, out, 2);
    assert_int_equal(out[0].n_intervals, 2);
    assert_int_equal(out[0].intervals[0].start, T0 + 10 - 30);
    assert_int_equal(out[0].intervals[0].duration_s, 30);
    assert_float_equal(out[0].intervals[0].value, 25000, 1e-9);
    iv[0].value = 0;
    map1(&ev, &o, out, 2);
    assert_int_equal(out[0].n_intervals, 1);
    assert_float_equal(out[0].intervals[0].value, 40000, 1e-9);
}

/* The ramp steps never push the event's intervals out of a full signal. */
static void test_ramp_room(void **state)
{
    (void)state;
    static struct fg_openadr_interval iv[FG_SIGNAL_MAX_INTERVALS - 1];
    for (size_t i = 0; i < FG_SIGNAL_MAX_INTERVALS - 1; i++)
        iv[i] = (struct fg_openadr_interval){.duration_s = 60, .value = 2};
    struct fg_openadr_signal s = {.name_id = FG_OADR_SIGNAL_SIMPLE,
                                  .type = FG_OADR_SIGTYPE_LEVEL,
                                  .intervals = iv,
                                  .n_intervals = FG_SIGNAL_MAX_INTERVALS - 1};
    struct fg_openadr_event ev = event(&s, 1);
    ev.duration_s = 0;
    ev.has_ramp_up = ev.has_recovery = true;
    ev.ramp_up_s = ev.recovery_s = 600;
    struct fg_oadr_map_opts o = opts();
    struct fg_signal out[FG_OADR_MAP_MAX];
    map1(&ev, &o, out, 1);
    assert_int_equal(out[0].n_intervals, FG_SIGNAL_MAX_INTERVALS);
    assert_int_equal(out[0].intervals[0].start, T0 - 600); /* one step: the rest full */
    assert_int_equal(out[0].intervals[0].duration_s, 600);
    assert_int_equal(out[0].intervals[1].start, T0);
    assert_float_equal(out[0].intervals[1].value, 20000, 1e-9);
}

/* CHARGE_STATE -> charge_state: a level in % as given, in energy units
 * against the batteries' capacity, delta / multiplier from the SoC at
 * receipt, clamped to [0, 100]; skipped without batteries or (delta) an
 * unknown SoC. */
static void test_charge_state(void **state)
{
    (void)state;
    struct fg_openadr_interval iv[2] = {{.duration_s = 600, .value = 80},
                                        {.duration_s = 300, .value = 120}};
    struct fg_openadr_signal s = {.name_id = FG_OADR_SIGNAL_CHARGE_STATE,
                                  .type = FG_OADR_SIGTYPE_LEVEL,
                                  .id = "cs",
                                  .intervals = iv,
                                  .n_intervals = 2};
    struct fg_openadr_event ev = event(&s, 1);
    struct fg_oadr_map_opts o = opts();
    struct fg_signal out[FG_OADR_MAP_MAX];
    size_t n, skipped;
    struct fg_error e = {0};
    /* no stationary battery: nothing to act on */
    assert_int_equal(fg_oadr_map_event(&ev, &o, out, &n, &skipped, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(skipped, 1);
    o.battery_capacity_wh = 20000;
    o.battery_soc_pct = 40;
    map1(&ev, &o, out, 1);
    assert_int_equal(out[0].type, FG_SIG_CHARGE_STATE);
    assert_true(out[0].intervals[0].value == 80);
    assert_true(out[0].intervals[1].value == 100); /* clamped */
    /* energy: 15 kWh of 20 kWh */
    iv[0].value = 15;
    s.has_unit = true;
    s.unit = (struct fg_openadr_item){.kind = "energyReal", .units = "Wh", .scale = "k"};
    map1(&ev, &o, out, 1);
    assert_true(out[0].intervals[0].value == 75);
    /* delta of -5 kWh from 40 %: 15 %; multiplier 1.5: 60 % */
    s.type = FG_OADR_SIGTYPE_DELTA;
    iv[0].value = -5;
    map1(&ev, &o, out, 1);
    assert_true(out[0].intervals[0].value == 15);
    s.has_unit = false;
    s.type = FG_OADR_SIGTYPE_MULTIPLIER;
    iv[0].value = 1.5;
    map1(&ev, &o, out, 1);
    assert_true(out[0].intervals[0].value == 60);
    /* unknown SoC: a delta cannot be placed */
    o.battery_soc_pct = NAN;
    assert_int_equal(fg_oadr_map_event(&ev, &o, out, &n, &skipped, &e), 0);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_simple_levels),
        cmocka_unit_test(test_prices_and_dispatch),
        cmocka_unit_test(test_skipped_cancelled_open_ended),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_charge_state),
        cmocka_unit_test(test_decide_unavailable),
        cmocka_unit_test(test_flex),
        cmocka_unit_test(test_ramp_up_recovery),
        cmocka_unit_test(test_ramp_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
