/* What the OCPP adapter offers beyond the adapter interface: its stations
 * and operator calls, for the REST API (GET /api/v1/ocpp/stations,
 * POST /api/v1/ocpp/stations/{id}/calls, GET /api/v1/ocpp/calls/{n}).
 * `state` is the adapter's (fg_gw_adapter_state(gw, "ocpp")). Loop thread. */
#ifndef FG_OCPP_ADAPTER_H
#define FG_OCPP_ADAPTER_H

#include <cjson/cJSON.h>

#include "fg_err.h"

/* The stations seen since start: id, connected, booted, protocol, vendor,
 * model, calls queued. A new array, or NULL (out of memory). */
cJSON *fg_ocpp_stations_json(void *state);

/* Queue an operator CALL (action one of the CSMS-initiated actions an
 * operator may send: Reset, GetVariables, ...) to a station; payload is
 * taken, also on failure, and validated against the request schema of the
 * station's OCPP version first. On success *id names the call for
 * fg_ocpp_call_json(). Errors: FG_EINVAL (action not allowed, or payload
 * invalid: err->path is the JSON pointer into the payload), FG_ENOTFOUND (no
 * such station), FG_ESTATE (not connected / not booted), FG_EFULL (queue
 * full), FG_ENOMEM. */
int fg_ocpp_operator_call(void *state, const char *station, const char *action,
                          cJSON *payload, unsigned *id, struct fg_error *err);

/* An operator call by id: {id, station, action, state ("queued", "sent",
 * "answered", "failed"), result (the station's answer), error}. NULL when the
 * id is unknown or too old (the newest 256 are kept). */
cJSON *fg_ocpp_call_json(void *state, unsigned id);

#endif
