/* gw_body.h — a request body to the messages the gateway produces: JSON
 * (one object, or an array of up to batch_max objects) or, for leads, an
 * HTML form post (application/x-www-form-urlencoded).
 *
 * Each object is read through lm_pbjson in the contract's field names
 * (LeadSubmitted, LeadResponse, OwnerActivity, OwnerStatus), field by
 * field so that every bad field is named, then validated: a lead by
 * intake's own rules (lm_intake_check), an answer or an activity for its
 * required fields. Numbers are taken where the contract has strings in a
 * lead's attributes (7 → "7"); a form's fields are strings, which
 * lm_pbjson reads as numbers where the contract has numbers. A missing
 * event_id comes from the Idempotency-Key header (the n-th item of an
 * array gets "<key>:<n>"); a lead's missing submitted_at_ms is now.
 *
 * All or nothing: a body with any bad item gives no item.
 *
 * Pure (now is passed in); thread-safe. Ownership: gw_items owns its
 * buffers (gw_items_free). */
#ifndef GW_BODY_H
#define GW_BODY_H

#include "gw_problem.h"

#include <stddef.h>
#include <stdint.h>

#define GW_ITEM_KEY_MAX 256
#define GW_ITEM_ID_MAX  256

typedef enum gw_kind {
    GW_KIND_LEADS,        /* LeadSubmitted → intake, keyed by email */
    GW_KIND_RESPONSES,    /* LeadResponse → timing, keyed by lead_id */
    GW_KIND_ACTIVITIES,   /* OwnerActivity → timing, keyed by lead_id */
    GW_KIND_OWNER_STATUS, /* OwnerStatus → timing, keyed by owner */
} gw_kind;

/* One message to produce. */
typedef struct gw_item {
    uint8_t *value; /* packed protobuf, malloc'd */
    size_t len;
    char key[GW_ITEM_KEY_MAX]; /* Kafka key */
    char id[GW_ITEM_ID_MAX];   /* event_id: the lm-id header */
} gw_item;

typedef struct gw_items {
    gw_item *v;
    size_t n;
    int array; /* the body was an array */
} gw_items;

typedef struct gw_parse_in {
    gw_kind kind;
    const char *ctype; /* Content-Type; may be NULL */
    const char *body;  /* len bytes */
    size_t len;
    const char *idem_key; /* Idempotency-Key; may be NULL */
    int64_t now_ms;       /* the fleet clock */
    size_t batch_max;     /* most items in an array */
} gw_parse_in;

/* The items of a body: 0, or the HTTP status to answer (400 with the bad
 * fields in pr, 413 for too many items, 415 for another content type)
 * with a one-line detail. out is empty on failure. */
unsigned gw_body_parse(const gw_parse_in *in, gw_items *out, gw_problems *pr,
                       char *detail, size_t detailsz);
void gw_items_free(gw_items *items); /* empties it; NULL ok */

/* The topic suffix of a kind (LM_TOPIC_INTAKE or LM_TOPIC_TIMING). */
const char *gw_kind_topic(gw_kind kind);

/* An application/x-www-form-urlencoded body as a JSON object of strings;
 * a field "attributes.NAME" goes into the object "attributes"; empty
 * values are left out. NULL with err on bad %-escapes, text that is not
 * UTF-8 or a field given twice. Caller owns the result. */
json_t *gw_form_to_json(const char *body, size_t len, char *err, size_t errsz);

#endif
