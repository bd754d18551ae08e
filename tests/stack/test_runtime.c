/* test_runtime.c — the shared runtime on the embedded stack, through the
 * intake worker (the simplest one):
 *   runtime.garbage_to_dlq: undecodable bytes and a wrong message type go
 *     to lastmile.dlq with a reason, and the worker goes on;
 *   runtime.sigterm_drains: SIGTERM mid-stream exits 0 after committing;
 *     a restarted worker finishes the rest; every lead accepted once;
 *   runtime.refused_write_dead_letters: a state write Redis refuses
 *     (WRONGTYPE; qualification's HSET of the lead, the first write of its
 *     record) dead-letters that lead alone; the rest of its batch is
 *     applied and produced;
 *   runtime.redis_oom_holds_the_batch: Redis out of memory holds the batch
 *     (no dead letters) until memory is back;
 *   runtime.same_lead_twice_in_a_batch (through timing): a lead's answer and
 *     its timer in one batch; the timer waits for the next batch and sees
 *     the lead closed; the deferral shows in /metrics
 *     (lastmile_inputs_deferred_total) and the log ("deferred");
 *   runtime.a_misplaced_input_is_counted (through timing): a keyed record
 *     on another partition than murmur2 of its key names (its producer on
 *     librdkafka's default partitioner) is counted
 *     (lastmile_input_misplaced_total) and logged (input_misplaced), and
 *     decided as any; one on its key's partition is not counted. */
#include "market.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include "lm_devstack.h"
#include "lm_http_get.h"
#include "lm_lead.h"
#include "lm_runtime.h"
#include "lm_sla.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

/* the first two dead letters: why, and which worker and input topic */
static char reasons[2][1024], dead_worker[2][64], dead_topic[2][128];
static size_t n_dead;

static void on_dead(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    Lastmile__V1__DeadLetter *d =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    cr_assert(d, "a dead letter that does not decode");
    if (n_dead < 2) {
        snprintf(reasons[n_dead], sizeof(reasons[n_dead]), "%s", d->reason);
        snprintf(dead_worker[n_dead], sizeof(dead_worker[n_dead]), "%s",
                 d->worker);
        snprintf(dead_topic[n_dead], sizeof(dead_topic[n_dead]), "%s",
                 d->topic);
    }
    n_dead++;
    lastmile__v1__dead_letter__free_unpacked(d, NULL);
}

static size_t n_acc;
static void on_acc(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    (void)rkm;
    n_acc++;
}

Test(runtime, garbage_to_dlq, .fini = teardown, .timeout = 120) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    /* bytes that are no protobuf at all */
    char topic[64] = "lastmile.intake";
    const char garbage[] = "\xff\xff\xff\xff not protobuf";
    rd_kafka_producev(fx.producer, RD_KAFKA_V_TOPIC(topic),
                      RD_KAFKA_V_VALUE((void *)garbage, sizeof(garbage)),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    /* a lead whose name is not UTF-8: proto3 strings must be, and
       consumers in other languages cannot parse it downstream */
    Lastmile__V1__LeadSubmitted bad = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    bad.event_id = "bad-utf8";
    bad.source = "web";
    bad.email = "jose@example.com";
    bad.full_name = "Jos\xc3\x28 \xff\xfe";
    bad.country = "ES";
    bad.submitted_at_ms = 1767225600000LL;
    size_t blen;
    uint8_t *bval = lm_pb_pack(&bad.base, &blen);
    rd_kafka_producev(fx.producer, RD_KAFKA_V_TOPIC(topic),
                      RD_KAFKA_V_VALUE(bval, blen),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    free(bval);
    fixture_flush(&fx);
    /* then a good lead: the worker must go on */
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 1, 0, 0, 9);
    topic_reader *dlq = reader_new(&fx, "dlq");
    topic_reader *acc = reader_new(&fx, "qualification");
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while ((n_dead < 2 || n_acc < 1) && fixture_mono_ms() < deadline) {
        reader_drain(dlq, 200, on_dead, NULL);
        reader_drain(acc, 50, on_acc, NULL);
    }
    cr_expect_eq(n_dead, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_expect_str_eq(dead_worker[i], "intake");
        cr_expect_str_eq(dead_topic[i], "lastmile.intake");
    }
    /* unkeyed, the two may land on either partition: in either order */
    int garbage_first = strstr(reasons[0], "not a valid") != NULL;
    const char *undecodable = reasons[garbage_first ? 0 : 1];
    const char *not_utf8 = reasons[garbage_first ? 1 : 0];
    cr_expect(strstr(undecodable, "not a valid lastmile.v1.LeadSubmitted"),
              "reason: %s", undecodable);
    cr_expect(strstr(not_utf8, "full_name: not valid UTF-8"), "reason: %s",
              not_utf8);
    cr_expect_eq(n_acc, 1, "the good lead after the garbage was not accepted");
    reader_free(dlq);
    reader_free(acc);
    market_free(&m);
}

static int accepted_all(const market *m) {
    return m->accepted.n >= 2000;
}

/* Issue 14, item 11: a wrong broker address ended a worker after ~10 s
 * with "topic … is not available; create it", hiding the real cause. */
Test(runtime, a_broker_that_never_answers_is_named, .fini = teardown,
     .timeout = 120) {
    cr_assert_eq(fixture_up(&fx, 1, 0), 0);
    char *brokers = strdup(getenv("LASTMILE_BROKERS"));
    setenv("LASTMILE_BROKERS", "127.0.0.1:1", 1); /* a closed loopback port */
    int slot = fixture_start_worker(&fx, "intake");
    setenv("LASTMILE_BROKERS", brokers, 1);
    free(brokers);
    cr_assert_geq(slot, 0);
    cr_expect(fixture_log_has(&fx, "intake", "no broker answered", 60000),
              "the worker did not say that no broker answered");
    cr_expect(fixture_log_has(&fx, "intake", "LASTMILE_BROKERS=127.0.0.1:1", 0),
              "the address it tried is not named");
    cr_expect(fixture_log_has(&fx, "intake", "Connection refused", 0),
              "the client's own error is not given");
    cr_expect(!fixture_log_has(&fx, "intake", "create it", 0),
              "it still blames a missing topic");
}

Test(runtime, sigterm_drains, .fini = teardown, .timeout = 300) {
    cr_assert_eq(fixture_up(&fx, 4, 0), 0);
    int slot = fixture_start_worker(&fx, "intake");
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 1000, 0, 0, 11);
    market_pump(&m, 300);
    int status = fixture_stop_worker(&fx, slot, SIGTERM);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "SIGTERM: exit status %d, want a clean 0", status);
    market_submit(&m, 1000, 0, 0, 12);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    market_until(&m, accepted_all, 120000);
    for (int i = 0; i < 3; i++)
        market_pump(&m, 200);
    cr_expect_eq(m.accepted.n, 2000, "accepted %zu of 2000", m.accepted.n);
    cr_expect_eq(m.accepted.dups, 0, "%zu accepted twice", m.accepted.dups);
    market_free(&m);
}

Test(runtime, refused_write_dead_letters, .fini = teardown, .timeout = 120) {
    cr_assert_eq(fixture_up(&fx, 1, 0), 0);
    /* the first person market_submit(.., 20, 0, 0, 31) sends: its lead
       hash is made a string, so qualification's HSET of the lead fails
       inside its batch (intake writes no record of it) */
    char person[LM_PERSON_MAX], lead[LM_LEAD_ID_MAX], key[LM_KEY_MAX];
    char email[64];
    snprintf(email, sizeof(email), "person%d@company%d.example.com", 31000000,
             31000000 % 97);
    lm_lead_person(email, person);
    lm_lead_id(person, "ev-31000000-0", lead);
    lm_lead_key(lead, key);
    redisContext *c = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(c && !c->err);
    freeReplyObject(redisCommand(c, "SET %s not-a-hash", key));
    redisFree(c);
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 20, 0, 0, 31);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    topic_reader *dlq = reader_new(&fx, "dlq");
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while ((n_dead < 1 || m.decisions.n < 19) && fixture_mono_ms() < deadline) {
        reader_drain(dlq, 200, on_dead, NULL);
        market_pump(&m, 50);
    }
    cr_expect_eq(n_dead, 1, "%zu dead letters", n_dead);
    cr_expect_str_eq(dead_worker[0], "qualification");
    cr_expect_str_eq(dead_topic[0], "lastmile.qualification");
    cr_expect(strstr(reasons[0], "state write failed") &&
                  strstr(reasons[0], "WRONGTYPE"),
              "reason: %s", reasons[0]);
    cr_expect_eq(m.accepted.n, 20, "%zu of 20 leads accepted", m.accepted.n);
    cr_expect_eq(m.decisions.n, 19, "%zu of the 19 other leads decided",
                 m.decisions.n);
    cr_expect_eq(strset_count(&m.decisions, lead), 0,
                 "the refused lead was decided too");
    reader_free(dlq);
    market_free(&m);
}

/* CONFIG SET name value; asserts Redis said OK. */
static void redis_config_set(const char *name, const char *value) {
    redisContext *c = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(c && !c->err);
    redisReply *r = redisCommand(c, "CONFIG SET %s %s", name, value);
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "CONFIG SET %s %s: %s", name,
              value, r && r->str ? r->str : "no reply");
    freeReplyObject(r);
    redisFree(c);
}

static int accepted_1(const market *m) {
    return m->accepted.n >= 1;
}

static int accepted_50(const market *m) {
    return m->accepted.n >= 50;
}

/* Redis out of memory says "not now": the batch is held, nothing is
 * dead-lettered, and it goes through once memory is back. */
Test(runtime, redis_oom_holds_the_batch, .fini = teardown, .timeout = 180) {
    cr_assert_eq(fixture_up(&fx, 1, 0), 0);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 1, 0, 0, 41); /* the worker is up and has a batch */
    market_until(&m, accepted_1, 30000);
    cr_assert_eq(m.accepted.n, 1);
    redis_config_set("maxmemory-policy", "noeviction");
    redis_config_set("maxmemory", "1");
    market_submit(&m, 49, 0, 0, 42);
    /* the worker has met the refusal: from now on it holds the batch */
    cr_assert(fixture_log_has(&fx, "intake", "OOM", 30000),
              "the worker never logged Redis's OOM refusal");
    for (int i = 0; i < 5; i++)
        market_pump(&m, 200);
    size_t held = m.accepted.n, dead = m.dlq;
    redis_config_set("maxmemory", "0");
    market_until(&m, accepted_50, 60000);
    for (int i = 0; i < 3; i++)
        market_pump(&m, 200);
    printf("redis OOM: %zu accepted while out of memory, %zu dead letters; "
           "%zu accepted after\n",
           held - 1, dead, m.accepted.n);
    cr_expect_eq(held, 1, "%zu leads accepted while Redis was out of memory",
                 held - 1);
    cr_expect_eq(m.dlq, 0, "%zu dead letters for a Redis that said not now",
                 m.dlq);
    cr_expect_eq(m.accepted.n, 50, "%zu of 50 accepted after", m.accepted.n);
    cr_expect_eq(m.accepted.dups, 0);
    market_free(&m);
}

/* ======================== two inputs for one lead in one batch (timing) */

#define SAME_LEADS 20

static int acted_all(const market *m) {
    return m->decisions.n >= SAME_LEADS &&
           m->actions.n >= m->decisions.n - m->outcomes.n;
}

typedef struct first_touches {
    char lead[SAME_LEADS][128], action[SAME_LEADS][160];
    size_t n;
} first_touches;

static void on_first_touch(void *opaque, const rd_kafka_message_t *rkm) {
    first_touches *ft = opaque;
    Lastmile__V1__FollowUpAction *a =
        lastmile__v1__follow_up_action__unpack(NULL, rkm->len, rkm->payload);
    if (a && a->kind == LASTMILE__V1__ACTION_KIND__TOUCH && a->step == 0 &&
        ft->n < SAME_LEADS) {
        snprintf(ft->lead[ft->n], sizeof(ft->lead[0]), "%s", a->lead_id);
        snprintf(ft->action[ft->n], sizeof(ft->action[0]), "%s", a->action_id);
        ft->n++;
    }
    if (a)
        lastmile__v1__follow_up_action__free_unpacked(a, NULL);
}

static size_t n_next_touches;
static void on_followup_event(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    Lastmile__V1__FollowUpEvent *e =
        lastmile__v1__follow_up_event__unpack(NULL, rkm->len, rkm->payload);
    if (e && e->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH)
        n_next_touches++;
    if (e)
        lastmile__v1__follow_up_event__free_unpacked(e, NULL);
}

/* timing's own SlotFreed on its input topic (a sale that freed its
 * owner's slot announces it: workers/timing/timing_queue.h) */
static size_t n_slots_freed;
static void on_timing_event(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    Lastmile__V1__TimingEvent *e =
        lastmile__v1__timing_event__unpack(NULL, rkm->len, rkm->payload);
    if (e && e->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_SLOT_FREED)
        n_slots_freed++;
    if (e)
        lastmile__v1__timing_event__free_unpacked(e, NULL);
}

static size_t responded;
static int responded_all(const market *m) {
    return m->n_converted_outcomes >= responded;
}

/* The offset worker `group` (a worker name) has committed on partition 0
 * of its input topic `topic`, or -1. Asks the group coordinator without
 * joining the group. */
static int64_t committed_offset(const char *group, const char *topic) {
    const char *prefix = getenv("LASTMILE_TOPIC_PREFIX");
    char g[128], t[128], err[256];
    snprintf(g, sizeof(g), "%s%s", prefix ? prefix : "lastmile.", group);
    snprintf(t, sizeof(t), "%s%s", prefix ? prefix : "lastmile.", topic);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", fx.st.brokers, err,
                      sizeof(err));
    rd_kafka_conf_set(conf, "group.id", g, err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    cr_assert(rk, "%s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, t, 0);
    int64_t off = -1;
    if (rd_kafka_committed(rk, l, 5000) == 0 && !l->elems[0].err)
        off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off;
}

/* Starts `worker` with /metrics on a free port (into *port). */
static void start_with_metrics(const char *worker, int *port) {
    char addr[64];
    *port = lm_devstack_free_port();
    cr_assert_gt(*port, 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", *port);
    setenv("LASTMILE_METRICS_ADDR", addr, 1);
    int slot = fixture_start_worker(&fx, worker);
    unsetenv("LASTMILE_METRICS_ADDR");
    cr_assert_geq(slot, 0, "%s did not start", worker);
}

/* The value of the series `series` (name and labels, as exposed) in the
 * /metrics of the worker on 127.0.0.1:port, or -1 when it is not there. */
static double scrape_series(int port, const char *series) {
    lm_http_get_reply r;
    char err[256];
    double v = -1;
    if (lm_http_get("127.0.0.1", port, "/metrics", 5000, &r, err,
                    sizeof(err)) != 0)
        return -1;
    size_t sl = strlen(series);
    for (const char *l = r.status == 200 ? r.body : NULL; l && *l;
         l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, series, sl) == 0 && l[sl] == ' ') {
            char *end = NULL;
            double x = strtod(l + sl + 1, &end);
            v = end != l + sl + 1 ? x : -1;
            break;
        }
    lm_http_get_free(&r);
    return v;
}

/* A lead's answer and its first step's timer land in one batch of timing,
 * answer first. Decided from the same reads, the timer would still see the
 * lead open at step 0 and schedule step 1: a touch for a lead that has
 * answered (and, at a last step, a second outcome: seen in faults.chaos).
 * The runtime leaves the timer for the next batch, which sees the lead
 * closed; a second answer after it, left twice, finds the lead closed too
 * (a late response), which shows every input left for later was handled. */
Test(runtime, same_lead_twice_in_a_batch, .fini = teardown, .timeout = 180) {
    cr_assert_eq(fixture_up(&fx, 1, 0), 0);
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, SAME_LEADS, 0, 0, 41);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    cr_assert_geq(fixture_start_worker(&fx, "followup"), 0);
    cr_assert(market_until(&m, acted_all, 60000), "%zu decided, %zu acted on",
              m.decisions.n, m.actions.n);
    first_touches ft = {0};
    topic_reader *actions = reader_new(&fx, "actions");
    reader_drain(actions, 1000, on_first_touch, &ft);
    reader_free(actions);
    cr_assert_gt(ft.n, 0, "no first touch");

    /* timing is not running yet: every pair waits in one partition */
    int64_t now = (int64_t)time(NULL) * 1000; /* real time (scale 0) */
    for (size_t i = 0; i < ft.n; i++) {
        char ev[200], timer[200];
        snprintf(ev, sizeof(ev), "answer-%s", ft.lead[i]);
        snprintf(timer, sizeof(timer), "%s:timer:0", ft.lead[i]);
        Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
        r.event_id = ev;
        r.lead_id = ft.lead[i];
        /* a sale closes the lead at once (a reply would hand it off and
           keep it open for its deal) */
        r.kind = LASTMILE__V1__RESPONSE_KIND__CONVERTED;
        r.deal_value_cents = 100000;
        r.action_id = ft.action[i];
        Lastmile__V1__TimingEvent a = LASTMILE__V1__TIMING_EVENT__INIT;
        a.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
        a.response = &r;
        cr_assert_eq(fixture_produce(&fx, "timing", ft.lead[i], &a.base), 0);
        Lastmile__V1__TimerFired t = LASTMILE__V1__TIMER_FIRED__INIT;
        t.timer_id = timer;
        t.lead_id = ft.lead[i];
        t.step = 0;
        t.due_at_ms = now;
        t.fired_at_ms = now;
        t.action_id = ft.action[i];
        Lastmile__V1__TimingEvent b = LASTMILE__V1__TIMING_EVENT__INIT;
        b.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
        b.timer_fired = &t;
        cr_assert_eq(fixture_produce(&fx, "timing", ft.lead[i], &b.base), 0);
        /* a second answer after both: it must find the lead closed */
        snprintf(ev, sizeof(ev), "again-%s", ft.lead[i]);
        cr_assert_eq(fixture_produce(&fx, "timing", ft.lead[i], &a.base), 0);
    }
    responded = ft.n;
    /* timing with /metrics on, to see the deferrals counted */
    int port = 0;
    start_with_metrics("timing", &port);
    market_until(&m, responded_all, 60000);
    int64_t until = fixture_mono_ms() + fixture_ms(60000);
    while (m.late < ft.n && fixture_mono_ms() < until)
        market_pump(&m, 100);
    for (int i = 0; i < 5; i++)
        market_pump(&m, 200);
    topic_reader *fu = reader_new(&fx, "followup");
    reader_drain(fu, 1000, on_followup_event, NULL);
    reader_free(fu);
    /* what was left for later batches was fetched again, handled and
       committed: timing's whole input (two answers and a timer a lead,
       and the SlotFreed its sales announced on the same topic) */
    topic_reader *tr = reader_new(&fx, "timing");
    n_slots_freed = 0;
    reader_drain(tr, 1000, on_timing_event, NULL);
    reader_free(tr);
    /* each sale frees at most its lead's slot (nurture leads hold none) */
    cr_expect_leq(n_slots_freed, ft.n, "%zu slots freed by %zu sales",
                  n_slots_freed, ft.n);
    size_t inputs = 3 * ft.n + n_slots_freed;
    int64_t committed = -1, deadline = fixture_mono_ms() + fixture_ms(30000);
    while ((committed = committed_offset("timing", "timing")) <
               (int64_t)inputs &&
           fixture_mono_ms() < deadline)
        usleep(200000);
    printf("same lead twice in a batch: %zu answers, %zu converted outcomes, "
           "%zu outcomes twice, %zu next touches, %zu late responses, timing "
           "committed %lld of %zu inputs (%zu slots freed)\n",
           ft.n, m.n_converted_outcomes, m.outcomes.dups, n_next_touches,
           m.late, (long long)committed, inputs, n_slots_freed);
    cr_expect_eq(committed, (int64_t)inputs,
                 "timing committed %lld of its %zu inputs",
                 (long long)committed, inputs);
    cr_expect_eq(m.late, ft.n,
                 "%zu late responses for %zu second answers: an input left "
                 "for a later batch was not handled",
                 m.late, ft.n);
    cr_expect_eq(m.n_converted_outcomes, ft.n, "%zu of %zu answers closed",
                 m.n_converted_outcomes, ft.n);
    cr_expect_eq(m.outcomes.dups, 0, "%zu outcomes twice", m.outcomes.dups);
    cr_expect_eq(n_next_touches, 0,
                 "%zu next touches scheduled for leads that had answered",
                 n_next_touches);
    /* and the runtime says it left input for later (a runtime that
       decided a lead's inputs together would count 0; the checks above
       catch what it decided) */
    double deferred = scrape_series(
        port, "lastmile_inputs_deferred_total{worker=\"timing\"}");
    printf("same lead twice in a batch: %.0f inputs deferred\n", deferred);
    cr_expect_gt(deferred, 0,
                 "lastmile_inputs_deferred_total of timing is %.0f (-1: not "
                 "in /metrics): no input was left for a later batch",
                 deferred);
    cr_expect(fixture_log_has(&fx, "timing", "\"event\":\"deferred\"", 0),
              "no \"deferred\" line in timing's log");
    market_free(&m);
}

/* Issue 14, item 13: an exact duplicate input (the same event published
 * twice) was counted in no metric. */
Test(runtime, an_exact_duplicate_is_counted, .fini = teardown, .timeout = 120) {
    cr_assert_eq(fixture_up(&fx, 1, 0), 0);
    int port = 0;
    start_with_metrics("intake", &port);
    Lastmile__V1__LeadSubmitted in = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    in.event_id = "twice-1";
    in.source = "web";
    in.email = "twice@example.com";
    in.country = "US";
    in.submitted_at_ms = (int64_t)time(NULL) * 1000;
    cr_assert_eq(fixture_produce(&fx, "intake", "twice-1", &in.base), 0);
    cr_assert_eq(fixture_produce(&fx, "intake", "twice-1", &in.base), 0);
    const char *series = "lastmile_inputs_seen_before_total{worker=\"intake\"}";
    double seen = -1;
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while ((seen = scrape_series(port, series)) < 1 &&
           fixture_mono_ms() < deadline)
        usleep(200 * 1000);
    cr_expect_eq(seen, 1, "%s is %.0f (-1: not in /metrics)", series, seen);
    topic_reader *acc = reader_new(&fx, "qualification");
    n_acc = 0;
    reader_drain(acc, 2000, on_acc, NULL);
    reader_free(acc);
    cr_expect_eq(n_acc, 1, "the duplicate was accepted again");
}

/* An owner's AWAY status on lastmile.timing, keyed by the owner, on
 * partition `partition`. */
static void produce_status(const char *owner, int32_t partition) {
    Lastmile__V1__OwnerStatus st = LASTMILE__V1__OWNER_STATUS__INIT;
    char event_id[64];
    snprintf(event_id, sizeof(event_id), "status-%s", owner);
    st.event_id = event_id;
    st.owner = (char *)owner;
    st.status = LASTMILE__V1__OWNER_AVAILABILITY__AWAY;
    st.occurred_at_ms = (int64_t)time(NULL) * 1000;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS;
    ev.owner_status = &st;
    size_t len;
    uint8_t *val = lm_pb_pack(&ev.base, &len);
    cr_assert_eq(rd_kafka_producev(
                     fx.producer, RD_KAFKA_V_TOPIC("lastmile.timing"),
                     RD_KAFKA_V_PARTITION(partition),
                     RD_KAFKA_V_KEY(owner, strlen(owner)),
                     RD_KAFKA_V_VALUE(val, len),
                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    free(val);
}

/* 1 once the owner's state hash says AWAY (timing decided the status). */
static int recorded_away(const char *owner) {
    char key[LM_KEY_MAX];
    lm_sla_state_key(owner, key);
    redisReply *r = fixture_redis_cmd(&fx, "HGET", key, "status", NULL);
    int away =
        r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "AWAY") == 0;
    freeReplyObject(r);
    return away;
}

Test(runtime, a_misplaced_input_is_counted, .fini = teardown, .timeout = 120) {
    enum { PARTITIONS = 4 };
    cr_assert_eq(fixture_up(&fx, PARTITIONS, 0), 0);
    int port = 0;
    start_with_metrics("timing", &port);
    const char *placed = "alex.kim", *misplaced = "sam.ortiz";
    int32_t right = rd_kafka_msg_partitioner_murmur2(
        NULL, placed, strlen(placed), PARTITIONS, NULL, NULL);
    produce_status(placed, right);
    right = rd_kafka_msg_partitioner_murmur2(NULL, misplaced, strlen(misplaced),
                                             PARTITIONS, NULL, NULL);
    produce_status(misplaced, (right + 1) % PARTITIONS);
    fixture_flush(&fx);
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while (!(recorded_away(placed) && recorded_away(misplaced)) &&
           fixture_mono_ms() < deadline)
        usleep(200 * 1000);
    cr_expect(recorded_away(placed) && recorded_away(misplaced),
              "both statuses decided");
    const char *series = "lastmile_input_misplaced_total{worker=\"timing\"}";
    cr_expect_eq(scrape_series(port, series), 1, "%s", series);
    cr_expect(
        fixture_log_has(&fx, "timing", "keyed \\\"sam.ortiz\\\" is on", 10000),
        "the misplaced record is logged with its key");
    cr_expect(!fixture_log_has(&fx, "timing", "keyed \\\"alex.kim\\\"", 0),
              "the placed record is not");
}

/* Lines of intake's log (both replicas append to it) holding needle. */
static int intake_log_count(const char *needle) {
    char path[512], line[8192];
    snprintf(path, sizeof(path), "%s/intake.log", fx.dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* The keys of the largest WATCH in Redis's slow log, which logs every
 * command (slowlog-log-slower-than 0) with at most 32 arguments shown,
 * the last one saying "... (N more arguments)"; *n_watch the WATCHes,
 * *sum their keys. */
static long largest_watch(size_t *n_watch, long *sum) {
    redisReply *r = fixture_redis_cmd(&fx, "SLOWLOG", "GET", "1000000", NULL);
    long max = 0;
    *n_watch = 0;
    *sum = 0;
    cr_assert(r && r->type == REDIS_REPLY_ARRAY, "SLOWLOG GET");
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        const redisReply *a = e->elements > 3 ? e->element[3] : NULL;
        if (!a || a->type != REDIS_REPLY_ARRAY || a->elements < 1 ||
            strcasecmp(a->element[0]->str, "WATCH") != 0)
            continue;
        long keys = (long)a->elements - 1;
        const char *last = a->element[a->elements - 1]->str;
        if (strncmp(last, "... (", 5) == 0)
            keys += strtol(last + 5, NULL, 10) - 1;
        max = keys > max ? keys : max;
        *sum += keys;
        (*n_watch)++;
    }
    freeReplyObject(r);
    return max;
}

static int all_600_accepted(const market *m) {
    return m->accepted.n >= 600;
}

/* runtime.claims_watched_in_bounded_batches: two intake replicas, each
 * holding one of the two partitions, watch each input's claim (neither
 * holds every fence); each batch takes at most 128 inputs
 * (RT_CLAIMS_WATCHED_MAX), whatever LASTMILE_BATCH_MAX says, since a
 * WATCH of N keys costs Redis N²/2 comparisons. Before the cap a backlog
 * of 600 leads was taken in batches of several hundred. */
Test(runtime, claims_watched_in_bounded_batches, .fini = teardown,
     .timeout = 180) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while (intake_log_count("1 partition(s) of") < 2 &&
           fixture_mono_ms() < deadline)
        usleep(100 * 1000);
    cr_assert_geq(intake_log_count("1 partition(s) of"), 2,
                  "the two replicas did not take a partition each");
    cr_expect(fixture_log_has(&fx, "intake", "in batches of at most 128", 0),
              "the replicas do not say they watch each claim");
    const char *const cfg[][2] = {{"slowlog-log-slower-than", "0"},
                                  {"slowlog-max-len", "100000"}};
    for (int i = 0; i < 2; i++) {
        redisReply *r =
            fixture_redis_cmd(&fx, "CONFIG", "SET", cfg[i][0], cfg[i][1], NULL);
        cr_assert(r && r->type == REDIS_REPLY_STATUS, "CONFIG SET %s",
                  cfg[i][0]);
        freeReplyObject(r);
    }
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 600, 0, 0, 31);
    cr_assert(market_until(&m, all_600_accepted, 120000),
              "%zu of 600 leads accepted", m.accepted.n);
    size_t n_watch = 0;
    long sum = 0, largest = largest_watch(&n_watch, &sum);
    printf("claims watched: %zu WATCHes of %ld keys, the largest of %ld\n",
           n_watch, sum, largest);
    /* every lead's claim was watched (not the fences alone, as a replica
       holding both partitions would), and each WATCH names its batch's
       fence too: one per partition */
    cr_expect_geq(sum, 600 + (long)n_watch, "%ld keys watched", sum);
    cr_expect_leq(largest, 128 + 2, "a batch watched %ld keys", largest);
    cr_expect_eq(m.accepted.dups, 0);
    market_free(&m);
}
