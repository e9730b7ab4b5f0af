#include "clock.h"

#include <string.h>
#include <time.h>

static int64_t ts_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fg_mono_ms(void)
{
    return ts_ms(CLOCK_MONOTONIC);
}

int64_t fg_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void fg_clock_init_real(struct fg_clock *c)
{
    memset(c, 0, sizeof(*c));
    c->speed = 1.0;
}

void fg_clock_init_sim(struct fg_clock *c, int64_t start_ms, double speed)
{
    memset(c, 0, sizeof(*c));
    c->sim = 1;
    c->speed = speed < 0 ? 0 : speed;
    c->base_sim_ms = start_ms;
    c->base_mono_ms = fg_mono_ms();
}

int64_t fg_clock_now_ms(const struct fg_clock *c)
{
    if (!c->sim)
        return ts_ms(CLOCK_REALTIME);
    if (c->speed == 0)
        return c->base_sim_ms + c->manual_ms;
    double elapsed = (double)(fg_mono_ms() - c->base_mono_ms);
    return c->base_sim_ms + (int64_t)(elapsed * c->speed);
}

int64_t fg_clock_real_delay_ms(const struct fg_clock *c, int64_t sim_ms)
{
    if (!c->sim || c->speed == 0 || c->speed == 1.0)
        return sim_ms;
    if (sim_ms <= 0)
        return 0;
    int64_t real = (int64_t)((double)sim_ms / c->speed);
    return real < 1 ? 1 : real;
}

void fg_clock_advance(struct fg_clock *c, int64_t ms)
{
    if (c->sim && c->speed == 0 && ms > 0)
        c->manual_ms += ms;
}
