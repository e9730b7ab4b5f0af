/* SunSpec decoding and encoding over the generated model tables. */
#include "fg_sunspec.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exact powers of ten for the scale factors (10^0 .. 10^10). */
static const double pow10_tab[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5,
                                   1e6, 1e7, 1e8, 1e9, 1e10};

static const char *const type_names[] = {
    [FG_SUNSPEC_INT16] = "int16",
    [FG_SUNSPEC_UINT16] = "uint16",
    [FG_SUNSPEC_COUNT] = "count",
    [FG_SUNSPEC_ACC16] = "acc16",
    [FG_SUNSPEC_ENUM16] = "enum16",
    [FG_SUNSPEC_BITFIELD16] = "bitfield16",
    [FG_SUNSPEC_PAD] = "pad",
    [FG_SUNSPEC_SUNSSF] = "sunssf",
    [FG_SUNSPEC_INT32] = "int32",
    [FG_SUNSPEC_UINT32] = "uint32",
    [FG_SUNSPEC_ACC32] = "acc32",
    [FG_SUNSPEC_ENUM32] = "enum32",
    [FG_SUNSPEC_BITFIELD32] = "bitfield32",
    [FG_SUNSPEC_IPADDR] = "ipaddr",
    [FG_SUNSPEC_FLOAT32] = "float32",
    [FG_SUNSPEC_INT64] = "int64",
    [FG_SUNSPEC_UINT64] = "uint64",
    [FG_SUNSPEC_ACC64] = "acc64",
    [FG_SUNSPEC_FLOAT64] = "float64",
    [FG_SUNSPEC_EUI48] = "eui48",
    [FG_SUNSPEC_IPV6ADDR] = "ipv6addr",
    [FG_SUNSPEC_STRING] = "string",
};

const char *fg_sunspec_type_name(int type)
{
    if (type < 0 || (size_t)type >= sizeof(type_names) / sizeof(type_names[0]))
        return "?";
    return type_names[type];
}

/* ---- definitions ------------------------------------------------------------ */

const struct fg_sunspec_model_def *fg_sunspec_model_find(uint16_t id)
{
    size_t lo = 0, hi = fg_sunspec_model_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint16_t m = fg_sunspec_model_defs[mid].id;
        if (m == id)
            return &fg_sunspec_model_defs[mid];
        if (m < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct fg_sunspec_point *
fg_sunspec_point_find(const struct fg_sunspec_model_def *md, const char *path)
{
    if (!md || !path)
        return NULL;
    for (uint16_t i = 0; i < md->npoints; i++) {
        if (!strcmp(md->points[i].path, path))
            return &md->points[i];
    }
    return NULL;
}

const struct fg_sunspec_point *fg_sunspec_lookup(uint16_t model_id, const char *path)
{
    return fg_sunspec_point_find(fg_sunspec_model_find(model_id), path);
}

const char *fg_sunspec_symbol_name(const struct fg_sunspec_point *p, uint32_t value)
{
    for (uint16_t i = 0; p && i < p->nsym; i++) {
        if (fg_sunspec_symbols[p->sym + i].value == value)
            return fg_sunspec_symbols[p->sym + i].name;
    }
    return NULL;
}

/* ---- discovery and the chain ------------------------------------------------ */

int fg_sunspec_is_marker(const uint16_t regs[2])
{
    return regs[0] == FG_SUNSPEC_MARKER_HI && regs[1] == FG_SUNSPEC_MARKER_LO;
}

void fg_sunspec_chain_init(struct fg_sunspec_chain *c, uint16_t base)
{
    memset(c, 0, sizeof(*c));
    c->base = base;
    c->next = (uint32_t)base + 2;
}

int fg_sunspec_chain_step(struct fg_sunspec_chain *c, uint16_t id, uint16_t len,
                          struct fg_error *e)
{
    if (c->done)
        return fg_error_set(e, FG_ESTATE, "", "SunSpec chain at %u already ended at %u",
                            c->base, c->next);
    if (id == FG_SUNSPEC_END_ID) {
        c->done = 1;
        return 1;
    }
    if (id == 0)
        return fg_error_set(e, FG_EPARSE, "",
                            "SunSpec chain at %u: model id 0 at address %u after %zu "
                            "models (not a model; no end marker?)",
                            c->base, c->next, c->n);
    if (c->n >= FG_SUNSPEC_MAX_MODELS)
        return fg_error_set(e, FG_ETOOBIG, "",
                            "SunSpec chain at %u: more than %d models (model %u at "
                            "address %u); a loop?",
                            c->base, FG_SUNSPEC_MAX_MODELS, id, c->next);
    uint32_t end = c->next + 2 + len;
    if (end > 0x10000)
        return fg_error_set(e, FG_ERANGE, "",
                            "SunSpec chain at %u: model %u at address %u: length %u runs "
                            "past address 65535",
                            c->base, id, c->next, len);
    struct fg_sunspec_model_ref *r = &c->models[c->n++];
    r->id = id;
    r->len = len;
    r->addr = c->next;
    r->def = fg_sunspec_model_find(id);
    c->next = end;
    return 0;
}

int fg_sunspec_walk(uint16_t base, const uint16_t *regs, size_t nregs,
                    struct fg_sunspec_chain *c, struct fg_error *e)
{
    fg_sunspec_chain_init(c, base);
    if (nregs < 2 || !fg_sunspec_is_marker(regs))
        return fg_error_set(e, FG_ENOTFOUND, "",
                            "no SunSpec marker at %u (read 0x%04x 0x%04x)", base,
                            nregs > 0 ? regs[0] : 0, nregs > 1 ? regs[1] : 0);
    for (;;) {
        size_t off = c->next - base;
        if (off >= nregs || (off + 1 == nregs && regs[off] != FG_SUNSPEC_END_ID))
            return fg_error_set(e, FG_EMISSING, "",
                                "SunSpec chain at %u: no end marker; the %zu registers "
                                "read end at address %zu, next header at %u after %zu "
                                "models",
                                base, nregs, base + nregs, c->next, c->n);
        uint16_t id = regs[off];
        uint16_t len = off + 1 < nregs ? regs[off + 1] : 0;
        int rc = fg_sunspec_chain_step(c, id, len, e);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return 0;
        if (c->next - base > nregs) {
            c->n--;
            c->next = c->models[c->n].addr;
            return fg_error_set(e, FG_ERANGE, "",
                                "SunSpec chain at %u: model %u at address %u: length %u "
                                "runs past the registers read (end at address %zu)",
                                base, id, c->next, len, base + nregs);
        }
    }
}

/* ---- binding a model -------------------------------------------------------- */

static int model_fail(const struct fg_sunspec_model *m, struct fg_error *e, int code,
                      const struct fg_sunspec_point *p, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Error naming the model, its address and (if p) the point with its offset. */
static int model_fail(const struct fg_sunspec_model *m, struct fg_error *e, int code,
                      const struct fg_sunspec_point *p, const char *fmt, ...)
{
    if (!e)
        return code;
    char what[FG_ERR_MSG_MAX], path[FG_ERR_PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    unsigned id = m && m->def ? m->def->id : 0;
    if (p && !m) { /* fg_sunspec_encode_raw: no model at hand */
        snprintf(path, sizeof(path), "/%s", p->path);
        return fg_error_set(e, code, path, "point %s (%s, offset %u): %s", p->path,
                            fg_sunspec_type_name(p->type), p->offset, what);
    }
    if (p) {
        snprintf(path, sizeof(path), "/%u/%s", id, p->path);
        return fg_error_set(e, code, path, "model %u at %u, point %s (%s, offset %u): %s",
                            id, m ? m->addr : 0, p->path, fg_sunspec_type_name(p->type),
                            p->offset, what);
    }
    snprintf(path, sizeof(path), "/%u", id);
    return fg_error_set(e, code, path, "model %u at %u: %s", id, m ? m->addr : 0, what);
}

static uint64_t sat_mul_add(uint64_t acc, uint64_t n, uint64_t len)
{
    /* Saturates at UINT32_MAX: any such total is past every real model. */
    uint64_t v = acc + n * len;
    return v > UINT32_MAX ? UINT32_MAX : v;
}

int fg_sunspec_model_bind(struct fg_sunspec_model *m, const uint16_t *regs, size_t nregs,
                          uint32_t addr, struct fg_error *e)
{
    memset(m, 0, sizeof(*m));
    m->addr = addr;
    if (nregs < 2)
        return fg_error_set(e, FG_EINVAL, "", "model at %u: %zu registers, need ID and L",
                            addr, nregs);
    const struct fg_sunspec_model_def *d = fg_sunspec_model_find(regs[0]);
    if (!d)
        return fg_error_set(e, FG_ENOTFOUND, "",
                            "model %u at %u: no definition (vendor or newer model)",
                            regs[0], addr);
    return fg_sunspec_model_bind_def(m, d, regs, nregs, addr, e);
}

int fg_sunspec_model_bind_def(struct fg_sunspec_model *m,
                              const struct fg_sunspec_model_def *d, const uint16_t *regs,
                              size_t nregs, uint32_t addr, struct fg_error *e)
{
    memset(m, 0, sizeof(*m));
    m->addr = addr;
    if (nregs < 2 || regs[0] != d->id)
        return fg_error_set(e, FG_EINVAL, "", "model at %u: %s, not model %u", addr,
                            nregs < 2 ? "no ID and L" : "another ID", d->id);
    if (d->ngroups == 0 || d->ngroups > FG_SUNSPEC_MAX_GROUPS)
        return fg_error_set(e, FG_EINVAL, "", "model %u: %u groups in its definition",
                            d->id, d->ngroups);
    m->def = d;
    if (nregs < 2 + (size_t)regs[1])
        return model_fail(m, e, FG_ERANGE, NULL, "L = %u but only %zu registers given",
                          regs[1], nregs);
    m->regs = regs;
    m->nregs = 2 + (uint32_t)regs[1];

    /* Counts first (count points live in the top-level group), then the
     * length of one instance of each group, children before parents. */
    int rest = -1;
    for (uint8_t g = 0; g < d->ngroups; g++) {
        const struct fg_sunspec_group *gr = &d->groups[g];
        if (gr->count_kind == FG_SUNSPEC_COUNT_FIXED) {
            m->count[g] = gr->count;
        } else if (gr->count_kind == FG_SUNSPEC_COUNT_POINT) {
            uint16_t o = d->points[gr->count].offset;
            uint16_t n = o < m->nregs ? regs[o] : 0;
            m->count[g] = n == 0xffff ? 0 : n;
        } else {
            rest = g; /* the generator allows it only last and top-level */
        }
    }
    uint64_t len[FG_SUNSPEC_MAX_GROUPS] = {0};
    for (int g = d->ngroups - 1; g >= 0; g--) {
        len[g] = d->groups[g].len;
        for (uint8_t c = (uint8_t)(g + 1); c < d->ngroups; c++) {
            if (d->groups[c].parent == g)
                len[g] = sat_mul_add(len[g], m->count[c], len[c]);
        }
    }
    if (rest > 0 && len[rest] > 0) {
        uint64_t left = m->nregs > len[0] ? m->nregs - len[0] : 0;
        if (left % len[rest])
            return model_fail(m, e, FG_ERANGE, NULL,
                              "group %s: the %llu registers after the fixed part are "
                              "not a whole number of %llu-register instances",
                              d->groups[rest].path, (unsigned long long)left,
                              (unsigned long long)len[rest]);
        m->count[rest] =
            (uint16_t)(left / len[rest] > 0xffff ? 0xffff : left / len[rest]);
        len[0] = sat_mul_add(len[0], m->count[rest], len[rest]);
    }
    if (len[0] > m->nregs) {
        for (uint8_t g = 1; g < d->ngroups; g++) {
            const struct fg_sunspec_group *gr = &d->groups[g];
            if (gr->count_kind != FG_SUNSPEC_COUNT_POINT || !m->count[g])
                continue;
            return model_fail(m, e, FG_ERANGE, NULL,
                              "group %s: %s = %u instances of %llu registers need %llu "
                              "registers, L = %u",
                              gr->path, d->points[gr->count].name, m->count[g],
                              (unsigned long long)len[g], (unsigned long long)len[0] - 2,
                              m->nregs - 2);
        }
        /* No counted instances: L ends inside the fixed part (older
         * revisions of a model); the points past L are absent. */
        m->used = m->nregs;
    } else {
        m->used = (uint32_t)len[0];
    }
    uint64_t cursor[FG_SUNSPEC_MAX_GROUPS] = {0};
    for (uint8_t g = 0; g < d->ngroups; g++) {
        m->inst_len[g] = (uint32_t)len[g];
        cursor[g] = d->groups[g].len;
        if (g > 0) {
            uint8_t p = d->groups[g].parent;
            m->rel_off[g] = (uint32_t)cursor[p];
            cursor[p] = sat_mul_add(cursor[p], m->count[g], len[g]);
        }
    }
    return 0;
}

/* ---- decoding --------------------------------------------------------------- */

static int own_point(const struct fg_sunspec_model *m, const struct fg_sunspec_point *p)
{
    return m->def && p >= m->def->points && p < m->def->points + m->def->npoints;
}

/* Offset of p's instance idx from the model's ID register. */
static int point_offset(const struct fg_sunspec_model *m,
                        const struct fg_sunspec_point *p, const uint16_t *idx,
                        uint32_t *off, struct fg_error *e)
{
    const struct fg_sunspec_group *gs = m->def->groups;
    uint64_t o = p->offset;
    for (uint8_t g = p->group; g != 0 && g != FG_SUNSPEC_NOGROUP; g = gs[g].parent) {
        uint16_t i = idx ? idx[gs[g].depth - 1] : 0;
        if (i >= m->count[g])
            return model_fail(m, e, FG_ERANGE, p, "instance %u of group %s, which has %u",
                              i, gs[g].path, m->count[g]);
        o += m->rel_off[g] + (uint64_t)i * m->inst_len[g];
    }
    *off = o > UINT32_MAX ? UINT32_MAX : (uint32_t)o;
    return 0;
}

static uint64_t read_be(const uint16_t *r, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v = v << 16 | r[k];
    return v;
}

static void decode_string(const uint16_t *r, unsigned n, struct fg_sunspec_value *v)
{
    size_t k = 0;
    for (unsigned i = 0; i < n * 2 && k < FG_SUNSPEC_STR_MAX; i++) {
        unsigned char b = (unsigned char)(i % 2 ? r[i / 2] : r[i / 2] >> 8);
        if (!b)
            break;
        v->str[k++] = b >= 0x20 && b < 0x7f ? (char)b : '?';
    }
    while (k > 0 && v->str[k - 1] == ' ')
        k--;
    v->str[k] = '\0';
    v->status = (r[0] >> 8) == 0 ? FG_SUNSPEC_NOT_IMPL : FG_SUNSPEC_OK;
}

/* Raw value and "not implemented" of one point's registers. */
static void decode_raw(const struct fg_sunspec_point *p, const uint16_t *r,
                       struct fg_sunspec_value *v)
{
    uint64_t u = read_be(r, p->size > 4 ? 4 : p->size);
    int ni = 0;
    v->u = u;
    switch (p->type) {
    case FG_SUNSPEC_INT16:
    case FG_SUNSPEC_SUNSSF:
        v->i = (int16_t)u;
        v->u = 0;
        ni = u == 0x8000;
        v->v = (double)v->i;
        break;
    case FG_SUNSPEC_UINT16:
    case FG_SUNSPEC_COUNT:
    case FG_SUNSPEC_ENUM16:
    case FG_SUNSPEC_BITFIELD16:
    case FG_SUNSPEC_ENUM32:
    case FG_SUNSPEC_BITFIELD32:
    case FG_SUNSPEC_UINT32:
    case FG_SUNSPEC_UINT64:
        ni = u == (p->size == 1 ? 0xffffu : p->size == 2 ? 0xffffffffu : UINT64_MAX);
        v->v = (double)u;
        break;
    case FG_SUNSPEC_ACC16:
    case FG_SUNSPEC_ACC32:
    case FG_SUNSPEC_ACC64:
    case FG_SUNSPEC_IPADDR:
        ni = u == 0;
        v->v = (double)u;
        if (p->type == FG_SUNSPEC_IPADDR)
            snprintf(v->str, sizeof(v->str), "%u.%u.%u.%u", (unsigned)(u >> 24) & 0xff,
                     (unsigned)(u >> 16) & 0xff, (unsigned)(u >> 8) & 0xff,
                     (unsigned)u & 0xff);
        break;
    case FG_SUNSPEC_PAD:
        v->v = (double)u;
        break;
    case FG_SUNSPEC_INT32:
        v->i = (int32_t)(uint32_t)u;
        v->u = 0;
        ni = u == 0x80000000u;
        v->v = (double)v->i;
        break;
    case FG_SUNSPEC_INT64:
        v->i = (int64_t)u;
        v->u = 0;
        ni = u == 0x8000000000000000ull;
        v->v = (double)v->i;
        break;
    case FG_SUNSPEC_FLOAT32: {
        uint32_t b = (uint32_t)u;
        float f;
        memcpy(&f, &b, sizeof(f));
        ni = isnan(f);
        v->v = f;
        break;
    }
    case FG_SUNSPEC_FLOAT64: {
        double d;
        memcpy(&d, &u, sizeof(d));
        ni = isnan(d);
        v->v = d;
        break;
    }
    case FG_SUNSPEC_EUI48:
        v->u = u & 0xffffffffffffull;
        ni = v->u == 0xffffffffffffull;
        snprintf(v->str, sizeof(v->str), "%02X:%02X:%02X:%02X:%02X:%02X",
                 (unsigned)(u >> 40) & 0xff, (unsigned)(u >> 32) & 0xff,
                 (unsigned)(u >> 24) & 0xff, (unsigned)(u >> 16) & 0xff,
                 (unsigned)(u >> 8) & 0xff, (unsigned)u & 0xff);
        break;
    case FG_SUNSPEC_IPV6ADDR:
        ni = 1;
        for (unsigned k = 0; k < p->size; k++)
            ni &= r[k] == 0;
        for (unsigned k = 0; k < p->size && k < 8; k++)
            snprintf(v->str + (k ? 5 * k - 1 : 0), sizeof(v->str) - 5 * k,
                     k ? ":%04x" : "%04x", r[k]);
        v->u = 0;
        break;
    case FG_SUNSPEC_STRING:
        v->u = 0;
        decode_string(r, p->size, v);
        return;
    }
    v->status = ni ? FG_SUNSPEC_NOT_IMPL : FG_SUNSPEC_OK;
}

/* The exponent of p's scale factor at instance idx; 1 with *sf set, 0 if it
 * is not implemented, absent or outside [-10, 10]. */
static int scale_factor(const struct fg_sunspec_model *m,
                        const struct fg_sunspec_point *p, const uint16_t *idx, int *sf)
{
    const struct fg_sunspec_point *sp = &m->def->points[p->sf];
    uint32_t off;
    if (point_offset(m, sp, idx, &off, NULL) || off >= m->nregs)
        return 0;
    int16_t s = (int16_t)m->regs[off];
    if (s < FG_SUNSPEC_SF_MIN || s > FG_SUNSPEC_SF_MAX)
        return 0;
    *sf = s;
    return 1;
}

static double scale(double raw, int sf)
{
    return sf >= 0 ? raw * pow10_tab[sf] : raw / pow10_tab[-sf];
}

int fg_sunspec_model_point(const struct fg_sunspec_model *m,
                           const struct fg_sunspec_point *p, const uint16_t *idx,
                           struct fg_sunspec_value *v, struct fg_error *e)
{
    memset(v, 0, sizeof(*v));
    if (!own_point(m, p))
        return model_fail(m, e, FG_EINVAL, NULL, "point %s is not of this model",
                          p ? p->path : "(null)");
    v->def = p;
    v->depth = m->def->groups[p->group].depth;
    for (unsigned k = 0; k < v->depth && k < FG_SUNSPEC_MAX_DEPTH; k++)
        v->idx[k] = idx ? idx[k] : 0;
    int rc = point_offset(m, p, idx, &v->offset, e);
    if (rc)
        return rc;
    if ((uint64_t)v->offset + p->size > m->nregs) {
        v->status = FG_SUNSPEC_ABSENT;
        return 0;
    }
    decode_raw(p, m->regs + v->offset, v);
    if (p->sf != FG_SUNSPEC_NONE && v->status == FG_SUNSPEC_OK) {
        int sf = 0;
        if (!scale_factor(m, p, idx, &sf)) {
            v->status = FG_SUNSPEC_NO_SF;
            v->v = 0;
        } else {
            v->sf = (int8_t)sf;
            v->v = scale(v->v, sf);
        }
    }
    if (v->status != FG_SUNSPEC_OK)
        v->v = 0;
    return 0;
}

int fg_sunspec_model_get(const struct fg_sunspec_model *m, const char *path,
                         const uint16_t *idx, struct fg_sunspec_value *v,
                         struct fg_error *e)
{
    const struct fg_sunspec_point *p = fg_sunspec_point_find(m->def, path);
    if (!p) {
        memset(v, 0, sizeof(*v));
        return model_fail(m, e, FG_ENOTFOUND, NULL, "no point %s",
                          path ? path : "(null)");
    }
    return fg_sunspec_model_point(m, p, idx, v, e);
}

/* Depth-first over the instances of group g; idx[0 .. depth) fixed above. */
static int visit(const struct fg_sunspec_model *m, uint8_t g, uint16_t *idx,
                 fg_sunspec_visit_fn fn, void *ctx)
{
    const struct fg_sunspec_model_def *d = m->def;
    const struct fg_sunspec_group *gr = &d->groups[g];
    struct fg_sunspec_value v;
    for (uint16_t i = 0; i < gr->npoints; i++) {
        if (fg_sunspec_model_point(m, &d->points[gr->first + i], idx, &v, NULL))
            continue; /* cannot happen: indices are within the counts */
        int rc = fn(ctx, &v);
        if (rc)
            return rc;
    }
    for (uint8_t c = (uint8_t)(g + 1); c < d->ngroups; c++) {
        if (d->groups[c].parent != g)
            continue;
        for (uint32_t i = 0; i < m->count[c]; i++) {
            idx[d->groups[c].depth - 1] = (uint16_t)i;
            int rc = visit(m, c, idx, fn, ctx);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int fg_sunspec_model_foreach(const struct fg_sunspec_model *m, fg_sunspec_visit_fn fn,
                             void *ctx)
{
    uint16_t idx[FG_SUNSPEC_MAX_DEPTH] = {0};
    return m->def ? visit(m, 0, idx, fn, ctx) : 0;
}

/* ---- encoding --------------------------------------------------------------- */

struct limits {
    double lo, hi; /* raw range the type holds, sentinel excluded */
    int integral;  /* enums and bitfields: no rounding */
};

static int type_limits(int type, struct limits *l)
{
    l->integral = 0;
    switch (type) {
    case FG_SUNSPEC_INT16:
        *l = (struct limits){-32767.0, 32767.0, 0};
        return 0;
    case FG_SUNSPEC_UINT16:
    case FG_SUNSPEC_COUNT:
        *l = (struct limits){0.0, 65534.0, 0};
        return 0;
    case FG_SUNSPEC_ENUM16:
    case FG_SUNSPEC_BITFIELD16:
        *l = (struct limits){0.0, 65534.0, 1};
        return 0;
    case FG_SUNSPEC_INT32:
        *l = (struct limits){-2147483647.0, 2147483647.0, 0};
        return 0;
    case FG_SUNSPEC_UINT32:
        *l = (struct limits){0.0, 4294967294.0, 0};
        return 0;
    case FG_SUNSPEC_ENUM32:
    case FG_SUNSPEC_BITFIELD32:
        *l = (struct limits){0.0, 4294967294.0, 1};
        return 0;
    case FG_SUNSPEC_INT64: /* doubles next to +-2^63: the bounds are exclusive */
        *l = (struct limits){-9223372036854774784.0, 9223372036854774784.0, 0};
        return 0;
    case FG_SUNSPEC_UINT64:
        *l = (struct limits){0.0, 18446744073709549568.0, 0};
        return 0;
    case FG_SUNSPEC_FLOAT32:
        *l = (struct limits){-FLT_MAX, FLT_MAX, 0};
        return 0;
    case FG_SUNSPEC_FLOAT64:
        *l = (struct limits){-DBL_MAX, DBL_MAX, 0};
        return 0;
    }
    return FG_EUNSUPPORTED;
}

static void write_be(struct fg_sunspec_write *w, uint64_t u, unsigned n)
{
    w->n = (uint16_t)n;
    for (unsigned k = 0; k < n; k++)
        w->regs[k] = (uint16_t)(u >> (16 * (n - 1 - k)));
}

/* The registers for value at exponent sf; m only for messages. */
static int encode_at(const struct fg_sunspec_model *m, const struct fg_sunspec_point *p,
                     int sf, double value, struct fg_sunspec_write *w, struct fg_error *e)
{
    struct limits l;
    if (!(p->flags & FG_SUNSPEC_RW))
        return model_fail(m, e, FG_EFORBIDDEN, p, "read-only");
    if (type_limits(p->type, &l))
        return model_fail(m, e, FG_EUNSUPPORTED, p,
                          "a %s point cannot be set from a number",
                          fg_sunspec_type_name(p->type));
    if (!isfinite(value))
        return model_fail(m, e, FG_EINVAL, p, "value is not a finite number");
    if (p->sf == FG_SUNSPEC_NONE)
        sf = 0;
    if (sf < FG_SUNSPEC_SF_MIN || sf > FG_SUNSPEC_SF_MAX)
        return model_fail(m, e, FG_ESTATE, p, "scale factor %d outside [-10, 10]", sf);
    double raw = sf >= 0 ? value / pow10_tab[sf] : value * pow10_tab[-sf];
    if (l.integral && raw != floor(raw))
        return model_fail(m, e, FG_EINVAL, p, "%g is not a whole number", value);
    if (p->type != FG_SUNSPEC_FLOAT32 && p->type != FG_SUNSPEC_FLOAT64)
        raw = round(raw);
    if (!(raw >= l.lo && raw <= l.hi))
        return model_fail(
            m, e, FG_ERANGE, p,
            "%g%s%s is %.17g at scale factor %d, outside %s's [%.17g, %.17g]", value,
            *p->units ? " " : "", p->units, raw, sf, fg_sunspec_type_name(p->type), l.lo,
            l.hi);
    w->offset = p->offset;
    switch (p->type) {
    case FG_SUNSPEC_FLOAT32: {
        float f = (float)raw;
        uint32_t b;
        memcpy(&b, &f, sizeof(b));
        write_be(w, b, 2);
        break;
    }
    case FG_SUNSPEC_FLOAT64: {
        uint64_t b;
        memcpy(&b, &raw, sizeof(b));
        write_be(w, b, 4);
        break;
    }
    case FG_SUNSPEC_INT16:
    case FG_SUNSPEC_INT32:
    case FG_SUNSPEC_INT64:
        write_be(w, (uint64_t)(int64_t)raw, p->size);
        break;
    default:
        write_be(w, (uint64_t)raw, p->size);
        break;
    }
    return 0;
}

int fg_sunspec_encode_raw(const struct fg_sunspec_point *p, int sf, double value,
                          struct fg_sunspec_write *w, struct fg_error *e)
{
    memset(w, 0, sizeof(*w));
    return encode_at(NULL, p, sf, value, w, e);
}

int fg_sunspec_encode(const struct fg_sunspec_model *m, const struct fg_sunspec_point *p,
                      const uint16_t *idx, double value, struct fg_sunspec_write *w,
                      struct fg_error *e)
{
    memset(w, 0, sizeof(*w));
    if (!own_point(m, p))
        return model_fail(m, e, FG_EINVAL, NULL, "point %s is not of this model",
                          p ? p->path : "(null)");
    uint32_t off;
    int rc = point_offset(m, p, idx, &off, e);
    if (rc)
        return rc;
    if ((uint64_t)off + p->size > m->nregs)
        return model_fail(m, e, FG_ESTATE, p, "beyond the model's length L = %u",
                          m->nregs - 2);
    int sf = 0;
    if ((p->flags & FG_SUNSPEC_RW) && p->sf != FG_SUNSPEC_NONE &&
        !scale_factor(m, p, idx, &sf)) {
        const struct fg_sunspec_point *sp = &m->def->points[p->sf];
        return model_fail(m, e, FG_ESTATE, p,
                          "scale factor %s not implemented or outside [-10, 10]",
                          sp->path);
    }
    rc = encode_at(m, p, sf, value, w, e);
    if (!rc)
        w->offset = off;
    return rc;
}
