/* OCPP 2.0.1 / 2.1 payload validators generated from the official JSON
 * schemas (protocols/ocpp/schemas/, protocols/ocpp/schema_gen.py -> gen/).
 *
 * Validation is pure: no allocation, no globals that change, recursion
 * bounded by the schema depth (the schemas are not recursive; the generator
 * checks that and the depth).
 *
 * CALLERROR code for the first violation (OCPP-J, part 4 definitions):
 *   TypeConstraintViolation        wrong JSON type (null counts as a type);
 *                                  "integer" given a fraction (1.5) or a value
 *                                  outside the 32-bit signed range
 *                                  [-2147483648, 2147483647] (OCPP's integer
 *                                  primitive is 32-bit; 2^40 is rejected);
 *                                  a number that overflowed to infinity
 *   OccurrenceConstraintViolation  required property missing; array with fewer
 *                                  than minItems or more than maxItems items
 *   PropertyConstraintViolation    string not in enum; string longer than
 *                                  maxLength (counted in Unicode code points);
 *                                  number below minimum / above maximum;
 *                                  "date-time" not an RFC 3339 date-time
 *   FormatViolation                payload not an object; property not allowed
 *                                  (additionalProperties: false); a schema-
 *                                  defined property given twice in one object
 *                                  (cJSON keeps both); a string that is not
 *                                  valid UTF-8
 *   NotImplemented                 fg_ocpp_validate() called with s == NULL
 *                                  (unknown action, see fg_ocpp_schema_find)
 *
 * Not checked: duplicates among the extra members of open objects
 * (CustomDataType allows any vendor property; flexgw does not interpret them,
 * and checking them would be quadratic) and anything inside those members.
 * "date-time" accepts YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm), 'T'/'Z' in
 * either case (RFC 3339 5.6 is case-insensitive), real calendar dates only,
 * second 60 only at 23:59 UTC (leap second). */
#ifndef FG_OCPP_SCHEMA_H
#define FG_OCPP_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fg_ocpp_err.h"

enum fg_ocpp_version { FG_OCPP_V201, FG_OCPP_V21 };

/* Opaque: the schema of one message (<Action>Request or <Action>Response). */
struct fg_ocpp_msg_schema;

/* The schema of <action>Request (response == 0) or <action>Response; NULL if
 * the action is unknown in that version (answer NotImplemented) or has no
 * such message (2.1's NotifyPeriodicEventStream is a SEND without response).
 * Binary search over the sorted generated names. action is borrowed. */
const struct fg_ocpp_msg_schema *fg_ocpp_schema_find(enum fg_ocpp_version v,
                                                     const char *action, int response);

/* Validate a payload against s. Returns 0 if valid (err->code = FG_OCPP_OK,
 * empty path and desc). Otherwise FG_EINVAL with *err = the CALLERROR code
 * (mapping above), the JSON pointer of the first violation (e.g.
 * "/meterValue/0/sampledValue/2/value", "" for the payload itself) and a
 * description of at most 255 bytes of valid UTF-8. err may be NULL. */
int fg_ocpp_validate(const struct fg_ocpp_msg_schema *s, const cJSON *payload,
                     struct fg_ocpp_verror *err);

/* Number of actions in a version (an action has a request and usually a
 * response schema), and the name of the i-th in sorted order ("Authorize");
 * NULL if i is out of range. */
size_t fg_ocpp_schema_count(enum fg_ocpp_version v);
const char *fg_ocpp_schema_action(enum fg_ocpp_version v, size_t i);

/* "BootNotificationRequest" etc.; "" for NULL. */
const char *fg_ocpp_schema_name(const struct fg_ocpp_msg_schema *s);

#ifdef FG_OCPP_SCHEMA_INTERNAL
/* Layout of the generated tables (gen/ocpp*_schema.c); only the generator
 * output and schema.c see it. Every reference is an index into one of the
 * flat const arrays of the version's struct fg_ocpp_schema_tables; identical
 * sub-schemas (CustomDataType, StatusInfoType, ...) are shared. */
#define FG_OCPP_SCHEMA_MAX_DEPTH 32 /* generator fails above this */
#define FG_OCPP_SCHEMA_NONE 0xffff  /* no message (missing response) */

enum fg_ocpp_stype {
    FG_OCPP_ST_OBJECT,
    FG_OCPP_ST_ARRAY,
    FG_OCPP_ST_STRING,
    FG_OCPP_ST_INTEGER,
    FG_OCPP_ST_NUMBER,
    FG_OCPP_ST_BOOLEAN,
    FG_OCPP_ST_ANY, /* no "type": any JSON value (DataTransfer's data) */
};

#define FG_OCPP_SF_OPEN 0x01     /* object: additional properties allowed */
#define FG_OCPP_SF_HAS_MIN 0x02  /* number: bounds[a][0]; array: lo = minItems */
#define FG_OCPP_SF_HAS_MAX 0x04  /* number: bounds[a][1]; array/string: hi */
#define FG_OCPP_SF_ENUM 0x08     /* string: a = enum set */
#define FG_OCPP_SF_DATETIME 0x10 /* string: format date-time */

/* One schema node. object: props[a .. a+b), required bitmap reqmasks[c]
 * (bit i = props[a+i]); array: item node a, lo/hi minItems/maxItems;
 * string: enum set a, hi maxLength; integer/number: bounds[a]. */
struct fg_ocpp_snode {
    uint8_t type;
    uint8_t flags;
    uint16_t a;
    uint16_t b;
    uint16_t c;
    uint32_t lo;
    uint32_t hi;
};

/* An object's property; sorted by name (strcmp) within the object. reqpos is
 * the 1-based position in the schema's "required" list (0 = optional) so the
 * first missing one is reported in schema order. */
struct fg_ocpp_sprop {
    const char *name;
    uint16_t node;
    uint8_t reqpos;
};

struct fg_ocpp_senum {
    uint16_t first; /* into enum_strs, in schema order */
    uint16_t count;
};

struct fg_ocpp_msg_schema {
    const struct fg_ocpp_schema_tables *t;
    const char *name;
    uint16_t root;
};

struct fg_ocpp_saction {
    const char *name;
    uint16_t msg[2]; /* request, response: index into msgs or NONE */
};

struct fg_ocpp_schema_tables {
    const struct fg_ocpp_snode *nodes;
    const struct fg_ocpp_sprop *props;
    const uint64_t *reqmasks;
    const struct fg_ocpp_senum *enums;
    const char *const *enum_strs;
    const double (*bounds)[2];
    const struct fg_ocpp_msg_schema *msgs;
    const struct fg_ocpp_saction *actions; /* sorted by name */
    size_t nactions;
    unsigned max_depth;
};

extern const struct fg_ocpp_schema_tables fg_ocpp_schema_v201;
extern const struct fg_ocpp_schema_tables fg_ocpp_schema_v21;
#endif

#endif
