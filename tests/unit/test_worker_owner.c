/* test_worker_owner.c — owner deadlines through the recorder (no Kafka,
 * no Redis): followup gives a human step a deadline in its owner's
 * working time and arms it; the sweeper's fire_timer builds the
 * TimerFired of a deadline; timing, at each level: a reminder (level 0),
 * a reassignment to a teammate with room by routing's rule (level 1, or at
 * once when the owner is AWAY; a NURTURE lead holds no slot), an escalation to
 * the team's lead (level 2, or when nobody has room); followup gives a
 * reassigned step to its new owner; a stale deadline does nothing;
 * OwnerActivity cancels or moves the deadline and records the first human
 * contact; OwnerStatus is recorded for routing; bad owner events are refused
 * with the field.
 *
 * The built-in config: team na (America/New_York, 09:00-17:00, lead
 * erin.walsh; alex.kim, sam.ortiz, jordan.blake), the qualified cadence's
 * step 1 is a call with a 5-minute deadline, the hand-off's is 1h. */
#include "followup.h"
#include "lm_lead.h"
#include "lm_recorder.h"
#include "lm_sla.h"
#include "lm_timers.h"
#include "timing.h"
#include "worker_testutil.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define NOW_MS      1767625200000LL /* 2026-01-05T15:00:00Z: Monday 10:00 NY */
#define MIN_MS      60000LL
#define LEAD        "0123456789abcdef-01234567"
#define ACT         LEAD ":action:1"
#define DAY_MS_TEST (24 * 60 * MIN_MS)

static lm_policy *policy;

static void setup(void) {
    char err[1024] = "";
    policy = lm_policy_load(NULL, err, sizeof(err));
    cr_assert_not_null(policy, "%s", err);
}

static void teardown(void) {
    lm_policy_free(policy);
}

TestSuite(worker_owner, .init = setup, .fini = teardown);

/* ------------------------------------------------------------ helpers */

/* Whether an index command armed (ZADD) or cancelled (ZREM) the
 * deadline (level, step, action, owner) of LEAD, and at which due. */
static const lm_recorded_cmd *deadline_cmd(lm_recorder *rec, const char *cmd,
                                           int level, int step,
                                           const char *action,
                                           const char *owner) {
    lm_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.lead, sizeof(t.lead), "%s", LEAD);
    snprintf(t.kind, sizeof(t.kind), "%s", LM_SLA_TIMER_DEADLINE);
    int n = lm_sla_payload(level, step, action, owner, t.payload,
                           sizeof(t.payload));
    cr_assert_gt(n, 0);
    t.payload_len = (size_t)n;
    char member[LM_TIMERS_MEMBER_MAX];
    size_t mlen;
    cr_assert_eq(lm_timers_encode(&t, member, &mlen), 0);
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_index(rec, i);
        int at = strcmp(c->argv[0], "ZADD") == 0 ? 3 : 2;
        if (strcmp(c->argv[0], cmd) == 0 && c->argc == at + 1 &&
            c->lens[at] == mlen && memcmp(c->argv[at], member, mlen) == 0)
            return c;
    }
    return NULL;
}

static Lastmile__V1__FollowUpAction *action_emitted(lm_recorder *rec) {
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++)
        if (strcmp(lm_recorder_emit(rec, i)->topic, "actions") == 0)
            return (Lastmile__V1__FollowUpAction *)lm_recorder_emit_unpack(
                rec, i, &lastmile__v1__follow_up_action__descriptor);
    return NULL;
}

static void lead_key(char key[LM_KEY_MAX]) {
    lm_lead_key(LEAD, key);
}

/* ------------------------------------------------------------ followup */

Test(worker_owner, a_call_step_gets_a_deadline_in_working_time) {
    lm_recorder *rec = worker_test_start(&lm_followup_worker);
    Lastmile__V1__NextTouch nt = LASTMILE__V1__NEXT_TOUCH__INIT;
    nt.touch_id = LEAD ":touch:1";
    nt.lead_id = LEAD;
    nt.step = 1;
    /* 16:58 in New York: 2 working minutes left today */
    nt.scheduled_for_ms = NOW_MS + 6 * 60 * MIN_MS + 58 * MIN_MS;
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH;
    ev.next_touch = &nt;
    const char *hash[] = {LM_F_STATUS,
                          "open",
                          LM_F_CADENCE,
                          "qualified",
                          LM_F_TZ,
                          "America/New_York",
                          LM_F_OWNER,
                          "alex.kim",
                          LM_F_TEAM,
                          "na",
                          LM_F_SEGMENT,
                          "NA/mid",
                          LM_F_ADAPTIVE,
                          "0",
                          LM_F_SUBMITTED,
                          "1767600000000",
                          LM_F_TOUCHES,
                          "1",
                          NULL};
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, &ev.base,
                                        NOW_MS, hash),
                 0);
    cr_assert_eq(lm_recorder_handle(rec, &lm_followup_worker, &ev.base, NOW_MS),
                 0);
    Lastmile__V1__FollowUpAction *a = action_emitted(rec);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->channel, "call");
    cr_expect(a->human);
    cr_expect_str_eq(a->team, "na");
    cr_expect_eq(a->scheduled_for_ms, nt.scheduled_for_ms);
    /* 5 working minutes from 16:58: 09:03 on Tuesday */
    int64_t want = NOW_MS + DAY_MS_TEST - 60 * MIN_MS + 3 * MIN_MS;
    cr_expect_eq(a->due_by_ms, want, "due %lld want %lld",
                 (long long)a->due_by_ms, (long long)want);
    const lm_recorded_cmd *z = deadline_cmd(rec, "ZADD", 0, 1, ACT, "alex.kim");
    cr_assert_not_null(z, "the level-0 deadline is armed");
    char due[32], key[LM_KEY_MAX];
    snprintf(due, sizeof(due), "%lld", (long long)want);
    cr_expect_str_eq(z->argv[2], due);
    lead_key(key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_ACTION), ACT);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_LEVEL), "0");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_DUE), due);
    /* when people were first due to act (the report's human delay) */
    char sched[32];
    snprintf(sched, sizeof(sched), "%lld", (long long)a->scheduled_for_ms);
    const lm_recorded_cmd *nx = lm_recorder_find(rec, "HSETNX", key);
    cr_assert_not_null(nx);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_HUMAN_DUE), sched);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    worker_test_stop(&lm_followup_worker, rec);
}

/* ------------------------------------------------------------- timing */

typedef struct load {
    const char *owner;
    long long n;
} load;

/* Gives timing's plan its replies: the lead hash (`pairs`, for timing's
 * HMGET and the owner hook's), the segment's statistics (none), and for a
 * deadline every owner's load (`loads`, else 0) and state (`away`: AWAY
 * until BACK, else none). */
static void give(lm_recorder *rec, ProtobufCMessage *in,
                 const char *const *pairs, const load *loads,
                 const char *away) {
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS, pairs), 0);
    lm_recorder_reply_strs(rec, 0, NULL);
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS, pairs), 0);
    const Lastmile__V1__TimingEvent *ev = (const Lastmile__V1__TimingEvent *)in;
    if (ev->event_case != LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED)
        return;
    lm_recorder_reply_str(rec, "OK"); /* the WATCH of the owners' loads */
    for (size_t i = 0; i < lm_policy_team_count(policy); i++) {
        const lm_team *t = lm_policy_team_at(policy, i);
        for (size_t j = 0; j < t->n_owners; j++) {
            long long n = 0;
            for (const load *l = loads; l && l->owner; l++)
                if (strcmp(l->owner, t->owners[j].name) == 0)
                    n = l->n;
            lm_recorder_reply_int(rec, n);
            const char *st[] = {LM_SLA_STATE_STATUS, "AWAY", LM_SLA_STATE_UNTIL,
                                "0", NULL};
            const char *none[] = {NULL};
            cr_assert_eq(
                lm_recorder_reply_hash(
                    rec, &lm_timing_worker, in, NOW_MS,
                    away && strcmp(away, t->owners[j].name) == 0 ? st : none),
                0);
        }
    }
}

typedef struct deadline_ev {
    Lastmile__V1__TimerFired t;
    Lastmile__V1__TimingEvent ev;
    char id[LM_ID_MAX];
} deadline_ev;

static ProtobufCMessage *deadline_fired(deadline_ev *x, const char *action,
                                        int level, int64_t due) {
    lastmile__v1__timer_fired__init(&x->t);
    lastmile__v1__timing_event__init(&x->ev);
    snprintf(x->id, sizeof(x->id), "%s:deadline:%d", action, level);
    x->t.timer_id = x->id;
    x->t.lead_id = LEAD;
    x->t.step = 1;
    x->t.due_at_ms = due;
    x->t.fired_at_ms = NOW_MS;
    x->t.action_id = (char *)action;
    x->t.kind = LM_SLA_TIMER_DEADLINE;
    x->t.level = level;
    x->ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    x->ev.timer_fired = &x->t;
    return &x->ev.base;
}

typedef struct response_ev {
    Lastmile__V1__LeadResponse r;
    Lastmile__V1__TimingEvent ev;
} response_ev;

/* The lead's answer of `kind` (event id event_id), now. */
static ProtobufCMessage *response_ev_of(response_ev *x, const char *event_id,
                                        Lastmile__V1__ResponseKind kind) {
    lastmile__v1__lead_response__init(&x->r);
    lastmile__v1__timing_event__init(&x->ev);
    x->r.event_id = (char *)event_id;
    x->r.lead_id = LEAD;
    x->r.kind = kind;
    x->r.occurred_at_ms = NOW_MS;
    x->ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    x->ev.response = &x->r;
    return &x->ev.base;
}

#define DUE   (NOW_MS - 1000)
#define DUE_S "1767625199000"
#define LEAD_H                                                                 \
    LM_F_STATUS, "open", LM_F_CADENCE, "qualified", LM_F_TZ,                   \
        "America/New_York", LM_F_OWNER, "alex.kim", LM_F_TEAM, "na",           \
        LM_F_SEGMENT, "NA/mid", LM_F_DECISION, "QUALIFIED", LM_F_SCORE, "0.8", \
        LM_F_STEP, "1"

static lm_recorder *timing_run(ProtobufCMessage *in, const char *const *pairs,
                               const load *loads, const char *away) {
    lm_recorder *rec = worker_test_start(&lm_timing_worker);
    give(rec, in, pairs, loads, away);
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), 0,
                 "%s",
                 lm_recorder_rejected(rec) ? lm_recorder_rejected(rec) : "");
    cr_expect_null(lm_recorder_rejected(rec));
    return rec;
}

Test(worker_owner, fire_timer_builds_the_deadline_event) {
    lm_recorder *rec = worker_test_start(&lm_timing_worker);
    lm_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.lead, sizeof(t.lead), "%s", LEAD);
    snprintf(t.kind, sizeof(t.kind), "%s", LM_SLA_TIMER_DEADLINE);
    t.due_ms = DUE;
    int n = lm_sla_payload(1, 1, ACT, "alex.kim", t.payload, sizeof(t.payload));
    t.payload_len = (size_t)n;
    lm_timers_fired *f = lm_timers_fired_new(&lm_timing_worker);
    cr_assert_eq(
        lm_timing_worker.fire_timer(lm_timing_worker.ctx, &t, NOW_MS, f), 0);
    cr_assert_eq(lm_timers_fired_count(f), 1);
    const lm_emit_req *e = lm_timers_fired_get(f, 0);
    cr_expect_str_eq(e->topic_suffix, "timing");
    cr_expect_str_eq(e->id, ACT ":deadline:1@" DUE_S);
    const Lastmile__V1__TimingEvent *te =
        (const Lastmile__V1__TimingEvent *)e->msg;
    cr_assert_eq(te->event_case, LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED);
    cr_expect_str_eq(te->timer_fired->kind, "owner_deadline");
    cr_expect_eq(te->timer_fired->level, 1);
    cr_expect_str_eq(te->timer_fired->action_id, ACT);
    cr_expect_str_eq(te->timer_fired->timer_id, ACT ":deadline:1");
    cr_expect_eq(te->timer_fired->due_at_ms, DUE);
    /* a payload it cannot read is refused (dropped by the sweep) */
    memcpy(t.payload, "x|y", 4);
    t.payload_len = 3;
    cr_expect_eq(
        lm_timing_worker.fire_timer(lm_timing_worker.ctx, &t, NOW_MS, f), -1);
    lm_timers_fired_free(f);
    worker_test_stop(&lm_timing_worker, rec);
}

/* A deadline not yet due cannot have come from the sweeper (a connector
 * may write lastmile.timing): it is refused, nobody is reminded. */
Test(worker_owner, a_deadline_not_yet_due_is_refused) {
    deadline_ev x;
    ProtobufCMessage *in = deadline_fired(&x, ACT, 0, NOW_MS + 60 * MIN_MS);
    const char *h[] = {LEAD_H,     LM_F_SLA_ACTION, ACT, LM_F_SLA_OWNER,
                       "alex.kim", LM_F_SLA_LEVEL,  "0", LM_F_SLA_DUE,
                       DUE_S,      LM_F_SLA_STEP,   "1", NULL};
    lm_recorder *rec = worker_test_start(&lm_timing_worker);
    give(rec, in, h, NULL, NULL);
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), 0);
    cr_assert_not_null(lm_recorder_rejected(rec),
                       "a forged deadline was taken");
    cr_expect(strstr(lm_recorder_rejected(rec), "is in the future"), "%s",
              lm_recorder_rejected(rec));
    cr_expect_eq(lm_recorder_n_emits(rec), 0, "no reminder");
    cr_expect_eq(lm_recorder_n_writes(rec), 0, "the lead hash is untouched");
    cr_expect_eq(lm_recorder_n_index(rec), 0, "no deadline armed");
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, level_0_reminds_the_same_owner) {
    deadline_ev x;
    ProtobufCMessage *in = deadline_fired(&x, ACT, 0, DUE);
    const char *h[] = {LEAD_H,     LM_F_SLA_ACTION, ACT, LM_F_SLA_OWNER,
                       "alex.kim", LM_F_SLA_LEVEL,  "0", LM_F_SLA_DUE,
                       DUE_S,      LM_F_SLA_STEP,   "1", NULL};
    lm_recorder *rec = timing_run(in, h, NULL, NULL);
    cr_assert_eq(lm_recorder_n_emits(rec), 1);
    Lastmile__V1__FollowUpAction *a = action_emitted(rec);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->action_id, ACT ":reminder");
    cr_expect_eq(a->kind, LASTMILE__V1__ACTION_KIND__REMINDER);
    cr_expect_str_eq(a->owner, "alex.kim");
    cr_expect_str_eq(a->reason, "sla_breach");
    cr_expect_str_eq(a->channel, "call");
    cr_expect_eq(a->due_by_ms, NOW_MS + 5 * MIN_MS);
    const lm_recorded_cmd *z = deadline_cmd(rec, "ZADD", 1, 1, ACT, "alex.kim");
    cr_assert_not_null(z, "level 1 armed");
    char key[LM_KEY_MAX];
    lead_key(key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_LEVEL), "1");
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_owner_reminders_total", NULL), 1);
    char f[LM_SLA_STAT_FIELD_MAX];
    lm_sla_stat_field(LM_SLA_STAT_REMINDERS, "na", "alex.kim", f);
    char stats[LM_KEY_MAX];
    lm_sla_stats_key(f, stats); /* the field's bucket */
    int counted = 0;
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_index(rec, i);
        counted += strcmp(c->argv[0], "HINCRBY") == 0 &&
                   strcmp(c->argv[1], stats) == 0 && strcmp(c->argv[2], f) == 0;
    }
    cr_expect_eq(counted, 1, "the report's count of reminders");
    protobuf_c_message_free_unpacked(&a->base, NULL);
    worker_test_stop(&lm_timing_worker, rec);
}

static void expect_reassigned_to(lm_recorder *rec, const char *to) {
    const lm_recorded_emit *e = lm_recorder_emit_on(rec, "followup");
    cr_assert_not_null(e, "a decision on lastmile.followup");
    cr_expect_str_eq(e->id, LEAD ":decision:1");
    Lastmile__V1__FollowUpEvent *ev =
        lastmile__v1__follow_up_event__unpack(NULL, e->len, e->data);
    cr_assert_not_null(ev);
    cr_assert_eq(ev->event_case, LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION);
    cr_expect_str_eq(ev->decision->decision_id, LEAD ":decision:1");
    cr_expect_str_eq(ev->decision->reason, "sla_breach");
    cr_expect_str_eq(ev->decision->owner, to);
    cr_expect_str_eq(ev->decision->team, "na");
    cr_expect_eq(ev->decision->kind, LASTMILE__V1__DECISION_KIND__QUALIFIED);
    cr_expect_not_null(ev->decision->lead);
    lastmile__v1__follow_up_event__free_unpacked(ev, NULL);
    char key[LM_KEY_MAX], to_set[LM_KEY_MAX];
    lead_key(key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_OWNER), to);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_REASSIGNMENTS), "1");
    lm_lead_team_open_key("na", to, to_set);
    cr_expect_not_null(lm_recorder_find(rec, "SADD", to_set));
    cr_expect_not_null(
        lm_recorder_find(rec, "SREM", "lm:{team:na}:open:alex.kim"));
    cr_expect_null(action_emitted(rec), "no reminder");
}

static void expect_escalated(lm_recorder *rec, const char *id) {
    Lastmile__V1__FollowUpAction *a = action_emitted(rec);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->action_id, id);
    cr_expect_eq(a->kind, LASTMILE__V1__ACTION_KIND__ESCALATION);
    cr_expect_str_eq(a->owner, "erin.walsh", "the team's lead");
    cr_expect_str_eq(a->team, "na");
    cr_expect_str_eq(a->reason, "sla_breach");
    protobuf_c_message_free_unpacked(&a->base, NULL);
    char key[LM_KEY_MAX];
    lead_key(key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_LEVEL), "done");
    cr_expect_null(lm_recorder_emit_on(rec, "followup"));
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++)
        cr_expect_null(strstr(lm_recorder_index(rec, i)->argv[1], "timers"),
                       "nothing more is armed");
}

Test(worker_owner, level_1_goes_to_a_teammate_with_room_by_routing_rule) {
    deadline_ev x;
    ProtobufCMessage *in = deadline_fired(&x, ACT, 1, DUE);
    const char *h[] = {LEAD_H,     LM_F_SLA_ACTION, ACT, LM_F_SLA_OWNER,
                       "alex.kim", LM_F_SLA_LEVEL,  "1", LM_F_SLA_DUE,
                       DUE_S,      LM_F_SLA_STEP,   "1", NULL};
    /* sam.ortiz is full (capacity 60): jordan.blake, whoever the round
       robin points at first */
    static const load loads[] = {
        {"alex.kim", 10}, {"sam.ortiz", 60}, {"jordan.blake", 1}, {NULL, 0}};
    lm_recorder *rec = timing_run(in, h, loads, NULL);
    expect_reassigned_to(rec, "jordan.blake");
    worker_test_stop(&lm_timing_worker, rec);
    /* a count that is no count (edited by hand): the first reassignment,
       not a deadline that fails for good (the old code made no id for
       -4 and dead-lettered the deadline) */
    const char *bad[] = {LM_F_REASSIGNMENTS,
                         "-5",
                         LEAD_H,
                         LM_F_SLA_ACTION,
                         ACT,
                         LM_F_SLA_OWNER,
                         "alex.kim",
                         LM_F_SLA_LEVEL,
                         "1",
                         LM_F_SLA_DUE,
                         DUE_S,
                         LM_F_SLA_STEP,
                         "1",
                         NULL};
    rec = timing_run(in, bad, loads, NULL);
    expect_reassigned_to(rec, "jordan.blake");
    worker_test_stop(&lm_timing_worker, rec);
    /* jordan.blake away, sam.ortiz full: nobody, the team's lead */
    rec = timing_run(in, h, loads, "jordan.blake");
    expect_escalated(rec, ACT ":escalation");
    worker_test_stop(&lm_timing_worker, rec);
}

/* A NURTURE lead holds no slot (routing_options.nurture_takes_capacity is
 * off): its reassignment ignores loads and moves no load — no owner's
 * open set gains or loses it. */
Test(worker_owner, a_nurture_lead_is_reassigned_without_a_slot) {
    deadline_ev x;
    ProtobufCMessage *in = deadline_fired(&x, ACT, 1, DUE);
    const char *h[] = {LM_F_STATUS,
                       "open",
                       LM_F_CADENCE,
                       "nurture",
                       LM_F_TZ,
                       "America/New_York",
                       LM_F_OWNER,
                       "alex.kim",
                       LM_F_TEAM,
                       "na",
                       LM_F_SEGMENT,
                       "NA/mid",
                       LM_F_DECISION,
                       "NURTURE",
                       LM_F_SCORE,
                       "0.3",
                       LM_F_STEP,
                       "1",
                       LM_F_HOLDS,
                       "0",
                       LM_F_SLA_ACTION,
                       ACT,
                       LM_F_SLA_OWNER,
                       "alex.kim",
                       LM_F_SLA_LEVEL,
                       "1",
                       LM_F_SLA_DUE,
                       DUE_S,
                       LM_F_SLA_STEP,
                       "1",
                       NULL};
    static const load full[] = {
        {"alex.kim", 60}, {"sam.ortiz", 60}, {"jordan.blake", 40}, {NULL, 0}};
    lm_recorder *rec = timing_run(in, h, full, "sam.ortiz");
    const lm_recorded_emit *e = lm_recorder_emit_on(rec, "followup");
    cr_assert_not_null(e, "reassigned although every teammate is full");
    Lastmile__V1__FollowUpEvent *ev =
        lastmile__v1__follow_up_event__unpack(NULL, e->len, e->data);
    cr_assert_not_null(ev);
    cr_expect_str_eq(ev->decision->owner, "jordan.blake",
                     "sam.ortiz is away, alex.kim let it pass");
    cr_expect_eq(ev->decision->kind, LASTMILE__V1__DECISION_KIND__NURTURE);
    lastmile__v1__follow_up_event__free_unpacked(ev, NULL);
    cr_expect_null(
        lm_recorder_find(rec, "SADD", "lm:{team:na}:open:jordan.blake"),
        "no slot taken");
    cr_expect_null(lm_recorder_find(rec, "SREM", "lm:{team:na}:open:alex.kim"),
                   "no slot to release");
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, an_away_owner_is_not_reminded_the_lead_moves_on) {
    deadline_ev x;
    ProtobufCMessage *in = deadline_fired(&x, ACT, 0, DUE);
    const char *h[] = {LEAD_H,     LM_F_SLA_ACTION, ACT, LM_F_SLA_OWNER,
                       "alex.kim", LM_F_SLA_LEVEL,  "0", LM_F_SLA_DUE,
                       DUE_S,      LM_F_SLA_STEP,   "1", NULL};
    static const load loads[] = {{"jordan.blake", 40}, {NULL, 0}};
    lm_recorder *rec = timing_run(in, h, loads, "alex.kim");
    expect_reassigned_to(rec, "sam.ortiz");
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, level_1_with_nobody_with_room_escalates) {
    deadline_ev x;
    ProtobufCMessage *in = deadline_fired(&x, ACT, 1, DUE);
    const char *h[] = {LEAD_H,     LM_F_SLA_ACTION, ACT, LM_F_SLA_OWNER,
                       "alex.kim", LM_F_SLA_LEVEL,  "1", LM_F_SLA_DUE,
                       DUE_S,      LM_F_SLA_STEP,   "1", NULL};
    static const load full[] = {
        {"sam.ortiz", 60}, {"jordan.blake", 40}, {NULL, 0}};
    lm_recorder *rec = timing_run(in, h, full, NULL);
    expect_escalated(rec, ACT ":escalation");
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, level_2_escalates_to_the_team_lead) {
    deadline_ev x;
    ProtobufCMessage *in = deadline_fired(&x, ACT ":r1", 2, DUE);
    const char *h[] = {LEAD_H,
                       LM_F_SLA_ACTION,
                       ACT ":r1",
                       LM_F_SLA_OWNER,
                       "jordan.blake",
                       LM_F_SLA_LEVEL,
                       "2",
                       LM_F_SLA_DUE,
                       DUE_S,
                       LM_F_SLA_STEP,
                       "1",
                       LM_F_REASSIGNMENTS,
                       "1",
                       NULL};
    lm_recorder *rec = timing_run(in, h, NULL, NULL);
    expect_escalated(rec, ACT ":r1:escalation");
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_owner_escalations_total", NULL), 1);
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, a_stale_deadline_does_nothing) {
    deadline_ev x;
    ProtobufCMessage *in = deadline_fired(&x, ACT, 0, DUE);
    static const char *const cases[][2] = {
        {LM_F_SLA_DUE, "1767625300000"},     /* snoozed past it */
        {LM_F_SLA_LEVEL, "done"},            /* done */
        {LM_F_SLA_ACTION, LEAD ":action:3"}, /* a later step */
    };
    for (size_t i = 0; i < 3; i++) {
        /* the case's field first: the recorder takes a field's first value */
        const char *h[] = {
            cases[i][0], cases[i][1],    LEAD_H,     LM_F_SLA_ACTION,
            ACT,         LM_F_SLA_OWNER, "alex.kim", LM_F_SLA_LEVEL,
            "0",         LM_F_SLA_DUE,   DUE_S,      NULL};
        lm_recorder *rec = timing_run(in, h, NULL, NULL);
        cr_expect_eq(lm_recorder_n_emits(rec), 0, "case %zu", i);
        cr_expect_eq(lm_recorder_n_index(rec), 0, "case %zu", i);
        cr_expect_eq(lm_recorder_counted(
                         rec, "lastmile_owner_deadlines_stale_total", NULL),
                     1);
        worker_test_stop(&lm_timing_worker, rec);
    }
}

/* followup handles timing's reassignment `decision_id` (to jordan.blake)
 * with the lead hash h (NULL-terminated field, value pairs). */
static lm_recorder *followup_reassigned(const char *decision_id,
                                        const char *const *h) {
    lm_recorder *rec = worker_test_start(&lm_followup_worker);
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = LEAD;
    Lastmile__V1__QualificationDecision d =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    d.decision_id = (char *)decision_id;
    d.lead_id = LEAD;
    d.kind = LASTMILE__V1__DECISION_KIND__QUALIFIED;
    d.owner = "jordan.blake";
    d.team = "na";
    d.lead = &l;
    d.reason = "sla_breach";
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    ev.decision = &d;
    /* one HMGET: the cadence's and the owner deadline's fields */
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_followup_worker, &ev.base, NOW_MS, h),
        0);
    cr_assert_eq(lm_recorder_handle(rec, &lm_followup_worker, &ev.base, NOW_MS),
                 0);
    cr_expect_null(lm_recorder_rejected(rec));
    return rec;
}

/* followup skipped the reassignment as superseded: nothing sent, no
 * deadline armed, counted; stops rec. */
static void expect_superseded(lm_recorder *rec) {
    cr_expect_eq(lm_recorder_n_emits(rec), 0, "superseded: nothing to send");
    cr_expect_eq(lm_recorder_n_index(rec), 0, "no deadline armed");
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_followup_skipped_total",
                                     "reason=\"sla_superseded\""),
                 1);
    worker_test_stop(&lm_followup_worker, rec);
}

/* A lead closed other than by a sale (here it unsubscribed) while its
 * owner's step waited: the step's deadline is stale. The old code reminded
 * the owner to call someone who had unsubscribed (a lead closed before
 * closing dropped the step may still fire one). A sale's still reminds:
 * the hand-off is the buyer's first contact. */
Test(worker_owner, a_deadline_of_a_closed_lead_is_stale_unless_sold) {
    deadline_ev x;
    ProtobufCMessage *in = deadline_fired(&x, ACT, 0, DUE);
    /* the case's fields first: the recorder takes a field's first value */
    const char *h[] = {
        LM_F_STATUS, "closed",        LM_F_OUTCOME, "UNSUBSCRIBED_OUTCOME",
        LEAD_H,      LM_F_SLA_ACTION, ACT,          LM_F_SLA_OWNER,
        "alex.kim",  LM_F_SLA_LEVEL,  "0",          LM_F_SLA_DUE,
        DUE_S,       LM_F_SLA_STEP,   "1",          NULL};
    lm_recorder *rec = timing_run(in, h, NULL, NULL);
    cr_expect_eq(lm_recorder_n_emits(rec), 0, "nobody reminded");
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_owner_deadlines_stale_total", NULL),
        1);
    worker_test_stop(&lm_timing_worker, rec);

    h[3] = "CONVERTED_OUTCOME";
    rec = timing_run(in, h, NULL, NULL);
    Lastmile__V1__FollowUpAction *a = action_emitted(rec);
    cr_assert_not_null(a, "a sale's owner step goes on");
    cr_expect_str_eq(a->action_id, ACT ":reminder");
    protobuf_c_message_free_unpacked(&a->base, NULL);
    worker_test_stop(&lm_timing_worker, rec);
}

/* A lead closes (it unsubscribed) with its owner's call step pending: the
 * step is dropped (its deadline timer cancelled, sla_level "done"), so
 * nobody is reminded or reassigned about it and `lastmile waiting` no
 * longer lists it. The old code left it armed. */
Test(worker_owner, closing_a_lead_drops_its_pending_owner_step) {
    response_ev x;
    ProtobufCMessage *in = response_ev_of(
        &x, "mail-unsub-1", LASTMILE__V1__RESPONSE_KIND__UNSUBSCRIBED);
    const char *h[] = {LEAD_H,     LM_F_SLA_ACTION, ACT, LM_F_SLA_OWNER,
                       "alex.kim", LM_F_SLA_LEVEL,  "1", LM_F_SLA_DUE,
                       DUE_S,      LM_F_SLA_STEP,   "1", NULL};
    lm_recorder *rec = timing_run(in, h, NULL, NULL);
    cr_assert_not_null(lm_recorder_emit_on(rec, "outcomes"), "closed");
    cr_expect_not_null(deadline_cmd(rec, "ZREM", 1, 1, ACT, "alex.kim"),
                       "the deadline timer cancelled");
    char key[LM_KEY_MAX];
    lead_key(key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_LEVEL), "done");
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_owner_steps_dropped_total", NULL),
        1);
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, followup_gives_a_reassigned_step_to_its_new_owner) {
    const char *h[] = {LEAD_H, LM_F_SLA_ACTION,
                       ACT,    LM_F_SLA_LEVEL,
                       "1",    LM_F_SLA_STEP,
                       "1",    LM_F_REASSIGNMENTS,
                       "1",    NULL};
    lm_recorder *rec = followup_reassigned(LEAD ":decision:1", h);
    Lastmile__V1__FollowUpAction *a = action_emitted(rec);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->action_id, ACT ":r1");
    cr_expect_str_eq(a->owner, "jordan.blake");
    cr_expect_str_eq(a->channel, "call");
    cr_expect_eq(a->step, 1);
    cr_expect_str_eq(a->reason, "sla_breach");
    /* 09:00 in Chicago: jordan.blake's day starts now */
    cr_expect_eq(a->scheduled_for_ms, NOW_MS);
    cr_expect_eq(a->due_by_ms, NOW_MS + 5 * MIN_MS);
    cr_expect_not_null(
        deadline_cmd(rec, "ZADD", 2, 1, ACT ":r1", "jordan.blake"),
        "level 2 armed");
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++)
        cr_expect_null(strstr(lm_recorder_index(rec, i)->argv[3], "|response|"),
                       "the response timer is left alone");
    protobuf_c_message_free_unpacked(&a->base, NULL);
    worker_test_stop(&lm_followup_worker, rec);
}

/* A reassignment that waited on followup's partition while the lead's
 * next step (here the hand-off after a reply) went overdue and was
 * reassigned too: the hash counts 2 and names the hand-off. The old code
 * gave that step away for both decisions, as "<lead>:handoff:r2" twice
 * to two owners (seen in a chaos run on a Redis Cluster, where followup
 * lagged); now the first is skipped and the second names it. */
Test(worker_owner, followup_skips_a_reassignment_a_later_one_superseded) {
    const char *h[] = {LEAD_H,
                       LM_F_SLA_ACTION,
                       LEAD ":handoff",
                       LM_F_SLA_LEVEL,
                       "1",
                       LM_F_SLA_STEP,
                       "-1",
                       LM_F_REASSIGNMENTS,
                       "2",
                       NULL};
    lm_recorder *rec = followup_reassigned(LEAD ":decision:1", h);
    expect_superseded(rec);

    rec = followup_reassigned(LEAD ":decision:2", h);
    Lastmile__V1__FollowUpAction *a = action_emitted(rec);
    cr_assert_not_null(a, "the latest reassignment gives the step away");
    cr_expect_str_eq(a->action_id, LEAD ":handoff:r2");
    cr_expect_str_eq(a->channel, "handoff");
    protobuf_c_message_free_unpacked(&a->base, NULL);
    worker_test_stop(&lm_followup_worker, rec);
}

/* A reassignment that waited while the lead replied: the hand-off went
 * to the lead's owner, whom this decision named (timing wrote it), with
 * its own deadline. Giving it again would send the hand-off twice to one
 * owner and arm its last level at once (the old code: "<lead>:handoff:r1",
 * level 2). */
Test(worker_owner, followup_skips_a_reassignment_whose_owner_has_the_step) {
    const char *h[] = {LEAD_H,
                       LM_F_SLA_ACTION,
                       LEAD ":handoff",
                       LM_F_SLA_OWNER,
                       "jordan.blake",
                       LM_F_SLA_LEVEL,
                       "0",
                       LM_F_SLA_STEP,
                       "-1",
                       LM_F_REASSIGNMENTS,
                       "1",
                       NULL};
    lm_recorder *rec = followup_reassigned(LEAD ":decision:1", h);
    expect_superseded(rec);
}

/* The new owner's step is named by the decision's number, not by the
 * lead hash read later (here without the count). */
Test(worker_owner, followup_names_the_step_by_its_decision) {
    const char *h[] = {LEAD_H, LM_F_SLA_ACTION, ACT, LM_F_SLA_LEVEL,
                       "1",    LM_F_SLA_STEP,   "1", NULL};
    lm_recorder *rec = followup_reassigned(LEAD ":decision:3", h);
    Lastmile__V1__FollowUpAction *a = action_emitted(rec);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->action_id, ACT ":r3");
    protobuf_c_message_free_unpacked(&a->base, NULL);
    worker_test_stop(&lm_followup_worker, rec);
}

Test(worker_owner, a_reassignment_id_reads_back_its_number) {
    char id[LM_ID_MAX];
    cr_assert_eq(lm_sla_reassign_id(LEAD, 12, id, sizeof(id)), 0);
    cr_expect_str_eq(id, LEAD ":decision:12");
    cr_expect_eq(lm_sla_reassign_number(id, LEAD), 12);
    cr_expect_eq(lm_sla_reassign_id(LEAD, 0, id, sizeof(id)), -1);
    cr_expect_eq(lm_sla_reassign_id(LEAD, 1, id, 8), -1, "does not fit");
    const char *not_ids[] = {
        LEAD ":decision:",         LEAD ":decision:0",
        LEAD ":decision:01",       LEAD ":decision:1x",
        LEAD ":decision:assigned", LEAD ":decision:1234567890",
        "other:decision:1",        LEAD ":decisions:1",
        LEAD "x:decision:1",
    };
    for (size_t i = 0; i < sizeof(not_ids) / sizeof(not_ids[0]); i++)
        cr_expect_eq(lm_sla_reassign_number(not_ids[i], LEAD), -1, "%s",
                     not_ids[i]);
}

/* ---------------------------------------------- activity and status */

typedef struct activity_ev {
    Lastmile__V1__OwnerActivity a;
    Lastmile__V1__TimingEvent ev;
} activity_ev;

static ProtobufCMessage *activity(activity_ev *x, const char *action,
                                  Lastmile__V1__OwnerActivityKind kind) {
    lastmile__v1__owner_activity__init(&x->a);
    lastmile__v1__timing_event__init(&x->ev);
    x->a.event_id = "dialer-1";
    x->a.action_id = (char *)action;
    x->a.lead_id = LEAD;
    x->a.owner = "alex.kim";
    x->a.kind = kind;
    x->a.occurred_at_ms = NOW_MS - 2000;
    x->ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_ACTIVITY;
    x->ev.owner_activity = &x->a;
    return &x->ev.base;
}

Test(worker_owner, done_cancels_the_deadline_and_counts_first_contact) {
    activity_ev x;
    ProtobufCMessage *in =
        activity(&x, ACT, LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE);
    const char *h[] = {LEAD_H,     LM_F_SLA_ACTION, ACT, LM_F_SLA_OWNER,
                       "alex.kim", LM_F_SLA_LEVEL,  "1", LM_F_SLA_DUE,
                       DUE_S,      LM_F_SLA_STEP,   "1", NULL};
    lm_recorder *rec = timing_run(in, h, NULL, NULL);
    cr_expect_str_eq(lm_recorder_ident(rec)->id, "activity:dialer-1");
    cr_expect_not_null(deadline_cmd(rec, "ZREM", 1, 1, ACT, "alex.kim"));
    char key[LM_KEY_MAX], at[32];
    lead_key(key);
    snprintf(at, sizeof(at), "%lld", NOW_MS - 2000);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_LEVEL), "done");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_FIRST_HUMAN), at);
    cr_expect_eq(lm_recorder_n_emits(rec), 0);
    cr_expect_null(lm_recorder_hget(rec, key, LM_F_HANDOFF_DONE),
                   "a call step is not the hand-off");
    worker_test_stop(&lm_timing_worker, rec);

    /* the hand-off's DONE: the owner's contact after the reply */
    in = activity(&x, LEAD ":handoff", LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE);
    rec = timing_run(in, h, NULL, NULL);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_HANDOFF_DONE), at);
    worker_test_stop(&lm_timing_worker, rec);

    /* an older step's DONE: the first contact, but the deadline stays */
    in =
        activity(&x, LEAD ":action:0", LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE);
    rec = timing_run(in, h, NULL, NULL);
    cr_expect_eq(lm_recorder_n_index(rec), 0);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_FIRST_HUMAN), at);
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, snoozed_moves_the_deadline) {
    activity_ev x;
    ProtobufCMessage *in =
        activity(&x, ACT, LASTMILE__V1__OWNER_ACTIVITY_KIND__SNOOZED);
    x.a.snoozed_until_ms = NOW_MS + 30 * MIN_MS;
    const char *h[] = {LEAD_H,     LM_F_SLA_ACTION, ACT, LM_F_SLA_OWNER,
                       "alex.kim", LM_F_SLA_LEVEL,  "0", LM_F_SLA_DUE,
                       DUE_S,      LM_F_SLA_STEP,   "1", NULL};
    lm_recorder *rec = timing_run(in, h, NULL, NULL);
    const lm_recorded_cmd *z = deadline_cmd(rec, "ZADD", 0, 1, ACT, "alex.kim");
    cr_assert_not_null(z);
    char due[32], key[LM_KEY_MAX];
    snprintf(due, sizeof(due), "%lld", NOW_MS + 30 * MIN_MS);
    cr_expect_str_eq(z->argv[2], due);
    lead_key(key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_DUE), due);
    cr_expect_null(lm_recorder_hget(rec, key, LM_F_FIRST_HUMAN));
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, bad_owner_events_are_refused_with_the_field) {
    lm_recorder *rec = worker_test_start(&lm_timing_worker);
    activity_ev x;
    ProtobufCMessage *in =
        activity(&x, ACT, LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE);
    x.a.owner = "";
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), -1);
    cr_expect(strstr(lm_recorder_rejected(rec), "owner_activity.owner"));
    lm_recorder_reset(rec);
    activity(&x, ACT, LASTMILE__V1__OWNER_ACTIVITY_KIND__SNOOZED);
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), -1);
    cr_expect(
        strstr(lm_recorder_rejected(rec), "owner_activity.snoozed_until_ms"));
    lm_recorder_reset(rec);
    activity(&x, ACT, (Lastmile__V1__OwnerActivityKind)9);
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), -1);
    cr_expect(strstr(lm_recorder_rejected(rec), "owner_activity.kind"));
    lm_recorder_reset(rec);
    activity(&x, ACT, LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE);
    x.a.lead_id = "nope";
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), -1);
    cr_expect(strstr(lm_recorder_rejected(rec), "owner_activity.lead_id"));
    lm_recorder_reset(rec);
    /* a lead lastmile does not know */
    activity(&x, ACT, LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE);
    const char *none[] = {NULL};
    give(rec, in, none, NULL, NULL);
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), 0);
    cr_expect(
        strstr(lm_recorder_rejected(rec), "owner_activity.lead_id: no lead"));
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, owner_status_is_recorded_for_routing) {
    lm_recorder *rec = worker_test_start(&lm_timing_worker);
    Lastmile__V1__OwnerStatus s = LASTMILE__V1__OWNER_STATUS__INIT;
    s.event_id = "hr-7";
    s.owner = "alex.kim";
    s.status = LASTMILE__V1__OWNER_AVAILABILITY__AWAY;
    s.occurred_at_ms = NOW_MS;
    s.until_ms = NOW_MS + 86400000LL;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS;
    ev.owner_status = &s;
    const char *none[] = {NULL};
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, &ev.base, NOW_MS, none),
        0);
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS),
                 0);
    char key[LM_KEY_MAX], tag[LM_SLA_TAG_MAX], until[32];
    lm_sla_state_key("alex.kim", key);
    lm_sla_owner_tag("alex.kim", tag);
    cr_expect_str_eq(lm_recorder_ident(rec)->tag, tag);
    cr_expect(strstr(key, tag));
    snprintf(until, sizeof(until), "%lld", NOW_MS + 86400000LL);
    cr_expect_str_eq(lm_recorder_hget(rec, key, "status"), "AWAY");
    cr_expect_str_eq(lm_recorder_hget(rec, key, "until"), until);
    cr_expect_str_eq(lm_recorder_hget(rec, key, "owner"), "alex.kim");
    lm_recorder_reset(rec);
    /* older than what is recorded: kept out */
    const char *newer[] = {"at", "1767625300000", NULL};
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, &ev.base, NOW_MS, newer),
        0);
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS),
                 0);
    cr_expect_eq(lm_recorder_n_writes(rec), 0);
    lm_recorder_reset(rec);
    s.owner = "nobody";
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, &ev.base, NOW_MS),
                 -1);
    cr_expect(strstr(lm_recorder_rejected(rec), "owner_status.owner"));
    worker_test_stop(&lm_timing_worker, rec);
}

Test(worker_owner, the_hand_off_has_a_deadline) {
    /* a sale with no reply before it: hand-off and close at once (a reply
       alone keeps the lead open for its deal) */
    response_ev x;
    ProtobufCMessage *in =
        response_ev_of(&x, "mail-1", LASTMILE__V1__RESPONSE_KIND__CONVERTED);
    x.r.deal_value_cents = 120000;
    /* the call step still waits on its owner: the sale's close keeps the
       hand-off's deadline, which replaces it (timing_owner_on_close) */
    const char *h[] = {LEAD_H,
                       LM_F_FIRST_HUMAN,
                       "1767625000000",
                       LM_F_REASSIGNMENTS,
                       "1",
                       LM_F_SLA_ACTION,
                       ACT,
                       LM_F_SLA_OWNER,
                       "alex.kim",
                       LM_F_SLA_LEVEL,
                       "1",
                       LM_F_SLA_DUE,
                       DUE_S,
                       LM_F_SLA_STEP,
                       "1",
                       NULL};
    lm_recorder *rec = timing_run(in, h, NULL, NULL);
    Lastmile__V1__FollowUpAction *a = action_emitted(rec);
    cr_assert_not_null(a);
    cr_expect_eq(a->kind, LASTMILE__V1__ACTION_KIND__HANDOFF);
    cr_expect(a->human);
    cr_expect_str_eq(a->team, "na");
    cr_expect_eq(a->due_by_ms, NOW_MS + 60 * MIN_MS);
    cr_expect_not_null(
        deadline_cmd(rec, "ZADD", 0, -1, LEAD ":handoff", "alex.kim"));
    char now[32], key[LM_KEY_MAX];
    snprintf(now, sizeof(now), "%lld", NOW_MS);
    lead_key(key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_HUMAN_DUE), now,
                     "people are due to act on the hand-off at once");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_ACTION),
                     LEAD ":handoff");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_LEVEL), "0",
                     "the sale's close leaves the hand-off's deadline armed");
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_owner_steps_dropped_total", NULL),
        0);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    /* the outcome carries the owner figures */
    const lm_recorded_emit *e = lm_recorder_emit_on(rec, "outcomes");
    cr_assert_not_null(e);
    Lastmile__V1__Outcome *o =
        lastmile__v1__outcome__unpack(NULL, e->len, e->data);
    cr_assert_not_null(o);
    cr_expect_eq(o->first_human_at_ms, 1767625000000LL);
    cr_expect_eq(o->reassignments, 1);
    cr_expect_str_eq(o->team, "na");
    lastmile__v1__outcome__free_unpacked(o, NULL);
    worker_test_stop(&lm_timing_worker, rec);
}
