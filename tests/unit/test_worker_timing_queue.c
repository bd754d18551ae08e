/* test_worker_timing_queue.c — a freed slot goes to the team's oldest
 * waiting lead (workers/timing/timing_queue.c), through the recorder.
 *
 * The timing worker runs with the built-in config (team na: alex.kim 60,
 * sam.ortiz 60, jordan.blake 40). Each case gives the batch-wide reads
 * (the WATCH of the queues, each team's waiting leads, each owner's load),
 * then closes leads with a REPLIED answer, and checks: the slot goes to
 * the oldest waiting lead by one QualificationDecision (reason
 * "slot_freed", id "<lead>:decision:assigned", the freeing owner), the
 * waiting lead leaves the queue and joins the owner's open set; two
 * closes in a batch take two waiting leads, never one twice; a lead that
 * took no slot (nurture), or an owner still at capacity, frees nothing; a
 * lead closed while it waited leaves the queue; the account's open count
 * falls; a slot of an overflow team takes the waiting leads of the teams
 * that overflow into it; a waiting lead of a company account that takes a
 * slot joins its account (open set, open count, its hash's account), so a
 * colleague's reply pauses it (accounts.pause_on_reply). */
#include "lm_lead.h"
#include "lm_recorder.h"
#include "lm_sla.h"
#include "worker_testutil.h"
#include "timing.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW_MS 1767607200000LL /* 2026-01-05T10:00:00Z, a Monday */
#define OPEN   "lm:{team:na}:open:alex.kim"
#define QUEUE  "lm:{team:na}:unassigned"
#define W1     "1111111111111111-11111111"
#define W2     "2222222222222222-22222222"
#define W3     "3333333333333333-33333333"

static lm_recorder *rec;
static lm_policy *policy;

static void setup(void) {
    rec = worker_test_start(&lm_timing_worker);
    char err[1024] = "";
    policy = lm_policy_load(NULL, err, sizeof(err));
    cr_assert_not_null(policy, "%s", err);
}

static void teardown(void) {
    lm_policy_free(policy);
    worker_test_stop(&lm_timing_worker, rec);
}

TestSuite(worker_timing_queue, .init = setup, .fini = teardown);

/* A waiting lead's pending decision as qualification queues it (packed;
 * no doubles, so no NUL: it passes as a string reply). */
static void pending_at(const char *lead_id, const char *domain, char *out,
                       size_t outsz) {
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = (char *)lead_id;
    l.email_domain = (char *)domain;
    l.country = "US";
    l.timezone = "America/New_York";
    Lastmile__V1__QualificationDecision d =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    char id[LM_ID_MAX];
    snprintf(id, sizeof(id), "%s:decision:assigned", lead_id);
    d.decision_id = id;
    d.lead_id = (char *)lead_id;
    d.kind = LASTMILE__V1__DECISION_KIND__QUALIFIED;
    d.team = "na";
    d.reason = "slot_freed";
    d.decided_at_ms = NOW_MS - 60000;
    d.lead = &l;
    d.segment = "NA/mid";
    size_t n = lastmile__v1__qualification_decision__get_packed_size(&d);
    cr_assert_lt(n, outsz);
    lastmile__v1__qualification_decision__pack(&d, (uint8_t *)out);
    out[n] = '\0';
    cr_assert_eq(strlen(out), n, "the packed decision has a NUL");
}

static void pending(const char *lead_id, char *out, size_t outsz) {
    pending_at(lead_id, "", out, outsz);
}

static char p1[512], p2[512], p3[512];

/* The batch-wide reads: na's queue holds `waiting` (oldest first), and
 * alex.kim's load is `alex`; every other owner 0, other queues empty; no
 * owner has a run-time state but alex.kim AWAY (until BACK) when
 * alex_away. */
static void give_batch_away(const char *const *waiting, size_t n_waiting,
                            long long alex, int alex_away) {
    size_t n = lm_recorder_plan_batch(rec, &lm_timing_worker);
    cr_assert_gt(n, 1);
    const lm_recorded_cmd *w = lm_recorder_batch_planned(rec, 0);
    cr_assert_str_eq(w->argv[0], "WATCH");
    cr_assert_eq((size_t)w->argc, 1 + lm_policy_team_count(policy),
                 "every team's queue is watched");
    lm_recorder_reply_str(rec, "OK");
    for (size_t i = 1; i < n; i++) {
        const lm_recorded_cmd *c = lm_recorder_batch_planned(rec, i);
        if (strcmp(c->argv[0], "ZRANGE") == 0)
            lm_recorder_reply_strs(
                rec, strcmp(c->argv[1], QUEUE) == 0 ? n_waiting : 0, waiting);
        else if (strcmp(c->argv[0], "HMGET") == 0) {
            char alex_state[LM_KEY_MAX];
            lm_sla_state_key("alex.kim", alex_state);
            const char *away[] = {"AWAY", "0"}, *none[] = {NULL, NULL};
            lm_recorder_reply_strs(
                rec, 2,
                alex_away && strcmp(c->argv[1], alex_state) == 0 ? away : none);
        } else if (strcmp(c->argv[1], OPEN) == 0)
            lm_recorder_reply_int(rec, alex);
        else
            lm_recorder_reply_int(rec, 0);
    }
    lm_recorder_begin_batch(rec, &lm_timing_worker);
}

static void give_batch(const char *const *waiting, size_t n_waiting,
                       long long alex) {
    give_batch_away(waiting, n_waiting, alex, 0);
}

/* Closes `lead` (owner alex.kim of na unless owner is NULL) with a
 * NOT_INTERESTED answer (a reply keeps the lead open for its deal), the
 * lead hash saying holds/pending/account. */
static void close_in(const char *team, const char *lead, const char *owner,
                     const char *holds, const char *pend, const char *account) {
    static char event_id[64];
    lm_recorder_reset(rec);
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    snprintf(event_id, sizeof(event_id), "reply-%s", lead);
    r.event_id = event_id;
    r.lead_id = (char *)lead;
    r.kind = LASTMILE__V1__RESPONSE_KIND__NOT_INTERESTED;
    r.occurred_at_ms = NOW_MS - 1000;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    ev.response = &r;
    const char *hash[] = {LM_F_STATUS,   "open",
                          LM_F_STEP,     "0",
                          LM_F_CADENCE,  "qualified",
                          LM_F_TZ,       "UTC",
                          LM_F_OWNER,    owner ? owner : "",
                          LM_F_TEAM,     team,
                          LM_F_SEGMENT,  "NA/mid",
                          LM_F_DECISION, "QUALIFIED",
                          LM_F_HOLDS,    holds,
                          LM_F_PENDING,  pend,
                          LM_F_ACCOUNT,  account,
                          NULL};
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, &ev.base, NOW_MS, hash),
        0);
    lm_recorder_reply_strs(rec, 0, NULL);
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS),
                 0, "%s", lm_recorder_rejected(rec));
    cr_expect_null(lm_recorder_rejected(rec));
}

static void close_one(const char *lead, const char *owner, const char *holds,
                      const char *pend, const char *account) {
    close_in("na", lead, owner, holds, pend, account);
}

/* The slot_freed decision of this close, or NULL (caller frees). */
static Lastmile__V1__QualificationDecision *freed(void) {
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++) {
        const lm_recorded_emit *e = lm_recorder_emit(rec, i);
        if (strcmp(e->topic, LM_TOPIC_FOLLOWUP) != 0)
            continue;
        Lastmile__V1__FollowUpEvent *ev =
            (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
                rec, i, &lastmile__v1__follow_up_event__descriptor);
        cr_assert_not_null(ev);
        if (ev->event_case != LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION) {
            protobuf_c_message_free_unpacked(&ev->base, NULL);
            continue;
        }
        Lastmile__V1__QualificationDecision *d = ev->decision;
        cr_expect_str_eq(e->id, d->decision_id);
        cr_expect_str_eq(e->key, d->lead_id);
        ev->decision = NULL;
        protobuf_c_message_free_unpacked(&ev->base, NULL);
        return d;
    }
    return NULL;
}

/* The index command `cmd` on `key` whose last argument is `last`. */
static int indexed(const char *cmd, const char *key, const char *last) {
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_index(rec, i);
        if (strcmp(c->argv[0], cmd) == 0 && strcmp(c->argv[1], key) == 0 &&
            strcmp(c->argv[c->argc - 1], last) == 0)
            return 1;
    }
    return 0;
}

Test(worker_timing_queue, a_freed_slot_goes_to_the_oldest_waiting_lead) {
    pending(W1, p1, sizeof(p1));
    pending(W2, p2, sizeof(p2));
    const char *waiting[] = {p1, p2};
    give_batch(waiting, 2, 60);

    close_one("0123456789abcdef-01234567", "alex.kim", "1", NULL, NULL);
    cr_expect(indexed("SREM", OPEN, "0123456789abcdef-01234567"));
    Lastmile__V1__QualificationDecision *d = freed();
    cr_assert_not_null(d, "the freed slot was given");
    cr_expect_str_eq(d->lead_id, W1, "the oldest first");
    cr_expect_str_eq(d->decision_id, W1 ":decision:assigned");
    cr_expect_str_eq(d->reason, "slot_freed");
    cr_expect_str_eq(d->owner, "alex.kim", "the owner who freed it");
    cr_expect_str_eq(d->team, "na");
    cr_expect_eq(d->unassigned, 0);
    cr_expect_eq(d->decided_at_ms, NOW_MS);
    cr_expect(strstr(d->next_step, "alex.kim") != NULL, "%s", d->next_step);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    cr_expect(indexed("SADD", OPEN, W1), "W1 takes the slot");
    cr_expect(indexed("ZREM", QUEUE, p1), "W1 leaves the queue");
    char key[LM_KEY_MAX];
    lm_lead_key(W1, key);
    cr_expect(indexed("HDEL", key, LM_F_PENDING));
    cr_expect(indexed("HSET", key, "1"), "W1's hash: owner, holds a slot");
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_routed_total", "how=\"slot_freed\""),
        1);

    /* a second close in the batch: the next waiting lead, not W1 again */
    close_one("0123456789abcdef-01234568", "alex.kim", "1", NULL, NULL);
    d = freed();
    cr_assert_not_null(d);
    cr_expect_str_eq(d->lead_id, W2);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);

    /* the queue read for the batch is used up: nothing more to give */
    close_one("0123456789abcdef-01234569", "alex.kim", "1", NULL, NULL);
    cr_expect_null(freed());
}

Test(worker_timing_queue, a_lead_without_a_slot_frees_nothing) {
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_batch(waiting, 1, 60);
    close_one("0123456789abcdef-01234567", "alex.kim", "0", NULL, NULL);
    cr_expect_null(freed(), "a nurture lead held no slot");
    cr_expect_null(lm_recorder_emit_on(rec, LM_TOPIC_FOLLOWUP));
    cr_expect(!indexed("ZREM", QUEUE, p1), "W1 still waits");
}

Test(worker_timing_queue, an_owner_still_at_capacity_takes_none) {
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_batch(waiting, 1, 62); /* over after a capacity cut to 60 */
    close_one("0123456789abcdef-01234567", "alex.kim", "1", NULL, NULL);
    cr_expect_null(freed(), "61 open leads of 60 after the close");
}

Test(worker_timing_queue, an_away_owner_takes_none) {
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_batch_away(waiting, 1, 60, 1);
    close_one("0123456789abcdef-01234567", "alex.kim", "1", NULL, NULL);
    cr_expect(indexed("SREM", OPEN, "0123456789abcdef-01234567"));
    cr_expect_null(freed(), "alex.kim is AWAY: W1 waits for an owner at work");
    cr_expect(!indexed("ZREM", QUEUE, p1), "W1 still waits");
}

Test(worker_timing_queue, a_lead_closed_while_waiting_leaves_the_queue) {
    pending(W1, p1, sizeof(p1));
    pending(W3, p3, sizeof(p3));
    const char *waiting[] = {p1, p3};
    give_batch(waiting, 2, 60);
    /* W1 itself answers while it waits: no owner, its pending decision */
    close_one(W1, NULL, "0", p1, "acme.com");
    cr_expect(indexed("ZREM", QUEUE, p1));
    cr_expect_null(freed());
    cr_expect(indexed("HINCRBY", "lm:{acct:acme.com}", "-1"),
              "the account has one open lead fewer");
    /* and a slot freed after that goes to W3, not to the closed W1 */
    close_one("0123456789abcdef-01234567", "alex.kim", "1", NULL, NULL);
    Lastmile__V1__QualificationDecision *d = freed();
    cr_assert_not_null(d);
    cr_expect_str_eq(d->lead_id, W3);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
}

/* Issue 16, reduction 3: the queue's member is the decision's only copy.
 * A waiting lead (stage "unassigned") that closes leaves the queue by one
 * EVAL on the queue's key that removes the members scored with its
 * decided_at whose first bytes are its packed decision id; it leaves this
 * batch's heads too, so a slot freed after it goes to the next lead. */
Test(worker_timing_queue, a_waiting_lead_leaves_the_queue_by_score_and_id) {
    pending(W1, p1, sizeof(p1));
    pending(W3, p3, sizeof(p3));
    const char *waiting[] = {p1, p3};
    give_batch(waiting, 2, 60);
    lm_recorder_reset(rec);
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    r.event_id = "reply-w1";
    r.lead_id = W1;
    r.kind = LASTMILE__V1__RESPONSE_KIND__NOT_INTERESTED;
    r.occurred_at_ms = NOW_MS - 1000;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    ev.response = &r;
    char at[32];
    snprintf(at, sizeof(at), "%lld", (long long)(NOW_MS - 60000));
    const char *hash[] = {LM_F_STATUS,   "open",       LM_F_OWNER,   "",
                          LM_F_TEAM,     "na",         LM_F_SEGMENT, "NA/mid",
                          LM_F_DECISION, "QUALIFIED",  LM_F_HOLDS,   "0",
                          LM_F_STAGE,    "unassigned", LM_F_DECIDED, at,
                          NULL};
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, &ev.base, NOW_MS, hash),
        0);
    lm_recorder_reply_strs(rec, 0, NULL);
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS),
                 0, "%s", lm_recorder_rejected(rec));
    const lm_recorded_cmd *e = NULL;
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++)
        if (strcmp(lm_recorder_index(rec, i)->argv[0], "EVAL") == 0)
            e = lm_recorder_index(rec, i);
    cr_assert_not_null(e, "the waiting lead leaves its queue");
    cr_assert_eq(e->argc, 7);
    cr_expect_str_eq(e->argv[2], "1", "one key");
    cr_expect_str_eq(e->argv[3], QUEUE);
    cr_expect_str_eq(e->argv[4], at, "by its score");
    cr_expect_str_eq(e->argv[5], at);
    cr_expect(e->lens[6] > strlen(W1) && e->lens[6] < strlen(p1) &&
                  memcmp(p1, e->argv[6], e->lens[6]) == 0,
              "by the first bytes of its member");
    cr_expect(memcmp(p3, e->argv[6], e->lens[6]) != 0, "not W3's");
    cr_expect_null(freed());
    /* a slot freed after that goes to W3, not to the closed W1 */
    close_one("0123456789abcdef-01234567", "alex.kim", "1", NULL, NULL);
    Lastmile__V1__QualificationDecision *d = freed();
    cr_assert_not_null(d);
    cr_expect_str_eq(d->lead_id, W3);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
}

/* The decision a slot_freed assignment emits is the one qualification
 * queued, field for field, but for the owner, the next step and the time
 * (the member is its only copy). */
Test(worker_timing_queue, an_assigned_lead_keeps_its_decision_exactly) {
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_batch(waiting, 1, 60);
    close_one("0123456789abcdef-01234567", "alex.kim", "1", NULL, NULL);
    Lastmile__V1__QualificationDecision *d = freed();
    cr_assert_not_null(d);
    Lastmile__V1__QualificationDecision *q =
        lastmile__v1__qualification_decision__unpack(NULL, strlen(p1),
                                                     (const uint8_t *)p1);
    cr_assert_not_null(q);
    /* put back what the assignment sets, then compare the bytes */
    char *own_owner = d->owner, *own_next = d->next_step;
    d->owner = q->owner;
    d->next_step = q->next_step;
    d->decided_at_ms = q->decided_at_ms;
    uint8_t a[512], b[512];
    size_t na = lastmile__v1__qualification_decision__pack(d, a);
    size_t nb = lastmile__v1__qualification_decision__pack(q, b);
    cr_expect_eq(na, nb);
    cr_expect(na == nb && memcmp(a, b, na) == 0, "the queued decision");
    d->owner = own_owner; /* its own strings back, before it is freed */
    d->next_step = own_next;
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    lastmile__v1__qualification_decision__free_unpacked(q, NULL);
}

Test(worker_timing_queue, a_slot_of_the_overflow_team_takes_its_waiting_leads) {
    /* na overflows into general (the built-in config); general's queue is
       empty, na's has W1: a slot freed in general goes to W1 */
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_batch(waiting, 1, 60);
    close_in("general", "0123456789abcdef-01234567", "casey.ng", "1", NULL,
             NULL);
    Lastmile__V1__QualificationDecision *d = freed();
    cr_assert_not_null(d, "the waiting lead of na takes general's slot");
    cr_expect_str_eq(d->lead_id, W1);
    cr_expect_str_eq(d->owner, "casey.ng");
    cr_expect_str_eq(d->team, "general");
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    cr_expect(indexed("SADD", "lm:{team:general}:open:casey.ng", W1));
    cr_expect(indexed("ZREM", QUEUE, p1), "it leaves na's queue");
}

/* Issue 13, accounts: a lead of a company account that waited joins the
 * account when it takes a freed slot, in the same outputs (one
 * transaction): its account's open set (where a colleague's reply finds
 * the leads to pause, timing_account.c) and open count, once however
 * often it runs (the EVAL counts only a new member), and its hash's
 * account (its close leaves the set and lowers the count). A free-mail
 * lead joins no account. */
Test(worker_timing_queue, an_assigned_waiting_lead_joins_its_account) {
    pending_at(W1, "acme.com", p1, sizeof(p1));
    pending_at(W2, "gmail.com", p2, sizeof(p2));
    const char *waiting[] = {p1, p2};
    give_batch(waiting, 2, 60);
    close_one("0123456789abcdef-01234567", "alex.kim", "1", NULL, NULL);
    Lastmile__V1__QualificationDecision *d = freed();
    cr_assert_not_null(d);
    cr_expect_str_eq(d->lead_id, W1);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    const lm_recorded_cmd *e = NULL;
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++)
        if (strcmp(lm_recorder_index(rec, i)->argv[0], "EVAL") == 0)
            e = lm_recorder_index(rec, i);
    cr_assert_not_null(e, "W1 joins acme.com's open leads");
    cr_assert_eq(e->argc, 8);
    cr_expect_str_eq(e->argv[2], "2", "two keys of one slot");
    cr_expect_str_eq(e->argv[3], "lm:{acct:acme.com}:open");
    cr_expect_str_eq(e->argv[4], "lm:{acct:acme.com}");
    cr_expect_str_eq(e->argv[5], W1);
    cr_expect_str_eq(e->argv[6], "alex.kim");
    cr_expect_str_eq(e->argv[7], "na");
    cr_expect(strstr(e->argv[1], "SADD") && strstr(e->argv[1], "== 1"),
              "the count rises only with a new member: %s", e->argv[1]);
    char key[LM_KEY_MAX];
    lm_lead_key(W1, key);
    cr_expect(indexed("HSET", key, "acme.com"), "W1's hash: its account");
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++)
        cr_expect_str_neq(lm_recorder_emit(rec, i)->topic, LM_TOPIC_TIMING,
                          "pause_on_reply is off");

    /* W2 (free mail) takes the next slot and joins no account */
    close_one("0123456789abcdef-01234568", "alex.kim", "1", NULL, NULL);
    d = freed();
    cr_assert_not_null(d);
    cr_expect_str_eq(d->lead_id, W2);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++)
        cr_expect_str_neq(lm_recorder_index(rec, i)->argv[0], "EVAL");
    lm_lead_key(W2, key);
    cr_expect(!indexed("HSET", key, "gmail.com"));
}

/* Timing again, on the shipped config with accounts.pause_on_reply on. */
static void reinit_pausing(void) {
    lm_timing_worker.fini(lm_timing_worker.ctx);
    FILE *in = fopen(LM_SOURCE_DIR "/config/decisions.yaml", "r");
    cr_assert_not_null(in);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    char *at = strstr(text, "pause_on_reply: false");
    cr_assert_not_null(at, "the shipped config has pause_on_reply: false");
    memcpy(at, "pause_on_reply:  true", 21);
    char path[] = "/tmp/lm_test_queue_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fputs(text, f) >= 0 && fclose(f) == 0, 1);
    lm_settings st;
    char err[1024] = "";
    memset(&st, 0, sizeof(st));
    st.config_path = path;
    cr_assert_eq(
        lm_timing_worker.init(lm_timing_worker.ctx, &st, err, sizeof(err)), 0,
        "%s", err);
    unlink(path);
}

/* With pause_on_reply, the joining lead's account_join goes out with the
 * assignment (its handling holds the lead when a colleague's deal is
 * already live: test_worker_timing_account); without, none (above). */
Test(worker_timing_queue, a_joining_lead_asks_whether_a_deal_is_live) {
    reinit_pausing();
    pending_at(W1, "acme.com", p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_batch(waiting, 1, 60);
    close_one("0123456789abcdef-01234567", "alex.kim", "1", NULL, NULL);
    Lastmile__V1__QualificationDecision *d = freed();
    cr_assert_not_null(d);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    const lm_recorded_emit *j = NULL;
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++)
        if (strcmp(lm_recorder_emit(rec, i)->id, W1 ":account_join:acme.com") ==
            0)
            j = lm_recorder_emit(rec, i);
    cr_assert_not_null(j, "account_join of W1");
    cr_expect_str_eq(j->topic, LM_TOPIC_TIMING);
    cr_expect_str_eq(j->key, W1);
}
