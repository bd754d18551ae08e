/* intake_outbox.c — the LeadAccepted, built once for handle and again for
 * a restore; its outbox form (see intake_outbox.h).
 *
 * The compacted form is a packed LeadAccepted holding accepted_at_ms
 * (field 14) and intake_wait (field 17, copied as it was) alone: the only
 * fields no input gives back. Its key and id
 * (the lead id and "<lead id>:accepted") follow from the input too
 * (intake_outbox_names). Pure, any thread. */
#include "intake_outbox.h"

#include "lm_fmt.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_pbwire.h"

#include <string.h>

#define INTAKE_F_ACCEPTED_AT 14 /* LeadAccepted.accepted_at_ms */
#define INTAKE_F_WAIT        17 /* LeadAccepted.intake_wait (a Millis) */
#define INTAKE_F_WAIT_MS     1  /* Millis.ms */
#define PB_WIRE_LEN          2  /* a length-delimited field's wire type */

void intake_accepted(const Lastmile__V1__LeadSubmitted *in,
                     const lm_intake_norm *np, const char *lead_id,
                     int64_t accepted_at_ms, Lastmile__V1__Millis *wait,
                     Lastmile__V1__LeadAccepted *acc) {
    /* protobuf-c's structs take char *; pack only reads */
    lastmile__v1__lead_accepted__init(acc);
    acc->lead_id = (char *)lead_id;
    acc->event_id = in->event_id;
    acc->source = (char *)np->source;
    acc->email = (char *)np->email;
    acc->email_domain = (char *)np->domain;
    acc->full_name = (char *)np->full_name;
    acc->company = (char *)np->company;
    acc->title = (char *)np->title;
    acc->company_size = in->company_size;
    acc->country = (char *)np->country;
    acc->timezone = (char *)np->timezone;
    acc->phone = (char *)np->phone;
    acc->submitted_at_ms = in->submitted_at_ms;
    acc->accepted_at_ms = accepted_at_ms;
    acc->intake_wait = wait;
    acc->n_attributes = in->n_attributes;
    acc->attributes = (Lastmile__V1__LeadAccepted__AttributesEntry **)
                          in->attributes; /* same layout: key, value */
}

int intake_outbox_compact(void *ctx, const lm_outbox_input *in,
                          const char *topic_suffix, const uint8_t *val,
                          size_t len, lm_buf *out) {
    uint64_t at = 0;
    const uint8_t *wait = NULL;
    size_t wait_len = 0;
    (void)ctx;
    (void)in;
    if (strcmp(topic_suffix, LM_TOPIC_QUALIFICATION) != 0)
        return 0;
    int rc = lm_pbwire_varint(val, len, INTAKE_F_ACCEPTED_AT, &at);
    int rc_wait = lm_pbwire_bytes(val, len, INTAKE_F_WAIT, &wait, &wait_len);
    if (rc < 0 || rc_wait < 0)
        return 0; /* not a LeadAccepted we read: kept whole */
    if (rc == 0 && at != 0 &&
        (lm_pbwire_put_varint(out, (uint64_t)INTAKE_F_ACCEPTED_AT << 3) != 0 ||
         lm_pbwire_put_varint(out, at) != 0))
        return -1;
    if (rc_wait == 0 &&
        (lm_pbwire_put_varint(out, (uint64_t)INTAKE_F_WAIT << 3 |
                                       PB_WIRE_LEN) != 0 ||
         lm_pbwire_put_varint(out, wait_len) != 0 ||
         lm_buf_append(out, wait, wait_len) < 0))
        return -1;
    return 1;
}

/* The intake_wait of a compacted form into *w (initialised here): *set 1
 * when it holds one. 0 / -1 malformed. */
static int compacted_wait(const uint8_t *val, size_t len,
                          Lastmile__V1__Millis *w, int *set) {
    const uint8_t *p = NULL;
    size_t n = 0;
    uint64_t ms = 0;
    lastmile__v1__millis__init(w);
    int rc = lm_pbwire_bytes(val, len, INTAKE_F_WAIT, &p, &n);
    *set = rc == 0;
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (lm_pbwire_varint(p, n, INTAKE_F_WAIT_MS, &ms) < 0)
        return -1;
    w->ms = (int64_t)ms;
    return 0;
}

/* The redelivered LeadSubmitted behind an output on lastmile.qualification,
 * and its lead id (into lead_id); NULL for any other topic or input. */
static const Lastmile__V1__LeadSubmitted *
submitted_of(const lm_outbox_input *in, const char *topic_suffix,
             char lead_id[LM_LEAD_ID_MAX]) {
    if (strcmp(topic_suffix, LM_TOPIC_QUALIFICATION) != 0 || !in->event ||
        !in->ident ||
        in->event->descriptor != &lastmile__v1__lead_submitted__descriptor)
        return NULL;
    const Lastmile__V1__LeadSubmitted *sub =
        (const Lastmile__V1__LeadSubmitted *)in->event;
    const lm_intake_norm *np = (const lm_intake_norm *)in->ident->scratch;
    lm_lead_id(np->person, sub->event_id, lead_id);
    return sub;
}

int intake_outbox_expand(void *ctx, const lm_outbox_input *in,
                         const char *topic_suffix, const uint8_t *val,
                         size_t len, lm_buf *out) {
    uint64_t at = 0;
    char lead_id[LM_LEAD_ID_MAX];
    (void)ctx;
    Lastmile__V1__Millis wait;
    int wait_set = 0;
    const Lastmile__V1__LeadSubmitted *sub =
        submitted_of(in, topic_suffix, lead_id);
    if (!sub || lm_pbwire_varint(val, len, INTAKE_F_ACCEPTED_AT, &at) < 0 ||
        compacted_wait(val, len, &wait, &wait_set) != 0)
        return -1;
    const lm_intake_norm *np = (const lm_intake_norm *)in->ident->scratch;
    Lastmile__V1__LeadAccepted acc;
    intake_accepted(sub, np, lead_id, (int64_t)at, wait_set ? &wait : NULL,
                    &acc);
    size_t n = protobuf_c_message_get_packed_size(&acc.base);
    if (lm_buf_reserve(out, n) != 0)
        return -1;
    out->len +=
        protobuf_c_message_pack(&acc.base, (uint8_t *)out->data + out->len);
    return 0;
}

void intake_accepted_names(const char *lead_id, char *key, char *id) {
    lm_fmt_cat(key, LM_ID_MAX, lead_id, NULL);
    lm_fmt_cat(id, LM_ID_MAX, lead_id, ":accepted", NULL);
}

int intake_outbox_names(void *ctx, const lm_outbox_input *in,
                        const char *topic_suffix, char *key, char *id) {
    char lead_id[LM_LEAD_ID_MAX];
    (void)ctx;
    if (!submitted_of(in, topic_suffix, lead_id))
        return -1;
    intake_accepted_names(lead_id, key, id);
    return 0;
}
