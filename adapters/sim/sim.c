/* The in-process site simulator, used by the demo and by tests.
 *
 * It plays the devices of the assets whose adapter is "sim": EVs arrive and
 * leave at their configured times and charge at full power unless a
 * set-point says otherwise; the battery follows its set-point and integrates
 * its state of charge; PV follows a clear-sky curve dimmed by clouds; loads
 * follow a daily profile (a disconnectable one is off at a 0 W set-point, a
 * shiftable one makes one run a day in its window). It runs on the gateway's (possibly
 * simulated) clock, so a day passes in minutes with --speed.
 *
 * It writes only measurements (power, SoC, session state, online) into the
 * model, exactly what a real adapter would learn from its device; envelopes
 * and limits stay the model's business. Later issues replace it with
 * simulators that speak OCPP and Modbus on loopback. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_adapter.h"
#include "log.h"

#define STEP_MS 500            /* real time between steps */
#define MAX_STEP_S 900.0       /* longest simulated step integrated at once */
#define EV_CAPACITY_WH 60000.0 /* simulated EV battery */
#define EFFICIENCY 0.95        /* battery one-way efficiency */

struct sim_asset {
    char id[FG_ID_MAX];
    size_t idx; /* cached index into the model's assets, checked by id */
    struct fg_cfg_sim p;
    double phase; /* per-asset noise phase */
    /* shiftable load: the run under way started at run_start (0 none);
     * done_for: the latest end of the window whose run has been made */
    int64_t run_start, done_for;
};

struct sim {
    struct fg_adapter_host host;
    struct fg_timer timer;
    int utc_offset_min;
    int64_t last; /* last step, simulated epoch s */
    size_t n;
    struct sim_asset *a;
};

/* Smooth deterministic noise in [-1, 1]: a few incommensurate sines. */
static double noise(double t, double phase)
{
    return (sin(t / 1700.0 + phase) + 0.6 * sin(t / 470.0 + 2.1 * phase) +
            0.3 * sin(t / 130.0 + 3.7 * phase)) /
           1.9;
}

static double local_hour(const struct sim *s, int64_t t)
{
    int64_t local = t + (int64_t)s->utc_offset_min * 60;
    int64_t sod = ((local % 86400) + 86400) % 86400;
    return (double)sod / 3600.0;
}

static int local_minute(const struct sim *s, int64_t t)
{
    return (int)(local_hour(s, t) * 60.0);
}

static double clear_sky(double hour)
{
    if (hour < 6.0 || hour > 20.0)
        return 0.0;
    double x = sin(M_PI * (hour - 6.0) / 14.0);
    return x * x;
}

static double load_profile(const char *profile, double h)
{
    if (!strcmp(profile, "flat"))
        return 0.5;
    if (!strcmp(profile, "office")) {
        if (h < 6.5 || h >= 19.0)
            return 0.22;
        if (h < 8.0)
            return 0.22 + 0.5 * (h - 6.5) / 1.5;
        if (h < 17.0)
            return 0.8 + 0.15 * exp(-(h - 12.5) * (h - 12.5));
        return 0.8 - 0.58 * (h - 17.0) / 2.0;
    }
    /* household: morning and evening peaks over a base load */
    return 0.15 + 0.35 * exp(-(h - 7.5) * (h - 7.5) / 1.5) +
           0.6 * exp(-(h - 19.0) * (h - 19.0) / 3.0);
}

static struct fg_asset *model_asset(struct sim *s, struct sim_asset *sa)
{
    struct fg_model *m = s->host.model;
    if (sa->idx < m->n_assets && !strcmp(m->assets[sa->idx].id, sa->id))
        return &m->assets[sa->idx];
    for (size_t i = 0; i < m->n_assets; i++) {
        if (!strcmp(m->assets[i].id, sa->id)) {
            sa->idx = i;
            return &m->assets[i];
        }
    }
    return NULL;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int in_window(int minute, int from, int until)
{
    if (from < until)
        return minute >= from && minute < until;
    return minute >= from || minute < until;
}

/* Epoch time of the next local `minute` after t. */
static int64_t next_local(const struct sim *s, int64_t t, int minute)
{
    int64_t off = (int64_t)s->utc_offset_min * 60;
    int64_t local = t + off;
    int64_t day = local - (((local % 86400) + 86400) % 86400);
    int64_t cand = day + (int64_t)minute * 60;
    if (cand <= local)
        cand += 86400;
    return cand - off;
}

static void step_evse(struct sim *s, struct sim_asset *sa, struct fg_asset *a,
                      int64_t now, double dt)
{
    struct fg_evse *e = &a->evse;
    int present = sa->p.arrival_min >= 0 &&
                  in_window(local_minute(s, now), sa->p.arrival_min, sa->p.departure_min);
    if (present && !e->session_active) {
        e->session_active = true;
        /* the day number fits an int for any clock the gateway accepts;
         * as one, the id provably fits session_id (no truncation warning) */
        snprintf(e->session_id, sizeof(e->session_id), "sim-%.20s-%d", a->id,
                 (int)(now / 86400));
        snprintf(e->id_token, sizeof(e->id_token), "SIM%.32s", a->id);
        e->session_start = now;
        e->energy_wh = 0;
        e->energy_requested_wh = sa->p.energy_wh;
        e->departure = next_local(s, now, sa->p.departure_min);
        e->ev_capacity_wh = EV_CAPACITY_WH;
        e->ev_soc = sa->p.initial_soc;
        e->ev_bidirectional = e->bidirectional; /* the simulated EVs all offer V2G */
        e->state = FG_CONN_CHARGING;
        fg_info("sim", "%s: EV arrived, wants %.1f kWh by departure", a->id,
                e->energy_requested_wh / 1000.0);
    } else if (!present && e->session_active) {
        fg_info("sim", "%s: EV left with %.1f kWh", a->id, e->energy_wh / 1000.0);
        e->session_active = false;
        e->state = FG_CONN_AVAILABLE;
        e->departure = 0;
    }
    double p = 0;
    if (e->session_active) {
        p = a->sp.active ? a->sp.w : e->rated_w; /* uncontrolled: full power */
        double lo = e->bidirectional ? -e->max_discharge_w : 0;
        p = clampd(p, lo, e->rated_w);
        if (p > 0 && (e->energy_wh >= e->energy_requested_wh || e->ev_soc >= 100.0))
            p = 0; /* the EV is done */
        if (p < 0 && e->ev_soc <= 20.0)
            p = 0; /* the EV keeps a reserve */
        e->state = p != 0 ? FG_CONN_CHARGING : FG_CONN_SUSPENDED;
        e->energy_wh += p * dt / 3600.0;
        e->ev_soc = clampd(e->ev_soc + p * dt / 3600.0 / EV_CAPACITY_WH * 100.0, 0, 100);
    }
    a->power_w = p;
}

static void step_battery(struct sim_asset *sa, struct fg_asset *a, double dt)
{
    (void)sa;
    struct fg_battery *b = &a->battery;
    double p = a->sp.active ? a->sp.w : 0;
    p = clampd(p, -b->max_discharge_w, b->max_charge_w);
    if ((p > 0 && b->soc >= 100.0) || (p < 0 && b->soc <= 0.0))
        p = 0;
    double e = p > 0 ? p * EFFICIENCY : p / EFFICIENCY;
    b->soc = clampd(b->soc + e * dt / 3600.0 / b->capacity_wh * 100.0, 0, 100);
    b->temperature_c = 25.0 + 8.0 * fabs(p) / (b->max_charge_w > 0 ? b->max_charge_w : 1);
    a->power_w = p;
}

static double pv_available(const struct sim *s, const struct sim_asset *sa,
                           const struct fg_asset *a, int64_t t)
{
    double cloud = sa->p.cloudiness * (0.5 + 0.5 * noise((double)t, sa->phase));
    return a->pv.rated_w * clear_sky(local_hour(s, t)) * (1.0 - cloud);
}

static void step_pv(struct sim *s, struct sim_asset *sa, struct fg_asset *a, int64_t now)
{
    struct fg_pv *pv = &a->pv;
    pv->available_w = pv_available(s, sa, a, now);
    double prod = pv->available_w;
    if (a->sp.active && pv->curtailable) {
        pv->limit_w = a->sp.w < 0 ? -a->sp.w : 0;
        if (prod > pv->limit_w)
            prod = pv->limit_w;
    } else {
        pv->limit_w = NAN;
    }
    a->power_w = -prod;
    /* A simple forecast: the clear-sky curve at the average cloud cover. */
    int isp = s->host.model->site.isp_s > 0 ? s->host.model->site.isp_s : 900;
    pv->forecast_start = now - now % isp;
    pv->n_forecast = 96;
    for (size_t i = 0; i < pv->n_forecast; i++) {
        int64_t t = pv->forecast_start + (int64_t)i * isp + isp / 2;
        pv->forecast_w[i] =
            pv->rated_w * clear_sky(local_hour(s, t)) * (1.0 - 0.5 * sa->p.cloudiness);
    }
}

/* A shiftable load (a washer, say): one run of run_s at rated power a day,
 * inside its window [arrival, departure). It starts when it gets a
 * set-point above 0 W in the window, or at the latest start that still
 * ends by the window's end when nobody starts it; once started it runs to
 * the end (a set-point does not interrupt it). It tells the model the
 * window it waits for: today's until its run starts, then tomorrow's. */
static void step_shiftable(struct sim *s, struct sim_asset *sa, struct fg_asset *a,
                           int64_t now)
{
    struct fg_load *l = &a->load;
    double run = sa->p.run_s;
    l->run_s = sa->p.arrival_min >= 0 && run > 0 ? run : 0;
    if (!(l->run_s > 0)) {
        l->earliest_start = l->latest_end = 0;
        l->connected = false;
        a->power_w = 0;
        return;
    }
    int64_t from = next_local(s, now - 86400, sa->p.arrival_min);
    int64_t to = next_local(s, from, sa->p.departure_min);
    bool running = sa->run_start && now < sa->run_start + (int64_t)run;
    if (!running && now < to && sa->done_for != to) {
        bool asked = a->sp.active && a->sp.w > 0;
        if (asked || now >= to - (int64_t)run) {
            sa->run_start = now;
            sa->done_for = to;
            running = true;
            fg_info("sim", "%s: run of %.0f s started (%s)", a->id, run,
                    asked ? "set-point" : "latest start");
        }
    }
    if (sa->done_for == to || now >= to) { /* today's run is taken: tomorrow's */
        from = next_local(s, now, sa->p.arrival_min);
        to = next_local(s, from, sa->p.departure_min);
    }
    l->earliest_start = from;
    l->latest_end = to;
    l->connected = running;
    a->power_w = running ? l->rated_w : 0;
}

static void step_load(struct sim *s, struct sim_asset *sa, struct fg_asset *a,
                      int64_t now)
{
    if (a->load.type == FG_LOAD_SHIFTABLE) {
        step_shiftable(s, sa, a, now);
        return;
    }
    double f = load_profile(sa->p.profile, local_hour(s, now));
    f *= 1.0 + 0.08 * noise((double)now, sa->phase);
    /* a disconnectable load is a switch: a set-point of 0 W turns it off,
     * one above 0 W (or none) leaves it on, drawing what it needs */
    if (a->load.type == FG_LOAD_DISCONNECTABLE)
        a->load.connected = !(a->sp.active && a->sp.w <= 0);
    if (a->load.type == FG_LOAD_DISCONNECTABLE && !a->load.connected)
        f = 0;
    a->power_w = clampd(f, 0, 1) * a->load.rated_w;
}

static void step(struct fg_timer *t)
{
    struct sim *s = t->arg;
    int64_t now = fg_clock_now_s(s->host.clock);
    double dt = clampd((double)(now - s->last), 0, MAX_STEP_S);
    s->last = now;
    double total = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct sim_asset *sa = &s->a[i];
        struct fg_asset *a = model_asset(s, sa);
        if (!a)
            continue;
        switch (a->kind) {
        case FG_ASSET_EVSE:
            step_evse(s, sa, a, now, dt);
            break;
        case FG_ASSET_BATTERY:
            step_battery(sa, a, dt);
            break;
        case FG_ASSET_PV:
            step_pv(s, sa, a, now);
            break;
        case FG_ASSET_LOAD:
            step_load(s, sa, a, now);
            break;
        }
        a->online = true;
        a->last_seen = now;
    }
    /* The simulated main meter sees the whole site: the simulated assets and
     * the others (the demo's OCPP chargers and Modbus battery, as last
     * measured), as a meter at the connection point would. */
    const struct fg_model *m = s->host.model;
    for (size_t i = 0; i < m->n_assets; i++)
        if (m->assets[i].online && isfinite(m->assets[i].power_w))
            total += m->assets[i].power_w;
    s->host.model->site.meter_power_w = total;
    s->host.model->site.meter_seen = now;
    s->host.model->version++;
    fg_metrics_adapter(s->host.metrics, "sim", s->n, 0);
    fg_timer_start(t, STEP_MS);
}

static int sim_start(const struct fg_adapter_host *host, const struct fg_config *cfg,
                     void **state, struct fg_error *err)
{
    struct sim *s = calloc(1, sizeof(*s));
    if (!s)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    s->host = *host;
    s->utc_offset_min = cfg->site.utc_offset_min;
    s->a = calloc(cfg->site.n_assets ? cfg->site.n_assets : 1, sizeof(*s->a));
    if (!s->a) {
        free(s);
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < cfg->site.n_assets; i++) {
        const struct fg_cfg_asset *ca = &cfg->site.assets[i];
        if (strcmp(ca->adapter, "sim"))
            continue;
        struct sim_asset *sa = &s->a[s->n++];
        snprintf(sa->id, sizeof(sa->id), "%s", ca->id);
        sa->p = ca->sim;
        if (!ca->has_sim) {
            sa->p.arrival_min = -1;
            sa->p.initial_soc = 50;
            snprintf(sa->p.profile, sizeof(sa->p.profile), "household");
            sa->p.cloudiness = 0.2;
        }
        sa->phase = 1.0 + 0.37 * (double)i;
        struct fg_asset *a = model_asset(s, sa);
        /* Only a battery the model knows nothing about starts at its initial
         * SoC: a restart of the simulator (config reload) keeps its state. */
        if (a && a->kind == FG_ASSET_BATTERY && isnan(a->battery.soc))
            a->battery.soc = sa->p.initial_soc;
    }
    s->last = fg_clock_now_s(host->clock);
    fg_timer_init(&s->timer, host->loop, step, s);
    step(&s->timer); /* first readings now, so the API has data at once */
    fg_info("sim", "simulating %zu assets", s->n);
    *state = s;
    return 0;
}

static void sim_stop(void *state)
{
    struct sim *s = state;
    if (!s)
        return;
    fg_timer_stop(&s->timer);
    free(s->a);
    free(s);
}

static int sim_setpoint(void *state, struct fg_asset *asset, struct fg_error *err)
{
    struct sim *s = state;
    /* The simulated devices read asset->sp on their next step. */
    fg_metrics_adapter(s->host.metrics, "sim", 0, 1);
    asset->sp.state = FG_SPS_APPLIED;
    (void)err;
    return 0;
}

const struct fg_adapter_ops fg_sim_adapter = {
    .name = "sim",
    .start = sim_start,
    .stop = sim_stop,
    .setpoint = sim_setpoint,
};
