/* The small core pieces: error codes, the bounded buffer, the JSON-pointer
 * escape, the clock (real, accelerated, manual) and the log line format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fg_buf.h"
#include "fg_err.h"
#include "fg_json.h"
#include "fg_utf8.h"
#include "log.h"

static void test_error_codes(void **state)
{
    (void)state;
    assert_string_equal(fg_strerror(FG_OK), "success");
    assert_string_equal(fg_strerror(FG_ERANGE), "value out of range");
    assert_string_equal(fg_errname(FG_ECONFIG), "FG_ECONFIG");
    assert_string_equal(fg_strerror(-9999), "unknown error");
    struct fg_error e;
    assert_int_equal(
        fg_error_set(&e, FG_ERANGE, "/a/b", "%d not in [%d, %d]", 300, 1, 247),
        FG_ERANGE);
    assert_string_equal(e.path, "/a/b");
    assert_string_equal(e.msg, "300 not in [1, 247]");
    assert_int_equal(fg_error_set(NULL, FG_EIO, NULL, "x"), FG_EIO);
}

static void test_errlist_keeps_count_past_max(void **state)
{
    (void)state;
    struct fg_errlist l;
    fg_errlist_init(&l);
    for (int i = 0; i < FG_ERRLIST_MAX + 5; i++)
        fg_errlist_add(&l, FG_EINVAL, "/x", "error %d", i);
    assert_int_equal(l.n, FG_ERRLIST_MAX);
    assert_int_equal(l.dropped, 5);
    assert_int_equal(fg_errlist_count(&l), FG_ERRLIST_MAX + 5);
    assert_string_equal(l.v[3].msg, "error 3");
    fg_errlist_clear(&l);
}

static void test_buf_bounded(void **state)
{
    (void)state;
    struct fg_buf b;
    fg_buf_init(&b, 10);
    fg_buf_printf(&b, "%s-%d", "ab", 42);
    fg_buf_append(&b, "xyz", 3);
    char *s = fg_buf_take(&b);
    assert_string_equal(s, "ab-42xyz");
    free(s);
    /* past the maximum: the whole buffer fails, nothing half-written leaks */
    fg_buf_printf(&b, "%s", "0123456789");
    assert_false(b.failed);
    fg_buf_append(&b, "!", 1);
    assert_true(b.failed);
    assert_null(fg_buf_take(&b));
    /* empty content is an empty string, not NULL */
    s = fg_buf_take(&b);
    assert_string_equal(s, "");
    free(s);
    fg_buf_init(&b, 1u << 20);
    for (int i = 0; i < 10000; i++)
        fg_buf_printf(&b, "%04d", i % 10000);
    assert_int_equal(b.len, 40000);
    fg_buf_clear(&b);
}

static void test_json_pointer_key(void **state)
{
    (void)state;
    char out[32];
    fg_json_pointer_key(out, sizeof(out), "/site", "assets");
    assert_string_equal(out, "/site/assets");
    fg_json_pointer_key(out, sizeof(out), "", "a/b~c");
    assert_string_equal(out, "/a~1b~0c");
    char tiny[8];
    fg_json_pointer_key(tiny, sizeof(tiny), "/abcdef", "longkey");
    assert_int_equal(strlen(tiny), 7);
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n, want;
    } cases[] = {
        {"A", 1, 1},
        {"\xc3\xa9", 2, 2},         /* é */
        {"\xe2\x82\xac", 3, 3},     /* € */
        {"\xf0\x9f\x94\x8b", 4, 4}, /* U+1F50B */
        {"\xc0\xaf", 2, 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 3, 0},     /* overlong 3-byte */
        {"\xed\xa0\x80", 3, 0},     /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
        {"\xe2\x82", 2, 0},         /* cut short */
        {"\x80", 1, 0},             /* stray continuation */
        {"\xff", 1, 0},
        {"\xe2\x82\xac", 2, 0}, /* fewer bytes available than needed */
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(fg_utf8_len((const unsigned char *)cases[i].bytes, cases[i].n),
                         cases[i].want);
    /* a NUL-terminated string may pass n = 4: the terminator ends a sequence */
    assert_int_equal(fg_utf8_len((const unsigned char *)"\xe2\x82", 4), 0);
    assert_int_equal(fg_utf8_len((const unsigned char *)"\xc3", 4), 0);
}

static void test_clock_manual(void **state)
{
    (void)state;
    struct fg_clock c;
    fg_clock_init_sim(&c, 1000000, 0);
    assert_int_equal(fg_clock_now_ms(&c), 1000000);
    fg_clock_advance(&c, 86400000);
    assert_int_equal(fg_clock_now_ms(&c), 1000000 + 86400000);
    assert_int_equal(fg_clock_now_s(&c), (1000000 + 86400000) / 1000);
    fg_clock_advance(&c, -5); /* time never goes back */
    assert_int_equal(fg_clock_now_ms(&c), 1000000 + 86400000);
    assert_int_equal(fg_clock_real_delay_ms(&c, 500), 500);
}

static void test_clock_accelerated(void **state)
{
    (void)state;
    struct fg_clock c;
    fg_clock_init_sim(&c, 0, 1000);
    int64_t a = fg_clock_now_ms(&c);
    usleep(50000);
    int64_t b = fg_clock_now_ms(&c);
    /* 50 ms real at 1000x is 50 s simulated; allow for scheduling */
    assert_true(b - a >= 45000);
    assert_true(b - a < 5000000);
    assert_int_equal(fg_clock_real_delay_ms(&c, 60000), 60);
    assert_int_equal(fg_clock_real_delay_ms(&c, 1), 1); /* never 0 for a positive wait */
    fg_clock_advance(&c, 1000000);                      /* not a manual clock: ignored */
    assert_true(fg_clock_now_ms(&c) - b < 1000000);
}

static void test_clock_real(void **state)
{
    (void)state;
    struct fg_clock c;
    fg_clock_init_real(&c);
    int64_t now = fg_clock_now_ms(&c);
    assert_true(now > 1700000000000LL); /* after 2023 */
    assert_int_equal(fg_clock_real_delay_ms(&c, 1234), 1234);
}

/* Capture what fg_log writes to stderr. */
static char *capture(int journal, enum fg_log_level lvl, const char *text)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    fg_log_set_journal(journal);
    fg_log(lvl, "mod", "%s", text);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    static char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_log_formats(void **state)
{
    (void)state;
    fg_log_set_level(FG_LOG_INFO);
    assert_string_equal(capture(1, FG_LOG_WARN, "hello"), "<4>mod: hello\n");
    assert_string_equal(capture(1, FG_LOG_ERROR, "x"), "<3>mod: x\n");
    char *line = capture(0, FG_LOG_INFO, "plain");
    /* 2026-11-25T04:00:51.123Z info  mod: plain */
    assert_int_equal(line[4], '-');
    assert_int_equal(line[10], 'T');
    assert_non_null(strstr(line, "Z info  mod: plain\n"));
    /* below the level: nothing */
    assert_string_equal(capture(1, FG_LOG_DEBUG, "hidden"), "");
    /* a peer's newline cannot forge a second log line */
    assert_string_equal(capture(1, FG_LOG_WARN, "a\nb\rc"), "<4>mod: a?b?c\n");
    enum fg_log_level l;
    assert_int_equal(fg_log_level_parse("debug", &l), 0);
    assert_int_equal(l, FG_LOG_DEBUG);
    assert_int_equal(fg_log_level_parse("loud", &l), FG_EINVAL);
    fg_log_set_journal(-1);
}

/* ---- the arena JSON parser ---------------------------------------------------- */

/* Parse with fg_json_parse; the tree printed by cJSON, or NULL. */
static char *arena_print(struct fg_arena *a, const char *in, int depth, size_t *stop)
{
    const char *end = NULL;
    cJSON *t = fg_json_parse(a, in, strlen(in), depth, &end);
    assert_non_null(end);
    *stop = (size_t)(end - in);
    return t ? cJSON_PrintUnformatted(t) : NULL;
}

static void test_json_parse_accepts_json(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"{}", "{}"},
        {" [ ] ", "[]"},
        {"[1,-2,0,-0,3.25,1e3,2E-2,1.5e+1]", "[1,-2,0,-0,3.25,1000,0.02,15]"},
        {"123456789012345", "123456789012345"},
        {"12345678901234567", "12345678901234568"},
        {"[true,false,null]", "[true,false,null]"},
        {"\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\""},
        {"\"\\u00e9\\u20AC\\ud83d\\ude00\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
        {"{\"a\":1,\"a\":2,\"b\":{\"c\":[{}]}}", "{\"a\":1,\"a\":2,\"b\":{\"c\":[{}]}}"},
        {"\t\r\n{\"k\" : [ 1 , 2 ] }", "{\"k\":[1,2]}"},
    };
    struct fg_arena a;
    fg_arena_init(&a);
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t stop;
        char *p = arena_print(&a, ok[i].in, 8, &stop);
        assert_non_null(p);
        assert_string_equal(p, ok[i].out);
        /* the same as cJSON reads it */
        cJSON *c = cJSON_Parse(ok[i].in);
        char *q = cJSON_PrintUnformatted(c);
        assert_string_equal(p, q);
        free(p);
        free(q);
        cJSON_Delete(c);
        fg_arena_reset(&a);
    }
    fg_arena_free(&a);
}

static void test_json_parse_tree_shape(void **state)
{
    (void)state;
    struct fg_arena a;
    fg_arena_init(&a);
    const char *in =
        "{\"n\":2147483648,\"m\":-3000000000,\"x\":7.9,\"l\":[1,2,3]} trailing";
    const char *end;
    cJSON *t = fg_json_parse(&a, in, strlen(in), 4, &end);
    assert_non_null(t);
    assert_string_equal(end, " trailing"); /* stops right after the value */
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(t, "n")->valueint, 2147483647);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(t, "m")->valueint, -2147483647 - 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(t, "x")->valueint, 7);
    cJSON *l = cJSON_GetObjectItemCaseSensitive(t, "l");
    assert_int_equal(cJSON_GetArraySize(l), 3);
    assert_ptr_equal(l->child->prev, cJSON_GetArrayItem(l, 2)); /* as cJSON links */
    /* detaching (what the OCPP codec does with the payload) keeps the links */
    cJSON *x = cJSON_DetachItemFromObjectCaseSensitive(t, "x");
    assert_non_null(x);
    assert_null(cJSON_GetObjectItemCaseSensitive(t, "x"));
    assert_ptr_equal(t->child->prev, l);
    fg_arena_free(&a);
}

static void test_json_parse_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t at;
    } bad[] = {
        {"", 0},
        {"[1,2", 4},
        {"[1,]", 3},
        {"{\"a\" 1}", 5},
        {"{\"a\":1,}", 7},
        {"{1:2}", 1},
        {"[01]", 2},
        {"[1.]", 3},
        {"[.5]", 1},
        {"[1e]", 3},
        {"[+1]", 1},
        {"[tru]", 1},
        {"\"abc", 4},
        {"\"a\x01\"", 2},
        {"\"\\x\"", 1},
        {"\"\\u12\"", 1},
        {"\"\\u0000\"", 1},
        {"\"\\ud800\"", 1},
        {"\"\\ud800\\u0041\"", 1},
        {"\"\\udc00\"", 1},
        {"[1 2]", 3},
        {"[[[[[1]]]]]", 4}, /* deeper than 4 */
    };
    struct fg_arena a;
    fg_arena_init(&a);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t stop;
        char *p = arena_print(&a, bad[i].in, 4, &stop);
        if (p)
            fail_msg("accepted %s as %s", bad[i].in, p);
        if (stop != bad[i].at)
            fail_msg("%s: stopped at %zu, not %zu", bad[i].in, stop, bad[i].at);
        fg_arena_reset(&a);
    }
    fg_arena_free(&a);
}

/* fg_json_get() and fg_json_is() answer as cJSON's own functions do. */
static void test_json_get_as_cjson(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"a\":1,\"ab\":2,\"a\":3,\"\":4,\"b\":[5,{\"c\":6}],"
                           "\"n\":null,\"t\":true,\"s\":\"x\"}");
    assert_non_null(o);
    const char *names[] = {"a", "ab", "", "b", "c", "A", "abc", "n", "t", "s"};
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "b");
    const cJSON *objs[] = {o, arr, arr->child, arr->child->next, NULL};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            assert_ptr_equal(fg_json_get(objs[i], names[k]),
                             cJSON_GetObjectItemCaseSensitive(objs[i], names[k]));
        assert_ptr_equal(fg_json_get(objs[i], NULL),
                         cJSON_GetObjectItemCaseSensitive(objs[i], NULL));
    }
    for (const cJSON *c = o->child; c; c = c->next) {
        assert_int_equal(fg_json_is(c, cJSON_Number), cJSON_IsNumber(c));
        assert_int_equal(fg_json_is(c, cJSON_String), cJSON_IsString(c));
        assert_int_equal(fg_json_is(c, cJSON_Array), cJSON_IsArray(c));
        assert_int_equal(fg_json_is(c, cJSON_Object), cJSON_IsObject(c));
        assert_int_equal(fg_json_is(c, cJSON_NULL), cJSON_IsNull(c));
        assert_int_equal(fg_json_is_bool(c), cJSON_IsBool(c));
    }
    assert_false(fg_json_is(NULL, cJSON_Object));
    cJSON_Delete(o);
}

/* The fast path for short decimals must give strtod's double, bit for bit. */
static void test_json_numbers_as_strtod(void **state)
{
    (void)state;
    struct fg_arena a;
    fg_arena_init(&a);
    unsigned seed = 12345;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1103515245u + 12345u;
        char in[64];
        int frac = (int)(seed >> 8) % 16, intd = (int)(seed >> 16) % 16;
        long long m = (long long)(seed >> 4) * 7919 % 1000000000000000LL;
        snprintf(in, sizeof(in), "%s%.*f", (seed & 1) ? "-" : "", frac,
                 (double)m / (intd ? 1.0 : 1e9));
        if (strlen(in) > 40)
            continue;
        const char *end;
        cJSON *t = fg_json_parse(&a, in, strlen(in), 1, &end);
        assert_non_null(t);
        double want = strtod(in, NULL);
        if (memcmp(&t->valuedouble, &want, sizeof(want)))
            fail_msg("%s: %.17g, strtod %.17g", in, t->valuedouble, want);
        fg_arena_reset(&a);
    }
    static const char *const edge[] = {"0.1",
                                       "0.3",
                                       "123456789012345",
                                       "1234567890.12345",
                                       "0.000000000000001",
                                       "9007199254740993",
                                       "-0.0",
                                       "2.2250738585072014e-308",
                                       "1e23",
                                       "8.5"};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        const char *end;
        cJSON *t = fg_json_parse(&a, edge[i], strlen(edge[i]), 1, &end);
        assert_non_null(t);
        double want = strtod(edge[i], NULL);
        if (memcmp(&t->valuedouble, &want, sizeof(want)))
            fail_msg("%s: %.17g, strtod %.17g", edge[i], t->valuedouble, want);
    }
    fg_arena_free(&a);
}

static void test_json_arena_reuse(void **state)
{
    (void)state;
    struct fg_arena a;
    fg_arena_init(&a);
    static char big[40000];
    size_t n = 0;
    big[n++] = '[';
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"s%d\"", i ? "," : "", i);
    big[n++] = ']';
    big[n] = '\0';
    const char *end;
    cJSON *t = fg_json_parse(&a, big, n, 4, &end);
    assert_non_null(t);
    assert_int_equal(cJSON_GetArraySize(t), 3000);
    assert_string_equal(cJSON_GetArrayItem(t, 2999)->valuestring, "s2999");
    fg_arena_reset(&a); /* keeps at most one block, of at most 16 KiB */
    t = fg_json_parse(&a, "{\"evseId\":1,\"v\":[1,2,3]}", 24, 4, &end);
    assert_non_null(t);
    fg_arena_reset(&a);
    assert_non_null(a.head);
    const void *kept = a.head;
    for (int i = 0; i < 100; i++) {
        t = fg_json_parse(&a, "{\"evseId\":1,\"v\":[1,2,3]}", 24, 4, &end);
        assert_non_null(t);
        fg_arena_reset(&a);
        assert_ptr_equal(a.head, kept); /* small messages allocate nothing */
    }
    fg_arena_free(&a);
    assert_null(a.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_errlist_keeps_count_past_max),
        cmocka_unit_test(test_buf_bounded),
        cmocka_unit_test(test_json_pointer_key),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_clock_manual),
        cmocka_unit_test(test_clock_accelerated),
        cmocka_unit_test(test_clock_real),
        cmocka_unit_test(test_log_formats),
        cmocka_unit_test(test_json_parse_accepts_json),
        cmocka_unit_test(test_json_parse_tree_shape),
        cmocka_unit_test(test_json_parse_refuses),
        cmocka_unit_test(test_json_get_as_cjson),
        cmocka_unit_test(test_json_numbers_as_strtod),
        cmocka_unit_test(test_json_arena_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
