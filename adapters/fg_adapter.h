/* The adapter interface: the I/O glue between a protocol and the model.
 *
 * Each adapter is a const table of functions (curl-style, one per protocol).
 * The gateway creates the model's configured assets from the config, then
 * starts every adapter; an adapter drives the assets whose `adapter` field
 * names it (and may add assets it discovers, e.g. a charging station that
 * connects). All calls happen on the loop thread. */
#ifndef FG_ADAPTER_H
#define FG_ADAPTER_H

#include "clock.h"
#include "config.h"
#include "loop.h"
#include "metrics.h"
#include "model.h"
#include "store.h"

struct fg_adapter_host {
    struct fg_model *model;
    struct fg_loop *loop;
    const struct fg_clock *clock;
    struct fg_metrics *metrics;
    struct fg_store *store; /* what a peer was told is stored goes here first */
    /* Signals from a source adapter (OpenADR): into the model and the store
     * (fg_gw_signal_put / fg_gw_signal_cancel); gw is their first argument. */
    void *gw;
    int (*signal_put)(void *gw, const struct fg_signal *s, struct fg_error *err);
    int (*signal_cancel)(void *gw, enum fg_signal_source src, const char *id,
                         struct fg_error *err);
};

struct fg_adapter_ops {
    const char *name; /* matches fg_asset.adapter */
    /* Start with the given config; *state is the adapter's own. */
    int (*start)(const struct fg_adapter_host *host, const struct fg_config *cfg,
                 void **state, struct fg_error *err);
    /* Stop and free; the model outlives the adapter. */
    void (*stop)(void *state);
    /* Optional: take a reloaded config without restarting (connections
     * stay). 0 if applied; non-zero and the gateway restarts the adapter.
     * The previous config is freed right after this returns. */
    int (*reconfigure)(void *state, const struct fg_config *cfg);
    /* Execute asset->sp on the device (sp.active false: release control).
     * Returns 0 once executed or on its way (asset->sp.state says which;
     * later failures are reported there), or a negative FG_E code with the
     * reason in *err (FG_EUNSUPPORTED: the device cannot take set-points;
     * FG_ESTATE: not now, e.g. not connected). */
    int (*setpoint)(void *state, struct fg_asset *asset, struct fg_error *err);
    /* setpoint() also executes asset->sp.var (sp.has_var) or refuses it
     * itself; without this the gateway refuses var set-points for the
     * adapter's assets with FG_EUNSUPPORTED before calling setpoint(). */
    bool reactive;
    /* Optional, with reactive: whether asset's device takes var set-points
     * (some of the adapter's devices may not); NULL: all of them do. The
     * scheduler's view marks such assets FG_SCHED_CAP_REACTIVE. */
    bool (*can_var)(void *state, const struct fg_asset *asset);
};

extern const struct fg_adapter_ops fg_sim_adapter;
extern const struct fg_adapter_ops fg_ocpp_adapter;
extern const struct fg_adapter_ops fg_modbus_adapter;
extern const struct fg_adapter_ops fg_openadr_adapter;

#endif
