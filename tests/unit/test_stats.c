/* test_stats.c — the one percentile and interval module: nearest-rank
 * percentiles (whole and fractional p), mean, ratio, and the Wilson and
 * lift intervals against published or hand-worked values. Pure code. */
#include "lm_stats.h"

#include <criterion/criterion.h>
#include <math.h>

#define EPS 1e-6

Test(stats, percentile_is_nearest_rank) {
    double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    cr_expect_float_eq(lm_stats_percentile(v, 10, 50), 5, EPS);
    cr_expect_float_eq(lm_stats_percentile(v, 10, 90), 9, EPS);
    cr_expect_float_eq(lm_stats_percentile(v, 10, 99), 10, EPS);
    cr_expect_float_eq(lm_stats_percentile(v, 10, 100), 10, EPS);
    cr_expect_float_eq(lm_stats_percentile(v, 10, 0.1), 1, EPS);
    cr_expect_float_eq(lm_stats_percentile(v, 1, 50), 1, EPS);
    cr_expect(isnan(lm_stats_percentile(v, 0, 50)));
    cr_expect(isnan(lm_stats_percentile(v, 10, 0)));
    cr_expect(isnan(lm_stats_percentile(v, 10, 101)));
    cr_expect(isnan(lm_stats_percentile(v, 10, NAN)));
}

/* A p whose binary value is a hair above the decimal (0.07 * 100 is
 * 7.000000000000001 in doubles) must not move the rank up one. */
Test(stats, percentile_rank_ignores_binary_rounding) {
    enum { N = 1000 };
    static double v[N];
    for (int i = 0; i < N; i++)
        v[i] = i + 1;
    cr_expect_float_eq(lm_stats_percentile(v, N, 99.9), 999, EPS);
    cr_expect_float_eq(lm_stats_percentile(v, N, 7), 70, EPS);
    cr_expect_float_eq(lm_stats_percentile(v, 100, 0.07 * 100), 7, EPS);
    cr_expect_float_eq(lm_stats_percentile(v, N, 99.95), 1000, EPS);
    cr_expect_float_eq(lm_stats_percentile(v, 3, 50), 2, EPS); /* 1.5 -> 2 */
}

Test(stats, sort_mean_ratio) {
    double v[] = {3, -1, 2.5, 10, 0};
    lm_stats_sort(v, 5);
    for (int i = 1; i < 5; i++)
        cr_expect_leq(v[i - 1], v[i]);
    cr_expect_float_eq(lm_stats_mean(v, 5), 2.9, EPS);
    cr_expect(isnan(lm_stats_mean(v, 0)));
    lm_stats_sort(v, 0); /* nothing to do, no crash */
    cr_expect_float_eq(lm_stats_ratio(1, 4), 0.25, EPS);
    cr_expect(isnan(lm_stats_ratio(1, 0)));
    cr_expect(isnan(lm_stats_ratio(1, -3)));
}

Test(stats, wilson_reference_values) {
    double lo, hi;
    /* 0 of 10: the "rule of three"-like upper bound 0.2775 */
    lm_stats_wilson(0, 10, &lo, &hi);
    cr_expect_float_eq(lo, 0, EPS);
    cr_expect_float_eq(hi, 0.277533, EPS);
    /* 50 of 100: 0.4038 .. 0.5962 */
    lm_stats_wilson(50, 100, &lo, &hi);
    cr_expect_float_eq(lo, 0.403832, EPS);
    cr_expect_float_eq(hi, 0.596168, EPS);
    lm_stats_wilson(0, 0, &lo, &hi);
    cr_expect(isnan(lo) && isnan(hi));
    lm_stats_wilson(11, 10, &lo, &hi);
    cr_expect(isnan(lo) && isnan(hi));
}

Test(stats, lift_reference_values) {
    double l, lo, hi;
    /* 30/100 vs 20/100: ratio 1.5; se = sqrt(1/30 - 1/100 + 1/20 - 1/100)
       = 0.251661; exp(ln 1.5 -/+ 1.959964 * 0.251661) - 1 */
    lm_stats_lift(30, 100, 20, 100, &l, &lo, &hi);
    cr_expect_float_eq(l, 0.5, EPS);
    cr_expect_float_eq(lo, -0.084039, EPS);
    cr_expect_float_eq(hi, 1.456437, EPS);
    /* the other way round: the lift and its interval invert */
    lm_stats_lift(20, 100, 30, 100, &l, &lo, &hi);
    cr_expect_float_eq(l, 1 / 1.5 - 1, EPS);
    cr_expect_float_eq(lo, 1 / 2.456437 - 1, EPS);
    cr_expect_float_eq(hi, 1 / 0.915961 - 1, EPS);
    /* nothing to compare against: undefined */
    lm_stats_lift(3, 10, 0, 10, &l, &lo, &hi);
    cr_expect(isnan(l) && isnan(lo) && isnan(hi));
    /* no success on a: lift -100%, no interval on the log scale */
    lm_stats_lift(0, 10, 2, 10, &l, &lo, &hi);
    cr_expect_float_eq(l, -1, EPS);
    cr_expect(isnan(lo) && isnan(hi));
}
