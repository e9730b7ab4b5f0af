/* The OCPP charging-station simulator (tests/sim/): N stations in one
 * process, each its own OCPP-J WebSocket client connection to a CSMS, on one
 * libwebsockets event loop with lws_sul timers. Tests drive it with JSON
 * lines on stdin and read JSON lines events on stdout (README.md).
 *
 * Files: ocpp_sim.c (command line, loop, stdin commands, stdout events),
 * station.c (connection, the CALL queue, answers, boot and heartbeat),
 * evse.c (EVs, transactions, meter values, the charging physics), csms.c
 * (answers to the CSMS's CALLs, the device model), profile.c (charging
 * profiles, the effective limit and composite schedules).
 *
 * This is a test program, not a library: its shared symbols are prefixed
 * sim_ and live only in this folder. Loop thread only, no locks. */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "fg_buf.h"
#include "fg_err.h"
#include "fg_ocpp_schema.h"
#include "fg_ocppj.h"

#define SIM_ID_MAX 44 /* the gateway's station id limit */
#define SIM_EVSE_MAX 8
#define SIM_PROFILES_MAX 32 /* per station */
#define SIM_PERIODS_MAX 48  /* per schedule (SmartChargingCtrlr.PeriodsPerSchedule) */
#define SIM_STACK_MAX 99    /* SmartChargingCtrlr.ProfileStackLevel */
#define SIM_CALLQ_MAX 512   /* CALLs waiting per station */
#define SIM_WRITEQ_MAX 1024 /* frames waiting for the socket per station */
#define SIM_FRAME_MAX (1024 * 1024)
#define SIM_TOKEN_MAX 36 /* IdTokenType idToken maxLength */
#define SIM_TX_ID_MAX 36

struct sim;
struct sim_station;

/* ---- options (ocpp_sim.c) ------------------------------------------------- */

struct sim_opts {
    char *host, *path; /* from --url; path without the station id, no trailing '/' */
    int port;
    bool tls;
    size_t n_stations;
    char **ids; /* n_stations ids, owned */
    int n_evses;
    enum fg_ocppj_dialect dialect;
    double rated_w;
    int phases;
    double voltage;
    int meter_ms;
    double ramp_w_per_s;
    bool auto_on;
    uint64_t seed;
    double auto_v2x; /* share of --auto EVs that offer V2X (2.1 only) */
    double speed;
    int reconnect_ms;
    int call_timeout_ms;
    bool quiet;
    bool quit_on_eof; /* end of stdin stops the process (a parent's pipe) */
    bool no_authorize;
    const char *password;
    const char *ca, *cert, *key;
    bool insecure;
};

/* ---- the process ----------------------------------------------------------- */

struct sim {
    struct sim_opts o;
    struct lws_context *ctx;
    struct sim_station **st;
    size_t n_st;
    int64_t t0_mono_ms;
    uint64_t rng;
    bool quitting;
    struct fg_buf out; /* events not yet written to stdout */
    size_t out_dropped;
    char *in; /* stdin bytes not yet a whole line */
    size_t in_len, in_cap;
    bool in_eof, in_overlong;
    size_t next_connect; /* start-up: stations not yet connecting */
    lws_sorted_usec_list_t sul_io, sul_auto;
};

/* The stations' clock, UTC epoch ms: the wall clock at start, then the
 * CSMS's (sim_clock_adopt); it runs --speed times real time. */
int64_t sim_now_ms(void);
int64_t sim_mono_ms(void); /* monotonic ms */
/* A CSMS's currentTime (BootNotification / Heartbeat answer): set the clock
 * to it unless it already agrees (a "clock" event when it jumps). */
void sim_clock_adopt(struct sim_station *st, const char *current_time);
/* RFC 3339 UTC text with milliseconds for an epoch ms. */
void sim_time_text(int64_t ms, char out[32]);
/* Parse an RFC 3339 date-time (as the schema validator accepts it); 0 or
 * FG_EPARSE. */
int sim_time_parse(const char *s, int64_t *ms);
uint64_t sim_rand(struct sim *s);
double sim_rand_range(struct sim *s, double lo, double hi);

/* Events: a new object {"ev": name, "t": ms since start} to fill, then emit
 * (prints one line, takes the object). */
cJSON *sim_ev_new(struct sim *s, const char *name);
cJSON *sim_ev_station(struct sim_station *st, const char *name);
void sim_ev_emit(struct sim *s, cJSON *ev);
/* {"ev":"error", "error": msg, ...}; station may be NULL. */
void sim_ev_error(struct sim *s, struct sim_station *st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- charging profiles (profile.c) ------------------------------------------ */

enum sim_purpose {
    SIM_P_STATION_MAX,
    SIM_P_EXTERNAL,
    SIM_P_TX_DEFAULT,
    SIM_P_TX,
    SIM_P_OTHER, /* 2.1 PriorityCharging, LocalGeneration: stored, not applied */
};
enum sim_kind { SIM_K_ABSOLUTE, SIM_K_RECURRING, SIM_K_RELATIVE };

struct sim_period {
    int64_t start_ms; /* from the schedule's start */
    double limit;     /* in the schedule's unit; NAN: none (2.1 setpoint-only) */
    int phases;       /* 0: the station's */
};

struct sim_profile {
    int id, evse_id, stack_level;
    enum sim_purpose purpose;
    enum sim_kind kind;
    int64_t recur_ms;              /* Recurring: a day or a week */
    char tx_id[SIM_TX_ID_MAX + 1]; /* TxProfile */
    int64_t valid_from, valid_to;  /* epoch ms; INT64_MIN / INT64_MAX if absent */
    int64_t start;                 /* startSchedule, epoch ms; INT64_MIN if absent */
    int64_t duration_ms;           /* -1: open-ended */
    bool amps;                     /* chargingRateUnit A */
    int n_periods;
    struct sim_period p[SIM_PERIODS_MAX];
    cJSON *json; /* the chargingProfile as received, owned */
};

/* Parse and check a chargingProfile (already schema-valid) for evse_id of st.
 * 0 and *out (json copied), or FG_EINVAL with reason (a reasonCode word) and
 * detail set: the station answers Rejected. */
int sim_profile_parse(struct sim_station *st, int evse_id, const cJSON *cp,
                      struct sim_profile *out, const char **reason, char *detail,
                      size_t n);
void sim_profile_clear(struct sim_profile *p);
/* Store (taking p's json); replaces a profile with the same id. FG_EEXISTS:
 * another profile with the same purpose, stack level and EVSE overlaps it in
 * time; FG_EFULL: no room. On error p keeps its json. */
int sim_profile_store(struct sim_station *st, struct sim_profile *p);
/* Remove the TxProfiles of a transaction (it ended). */
void sim_profile_drop_tx(struct sim_station *st, const char *tx_id);

/* The limit in W on one EVSE at time t_ms from the profiles in force: the
 * lowest of the station-wide profiles (station max, external constraints)
 * and, for evse_id > 0, of the EVSE's TxProfile or else TxDefaultProfile,
 * each the highest stack level with a period in force. NAN: no limit.
 * evse_only: leave the station-wide profiles out. */
double sim_limit_at(struct sim_station *st, int evse_id, int64_t t_ms, bool evse_only);
/* The composite schedule answer for GetCompositeSchedule into reply
 * (status and schedule); evse_id checked by the caller. */
void sim_composite(struct sim_station *st, int evse_id, int duration_s, bool amps,
                   cJSON *reply);

/* ---- EVSEs, EVs and transactions (evse.c) ------------------------------------- */

enum sim_txp { SIM_TX_NONE, SIM_TX_AUTHORIZING, SIM_TX_ACTIVE };

struct sim_ev {
    char token[SIM_TOKEN_MAX + 1];
    char token_type[21];
    double need_wh, max_w, soc0, capacity_wh;
    int64_t departure_ms; /* 0: none */
    bool v2x;
};

struct sim_evse {
    int id;
    bool operative;    /* ChangeAvailability */
    bool inop_pending; /* Inoperative once the transaction ends */
    bool plugged;
    unsigned plug_gen; /* counts plug-ins: late answers find a new EV */
    struct sim_ev ev;
    /* a RequestStartTransaction waiting for an EV */
    bool remote_pending;
    int remote_id;
    char remote_token[SIM_TOKEN_MAX + 1], remote_type[21];
    int64_t remote_until_ms;
    cJSON *remote_profile; /* its TxProfile, owned */
    enum sim_txp txp;
    char tx_id[SIM_TX_ID_MAX + 1];
    int64_t tx_start_ms;
    int seq_no;
    bool tx_remote;
    int tx_remote_id;
    const char *cstate; /* chargingState last reported */
    double power_w, reg_wh, tx_reg0_wh, soc;
    double limit_w; /* effective limit last reported (NAN: none) */
    bool limit_reported;
    int64_t last_phys_ms;      /* monotonic */
    int64_t last_tx_update_ms; /* sim_now_ms */
};

/* A plug-in from a command or --auto; FG_ESTATE / FG_EINVAL with msg. */
int sim_evse_plug(struct sim_station *st, int evse_id, const struct sim_ev *ev, char *msg,
                  size_t n);
int sim_evse_unplug(struct sim_station *st, int evse_id, char *msg, size_t n);
/* Authorize answered: start the transaction or report why not. */
void sim_evse_authorized(struct sim_station *st, int evse_id, unsigned plug_gen, bool ok,
                         const char *why);
/* The CSMS answered a TransactionEvent Started with a token status. */
void sim_evse_tx_token_status(struct sim_station *st, const char *tx_id,
                              const char *status);
/* Remote start/stop (csms.c). */
int sim_evse_remote_start(struct sim_station *st, int evse_id, int remote_id,
                          const char *token, const char *type);
int sim_evse_remote_stop(struct sim_station *st, const char *tx_id);
/* End every transaction (reset); reason as stoppedReason. */
void sim_evse_end_all(struct sim_station *st, const char *trigger, const char *reason);
struct sim_evse *sim_evse_by_tx(struct sim_station *st, const char *tx_id);
const char *sim_evse_status(const struct sim_evse *e); /* connectorStatus */
void sim_evse_send_status(struct sim_station *st, struct sim_evse *e);
void sim_evse_send_meter(struct sim_station *st, struct sim_evse *e, const char *context);
void sim_evse_send_tx_update(struct sim_station *st, struct sim_evse *e,
                             const char *trigger);
/* Apply a ChangeAvailability to one EVSE; "Accepted" or "Scheduled". */
const char *sim_evse_set_operative(struct sim_station *st, struct sim_evse *e, bool op);
/* The charging physics and limits: called every tick and after a profile
 * changed. */
void sim_evse_tick(struct sim_station *st);
void sim_evse_meter_tick(struct sim_station *st);

/* ---- stations (station.c) ----------------------------------------------------- */

enum sim_misbehave {
    SIM_MB_OFF,
    SIM_MB_MALFORMED,
    SIM_MB_DUP_ID,
    SIM_MB_SLOW,
    SIM_MB_SILENT,
    SIM_MB_ERROR,
};

struct sim_call {
    struct sim_call *next;
    char action[FG_OCPPJ_ACTION_MAX + 1];
    cJSON *payload; /* owned */
    int evse_id;    /* Authorize: which EVSE asked */
    unsigned plug_gen;
    int retries;
};

struct sim_frame {
    struct sim_frame *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the frame */
};

struct sim_delayed {
    struct sim_delayed *next;
    lws_sorted_usec_list_t sul;
    struct sim_station *st;
    size_t len;
    char frame[];
};

struct sim_station {
    struct sim *sim;
    char id[SIM_ID_MAX + 1];
    struct lws *wsi;
    bool open;          /* WebSocket established */
    bool boot_accepted; /* on this connection */
    bool ever_booted;
    bool close_after_flush; /* Reset: close once the answer is out */
    bool reset_pending;     /* OnIdle reset waits for the transactions */
    const char *boot_reason;
    int hb_s;
    uint64_t id_prefix, id_counter;
    char last_id[FG_OCPPJ_ID_MAX + 1];
    struct sim_call *q_head, *q_tail, *pending;
    size_t q_len;
    char pending_id[FG_OCPPJ_ID_MAX + 1];
    int64_t hold_until_ms; /* retry back-off */
    int reconnect_next_ms; /* set by a drop; -1: --reconnect-ms */
    struct sim_frame *w_head, *w_tail;
    size_t w_len;
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_too_big;
    bool in_handler; /* answering a CSMS CALL: our CALLs wait for the answer */
    bool in_tick;
    lws_sorted_usec_list_t sul_conn, sul_hb, sul_tick, sul_meter, sul_timeout, sul_close;
    int n_evse;
    struct sim_evse evse[SIM_EVSE_MAX + 1]; /* [1..n_evse] */
    struct sim_profile *prof[SIM_PROFILES_MAX];
    int n_prof;
    /* device model */
    int tx_updated_s;
    bool auth_enabled, smart_enabled;
    int ev_timeout_s;
    int meter_ms;
    enum sim_misbehave mb;
    int mb_ms;
    struct sim_delayed *delayed;
};

int sim_station_new(struct sim *s, const char *id, struct sim_station **out);
/* Stop st's timers and detach it from its connection; before the lws
 * context is destroyed. */
void sim_station_stop(struct sim_station *st);
/* Free st (after sim_station_stop and the context are gone). */
void sim_station_free(struct sim_station *st);
void sim_station_connect(struct sim_station *st);
/* Drop the connection; reconnect after ms (< 0: --reconnect-ms). */
void sim_station_drop(struct sim_station *st, int ms);
/* Queue one of our CALLs (payload taken). front: before everything else. */
int sim_call(struct sim_station *st, const char *action, cJSON *payload, bool front);
/* As sim_call, at the end, for the EVSE / plug-in an answer concerns. */
int sim_call_for(struct sim_station *st, const char *action, cJSON *payload, int evse_id,
                 unsigned plug_gen);
/* Send what can be sent now (our next CALL). */
void sim_pump(struct sim_station *st);
/* Queue a raw frame for the socket. */
int sim_write(struct sim_station *st, const char *data, size_t len);
void sim_restart_heartbeat(struct sim_station *st);
/* Queue a BootNotification before everything else. */
void sim_send_boot(struct sim_station *st, const char *reason);
void sim_restart_meter(struct sim_station *st);
void sim_station_reset(struct sim_station *st);
struct sim_station *sim_station_find(struct sim *s, const char *id);
enum fg_ocpp_version sim_version(const struct sim_station *st);
int sim_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                     void *in, size_t len);

/* ---- CSMS calls (csms.c) --------------------------------------------------------- */

/* Validate, answer and act on one CALL from the CSMS (msg decoded). */
void sim_csms_call(struct sim_station *st, const struct fg_ocppj_msg *msg);
/* The device model's initial values. */
void sim_dm_init(struct sim_station *st);

/* small JSON helpers (evse.c) */
const char *sim_jstr(const cJSON *o, const char *key); /* "" if absent */
bool sim_jnum(const cJSON *o, const char *key, double *v);

#endif
