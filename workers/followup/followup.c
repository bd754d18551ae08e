/* followup.c — run a cadence step and arm its timer (see followup.h).
 *
 * State read in plan(): the lead hash, in ONE HMGET (followup_fields.h:
 * status, cadence, time zone, owner, segment, arm, submission time, and the
 * owner deadline's fields). The decision event carries the lead, so step 0
 * needs nothing but the status. An unassigned decision reads nothing: it
 * is skipped whatever the hash says (its cadence starts with the
 * "slot_freed" decision that assigns it), and in a busy fleet most leads
 * wait unassigned (0.64 of a lead's 8.18 commands in the bench). */
#include "followup.h"
#include "followup_fields.h"
#include "followup_owner.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_learn.h"
#include "lm_sla.h"
#include "lm_lead_wait.h"
#include "lm_timers.h"
#include "lm_topics.h"
#include "lm_tz.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdio.h>
#include <string.h>

typedef struct followup_ctx {
    lm_policy *policy;
} followup_ctx;

static followup_ctx followup_state;

/* the one HMGET of the lead hash (followup_fields.h) */
const char *const followup_fields[R_N] = {
    LM_F_STATUS,    LM_F_CADENCE,       LM_F_TZ,          LM_F_OWNER,
    LM_F_SEGMENT,   LM_F_ADAPTIVE,      LM_F_SUBMITTED,   LM_F_TOUCHES,
    LM_F_RESPONDED, LM_F_RETURNS,       LM_F_TEAM,        LM_F_ROLE,
    LM_F_HOLDOUT,   LM_F_PAUSED,        LM_F_SLA_ACTION,  LM_F_SLA_STEP,
    LM_F_SLA_LEVEL, LM_F_REASSIGNMENTS, LM_F_FIRST_TOUCH, LM_F_SLA_OWNER};

int64_t lm_followup_schedule(const lm_cadence *c, const char *tz,
                             int64_t earliest_ms) {
    return lm_policy_next_allowed_ms(c, tz, earliest_ms);
}

int64_t lm_followup_schedule_step(const lm_cadence *c, size_t step,
                                  const char *tz, int64_t earliest_ms) {
    return lm_policy_step_time_ms(c, step, tz, earliest_ms);
}

static int followup_init(void *ctx, const lm_settings *s, char *err,
                         size_t errsz) {
    followup_ctx *c = ctx;
    c->policy = lm_policy_load(s->config_path, err, errsz);
    return c->policy ? 0 : -1;
}

static void followup_fini(void *ctx) {
    followup_ctx *c = ctx;
    lm_policy_free(c->policy);
    c->policy = NULL;
}

static const char *event_lead(const Lastmile__V1__FollowUpEvent *ev) {
    if (ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION)
        return ev->decision->lead_id;
    if (ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH)
        return ev->next_touch->lead_id;
    return NULL;
}

/* The step a touch_id names: the digits after "<lead>:touch:", ended by
 * the string's end or a ':' (a suffix). -1 when there are none, more
 * than four, a leading zero, or another character ends them. */
static int touch_id_step(const char *s) {
    int step = 0, n = 0;
    if (*s == '0')
        return -1; /* steps start at 1: no leading zero */
    for (; *s >= '0' && *s <= '9' && n < 5; s++, n++)
        step = step * 10 + (*s - '0');
    return n >= 1 && n <= 4 && (*s == '\0' || *s == ':') ? step : -1;
}

/* A decision's id into ident->id: the decision_id of a decision made
 * again ("<lead>:decision:<n>"), else "<lead>:decision". 0, or -1 with
 * the reason for a decision followup cannot run. */
static int decision_ident(const Lastmile__V1__QualificationDecision *d,
                          const char *lead, lm_ident *ident, char *reason,
                          size_t reasonsz) {
    /* an unassigned lead has no owner yet (docs/ROUTING.md) */
    if (!d->lead || (!d->unassigned && (!d->owner || !*d->owner)) ||
        (d->kind != LASTMILE__V1__DECISION_KIND__QUALIFIED &&
         d->kind != LASTMILE__V1__DECISION_KIND__NURTURE)) {
        snprintf(reason, reasonsz,
                 "decision: needs the lead, an owner and kind QUALIFIED "
                 "or NURTURE");
        return -1;
    }
    if (d->reason && *d->reason && d->decision_id &&
        strncmp(d->decision_id, lead, strlen(lead)) == 0)
        lm_fmt_cat(ident->id, sizeof(ident->id), d->decision_id, NULL);
    else
        lm_fmt_cat(ident->id, sizeof(ident->id), lead, ":decision", NULL);
    return 0;
}

/* A next touch's id into ident->id: its touch_id when that has the form
 * "<lead>:touch:<step>[:<suffix>]", else one of that form made from the
 * step. 0, or -1 with the reason for a touch out of range or whose id
 * names another step. */
static int next_touch_ident(const Lastmile__V1__NextTouch *nt, const char *lead,
                            lm_ident *ident, char *reason, size_t reasonsz) {
    if (nt->step < 1 || nt->step > 1000) {
        snprintf(reason, reasonsz, "next_touch.step: %d is out of range",
                 (int)nt->step);
        return -1;
    }
    if (nt->scheduled_for_ms < 946684800000LL ||
        nt->scheduled_for_ms > 32503680000000LL) {
        snprintf(reason, reasonsz,
                 "next_touch.scheduled_for_ms: %lld is not a time between "
                 "2000 and 3000 in ms since the epoch",
                 (long long)nt->scheduled_for_ms);
        return -1;
    }
    /* "<lead>:touch:<step>", or a touch_id of that form with a suffix
       (a cadence resumed after its account's deal: timing_account.c) */
    const char *tid = nt->touch_id;
    size_t nl = strlen(lead);
    if (tid && strncmp(tid, lead, nl) == 0 &&
        strncmp(tid + nl, ":touch:", 7) == 0 &&
        strlen(tid) < sizeof(ident->id)) {
        if (touch_id_step(tid + nl + 7) != nt->step) {
            snprintf(reason, reasonsz,
                     "next_touch.touch_id: \"%.80s\" names another step "
                     "than next_touch.step %d; the id is "
                     "\"<lead>:touch:<step>\" with an optional "
                     "\":<suffix>\"",
                     tid, (int)nt->step);
            return -1;
        }
        lm_fmt_cat(ident->id, sizeof(ident->id), tid, NULL);
    } else {
        char step[LM_FMT_I64_MAX]; /* 1..1000, checked above */
        lm_fmt_i64(step, nt->step);
        lm_fmt_cat(ident->id, sizeof(ident->id), lead, ":touch:", step, NULL);
    }
    return 0;
}

static int followup_identify(void *ctx, const ProtobufCMessage *msg,
                             lm_ident *ident, char *reason, size_t reasonsz) {
    (void)ctx;
    const Lastmile__V1__FollowUpEvent *ev =
        (const Lastmile__V1__FollowUpEvent *)msg;
    const char *lead = event_lead(ev);
    if (!lead) {
        snprintf(reason, reasonsz,
                 "event: neither decision nor next_touch is set");
        return -1;
    }
    if (lm_lead_tag_of("lead_id", lead, ident->tag, reason, reasonsz))
        return -1;
    if (ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION)
        return decision_ident(ev->decision, lead, ident, reason, reasonsz);
    return next_touch_ident(ev->next_touch, lead, ident, reason, reasonsz);
}

/* A decision that found no owner with room (not an owner deadline's
 * reassignment): nothing to do until a slot frees. */
static int waits_unassigned(const Lastmile__V1__FollowUpEvent *ev) {
    return ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION &&
           ev->decision->unassigned && !followup_owner_is_reassignment(ev);
}

static int followup_plan(void *ctx, const ProtobufCMessage *msg,
                         const lm_ident *ident, int64_t now_ms, lm_plan *p) {
    (void)ctx;
    (void)ident;
    (void)now_ms;
    const Lastmile__V1__FollowUpEvent *ev =
        (const Lastmile__V1__FollowUpEvent *)msg;
    if (waits_unassigned(ev))
        return 0; /* skipped in handle, whatever the hash holds */
    char key[LM_KEY_MAX];
    lm_lead_key(event_lead(ev), key);
    const char *argv[2 + R_N] = {"HMGET", key};
    for (int i = 0; i < R_N; i++)
        argv[2 + i] = followup_fields[i];
    return lm_plan_cmd(p, 2 + R_N, argv, NULL);
}

/* Field i of the lead's HMGET (followup_fields), or NULL. */
static const char *field(const lm_msg *m, int i) {
    return followup_field(m, i);
}

/* Why a touch is not run, as its counter's label, or NULL to run it: the
 * lead closed, answered, or waits on a colleague's live deal (timing
 * resumes it). */
static const char *skip_label(const Lastmile__V1__FollowUpEvent *ev,
                              const lm_msg *m) {
    const char *status = field(m, R_STATUS);
    if (status && strcmp(status, "closed") == 0)
        return "reason=\"closed\""; /* the lead answered or closed meanwhile */
    if (field(m, R_RESPONDED))
        return "reason=\"handed_off\""; /* the lead answered: its owner has it
                                         */
    if (ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH &&
        field(m, R_PAUSED) && *field(m, R_PAUSED))
        return "reason=\"account_paused\"";
    return NULL;
}

/* What a touch is about, from the decision (step 0) or from the next
 * touch and the lead hash (later steps). The strings borrow from the
 * message (its event or its reads) or the policy. */
typedef struct touch_in {
    const char *lead_id, *tz, *owner, *segment, *team, *role;
    const lm_cadence *cad;
    int adaptive, step, holdout;
    double slot_probability; /* 1: the first allowed time, "at: now" */
    int64_t earliest;        /* not before this, ms */
    int64_t submitted;       /* the person's submission, ms; 0: unknown */
} touch_in;

/* Step 0: everything comes with the decision. 0 / -1 (no such cadence:
 * the policy lost one it had). */
static int touch_from_decision(const followup_ctx *c, const lm_msg *m,
                               const Lastmile__V1__QualificationDecision *d,
                               touch_in *t) {
    t->lead_id = d->lead_id;
    t->tz = d->lead->timezone;
    t->owner = d->owner;
    t->segment = d->segment;
    t->team = d->team;
    t->adaptive = lm_learn_arm(c->policy, t->lead_id, &t->holdout);
    t->role = lm_learn_role(d->lead->title);
    t->step = 0;
    t->cad = lm_policy_cadence(c->policy,
                               d->kind == LASTMILE__V1__DECISION_KIND__QUALIFIED
                                   ? "qualified"
                                   : "nurture");
    if (!t->cad)
        return -1;
    t->submitted = d->lead->submitted_at_ms;
    /* never before the person asked: a producer's clock may run ahead
       (intake takes submissions up to a day in the future) */
    t->earliest = (t->submitted > m->now_ms ? t->submitted : m->now_ms) +
                  t->cad->steps[0].wait_ms;
    return 0;
}

/* A later step: the cadence state comes from the lead hash. 0, or 1 when
 * the message was rejected into out (no state, a step past the end). */
static int touch_from_next(const followup_ctx *c, const lm_msg *m, lm_out *out,
                           const Lastmile__V1__NextTouch *nt, touch_in *t) {
    const char *cadence_name = field(m, R_CADENCE);
    const char *a = field(m, R_ADAPTIVE), *sub = field(m, R_SUBMITTED);
    const char *ho = field(m, R_HOLDOUT);
    t->lead_id = nt->lead_id;
    t->tz = field(m, R_TZ);
    t->owner = field(m, R_OWNER);
    t->segment = field(m, R_SEGMENT);
    t->team = field(m, R_TEAM);
    if (!cadence_name || !t->tz || !t->owner || !t->segment || !a || !sub) {
        lm_out_reject(out,
                      "next_touch: lead %s has no cadence state (was "
                      "its decision handled?)",
                      t->lead_id);
        return 1;
    }
    t->holdout = nt->holdout || (ho && ho[0] == '1');
    t->adaptive = a[0] == '1' && !t->holdout;
    t->role = field(m, R_ROLE); /* NULL: a lead from before roles */
    t->slot_probability = nt->slot_probability;
    t->step = nt->step;
    t->cad = lm_policy_cadence(c->policy, cadence_name);
    if (!t->cad || (size_t)t->step >= t->cad->n_steps) {
        lm_out_reject(out,
                      "next_touch.step: %d is past the end of "
                      "cadence %s",
                      t->step, cadence_name);
        return 1;
    }
    t->earliest =
        nt->scheduled_for_ms > m->now_ms ? nt->scheduled_for_ms : m->now_ms;
    t->submitted = 0;
    lm_parse_int64(sub, 0, INT64_MAX, &t->submitted);
    return 0;
}

/* When the touch goes out: not before `earliest` nor the lead's return
 * from an out-of-office, at an allowed time of the cadence, and for a
 * human step inside the owner's working hours. 0, or 1 when the message
 * was rejected into out (a time zone that does not resolve). */
static int touch_time(const followup_ctx *c, const lm_msg *m, lm_out *out,
                      const touch_in *t, int64_t *when, lm_local_time *lt) {
    int64_t earliest = t->earliest, back = 0;
    if (field(m, R_RETURNS) &&
        lm_parse_int64(field(m, R_RETURNS), 0, INT64_MAX, &back) == 0 &&
        back > earliest)
        earliest = back;
    *when = followup_owner_when(
        c->policy, t->cad, &t->cad->steps[t->step], t->tz, t->team, t->owner,
        lm_followup_schedule_step(t->cad, (size_t)t->step, t->tz, earliest));
    if (*when < 0 || lm_tz_local(t->tz, *when, lt) != 0) {
        lm_out_reject(out, "timezone: \"%.64s\" cannot be resolved", t->tz);
        return 1;
    }
    return 0;
}

/* The touch's action into *a; its strings borrow from t, the policy and
 * action_id (the caller's, LM_ID_MAX bytes), which must outlive *a. */
static void touch_action(const followup_ctx *c, const touch_in *t, int64_t when,
                         int slot, int64_t cost, char action_id[LM_ID_MAX],
                         Lastmile__V1__FollowUpAction *a) {
    const lm_step *st = &t->cad->steps[t->step];
    char step_s[LM_FMT_I64_MAX];
    lm_fmt_i64(step_s, t->step);
    lm_fmt_cat(action_id, LM_ID_MAX, t->lead_id, ":action:", step_s, NULL);
    *a = (Lastmile__V1__FollowUpAction)LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a->action_id = action_id;
    a->lead_id = (char *)t->lead_id;
    a->channel = (char *)st->channel;
    a->step = t->step;
    a->scheduled_for_ms = when;
    a->owner = (char *)t->owner;
    a->kind = LASTMILE__V1__ACTION_KIND__TOUCH;
    a->cost_cents = cost;
    a->adaptive = t->adaptive;
    a->slot = slot;
    a->segment = (char *)t->segment;
    a->cadence = (char *)t->cad->name;
    a->submitted_at_ms = t->submitted;
    a->human = st->human;
    a->slot_probability = t->slot_probability;
    a->holdout = t->holdout;
    followup_owner_step(c->policy, st, t->team, a); /* team, the deadline */
}

/* The first step's fields of the lead hash: the cadence, the time zone,
 * the first action, the role and (for a lead from before the holdout)
 * the holdout; and speed-to-lead. */
static void record_first_step(const lm_msg *m, lm_out *out, const char *key,
                              const touch_in *t, const char *when_s,
                              int64_t when) {
    lm_out_write_strs(out, "HSET", key, LM_F_CADENCE, t->cad->name, LM_F_TZ,
                      t->tz, LM_F_FIRST_ACTION, when_s, LM_F_ROLE, t->role,
                      NULL);
    if (!field(m, R_HOLDOUT)) /* qualification wrote it (a lead from
                                 before the holdout has none) */
        lm_out_write_strs(out, "HSET", key, LM_F_HOLDOUT,
                          t->holdout ? "1" : "0", NULL);
    if (t->submitted > 0 && when >= t->submitted)
        lm_out_observe(out, "lastmile_speed_to_lead_seconds",
                       (double)(when - t->submitted) / 1000.0);
}

/* The touch in the lead hash (its step, slot, times and counters) and in
 * the cost and action counters. */
static void record_touch(const lm_msg *m, lm_out *out, const touch_in *t,
                         const Lastmile__V1__FollowUpAction *a,
                         int64_t due_ms) {
    char key[LM_KEY_MAX], w[LM_FMT_I64_MAX], due[LM_FMT_I64_MAX],
        stepb[LM_FMT_I64_MAX], slot[LM_FMT_I64_MAX], costb[LM_FMT_I64_MAX];
    lm_lead_key(t->lead_id, key);
    lm_fmt_i64(w, a->scheduled_for_ms);
    lm_fmt_i64(due, due_ms);
    lm_fmt_i64(stepb, t->step);
    lm_fmt_i64(slot, a->slot);
    lm_fmt_i64(costb, a->cost_cents);
    /* owner, segment and arm are in the hash since qualification decided
       (a later step read them from there); the cadence and the time zone
       from the first step on */
    char slot_of[32]; /* this step's slot, for an answer to it */
    lm_fmt_cat(slot_of, sizeof(slot_of), LM_F_SLOT_OF, stepb, NULL);
    lm_out_write_strs(out, "HSET", key, LM_F_STEP, stepb, LM_F_SLOT, slot,
                      LM_F_LAST_ACTION, w, LM_F_NEXT_DUE, due, LM_F_STAGE,
                      "waiting", slot_of, slot, NULL);
    if (t->step == 0)
        record_first_step(m, out, key, t, w, a->scheduled_for_ms);
    if (!a->human && !field(m, R_FIRST_TOUCH))
        /* the first automatic touch (speed-to-lead's), once: touches of a
           lead follow each other, so the field read is the truth (joins
           the HSET above: no command of its own) */
        lm_out_write_strs(out, "HSET", key, LM_F_FIRST_TOUCH, w, NULL);
    if (!field(m, R_TOUCHES)) {
        /* the lead's first touch: its counters start here, set (joining
           the HSET above: one command) rather than incremented. Touches
           of one lead follow each other (the next is armed by this one's
           timer), so no two first touches of a lead meet in a batch. */
        lm_out_write_strs(out, "HSET", key, LM_F_TOUCHES, "1", LM_F_COST, costb,
                          NULL);
        lm_lead_record_wait(out, t->lead_id, "followup", m->wait_ms,
                            LM_WAIT_FIRST);
    } else {
        lm_lead_record_wait(out, t->lead_id, "followup", m->wait_ms,
                            LM_WAIT_AGAIN);
        lm_out_write_strs(out, "HINCRBY", key, LM_F_TOUCHES, "1", NULL);
        lm_out_write_strs(out, "HINCRBY", key, LM_F_COST, costb, NULL);
    }
    lm_out_count(out, "lastmile_cost_cents_total", NULL, (double)a->cost_cents);
    lm_out_count(out, "lastmile_actions_total", "kind=\"touch\"", 1);
}

/* The response timer, due when the touch's window ends; its payload names
 * what timing's next choice reads (lm_learn.h). 0, 1 when the message was
 * rejected into out (a segment too long for a timer), -1 on error. */
static int arm_response(lm_out *out, const touch_in *t, int64_t due_ms) {
    char payload[LM_TIMERS_PAYLOAD_MAX], ts[LM_TIMERS_PAYLOAD_MAX];
    int plen =
        lm_learn_timer_segment(t->segment, t->role, t->cad->name, ts,
                               sizeof(ts)) == 0
            ? lm_lead_timer_payload(t->step, ts, payload, sizeof(payload))
            : -1;
    if (plen < 0) {
        lm_out_reject(out, "segment: \"%.64s\" is too long for a timer",
                      t->segment);
        return 1;
    }
    return lm_timers_arm(out, t->lead_id, LM_LEAD_TIMER_RESPONSE, due_ms,
                         payload, (size_t)plen);
}

/* One cadence step: skipped (counted), or its action, its lead-hash
 * fields, its response timer and its owner deadline. */
static int followup_handle(void *ctx, const lm_msg *m, lm_out *out) {
    followup_ctx *c = ctx;
    const Lastmile__V1__FollowUpEvent *ev =
        (const Lastmile__V1__FollowUpEvent *)m->event;
    if (waits_unassigned(ev)) {
        /* no owner had room: the cadence starts with the "slot_freed"
           decision that assigns it (workers/timing/timing_queue.c) */
        lm_out_count(out, "lastmile_followup_skipped_total",
                     "reason=\"unassigned\"", 1);
        return 0;
    }
    if (followup_owner_is_reassignment(ev)) /* owner deadlines */
        return followup_owner_reassigned(c->policy, m, out, ev->decision);
    const char *skip = skip_label(ev, m);
    if (skip) {
        lm_out_count(out, "lastmile_followup_skipped_total", skip, 1);
        return 0;
    }
    touch_in t = {.slot_probability = 1};
    int rc = ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION
                 ? touch_from_decision(c, m, ev->decision, &t)
                 : touch_from_next(c, m, out, ev->next_touch, &t);
    int64_t when;
    lm_local_time lt;
    if (rc == 0)
        rc = touch_time(c, m, out, &t, &when, &lt);
    if (rc != 0)
        return rc < 0 ? -1 : 0; /* 1: rejected into out */
    const lm_step *st = &t.cad->steps[t.step];
    int64_t cost = lm_policy_channel_cost_cents(c->policy, st->channel);
    char action_id[LM_ID_MAX];
    Lastmile__V1__FollowUpAction a;
    touch_action(c, &t, when, lt.hour_of_week, cost < 0 ? 0 : cost, action_id,
                 &a);
    if (lm_out_emit(out, LM_TOPIC_ACTIONS, t.lead_id, action_id, &a.base) != 0)
        return -1;
    int64_t due_ms = when + st->response_window_ms;
    record_touch(m, out, &t, &a, due_ms);
    rc = arm_response(out, &t, due_ms);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return followup_owner_arm(out, &a);
}

static const char *const followup_outputs[] = {LM_TOPIC_ACTIONS, NULL};

const lm_worker lm_followup_worker = {
    .name = "followup",
    .input = LM_TOPIC_FOLLOWUP,
    .keyed_input = 1, /* by lead id: murmur2 of it names the partition */
    .dedupe = LM_DEDUPE_BY_OFFSET, /* only qualification and timing write it */
    .outputs = followup_outputs,
    .input_type = LM_TOPIC_FOLLOWUP_TYPE,
    .ctx = &followup_state,
    .identify = followup_identify,
    .plan = followup_plan,
    .handle = followup_handle,
    .init = followup_init,
    .fini = followup_fini,
};
