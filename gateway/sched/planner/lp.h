/* A small sparse LP/MIP model: named columns with bounds, integrality and an
 * objective coefficient, named rows (<=, >=, =) built one at a time, a
 * writer in CPLEX LP format (what `glpsol --lp` reads) and one solve
 * function (lp_cbc.c, COIN-OR Cbc through its C interface) that can be
 * replaced by another solver without touching the rest.
 *
 * The builder keeps a sticky error: calls after a failed allocation do
 * nothing, and fg_lp_error() reports it once at the end, so a model can be
 * built without an error check after every call. Pure: no I/O except the
 * FILE the writer is given. */
#ifndef FG_LP_H
#define FG_LP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fg_err.h"

#define FG_LP_INF 1e30 /* bounds at or beyond this are infinite */
#define FG_LP_NAME_MAX 64

struct fg_lp_col {
    char name[FG_LP_NAME_MAX];
    double lb, ub, obj;
    bool is_int;
    uint8_t tag;   /* caller's cost category (reported back, unused here) */
    int32_t group; /* caller's grouping, e.g. the ISP; -1 none */
};

struct fg_lp_row {
    char name[FG_LP_NAME_MAX];
    char sense; /* 'L' <=, 'G' >=, 'E' = */
    double rhs;
    size_t first, n; /* its entries in fg_lp.nz_col / nz_val */
};

struct fg_lp {
    struct fg_lp_col *col;
    size_t n_col, cap_col;
    struct fg_lp_row *row;
    size_t n_row, cap_row;
    int *nz_col;
    double *nz_val;
    size_t n_nz, cap_nz;
    int err; /* sticky: first failure */
};

void fg_lp_init(struct fg_lp *lp);
void fg_lp_clear(struct fg_lp *lp);

/* Add a column; returns its index, or -1 after a failure (sticky). The name
 * (printf format) must be a valid LP-format name: letters, digits, '_'. */
int fg_lp_col(struct fg_lp *lp, double lb, double ub, double obj, bool is_int,
              uint8_t tag, int32_t group, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* Start a row; the following fg_lp_add() calls add its entries. */
void fg_lp_row(struct fg_lp *lp, char sense, double rhs, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Add coef * column to the row started last (col < 0 or coef 0: ignored). */
void fg_lp_add(struct fg_lp *lp, int col, double coef);

/* 0, or the first failure (FG_ENOMEM, FG_EINVAL). */
int fg_lp_error(const struct fg_lp *lp);

/* Write the model in CPLEX LP format (minimise). 0 or FG_EIO. */
int fg_lp_write(const struct fg_lp *lp, FILE *f);

/* The objective at x (n_col values). */
double fg_lp_objective(const struct fg_lp *lp, const double *x);

struct fg_lp_opts {
    double time_limit_s; /* > 0 */
    double gap;          /* relative MIP gap accepted, >= 0 */
};

enum fg_lp_status {
    FG_LP_OPTIMAL = 0,
    FG_LP_INFEASIBLE,
    FG_LP_UNBOUNDED,
    FG_LP_TIME_LIMIT, /* stopped by the time limit before optimality */
    FG_LP_FAILED,
};

/* Solve to optimality within opts->time_limit_s. On FG_LP_OPTIMAL returns 0
 * and fills x (n_col values, caller's array) and *obj. Otherwise returns
 * FG_ETIMEOUT (time limit) or FG_ESTATE (infeasible, unbounded, solver
 * failure) with the reason in err and the status in *status; x is then not
 * a plan. The one function to replace to change solvers. */
int fg_lp_solve(const struct fg_lp *lp, const struct fg_lp_opts *opts, double *x,
                double *obj, enum fg_lp_status *status, struct fg_error *err);

/* The solver's name and licence, for logs and --version. */
const char *fg_lp_solver_name(void);

#endif
