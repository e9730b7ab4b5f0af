/* Misbehaving scheduler plugins for the guard's tests, one shared object per
 * MODE (tests/plugins/CMakeLists.txt):
 *   segv     realtime() dereferences NULL
 *   hang     realtime() never returns
 *   inf      every battery and EVSE: +Inf W
 *   nan      every battery and EVSE: NaN W
 *   x10      every battery and EVSE: ten times the site's import limit
 *   unknown  a set-point for an asset that does not exist
 *   badabi   a table of ABI version 99
 *   small    a table of 8 bytes
 *   nosym    no flexgw_scheduler_v1 symbol at all
 *   fail     realtime() returns -1
 *   createhang  create() never returns
 *
 * plan() misbehaves the same way (segv, hang, inf, nan, fail; the others
 * plan 0 W for every asset), after the first N good plans when the options
 * say {"plan_good_calls": N} (a good plan: 0 W for every asset, every ISP). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fg_scheduler.h"

#define M_SEGV 1
#define M_HANG 2
#define M_INF 3
#define M_NAN 4
#define M_X10 5
#define M_UNKNOWN 6
#define M_BADABI 7
#define M_SMALL 8
#define M_NOSYM 9
#define M_FAIL 10
#define M_CREATEHANG 11

static int inst_token;
static int good_plans_left;

static void *t_create(const struct fg_sched_host *host, const char *config_json,
                      char *err, size_t errlen)
{
    (void)host;
    (void)config_json;
    (void)err;
    (void)errlen;
#if MODE == M_CREATEHANG
    for (;;)
        sleep(1);
#endif
    const char *g = config_json ? strstr(config_json, "\"plan_good_calls\":") : NULL;
    good_plans_left = g ? atoi(g + strlen("\"plan_good_calls\":")) : 0;
    return &inst_token;
}

static int t_realtime(void *inst, const struct fg_sched_view *view,
                      struct fg_sched_setpoints *out)
{
    (void)inst;
    out->n = 0;
#if MODE == M_SEGV
    volatile int *p = NULL;
    *p = 1;
#elif MODE == M_HANG
    for (;;)
        sleep(1);
#elif MODE == M_FAIL
    snprintf(out->note, sizeof(out->note), "told to fail");
    return -1;
#elif MODE == M_UNKNOWN
    snprintf(out->sp[0].id, sizeof(out->sp[0].id), "no-such-asset");
    out->sp[0].w = 1000;
    out->n = 1;
#endif
    for (uint32_t i = 0; i < view->n_assets && out->n < out->cap; i++) {
        const struct fg_sched_asset *a = fg_sched_asset_at(view, i);
        if (a->kind != FG_SCHED_BATTERY && a->kind != FG_SCHED_EVSE)
            continue;
        struct fg_sched_setpoint *sp = &out->sp[out->n++];
        memset(sp, 0, sizeof(*sp));
        snprintf(sp->id, sizeof(sp->id), "%s", a->id);
#if MODE == M_INF
        sp->w = INFINITY;
#elif MODE == M_NAN
        sp->w = NAN;
#else
        sp->w = 10 * view->import_max_w;
#endif
    }
    return 0;
}

static int t_plan(void *inst, const struct fg_sched_view *view, struct fg_sched_plan *out)
{
    (void)inst;
    uint32_t n = (uint32_t)(view->horizon_s / view->isp_s);
    out->start = view->now - view->now % view->isp_s;
    out->isp_s = view->isp_s;
    out->n_isp = n < out->cap_isp ? n : out->cap_isp;
    out->n_slack = 0;
    double v = 0;
    snprintf(out->services, sizeof(out->services), "test-%s", MODE_NAME);
    if (good_plans_left > 0) {
        good_plans_left--;
    } else {
#if MODE == M_SEGV
        volatile int *p = NULL;
        *p = 1;
#elif MODE == M_HANG
        for (;;)
            sleep(1);
#elif MODE == M_FAIL
        return -1;
#elif MODE == M_INF
        v = INFINITY;
#elif MODE == M_NAN
        v = NAN;
#endif
    }
    for (size_t i = 0; i < (size_t)out->n_assets * out->n_isp; i++)
        out->w[i] = v;
    out->expected_cost = out->cost_energy = 0;
    return 0;
}

static const struct fg_sched_plugin table = {
#if MODE == M_BADABI
    .abi = 99,
#else
    .abi = FG_SCHED_ABI_VERSION,
#endif
#if MODE == M_SMALL
    .size = 8,
#else
    .size = sizeof(struct fg_sched_plugin),
#endif
    .name = "test-" MODE_NAME,
    .create = t_create,
    .realtime = t_realtime,
    .plan = t_plan,
};

#if MODE == M_NOSYM
const struct fg_sched_plugin *flexgw_scheduler_v0(void);
const struct fg_sched_plugin *flexgw_scheduler_v0(void)
#else
const struct fg_sched_plugin *flexgw_scheduler_v1(void);
const struct fg_sched_plugin *flexgw_scheduler_v1(void)
#endif
{
    return &table;
}
