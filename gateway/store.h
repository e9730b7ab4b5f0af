/* Persistence: one SQLite database in WAL mode under storage.path.
 *
 * What it keeps: events, the set-point log, signals, and, for the adapters,
 * transactions, meter values, a key-value table for protocol state
 * (registration ids and the like) and the MQTT outbox. Every fg_store_*
 * write is one committed transaction when it returns 0: with sync_full the
 * commit is fsync'ed (survives power loss), without it the commit survives a
 * crash or kill -9 of the process. So a peer may be acknowledged as soon as
 * the call returns.
 *
 * The schema is versioned with PRAGMA user_version; opening an older
 * database applies the missing migrations in order inside one transaction,
 * and a database newer than this build is refused (FG_ESTORE), never
 * modified.
 *
 * Threading: a store handle is used by one thread at a time (the loop).
 *
 * Callbacks of the list/foreach/peek functions must not call back into the
 * same store (FG_ESTATE): copy what is needed and act after the call. A
 * callback's non-zero return stops the iteration; a negative one is returned
 * by the list function, a positive one gives 0. See docs/storage.md. */
#ifndef FG_STORE_H
#define FG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "fg_err.h"

struct fg_store;

/* Schema version this build creates and migrates to (added). */
#define FG_STORE_SCHEMA_VERSION 5

/* Open (creating dir and database as needed) <dir>/flexgw.db. */
int fg_store_open(struct fg_store **out, const char *dir, int sync_full,
                  struct fg_error *err);
void fg_store_close(struct fg_store *s);
/* Schema version of the open database (== FG_STORE_SCHEMA_VERSION). */
int fg_store_schema_version(struct fg_store *s);
/* Highest schema version this build knows. */
int fg_store_latest_version(void);
/* Last SQLite error text, for logs. */
const char *fg_store_errmsg(struct fg_store *s);

/* Events: something that happened and should be kept (security events,
 * adapter state changes, config reloads). data_json may be NULL. */
int fg_store_event_add(struct fg_store *s, int64_t ts_ms, const char *level,
                       const char *source, const char *kind, const char *message,
                       const char *data_json);
struct fg_store_event {
    int64_t id;
    int64_t ts_ms;
    const char *level, *source, *kind, *message, *data_json; /* data_json may be NULL */
};
/* Newest first, at most `limit`, with id < before_id (0 = from newest). The
 * callback's pointers are valid during the call only; non-zero stops. */
int fg_store_event_list(struct fg_store *s, int64_t before_id, int limit,
                        int (*cb)(void *arg, const struct fg_store_event *e), void *arg);

/* Set-point log: every set-point decided, as asked and as applied. */
struct fg_store_setpoint {
    int64_t ts_ms;
    const char *asset_id;
    double requested_w;
    double applied_w;
    const char *source;
    int64_t expires_at; /* epoch s */
    unsigned clamp;
};
int fg_store_setpoint_add(struct fg_store *s, const struct fg_store_setpoint *sp);
/* Newest first (ts_ms), at most `limit`; asset_id NULL lists all assets.
 * NAN powers round-trip as NAN. */
int fg_store_setpoint_list(struct fg_store *s, const char *asset_id, int limit,
                           int (*cb)(void *arg, const struct fg_store_setpoint *sp),
                           void *arg);

/* Signals, stored as their JSON text keyed by (source, id); put replaces. */
int fg_store_signal_put(struct fg_store *s, const char *source, const char *id,
                        const char *json, int64_t updated_ms);
int fg_store_signal_delete(struct fg_store *s, const char *source, const char *id);
int fg_store_signal_foreach(struct fg_store *s,
                            int (*cb)(void *arg, const char *source, const char *id,
                                      const char *json),
                            void *arg);

/* Transactions (charging sessions), JSON body keyed by transaction id;
 * put replaces. get returns FG_ENOTFOUND if absent; *json_out is malloc'ed. */
int fg_store_tx_put(struct fg_store *s, const char *tx_id, const char *station, int evse,
                    const char *state, const char *json, int64_t updated_ms);
int fg_store_tx_get(struct fg_store *s, const char *tx_id, char **json_out);
/* An evse of 0 in a put keeps the one stored (events after the first may
 * omit it). The transactions not Ended, last updated at or after since_ms,
 * oldest first; what the gateway resumes after a restart. Pointers valid
 * during the callback only; non-zero stops. */
struct fg_store_tx {
    const char *tx_id, *station, *state, *json;
    int evse;
    int64_t updated_ms;
};
int fg_store_tx_open_foreach(struct fg_store *s, int64_t since_ms,
                             int (*cb)(void *arg, const struct fg_store_tx *t),
                             void *arg);

/* Group commit. Between fg_store_batch_begin() and fg_store_batch_end() the
 * writes of this store join one transaction, so that many rows cost one
 * commit (one fsync with sync_full). end commits; if that fails, or rc (the
 * caller's verdict on its writes) is non-zero, the whole batch is rolled
 * back and nothing of it is stored. Returns 0 when the batch is durable.
 * The caller holds every acknowledgement of the batch until then, and must
 * not interleave writes that are acknowledged on their own. No nesting. */
int fg_store_batch_begin(struct fg_store *s);
int fg_store_batch_end(struct fg_store *s, int rc);

/* Meter values: one measurement of one asset. NAN fields are stored NULL. */
int fg_store_meter_add(struct fg_store *s, const char *asset_id, int64_t ts_ms,
                       double power_w, double energy_wh, double soc);
/* Number of meter values of an asset in [from_ms, to_ms). */
int fg_store_meter_count(struct fg_store *s, const char *asset_id, int64_t from_ms,
                         int64_t to_ms, int64_t *count);

/* Key-value state for adapters (e.g. "openadr.ven_id"). get: FG_ENOTFOUND if
 * absent; *value_out malloc'ed. */
int fg_store_kv_put(struct fg_store *s, const char *key, const char *value);
int fg_store_kv_get(struct fg_store *s, const char *key, char **value_out);

/* Outbox: messages to deliver in order, kept until acknowledged. */
struct fg_store_msg {
    int64_t id;
    const char *topic;
    const void *payload;
    size_t len;
    int qos;
    int64_t created_ms;
};
int fg_store_outbox_push(struct fg_store *s, const char *topic, const void *payload,
                         size_t len, int qos, int64_t created_ms, int64_t *id_out);
/* Oldest first, at most `limit` with id > after_id. Pointers valid during the
 * callback only; non-zero from cb stops. */
int fg_store_outbox_peek(struct fg_store *s, int64_t after_id, int limit,
                         int (*cb)(void *arg, const struct fg_store_msg *m), void *arg);
/* Remove a delivered message; FG_ENOTFOUND if absent. */
int fg_store_outbox_ack(struct fg_store *s, int64_t id);
int fg_store_outbox_count(struct fg_store *s, int64_t *count);

/* Battery ageing states (gateway/health.c), the JSON of
 * fg_age_state_to_json() keyed by (kind, key): kind "battery" with the asset
 * id as key, or "ev" with the EV's key (id token or session id); asset_id
 * (may be NULL) is the EVSE an EV was last seen on. put replaces. foreach
 * goes oldest update first; pointers valid during the callback only. */
struct fg_store_ageing {
    const char *kind, *key, *asset_id, *json;
    int64_t updated_ms;
};
int fg_store_ageing_put(struct fg_store *s, const struct fg_store_ageing *a);
int fg_store_ageing_delete(struct fg_store *s, const char *kind, const char *key);
int fg_store_ageing_foreach(struct fg_store *s,
                            int (*cb)(void *arg, const struct fg_store_ageing *a),
                            void *arg);

/* Learned forecast profiles (gateway/forecast.c), one row per series
 * ("load", "pv"): the learner's state as an opaque blob in the learner's
 * `format`, for an ISP length isp_s. put replaces the series' row. foreach
 * goes by series name; pointers (state: len bytes, never NULL) are valid
 * during the callback only. The store does not look inside the blob: the
 * learner validates it when it loads it. */
struct fg_store_forecast {
    const char *series;
    int64_t format;
    int64_t isp_s;
    const void *state;
    size_t len;
    int64_t updated_ms;
};
int fg_store_forecast_put(struct fg_store *s, const struct fg_store_forecast *f);
int fg_store_forecast_foreach(struct fg_store *s,
                              int (*cb)(void *arg, const struct fg_store_forecast *f),
                              void *arg);

/* Delete events, set-point log and meter values older than before_ms.
 * Outbox, signals, transactions, kv, ageing and forecast are never pruned
 * here. */
int fg_store_prune(struct fg_store *s, int64_t before_ms);

#endif
