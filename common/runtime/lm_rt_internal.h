/* lm_rt_internal.h — the runtime's private parts, shared by its rooms.
 *
 * lm_runtime_main (lm_runtime.h) runs one loop; its code lives in rooms:
 *   lm_runtime.c       the loop and its lifecycle: start, one batch as a
 *                      sequence of named steps, stop; health and metrics;
 *   lm_rt_batch.c      the batch's items and their state machine: take,
 *                      identify, duplicates and deferrals, decide, dead
 *                      letters, commit-time counts;
 *   lm_rt_redis.c      the two Redis round trips (reads; the write
 *                      transaction) and the "not now" retry around them;
 *   lm_rt_by_id.c      \ the two ways to know a redelivery, behind one
 *   lm_rt_by_offset.c  / table (rt_dedupe_ops), chosen once at start;
 *   lm_rt_outbox.c     outbox packing, restoring and the read-back that
 *                      recovers a redelivered input's outputs;
 *   lm_rt_kafka.c      Kafka set-up, produce-and-wait, commit, seek, the
 *                      rebalance, error, delivery and statistics callbacks;
 *   lm_rt_pipeline.c   overlapped batches: a batch waits for its
 *                      acknowledgements, parked, while the next is decided;
 *   lm_rt_out.c        the runtime's lm_out: what handle emits and writes,
 *                      recorded straight into the batch (writes as RESP);
 *   lm_rt_cluster.c    on a Redis Cluster only: the reads by GET, the
 *   lm_rt_cluster_side.c  guarded units per slot, the side writes behind
 *                      markers and the WAIT (lm_rt_cluster.h: encoding).
 *
 * Ownership: one lm_runtime owns everything below; the batch's items,
 * records, counts and buffers are reused from batch to batch and freed by
 * lm_runtime_main. Record buffers (recbuf) are not touched between produce
 * and the batch's last delivery report: librdkafka holds pointers into
 * them. Threads: all of it runs on the worker's thread; only the atomics
 * are read by the metrics server's thread. */
#ifndef LM_RT_INTERNAL_H
#define LM_RT_INTERNAL_H

#include "lm_runtime.h"

#include "lm_arena.h"
#include "lm_buf.h"
#include "lm_metrics.h"
#include "lm_out.h"
#include "lm_strmap.h"

#include "lastmile/v1/internal.pb-c.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdint.h>

#define RT_TOPICS_MAX           8
#define RT_PARTITIONS_MAX       1024
#define RT_POLL_FIRST_MS        100
#define RT_TICK_EVERY_MS        200
#define RT_PROBE_EVERY_MS       1000 /* asking Redis while not ready */
#define RT_META_TIMEOUT_MS      10000
#define RT_RECOVER_TIMEOUT_MS   30000
#define RT_COUNTS_MAX_PER_BATCH 65536
#define RT_SERIES_CACHE         64
#define RT_REPLY_BATCH_PLAN     2 /* round trip 1: WATCH, MGET, then these */
#define RT_KEY_MAX              (LM_ID_MAX + LM_TAG_MAX + LM_TOPIC_MAX + 64)

/* A batch stops taking input once it holds this much: its transaction and
 * a fence hold its outboxes (outputs and dead letters, which keep at most
 * LM_DLQ_ORIGINAL_MAX of an input), and Redis refuses a value over 512 MB
 * and a client query over 1 GB, whatever LASTMILE_BATCH_MAX says. */
#define RT_BATCH_BYTES_MAX (32 * 1024 * 1024)

/* A batch that WATCHes each input's claim (a replica holding part of its
 * input, lm_rt_by_id.c) takes at most this many inputs, whatever
 * LASTMILE_BATCH_MAX says: Redis 7.0 checks each watched key against every
 * key the connection already watches, so a batch of N claims costs N²/2
 * comparisons. At 1,000 that was 22% of Redis's instructions; capped at
 * 128, such a replica costs Redis ~5% more per lead than one watching the
 * fences (docs/PERFORMANCE.md, reduction 14). */
#define RT_CLAIMS_WATCHED_MAX 128

/* ================================================================ state */

typedef struct rt_topic {
    char suffix[32];
    char name[LM_TOPIC_MAX];
    rd_kafka_topic_t *rkt;
    int32_t partitions;
    int64_t *known_end; /* per partition: an offset <= the log end */
} rt_topic;

/* What became of an output record. */
typedef enum rt_rec_state {
    RT_REC_TO_PRODUCE = 0, /* not known to be on its topic */
    RT_REC_ACKED = 1,      /* the broker acknowledged it */
    RT_REC_FAILED = -1,    /* its delivery failed for good */
    RT_REC_THERE = 2,      /* already there (read back), or dropped */
} rt_rec_state;

typedef struct rt_rec { /* one output */
    int topic;
    int32_t partition;
    int64_t scan_from;
    size_t key_off, key_len, val_off, val_len, id_off, id_len; /* recbuf */
    int item; /* index in items, -1 for lm_runtime_produce_sync */
    /* 1: a service's message that may have been produced before
       (lm_runtime_produce_placed): read back before producing */
    int again;
    rt_rec_state state;
    int64_t offset;
    /* its value as outboxes keep it (rt_item_compact): 0 not made yet, 1
       compacted (cval_* in recbuf, full_hash of the value), -1 whole */
    int compact;
    size_t cval_off, cval_len;
    uint64_t full_hash;
    /* 1: compacted, and its key and id are the input's names for it
       (lm_worker.outbox_names): the outbox keeps neither */
    int named;
} rt_rec;

typedef struct rt_count { /* a business metric applied after commit */
    char family[64];
    char labels[128];
    double value;
    int histogram;
} rt_count;

/* An item's state in one attempt at the batch (see lm_rt_batch.c for the
 * transitions). Each attempt starts from the item's `identified` state:
 * NEW or REJECT after identify, or a state it was settled in for good
 * (DUP, LATER, or REJECT when its plan or a write was refused). */
typedef enum rt_state {
    RT_NEW,         /* to be decided by the worker's handle */
    RT_DONE_BEFORE, /* applied before (its done record, or below its
                       partition's fence): recovered, not decided */
    RT_REJECT,      /* to the dead-letter topic, with it->reason */
    RT_DUP,         /* the same idempotency id as an earlier item of the
                       batch: that one is decided, this one only committed */
    RT_LATER,       /* left for the next batch (an earlier item has its hash
                       tag): neither decided nor committed, its partition
                       sought back to it */
} rt_state;

typedef struct rt_item {
    rd_kafka_message_t *rkm;
    ProtobufCMessage *event; /* in rt->inputs (the batch's arena) */
    lm_ident ident;
    rt_state state;            /* in this attempt */
    rt_state identified;       /* where each attempt starts */
    int fence;                 /* index of its partition in rt->fences */
    size_t plan_first, plan_n; /* replies of round trip 1 */
    /* its plan's lm_plan_get in rt->gets (one Redis), and where its reads
       begin in rt->read_ptrs when it has any */
    size_t get_first, get_n, reads_first;
    size_t apply_first, apply_n;          /* commands in round trip 2's EXEC */
    size_t rec_first, rec_n;              /* in rt->recs */
    size_t write_off, write_len, write_n; /* in rt->writes: bytes, commands */
    size_t last_write; /* byte offset of its last command in rt->writes */
    int write_failed;  /* a write failed inside EXEC (late dead letter) */
    size_t unit;       /* on a cluster: its unit in round trip 2 */
    size_t count_first, count_n;          /* in rt->counts */
    size_t index_off, index_len, index_n; /* in rt->index */
    /* With rt->claims (lm_rt_by_id.c): what the input's claim named in
       round trip 1 (has_claim 0: nobody), and the claim handle took
       (claim_taken: its holder, for claim_ttl_ms), written in place of a
       done record. The strings are NUL-terminated at these offsets (not
       in the item: a batch holds hundreds of items): the claim read in
       rt->claims_read, which handle's calls never grow (lm_msg.claim
       points into it), the holder taken in rt->recbuf */
    int has_claim, claim_taken;
    size_t claim_off, holder_off;
    int64_t claim_ttl_ms;
    char reason[LM_REASON_MAX];
} rt_item;

typedef struct rt_dedupe_ops rt_dedupe_ops;

/* A batch on a Redis Cluster (lm_rt_cluster.c); NULL on a single Redis. */
typedef struct rt_cluster {
    lm_pipe cmds;     /* one unit's or run's commands, as RESP (scratch) */
    unsigned *slots;  /* per unit: its slot */
    size_t *unit_off; /* per unit: its first byte in rt->pipe; one more */
    size_t cap_units, cap_off;
    size_t n_units;
    lm_buf guards;     /* one unit's done keys, NUL-separated (scratch) */
    int wait_replicas; /* LASTMILE_REDIS_WAIT_REPLICAS; 0 = no WAIT */
    struct lm_rtc_cmd *parsed;     /* one command read back (scratch, ~4 KB:
                                      allocated once, not per side write) */
    struct lm_rtc_master *masters; /* per master seen: replicas online */
    size_t n_masters, cap_masters;
    lm_gauge *g_short; /* masters WAITed on with fewer replicas than asked */
    size_t *side_end;  /* per item: the end of its side replies in rt->pipe */
    size_t cap_side;
} rt_cluster;

/* Test-only hooks (LASTMILE_TEST_CRASH_AT, read once at start; unset in
 * production):
 *   after-writes, after-produce: the process dies with _exit(137), as under
 *     kill -9, at that point of its first non-empty batch, so tests hit
 *     each window of the delivery rule exactly instead of by chance;
 *   replica-first: just before its first write transaction, another
 *     connection applies the very same transaction, as a replica that took
 *     the partition over meanwhile would;
 *   pause-before-read-back: the first read-back of a redelivered batch's
 *     outputs stops the process (SIGSTOP) once it knows the partitions'
 *     ends and before it reads, so a test can take the broker down under
 *     the read-back and send SIGCONT. With it, LASTMILE_TEST_RECOVER_
 *     TIMEOUT_MS shortens the read-back's deadline;
 *   overlap-decided, overlap-committed: (overlapped batches) the process
 *     dies once the next batch is decided while the first one's
 *     acknowledgements are pending, or once the first one is committed
 *     and before the next one's transaction (lm_rt_pipeline.c);
 *     pause-overlap-taken: it stops (SIGSTOP) once, when the next batch is
 *     taken and the first is in flight, so a test can stop Redis;
 *   on a Redis Cluster (lm_rt_cluster.c; after-writes is then after the
 *     units, before the side writes): cluster-between-units: the first
 *     unit alone is applied, then the process dies; cluster-after-side:
 *     it dies after the side writes, before WAIT and produce;
 *   commit-lost: the first batch's commit is never sent (as an
 *     asynchronous commit lost with the process), the next batch is
 *     applied and acknowledged, then it dies before committing that one;
 *   claim-taken (claims, lm_rt_redis.c): just before its first
 *     transaction that takes a claim, another connection does what a
 *     replica deciding the same person from another partition would:
 *     takes that claim for another lead of the person and INCRs its own
 *     partition's fence; claim-taken-watching-claims: the same, with the
 *     replica taken as holding part of its input (it watches each claim)
 *     and no fence INCRed. */
typedef enum rt_crash_at {
    RT_CRASH_NONE,
    RT_CRASH_AFTER_WRITES,
    RT_CRASH_AFTER_PRODUCE,
    RT_RACE_REPLICA_FIRST,
    RT_CRASH_SWEEP_AFTER_PRODUCE,  /* the sweep produced, claims not acked */
    RT_CRASH_DELIVER_AFTER_EFFECT, /* a delivered timer's effect done, its
                                      claim not settled */
    RT_PAUSE_BEFORE_READ_BACK,
    RT_CRASH_OVERLAP_DECIDED,
    RT_CRASH_OVERLAP_COMMITTED,
    RT_PAUSE_OVERLAP_TAKEN,
    RT_CRASH_CLUSTER_BETWEEN_UNITS,
    RT_CRASH_CLUSTER_AFTER_SIDE,
    RT_CRASH_COMMIT_LOST,
    RT_RACE_CLAIM_TAKEN,
    RT_RACE_CLAIM_TAKEN_WATCHING_CLAIMS
} rt_crash_at;

/* When a batch's phases ended, for the debug log (lm_rt_pipeline.c). */
enum {
    RT_PH_READS,
    RT_PH_DECIDE,
    RT_PH_WAIT_PREV, /* the previous batch acknowledged and committed */
    RT_PH_WRITES,
    RT_PH_PRODUCE, /* read-back, outputs queued */
    RT_PH_PARKED,  /* the next batch taken and decided meanwhile */
    RT_PH_ACKS,
    RT_PH_COMMIT,
    RT_PH_N
};
typedef struct rt_phases {
    int64_t t0_us;       /* monotonic, at take */
    double end[RT_PH_N]; /* ms since t0_us; 0 when not reached */
} rt_phases;

typedef struct rt_parked rt_parked;

struct lm_runtime {
    const lm_worker *w;
    lm_settings s;
    const rt_dedupe_ops *dedupe; /* by id or by offset, from w->dedupe */
    /* 1: by id on one Redis with w->claim_key: each input's claim is read
       in round trip 1, and one taken holds the outbox (lm_rt_by_id.c) */
    int claims;
    /* With claims: the input topic's partition count when this replica
       was assigned every one of them (lm_rt_kafka.c), else 0. Then a
       batch watches and INCRs every partition's fence instead of
       watching each claim (watch_all: that count, for the attempt, so a
       revocation between its round trips changes nothing): no other live
       replica decides this input, and one that lost its partitions
       meets the fences. Redis 7.0 checks each WATCHed key against every
       key the connection watches, so a claim per input costs the square
       of the batch (docs/DELIVERY.md). */
    int32_t every_partition;
    int32_t watch_all;
    rt_cluster *cluster; /* on a Redis Cluster, else NULL */
    void *dedupe_state;  /* the strategy's own, or NULL */
    rt_crash_at crash_at;
    int raced;  /* replica-first: the race was run */
    int paused; /* pause-before-read-back, -overlap-taken: it was taken */
    /* a read-back's deadline: RT_RECOVER_TIMEOUT_MS, or the test's */
    int64_t recover_timeout_ms;
    lm_redis *redis;
    rd_kafka_t *consumer, *producer;
    /* reads one input record by its offset (a fence's anchor); made on
       first use, no group (lm_rt_kafka.c) */
    rd_kafka_t *anchor_reader;
    /* per input partition: 1 once this assignment has checked that the
       partition's fence belongs to its log (lm_rt_by_offset.c); cleared
       by every rebalance */
    unsigned char log_known[RT_PARTITIONS_MAX];
    rt_topic topics[RT_TOPICS_MAX];
    int n_topics;
    int dlq_topic;
    char input_topic[LM_TOPIC_MAX];
    int32_t input_partitions; /* at start (metadata), for keyed_input */
    char group[LM_TOPIC_MAX];

    /* batch state, reused */
    rt_item *items;
    size_t n_items, cap_items;
    rt_rec *recs;
    size_t n_recs, cap_recs;
    rt_count *counts;
    size_t n_counts, cap_counts;
    lm_buf recbuf;       /* keys, values, ids of outputs */
    lm_pipe writes;      /* every item's writes (lm_out_write), as RESP */
    lm_pipe index;       /* every item's index commands (lm_out_index) */
    lm_buf obbuf;        /* one item's packed outbox, reused */
    lm_buf claimbuf;     /* one item's packed Claim, reused (claims) */
    lm_buf claims_read;  /* the claims round trip 1 read (rt_item) */
    lm_strmap *seen;     /* in-batch ids and hash tags (mark_*), cleared */
    lm_arena inputs;     /* the items' events; parked with them, reset by
                            rt_batch_drop */
    size_t batch_plan_n; /* plan_batch's replies, after [0] WATCH, [1] MGET */
    int32_t fences[RT_PARTITIONS_MAX]; /* input partitions in the batch */
    int n_fences;
    /* the smallest and largest offset per fence that the batch applies */
    int64_t fence_first[RT_PARTITIONS_MAX], fence_last[RT_PARTITIONS_MAX];
    size_t n_later; /* items left for the next batch */
    lm_pipe pipe;   /* the pipeline being sent */
    redisReply **replies;
    size_t cap_replies;
    /* one Redis: the plans' lm_plan_get, read by round trip 1's last
       command (an MGET at replies[gets_reply]; 0: none); an item with
       gets reads its replies in plan order from read_ptrs (borrowed from
       replies and the MGET's elements: valid as long as they are) */
    lm_plan_gets gets;
    size_t gets_reply;
    redisReply **read_ptrs;
    size_t cap_read_ptrs;
    /* on one Redis: what rt->replies point to (lm_redis_exec_in), reset
       by rt_replies_free and before each round trip; a round trip's
       replies die before the next one is sent */
    lm_arena reply_arena;
    size_t outstanding; /* deliveries not yet reported */
    /* overlapped batches (lm_rt_pipeline.c): LASTMILE_OVERLAP; the batch
       in flight, parked (NULL until the first); the live arrays'
       generation, in each delivery's opaque; the live batch's phases */
    int overlap;
    /* 1 while a rebalance takes partitions away: the batch in flight is
       committed synchronously then (lm_rt_pipeline.c) */
    int revoking;
    int commit_skipped; /* commit-lost: the first commit was dropped */
    rd_kafka_queue_t *commit_queue; /* the consumer's: asynchronous commits'
                                       results, served by its poll */
    rt_parked *parked;
    uint32_t rec_seq;
    rt_phases ph;
    int fatal;
    int64_t stop_deadline_ms; /* monotonic; set once SIGTERM was seen */

    /* health, read by the metrics thread */
    atomic_int ready_redis, ready_broker, assigned;
    atomic_llong lag_total;       /* from the last statistics */
    atomic_llong last_max_wait;   /* real ms, oldest input of last batch */
    atomic_llong last_batch_mono; /* monotonic ms of the last batch */
    lm_metrics *metrics;
    lm_metrics_server *server;
    lm_counter *m_consumed, *m_dead, *m_errors_retriable, *m_errors_fatal;
    lm_counter *m_deferred, *m_seen_before, *m_misplaced;
    lm_histogram *m_handler, *m_batch, *m_redis_rtt, *m_wait;
    lm_counter *m_produced[RT_TOPICS_MAX];
    /* business series seen so far, so applying a batch's counts takes no
       lock: family + labels → series */
    struct rt_series {
        char family[64];
        char labels[128];
        void *series; /* lm_counter* or lm_histogram* */
    } series[RT_SERIES_CACHE];
    int n_series;
    int64_t last_tick_ms;
    int64_t last_probe_ms;      /* Redis asked while not ready */
    char kafka_last_error[256]; /* the last error_cb's, for messages */
};

/* ============================================ the two redelivery ways */

/* How a worker knows input it applied before (lm_dedupe): what round trip
 * 1 reads, how an item is found applied and its outbox restored, what
 * round trip 2 writes, and how a dead letter decided after the writes
 * replaces the outbox. Chosen once at start (rt_dedupe_for). Every
 * function runs on the worker's thread; `rt->pipe` is the pipeline being
 * built. */
struct rt_dedupe_ops {
    const char *what; /* what the MGET reads, for logs: "done records" */
    /* Start and end (state in rt->dedupe_state). 0 / -1 (OOM). */
    int (*init)(lm_runtime *rt);
    void (*fini)(lm_runtime *rt);
    /* Round trip 1's first command: the WATCH that guards the batch
     * (rt_pipe_watch_fences: the batch's fences). 0 / -1 (OOM). */
    int (*pipe_watch)(lm_runtime *rt);
    /* Round trip 1: appends the MGET that says which input was applied;
     * *n_keys its number of keys. 0 / -1 (OOM). */
    int (*pipe_reads)(lm_runtime *rt, size_t *n_keys);
    /* The MGET's reply (an array of n_keys), before any item is
     * classified. 0 / -1 (the batch cannot be decided: abandon it). */
    int (*read)(lm_runtime *rt, const redisReply *mget);
    /* Item i (NEW or REJECT): 0 new; 1 applied before, its outbox's
     * records restored (*recovering set when any may be missing from its
     * topic); -1 out of memory (abandon). */
    int (*applied_before)(lm_runtime *rt, rt_item *it, size_t i,
                          const redisReply *mget, int *recovering);
    /* Round trip 2, right after an applied item's writes: appends what
     * records its outbox. The number of commands appended, or -1 (OOM). */
    int (*pipe_item)(lm_runtime *rt, const rt_item *it, int64_t now_ms);
    /* Round trip 2, after every item (item_cmds commands so far): appends
     * the fence writes. The number appended; 0 when the batch applies
     * nothing (no transaction is sent); -1 (OOM). */
    int (*pipe_fences)(lm_runtime *rt, size_t item_cmds, int64_t now_ms);
    /* After the transaction, for items whose write failed inside it (now
     * dead-lettered): appends what makes their outboxes hold the dead
     * letters, then checks the replies of that round trip. 0 / -1. */
    int (*pipe_late)(lm_runtime *rt, int64_t now_ms);
    int (*late_applied)(lm_runtime *rt);
    /* Forgets what the attempt read (a new attempt; the batch's end). */
    void (*forget)(lm_runtime *rt);
};

extern const rt_dedupe_ops rt_dedupe_by_id;     /* lm_rt_by_id.c */
extern const rt_dedupe_ops rt_dedupe_by_offset; /* lm_rt_by_offset.c */

/* The done record's key of an input, and its SET (holding the item's
 * outbox, PX the dedupe TTL) appended to p (lm_rt_by_id.c). 0 / -1. */
void rt_done_key(const lm_runtime *rt, const lm_ident *id, char *buf,
                 size_t bufsz);
int rt_done_record_pipe(lm_runtime *rt, const rt_item *it, lm_pipe *p,
                        int64_t now_ms);
/* With rt->claims: the key of the item's claim; -1 when it has none (an
 * input rejected by identify, or the worker names none). */
int rt_claim_key(const lm_runtime *rt, const rt_item *it, char *buf,
                 size_t bufsz);

/* ===================================================== lm_rt_cluster.c */

extern lm_script rt_cluster_unit_script, rt_cluster_side_script;
/* At start, on a cluster (before connecting): rt->cluster made, the
 * scripts registered, done records chosen. 0 / -1 (OOM). */
int rt_cluster_setup(lm_runtime *rt);
void rt_cluster_free(lm_runtime *rt);
/* Round trip 1 on a cluster: a PING (the WATCH's place) and a GET of each
 * item's done record, appended; *n_get their number. 0 / -1. */
int rt_cluster_pipe_reads(lm_runtime *rt, size_t *n_get);
/* After round trip 1: the GETs' replies put together as one array in
 * replies[1] (an MGET's place), the plans' moved after it. 0 / -1. */
int rt_cluster_gather_reads(lm_runtime *rt, size_t n_get);
/* Round trip 2 on a cluster: the guarded units. RT_WRITE_*. */
int rt_cluster_write_round_trip(lm_runtime *rt, int64_t now_ms);
/* After the units, before produce (lm_rt_cluster_side.c): the side
 * writes, then WAIT. 0 / -1 (abandon). */
int rt_cluster_after_writes(lm_runtime *rt);
/* The item's side writes as Outbox.side (pointing into rt->index;
 * *out malloc'd, the caller frees it). 0 / -1. */
int rt_cluster_side_fill(const lm_runtime *rt, const rt_item *it,
                         ProtobufCBinaryData **out, size_t *n);
/* Outbox.side of a restored item back into rt->index (its index_*). */
int rt_cluster_side_restore(lm_runtime *rt, rt_item *it,
                            ProtobufCBinaryData *side, size_t n);

/* ====================================================== lm_runtime.c */

/* 1 once SIGTERM was seen and the drain deadline has passed. */
int rt_past_drain_deadline(lm_runtime *rt);

/* ====================================================== lm_rt_batch.c */

/* The key of the fence of an input partition (see lm_rt_redis.c). */
void rt_fence_key(const lm_runtime *rt, int32_t partition, char *buf,
                  size_t bufsz);
/* Item state transitions. */
void rt_item_settle(rt_item *it, rt_state s); /* for good */
void rt_item_set(rt_item *it, rt_state s);    /* this attempt */
int rt_item_applies(const rt_item *it);       /* written in round trip 2 */
/* Step 1: takes what the consumer has fetched (waiting for the first
 * message only with no batch in flight), up to rt_batch_limit. The number
 * of items. */
size_t rt_batch_take(lm_runtime *rt);
size_t rt_batch_limit(const lm_runtime *rt);
/* 1 when this replica's batches WATCH each input's claim: claims on, and
 * not every partition of the input assigned (lm_rt_kafka.c). */
static inline int rt_watches_each_claim(const lm_runtime *rt) {
    return rt->claims && rt->every_partition == 0;
}
/* Step 2: decodes, identifies, assigns fences, marks duplicates and
 * deferrals. 0 / -1 (OOM: abandon). */
int rt_batch_identify(lm_runtime *rt);
/* Forgets what an attempt decided, so the batch can be decided again. */
void rt_attempt_reset(lm_runtime *rt);
/* Step 4: decides every item from round trip 1's replies (which it
 * frees, rt_replies_free). 0 / -1 (OOM: abandon). */
int rt_decide(lm_runtime *rt, int first_attempt, int64_t now_ms,
              int64_t real_ms, int *any_recovering);
/* Drops what handle produced for an item and gives it a dead letter. */
int rt_item_dead_letter(lm_runtime *rt, rt_item *it, int64_t now_ms);
/* After commit: the batch's business counts into /metrics. */
void rt_apply_counts(lm_runtime *rt);
/* The batch's end: the redelivery strategy forgets its reads, and
 * rt_batch_drop. */
void rt_batch_release(lm_runtime *rt);
/* Frees the items (Kafka messages; their events with a reset of
 * rt->inputs) and empties the batch's arrays and buffers; the strategy's
 * state is left alone. */
void rt_batch_drop(lm_runtime *rt);

/* ====================================================== lm_rt_redis.c */

/* Frees a round trip's replies rt->replies[0..n) and NULLs them: on one
 * Redis a reset of rt->reply_arena, on a cluster one by one. Every reply
 * of rt_redis_roundtrip and rt_write_exec goes this way (never to
 * lm_redis_replies_free). */
void rt_replies_free(lm_runtime *rt, size_t n);
/* Round trip 1's plans (lm_rt_redis.c): the batch-wide plan, each new
 * item's, then (one Redis) one MGET of every lm_plan_get of theirs, at
 * replies[rt->gets_reply]. 0 / -1 (OOM). */
int rt_pipe_plans(lm_runtime *rt, int64_t now_ms);
/* After round trip 1: each item with gets gets its replies in plan order,
 * the gets' from that MGET's elements in their places (rt->read_ptrs).
 * 0 / -1 (logged: the MGET did not answer one element per get, or OOM). */
int rt_gather_gets(lm_runtime *rt);
/* Item it's replies to its plan, in plan order (lm_plan_get's among
 * them), as handle reads them. */
lm_reads rt_item_reads(const lm_runtime *rt, const rt_item *it);
/* Redis errors that mean "not now": the batch is held and tried again. */
int rt_reply_error_retriable(const char *e);
/* Sends rt->pipe until Redis answers; replies into rt->replies. 0, or -1
 * if the drain deadline passed (abandon the batch). */
int rt_redis_roundtrip(lm_runtime *rt);
/* Appends round trip 1's WATCH of the batch's fences and n_extra more
 * keys that extra appends to p (may be NULL when n_extra is 0). 0 / -1. */
int rt_pipe_watch(lm_runtime *rt, size_t n_extra,
                  int (*extra)(lm_runtime *rt, lm_pipe *p));
/* rt_pipe_watch with no more keys (rt_dedupe_ops.pipe_watch). */
int rt_pipe_watch_fences(lm_runtime *rt);
/* Round trip 1. Replies: [0] WATCH, [1] MGET, plan_batch's, the plans'.
 * 0, or -1: abandon. */
int rt_plan_round_trip(lm_runtime *rt, int64_t now_ms);
enum { RT_WRITE_APPLIED = 0, RT_WRITE_AGAIN = 1, RT_WRITE_ABANDON = -1 };
/* Round trip 2: one MULTI/EXEC (on a cluster: the units). RT_WRITE_*. */
int rt_write_round_trip(lm_runtime *rt, int64_t now_ms);
/* After writes that failed inside the transaction: those items' outboxes
 * rewritten to hold their dead letters. 0 / -1 (abandon). */
int rt_fix_failed_items(lm_runtime *rt, int64_t now_ms);
/* Sends rt->pipe, the batch's writes (one Redis's transaction or a
 * cluster's units), into rt->replies. 0; or RT_WRITE_AGAIN when Redis
 * could not be reached (counted, logged with `then`: what happens next,
 * /readyz not ready; nothing to free). */
int rt_write_exec(lm_runtime *rt, const char *then);

/* ===================================================== lm_rt_outbox.c */

/* Makes the outbox's form of each of the item's records: compacted by
 * the worker's outbox hooks where they can (appended to recbuf; uses
 * obbuf as scratch). Before rt_record_fill. 0 / -1 (OOM). */
int rt_item_compact(lm_runtime *rt, const rt_item *it);
/* Points `dst` at output record `r` (no copy: valid while the batch is). */
void rt_record_fill(const lm_runtime *rt, const rt_rec *r,
                    Lastmile__V1__Internal__OutboxRecord *dst);
/* Packs `msg` at the end of `out`. 0 / -1 (OOM). */
int rt_pb_pack_append(const ProtobufCMessage *msg, lm_buf *out);
/* Serialises the item's records as an Outbox into `out` (reset first). */
int rt_outbox_pack(lm_runtime *rt, const rt_item *it, lm_buf *out,
                   int64_t now_ms);
/* Restores an item's records from an outbox's (RT_REC_TO_PRODUCE).
 * 0 / -1 (OOM). */
int rt_records_restore(lm_runtime *rt, rt_item *it,
                       Lastmile__V1__Internal__OutboxRecord *const *recs,
                       size_t n_recs);
/* Restores from a packed Outbox. 0 / -1 (unreadable, OOM). */
int rt_outbox_restore(lm_runtime *rt, rt_item *it, const char *data,
                      size_t len);
/* Reads back the recovered items' output partitions; marks the records
 * already there RT_REC_THERE. 0 / -1. */
int rt_recover_scan(lm_runtime *rt);

/* ====================================================== lm_rt_kafka.c */

int rt_kafka_setup(lm_runtime *rt, char *err, size_t errsz);
void rt_kafka_close(lm_runtime *rt);
/* Produces records [first, last) in RT_REC_TO_PRODUCE and waits for every
 * acknowledgement. 0, or -1 (fatal, or past deadline_ms when not 0). */
int rt_produce_and_wait(lm_runtime *rt, size_t first, size_t last,
                        int64_t deadline_ms);
/* The two halves: queues records [first, last) and sends them (0, or -1:
 * fatal); waits until no delivery is outstanding (0, or -1 as above). */
int rt_produce_start(lm_runtime *rt, size_t first, size_t last);
int rt_produce_wait(lm_runtime *rt, int64_t deadline_ms);
/* Commits the batch's input offsets (deferred items excluded). 0 / -1. */
/* Commits the live batch's input offsets: synchronously (0 / -1), or
 * when async, sent without waiting for the broker's answer (0 when
 * queued; a failure is logged when it comes, by the consumer's poll). */
int rt_commit_batch(lm_runtime *rt, int async);
/* Seeks partitions with deferred items back to the first of them. */
void rt_seek_back_later(lm_runtime *rt);
/* 1 when the input partition's log ends below `next` (the topic was made
 * again). */
int rt_kafka_log_ends_before(lm_runtime *rt, int32_t partition, int64_t next);
/* A record's fingerprint: a hash of its timestamp, key and value. */
uint64_t rt_record_fingerprint(const rd_kafka_message_t *rkm);
/* Reads the input partition's record at `offset` into *fingerprint: 0
 * found; 1 not in the log (below its start, past its end, or a gap); -1
 * the broker could not say (in err). */
int rt_kafka_fingerprint_at(lm_runtime *rt, int32_t partition, int64_t offset,
                            uint64_t *fingerprint, char *err, size_t errsz);

/* =================================================== lm_rt_pipeline.c */

/* Batch N's transaction applied and its outputs queued, its arrays are
 * parked while batch N+1 is taken, read and decided; N's acknowledgements
 * are awaited and its offsets committed (rt_inflight_settle) before N+1's
 * transaction, which rewrites the fences holding N's outboxes. */
/* Starts the live batch's clock (after step 1). */
void rt_phases_start(lm_runtime *rt);
/* Marks the end of phase `phase` of the live batch. */
void rt_phase_end(lm_runtime *rt, int phase);
/* After the live batch's outputs are queued: parks it (overlap on) or
 * finishes it at once. 0 / -1 (not committed: abandon). */
int rt_batch_after_produce(lm_runtime *rt);
/* Finishes the batch in flight, if any: waits for its acknowledgements,
 * commits it and frees it; the live batch is left as it was. 0 (or none
 * in flight) / -1 (not committed; rt->fatal unless stopping). */
int rt_inflight_settle(lm_runtime *rt);
/* 1 while a batch is in flight. */
int rt_inflight(const lm_runtime *rt);
void rt_pipeline_free(lm_runtime *rt);
/* A delivery's opaque for record i of the live batch, and the record a
 * delivery report speaks of (NULL: none any more). */
void *rt_delivery_opaque(const lm_runtime *rt, size_t i);
rt_rec *rt_delivery_rec(lm_runtime *rt, void *opaque);

/* ======================================================== lm_rt_out.c */

extern const struct lm_out_ops rt_out_ops;
/* The runtime's lm_out implementation: outputs of one item. */
typedef struct rt_out {
    lm_runtime *rt;
    rt_item *item;
} rt_out;
int rt_topic_index(lm_runtime *rt, const char *suffix);
/* Appends one output record of item `item` (-1: none). A partition < 0 is
 * murmur2 of the key; a scan_from < 0 the partition's known end. */
int rt_rec_add(lm_runtime *rt, int item, int topic, const void *key,
               size_t key_len, const void *val, size_t val_len, const char *id,
               size_t id_len, int32_t partition, int64_t scan_from);

#endif
