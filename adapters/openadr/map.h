/* OpenADR events -> model signals: the pure part of the VEN.
 *
 * No clock, no I/O: the caller passes what the mapping depends on (the
 * site's connection limit and present power, the chosen start-after offset).
 * See docs/openadr.md "Events -> signals" for the table this implements. */
#ifndef FG_OADR_MAP_H
#define FG_OADR_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_openadr.h"
#include "model.h"

enum fg_oadr_policy { FG_OADR_POLICY_AUTO = 0, FG_OADR_POLICY_IN, FG_OADR_POLICY_OUT };

struct fg_oadr_map_opts {
    const char *ven_id;       /* ours; may be NULL before registration */
    const char *site_id;      /* accepted as a resourceID target */
    const char *groups;       /* ours, comma-separated (openadr.groups); NULL none */
    double import_limit_w;    /* site.import_limit_w */
    double site_power_w;      /* now, for LOAD_DISPATCH delta; NAN: unknown (0) */
    double level_fraction[3]; /* SIMPLE levels 1..3 */
    double tariff_import;     /* for priceRelative / priceMultiplier; NAN: none */
    /* CHARGE_STATE: the stationary batteries' total capacity (Wh; 0: none,
     * the signal is skipped) and their state of charge now (%, NAN:
     * unknown, delta / multiplier are skipped) */
    double battery_capacity_wh;
    double battery_soc_pct;
    int64_t start_offset_s; /* start-after randomisation, in [0, start_after] */
    int64_t open_ended_s;   /* length of an interval or event without one */
};

#define FG_OADR_MAP_MAX 8 /* model signals from one event at most */

/* Whether the event is meant for us: no target at all, or our venID /
 * partyID, or the site's id as resourceID, or one of our groups as groupID
 * or groupName. An event that names only groups we are not in (or other
 * VENs, parties, resources) is not. */
bool fg_oadr_event_targets_us(const struct fg_openadr_event *ev,
                              const struct fg_oadr_map_opts *o);

/* Map one event's signals to model signals (source openadr, modification =
 * the event's, priority from the event's: 1 (highest in OpenADR) -> 999,
 * none or 0 -> 0). out holds FG_OADR_MAP_MAX; *n is how many were filled.
 * Signal ids: the eventID when the event gives one model signal, else
 * "<eventID>/<signalID>". Signals that have no model meaning (BID_*,
 * DEMAND_CHARGE, x- names, LOAD_CONTROL offsets; CHARGE_STATE at a site
 * without stationary batteries) are skipped and
 * counted in *skipped. Returns 0, or FG_EINVAL with the reason (an interval
 * without a usable length) in *err. Cancelled / completed events give n = 0:
 * the caller cancels what it had. */
int fg_oadr_map_event(const struct fg_openadr_event *ev, const struct fg_oadr_map_opts *o,
                      struct fg_signal *out, size_t *n, size_t *skipped,
                      struct fg_error *err);

/* The opt decision for one mapped event: policy in/out decide alone; auto
 * opts out when an interval of the event's signals overlaps one of the
 * n_unavailable windows (openadr.unavailable: the site is in maintenance),
 * or when a grid limit of the event is below inflexible_w (the load the
 * site cannot shed), writing the reason to why (n bytes). */
enum fg_openadr_opt fg_oadr_decide(enum fg_oadr_policy policy, const struct fg_signal *s,
                                   size_t n, double inflexible_w,
                                   const struct fg_openadr_window *unavailable,
                                   size_t n_unavailable, char *why, size_t why_n);

#endif
