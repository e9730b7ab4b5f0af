/* The HTTP(S) server on libwebsockets' loop.
 *
 * It only moves bytes: it collects one request (method, path, query, the
 * headers the API needs and a body bounded by max_body), hands it to a
 * handler on the loop thread, and writes the handler's response. Bodies over
 * max_body are answered 413 after the rest of the upload has been read and
 * discarded (so the client sees the answer instead of a reset), up to a hard
 * cap past which the connection is closed. The handler never sees lws. */
#ifndef FG_HTTP_H
#define FG_HTTP_H

#include <stddef.h>

#include "config.h"
#include "loop.h"

enum fg_http_method {
    FG_HTTP_GET,
    FG_HTTP_POST,
    FG_HTTP_OPTIONS,
    FG_HTTP_PUT,
    FG_HTTP_PATCH,
    FG_HTTP_DELETE,
    FG_HTTP_HEAD,
    FG_HTTP_OTHER,
};

const char *fg_http_method_name(enum fg_http_method m);

struct fg_http_req {
    enum fg_http_method method;
    char path[512];          /* percent-decoded path, no query */
    char query[512];         /* raw query string without '?', "" if none */
    char authorization[512]; /* Authorization header, "" if none */
    char content_type[128];
    char peer[64];    /* client address */
    const char *body; /* NUL-terminated; "" if none */
    size_t body_len;
};

#define FG_HTTP_MAX_HEADERS 4

struct fg_http_resp {
    int status;
    const char *content_type; /* static string */
    char *body;               /* malloc'ed, taken by the server; may be NULL */
    size_t len;
    size_t n_headers; /* extra headers */
    struct {
        char name[32];
        char value[224];
    } headers[FG_HTTP_MAX_HEADERS];
};

/* Append an extra header line; ignored (and logged) if it does not fit. */
void fg_http_resp_header(struct fg_http_resp *r, const char *name, const char *value);

typedef void (*fg_http_handler)(void *ctx, const struct fg_http_req *req,
                                struct fg_http_resp *resp);

struct fg_http;

struct fg_http_opts {
    struct fg_hostport listen;
    size_t max_body;
    const char *tls_cert; /* NULL or "" = plain http */
    const char *tls_key;
};

/* Listen and serve on the loop. FG_EIO with detail if the address cannot be
 * bound. */
int fg_http_start(struct fg_http **out, struct fg_loop *loop,
                  const struct fg_http_opts *o, fg_http_handler handler, void *ctx,
                  struct fg_error *err);
/* Free the server's state. Only after the loop (and with it the lws context
 * and every connection, whose close callbacks still use this state) has been
 * destroyed with fg_loop_free(). */
void fg_http_free(struct fg_http *h);
/* Change the body limit of a running server (config reload). */
void fg_http_set_max_body(struct fg_http *h, size_t max_body);

#endif
