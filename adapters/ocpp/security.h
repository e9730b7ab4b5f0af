/* OCPP security profiles for the CSMS adapter (OCPP 2.0.1 part 2, A00):
 * who may open a WebSocket as which station.
 *
 *   0  none: no authentication (legacy and lab set-ups; warned at start-up)
 *   1  HTTP Basic authentication over ws:// (user = station id)
 *   2  TLS (wss://) + HTTP Basic authentication
 *   3  TLS with a client certificate, issued by ocpp.tls_ca, whose subject
 *      CN is the station id
 *
 * A profile is a minimum: a profile-1 station may also come over wss://, a
 * profile-2 or 3 station is refused on ws://. The profile of a station is its
 * ocpp.stations entry's, else ocpp.security_profile (fg_config_ocpp_profile).
 *
 * Every refusal is answered before the WebSocket upgrade with HTTP 401 (the
 * same answer whatever the reason, so a client learns nothing about which
 * stations exist or what they need), logged, and stored as a security event.
 * A peer address with too many refusals gets 429 for a while; a password that
 * cannot be verified right now (see fg_ocpp_sec_admit) gets 503.
 *
 * Loop thread only, except where a function says otherwise. */
#ifndef FG_OCPP_SECURITY_H
#define FG_OCPP_SECURITY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "fg_adapter.h"

/* Room for a crypto_pwhash_str() result, NUL included. */
#define FG_OCPP_PWHASH_MAX 128

struct fg_ocpp_sec;

/* What the listeners need from the adapter: its protocol list and idle
 * policy (both static: lws keeps pointers to them) and the vhost user. */
struct fg_ocpp_listen {
    const struct lws_protocols *protocols;
    const lws_retry_bo_t *retry;
    void *user;
};

/* Start the listeners for cfg: ws:// on ocpp.listen, and wss:// on
 * ocpp.tls_listen when ocpp.tls_cert is set. cfg is borrowed: valid until
 * fg_ocpp_sec_free or the next fg_ocpp_sec_reconfigure. *out is set before
 * the vhosts are made (their TLS callback needs it) and NULL on failure.
 * Logs a warning naming every station that connects without
 * authentication. FG_ENOMEM, FG_EIO (err names the listen address). */
int fg_ocpp_sec_new(const struct fg_adapter_host *host, const struct fg_config *cfg,
                    const struct fg_ocpp_listen *l, struct fg_ocpp_sec **out,
                    struct fg_error *err);
/* Close the listeners (their connections go with them) and free; password
 * verifications still running finish on their worker first. NULL is fine. */
void fg_ocpp_sec_free(struct fg_ocpp_sec *s);
/* Take a reloaded config in place: a listener whose address or TLS files
 * (path or content) changed is replaced, which closes its connections;
 * remembered password results are dropped when any station's security
 * changed. FG_EIO if a new listener cannot be made (the adapter must then
 * restart). Stations whose security changed must be disconnected by the
 * caller: ask fg_ocpp_sec_station_changed before this. */
int fg_ocpp_sec_reconfigure(struct fg_ocpp_sec *s, const struct fg_config *cfg,
                            struct fg_error *err);
/* True if the station's profile or password hash in cfg differs from the
 * settings in force (those of the last start or reconfigure). */
bool fg_ocpp_sec_station_changed(const struct fg_ocpp_sec *s, const struct fg_config *cfg,
                                 const char *station);

/* True if cfg asks for a wss:// listener (ocpp.tls_cert set). */
bool fg_ocpp_sec_tls_wanted(const struct fg_config *cfg);
/* For LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS on the wss://
 * vhost being made: TLS 1.2 as the minimum and the client CA list on its
 * SSL_CTX (ssl_ctx). 0, or -1 to fail the vhost. */
int fg_ocpp_sec_tls_ctx(struct fg_ocpp_sec *s, void *ssl_ctx);

/* Decide whether the WebSocket upgrade on wsi may go ahead for `station`
 * (known: an evse asset names it, or unknown stations are allowed). Call from
 * LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION. Returns 0 to admit; otherwise the
 * HTTP answer has been written and the filter must return non-zero.
 *
 * Why passwords are checked this way: argon2id is slow on purpose (~40 ms).
 * A password that verified before (compared by a keyed BLAKE2b digest kept
 * in memory only) is admitted at once; one that failed before is refused at
 * once. Otherwise it is verified on the loop while that costs less than a
 * small share of each second, and beyond that on a worker thread while the
 * station is told 503 (its retry finds the result), so a reconnect storm
 * cannot stall the loop. */
int fg_ocpp_sec_admit(struct fg_ocpp_sec *s, struct lws *wsi, const char *station,
                      bool known);

/* A SecurityEventNotification from a station (payload validated against its
 * schema): logged and stored as a security event. 0, or the store's error
 * (the station must then not be acknowledged). */
int fg_ocpp_sec_event(struct fg_ocpp_sec *s, const char *station, const cJSON *payload);

/* ---- pure helpers (any thread) ---- */

/* argon2id hash of a password for ocpp.stations[].password_hash, with
 * libsodium's interactive limits (64 MiB, 2 passes). FG_EINVAL for an empty
 * password or one with a NUL byte, FG_ENOMEM. */
int fg_ocpp_sec_hash_password(const char *pw, size_t len, char out[FG_OCPP_PWHASH_MAX]);
/* 0 if pw matches hash, FG_EAUTH if not (or hash is malformed). Slow. */
int fg_ocpp_sec_verify_password(const char *hash, const char *pw, size_t len);
/* Split an Authorization header value "Basic base64(user:password)" into
 * user and password (NUL-terminated; *pw_len excludes the NUL). FG_EINVAL if
 * it is not Basic, not base64, has no ':', or a part does not fit. */
int fg_ocpp_sec_parse_basic(const char *header, char *user, size_t user_size, char *pw,
                            size_t pw_size, size_t *pw_len);

#endif
