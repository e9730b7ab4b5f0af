/* OCPP security profiles 1-3 for the CSMS adapter: see security.h.
 *
 * Admission runs in the WebSocket upgrade filter, once the path names a
 * station and a subprotocol matched. The TLS listener asks every client for
 * a certificate but never fails the handshake over it: whether a missing or
 * unverifiable certificate matters depends on the station's profile, which
 * is only known once the request names the station. So OpenSSL's verdict is
 * read here (SSL_get_verify_result) and the certificate's CN compared with
 * the station id.
 *
 * Password state is per station, in memory only: the keyed digest of the
 * last password that verified, a few that failed, and at most one
 * verification running on the worker. */
#include "security.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "log.h"

#define DIGEST_BYTES 32
#define BAD_KEPT 4              /* failed passwords remembered per station */
#define PW_MAX 256              /* longest password taken from a request */
#define PEERS 64                /* peer addresses whose refusals are counted */
#define PEER_MAX_FAILURES 10    /* refusals per peer and window before 429 */
#define PEER_WINDOW_MS 60000    /* ... and how long the 429 lasts at most */
#define INLINE_BUDGET_US 100000 /* loop time per second for verifications */
#define WORKER_QUEUE_MAX 32     /* verifications waiting for the worker */
#define RETRY_AFTER_S 1         /* told with 503 while the worker verifies */
#define EVENTS_PER_MIN 120      /* refusals stored as events per minute */

/* Password state of one station. */
struct pw_state {
    char id[FG_ID_MAX];
    bool ok_valid;
    unsigned char ok[DIGEST_BYTES]; /* digest of the password that verified */
    unsigned char bad[BAD_KEPT][DIGEST_BYTES];
    unsigned n_bad, next_bad;
    bool pending; /* a worker job is verifying `pending_digest` */
    unsigned char pending_digest[DIGEST_BYTES];
};

struct peer {
    char addr[64];
    int64_t window_start_ms; /* monotonic */
    unsigned failures;
};

struct listener {
    struct lws_vhost *vh;
    unsigned char key[DIGEST_BYTES]; /* listener_key() it was made for */
};

/* A station's security settings as started with: the adapter's config
 * pointer does not change across a reload (the gateway moves the new config
 * into the same struct), so what a reload changed is found against this. */
struct snap {
    char id[FG_ID_MAX];
    int profile; /* -1: the site default */
    unsigned char hash[DIGEST_BYTES];
};

struct fg_ocpp_sec {
    struct fg_adapter_host host;
    struct snap *snap;
    size_t n_snap;
    int snap_default;
    const struct fg_config *cfg;
    const struct fg_config *building; /* while a vhost is being made */
    struct fg_ocpp_listen l;
    struct listener ws, wss;
    unsigned gen; /* password state generation: a reload with new hashes bumps it */
    unsigned char key[crypto_generichash_KEYBYTES];
    struct pw_state *pw;
    size_t n_pw, cap_pw;
    struct peer peers[PEERS];
    int64_t budget_window_us; /* monotonic start of the current second */
    int64_t events_window_ms; /* monotonic start of the current minute */
    unsigned events_n, events_dropped;
    int64_t budget_spent_us;
    struct fg_worker *worker;
    unsigned jobs; /* submitted, done() not yet run */
    bool stopped;  /* freed by the adapter; the last job's done() frees */
};

/* ---- pure helpers ------------------------------------------------------------ */

int fg_ocpp_sec_hash_password(const char *pw, size_t len, char out[FG_OCPP_PWHASH_MAX])
{
    _Static_assert(FG_OCPP_PWHASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer");
    if (!len || memchr(pw, '\0', len))
        return FG_EINVAL;
    if (sodium_init() < 0)
        return FG_ENOMEM;
    if (crypto_pwhash_str(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE))
        return FG_ENOMEM; /* libsodium fails only when it cannot allocate */
    return 0;
}

int fg_ocpp_sec_verify_password(const char *hash, const char *pw, size_t len)
{
    if (sodium_init() < 0)
        return FG_ENOMEM;
    return crypto_pwhash_str_verify(hash, pw, len) ? FG_EAUTH : 0;
}

int fg_ocpp_sec_parse_basic(const char *header, char *user, size_t user_size, char *pw,
                            size_t pw_size, size_t *pw_len)
{
    unsigned char dec[PW_MAX + FG_ID_MAX + 2];
    size_t n = 0;
    while (*header == ' ')
        header++;
    if (strncasecmp(header, "Basic ", 6))
        return FG_EINVAL;
    header += 6;
    while (*header == ' ')
        header++;
    size_t hlen = strlen(header);
    while (hlen && header[hlen - 1] == ' ')
        hlen--;
    if (sodium_base642bin(dec, sizeof(dec) - 1, header, hlen, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL))
        return FG_EINVAL;
    dec[n] = '\0';
    const unsigned char *colon = memchr(dec, ':', n);
    int rc = FG_EINVAL;
    if (colon && memchr(dec, '\0', n) == NULL) {
        size_t ul = (size_t)(colon - dec), pl = n - ul - 1;
        if (ul < user_size && pl < pw_size) {
            memcpy(user, dec, ul);
            user[ul] = '\0';
            memcpy(pw, colon + 1, pl);
            pw[pl] = '\0';
            *pw_len = pl;
            rc = 0;
        }
    }
    sodium_memzero(dec, sizeof(dec));
    return rc;
}

/* ---- listeners ----------------------------------------------------------------- */

static void fp_str(crypto_generichash_state *h, const char *s)
{
    crypto_generichash_update(h, (const unsigned char *)s, strlen(s) + 1);
}

static void fp_int(crypto_generichash_state *h, long long v)
{
    crypto_generichash_update(h, (const unsigned char *)&v, sizeof(v));
}

/* A file by path and what says it was replaced (a renewed certificate). */
static void fp_file(crypto_generichash_state *h, const char *path)
{
    struct stat st;
    fp_str(h, path);
    if (!path[0] || stat(path, &st))
        return;
    fp_int(h, (long long)st.st_ino);
    fp_int(h, (long long)st.st_size);
    fp_int(h, (long long)st.st_mtim.tv_sec);
    fp_int(h, (long long)st.st_mtim.tv_nsec);
}

/* What a listener is made of: when it changes, the listener is replaced. */
static void listener_key(const struct fg_config *c, bool tls, unsigned char *out)
{
    const struct fg_hostport *hp = tls ? &c->ocpp.tls_listen : &c->ocpp.listen;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, DIGEST_BYTES);
    fp_str(&h, hp->host);
    fp_int(&h, hp->port);
    if (tls) {
        fp_file(&h, c->ocpp.tls_cert);
        fp_file(&h, c->ocpp.tls_key);
        fp_file(&h, c->ocpp.tls_ca);
    }
    crypto_generichash_final(&h, out, DIGEST_BYTES);
}

/* lws keeps the iface pointer of a vhost, and compares it when another vhost
 * is made, even after the vhost was destroyed (it goes lazily). So each
 * listen host is kept once for the life of the process. Loop thread only. */
static const char *iface_of(const struct fg_hostport *hp)
{
    static char kept[16][FG_CFG_HOST_MAX];
    if (!strcmp(hp->host, "0.0.0.0") || !strcmp(hp->host, "::"))
        return NULL; /* lws binds every address */
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        if (!kept[i][0])
            snprintf(kept[i], sizeof(kept[i]), "%s", hp->host);
        if (!strcmp(kept[i], hp->host))
            return kept[i];
    }
    return ""; /* more than 16 listen hosts since start: refused by lws */
}

bool fg_ocpp_sec_tls_wanted(const struct fg_config *cfg)
{
    return cfg->ocpp.tls_cert[0] != '\0';
}

static struct lws_vhost *vhost_new(struct fg_ocpp_sec *s, const struct fg_config *cfg,
                                   bool tls)
{
    const struct fg_hostport *hp = tls ? &cfg->ocpp.tls_listen : &cfg->ocpp.listen;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = hp->port;
    info.iface = iface_of(hp);
    info.protocols = s->l.protocols;
    info.vhost_name = tls ? "fg-ocpp-tls" : "fg-ocpp";
    info.user = s->l.user;
    info.retry_and_idle_policy = s->l.retry;
    info.timeout_secs = 30;
    if (tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        /* TLS 1.2+ (also the minimum version set in fg_ocpp_sec_tls_ctx). */
        info.ssl_options_set = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 |
                               SSL_OP_NO_TLSv1_1 | SSL_OP_NO_RENEGOTIATION;
        info.ssl_cert_filepath = cfg->ocpp.tls_cert;
        info.ssl_private_key_filepath = cfg->ocpp.tls_key;
        if (cfg->ocpp.tls_ca[0]) {
            /* Ask for a certificate, never require one: see the top. */
            info.ssl_ca_filepath = cfg->ocpp.tls_ca;
            info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
                            LWS_SERVER_OPTION_PEER_CERT_NOT_REQUIRED;
        }
    }
    s->building = cfg;
    struct lws_vhost *vh = lws_create_vhost(fg_loop_context(s->host.loop), &info);
    s->building = NULL;
    return vh;
}

/* Make, keep or replace one listener for cfg. A replacement is made before
 * the old vhost is destroyed: on the same port the new one shares the old
 * one's listen socket, and lws hands the socket over as the old one goes, so
 * the port never closes and no connection lands on a destroyed vhost. */
static int listener_update(struct fg_ocpp_sec *s, struct listener *ls,
                           const struct fg_config *cfg, bool tls, struct fg_error *err)
{
    unsigned char key[DIGEST_BYTES];
    bool want = !tls || fg_ocpp_sec_tls_wanted(cfg);
    const struct fg_hostport *hp = tls ? &cfg->ocpp.tls_listen : &cfg->ocpp.listen;
    listener_key(cfg, tls, key);
    if (want == (ls->vh != NULL) && !memcmp(key, ls->key, sizeof(key)))
        return 0;
    struct lws_vhost *nv = want ? vhost_new(s, cfg, tls) : NULL;
    if (want && !nv)
        return fg_error_set(err, FG_EIO, tls ? "/ocpp/tls_listen" : "/ocpp/listen",
                            "cannot listen on %s:%u%s", hp->host, hp->port,
                            tls ? " with TLS (address in use, or tls_cert, tls_key or "
                                  "tls_ca unreadable?)"
                                : "");
    if (ls->vh)
        lws_vhost_destroy(ls->vh);
    ls->vh = nv;
    memcpy(ls->key, key, sizeof(key));
    if (nv)
        fg_info("ocpp", "CSMS on %s://%s:%u/ocpp/{stationId}", tls ? "wss" : "ws",
                hp->host, hp->port);
    return 0;
}

/* ---- lifecycle --------------------------------------------------------------- */

static bool is_ocpp_evse(const struct fg_cfg_asset *a)
{
    return a->kind == FG_ASSET_EVSE && !strcmp(a->adapter, "ocpp");
}

/* Say loudly which stations connect without authentication. */
static void warn_unauthenticated(struct fg_ocpp_sec *s)
{
    const struct fg_config *c = s->cfg;
    char list[512] = "";
    size_t len = 0, n = 0;
    for (size_t i = 0; i < c->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &c->site.assets[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = is_ocpp_evse(&c->site.assets[j]) &&
                   !strcmp(c->site.assets[j].station, a->station);
        if (!is_ocpp_evse(a) || seen || fg_config_ocpp_profile(c, a->station, NULL))
            continue;
        n++;
        if (len < sizeof(list))
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
                                    len ? ", " : "", a->station);
    }
    char msg[700];
    if (n) {
        snprintf(msg, sizeof(msg),
                 "%zu station(s) connect WITHOUT authentication (security profile 0): "
                 "%s; set ocpp.security_profile or ocpp.stations (docs/ocpp.md)",
                 n, list);
        fg_warn("ocpp", "%s", msg);
        fg_store_event_add(s->host.store, fg_clock_now_ms(s->host.clock), "warn", "ocpp",
                           "security", msg, NULL);
    }
    if (c->ocpp.allow_unknown_stations && c->ocpp.security_profile == 0) {
        snprintf(msg, sizeof(msg),
                 "allow_unknown_stations with security profile 0: ANY client can "
                 "connect as a new station and add EVSE assets");
        fg_warn("ocpp", "%s", msg);
        fg_store_event_add(s->host.store, fg_clock_now_ms(s->host.clock), "warn", "ocpp",
                           "security", msg, NULL);
    }
}

static void hash_digest(const struct fg_cfg_ocpp_station *e, unsigned char *out)
{
    const char *h = e && e->password_hash.value ? e->password_hash.value : "";
    crypto_generichash(out, DIGEST_BYTES, (const unsigned char *)h, strlen(h), NULL, 0);
}

static int snapshot(struct fg_ocpp_sec *s, const struct fg_config *cfg)
{
    size_t n = cfg->ocpp.n_stations;
    struct snap *v = n ? calloc(n, sizeof(*v)) : NULL;
    if (n && !v)
        return FG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct fg_cfg_ocpp_station *e = &cfg->ocpp.stations[i];
        snprintf(v[i].id, sizeof(v[i].id), "%s", e->id);
        v[i].profile = e->security_profile;
        hash_digest(e, v[i].hash);
    }
    free(s->snap);
    s->snap = v;
    s->n_snap = n;
    s->snap_default = cfg->ocpp.security_profile;
    return 0;
}

static void sec_destroy(struct fg_ocpp_sec *s)
{
    sodium_memzero(s->key, sizeof(s->key));
    if (s->pw)
        sodium_memzero(s->pw, s->n_pw * sizeof(*s->pw));
    free(s->pw);
    free(s->snap);
    free(s);
}

int fg_ocpp_sec_new(const struct fg_adapter_host *host, const struct fg_config *cfg,
                    const struct fg_ocpp_listen *l, struct fg_ocpp_sec **out,
                    struct fg_error *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return fg_error_set(err, FG_EIO, NULL, "cannot initialise libsodium");
    struct fg_ocpp_sec *s = calloc(1, sizeof(*s));
    if (!s)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    s->host = *host;
    s->cfg = cfg;
    s->l = *l;
    crypto_generichash_keygen(s->key);
    int rc = snapshot(s, cfg);
    if (!rc)
        rc = fg_worker_new(host->loop, "fg-ocpp-auth", &s->worker);
    if (rc)
        fg_error_set(err, rc, NULL, "cannot start the password worker");
    else
        *out = s; /* the TLS callbacks during vhost creation look for it */
    if (!rc)
        rc = listener_update(s, &s->ws, cfg, false, err);
    if (!rc)
        rc = listener_update(s, &s->wss, cfg, true, err);
    if (rc) {
        *out = NULL;
        fg_ocpp_sec_free(s);
        return rc;
    }
    warn_unauthenticated(s);
    return 0;
}

void fg_ocpp_sec_free(struct fg_ocpp_sec *s)
{
    if (!s)
        return;
    /* Connections close as the vhosts go; the adapter has detached them. */
    if (s->ws.vh)
        lws_vhost_destroy(s->ws.vh);
    if (s->wss.vh)
        lws_vhost_destroy(s->wss.vh);
    s->stopped = true;
    /* Joins the thread; queued jobs get done(cancelled) now, a finished one's
     * done() may still wait in the loop's queue: the last done() frees. */
    fg_worker_free(s->worker);
    s->worker = NULL;
    if (!s->jobs)
        sec_destroy(s);
}

bool fg_ocpp_sec_station_changed(const struct fg_ocpp_sec *s, const struct fg_config *cfg,
                                 const char *station)
{
    const struct fg_cfg_ocpp_station *e;
    const struct snap *old = NULL;
    unsigned char now[DIGEST_BYTES], before[DIGEST_BYTES];
    int profile = fg_config_ocpp_profile(cfg, station, &e);
    for (size_t i = 0; i < s->n_snap && !old; i++)
        if (!strcmp(s->snap[i].id, station))
            old = &s->snap[i];
    int old_profile = old && old->profile >= 0 ? old->profile : s->snap_default;
    hash_digest(e, now);
    if (old)
        memcpy(before, old->hash, sizeof(before));
    else
        hash_digest(NULL, before);
    return profile != old_profile || memcmp(now, before, sizeof(now));
}

int fg_ocpp_sec_reconfigure(struct fg_ocpp_sec *s, const struct fg_config *cfg,
                            struct fg_error *err)
{
    int rc = listener_update(s, &s->ws, cfg, false, err);
    if (!rc)
        rc = listener_update(s, &s->wss, cfg, true, err);
    bool changed = cfg->ocpp.security_profile != s->snap_default ||
                   cfg->ocpp.n_stations != s->n_snap;
    for (size_t i = 0; i < cfg->ocpp.n_stations && !changed; i++)
        changed = fg_ocpp_sec_station_changed(s, cfg, cfg->ocpp.stations[i].id);
    if (!rc && changed)
        rc = snapshot(s, cfg) ? fg_error_set(err, FG_ENOMEM, NULL, "out of memory") : 0;
    if (rc)
        return rc;
    s->cfg = cfg;
    if (changed) {
        /* Password results are for the hashes they were checked against. */
        sodium_memzero(s->pw, s->n_pw * sizeof(*s->pw));
        s->n_pw = 0;
        s->gen++;
        warn_unauthenticated(s);
    }
    return 0;
}

/* ---- TLS ---------------------------------------------------------------------- */

int fg_ocpp_sec_tls_ctx(struct fg_ocpp_sec *s, void *ssl_ctx)
{
    SSL_CTX *ctx = ssl_ctx;
    const struct fg_config *cfg = s ? s->building : NULL;
    if (!ctx || !cfg || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        fg_err("ocpp", "cannot set TLS 1.2 as the minimum protocol version");
        return -1;
    }
    if (cfg->ocpp.tls_ca[0]) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ocpp.tls_ca);
        if (!names) {
            fg_err("ocpp", "%s: no CA certificate could be read", cfg->ocpp.tls_ca);
            return -1;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    return 0;
}

/* NULL if the connection's client certificate proves `station`, else why
 * not. */
static const char *cert_problem(struct lws *wsi, const char *station, char *why, size_t n)
{
    SSL *ssl = lws_get_ssl(wsi);
    X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    if (!cert)
        return "no client certificate";
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        snprintf(why, n, "client certificate not verified: %s",
                 X509_verify_cert_error_string(vr));
        return why;
    }
    X509_NAME *subject = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i < 0)
        return "client certificate has no CN";
    if (X509_NAME_get_index_by_NID(subject, NID_commonName, i) >= 0)
        return "client certificate has more than one CN";
    unsigned char *cn = NULL;
    int len = ASN1_STRING_to_UTF8(
        &cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    bool same =
        len >= 0 && (size_t)len == strlen(station) && !memcmp(cn, station, (size_t)len);
    if (!same) {
        /* The CN is shown only if it is a plain id (logs must stay clean). */
        bool plain = len > 0 && len < 64;
        for (int k = 0; plain && k < len; k++)
            plain = cn[k] > 0x20 && cn[k] < 0x7f;
        snprintf(why, n, "client certificate CN \"%s\" is not the station id",
                 plain ? (const char *)cn : "?");
    }
    OPENSSL_free(cn);
    return same ? NULL : why;
}

/* ---- refusals ----------------------------------------------------------------- */

/* The HTTP answer to a refused upgrade, written raw (lws has switched the
 * connection to the ws role already and sends the 101 the same way). */
static void http_answer(struct lws *wsi, int status, const char *headers)
{
    static const char body[] = "station not admitted\n";
    unsigned char buf[LWS_PRE + 512];
    char *p = (char *)buf + LWS_PRE;
    const char *text = status == 401   ? "Unauthorized"
                       : status == 429 ? "Too Many Requests"
                                       : "Service Unavailable";
    int n = snprintf(p, sizeof(buf) - LWS_PRE,
                     "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, text, headers, sizeof(body) - 1, body);
    if (n > 0 && (size_t)n < sizeof(buf) - LWS_PRE)
        lws_write(wsi, (unsigned char *)p, (size_t)n, LWS_WRITE_HTTP_HEADERS);
}

static struct peer *peer_get(struct fg_ocpp_sec *s, const char *addr, bool create)
{
    int64_t now = fg_mono_ms();
    size_t oldest = 0;
    for (size_t i = 0; i < PEERS; i++) {
        struct peer *p = &s->peers[i];
        if (p->addr[0] && !strcmp(p->addr, addr)) {
            if (now - p->window_start_ms >= PEER_WINDOW_MS) {
                p->window_start_ms = now;
                p->failures = 0;
            }
            return p;
        }
        if (!p->addr[0] || p->window_start_ms < s->peers[oldest].window_start_ms)
            oldest = i;
    }
    if (!create)
        return NULL;
    struct peer *p = &s->peers[oldest];
    snprintf(p->addr, sizeof(p->addr), "%s", addr);
    p->window_start_ms = now;
    p->failures = 0;
    return p;
}

/* Refusals are logged and stored, at most EVENTS_PER_MIN a minute: the peer
 * table bounds them per address, this bounds them when addresses rotate. */
static void security_event(struct fg_ocpp_sec *s, const char *msg)
{
    int64_t now = fg_mono_ms();
    if (now - s->events_window_ms >= 60000) {
        if (s->events_dropped)
            fg_warn("ocpp", "%u more refusals in the last minute not logged or stored",
                    s->events_dropped);
        s->events_window_ms = now;
        s->events_n = s->events_dropped = 0;
    }
    if (++s->events_n > EVENTS_PER_MIN) {
        s->events_dropped++;
        return;
    }
    fg_warn("ocpp", "%s", msg);
    if (fg_store_event_add(s->host.store, fg_clock_now_ms(s->host.clock), "warn", "ocpp",
                           "security", msg, NULL))
        fg_err("ocpp", "cannot store a security event: %s",
               fg_store_errmsg(s->host.store));
}

/* Refuse with 401, count it against the peer, log and store why. */
static int refuse(struct fg_ocpp_sec *s, struct lws *wsi, const char *addr,
                  const char *station, int profile, const char *why)
{
    struct peer *p = peer_get(s, addr, true);
    char msg[400];
    snprintf(msg, sizeof(msg), "%s from %s refused (security profile %d): %s", station,
             addr, profile, why);
    security_event(s, msg);
    if (++p->failures == PEER_MAX_FAILURES) {
        snprintf(msg, sizeof(msg),
                 "%s: %d refused connections, answering 429 for up to %d s", addr,
                 PEER_MAX_FAILURES, PEER_WINDOW_MS / 1000);
        security_event(s, msg);
    }
    http_answer(wsi, 401, "WWW-Authenticate: Basic realm=\"flexgw OCPP\"\r\n");
    return -1;
}

/* ---- passwords ---------------------------------------------------------------- */

static struct pw_state *pw_get(struct fg_ocpp_sec *s, const char *station)
{
    for (size_t i = 0; i < s->n_pw; i++)
        if (!strcmp(s->pw[i].id, station))
            return &s->pw[i];
    if (s->n_pw == s->cap_pw) {
        size_t cap = s->cap_pw ? s->cap_pw * 2 : 16;
        struct pw_state *v = realloc(s->pw, cap * sizeof(*v));
        if (!v)
            return NULL;
        s->pw = v;
        s->cap_pw = cap;
    }
    struct pw_state *p = &s->pw[s->n_pw++];
    memset(p, 0, sizeof(*p));
    snprintf(p->id, sizeof(p->id), "%s", station);
    return p;
}

static void pw_result(struct pw_state *p, const unsigned char *digest, bool ok)
{
    if (ok) {
        memcpy(p->ok, digest, DIGEST_BYTES);
        p->ok_valid = true;
        return;
    }
    memcpy(p->bad[p->next_bad], digest, DIGEST_BYTES);
    p->next_bad = (p->next_bad + 1) % BAD_KEPT;
    if (p->n_bad < BAD_KEPT)
        p->n_bad++;
}

static bool pw_known_bad(const struct pw_state *p, const unsigned char *digest)
{
    for (unsigned i = 0; i < p->n_bad; i++)
        if (!sodium_memcmp(p->bad[i], digest, DIGEST_BYTES))
            return true;
    return false;
}

struct job {
    struct fg_ocpp_sec *s;
    unsigned gen;
    char station[FG_ID_MAX];
    char *hash;
    char pw[PW_MAX];
    size_t pw_len;
    unsigned char digest[DIGEST_BYTES];
    bool ok;
};

static void job_work(void *arg)
{
    struct job *j = arg;
    j->ok = !fg_ocpp_sec_verify_password(j->hash, j->pw, j->pw_len);
    sodium_memzero(j->pw, sizeof(j->pw));
}

static void job_done(void *arg, int cancelled)
{
    struct job *j = arg;
    struct fg_ocpp_sec *s = j->s;
    if (!cancelled && !s->stopped && j->gen == s->gen) {
        struct pw_state *p = pw_get(s, j->station);
        if (p) {
            p->pending = false;
            pw_result(p, j->digest, j->ok);
        }
    }
    sodium_memzero(j->pw, sizeof(j->pw));
    free(j->hash);
    free(j);
    if (--s->jobs == 0 && s->stopped)
        sec_destroy(s);
}

static bool offload(struct fg_ocpp_sec *s, struct pw_state *p, const char *hash,
                    const char *pw, size_t len, const unsigned char *digest)
{
    if (p->pending || s->jobs >= WORKER_QUEUE_MAX || !s->worker)
        return false;
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return false;
    j->s = s;
    j->gen = s->gen;
    snprintf(j->station, sizeof(j->station), "%s", p->id);
    j->hash = strdup(hash);
    memcpy(j->pw, pw, len);
    j->pw_len = len;
    memcpy(j->digest, digest, DIGEST_BYTES);
    if (!j->hash || fg_worker_submit(s->worker, job_work, job_done, j)) {
        free(j->hash);
        sodium_memzero(j, sizeof(*j));
        free(j);
        return false;
    }
    s->jobs++;
    p->pending = true;
    memcpy(p->pending_digest, digest, DIGEST_BYTES);
    return true;
}

/* Verify on the loop if this second's budget allows; true if it did. */
static bool verify_inline(struct fg_ocpp_sec *s, const char *hash, const char *pw,
                          size_t len, bool *ok)
{
    int64_t now = fg_mono_us();
    if (now - s->budget_window_us >= 1000000) {
        s->budget_window_us = now;
        s->budget_spent_us = 0;
    }
    if (s->budget_spent_us >= INLINE_BUDGET_US)
        return false;
    *ok = !fg_ocpp_sec_verify_password(hash, pw, len);
    s->budget_spent_us += fg_mono_us() - now;
    return true;
}

/* The verdict on a password given for a station: 0 admitted, -1 refused,
 * 1 answered 503 (being verified, or no time to verify now). */
static int password_verdict(struct fg_ocpp_sec *s, struct lws *wsi, const char *addr,
                            const char *station, int profile, const char *hash,
                            const char *pw, size_t len)
{
    unsigned char digest[DIGEST_BYTES];
    struct pw_state *p = pw_get(s, station);
    bool ok = false;
    if (!p)
        return refuse(s, wsi, addr, station, profile, "out of memory");
    crypto_generichash(digest, sizeof(digest), (const unsigned char *)pw, len, s->key,
                       sizeof(s->key));
    if (p->ok_valid && !sodium_memcmp(p->ok, digest, sizeof(digest)))
        return 0;
    if (pw_known_bad(p, digest))
        return refuse(s, wsi, addr, station, profile, "wrong password");
    bool pending =
        p->pending && !sodium_memcmp(p->pending_digest, digest, sizeof(digest));
    if (!pending && verify_inline(s, hash, pw, len, &ok)) {
        pw_result(p, digest, ok);
        return ok ? 0 : refuse(s, wsi, addr, station, profile, "wrong password");
    }
    if (!pending)
        offload(s, p, hash, pw, len, digest);
    char h[64];
    snprintf(h, sizeof(h), "Retry-After: %d\r\n", RETRY_AFTER_S);
    http_answer(wsi, 503, h);
    fg_info("ocpp", "%s from %s: password verification deferred (503)", station, addr);
    return 1;
}

/* HTTP Basic authentication of a station: 0 admitted, non-zero answered. */
static int check_password(struct fg_ocpp_sec *s, struct lws *wsi, const char *addr,
                          const char *station, int profile, const char *hash)
{
    char header[512], user[FG_ID_MAX + 1], pw[PW_MAX];
    size_t len = 0;
    const char *why = NULL;
    if (lws_hdr_copy(wsi, header, sizeof(header), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
        why = "no HTTP Basic credentials";
    else if (fg_ocpp_sec_parse_basic(header, user, sizeof(user), pw, sizeof(pw), &len))
        why = "malformed HTTP Basic credentials";
    else if (strcmp(user, station))
        why = "user name is not the station id";
    else if (!len)
        why = "empty password";
    explicit_bzero(header, sizeof(header));
    int rc = why ? refuse(s, wsi, addr, station, profile, why)
                 : password_verdict(s, wsi, addr, station, profile, hash, pw, len);
    sodium_memzero(pw, sizeof(pw));
    return rc;
}

/* ---- admission ---------------------------------------------------------------- */

int fg_ocpp_sec_admit(struct fg_ocpp_sec *s, struct lws *wsi, const char *station,
                      bool known)
{
    char addr[64] = "?", why[200];
    lws_get_peer_simple(wsi, addr, sizeof(addr));
    if (!strncmp(addr, "::ffff:", 7) && strchr(addr + 7, '.'))
        memmove(addr, addr + 7, strlen(addr + 7) + 1); /* IPv4 on a v6 socket */
    const struct fg_cfg_ocpp_station *e = NULL;
    int profile = fg_config_ocpp_profile(s->cfg, station, &e);
    struct peer *p = peer_get(s, addr, false);
    if (p && p->failures >= PEER_MAX_FAILURES) {
        http_answer(wsi, 429, "Retry-After: 60\r\n");
        return -1;
    }
    if (!known)
        return refuse(s, wsi, addr, station, profile, "not a configured station");
    bool tls = lws_get_ssl(wsi) != NULL;
    if (profile >= 2 && !tls)
        return refuse(s, wsi, addr, station, profile, "needs wss:// (TLS)");
    if (profile == 3) {
        const char *bad = cert_problem(wsi, station, why, sizeof(why));
        if (bad)
            return refuse(s, wsi, addr, station, profile, bad);
    } else if (profile == 1 || profile == 2) {
        /* The config checks ensure a hash for these profiles. */
        const char *hash = e ? e->password_hash.value : NULL;
        if (!hash)
            return refuse(s, wsi, addr, station, profile, "no password_hash configured");
        if (check_password(s, wsi, addr, station, profile, hash))
            return -1;
    }
    fg_info("ocpp", "%s from %s: admitted (security profile %d%s)", station, addr,
            profile, tls ? ", TLS" : "");
    return 0;
}

/* ---- SecurityEventNotification ------------------------------------------------ */

/* Station-supplied text for logs: control characters become '?'. */
static void clean(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < n; i++)
        dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
    dst[i] = '\0';
}

int fg_ocpp_sec_event(struct fg_ocpp_sec *s, const char *station, const cJSON *payload)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(payload, "type");
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(payload, "techInfo");
    char t[64], ti[256], msg[400];
    clean(t, sizeof(t), cJSON_GetStringValue(type));
    clean(ti, sizeof(ti), cJSON_GetStringValue(info));
    snprintf(msg, sizeof(msg), "%s reports security event %s%s%s", station, t,
             ti[0] ? ": " : "", ti);
    cJSON *data = cJSON_Duplicate(payload, 1);
    char *json = NULL;
    if (data && cJSON_AddStringToObject(data, "station", station))
        json = cJSON_PrintUnformatted(data);
    cJSON_Delete(data);
    fg_warn("ocpp", "%s", msg);
    int rc = fg_store_event_add(s->host.store, fg_clock_now_ms(s->host.clock), "warn",
                                "ocpp", "security", msg, json);
    if (rc)
        fg_err("ocpp", "%s: cannot store its security event: %s", station,
               fg_store_errmsg(s->host.store));
    free(json);
    return rc;
}
