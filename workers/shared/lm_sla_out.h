/* lm_sla_out.h — arming an owner deadline through a message's outputs.
 *
 * The worker-side half of lm_sla.h (followup arms a step's deadline,
 * timing a hand-off's and the next level's): the lead hash's LM_F_SLA_*
 * fields and the durable timer (lm_timers.h, kind LM_SLA_TIMER_DEADLINE)
 * in the same message's transaction, so the timer exists exactly when the
 * lead says it waits on its owner. Runs on the worker's thread. */
#ifndef LM_SLA_OUT_H
#define LM_SLA_OUT_H

#include "lm_runtime.h"
#include "lm_sla.h"

#include <stdint.h>

/* Arms level `level` of action_id's deadline (owner, step) due at due_ms:
 * writes sla_action, sla_owner, sla_level, sla_due, sla_step on the lead
 * and arms the timer. The strings are copied. 0, or -1 (a value out of
 * range: the input is rejected with the reason). */
int lm_sla_arm(lm_out *out, const char *lead_id, const char *action_id,
               int step, const char *owner, int level, int64_t due_ms);

/* Cancels the armed timer of that level (idempotent) and marks the lead's
 * deadline answered (sla_level "done"). 0 / -1 as lm_sla_arm. */
int lm_sla_clear(lm_out *out, const char *lead_id, const char *action_id,
                 int step, const char *owner, int level);

#endif
