/* test_worker_followup.c — the follow-up worker's decisions, through the
 * recorder (lm_recorder.h): no Kafka, no Redis.
 *
 * Each case gives a FollowUpEvent (a qualification decision: step 0; or a
 * NextTouch from timing-adjust) and the lead hash as Redis would hold it
 * (lm_recorder_reply_hash: by field name) and checks what handle decided:
 * the cadence step, the FollowUpAction on lastmile.actions at a time inside
 * the cadence's allowed hours in the lead's time zone (an "at: now" step:
 * at once, any hour), human for a human channel, with the team, the lead
 * hash's
 * fields, the response timer, the counts; a closed lead gets nothing; bad
 * input is refused with the reason.
 *
 * Timers are checked in one place, expect_timer_armed: exactly one index
 * command on the timers, the ZADD of the member lm_timers_encode makes of
 * (lead, "response", "<step>|<segment>") with the due time. The times below are
 * worked out by hand from the built-in config (config/decisions.yaml), not by
 * the code under test. */
#include "followup.h"
#include "lm_lead.h"
#include "lm_learn.h"
#include "lm_sla.h"
#include "lm_recorder.h"
#include "worker_testutil.h"
#include "lm_timers.h"
#include "lm_tz.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define NOW_MS  1767607200000LL /* 2026-01-05T10:00:00Z, a Monday */
#define HOUR_MS 3600000LL
#define DAY_MS  (24 * HOUR_MS)
#define LEAD    "0123456789abcdef-01234567"

static lm_recorder *rec;
static lm_policy *policy; /* the built-in config, as the worker loads it */

static void setup(void) {
    rec = worker_test_start(&lm_followup_worker);
    char err[1024] = "";
    policy = lm_policy_load(NULL, err, sizeof(err));
    cr_assert_not_null(policy, "%s", err);
}

static void teardown(void) {
    lm_policy_free(policy);
    worker_test_stop(&lm_followup_worker, rec);
}

TestSuite(worker_followup, .init = setup, .fini = teardown);

/* ------------------------------------------------------------- helpers */

/* The response timer of `lead_id` for `step` (payload "<step>|NA/mid",
 * or, for a lead whose role is known — its decision gave the title —
 * "<step>|NA/mid|<role>|<cadence>", lm_learn_timer_segment), due at
 * due_ms, was armed: one index command, the ZADD of its member
 * (lm_timers_encode) into its bucket's set scored with the due time. The
 * one place that knows how timers look from outside. */
static void expect_timer_armed(const char *lead_id, int step, int64_t due_ms,
                               const char *role, const char *cadence,
                               const char *what) {
    lm_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.lead, sizeof(t.lead), "%s", lead_id);
    snprintf(t.kind, sizeof(t.kind), "%s", LM_LEAD_TIMER_RESPONSE);
    char ts[LM_TIMERS_PAYLOAD_MAX];
    cr_assert_eq(
        lm_learn_timer_segment("NA/mid", role, cadence, ts, sizeof(ts)), 0);
    int n = lm_lead_timer_payload(step, ts, t.payload, sizeof(t.payload));
    cr_assert_gt(n, 0);
    t.payload_len = (size_t)n;
    char member[LM_TIMERS_MEMBER_MAX], set[LM_TIMERS_KEY_MAX], due[32];
    size_t mlen;
    cr_assert_eq(lm_timers_encode(&t, member, &mlen), 0);
    lm_timers_key(lm_timers_bucket(lead_id), "", set);
    snprintf(due, sizeof(due), "%lld", (long long)due_ms);
    int found = 0;
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_index(rec, i);
        if (!strstr(c->argv[1], "timers") ||
            (c->argc == 4 && !strstr(c->argv[3], "|response|")))
            continue; /* an owner deadline: test_worker_owner.c */
        found++;
        cr_expect_eq(c->argc, 4, "%s", what);
        cr_expect_str_eq(c->argv[0], "ZADD", "%s", what);
        cr_expect_str_eq(c->argv[1], set, "%s", what);
        cr_expect_str_eq(c->argv[2], due, "%s: due time", what);
        cr_expect(c->argc == 4 && c->lens[3] == mlen &&
                      memcmp(c->argv[3], member, mlen) == 0,
                  "%s: armed %s, want %s", what, c->argv[3], member);
    }
    cr_expect_eq(found, 1, "%s: %d timer commands arm %s's timer", what, found,
                 lead_id);
}

/* The lead's decision event, as qualification emits it. */
typedef struct decision_ev {
    Lastmile__V1__LeadAccepted lead;
    Lastmile__V1__QualificationDecision d;
    Lastmile__V1__FollowUpEvent ev;
} decision_ev;

static void decision(decision_ev *x, Lastmile__V1__DecisionKind kind,
                     const char *tz) {
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    Lastmile__V1__QualificationDecision d =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    x->lead = l;
    x->d = d;
    x->ev = ev;
    x->lead.lead_id = LEAD;
    x->lead.country = "US";
    x->lead.timezone = (char *)tz;
    x->lead.submitted_at_ms = NOW_MS - 90000;
    x->d.decision_id = LEAD ":decision";
    x->d.lead_id = LEAD;
    x->d.kind = kind;
    x->d.owner = "alex.kim";
    x->d.team = "na";
    x->d.segment = "NA/mid";
    x->d.decided_at_ms = NOW_MS;
    x->d.lead = &x->lead;
    x->ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    x->ev.decision = &x->d;
}

typedef struct touch_ev {
    Lastmile__V1__NextTouch t;
    Lastmile__V1__FollowUpEvent ev;
} touch_ev;

static void next_touch(touch_ev *x, int step, int64_t scheduled_ms) {
    Lastmile__V1__NextTouch t = LASTMILE__V1__NEXT_TOUCH__INIT;
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    x->t = t;
    x->ev = ev;
    x->t.touch_id = "t";
    x->t.lead_id = LEAD;
    x->t.step = step;
    x->t.scheduled_for_ms = scheduled_ms;
    x->t.adaptive = 1;
    x->ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH;
    x->ev.next_touch = &x->t;
}

/* `when` is inside the cadence's allowed hours on a business day in tz. */
static void expect_allowed(const char *cadence, const char *tz, int64_t when,
                           const char *what) {
    const lm_cadence *c = lm_policy_cadence(policy, cadence);
    cr_assert_not_null(c);
    lm_local_time lt;
    cr_assert_eq(lm_tz_local(tz, when, &lt), 0);
    cr_expect(lt.minute_of_day >= c->allowed_start_min &&
                  lt.minute_of_day < c->allowed_end_min,
              "%s: %02d:%02d local is outside the allowed hours", what, lt.hour,
              lt.minute);
    cr_expect(c->business_days_mask & (1u << lt.weekday),
              "%s: weekday %d is not a business day", what, lt.weekday);
}

/* ------------------------------------------------------- touches, table */

typedef struct touch_case {
    const char *what;
    int step;    /* 0: a qualification decision; else a NextTouch */
    int nurture; /* the decision's kind / the lead's cadence */
    const char *tz;
    int64_t scheduled_ms; /* NextTouch only */
    const char *touches;  /* the hash's touch count; NULL: none yet */
    /* expected, by hand from config/decisions.yaml */
    int64_t when;
    int slot; /* local hour of the week, 0 = Monday 00h */
    const char *channel;
    int64_t cost_cents, window_ms;
    int at_once; /* an "at: now" step: any hour, not only the allowed ones */
} touch_case;

/* Both shipped cadences start with an email "at: now" (issue 13): the
 * step-0 rows go out at the decision, whatever the local hour or day. */
static const touch_case touch_cases[] = {
    {"qualified, before office hours in New York: at once, 05:00 local", 0, 0,
     "America/New_York", 0, NULL, NOW_MS, 5, "email", 2, 4 * HOUR_MS, 1},
    {"qualified, evening in Tokyo: at once, 19:00 local", 0, 0, "Asia/Tokyo", 0,
     NULL, NOW_MS, 19, "email", 2, 4 * HOUR_MS, 1},
    {"nurture on a Monday in Berlin (no business day): at once", 0, 1,
     "Europe/Berlin", 0, NULL, NOW_MS, 11, "email", 2, 7 * DAY_MS, 1},
    /* a call is a human step: inside the lead's hours and its owner's
       (alex.kim, team na: 09:00-17:00 New York, 14:00-22:00 London) */
    {"step 1 at the time timing chose: 13:30 London, the owner's 14:00", 1, 0,
     "Europe/London", NOW_MS + 2 * DAY_MS + 3 * HOUR_MS + HOUR_MS / 2, "1",
     NOW_MS + 2 * DAY_MS + 4 * HOUR_MS, 48 + 14, "call", 450, DAY_MS, 0},
    {"step 2 chosen for a time already past: now", 2, 0, "Europe/London",
     NOW_MS - HOUR_MS, "2", NOW_MS, 10, "email", 2, 2 * DAY_MS, 0},
    {"step 1 on a Saturday: moved to Monday 14:00, the owner's 09:00", 1, 0,
     "Europe/London", NOW_MS + 5 * DAY_MS, "1",
     NOW_MS + 7 * DAY_MS + 4 * HOUR_MS, 14, "call", 450, DAY_MS, 0},
};

/* Gives the lead hash for c and runs the event; returns the event's
 * cadence name. */
static const char *run_touch(const touch_case *c, ProtobufCMessage *in) {
    const char *cadence = c->nurture ? "nurture" : "qualified";
    char submitted[32];
    snprintf(submitted, sizeof(submitted), "%lld", (long long)(NOW_MS - 90000));
    const char *first[] = {LM_F_STATUS, "open", NULL};
    const char *later[] = {
        LM_F_STATUS,   "open",       LM_F_CADENCE,   cadence,      LM_F_TZ,
        c->tz,         LM_F_OWNER,   "alex.kim",     LM_F_SEGMENT, "NA/mid",
        LM_F_ADAPTIVE, "1",          LM_F_SUBMITTED, submitted,    LM_F_TEAM,
        "na",          LM_F_TOUCHES, c->touches,     NULL};
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, in, NOW_MS,
                                        c->step == 0 ? first : later),
                 0, "%s: the plan reads the lead hash", c->what);
    cr_assert_eq(lm_recorder_handle(rec, &lm_followup_worker, in, NOW_MS), 0,
                 "%s: %s", c->what,
                 lm_recorder_rejected(rec) ? lm_recorder_rejected(rec) : "");
    cr_expect_null(lm_recorder_rejected(rec), "%s", c->what);
    return cadence;
}

static void expect_action(const touch_case *c, const char *cadence) {
    char id[LM_ID_MAX];
    snprintf(id, sizeof(id), LEAD ":action:%d", c->step);
    cr_assert_eq(lm_recorder_n_emits(rec), 1, "%s", c->what);
    const lm_recorded_emit *e = lm_recorder_emit(rec, 0);
    cr_expect_str_eq(e->topic, LM_TOPIC_ACTIONS);
    cr_expect_str_eq(e->key, LEAD);
    cr_expect_str_eq(e->id, id);
    Lastmile__V1__FollowUpAction *a =
        (Lastmile__V1__FollowUpAction *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__follow_up_action__descriptor);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->action_id, id);
    cr_expect_str_eq(a->lead_id, LEAD);
    cr_expect_eq(a->step, c->step, "%s", c->what);
    cr_expect_str_eq(a->channel, c->channel, "%s", c->what);
    cr_expect_eq(a->kind, LASTMILE__V1__ACTION_KIND__TOUCH);
    cr_expect_eq(a->scheduled_for_ms, c->when, "%s: %lld, want %lld", c->what,
                 (long long)a->scheduled_for_ms, (long long)c->when);
    if (!c->at_once)
        expect_allowed(cadence, c->tz, a->scheduled_for_ms, c->what);
    cr_expect_eq(a->slot, c->slot, "%s: slot %d", c->what, a->slot);
    cr_expect_eq(a->human, strcmp(c->channel, "call") == 0,
                 "%s: only the call is human", c->what);
    cr_expect_str_eq(a->team, "na", "%s: the team comes along", c->what);
    cr_expect_eq(a->cost_cents, c->cost_cents, "%s", c->what);
    cr_expect_str_eq(a->owner, "alex.kim");
    cr_expect_str_eq(a->segment, "NA/mid");
    cr_expect_str_eq(a->cadence, cadence);
    cr_expect_eq(a->submitted_at_ms, NOW_MS - 90000, "%s", c->what);
    if (c->step > 0)
        cr_expect(a->adaptive, "the arm comes from the hash");
    else
        cr_expect_eq(a->adaptive,
                     lm_lead_adaptive(LEAD, lm_policy_control_share(policy)));
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void expect_hash(const touch_case *c, const char *cadence) {
    char key[LM_KEY_MAX], v[32];
    lm_lead_key(LEAD, key);
    snprintf(v, sizeof(v), "%d", c->step);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STEP), v, "%s", c->what);
    snprintf(v, sizeof(v), "%d", c->slot);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLOT), v, "%s", c->what);
    snprintf(v, sizeof(v), "%lld", (long long)c->when);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_LAST_ACTION), v);
    snprintf(v, sizeof(v), "%lld", (long long)(c->when + c->window_ms));
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_NEXT_DUE), v, "%s",
                     c->what);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STAGE), "waiting");
    if (c->step == 0) {
        snprintf(v, sizeof(v), "%lld", (long long)c->when);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_CADENCE), cadence);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_TZ), c->tz);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_FIRST_ACTION), v);
    } else {
        cr_expect_null(lm_recorder_hget(rec, key, LM_F_FIRST_ACTION),
                       "%s: the first action stays the first", c->what);
    }
    snprintf(v, sizeof(v), "%lld", (long long)c->cost_cents);
    if (!c->touches) {
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_TOUCHES), "1");
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_COST), v);
    } else {
        int touches = 0, cost = 0;
        for (size_t i = 0; i < lm_recorder_n_writes(rec); i++) {
            const lm_recorded_cmd *t = lm_recorder_write(rec, i);
            if (strcmp(t->argv[0], "HINCRBY") != 0 || t->argc != 4)
                continue;
            touches |=
                !strcmp(t->argv[2], LM_F_TOUCHES) && !strcmp(t->argv[3], "1");
            cost |= !strcmp(t->argv[2], LM_F_COST) && !strcmp(t->argv[3], v);
        }
        cr_expect(touches && cost, "%s: touches and cost add up", c->what);
        cr_expect_null(lm_recorder_hget(rec, key, LM_F_TOUCHES),
                       "%s: not reset", c->what);
    }
}

Test(worker_followup, each_step_is_emitted_inside_the_allowed_hours) {
    for (size_t i = 0; i < sizeof(touch_cases) / sizeof(*touch_cases); i++) {
        const touch_case *c = &touch_cases[i];
        lm_recorder_reset(rec);
        decision_ev d;
        touch_ev t;
        ProtobufCMessage *in;
        if (c->step == 0) {
            decision(&d,
                     c->nurture ? LASTMILE__V1__DECISION_KIND__NURTURE
                                : LASTMILE__V1__DECISION_KIND__QUALIFIED,
                     c->tz);
            in = &d.ev.base;
        } else {
            next_touch(&t, c->step, c->scheduled_ms);
            in = &t.ev.base;
        }
        const char *cadence = run_touch(c, in);
        expect_action(c, cadence);
        expect_hash(c, cadence);
        /* a decision knows the title (none here): its role goes along */
        expect_timer_armed(LEAD, c->step, c->when + c->window_ms,
                           c->step == 0 ? "none" : NULL, cadence, c->what);
        cr_expect_eq(lm_recorder_counted(rec, "lastmile_actions_total",
                                         "kind=\"touch\""),
                     1, "%s", c->what);
        cr_expect_eq(
            lm_recorder_counted(rec, "lastmile_cost_cents_total", NULL),
            (double)c->cost_cents, "%s", c->what);
    }
}

Test(worker_followup, the_first_touch_measures_speed_to_lead) {
    const touch_case *c = &touch_cases[0];
    decision_ev d;
    decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, c->tz);
    run_touch(c, &d.ev.base);
    int seen = 0;
    for (size_t i = 0; i < lm_recorder_n_counts(rec); i++) {
        const lm_recorded_count *k = lm_recorder_count(rec, i);
        if (k->histogram &&
            strcmp(k->family, "lastmile_speed_to_lead_seconds") == 0) {
            seen++;
            cr_expect_float_eq(k->value, (c->when - (NOW_MS - 90000)) / 1000.0,
                               1e-6);
        }
    }
    cr_expect_eq(seen, 1);
}

/* The first automatic touch's scheduled time is kept once: the report's
 * speed-to-lead and the Outcome's first_touch_at_ms. It is a field of the
 * touch's HSET when the hash read has none (no HSETNX of its own); a lead
 * that has one keeps it. The holdout qualification wrote is not written
 * again (issue 16, reduction 5). */
Test(worker_followup, the_first_automatic_touch_is_kept_once) {
    const touch_case *c = &touch_cases[0];
    decision_ev d;
    decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, c->tz);
    run_touch(c, &d.ev.base);
    char key[LM_KEY_MAX], when[32];
    lm_lead_key(LEAD, key);
    snprintf(when, sizeof(when), "%lld", (long long)c->when);
    cr_expect_null(lm_recorder_find(rec, "HSETNX", key), "no HSETNX");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_FIRST_TOUCH), when);

    /* a later touch of a lead that has it: not written again */
    int checked = 0;
    for (size_t i = 1; i < sizeof(touch_cases) / sizeof(touch_cases[0]); i++) {
        if (touch_cases[i].step == 0 || touch_cases[i].nurture ||
            strcmp(touch_cases[i].channel, "email") != 0)
            continue; /* a later automatic touch of the qualified cadence */
        lm_recorder_reset(rec);
        touch_ev t;
        next_touch(&t, touch_cases[i].step, touch_cases[i].scheduled_ms);
        const char *later[] = {LM_F_STATUS,
                               "open",
                               LM_F_CADENCE,
                               "qualified",
                               LM_F_TZ,
                               touch_cases[i].tz,
                               LM_F_OWNER,
                               "alex.kim",
                               LM_F_SEGMENT,
                               "NA/mid",
                               LM_F_ADAPTIVE,
                               "1",
                               LM_F_SUBMITTED,
                               "1767600000000",
                               LM_F_TEAM,
                               "na",
                               LM_F_TOUCHES,
                               "1",
                               LM_F_FIRST_TOUCH,
                               "42",
                               LM_F_HOLDOUT,
                               "0",
                               NULL};
        cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker,
                                            &t.ev.base, NOW_MS, later),
                     0);
        cr_assert_eq(
            lm_recorder_handle(rec, &lm_followup_worker, &t.ev.base, NOW_MS),
            0);
        cr_expect_null(lm_recorder_hget(rec, key, LM_F_FIRST_TOUCH),
                       "step %d: first_touch_at is kept", touch_cases[i].step);
        cr_expect_null(lm_recorder_find(rec, "HSETNX", key));
        checked++;
        break;
    }
    cr_expect_gt(checked, 0, "a later automatic touch was checked");

    /* step 0 of a lead whose holdout qualification wrote: not again */
    lm_recorder_reset(rec);
    const char *held[] = {LM_F_STATUS, "open", LM_F_HOLDOUT, "0", NULL};
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, &d.ev.base,
                                        NOW_MS, held),
                 0);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_followup_worker, &d.ev.base, NOW_MS), 0);
    cr_expect_null(lm_recorder_hget(rec, key, LM_F_HOLDOUT),
                   "holdout is written once, by qualification");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_FIRST_TOUCH), when);
}

/* Issue 13, items 6 and 7: no touch for a lead handed to its owner (a
 * NextTouch already on its way when it replied); none before the end of
 * an out-of-office. */
Test(worker_followup, a_handed_off_lead_gets_no_touch_an_absent_one_later) {
    const char *handed[] = {LM_F_STATUS,
                            "open",
                            LM_F_CADENCE,
                            "qualified",
                            LM_F_TZ,
                            "Europe/London",
                            LM_F_OWNER,
                            "alex.kim",
                            LM_F_SEGMENT,
                            "NA/mid",
                            LM_F_ADAPTIVE,
                            "1",
                            LM_F_SUBMITTED,
                            "1",
                            LM_F_TOUCHES,
                            "1",
                            LM_F_RESPONDED,
                            "1767600000000",
                            NULL};
    touch_ev t;
    next_touch(&t, 1, NOW_MS + DAY_MS);
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, &t.ev.base,
                                        NOW_MS, handed),
                 0);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_followup_worker, &t.ev.base, NOW_MS), 0);
    cr_expect_eq(lm_recorder_n_emits(rec), 0);
    cr_expect_eq(lm_recorder_n_index(rec), 0, "no timer");
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_followup_skipped_total",
                                     "reason=\"handed_off\""),
                 1);

    /* away until Monday 2026-01-12 12:00 UTC: step 1 (call) is scheduled
       then, inside London's hours, not Tuesday as planned */
    const char *away[] = {LM_F_STATUS,
                          "open",
                          LM_F_CADENCE,
                          "qualified",
                          LM_F_TZ,
                          "Europe/London",
                          LM_F_OWNER,
                          "alex.kim",
                          LM_F_SEGMENT,
                          "NA/mid",
                          LM_F_ADAPTIVE,
                          "1",
                          LM_F_SUBMITTED,
                          "1",
                          LM_F_TOUCHES,
                          "1",
                          LM_F_STAGE,
                          "followup",
                          LM_F_RETURNS,
                          "1768219200000",
                          NULL};
    lm_recorder_reset(rec);
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, &t.ev.base,
                                        NOW_MS, away),
                 0);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_followup_worker, &t.ev.base, NOW_MS), 0);
    cr_expect_null(lm_recorder_rejected(rec));
    Lastmile__V1__FollowUpAction *a =
        (Lastmile__V1__FollowUpAction *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__follow_up_action__descriptor);
    cr_assert_not_null(a);
    cr_expect_eq(a->scheduled_for_ms, 1768219200000LL, "after the return: %lld",
                 (long long)a->scheduled_for_ms);
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

/* ----------------------------------------------- at once, or in the hours */

/* The one action the last handle emitted (caller frees). */
static Lastmile__V1__FollowUpAction *the_action(const char *what) {
    cr_assert_null(lm_recorder_rejected(rec), "%s: %s", what,
                   lm_recorder_rejected(rec));
    cr_assert_eq(lm_recorder_n_emits(rec), 1, "%s", what);
    Lastmile__V1__FollowUpAction *a =
        (Lastmile__V1__FollowUpAction *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__follow_up_action__descriptor);
    cr_assert_not_null(a, "%s", what);
    return a;
}

Test(worker_followup, a_lead_decided_at_3am_gets_its_first_email_at_once) {
    /* 2026-01-10T08:00:00Z, a Saturday: 03:00 in New York */
    const int64_t sat3 = 1768032000000LL;
    const char *first[] = {LM_F_STATUS, "open", NULL};
    char key[LM_KEY_MAX], v[32];
    lm_lead_key(LEAD, key);
    for (int nurture = 0; nurture <= 1; nurture++) {
        lm_recorder_reset(rec);
        decision_ev d;
        decision(&d,
                 nurture ? LASTMILE__V1__DECISION_KIND__NURTURE
                         : LASTMILE__V1__DECISION_KIND__QUALIFIED,
                 "America/New_York");
        d.lead.submitted_at_ms = sat3 - 2000;
        d.d.decided_at_ms = sat3 - 1000;
        cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker,
                                            &d.ev.base, sat3, first),
                     0);
        cr_assert_eq(
            lm_recorder_handle(rec, &lm_followup_worker, &d.ev.base, sat3), 0);
        Lastmile__V1__FollowUpAction *a = the_action("03:00 on a Saturday");
        cr_expect_str_eq(a->channel, "email");
        cr_expect_eq(a->step, 0);
        cr_expect(a->scheduled_for_ms >= sat3 &&
                      a->scheduled_for_ms <= sat3 + 60000,
                  "nurture %d: the first email at %lld, the decision at %lld: "
                  "not within a minute",
                  nurture, (long long)a->scheduled_for_ms, (long long)sat3);
        cr_expect_eq(a->slot, 5 * 24 + 3, "Saturday 03:00 local");
        cr_expect_eq(a->human, 0, "an email is sent by a system");
        cr_expect_str_eq(a->team, "na");
        snprintf(v, sizeof(v), "%lld", (long long)a->scheduled_for_ms);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_FIRST_ACTION), v);
        expect_timer_armed(
            LEAD, 0, a->scheduled_for_ms + (nurture ? 7 * DAY_MS : 4 * HOUR_MS),
            "none", nurture ? "nurture" : "qualified",
            "the email's response window runs from the email");
        protobuf_c_message_free_unpacked(&a->base, NULL);
    }
}

Test(worker_followup, the_first_touch_never_precedes_the_submission) {
    /* the producer's clock runs 10 minutes ahead of the fleet's */
    const char *first[] = {LM_F_STATUS, "open", NULL};
    decision_ev d;
    decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, "America/New_York");
    d.lead.submitted_at_ms = NOW_MS + 600000;
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, &d.ev.base,
                                        NOW_MS, first),
                 0);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_followup_worker, &d.ev.base, NOW_MS), 0);
    Lastmile__V1__FollowUpAction *a = the_action("a submission ahead");
    cr_expect_eq(a->scheduled_for_ms, NOW_MS + 600000,
                 "at the submission, not before: %lld",
                 (long long)a->scheduled_for_ms);
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

Test(worker_followup, a_call_step_stays_in_the_allowed_hours) {
    /* timing asked for the call at 03:00 on a Saturday in New York: the
       call waits for Monday 09:00 local (14:00Z), and is human */
    const int64_t sat3 = 1768032000000LL,
                  mon9 = sat3 + 2 * DAY_MS + 6 * HOUR_MS;
    const char *hash[] = {LM_F_STATUS,
                          "open",
                          LM_F_CADENCE,
                          "qualified",
                          LM_F_TZ,
                          "America/New_York",
                          LM_F_OWNER,
                          "alex.kim",
                          LM_F_SEGMENT,
                          "NA/mid",
                          LM_F_ADAPTIVE,
                          "0",
                          LM_F_SUBMITTED,
                          "1",
                          LM_F_TEAM,
                          "na",
                          LM_F_TOUCHES,
                          "1",
                          NULL};
    touch_ev t;
    next_touch(&t, 1, sat3);
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, &t.ev.base,
                                        sat3, hash),
                 0);
    cr_assert_eq(lm_recorder_handle(rec, &lm_followup_worker, &t.ev.base, sat3),
                 0);
    Lastmile__V1__FollowUpAction *a = the_action("a call at 03:00");
    cr_expect_str_eq(a->channel, "call");
    cr_expect_eq(a->scheduled_for_ms, mon9, "%lld, want Monday 09:00 local",
                 (long long)a->scheduled_for_ms);
    cr_expect_eq(a->slot, 9);
    cr_expect_eq(a->human, 1, "a call is performed by a person");
    cr_expect_str_eq(a->team, "na", "the team from the lead hash");
    expect_allowed("qualified", "America/New_York", a->scheduled_for_ms,
                   "the call");
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

/* ------------------------------------------------------- no touch at all */

Test(worker_followup, a_closed_lead_gets_no_action) {
    const char *closed[] = {
        LM_F_STATUS,     "closed",   LM_F_CADENCE,   "qualified",  LM_F_TZ,
        "Europe/London", LM_F_OWNER, "alex.kim",     LM_F_SEGMENT, "NA/mid",
        LM_F_ADAPTIVE,   "1",        LM_F_SUBMITTED, "1",          NULL};
    decision_ev d;
    touch_ev t;
    decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, "Europe/London");
    next_touch(&t, 1, NOW_MS + DAY_MS);
    ProtobufCMessage *ins[] = {&d.ev.base, &t.ev.base};
    for (size_t i = 0; i < 2; i++) {
        lm_recorder_reset(rec);
        cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, ins[i],
                                            NOW_MS, closed),
                     0);
        cr_assert_eq(
            lm_recorder_handle(rec, &lm_followup_worker, ins[i], NOW_MS), 0);
        cr_expect_null(lm_recorder_rejected(rec));
        cr_expect_eq(lm_recorder_n_emits(rec), 0, "event %zu", i);
        cr_expect_eq(lm_recorder_n_writes(rec), 0, "event %zu", i);
        cr_expect_eq(lm_recorder_n_index(rec), 0, "no timer, event %zu", i);
        cr_expect_eq(lm_recorder_counted(rec, "lastmile_followup_skipped_total",
                                         "reason=\"closed\""),
                     1);
    }
}

typedef struct reject_case {
    const char *what;
    int step;
    const char *cadence, *tz; /* in the hash; NULL: not there */
    const char *want;         /* in the reason */
} reject_case;

Test(worker_followup, a_touch_it_cannot_place_is_refused_with_the_reason) {
    static const reject_case cases[] = {
        {"no cadence state", 1, NULL, "Europe/London", "no cadence state"},
        {"past the cadence's end", 5, "qualified", "Europe/London",
         "past the end"},
        {"an unknown cadence", 1, "weekly", "Europe/London", "past the end"},
        {"a time zone that does not exist", 1, "qualified", "Mars/Olympus",
         "timezone"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const reject_case *c = &cases[i];
        lm_recorder_reset(rec);
        const char *hash[] = {
            LM_F_STATUS,   "open",     LM_F_CADENCE,   c->cadence,   LM_F_TZ,
            c->tz,         LM_F_OWNER, "alex.kim",     LM_F_SEGMENT, "NA/mid",
            LM_F_ADAPTIVE, "0",        LM_F_SUBMITTED, "1",          NULL};
        touch_ev t;
        next_touch(&t, c->step, NOW_MS + DAY_MS);
        cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker,
                                            &t.ev.base, NOW_MS, hash),
                     0);
        cr_expect_eq(
            lm_recorder_handle(rec, &lm_followup_worker, &t.ev.base, NOW_MS), 0,
            "%s", c->what);
        const char *why = lm_recorder_rejected(rec);
        cr_assert_not_null(why, "%s", c->what);
        cr_expect(strstr(why, c->want), "%s: %s", c->what, why);
    }
}

Test(worker_followup, identify_refuses_events_it_cannot_place) {
    decision_ev d;
    touch_ev t;
    Lastmile__V1__FollowUpEvent empty = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    struct {
        const char *what, *want;
        ProtobufCMessage *in;
    } cases[] = {
        {"neither", "neither", &empty.base},
        {"a disqualified decision", "decision", NULL},
        {"a decision without an owner", "decision", NULL},
        {"step 0 as a next touch", "next_touch.step", NULL},
        {"a touch in the year 1970", "scheduled_for_ms", NULL},
        {"a touch_id naming step 3 for step 1", "next_touch.touch_id", NULL},
        {"a touch_id with a suffix naming step 2", "next_touch.touch_id", NULL},
        {"a touch_id step with a leading zero", "next_touch.touch_id", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, "Europe/London");
        next_touch(&t, 1, NOW_MS);
        if (i == 1) {
            d.d.kind = LASTMILE__V1__DECISION_KIND__DISQUALIFIED;
            cases[i].in = &d.ev.base;
        } else if (i == 2) {
            d.d.owner = "";
            cases[i].in = &d.ev.base;
        } else if (i == 3) {
            t.t.step = 0;
            cases[i].in = &t.ev.base;
        } else if (i == 4) {
            t.t.scheduled_for_ms = 1000;
            cases[i].in = &t.ev.base;
        } else if (i >= 5) {
            static const char *const ids[] = {
                LEAD ":touch:3", LEAD ":touch:2:after:x", LEAD ":touch:01"};
            t.t.touch_id = (char *)ids[i - 5];
            cases[i].in = &t.ev.base;
        }
        lm_recorder_reset(rec);
        cr_expect_eq(
            lm_recorder_handle(rec, &lm_followup_worker, cases[i].in, NOW_MS),
            -1, "%s", cases[i].what);
        const char *why = lm_recorder_rejected(rec);
        cr_assert_not_null(why, "%s", cases[i].what);
        cr_expect(strstr(why, cases[i].want), "%s: %s", cases[i].what, why);
    }
}

/* A touch_id of the step's own form is the touch's id, with or without a
 * suffix (a cadence resumed after its account's deal: timing_account.c). */
Test(worker_followup, identify_keeps_a_touch_id_of_its_step) {
    static const char *const ids[] = {LEAD ":touch:1", LEAD ":touch:1:after:d"};
    for (size_t i = 0; i < 2; i++) {
        touch_ev t;
        next_touch(&t, 1, NOW_MS);
        t.t.touch_id = (char *)ids[i];
        lm_recorder_reset(rec);
        /* identify's refusal returns -1; handle's lm_out_reject of a lead
           the (empty) hash does not know returns 0 */
        cr_expect_eq(
            lm_recorder_handle(rec, &lm_followup_worker, &t.ev.base, NOW_MS), 0,
            "%s", ids[i]);
        cr_expect_str_eq(lm_recorder_ident(rec)->id, ids[i]);
    }
}

Test(worker_followup, a_decision_reads_only_the_lead_hash) {
    decision_ev d;
    decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, "Europe/London");
    lm_recorder_reply_strs(rec, 0, NULL); /* an empty hash: no status */
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_followup_worker, &d.ev.base, NOW_MS), 0);
    /* ONE read: the cadence's fields and the owner deadline's
       (followup_owner.c) in a single HMGET, each field once */
    cr_assert_eq(lm_recorder_n_planned(rec), 1);
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD, key);
    const lm_recorded_cmd *c = lm_recorder_planned(rec, 0);
    cr_expect_str_eq(c->argv[0], "HMGET");
    cr_expect_str_eq(c->argv[1], key);
    const char *want[] = {LM_F_STATUS,    LM_F_CADENCE,      LM_F_OWNER,
                          LM_F_TOUCHES,   LM_F_HOLDOUT,      LM_F_SLA_ACTION,
                          LM_F_SLA_LEVEL, LM_F_REASSIGNMENTS};
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        int seen = 0;
        for (int a = 2; a < c->argc; a++)
            seen += strcmp(c->argv[a], want[w]) == 0;
        cr_expect_eq(seen, 1, "%s read once", want[w]);
    }
    for (int a = 2; a < c->argc; a++)
        for (int b = a + 1; b < c->argc; b++)
            cr_expect_str_neq(c->argv[a], c->argv[b], "a field read twice");
    cr_expect_eq(lm_recorder_n_emits(rec), 1,
                 "a lead with no status yet is "
                 "followed up");
}

Test(worker_followup, the_wait_in_kafka_is_added_to_the_lead) {
    /* the first touch sets the sum and the count; a later one adds */
    lm_recorder_set_times(rec, NOW_MS - 5000, 250);
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD, key);
    decision_ev d;
    decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, "Europe/London");
    run_touch(&touch_cases[0], &d.ev.base);
    cr_expect_str_eq(lm_recorder_hget(rec, key, "wait_followup_ms"), "250");
    cr_expect_str_eq(lm_recorder_hget(rec, key, "wait_followup_n"), "1");

    lm_recorder_reset(rec);
    touch_ev t;
    next_touch(&t, 1, NOW_MS + DAY_MS);
    run_touch(&touch_cases[3], &t.ev.base);
    int ms = 0, n = 0;
    for (size_t i = 0; i < lm_recorder_n_writes(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_write(rec, i);
        if (strcmp(c->argv[0], "HINCRBY") != 0 || c->argc != 4)
            continue;
        ms |= !strcmp(c->argv[2], "wait_followup_ms") &&
              !strcmp(c->argv[3], "250");
        n |= !strcmp(c->argv[2], "wait_followup_n") && !strcmp(c->argv[3], "1");
    }
    cr_expect(ms && n, "a later touch adds its wait and counts it");
    cr_expect_null(lm_recorder_hget(rec, key, "wait_followup_n"));
}

/* ------------------------------------------------ unassigned, then freed */

/* A lead no owner had room for gets no touch (its cadence waits for an
 * owner), and reads nothing to learn that; the "slot_freed" decision that
 * assigns it starts the cadence at step 0, identified by its own decision
 * id. */
Test(worker_followup, an_unassigned_lead_waits_for_its_slot_freed_decision) {
    decision_ev d;
    decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, "America/New_York");
    d.d.owner = "";
    d.d.unassigned = 1;
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_followup_worker, &d.ev.base, NOW_MS), 0,
        "an unassigned decision is no error");
    cr_expect_null(lm_recorder_rejected(rec));
    cr_expect_eq(lm_recorder_n_planned(rec), 0,
                 "no read of the lead hash for a lead that waits");
    cr_expect_eq(lm_recorder_n_writes(rec), 0);
    cr_expect_eq(lm_recorder_n_emits(rec), 0, "no touch without an owner");
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_followup_skipped_total",
                                     "reason=\"unassigned\""),
                 1);

    lm_recorder_reset(rec);
    decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, "America/New_York");
    d.d.decision_id = LEAD ":decision:assigned";
    d.d.reason = "slot_freed";
    lm_recorder_reply_strs(rec, 0, NULL);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_followup_worker, &d.ev.base, NOW_MS), 0);
    cr_expect_str_eq(lm_recorder_ident(rec)->id, LEAD ":decision:assigned");
    const lm_recorded_emit *e = lm_recorder_emit_on(rec, LM_TOPIC_ACTIONS);
    cr_assert_not_null(e, "the cadence starts");
    cr_expect_str_eq(e->id, LEAD ":action:0");
}

/* Learned timing's data (issue 19): the decision's touch records the
 * title's role and the holdout on the lead (role in the timer's payload,
 * so timing can read the right counts), every touch its own slot as
 * "slot:<step>" (an answer is credited to the touch it answers), and a
 * NextTouch's slot probability and holdout go onto its action. */
Test(worker_followup, touches_carry_what_learned_timing_needs) {
    decision_ev d;
    decision(&d, LASTMILE__V1__DECISION_KIND__QUALIFIED, "America/New_York");
    d.lead.title = "VP of Sales";
    const char *first[] = {LM_F_STATUS, "open", NULL};
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD, key);
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, &d.ev.base,
                                        NOW_MS, first),
                 0);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_followup_worker, &d.ev.base, NOW_MS), 0);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_ROLE), "exec");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_HOLDOUT), "0",
                     "the shipped config holds no lead out");
    Lastmile__V1__FollowUpAction *a = the_action("the first touch");
    char slot[16];
    snprintf(slot, sizeof(slot), "%d", a->slot);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLOT_OF "0"), slot);
    cr_expect_eq(a->slot_probability, 1, "at once: no choice");
    expect_timer_armed(LEAD, 0, a->scheduled_for_ms + 4 * HOUR_MS, "exec",
                       "qualified", "the role and cadence ride the timer");
    protobuf_c_message_free_unpacked(&a->base, NULL);

    /* a later touch: what timing chose, with its probability */
    lm_recorder_reset(rec);
    touch_ev t;
    next_touch(&t, 1, NOW_MS + DAY_MS);
    t.t.slot_probability = 0.25;
    char submitted[32];
    snprintf(submitted, sizeof(submitted), "%lld", (long long)(NOW_MS - 90000));
    const char *later[] = {LM_F_STATUS,
                           "open",
                           LM_F_CADENCE,
                           "qualified",
                           LM_F_TZ,
                           "America/New_York",
                           LM_F_OWNER,
                           "alex.kim",
                           LM_F_SEGMENT,
                           "NA/mid",
                           LM_F_ADAPTIVE,
                           "1",
                           LM_F_SUBMITTED,
                           submitted,
                           LM_F_TEAM,
                           "na",
                           LM_F_TOUCHES,
                           "1",
                           LM_F_ROLE,
                           "exec",
                           LM_F_HOLDOUT,
                           "1",
                           NULL};
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_followup_worker, &t.ev.base,
                                        NOW_MS, later),
                 0);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_followup_worker, &t.ev.base, NOW_MS), 0);
    a = the_action("the second touch");
    cr_expect_eq(a->slot_probability, 0.25);
    cr_expect(a->holdout, "the lead is in the holdout");
    cr_expect_not(a->adaptive, "a held-out lead is never on learned timing");
    snprintf(slot, sizeof(slot), "%d", a->slot);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLOT_OF "1"), slot);
    protobuf_c_message_free_unpacked(&a->base, NULL);
}
