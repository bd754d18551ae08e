/* test_stats.c — the one percentile and interval module: nearest-rank
 * percentiles (whole and fractional p), mean, ratio, and the Wilson and
 * lift intervals against published or hand-worked values; the always-valid
 * lift (confidence sequence): its formula by hand, its state, the sample
 * it still needs, and its behaviour when watched after every lead over
 * many simulated experiments with a fixed seed (no true effect: it claims
 * one in at most alpha of them, where the fixed-horizon interval claims
 * one in many; a true effect: it finds it in most). Pure code. */
#include "lm_stats.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>

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

/* ---- the always-valid lift -------------------------------------------- */

Test(stats, cs_halfwidth_reference_values) {
    /* v = 0.01, alpha 0.05, tau 0.2: h^2 = 0.01 * 0.05 / 0.04 *
       (2 ln 20 + ln 5) = 0.0125 * 7.600402 = 0.095005 */
    cr_expect_float_eq(lm_stats_cs_halfwidth(0.01, 0.05, 0.2), 0.308239, EPS);
    /* wider than the fixed-horizon 1.96 * sqrt(v) = 0.196 */
    cr_expect_gt(lm_stats_cs_halfwidth(0.01, 0.05, 0.2),
                 LM_STATS_Z95 * sqrt(0.01));
    cr_expect(isnan(lm_stats_cs_halfwidth(0, 0.05, 0.2)));
    cr_expect(isnan(lm_stats_cs_halfwidth(0.01, 0, 0.2)));
    cr_expect(isnan(lm_stats_cs_halfwidth(0.01, 1, 0.2)));
    cr_expect(isnan(lm_stats_cs_halfwidth(0.01, 0.05, 0)));
    cr_expect(isnan(lm_stats_cs_halfwidth(NAN, 0.05, 0.2)));
}

Test(stats, lift_cs_reference_values) {
    double l, lo, hi, flo, fhi;
    /* 300/1000 vs 200/1000: ratio 1.5; v = 1/300 - 1/1000 + 1/200 - 1/1000
       = 0.0063333; h = 0.241978; exp(ln 1.5 -/+ h) - 1 */
    lm_stats_lift_cs(300, 1000, 200, 1000, 0.05, 0.2, &l, &lo, &hi);
    cr_expect_float_eq(l, 0.5, EPS);
    cr_expect_float_eq(lo, 0.177611, EPS);
    cr_expect_float_eq(hi, 0.910649, EPS);
    /* it contains the fixed-horizon interval (0.283367 .. 0.753201) */
    lm_stats_lift(300, 1000, 200, 1000, &l, &flo, &fhi);
    cr_expect_lt(lo, flo);
    cr_expect_gt(hi, fhi);
    /* the other way round: the interval inverts */
    lm_stats_lift_cs(200, 1000, 300, 1000, 0.05, 0.2, &l, &lo, &hi);
    cr_expect_float_eq(lo, 1 / 1.910649 - 1, EPS);
    cr_expect_float_eq(hi, 1 / 1.177611 - 1, EPS);
    /* too few answers (4 < LM_STATS_CS_MIN_COUNT) or too few failures in
       an arm: the lift, but no interval */
    lm_stats_lift_cs(4, 100, 20, 100, 0.05, 0.2, &l, &lo, &hi);
    cr_expect_float_eq(l, -0.8, EPS);
    cr_expect(isnan(lo) && isnan(hi));
    lm_stats_lift_cs(30, 100, 8, 12, 0.05, 0.2, &l, &lo, &hi);
    cr_expect(isfinite(l) && isnan(lo) && isnan(hi));
    lm_stats_lift_cs(3, 10, 0, 10, 0.05, 0.2, &l, &lo, &hi);
    cr_expect(isnan(l) && isnan(lo) && isnan(hi));
}

Test(stats, lift_state) {
    cr_expect_eq(lm_stats_lift_state(0.01, 0.5), LM_STATS_PROVEN);
    cr_expect_eq(lm_stats_lift_state(-0.5, -0.01), LM_STATS_HARMFUL);
    cr_expect_eq(lm_stats_lift_state(-0.1, 0.2), LM_STATS_NOT_PROVEN);
    cr_expect_eq(lm_stats_lift_state(0, 0.2), LM_STATS_NOT_PROVEN);
    cr_expect_eq(lm_stats_lift_state(NAN, NAN), LM_STATS_NOT_PROVEN);
}

Test(stats, lift_cs_more_is_the_sample_that_proves_it) {
    /* +10% observed, not proven at 1000 a side */
    double l, lo, hi;
    lm_stats_lift_cs(220, 1000, 200, 1000, 0.05, 0.2, &l, &lo, &hi);
    cr_assert(lo < 0 && hi > 0);
    double more = lm_stats_lift_cs_more(220, 1000, 200, 1000, 0.05, 0.2);
    cr_assert(isfinite(more) && more > 0, "%g", more);
    /* with the counts grown by 1 + more (and 1% to spare) it is proven;
       1% short of that it is not */
    double k = 1 + more;
    int64_t na = llround(1000 * k * 1.01), nb = na;
    lm_stats_lift_cs(llround(220 * k * 1.01), na, llround(200 * k * 1.01), nb,
                     0.05, 0.2, &l, &lo, &hi);
    cr_expect_gt(lo, 0, "k %g: %g .. %g", k, lo, hi);
    na = nb = llround(1000 * k * 0.99);
    lm_stats_lift_cs(llround(220 * k * 0.99), na, llround(200 * k * 0.99), nb,
                     0.05, 0.2, &l, &lo, &hi);
    cr_expect_leq(lo, 0, "k %g: %g .. %g", k, lo, hi);
    /* a larger effect needs less */
    cr_expect_lt(lm_stats_lift_cs_more(260, 1000, 200, 1000, 0.05, 0.2), more);
    /* proven, or harmful: nothing more */
    cr_expect_eq(lm_stats_lift_cs_more(300, 1000, 200, 1000, 0.05, 0.2), 0);
    cr_expect_eq(lm_stats_lift_cs_more(200, 1000, 300, 1000, 0.05, 0.2), 0);
    /* no effect to prove, too few answers, or out of reach */
    cr_expect(isnan(lm_stats_lift_cs_more(200, 1000, 200, 1000, 0.05, 0.2)));
    cr_expect(isnan(lm_stats_lift_cs_more(3, 100, 20, 100, 0.05, 0.2)));
    cr_expect(
        isnan(
            lm_stats_lift_cs_more(200001, 1000000, 200000, 1000000, 0.05, 0.2)),
        "a +0.0005%% lift: beyond LM_STATS_CS_SCALE_MAX times the sample");
}

/* ---- watched after every lead: simulated experiments -------------------- */

/* splitmix64: a fixed, portable stream (rand() differs between libcs). */
typedef struct rng {
    uint64_t s;
} rng;

static double rng_u01(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

typedef struct watch {
    int cs_ever, fixed_ever, fixed_at_end; /* runs that excluded 0 */
} watch;

/* `runs` experiments of `leads` leads each: a lead joins arm a with
 * probability share_a, answers with probability rate (times 1 + effect in
 * arm a); after every lead both intervals are looked at. */
static watch simulate(uint64_t seed, int runs, int leads, double share_a,
                      double rate, double effect) {
    rng r = {seed};
    watch w = {0};
    for (int run = 0; run < runs; run++) {
        int64_t n[2] = {0}, x[2] = {0};
        int cs = 0, fixed = 0;
        double l, lo, hi;
        for (int i = 0; i < leads; i++) {
            int a = rng_u01(&r) < share_a;
            n[a]++;
            x[a] += rng_u01(&r) < (a ? rate * (1 + effect) : rate);
            if (!cs) {
                lm_stats_lift_cs(x[1], n[1], x[0], n[0], LM_STATS_CS_ALPHA,
                                 LM_STATS_CS_TAU, &l, &lo, &hi);
                cs = lm_stats_lift_state(lo, hi) != LM_STATS_NOT_PROVEN;
            }
            if (!fixed) {
                lm_stats_lift(x[1], n[1], x[0], n[0], &l, &lo, &hi);
                fixed = lm_stats_lift_state(lo, hi) != LM_STATS_NOT_PROVEN;
            }
        }
        lm_stats_lift(x[1], n[1], x[0], n[0], &l, &lo, &hi);
        w.fixed_at_end += lm_stats_lift_state(lo, hi) != LM_STATS_NOT_PROVEN;
        w.cs_ever += cs;
        w.fixed_ever += fixed;
    }
    return w;
}

#define SIM_RUNS  400
#define SIM_LEADS 4000

/* No true effect (A/A), a 10% control arm, 30% answer: watched after
 * every one of 4,000 leads in each of 400 runs, the sequence claims an
 * effect in at most alpha of the runs; the fixed-horizon interval, watched
 * the same way, in far more (about 40%), though looked at once, at the
 * end, it is right to be wrong 5% of the time. */
Test(stats, cs_watched_continuously_holds_its_level) {
    watch w = simulate(20261203, SIM_RUNS, SIM_LEADS, 0.9, 0.3, 0);
    double cs = (double)w.cs_ever / SIM_RUNS,
           fixed = (double)w.fixed_ever / SIM_RUNS,
           end = (double)w.fixed_at_end / SIM_RUNS;
    cr_log_info("A/A, 400 runs: sequence %.3f, fixed-horizon watched %.3f, "
                "fixed-horizon at the end %.3f",
                cs, fixed, end);
    cr_expect_leq(cs, LM_STATS_CS_ALPHA,
                  "the sequence excluded 0 in %.1f%% of runs with no effect",
                  100 * cs);
    cr_expect_geq(fixed, 4 * LM_STATS_CS_ALPHA,
                  "the fixed-horizon interval watched continuously: %.1f%%",
                  100 * fixed);
    /* the simulation itself is sound: looked at once, about 5% */
    cr_expect(end > 0.02 && end < 0.09, "%.3f", end);
    /* the same with the arms even and a rarer answer */
    w = simulate(7, SIM_RUNS, SIM_LEADS, 0.5, 0.1, 0);
    cr_expect_leq((double)w.cs_ever / SIM_RUNS, LM_STATS_CS_ALPHA, "%d runs",
                  w.cs_ever);
    cr_expect_geq((double)w.fixed_ever / SIM_RUNS, 4 * LM_STATS_CS_ALPHA,
                  "%d runs", w.fixed_ever);
}

/* It is not valid by never saying anything: a true +30% on a 20% answer
 * rate (a 20% control arm) is proven within 4,000 leads in most runs. */
Test(stats, cs_finds_a_true_effect) {
    watch w = simulate(99, SIM_RUNS, SIM_LEADS, 0.8, 0.2, 0.3);
    cr_expect_geq((double)w.cs_ever / SIM_RUNS, 0.6, "%d of %d runs", w.cs_ever,
                  SIM_RUNS);
}

Test(stats, a_sample_grows_and_keeps_its_order) {
    lm_stats_sample s = {0};
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(lm_stats_sample_push(&s, (double)i), 0);
    cr_expect_eq(s.n, 1000);
    cr_expect_geq(s.cap, s.n);
    cr_expect_float_eq(s.v[0], 0.0, 1e-12);
    cr_expect_float_eq(s.v[999], 999.0, 1e-12);
    cr_expect_float_eq(lm_stats_mean(s.v, s.n), 499.5, 1e-9);
    lm_stats_sample_free(&s);
    cr_expect_eq(s.n, 0);
    cr_expect_null(s.v);
    lm_stats_sample_free(NULL);
}
