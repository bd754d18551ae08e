/* test_crash_windows.c — the delivery rule at its two dangerous moments,
 * hit exactly (LASTMILE_TEST_CRASH_AT makes a worker _exit(137) there):
 *   after its Redis writes, before producing: the restarted worker finds
 *     the outbox and produces every output once;
 *   after producing, before committing: the input is redelivered, the
 *     outputs are found on the topic and not produced again.
 * Checked with the test's own consumer on the output topic. */
#include "market.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

static int all_accepted(const market *m) {
    return m->accepted.n >= 200;
}

static void crash_once(const char *where) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 200, 0, 0, 21);
    setenv("LASTMILE_TEST_CRASH_AT", where, 1);
    int slot = fixture_start_worker(&fx, "intake");
    int status = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    while (waitpid(fx.procs[slot], &status, WNOHANG) == 0 &&
           fixture_mono_ms() < deadline)
        usleep(20000);
    fx.procs[slot] = 0;
    unsetenv("LASTMILE_TEST_CRASH_AT");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 137,
              "the worker did not stop at %s (status %d)", where, status);
    market_pump(&m, 300);
    size_t before = m.accepted.n;
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    market_until(&m, all_accepted, 60000);
    for (int i = 0; i < 3; i++)
        market_pump(&m, 200);
    printf("crash %s: %zu accepted before the restart, %zu after, %zu "
           "twice\n",
           where, before, m.accepted.n, m.accepted.dups);
    cr_expect_eq(m.accepted.n, 200, "%zu of 200 leads accepted", m.accepted.n);
    cr_expect_eq(m.accepted.dups, 0, "%zu accepted twice on the topic",
                 m.accepted.dups);
    market_free(&m);
}

Test(crash, after_writes_before_produce, .fini = teardown, .timeout = 120) {
    crash_once("after-writes");
}

Test(crash, after_produce_before_commit, .fini = teardown, .timeout = 120) {
    crash_once("after-produce");
}
