/* make bench: the ageing model's cost. One day of 1 s samples for 100
 * batteries, fed the way the gateway does (every battery once a second),
 * then the calls the API and the scheduler make. Prints a Markdown section.
 *
 * Profiles (battery i uses profile i % 4, shifted by i * 37 s so no two are
 * alike): 0 a home battery following PV (charge by day, discharge in the
 * evening), 1 the same with +-2 % frequency-response wiggles every 4 min,
 * 2 peak shaving with two cycles a day, 3 a battery that mostly rests.
 * Temperature follows the day between 15 and 30 C. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fg_ageing.h"

#define N_BATT 100
#define DAY 86400
#define RUNS 3
#define CAP_WH 10000.0

static double soc_prof[4][DAY + 1], temp_prof[DAY + 1];

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void make_profiles(void)
{
    unsigned s = 7;
    for (int t = 0; t <= DAY; t++) {
        double h = t / 3600.0;
        double pv = h < 8    ? 0.2
                    : h < 14 ? 0.2 + 0.7 * (h - 8) / 6
                    : h < 18 ? 0.9
                    : h < 23 ? 0.9 - 0.7 * (h - 18) / 5
                             : 0.2;
        soc_prof[0][t] = pv;
        s = s * 1103515245u + 12345u;
        double wiggle = (t / 240) % 2 ? 0.02 : -0.02;
        soc_prof[1][t] = fmin(1, fmax(0, pv + wiggle * ((s >> 16) % 100) / 100.0));
        double ps = 0.5 + 0.3 * sin(2 * M_PI * h / 12);
        soc_prof[2][t] = ps;
        soc_prof[3][t] = h > 19 && h < 20 ? 0.8 - 0.3 * (h - 19) : h >= 20 ? 0.5 : 0.8;
        temp_prof[t] = 22.5 - 7.5 * cos(2 * M_PI * (h - 3) / 24);
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    make_profiles();
    const char *sets[4] = {"lfp-sony-us26650-naumann2020",
                           "nmc-sanyo-ur18650e-schmalstieg2014",
                           "nca-panasonic-ncr18650b-blastlite", "lmo-nrel-xu2018"};
    struct fg_age_state *st = malloc(N_BATT * sizeof *st);
    if (!st)
        return 1;
    double cpu[RUNS], wall[RUNS];
    const int64_t t0 = 1767225600; /* 2026-01-01 */
    for (int r = 0; r < RUNS; r++) {
        for (int i = 0; i < N_BATT; i++)
            fg_age_init(&st[i], fg_age_params_find(sets[i % 4]), CAP_WH);
        double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
        for (int t = 0; t <= DAY; t++)
            for (int i = 0; i < N_BATT; i++) {
                int k = (t + i * 37) % DAY, k1 = k + 1;
                const double *p = soc_prof[i % 4];
                double w = (p[k1] - p[k]) * CAP_WH * 3600.0;
                if (fg_age_sample(&st[i], t0 + t, p[k], w, temp_prof[k]) != 0)
                    return 2;
            }
        cpu[r] = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        wall[r] = now_s(CLOCK_MONOTONIC) - w0;
    }
    qsort(cpu, RUNS, sizeof cpu[0], cmp);
    qsort(wall, RUNS, sizeof wall[0], cmp);
    double samples = (double)N_BATT * (DAY + 1);

    /* what the API and the scheduler call */
    int reps = 200;
    struct fg_age_forecast fc;
    double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int k = 0; k < reps; k++)
        fg_age_predict(&st[k % N_BATT], t0 + DAY, 0.8, 50, &fc);
    double predict_us = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / reps * 1e6;
    c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    double sink = 0;
    for (int k = 0; k < reps; k++)
        sink += fg_age_loss(&st[k % N_BATT]);
    double loss_us = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / reps * 1e6;
    int nc = 100000;
    c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int k = 0; k < nc; k++)
        sink += fg_age_cycle_cost(&st[k % N_BATT], 0.1 + (k % 9) / 10.0, 0.5, 0.5, 25,
                                  5000, 0.8);
    double cycle_ns = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / nc * 1e9;
    struct fg_age_step steps[96];
    for (int k = 0; k < 96; k++)
        steps[k] = (struct fg_age_step){900, 0.5 + 0.4 * sin(2 * M_PI * k / 96), 25};
    struct fg_age_cost cost;
    c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int k = 0; k < reps; k++)
        fg_age_schedule_cost(&st[k % N_BATT], steps, 96, 5000, 0.8, &cost);
    double sched_us = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / reps * 1e6;
    size_t json_bytes = 0;
    c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int k = 0; k < N_BATT; k++) {
        cJSON *j = fg_age_state_to_json(&st[k]);
        char *s = cJSON_PrintUnformatted(j);
        json_bytes += strlen(s);
        struct fg_age_state back;
        char err[64];
        if (fg_age_state_from_json(&back, j, err, sizeof err) != 0)
            return 3;
        cJSON_free(s);
        cJSON_Delete(j);
    }
    double json_us = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / N_BATT * 1e6;

    printf("## Battery ageing model\n\n");
    printf("`BUILD_DIR/tests/bench/ageing_bench`: %d batteries (the four parameter sets "
           "in turn, "
           "10 kWh each), one day of 1 s samples each (%.0f samples), fed as the gateway "
           "feeds "
           "them: every battery once a second. Median of %d runs.\n\n",
           N_BATT, samples, RUNS);
    printf("| Figure | value |\n|---|---|\n");
    printf("| Update the model for one day of 1 s samples, 100 batteries: CPU | %.3f s "
           "(wall "
           "%.3f s) |\n",
           cpu[RUNS / 2], wall[RUNS / 2]);
    printf("| CPU per sample | %.0f ns |\n", cpu[RUNS / 2] / samples * 1e9);
    printf("| Share of one core to keep 100 batteries current at 1 Hz | %.4f %% |\n",
           cpu[RUNS / 2] / DAY * 100);
    printf("| Forecast to 80 %% SoH, 50-year horizon (fg_age_predict) | %.0f µs |\n",
           predict_us);
    printf("| SoH now, open cycles closed (fg_age_loss) | %.1f µs |\n", loss_us);
    printf("| Wear cost of one cycle (fg_age_cycle_cost) | %.0f ns |\n", cycle_ns);
    printf("| Wear cost of a 96-step schedule (fg_age_schedule_cost) | %.0f µs |\n",
           sched_us);
    printf("| State to JSON and back, per battery | %.0f µs, %zu bytes |\n", json_us,
           json_bytes / N_BATT);
    printf("\n(check: battery 0 lost %.5f %%)\n",
           sink > 0 ? 100.0 * fg_age_loss(&st[0]) : 0);
    free(st);
    return 0;
}
