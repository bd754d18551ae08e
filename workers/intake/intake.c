/* intake.c — validate, normalise, dedupe, accept (see intake.h).
 *
 * Dedupe: the first submission of a person within the window claims the
 * person key, lm:{<person>}:person, for its lead_id; a later one finds
 * that lead_id there and is merged into it.
 *
 * On one Redis the claim is the accepted lead's done record
 * (lm_worker.claim_key; docs/DELIVERY.md, "A claim that is the done
 * record"): the runtime reads it in the batch's MGET, under a WATCH, and
 * handle takes it (lm_out_claim) in the batch's transaction, where it also
 * holds the LeadAccepted's outbox. A claim naming this event means it was
 * accepted before: the runtime recovers it and handle never sees it. One
 * command per accepted lead instead of a SET NX GET and a done record.
 *
 * On a Redis Cluster (the claim is not read: lm_plan_claim_is_read 0) the
 * plan claims the key itself (SET NX GET): nil, this lead holds it now; a
 * redelivered first submission gets its own lead_id back (it derives from
 * its event_id) and is accepted again with the same outputs, which the
 * runtime's done record dedupes. */
#include "intake.h"
#include "intake_outbox.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_log.h"
#include "lm_policy.h"
#include "lm_topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct intake_ctx {
    lm_policy *policy;
} intake_ctx;

static intake_ctx intake_state;

/* =============================================================== worker */

static int intake_init(void *ctx, const lm_settings *s, char *err,
                       size_t errsz) {
    intake_ctx *c = ctx;
    c->policy = lm_policy_load(s->config_path, err, errsz);
    return c->policy ? 0 : -1;
}

static void intake_fini(void *ctx) {
    intake_ctx *c = ctx;
    lm_policy_free(c->policy);
    c->policy = NULL;
}

_Static_assert(sizeof(lm_intake_norm) <= LM_SCRATCH_MAX,
               "the normalised lead must fit the runtime's scratch");

/* Validates once; the normalised lead rides in the ident's scratch to plan
 * and handle. The future bound on submitted_at_ms needs the batch's clock,
 * so handle checks it. */
static int intake_identify(void *ctx, const ProtobufCMessage *msg,
                           lm_ident *ident, char *reason, size_t reasonsz) {
    (void)ctx;
    const Lastmile__V1__LeadSubmitted *in =
        (const Lastmile__V1__LeadSubmitted *)msg;
    lm_intake_norm *n = (lm_intake_norm *)ident->scratch;
    if (lm_intake_normalise(in, INT64_MAX / 2, n, reason, reasonsz) != 0)
        return -1;
    lm_fmt_cat(ident->id, sizeof(ident->id), in->event_id, NULL);
    lm_fmt_cat(ident->tag, sizeof(ident->tag), n->person, NULL);
    return 0;
}

static int intake_plan(void *ctx, const ProtobufCMessage *msg,
                       const lm_ident *ident, int64_t now_ms, lm_plan *p) {
    intake_ctx *c = ctx;
    (void)now_ms;
    const Lastmile__V1__LeadSubmitted *in =
        (const Lastmile__V1__LeadSubmitted *)msg;
    char key[LM_KEY_MAX], lead_id[LM_LEAD_ID_MAX], window[LM_FMT_I64_MAX];
    if (lm_plan_claim_is_read(p))
        return 0; /* the runtime reads the claim; handle takes it */
    lm_lead_person_key(ident->tag, key);
    lm_lead_id(ident->tag, in->event_id, lead_id);
    lm_fmt_i64(window, lm_policy_dedupe_window_ms(c->policy));
    /* the dedupe claim, one native command (Redis >= 7.0): set the person's
       owner unless one is set, and answer the owner there was (nil: this
       lead is the owner now). Repeated, it answers this lead. */
    const char *argv[] = {"SET", key, lead_id, "NX", "GET", "PX", window};
    return lm_plan_cmd(p, 7, argv, NULL);
}

/* The lead that holds the person: as the runtime read the claim (one
 * Redis), or as the plan's SET NX GET answered (a cluster); my_id when
 * nobody held it. NULL on an error reply. */
static const char *claim_holder(const lm_msg *m, const char *my_id) {
    if (m->claim_read)
        return m->claim ? m->claim : my_id;
    if (m->reads.n == 0)
        return NULL;
    return lm_read_is_nil(&m->reads, 0) ? my_id
                                        : lm_read_str(&m->reads, 0, NULL);
}

/* The person key set to name lead_id for the window, as a plain write
 * (a cluster, where the plan claimed it). */
static void claim_write(const intake_ctx *c, lm_out *out, const char *pkey,
                        const char *lead_id) {
    char window[LM_FMT_I64_MAX];
    lm_fmt_i64(window, lm_policy_dedupe_window_ms(c->policy));
    lm_out_write_strs(out, "SET", pkey, lead_id, "PX", window, NULL);
}

/* The claim's key: the person (lm_worker.claim_key). */
static int intake_claim_key(void *ctx, const lm_ident *ident, char *key,
                            size_t keysz) {
    (void)ctx;
    if (keysz < LM_KEY_MAX || !ident->tag[0])
        return -1;
    lm_lead_person_key(ident->tag, key);
    return 0;
}

static int intake_handle(void *ctx, const lm_msg *m, lm_out *out) {
    const intake_ctx *c = ctx;
    const Lastmile__V1__LeadSubmitted *in =
        (const Lastmile__V1__LeadSubmitted *)m->event;
    /* not const: protobuf-c's structs take char *, and pack only reads */
    lm_intake_norm *np = (lm_intake_norm *)m->ident->scratch;
    if (in->submitted_at_ms > m->now_ms + LM_INTAKE_MAX_FUTURE_MS) {
        lm_out_reject(out,
                      "submitted_at_ms: %lld is more than a day in the future",
                      (long long)in->submitted_at_ms);
        return 0;
    }
    char my_id[LM_LEAD_ID_MAX], key[LM_KEY_MAX];
    lm_lead_id(np->person, in->event_id, my_id);
    const char *owner_id = claim_holder(m, my_id);
    if (!owner_id)
        return -1; /* an error reply: "could not handle", dead-lettered */
    char owner_tag[LM_PERSON_MAX];
    if (strcmp(owner_id, my_id) != 0 &&
        (lm_lead_tag(owner_id, owner_tag) != 0 ||
         strcmp(owner_tag, np->person) != 0)) {
        /* the person key names no lead of this person (edited by hand, a
           value of another format): merging into it would write outside
           this message's hash tag, so this lead takes the person over */
        char pkey[LM_KEY_MAX];
        lm_lead_person_key(np->person, pkey);
        if (!m->claim_read) /* read, the claim is taken below */
            claim_write(c, out, pkey, my_id);
        lm_log(LM_LOG_WARN, "person_key_replaced",
               "%s named no lead of this person; lead %s takes it over", pkey,
               my_id);
        owner_id = my_id;
    }
    lm_lead_key(owner_id, key);
    if (strcmp(owner_id, my_id) != 0) {
        /* the same person within the window: merge, no second cadence */
        lm_out_write_strs(out, "HINCRBY", key, LM_F_MERGED, "1", NULL);
        char sources[LM_KEY_MAX + 16];
        lm_fmt_cat(sources, sizeof(sources), key, ":sources", NULL);
        lm_out_write_strs(out, "SADD", sources, np->source, NULL);
        lm_out_count(out, "lastmile_intake_total", "result=\"merged\"", 1);
        return 0;
    }

    if (m->claim_read &&
        lm_out_claim(out, my_id, lm_policy_dedupe_window_ms(c->policy)) != 0)
        return -1;
    /* the lead's record is qualification's to write, with its decision,
       from this LeadAccepted (docs/PERFORMANCE.md, reduction 15): intake
       writes none, so its wait rides along */
    Lastmile__V1__Millis wait = LASTMILE__V1__MILLIS__INIT;
    wait.ms = m->wait_ms; /* >= 0, as the runtime measured it */
    Lastmile__V1__LeadAccepted acc;
    intake_accepted(in, np, my_id, m->now_ms, &wait, &acc);
    char out_key[LM_ID_MAX], id[LM_ID_MAX];
    intake_accepted_names(my_id, out_key, id);
    if (lm_out_emit(out, LM_TOPIC_QUALIFICATION, out_key, id, &acc.base) != 0)
        return -1;
    lm_out_count(out, "lastmile_intake_total", "result=\"accepted\"", 1);
    return 0;
}

static const char *const intake_outputs[] = {LM_TOPIC_QUALIFICATION, NULL};

const lm_worker lm_intake_worker = {
    .name = "intake",
    .input = LM_TOPIC_INTAKE,
    .outputs = intake_outputs,
    .input_type = LM_TOPIC_INTAKE_TYPE,
    .ctx = &intake_state,
    .scratch_size = sizeof(lm_intake_norm), /* identify's normalised lead */
    .identify = intake_identify,
    .plan = intake_plan,
    .handle = intake_handle,
    .outbox_compact = intake_outbox_compact, /* rebuilt from the input */
    .outbox_expand = intake_outbox_expand,
    .outbox_names = intake_outbox_names, /* the lead id, rebuilt too */
    .claim_key = intake_claim_key,       /* on one Redis: the claim is the done
                                            record */
    .init = intake_init,
    .fini = intake_fini,
};
