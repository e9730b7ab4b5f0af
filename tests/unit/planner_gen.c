/* Synthetic planning problems (planner_gen.h). */
#include "planner_gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fg_gen_empty(struct fg_plan_problem *p, uint32_t n, int32_t isp_s)
{
    p->start = FG_GEN_T0;
    p->isp_s = isp_s;
    p->n_isp = n;
    double **s[] = {&p->price_import, &p->price_export, &p->import_max_w,
                    &p->export_max_w};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        if (!(*s[i] = calloc(n, sizeof(double))))
            return FG_ENOMEM;
    for (uint32_t t = 0; t < n; t++)
        p->import_max_w[t] = p->export_max_w[t] = 1e6;
    return 0;
}

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static double uni(uint32_t *s, double lo, double hi)
{
    return lo + (hi - lo) * (rnd(s) % 10000) / 10000.0;
}

static double *series(uint32_t n)
{
    return calloc(n, sizeof(double));
}

int fg_gen_problem(struct fg_plan_problem *p, uint32_t n_assets, uint32_t seed)
{
    const uint32_t n = 96;
    uint32_t s = seed * 2654435761u + 1;
    if (fg_gen_empty(p, n, 900))
        return FG_ENOMEM;
    for (uint32_t t = 0; t < n; t++) { /* starts 08:00 UTC */
        double h = fmod(8 + t / 4.0, 24);
        p->price_import[t] =
            0.12 + 0.08 * (h >= 7 && h < 23) + 0.2 * (h >= 17 && h < 21) + 0.01 * (t % 3);
        p->price_export[t] = p->price_import[t] - 0.09;
        p->import_max_w[t] = 6000.0 * n_assets;
        p->export_max_w[t] = 4000.0 * n_assets;
    }
    p->demand_price_per_kw = 0.1;
    char id[32];
    for (uint32_t i = 0; i < n_assets; i++) {
        uint32_t k = i % 10;
        struct fg_plan_asset *a;
        snprintf(id, sizeof(id), "a%u", i);
        if (k == 0) {
            if (!(a = fg_plan_asset_add(p, FG_PLAN_BATTERY, id)))
                return FG_ENOMEM;
            a->capacity_wh = uni(&s, 20000, 100000);
            a->energy_wh = a->capacity_wh * 0.5;
            a->min_wh = a->capacity_wh * 0.1;
            a->max_wh = a->capacity_wh * 0.95;
            a->end_min_wh = a->capacity_wh * 0.5;
            a->max_charge_w = a->max_discharge_w = a->capacity_wh / 2;
            a->eta_charge = a->eta_discharge = 0.95;
            a->wear_per_kwh = 0.03;
        } else if (k <= 6) {
            if (!(a = fg_plan_asset_add(p, FG_PLAN_EV, id)))
                return FG_ENOMEM;
            a->arrival = FG_GEN_T0 + (int64_t)uni(&s, 0, 20) * 3600 + 600;
            a->departure = a->arrival + (int64_t)uni(&s, 3, 14) * 3600;
            a->max_charge_w = k % 2 ? 11000 : 7400;
            /* at most 80 % of what it could take while plugged in */
            double hours = (double)(a->departure - a->arrival) / 3600;
            a->end_min_wh = fmin(uni(&s, 5000, 40000), 0.8 * a->max_charge_w * hours);
            a->capacity_wh = a->max_wh = a->end_min_wh;
            if (k == 6) { /* V2G */
                a->energy_wh = 20000;
                a->capacity_wh = a->max_wh = 60000;
                a->end_min_wh =
                    20000 + fmin(uni(&s, 5000, 30000), 0.8 * a->max_charge_w * hours);
                a->max_discharge_w = 11000;
                a->wear_per_kwh = 0.05;
            }
        } else if (k == 7) {
            if (!(a = fg_plan_asset_add(p, FG_PLAN_PV, id)) || !(a->avail_w = series(n)))
                return FG_ENOMEM;
            double peak = uni(&s, 5000, 30000);
            for (uint32_t t = 0; t < n; t++) {
                double h = fmod(8 + t / 4.0, 24);
                a->avail_w[t] =
                    h > 6 && h < 21 ? round(peak * sin((h - 6) / 15 * M_PI)) : 0;
            }
            a->curtailable = i % 20 == 7;
        } else if (k == 8) {
            if (!(a = fg_plan_asset_add(p, FG_PLAN_LOAD, id)) || !(a->w = series(n)))
                return FG_ENOMEM;
            a->load_type = FG_SCHED_LOAD_INFLEXIBLE;
            double base = uni(&s, 1000, 8000);
            for (uint32_t t = 0; t < n; t++)
                a->w[t] = round(base * (1 + 0.5 * sin(t / 8.0 + i)));
        } else {
            if (!(a = fg_plan_asset_add(p, FG_PLAN_LOAD, id)))
                return FG_ENOMEM;
            a->rated_w = uni(&s, 1000, 5000);
            if (i % 20 == 9) {
                a->load_type = FG_SCHED_LOAD_DISCONNECTABLE;
                a->off_cost_per_kwh = uni(&s, 0.1, 0.5);
            } else {
                a->load_type = FG_SCHED_LOAD_SHIFTABLE;
                a->run_s = 900.0 * (4 + rnd(&s) % 8);
                a->earliest_start = FG_GEN_T0 + 3600 * (int64_t)(rnd(&s) % 10);
                a->latest_end = a->earliest_start + (int64_t)a->run_s + 3600 * 8;
            }
        }
    }
    return 0;
}
