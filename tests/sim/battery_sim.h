/* battery_sim: a simulated battery behind a Modbus/TCP server (README.md),
 * optionally with a PV inverter and a site meter as further unit ids on the
 * same port. battery_sim.c owns the command line, the loop, the physics,
 * the commands and the events; battery_regs.c lays each unit's state out in
 * registers (battery: SunSpec 1 + 802 + 124 or 704, or a register-map file;
 * PV: 1 + 103 + 704; meter: 1 + 203) and reads the writes back. */
#ifndef BATTERY_SIM_H
#define BATTERY_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include <modbus.h>

#include "fg_regmap.h"
#include "fg_sunspec.h"

#define BSIM_MODELS 3    /* at most per unit: 1, 802, 124 | 704 */
#define BSIM_WHY_MAX 128 /* bytes of a refusal's reason */

/* The battery, in model units: W (+ = charging), Wh, %, C, s. */
struct bsim_battery {
    double capacity_wh, soc, soh, eff;    /* eff: one way, 0..1 */
    double max_charge_w, max_discharge_w; /* hardware ratings */
    double charge_limit_w;                /* commanded limit (124 WChaMax) */
    double temp_c, ambient_c;
    double cmd_w;     /* the commanded set-point */
    double w;         /* the power flowing now */
    double revert_s;  /* 0 = never */
    double cmd_at;    /* sim seconds of the last set-point write */
    bool cmd_active;  /* a non-default set-point is in force */
    uint32_t alarm;   /* 802 Evt1 bits */
    double voltage_v; /* nominal DC voltage */
};

/* The PV inverter, DER convention (model 103/704): W and var + = injected. */
struct bsim_pv {
    double rated_w, var_max;    /* ratings */
    double irradiance;          /* W/m2; 1000 = rated_w available */
    double w, var;              /* now */
    bool lim_ena;               /* 704 WMaxLimPctEna */
    double lim_pct, lim_rvrt_s; /* 704 WMaxLimPct, WMaxLimPctRvrtTms (0 = never) */
    double lim_at, lim_real_at; /* sim / real seconds of the last limit write */
    bool var_ena;               /* 704 VarSetEna */
    double var_cmd, var_rvrt_s; /* 704 VarSet (VARS mode), VarSetRvrtTms */
    double var_at, var_real_at;
};

/* The site meter, load convention (model 203): W and VAR + = import. */
struct bsim_meter {
    double base_w, base_var; /* the site's own load */
    double w, var, v[3], a[3];
};

enum bsim_kind { BSIM_BATTERY, BSIM_PV, BSIM_METER };

struct bsim {
    enum bsim_kind kind;
    uint16_t ids[BSIM_MODELS]; /* the SunSpec models, in chain order */
    int n_models;
    bool use704; /* battery: 704 WSet instead of 124 */
    double real; /* monotonic seconds now (for --revert-real) */
    bool rvrt_real;
    struct bsim_battery bat;
    struct bsim_pv pv;
    struct bsim_meter meter;
    modbus_mapping_t *mb; /* the whole address space of every table */
    /* which addresses exist / may be written: one byte per address of the
     * four tables (holding, input, coil, discrete) */
    uint8_t *defined[4], *writable[4];
    bool garbage, chain_broken;
    double now; /* simulated seconds since start */
    /* SunSpec */
    bool sunspec;
    uint16_t base;
    uint32_t model_addr[BSIM_MODELS];
    uint16_t model_len[BSIM_MODELS];
    /* register map */
    struct fg_regmap map;
    int unit;
    int port;
};

/* Lay out the tables (SunSpec when s->sunspec, else s->map) and publish.
 * s->kind, s->ids and s->n_models are set by the caller. */
int bsim_regs_init(struct bsim *s);
/* Write the battery's state into the registers (garbage when s->garbage). */
void bsim_regs_publish(struct bsim *s);
/* A write of n values at addr of table t (0 holding, 2 coil) is about to
 * be applied: 0 to accept, else the Modbus exception code to answer. why
 * (BSIM_WHY_MAX bytes) says what was refused. vals are host order. */
int bsim_regs_check_write(struct bsim *s, int t, int addr, int n, const uint16_t *vals,
                          char *why);
/* After an accepted write: take set-points, limits and revert time from the
 * registers. Returns 1 when a set-point was (re)written. */
int bsim_regs_applied(struct bsim *s, int t, int addr, int n);
/* Fall back to the safe default (0 W) in the registers too. */
void bsim_regs_revert(struct bsim *s);
/* PV: step the revert timers and the output (from irradiance and the
 * limit). Returns a bit set: 1 = the limit reverted, 2 = the var set-point
 * reverted. */
int bsim_pv_step(struct bsim *s);
/* Corrupt (on) or repair the SunSpec model chain. */
void bsim_regs_break_chain(struct bsim *s, bool on);

#endif
