/* lm_lead_wait.h — a message's dead time, added to its lead's hash.
 *
 * The worker-side half of lm_lead.h: it writes the LM_F_WAIT_FMT fields
 * through the message's lm_out, so it lives with the workers, above both
 * the domain (the lead's keys) and the runtime (lm_out). */
#ifndef LM_LEAD_WAIT_H
#define LM_LEAD_WAIT_H

#include "lm_lead.h"
#include "lm_runtime.h"

#include <stdint.h>

/* How a message's dead time is added to the lead hash (LM_F_WAIT_FMT). */
typedef enum lm_wait_record {
    LM_WAIT_ONCE,  /* the stage handles a lead once (intake, qualification):
                      the sum alone, set with HSET, which joins the stage's
                      other HSET of the lead; no count field */
    LM_WAIT_FIRST, /* the first of several (followup's first touch): sum and
                      count set with HSET */
    LM_WAIT_AGAIN  /* a later one, or one that cannot know: both
                      incremented */
} lm_wait_record;
void lm_lead_record_wait(lm_out *out, const char *lead_id, const char *stage,
                         int64_t wait_ms, lm_wait_record how);
#endif
