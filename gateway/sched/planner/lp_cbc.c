/* fg_lp_solve() with COIN-OR Cbc (Eclipse Public License 2.0) through its C
 * interface. The only file that includes a solver header: to change
 * solvers, replace this file. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include <Cbc_C_Interface.h>

#include "lp.h"

const char *fg_lp_solver_name(void)
{
    return "COIN-OR Cbc (EPL-2.0)";
}

static double bound(double v)
{
    return v >= FG_LP_INF ? DBL_MAX : v <= -FG_LP_INF ? -DBL_MAX : v;
}

/* The rows as a column-major (CSC) matrix, what Cbc_loadProblem takes. */
static int load(Cbc_Model *m, const struct fg_lp *lp)
{
    size_t nc = lp->n_col, nr = lp->n_row, nz = lp->n_nz;
    CoinBigIndex *start = calloc(nc + 1, sizeof(*start));
    int *index = malloc((nz ? nz : 1) * sizeof(*index));
    double *value = malloc((nz ? nz : 1) * sizeof(*value));
    double *cl = malloc((nc ? nc : 1) * sizeof(double)),
           *cu = malloc((nc ? nc : 1) * sizeof(double));
    double *obj = malloc((nc ? nc : 1) * sizeof(double));
    double *rl = malloc((nr ? nr : 1) * sizeof(double)),
           *ru = malloc((nr ? nr : 1) * sizeof(double));
    int rc = FG_ENOMEM;
    if (!start || !index || !value || !cl || !cu || !obj || !rl || !ru)
        goto out;
    for (size_t e = 0; e < nz; e++)
        start[lp->nz_col[e] + 1]++;
    for (size_t j = 0; j < nc; j++)
        start[j + 1] += start[j];
    for (size_t i = 0; i < nr; i++) {
        const struct fg_lp_row *r = &lp->row[i];
        for (size_t e = r->first; e < r->first + r->n; e++) {
            CoinBigIndex p = start[lp->nz_col[e]]++;
            index[p] = (int)i;
            value[p] = lp->nz_val[e];
        }
        rl[i] = r->sense == 'L' ? -DBL_MAX : r->rhs;
        ru[i] = r->sense == 'G' ? DBL_MAX : r->rhs;
    }
    for (size_t j = nc; j > 0; j--) /* undo the shift of the fill pass */
        start[j] = start[j - 1];
    start[0] = 0;
    for (size_t j = 0; j < nc; j++) {
        cl[j] = bound(lp->col[j].lb);
        cu[j] = bound(lp->col[j].ub);
        obj[j] = lp->col[j].obj;
    }
    Cbc_loadProblem(m, (int)nc, (int)nr, start, index, value, cl, cu, obj, rl, ru);
    for (size_t j = 0; j < nc; j++)
        if (lp->col[j].is_int)
            Cbc_setInteger(m, (int)j);
    Cbc_setObjSense(m, 1.0);
    rc = 0;
out:
    free(start);
    free(index);
    free(value);
    free(cl);
    free(cu);
    free(obj);
    free(rl);
    free(ru);
    return rc;
}

int fg_lp_solve(const struct fg_lp *lp, const struct fg_lp_opts *opts, double *x,
                double *obj, enum fg_lp_status *status, struct fg_error *err)
{
    *status = FG_LP_FAILED;
    if (lp->err)
        return fg_error_set(err, lp->err, NULL, "the model could not be built: %s",
                            fg_strerror(lp->err));
    Cbc_Model *m = Cbc_newModel();
    if (!m)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory creating the solver");
    int rc = load(m, lp);
    if (rc) {
        Cbc_deleteModel(m);
        return fg_error_set(err, rc, NULL, "out of memory loading the model");
    }
    Cbc_setLogLevel(m, 0);
    Cbc_setMaximumSeconds(m, opts->time_limit_s);
    Cbc_setAllowableFractionGap(m, opts->gap);
    Cbc_setAllowableGap(m, 1e-9);
    Cbc_solve(m);
    if (Cbc_isProvenOptimal(m)) {
        const double *s = Cbc_getColSolution(m);
        for (size_t j = 0; j < lp->n_col; j++)
            x[j] = s[j];
        *obj = Cbc_getObjValue(m);
        *status = FG_LP_OPTIMAL;
        rc = 0;
    } else if (Cbc_isSecondsLimitReached(m)) {
        *status = FG_LP_TIME_LIMIT;
        rc = fg_error_set(err, FG_ETIMEOUT, NULL,
                          "solver time limit of %g s reached before an optimal plan "
                          "(%zu columns, %zu rows)",
                          opts->time_limit_s, lp->n_col, lp->n_row);
    } else if (Cbc_isProvenInfeasible(m)) {
        *status = FG_LP_INFEASIBLE;
        rc = fg_error_set(err, FG_ESTATE, NULL, "the model is infeasible");
    } else if (Cbc_isContinuousUnbounded(m)) {
        *status = FG_LP_UNBOUNDED;
        rc = fg_error_set(err, FG_ESTATE, NULL, "the model is unbounded");
    } else {
        rc = fg_error_set(err, FG_ESTATE, NULL, "the solver stopped (status %d, %d)",
                          Cbc_status(m), Cbc_secondaryStatus(m));
    }
    Cbc_deleteModel(m);
    return rc;
}
