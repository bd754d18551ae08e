/* test_crash_windows.c — the delivery rule at its two dangerous moments,
 * hit exactly (LASTMILE_TEST_CRASH_AT makes a worker _exit(137) there):
 *   after its Redis writes, before producing: the restarted worker finds
 *     the outbox and produces every output once;
 *   after producing, before committing: the input is redelivered, the
 *     outputs are found on the topic and not produced again;
 *   a replica applies the same batch first (LASTMILE_TEST_CRASH_AT=
 *     replica-first): the worker's own transaction is refused, it reads
 *     the batch again and recovers: writes applied once, outputs once.
 * Checked with the test's own consumer on the output topic. */
#include "market.h"

#include "lm_lead.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
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

/* The merge counter of every accepted lead, summed: HINCRBY applied twice
 * would show here. */
static long long merged_total(const market *m) {
    redisContext *c = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(c && !c->err, "redis: %s", c ? c->errstr : "no memory");
    long long total = 0;
    for (size_t i = 0; i < m->accepted.cap; i++) {
        const char *lead = m->accepted.keys[i];
        if (!lead)
            continue;
        char key[LM_KEY_MAX];
        lm_lead_key(lead, key);
        redisReply *r = redisCommand(c, "HGET %s merged", key);
        if (r && r->type == REDIS_REPLY_STRING)
            total += atoll(r->str);
        freeReplyObject(r);
    }
    redisFree(c);
    return total;
}

Test(crash, replica_applies_first, .fini = teardown, .timeout = 120) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    market m;
    market_init(&m, &fx, 0);
    /* 200 people, the first 30 submitted twice: 30 merges */
    market_submit(&m, 200, 30, 0, 23);
    setenv("LASTMILE_TEST_CRASH_AT", "replica-first", 1);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    unsetenv("LASTMILE_TEST_CRASH_AT");
    market_until(&m, all_accepted, 60000);
    for (int i = 0; i < 3; i++)
        market_pump(&m, 200);
    long long merged = merged_total(&m);
    printf("replica first: %zu accepted, %zu twice, %lld merges counted\n",
           m.accepted.n, m.accepted.dups, merged);
    cr_expect_eq(m.accepted.n, 200, "%zu of 200 leads accepted", m.accepted.n);
    cr_expect_eq(m.accepted.dups, 0, "%zu accepted twice on the topic",
                 m.accepted.dups);
    cr_expect_eq(merged, 30, "%lld merges counted for 30 resubmissions",
                 merged);
    /* and the race did happen: the worker's own EXEC was refused */
    cr_expect(fixture_log_has(&fx, "intake", "batch_conflict", 0),
              "no batch_conflict in the worker's log: the replica's "
              "transaction did not run first");
    market_free(&m);
}
