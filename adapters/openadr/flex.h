/* The site's flexibility now, for the VEN's TELEMETRY_STATUS report.
 *
 * Pure: reads the model and the time it is given, nothing else. See
 * docs/openadr.md "Reports" for how the numbers go on the wire. */
#ifndef FG_OADR_FLEX_H
#define FG_OADR_FLEX_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

struct fg_oadr_flex {
    bool online;         /* at least one asset is online */
    double power_w;      /* the site's net power now, W (+ import) */
    double min_w, max_w; /* the lowest / highest net power the site can be set to
                            now: every online asset moved to the bottom / top of
                            its envelope, kept within the effective site limits */
    double up_w;         /* max_w - power_w: how much more it can consume, >= 0 */
    double down_w;       /* power_w - min_w: how much it can reduce, >= 0 */
    double import_max_w; /* the effective import limit now (fg_model_limits_at) */
};

/* Fill *out for time now. Assets that are offline count with their measured
 * power and no flexibility; an unknown power counts as 0. When the site is
 * already beyond a limit the flexibility towards it is 0 (never negative). */
void fg_oadr_flex_now(const struct fg_model *m, int64_t now, struct fg_oadr_flex *out);

#endif
