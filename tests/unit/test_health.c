/* Unit tests of gateway/health.c on the real ageing library and a real
 * store (a mkdtemp directory per test): feeding from the model, EV keys and
 * their bounded table, device SoH checkpoints, saving and loading. */
#define _GNU_SOURCE
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "health.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */

static const char *const site_json =
    "{\"site\":{\"assets\":["
    "{\"id\":\"bat1\",\"kind\":\"battery\",\"capacity_wh\":10000,\"max_charge_w\":5000,"
    "\"max_discharge_w\":5000,\"chemistry\":\"LFP\",\"ageing\":{\"eol_soh\":80}},"
    "{\"id\":\"odd\",\"kind\":\"battery\",\"capacity_wh\":10000,\"max_charge_w\":5000,"
    "\"max_discharge_w\":5000,\"chemistry\":\"LTO\"},"
    "{\"id\":\"ev1\",\"kind\":\"evse\",\"rated_w\":11000},"
    "{\"id\":\"pv1\",\"kind\":\"pv\",\"rated_w\":5000}]}}";

struct fx {
    char dir[64];
    struct fg_config cfg;
    struct fg_model m;
    struct fg_health h;
    struct fg_store *s;
};

static void open_store(struct fx *f)
{
    struct fg_error e = {0};
    assert_int_equal(fg_store_open(&f->s, f->dir, 0, &e), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/fg-test-health-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    if (fg_config_parse(site_json, strlen(site_json), NULL, &f->cfg, &errs)) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s: %s\n", errs.v[i].path, errs.v[i].msg);
        return -1;
    }
    fg_errlist_clear(&errs);
    fg_model_init(&f->m);
    for (size_t i = 0; i < f->cfg.site.n_assets; i++) {
        struct fg_asset a;
        memset(&a, 0, sizeof(a));
        snprintf(a.id, sizeof(a.id), "%s", f->cfg.site.assets[i].id);
        a.kind = f->cfg.site.assets[i].kind;
        a.power_w = NAN;
        a.battery.soc = a.battery.soh = a.battery.temperature_c = NAN;
        a.battery.capacity_wh = f->cfg.site.assets[i].capacity_wh;
        snprintf(a.battery.chemistry, sizeof(a.battery.chemistry), "%s",
                 f->cfg.site.assets[i].chemistry);
        a.evse.ev_soc = NAN;
        a.online = true;
        struct fg_error e;
        if (fg_model_add_asset(&f->m, &a, &e))
            return -1;
    }
    fg_health_init(&f->h);
    if (fg_health_configure(&f->h, &f->cfg))
        return -1;
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fg_health_clear(&f->h);
    fg_store_close(f->s);
    fg_model_clear(&f->m);
    fg_config_clear(&f->cfg);
    int rc = nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static struct fg_asset *asset(struct fx *f, const char *id)
{
    struct fg_asset *a = fg_model_find_asset(&f->m, id);
    assert_non_null(a);
    return a;
}

/* Cycle bat1 between 20 and 90 % at 2.5 kW (a full cycle about every 5.6 h)
 * from t for `hours`, one sample a minute. Returns the time reached. */
static int64_t cycle_battery(struct fx *f, int64_t t, double hours)
{
    struct fg_asset *b = asset(f, "bat1");
    if (isnan(b->battery.soc)) {
        b->battery.soc = 50;
        b->power_w = 2500;
    }
    for (int64_t end = t + (int64_t)(hours * 3600); t < end; t += 60) {
        b->battery.soc += b->power_w * 60 / 3600.0 / 10000.0 * 100.0;
        if (b->battery.soc >= 90)
            b->power_w = -2500;
        else if (b->battery.soc <= 20)
            b->power_w = 2500;
        b->battery.temperature_c = 30;
        fg_health_tick(&f->h, &f->m, &f->cfg, t);
    }
    return t;
}

static struct fg_health_entry *find_ok(struct fx *f, const char *id)
{
    struct fg_error e = {0};
    struct fg_health_entry *h = fg_health_find(&f->h, asset(f, id), &e);
    if (!h)
        fprintf(stderr, "%s: %s\n", id, e.msg);
    assert_non_null(h);
    return h;
}

static void test_battery_ages(void **state)
{
    struct fx *f = *state;
    struct fg_error e = {0};
    /* no SoC yet: nothing to report */
    assert_null(fg_health_find(&f->h, asset(f, "bat1"), &e));
    assert_int_equal(e.code, FG_ESTATE);
    cycle_battery(f, T0, 48);
    struct fg_health_entry *h = find_ok(f, "bat1");
    double soh = fg_age_soh(&h->st);
    assert_true(soh < 1.0 && soh > 0.95);
    assert_true(h->st.efc > 3 && h->st.efc < 12);
    assert_true(h->st.age_s > 47 * 3600.0);
    assert_ptr_equal(h->st.p, fg_age_params_for_chemistry("LFP"));

    /* the document of the API: factors add up to the loss */
    cJSON *j = fg_health_json(h, fg_health_cfg(&f->cfg, h), T0 + 48 * 3600);
    assert_non_null(j);
    double loss = cJSON_GetObjectItem(j, "loss_pct")->valuedouble;
    assert_true(fabs(cJSON_GetObjectItem(j, "soh_pct")->valuedouble + loss - 100) < 1e-9);
    double sum = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "factors"))
    {
        sum += cJSON_GetObjectItem(it, "loss_pct")->valuedouble;
    }
    assert_true(fabs(sum - loss) < 1e-9 * (1 + loss));
    const cJSON *fc = cJSON_GetObjectItem(j, "forecast");
    assert_non_null(fc);
    assert_true(cJSON_GetObjectItem(fc, "eol_soh_pct")->valuedouble == 80);
    assert_non_null(cJSON_GetObjectItem(fc, "eol_date"));
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "name")->valuestring,
        fg_age_params_name(fg_age_params_for_chemistry("LFP")));
    cJSON_Delete(j);
}

static void test_not_tracked(void **state)
{
    struct fx *f = *state;
    struct fg_error e = {0};
    asset(f, "odd")->battery.soc = 50;
    fg_health_tick(&f->h, &f->m, &f->cfg, T0);
    assert_null(fg_health_find(&f->h, asset(f, "odd"), &e));
    assert_int_equal(e.code, FG_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "LTO"));
    assert_null(fg_health_find(&f->h, asset(f, "pv1"), &e));
    assert_int_equal(e.code, FG_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "pv"));
}

/* Save, close, reopen, load: the same state. */
static void test_save_and_load(void **state)
{
    struct fx *f = *state;
    open_store(f);
    int64_t t = cycle_battery(f, T0, 30);
    char why[128];
    struct fg_error e = {0};
    struct fg_health_entry *h = find_ok(f, "bat1");
    assert_int_equal(fg_health_checkpoint(h, 99.9, why, &e), 0);
    assert_int_equal(fg_health_save(&f->h, f->s, t * 1000, true), 0);
    double soh = fg_age_soh(&h->st), efc = h->st.efc;
    size_t n_cp = h->st.n_cp;
    fg_health_clear(&f->h);
    fg_store_close(f->s);

    open_store(f);
    fg_health_init(&f->h);
    assert_int_equal(fg_health_configure(&f->h, &f->cfg), 0);
    assert_int_equal(fg_health_load(&f->h, f->s, &f->cfg, t * 1000), 0);
    h = find_ok(f, "bat1");
    assert_true(fabs(fg_age_soh(&h->st) - soh) < 1e-12);
    assert_true(h->st.efc == efc && h->st.n_cp == n_cp && h->st.t_last == t - 60);
    /* and it goes on from there */
    cycle_battery(f, t, 1);
    assert_true(fg_age_soh(&h->st) < soh);
}

static int count_health_event(void *arg, const struct fg_store_event *ev)
{
    if (!strcmp(ev->source, "health") && strstr(ev->message, "not loaded"))
        ++*(int *)arg;
    return 0;
}

/* A stored state that does not load: logged, an event, a fresh start. */
static void test_bad_row(void **state)
{
    struct fx *f = *state;
    open_store(f);
    struct fg_store_ageing r = {"battery", "bat1", NULL, "{\"p\":\"no such set\"}", 1000};
    assert_int_equal(fg_store_ageing_put(f->s, &r), 0);
    r = (struct fg_store_ageing){"ev", "TOK", "ev1", "not json", 1000};
    assert_int_equal(fg_store_ageing_put(f->s, &r), 0);
    assert_int_equal(fg_health_load(&f->h, f->s, &f->cfg, 5000), 0);
    struct fg_error e = {0};
    assert_null(fg_health_find(&f->h, asset(f, "bat1"), &e));
    assert_int_equal(f->h.n_ev, 0);
    int n_events = 0;
    assert_int_equal(fg_store_event_list(f->s, 0, 10, count_health_event, &n_events), 0);
    assert_int_equal(n_events, 2);
    cycle_battery(f, T0, 1);
    struct fg_health_entry *h = find_ok(f, "bat1");
    assert_true(h->st.t0 == T0 && h->st.n_cp == 0);
}

static void plug(struct fx *f, const char *token, const char *session, double soc)
{
    struct fg_asset *a = asset(f, "ev1");
    a->evse.session_active = true;
    snprintf(a->evse.id_token, sizeof(a->evse.id_token), "%s", token);
    snprintf(a->evse.session_id, sizeof(a->evse.session_id), "%s", session);
    a->evse.ev_soc = soc;
    a->power_w = 7000;
}

static void test_ev_keys(void **state)
{
    struct fx *f = *state;
    struct fg_asset *a = asset(f, "ev1");
    struct fg_error e = {0};
    assert_null(fg_health_find(&f->h, a, &e));
    assert_int_equal(e.code, FG_ESTATE);
    plug(f, "TOKEN-A", "s1", 30);
    for (int i = 0; i < 60; i++, a->evse.ev_soc += 0.2)
        fg_health_tick(&f->h, &f->m, &f->cfg, T0 + i * 60);
    struct fg_health_entry *h = find_ok(f, "ev1");
    assert_true(h->ev);
    assert_string_equal(h->key, "TOKEN-A");
    assert_string_equal(h->asset, "ev1");
    assert_true(h->st.capacity_wh == 60000); /* site.ev_ageing default */
    assert_ptr_equal(h->st.p, fg_age_params_for_chemistry("NMC"));
    /* unplugged: the last EV is still reported */
    a->evse.session_active = false;
    fg_health_tick(&f->h, &f->m, &f->cfg, T0 + 3600);
    assert_string_equal(find_ok(f, "ev1")->key, "TOKEN-A");
    /* a session without a token is keyed by its id; the EV reports its size */
    plug(f, "", "s2", 50);
    a->evse.ev_capacity_wh = 77000;
    fg_health_tick(&f->h, &f->m, &f->cfg, T0 + 7200);
    fg_health_tick(&f->h, &f->m, &f->cfg, T0 + 7260);
    h = find_ok(f, "ev1");
    assert_string_equal(h->key, "s2");
    assert_true(h->st.capacity_wh == 77000);
    assert_int_equal(f->h.n_ev, 2);
}

/* 256 EVs at most; the one seen least recently goes, from the store too. */
static void test_ev_table_bounded(void **state)
{
    struct fx *f = *state;
    open_store(f);
    char tok[16];
    for (int i = 0; i <= FG_HEALTH_EVS_MAX; i++) {
        snprintf(tok, sizeof(tok), "EV%03d", i);
        plug(f, tok, "s", 40);
        fg_health_tick(&f->h, &f->m, &f->cfg, T0 + i * 10);
        fg_health_tick(&f->h, &f->m, &f->cfg, T0 + i * 10 + 1);
        if (i == 0)
            assert_int_equal(fg_health_save(&f->h, f->s, 1000, true), 0);
    }
    assert_int_equal(f->h.n_ev, FG_HEALTH_EVS_MAX);
    assert_int_equal(f->h.n_gone, 1);
    assert_string_equal(f->h.gone[0], "EV000");
    assert_int_equal(fg_health_save(&f->h, f->s, 2000, true), 0);
    fg_health_clear(&f->h);
    fg_health_init(&f->h);
    assert_int_equal(fg_health_load(&f->h, f->s, &f->cfg, 3000), 0);
    assert_int_equal(f->h.n_ev, FG_HEALTH_EVS_MAX);
    asset(f, "ev1")->evse.session_active = false;
    assert_string_equal(find_ok(f, "ev1")->key, "EV256");
}

/* The device's SoH: prior loss for a new state, then a checkpoint when it is
 * below 100 %, changed, and a day after the last one. */
static void test_device_soh(void **state)
{
    struct fx *f = *state;
    struct fg_asset *b = asset(f, "bat1");
    b->battery.soh = 95;
    int64_t t = cycle_battery(f, T0, 1);
    struct fg_health_entry *h = find_ok(f, "bat1");
    assert_true(fg_age_soh(&h->st) <= 0.95 && fg_age_soh(&h->st) > 0.949);
    assert_int_equal(h->st.n_cp, 0);
    b->battery.soh = 94.5; /* within the day: not yet */
    t = cycle_battery(f, t, 2);
    assert_int_equal(h->st.n_cp, 0);
    t = cycle_battery(f, t, 23);
    assert_int_equal(h->st.n_cp, 1);
    assert_true(fabs(h->st.cp[0].soh - 0.945) < 1e-12);
    t = cycle_battery(f, t, 30); /* unchanged: no new checkpoint */
    assert_int_equal(h->st.n_cp, 1);
    b->battery.soh = 100; /* not a measurement */
    cycle_battery(f, t, 30);
    assert_int_equal(h->st.n_cp, 1);
}

/* An offline battery is not fed; when it is back, the gap ages it (calendar)
 * but its power then is not taken for the whole gap. */
static void test_offline_gap(void **state)
{
    struct fx *f = *state;
    int64_t t = cycle_battery(f, T0, 1);
    struct fg_health_entry *h = find_ok(f, "bat1");
    struct fg_asset *b = asset(f, "bat1");
    double thr = h->st.throughput_wh, age = h->st.age_s + h->st.win_s;
    int64_t last = h->st.t_last;
    b->online = false;
    fg_health_tick(&f->h, &f->m, &f->cfg, t + 3600);
    assert_true(h->st.t_last == last);
    b->online = true;
    b->power_w = 5000; /* full power now, after two idle hours at the same SoC */
    fg_health_tick(&f->h, &f->m, &f->cfg, t + 7200);
    assert_true(h->st.t_last == t + 7200);
    assert_true(h->st.age_s + h->st.win_s >= age + 7200 - 60);
    assert_true(h->st.throughput_wh - thr < 1.0); /* not 5 kW * 2 h */
}

/* A reload that changes a battery's model carries its SoH over as prior
 * loss; one that removes the battery drops it. */
static void test_model_change(void **state)
{
    struct fx *f = *state;
    cycle_battery(f, T0, 24);
    double soh = fg_age_soh(&find_ok(f, "bat1")->st);
    const char *json =
        "{\"site\":{\"assets\":[{\"id\":\"bat1\",\"kind\":\"battery\","
        "\"capacity_wh\":12000,\"max_charge_w\":5000,\"max_discharge_w\":5000,"
        "\"ageing\":{\"model\":\"nmc-sanyo-ur18650e-schmalstieg2014\"}}]}}";
    struct fg_config next;
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    assert_int_equal(fg_config_parse(json, strlen(json), NULL, &next, &errs), 0);
    assert_int_equal(fg_health_configure(&f->h, &next), 0);
    struct fg_error e = {0};
    /* not sampled under the new model yet */
    assert_null(fg_health_find(&f->h, asset(f, "bat1"), &e));
    assert_int_equal(e.code, FG_ESTATE);
    fg_health_tick(&f->h, &f->m, &next, T0 + 25 * 3600);
    struct fg_health_entry *h = find_ok(f, "bat1");
    assert_ptr_equal(h->st.p, fg_age_params_find("nmc-sanyo-ur18650e-schmalstieg2014"));
    assert_true(h->st.capacity_wh == 12000);
    assert_true(fabs(h->st.prior - (1 - soh)) < 1e-12);
    assert_true(fabs(fg_age_soh(&h->st) - soh) < 1e-6);
    fg_config_clear(&next);

    const char *none = "{\"site\":{\"assets\":[]}}";
    assert_int_equal(fg_config_parse(none, strlen(none), NULL, &next, &errs), 0);
    assert_int_equal(fg_health_configure(&f->h, &next), 0);
    assert_int_equal(f->h.n, 0);
    fg_config_clear(&next);
    fg_errlist_clear(&errs);
}

static void test_checkpoint_validation(void **state)
{
    struct fx *f = *state;
    cycle_battery(f, T0, 2);
    struct fg_health_entry *h = find_ok(f, "bat1");
    const double bad[] = {0, -1, 100.5, NAN, INFINITY};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fg_error e = {0};
        assert_int_equal(fg_health_checkpoint(h, bad[i], NULL, &e), FG_ERANGE);
        assert_string_equal(e.path, "/soh_pct");
    }
    assert_int_equal(h->st.n_cp, 0);
    char why[128];
    struct fg_error e = {0};
    assert_int_equal(fg_health_checkpoint(h, 98, why, &e), 0);
    assert_int_equal(h->st.n_cp, 1);
    assert_true(h->dirty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_battery_ages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_tracked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_and_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ev_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ev_table_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_soh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_change, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
