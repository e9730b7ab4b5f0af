/* Unit tests of gateway/store.c: each test gets its own mkdtemp directory
 * (removed afterwards); the durability tests kill -9 a writer child. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

/* ---- fixtures ------------------------------------------------------------ */

static int setup_dir(void **state)
{
    char *dir = strdup("/tmp/fg-test-store-XXXXXX");
    if (!dir || !mkdtemp(dir)) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown_dir(void **state)
{
    char *dir = *state;
    int rc = nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    return rc;
}

static char *path_in(const char *dir, const char *name)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static struct fg_store *open_ok(const char *dir, int sync_full)
{
    struct fg_store *s = NULL;
    struct fg_error err = {0};
    int rc = fg_store_open(&s, dir, sync_full, &err);
    if (rc)
        print_error("open %s: %d %s\n", dir, rc, err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

/* A second, plain SQLite connection to look at the file independently. */
static sqlite3 *raw_open(const char *dir)
{
    char *p = path_in(dir, "flexgw.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    free(p);
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

struct file_snap {
    char *data;
    size_t len;
    struct timespec mtime;
};

static struct file_snap snap(const char *path)
{
    struct file_snap f = {0};
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    f.mtime = st.st_mtim;
    f.len = (size_t)st.st_size;
    f.data = malloc(f.len + 1);
    assert_non_null(f.data);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(f.data, 1, f.len, fp), f.len);
    fclose(fp);
    return f;
}

static void assert_same_file(const char *path, struct file_snap *before)
{
    struct file_snap after = snap(path);
    assert_int_equal(after.len, before->len);
    assert_memory_equal(after.data, before->data, before->len);
    assert_int_equal(after.mtime.tv_sec, before->mtime.tv_sec);
    assert_int_equal(after.mtime.tv_nsec, before->mtime.tv_nsec);
    free(after.data);
    free(before->data);
}

/* ---- open, schema -------------------------------------------------------- */

static void test_open_creates_dir_and_db(void **state)
{
    char *dir = path_in(*state, "a/b/c");
    mode_t old = umask(022);
    struct fg_store *s = open_ok(dir, 1);
    umask(old);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0750);
    char *db = path_in(dir, "flexgw.db");
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(fg_store_schema_version(s), FG_STORE_SCHEMA_VERSION);
    assert_int_equal(fg_store_latest_version(), FG_STORE_SCHEMA_VERSION);
    fg_store_close(s);
    free(db);
    free(dir);
}

static void test_wal_mode(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    sqlite3 *db = raw_open(*state);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), fg_store_latest_version());
    sqlite3_close(db);
    fg_store_close(s);
}

static void test_empty_file_migrates(void **state)
{
    char *p = path_in(*state, "flexgw.db");
    int fd = open(p, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    struct fg_store *s = open_ok(*state, 1);
    assert_int_equal(fg_store_schema_version(s), fg_store_latest_version());
    fg_store_close(s);
    sqlite3 *db = raw_open(*state);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type='table'"
                                 " AND name IN ('events','setpoints','signals',"
                                 "'transactions','meter_values','kv','outbox',"
                                 "'ageing','forecast')"),
                     9);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), fg_store_latest_version());
    sqlite3_close(db);
    /* Reopening an up-to-date database changes nothing. */
    s = open_ok(*state, 1);
    assert_int_equal(fg_store_schema_version(s), fg_store_latest_version());
    fg_store_close(s);
    free(p);
}

/* A database left at version 1 by an older build is brought up to date in
 * place, its data kept. Version 1 is made by taking the later migrations
 * back: undo what migrations 2 to 5 did and set user_version. */
static void test_upgrade_from_version_1(void **state)
{
    struct fg_store *s = open_ok(*state, 1);
    assert_int_equal(fg_store_event_add(s, 1000, "info", "t", "k", "kept", NULL), 0);
    fg_store_close(s);
    sqlite3 *db = raw_open(*state);
    raw_exec(db, "DROP TABLE forecast; DROP TABLE ageing; DROP INDEX setpoints_ts; DROP "
                 "INDEX meter_values_ts;"
                 " CREATE INDEX meter_values_asset_ts ON meter_values(asset_id, ts_ms);"
                 " PRAGMA user_version = 1;");
    sqlite3_close(db);

    s = open_ok(*state, 1);
    assert_int_equal(fg_store_schema_version(s), fg_store_latest_version());
    fg_store_close(s);
    db = raw_open(*state);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), fg_store_latest_version());
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type='index'"
                                 " AND name IN ('setpoints_ts','meter_values_ts')"),
                     2);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type='index'"
                                 " AND name = 'meter_values_asset_ts'"),
                     0); /* version 3 */
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type='table'"
                                 " AND name = 'ageing'"),
                     1); /* version 4 */
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type='table'"
                                 " AND name = 'forecast'"),
                     1); /* version 5 */
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM events WHERE message='kept'"), 1);
    sqlite3_close(db);
}

static void test_newer_schema_refused_untouched(void **state)
{
    char *p = path_in(*state, "flexgw.db");
    sqlite3 *db = raw_open(*state);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", fg_store_latest_version() + 1);
    raw_exec(db, "CREATE TABLE future(x); INSERT INTO future VALUES(42);");
    raw_exec(db, sql);
    sqlite3_close(db);
    struct file_snap before = snap(p);

    struct fg_store *s = (struct fg_store *)1;
    struct fg_error err = {0};
    assert_int_equal(fg_store_open(&s, *state, 1, &err), FG_ESTORE);
    assert_null(s);
    assert_int_equal(err.code, FG_ESTORE);
    char want[128];
    snprintf(want, sizeof(want),
             "database schema version %d is newer than this build (%d)",
             fg_store_latest_version() + 1, fg_store_latest_version());
    assert_non_null(strstr(err.msg, want));
    assert_same_file(p, &before);
    char *wal = path_in(*state, "flexgw.db-wal");
    assert_int_equal(access(wal, F_OK), -1);
    free(wal);
    free(p);
}

static void test_garbage_file_refused(void **state)
{
    char *p = path_in(*state, "flexgw.db");
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 64; i++)
        fputs("this is certainly not an SQLite database file\n", fp);
    fclose(fp);
    struct file_snap before = snap(p);

    struct fg_store *s = NULL;
    struct fg_error err = {0};
    assert_int_equal(fg_store_open(&s, *state, 0, &err), FG_ESTORE);
    assert_null(s);
    char want[512];
    snprintf(want, sizeof(want), "%s is not a flexgw database: file is not a database",
             p);
    assert_string_equal(err.msg, want);
    assert_same_file(p, &before);
    free(p);
}

static void test_foreign_sqlite_refused(void **state)
{
    sqlite3 *db = raw_open(*state);
    raw_exec(db, "CREATE TABLE events(x); INSERT INTO events VALUES(1);");
    sqlite3_close(db);
    struct fg_store *s = NULL;
    struct fg_error err = {0};
    assert_int_equal(fg_store_open(&s, *state, 0, &err), FG_ESTORE);
    assert_non_null(strstr(err.msg, "is not a flexgw database"));
    db = raw_open(*state);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 0);
    assert_int_equal(raw_int(db, "SELECT x FROM events"), 1);
    sqlite3_close(db);
}

static void test_open_errors(void **state)
{
    struct fg_store *s = NULL;
    struct fg_error err = {0};
    assert_int_equal(fg_store_open(NULL, *state, 0, &err), FG_EINVAL);
    assert_int_equal(fg_store_open(&s, NULL, 0, &err), FG_EINVAL);
    /* The directory path is a regular file. */
    char *f = path_in(*state, "file");
    FILE *fp = fopen(f, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_not_equal(fg_store_open(&s, f, 0, &err), 0);
    assert_null(s);
    assert_non_null(strstr(err.msg, f));
    free(f);
}

/* ---- events -------------------------------------------------------------- */

struct ev_seen {
    int n;
    int64_t ids[64];
    int64_t ts[64];
    int nulls;
    int stop_after;
};

static int ev_cb(void *arg, const struct fg_store_event *e)
{
    struct ev_seen *v = arg;
    assert_string_equal(e->level, "info");
    assert_string_equal(e->source, "test");
    assert_string_equal(e->kind, "k");
    char msg[32];
    snprintf(msg, sizeof(msg), "m%lld", (long long)e->ts_ms);
    assert_string_equal(e->message, msg);
    if (!e->data_json)
        v->nulls++;
    else
        assert_string_equal(e->data_json, "{\"a\":1}");
    v->ids[v->n] = e->id;
    v->ts[v->n++] = e->ts_ms;
    return v->stop_after && v->n == v->stop_after ? v->stop_after : 0;
}

static void add_events(struct fg_store *s, int n)
{
    for (int i = 1; i <= n; i++) {
        char msg[32];
        snprintf(msg, sizeof(msg), "m%d", i);
        assert_int_equal(fg_store_event_add(s, i, "info", "test", "k", msg,
                                            i % 2 ? NULL : "{\"a\":1}"),
                         0);
    }
}

static void test_events_paging(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    add_events(s, 25);
    struct ev_seen v = {0};
    assert_int_equal(fg_store_event_list(s, 0, 10, ev_cb, &v), 0);
    assert_int_equal(v.n, 10);
    assert_int_equal(v.ts[0], 25);
    assert_int_equal(v.ts[9], 16);
    assert_int_equal(v.nulls, 5);
    for (int i = 1; i < v.n; i++)
        assert_true(v.ids[i] < v.ids[i - 1]);
    int64_t before = v.ids[9];
    memset(&v, 0, sizeof(v));
    assert_int_equal(fg_store_event_list(s, before, 10, ev_cb, &v), 0);
    assert_int_equal(v.n, 10);
    assert_int_equal(v.ts[0], 15);
    before = v.ids[9];
    memset(&v, 0, sizeof(v));
    assert_int_equal(fg_store_event_list(s, before, 10, ev_cb, &v), 0);
    assert_int_equal(v.n, 5);
    assert_int_equal(v.ts[4], 1);
    /* A positive return from the callback stops and gives 0. */
    memset(&v, 0, sizeof(v));
    v.stop_after = 3;
    assert_int_equal(fg_store_event_list(s, 0, 10, ev_cb, &v), 0);
    assert_int_equal(v.n, 3);
    assert_int_equal(fg_store_event_add(s, 1, "info", "test", "k", NULL, NULL),
                     FG_EINVAL);
    assert_int_equal(fg_store_event_list(s, 0, 10, NULL, NULL), FG_EINVAL);
    fg_store_close(s);
}

static int ev_fail_cb(void *arg, const struct fg_store_event *e)
{
    (void)arg;
    (void)e;
    return FG_ENOMEM;
}

static int ev_reenter_cb(void *arg, const struct fg_store_event *e)
{
    (void)e;
    assert_int_equal(fg_store_kv_put(arg, "k", "v"), FG_ESTATE);
    return 0;
}

static void test_callback_errors_and_reentry(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    add_events(s, 2);
    assert_int_equal(fg_store_event_list(s, 0, 10, ev_fail_cb, NULL), FG_ENOMEM);
    assert_int_equal(fg_store_event_list(s, 0, 10, ev_reenter_cb, s), 0);
    /* The store is usable again after the iteration. */
    assert_int_equal(fg_store_kv_put(s, "k", "v"), 0);
    fg_store_close(s);
}

/* ---- set-points ---------------------------------------------------------- */

struct sp_seen {
    int n;
    struct fg_store_setpoint sp[8];
    char asset[8][16];
    int src_null[8];
};

static int sp_cb(void *arg, const struct fg_store_setpoint *sp)
{
    struct sp_seen *v = arg;
    v->sp[v->n] = *sp;
    snprintf(v->asset[v->n], sizeof(v->asset[0]), "%s", sp->asset_id);
    v->src_null[v->n] = sp->source == NULL;
    v->n++;
    return 0;
}

static void test_setpoints(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    struct fg_store_setpoint sp = {1000, "ev1", 7400.0, 7000.5, "planner", 1700000000, 3};
    assert_int_equal(fg_store_setpoint_add(s, &sp), 0);
    sp = (struct fg_store_setpoint){2000, "ev1", NAN, -3000.25, NULL, 1700000900, 0};
    assert_int_equal(fg_store_setpoint_add(s, &sp), 0);
    sp = (struct fg_store_setpoint){1500, "bat", 1.0, NAN, "api", 0, 1};
    assert_int_equal(fg_store_setpoint_add(s, &sp), 0);

    struct sp_seen v = {0};
    assert_int_equal(fg_store_setpoint_list(s, "ev1", 10, sp_cb, &v), 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.sp[0].ts_ms, 2000);
    assert_true(isnan(v.sp[0].requested_w));
    assert_true(v.sp[0].applied_w == -3000.25);
    assert_true(v.src_null[0]);
    assert_int_equal(v.sp[0].expires_at, 1700000900);
    assert_int_equal(v.sp[1].ts_ms, 1000);
    assert_true(v.sp[1].requested_w == 7400.0);
    assert_int_equal(v.sp[1].clamp, 3);
    assert_false(v.src_null[1]);

    memset(&v, 0, sizeof(v));
    assert_int_equal(fg_store_setpoint_list(s, NULL, 10, sp_cb, &v), 0);
    assert_int_equal(v.n, 3);
    assert_string_equal(v.asset[1], "bat");
    assert_true(isnan(v.sp[1].applied_w));
    memset(&v, 0, sizeof(v));
    assert_int_equal(fg_store_setpoint_list(s, NULL, 1, sp_cb, &v), 0);
    assert_int_equal(v.n, 1);
    assert_int_equal(fg_store_setpoint_add(s, NULL), FG_EINVAL);
    fg_store_close(s);
}

/* ---- signals ------------------------------------------------------------- */

struct sig_seen {
    int n;
    char row[8][96];
};

static int sig_cb(void *arg, const char *source, const char *id, const char *json)
{
    struct sig_seen *v = arg;
    snprintf(v->row[v->n++], sizeof(v->row[0]), "%s|%s|%s", source, id, json);
    return 0;
}

static void test_signals(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    assert_int_equal(fg_store_signal_put(s, "openadr", "e1", "{\"v\":1}", 1), 0);
    assert_int_equal(fg_store_signal_put(s, "mqtt", "x", "{}", 2), 0);
    assert_int_equal(fg_store_signal_put(s, "openadr", "e1", "{\"v\":2}", 3), 0);
    struct sig_seen v = {0};
    assert_int_equal(fg_store_signal_foreach(s, sig_cb, &v), 0);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.row[0], "mqtt|x|{}");
    assert_string_equal(v.row[1], "openadr|e1|{\"v\":2}");
    assert_int_equal(fg_store_signal_delete(s, "mqtt", "x"), 0);
    assert_int_equal(fg_store_signal_delete(s, "mqtt", "x"), 0);
    memset(&v, 0, sizeof(v));
    assert_int_equal(fg_store_signal_foreach(s, sig_cb, &v), 0);
    assert_int_equal(v.n, 1);
    assert_string_equal(v.row[0], "openadr|e1|{\"v\":2}");
    assert_int_equal(fg_store_signal_put(s, "a", NULL, "{}", 0), FG_EINVAL);
    fg_store_close(s);
}

/* ---- transactions, kv ---------------------------------------------------- */

static void test_transactions(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    char *json = NULL;
    assert_int_equal(fg_store_tx_put(s, "tx1", "cp1", 1, "started", "{\"e\":0}", 10), 0);
    assert_int_equal(fg_store_tx_get(s, "tx1", &json), 0);
    assert_string_equal(json, "{\"e\":0}");
    free(json);
    assert_int_equal(fg_store_tx_put(s, "tx1", "cp1", 1, "ended", "{\"e\":5}", 20), 0);
    assert_int_equal(fg_store_tx_get(s, "tx1", &json), 0);
    assert_string_equal(json, "{\"e\":5}");
    free(json);
    json = NULL;
    assert_int_equal(fg_store_tx_get(s, "nope", &json), FG_ENOTFOUND);
    assert_null(json);
    sqlite3 *db = raw_open(*state);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM transactions"), 1);
    assert_int_equal(raw_int(db, "SELECT updated_ms FROM transactions"), 20);
    sqlite3_close(db);
    assert_int_equal(fg_store_tx_put(s, NULL, "cp1", 1, "x", "{}", 0), FG_EINVAL);
    fg_store_close(s);
}

struct age_rows {
    int n;
    char seen[4][96];
};

static int age_row_cb(void *arg, const struct fg_store_ageing *a)
{
    struct age_rows *r = arg;
    if (r->n < 4)
        snprintf(r->seen[r->n], sizeof(r->seen[0]), "%s/%s/%s/%s", a->kind, a->key,
                 a->asset_id ? a->asset_id : "-", a->json);
    r->n++;
    return 0;
}

/* Ageing rows are keyed by (kind, key), replaced by put, survive a reopen
 * and come back oldest update first. */
static void test_ageing_rows(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    struct fg_store_ageing a = {"battery", "bat1", NULL, "{\"v\":1}", 2000};
    assert_int_equal(fg_store_ageing_put(s, &a), 0);
    a = (struct fg_store_ageing){"ev", "bat1", "evse1", "{\"v\":2}", 1000};
    assert_int_equal(fg_store_ageing_put(s, &a), 0);
    a = (struct fg_store_ageing){"battery", "bat1", NULL, "{\"v\":3}", 3000};
    assert_int_equal(fg_store_ageing_put(s, &a), 0);
    a.json = NULL;
    assert_int_equal(fg_store_ageing_put(s, &a), FG_EINVAL);
    fg_store_close(s);

    s = open_ok(*state, 0);
    struct age_rows r = {0};
    assert_int_equal(fg_store_ageing_foreach(s, age_row_cb, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.seen[0], "ev/bat1/evse1/{\"v\":2}");
    assert_string_equal(r.seen[1], "battery/bat1/-/{\"v\":3}");
    assert_int_equal(fg_store_ageing_delete(s, "ev", "bat1"), 0);
    r.n = 0;
    assert_int_equal(fg_store_ageing_foreach(s, age_row_cb, &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.seen[0], "battery/bat1/-/{\"v\":3}");
    fg_store_close(s);
}

static int fc_row_cb(void *arg, const struct fg_store_forecast *f)
{
    struct age_rows *r = arg;
    if (r->n < 4) {
        int n =
            snprintf(r->seen[r->n], sizeof(r->seen[0]), "%s/%lld/%lld/%lld/", f->series,
                     (long long)f->format, (long long)f->isp_s, (long long)f->updated_ms);
        memcpy(r->seen[r->n] + n, f->state, f->len < 16 ? f->len : 16);
        r->seen[r->n][n + (f->len < 16 ? f->len : 16)] = 0;
    }
    r->n++;
    return 0;
}

/* Forecast rows are keyed by series, replaced by put (blob and all),
 * survive a reopen and come back by series name. */
static void test_forecast_rows(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    struct fg_store_forecast f = {"pv", 1, 900, "abc", 3, 1000};
    assert_int_equal(fg_store_forecast_put(s, &f), 0);
    f = (struct fg_store_forecast){"load", 1, 900, "defg", 4, 2000};
    assert_int_equal(fg_store_forecast_put(s, &f), 0);
    f = (struct fg_store_forecast){"pv", 2, 300, "xy", 2, 3000};
    assert_int_equal(fg_store_forecast_put(s, &f), 0);
    f.state = NULL;
    assert_int_equal(fg_store_forecast_put(s, &f), FG_EINVAL);
    fg_store_close(s);

    s = open_ok(*state, 0);
    struct age_rows r = {0};
    assert_int_equal(fg_store_forecast_foreach(s, fc_row_cb, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.seen[0], "load/1/900/2000/defg");
    assert_string_equal(r.seen[1], "pv/2/300/3000/xy");
    fg_store_close(s);
}

static void test_kv(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    char *v = NULL;
    assert_int_equal(fg_store_kv_get(s, "openadr.ven_id", &v), FG_ENOTFOUND);
    assert_int_equal(fg_store_kv_put(s, "openadr.ven_id", "ven-1"), 0);
    assert_int_equal(fg_store_kv_get(s, "openadr.ven_id", &v), 0);
    assert_string_equal(v, "ven-1");
    free(v);
    assert_int_equal(fg_store_kv_put(s, "openadr.ven_id", ""), 0);
    assert_int_equal(fg_store_kv_get(s, "openadr.ven_id", &v), 0);
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(fg_store_kv_put(s, "k", NULL), FG_EINVAL);
    assert_int_equal(fg_store_kv_get(s, "k", NULL), FG_EINVAL);
    fg_store_close(s);
}

/* ---- meter values -------------------------------------------------------- */

static void test_meter(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    for (int i = 1; i <= 5; i++)
        assert_int_equal(fg_store_meter_add(s, "m1", i * 1000, 100.0 * i, NAN, 50.0), 0);
    assert_int_equal(fg_store_meter_add(s, "m2", 2500, NAN, NAN, NAN), 0);
    int64_t n = -1;
    assert_int_equal(fg_store_meter_count(s, "m1", 2000, 4000, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(fg_store_meter_count(s, "m1", 0, 10000, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(fg_store_meter_count(s, "m2", 0, 10000, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fg_store_meter_count(s, "none", 0, 10000, &n), 0);
    assert_int_equal(n, 0);
    sqlite3 *db = raw_open(*state);
    assert_int_equal(
        raw_int(db, "SELECT COUNT(*) FROM meter_values WHERE energy_wh IS NULL"), 6);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM meter_values WHERE soc IS NULL"),
                     1);
    sqlite3_close(db);
    assert_int_equal(fg_store_meter_add(s, NULL, 0, 0, 0, 0), FG_EINVAL);
    fg_store_close(s);
}

/* ---- outbox -------------------------------------------------------------- */

struct ob_seen {
    int n;
    int64_t id[16];
    char topic[16][32];
    unsigned char payload[16][16];
    size_t len[16];
    int qos[16];
    int64_t created[16];
};

static int ob_cb(void *arg, const struct fg_store_msg *m)
{
    struct ob_seen *v = arg;
    assert_non_null(m->payload);
    assert_true(m->len <= sizeof(v->payload[0]));
    v->id[v->n] = m->id;
    snprintf(v->topic[v->n], sizeof(v->topic[0]), "%s", m->topic);
    memcpy(v->payload[v->n], m->payload, m->len);
    v->len[v->n] = m->len;
    v->qos[v->n] = m->qos;
    v->created[v->n++] = m->created_ms;
    return 0;
}

static void test_outbox(void **state)
{
    struct fg_store *s = open_ok(*state, 1);
    static const unsigned char bin[] = {0x00, 0xff, 0x00, 0x41};
    int64_t id[4];
    assert_int_equal(fg_store_outbox_push(s, "t/a", bin, sizeof(bin), 1, 100, &id[0]), 0);
    assert_int_equal(fg_store_outbox_push(s, "t/b", NULL, 0, 0, 200, &id[1]), 0);
    assert_int_equal(fg_store_outbox_push(s, "t/c", "xyz", 3, 2, 300, &id[2]), 0);
    assert_true(id[0] < id[1] && id[1] < id[2]);
    int64_t n = 0;
    assert_int_equal(fg_store_outbox_count(s, &n), 0);
    assert_int_equal(n, 3);

    struct ob_seen v = {0};
    assert_int_equal(fg_store_outbox_peek(s, 0, 10, ob_cb, &v), 0);
    assert_int_equal(v.n, 3);
    assert_int_equal(v.id[0], id[0]);
    assert_string_equal(v.topic[0], "t/a");
    assert_int_equal(v.len[0], sizeof(bin));
    assert_memory_equal(v.payload[0], bin, sizeof(bin));
    assert_int_equal(v.qos[0], 1);
    assert_int_equal(v.created[0], 100);
    assert_int_equal(v.len[1], 0);
    assert_int_equal(v.id[2], id[2]);
    assert_memory_equal(v.payload[2], "xyz", 3);

    memset(&v, 0, sizeof(v));
    assert_int_equal(fg_store_outbox_peek(s, id[0], 1, ob_cb, &v), 0);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.id[0], id[1]);

    assert_int_equal(fg_store_outbox_ack(s, id[1]), 0);
    assert_int_equal(fg_store_outbox_ack(s, id[1]), FG_ENOTFOUND);
    assert_int_equal(fg_store_outbox_ack(s, id[2]), 0); /* the newest one */
    assert_int_equal(fg_store_outbox_count(s, &n), 0);
    assert_int_equal(n, 1);
    /* AUTOINCREMENT: the id of the acked newest message is not reused, not
     * even after a reopen. */
    assert_int_equal(fg_store_outbox_push(s, "t/d", "d", 1, 1, 400, &id[3]), 0);
    assert_true(id[3] > id[2]);
    assert_int_equal(fg_store_outbox_ack(s, id[3]), 0);
    fg_store_close(s);
    s = open_ok(*state, 1);
    int64_t id5 = 0;
    assert_int_equal(fg_store_outbox_push(s, "t/e", "e", 1, 1, 500, &id5), 0);
    assert_true(id5 > id[3]);
    memset(&v, 0, sizeof(v));
    assert_int_equal(fg_store_outbox_peek(s, 0, 10, ob_cb, &v), 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.id[0], id[0]);
    assert_int_equal(v.id[1], id5);

    assert_int_equal(fg_store_outbox_push(s, "t", "x", 1, 3, 0, NULL), FG_EINVAL);
    assert_int_equal(fg_store_outbox_push(s, "t", NULL, 1, 0, 0, NULL), FG_EINVAL);
    assert_int_equal(fg_store_outbox_push(s, NULL, "x", 1, 0, 0, NULL), FG_EINVAL);
    fg_store_close(s);
}

/* ---- prune --------------------------------------------------------------- */

static void test_prune(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    for (int64_t ts = 100; ts <= 200; ts += 100) {
        assert_int_equal(fg_store_event_add(s, ts, "info", "t", "k", "m", NULL), 0);
        struct fg_store_setpoint sp = {ts, "a", 1, 1, "x", 0, 0};
        assert_int_equal(fg_store_setpoint_add(s, &sp), 0);
        assert_int_equal(fg_store_meter_add(s, "a", ts, 1, 1, 1), 0);
    }
    assert_int_equal(fg_store_outbox_push(s, "t", "x", 1, 1, 1, NULL), 0);
    assert_int_equal(fg_store_signal_put(s, "s", "i", "{}", 1), 0);
    assert_int_equal(fg_store_tx_put(s, "tx", "st", 1, "s", "{}", 1), 0);
    assert_int_equal(fg_store_kv_put(s, "k", "v"), 0);

    assert_int_equal(fg_store_prune(s, 150), 0);
    sqlite3 *db = raw_open(*state);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM events"), 1);
    assert_int_equal(raw_int(db, "SELECT ts_ms FROM events"), 200);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM setpoints"), 1);
    assert_int_equal(raw_int(db, "SELECT ts_ms FROM setpoints"), 200);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM meter_values"), 1);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM outbox"), 1);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM signals"), 1);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM transactions"), 1);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM kv"), 1);
    sqlite3_close(db);
    assert_int_equal(fg_store_prune(s, 1000), 0);
    int64_t n = -1;
    assert_int_equal(fg_store_meter_count(s, "a", 0, 1000, &n), 0);
    assert_int_equal(n, 0);
    fg_store_close(s);
}

/* ---- concurrency: busy_timeout -------------------------------------------- */

/* Another process holds the write lock for 300 ms; a store write waits for
 * it (busy_timeout) instead of failing with SQLITE_BUSY. */
static void test_busy_waits(void **state)
{
    fg_store_close(open_ok(*state, 0)); /* create the schema */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *p = NULL;
        sqlite3 *db = NULL;
        if (asprintf(&p, "%s/flexgw.db", (char *)*state) < 0 ||
            sqlite3_open(p, &db) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO kv VALUES('lock','1')", NULL,
                         NULL, NULL) != SQLITE_OK ||
            write(fds[1], "L", 1) != 1)
            _exit(2);
        usleep(300 * 1000);
        _exit(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : 3);
    }
    close(fds[1]);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    struct fg_store *s = open_ok(*state, 0);
    assert_int_equal(fg_store_kv_put(s, "after", "1"), 0);
    char *v = NULL;
    assert_int_equal(fg_store_kv_get(s, "lock", &v), 0);
    assert_string_equal(v, "1");
    free(v);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    fg_store_close(s);
}

/* ---- durability: kill -9 after the acknowledgement ------------------------ */

/* Child: write record i (an outbox message and an event), then tell the
 * parent "i is acknowledged" through the pipe. Never returns. */
static void writer_child(const char *dir, int sync_full, int fd, uint32_t max)
{
    struct fg_store *s = NULL;
    if (fg_store_open(&s, dir, sync_full, NULL))
        _exit(2);
    for (uint32_t i = 1; i <= max; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "rec-%u", i);
        if (fg_store_outbox_push(s, "dur", msg, (size_t)len, 1, i, NULL) ||
            fg_store_event_add(s, i, "info", "dur", "rec", msg, NULL))
            _exit(3);
        if (write(fd, &i, sizeof(i)) != sizeof(i))
            _exit(4);
    }
    for (;;)
        pause();
}

struct marks {
    unsigned char *seen;
    uint32_t max;
};

static void mark(struct marks *m, const char *text, size_t len)
{
    unsigned long i = 0;
    char buf[32];
    assert_true(len < sizeof(buf));
    memcpy(buf, text, len);
    buf[len] = '\0';
    assert_int_equal(sscanf(buf, "rec-%lu", &i), 1);
    if (i <= m->max)
        m->seen[i] = (unsigned char)(m->seen[i] | 1);
}

static int dur_ob_cb(void *arg, const struct fg_store_msg *msg)
{
    mark(arg, msg->payload, msg->len);
    return 0;
}

static int dur_ev_cb(void *arg, const struct fg_store_event *e)
{
    struct marks *m = arg;
    unsigned long i = 0;
    assert_int_equal(sscanf(e->message, "rec-%lu", &i), 1);
    if (i <= m->max)
        m->seen[i] = (unsigned char)(m->seen[i] | 2);
    return 0;
}

/* Every record up to `acked` must be present, both as message and event. */
static void check_records(const char *dir, int sync_full, uint32_t acked)
{
    struct fg_store *s = open_ok(dir, sync_full);
    struct marks m = {calloc(acked + 1, 1), acked};
    assert_non_null(m.seen);
    assert_int_equal(fg_store_outbox_peek(s, 0, 1000000, dur_ob_cb, &m), 0);
    assert_int_equal(fg_store_event_list(s, 0, 1000000, dur_ev_cb, &m), 0);
    for (uint32_t i = 1; i <= acked; i++) {
        if (m.seen[i] != 3)
            fail_msg("acknowledged record %u of %u lost (mask %d)", i, acked, m.seen[i]);
    }
    free(m.seen);
    fg_store_close(s);
}

/* Fork a writer, read acks until `kill_at`, optionally wait a little so
 * the kill lands mid-write, SIGKILL it; return the highest ack read (the
 * pipe is drained after the kill: those records were acknowledged too). */
static uint32_t run_writer(const char *dir, int sync_full, uint32_t max, uint32_t kill_at,
                           useconds_t delay)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        writer_child(dir, sync_full, fds[1], max);
    }
    close(fds[1]);
    uint32_t last = 0, i;
    while (last < kill_at && read(fds[0], &i, sizeof(i)) == sizeof(i))
        last = i;
    if (delay)
        usleep(delay);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status))
        fail_msg("writer exited with status %d", WEXITSTATUS(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    while (read(fds[0], &i, sizeof(i)) == sizeof(i)) {
        assert_int_equal(i, last + 1);
        last = i;
    }
    close(fds[0]);
    assert_true(last >= kill_at);
    return last;
}

static void durability_one(const char *dir, int sync_full)
{
    uint32_t acked = run_writer(dir, sync_full, 1, 1, 0);
    assert_int_equal(acked, 1);
    check_records(dir, sync_full, acked);
    struct fg_store *s = open_ok(dir, sync_full);
    int64_t n = 0;
    assert_int_equal(fg_store_outbox_count(s, &n), 0);
    assert_int_equal(n, 1);
    fg_store_close(s);
}

static void test_durability_sync_full(void **state)
{
    durability_one(*state, 1);
}

static void test_durability_sync_normal(void **state)
{
    durability_one(*state, 0);
}

static void durability_many(const char *dir, int sync_full)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    for (int round = 0; round < 3; round++) {
        char *sub = NULL;
        assert_true(asprintf(&sub, "%s/r%d", dir, round) > 0);
        uint32_t kill_at = 1 + (uint32_t)(rand() % 400);
        useconds_t delay = (useconds_t)(rand() % 3000);
        uint32_t acked = run_writer(sub, sync_full, 100000, kill_at, delay);
        print_message("sync_full=%d seed=%u round %d: killed after %u acks\n", sync_full,
                      seed, round, acked);
        check_records(sub, sync_full, acked);
        free(sub);
    }
}

static void test_durability_many_sync_full(void **state)
{
    durability_many(*state, 1);
}

static void test_durability_many_sync_normal(void **state)
{
    durability_many(*state, 0);
}

struct open_seen {
    char ids[8][16];
    int evse[8];
    int n;
};

static int collect_open(void *arg, const struct fg_store_tx *t)
{
    struct open_seen *o = arg;
    if (o->n < 8) {
        snprintf(o->ids[o->n], sizeof(o->ids[0]), "%s", t->tx_id);
        o->evse[o->n++] = t->evse;
    }
    return 0;
}

/* Open transactions for resuming after a restart: not Ended, recent enough,
 * oldest first; an event without an EVSE keeps the stored one. */
static void test_tx_open(void **state)
{
    struct fg_store *s = open_ok(*state, 0);
    assert_int_equal(fg_store_tx_put(s, "old", "cp1", 1, "Started", "{}", 100), 0);
    assert_int_equal(fg_store_tx_put(s, "a", "cp1", 2, "Started", "{}", 2000), 0);
    assert_int_equal(fg_store_tx_put(s, "b", "cp2", 1, "Started", "{}", 1000), 0);
    assert_int_equal(fg_store_tx_put(s, "a", "cp1", 0, "Updated", "{}", 3000), 0);
    assert_int_equal(fg_store_tx_put(s, "c", "cp3", 1, "Started", "{}", 1500), 0);
    assert_int_equal(fg_store_tx_put(s, "c", "cp3", 0, "Ended", "{}", 2500), 0);
    struct open_seen o = {0};
    assert_int_equal(fg_store_tx_open_foreach(s, 500, collect_open, &o), 0);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.ids[0], "b");
    assert_string_equal(o.ids[1], "a");
    assert_int_equal(o.evse[1], 2); /* kept through the Updated without one */
    assert_int_equal(fg_store_tx_open_foreach(s, 0, NULL, NULL), FG_EINVAL);
    fg_store_close(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_creates_dir_and_db),
        T(test_wal_mode),
        T(test_tx_open),
        T(test_empty_file_migrates),
        T(test_upgrade_from_version_1),
        T(test_newer_schema_refused_untouched),
        T(test_garbage_file_refused),
        T(test_foreign_sqlite_refused),
        T(test_open_errors),
        T(test_events_paging),
        T(test_callback_errors_and_reentry),
        T(test_setpoints),
        T(test_signals),
        T(test_transactions),
        T(test_kv),
        T(test_ageing_rows),
        T(test_forecast_rows),
        T(test_meter),
        T(test_outbox),
        T(test_prune),
        T(test_busy_waits),
        T(test_durability_sync_full),
        T(test_durability_sync_normal),
        T(test_durability_many_sync_full),
        T(test_durability_many_sync_normal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
