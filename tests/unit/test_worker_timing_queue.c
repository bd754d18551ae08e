/* test_worker_timing_queue.c — a freed slot goes to the team's oldest
 * waiting lead (workers/timing/timing_queue.c, timing_slot.c), through the
 * recorder.
 *
 * The timing worker runs with the built-in config (team na: alex.kim 60,
 * sam.ortiz 60, jordan.blake 40; na overflows into general). A close of a
 * lead that held a slot announces it: one SlotFreed on lastmile.timing,
 * keyed "team:<team>", id "<lead>:freed" (one partition per team). Each
 * case then hands that SlotFreed to timing with its reads (the WATCH of
 * the queues, the waiting leads of the team and of the teams overflowing
 * into it, the owner's load and state) and checks: the slot goes to the
 * oldest waiting lead by one QualificationDecision (reason "slot_freed",
 * id "<lead>:decision:assigned", the freeing owner), the waiting lead
 * leaves the queue and joins the owner's open set; a member that is not a
 * decision is dropped and the next lead takes the slot; a lead that took
 * no slot (nurture) announces nothing; an owner still at capacity, or
 * away, takes none; a lead closed while it waited leaves the queue; the
 * account's open count falls; a slot of an overflow team takes the
 * waiting leads of the teams that overflow into it; a waiting lead of a
 * company account that takes a slot joins its account (open set, open
 * count, its hash's account), so a colleague's reply pauses it
 * (accounts.pause_on_reply). */
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

static char announced_key[LM_KEY_MAX]; /* the last SlotFreed's key */

/* The SlotFreed of this close, or NULL: checked for its key and id
 * (caller frees). */
static Lastmile__V1__SlotFreed *announced(void) {
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++) {
        const lm_recorded_emit *e = lm_recorder_emit(rec, i);
        if (strcmp(e->topic, LM_TOPIC_TIMING) != 0)
            continue;
        Lastmile__V1__TimingEvent *ev =
            (Lastmile__V1__TimingEvent *)lm_recorder_emit_unpack(
                rec, i, &lastmile__v1__timing_event__descriptor);
        cr_assert_not_null(ev);
        if (ev->event_case != LASTMILE__V1__TIMING_EVENT__EVENT_SLOT_FREED) {
            protobuf_c_message_free_unpacked(&ev->base, NULL);
            continue;
        }
        Lastmile__V1__SlotFreed *f = ev->slot_freed;
        char id[LM_ID_MAX];
        snprintf(id, sizeof(id), "%s:freed", f->lead_id);
        /* its overflow group's first team (the built-in config's teams
           are all one group: a_slot_freed_is_placed_on_its_group) */
        cr_expect(strncmp(e->key, "team:", 5) == 0 && e->key[5], "%s", e->key);
        snprintf(announced_key, sizeof(announced_key), "%s", e->key);
        cr_expect_str_eq(e->id, id);
        cr_expect_eq(f->freed_at_ms, NOW_MS);
        ev->slot_freed = NULL;
        protobuf_c_message_free_unpacked(&ev->base, NULL);
        return f;
    }
    return NULL;
}

/* Hands timing the SlotFreed of (team, owner) with its reads: the queue
 * of `team` or of a team overflowing into it named `waiting_team` holds
 * `waiting` (oldest first), the others none; the owner's load is `load`,
 * its state AWAY (until BACK) when away. */
static void give_slot(const char *team, const char *owner,
                      const char *waiting_team, const char *const *waiting,
                      size_t n_waiting, long long load, int away) {
    Lastmile__V1__SlotFreed f = LASTMILE__V1__SLOT_FREED__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    f.team = (char *)team;
    f.owner = (char *)owner;
    f.lead_id = "0123456789abcdef-01234567";
    f.freed_at_ms = NOW_MS - 1000;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_SLOT_FREED;
    ev.slot_freed = &f;
    /* once with no replies, to learn the plan */
    lm_recorder_reset(rec);
    lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS);
    size_t n = lm_recorder_n_planned(rec);
    cr_assert_geq(n, 4, "WATCH, a queue, the load, the state");
    char wq[LM_KEY_MAX], state[LM_KEY_MAX];
    lm_lead_team_queue_key(waiting_team, wq);
    lm_sla_state_key(owner, state);
    static char keep[16][LM_KEY_MAX + 8]; /* the plan, past the reset */
    cr_assert_lt(n, 16);
    for (size_t i = 0; i < n; i++) {
        const lm_recorded_cmd *c = lm_recorder_planned(rec, i);
        snprintf(keep[i], sizeof(keep[i]), "%s:%s", c->argv[0],
                 c->argc > 1 ? c->argv[1] : "");
    }
    cr_assert(strncmp(keep[0], "WATCH:", 6) == 0, "%s", keep[0]);
    lm_recorder_reset(rec);
    lm_recorder_reply_str(rec, "OK");
    for (size_t i = 1; i < n; i++) {
        char want[LM_KEY_MAX + 8];
        snprintf(want, sizeof(want), "ZRANGE:%s", wq);
        if (strncmp(keep[i], "ZRANGE:", 7) == 0)
            lm_recorder_reply_strs(
                rec, strcmp(keep[i], want) == 0 ? n_waiting : 0, waiting);
        else if (strncmp(keep[i], "SCARD:", 6) == 0)
            lm_recorder_reply_int(rec, load);
        else {
            const char *a[] = {"AWAY", "0"}, *none[] = {NULL, NULL};
            cr_assert_str_eq(keep[i] + 6, state, "%s", keep[i]);
            lm_recorder_reply_strs(rec, 2, away ? a : none);
        }
    }
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS),
                 0, "%s", lm_recorder_rejected(rec));
    cr_expect_null(lm_recorder_rejected(rec));
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

#define CLOSING "0123456789abcdef-01234567"

/* A close announces the slot it freed; timing gives it to the oldest
 * waiting lead, then the next SlotFreed to the next. */
Test(worker_timing_queue, a_freed_slot_goes_to_the_oldest_waiting_lead) {
    close_one(CLOSING, "alex.kim", "1", NULL, NULL);
    cr_expect(indexed("SREM", OPEN, CLOSING));
    Lastmile__V1__SlotFreed *f = announced();
    cr_assert_not_null(f, "the freed slot is announced");
    cr_expect_str_eq(f->team, "na");
    cr_expect_str_eq(f->owner, "alex.kim");
    cr_expect_str_eq(f->lead_id, CLOSING);
    lastmile__v1__slot_freed__free_unpacked(f, NULL);
    cr_expect_null(freed(), "the close itself gives nothing away");

    pending(W1, p1, sizeof(p1));
    pending(W2, p2, sizeof(p2));
    const char *waiting[] = {p1, p2};
    give_slot("na", "alex.kim", "na", waiting, 2, 59, 0);
    /* the owner's open set is watched with the queues: a lead
       qualification gives alex.kim meanwhile refuses this EXEC */
    const lm_recorded_cmd *w = lm_recorder_planned(rec, 0);
    int watched = 0;
    for (int a = 1; a < w->argc; a++)
        watched +=
            strcmp(w->argv[a], OPEN) == 0 || strcmp(w->argv[a], QUEUE) == 0;
    cr_expect_eq(watched, 2, "WATCH of na's queue and alex.kim's set");
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

    /* the next SlotFreed of na (the next batch: one per team a batch)
       reads the queue W1 left */
    const char *rest[] = {p2};
    give_slot("na", "alex.kim", "na", rest, 1, 59, 0);
    d = freed();
    cr_assert_not_null(d);
    cr_expect_str_eq(d->lead_id, W2);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);

    /* nobody waits: the slot stays free */
    give_slot("na", "alex.kim", "na", NULL, 0, 59, 0);
    cr_expect_null(freed());
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_slot_freed_kept_total",
                                     "why=\"none_waiting\""),
                 1);
}

/* Its key and tag are its overflow group's: na and general (na overflows
 * into general) share one partition and never share a batch, so a slot of
 * general and one of na never take one waiting lead of na twice. Its id is
 * the closing lead's. */
Test(worker_timing_queue, a_slot_freed_is_placed_on_its_group) {
    close_in("general", CLOSING, "casey.ng", "1", NULL, NULL);
    Lastmile__V1__SlotFreed *g = announced();
    cr_assert_not_null(g);
    lastmile__v1__slot_freed__free_unpacked(g, NULL);
    char general_key[LM_KEY_MAX];
    snprintf(general_key, sizeof(general_key), "%s", announced_key);
    close_one(CLOSING, "alex.kim", "1", NULL, NULL);
    g = announced();
    cr_assert_not_null(g);
    lastmile__v1__slot_freed__free_unpacked(g, NULL);
    cr_expect_str_eq(announced_key, general_key, "one partition");

    Lastmile__V1__SlotFreed f = LASTMILE__V1__SLOT_FREED__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    f.team = "na";
    f.owner = "alex.kim";
    f.lead_id = CLOSING;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_SLOT_FREED;
    ev.slot_freed = &f;
    lm_recorder_reset(rec);
    lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS);
    cr_expect_str_eq(lm_recorder_ident(rec)->tag, general_key,
                     "the tag is the key");
    cr_expect_str_eq(lm_recorder_ident(rec)->id, CLOSING ":freed");
    f.team = "";
    lm_recorder_reset(rec);
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS),
                 -1);
    cr_expect(lm_recorder_rejected(rec) &&
                  strstr(lm_recorder_rejected(rec), "slot_freed.team"),
              "%s", lm_recorder_rejected(rec));
}

/* A member that is not a decision qualification queued is dropped, and
 * the next waiting lead takes the slot. */
Test(worker_timing_queue, a_member_that_is_no_decision_is_dropped) {
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {"not a decision", p1};
    give_slot("na", "alex.kim", "na", waiting, 2, 59, 0);
    cr_expect(indexed("ZREM", QUEUE, "not a decision"));
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_unassigned_dropped_total", NULL), 1);
    Lastmile__V1__QualificationDecision *d = freed();
    cr_assert_not_null(d);
    cr_expect_str_eq(d->lead_id, W1);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
}

/* An owner the decisions file no longer names gives nothing away. */
Test(worker_timing_queue, a_slot_of_an_owner_not_configured_gives_nothing) {
    pending(W1, p1, sizeof(p1));
    Lastmile__V1__SlotFreed f = LASTMILE__V1__SLOT_FREED__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    f.team = "na";
    f.owner = "gone.away";
    f.lead_id = CLOSING;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_SLOT_FREED;
    ev.slot_freed = &f;
    lm_recorder_reset(rec);
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS),
                 0);
    cr_expect_null(freed());
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_slot_freed_kept_total",
                                     "why=\"not_configured\""),
                 1);
}

Test(worker_timing_queue, a_lead_without_a_slot_frees_nothing) {
    close_one(CLOSING, "alex.kim", "0", NULL, NULL);
    cr_expect_null(announced(), "a nurture lead held no slot");
    cr_expect_null(lm_recorder_emit_on(rec, LM_TOPIC_FOLLOWUP));
}

Test(worker_timing_queue, an_owner_still_at_capacity_takes_none) {
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_slot("na", "alex.kim", "na", waiting, 1, 60, 0);
    cr_expect_null(freed(), "60 open leads of 60 after the close");
    cr_expect(!indexed("ZREM", QUEUE, p1), "W1 still waits");
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_slot_freed_kept_total",
                                     "why=\"at_capacity\""),
                 1);
}

Test(worker_timing_queue, an_away_owner_takes_none) {
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_slot("na", "alex.kim", "na", waiting, 1, 59, 1);
    cr_expect_null(freed(), "alex.kim is AWAY: W1 waits for an owner at work");
    cr_expect(!indexed("ZREM", QUEUE, p1), "W1 still waits");
}

Test(worker_timing_queue, a_lead_closed_while_waiting_leaves_the_queue) {
    pending(W1, p1, sizeof(p1));
    /* W1 itself answers while it waits: no owner, its pending decision */
    close_one(W1, NULL, "0", p1, "acme.com");
    cr_expect(indexed("ZREM", QUEUE, p1));
    cr_expect_null(announced());
    cr_expect_null(freed());
    cr_expect(indexed("DECR", "lm:{acct:acme.com}:open_count",
                      "lm:{acct:acme.com}:open_count"),
              "the account has one open lead fewer");
}

/* Issue 16, reduction 3: the queue's member is the decision's only copy.
 * A waiting lead (stage "unassigned") that closes leaves the queue by one
 * EVAL on the queue's key that removes the members scored with its
 * decided_at whose first bytes are its packed decision id. */
Test(worker_timing_queue, a_waiting_lead_leaves_the_queue_by_score_and_id) {
    pending(W1, p1, sizeof(p1));
    pending(W3, p3, sizeof(p3));
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
    cr_expect_null(announced());
}

/* The decision a slot_freed assignment emits is the one qualification
 * queued, field for field, but for the owner, the next step and the time
 * (the member is its only copy). */
Test(worker_timing_queue, an_assigned_lead_keeps_its_decision_exactly) {
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_slot("na", "alex.kim", "na", waiting, 1, 59, 0);
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
    close_in("general", CLOSING, "casey.ng", "1", NULL, NULL);
    Lastmile__V1__SlotFreed *f = announced();
    cr_assert_not_null(f);
    cr_expect_str_eq(f->team, "general");
    lastmile__v1__slot_freed__free_unpacked(f, NULL);
    pending(W1, p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_slot("general", "casey.ng", "na", waiting, 1, 0, 0);
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
    give_slot("na", "alex.kim", "na", waiting, 2, 59, 0);
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
    cr_expect_str_eq(e->argv[2], "3", "three keys of one slot");
    cr_expect_str_eq(e->argv[3], "lm:{acct:acme.com}:open");
    cr_expect_str_eq(e->argv[4], "lm:{acct:acme.com}:open_count");
    cr_expect_str_eq(e->argv[5], "lm:{acct:acme.com}:owner");
    cr_expect_str_eq(e->argv[6], W1);
    cr_expect_str_eq(e->argv[7], "na:alex.kim");
    cr_expect(strstr(e->argv[1], "SADD") && strstr(e->argv[1], "== 1"),
              "the count rises only with a new member: %s", e->argv[1]);
    char key[LM_KEY_MAX];
    lm_lead_key(W1, key);
    cr_expect(indexed("HSET", key, "acme.com"), "W1's hash: its account");
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++)
        cr_expect_str_neq(lm_recorder_emit(rec, i)->topic, LM_TOPIC_TIMING,
                          "pause_on_reply is off");

    /* W2 (free mail) takes the next slot and joins no account */
    const char *rest[] = {p2};
    give_slot("na", "alex.kim", "na", rest, 1, 59, 0);
    d = freed();
    cr_assert_not_null(d);
    cr_expect_str_eq(d->lead_id, W2);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++)
        cr_expect_str_neq(lm_recorder_index(rec, i)->argv[0], "EVAL");
    lm_lead_key(W2, key);
    cr_expect(!indexed("HSET", key, "gmail.com"));
}

/* Timing again, on the shipped config with `from` written as `to` (the
 * same length). */
static void reinit_shipped(const char *from, const char *to) {
    lm_timing_worker.fini(lm_timing_worker.ctx);
    FILE *in = fopen(LM_SOURCE_DIR "/config/decisions.yaml", "r");
    cr_assert_not_null(in);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    char *at = strstr(text, from);
    cr_assert_not_null(at, "the shipped config has \"%s\"", from);
    cr_assert_eq(strlen(from), strlen(to));
    memcpy(at, to, strlen(to));
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
    reinit_shipped("pause_on_reply: false", "pause_on_reply:  true");
    pending_at(W1, "acme.com", p1, sizeof(p1));
    const char *waiting[] = {p1};
    give_slot("na", "alex.kim", "na", waiting, 1, 59, 0);
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

/* Teams no overflow link joins are groups of their own: with
 * enterprise's "overflow: na" taken out, enterprise's freed slots go to
 * one partition and na's (na, general and the rest) to another. */
Test(worker_timing_queue, teams_no_overflow_joins_announce_apart) {
    reinit_shipped("    overflow: na\n", "                \n");
    close_in("enterprise", CLOSING, "morgan.lee", "1", NULL, NULL);
    Lastmile__V1__SlotFreed *f = announced();
    cr_assert_not_null(f);
    lastmile__v1__slot_freed__free_unpacked(f, NULL);
    cr_expect_str_eq(announced_key, "team:enterprise");
    close_one(CLOSING, "alex.kim", "1", NULL, NULL);
    f = announced();
    cr_assert_not_null(f);
    lastmile__v1__slot_freed__free_unpacked(f, NULL);
    cr_expect_str_eq(announced_key, "team:na",
                     "na's group, named by its first");
}
