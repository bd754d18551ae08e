/* test_readiness.c — /readyz follows the connection, not the next input.
 *
 * Issue 14, item 3: after a blip, /readyz stayed 503 until new input
 * arrived — timing said "redis unreachable" for minutes while its sweeper
 * was working again, followup "kafka brokers unreachable" 35 s after the
 * broker was back. Here the fleet gets no input at all:
 *   readiness.after_a_broker_outage: the broker goes down for 5 s; every
 *     worker must say not ready, then ready again, with nothing to do;
 *   readiness.after_redis_paused: Redis stops answering (SIGSTOP) for 6 s;
 *     timing's sweeper notices (not ready), then must say ready again.
 * The waits are bounded; nothing here asserts how fast. */
#include "stack_fixture.h"

#include "lm_devstack.h"
#include "lm_http_get.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static fixture fx;
static const char *const names[FX_WORKERS] = {"intake", "qualification",
                                              "followup", "timing"};

static void teardown(void) {
    if (fx.st.redis_pid > 0)
        kill(fx.st.redis_pid, SIGCONT);
    fixture_down(&fx);
}

static int readyz(int port) {
    lm_http_get_reply r;
    char err[256];
    if (lm_http_get("127.0.0.1", port, "/readyz", 2000, &r, err, sizeof(err)) !=
        0)
        return -1;
    int status = r.status;
    lm_http_get_free(&r);
    return status;
}

/* Waits (bounded) until every worker in `which` answers `status`; returns
 * a bit set of those that never did. */
static unsigned wait_all(const int *ports, unsigned which, int status,
                         int64_t wait_ms) {
    int64_t deadline = fixture_mono_ms() + fixture_ms(wait_ms);
    unsigned left = which;
    while (left && fixture_mono_ms() < deadline) {
        for (int w = 0; w < FX_WORKERS; w++)
            if ((left & (1u << w)) && readyz(ports[w]) == status)
                left &= ~(1u << w);
        usleep(200 * 1000);
    }
    return left;
}

static void expect_none_left(unsigned left, const char *what) {
    for (int w = 0; w < FX_WORKERS; w++)
        cr_expect(!(left & (1u << w)), "%s: %s", names[w], what);
}

Test(readiness, after_a_broker_outage, .fini = teardown, .timeout = 300) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    int ports[FX_WORKERS];
    cr_assert_eq(fixture_start_all_with_metrics(&fx, ports), 0);
    unsigned all = (1u << FX_WORKERS) - 1;
    cr_assert_eq(wait_all(ports, all, 200, 60000), 0,
                 "the fleet never became ready");
    cr_assert_eq(lm_devstack_broker_ctl(&fx.st, "down 5"), 0);
    /* at least the workers whose connection broke say so */
    unsigned never_down = wait_all(ports, all, 503, 30000);
    cr_assert_neq(never_down, all, "no worker noticed the broker was gone");
    /* and every one is ready again once it is back, with no input */
    unsigned stuck = wait_all(ports, all, 200, 90000);
    expect_none_left(stuck, "still not ready after the broker came back, "
                            "with no input to notice it");
}

Test(readiness, after_redis_paused, .fini = teardown, .timeout = 300) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    setenv("LASTMILE_REDIS_TIMEOUT_MS", "1000", 1);
    int ports[FX_WORKERS];
    cr_assert_eq(fixture_start_all_with_metrics(&fx, ports), 0);
    unsigned all = (1u << FX_WORKERS) - 1, timing = 1u << 3;
    cr_assert_eq(wait_all(ports, all, 200, 60000), 0,
                 "the fleet never became ready");
    cr_assert_eq(kill(fx.st.redis_pid, SIGSTOP), 0);
    /* the sweeper talks to Redis every 200 ms: it must notice */
    unsigned noticed = wait_all(ports, timing, 503, 30000);
    kill(fx.st.redis_pid, SIGCONT);
    cr_assert_eq(noticed, 0, "timing said ready with Redis not answering");
    unsigned stuck = wait_all(ports, all, 200, 90000);
    expect_none_left(stuck, "still not ready after Redis answered again, "
                            "with no input to notice it");
}
