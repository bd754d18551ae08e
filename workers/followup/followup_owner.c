/* followup_owner.c — human steps and their deadlines in followup
 * (followup_owner.h). */
#include "followup_owner.h"
#include "followup_fields.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_sla.h"
#include "lm_sla_out.h"
#include "lm_topics.h"
#include "lm_tz.h"
#include "lm_worktime.h"

#include <stdio.h>
#include <string.h>

/* the lead hash's fields, from followup's one HMGET (followup_fields.h) */
static const char *ofield(const lm_msg *m, int i) {
    return followup_field(m, i);
}

static int64_t ofield_int(const lm_msg *m, int i, int64_t dflt) {
    const char *s = ofield(m, i);
    int64_t v;
    return s && lm_parse_int64(s, INT64_MIN, INT64_MAX, &v) == 0 ? v : dflt;
}

int followup_owner_is_reassignment(const Lastmile__V1__FollowUpEvent *ev) {
    return ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION &&
           ev->decision->reason &&
           strcmp(ev->decision->reason, LM_SLA_REASON_BREACH) == 0;
}

int64_t followup_owner_when(const lm_policy *pol, const lm_cadence *cad,
                            const lm_step *st, const char *tz, const char *team,
                            const char *owner, int64_t when) {
    if (when < 0 || !lm_policy_channel_is_human(pol, st->channel))
        return when;
    int64_t both =
        lm_worktime_next_both(lm_sla_work(pol, team, owner), cad, tz, when);
    return both >= 0 ? both : when;
}

void followup_owner_step(const lm_policy *pol, const lm_step *st,
                         const char *team, Lastmile__V1__FollowUpAction *a) {
    a->team = (char *)(team ? team : "");
    if (!lm_policy_channel_is_human(pol, st->channel))
        return;
    a->human = 1;
    if (st->deadline_ms > 0) {
        int64_t due = lm_worktime_add(lm_sla_work(pol, team, a->owner),
                                      a->scheduled_for_ms, st->deadline_ms);
        a->due_by_ms = due > 0 ? due : a->scheduled_for_ms + st->deadline_ms;
    }
}

int followup_owner_arm(lm_out *out, const Lastmile__V1__FollowUpAction *a) {
    if (a->human) {
        /* when people were first due to act (the report's human delay) */
        char key[LM_KEY_MAX], at[LM_FMT_I64_MAX];
        lm_lead_key(a->lead_id, key);
        lm_fmt_i64(at, a->scheduled_for_ms);
        lm_out_write_strs(out, "HSETNX", key, LM_F_HUMAN_DUE, at, NULL);
    }
    if (a->due_by_ms <= 0)
        return 0;
    lm_out_count(out, "lastmile_owner_deadlines_total", "level=\"0\"", 1);
    return lm_sla_arm(out, a->lead_id, a->action_id, a->step, a->owner, 0,
                      a->due_by_ms);
}

/* ===================================================== reassignment */

/* Whether a reassignment still applies. 0: it does, and *nth is the
 * reassignment it made; 1: it was rejected (no pending step) or skipped
 * and counted (the step is done, or the decision is superseded). */
static int reassignment_applies(const lm_msg *m, lm_out *out,
                                const Lastmile__V1__QualificationDecision *d,
                                int64_t *nth) {
    const char *level = ofield(m, R_SLA_LEVEL);
    if (!ofield(m, R_STATUS) || !ofield(m, R_SLA_ACTION) || !level) {
        lm_out_reject(out,
                      "decision: reassignment of lead %s, which has no pending "
                      "owner step",
                      d->lead_id);
        return 1;
    }
    if (strcmp(level, LM_SLA_LEVEL_DONE) == 0) {
        /* the old owner acted after all, before this arrived */
        lm_out_count(out, "lastmile_followup_skipped_total",
                     "reason=\"sla_done\"", 1);
        return 1;
    }
    /* the reassignment this decision made, from its id (the lead hash's
       count for an id of another form) */
    *nth = lm_sla_reassign_number(d->decision_id, d->lead_id);
    if (*nth < 1)
        *nth = ofield_int(m, R_REASSIGN, 1);
    const char *pending_owner = ofield(m, R_SLA_OWNER);
    if (ofield_int(m, R_REASSIGN, 0) > *nth ||
        (pending_owner && d->owner && strcmp(pending_owner, d->owner) == 0)) {
        /* superseded while this waited on the partition: the pending step
           is another than the one this decision moved, and either timing
           reassigned it too (the later decision, behind this one, gives
           it to its owner; this one would name it twice) or it is the
           new owner's already (a hand-off after a reply goes to the
           lead's owner, which timing set with this decision; a
           reassignment never picks the step's own owner) */
        lm_out_count(out, "lastmile_followup_skipped_total",
                     "reason=\"sla_superseded\"", 1);
        return 1;
    }
    return 0;
}

/* The pending step a reassignment moves: a step of the lead's cadence
 * (st and tz set) or the hand-off (step -1, st NULL). Borrowed from the
 * policy and the message's reads. */
typedef struct pending_step {
    int step;
    const lm_cadence *cad;
    const lm_step *st;
    const char *tz;
} pending_step;

/* 0, or 1 when the message was rejected into out (a step that is not in
 * the lead's cadence). */
static int pending_step_of(const lm_policy *pol, const lm_msg *m, lm_out *out,
                           const char *lead_id, pending_step *ps) {
    ps->step = (int)ofield_int(m, R_SLA_STEP, -2);
    ps->cad = lm_policy_cadence(pol, ofield(m, R_CADENCE));
    ps->tz = ofield(m, R_TZ);
    ps->st = ps->cad && ps->step >= 0 && (size_t)ps->step < ps->cad->n_steps
                 ? &ps->cad->steps[ps->step]
                 : NULL;
    if (ps->step < -1 || (ps->step >= 0 && (!ps->st || !ps->tz))) {
        lm_out_reject(out, "decision: lead %s's step %d is not in its cadence",
                      lead_id, ps->step);
        return 1;
    }
    return 0;
}

/* The moved step's action for the decision's owner, into *a: the step's
 * own action id with ":r<nth>" (into id, the caller's LM_ID_MAX buffer,
 * which must outlive *a), at the owner's next working time, with a
 * deadline when the step has one. */
static void reassigned_action(const lm_policy *pol, const lm_msg *m,
                              const Lastmile__V1__QualificationDecision *d,
                              const char *team, const pending_step *ps,
                              int64_t nth, char id[LM_ID_MAX],
                              Lastmile__V1__FollowUpAction *a) {
    const lm_worktime *work = lm_sla_work(pol, team, d->owner);
    int64_t when = lm_worktime_next(work, m->now_ms), deadline;
    if (ps->st) {
        when = followup_owner_when(
            pol, ps->cad, ps->st, ps->tz, team, d->owner,
            lm_policy_next_allowed_ms(ps->cad, ps->tz, m->now_ms));
        deadline = ps->st->deadline_ms;
    } else {
        deadline = lm_policy_handoff_deadline_ms(pol);
    }
    if (when < 0)
        when = m->now_ms;
    char n[LM_FMT_I64_MAX];
    lm_fmt_i64(n, nth);
    /* the step's own action id, without an earlier ":r<n>" */
    const char *action = ofield(m, R_SLA_ACTION), *r = strstr(action, ":r");
    size_t base = r ? (size_t)(r - action) : strlen(action);
    snprintf(id, LM_ID_MAX, "%.*s:r%s", (int)base, action, n);

    *a = (Lastmile__V1__FollowUpAction)LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a->action_id = id;
    a->lead_id = d->lead_id;
    a->channel = (char *)(ps->st ? ps->st->channel : "handoff");
    a->step = ps->step;
    a->scheduled_for_ms = when;
    a->owner = d->owner;
    a->kind = ps->st ? LASTMILE__V1__ACTION_KIND__TOUCH
                     : LASTMILE__V1__ACTION_KIND__HANDOFF;
    const char *ad = ofield(m, R_ADAPTIVE), *seg = ofield(m, R_SEGMENT);
    a->adaptive = ad && ad[0] == '1';
    a->segment = (char *)(seg ? seg : "");
    a->cadence = (char *)(ps->cad ? ps->cad->name : "");
    a->submitted_at_ms = ofield_int(m, R_SUBMITTED, 0);
    a->reason = (char *)LM_SLA_REASON_BREACH;
    a->human = 1;
    a->team = (char *)(team ? team : "");
    if (deadline > 0) {
        int64_t due = lm_worktime_add(work, when, deadline);
        a->due_by_ms = due > 0 ? due : when + deadline;
    }
    lm_local_time lt;
    if (ps->st && lm_tz_local(ps->tz, when, &lt) == 0)
        a->slot = lt.hour_of_week;
}

int followup_owner_reassigned(const lm_policy *pol, const lm_msg *m,
                              lm_out *out,
                              const Lastmile__V1__QualificationDecision *d) {
    const char *team = d->team && *d->team ? d->team : ofield(m, R_TEAM);
    int64_t nth;
    pending_step ps;
    if (reassignment_applies(m, out, d, &nth) != 0 ||
        pending_step_of(pol, m, out, d->lead_id, &ps) != 0)
        return 0; /* rejected or skipped into out */
    char id[LM_ID_MAX];
    Lastmile__V1__FollowUpAction a;
    reassigned_action(pol, m, d, team, &ps, nth, id, &a);
    if (lm_out_emit(out, LM_TOPIC_ACTIONS, d->lead_id, id, &a.base) != 0)
        return -1;
    lm_out_count(out, "lastmile_actions_total", "kind=\"reassigned\"", 1);
    if (a.due_by_ms <= 0)
        return 0;
    lm_out_count(out, "lastmile_owner_deadlines_total", "level=\"2\"", 1);
    return lm_sla_arm(out, d->lead_id, id, ps.step, d->owner, 2, a.due_by_ms);
}
