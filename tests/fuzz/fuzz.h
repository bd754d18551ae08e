/* fuzz.h — what every libFuzzer target in tests/fuzz shares.
 *
 * Each target is one decoder or validator fed arbitrary bytes: a topic's
 * protobuf input through its worker's identify (and the pure decision
 * code behind it), the decision config, the model file, the Redis URL.
 * A target must never crash, leak, read out of bounds or hit undefined
 * behaviour (ASan, UBSan and LeakSanitizer watch), whatever the input;
 * invariants beyond "no crash" are checked with fuzz_check, which aborts
 * so that libFuzzer saves the input.
 *
 * Targets are built only with -DLASTMILE_FUZZ=ON and clang (see
 * tests/fuzz/CMakeLists.txt and docs/FUZZING.md). Single-threaded. */
#ifndef LM_FUZZ_H
#define LM_FUZZ_H

#include "lm_runtime.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fixed "now" (2026-01-05 10:00 UTC, a Monday) so runs are repeatable. */
#define FUZZ_NOW_MS 1767607200000LL

/* Bound on bytes one input may have: larger inputs teach nothing new about
 * these parsers and only slow the run. */
#define FUZZ_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts (libFuzzer keeps the input as a crash) when cond is false. */
#define fuzz_check(cond, what)                                                 \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", what,       \
                    __FILE__, __LINE__);                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* 1 when a rejection left a usable dead-letter reason: NUL-terminated
 * inside its buffer and not empty. (Reasons may quote input bytes, control
 * characters included; lm_log escapes them.) */
static inline int fuzz_reason_ok(const char *reason, size_t reasonsz) {
    for (size_t i = 0; i < reasonsz; i++)
        if (!reason[i])
            return i > 0;
    return 0;
}

/* Initialises worker w as its main() does with no LASTMILE_CONFIG or
 * LASTMILE_MODEL (the built-in ones): identify, plan and handle may use
 * what init sets up. Aborts when init fails. */
static inline void fuzz_worker_init(const lm_worker *w) {
    lm_settings s;
    char err[1024];
    memset(&s, 0, sizeof(s));
    if (w->init && w->init(w->ctx, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz: the %s worker's init: %s\n", w->name, err);
        abort();
    }
}

/* Decodes bytes as w's input type and runs w's identify as the runtime
 * does (step 2 of a batch), checking its contract: a rejection leaves a
 * reason; an accepted input has a non-empty, terminated id and hash tag.
 * NULL when the bytes are too many or do not decode; else the message
 * (free with protobuf_c_message_free_unpacked), *rc identify's result. */
static inline ProtobufCMessage *fuzz_identify(const lm_worker *w,
                                              const uint8_t *data, size_t size,
                                              lm_ident *ident, int *rc) {
    if (size > FUZZ_MAX_INPUT)
        return NULL;
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(w->input_type, NULL, size, data);
    if (!msg)
        return NULL;
    char reason[LM_REASON_MAX];
    memset(ident, 0, sizeof(*ident));
    reason[0] = '\0';
    *rc = w->identify(w->ctx, msg, ident, reason, sizeof(reason));
    if (*rc != 0) {
        fuzz_check(fuzz_reason_ok(reason, sizeof(reason)),
                   "identify rejected without a reason");
    } else {
        fuzz_check(memchr(ident->id, '\0', sizeof(ident->id)) && ident->id[0],
                   "identify: empty or unterminated id");
        fuzz_check(memchr(ident->tag, '\0', sizeof(ident->tag)) &&
                       ident->tag[0],
                   "identify: empty or unterminated hash tag");
    }
    return msg;
}

#endif
