#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fg_buf.h"

void fg_metrics_init(struct fg_metrics *m)
{
    memset(m, 0, sizeof(*m));
    m->start_mono_ms = fg_mono_ms();
}

void fg_metrics_adapter(struct fg_metrics *m, const char *adapter, uint64_t in,
                        uint64_t out)
{
    size_t i;
    for (i = 0; i < m->n_adapters; i++) {
        if (!strcmp(m->adapters[i].name, adapter))
            break;
    }
    if (i == m->n_adapters) {
        if (i == FG_METRICS_MAX_ADAPTERS)
            return;
        snprintf(m->adapters[i].name, sizeof(m->adapters[i].name), "%s", adapter);
        m->n_adapters++;
    }
    m->adapters[i].in += in;
    m->adapters[i].out += out;
}

void fg_metrics_http(struct fg_metrics *m, int status)
{
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        m->http_requests[cls]++;
}

static void metric(struct fg_buf *o, const char *name, const char *type, const char *help)
{
    fg_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge_f(struct fg_buf *o, const char *name, const char *help, double v)
{
    metric(o, name, "gauge", help);
    if (isnan(v))
        fg_buf_printf(o, "%s NaN\n", name);
    else
        fg_buf_printf(o, "%s %.3f\n", name, v);
}

static void model_gauges(struct fg_buf *o, const struct fg_model *model, int64_t now)
{
    metric(o, "flexgw_assets", "gauge", "Configured assets by kind.");
    metric(o, "flexgw_assets_online", "gauge", "Assets online by kind.");
    for (int k = 0; k < FG_ASSET_KIND_COUNT; k++) {
        unsigned total = 0, online = 0;
        for (size_t i = 0; i < model->n_assets; i++) {
            if ((int)model->assets[i].kind != k)
                continue;
            total++;
            online += model->assets[i].online;
        }
        const char *kn = fg_asset_kind_name((enum fg_asset_kind)k);
        fg_buf_printf(o, "flexgw_assets{kind=\"%s\"} %u\n", kn, total);
        fg_buf_printf(o, "flexgw_assets_online{kind=\"%s\"} %u\n", kn, online);
    }
    struct fg_limits lim;
    fg_model_limits_at(model, now, &lim);
    gauge_f(o, "flexgw_site_power_watts", "Net site power (+ import).",
            fg_model_site_power(model));
    gauge_f(o, "flexgw_site_import_limit_watts", "Effective import limit.",
            lim.import_max_w);
    gauge_f(o, "flexgw_site_export_limit_watts", "Effective export limit.",
            lim.export_max_w);
    unsigned active = 0;
    for (size_t i = 0; i < model->n_signals; i++)
        active += model->signals[i].status == FG_SIGST_ACTIVE;
    metric(o, "flexgw_signals_active", "gauge", "Signals active now.");
    fg_buf_printf(o, "flexgw_signals_active %u\n", active);
}

char *fg_metrics_render(const struct fg_metrics *m, const struct fg_model *model,
                        int64_t now, double loop_lag_ms, double loop_lag_max_ms)
{
    struct fg_buf o;
    fg_buf_init(&o, 1u << 20);
    gauge_f(&o, "flexgw_uptime_seconds", "Seconds since start.",
            (double)(fg_mono_ms() - m->start_mono_ms) / 1000.0);
    model_gauges(&o, model, now);
    metric(&o, "flexgw_adapter_messages_in_total", "counter",
           "Messages received from peers, per adapter.");
    for (size_t i = 0; i < m->n_adapters; i++)
        fg_buf_printf(&o, "flexgw_adapter_messages_in_total{adapter=\"%s\"} %llu\n",
                      m->adapters[i].name, (unsigned long long)m->adapters[i].in);
    metric(&o, "flexgw_adapter_messages_out_total", "counter",
           "Messages sent to peers, per adapter.");
    for (size_t i = 0; i < m->n_adapters; i++)
        fg_buf_printf(&o, "flexgw_adapter_messages_out_total{adapter=\"%s\"} %llu\n",
                      m->adapters[i].name, (unsigned long long)m->adapters[i].out);
    metric(&o, "flexgw_setpoints_sent_total", "counter", "Set-points sent to assets.");
    fg_buf_printf(&o, "flexgw_setpoints_sent_total %llu\n",
                  (unsigned long long)m->setpoints_sent);
    metric(&o, "flexgw_setpoints_clamped_total", "counter",
           "Set-points changed by the envelope or site limits.");
    fg_buf_printf(&o, "flexgw_setpoints_clamped_total %llu\n",
                  (unsigned long long)m->setpoints_clamped);
    metric(&o, "flexgw_signals_received_total", "counter", "Signals accepted.");
    fg_buf_printf(&o, "flexgw_signals_received_total %llu\n",
                  (unsigned long long)m->signals_received);
    metric(&o, "flexgw_http_requests_total", "counter", "HTTP requests by status class.");
    for (int c = 1; c <= 5; c++)
        fg_buf_printf(&o, "flexgw_http_requests_total{class=\"%dxx\"} %llu\n", c,
                      (unsigned long long)m->http_requests[c]);
    metric(&o, "flexgw_http_auth_failures_total", "counter",
           "Requests refused for missing or wrong credentials.");
    fg_buf_printf(&o, "flexgw_http_auth_failures_total %llu\n",
                  (unsigned long long)m->http_auth_failures);
    metric(&o, "flexgw_config_reloads_total", "counter", "Configuration reloads.");
    fg_buf_printf(&o, "flexgw_config_reloads_total{result=\"ok\"} %llu\n",
                  (unsigned long long)m->config_reloads);
    fg_buf_printf(&o, "flexgw_config_reloads_total{result=\"rejected\"} %llu\n",
                  (unsigned long long)m->config_reload_failures);
    static const struct {
        const char *name, *help;
        size_t off;
    } sched[] = {
        {"flexgw_scheduler_calls_total", "Scheduler realtime() calls.",
         offsetof(struct fg_metrics, sched_calls)},
        {"flexgw_scheduler_failures_total",
         "Scheduler calls without a usable answer (any reason).",
         offsetof(struct fg_metrics, sched_failures)},
        {"flexgw_scheduler_timeouts_total", "Scheduler calls past their deadline.",
         offsetof(struct fg_metrics, sched_timeouts)},
        {"flexgw_scheduler_crashes_total", "Scheduler worker processes that died.",
         offsetof(struct fg_metrics, sched_crashes)},
        {"flexgw_scheduler_refused_total", "Scheduler answers refused by the guard.",
         offsetof(struct fg_metrics, sched_refused)},
        {"flexgw_scheduler_fallbacks_total",
         "Times the safe fallback schedule took over.",
         offsetof(struct fg_metrics, sched_fallbacks)},
        {"flexgw_planner_plans_total", "Plans made by the planner and put in force.",
         offsetof(struct fg_metrics, plans)},
        {"flexgw_planner_failures_total",
         "plan() calls without a usable plan (the previous plan stays in force).",
         offsetof(struct fg_metrics, plan_failures)},
    };
    for (size_t i = 0; i < sizeof(sched) / sizeof(sched[0]); i++) {
        metric(&o, sched[i].name, "counter", sched[i].help);
        fg_buf_printf(
            &o, "%s %llu\n", sched[i].name,
            (unsigned long long)*(const uint64_t *)(const void *)((const char *)m +
                                                                  sched[i].off));
    }
    gauge_f(&o, "flexgw_scheduler_fallback_active",
            "1 while the safe fallback schedule is in charge.",
            (double)m->sched_fallback_active);
    gauge_f(&o, "flexgw_planner_solve_seconds", "Wall time of the last good plan() call.",
            m->plan_solve_s);
    gauge_f(&o, "flexgw_loop_lag_seconds", "Event loop lag over the last second.",
            loop_lag_ms / 1000.0);
    gauge_f(&o, "flexgw_loop_lag_max_seconds", "Largest event loop lag since start.",
            loop_lag_max_ms / 1000.0);
    return fg_buf_take(&o);
}
