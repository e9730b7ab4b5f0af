/* The one clock interface of the gateway.
 *
 * Everything that needs "now" (the model, timers that follow the site's day,
 * the demo simulation) asks a struct fg_clock, never time() directly, so tests
 * and the demo can run a simulated day in seconds. Real time is UTC epoch
 * milliseconds; simulated time runs `speed` times faster than the monotonic
 * clock from a chosen start, or (speed 0) only moves when advanced by hand.
 *
 * A clock is set up once before the loop starts and then only read, so it may
 * be read from any thread; fg_clock_advance() is for tests on one thread. */
#ifndef FG_CLOCK_H
#define FG_CLOCK_H

#include <stdint.h>

struct fg_clock {
    int sim;              /* 0: real UTC time */
    double speed;         /* sim: simulated seconds per real second; 0 = manual */
    int64_t base_sim_ms;  /* sim: simulated epoch ms at base_mono_ms */
    int64_t base_mono_ms; /* sim: monotonic ms when the base was taken */
    int64_t manual_ms;    /* sim with speed 0: accumulated fg_clock_advance() */
};

void fg_clock_init_real(struct fg_clock *c);
/* start_ms: simulated UTC epoch ms at this instant; speed >= 0. */
void fg_clock_init_sim(struct fg_clock *c, int64_t start_ms, double speed);

/* Current (possibly simulated) UTC epoch time. */
int64_t fg_clock_now_ms(const struct fg_clock *c);
static inline int64_t fg_clock_now_s(const struct fg_clock *c)
{
    return fg_clock_now_ms(c) / 1000;
}
/* Real milliseconds that pass while `sim_ms` of clock time pass (>= 1 for a
 * positive interval; equal to sim_ms for a real clock). For a manual clock
 * returns sim_ms. */
int64_t fg_clock_real_delay_ms(const struct fg_clock *c, int64_t sim_ms);
/* Manual clocks only: move time forward. */
void fg_clock_advance(struct fg_clock *c, int64_t ms);

/* Monotonic milliseconds (CLOCK_MONOTONIC), for measuring durations. */
int64_t fg_mono_ms(void);
/* Monotonic microseconds. */
int64_t fg_mono_us(void);

#endif
