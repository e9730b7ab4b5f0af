/* The ageing state of one battery: samples in, damage booked per impact
 * factor, loss, prediction, fit and cost out. See fg_ageing.h. */
#include <math.h>
#include <string.h>

#include "ageing_int.h"

static double tk(double c)
{
    return c + 273.15;
}
static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

const char *fg_age_factor_name(enum fg_age_factor f)
{
    static const char *const names[FG_AGE_FACTORS] = {"time",  "temperature", "dod",
                                                      "crate", "soc",         "prior"};
    return (unsigned)f < FG_AGE_FACTORS ? names[f] : "?";
}

/* ---- rates and the Shapley split ---------------------------------------- */

static double r_cal(const struct fg_age_params *p, double temp_c, double soc)
{
    double k = p->k_cal(tk(temp_c), soc);
    if (!(k > 0))
        return 0;
    return p->z_cal == 1.0 ? k : pow(k, 1.0 / p->z_cal);
}

static double r_cyc(const struct fg_age_params *p, double temp_c, double soc, double dod,
                    double crate)
{
    double k = p->k_cyc(tk(temp_c), soc, dod, crate);
    if (!(k > 0))
        return 0;
    return p->z_cyc == 1.0 ? k : pow(k, 1.0 / p->z_cyc);
}

/* Calendar: base TIME at (25 C, 50 %), Shapley over temperature and SoC. */
static void split_cal(const struct fg_age_params *p, double temp_c, double soc, double d,
                      double *by)
{
    double r = r_cal(p, temp_c, soc);
    if (!(r > 0) || d == 0) {
        by[FG_AGE_F_TIME] += d;
        return;
    }
    double r0 = r_cal(p, FG_AGE_REF_TEMP_C, FG_AGE_REF_SOC);
    double rt = r_cal(p, temp_c, FG_AGE_REF_SOC);
    double rs = r_cal(p, FG_AGE_REF_TEMP_C, soc);
    by[FG_AGE_F_TIME] += d * r0 / r;
    by[FG_AGE_F_TEMPERATURE] += d * 0.5 * ((rt - r0) + (r - rs)) / r;
    by[FG_AGE_F_SOC] += d * 0.5 * ((rs - r0) + (r - rt)) / r;
}

/* Cycle: base DOD at (actual depth, 25 C, 50 % mean SoC, 0.5 C), Shapley
 * over C-rate, temperature and SoC. */
static void split_cyc(const struct fg_age_params *p, double temp_c, double soc,
                      double dod, double crate, double d, double *by)
{
    double v[8]; /* bit 0: C-rate, bit 1: temperature, bit 2: SoC at actual value */
    for (int m = 0; m < 8; m++)
        v[m] = r_cyc(p, m & 2 ? temp_c : FG_AGE_REF_TEMP_C, m & 4 ? soc : FG_AGE_REF_SOC,
                     dod, m & 1 ? crate : FG_AGE_REF_CRATE);
    double r = v[7];
    if (!(r > 0) || d == 0) {
        by[FG_AGE_F_DOD] += d;
        return;
    }
    static const int factor[3] = {FG_AGE_F_CRATE, FG_AGE_F_TEMPERATURE, FG_AGE_F_SOC};
    by[FG_AGE_F_DOD] += d * v[0] / r;
    for (int i = 0; i < 3; i++) {
        double phi = 0;
        for (int m = 0; m < 8; m++) {
            if (m & (1 << i))
                continue;
            int size = __builtin_popcount((unsigned)m);
            double w = size == 1 ? 1.0 / 6 : 1.0 / 3; /* |S|! (n-|S|-1)! / n!, n = 3 */
            phi += w * (v[m | (1 << i)] - v[m]);
        }
        by[factor[i]] += d * phi / r;
    }
}

/* ---- booking ---------------------------------------------------------------- */

static int t_bin(double temp_c)
{
    return (int)clamp(floor((temp_c + 15.0) / 5.0), 0, FG_AGE_CAL_T_BINS - 1);
}
static int soc_bin(double soc)
{
    return (int)clamp(floor(soc * 10.0), 0, FG_AGE_CAL_SOC_BINS - 1);
}
static int dod_bin(double dod)
{
    return (int)clamp(floor(dod * 10.0), 0, FG_AGE_CYC_DOD_BINS - 1);
}
static int c_bin(double c)
{
    return c < 0.25 ? 0 : c < 0.5 ? 1 : c < 1.0 ? 2 : 3;
}

void fg_age_book_cal(struct fg_age_state *st, double dt_s, double temp_c, double soc)
{
    const struct fg_age_params *p = st->p;
    if (!(dt_s > 0))
        return;
    double k = p->k_cal(tk(temp_c), soc);
    double d1 = fg_age_powerlaw_step(st->d_cal, k, p->z_cal, dt_s / p->cal_unit_s);
    split_cal(p, temp_c, soc, d1 - st->d_cal, st->by_cal);
    st->d_cal = d1;
    st->age_s += dt_s;
    int i = t_bin(temp_c), j = soc_bin(soc);
    st->cal_w[i][j] += dt_s;
    st->cal_tw[i][j] += temp_c * dt_s;
    st->cal_sw[i][j] += soc * dt_s;
    st->recent_s += dt_s;
}

void fg_age_book_cyc(struct fg_age_state *st, double dod, double mean_soc, double crate,
                     double temp_c, double count)
{
    const struct fg_age_params *p = st->p;
    if (!(dod > 0) || !(count > 0))
        return;
    double k = p->k_cyc(tk(temp_c), mean_soc, dod, crate);
    double d1 = fg_age_powerlaw_step(st->d_cyc, k, p->z_cyc, p->cyc_x(dod, count));
    split_cyc(p, temp_c, mean_soc, dod, crate, d1 - st->d_cyc, st->by_cyc);
    st->d_cyc = d1;
    st->efc += dod * count;
    st->cycles += count;
    int i = dod_bin(dod), j = c_bin(crate);
    st->cyc_n[i][j] += count;
    st->cyc_dod[i][j] += dod * count;
    st->cyc_soc[i][j] += mean_soc * count;
    st->cyc_c[i][j] += crate * count;
    st->cyc_t[i][j] += temp_c * count;
}

/* Forget the recent-usage statistics by the time passed since recent_t. */
static void forget(struct fg_age_state *st, int64_t t)
{
    if (t <= st->recent_t)
        return;
    double f = exp(-(double)(t - st->recent_t) / FG_AGE_RECENT_S);
    st->recent_t = t;
    st->recent_s *= f;
    for (int i = 0; i < FG_AGE_CAL_T_BINS; i++)
        for (int j = 0; j < FG_AGE_CAL_SOC_BINS; j++) {
            st->cal_w[i][j] *= f;
            st->cal_tw[i][j] *= f;
            st->cal_sw[i][j] *= f;
        }
    for (int i = 0; i < FG_AGE_CYC_DOD_BINS; i++)
        for (int j = 0; j < FG_AGE_CYC_C_BINS; j++) {
            st->cyc_n[i][j] *= f;
            st->cyc_dod[i][j] *= f;
            st->cyc_soc[i][j] *= f;
            st->cyc_c[i][j] *= f;
            st->cyc_t[i][j] *= f;
        }
}

/* The cycle between reversals a and b (b later), with the segment that ends
 * at b giving its C-rate and temperature. */
static void book_pair(struct fg_age_state *st, const struct fg_age_reversal *a,
                      const struct fg_age_reversal *b, double count)
{
    double dod = fabs(b->soc - a->soc);
    double mean = (a->soc + b->soc) / 2;
    double crate = b->active_s > 0 ? b->ah_s / b->active_s : FG_AGE_REF_CRATE;
    double temp = b->dur_s > 0 ? b->temp_s / b->dur_s : st->temp_last;
    fg_age_book_cyc(st, dod, mean, crate, temp, count);
}

/* A confirmed reversal: the three-point rule of ASTM E1049 5.4.4. */
static void push_reversal(struct fg_age_state *st, const struct fg_age_reversal *r)
{
    if (st->n_res == FG_AGE_RESIDUE_MAX) {
        book_pair(st, &st->res[0], &st->res[1], 0.5);
        memmove(&st->res[0], &st->res[1], (st->n_res - 1) * sizeof st->res[0]);
        st->n_res--;
    }
    st->res[st->n_res++] = *r;
    while (st->n_res >= 3) {
        size_t n = st->n_res;
        double x = fabs(st->res[n - 1].soc - st->res[n - 2].soc);
        double y = fabs(st->res[n - 2].soc - st->res[n - 3].soc);
        if (x < y)
            break;
        if (n == 3) {
            book_pair(st, &st->res[0], &st->res[1], 0.5);
            st->res[0] = st->res[1];
            st->res[1] = st->res[2];
            st->n_res = 2;
        } else {
            book_pair(st, &st->res[n - 3], &st->res[n - 2], 1.0);
            st->res[n - 3] = st->res[n - 1];
            st->n_res -= 2;
        }
    }
}

static void flush_window(struct fg_age_state *st)
{
    if (st->win_s > 0) {
        fg_age_book_cal(st, st->win_s, st->win_temp_s / st->win_s,
                        st->win_soc_s / st->win_s);
        st->win_s = st->win_temp_s = st->win_soc_s = 0;
    }
}

void fg_age_flush(struct fg_age_state *st)
{
    if (st->t_last)
        forget(st, st->t_last);
    flush_window(st);
}

/* End of history (on a copy): the running extreme becomes the last reversal
 * and the residue closes as half cycles. */
static void close_history(struct fg_age_state *c)
{
    fg_age_flush(c);
    if (c->dir != 0 && c->n_res > 0 && c->cand.soc != c->res[c->n_res - 1].soc)
        push_reversal(c, &c->cand);
    for (size_t i = 0; i + 1 < c->n_res; i++)
        book_pair(c, &c->res[i], &c->res[i + 1], 0.5);
    c->n_res = 0;
    c->dir = 0;
}

static double damage(const struct fg_age_state *st)
{
    return st->s_cal * st->d_cal + st->s_cyc * st->d_cyc;
}

static double loss_of(const struct fg_age_state *st)
{
    return st->prior + fg_age_g(st->p, damage(st));
}

/* ---- public: state ----------------------------------------------------------- */

int fg_age_init(struct fg_age_state *st, const struct fg_age_params *p,
                double capacity_wh)
{
    if (!st || !p || !(capacity_wh > 0) || !isfinite(capacity_wh))
        return FG_EINVAL;
    memset(st, 0, sizeof *st);
    st->p = p;
    st->capacity_wh = capacity_wh;
    st->s_cal = st->s_cyc = 1.0;
    st->soc_last = NAN;
    st->temp_last = FG_AGE_REF_TEMP_C;
    st->fit_rms = NAN;
    return 0;
}

int fg_age_init_soh(struct fg_age_state *st, double soh)
{
    if (!st || st->t_last != 0 || !(soh > 0 && soh <= 1))
        return FG_EINVAL;
    st->prior = 1.0 - soh;
    return 0;
}

static struct fg_age_reversal snapshot(const struct fg_age_state *st, double soc,
                                       int64_t t)
{
    struct fg_age_reversal r = st->seg;
    r.soc = soc;
    r.t = t;
    return r;
}

int fg_age_sample(struct fg_age_state *st, int64_t t, double soc, double power_w,
                  double temp_c)
{
    if (!st || !st->p || !isfinite(soc) || (st->t_last && t < st->t_last) || t <= 0)
        return FG_EINVAL;
    soc = clamp(soc, 0, 1);
    if (!isfinite(temp_c))
        temp_c = st->temp_last;
    if (!st->t_last) {
        st->t0 = st->t_last = st->recent_t = t;
        st->soc_last = soc;
        st->temp_last = temp_c;
        memset(&st->seg, 0, sizeof st->seg);
        st->res[0] = snapshot(st, soc, t);
        st->n_res = 1;
        st->cand = st->res[0];
        st->dir = 0;
        st->win_temp0 = temp_c;
        st->win_soc0 = soc;
        return 0;
    }
    double dt = (double)(t - st->t_last);
    if (dt > 0) {
        /* the interval ages at the conditions of its start */
        st->win_s += dt;
        st->win_temp_s += st->temp_last * dt;
        st->win_soc_s += st->soc_last * dt;
        double dsoc = fabs(soc - st->soc_last);
        /* Over a gap (an EV away driving, a device offline) the power now
         * says nothing about the interval: take the SoC's change. */
        if (isfinite(power_w) && dt <= FG_AGE_GAP_S) {
            double c = fabs(power_w) / st->capacity_wh; /* 1/h */
            st->seg.ah_s += c * dt;
            if (c > 0.01)
                st->seg.active_s += dt;
            st->throughput_wh += fabs(power_w) * dt / 3600.0;
        } else {
            st->seg.ah_s += dsoc * 3600.0;
            st->seg.active_s += dt;
            st->throughput_wh += dsoc * st->capacity_wh;
        }
        st->seg.temp_s += st->temp_last * dt;
        st->seg.dur_s += dt;
    }
    /* the gated turning-point detector */
    if (st->dir == 0) {
        double d = soc - st->res[0].soc;
        if (fabs(d) >= FG_AGE_GATE) {
            st->dir = d > 0 ? 1 : -1;
            st->cand = snapshot(st, soc, t);
        }
    } else if ((st->dir > 0 && soc > st->cand.soc) ||
               (st->dir < 0 && soc < st->cand.soc)) {
        st->cand = snapshot(st, soc, t);
    } else if (fabs(soc - st->cand.soc) >= FG_AGE_GATE) {
        struct fg_age_reversal r = st->cand;
        st->seg.active_s -= r.active_s;
        st->seg.ah_s -= r.ah_s;
        st->seg.temp_s -= r.temp_s;
        st->seg.dur_s -= r.dur_s;
        push_reversal(st, &r);
        st->dir = -st->dir;
        st->cand = snapshot(st, soc, t);
    }
    /* the calendar window closes when conditions move or after 15 min */
    if (st->win_s >= 900 || fabs(temp_c - st->win_temp0) > 2.0 ||
        fabs(soc - st->win_soc0) > 0.05) {
        forget(st, t);
        flush_window(st);
        st->win_temp0 = temp_c;
        st->win_soc0 = soc;
    }
    st->t_last = t;
    st->soc_last = soc;
    st->temp_last = temp_c;
    return 0;
}

double fg_age_loss(const struct fg_age_state *st)
{
    struct fg_age_state c = *st;
    close_history(&c);
    return loss_of(&c);
}

void fg_age_factors(const struct fg_age_state *st, double out[FG_AGE_FACTORS])
{
    struct fg_age_state c = *st;
    close_history(&c);
    double f = damage(&c);
    double ratio = f > 0 ? fg_age_g(c.p, f) / f : 1.0;
    for (int i = 0; i < FG_AGE_FACTORS; i++)
        out[i] = (c.s_cal * c.by_cal[i] + c.s_cyc * c.by_cyc[i]) * ratio;
    out[FG_AGE_F_PRIOR] += c.prior;
}

/* ---- prediction ------------------------------------------------------------------ */

int fg_age_predict(const struct fg_age_state *st, int64_t now, double eol_soh,
                   double horizon_years, struct fg_age_forecast *out)
{
    if (!st || !st->p || !out || !(eol_soh > 0 && eol_soh < 1) || !(horizon_years > 0))
        return FG_EINVAL;
    memset(out, 0, sizeof *out);
    const struct fg_age_params *p = st->p;
    /* the pattern from what has been observed (not the open cycles that
     * close_history books below) */
    struct fg_age_state c = *st;
    if (c.t_last)
        forget(&c, now > c.t_last ? now : c.t_last);
    flush_window(&c);

    /* the recent pattern: calendar bins as shares of time, cycle bins as
     * rates per second */
    struct {
        double k, share;
    } cal[FG_AGE_CAL_T_BINS * FG_AGE_CAL_SOC_BINS];
    struct {
        double k, dod, rate;
    } cyc[FG_AGE_CYC_DOD_BINS * FG_AGE_CYC_C_BINS];
    size_t ncal = 0, ncyc = 0;
    double w = 0, tw = 0, sw = 0;
    for (int i = 0; i < FG_AGE_CAL_T_BINS; i++)
        for (int j = 0; j < FG_AGE_CAL_SOC_BINS; j++)
            w += c.cal_w[i][j];
    if (w > 0) {
        for (int i = 0; i < FG_AGE_CAL_T_BINS; i++)
            for (int j = 0; j < FG_AGE_CAL_SOC_BINS; j++) {
                double cw = c.cal_w[i][j];
                if (!(cw > w * 1e-9))
                    continue;
                double tm = c.cal_tw[i][j] / cw, sm = c.cal_sw[i][j] / cw;
                cal[ncal].k = p->k_cal(tk(tm), sm);
                cal[ncal].share = cw / w;
                ncal++;
                tw += c.cal_tw[i][j];
                sw += c.cal_sw[i][j];
            }
        out->cal_temp_c = tw / w;
        out->cal_soc = sw / w;
    } else {
        double soc = isfinite(c.soc_last) ? c.soc_last : FG_AGE_REF_SOC;
        cal[0].k = p->k_cal(tk(c.temp_last), soc);
        cal[0].share = 1;
        ncal = 1;
        out->cal_temp_c = c.temp_last;
        out->cal_soc = soc;
    }
    double efc_rate = 0; /* per second */
    if (c.recent_s > 0) {
        for (int i = 0; i < FG_AGE_CYC_DOD_BINS; i++)
            for (int j = 0; j < FG_AGE_CYC_C_BINS; j++) {
                double n = c.cyc_n[i][j];
                if (!(n > 0))
                    continue;
                double dod = c.cyc_dod[i][j] / n;
                cyc[ncyc].k = p->k_cyc(tk(c.cyc_t[i][j] / n), c.cyc_soc[i][j] / n, dod,
                                       c.cyc_c[i][j] / n);
                cyc[ncyc].dod = dod;
                cyc[ncyc].rate = n / c.recent_s;
                efc_rate += dod * cyc[ncyc].rate;
                ncyc++;
            }
    }
    out->efc_per_day = efc_rate * 86400.0;

    /* the damage from here: the open cycles closed as half cycles */
    struct fg_age_state now_c = *st;
    close_history(&now_c);
    c.d_cal = now_c.d_cal;
    c.d_cyc = now_c.d_cyc;
    c.efc = now_c.efc;
    double target = 1.0 - eol_soh;
    double l_prev = loss_of(&c);
    if (l_prev >= target) {
        out->reached = true;
        out->eol_t = now;
        out->eol_efc = c.efc;
        return 0;
    }
    const double step = 7 * 86400.0;
    size_t steps = (size_t)ceil(horizon_years * 365.25 * 86400.0 / step);
    for (size_t s = 1; s <= steps; s++) {
        for (size_t i = 0; i < ncal; i++)
            c.d_cal = fg_age_powerlaw_step(c.d_cal, cal[i].k, p->z_cal,
                                           cal[i].share * step / p->cal_unit_s);
        for (size_t i = 0; i < ncyc; i++)
            c.d_cyc = fg_age_powerlaw_step(c.d_cyc, cyc[i].k, p->z_cyc,
                                           p->cyc_x(cyc[i].dod, cyc[i].rate * step));
        double l = loss_of(&c);
        if (l >= target) {
            double frac = l > l_prev ? (target - l_prev) / (l - l_prev) : 1.0;
            double secs = ((double)(s - 1) + frac) * step;
            out->reached = true;
            out->days_left = secs / 86400.0;
            out->eol_t = now + (int64_t)secs;
            out->eol_efc = c.efc + efc_rate * secs;
            return 0;
        }
        l_prev = l;
    }
    out->days_left = INFINITY;
    return 0;
}

/* ---- fitting ---------------------------------------------------------------------- */

int fg_age_checkpoint(struct fg_age_state *st, double soh)
{
    if (!st || !st->p || !(soh > 0 && soh <= 1.2) || !st->t_last)
        return FG_EINVAL;
    struct fg_age_state c = *st;
    close_history(&c);
    if (st->n_cp == FG_AGE_CHECKPOINTS_MAX) {
        memmove(&st->cp[0], &st->cp[1], (st->n_cp - 1) * sizeof st->cp[0]);
        st->n_cp--;
    }
    st->cp[st->n_cp++] = (struct fg_age_checkpoint){st->t_last, soh, c.d_cal, c.d_cyc};
    return 0;
}

static double sse_at(const struct fg_age_state *st, double a, double b)
{
    double s = 0;
    for (size_t i = 0; i < st->n_cp; i++) {
        double r = (1.0 - st->cp[i].soh - st->prior) -
                   fg_age_g(st->p, a * st->cp[i].d_cal + b * st->cp[i].d_cyc);
        s += r * r;
    }
    return s;
}

int fg_age_fit(struct fg_age_state *st)
{
    if (!st || !st->p || st->n_cp == 0)
        return FG_EINVAL;
    double aa = 0, bb = 0, ab = 0;
    bool any = false;
    for (size_t i = 0; i < st->n_cp; i++) {
        const struct fg_age_checkpoint *c = &st->cp[i];
        aa += c->d_cal * c->d_cal;
        bb += c->d_cyc * c->d_cyc;
        ab += c->d_cal * c->d_cyc;
        if (c->d_cal + c->d_cyc > 0)
            any = true;
    }
    if (!any)
        return FG_EINVAL;
    /* Can the checkpoints tell calendar and cycle ageing apart? Not when one
     * of them is absent or the two grew in proportion. */
    bool two = aa > 0 && bb > 0 && ab / sqrt(aa * bb) < 0.9999 && st->n_cp >= 3;
    double s[2] = {st->s_cal, two ? st->s_cyc : st->s_cal};
    double cur = sse_at(st, s[0], two ? s[1] : s[0]);
    double lambda = 1e-3;
    for (int it = 0; it < 200; it++) {
        /* Levenberg-Marquardt step on J^T J + lambda diag */
        double jtj[2][2] = {{0, 0}, {0, 0}}, jtr[2] = {0, 0};
        double b = two ? s[1] : s[0];
        for (size_t i = 0; i < st->n_cp; i++) {
            const struct fg_age_checkpoint *c = &st->cp[i];
            double f = s[0] * c->d_cal + b * c->d_cyc;
            double r = (1.0 - c->soh - st->prior) - fg_age_g(st->p, f);
            double dg = fg_age_dg(st->p, f);
            double j0 = two ? dg * c->d_cal : dg * (c->d_cal + c->d_cyc);
            double j1 = dg * c->d_cyc;
            jtj[0][0] += j0 * j0;
            jtr[0] += j0 * r;
            if (two) {
                jtj[0][1] += j0 * j1;
                jtj[1][1] += j1 * j1;
                jtr[1] += j1 * r;
            }
        }
        double d0, d1 = 0;
        if (two) {
            double a00 = jtj[0][0] * (1 + lambda), a11 = jtj[1][1] * (1 + lambda),
                   a01 = jtj[0][1];
            double det = a00 * a11 - a01 * a01;
            if (!(fabs(det) > 0))
                break;
            d0 = (a11 * jtr[0] - a01 * jtr[1]) / det;
            d1 = (a00 * jtr[1] - a01 * jtr[0]) / det;
        } else {
            if (!(jtj[0][0] > 0))
                break;
            d0 = jtr[0] / (jtj[0][0] * (1 + lambda));
        }
        double n0 = clamp(s[0] + d0, 1e-3, 1e3),
               n1 = two ? clamp(s[1] + d1, 1e-3, 1e3) : n0;
        double e = sse_at(st, n0, n1);
        if (e <= cur) {
            bool done =
                fabs(n0 - s[0]) < 1e-10 * s[0] && fabs(n1 - s[1]) < 1e-10 * (s[1] + 1e-3);
            s[0] = n0;
            s[1] = n1;
            cur = e;
            lambda *= 0.3;
            if (done)
                break;
        } else {
            lambda *= 10;
            if (lambda > 1e12)
                break;
        }
    }
    st->s_cal = s[0];
    st->s_cyc = two ? s[1] : s[0];
    st->fit_rms = sqrt(cur / (double)st->n_cp);
    return 0;
}

/* ---- cost ---------------------------------------------------------------------------
 */

int fg_age_schedule_cost(const struct fg_age_state *st, const struct fg_age_step *steps,
                         size_t n, double replacement_cost, double eol_soh,
                         struct fg_age_cost *out)
{
    if (!st || !st->p || (!steps && n) || !out || !(eol_soh >= 0 && eol_soh < 1) ||
        !(replacement_cost >= 0))
        return FG_EINVAL;
    memset(out, 0, sizeof *out);
    struct fg_age_state c = *st;
    double l0 = fg_age_loss(&c);
    int64_t t = c.t_last;
    double soc = isfinite(c.soc_last) ? c.soc_last : (n ? steps[0].soc : FG_AGE_REF_SOC);
    if (!t) {
        t = 1;
        fg_age_sample(&c, t, soc, 0, c.temp_last);
        l0 = fg_age_loss(&c);
    }
    double frac_s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(steps[i].dt_s > 0) || !isfinite(steps[i].soc))
            return FG_EINVAL;
        frac_s += steps[i].dt_s;
        int64_t whole = (int64_t)frac_s;
        frac_s -= (double)whole;
        if (whole < 1) {
            continue;
        }
        double s1 = clamp(steps[i].soc, 0, 1);
        double power = (s1 - soc) * c.capacity_wh * 3600.0 / steps[i].dt_s;
        t += whole;
        fg_age_sample(&c, t, s1, power, steps[i].temp_c);
        soc = s1;
    }
    out->loss = fg_age_loss(&c) - l0;
    out->cost = out->loss * replacement_cost / (1.0 - eol_soh);
    out->throughput_wh = c.throughput_wh - st->throughput_wh;
    out->per_kwh = out->throughput_wh > 0 ? out->cost / (out->throughput_wh / 1000.0) : 0;
    return 0;
}

double fg_age_cycle_cost(const struct fg_age_state *st, double dod, double mean_soc,
                         double crate, double temp_c, double replacement_cost,
                         double eol_soh)
{
    if (!st || !st->p || !(dod > 0) || !(eol_soh >= 0 && eol_soh < 1))
        return 0;
    const struct fg_age_params *p = st->p;
    dod = clamp(dod, 0, 1);
    mean_soc = clamp(mean_soc, 0, 1);
    crate = crate > 0 ? crate : 0;
    if (!isfinite(temp_c))
        temp_c = st->temp_last;
    double f0 = damage(st);
    double k = p->k_cyc(tk(temp_c), mean_soc, dod, crate);
    double dd = fg_age_powerlaw_delta(st->d_cyc, k, p->z_cyc, p->cyc_x(dod, 1.0));
    double dl = fg_age_g_delta(p, f0, st->s_cyc * dd);
    return dl * replacement_cost / (1.0 - eol_soh);
}
