/* test_fmt.c — the base formatters: lm_fmt_cat and the one error setter. */
#include "lm_fmt.h"

#include <criterion/criterion.h>
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
