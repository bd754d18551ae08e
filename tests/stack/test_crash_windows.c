/* test_crash_windows.c — the delivery rule at its two dangerous moments,
 * hit exactly (LASTMILE_TEST_CRASH_AT makes a worker _exit(137) there):
 *   after its Redis writes, before producing: the restarted worker finds
 *     the outbox and produces every output once;
 *   after producing, before committing: the input is redelivered, the
 *     outputs are found on the topic and not produced again;
 *   a replica applies the same batch first (LASTMILE_TEST_CRASH_AT=
 *     replica-first): the worker's own transaction is refused, it reads
 *     the batch again and recovers: writes applied once, outputs once;
 *   the broker goes down under the read-back of a redelivered batch
 *     (pause-before-read-back): the read-back times out and is not called
 *     recovered; the batch is tried again and recovered once the broker is
 *     back, its outputs once;
 *   overlapped batches (LASTMILE_TEST_CRASH_AT=overlap-decided, commit-lost,
 *     overlap-committed; batches of 40): dead once batch N+1 is decided
 *     while N's acknowledgements are pending (N recovered, N+1 decided),
 *     or once N is committed and before N+1's transaction, or once N's
 *     commit was lost (commit-lost: N+1 applied over it); N's outputs
 *     held back by the broker, then failing for good: N+1 is never
 *     applied before N is acknowledged (these two lost N's 40 leads with
 *     N+1's transaction first).
 * Each for a worker that keeps a done record per input (intake,
 * LM_DEDUPE_BY_ID) and for the two that keep outboxes in their partition
 * fences (qualification and followup, LM_DEDUPE_BY_OFFSET), and for the
 * fences: a dead letter decided after the writes replaces the outputs in
 * the fence; a fence that is unreadable (or its compressed inputs are), or
 * ahead of its partition's log (the topic made again), is said so in the
 * log and the input decided; a fence an earlier version wrote, its inputs
 * not compressed, still restores.
 * Checked with the test's own consumer on the output topics.
 *
 * On a Redis Cluster (LASTMILE_TEST_REDIS=cluster; ctest
 * stack.test_crash_windows.cluster runs eight of them, tests/CMakeLists.txt)
 * a worker keeps done records, not fences: a planted fence is ignored
 * there (the log checks hold on one Redis only), the inputs still decided
 * once. The cluster's own windows (between two slots' units, after the side
 * writes) are stack.test_cluster_fleet's. */
#include "market.h"

#include "lm_lead.h"

#include "lastmile/v1/internal.pb-c.h"
#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

static fixture fx;

/* the runtime's log event after reading back a redelivered batch's
 * outputs */
#define RECOVERED "\"event\":\"recovered\""

static void teardown(void) {
    fixture_down(&fx);
}

static int all_accepted(const market *m) {
    return m->accepted.n >= 200;
}

static int all_decided(const market *m) {
    return m->decisions.n >= 200;
}

/* qualification decided each lead with a follow-up or a disqualification
 * (an outcome; timing does not run in these tests), and every follow-up
 * got its first action */
static int all_acted(const market *m) {
    return m->decisions.n >= 200 &&
           m->actions.n >= m->decisions.n - m->outcomes.n;
}

/* Starts `worker` with LASTMILE_TEST_CRASH_AT=where and waits for it to
 * stop there (exit 137). */
static void run_until_crash(const char *worker, const char *where) {
    setenv("LASTMILE_TEST_CRASH_AT", where, 1);
    int slot = fixture_start_worker(&fx, worker);
    cr_assert_geq(slot, 0);
    int status = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    while (waitpid(fx.procs[slot], &status, WNOHANG) == 0 &&
           fixture_mono_ms() < deadline)
        usleep(20000);
    fx.procs[slot] = 0;
    unsetenv("LASTMILE_TEST_CRASH_AT");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 137,
              "%s did not stop at %s (status %d)", worker, where, status);
}

/* Runs the workers before `worker` in the flow normally, `worker` until it
 * stops at `where`, then (after `between`, when not NULL) again; checks its
 * outputs are all there, once. `recovers`: the restarted worker must log
 * that it recovered a batch (it applied one it had not committed). */
/* 1: the crashed worker starts once its whole input is on its topic
 * (crash_overlapped). */
static int input_first;

static void crash_once_with(const char *worker, const char *where, int recovers,
                            void (*between)(void)) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 200, 0, 0, 21);
    static const char *const flow[] = {"intake", "qualification", "followup"};
    for (size_t i = 0; i < 3 && strcmp(flow[i], worker) != 0; i++)
        cr_assert_geq(fixture_start_worker(&fx, flow[i]), 0);
    if (input_first && strcmp(worker, "qualification") == 0)
        cr_assert(market_until(&m, all_accepted, 60000));
    if (input_first && strcmp(worker, "followup") == 0)
        cr_assert(market_until(&m, all_decided, 60000));
    run_until_crash(worker, where);
    if (between)
        between();
    market_pump(&m, 300);
    size_t before = m.accepted.n, before_decided = m.decisions.n,
           before_acted = m.actions.n;
    cr_assert_geq(fixture_start_worker(&fx, worker), 0);
    /* the restarted worker read the batch again and recovered it (after
       producing, every output may be on its topic already: wait for the
       recovery itself, not for the outputs) */
    cr_expect(!recovers || fixture_log_has(&fx, worker, RECOVERED, 60000),
              "the restarted %s did not recover the batch", worker);
    market_until(&m,
                 strcmp(worker, "intake") == 0          ? all_accepted
                 : strcmp(worker, "qualification") == 0 ? all_decided
                                                        : all_acted,
                 60000);
    for (int i = 0; i < 3; i++)
        market_pump(&m, 200);
    printf("crash %s at %s: before the restart %zu accepted, %zu decided, "
           "%zu acted; after %zu, %zu, %zu; twice %zu, %zu, %zu\n",
           worker, where, before, before_decided, before_acted, m.accepted.n,
           m.decisions.n, m.actions.n, m.accepted.dups, m.decisions.dups,
           m.actions.dups);
    cr_expect_eq(m.accepted.n, 200, "%zu of 200 leads accepted", m.accepted.n);
    cr_expect_eq(m.accepted.dups, 0, "%zu accepted twice on the topic",
                 m.accepted.dups);
    if (strcmp(worker, "intake") != 0) {
        cr_expect_eq(m.decisions.n, 200, "%zu of 200 leads decided",
                     m.decisions.n);
        cr_expect_eq(m.decisions.dups, 0, "%zu decided twice on the topics",
                     m.decisions.dups);
    }
    if (strcmp(worker, "followup") == 0) {
        cr_expect_gt(m.actions.n, 0);
        cr_expect_eq(m.actions.n, m.decisions.n - m.outcomes.n,
                     "%zu first actions for %zu follow-ups", m.actions.n,
                     m.decisions.n - m.outcomes.n);
        cr_expect_eq(m.actions.dups, 0, "%zu actions twice on the topic",
                     m.actions.dups);
    }
    cr_expect_eq(m.dlq, 0, "%zu dead letters", m.dlq);
    market_free(&m);
}

static void crash_once_as(const char *worker, const char *where, int recovers) {
    crash_once_with(worker, where, recovers, NULL);
}

static void crash_once(const char *worker, const char *where) {
    crash_once_as(worker, where, 1);
}

/* intake dies after its writes. On one Redis an accepted lead's person
 * claim is its done record (lm_worker.claim_key): claims_as_written_before
 * checks that the crashed batch wrote Claims holding their outboxes, and
 * no done record, then writes every other claim back as a version before
 * wrote it: the plain lead id, and a done record holding the outbox. The
 * restarted worker recovers the batch, every lead accepted once, from
 * both. (At 28312b2 no claim held an outbox: "0 claims".) */
static void claims_as_written_before(void);
static size_t claims_found, claims_rewritten;
Test(crash, after_writes_before_produce, .fini = teardown, .timeout = 120) {
    claims_found = claims_rewritten = 0;
    crash_once_with("intake", "after-writes", 1, claims_as_written_before);
    printf("claims written by the crashed batch: %zu; %zu written back as "
           "before (plain, with a done record)\n",
           claims_found, claims_rewritten);
    cr_expect_gt(claims_found, 1, "%zu claims held their outbox", claims_found);
}

/* qualification dies after its writes: the fences it wrote keep their
 * inputs compressed (fences_as_written_before checks it; before the
 * compression they held them plain), and the first of them is rewritten
 * as an earlier version wrote it, its inputs plain. The restarted worker
 * recovers the batch, every decision once: from the plain fence and,
 * when the batch wrote both partitions' fences (the printf says; two in
 * every run so far), from the compressed one too. Recovery from
 * compressed fences alone is every other fence crash test's. */
static void fences_as_written_before(void);
static size_t fences_compressed;
Test(crash, fence_after_writes_before_produce, .fini = teardown,
     .timeout = 120) {
    fences_compressed = 0;
    crash_once_with("qualification", "after-writes", 1,
                    fences_as_written_before);
    printf("fences written by the crashed batch: %zu, all compressed; the "
           "first rewritten plain\n",
           fences_compressed);
    cr_expect_gt(fences_compressed, 0, "no fence held its inputs compressed");
}

Test(crash, fence_after_produce_before_commit, .fini = teardown,
     .timeout = 120) {
    crash_once("qualification", "after-produce");
}

Test(crash, followup_after_writes_before_produce, .fini = teardown,
     .timeout = 120) {
    crash_once("followup", "after-writes");
}

/* intake dies after producing, before committing; every other claim the
 * batch took is then made older than the dedupe TTL. Those inputs are
 * known applied and their outputs taken as delivered, not read back
 * (seen_long_ago); the others are read back. Every lead is accepted
 * once either way. */
static void claims_aged(void);
static size_t claims_made_old;
Test(crash, after_produce_before_commit, .fini = teardown, .timeout = 120) {
    claims_made_old = 0;
    crash_once_with("intake", "after-produce", 1, claims_aged);
    printf("claims made older than the dedupe TTL: %zu\n", claims_made_old);
    cr_expect_gt(claims_made_old, 0);
    cr_expect(fixture_log_has(&fx, "intake", "seen_long_ago", 0),
              "no input was known applied past the TTL");
}

/* Overlapped batches (lm_rt_pipeline.c): batches of 40, so batch N+1 is
 * decided while batch N's outputs wait for their acknowledgements. */
static void crash_overlapped(const char *worker, const char *where,
                             int recovers) {
    /* The hooks fire only when a batch is taken while another is in
     * flight, so the next batch's input must be fetched by then: with
     * the worker started while the one before it still produced (a busy
     * machine, a cluster), its input trickled in and each batch finished
     * alone. followup_overlap_next_decided on a cluster timed out so
     * once in `make test` ("did not stop at overlap-decided"). Its whole
     * input is there first now. */
    setenv("LASTMILE_BATCH_MAX", "40", 1);
    input_first = 1;
    crash_once_as(worker, where, recovers);
    input_first = 0;
    unsetenv("LASTMILE_BATCH_MAX");
}

/* N+1 decided, N applied and not committed: N is recovered from its done
 * records, N+1 decided anew. */
Test(crash, overlap_next_decided, .fini = teardown, .timeout = 120) {
    crash_overlapped("intake", "overlap-decided", 1);
}

/* ... from its partitions' fences, which N+1 did not rewrite. */
Test(crash, fence_overlap_next_decided, .fini = teardown, .timeout = 120) {
    crash_overlapped("qualification", "overlap-decided", 1);
}

Test(crash, followup_overlap_next_decided, .fini = teardown, .timeout = 120) {
    crash_overlapped("followup", "overlap-decided", 1);
}

/* N committed, N+1 decided and not applied: nothing to recover, N+1 is
 * decided anew. */
Test(crash, fence_overlap_committed_before_next_writes, .fini = teardown,
     .timeout = 120) {
    crash_overlapped("qualification", "overlap-committed", 0);
}

/* An asynchronous commit lost: N's commit never reaches the broker, N+1
 * is applied over it (its fences rewritten) and acknowledged, then the
 * worker dies before committing N+1. Restarted, it is given N and N+1
 * again: N's input, below the fence N+1 wrote, is known acknowledged and
 * skipped; N+1's is recovered from the fence. Every output once. */
Test(crash, fence_async_commit_lost, .fini = teardown, .timeout = 120) {
    crash_overlapped("qualification", "commit-lost", 1);
}

/* ... and for a worker with a done record per input: both recovered. */
Test(crash, async_commit_lost, .fini = teardown, .timeout = 120) {
    crash_overlapped("intake", "commit-lost", 1);
}

/* The merge counter of every accepted lead, summed: HINCRBY applied twice
 * would show here. */
static long long merged_total(const market *m) {
    long long total = 0;
    for (size_t i = 0; i < m->accepted.n; i++) {
        const char *lead = strset_key(&m->accepted, i, NULL);
        char key[LM_KEY_MAX];
        lm_lead_key(lead, key);
        redisReply *r = fixture_redis_cmd(&fx, "HGET", key, "merged", NULL);
        cr_assert(r, "redis: HGET %s merged", key);
        if (r->type == REDIS_REPLY_STRING)
            total += atoll(r->str);
        freeReplyObject(r);
    }
    return total;
}

/* The broker goes down while the restarted intake reads back the outputs
 * of the batch it produced before dying: the read-back cannot finish, so
 * the log says recover_timeout and not "recovered", and the worker stops
 * without producing or committing the batch; started again (as its
 * supervisor would), it recovers the batch once the broker is back, and
 * every lead is accepted once. */
Test(crash, read_back_timeout_is_not_recovered, .fini = teardown,
     .timeout = 180) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 200, 0, 0, 21);
    run_until_crash("intake", "after-produce");
    market_pump(&m, 300);

    setenv("LASTMILE_TEST_CRASH_AT", "pause-before-read-back", 1);
    setenv("LASTMILE_TEST_RECOVER_TIMEOUT_MS", "2000", 1);
    int slot = fixture_start_worker(&fx, "intake");
    unsetenv("LASTMILE_TEST_CRASH_AT");
    unsetenv("LASTMILE_TEST_RECOVER_TIMEOUT_MS");
    cr_assert_geq(slot, 0);
    int status = 0;
    pid_t got = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    while ((got = waitpid(fx.procs[slot], &status, WNOHANG | WUNTRACED)) == 0 &&
           fixture_mono_ms() < deadline)
        usleep(20000);
    cr_assert(got > 0 && WIFSTOPPED(status),
              "intake did not pause before reading back (status %d)", status);

    cr_assert_eq(lm_devstack_broker_ctl(&fx.st, "down 15"), 0);
    /* the broker process reads its control pipe on its own time: go on
       only once it says it is down */
    cr_assert(fixture_log_has(&fx, "broker", "broker: down for 15", 10000),
              "the broker did not go down");
    kill(fx.procs[slot], SIGCONT);
    cr_assert(
        fixture_log_has(&fx, "intake", "\"event\":\"recover_timeout\"", 12000),
        "the read-back did not time out with the broker down");
    cr_expect(!fixture_log_has(&fx, "intake", RECOVERED, 0),
              "\"recovered\" was logged for a read-back that timed out");

    /* the worker abandons the batch and stops without committing; as its
       supervisor would, start it again whenever it stops (the broker comes
       back by itself after 15 s; a start while it is down stops too) */
    deadline = fixture_mono_ms() + fixture_ms(120000);
    int recovered = 0, starts = 0;
    while (!(recovered = fixture_log_has(&fx, "intake", RECOVERED, 0)) &&
           fixture_mono_ms() < deadline) {
        if (waitpid(fx.procs[slot], &status, WNOHANG) != 0) {
            fx.procs[slot] = 0;
            sleep(1); /* the supervisor's back-off */
            slot = fixture_start_worker(&fx, "intake");
            cr_assert_geq(slot, 0);
            starts++;
        }
        usleep(100000);
    }
    cr_expect(recovered,
              "the batch was not recovered once the broker was "
              "back (%d start(s))",
              starts);
    market_until(&m, all_accepted, 60000);
    for (int i = 0; i < 3; i++)
        market_pump(&m, 200);
    printf("read-back timeout: %zu accepted, %zu twice\n", m.accepted.n,
           m.accepted.dups);
    cr_expect_eq(m.accepted.n, 200, "%zu of 200 leads accepted", m.accepted.n);
    cr_expect_eq(m.accepted.dups, 0, "%zu accepted twice on the topic",
                 m.accepted.dups);
    market_free(&m);
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

static int all_but_one_accepted(const market *m) {
    return m->accepted.n >= 199;
}

static Lastmile__V1__Internal__Claim *claim_get(const char *key, size_t *len);

/* Just before intake's first transaction, another connection takes the
 * first claim that batch takes, for another lead of the same person:
 * what a replica deciding that person from another partition would do.
 * The batch's EXEC is refused, and read again the lead is merged into
 * the other one, not accepted: 199 of 200 accepted, that lead's merge
 * counted once. Run with `hook`:
 *   claim-taken: one intake holds every partition and watches every
 *     fence; the other connection also INCRs the fence of the partition
 *     after the item's, outside the batch (batches of one);
 *   claim-taken-watching-claims: intake is taken as holding part of its
 *     input and watches each claim; no fence moves, the claim alone.
 * Watching neither that claim nor every fence, the EXEC applied and no
 * claim named the other lead (checked with both WATCHes taken out of
 * pipe_watch): two leads for one person. */
static void claim_taken_meanwhile(const char *hook) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 200, 0, 0, 27);
    setenv("LASTMILE_BATCH_MAX", "1", 1);
    setenv("LASTMILE_TEST_CRASH_AT", hook, 1);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    unsetenv("LASTMILE_TEST_CRASH_AT");
    unsetenv("LASTMILE_BATCH_MAX");
    market_until(&m, all_but_one_accepted, 60000);
    for (int i = 0; i < 3; i++)
        market_pump(&m, 200);
    cr_expect(fixture_log_has(&fx, "intake", "claim_taken_meanwhile", 0),
              "the hook did not run");
    cr_expect(fixture_log_has(&fx, "intake", "batch_conflict", 0),
              "the worker's EXEC was not refused");
    char other[64] = "";
    strset keys = {0};
    cr_assert_geq(fixture_redis_keys(&fx, "lm:{*}:person", &keys), 0);
    for (size_t i = 0; i < keys.n && !other[0]; i++) {
        size_t len = 0;
        Lastmile__V1__Internal__Claim *c =
            claim_get(strset_key(&keys, i, NULL), &len);
        if (c && strcmp(c->input_id, "claim-taken:another-partition") == 0)
            snprintf(other, sizeof(other), "%s", c->holder);
        if (c)
            lastmile__v1__internal__claim__free_unpacked(c, NULL);
    }
    strset_free(&keys);
    cr_assert(other[0], "no claim holds the other lead any more");
    char key[LM_KEY_MAX];
    lm_lead_key(other, key);
    redisReply *r = fixture_redis_cmd(&fx, "HGET", key, "merged", NULL);
    cr_assert(r, "redis: HGET %s merged", key);
    printf("%s: %zu accepted, %zu twice; %s merged %s\n", hook, m.accepted.n,
           m.accepted.dups, other,
           r->type == REDIS_REPLY_STRING ? r->str : "(none)");
    cr_expect(r->type == REDIS_REPLY_STRING && strcmp(r->str, "1") == 0,
              "the lead raced for was not merged into %s once", other);
    freeReplyObject(r);
    cr_expect_eq(m.accepted.n, 199, "%zu of 200 leads accepted", m.accepted.n);
    cr_expect_eq(m.accepted.dups, 0);
    market_free(&m);
}

Test(crash, claim_taken_from_another_partition, .fini = teardown,
     .timeout = 120) {
    claim_taken_meanwhile("claim-taken");
}

Test(crash, claim_taken_while_each_claim_is_watched, .fini = teardown,
     .timeout = 120) {
    claim_taken_meanwhile("claim-taken-watching-claims");
}

/* ============================================ fences (LM_DEDUPE_BY_OFFSET) */

/* Runs intake alone until all 200 leads are accepted. */
static void accept_all(market *m, int n_partitions) {
    cr_assert_eq(fixture_up(&fx, n_partitions, 0), 0);
    market_init(m, &fx, 0);
    market_submit(m, 200, 0, 0, 25);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    cr_assert(market_until(m, all_accepted, 60000),
              "intake accepted %zu of 200", m->accepted.n);
}

static void fence_key_of(int partition, char *buf, size_t bufsz) {
    const char *prefix = getenv("LASTMILE_TOPIC_PREFIX");
    snprintf(buf, bufsz, "lm:{fence}:qualification:%squalification:%d",
             prefix ? prefix : "lastmile.", partition);
}

static void redis_set(const char *key, const void *val, size_t len) {
    const char *argv[] = {"SET", key, val};
    const size_t lens[] = {3, strlen(key), len};
    redisReply *r = fixture_redis_argv(&fx, 3, argv, lens);
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "SET %s", key);
    freeReplyObject(r);
}

/* Plants pf as the fence of `partition`, as a worker would find it. */
static void plant_fence(int partition,
                        const Lastmile__V1__Internal__PartitionFence *pf) {
    size_t len = lastmile__v1__internal__partition_fence__get_packed_size(pf);
    uint8_t *buf = malloc(len + 1);
    cr_assert(buf);
    lastmile__v1__internal__partition_fence__pack(pf, buf);
    char key[256];
    fence_key_of(partition, key, sizeof(key));
    redis_set(key, buf, len);
    free(buf);
}

/* qualification decides every accepted lead once */
static void expect_all_decided_once(market *m) {
    market_until(m, all_decided, 60000);
    for (int i = 0; i < 3; i++)
        market_pump(m, 200);
    cr_expect_eq(m->decisions.n, 200, "%zu of 200 leads decided",
                 m->decisions.n);
    cr_expect_eq(m->decisions.dups, 0, "%zu decided twice", m->decisions.dups);
}

Test(crash, fence_replica_applies_first, .fini = teardown, .timeout = 120) {
    market m;
    accept_all(&m, 2);
    setenv("LASTMILE_TEST_CRASH_AT", "replica-first", 1);
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    unsetenv("LASTMILE_TEST_CRASH_AT");
    expect_all_decided_once(&m);
    cr_expect(fixture_log_has(&fx, "qualification", "batch_conflict", 0),
              "no batch_conflict in the worker's log: the replica's "
              "transaction did not run first");
    market_free(&m);
}

/* A fence that does not decode: said so, and the input decided. */
Test(crash, fence_unreadable, .fini = teardown, .timeout = 120) {
    market m;
    accept_all(&m, 2);
    char key[256];
    fence_key_of(0, key, sizeof(key));
    redis_set(key, "\xff\xff not a fence", 13);
    /* partition 1: a fence whose compressed inputs do not decompress.
       (Before the fences were compressed, a worker did not read the field
       and took the ten inputs below it for applied: 190 of 200 decided.) */
    Lastmile__V1__Internal__PartitionFence pf =
        LASTMILE__V1__INTERNAL__PARTITION_FENCE__INIT;
    pf.next_offset = 10;
    static uint8_t not_zstd[] = "\x28\xb5\x2f\xfd not really a frame";
    pf.inputs_zstd.data = not_zstd;
    pf.inputs_zstd.len = sizeof(not_zstd) - 1;
    plant_fence(1, &pf);
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    expect_all_decided_once(&m);
    /* a cluster uses no fences (done records: docs/DELIVERY.md, "On a
       Redis Cluster"): the keys are ignored, the input decided once */
    cr_expect(fx.cluster ||
              fixture_log_has(&fx, "qualification",
                              "does not hold a readable fence", 0));
    cr_expect(fx.cluster ||
              fixture_log_has(&fx, "qualification",
                              "holds compressed inputs that do not decompress",
                              0));
    market_free(&m);
}

/* A fence from a partition's earlier life (the topic deleted and made
 * again, offsets from 0): its input is not taken for applied. */
Test(crash, fence_ahead_of_log, .fini = teardown, .timeout = 120) {
    market m;
    accept_all(&m, 2);
    Lastmile__V1__Internal__PartitionFence pf =
        LASTMILE__V1__INTERNAL__PARTITION_FENCE__INIT;
    pf.next_offset = 1000000;
    plant_fence(1, &pf);
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    expect_all_decided_once(&m);
    /* a cluster uses no fences (done records: docs/DELIVERY.md, "On a
       Redis Cluster"): the key is ignored, the input decided once */
    cr_expect(fx.cluster ||
              fixture_log_has(&fx, "qualification", "fence_ahead_of_log", 0));
    market_free(&m);
}

/* A fence from a partition's earlier life whose log was longer than the
 * new one is now (the topic deleted and made again, then fed past the
 * fence's offset): the record at its anchor is another one, so its input
 * is not taken for applied. Before fences knew their log, the first ten
 * inputs of partition 1 were skipped as applied and never decided. */
Test(crash, fence_of_another_log, .fini = teardown, .timeout = 120) {
    market m;
    accept_all(&m, 2);
    Lastmile__V1__Internal__PartitionFence pf =
        LASTMILE__V1__INTERNAL__PARTITION_FENCE__INIT;
    pf.next_offset = 10;
    pf.anchored = 1;
    pf.anchor_offset = 9;
    pf.anchor_fingerprint = 0x0123456789abcdefULL; /* not the record at 9 */
    plant_fence(1, &pf);
    /* batches of 4: the first one (offsets 0-3) does not hold the anchor,
       which is read from the broker */
    setenv("LASTMILE_BATCH_MAX", "4", 1);
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    unsetenv("LASTMILE_BATCH_MAX");
    expect_all_decided_once(&m);
    /* a cluster uses no fences (done records: docs/DELIVERY.md, "On a
       Redis Cluster"): the key is ignored, the input decided once */
    cr_expect(fx.cluster ||
              fixture_log_has(&fx, "qualification", "fence_of_another_log", 0));
    market_free(&m);
}

/* The fence of `partition` as the worker left it, unpacked (NULL when
 * there is none). */
static Lastmile__V1__Internal__PartitionFence *fence_get(int partition) {
    char key[256];
    fence_key_of(partition, key, sizeof(key));
    redisReply *r = fixture_redis_cmd(&fx, "GET", key, NULL);
    cr_assert(r &&
                  (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL),
              "GET %s", key);
    Lastmile__V1__Internal__PartitionFence *pf =
        r->type == REDIS_REPLY_STRING
            ? lastmile__v1__internal__partition_fence__unpack(
                  NULL, r->len, (const uint8_t *)r->str)
            : NULL;
    cr_assert(r->type == REDIS_REPLY_NIL || pf, "%s does not unpack", key);
    freeReplyObject(r);
    return pf;
}

/* Sets key to len bytes of val for ttl_ms. */
static void redis_set_px(const char *key, const void *val, size_t len,
                         const char *ttl_ms) {
    const char *argv[] = {"SET", key, val, "PX", ttl_ms};
    const size_t lens[] = {3, strlen(key), len, 2, strlen(ttl_ms)};
    redisReply *r = fixture_redis_argv(&fx, 5, argv, lens);
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "SET %s", key);
    freeReplyObject(r);
}

/* The Claim a person key holds, or NULL (none, or not a Claim); *len the
 * value's bytes. The caller frees it (claim__free_unpacked). */
static Lastmile__V1__Internal__Claim *claim_get(const char *key, size_t *len) {
    redisReply *r = fixture_redis_cmd(&fx, "GET", key, NULL);
    cr_assert(r && r->type == REDIS_REPLY_STRING, "GET %s", key);
    Lastmile__V1__Internal__Claim *c = lastmile__v1__internal__claim__unpack(
        NULL, r->len, (const uint8_t *)r->str);
    *len = r->len;
    freeReplyObject(r);
    return c;
}

/* Between intake's crash and its restart: the person keys the crashed
 * batch took are Claims, each naming its lead and event and holding the
 * outbox, and intake wrote no done record (no person is submitted twice
 * here). Every other one is written back as before the claims held
 * outboxes: the lead id alone, and the done record holding the outbox. */
static void claims_as_written_before(void) {
    strset keys = {0};
    cr_assert_geq(fixture_redis_keys(&fx, "lm:{*}:person", &keys), 0);
    strset done = {0};
    cr_assert_geq(fixture_redis_keys(&fx, "lm:{*}:done:intake:*", &done), 0);
    cr_expect_eq(done.n, 0, "%zu done records beside the claims", done.n);
    strset_free(&done);
    for (size_t i = 0; i < keys.n; i++) {
        const char *key = strset_key(&keys, i, NULL);
        redisReply *r = fixture_redis_cmd(&fx, "GET", key, NULL);
        cr_assert(r && r->type == REDIS_REPLY_STRING, "GET %s", key);
        Lastmile__V1__Internal__Claim *c =
            lastmile__v1__internal__claim__unpack(NULL, r->len,
                                                  (const uint8_t *)r->str);
        cr_expect(c && c->holder[0] && c->input_id[0] && c->outbox.len > 0,
                  "%s holds no Claim with an outbox (%zu bytes)", key, r->len);
        if (c && c->holder[0] && c->input_id[0] && claims_found++ % 2 == 0) {
            const char *tag_end = strchr(key, '}');
            cr_assert(tag_end && strncmp(key, "lm:{", 4) == 0);
            char done_key[512];
            snprintf(done_key, sizeof(done_key), "%.*s:done:intake:%s",
                     (int)(tag_end + 1 - key), key, c->input_id);
            redis_set_px(key, c->holder, strlen(c->holder), "2592000000");
            redis_set_px(done_key, c->outbox.data, c->outbox.len, "86400000");
            claims_rewritten++;
        }
        if (c)
            lastmile__v1__internal__claim__free_unpacked(c, NULL);
        freeReplyObject(r);
    }
    strset_free(&keys);
}

/* Between intake's crash and its restart: every other Claim is written
 * again as if taken two days ago, past the default dedupe TTL (a day). */
static void claims_aged(void) {
    strset keys = {0};
    cr_assert_geq(fixture_redis_keys(&fx, "lm:{*}:person", &keys), 0);
    for (size_t i = 0; i < keys.n; i += 2) {
        const char *key = strset_key(&keys, i, NULL);
        size_t len = 0;
        Lastmile__V1__Internal__Claim *c = claim_get(key, &len);
        if (!c)
            continue;
        c->claimed_at_ms -= 2 * 86400000LL;
        len = lastmile__v1__internal__claim__get_packed_size(c);
        uint8_t *buf = malloc(len + 1);
        cr_assert(buf);
        lastmile__v1__internal__claim__pack(c, buf);
        redis_set_px(key, buf, len, "2592000000");
        free(buf);
        lastmile__v1__internal__claim__free_unpacked(c, NULL);
        claims_made_old++;
    }
    strset_free(&keys);
}

/* Between the crash and the restart: each fence the crashed batch wrote
 * keeps its inputs compressed (a zstd frame of a FencedInputs) and none
 * plain; the first is then written back as a version before the
 * compression wrote it, its inputs plain, the others left compressed. */
static void fences_as_written_before(void) {
    for (int part = 0; part < 2; part++) {
        Lastmile__V1__Internal__PartitionFence *pf = fence_get(part);
        if (!pf)
            continue;
        cr_expect_eq(pf->n_inputs, 0, "fence %d holds %zu plain inputs", part,
                     pf->n_inputs);
        if (pf->inputs_zstd.len == 0) {
            lastmile__v1__internal__partition_fence__free_unpacked(pf, NULL);
            continue;
        }
        if (fences_compressed++ > 0) {
            lastmile__v1__internal__partition_fence__free_unpacked(pf, NULL);
            continue;
        }
        unsigned long long n =
            ZSTD_getFrameContentSize(pf->inputs_zstd.data, pf->inputs_zstd.len);
        cr_assert(n != ZSTD_CONTENTSIZE_UNKNOWN &&
                  n != ZSTD_CONTENTSIZE_ERROR && n < (64u << 20));
        uint8_t *raw = malloc(n + 1);
        cr_assert(raw);
        size_t got =
            ZSTD_decompress(raw, n, pf->inputs_zstd.data, pf->inputs_zstd.len);
        cr_assert(!ZSTD_isError(got) && got == n);
        Lastmile__V1__Internal__FencedInputs *in =
            lastmile__v1__internal__fenced_inputs__unpack(NULL, got, raw);
        cr_assert(in && in->n_inputs > 0);
        /* the fence as before: the same fields, the inputs plain */
        Lastmile__V1__Internal__PartitionFence old = *pf;
        old.inputs = in->inputs;
        old.n_inputs = in->n_inputs;
        old.inputs_zstd.data = NULL;
        old.inputs_zstd.len = 0;
        plant_fence(part, &old);
        free(raw);
        lastmile__v1__internal__fenced_inputs__free_unpacked(in, NULL);
        lastmile__v1__internal__partition_fence__free_unpacked(pf, NULL);
    }
}

static char first_lead[128];
static void on_first(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    Lastmile__V1__LeadAccepted *a =
        lastmile__v1__lead_accepted__unpack(NULL, rkm->len, rkm->payload);
    if (a && !first_lead[0])
        snprintf(first_lead, sizeof(first_lead), "%s", a->lead_id);
    if (a)
        lastmile__v1__lead_accepted__free_unpacked(a, NULL);
}

static size_t n_dead;
static char dead_reason[1024];
static void on_dead(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    Lastmile__V1__DeadLetter *d =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    cr_assert(d, "a dead letter that does not decode");
    snprintf(dead_reason, sizeof(dead_reason), "%s", d->reason);
    n_dead++;
    lastmile__v1__dead_letter__free_unpacked(d, NULL);
}

/* The first lead's state write is refused inside the first batch's
 * transaction: its dead letter replaces its decision in the fence, so the
 * worker, stopped after producing and before committing, recovers the
 * dead letter on restart (found on the topic, not produced again) and
 * never the decision. One partition: the first lead is in the first
 * batch. */
Test(crash, fence_holds_a_late_dead_letter, .fini = teardown, .timeout = 120) {
    market m;
    accept_all(&m, 1);
    topic_reader *acc = reader_new(&fx, "qualification");
    reader_drain(acc, 2000, on_first, NULL);
    reader_free(acc);
    cr_assert(first_lead[0], "no lead on the qualification topic");
    char key[LM_KEY_MAX];
    lm_lead_key(first_lead, key);
    redis_set(key, "not-a-hash", 10);

    run_until_crash("qualification", "after-produce");
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    cr_expect(fixture_log_has(&fx, "qualification", RECOVERED, 60000),
              "the restarted qualification did not recover the batch");
    topic_reader *dlq = reader_new(&fx, "dlq");
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while (m.decisions.n < 199 && fixture_mono_ms() < deadline)
        market_pump(&m, 100);
    for (int i = 0; i < 3; i++) {
        market_pump(&m, 200);
        reader_drain(dlq, 200, on_dead, NULL);
    }
    reader_free(dlq);
    printf("late dead letter: %zu decided, %zu twice, %zu dead letters\n",
           m.decisions.n, m.decisions.dups, n_dead);
    cr_expect_eq(n_dead, 1, "%zu dead letters for one refused write", n_dead);
    cr_expect(strstr(dead_reason, "WRONGTYPE"), "reason: %s", dead_reason);
    cr_expect_eq(strset_count(&m.decisions, first_lead), 0,
                 "the refused lead was decided as well");
    cr_expect_eq(m.decisions.n, 199, "%zu of the 199 others decided",
                 m.decisions.n);
    cr_expect_eq(m.decisions.dups, 0);
    market_free(&m);
}

/* The broker refuses its next `n` produce requests with error `code`
 * ("errors 0 <code> <n>": API 0 is Produce; after any refused before). */
static void refuse_produce(int code, int n) {
    char cmd[64], said[64];
    snprintf(cmd, sizeof(cmd), "errors 0 %d %d", code, n);
    snprintf(said, sizeof(said), "error(s) %d on api 0", code);
    cr_assert_eq(lm_devstack_broker_ctl(&fx.st, cmd), 0);
    cr_assert(fixture_log_has(&fx, "broker", said, 10000),
              "the broker did not take the errors");
}

/* Starts qualification in batches of 40 (crash_at: NULL or its hook). */
static int start_qualification(const char *crash_at) {
    setenv("LASTMILE_BATCH_MAX", "40", 1);
    if (crash_at)
        setenv("LASTMILE_TEST_CRASH_AT", crash_at, 1);
    int slot = fixture_start_worker(&fx, "qualification");
    unsetenv("LASTMILE_TEST_CRASH_AT");
    unsetenv("LASTMILE_BATCH_MAX");
    cr_assert_geq(slot, 0);
    return slot;
}

/* Waits for the worker in `slot` to exit; its exit status. */
static int wait_exit(int slot) {
    int status = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while (waitpid(fx.procs[slot], &status, WNOHANG) == 0 &&
           fixture_mono_ms() < deadline)
        usleep(20000);
    fx.procs[slot] = 0;
    cr_assert(WIFEXITED(status), "the worker did not exit (status %d)", status);
    return WEXITSTATUS(status);
}

/* The crash the overlap's order is for: batch N's transaction applied (its
 * outboxes in its partitions' fences), none of its outputs acknowledged
 * (the broker refuses produce requests for a while, NOT_ENOUGH_REPLICAS:
 * the producer retries), batch N+1 decided meanwhile. Had N+1's
 * transaction run before N's acknowledgements, it would have replaced the
 * fences, and N's decisions would be lost: restarted, the worker finds N
 * below the fences and nothing of it in them. With the order kept, N is
 * recovered from the fences and every lead decided once. */
Test(crash, fence_overlap_outputs_unacknowledged, .fini = teardown,
     .timeout = 180) {
    market m;
    accept_all(&m, 2);
    refuse_produce(19, 30);
    int slot = start_qualification("overlap-decided");
    cr_assert_eq(wait_exit(slot), 137,
                 "qualification did not stop at overlap-decided");
    market_pump(&m, 300);
    size_t before = m.decisions.n;
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    cr_expect(fixture_log_has(&fx, "qualification", RECOVERED, 90000),
              "the restarted qualification did not recover batch N");
    expect_all_decided_once(&m);
    printf("overlap, outputs unacknowledged: %zu decided before the "
           "restart, %zu after, %zu twice\n",
           before, m.decisions.n, m.decisions.dups);
    market_free(&m);
}

/* Batch N's outputs are held back (NOT_ENOUGH_REPLICAS, retried) while
 * N+1 is decided, then fail for good (TOPIC_AUTHORIZATION_FAILED): the
 * worker stops (exit 1) without committing N and without applying N+1, so
 * the fences still hold N's outboxes; restarted, it recovers N and decides
 * N+1: every lead once. With N+1 applied before N's acknowledgements, N's
 * leads are lost (seen: 160 of 200). */
Test(crash, fence_overlap_produce_fails, .fini = teardown, .timeout = 180) {
    market m;
    accept_all(&m, 2);
    refuse_produce(19, 30);
    refuse_produce(29, 2);
    int slot = start_qualification(NULL);
    cr_assert_eq(wait_exit(slot), 1,
                 "qualification did not stop on a failed produce");
    cr_expect(fixture_log_has(&fx, "qualification", "produce_failed", 0));
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    expect_all_decided_once(&m);
    market_free(&m);
}

/* Inputs of qualification's group committed so far: the sum of its
 * committed offsets over the partitions (none yet: 0). */
static int64_t committed_inputs(int n_partitions) {
    const char *prefix = getenv("LASTMILE_TOPIC_PREFIX");
    char name[128], err[256];
    snprintf(name, sizeof(name), "%squalification",
             prefix ? prefix : "lastmile.");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", fx.st.brokers, NULL, 0);
    rd_kafka_conf_set(conf, "group.id", name, NULL, 0); /* never joins */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    cr_assert(rk, "consumer: %s", err);
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(n_partitions);
    for (int p = 0; p < n_partitions; p++)
        rd_kafka_topic_partition_list_add(parts, name, p);
    int64_t sum = 0;
    if (rd_kafka_committed(rk, parts, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int p = 0; p < parts->cnt; p++)
            sum += parts->elems[p].offset > 0 ? parts->elems[p].offset : 0;
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return sum;
}

/* Redis stops just as batch N+1 is taken, with N in flight: N needs no
 * more of Redis, so it is acknowledged and committed while Redis is down
 * (N+1's reads fail), not held until Redis is back. The worker stops
 * itself at that moment (pause-overlap-taken) for the test to stop Redis. */
Test(crash, overlap_redis_down_commits_the_batch_in_flight, .fini = teardown,
     .timeout = 180) {
    market m;
    accept_all(&m, 2);
    int slot = start_qualification("pause-overlap-taken");
    int status = 0;
    pid_t got = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    while ((got = waitpid(fx.procs[slot], &status, WNOHANG | WUNTRACED)) == 0 &&
           fixture_mono_ms() < deadline)
        usleep(20000);
    cr_assert(got > 0 && WIFSTOPPED(status),
              "qualification did not pause with a batch in flight");
    cr_expect_eq(committed_inputs(2), 0, "the batch in flight was committed");
    cr_assert_eq(fixture_redis_signal(&fx, SIGSTOP), 0);
    kill(fx.procs[slot], SIGCONT);
    int64_t committed = 0;
    deadline = fixture_mono_ms() + fixture_ms(20000);
    while ((committed = committed_inputs(2)) == 0 &&
           fixture_mono_ms() < deadline)
        usleep(200000);
    fixture_redis_signal(&fx, SIGCONT);
    printf("redis down with a batch in flight: %lld input(s) committed\n",
           (long long)committed);
    cr_expect_gt(committed, 0,
                 "the batch in flight was not committed while Redis was "
                 "down");
    expect_all_decided_once(&m);
    market_free(&m);
}
