/* test_worker_timing.c — the timing-adjust worker's decisions, through
 * the recorder (lm_recorder.h): no Kafka, no Redis.
 *
 * Each case gives a TimingEvent (a LeadResponse from a connector, or a
 * TimerFired from the sweeper), the lead hash as Redis would hold it
 * (lm_recorder_reply_hash: by field name) and the segment's learned slot
 * counts (the HGETALL), and checks what handle decided: a response closes
 * the lead (outcome, value), stops the cadence and hands off; a fired
 * timer on a lead still waiting picks the next touch, or closes it
 * NO_RESPONSE after the last step; the learning counts; a timer for a
 * closed lead does nothing; malformed input is refused with a reason.
 *
 * Timers are the runtime's (lm_timers.h): the inputs are built by one
 * helper, timer_fired, and the cancel is checked by one,
 * expect_timer_cancelled (the ZREM of the member armed for the lead's
 * step and segment), so a layout change adapts one place each. */
#include "lm_lead.h"
#include "lm_learn.h"
#include "lm_recorder.h"
#include "worker_testutil.h"
#include "lm_timers.h"
#include "timing.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW_MS  1767607200000LL /* 2026-01-05T10:00:00Z, a Monday */
#define HOUR_MS 3600000LL
#define DAY_MS  (24 * HOUR_MS)
#define LEAD    "0123456789abcdef-01234567"
#define SEGMENT "NA/mid"
/* the segment level of the learned counts (lm_learn_keys) of a lead whose
 * hash has no role (a lead from before roles: "-") */
#define SLOTS    LM_LEARN_KEY_PREFIX "NA/mid|-" LM_LEARN_KEY_SUFFIX
#define OPEN_SET "lm:{team:na}:open:alex.kim"

static lm_recorder *rec;

static void setup(void) {
    rec = worker_test_start(&lm_timing_worker);
}

static void teardown(void) {
    worker_test_stop(&lm_timing_worker, rec);
}

TestSuite(worker_timing, .init = setup, .fini = teardown);

/* The emits but a closing lead's SlotFreed (id "<lead>:freed", its
 * owner's slot announced to its team: test_worker_timing_queue). */
static size_t emits(void) {
    size_t n = 0;
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++) {
        const char *id = lm_recorder_emit(rec, i)->id;
        size_t l = strlen(id);
        n += !(l > 6 && strcmp(id + l - 6, ":freed") == 0);
    }
    return n;
}

/* ------------------------------------------------------------- inputs */

typedef struct timing_ev {
    Lastmile__V1__TimerFired t;
    Lastmile__V1__LeadResponse r;
    Lastmile__V1__TimingEvent ev;
    char timer_id[LM_ID_MAX], action_id[LM_ID_MAX];
} timing_ev;

/* What the sweeper sends when the response timer of `step` (armed by
 * follow-up with the lead's segment) came due with no response. The one
 * place that knows the fired message's format. */
static ProtobufCMessage *timer_fired(timing_ev *x, const char *lead_id,
                                     int step, const char *segment,
                                     int64_t due_ms) {
    Lastmile__V1__TimerFired t = LASTMILE__V1__TIMER_FIRED__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    x->t = t;
    x->ev = ev;
    snprintf(x->timer_id, sizeof(x->timer_id), "%s:timer:%d|%s", lead_id, step,
             segment);
    snprintf(x->action_id, sizeof(x->action_id), "%s:action:%d", lead_id, step);
    x->t.timer_id = x->timer_id;
    x->t.lead_id = (char *)lead_id;
    x->t.step = step;
    x->t.due_at_ms = due_ms;
    x->t.fired_at_ms = NOW_MS;
    x->t.action_id = x->action_id;
    x->ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    x->ev.timer_fired = &x->t;
    return &x->ev.base;
}

static ProtobufCMessage *response(timing_ev *x, const char *event_id,
                                  Lastmile__V1__ResponseKind kind,
                                  int64_t deal_cents) {
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    x->r = r;
    x->ev = ev;
    x->r.event_id = (char *)event_id;
    x->r.lead_id = LEAD;
    x->r.kind = kind;
    x->r.occurred_at_ms = NOW_MS - 1000;
    x->r.deal_value_cents = deal_cents;
    x->r.action_id = LEAD ":action:1";
    x->ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    x->ev.response = &x->r;
    return &x->ev.base;
}

/* ------------------------------------------------------ the lead hash */

typedef struct lead_state {
    const char *status, *step, *cadence, *tz, *adaptive;
} lead_state;

/* More of the lead hash, each NULL when not set: the stage, the
 * hand-off's time, the current touch's scheduled time and its window's
 * end, the touch last taken back. */
typedef struct lead_more {
    const char *stage, *responded, *last_action, *next_due, *cancelled;
} lead_more;
static const lead_more no_more;

static const lead_state waiting = {"open", "1", "qualified", "Europe/London",
                                   "0"};

/* The lead without personal data, as qualification keeps it (packed
 * bytes; these have no NUL, so they pass as a string reply). */
static char lead_bytes[256];

static void pack_lead(void) {
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = LEAD;
    l.source = "web_form";
    l.country = "GB";
    l.timezone = "Europe/London";
    l.company_size = 120;
    size_t n = lastmile__v1__lead_accepted__get_packed_size(&l);
    cr_assert_lt(n, sizeof(lead_bytes));
    lastmile__v1__lead_accepted__pack(&l, (uint8_t *)lead_bytes);
    lead_bytes[n] = '\0';
    cr_assert_eq(strlen(lead_bytes), n, "the packed lead has a NUL");
}

/* The step of the lead hash given last (the step its timer was armed
 * for): expect_timer_cancelled's; and whether it was handed off (its
 * timer is the deal window). */
static int given_step, given_handed_off;
/* More lead hash fields for the next give_more (name, value pairs, NULL
 * ended; reset after each use). */
static const char *given_extra[9];

/* Gives the lead hash (st) and the segment's slot counts (pairs of
 * "<slot>:s|f", count; NULL-ended) as the plan's two replies. */
static void give_more(ProtobufCMessage *in, const lead_state *st,
                      const lead_more *mo, const char *const *slot_counts) {
    pack_lead();
    given_step = (int)strtol(st->step, NULL, 10);
    given_handed_off = mo->stage && strcmp(mo->stage, "handed_off") == 0;
    const char *hash[] = {LM_F_STATUS,
                          st->status,
                          LM_F_STEP,
                          st->step,
                          LM_F_CADENCE,
                          st->cadence,
                          LM_F_TZ,
                          st->tz,
                          LM_F_OWNER,
                          "alex.kim",
                          LM_F_TEAM,
                          "na",
                          LM_F_SEGMENT,
                          SEGMENT,
                          LM_F_ADAPTIVE,
                          st->adaptive,
                          LM_F_SUBMITTED,
                          "1767600000000",
                          LM_F_TOUCHES,
                          "2",
                          LM_F_COST,
                          "452",
                          LM_F_SCORE,
                          "0.812500",
                          LM_F_DECISION,
                          "QUALIFIED",
                          LM_F_SLOT,
                          "10",
                          LM_F_LEAD,
                          lead_bytes,
                          LM_F_STAGE,
                          mo->stage,
                          LM_F_RESPONDED,
                          mo->responded,
                          LM_F_LAST_ACTION,
                          mo->last_action,
                          LM_F_NEXT_DUE,
                          mo->next_due,
                          LM_F_CANCELLED,
                          mo->cancelled,
                          LM_F_FIRST_TOUCH,
                          "1767600060000",
                          LM_F_FIRST_HUMAN,
                          "1767600900000",
                          given_extra[0],
                          given_extra[1],
                          given_extra[2],
                          given_extra[3],
                          given_extra[4],
                          given_extra[5],
                          given_extra[6],
                          given_extra[7],
                          NULL};
    memset(given_extra, 0, sizeof(given_extra));
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS, hash), 0,
        "the plan reads the lead hash first");
    size_t n = 0;
    while (slot_counts && slot_counts[n])
        n++;
    lm_recorder_reply_strs(rec, n, slot_counts);
}

static void give_state(ProtobufCMessage *in, const lead_state *st,
                       const char *const *slot_counts) {
    give_more(in, st, &no_more, slot_counts);
}

static void run(ProtobufCMessage *in, const char *what) {
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), 0,
                 "%s: %s", what,
                 lm_recorder_rejected(rec) ? lm_recorder_rejected(rec) : "");
    cr_expect_null(lm_recorder_rejected(rec), "%s", what);
}

/* ----------------------------------------------------------- checks */

/* The one index command `cmd` on the timers (ZREM: cancel, ZADD: arm,
 * then due is its score) is of the member (lead, kind, payload), as
 * lm_timers_encode makes it. The one place that knows how a timer
 * command looks from outside. */
static void expect_timer_cmd(const char *cmd, const char *kind,
                             const char *payload, int64_t due,
                             const char *what) {
    lm_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.lead, sizeof(t.lead), "%s", LEAD);
    snprintf(t.kind, sizeof(t.kind), "%s", kind);
    snprintf(t.payload, sizeof(t.payload), "%s", payload);
    t.payload_len = strlen(payload);
    char member[LM_TIMERS_MEMBER_MAX], set[LM_TIMERS_KEY_MAX], score[32];
    size_t mlen;
    cr_assert_eq(lm_timers_encode(&t, member, &mlen), 0);
    lm_timers_key(lm_timers_bucket(LEAD), "", set);
    snprintf(score, sizeof(score), "%lld", (long long)due);
    int found = 0;
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_index(rec, i);
        if (!strstr(c->argv[1], "timers") || strcmp(c->argv[0], cmd) != 0 ||
            (c->argc == 4 && strstr(c->argv[3], "|owner_deadline|")))
            continue; /* the hand-off's deadline: test_worker_owner.c */
        found++;
        cr_expect_str_eq(c->argv[1], set, "%s", what);
        size_t at = c->argc - 1; /* the member is the last argument */
        cr_expect(c->lens[at] == mlen && memcmp(c->argv[at], member, mlen) == 0,
                  "%s: %s %s, want %s", what, cmd, c->argv[at], member);
        if (strcmp(cmd, "ZADD") == 0)
            cr_expect_str_eq(c->argv[2], score, "%s: due", what);
    }
    cr_expect_eq(found, 1, "%s: %d timer commands, want one %s", what, found,
                 cmd);
}

/* The member of the lead's response timer for `step`. */
static const char *response_payload(int step) {
    static char p[LM_TIMERS_PAYLOAD_MAX];
    cr_assert_gt(lm_lead_timer_payload(step, SEGMENT, p, sizeof(p)), 0);
    return p;
}

/* The lead's timer was cancelled: the response timer armed for the lead's
 * step (given_step), or the deal window of a handed-off lead. */
static void expect_timer_cancelled(const char *lead_id, const char *what) {
    cr_assert_str_eq(lead_id, LEAD);
    if (given_handed_off)
        expect_timer_cmd("ZREM", LM_LEAD_TIMER_DEAL, LM_LEAD_TIMER_DEAL_PAYLOAD,
                         0, what);
    else
        expect_timer_cmd("ZREM", LM_LEAD_TIMER_RESPONSE,
                         response_payload(given_step), 0, what);
}

/* The learning count of `field` ("<slot>:s" or ":f") went up by one. */
static int learned(const char *field) {
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_index(rec, i);
        if (c->argc == 4 && strcmp(c->argv[0], "HINCRBY") == 0 &&
            strcmp(c->argv[1], SLOTS) == 0 && strcmp(c->argv[2], field) == 0 &&
            strcmp(c->argv[3], "1") == 0)
            return 1;
    }
    return 0;
}

/* The outcome on lastmile.outcomes and the closed lead hash. */
static void expect_closed(Lastmile__V1__OutcomeStatus status,
                          const char *status_name, int64_t deal,
                          int64_t responded_at, const char *what) {
    const lm_recorded_emit *e = lm_recorder_emit_on(rec, LM_TOPIC_OUTCOMES);
    cr_assert_not_null(e, "%s: an outcome", what);
    cr_expect_str_eq(e->key, LEAD);
    cr_expect_str_eq(e->id, LEAD ":outcome");
    size_t i = (size_t)(e - lm_recorder_emit(rec, 0));
    Lastmile__V1__Outcome *o = (Lastmile__V1__Outcome *)lm_recorder_emit_unpack(
        rec, i, &lastmile__v1__outcome__descriptor);
    cr_assert_not_null(o);
    cr_expect_eq(o->status, status, "%s: status %d", what, o->status);
    cr_expect_str_eq(o->outcome_id, LEAD ":outcome");
    cr_expect_eq(o->deal_value_cents, deal, "%s", what);
    cr_expect_eq(o->closed_at_ms, NOW_MS);
    cr_expect_eq(o->submitted_at_ms, 1767600000000LL);
    cr_expect_str_eq(o->owner, "alex.kim");
    cr_expect_eq(o->touches, 2);
    cr_expect_eq(o->cost_cents, 452);
    cr_expect_str_eq(o->segment, SEGMENT);
    cr_expect_float_eq(o->score, 0.8125, 1e-9);
    cr_expect_eq(o->decision, LASTMILE__V1__DECISION_KIND__QUALIFIED);
    cr_assert_not_null(o->lead, "%s: features for training", what);
    cr_expect_str_eq(o->lead->country, "GB");
    cr_expect_eq(o->lead->company_size, 120);
    cr_expect_eq(o->responded_at_ms, responded_at, "%s: responded at %lld",
                 what, (long long)o->responded_at_ms);
    cr_expect_eq(o->first_touch_at_ms, 1767600060000LL, "%s", what);
    cr_expect_eq(o->first_human_at_ms, 1767600900000LL, "%s", what);
    cr_expect_str_eq(o->team, "na", "%s", what);
    protobuf_c_message_free_unpacked(&o->base, NULL);

    char key[LM_KEY_MAX], rev[32], labels[64];
    lm_lead_key(LEAD, key);
    snprintf(rev, sizeof(rev), "%lld", (long long)deal);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STATUS), "closed");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STAGE), "closed");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_CLOSED), "1767607200000");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_OUTCOME), status_name,
                     "%s", what);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_REVENUE), rev, "%s", what);
    expect_timer_cancelled(LEAD, what);
    const lm_recorded_cmd *srem = lm_recorder_find(rec, "SREM", OPEN_SET);
    cr_assert_not_null(srem, "%s: the owner's load falls", what);
    cr_expect_str_eq(srem->argv[2], LEAD);
    snprintf(labels, sizeof(labels), "status=\"%s\"", status_name);
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_outcomes_total", labels), 1,
                 "%s", what);
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_revenue_cents_total", NULL),
                 (double)deal, "%s", what);
}

/* ---------------------------------------------------------- responses */

/* Answers that close an open lead at once. */
typedef struct response_case {
    const char *what;
    Lastmile__V1__ResponseKind kind;
    int64_t deal_cents, want_deal;
    Lastmile__V1__OutcomeStatus status;
    const char *status_name;
    int handoff; /* also: the slot learns a success, responded_at is set */
} response_case;

static const response_case response_cases[] = {
    {"a sale closes with its value", LASTMILE__V1__RESPONSE_KIND__CONVERTED,
     1250000, 1250000, LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME,
     "CONVERTED_OUTCOME", 1},
    {"an unsubscribe closes, no hand-off",
     LASTMILE__V1__RESPONSE_KIND__UNSUBSCRIBED, 0, 0,
     LASTMILE__V1__OUTCOME_STATUS__UNSUBSCRIBED_OUTCOME, "UNSUBSCRIBED_OUTCOME",
     0},
    {"a bounce closes, no hand-off", LASTMILE__V1__RESPONSE_KIND__BOUNCED, 0, 0,
     LASTMILE__V1__OUTCOME_STATUS__BOUNCED_OUTCOME, "BOUNCED_OUTCOME", 0},
    {"a no closes, no hand-off", LASTMILE__V1__RESPONSE_KIND__NOT_INTERESTED, 0,
     0, LASTMILE__V1__OUTCOME_STATUS__NOT_INTERESTED_OUTCOME,
     "NOT_INTERESTED_OUTCOME", 0},
    {"a lost deal with no hand-off closes", LASTMILE__V1__RESPONSE_KIND__LOST,
     0, 0, LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME, "LOST_OUTCOME", 0},
};

static void expect_handoff(const char *what) {
    const lm_recorded_emit *e = lm_recorder_emit_on(rec, LM_TOPIC_ACTIONS);
    cr_assert_not_null(e, "%s: a hand-off", what);
    cr_expect_str_eq(e->id, LEAD ":handoff");
    cr_expect_str_eq(e->key, LEAD);
    size_t i = (size_t)(e - lm_recorder_emit(rec, 0));
    Lastmile__V1__FollowUpAction *a =
        (Lastmile__V1__FollowUpAction *)lm_recorder_emit_unpack(
            rec, i, &lastmile__v1__follow_up_action__descriptor);
    cr_assert_not_null(a);
    cr_expect_eq(a->kind, LASTMILE__V1__ACTION_KIND__HANDOFF);
    cr_expect_eq(a->step, -1);
    cr_expect_str_eq(a->channel, "handoff");
    cr_expect_str_eq(a->owner, "alex.kim", "%s: to the lead's owner", what);
    cr_expect_str_eq(a->team, "na");
    cr_expect(a->human, "%s: a person's step", what);
    cr_expect_eq(a->scheduled_for_ms, NOW_MS, "at once");
    cr_expect_str_eq(a->cadence, "qualified");
    cr_expect_str_eq(a->segment, SEGMENT);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_actions_total", "kind=\"handoff\""),
        1);
}

Test(worker_timing, an_answer_that_closes_stops_the_cadence) {
    for (size_t i = 0; i < sizeof(response_cases) / sizeof(*response_cases);
         i++) {
        const response_case *c = &response_cases[i];
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in = response(&x, "resp-1", c->kind, c->deal_cents);
        give_state(in, &waiting, NULL);
        run(in, c->what);
        expect_closed(c->status, c->status_name, c->want_deal,
                      c->handoff ? NOW_MS : 0, c->what);
        cr_expect_eq(emits(), c->handoff ? 2u : 1u, "%s", c->what);
        if (c->handoff)
            expect_handoff(c->what);
        cr_expect_null(lm_recorder_emit_on(rec, LM_TOPIC_FOLLOWUP),
                       "%s: no next touch", c->what);
        cr_expect_eq(learned("10:s"), c->handoff, "%s: learning", c->what);
        cr_expect_eq(learned("10:f"), 0, "%s", c->what);
        cr_expect_str_eq(lm_recorder_ident(rec)->id, "response:resp-1");
        char key[LM_KEY_MAX];
        lm_lead_key(LEAD, key);
        const char *resp = lm_recorder_hget(rec, key, LM_F_RESPONDED);
        cr_expect_str_eq(resp ? resp : "-", c->handoff ? "1767607200000" : "-",
                         "%s: a sale with no reply before is its own answer",
                         c->what);
    }
}

/* Item 7 of issue 13: a reply or a meeting hands the lead off and keeps it
 * open for its deal: stage handed_off, responded_at, the response timer
 * cancelled, the deal window armed; no outcome, the owner keeps it. */
Test(worker_timing, a_reply_hands_off_and_the_lead_waits_for_its_deal) {
    static const struct {
        const char *what;
        Lastmile__V1__ResponseKind kind;
        int64_t deal;
    } cases[] = {
        {"a reply", LASTMILE__V1__RESPONSE_KIND__REPLIED, 0},
        {"a meeting booked", LASTMILE__V1__RESPONSE_KIND__MEETING_BOOKED, 0},
        {"a value without a sale", LASTMILE__V1__RESPONSE_KIND__REPLIED, 999},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in =
            response(&x, "resp-1", cases[i].kind, cases[i].deal);
        give_state(in, &waiting, NULL);
        run(in, cases[i].what);
        cr_expect_eq(emits(), 1, "%s: the hand-off only", cases[i].what);
        expect_handoff(cases[i].what);
        cr_expect_null(lm_recorder_emit_on(rec, LM_TOPIC_OUTCOMES),
                       "%s: still open", cases[i].what);
        char key[LM_KEY_MAX];
        lm_lead_key(LEAD, key);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STAGE), "handed_off");
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_RESPONDED),
                         "1767607200000");
        cr_expect_null(lm_recorder_hget(rec, key, LM_F_STATUS));
        cr_expect_null(lm_recorder_hget(rec, key, LM_F_REVENUE));
        expect_timer_cmd("ZREM", LM_LEAD_TIMER_RESPONSE, response_payload(1), 0,
                         cases[i].what);
        expect_timer_cmd("ZADD", LM_LEAD_TIMER_DEAL, LM_LEAD_TIMER_DEAL_PAYLOAD,
                         NOW_MS + 60 * DAY_MS, cases[i].what);
        cr_expect_null(lm_recorder_find(rec, "SREM", NULL),
                       "%s: the owner keeps the lead", cases[i].what);
        cr_expect(learned("10:s"), "%s: the slot learns a success",
                  cases[i].what);
        cr_expect_eq(lm_recorder_counted(rec, "lastmile_outcomes_total", NULL),
                     0);
    }
}

/* A lead handed off two days ago. */
static const lead_more handed_off = {.stage = "handed_off",
                                     .responded = "1767434400000"};

/* The CRM's result closes a handed-off lead, its answer time kept; other
 * answers are its owner's business and change nothing. */
Test(worker_timing, the_crm_result_closes_a_handed_off_lead) {
    static const struct {
        const char *what;
        Lastmile__V1__ResponseKind kind;
        int64_t deal;
        Lastmile__V1__OutcomeStatus status; /* 0: nothing happens */
        const char *name;
    } cases[] = {
        {"won days after the reply", LASTMILE__V1__RESPONSE_KIND__CONVERTED,
         840000, LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME,
         "CONVERTED_OUTCOME"},
        {"lost", LASTMILE__V1__RESPONSE_KIND__LOST, 0,
         LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME, "LOST_OUTCOME"},
        {"a no after the reply", LASTMILE__V1__RESPONSE_KIND__NOT_INTERESTED, 0,
         LASTMILE__V1__OUTCOME_STATUS__NOT_INTERESTED_OUTCOME,
         "NOT_INTERESTED_OUTCOME"},
        {"a second reply", LASTMILE__V1__RESPONSE_KIND__REPLIED, 0, 0, NULL},
        {"an auto-reply", LASTMILE__V1__RESPONSE_KIND__OUT_OF_OFFICE, 0, 0,
         NULL},
        {"an unsubscribe", LASTMILE__V1__RESPONSE_KIND__UNSUBSCRIBED, 0, 0,
         NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in =
            response(&x, "resp-5", cases[i].kind, cases[i].deal);
        x.r.returns_at_ms = NOW_MS + 3 * DAY_MS;
        give_more(in, &waiting, &handed_off, NULL);
        run(in, cases[i].what);
        cr_expect_null(lm_recorder_emit_on(rec, LM_TOPIC_ACTIONS),
                       "%s: no second hand-off, nothing taken back",
                       cases[i].what);
        if (!cases[i].status) {
            cr_expect_eq(emits(), 0, "%s", cases[i].what);
            cr_expect_eq(lm_recorder_n_index(rec), 0, "%s", cases[i].what);
            continue;
        }
        cr_expect_eq(emits(), 1, "%s", cases[i].what);
        expect_closed(cases[i].status, cases[i].name, cases[i].deal,
                      1767434400000LL, cases[i].what);
        cr_expect_eq(learned("10:s"), 0, "%s: learned at the hand-off",
                     cases[i].what);
    }
}

/* followup may still write stage "waiting" after the hand-off (a
 * NextTouch on its way): responded_at, which only timing writes, is what
 * says the lead is handed off. */
Test(worker_timing, a_handed_off_lead_is_known_by_its_answer_time) {
    lead_more clobbered = handed_off;
    clobbered.stage = "waiting";
    timing_ev x;
    ProtobufCMessage *in =
        response(&x, "crm-9", LASTMILE__V1__RESPONSE_KIND__LOST, 0);
    give_more(in, &waiting, &clobbered, NULL);
    given_handed_off = 1; /* its deal window is what gets cancelled */
    run(in, "stage overwritten");
    cr_expect_eq(emits(), 1, "no hand-off again");
    expect_closed(LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME, "LOST_OUTCOME", 0,
                  1767434400000LL, "stage overwritten");

    lm_recorder_reset(rec);
    ProtobufCMessage *t = timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS - HOUR_MS);
    give_more(t, &waiting, &clobbered, NULL);
    run(t, "a response timer armed by that touch");
    cr_expect_eq(emits(), 0, "no next touch");
}

/* The deal window passes with no CRM result: RESPONDED, as a hand-off
 * closed before; a window for a lead whose deal closed is stale. */
Test(worker_timing, the_deal_window_closes_a_handed_off_lead_responded) {
    timing_ev x;
    ProtobufCMessage *in = timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS - HOUR_MS);
    x.t.kind = LM_LEAD_TIMER_DEAL;
    x.t.step = -1;
    x.t.timer_id = LEAD ":deal_window";
    give_more(in, &waiting, &handed_off, NULL);
    run(in, "deal window");
    cr_expect_str_eq(lm_recorder_ident(rec)->id, LEAD ":deal_window");
    cr_expect_eq(emits(), 1);
    expect_closed(LASTMILE__V1__OUTCOME_STATUS__RESPONDED, "RESPONDED", 0,
                  1767434400000LL, "deal window");
    cr_expect_eq(learned("10:f"), 0, "no failure learned");

    lead_state closed = waiting;
    closed.status = "closed";
    lm_recorder_reset(rec);
    give_more(in, &closed, &handed_off, NULL);
    run(in, "stale deal window");
    cr_expect_eq(emits(), 0);
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_timers_stale_total", NULL),
                 1);
}

/* A response timer that fires after the hand-off (claimed before it was
 * cancelled) schedules no next touch. */
Test(worker_timing, a_response_timer_after_the_hand_off_is_stale) {
    timing_ev x;
    ProtobufCMessage *in = timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS - HOUR_MS);
    give_more(in, &waiting, &handed_off, NULL);
    run(in, "after the hand-off");
    cr_expect_eq(emits(), 0);
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_timers_stale_total", NULL),
                 1);
}

/* Item 5 of issue 13: the touch emitted ahead of its time is taken back
 * when the lead answers first: a CANCEL with the touch's action_id, id
 * "<action_id>:cancel", once. */
static void expect_cancel(const char *reason, const char *what) {
    const lm_recorded_emit *e = NULL;
    size_t at = 0;
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++)
        if (strcmp(lm_recorder_emit(rec, i)->id, LEAD ":action:1:cancel") ==
            0) {
            e = lm_recorder_emit(rec, i);
            at = i;
        }
    cr_assert_not_null(e, "%s: the pending touch is taken back", what);
    cr_expect_str_eq(e->topic, LM_TOPIC_ACTIONS);
    cr_expect_str_eq(e->key, LEAD);
    Lastmile__V1__FollowUpAction *a =
        (Lastmile__V1__FollowUpAction *)lm_recorder_emit_unpack(
            rec, at, &lastmile__v1__follow_up_action__descriptor);
    cr_assert_not_null(a);
    cr_expect_eq(a->kind, LASTMILE__V1__ACTION_KIND__CANCEL, "%s", what);
    cr_expect_str_eq(a->action_id, LEAD ":action:1", "%s: the same id", what);
    cr_expect_str_eq(a->reason, reason, "%s", what);
    cr_expect_eq(a->step, 1);
    cr_expect_str_eq(a->channel, "call", "%s: step 1 of qualified", what);
    cr_expect_eq(a->scheduled_for_ms, NOW_MS + 5 * HOUR_MS);
    cr_expect_str_eq(a->owner, "alex.kim");
    protobuf_c_message_free_unpacked(&a->base, NULL);
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD, key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_CANCELLED),
                     LEAD ":action:1", "%s", what);
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_actions_total", "kind=\"cancel\""),
        1);
}

Test(worker_timing, an_answer_before_the_touch_is_due_takes_it_back) {
    static const struct {
        const char *what;
        Lastmile__V1__ResponseKind kind;
        const char *reason;
    } cases[] = {
        {"reply", LASTMILE__V1__RESPONSE_KIND__REPLIED, "responded"},
        {"meeting", LASTMILE__V1__RESPONSE_KIND__MEETING_BOOKED, "responded"},
        {"sale", LASTMILE__V1__RESPONSE_KIND__CONVERTED, "responded"},
        {"no", LASTMILE__V1__RESPONSE_KIND__NOT_INTERESTED, "not_interested"},
        {"unsubscribe", LASTMILE__V1__RESPONSE_KIND__UNSUBSCRIBED,
         "unsubscribed"},
        {"bounce", LASTMILE__V1__RESPONSE_KIND__BOUNCED, "bounced"},
        {"lost", LASTMILE__V1__RESPONSE_KIND__LOST, "lost"},
        {"out of office for a week", LASTMILE__V1__RESPONSE_KIND__OUT_OF_OFFICE,
         "out_of_office"},
    };
    lead_more pending = {.stage = "waiting",
                         .last_action = "1767625200000", /* NOW + 5 h */
                         .next_due = "1767711600000"};   /* + 1 d */
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in = response(&x, "resp-3", cases[i].kind, 100);
        x.r.returns_at_ms = NOW_MS + 7 * DAY_MS;
        give_more(in, &waiting, &pending, NULL);
        run(in, cases[i].what);
        expect_cancel(cases[i].reason, cases[i].what);
    }
    /* taken back already (an out-of-office before), or sent already: no
       second CANCEL */
    lead_more again = pending, sent = pending;
    again.cancelled = LEAD ":action:1";
    sent.last_action = "1767603600000"; /* NOW - 1 h */
    const lead_more *states[] = {&again, &sent};
    for (size_t i = 0; i < 2; i++) {
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in =
            response(&x, "resp-4", LASTMILE__V1__RESPONSE_KIND__REPLIED, 0);
        give_more(in, &waiting, states[i], NULL);
        run(in, "nothing to take back");
        cr_expect_eq(lm_recorder_counted(rec, "lastmile_actions_total",
                                         "kind=\"cancel\""),
                     0, "case %zu", i);
        cr_expect_eq(emits(), 1, "the hand-off only");
    }
}

/* Item 6 of issue 13: an out-of-office reply keeps the cadence going,
 * after the return date when one is given. */
Test(worker_timing, an_out_of_office_pauses_the_cadence_until_the_return) {
    lead_more pending = {.stage = "waiting",
                         .last_action = "1767625200000", /* NOW + 5 h */
                         .next_due = "1767711600000"};   /* + 1 d */
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD, key);

    /* back in a week: the touch is taken back, the window's timer moves
       to the return, the lead remembers it for followup */
    timing_ev x;
    ProtobufCMessage *in =
        response(&x, "ooo-1", LASTMILE__V1__RESPONSE_KIND__OUT_OF_OFFICE, 0);
    x.r.returns_at_ms = NOW_MS + 7 * DAY_MS;
    give_more(in, &waiting, &pending, NULL);
    run(in, "a week away");
    expect_cancel("out_of_office", "a week away");
    cr_expect_eq(emits(), 1, "no hand-off, no outcome");
    expect_timer_cmd("ZADD", LM_LEAD_TIMER_RESPONSE, response_payload(1),
                     NOW_MS + 7 * DAY_MS, "a week away");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_RETURNS), "1768212000000");
    cr_expect_null(lm_recorder_hget(rec, key, LM_F_STATUS));
    cr_expect_null(lm_recorder_hget(rec, key, LM_F_STAGE), "not handed off");
    cr_expect_eq(learned("10:s"), 0);

    /* back before the touch is due: the touch stays, so does its timer */
    lm_recorder_reset(rec);
    x.r.returns_at_ms = NOW_MS + 2 * HOUR_MS;
    give_more(in, &waiting, &pending, NULL);
    run(in, "back in two hours");
    cr_expect_eq(emits(), 0);
    cr_expect_eq(lm_recorder_n_index(rec), 0);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_RETURNS), "1767614400000");

    /* no return date (or one past): as if no answer */
    int64_t none[] = {0, NOW_MS - DAY_MS};
    for (size_t i = 0; i < 2; i++) {
        lm_recorder_reset(rec);
        x.r.returns_at_ms = none[i];
        give_more(in, &waiting, &pending, NULL);
        run(in, "no return date");
        cr_expect_eq(emits(), 0, "case %zu", i);
        cr_expect_eq(lm_recorder_n_index(rec), 0, "case %zu", i);
        cr_expect_null(lm_recorder_hget(rec, key, LM_F_RETURNS));
    }
}

/* Issue 14, item 7: a LeadResponse for a well-formed lead id that lastmile
 * never issued became a LATE_RESPONSE outcome with submitted_at_ms 0 and
 * no owner. It is dead-lettered with the reason now. */
Test(worker_timing, a_response_for_an_unknown_lead_is_refused) {
    timing_ev x;
    ProtobufCMessage *in =
        response(&x, "resp-7", LASTMILE__V1__RESPONSE_KIND__CONVERTED, 700);
    const char *const none[] = {NULL};
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS, none), 0);
    lm_recorder_reply_strs(rec, 0, NULL);
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), 0);
    cr_assert_not_null(lm_recorder_rejected(rec), "an outcome for no lead");
    cr_expect(strstr(lm_recorder_rejected(rec),
                     "lead_id: no lead " LEAD " is known to lastmile"),
              "%s", lm_recorder_rejected(rec));
    cr_expect_eq(emits(), 0);
}

Test(worker_timing, a_response_after_closing_is_recorded_late) {
    lead_state closed = waiting;
    closed.status = "closed";
    timing_ev x;
    ProtobufCMessage *in =
        response(&x, "resp-9", LASTMILE__V1__RESPONSE_KIND__CONVERTED, 700);
    give_state(in, &closed, NULL);
    run(in, "late");
    cr_assert_eq(emits(), 1);
    const lm_recorded_emit *e = lm_recorder_emit(rec, 0);
    cr_expect_str_eq(e->topic, LM_TOPIC_OUTCOMES);
    cr_expect_str_eq(e->id, LEAD ":late:resp-9");
    Lastmile__V1__Outcome *o = (Lastmile__V1__Outcome *)lm_recorder_emit_unpack(
        rec, 0, &lastmile__v1__outcome__descriptor);
    cr_assert_not_null(o);
    cr_expect_eq(o->status, LASTMILE__V1__OUTCOME_STATUS__LATE_RESPONSE);
    cr_expect_eq(o->deal_value_cents, 700);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    cr_expect_eq(lm_recorder_n_writes(rec), 0, "the closed lead is kept");
    cr_expect_eq(lm_recorder_n_index(rec), 0, "nothing learned, nothing freed");
}

/* ------------------------------------------------------- fired timers */

typedef struct timer_case {
    const char *what;
    lead_state st;
    int step; /* the step whose timer fired */
    /* expected: the next touch (step, time, slot), or a close */
    int next_step;
    int64_t when;
    int slot;
} timer_case;

static const timer_case timer_cases[] = {
    {"control arm: the first allowed time after the step's wait",
     {"open", "1", "qualified", "Europe/London", "0"},
     1,
     2,
     NOW_MS + 2 * DAY_MS, /* Wednesday 10:00 London: inside the hours */
     48 + 10},
    {"control arm in New York: the call waits for 09:00 local",
     {"open", "0", "qualified", "America/New_York", "0"},
     0,
     1,
     NOW_MS + 4 * HOUR_MS, /* Monday 09:00 EST: the call's wait is 0 */
     9},
    {"nurture waits a week, to Tuesday's window",
     {"open", "0", "nurture", "Europe/London", "0"},
     0,
     1,
     NOW_MS + 8 * DAY_MS, /* Tuesday next week, 10:00 London */
     24 + 10},
    {"the last qualified step closes NO_RESPONSE",
     {"open", "4", "qualified", "Europe/London", "1"},
     4,
     -1,
     0,
     0},
    {"the last nurture step closes NO_RESPONSE",
     {"open", "2", "nurture", "Europe/London", "0"},
     2,
     -1,
     0,
     0},
};

Test(worker_timing, a_timer_picks_the_next_touch_or_closes) {
    for (size_t i = 0; i < sizeof(timer_cases) / sizeof(*timer_cases); i++) {
        const timer_case *c = &timer_cases[i];
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in =
            timer_fired(&x, LEAD, c->step, SEGMENT, NOW_MS - HOUR_MS);
        give_state(in, &c->st, NULL);
        run(in, c->what);
        cr_expect(learned("10:f"), "%s: the unanswered slot learns a failure",
                  c->what);
        cr_expect_eq(learned("10:s"), 0, "%s", c->what);
        if (c->next_step < 0) {
            cr_expect_eq(emits(), 1, "%s", c->what);
            expect_closed(LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE,
                          "NO_RESPONSE", 0, 0, c->what);
            cr_expect_null(lm_recorder_emit_on(rec, LM_TOPIC_FOLLOWUP));
            continue;
        }
        cr_assert_eq(emits(), 1, "%s", c->what);
        const lm_recorded_emit *e = lm_recorder_emit(rec, 0);
        char id[LM_ID_MAX];
        snprintf(id, sizeof(id), LEAD ":touch:%d", c->next_step);
        cr_expect_str_eq(e->topic, LM_TOPIC_FOLLOWUP);
        cr_expect_str_eq(e->key, LEAD);
        cr_expect_str_eq(e->id, id);
        Lastmile__V1__FollowUpEvent *ev =
            (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
                rec, 0, &lastmile__v1__follow_up_event__descriptor);
        cr_assert_not_null(ev);
        cr_assert_eq(ev->event_case,
                     LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH);
        const Lastmile__V1__NextTouch *t = ev->next_touch;
        cr_expect_str_eq(t->touch_id, id);
        cr_expect_eq(t->step, c->next_step, "%s", c->what);
        cr_expect_eq(t->scheduled_for_ms, c->when, "%s: %lld, want %lld",
                     c->what, (long long)t->scheduled_for_ms,
                     (long long)c->when);
        cr_expect_eq(t->slot, c->slot, "%s: slot %d", c->what, t->slot);
        cr_expect_eq(t->adaptive, c->st.adaptive[0] == '1');
        protobuf_c_message_free_unpacked(&ev->base, NULL);
        char key[LM_KEY_MAX];
        lm_lead_key(LEAD, key);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STAGE), "followup");
        cr_expect_null(lm_recorder_hget(rec, key, LM_F_STATUS),
                       "%s: still open", c->what);
        cr_expect_null(lm_recorder_find(rec, "SREM", NULL),
                       "%s: the owner keeps the lead", c->what);
    }
}

Test(worker_timing, the_learning_arm_goes_where_responses_came) {
    /* after Wednesday 10:00 London (step 2's wait), over three days, every
       slot of the segment has failed a thousand times but Wednesday 15h
       (slot 63), which answered a thousand times: the pooled estimate
       follows the segment's own counts, and the value rule picks it */
    static char fields[2 * 168][24], counts[2 * 168][8];
    const char *pairs[4 * 168 + 1];
    size_t n = 0;
    for (int s = 0; s < 168; s++) {
        snprintf(fields[s], sizeof(fields[s]), "%d:%d:%c", LM_LEARN_SEGMENT, s,
                 s == 63 ? 's' : 'f');
        snprintf(counts[s], sizeof(counts[s]), "1000");
        pairs[n++] = fields[s];
        pairs[n++] = counts[s];
    }
    pairs[n] = NULL;
    lead_state st = waiting;
    st.adaptive = "1";
    timing_ev x;
    /* followup armed the timer with the lead's role and cadence */
    ProtobufCMessage *in =
        timer_fired(&x, LEAD, 1, SEGMENT "|exec|qualified", NOW_MS - HOUR_MS);
    give_state(in, &st, pairs);
    run(in, "learning arm");
    const lm_recorded_cmd *read = lm_recorder_planned(rec, 1);
    cr_assert_not_null(read);
    cr_assert_eq(read->argc, 3 + LM_LEARN_LEVELS, "one script, four levels");
    cr_expect_str_eq(read->argv[0], "EVAL");
    cr_expect_str_eq(read->argv[2], "4");
    cr_expect_str_eq(read->argv[3],
                     LM_LEARN_KEY_PREFIX "*|exec" LM_LEARN_KEY_SUFFIX);
    cr_expect_str_eq(read->argv[4],
                     LM_LEARN_KEY_PREFIX "NA|exec" LM_LEARN_KEY_SUFFIX);
    cr_expect_str_eq(read->argv[5],
                     LM_LEARN_KEY_PREFIX "NA/mid|exec" LM_LEARN_KEY_SUFFIX);
    cr_expect_str_eq(read->argv[6],
                     LM_LEARN_KEY_PREFIX
                     "NA/mid|exec.qualified.email" LM_LEARN_KEY_SUFFIX,
                     "the cell of the next step: its cadence and channel");
    Lastmile__V1__FollowUpEvent *ev =
        (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__follow_up_event__descriptor);
    cr_assert_not_null(ev);
    cr_assert_not_null(ev->next_touch);
    cr_expect_eq(ev->next_touch->slot, 63);
    cr_expect_eq(ev->next_touch->scheduled_for_ms,
                 NOW_MS + 2 * DAY_MS + 5 * HOUR_MS, "Wednesday 15:00");
    cr_expect(ev->next_touch->adaptive);
    cr_expect(ev->next_touch->slot_probability > 0.9 &&
                  ev->next_touch->slot_probability < 1,
              "the greedy slot's probability: %f (1 - explore + explore/n)",
              ev->next_touch->slot_probability);
    cr_expect_not(ev->next_touch->holdout);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

/* On a Redis Cluster (LASTMILE_REDIS_URL redis+cluster://) the levels'
 * keys are on different slots, which one script cannot read: reply 1 is
 * the market level alone and the other three levels are one EVAL each
 * (ARGV: the level) at the end of the plan; the choice reads them there
 * and goes where the segment's answers came, as on a single Redis. */
Test(worker_timing, on_a_cluster_each_level_is_read_on_its_own) {
    lm_timing_worker.fini(lm_timing_worker.ctx);
    lm_settings s;
    char err[1024] = "";
    memset(&s, 0, sizeof(s));
    s.redis_url = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001";
    cr_assert_eq(
        lm_timing_worker.init(lm_timing_worker.ctx, &s, err, sizeof(err)), 0,
        "%s", err);
    static char fields[168][24], counts[168][8];
    const char *pairs[2 * 168 + 1];
    size_t n = 0;
    for (int k = 0; k < 168; k++) {
        snprintf(fields[k], sizeof(fields[k]), "%d:%d:%c", LM_LEARN_SEGMENT, k,
                 k == 63 ? 's' : 'f');
        snprintf(counts[k], sizeof(counts[k]), "1000");
        pairs[n++] = fields[k];
        pairs[n++] = counts[k];
    }
    pairs[n] = NULL;
    lead_state st = waiting;
    st.adaptive = "1";
    timing_ev x;
    ProtobufCMessage *in =
        timer_fired(&x, LEAD, 1, SEGMENT "|exec|qualified", NOW_MS - HOUR_MS);
    /* a first run says how many reads the plan has */
    give_state(in, &st, NULL);
    run(in, "counting the reads");
    size_t planned = lm_recorder_n_planned(rec);
    cr_assert_geq(planned, 2 + 3);
    lm_recorder_reset(rec);
    give_state(in, &st, NULL); /* reply 1: the market level, empty */
    for (size_t i = 2; i < planned - 3; i++)
        lm_recorder_reply_nil(rec);              /* the owner's reads */
    lm_recorder_reply_strs(rec, 0, NULL);        /* the region */
    lm_recorder_reply_strs(rec, 2 * 168, pairs); /* the segment */
    lm_recorder_reply_strs(rec, 0, NULL);        /* the cell */
    run(in, "learning arm on a cluster");
    cr_assert_eq(lm_recorder_n_planned(rec), planned);
    const char *keys[] = {LM_LEARN_KEY_PREFIX "*|exec" LM_LEARN_KEY_SUFFIX,
                          LM_LEARN_KEY_PREFIX "NA|exec" LM_LEARN_KEY_SUFFIX,
                          LM_LEARN_KEY_PREFIX "NA/mid|exec" LM_LEARN_KEY_SUFFIX,
                          LM_LEARN_KEY_PREFIX
                          "NA/mid|exec.qualified.email" LM_LEARN_KEY_SUFFIX};
    for (int L = 0; L < LM_LEARN_LEVELS; L++) {
        const lm_recorded_cmd *read =
            lm_recorder_planned(rec, L ? planned - 4 + (size_t)L : 1);
        cr_assert_not_null(read);
        cr_expect_str_eq(read->argv[0], "EVAL");
        cr_expect_str_eq(read->argv[2], "1", "level %d: one key", L);
        cr_expect_str_eq(read->argv[3], keys[L]);
        cr_expect_eq(read->argc, L ? 5 : 4, "level %d: ARGV the level", L);
        if (L)
            cr_expect_eq(read->argv[4][0] - '0', L);
    }
    Lastmile__V1__FollowUpEvent *ev =
        (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__follow_up_event__descriptor);
    cr_assert_not_null(ev);
    cr_assert_not_null(ev->next_touch);
    cr_expect_eq(ev->next_touch->slot, 63, "the segment's counts were read");
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

/* The global holdout: a held-out lead keeps the fixed schedule whatever
 * its arm says, its touches say so, and its slot was not chosen (1). */
Test(worker_timing, a_held_out_lead_keeps_the_fixed_schedule) {
    lead_state st = waiting;
    st.adaptive = "1";
    given_extra[0] = LM_F_HOLDOUT;
    given_extra[1] = "1";
    timing_ev x;
    ProtobufCMessage *in =
        timer_fired(&x, LEAD, 1, SEGMENT "|exec|qualified", NOW_MS - HOUR_MS);
    give_state(in, &st, NULL);
    run(in, "holdout");
    Lastmile__V1__FollowUpEvent *ev =
        (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__follow_up_event__descriptor);
    cr_assert_not_null(ev);
    cr_assert_not_null(ev->next_touch);
    cr_expect_not(ev->next_touch->adaptive);
    cr_expect(ev->next_touch->holdout);
    cr_expect_eq(ev->next_touch->slot_probability, 1);
    cr_expect_eq(ev->next_touch->scheduled_for_ms, NOW_MS + 2 * DAY_MS,
                 "the first allowed time after the wait: Wednesday 10:00");
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

/* An answer is credited to the touch it answers (its action_id's step,
 * whose slot followup kept as "slot:<step>"), not to the lead's last
 * touch, at every level of the lead's role. */
Test(worker_timing, an_answer_is_credited_to_the_touch_it_answers) {
    timing_ev x;
    ProtobufCMessage *in =
        response(&x, "resp-1", LASTMILE__V1__RESPONSE_KIND__REPLIED, 0);
    x.r.action_id = LEAD ":action:0"; /* the first email, not the call */
    given_extra[0] = LM_F_ROLE;
    given_extra[1] = "manager";
    given_extra[2] = LM_F_SLOT_OF "0";
    given_extra[3] = "40";
    give_state(in, &waiting, NULL);
    run(in, "an answer to an earlier touch");
    const lm_recorded_cmd *hmget = lm_recorder_planned(rec, 0);
    cr_assert_not_null(hmget);
    cr_expect_str_eq(hmget->argv[hmget->argc - 1], LM_F_SLOT_OF "0",
                     "the lead's read asks for the answered touch's slot");
    const char *levels[] = {
        LM_LEARN_KEY_PREFIX "*|manager" LM_LEARN_KEY_SUFFIX,
        LM_LEARN_KEY_PREFIX "NA|manager" LM_LEARN_KEY_SUFFIX,
        LM_LEARN_KEY_PREFIX "NA/mid|manager" LM_LEARN_KEY_SUFFIX,
        LM_LEARN_KEY_PREFIX
        "NA/mid|manager.qualified.email" LM_LEARN_KEY_SUFFIX};
    for (size_t k = 0; k < 4; k++) {
        int hit = 0, wrong = 0;
        for (size_t i = 0; i < lm_recorder_n_index(rec); i++) {
            const lm_recorded_cmd *c = lm_recorder_index(rec, i);
            if (c->argc != 4 || strcmp(c->argv[0], "HINCRBY") != 0 ||
                strcmp(c->argv[1], levels[k]) != 0)
                continue;
            hit += strcmp(c->argv[2], "40:s") == 0;
            wrong += strcmp(c->argv[2], "10:s") == 0;
        }
        cr_expect_eq(hit, 1, "%s: the answered touch's slot", levels[k]);
        cr_expect_eq(wrong, 0, "%s: not the last touch's", levels[k]);
    }
}

Test(worker_timing, a_timer_for_a_closed_or_moved_on_lead_does_nothing) {
    lead_state closed = waiting, moved = waiting;
    closed.status = "closed";
    moved.step = "2"; /* a response or another timer moved it on */
    const lead_state *states[] = {&closed, &moved};
    for (size_t i = 0; i < 2; i++) {
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in =
            timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS - HOUR_MS);
        give_state(in, states[i], NULL);
        run(in, "stale");
        cr_expect_eq(emits(), 0, "case %zu", i);
        cr_expect_eq(lm_recorder_n_index(rec), 0, "case %zu: nothing learned",
                     i);
        cr_expect_eq(
            lm_recorder_counted(rec, "lastmile_timers_stale_total", NULL), 1);
    }
    /* the closed lead's hash is not touched at all */
    lm_recorder_reset(rec);
    timing_ev x;
    ProtobufCMessage *in = timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS - HOUR_MS);
    give_state(in, &closed, NULL);
    run(in, "closed");
    cr_expect_eq(lm_recorder_n_writes(rec), 0);
}

/* ---------------------------------------------------------- rejections */

/* Issue 14, item 5: lastmile.timing is writable by connectors, and a
 * forged TimerFired skipped a lead's response window. A timer not yet due
 * cannot have come from the sweeper: it is refused (the runtime keeps
 * none of a refused input's writes). */
Test(worker_timing, a_timer_not_yet_due_is_refused) {
    timing_ev x;
    ProtobufCMessage *in = timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS + HOUR_MS);
    give_state(in, &waiting, NULL);
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), 0);
    cr_assert_not_null(lm_recorder_rejected(rec), "a forged timer was taken");
    cr_expect(strstr(lm_recorder_rejected(rec),
                     "timer_fired.due_at_ms: 1767610800000 is in the future"),
              "%s", lm_recorder_rejected(rec));
    cr_expect_eq(emits(), 0, "no next touch, no outcome");
}

Test(worker_timing, malformed_input_is_refused_with_a_reason) {
    timing_ev x;
    Lastmile__V1__TimingEvent empty = LASTMILE__V1__TIMING_EVENT__INIT;
    struct {
        const char *what, *want;
        int kind, event_id; /* which field to break */
    } cases[] = {
        {"neither timer nor response", "neither", 0, 0},
        {"a lead id not made by lastmile", "lead_id", 1, 0},
        {"a response without an event id", "event_id", 2, 0},
        {"an unknown response kind", "(REPLIED=1 .. LOST=8)", 3, 0},
        {"a return date before 1970", "response.returns_at_ms", 6, 0},
        {"a negative deal", "deal_value_cents", 4, 0},
        {"a timer for a lead id not made by lastmile", "lead_id", 5, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        ProtobufCMessage *in =
            response(&x, "resp-2", LASTMILE__V1__RESPONSE_KIND__REPLIED, 0);
        switch (cases[i].kind) {
        case 0:
            in = &empty.base;
            break;
        case 1:
            x.r.lead_id = "lead-7";
            break;
        case 2:
            x.r.event_id = "";
            break;
        case 3:
            x.r.kind = (Lastmile__V1__ResponseKind)9;
            break;
        case 4:
            x.r.deal_value_cents = -5;
            break;
        case 6:
            x.r.returns_at_ms = -1;
            break;
        default:
            in = timer_fired(&x, "lead-7", 1, SEGMENT, NOW_MS);
        }
        lm_recorder_reset(rec);
        cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), -1,
                     "%s", cases[i].what);
        const char *why = lm_recorder_rejected(rec);
        cr_assert_not_null(why, "%s", cases[i].what);
        cr_expect(strstr(why, cases[i].want), "%s: %s", cases[i].what, why);
        cr_expect_eq(emits(), 0);
    }
}

Test(worker_timing, a_timer_it_cannot_place_is_refused_with_a_reason) {
    static const struct {
        const char *what;
        lead_state st;
        const char *want;
    } cases[] = {
        {"no cadence state",
         {"open", "1", NULL, "Europe/London", "0"},
         "no cadence state"},
        {"an unknown cadence",
         {"open", "1", "weekly", "Europe/London", "0"},
         "no cadence state"},
        {"a time zone that does not exist",
         {"open", "1", "qualified", "Mars/Olympus", "0"},
         "timezone"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in =
            timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS - HOUR_MS);
        give_state(in, &cases[i].st, NULL);
        cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), 0,
                     "%s", cases[i].what);
        const char *why = lm_recorder_rejected(rec);
        cr_assert_not_null(why, "%s", cases[i].what);
        cr_expect(strstr(why, cases[i].want), "%s: %s", cases[i].what, why);
    }
}

Test(worker_timing, the_wait_in_kafka_is_added_to_an_open_lead_only) {
    lm_recorder_set_times(rec, NOW_MS - 5000, 700);
    lead_state closed = waiting;
    closed.status = "closed";
    const lead_state *states[] = {&waiting, &closed};
    for (size_t i = 0; i < 2; i++) {
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in =
            timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS - HOUR_MS);
        give_state(in, states[i], NULL);
        run(in, "wait");
        char key[LM_KEY_MAX];
        lm_lead_key(LEAD, key);
        int ms = 0;
        for (size_t w = 0; w < lm_recorder_n_writes(rec); w++) {
            const lm_recorded_cmd *c = lm_recorder_write(rec, w);
            ms |= c->argc == 4 && !strcmp(c->argv[0], "HINCRBY") &&
                  !strcmp(c->argv[1], key) &&
                  !strcmp(c->argv[2], "wait_timing_ms") &&
                  !strcmp(c->argv[3], "700");
        }
        cr_expect_eq(ms, i == 0, "lead %s", states[i]->status);
    }
}

Test(worker_timing, a_redelivered_timer_chooses_the_same_time) {
    /* the learning arm samples, seeded by the lead and the step: decided
       again (a redelivery), it must choose what it chose, byte for byte */
    const char *flat[] = {"58:s", "3", "63:s", "3", "82:f", "2", NULL};
    lead_state st = waiting;
    st.adaptive = "1";
    uint8_t first[512];
    size_t first_len = 0;
    for (int run_no = 0; run_no < 2; run_no++) {
        lm_recorder_reset(rec);
        timing_ev x;
        ProtobufCMessage *in =
            timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS - HOUR_MS);
        give_state(in, &st, flat);
        run(in, "redelivered");
        const lm_recorded_emit *e = lm_recorder_emit_on(rec, LM_TOPIC_FOLLOWUP);
        cr_assert_not_null(e);
        cr_assert_lt(e->len, sizeof(first));
        if (run_no == 0) {
            memcpy(first, e->data, e->len);
            first_len = e->len;
        } else {
            cr_expect_eq(e->len, first_len);
            cr_expect(memcmp(e->data, first, first_len) == 0,
                      "the same next touch");
        }
    }
}

/* A config whose third qualified step is an email "at: now" a day after
 * the second's window: timing must schedule it as soon as the wait is
 * over, on the learning arm too, whatever the learned slots say. */
Test(worker_timing, a_later_step_at_once_is_not_moved_by_learning) {
    static const char yaml[] =
        "thresholds: { qualified: 0.5, nurture: 0.2 }\n"
        "channels:\n"
        "  email: { cost: \"0.02\" }\n"
        "  call: { cost: \"4.50\", human: true }\n"
        "teams:\n  na:\n    owners: [ { name: alex.kim, capacity: 5 } ]\n"
        "routing: [ { team: na } ]\n"
        "cadences:\n"
        "  qualified:\n"
        "    steps:\n"
        "      - { channel: email, response_window: 1h, at: now }\n"
        "      - { channel: call, response_window: 1d }\n"
        "      - { channel: email, wait: 1d, response_window: 1d, at: now }\n"
        "      - { channel: email, response_window: 1d }\n"
        "  nurture:\n"
        "    steps: [ { channel: email, response_window: 1d, at: now } ]\n";
    char path[] = "/tmp/lm_timing_at_now.XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fputs(yaml, f) >= 0 && fclose(f) == 0, 1);
    lm_timing_worker.fini(lm_timing_worker.ctx);
    lm_settings s;
    char err[1024] = "";
    memset(&s, 0, sizeof(s));
    s.config_path = path;
    cr_assert_eq(
        lm_timing_worker.init(lm_timing_worker.ctx, &s, err, sizeof(err)), 0,
        "%s", err);
    unlink(path);

    /* every slot failed a thousand times but Wednesday 15h (slot 63) */
    static char fields[168][16], counts[168][8];
    const char *pairs[2 * 168 + 1];
    size_t n = 0;
    for (int k = 0; k < 168; k++) {
        snprintf(fields[k], sizeof(fields[k]), "%d:%c", k, k == 63 ? 's' : 'f');
        snprintf(counts[k], sizeof(counts[k]), "1000");
        pairs[n++] = fields[k];
        pairs[n++] = counts[k];
    }
    pairs[n] = NULL;
    static const char *const arms[2] = {"0", "1"};
    for (int arm = 0; arm < 2; arm++) {
        lm_recorder_reset(rec);
        lead_state st = waiting; /* step 1, qualified, London */
        st.adaptive = arms[arm];
        timing_ev x;
        ProtobufCMessage *in =
            timer_fired(&x, LEAD, 1, SEGMENT, NOW_MS - HOUR_MS);
        give_state(in, &st, pairs);
        run(in, "a step at once");
        Lastmile__V1__FollowUpEvent *ev =
            (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
                rec, 0, &lastmile__v1__follow_up_event__descriptor);
        cr_assert_not_null(ev);
        cr_assert_not_null(ev->next_touch);
        cr_expect_eq(ev->next_touch->step, 2);
        cr_expect_eq(ev->next_touch->scheduled_for_ms, NOW_MS + DAY_MS,
                     "arm %s: a day after the timer, not moved: %lld",
                     arms[arm], (long long)ev->next_touch->scheduled_for_ms);
        cr_expect_eq(ev->next_touch->slot, 24 + 10, "Tuesday 10:00 London");
        protobuf_c_message_free_unpacked(&ev->base, NULL);
    }
}
