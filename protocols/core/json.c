#include "fg_json.h"
#include "fg_utf8.h"

#include <limits.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena -------------------------------------------------------------------- */

#define ALIGN 16u
#define BLOCK_MIN 4096u   /* bytes of the first block */
#define BLOCK_KEEP 16384u /* the largest block a reset keeps */

struct fg_arena_block {
    struct fg_arena_block *next; /* older, smaller */
    size_t cap;
    _Alignas(ALIGN) unsigned char data[];
};

void fg_arena_init(struct fg_arena *a)
{
    a->head = NULL;
    a->used = 0;
}

/* The parser's allocations: the common case inline. */
static inline void *alloc(struct fg_arena *a, size_t n)
{
    size_t r = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (a->head && n <= r && a->head->cap - a->used >= r) {
        void *p = a->head->data + a->used;
        a->used += r;
        return p;
    }
    return fg_arena_alloc(a, n);
}

void *fg_arena_alloc(struct fg_arena *a, size_t n)
{
    if (n > SIZE_MAX / 2)
        return NULL;
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (!a->head || a->head->cap - a->used < n) {
        size_t cap = a->head ? a->head->cap * 2 : BLOCK_MIN;
        if (cap < n)
            cap = n;
        struct fg_arena_block *b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    return p;
}

void fg_arena_reset(struct fg_arena *a)
{
    struct fg_arena_block *keep = NULL, *b = a->head;
    while (b) {
        struct fg_arena_block *next = b->next;
        if (!keep && b->cap <= BLOCK_KEEP) {
            keep = b;
            keep->next = NULL;
        } else {
            free(b);
        }
        b = next;
    }
    a->head = keep;
    a->used = 0;
}

void fg_arena_free(struct fg_arena *a)
{
    fg_arena_reset(a);
    free(a->head);
    fg_arena_init(a);
}

/* ---- parser ------------------------------------------------------------------- */

struct parse {
    struct fg_arena *a;
    const unsigned char *at, *end;
    int depth, max_depth;
};

static void skip_ws(struct parse *p)
{
    while (p->at < p->end &&
           (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r'))
        p->at++;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at q (q + 4 <= end checked by the caller), or -1. */
static long hex4(const unsigned char *q)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex(q[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static char *put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* One escape sequence at *q (just past the backslash); writes its UTF-8 at o. */
static bool unescape_one(const unsigned char **q, char **o, size_t left)
{
    static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
    const unsigned char *s = *q;
    if (left < 1)
        return false;
    for (size_t i = 0; i + 1 < sizeof(simple); i += 2) {
        if (*s == (unsigned char)simple[i]) {
            *(*o)++ = simple[i + 1];
            *q = s + 1;
            return true;
        }
    }
    if (*s != 'u' || left < 5)
        return false;
    long cp = hex4(s + 1);
    if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return false; /* not hex, \u0000, or a lone low surrogate */
    s += 5;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (left < 11 || s[0] != '\\' || s[1] != 'u')
            return false;
        long lo = hex4(s + 2);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return false;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        s += 6;
    }
    *o = put_utf8(*o, (unsigned long)cp);
    *q = s;
    return true;
}

/* A string from the opening quote at p->at; the result in the arena. */
static bool parse_string(struct parse *p, char **out)
{
    const unsigned char *q = p->at + 1, *r = q;
    bool escaped = false;
    for (;;) {
        r += fg_json_plain_run(r, (size_t)(p->end - r));
        if (r >= p->end || *r == '"')
            break;
        if (*r < 0x20) {
            p->at = r;
            return false;
        }
        if (*r >= 0x80) {
            size_t k = fg_utf8_len(r, (size_t)(p->end - r));
            if (!k) {
                p->at = r;
                return false;
            }
            r += k;
            continue;
        }
        if (*r == '\\') {
            escaped = true;
            if (p->end - r < 2) {
                r = p->end;
                break;
            }
            r++;
        }
        r++;
    }
    if (r >= p->end) {
        p->at = p->end;
        return false;
    }
    /* In place: the text is the parser's own copy (fg_json_parse), the
     * closing quote becomes the NUL, and unescaping only ever shortens. */
    char *s = (char *)(uintptr_t)q;
    if (!escaped) {
        *(unsigned char *)(uintptr_t)r = '\0';
    } else {
        char *o = s;
        while (q < r) {
            if (*q != '\\') {
                *o++ = (char)*q++;
                continue;
            }
            const unsigned char *at = q++;
            if (!unescape_one(&q, &o, (size_t)(r - q))) {
                p->at = at;
                return false;
            }
        }
        *o = '\0';
    }
    *out = s;
    p->at = r + 1;
    return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool parse_number(struct parse *p, cJSON *n)
{
    const unsigned char *s = p->at, *q = s, *e = p->end;
    bool neg = q < e && *q == '-', has_frac = false, has_exp = false;
    q += neg;
    if (q < e && *q == '0') {
        q++;
    } else if (q < e && is_digit(*q)) {
        while (q < e && is_digit(*q))
            q++;
    } else {
        p->at = q;
        return false;
    }
    const unsigned char *int_end = q;
    if (q < e && *q == '.') {
        has_frac = true;
        if (++q >= e || !is_digit(*q)) {
            p->at = q;
            return false;
        }
        while (q < e && is_digit(*q))
            q++;
    }
    if (q < e && (*q == 'e' || *q == 'E')) {
        has_exp = true;
        q++;
        if (q < e && (*q == '+' || *q == '-'))
            q++;
        if (q >= e || !is_digit(*q)) {
            p->at = q;
            return false;
        }
        while (q < e && is_digit(*q))
            q++;
    }
    /* Up to 15 digits without an exponent: the digits as an integer and one
     * division by a power of ten, both exact, so the quotient is correctly
     * rounded, as strtod's is (Clinger's fast path). */
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t digits = (size_t)(q - s) - neg - has_frac;
    double v;
    if (!has_exp && digits <= 15) {
        int64_t x = 0;
        for (const unsigned char *d = s + neg; d < q; d++)
            if (*d != '.')
                x = x * 10 + (*d - '0');
        v = (double)x / pow10[q - int_end - has_frac];
        v = neg ? -v : v;
    } else {
        size_t len = (size_t)(q - s);
        char small[64], *t = len < sizeof(small) ? small : fg_arena_alloc(p->a, len + 1);
        if (!t) {
            p->at = NULL;
            return false;
        }
        memcpy(t, s, len);
        t[len] = '\0';
        char point = localeconv()->decimal_point[0];
        if (point != '.') {
            char *dot = memchr(t, '.', len);
            if (dot)
                *dot = point;
        }
        v = strtod(t, NULL);
    }
    n->type = cJSON_Number;
    n->valuedouble = v;
    if (v >= INT_MAX)
        n->valueint = INT_MAX;
    else if (v <= (double)INT_MIN)
        n->valueint = INT_MIN;
    else
        n->valueint = (int)v;
    p->at = q;
    return true;
}

static bool literal(struct parse *p, const char *word, size_t len)
{
    if ((size_t)(p->end - p->at) < len || memcmp(p->at, word, len))
        return false;
    p->at += len;
    return true;
}

static bool parse_value(struct parse *p, cJSON *n);

static cJSON *new_node(struct parse *p)
{
    cJSON *n = alloc(p->a, sizeof(*n));
    if (!n) {
        p->at = NULL;
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    return n;
}

/* An array or an object from its opening bracket at p->at. */
static bool parse_container(struct parse *p, cJSON *n, bool object)
{
    unsigned char close = object ? '}' : ']';
    n->type = object ? cJSON_Object : cJSON_Array;
    if (++p->depth > p->max_depth)
        return false;
    p->at++;
    skip_ws(p);
    if (p->at < p->end && *p->at == close) {
        p->at++;
        p->depth--;
        return true;
    }
    cJSON *tail = NULL;
    for (;;) {
        cJSON *c = new_node(p);
        if (!c)
            return false;
        if (object) {
            if (p->at >= p->end || *p->at != '"' || !parse_string(p, &c->string))
                return false;
            skip_ws(p);
            if (p->at >= p->end || *p->at != ':')
                return false;
            p->at++;
            skip_ws(p);
        }
        if (!parse_value(p, c))
            return false;
        if (tail) {
            tail->next = c;
            c->prev = tail;
        } else {
            n->child = c;
        }
        tail = c;
        skip_ws(p);
        if (p->at < p->end && *p->at == ',') {
            p->at++;
            skip_ws(p);
            continue;
        }
        if (p->at < p->end && *p->at == close) {
            p->at++;
            break;
        }
        return false;
    }
    n->child->prev = tail; /* as cJSON links them */
    p->depth--;
    return true;
}

static bool parse_value(struct parse *p, cJSON *n)
{
    if (p->at >= p->end)
        return false;
    switch (*p->at) {
    case '"':
        n->type = cJSON_String;
        return parse_string(p, &n->valuestring);
    case '{':
        return parse_container(p, n, true);
    case '[':
        return parse_container(p, n, false);
    case 't':
        n->type = cJSON_True;
        n->valueint = 1;
        return literal(p, "true", 4);
    case 'f':
        n->type = cJSON_False;
        return literal(p, "false", 5);
    case 'n':
        n->type = cJSON_NULL;
        return literal(p, "null", 4);
    default:
        return parse_number(p, n);
    }
}

cJSON *fg_json_parse(struct fg_arena *a, const char *buf, size_t len, int max_depth,
                     const char **end)
{
    /* One copy of the text, parsed in place: strings end up pointing into it
     * instead of each being allocated and copied. */
    unsigned char *text = len < SIZE_MAX ? alloc(a, len + 1) : NULL;
    if (!text) {
        if (end)
            *end = NULL;
        return NULL;
    }
    memcpy(text, buf, len);
    text[len] = '\0';
    struct parse p = {a, text, text + len, 0, max_depth};
    skip_ws(&p);
    cJSON *root = new_node(&p);
    bool ok = root && parse_value(&p, root);
    if (end) /* NULL: out of memory */
        *end = p.at ? buf + (p.at - text) : NULL;
    return ok ? root : NULL;
}
