/* followup.h — lastmile.followup → lastmile.actions.
 *
 * For a decision: starts the lead's cadence (qualified or nurture) at step
 * 0. For a NextTouch from timing-adjust: runs that step at the time chosen.
 * Either way it emits the FollowUpAction (action_id "<lead_id>:action:<step>")
 * at a time inside the cadence's allowed hours in the lead's time zone (an
 * "at: now" step: as soon as its wait is over, any hour), marked human
 * when its channel is and carrying the lead's team, and arms the response
 * timer (due = touch time + the step's response window).
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

/* When a step of `c` in allowed hours happens if it may not happen before
 * earliest_ms: the first allowed instant in tz. -1 on a bad time zone. */
int64_t lm_followup_schedule(const lm_cadence *c, const char *tz,
                             int64_t earliest_ms);
/* When step `step` of `c` happens: an "at: now" step at earliest_ms (any
 * hour), any other as lm_followup_schedule. -1 on a bad time zone or a
 * step past the end. */
int64_t lm_followup_schedule_step(const lm_cadence *c, size_t step,
                                  const char *tz, int64_t earliest_ms);

extern const lm_worker lm_followup_worker;

#endif
