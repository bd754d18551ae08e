/* intake_outbox.h — the LeadAccepted intake emits, and intake's outbox
 * hooks (lm_worker.outbox_compact and outbox_expand; lm_runtime.h).
 *
 * A LeadAccepted is the input LeadSubmitted normalised, its lead id (from
 * the person and the event id), accepted_at_ms and intake_wait (how long
 * the input waited on Kafka). A done record's outbox is only restored for
 * the same event (its id; a repeat at another offset carries the same
 * event), so it keeps those two alone (a LeadAccepted with only fields 14
 * and 17: neither can be had from the input again) and the rest is
 * rebuilt from the redelivered input by the code that built it first
 * (intake_accepted).
 * The runtime keeps the compacted form only when it expands to the very
 * bytes, and produces a restored one only when its hash matches: a repeat
 * with other bytes under the same event id is never rebuilt wrong.
 * Pure; ctx unused. */
#ifndef INTAKE_OUTBOX_H
#define INTAKE_OUTBOX_H

#include "lm_intake_check.h"
#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

/* Fills *acc (initialised here) as intake emits it for input `in`,
 * normalised as `np`, as lead `lead_id`, accepted at `accepted_at_ms`
 * after the input waited `wait` on Kafka (NULL: unset). Its strings,
 * attributes and wait point into in, np, lead_id and wait (borrowed: pack
 * it while they live). */
void intake_accepted(const Lastmile__V1__LeadSubmitted *in,
                     const lm_intake_norm *np, const char *lead_id,
                     int64_t accepted_at_ms, Lastmile__V1__Millis *wait,
                     Lastmile__V1__LeadAccepted *acc);

/* The LeadAccepted's key and id for lead `lead_id` (the lead id, and
 * "<lead id>:accepted"), into key and id of LM_ID_MAX bytes. */
void intake_accepted_names(const char *lead_id, char *key, char *id);

/* lm_worker.outbox_names: the key and id of the input's LeadAccepted. */
int intake_outbox_names(void *ctx, const lm_outbox_input *in,
                        const char *topic_suffix, char *key, char *id);

int intake_outbox_compact(void *ctx, const lm_outbox_input *in,
                          const char *topic_suffix, const uint8_t *val,
                          size_t len, lm_buf *out);
int intake_outbox_expand(void *ctx, const lm_outbox_input *in,
                         const char *topic_suffix, const uint8_t *val,
                         size_t len, lm_buf *out);

#endif
