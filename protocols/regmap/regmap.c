/* Register-map files (fg_regmap.h): loader, vocabulary, decoder, encoder. */
#include "fg_regmap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fg_buf.h"

#define B (1u << FG_REGMAP_BATTERY)
#define P (1u << FG_REGMAP_PV)
#define M (1u << FG_REGMAP_METER)
#define R FG_REGMAP_VOCAB_R
#define RW FG_REGMAP_VOCAB_RW
#define W FG_REGMAP_VOCAB_W

/* The names the adapter maps into the model. Power is signed as in the
 * model: + = consumption / charging / import, - = production / discharge /
 * export. A device that counts the other way gets a negative scale. */
const struct fg_regmap_vocab fg_regmap_vocab[] = {
    {"soc_pct", "%", B, R, 0, 100, "state of charge"},
    {"soh_pct", "%", B, R, 0, 100, "state of health"},
    {"capacity_wh", "Wh", B, R, 0, 1e9, "usable energy at 100 % SoC"},
    {"power_w", "W", B | P | M, R, -1e8, 1e8,
     "active power: + charging (battery), consuming (pv at night), importing (meter)"},
    {"max_charge_w", "W", B, RW, 0, 1e8, "charge power limit now (>= 0)"},
    {"max_discharge_w", "W", B, RW, 0, 1e8, "discharge power limit now (>= 0)"},
    {"temperature_c", "C", B | P, R, -60, 150, "device or cell temperature"},
    {"voltage_v", "V", B | P, R, 0, 2000, "DC voltage of the battery / PV string"},
    {"current_a", "A", B | P, R, -1e5, 1e5, "DC current, + charging"},
    {"alarm", "", B | P | M, R, 0, 1.8446744073709552e19,
     "alarm or fault word: 0 = none, anything else = an alarm"},
    {"state", "", B | P | M, R, 0, 1.8446744073709552e19, "device-specific state code"},
    {"heartbeat", "", B | P | M, RW, 0, 1.8446744073709552e19,
     "watchdog register the gateway rewrites (counter)"},
    {"setpoint_w", "W", B, W, -1e8, 1e8,
     "battery power set-point: + charge, - discharge"},
    {"setpoint_revert_s", "s", B, RW, 0, 1e7,
     "seconds after the last set-point write before the device falls back to its "
     "safe default; 0 = never"},
    {"grid_setpoint_w", "W", B, W, -1e8, 1e8,
     "grid power set-point the device regulates to: + import, - export"},
    {"pv_limit_pct", "%", P, W, 0, 100, "active power limit, % of rated"},
    {"pv_limit_w", "W", P, W, 0, 1e8, "active power limit, W"},
    {"rated_w", "W", B | P, R, 0, 1e8, "nameplate power"},
    {"power_l1_w", "W", M, R, -1e8, 1e8, "phase L1 power, + import"},
    {"power_l2_w", "W", M, R, -1e8, 1e8, "phase L2 power, + import"},
    {"power_l3_w", "W", M, R, -1e8, 1e8, "phase L3 power, + import"},
    {"voltage_l1_v", "V", M | P, R, 0, 1000, "phase L1 voltage"},
    {"voltage_l2_v", "V", M | P, R, 0, 1000, "phase L2 voltage"},
    {"voltage_l3_v", "V", M | P, R, 0, 1000, "phase L3 voltage"},
    {"current_l1_a", "A", M | P, R, -1e5, 1e5, "phase L1 current, + import"},
    {"current_l2_a", "A", M | P, R, -1e5, 1e5, "phase L2 current, + import"},
    {"current_l3_a", "A", M | P, R, -1e5, 1e5, "phase L3 current, + import"},
    {"energy_import_wh", "Wh", M | P | B, R, 0, 1e15, "energy register, import/charge"},
    {"energy_export_wh", "Wh", M | P | B, R, 0, 1e15,
     "energy register, export/discharge/production"},
};
const size_t fg_regmap_vocab_count = sizeof(fg_regmap_vocab) / sizeof(fg_regmap_vocab[0]);

#undef B
#undef P
#undef M
#undef R
#undef RW
#undef W

static const char *const kind_names[] = {"battery", "pv", "meter"};
static const char *const function_names[] = {"holding", "input", "coil", "discrete"};
static const char *const type_names[] = {"u16", "i16", "u32", "i32",
                                         "u64", "i64", "f32", "bool"};
static const uint8_t type_sizes[] = {1, 1, 2, 2, 4, 4, 2, 1};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "?";
}

const char *fg_regmap_function_name(int function)
{
    return name_of(function_names, NELEM(function_names), function);
}

const char *fg_regmap_type_name(int type)
{
    return name_of(type_names, NELEM(type_names), type);
}

const char *fg_regmap_kind_name(int kind)
{
    return name_of(kind_names, NELEM(kind_names), kind);
}

const struct fg_regmap_vocab *fg_regmap_vocab_find(const char *name)
{
    for (size_t i = 0; i < fg_regmap_vocab_count; i++)
        if (!strcmp(fg_regmap_vocab[i].name, name))
            return &fg_regmap_vocab[i];
    return NULL;
}

/* ---- loading ---------------------------------------------------------------- */

/* Parsing state of one file. */
struct ld {
    struct fg_regmap *m;
    struct fg_errlist *errs;
    int nomem;
    /* top level */
    bool have_version, have_points;
    int byte_swap, word_swap; /* defaults for the points */
    /* the point being read */
    struct fg_regmap_point *p;
    bool have_name, have_address, have_function, have_type, have_scale, have_exp,
        have_access, have_wo, have_bo;
    const cJSON *na;
};

static void err(struct ld *l, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void err(struct ld *l, int code, const char *path, const char *fmt, ...)
{
    char msg[FG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fg_errlist_add(l->errs, code, path, "%s", msg);
}

static char *dup_text(struct ld *l, const char *s)
{
    char *d = strdup(s);
    if (!d)
        l->nomem = 1;
    return d;
}

/* A string member of at most max bytes; NULL (error added) otherwise. */
static const char *get_string(struct ld *l, const cJSON *v, const char *path, size_t max)
{
    if (!cJSON_IsString(v)) {
        err(l, FG_ETYPE, path, "must be a string");
        return NULL;
    }
    if (strlen(v->valuestring) > max) {
        err(l, FG_ETOOBIG, path, "longer than %zu bytes", max);
        return NULL;
    }
    return v->valuestring;
}

/* Index of v's string in names, -1 (error added) otherwise. */
static int get_enum(struct ld *l, const cJSON *v, const char *path,
                    const char *const *names, size_t n)
{
    const char *s = get_string(l, v, path, 32);
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return (int)i;
    char list[160] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                 names[i]);
    err(l, FG_ERANGE, path, "\"%s\" is not one of %s", s, list);
    return -1;
}

/* An integer member in [lo, hi]; false (error added) otherwise. */
static bool get_int(struct ld *l, const cJSON *v, const char *path, double lo, double hi,
                    double *out)
{
    if (!cJSON_IsNumber(v)) {
        err(l, FG_ETYPE, path, "must be a number");
        return false;
    }
    double d = v->valuedouble;
    if (d != floor(d) || d < lo || d > hi) {
        err(l, FG_ERANGE, path, "%g is not an integer in [%.0f, %.0f]", d, lo, hi);
        return false;
    }
    *out = d;
    return true;
}

static bool get_number(struct ld *l, const cJSON *v, const char *path, double *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        err(l, FG_ETYPE, path, "must be a number");
        return false;
    }
    *out = v->valuedouble;
    return true;
}

static const char *const order_names[] = {"big", "little"};

/* One table row per key: a handler reading the value at path. */
typedef void (*key_fn)(struct ld *l, const cJSON *v, const char *path);
struct key {
    const char *name;
    key_fn fn;
};

static void each_key(struct ld *l, const cJSON *obj, const char *path,
                     const struct key *keys, size_t nkeys)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, obj)
    {
        char p[FG_ERR_PATH_MAX];
        fg_json_pointer_key(p, sizeof(p), path, v->string);
        size_t i = 0;
        while (i < nkeys && strcmp(keys[i].name, v->string))
            i++;
        if (i == nkeys)
            err(l, FG_EUNKNOWN, p, "unknown key");
        else
            keys[i].fn(l, v, p);
    }
}

/* -- top-level members -- */

static void top_version(struct ld *l, const cJSON *v, const char *path)
{
    double d;
    l->have_version = true;
    get_int(l, v, path, FG_REGMAP_VERSION, FG_REGMAP_VERSION, &d);
}

static void top_text(struct ld *l, const cJSON *v, const char *path, char **out)
{
    const char *s = get_string(l, v, path, FG_REGMAP_TEXT_MAX);
    if (s) {
        free(*out);
        *out = dup_text(l, s);
    }
}

static void top_manufacturer(struct ld *l, const cJSON *v, const char *path)
{
    top_text(l, v, path, &l->m->manufacturer);
}

static void top_model(struct ld *l, const cJSON *v, const char *path)
{
    top_text(l, v, path, &l->m->model);
}

static void top_description(struct ld *l, const cJSON *v, const char *path)
{
    top_text(l, v, path, &l->m->description);
}

static void top_source(struct ld *l, const cJSON *v, const char *path)
{
    top_text(l, v, path, &l->m->source);
}

static void top_kind(struct ld *l, const cJSON *v, const char *path)
{
    int k = get_enum(l, v, path, kind_names, NELEM(kind_names));
    if (k >= 0)
        l->m->kind = (uint8_t)k;
}

static void top_unit_id(struct ld *l, const cJSON *v, const char *path)
{
    double d;
    if (get_int(l, v, path, 1, 247, &d))
        l->m->unit_id = (uint8_t)d;
}

static void top_byte_order(struct ld *l, const cJSON *v, const char *path)
{
    int o = get_enum(l, v, path, order_names, NELEM(order_names));
    if (o >= 0)
        l->byte_swap = o;
}

static void top_word_order(struct ld *l, const cJSON *v, const char *path)
{
    int o = get_enum(l, v, path, order_names, NELEM(order_names));
    if (o >= 0)
        l->word_swap = o;
}

/* The points are read after the other members (their defaults first). */
static void top_points(struct ld *l, const cJSON *v, const char *path)
{
    l->have_points = true;
    if (!cJSON_IsArray(v))
        err(l, FG_ETYPE, path, "must be an array");
}

static const struct key top_keys[] = {
    {"regmap", top_version},
    {"manufacturer", top_manufacturer},
    {"model", top_model},
    {"kind", top_kind},
    {"description", top_description},
    {"source", top_source},
    {"unit_id", top_unit_id},
    {"byte_order", top_byte_order},
    {"word_order", top_word_order},
    {"points", top_points},
};

/* -- point members -- */

static void pt_name(struct ld *l, const cJSON *v, const char *path)
{
    const char *s = get_string(l, v, path, FG_REGMAP_NAME_MAX - 1);
    if (!s)
        return;
    l->have_name = true;
    snprintf(l->p->name, sizeof(l->p->name), "%s", s);
    if (!strncmp(s, "x_", 2) && s[2])
        return;
    l->p->vocab = fg_regmap_vocab_find(s);
    if (!l->p->vocab)
        err(l, FG_EUNKNOWN, path,
            "\"%s\" is not a point name flexgw knows (docs/devices.md; vendor "
            "extras start with \"x_\")",
            s);
}

static void pt_address(struct ld *l, const cJSON *v, const char *path)
{
    double d;
    if (get_int(l, v, path, 0, 65535, &d)) {
        l->p->address = (uint16_t)d;
        l->have_address = true;
    }
}

static void pt_function(struct ld *l, const cJSON *v, const char *path)
{
    int f = get_enum(l, v, path, function_names, NELEM(function_names));
    if (f >= 0) {
        l->p->function = (uint8_t)f;
        l->have_function = true;
    }
}

static void pt_type(struct ld *l, const cJSON *v, const char *path)
{
    int t = get_enum(l, v, path, type_names, NELEM(type_names));
    if (t >= 0) {
        l->p->type = (uint8_t)t;
        l->have_type = true;
    }
}

static void pt_word_order(struct ld *l, const cJSON *v, const char *path)
{
    int o = get_enum(l, v, path, order_names, NELEM(order_names));
    if (o >= 0) {
        l->p->word_swap = o;
        l->have_wo = true;
    }
}

static void pt_byte_order(struct ld *l, const cJSON *v, const char *path)
{
    int o = get_enum(l, v, path, order_names, NELEM(order_names));
    if (o >= 0) {
        l->p->byte_swap = o;
        l->have_bo = true;
    }
}

static void pt_scale(struct ld *l, const cJSON *v, const char *path)
{
    double d;
    l->have_scale = true;
    if (!get_number(l, v, path, &d))
        return;
    if (d == 0)
        err(l, FG_ERANGE, path, "must not be 0");
    else
        l->p->scale = d;
}

static void pt_scale_exp(struct ld *l, const cJSON *v, const char *path)
{
    double d;
    l->have_exp = true;
    if (get_int(l, v, path, -FG_REGMAP_SCALE_EXP_MAX, FG_REGMAP_SCALE_EXP_MAX, &d))
        l->p->scale = pow(10, d);
}

/* Checked against the vocabulary in point_check(), once the name is known. */
static void pt_unit(struct ld *l, const cJSON *v, const char *path)
{
    get_string(l, v, path, 16);
}

static void pt_access(struct ld *l, const cJSON *v, const char *path)
{
    static const char *const access_names[] = {"r", "rw"};
    int a = get_enum(l, v, path, access_names, NELEM(access_names));
    if (a >= 0) {
        l->p->writable = a == 1;
        l->have_access = true;
    }
}

static void pt_min(struct ld *l, const cJSON *v, const char *path)
{
    if (get_number(l, v, path, &l->p->min))
        l->p->has_min = true;
}

static void pt_max(struct ld *l, const cJSON *v, const char *path)
{
    if (get_number(l, v, path, &l->p->max))
        l->p->has_max = true;
}

static void pt_na(struct ld *l, const cJSON *v, const char *path)
{
    (void)path;
    l->na = v; /* checked once the type is known */
}

static void pt_description(struct ld *l, const cJSON *v, const char *path)
{
    top_text(l, v, path, &l->p->description);
}

static const struct key point_keys[] = {
    {"name", pt_name},
    {"address", pt_address},
    {"function", pt_function},
    {"type", pt_type},
    {"word_order", pt_word_order},
    {"byte_order", pt_byte_order},
    {"scale", pt_scale},
    {"scale_exp", pt_scale_exp},
    {"unit", pt_unit},
    {"access", pt_access},
    {"min", pt_min},
    {"max", pt_max},
    {"na", pt_na},
    {"description", pt_description},
};

static bool type_signed(int t)
{
    return t == FG_REGMAP_I16 || t == FG_REGMAP_I32 || t == FG_REGMAP_I64;
}

/* Raw range of an integer type, as doubles (u64 / i64 are approximate at
 * the top, which the encoder guards separately). */
static void type_range(int t, double *lo, double *hi)
{
    switch (t) {
    case FG_REGMAP_U16:
        *lo = 0, *hi = 65535;
        break;
    case FG_REGMAP_I16:
        *lo = -32768, *hi = 32767;
        break;
    case FG_REGMAP_U32:
        *lo = 0, *hi = 4294967295.0;
        break;
    case FG_REGMAP_I32:
        *lo = -2147483648.0, *hi = 2147483647.0;
        break;
    case FG_REGMAP_U64:
        *lo = 0, *hi = 18446744073709551615.0;
        break;
    case FG_REGMAP_I64:
        *lo = -9223372036854775808.0, *hi = 9223372036854775807.0;
        break;
    case FG_REGMAP_BOOL:
        *lo = 0, *hi = 1;
        break;
    default:
        *lo = -INFINITY, *hi = INFINITY;
    }
}

/* The na member as the type's bits. */
static void point_na(struct ld *l, const char *path)
{
    struct fg_regmap_point *p = l->p;
    char np[FG_ERR_PATH_MAX];
    fg_json_pointer_key(np, sizeof(np), path, "na");
    double d, lo, hi;
    if (p->type == FG_REGMAP_F32 || p->type == FG_REGMAP_BOOL) {
        err(l, FG_EUNSUPPORTED, np, "only integer types have an \"na\" value");
        return;
    }
    type_range(p->type, &lo, &hi);
    if (!get_int(l, l->na, np, lo, hi, &d))
        return;
    p->has_na = true;
    unsigned bits = 16u * p->size;
    uint64_t mask = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    p->na = (d < 0 ? (uint64_t)(int64_t)d : (uint64_t)d) & mask;
}

/* Cross-member checks of one point, after all its members were read. */
static void point_check(struct ld *l, const cJSON *obj, const char *path)
{
    struct fg_regmap_point *p = l->p;
    if (!l->have_name)
        err(l, FG_EMISSING, path, "\"name\" missing");
    if (!l->have_address)
        err(l, FG_EMISSING, path, "\"address\" missing");
    if (!l->have_function)
        err(l, FG_EMISSING, path, "\"function\" missing");
    bool bit = p->function == FG_REGMAP_COIL || p->function == FG_REGMAP_DISCRETE;
    if (!l->have_type)
        p->type = bit ? FG_REGMAP_BOOL : FG_REGMAP_U16;
    p->size = type_sizes[p->type];
    char tp[FG_ERR_PATH_MAX];
    fg_json_pointer_key(tp, sizeof(tp), path, "type");
    if (l->have_function && bit != (p->type == FG_REGMAP_BOOL))
        err(l, FG_ETYPE, tp, "%s with function %s: bits are \"bool\", registers are not",
            type_names[p->type], function_names[p->function]);
    if (l->have_address && (uint32_t)p->address + p->size > 65536)
        err(l, FG_ERANGE, path, "%s at %u runs past address 65535", type_names[p->type],
            p->address);
    if (!l->have_wo)
        p->word_swap = l->word_swap;
    if (!l->have_bo)
        p->byte_swap = l->byte_swap;
    if (l->have_scale && l->have_exp)
        err(l, FG_EINVAL, path, "give \"scale\" or \"scale_exp\", not both");
    if (p->scale != 1 && (p->type == FG_REGMAP_BOOL))
        err(l, FG_EINVAL, path, "a bool has no scale");
    if (!l->have_access)
        p->writable = false;
    char ap[FG_ERR_PATH_MAX];
    fg_json_pointer_key(ap, sizeof(ap), path, "access");
    if (p->writable &&
        (p->function == FG_REGMAP_INPUT || p->function == FG_REGMAP_DISCRETE))
        err(l, FG_EINVAL, ap, "%s registers cannot be written",
            function_names[p->function]);
    if ((p->has_min || p->has_max) && !p->writable)
        err(l, FG_EINVAL, path, "\"min\"/\"max\" limit writes: only for \"rw\" points");
    if (p->has_min && p->has_max && p->min > p->max)
        err(l, FG_ERANGE, path, "min %g > max %g", p->min, p->max);
    if (l->na)
        point_na(l, path);
    const struct fg_regmap_vocab *vc = p->vocab;
    if (!vc)
        return;
    if (!(vc->kinds & (1u << l->m->kind)))
        err(l, FG_EINVAL, path, "\"%s\" is not a point of a %s", vc->name,
            kind_names[l->m->kind]);
    if (vc->access == FG_REGMAP_VOCAB_W && !p->writable)
        err(l, FG_EINVAL, ap, "\"%s\" is a set-point: access must be \"rw\"", vc->name);
    if (vc->access == FG_REGMAP_VOCAB_R && p->writable)
        err(l, FG_EINVAL, ap, "\"%s\" is a reading: access must be \"r\"", vc->name);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(obj, "unit");
    if (cJSON_IsString(u) && strcmp(u->valuestring, vc->unit)) {
        char up[FG_ERR_PATH_MAX];
        fg_json_pointer_key(up, sizeof(up), path, "unit");
        err(l, FG_EINVAL, up,
            "\"%s\" counts in \"%s\", not \"%s\": convert with \"scale\" instead",
            vc->name, vc->unit, u->valuestring);
    }
}

static void load_point(struct ld *l, const cJSON *obj, const char *path)
{
    l->have_name = l->have_address = l->have_function = l->have_type = false;
    l->have_scale = l->have_exp = l->have_access = l->have_wo = l->have_bo = false;
    l->na = NULL;
    l->p->scale = 1;
    if (!cJSON_IsObject(obj)) {
        err(l, FG_ETYPE, path, "must be an object");
        return;
    }
    each_key(l, obj, path, point_keys, NELEM(point_keys));
    point_check(l, obj, path);
    if (!l->have_address || !l->have_function)
        l->p->size = 0; /* not placed: left out of the overlap check */
}

static void load_points(struct ld *l, const cJSON *arr)
{
    int n = cJSON_GetArraySize(arr);
    if (n == 0) {
        err(l, FG_EMISSING, "/points", "no points");
        return;
    }
    if (n > FG_REGMAP_MAX_POINTS) {
        err(l, FG_ETOOBIG, "/points", "%d points, at most %d", n, FG_REGMAP_MAX_POINTS);
        return;
    }
    l->m->points = calloc((size_t)n, sizeof(*l->m->points));
    if (!l->m->points) {
        l->nomem = 1;
        return;
    }
    const cJSON *v;
    int i = 0;
    cJSON_ArrayForEach(v, arr)
    {
        char path[32];
        snprintf(path, sizeof(path), "/points/%d", i);
        l->p = &l->m->points[i++];
        l->m->npoints++;
        load_point(l, v, path);
    }
}

/* Duplicate names and overlapping registers, each reported once. */
static void check_points(struct ld *l)
{
    struct fg_regmap *m = l->m;
    for (size_t i = 0; i < m->npoints; i++)
        for (size_t j = 0; j < i; j++)
            if (m->points[i].name[0] && !strcmp(m->points[i].name, m->points[j].name)) {
                char path[40];
                snprintf(path, sizeof(path), "/points/%zu/name", i);
                err(l, FG_EEXISTS, path, "\"%s\" already at /points/%zu",
                    m->points[i].name, j);
                break;
            }
    /* quadratic, but at most FG_REGMAP_MAX_POINTS points once per load */
    for (size_t i = 0; i < m->npoints; i++)
        for (size_t j = 0; j < i; j++) {
            const struct fg_regmap_point *a = &m->points[j], *b = &m->points[i];
            if (a->function != b->function || !a->size || !b->size ||
                (uint32_t)a->address + a->size <= b->address ||
                (uint32_t)b->address + b->size <= a->address)
                continue;
            char path[40];
            snprintf(path, sizeof(path), "/points/%zu/address", i);
            err(l, FG_EEXISTS, path,
                "%s %u..%u of \"%s\" overlaps /points/%zu \"%s\" (%u..%u)",
                function_names[b->function], b->address, b->address + b->size - 1u,
                b->name, j, a->name, a->address, a->address + a->size - 1u);
            break;
        }
}

int fg_regmap_load(struct fg_regmap *m, const char *text, size_t len,
                   struct fg_errlist *errs)
{
    struct ld l = {.m = m, .errs = errs};
    size_t before = fg_errlist_count(errs);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        fg_errlist_add(errs, FG_EPARSE, "", "not JSON (near byte %ld)", off);
        return FG_EPARSE;
    }
    if (!cJSON_IsObject(root)) {
        err(&l, FG_ETYPE, "", "must be an object");
        goto out;
    }
    each_key(&l, root, "", top_keys, NELEM(top_keys));
    if (!l.have_version)
        err(&l, FG_EMISSING, "/regmap", "missing (the format version, %d)",
            FG_REGMAP_VERSION);
    if (!m->manufacturer)
        err(&l, FG_EMISSING, "/manufacturer", "missing");
    if (!m->model)
        err(&l, FG_EMISSING, "/model", "missing");
    if (!cJSON_GetObjectItemCaseSensitive(root, "kind"))
        err(&l, FG_EMISSING, "/kind", "missing (battery, pv or meter)");
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(root, "points");
    if (!l.have_points)
        err(&l, FG_EMISSING, "/points", "missing");
    else if (cJSON_IsArray(pts))
        load_points(&l, pts);
    if (!l.nomem)
        check_points(&l);
out:
    cJSON_Delete(root);
    if (l.nomem)
        return FG_ENOMEM;
    return fg_errlist_count(errs) > before ? FG_ECONFIG : 0;
}

void fg_regmap_clear(struct fg_regmap *m)
{
    free(m->manufacturer);
    free(m->model);
    free(m->description);
    free(m->source);
    for (size_t i = 0; i < m->npoints; i++)
        free(m->points[i].description);
    free(m->points);
    memset(m, 0, sizeof(*m));
}

const struct fg_regmap_point *fg_regmap_find(const struct fg_regmap *m, const char *name)
{
    for (size_t i = 0; i < m->npoints; i++)
        if (!strcmp(m->points[i].name, name))
            return &m->points[i];
    return NULL;
}

/* ---- decoding and encoding -------------------------------------------------- */

static int fail(struct fg_error *e, int code, const struct fg_regmap_point *p,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct fg_error *e, int code, const struct fg_regmap_point *p,
                const char *fmt, ...)
{
    char msg[FG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fg_error_set(e, code, p->name, "%s (%s %s at %u): %s", p->name,
                        function_names[p->function], type_names[p->type], p->address,
                        msg);
}

static uint16_t swap16(uint16_t r)
{
    return (uint16_t)(r << 8 | r >> 8);
}

/* Registers (as read) -> the type's bits. */
static uint64_t gather(const struct fg_regmap_point *p, const uint16_t *regs)
{
    uint64_t raw = 0;
    for (unsigned i = 0; i < p->size; i++) {
        uint16_t r = regs[p->word_swap ? p->size - 1 - i : i];
        raw = raw << 16 | (p->byte_swap ? swap16(r) : r);
    }
    return raw;
}

static void scatter(const struct fg_regmap_point *p, uint64_t raw, uint16_t *out)
{
    for (unsigned i = 0; i < p->size; i++) {
        uint16_t r = (uint16_t)(raw >> (16 * (p->size - 1 - i)));
        out[p->word_swap ? p->size - 1 - i : i] = p->byte_swap ? swap16(r) : r;
    }
}

static double raw_number(int type, uint64_t raw)
{
    switch (type) {
    case FG_REGMAP_I16:
        return (int16_t)raw;
    case FG_REGMAP_I32:
        return (int32_t)raw;
    case FG_REGMAP_I64:
        return (double)(int64_t)raw;
    case FG_REGMAP_F32: {
        uint32_t u = (uint32_t)raw;
        float f;
        memcpy(&f, &u, sizeof(f));
        return f;
    }
    default:
        return (double)raw;
    }
}

int fg_regmap_decode(const struct fg_regmap_point *p, const uint16_t *regs, size_t n,
                     struct fg_regmap_value *v, struct fg_error *e)
{
    memset(v, 0, sizeof(*v));
    if (n < p->size)
        return fail(e, FG_EINVAL, p, "%zu registers, needs %u", n, p->size);
    if (p->type == FG_REGMAP_BOOL) {
        v->raw = regs[0] != 0;
        v->v = (double)v->raw;
        return 0;
    }
    v->raw = gather(p, regs);
    double x = raw_number(p->type, v->raw);
    if ((p->has_na && v->raw == p->na) || isnan(x)) {
        v->status = FG_REGMAP_NA;
        return 0;
    }
    v->v = x * p->scale;
    if (p->vocab && !(v->v >= p->vocab->lo && v->v <= p->vocab->hi))
        v->status = FG_REGMAP_IMPLAUSIBLE;
    return 0;
}

int fg_regmap_encode_raw(const struct fg_regmap_point *p, double value, uint16_t out[4],
                         struct fg_error *e)
{
    memset(out, 0, 4 * sizeof(*out));
    if (!isfinite(value))
        return fail(e, FG_EINVAL, p, "value not finite");
    if (p->type == FG_REGMAP_BOOL) {
        if (value != 0 && value != 1)
            return fail(e, FG_EINVAL, p, "%g is not 0 or 1", value);
        out[0] = value != 0;
        return 0;
    }
    double x = value / p->scale;
    if (p->type == FG_REGMAP_F32) {
        if (fabs(x) > 3.4028234663852886e38)
            return fail(e, FG_ERANGE, p, "%g does not fit a float", value);
        float f = (float)x;
        uint32_t u;
        memcpy(&u, &f, sizeof(u));
        scatter(p, u, out);
        return 0;
    }
    double lo, hi;
    type_range(p->type, &lo, &hi);
    x = round(x);
    /* hi of the 64-bit types rounds up to 2^64 / 2^63, which do not fit */
    if (x < lo || x > hi || (p->size == 4 && x >= hi))
        return fail(e, FG_ERANGE, p, "raw value %.0f does not fit %s", x,
                    type_names[p->type]);
    uint64_t raw = type_signed(p->type) ? (uint64_t)(int64_t)x : (uint64_t)x;
    scatter(p, raw, out);
    return 0;
}

int fg_regmap_encode(const struct fg_regmap_point *p, double value, uint16_t out[4],
                     struct fg_error *e)
{
    memset(out, 0, 4 * sizeof(*out));
    if (!p->writable)
        return fail(e, FG_EFORBIDDEN, p, "read-only");
    if (!isfinite(value))
        return fail(e, FG_EINVAL, p, "value not finite");
    if (p->has_min && value < p->min)
        return fail(e, FG_ERANGE, p, "%g below the minimum %g", value, p->min);
    if (p->has_max && value > p->max)
        return fail(e, FG_ERANGE, p, "%g above the maximum %g", value, p->max);
    int rc = fg_regmap_encode_raw(p, value, out, e);
    if (rc)
        return rc;
    if (p->has_na && p->type != FG_REGMAP_BOOL && gather(p, out) == p->na)
        return fail(e, FG_ERANGE, p, "%g encodes as the \"not available\" value", value);
    return 0;
}
