/* test_cluster_fleet.c — the real workers on a real Redis Cluster (three
 * masters, three replicas: stack_fixture.h's cluster), effectively once
 * (docs/DELIVERY.md, "On a Redis Cluster"):
 *
 *   cluster_fleet.same_as_one_redis: the same 300 seeded leads through
 *     intake, qualification, followup and timing on one Redis, then on a
 *     cluster: on each every lead accepted and decided once (0 lost, 0
 *     doubled on every topic), and the side writes applied once — each
 *     owner's open set holds exactly the leads that took a slot, each
 *     account's HINCRBY'd "open" counter equals its open set's size —
 *     and the figures (decisions, slots taken, accounts and their
 *     counters) are the same on both;
 *   cluster_fleet.crash_*: qualification (whose side writes are owner
 *     open sets, account sets and an account's HINCRBY counter) killed as
 *     under kill -9 at each window a cluster adds (LASTMILE_TEST_CRASH_AT):
 *     after the units before the side writes (after-writes), after the
 *     side writes before WAIT and produce (cluster-after-side); restarted,
 *     every lead is decided once and every side write counted once; and
 *     intake between its units (cluster-between-units: the first unit
 *     alone applied). After produce, before commit, is the same code on
 *     one Redis (stack.test_crash_windows; `make test-cluster-full` runs
 *     it on a cluster);
 *   cluster_fleet.replicas_and_refused_side_writes: on one cluster, two
 *     things the cluster adds. The WAIT: a replica stopped (SIGSTOP:
 *     online for its master, acknowledging nothing) holds the batches
 *     (redis_replicas_behind; nothing produced) until it answers again;
 *     qualification asked to WAIT for two replicas where each master has
 *     one waits for the one and says so (redis_replicas_fewer) instead of
 *     holding the fleet. A refused side write: a timer bucket planted as a
 *     string, so followup's response timer (a side write on a cluster)
 *     fails with WRONGTYPE for the leads of that bucket: those leads are
 *     dead-lettered with that reason and never acted on, every other lead
 *     is acted on, none dead-lettered, nothing twice.
 * Every server started is stopped in .fini, even when a check fails. */
#include "market.h"

#include "lm_lead.h"
#include "lm_policy.h"
#include "lm_timers.h"
#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEADS 300

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

/* What Redis holds after a run, for the side writes. */
typedef struct census {
    long long held;     /* leads on the owners' open sets */
    long long accounts; /* accounts with an open set */
    long long acct_open_sum, acct_counter_sum;
    int acct_mismatch; /* accounts whose counter is not their set's size */
} census;

static long long int_reply(redisReply *r) {
    long long v = -1;
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r && r->type == REDIS_REPLY_STRING)
        v = atoll(r->str);
    if (r)
        freeReplyObject(r);
    return v;
}

static census census_take(void) {
    char err[512];
    census c = {0};
    lm_policy *pol = lm_policy_load(NULL, err, sizeof(err));
    cr_assert(pol, "%s", err);
    for (size_t i = 0; i < lm_policy_team_count(pol); i++) {
        const lm_team *t = lm_policy_team_at(pol, i);
        for (size_t o = 0; o < t->n_owners; o++) {
            char key[LM_KEY_MAX];
            lm_lead_team_open_key(t->name, t->owners[o].name, key);
            long long n = int_reply(fixture_redis_cmd(&fx, "SCARD", key, NULL));
            cr_assert_geq(n, 0, "SCARD %s", key);
            c.held += n;
        }
    }
    lm_policy_free(pol);
    strset keys = {0};
    cr_assert_geq(fixture_redis_keys(&fx, "lm:{acct:*}:open", &keys), 0);
    for (size_t i = 0; i < keys.n; i++) {
        const char *open = strset_key(&keys, i, NULL);
        char acct[LM_KEY_MAX];
        /* lm:{acct:<domain>}:open -> lm:{acct:<domain>}:open_count */
        snprintf(acct, sizeof(acct), "%s_count", open);
        long long n = int_reply(fixture_redis_cmd(&fx, "SCARD", open, NULL));
        long long k = int_reply(fixture_redis_cmd(&fx, "GET", acct, NULL));
        c.accounts++;
        c.acct_open_sum += n;
        c.acct_counter_sum += k;
        if (n != k) {
            c.acct_mismatch++;
            printf("account %s: counter %lld, open set %lld\n", acct, k, n);
        }
    }
    strset_free(&keys);
    return c;
}

static int all_decided(const market *m) {
    return m->decisions.n >= LEADS;
}

/* The checks of every run: each lead once on every topic, side writes
 * once. */
static census check_run(const market *m, const char *what) {
    census c = census_take();
    printf("%s: accepted %zu (twice %zu), decided %zu (twice %zu), actions "
           "%zu (twice %zu), dlq %zu; owners hold %lld of %zu slots taken; "
           "%lld accounts, counters %lld, open sets %lld\n",
           what, m->accepted.n, m->accepted.dups, m->decisions.n,
           m->decisions.dups, m->actions.n, m->actions.dups, m->dlq, c.held,
           m->holding, c.accounts, c.acct_counter_sum, c.acct_open_sum);
    cr_expect_eq(m->accepted.n, LEADS, "%s: %zu of %d accepted", what,
                 m->accepted.n, LEADS);
    cr_expect_eq(m->accepted.dups, 0, "%s: accepted twice", what);
    cr_expect_eq(m->decisions.n, LEADS, "%s: %zu of %d decided", what,
                 m->decisions.n, LEADS);
    cr_expect_eq(m->decisions.dups, 0, "%s: decided twice", what);
    cr_expect_eq(m->actions.dups, 0, "%s: an action id twice", what);
    cr_expect_eq(m->dlq, 0, "%s: %zu dead letters", what, m->dlq);
    cr_expect_eq(c.held, (long long)m->holding,
                 "%s: owners hold %lld leads; %zu took a slot", what, c.held,
                 m->holding);
    cr_expect_gt(c.accounts, 0, "%s: no account was opened", what);
    cr_expect_eq(c.acct_mismatch, 0,
                 "%s: %d account counter(s) not their open set's size (a "
                 "HINCRBY applied twice or never)",
                 what, c.acct_mismatch);
    return c;
}

/* One run of LEADS seeded leads through the whole fleet. */
static census run_fleet(int cluster, market *m) {
    cr_assert_eq(fixture_up_on(&fx, 4, 0, cluster), 0);
    cr_assert_eq(fixture_start_all(&fx), 0);
    market_init(m, &fx, 0.0);
    market_submit(m, LEADS, 0, 0, 17);
    cr_assert(market_until(m, all_decided, 120000), "%zu of %d decided",
              m->decisions.n, LEADS);
    for (int i = 0; i < 3; i++)
        market_pump(m, 300);
    return check_run(m, cluster ? "cluster" : "one redis");
}

Test(cluster_fleet, same_as_one_redis, .fini = teardown, .timeout = 600) {
    market m1, m2;
    census one = run_fleet(0, &m1);
    fixture_down(&fx);
    census cl = run_fleet(1, &m2);
    cr_expect(fixture_log_has(&fx, "qualification", "\"redis_cluster\"", 0),
              "the workers did not say they run on a cluster");
    cr_expect_eq(m1.holding, m2.holding,
                 "slots taken: %zu on one Redis, %zu "
                 "on the cluster",
                 m1.holding, m2.holding);
    cr_expect_eq(m1.unassigned, m2.unassigned);
    cr_expect_eq(one.held, cl.held);
    cr_expect_eq(one.accounts, cl.accounts);
    cr_expect_eq(one.acct_counter_sum, cl.acct_counter_sum,
                 "account counters: %lld on one Redis, %lld on the cluster",
                 one.acct_counter_sum, cl.acct_counter_sum);
    market_free(&m1);
    market_free(&m2);
}

/* Starts `worker` with LASTMILE_TEST_CRASH_AT=where and waits for it to
 * die there (exit 137). */
static void run_until_crash(const char *worker, const char *where) {
    setenv("LASTMILE_TEST_CRASH_AT", where, 1);
    int slot = fixture_start_worker(&fx, worker);
    unsetenv("LASTMILE_TEST_CRASH_AT");
    cr_assert_geq(slot, 0);
    int status = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while (waitpid(fx.procs[slot], &status, WNOHANG) == 0 &&
           fixture_mono_ms() < deadline)
        usleep(20000);
    fx.procs[slot] = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 137,
              "%s did not stop at %s (status %d)", worker, where, status);
}

/* The fleet on a cluster with `worker` dying once at `where`, then
 * started again; every lead once, every side write once. */
static void crash_once(const char *worker, const char *where) {
    cr_assert_eq(fixture_up_on(&fx, 4, 0, 1), 0);
    market m;
    market_init(&m, &fx, 0.0);
    market_submit(&m, LEADS, 0, 0, 23);
    static const char *const flow[] = {"intake", "qualification", "followup",
                                       "timing"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(flow[i], worker) != 0)
            cr_assert_geq(fixture_start_worker(&fx, flow[i]), 0);
    run_until_crash(worker, where);
    market_pump(&m, 300);
    size_t before = m.decisions.n;
    cr_assert_geq(fixture_start_worker(&fx, worker), 0);
    cr_assert(market_until(&m, all_decided, 120000), "%zu of %d decided",
              m.decisions.n, LEADS);
    for (int i = 0; i < 3; i++)
        market_pump(&m, 300);
    char what[128];
    snprintf(what, sizeof(what), "%s at %s (%zu decided before the restart)",
             worker, where, before);
    check_run(&m, what);
    market_free(&m);
}

Test(cluster_fleet, crash_after_units_before_side_writes, .fini = teardown,
     .timeout = 300) {
    crash_once("qualification", "after-writes");
}

Test(cluster_fleet, crash_after_side_writes_before_produce, .fini = teardown,
     .timeout = 300) {
    crash_once("qualification", "cluster-after-side");
}

Test(cluster_fleet, crash_intake_between_units, .fini = teardown,
     .timeout = 300) {
    crash_once("intake", "cluster-between-units");
}

/* A node that is a replica now: its index, or -1. */
static int a_replica(void) {
    for (int i = 0; i < CFX_NODES; i++) {
        redisContext *c = cluster_fx_conn(&fx.cfx, i);
        redisReply *r = c ? redisCommand(c, "ROLE") : NULL;
        int slave = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                    r->element[0]->type == REDIS_REPLY_STRING &&
                    strcmp(r->element[0]->str, "slave") == 0;
        if (r)
            freeReplyObject(r);
        if (c)
            redisFree(c);
        if (slave)
            return i;
    }
    return -1;
}

/* The dead letters of the run, by the lead each holds (its input's key),
 * and those that do not say a side write was refused. */
typedef struct dead_letters {
    strset leads;
    size_t other; /* not followup's, or another reason */
} dead_letters;

static void on_dead_letter(void *opaque, const rd_kafka_message_t *rkm) {
    dead_letters *d = opaque;
    Lastmile__V1__DeadLetter *dl =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    if (!dl)
        return;
    char lead[LM_KEY_MAX];
    snprintf(lead, sizeof(lead), "%.*s", (int)dl->original_key.len,
             (const char *)dl->original_key.data);
    if (strcmp(dl->worker, "followup") == 0 &&
        strstr(dl->reason, "side write failed") &&
        strstr(dl->reason, "WRONGTYPE"))
        strset_add(&d->leads, lead);
    else {
        printf("dead letter of %s by %s: %s\n", lead, dl->worker, dl->reason);
        d->other++;
    }
    lastmile__v1__dead_letter__free_unpacked(dl, NULL);
}

/* The timer bucket planted with a string (a key of another type where
 * followup's side write, a response timer, goes). */
#define PLANTED_BUCKET 3

/* What followup did with the decided leads: acted on (a touch), or
 * dead-lettered; in the planted bucket or not. */
typedef struct followup_census {
    size_t touchable; /* decided, not disqualified */
    size_t acted_in, acted_out, dead_in, dead_out;
} followup_census;

static topic_reader *dlq_reader;
static dead_letters dls;

static followup_census followup_take(const market *m) {
    followup_census f = {0};
    reader_drain(dlq_reader, 10, on_dead_letter, &dls);
    for (size_t i = 0; i < m->decisions.n; i++) {
        const char *lead = strset_key(&m->decisions, i, NULL);
        if (strset_count(&m->outcomes, lead)) /* disqualified */
            continue;
        f.touchable++;
        int in = lm_timers_bucket(lead) == PLANTED_BUCKET;
        char action[LM_KEY_MAX];
        snprintf(action, sizeof(action), "%s:action:0", lead);
        if (strset_count(&m->actions, action))
            (*(in ? &f.acted_in : &f.acted_out))++;
        if (strset_count(&dls.leads, lead))
            (*(in ? &f.dead_in : &f.dead_out))++;
    }
    return f;
}

static int followup_done(const market *m) {
    followup_census f = followup_take(m);
    return all_decided(m) &&
           f.acted_in + f.acted_out + f.dead_in + f.dead_out >= f.touchable;
}

Test(cluster_fleet, replicas_and_refused_side_writes, .fini = teardown,
     .timeout = 300) {
    cr_assert_eq(fixture_up_on(&fx, 4, 0, 1), 0);
    char bucket[LM_TIMERS_KEY_MAX];
    lm_timers_key(PLANTED_BUCKET, "", bucket);
    redisReply *r = fixture_redis_cmd(&fx, "SET", bucket, "planted", NULL);
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "SET %s", bucket);
    freeReplyObject(r);
    int stopped = a_replica();
    cr_assert_geq(stopped, 0, "no replica");
    market m;
    market_init(&m, &fx, 0.0);
    dlq_reader = reader_new(&fx, "dlq");
    market_submit(&m, LEADS, 0, 0, 29);
    /* a replica online but not answering: its master's WAIT falls short */
    kill(fx.cfx.pids[stopped], SIGSTOP);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    setenv("LASTMILE_REDIS_WAIT_REPLICAS", "2", 1);
    int q = fixture_start_worker(&fx, "qualification");
    unsetenv("LASTMILE_REDIS_WAIT_REPLICAS");
    cr_assert_geq(q, 0);
    cr_assert_geq(fixture_start_worker(&fx, "followup"), 0);
    int held =
        fixture_log_has(&fx, "intake", "redis_replicas_behind", 60000) ||
        fixture_log_has(&fx, "qualification", "redis_replicas_behind", 0);
    market_pump(&m, 1000);
    size_t while_held = m.accepted.n + m.decisions.n;
    kill(fx.cfx.pids[stopped], SIGCONT);
    cr_expect(held, "no batch was held for the replica that did not answer");
    cr_expect_eq(while_held, 0,
                 "%zu leads produced while a replica did not acknowledge",
                 while_held);
    cr_assert(market_until(&m, followup_done, 120000),
              "%zu of %d decided; followup did not act on or dead-letter "
              "every decided lead",
              m.decisions.n, LEADS);
    for (int i = 0; i < 3; i++)
        market_pump(&m, 300);
    cr_expect(
        fixture_log_has(&fx, "qualification", "redis_replicas_fewer", 0),
        "qualification, asked for two replicas where each master has one, "
        "did not say it waits for the one");
    followup_census f = followup_take(&m);
    printf("replicas and refused side writes: %zu decided, %zu touchable; "
           "planted bucket: %zu dead-lettered, %zu acted on; others: %zu "
           "acted on, %zu dead-lettered; %zu other dead letters\n",
           m.decisions.n, f.touchable, f.dead_in, f.acted_in, f.acted_out,
           f.dead_out, dls.other);
    cr_expect_eq(m.accepted.n, LEADS);
    cr_expect_eq(m.accepted.dups, 0);
    cr_expect_eq(m.decisions.n, LEADS, "%zu of %d decided", m.decisions.n,
                 LEADS);
    cr_expect_eq(m.decisions.dups, 0);
    cr_expect_eq(m.actions.dups, 0);
    cr_expect_gt(f.dead_in, 0, "no lead of the planted bucket");
    cr_expect_eq(f.acted_in, 0,
                 "%zu leads acted on whose response timer was refused",
                 f.acted_in);
    cr_expect_eq(f.dead_out, 0, "%zu other leads dead-lettered", f.dead_out);
    cr_expect_eq(dls.other, 0, "dead letters without the refused write");
    cr_expect_eq(f.acted_out + f.dead_in, f.touchable);
    cr_expect_eq(m.dlq, f.dead_in, "%zu dead letters, %zu of the bucket", m.dlq,
                 f.dead_in);
    reader_free(dlq_reader);
    strset_free(&dls.leads);
    market_free(&m);
}
