/* test_timer_sweep.c — durable timers (lm_timers) on the embedded stack:
 *   timers.armed_by_followup_cancelled_by_timing: each touch arms its
 *     lead's response timer (member "<lead>|response|<step>|<segment>",
 *     score the due time, in the documented key); the answer closes the
 *     lead and cancels it (timing names the member from the lead's step
 *     and segment): no response timer is left in the set, nothing is
 *     claimed (the hand-offs' owner deadlines stay: test_owner_deadlines);
 *   timers.sweep_fires_claims_and_drops_what_it_cannot: seeded in Redis
 *     before timing starts: a due timer fires as the TimerFired of today,
 *     a claim whose lease ran out (its sweeper died) fires again with its
 *     own due time, a timer not yet due and a claim still leased stay, an
 *     unreadable claim and a kind timing does not know are dropped and
 *     logged;
 *   timers.sweeper_killed_after_produce_fires_once: a sweeper that dies
 *     between producing and acknowledging leaves its claim; the next one
 *     reads back and writes the TimerFired no second time. */
#include "market.h"

#include "lm_lead.h"
#include "lm_timers.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

static redisContext *redis(void) {
    redisContext *c = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(c && !c->err, "redis connect");
    return c;
}

/* Every member of the timer sets (pending) and claims. */
static void timer_counts(long long *pending, long long *claimed) {
    redisContext *c = redis();
    *pending = *claimed = 0;
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
        char set[LM_TIMERS_KEY_MAX], cl[LM_TIMERS_KEY_MAX];
        lm_timers_key(b, "", set);
        lm_timers_key(b, ":claimed", cl);
        redisReply *r = redisCommand(c, "ZCARD %s", set);
        *pending += r ? r->integer : 0;
        freeReplyObject(r);
        r = redisCommand(c, "ZCARD %s", cl);
        *claimed += r ? r->integer : 0;
        freeReplyObject(r);
    }
    redisFree(c);
}

/* Pending response timers (the hand-offs' owner deadlines stay armed
 * after the leads close: the owners still owe first contact). */
static long long response_pending(void) {
    redisContext *c = redis();
    long long n = 0;
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
        char set[LM_TIMERS_KEY_MAX];
        lm_timers_key(b, "", set);
        redisReply *z = redisCommand(c, "ZRANGE %s 0 -1", set);
        for (size_t i = 0; z && i < z->elements; i++)
            n += strstr(z->element[i]->str, "|response|") != NULL;
        freeReplyObject(z);
    }
    redisFree(c);
    return n;
}

static int all_decided(const market *m) {
    return m->decisions.n >= 6 &&
           m->actions.n >= m->decisions.n - m->outcomes.n;
}

static int all_closed(const market *m) {
    return m->decisions.n >= 6 && m->outcomes.n >= m->decisions.n;
}

Test(timers, armed_by_followup_cancelled_by_timing, .fini = teardown,
     .timeout = 240) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    market m;
    market_init(&m, &fx, 1.0); /* the market answers every first touch */
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    cr_assert_geq(fixture_start_worker(&fx, "followup"), 0);
    market_submit(&m, 6, 0, 0, 77);
    cr_assert(market_until(&m, all_decided, 90000), "%zu decided, %zu acted on",
              m.decisions.n, m.actions.n);
    size_t touched = m.decisions.n - m.outcomes.n; /* not disqualified */
    cr_assert_gt(touched, 0, "every lead disqualified: pick another seed");

    /* timing is not running: every touched lead has its timer armed */
    redisContext *c = redis();
    size_t armed = 0;
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
        char set[LM_TIMERS_KEY_MAX];
        lm_timers_key(b, "", set);
        redisReply *z = redisCommand(c, "ZRANGE %s 0 -1 WITHSCORES", set);
        cr_assert(z && z->type == REDIS_REPLY_ARRAY);
        for (size_t i = 0; i + 1 < z->elements; i += 2) {
            const char *member = z->element[i]->str;
            lm_timer t;
            cr_assert_eq(
                lm_timers_decode(member, z->element[i]->len,
                                 strtoll(z->element[i + 1]->str, NULL, 10), &t),
                0, "%s", member);
            cr_expect_str_eq(t.kind, LM_LEAD_TIMER_RESPONSE);
            cr_expect_eq(lm_timers_bucket(t.lead), b, "%s", t.lead);
            cr_expect_gt(t.due_ms, (int64_t)time(NULL) * 1000,
                         "%s: due already", member);
            int step;
            char seg[128];
            cr_expect_eq(lm_lead_timer_payload_parse(t.payload, t.payload_len,
                                                     &step, seg, sizeof(seg)),
                         0, "%s: payload %s", member, t.payload);
            cr_expect_eq(step, 0);
            cr_expect_gt(strlen(seg), 0, "%s: no segment", member);
            armed++;
        }
        freeReplyObject(z);
    }
    redisFree(c);
    cr_expect_eq(armed, touched, "%zu timers armed for %zu touched leads",
                 armed, touched);

    /* the answers close every lead: their timers are cancelled */
    cr_assert_geq(fixture_start_worker(&fx, "timing"), 0);
    cr_assert(market_until(&m, all_closed, 90000), "%zu of %zu closed",
              m.outcomes.n, m.decisions.n);
    long long pending = -1, claimed = -1;
    int64_t deadline = fixture_mono_ms() + fixture_ms(10000);
    do {
        market_pump(&m, 200);
        timer_counts(&pending, &claimed);
        pending = response_pending();
    } while ((pending || claimed) && fixture_mono_ms() < deadline);
    printf("timers: %zu armed by followup for %zu touched leads; after the "
           "answers: %lld pending, %lld claimed\n",
           armed, touched, pending, claimed);
    cr_expect_eq(pending, 0, "timers left for closed leads: a cancel missed");
    cr_expect_eq(claimed, 0);
    market_free(&m);
}

/* Arms t as followup would: its member, scored with its due time. */
static void seed_timer(redisContext *c, const lm_timer *t) {
    char member[LM_TIMERS_MEMBER_MAX], set[LM_TIMERS_KEY_MAX];
    size_t mlen;
    cr_assert_eq(lm_timers_encode(t, member, &mlen), 0);
    lm_timers_key(lm_timers_bucket(t->lead), "", set);
    freeReplyObject(redisCommand(c, "ZADD %s %lld %b", set,
                                 (long long)t->due_ms, member, mlen));
}

/* Puts a claim (bytes) with this lease end into lead's bucket. */
static void seed_claim(redisContext *c, const char *lead, const char *claim,
                       size_t len, int64_t lease_end) {
    char cl[LM_TIMERS_KEY_MAX];
    lm_timers_key(lm_timers_bucket(lead), ":claimed", cl);
    freeReplyObject(redisCommand(c, "ZADD %s %lld %b", cl, (long long)lease_end,
                                 claim, len));
}

static lm_timer timer(const char *lead, const char *kind, int64_t due,
                      const char *payload) {
    lm_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.lead, sizeof(t.lead), "%s", lead);
    snprintf(t.kind, sizeof(t.kind), "%s", kind);
    t.due_ms = due;
    t.payload_len = strlen(payload);
    memcpy(t.payload, payload, t.payload_len);
    return t;
}

typedef struct fired {
    char id[8][256];
    Lastmile__V1__TimerFired tf[8];
    size_t n;
} fired;

static void on_timing(void *opaque, const rd_kafka_message_t *rkm) {
    fired *f = opaque;
    Lastmile__V1__TimingEvent *e =
        lastmile__v1__timing_event__unpack(NULL, rkm->len, rkm->payload);
    cr_assert(e && e->event_case ==
                       LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED,
              "not a TimerFired on lastmile.timing");
    cr_assert_lt(f->n, 8, "too many timers fired");
    cr_assert_eq(rkm->key_len, strlen(e->timer_fired->lead_id));
    cr_assert_eq(memcmp(rkm->key, e->timer_fired->lead_id, rkm->key_len), 0,
                 "keyed by another lead");
    snprintf(f->id[f->n], sizeof(f->id[0]), "%s", e->timer_fired->timer_id);
    f->tf[f->n] = *e->timer_fired;
    f->tf[f->n].timer_id = f->id[f->n];
    f->tf[f->n].lead_id = f->tf[f->n].action_id = NULL;
    lastmile__v1__timing_event__free_unpacked(e, NULL);
    f->n++;
}

static const Lastmile__V1__TimerFired *find(const fired *f, const char *id) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->id[i], id) == 0)
            return &f->tf[i];
    return NULL;
}

#define DUE_A "0000000000000001-0000000a"
#define DIED  "0000000000000002-0000000b"
#define LATER "0000000000000003-0000000c"
#define HELD  "0000000000000004-0000000d"
#define OTHER "0000000000000005-0000000e"

Test(timers, sweep_fires_claims_and_drops_what_it_cannot, .fini = teardown,
     .timeout = 180) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    int64_t now = (int64_t)time(NULL) * 1000; /* real time (scale 0) */
    redisContext *c = redis();
    lm_timer due =
        timer(DUE_A, LM_LEAD_TIMER_RESPONSE, now - 5000, "1|EMEA/mid");
    seed_timer(c, &due);
    lm_timer later =
        timer(LATER, LM_LEAD_TIMER_RESPONSE, now + 3600000, "0|EMEA/mid");
    seed_timer(c, &later);
    lm_timer other = timer(OTHER, "owner_deadline", now - 1000, "x");
    seed_timer(c, &other);
    /* claims as a sweep leaves them: "<due>|<member>" */
    const char died[] = "1700000000000|" DIED "|response|0|APAC/small";
    seed_claim(c, DIED, died, strlen(died), now - 1000); /* lease ran out */
    const char held[] = "1700000000000|" HELD "|response|0|APAC/small";
    seed_claim(c, HELD, held, strlen(held), now + 3600000); /* still held */
    const char junk[] = "not|a claim"; /* no due: unreadable */
    seed_claim(c, DIED, junk, strlen(junk), now - 1000);
    redisFree(c);

    cr_assert_geq(fixture_start_worker(&fx, "timing"), 0);
    fired f = {.n = 0};
    topic_reader *r = reader_new(&fx, "timing");
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    while (f.n < 2 && fixture_mono_ms() < deadline)
        reader_drain(r, 200, on_timing, &f);
    /* a few more sweeps: nothing else may fire */
    for (int i = 0; i < 10; i++)
        reader_drain(r, 200, on_timing, &f);
    reader_free(r);

    cr_expect_eq(f.n, 2, "%zu timers fired, want 2", f.n);
    const Lastmile__V1__TimerFired *a = find(&f, DUE_A ":timer:1|EMEA/mid");
    cr_assert_not_null(a, "the due timer did not fire");
    cr_expect_eq(a->step, 1);
    cr_expect_eq(a->due_at_ms, now - 5000);
    cr_expect_geq(a->fired_at_ms, now - 5000);
    const Lastmile__V1__TimerFired *d = find(&f, DIED ":timer:0|APAC/small");
    cr_assert_not_null(d, "the claim whose lease ran out did not fire again");
    cr_expect_eq(d->step, 0);
    cr_expect_eq(d->due_at_ms, 1700000000000);
    cr_expect(fixture_log_has(&fx, "timing", "\"timer_malformed\"", 5000),
              "the unreadable claim was not logged");
    cr_expect(fixture_log_has(&fx, "timing", "\"timer_dropped\"", 5000),
              "the unknown kind was not logged");

    long long pending = -1, claimed = -1;
    timer_counts(&pending, &claimed);
    cr_expect_eq(pending, 1, "only the timer not yet due may wait");
    cr_expect_eq(claimed, 1, "only the claim still leased may be left");
    c = redis();
    char cl[LM_TIMERS_KEY_MAX];
    lm_timers_key(lm_timers_bucket(HELD), ":claimed", cl);
    redisReply *z = redisCommand(c, "ZSCORE %s %s", cl, held);
    cr_expect(z && z->type == REDIS_REPLY_STRING, "the held claim is gone");
    freeReplyObject(z);
    redisFree(c);
}

/* Counts the TimerFired messages of one timer id on lastmile.timing. */
typedef struct id_count {
    const char *id;
    size_t n;
} id_count;

static void on_timing_count(void *opaque, const rd_kafka_message_t *rkm) {
    id_count *ic = opaque;
    Lastmile__V1__TimingEvent *e =
        lastmile__v1__timing_event__unpack(NULL, rkm->len, rkm->payload);
    if (e && e->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED &&
        strcmp(e->timer_fired->timer_id, ic->id) == 0)
        ic->n++;
    if (e)
        lastmile__v1__timing_event__free_unpacked(e, NULL);
}

/* The sweeper dies after its messages are on the topic, before it
 * acknowledges the claims: the next sweeper fires the claim again once its
 * lease runs out, reads back where the first one kept its message went,
 * finds it there and does not write it again. Before the sweep kept its
 * places, the timer's TimerFired was on lastmile.timing twice. */
#define ONCE "0000000000000006-0000000f"
Test(timers, sweeper_killed_after_produce_fires_once, .fini = teardown,
     .timeout = 240) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    int64_t now = (int64_t)time(NULL) * 1000;
    redisContext *c = redis();
    lm_timer due = timer(ONCE, LM_LEAD_TIMER_RESPONSE, now - 5000, "2|NA/ent");
    seed_timer(c, &due);
    redisFree(c);
    setenv("LASTMILE_TEST_CRASH_AT", "sweep-after-produce", 1);
    int slot = fixture_start_worker(&fx, "timing");
    unsetenv("LASTMILE_TEST_CRASH_AT");
    cr_assert_geq(slot, 0);
    int status = 0, exited = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while (!exited && fixture_mono_ms() < deadline) {
        exited = waitpid(fx.procs[slot], &status, WNOHANG) == fx.procs[slot];
        usleep(100 * 1000);
    }
    cr_assert(exited && WIFEXITED(status) && WEXITSTATUS(status) == 137,
              "the sweeper did not stop at its crash point");
    fx.procs[slot] = 0;
    long long pending = -1, claimed = -1;
    timer_counts(&pending, &claimed);
    cr_assert_eq(claimed, 1, "the dead sweeper's claim is not left");

    cr_assert_geq(fixture_start_worker(&fx, "timing"), 0);
    id_count ic = {ONCE ":timer:2|NA/ent", 0};
    topic_reader *r = reader_new(&fx, "timing");
    /* the lease is 30 s of real time; then one sweep settles the claim */
    deadline = fixture_mono_ms() + fixture_ms(LM_TIMERS_LEASE_MS + 60000);
    do {
        reader_drain(r, 200, on_timing_count, &ic);
        timer_counts(&pending, &claimed);
    } while (claimed != 0 && fixture_mono_ms() < deadline);
    for (int i = 0; i < 10; i++)
        reader_drain(r, 200, on_timing_count, &ic);
    reader_free(r);
    cr_expect_eq(claimed, 0, "the claim was never acknowledged");
    cr_expect_eq(ic.n, 1, "the timer's TimerFired is on the topic %zu times",
                 ic.n);
    cr_expect(fixture_log_has(&fx, "timing", "\"recovered\"", 5000),
              "the second sweeper did not read back");
    c = redis();
    char placed[LM_TIMERS_KEY_MAX];
    lm_timers_key(lm_timers_bucket(ONCE), ":placed", placed);
    redisReply *h = redisCommand(c, "HLEN %s", placed);
    cr_expect(h && h->type == REDIS_REPLY_INTEGER && h->integer == 0,
              "the claim's places are left behind");
    freeReplyObject(h);
    redisFree(c);
}
