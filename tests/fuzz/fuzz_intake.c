/* fuzz_intake.c — lastmile.intake input: bytes → LeadSubmitted → the
 * intake worker's identify → lm_intake_normalise at a fixed now.
 *
 * Then the whole decision (identify, plan, handle) runs through the
 * recorder with chosen Redis replies (fuzz_decide, fuzz.h).
 *
 * Invariants: a rejection leaves a reason; an accepted lead's normalised
 * fields are NUL-terminated inside their buffers, the email has exactly one
 * '@' and the person hash is 16 hex digits; identify and normalise agree
 * (identify is normalise with a far clock bound). Of the whole decision:
 * fuzz_check_recorded's (fuzz.h) and intake_decided's (below). */
#include "fuzz.h"

#include "intake.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_worker_init(&lm_intake_worker);
    return 0;
}

static int terminated(const char *s, size_t sz) {
    return memchr(s, '\0', sz) != NULL;
}

/* What handle decided: a new lead accepted once, keyed by its id, with
 * its intake wait and no record of its own (qualification writes it); or
 * a merge, which emits nothing. */
static void intake_decided(const lm_recorder *rec, const ProtobufCMessage *in) {
    (void)in;
    if (lm_recorder_n_emits(rec) == 0) {
        fuzz_check(lm_recorder_counted(rec, "lastmile_intake_total",
                                       "result=\"merged\"") == 1,
                   "neither accepted nor merged");
        return;
    }
    fuzz_check(lm_recorder_n_emits(rec) == 1, "accepted twice");
    Lastmile__V1__LeadAccepted *acc =
        (Lastmile__V1__LeadAccepted *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__lead_accepted__descriptor);
    fuzz_check(acc != NULL, "the accepted lead does not decode");
    fuzz_check(strcmp(acc->lead_id, lm_recorder_emit(rec, 0)->key) == 0,
               "the accepted lead is not keyed by its id");
    char key[LM_KEY_MAX];
    lm_lead_key(acc->lead_id, key);
    fuzz_check(acc->intake_wait != NULL, "accepted without intake's wait");
    fuzz_check(lm_recorder_find(rec, "HSET", key) == NULL,
               "intake wrote the lead's record");
    protobuf_c_message_free_unpacked(&acc->base, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_ident_room room; /* the ident's scratch */
    lm_ident ident = *lm_ident_room_init(&room);
    int rc;
    ProtobufCMessage *msg =
        fuzz_identify(&lm_intake_worker, data, size, &ident, &rc);
    if (!msg)
        return 0;
    const Lastmile__V1__LeadSubmitted *in =
        (const Lastmile__V1__LeadSubmitted *)msg;
    if (rc == 0)
        fuzz_check(strlen(ident.tag) == 16 &&
                       strspn(ident.tag, "0123456789abcdef") == 16,
                   "identify: the tag is not a 16-digit person hash");
    lm_intake_norm n;
    char reason[LM_REASON_MAX];
    reason[0] = '\0';
    int rc2 = lm_intake_normalise(in, FUZZ_NOW_MS, &n, reason, sizeof(reason));
    if (rc2 != 0) {
        fuzz_check(fuzz_reason_ok(reason, sizeof(reason)),
                   "normalise rejected without a reason");
    } else {
        fuzz_check(rc == 0, "normalise accepts what identify rejected");
        fuzz_check(terminated(n.email, sizeof(n.email)) &&
                       terminated(n.domain, sizeof(n.domain)) &&
                       terminated(n.full_name, sizeof(n.full_name)) &&
                       terminated(n.company, sizeof(n.company)) &&
                       terminated(n.title, sizeof(n.title)) &&
                       terminated(n.timezone, sizeof(n.timezone)) &&
                       terminated(n.phone, sizeof(n.phone)) &&
                       terminated(n.country, sizeof(n.country)),
                   "normalised field not terminated");
        const char *at = strchr(n.email, '@');
        fuzz_check(at && !strchr(at + 1, '@'), "accepted email without one @");
        fuzz_check(strcmp(n.domain, at + 1) == 0, "domain is not the email's");
        fuzz_check(strlen(n.country) == 2, "country is not alpha-2");
        fuzz_check(n.timezone[0], "no time zone");
        fuzz_check(strcmp(n.person, ident.tag) == 0,
                   "identify and normalise disagree on the person");
        /* handle reads identify's normalised lead from the scratch */
        fuzz_check(memcmp(&n, ident.scratch, sizeof(n)) == 0,
                   "identify's normalised lead differs from normalise's");
    }
    /* and the whole decision, with Redis answering anything */
    fuzz_decide(&lm_intake_worker, msg, lm_hash64(data, size, 0),
                intake_decided);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
