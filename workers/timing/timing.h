/* timing.h — lastmile.timing → lastmile.followup | actions | outcomes, and
 * the worker that fires response timers.
 *
 * A LeadResponse (timing_deal.c) stops the cadence, or pauses it (an
 * out-of-office with a return date), taking back a touch emitted ahead of
 * its time (CANCEL): a reply or a meeting hands the lead to its owner
 * (HANDOFF) and keeps it open, handed off, until the CRM reports the deal
 * (CONVERTED, LOST) or its deal window passes (RESPONDED); a sale, a no,
 * an unsubscribe or a bounce close it at once; a response after closing
 * is recorded as LATE_RESPONSE. A
 * TimerFired means no response: the slot of the unanswered touch counts a
 * failure, and the next step is chosen — on the adaptive arm by the
 * learner (timing_learn.h, lm_learn.h: pooled answer rates per
 * hour-of-week slot weighed against the cost of waiting, with the
 * choice's probability recorded), at the first allowed time on the
 * control arm and for a lead in the global holdout; an "at: now" step as
 * soon as its wait is over, on both arms — or the lead closes with
 * NO_RESPONSE when the cadence is exhausted. An answer counts a success
 * for the touch it answers (its action_id).
 *
 * A lead's response timer (lm_lead.h, armed by followup) fires here: the
 * runtime sweeps the timers (lm_timers.h: claim with a lease, fire, ack)
 * in the timing worker, whose fire_timer turns a due response timer into
 * the TimerFired it then reads back from lastmile.timing; a deal window
 * (lm_lead.h) fires the same way, as a TimerFired of kind "deal_window".
 * Closing a lead cancels its timer. Pure parts: lm_timing_choose.
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

/* The per-segment Thompson rule (learning.rule: thompson; the worker
 * itself chooses through timing_learn.h). When the next touch happens:
 * the first allowed instant >= earliest_ms (control arm), or the
 * candidate slot in [earliest, earliest + horizon) with the highest Beta
 * sample (adaptive). The sampling is seeded from
 * `seed`, so a redelivered event chooses the same time. Writes the chosen
 * local slot. -1 on a bad time zone. Pure. */
int64_t lm_timing_choose(const lm_cadence *c, const char *tz,
                         int64_t earliest_ms, int adaptive,
                         const lm_slot_stats *stats, uint64_t seed,
                         int32_t *slot);

/* When step `step` of c happens: an "at: now" step at its earliest
 * instant (lm_policy_step_time_ms: any hour, never moved to a learned
 * slot, on either arm), any other step as lm_timing_choose. Writes the
 * local slot. -1 on a bad time zone or a step past the end. Pure. */
int64_t lm_timing_choose_step(const lm_cadence *c, size_t step, const char *tz,
                              int64_t earliest_ms, int adaptive,
                              const lm_slot_stats *stats, uint64_t seed,
                              int32_t *slot);

/* A draw from Beta(a, b), a, b >= 1, using the generator state *rng. */
double lm_timing_beta(double a, double b, uint64_t *rng);

extern const lm_worker lm_timing_worker;

#endif
