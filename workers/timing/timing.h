/* timing.h — lastmile.timing → lastmile.followup | actions | outcomes, and
 * the worker that fires response timers.
 *
 * A LeadResponse stops the cadence: the timer is cancelled, the owner gets
 * a HANDOFF action (replied, booked, converted), and the lead's Outcome is
 * emitted; a response after closing is recorded as LATE_RESPONSE. A
 * TimerFired means no response: the slot of the unanswered touch counts a
 * failure, and the next step is chosen — by Thompson sampling over the
 * segment's Beta(successes+1, failures+1) per hour-of-week slot on the
 * adaptive arm, or at the first allowed time on the control arm — or the
 * lead closes with NO_RESPONSE when the cadence is exhausted.
 *
 * A lead's response timer (lm_lead.h, armed by followup) fires here: the
 * runtime sweeps the timers (lm_timers.h: claim with a lease, fire, ack)
 * in the timing worker, whose fire_timer turns a due response timer into
 * the TimerFired it then reads back from lastmile.timing. Closing a lead
 * cancels its timer. Pure parts: lm_timing_choose.
 *
 * Owner deadlines (timing_owner.h): OwnerActivity and OwnerStatus on
 * lastmile.timing, the deadline timers' TimerFired (kind "owner_deadline":
 * reminder, reassignment, escalation) and the hand-off's deadline. */
#ifndef LM_TIMING_H
#define LM_TIMING_H

#include "lm_policy.h"
#include "lm_runtime.h"

#include <stdint.h>

#define LM_TIMING_HORIZON_MS (3LL * 86400 * 1000) /* adaptive look-ahead */
#define LM_TIMING_SLOTS      168

/* Learned counts of one segment: successes and failures per slot. */
typedef struct lm_slot_stats {
    uint32_t s[LM_TIMING_SLOTS], f[LM_TIMING_SLOTS];
} lm_slot_stats;

/* When the next touch happens: the first allowed instant >= earliest_ms
 * (control arm), or the candidate slot in [earliest, earliest + horizon)
 * with the highest Beta sample (adaptive). The sampling is seeded from
 * `seed`, so a redelivered event chooses the same time. Writes the chosen
 * local slot. -1 on a bad time zone. Pure. */
int64_t lm_timing_choose(const lm_cadence *c, const char *tz,
                         int64_t earliest_ms, int adaptive,
                         const lm_slot_stats *stats, uint64_t seed,
                         int32_t *slot);

/* A draw from Beta(a, b), a, b >= 1, using the generator state *rng. */
double lm_timing_beta(double a, double b, uint64_t *rng);

extern const lm_worker lm_timing_worker;

#endif
