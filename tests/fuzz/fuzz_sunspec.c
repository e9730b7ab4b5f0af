/* libFuzzer target for the SunSpec decoder. Input: one byte choosing the
 * base address (40000, 50000, 0), then big-endian registers read there
 * (the "SunS" marker first). The window is walked as one read and again
 * header by header (both must agree); every model found is bound and every
 * point instance decoded. Checks: a value is a number only with status OK,
 * strings are terminated, offsets stay inside the model, and every writable
 * point of up to 32 bits read as OK encodes back to the very registers it
 * was read from. The same registers are also bound to a local model that
 * has one point of every type and nested counted groups. Crashes, leaks and
 * mismatches are findings. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"
#include "fg_sunspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WINDOW_MAX 4096

/* Every type once; G counted by N with a nested fixed group H, scale
 * factors from the top-level group and from G itself. */
static const struct fg_sunspec_point all_points[] = {
    {"ID", "ID", "", 0, 1, FG_SUNSPEC_UINT16, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"L", "L", "", 1, 1, FG_SUNSPEC_UINT16, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"SF", "SF", "", 2, 1, FG_SUNSPEC_SUNSSF, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"N", "N", "", 3, 1, FG_SUNSPEC_UINT16, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"i16", "i16", "", 4, 1, FG_SUNSPEC_INT16, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"u16", "u16", "", 5, 1, FG_SUNSPEC_UINT16, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"cnt", "cnt", "", 6, 1, FG_SUNSPEC_COUNT, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"a16", "a16", "", 7, 1, FG_SUNSPEC_ACC16, 0, 0, 2, 0, 0},
    {"e16", "e16", "", 8, 1, FG_SUNSPEC_ENUM16, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"b16", "b16", "", 9, 1, FG_SUNSPEC_BITFIELD16, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0,
     0},
    {"pad", "pad", "", 10, 1, FG_SUNSPEC_PAD, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"i32", "i32", "", 11, 2, FG_SUNSPEC_INT32, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"u32", "u32", "", 13, 2, FG_SUNSPEC_UINT32, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"a32", "a32", "", 15, 2, FG_SUNSPEC_ACC32, 0, 0, 2, 0, 0},
    {"e32", "e32", "", 17, 2, FG_SUNSPEC_ENUM32, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0, 0},
    {"b32", "b32", "", 19, 2, FG_SUNSPEC_BITFIELD32, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0,
     0},
    {"ip", "ip", "", 21, 2, FG_SUNSPEC_IPADDR, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"f32", "f32", "", 23, 2, FG_SUNSPEC_FLOAT32, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0,
     0},
    {"i64", "i64", "", 25, 4, FG_SUNSPEC_INT64, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"u64", "u64", "", 29, 4, FG_SUNSPEC_UINT64, FG_SUNSPEC_RW, 0, 2, 0, 0},
    {"a64", "a64", "", 33, 4, FG_SUNSPEC_ACC64, 0, 0, 2, 0, 0},
    {"f64", "f64", "", 37, 4, FG_SUNSPEC_FLOAT64, FG_SUNSPEC_RW, 0, FG_SUNSPEC_NONE, 0,
     0},
    {"eui", "eui", "", 41, 4, FG_SUNSPEC_EUI48, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"ip6", "ip6", "", 45, 8, FG_SUNSPEC_IPV6ADDR, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    {"str", "str", "", 53, 32, FG_SUNSPEC_STRING, 0, 0, FG_SUNSPEC_NONE, 0, 0},
    /* group 1: G */
    {"GSF", "G.GSF", "", 0, 1, FG_SUNSPEC_SUNSSF, 0, 1, FG_SUNSPEC_NONE, 0, 0},
    {"x", "G.x", "", 1, 1, FG_SUNSPEC_INT16, FG_SUNSPEC_RW, 1, 25, 0, 0},
    {"y", "G.y", "", 2, 2, FG_SUNSPEC_UINT32, FG_SUNSPEC_RW, 1, 2, 0, 0},
    /* group 2: G.H */
    {"z", "G.H.z", "", 0, 1, FG_SUNSPEC_UINT16, FG_SUNSPEC_RW, 2, 25, 0, 0},
};
#define ALL_N (sizeof(all_points) / sizeof(all_points[0]))
static const struct fg_sunspec_group all_groups[] = {
    {"all", "", FG_SUNSPEC_NOGROUP, 0, FG_SUNSPEC_COUNT_FIXED, 1, 0, 25, 85},
    {"G", "G", 0, 1, FG_SUNSPEC_COUNT_POINT, 3, 25, 3, 4},
    {"H", "G.H", 1, 2, FG_SUNSPEC_COUNT_FIXED, 2, 28, 1, 1},
};
static const struct fg_sunspec_model_def all_def = {
    64999, "all", "All types", 83, all_groups, 3, all_points, ALL_N};

static int is_numeric(int type)
{
    switch (type) {
    case FG_SUNSPEC_STRING:
    case FG_SUNSPEC_IPV6ADDR:
    case FG_SUNSPEC_EUI48:
        return 0;
    }
    return 1;
}

static int check_value(void *ctx, const struct fg_sunspec_value *v)
{
    const struct fg_sunspec_model *m = ctx;
    const struct fg_sunspec_point *p = v->def;
    if (v->str[FG_SUNSPEC_STR_MAX] != '\0' || strlen(v->str) > FG_SUNSPEC_STR_MAX)
        abort();
    if (v->status == FG_SUNSPEC_ABSENT)
        return 0;
    if ((uint64_t)v->offset + p->size > m->nregs)
        abort();
    if (v->status != FG_SUNSPEC_OK) {
        if (v->v != 0)
            abort();
        return 0;
    }
    if (!(p->flags & FG_SUNSPEC_RW) || !is_numeric(p->type) || p->size > 2 ||
        !isfinite(v->v))
        return 0;
    /* Read OK and writable: encoding the value gives back its registers. */
    struct fg_sunspec_write w;
    struct fg_error e;
    if (fg_sunspec_encode(m, p, v->idx, v->v, &w, &e) || w.offset != v->offset ||
        w.n != p->size || memcmp(w.regs, m->regs + v->offset, w.n * sizeof(uint16_t)))
        abort();
    return 0;
}

static void decode_model(const struct fg_sunspec_model_def *def, const uint16_t *regs,
                         size_t n, uint32_t addr)
{
    struct fg_sunspec_model m;
    struct fg_error e;
    int rc = def ? fg_sunspec_model_bind_def(&m, def, regs, n, addr, &e)
                 : fg_sunspec_model_bind(&m, regs, n, addr, &e);
    if (rc) {
        if (!e.msg[0])
            abort();
        return;
    }
    if (m.nregs > n || m.used > m.nregs)
        abort();
    fg_sunspec_model_foreach(&m, check_value, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t bases[FG_SUNSPEC_NBASES] = FG_SUNSPEC_BASES;
    if (size < 1)
        return 0;
    uint16_t base = bases[data[0] % FG_SUNSPEC_NBASES];
    uint16_t regs[WINDOW_MAX];
    size_t n = (size - 1) / 2;
    if (n > WINDOW_MAX)
        n = WINDOW_MAX;
    for (size_t i = 0; i < n; i++)
        regs[i] = (uint16_t)(data[1 + 2 * i] << 8 | data[2 + 2 * i]);

    struct fg_sunspec_chain c, s;
    struct fg_error e;
    int rc = fg_sunspec_walk(base, regs, n, &c, &e);
    if (rc && !e.msg[0])
        abort();
    if (rc == 0 && !c.done)
        abort();

    /* Header by header over the same registers: the same models. */
    if (n >= 2 && fg_sunspec_is_marker(regs)) {
        fg_sunspec_chain_init(&s, base);
        while (!s.done && s.next - base < n) {
            size_t o = s.next - base;
            uint16_t id = regs[o], len = o + 1 < n ? regs[o + 1] : 0;
            if (id != FG_SUNSPEC_END_ID && (o + 1 >= n || o + 2 + len > n))
                break;
            if (fg_sunspec_chain_step(&s, id, len, &e) < 0)
                break;
        }
        if (s.n != c.n || (rc == 0 && !s.done))
            abort();
        for (size_t i = 0; i < c.n; i++) {
            if (s.models[i].id != c.models[i].id || s.models[i].addr != c.models[i].addr)
                abort();
        }
    }

    for (size_t i = 0; i < c.n; i++) {
        const struct fg_sunspec_model_ref *r = &c.models[i];
        size_t o = r->addr - base;
        if (o + 2 + r->len > n)
            abort();
        if (r->def)
            decode_model(NULL, regs + o, n - o, r->addr);
    }

    /* The registers after the marker as the all-types model. */
    if (n >= 4) {
        regs[2] = all_def.id;
        decode_model(&all_def, regs + 2, n - 2, (uint32_t)base + 2);
    }
    return 0;
}
