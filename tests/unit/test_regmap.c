/* Register-map files: the shipped maps load, every kind of mistake is
 * reported with its JSON path, and points decode and encode with their
 * types, word / byte orders, scales, "na" values and write limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"
#include "fg_regmap.h"

static int load(struct fg_regmap *m, const char *text, struct fg_errlist *errs)
{
    memset(m, 0, sizeof(*m));
    fg_errlist_init(errs);
    return fg_regmap_load(m, text, strlen(text), errs);
}

static bool has_error(const struct fg_errlist *l, const char *path, const char *needle)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].path, path) && strstr(l->v[i].msg, needle))
            return true;
    for (size_t i = 0; i < l->n; i++)
        fprintf(stderr, "  have %s: %s\n", l->v[i].path, l->v[i].msg);
    return false;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    return buf;
}

static void shipped_maps(void **state)
{
    (void)state;
    const char *files[] = {"conf/devices/generic_battery.json",
                           "conf/devices/victron_gx_system.json"};
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", FG_SOURCE_DIR, files[i]);
        size_t len;
        char *text = slurp(path, &len);
        struct fg_regmap m = {0};
        struct fg_errlist errs;
        fg_errlist_init(&errs);
        int rc = fg_regmap_load(&m, text, len, &errs);
        for (size_t k = 0; k < errs.n; k++)
            fprintf(stderr, "%s: %s: %s\n", files[i], errs.v[k].path, errs.v[k].msg);
        assert_int_equal(rc, 0);
        assert_int_equal(m.kind, FG_REGMAP_BATTERY);
        assert_non_null(fg_regmap_find(&m, "power_w"));
        fg_errlist_clear(&errs);
        fg_regmap_clear(&m);
    }
}

#define HEAD "{\"regmap\":1,\"manufacturer\":\"x\",\"model\":\"y\",\"kind\":\"battery\","

static void errors_named(void **state)
{
    (void)state;
    struct fg_regmap m;
    struct fg_errlist errs;
    const char *bad = HEAD
        "\"colour\":1,\"word_order\":\"middle\",\"points\":["
        "{\"name\":\"soc_pct\",\"address\":0,\"function\":\"holding\",\"type\":\"u24\"},"
        "{\"name\":\"soc_pct\",\"address\":10,\"function\":\"holding\"},"
        "{\"name\":\"power_w\",\"address\":20,\"function\":\"holding\",\"type\":\"i32\"},"
        "{\"name\":\"x_vendor\",\"address\":21,\"function\":\"holding\"},"
        "{\"name\":\"flux_w\",\"address\":30,\"function\":\"holding\"},"
        "{\"name\":\"setpoint_w\",\"address\":40,\"function\":\"holding\"},"
        "{\"name\":\"soh_pct\",\"address\":\"50\",\"function\":\"input\",\"access\":"
        "\"rw\"},"
        "{\"name\":\"temperature_c\",\"address\":60,\"function\":\"holding\",\"unit\":"
        "\"K\"},"
        "{\"name\":\"pv_limit_pct\",\"address\":70,\"function\":\"holding\",\"access\":"
        "\"rw\"},"
        "{\"name\":\"alarm\",\"address\":65535,\"function\":\"holding\",\"type\":\"u32\"}"
        ","
        "{\"name\":\"state\",\"address\":80,\"function\":\"coil\",\"type\":\"u16\"},"
        "{\"name\":\"current_a\",\"address\":90,\"function\":\"holding\",\"scale\":0}"
        "]}";
    assert_int_equal(load(&m, bad, &errs), FG_ECONFIG);
    assert_true(has_error(&errs, "/colour", "unknown key"));
    assert_true(has_error(&errs, "/word_order", "not one of big, little"));
    assert_true(has_error(&errs, "/points/0/type", "\"u24\" is not one of"));
    assert_true(has_error(&errs, "/points/1/name", "already at /points/0"));
    assert_true(has_error(&errs, "/points/3/address", "overlaps /points/2"));
    assert_true(has_error(&errs, "/points/4/name", "not a point name"));
    assert_true(has_error(&errs, "/points/5/access", "is a set-point"));
    assert_true(has_error(&errs, "/points/6/address", "must be a number"));
    assert_true(has_error(&errs, "/points/6/access", "cannot be written"));
    assert_true(has_error(&errs, "/points/7/unit", "counts in \"C\""));
    assert_true(has_error(&errs, "/points/8", "not a point of a battery"));
    assert_true(has_error(&errs, "/points/9", "runs past address 65535"));
    assert_true(has_error(&errs, "/points/10/type", "bits are \"bool\""));
    assert_true(has_error(&errs, "/points/11/scale", "must not be 0"));
    fg_errlist_clear(&errs);
    fg_regmap_clear(&m);

    assert_int_equal(load(&m, "{\"regmap\":1,", &errs), FG_EPARSE);
    fg_errlist_clear(&errs);
    fg_regmap_clear(&m);
    assert_int_equal(load(&m, "{\"points\":[]}", &errs), FG_ECONFIG);
    assert_true(has_error(&errs, "/regmap", "missing"));
    assert_true(has_error(&errs, "/kind", "missing"));
    assert_true(has_error(&errs, "/points", "no points"));
    fg_errlist_clear(&errs);
    fg_regmap_clear(&m);
}

static const char *codec_map = HEAD
    "\"word_order\":\"little\",\"points\":["
    "{\"name\":\"soc_pct\",\"address\":0,\"function\":\"input\",\"scale_exp\":-1,"
    "\"na\":65535},"
    "{\"name\":\"power_w\",\"address\":1,\"function\":\"holding\",\"type\":\"i32\","
    "\"scale\":-1,\"na\":-2147483648},"
    "{\"name\":\"capacity_wh\",\"address\":3,\"function\":\"holding\",\"type\":\"f32\","
    "\"word_order\":\"big\"},"
    "{\"name\":\"x_u64\",\"address\":5,\"function\":\"holding\",\"type\":\"u64\","
    "\"byte_order\":\"little\"},"
    "{\"name\":\"setpoint_w\",\"address\":9,\"function\":\"holding\",\"type\":\"i16\","
    "\"access\":\"rw\",\"scale\":10,\"min\":-5000,\"max\":5000,\"na\":-32768},"
    "{\"name\":\"heartbeat\",\"address\":0,\"function\":\"coil\",\"access\":\"rw\"}"
    "]}";

static void decode_encode(void **state)
{
    (void)state;
    struct fg_regmap m;
    struct fg_errlist errs;
    assert_int_equal(load(&m, codec_map, &errs), 0);
    struct fg_regmap_value v;
    struct fg_error e;
    uint16_t r[4];

    const struct fg_regmap_point *p = fg_regmap_find(&m, "soc_pct");
    r[0] = 655;
    assert_int_equal(fg_regmap_decode(p, r, 1, &v, &e), 0);
    assert_int_equal(v.status, FG_REGMAP_OK);
    assert_true(fabs(v.v - 65.5) < 1e-9);
    r[0] = 65535;
    fg_regmap_decode(p, r, 1, &v, &e);
    assert_int_equal(v.status, FG_REGMAP_NA);
    r[0] = 2000; /* 200 % */
    fg_regmap_decode(p, r, 1, &v, &e);
    assert_int_equal(v.status, FG_REGMAP_IMPLAUSIBLE);
    assert_int_equal(fg_regmap_encode(p, 50, r, &e), FG_EFORBIDDEN);

    /* i32, little word order, scale -1: device counts discharge positive */
    p = fg_regmap_find(&m, "power_w");
    uint16_t pw[2] = {0x86a0, 0x0001}; /* 100000, low word first */
    assert_int_equal(fg_regmap_decode(p, pw, 2, &v, &e), 0);
    assert_true(v.v == -100000);
    assert_int_equal(fg_regmap_decode(p, pw, 1, &v, &e), FG_EINVAL);
    uint16_t pna[2] = {0x0000, 0x8000};
    fg_regmap_decode(p, pna, 2, &v, &e);
    assert_int_equal(v.status, FG_REGMAP_NA);

    p = fg_regmap_find(&m, "capacity_wh");
    uint16_t f[2] = {0x461c, 0x4000}; /* 10000.0f, big word order */
    fg_regmap_decode(p, f, 2, &v, &e);
    assert_true(v.v == 10000);
    uint16_t nan[2] = {0x7fc0, 0};
    fg_regmap_decode(p, nan, 2, &v, &e);
    assert_int_equal(v.status, FG_REGMAP_NA);

    p = fg_regmap_find(&m, "x_u64");
    uint16_t u[4] = {0x0100, 0, 0, 0}; /* bytes swapped, little words: 1 */
    fg_regmap_decode(p, u, 4, &v, &e);
    assert_true(v.raw == 1);
    assert_int_equal(fg_regmap_encode_raw(p, 1, r, &e), 0);
    assert_memory_equal(r, u, sizeof(u));

    p = fg_regmap_find(&m, "setpoint_w");
    assert_int_equal(fg_regmap_encode(p, -2500, r, &e), 0);
    assert_int_equal(r[0], (uint16_t)-250);
    assert_int_equal(fg_regmap_encode(p, 5001, r, &e), FG_ERANGE);
    assert_non_null(strstr(e.msg, "maximum"));
    assert_int_equal(fg_regmap_encode(p, NAN, r, &e), FG_EINVAL);
    p = fg_regmap_find(&m, "heartbeat");
    assert_int_equal(fg_regmap_encode(p, 1, r, &e), 0);
    assert_int_equal(r[0], 1);
    assert_int_equal(fg_regmap_encode(p, 2, r, &e), FG_EINVAL);
    fg_errlist_clear(&errs);
    fg_regmap_clear(&m);
}

static void encode_limits(void **state)
{
    (void)state;
    struct fg_regmap m;
    struct fg_errlist errs;
    assert_int_equal(
        load(&m,
             HEAD "\"points\":[{\"name\":\"setpoint_w\",\"address\":0,\"function\":"
                  "\"holding\",\"type\":\"i16\",\"access\":\"rw\",\"na\":-32768}]}",
             &errs),
        0);
    const struct fg_regmap_point *p = fg_regmap_find(&m, "setpoint_w");
    uint16_t r[4];
    struct fg_error e;
    assert_int_equal(fg_regmap_encode(p, 32767, r, &e), 0);
    assert_int_equal(fg_regmap_encode(p, 32768, r, &e), FG_ERANGE);
    assert_int_equal(fg_regmap_encode(p, -32768, r, &e), FG_ERANGE); /* its na */
    assert_int_equal(fg_regmap_encode(p, -32767.4, r, &e), 0);
    assert_int_equal(r[0], 0x8001);
    fg_errlist_clear(&errs);
    fg_regmap_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_maps),
        cmocka_unit_test(errors_named),
        cmocka_unit_test(decode_encode),
        cmocka_unit_test(encode_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
