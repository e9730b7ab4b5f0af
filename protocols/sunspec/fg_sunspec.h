/* SunSpec over Modbus, pure: registers in, values out (and back).
 *
 * The caller reads holding registers and hands them over as host-order
 * uint16_t; nothing here touches a socket, libmodbus or a clock. The model
 * definitions are generated from the SunSpec Alliance's JSON models
 * (protocols/sunspec/models/, sunspec_gen.py -> gen/sunspec_models.c).
 *
 * A device is read in four steps:
 *   1. discovery: read 2 registers at each of FG_SUNSPEC_BASES in turn until
 *      fg_sunspec_is_marker() says "SunS";
 *   2. chain walk: from base + 2, model headers (ID, L) follow each other
 *      until the end marker (ID 0xFFFF). Either read one window and call
 *      fg_sunspec_walk(), or read header by header with
 *      fg_sunspec_chain_init() / fg_sunspec_chain_step();
 *   3. per model: read its 2 + L registers and fg_sunspec_model_bind() them
 *      to the definition, which resolves the repeating groups;
 *   4. values: fg_sunspec_model_get() one point by path, or
 *      fg_sunspec_model_foreach() over every point instance. Set-points:
 *      fg_sunspec_encode() gives the registers to write.
 *
 * "Not implemented" is a status, never a number: a register holding the
 * type's sentinel (int16 0x8000, uint16/enum16/bitfield16/count 0xFFFF,
 * acc16/32/64 and ipaddr 0, int32 0x80000000, uint32/enum32/bitfield32
 * 0xFFFFFFFF, int64 0x8000000000000000, uint64 all ones, float32/64 NaN,
 * sunssf 0x8000, string first byte NUL, ipv6addr all zero, eui48 low 48
 * bits all ones) decodes as FG_SUNSPEC_NOT_IMPL, and a value whose scale
 * factor is not implemented (or outside [-10, 10]) as FG_SUNSPEC_NO_SF. */
#ifndef FG_SUNSPEC_H
#define FG_SUNSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "fg_err.h"

/* Where a SunSpec map may start, in the order to try. */
#define FG_SUNSPEC_BASES                                                                 \
    {                                                                                    \
        40000, 50000, 0                                                                  \
    }
#define FG_SUNSPEC_NBASES 3
#define FG_SUNSPEC_MARKER_HI 0x5375 /* "Su" */
#define FG_SUNSPEC_MARKER_LO 0x6e53 /* "nS" */
#define FG_SUNSPEC_END_ID 0xffff

#define FG_SUNSPEC_MAX_MODELS 64 /* per device; more is taken for a loop */
#define FG_SUNSPEC_MAX_DEPTH 3   /* nesting of groups (generator checks) */
#define FG_SUNSPEC_MAX_GROUPS 8  /* groups per model (generator checks) */
#define FG_SUNSPEC_STR_MAX 64    /* bytes of the longest string point */
#define FG_SUNSPEC_SF_MIN (-10)  /* scale factors outside are refused */
#define FG_SUNSPEC_SF_MAX 10
#define FG_SUNSPEC_NONE 0xffff  /* no scale factor point */
#define FG_SUNSPEC_NOGROUP 0xff /* parent of the top-level group */

/* ---- model definitions (generated tables) ----------------------------------- */

enum fg_sunspec_type {
    FG_SUNSPEC_INT16,
    FG_SUNSPEC_UINT16,
    FG_SUNSPEC_COUNT,
    FG_SUNSPEC_ACC16,
    FG_SUNSPEC_ENUM16,
    FG_SUNSPEC_BITFIELD16,
    FG_SUNSPEC_PAD,
    FG_SUNSPEC_SUNSSF,
    FG_SUNSPEC_INT32,
    FG_SUNSPEC_UINT32,
    FG_SUNSPEC_ACC32,
    FG_SUNSPEC_ENUM32,
    FG_SUNSPEC_BITFIELD32,
    FG_SUNSPEC_IPADDR,
    FG_SUNSPEC_FLOAT32,
    FG_SUNSPEC_INT64,
    FG_SUNSPEC_UINT64,
    FG_SUNSPEC_ACC64,
    FG_SUNSPEC_FLOAT64,
    FG_SUNSPEC_EUI48,
    FG_SUNSPEC_IPV6ADDR,
    FG_SUNSPEC_STRING,
};

/* Point flags. */
#define FG_SUNSPEC_RW 0x01        /* writable ("access": "RW") */
#define FG_SUNSPEC_MANDATORY 0x02 /* "mandatory": "M" */
#define FG_SUNSPEC_STATIC 0x04    /* "static": "S" (does not change) */

/* An enum value, or for a bitfield the number of the bit. */
struct fg_sunspec_symbol {
    const char *name;
    uint32_t value;
};

struct fg_sunspec_point {
    const char *name;  /* "DCA" */
    const char *path;  /* "Prt.DCA": group names, then the point's */
    const char *units; /* as in the model, "" if none */
    uint16_t offset;   /* registers from the model's ID register (top-level
                          group) or from the start of a group instance */
    uint16_t size;     /* registers */
    uint8_t type;      /* enum fg_sunspec_type */
    uint8_t flags;     /* FG_SUNSPEC_RW | _MANDATORY | _STATIC */
    uint8_t group;     /* index into the model's groups */
    uint16_t sf;       /* index of its sunssf point (same or an enclosing
                          group) in the model's points, or FG_SUNSPEC_NONE */
    uint16_t sym;      /* first symbol in fg_sunspec_symbols */
    uint16_t nsym;
};

enum fg_sunspec_count_kind {
    FG_SUNSPEC_COUNT_FIXED, /* count instances (1 for plain and sync groups) */
    FG_SUNSPEC_COUNT_POINT, /* as many as the top-level point number count */
    FG_SUNSPEC_COUNT_REST,  /* as many as fill the rest of the model */
};

/* Groups of a model in pre-order; groups[0] is the top-level group. An
 * instance of a group is its points followed by the instances of its child
 * groups, in order. */
struct fg_sunspec_group {
    const char *name;
    const char *path;   /* "" for the top-level group, "Crv.Pt" */
    uint8_t parent;     /* FG_SUNSPEC_NOGROUP for the top-level group */
    uint8_t depth;      /* 0 for the top-level group */
    uint8_t count_kind; /* enum fg_sunspec_count_kind */
    uint16_t count;     /* FIXED: instances; POINT: index of the point */
    uint16_t first;     /* its points: points[first .. first + npoints) */
    uint16_t npoints;
    uint16_t len; /* registers of its own points, per instance */
};

struct fg_sunspec_model_def {
    uint16_t id;
    const char *name;  /* "storage_basic" */
    const char *label; /* "Storage" */
    uint16_t len;      /* L with every counted group empty */
    const struct fg_sunspec_group *groups;
    uint8_t ngroups;
    const struct fg_sunspec_point *points;
    uint16_t npoints;
};

/* Sorted by id. */
extern const struct fg_sunspec_model_def fg_sunspec_model_defs[];
extern const size_t fg_sunspec_model_count;
extern const struct fg_sunspec_symbol *const fg_sunspec_symbols;

/* The definition of model id, NULL if flexgw has none. */
const struct fg_sunspec_model_def *fg_sunspec_model_find(uint16_t id);

/* A point of md by path ("WSetRvrtTms", "PFWInj.PF", "Crv.Pt.V"), NULL if
 * there is none. */
const struct fg_sunspec_point *
fg_sunspec_point_find(const struct fg_sunspec_model_def *md, const char *path);

/* Both in one: fg_sunspec_lookup(124, "InOutWRte_RvrtTms"). */
const struct fg_sunspec_point *fg_sunspec_lookup(uint16_t model_id, const char *path);

/* Name of an enum value (or of a bitfield's bit number), NULL if p has no
 * such symbol. */
const char *fg_sunspec_symbol_name(const struct fg_sunspec_point *p, uint32_t value);

/* "int16", "bitfield32", ...; "?" for an unknown type. */
const char *fg_sunspec_type_name(int type);

/* ---- discovery and the model chain ------------------------------------------ */

/* 1 if regs[0..1] are the "SunS" marker, else 0. */
int fg_sunspec_is_marker(const uint16_t regs[2]);

/* One model header found in the chain. */
struct fg_sunspec_model_ref {
    uint16_t id;
    uint16_t len;  /* L: registers after the ID and L registers */
    uint32_t addr; /* Modbus address of its ID register */
    const struct fg_sunspec_model_def *def; /* NULL: no definition (vendor) */
};

struct fg_sunspec_chain {
    uint16_t base; /* address of the "SunS" marker */
    uint32_t next; /* address of the next header to read */
    size_t n;
    int done; /* end marker seen */
    struct fg_sunspec_model_ref models[FG_SUNSPEC_MAX_MODELS];
};

/* Start a header-by-header walk of the map whose marker is at base. */
void fg_sunspec_chain_init(struct fg_sunspec_chain *c, uint16_t base);

/* Feed the two registers read at c->next (the ID and L of the next model).
 * Returns 1 when they were the end marker (c->done set), 0 when a model was
 * added (read the next header at the new c->next), or a negative code:
 *   FG_EPARSE  model id 0 (not a model; a map of zeros)
 *   FG_ERANGE  the model's L runs past address 65535
 *   FG_ETOOBIG more than FG_SUNSPEC_MAX_MODELS models (a loop?)
 *   FG_ESTATE  called after the end marker
 * Repeated model ids are allowed (several inverters, strings, ...). Models
 * with L = 0 are allowed as long as the count bound holds. An end marker
 * with L != 0 still ends the chain. e says which model, where and why. */
int fg_sunspec_chain_step(struct fg_sunspec_chain *c, uint16_t id, uint16_t len,
                          struct fg_error *e);

/* Walk a window of nregs registers read from address base: regs[0..1] must
 * be the marker, then the model chain. Returns 0 with the end marker found,
 * or a negative code with c holding the models found before the fault:
 *   FG_ENOTFOUND no "SunS" marker at regs[0..1]
 *   FG_EMISSING  the window ended before the end marker (c->next says where
 *                the next header would be)
 *   FG_ERANGE    a model's L runs past the window or address 65535
 *   and the codes of fg_sunspec_chain_step(). */
int fg_sunspec_walk(uint16_t base, const uint16_t *regs, size_t nregs,
                    struct fg_sunspec_chain *c, struct fg_error *e);

/* ---- decoding one model ----------------------------------------------------- */

/* One model's registers bound to its definition, with the repeating groups
 * resolved. regs is borrowed and must outlive the binding. */
struct fg_sunspec_model {
    const struct fg_sunspec_model_def *def;
    const uint16_t *regs; /* ID, L, then the model's registers */
    uint32_t nregs;       /* 2 + L */
    uint32_t addr;        /* address of regs[0], for messages (0 if unknown) */
    uint16_t count[FG_SUNSPEC_MAX_GROUPS];    /* instances per parent instance */
    uint32_t inst_len[FG_SUNSPEC_MAX_GROUPS]; /* registers of one instance */
    uint32_t rel_off[FG_SUNSPEC_MAX_GROUPS];  /* first instance, from parent's */
    uint32_t used; /* registers the definition covers (<= nregs, or the
                      top-level group cut short by a small L) */
};

/* Bind the registers of one model (regs[0] its ID, regs[1] its L, nregs >=
 * 2 + L available) to its definition. addr is only used in messages.
 * Counted groups take their count from their point (not implemented counts
 * as 0); "rest" groups fill what the model length leaves. A model whose L
 * ends inside its top-level group is accepted (older model 1 with L = 65)
 * and the points past L decode as FG_SUNSPEC_ABSENT; registers past the
 * definition are ignored. Errors:
 *   FG_ENOTFOUND no definition for the model id
 *   FG_ERANGE    nregs < 2 + L; or the counted groups need more registers
 *                than L (named: group, count point, value, lengths); or a
 *                "rest" group does not divide the remainder evenly
 *   FG_EINVAL    nregs < 2 */
int fg_sunspec_model_bind(struct fg_sunspec_model *m, const uint16_t *regs, size_t nregs,
                          uint32_t addr, struct fg_error *e);

/* The same with a definition from elsewhere (a vendor model, a test); def is
 * borrowed and must outlive the binding. FG_EINVAL if regs[0] is not its id. */
int fg_sunspec_model_bind_def(struct fg_sunspec_model *m,
                              const struct fg_sunspec_model_def *def,
                              const uint16_t *regs, size_t nregs, uint32_t addr,
                              struct fg_error *e);

enum fg_sunspec_status {
    FG_SUNSPEC_OK,
    FG_SUNSPEC_NOT_IMPL, /* the register(s) hold the type's sentinel */
    FG_SUNSPEC_NO_SF,    /* value present, its scale factor not implemented
                            or outside [-10, 10]: the number is unknown */
    FG_SUNSPEC_ABSENT,   /* beyond the model's L */
};

/* One decoded point instance. */
struct fg_sunspec_value {
    const struct fg_sunspec_point *def;
    uint32_t offset; /* registers from the model's ID register */
    uint8_t depth;   /* of the point's group; idx[0 .. depth) are valid */
    uint16_t idx[FG_SUNSPEC_MAX_DEPTH]; /* instance per enclosing group */
    uint8_t status;                     /* enum fg_sunspec_status */
    int8_t sf;                          /* exponent applied (0 without a scale factor) */
    int64_t i;                          /* raw: signed types (int*, sunssf) */
    uint64_t u; /* raw: every other integer type, float bits, ipaddr,
                   eui48 (low 48 bits) */
    double v;   /* numeric types: raw * 10^sf (floats: as read) */
    char str[FG_SUNSPEC_STR_MAX + 1]; /* string points: bytes up to the first
                         NUL, anything not printable ASCII as '?'; ipv6addr:
                         hex, 8 groups */
};

/* Decode point p (a point of m->def) at instance idx (one index per group
 * level from the top: idx[k] for the group at depth k + 1; NULL = all 0).
 * Returns 0 with *v filled (check v->status), or FG_EINVAL (p not of this
 * model) / FG_ERANGE (an index past its group's count), naming the point. */
int fg_sunspec_model_point(const struct fg_sunspec_model *m,
                           const struct fg_sunspec_point *p, const uint16_t *idx,
                           struct fg_sunspec_value *v, struct fg_error *e);

/* The same by path; FG_ENOTFOUND if the model has no such point. */
int fg_sunspec_model_get(const struct fg_sunspec_model *m, const char *path,
                         const uint16_t *idx, struct fg_sunspec_value *v,
                         struct fg_error *e);

/* Call fn for every point instance of the model, in register order, with
 * pad points included. Stops at and returns fn's first non-zero result;
 * 0 when all were visited. v is only valid during the call. */
typedef int (*fg_sunspec_visit_fn)(void *ctx, const struct fg_sunspec_value *v);
int fg_sunspec_model_foreach(const struct fg_sunspec_model *m, fg_sunspec_visit_fn fn,
                             void *ctx);

/* ---- encoding set-points ---------------------------------------------------- */

/* Registers to write for one point: at model address + offset. */
struct fg_sunspec_write {
    uint32_t offset; /* registers from the model's ID register */
    uint16_t n;
    uint16_t regs[4];
};

/* Encode value (in the point's units) into the registers of writable point
 * p at instance idx, with the scale factor read from m. The raw value is
 * value / 10^sf rounded to the nearest integer; enums and bitfields take
 * integers only. Refuses, naming model, point and offset:
 *   FG_EFORBIDDEN   p is read-only
 *   FG_EUNSUPPORTED a type that does not carry a number (string, pad,
 *                   sunssf, accumulators, addresses)
 *   FG_ESTATE       the scale factor is not implemented or outside
 *                   [-10, 10], or p lies beyond the model's L
 *   FG_EINVAL       value not finite; a fraction for an enum or bitfield;
 *                   p not of this model
 *   FG_ERANGE       the raw value does not fit the type, or is the type's
 *                   "not implemented" sentinel; an index past its count */
int fg_sunspec_encode(const struct fg_sunspec_model *m, const struct fg_sunspec_point *p,
                      const uint16_t *idx, double value, struct fg_sunspec_write *w,
                      struct fg_error *e);

/* The same with an explicit exponent (sf ignored for points without a
 * scale factor), for a caller that keeps the scale factors itself. offset
 * is left at p->offset (top-level points only make sense here). */
int fg_sunspec_encode_raw(const struct fg_sunspec_point *p, int sf, double value,
                          struct fg_sunspec_write *w, struct fg_error *e);

#endif
