/* test_fmt.c — the base formatters: lm_fmt_cat, lm_fmt_f6, the one error setter
 * and the one duration formatter. */
#include "lm_fmt.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

Test(fmt, errf_sets_and_returns_minus_one) {
    char err[32] = "old";
    cr_expect_eq(lm_errf(err, sizeof(err), "%s:%d: bad", "f.yaml", 3), -1);
    cr_expect_str_eq(err, "f.yaml:3: bad");
    cr_expect_eq(lm_errf(NULL, 0, "ignored"), -1);
    lm_errf(err, 8, "truncated beyond eight");
    cr_expect_str_eq(err, "truncat");
}

Test(fmt, errf_add_collects_lines) {
    char err[32] = "";
    lm_errf_add(err, sizeof(err), "one");
    lm_errf_add(err, sizeof(err), "two %d", 2);
    cr_expect_str_eq(err, "one\ntwo 2");
    char small[8] = "";
    lm_errf_add(small, sizeof(small), "abcdef");
    lm_errf_add(small, sizeof(small), "more"); /* no room: left as is */
    cr_expect_str_eq(small, "abcdef");
}

Test(fmt, cat_truncates_and_reports) {
    char b[6];
    cr_expect_eq(lm_fmt_cat(b, sizeof(b), "ab", "cd", NULL), 4);
    cr_expect_str_eq(b, "abcd");
    cr_expect_eq(lm_fmt_cat(b, sizeof(b), "abc", "def", NULL), sizeof(b));
    cr_expect_str_eq(b, "abcde");
}

Test(fmt, duration_two_largest_units) {
    static const struct {
        double s;
        unsigned flags;
        const char *want;
    } cases[] = {
        {0.5, 0, "0.50s"},
        {9.994, 0, "9.99s"},
        {12.34, 0, "12.3s"},
        {42, LM_FMT_DUR_WHOLE, "42s"},
        {0, LM_FMT_DUR_WHOLE, "0s"},
        {60, 0, "1m 00s"},
        {252, 0, "4m 12s"},
        {252.4, LM_FMT_DUR_WHOLE, "4m 12s"},
        {3599.4, 0, "59m 59s"},
        {3599.6, 0, "1h 00m"}, /* rounded to the second first */
        {11100, 0, "3h 05m"},
        {86399, 0, "23h 59m"},
        {86400, 0, "1d 00h"},
        {2 * 86400 + 7 * 3600 + 59, 0, "2d 07h"},
        {400 * 86400.0, 0, "400d 00h"},
        {NAN, 0, "n/a"},
        {INFINITY, LM_FMT_DUR_WHOLE, "n/a"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[LM_FMT_DURATION_MAX];
        const char *got =
            lm_fmt_duration(buf, sizeof(buf), cases[i].s, cases[i].flags);
        cr_expect_eq(got, buf, "returns its buffer");
        cr_expect_str_eq(got, cases[i].want, "%g s", cases[i].s);
    }
}

Test(fmt, duration_cut_to_its_buffer) {
    char small[5];
    lm_fmt_duration(small, sizeof(small), 11100, 0);
    cr_expect_str_eq(small, "3h 0");
}

/* lm_fmt_f6 writes what printf's "%.6f" writes: exact ties (k/128 * 10^-6
 * sits halfway) go to even, the edges of its direct range and what it
 * hands to snprintf (negative, -0, NaN, huge) alike; then a sweep of
 * scores. */
static void expect_f6(double v) {
    char want[64], got[LM_FMT_F6_MAX];
    snprintf(want, sizeof(want), "%.6f", v);
    size_t n = lm_fmt_f6(got, v);
    cr_expect_str_eq(got, want, "%.17g", v);
    cr_expect_eq(n, strlen(want), "%.17g", v);
}

Test(fmt, f6_is_printfs_six_decimals) {
    static const double cases[] = {
        0,
        1,
        0.5,
        0.0078125, /* 7812.5e-6: tie */
        0.0234375,
        0.0000005,
        0.0000015,
        0.9999995,
        0.9999994999999999,
        123.4567895,
        5e-324,
        1e-300,
        999999999.9999995,
        1e9,
        -0.0,
        -0.25,
        NAN,
        INFINITY,
        1e15,
        -123456.75,
        9.99e23,
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_f6(cases[i]);
    char cut[LM_FMT_F6_MAX];
    cr_expect_eq(lm_fmt_f6(cut, 1e300), LM_FMT_F6_MAX - 1, "cut to fit");
    cr_expect_eq(strlen(cut), LM_FMT_F6_MAX - 1);
    uint64_t s = 88172645463325252ULL; /* xorshift: the same every run */
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) / 9007199254740992.0;
        expect_f6(u);
        expect_f6(1.0 / (1.0 + exp(10.0 - 20.0 * u)));
        expect_f6((double)(2 * (s % 1000) + 1) / 128.0 /
                  (double)(1u << (s % 8)));
    }
}
