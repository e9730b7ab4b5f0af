/* SunSpec decoder: register images built here (discovery at each base, a
 * 1 + 802 + 124 chain, repeating groups of 714 / 705 / 805, the sync groups
 * of 704), every type's "not implemented" sentinel, scale factors (positive,
 * negative, not implemented), broken chains, and set-point encoding with
 * its refusals. */
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
#include "fg_sunspec.h"

#define IMG_MAX 2048

/* ---- building register images ----------------------------------------------- */

struct img {
    uint16_t r[IMG_MAX];
    size_t n;
};

static void img_marker(struct img *im)
{
    im->n = 0;
    im->r[im->n++] = 0x5375;
    im->r[im->n++] = 0x6e53;
}

/* Append model id with length L, every register 0 ("not implemented" for
 * strings and accumulators, a plain 0 for the rest). Returns its offset. */
static size_t img_model(struct img *im, uint16_t id, uint16_t len)
{
    size_t at = im->n;
    assert_true(at + 2 + len <= IMG_MAX);
    im->r[im->n++] = id;
    im->r[im->n++] = len;
    memset(im->r + im->n, 0, len * sizeof(uint16_t));
    im->n += len;
    return at;
}

static void img_end(struct img *im)
{
    im->r[im->n++] = 0xffff;
    im->r[im->n++] = 0;
}

/* Write raw (big-endian over the point's registers) into the model at `at`
 * for a top-level point, or at an explicit offset when off >= 0. */
static void img_set(struct img *im, size_t at, uint16_t id, const char *path,
                    uint64_t raw, long off)
{
    const struct fg_sunspec_point *p = fg_sunspec_lookup(id, path);
    assert_non_null(p);
    size_t o = at + (off >= 0 ? (size_t)off : p->offset);
    for (unsigned k = 0; k < p->size; k++)
        im->r[o + k] = (uint16_t)(raw >> (16 * (p->size - 1 - k)));
}

static void img_str(struct img *im, size_t at, uint16_t id, const char *path,
                    const char *s)
{
    const struct fg_sunspec_point *p = fg_sunspec_lookup(id, path);
    assert_non_null(p);
    assert_int_equal(p->type, FG_SUNSPEC_STRING);
    size_t len = strlen(s);
    for (unsigned k = 0; k < p->size; k++) {
        unsigned char hi = 2 * k < len ? (unsigned char)s[2 * k] : 0;
        unsigned char lo = 2 * k + 1 < len ? (unsigned char)s[2 * k + 1] : 0;
        im->r[at + p->offset + k] = (uint16_t)(hi << 8 | lo);
    }
}

static void bind_at(struct fg_sunspec_model *m, const struct img *im, size_t at)
{
    struct fg_error e;
    fg_error_clear(&e);
    int rc = fg_sunspec_model_bind(m, im->r + at, im->n - at, 40000 + (uint32_t)at, &e);
    if (rc)
        fail_msg("bind: %s", e.msg);
}

static struct fg_sunspec_value get(const struct fg_sunspec_model *m, const char *path,
                                   const uint16_t *idx)
{
    struct fg_sunspec_value v;
    struct fg_error e;
    int rc = fg_sunspec_model_get(m, path, idx, &v, &e);
    if (rc)
        fail_msg("get %s: %s", path, e.msg);
    return v;
}

/* ---- definitions ------------------------------------------------------------ */

static void test_tables(void **state)
{
    (void)state;
    static const uint16_t wanted[] = {1,   101, 102, 103, 111, 112, 113, 124, 201,
                                      202, 203, 204, 701, 702, 704, 713, 714, 802};
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        const struct fg_sunspec_model_def *d = fg_sunspec_model_find(wanted[i]);
        assert_non_null(d);
        assert_int_equal(d->id, wanted[i]);
    }
    assert_null(fg_sunspec_model_find(0));
    assert_null(fg_sunspec_model_find(999));
    for (size_t i = 0; i < fg_sunspec_model_count; i++) {
        const struct fg_sunspec_model_def *d = &fg_sunspec_model_defs[i];
        if (i)
            assert_true(d->id > fg_sunspec_model_defs[i - 1].id);
        assert_string_equal(d->points[0].name, "ID");
        assert_string_equal(d->points[1].name, "L");
        /* Points of a group are contiguous registers. */
        for (uint8_t g = 0; g < d->ngroups; g++) {
            const struct fg_sunspec_group *gr = &d->groups[g];
            unsigned off = 0;
            for (uint16_t k = 0; k < gr->npoints; k++) {
                const struct fg_sunspec_point *p = &d->points[gr->first + k];
                assert_int_equal(p->offset, off);
                assert_int_equal(p->group, g);
                off += p->size;
                if (p->sf != FG_SUNSPEC_NONE)
                    assert_int_equal(d->points[p->sf].type, FG_SUNSPEC_SUNSSF);
            }
            assert_int_equal(gr->len, off);
        }
    }
    /* Values straight from the JSON. */
    const struct fg_sunspec_point *p = fg_sunspec_lookup(124, "InOutWRte_RvrtTms");
    assert_non_null(p);
    assert_int_equal(p->offset, 15);
    assert_int_equal(p->type, FG_SUNSPEC_UINT16);
    assert_true(p->flags & FG_SUNSPEC_RW);
    assert_string_equal(p->units, "Secs");
    p = fg_sunspec_lookup(704, "WSet");
    assert_non_null(p);
    assert_int_equal(p->type, FG_SUNSPEC_INT32);
    assert_int_equal(p->size, 2);
    assert_string_equal(fg_sunspec_model_find(704)->points[p->sf].name, "WSet_SF");
    assert_int_equal(fg_sunspec_model_find(704)->len, 65); /* "L": {"value": 65} */
    assert_int_equal(fg_sunspec_model_find(1)->len, 66);
    p = fg_sunspec_lookup(802, "SoC");
    assert_non_null(p);
    assert_false(p->flags & FG_SUNSPEC_RW);
    assert_true(p->flags & FG_SUNSPEC_MANDATORY);
    assert_non_null(fg_sunspec_lookup(705, "Crv.Pt.V"));
    assert_non_null(fg_sunspec_lookup(704, "PFWInj.PF"));
    assert_null(fg_sunspec_lookup(704, "PF"));
    assert_null(fg_sunspec_lookup(124, "NoSuchPoint"));
    assert_null(fg_sunspec_lookup(999, "ID"));
    p = fg_sunspec_lookup(124, "ChaSt");
    assert_string_equal(fg_sunspec_symbol_name(p, 4), "CHARGING");
    assert_null(fg_sunspec_symbol_name(p, 99));
    p = fg_sunspec_lookup(124, "StorCtl_Mod"); /* bitfield: symbols are bit numbers */
    assert_string_equal(fg_sunspec_symbol_name(p, 1), "DiSCHARGE");
    assert_string_equal(fg_sunspec_type_name(FG_SUNSPEC_BITFIELD32), "bitfield32");
    assert_string_equal(fg_sunspec_type_name(999), "?");
}

/* ---- discovery and chain ---------------------------------------------------- */

static void test_discovery_each_base(void **state)
{
    (void)state;
    static const uint16_t bases[FG_SUNSPEC_NBASES] = FG_SUNSPEC_BASES;
    assert_int_equal(bases[0], 40000);
    assert_int_equal(bases[1], 50000);
    assert_int_equal(bases[2], 0);
    for (int i = 0; i < FG_SUNSPEC_NBASES; i++) {
        struct img im;
        img_marker(&im);
        size_t at = img_model(&im, 1, 66);
        img_str(&im, at, 1, "Mn", "flexgw");
        img_end(&im);
        assert_true(fg_sunspec_is_marker(im.r));
        struct fg_sunspec_chain c;
        struct fg_error e;
        assert_int_equal(fg_sunspec_walk(bases[i], im.r, im.n, &c, &e), 0);
        assert_int_equal(c.n, 1);
        assert_true(c.done);
        assert_int_equal(c.base, bases[i]);
        assert_int_equal(c.models[0].id, 1);
        assert_int_equal(c.models[0].len, 66);
        assert_int_equal(c.models[0].addr, bases[i] + 2u);
        assert_ptr_equal(c.models[0].def, fg_sunspec_model_find(1));
        assert_int_equal(c.next, bases[i] + 2u + 68u);
    }
    /* Not a marker: words swapped, byte order swapped, zeros. */
    static const uint16_t bad[][2] = {{0x6e53, 0x5375}, {0x7553, 0x536e}, {0, 0}};
    for (size_t i = 0; i < 3; i++) {
        struct fg_sunspec_chain c;
        struct fg_error e;
        uint16_t w[6] = {bad[i][0], bad[i][1], 1, 0, 0xffff, 0};
        assert_false(fg_sunspec_is_marker(w));
        assert_int_equal(fg_sunspec_walk(40000, w, 6, &c, &e), FG_ENOTFOUND);
        assert_non_null(strstr(e.msg, "no SunSpec marker at 40000"));
        assert_int_equal(c.n, 0);
    }
}

static void test_chain_1_802_124(void **state)
{
    (void)state;
    struct img im;
    img_marker(&im);
    size_t a1 = img_model(&im, 1, 66);
    img_str(&im, a1, 1, "Mn", "flexgw");
    img_str(&im, a1, 1, "Md", "sim battery 10 kWh");
    img_str(&im, a1, 1, "SN", "SN-0001   "); /* space padded */
    img_set(&im, a1, 1, "DA", 1, -1);
    size_t a802 = img_model(&im, 802, 62);
    img_set(&im, a802, 802, "SoC", 523, -1);
    img_set(&im, a802, 802, "SoC_SF", (uint16_t)-1, -1);
    img_set(&im, a802, 802, "W", (uint16_t)-250, -1);
    img_set(&im, a802, 802, "W_SF", 1, -1);
    img_set(&im, a802, 802, "WHRtg", 1000, -1);
    img_set(&im, a802, 802, "WHRtg_SF", 1, -1);
    img_set(&im, a802, 802, "NCyc", 0x00010002, -1);
    img_set(&im, a802, 802, "Evt1", 0x00000005, -1);
    img_set(&im, a802, 802, "ChaSt", 3, -1);
    size_t a124 = img_model(&im, 124, 24);
    img_set(&im, a124, 124, "WChaMax", 500, -1);
    img_set(&im, a124, 124, "WChaMax_SF", 1, -1);
    img_set(&im, a124, 124, "ChaSt", 4, -1);
    img_set(&im, a124, 124, "InOutWRte_RvrtTms", 0xffff, -1);
    img_end(&im);

    struct fg_sunspec_chain c;
    struct fg_error e;
    assert_int_equal(fg_sunspec_walk(40000, im.r, im.n, &c, &e), 0);
    assert_int_equal(c.n, 3);
    uint16_t ids[] = {1, 802, 124};
    size_t ats[] = {a1, a802, a124};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c.models[i].id, ids[i]);
        assert_int_equal(c.models[i].addr, 40000 + ats[i]);
        assert_non_null(c.models[i].def);
    }

    struct fg_sunspec_model m;
    bind_at(&m, &im, a1);
    assert_string_equal(get(&m, "Mn", NULL).str, "flexgw");
    assert_string_equal(get(&m, "Md", NULL).str, "sim battery 10 kWh");
    assert_string_equal(get(&m, "SN", NULL).str, "SN-0001");
    struct fg_sunspec_value v = get(&m, "Opt", NULL);
    assert_int_equal(v.status, FG_SUNSPEC_NOT_IMPL); /* all zero */
    assert_string_equal(v.str, "");
    v = get(&m, "DA", NULL);
    assert_int_equal(v.status, FG_SUNSPEC_OK);
    assert_int_equal(v.u, 1);

    bind_at(&m, &im, a802);
    v = get(&m, "SoC", NULL);
    assert_int_equal(v.status, FG_SUNSPEC_OK);
    assert_int_equal(v.sf, -1);
    assert_true(fabs(v.v - 52.3) < 1e-9);
    assert_string_equal(v.def->units, "%WHRtg");
    v = get(&m, "W", NULL);
    assert_int_equal(v.i, -250);
    assert_true(v.v == -2500.0);
    assert_true(get(&m, "WHRtg", NULL).v == 10000.0);
    v = get(&m, "NCyc", NULL);
    assert_int_equal(v.u, 0x00010002);
    assert_true(v.v == 65538.0);
    assert_int_equal(get(&m, "Evt1", NULL).u, 5);
    v = get(&m, "ChaSt", NULL);
    assert_string_equal(fg_sunspec_symbol_name(v.def, (uint32_t)v.u), "DISCHARGING");
    /* Not set: enum16 0 is a value, the SoH_SF 0 a plain exponent. */
    assert_int_equal(get(&m, "SoH", NULL).status, FG_SUNSPEC_OK);

    bind_at(&m, &im, a124);
    v = get(&m, "WChaMax", NULL);
    assert_true(v.v == 5000.0);
    assert_int_equal(v.offset, 2);
    assert_int_equal(get(&m, "ChaSt", NULL).u, 4);
    assert_int_equal(get(&m, "InOutWRte_RvrtTms", NULL).status, FG_SUNSPEC_NOT_IMPL);
    assert_int_equal(fg_sunspec_model_get(&m, "SoC", NULL, &v, &e), FG_ENOTFOUND);
    assert_string_equal(e.path, "/124");
}

static void test_chain_steps(void **state)
{
    (void)state;
    struct fg_sunspec_chain c;
    struct fg_error e;
    fg_sunspec_chain_init(&c, 50000);
    assert_int_equal(c.next, 50002);
    assert_int_equal(fg_sunspec_chain_step(&c, 1, 66, &e), 0);
    assert_int_equal(c.next, 50070);
    assert_int_equal(fg_sunspec_chain_step(&c, 64001, 10, &e), 0); /* vendor */
    assert_null(c.models[1].def);
    assert_int_equal(fg_sunspec_chain_step(&c, 802, 62, &e), 0);
    assert_int_equal(fg_sunspec_chain_step(&c, 802, 62, &e), 0); /* repeated id */
    assert_int_equal(fg_sunspec_chain_step(&c, 0xffff, 0, &e), 1);
    assert_true(c.done);
    assert_int_equal(c.n, 4);
    assert_int_equal(fg_sunspec_chain_step(&c, 1, 66, &e), FG_ESTATE);

    /* Absurd length: past the 16-bit address space. */
    fg_sunspec_chain_init(&c, 60000);
    assert_int_equal(fg_sunspec_chain_step(&c, 802, 6000, &e), FG_ERANGE);
    assert_non_null(strstr(e.msg, "model 802 at address 60002"));
    assert_non_null(strstr(e.msg, "65535"));
    assert_int_equal(c.n, 0);
}

struct broken {
    const char *what;
    uint16_t regs[24];
    size_t n;
    int rc;
    size_t models; /* found before the fault */
    const char *msg;
};

static void test_broken_chains(void **state)
{
    (void)state;
    static const struct broken cases[] = {
        {"length past the window",
         {0x5375, 0x6e53, 1, 4, 0, 0, 0, 0, 802, 62, 0, 0},
         12,
         FG_ERANGE,
         1,
         "model 802 at address 40008: length 62 runs past the registers read"},
        {"no end marker",
         {0x5375, 0x6e53, 1, 2, 0, 0, 124, 1, 0},
         9,
         FG_EMISSING,
         2,
         "no end marker"},
        {"header cut in half",
         {0x5375, 0x6e53, 1, 2, 0, 0, 124},
         7,
         FG_EMISSING,
         1,
         "next header at 40006"},
        {"model id 0",
         {0x5375, 0x6e53, 1, 2, 0, 0, 0, 0, 0, 0},
         10,
         FG_EPARSE,
         1,
         "model id 0 at address 40006"},
        {"marker only", {0x5375, 0x6e53}, 2, FG_EMISSING, 0, "no end marker"},
        {"short window", {0x5375}, 1, FG_ENOTFOUND, 0, "no SunSpec marker"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct broken *b = &cases[i];
        struct fg_sunspec_chain c;
        struct fg_error e;
        fg_error_clear(&e);
        int rc = fg_sunspec_walk(40000, b->regs, b->n, &c, &e);
        if (rc != b->rc || c.n != b->models || !strstr(e.msg, b->msg))
            fail_msg("%s: rc %s, %zu models, \"%s\"", b->what, fg_errname(rc), c.n,
                     e.msg);
        assert_false(c.done);
    }

    /* The end id alone in the last register read still ends the chain. */
    uint16_t tail[] = {0x5375, 0x6e53, 1, 0, 0xffff};
    struct fg_sunspec_chain c;
    struct fg_error e;
    assert_int_equal(fg_sunspec_walk(0, tail, 5, &c, &e), 0);
    assert_int_equal(c.n, 1);

    /* Zero-length models forever (a device answering every read with the
     * same header): bounded by FG_SUNSPEC_MAX_MODELS. */
    uint16_t loop[2 + 2 * 100];
    loop[0] = 0x5375;
    loop[1] = 0x6e53;
    for (int i = 0; i < 100; i++) {
        loop[2 + 2 * i] = 1;
        loop[3 + 2 * i] = 0;
    }
    assert_int_equal(fg_sunspec_walk(40000, loop, 202, &c, &e), FG_ETOOBIG);
    assert_int_equal(c.n, FG_SUNSPEC_MAX_MODELS);
    assert_non_null(strstr(e.msg, "a loop?"));
}

/* ---- every type's sentinel -------------------------------------------------- */

/* A model of one point per type (the official models do not use them all),
 * with a scale factor on the integers. */
static const struct fg_sunspec_point all_points[] = {
    {"ID", "ID", "", 0, 1, FG_SUNSPEC_UINT16, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"L", "L", "", 1, 1, FG_SUNSPEC_UINT16, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"SF", "SF", "", 2, 1, FG_SUNSPEC_SUNSSF, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"i16", "i16", "W", 3, 1, FG_SUNSPEC_INT16, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"u16", "u16", "W", 4, 1, FG_SUNSPEC_UINT16, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"cnt", "cnt", "", 5, 1, FG_SUNSPEC_COUNT, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"a16", "a16", "Wh", 6, 1, FG_SUNSPEC_ACC16, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"e16", "e16", "", 7, 1, FG_SUNSPEC_ENUM16, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"b16", "b16", "", 8, 1, FG_SUNSPEC_BITFIELD16, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0,
     0},
    {"pad", "pad", "", 9, 1, FG_SUNSPEC_PAD, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"i32", "i32", "W", 10, 2, FG_SUNSPEC_INT32, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"u32", "u32", "W", 12, 2, FG_SUNSPEC_UINT32, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"a32", "a32", "Wh", 14, 2, FG_SUNSPEC_ACC32, 0, 0, 2, 0, 0},
    {"e32", "e32", "", 16, 2, FG_SUNSPEC_ENUM32, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"b32", "b32", "", 18, 2, FG_SUNSPEC_BITFIELD32, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0,
     0},
    {"ip", "ip", "", 20, 2, FG_SUNSPEC_IPADDR, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"f32", "f32", "W", 22, 2, FG_SUNSPEC_FLOAT32, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0,
     0},
    {"i64", "i64", "", 24, 4, FG_SUNSPEC_INT64, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"u64", "u64", "", 28, 4, FG_SUNSPEC_UINT64, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"a64", "a64", "Wh", 32, 4, FG_SUNSPEC_ACC64, 0, 0, 2, 0, 0},
    {"f64", "f64", "", 36, 4, FG_SUNSPEC_FLOAT64, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0,
     0},
    {"eui", "eui", "", 40, 4, FG_SUNSPEC_EUI48, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"ip6", "ip6", "", 44, 8, FG_SUNSPEC_IPV6ADDR, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"str", "str", "", 52, 4, FG_SUNSPEC_STRING, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
};
#define ALL_N (sizeof(all_points) / sizeof(all_points[0]))
static const struct fg_sunspec_group all_group[] = {
    {"all", "", FG_SUNSPEC_NOGROUP, 0, FG_SUNSPEC_COUNT_FIXED, 1, 0, ALL_N, 56}};
static const struct fg_sunspec_model_def all_def = {64999,     "all", "All types", 54,
                                                    all_group, 1,     all_points,  ALL_N};

struct sentinel {
    const char *path;
    uint16_t regs[8];
};

static const struct sentinel sentinels[] = {
    {"i16", {0x8000}},
    {"u16", {0xffff}},
    {"cnt", {0xffff}},
    {"a16", {0}},
    {"e16", {0xffff}},
    {"b16", {0xffff}},
    {"i32", {0x8000, 0}},
    {"u32", {0xffff, 0xffff}},
    {"a32", {0, 0}},
    {"e32", {0xffff, 0xffff}},
    {"b32", {0xffff, 0xffff}},
    {"ip", {0, 0}},
    {"f32", {0x7fc0, 0}},
    {"f32", {0xffc0, 0x0001}}, /* any NaN */
    {"i64", {0x8000, 0, 0, 0}},
    {"u64", {0xffff, 0xffff, 0xffff, 0xffff}},
    {"a64", {0, 0, 0, 0}},
    {"f64", {0x7ff8, 0, 0, 0}},
    {"eui", {0, 0xffff, 0xffff, 0xffff}},
    {"ip6", {0, 0, 0, 0, 0, 0, 0, 0}},
    {"str", {0, 0x4142, 0, 0}}, /* first byte NUL */
    {"SF", {0x8000}},
};

/* Ordinary values of each type, with SF = -1. */
struct plain {
    const char *path;
    uint16_t regs[8];
    double v;
    const char *str;
};

static const struct plain plains[] = {
    {"i16", {0x8001}, -3276.7, NULL},
    {"u16", {0xfffe}, 6553.4, NULL},
    {"cnt", {7}, 7, NULL},
    {"a16", {1}, 0.1, NULL},
    {"e16", {0}, 0, NULL},
    {"b16", {0x8001}, 32769, NULL},
    {"pad", {0x8000}, 32768, NULL},
    {"i32", {0xffff, 0xfff6}, -1.0, NULL},
    {"u32", {0x0001, 0x0000}, 6553.6, NULL},
    {"a32", {0xffff, 0xffff}, 429496729.5, NULL},
    {"ip", {0xc0a8, 0x0102}, 3232235778.0, "192.168.1.2"},
    {"f32", {0x4049, 0x0fdb}, 3.1415927410125732, NULL},
    {"f32", {0x7f80, 0x0000}, INFINITY, NULL},
    {"i64", {0xffff, 0xffff, 0xffff, 0xfffe}, -2, NULL},
    {"u64", {0, 0, 1, 0}, 65536, NULL},
    {"f64", {0xc000, 0, 0, 0}, -2, NULL},
    {"eui", {0, 0x0002, 0xb3ff, 0xfe01}, 0x0002b3fffe01, "00:02:B3:FF:FE:01"},
    {"ip6",
     {0x2001, 0x0db8, 0, 0, 0, 0, 0, 1},
     0,
     "2001:0db8:0000:0000:0000:0000:0000:0001"},
    {"str", {0x4142, 0x4300, 0, 0}, 0, "ABC"},
    {"str", {0x41c3, 0xa942, 0x0a43, 0x4420}, 0, "A??B?CD"},
};

static void all_image(uint16_t *r, int16_t sf)
{
    memset(r, 0, 56 * sizeof(*r));
    r[0] = 64999;
    r[1] = 54;
    r[2] = (uint16_t)sf;
}

static void put(uint16_t *r, const char *path, const uint16_t *regs)
{
    const struct fg_sunspec_point *p = fg_sunspec_point_find(&all_def, path);
    assert_non_null(p);
    memcpy(r + p->offset, regs, p->size * sizeof(*r));
}

static void test_sentinels(void **state)
{
    (void)state;
    uint16_t r[56];
    struct fg_sunspec_model m;
    struct fg_sunspec_value v;
    struct fg_error e;
    for (size_t i = 0; i < sizeof(sentinels) / sizeof(sentinels[0]); i++) {
        all_image(r, -1);
        put(r, sentinels[i].path, sentinels[i].regs);
        assert_int_equal(fg_sunspec_model_bind_def(&m, &all_def, r, 56, 0, &e), 0);
        assert_int_equal(fg_sunspec_model_get(&m, sentinels[i].path, NULL, &v, &e), 0);
        if (v.status != FG_SUNSPEC_NOT_IMPL || v.v != 0)
            fail_msg("%s: status %d, v %g", sentinels[i].path, v.status, v.v);
    }
    for (size_t i = 0; i < sizeof(plains) / sizeof(plains[0]); i++) {
        const struct plain *pl = &plains[i];
        all_image(r, -1);
        put(r, pl->path, pl->regs);
        assert_int_equal(fg_sunspec_model_bind_def(&m, &all_def, r, 56, 0, &e), 0);
        assert_int_equal(fg_sunspec_model_get(&m, pl->path, NULL, &v, &e), 0);
        if (v.status != FG_SUNSPEC_OK)
            fail_msg("%s #%zu: status %d", pl->path, i, v.status);
        if (pl->str)
            assert_string_equal(v.str, pl->str);
        else if (!(v.v == pl->v || fabs(v.v - pl->v) < 1e-9 * fabs(pl->v)))
            fail_msg("%s #%zu: %.17g, want %.17g", pl->path, i, v.v, pl->v);
    }
    /* Raw views. */
    all_image(r, 0);
    put(r, "i32", (uint16_t[]){0xffff, 0xfff6});
    put(r, "u64", (uint16_t[]){0xffff, 0xffff, 0xffff, 0xfffe});
    assert_int_equal(fg_sunspec_model_bind_def(&m, &all_def, r, 56, 0, &e), 0);
    assert_int_equal(get(&m, "i32", NULL).i, -10);
    assert_true(get(&m, "u64", NULL).u == 0xfffffffffffffffeull);
    /* A model with another ID does not bind to this definition. */
    r[0] = 1;
    assert_int_equal(fg_sunspec_model_bind_def(&m, &all_def, r, 56, 0, &e), FG_EINVAL);
}

/* ---- scale factors ---------------------------------------------------------- */

static void test_scale_factors(void **state)
{
    (void)state;
    struct img im;
    im.n = 0;
    size_t at = img_model(&im, 802, 62);
    img_set(&im, at, 802, "W", 1234, -1);
    struct {
        uint16_t sf;
        int status;
        double v;
    } cases[] = {
        {0, FG_SUNSPEC_OK, 1234},
        {2, FG_SUNSPEC_OK, 123400},
        {10, FG_SUNSPEC_OK, 1234e10},
        {(uint16_t)-2, FG_SUNSPEC_OK, 12.34},
        {(uint16_t)-10, FG_SUNSPEC_OK, 1234e-10},
        {0x8000, FG_SUNSPEC_NO_SF, 0}, /* scale factor not implemented */
        {11, FG_SUNSPEC_NO_SF, 0},     /* outside [-10, 10] */
        {(uint16_t)-11, FG_SUNSPEC_NO_SF, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        img_set(&im, at, 802, "W_SF", cases[i].sf, -1);
        struct fg_sunspec_model m;
        bind_at(&m, &im, at);
        struct fg_sunspec_value v = get(&m, "W", NULL);
        assert_int_equal(v.status, cases[i].status);
        assert_int_equal(v.i, 1234); /* the raw value stays readable */
        if (fabs(v.v - cases[i].v) > 1e-12 * fabs(cases[i].v))
            fail_msg("sf %d: %.17g, want %.17g", (int16_t)cases[i].sf, v.v, cases[i].v);
    }
    /* The value's own sentinel wins over a missing scale factor. */
    img_set(&im, at, 802, "W", 0x8000, -1);
    struct fg_sunspec_model m;
    bind_at(&m, &im, at);
    assert_int_equal(get(&m, "W", NULL).status, FG_SUNSPEC_NOT_IMPL);
    /* A scale factor point decodes as itself. */
    img_set(&im, at, 802, "W_SF", 0x8000, -1);
    bind_at(&m, &im, at);
    struct fg_sunspec_value v = get(&m, "W_SF", NULL);
    assert_int_equal(v.status, FG_SUNSPEC_NOT_IMPL);
}

/* ---- groups ----------------------------------------------------------------- */

struct visit_ctx {
    unsigned n;
    uint32_t last;
    int ordered;
    unsigned absent;
};

static int count_visit(void *ctx, const struct fg_sunspec_value *v)
{
    struct visit_ctx *c = ctx;
    if (c->n && v->offset < c->last)
        c->ordered = 0;
    c->last = v->offset;
    c->absent += v->status == FG_SUNSPEC_ABSENT;
    c->n++;
    return 0;
}

static void test_repeating_groups(void **state)
{
    (void)state;
    struct img im;
    struct fg_sunspec_model m;
    struct fg_error e;

    /* 714: NPrt ports of 25 registers after 18 fixed ones. */
    im.n = 0;
    size_t at = img_model(&im, 714, 18 + 2 * 25);
    img_set(&im, at, 714, "NPrt", 2, -1);
    img_set(&im, at, 714, "DCW_SF", 1, -1);
    img_set(&im, at, 714, "Prt.DCW", 321, 20 + 25 + 12); /* Prt[1].DCW */
    im.r[at + 20 + 25 + 2] = 0x5056;                     /* Prt[1].IDStr "PV2" */
    im.r[at + 20 + 25 + 3] = 0x3200;
    bind_at(&m, &im, at);
    assert_int_equal(m.count[1], 2);
    assert_int_equal(m.inst_len[1], 25);
    struct fg_sunspec_value v = get(&m, "Prt.DCW", (uint16_t[]){1});
    assert_int_equal(v.offset, 20 + 25 + 12);
    assert_int_equal(v.depth, 1);
    assert_int_equal(v.idx[0], 1);
    assert_true(v.v == 3210.0);
    assert_string_equal(get(&m, "Prt.IDStr", (uint16_t[]){1}).str, "PV2");
    assert_int_equal(fg_sunspec_model_get(&m, "Prt.DCW", (uint16_t[]){2}, &v, &e),
                     FG_ERANGE);
    assert_non_null(strstr(e.msg, "instance 2 of group Prt, which has 2"));
    struct visit_ctx vc = {0, 0, 1, 0};
    assert_int_equal(fg_sunspec_model_foreach(&m, count_visit, &vc), 0);
    assert_int_equal(vc.n, 13 + 2 * 11);
    assert_true(vc.ordered);
    assert_int_equal(vc.absent, 0);

    /* ... and a count the model length cannot hold. */
    img_set(&im, at, 714, "NPrt", 3, -1);
    assert_int_equal(fg_sunspec_model_bind(&m, im.r + at, im.n - at, 40100, &e),
                     FG_ERANGE);
    assert_non_null(strstr(e.msg, "model 714 at 40100"));
    assert_non_null(strstr(e.msg, "group Prt: NPrt = 3 instances of 25 registers"));
    assert_string_equal(e.path, "/714");

    /* 705: curves of points, both counted by top-level points. */
    im.n = 0;
    at = img_model(&im, 705, 13 + 2 * (10 + 3 * 2));
    img_set(&im, at, 705, "NCrv", 2, -1);
    img_set(&im, at, 705, "NPt", 3, -1);
    img_set(&im, at, 705, "V_SF", (uint16_t)-1, -1);
    img_set(&im, at, 705, "Crv.Pt.V", 1070, 15 + 16 + 10 + 2 * 2);
    bind_at(&m, &im, at);
    v = get(&m, "Crv.Pt.V", (uint16_t[]){1, 2});
    assert_int_equal(v.offset, 15 + 16 + 10 + 4);
    assert_int_equal(v.depth, 2);
    assert_true(fabs(v.v - 107.0) < 1e-9);
    vc = (struct visit_ctx){0, 0, 1, 0};
    assert_int_equal(fg_sunspec_model_foreach(&m, count_visit, &vc), 0);
    assert_int_equal(vc.n, 13 + 2 * (9 + 3 * 2));
    assert_true(vc.ordered);

    /* 805: cells fill the rest of the model. */
    im.n = 0;
    at = img_model(&im, 805, 42 + 3 * 4);
    bind_at(&m, &im, at);
    assert_int_equal(m.count[1], 3);
    at = img_model(&im, 805, 42 + 5);
    assert_int_equal(fg_sunspec_model_bind(&m, im.r + at, im.n - at, 0, &e), FG_ERANGE);
    assert_non_null(strstr(e.msg, "lithium-ion-module-cell"));

    /* 704: sync groups are single instances. */
    im.n = 0;
    at = img_model(&im, 704, 65);
    img_set(&im, at, 704, "PF_SF", (uint16_t)-3, -1);
    img_set(&im, at, 704, "PFWAbs.PF", 950, 59 + 4); /* after 59 top-level registers */
    bind_at(&m, &im, at);
    v = get(&m, "PFWAbs.PF", NULL);
    assert_int_equal(v.offset, 63);
    assert_true(fabs(v.v - 0.95) < 1e-12);
}

static void test_short_model(void **state)
{
    (void)state;
    /* Model 1 of older devices has L = 65 (no Pad). */
    struct img im;
    im.n = 0;
    size_t at = img_model(&im, 1, 65);
    img_set(&im, at, 1, "DA", 7, -1);
    struct fg_sunspec_model m;
    bind_at(&m, &im, at);
    assert_int_equal(get(&m, "DA", NULL).u, 7);
    assert_int_equal(get(&m, "Pad", NULL).status, FG_SUNSPEC_ABSENT);
    struct visit_ctx vc = {0, 0, 1, 0};
    fg_sunspec_model_foreach(&m, count_visit, &vc);
    assert_int_equal(vc.n, 9);
    assert_int_equal(vc.absent, 1);

    /* Fewer registers given than L announces. */
    struct fg_error e;
    assert_int_equal(fg_sunspec_model_bind(&m, im.r + at, 40, 40002, &e), FG_ERANGE);
    assert_non_null(strstr(e.msg, "L = 65 but only 40 registers"));
    uint16_t vendor[] = {64001, 0};
    assert_int_equal(fg_sunspec_model_bind(&m, vendor, 2, 40002, &e), FG_ENOTFOUND);
}

/* ---- encoding --------------------------------------------------------------- */

static void test_encode(void **state)
{
    (void)state;
    struct img im;
    im.n = 0;
    size_t a124 = img_model(&im, 124, 24);
    img_set(&im, a124, 124, "WChaMax_SF", 1, -1);
    img_set(&im, a124, 124, "InOutWRte_SF", (uint16_t)-2, -1);
    img_set(&im, a124, 124, "MinRsvPct_SF", 0x8000, -1);
    size_t a704 = img_model(&im, 704, 65);
    img_set(&im, a704, 704, "WSet_SF", 0, -1);
    img_set(&im, a704, 704, "PF_SF", (uint16_t)-3, -1);
    struct fg_sunspec_model m124, m704;
    bind_at(&m124, &im, a124);
    bind_at(&m704, &im, a704);
    struct fg_sunspec_write w;
    struct fg_error e;

    /* Round trips: encode, write into the image, decode again. */
    struct {
        struct fg_sunspec_model *m;
        const char *path;
        double value, back;
        uint16_t n, r0, r1;
    } ok[] = {
        {&m124, "WChaMax", 5000, 5000, 1, 500, 0},
        {&m124, "WChaMax", 5004, 5000, 1, 500, 0}, /* to the resolution */
        {&m124, "WChaMax", 5005, 5010, 1, 501, 0}, /* half away from zero */
        {&m124, "InWRte", -12.34, -12.34, 1, (uint16_t)-1234, 0},
        {&m124, "InOutWRte_RvrtTms", 900, 900, 1, 900, 0},
        {&m124, "ChaGriSet", 1, 1, 1, 1, 0},
        {&m124, "StorCtl_Mod", 3, 3, 1, 3, 0},
        {&m704, "WSet", -3000, -3000, 2, 0xffff, 0xf448},
        {&m704, "WSetRvrtTms", 600, 600, 2, 0, 600},
        {&m704, "WSet", 2147483647, 2147483647, 2, 0x7fff, 0xffff},
        {&m704, "PFWInj.PF", 0.95, 0.95, 1, 950, 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const struct fg_sunspec_point *p =
            fg_sunspec_point_find(ok[i].m->def, ok[i].path);
        int rc = fg_sunspec_encode(ok[i].m, p, NULL, ok[i].value, &w, &e);
        if (rc)
            fail_msg("%s: %s", ok[i].path, e.msg);
        assert_int_equal(w.n, ok[i].n);
        assert_int_equal(w.regs[0], ok[i].r0);
        if (w.n > 1)
            assert_int_equal(w.regs[1], ok[i].r1);
        size_t at = ok[i].m == &m124 ? a124 : a704;
        memcpy(im.r + at + w.offset, w.regs, w.n * sizeof(uint16_t));
        struct fg_sunspec_value v = get(ok[i].m, ok[i].path, NULL);
        assert_int_equal(v.offset, w.offset);
        if (v.status != FG_SUNSPEC_OK || fabs(v.v - ok[i].back) > 1e-9)
            fail_msg("%s: read back %g (status %d), want %g", ok[i].path, v.v, v.status,
                     ok[i].back);
    }
    assert_int_equal(fg_sunspec_encode(&m704, fg_sunspec_lookup(704, "PFWAbsRvrt.Ext"),
                                       NULL, 1, &w, &e),
                     0);
    assert_int_equal(w.offset, 66);

    /* Refusals, each naming model, point and offset. */
    struct {
        struct fg_sunspec_model *m;
        const char *path;
        double value;
        int rc;
        const char *msg;
    } bad[] = {
        {&m124, "ChaState", 50, FG_EFORBIDDEN,
         "point ChaState (uint16, offset 8): read-only"},
        {&m124, "WChaMax_SF", 1, FG_EFORBIDDEN, "read-only"},
        {&m124, "WChaMax", 700000, FG_ERANGE, "outside uint16's [0, 65534]"},
        {&m124, "WChaMax", 655350, FG_ERANGE, "65535"}, /* the sentinel */
        {&m124, "WChaMax", -10, FG_ERANGE, "outside uint16's"},
        {&m124, "InWRte", -327.68, FG_ERANGE, "-32768"},
        {&m124, "InWRte", 327.68, FG_ERANGE, "int16"},
        {&m124, "WChaMax", NAN, FG_EINVAL, "not a finite number"},
        {&m124, "WChaMax", INFINITY, FG_EINVAL, "not a finite number"},
        {&m124, "MinRsvPct", 10, FG_ESTATE, "scale factor MinRsvPct_SF not implemented"},
        {&m124, "ChaGriSet", 0.5, FG_EINVAL, "not a whole number"},
        {&m124, "ChaGriSet", 65535, FG_ERANGE, "enum16"},
        {&m704, "WSet", 2147483648.0, FG_ERANGE, "int32"},
        {&m704, "WSet", -2147483648.0, FG_ERANGE, "int32"},
        {&m704, "WSetRvrtTms", 4294967295.0, FG_ERANGE, "uint32"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct fg_sunspec_point *p =
            fg_sunspec_point_find(bad[i].m->def, bad[i].path);
        assert_non_null(p);
        fg_error_clear(&e);
        int rc = fg_sunspec_encode(bad[i].m, p, NULL, bad[i].value, &w, &e);
        if (rc != bad[i].rc || !strstr(e.msg, bad[i].msg) || !strstr(e.msg, "model"))
            fail_msg("%s %g: %s \"%s\"", bad[i].path, bad[i].value, fg_errname(rc),
                     e.msg);
        char path[64];
        snprintf(path, sizeof(path), "/%u/%s", bad[i].m->def->id, bad[i].path);
        assert_string_equal(e.path, path);
    }
    /* A point of another model. */
    assert_int_equal(
        fg_sunspec_encode(&m124, fg_sunspec_lookup(704, "WSet"), NULL, 1, &w, &e),
        FG_EINVAL);

    /* Types that carry no number, with an explicit exponent. */
    static const char *const unsupported[] = {"str", "pad", "ip", "eui"};
    for (size_t i = 0; i < 4; i++) {
        const struct fg_sunspec_point *p =
            fg_sunspec_point_find(&all_def, unsupported[i]);
        assert_int_equal(fg_sunspec_encode_raw(p, 0, 1, &w, &e), FG_EUNSUPPORTED);
    }
    const struct fg_sunspec_point *p = fg_sunspec_point_find(&all_def, "f32");
    assert_int_equal(fg_sunspec_encode_raw(p, 0, 1.5, &w, &e), 0);
    assert_int_equal(w.regs[0], 0x3fc0);
    assert_int_equal(fg_sunspec_encode_raw(p, 0, 1e39, &w, &e), FG_ERANGE);
    p = fg_sunspec_point_find(&all_def, "i64");
    assert_int_equal(fg_sunspec_encode_raw(p, 0, -9223372036854775808.0, &w, &e),
                     FG_ERANGE);
    assert_int_equal(fg_sunspec_encode_raw(p, 0, -2, &w, &e), 0);
    assert_int_equal(w.regs[3], 0xfffe);
    assert_int_equal(w.regs[0], 0xffff);
    p = fg_sunspec_point_find(&all_def, "i16");
    assert_int_equal(fg_sunspec_encode_raw(p, 3, 25000, &w, &e), 0);
    assert_int_equal(w.regs[0], 25);
    assert_int_equal(fg_sunspec_encode_raw(p, 11, 1, &w, &e), FG_ESTATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_discovery_each_base),
        cmocka_unit_test(test_chain_1_802_124),
        cmocka_unit_test(test_chain_steps),
        cmocka_unit_test(test_broken_chains),
        cmocka_unit_test(test_sentinels),
        cmocka_unit_test(test_scale_factors),
        cmocka_unit_test(test_repeating_groups),
        cmocka_unit_test(test_short_model),
        cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
