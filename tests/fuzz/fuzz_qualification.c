/* fuzz_qualification.c — lastmile.qualification input: bytes →
 * LeadAccepted → the qualification worker's identify → lm_qualify (the
 * model's features and score, the thresholds, segment and routing) with
 * the built-in decision config and model.
 *
 * The worker is initialised as at start: since identify scores the lead
 * (once, for plan and handle), an uninitialised worker crashed on the
 * first seed.
 *
 * Then the whole decision (identify, plan_batch, handle) runs through the
 * recorder with chosen owner loads (fuzz_decide, fuzz.h); an input with
 * unknown fields may still yield an undecodable output
 * (FUZZ_KNOWN_FORWARDS_UNKNOWN_FIELDS).
 *
 * Invariants: a rejection leaves a reason; an accepted lead's id is
 * "<lead_id>:accepted"; the score is a probability, the kind one of the
 * three decisions, a team chosen exactly when the lead is not
 * disqualified, at most LM_QUAL_REASONS reasons, each named. */
#include "fuzz.h"

#include "qualification.h"

#include <math.h>
#include <string.h>

static lm_policy *policy;
static lm_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[LM_POLICY_ERRSZ];
    policy = lm_policy_load(NULL, err, sizeof(err));
    model = lm_model_load(NULL, err, sizeof(err));
    if (!policy || !model) {
        fprintf(stderr, "fuzz_qualification: built-in config: %s\n", err);
        abort();
    }
    /* identify scores the lead with the worker's own policy and model */
    fuzz_worker_init(&lm_qualification_worker);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_ident ident;
    int rc;
    ProtobufCMessage *msg =
        fuzz_identify(&lm_qualification_worker, data, size, &ident, &rc);
    if (!msg)
        return 0;
    const Lastmile__V1__LeadAccepted *l =
        (const Lastmile__V1__LeadAccepted *)msg;
    if (rc == 0) {
        char want[LM_ID_MAX];
        snprintf(want, sizeof(want), "%s:accepted", l->lead_id);
        fuzz_check(strcmp(ident.id, want) == 0, "id is not <lead>:accepted");
        fuzz_check(strlen(ident.tag) == 16 &&
                       strncmp(ident.tag, l->lead_id, 16) == 0,
                   "the hash tag is not the lead's person hash");
    }
    /* the decision runs only on identified input, but it must hold on any
     * decodable lead: score everything */
    lm_qualify_result q;
    lm_qualify(model, policy, l, &q);
    fuzz_check(q.score >= 0 && q.score <= 1 && !isnan(q.score),
               "score is not a probability");
    fuzz_check(q.kind == LASTMILE__V1__DECISION_KIND__QUALIFIED ||
                   q.kind == LASTMILE__V1__DECISION_KIND__NURTURE ||
                   q.kind == LASTMILE__V1__DECISION_KIND__DISQUALIFIED,
               "unknown decision kind");
    fuzz_check((q.kind == LASTMILE__V1__DECISION_KIND__DISQUALIFIED) ==
                   (q.team == NULL),
               "a team iff not disqualified");
    fuzz_check(q.n_reasons <= LM_QUAL_REASONS, "too many reasons");
    for (size_t i = 0; i < q.n_reasons; i++)
        fuzz_check(
            memchr(q.reasons[i].feature, '\0', sizeof(q.reasons[i].feature)) &&
                q.reasons[i].feature[0],
            "a reason without a feature name");
    fuzz_check(memchr(q.segment, '\0', sizeof(q.segment)) && q.segment[0],
               "no segment");
    /* and the whole decision, with Redis answering anything */
    fuzz_decide(&lm_qualification_worker, msg, lm_hash64(data, size, 0),
                FUZZ_KNOWN_FORWARDS_UNKNOWN_FIELDS);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
