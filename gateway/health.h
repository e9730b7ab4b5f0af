/* Battery health: the ageing state (protocols/ageing, fg_ageing.h) of every
 * battery asset and of every EV charged at the site.
 *
 * The gateway's tick feeds it the model once per second: each online battery
 * with a known SoC, and each online EVSE with an active session and a known
 * EV SoC, gives
 * one sample (SoC, power with + = charging, temperature). An EV is known by
 * its session's id token (else the session id); its state outlives the
 * session, in a table of FG_HEALTH_EVS_MAX EVs where the one seen least
 * recently makes room. A SoH that a battery reports (below 100 %, changed,
 * at most once a day) becomes a measured checkpoint and the model is fitted
 * to the checkpoints. States are saved in the store (fg_health_save: every
 * FG_HEALTH_SAVE_S and at reload and shutdown) and read back at start; a
 * stored state that does not load is logged with the reason and the battery
 * starts afresh.
 *
 * Loop thread only. Entry pointers are valid until the next call that may
 * add or remove entries (configure, tick, load). */
#ifndef FG_HEALTH_H
#define FG_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "fg_ageing.h"
#include "fg_err.h"
#include "model.h"
#include "store.h"

#define FG_HEALTH_EVS_MAX 256
#define FG_HEALTH_KEY_MAX 48     /* an id token or session id (40) fits */
#define FG_HEALTH_SAVE_S 300     /* real seconds between two saves */
#define FG_HEALTH_SOH_CP_S 86400 /* at most one device SoH checkpoint per this */

struct fg_health_entry {
    bool ev;                     /* an EV (else a battery asset) */
    char key[FG_HEALTH_KEY_MAX]; /* battery: the asset id; EV: token or session id */
    char asset[FG_ID_MAX];       /* EV: the EVSE it was last seen on */
    bool started;    /* st holds a state (else it starts at the next sample) */
    bool dirty;      /* changed since the last save */
    bool configured; /* battery: still in the config */
    const struct fg_age_params *params; /* the model configured for it */
    double capacity_wh;                 /* nominal, configured or reported */
    int64_t seen;                       /* clock s of the last sample (LRU of EVs) */
    double dev_soh;   /* battery: last SoH %, taken as a checkpoint; NAN none */
    int64_t dev_cp_t; /* battery: when that checkpoint was taken */
    /* forecast cache (the health API): valid while fc_mono_ms is recent */
    int64_t fc_mono_ms;
    int fc_rc;
    struct fg_age_forecast fc;
    struct fg_age_state st;
};

struct fg_health {
    struct fg_health_entry *v; /* batteries and EVs */
    size_t n, cap;
    uint32_t *idx; /* open addressing: entry index + 1, 0 = empty */
    size_t idx_cap;
    size_t n_ev;
    int64_t last_save_mono_ms;
    /* EVs evicted from memory, deleted from the store at the next save */
    size_t n_gone;
    char gone[FG_HEALTH_EVS_MAX][FG_HEALTH_KEY_MAX];
};

void fg_health_init(struct fg_health *h);
void fg_health_clear(struct fg_health *h);

/* Take the battery assets of cfg (borrowed for this call): new ones get an
 * entry, removed ones are dropped from memory (their rows stay in the
 * store), a changed model or capacity applies from now (a new model starts
 * from the old state's SoH as prior loss). Returns 0 or FG_ENOMEM. */
int fg_health_configure(struct fg_health *h, const struct fg_config *cfg);

/* Read the stored states (after fg_health_configure). Rows that do not load
 * are logged with the reason and recorded as events; those batteries start
 * afresh. Returns 0 or the store's error. */
int fg_health_load(struct fg_health *h, struct fg_store *s, const struct fg_config *cfg,
                   int64_t now_ms);

/* One tick at clock time now: feed every battery and EV of the model. */
void fg_health_tick(struct fg_health *h, const struct fg_model *m,
                    const struct fg_config *cfg, int64_t now);

/* Save every changed state in one batch; `force` saves even before
 * FG_HEALTH_SAVE_S has passed since the last save. Returns 0 or the store's
 * error (the states stay dirty then). */
int fg_health_save(struct fg_health *h, struct fg_store *s, int64_t now_ms, bool force);

/* The entry of battery asset a, or for an EVSE the EV plugged in now (else
 * the one seen last on it). NULL with the reason in err: FG_EUNSUPPORTED
 * (not a battery or EVSE, or a battery without an ageing model), FG_ESTATE
 * (no measurement yet / no EV seen). */
struct fg_health_entry *fg_health_find(struct fg_health *h, const struct fg_asset *a,
                                       struct fg_error *err);

/* Record a measured SoH (%, in (0, 100]) on e and refit. The fit's own
 * refusal (nothing to fit yet) is not an error: fit_msg (may be NULL, 128
 * bytes) says why it did not fit, "" when it did. Errors (FG_EINVAL bad
 * value, FG_ESTATE no sample yet, the library's) in err with path
 * "/soh_pct". */
int fg_health_checkpoint(struct fg_health_entry *e, double soh_pct, char *fit_msg,
                         struct fg_error *err);

/* Save one entry now (a checkpoint acknowledged to a client). */
int fg_health_save_entry(struct fg_health_entry *e, struct fg_store *s, int64_t now_ms);

/* The health document of an entry (the API's GET .../health); ageing the
 * ageing settings that apply to it (eol_soh, replacement_cost). NULL on
 * allocation failure. */
cJSON *fg_health_json(struct fg_health_entry *e, const struct fg_cfg_ageing *ageing,
                      int64_t now);

/* The ageing settings for an entry: the battery's, or site.ev_ageing. */
const struct fg_cfg_ageing *fg_health_cfg(const struct fg_config *cfg,
                                          const struct fg_health_entry *e);

#endif
