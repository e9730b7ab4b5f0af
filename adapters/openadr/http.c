/* libcurl transport for the VEN (see http.h). */
#include "http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "fg_buf.h"

/* TLS 1.2: the two suites the OpenADR 2.0b profile requires
 * (TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA256)
 * first, then ECDHE with AES-GCM. TLS 1.3 suites are OpenSSL's defaults. */
#define OADR_CIPHERS                                                                     \
    "ECDHE-ECDSA-AES128-SHA256:AES128-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:"             \
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                         \
    "ECDHE-RSA-AES256-GCM-SHA384"

struct sink {
    struct fg_buf buf;
    size_t max;
    bool toobig;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    if (s->buf.len + len > s->max) {
        s->toobig = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    fg_buf_append(&s->buf, p, len);
    return s->buf.failed ? 0 : len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const atomic_int *cancel = arg;
    return cancel && atomic_load(cancel);
}

int fg_oadr_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) ? FG_ENOMEM : 0;
}

static bool set(const char *s)
{
    return s && s[0];
}

static int classify(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
        return FG_ETIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
        return FG_EAUTH;
    case CURLE_FILESIZE_EXCEEDED:
        return FG_ETOOBIG;
    default:
        return FG_EIO;
    }
}

static void setup_tls(CURL *c, const struct fg_oadr_tls *t, char *pin, size_t pin_n)
{
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, OADR_CIPHERS);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (set(t->ca_file))
        curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
    if (set(t->client_cert))
        curl_easy_setopt(c, CURLOPT_SSLCERT, t->client_cert);
    if (set(t->client_key))
        curl_easy_setopt(c, CURLOPT_SSLKEY, t->client_key);
    if (set(t->pin)) {
        snprintf(pin, pin_n, "%s%s", strncmp(t->pin, "sha256//", 8) ? "sha256//" : "",
                 t->pin);
        curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, pin);
    }
}

static void read_cipher(CURL *c, struct fg_oadr_http_resp *resp)
{
    const struct curl_tlssessioninfo *ti = NULL;
    resp->cipher[0] = 0;
    if (curl_easy_getinfo(c, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || !ti ||
        ti->backend != CURLSSLBACKEND_OPENSSL || !ti->internals)
        return;
    const SSL_CIPHER *ci = SSL_get_current_cipher(ti->internals);
    if (ci)
        snprintf(resp->cipher, sizeof(resp->cipher), "%s", SSL_CIPHER_get_name(ci));
}

int fg_oadr_http_post(const struct fg_oadr_http_req *req, struct fg_oadr_http_resp *resp,
                      struct fg_error *err)
{
    memset(resp, 0, sizeof(*resp));
    if (req->conn && atomic_exchange(&req->conn->reset, 0))
        fg_oadr_http_conn_close(req->conn);
    CURL *c = req->conn ? req->conn->curl : NULL;
    if (c)
        curl_easy_reset(c); /* the options go; open connections stay */
    else if (!(c = curl_easy_init()))
        return fg_error_set(err, FG_ENOMEM, NULL, "curl_easy_init failed");
    if (req->conn)
        req->conn->curl = c;
    struct sink s = {.max = req->max_body};
    fg_buf_init(&s.buf, req->max_body);
    char ebuf[CURL_ERROR_SIZE] = "";
    char pin[192];
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/xml");
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)req->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, req->timeout_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, req->timeout_s);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)req->max_body);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)req->cancel);
    setup_tls(c, &req->tls, pin, sizeof(pin));
    CURLcode cc = curl_easy_perform(c);
    int rc = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (cc == CURLE_OK || s.toobig)
        read_cipher(c, resp);
    if (s.toobig || cc == CURLE_FILESIZE_EXCEEDED) {
        rc = fg_error_set(err, FG_ETOOBIG, NULL,
                          "answer larger than max_body (%zu bytes)", req->max_body);
    } else if (cc == CURLE_ABORTED_BY_CALLBACK) {
        rc = fg_error_set(err, FG_ESTATE, NULL, "cancelled (the VEN is stopping)");
    } else if (cc != CURLE_OK) {
        /* A TLS alert from the VTN during the handshake: it refused us. */
        bool refused = strstr(ebuf, "alert unknown ca") ||
                       strstr(ebuf, "alert bad certificate") ||
                       strstr(ebuf, "certificate required");
        rc = fg_error_set(err, classify(cc), NULL, "%s%s%s: %s",
                          classify(cc) == FG_EAUTH ? "TLS: " : "",
                          refused ? "the VTN refused our client certificate: " : "",
                          curl_easy_strerror(cc), ebuf[0] ? ebuf : "no detail");
    } else if (resp->status < 200 || resp->status > 299) {
        rc = fg_error_set(err, FG_EIO, NULL, "HTTP status %ld", resp->status);
    } else {
        resp->len = s.buf.len;
        resp->body = fg_buf_take(&s.buf);
        if (!resp->body)
            rc = fg_error_set(err, FG_ENOMEM, NULL, "out of memory for the answer");
    }
    fg_buf_clear(&s.buf);
    curl_slist_free_all(hdr);
    if (!req->conn)
        curl_easy_cleanup(c);
    return rc;
}

void fg_oadr_http_conn_close(struct fg_oadr_http_conn *conn)
{
    if (conn->curl)
        curl_easy_cleanup(conn->curl);
    conn->curl = NULL;
}
