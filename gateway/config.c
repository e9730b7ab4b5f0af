/* Configuration, driven by one descriptor table.
 *
 * Why a table: parsing, validation, defaults, fg_config_to_json(), the JSON
 * Schema and the Markdown reference all walk the same rows, so a key that is
 * documented is a key that is parsed, and the generated schema cannot drift
 * from the parser. A row names a key, its type, where the value lives
 * (offsetof from the enclosing struct), its bounds, default, allowed names,
 * the asset kinds it applies to and a one-line doc; objects and arrays point
 * to a child table. What a type does (parse, emit, default, schema, docs)
 * sits in ops[], indexed by type.
 *
 * Parsing never stops at the first mistake: every error is appended to the
 * caller's list with its JSON pointer, values that fail keep their default,
 * and the cross-field checks (checks[]) skip array elements that already had
 * an error so one mistake is reported once. */
#include "config.h"
#include "fg_openadr.h"

#include "fg_buf.h"
#include "fg_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fg_ageing.h"
#include "fg_regmap.h"

#define SECRET_FILE_MAX 4096
#define CONFIG_FILE_MAX (16u << 20)
#define REDACTED "********"
#define PATHBUF 320
#define MAP_FILE_MAX (1u << 20)
#define MAX_SIGNALS 64

enum ty {
    T_BOOL,
    T_INT,
    T_SIZE,
    T_DBL,
    T_STR,
    T_ENUM, /* stored as the enum (int): index into names */
    T_ESTR, /* stored as a string, one of names */
    T_HOSTPORT,
    T_HHMM,
    T_SECRET,
    T_FILE,
    T_OBJ,
    T_ARR,
    T_JSON, /* any JSON object, stored as its compact text (scheduler.options) */
};

enum fmt { FMT_NONE, FMT_ID, FMT_CURRENCY, FMT_URL, FMT_TOKEN };

#define F_NULL 0x1u   /* null: NAN (number), -1 (integer), none (HH:MM), unset (secret) */
#define F_XMIN 0x2u   /* the minimum is exclusive */
#define F_HAS 0x4u    /* object: sets the bool at aux_off when present */
#define F_INLINE 0x8u /* array: a fixed array inside the struct, not a heap one */
#define F_EXPAND 0x10u /* string: "{siteId}" is replaced by site.id */

#define K_EVSE (1u << FG_ASSET_EVSE)
#define K_BAT (1u << FG_ASSET_BATTERY)
#define K_PV (1u << FG_ASSET_PV)
#define K_LOAD (1u << FG_ASSET_LOAD)
#define REQ_ALL (~0u)

enum slot {
    SLOT_TARIFF,
    SLOT_ASSETS,
    SLOT_SIGNALS,
    SLOT_ID_TOKENS,
    SLOT_STATIONS,
    SLOT_BUSES,
    SLOT_WINDOWS,
    SLOT_COUNT
};

struct table;

struct row {
    const char *key;
    enum ty type;
    size_t off;               /* offset of the value in the enclosing struct */
    size_t size;              /* size of the value; arrays: size of one element */
    size_t aux_off;           /* arrays: the size_t count; F_HAS objects: the bool */
    double min, max;          /* numbers; HH:MM in minutes; arrays: max items */
    double dnum;              /* default of bool, numbers, HH:MM */
    const char *dstr;         /* default of string-like types */
    const char *const *names; /* enum values; int choices; built-in plugins */
    enum fmt fmt;
    unsigned flags;
    unsigned kinds; /* asset kinds the key applies to; 0 = all */
    unsigned req;   /* kinds for which the key is required; REQ_ALL = always */
    enum slot slot; /* arrays: which per-element error flags to keep */
    const struct table *child;
    const char *doc;
};

struct table {
    const char *name; /* for the reference: "site.assets[]" */
    const struct row *rows;
    size_t n;
    const char *discr; /* key whose enum value (asset kind) scopes the other keys */
};

/* ---- names ---- */

static const char *const kind_names[] = {"evse", "battery", "pv", "load", NULL};
static const char *const adapter_names[] = {"sim", "ocpp", "modbus", NULL};
static const char *const chem_names[] = {"LFP", "NMC", "NCA", "LTO", "other", NULL};
static const char *const load_names[] = {"inflexible", "disconnectable", "shiftable",
                                         NULL};
static const char *const profile_names[] = {"household", "office", "flat", NULL};
static const char *const sigtype_names[] = {"price",    "grid_limit", "dispatch",
                                            "reactive", "island",     NULL};
static const char *const log_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const phase_names[] = {"1", "3", NULL};
static const char *const plugin_names[] = {"realtime", "none", NULL};
static const char *const planner_names[] = {"planner", "none", NULL};
static const char *const parity_names[] = {"none", "even", "odd", NULL};
static const char *const baud_names[] = {"1200",  "2400",  "4800",   "9600", "19200",
                                         "38400", "57600", "115200", NULL};
static const char *const profile_mb_names[] = {"sunspec", "map", NULL};
static const char *const opt_policy_names[] = {"auto", "in", "out", NULL};
static const char *const ocpp_auth_names[] = {"any", "list", NULL};
static const char *const ocpp_unit_names[] = {"A", "W", NULL};
/* OCPP 2.0.1 IdTokenEnumType, after "any". */
static const char *const token_type_names[] = {
    "any",     "Central", "eMAID",      "ISO14443",        "ISO15693",
    "KeyCode", "Local",   "MacAddress", "NoAuthorization", NULL};
/* OCPP AuthorizationStatusEnumType values a local list can give. */
static const char *const token_status_names[] = {"Accepted", "Blocked", "Expired",
                                                 "Invalid", NULL};

const char *fg_cfg_id_token_type_name(int type)
{
    return type > 0 && type < 9 ? token_type_names[type] : "";
}

const char *fg_cfg_id_token_status_name(int status)
{
    return status >= 0 && status < 4 ? token_status_names[status] : "Invalid";
}

_Static_assert(sizeof(enum fg_asset_kind) == sizeof(int), "enums stored as int");
_Static_assert(sizeof(enum fg_load_type) == sizeof(int), "enums stored as int");
_Static_assert(sizeof(enum fg_signal_type) == sizeof(int), "enums stored as int");
_Static_assert(sizeof(enum fg_log_level) == sizeof(int), "enums stored as int");

/* ---- the table ---- */

/* One row per setting reads better than clang-format's one line per field. */
// clang-format off

#define CF(m)                                                                            \
    .off = offsetof(struct fg_config, m), .size = sizeof(((struct fg_config *)0)->m)
#define AF(m)                                                                            \
    .off = offsetof(struct fg_cfg_asset, m), .size = sizeof(((struct fg_cfg_asset *)0)->m)
#define SF(m)                                                                            \
    .off = offsetof(struct fg_cfg_sim, m), .size = sizeof(((struct fg_cfg_sim *)0)->m)
#define GF(m)                                                                            \
    .off = offsetof(struct fg_cfg_signal, m),                                            \
    .size = sizeof(((struct fg_cfg_signal *)0)->m)
#define IF(m)                                                                            \
    .off = offsetof(struct fg_cfg_id_token, m),                                          \
    .size = sizeof(((struct fg_cfg_id_token *)0)->m)
#define OF(m)                                                                            \
    .off = offsetof(struct fg_cfg_ocpp_station, m),                                      \
    .size = sizeof(((struct fg_cfg_ocpp_station *)0)->m)
#define TF(m)                                                                            \
    .off = offsetof(struct fg_tariff_period, m),                                         \
    .size = sizeof(((struct fg_tariff_period *)0)->m)
#define MF(m)                                                                            \
    .off = offsetof(struct fg_cfg_modbus_dev, m),                                        \
    .size = sizeof(((struct fg_cfg_modbus_dev *)0)->m)
#define BF(m)                                                                            \
    .off = offsetof(struct fg_cfg_modbus_bus, m),                                        \
    .size = sizeof(((struct fg_cfg_modbus_bus *)0)->m)
#define YF(m)                                                                            \
    .off = offsetof(struct fg_cfg_ageing, m),                                            \
    .size = sizeof(((struct fg_cfg_ageing *)0)->m)
#define RF(m)                                                                            \
    .off = offsetof(struct fg_cfg_modbus_rtu, m),                                        \
    .size = sizeof(((struct fg_cfg_modbus_rtu *)0)->m)
#define TABLE(nm, rows, d)                                                               \
    {                                                                                    \
        nm, rows, sizeof(rows) / sizeof(rows[0]), d                                      \
    }

static const struct row tariff_rows[] = {
    {.key = "from", .type = T_HHMM, TF(start_min), .max = 1439, .req = REQ_ALL,
     .doc = "Local time the period starts; the first period starts at 00:00."},
    {.key = "import_price", .type = T_DBL, TF(import_price), .min = -10, .max = 100,
     .req = REQ_ALL, .doc = "Price of imported energy per kWh."},
    {.key = "export_price", .type = T_DBL, TF(export_price), .min = -10, .max = 100,
     .doc = "Price paid for exported energy per kWh."},
};
static const struct table tariff_table = TABLE("site.tariff[]", tariff_rows, NULL);

static const struct row sim_rows[] = {
    {.key = "arrival", .type = T_HHMM, SF(arrival_min), .max = 1439, .dnum = -1,
     .flags = F_NULL,
     .doc = "evse: local time the EV arrives (null: no EV); shiftable load: earliest "
            "start of its daily run (null: no run)."},
    {.key = "departure", .type = T_HHMM, SF(departure_min), .max = 1439, .dnum = -1,
     .flags = F_NULL,
     .doc = "evse: local time the EV leaves (may be before arrival); shiftable load: "
            "the run's latest end."},
    {.key = "run_s", .type = T_DBL, SF(run_s), .min = 60, .max = 86400, .dnum = 3600,
     .doc = "shiftable load: duration of its daily run at rated power, s."},
    {.key = "energy_wh", .type = T_DBL, SF(energy_wh), .max = 1e7,
     .doc = "evse: energy the EV wants, Wh."},
    {.key = "initial_soc", .type = T_DBL, SF(initial_soc), .max = 100, .dnum = 50,
     .doc = "battery, evse: state of charge at start, %."},
    {.key = "profile", .type = T_ESTR, SF(profile), .names = profile_names,
     .dstr = "household", .doc = "load: consumption profile."},
    {.key = "cloudiness", .type = T_DBL, SF(cloudiness), .max = 1, .dnum = 0.2,
     .doc = "pv: 0 (clear sky) .. 1 (overcast)."},
};
static const struct table sim_table = TABLE("site.assets[].sim", sim_rows, NULL);

#define AGEING_ROWS(def_model)                                                           \
    {.key = "model", .type = T_STR, YF(model), .dstr = "",                               \
     .doc = "Ageing model: a parameter set of docs/battery-model.md (e.g. "              \
            "\"lfp-sony-us26650-naumann2020\"); \"\": " def_model "."},                    \
    {.key = "replacement_cost", .type = T_DBL, YF(replacement_cost), .max = 1e9,         \
     .doc = "Cost of replacing the battery, in site.currency; 0: wear costs nothing."},  \
    {.key = "eol_soh", .type = T_DBL, YF(eol_soh), .min = 1, .max = 99, .dnum = 80,      \
     .flags = F_XMIN,                                                                    \
     .doc = "State of health at the end of life, %."}

static const struct row ageing_rows[] = {
    AGEING_ROWS("the default set of the battery's chemistry"),
};
static const struct table ageing_table = TABLE("site.assets[].ageing", ageing_rows, NULL);

static const struct row ev_ageing_rows[] = {
    AGEING_ROWS("the default NMC set"),
    {.key = "capacity_wh", .type = T_DBL, YF(capacity_wh), .min = 1000, .max = 1e6,
     .dnum = 60000, .doc = "Battery capacity of an EV that does not report it, Wh."},
};
static const struct table ev_ageing_table = TABLE("site.ev_ageing", ev_ageing_rows, NULL);

static const struct row modbus_dev_rows[] = {
    {.key = "bus", .type = T_STR, MF(bus), .fmt = FMT_ID, .req = REQ_ALL,
     .doc = "Id of the modbus.buses[] entry the device is on."},
    {.key = "unit_id", .type = T_INT, MF(unit_id), .min = 0, .max = 255, .dnum = 1,
     .doc = "Modbus unit id (slave address; 1-247 on a serial bus)."},
    {.key = "poll_interval_ms", .type = T_INT, MF(poll_interval_ms), .min = 100,
     .max = 3600000, .dnum = 1000, .doc = "Time between two readings, ms."},
    {.key = "retries", .type = T_INT, MF(retries), .max = 10, .dnum = 1,
     .doc = "Extra attempts of a request that timed out or lost the connection."},
    {.key = "profile", .type = T_ENUM, MF(profile), .names = profile_mb_names,
     .dstr = "sunspec", .doc = "How the registers are described: sunspec (discovered) or "
                               "map (a register-map file, see map)."},
    {.key = "map", .type = T_STR, MF(map), .dstr = "",
     .doc = "profile map: the register-map file (docs/devices.md). Absolute, or "
            "relative: looked up in the config file's directory, then in the "
            "installed device maps (share/flexgw/devices), then in the source tree's "
            "conf/devices. Loaded and checked with the config."},
    {.key = "base_address", .type = T_INT, MF(base_address), .max = 65534, .dnum = -1,
     .flags = F_NULL,
     .doc = "profile sunspec: address of the \"SunS\" marker; null: try 40000, 50000, "
            "0."},
    {.key = "revert_s", .type = T_INT, MF(revert_s), .min = 10, .max = 3600, .dnum = 60,
     .doc = "Revert timeout written with every set-point, s: the device returns to its "
            "default this long after the gateway stops rewriting it."},
};
static const struct table modbus_dev_table =
    TABLE("site.assets[].modbus", modbus_dev_rows, NULL);
static const struct table site_meter_table =
    TABLE("modbus.site_meter", modbus_dev_rows, NULL);

static const struct row asset_rows[] = {
    {.key = "id", .type = T_STR, AF(id), .fmt = FMT_ID, .req = REQ_ALL,
     .doc = "Unique asset id."},
    {.key = "name", .type = T_STR, AF(name), .dstr = "", .doc = "Human-readable name."},
    {.key = "kind", .type = T_ENUM, AF(kind), .names = kind_names, .req = REQ_ALL,
     .doc = "What the asset is; decides which other keys apply."},
    {.key = "adapter", .type = T_ESTR, AF(adapter), .names = adapter_names, .dstr = "sim",
     .doc = "How the gateway talks to it."},
    {.key = "rated_w", .type = T_DBL, AF(rated_w), .min = 1, .max = 1e6,
     .kinds = K_EVSE | K_PV | K_LOAD, .req = K_EVSE | K_PV | K_LOAD,
     .doc = "Rated power, W (evse: max charge power; pv: peak)."},
    {.key = "phases", .type = T_INT, AF(phases), .min = 1, .max = 3, .dnum = 3,
     .names = phase_names, .kinds = K_EVSE, .doc = "Number of phases, 1 or 3."},
    {.key = "voltage", .type = T_DBL, AF(voltage), .min = 100, .max = 400, .dnum = 230,
     .kinds = K_EVSE, .doc = "Phase voltage, V."},
    {.key = "min_current_a", .type = T_DBL, AF(min_current_a), .max = 80, .dnum = 6,
     .kinds = K_EVSE, .doc = "Per-phase current below which the EV stops, A."},
    {.key = "max_current_a", .type = T_DBL, AF(max_current_a), .min = 1, .max = 500,
     .dnum = 32, .kinds = K_EVSE, .doc = "Per-phase current limit, A."},
    {.key = "bidirectional", .type = T_BOOL, AF(bidirectional), .kinds = K_EVSE,
     .doc = "The EVSE can discharge the EV (V2G)."},
    {.key = "max_discharge_w", .type = T_DBL, AF(max_discharge_w), .max = 1e6,
     .kinds = K_EVSE | K_BAT, .req = K_BAT,
     .doc = "Maximum discharge power, W (battery: > 0; evse: used if bidirectional)."},
    {.key = "station", .type = T_STR, AF(station), .fmt = FMT_ID, .dstr = "",
     .kinds = K_EVSE, .doc = "OCPP station id of this EVSE (default: the asset id)."},
    {.key = "evse_id", .type = T_INT, AF(evse_id), .min = 1, .max = 99, .dnum = 1,
     .kinds = K_EVSE, .doc = "OCPP EVSE number of this EVSE within its station."},
    {.key = "capacity_wh", .type = T_DBL, AF(capacity_wh), .max = 1e9, .flags = F_XMIN,
     .kinds = K_BAT, .req = K_BAT, .doc = "Usable capacity, Wh."},
    {.key = "max_charge_w", .type = T_DBL, AF(max_charge_w), .max = 1e6, .flags = F_XMIN,
     .kinds = K_BAT, .req = K_BAT, .doc = "Maximum charge power, W."},
    {.key = "soc_min", .type = T_DBL, AF(soc_min), .max = 100, .dnum = 10, .kinds = K_BAT,
     .doc = "State of charge the scheduler keeps at least, %."},
    {.key = "soc_max", .type = T_DBL, AF(soc_max), .max = 100, .dnum = 95, .kinds = K_BAT,
     .doc = "State of charge the scheduler keeps at most, %."},
    {.key = "chemistry", .type = T_ESTR, AF(chemistry), .names = chem_names,
     .dstr = "LFP", .kinds = K_BAT, .doc = "Cell chemistry (for the ageing model)."},
    {.key = "ageing", .type = T_OBJ, AF(ageing),
     .aux_off = offsetof(struct fg_cfg_asset, has_ageing), .flags = F_HAS, .kinds = K_BAT,
     .child = &ageing_table,
     .doc = "Battery ageing: model, end of life and wear cost (default: tracked with "
            "the chemistry's default model)."},
    {.key = "curtailable", .type = T_BOOL, AF(curtailable), .dnum = 1, .kinds = K_PV,
     .doc = "Production can be reduced on request."},
    {.key = "type", .type = T_ENUM, AF(load_type), .names = load_names,
     .dstr = "inflexible", .kinds = K_LOAD, .doc = "How far the load can be steered."},
    {.key = "sim", .type = T_OBJ, AF(sim),
     .aux_off = offsetof(struct fg_cfg_asset, has_sim), .flags = F_HAS,
     .child = &sim_table,
     .doc = "Simulation parameters (adapter \"sim\": demo and tests)."},
    {.key = "modbus", .type = T_OBJ, AF(modbus),
     .aux_off = offsetof(struct fg_cfg_asset, has_modbus), .flags = F_HAS,
     .kinds = K_BAT | K_PV, .child = &modbus_dev_table,
     .doc = "The Modbus device (adapter \"modbus\"; required with it)."},
};
/* parse_object() tracks the keys seen in a uint64_t. */
_Static_assert(sizeof(asset_rows) / sizeof(asset_rows[0]) <= 64, "too many rows");
static const struct table asset_table = TABLE("site.assets[]", asset_rows, "kind");

static const struct row signal_rows[] = {
    {.key = "id", .type = T_STR, GF(id), .fmt = FMT_ID, .req = REQ_ALL,
     .doc = "Unique signal id."},
    {.key = "type", .type = T_ENUM, GF(type), .names = sigtype_names, .req = REQ_ALL,
     .doc = "What the value means (see the model: price, grid limit, ...)."},
    {.key = "from", .type = T_HHMM, GF(from_min), .max = 1439, .req = REQ_ALL,
     .doc = "Local time the daily window starts."},
    {.key = "until", .type = T_HHMM, GF(until_min), .max = 1440, .req = REQ_ALL,
     .doc = "Local time it ends; before from = crosses midnight."},
    {.key = "value", .type = T_DBL, GF(value), .min = -1e12, .max = 1e12, .req = REQ_ALL,
     .doc = "Value (grid_limit: import max W; price: import price per kWh)."},
    {.key = "export_value", .type = T_DBL, GF(export_value), .min = -1e12, .max = 1e12,
     .dnum = NAN, .flags = F_NULL,
     .doc = "Export value (grid_limit: export max W), null = none."},
    {.key = "priority", .type = T_INT, GF(priority), .min = -1000, .max = 1000,
     .doc = "Higher wins among signals of the same type."},
};
static const struct table signal_table = TABLE("site.signals[]", signal_rows, NULL);

static const struct row site_rows[] = {
    {.key = "id", .type = T_STR, CF(site.id), .fmt = FMT_ID, .dstr = "site1",
     .doc = "Site id, used in MQTT topics and the API."},
    {.key = "name", .type = T_STR, CF(site.name), .dstr = "",
     .doc = "Human-readable name."},
    {.key = "import_limit_w", .type = T_DBL, CF(site.import_limit_w), .max = 1e9,
     .dnum = 100000, .flags = F_XMIN, .doc = "Grid connection import limit, W."},
    {.key = "export_limit_w", .type = T_DBL, CF(site.export_limit_w), .max = 1e9,
     .dnum = 100000, .doc = "Grid connection export limit, W."},
    {.key = "kw_max_w", .type = T_DBL, CF(site.kw_max_w), .max = 1e9, .dnum = NAN,
     .flags = F_NULL,
     .doc = "Peak-shaving target for import (kWmax), W; null: none."},
    {.key = "isp_s", .type = T_INT, CF(site.isp_s), .min = 60, .max = 3600, .dnum = 900,
     .doc = "Imbalance settlement period, s; must divide 3600."},
    {.key = "utc_offset_min", .type = T_INT, CF(site.utc_offset_min), .min = -720,
     .max = 840, .doc = "Local time minus UTC, minutes; for tariffs and daily windows."},
    {.key = "currency", .type = T_STR, CF(site.currency), .fmt = FMT_CURRENCY,
     .dstr = "EUR", .doc = "ISO 4217 currency of the prices."},
    {.key = "tariff", .type = T_ARR, .off = offsetof(struct fg_config, site.tariff),
     .size = sizeof(struct fg_tariff_period),
     .aux_off = offsetof(struct fg_config, site.n_tariff), .max = FG_TARIFF_MAX_PERIODS,
     .flags = F_INLINE, .slot = SLOT_TARIFF, .child = &tariff_table,
     .doc = "Time-of-use tariff periods, sorted by start."},
    {.key = "assets", .type = T_ARR, .off = offsetof(struct fg_config, site.assets),
     .size = sizeof(struct fg_cfg_asset),
     .aux_off = offsetof(struct fg_config, site.n_assets), .max = FG_MODEL_MAX_ASSETS,
     .slot = SLOT_ASSETS, .child = &asset_table, .doc = "The site's assets."},
    {.key = "signals", .type = T_ARR, .off = offsetof(struct fg_config, site.signals),
     .size = sizeof(struct fg_cfg_signal),
     .aux_off = offsetof(struct fg_config, site.n_signals), .max = MAX_SIGNALS,
     .slot = SLOT_SIGNALS, .child = &signal_table,
     .doc = "Standing signals repeated every day (e.g. an agreed congestion window)."},
    {.key = "ev_ageing", .type = T_OBJ, CF(site.ev_ageing), .child = &ev_ageing_table,
     .doc = "Battery ageing of the EVs charged at the site (state kept per EV)."},
};

static const struct row id_token_rows[] = {
    {.key = "id", .type = T_STR, IF(id), .fmt = FMT_TOKEN, .req = REQ_ALL,
     .doc = "The idToken (RFID UID, eMAID, ...), 1-36 printable characters."},
    {.key = "type", .type = T_ENUM, IF(type), .names = token_type_names, .dstr = "any",
     .doc = "Its IdTokenEnumType; any = whatever type the station reports."},
    {.key = "status", .type = T_ENUM, IF(status), .names = token_status_names,
     .dstr = "Accepted", .doc = "What Authorize answers for it."},
    {.key = "group", .type = T_STR, IF(group), .dstr = "",
     .doc = "groupIdToken sent with it, \"\" = none."},
};
static const struct table id_token_table = TABLE("ocpp.id_tokens[]", id_token_rows, NULL);
static const struct row ocpp_station_rows[] = {
    {.key = "id", .type = T_STR, OF(id), .fmt = FMT_ID, .req = REQ_ALL,
     .doc = "Station id (the last part of its URL /ocpp/{stationId})."},
    {.key = "security_profile", .type = T_INT, OF(security_profile), .max = 3, .dnum = -1,
     .flags = F_NULL,
     .doc = "Security profile of this station; null: ocpp.security_profile."},
    {.key = "password_hash", .type = T_SECRET, OF(password_hash), .flags = F_NULL,
     .doc = "argon2id hash of its HTTP Basic password (flexgw --hash-password); "
            "required for profiles 1 and 2."},
};
static const struct table ocpp_station_table =
    TABLE("ocpp.stations[]", ocpp_station_rows, NULL);

static const struct row ocpp_rows[] = {
    {.key = "enabled", .type = T_BOOL, CF(ocpp.enabled), .doc = "Run the OCPP CSMS."},
    {.key = "listen", .type = T_HOSTPORT, CF(ocpp.listen), .dstr = "0.0.0.0:9000",
     .doc = "Plain WebSocket (ws://) listen address."},
    {.key = "tls_listen", .type = T_HOSTPORT, CF(ocpp.tls_listen), .dstr = "0.0.0.0:9443",
     .doc = "TLS WebSocket (wss://) listen address."},
    {.key = "allow_unknown_stations", .type = T_BOOL, CF(ocpp.allow_unknown_stations),
     .doc = "Accept stations that no evse asset names (their EVSEs are added)."},
    {.key = "call_timeout_s", .type = T_INT, CF(ocpp.call_timeout_s), .min = 1,
     .max = 300, .dnum = 30, .doc = "Seconds to wait for a CALLRESULT."},
    {.key = "heartbeat_s", .type = T_INT, CF(ocpp.heartbeat_s), .min = 10, .max = 86400,
     .dnum = 300, .doc = "Heartbeat interval given to stations, s."},
    {.key = "max_frame_bytes", .type = T_INT, CF(ocpp.max_frame_bytes), .min = 1024,
     .max = 16777216, .dnum = 65536,
     .doc = "Largest WebSocket message accepted from a station, bytes."},
    {.key = "authorization", .type = T_ENUM, CF(ocpp.authorization), .names = ocpp_auth_names,
     .dstr = "any", .doc = "Which id tokens may charge: any, or those in id_tokens."},
    {.key = "id_tokens", .type = T_ARR, .off = offsetof(struct fg_config, ocpp.id_tokens),
     .size = sizeof(struct fg_cfg_id_token),
     .aux_off = offsetof(struct fg_config, ocpp.n_id_tokens), .max = 100000,
     .slot = SLOT_ID_TOKENS, .child = &id_token_table,
     .doc = "Local authorisation list (Authorize, TransactionEvent)."},
    {.key = "rate_unit", .type = T_ENUM, CF(ocpp.rate_unit), .names = ocpp_unit_names,
     .dstr = "A", .doc = "Unit of the charging profiles sent: A (every station) or W."},
    {.key = "profile_min_interval_s", .type = T_INT, CF(ocpp.profile_min_interval_s),
     .min = 0, .max = 3600, .dnum = 10,
     .doc = "Least time between two charging profiles for one EVSE, s; a profile that lowers the charging power is sent at once."},
    {.key = "profile_threshold_w", .type = T_DBL, CF(ocpp.profile_threshold_w), .min = 0,
     .max = 100000, .dnum = 200,
     .doc = "Smaller set-point changes than this are not sent, W."},
    {.key = "profile_fallback_s", .type = T_INT, CF(ocpp.profile_fallback_s), .min = 60,
     .max = 86400, .dnum = 900,
     .doc = "A profile ends at most this long after it was sent (renewed while wanted), "
            "so a station falls back by itself when the gateway goes silent, s."},
    {.key = "security_profile", .type = T_INT, CF(ocpp.security_profile), .max = 3,
     .doc = "Security profile of stations without their own in stations: 0 none, "
            "1 Basic auth, 2 TLS + Basic auth, 3 TLS client certificate."},
    {.key = "tls_cert", .type = T_FILE, CF(ocpp.tls_cert), .dstr = "",
     .doc = "PEM certificate (chain) of the wss:// listener; empty: no wss://."},
    {.key = "tls_key", .type = T_FILE, CF(ocpp.tls_key), .dstr = "",
     .doc = "PEM private key of tls_cert."},
    {.key = "tls_ca", .type = T_FILE, CF(ocpp.tls_ca), .dstr = "",
     .doc = "PEM CA certificate(s) that issue station certificates (profile 3)."},
    {.key = "stations", .type = T_ARR, .off = offsetof(struct fg_config, ocpp.stations),
     .size = sizeof(struct fg_cfg_ocpp_station),
     .aux_off = offsetof(struct fg_config, ocpp.n_stations), .max = FG_OCPP_STATIONS_MAX,
     .slot = SLOT_STATIONS, .child = &ocpp_station_table,
     .doc = "Per-station security: profile and password hash."},
};

static const struct row rtu_rows[] = {
    {.key = "device", .type = T_STR, RF(device), .req = REQ_ALL,
     .doc = "Serial device, e.g. /dev/ttyUSB0."},
    {.key = "baud", .type = T_INT, RF(baud), .min = 1200, .max = 115200, .dnum = 9600,
     .names = baud_names, .doc = "Baud rate."},
    {.key = "parity", .type = T_ENUM, RF(parity), .names = parity_names, .dstr = "even",
     .doc = "Parity (Modbus RTU's default is even)."},
    {.key = "data_bits", .type = T_INT, RF(data_bits), .min = 7, .max = 8, .dnum = 8,
     .doc = "Data bits."},
    {.key = "stop_bits", .type = T_INT, RF(stop_bits), .min = 1, .max = 2, .dnum = 1,
     .doc = "Stop bits."},
};
static const struct table rtu_table = TABLE("modbus.buses[].rtu", rtu_rows, NULL);

static const struct row bus_rows[] = {
    {.key = "id", .type = T_STR, BF(id), .fmt = FMT_ID, .req = REQ_ALL,
     .doc = "Bus id, named by the devices on it."},
    {.key = "tcp", .type = T_STR, BF(tcp), .dstr = "",
     .doc = "Modbus/TCP address host:port; give either tcp or rtu."},
    {.key = "rtu", .type = T_OBJ, BF(rtu), .aux_off = offsetof(struct fg_cfg_modbus_bus,
     has_rtu), .flags = F_HAS, .child = &rtu_table,
     .doc = "Modbus RTU serial line; give either tcp or rtu."},
    {.key = "response_timeout_ms", .type = T_INT, BF(response_timeout_ms), .min = 20,
     .max = 60000, .dnum = 1000, .doc = "Time a device has to answer one request, ms."},
};
static const struct table bus_table = TABLE("modbus.buses[]", bus_rows, NULL);

static const struct row modbus_rows[] = {
    {.key = "enabled", .type = T_BOOL, CF(modbus.enabled),
     .doc = "Run the Modbus adapter."},
    {.key = "buses", .type = T_ARR, .off = offsetof(struct fg_config, modbus.buses),
     .size = sizeof(struct fg_cfg_modbus_bus),
     .aux_off = offsetof(struct fg_config, modbus.n_buses), .max = FG_MODBUS_BUSES_MAX,
     .slot = SLOT_BUSES, .child = &bus_table,
     .doc = "Buses, one worker thread each: a slow device stalls only its own bus."},
    {.key = "site_meter", .type = T_OBJ, CF(modbus.site_meter),
     .aux_off = offsetof(struct fg_config, modbus.has_site_meter), .flags = F_HAS,
     .child = &site_meter_table,
     .doc = "The site's main meter as a Modbus device (SunSpec 201-204)."},
};

#define WF(m)                                                                            \
    .off = offsetof(struct fg_cfg_oadr_window, m),                                       \
    .size = sizeof(((struct fg_cfg_oadr_window *)0)->m)
static const struct row window_rows[] = {
    {.key = "from", .type = T_STR, WF(from), .req = REQ_ALL,
     .doc = "Start, an ISO 8601 date-time (\"2026-12-01T08:00:00Z\", or with an offset)."},
    {.key = "to", .type = T_STR, WF(to), .req = REQ_ALL,
     .doc = "End (exclusive), after from."},
};
static const struct table window_table = TABLE("openadr.unavailable[]", window_rows, NULL);

static const struct row openadr_rows[] = {
    {.key = "enabled", .type = T_BOOL, CF(openadr.enabled),
     .doc = "Run the OpenADR VEN."},
    {.key = "vtn_url", .type = T_STR, CF(openadr.vtn_url), .fmt = FMT_URL, .dstr = "",
     .doc = "Base URL of the VTN (http:// or https://); required if enabled."},
    {.key = "ven_name", .type = T_STR, CF(openadr.ven_name), .dstr = "",
     .doc = "VEN name registered at the VTN."},
    {.key = "client_cert", .type = T_FILE, CF(openadr.client_cert), .dstr = "",
     .doc = "PEM client certificate of the VEN (mutual TLS); empty: none."},
    {.key = "client_key", .type = T_FILE, CF(openadr.client_key), .dstr = "",
     .doc = "PEM private key of client_cert."},
    {.key = "ca_file", .type = T_FILE, CF(openadr.ca_file), .dstr = "",
     .doc = "PEM CA certificate(s) that issue the VTN's certificate; empty: the "
            "system's CAs."},
    {.key = "vtn_pin_sha256", .type = T_STR, CF(openadr.vtn_pin_sha256), .dstr = "",
     .doc = "Optional pin of the VTN's public key: base64 SHA-256 of its "
            "SubjectPublicKeyInfo (\"sha256//...\" also accepted; several joined by "
            "\";\"); empty: no pinning."},
    {.key = "timeout_s", .type = T_INT, CF(openadr.timeout_s), .min = 1, .max = 300,
     .dnum = 10, .doc = "Connect and total time limit of one request to the VTN, s."},
    {.key = "poll_s", .type = T_INT, CF(openadr.poll_s), .min = 1, .max = 3600,
     .dnum = 10,
     .doc = "Poll interval until the VTN names one (oadrRequestedOadrPollFreq), s."},
    {.key = "max_body", .type = T_INT, CF(openadr.max_body), .min = 4096,
     .max = 16777216, .dnum = 1048576,
     .doc = "Largest answer accepted from the VTN, bytes; larger ones are cut off "
            "and refused."},
    {.key = "opt_policy", .type = T_ENUM, CF(openadr.opt_policy), .names = opt_policy_names,
     .doc = "Answer to events: auto (opt in unless the site cannot deliver), in, out."},
    {.key = "level1_fraction", .type = T_DBL, CF(openadr.level_fraction[0]), .min = 0,
     .max = 1, .dnum = 0.75,
     .doc = "SIMPLE level 1 (moderate): import limit as a share of import_limit_w."},
    {.key = "level2_fraction", .type = T_DBL, CF(openadr.level_fraction[1]), .min = 0,
     .max = 1, .dnum = 0.5,
     .doc = "SIMPLE level 2 (high): import limit as a share of import_limit_w."},
    {.key = "level3_fraction", .type = T_DBL, CF(openadr.level_fraction[2]), .min = 0,
     .max = 1, .dnum = 0.25,
     .doc = "SIMPLE level 3 (special): import limit as a share of import_limit_w."},
    {.key = "unavailable", .type = T_ARR, .off = offsetof(struct fg_config, openadr.unavailable),
     .size = sizeof(struct fg_cfg_oadr_window),
     .aux_off = offsetof(struct fg_config, openadr.n_unavailable), .max = FG_OADR_WINDOWS_MAX,
     .flags = F_INLINE, .slot = SLOT_WINDOWS, .child = &window_table,
     .doc = "Windows the site cannot take part in events (maintenance): sent to the VTN "
            "as an opt-out schedule (oadrCreateOpt), withdrawn when removed."},
};

static const struct row uftp_rows[] = {
    {.key = "enabled", .type = T_BOOL, CF(uftp.enabled), .doc = "Run the UFTP endpoint."},
    {.key = "domain", .type = T_STR, CF(uftp.domain), .dstr = "",
     .doc = "Our UFTP participant domain."},
};

static const struct row mqtt_rows[] = {
    {.key = "enabled", .type = T_BOOL, CF(mqtt.enabled), .doc = "Connect to a broker."},
    {.key = "broker", .type = T_HOSTPORT, CF(mqtt.broker), .dstr = "127.0.0.1:1883",
     .doc = "Broker address."},
    {.key = "prefix", .type = T_STR, CF(mqtt.prefix), .dstr = "flexgw/{siteId}",
     .flags = F_EXPAND, .doc = "Topic prefix; {siteId} is replaced by site.id."},
    {.key = "client_id", .type = T_STR, CF(mqtt.client_id), .dstr = "flexgw-{siteId}",
     .flags = F_EXPAND, .doc = "MQTT client id; {siteId} is replaced by site.id."},
    {.key = "username", .type = T_STR, CF(mqtt.username), .dstr = "",
     .doc = "User name (empty: anonymous)."},
    {.key = "password", .type = T_SECRET, CF(mqtt.password), .flags = F_NULL,
     .doc = "Password: a string or {\"file\": path}."},
    {.key = "keepalive_s", .type = T_INT, CF(mqtt.keepalive_s), .min = 5, .max = 3600,
     .dnum = 30, .doc = "Keep-alive interval, s."},
};

static const struct row scheduler_rows[] = {
    {.key = "plugin", .type = T_FILE, CF(scheduler.plugin), .names = plugin_names,
     .dstr = "realtime", .doc = "Built-in scheduler name or path to a plugin .so."},
    {.key = "interval_s", .type = T_INT, CF(scheduler.interval_s), .min = 1, .max = 3600,
     .dnum = 1, .doc = "Real-time control interval, s."},
    {.key = "horizon_h", .type = T_INT, CF(scheduler.horizon_h), .min = 1, .max = 72,
     .dnum = 36, .doc = "Planning horizon, h."},
    {.key = "options", .type = T_JSON, CF(scheduler.options), .dstr = "{}",
     .doc = "The scheduler's own settings, handed to its create() as JSON text."},
    {.key = "realtime_timeout_ms", .type = T_INT, CF(scheduler.realtime_timeout_ms),
     .min = 10, .max = 60000, .dnum = 500,
     .doc = "Deadline of one realtime() call, ms; past it the worker is killed and the "
            "safe fallback schedule takes over."},
    {.key = "plan_timeout_s", .type = T_INT, CF(scheduler.plan_timeout_s), .min = 1,
     .max = 3600, .dnum = 60,
     .doc = "Deadline of one plan() call, s; past it the planner's worker is killed and "
            "the previous plan stays in force."},
    {.key = "planner", .type = T_FILE, CF(scheduler.planner), .names = planner_names,
     .dstr = "planner",
     .doc = "The planner whose plan() makes the plan the real-time scheduler follows: "
            "built-in \"planner\" (COIN-OR Cbc), \"none\", or a path to a plugin .so."},
    {.key = "planner_options", .type = T_JSON, CF(scheduler.planner_options), .dstr = "{}",
     .doc = "The planner's own settings, handed to its create() as JSON text."},
    {.key = "plan_interval_s", .type = T_INT, CF(scheduler.plan_interval_s), .min = 60,
     .max = 86400, .dnum = 900,
     .doc = "Re-plan at least this often, s; also on a new EV, a changed signal, a "
            "config change and a forecast deviation."},
    {.key = "replan_deviation_w", .type = T_DBL, CF(scheduler.replan_deviation_w),
     .max = 1e9, .dnum = NAN, .flags = F_NULL,
     .doc = "Re-plan when an ISP's uncontrolled load (load less PV) deviated from the "
            "plan's forecast by more than this, W; null: 10 % of site.import_limit_w."},
};

static const struct row web_rows[] = {
    {.key = "listen", .type = T_HOSTPORT, CF(web.listen), .dstr = "127.0.0.1:8080",
     .doc = "Web page, REST API and /metrics listen address."},
    {.key = "token", .type = T_SECRET, CF(web.token), .flags = F_NULL,
     .doc = "Bearer token for writes: a string or {\"file\": path}."},
    {.key = "admin_password", .type = T_SECRET, CF(web.admin_password), .flags = F_NULL,
     .doc = "HTTP Basic password of user \"admin\" for writes."},
    {.key = "auth_reads", .type = T_BOOL, CF(web.auth_reads),
     .doc = "Also require credentials for reads (except /api/v1/health)."},
    {.key = "max_body", .type = T_SIZE, CF(web.max_body), .min = 1024, .max = 67108864,
     .dnum = 1048576, .doc = "Largest request body accepted, bytes."},
    {.key = "tls_cert", .type = T_FILE, CF(web.tls_cert), .dstr = "",
     .doc = "PEM certificate file; empty: plain http."},
    {.key = "tls_key", .type = T_FILE, CF(web.tls_key), .dstr = "",
     .doc = "PEM private key file; set together with tls_cert."},
};

static const struct row storage_rows[] = {
    {.key = "path", .type = T_STR, CF(storage.path), .dstr = "/var/lib/flexgw",
     .doc = "Data directory (SQLite database)."},
    {.key = "sync_full", .type = T_BOOL, CF(storage.sync_full), .dnum = 1,
     .doc = "fsync every commit (safe against power loss)."},
    {.key = "retention_days", .type = T_INT, CF(storage.retention_days), .min = 1,
     .max = 3650, .dnum = 90, .doc = "Days of history kept."},
    {.key = "meter_interval_s", .type = T_INT, CF(storage.meter_interval_s), .min = 0,
     .max = 3600, .dnum = 10,
     .doc = "Meter history resolution: at most one stored reading per EVSE every this "
            "many seconds (the first of each interval); 0 stores every reading. Every "
            "reading updates the model either way; transaction events are always "
            "stored whole."},
};

static const struct row log_rows[] = {
    {.key = "level", .type = T_ENUM, CF(log.level), .names = log_names, .dstr = "info",
     .doc = "Least severe level logged."},
};

static const struct table site_table = TABLE("site", site_rows, NULL);
static const struct table ocpp_table = TABLE("ocpp", ocpp_rows, NULL);
static const struct table modbus_table = TABLE("modbus", modbus_rows, NULL);
static const struct table openadr_table = TABLE("openadr", openadr_rows, NULL);
static const struct table uftp_table = TABLE("uftp", uftp_rows, NULL);
static const struct table mqtt_table = TABLE("mqtt", mqtt_rows, NULL);
static const struct table scheduler_table = TABLE("scheduler", scheduler_rows, NULL);
static const struct table web_table = TABLE("web", web_rows, NULL);
static const struct table storage_table = TABLE("storage", storage_rows, NULL);
static const struct table log_table = TABLE("log", log_rows, NULL);

/* Sections share the base of struct fg_config (off 0): their rows hold
 * offsets from the start of the config. */
#define SECTION(k, t, d)                                                                 \
    {                                                                                    \
        .key = k, .type = T_OBJ, .child = &t, .doc = d                                   \
    }
static const struct row root_rows[] = {
    SECTION("site", site_table, "The site: grid connection, tariff, assets, signals."),
    SECTION("ocpp", ocpp_table, "OCPP 2.0.1 CSMS for EV chargers."),
    SECTION("modbus", modbus_table, "Modbus / SunSpec devices."),
    SECTION("openadr", openadr_table, "OpenADR 2.0b VEN (signals from a DSO)."),
    SECTION("uftp", uftp_table, "USEF UFTP endpoint (flexibility requests)."),
    SECTION("mqtt", mqtt_table, "MQTT link to the cloud (telemetry and commands)."),
    SECTION("scheduler", scheduler_table, "The scheduler plugin."),
    SECTION("web", web_table, "Web page, REST API and metrics."),
    SECTION("storage", storage_table, "Persistence (SQLite)."),
    SECTION("log", log_table, "Logging."),
};
static const struct table root_table = TABLE("", root_rows, NULL);
// clang-format on

/* ---- small helpers ---- */

struct ctx {
    struct fg_errlist *errs;
    const char *base_dir;
    bool *bad[SLOT_COUNT]; /* per array element: it had an error */
};

static void *at(void *base, size_t off)
{
    return (char *)base + off;
}

static const void *cat(const void *base, size_t off)
{
    return (const char *)base + off;
}

static int name_index(const char *const *names, const char *s)
{
    for (int i = 0; names && names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static void join_names(const char *const *names, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; names[i] && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", names[i]);
}

static const struct row *find_row(const struct table *t, const char *key, size_t *idx)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].key, key) == 0) {
            if (idx)
                *idx = i;
            return &t->rows[i];
        }
    return NULL;
}

/* Edit distance of two short keys (Levenshtein), capped at 9. */
static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 9;
    unsigned prev[41], cur[41];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            unsigned del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(unsigned) * (lb + 1));
    }
    return prev[lb] > 9 ? 9 : prev[lb];
}

/* "unknown key", with the closest known key when it is likely a typo. */
static void unknown_key(struct ctx *x, const struct table *t, const char *key,
                        const char *path)
{
    const char *best = NULL;
    unsigned best_d = 3; /* suggest for at most 2 edits */
    for (size_t i = 0; i < t->n; i++) {
        unsigned d = edit_distance(key, t->rows[i].key);
        if (d < best_d) {
            best_d = d;
            best = t->rows[i].key;
        }
    }
    if (best)
        fg_errlist_add(x->errs, FG_EUNKNOWN, path, "unknown key (did you mean \"%s\"?)",
                       best);
    else
        fg_errlist_add(x->errs, FG_EUNKNOWN, path, "unknown key");
}

static void path_index(char *out, size_t n, const char *path, size_t i)
{
    snprintf(out, n, "%s/%zu", path, i);
}

/* Numbers in messages: integers without exponent, others with %g. */
static const char *fmtnum(double v, char *buf, size_t n)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%g", v);
    return buf;
}

static void fmt_hhmm(int m, char buf[8])
{
    snprintf(buf, 8, "%02d:%02d", (m / 60) % 100, m % 60);
}

/* Join base_dir and a relative path; -1 if it does not fit. */
static int resolve(const char *base_dir, const char *p, char *out, size_t n)
{
    int len;
    if (p[0] == '/' || !base_dir || !base_dir[0])
        len = snprintf(out, n, "%s", p);
    else
        len = snprintf(out, n, "%s/%s", base_dir, p);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

static bool ok_elem(const struct ctx *x, enum slot s, size_t i)
{
    return !x->bad[s] || !x->bad[s][i];
}

/* ---- string formats ---- */

static bool is_id(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
              ('0' <= *s && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static bool is_token(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < '!' || s[n] > '~')
            return false;
    return n >= 1 && n <= 36;
}

static bool is_currency(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return s[3] == '\0';
}

static bool is_url(const char *s)
{
    return !*s || (strncmp(s, "http://", 7) == 0 && s[7]) ||
           (strncmp(s, "https://", 8) == 0 && s[8]);
}

static const struct {
    const char *pattern;
    const char *what;
    bool (*ok)(const char *);
} fmts[] = {
    [FMT_NONE] = {NULL, NULL, NULL},
    [FMT_ID] = {"^[A-Za-z0-9._-]+$", "a valid id ([A-Za-z0-9._-]+)", is_id},
    [FMT_CURRENCY] = {"^[A-Z]{3}$", "a currency code (3 capital letters)", is_currency},
    [FMT_URL] = {"^(https?://.+)?$", "an http:// or https:// URL", is_url},
    [FMT_TOKEN] = {"^[!-~]{1,36}$", "an id token (1-36 printable ASCII characters)",
                   is_token},
};

/* ---- host:port and HH:MM ---- */

static bool host_char(char c)
{
    return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
           c == '.' || c == '-' || c == '_';
}

static bool valid_host(const char *h, bool bracketed)
{
    unsigned char buf[16];
    if (bracketed)
        return inet_pton(AF_INET6, h, buf) == 1;
    if (!*h)
        return false;
    bool numeric = true;
    for (const char *p = h; *p; p++) {
        if (!host_char(*p))
            return false;
        if (!(*p == '.' || ('0' <= *p && *p <= '9')))
            numeric = false;
    }
    return !numeric || inet_pton(AF_INET, h, buf) == 1;
}

static int parse_port(const char *s, uint16_t *out)
{
    long v = 0;
    size_t n = strlen(s);
    if (n < 1 || n > 5)
        return FG_EINVAL;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return FG_EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return FG_EINVAL;
    *out = (uint16_t)v;
    return 0;
}

int fg_hostport_parse(const char *s, struct fg_hostport *out)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hlen;
    bool bracketed = s[0] == '[';
    if (!colon)
        return FG_EINVAL;
    if (bracketed) {
        const char *close = strchr(s, ']');
        if (!close || close + 1 != colon)
            return FG_EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
    } else {
        hlen = (size_t)(colon - s);
    }
    char host[FG_CFG_HOST_MAX];
    uint16_t port;
    if (hlen == 0 || hlen >= sizeof(host))
        return FG_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (!valid_host(host, bracketed) || parse_port(colon + 1, &port))
        return FG_EINVAL;
    memcpy(out->host, host, hlen + 1);
    out->port = port;
    return 0;
}

static bool two_digits(const char *s, int *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return false;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return true;
}

int fg_hhmm_parse(const char *s, int *minutes)
{
    int h, m;
    if (strlen(s) != 5 || s[2] != ':' || !two_digits(s, &h) || !two_digits(s + 3, &m))
        return FG_EINVAL;
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return FG_EINVAL;
    *minutes = h * 60 + m;
    return 0;
}

static void fmt_hostport(const struct fg_hostport *hp, char *buf, size_t n)
{
    if (strchr(hp->host, ':'))
        snprintf(buf, n, "[%s]:%u", hp->host, hp->port);
    else
        snprintf(buf, n, "%s:%u", hp->host, hp->port);
}

/* ---- secrets ---- */

static void secret_clear(struct fg_secret *s)
{
    if (s->value) {
        explicit_bzero(s->value, strlen(s->value));
        free(s->value);
    }
    s->value = NULL;
    s->file[0] = '\0';
}

/* Read a secret file: at most SECRET_FILE_MAX bytes, trailing CR/LF removed.
 * Returns 0, or an errno-style value (EFBIG: too long, ENODATA: empty,
 * EINVAL: not a regular file). */
static int read_secret(const char *path, char **out)
{
    char buf[SECRET_FILE_MAX + 1];
    struct stat st;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno;
    int rc = fstat(fd, &st) ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
    while (!rc && len < sizeof(buf)) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = errno;
        else if (r == 0)
            break;
        else
            len += (size_t)r;
    }
    close(fd);
    if (!rc && len > SECRET_FILE_MAX)
        rc = EFBIG;
    while (!rc && len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (!rc && (len == 0 || memchr(buf, '\0', len)))
        rc = ENODATA;
    if (!rc && !(*out = strndup(buf, len)))
        rc = ENOMEM;
    explicit_bzero(buf, sizeof(buf));
    return rc;
}

static const char *secret_errstr(int e)
{
    switch (e) {
    case EFBIG:
        return "longer than 4096 bytes";
    case ENODATA:
        return "empty or contains a NUL byte";
    case EINVAL:
        return "not a regular file";
    }
    return strerror(e);
}

/* ---- parsing, per type ---- */

typedef void parse_fn(struct ctx *, const struct row *, const cJSON *, void *,
                      const char *);
static void parse_object(struct ctx *x, const struct table *t, const cJSON *j, void *base,
                         const char *path);
static void set_defaults(const struct table *t, void *base);

static bool num_ok(const struct row *r, double v)
{
    bool lo = (r->flags & F_XMIN) ? v > r->min : v >= r->min;
    return lo && v <= r->max;
}

static bool check_num(struct ctx *x, const struct row *r, double v, const char *path)
{
    char a[32], b[32], c[32];
    if (num_ok(r, v))
        return true;
    fg_errlist_add(x->errs, FG_ERANGE, path, "%s not in %c%s, %s]",
                   fmtnum(v, a, sizeof(a)), (r->flags & F_XMIN) ? '(' : '[',
                   fmtnum(r->min, b, sizeof(b)), fmtnum(r->max, c, sizeof(c)));
    return false;
}

/* An integer in the row's bounds (and among its choices, if any). */
static bool get_int(struct ctx *x, const struct row *r, const cJSON *j, const char *path,
                    long long *out)
{
    double v = j->valuedouble;
    char a[32], list[64];
    if (v != floor(v) || !isfinite(v)) {
        fg_errlist_add(x->errs, FG_ETYPE, path, "%s is not an integer",
                       fmtnum(v, a, sizeof(a)));
        return false;
    }
    if (!check_num(x, r, v, path))
        return false;
    if (r->names && name_index(r->names, fmtnum(v, a, sizeof(a))) < 0) {
        join_names(r->names, list, sizeof(list));
        fg_errlist_add(x->errs, FG_ERANGE, path, "%s is not one of %s", a, list);
        return false;
    }
    *out = (long long)v;
    return true;
}

static void p_bool(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                   const char *path)
{
    (void)x, (void)path;
    *(bool *)at(base, r->off) = cJSON_IsTrue(j);
}

static void p_int(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                  const char *path)
{
    long long v;
    if (cJSON_IsNull(j))
        *(int *)at(base, r->off) = -1; /* F_NULL rows have min >= 0 */
    else if (get_int(x, r, j, path, &v))
        *(int *)at(base, r->off) = (int)v;
}

static void p_size(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                   const char *path)
{
    long long v;
    if (get_int(x, r, j, path, &v))
        *(size_t *)at(base, r->off) = (size_t)v;
}

static void p_dbl(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                  const char *path)
{
    if (cJSON_IsNull(j))
        *(double *)at(base, r->off) = NAN;
    else if (check_num(x, r, j->valuedouble, path))
        *(double *)at(base, r->off) = j->valuedouble;
}

static bool fits(struct ctx *x, const char *s, size_t size, const char *path)
{
    if (strlen(s) < size)
        return true;
    fg_errlist_add(x->errs, FG_ETOOBIG, path, "longer than %zu characters", size - 1);
    return false;
}

static void p_str(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                  const char *path)
{
    const char *s = j->valuestring;
    if (!fits(x, s, r->size, path))
        return;
    if (r->fmt && !fmts[r->fmt].ok(s)) {
        fg_errlist_add(x->errs, FG_EINVAL, path, "\"%.64s\" is not %s", s,
                       fmts[r->fmt].what);
        return;
    }
    memcpy(at(base, r->off), s, strlen(s) + 1);
}

/* The index of a string among the row's names, or -1 after an error. */
static int get_name(struct ctx *x, const struct row *r, const char *s, const char *path)
{
    char list[128];
    int i = name_index(r->names, s);
    if (i < 0) {
        join_names(r->names, list, sizeof(list));
        fg_errlist_add(x->errs, FG_EINVAL, path, "\"%.64s\" is not one of %s", s, list);
    }
    return i;
}

static void p_enum(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                   const char *path)
{
    int i = get_name(x, r, j->valuestring, path);
    if (i >= 0)
        *(int *)at(base, r->off) = i;
}

static void p_estr(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                   const char *path)
{
    int i = get_name(x, r, j->valuestring, path);
    if (i >= 0)
        snprintf(at(base, r->off), r->size, "%s", r->names[i]);
}

static void p_hostport(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                       const char *path)
{
    if (fg_hostport_parse(j->valuestring, at(base, r->off)))
        fg_errlist_add(x->errs, FG_EINVAL, path, "\"%.64s\" is not a valid host:port",
                       j->valuestring);
}

static void p_hhmm(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                   const char *path)
{
    char a[8], b[8];
    int m;
    if (cJSON_IsNull(j)) {
        *(int *)at(base, r->off) = -1;
    } else if (fg_hhmm_parse(j->valuestring, &m)) {
        fg_errlist_add(x->errs, FG_EINVAL, path, "\"%.64s\" is not a valid time (HH:MM)",
                       j->valuestring);
    } else if (m < r->min || m > r->max) {
        fmt_hhmm((int)r->min, a);
        fmt_hhmm((int)r->max, b);
        fg_errlist_add(x->errs, FG_ERANGE, path, "%s not in [%s, %s]", j->valuestring, a,
                       b);
    } else {
        *(int *)at(base, r->off) = m;
    }
}

/* {"file": path}: the only key; the file is read now. */
static void secret_from_file(struct ctx *x, const cJSON *j, struct fg_secret *sec,
                             const char *path)
{
    char p[PATHBUF];
    const cJSON *f = NULL, *m;
    cJSON_ArrayForEach(m, j)
    {
        fg_json_pointer_key(p, sizeof(p), path, m->string ? m->string : "");
        if (!m->string || strcmp(m->string, "file") != 0)
            fg_errlist_add(x->errs, FG_EUNKNOWN, p, "unknown key");
        else if (f)
            fg_errlist_add(x->errs, FG_EINVAL, p, "duplicate key");
        else
            f = m;
    }
    fg_json_pointer_key(p, sizeof(p), path, "file");
    if (!f) {
        fg_errlist_add(x->errs, FG_EMISSING, p, "required key missing");
    } else if (!cJSON_IsString(f)) {
        fg_errlist_add(x->errs, FG_ETYPE, p, "expected string, got %s",
                       fg_json_type_name(f));
    } else if (!f->valuestring[0]) {
        fg_errlist_add(x->errs, FG_EINVAL, p, "empty file name");
    } else if (resolve(x->base_dir, f->valuestring, sec->file, sizeof(sec->file))) {
        sec->file[0] = '\0';
        fg_errlist_add(x->errs, FG_ETOOBIG, p, "longer than %zu characters",
                       sizeof(sec->file) - 1);
    } else {
        int e = read_secret(sec->file, &sec->value);
        if (e)
            fg_errlist_add(x->errs, e == ENOMEM ? FG_ENOMEM : FG_EIO, p, "\"%.200s\": %s",
                           sec->file, secret_errstr(e));
    }
}

static void p_secret(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                     const char *path)
{
    struct fg_secret *sec = at(base, r->off);
    secret_clear(sec);
    if (cJSON_IsObject(j)) {
        secret_from_file(x, j, sec, path);
    } else if (cJSON_IsString(j) && j->valuestring[0]) {
        sec->value = strdup(j->valuestring);
        if (!sec->value)
            fg_errlist_add(x->errs, FG_ENOMEM, path, "out of memory");
    }
}

/* A path that must name an existing regular file when not empty; rows with
 * names (scheduler.plugin) also take one of those built-in names. */
static void p_file(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                   const char *path)
{
    const char *s = j->valuestring;
    char *dst = at(base, r->off), list[64];
    struct stat st;
    if (r->names && (name_index(r->names, s) >= 0 || !strchr(s, '/'))) {
        if (name_index(r->names, s) < 0) {
            join_names(r->names, list, sizeof(list));
            fg_errlist_add(x->errs, FG_EINVAL, path,
                           "\"%.64s\" is neither a built-in (%s) nor a path", s, list);
            return;
        }
        snprintf(dst, r->size, "%s", s);
        return;
    }
    if (!*s) {
        dst[0] = '\0';
        return;
    }
    if (resolve(x->base_dir, s, dst, r->size)) {
        snprintf(dst, r->size, "%s", r->dstr);
        fg_errlist_add(x->errs, FG_ETOOBIG, path, "longer than %zu characters",
                       r->size - 1);
    } else if (stat(dst, &st)) {
        fg_errlist_add(x->errs, FG_EIO, path, "\"%.200s\": %s", dst, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        fg_errlist_add(x->errs, FG_EIO, path, "\"%.200s\": not a regular file", dst);
    }
}

/* An object handed on as text (a plugin's own settings): only its size is
 * checked here, its meaning is the plugin's business. */
static void p_json(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                   const char *path)
{
    char *t = cJSON_PrintUnformatted(j);
    if (!t) {
        fg_errlist_add(x->errs, FG_ENOMEM, path, "out of memory");
        return;
    }
    if (fits(x, t, r->size, path))
        memcpy(at(base, r->off), t, strlen(t) + 1);
    cJSON_free(t);
}

static void p_obj(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                  const char *path)
{
    if (r->flags & F_HAS)
        *(bool *)at(base, r->aux_off) = true;
    parse_object(x, r->child, j, at(base, r->off), path);
}

static void p_arr(struct ctx *x, const struct row *r, const cJSON *j, void *base,
                  const char *path)
{
    size_t n = (size_t)cJSON_GetArraySize(j), i = 0;
    char p[PATHBUF];
    char *elems = at(base, r->off);
    if (n > (size_t)r->max) {
        fg_errlist_add(x->errs, FG_ETOOBIG, path, "%zu items, at most %.0f", n, r->max);
        return;
    }
    if (!(r->flags & F_INLINE) && n) {
        elems = calloc(n, r->size);
        if (!elems) {
            fg_errlist_add(x->errs, FG_ENOMEM, path, "out of memory");
            return;
        }
        *(void **)at(base, r->off) = elems;
    }
    *(size_t *)at(base, r->aux_off) = n;
    free(x->bad[r->slot]);
    x->bad[r->slot] = n ? calloc(n, sizeof(bool)) : NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        size_t before = fg_errlist_count(x->errs);
        void *el = elems + i * r->size;
        path_index(p, sizeof(p), path, i);
        set_defaults(r->child, el);
        if (!cJSON_IsObject(e))
            fg_errlist_add(x->errs, FG_ETYPE, p, "expected object, got %s",
                           fg_json_type_name(e));
        else
            parse_object(x, r->child, e, el, p);
        if (x->bad[r->slot])
            x->bad[r->slot][i] = fg_errlist_count(x->errs) != before;
        i++;
    }
}

/* ---- emitting (to_json), per type ---- */

typedef cJSON *emit_fn(const struct row *, const void *, bool);
static cJSON *emit_object(const struct table *t, const void *base, bool redact);

static cJSON *e_bool(const struct row *r, const void *base, bool redact)
{
    (void)redact;
    return cJSON_CreateBool(*(const bool *)cat(base, r->off));
}

static cJSON *e_int(const struct row *r, const void *base, bool redact)
{
    int v = *(const int *)cat(base, r->off);
    (void)redact;
    if ((r->flags & F_NULL) && v < 0)
        return cJSON_CreateNull();
    return cJSON_CreateNumber(v);
}

static cJSON *e_size(const struct row *r, const void *base, bool redact)
{
    (void)redact;
    return cJSON_CreateNumber((double)*(const size_t *)cat(base, r->off));
}

static cJSON *e_dbl(const struct row *r, const void *base, bool redact)
{
    double v = *(const double *)cat(base, r->off);
    (void)redact;
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *e_str(const struct row *r, const void *base, bool redact)
{
    (void)redact;
    return cJSON_CreateString(cat(base, r->off));
}

static cJSON *e_json(const struct row *r, const void *base, bool redact)
{
    (void)redact;
    cJSON *j = cJSON_Parse(cat(base, r->off));
    return j ? j : cJSON_CreateObject();
}

static cJSON *e_enum(const struct row *r, const void *base, bool redact)
{
    int i = *(const int *)cat(base, r->off), n = 0;
    (void)redact;
    while (r->names[n])
        n++;
    return cJSON_CreateString(i >= 0 && i < n ? r->names[i] : "");
}

static cJSON *e_hostport(const struct row *r, const void *base, bool redact)
{
    char buf[FG_CFG_HOST_MAX + 16];
    (void)redact;
    fmt_hostport(cat(base, r->off), buf, sizeof(buf));
    return cJSON_CreateString(buf);
}

static cJSON *e_hhmm(const struct row *r, const void *base, bool redact)
{
    char buf[8];
    int m = *(const int *)cat(base, r->off);
    (void)redact;
    if (m < 0)
        return cJSON_CreateNull();
    fmt_hhmm(m, buf);
    return cJSON_CreateString(buf);
}

static cJSON *e_secret(const struct row *r, const void *base, bool redact)
{
    const struct fg_secret *s = cat(base, r->off);
    if (!s->value)
        return cJSON_CreateNull();
    if (!s->file[0])
        return cJSON_CreateString(redact ? REDACTED : s->value);
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "file", s->file)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *e_obj(const struct row *r, const void *base, bool redact)
{
    return emit_object(r->child, cat(base, r->off), redact);
}

static cJSON *e_arr(const struct row *r, const void *base, bool redact)
{
    const char *elems = (r->flags & F_INLINE) ? (const char *)cat(base, r->off)
                                              : *(char *const *)cat(base, r->off);
    size_t n = *(const size_t *)cat(base, r->aux_off);
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *o = emit_object(r->child, elems + i * r->size, redact);
        if (!o || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* ---- defaults, per type ---- */

typedef void dflt_fn(const struct row *, void *);

static void d_bool(const struct row *r, void *base)
{
    *(bool *)at(base, r->off) = r->dnum != 0;
}

static void d_int(const struct row *r, void *base)
{
    *(int *)at(base, r->off) = (int)r->dnum;
}

static void d_size(const struct row *r, void *base)
{
    *(size_t *)at(base, r->off) = (size_t)r->dnum;
}

static void d_dbl(const struct row *r, void *base)
{
    *(double *)at(base, r->off) = r->dnum;
}

static void d_str(const struct row *r, void *base)
{
    snprintf(at(base, r->off), r->size, "%s", r->dstr ? r->dstr : "");
}

static void d_enum(const struct row *r, void *base)
{
    int i = r->dstr ? name_index(r->names, r->dstr) : 0;
    *(int *)at(base, r->off) = i < 0 ? 0 : i;
}

static void d_hostport(const struct row *r, void *base)
{
    struct fg_hostport *hp = at(base, r->off);
    memset(hp, 0, sizeof(*hp));
    if (fg_hostport_parse(r->dstr, hp))
        abort(); /* a broken default in the table is a programmer error */
}

static void d_secret(const struct row *r, void *base)
{
    struct fg_secret *s = at(base, r->off);
    s->value = NULL;
    s->file[0] = '\0';
}

static void d_obj(const struct row *r, void *base)
{
    if (r->flags & F_HAS)
        *(bool *)at(base, r->aux_off) = false;
    set_defaults(r->child, at(base, r->off));
}

static void d_arr(const struct row *r, void *base)
{
    *(size_t *)at(base, r->aux_off) = 0;
    if (r->flags & F_INLINE)
        memset(at(base, r->off), 0, r->size * (size_t)r->max);
    else
        *(void **)at(base, r->off) = NULL;
}

/* ---- schema and reference, per type ---- */

struct gen {
    bool oom;
};

static cJSON *add(struct gen *g, cJSON *obj, const char *k, cJSON *item)
{
    if (!item || !obj || !cJSON_AddItemToObject(obj, k, item)) {
        cJSON_Delete(item);
        g->oom = true;
        return NULL;
    }
    return item;
}

static void add_str(struct gen *g, cJSON *o, const char *k, const char *v)
{
    add(g, o, k, cJSON_CreateString(v));
}

static void add_num(struct gen *g, cJSON *o, const char *k, double v)
{
    add(g, o, k, cJSON_CreateNumber(v));
}

static void add_names(struct gen *g, cJSON *o, const char *const *names, bool numeric)
{
    cJSON *a = add(g, o, "enum", cJSON_CreateArray());
    for (int i = 0; a && names[i]; i++) {
        cJSON *v = numeric ? cJSON_CreateNumber(strtod(names[i], NULL))
                           : cJSON_CreateString(names[i]);
        if (!v || !cJSON_AddItemToArray(a, v)) {
            cJSON_Delete(v);
            g->oom = true;
        }
    }
}

static void add_type(struct gen *g, cJSON *o, const char *type, bool nullable)
{
    if (!nullable) {
        add_str(g, o, "type", type);
        return;
    }
    const char *both[] = {type, "null"};
    add(g, o, "type", cJSON_CreateStringArray(both, 2));
}

typedef void schema_fn(struct gen *, const struct row *, cJSON *, const void *);
static cJSON *schema_object(struct gen *g, const struct table *t, const void *dbase);

static void s_bool(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    (void)dbase;
    (void)r;
    add_str(g, o, "type", "boolean");
}

static void s_num(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    (void)dbase;
    bool integer = r->type == T_INT || r->type == T_SIZE;
    add_type(g, o, integer ? "integer" : "number", r->flags & F_NULL);
    add_num(g, o, (r->flags & F_XMIN) ? "exclusiveMinimum" : "minimum", r->min);
    add_num(g, o, "maximum", r->max);
    if (r->names)
        add_names(g, o, r->names, true);
}

static void s_str(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    (void)dbase;
    add_str(g, o, "type", "string");
    add_num(g, o, "maxLength", (double)(r->size - 1));
    if (r->fmt)
        add_str(g, o, "pattern", fmts[r->fmt].pattern);
}

static void s_json(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    (void)dbase;
    (void)r;
    add_str(g, o, "type", "object");
}

static void s_enum(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    (void)dbase;
    add_str(g, o, "type", "string");
    add_names(g, o, r->names, false);
}

static void s_hostport(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    (void)dbase;
    (void)r;
    add_str(g, o, "type", "string");
    add_str(g, o, "pattern", "^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9._-]+):[0-9]{1,5}$");
}

static void s_hhmm(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    (void)dbase;
    add_type(g, o, "string", r->flags & F_NULL);
    add_str(g, o, "pattern",
            r->max >= 1440 ? "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
                           : "^([01][0-9]|2[0-3]):[0-5][0-9]$");
}

static void s_secret(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    (void)dbase;
    (void)r;
    cJSON *any = add(g, o, "anyOf", cJSON_CreateArray());
    cJSON *s = cJSON_CreateObject(), *f = cJSON_CreateObject(), *n = cJSON_CreateObject();
    if (!any || !s || !f || !n || !cJSON_AddItemToArray(any, s)) {
        g->oom = true;
        cJSON_Delete(s), cJSON_Delete(f), cJSON_Delete(n);
        return;
    }
    add_str(g, s, "type", "string");
    if (!cJSON_AddItemToArray(any, f)) {
        g->oom = true;
        cJSON_Delete(f), cJSON_Delete(n);
        return;
    }
    add_str(g, f, "type", "object");
    cJSON *props = add(g, f, "properties", cJSON_CreateObject());
    cJSON *file = add(g, props, "file", cJSON_CreateObject());
    add_str(g, file, "type", "string");
    add_num(g, file, "minLength", 1);
    const char *req[] = {"file"};
    add(g, f, "required", cJSON_CreateStringArray(req, 1));
    add(g, f, "additionalProperties", cJSON_CreateFalse());
    if (!cJSON_AddItemToArray(any, n)) {
        g->oom = true;
        cJSON_Delete(n);
        return;
    }
    add_str(g, n, "type", "null");
}

static void s_file(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    (void)dbase;
    add_str(g, o, "type", "string");
    add_num(g, o, "maxLength", (double)(r->size - 1));
}

static void s_obj(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    cJSON *c = schema_object(g, r->child, cat(dbase, r->off));
    for (cJSON *it = c ? c->child : NULL; it;) {
        cJSON *next = it->next;
        cJSON_AddItemToObject(o, it->string, cJSON_DetachItemViaPointer(c, it));
        it = next;
    }
    cJSON_Delete(c);
}

static void s_arr(struct gen *g, const struct row *r, cJSON *o, const void *dbase)
{
    void *elem = calloc(1, r->size);
    (void)dbase;
    add_str(g, o, "type", "array");
    add_num(g, o, "maxItems", r->max);
    if (!elem) {
        g->oom = true;
        return;
    }
    set_defaults(r->child, elem);
    add(g, o, "items", schema_object(g, r->child, elem));
    free(elem);
}

/* The "range / values" column of the reference. */
typedef void range_fn(const struct row *, char *, size_t);

static void r_none(const struct row *r, char *buf, size_t n)
{
    (void)r;
    snprintf(buf, n, "%s", "");
}

static void r_num(const struct row *r, char *buf, size_t n)
{
    char a[32], b[32], list[64];
    if (r->names) {
        join_names(r->names, list, sizeof(list));
        snprintf(buf, n, "%s", list);
        return;
    }
    snprintf(buf, n, "%c%s, %s]%s", (r->flags & F_XMIN) ? '(' : '[',
             fmtnum(r->min, a, sizeof(a)), fmtnum(r->max, b, sizeof(b)),
             (r->flags & F_NULL) ? " or null" : "");
}

static void r_hostport(const struct row *r, char *buf, size_t n)
{
    (void)r;
    snprintf(buf, n, "host:port or [IPv6]:port, port 1..65535");
}

static void r_str(const struct row *r, char *buf, size_t n)
{
    if (r->fmt)
        snprintf(buf, n, "%s, at most %zu characters", fmts[r->fmt].what, r->size - 1);
    else
        snprintf(buf, n, "at most %zu characters", r->size - 1);
}

static void r_json(const struct row *r, char *buf, size_t n)
{
    snprintf(buf, n, "any object, at most %zu characters as compact JSON", r->size - 1);
}

static void r_enum(const struct row *r, char *buf, size_t n)
{
    join_names(r->names, buf, n);
}

static void r_hhmm(const struct row *r, char *buf, size_t n)
{
    char a[8], b[8];
    fmt_hhmm((int)r->min, a);
    fmt_hhmm((int)r->max, b);
    snprintf(buf, n, "%s .. %s%s", a, b, (r->flags & F_NULL) ? " or null" : "");
}

static void r_file(const struct row *r, char *buf, size_t n)
{
    char list[64];
    if (r->names) {
        join_names(r->names, list, sizeof(list));
        snprintf(buf, n, "%s, or a path to an existing file", list);
    } else {
        snprintf(buf, n, "empty, or a path to an existing file");
    }
}

static void r_secret(const struct row *r, char *buf, size_t n)
{
    (void)r;
    snprintf(buf, n, "string, {\"file\": path} (at most 4096 bytes) or null");
}

static void r_arr(const struct row *r, char *buf, size_t n)
{
    snprintf(buf, n, "at most %.0f items", r->max);
}

/* ---- the type table ---- */

static const struct tyops {
    const char *name;   /* type column of the reference */
    const char *expect; /* "expected <expect>, got ..." */
    int accept;         /* cJSON types accepted (null added by F_NULL) */
    parse_fn *parse;
    emit_fn *emit;
    dflt_fn *dflt;
    schema_fn *schema;
    range_fn *range;
} ops[] = {
    [T_BOOL] = {"boolean", "boolean", cJSON_True | cJSON_False, p_bool, e_bool, d_bool,
                s_bool, r_none},
    [T_INT] = {"integer", "integer", cJSON_Number, p_int, e_int, d_int, s_num, r_num},
    [T_SIZE] = {"integer", "integer", cJSON_Number, p_size, e_size, d_size, s_num, r_num},
    [T_DBL] = {"number", "number", cJSON_Number, p_dbl, e_dbl, d_dbl, s_num, r_num},
    [T_STR] = {"string", "string", cJSON_String, p_str, e_str, d_str, s_str, r_str},
    [T_ENUM] = {"enum", "string", cJSON_String, p_enum, e_enum, d_enum, s_enum, r_enum},
    [T_ESTR] = {"enum", "string", cJSON_String, p_estr, e_str, d_str, s_enum, r_enum},
    [T_HOSTPORT] = {"host:port", "string", cJSON_String, p_hostport, e_hostport,
                    d_hostport, s_hostport, r_hostport},
    [T_HHMM] = {"HH:MM", "string", cJSON_String, p_hhmm, e_hhmm, d_int, s_hhmm, r_hhmm},
    [T_SECRET] = {"secret", "string or {\"file\": path}", cJSON_String | cJSON_Object,
                  p_secret, e_secret, d_secret, s_secret, r_secret},
    [T_FILE] = {"file", "string", cJSON_String, p_file, e_str, d_str, s_file, r_file},
    [T_OBJ] = {"object", "object", cJSON_Object, p_obj, e_obj, d_obj, s_obj, r_none},
    [T_ARR] = {"array of objects", "array", cJSON_Array, p_arr, e_arr, d_arr, s_arr,
               r_arr},
    [T_JSON] = {"object", "object", cJSON_Object, p_json, e_json, d_str, s_json, r_json},
};

/* ---- walking tables ---- */

static void set_defaults(const struct table *t, void *base)
{
    for (size_t i = 0; i < t->n; i++)
        ops[t->rows[i].type].dflt(&t->rows[i], base);
}

/* The asset kind of an object being parsed, -1 if absent or invalid. */
static int discr_of_json(const struct table *t, const cJSON *j)
{
    if (!t->discr)
        return -1;
    const struct row *r = find_row(t, t->discr, NULL);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, t->discr);
    return cJSON_IsString(k) ? name_index(r->names, k->valuestring) : -1;
}

static int discr_of_struct(const struct table *t, const void *base)
{
    return t->discr ? *(const int *)cat(base, find_row(t, t->discr, NULL)->off) : -1;
}

static bool applies(const struct row *r, int kind)
{
    return !r->kinds || kind < 0 || (r->kinds & (1u << kind));
}

static bool required(const struct row *r, int kind)
{
    return r->req == REQ_ALL || (kind >= 0 && (r->req & (1u << kind)));
}

static void parse_value(struct ctx *x, const struct row *r, const cJSON *m, void *base,
                        const char *path)
{
    int accept = ops[r->type].accept | ((r->flags & F_NULL) ? cJSON_NULL : 0);
    if (!(m->type & accept))
        fg_errlist_add(x->errs, FG_ETYPE, path, "expected %s%s, got %s",
                       ops[r->type].expect, (r->flags & F_NULL) ? " or null" : "",
                       fg_json_type_name(m));
    else
        ops[r->type].parse(x, r, m, base, path);
}

static void parse_object(struct ctx *x, const struct table *t, const cJSON *j, void *base,
                         const char *path)
{
    uint64_t seen = 0;
    size_t idx;
    char p[PATHBUF];
    int kind = discr_of_json(t, j);
    const cJSON *m;
    cJSON_ArrayForEach(m, j)
    {
        const char *key = m->string ? m->string : "";
        const struct row *r = find_row(t, key, &idx);
        fg_json_pointer_key(p, sizeof(p), path, key);
        if (!r)
            unknown_key(x, t, key, p);
        else if (seen & (1ull << idx))
            fg_errlist_add(x->errs, FG_EINVAL, p, "duplicate key");
        else if (!applies(r, kind))
            fg_errlist_add(x->errs, FG_EUNKNOWN, p, "not applicable to %s %s", t->discr,
                           kind_names[kind]);
        else
            parse_value(x, r, m, base, p);
        if (r)
            seen |= 1ull << idx;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (seen & (1ull << i) || !required(&t->rows[i], kind))
            continue;
        fg_json_pointer_key(p, sizeof(p), path, t->rows[i].key);
        fg_errlist_add(x->errs, FG_EMISSING, p, "required key missing");
    }
}

static cJSON *emit_object(const struct table *t, const void *base, bool redact)
{
    int kind = discr_of_struct(t, base);
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < t->n; i++) {
        const struct row *r = &t->rows[i];
        if (!applies(r, kind) ||
            ((r->flags & F_HAS) && !*(const bool *)cat(base, r->aux_off)))
            continue;
        cJSON *v = ops[r->type].emit(r, base, redact);
        if (!v || !cJSON_AddItemToObject(o, r->key, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* ---- cross-field checks, after parsing ---- */

typedef void check_fn(struct ctx *, struct fg_config *);

static void check_isp(struct ctx *x, struct fg_config *c)
{
    if (3600 % c->site.isp_s)
        fg_errlist_add(x->errs, FG_EINVAL, "/site/isp_s", "%d does not divide 3600",
                       c->site.isp_s);
}

static void check_tariff(struct ctx *x, struct fg_config *c)
{
    char p[PATHBUF], a[8];
    for (size_t i = 0; i < c->site.n_tariff; i++) {
        const struct fg_tariff_period *t = &c->site.tariff[i];
        if (!ok_elem(x, SLOT_TARIFF, i))
            continue;
        path_index(p, sizeof(p), "/site/tariff", i);
        strcat(p, "/from");
        if (i == 0 && t->start_min != 0)
            fg_errlist_add(x->errs, FG_EINVAL, p, "the first period must start at 00:00");
        if (i > 0 && ok_elem(x, SLOT_TARIFF, i - 1) && t->start_min <= t[-1].start_min) {
            fmt_hhmm(t[-1].start_min, a);
            fg_errlist_add(x->errs, FG_EINVAL, p, "not after the previous period (%s)",
                           a);
        }
    }
}

static void check_asset(struct ctx *x, const struct fg_cfg_asset *a, size_t i)
{
    char p[PATHBUF];
    path_index(p, sizeof(p), "/site/assets", i);
    size_t len = strlen(p);
    if (a->kind == FG_ASSET_BATTERY && a->max_discharge_w <= 0) {
        snprintf(p + len, sizeof(p) - len, "/max_discharge_w");
        fg_errlist_add(x->errs, FG_ERANGE, p, "must be > 0 for a battery");
    }
    if (a->kind == FG_ASSET_BATTERY && a->soc_min >= a->soc_max) {
        snprintf(p + len, sizeof(p) - len, "/soc_max");
        fg_errlist_add(x->errs, FG_ERANGE, p, "%g is not above soc_min %g", a->soc_max,
                       a->soc_min);
    }
    if (a->kind == FG_ASSET_EVSE && a->min_current_a > a->max_current_a) {
        snprintf(p + len, sizeof(p) - len, "/min_current_a");
        fg_errlist_add(x->errs, FG_ERANGE, p, "%g is above max_current_a %g",
                       a->min_current_a, a->max_current_a);
    }
}

/* Ids must be unique; the error is at the later duplicate. O(n^2) over at
 * most FG_MODEL_MAX_ASSETS short strings, once per load. */
static void check_unique(struct ctx *x, enum slot s, const char *what, const char *base,
                         size_t n, size_t stride, const char *arr_path)
{
    char p[PATHBUF];
    for (size_t i = 1; i < n; i++) {
        const char *id = base + i * stride;
        for (size_t k = 0; k < i && ok_elem(x, s, i); k++) {
            if (!ok_elem(x, s, k) || strcmp(id, base + k * stride) != 0)
                continue;
            path_index(p, sizeof(p), arr_path, i);
            strcat(p, "/id");
            fg_errlist_add(x->errs, FG_EEXISTS, p, "duplicate %s id \"%s\" (also %s/%zu)",
                           what, id, arr_path, k);
            break;
        }
    }
}

static void check_assets(struct ctx *x, struct fg_config *c)
{
    for (size_t i = 0; i < c->site.n_assets; i++)
        if (ok_elem(x, SLOT_ASSETS, i))
            check_asset(x, &c->site.assets[i], i);
    check_unique(x, SLOT_ASSETS, "asset", c->site.assets ? c->site.assets[0].id : NULL,
                 c->site.n_assets, sizeof(struct fg_cfg_asset), "/site/assets");
}

static void check_signals(struct ctx *x, struct fg_config *c)
{
    char p[PATHBUF];
    for (size_t i = 0; i < c->site.n_signals; i++) {
        const struct fg_cfg_signal *s = &c->site.signals[i];
        if (!ok_elem(x, SLOT_SIGNALS, i) || s->from_min != s->until_min)
            continue;
        path_index(p, sizeof(p), "/site/signals", i);
        strcat(p, "/until");
        fg_errlist_add(x->errs, FG_EINVAL, p, "equals from");
    }
    check_unique(x, SLOT_SIGNALS, "signal",
                 c->site.signals ? c->site.signals[0].id : NULL, c->site.n_signals,
                 sizeof(struct fg_cfg_signal), "/site/signals");
}

/* An EVSE's OCPP station defaults to its asset id; two assets cannot claim
 * the same EVSE of the same station. */
static void check_ocpp(struct ctx *x, struct fg_config *c)
{
    if (c->ocpp.enabled && c->ocpp.listen.port == c->ocpp.tls_listen.port)
        fg_errlist_add(x->errs, FG_EINVAL, "/ocpp/tls_listen",
                       "port %u is also the port of /ocpp/listen",
                       c->ocpp.tls_listen.port);
    for (size_t i = 0; i < c->site.n_assets; i++) {
        struct fg_cfg_asset *a = &c->site.assets[i];
        if (a->kind != FG_ASSET_EVSE)
            continue;
        if (!a->station[0])
            memcpy(a->station, a->id, sizeof(a->station));
        for (size_t j = 0; j < i; j++) {
            const struct fg_cfg_asset *b = &c->site.assets[j];
            if (b->kind == FG_ASSET_EVSE && !strcmp(a->adapter, "ocpp") &&
                !strcmp(b->adapter, "ocpp") && !strcmp(a->station, b->station) &&
                a->evse_id == b->evse_id) {
                char p[64];
                snprintf(p, sizeof(p), "/site/assets/%zu/evse_id", i);
                fg_errlist_add(x->errs, FG_EEXISTS, p,
                               "EVSE %d of station \"%s\" is already asset \"%s\"",
                               a->evse_id, a->station, b->id);
            }
        }
    }
}

/* idTokens are case-insensitive (OCPP 2.0.1 C.1): "04a2" and "04A2" are one.
 * Sorted, so a list of 100,000 tokens is checked in n log n. */
struct tok_ref {
    const char *id;
    size_t i;
};

static int cmp_tok_ref(const void *a, const void *b)
{
    const struct tok_ref *x = a, *y = b;
    int c = strcasecmp(x->id, y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static void check_id_tokens(struct ctx *x, struct fg_config *c)
{
    size_t n = 0;
    struct tok_ref *v =
        c->ocpp.n_id_tokens ? calloc(c->ocpp.n_id_tokens, sizeof(*v)) : NULL;
    if (!v)
        return;
    for (size_t i = 0; i < c->ocpp.n_id_tokens; i++)
        if (ok_elem(x, SLOT_ID_TOKENS, i))
            v[n++] = (struct tok_ref){c->ocpp.id_tokens[i].id, i};
    qsort(v, n, sizeof(*v), cmp_tok_ref);
    char p[PATHBUF];
    for (size_t k = 1; k < n; k++) {
        if (strcasecmp(v[k].id, v[k - 1].id))
            continue;
        path_index(p, sizeof(p), "/ocpp/id_tokens", v[k].i);
        strcat(p, "/id");
        fg_errlist_add(x->errs, FG_EEXISTS, p,
                       "duplicate id token \"%s\" (also /ocpp/id_tokens/%zu)", v[k].id,
                       v[k - 1].i);
    }
    free(v);
}

/* ---- OCPP security ---- */

static const struct fg_cfg_ocpp_station *station_entry(const struct fg_config *c,
                                                       const char *id)
{
    for (size_t i = 0; i < c->ocpp.n_stations; i++)
        if (!strcmp(c->ocpp.stations[i].id, id))
            return &c->ocpp.stations[i];
    return NULL;
}

int fg_config_ocpp_profile(const struct fg_config *c, const char *station,
                           const struct fg_cfg_ocpp_station **entry)
{
    const struct fg_cfg_ocpp_station *e = station_entry(c, station);
    if (entry)
        *entry = e;
    return e && e->security_profile >= 0 ? e->security_profile : c->ocpp.security_profile;
}

static bool ocpp_station_named(const struct fg_config *c, const char *id, size_t before)
{
    for (size_t i = 0; i < before && i < c->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &c->site.assets[i];
        if (a->kind == FG_ASSET_EVSE && !strcmp(a->adapter, "ocpp") &&
            !strcmp(a->station, id))
            return true;
    }
    return false;
}

/* A decimal number in [lo, hi] followed by `next` (a string it must start). */
static bool hash_param(const char **s, unsigned long lo, unsigned long hi,
                       const char *next)
{
    unsigned long v = 0;
    const char *p = *s;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > hi)
            return false;
    }
    if (v < lo || strncmp(p, next, strlen(next)))
        return false;
    *s = p + strlen(next);
    return true;
}

/* Why these bounds: m (KiB) and t decide how much memory and time one
 * verification takes when a station connects; a hash asking for more than
 * 1 GiB or 32 passes would let a config entry stall or exhaust the gateway.
 * p = 1 is what libsodium writes. */
bool fg_config_argon2id_ok(const char *s)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char pre[] = "$argon2id$v=19$m=";
    if (strncmp(s, pre, sizeof(pre) - 1))
        return false;
    s += sizeof(pre) - 1;
    if (!hash_param(&s, 8, 1048576, ",t=") || !hash_param(&s, 1, 32, ",p=") ||
        !hash_param(&s, 1, 1, "$"))
        return false;
    size_t n = strspn(s, b64); /* salt: 8..48 bytes */
    if (n < 11 || n > 64 || s[n] != '$')
        return false;
    s += n + 1;
    n = strspn(s, b64); /* tag: 16..96 bytes */
    return n >= 22 && n <= 128 && s[n] == '\0';
}

/* What a security profile needs from the TLS settings, reported at path. */
static void check_profile_tls(struct ctx *x, const struct fg_config *c, int profile,
                              const char *path)
{
    if (profile >= 2 && !c->ocpp.tls_cert[0])
        fg_errlist_add(x->errs, FG_EMISSING, path,
                       "security profile %d needs TLS: set /ocpp/tls_cert and "
                       "/ocpp/tls_key",
                       profile);
    if (profile == 3 && !c->ocpp.tls_ca[0])
        fg_errlist_add(x->errs, FG_EMISSING, path,
                       "security profile 3 needs /ocpp/tls_ca, the CA that issues "
                       "station certificates");
}

static void check_ocpp_station(struct ctx *x, const struct fg_config *c, size_t i)
{
    const struct fg_cfg_ocpp_station *e = &c->ocpp.stations[i];
    int prof = e->security_profile >= 0 ? e->security_profile : c->ocpp.security_profile;
    char p[PATHBUF];
    path_index(p, sizeof(p), "/ocpp/stations", i);
    size_t len = strlen(p);
    if (e->security_profile >= 0) {
        snprintf(p + len, sizeof(p) - len, "/security_profile");
        check_profile_tls(x, c, prof, p);
    }
    snprintf(p + len, sizeof(p) - len, "/password_hash");
    const char *h = e->password_hash.value;
    if (!h && (prof == 1 || prof == 2))
        fg_errlist_add(x->errs, FG_EMISSING, p,
                       "required for security profile %d (make one with flexgw "
                       "--hash-password)",
                       prof);
    else if (h && !fg_config_argon2id_ok(h))
        fg_errlist_add(x->errs, FG_EINVAL, p,
                       "not an argon2id hash as flexgw --hash-password writes "
                       "($argon2id$v=19$m=...,t=...,p=1$salt$hash, m <= 1048576, "
                       "t <= 32)");
    else if (h && prof == 0)
        fg_errlist_add(x->errs, FG_EINVAL, p,
                       "security profile 0 would ignore it: set security_profile to 1 "
                       "or 2");
    if (!c->ocpp.allow_unknown_stations &&
        !ocpp_station_named(c, e->id, c->site.n_assets)) {
        snprintf(p + len, sizeof(p) - len, "/id");
        fg_errlist_add(x->errs, FG_EINVAL, p,
                       "no evse asset with adapter \"ocpp\" names station \"%s\" "
                       "(and allow_unknown_stations is off)",
                       e->id);
    }
}

/* Why so strict: a mistake here would let a station connect with less
 * security than intended (a typo in a station id leaves the real station on
 * the site default; a hash with profile 0 is silently unused), so each such
 * mistake is an error, not a warning. */
static void check_ocpp_security(struct ctx *x, struct fg_config *c)
{
    const int def = c->ocpp.security_profile;
    if (!c->ocpp.tls_cert[0] && c->ocpp.tls_key[0])
        fg_errlist_add(x->errs, FG_EMISSING, "/ocpp/tls_cert",
                       "required when /ocpp/tls_key is set");
    if (c->ocpp.tls_cert[0] && !c->ocpp.tls_key[0])
        fg_errlist_add(x->errs, FG_EMISSING, "/ocpp/tls_key",
                       "required when /ocpp/tls_cert is set");
    if (c->ocpp.tls_ca[0] && !c->ocpp.tls_cert[0])
        fg_errlist_add(x->errs, FG_EMISSING, "/ocpp/tls_cert",
                       "required when /ocpp/tls_ca is set (client certificates come "
                       "over wss://)");
    check_profile_tls(x, c, def, "/ocpp/security_profile");
    if (c->ocpp.allow_unknown_stations && (def == 1 || def == 2))
        fg_errlist_add(x->errs, FG_EINVAL, "/ocpp/allow_unknown_stations",
                       "unknown stations have no password_hash, so security profile "
                       "%d (/ocpp/security_profile) would refuse them all: use 0 or 3",
                       def);
    for (size_t i = 0; i < c->ocpp.n_stations; i++)
        if (ok_elem(x, SLOT_STATIONS, i))
            check_ocpp_station(x, c, i);
    check_unique(x, SLOT_STATIONS, "station",
                 c->ocpp.stations ? c->ocpp.stations[0].id : NULL, c->ocpp.n_stations,
                 sizeof(struct fg_cfg_ocpp_station), "/ocpp/stations");
    if (def != 1 && def != 2)
        return;
    for (size_t i = 0; i < c->site.n_assets; i++) {
        const struct fg_cfg_asset *a = &c->site.assets[i];
        if (a->kind != FG_ASSET_EVSE || strcmp(a->adapter, "ocpp") ||
            station_entry(c, a->station) || ocpp_station_named(c, a->station, i))
            continue;
        fg_errlist_add(x->errs, FG_EMISSING, "/ocpp/security_profile",
                       "security profile %d needs a password: station \"%s\" has no "
                       "password_hash in /ocpp/stations",
                       def, a->station);
    }
}

static void check_web_tls(struct ctx *x, struct fg_config *c)
{
    if (!c->web.tls_cert[0] && c->web.tls_key[0])
        fg_errlist_add(x->errs, FG_EMISSING, "/web/tls_cert",
                       "required when /web/tls_key is set");
    if (c->web.tls_cert[0] && !c->web.tls_key[0])
        fg_errlist_add(x->errs, FG_EMISSING, "/web/tls_key",
                       "required when /web/tls_cert is set");
}

static void check_openadr(struct ctx *x, struct fg_config *c)
{
    if (c->openadr.enabled && !c->openadr.vtn_url[0])
        fg_errlist_add(x->errs, FG_EMISSING, "/openadr/vtn_url",
                       "required when openadr is enabled");
    for (size_t i = 0; i < c->openadr.n_unavailable; i++) {
        struct fg_cfg_oadr_window *w = &c->openadr.unavailable[i];
        struct fg_error e = {0};
        char path[64];
        snprintf(path, sizeof(path), "/openadr/unavailable/%zu/from", i);
        if (fg_openadr_datetime_parse(w->from, &w->from_t, &e)) {
            fg_errlist_add(x->errs, FG_ERANGE, path, "%s", e.msg);
            continue;
        }
        snprintf(path, sizeof(path), "/openadr/unavailable/%zu/to", i);
        if (fg_openadr_datetime_parse(w->to, &w->to_t, &e))
            fg_errlist_add(x->errs, FG_ERANGE, path, "%s", e.msg);
        else if (w->to_t <= w->from_t)
            fg_errlist_add(x->errs, FG_ERANGE, path, "%s is not after from", w->to);
    }
}

static const struct fg_cfg_modbus_bus *find_bus(const struct fg_config *c, const char *id)
{
    for (size_t i = 0; i < c->modbus.n_buses; i++)
        if (!strcmp(c->modbus.buses[i].id, id))
            return &c->modbus.buses[i];
    return NULL;
}

int fg_config_load_map(const char *file, struct fg_regmap *m, const char *path,
                       struct fg_errlist *errs)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return fg_errlist_add(errs, FG_EIO, path, "\"%.200s\": %s", file,
                              strerror(errno));
    char *text = malloc(MAP_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, MAP_FILE_MAX + 1, f) : 0;
    int rc = !text ? FG_ENOMEM : ferror(f) ? FG_EIO : n > MAP_FILE_MAX ? FG_ETOOBIG : 0;
    fclose(f);
    if (rc) {
        free(text);
        return fg_errlist_add(errs, rc == FG_ENOMEM ? FG_ENOMEM : FG_EIO, path,
                              "\"%.200s\": %s", file,
                              rc == FG_ETOOBIG ? "larger than 1 MiB"
                              : rc == FG_EIO   ? "read error"
                                               : "out of memory");
    }
    struct fg_errlist mine;
    fg_errlist_init(&mine);
    rc = fg_regmap_load(m, text, n, &mine);
    free(text);
    for (size_t i = 0; i < mine.n; i++)
        fg_errlist_add(errs, mine.v[i].code, path, "%.200s: %s: %s", file,
                       mine.v[i].path[0] ? mine.v[i].path : "/", mine.v[i].msg);
    if (mine.dropped)
        fg_errlist_add(errs, rc, path, "%.200s: %zu more errors", file, mine.dropped);
    fg_errlist_clear(&mine);
    return rc;
}

#ifndef FG_INSTALL_DEVICES_DIR
#define FG_INSTALL_DEVICES_DIR "/usr/share/flexgw/devices"
#endif
#ifndef FG_SOURCE_DEVICES_DIR
#define FG_SOURCE_DEVICES_DIR ""
#endif

/* Where a map file named in the config is: an absolute path as it is; a
 * relative one in the config's directory, then among the installed maps,
 * then in the source tree (a gateway run from its build directory). */
static int find_map(const char *base_dir, const char *name, char *out, size_t n)
{
    const char *const dirs[] = {base_dir ? base_dir : ".", FG_INSTALL_DEVICES_DIR,
                                FG_SOURCE_DEVICES_DIR};
    struct stat st;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (!dirs[i][0] && name[0] != '/')
            continue;
        if (resolve(dirs[i], name, out, n))
            return FG_ETOOBIG;
        if (!stat(out, &st) && S_ISREG(st.st_mode))
            return 0;
        if (name[0] == '/')
            break;
    }
    return FG_ENOTFOUND;
}

static const int regmap_kind_of[] = {
    [FG_ASSET_BATTERY] = FG_REGMAP_BATTERY, [FG_ASSET_PV] = FG_REGMAP_PV};

/* profile map: the file is found, loads, and describes this kind of device
 * (kind: enum fg_regmap_kind). The errors inside it come with their place. */
static void check_map(struct ctx *x, struct fg_cfg_modbus_dev *d, int kind,
                      const char *path)
{
    char p[PATHBUF];
    snprintf(p, sizeof(p), "%s/map", path);
    d->map_path[0] = '\0';
    if (d->profile != FG_MB_PROFILE_MAP) {
        if (d->map[0])
            fg_errlist_add(x->errs, FG_EINVAL, p, "only for profile \"map\"");
        return;
    }
    if (!d->map[0]) {
        fg_errlist_add(x->errs, FG_EMISSING, p,
                       "required key missing (profile is map): the register-map file");
        return;
    }
    if (d->base_address >= 0) {
        snprintf(p, sizeof(p), "%s/base_address", path);
        fg_errlist_add(x->errs, FG_EINVAL, p, "only for profile \"sunspec\"");
        snprintf(p, sizeof(p), "%s/map", path);
    }
    char file[FG_CFG_PATH_MAX];
    int rc = find_map(x->base_dir, d->map, file, sizeof(file));
    if (rc) {
        fg_errlist_add(x->errs, rc, p,
                       rc == FG_ETOOBIG ? "\"%.64s\": path too long"
                                        : "\"%.64s\": no such file (looked in the "
                                          "config's directory, " FG_INSTALL_DEVICES_DIR
                                          " and the source tree's conf/devices)",
                       d->map);
        return;
    }
    struct fg_regmap m = {0};
    if (!fg_config_load_map(file, &m, p, x->errs)) {
        if (m.kind != kind)
            fg_errlist_add(x->errs, FG_EINVAL, p,
                           "%.200s: /kind: a %s map, the device is a %s", file,
                           fg_regmap_kind_name(m.kind), fg_regmap_kind_name(kind));
        else
            snprintf(d->map_path, sizeof(d->map_path), "%s", file);
    }
    fg_regmap_clear(&m);
}

/* A device's bus must exist; serial buses only know unit ids 1..247. */
static void check_modbus_dev(struct ctx *x, const struct fg_config *c,
                             struct fg_cfg_modbus_dev *d, int kind, const char *path)
{
    char p[PATHBUF];
    const struct fg_cfg_modbus_bus *b = find_bus(c, d->bus);
    check_map(x, d, kind, path);
    snprintf(p, sizeof(p), "%s/bus", path);
    if (!b) {
        fg_errlist_add(x->errs, FG_ENOTFOUND, p, "no bus \"%s\" in /modbus/buses",
                       d->bus);
        return;
    }
    snprintf(p, sizeof(p), "%s/unit_id", path);
    if (b->has_rtu && (d->unit_id < 1 || d->unit_id > 247))
        fg_errlist_add(x->errs, FG_ERANGE, p, "%d not in [1, 247] (bus \"%s\" is serial)",
                       d->unit_id, b->id);
}

static void check_modbus_asset(struct ctx *x, struct fg_config *c, size_t i)
{
    struct fg_cfg_asset *a = &c->site.assets[i];
    bool mb = !strcmp(a->adapter, "modbus");
    char p[PATHBUF];
    path_index(p, sizeof(p), "/site/assets", i);
    size_t len = strlen(p);
    if (mb && a->kind != FG_ASSET_BATTERY && a->kind != FG_ASSET_PV) {
        snprintf(p + len, sizeof(p) - len, "/adapter");
        fg_errlist_add(x->errs, FG_EINVAL, p,
                       "the modbus adapter drives battery and pv "
                       "assets, not %s",
                       kind_names[a->kind]);
    } else if (mb && !a->has_modbus) {
        snprintf(p + len, sizeof(p) - len, "/modbus");
        fg_errlist_add(x->errs, FG_EMISSING, p,
                       "required key missing (adapter is modbus)");
    } else if (!mb && a->has_modbus) {
        snprintf(p + len, sizeof(p) - len, "/modbus");
        fg_errlist_add(x->errs, FG_EINVAL, p, "only for adapter \"modbus\", not \"%s\"",
                       a->adapter);
    } else if (mb) {
        snprintf(p + len, sizeof(p) - len, "/modbus");
        check_modbus_dev(x, c, &a->modbus, regmap_kind_of[a->kind], p);
    }
}

/* Each bus is either Modbus/TCP or RTU; devices name an existing bus. */
static void check_modbus(struct ctx *x, struct fg_config *c)
{
    char p[PATHBUF];
    for (size_t i = 0; i < c->modbus.n_buses; i++) {
        struct fg_cfg_modbus_bus *b = &c->modbus.buses[i];
        if (!ok_elem(x, SLOT_BUSES, i))
            continue;
        path_index(p, sizeof(p), "/modbus/buses", i);
        if (!b->tcp[0] == !b->has_rtu) {
            fg_errlist_add(x->errs, FG_EINVAL, p, "give either tcp or rtu%s",
                           b->has_rtu ? ", not both" : "");
            continue;
        }
        strcat(p, "/tcp");
        if (b->tcp[0] && fg_hostport_parse(b->tcp, &b->tcp_addr))
            fg_errlist_add(x->errs, FG_EINVAL, p, "\"%.64s\" is not a valid host:port",
                           b->tcp);
    }
    check_unique(x, SLOT_BUSES, "bus", c->modbus.buses ? c->modbus.buses[0].id : NULL,
                 c->modbus.n_buses, sizeof(struct fg_cfg_modbus_bus), "/modbus/buses");
    for (size_t i = 0; i < c->site.n_assets; i++)
        if (ok_elem(x, SLOT_ASSETS, i))
            check_modbus_asset(x, c, i);
    if (c->modbus.has_site_meter)
        check_modbus_dev(x, c, &c->modbus.site_meter, FG_REGMAP_METER,
                         "/modbus/site_meter");
}

/* The parameter sets, for messages: "a, b, c". */
static void age_set_names(char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < fg_age_params_count() && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "",
                                fg_age_params_name(fg_age_params_at(i)));
}

/* Resolve an ageing object's parameter set: the named one, else the default
 * of `chem`. `explicit_obj`: the object was written, so a chemistry without a
 * default set needs a model; otherwise such a battery is just not tracked. */
static void resolve_ageing(struct ctx *x, struct fg_cfg_ageing *g, const char *chem,
                           bool explicit_obj, const char *path)
{
    char p[PATHBUF], names[512];
    snprintf(p, sizeof(p), "%s/model", path);
    g->params = NULL;
    if (g->model[0]) {
        g->params = fg_age_params_find(g->model);
        if (!g->params) {
            age_set_names(names, sizeof(names));
            fg_errlist_add(x->errs, FG_EINVAL, p, "\"%.64s\" is not an ageing model (%s)",
                           g->model, names);
        }
        return;
    }
    g->params = fg_age_params_for_chemistry(chem);
    if (!g->params && explicit_obj) {
        age_set_names(names, sizeof(names));
        fg_errlist_add(x->errs, FG_EMISSING, p,
                       "required: chemistry \"%s\" has no default ageing model (%s)",
                       chem, names);
    }
}

static void check_ageing(struct ctx *x, struct fg_config *c)
{
    char p[PATHBUF];
    for (size_t i = 0; i < c->site.n_assets; i++) {
        struct fg_cfg_asset *a = &c->site.assets[i];
        a->ageing.params = NULL;
        if (a->kind != FG_ASSET_BATTERY || !ok_elem(x, SLOT_ASSETS, i))
            continue;
        path_index(p, sizeof(p), "/site/assets", i);
        strcat(p, "/ageing");
        resolve_ageing(x, &a->ageing, a->chemistry, a->has_ageing, p);
    }
    resolve_ageing(x, &c->site.ev_ageing, "NMC", true, "/site/ev_ageing");
}

static check_fn *const checks[] = {check_isp,           check_tariff,  check_assets,
                                   check_signals,       check_ocpp,    check_id_tokens,
                                   check_ocpp_security, check_web_tls, check_openadr,
                                   check_modbus,        check_ageing};

/* Replace "{siteId}" in every F_EXPAND string of the sections. */
static int expand(char *buf, size_t size, const char *id)
{
    static const char tok[] = "{siteId}";
    char out[PATHBUF];
    size_t len = 0;
    for (const char *s = buf; *s;) {
        bool hit = strncmp(s, tok, sizeof(tok) - 1) == 0;
        const char *piece = hit ? id : s;
        size_t n = hit ? strlen(id) : 1;
        if (len + n >= size || len + n >= sizeof(out))
            return -1;
        memcpy(out + len, piece, n);
        len += n;
        s += hit ? sizeof(tok) - 1 : 1;
    }
    memcpy(buf, out, len);
    buf[len] = '\0';
    return 0;
}

static void expand_all(struct ctx *x, struct fg_config *c)
{
    char p[PATHBUF];
    for (size_t s = 0; s < root_table.n; s++) {
        const struct table *t = root_rows[s].child;
        for (size_t i = 0; i < t->n; i++) {
            const struct row *r = &t->rows[i];
            if (!(r->flags & F_EXPAND) || !expand(at(c, r->off), r->size, c->site.id))
                continue;
            snprintf(p, sizeof(p), "/%s/%s", root_rows[s].key, r->key);
            if (x)
                fg_errlist_add(x->errs, FG_ETOOBIG, p, "longer than %zu characters",
                               r->size - 1);
            d_str(r, c);
        }
    }
}

/* ---- public: lifecycle and parsing ---- */

/* Defaults with "{siteId}" not yet expanded: the parser expands it once
 * site.id is known. */
static void raw_defaults(struct fg_config *c)
{
    memset(c, 0, sizeof(*c));
    set_defaults(&root_table, c);
    c->site.ev_ageing.params = fg_age_params_for_chemistry("NMC");
}

void fg_config_defaults(struct fg_config *c)
{
    raw_defaults(c);
    expand_all(NULL, c);
}

void fg_config_clear(struct fg_config *c)
{
    free(c->site.assets);
    free(c->site.signals);
    free(c->ocpp.id_tokens);
    for (size_t i = 0; i < c->ocpp.n_stations; i++)
        secret_clear(&c->ocpp.stations[i].password_hash);
    free(c->ocpp.stations);
    free(c->modbus.buses);
    secret_clear(&c->mqtt.password);
    secret_clear(&c->web.token);
    secret_clear(&c->web.admin_password);
    fg_config_defaults(c);
}

static void line_col(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static cJSON *parse_json(const char *text, size_t len, struct fg_errlist *errs)
{
    const char *end = NULL;
    int line, col;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    size_t off = end && end >= text ? (size_t)(end - text) : 0;
    if (root) {
        while (off < len && text[off] && strchr(" \t\r\n", text[off]))
            off++;
        if (off == len)
            return root;
        cJSON_Delete(root);
        line_col(text, off, &line, &col);
        fg_errlist_add(errs, FG_EPARSE, "",
                       "unexpected data after the JSON document at line %d, column %d "
                       "(byte %zu)",
                       line, col, off);
        return NULL;
    }
    if (off > len)
        off = len;
    line_col(text, off, &line, &col);
    fg_errlist_add(errs, FG_EPARSE, "", "malformed JSON at line %d, column %d (byte %zu)",
                   line, col, off);
    return NULL;
}

int fg_config_parse(const char *text, size_t len, const char *base_dir,
                    struct fg_config *out, struct fg_errlist *errs)
{
    struct ctx x = {.errs = errs, .base_dir = base_dir};
    size_t before = fg_errlist_count(errs);
    raw_defaults(out);
    cJSON *root = parse_json(text, len, errs);
    if (root && !cJSON_IsObject(root)) {
        fg_errlist_add(errs, FG_ETYPE, "", "expected object, got %s",
                       fg_json_type_name(root));
    } else if (root) {
        parse_object(&x, &root_table, root, out, "");
        expand_all(&x, out);
        for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
            checks[i](&x, out);
    }
    cJSON_Delete(root);
    for (int s = 0; s < SLOT_COUNT; s++)
        free(x.bad[s]);
    if (fg_errlist_count(errs) == before)
        return 0;
    fg_config_clear(out);
    return FG_ECONFIG;
}

/* The whole file, at most CONFIG_FILE_MAX bytes; errno-style result. */
static int read_file(const char *file, char **text, size_t *len)
{
    FILE *f = fopen(file, "rb");
    size_t cap = 0, n = 0;
    char *buf = NULL;
    int rc = 0;
    if (!f)
        return errno;
    while (!rc) {
        if (n == cap) {
            char *nb = cap >= CONFIG_FILE_MAX ? NULL : realloc(buf, cap ? cap * 2 : 8192);
            rc = nb ? 0 : cap >= CONFIG_FILE_MAX ? EFBIG : ENOMEM;
            buf = nb ? nb : buf;
            cap = nb ? (cap ? cap * 2 : 8192) : cap;
            continue;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            rc = ferror(f) ? EIO : 0;
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return 0;
}

int fg_config_load(const char *file, struct fg_config *out, struct fg_errlist *errs)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    int e = read_file(file, &text, &len);
    if (!e && !(dir = realpath(file, NULL)))
        e = errno;
    if (e) {
        free(text);
        fg_config_defaults(out);
        fg_errlist_add(errs, e == ENOMEM ? FG_ENOMEM : FG_EIO, "", "cannot read %s: %s",
                       file, e == EFBIG ? "larger than 16 MiB" : strerror(e));
        return FG_ECONFIG;
    }
    *strrchr(dir, '/') = '\0'; /* realpath is absolute: there is a '/' */
    int rc = fg_config_parse(text, len, dir[0] ? dir : "/", out, errs);
    free(text);
    free(dir);
    return rc;
}

/* ---- public: JSON views ---- */

cJSON *fg_config_to_json(const struct fg_config *c, bool redact)
{
    return emit_object(&root_table, c, redact);
}

static int unredact(cJSON *json, const struct table *t, const void *cur);

/* Array elements are matched to the current ones by "id" (an element without
 * a current match gets none of the current secrets). */
static int unredact_array(cJSON *arr, const struct row *r, const void *cur)
{
    const struct row *idr = find_row(r->child, "id", NULL);
    const char *elems = (r->flags & F_INLINE) ? (const char *)cat(cur, r->off)
                                              : *(char *const *)cat(cur, r->off);
    size_t n = *(const size_t *)cat(cur, r->aux_off);
    void *blank = calloc(1, r->size);
    int rc = blank ? 0 : FG_ENOMEM;
    if (blank)
        set_defaults(r->child, blank);
    cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const cJSON *id = idr ? cJSON_GetObjectItemCaseSensitive(e, "id") : NULL;
        const void *match = blank;
        for (size_t i = 0; cJSON_IsString(id) && i < n && match == blank; i++)
            if (!strcmp(cat(elems + i * r->size, idr->off), id->valuestring))
                match = elems + i * r->size;
        if (!rc && cJSON_IsObject(e))
            rc = unredact(e, r->child, match);
    }
    free(blank);
    return rc;
}

static int unredact(cJSON *json, const struct table *t, const void *cur)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct row *r = &t->rows[i];
        cJSON *v = cJSON_GetObjectItemCaseSensitive(json, r->key);
        if (r->type == T_OBJ && cJSON_IsObject(v) &&
            unredact(v, r->child, cat(cur, r->off)))
            return FG_ENOMEM;
        if (r->type == T_ARR && cJSON_IsArray(v) && unredact_array(v, r, cur))
            return FG_ENOMEM;
        if (r->type != T_SECRET || !cJSON_IsString(v) || strcmp(v->valuestring, REDACTED))
            continue;
        const struct fg_secret *s = cat(cur, r->off);
        /* Without a current inline value, "********" must not become the
         * secret: it turns into "not set". */
        cJSON *nv =
            s->value && !s->file[0] ? cJSON_CreateString(s->value) : cJSON_CreateNull();
        if (!nv || !cJSON_ReplaceItemInObjectCaseSensitive(json, r->key, nv)) {
            cJSON_Delete(nv);
            return FG_ENOMEM;
        }
    }
    return 0;
}

int fg_config_unredact(cJSON *json, const struct fg_config *cur)
{
    return cJSON_IsObject(json) ? unredact(json, &root_table, cur) : 0;
}

/* ---- public: schema ---- */

static void push_str(struct gen *g, cJSON *arr, const char *v)
{
    cJSON *s = cJSON_CreateString(v);
    if (!arr || !s || !cJSON_AddItemToArray(arr, s)) {
        cJSON_Delete(s);
        g->oom = true;
    }
}

static cJSON *schema_row(struct gen *g, const struct row *r, const void *dbase)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        g->oom = true;
        return NULL;
    }
    ops[r->type].schema(g, r, o, dbase);
    add_str(g, o, "description", r->doc);
    if (r->type == T_OBJ || r->type == T_ARR || r->req)
        return o;
    if (r->flags & F_EXPAND)
        add_str(g, o, "default", r->dstr);
    else
        add(g, o, "default", ops[r->type].emit(r, dbase, false));
    return o;
}

/* then-branch for one asset kind: forbid keys of other kinds, require its own. */
static cJSON *kind_rule(struct gen *g, const struct table *t, int kind)
{
    cJSON *rule = cJSON_CreateObject();
    cJSON *cond = add(g, rule, "if", cJSON_CreateObject());
    cJSON *cp = add(g, cond, "properties", cJSON_CreateObject());
    cJSON *k = add(g, cp, t->discr, cJSON_CreateObject());
    add_str(g, k, "const", kind_names[kind]);
    const char *dk[] = {t->discr};
    add(g, cond, "required", cJSON_CreateStringArray(dk, 1));
    cJSON *then = add(g, rule, "then", cJSON_CreateObject());
    cJSON *tp = add(g, then, "properties", cJSON_CreateObject());
    cJSON *req = add(g, then, "required", cJSON_CreateArray());
    for (size_t i = 0; i < t->n && !g->oom; i++) {
        const struct row *r = &t->rows[i];
        if (!applies(r, kind))
            add(g, tp, r->key, cJSON_CreateFalse());
        if (r->req != REQ_ALL && required(r, kind))
            push_str(g, req, r->key);
    }
    if (!rule)
        g->oom = true;
    return rule;
}

static cJSON *schema_object(struct gen *g, const struct table *t, const void *dbase)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        g->oom = true;
        return NULL;
    }
    add_str(g, o, "type", "object");
    cJSON *props = add(g, o, "properties", cJSON_CreateObject());
    cJSON *req = cJSON_CreateArray();
    for (size_t i = 0; i < t->n && props; i++) {
        add(g, props, t->rows[i].key, schema_row(g, &t->rows[i], dbase));
        if (t->rows[i].req == REQ_ALL)
            push_str(g, req, t->rows[i].key);
    }
    if (cJSON_GetArraySize(req))
        add(g, o, "required", req);
    else
        cJSON_Delete(req);
    add(g, o, "additionalProperties", cJSON_CreateFalse());
    cJSON *all = t->discr ? add(g, o, "allOf", cJSON_CreateArray()) : NULL;
    for (int k = 0; all && k < FG_ASSET_KIND_COUNT; k++) {
        cJSON *rule = kind_rule(g, t, k);
        if (!rule || !cJSON_AddItemToArray(all, rule)) {
            cJSON_Delete(rule);
            g->oom = true;
        }
    }
    return o;
}

char *fg_config_schema(void)
{
    struct gen g = {false};
    cJSON *s = cJSON_CreateObject();
    add_str(&g, s, "$schema", "https://json-schema.org/draft/2020-12/schema");
    add_str(&g, s, "title", "flexgw configuration");
    add_str(&g, s, "description",
            "Generated from gateway/config.c by flexgw --config-schema; do not edit.");
    struct fg_config *d = malloc(sizeof(*d));
    cJSON *body = NULL;
    if (d) {
        fg_config_defaults(d);
        body = schema_object(&g, &root_table, d);
        free(d);
    }
    g.oom |= !body;
    for (cJSON *it = body ? body->child : NULL; it && s;) {
        cJSON *next = it->next;
        cJSON_AddItemToObject(s, it->string, cJSON_DetachItemViaPointer(body, it));
        it = next;
    }
    cJSON_Delete(body);
    char *text = g.oom || !s ? NULL : cJSON_Print(s);
    cJSON_Delete(s);
    return text;
}

/* ---- public: reference ---- */

/* A table cell: '|' escaped so it does not end the cell. */
static void sb_cell(struct fg_buf *b, const char *s)
{
    fg_buf_printf(b, " ");
    for (; *s; s++)
        fg_buf_printf(b, *s == '|' ? "\\|" : "%c", *s);
    fg_buf_printf(b, " |");
}

static void kinds_text(unsigned mask, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < FG_ASSET_KIND_COUNT && len < n; k++)
        if (mask & (1u << k))
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "",
                                    kind_names[k]);
}

static void ref_default(struct fg_buf *b, const struct row *r, const void *dbase)
{
    char k[64], cell[128] = "";
    if (r->req == REQ_ALL) {
        snprintf(cell, sizeof(cell), "required");
    } else if (r->req) {
        kinds_text(r->req, k, sizeof(k));
        snprintf(cell, sizeof(cell), "required (%s)", k);
    } else if (r->flags & F_EXPAND) {
        snprintf(cell, sizeof(cell), "`\"%s\"`", r->dstr);
    } else if (r->type != T_OBJ && r->type != T_ARR) {
        cJSON *v = ops[r->type].emit(r, dbase, false);
        char *t = v ? cJSON_PrintUnformatted(v) : NULL;
        b->failed |= !t;
        snprintf(cell, sizeof(cell), "`%s`", t ? t : "");
        free(t);
        cJSON_Delete(v);
    }
    sb_cell(b, cell);
}

static void ref_table(struct fg_buf *b, const struct table *t, const char *doc,
                      const void *dbase);

static void ref_row(struct fg_buf *b, const struct row *r, const void *dbase)
{
    char range[160], k[64], desc[320];
    fg_buf_printf(b, "| `%s` |", r->key);
    sb_cell(b, ops[r->type].name);
    ref_default(b, r, dbase);
    ops[r->type].range(r, range, sizeof(range));
    sb_cell(b, range);
    kinds_text(r->kinds, k, sizeof(k));
    if (r->type == T_OBJ || r->type == T_ARR)
        snprintf(desc, sizeof(desc), "%s See `%s`.", r->doc, r->child->name);
    else
        snprintf(desc, sizeof(desc), "%s%s%s%s", r->doc, r->kinds ? " Only for " : "", k,
                 r->kinds ? "." : "");
    sb_cell(b, desc);
    fg_buf_printf(b, "\n");
}

static void ref_children(struct fg_buf *b, const struct table *t, const void *dbase)
{
    for (size_t i = 0; i < t->n && !b->failed; i++) {
        const struct row *r = &t->rows[i];
        if (r->type == T_OBJ) {
            ref_table(b, r->child, r->doc, cat(dbase, r->off));
        } else if (r->type == T_ARR) {
            void *elem = calloc(1, r->size);
            if (!elem) {
                b->failed = true;
                return;
            }
            set_defaults(r->child, elem);
            ref_table(b, r->child, r->doc, elem);
            free(elem);
        }
    }
}

static void ref_table(struct fg_buf *b, const struct table *t, const char *doc,
                      const void *dbase)
{
    fg_buf_printf(b, "\n%s `%s`\n\n%s\n", strchr(t->name, '.') ? "###" : "##", t->name,
                  doc);
    if (t->discr)
        fg_buf_printf(
            b, "\nKeys marked \"Only for\" are errors on assets of other kinds.\n");
    fg_buf_printf(b, "\n| key | type | default | range / values | description |\n"
                     "|---|---|---|---|---|\n");
    for (size_t i = 0; i < t->n; i++)
        ref_row(b, &t->rows[i], dbase);
    ref_children(b, t, dbase);
}

static const char ref_intro[] =
    "# flexgw configuration reference\n"
    "\n"
    "Generated from the descriptor table in `gateway/config.c` by\n"
    "`flexgw --config-reference`; do not edit by hand. The JSON Schema of the\n"
    "same file is `conf/flexgw.schema.json` (`flexgw --config-schema`).\n"
    "\n"
    "The configuration is one JSON file, by default `/etc/flexgw/flexgw.json`\n"
    "(start from `conf/flexgw.json`, which holds every default). Every section and\n"
    "every key is optional unless marked required. Unknown keys, wrong types,\n"
    "out-of-range numbers, bad addresses and missing files are errors;\n"
    "`flexgw --check-config FILE` prints all of them at once, each with its JSON\n"
    "path, e.g. `/ocpp/listen: \"0.0.0.0:99999\" is not a valid host:port`.\n"
    "\n"
    "Secrets (`web.token`, `web.admin_password`, `mqtt.password`,\n"
    "`ocpp.stations[].password_hash`) are given\n"
    "inline (`\"s3cret\"`) or as `{\"file\": \"/etc/flexgw/api-token\"}`: the\n"
    "file's content without trailing newlines, at most 4096 bytes. Relative\n"
    "paths are resolved against the directory of the configuration file. The\n"
    "default configuration sets no token and no admin password, so every write\n"
    "through the REST API is refused until one of them is configured.\n"
    "\n"
    "Times of day (`HH:MM`) are local time: UTC plus `site.utc_offset_min`.\n";

char *fg_config_reference(void)
{
    struct fg_buf b;
    fg_buf_init(&b, 1u << 20);
    struct fg_config *d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    fg_config_defaults(d);
    fg_buf_printf(&b, "%s", ref_intro);
    for (size_t i = 0; i < root_table.n; i++)
        ref_table(&b, root_rows[i].child, root_rows[i].doc, d);
    free(d);
    return fg_buf_take(&b);
}
