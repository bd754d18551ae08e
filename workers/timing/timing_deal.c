/* timing_deal.c — a lead's answers, touches taken back, the hand-off and
 * the deal window (timing_internal.h).
 *
 * What an answer (LeadResponse.kind) does to an open lead:
 *   REPLIED, MEETING_BOOKED  the hand-off: the owner gets a HANDOFF action,
 *                            the cadence stops (response timer cancelled),
 *                            the touch's slot learns a success, and the
 *                            lead stays open in stage handed_off with
 *                            responded_at, its deal window armed;
 *   CONVERTED                closes CONVERTED_OUTCOME with its value (with
 *                            no reply before it: a hand-off too, as ever);
 *   LOST                     closes LOST_OUTCOME;
 *   NOT_INTERESTED           closes NOT_INTERESTED_OUTCOME, no hand-off;
 *   UNSUBSCRIBED, BOUNCED    close as such, no hand-off;
 *   OUT_OF_OFFICE            with returns_at_ms ahead: no touch before it
 *                            (the lead's returns_at, which followup keeps
 *                            to; the response timer moved to it); without:
 *                            nothing changes, the cadence goes on.
 * Each of them (OUT_OF_OFFICE only with a return date) takes back the
 * lead's pending touch — the one emitted ahead of its scheduled_for_ms and
 * not due yet — with a CANCEL action of the same action_id.
 * A handed-off lead waits for the CRM: CONVERTED, LOST (or NOT_INTERESTED)
 * closes it; other answers change nothing (its owner has it); when the
 * deal window passes first it closes RESPONDED. A closed lead's answers
 * are LATE_RESPONSE outcomes; an answer for a lead lastmile never issued
 * is dead-lettered.
 *
 * With accounts.pause_on_reply, a hand-off also pauses the account's other
 * cadences (timing_account.c).
 *
 * Deterministic ids: "<lead>:handoff" (HANDOFF), "<action_id>:cancel"
 * (CANCEL, action_id the touch's), "<lead>:outcome",
 * "<lead>:late:<event_id>", "<lead>:deal_window" (the TimerFired).
 * Everything through the message's lm_out; the worker's one thread. */
#include "timing_account.h"
#include "timing_internal.h"
#include "timing_learn.h"
#include "timing_owner.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_timers.h"
#include "lm_topics.h"

#include <stdio.h>
#include <string.h>

/* ============================================================ helpers */

static const char *str_or(const lm_msg *m, int i, const char *dflt) {
    const char *s = lm_timing_field(m, i, NULL);
    return s ? s : dflt;
}

static int stage_is(const lm_msg *m, const char *stage) {
    const char *s = lm_timing_field(m, R_STAGE, NULL);
    return s && strcmp(s, stage) == 0;
}

/* Handed off: an open lead with responded_at (timing_internal.h). */
static int handed_off(const lm_msg *m) {
    return lm_timing_field_int(m, R_RESPONDED) > 0;
}

/* What every action about the lead carries, from the lead hash. */
static void action_from_lead(const lm_msg *m, Lastmile__V1__FollowUpAction *a) {
    a->owner = (char *)str_or(m, R_OWNER, "");
    a->team = (char *)str_or(m, R_TEAM, "");
    a->adaptive = str_or(m, R_ADAPTIVE, "0")[0] == '1';
    a->segment = (char *)str_or(m, R_SEGMENT, "");
    a->cadence = (char *)str_or(m, R_CADENCE, "");
    a->submitted_at_ms = lm_timing_field_int(m, R_SUBMITTED);
}

/* ===================================================== taking back */

/* Takes back the lead's pending touch: the touch of its current step,
 * emitted ahead of its scheduled time (last_action_at), when that time
 * is still ahead of now and before `before_ms` (the return date of an
 * out-of-office; INT64_MAX otherwise). A CANCEL action with the touch's
 * action_id, id "<action_id>:cancel"; the lead remembers it
 * (cancelled_action), so a second answer does not take it back twice. */
int lm_timing_take_back(timing_ctx *c, const lm_msg *m, lm_out *out,
                        const char *lead, const char *reason,
                        int64_t before_ms) {
    int64_t at = lm_timing_field_int(m, R_LAST_ACTION);
    int64_t step = lm_timing_field_int(m, R_STEP);
    if (!lm_timing_field(m, R_STEP, NULL) || step < 0 ||
        step > LM_LEAD_STEP_MAX || at <= m->now_ms || at >= before_ms)
        return 0; /* none, sent already, or due once the person is back */
    char stepb[LM_FMT_I64_MAX], action[LM_ID_MAX], id[LM_ID_MAX],
        key[LM_KEY_MAX];
    lm_fmt_i64(stepb, step);
    lm_fmt_cat(action, sizeof(action), lead, ":action:", stepb, NULL);
    const char *done = lm_timing_field(m, R_CANCELLED, NULL);
    if (done && strcmp(done, action) == 0)
        return 0; /* an earlier answer took it back */
    lm_fmt_cat(id, sizeof(id), action, ":cancel", NULL);
    const char *cad_name = lm_timing_field(m, R_CADENCE, NULL);
    const lm_cadence *cad =
        cad_name ? lm_policy_cadence(c->policy, cad_name) : NULL;
    Lastmile__V1__FollowUpAction a = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    action_from_lead(m, &a);
    a.action_id = action;
    a.lead_id = (char *)lead;
    a.channel =
        (char *)(cad && (size_t)step < cad->n_steps ? cad->steps[step].channel
                                                    : "");
    a.step = (int32_t)step;
    a.scheduled_for_ms = at;
    a.kind = LASTMILE__V1__ACTION_KIND__CANCEL;
    a.slot = (int32_t)lm_timing_field_int(m, R_SLOT);
    a.reason = (char *)reason;
    if (lm_out_emit(out, LM_TOPIC_ACTIONS, lead, id, &a.base) != 0)
        return -1;
    lm_lead_key(lead, key);
    lm_out_write_strs(out, "HSET", key, LM_F_CANCELLED, action, NULL);
    lm_out_count(out, "lastmile_actions_total", "kind=\"cancel\"", 1);
    return 0;
}

/* ======================================================= the hand-off */

/* The owner takes over: a HANDOFF action, at once, with the owner's
 * deadline for the first contact (timing_owner_handoff). */
static int emit_handoff(timing_ctx *c, const lm_msg *m, lm_out *out,
                        const char *lead) {
    char id[LM_ID_MAX];
    lm_fmt_cat(id, sizeof(id), lead, ":handoff", NULL);
    Lastmile__V1__FollowUpAction a = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    action_from_lead(m, &a);
    a.action_id = id;
    a.lead_id = (char *)lead;
    a.channel = (char *)"handoff";
    a.step = -1;
    a.scheduled_for_ms = m->now_ms;
    a.kind = LASTMILE__V1__ACTION_KIND__HANDOFF;
    a.human = 1;
    if (timing_owner_handoff(c->policy, m, out, &a) != 0 ||
        lm_out_emit(out, LM_TOPIC_ACTIONS, lead, id, &a.base) != 0)
        return -1;
    lm_out_count(out, "lastmile_actions_total", "kind=\"handoff\"", 1);
    return 0;
}

/* A reply or a meeting: hand off, stop the cadence, keep the lead open
 * for its deal (stage handed_off, the deal window armed). */
static int hand_off(timing_ctx *c, const lm_msg *m, lm_out *out,
                    const char *lead) {
    if (lm_timing_take_back(c, m, out, lead, "responded", INT64_MAX) != 0 ||
        emit_handoff(c, m, out, lead) != 0)
        return -1;
    lm_timing_cancel_response_timer(m, out, lead);
    char key[LM_KEY_MAX], now[LM_FMT_I64_MAX];
    lm_lead_key(lead, key);
    lm_fmt_i64(now, m->now_ms);
    lm_out_write_strs(out, "HSET", key, LM_F_STAGE, LM_STAGE_HANDED_OFF,
                      LM_F_RESPONDED, now, NULL);
    timing_learn_record(c->policy, m, out, 1);         /* the answered touch */
    if (timing_account_on_reply(c, m, out, lead) != 0) /* pause_on_reply */
        return -1;
    return lm_timers_arm(out, lead, LM_LEAD_TIMER_DEAL,
                         m->now_ms + lm_policy_deal_window_ms(c->policy),
                         LM_LEAD_TIMER_DEAL_PAYLOAD,
                         strlen(LM_LEAD_TIMER_DEAL_PAYLOAD));
}

/* ==================================================== out of office */

/* An automatic out-of-office reply. With a return date ahead: nothing is
 * sent before it — the pending touch due before it is taken back, the
 * lead keeps returns_at (followup schedules no touch before it) and the
 * response timer of a lead waiting on its touch moves to it, so the next
 * step is chosen after the return. Without one: as if no answer. */
static int out_of_office(timing_ctx *c, const lm_msg *m, lm_out *out,
                         const Lastmile__V1__LeadResponse *r) {
    int64_t back = r->returns_at_ms;
    if (back <= m->now_ms)
        return 0; /* the cadence goes on as if no answer */
    if (lm_timing_take_back(c, m, out, r->lead_id, "out_of_office", back) != 0)
        return -1;
    char key[LM_KEY_MAX], b[LM_FMT_I64_MAX];
    lm_lead_key(r->lead_id, key);
    lm_fmt_i64(b, back);
    lm_out_write_strs(out, "HSET", key, LM_F_RETURNS, b, NULL);
    char payload[LM_TIMERS_PAYLOAD_MAX];
    int plen = lm_timing_response_payload(m, payload);
    if (stage_is(m, "waiting") && plen >= 0 &&
        lm_timing_field_int(m, R_NEXT_DUE) < back) {
        /* the same timer (lead, kind, payload): arming it moves it */
        lm_out_write_strs(out, "HSET", key, LM_F_NEXT_DUE, b, NULL);
        return lm_timers_arm(out, r->lead_id, LM_LEAD_TIMER_RESPONSE, back,
                             payload, (size_t)plen);
    }
    return 0;
}

/* ========================================================= answers */

/* After closing: recorded, not lost (the lead is kept as it closed). */
static int late_response(const lm_msg *m, lm_out *out,
                         const Lastmile__V1__LeadResponse *r) {
    char id[LM_ID_MAX];
    lm_fmt_cat(id, sizeof(id), r->lead_id, ":late:", r->event_id, NULL);
    Lastmile__V1__Outcome o = LASTMILE__V1__OUTCOME__INIT;
    o.outcome_id = id;
    o.lead_id = r->lead_id;
    o.status = LASTMILE__V1__OUTCOME_STATUS__LATE_RESPONSE;
    o.closed_at_ms = m->now_ms;
    o.deal_value_cents = r->deal_value_cents;
    o.submitted_at_ms = lm_timing_field_int(m, R_SUBMITTED);
    lm_out_count(out, "lastmile_outcomes_total", "status=\"LATE_RESPONSE\"", 1);
    return lm_out_emit(out, LM_TOPIC_OUTCOMES, r->lead_id, id, &o.base);
}

/* A handed-off lead: the CRM's result closes it; the rest is the
 * owner's. */
static int on_handed_off(timing_ctx *c, const lm_msg *m, lm_out *out,
                         const Lastmile__V1__LeadResponse *r) {
    switch (r->kind) {
    case LASTMILE__V1__RESPONSE_KIND__CONVERTED:
        return lm_timing_close_lead(
            c, m, out, r->lead_id,
            LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME,
            r->deal_value_cents, 0);
    case LASTMILE__V1__RESPONSE_KIND__LOST:
        return lm_timing_close_lead(c, m, out, r->lead_id,
                                    LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME,
                                    0, 0);
    case LASTMILE__V1__RESPONSE_KIND__NOT_INTERESTED:
        return lm_timing_close_lead(
            c, m, out, r->lead_id,
            LASTMILE__V1__OUTCOME_STATUS__NOT_INTERESTED_OUTCOME, 0, 0);
    default:
        return 0; /* a second reply, an auto-reply: the owner has it */
    }
}

/* An answer that closes the lead at once, taking back its pending touch
 * (reason) first; a sale also hands off and learns a success. */
static int close_on_answer(timing_ctx *c, const lm_msg *m, lm_out *out,
                           const Lastmile__V1__LeadResponse *r,
                           Lastmile__V1__OutcomeStatus st, const char *reason) {
    int sale = st == LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME;
    if (lm_timing_take_back(c, m, out, r->lead_id, reason, INT64_MAX) != 0 ||
        (sale && emit_handoff(c, m, out, r->lead_id) != 0))
        return -1;
    return lm_timing_close_lead(c, m, out, r->lead_id, st,
                                sale ? r->deal_value_cents : 0, sale);
}

int lm_timing_on_response(timing_ctx *c, const lm_msg *m, lm_out *out,
                          const Lastmile__V1__LeadResponse *r) {
    const char *status = lm_timing_field(m, R_STATUS, NULL);
    if (!status) {
        /* a lead id lastmile never issued: no outcome for a lead that is
           not there (it would count a response with no owner, no
           submission time) */
        lm_out_reject(out,
                      "lead_id: no lead %.64s is known to lastmile; a "
                      "response must name a lead_id from a lastmile action",
                      r->lead_id);
        return 0;
    }
    if (strcmp(status, "open") != 0)
        return late_response(m, out, r);
    if (handed_off(m))
        return on_handed_off(c, m, out, r);
    switch (r->kind) {
    case LASTMILE__V1__RESPONSE_KIND__REPLIED:
    case LASTMILE__V1__RESPONSE_KIND__MEETING_BOOKED:
        return hand_off(c, m, out, r->lead_id);
    case LASTMILE__V1__RESPONSE_KIND__OUT_OF_OFFICE:
        return out_of_office(c, m, out, r);
    case LASTMILE__V1__RESPONSE_KIND__CONVERTED:
        return close_on_answer(c, m, out, r,
                               LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME,
                               "responded");
    case LASTMILE__V1__RESPONSE_KIND__NOT_INTERESTED:
        return close_on_answer(
            c, m, out, r, LASTMILE__V1__OUTCOME_STATUS__NOT_INTERESTED_OUTCOME,
            "not_interested");
    case LASTMILE__V1__RESPONSE_KIND__LOST:
        return close_on_answer(
            c, m, out, r, LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME, "lost");
    case LASTMILE__V1__RESPONSE_KIND__UNSUBSCRIBED:
        return close_on_answer(
            c, m, out, r, LASTMILE__V1__OUTCOME_STATUS__UNSUBSCRIBED_OUTCOME,
            "unsubscribed");
    case LASTMILE__V1__RESPONSE_KIND__BOUNCED:
        return close_on_answer(c, m, out, r,
                               LASTMILE__V1__OUTCOME_STATUS__BOUNCED_OUTCOME,
                               "bounced");
    default:
        /* identify admits only the kinds above */
        lm_out_reject(out, "response.kind: %d is not a known ResponseKind",
                      (int)r->kind);
        return 0;
    }
}

/* ==================================================== the deal window */

int lm_timing_is_deal_window(const Lastmile__V1__TimerFired *t) {
    return t->kind && strcmp(t->kind, LM_LEAD_TIMER_DEAL) == 0;
}

int lm_timing_on_deal_window(timing_ctx *c, const lm_msg *m, lm_out *out,
                             const Lastmile__V1__TimerFired *t) {
    const char *status = lm_timing_field(m, R_STATUS, NULL);
    if (!status || strcmp(status, "open") != 0 || !handed_off(m)) {
        lm_out_count(out, "lastmile_timers_stale_total", NULL, 1);
        return 0; /* the CRM's result came first */
    }
    return lm_timing_close_lead(c, m, out, t->lead_id,
                                LASTMILE__V1__OUTCOME_STATUS__RESPONDED, 0, 0);
}

int lm_timing_fire_deal_window(const lm_timer *t, int64_t now_ms,
                               lm_timers_fired *f) {
    char id[LM_ID_MAX], act[LM_ID_MAX];
    if (lm_fmt_cat(id, sizeof(id), t->lead, ":", LM_LEAD_TIMER_DEAL, NULL) >=
        sizeof(id))
        return -1;
    lm_fmt_cat(act, sizeof(act), t->lead, ":handoff", NULL);
    Lastmile__V1__TimerFired tf = LASTMILE__V1__TIMER_FIRED__INIT;
    tf.timer_id = id;
    tf.lead_id = (char *)t->lead;
    tf.step = -1; /* the hand-off's */
    tf.due_at_ms = t->due_ms;
    tf.fired_at_ms = now_ms;
    tf.action_id = act;
    tf.kind = (char *)LM_LEAD_TIMER_DEAL;
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    te.timer_fired = &tf;
    return lm_timers_emit(f, LM_TOPIC_TIMING, t->lead, id, &te.base);
}
