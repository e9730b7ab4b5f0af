/* Validator engine for the tables generated from the OCPP JSON schemas.
 *
 * Why a table walker and not generated code: the two versions share one
 * small, fuzzed engine, and the tables (flat const arrays, identical
 * sub-schemas shared) are what the generator must get right. The walk
 * recurses along the schema, which is finite and non-recursive (the
 * generator refuses recursive $refs and depths above
 * FG_OCPP_SCHEMA_MAX_DEPTH), so stack use is bounded whatever the payload.
 * Open objects (CustomDataType) are not descended into beyond their declared
 * properties. The path of the current value is kept as a stack of (key or
 * index) frames and only turned into a JSON pointer when something fails. */
#define FG_OCPP_SCHEMA_INTERNAL
#include "fg_json.h"
#include "fg_ocpp_schema.h"
#include "fg_utf8.h"

#include "fg_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define QUOTE_MAX 48      /* bytes of a payload string quoted in a description */
#define ENUM_LIST_MAX 150 /* bytes of the "one of ..." list */

struct frame {
    const char *key; /* NULL: array element */
    int index;
};

struct vctx {
    const struct fg_ocpp_schema_tables *t;
    struct fg_ocpp_verror *err;
    unsigned depth;
    struct frame path[FG_OCPP_SCHEMA_MAX_DEPTH];
};

static const struct fg_ocpp_schema_tables *tables(enum fg_ocpp_version v)
{
    switch (v) {
    case FG_OCPP_V201:
        return &fg_ocpp_schema_v201;
    case FG_OCPP_V21:
        return &fg_ocpp_schema_v21;
    }
    return NULL;
}

/* Number of code points of a NUL-terminated string; -1 if not valid UTF-8. */
/* strcmp, with the first byte compared inline: most probes differ there. */
static inline int name_cmp(const char *a, const char *b)
{
    if (*a != *b)
        return (unsigned char)*a - (unsigned char)*b;
    return strcmp(a, b);
}

static long utf8_count(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    long n = 0;
    while (*s) {
        if (*s < 0x80) {
            s++;
            n++;
            continue;
        }
        size_t k = fg_utf8_len(s, 4);
        if (!k)
            return -1;
        s += k;
        n++;
    }
    return n;
}

/* Append at most max bytes of src to dst[size] (NUL-terminated), keeping the
 * result valid UTF-8: invalid bytes and control characters become '?', a
 * character that does not fit is dropped whole and "..." marks the cut.
 * pointer != 0 escapes '~' and '/' as in a JSON pointer (RFC 6901). */
static void append_text(char *dst, size_t size, const char *src, size_t max, int pointer)
{
    size_t len = strlen(dst);
    const unsigned char *s = (const unsigned char *)src;
    size_t used = 0;
    while (*s) {
        char tmp[4];
        size_t k = fg_utf8_len(s, 4), n = k;
        if (k == 0 || *s < 0x20 || *s == 0x7f) {
            tmp[0] = '?';
            n = 1;
            k = 1;
        } else if (pointer && (*s == '~' || *s == '/')) {
            tmp[0] = '~';
            tmp[1] = *s == '~' ? '0' : '1';
            n = 2;
        } else {
            memcpy(tmp, s, k);
        }
        if (used + n > max || len + n + 4 > size) {
            if (len + 4 <= size)
                memcpy(dst + len, "...", 4);
            return;
        }
        memcpy(dst + len, tmp, n);
        len += n;
        used += n;
        dst[len] = '\0';
        s += k;
    }
}

static void append_fmt(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append_fmt(char *dst, size_t size, const char *fmt, ...)
{
    size_t len = strlen(dst);
    va_list ap;
    if (len + 1 >= size)
        return;
    va_start(ap, fmt);
    vsnprintf(dst + len, size - len, fmt, ap);
    va_end(ap);
}

/* Quote a payload string for a description: "\"...\"". */
static const char *quote(char *buf, size_t size, const char *s)
{
    buf[0] = '\0';
    append_fmt(buf, size, "\"");
    append_text(buf, size, s ? s : "", QUOTE_MAX, 0);
    append_fmt(buf, size, "\"");
    return buf;
}

static void utf8_trim_tail(char *s)
{
    size_t len = strlen(s), i = len;
    /* Walk back over at most 3 continuation bytes to the lead byte. */
    while (i > 0 && len - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i > 0 && (unsigned char)s[i - 1] >= 0xc0) {
        unsigned char c = (unsigned char)s[i - 1];
        size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (len - (i - 1) < need)
            s[i - 1] = '\0';
    }
}

static int fail(struct vctx *c, enum fg_ocpp_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct vctx *c, enum fg_ocpp_errcode code, const char *fmt, ...)
{
    struct fg_ocpp_verror *e = c->err;
    va_list ap;
    e->code = code;
    e->path[0] = '\0';
    for (unsigned i = 0; i < c->depth; i++) {
        if (c->path[i].key) {
            append_fmt(e->path, sizeof(e->path), "/");
            append_text(e->path, sizeof(e->path), c->path[i].key, sizeof(e->path), 1);
        } else {
            append_fmt(e->path, sizeof(e->path), "/%d", c->path[i].index);
        }
    }
    utf8_trim_tail(e->path);
    va_start(ap, fmt);
    vsnprintf(e->desc, sizeof(e->desc), fmt, ap);
    va_end(ap);
    utf8_trim_tail(e->desc);
    return FG_EINVAL;
}

static const char *json_type(const cJSON *v)
{
    if (fg_json_is(v, cJSON_String))
        return "string";
    if (fg_json_is(v, cJSON_Number))
        return "number";
    if (fg_json_is_bool(v))
        return "boolean";
    if (fg_json_is(v, cJSON_NULL))
        return "null";
    if (fg_json_is(v, cJSON_Array))
        return "array";
    if (fg_json_is(v, cJSON_Object))
        return "object";
    return "invalid value";
}

static const char *const type_names[] = {
    [FG_OCPP_ST_OBJECT] = "object", [FG_OCPP_ST_ARRAY] = "array",
    [FG_OCPP_ST_STRING] = "string", [FG_OCPP_ST_INTEGER] = "integer",
    [FG_OCPP_ST_NUMBER] = "number", [FG_OCPP_ST_BOOLEAN] = "boolean",
    [FG_OCPP_ST_ANY] = "any value",
};

static int push(struct vctx *c, const char *key, int index)
{
    if (c->depth >= FG_OCPP_SCHEMA_MAX_DEPTH)
        return -1;
    c->path[c->depth].key = key;
    c->path[c->depth].index = index;
    c->depth++;
    return 0;
}

static int check(struct vctx *c, uint16_t node, const cJSON *v);

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* RFC 3339 section 5.6 date-time, real calendar dates, leap second only at
 * 23:59:60 UTC. */
static int is_datetime(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return 0;
    s += 19;
    if (*s == '.') {
        if (s[1] < '0' || s[1] > '9')
            return 0;
        for (s++; *s >= '0' && *s <= '9'; s++)
            ;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s == '-' ? -1 : 1;
        if (digits(s + 1, 2, &oh) || s[3] != ':' || digits(s + 4, 2, &om))
            return 0;
        s += 6;
    } else {
        return 0;
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60 || oh > 23 ||
        om > 59)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return 0;
    if (sec == 60) {
        int utc = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return 0;
    }
    return 1;
}

static int enum_fail(struct vctx *c, const struct fg_ocpp_senum *e, const char *s)
{
    const char *const *vals = c->t->enum_strs + e->first;
    char q[QUOTE_MAX + 8], list[ENUM_LIST_MAX + 8] = "";
    for (unsigned i = 0; i < e->count; i++) {
        size_t len = strlen(list), k = strlen(vals[i]);
        if (len + k + 2 > ENUM_LIST_MAX) {
            append_fmt(list, sizeof(list), "%s...", i ? ", " : "");
            break;
        }
        append_fmt(list, sizeof(list), "%s%s", i ? ", " : "", vals[i]);
    }
    return fail(c, FG_OCPP_PROPERTY_CONSTRAINT_VIOLATION, "%s is not one of %s",
                quote(q, sizeof(q), s), list);
}

static int check_enum(struct vctx *c, const struct fg_ocpp_snode *n, const char *s)
{
    const struct fg_ocpp_senum *e = &c->t->enums[n->a];
    const char *const *vals = c->t->enum_strs + e->first;
    for (unsigned i = 0; i < e->count; i++)
        if (!name_cmp(s, vals[i]))
            return 0;
    return enum_fail(c, e, s); /* (its message buffers stay off this path) */
}

static int check_string(struct vctx *c, const struct fg_ocpp_snode *n, const cJSON *v)
{
    const char *s = v->valuestring ? v->valuestring : "";
    char q[QUOTE_MAX + 8];
    long len = utf8_count(s);
    if (len < 0)
        return fail(c, FG_OCPP_FORMAT_VIOLATION, "string is not valid UTF-8");
    if ((n->flags & FG_OCPP_SF_HAS_MAX) && (unsigned long)len > n->hi)
        return fail(c, FG_OCPP_PROPERTY_CONSTRAINT_VIOLATION,
                    "%ld characters, at most %lu", len, (unsigned long)n->hi);
    if (n->flags & FG_OCPP_SF_ENUM)
        return check_enum(c, n, s);
    if ((n->flags & FG_OCPP_SF_DATETIME) && !is_datetime(s))
        return fail(c, FG_OCPP_PROPERTY_CONSTRAINT_VIOLATION,
                    "%s is not an RFC 3339 date-time", quote(q, sizeof(q), s));
    return 0;
}

static int check_number(struct vctx *c, const struct fg_ocpp_snode *n, const cJSON *v)
{
    double d = v->valuedouble;
    const double *b = c->t->bounds[n->a];
    if (!isfinite(d))
        return fail(c, FG_OCPP_TYPE_CONSTRAINT_VIOLATION, "number out of range");
    if (n->type == FG_OCPP_ST_INTEGER) {
        if (d != floor(d))
            return fail(c, FG_OCPP_TYPE_CONSTRAINT_VIOLATION,
                        "expected integer, got %.15g", d);
        if (d < -2147483648.0 || d > 2147483647.0)
            return fail(c, FG_OCPP_TYPE_CONSTRAINT_VIOLATION,
                        "expected 32-bit integer, got %.15g", d);
    }
    if ((n->flags & FG_OCPP_SF_HAS_MIN) && d < b[0])
        return fail(c, FG_OCPP_PROPERTY_CONSTRAINT_VIOLATION,
                    "%.15g is below minimum %.15g", d, b[0]);
    if ((n->flags & FG_OCPP_SF_HAS_MAX) && d > b[1])
        return fail(c, FG_OCPP_PROPERTY_CONSTRAINT_VIOLATION,
                    "%.15g is above maximum %.15g", d, b[1]);
    return 0;
}

static int check_array(struct vctx *c, const struct fg_ocpp_snode *n, const cJSON *v)
{
    unsigned long count = 0;
    int i = 0, rc;
    for (const cJSON *m = v->child; m; m = m->next)
        count++;
    if ((n->flags & FG_OCPP_SF_HAS_MIN) && count < n->lo)
        return fail(c, FG_OCPP_OCCURRENCE_CONSTRAINT_VIOLATION, "%lu items, at least %lu",
                    count, (unsigned long)n->lo);
    if ((n->flags & FG_OCPP_SF_HAS_MAX) && count > n->hi)
        return fail(c, FG_OCPP_OCCURRENCE_CONSTRAINT_VIOLATION, "%lu items, at most %lu",
                    count, (unsigned long)n->hi);
    for (const cJSON *m = v->child; m; m = m->next, i++) {
        if (push(c, NULL, i))
            return fail(c, FG_OCPP_INTERNAL_ERROR, "schema too deep");
        rc = check(c, n->a, m);
        c->depth--;
        if (rc)
            return rc;
    }
    return 0;
}

/* Index of key among an object's properties (sorted by strcmp), or -1. */
static int find_prop(const struct fg_ocpp_sprop *p, unsigned n, const char *key)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int r = name_cmp(key, p[mid].name);
        if (!r)
            return (int)mid;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

static int missing(struct vctx *c, const struct fg_ocpp_sprop *p, unsigned n,
                   uint64_t absent)
{
    unsigned best = 0;
    for (unsigned i = 0; i < n; i++)
        if (((absent >> i) & 1) && (!best || p[i].reqpos < p[best - 1].reqpos))
            best = i + 1;
    if (push(c, p[best - 1].name, 0))
        return fail(c, FG_OCPP_INTERNAL_ERROR, "schema too deep");
    return fail(c, FG_OCPP_OCCURRENCE_CONSTRAINT_VIOLATION,
                "required property \"%s\" missing", p[best - 1].name);
}

static int check_object(struct vctx *c, const struct fg_ocpp_snode *n, const cJSON *v)
{
    const struct fg_ocpp_sprop *p = c->t->props + n->a;
    uint64_t seen = 0, req = c->t->reqmasks[n->c];
    char q[QUOTE_MAX + 8];
    int rc;
    for (const cJSON *m = v->child; m; m = m->next) {
        const char *key = m->string ? m->string : "";
        int i = find_prop(p, n->b, key);
        if (i < 0 && (n->flags & FG_OCPP_SF_OPEN))
            continue;
        if (push(c, key, 0))
            return fail(c, FG_OCPP_INTERNAL_ERROR, "schema too deep");
        if (i < 0)
            return fail(c, FG_OCPP_FORMAT_VIOLATION, "property %s not allowed",
                        quote(q, sizeof(q), key));
        if (seen & ((uint64_t)1 << i))
            return fail(c, FG_OCPP_FORMAT_VIOLATION, "duplicate property %s",
                        quote(q, sizeof(q), key));
        seen |= (uint64_t)1 << i;
        rc = check(c, p[i].node, m);
        c->depth--;
        if (rc)
            return rc;
    }
    if ((seen & req) != req)
        return missing(c, p, n->b, req & ~seen);
    return 0;
}

static int check(struct vctx *c, uint16_t node, const cJSON *v)
{
    const struct fg_ocpp_snode *n = &c->t->nodes[node];
    int ok;
    switch (n->type) {
    case FG_OCPP_ST_OBJECT:
        ok = fg_json_is(v, cJSON_Object);
        break;
    case FG_OCPP_ST_ARRAY:
        ok = fg_json_is(v, cJSON_Array);
        break;
    case FG_OCPP_ST_STRING:
        ok = fg_json_is(v, cJSON_String);
        break;
    case FG_OCPP_ST_INTEGER:
    case FG_OCPP_ST_NUMBER:
        ok = fg_json_is(v, cJSON_Number);
        break;
    case FG_OCPP_ST_BOOLEAN:
        ok = fg_json_is_bool(v);
        break;
    default:
        return 0; /* FG_OCPP_ST_ANY */
    }
    if (!ok)
        return fail(c, FG_OCPP_TYPE_CONSTRAINT_VIOLATION, "expected %s, got %s",
                    type_names[n->type], json_type(v));
    switch (n->type) {
    case FG_OCPP_ST_OBJECT:
        return check_object(c, n, v);
    case FG_OCPP_ST_ARRAY:
        return check_array(c, n, v);
    case FG_OCPP_ST_STRING:
        return check_string(c, n, v);
    case FG_OCPP_ST_INTEGER:
    case FG_OCPP_ST_NUMBER:
        return check_number(c, n, v);
    default:
        return 0;
    }
}

const struct fg_ocpp_msg_schema *fg_ocpp_schema_find(enum fg_ocpp_version v,
                                                     const char *action, int response)
{
    const struct fg_ocpp_schema_tables *t = tables(v);
    size_t lo = 0, hi = t ? t->nactions : 0;
    while (action && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = name_cmp(action, t->actions[mid].name);
        if (!r) {
            uint16_t m = t->actions[mid].msg[response ? 1 : 0];
            return m == FG_OCPP_SCHEMA_NONE ? NULL : &t->msgs[m];
        }
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int fg_ocpp_validate(const struct fg_ocpp_msg_schema *s, const cJSON *payload,
                     struct fg_ocpp_verror *err)
{
    struct fg_ocpp_verror local;
    struct vctx c;
    c.err = err ? err : &local;
    c.depth = 0;
    c.t = s ? s->t : NULL;
    c.err->code = FG_OCPP_OK;
    c.err->path[0] = '\0';
    c.err->desc[0] = '\0';
    if (!s)
        return fail(&c, FG_OCPP_NOT_IMPLEMENTED, "unknown action");
    if (!fg_json_is(payload, cJSON_Object))
        return fail(&c, FG_OCPP_FORMAT_VIOLATION, "payload is not a JSON object");
    return check(&c, s->root, payload);
}

size_t fg_ocpp_schema_count(enum fg_ocpp_version v)
{
    const struct fg_ocpp_schema_tables *t = tables(v);
    return t ? t->nactions : 0;
}

const char *fg_ocpp_schema_action(enum fg_ocpp_version v, size_t i)
{
    const struct fg_ocpp_schema_tables *t = tables(v);
    return t && i < t->nactions ? t->actions[i].name : NULL;
}

const char *fg_ocpp_schema_name(const struct fg_ocpp_msg_schema *s)
{
    return s ? s->name : "";
}
