/* lm_stats.c — percentiles, intervals and confidence sequences (see
 * lm_stats.h, which gives the formulas and their sources). Pure. */
#include "lm_stats.h"

#include <math.h>
#include <stdlib.h>

#define RANK_SLACK 1e-12 /* relative: p * n / 100 this near a whole number */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void lm_stats_sort(double *v, size_t n) {
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_double);
}

double lm_stats_mean(const double *v, size_t n) {
    if (n == 0)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return sum / (double)n;
}

double lm_stats_percentile(const double *sorted, size_t n, double p) {
    if (n == 0 || !(p > 0 && p <= 100))
        return NAN;
    /* p * n is exact for a whole p (n < 2^53), and so is its quotient by
       100 when that is whole; the slack absorbs p's own rounding */
    double x = p * (double)n / 100.0;
    double r = ceil(x - x * RANK_SLACK);
    size_t rank = r < 1 ? 1 : r >= (double)n ? n : (size_t)r;
    return sorted[rank - 1];
}

double lm_stats_ratio(int64_t num, int64_t den) {
    return den > 0 ? (double)num / (double)den : NAN;
}

void lm_stats_wilson(int64_t x, int64_t n, double *lo, double *hi) {
    if (n <= 0 || x < 0 || x > n) {
        *lo = *hi = NAN;
        return;
    }
    const double z = LM_STATS_Z95, z2 = z * z, nn = (double)n;
    double p = (double)x / nn;
    double denom = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = z / denom * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    *lo = centre - half < 0 ? 0 : centre - half;
    *hi = centre + half > 1 ? 1 : centre + half;
}

void lm_stats_lift(int64_t xa, int64_t na, int64_t xb, int64_t nb, double *lift,
                   double *lo, double *hi) {
    *lift = *lo = *hi = NAN;
    if (na <= 0 || nb <= 0 || xb <= 0 || xa < 0)
        return;
    double ra = (double)xa / (double)na, rb = (double)xb / (double)nb;
    *lift = ra / rb - 1;
    if (xa == 0)
        return;
    double se = sqrt(1.0 / (double)xa - 1.0 / (double)na + 1.0 / (double)xb -
                     1.0 / (double)nb);
    double l = log(ra / rb);
    *lo = exp(l - LM_STATS_Z95 * se) - 1;
    *hi = exp(l + LM_STATS_Z95 * se) - 1;
}

/* ============================================================ sequences */

double lm_stats_cs_halfwidth(double v, double alpha, double tau) {
    if (!(v > 0) || !(alpha > 0 && alpha < 1) || !(tau > 0) || !isfinite(v))
        return NAN;
    double t2 = tau * tau;
    return sqrt(v * (v + t2) / t2 * (2 * log(1 / alpha) + log((v + t2) / v)));
}

/* Enough of each outcome in an arm for the normal approximation. */
static int arm_ok(int64_t x, int64_t n) {
    return x >= LM_STATS_CS_MIN_COUNT && x <= n &&
           n - x >= LM_STATS_CS_MIN_COUNT;
}

/* The log rate ratio of a over b and its delta-method variance; -1 while
 * an arm has too few successes or failures (arm_ok). */
static int log_ratio(int64_t xa, int64_t na, int64_t xb, int64_t nb, double *l,
                     double *v) {
    if (!arm_ok(xa, na) || !arm_ok(xb, nb))
        return -1;
    double ra = (double)xa / (double)na, rb = (double)xb / (double)nb;
    *l = log(ra / rb);
    *v = 1.0 / (double)xa - 1.0 / (double)na + 1.0 / (double)xb -
         1.0 / (double)nb;
    return *v > 0 ? 0 : -1;
}

void lm_stats_lift_cs(int64_t xa, int64_t na, int64_t xb, int64_t nb,
                      double alpha, double tau, double *lift, double *lo,
                      double *hi) {
    *lift = *lo = *hi = NAN;
    if (na <= 0 || nb <= 0 || xb <= 0 || xa < 0)
        return;
    *lift = ((double)xa / (double)na) / ((double)xb / (double)nb) - 1;
    double l, v;
    if (log_ratio(xa, na, xb, nb, &l, &v) != 0)
        return;
    double h = lm_stats_cs_halfwidth(v, alpha, tau);
    if (!isfinite(h))
        return;
    *lo = exp(l - h) - 1;
    *hi = exp(l + h) - 1;
}

int lm_stats_lift_state(double lo, double hi) {
    if (lo > 0)
        return LM_STATS_PROVEN;
    if (hi < 0)
        return LM_STATS_HARMFUL;
    return LM_STATS_NOT_PROVEN;
}

#define MORE_BISECT_STEPS 60 /* halvings of [k/2, k]: far below one lead */

double lm_stats_lift_cs_more(int64_t xa, int64_t na, int64_t xb, int64_t nb,
                             double alpha, double tau) {
    double l, v;
    if (log_ratio(xa, na, xb, nb, &l, &v) != 0 || l == 0)
        return NAN;
    double h = lm_stats_cs_halfwidth(v, alpha, tau);
    if (!isfinite(h))
        return NAN;
    double target = fabs(l);
    if (h < target)
        return 0; /* proven (or harmful) already */
    /* h(v / k) shrinks as k grows (for the v a real arm has); double k
       until it is enough, then narrow the last doubling down */
    double k = 1;
    while (lm_stats_cs_halfwidth(v / k, alpha, tau) >= target) {
        k *= 2;
        if (k > LM_STATS_CS_SCALE_MAX)
            return NAN;
    }
    double below = k / 2 < 1 ? 1 : k / 2, above = k;
    for (int i = 0; i < MORE_BISECT_STEPS; i++) {
        double mid = (below + above) / 2;
        if (lm_stats_cs_halfwidth(v / mid, alpha, tau) < target)
            above = mid;
        else
            below = mid;
    }
    return above - 1;
}

int lm_stats_sample_push(lm_stats_sample *s, double x) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        double *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

void lm_stats_sample_free(lm_stats_sample *s) {
    if (!s)
        return;
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}
