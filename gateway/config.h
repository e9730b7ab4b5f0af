/* Configuration: one JSON file, sections site, ocpp, modbus, openadr, uftp,
 * mqtt, scheduler, web, storage, log.
 *
 * One descriptor table (config.c) drives parsing, validation, defaults, the
 * generated JSON Schema (conf/flexgw.schema.json) and the generated reference
 * (docs/config.md). Every mistake in a file is reported at once, each with
 * its JSON path, e.g. `/ocpp/listen: "0.0.0.0:99999" is not a valid
 * host:port`. Unknown keys, wrong types, out-of-range numbers, bad addresses
 * and missing files are errors.
 *
 * Secrets (web.token, web.admin_password, mqtt.password, the OCPP stations'
 * password hashes) may be given inline ("s3cret") or as {"file": "/path"};
 * the file's content with trailing newlines removed is the secret. */
#ifndef FG_CONFIG_H
#define FG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fg_err.h"
#include "log.h"
#include "model.h"

#define FG_CFG_PATH_MAX 256
#define FG_CFG_HOST_MAX 64

struct fg_hostport {
    char host[FG_CFG_HOST_MAX]; /* IPv4, IPv6 (without brackets) or DNS name */
    uint16_t port;              /* 1..65535 */
};

/* A secret and where it came from. value is heap, wiped on clear. */
struct fg_secret {
    char *value;                /* NULL = not set */
    char file[FG_CFG_PATH_MAX]; /* "" = given inline */
};

/* Simulation parameters of an asset with adapter "sim" (demo, tests). */
struct fg_cfg_sim {
    int arrival_min;    /* evse: minutes after local midnight the EV arrives, -1 none;
                           shiftable load: its run's earliest start */
    int departure_min;  /* evse: when it leaves; shiftable load: the run's latest end */
    double energy_wh;   /* evse: energy the EV wants */
    double initial_soc; /* battery, evse: % at start */
    char profile[16];   /* load: "household" | "office" | "flat" */
    double cloudiness;  /* pv: 0 (clear sky) .. 1 (overcast) */
    double run_s;       /* shiftable load: one run's duration (window: arrival,
                           departure) */
};

/* Battery ageing (protocols/ageing): per battery asset (ageing: {...}) and
 * for the EVs seen on the site's EVSEs (site.ev_ageing). */
#define FG_CFG_AGE_MODEL_MAX 64
struct fg_age_params;
struct fg_cfg_ageing {
    char model[FG_CFG_AGE_MODEL_MAX]; /* parameter-set name; "" = from the chemistry */
    double replacement_cost;          /* currency; 0 = no wear cost */
    double eol_soh;                   /* %, end of life */
    double capacity_wh;               /* ev_ageing: when the EV does not report it */
    /* The parameter set, resolved by the config checks from model or the
     * chemistry; NULL for a battery whose chemistry has no default set and
     * that has no ageing object (its ageing is then not tracked). */
    const struct fg_age_params *params;
};

/* Modbus: one bus (a Modbus/TCP gateway or a serial line) per worker thread,
 * and per device the keys of its site.assets[] entry (modbus: {...}) or of
 * modbus.site_meter. */
#define FG_MODBUS_BUSES_MAX 64
enum fg_modbus_parity { FG_MB_PARITY_NONE, FG_MB_PARITY_EVEN, FG_MB_PARITY_ODD };
/* How the device's registers are described. */
enum fg_modbus_profile {
    FG_MB_PROFILE_SUNSPEC, /* SunSpec models, discovered on the device */
    FG_MB_PROFILE_MAP,     /* a register-map file (docs/devices.md) */
};

struct fg_cfg_modbus_rtu {
    char device[FG_CFG_PATH_MAX]; /* "/dev/ttyUSB0" */
    int baud;
    int parity; /* enum fg_modbus_parity */
    int data_bits;
    int stop_bits;
};

struct fg_cfg_modbus_bus {
    char id[FG_ID_MAX];
    char tcp[FG_CFG_HOST_MAX + 8]; /* "host:port" as written, "" = not TCP */
    struct fg_hostport tcp_addr;   /* parsed from tcp by the config checks */
    bool has_rtu;
    struct fg_cfg_modbus_rtu rtu;
    int response_timeout_ms;
};

/* One Modbus device. */
struct fg_cfg_modbus_dev {
    char bus[FG_ID_MAX]; /* id of a modbus.buses[] entry */
    int unit_id;
    int poll_interval_ms;
    int retries;               /* extra attempts of a failed request */
    int profile;               /* enum fg_modbus_profile */
    int base_address;          /* SunSpec "SunS" marker address, -1 = discover */
    int revert_s;              /* revert timeout written with every set-point */
    char map[FG_CFG_PATH_MAX]; /* profile map: the map file as written */
    /* profile map: the file found (fg_config_map_path()), set by the checks */
    char map_path[FG_CFG_PATH_MAX];
};

/* One configured asset. Keys are checked against the asset's kind: a key that
 * does not apply to that kind (e.g. capacity_wh on a pv) is an error. */
struct fg_cfg_asset {
    char id[FG_ID_MAX];
    char name[FG_NAME_MAX];
    enum fg_asset_kind kind;
    char adapter[16]; /* "sim" | "ocpp" | "modbus" */
    /* evse */
    double rated_w;
    int phases;
    double voltage;
    double min_current_a;
    double max_current_a;
    bool bidirectional;
    double max_discharge_w;  /* evse (bidirectional) and battery */
    char station[FG_ID_MAX]; /* evse with adapter ocpp: station id ("" = id) */
    int evse_id;             /* evse with adapter ocpp: EVSE number in the station */
    /* battery */
    double capacity_wh;
    double max_charge_w;
    double soc_min;
    double soc_max;
    char chemistry[16];
    bool has_ageing;
    struct fg_cfg_ageing ageing; /* battery; defaults when has_ageing is false */
    /* pv: rated_w, curtailable */
    bool curtailable;
    /* load: rated_w, load_type */
    enum fg_load_type load_type;
    bool has_sim;
    struct fg_cfg_sim sim;
    /* adapter modbus (battery, pv) */
    bool has_modbus;
    struct fg_cfg_modbus_dev modbus;
};

/* A standing signal from the config, repeated every day between from and
 * until (local time), e.g. a congestion window agreed with the DSO. */
struct fg_cfg_signal {
    char id[FG_SIGNAL_ID_MAX];
    enum fg_signal_type type;
    int from_min;  /* minutes after local midnight */
    int until_min; /* may be < from_min: the window crosses midnight */
    double value;
    double export_value; /* NAN if not given */
    int priority;
};

/* ocpp.authorization */
enum fg_ocpp_auth { FG_OCPP_AUTH_ANY, FG_OCPP_AUTH_LIST };
/* ocpp.rate_unit */
enum fg_ocpp_unit { FG_OCPP_UNIT_A, FG_OCPP_UNIT_W };
/* One entry of the local id-token list (ocpp.id_tokens). */
struct fg_cfg_id_token {
    char id[37];    /* the idToken, compared case-insensitively (OCPP) */
    int type;       /* 0 = any type, else index into the IdTokenEnumType names */
    int status;     /* index into "Accepted", "Blocked", "Expired", "Invalid" */
    char group[37]; /* groupIdToken, "" = none */
};
const char *fg_cfg_id_token_type_name(int type);
const char *fg_cfg_id_token_status_name(int status);
/* OCPP security profiles (OCPP 2.0.1 part 2, A00): 0 none (no
 * authentication: legacy and lab set-ups only), 1 HTTP Basic over ws, 2 TLS +
 * HTTP Basic, 3 TLS with a client certificate whose CN is the station id. */
#define FG_OCPP_PROFILE_MAX 3
#define FG_OCPP_STATIONS_MAX 20000

/* Security settings of one OCPP station (ocpp.stations[]). */
struct fg_cfg_ocpp_station {
    char id[FG_ID_MAX];
    int security_profile;           /* -1: ocpp.security_profile */
    struct fg_secret password_hash; /* argon2id, from flexgw --hash-password */
};

/* openadr.unavailable[]: a window the site cannot take part in events. */
#define FG_OADR_WINDOWS_MAX 16
struct fg_cfg_oadr_window {
    char from[40], to[40]; /* xcal date-times as written */
    int64_t from_t, to_t;  /* epoch s, filled by the config check */
};

struct fg_config {
    struct {
        char id[FG_ID_MAX];
        char name[FG_NAME_MAX];
        double import_limit_w;
        double export_limit_w;
        double kw_max_w; /* peak-shaving import target; NAN = none */
        int isp_s;
        int utc_offset_min;
        char currency[8];
        size_t n_tariff;
        struct fg_tariff_period tariff[FG_TARIFF_MAX_PERIODS];
        size_t n_assets;
        struct fg_cfg_asset *assets; /* owned */
        size_t n_signals;
        struct fg_cfg_signal *signals;  /* owned */
        struct fg_cfg_ageing ev_ageing; /* the EVs charged at the site */
    } site;
    struct {
        bool enabled;
        struct fg_hostport listen;
        struct fg_hostport tls_listen;
        bool allow_unknown_stations;
        int call_timeout_s;
        int heartbeat_s;
        int max_frame_bytes;
        int authorization; /* enum fg_ocpp_auth */
        size_t n_id_tokens;
        struct fg_cfg_id_token *id_tokens; /* owned */
        int rate_unit;                     /* enum fg_ocpp_unit */
        int profile_min_interval_s;
        double profile_threshold_w;
        int profile_fallback_s;
        int security_profile;           /* for stations without their own */
        char tls_cert[FG_CFG_PATH_MAX]; /* "" = no wss:// listener */
        char tls_key[FG_CFG_PATH_MAX];
        char tls_ca[FG_CFG_PATH_MAX]; /* CA of client certificates (profile 3) */
        size_t n_stations;
        struct fg_cfg_ocpp_station *stations; /* owned */
    } ocpp;
    struct {
        bool enabled;
        size_t n_buses;
        struct fg_cfg_modbus_bus *buses; /* owned */
        bool has_site_meter;
        struct fg_cfg_modbus_dev site_meter; /* the main meter, if on Modbus */
    } modbus;
    struct {
        bool enabled;
        char vtn_url[FG_CFG_PATH_MAX];
        char ven_name[FG_NAME_MAX];
        char client_cert[FG_CFG_PATH_MAX]; /* "" = no client certificate */
        char client_key[FG_CFG_PATH_MAX];
        char ca_file[FG_CFG_PATH_MAX]; /* "" = the system's CAs */
        char vtn_pin_sha256[128];      /* "" = no pinning */
        int timeout_s;
        int poll_s;               /* until the VTN names its poll frequency */
        int max_body;             /* bytes */
        int opt_policy;           /* FG_OADR_POLICY_* (0 auto, 1 in, 2 out) */
        double level_fraction[3]; /* SIMPLE level 1..3: share of import_limit_w */
        char groups[512];         /* comma-separated groupIDs / groupNames; "" none */
        size_t n_unavailable;
        struct fg_cfg_oadr_window unavailable[FG_OADR_WINDOWS_MAX];
    } openadr;
    struct {
        bool enabled;
        char domain[128];
    } uftp;
    struct {
        bool enabled;
        struct fg_hostport broker;
        char prefix[128]; /* default "flexgw/{siteId}" expanded at load */
        char client_id[64];
        char username[64];
        struct fg_secret password;
        int keepalive_s;
    } mqtt;
    struct {
        char plugin[FG_CFG_PATH_MAX]; /* built-in name or path to a .so */
        int interval_s;
        int horizon_h;
        char options[4096]; /* JSON text of scheduler.options, "{}" if none */
        int realtime_timeout_ms;
        int plan_timeout_s;
        char planner[FG_CFG_PATH_MAX]; /* built-in name or path to a .so */
        char planner_options[4096];    /* JSON text of scheduler.planner_options */
        int plan_interval_s;
        double replan_deviation_w; /* NAN: 10 % of the import limit */
    } scheduler;
    struct {
        struct fg_hostport listen;
        struct fg_secret token;          /* bearer token for writes */
        struct fg_secret admin_password; /* HTTP Basic "admin" for writes */
        bool auth_reads;                 /* also require credentials for reads */
        size_t max_body;                 /* bytes */
        char tls_cert[FG_CFG_PATH_MAX];  /* "" = plain http */
        char tls_key[FG_CFG_PATH_MAX];
    } web;
    struct {
        char path[FG_CFG_PATH_MAX]; /* data directory */
        bool sync_full;             /* fsync every commit (power-loss safe) */
        int retention_days;
        int meter_interval_s; /* meter history: one reading per EVSE per this; 0: all */
    } storage;
    struct {
        enum fg_log_level level;
    } log;
};

/* Set every field to its documented default (no allocation; secrets NULL). */
void fg_config_defaults(struct fg_config *c);
/* Free owned memory and wipe secrets; *c is left with defaults. */
void fg_config_clear(struct fg_config *c);

/* Parse and validate a JSON text. On any error returns FG_ECONFIG and
 * `errs` holds every error found, each with its JSON path; *out is then
 * cleared. base_dir: directory against which relative file paths are
 * resolved (NULL = current directory); file paths (secret files, tls_cert,
 * tls_key, a plugin path) are stored resolved. *out need not be initialised
 * and is overwritten without being freed: clear a config before reusing it.
 * Text need not be NUL-terminated. */
int fg_config_parse(const char *text, size_t len, const char *base_dir,
                    struct fg_config *out, struct fg_errlist *errs);
/* Read a file and parse it; a missing or unreadable file is one error with
 * path "" naming the file. Relative paths inside are resolved against the
 * file's directory. */
int fg_config_load(const char *file, struct fg_config *out, struct fg_errlist *errs);

/* The configuration as JSON (the same shape the file has). Secrets given
 * inline appear as "********" when redact is true; secrets from files appear
 * as {"file": ...}. Returns NULL on allocation failure. */
cJSON *fg_config_to_json(const struct fg_config *c, bool redact);

/* Replace secrets that read "********" in `json` (a document about to be
 * parsed) by the current inline values from `cur`, so a redacted GET can be
 * edited and PUT back. Returns 0 or FG_ENOMEM. */
int fg_config_unredact(cJSON *json, const struct fg_config *cur);

/* JSON Schema (draft 2020-12) of the file, generated from the table. Caller
 * frees. */
char *fg_config_schema(void);
/* Markdown reference of every key (type, default, bounds, meaning),
 * generated from the table. Caller frees. */
char *fg_config_reference(void);

/* The security profile that applies to an OCPP station: its ocpp.stations
 * entry's, else ocpp.security_profile. *entry (may be NULL) gets the entry or
 * NULL. */
int fg_config_ocpp_profile(const struct fg_config *c, const char *station,
                           const struct fg_cfg_ocpp_station **entry);

/* True if s has the shape of an argon2id hash string as libsodium's
 * crypto_pwhash_str() writes it ("$argon2id$v=19$m=..,t=..,p=1$salt$hash"),
 * with a memory cost of at most 1 GiB. */
bool fg_config_argon2id_ok(const char *s);

struct fg_regmap;
/* Read a register-map file (docs/devices.md) into m (zeroed by the caller;
 * fg_regmap_clear() it in every case). Every mistake is added to errs with
 * path `path` and a message naming the file and the place in it
 * ("FILE: /points/3/type: ..."). Returns 0, FG_EIO (unreadable, larger than
 * 1 MiB) or the error of fg_regmap_load(). */
int fg_config_load_map(const char *file, struct fg_regmap *m, const char *path,
                       struct fg_errlist *errs);

/* Parse "host:port" / "[v6]:port"; FG_EINVAL if not valid. */
int fg_hostport_parse(const char *s, struct fg_hostport *out);
/* Parse "HH:MM" (00:00..23:59 or 24:00) into minutes; FG_EINVAL if not. */
int fg_hhmm_parse(const char *s, int *minutes);

#endif
