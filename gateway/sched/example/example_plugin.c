/* An example scheduler plugin for flexgw: it holds every battery at 0 W.
 *
 * This file is meant to be copied. It includes nothing from flexgw but
 * fg_scheduler.h (the whole contract, ABI version 1) and builds into a
 * shared object that scheduler.plugin in the configuration points to:
 *
 *     cc -shared -fPIC -O2 -I/usr/include/flexgw example_plugin.c \
 *        -o libflexgw_example_sched.so
 *
 * flexgw runs it in a worker process of its own, calls realtime() every
 * scheduler.interval_s with a fresh view of the site, and checks every
 * set-point it returns (unknown asset ids or NaN/Inf: the whole answer is
 * refused; values are clamped to the asset's envelope and the site limits).
 * See docs/scheduler.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_scheduler.h"

/* The one symbol flexgw looks for. */
const struct fg_sched_plugin *flexgw_scheduler_v1(void);

/* One instance per create(): everything the plugin keeps between calls. */
struct example {
    struct fg_sched_host host; /* the host's services, copied */
    unsigned long calls;
};

static void say(struct example *ex, int level, const char *msg)
{
    if (ex->host.log)
        ex->host.log(ex->host.ctx, level, msg);
}

/* config_json is the text of scheduler.options ("{}" when none). A real
 * plugin parses it with the JSON library of its choice. */
static void *example_create(const struct fg_sched_host *host, const char *config_json,
                            char *err, size_t errlen)
{
    struct example *ex = calloc(1, sizeof(*ex));
    if (!ex) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* The host's table may be older (smaller) or newer (larger) than ours:
     * copy only what both know. */
    size_t n = host->size < sizeof(ex->host) ? host->size : sizeof(ex->host);
    memcpy(&ex->host, host, n);
    char msg[160];
    snprintf(msg, sizeof(msg), "example scheduler ready (options %.80s)", config_json);
    say(ex, 2, msg);
    return ex;
}

/* Every battery gets a set-point of 0 W: neither charge nor discharge. */
static int example_realtime(void *inst, const struct fg_sched_view *view,
                            struct fg_sched_setpoints *out)
{
    struct example *ex = inst;
    out->n = 0;
    for (uint32_t i = 0; i < view->n_assets; i++) {
        const struct fg_sched_asset *a = fg_sched_asset_at(view, i);
        if (a->kind != FG_SCHED_BATTERY || !a->online)
            continue;
        if (out->n == out->cap)
            return -1; /* the host gave too little room: a failure, not a guess */
        struct fg_sched_setpoint *sp = &out->sp[out->n++];
        memset(sp, 0, sizeof(*sp));
        snprintf(sp->id, sizeof(sp->id), "%s", a->id);
        sp->w = 0;
        if (ex->calls == 0 && ex->host.wear_cost_per_kwh) {
            char msg[160];
            double c = ex->host.wear_cost_per_kwh(ex->host.ctx, a->id, 0.8, 0.5, 25.0);
            snprintf(msg, sizeof(msg), "%s: wear cost %.4f per kWh at 80 %% DoD", a->id,
                     c);
            say(ex, 3, msg);
        }
    }
    snprintf(out->note, sizeof(out->note), "%u batteries held at 0 W", out->n);
    ex->calls++;
    return 0;
}

static void example_destroy(void *inst)
{
    free(inst);
}

static const struct fg_sched_plugin example_plugin = {
    .abi = FG_SCHED_ABI_VERSION,
    .size = sizeof(struct fg_sched_plugin),
    .name = "example",
    .create = example_create,
    .plan = NULL, /* this one does not plan */
    .realtime = example_realtime,
    .destroy = example_destroy,
};

const struct fg_sched_plugin *flexgw_scheduler_v1(void)
{
    return &example_plugin;
}
