/* fuzz_pbjson.c — the JSON publish input (`lastmile publish`, `tail`):
 * bytes → jansson → lm_pbjson_to_message for a topic's message type (the
 * first byte picks the topic), and for the intake topic on through the
 * intake worker's identify, as a published lead would go.
 *
 * Invariants: a refused object gets an error naming what is wrong; an
 * accepted message survives message → JSON → message unchanged (the
 * packed bytes are equal); base64 decoding of the input round-trips. */
#include "fuzz.h"

#include "intake.h"
#include "lm_kafka.h"
#include "lm_pbjson.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

static const char *const topics[] = {LM_TOPIC_INTAKE,   LM_TOPIC_QUALIFICATION,
                                     LM_TOPIC_FOLLOWUP, LM_TOPIC_ACTIONS,
                                     LM_TOPIC_TIMING,   LM_TOPIC_OUTCOMES,
                                     LM_TOPIC_DLQ};
#define N_TOPICS (sizeof(topics) / sizeof(topics[0]))

static void check_round_trip(const ProtobufCMessageDescriptor *d,
                             const ProtobufCMessage *m) {
    size_t len = 0, len2 = 0;
    uint8_t *a = lm_pb_pack(m, &len);
    json_t *j = lm_pbjson_from_message(m);
    fuzz_check(a && j, "out of memory");
    char err[512];
    ProtobufCMessage *m2 = lm_pbjson_to_message(d, j, err, sizeof(err));
    if (!m2)
        fprintf(stderr, "round trip refused: %s\n", err);
    fuzz_check(m2 != NULL, "to_message refuses from_message's own output");
    uint8_t *b = lm_pb_pack(m2, &len2);
    fuzz_check(b && len == len2 && memcmp(a, b, len) == 0,
               "message -> JSON -> message changed the message");
    free(a);
    free(b);
    json_decref(j);
    protobuf_c_message_free_unpacked(m2, NULL);
}

static void check_base64(const uint8_t *data, size_t size) {
    uint8_t *out = NULL;
    size_t outlen = 0;
    if (lm_pbjson_base64_decode((const char *)data, size, &out, &outlen) != 0)
        return;
    char *enc = lm_pbjson_base64_encode(out, outlen);
    fuzz_check(enc != NULL, "out of memory");
    uint8_t *back = NULL;
    size_t backlen = 0;
    fuzz_check(lm_pbjson_base64_decode(enc, strlen(enc), &back, &backlen) ==
                       0 &&
                   backlen == outlen &&
                   (outlen == 0 || memcmp(out, back, outlen) == 0),
               "base64 does not round-trip");
    free(out);
    free(back);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    const char *topic = topics[data[0] % N_TOPICS];
    const ProtobufCMessageDescriptor *d = lm_pbjson_topic_type(topic);
    fuzz_check(d != NULL, "a lastmile topic without a message type");
    check_base64(data + 1, size - 1);
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data + 1, size - 1, 0, &jerr);
    if (!j)
        return 0;
    char err[512];
    err[0] = '\0';
    ProtobufCMessage *m = lm_pbjson_to_message(d, j, err, sizeof(err));
    json_decref(j);
    if (!m) {
        fuzz_check(err[0] && memchr(err, '\0', sizeof(err)),
                   "refused without an error");
        return 0;
    }
    check_round_trip(d, m);
    if (d == lm_intake_worker.input_type) {
        lm_ident_room room;
        lm_ident *ident = lm_ident_room_init(&room);
        char reason[LM_REASON_MAX];
        reason[0] = '\0';
        if (lm_intake_worker.identify(lm_intake_worker.ctx, m, ident, reason,
                                      sizeof(reason)) != 0)
            fuzz_check(fuzz_reason_ok(reason, sizeof(reason)),
                       "identify rejected without a reason");
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
