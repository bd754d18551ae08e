/* qual_outbox.h — qualification's outbox hooks (lm_worker.outbox_compact
 * and outbox_expand; lm_runtime.h).
 *
 * A decision on lastmile.followup (FollowUpEvent.decision) carries the
 * whole lead (QualificationDecision.lead, field 11), a copy of the input
 * LeadAccepted. A fence's outbox is only restored for a redelivery of the
 * same offset, so the outbox keeps the decision without it and the
 * redelivered input's bytes are put back on restore. Only a lead whose
 * bytes are exactly the input's is cut (else the output is kept whole);
 * other outputs (outcomes) are kept whole. Pure; ctx unused. */
#ifndef QUAL_OUTBOX_H
#define QUAL_OUTBOX_H

#include "lm_runtime.h"

int qual_outbox_compact(void *ctx, const lm_outbox_input *in,
                        const char *topic_suffix, const uint8_t *val,
                        size_t len, lm_buf *out);
int qual_outbox_expand(void *ctx, const lm_outbox_input *in,
                       const char *topic_suffix, const uint8_t *val, size_t len,
                       lm_buf *out);

#endif
