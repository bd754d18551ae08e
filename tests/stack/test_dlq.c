/* test_dlq.c — `lastmile dlq replay` on the embedded stack: a fixed input
 * is decided once.
 *   dlq.replay_of_a_fixed_input_decides_it_once: a person's second
 *     submission, whose merge Redis refuses (the first lead's hash made a
 *     string), is dead-lettered by intake; the key fixed, `lastmile dlq
 *     replay --worker intake` puts it back and intake merges it (its done
 *     record held only the dead letter: a replay is decided again) —
 *     merged once; the same replay again skips it (the replay record), and
 *     a forced replay finds the new done record: merged once by it (a
 *     third submission after it makes two), and one LeadAccepted. Every replay
 * lands on the partition murmur2 of its key names, as the runtime and Kafka's
 *     Java client place keys (before, the tool's producer used
 *     librdkafka's default, CRC32, and put a lead's replayed event on
 *     another partition than its others). (The webhook's dead letters are
 *     replayed in test_webhook.c.) */
#include "stack_fixture.h"

#include "lm_lead.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EMAIL       "replay@example.com"
#define EVENT_FIRST "ev-replay-0" /* accepted: the person's lead */
#define EVENT       "ev-replay-1" /* merged into it */
#define EVENT_LAST  "ev-replay-2" /* merged after the replays */
#define PARTITIONS  4

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

static void redis_cmd(const char *cmd, const char *key) {
    redisContext *c = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(c && !c->err);
    freeReplyObject(redisCommand(c, cmd, key));
    redisFree(c);
}

/* Runs `lastmile dlq ARGS` (its output into out); the exit code. */
static int dlq(char *out, size_t outsz, const char *args) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/cli/lastmile dlq %s 2>&1", LM_BINARY_DIR,
             args);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, outsz - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t n_dead;
static void on_dead(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    Lastmile__V1__DeadLetter *d =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    cr_assert(d);
    n_dead += strcmp(d->worker, "intake") == 0;
    lastmile__v1__dead_letter__free_unpacked(d, NULL);
}

/* The partitions of the records keyed EMAIL on lastmile.intake. */
static int32_t on_partition[8];
static size_t n_keyed;
static void on_intake(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    if (rkm->key_len == strlen(EMAIL) &&
        memcmp(rkm->key, EMAIL, rkm->key_len) == 0 && n_keyed < 8)
        on_partition[n_keyed++] = rkm->partition;
}

static char lead[LM_LEAD_ID_MAX];
static size_t n_accepted;
static void on_accepted(void *opaque, const rd_kafka_message_t *rkm) {
    (void)opaque;
    Lastmile__V1__LeadAccepted *a =
        lastmile__v1__lead_accepted__unpack(NULL, rkm->len, rkm->payload);
    cr_assert(a);
    n_accepted += strcmp(a->lead_id, lead) == 0;
    lastmile__v1__lead_accepted__free_unpacked(a, NULL);
}

/* The lead's merge count (HGET merged), 0 when none. */
static long long merged_of(const char *key) {
    redisContext *c = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(c && !c->err);
    redisReply *r = redisCommand(c, "HGET %s merged", key);
    long long n = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* Submits EMAIL's LeadSubmitted with event id `event`. */
static void submit(const char *event) {
    Lastmile__V1__LeadSubmitted l = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    l.event_id = (char *)event;
    l.source = "web_form";
    l.email = EMAIL;
    l.country = "DE";
    l.submitted_at_ms = (int64_t)time(NULL) * 1000;
    cr_assert_eq(fixture_produce(&fx, "intake", EMAIL, &l.base), 0);
}

/* Polls until `merged_of(key)` is `want` or 30 s pass; the last count. */
static long long merged_until(const char *key, long long want) {
    long long n = merged_of(key);
    for (int64_t t0 = fixture_mono_ms();
         n != want && fixture_mono_ms() - t0 < fixture_ms(30000);
         n = merged_of(key))
        usleep(100 * 1000);
    return n;
}

Test(dlq, replay_of_a_fixed_input_decides_it_once, .fini = teardown,
     .timeout = 180) {
    cr_assert_eq(fixture_up(&fx, PARTITIONS, 0), 0);
    char person[LM_PERSON_MAX], key[LM_KEY_MAX], out[4096];
    lm_lead_person(EMAIL, person);
    lm_lead_id(person, EVENT_FIRST, lead);
    lm_lead_key(lead, key);
    cr_assert_geq(fixture_start_worker(&fx, "intake"), 0);
    /* the person's first submission is accepted (intake writes no record
       of it: that is qualification's, which does not run here) */
    submit(EVENT_FIRST);
    topic_reader *acc = reader_new(&fx, "qualification");
    for (int64_t t0 = fixture_mono_ms();
         n_accepted == 0 && fixture_mono_ms() - t0 < fixture_ms(30000);)
        reader_drain(acc, 500, on_accepted, NULL);
    cr_assert_eq(n_accepted, 1, "the first submission was not accepted");
    /* the second is merged into it: its HINCRBY fails on a string */
    redis_cmd("SET %s not-a-hash", key);
    submit(EVENT);
    topic_reader *dl = reader_new(&fx, "dlq");
    for (int64_t t0 = fixture_mono_ms();
         n_dead == 0 && fixture_mono_ms() - t0 < fixture_ms(30000);)
        reader_drain(dl, 500, on_dead, NULL);
    reader_free(dl);
    cr_assert_eq(n_dead, 1, "intake did not dead-letter the merge");

    redis_cmd("DEL %s", key); /* fixed */
    cr_assert_eq(dlq(out, sizeof(out), "replay --worker intake"), 0, "%s", out);
    cr_expect(strstr(out, "1 replayed, 0 skipped"), "%s", out);
    cr_assert_eq(merged_until(key, 1), 1, "the replayed merge was not applied");

    cr_assert_eq(dlq(out, sizeof(out), "replay --worker intake"), 0, "%s", out);
    cr_expect(strstr(out, "0 replayed, 1 skipped"), "%s", out);
    cr_assert_eq(dlq(out, sizeof(out), "replay --worker intake --force"), 0,
                 "%s", out);
    cr_expect(strstr(out, "1 replayed"), "%s", out);
    cr_expect(fixture_log_has(&fx, "intake", "\"event\":\"replayed\"", 1),
              "intake did not log the replay");
    /* a merge has no output to read back (no "recovered" line): a third
       submission on the same partition, after the forced replay, shows
       that the replay found its done record — merged twice, not three
       times */
    submit(EVENT_LAST);
    cr_expect_eq(merged_until(key, 2), 2, "the forced replay merged again");
    reader_drain(acc, 2000, on_accepted, NULL);
    reader_free(acc);
    cr_expect_eq(n_accepted, 1, "accepted %zu times", n_accepted);
    cr_expect_eq(merged_of(key), 2, "merged %lld times", merged_of(key));

    /* the submissions and the two replays, each on murmur2's partition */
    int32_t want = rd_kafka_msg_partitioner_murmur2(NULL, EMAIL, strlen(EMAIL),
                                                    PARTITIONS, NULL, NULL);
    cr_assert_neq(rd_kafka_msg_partitioner_consistent(
                      NULL, EMAIL, strlen(EMAIL), PARTITIONS, NULL, NULL),
                  want, "EMAIL must tell the two partitioners apart");
    topic_reader *in = reader_new(&fx, "intake");
    reader_drain(in, 2000, on_intake, NULL);
    reader_free(in);
    cr_expect_eq(n_keyed, 5, "the three submissions and two replays");
    for (size_t i = 0; i < n_keyed; i++)
        cr_expect_eq(on_partition[i], want,
                     "record %zu on partition %d, murmur2 names %d", i,
                     (int)on_partition[i], (int)want);
}
