/* The published ageing models, as published: their equations, units and
 * fitted constants. docs/battery-model.md has the same list with the
 * conditions each model was fitted on and what it cannot know. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "ageing_int.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* ---- NMC: Schmalstieg et al. 2014 ------------------------------------------
 * J. Schmalstieg, S. Kaebitz, M. Ecker, D. U. Sauer, "A holistic aging model
 * for Li(NiMnCo)O2 based 18650 lithium-ion batteries", J. Power Sources 257
 * (2014) 325-334, doi:10.1016/j.jpowsour.2014.02.012. Sanyo UR18650E, 2.05 Ah
 * (2.15 Ah nominal as used by NREL BLAST-Lite, nmc111_gr_Sanyo2Ah_2014.py).
 *   calendar: C_loss = alpha_cap * t^0.75, t in days,
 *             alpha_cap = (7.543 V - 23.75) 1e6 exp(-6976 / T)
 *   cycle:    C_loss = beta_cap * Q^0.5, Q = charge throughput in Ah,
 *             beta_cap = 7.348e-3 (V_rms - 3.667)^2 + 7.600e-4 + 4.081e-3 DoD
 * V is the cell's open-circuit voltage at the storage SoC and V_rms the
 * quadratic mean voltage over the cycle. The OCV curve is the paper's Fig. 1
 * as digitised in BLAST-Lite (with Ecker et al. 2014 below 10 % SoC),
 * resampled here every 5 % SoC. Cycle ageing was measured at 35 C and 1C
 * only: it does not depend on temperature or C-rate. */
static const double sanyo_ocv[21] = {
    3.3310, 3.4197, 3.4910, 3.5436, 3.5812, 3.6079, 3.6267,
    3.6411, 3.6552, 3.6726, 3.6974, 3.7322, 3.7747, 3.8209,
    3.8688, 3.9154, 3.9649, 4.0194, 4.0730, 4.1183, 4.1620,
};

static double sanyo_v(double soc)
{
    double x = clamp01(soc) * 20.0;
    int i = (int)x;
    if (i >= 20)
        return sanyo_ocv[20];
    return sanyo_ocv[i] + (sanyo_ocv[i + 1] - sanyo_ocv[i]) * (x - i);
}

static const struct fg_age_const schmalstieg_c[] = {
    {"qcal_A_V", 7.543, "1/V"},    {"qcal_B", -23.75, "1"},
    {"qcal_scale", 1e6, "1"},      {"qcal_C", -6976, "K"},
    {"qcal_z", 0.75, "1"},         {"qcyc_A", 7.348e-3, "1/V^2"},
    {"qcyc_B", 3.667, "V"},        {"qcyc_C", 7.600e-4, "1"},
    {"qcyc_D_DoD", 4.081e-3, "1"}, {"qcyc_z", 0.5, "1"},
    {"cell_capacity", 2.15, "Ah"},
};

static double schmalstieg_k_cal(double temp_k, double soc)
{
    double a = (7.543 * sanyo_v(soc) - 23.75) * 1e6 * exp(-6976.0 / temp_k);
    return a > 0 ? a : 0;
}

/* Quadratic mean of the OCV over a cycle sweeping mean_soc +- dod/2. */
static double sanyo_v_rms(double mean_soc, double dod)
{
    double lo = mean_soc - dod / 2, s = 0;
    for (int i = 0; i < 8; i++) {
        double v = sanyo_v(lo + dod * (i + 0.5) / 8);
        s += v * v;
    }
    return sqrt(s / 8);
}

static double schmalstieg_k_cyc(double temp_k, double mean_soc, double dod, double crate)
{
    (void)temp_k;
    (void)crate;
    double v = sanyo_v_rms(mean_soc, dod);
    return 7.348e-3 * (v - 3.667) * (v - 3.667) + 7.600e-4 + 4.081e-3 * dod;
}

/* Ah through the 2.15 Ah cell: a full cycle of depth dod moves 2 dod C. */
static double schmalstieg_cyc_x(double dod, double count)
{
    return 2.0 * dod * count * 2.15;
}

/* ---- LFP: Naumann et al. 2018 (calendar) and 2020 (cycle) ------------------
 * M. Naumann, M. Schimpe, P. Keil, H. C. Hesse, A. Jossen, "Analysis and
 * modeling of calendar aging of a commercial LiFePO4/graphite cell", J.
 * Energy Storage 17 (2018) 153-169, doi:10.1016/j.est.2018.01.019.
 * M. Naumann, F. B. Spingler, A. Jossen, "Analysis and modeling of cycle
 * aging of a commercial LiFePO4/graphite cell", J. Power Sources 451 (2020)
 * 227666, doi:10.1016/j.jpowsour.2019.227666. Sony/Murata US26650FTC1, 3 Ah.
 *   calendar: Q_loss = k_T(T) k_SoC(SoC) t^0.5, t in s, Q_loss in p.u.,
 *             k_T = 1.2571e-5 exp(-17126 / R (1/T - 1/298.15)),
 *             k_SoC = 2.8575 (SoC - 0.5)^3 + 0.60225
 *   cycle:    Q_loss = k_C(C) k_DoD(DoD) FEC^0.5, Q_loss in %,
 *             k_C = 0.0630 C + 0.0971, k_DoD = 4.0253 (DoD - 0.6)^3 + 1.0923
 * Cycle ageing was measured at 25 C: it does not depend on temperature. */
#define R_GAS 8.3144598
static const struct fg_age_const naumann_c[] = {
    {"kcal_T_ref", 1.2571e-5, "1/s^0.5"},
    {"kcal_Ea", 17126, "J/mol"},
    {"kcal_T0", 298.15, "K"},
    {"kcal_SoC_c", 2.8575, "1"},
    {"kcal_SoC_d", 0.60225, "1"},
    {"zcal", 0.5, "1"},
    {"kcyc_C_a", 0.0630, "%/C"},
    {"kcyc_C_b", 0.0971, "%"},
    {"kcyc_DoD_c", 4.0253, "1"},
    {"kcyc_DoD_d", 1.0923, "1"},
    {"zcyc", 0.5, "1"},
};

static double naumann_k_cal(double temp_k, double soc)
{
    double s = soc - 0.5;
    double kt = 1.2571e-5 * exp(-17126.0 / R_GAS * (1.0 / temp_k - 1.0 / 298.15));
    return kt * (2.8575 * s * s * s + 0.60225);
}

static double naumann_k_cyc(double temp_k, double mean_soc, double dod, double crate)
{
    (void)temp_k;
    (void)mean_soc;
    double d = dod - 0.6;
    return (0.0630 * crate + 0.0971) * (4.0253 * d * d * d + 1.0923) /
           100.0; /* % -> p.u. */
}

static double fec_x(double dod, double count)
{
    return dod * count;
}

/* ---- NCA: NREL BLAST-Lite, Panasonic NCR18650B -----------------------------
 * P. Gasper, NREL, BLAST-Lite (BSD-3-Clause), nca_gr_Panasonic3Ah_2018.py:
 * fitted to the calendar data of P. Keil et al., J. Electrochem. Soc. 163
 * (2016) A1872, doi:10.1149/2.0411609jes, and the cycling data of Y. Preger
 * et al., J. Electrochem. Soc. 167 (2020) 120532, doi:10.1149/1945-7111/abae37.
 *   calendar: q_loss = k_cal t^0.512, t in days,
 *             k_cal = 75.4 exp(-3340 / T) exp(353 SoC / T)
 *   cycle:    q_loss = k_cyc EFC^0.699,
 *             k_cyc = (1.86e-6 + 4.74e-11 C + 1.77e-4 DoD)
 *                     (exp(3.34e-11 / T) + exp(-2.81e-9 / T))
 * (The temperature factor of cycling is practically 2: the fit found no
 * temperature effect in 15..35 C cycling.) */
static const struct fg_age_const nca_c[] = {
    {"qcal_A", 75.4, "1/day^0.512"}, {"qcal_B", -3340, "K"},    {"qcal_C", 353, "K"},
    {"qcal_p", 0.512, "1"},          {"qcyc_A", 1.86e-6, "1"},  {"qcyc_B", 4.74e-11, "h"},
    {"qcyc_C", 1.77e-4, "1"},        {"qcyc_D", 3.34e-11, "K"}, {"qcyc_E", 2.81e-9, "K"},
    {"qcyc_p", 0.699, "1"},
};

static double nca_k_cal(double temp_k, double soc)
{
    return 75.4 * exp(-3340.0 / temp_k) * exp(353.0 * soc / temp_k);
}

static double nca_k_cyc(double temp_k, double mean_soc, double dod, double crate)
{
    (void)mean_soc;
    return (1.86e-6 + 4.74e-11 * crate + 1.77e-4 * dod) *
           (exp(3.34e-11 / temp_k) + exp(-2.81e-9 / temp_k));
}

/* ---- LMO: Xu et al. 2018, with the SEI-formation stage ---------------------
 * B. Xu, A. Oudalov, A. Ulbig, G. Andersson, D. S. Kirschen, "Modeling of
 * lithium-ion battery degradation for cell life assessment", IEEE Trans.
 * Smart Grid 9(2) (2018) 1131-1140, doi:10.1109/TSG.2016.2578950; fitted to
 * NREL's LMO/graphite cell data.
 *   L = 1 - alpha_sei exp(-beta_sei f_d) - (1 - alpha_sei) exp(-f_d)
 *   f_d = f_t + sum over rainflow cycles i of n_i S_DoD(d_i) S_SoC(s_i) S_T(T_i)
 *   f_t = k_t t S_SoC(mean SoC) S_T(mean T), t in s
 *   S_DoD(d) = (k_d1 d^k_d2 + k_d3)^-1, S_SoC(s) = exp(k_s (s - 0.5)),
 *   S_T(T) = exp(k_T (T - T_ref) T_ref / T), temperatures in K
 * alpha_sei = 5.75e-2, beta_sei = 121, k_d1 = 1.40e5, k_d2 = -5.01e-1,
 * k_d3 = -1.23e5, k_s = 1.04, k_T = 6.93e-2, T_ref = 298.15 K, k_t = 4.14e-10/s. */
static const struct fg_age_const xu_c[] = {
    {"alpha_sei", 5.75e-2, "1"}, {"beta_sei", 121, "1"},     {"k_delta1", 1.40e5, "1"},
    {"k_delta2", -5.01e-1, "1"}, {"k_delta3", -1.23e5, "1"}, {"k_sigma", 1.04, "1"},
    {"sigma_ref", 0.5, "1"},     {"k_T", 6.93e-2, "1/K"},    {"T_ref", 298.15, "K"},
    {"k_t", 4.14e-10, "1/s"},
};

static double xu_s_soc(double soc)
{
    return exp(1.04 * (soc - 0.5));
}
static double xu_s_t(double temp_k)
{
    return exp(6.93e-2 * (temp_k - 298.15) * 298.15 / temp_k);
}

static double xu_k_cal(double temp_k, double soc)
{
    return 4.14e-10 * xu_s_soc(soc) * xu_s_t(temp_k);
}

static double xu_k_cyc(double temp_k, double mean_soc, double dod, double crate)
{
    (void)crate;
    if (dod <= 0)
        return 0;
    double s_d = 1.0 / (1.40e5 * pow(dod, -5.01e-1) - 1.23e5);
    return s_d * xu_s_soc(mean_soc) * xu_s_t(temp_k);
}

static double count_x(double dod, double count)
{
    (void)dod;
    return count;
}

/* ---- the table ----------------------------------------------------------- */

static const struct fg_age_params sets[] = {
    {
        .name = "nmc-sanyo-ur18650e-schmalstieg2014",
        .chemistry = "NMC",
        .cell = "Sanyo UR18650E, NMC/graphite, 2.05 Ah",
        .source =
            "J. Schmalstieg et al., A holistic aging model for Li(NiMnCo)O2 based 18650 "
            "lithium-ion batteries, J. Power Sources 257 (2014) 325-334, "
            "doi:10.1016/j.jpowsour.2014.02.012",
        .equations =
            "calendar: alpha_cap t_days^0.75, alpha_cap = (7.543 V - 23.75) 1e6 "
            "exp(-6976/T); cycle: beta_cap Q_Ah^0.5, beta_cap = 7.348e-3 (V_rms - "
            "3.667)^2 + 7.600e-4 + 4.081e-3 DoD",
        .z_cal = 0.75,
        .z_cyc = 0.5,
        .cal_unit_s = 86400,
        .k_cal = schmalstieg_k_cal,
        .k_cyc = schmalstieg_k_cyc,
        .cyc_x = schmalstieg_cyc_x,
        .consts = schmalstieg_c,
        .n_consts = N_OF(schmalstieg_c),
    },
    {
        .name = "lfp-sony-us26650-naumann2020",
        .chemistry = "LFP",
        .cell = "Sony/Murata US26650FTC1, LFP/graphite, 3.0 Ah",
        .source =
            "M. Naumann et al., Analysis and modeling of calendar aging of a commercial "
            "LiFePO4/graphite cell, J. Energy Storage 17 (2018) 153-169, "
            "doi:10.1016/j.est.2018.01.019; M. Naumann et al., Analysis and modeling of "
            "cycle aging of a commercial LiFePO4/graphite cell, J. Power Sources 451 "
            "(2020) "
            "227666, doi:10.1016/j.jpowsour.2019.227666",
        .equations =
            "calendar: k_T k_SoC t_s^0.5, k_T = 1.2571e-5 exp(-17126/R (1/T - "
            "1/298.15)), k_SoC = 2.8575 (SoC-0.5)^3 + 0.60225; cycle [%]: (0.0630 C + "
            "0.0971) (4.0253 (DoD-0.6)^3 + 1.0923) FEC^0.5",
        .z_cal = 0.5,
        .z_cyc = 0.5,
        .cal_unit_s = 1,
        .k_cal = naumann_k_cal,
        .k_cyc = naumann_k_cyc,
        .cyc_x = fec_x,
        .consts = naumann_c,
        .n_consts = N_OF(naumann_c),
    },
    {
        .name = "nca-panasonic-ncr18650b-blastlite",
        .chemistry = "NCA",
        .cell = "Panasonic NCR18650B, NCA/graphite, 3.2 Ah",
        .source =
            "NREL BLAST-Lite (P. Gasper), nca_gr_Panasonic3Ah_2018.py, fitted to P. Keil "
            "et al., J. Electrochem. Soc. 163 (2016) A1872, doi:10.1149/2.0411609jes "
            "(calendar) and Y. Preger et al., J. Electrochem. Soc. 167 (2020) 120532, "
            "doi:10.1149/1945-7111/abae37 (cycling)",
        .equations =
            "calendar: k_cal t_days^0.512, k_cal = 75.4 exp(-3340/T) exp(353 SoC/T); "
            "cycle: k_cyc EFC^0.699, k_cyc = (1.86e-6 + 4.74e-11 C + 1.77e-4 DoD) "
            "(exp(3.34e-11/T) + exp(-2.81e-9/T))",
        .z_cal = 0.512,
        .z_cyc = 0.699,
        .cal_unit_s = 86400,
        .k_cal = nca_k_cal,
        .k_cyc = nca_k_cyc,
        .cyc_x = fec_x,
        .consts = nca_c,
        .n_consts = N_OF(nca_c),
    },
    {
        .name = "lmo-nrel-xu2018",
        .chemistry = "LMO",
        .cell = "LMO/graphite (NREL test data)",
        .source =
            "B. Xu et al., Modeling of lithium-ion battery degradation for cell life "
            "assessment, IEEE Trans. Smart Grid 9(2) (2018) 1131-1140, "
            "doi:10.1109/TSG.2016.2578950",
        .equations =
            "L = 1 - a exp(-b f) - (1-a) exp(-f); f = k_t t S_SoC S_T + sum n "
            "S_DoD S_SoC S_T; S_DoD = (k_d1 DoD^k_d2 + k_d3)^-1, S_SoC = exp(k_s "
            "(SoC-0.5)), S_T = exp(k_T (T-T_ref) T_ref/T)",
        .z_cal = 1,
        .z_cyc = 1,
        .cal_unit_s = 1,
        .sei = true,
        .sei_alpha = 5.75e-2,
        .sei_beta = 121,
        .k_cal = xu_k_cal,
        .k_cyc = xu_k_cyc,
        .cyc_x = count_x,
        .consts = xu_c,
        .n_consts = N_OF(xu_c),
    },
};

size_t fg_age_params_count(void)
{
    return N_OF(sets);
}

const struct fg_age_params *fg_age_params_at(size_t i)
{
    return i < N_OF(sets) ? &sets[i] : NULL;
}

const struct fg_age_params *fg_age_params_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_OF(sets); i++)
        if (strcmp(sets[i].name, name) == 0)
            return &sets[i];
    return NULL;
}

const struct fg_age_params *fg_age_params_for_chemistry(const char *chem)
{
    if (!chem)
        return NULL;
    for (size_t i = 0; i < N_OF(sets); i++)
        if (strcasecmp(sets[i].chemistry, chem) == 0)
            return &sets[i];
    return NULL;
}

const char *fg_age_params_name(const struct fg_age_params *p)
{
    return p->name;
}
const char *fg_age_params_chemistry(const struct fg_age_params *p)
{
    return p->chemistry;
}
const char *fg_age_params_cell(const struct fg_age_params *p)
{
    return p->cell;
}
const char *fg_age_params_source(const struct fg_age_params *p)
{
    return p->source;
}

cJSON *fg_age_params_json(const struct fg_age_params *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON *c = cJSON_AddObjectToObject(o, "constants");
    for (size_t i = 0; c && i < p->n_consts; i++) {
        cJSON *k = cJSON_AddObjectToObject(c, p->consts[i].name);
        if (k) {
            cJSON_AddNumberToObject(k, "value", p->consts[i].value);
            cJSON_AddStringToObject(k, "unit", p->consts[i].unit);
        }
    }
    cJSON_AddStringToObject(o, "equations", p->equations);
    cJSON_AddBoolToObject(o, "sei_stage", p->sei);
    return o;
}

double fg_age_g(const struct fg_age_params *p, double f)
{
    if (f <= 0)
        return 0;
    if (!p->sei)
        return f;
    return 1.0 - p->sei_alpha * exp(-p->sei_beta * f) - (1.0 - p->sei_alpha) * exp(-f);
}

double fg_age_dg(const struct fg_age_params *p, double f)
{
    if (!p->sei)
        return 1;
    if (f < 0)
        f = 0;
    return p->sei_alpha * p->sei_beta * exp(-p->sei_beta * f) +
           (1.0 - p->sei_alpha) * exp(-f);
}

double fg_age_powerlaw_delta(double y, double k, double z, double dx)
{
    if (!(k > 0) || !(dx > 0))
        return 0;
    if (z == 1.0)
        return k * dx;
    if (!(y > 0))
        return k * pow(dx, z);
    /* k ((x + dx)^z - x^z) without the cancellation */
    double x_eq = pow(y / k, 1.0 / z);
    return y * expm1(z * log1p(dx / x_eq));
}

double fg_age_g_delta(const struct fg_age_params *p, double f0, double df)
{
    if (f0 < 0)
        f0 = 0;
    if (!p->sei)
        return df;
    return -p->sei_alpha * exp(-p->sei_beta * f0) * expm1(-p->sei_beta * df) -
           (1.0 - p->sei_alpha) * exp(-f0) * expm1(-df);
}

double fg_age_powerlaw_step(double y, double k, double z, double dx)
{
    if (!(k > 0) || !(dx > 0))
        return y;
    if (z == 1.0)
        return y + k * dx;
    if (!(y > 0))
        return k * pow(dx, z);
    double x_eq = pow(y / k, 1.0 / z);
    return k * pow(x_eq + dx, z);
}
