/* test_runtime.c — the shared runtime on the embedded stack, through the
 * intake worker (the simplest one):
 *   runtime.garbage_to_dlq: undecodable bytes and a wrong message type go
 *     to lastmile.dlq with a reason, and the worker goes on;
 *   runtime.sigterm_drains: SIGTERM mid-stream exits 0 after committing;
 *     a restarted worker finishes the rest; every lead accepted once;
 *   runtime.refused_write_dead_letters: a state write Redis refuses
 *     (WRONGTYPE) dead-letters that lead alone; the rest of its batch is
 *     applied and produced;
 *   runtime.redis_oom_holds_the_batch: Redis out of memory holds the batch
 *     (no dead letters) until memory is back. */
#include "market.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include "lm_lead.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

static char last_reason[1024];
static size_t n_dead;

static void on_dead(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    Lastmile__V1__DeadLetter *d =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    cr_assert(d, "a dead letter that does not decode");
    snprintf(last_reason, sizeof(last_reason), "%s", d->reason);
    cr_expect_str_eq(d->worker, "intake");
    cr_expect_str_eq(d->topic, "lastmile.intake");
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
    fixture_flush(&fx);
    /* then a good lead: the worker must go on */
    market m;
    market_init(&m, &fx, 0);
    market_submit(&m, 1, 0, 0, 9);
    topic_reader *dlq = reader_new(&fx, "dlq");
    topic_reader *acc = reader_new(&fx, "qualification");
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while ((n_dead < 1 || n_acc < 1) && fixture_mono_ms() < deadline) {
        reader_drain(dlq, 200, on_dead, NULL);
        reader_drain(acc, 50, on_acc, NULL);
    }
    cr_expect_eq(n_dead, 1);
    cr_expect(strstr(last_reason, "not a valid lastmile.v1.LeadSubmitted"),
              "reason: %s", last_reason);
    cr_expect_eq(n_acc, 1, "the good lead after the garbage was not accepted");
    reader_free(dlq);
    reader_free(acc);
    market_free(&m);
}

static int accepted_all(const market *m) {
    return m->accepted.n >= 2000;
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
       hash is made a string, so the lead's HSET fails inside the batch */
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
    topic_reader *dlq = reader_new(&fx, "dlq");
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    while ((n_dead < 1 || m.accepted.n < 19) && fixture_mono_ms() < deadline) {
        reader_drain(dlq, 200, on_dead, NULL);
        market_pump(&m, 50);
    }
    cr_expect_eq(n_dead, 1, "%zu dead letters", n_dead);
    cr_expect(strstr(last_reason, "state write failed") &&
                  strstr(last_reason, "WRONGTYPE"),
              "reason: %s", last_reason);
    cr_expect_eq(m.accepted.n, 19, "%zu of the 19 other leads accepted",
                 m.accepted.n);
    cr_expect_eq(strset_count(&m.accepted, lead), 0,
                 "the refused lead was accepted too");
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
