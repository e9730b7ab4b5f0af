/* The event loop: cross-thread posts, timers, workers, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "clock.h"
#include "loop.h"

#define POSTERS 8
#define POSTS_EACH 2000

struct ctx {
    struct fg_loop *loop;
    pthread_t loop_thread;
    atomic_int count;
    int order[8];
    int n_order;
    int on_loop_thread;
    int cancelled;
};

static void count_fn(void *arg)
{
    struct ctx *c = arg;
    if (pthread_equal(pthread_self(), c->loop_thread))
        atomic_fetch_add(&c->count, 1);
}

static void stop_when_done(struct fg_timer *t)
{
    struct ctx *c = t->arg;
    if (atomic_load(&c->count) == POSTERS * POSTS_EACH)
        fg_loop_stop(c->loop);
    else
        fg_timer_start(t, 5);
}

static void *poster(void *arg)
{
    struct ctx *c = arg;
    for (int i = 0; i < POSTS_EACH; i++)
        assert_int_equal(fg_loop_post(c->loop, count_fn, c), 0);
    return NULL;
}

/* Every post from every thread runs exactly once, on the loop thread. */
static void test_posts_from_threads(void **state)
{
    (void)state;
    struct ctx c = {0};
    assert_int_equal(fg_loop_new(&c.loop, NULL), 0);
    c.loop_thread = pthread_self();
    pthread_t th[POSTERS];
    for (int i = 0; i < POSTERS; i++)
        pthread_create(&th[i], NULL, poster, &c);
    struct fg_timer t;
    fg_timer_init(&t, c.loop, stop_when_done, &c);
    fg_timer_start(&t, 5);
    fg_loop_run(c.loop);
    for (int i = 0; i < POSTERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&c.count), POSTERS * POSTS_EACH);
    fg_loop_free(c.loop);
}

struct tctx {
    struct fg_timer t;
    struct ctx *c;
    int id;
};

static void record(struct fg_timer *t)
{
    struct tctx *tc = t->arg;
    tc->c->order[tc->c->n_order++] = tc->id;
    if (tc->c->n_order == 3)
        fg_loop_stop(tc->c->loop);
}

/* Timers fire in due order, not arming order, and no earlier than asked. */
static void test_timers_order(void **state)
{
    (void)state;
    struct ctx c = {0};
    assert_int_equal(fg_loop_new(&c.loop, NULL), 0);
    struct tctx a = {.c = &c, .id = 3}, b = {.c = &c, .id = 1}, d = {.c = &c, .id = 2};
    fg_timer_init(&a.t, c.loop, record, &a);
    fg_timer_init(&b.t, c.loop, record, &b);
    fg_timer_init(&d.t, c.loop, record, &d);
    int64_t t0 = fg_mono_ms();
    fg_timer_start(&a.t, 60);
    fg_timer_start(&b.t, 20);
    fg_timer_start(&d.t, 40);
    fg_loop_run(c.loop);
    assert_true(fg_mono_ms() - t0 >= 60);
    assert_int_equal(c.order[0], 1);
    assert_int_equal(c.order[1], 2);
    assert_int_equal(c.order[2], 3);
    fg_loop_free(c.loop);
}

struct wjob {
    struct ctx *c;
    pthread_t worker_thread;
    int value;
};

static void work(void *arg)
{
    struct wjob *j = arg;
    j->worker_thread = pthread_self();
    j->value = 42;
}

static void done(void *arg, int cancelled)
{
    struct wjob *j = arg;
    j->c->on_loop_thread = pthread_equal(pthread_self(), j->c->loop_thread);
    j->c->cancelled = cancelled;
    fg_loop_stop(j->c->loop);
}

/* Work runs off the loop thread; its completion comes back on the loop. */
static void test_worker(void **state)
{
    (void)state;
    struct ctx c = {0};
    assert_int_equal(fg_loop_new(&c.loop, NULL), 0);
    c.loop_thread = pthread_self();
    struct wjob j = {.c = &c};
    assert_int_equal(fg_worker_submit(fg_loop_worker(c.loop), work, done, &j), 0);
    fg_loop_run(c.loop);
    assert_int_equal(j.value, 42);
    assert_false(pthread_equal(j.worker_thread, c.loop_thread));
    assert_true(c.on_loop_thread);
    assert_int_equal(c.cancelled, 0);
    fg_loop_free(c.loop);
}

/* The lag probe runs and reports a small, non-negative lag on an idle loop. */
static void stop_cb(struct fg_timer *t)
{
    fg_loop_stop(t->arg);
}

static void test_lag_probe(void **state)
{
    (void)state;
    struct fg_loop *l;
    assert_int_equal(fg_loop_new(&l, NULL), 0);
    struct fg_timer t;
    fg_timer_init(&t, l, stop_cb, l);
    fg_timer_start(&t, 350);
    fg_loop_run(l);
    assert_true(fg_loop_lag_max_ms(l) >= 0.0);
    assert_true(fg_loop_lag_max_ms(l) < 100.0);
    fg_loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_posts_from_threads),
        cmocka_unit_test(test_timers_order),
        cmocka_unit_test(test_worker),
        cmocka_unit_test(test_lag_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
