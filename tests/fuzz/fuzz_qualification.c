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
 * recorder with chosen owner loads (fuzz_decide, fuzz.h).
 *
 * Invariants: a rejection leaves a reason; an accepted lead's id is
 * "<lead_id>:accepted"; the score is a probability, the kind one of the
 * three decisions, a team chosen exactly when the lead is not
 * disqualified, at most LM_QUAL_REASONS reasons, each named. Of the whole
 * decision: fuzz_check_recorded's (fuzz.h) and qualification_decided's (below).
 */
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

/* What handle decided: one output; a decision has an owner, written to
 * the lead and added to that owner's open set when it holds a slot, or is
 * unassigned and queued in its team; an outcome closes the lead and takes
 * no owner. */
static void qualification_decided(const lm_recorder *rec,
                                  const ProtobufCMessage *in) {
    const Lastmile__V1__LeadAccepted *l =
        (const Lastmile__V1__LeadAccepted *)in;
    char key[LM_KEY_MAX], open[LM_KEY_MAX];
    lm_lead_key(l->lead_id, key);
    fuzz_check(lm_recorder_n_emits(rec) == 1, "not exactly one output");
    const lm_recorded_emit *e = lm_recorder_emit(rec, 0);
    if (strcmp(e->topic, LM_TOPIC_OUTCOMES) == 0) {
        const char *st = lm_recorder_hget(rec, key, LM_F_STATUS);
        fuzz_check(st && strcmp(st, "closed") == 0,
                   "disqualified, yet the lead is not closed");
        fuzz_check(lm_recorder_n_index(rec) == 0, "a disqualified lead owned");
        return;
    }
    Lastmile__V1__FollowUpEvent *ev =
        (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__follow_up_event__descriptor);
    fuzz_check(ev != NULL, "the decision does not decode");
    if (!ev)
        return;
    const Lastmile__V1__QualificationDecision *d = ev->decision;
    fuzz_check(d && d->team && d->team[0], "a decision without a team");
    const char *st = lm_recorder_hget(rec, key, LM_F_STATUS);
    fuzz_check(st && strcmp(st, "open") == 0, "a decided lead not open");
    fuzz_check(lm_recorder_hget(rec, key, LM_F_ACCEPTED) != NULL,
               "a decided lead's record without accepted_at");
    if (d && d->unassigned) {
        /* no owner had room: queued in its team, no slot taken */
        char queue[LM_KEY_MAX];
        lm_lead_team_queue_key(d->team, queue);
        fuzz_check(!d->owner[0], "an unassigned decision with an owner");
        fuzz_check(lm_recorder_find(rec, "ZADD", queue) != NULL,
                   "an unassigned lead not queued");
        fuzz_check(lm_recorder_find(rec, "SADD", NULL) == NULL,
                   "an unassigned lead took a slot");
        protobuf_c_message_free_unpacked(&ev->base, NULL);
        return;
    }
    fuzz_check(d && d->owner && d->owner[0], "a decision without an owner");
    const char *owner = lm_recorder_hget(rec, key, LM_F_OWNER);
    fuzz_check(owner && strcmp(owner, d->owner) == 0,
               "the lead's owner is not the decision's");
    lm_lead_team_open_key(d->team, d->owner, open);
    const lm_recorded_cmd *sadd = lm_recorder_find(rec, "SADD", open);
    const char *holds = lm_recorder_hget(rec, key, LM_F_HOLDS);
    if (holds && strcmp(holds, "1") == 0)
        fuzz_check(sadd && sadd->argc == 3 &&
                       strcmp(sadd->argv[2], l->lead_id) == 0,
                   "the owner's open set does not get the lead");
    else
        fuzz_check(!sadd, "a lead that holds no slot is in the open set");
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_ident_room room; /* the ident's scratch */
    lm_ident ident = *lm_ident_room_init(&room);
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
                qualification_decided);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
