/* Register-map devices, pure: a JSON map file in, points out; registers in,
 * values out (and back) for Modbus devices that do not speak SunSpec.
 *
 * A map (docs/devices.md, conf/devices/) names the device (manufacturer,
 * model, kind) and lists its points: each a name from a fixed vocabulary
 * (soc_pct, power_w, setpoint_w, ...; fg_regmap_vocab) that the adapter
 * maps into the flexibility model, where it lives (function and address),
 * how it is encoded (type, byte and word order, scale), and whether it may
 * be written (access, min/max). Names starting with "x_" are vendor
 * extras: decoded, but not mapped into the model.
 *
 * Nothing here opens a file or a socket: the caller reads the file and the
 * registers and hands them over as host-order uint16_t (one per register, or
 * for coils / discrete inputs one per bit, 0 or 1). */
#ifndef FG_REGMAP_H
#define FG_REGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_err.h"

#define FG_REGMAP_VERSION 1       /* the file's "regmap" member */
#define FG_REGMAP_MAX_POINTS 512  /* per map */
#define FG_REGMAP_NAME_MAX 48     /* bytes of a point name */
#define FG_REGMAP_TEXT_MAX 4096   /* bytes of a description or source */
#define FG_REGMAP_SCALE_EXP_MAX 9 /* |scale_exp| */

enum fg_regmap_kind {
    FG_REGMAP_BATTERY,
    FG_REGMAP_PV,
    FG_REGMAP_METER,
};

enum fg_regmap_function {
    FG_REGMAP_HOLDING,  /* FC 3 read, FC 6/16 write */
    FG_REGMAP_INPUT,    /* FC 4, read-only */
    FG_REGMAP_COIL,     /* FC 1 read, FC 5/15 write */
    FG_REGMAP_DISCRETE, /* FC 2, read-only */
};

enum fg_regmap_type {
    FG_REGMAP_U16,
    FG_REGMAP_I16,
    FG_REGMAP_U32,
    FG_REGMAP_I32,
    FG_REGMAP_U64,
    FG_REGMAP_I64,
    FG_REGMAP_F32,
    FG_REGMAP_BOOL, /* coils and discrete inputs: one bit */
};

/* One entry of the vocabulary of point names. Values are always in unit
 * (after scale); a map whose device counts in other units scales them. */
struct fg_regmap_vocab {
    const char *name; /* "soc_pct" */
    const char *unit; /* "%", "W", "Wh", "s", "C", "V", "A", "" */
    uint8_t kinds;    /* bit per enum fg_regmap_kind it may appear in */
    uint8_t access;   /* FG_REGMAP_VOCAB_R / _RW / _W (must be writable) */
    double lo, hi;    /* plausible readings; outside: FG_REGMAP_IMPLAUSIBLE */
    const char *doc;  /* meaning and sign convention (docs/devices.md) */
};
#define FG_REGMAP_VOCAB_R 1  /* read-only */
#define FG_REGMAP_VOCAB_RW 2 /* either */
#define FG_REGMAP_VOCAB_W 3  /* a set-point: must be "rw" */

extern const struct fg_regmap_vocab fg_regmap_vocab[];
extern const size_t fg_regmap_vocab_count;

/* The vocabulary entry of name, NULL for an unknown name (or an "x_" one). */
const struct fg_regmap_vocab *fg_regmap_vocab_find(const char *name);

struct fg_regmap_point {
    char name[FG_REGMAP_NAME_MAX];
    const struct fg_regmap_vocab *vocab; /* NULL for "x_" vendor points */
    uint16_t address;                    /* 0-based protocol address */
    uint8_t function;                    /* enum fg_regmap_function */
    uint8_t type;                        /* enum fg_regmap_type */
    uint8_t size;                        /* registers (1 for bits) */
    bool word_swap;                      /* least significant word first */
    bool byte_swap;                      /* low byte first within a register */
    bool writable;                       /* "access": "rw" */
    double scale;                        /* value = raw * scale; never 0 */
    bool has_min, has_max;               /* write limits, in value units */
    double min, max;
    bool has_na;       /* a raw value meaning "not available" */
    uint64_t na;       /* as the type's bits (i16 -1 = 0xffff) */
    char *description; /* NULL if none */
};

struct fg_regmap {
    char *manufacturer, *model, *description, *source; /* source may be NULL */
    uint8_t kind;                                      /* enum fg_regmap_kind */
    uint8_t unit_id; /* default unit id, 0 if the file gives none */
    struct fg_regmap_point *points;
    size_t npoints;
};

/* Parse a map file's text (len bytes, need not be NUL-terminated) into m,
 * which the caller has zeroed or cleared; fg_regmap_clear() frees it in
 * every case. Every mistake is added to errs with its JSON path, e.g.
 * "/points/3/type: "u24" is not one of u16, i16, ...": unknown keys, wrong
 * types, missing members, values out of range, unknown or duplicate point
 * names, a name not for this kind of device, a set-point that is not "rw",
 * a unit that is not the vocabulary's, registers of two points that overlap.
 * Returns 0, FG_EPARSE (not JSON: one error with the byte offset),
 * FG_ECONFIG (errs says why) or FG_ENOMEM. */
int fg_regmap_load(struct fg_regmap *m, const char *text, size_t len,
                   struct fg_errlist *errs);

void fg_regmap_clear(struct fg_regmap *m);

/* A point by name, NULL if the map has none. */
const struct fg_regmap_point *fg_regmap_find(const struct fg_regmap *m, const char *name);

enum fg_regmap_status {
    FG_REGMAP_OK,
    FG_REGMAP_NA,          /* the raw value is the point's "na" (or f32 NaN) */
    FG_REGMAP_IMPLAUSIBLE, /* a number outside the vocabulary's lo..hi */
};

struct fg_regmap_value {
    uint8_t status; /* enum fg_regmap_status */
    uint64_t raw;   /* the type's bits, word and byte order undone */
    double v;       /* raw * scale (for NA: 0) */
};

/* Decode point p from regs (n >= p->size registers read at p->address;
 * for bits regs[0] is 0 or 1). FG_EINVAL if n is too small. */
int fg_regmap_decode(const struct fg_regmap_point *p, const uint16_t *regs, size_t n,
                     struct fg_regmap_value *v, struct fg_error *e);

/* Encode value (in the point's unit) into the p->size registers to write at
 * p->address (out[0..3]; for a coil out[0] is 0 or 1). The raw value is
 * value / scale rounded to the nearest integer. Refuses, naming the point:
 *   FG_EFORBIDDEN p is read-only
 *   FG_EINVAL     value not finite; not 0 or 1 for a coil
 *   FG_ERANGE     below min / above max, the raw value does not fit the
 *                 type, or it is the point's "na" value */
int fg_regmap_encode(const struct fg_regmap_point *p, double value, uint16_t out[4],
                     struct fg_error *e);

/* Encode without the access, min/max and "na" checks: for a device (the
 * simulator) filling its own read-only registers. FG_EINVAL / FG_ERANGE
 * when the value does not fit the type. */
int fg_regmap_encode_raw(const struct fg_regmap_point *p, double value, uint16_t out[4],
                         struct fg_error *e);

/* "holding", "u32", "battery", ...; "?" for an unknown value. */
const char *fg_regmap_function_name(int function);
const char *fg_regmap_type_name(int type);
const char *fg_regmap_kind_name(int kind);

#endif
