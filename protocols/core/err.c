#include "fg_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fg_strerror(int code)
{
    switch (code) {
    case FG_OK:
        return "success";
#define FG_X_(name, num, text)                                                           \
    case FG_E##name:                                                                     \
        return text;
        FG_ERRORS(FG_X_)
#undef FG_X_
    }
    return "unknown error";
}

const char *fg_errname(int code)
{
    switch (code) {
    case FG_OK:
        return "FG_OK";
#define FG_X_(name, num, text)                                                           \
    case FG_E##name:                                                                     \
        return "FG_E" #name;
        FG_ERRORS(FG_X_)
#undef FG_X_
    }
    return "FG_E?";
}

void fg_error_clear(struct fg_error *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

static void fill(struct fg_error *e, int code, const char *path, const char *fmt,
                 va_list ap) __attribute__((format(printf, 4, 0)));

static void fill(struct fg_error *e, int code, const char *path, const char *fmt,
                 va_list ap)
{
    e->code = code;
    snprintf(e->path, sizeof(e->path), "%s", path ? path : "");
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int fg_error_set(struct fg_error *e, int code, const char *path, const char *fmt, ...)
{
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    fill(e, code, path, fmt, ap);
    va_end(ap);
    return code;
}

void fg_errlist_init(struct fg_errlist *l)
{
    memset(l, 0, sizeof(*l));
}

void fg_errlist_clear(struct fg_errlist *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

int fg_errlist_add(struct fg_errlist *l, int code, const char *path, const char *fmt, ...)
{
    if (l->n >= FG_ERRLIST_MAX) {
        l->dropped++;
        return code;
    }
    if (!l->v) {
        l->v = calloc(FG_ERRLIST_MAX, sizeof(*l->v));
        if (!l->v) {
            l->dropped++;
            return code;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    fill(&l->v[l->n++], code, path, fmt, ap);
    va_end(ap);
    return code;
}

size_t fg_errlist_count(const struct fg_errlist *l)
{
    return l->n + l->dropped;
}
