/* lm_stats.h — the one percentile and interval module: nearest-rank
 * percentiles, the mean, a guarded ratio, the Wilson score interval of a
 * rate and the lift of one rate over another with its 95% interval.
 *
 * Used by the report (distributions, the adaptive vs fixed arms) and the
 * bench (latency percentiles); anything else that summarises a sample
 * uses it too instead of its own copy.
 *
 * Conventions: a figure that cannot be computed (no values, nothing to
 * divide by) is NAN, never 0. Percentiles are nearest-rank: the p-th
 * percentile of n ascending values is the value at rank ceil(p * n / 100)
 * (1-based), so it is always a value of the sample and "p90 = 4m" reads
 * "90% took 4 minutes or less".
 * Pure functions over caller-owned arrays: no allocation, thread-safe. */
#ifndef LM_STATS_H
#define LM_STATS_H

#include <stddef.h>
#include <stdint.h>

#define LM_STATS_Z95 1.959963984540054 /* two-sided 95% normal quantile */

/* Sorts v[0..n) ascending in place (NANs are not expected). */
void lm_stats_sort(double *v, size_t n);
/* The arithmetic mean of v[0..n), summed in order; NAN when n is 0. */
double lm_stats_mean(const double *v, size_t n);
/* Nearest-rank percentile p (0 < p <= 100, fractions allowed: 99.9) of n
 * ascending values; NAN when n is 0 or p is out of range. A rank p*n/100
 * within a relative 1e-12 of a whole number counts as that number, so the
 * binary rounding of a p such as 99.9 never moves the rank. */
double lm_stats_percentile(const double *sorted, size_t n, double p);
/* num / den as a double; NAN when den <= 0. */
double lm_stats_ratio(int64_t num, int64_t den);

/* The 95% Wilson score interval of x successes in n trials into *lo, *hi
 * (clamped to 0..1); NAN both when n <= 0 or x is outside 0..n. */
void lm_stats_wilson(int64_t x, int64_t n, double *lo, double *hi);
/* The lift of arm a over arm b, rate_a / rate_b - 1, and its 95% interval
 * from the delta method on log(rate_a / rate_b):
 *   se = sqrt(1/xa - 1/na + 1/xb - 1/nb),
 *   interval = exp(log(ratio) -/+ z * se) - 1.
 * lift NAN when na, nb or xb is 0; interval NAN also when xa is 0. */
void lm_stats_lift(int64_t xa, int64_t na, int64_t xb, int64_t nb, double *lift,
                   double *lo, double *hi);

#endif
