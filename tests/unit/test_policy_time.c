/* test_policy_time.c — the decision config's time queries: the next
 * allowed instant of a cadence and its candidate slots. Loading, errors
 * and the other queries are in test_policy.c.
 *
 * Table-driven. Time cases use fixed instants (never the clock) and zones
 * with DST, +5:30 and a 30-minute DST. Pure code; runs anywhere with
 * /usr/share/zoneinfo. */
#include "lm_policy.h"
#include "lm_tz.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL

/* ---- allowed hours ----------------------------------------------------- */

static lm_cadence cadence(int32_t start_min, int32_t end_min, uint8_t days) {
    lm_cadence c;
    memset(&c, 0, sizeof c);
    c.name = "test";
    c.allowed_start_min = start_min;
    c.allowed_end_min = end_min;
    c.business_days_mask = days;
    return c;
}

static int64_t at(const char *tz, int y, int m, int d, int h, int mi) {
    return lm_tz_to_utc_ms(tz, y, m, d, h, mi);
}

Test(policy, next_allowed) {
    const lm_cadence office = cadence(9 * 60, 17 * 60, 0x1f);
    const lm_cadence night = cadence(2 * 60 + 30, 5 * 60, 0x7f);
    const lm_cadence lhi = cadence(2 * 60, 4 * 60, 0x7f);
    static const char *B = "Europe/Berlin", *NY = "America/New_York",
                      *K = "Asia/Kolkata", *LH = "Australia/Lord_Howe";
    const struct {
        const lm_cadence *c;
        const char *tz;
        int64_t from, want;
        const char *what;
    } cases[] = {
        /* Saturday -> Monday, across Berlin's spring change (Sun 30 Mar) */
        {&office, B, 1743238800000LL, 1743404400000LL, "weekend+DST"},
        {&office, B, at(B, 2025, 3, 31, 8, 0), at(B, 2025, 3, 31, 9, 0),
         "before hours"},
        {&office, B, at(B, 2025, 6, 6, 16, 59) + 30000,
         at(B, 2025, 6, 6, 16, 59) + 30000, "inside: itself"},
        {&office, B, at(B, 2025, 6, 6, 17, 0), at(B, 2025, 6, 9, 9, 0),
         "end is exclusive; Fri -> Mon"},
        {&office, B, at(B, 2025, 6, 2, 17, 0), at(B, 2025, 6, 3, 9, 0),
         "Mon evening -> Tue"},
        {&office, B, at(B, 2025, 6, 2, 9, 0), at(B, 2025, 6, 2, 9, 0),
         "start is inclusive"},
        /* New York: Friday evening EDT -> Monday 09:00 EST (fall back) */
        {&office, NY, 1761948000000LL, 1762178400000LL, "fall back"},
        {&office, NY, at(NY, 2025, 3, 8, 12, 0), at(NY, 2025, 3, 10, 9, 0),
         "spring forward weekend"},
        /* Kolkata, +5:30 */
        {&office, K, 1749526140000LL, 1749526200000LL, "08:59 IST -> 09:00"},
        {&office, K, 1749556800000LL, 1749612600000LL,
         "17:30 IST -> next 09:00"},
        /* window start in the spring gap: opens when the clock jumps */
        {&night, B, 1743289200000LL, 1743296400000LL, "02:30 in the gap"},
        {&lhi, LH, 1759584600000LL, 1759591800000LL,
         "Lord Howe 02:00 in the 30-min gap"},
        /* window start repeated in autumn: after the first 02:30 passed */
        {&night, B, 1761441300000LL, 1761442200000LL,
         "second 02:15 -> second 02:30"},
        {&night, B, at(B, 2025, 10, 26, 0, 0), 1761438600000LL,
         "first 02:30 in autumn"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(
            lm_policy_next_allowed_ms(cases[i].c, cases[i].tz, cases[i].from),
            cases[i].want, "case %zu (%s): got %lld want %lld", i,
            cases[i].what,
            (long long)lm_policy_next_allowed_ms(cases[i].c, cases[i].tz,
                                                 cases[i].from),
            (long long)cases[i].want);
    cr_expect_eq(lm_policy_next_allowed_ms(&office, "Nope/Nowhere", 0), -1);
    cr_expect_eq(lm_policy_next_allowed_ms(NULL, B, 0), -1);
}

Test(policy, next_allowed_property) {
    /* For many instants: the answer is >= the input, lies inside the
     * window on a business day, and no earlier minute boundary after the
     * input does (checked minute by minute up to the answer, sampled). */
    const lm_cadence office = cadence(9 * 60 + 30, 17 * 60 + 15, 0x15);
    static const char *const zones[] = {"Europe/Berlin", "America/New_York",
                                        "Asia/Kolkata", "Australia/Lord_Howe"};
    size_t z;

    for (z = 0; z < sizeof zones / sizeof *zones; z++) {
        int64_t t;
        for (t = 1577836800000LL; t < 1893456000000LL; t += 7777777LL * 13) {
            int64_t r = lm_policy_next_allowed_ms(&office, zones[z], t), m;
            lm_local_time lt;
            cr_assert_geq(r, t);
            cr_assert_eq(lm_tz_local(zones[z], r, &lt), 0);
            cr_assert((office.business_days_mask >> lt.weekday) & 1);
            cr_assert(lt.minute_of_day >= office.allowed_start_min &&
                          lt.minute_of_day < office.allowed_end_min,
                      "%s %lld -> %lld", zones[z], (long long)t, (long long)r);
            /* the minute boundaries between t and r are all outside */
            for (m = (t / 60000 + 1) * 60000; m < r; m += 60000 * 29) {
                cr_assert_eq(lm_tz_local(zones[z], m, &lt), 0);
                cr_assert(!(((office.business_days_mask >> lt.weekday) & 1) &&
                            lt.minute_of_day >= office.allowed_start_min &&
                            lt.minute_of_day < office.allowed_end_min),
                          "%s: %lld allowed before %lld", zones[z],
                          (long long)m, (long long)r);
            }
        }
    }
}

/* ---- candidate slots --------------------------------------------------- */

static void check_slots(const char *tz, const lm_slot *s, size_t n,
                        int64_t from) {
    size_t i;
    for (i = 0; i < n; i++) {
        lm_local_time lt;
        cr_assert_eq(lm_tz_local(tz, s[i].start_ms, &lt), 0);
        cr_expect_eq(lt.hour_of_week, s[i].slot, "slot %zu", i);
        cr_expect_geq(s[i].start_ms, from);
        if (i > 0)
            cr_expect_gt(s[i].start_ms, s[i - 1].start_ms, "order at %zu", i);
    }
}

Test(policy, candidate_slots) {
    char err[LM_POLICY_ERRSZ];
    lm_policy *p = lm_policy_load(NULL, err, sizeof err);
    const lm_cadence *q, *nur;
    const lm_cadence half = cadence(9 * 60 + 30, 17 * 60 + 15, 0x1f);
    const lm_cadence all = cadence(0, 24 * 60, 0x7f);
    static const char *B = "Europe/Berlin";
    lm_slot s[200];
    int64_t mon = 1748815200000LL; /* Mon 2025-06-02 00:00 CEST */
    size_t n, i;
    uint8_t seen[168];

    cr_assert_not_null(p, "%s", err);
    q = lm_policy_cadence(p, "qualified");
    nur = lm_policy_cadence(p, "nurture");

    /* a whole week from Monday midnight: 5 days x 8 hours */
    n = lm_policy_candidate_slots(q, B, mon, 7 * DAY_MS, s, 200);
    cr_expect_eq(n, 40);
    check_slots(B, s, n, mon);
    cr_expect_eq(s[0].slot, 9);
    cr_expect_eq(s[0].start_ms, 1748847600000LL); /* 09:00 CEST */
    cr_expect_eq(s[39].slot, 4 * 24 + 16);
    cr_expect_eq(s[39].start_ms, at(B, 2025, 6, 6, 16, 0));
    memset(seen, 0, sizeof seen);
    for (i = 0; i < n; i++) {
        cr_expect(!seen[s[i].slot], "slot %d twice", s[i].slot);
        seen[s[i].slot] = 1;
    }

    /* from inside an hour: that hour starts at from; next Monday's 09:00
     * is the first time slot 9 comes up */
    n = lm_policy_candidate_slots(q, B, 1748852400000LL, 7 * DAY_MS, s, 200);
    cr_expect_eq(n, 40);
    check_slots(B, s, n, 1748852400000LL);
    cr_expect_eq(s[0].slot, 10);
    cr_expect_eq(s[0].start_ms, 1748852400000LL); /* 10:20 */
    cr_expect_eq(s[1].start_ms, at(B, 2025, 6, 2, 11, 0));
    cr_expect_eq(s[39].slot, 9);
    cr_expect_eq(s[39].start_ms, 1748847600000LL + 7 * DAY_MS);

    /* limits: max, short and empty horizons */
    cr_expect_eq(lm_policy_candidate_slots(q, B, mon, 7 * DAY_MS, s, 3), 3);
    cr_expect_eq(s[2].slot, 11);
    cr_expect_eq(
        lm_policy_candidate_slots(q, B, 1748847600000LL, HOUR_MS, s, 200), 1);
    cr_expect_eq(lm_policy_candidate_slots(q, B, mon, 9 * HOUR_MS, s, 200),
                 0); /* [00:00, 09:00): nothing starts */
    cr_expect_eq(lm_policy_candidate_slots(q, B, mon, 0, s, 200), 0);
    cr_expect_eq(lm_policy_candidate_slots(q, B, mon, DAY_MS, s, 0), 0);
    cr_expect_eq(
        lm_policy_candidate_slots(q, "Nope/Nowhere", mon, DAY_MS, s, 200), 0);
    /* a long horizon still gives each slot once */
    cr_expect_eq(lm_policy_candidate_slots(q, B, mon, 60 * DAY_MS, s, 200), 40);

    /* nurture: Tue-Thu 10-16 */
    n = lm_policy_candidate_slots(nur, B, mon, 7 * DAY_MS, s, 200);
    cr_expect_eq(n, 18);
    cr_expect_eq(s[0].slot, 24 + 10);

    /* partial hours: 09:30-17:15 gives 9:30 and 17:00 starts */
    n = lm_policy_candidate_slots(&half, B, mon, 7 * DAY_MS, s, 200);
    cr_expect_eq(n, 45);
    cr_expect_eq(s[0].slot, 9);
    cr_expect_eq(s[0].start_ms, at(B, 2025, 6, 2, 9, 30));
    cr_expect_eq(s[8].slot, 17);
    cr_expect_eq(s[8].start_ms, at(B, 2025, 6, 2, 17, 0));

    /* +5:30: local hours start at :30 UTC */
    n = lm_policy_candidate_slots(q, "Asia/Kolkata", 1748802600000LL,
                                  7 * DAY_MS, s, 200); /* Mon 00:00 IST */
    cr_expect_eq(n, 40);
    cr_expect_eq(s[0].slot, 9);
    cr_expect_eq(s[0].start_ms, 1748835000000LL); /* 03:30Z */
    check_slots("Asia/Kolkata", s, n, 1748802600000LL);

    /* New York, the week the clocks go back: Monday is EST */
    n = lm_policy_candidate_slots(q, "America/New_York", 1761969600000LL,
                                  7 * DAY_MS, s, 200); /* Sat 1 Nov 00:00 */
    cr_expect_eq(n, 40);
    cr_expect_eq(s[0].slot, 9);
    cr_expect_eq(s[0].start_ms, 1762178400000LL); /* Mon 09:00 EST=14:00Z */

    /* Lord Howe's spring: Sunday's 02:00 hour starts at 02:30 */
    n = lm_policy_candidate_slots(&all, "Australia/Lord_Howe", 1759498200000LL,
                                  2 * DAY_MS, s, 200);
    cr_expect_eq(n, 49); /* Sat 24 + Sun 24 + Mon 00:00 (Sun is 23.5h) */
    check_slots("Australia/Lord_Howe", s, n, 1759498200000LL);
    for (i = 0; i < n && s[i].slot != 6 * 24 + 2; i++)
        ;
    cr_assert_lt(i, n);
    cr_expect_eq(s[i].start_ms, 1759591800000LL);
    lm_policy_free(p);
}
