/* battery_sim: a simulated battery behind a Modbus/TCP server (README.md).
 * battery_sim.c owns the command line, the loop, the physics, the commands
 * and the events; battery_regs.c lays the state out in registers (SunSpec
 * 1 + 802 + 124, or a register-map file) and reads the writes back. */
#ifndef BATTERY_SIM_H
#define BATTERY_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include <modbus.h>

#include "fg_regmap.h"
#include "fg_sunspec.h"

#define BSIM_MODELS 3    /* 1, 802, 124 */
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

struct bsim {
    struct bsim_battery bat;
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

/* Lay out the tables (SunSpec when s->sunspec, else s->map) and publish. */
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
/* Corrupt (on) or repair the SunSpec model chain. */
void bsim_regs_break_chain(struct bsim *s, bool on);

#endif
