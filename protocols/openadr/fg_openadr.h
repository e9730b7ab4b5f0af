/* OpenADR 2.0b payload codec for a VEN (B profile, simple HTTP, pull model).
 *
 * Reading: fg_openadr_decode() takes one HTTP body (an oadrPayload document)
 * and fills a tagged struct with the message the VTN sent. Building: one
 * fg_openadr_build_*() per message the VEN sends, writing a complete
 * oadrPayload / oadrSignedObject document into an fg_buf.
 *
 * The codec is pure: no sockets, no clock (times are arguments), no globals
 * of its own, no logging. libxml2 is its XML reader.
 *
 * Safety (see docs/openadr.md). A body larger than opts.max_bytes is refused
 * before the parser sees it. The parser never loads a DTD, never substitutes
 * entities, never touches the network (XML_PARSE_NONET) and runs without
 * XML_PARSE_HUGE; a document with a DOCTYPE is refused the moment the parser
 * meets it, before any entity declaration is read, so neither "billion
 * laughs" nor an external entity (file:///etc/passwd) gets anywhere. Element
 * nesting deeper than opts.max_depth stops the parse.
 *
 * Strictness. Elements are matched by namespace URI and local name, never by
 * prefix. Each element the VEN reads is walked in the order of its schema
 * sequence: a required element missing, an element out of order or one the
 * schema does not allow there is an error naming the element path and what
 * was expected and found. Paths start at the payload and index elements
 * that have same-named siblings, 0-based:
 * "/oadrDistributeEvent/oadrEvent[1]/eiEvent/eiEventSignals/eiEventSignal".
 * Parts of the schema the VEN does not use (eiTarget's
 * pnodes and service areas, extensions, service-specific info, baselines,
 * XML signatures) are passed over. For full XSD validation on top, load the
 * schema once with fg_openadr_schema_load() and pass it in opts.schema.
 *
 * Units: durations in seconds, times in UTC epoch seconds. Durations are the
 * xcal ones (ISO 8601, e.g. "PT1H", "P1D", "-PT5M", "P2W"); a day is 86400 s.
 * Years and months have no fixed length and are refused.
 *
 * Ownership: decoded strings and arrays live in the message's arena and are
 * valid until fg_openadr_msg_clear(). Pointer parameters of the builders are
 * borrowed. */
#ifndef FG_OPENADR_H
#define FG_OPENADR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_buf.h"
#include "fg_err.h"

#define FG_OPENADR_NS_OADR "http://openadr.org/oadr-2.0b/2012/07"
#define FG_OPENADR_NS_EI "http://docs.oasis-open.org/ns/energyinterop/201110"
#define FG_OPENADR_NS_PYLD "http://docs.oasis-open.org/ns/energyinterop/201110/payloads"
#define FG_OPENADR_NS_EMIX "http://docs.oasis-open.org/ns/emix/2011/06"
#define FG_OPENADR_NS_XCAL "urn:ietf:params:xml:ns:icalendar-2.0"
#define FG_OPENADR_NS_STRM "urn:ietf:params:xml:ns:icalendar-2.0:stream"
#define FG_OPENADR_NS_POWER "http://docs.oasis-open.org/ns/emix/2011/06/power"
#define FG_OPENADR_NS_SCALE "http://docs.oasis-open.org/ns/emix/2011/06/siscale"

#define FG_OPENADR_MAX_BYTES_DEFAULT (1024 * 1024)
#define FG_OPENADR_MAX_DEPTH_DEFAULT 40
/* The largest document a builder writes; fg_buf's maximum decides, this is a
 * suggestion for callers that have no better one. */
#define FG_OPENADR_BUILD_MAX (4 * 1024 * 1024)

/* The payloads inside oadrSignedObject. The order is the schema's choice. */
enum fg_openadr_type {
    FG_OADR_NONE = 0,
    FG_OADR_DISTRIBUTE_EVENT,
    FG_OADR_CREATED_EVENT,
    FG_OADR_REQUEST_EVENT,
    FG_OADR_RESPONSE,
    FG_OADR_CANCEL_OPT,
    FG_OADR_CANCELED_OPT,
    FG_OADR_CREATE_OPT,
    FG_OADR_CREATED_OPT,
    FG_OADR_CANCEL_REPORT,
    FG_OADR_CANCELED_REPORT,
    FG_OADR_CREATE_REPORT,
    FG_OADR_CREATED_REPORT,
    FG_OADR_REGISTER_REPORT,
    FG_OADR_REGISTERED_REPORT,
    FG_OADR_UPDATE_REPORT,
    FG_OADR_UPDATED_REPORT,
    FG_OADR_CANCEL_PARTY_REGISTRATION,
    FG_OADR_CANCELED_PARTY_REGISTRATION,
    FG_OADR_CREATE_PARTY_REGISTRATION,
    FG_OADR_CREATED_PARTY_REGISTRATION,
    FG_OADR_REQUEST_REREGISTRATION,
    FG_OADR_QUERY_REGISTRATION,
    FG_OADR_POLL,
    FG_OADR_TYPE_COUNT
};

/* The element name, e.g. "oadrDistributeEvent"; "?" when out of range. */
const char *fg_openadr_type_name(enum fg_openadr_type t);

enum fg_openadr_event_status {
    FG_OADR_STATUS_NONE = 0,
    FG_OADR_STATUS_FAR,
    FG_OADR_STATUS_NEAR,
    FG_OADR_STATUS_ACTIVE,
    FG_OADR_STATUS_COMPLETED,
    FG_OADR_STATUS_CANCELLED,
};

/* signalName: the enumerated names; FG_OADR_SIGNAL_OTHER for an "x-" name
 * (the text is always in fg_openadr_signal.name). "simple" counts as SIMPLE. */
enum fg_openadr_signal_name {
    FG_OADR_SIGNAL_OTHER = 0,
    FG_OADR_SIGNAL_SIMPLE,
    FG_OADR_SIGNAL_ELECTRICITY_PRICE,
    FG_OADR_SIGNAL_ENERGY_PRICE,
    FG_OADR_SIGNAL_DEMAND_CHARGE,
    FG_OADR_SIGNAL_BID_PRICE,
    FG_OADR_SIGNAL_BID_LOAD,
    FG_OADR_SIGNAL_BID_ENERGY,
    FG_OADR_SIGNAL_CHARGE_STATE,
    FG_OADR_SIGNAL_LOAD_DISPATCH,
    FG_OADR_SIGNAL_LOAD_CONTROL,
};

enum fg_openadr_signal_type {
    FG_OADR_SIGTYPE_DELTA = 0,
    FG_OADR_SIGTYPE_LEVEL,
    FG_OADR_SIGTYPE_MULTIPLIER,
    FG_OADR_SIGTYPE_PRICE,
    FG_OADR_SIGTYPE_PRICE_MULTIPLIER,
    FG_OADR_SIGTYPE_PRICE_RELATIVE,
    FG_OADR_SIGTYPE_SETPOINT,
    FG_OADR_SIGTYPE_LOAD_CONTROL_CAPACITY,
    FG_OADR_SIGTYPE_LOAD_CONTROL_LEVEL_OFFSET,
    FG_OADR_SIGTYPE_LOAD_CONTROL_PERCENT_OFFSET,
    FG_OADR_SIGTYPE_LOAD_CONTROL_SETPOINT,
};

enum fg_openadr_opt { FG_OADR_OPT_IN = 0, FG_OADR_OPT_OUT };

/* A list of strings (arena-owned when decoded). */
struct fg_openadr_strs {
    const char **v;
    size_t n;
};

/* ei:eiResponse. */
struct fg_openadr_ei_response {
    int code;                /* responseCode, 3 digits (200 OK) */
    const char *description; /* NULL if absent */
    const char *request_id;  /* "" allowed (the schema requires the element) */
};

/* ei:eiTarget: the parts a VEN acts on. */
struct fg_openadr_target {
    struct fg_openadr_strs group_ids, group_names, resource_ids, ven_ids, party_ids;
};

/* emix:itemBase: the units of a signal or a report point. kind is the
 * element's local name ("powerReal", "energyReal", "currencyPerKWh",
 * "customUnit", ...); the others are NULL when the element has none. */
struct fg_openadr_item {
    const char *kind, *description, *units, *scale;
};

struct fg_openadr_interval {
    bool has_dtstart;
    int64_t dtstart;    /* epoch s; events give it for the event, not per interval */
    int64_t duration_s; /* 0 if absent */
    const char *uid;    /* NULL if absent; events number them "0", "1", ... */
    double value;       /* payloadFloat */
};

struct fg_openadr_signal {
    const char *name; /* as sent */
    enum fg_openadr_signal_name name_id;
    enum fg_openadr_signal_type type;
    const char *id; /* signalID */
    bool has_unit;
    struct fg_openadr_item unit;
    bool has_current;
    double current; /* currentValue */
    bool has_target;
    struct fg_openadr_target target;
    struct fg_openadr_interval *intervals;
    size_t n_intervals;
};

struct fg_openadr_event {
    /* eventDescriptor */
    const char *event_id;
    uint32_t modification_number;
    bool has_modification_time;
    int64_t modification_time;
    const char *modification_reason; /* NULL if absent */
    bool has_priority;
    uint32_t priority;
    const char *market_context;
    int64_t created;
    enum fg_openadr_event_status status;
    const char *test_event; /* NULL if absent */
    bool test;              /* testEvent present and not "false" */
    const char *vtn_comment;
    /* eiActivePeriod */
    int64_t dtstart;
    int64_t duration_s; /* 0: open-ended */
    bool has_start_after;
    int64_t start_after_s; /* tolerance/tolerate/startafter: randomisation window */
    bool has_notification, has_ramp_up, has_recovery;
    int64_t notification_s, ramp_up_s, recovery_s;
    /* eiEventSignals */
    struct fg_openadr_signal *signals;
    size_t n_signals;
    struct fg_openadr_target target;
    bool response_required; /* oadrResponseRequired "always" */
};

struct fg_openadr_distribute_event {
    bool has_response;
    struct fg_openadr_ei_response response;
    const char *request_id;
    const char *vtn_id;
    struct fg_openadr_event *events;
    size_t n_events;
};

struct fg_openadr_profile {
    const char *name; /* "2.0a", "2.0b" */
    struct fg_openadr_strs transports;
};

struct fg_openadr_created_party_registration {
    struct fg_openadr_ei_response response;
    const char *registration_id, *ven_id; /* NULL if absent */
    const char *vtn_id;
    struct fg_openadr_profile *profiles;
    size_t n_profiles;
    bool has_poll_freq;
    int64_t poll_freq_s;
};

struct fg_openadr_specifier_payload {
    const char *rid;
    bool has_unit;
    struct fg_openadr_item unit;
    const char *reading_type;
};

/* oadrReportRequest. */
struct fg_openadr_report_request {
    const char *report_request_id;
    const char *report_specifier_id;
    int64_t granularity_s;
    int64_t report_back_s;
    bool has_interval;
    int64_t interval_start, interval_duration_s; /* reportInterval */
    struct fg_openadr_specifier_payload *payloads;
    size_t n_payloads;
};

/* oadrCreateReport (requests >= 1) and oadrRegisteredReport (response, 0 or
 * more requests). */
struct fg_openadr_report_requests {
    struct fg_openadr_ei_response response; /* oadrRegisteredReport only */
    const char *request_id;                 /* oadrCreateReport only */
    struct fg_openadr_report_request *requests;
    size_t n_requests;
    const char *ven_id;
};

struct fg_openadr_cancel_report {
    const char *request_id;
    struct fg_openadr_strs report_request_ids;
    bool report_to_follow;
    const char *ven_id;
};

/* Every acknowledgement: oadrResponse (ven_id), oadrCanceledPartyRegistration
 * (registration_id, ven_id), oadrCreatedOpt / oadrCanceledOpt (opt_id),
 * oadrCreatedReport / oadrCanceledReport (pending, ven_id), oadrUpdatedReport
 * (cancel, ven_id). Absent fields are NULL / empty. */
struct fg_openadr_ack {
    struct fg_openadr_ei_response response;
    const char *ven_id, *registration_id, *opt_id;
    struct fg_openadr_strs pending; /* oadrPendingReports */
    bool has_cancel;
    struct fg_openadr_cancel_report cancel; /* oadrUpdatedReport's */
};

/* One report a VTN offers in its oadrRegisterReport (what the VEN needs to
 * answer it; the descriptions are counted, not read). */
struct fg_openadr_offered_report {
    const char *report_specifier_id;
    const char *report_name; /* NULL if absent, e.g. "METADATA_TELEMETRY_USAGE" */
    const char *report_request_id;
    size_t n_descriptions;
};

/* oadrRegisterReport (from the VTN). */
struct fg_openadr_register_report {
    const char *request_id;
    struct fg_openadr_offered_report *reports;
    size_t n_reports;
    const char *ven_id, *report_request_id; /* NULL if absent */
};

/* oadrCancelPartyRegistration (from the VTN). */
struct fg_openadr_cancel_registration {
    const char *request_id, *registration_id, *ven_id;
};

struct fg_openadr_arena;

/* One decoded message: type says which member of u is filled. */
struct fg_openadr_msg {
    enum fg_openadr_type type;
    const char *schema_version; /* ei:schemaVersion attribute, NULL if absent */
    union {
        struct fg_openadr_distribute_event distribute_event;
        struct fg_openadr_created_party_registration created_registration;
        struct fg_openadr_cancel_registration cancel_registration;
        const char *reregistration_ven_id;         /* oadrRequestReregistration */
        struct fg_openadr_report_requests reports; /* create / registered report */
        struct fg_openadr_register_report register_report;
        struct fg_openadr_cancel_report cancel_report;
        struct fg_openadr_ack ack;
    } u;
    struct fg_openadr_arena *arena;
};

struct fg_openadr_schema;

struct fg_openadr_opts {
    size_t max_bytes; /* 0: FG_OPENADR_MAX_BYTES_DEFAULT */
    int max_depth;    /* 0: FG_OPENADR_MAX_DEPTH_DEFAULT */
    /* Validate against the XSD before reading (NULL: the decoder's own
     * structure checks only). Borrowed. */
    const struct fg_openadr_schema *schema;
};

void fg_openadr_msg_init(struct fg_openadr_msg *m);
/* Free what a decode allocated; m is empty (and reusable) afterwards. */
void fg_openadr_msg_clear(struct fg_openadr_msg *m);

/* Decode one oadrPayload document of len bytes (need not be NUL-terminated).
 * opts may be NULL (defaults). On success m->type names the message and its
 * member of m->u is filled. Errors, each with path and message in *err:
 *   FG_ETOOBIG    body over max_bytes, nesting over max_depth
 *   FG_EFORBIDDEN a DOCTYPE (DTDs and entities are refused)
 *   FG_EPARSE     not well-formed XML (libxml2's message with line)
 *   FG_EINVAL     schema-invalid: with opts->schema, the validator's message;
 *                 without, the decoder's (missing, out of order, unexpected)
 *   FG_ERANGE     a number, date-time or duration out of range or malformed
 *   FG_EUNSUPPORTED a well-formed payload a VEN does not receive
 *                 (oadrPoll, oadrCreatedEvent, ...); m->type is still set
 *   FG_ENOMEM
 * The caller clears m in every case. */
int fg_openadr_decode(const char *xml, size_t len, const struct fg_openadr_opts *opts,
                      struct fg_openadr_msg *m, struct fg_error *err);

/* Load the OpenADR 2.0b XSD (dir/oadr_20b.xsd and the files it imports, read
 * from the local directory only) for fg_openadr_validate() and opts.schema.
 * Does file I/O: call it once at start-up. NULL on failure with *err set. */
struct fg_openadr_schema *fg_openadr_schema_load(const char *dir, struct fg_error *err);
void fg_openadr_schema_free(struct fg_openadr_schema *s);
/* Parse (with the decoder's limits) and validate one document against the
 * schema. 0, or FG_EINVAL with the first violation ("line N: ..."), or the
 * decoder's parse errors. */
int fg_openadr_validate(const struct fg_openadr_schema *s, const char *xml, size_t len,
                        const struct fg_openadr_opts *opts, struct fg_error *err);

/* ---- xcal values --------------------------------------------------------- */

/* ISO 8601 duration ([+-]P[nW] | [+-]P[nD][T[nH][nM][nS]]) to seconds. Strict:
 * at least one component, units in order and at most once, "T" only before
 * a time component, no fractions, no years or months (FG_EUNSUPPORTED), no
 * overflow. FG_ERANGE with a message otherwise. */
int fg_openadr_duration_parse(const char *s, int64_t *out, struct fg_error *err);
/* Seconds to the shortest xcal duration ("PT0S", "PT15M", "P1DT2H", "-PT5M").
 * out must hold FG_OPENADR_DURATION_MAX bytes. */
#define FG_OPENADR_DURATION_MAX 48
void fg_openadr_duration_format(int64_t s, char *out);
/* xcal date-time "YYYY-MM-DDThh:mm:ss[.fff][Z|+hh:mm|-hh:mm]" to epoch
 * seconds (fractions dropped; no zone means UTC). Checks the calendar
 * (no 30 February, hours 0-23, minutes 0-59, seconds 0-60). */
int fg_openadr_datetime_parse(const char *s, int64_t *out, struct fg_error *err);
/* Epoch seconds to "YYYY-MM-DDThh:mm:ssZ". out must hold 32 bytes. */
#define FG_OPENADR_DATETIME_MAX 32
void fg_openadr_datetime_format(int64_t t, char *out);

/* ---- target groups -------------------------------------------------------- *
 * The groups a VEN belongs to, as configured: a comma-separated list of
 * groupIDs / groupNames, blanks around an entry ignored ("north, feeder-12"). */

#define FG_OPENADR_GROUP_MAX 127 /* characters of one entry */

/* 0 if list is well-formed (every entry non-empty, at most
 * FG_OPENADR_GROUP_MAX characters, no control characters); else FG_EINVAL
 * with the reason, naming the entry (0-based), in why. */
int fg_openadr_groups_check(const char *list, char *why, size_t why_n);
/* Whether v is one of list's entries (exact, case-sensitive). NULL: false. */
bool fg_openadr_groups_has(const char *list, const char *v);

/* ---- building what the VEN sends ----------------------------------------- *
 * Each writes one complete document (XML declaration, oadrPayload,
 * oadrSignedObject, the payload with ei:schemaVersion="2.0b") to out, which
 * the caller initialised with its maximum. Text is escaped. Returns 0, or
 * FG_EINVAL (a required field NULL or empty, a value the schema refuses, a
 * non-finite number) with the field named in *err, or FG_ETOOBIG when out's
 * maximum was reached or memory ran out. out is left failed / partial on
 * error: the caller clears it. */

int fg_openadr_build_query_registration(struct fg_buf *out, const char *request_id,
                                        struct fg_error *err);

struct fg_openadr_create_party_registration {
    const char *request_id;
    const char *registration_id;   /* NULL on first registration */
    const char *ven_id;            /* NULL on first registration */
    const char *ven_name;          /* NULL: left out */
    const char *transport_address; /* NULL: left out (pull model) */
};
/* Profile 2.0b, transport simpleHttp, report only false, XML signature
 * false, HTTP pull model true. */
int fg_openadr_build_create_party_registration(
    struct fg_buf *out, const struct fg_openadr_create_party_registration *r,
    struct fg_error *err);

/* ven_id may be NULL. */
int fg_openadr_build_cancel_party_registration(struct fg_buf *out, const char *request_id,
                                               const char *registration_id,
                                               const char *ven_id, struct fg_error *err);
/* The answer to the VTN's oadrCancelPartyRegistration. */
int fg_openadr_build_canceled_party_registration(struct fg_buf *out,
                                                 const struct fg_openadr_ei_response *r,
                                                 const char *registration_id,
                                                 const char *ven_id,
                                                 struct fg_error *err);

int fg_openadr_build_poll(struct fg_buf *out, const char *ven_id, struct fg_error *err);

/* oadrRequestEvent (pyld:eiRequestEvent): asks the VTN for all current
 * events, answered with an oadrDistributeEvent. reply_limit 0: left out. */
int fg_openadr_build_request_event(struct fg_buf *out, const char *request_id,
                                   const char *ven_id, uint32_t reply_limit,
                                   struct fg_error *err);

/* oadrResponse; ven_id may be NULL. */
int fg_openadr_build_response(struct fg_buf *out, const struct fg_openadr_ei_response *r,
                              const char *ven_id, struct fg_error *err);

struct fg_openadr_event_response {
    int code;                /* responseCode for this event (200) */
    const char *description; /* NULL: left out */
    const char *request_id;  /* the oadrDistributeEvent's requestID */
    const char *event_id;
    uint32_t modification_number;
    enum fg_openadr_opt opt;
};
/* oadrCreatedEvent: r for the whole message, then one eventResponse each. */
int fg_openadr_build_created_event(struct fg_buf *out,
                                   const struct fg_openadr_ei_response *r,
                                   const struct fg_openadr_event_response *ev, size_t n,
                                   const char *ven_id, struct fg_error *err);

/* ---- reports --- */

enum fg_openadr_point_kind {
    FG_OADR_POINT_POWER_W = 0, /* powerReal W, reportType usage, Direct Read */
    FG_OADR_POINT_ENERGY_WH,   /* energyReal Wh, reportType usage, Direct Read */
    FG_OADR_POINT_STATUS,      /* x-resourceStatus, x-notApplicable, no unit */
};

/* One point of a METADATA report: an oadrReportDescription. */
struct fg_openadr_point {
    const char *rid;
    enum fg_openadr_point_kind kind;
    const char *resource_id;    /* reportDataSource/resourceID, NULL: left out */
    const char *market_context; /* NULL: left out */
};

enum fg_openadr_report_name {
    FG_OADR_REPORT_TELEMETRY_USAGE = 0,
    FG_OADR_REPORT_TELEMETRY_STATUS,
};

/* One METADATA report for oadrRegisterReport. */
struct fg_openadr_report_meta {
    const char *report_specifier_id;
    enum fg_openadr_report_name name;   /* written as METADATA_<name> */
    int64_t duration_s;                 /* how far back / ahead data is kept */
    int64_t min_period_s, max_period_s; /* oadrSamplingRate */
    bool on_change;
    double hertz, voltage; /* powerAttributes of power points (0: 50 Hz, 230 V) */
    const struct fg_openadr_point *points;
    size_t n_points;
    int64_t created; /* createdDateTime, epoch s */
};

/* oadrRegisterReport; reportRequestID "0" as the profile requires for
 * METADATA reports. ven_id may be NULL. */
int fg_openadr_build_register_report(struct fg_buf *out, const char *request_id,
                                     const struct fg_openadr_report_meta *reports,
                                     size_t n, const char *ven_id, struct fg_error *err);

/* oadrRegisteredReport answering the VTN's oadrRegisterReport (no report
 * requests of the VEN's own). */
int fg_openadr_build_registered_report(struct fg_buf *out,
                                       const struct fg_openadr_ei_response *r,
                                       const char *ven_id, struct fg_error *err);

/* oadrLoadControlState's parts: present when has is true. */
struct fg_openadr_lcs {
    bool has, has_min, has_max, has_normal;
    double min, max, current, normal;
};

struct fg_openadr_resource_status {
    bool online, manual_override;
    struct fg_openadr_lcs capacity, level_offset, percent_offset, set_point;
};

/* One oadrReportPayload: payloadFloat value, or resource status. */
struct fg_openadr_report_value {
    const char *rid;
    bool is_status;
    double value;
    struct fg_openadr_resource_status status;
};

struct fg_openadr_report_interval {
    int64_t dtstart, duration_s;
    const struct fg_openadr_report_value *values;
    size_t n_values;
};

/* One oadrReport of data for oadrUpdateReport. */
struct fg_openadr_report_data {
    const char *report_id; /* eiReportID, NULL: left out */
    const char *report_request_id, *report_specifier_id;
    enum fg_openadr_report_name name;
    int64_t dtstart, duration_s;
    const struct fg_openadr_report_interval *intervals;
    size_t n_intervals;
    int64_t created;
};

int fg_openadr_build_update_report(struct fg_buf *out, const char *request_id,
                                   const struct fg_openadr_report_data *reports, size_t n,
                                   const char *ven_id, struct fg_error *err);

/* oadrCreatedReport / oadrCanceledReport: r, the report requests still
 * pending, ven_id (may be NULL). */
int fg_openadr_build_created_report(struct fg_buf *out,
                                    const struct fg_openadr_ei_response *r,
                                    const char *const *pending, size_t n_pending,
                                    const char *ven_id, struct fg_error *err);
int fg_openadr_build_canceled_report(struct fg_buf *out,
                                     const struct fg_openadr_ei_response *r,
                                     const char *const *pending, size_t n_pending,
                                     const char *ven_id, struct fg_error *err);

/* ---- opt schedules --- */

struct fg_openadr_window {
    int64_t dtstart, duration_s;
};

struct fg_openadr_create_opt {
    const char *request_id;
    const char *opt_id;
    enum fg_openadr_opt opt;
    const char *reason;         /* "x-schedule", "notParticipating", ... */
    const char *market_context; /* NULL: left out */
    const char *ven_id;
    const struct fg_openadr_window *windows; /* vavailability; none: left out */
    size_t n_windows;
    int64_t created;
    const char *event_id; /* NULL: a schedule; else qualifiedEventID */
    uint32_t modification_number;
    /* eiTarget: these resources, or the VEN itself when there are none. */
    const char *const *resource_ids;
    size_t n_resource_ids;
};

int fg_openadr_build_create_opt(struct fg_buf *out, const struct fg_openadr_create_opt *o,
                                struct fg_error *err);
int fg_openadr_build_cancel_opt(struct fg_buf *out, const char *request_id,
                                const char *opt_id, const char *ven_id,
                                struct fg_error *err);

#endif
