/* timing_owner.h — timing's part in owner deadlines (lm_sla.h): the
 * owners' events on lastmile.timing and the deadline timers.
 *
 *   OwnerActivity   (connectors) DONE / SKIPPED: the step's deadline is
 *                   cancelled; DONE also records the lead's first human
 *                   contact (first_human_at, Outcome.first_human_at_ms).
 *                   SNOOZED moves the deadline to snoozed_until_ms.
 *   OwnerStatus     (HR, calendar) AWAY / BACK: recorded in the owner's
 *                   state hash (lm_sla_state_key) for routing to read.
 *   TimerFired      kind "owner_deadline", level 0: REMINDER to the same
 *                   owner and the level-1 timer; level 1: a decision with
 *                   reason "sla_breach" to a teammate with room, chosen
 *                   by routing's rule (lm_route_pick: capacity unless the
 *                   lead holds no slot, weights, not away nor out of
 *                   office; followup gives them the step and arms level 2);
 *                   level 2: ESCALATION to the team's lead. An owner who
 *                   is away when a deadline fires is not reminded: the step
 *                   goes to a teammate at once (the lead does not wait for
 *                   their return); with no teammate with room, the team's
 *                   lead is told.
 * A deadline timer that fires after its step was answered, snoozed past
 * it or superseded is stale and does nothing.
 *
 * timing.c calls these hooks; the reads they need are planned last
 * (after timing's own), so they are found counting from the end. Pure,
 * like handle; the worker's thread. */
#ifndef TIMING_OWNER_H
#define TIMING_OWNER_H

#include "lm_policy.h"
#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

/* 1 when the event is an owner's (OwnerActivity, OwnerStatus) or a
 * deadline's (TimerFired kind "owner_deadline"): identify, plan and
 * handle go through the hooks below. */
int timing_owner_event(const Lastmile__V1__TimingEvent *ev);
/* The lead of an OwnerActivity, else NULL. */
const char *timing_owner_lead(const Lastmile__V1__TimingEvent *ev);

/* identify for those events: 0, or -1 with the reason naming the field. */
int timing_owner_identify(const lm_policy *pol,
                          const Lastmile__V1__TimingEvent *ev, lm_ident *ident,
                          char *reason, size_t reasonsz);
/* OwnerStatus reads only its owner's state: 1 and *rc set when this
 * planned the whole message, else 0 (timing plans, then calls
 * timing_owner_plan). */
int timing_owner_plan_alone(const Lastmile__V1__TimingEvent *ev, lm_plan *p,
                            int *rc);
/* Appends the owner reads, last: the lead's deadline fields for every
 * lead event (responses too: the outcome's figures), and for a deadline
 * timer every owner's load and state. 0 / -1. */
int timing_owner_plan(const lm_policy *pol, const Lastmile__V1__TimingEvent *ev,
                      lm_plan *p);
/* The decision for the events of timing_owner_event (a deadline's
 * TimerFired already found due, timing.c). */
int timing_owner_handle(const lm_policy *pol, const lm_msg *m, lm_out *out,
                        const Lastmile__V1__TimingEvent *ev);

/* The hand-off's deadline: sets a->human, a->team, a->due_by_ms and arms
 * level 0 (when handoff_deadline is set). Call before emitting a. */
int timing_owner_handoff(const lm_policy *pol, const lm_msg *m, lm_out *out,
                         Lastmile__V1__FollowUpAction *a);
/* The outcome's owner figures: first_human_at_ms, reassignments, team. */
void timing_owner_outcome(const lm_policy *pol, const lm_msg *m,
                          Lastmile__V1__Outcome *o);
/* A lead closes with `status`: a pending owner step is dropped (its
 * deadline timer cancelled, sla_level "done"), since nobody should call,
 * remind or be reassigned about a lead that unsubscribed, said no or was
 * lost; except a sale's, whose hand-off (first contact with the buyer)
 * stays the owner's. 0 / -1. */
int timing_owner_on_close(const lm_msg *m, lm_out *out, const char *lead_id,
                          Lastmile__V1__OutcomeStatus status);

/* fire_timer for kind "owner_deadline": 1 and *rc set when t is one. */
int timing_owner_fire(const lm_timer *t, int64_t now_ms, lm_timers_fired *f,
                      int *rc);

#endif
