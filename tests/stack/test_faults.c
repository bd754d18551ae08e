/* test_faults.c — the delivery rule under faults (issue 7): nothing lost,
 * nothing doubled, whatever breaks, on the embedded stack (the mock broker
 * over TCP, a real redis-server), checked by the test's own consumers.
 *
 *   faults.broker_down_10s: the broker goes down for 10 s mid-run; the fleet
 *     stalls and resumes; every lead accounted exactly once; prints the
 *     recovery time (broker back → first outcome produced after it).
 *   faults.request_errors: retriable errors pushed on Produce (ApiKey 0:
 *     NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT) and OffsetCommit
 *     (ApiKey 8: NOT_COORDINATOR, REQUEST_TIMED_OUT) mid-run — errors
 *     librdkafka retries — nothing lost or doubled.
 *   faults.redis_kill_restart: redis-server SIGKILLed mid-run and started
 *     again on its AOF: dedupe keys and timers survive (re-submissions made
 *     after the restart still merge; every waiting lead still closes).
 *   faults.redis_away_not_ready: Redis away for longer than a bound (8 s):
 *     every worker that has input says not ready on /readyz and commits
 *     nothing; ready again when Redis is back, and everything completes.
 *   faults.hostile_input: oversize, wrong-type, unknown-enum, missing-field,
 *     absurd-time, huge-string and non-UTF-8 input on every input topic:
 *     each gets a dead letter with a precise reason, carrying the original
 *     bytes; its log line keeps its message; no worker exits; a valid lead
 *     after them is processed. Known to fail today (BUG assertions): input
 *     whose dead letter or output is over the producer's message.max.bytes
 *     vanishes, and a reason quoting non-UTF-8 bytes is dropped from the
 *     log line.
 *   faults.chaos: LASTMILE_TEST_CHAOS_LEADS leads (default 2,000; the issue's
 *     20,000 is the long run, docs/FUZZING.md), submitted in waves, through
 *     two replicas of every worker while a random worker is killed with -9
 *     every ~3 s (LASTMILE_TEST_CHAOS_SEED repeats a schedule) and restarted
 *     in the same slot, for the whole run; then every lead once, no action
 *     or outcome twice, no timer left behind, no worker that died by
 *     itself.
 *   faults.no_pii_in_logs: no test lead's email, phone or name appears in
 *     any worker log of a pipeline run (BUG today: an invalid phone number
 *     is quoted in the dead-letter reason, which the runtime logs).
 *
 * Figures are printed (printf) for the record; no assertion is on a
 * wall-clock time. A failing assertion that exposes a known defect says
 * "BUG:" and the comment above it names the defect. Criterion runs each test in
 * its own process, so environment changes (metrics ports) stay local. */
#include "market.h"

#include "lm_clock.h"
#include "lm_http_get.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

#define FAULT_SCALE      400000 /* simulated s per real s, as test_pipeline */
#define FAULT_PEOPLE     1000
#define FAULT_DUPS       20
#define FAULT_INVALID    10
#define FAULT_RESPOND    0.3
#define CHAOS_LEADS_DFLT 2000
#define CHAOS_KILL_MS    3000 /* a kill every 1.5-4.5 s, ~3 s on average */
#define CHAOS_WAVES      10
#define CHAOS_WAVE_MS    2000
#define REDIS_AWAY_MS    8000 /* "longer than a bound" */
#define N_WORKERS        4

static const char *const worker_names[N_WORKERS] = {"intake", "qualification",
                                                    "followup", "timing"};

/* ============================================================ helpers */

static int64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static size_t want_people;

static int all_closed(const market *m) {
    return m->accepted.n >= want_people && m->outcomes.n >= m->accepted.n;
}

static int some_outcomes(const market *m) {
    return m->outcomes.n >= want_people / 8;
}

/* Pumps a few more rounds so that anything late (a duplicate would be
 * late) reaches the ledger. */
static void settle(market *m) {
    for (int i = 0; i < 5; i++)
        market_pump(m, 200);
}

/* The delivery rule, as the test's consumers saw it. Prints the figures. */
static void check_once(const market *m, size_t people, size_t invalid,
                       const char *what) {
    printf("%s: submitted %zu people (+ re-submissions), %zu invalid; "
           "accepted %zu (twice: %zu), decisions %zu (twice: %zu), outcomes "
           "%zu (twice: %zu), actions %zu (id twice: %zu), dead letters %zu, "
           "late responses %zu, responders %zu\n",
           what, people, invalid, m->accepted.n, m->accepted.dups,
           m->decisions.n, m->decisions.dups, m->outcomes.n, m->outcomes.dups,
           m->actions.n, m->actions.dups, m->dlq, m->late, m->responders.n);
    fflush(stdout);
    cr_expect_eq(m->accepted.n, people, "%s: %zu leads accepted for %zu people",
                 what, m->accepted.n, people);
    cr_expect_eq(m->accepted.dups, 0, "%s: a lead accepted twice", what);
    cr_expect_eq(m->decisions.n, m->accepted.n,
                 "%s: decisions %zu != leads %zu", what, m->decisions.n,
                 m->accepted.n);
    cr_expect_eq(m->decisions.dups, 0, "%s: a lead decided twice", what);
    cr_expect_eq(m->outcomes.n, m->accepted.n, "%s: outcomes %zu != leads %zu",
                 what, m->outcomes.n, m->accepted.n);
    cr_expect_eq(m->outcomes.dups, 0, "%s: %zu outcome(s) twice", what,
                 m->outcomes.dups);
    cr_expect_eq(m->actions.dups, 0, "%s: %zu action id(s) twice", what,
                 m->actions.dups);
    cr_expect_eq(m->dlq, invalid, "%s: dead letters %zu != invalid %zu", what,
                 m->dlq, invalid);
    cr_expect_eq(m->off_hours, 0, "%s: %zu touch(es) outside allowed hours",
                 what, m->off_hours);
}

/* Reads a whole file into a NUL-terminated malloc'd buffer (NULL if none). */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (n + 4096 + 1 > cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Occurrences of needle in every worker log of the run. */
static size_t count_in_logs(const char *needle) {
    size_t n = 0;
    for (int w = 0; w < N_WORKERS; w++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.log", fx.dir, worker_names[w]);
        char *log = slurp(path, NULL);
        for (const char *p = log; p && (p = strstr(p, needle)); p++)
            n++;
        free(log);
    }
    return n;
}

/* HTTP status of GET path on 127.0.0.1:port; -1 when nothing answers. */
static int http_status(int port, const char *path) {
    lm_http_get_reply r;
    char err[256];
    if (lm_http_get("127.0.0.1", port, path, 2000, &r, err, sizeof(err)) != 0)
        return -1;
    int status = r.status;
    lm_http_get_free(&r);
    return status;
}

/* Sum of the committed offsets of group `group` on a topic (partitions
 * without a commit count 0); -1 on error. */
static int64_t committed_sum(const char *group, const char *topic_suffix,
                             int partitions) {
    char topic[LM_TOPIC_MAX], err[512];
    snprintf(topic, sizeof(topic), "lastmile.%s", topic_suffix);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", fx.st.brokers, NULL, 0);
    rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        return -1;
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p);
    int64_t sum = -1;
    if (rd_kafka_committed(rk, parts, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        sum = 0;
        for (int p = 0; p < parts->cnt; p++)
            if (parts->elems[p].offset > 0)
                sum += parts->elems[p].offset;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return sum;
}

/* Sum of the log-end offsets of a topic; -1 on error. */
static int64_t topic_end(const char *topic_suffix, int partitions) {
    char topic[LM_TOPIC_MAX];
    snprintf(topic, sizeof(topic), "lastmile.%s", topic_suffix);
    int64_t sum = 0;
    for (int p = 0; p < partitions; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(fx.producer, topic, p, &lo, &hi,
                                             10000) != 0)
            return -1;
        sum += hi;
    }
    return sum;
}

/* Raw bytes onto a topic with the fixture's producer. */
static void produce_raw(const char *topic_suffix, const char *key,
                        const void *val, size_t len) {
    char topic[LM_TOPIC_MAX];
    snprintf(topic, sizeof(topic), "lastmile.%s", topic_suffix);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        fx.producer, RD_KAFKA_V_TOPIC(topic),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)val, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "produce to %s: %s", topic,
                 rd_kafka_err2str(e));
}

/* Redis keys matching a pattern (SCAN), and the members of the timer
 * sets: {pending, claimed} summed over the buckets. -1 on error. */
static long long redis_count_keys(const char *pattern) {
    redisContext *c = redisConnect("127.0.0.1", fx.st.redis_port);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return -1;
    }
    long long n = 0;
    char cursor[32] = "0";
    do {
        redisReply *r =
            redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            n = -1;
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        n += (long long)r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
    return n;
}

static int redis_timers(long long *pending, long long *claimed) {
    redisContext *c = redisConnect("127.0.0.1", fx.st.redis_port);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return -1;
    }
    *pending = *claimed = 0;
    for (int b = 0; b < 16; b++) {
        redisReply *r = redisCommand(c, "ZCARD lm:{timers:%d}", b);
        if (r && r->type == REDIS_REPLY_INTEGER)
            *pending += r->integer;
        if (r)
            freeReplyObject(r);
        r = redisCommand(c, "ZCARD lm:{timers:%d}:claimed", b);
        if (r && r->type == REDIS_REPLY_INTEGER)
            *claimed += r->integer;
        if (r)
            freeReplyObject(r);
    }
    redisFree(c);
    return 0;
}

/* Outcomes with their Kafka timestamps (CreateTime: when the worker's
 * producer made them), for recovery times. */
typedef struct outcome_clock {
    int64_t after;       /* count outcomes made at or after this (wall ms) */
    int64_t first_after; /* smallest such timestamp, 0 if none yet */
    int64_t seen_after;  /* wall ms the test first saw one, 0 if none */
    int64_t window_lo, window_hi;
    size_t in_window; /* outcomes made inside [lo, hi) */
} outcome_clock;

static void on_timed_outcome(void *opaque, const rd_kafka_message_t *rkm) {
    outcome_clock *oc = opaque;
    int64_t ts = rd_kafka_message_timestamp(rkm, NULL);
    if (ts >= oc->window_lo && ts < oc->window_hi)
        oc->in_window++;
    if (oc->after && ts >= oc->after) {
        if (!oc->first_after || ts < oc->first_after)
            oc->first_after = ts;
        if (!oc->seen_after)
            oc->seen_after = wall_ms();
    }
}

/* Restarts slot `slot` with the same worker, in the same slot (the
 * fixture only appends; a long chaos run would run out of slots). */
static int restart_in_slot(int slot) {
    char name[sizeof(fx.proc_names[0])];
    /* a copy: fixture_start_worker writes the name into this very slot */
    snprintf(name, sizeof(name), "%s", fx.proc_names[slot]);
    int n = fx.n_procs;
    fx.n_procs = slot;
    int got = fixture_start_worker(&fx, name);
    fx.n_procs = n;
    return got;
}

/* ================================================ (a) broker down 10 s */

Test(faults, broker_down_10s, .fini = teardown, .timeout = 900) {
    cr_assert_eq(fixture_up(&fx, 4, FAULT_SCALE), 0);
    cr_assert_eq(fixture_start_all(&fx), 0);
    market m;
    market_init(&m, &fx, FAULT_RESPOND);
    topic_reader *timed = reader_new(&fx, "outcomes");
    outcome_clock oc = {0};
    want_people = FAULT_PEOPLE;
    market_submit(&m, FAULT_PEOPLE, FAULT_DUPS, FAULT_INVALID, 21);
    cr_assert(market_until(&m, some_outcomes, 240000),
              "no progress before the fault");
    size_t before = m.outcomes.n;

    int64_t t_down = wall_ms();
    cr_assert_eq(lm_devstack_broker_ctl(&fx.st, "down 10"), 0);
    oc.after = t_down + 10000; /* the broker process brings it back */
    oc.window_lo = t_down + 2000;
    oc.window_hi = t_down + 10000;
    int64_t deadline = fixture_mono_ms() + fixture_ms(400000);
    while (!all_closed(&m) && fixture_mono_ms() < deadline) {
        market_pump(&m, 200);
        reader_drain(timed, 10, on_timed_outcome, &oc);
    }
    settle(&m);
    reader_drain(timed, 200, on_timed_outcome, &oc);

    int64_t recovery = oc.first_after ? oc.first_after - oc.after : -1;
    int64_t seen = oc.seen_after ? oc.seen_after - oc.after : -1;
    printf("broker down 10 s: %zu outcomes before; %zu outcome(s) made while "
           "it was down (after the first 2 s); recovery (broker back -> first "
           "outcome made after) %lld ms; first seen by the test %lld ms after "
           "the broker came back\n",
           before, oc.in_window, (long long)recovery, (long long)seen);
    cr_expect_geq(recovery, 0, "the fleet did not resume after the outage");
    check_once(&m, FAULT_PEOPLE, FAULT_INVALID, "broker down 10 s");
    reader_free(timed);
    market_free(&m);
}

/* ====================================== (b) request errors, produce/commit */

Test(faults, request_errors, .fini = teardown, .timeout = 900) {
    cr_assert_eq(fixture_up(&fx, 4, FAULT_SCALE), 0);
    cr_assert_eq(fixture_start_all(&fx), 0);
    market m;
    market_init(&m, &fx, FAULT_RESPOND);
    want_people = FAULT_PEOPLE;
    market_submit(&m, FAULT_PEOPLE, FAULT_DUPS, FAULT_INVALID, 22);
    cr_assert(market_until(&m, some_outcomes, 240000),
              "no progress before the fault");
    /* retriable for librdkafka (rdkafka_request.c): Produce 6 refreshes
       the leader and retries, 7 retries (idempotent: no duplicate);
       OffsetCommit 16 re-finds the coordinator and retries, 7 retries */
    static const char *const faults[] = {"errors 0 6 10", "errors 8 16 5",
                                         "errors 0 7 10", "errors 8 7 5"};
    for (size_t i = 0; i < sizeof(faults) / sizeof(*faults); i++) {
        cr_assert_eq(lm_devstack_broker_ctl(&fx.st, faults[i]), 0);
        market_pump(&m, 500);
    }
    int done = market_until(&m, all_closed, 400000);
    settle(&m);
    printf("request errors: 20 Produce errors (NOT_LEADER_FOR_PARTITION, "
           "REQUEST_TIMED_OUT), 10 OffsetCommit errors (NOT_COORDINATOR, "
           "REQUEST_TIMED_OUT) pushed mid-run; commits the workers logged as "
           "failed: %zu\n",
           count_in_logs("commit_failed"));
    cr_expect(done, "not every lead closed after the request errors");
    check_once(&m, FAULT_PEOPLE, FAULT_INVALID, "request errors");
    market_free(&m);
}

/* ====================================== (c) redis-server killed, AOF back */

Test(faults, redis_kill_restart, .fini = teardown, .timeout = 900) {
    cr_assert_eq(fixture_up(&fx, 4, FAULT_SCALE), 0);
    cr_assert_eq(fixture_start_all(&fx), 0);
    market m;
    market_init(&m, &fx, FAULT_RESPOND);
    want_people = FAULT_PEOPLE;
    market_submit(&m, FAULT_PEOPLE, 0, FAULT_INVALID, 23);
    cr_assert(market_until(&m, some_outcomes, 240000),
              "no progress before the fault");
    long long persons_before = redis_count_keys("lm:{*}:person");
    long long pend_before = 0, claimed_before = 0;
    redis_timers(&pend_before, &claimed_before);

    cr_assert_eq(lm_devstack_redis_stop(&fx.st, 1), 0); /* SIGKILL */
    usleep(1000 * 1000);
    char err[512];
    cr_assert_eq(lm_devstack_redis_start(&fx.st, 1, err, sizeof(err)), 0,
                 "restart redis: %s", err);
    long long persons_after = -1; /* -1 while it still loads its AOF */
    for (int i = 0; i < 100 && persons_after < 0; i++) {
        persons_after = redis_count_keys("lm:{*}:person");
        if (persons_after < 0)
            usleep(100 * 1000);
    }
    long long pend_after = 0, claimed_after = 0;
    redis_timers(&pend_after, &claimed_after);
    /* re-submissions after the restart: the dedupe keys must still merge
       them into the leads made before */
    market_submit(&m, 0, 50, 0, 23);

    int done = market_until(&m, all_closed, 400000);
    settle(&m);
    printf("redis SIGKILL + AOF restart: dedupe keys %lld before, %lld "
           "after; timers pending %lld + claimed %lld before, %lld + %lld "
           "after; 50 re-submissions after the restart; reconnects logged: "
           "%zu\n",
           persons_before, persons_after, pend_before, claimed_before,
           pend_after, claimed_after, count_in_logs("\"redis_back\""));
    cr_expect_geq(persons_after, persons_before,
                  "dedupe keys lost in the restart: %lld -> %lld",
                  persons_before, persons_after);
    cr_expect(done, "not every lead closed after the Redis restart");
    check_once(&m, FAULT_PEOPLE, FAULT_INVALID, "redis kill + restart");
    market_free(&m);
}

/* ================================ (d) Redis away too long: not ready */

Test(faults, redis_away_not_ready, .fini = teardown, .timeout = 900) {
    cr_assert_eq(fixture_up(&fx, 4, FAULT_SCALE), 0);
    int ports[FX_WORKERS];
    cr_assert_eq(fixture_start_all_with_metrics(&fx, ports), 0);
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    int n_ready = 0;
    while (n_ready < N_WORKERS && fixture_mono_ms() < deadline) {
        n_ready = 0;
        for (int w = 0; w < N_WORKERS; w++)
            n_ready += http_status(ports[w], "/readyz") == 200;
        usleep(200 * 1000);
    }
    cr_assert_eq(n_ready, N_WORKERS, "the fleet never became ready");

    market m;
    market_init(&m, &fx, FAULT_RESPOND);
    want_people = FAULT_PEOPLE + 200;
    market_submit(&m, FAULT_PEOPLE, FAULT_DUPS, FAULT_INVALID, 24);
    cr_assert(market_until(&m, some_outcomes, 240000),
              "no progress before the fault");

    cr_assert_eq(lm_devstack_redis_stop(&fx.st, 0), 0);
    int64_t t0 = fixture_mono_ms();
    /* input for every worker while Redis is away: new leads for intake,
       and one undecodable message each for the others (dead letters once
       Redis is back: the runtime records every input in Redis first) */
    market_submit(&m, 200, 0, 0, 25);
    static const char junk[] = "\xff\xff\xff junk";
    produce_raw(LM_TOPIC_QUALIFICATION, "junk", junk, sizeof(junk));
    produce_raw(LM_TOPIC_FOLLOWUP, "junk", junk, sizeof(junk));
    produce_raw(LM_TOPIC_TIMING, "junk", junk, sizeof(junk));
    fixture_flush(&fx);

    int64_t not_ready_at[N_WORKERS] = {0};
    int64_t commits_a[N_WORKERS], commits_b[N_WORKERS];
    int64_t out_a = -1, out_b = -1;
    int snap_a = 0;
    while (fixture_mono_ms() - t0 < REDIS_AWAY_MS) {
        for (int w = 0; w < N_WORKERS; w++)
            if (!not_ready_at[w] && http_status(ports[w], "/readyz") == 503)
                not_ready_at[w] = fixture_mono_ms() - t0;
        if (!snap_a && fixture_mono_ms() - t0 >= 2000) {
            /* after any batch that finished its Redis writes just before */
            char group[64];
            for (int w = 0; w < N_WORKERS; w++) {
                snprintf(group, sizeof(group), "lastmile.%s", worker_names[w]);
                const char *in[] = {LM_TOPIC_INTAKE, LM_TOPIC_QUALIFICATION,
                                    LM_TOPIC_FOLLOWUP, LM_TOPIC_TIMING};
                commits_a[w] = committed_sum(group, in[w], 4);
            }
            out_a = topic_end(LM_TOPIC_QUALIFICATION, 4);
            snap_a = 1;
        }
        usleep(200 * 1000);
    }
    for (int w = 0; w < N_WORKERS; w++) {
        char group[64];
        snprintf(group, sizeof(group), "lastmile.%s", worker_names[w]);
        const char *in[] = {LM_TOPIC_INTAKE, LM_TOPIC_QUALIFICATION,
                            LM_TOPIC_FOLLOWUP, LM_TOPIC_TIMING};
        commits_b[w] = committed_sum(group, in[w], 4);
    }
    out_b = topic_end(LM_TOPIC_QUALIFICATION, 4);
    for (int w = 0; w < N_WORKERS; w++) {
        printf("redis away %d s: %s said not ready after %lld ms; committed "
               "input offsets %lld at 2 s, %lld at %d s\n",
               REDIS_AWAY_MS / 1000, worker_names[w],
               not_ready_at[w] ? (long long)not_ready_at[w] : -1LL,
               (long long)commits_a[w], (long long)commits_b[w],
               REDIS_AWAY_MS / 1000);
        cr_expect_gt(not_ready_at[w], 0,
                     "%s still said ready with Redis away and input waiting",
                     worker_names[w]);
        cr_expect_eq(commits_a[w], commits_b[w],
                     "%s committed input while Redis was away (%lld -> %lld)",
                     worker_names[w], (long long)commits_a[w],
                     (long long)commits_b[w]);
    }
    cr_expect_eq(out_a, out_b,
                 "intake produced while Redis was away (%lld -> %lld)",
                 (long long)out_a, (long long)out_b);

    char err[512];
    cr_assert_eq(lm_devstack_redis_start(&fx.st, 1, err, sizeof(err)), 0,
                 "restart redis: %s", err);
    int64_t t_back = fixture_mono_ms();
    int64_t ready_again[N_WORKERS] = {0};
    deadline = t_back + fixture_ms(60000);
    int n_back = 0;
    while (n_back < N_WORKERS && fixture_mono_ms() < deadline) {
        market_pump(&m, 100);
        n_back = 0;
        for (int w = 0; w < N_WORKERS; w++) {
            if (!ready_again[w] && http_status(ports[w], "/readyz") == 200)
                ready_again[w] = fixture_mono_ms() - t_back;
            n_back += ready_again[w] > 0;
        }
    }
    for (int w = 0; w < N_WORKERS; w++)
        printf("redis back: %s ready again after %lld ms\n", worker_names[w],
               ready_again[w] ? (long long)ready_again[w] : -1LL);
    cr_expect_eq(n_back, N_WORKERS, "not every worker became ready again");

    int done = market_until(&m, all_closed, 400000);
    settle(&m);
    cr_expect(done, "not every lead closed after Redis came back");
    check_once(&m, FAULT_PEOPLE + 200, FAULT_INVALID + 3, "redis away 8 s");
    market_free(&m);
}

/* ========================================================= (e) hostile */

/* One hostile message: where it goes and what its dead letter must say. */
typedef struct hostile {
    const char *topic;
    const char *what;   /* for the report */
    const char *reason; /* substring the dead letter's reason must have */
    uint8_t *val;
    size_t len;
    int64_t offset; /* from the delivery report */
    int seen;
} hostile;

#define HOSTILE_MAX 32
static hostile hostiles[HOSTILE_MAX];
static size_t n_hostiles;

static void add_hostile(const char *topic, const char *what, const char *reason,
                        const ProtobufCMessage *msg) {
    cr_assert_lt(n_hostiles, HOSTILE_MAX);
    hostile *h = &hostiles[n_hostiles++];
    h->topic = topic;
    h->what = what;
    h->reason = reason;
    h->val = lm_pb_pack(msg, &h->len);
    cr_assert(h->val);
}

static void add_hostile_bytes(const char *topic, const char *what,
                              const char *reason, const void *val, size_t len) {
    cr_assert_lt(n_hostiles, HOSTILE_MAX);
    hostile *h = &hostiles[n_hostiles++];
    h->topic = topic;
    h->what = what;
    h->reason = reason;
    h->val = malloc(len ? len : 1);
    cr_assert(h->val);
    memcpy(h->val, val, len);
    h->len = len;
}

static char *big_string(size_t n, char c) {
    char *s = malloc(n + 1);
    cr_assert(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* The hostile set, per input topic. offsets: the i-th message produced to
 * a topic (1 partition) has offset i, so a dead letter names its message. */
static void make_hostiles(void) {
    const char *lead = "0123456789abcdef-01234567"; /* well-formed, unknown */
    int64_t now = lm_clock_real_ms();
    /* ---- intake: LeadSubmitted */
    Lastmile__V1__LeadSubmitted s = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    s.event_id = (char *)"hostile-1";
    s.source = (char *)"web_form";
    s.email = (char *)"hostile@example.com";
    s.country = (char *)"DE";
    s.submitted_at_ms = now;
    char *huge = big_string(1100 * 1024, 'x'); /* > LM_INPUT_MAX_BYTES */
    s.full_name = huge;
    add_hostile(LM_TOPIC_INTAKE, "oversize LeadSubmitted (1.1 MiB)",
                "the limit is", &s.base);
    char *big = big_string(200 * 1024, 'y');
    s.full_name = big;
    s.event_id = (char *)"hostile-2";
    add_hostile(LM_TOPIC_INTAKE, "huge full_name (200 KiB)",
                "full_name:", &s.base);
    s.full_name = (char *)"Hostile";
    s.event_id = (char *)"hostile-3";
    s.email = (char *)"";
    add_hostile(LM_TOPIC_INTAKE, "missing email", "email: missing", &s.base);
    s.email = (char *)"hostile@example.com";
    s.event_id = (char *)"";
    add_hostile(LM_TOPIC_INTAKE, "missing event_id", "event_id: missing",
                &s.base);
    s.event_id = (char *)"hostile-4";
    s.submitted_at_ms = 0;
    add_hostile(LM_TOPIC_INTAKE, "submitted_at_ms = 0",
                "submitted_at_ms:", &s.base);
    s.event_id = (char *)"hostile-5";
    s.submitted_at_ms = INT64_MAX;
    add_hostile(LM_TOPIC_INTAKE, "submitted_at_ms = INT64_MAX",
                "more than a day in the future", &s.base);
    s.event_id = (char *)"hostile-6";
    s.submitted_at_ms = now;
    s.company_size = -7;
    add_hostile(LM_TOPIC_INTAKE, "negative company_size",
                "company_size:", &s.base);
    s.company_size = 10;
    /* the wrong type: a FollowUpAction. Its int fields (step, time) clash
       with LeadSubmitted's string fields, so it does not decode... */
    Lastmile__V1__FollowUpAction a = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a.action_id = (char *)"x:action:1";
    a.lead_id = (char *)lead;
    a.channel = (char *)"email";
    a.step = 1;
    a.scheduled_for_ms = now;
    a.kind = LASTMILE__V1__ACTION_KIND__TOUCH;
    add_hostile(LM_TOPIC_INTAKE, "FollowUpAction (wrong type)",
                "not a valid lastmile.v1.LeadSubmitted", &a.base);
    /* ...but one with only its string fields decodes as a LeadSubmitted
       (action_id → event_id, lead_id → source, channel → email): protobuf
       cannot tell; validation has to */
    Lastmile__V1__FollowUpAction a2 = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a2.action_id = (char *)"x:action:0";
    a2.lead_id = (char *)lead;
    a2.channel = (char *)"email";
    add_hostile(LM_TOPIC_INTAKE, "FollowUpAction, strings only (wrong type)",
                "email: not an address", &a2.base);
    /* not UTF-8: the reason quotes the country back */
    s.event_id = (char *)"hostile-7";
    s.country = (char *)"\xff\xfe";
    add_hostile(LM_TOPIC_INTAKE, "country of invalid UTF-8 bytes",
                "country:", &s.base);
    s.country = (char *)"DE";
    static const char garbage[] = "\xff\xff\xff\xff not protobuf";
    add_hostile_bytes(LM_TOPIC_INTAKE, "garbage bytes",
                      "not a valid lastmile.v1.LeadSubmitted", garbage,
                      sizeof(garbage));

    /* ---- qualification: LeadAccepted */
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = (char *)"not-a-lead-id";
    l.country = (char *)"DE";
    l.timezone = (char *)"Europe/Berlin";
    add_hostile(LM_TOPIC_QUALIFICATION, "malformed lead_id",
                "lead_id:", &l.base);
    l.lead_id = (char *)lead;
    l.country = (char *)"";
    add_hostile(LM_TOPIC_QUALIFICATION, "missing country",
                "country/timezone: missing", &l.base);
    add_hostile_bytes(LM_TOPIC_QUALIFICATION, "garbage bytes",
                      "not a valid lastmile.v1.LeadAccepted", garbage,
                      sizeof(garbage));
    /* just under the input limit: accepted as input, but the decision that
       carries it is larger than the broker takes (message.max.bytes) */
    l.country = (char *)"DE";
    l.lead_id = (char *)"fedcba9876543210-89abcdef";
    char *near = big_string(1020 * 1000, 'z');
    Lastmile__V1__LeadAccepted__AttributesEntry e =
        LASTMILE__V1__LEAD_ACCEPTED__ATTRIBUTES_ENTRY__INIT;
    Lastmile__V1__LeadAccepted__AttributesEntry *ep = &e;
    e.key = (char *)"notes";
    e.value = near;
    l.n_attributes = 1;
    l.attributes = &ep;
    add_hostile(LM_TOPIC_QUALIFICATION,
                "LeadAccepted of 1,020,000 bytes (its outputs exceed "
                "message.max.bytes)",
                "", &l.base);

    /* ---- followup: FollowUpEvent */
    Lastmile__V1__FollowUpEvent f = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    add_hostile(LM_TOPIC_FOLLOWUP, "empty event (no oneof member)",
                "neither decision nor next_touch", &f.base);
    Lastmile__V1__QualificationDecision d =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    Lastmile__V1__LeadAccepted dl = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    dl.lead_id = (char *)lead;
    dl.timezone = (char *)"Europe/Berlin";
    d.lead_id = (char *)lead;
    d.kind = (Lastmile__V1__DecisionKind)42; /* unknown enum value */
    d.owner = (char *)"robin.hale";
    d.lead = &dl;
    f.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    f.decision = &d;
    add_hostile(LM_TOPIC_FOLLOWUP, "decision kind 42 (unknown enum)",
                "kind QUALIFIED or NURTURE", &f.base);
    d.kind = LASTMILE__V1__DECISION_KIND__QUALIFIED;
    d.owner = (char *)"";
    add_hostile(LM_TOPIC_FOLLOWUP, "decision without an owner", "an owner",
                &f.base);
    Lastmile__V1__NextTouch t = LASTMILE__V1__NEXT_TOUCH__INIT;
    t.lead_id = (char *)lead;
    t.step = 5000;
    f.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH;
    f.next_touch = &t;
    add_hostile(LM_TOPIC_FOLLOWUP, "next_touch step 5000",
                "next_touch.step: 5000", &f.base);
    t.step = 2;
    t.scheduled_for_ms = INT64_MAX;
    add_hostile(LM_TOPIC_FOLLOWUP, "next_touch at INT64_MAX ms",
                "next_touch.scheduled_for_ms: 9223372036854775807", &f.base);
    t.scheduled_for_ms = 1764547200000LL;
    add_hostile(LM_TOPIC_FOLLOWUP, "next_touch for an unknown lead",
                "has no cadence state", &f.base);
    add_hostile_bytes(LM_TOPIC_FOLLOWUP, "garbage bytes",
                      "not a valid lastmile.v1.FollowUpEvent", garbage,
                      sizeof(garbage));

    /* ---- timing: TimingEvent */
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    r.event_id = (char *)"hostile-resp-1";
    r.lead_id = (char *)lead;
    r.kind = (Lastmile__V1__ResponseKind)99;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    te.response = &r;
    add_hostile(LM_TOPIC_TIMING, "response kind 99 (unknown enum)",
                "response.kind: 99", &te.base);
    r.kind = LASTMILE__V1__RESPONSE_KIND__REPLIED;
    r.event_id = (char *)"";
    add_hostile(LM_TOPIC_TIMING, "response without event_id",
                "response.event_id: missing", &te.base);
    r.event_id = (char *)"hostile-resp-2";
    r.kind = LASTMILE__V1__RESPONSE_KIND__CONVERTED;
    r.deal_value_cents = -5;
    add_hostile(LM_TOPIC_TIMING, "negative deal value",
                "response.deal_value_cents: -5", &te.base);
    r.deal_value_cents = 0;
    char *long_id = big_string(300, 'e');
    r.event_id = long_id;
    add_hostile(LM_TOPIC_TIMING, "event_id of 300 bytes",
                "longer than 128 bytes", &te.base);
    Lastmile__V1__TimerFired tf = LASTMILE__V1__TIMER_FIRED__INIT;
    tf.lead_id = (char *)"../../etc/passwd";
    tf.step = 1;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    te.timer_fired = &tf;
    add_hostile(LM_TOPIC_TIMING, "timer for a malformed lead id",
                "lead_id:", &te.base);
    add_hostile_bytes(LM_TOPIC_TIMING, "garbage bytes",
                      "not a valid lastmile.v1.TimingEvent", garbage,
                      sizeof(garbage));
    free(huge);
    free(big);
    free(near);
    free(long_id);
}

typedef struct dlq_seen {
    size_t n, unmatched;
} dlq_seen;

static void on_hostile_dead(void *opaque, const rd_kafka_message_t *rkm) {
    dlq_seen *ds = opaque;
    ds->n++;
    Lastmile__V1__DeadLetter *d =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    cr_assert(d, "a dead letter that does not decode");
    size_t i = 0;
    for (; i < n_hostiles; i++) {
        char topic[LM_TOPIC_MAX];
        snprintf(topic, sizeof(topic), "lastmile.%s", hostiles[i].topic);
        if (strcmp(topic, d->topic) == 0 && hostiles[i].offset == d->offset)
            break;
    }
    if (i == n_hostiles) {
        printf("hostile: unexpected dead letter from %s: %s @%lld: %s\n",
               d->worker, d->topic, (long long)d->offset, d->reason);
        ds->unmatched++;
    } else {
        hostile *h = &hostiles[i];
        h->seen++;
        printf("hostile: %-13s %-58s -> %s: \"%s\"\n", h->topic, h->what,
               d->worker, d->reason);
        cr_expect(strstr(d->reason, h->reason),
                  "%s on %s: reason \"%s\" lacks \"%s\"", h->what, h->topic,
                  d->reason, h->reason);
        /* a dead letter keeps the original, up to LM_DLQ_ORIGINAL_MAX; the
           reason says when it was cut */
        size_t kept =
            h->len > LM_DLQ_ORIGINAL_MAX ? LM_DLQ_ORIGINAL_MAX : h->len;
        cr_expect_eq(d->original.len, kept,
                     "%s: the dead letter does not carry the original bytes "
                     "(%zu of %zu)",
                     h->what, d->original.len, h->len);
        if (h->len > LM_DLQ_ORIGINAL_MAX)
            cr_expect(strstr(d->reason, "bytes kept"),
                      "%s: the reason does not say the original was cut: %s",
                      h->what, d->reason);
    }
    lastmile__v1__dead_letter__free_unpacked(d, NULL);
}

static void on_hostile_delivered(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                                 void *opaque) {
    (void)rk;
    (void)opaque;
    size_t i = (size_t)(uintptr_t)rkm->_private;
    if (i < n_hostiles)
        hostiles[i].offset = rkm->err ? -1 : rkm->offset;
}

/* A producer that can send more than 1 MB (the mock broker takes it). */
static rd_kafka_t *big_producer(void) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", fx.st.brokers, NULL, 0);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", NULL, 0);
    cr_assert_eq(rd_kafka_conf_set(conf, "message.max.bytes", "10000000", err,
                                   sizeof(err)),
                 RD_KAFKA_CONF_OK, "%s", err);
    /* one record batch may hold a near-1 MB message and what follows it,
       so that a consumer fetches them together */
    rd_kafka_conf_set(conf, "batch.size", "4000000", NULL, 0);
    rd_kafka_conf_set(conf, "linger.ms", "50", NULL, 0);
    rd_kafka_conf_set_dr_msg_cb(conf, on_hostile_delivered);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    cr_assert(rk, "%s", err);
    return rk;
}

/* Sends hostiles [first, n_hostiles); flush_each keeps them in separate
 * fetches (and so, most likely, separate batches). */
static void send_hostiles(rd_kafka_t *rk, size_t first, int flush_each) {
    for (size_t i = first; i < n_hostiles; i++) {
        char topic[LM_TOPIC_MAX];
        snprintf(topic, sizeof(topic), "lastmile.%s", hostiles[i].topic);
        hostiles[i].offset = -1;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY("hostile", 7),
            RD_KAFKA_V_VALUE(hostiles[i].val, hostiles[i].len),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "produce %s: %s",
                     hostiles[i].what, rd_kafka_err2str(e));
        if (flush_each)
            cr_assert_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR,
                         "%s not delivered", hostiles[i].what);
    }
    cr_assert_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (size_t i = first; i < n_hostiles; i++)
        cr_assert_geq(hostiles[i].offset, 0, "%s not delivered",
                      hostiles[i].what);
}

/* The lead id intake gives the market's person `person` (market.c). */
static void market_lead_id(int person, char out[LM_LEAD_ID_MAX]) {
    char email[64], ev[64], who[LM_PERSON_MAX];
    snprintf(email, sizeof(email), "person%d@company%d.example.com", person,
             person % 97);
    snprintf(ev, sizeof(ev), "ev-%d-0", person);
    lm_lead_person(email, who);
    lm_lead_id(who, ev, out);
}

static char valid_lead[LM_LEAD_ID_MAX];
static int valid_closed(const market *m) {
    return strset_count(&m->outcomes, valid_lead) > 0;
}

Test(faults, hostile_input, .fini = teardown, .timeout = 600) {
    /* one partition per topic: on every topic the valid lead comes after
       the hostile input */
    cr_assert_eq(fixture_up(&fx, 1, FAULT_SCALE), 0);
    cr_assert_eq(fixture_start_all(&fx), 0);
    make_hostiles();
    rd_kafka_t *big = big_producer();
    send_hostiles(big, 0, 1);
    size_t n_pass1 = n_hostiles;

    /* then a valid lead: every worker must go on */
    market m;
    market_init(&m, &fx, 0);
    market_lead_id(28 * 1000000, valid_lead);
    market_submit(&m, 1, 0, 0, 28);
    int done = market_until(&m, valid_closed, 120000);
    printf("hostile input: %zu messages on 4 topics; the valid lead after "
           "them: accepted %d, outcome %d\n",
           n_pass1, strset_count(&m.accepted, valid_lead),
           strset_count(&m.outcomes, valid_lead));
    cr_expect(done && strset_count(&m.accepted, valid_lead) == 1 &&
                  strset_count(&m.outcomes, valid_lead) == 1,
              "the valid lead after the hostile input was not processed");

    /* pass 2, a poison message and a valid lead B right behind it: the
       input (999,800 bytes) is under the input limit, but its dead letter,
       which carries it, is over the 1,000,000 bytes the worker's producer
       may send (message.max.bytes) */
    Lastmile__V1__LeadSubmitted s = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    char *huge = big_string(999800, 'x');
    s.event_id = (char *)"poison-2";
    s.source = (char *)"web_form";
    s.email = (char *)"poison@example.com";
    s.country = (char *)"DE";
    s.submitted_at_ms = lm_clock_real_ms();
    s.full_name = huge;
    add_hostile(LM_TOPIC_INTAKE,
                "999,800-byte full_name (its dead letter exceeds "
                "message.max.bytes)",
                "full_name:", &s.base);
    free(huge);
    size_t poison = n_hostiles - 1;
    char b_lead[LM_LEAD_ID_MAX], b_email[64], b_ev[32];
    int b_person = 32 * 1000000;
    snprintf(b_email, sizeof(b_email), "person%d@company%d.example.com",
             b_person, b_person % 97);
    snprintf(b_ev, sizeof(b_ev), "ev-%d-0", b_person);
    market_lead_id(b_person, b_lead);
    s.event_id = b_ev;
    s.email = b_email;
    s.full_name = (char *)"Lead B";
    uint8_t *bval = NULL;
    size_t blen = 0;
    bval = lm_pb_pack(&s.base, &blen);
    cr_assert(bval);
    /* with intake stopped, so that its first fetch may take both */
    int intake_slot = -1;
    for (int w = 0; w < fx.n_procs; w++)
        if (strcmp(fx.proc_names[w], "intake") == 0)
            intake_slot = w;
    cr_assert_geq(intake_slot, 0);
    fixture_stop_worker(&fx, intake_slot, SIGTERM);
    send_hostiles(big, poison, 0);
    rd_kafka_producev(big, RD_KAFKA_V_TOPIC("lastmile.intake"),
                      RD_KAFKA_V_KEY(b_email, strlen(b_email)),
                      RD_KAFKA_V_VALUE(bval, blen),
                      RD_KAFKA_V_OPAQUE((void *)(uintptr_t)SIZE_MAX),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(rd_kafka_flush(big, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    free(bval);
    rd_kafka_destroy(big);
    cr_assert_geq(restart_in_slot(intake_slot), 0);
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    while (strset_count(&m.accepted, b_lead) == 0 &&
           fixture_mono_ms() < deadline)
        market_pump(&m, 200);
    printf("hostile input, pass 2: a 999,800-byte input (offset %lld) and "
           "lead B right behind it: B accepted %d time(s); intake's committed "
           "offset %lld\n",
           (long long)hostiles[poison].offset,
           strset_count(&m.accepted, b_lead),
           (long long)committed_sum("lastmile.intake", LM_TOPIC_INTAKE, 1));
    /* when B shares the poison's batch, the runtime (which abandons a batch
       whose produce fails, without rewinding the consumer) loses B too; the
       mock's fetches usually split them, so this mostly passes */
    cr_expect_eq(strset_count(&m.accepted, b_lead), 1,
                 "lead B, right behind a poison input, was lost");

    topic_reader *dlq = reader_new(&fx, "dlq");
    dlq_seen ds = {0};
    deadline = fixture_mono_ms() + fixture_ms(20000);
    while (ds.n < n_hostiles && fixture_mono_ms() < deadline)
        reader_drain(dlq, 200, on_hostile_dead, &ds);
    reader_drain(dlq, 500, on_hostile_dead, &ds);
    printf("hostile input: %zu hostile messages, %zu dead letters\n",
           n_hostiles, ds.n);
    for (size_t i = 0; i < n_hostiles; i++) {
        if (strstr(hostiles[i].what, "oversize") ||
            strstr(hostiles[i].what, "exceed")) {
            /* BUG (report: runtime, output larger than message.max.bytes):
               the dead letter (or the output) is larger than the broker
               takes; the produce fails, the batch is abandoned and the
               input silently vanishes */
            cr_expect_eq(hostiles[i].seen, 1,
                         "BUG: %s on %s: no dead letter (input dropped)",
                         hostiles[i].what, hostiles[i].topic);
            continue;
        }
        cr_expect_eq(hostiles[i].seen, 1, "%s on %s: %d dead letters, want 1",
                     hostiles[i].what, hostiles[i].topic, hostiles[i].seen);
    }
    cr_expect_eq(ds.unmatched, 0, "%zu unexpected dead letter(s)",
                 ds.unmatched);
    /* every dead letter is logged with its reason */
    size_t dl_lines = 0, dl_no_msg = 0;
    for (int w = 0; w < N_WORKERS; w++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.log", fx.dir, worker_names[w]);
        char *log = slurp(path, NULL);
        for (char *line = log; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strstr(line, "\"event\":\"dead_letter\"")) {
                dl_lines++;
                if (!strstr(line, "\"msg\":"))
                    dl_no_msg++;
            }
            line = nl ? nl + 1 : line + strlen(line);
        }
        free(log);
    }
    printf("hostile input: %zu dead_letter log lines, %zu without a msg\n",
           dl_lines, dl_no_msg);
    /* BUG (report: lm_log drops a msg that is not UTF-8) */
    cr_expect_eq(dl_no_msg, 0,
                 "BUG: %zu dead_letter log line(s) lost their message (a "
                 "reason quoting non-UTF-8 input)",
                 dl_no_msg);
    for (int w = 0; w < fx.n_procs; w++) {
        int status = 0;
        if (fx.procs[w] <= 0)
            continue;
        pid_t gone = waitpid(fx.procs[w], &status, WNOHANG);
        cr_expect_eq(gone, 0, "worker %s exited (status %d) on hostile input",
                     fx.proc_names[w], status);
    }
    reader_free(dlq);
    market_free(&m);
    for (size_t i = 0; i < n_hostiles; i++)
        free(hostiles[i].val);
}

/* ============================================================ (f) chaos */

Test(faults, chaos, .fini = teardown, .timeout = 3600) {
    long leads = CHAOS_LEADS_DFLT;
    /* the submissions' people are seeds 100.. (market.c: seed * 1e6 + i) */
    const char *env = getenv("LASTMILE_TEST_CHAOS_LEADS");
    if (env && *env) {
        char *end = NULL;
        errno = 0;
        long v = strtol(env, &end, 10);
        cr_assert(errno == 0 && end && *end == '\0' && v > 0 && v <= 1000000,
                  "LASTMILE_TEST_CHAOS_LEADS=%s is not a count 1..1000000",
                  env);
        leads = v;
    }
    unsigned seed = (unsigned)wall_ms();
    const char *senv = getenv("LASTMILE_TEST_CHAOS_SEED");
    if (senv && *senv) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(senv, &end, 10);
        cr_assert(errno == 0 && end && *end == '\0' && v <= UINT_MAX,
                  "LASTMILE_TEST_CHAOS_SEED=%s is not a number", senv);
        seed = (unsigned)v;
    }
    srand(seed);
    cr_assert_eq(fixture_up(&fx, 4, FAULT_SCALE), 0);
    for (int rep = 0; rep < 2; rep++)
        for (int w = 0; w < N_WORKERS; w++)
            cr_assert_geq(fixture_start_worker(&fx, worker_names[w]), 0);
    market m;
    market_init(&m, &fx, FAULT_RESPOND);
    want_people = (size_t)leads;
    /* leads arrive in waves through the first part of the run, so kills
       hit every stage while it has work */
    int waves = CHAOS_WAVES, invalid = 0, submitted = 0;
    int kills[N_WORKERS] = {0}, died = 0;
    int64_t start = fixture_mono_ms();
    int64_t budget = fixture_ms(1200000);
    if (budget > 3300000) /* report before Criterion's own timeout */
        budget = 3300000;
    int64_t deadline = start + budget;
    int64_t next_kill = start + CHAOS_KILL_MS;
    int64_t next_wave = start;
    int wave = 0;
    while ((wave < waves || !all_closed(&m)) && fixture_mono_ms() < deadline) {
        if (wave < waves && fixture_mono_ms() >= next_wave) {
            int n = (int)(leads * (wave + 1) / waves) - submitted;
            market_submit(&m, n, n / 50, n / 100, 100 + wave);
            submitted += n;
            invalid += n / 100;
            wave++;
            next_wave = fixture_mono_ms() + CHAOS_WAVE_MS;
        }
        market_pump(&m, 200);
        for (int slot = 0; slot < fx.n_procs; slot++) {
            int status = 0;
            if (fx.procs[slot] > 0 &&
                waitpid(fx.procs[slot], &status, WNOHANG) == fx.procs[slot]) {
                printf("chaos: %s (slot %d) exited on its own, status %d\n",
                       fx.proc_names[slot], slot, status);
                died++;
                fx.procs[slot] = 0;
                cr_assert_geq(restart_in_slot(slot), 0);
            }
        }
        if (fixture_mono_ms() >= next_kill) {
            int slot = rand() % fx.n_procs;
            for (int w = 0; w < N_WORKERS; w++)
                if (strcmp(fx.proc_names[slot], worker_names[w]) == 0)
                    kills[w]++;
            fixture_stop_worker(&fx, slot, SIGKILL);
            cr_assert_geq(restart_in_slot(slot), 0, "restart %s",
                          fx.proc_names[slot]);
            next_kill =
                fixture_mono_ms() + CHAOS_KILL_MS / 2 + rand() % CHAOS_KILL_MS;
        }
    }
    int done = all_closed(&m);
    int64_t took = fixture_mono_ms() - start;
    settle(&m);
    /* timers: every lead is closed, so none may stay pending; claims of a
       killed sweeper wait out their lease (30 s), then fire as stale */
    long long pending = -1, claimed = -1;
    int64_t tdeadline = fixture_mono_ms() + fixture_ms(60000);
    do {
        market_pump(&m, 200);
        redis_timers(&pending, &claimed);
    } while ((pending != 0 || claimed != 0) && fixture_mono_ms() < tdeadline);
    printf("chaos (seed %u): %ld leads, 2 replicas per worker, kill -9 "
           "every ~%d s: intake %d, qualification %d, followup %d, timing "
           "%d kills; %s in %lld ms; timers left: %lld pending, %lld "
           "claimed\n",
           seed, leads, CHAOS_KILL_MS / 1000, kills[0], kills[1], kills[2],
           kills[3], done ? "all closed" : "NOT all closed", (long long)took,
           pending, claimed);
    cr_expect(done, "not every lead closed under chaos");
    cr_expect_eq(died, 0, "%d worker(s) exited without being killed", died);
    check_once(&m, (size_t)leads, (size_t)invalid, "chaos");
    cr_expect_eq(pending, 0, "%lld timer(s) left for closed leads", pending);
    cr_expect_eq(claimed, 0, "%lld timer claim(s) never released", claimed);
    market_free(&m);
}

/* ==================================================== (g) no PII in logs */

#define PII_PEOPLE  300
#define PII_PHONES  20
#define PII_BADPHON 5

Test(faults, no_pii_in_logs, .fini = teardown, .timeout = 600) {
    cr_assert_eq(fixture_up(&fx, 4, FAULT_SCALE), 0);
    cr_assert_eq(fixture_start_all(&fx), 0);
    market m;
    market_init(&m, &fx, FAULT_RESPOND);
    want_people = PII_PEOPLE + PII_PHONES;
    market_submit(&m, PII_PEOPLE, 10, 10, 30);
    /* leads with a phone and a distinctive name; some phones invalid */
    char emails[PII_PHONES + PII_BADPHON][96];
    char phones[PII_PHONES + PII_BADPHON][32];
    char digits[PII_PHONES + PII_BADPHON][32];
    char names[PII_PHONES + PII_BADPHON][64];
    for (int i = 0; i < PII_PHONES + PII_BADPHON; i++) {
        int bad = i >= PII_PHONES;
        snprintf(emails[i], sizeof(emails[i]),
                 "zelda.quux%d@pii-test.example.org", i);
        snprintf(names[i], sizeof(names[i]), "Zelda Quux-%d", i);
        if (bad) /* too short for E.164: intake rejects it */
            snprintf(phones[i], sizeof(phones[i]), "+49 30 %d", 10 + i);
        else
            snprintf(phones[i], sizeof(phones[i]), "+49 30 9%06d", 100 + i);
        size_t k = 0;
        for (const char *p = phones[i]; *p && k + 1 < sizeof(digits[i]); p++)
            if (*p != ' ')
                digits[i][k++] = *p;
        digits[i][k] = '\0';
        char ev[32];
        snprintf(ev, sizeof(ev), "pii-%d", i);
        Lastmile__V1__LeadSubmitted l = LASTMILE__V1__LEAD_SUBMITTED__INIT;
        l.event_id = ev;
        l.source = (char *)"web_form";
        l.email = emails[i];
        l.full_name = names[i];
        l.company = (char *)"Quux GmbH";
        l.title = (char *)"Director of IT";
        l.company_size = 80;
        l.country = (char *)"DE";
        l.phone = phones[i];
        l.submitted_at_ms = lm_clock_real_ms();
        fixture_produce(&fx, LM_TOPIC_INTAKE, emails[i], &l.base);
    }
    fixture_flush(&fx);
    int done = market_until(&m, all_closed, 300000);
    settle(&m);
    cr_expect(done, "not every lead closed");
    check_once(&m, PII_PEOPLE + PII_PHONES, 10 + PII_BADPHON, "pii run");

    /* every worker log, searched for every test lead's values */
    size_t leaks = 0, searched = 0;
    for (int i = 0; i < PII_PHONES + PII_BADPHON; i++) {
        const char *vals[] = {emails[i], phones[i], digits[i], names[i]};
        for (size_t k = 0; k < 4; k++) {
            size_t n = count_in_logs(vals[k]);
            searched++;
            if (n) {
                printf("pii: \"%s\" appears %zu time(s) in the worker logs\n",
                       vals[k], n);
                leaks += n;
            }
        }
    }
    for (int i = 0; i < PII_PEOPLE + 10; i++) {
        char email[64], name[32];
        int person = 30 * 1000000 + i;
        snprintf(email, sizeof(email), "person%d@company%d.example.com", person,
                 person % 97);
        snprintf(name, sizeof(name), "Person %d", person);
        size_t n = count_in_logs(email) + count_in_logs(name);
        searched += 2;
        if (n)
            printf("pii: \"%s\"/\"%s\" appear %zu time(s)\n", email, name, n);
        leaks += n;
    }
    size_t log_bytes = 0;
    for (int w = 0; w < N_WORKERS; w++) {
        char path[512];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s.log", fx.dir, worker_names[w]);
        free(slurp(path, &len));
        log_bytes += len;
    }
    printf("pii: %zu values searched in %zu bytes of worker logs: %zu "
           "occurrence(s)\n",
           searched, log_bytes, leaks);
    /* the search means something only over logs that hold what could leak:
       the dead letters of the bad phone numbers, reasons included */
    cr_assert_gt(log_bytes, 0, "the worker logs are empty");
    cr_assert(fixture_log_has(&fx, "intake", "dead_letter", 0),
              "no dead letter in intake's log: nothing that could leak "
              "was searched");
    /* BUG (report: intake echoes an invalid phone number into the dead
       letter reason, which the runtime logs) when this fails on phones */
    cr_expect_eq(leaks, 0, "BUG: %zu occurrence(s) of lead PII in the logs",
                 leaks);
    market_free(&m);
}
