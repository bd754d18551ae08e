/* lm_recorder.h — a worker's decision run without Kafka or Redis.
 *
 * The recorder is the second implementation of lm_out (lm_out.h): it runs
 * a worker's identify, plan and handle on one message the way the runtime
 * does, with replies the test gives, and keeps everything the decision
 * asked for — outputs, Redis writes, index commands (timers, team sets),
 * a rejection, business counts — for the test to inspect:
 *
 *     lm_recorder *rec = lm_recorder_new();
 *     const char *lead[] = {"status", "open", NULL};
 *     lm_recorder_reply_hash(rec, &lm_followup_worker, &ev.base, now_ms,
 *                            lead);   // the plan's HMGET, by field name
 *     lm_recorder_handle(rec, &lm_followup_worker, &ev.base, now_ms);
 *     cr_expect_str_eq(lm_recorder_hget(rec, key, "stage"), "waiting");
 *     lm_recorder_free(rec);
 *
 * A worker with batch-wide reads (plan_batch) gets them first:
 * lm_recorder_plan_batch says what it asks, the test gives one reply per
 * command, lm_recorder_begin_batch hands them over; then each message.
 *
 * Ownership: the recorder owns every string, reply and record it hands
 * out; they stay valid until the next lm_recorder_reset or _free. Not
 * thread-safe. Used by the unit tests (and the fuzz targets); nothing in
 * the fleet's hot path goes through it. */
#ifndef LM_RECORDER_H
#define LM_RECORDER_H

#include "lm_runtime.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lm_recorder lm_recorder;

typedef struct lm_recorded_emit {
    const char *topic; /* suffix, e.g. "followup" */
    const char *key, *id;
    const uint8_t *data; /* the serialised message */
    size_t len;
} lm_recorded_emit;

typedef struct lm_recorded_cmd {
    int argc;
    char **argv;        /* each NUL-terminated (and may hold NULs) */
    const size_t *lens; /* argv[i] is lens[i] bytes */
} lm_recorded_cmd;

typedef struct lm_recorded_count {
    const char *family, *labels;
    double value;
    int histogram; /* 0 lm_out_count, 1 lm_out_observe */
} lm_recorded_count;

/* NULL when out of memory. */
lm_recorder *lm_recorder_new(void);
void lm_recorder_free(lm_recorder *r); /* NULL ok */
/* Forgets the replies given and everything recorded. */
void lm_recorder_reset(lm_recorder *r);

/* ---- the replies the next message reads (its plan's, in plan order) -- */
void lm_recorder_reply_nil(lm_recorder *r);
void lm_recorder_reply_str(lm_recorder *r, const char *s);
void lm_recorder_reply_int(lm_recorder *r, long long v);
void lm_recorder_reply_error(lm_recorder *r, const char *message);
/* An array of n strings (a NULL element is a nil): HMGET, HGETALL. */
void lm_recorder_reply_strs(lm_recorder *r, size_t n, const char *const *elems);
/* Gives, as the next reply, what Redis would answer to the plan's next
 * unanswered command (the plan's command number = the replies given so
 * far), which must be an HMGET, on a hash holding `pairs`: field, value,
 * field, value, ..., NULL (a NULL value is a field not set). Each field
 * the HMGET asks for gets its value, in the worker's order, so a test
 * names fields and never depends on the order of the worker's reads.
 * Runs w's identify and plan on `in` at now_ms to learn the fields (they
 * are pure; lm_recorder_handle runs them again). Values are
 * NUL-terminated strings. 0, or -1 when identify or plan refuses `in`,
 * the plan has no such command, or it is not an HMGET. */
int lm_recorder_reply_hash(lm_recorder *r, const lm_worker *w,
                           const ProtobufCMessage *in, int64_t now_ms,
                           const char *const *pairs);
/* The replies given so far, as a worker's begin_batch or handle sees
 * them. */
const lm_reads *lm_recorder_reads(lm_recorder *r);

/* ---- running a worker ------------------------------------------------ */
/* Runs w->plan_batch (the batch-wide reads) and keeps its commands,
 * decoded, for lm_recorder_batch_planned; returns how many (0 for a
 * worker without one, or when it failed). A test gives one reply per
 * command, in that order, then calls lm_recorder_begin_batch. */
size_t lm_recorder_plan_batch(lm_recorder *r, const lm_worker *w);
const lm_recorded_cmd *lm_recorder_batch_planned(const lm_recorder *r,
                                                 size_t i);
/* Hands the replies given so far to w->begin_batch (the batch-wide reads
 * of plan_batch) and forgets them. No-op for a worker without one. */
void lm_recorder_begin_batch(lm_recorder *r, const lm_worker *w);
/* What the messages handled next carry besides now: their Kafka
 * timestamp (-1: none) and the real ms they waited in Kafka (a negative
 * wait counts as 0). A new recorder has -1 and 0; lm_recorder_reset keeps
 * what was set. */
void lm_recorder_set_times(lm_recorder *r, int64_t kafka_ts_ms,
                           int64_t wait_ms);
/* The next messages' claim as the runtime reads it on one Redis
 * (lm_worker.claim_key): holder (copied; NULL: nobody holds it) is what
 * handle gets as lm_msg.claim, and their plan is told the claim is read
 * (lm_plan_claim_is_read). Until this is called, or after
 * lm_recorder_claim_unread, a message's claim is not read (as on a Redis
 * Cluster). lm_recorder_reset forgets it. */
void lm_recorder_claim(lm_recorder *r, const char *holder);
void lm_recorder_claim_unread(lm_recorder *r);
/* identify, plan, then handle on `in`, with the replies given so far as
 * the plan's, at simulated time now_ms (and the times set above).
 * Returns 0 when the message was handled; -1 when identify refused it
 * (lm_recorder_rejected then holds its reason), when plan or handle
 * failed, or a call on the lm_out failed (what the runtime dead-letters).
 * A message that handle rejected with lm_out_reject returns 0: ask
 * lm_recorder_rejected. */
int lm_recorder_handle(lm_recorder *r, const lm_worker *w,
                       const ProtobufCMessage *in, int64_t now_ms);

/* ---- what the decision did ------------------------------------------- */
const lm_ident *lm_recorder_ident(const lm_recorder *r);
/* The claim handle took (lm_out_claim): its holder, *ttl_ms its TTL (may
 * be NULL); NULL when it took none. A rejection drops it. */
const char *lm_recorder_claimed(const lm_recorder *r, int64_t *ttl_ms);
/* The plan's commands (of the last lm_recorder_handle), RESP-encoded,
 * and how many. */
const char *lm_recorder_plan(const lm_recorder *r, size_t *len, size_t *n);
/* The same commands decoded: how many, and command i (NULL past the
 * end). */
size_t lm_recorder_n_planned(const lm_recorder *r);
const lm_recorded_cmd *lm_recorder_planned(const lm_recorder *r, size_t i);
size_t lm_recorder_n_emits(const lm_recorder *r);
const lm_recorded_emit *lm_recorder_emit(const lm_recorder *r, size_t i);
/* Emit i decoded as `type`, or NULL (another type, undecodable). Caller
 * frees with protobuf_c_message_free_unpacked(msg, NULL). */
ProtobufCMessage *
lm_recorder_emit_unpack(const lm_recorder *r, size_t i,
                        const ProtobufCMessageDescriptor *type);
/* The first emit on `topic`, or NULL. */
const lm_recorded_emit *lm_recorder_emit_on(const lm_recorder *r,
                                            const char *topic);
size_t lm_recorder_n_writes(const lm_recorder *r);
const lm_recorded_cmd *lm_recorder_write(const lm_recorder *r, size_t i);
size_t lm_recorder_n_index(const lm_recorder *r);
const lm_recorded_cmd *lm_recorder_index(const lm_recorder *r, size_t i);
/* The first write, else the first index command, whose name is `cmd` and
 * whose first argument is `key` (either may be NULL: any), or NULL. */
const lm_recorded_cmd *lm_recorder_find(const lm_recorder *r, const char *cmd,
                                        const char *key);
/* The value the writes leave in hash `key`'s `field` (the last HSET or
 * HSETNX of it), or NULL when no write sets it. */
const char *lm_recorder_hget(const lm_recorder *r, const char *key,
                             const char *field);
/* The rejection's reason (lm_out_reject, or identify's), or NULL. */
const char *lm_recorder_rejected(const lm_recorder *r);
/* 1 when a call on the lm_out failed (the runtime would dead-letter). */
int lm_recorder_failed(const lm_recorder *r);
size_t lm_recorder_n_counts(const lm_recorder *r);
const lm_recorded_count *lm_recorder_count(const lm_recorder *r, size_t i);
/* The sum of the counter values recorded for family (and labels, when
 * not NULL). */
double lm_recorder_counted(const lm_recorder *r, const char *family,
                           const char *labels);

#endif
