/* Persistence: one SQLite database in WAL mode (see store.h, docs/storage.md).
 *
 * The handle is opened with SQLITE_OPEN_NOMUTEX: store.h promises that one
 * thread at a time uses a handle (the loop), so SQLite's per-connection
 * mutex would only cost time. Every statement is prepared once at open and
 * kept in s->st[]; each use binds, steps and resets it (reset_stmt). */
#define _GNU_SOURCE
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define DB_NAME "flexgw.db"
#define DIR_MODE 0750
#define FILE_MODE 0640
#define BUSY_TIMEOUT_MS 5000

/* Migrations, applied in order. Append only: a released entry is never
 * edited, a change of schema is a new entry (docs/storage.md). Entry i
 * brings the database to user_version i + 1. */
static const char *const migrations[] = {
    /* 1: initial schema */
    ("CREATE TABLE events(id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL,"
     " level TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL,"
     " message TEXT NOT NULL, data_json TEXT);"
     "CREATE INDEX events_ts ON events(ts_ms);"
     "CREATE TABLE setpoints(id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL,"
     " asset_id TEXT NOT NULL, requested_w REAL, applied_w REAL, source TEXT,"
     " expires_at INTEGER NOT NULL, clamp INTEGER NOT NULL);"
     "CREATE INDEX setpoints_asset_ts ON setpoints(asset_id, ts_ms);"
     "CREATE TABLE signals(source TEXT NOT NULL, id TEXT NOT NULL,"
     " json TEXT NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY(source, id));"
     "CREATE TABLE transactions(tx_id TEXT PRIMARY KEY NOT NULL, station TEXT,"
     " evse INTEGER NOT NULL, state TEXT, json TEXT NOT NULL,"
     " updated_ms INTEGER NOT NULL);"
     "CREATE TABLE meter_values(id INTEGER PRIMARY KEY, asset_id TEXT NOT NULL,"
     " ts_ms INTEGER NOT NULL, power_w REAL, energy_wh REAL, soc REAL);"
     "CREATE INDEX meter_values_asset_ts ON meter_values(asset_id, ts_ms);"
     "CREATE TABLE kv(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
     "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL,"
     " created_ms INTEGER NOT NULL);"),
    /* 2: retention pruning deletes by time across all assets; without these
     * it scanned the whole set-point and meter tables. */
    ("CREATE INDEX setpoints_ts ON setpoints(ts_ms);"
     "CREATE INDEX meter_values_ts ON meter_values(ts_ms);"),
    /* 3: meter values arrive from every EVSE at once; an (asset, time) index
     * puts each row on a different page, so every commit rewrote one index
     * page per row (4 page writes per MeterValues in the benchmark). Rows
     * are read by time window (meter_values_ts), then by asset. */
    "DROP INDEX meter_values_asset_ts;",
    /* 4: battery ageing states (gateway/health.c): one row per battery asset
     * and per EV, the JSON of fg_age_state_to_json(). */
    ("CREATE TABLE ageing(kind TEXT NOT NULL, key TEXT NOT NULL, asset_id TEXT,"
     " json TEXT NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY(kind, key));"),
    /* 5: the learned load and PV profiles (gateway/forecast.c): one row per
     * series, its state as a blob of little-endian numbers. */
    ("CREATE TABLE forecast(series TEXT PRIMARY KEY NOT NULL, format INTEGER NOT NULL,"
     " isp_s INTEGER NOT NULL, state BLOB NOT NULL, updated_ms INTEGER NOT NULL);"),
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(N_MIGRATIONS == FG_STORE_SCHEMA_VERSION,
               "FG_STORE_SCHEMA_VERSION must equal the number of migrations");

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_EVENT_ADD,
    ST_EVENT_LIST,
    ST_SP_ADD,
    ST_SP_LIST,
    ST_SP_LIST_ALL,
    ST_SIG_PUT,
    ST_SIG_DEL,
    ST_SIG_ALL,
    ST_TX_PUT,
    ST_TX_GET,
    ST_TX_OPEN,
    ST_METER_ADD,
    ST_METER_COUNT,
    ST_KV_PUT,
    ST_KV_GET,
    ST_OB_PUSH,
    ST_OB_PEEK,
    ST_OB_ACK,
    ST_OB_COUNT,
    ST_PRUNE_EVENTS,
    ST_PRUNE_SP,
    ST_PRUNE_METER,
    ST_AGE_PUT,
    ST_AGE_DEL,
    ST_AGE_ALL,
    ST_FC_PUT,
    ST_FC_ALL,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_EVENT_ADD] = "INSERT INTO events(ts_ms, level, source, kind, message, data_json)"
                     " VALUES(?, ?, ?, ?, ?, ?)",
    [ST_EVENT_LIST] = "SELECT id, ts_ms, level, source, kind, message, data_json"
                      " FROM events WHERE id < ? ORDER BY id DESC LIMIT ?",
    [ST_SP_ADD] = "INSERT INTO setpoints(ts_ms, asset_id, requested_w, applied_w, source,"
                  " expires_at, clamp) VALUES(?, ?, ?, ?, ?, ?, ?)",
    [ST_SP_LIST] = "SELECT ts_ms, asset_id, requested_w, applied_w, source, expires_at,"
                   " clamp FROM setpoints WHERE asset_id = ?"
                   " ORDER BY ts_ms DESC, id DESC LIMIT ?",
    [ST_SP_LIST_ALL] = "SELECT ts_ms, asset_id, requested_w, applied_w, source,"
                       " expires_at, clamp FROM setpoints"
                       " ORDER BY ts_ms DESC, id DESC LIMIT ?",
    [ST_SIG_PUT] = "INSERT INTO signals(source, id, json, updated_ms) VALUES(?, ?, ?, ?)"
                   " ON CONFLICT(source, id) DO UPDATE SET json = excluded.json,"
                   " updated_ms = excluded.updated_ms",
    [ST_SIG_DEL] = "DELETE FROM signals WHERE source = ? AND id = ?",
    [ST_SIG_ALL] = "SELECT source, id, json FROM signals ORDER BY source, id",
    [ST_TX_PUT] =
        "INSERT INTO transactions(tx_id, station, evse, state, json, updated_ms)"
        " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(tx_id) DO UPDATE SET"
        " station = excluded.station,"
        " evse = CASE WHEN excluded.evse > 0 THEN excluded.evse ELSE transactions.evse "
        "END,"
        " state = excluded.state, json = excluded.json,"
        " updated_ms = excluded.updated_ms",
    [ST_TX_GET] = "SELECT json FROM transactions WHERE tx_id = ?",
    [ST_TX_OPEN] =
        "SELECT tx_id, station, evse, state, json, updated_ms FROM transactions"
        " WHERE state <> 'Ended' AND updated_ms >= ? ORDER BY updated_ms",
    [ST_METER_ADD] = "INSERT INTO meter_values(asset_id, ts_ms, power_w, energy_wh, soc)"
                     " VALUES(?, ?, ?, ?, ?)",
    [ST_METER_COUNT] = "SELECT COUNT(*) FROM meter_values"
                       " WHERE asset_id = ? AND ts_ms >= ? AND ts_ms < ?",
    [ST_KV_PUT] = "INSERT INTO kv(key, value) VALUES(?, ?)"
                  " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_KV_GET] = "SELECT value FROM kv WHERE key = ?",
    [ST_OB_PUSH] =
        "INSERT INTO outbox(topic, payload, qos, created_ms) VALUES(?, ?, ?, ?)",
    [ST_OB_PEEK] = "SELECT id, topic, payload, qos, created_ms FROM outbox"
                   " WHERE id > ? ORDER BY id LIMIT ?",
    [ST_OB_ACK] = "DELETE FROM outbox WHERE id = ?",
    [ST_OB_COUNT] = "SELECT COUNT(*) FROM outbox",
    [ST_PRUNE_EVENTS] = "DELETE FROM events WHERE ts_ms < ?",
    [ST_PRUNE_SP] = "DELETE FROM setpoints WHERE ts_ms < ?",
    [ST_PRUNE_METER] = "DELETE FROM meter_values WHERE ts_ms < ?",
    [ST_AGE_PUT] = "INSERT INTO ageing(kind, key, asset_id, json, updated_ms)"
                   " VALUES(?, ?, ?, ?, ?) ON CONFLICT(kind, key) DO UPDATE SET"
                   " asset_id = excluded.asset_id, json = excluded.json,"
                   " updated_ms = excluded.updated_ms",
    [ST_AGE_DEL] = "DELETE FROM ageing WHERE kind = ? AND key = ?",
    [ST_AGE_ALL] = "SELECT kind, key, asset_id, json, updated_ms FROM ageing"
                   " ORDER BY updated_ms, kind, key",
    [ST_FC_PUT] = "INSERT INTO forecast(series, format, isp_s, state, updated_ms)"
                  " VALUES(?, ?, ?, ?, ?) ON CONFLICT(series) DO UPDATE SET"
                  " format = excluded.format, isp_s = excluded.isp_s,"
                  " state = excluded.state, updated_ms = excluded.updated_ms",
    [ST_FC_ALL] = "SELECT series, format, isp_s, state, updated_ms FROM forecast"
                  " ORDER BY series",
};

struct fg_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    int version;
    int in_cb; /* inside a list callback: no re-entry (store.h) */
    char errmsg[256];
};

/* ---- errors ------------------------------------------------------------ */

/* Keep SQLite's message (it is overwritten by the next call) and map the
 * result code. */
static int fail(struct fg_store *s, int rc)
{
    snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errmsg(s->db));
    return rc == SQLITE_NOMEM ? FG_ENOMEM : FG_ESTORE;
}

static void reset_stmt(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* ---- binding ----------------------------------------------------------- */

static int bind_double(sqlite3_stmt *st, int i, double v)
{
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

static int bind_one(sqlite3_stmt *st, int i, char type, va_list *ap)
{
    switch (type) {
    case 't': /* text, NULL binds NULL */
        return sqlite3_bind_text(st, i, va_arg(*ap, const char *), -1, SQLITE_STATIC);
    case 'i':
        return sqlite3_bind_int64(st, i, va_arg(*ap, int64_t));
    case 'd':
        return bind_double(st, i, va_arg(*ap, double));
    case 'b': { /* blob: pointer, size_t; never NULL, even when empty */
        const void *p = va_arg(*ap, const void *);
        size_t n = va_arg(*ap, size_t);
        return sqlite3_bind_blob64(st, i, p ? p : "", n, SQLITE_STATIC);
    }
    default:
        return SQLITE_MISUSE;
    }
}

/* Bind the arguments to parameters 1.. as described by types: t = const
 * char *, i = int64_t, d = double (NAN -> NULL), b = const void *, size_t.
 * Bound text and blobs are SQLITE_STATIC: callers step before returning. */
static int bind(struct fg_store *s, enum stmt_id id, const char *types, ...)
{
    sqlite3_stmt *st = s->st[id];
    va_list ap;
    int rc = SQLITE_OK;
    va_start(ap, types);
    for (int i = 0; types[i] && rc == SQLITE_OK; i++)
        rc = bind_one(st, i + 1, types[i], &ap);
    va_end(ap);
    if (rc == SQLITE_OK)
        return 0;
    rc = fail(s, rc);
    reset_stmt(st);
    return rc;
}

/* ---- stepping ---------------------------------------------------------- */

/* Step a statement that returns no row, then reset it. */
static int run(struct fg_store *s, enum stmt_id id)
{
    int rc = sqlite3_step(s->st[id]);
    int ret = rc == SQLITE_DONE ? 0 : fail(s, rc);
    reset_stmt(s->st[id]);
    return ret;
}

/* Step a statement expected to return one row: 0 with the row current (the
 * caller reads it and resets), FG_ENOTFOUND (reset) or an error (reset). */
static int one_row(struct fg_store *s, enum stmt_id id)
{
    int rc = sqlite3_step(s->st[id]);
    if (rc == SQLITE_ROW)
        return 0;
    int ret = rc == SQLITE_DONE ? FG_ENOTFOUND : fail(s, rc);
    reset_stmt(s->st[id]);
    return ret;
}

typedef int (*row_fn)(struct fg_store *s, sqlite3_stmt *st, void *ctx);

/* Step through all rows, calling fn for each; fn's non-zero stops (a
 * negative value is returned, a positive one means "done", 0). */
static int each_row(struct fg_store *s, enum stmt_id id, row_fn fn, void *ctx)
{
    sqlite3_stmt *st = s->st[id];
    int rc, ret = 0;
    s->in_cb = 1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = fn(s, st, ctx);
        if (ret)
            break;
    }
    s->in_cb = 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = fail(s, rc);
    reset_stmt(st);
    return ret < 0 ? ret : 0;
}

static int count_rows(struct fg_store *s, enum stmt_id id, int64_t *count)
{
    int rc = one_row(s, id);
    if (rc)
        return rc == FG_ENOTFOUND ? FG_ESTORE : rc;
    *count = sqlite3_column_int64(s->st[id], 0);
    reset_stmt(s->st[id]);
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static double col_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Copy the text column 0 of the current row into a malloc'ed string. */
static int dup_col0(struct fg_store *s, enum stmt_id id, char **out)
{
    const char *v = col_text(s->st[id], 0);
    int ret = 0;
    if (!v && sqlite3_errcode(s->db) == SQLITE_NOMEM)
        ret = fail(s, SQLITE_NOMEM);
    else if (!(*out = strdup(v ? v : "")))
        ret = FG_ENOMEM;
    reset_stmt(s->st[id]);
    return ret;
}

/* Run a write statement after bind() succeeded (bind's error passes through). */
static int bound_run(struct fg_store *s, enum stmt_id id, int bind_rc)
{
    return bind_rc ? bind_rc : run(s, id);
}

/* Guard shared by every public call on an open store. */
static int usable(const struct fg_store *s)
{
    if (!s)
        return FG_EINVAL;
    return s->in_cb ? FG_ESTATE : 0;
}

/* ---- open: directory and file ------------------------------------------ */

/* mkdir -p with DIR_MODE for every component created. */
static int mkdir_p(const char *dir, struct fg_error *err)
{
    char *p = strdup(dir);
    int ret = 0;
    if (!p)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    for (char *c = p + 1; !ret; c++) {
        if (*c != '/' && *c)
            continue;
        char saved = *c;
        *c = '\0';
        if (mkdir(p, DIR_MODE) && errno != EEXIST)
            ret = fg_error_set(err, FG_EIO, NULL, "cannot create directory %s: %s", p,
                               strerror(errno));
        *c = saved;
        if (!saved)
            break;
    }
    free(p);
    return ret;
}

/* Create the database file with FILE_MODE if missing (SQLite would use
 * 0644); an existing file keeps its mode and content. */
static int create_file(const char *path, struct fg_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, FILE_MODE);
    if (fd < 0)
        return fg_error_set(err, FG_EIO, NULL, "cannot open %s: %s", path,
                            strerror(errno));
    close(fd);
    return 0;
}

/* ---- open: schema ------------------------------------------------------ */

static int query_int(struct fg_store *s, const char *sql, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, rc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    int ret = rc == SQLITE_ROW ? 0 : fail(s, rc);
    sqlite3_finalize(st);
    return ret;
}

/* Read the schema version; the first read of the file, so it is where a
 * file that is not SQLite at all shows up. A version 0 file with tables is
 * some other application's database. */
static int read_version(struct fg_store *s, const char *path, struct fg_error *err)
{
    int tables = 0;
    if (query_int(s, "PRAGMA user_version", &s->version) ||
        query_int(s, "SELECT COUNT(*) FROM sqlite_schema", &tables))
        return fg_error_set(err, FG_ESTORE, NULL, "%s is not a flexgw database: %s", path,
                            s->errmsg);
    if (s->version == 0 && tables > 0)
        return fg_error_set(err, FG_ESTORE, NULL,
                            "%s is not a flexgw database: it has tables but no "
                            "schema version",
                            path);
    if (s->version > FG_STORE_SCHEMA_VERSION || s->version < 0)
        return fg_error_set(err, FG_ESTORE, NULL,
                            "%s: database schema version %d is newer than this build "
                            "(%d)",
                            path, s->version, FG_STORE_SCHEMA_VERSION);
    return 0;
}

static int exec(struct fg_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(s, rc);
}

/* Apply migrations after `from` inside the open transaction. */
static int apply_migrations(struct fg_store *s, int from)
{
    char sql[64];
    for (int v = from; v < N_MIGRATIONS; v++) {
        int rc = exec(s, migrations[v]);
        if (rc)
            return rc;
    }
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", N_MIGRATIONS);
    return exec(s, sql);
}

/* All pending migrations in one BEGIN IMMEDIATE transaction. The version is
 * read again under the write lock: another process may have migrated in
 * between. */
static int migrate(struct fg_store *s, struct fg_error *err)
{
    int v = 0;
    int rc = exec(s, "BEGIN IMMEDIATE");
    if (!rc)
        rc = query_int(s, "PRAGMA user_version", &v);
    if (!rc && v < N_MIGRATIONS)
        rc = apply_migrations(s, v);
    if (!rc)
        rc = exec(s, "COMMIT");
    if (rc) {
        char msg[sizeof(s->errmsg)];
        memcpy(msg, s->errmsg, sizeof(msg));
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return fg_error_set(err, rc, NULL, "schema migration failed: %s", msg);
    }
    s->version = N_MIGRATIONS;
    return 0;
}

/* WAL: readers never block the writer and a commit is one append to the
 * -wal file. synchronous=NORMAL in WAL mode syncs the WAL only at
 * checkpoints: a commit survives a crash or kill -9 of the process (the
 * data is in the OS page cache) but the last commits may be lost on power
 * loss. synchronous=FULL also fsyncs the WAL at every commit, so a commit
 * that has returned survives power loss too. */
static int set_pragmas(struct fg_store *s, int sync_full, struct fg_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *mode = col_text(st, 0);
        if (!mode || strcmp(mode, "wal") != 0)
            snprintf(s->errmsg, sizeof(s->errmsg), "journal_mode is %s, not wal",
                     mode ? mode : "unknown");
        rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_ERROR;
    } else {
        fail(s, rc);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        rc = exec(s, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    if (rc == SQLITE_OK)
        rc = exec(s, "PRAGMA foreign_keys=ON");
    if (rc != SQLITE_OK)
        return fg_error_set(err, FG_ESTORE, NULL, "cannot set up database: %s",
                            s->errmsg);
    return 0;
}

static int prepare_all(struct fg_store *s, struct fg_error *err)
{
    for (int i = 0; i < ST_COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->st[i], NULL);
        if (rc != SQLITE_OK)
            return fg_error_set(err, fail(s, rc), NULL, "cannot prepare statement: %s",
                                s->errmsg);
    }
    return 0;
}

static int open_db(struct fg_store *s, const char *path, int sync_full,
                   struct fg_error *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (!s->db)
            return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
        fail(s, rc);
        return fg_error_set(err, FG_ESTORE, NULL, "cannot open %s: %s", path, s->errmsg);
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* The version is checked before anything writes: a newer database
     * (or a foreign file) must be left exactly as it was. */
    rc = read_version(s, path, err);
    if (!rc)
        rc = set_pragmas(s, sync_full, err);
    if (!rc && s->version < N_MIGRATIONS)
        rc = migrate(s, err);
    if (!rc)
        rc = prepare_all(s, err);
    return rc;
}

static char *db_path(const char *dir)
{
    char *path = NULL;
    return asprintf(&path, "%s/%s", dir, DB_NAME) < 0 ? NULL : path;
}

int fg_store_open(struct fg_store **out, const char *dir, int sync_full,
                  struct fg_error *err)
{
    if (!out || !dir || !*dir)
        return fg_error_set(err, FG_EINVAL, NULL, "store directory missing");
    *out = NULL;
    struct fg_store *s = calloc(1, sizeof(*s));
    char *path = db_path(dir);
    int rc = s && path ? 0 : fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    if (!rc)
        rc = mkdir_p(dir, err);
    if (!rc)
        rc = create_file(path, err);
    if (!rc)
        rc = open_db(s, path, sync_full, err);
    free(path);
    if (rc) {
        fg_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void fg_store_close(struct fg_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close_v2(s->db);
    free(s);
}

int fg_store_schema_version(struct fg_store *s)
{
    return s ? s->version : FG_EINVAL;
}

int fg_store_latest_version(void)
{
    return N_MIGRATIONS;
}

const char *fg_store_errmsg(struct fg_store *s)
{
    return s ? s->errmsg : "no store";
}

/* ---- events ------------------------------------------------------------ */

int fg_store_event_add(struct fg_store *s, int64_t ts_ms, const char *level,
                       const char *source, const char *kind, const char *message,
                       const char *data_json)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!level || !source || !kind || !message)
        return FG_EINVAL;
    rc = bind(s, ST_EVENT_ADD, "ittttt", ts_ms, level, source, kind, message, data_json);
    return bound_run(s, ST_EVENT_ADD, rc);
}

struct event_ctx {
    int (*cb)(void *arg, const struct fg_store_event *e);
    void *arg;
};

static int event_row(struct fg_store *s, sqlite3_stmt *st, void *ctx)
{
    struct event_ctx *c = ctx;
    struct fg_store_event e = {
        .id = sqlite3_column_int64(st, 0),
        .ts_ms = sqlite3_column_int64(st, 1),
        .level = col_text(st, 2),
        .source = col_text(st, 3),
        .kind = col_text(st, 4),
        .message = col_text(st, 5),
        .data_json = col_text(st, 6),
    };
    if (!e.level || !e.source || !e.kind || !e.message)
        return fail(s, SQLITE_NOMEM);
    return c->cb(c->arg, &e);
}

int fg_store_event_list(struct fg_store *s, int64_t before_id, int limit,
                        int (*cb)(void *arg, const struct fg_store_event *e), void *arg)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!cb || before_id < 0 || limit < 0)
        return FG_EINVAL;
    struct event_ctx c = {cb, arg};
    rc = bind(s, ST_EVENT_LIST, "ii", before_id ? before_id : INT64_MAX, (int64_t)limit);
    return rc ? rc : each_row(s, ST_EVENT_LIST, event_row, &c);
}

/* ---- set-point log ----------------------------------------------------- */

int fg_store_setpoint_add(struct fg_store *s, const struct fg_store_setpoint *sp)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!sp || !sp->asset_id)
        return FG_EINVAL;
    rc = bind(s, ST_SP_ADD, "itddtii", sp->ts_ms, sp->asset_id, sp->requested_w,
              sp->applied_w, sp->source, sp->expires_at, (int64_t)sp->clamp);
    return bound_run(s, ST_SP_ADD, rc);
}

struct sp_ctx {
    int (*cb)(void *arg, const struct fg_store_setpoint *sp);
    void *arg;
};

static int sp_row(struct fg_store *s, sqlite3_stmt *st, void *ctx)
{
    struct sp_ctx *c = ctx;
    struct fg_store_setpoint sp = {
        .ts_ms = sqlite3_column_int64(st, 0),
        .asset_id = col_text(st, 1),
        .requested_w = col_double(st, 2),
        .applied_w = col_double(st, 3),
        .source = col_text(st, 4),
        .expires_at = sqlite3_column_int64(st, 5),
        .clamp = (unsigned)sqlite3_column_int64(st, 6),
    };
    if (!sp.asset_id)
        return fail(s, SQLITE_NOMEM);
    return c->cb(c->arg, &sp);
}

int fg_store_setpoint_list(struct fg_store *s, const char *asset_id, int limit,
                           int (*cb)(void *arg, const struct fg_store_setpoint *sp),
                           void *arg)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!cb || limit < 0)
        return FG_EINVAL;
    struct sp_ctx c = {cb, arg};
    enum stmt_id id = asset_id ? ST_SP_LIST : ST_SP_LIST_ALL;
    if (asset_id)
        rc = bind(s, id, "ti", asset_id, (int64_t)limit);
    else
        rc = bind(s, id, "i", (int64_t)limit);
    return rc ? rc : each_row(s, id, sp_row, &c);
}

/* ---- signals ----------------------------------------------------------- */

int fg_store_signal_put(struct fg_store *s, const char *source, const char *id,
                        const char *json, int64_t updated_ms)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!source || !id || !json)
        return FG_EINVAL;
    rc = bind(s, ST_SIG_PUT, "ttti", source, id, json, updated_ms);
    return bound_run(s, ST_SIG_PUT, rc);
}

int fg_store_signal_delete(struct fg_store *s, const char *source, const char *id)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!source || !id)
        return FG_EINVAL;
    return bound_run(s, ST_SIG_DEL, bind(s, ST_SIG_DEL, "tt", source, id));
}

struct sig_ctx {
    int (*cb)(void *arg, const char *source, const char *id, const char *json);
    void *arg;
};

static int sig_row(struct fg_store *s, sqlite3_stmt *st, void *ctx)
{
    struct sig_ctx *c = ctx;
    const char *source = col_text(st, 0), *id = col_text(st, 1), *json = col_text(st, 2);
    if (!source || !id || !json)
        return fail(s, SQLITE_NOMEM);
    return c->cb(c->arg, source, id, json);
}

int fg_store_signal_foreach(struct fg_store *s,
                            int (*cb)(void *arg, const char *source, const char *id,
                                      const char *json),
                            void *arg)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!cb)
        return FG_EINVAL;
    struct sig_ctx c = {cb, arg};
    return each_row(s, ST_SIG_ALL, sig_row, &c);
}

/* ---- transactions ------------------------------------------------------ */

int fg_store_tx_put(struct fg_store *s, const char *tx_id, const char *station, int evse,
                    const char *state, const char *json, int64_t updated_ms)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!tx_id || !json)
        return FG_EINVAL;
    rc = bind(s, ST_TX_PUT, "ttitti", tx_id, station, (int64_t)evse, state, json,
              updated_ms);
    return bound_run(s, ST_TX_PUT, rc);
}

int fg_store_tx_get(struct fg_store *s, const char *tx_id, char **json_out)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!tx_id || !json_out)
        return FG_EINVAL;
    rc = bind(s, ST_TX_GET, "t", tx_id);
    if (!rc)
        rc = one_row(s, ST_TX_GET);
    return rc ? rc : dup_col0(s, ST_TX_GET, json_out);
}

struct tx_ctx {
    int (*cb)(void *arg, const struct fg_store_tx *t);
    void *arg;
};

static int tx_row(struct fg_store *s, sqlite3_stmt *st, void *ctx)
{
    struct tx_ctx *c = ctx;
    struct fg_store_tx t = {
        .tx_id = col_text(st, 0),
        .station = col_text(st, 1),
        .evse = sqlite3_column_int(st, 2),
        .state = col_text(st, 3),
        .json = col_text(st, 4),
        .updated_ms = sqlite3_column_int64(st, 5),
    };
    if (!t.tx_id || !t.json)
        return fail(s, SQLITE_NOMEM);
    if (!t.station)
        t.station = "";
    if (!t.state)
        t.state = "";
    return c->cb(c->arg, &t);
}

int fg_store_tx_open_foreach(struct fg_store *s, int64_t since_ms,
                             int (*cb)(void *arg, const struct fg_store_tx *t), void *arg)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!cb)
        return FG_EINVAL;
    struct tx_ctx c = {cb, arg};
    rc = bind(s, ST_TX_OPEN, "i", since_ms);
    return rc ? rc : each_row(s, ST_TX_OPEN, tx_row, &c);
}

/* ---- meter values ------------------------------------------------------ */

int fg_store_meter_add(struct fg_store *s, const char *asset_id, int64_t ts_ms,
                       double power_w, double energy_wh, double soc)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!asset_id)
        return FG_EINVAL;
    rc = bind(s, ST_METER_ADD, "tiddd", asset_id, ts_ms, power_w, energy_wh, soc);
    return bound_run(s, ST_METER_ADD, rc);
}

int fg_store_meter_count(struct fg_store *s, const char *asset_id, int64_t from_ms,
                         int64_t to_ms, int64_t *count)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!asset_id || !count)
        return FG_EINVAL;
    rc = bind(s, ST_METER_COUNT, "tii", asset_id, from_ms, to_ms);
    return rc ? rc : count_rows(s, ST_METER_COUNT, count);
}

/* ---- key-value --------------------------------------------------------- */

int fg_store_kv_put(struct fg_store *s, const char *key, const char *value)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!key || !value)
        return FG_EINVAL;
    return bound_run(s, ST_KV_PUT, bind(s, ST_KV_PUT, "tt", key, value));
}

int fg_store_kv_get(struct fg_store *s, const char *key, char **value_out)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!key || !value_out)
        return FG_EINVAL;
    rc = bind(s, ST_KV_GET, "t", key);
    if (!rc)
        rc = one_row(s, ST_KV_GET);
    return rc ? rc : dup_col0(s, ST_KV_GET, value_out);
}

/* ---- outbox ------------------------------------------------------------ */

int fg_store_outbox_push(struct fg_store *s, const char *topic, const void *payload,
                         size_t len, int qos, int64_t created_ms, int64_t *id_out)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!topic || (!payload && len) || qos < 0 || qos > 2)
        return FG_EINVAL;
    if (len > INT_MAX)
        return FG_ETOOBIG;
    rc = bind(s, ST_OB_PUSH, "tbii", topic, payload, len, (int64_t)qos, created_ms);
    rc = bound_run(s, ST_OB_PUSH, rc);
    if (!rc && id_out)
        *id_out = sqlite3_last_insert_rowid(s->db);
    return rc;
}

struct ob_ctx {
    int (*cb)(void *arg, const struct fg_store_msg *m);
    void *arg;
};

static int ob_row(struct fg_store *s, sqlite3_stmt *st, void *ctx)
{
    struct ob_ctx *c = ctx;
    struct fg_store_msg m = {
        .id = sqlite3_column_int64(st, 0),
        .topic = col_text(st, 1),
        .payload = sqlite3_column_blob(st, 2),
        .len = (size_t)sqlite3_column_bytes(st, 2),
        .qos = sqlite3_column_int(st, 3),
        .created_ms = sqlite3_column_int64(st, 4),
    };
    if (!m.topic || (!m.payload && m.len))
        return fail(s, SQLITE_NOMEM);
    if (!m.payload)
        m.payload = "";
    return c->cb(c->arg, &m);
}

int fg_store_outbox_peek(struct fg_store *s, int64_t after_id, int limit,
                         int (*cb)(void *arg, const struct fg_store_msg *m), void *arg)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!cb || limit < 0)
        return FG_EINVAL;
    struct ob_ctx c = {cb, arg};
    rc = bind(s, ST_OB_PEEK, "ii", after_id, (int64_t)limit);
    return rc ? rc : each_row(s, ST_OB_PEEK, ob_row, &c);
}

int fg_store_outbox_ack(struct fg_store *s, int64_t id)
{
    int rc = usable(s);
    if (rc)
        return rc;
    rc = bound_run(s, ST_OB_ACK, bind(s, ST_OB_ACK, "i", id));
    if (!rc && sqlite3_changes(s->db) == 0)
        return FG_ENOTFOUND;
    return rc;
}

int fg_store_outbox_count(struct fg_store *s, int64_t *count)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!count)
        return FG_EINVAL;
    return count_rows(s, ST_OB_COUNT, count);
}

/* ---- retention --------------------------------------------------------- */

static int prune_all(struct fg_store *s, int64_t before_ms)
{
    static const enum stmt_id del[] = {ST_PRUNE_EVENTS, ST_PRUNE_SP, ST_PRUNE_METER};
    for (size_t i = 0; i < sizeof(del) / sizeof(del[0]); i++) {
        int rc = bound_run(s, del[i], bind(s, del[i], "i", before_ms));
        if (rc)
            return rc;
    }
    return 0;
}

int fg_store_batch_begin(struct fg_store *s)
{
    int rc = usable(s);
    return rc ? rc : run(s, ST_BEGIN);
}

int fg_store_batch_end(struct fg_store *s, int rc)
{
    if (!s || !s->db)
        return FG_ESTORE;
    if (!rc)
        rc = run(s, ST_COMMIT);
    if (rc && !sqlite3_get_autocommit(s->db)) {
        char msg[sizeof(s->errmsg)];
        memcpy(msg, s->errmsg, sizeof(msg));
        run(s, ST_ROLLBACK);
        memcpy(s->errmsg, msg, sizeof(msg));
    }
    return rc;
}

/* Three deletes, one transaction: a prune is all or nothing. */
int fg_store_prune(struct fg_store *s, int64_t before_ms)
{
    int rc = usable(s);
    if (rc)
        return rc;
    rc = run(s, ST_BEGIN);
    if (rc)
        return rc;
    rc = prune_all(s, before_ms);
    if (!rc)
        rc = run(s, ST_COMMIT);
    if (rc && !sqlite3_get_autocommit(s->db)) {
        char msg[sizeof(s->errmsg)];
        memcpy(msg, s->errmsg, sizeof(msg));
        run(s, ST_ROLLBACK);
        memcpy(s->errmsg, msg, sizeof(msg));
    }
    return rc;
}

/* ---- battery ageing states --------------------------------------------- */

int fg_store_ageing_put(struct fg_store *s, const struct fg_store_ageing *a)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!a || !a->kind || !a->key || !a->json)
        return FG_EINVAL;
    rc = bind(s, ST_AGE_PUT, "tttti", a->kind, a->key, a->asset_id, a->json,
              a->updated_ms);
    return bound_run(s, ST_AGE_PUT, rc);
}

int fg_store_ageing_delete(struct fg_store *s, const char *kind, const char *key)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!kind || !key)
        return FG_EINVAL;
    return bound_run(s, ST_AGE_DEL, bind(s, ST_AGE_DEL, "tt", kind, key));
}

struct age_ctx {
    int (*cb)(void *arg, const struct fg_store_ageing *a);
    void *arg;
};

static int age_row(struct fg_store *s, sqlite3_stmt *st, void *ctx)
{
    struct age_ctx *c = ctx;
    struct fg_store_ageing a = {
        .kind = col_text(st, 0),
        .key = col_text(st, 1),
        .asset_id = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : col_text(st, 2),
        .json = col_text(st, 3),
        .updated_ms = sqlite3_column_int64(st, 4),
    };
    if (!a.kind || !a.key || !a.json)
        return fail(s, SQLITE_NOMEM);
    return c->cb(c->arg, &a);
}

int fg_store_ageing_foreach(struct fg_store *s,
                            int (*cb)(void *arg, const struct fg_store_ageing *a),
                            void *arg)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!cb)
        return FG_EINVAL;
    struct age_ctx c = {cb, arg};
    return each_row(s, ST_AGE_ALL, age_row, &c);
}

/* ---- learned forecast profiles ----------------------------------------- */

int fg_store_forecast_put(struct fg_store *s, const struct fg_store_forecast *f)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!f || !f->series || !f->state)
        return FG_EINVAL;
    rc = bind(s, ST_FC_PUT, "tiibi", f->series, f->format, f->isp_s, f->state, f->len,
              f->updated_ms);
    return bound_run(s, ST_FC_PUT, rc);
}

struct fc_ctx {
    int (*cb)(void *arg, const struct fg_store_forecast *f);
    void *arg;
};

static int fc_row(struct fg_store *s, sqlite3_stmt *st, void *ctx)
{
    struct fc_ctx *c = ctx;
    struct fg_store_forecast f = {
        .series = col_text(st, 0),
        .format = sqlite3_column_int64(st, 1),
        .isp_s = sqlite3_column_int64(st, 2),
        .state = sqlite3_column_blob(st, 3),
        .len = (size_t)sqlite3_column_bytes(st, 3),
        .updated_ms = sqlite3_column_int64(st, 4),
    };
    if (!f.series || (!f.state && f.len))
        return fail(s, SQLITE_NOMEM);
    if (!f.state)
        f.state = "";
    return c->cb(c->arg, &f);
}

int fg_store_forecast_foreach(struct fg_store *s,
                              int (*cb)(void *arg, const struct fg_store_forecast *f),
                              void *arg)
{
    int rc = usable(s);
    if (rc)
        return rc;
    if (!cb)
        return FG_EINVAL;
    struct fc_ctx c = {cb, arg};
    return each_row(s, ST_FC_ALL, fc_row, &c);
}
