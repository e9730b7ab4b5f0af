#include "fg_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fg_buf_init(struct fg_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

bool fg_buf_reserve(struct fg_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra > b->max - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void fg_buf_append(struct fg_buf *b, const char *s, size_t n)
{
    if (!fg_buf_reserve(b, n))
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void fg_buf_printf(struct fg_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !fg_buf_reserve(b, (size_t)n)) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *fg_buf_take(struct fg_buf *b)
{
    char *s = NULL;
    if (!b->failed)
        s = b->s ? b->s : strdup("");
    else
        free(b->s);
    size_t max = b->max;
    fg_buf_init(b, max);
    return s;
}

void fg_buf_clear(struct fg_buf *b)
{
    free(b->s);
    fg_buf_init(b, b->max);
}

void fg_json_pointer_key(char *out, size_t n, const char *prefix, const char *key)
{
    if (n == 0)
        return;
    int w = snprintf(out, n, "%s/", prefix);
    size_t o = w < 0 ? 0 : (size_t)w;
    if (o >= n)
        o = n - 1;
    for (const char *k = key; *k && o + 3 < n; k++) {
        if (*k == '~' || *k == '/') {
            out[o++] = '~';
            out[o++] = *k == '~' ? '0' : '1';
        } else {
            out[o++] = *k;
        }
    }
    out[o] = '\0';
}
