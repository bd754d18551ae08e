/* test_board_age.c — the board's oldest intake message's age in the clock
 * domain of the time it compares (cli/board_age.c): with the demo's shared
 * clock, which ran at its speed while the lead was submitted and at real
 * speed since, the age is the simulated time that passed, not the real
 * interval times the current scale; a message without submitted_at_ms
 * falls back to its Kafka timestamp only with a fixed scale. */
#include "board_age.h"

#include "lm_clock.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define T0   1767607200000LL /* 2026-01-05T10:00:00Z */
#define FAST 3600.0

static char path[64];

static void setup(void) {
    snprintf(path, sizeof(path), "/tmp/lm_board_age_%d", (int)getpid());
    unlink(path);
}

static void teardown(void) {
    lm_clock_release();
    lm_clock_init(1, 0, 0);
    unlink(path);
}

TestSuite(board_age, .init = setup, .fini = teardown);

/* A packed LeadSubmitted submitted at `at_ms` (0: none) into buf. */
static size_t submitted(int64_t at_ms, uint8_t *buf, size_t bufsz) {
    Lastmile__V1__LeadSubmitted s = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    s.event_id = "ev-1";
    s.email = "ana@acme.com";
    s.submitted_at_ms = at_ms;
    size_t n = lastmile__v1__lead_submitted__get_packed_size(&s);
    cr_assert_lt(n, bufsz);
    return lastmile__v1__lead_submitted__pack(&s, buf);
}

Test(board_age, a_shared_clock_gives_the_simulated_age) {
    char err[4096] = "";
    cr_assert_eq(lm_clock_own(path, FAST, T0, err, sizeof(err)), 0, "%s", err);
    /* submitted 2 real seconds ago while the demo ran at 3600x: 2 simulated
       hours ago; since then a lead is in the fleet's hands (real speed) */
    int64_t real_ts = lm_clock_real_ms() - 2000;
    int64_t sim_at = lm_clock_now_ms() - 2000 * (int64_t)FAST;
    cr_assert_eq(lm_clock_set(1.0), 0);
    uint8_t buf[256];
    size_t n = submitted(sim_at, buf, sizeof(buf));
    int64_t since = board_intake_since_ms(buf, n, real_ts);
    cr_assert_geq(since, 0);
    double age = board_age_s(lm_clock_now_ms(), since);
    cr_expect_geq(age, 7200.0, "2 simulated hours, not 2 s: %.1f", age);
    cr_expect_lt(age, 7200.0 + 86400.0, "%.1f", age);
    /* without submitted_at_ms a shared clock cannot map Kafka's time */
    n = submitted(0, buf, sizeof(buf));
    cr_expect_eq(board_intake_since_ms(buf, n, real_ts), -1);
}

Test(board_age, a_fixed_scale_maps_the_kafka_timestamp) {
    int64_t origin = lm_clock_real_ms() - 10000;
    lm_clock_init(FAST, origin, T0);
    uint8_t buf[256];
    size_t n = submitted(0, buf, sizeof(buf));
    /* produced at the origin: T0 in simulated ms */
    int64_t since = board_intake_since_ms(buf, n, origin);
    cr_expect(since >= T0 - 1000 * (int64_t)FAST &&
                  since <= T0 + 1000 * (int64_t)FAST,
              "%lld", (long long)since);
    cr_expect_geq(board_age_s(lm_clock_now_ms(), since), 9.0 * FAST);
    cr_expect_eq(board_intake_since_ms(buf, n, 0), -1, "no timestamp");
    cr_expect_eq(board_intake_since_ms("\xff\xff", 2, 0), -1, "not a lead");
}
