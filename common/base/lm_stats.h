/* lm_stats.h — the one percentile and interval module: nearest-rank
 * percentiles, the mean, a guarded ratio, the Wilson score interval of a
 * rate, the lift of one rate over another with its fixed-horizon 95%
 * interval, and the always-valid version of that interval (a confidence
 * sequence) with the state it proves and the sample it still needs.
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

/* A sample that grows one value at a time (v[0..n), capacity cap; zeroed
 * = empty). It owns v: lm_stats_sample_free. */
typedef struct lm_stats_sample {
    double *v;
    size_t n, cap;
} lm_stats_sample;
/* Appends x; 0, or -1 when out of memory (the sample is unchanged). */
int lm_stats_sample_push(lm_stats_sample *s, double x);
void lm_stats_sample_free(lm_stats_sample *s); /* empties it; NULL ok */
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
/* The lift of arm a over arm b, rate_a / rate_b - 1, and its fixed-horizon
 * 95% interval (valid looked at once, at a sample size fixed in advance;
 * the report shows lm_stats_lift_cs below, and the tests compare the two)
 * from the delta method on log(rate_a / rate_b):
 *   se = sqrt(1/xa - 1/na + 1/xb - 1/nb),
 *   interval = exp(log(ratio) -/+ z * se) - 1.
 * lift NAN when na, nb or xb is 0; interval NAN also when xa is 0. */
void lm_stats_lift(int64_t xa, int64_t na, int64_t xb, int64_t nb, double *lift,
                   double *lo, double *hi);

/* ---- always-valid: a confidence sequence for the lift ----------------------
 *
 * The interval above is fixed-horizon: it covers the truth 95% of the time
 * if it is looked at ONCE, at a sample size chosen in advance. Looked at
 * after every new lead, it excludes 0 sooner or later in most experiments
 * with no effect at all. A confidence sequence covers the truth at every
 * sample size at once, with probability 1 - alpha: it may be looked at as
 * often as one likes, and acted on the first time it excludes 0.
 *
 * The one used here is the normal-mixture sequence (the mixture sequential
 * probability ratio test, mSPRT: Robbins 1970; Johari, Pekelis and Walsh,
 * "Always valid inference: continuous monitoring of A/B tests", Operations
 * Research 2022; Howard, Ramdas, McAuliffe and Sekhon, "Time-uniform,
 * nonparametric, nonasymptotic confidence sequences", Annals of
 * Statistics 2021),
 * applied to the log of the rate ratio l = ln(rate_a / rate_b), whose
 * estimate is approximately normal with variance
 *   V = 1/xa - 1/na + 1/xb - 1/nb   (the delta method, as above).
 * For each candidate value m, the likelihood ratio of the alternatives
 * (mixed over a normal N(m, tau^2)) against m itself is a martingale when
 * m is the truth, so by Ville's inequality it ever reaches 1/alpha with
 * probability at most alpha; the values m not yet rejected form
 *   l -/+ h,  h^2 = V (V + tau^2) / tau^2 * (2 ln(1/alpha) + ln((V + tau^2) /
 * V)), and the interval for the lift is exp(l -/+ h) - 1. With V plugged in
 * from the data the guarantee is asymptotic (large arms), like the
 * delta method's own.
 *
 * tau, the mixing parameter, is the scale of effect the sequence is
 * tuned for. LM_STATS_CS_TAU = 0.2 on the log ratio means "lifts of the
 * order of +/-20%", the size a change of timing can plausibly make. With
 * it the sequence is narrowest next to the fixed-horizon interval when V
 * is tau^2/10 to tau^2/4 (1.55 times as wide) and 1.6 to 1.9 times as wide
 * for V from 1e-3 to 1e-5 (arms of some hundreds to some tens of
 * thousands of leads); a tau of 0.1 or 0.4 changes that width by about
 * 5%, so the choice matters little.
 *
 * The normal approximation needs some of each outcome: no interval is
 * given until each arm has LM_STATS_CS_MIN_COUNT successes and as many
 * failures (with 1 answer of 1 lead an arm's variance reads 0; without
 * the rule the sequence excluded 0 in 11% of simulated runs with no
 * effect and a 10% control arm, with it in 3%). */

#define LM_STATS_CS_ALPHA     0.05 /* 1 - coverage: a 95% sequence */
#define LM_STATS_CS_TAU       0.2  /* mixing sd, on the log of the rate ratio */
#define LM_STATS_CS_MIN_COUNT 5    /* successes, and failures, per arm */
/* The most further sample the "needed" estimate looks for, as a multiple
 * of the present one; beyond it the effect is "not within reach". */
#define LM_STATS_CS_SCALE_MAX 1e6

/* The mixture's half-width h for an estimate of variance v (formula
 * above); NAN when v <= 0, alpha outside (0, 1) or tau <= 0. */
double lm_stats_cs_halfwidth(double v, double alpha, double tau);

/* The lift of arm a over arm b, rate_a / rate_b - 1, and its always-valid
 * (1 - alpha) interval from the normal-mixture sequence on the log rate
 * ratio (above). lift NAN when na, nb or xb is 0; interval NAN also while
 * an arm has fewer than LM_STATS_CS_MIN_COUNT successes or failures. */
void lm_stats_lift_cs(int64_t xa, int64_t na, int64_t xb, int64_t nb,
                      double alpha, double tau, double *lift, double *lo,
                      double *hi);

/* What an interval for a lift says, as a number (the report's
 * `state_code`, the board's and /metrics' gauge): */
enum {
    LM_STATS_HARMFUL = -1,   /* entirely below 0: a proven loss */
    LM_STATS_NOT_PROVEN = 0, /* spans 0, or no interval yet */
    LM_STATS_PROVEN = 1      /* entirely above 0: a proven gain */
};
/* LM_STATS_PROVEN when lo > 0, LM_STATS_HARMFUL when hi < 0, else (NAN
 * included) LM_STATS_NOT_PROVEN. */
int lm_stats_lift_state(double lo, double hi);

/* How much larger the sample must grow before the present effect is
 * proven, assuming the observed rates are the true ones and both arms
 * grow in their present proportion: the smallest k >= 1 such that, with
 * every count times k (V divided by k), the sequence of lm_stats_lift_cs
 * excludes 0. Returns k - 1, the extra sample as a multiple of the present
 * one (0 when already proven or harmful; each arm then needs ceil((k - 1) *
 * n) more leads). NAN when no interval can be computed, the observed lift
 * is 0, or k would exceed LM_STATS_CS_SCALE_MAX. Optimistic by design: a
 * true effect smaller than the observed one needs more. */
double lm_stats_lift_cs_more(int64_t xa, int64_t na, int64_t xb, int64_t nb,
                             double alpha, double tau);

#endif
