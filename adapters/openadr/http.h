/* HTTP(S) POST to a VTN with libcurl: one blocking call, for a worker thread.
 *
 * Why libcurl and not libwebsockets' client: see docs/openadr.md
 * "Transport". A request with a connection (fg_oadr_http_conn) reuses its
 * easy handle, so the TLS connection to the VTN stays open between polls
 * (used by one thread at a time); without one each call has its own.
 * fg_oadr_http_global_init() must run once before any worker. */
#ifndef FG_OADR_HTTP_H
#define FG_OADR_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "fg_err.h"

struct fg_oadr_tls {
    const char *client_cert, *client_key; /* "" or NULL: none */
    const char *ca_file;                  /* "" or NULL: system CAs */
    const char *pin;                      /* "" or NULL: no pinning */
};

/* An easy handle kept between requests: libcurl keeps the connection (and
 * the TLS session) open while the VTN does. Zero-initialised; closed with
 * fg_oadr_http_conn_close() once no request can use it any more. */
struct fg_oadr_http_conn {
    void *curl; /* CURL *, NULL until the first request */
    /* set from any thread: the next request starts on a new connection
     * (certificate files re-read after a reload) */
    atomic_int reset;
};

void fg_oadr_http_conn_close(struct fg_oadr_http_conn *conn);

struct fg_oadr_http_req {
    struct fg_oadr_http_conn *conn; /* NULL: a fresh connection */
    const char *url;
    const char *body;
    size_t len;
    struct fg_oadr_tls tls;
    long timeout_s;
    size_t max_body;
    /* Set (from any thread) to abandon the request within about a second;
     * it then fails with FG_ESTATE. NULL: not cancellable. */
    const atomic_int *cancel;
};

struct fg_oadr_http_resp {
    long status;
    char *body; /* malloc'ed, NUL-terminated; NULL on transport error */
    size_t len;
    char cipher[64]; /* negotiated, "" if unknown */
};

int fg_oadr_http_global_init(void);

/* POST req->body as application/xml. 0 when an HTTP answer with a 2xx
 * status arrived (its body in resp, caller frees resp->body). Errors, with
 * curl's detail in *err: FG_ETIMEOUT (connect / total time limit),
 * FG_EAUTH (TLS: handshake, certificate, pinning), FG_ETOOBIG (answer over
 * max_body), FG_EIO (connection, HTTP status not 2xx: resp->status),
 * FG_ESTATE (cancelled). */
int fg_oadr_http_post(const struct fg_oadr_http_req *req, struct fg_oadr_http_resp *resp,
                      struct fg_error *err);

#endif
