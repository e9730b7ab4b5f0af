/* Helpers shared by the real-time controller's tests (test_realtime.c,
 * test_plan_follow.c): include after <cmocka.h>. */
#ifndef FG_RT_TEST_H
#define FG_RT_TEST_H

#include <stdio.h>

#include "fg_scheduler.h"

/* An instance of plugin p with the options json; fails the test if refused. */
static inline void *rt_make(const struct fg_sched_plugin *p, const char *json)
{
    char err[256] = "";
    void *inst = p->create(NULL, json, err, sizeof err);
    if (!inst)
        fprintf(stderr, "create(%s): %s\n", json ? json : "NULL", err);
    assert_non_null(inst);
    return inst;
}

/* Assert ok, saying what was got and wanted when it is not. */
static inline void rt_check(int ok, const char *what, double got, double want)
{
    if (!ok)
        fprintf(stderr, "%s: got %.2f, want %.2f\n", what, got, want);
    assert_true(ok);
}

#endif
