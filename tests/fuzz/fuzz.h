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

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
