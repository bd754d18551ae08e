/* followup_owner.h — followup's part in owner deadlines (lm_sla.h).
 *
 * A human step (lm_policy_channel_is_human) is scheduled inside the
 * lead's allowed hours AND its owner's working hours, carries
 * FollowUpAction.human/team/due_by_ms (the step's `deadline` in the
 * owner's working time), and arms the level-0 deadline timer with it.
 * A QualificationDecision with reason "sla_breach" (timing reassigned the
 * lead) gives the pending step again to the new owner, as a new action
 * ("<action_id of the step>:r<n>", n from the decision's id
 * "<lead>:decision:<n>") with a new deadline, and arms level 2. A
 * reassignment the lead hash already counts a later one of, or whose
 * owner already owns the pending step (sla_owner), is skipped: it waited
 * on the partition while the step changed (docs/DELIVERY.md, "Owner
 * deadlines").
 *
 * followup.c calls these hooks; they read their fields from followup's
 * one HMGET of the lead hash (followup_fields.h). Pure, like handle; the
 * worker's thread. */
#ifndef FOLLOWUP_OWNER_H
#define FOLLOWUP_OWNER_H

#include "lm_policy.h"
#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

/* 1 when the event is a reassignment (decision reason "sla_breach"),
 * which followup_owner_reassigned handles instead of the cadence. */
int followup_owner_is_reassignment(const Lastmile__V1__FollowUpEvent *ev);
int followup_owner_reassigned(const lm_policy *pol, const lm_msg *m,
                              lm_out *out,
                              const Lastmile__V1__QualificationDecision *d);

/* When a step scheduled at `when` (inside the lead's hours) happens: for a
 * human step, the first instant inside both the lead's and the owner's
 * hours (the lead's alone when they never meet); else `when`. */
int64_t followup_owner_when(const lm_policy *pol, const lm_cadence *cad,
                            const lm_step *st, const char *tz, const char *team,
                            const char *owner, int64_t when);

/* Sets a->human, a->team and a->due_by_ms for step st of a (scheduled,
 * owned) action. */
void followup_owner_step(const lm_policy *pol, const lm_step *st,
                         const char *team, Lastmile__V1__FollowUpAction *a);

/* Arms the level-0 deadline of an action that has one (due_by_ms > 0). */
int followup_owner_arm(lm_out *out, const Lastmile__V1__FollowUpAction *a);

#endif
