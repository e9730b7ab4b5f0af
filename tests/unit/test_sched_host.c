/* The scheduler host (gateway/sched_host.h): the loader's errors name the
 * file and what is wrong, and the worker process (the real flexgw binary,
 * --scheduler-worker) runs the example plugin and survives the bad ones:
 * a segfault is reported with its signal, a hang is killed at the deadline,
 * both restart after a back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "sched_host.h"
#include "sched_wire.h"

#define PLUGIN(m) FG_PLUGIN_DIR "/libfgtest_sched_" m ".so"

static void expect_load_error(const char *path, int code, const char *part)
{
    struct fg_sched_lib lib;
    struct fg_error e = {0};
    assert_int_equal(fg_sched_load(path, &lib, &e), code);
    assert_null(lib.p);
    if (!strstr(e.msg, part) || (path[0] == '/' && !strstr(e.msg, path)))
        fail_msg("\"%s\": expected \"%s\" and the path in \"%s\"", path, part, e.msg);
}

static void test_loader_errors(void **state)
{
    (void)state;
    expect_load_error(FG_PLUGIN_DIR "/no-such.so", FG_ENOTFOUND, "No such file");
    expect_load_error(FG_SOURCE_DIR "/README.md", FG_EINVAL,
                      "not a loadable shared object");
    expect_load_error(PLUGIN("nosym"), FG_ENOTFOUND, "no symbol flexgw_scheduler_v1");
    expect_load_error(PLUGIN("badabi"), FG_EUNSUPPORTED,
                      "scheduler ABI version 99, this flexgw speaks version 1");
    expect_load_error(PLUGIN("small"), FG_EUNSUPPORTED, "plugin table of 8 bytes");
    expect_load_error("nonsense", FG_ENOTFOUND, "not a built-in");
}

static void test_loader_and_builtins(void **state)
{
    (void)state;
    struct fg_sched_lib lib;
    struct fg_error e = {0};
    assert_int_equal(fg_sched_load(FG_EXAMPLE_PLUGIN, &lib, &e), 0);
    assert_non_null(lib.p);
    assert_string_equal(lib.p->name, "example");
    assert_int_equal(lib.p->abi, FG_SCHED_ABI_VERSION);
    fg_sched_unload(&lib);
    assert_true(fg_sched_is_builtin("none"));
    assert_true(fg_sched_is_builtin("realtime"));
    assert_false(fg_sched_is_builtin("planner9000"));
    assert_null(fg_sched_builtin("none"));
    const struct fg_sched_plugin *rt = fg_sched_builtin("realtime");
    assert_non_null(rt);
    assert_int_equal(rt->abi, FG_SCHED_ABI_VERSION);
}

/* A view with one battery (bat1) and one EVSE (ev1). */
static void encode_view(struct fg_sched_wbuf *w)
{
    struct fg_sched_asset a[2];
    memset(a, 0, sizeof(a));
    a[0].size = a[1].size = sizeof(a[0]);
    a[0].kind = FG_SCHED_BATTERY;
    snprintf(a[0].id, sizeof(a[0].id), "bat1");
    a[0].online = 1;
    a[0].min_w = -5000;
    a[0].max_w = 5000;
    a[1].kind = FG_SCHED_EVSE;
    snprintf(a[1].id, sizeof(a[1].id), "ev1");
    a[1].online = 1;
    a[1].max_w = 11000;
    struct fg_sched_view v = {.size = sizeof(v),
                              .abi = FG_SCHED_ABI_VERSION,
                              .now = 1700000000,
                              .isp_s = 900,
                              .import_max_w = 8000,
                              .export_max_w = 8000,
                              .kw_max_w = NAN,
                              .dispatch_w = NAN,
                              .reactive_var = NAN,
                              .n_assets = 2,
                              .asset_stride = sizeof(a[0]),
                              .assets = a};
    fg_sched_wbuf_init(w);
    fg_sched_view_encode(w, &v);
}

static int wear_questions;
static double wear(void *ctx, const char *id, double dod, double crate, double temp)
{
    (void)ctx;
    (void)crate;
    (void)temp;
    wear_questions++;
    return !strcmp(id, "bat1") && dod > 0 ? 0.05 : 0;
}

static enum fg_sched_outcome call(struct fg_sched_proc *p, int timeout_ms,
                                  struct fg_sched_setpoints *out, char *why, size_t len)
{
    struct fg_sched_wbuf w;
    encode_view(&w);
    enum fg_sched_outcome o =
        fg_sched_proc_realtime(p, w.p, w.len, timeout_ms, wear, NULL, out, why, len);
    fg_sched_wbuf_clear(&w);
    return o;
}

static void test_worker_runs_the_example(void **state)
{
    (void)state;
    struct fg_sched_proc p;
    struct fg_sched_setpoint sp[8];
    struct fg_sched_setpoints out = {.cap = 8, .sp = sp};
    char why[512];
    fg_sched_proc_init(&p, FG_FLEXGW, FG_EXAMPLE_PLUGIN, "{\"x\": 1}", 3);
    wear_questions = 0;
    assert_int_equal(call(&p, 5000, &out, why, sizeof(why)), FG_SCHED_OK);
    assert_int_equal(out.n, 1);
    assert_string_equal(sp[0].id, "bat1");
    assert_true(sp[0].w == 0);
    assert_string_equal(out.note, "1 batteries held at 0 W");
    assert_string_equal(p.name, "example");
    assert_int_equal(wear_questions, 1); /* its first call asks once */
    pid_t pid = p.pid;
    assert_int_equal(call(&p, 5000, &out, why, sizeof(why)), FG_SCHED_OK);
    assert_int_equal(p.pid, pid); /* the same worker answers again */
    fg_sched_proc_clear(&p);
    assert_int_equal(kill(pid, 0), -1); /* killed and reaped */
}

static void test_worker_crash_and_hang(void **state)
{
    (void)state;
    struct fg_sched_proc p;
    struct fg_sched_setpoint sp[8];
    struct fg_sched_setpoints out = {.cap = 8, .sp = sp};
    char why[512];

    fg_sched_proc_init(&p, FG_FLEXGW, PLUGIN("segv"), "{}", 1);
    assert_int_equal(call(&p, 5000, &out, why, sizeof(why)), FG_SCHED_CRASHED);
    if (!strstr(why, "SIGSEGV"))
        fail_msg("no signal name in \"%s\"", why);
    assert_int_equal(p.pid, 0);
    /* in back-off: no new worker yet */
    assert_int_equal(call(&p, 5000, &out, why, sizeof(why)), FG_SCHED_DOWN);
    assert_non_null(strstr(why, "next start in"));
    fg_sched_proc_clear(&p);

    fg_sched_proc_init(&p, FG_FLEXGW, PLUGIN("hang"), "{}", 1);
    int64_t t0 = fg_mono_ms();
    assert_int_equal(call(&p, 300, &out, why, sizeof(why)), FG_SCHED_TIMEOUT);
    int64_t took = fg_mono_ms() - t0;
    assert_true(took >= 300 && took < 5000);
    if (!strstr(why, "within 300 ms") || !strstr(why, "SIGKILL"))
        fail_msg("unexpected \"%s\"", why);
    assert_int_equal(p.pid, 0);
    fg_sched_proc_clear(&p);

    fg_sched_proc_init(&p, FG_FLEXGW, PLUGIN("badabi"), "{}", 1);
    assert_int_equal(call(&p, 5000, &out, why, sizeof(why)), FG_SCHED_DOWN);
    if (!strstr(why, "ABI version 99") || !strstr(why, "libfgtest_sched_badabi.so"))
        fail_msg("unexpected \"%s\"", why);
    fg_sched_proc_clear(&p);

    fg_sched_proc_init(&p, FG_FLEXGW, PLUGIN("fail"), "{}", 1);
    assert_int_equal(call(&p, 5000, &out, why, sizeof(why)), FG_SCHED_FAILED);
    assert_non_null(strstr(why, "returned -1: told to fail"));
    fg_sched_proc_clear(&p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loader_errors),
        cmocka_unit_test(test_loader_and_builtins),
        cmocka_unit_test(test_worker_runs_the_example),
        cmocka_unit_test(test_worker_crash_and_hang),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
