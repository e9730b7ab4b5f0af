/* Rainflow counting of a whole sequence, ASTM E1049-85 (reapproved 2017),
 * section 5.4.4. The online counter in ageing.c applies the same rule to
 * reversals as they are confirmed. */
#include <math.h>
#include <stdlib.h>

#include "fg_ageing.h"

struct rev {
    double v;
    size_t i;
};

static void emit_one(const struct rev *a, const struct rev *b, double count,
                     void (*emit)(const struct fg_rf_cycle *, void *), void *arg,
                     size_t *n)
{
    struct fg_rf_cycle c = {
        .range = fabs(b->v - a->v),
        .mean = (a->v + b->v) / 2,
        .count = count,
        .start = a->i,
        .end = b->i,
    };
    if (emit)
        emit(&c, arg);
    (*n)++;
}

size_t fg_rainflow(const double *x, size_t n,
                   void (*emit)(const struct fg_rf_cycle *, void *), void *arg)
{
    if (!x || n < 2)
        return 0;
    struct rev *s = malloc(n * sizeof *s);
    if (!s)
        return 0;
    size_t m = 0, cycles = 0;
    for (size_t i = 0; i < n; i++) {
        /* reversals: drop repeats, and a point that continues the slope
         * replaces the previous one */
        if (m > 0 && x[i] == s[m - 1].v)
            continue;
        if (m >= 2 && (s[m - 1].v - s[m - 2].v) * (x[i] - s[m - 1].v) > 0)
            m--;
        s[m++] = (struct rev){x[i], i};
        /* step 2..5 of 5.4.4 */
        while (m >= 3) {
            double X = fabs(s[m - 1].v - s[m - 2].v);
            double Y = fabs(s[m - 2].v - s[m - 3].v);
            if (X < Y)
                break;
            if (m == 3) {
                /* Y contains the starting point: a half cycle, and the
                 * start moves on */
                emit_one(&s[0], &s[1], 0.5, emit, arg, &cycles);
                s[0] = s[1];
                s[1] = s[2];
                m = 2;
            } else {
                emit_one(&s[m - 3], &s[m - 2], 1.0, emit, arg, &cycles);
                s[m - 3] = s[m - 1];
                m -= 2;
            }
        }
    }
    /* the residue: every range left is a half cycle */
    for (size_t i = 0; i + 1 < m; i++)
        emit_one(&s[i], &s[i + 1], 0.5, emit, arg, &cycles);
    free(s);
    return cycles;
}
