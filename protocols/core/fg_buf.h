/* A growable text buffer with a hard maximum size (curl's habit: every buffer
 * says how large it may get). Appends never fail loudly: on allocation
 * failure or past the maximum the buffer is marked failed and later appends
 * do nothing, so a caller checks once, at fg_buf_take(). */
#ifndef FG_BUF_H
#define FG_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct fg_buf {
    char *s;
    size_t len, cap, max;
    bool failed;
};

/* max: the largest content in bytes (without the terminating NUL). */
void fg_buf_init(struct fg_buf *b, size_t max);
void fg_buf_printf(struct fg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fg_buf_append(struct fg_buf *b, const char *s, size_t n);
/* Make room for `extra` more bytes (plus the NUL) after the content, for
 * writers that fill b->s + b->len directly and then advance b->len. False
 * (and the buffer failed) past the maximum or on allocation failure. */
bool fg_buf_reserve(struct fg_buf *b, size_t extra);
/* The NUL-terminated content (caller frees), or NULL if any append failed;
 * the buffer is empty afterwards either way. */
char *fg_buf_take(struct fg_buf *b);
void fg_buf_clear(struct fg_buf *b);

/* Write prefix + "/" + key into out as a JSON pointer, escaping "~" and "/"
 * in key (RFC 6901). Truncates to n - 1 characters. */
void fg_json_pointer_key(char *out, size_t n, const char *prefix, const char *key);

#endif
