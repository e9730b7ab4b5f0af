/* The site's flexibility now (see flex.h). */
#include "flex.h"

#include <math.h>

static double finite_or_0(double v)
{
    return isfinite(v) ? v : 0;
}

void fg_oadr_flex_now(const struct fg_model *m, int64_t now, struct fg_oadr_flex *out)
{
    double up = 0, down = 0;
    bool online = false;
    for (size_t i = 0; i < m->n_assets; i++) {
        const struct fg_asset *a = &m->assets[i];
        if (!a->online)
            continue;
        online = true;
        double p = finite_or_0(a->power_w);
        struct fg_envelope e = fg_asset_envelope_at(a, now, now);
        up += fmax(0, finite_or_0(e.max_w) - p);
        down += fmax(0, p - finite_or_0(e.min_w));
    }
    struct fg_limits lim;
    fg_model_limits_at(m, now, &lim);
    double p = finite_or_0(fg_model_site_power(m));
    /* Within the site's limits: up to the import limit, down to the export
     * limit (as a negative net power); a site already past one has no room
     * that way, but keeps what it has the other way. */
    double max = fmax(p, fmin(p + up, lim.import_max_w));
    double min = fmin(p, fmax(p - down, -lim.export_max_w));
    *out = (struct fg_oadr_flex){
        .online = online,
        .power_w = p,
        .min_w = min,
        .max_w = max,
        .up_w = max - p,
        .down_w = p - min,
        .import_max_w = lim.import_max_w,
    };
}
