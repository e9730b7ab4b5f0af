/* The planner as a scheduler plugin: loaded with dlopen like the host does,
 * plan() on a view through the ABI of fg_scheduler.h only. */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fg_scheduler.h"

#define T0 1800000000LL

static const struct fg_sched_plugin *plugin;
static void *handle;
static int wear_calls, logs;
static char wear_id[FG_SCHED_ID_MAX];

static void host_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    (void)msg;
    logs++;
}

static double host_wear(void *ctx, const char *id, double dod, double crate, double temp)
{
    (void)ctx;
    (void)dod;
    (void)crate;
    (void)temp;
    wear_calls++;
    snprintf(wear_id, sizeof(wear_id), "%s", id);
    return 0.02;
}

static int setup(void **state)
{
    (void)state;
    handle = dlopen(FG_PLANNER_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "%s\n", dlerror());
        return -1;
    }
    fg_sched_entry_fn entry = (fg_sched_entry_fn)dlsym(handle, FG_SCHED_ENTRY);
    plugin = entry ? entry() : NULL;
    return plugin ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return dlclose(handle);
}

static void test_table(void **state)
{
    (void)state;
    assert_int_equal(plugin->abi, FG_SCHED_ABI_VERSION);
    assert_int_equal(plugin->size, sizeof(struct fg_sched_plugin));
    assert_string_equal(plugin->name, "planner");
    assert_non_null(plugin->plan);
    char err[256] = "";
    assert_null(plugin->create(NULL, "{\"time_limit_s\": -1}", err, sizeof(err)));
    assert_non_null(strstr(err, "/time_limit_s"));
    assert_null(
        plugin->create(NULL, "{\"penalties\": {\"colour\": 1}}", err, sizeof(err)));
    assert_string_equal(err, "/penalties/colour: unknown key");
}

static void asset(struct fg_sched_asset *a, uint32_t kind, const char *id)
{
    memset(a, 0, sizeof(*a));
    a->size = sizeof(*a);
    a->kind = kind;
    a->online = 1;
    snprintf(a->id, sizeof(a->id), "%s", id);
    a->voltage_v = a->temperature_c = a->energy_requested_wh = NAN;
}

static void test_plan_through_the_abi(void **state)
{
    (void)state;
    enum { N = 16 };
    double imp[N], exp[N], load[N];
    for (int t = 0; t < N; t++) {
        imp[t] = t < 8 ? 0.1 : 0.4;
        exp[t] = 0.05;
        load[t] = 3000;
    }
    struct fg_sched_asset as[6];
    asset(&as[0], FG_SCHED_BATTERY, "bat");
    as[0].capacity_wh = 10000;
    as[0].soc_pct = 50;
    as[0].soc_min_pct = 10;
    as[0].soc_max_pct = 90;
    as[0].max_charge_w = as[0].max_discharge_w = 5000;
    as[0].min_w = -5000;
    as[0].max_w = 5000;
    asset(&as[1], FG_SCHED_EVSE, "cp1");
    as[1].session = 7;
    as[1].energy_wh = 5000;
    as[1].energy_requested_wh = 20000;
    as[1].departure = T0 + 3 * 3600;
    as[1].max_charge_w = as[1].max_w = 11000;
    asset(&as[2], FG_SCHED_EVSE, "cp2"); /* no session */
    as[2].max_w = 11000;
    asset(&as[3], FG_SCHED_PV, "roof");
    as[3].available_w = 2000;
    as[3].curtailable = 1;
    asset(&as[4], FG_SCHED_LOAD, "boiler");
    as[4].load_type = FG_SCHED_LOAD_DISCONNECTABLE;
    as[4].caps = FG_SCHED_CAP_DISCONNECT;
    as[4].rated_w = 2000;
    asset(&as[5], FG_SCHED_LOAD, "lights");
    as[5].load_type = FG_SCHED_LOAD_INFLEXIBLE;
    as[5].power_w = 500;
    struct fg_sched_view v = {
        .size = sizeof(v),
        .abi = FG_SCHED_ABI_VERSION,
        .now = T0 + 100,
        .isp_s = 900,
        .horizon_s = N * 900,
        .import_max_w = 40000,
        .export_max_w = 20000,
        .kw_max_w = NAN,
        .dispatch_w = NAN,
        .reactive_var = NAN,
        .price_import = {T0, 900, N, imp},
        .price_export = {T0, 900, N, exp},
        .load_forecast_w = {T0, 900, N, load},
        .n_assets = 6,
        .asset_stride = sizeof(as[0]),
        .assets = as,
    };
    struct fg_sched_host host = {.size = sizeof(host),
                                 .abi = FG_SCHED_ABI_VERSION,
                                 .log = host_log,
                                 .wear_cost_per_kwh = host_wear};
    char err[256] = "";
    void *inst = plugin->create(
        &host, "{\"time_limit_s\": 10, \"off_cost_per_kwh\": 0.12}", err, sizeof(err));
    assert_non_null(inst);
    double w[6 * 96];
    struct fg_sched_slack slack[8];
    struct fg_sched_plan out = {.cap_isp = 96, .w = w, .slack_cap = 8, .slack = slack};
    assert_int_equal(plugin->plan(inst, &v, &out), 0);
    assert_int_equal(out.start, T0);
    assert_int_equal(out.isp_s, 900);
    assert_int_equal(out.n_isp, N);
    assert_int_equal(out.n_assets, 6);
    assert_true(fabs(out.cost_energy + out.cost_wear + out.cost_demand +
                     out.cost_penalty - out.expected_cost) < 1e-9);
    assert_true(wear_calls >= 1);
    assert_string_equal(wear_id, "bat");
    assert_true(logs >= 1);
    assert_non_null(strstr(out.services, "energy_cost"));
    /* the EV gets its 15 kWh, in the cheap first two hours; cp2 stays off */
    double ev = 0;
    for (int t = 0; t < N; t++) {
        ev += w[1 * N + t] * 0.25;
        if (t >= 8)
            assert_true(fabs(w[1 * N + t]) < 1e-6);
        assert_true(fabs(w[2 * N + t]) < 1e-6);
        assert_true(w[3 * N + t] <= 1e-6);          /* PV produces */
        assert_true(fabs(w[5 * N + t]) < 1e-6);     /* in the site forecast */
        assert_true(w[4 * N + t] < 1e-6 || t < 8);  /* boiler off when dear */
        assert_true(w[0 * N + t] <= 1e-6 || t < 8); /* no charging when dear */
    }
    assert_true(fabs(ev - 15000) < 1e-3);
    /* the boiler: off at 0.12 per kWh is cheaper than the battery's energy
     * (0.1 / 0.95^2 + 2 x 0.02 wear) while the grid costs 0.4 */
    assert_int_equal(out.n_slack, 1);
    assert_string_equal(slack[0].name, "load_off");
    assert_string_equal(slack[0].asset, "boiler");
    assert_true(fabs(slack[0].amount - 8 * 2000 * 0.25) < 1e-3);

    /* a smaller plan buffer: the plan is cut to it */
    out.cap_isp = 4;
    assert_int_equal(plugin->plan(inst, &v, &out), 0);
    assert_int_equal(out.n_isp, 4);
    plugin->destroy(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_plan_through_the_abi),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
