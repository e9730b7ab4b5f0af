#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Past this many discarded bytes of an oversized upload we stop being polite
 * and close the connection. */
#define DISCARD_CAP (64u * 1024 * 1024)
#define CHUNK 16384

struct fg_http {
    struct fg_loop *loop;
    struct lws_vhost *vh;
    struct lws_protocols protocols[2];
    fg_http_handler handler;
    void *ctx;
    size_t max_body;
};

/* Per connection (per request on keep-alive: reset in reset_pss). */
struct pss {
    struct fg_http_req req;
    char *body;
    size_t body_len, body_cap;
    size_t discarded;
    int too_big;
    int dispatched;
    int head_only;
    struct fg_http_resp resp;
    size_t sent;
    int headers_sent;
};

static const char *const method_names[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                           "PATCH", "DELETE", "HEAD",    "?"};

const char *fg_http_method_name(enum fg_http_method m)
{
    return (unsigned)m <= FG_HTTP_OTHER ? method_names[m] : "?";
}

void fg_http_resp_header(struct fg_http_resp *r, const char *name, const char *value)
{
    if (r->n_headers >= FG_HTTP_MAX_HEADERS ||
        strlen(name) >= sizeof(r->headers[0].name) ||
        strlen(value) >= sizeof(r->headers[0].value)) {
        fg_warn("http", "response header %s dropped (no room)", name);
        return;
    }
    snprintf(r->headers[r->n_headers].name, sizeof(r->headers[0].name), "%s", name);
    snprintf(r->headers[r->n_headers].value, sizeof(r->headers[0].value), "%s", value);
    r->n_headers++;
}

static void reset_pss(struct pss *p)
{
    free(p->body);
    free(p->resp.body);
    memset(p, 0, sizeof(*p));
}

static enum fg_http_method method_of(struct lws *wsi)
{
    char *uri;
    int len;
    switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
    case LWSHUMETH_GET:
        return FG_HTTP_GET;
    case LWSHUMETH_POST:
        return FG_HTTP_POST;
    case LWSHUMETH_OPTIONS:
        return FG_HTTP_OPTIONS;
    case LWSHUMETH_PUT:
        return FG_HTTP_PUT;
    case LWSHUMETH_PATCH:
        return FG_HTTP_PATCH;
    case LWSHUMETH_DELETE:
        return FG_HTTP_DELETE;
    case LWSHUMETH_HEAD:
        return FG_HTTP_HEAD;
    default:
        return FG_HTTP_OTHER;
    }
}

/* Copy a header into dst; a header that does not fit is replaced by "\x01"
 * so the API sees it as present but invalid (never silently truncated). */
static void copy_hdr(struct lws *wsi, char *dst, size_t n, enum lws_token_indexes tok)
{
    dst[0] = '\0';
    if (lws_hdr_total_length(wsi, tok) <= 0)
        return;
    if (lws_hdr_copy(wsi, dst, (int)n, tok) < 0)
        snprintf(dst, n, "\x01");
}

/* Parse Content-Length: -1 if absent, -2 if malformed. */
static long long content_length(struct lws *wsi)
{
    char buf[32];
    copy_hdr(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (!buf[0])
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || end == buf || *end || buf[0] == '-' || v > (1ull << 40))
        return -2;
    return (long long)v;
}

static void respond_plain(struct lws *wsi, struct pss *p, int status, const char *msg)
{
    char buf[160];
    int n = snprintf(buf, sizeof(buf), "{\"error\":\"%s\",\"path\":\"\"}", msg);
    p->resp.status = status;
    p->resp.content_type = "application/json";
    p->resp.body = strdup(buf);
    p->resp.len = p->resp.body ? (size_t)n : 0;
    p->dispatched = 1;
    lws_callback_on_writable(wsi);
}

static void dispatch(struct fg_http *h, struct lws *wsi, struct pss *p)
{
    if (p->dispatched)
        return;
    p->dispatched = 1;
    if (p->too_big) {
        char msg[96];
        snprintf(msg, sizeof(msg), "request body larger than %zu bytes", h->max_body);
        p->dispatched = 0;
        respond_plain(wsi, p, 413, msg);
        return;
    }
    p->req.body = p->body ? p->body : "";
    p->req.body_len = p->body_len;
    h->handler(h->ctx, &p->req, &p->resp);
    if (p->resp.status == 0)
        p->resp.status = 500;
    lws_callback_on_writable(wsi);
}

static int on_request(struct fg_http *h, struct lws *wsi, struct pss *p, const char *uri,
                      size_t len)
{
    reset_pss(p);
    p->req.method = method_of(wsi);
    p->head_only = p->req.method == FG_HTTP_HEAD;
    if (len >= sizeof(p->req.path)) {
        respond_plain(wsi, p, 414, "request URI too long");
        return 0;
    }
    memcpy(p->req.path, uri, len);
    p->req.path[len] = '\0';
    copy_hdr(wsi, p->req.query, sizeof(p->req.query), WSI_TOKEN_HTTP_URI_ARGS);
    copy_hdr(wsi, p->req.authorization, sizeof(p->req.authorization),
             WSI_TOKEN_HTTP_AUTHORIZATION);
    copy_hdr(wsi, p->req.content_type, sizeof(p->req.content_type),
             WSI_TOKEN_HTTP_CONTENT_TYPE);
    lws_get_peer_simple(wsi, p->req.peer, sizeof(p->req.peer));

    int has_body = p->req.method == FG_HTTP_POST || p->req.method == FG_HTTP_PUT ||
                   p->req.method == FG_HTTP_PATCH;
    long long cl = content_length(wsi);
    if (cl == -2) {
        respond_plain(wsi, p, 400, "malformed Content-Length");
        return 0;
    }
    if (has_body && cl < 0 &&
        lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING)) {
        respond_plain(wsi, p, 411, "Content-Length required");
        return 0;
    }
    if (cl > 0 && (size_t)cl > h->max_body)
        p->too_big = 1; /* answered 413 once the upload has been drained */
    if (!has_body || cl <= 0)
        dispatch(h, wsi, p);
    return 0;
}

static int on_body(struct fg_http *h, struct pss *p, const void *in, size_t len)
{
    if (!in || !len)
        return 0; /* lws may signal an empty chunk */
    if (p->too_big || p->body_len + len > h->max_body) {
        p->too_big = 1;
        p->discarded += len;
        return p->discarded > DISCARD_CAP ? -1 : 0;
    }
    if (p->body_len + len + 1 > p->body_cap) {
        size_t cap = p->body_cap ? p->body_cap : 4096;
        while (cap < p->body_len + len + 1)
            cap *= 2;
        if (cap > h->max_body + 1)
            cap = h->max_body + 1;
        char *nb = realloc(p->body, cap);
        if (!nb)
            return -1;
        p->body = nb;
        p->body_cap = cap;
    }
    memcpy(p->body + p->body_len, in, len);
    p->body_len += len;
    p->body[p->body_len] = '\0';
    return 0;
}

static int write_headers(struct lws *wsi, struct pss *p)
{
    unsigned char buf[LWS_PRE + 2048];
    unsigned char *start = buf + LWS_PRE, *q = start, *end = buf + sizeof(buf) - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)p->resp.status,
                                    p->resp.content_type ? p->resp.content_type
                                                         : "application/json",
                                    p->resp.len, &q, end))
        return -1;
    static const struct {
        const char *n, *v;
    } fixed[] = {
        {"x-content-type-options:", "nosniff"},
        {"cache-control:", "no-store"},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)fixed[i].n,
                                        (const unsigned char *)fixed[i].v,
                                        (int)strlen(fixed[i].v), &q, end))
            return -1;
    }
    for (size_t i = 0; i < p->resp.n_headers; i++) {
        char name[40];
        snprintf(name, sizeof(name), "%s:", p->resp.headers[i].name);
        for (char *c = name; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        const char *v = p->resp.headers[i].value;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                        (const unsigned char *)v, (int)strlen(v), &q,
                                        end))
            return -1;
    }
    if (lws_finalize_write_http_header(wsi, start, &q, end))
        return -1;
    p->headers_sent = 1;
    return 0;
}

static int on_writeable(struct lws *wsi, struct pss *p)
{
    if (!p->dispatched)
        return 0;
    if (!p->headers_sent) {
        if (write_headers(wsi, p))
            return -1;
        if (p->resp.len && !p->head_only) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else if (p->sent < p->resp.len && !p->head_only) {
        unsigned char buf[LWS_PRE + CHUNK];
        size_t n = p->resp.len - p->sent;
        if (n > CHUNK)
            n = CHUNK;
        memcpy(buf + LWS_PRE, p->resp.body + p->sent, n);
        int last = p->sent + n == p->resp.len;
        if (lws_write(wsi, buf + LWS_PRE, n,
                      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return -1;
        p->sent += n;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    int close = p->too_big && p->discarded > DISCARD_CAP;
    reset_pss(p);
    if (close || lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                   void *in, size_t len)
{
    const struct lws_protocols *prot = lws_get_protocol(wsi);
    struct fg_http *h = prot ? prot->user : NULL;
    struct pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_request(h, wsi, p, in, len);
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(h, p, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        dispatch(h, wsi, p);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(wsi, p);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (p)
            reset_pss(p);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

int fg_http_start(struct fg_http **out, struct fg_loop *loop,
                  const struct fg_http_opts *o, fg_http_handler handler, void *ctx,
                  struct fg_error *err)
{
    struct fg_http *h = calloc(1, sizeof(*h));
    if (!h)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    h->loop = loop;
    h->handler = handler;
    h->ctx = ctx;
    h->max_body = o->max_body;
    h->protocols[0].name = "http";
    h->protocols[0].callback = http_cb;
    h->protocols[0].per_session_data_size = sizeof(struct pss);
    h->protocols[0].rx_buffer_size = CHUNK;
    h->protocols[0].user = h;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = o->listen.port;
    /* lws binds all addresses for a NULL iface. */
    int any = !strcmp(o->listen.host, "0.0.0.0") || !strcmp(o->listen.host, "::");
    info.iface = any ? NULL : o->listen.host;
    info.protocols = h->protocols;
    info.vhost_name = "fg-web";
    info.keepalive_timeout = 30;
    info.timeout_secs = 30;
    if (o->tls_cert && o->tls_cert[0]) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = o->tls_cert;
        info.ssl_private_key_filepath = o->tls_key;
        info.ssl_options_set =
            SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
    }
    h->vh = lws_create_vhost(fg_loop_context(loop), &info);
    if (!h->vh) {
        free(h);
        return fg_error_set(err, FG_EIO, "/web/listen",
                            "cannot listen on %s:%u (address in use or not local?)",
                            o->listen.host, o->listen.port);
    }
    *out = h;
    return 0;
}

void fg_http_set_max_body(struct fg_http *h, size_t max_body)
{
    h->max_body = max_body;
}

void fg_http_free(struct fg_http *h)
{
    free(h);
}
