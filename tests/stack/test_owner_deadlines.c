/* test_owner_deadlines.c — an owner who ignores a call step, on the
 * embedded stack (the four workers, the mock broker, a real redis-server
 * with its AOF), in simulated time (LASTMILE_TIME_SCALE: 5 simulated
 * minutes pass in 5 real seconds):
 *   owners.ignored_call_reminder_reassignment_escalation: the call step's
 *     5-minute deadline passes with no OwnerActivity: a REMINDER to the
 *     owner; 5 minutes later the lead goes to the teammate (a decision
 *     with reason sla_breach on lastmile.followup) who gets the call
 *     again; 5 minutes later the team's lead gets an ESCALATION. Each
 *     exactly once on its topic, and nothing after it; `lastmile waiting`
 *     lists the reminded step; the report's counts are once each too;
 *   owners.chain_survives_kill9: the same with timing killed -9 after the
 *     reminder and followup killed -9 after the reassignment (both
 *     restarted): the durable timers fire from Redis;
 *   owners.chain_survives_redis_restart: the same with redis-server
 *     killed -9 and restarted from its AOF after the reminder (written
 *     with `appendfsync always` until the kill, so that no acknowledged
 *     write is lost with it);
 *   owners.an_away_owner_is_skipped_not_reminded: OwnerStatus AWAY is
 *     recorded in the owner's state hash; the deadline that passes is not a
 *     reminder but a reassignment at once, then the escalation;
 *   owners.done_stops_the_chain: the owner reports DONE on lastmile.timing
 *     before the deadline: no reminder, no reassignment, no escalation;
 *   owners.a_superseded_reassignment_gives_nothing_away: followup is down
 *     when the call is reassigned; the lead then replies and the hand-off
 *     is reassigned too. Restarted, followup finds both decisions: the
 *     hand-off goes to its new owner once ("<lead>:handoff:r2"), the
 *     superseded call step to nobody (before, "<lead>:handoff:r2" went
 *     out twice, to two owners).
 * The config (written per test): everyone QUALIFIED, team "sales" (ann,
 * bob; lead lee.boss), always working, a cadence of one call with
 * `deadline: 5m`, the hand-off's deadline 5m. */
#include "stack_fixture.h"

#include "lm_clock.h"
#include "lm_devstack.h"
#include "lm_redis.h"
#include "lm_report_owners.h"
#include "lm_sla.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCALE 60 /* simulated s per real s: a 5m deadline is 5 s */

static fixture fx;

/* `lastmile waiting --json`: the owner steps it lists first. */
static json_t *waiting_owner_steps(void) {
    FILE *p = popen(LM_BINARY_DIR "/cli/lastmile waiting --json", "r");
    cr_assert_not_null(p);
    json_error_t e;
    json_t *j = json_loadf(p, 0, &e);
    pclose(p);
    cr_assert_not_null(j, "lastmile waiting --json: %s", e.text);
    json_t *steps = json_incref(json_object_get(j, "owner_steps"));
    json_decref(j);
    cr_assert(json_is_array(steps));
    return steps;
}

static void teardown(void) {
    fixture_down(&fx);
}

static const char config[] =
    "thresholds: { qualified: 0.0, nurture: 0.0 }\n"
    "channels:\n"
    "  email: { cost: \"0.02\" }\n"
    "  call: { cost: \"4.50\", human: true }\n"
    "routing:\n"
    "  - { team: sales }\n"
    "teams:\n"
    "  sales:\n"
    "    lead: lee.boss\n"
    "    owners:\n"
    "      - { name: ann, capacity: 10 }\n"
    "      - { name: bob, capacity: 10 }\n"
    "cadences:\n"
    "  qualified:\n"
    "    allowed_hours: \"00:00-24:00\"\n"
    "    business_days: [mon, tue, wed, thu, fri, sat, sun]\n"
    "    steps:\n"
    "      - { channel: call, wait: 0, response_window: 2w, deadline: 5m }\n"
    "  nurture:\n"
    "    steps:\n"
    "      - { channel: email, wait: 0, response_window: 2w }\n"
    "handoff_deadline: 5m\n";

/* What the test saw on lastmile.actions and lastmile.followup. */
typedef struct seen {
    char lead[64], action[128], owner[64], reassigned_to[64];
    int touches, reminders, reassigned_steps, escalations, sla_decisions;
    int handoffs, handoffs_reassigned, handoff_r2;
    char escalated_to[64];
    topic_reader *actions, *followup;
} seen;

static void on_action(void *opaque, const rd_kafka_message_t *rkm) {
    seen *s = opaque;
    Lastmile__V1__FollowUpAction *a =
        lastmile__v1__follow_up_action__unpack(NULL, rkm->len, rkm->payload);
    if (!a)
        return;
    char want[160];
    if (a->kind == LASTMILE__V1__ACTION_KIND__TOUCH && a->step == 0 &&
        !s->action[0]) {
        snprintf(s->lead, sizeof(s->lead), "%s", a->lead_id);
        snprintf(s->action, sizeof(s->action), "%s", a->action_id);
        snprintf(s->owner, sizeof(s->owner), "%s", a->owner);
        cr_expect(a->human, "a call is a human step");
        cr_expect_gt(a->due_by_ms, a->scheduled_for_ms, "it has a deadline");
    }
    if (strcmp(a->action_id, s->action) == 0)
        s->touches++;
    snprintf(want, sizeof(want), "%s:reminder", s->action);
    if (strcmp(a->action_id, want) == 0) {
        s->reminders++;
        cr_expect_eq(a->kind, LASTMILE__V1__ACTION_KIND__REMINDER);
        cr_expect_str_eq(a->owner, s->owner, "the reminder goes to the owner");
    }
    snprintf(want, sizeof(want), "%s:r1", s->action);
    if (strcmp(a->action_id, want) == 0) {
        s->reassigned_steps++;
        cr_expect_str_neq(a->owner, s->owner, "the call goes to a teammate");
        cr_expect_gt(a->due_by_ms, 0);
    }
    snprintf(want, sizeof(want), "%s:handoff", s->lead);
    if (s->lead[0] && strcmp(a->action_id, want) == 0)
        s->handoffs++;
    snprintf(want, sizeof(want), "%s:handoff:r", s->lead);
    size_t prefix = strlen(want);
    const char *nth =
        strncmp(a->action_id, want, prefix) == 0 ? a->action_id + prefix : "";
    if (s->lead[0] && *nth && strspn(nth, "0123456789") == strlen(nth)) {
        /* "<lead>:handoff:r<n>", not its reminder or escalation */
        s->handoffs_reassigned++;
        if (strcmp(nth, "2") == 0)
            s->handoff_r2++;
    }
    snprintf(want, sizeof(want), "%s:r1:escalation", s->action);
    if (strcmp(a->action_id, want) == 0) {
        s->escalations++;
        cr_expect_eq(a->kind, LASTMILE__V1__ACTION_KIND__ESCALATION);
        snprintf(s->escalated_to, sizeof(s->escalated_to), "%s", a->owner);
    }
    lastmile__v1__follow_up_action__free_unpacked(a, NULL);
}

static void on_followup(void *opaque, const rd_kafka_message_t *rkm) {
    seen *s = opaque;
    Lastmile__V1__FollowUpEvent *e =
        lastmile__v1__follow_up_event__unpack(NULL, rkm->len, rkm->payload);
    if (!e)
        return;
    if (e->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION &&
        e->decision->reason && strcmp(e->decision->reason, "sla_breach") == 0) {
        s->sla_decisions++;
        snprintf(s->reassigned_to, sizeof(s->reassigned_to), "%s",
                 e->decision->owner);
        char want[96];
        snprintf(want, sizeof(want), "%s:decision:%d", e->decision->lead_id,
                 s->sla_decisions);
        cr_expect_str_eq(e->decision->decision_id, want);
    }
    lastmile__v1__follow_up_event__free_unpacked(e, NULL);
}

static void pump(seen *s, int wait_ms) {
    reader_drain(s->actions, wait_ms, on_action, s);
    reader_drain(s->followup, 0, on_followup, s);
}

/* Pumps until *counter >= n; asserts it happened within timeout_ms. */
static void until_n(seen *s, const int *counter, int n, const char *what,
                    int64_t timeout_ms) {
    int64_t end = fixture_mono_ms() + fixture_ms(timeout_ms);
    while (*counter < n && fixture_mono_ms() < end)
        pump(s, 200);
    cr_assert_geq(*counter, n, "no %s within %lld ms", what,
                  (long long)timeout_ms);
}

/* Pumps for ms: whatever else arrives is counted. */
static void pump_for(seen *s, int64_t ms) {
    int64_t end = fixture_mono_ms() + ms;
    while (fixture_mono_ms() < end)
        pump(s, 200);
}

static void until(seen *s, const int *counter, const char *what,
                  int64_t timeout_ms) {
    until_n(s, counter, 1, what, timeout_ms);
}

static void start(seen *s, int slots[4]) {
    char path[512];
    cr_assert_eq(fixture_up(&fx, 2, SCALE), 0);
    snprintf(path, sizeof(path), "%s/decisions.yaml", fx.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(config, f);
    fclose(f);
    setenv("LASTMILE_CONFIG", path, 1);
    static const char *const names[4] = {"intake", "qualification", "followup",
                                         "timing"};
    for (int i = 0; i < 4; i++)
        cr_assert_geq(slots[i] = fixture_start_worker(&fx, names[i]), 0);
    memset(s, 0, sizeof(*s));
    s->actions = reader_new(&fx, "actions");
    s->followup = reader_new(&fx, "followup");
    Lastmile__V1__LeadSubmitted l = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    l.event_id = "owner-test-1";
    l.source = "web_form";
    l.email = "ignored.call@example.com";
    l.full_name = "Ignored Call";
    l.company = "Example Co";
    l.title = "VP Sales";
    l.company_size = 200;
    l.country = "US";
    l.timezone = "America/New_York";
    l.submitted_at_ms = lm_clock_now_ms();
    cr_assert_eq(fixture_produce(&fx, "intake", l.email, &l.base), 0);
    until(s, &s->touches, "call step", 60000);
}

/* The escalation arrived; then a quiet while (more than two deadlines of
 * simulated time): each step exactly once. */
static void expect_chain_once(seen *s) {
    until(s, &s->escalations, "escalation", 90000);
    pump_for(s, 12000);
    cr_expect_eq(s->touches, 1, "the call step");
    cr_expect_eq(s->reminders, 1, "reminders");
    cr_expect_eq(s->sla_decisions, 1, "reassignments");
    cr_expect_eq(s->reassigned_steps, 1, "the call given again");
    cr_expect_eq(s->escalations, 1, "escalations");
    cr_expect_str_neq(s->reassigned_to, s->owner);
    cr_expect_str_eq(s->escalated_to, "lee.boss", "the team's lead");
    /* the report's counts, once each too (timing's transaction) */
    char err[256];
    lm_redis *r = lm_redis_new(fx.st.redis_url, 2000, err, sizeof(err));
    cr_assert(r && lm_redis_connect(r, err, sizeof(err)) == 0, "%s", err);
    lm_owners_report o;
    cr_assert_eq(
        lm_report_owners_collect(r, lm_clock_now_ms(), &o, err, sizeof(err)), 0,
        "%s", err);
    int64_t breaches = 0, reminders = 0, lost = 0, gained = 0, escalated = 0;
    for (size_t i = 0; i < o.n_rows; i++) {
        cr_expect_str_eq(o.rows[i].team, "sales");
        breaches += o.rows[i].breaches;
        reminders += o.rows[i].reminders;
        lost += o.rows[i].reassigned_from;
        gained += o.rows[i].reassigned_to;
        escalated += o.rows[i].escalations;
    }
    cr_expect_eq(breaches, 3, "three deadlines missed");
    cr_expect_eq(reminders, 1);
    cr_expect_eq(lost, 1);
    cr_expect_eq(gained, 1);
    cr_expect_eq(escalated, 1);
    cr_expect_eq(o.n_steps, 0, "nothing armed after the escalation");
    lm_report_owners_free(&o);
    lm_redis_destroy(r);
    reader_free(s->actions);
    reader_free(s->followup);
}

Test(owners, ignored_call_reminder_reassignment_escalation, .fini = teardown,
     .timeout = 300) {
    seen s;
    int slots[4];
    start(&s, slots);
    until(&s, &s.reminders, "reminder", 60000);
    cr_expect_eq(s.sla_decisions, 0, "the reminder comes first");
    /* `lastmile waiting` lists the step first, overdue: its owner was
       reminded (unless the reassignment came already) */
    json_t *steps = waiting_owner_steps();
    if (json_array_size(steps) == 0) { /* between level 1 and level 2 */
        pump(&s, 500);
        cr_expect_geq(s.sla_decisions, 1, "no owner step listed");
    } else {
        cr_expect_eq(json_array_size(steps), 1);
        json_t *st = json_array_get(steps, 0);
        const char *act = json_string_value(json_object_get(st, "action_id"));
        cr_expect(act && strncmp(act, s.action, strlen(s.action)) == 0, "%s",
                  act ? act : "(none)");
        cr_expect_geq(json_integer_value(json_object_get(st, "level")), 1,
                      "an overdue step: its owner was reminded");
    }
    json_decref(steps);
    until(&s, &s.sla_decisions, "reassignment", 60000);
    cr_expect_eq(s.escalations, 0, "the reassignment comes before escalation");
    expect_chain_once(&s);
}

Test(owners, chain_survives_kill9, .fini = teardown, .timeout = 400) {
    seen s;
    int slots[4];
    start(&s, slots);
    until(&s, &s.reminders, "reminder", 60000);
    fixture_stop_worker(&fx, slots[3], SIGKILL);
    cr_assert_geq(fixture_start_worker(&fx, "timing"), 0);
    until(&s, &s.sla_decisions, "reassignment", 120000);
    fixture_stop_worker(&fx, slots[2], SIGKILL);
    cr_assert_geq(fixture_start_worker(&fx, "followup"), 0);
    expect_chain_once(&s);
}

Test(owners, chain_survives_redis_restart, .fini = teardown, .timeout = 400) {
    seen s;
    int slots[4];
    char err[256];
    start(&s, slots);
    /* every write acknowledged is in the AOF when Redis is killed: with
       `everysec` Redis may postpone its write while a background fsync is
       slow, and a kill -9 then loses acknowledged writes (a done record:
       the deadline decided again; docs/DELIVERY.md, "Redis durability").
       What this test checks is that the timers come back from the AOF. */
    redisReply *cfg =
        fixture_redis_cmd(&fx, "CONFIG", "SET", "appendfsync", "always", NULL);
    cr_assert(cfg && cfg->type == REDIS_REPLY_STATUS, "CONFIG SET appendfsync");
    freeReplyObject(cfg);
    until(&s, &s.reminders, "reminder", 60000);
    cr_assert_eq(lm_devstack_redis_stop(&fx.st, 1), 0, "kill -9 redis");
    usleep(500000);
    cr_assert_eq(lm_devstack_redis_start(&fx.st, 1, err, sizeof(err)), 0, "%s",
                 err);
    expect_chain_once(&s);
}

Test(owners, done_stops_the_chain, .fini = teardown, .timeout = 300) {
    seen s;
    int slots[4];
    start(&s, slots);
    Lastmile__V1__OwnerActivity a = LASTMILE__V1__OWNER_ACTIVITY__INIT;
    a.event_id = "dialer-1";
    a.action_id = s.action;
    a.lead_id = s.lead;
    a.owner = s.owner;
    a.kind = LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE;
    a.occurred_at_ms = lm_clock_now_ms();
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_ACTIVITY;
    ev.owner_activity = &a;
    cr_assert_eq(fixture_produce(&fx, "timing", s.lead, &ev.base), 0);
    pump_for(&s, 20000); /* four deadlines */
    cr_expect_eq(s.reminders, 0);
    cr_expect_eq(s.sla_decisions, 0);
    cr_expect_eq(s.escalations, 0);
    reader_free(s.actions);
    reader_free(s.followup);
}

Test(owners, an_away_owner_is_skipped_not_reminded, .fini = teardown,
     .timeout = 300) {
    seen s;
    int slots[4];
    start(&s, slots);
    Lastmile__V1__OwnerStatus st = LASTMILE__V1__OWNER_STATUS__INIT;
    st.event_id = "hr-1";
    st.owner = s.owner;
    st.status = LASTMILE__V1__OWNER_AVAILABILITY__AWAY;
    st.occurred_at_ms = lm_clock_now_ms();
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS;
    ev.owner_status = &st;
    cr_assert_eq(fixture_produce(&fx, "timing", s.owner, &ev.base), 0);
    until(&s, &s.sla_decisions, "reassignment", 60000);
    cr_expect_eq(s.reminders, 0, "an away owner is not reminded");
    cr_expect_str_neq(s.reassigned_to, s.owner);
    /* recorded for routing to read */
    char err[256], key[LM_KEY_MAX];
    lm_sla_state_key(s.owner, key);
    lm_redis *r = lm_redis_new(fx.st.redis_url, 2000, err, sizeof(err));
    cr_assert(r && lm_redis_connect(r, err, sizeof(err)) == 0, "%s", err);
    lm_pipe p;
    memset(&p, 0, sizeof(p));
    lm_pipe_cmd_strs(&p, "HGET", key, "status", NULL);
    redisReply *rep[1] = {NULL};
    cr_assert_eq(lm_redis_exec(r, &p, rep, err, sizeof(err)), 0, "%s", err);
    cr_expect(rep[0] && rep[0]->str && strcmp(rep[0]->str, "AWAY") == 0,
              "the owner's state says AWAY");
    lm_redis_replies_free(rep, 1);
    lm_pipe_free(&p);
    lm_redis_destroy(r);
    until(&s, &s.escalations, "escalation", 60000);
    cr_expect_eq(s.sla_decisions, 1);
    reader_free(s.actions);
    reader_free(s.followup);
}

Test(owners, a_superseded_reassignment_gives_nothing_away, .fini = teardown,
     .timeout = 400) {
    seen s;
    int slots[4];
    start(&s, slots);
    until(&s, &s.reminders, "reminder", 60000);
    /* followup is down: the call's reassignment waits on its partition */
    fixture_stop_worker(&fx, slots[2], SIGKILL);
    until(&s, &s.sla_decisions, "the call's reassignment", 60000);
    /* the lead replies: timing hands it to its (new) owner, whose
       hand-off goes overdue and is reassigned too */
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    r.event_id = "reply-1";
    r.lead_id = s.lead;
    r.kind = LASTMILE__V1__RESPONSE_KIND__REPLIED;
    r.occurred_at_ms = lm_clock_now_ms();
    r.action_id = s.action;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    ev.response = &r;
    cr_assert_eq(fixture_produce(&fx, "timing", s.lead, &ev.base), 0);
    until(&s, &s.handoffs, "hand-off", 60000);
    until_n(&s, &s.sla_decisions, 2, "the hand-off's reassignment", 60000);
    cr_assert_geq(fixture_start_worker(&fx, "followup"), 0);
    until(&s, &s.handoffs_reassigned, "the hand-off given again", 60000);
    pump_for(&s, 5000); /* both decisions were waiting: one batch */
    cr_expect_eq(s.sla_decisions, 2);
    cr_expect_eq(s.handoff_r2, 1, "the hand-off given again once");
    cr_expect_eq(s.handoffs_reassigned, 1, "and under no other name");
    cr_expect_eq(s.reassigned_steps, 0,
                 "the call step, superseded by the hand-off, goes nowhere");
    reader_free(s.actions);
    reader_free(s.followup);
}
