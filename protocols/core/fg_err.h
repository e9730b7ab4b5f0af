/* Error codes and error detail shared by every flexgw module.
 *
 * Functions return int: 0 on success, a negative FG_E... code otherwise. The
 * human detail (message and the JSON path or field it concerns) goes into a
 * caller-supplied struct fg_error. Codes come from one X-macro so names and
 * messages never drift; a number is never reused for another meaning. */
#ifndef FG_ERR_H
#define FG_ERR_H

#include <stddef.h>

#define FG_ERRORS(X)                                                                     \
    X(NOMEM, 1, "out of memory")                                                         \
    X(INVAL, 2, "invalid argument")                                                      \
    X(PARSE, 3, "malformed input")                                                       \
    X(TYPE, 4, "wrong type")                                                             \
    X(RANGE, 5, "value out of range")                                                    \
    X(UNKNOWN, 6, "unknown key")                                                         \
    X(MISSING, 7, "required value missing")                                              \
    X(IO, 8, "I/O error")                                                                \
    X(NOTFOUND, 9, "not found")                                                          \
    X(EXISTS, 10, "already exists")                                                      \
    X(TOOBIG, 11, "too large")                                                           \
    X(AUTH, 12, "authentication required")                                               \
    X(FORBIDDEN, 13, "forbidden")                                                        \
    X(STORE, 14, "storage error")                                                        \
    X(TIMEOUT, 15, "timed out")                                                          \
    X(STATE, 16, "wrong state")                                                          \
    X(UNSUPPORTED, 17, "not supported")                                                  \
    X(CONFIG, 18, "invalid configuration")                                               \
    X(FULL, 19, "queue full")

enum fg_errcode {
    FG_OK = 0,
#define FG_X_(name, num, text) FG_E##name = -(num),
    FG_ERRORS(FG_X_)
#undef FG_X_
};

/* Short message for a code; never NULL ("unknown error" for unknown codes). */
const char *fg_strerror(int code);
/* Symbolic name of a code, e.g. "FG_ERANGE". */
const char *fg_errname(int code);

#define FG_ERR_PATH_MAX 160
#define FG_ERR_MSG_MAX 320

/* One error: its code, the JSON path / field it concerns ("" if none), and a
 * human message. Fixed size so it can live on the stack. */
struct fg_error {
    int code;
    char path[FG_ERR_PATH_MAX];
    char msg[FG_ERR_MSG_MAX];
};

void fg_error_clear(struct fg_error *e);

/* Fill *e (if not NULL) and return code, so callers can write
 * `return fg_error_set(e, FG_ERANGE, "/a/b", "%d not in [1, 9]", v);`.
 * path may be NULL. */
int fg_error_set(struct fg_error *e, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A list of errors, used where every mistake must be reported at once
 * (configuration). Keeps at most FG_ERRLIST_MAX entries and counts the rest. */
#define FG_ERRLIST_MAX 200

struct fg_errlist {
    struct fg_error *v;
    size_t n;       /* entries stored */
    size_t dropped; /* entries beyond FG_ERRLIST_MAX, counted only */
};

void fg_errlist_init(struct fg_errlist *l);
void fg_errlist_clear(struct fg_errlist *l);
/* Append an error; returns code (negative). Never fails: on allocation
 * failure or overflow the error is counted in `dropped`. */
int fg_errlist_add(struct fg_errlist *l, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Total number of errors seen (stored + dropped). */
size_t fg_errlist_count(const struct fg_errlist *l);

#endif
