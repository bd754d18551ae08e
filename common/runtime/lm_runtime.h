/* lm_runtime.h — the loop every worker runs; a worker is a declaration.
 *
 * A worker supplies an lm_worker: its input topic, the message type it
 * reads, what it may write, and three functions:
 *   identify  the input's idempotency id and Redis hash tag (or reject it);
 *   plan      the Redis reads (and atomic claims) its decision needs;
 *   handle    the decision: from the input, the replies to its plan and
 *             `now`, the outputs to produce and the Redis writes to make.
 * handle must not touch Kafka, Redis or the clock itself: that keeps it a
 * pure function that unit tests drive without any server. A worker whose
 * messages share state (qualification's owner loads) also declares
 * plan_batch and begin_batch: the state is read once a batch, and handle
 * is pure given it and the state earlier messages of the batch left.
 *
 * One batch, as the runtime runs it:
 *   1. take up to LASTMILE_BATCH_MAX messages already fetched (waiting only
 *      for the first);
 *   2. decode and identify each; undecodable or invalid input is rejected
 *      to the dead-letter topic with its reason; an input whose hash tag
 *      an earlier input of the batch has waits, with the rest of its
 *      partition, for the next batch (so handle never sees two inputs of
 *      one lead in a batch, and each reads what the one before it wrote);
 *   3. ONE Redis round trip: WATCH of the batch's partition fences, MGET of
 *      every message's "done" record (LM_DEDUPE_BY_ID) or of the fences
 *      (LM_DEDUPE_BY_OFFSET), the worker's batch-wide reads (plan_batch)
 *      and every message's plan;
 *   4. handle each new message; a message with a done record, or below its
 *      partition's fence, was handled before (a redelivery after a crash,
 *      or an upstream duplicate) and is not handled again;
 *   5. ONE Redis round trip: one MULTI/EXEC for the whole batch holding
 *      every message's writes, its outbox (every output it causes: in its
 *      done record, or in its partition's fence) and its index commands,
 *      and a write of each fence; if EXEC is refused (a fence moved:
 *      another replica applied input from the same partition) or the
 *      connection is lost, the batch goes back to 3 and reads what was
 *      applied;
 *   6. produce the outputs (explicit partition by murmur2 of the key, as
 *      Kafka's Java client does; header "lm-id" = the output's id) and wait
 *      until the broker acknowledged all of them;
 *   7. store and commit the input offsets.
 * On a Redis Cluster (redis+cluster://) steps 3 and 5 differ: every
 * worker keeps done records, read with a GET each; step 5 is one guarded
 * Lua unit per slot, then the side writes (lm_out_index) behind markers and
 * a WAIT for replicas (docs/DELIVERY.md, "On a Redis Cluster").
 * Batches overlap (LASTMILE_OVERLAP, on by default): steps 1-4 of the next
 * batch run while a batch waits in step 6, and the next batch's step 5
 * waits until that one is committed (docs/DELIVERY.md).
 * A crash at any point redelivers the batch from its committed offset. A
 * redelivered message with an outbox is recovered, not re-decided: the
 * runtime reads its output partitions from the outbox's scan offsets and
 * produces only the outputs that are not there, so no output is lost or
 * doubled on its topic even on the mock broker, which has no transactions
 * that a reader could rely on.
 *
 * Faults: Redis unreachable → the batch is retried with backoff, partitions
 * are paused (no new input, nothing committed), /readyz says not ready.
 * A produce that fails for good (unknown topic, authorisation) is fatal:
 * the process exits non-zero without committing. SIGTERM/SIGINT: the batch
 * in flight is finished and committed, the group is left, exit 0, all within
 * LASTMILE_SHUTDOWN_TIMEOUT_MS.
 *
 * Threads: everything here runs on the worker's one thread, except the
 * metrics HTTP server, which reads atomics. */
#ifndef LM_RUNTIME_H
#define LM_RUNTIME_H

#include "lm_buf.h"
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_redis.h"

#include <librdkafka/rdkafka.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#define LM_ID_MAX          192           /* idempotency ids */
#define LM_TAG_MAX         96            /* Redis hash tags */
#define LM_REASON_MAX      512           /* dead-letter reasons */
#define LM_INPUT_MAX_BYTES (1024 * 1024) /* larger input is dead-lettered */
#define LM_OUTPUT_MAX_BYTES                                                    \
    (900 * 1024) /* under the broker's 1 MB default;                           \
                    an input whose output would be                             \
                    larger is dead-lettered */
#define LM_DLQ_ORIGINAL_MAX                                                    \
    (64 * 1024) /* a dead letter keeps at most this                            \
                   much of the original */

#define LM_SCRATCH_MAX 2048 /* the most scratch a worker may declare */

typedef struct lm_ident {
    char id[LM_ID_MAX];   /* the input's idempotency id */
    char tag[LM_TAG_MAX]; /* hash tag shared by the keys the input touches */
    /* What identify derived from the input (e.g. intake's normalised
     * lead), kept for plan and handle of the same message so nothing is
     * computed twice: lm_worker.scratch_size bytes, zeroed, aligned for any
     * type; NULL when the worker declares none. Owned by the runtime (the
     * batch's arena), valid for the batch. Kept apart from the ident so a
     * batch of 1,000 messages does not carry 2 KB each for workers that
     * use less or none. */
    unsigned char *scratch;
} lm_ident;

/* An lm_ident with room for any worker's scratch, for code that runs a
 * worker's identify outside the runtime (the recorder, tests, fuzzers).
 * Owned by its caller, usually on the stack. */
typedef struct lm_ident_room {
    lm_ident ident;
    _Alignas(16) unsigned char scratch[LM_SCRATCH_MAX];
} lm_ident_room;

/* Clears room, points its ident's scratch at room's own and returns the
 * ident. A copy of the ident shares that scratch. */
lm_ident *lm_ident_room_init(lm_ident_room *room);

/* The replies to reads, in the order they were planned. The replies are
 * the runtime's (or a test's), valid during the call that got them. Read
 * them with lm_read_*, never by indexing: every accessor is NULL- and
 * range-safe, and what is missing or of another type reads as absent. */
typedef struct lm_reads {
    redisReply *const *replies;
    size_t n;
} lm_reads;

/* What handle sees of one message. Valid during the call only. */
typedef struct lm_msg {
    const ProtobufCMessage *event; /* decoded input */
    const lm_ident *ident;
    lm_reads reads;      /* the replies to the message's plan */
    int64_t now_ms;      /* simulated now (lm_clock), same for the batch */
    int64_t kafka_ts_ms; /* the input's Kafka timestamp, -1 if none */
    int64_t wait_ms;     /* real ms the input waited in Kafka before this
                            batch took it (dead time), >= 0 */
    /* With lm_worker.claim_key on one Redis: claim_read is 1 and claim is
     * what the input's claim names (NULL: nobody holds it). 0 and NULL
     * otherwise (a Redis Cluster: the plan claims, and its reply says). */
    int claim_read;
    const char *claim;
} lm_msg;

/* Reply i: 1 when it is nil or there is none. */
int lm_read_is_nil(const lm_reads *r, size_t i);
/* Reply i as a string (a bulk or status reply), or NULL; *len may be
 * NULL. */
const char *lm_read_str(const lm_reads *r, size_t i, size_t *len);
/* Reply i as a number (an integer reply, or a string holding a decimal
 * integer), else dflt. */
long long lm_read_int(const lm_reads *r, size_t i, long long dflt);
/* Reply i, strictly an integer reply (SCARD, INCR): 0 and *v set, or -1
 * (an error reply, a wrong type, no reply). */
int lm_read_integer(const lm_reads *r, size_t i, long long *v);
/* Reply i as an array (HMGET, HGETALL): its length, 0 if not an array. */
size_t lm_read_elems(const lm_reads *r, size_t i);
/* Element j of array reply i as a string, or NULL (nil, out of range, not
 * an array). *len may be NULL. */
const char *lm_read_elem_str(const lm_reads *r, size_t i, size_t j,
                             size_t *len);

/* Outputs of one message. Owned by whoever runs handle (the runtime, or
 * a test's lm_recorder); handle only appends. A call that fails sets a
 * sticky flag (lm_out_failed) so decision code can check once, at the
 * end: a message whose handle leaves it set is dead-lettered. */
typedef struct lm_out lm_out;
int lm_out_failed(const lm_out *o);

/* Produce `msg` on the topic with this suffix, keyed by `key`, with
 * idempotency id `id`. Serialised at once: msg may be freed after. The
 * suffix must be one the worker declared. 0 / -1. */
int lm_out_emit(lm_out *o, const char *topic_suffix, const char *key,
                const char *id, const ProtobufCMessage *msg);
/* A Redis write, applied atomically with the message's other writes before
 * any output is produced. Keys must carry the message's hash tag. 0 / -1. */
int lm_out_write(lm_out *o, int argc, const char *const *argv,
                 const size_t *lens);
int lm_out_write_strs(lm_out *o, const char *arg0, ...)
    __attribute__((sentinel));
/* A command on keys outside the message's hash tag (timer and team
 * indexes, learning statistics), applied in the same transaction right
 * after the message's writes. Prefer idempotent commands (ZADD, ZREM,
 * HSET, SADD): on a Redis Cluster, which one transaction cannot span,
 * these would be the ones sent apart. */
int lm_out_index(lm_out *o, int argc, const char *const *argv,
                 const size_t *lens);
/* Rejects the input: it goes to the dead-letter topic with this reason
 * (what was wrong and where) and no other output or write of this message
 * is kept. */
void lm_out_reject(lm_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Counts a business event for /metrics once the batch is committed:
 * lm_out_count(o, "lastmile_decisions_total", "kind=\"qualified\"", 1). */
void lm_out_count(lm_out *o, const char *family, const char *labels,
                  double value);
/* Observes a business duration (seconds) into a histogram once committed. */
void lm_out_observe(lm_out *o, const char *family, double seconds);
/* Takes the input's claim (lm_worker.claim_key; only when m->claim_read):
 * the claim then names `holder` (copied; < LM_ID_MAX bytes) for ttl_ms,
 * written in the batch's transaction with the input's other writes and
 * holding its outbox in place of a done record. A rejection drops it.
 * 0 / -1. */
int lm_out_claim(lm_out *o, const char *holder, int64_t ttl_ms);

/* A plan: the reads one message needs. */
typedef struct lm_plan lm_plan;
int lm_plan_cmd(lm_plan *p, int argc, const char *const *argv,
                const size_t *lens);
int lm_plan_cmd_strs(lm_plan *p, const char *arg0, ...)
    __attribute__((sentinel));
int lm_plan_script(lm_plan *p, const lm_script *s, int nkeys, int argc,
                   const char *const *argv, const size_t *lens);
/* Check-and-take: WATCH these n keys (each NUL-terminated) for the batch.
 * If any of them changes between this read round trip and the batch's
 * EXEC (another replica took a slot), EXEC is refused and the batch is
 * read and decided again from fresh replies — so what handle decided from
 * a watched read (an owner's load) still holds when it is applied. Plan
 * it before the reads it guards. Its reply ("OK") takes its place among
 * the replies. Input applied before is still recovered, never decided
 * again: the fences decide that, not the watch. A key written by every
 * batch of a busy worker makes batches conflict: watch what a decision
 * truly depends on. On a Redis Cluster nothing is watched (a PING takes
 * the reply's place): the check holds per replica only (docs/DELIVERY.md,
 * "Known limits"). 0 / -1. */
int lm_plan_watch(lm_plan *p, size_t n, const char *const *keys);
/* Reads one string key: its reply (the value, or nil when the key is
 * missing) takes its place among the replies, as a GET's would. On one
 * Redis the runtime reads every input's gets in one MGET sent after every
 * other read of the round trip (so after every WATCH): no command per
 * get. On a Redis Cluster, in the batch-wide plan and in a recorder it is
 * a GET. Only for string keys: a key of another type reads as absent
 * (nil in the MGET, an error from a GET). 0 / -1. */
int lm_plan_get(lm_plan *p, const char *key);
/* 1 when the runtime reads the input's claim itself (lm_worker.claim_key,
 * one Redis: handle gets it as lm_msg.claim), so the plan must not. */
int lm_plan_claim_is_read(const lm_plan *p);

typedef struct lm_runtime lm_runtime;
/* Timers (lm_timers.h): a timer, and what a sweep fires. */
typedef struct lm_timer lm_timer;
typedef struct lm_timers_fired lm_timers_fired;

/* How a worker recognises input it applied before (a redelivery after a
 * crash or a rebalance, or the same event published twice). */
typedef enum lm_dedupe {
    /* A done record per input (lm:{tag}:done:<worker>:<id>), holding its
     * outbox, kept LASTMILE_DEDUPE_TTL_S: also catches the same event
     * published twice at different offsets. For input from outside. */
    LM_DEDUPE_BY_ID = 0,
    /* By offset: the partition's fence holds the next offset to apply and
     * the outboxes of the inputs whose outputs may not all be acknowledged
     * yet; one write per partition per batch instead of one per input, and
     * no key per input. Only for input topics that lastmile's own workers
     * alone write (the runtime puts each output on its topic once): a
     * message published twice by hand there is decided twice. On a Redis
     * Cluster such a worker keeps done records (LM_DEDUPE_BY_ID) instead:
     * its identify must give each input its own deterministic id. */
    LM_DEDUPE_BY_OFFSET = 1,
} lm_dedupe;

/* What an outbox hook (lm_worker.outbox_compact / outbox_expand) sees of
 * the input that caused an output. The runtime's; valid during the call. */
typedef struct lm_outbox_input {
    const ProtobufCMessage *event; /* decoded */
    const lm_ident *ident;         /* what identify made of it */
    const uint8_t *raw;            /* its bytes as consumed */
    size_t raw_len;
} lm_outbox_input;

typedef struct lm_worker {
    const char *name;  /* "intake": consumer group <prefix>intake, logs */
    const char *input; /* topic suffix it consumes */
    /* 1: the input's records belong on the partition murmur2 of their key
     * names (every record of one lead on one partition, so one replica
     * decides them in turn: docs/DELIVERY.md, "Known limits"). A keyed
     * record on another partition is counted
     * (lastmile_input_misplaced_total), logged (input_misplaced, the first
     * and every 1,000th) and decided as any: the fix is its producer's
     * partitioner. */
    int keyed_input;
    const char *const *outputs; /* suffixes it may produce to, NULL-ended
                                   (the dead-letter topic is implied) */
    const ProtobufCMessageDescriptor *input_type;
    lm_script *const *scripts; /* loaded on every Redis connect; NULL-ended */
    lm_dedupe dedupe;          /* LM_DEDUPE_BY_ID unless set */
    void *ctx;                 /* the worker's own state, passed back */
    size_t scratch_size;       /* bytes of lm_ident.scratch identify fills for
                                  plan and handle (≤ LM_SCRATCH_MAX); 0: none */

    /* Fill id and tag; or return -1 with a reason (→ dead letter). */
    int (*identify)(void *ctx, const ProtobufCMessage *in, lm_ident *ident,
                    char *reason, size_t reasonsz);
    /* Append reads. May be NULL. 0 / -1 (→ dead letter). */
    int (*plan)(void *ctx, const ProtobufCMessage *in, const lm_ident *ident,
                int64_t now_ms, lm_plan *p);
    /* The decision. 0 / -1 (-1 without lm_out_reject → dead letter with a
     * generic reason). */
    int (*handle)(void *ctx, const lm_msg *m, lm_out *out);
    /* Batch-wide reads, appended once per attempt after the done records
     * and before the messages' plans: state that many messages of a batch
     * share (qualification's team loads), read once instead of once per
     * message. May be NULL. 0 / -1 (out of memory: the batch is
     * abandoned, as on any allocation failure). */
    int (*plan_batch)(void *ctx, lm_plan *p);
    /* The replies to plan_batch, in plan order, before the attempt's first
     * handle. The worker keeps what it needs in ctx; handle is then called
     * for the batch's new messages in input order and may update that
     * state (an owner's load grows with each lead given to it). Called
     * again, from fresh reads, when the batch is decided again. The
     * replies are the runtime's, valid during the call. May be NULL. */
    void (*begin_batch)(void *ctx, const lm_reads *reads);
    /* Set by the worker that fires timers (lm_timers.h; timing): the
     * runtime sweeps due timers between batches, at least every 200 ms,
     * and calls this for each one it claimed; it emits the message the
     * timer produces (lm_timers_emit: t->kind says which kind fired). 0,
     * or -1 when the timer cannot fire (an unknown kind, a payload it
     * cannot read: logged and dropped). Pure, like handle. May be NULL. */
    int (*fire_timer)(void *ctx, const lm_timer *t, int64_t now_ms,
                      lm_timers_fired *f);
    /* Set by a worker whose timers are its own (lm_timers.h, "Namespaces
     * and delivered timers"; the webhook connector): timer_ns names its
     * timer namespace, which the runtime sweeps between batches as for
     * fire_timer. For each timer it claimed, plan_timer (may be NULL)
     * appends the reads delivering it needs; deliver_timer performs the
     * timer's effect (not pure: the one place a worker does I/O of its
     * own) and writes what follows from it through `out` (writes, index
     * commands, timers, dead letters on "dlq"). 0 / -1 (not now: the
     * timer is delivered again after its lease). */
    const char *timer_ns;
    int (*plan_timer)(void *ctx, const lm_timer *t, lm_plan *p);
    int (*deliver_timer)(void *ctx, const lm_timer *t, const lm_reads *reads,
                         int64_t now_ms, lm_out *out);
    /* Outbox compaction (docs/DELIVERY.md, "What an outbox holds"): an
     * outbox is only restored for a redelivery of the input that wrote it
     * (the same offset, or the same id), so the bytes of an output that
     * copy or follow from that input need not be kept. Both or neither;
     * pure, like handle. outbox_compact appends to `out` (empty) the
     * compacted form of output `val` on topic `topic_suffix`: 1; 0 to
     * keep the output whole; -1 out of memory. outbox_expand appends to
     * `out` the output rebuilt from its compacted form `val` and the
     * redelivered input: 0; -1 when it cannot be. The runtime keeps a
     * compacted form only when expanding it gives back the very bytes,
     * and keeps a hash of them: a restored output whose rebuilt bytes
     * hash otherwise (the input differs from the one that wrote it) is
     * logged (outbox_not_rebuilt) and never produced. May be NULL. */
    int (*outbox_compact)(void *ctx, const lm_outbox_input *in,
                          const char *topic_suffix, const uint8_t *val,
                          size_t len, lm_buf *out);
    int (*outbox_expand)(void *ctx, const lm_outbox_input *in,
                         const char *topic_suffix, const uint8_t *val,
                         size_t len, lm_buf *out);
    /* With the outbox hooks: the key and id the input gives its output on
     * topic_suffix (NUL-terminated into key and id, LM_ID_MAX bytes each):
     * 0; -1 when it names none. A compacted output whose key and id are
     * these is kept without them (OutboxRecord.named) and a restore takes
     * them from the redelivered input; the kept hash covers value, key and
     * id, so other names are never produced. Pure. May be NULL. */
    int (*outbox_names)(void *ctx, const lm_outbox_input *in,
                        const char *topic_suffix, char *key, char *id);
    /* A claim that is the input's done record (LM_DEDUPE_BY_ID, one Redis
     * only; docs/DELIVERY.md, "A claim that is the done record"): the
     * key, in the input's hash tag, that the input may take (intake: its
     * person). Round trip 1 reads and watches every input's claim (in
     * the batch's MGET: no command per input) and handle gets its holder
     * (lm_msg.claim); an input that takes it (lm_out_claim) has it
     * written in the batch's transaction holding its outbox, and gets no
     * done record. A claim naming the input is then exactly "applied
     * before": its outbox is restored, as from a done record. Writes
     * the key into `key` (LM_ID_MAX + LM_TAG_MAX bytes): 0 / -1 (none).
     * On a Redis Cluster it is not called: the plan claims as it would
     * without it (lm_plan_claim_is_read is 0). May be NULL. */
    int (*claim_key)(void *ctx, const lm_ident *ident, char *key, size_t keysz);
    /* Called at start after settings are read; loads config, models.
     * 0 / -1 (the process exits 1 with the error). May be NULL. */
    int (*init)(void *ctx, const lm_settings *s, char *err, size_t errsz);
    void (*fini)(void *ctx);
    /* Called once Redis is connected, before the first batch: work on
     * stored state a new version needs done first (timing moves keys of
     * an old layout, timing_migrate.h). 0 / -1 (the process exits 1 with
     * the error; the next start does it again). May be NULL. */
    int (*start)(void *ctx, lm_redis *r, char *err, size_t errsz);
} lm_worker;

/* Runs the worker until SIGTERM/SIGINT. Returns the process exit code:
 * 0 after a clean drain, 1 on a fatal error (logged), 2 on bad
 * configuration (every problem printed). */
int lm_runtime_main(const lm_worker *w);

/* --- for runtime services run between batches (the timer sweep) --------- */
lm_redis *lm_runtime_redis(lm_runtime *rt);
const lm_settings *lm_runtime_settings(lm_runtime *rt);
/* Produces messages and waits until the broker has them all. For
 * services between batches; the batch loop has its own path. 0 / -1
 * (fatal). */
typedef struct lm_emit_req {
    const char *topic_suffix, *key, *id;
    const ProtobufCMessage *msg;
} lm_emit_req;
int lm_runtime_produce_sync(lm_runtime *rt, const lm_emit_req *reqs, size_t n);
/* Effectively once between batches, for a service that keeps where its
 * messages went before it produces them (the timer sweep):
 * lm_runtime_place says where each of reqs goes (its partition, and an
 * offset at or before where it will land); the caller makes that durable;
 * lm_runtime_produce_placed produces them there and waits. A request with
 * again[i] set (a place kept by an earlier attempt that may have been
 * produced) is produced only when no message with its id is found on its
 * partition from that offset on. 0 / -1 (nothing acknowledged for sure:
 * try again later). */
typedef struct lm_emit_place {
    int32_t partition;
    int64_t scan_from;
} lm_emit_place;
int lm_runtime_place(lm_runtime *rt, const lm_emit_req *reqs, size_t n,
                     lm_emit_place *places);
int lm_runtime_produce_placed(lm_runtime *rt, const lm_emit_req *reqs,
                              const lm_emit_place *places,
                              const unsigned char *again, size_t n);
/* The delivery tests' crash hook: 1 when LASTMILE_TEST_CRASH_AT names
 * `point` (e.g. "sweep-after-produce"); the service then _exit(137)s. */
int lm_runtime_crash_at(const lm_runtime *rt, const char *point);
/* A counter or gauge in this worker's /metrics (created on first use). */
void lm_runtime_count(lm_runtime *rt, const char *family, const char *labels,
                      double value);
void lm_runtime_gauge(lm_runtime *rt, const char *family, const char *labels,
                      double value);
int lm_runtime_stopping(const lm_runtime *rt);

/* --- helpers for decision code -------------------------------------------- */
/* Serialises msg to a malloc'd buffer (caller frees). */
uint8_t *lm_pb_pack(const ProtobufCMessage *msg, size_t *len);
/* Single-reply helpers, for code that holds a redisReply itself (the
 * runtime, tick functions): NULL-safe. Decision code uses lm_read_*. */
int lm_reply_is_nil(const redisReply *r);
const char *lm_reply_str(const redisReply *r, size_t *len); /* NULL if none */
long long lm_reply_int(const redisReply *r, long long dflt);

#endif
