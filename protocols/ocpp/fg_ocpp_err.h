/* OCPP-J CALLERROR codes (OCPP 2.0.1 / 2.1 part 4, RPC framework), shared by
 * the framing codec and the schema validators. A failed decode or validation
 * says which code to answer with, plus a description and the JSON path. */
#ifndef FG_OCPP_ERR_H
#define FG_OCPP_ERR_H

#define FG_OCPP_ERRORS(X)                                                                \
    X(FORMAT_VIOLATION, "FormatViolation")                                               \
    X(GENERIC_ERROR, "GenericError")                                                     \
    X(INTERNAL_ERROR, "InternalError")                                                   \
    X(MESSAGE_TYPE_NOT_SUPPORTED, "MessageTypeNotSupported")                             \
    X(NOT_IMPLEMENTED, "NotImplemented")                                                 \
    X(NOT_SUPPORTED, "NotSupported")                                                     \
    X(OCCURRENCE_CONSTRAINT_VIOLATION, "OccurrenceConstraintViolation")                  \
    X(PROPERTY_CONSTRAINT_VIOLATION, "PropertyConstraintViolation")                      \
    X(PROTOCOL_ERROR, "ProtocolError")                                                   \
    X(RPC_FRAMEWORK_ERROR, "RpcFrameworkError")                                          \
    X(SECURITY_ERROR, "SecurityError")                                                   \
    X(TYPE_CONSTRAINT_VIOLATION, "TypeConstraintViolation")

enum fg_ocpp_errcode {
    FG_OCPP_OK = 0,
#define FG_X_(sym, text) FG_OCPP_##sym,
    FG_OCPP_ERRORS(FG_X_)
#undef FG_X_
};

/* "FormatViolation" etc.; "" for FG_OCPP_OK. */
const char *fg_ocpp_errcode_name(enum fg_ocpp_errcode c);
/* Parse a CALLERROR code name; 0 or -1 (unknown name). */
int fg_ocpp_errcode_parse(const char *s, enum fg_ocpp_errcode *out);

/* What went wrong with an inbound frame or payload. */
struct fg_ocpp_verror {
    enum fg_ocpp_errcode code;
    char path[160]; /* JSON pointer into the payload, "" for the frame */
    char desc[256]; /* for the CALLERROR's errorDescription (<= 255 chars) */
};

#endif
