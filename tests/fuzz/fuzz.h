/* fuzz.h — what every libFuzzer target in tests/fuzz shares.
 *
 * Each target is one decoder or validator fed arbitrary bytes: a topic's
 * protobuf input through its worker's identify, plan and handle (run by
 * the recorder, lm_recorder.h, with Redis replies chosen from the input:
 * fuzz_decide), the decision config, the model file, the Redis URL.
 * A target must never crash, leak, read out of bounds or hit undefined
 * behaviour (ASan, UBSan and LeakSanitizer watch), whatever the input;
 * invariants beyond "no crash" are checked with fuzz_check, which aborts
 * so that libFuzzer saves the input.
 *
 * Targets are built only with -DLASTMILE_FUZZ=ON and clang (see
 * tests/fuzz/CMakeLists.txt and docs/FUZZING.md). Single-threaded. */
#ifndef LM_FUZZ_H
#define LM_FUZZ_H

#include "lm_decode.h"
#include "lm_hash.h"
#include "lm_lead.h"
#include "lm_pbjson.h"
#include "lm_recorder.h"
#include "lm_runtime.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Decodes bytes as w's input type with lm_decode and runs w's identify as
 * the runtime does (step 2 of a batch), checking its contract: a rejection
 * leaves a reason; an accepted input has a non-empty, terminated id and hash
 * tag. NULL when the bytes are too many or do not decode; else the message
 * (free with protobuf_c_message_free_unpacked), *rc identify's result. */
static inline ProtobufCMessage *fuzz_identify(const lm_worker *w,
                                              const uint8_t *data, size_t size,
                                              lm_ident *ident, int *rc) {
    if (size > FUZZ_MAX_INPUT)
        return NULL;
    char reason[LM_REASON_MAX];
    ProtobufCMessage *msg =
        lm_decode(w->input_type, data, size, reason, sizeof(reason));
    if (!msg) {
        fuzz_check(fuzz_reason_ok(reason, sizeof(reason)),
                   "undecodable input refused without a reason");
        return NULL;
    }
    unsigned char *scratch = ident->scratch; /* the caller's room */
    memset(ident, 0, sizeof(*ident));
    ident->scratch = scratch;
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

/* ---- the decision, run through the recorder ---------------------------- */

/* How many sets of chosen replies each input is decided with (besides one
 * run with no replies at all). */
#define FUZZ_SCENARIOS 3

/* What a chosen reply holds: values the workers read from Redis, in range
 * and out of it (NULL: nil). */
static const char *const fuzz_vocab[] = {
    NULL,
    "",
    "open",
    "closed",
    "0",
    "1",
    "2",
    "4",
    "-1",
    "99999999999999999999",
    "qualified",
    "nurture",
    "weekly",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Mars/Olympus",
    "alex.kim",
    "na",
    "NA/mid",
    "1767600000000",
    "0.5",
    "QUALIFIED",
    "NURTURE",
    "10",
    "167",
    "168",
    "0123456789abcdef-01234567",
    "a|b|c",
    "\xff\xfe\x01",
};

static inline uint64_t fuzz_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline const char *fuzz_pick(uint64_t *s) {
    return fuzz_vocab[fuzz_next(s) %
                      (sizeof(fuzz_vocab) / sizeof(*fuzz_vocab))];
}

/* Gives rec the reply to planned command c, chosen from *s: an error, a
 * nil, or a value of the command's shape (an array for HMGET and HGETALL,
 * an integer or a string otherwise) drawn from fuzz_vocab. */
static inline void fuzz_give_reply(lm_recorder *rec, const lm_recorded_cmd *c,
                                   uint64_t *s) {
    static char fields[16][24];
    const char *v[64];
    uint64_t k = fuzz_next(s) % 16;
    if (k == 0) {
        lm_recorder_reply_error(rec, "WRONGTYPE fuzz");
    } else if (k == 1) {
        lm_recorder_reply_nil(rec);
    } else if (strcasecmp(c->argv[0], "HMGET") == 0) {
        size_t n = c->argc > 2 ? (size_t)c->argc - 2 : 0;
        n = n < 64 ? n : 64;
        for (size_t i = 0; i < n; i++)
            v[i] = fuzz_pick(s);
        lm_recorder_reply_strs(rec, n, v);
    } else if (strcasecmp(c->argv[0], "HGETALL") == 0) {
        size_t n = (size_t)(fuzz_next(s) % 16);
        for (size_t i = 0; i < n; i++) {
            snprintf(fields[i], sizeof(fields[i]), "%d:%c",
                     (int)(fuzz_next(s) % 200) - 10, "sfx"[fuzz_next(s) % 3]);
            v[2 * i] = fields[i];
            v[2 * i + 1] = fuzz_pick(s);
        }
        lm_recorder_reply_strs(rec, 2 * n, v);
    } else if (k < 8) {
        lm_recorder_reply_int(rec, (long long)(fuzz_next(s) % 200) - 10);
    } else {
        const char *x = fuzz_pick(s);
        if (x)
            lm_recorder_reply_str(rec, x);
        else
            lm_recorder_reply_nil(rec);
    }
}

/* Checks what one decision recorded: a rejection has a reason; a message
 * handled (rc 0, not rejected) emits only on topics the worker declared,
 * each output keyed by a lead of the message's hash tag, with an id, and
 * decodable as its topic's type, no id twice; every write's key carries
 * the message's hash tag; counts are finite and not negative. */
static inline void fuzz_check_recorded(const lm_recorder *rec,
                                       const lm_worker *w,
                                       const ProtobufCMessage *in, int rc) {
    const char *why = lm_recorder_rejected(rec);
    if (why)
        fuzz_check(why[0] && strlen(why) < LM_REASON_MAX,
                   "a rejection without a reason");
    if (rc != 0 || why)
        return; /* dead-lettered: nothing else of it is kept */
    const char *tag = lm_recorder_ident(rec)->tag;
    char braced[LM_TAG_MAX + 2];
    snprintf(braced, sizeof(braced), "{%s}", tag);
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++) {
        const lm_recorded_emit *e = lm_recorder_emit(rec, i);
        int declared = 0;
        for (const char *const *o = w->outputs; o && *o; o++)
            declared |= strcmp(*o, e->topic) == 0;
        fuzz_check(declared, "an output on a topic the worker did not declare");
        fuzz_check(e->id[0] && strlen(e->id) < LM_ID_MAX,
                   "an output without an id");
        char person[LM_PERSON_MAX];
        fuzz_check(lm_lead_tag(e->key, person) == 0 && strcmp(person, tag) == 0,
                   "an output not keyed by a lead of the message's tag");
        for (size_t j = 0; j < i; j++)
            fuzz_check(strcmp(lm_recorder_emit(rec, j)->id, e->id) != 0,
                       "two outputs with one id");
        const ProtobufCMessageDescriptor *type = lm_pbjson_topic_type(e->topic);
        ProtobufCMessage *m =
            type ? protobuf_c_message_unpack(type, NULL, e->len, e->data)
                 : NULL;
        fuzz_check(m != NULL, "an output that is not its topic's type");
        protobuf_c_message_free_unpacked(m, NULL);
    }
    for (size_t i = 0; i < lm_recorder_n_writes(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_write(rec, i);
        fuzz_check(c->argc >= 2 && strstr(c->argv[1], braced),
                   "a write outside the message's hash tag");
    }
    for (size_t i = 0; i < lm_recorder_n_counts(rec); i++) {
        const lm_recorded_count *c = lm_recorder_count(rec, i);
        fuzz_check(isfinite(c->value) && c->value >= 0,
                   "a count that is not a finite, non-negative number");
    }
}

/* Decides msg with w's identify, plan and handle through the recorder, as
 * the runtime would: once with no replies at all, then FUZZ_SCENARIOS
 * times with replies to the plan (and to plan_batch) chosen from seed;
 * checks each with fuzz_check_recorded
 * and, when handled, with the target's own `decided` (may be NULL).
 * handle must never crash, whatever Redis answers. */
/* A target's own invariants on one handled decision (rc 0, not
 * rejected). */
typedef void (*fuzz_decided_fn)(const lm_recorder *rec,
                                const ProtobufCMessage *in);

static inline void fuzz_check_decided(const lm_recorder *rec,
                                      const ProtobufCMessage *in, int rc,
                                      fuzz_decided_fn decided) {
    if (decided && rc == 0 && !lm_recorder_rejected(rec))
        decided(rec, in);
}

static inline void fuzz_decide(const lm_worker *w, const ProtobufCMessage *msg,
                               uint64_t seed, fuzz_decided_fn decided) {
    static lm_recorder *probe, *rec;
    if (!probe)
        probe = lm_recorder_new();
    if (!rec)
        rec = lm_recorder_new();
    fuzz_check(probe && rec, "out of memory for the recorders");
    lm_recorder_reset(probe);
    int rc = lm_recorder_handle(probe, w, msg, FUZZ_NOW_MS);
    fuzz_check_recorded(probe, w, msg, rc);
    fuzz_check_decided(probe, msg, rc, decided);
    for (int sc = 1; sc <= FUZZ_SCENARIOS; sc++) {
        uint64_t s = seed ^ (uint64_t)sc * 0x2545f4914f6cdd1dULL;
        lm_recorder_reset(rec);
        size_t nb = lm_recorder_plan_batch(rec, w);
        for (size_t i = 0; i < nb; i++)
            fuzz_give_reply(rec, lm_recorder_batch_planned(rec, i), &s);
        lm_recorder_begin_batch(rec, w);
        for (size_t i = 0; i < lm_recorder_n_planned(probe); i++)
            fuzz_give_reply(rec, lm_recorder_planned(probe, i), &s);
        rc = lm_recorder_handle(rec, w, msg, FUZZ_NOW_MS);
        fuzz_check_recorded(rec, w, msg, rc);
        fuzz_check_decided(rec, msg, rc, decided);
    }
}

#endif
