/* A JSON parser that builds cJSON trees in an arena: one bump allocation per
 * node and string instead of two to three mallocs, and one reset instead of a
 * free per node. Built for the OCPP message path, where a tree lives exactly
 * as long as one message.
 *
 * The trees are ordinary cJSON to read (cJSON_GetObjectItemCaseSensitive,
 * cJSON_Print*, cJSON_Duplicate, the schema validators), linked as cJSON
 * 1.7.15 links them (a first child's prev is the last child). They are not
 * cJSON's to free or to change: never cJSON_Delete an arena tree or a node of
 * it, never move its nodes into a malloc'ed tree or set their strings, and
 * copy (cJSON_Duplicate) whatever must outlive fg_arena_reset().
 *
 * What it accepts is RFC 8259 JSON and nothing else: no leading zeros, no
 * lone surrogate escapes, no raw control characters in strings, only the four
 * JSON whitespace bytes, at most max_depth nested containers, and strings in
 * UTF-8 only (fg_utf8_len()), so an accepted text is UTF-8 throughout. One
 * thing JSON allows is refused too: "\u0000" (cJSON strings end at a NUL).
 * Duplicate keys are
 * kept in order, as cJSON keeps them. Numbers are read as strtod() reads them
 * (with "." as the decimal point whatever the locale); valueint saturates as
 * in cJSON. */
#ifndef FG_JSON_H
#define FG_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

/* How many bytes at p (of n) are plain inside a JSON string: printable ASCII
 * other than '"' and '\\'. Eight at a time, so callers scanning strings only
 * look at the bytes that matter one by one. */
static inline size_t fg_json_plain_run(const unsigned char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t special = ((q - ones) & ~q) | ((b - ones) & ~b) | /* '"' or '\\' */
                           ((w - ones * 0x20) & ~w) |              /* < 0x20 */
                           w;                                      /* >= 0x80 */
        if (special & high)
            break;
    }
    while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}

/* cJSON_IsObject() and friends, inline (cJSON's are calls into the shared
 * library, a measurable share of validating a small message). */
/* The JSON type of v as error messages name it: "boolean", "null",
 * "number", "string", "array", "object". */
static inline const char *fg_json_type_name(const cJSON *v)
{
    switch (v->type & 0xFF) {
    case cJSON_False:
    case cJSON_True:
        return "boolean";
    case cJSON_NULL:
        return "null";
    case cJSON_Number:
        return "number";
    case cJSON_String:
        return "string";
    case cJSON_Array:
        return "array";
    case cJSON_Object:
        return "object";
    default:
        return "invalid";
    }
}

static inline int fg_json_is(const cJSON *v, int type)
{
    return v && (v->type & 0xFF) == type;
}

static inline int fg_json_is_bool(const cJSON *v)
{
    return v && (v->type & (cJSON_True | cJSON_False)) != 0;
}

/* cJSON_GetObjectItemCaseSensitive(), inline and with the first byte
 * compared before strcmp: the same result (the first member of that name;
 * NULL for NULL, a non-object, or at the first member without a name). */
static inline cJSON *fg_json_get(const cJSON *object, const char *name)
{
    if (!object || !name)
        return NULL;
    cJSON *c = object->child;
    while (c && c->string && (c->string[0] != name[0] || strcmp(c->string, name)))
        c = c->next;
    return c && c->string ? c : NULL;
}

struct fg_arena_block;

struct fg_arena {
    struct fg_arena_block *head; /* the block being filled; older ones behind it */
    size_t used;                 /* bytes used in head */
};

/* An empty arena (no allocation). */
void fg_arena_init(struct fg_arena *a);
/* n bytes aligned for any cJSON field, valid until the next reset or free;
 * NULL when out of memory. */
void *fg_arena_alloc(struct fg_arena *a, size_t n);
/* Forget everything allocated; keeps one modest block for the next use so a
 * steady stream of small messages allocates nothing. */
void fg_arena_reset(struct fg_arena *a);
/* Release every block; the arena is empty (and usable) afterwards. */
void fg_arena_free(struct fg_arena *a);

/* Parse the one JSON value at the start of buf[0..len) (leading whitespace
 * skipped) into a tree in a. Returns its root, with *end (if not NULL) just
 * past the value: trailing bytes are the caller's business. On a syntax error,
 * or a container nested deeper than max_depth returns NULL with *end at the
 * byte where parsing stopped (len: the input ended early); out of memory
 * returns NULL with *end NULL. */
cJSON *fg_json_parse(struct fg_arena *a, const char *buf, size_t len, int max_depth,
                     const char **end);

#endif
