/* JSON views of the flexibility model (REST API, MQTT, persistence) and the
 * strict decoder for signals coming from outside (API, MQTT, store). */
#ifndef FG_MODEL_JSON_H
#define FG_MODEL_JSON_H

#include <cjson/cJSON.h>

#include "model.h"

/* Views; NULL on allocation failure. Times are epoch seconds (integers);
 * NAN values are written as null. */
cJSON *fg_asset_to_json(const struct fg_asset *a);
cJSON *fg_signal_to_json(const struct fg_signal *s);
cJSON *fg_limits_to_json(const struct fg_limits *l);
cJSON *fg_plan_to_json(const struct fg_plan *p);
/* Arrays of every asset / signal of the model. */
cJSON *fg_assets_to_json(const struct fg_model *m);
cJSON *fg_signals_to_json(const struct fg_model *m);
/* The whole model: site (with effective limits at `now` and site power),
 * assets, signals, plan summary. */
cJSON *fg_model_to_json(const struct fg_model *m, int64_t now);

/* Decode a signal. Keys: id (string, required), type (required), source
 * (default "api"), priority (int, default 0), target (asset id, default ""),
 * status ("cancelled" only; else derived), modification (uint), intervals
 * (required, array of {start, duration_s, value, export_value}). Times are
 * epoch seconds or RFC 3339 UTC strings ("2026-11-25T17:00:00Z"). Unknown
 * keys, wrong types and out-of-range values are errors naming the JSON path.
 * Structural checks only; fg_model_signal_put() checks the semantics.
 * So that fg_signal_to_json() output decodes again (store, round trips):
 * created and updated (times, default 0) are accepted, and status may be any
 * status name, but only "cancelled" is kept (others decode as PENDING).
 * value and export_value may be null (NAN); export_value defaults to NAN.
 * out is zeroed first and may be partly filled on error. */
int fg_signal_from_json(const cJSON *j, struct fg_signal *out, struct fg_error *err);

/* Parse an RFC 3339 time with Z or +hh:mm offset to epoch seconds. */
int fg_time_parse_rfc3339(const char *s, int64_t *out);
/* Format epoch seconds as "YYYY-MM-DDTHH:MM:SSZ" into buf (>= 21 bytes). */
void fg_time_format_rfc3339(int64_t t, char *buf, size_t len);

#endif
