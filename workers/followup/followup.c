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
    if (ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION) {
        const Lastmile__V1__QualificationDecision *d = ev->decision;
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
    } else {
        if (ev->next_touch->step < 1 || ev->next_touch->step > 1000) {
            snprintf(reason, reasonsz, "next_touch.step: %d is out of range",
                     (int)ev->next_touch->step);
            return -1;
        }
        if (ev->next_touch->scheduled_for_ms < 946684800000LL ||
            ev->next_touch->scheduled_for_ms > 32503680000000LL) {
            snprintf(reason, reasonsz,
                     "next_touch.scheduled_for_ms: %lld is not a time between "
                     "2000 and 3000 in ms since the epoch",
                     (long long)ev->next_touch->scheduled_for_ms);
            return -1;
        }
        /* "<lead>:touch:<step>", or a touch_id of that form with a suffix
           (a cadence resumed after its account's deal: timing_account.c) */
        const char *tid = ev->next_touch->touch_id;
        size_t nl = strlen(lead);
        if (tid && strncmp(tid, lead, nl) == 0 &&
            strncmp(tid + nl, ":touch:", 7) == 0 &&
            strlen(tid) < sizeof(ident->id)) {
            if (touch_id_step(tid + nl + 7) != ev->next_touch->step) {
                snprintf(reason, reasonsz,
                         "next_touch.touch_id: \"%.80s\" names another step "
                         "than next_touch.step %d; the id is "
                         "\"<lead>:touch:<step>\" with an optional "
                         "\":<suffix>\"",
                         tid, (int)ev->next_touch->step);
                return -1;
            }
            lm_fmt_cat(ident->id, sizeof(ident->id), tid, NULL);
        } else {
            char step[LM_FMT_I64_MAX]; /* 1..1000, checked above */
            lm_fmt_i64(step, ev->next_touch->step);
            lm_fmt_cat(ident->id, sizeof(ident->id), lead, ":touch:", step,
                       NULL);
        }
    }
    return 0;
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
    const char *status = field(m, R_STATUS);
    if (status && strcmp(status, "closed") == 0) {
        lm_out_count(out, "lastmile_followup_skipped_total",
                     "reason=\"closed\"", 1);
        return 0; /* the lead answered or closed meanwhile */
    }
    if (field(m, R_RESPONDED)) {
        lm_out_count(out, "lastmile_followup_skipped_total",
                     "reason=\"handed_off\"", 1);
        return 0; /* the lead answered: its owner has it */
    }
    if (ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH &&
        field(m, R_PAUSED) && *field(m, R_PAUSED)) {
        lm_out_count(out, "lastmile_followup_skipped_total",
                     "reason=\"account_paused\"", 1);
        return 0; /* a colleague's deal is live: timing resumes it */
    }
    const char *lead_id, *cadence_name, *tz, *owner, *segment, *team, *role;
    int adaptive, step, holdout;
    double slot_probability = 1; /* the first allowed time, "at: now" */
    int64_t earliest, submitted;
    const lm_cadence *cad;
    if (ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION) {
        const Lastmile__V1__QualificationDecision *d = ev->decision;
        lead_id = d->lead_id;
        cadence_name = d->kind == LASTMILE__V1__DECISION_KIND__QUALIFIED
                           ? "qualified"
                           : "nurture";
        tz = d->lead->timezone;
        owner = d->owner;
        segment = d->segment;
        team = d->team;
        adaptive = lm_learn_arm(c->policy, lead_id, &holdout);
        role = lm_learn_role(d->lead->title);
        step = 0;
        cad = lm_policy_cadence(c->policy, cadence_name);
        if (!cad)
            return -1;
        submitted = d->lead->submitted_at_ms;
        /* never before the person asked: a producer's clock may run ahead
           (intake takes submissions up to a day in the future) */
        earliest = (submitted > m->now_ms ? submitted : m->now_ms) +
                   cad->steps[0].wait_ms;
    } else {
        const Lastmile__V1__NextTouch *t = ev->next_touch;
        lead_id = t->lead_id;
        cadence_name = field(m, R_CADENCE);
        tz = field(m, R_TZ);
        owner = field(m, R_OWNER);
        segment = field(m, R_SEGMENT);
        team = field(m, R_TEAM);
        const char *a = field(m, R_ADAPTIVE);
        const char *sub = field(m, R_SUBMITTED);
        if (!cadence_name || !tz || !owner || !segment || !a || !sub) {
            lm_out_reject(out,
                          "next_touch: lead %s has no cadence state (was "
                          "its decision handled?)",
                          lead_id);
            return 0;
        }
        const char *ho = field(m, R_HOLDOUT);
        holdout = t->holdout || (ho && ho[0] == '1');
        adaptive = a[0] == '1' && !holdout;
        role = field(m, R_ROLE); /* NULL: a lead from before roles */
        slot_probability = t->slot_probability;
        step = t->step;
        cad = lm_policy_cadence(c->policy, cadence_name);
        if (!cad || (size_t)step >= cad->n_steps) {
            lm_out_reject(out,
                          "next_touch.step: %d is past the end of "
                          "cadence %s",
                          step, cadence_name);
            return 0;
        }
        earliest =
            t->scheduled_for_ms > m->now_ms ? t->scheduled_for_ms : m->now_ms;
        submitted = 0;
        lm_parse_int64(sub, 0, INT64_MAX, &submitted);
    }
    int64_t back = 0; /* out of office until (an auto-reply said so) */
    if (field(m, R_RETURNS) &&
        lm_parse_int64(field(m, R_RETURNS), 0, INT64_MAX, &back) == 0 &&
        back > earliest)
        earliest = back;
    /* a human step: inside the owner's working hours too */
    int64_t when = followup_owner_when(
        c->policy, cad, &cad->steps[step], tz, team, owner,
        lm_followup_schedule_step(cad, (size_t)step, tz, earliest));
    lm_local_time lt;
    if (when < 0 || lm_tz_local(tz, when, &lt) != 0) {
        lm_out_reject(out, "timezone: \"%.64s\" cannot be resolved", tz);
        return 0;
    }
    const lm_step *st = &cad->steps[step];
    int64_t cost = lm_policy_channel_cost_cents(c->policy, st->channel);
    if (cost < 0)
        cost = 0;

    char action_id[LM_ID_MAX];
    char step_s[LM_FMT_I64_MAX];
    lm_fmt_i64(step_s, step);
    lm_fmt_cat(action_id, sizeof(action_id), lead_id, ":action:", step_s, NULL);
    Lastmile__V1__FollowUpAction a = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a.action_id = action_id;
    a.lead_id = (char *)lead_id;
    a.channel = (char *)st->channel;
    a.step = step;
    a.scheduled_for_ms = when;
    a.owner = (char *)owner;
    a.kind = LASTMILE__V1__ACTION_KIND__TOUCH;
    a.cost_cents = cost;
    a.adaptive = adaptive;
    a.slot = lt.hour_of_week;
    a.segment = (char *)segment;
    a.cadence = (char *)cad->name;
    a.submitted_at_ms = submitted;
    a.human = st->human;
    a.slot_probability = slot_probability;
    a.holdout = holdout;
    followup_owner_step(c->policy, st, team, &a); /* team, the deadline */
    if (lm_out_emit(out, LM_TOPIC_ACTIONS, lead_id, action_id, &a.base) != 0)
        return -1;

    char key[LM_KEY_MAX], w[LM_FMT_I64_MAX], due[LM_FMT_I64_MAX],
        stepb[LM_FMT_I64_MAX], slot[LM_FMT_I64_MAX], costb[LM_FMT_I64_MAX];
    lm_lead_key(lead_id, key);
    int64_t due_ms = when + st->response_window_ms;
    lm_fmt_i64(w, when);
    lm_fmt_i64(due, due_ms);
    lm_fmt_i64(stepb, step);
    lm_fmt_i64(slot, lt.hour_of_week);
    lm_fmt_i64(costb, cost);
    /* owner, segment and arm are in the hash since qualification decided
       (a later step read them from there); the cadence and the time zone
       from the first step on */
    char slot_of[32]; /* this step's slot, for an answer to it */
    lm_fmt_cat(slot_of, sizeof(slot_of), LM_F_SLOT_OF, stepb, NULL);
    lm_out_write_strs(out, "HSET", key, LM_F_STEP, stepb, LM_F_SLOT, slot,
                      LM_F_LAST_ACTION, w, LM_F_NEXT_DUE, due, LM_F_STAGE,
                      "waiting", slot_of, slot, NULL);
    if (step == 0) {
        lm_out_write_strs(out, "HSET", key, LM_F_CADENCE, cad->name, LM_F_TZ,
                          tz, LM_F_FIRST_ACTION, w, LM_F_ROLE, role, NULL);
        if (!field(m, R_HOLDOUT)) /* qualification wrote it (a lead from
                                     before the holdout has none) */
            lm_out_write_strs(out, "HSET", key, LM_F_HOLDOUT,
                              holdout ? "1" : "0", NULL);
        if (submitted > 0 && when >= submitted)
            lm_out_observe(out, "lastmile_speed_to_lead_seconds",
                           (double)(when - submitted) / 1000.0);
    }
    if (!a.human && !field(m, R_FIRST_TOUCH))
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
        lm_lead_record_wait(out, lead_id, "followup", m->wait_ms,
                            LM_WAIT_FIRST);
    } else {
        lm_lead_record_wait(out, lead_id, "followup", m->wait_ms,
                            LM_WAIT_AGAIN);
        lm_out_write_strs(out, "HINCRBY", key, LM_F_TOUCHES, "1", NULL);
        lm_out_write_strs(out, "HINCRBY", key, LM_F_COST, costb, NULL);
    }
    lm_out_count(out, "lastmile_cost_cents_total", NULL, (double)cost);
    lm_out_count(out, "lastmile_actions_total", "kind=\"touch\"", 1);

    /* the response timer: due when the touch's window ends */
    char payload[LM_TIMERS_PAYLOAD_MAX], ts[LM_TIMERS_PAYLOAD_MAX];
    /* the payload names what timing's next choice reads (lm_learn.h) */
    int plen =
        lm_learn_timer_segment(segment, role, cad->name, ts, sizeof(ts)) == 0
            ? lm_lead_timer_payload(step, ts, payload, sizeof(payload))
            : -1;
    if (plen < 0) {
        lm_out_reject(out, "segment: \"%.64s\" is too long for a timer",
                      segment);
        return 0;
    }
    if (lm_timers_arm(out, lead_id, LM_LEAD_TIMER_RESPONSE, due_ms, payload,
                      (size_t)plen) != 0)
        return -1;
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
