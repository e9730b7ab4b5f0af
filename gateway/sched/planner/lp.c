/* The model builder and its CPLEX LP writer (lp.h). */
#include "lp.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void fg_lp_init(struct fg_lp *lp)
{
    memset(lp, 0, sizeof(*lp));
}

void fg_lp_clear(struct fg_lp *lp)
{
    free(lp->col);
    free(lp->row);
    free(lp->nz_col);
    free(lp->nz_val);
    fg_lp_init(lp);
}

int fg_lp_error(const struct fg_lp *lp)
{
    return lp->err;
}

/* Make room for one more element of size sz in *v (capacity *cap). */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    void *p = realloc(*v, nc * sz);
    if (!p)
        return FG_ENOMEM;
    *v = p;
    *cap = nc;
    return 0;
}

static int __attribute__((format(printf, 3, 0)))
vname(struct fg_lp *lp, char *dst, const char *fmt, va_list ap)
{
    int n = vsnprintf(dst, FG_LP_NAME_MAX, fmt, ap);
    if (n <= 0 || n >= FG_LP_NAME_MAX) {
        lp->err = FG_EINVAL;
        return -1;
    }
    return 0;
}

int fg_lp_col(struct fg_lp *lp, double lb, double ub, double obj, bool is_int,
              uint8_t tag, int32_t group, const char *fmt, ...)
{
    if (lp->err)
        return -1;
    if ((lp->err = grow((void **)&lp->col, &lp->cap_col, lp->n_col, sizeof(*lp->col))))
        return -1;
    struct fg_lp_col *c = &lp->col[lp->n_col];
    va_list ap;
    va_start(ap, fmt);
    int rc = vname(lp, c->name, fmt, ap);
    va_end(ap);
    if (rc)
        return -1;
    c->lb = lb;
    c->ub = ub;
    c->obj = obj;
    c->is_int = is_int;
    c->tag = tag;
    c->group = group;
    return (int)lp->n_col++;
}

void fg_lp_row(struct fg_lp *lp, char sense, double rhs, const char *fmt, ...)
{
    if (lp->err)
        return;
    if ((lp->err = grow((void **)&lp->row, &lp->cap_row, lp->n_row, sizeof(*lp->row))))
        return;
    struct fg_lp_row *r = &lp->row[lp->n_row];
    va_list ap;
    va_start(ap, fmt);
    int rc = vname(lp, r->name, fmt, ap);
    va_end(ap);
    if (rc)
        return;
    r->sense = sense;
    r->rhs = rhs;
    r->first = lp->n_nz;
    r->n = 0;
    lp->n_row++;
}

void fg_lp_add(struct fg_lp *lp, int col, double coef)
{
    if (lp->err || col < 0 || coef == 0.0)
        return;
    if (!lp->n_row || (size_t)col >= lp->n_col) {
        lp->err = FG_EINVAL;
        return;
    }
    size_t cap = lp->cap_nz;
    if ((lp->err = grow((void **)&lp->nz_col, &cap, lp->n_nz, sizeof(*lp->nz_col))))
        return;
    size_t cap2 = lp->cap_nz;
    if ((lp->err = grow((void **)&lp->nz_val, &cap2, lp->n_nz, sizeof(*lp->nz_val))))
        return;
    lp->cap_nz = cap < cap2 ? cap : cap2;
    lp->nz_col[lp->n_nz] = col;
    lp->nz_val[lp->n_nz] = coef;
    lp->n_nz++;
    lp->row[lp->n_row - 1].n++;
}

double fg_lp_objective(const struct fg_lp *lp, const double *x)
{
    double s = 0;
    for (size_t j = 0; j < lp->n_col; j++)
        s += lp->col[j].obj * x[j];
    return s;
}

/* " + 2.5 name", breaking lines every few terms (LP-format readers limit the
 * line length). */
static void term(FILE *f, double coef, const char *name, size_t *k)
{
    if (*k && *k % 6 == 0)
        fputs("\n   ", f);
    fprintf(f, " %c %.17g %s", coef < 0 ? '-' : '+', fabs(coef), name);
    (*k)++;
}

static void num(FILE *f, double v)
{
    if (v >= FG_LP_INF)
        fputs("+inf", f);
    else if (v <= -FG_LP_INF)
        fputs("-inf", f);
    else
        fprintf(f, "%.17g", v);
}

int fg_lp_write(const struct fg_lp *lp, FILE *f)
{
    size_t k = 0;
    fputs("\\ flexgw planner model (CPLEX LP format)\nMinimize\n obj:", f);
    for (size_t j = 0; j < lp->n_col; j++)
        if (lp->col[j].obj != 0.0)
            term(f, lp->col[j].obj, lp->col[j].name, &k);
    if (!k && lp->n_col)
        fprintf(f, " 0 %s", lp->col[0].name);
    fputs("\nSubject To\n", f);
    for (size_t i = 0; i < lp->n_row; i++) {
        const struct fg_lp_row *r = &lp->row[i];
        fprintf(f, " %s:", r->name);
        k = 0;
        for (size_t e = r->first; e < r->first + r->n; e++)
            term(f, lp->nz_val[e], lp->col[lp->nz_col[e]].name, &k);
        if (!k && lp->n_col)
            fprintf(f, " 0 %s", lp->col[0].name);
        fprintf(f, " %s ", r->sense == 'L' ? "<=" : r->sense == 'G' ? ">=" : "=");
        num(f, r->rhs);
        fputc('\n', f);
    }
    fputs("Bounds\n", f);
    for (size_t j = 0; j < lp->n_col; j++) {
        const struct fg_lp_col *c = &lp->col[j];
        if (c->lb <= -FG_LP_INF && c->ub >= FG_LP_INF) {
            fprintf(f, " %s free\n", c->name);
        } else if (c->lb == c->ub) {
            fprintf(f, " %s = ", c->name);
            num(f, c->lb);
            fputc('\n', f);
        } else {
            fputc(' ', f);
            num(f, c->lb);
            fprintf(f, " <= %s <= ", c->name);
            num(f, c->ub);
            fputc('\n', f);
        }
    }
    bool any = false;
    for (size_t j = 0; j < lp->n_col; j++)
        if (lp->col[j].is_int) {
            fprintf(f, "%s %s\n", any ? "" : "Generals\n", lp->col[j].name);
            any = true;
        }
    fputs("End\n", f);
    return ferror(f) ? FG_EIO : 0;
}
