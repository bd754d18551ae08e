/* test_utf8.c — lm_utf8: one rule for well-formed UTF-8, used by the
 * dead-letter/log sanitizer and by protobuf → JSON. */
#include "lm_utf8.h"

#include <criterion/criterion.h>
#include <string.h>

static void expect_sanitized(const char *in, const char *want) {
    char buf[64];
    strcpy(buf, in);
    lm_utf8_sanitize(buf);
    cr_expect_str_eq(buf, want, "sanitize(%s)", in);
}

Test(utf8, sanitize_keeps_text_and_replaces_each_bad_byte) {
    expect_sanitized("Zürich 東京 🙂", "Zürich 東京 🙂");
    expect_sanitized("cut \xe6\x9d", "cut ??");           /* truncated */
    expect_sanitized("over \xc0\xaf", "over ??");         /* overlong '/' */
    expect_sanitized("sur \xed\xa0\x80", "sur ???");      /* surrogate */
    expect_sanitized("big \xf4\x90\x80\x80", "big ????"); /* > U+10FFFF */
    expect_sanitized("", "");
}

Test(utf8, seq_honours_the_length_it_is_given) {
    const unsigned char e_acute[] = {0xc3, 0xa9};
    cr_expect_eq(lm_utf8_seq(e_acute, 2), 2);
    cr_expect_eq(lm_utf8_seq(e_acute, 1), 0, "a sequence past n counts");
    cr_expect_eq(lm_utf8_seq((const unsigned char *)"a", 1), 1);
}
