/* followup.h — lastmile.followup → lastmile.actions.
 *
 * For a decision: starts the lead's cadence (qualified or nurture) at step
 * 0. For a NextTouch from timing-adjust: runs that step at the time chosen.
 * Either way it emits the FollowUpAction (action_id "<lead_id>:action:<step>")
 * at a time inside the cadence's allowed hours in the lead's time zone, and
 * arms the response timer (due = touch time + the step's response window).
 *
 * A human step also keeps to its owner's working hours and carries their
 * deadline; a "sla_breach" decision gives the step to a new owner
 * (followup_owner.h).
 *
 * lm_followup_schedule is the pure timing rule. */
#ifndef LM_FOLLOWUP_H
#define LM_FOLLOWUP_H

#include "lm_policy.h"
#include "lm_runtime.h"

/* When step `step` of `c` happens if it may not happen before earliest_ms:
 * the first allowed instant in tz. -1 on a bad time zone. */
int64_t lm_followup_schedule(const lm_cadence *c, const char *tz,
                             int64_t earliest_ms);

extern const lm_worker lm_followup_worker;

#endif
