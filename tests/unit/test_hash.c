/* test_hash.c — lm_hash64 never changes: its values are stored state (lead
 * ids, timer buckets, the control arm, the outbox's hashes of compacted
 * values). The expected values were taken from the byte-at-a-time loop
 * before the eight-a-turn one replaced it (issue 16); the lengths cross
 * the eight-byte turns. */
#include "lm_hash.h"

#include <criterion/criterion.h>

Test(hash, values_are_those_of_the_first_implementation) {
    static const struct {
        size_t len;
        uint64_t want;
    } cases[] = {
        {0, 0xe9c6227f5bc4a2a4ULL},  {1, 0xb2eaefeb387b63ceULL},
        {7, 0x3b630650252fe580ULL},  {8, 0x00054ebeb5f37facULL},
        {9, 0xadc38ebd1502395bULL},  {15, 0x65f8c25e13114a31ULL},
        {16, 0x6aebc1750e10c716ULL}, {17, 0x12205650f7346bcdULL},
        {63, 0x1f2fe2e1e9274abfULL}, {100, 0x7fb5c9424a745d3bULL},
    };
    unsigned char buf[100];
    for (int i = 0; i < 100; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(lm_hash64(buf, cases[i].len, 0x6f7574626f78ULL),
                     cases[i].want, "length %zu", cases[i].len);
    cr_expect_eq(lm_hash64_str("", 0), 0xf52a15e9a9b5e89bULL);
    cr_expect_eq(lm_hash64_str("hello, lastmile", 0), 0x88114c6683cdbfcaULL);
}

/* An unaligned start gives the same value as an aligned copy. */
Test(hash, the_start_address_does_not_matter) {
    unsigned char a[40], b[48];
    for (int i = 0; i < 40; i++)
        a[i] = b[i + 3] = (unsigned char)(i * 91 + 5);
    for (size_t len = 0; len <= 40; len++)
        cr_expect_eq(lm_hash64(a, len, 7), lm_hash64(b + 3, len, 7), "%zu",
                     len);
}
