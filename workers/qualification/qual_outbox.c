/* qual_outbox.c — a decision's outbox form without its lead (see
 * qual_outbox.h).
 *
 * Byte work only (lm_pbwire): the FollowUpEvent is not decoded. The cut
 * field is the one at FollowUpEvent.decision (1) → lead (11); a put
 * writes it back where protobuf-c wrote it (fields in number order), and
 * the runtime checks that the put gives the very bytes before it keeps
 * the compacted form. Pure, any thread. */
#include "qual_outbox.h"

#include "lm_kafka.h"
#include "lm_pbwire.h"

#include <string.h>

static const uint32_t qual_lead_path[] = {1, 11}; /* decision, lead */

static int is_decision_topic(const char *topic_suffix) {
    return strcmp(topic_suffix, LM_TOPIC_FOLLOWUP) == 0;
}

int qual_outbox_compact(void *ctx, const lm_outbox_input *in,
                        const char *topic_suffix, const uint8_t *val,
                        size_t len, lm_buf *out) {
    (void)ctx;
    if (!is_decision_topic(topic_suffix) || !in->raw)
        return 0;
    return lm_pbwire_cut(val, len, qual_lead_path, 2, in->raw, in->raw_len,
                         out);
}

int qual_outbox_expand(void *ctx, const lm_outbox_input *in,
                       const char *topic_suffix, const uint8_t *val, size_t len,
                       lm_buf *out) {
    (void)ctx;
    if (!is_decision_topic(topic_suffix) || !in->raw)
        return -1;
    return lm_pbwire_put(val, len, qual_lead_path, 2, in->raw, in->raw_len,
                         out);
}
