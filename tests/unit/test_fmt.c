/* test_fmt.c — the base formatters: lm_fmt_cat, the one error setter and
 * the one duration formatter. */
#include "lm_fmt.h"

#include <criterion/criterion.h>
#include <math.h>
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
