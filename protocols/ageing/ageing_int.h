/* Inside the ageing library: the shape of a parameter set. */
#ifndef FG_AGEING_INT_H
#define FG_AGEING_INT_H

#include "fg_ageing.h"

struct fg_age_const {
    const char *name;
    double value;
    const char *unit;
};

/* One published model. Calendar damage is k_cal * x^z_cal with x the storage
 * time in units of cal_unit_s seconds; cycle damage is k_cyc * x^z_cyc with x
 * = cyc_x(dod, count), the throughput measure the model was fitted on. */
struct fg_age_params {
    const char *name;
    const char *chemistry;
    const char *cell;
    const char *source;
    const char *equations;
    double z_cal, z_cyc;
    double cal_unit_s;
    bool sei; /* loss = Xu et al.'s two-exponential form of the damage */
    double sei_alpha, sei_beta;
    double (*k_cal)(double temp_k, double soc);
    double (*k_cyc)(double temp_k, double mean_soc, double dod, double crate);
    double (*cyc_x)(double dod, double count);
    const struct fg_age_const *consts;
    size_t n_consts;
};

/* loss fraction of a (scaled) damage under p's g */
double fg_age_g(const struct fg_age_params *p, double f);
/* d g / d f */
double fg_age_dg(const struct fg_age_params *p, double f);
/* The increment of a power-law state y = k x^z over dx, computed without
 * cancellation (for marginal costs on an aged state). */
double fg_age_powerlaw_delta(double y, double k, double z, double dx);
/* g(f0 + df) - g(f0), without cancellation. */
double fg_age_g_delta(const struct fg_age_params *p, double f0, double df);
/* Advance a power-law state y = k x^z by dx with the equivalent-x method. */
double fg_age_powerlaw_step(double y, double k, double z, double dx);

/* Book calendar ageing for dt_s at constant conditions, and count cycles of
 * one kind (both also feed the recent-usage statistics). */
void fg_age_book_cal(struct fg_age_state *st, double dt_s, double temp_c, double soc);
void fg_age_book_cyc(struct fg_age_state *st, double dod, double mean_soc, double crate,
                     double temp_c, double count);

#endif
