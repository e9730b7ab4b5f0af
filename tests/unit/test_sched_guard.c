/* The scheduler's guard, fallback schedule and view (gateway/scheduler.h),
 * on a model built by hand. */
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
#include "scheduler.h"

#define NOW 1700000000 /* 2023-11-14 22:13:20 UTC */

static struct fg_asset asset(const char *id, enum fg_asset_kind kind, double power)
{
    struct fg_asset a;
    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "%s", id);
    snprintf(a.adapter, sizeof(a.adapter), "sim");
    a.kind = kind;
    a.online = true;
    a.last_seen = NOW;
    a.power_w = power;
    a.reactive_var = NAN;
    if (kind == FG_ASSET_BATTERY)
        a.battery = (struct fg_battery){.capacity_wh = 10000,
                                        .soc = 50,
                                        .soc_min = 10,
                                        .soc_max = 90,
                                        .max_charge_w = 5000,
                                        .max_discharge_w = 5000,
                                        .temperature_c = NAN};
    if (kind == FG_ASSET_EVSE)
        a.evse = (struct fg_evse){.state = FG_CONN_CHARGING,
                                  .rated_w = 11000,
                                  .phases = 3,
                                  .voltage = 230,
                                  .max_current_a = 16,
                                  .session_active = true,
                                  .session_start = NOW - 600,
                                  .ev_soc = NAN};
    if (kind == FG_ASSET_LOAD) {
        a.load.type = FG_LOAD_INFLEXIBLE;
        a.load.rated_w = 3000;
    }
    return a;
}

/* bat1 charging 4 kW, ev1 and ev2 at 11 kW and 5 kW, load 2 kW: 22 kW. */
static void site(struct fg_model *m, double limit)
{
    fg_model_init(m);
    snprintf(m->site.id, sizeof(m->site.id), "s");
    m->site.import_limit_w = limit;
    m->site.export_limit_w = 5000;
    m->site.isp_s = 900;
    m->site.meter_power_w = NAN;
    for (int i = 0; i < 3; i++)
        m->site.meter_v[i] = NAN;
    struct fg_asset v[] = {
        asset("bat1", FG_ASSET_BATTERY, 4000), asset("ev1", FG_ASSET_EVSE, 11000),
        asset("ev2", FG_ASSET_EVSE, 5000), asset("load1", FG_ASSET_LOAD, 2000)};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(fg_model_add_asset(m, &v[i], NULL), 0);
    fg_model_refresh(m, NOW, 0);
}

static void test_guard_check(void **state)
{
    (void)state;
    struct fg_model m;
    site(&m, 30000);
    char why[256];
    struct fg_sched_setpoint ok[2] = {{.id = "bat1", .w = 1e12}, {.id = "ev1", .w = -5}};
    assert_int_equal(fg_sched_guard_check(&m, ok, 2, why, sizeof(why)), 0);
    struct fg_sched_setpoint bad[4] = {
        {.id = "bat1", .w = 0},
        {.id = "ghost", .w = 1},
        {.id = "ev1", .w = INFINITY},
        {.id = "ev2", .w = 1, .var = NAN, .flags = FG_SCHED_SP_VAR}};
    assert_int_equal(fg_sched_guard_check(&m, bad, 4, why, sizeof(why)), FG_EINVAL);
    assert_non_null(strstr(why, "set-point 1 (\"ghost\""));
    assert_non_null(strstr(why, "no such asset"));
    assert_non_null(strstr(why, "(and 2 more)"));
    bad[1].w = NAN;
    snprintf(bad[1].id, sizeof(bad[1].id), "ev2");
    assert_int_equal(fg_sched_guard_check(&m, bad + 1, 1, why, sizeof(why)), FG_EINVAL);
    assert_non_null(strstr(why, "power is not a finite number"));
    fg_model_clear(&m);
}

static const struct fg_sched_fallback_action *
find(const struct fg_sched_fallback_action *a, size_t n, const char *id, bool clear)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(a[i].id, id) && a[i].clear == clear)
            return &a[i];
    return NULL;
}

static void test_fallback_within_limit_only_releases(void **state)
{
    (void)state;
    struct fg_model m;
    site(&m, 30000);
    assert_int_equal(fg_model_apply_setpoint(&m, "ev1", 11000, FG_SP_SCHEDULER, NOW + 60,
                                             NOW, NULL, NULL),
                     0);
    assert_int_equal(
        fg_model_apply_setpoint(&m, "ev2", 5000, FG_SP_API, NOW + 60, NOW, NULL, NULL),
        0);
    struct fg_sched_fallback_action a[16];
    size_t n = fg_sched_fallback(&m, NOW, a, 16);
    assert_int_equal(n, 1); /* the scheduler's set-point goes, the operator's stays */
    assert_non_null(find(a, n, "ev1", true));
    fg_model_clear(&m);
}

static void test_fallback_above_limit_curtails(void **state)
{
    (void)state;
    struct fg_model m;
    struct fg_sched_fallback_action a[16];
    /* 22 kW drawn, 20 kW allowed: stopping the battery (4 kW) is enough */
    site(&m, 20000);
    size_t n = fg_sched_fallback(&m, NOW, a, 16);
    assert_int_equal(n, 1);
    assert_true(find(a, n, "bat1", false)->w == 0);
    fg_model_clear(&m);

    /* 22 kW drawn, 10 kW allowed (aim 9.7 kW): battery off (-4 kW), then the
     * chargers give 8.3 kW of their 16 kW in proportion */
    site(&m, 10000);
    n = fg_sched_fallback(&m, NOW, a, 16);
    assert_int_equal(n, 3);
    assert_true(find(a, n, "bat1", false)->w == 0);
    double w1 = find(a, n, "ev1", false)->w, w2 = find(a, n, "ev2", false)->w;
    assert_true(fabs(w1 / 11000 - w2 / 5000) < 1e-9); /* same fraction */
    assert_true(fabs(2000 + w1 + w2 - 9700) < 1e-6);
    fg_model_clear(&m);

    /* the load alone breaks the limit: the chargers go to 0, never below */
    site(&m, 1000);
    n = fg_sched_fallback(&m, NOW, a, 16);
    assert_true(find(a, n, "ev1", false)->w == 0 && find(a, n, "ev2", false)->w == 0);
    fg_model_clear(&m);
}

/* Exporting past the export limit: the discharging battery stops, then
 * curtailable PV gives up the same fraction; the import side is untouched. */
static void test_fallback_export(void **state)
{
    (void)state;
    struct fg_model m;
    struct fg_sched_fallback_action a[16];
    site(&m, 30000); /* export limit 5 kW */
    struct fg_asset pv = asset("pv1", FG_ASSET_PV, -30000);
    pv.pv.rated_w = 40000;
    pv.pv.available_w = 30000;
    pv.pv.curtailable = true;
    pv.pv.limit_w = NAN;
    assert_int_equal(fg_model_add_asset(&m, &pv, NULL), 0);
    fg_model_find_asset(&m, "bat1")->power_w = -4000; /* discharging */
    fg_model_refresh(&m, NOW, 0);
    /* site: -4 + 11 + 5 + 2 - 30 = -16 kW, 11 kW too much; aim 150 W
     * inside: battery 0 (4 kW), PV gives 7.15 of its 30 kW */
    size_t n = fg_sched_fallback(&m, NOW, a, 16);
    assert_true(find(a, n, "bat1", false)->w == 0);
    assert_true(fabs(find(a, n, "pv1", false)->w - (-30000 + 7150)) < 1e-6);
    assert_null(find(a, n, "ev1", false));
    fg_model_clear(&m);
}

/* Caps set by the fallback are renewed while the site is within the limit,
 * and never raised. */
static void test_fallback_holds_its_caps(void **state)
{
    (void)state;
    struct fg_model m;
    struct fg_sched_fallback_action a[16];
    site(&m, 30000);
    assert_int_equal(fg_model_apply_setpoint(&m, "ev1", 3000, FG_SP_FALLBACK, NOW + 60,
                                             NOW, NULL, NULL),
                     0);
    size_t n = fg_sched_fallback(&m, NOW, a, 16);
    assert_int_equal(n, 1);
    assert_true(find(a, n, "ev1", false)->w == 3000);
    fg_model_clear(&m);
}

static void test_view(void **state)
{
    (void)state;
    struct fg_model m;
    site(&m, 20000);
    m.site.n_tariff = 1;
    m.site.tariff[0] = (struct fg_tariff_period){0, 0.3, 0.1};
    struct fg_asset pv = asset("pv1", FG_ASSET_PV, -3000);
    pv.pv.rated_w = 5000;
    pv.pv.available_w = 3000;
    pv.pv.curtailable = true;
    pv.pv.limit_w = NAN;
    assert_int_equal(fg_model_add_asset(&m, &pv, NULL), 0);
    fg_model_refresh(&m, NOW, 0);
    struct fg_sched_asset assets[5];
    size_t nv = fg_sched_view_values(3600, 900);
    assert_int_equal(nv, 8 * 4); /* 8 series (soc_target_series the last) x 4 ISPs */
    double *values = calloc(nv, sizeof(double));
    struct fg_sched_view v;
    fg_sched_view_build(&m, NOW, 3600, 15000, NULL, assets, values, &v);
    assert_int_equal(v.abi, FG_SCHED_ABI_VERSION);
    assert_int_equal(v.n_assets, 5);
    assert_true(v.site_power_w == 19000);
    assert_true(v.import_max_w == 20000 && v.export_max_w == 5000);
    assert_true(v.kw_max_w == 15000);
    assert_true(isnan(v.dispatch_w) && isnan(v.reactive_var));
    assert_int_equal(v.price_import.n, 4);
    assert_int_equal(v.price_import.start % 900, 0);
    assert_true(v.price_import.start <= NOW && NOW < v.price_import.start + 900);
    assert_true(v.price_import.v[3] == 0.3 && v.price_export.v[0] == 0.1);
    assert_int_equal(v.soc_target_series.n, 4); /* no charge_state signal: NAN */
    assert_true(isnan(v.soc_target_series.v[0]) && isnan(v.soc_target_pct));
    assert_true(v.import_max_w_series.v[2] == 20000);
    assert_int_equal(v.load_forecast_w.n, 0);
    /* no forecast of its own, no history: what it produces now holds for
     * the current ISP only, nothing is assumed later */
    assert_true(v.pv_forecast_w.v[0] == 3000 && isnan(v.pv_forecast_w.v[3]));
    /* no plan: the plan fields say so */
    assert_int_equal(v.plan_created, 0);
    for (uint32_t i = 0; i < v.n_assets; i++)
        assert_true(isnan(fg_sched_asset_at(&v, i)->plan_w));
    const struct fg_sched_asset *p = fg_sched_asset_at(&v, 4);
    assert_int_equal(p->kind, FG_SCHED_PV);
    assert_true(p->available_w == 3000 && p->curtailable && p->min_w == -3000);
    const struct fg_sched_asset *b = fg_sched_asset_at(&v, 0);
    assert_string_equal(b->id, "bat1");
    assert_int_equal(b->kind, FG_SCHED_BATTERY);
    assert_true(b->soc_pct == 50 && b->max_w == 5000 && b->min_w == -5000);
    const struct fg_sched_asset *e = fg_sched_asset_at(&v, 1);
    assert_int_equal(e->kind, FG_SCHED_EVSE);
    assert_int_equal(e->session, 1);
    assert_true(e->max_w == 11000 && e->voltage_v == 230);
    assert_true(isnan(e->energy_requested_wh));

    /* the PV asset's own forecast, where it has one */
    struct fg_asset *pa = fg_model_find_asset(&m, "pv1");
    pa->pv.forecast_start = v.price_import.start;
    pa->pv.forecast_step_s = 900;
    pa->pv.n_forecast = 4;
    for (int i = 0; i < 4; i++)
        pa->pv.forecast_w[i] = 1000.0 * (i + 1);
    fg_sched_view_build(&m, NOW, 3600, 15000, NULL, assets, values, &v);
    assert_true(v.pv_forecast_w.v[2] == 3000 && v.pv_forecast_w.v[3] == 4000);
    free(values);
    fg_model_clear(&m);
}

/* The plan in force reaches the view: the ISP's site power and each
 * asset's row; an EV that arrived after the plan is not in it. */
static void test_view_plan(void **state)
{
    (void)state;
    struct fg_model m;
    site(&m, 20000);
    fg_model_refresh(&m, NOW, 0);
    struct fg_sched_asset assets[4];
    double *values = calloc(fg_sched_view_values(3600, 900), sizeof(double));
    struct fg_sched_view v;
    int64_t start = NOW - NOW % 900;
    struct fg_plan p = {.created = NOW - 100,
                        .start = start - 900,
                        .isp_s = 900,
                        .n_isp = 3,
                        .n_assets = 3};
    p.asset_ids = calloc(3, sizeof(*p.asset_ids));
    p.w = calloc(9, sizeof(double));
    p.isp = calloc(FG_PLAN_N_SERIES * 3, sizeof(double));
    /* rows in another order than the model's, one asset the model lacks */
    snprintf(p.asset_ids[0], FG_ID_MAX, "ev2");
    snprintf(p.asset_ids[1], FG_ID_MAX, "bat1");
    snprintf(p.asset_ids[2], FG_ID_MAX, "gone");
    for (int i = 0; i < 9; i++)
        p.w[i] = 100.0 * i;
    for (int i = 0; i < 3; i++)
        p.isp[FG_PLAN_SITE_W * 3 + i] = 5000.0 + i;
    fg_model_set_plan(&m, &p);
    struct fg_asset *ev2 = fg_model_find_asset(&m, "ev2");
    ev2->evse.session_active = true;
    ev2->evse.session_start = NOW - 50; /* after the plan */
    fg_model_find_asset(&m, "ev1")->evse.session_start = NOW - 1000;
    fg_sched_view_build(&m, NOW, 3600, NAN, NULL, assets, values, &v);
    fg_sched_view_plan(&m, &v, assets);
    assert_int_equal(v.plan_created, NOW - 100);
    assert_true(v.plan_site_w == 5001); /* the plan's second ISP is now's */
    for (uint32_t i = 0; i < v.n_assets; i++) {
        const struct fg_sched_asset *a = fg_sched_asset_at(&v, i);
        if (!strcmp(a->id, "bat1"))
            assert_true(a->plan_w == 400); /* row 1, ISP 1 */
        else
            assert_true(isnan(a->plan_w)); /* ev1: no row; ev2: newer session */
    }
    /* ev2 from before the plan: in it once it has said what it wants */
    ev2->evse.session_start = NOW - 1000;
    fg_sched_view_build(&m, NOW, 3600, NAN, NULL, assets, values, &v);
    fg_sched_view_plan(&m, &v, assets);
    assert_true(isnan(fg_sched_asset_at(&v, 2)->plan_w));
    ev2->evse.energy_requested_wh = 10000;
    fg_sched_view_build(&m, NOW, 3600, NAN, NULL, assets, values, &v);
    fg_sched_view_plan(&m, &v, assets);
    assert_string_equal(fg_sched_asset_at(&v, 2)->id, "ev2");
    assert_true(fg_sched_asset_at(&v, 2)->plan_w == 100); /* row 0, ISP 1 */
    /* past the plan's end: no plan */
    fg_sched_view_build(&m, start + 2 * 900, 3600, NAN, NULL, assets, values, &v);
    fg_sched_view_plan(&m, &v, assets);
    assert_int_equal(v.plan_created, 0);
    assert_true(isnan(v.plan_site_w));
    free(values);
    fg_model_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_check),
        cmocka_unit_test(test_fallback_within_limit_only_releases),
        cmocka_unit_test(test_fallback_above_limit_curtails),
        cmocka_unit_test(test_fallback_holds_its_caps),
        cmocka_unit_test(test_fallback_export),
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_view_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
