/* test_devstack.c — the embedded stack is one unit.
 *
 * devstack.up_starts_both_empty: `dev down` then `dev up` in the same
 * directory used to give a broker with nothing and a Redis that reloaded
 * everything from its AOF (fences, done records, lead rows, timers of
 * topics that were gone), so the fleet skipped input or decided it twice.
 * Now the second up starts Redis empty, with the first run's files moved
 * to previous-redis/. A Redis restart within a run keeps its data.
 * Needs no worker.
 *
 * devstack.down_up_publish_again_decides_once: the same, end to end: the
 * fleet decides 200 leads, the stack goes down and up in the same
 * directory, and 200 new leads are each accepted, decided and closed once,
 * with no record on any topic twice. */
#include "market.h"
#include "stack_fixture.h"

#include "lm_devstack.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static lm_devstack st;
static char dir[] = "/tmp/lastmile-devstack-XXXXXX";

static void teardown(void) {
    lm_devstack_down(&st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void up(void) {
    char exe[512], err[1024];
    snprintf(exe, sizeof(exe), "%s/cli/lastmile", LM_BINARY_DIR);
    lm_devstack_opts o = {
        .dir = dir, .lastmile_exe = exe, .partitions = 1, .die_with_parent = 1};
    cr_assert_eq(lm_devstack_up(&o, &st, err, sizeof(err)), 0, "%s", err);
}

/* The reply of one command, as a string ("(nil)" for nil). */
static void redis_cmd(const char *cmd, char *out, size_t outsz) {
    redisContext *c = redisConnect("127.0.0.1", st.redis_port);
    cr_assert(c && !c->err, "redis: %s", c ? c->errstr : "no memory");
    redisReply *r = redisCommand(c, cmd);
    cr_assert_not_null(r);
    snprintf(out, outsz, "%s",
             r->type == REDIS_REPLY_NIL ? "(nil)"
             : r->str                   ? r->str
                                        : "?");
    freeReplyObject(r);
    redisFree(c);
}

Test(devstack, up_starts_both_empty, .fini = teardown, .timeout = 120) {
    cr_assert_not_null(mkdtemp(dir));
    up();
    cr_expect_eq(st.redis_previous, 0, "a new directory has no past");
    char v[64];
    redis_cmd("SET lm:{t}:fence:probe 42", v, sizeof(v));
    /* within a run, a Redis restart keeps what was written */
    char err[1024];
    cr_assert_eq(lm_devstack_redis_stop(&st, 0), 0);
    cr_assert_eq(lm_devstack_redis_start(&st, 1, err, sizeof(err)), 0, "%s",
                 err);
    redis_cmd("GET lm:{t}:fence:probe", v, sizeof(v));
    cr_expect_str_eq(v, "42", "a restart within a run lost Redis's data");

    lm_devstack_down(&st);
    up();
    redis_cmd("GET lm:{t}:fence:probe", v, sizeof(v));
    cr_expect_str_eq(v, "(nil)",
                     "the new stack's Redis holds the old stack's state");
    cr_expect_eq(st.redis_previous, 1);
    char prev[128];
    snprintf(prev, sizeof(prev), "%s/previous-redis/appendonlydir", dir);
    struct stat sb;
    cr_expect_eq(stat(prev, &sb), 0, "the last run's AOF is not kept aside");
}

/* ============================== dev down, dev up, publish again */

static fixture fx;

static void fx_teardown(void) {
    fixture_down(&fx);
}

static int closed_200(const market *m) {
    return m->accepted.n >= 200 && m->outcomes.n >= m->accepted.n;
}

/* Runs the fleet on fx until 200 new people (seed) are accepted and
 * closed; checks each once, and no record twice byte for byte. */
static void publish_200(int seed, const char *what) {
    cr_assert_eq(fixture_start_all(&fx), 0);
    market m;
    market_init(&m, &fx, 0.3);
    market_submit(&m, 200, 0, 0, seed);
    int done = market_until(&m, closed_200, 240000);
    for (int i = 0; i < 5; i++)
        market_pump(&m, 200);
    printf("%s: accepted %zu (twice %zu), decisions %zu (twice %zu), "
           "outcomes %zu (twice %zu), records twice byte for byte %zu\n",
           what, m.accepted.n, m.accepted.dups, m.decisions.n, m.decisions.dups,
           m.outcomes.n, m.outcomes.dups, m.copies.dups);
    cr_expect(done, "%s: not every lead closed", what);
    cr_expect_eq(m.accepted.n, 200, "%s: accepted", what);
    cr_expect_eq(m.decisions.n, 200, "%s: decided", what);
    cr_expect_eq(m.outcomes.n, 200, "%s: closed", what);
    cr_expect_eq(m.accepted.dups + m.decisions.dups + m.outcomes.dups +
                     m.copies.dups,
                 0, "%s: something twice", what);
    market_free(&m);
}

/* The probe, end to end: the fleet runs, `dev down`, `dev up`,
 * the same fleet publishes new leads, and every new lead is decided and
 * closed once (the stale Redis used to skip or repeat them). */
Test(devstack, down_up_publish_again_decides_once, .fini = fx_teardown,
     .timeout = 900) {
    cr_assert_eq(fixture_up(&fx, 2, 400000), 0);
    publish_200(41, "first stack");
    cr_assert_eq(fixture_restack(&fx, 2, 400000), 0);
    publish_200(42, "after dev down, dev up");
}

/* The stack's client setting: exported with where it runs, and set for a
 * process's workers unless the caller chose its own (lm_devstack.h). */
Test(devstack, its_clients_ask_for_a_short_fetch_wait) {
    lm_devstack s;
    char env[1024];
    memset(&s, 0, sizeof(s));
    snprintf(s.brokers, sizeof(s.brokers), "127.0.0.1:1");
    snprintf(s.redis_url, sizeof(s.redis_url), "redis://127.0.0.1:2/0");
    cr_assert_eq(lm_devstack_env(&s, NULL, env, sizeof(env)), 0);
    cr_expect(
        strstr(
            env,
            "export LASTMILE_KAFKA_FETCH_WAIT_MAX_MS=" LM_DEVSTACK_FETCH_WAIT_MS
            "\n"),
        "%s", env);
    setenv("LASTMILE_KAFKA_FETCH_WAIT_MAX_MS", "7", 1);
    lm_devstack_client_setenv();
    cr_expect_str_eq(getenv("LASTMILE_KAFKA_FETCH_WAIT_MAX_MS"), "7",
                     "the caller's own value wins");
    unsetenv("LASTMILE_KAFKA_FETCH_WAIT_MAX_MS");
    lm_devstack_client_setenv();
    cr_expect_str_eq(getenv("LASTMILE_KAFKA_FETCH_WAIT_MAX_MS"),
                     LM_DEVSTACK_FETCH_WAIT_MS);
    unsetenv("LASTMILE_KAFKA_FETCH_WAIT_MAX_MS");
}
