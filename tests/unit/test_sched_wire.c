/* The scheduler worker protocol (gateway/sched_wire.h): a view and an answer
 * survive the round trip; truncated frames and lying lengths are refused
 * with the field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "sched_wire.h"

static double prices[4] = {0.1, 0.2, NAN, 0.4};
static double limits[4] = {5000, 5000, 3000, 5000};

static void make_view(struct fg_sched_view *v, struct fg_sched_asset *a, uint32_t n)
{
    memset(v, 0, sizeof(*v));
    v->size = sizeof(*v);
    v->abi = FG_SCHED_ABI_VERSION;
    v->now = 1700000000;
    v->isp_s = 900;
    v->horizon_s = 3600;
    v->site_power_w = 1234.5;
    v->site_voltage_v[0] = 230;
    v->site_voltage_v[1] = v->site_voltage_v[2] = NAN;
    v->import_max_w = 5000;
    v->export_max_w = 4000;
    v->kw_max_w = NAN;
    v->dispatch_w = NAN;
    v->reactive_var = -300;
    v->island = 1;
    v->soc_target_pct = 85;
    v->soc_target_until = 1700003600;
    v->price_import = (struct fg_sched_series){1699999200, 900, 4, prices};
    v->import_max_w_series = (struct fg_sched_series){1699999200, 900, 4, limits};
    for (uint32_t i = 0; i < n; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].size = sizeof(a[i]);
        a[i].kind = i % 4;
        snprintf(a[i].id, sizeof(a[i].id), "asset%u", i);
        a[i].max_w = 1000.0 * i;
        a[i].soc_pct = NAN;
        a[i].departure = 1700003600 + i;
    }
    v->n_assets = n;
    v->asset_stride = sizeof(*a);
    v->assets = a;
}

static void test_view_round_trip(void **state)
{
    (void)state;
    struct fg_sched_asset a[5];
    struct fg_sched_view v;
    make_view(&v, a, 5);
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_view_encode(&w, &v);
    assert_int_equal(w.err, 0);
    struct fg_sched_rbuf r;
    struct fg_sched_wire_view wv;
    struct fg_error e = {0};
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_view_decode(&r, &wv, &e), 0);
    const struct fg_sched_view *d = &wv.v;
    assert_int_equal(d->now, v.now);
    assert_int_equal(d->isp_s, 900);
    assert_true(d->site_power_w == 1234.5);
    assert_true(isnan(d->site_voltage_v[1]) && isnan(d->kw_max_w));
    assert_true(d->reactive_var == -300 && d->island == 1);
    assert_true(d->soc_target_pct == 85 && d->soc_target_until == 1700003600);
    assert_int_equal(d->price_import.n, 4);
    assert_true(d->price_import.v[1] == 0.2 && isnan(d->price_import.v[2]));
    assert_true(d->import_max_w_series.v[2] == 3000);
    assert_int_equal(d->price_export.n, 0);
    assert_null(d->price_export.v);
    assert_int_equal(d->n_assets, 5);
    assert_int_equal(d->asset_stride, sizeof(struct fg_sched_asset));
    for (uint32_t i = 0; i < 5; i++) {
        const struct fg_sched_asset *x = fg_sched_asset_at(d, i);
        assert_string_equal(x->id, a[i].id);
        assert_int_equal(x->kind, i % 4);
        assert_true(x->max_w == 1000.0 * i);
        assert_int_equal(x->departure, 1700003600 + i);
    }
    fg_sched_wire_view_clear(&wv);
    fg_sched_wbuf_clear(&w);
}

/* Every prefix of a valid view is refused, never read past. */
static void test_view_truncated(void **state)
{
    (void)state;
    struct fg_sched_asset a[2];
    struct fg_sched_view v;
    make_view(&v, a, 2);
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_view_encode(&w, &v);
    for (size_t len = 0; len < w.len; len++) {
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, w.p, len);
        struct fg_sched_rbuf r;
        struct fg_sched_wire_view wv;
        struct fg_error e = {0};
        fg_sched_rbuf_init(&r, copy, len);
        assert_int_not_equal(fg_sched_view_decode(&r, &wv, &e), 0);
        assert_true(e.msg[0] != '\0');
        fg_sched_wire_view_clear(&wv);
        free(copy);
    }
    fg_sched_wbuf_clear(&w);
}

/* Lengths that claim more than the frame holds, or more than the maximum. */
static void test_view_lying_lengths(void **state)
{
    (void)state;
    struct fg_sched_asset a[2];
    struct fg_sched_view v;
    make_view(&v, a, 2);
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_view_encode(&w, &v);
    /* the first series' n sits after the site fields and its start, step */
    size_t site = 8 + 4 + 4 + 8 + 3 * 8 + 5 * 8 + 4 + 8 + 8 + 8 + 8;
    size_t n_off = site + 8 + 4;
    uint32_t n;
    memcpy(&n, w.p + n_off, 4);
    assert_int_equal(n, 4);
    struct {
        uint32_t value;
        int code;
        const char *path;
    } cases[] = {
        {5, FG_EPARSE, "price_import"},
        {FG_SCHED_SERIES_MAX + 1, FG_ERANGE, "price_import"},
        {UINT32_MAX, FG_ERANGE, "price_import"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* 5 values claimed where 4 are: the rest of the view shifts, and
         * the decoder must notice somewhere without reading past the end */
        memcpy(w.p + n_off, &cases[i].value, 4);
        struct fg_sched_rbuf r;
        struct fg_sched_wire_view wv;
        struct fg_error e = {0};
        fg_sched_rbuf_init(&r, w.p, w.len);
        int rc = fg_sched_view_decode(&r, &wv, &e);
        assert_int_not_equal(rc, 0);
        if (cases[i].code == FG_ERANGE) {
            assert_int_equal(rc, FG_ERANGE);
            assert_string_equal(e.path, cases[i].path);
        }
        fg_sched_wire_view_clear(&wv);
    }
    memcpy(w.p + n_off, &n, 4);
    /* an asset count that does not match the bytes left */
    uint32_t two = 2, three = 3;
    size_t na_off = w.len - 2 * sizeof(struct fg_sched_asset) - 4;
    memcpy(&n, w.p + na_off, 4);
    assert_int_equal(n, two);
    memcpy(w.p + na_off, &three, 4);
    struct fg_sched_rbuf r;
    struct fg_sched_wire_view wv;
    struct fg_error e = {0};
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_view_decode(&r, &wv, &e), FG_EPARSE);
    assert_string_equal(e.path, "/assets");
    assert_non_null(strstr(e.msg, "3 assets claimed"));
    fg_sched_wire_view_clear(&wv);
    fg_sched_wbuf_clear(&w);
}

static void test_result_round_trip_and_refusals(void **state)
{
    (void)state;
    struct fg_sched_setpoint in[3] = {
        {.id = "bat1", .w = -2500, .var = 100, .flags = FG_SCHED_SP_VAR},
        {.id = "ev1", .w = 7400},
        {.id = "pv1", .w = NAN}};
    struct fg_sched_setpoints sp = {.cap = 3, .n = 3, .sp = in};
    snprintf(sp.note, sizeof(sp.note), "hello");
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_result_encode(&w, 0, &sp);
    struct fg_sched_setpoint got[3];
    struct fg_sched_setpoints out = {.cap = 3, .sp = got};
    struct fg_sched_rbuf r;
    struct fg_error e = {0};
    int32_t rc = 7;
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_result_decode(&r, &rc, &out, &e), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(out.n, 3);
    assert_string_equal(got[0].id, "bat1");
    assert_true(got[0].w == -2500 && got[0].var == 100 &&
                got[0].flags == FG_SCHED_SP_VAR);
    assert_true(isnan(got[2].w)); /* decoding keeps it: the guard refuses it */
    assert_string_equal(out.note, "hello");

    /* more set-points than the host has room for */
    out.cap = 2;
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_result_decode(&r, &rc, &out, &e), FG_ERANGE);
    assert_int_equal(out.n, 0);
    assert_non_null(strstr(e.msg, "3 set-points, room for 2"));
    out.cap = 3;

    /* every truncation */
    for (size_t len = 0; len < w.len; len++) {
        fg_sched_rbuf_init(&r, w.p, len);
        assert_int_not_equal(fg_sched_result_decode(&r, &rc, &out, &e), 0);
        assert_int_equal(out.n, 0);
    }
    /* trailing bytes */
    unsigned char *longer = malloc(w.len + 1);
    memcpy(longer, w.p, w.len);
    longer[w.len] = 0;
    fg_sched_rbuf_init(&r, longer, w.len + 1);
    assert_int_equal(fg_sched_result_decode(&r, &rc, &out, &e), FG_EPARSE);
    free(longer);
    /* an id without its NUL */
    memset(w.p + 8, 'x', FG_SCHED_ID_MAX);
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_result_decode(&r, &rc, &out, &e), FG_EPARSE);
    assert_non_null(strstr(e.msg, "not NUL-terminated"));
    fg_sched_wbuf_clear(&w);
}

/* A plan answer: round trip, rows n_isp apart; every truncation; more ISPs,
 * slack or rows than the host asked for; strings without their NUL. */
static void test_plan_round_trip_and_refusals(void **state)
{
    (void)state;
    double w_in[2 * 3] = {1, 2, 3, -4, -5, -6};
    struct fg_sched_slack sl_in[1] = {{.name = "ev_energy:ev1",
                                       .asset = "ev1",
                                       .at = 900,
                                       .amount = 1234.5,
                                       .unit = "Wh"}};
    struct fg_sched_plan in = {.start = 900,
                               .isp_s = 900,
                               .n_isp = 3,
                               .cap_isp = 3,
                               .n_assets = 2,
                               .w = w_in,
                               .expected_cost = 12.5,
                               .cost_energy = 10,
                               .cost_wear = 1,
                               .cost_demand = 0.5,
                               .cost_penalty = 1,
                               .slack_cap = 1,
                               .n_slack = 1,
                               .slack = sl_in};
    snprintf(in.services, sizeof(in.services), "energy_cost");
    struct fg_sched_wbuf w;
    fg_sched_wbuf_init(&w);
    fg_sched_plan_result_encode(&w, 0, &in);
    assert_int_equal(w.len, fg_sched_plan_result_max(2, 3, 1));
    double w_out[2 * 4];
    struct fg_sched_slack sl_out[2];
    struct fg_sched_plan out = {
        .cap_isp = 4, .n_assets = 2, .w = w_out, .slack_cap = 2, .slack = sl_out};
    struct fg_sched_rbuf r;
    struct fg_error e = {0};
    int32_t rc = 7;
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_plan_result_decode(&r, &rc, &out, &e), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(out.n_isp, 3);
    assert_true(out.start == 900 && out.isp_s == 900);
    for (int i = 0; i < 6; i++)
        assert_true(w_out[i] == w_in[i]); /* rows 3 apart, as sent */
    assert_true(out.expected_cost == 12.5 && out.cost_wear == 1 && out.cost_penalty == 1);
    assert_string_equal(out.services, "energy_cost");
    assert_int_equal(out.n_slack, 1);
    assert_string_equal(sl_out[0].name, "ev_energy:ev1");
    assert_string_equal(sl_out[0].unit, "Wh");
    assert_true(sl_out[0].at == 900 && sl_out[0].amount == 1234.5);

    /* the host's room: ISPs, slack, the view's number of assets */
    out.cap_isp = 2;
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_plan_result_decode(&r, &rc, &out, &e), FG_ERANGE);
    assert_non_null(strstr(e.msg, "3 ISPs, room for 2"));
    out.cap_isp = 4;
    out.slack_cap = 0;
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_plan_result_decode(&r, &rc, &out, &e), FG_ERANGE);
    out.slack_cap = 2;
    out.n_assets = 3;
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_plan_result_decode(&r, &rc, &out, &e), FG_ERANGE);
    assert_non_null(strstr(e.msg, "2 asset rows for a view of 3 assets"));
    out.n_assets = 2;

    /* every truncation, and trailing bytes */
    for (size_t len = 0; len < w.len; len++) {
        fg_sched_rbuf_init(&r, w.p, len);
        assert_int_not_equal(fg_sched_plan_result_decode(&r, &rc, &out, &e), 0);
        assert_int_equal(out.n_isp, 0);
    }
    unsigned char *longer = malloc(w.len + 1);
    memcpy(longer, w.p, w.len);
    longer[w.len] = 0;
    fg_sched_rbuf_init(&r, longer, w.len + 1);
    assert_int_equal(fg_sched_plan_result_decode(&r, &rc, &out, &e), FG_EPARSE);
    free(longer);

    /* services without its NUL; a slack unit without its NUL */
    size_t services = 4 + 8 + 4 + 4 + 4 + 6 * 8 + 5 * 8;
    unsigned char *bad = malloc(w.len);
    memcpy(bad, w.p, w.len);
    memset(bad + services, 'x', 128);
    fg_sched_rbuf_init(&r, bad, w.len);
    assert_int_equal(fg_sched_plan_result_decode(&r, &rc, &out, &e), FG_EPARSE);
    assert_non_null(strstr(e.msg, "not NUL-terminated"));
    memcpy(bad, w.p, w.len);
    memset(bad + w.len - 8, 'u', 8);
    fg_sched_rbuf_init(&r, bad, w.len);
    assert_int_equal(fg_sched_plan_result_decode(&r, &rc, &out, &e), FG_EPARSE);
    free(bad);

    /* a plugin claiming more ISPs than its room sends no rows at all */
    fg_sched_wbuf_clear(&w);
    fg_sched_wbuf_init(&w);
    in.cap_isp = 2;
    fg_sched_plan_result_encode(&w, 0, &in);
    fg_sched_rbuf_init(&r, w.p, w.len);
    assert_int_equal(fg_sched_plan_result_decode(&r, &rc, &out, &e), 0);
    assert_int_equal(out.n_isp, 0);
    fg_sched_wbuf_clear(&w);
}

static void test_frames(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fg_sched_frame_write(sv[0], 42, "abc", 3), 0);
    uint32_t type;
    unsigned char *p;
    size_t len;
    struct fg_error e = {0};
    assert_int_equal(
        fg_sched_frame_read(sv[1], fg_mono_ms() + 1000, 16, &type, &p, &len, &e), 0);
    assert_int_equal(type, 42);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "abc", 3);
    free(p);
    /* a frame larger than the reader accepts */
    assert_int_equal(fg_sched_frame_write(sv[0], 1, "0123456789", 10), 0);
    assert_int_equal(
        fg_sched_frame_read(sv[1], fg_mono_ms() + 1000, 4, &type, &p, &len, &e),
        FG_ETOOBIG);
    /* nothing comes: the deadline */
    int sv2[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
    int64_t t0 = fg_mono_ms();
    assert_int_equal(fg_sched_frame_read(sv2[1], t0 + 100, 16, &type, &p, &len, &e),
                     FG_ETIMEOUT);
    assert_true(fg_mono_ms() - t0 >= 100);
    /* the peer goes away in the middle of a frame */
    uint32_t h[2] = {1, 100};
    assert_int_equal(write(sv2[0], h, sizeof(h)), (ssize_t)sizeof(h));
    close(sv2[0]);
    assert_int_equal(
        fg_sched_frame_read(sv2[1], fg_mono_ms() + 1000, 1000, &type, &p, &len, &e),
        FG_EIO);
    assert_non_null(strstr(e.msg, "closed"));
    close(sv2[1]);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_round_trip),
        cmocka_unit_test(test_view_truncated),
        cmocka_unit_test(test_view_lying_lengths),
        cmocka_unit_test(test_result_round_trip_and_refusals),
        cmocka_unit_test(test_plan_round_trip_and_refusals),
        cmocka_unit_test(test_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
