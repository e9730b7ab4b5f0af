/* OCPP-J framing (OCPP 2.0.1 / 2.1 part 4, "JSON over WebSocket RPC"): one
 * WebSocket text frame is one JSON array
 *
 *   CALL             [2, "<id>", "<Action>", {payload}]
 *   CALLRESULT       [3, "<id>", {payload}]
 *   CALLERROR        [4, "<id>", "<errorCode>", "<errorDescription>", {errorDetails}]
 *   CALLRESULTERROR  [5, "<id>", "<errorCode>", "<errorDescription>", {errorDetails}]
 *   SEND             [6, "<id>", "<Action>", {payload}]
 *
 * (5 and 6 exist only in OCPP 2.1). This codec is pure: bytes in, struct out
 * and back; no sockets, clock, globals or logging. It checks the frame only;
 * the payload against its action's schema is schema.h's job, and whether an
 * action is known is the caller's (answer NotImplemented).
 *
 * Strictness. A frame must be RFC 8259 JSON in UTF-8: raw control characters
 * in strings, a byte-order mark, lax numbers ("01", "1.", "+1"), bytes other
 * than JSON whitespace between tokens and trailing data are rejected. "\u0000"
 * is rejected too, since cJSON strings are NUL-terminated and would silently
 * truncate. Numbers may be of any length (read with strtod); a number beyond
 * +-1e308 is a FormatViolation (cJSON prints 15 significant digits where they
 * read back within DBL_EPSILON, so larger values could overflow after a round
 * trip). Containers may nest at most FG_OCPPJ_DEPTH_MAX levels inside a payload
 * (the payload object being level 1); deeper frames are refused by a linear
 * scan before the tree is built (fg_json.h, in the message's arena).
 *
 * Duplicate keys. cJSON keeps every member of {"a":1,"a":2}, in order, and
 * cJSON_GetObjectItem finds the first; the codec passes the payload through
 * unchanged. The schema validator must reject duplicates (FormatViolation) so
 * that no two readers of one payload disagree about its content.
 *
 * Thread safety: none needed (no state of its own). */
#ifndef FG_OCPPJ_H
#define FG_OCPPJ_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fg_buf.h"
#include "fg_json.h"
#include "fg_ocpp_err.h"

enum fg_ocppj_type {
    FG_OCPPJ_NONE = 0, /* not (yet) known: unreadable or unsupported type */
    FG_OCPPJ_CALL = 2,
    FG_OCPPJ_CALLRESULT = 3,
    FG_OCPPJ_CALLERROR = 4,
    FG_OCPPJ_CALLRESULTERROR = 5, /* OCPP 2.1 */
    FG_OCPPJ_SEND = 6,            /* OCPP 2.1, never answered */
};

enum fg_ocppj_dialect { FG_OCPPJ_201, FG_OCPPJ_21 };

/* What the caller must send back for a frame that failed to decode; see
 * fg_ocppj_decode(). */
enum fg_ocppj_answer {
    FG_OCPPJ_ANSWER_NONE = 0,        /* drop it (and log) */
    FG_OCPPJ_ANSWER_CALLERROR,       /* [4, out->id, err->code, err->desc, {}] */
    FG_OCPPJ_ANSWER_CALLRESULTERROR, /* [5, out->id, err->code, err->desc, {}] (2.1) */
};

#define FG_OCPPJ_ID_MAX 36
#define FG_OCPPJ_ID_UNREAD "-1" /* the id of a CALLERROR about an unreadable id */
#define FG_OCPPJ_ACTION_MAX 64
#define FG_OCPPJ_DESC_MAX 255
#define FG_OCPPJ_DEPTH_MAX 32

struct fg_ocppj_msg {
    enum fg_ocppj_type type;
    char id[FG_OCPPJ_ID_MAX + 1];         /* "" if unreadable */
    char action[FG_OCPPJ_ACTION_MAX + 1]; /* CALL, SEND */
    cJSON *payload;                       /* CALL, SEND, CALLRESULT: an object */
    /* CALLERROR, CALLRESULTERROR. An errorCode this build does not know is
     * reported as GENERIC_ERROR; error_code_text always keeps the peer's text
     * (cut to 39 bytes on a UTF-8 boundary). error_desc is cut to 255 bytes on
     * a UTF-8 boundary: longer descriptions are accepted, not refused. */
    enum fg_ocpp_errcode error_code;
    char error_code_text[40];
    char error_desc[FG_OCPPJ_DESC_MAX + 1];
    cJSON *error_details;        /* an object */
    enum fg_ocppj_answer answer; /* set by a failed decode */
    /* payload and error_details live here (fg_json.h): read them, copy what
     * must outlive the message (cJSON_Duplicate), never cJSON_Delete them.
     * They are valid until the next decode into the same struct, which
     * reuses the memory, or fg_ocppj_msg_clear(). */
    struct fg_arena arena;
};

/* Initialise *m to an empty message (no allocation). */
void fg_ocppj_msg_init(struct fg_ocppj_msg *m);
/* Free all *m holds and re-initialise it. Decoding into one struct again and
 * again, clearing it once at the end, allocates nothing for small frames. */
void fg_ocppj_msg_clear(struct fg_ocppj_msg *m);

/* Decode one frame of len bytes (buf need not be NUL-terminated; a NUL byte
 * inside is an error). *out must have been initialised; what it held is
 * forgotten first (its memory is reused), so one struct can serve one frame
 * after another; the caller clears it once at the end. On success returns 0 and fills out
 * (payload / error_details are in out's arena); err (may be NULL) gets code FG_OCPP_OK.
 *
 * On failure returns a negative FG_E* code (FG_EPARSE: not JSON or not an
 * OCPP-J frame; FG_ETYPE: an element of the wrong JSON type; FG_ERANGE: id or
 * number out of range; FG_ETOOBIG: nested too deep; FG_EUNSUPPORTED: message
 * type not supported; FG_EUNKNOWN: impossible action name; FG_ENOMEM: out of
 * memory, code InternalError) and fills *err
 * with the CALLERROR code and an errorDescription (path "" = the frame). The
 * message id is in out->id whenever it could be read, also from a frame that
 * is otherwise not valid JSON; out->type is set when the type is supported.
 * out->answer says what to do:
 *   CALLERROR        the frame was a CALL, its type number is unknown
 *                    (MessageTypeNotSupported, e.g. 9, or 5/6 in 2.0.1), or
 *                    what it was cannot be told (not an array, type not an
 *                    integer). When its id could not be read or is not a
 *                    valid id (empty, too long, control characters), out->id
 *                    is FG_OCPPJ_ID_UNREAD, "-1" (OCPP-J 4.2.3);
 *   CALLRESULTERROR  2.1 only: a CALLRESULT whose id was read (OCPP 2.1 FR.06);
 *   NONE             otherwise: a CALLRESULT (2.0.1, or any without a
 *                    readable id), CALLERROR, CALLRESULTERROR or SEND. Never
 *                    answer those with a CALLERROR; drop and log.
 * Error codes: RpcFrameworkError for anything wrong with the frame itself
 * (not JSON/UTF-8, not an array, wrong element count or element type, bad id,
 * trailing data); MessageTypeNotSupported for an integer type outside the
 * dialect; NotImplemented for an action string that cannot be an action name
 * (empty, > 64 characters, not [A-Za-z0-9]): it is an unknown action, which
 * the caller would answer the same way; FormatViolation for a payload or
 * errorDetails that is not an object, nests too deep or holds a number
 * beyond +-1e308. */
int fg_ocppj_decode(const char *buf, size_t len, enum fg_ocppj_dialect d,
                    struct fg_ocppj_msg *out, struct fg_ocpp_verror *err);

/* Encoders append one complete frame to b (normally empty). id: 1..36
 * printable ASCII characters; action: 1..64 of [A-Za-z0-9]; payload: an
 * object, or NULL for {}; it is borrowed and serialised straight into b with
 * cJSON_PrintPreallocated (no other allocation). Strings in the payload must
 * be UTF-8. Returns 0, FG_EINVAL (bad argument; b untouched), FG_ETOOBIG (the
 * frame would exceed b's maximum) or FG_ENOMEM; after the last two b is marked
 * failed as fg_buf appends do (FG_ENOMEM also if b had failed before). */
int fg_ocppj_encode_call(struct fg_buf *b, const char *id, const char *action,
                         const cJSON *payload);
/* As fg_ocppj_encode_call, for an OCPP 2.1 SEND (type 6). */
int fg_ocppj_encode_send(struct fg_buf *b, const char *id, const char *action,
                         const cJSON *payload);
/* A CALLRESULT answering the CALL with this id. */
int fg_ocppj_encode_result(struct fg_buf *b, const char *id, const cJSON *payload);
/* A CALLERROR or (2.1) CALLRESULTERROR; t must be one of those. code must be
 * a defined fg_ocpp_errcode other than FG_OCPP_OK. desc may be NULL (""); a
 * description longer than 255 bytes is cut on a UTF-8 boundary and invalid
 * UTF-8 bytes in it are written as '?' (not errors). details: an object,
 * or NULL for {}. Errors as for fg_ocppj_encode_call. */
int fg_ocppj_encode_error(struct fg_buf *b, enum fg_ocppj_type t, const char *id,
                          enum fg_ocpp_errcode code, const char *desc,
                          const cJSON *details);

/* Message id for one of our CALLs: "<prefix as 16 hex digits>-<counter in
 * hex>", at most 33 characters. Unique for as long as the (prefix, counter)
 * pairs are: the caller draws a random prefix per connection and counts up.
 * Writes out (always NUL-terminated); never fails. */
void fg_ocppj_make_id(char out[FG_OCPPJ_ID_MAX + 1], uint64_t prefix, uint64_t counter);

#endif
