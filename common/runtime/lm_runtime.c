/* lm_runtime.c — the worker loop (see lm_runtime.h for the contract).
 *
 * Sections: state · outputs and plans (the worker-facing API) · Kafka
 * plumbing · the outbox and its recovery · one batch · the main loop.
 *
 * Invariants:
 *   - an input offset is committed only after its Redis writes (including
 *     its outbox) are applied and every output it caused is acknowledged;
 *   - record buffers (recbuf) are not touched between produce and the last
 *     delivery report of the batch, because librdkafka holds pointers into
 *     them (no copy on the hot path);
 *   - everything runs on the thread that called lm_runtime_main. */
#include "lm_runtime.h"

#include "lm_out.h"

#include "lm_buf.h"
#include "lm_clock.h"
#include "lm_decode.h"
#include "lm_fmt.h"
#include "lm_hash.h"
#include "lm_kafka.h"
#include "lm_log.h"
#include "lm_utf8.h"
#include "lm_metrics.h"
#include "lm_timers.h"

#include "lastmile/v1/internal.pb-c.h"
#include "lastmile/v1/lastmile.pb-c.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RT_TOPICS_MAX           8
#define RT_PARTITIONS_MAX       1024
#define RT_POLL_FIRST_MS        100
#define RT_TICK_EVERY_MS        200
#define RT_META_TIMEOUT_MS      10000
#define RT_RECOVER_TIMEOUT_MS   30000
#define RT_COUNTS_MAX_PER_BATCH 65536
#define RT_SERIES_CACHE         64
#define RT_REPLY_BATCH_PLAN     2 /* round trip 1: WATCH, MGET, then these */

/* A batch stops taking input once it holds this much: its transaction and
 * a fence hold its outboxes (outputs and dead letters, which keep at most
 * LM_DLQ_ORIGINAL_MAX of an input), and Redis refuses a value over 512 MB
 * and a client query over 1 GB, whatever LASTMILE_BATCH_MAX says. */
#define RT_BATCH_BYTES_MAX (32 * 1024 * 1024)

/* ================================================================ state */

typedef struct rt_topic {
    char suffix[32];
    char name[LM_TOPIC_MAX];
    rd_kafka_topic_t *rkt;
    int32_t partitions;
    int64_t *known_end; /* per partition: an offset <= the log end */
} rt_topic;

typedef struct rt_rec { /* one output */
    int topic;
    int32_t partition;
    int64_t scan_from;
    size_t key_off, key_len, val_off, val_len, id_off, id_len;
    int item;
    int state; /* 0 to produce, 1 acknowledged, -1 failed, 2 already there */
    int64_t offset;
} rt_rec;

typedef struct rt_count { /* a business metric applied after commit */
    char family[64];
    char labels[128];
    double value;
    int histogram;
} rt_count;

/* ITEM_DUP: the same idempotency id as an earlier message of the same
 * batch; the earlier one is handled, this one only committed.
 * ITEM_LATER: left for the next batch (see mark_later): neither decided
 * nor committed, and its partition is sought back to it. */
enum { ITEM_NEW, ITEM_DONE_BEFORE, ITEM_REJECT, ITEM_DUP, ITEM_LATER };

typedef struct rt_item {
    rd_kafka_message_t *rkm;
    ProtobufCMessage *event;
    lm_ident ident;
    int kind;
    int kind0;                   /* kind after identify: each attempt's start */
    size_t plan_first, plan_n;   /* replies of round trip 1 */
    size_t apply_first, apply_n; /* commands in round trip 2's EXEC */
    size_t rec_first, rec_n;
    int fence;                 /* index of its partition in rt->fences */
    size_t write_off, write_n; /* in rt->writes: offset, commands */
    size_t last_write; /* offset of the item's last command in rt->writes */
    int write_failed;  /* a write failed inside EXEC (see fix_failed_items) */
    size_t count_first, count_n;
    size_t index_off, index_len, index_n; /* in rt->index */
    char reason[LM_REASON_MAX];
} rt_item;

/* The runtime's lm_out implementation (lm_out.h): outputs of one item. */
typedef struct rt_out {
    lm_runtime *rt;
    rt_item *item;
} rt_out;

struct lm_runtime {
    const lm_worker *w;
    lm_settings s;
    lm_redis *redis;
    rd_kafka_t *consumer, *producer;
    rt_topic topics[RT_TOPICS_MAX];
    int n_topics;
    int dlq_topic;
    char input_topic[LM_TOPIC_MAX];
    char group[LM_TOPIC_MAX];

    /* batch state, reused */
    rt_item *items;
    size_t n_items, cap_items;
    rt_rec *recs;
    size_t n_recs, cap_recs;
    rt_count *counts;
    size_t n_counts, cap_counts;
    lm_buf recbuf;       /* keys, values, ids of outputs */
    lm_buf writes;       /* every item's writes as [argc][len arg]...; see
                            write_append */
    lm_pipe index;       /* every item's index commands (lm_out_index) */
    lm_buf obbuf;        /* one item's packed outbox, reused */
    size_t batch_plan_n; /* plan_batch's replies, after [0] WATCH, [1] MGET */
    int32_t fences[RT_PARTITIONS_MAX]; /* input partitions in the batch */
    int n_fences;
    /* the smallest and largest offset per fence that the batch applies */
    int64_t fence_first[RT_PARTITIONS_MAX], fence_last[RT_PARTITIONS_MAX];
    /* LM_DEDUPE_BY_OFFSET: each fence as round trip 1 read it (NULL when
       there was none, or it is not taken: see fences_read), and the bytes
       round trip 2 wrote to it (in fence_bytes, from fence_bytes_off[f]
       to fence_bytes_off[f + 1]) */
    Lastmile__V1__Internal__PartitionFence *fence_prev[RT_PARTITIONS_MAX];
    lm_buf fence_bytes;
    size_t fence_bytes_off[RT_PARTITIONS_MAX + 1];
    size_t *dupslots; /* open-addressing table for in-batch duplicates */
    size_t cap_dupslots;
    lm_pipe pipe; /* the pipeline being sent */
    redisReply **replies;
    size_t cap_replies;
    size_t outstanding; /* deliveries not yet reported */
    int fatal;

    /* health, read by the metrics thread */
    atomic_int ready_redis, ready_broker, assigned;
    atomic_llong lag_total;       /* from the last statistics */
    atomic_llong last_max_wait;   /* real ms, oldest input of last batch */
    atomic_llong last_batch_mono; /* monotonic ms of the last batch */
    lm_metrics *metrics;
    lm_metrics_server *server;
    lm_counter *m_consumed, *m_dead, *m_errors_retriable, *m_errors_fatal;
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
};

static volatile sig_atomic_t rt_stop = 0;

/* Test-only hooks (LASTMILE_TEST_CRASH_AT), unset in production:
 *   after-writes, after-produce: the process dies with _exit(137), as under
 *     kill -9, at that point of its first non-empty batch, so tests hit
 *     each window of the delivery rule exactly instead of by chance;
 *   replica-first: just before its first write transaction, another
 *     connection applies the very same transaction, as a replica that took
 *     the partition over meanwhile would. */
typedef enum {
    CRASH_NONE,
    CRASH_AFTER_WRITES,
    CRASH_AFTER_PRODUCE,
    RACE_REPLICA_FIRST
} crash_at;
static crash_at crash_point(void) {
    static int init = 0;
    static crash_at at = CRASH_NONE;
    if (!init) {
        const char *v = getenv("LASTMILE_TEST_CRASH_AT");
        at = !v                                ? CRASH_NONE
             : strcmp(v, "after-writes") == 0  ? CRASH_AFTER_WRITES
             : strcmp(v, "after-produce") == 0 ? CRASH_AFTER_PRODUCE
             : strcmp(v, "replica-first") == 0 ? RACE_REPLICA_FIRST
                                               : CRASH_NONE;
        init = 1;
    }
    return at;
}

static void on_signal(int sig) {
    (void)sig;
    rt_stop = 1;
}

int lm_runtime_stopping(const lm_runtime *rt) {
    (void)rt;
    return rt_stop != 0;
}

lm_redis *lm_runtime_redis(lm_runtime *rt) {
    return rt->redis;
}

const lm_settings *lm_runtime_settings(lm_runtime *rt) {
    return &rt->s;
}

/* Grows an array of `size`-byte elements to hold `need`. 0 / -1. */
static int grow(void **arr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

/* ======================================== outputs (the runtime's lm_out) */

static int topic_index(lm_runtime *rt, const char *suffix) {
    for (int i = 0; i < rt->n_topics; i++)
        if (strcmp(rt->topics[i].suffix, suffix) == 0)
            return i;
    return -1;
}

/* Appends one output record for item `item`. */
static int rec_add(lm_runtime *rt, int item, int topic, const void *key,
                   size_t key_len, const void *val, size_t val_len,
                   const char *id, size_t id_len, int32_t partition,
                   int64_t scan_from) {
    if (grow((void **)&rt->recs, &rt->cap_recs, rt->n_recs + 1,
             sizeof(rt_rec)) != 0)
        return -1;
    rt_rec *r = &rt->recs[rt->n_recs];
    memset(r, 0, sizeof(*r));
    long ko = lm_buf_append(&rt->recbuf, key, key_len);
    long vo = lm_buf_append(&rt->recbuf, val, val_len);
    long io = lm_buf_append(&rt->recbuf, id, id_len);
    if (ko < 0 || vo < 0 || io < 0 || lm_buf_append(&rt->recbuf, "", 1) < 0)
        return -1; /* the id is NUL-terminated for the outbox */
    r->topic = topic;
    r->key_off = (size_t)ko;
    r->key_len = key_len;
    r->val_off = (size_t)vo;
    r->val_len = val_len;
    r->id_off = (size_t)io;
    r->id_len = id_len;
    r->item = item;
    rt_topic *t = &rt->topics[topic];
    if (partition < 0)
        partition = key_len
                        ? rd_kafka_msg_partitioner_murmur2(
                              t->rkt, key, key_len, t->partitions, NULL, NULL)
                        : 0;
    r->partition = partition;
    r->scan_from = scan_from >= 0 ? scan_from : t->known_end[partition];
    rt->n_recs++;
    return 0;
}

static void rt_out_reject(void *impl, const char *reason) {
    rt_out *o = impl;
    lm_fmt_cat(o->item->reason, sizeof(o->item->reason), reason, NULL);
    o->item->kind = ITEM_REJECT;
}

static int rt_out_emit(void *impl, const char *topic_suffix, const char *key,
                       const char *id, const ProtobufCMessage *msg) {
    rt_out *o = impl;
    lm_runtime *rt = o->rt;
    int t = topic_index(rt, topic_suffix);
    if (t < 0 || t == rt->dlq_topic) {
        lm_log(LM_LOG_ERROR, "undeclared_output",
               "worker %s emitted to topic %s, which it did not declare",
               rt->w->name, topic_suffix);
        return -1;
    }
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > LM_OUTPUT_MAX_BYTES) {
        char reason[LM_REASON_MAX];
        snprintf(reason, sizeof(reason),
                 "the %s output for this input would be %zu bytes, over "
                 "the %d-byte limit: shorten the input's fields",
                 topic_suffix, n, LM_OUTPUT_MAX_BYTES);
        rt_out_reject(o, reason); /* the dead letter says why */
        return -1;
    }
    uint8_t stackbuf[4096];
    uint8_t *buf = n <= sizeof(stackbuf) ? stackbuf : malloc(n);
    if (!buf)
        return -1;
    protobuf_c_message_pack(msg, buf);
    int item = (int)(o->item - rt->items);
    int rc =
        rec_add(rt, item, t, key, strlen(key), buf, n, id, strlen(id), -1, -1);
    if (buf != stackbuf)
        free(buf);
    if (rc != 0)
        return -1;
    o->item->rec_n++;
    return 0;
}

/* Writes are stored as argc (u32) then each argument as length (u32) and
 * bytes, and become commands of the batch's transaction (see
 * pipe_item_apply). An HSET right after an HSET of the same key joins it:
 * one command instead of two, the same effect. */
static int hset_joins_last(const rt_out *o, int argc, const char *const *argv,
                           const size_t *lens) {
    const rt_item *it = o->item;
    if (it->write_n == 0 || argc < 4 || argc % 2 != 0 ||
        strcmp(argv[0], "HSET") != 0)
        return 0;
    const char *w = o->rt->writes.data + it->last_write;
    uint32_t n, l0, l1;
    memcpy(&n, w, sizeof(n));
    memcpy(&l0, w + 4, sizeof(l0));
    if (n < 4 || l0 != 4 || memcmp(w + 8, "HSET", 4) != 0)
        return 0;
    memcpy(&l1, w + 12, sizeof(l1));
    size_t kl = lens ? lens[1] : strlen(argv[1]);
    return l1 == kl && memcmp(w + 16, argv[1], kl) == 0;
}

static int rt_out_write(void *impl, int argc, const char *const *argv,
                        const size_t *lens) {
    rt_out *o = impl;
    lm_buf *b = &o->rt->writes;
    size_t mark = b->len;
    int join = hset_joins_last(o, argc, argv, lens);
    int first = join ? 2 : 0; /* a joining HSET adds its pairs only */
    uint32_t n = (uint32_t)argc;
    if (!join && lm_buf_append(b, &n, sizeof(n)) < 0)
        goto fail;
    for (int i = first; i < argc; i++) {
        uint32_t len = (uint32_t)(lens ? lens[i] : strlen(argv[i]));
        if (lm_buf_append(b, &len, sizeof(len)) < 0 ||
            lm_buf_append(b, argv[i], len) < 0)
            goto fail;
    }
    if (join) {
        uint32_t total;
        memcpy(&total, b->data + o->item->last_write, sizeof(total));
        total += (uint32_t)argc - 2;
        memcpy(b->data + o->item->last_write, &total, sizeof(total));
        return 0;
    }
    o->item->last_write = mark;
    o->item->write_n++;
    return 0;
fail:
    b->len = mark;
    return -1;
}

static int rt_out_index(void *impl, int argc, const char *const *argv,
                        const size_t *lens) {
    rt_out *o = impl;
    size_t before = o->rt->index.buf.len;
    if (lm_pipe_cmd(&o->rt->index, argc, argv, lens) != 0)
        return -1;
    o->item->index_len += o->rt->index.buf.len - before;
    o->item->index_n++;
    return 0;
}

static void rt_out_count(void *impl, const char *family, const char *labels,
                         double value, int histogram) {
    rt_out *o = impl;
    lm_runtime *rt = o->rt;
    if (rt->n_counts >= RT_COUNTS_MAX_PER_BATCH ||
        grow((void **)&rt->counts, &rt->cap_counts, rt->n_counts + 1,
             sizeof(rt_count)) != 0)
        return;
    rt_count *c = &rt->counts[rt->n_counts++];
    lm_fmt_cat(c->family, sizeof(c->family), family, NULL);
    lm_fmt_cat(c->labels, sizeof(c->labels), labels ? labels : "", NULL);
    c->value = value;
    c->histogram = histogram;
    o->item->count_n++;
}

static const lm_out_ops rt_out_ops = {
    .emit = rt_out_emit,
    .write = rt_out_write,
    .index = rt_out_index,
    .reject = rt_out_reject,
    .count = rt_out_count,
};

/* ======================================================= Kafka plumbing */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque) {
    lm_runtime *rt = opaque;
    (void)rk;
    size_t idx = (size_t)(uintptr_t)rkm->_private;
    if (rt->outstanding > 0)
        rt->outstanding--;
    if (idx == SIZE_MAX) /* produced by lm_runtime_produce_sync */
        idx = SIZE_MAX;
    rt_rec *r = idx < rt->n_recs ? &rt->recs[idx] : NULL;
    if (rkm->err) {
        lm_log(LM_LOG_ERROR, "produce_failed",
               "delivery to %s [%d] failed for good: %s",
               rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
               rd_kafka_err2str(rkm->err));
        if (r)
            r->state = -1;
        rt->fatal = 1;
        return;
    }
    if (r) {
        r->state = 1;
        r->offset = rkm->offset;
    }
    for (int t = 0; t < rt->n_topics; t++)
        if (rt->topics[t].rkt == rkm->rkt) {
            lm_counter_add(rt->m_produced[t], 1);
            if (rkm->partition >= 0 &&
                rkm->partition < rt->topics[t].partitions &&
                rt->topics[t].known_end[rkm->partition] < rkm->offset + 1)
                rt->topics[t].known_end[rkm->partition] = rkm->offset + 1;
        }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
    lm_runtime *rt = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&rt->ready_broker, 0);
    lm_log(err == RD_KAFKA_RESP_ERR__FATAL ? LM_LOG_ERROR : LM_LOG_WARN,
           "kafka_error", "%s: %s", rd_kafka_err2name(err), reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL)
        rt->fatal = 1;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    lm_runtime *rt = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        atomic_store(&rt->assigned, parts->cnt);
        lm_log(LM_LOG_INFO, "assigned", "%d partition(s) of %s assigned",
               parts->cnt, rt->input_topic);
    } else {
        rd_kafka_assign(rk, NULL);
        atomic_store(&rt->assigned, 0);
        lm_log(LM_LOG_INFO, "revoked", "partitions of %s revoked",
               rt->input_topic);
    }
}

/* librdkafka statistics (every 5 s when /metrics is on): consumer lag
 * per assigned partition, summed for the oldest-waiting estimate. Runs on
 * the consumer's poll, i.e. the worker thread. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    lm_runtime *rt = opaque;
    (void)rk;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    json_t *topics = root ? json_object_get(root, "topics") : NULL;
    const char *tname;
    json_t *t;
    long long total = 0;
    json_object_foreach(topics, tname, t) {
        const char *pname;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), pname, p) {
            if (strcmp(pname, "-1") == 0)
                continue;
            json_int_t lag =
                json_integer_value(json_object_get(p, "consumer_lag"));
            const char *state =
                json_string_value(json_object_get(p, "fetch_state"));
            if (lag < 0 || !state || strcmp(state, "active") != 0)
                continue;
            char labels[256];
            snprintf(labels, sizeof(labels),
                     "worker=\"%s\",topic=\"%s\",partition=\"%s\"", rt->w->name,
                     tname, pname);
            lm_gauge_set(lm_metrics_gauge(rt->metrics, "lastmile_consumer_lag",
                                          "Messages behind the log end",
                                          labels),
                         (double)lag);
            total += lag;
        }
    }
    atomic_store(&rt->lag_total, total);
    json_decref(root);
    return 0; /* librdkafka frees json */
}

/* On every scrape: how long the oldest input of this stage has waited. With
 * no lag it is 0; otherwise the wait of the oldest input of the last batch
 * plus the time since that batch (the backlog has aged since). */
static void on_scrape(void *opaque) {
    lm_runtime *rt = opaque;
    double age = 0;
    if (atomic_load(&rt->lag_total) > 0) {
        long long since =
            lm_clock_mono_ms() - atomic_load(&rt->last_batch_mono);
        age = (double)(atomic_load(&rt->last_max_wait) + since) / 1000.0;
    }
    char labels[96];
    snprintf(labels, sizeof(labels), "stage=\"%s\"", rt->w->name);
    lm_gauge_set(
        lm_metrics_gauge(rt->metrics, "lastmile_stage_oldest_waiting_seconds",
                         "Age of the oldest input waiting at a stage", labels),
        age);
}

/* Metadata: partition counts; watermarks: where each output log ends. */
static int topics_setup(lm_runtime *rt, char *err, size_t errsz) {
    for (int i = 0; i < rt->n_topics; i++) {
        rt_topic *t = &rt->topics[i];
        const struct rd_kafka_metadata *md = NULL;
        t->rkt = rd_kafka_topic_new(rt->producer, t->name, NULL);
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        int64_t deadline = lm_clock_mono_ms() + RT_META_TIMEOUT_MS;
        do {
            if (md)
                rd_kafka_metadata_destroy(md);
            md = NULL;
            e = rd_kafka_metadata(rt->producer, 0, t->rkt, &md, 2000);
            if (!e && md->topic_cnt == 1 && !md->topics[0].err &&
                md->topics[0].partition_cnt > 0)
                break;
            usleep(200 * 1000);
        } while (lm_clock_mono_ms() < deadline && !rt_stop);
        if (e || !md || md->topic_cnt != 1 || md->topics[0].err ||
            md->topics[0].partition_cnt <= 0) {
            snprintf(err, errsz,
                     "topic %s is not available (%s); create it, or check "
                     "LASTMILE_BROKERS and LASTMILE_TOPIC_PREFIX",
                     t->name,
                     e                     ? rd_kafka_err2str(e)
                     : md && md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
                                           : "no metadata");
            if (md)
                rd_kafka_metadata_destroy(md);
            return -1;
        }
        t->partitions = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        if (t->partitions > RT_PARTITIONS_MAX) {
            snprintf(err, errsz, "topic %s has more than %d partitions",
                     t->name, RT_PARTITIONS_MAX);
            return -1;
        }
        t->known_end = calloc((size_t)t->partitions, sizeof(int64_t));
        if (!t->known_end) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        for (int32_t p = 0; p < t->partitions; p++) {
            int64_t lo = 0, hi = 0;
            if (rd_kafka_query_watermark_offsets(rt->producer, t->name, p, &lo,
                                                 &hi, 5000) == 0)
                t->known_end[p] = hi;
        }
    }
    return 0;
}

static int kafka_setup(lm_runtime *rt, char *err, size_t errsz) {
    char why[512];
    rd_kafka_conf_t *pc =
        lm_kafka_conf(&rt->s, LM_KAFKA_PRODUCER, NULL, err, errsz);
    if (!pc)
        return -1;
    rd_kafka_conf_set_opaque(pc, rt);
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    rd_kafka_conf_set_error_cb(pc, on_error);
    rt->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, why, sizeof(why));
    if (!rt->producer) {
        snprintf(err, errsz, "kafka producer: %s", why);
        return -1;
    }
    rd_kafka_conf_t *cc =
        lm_kafka_conf(&rt->s, LM_KAFKA_CONSUMER, rt->group, err, errsz);
    if (!cc)
        return -1;
    rd_kafka_conf_set_opaque(cc, rt);
    rd_kafka_conf_set_error_cb(cc, on_error);
    rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
    if (rt->s.metrics_addr && *rt->s.metrics_addr) {
        rd_kafka_conf_set(cc, "statistics.interval.ms", "5000", NULL, 0);
        rd_kafka_conf_set_stats_cb(cc, on_stats);
    }
    rt->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, why, sizeof(why));
    if (!rt->consumer) {
        snprintf(err, errsz, "kafka consumer: %s", why);
        return -1;
    }
    rd_kafka_poll_set_consumer(rt->consumer);
    if (topics_setup(rt, err, errsz) != 0)
        return -1;
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, rt->input_topic,
                                      RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rt->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        snprintf(err, errsz, "subscribe %s: %s", rt->input_topic,
                 rd_kafka_err2str(e));
        return -1;
    }
    atomic_store(&rt->ready_broker, 1);
    return 0;
}

/* Produces every record in [first, last) whose state is 0 and waits for
 * all acknowledgements. 0, or -1 on a fatal delivery error or when the
 * shutdown deadline passed (then nothing may be committed). */
static int produce_and_wait(lm_runtime *rt, size_t first, size_t last,
                            int64_t deadline_ms) {
    for (size_t i = first; i < last; i++) {
        rt_rec *r = &rt->recs[i];
        if (r->state != 0)
            continue;
        rt_topic *t = &rt->topics[r->topic];
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rt->producer, RD_KAFKA_V_RKT(t->rkt),
                RD_KAFKA_V_PARTITION(r->partition), RD_KAFKA_V_MSGFLAGS(0),
                RD_KAFKA_V_KEY(rt->recbuf.data + r->key_off, r->key_len),
                RD_KAFKA_V_VALUE(rt->recbuf.data + r->val_off, r->val_len),
                RD_KAFKA_V_HEADER("lm-id", rt->recbuf.data + r->id_off,
                                  (ssize_t)r->id_len),
                RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                rt->outstanding++;
                break;
            }
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                lm_log(LM_LOG_ERROR, "produce_failed", "produce to %s: %s",
                       t->name, rd_kafka_err2str(e));
                rt->fatal = 1;
                return -1;
            }
            rd_kafka_poll(rt->producer, 50);
        }
    }
    /* the whole batch is queued: send it now rather than after linger.ms
       (flush wakes the broker threads; with no wait it returns at once) */
    if (rt->outstanding > 0)
        rd_kafka_flush(rt->producer, 1);
    int64_t warn_at = lm_clock_mono_ms() + 5000;
    while (rt->outstanding > 0 && !rt->fatal) {
        rd_kafka_poll(rt->producer, 20);
        int64_t now = lm_clock_mono_ms();
        if (deadline_ms && now > deadline_ms) {
            lm_log(LM_LOG_WARN, "drain_timeout",
                   "%zu output(s) not acknowledged before the shutdown "
                   "deadline; the batch will be redelivered and recovered",
                   rt->outstanding);
            return -1;
        }
        if (now > warn_at) {
            atomic_store(&rt->ready_broker, 0);
            lm_log(LM_LOG_WARN, "produce_waiting",
                   "%zu output(s) waiting for the broker", rt->outstanding);
            warn_at = now + 5000;
        }
    }
    if (rt->fatal)
        return -1;
    atomic_store(&rt->ready_broker, 1);
    return 0;
}

int lm_runtime_produce_sync(lm_runtime *rt, const lm_emit_req *reqs, size_t n) {
    size_t first = rt->n_recs;
    for (size_t i = 0; i < n; i++) {
        int t = topic_index(rt, reqs[i].topic_suffix);
        if (t < 0)
            return -1;
        size_t len = protobuf_c_message_get_packed_size(reqs[i].msg);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
            return -1;
        protobuf_c_message_pack(reqs[i].msg, buf);
        int rc = rec_add(rt, -1, t, reqs[i].key, strlen(reqs[i].key), buf, len,
                         reqs[i].id, strlen(reqs[i].id), -1, -1);
        free(buf);
        if (rc != 0)
            return -1;
    }
    int rc = produce_and_wait(rt, first, rt->n_recs, 0);
    rt->n_recs = first;
    return rc;
}

/* ================================================ the outbox, recovery */

static void done_key(const lm_runtime *rt, const lm_ident *id, char *buf,
                     size_t bufsz) {
    lm_fmt_cat(buf, bufsz, "lm:{", id->tag, "}:done:", rt->w->name, ":", id->id,
               NULL);
}

/* The fence of one input partition: every write transaction of this
 * worker on input from that partition bumps it, and every batch watches
 * it from its reads to its EXEC (see the top of "one batch"). */
static void fence_key(const lm_runtime *rt, int32_t partition, char *buf,
                      size_t bufsz) {
    char num[LM_FMT_I64_MAX];
    lm_fmt_i64(num, partition);
    lm_fmt_cat(buf, bufsz, "lm:{fence}:", rt->w->name, ":", rt->input_topic,
               ":", num, NULL);
}

/* Points `dst` at output record `r` (no copy: valid while the batch is). */
static void record_fill(const lm_runtime *rt, const rt_rec *r,
                        Lastmile__V1__Internal__OutboxRecord *dst) {
    lastmile__v1__internal__outbox_record__init(dst);
    dst->topic = (char *)rt->topics[r->topic].name;
    dst->partition = r->partition;
    dst->scan_from = r->scan_from;
    dst->key.data = (uint8_t *)rt->recbuf.data + r->key_off;
    dst->key.len = r->key_len;
    dst->value.data = (uint8_t *)rt->recbuf.data + r->val_off;
    dst->value.len = r->val_len;
    dst->id = rt->recbuf.data + r->id_off; /* NUL-terminated */
}

/* Packs `msg` at the end of `out`. 0 / -1 (OOM). */
static int pb_pack_append(const ProtobufCMessage *msg, lm_buf *out) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (lm_buf_reserve(out, n + 1) != 0)
        return -1;
    out->len += protobuf_c_message_pack(msg, (uint8_t *)out->data + out->len);
    return 0;
}

/* Packs `msg` into `out` (reset first). 0 / -1 (OOM). */
static int pb_pack_into(const ProtobufCMessage *msg, lm_buf *out) {
    lm_buf_reset(out);
    return pb_pack_append(msg, out);
}

/* Serialises the item's records as an Outbox into `out` (reset first). */
static int outbox_pack(lm_runtime *rt, const rt_item *it, lm_buf *out,
                       int64_t now_ms) {
    Lastmile__V1__Internal__Outbox ob = LASTMILE__V1__INTERNAL__OUTBOX__INIT;
    Lastmile__V1__Internal__OutboxRecord recs[64];
    Lastmile__V1__Internal__OutboxRecord *ptrs[64];
    Lastmile__V1__Internal__OutboxRecord **pp = ptrs;
    Lastmile__V1__Internal__OutboxRecord *rr = recs;
    if (it->rec_n > 64) {
        pp = malloc(it->rec_n * sizeof(*pp));
        rr = malloc(it->rec_n * sizeof(*rr));
        if (!pp || !rr) {
            free(pp);
            free(rr);
            return -1;
        }
    }
    for (size_t i = 0; i < it->rec_n; i++) {
        record_fill(rt, &rt->recs[it->rec_first + i], &rr[i]);
        pp[i] = &rr[i];
    }
    ob.n_records = it->rec_n;
    ob.records = pp;
    ob.written_at_ms = now_ms;
    int rc = pb_pack_into(&ob.base, out);
    if (pp != ptrs) {
        free(pp);
        free(rr);
    }
    return rc;
}

/* Restores an item's records from an outbox's (state 0 = maybe missing).
 * 0 / -1 (OOM). */
static int records_restore(lm_runtime *rt, rt_item *it,
                           Lastmile__V1__Internal__OutboxRecord *const *recs,
                           size_t n_recs) {
    it->rec_first = rt->n_recs;
    it->rec_n = 0;
    int rc = 0;
    for (size_t i = 0; i < n_recs; i++) {
        const Lastmile__V1__Internal__OutboxRecord *r = recs[i];
        int t = -1;
        for (int k = 0; k < rt->n_topics; k++)
            if (strcmp(rt->topics[k].name, r->topic) == 0)
                t = k;
        if (t < 0 || r->partition < 0 ||
            r->partition >= rt->topics[t].partitions) {
            lm_log(LM_LOG_WARN, "outbox_topic_gone",
                   "outbox names %s [%d], which this worker no longer has; "
                   "output dropped",
                   r->topic, (int)r->partition);
            continue;
        }
        if (rec_add(rt, (int)(it - rt->items), t, r->key.data, r->key.len,
                    r->value.data, r->value.len, r->id, strlen(r->id),
                    r->partition, r->scan_from) != 0) {
            rc = -1;
            break;
        }
        it->rec_n++;
    }
    return rc;
}

/* Restores an item's records from its done record. 0 / -1 (unreadable). */
static int outbox_restore(lm_runtime *rt, rt_item *it, const char *data,
                          size_t len) {
    Lastmile__V1__Internal__Outbox *ob = lastmile__v1__internal__outbox__unpack(
        NULL, len, (const uint8_t *)data);
    if (!ob)
        return -1;
    int rc = records_restore(rt, it, ob->records, ob->n_records);
    lastmile__v1__internal__outbox__free_unpacked(ob, NULL);
    return rc;
}

/* ------------------------------------------- fences (LM_DEDUPE_BY_OFFSET)
 *
 * A worker whose input only lastmile's runtime writes knows a redelivery
 * by its offset. The partition's fence holds the next offset to apply and
 * the outboxes of the inputs whose outputs may not all be acknowledged.
 * Which are those? A batch is produced and acknowledged before the next
 * one is read, and input is committed only after that, so a batch that
 * starts at offset s (it was fetched from a committed offset, or right
 * after this process's previous batch) knows every input below s is
 * acknowledged. A batch that applies input from the partition rewrites
 * its fence with its own inputs' outboxes (the recovered ones with the
 * outboxes they were recovered from); one that only recovers leaves it. */

static int by_offset(const lm_runtime *rt) {
    return rt->w->dedupe == LM_DEDUPE_BY_OFFSET;
}

static void fences_forget(lm_runtime *rt) {
    for (int f = 0; f < rt->n_fences; f++) {
        if (rt->fence_prev[f])
            lastmile__v1__internal__partition_fence__free_unpacked(
                rt->fence_prev[f], NULL);
        rt->fence_prev[f] = NULL;
    }
}

/* The next offset to apply on fence f's partition: below it, input was
 * applied before. */
static int64_t fence_next(const lm_runtime *rt, int f) {
    return rt->fence_prev[f] ? rt->fence_prev[f]->next_offset : 0;
}

/* 1 when the partition's log ends below `next`: its topic was deleted and
 * created again, so the fence speaks of input that no longer exists. The
 * consumer's cached watermark first; the broker is asked only when that
 * says so. */
static int fence_ahead_of_log(lm_runtime *rt, int32_t partition, int64_t next) {
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(rt->consumer, rt->input_topic, partition,
                                       &lo, &hi) != 0 ||
        hi < 0 || next <= hi)
        return 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
        rt->consumer, rt->input_topic, partition, &lo, &hi, RT_META_TIMEOUT_MS);
    if (e) {
        lm_log(LM_LOG_WARN, "fence_check_failed",
               "%s [%d]: the fence says offsets below %lld were applied, "
               "past the log end this consumer last saw, and the broker "
               "could not be asked (%s); taking the fence as it is",
               rt->input_topic, (int)partition, (long long)next,
               rd_kafka_err2str(e));
        return 0;
    }
    return next > hi;
}

/* Reads the fences round trip 1 fetched (the MGET reply). A fence that is
 * not a PartitionFence, or is ahead of its log, is logged and taken as
 * empty: its partition's input is decided as new. */
static void fences_read(lm_runtime *rt, const redisReply *mget) {
    char key[LM_TOPIC_MAX + 96];
    fences_forget(rt);
    for (int f = 0; f < rt->n_fences; f++) {
        size_t len = 0;
        const char *v = lm_reply_str(mget->element[f], &len);
        if (!v)
            continue;
        Lastmile__V1__Internal__PartitionFence *pf =
            lastmile__v1__internal__partition_fence__unpack(NULL, len,
                                                            (const uint8_t *)v);
        fence_key(rt, rt->fences[f], key, sizeof(key));
        if (!pf) {
            lm_log(LM_LOG_ERROR, "fence_unreadable",
                   "%s does not hold a readable fence (%zu bytes); input "
                   "from its partition is decided as new. Delete the key if "
                   "it was not written by lastmile %s",
                   key, len, rt->w->name);
            continue;
        }
        if (rt->fence_first[f] < pf->next_offset &&
            fence_ahead_of_log(rt, rt->fences[f], pf->next_offset)) {
            lm_log(LM_LOG_WARN, "fence_ahead_of_log",
                   "%s says input below offset %lld was applied, but the "
                   "partition ends before it: the topic was created again. "
                   "Its input is decided as new",
                   key, (long long)pf->next_offset);
            lastmile__v1__internal__partition_fence__free_unpacked(pf, NULL);
            continue;
        }
        rt->fence_prev[f] = pf;
    }
}

/* The fence's outputs of the input at `offset`, or NULL. */
static const Lastmile__V1__Internal__FencedInput *
fence_find(const Lastmile__V1__Internal__PartitionFence *pf, int64_t offset) {
    size_t lo = 0, hi = pf ? pf->n_inputs : 0;
    while (lo < hi) { /* inputs are in increasing offset order */
        size_t mid = lo + (hi - lo) / 2;
        if (pf->inputs[mid]->offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < (pf ? pf->n_inputs : 0) && pf->inputs[lo]->offset == offset
               ? pf->inputs[lo]
               : NULL;
}

/* Appends fence `f` as this batch leaves it to rt->fence_bytes: the next
 * offset after the batch's last on the partition, and the outboxes of the
 * batch's inputs there. Written only where the batch applies input (see
 * write_round_trip), so that offset is past every input of the fence it
 * replaces, and none of that fence's outboxes is kept: those inputs are
 * all in this batch (recovered, with their outboxes) or were acknowledged
 * before it began. 0 / -1 (OOM). */
static int fence_pack(lm_runtime *rt, int f, int64_t now_ms) {
    size_t n_in = 0, n_recs = 0;
    for (size_t i = 0; i < rt->n_items; i++) {
        const rt_item *it = &rt->items[i];
        if (it->fence == f && it->kind != ITEM_DUP && it->rec_n) {
            n_in++;
            n_recs += it->rec_n;
        }
    }
    Lastmile__V1__Internal__FencedInput *in = calloc(n_in + 1, sizeof(*in));
    Lastmile__V1__Internal__FencedInput **inp = calloc(n_in + 1, sizeof(*inp));
    Lastmile__V1__Internal__OutboxRecord *rr = calloc(n_recs + 1, sizeof(*rr));
    Lastmile__V1__Internal__OutboxRecord **rp = calloc(n_recs + 1, sizeof(*rp));
    int rc = -1;
    if (!in || !inp || !rr || !rp)
        goto out;
    size_t ni = 0, nr = 0;
    for (size_t i = 0; i < rt->n_items; i++) {
        const rt_item *it = &rt->items[i];
        if (it->fence != f || it->kind == ITEM_DUP || !it->rec_n)
            continue;
        lastmile__v1__internal__fenced_input__init(&in[ni]);
        in[ni].offset = it->rkm->offset;
        in[ni].records = rp + nr;
        in[ni].n_records = it->rec_n;
        for (size_t k = 0; k < it->rec_n; k++, nr++) {
            record_fill(rt, &rt->recs[it->rec_first + k], &rr[nr]);
            rp[nr] = &rr[nr];
        }
        inp[ni] = &in[ni];
        ni++;
    }
    Lastmile__V1__Internal__PartitionFence pf =
        LASTMILE__V1__INTERNAL__PARTITION_FENCE__INIT;
    pf.next_offset = rt->fence_last[f] + 1;
    pf.n_inputs = ni;
    pf.inputs = inp;
    pf.written_at_ms = now_ms;
    rc = pb_pack_append(&pf.base, &rt->fence_bytes);
out:
    free(in);
    free(inp);
    free(rr);
    free(rp);
    return rc;
}

/* 1 when the record was restored from the outbox of an item handled
 * before (only such items have records that were not just decided). */
static int rec_recovering(const lm_runtime *rt, const rt_rec *r) {
    return r->item >= 0 && rt->items[r->item].kind == ITEM_DONE_BEFORE;
}

/* For records in state 0 belonging to recovered items: reads their
 * partitions from the smallest scan_from to the end, and marks each record
 * whose id is already there (state 2). Runs only after a crash or an
 * upstream duplicate, so simplicity wins over speed here. */
static int recover_scan(lm_runtime *rt) {
    char err[512];
    rd_kafka_conf_t *conf =
        lm_kafka_conf(&rt->s, LM_KAFKA_READER, NULL, err, sizeof(err));
    if (!conf)
        return -1;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        return -1;
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(8);
    size_t wanted = 0;
    for (size_t i = 0; i < rt->n_recs; i++) {
        rt_rec *r = &rt->recs[i];
        if (!rec_recovering(rt, r) || r->state != 0)
            continue;
        wanted++;
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
            parts, rt->topics[r->topic].name, r->partition);
        if (!tp) {
            tp = rd_kafka_topic_partition_list_add(
                parts, rt->topics[r->topic].name, r->partition);
            tp->offset = r->scan_from;
        } else if (r->scan_from < tp->offset) {
            tp->offset = r->scan_from;
        }
    }
    int rc = 0;
    if (wanted == 0)
        goto out;
    /* the end of each partition now; read up to it */
    int64_t *ends = calloc((size_t)parts->cnt, sizeof(int64_t));
    int remaining = 0;
    for (int i = 0; i < parts->cnt && ends; i++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, parts->elems[i].topic,
                                             parts->elems[i].partition, &lo,
                                             &hi, 5000) != 0) {
            rc = -1;
            break;
        }
        if (parts->elems[i].offset < lo)
            parts->elems[i].offset = lo;
        ends[i] = hi;
        if (parts->elems[i].offset < hi)
            remaining++;
    }
    if (!ends || rc != 0) {
        free(ends);
        rc = -1;
        goto out;
    }
    rd_kafka_assign(rk, parts);
    int64_t deadline = lm_clock_mono_ms() + RT_RECOVER_TIMEOUT_MS;
    size_t scanned = 0;
    while (remaining > 0 && lm_clock_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        scanned++;
        const char *tn = rd_kafka_topic_name(m->rkt);
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].partition == m->partition &&
                strcmp(parts->elems[i].topic, tn) == 0 &&
                m->offset + 1 >= ends[i] && ends[i] >= 0) {
                ends[i] = -1; /* reached */
                remaining--;
            }
        rd_kafka_headers_t *hdrs = NULL;
        const void *val = NULL;
        size_t vlen = 0;
        if (rd_kafka_message_headers(m, &hdrs) == 0 &&
            rd_kafka_header_get_last(hdrs, "lm-id", &val, &vlen) == 0) {
            for (size_t i = 0; i < rt->n_recs; i++) {
                rt_rec *r = &rt->recs[i];
                if (r->state == 0 && rec_recovering(rt, r) &&
                    r->partition == m->partition && r->id_len == vlen &&
                    memcmp(rt->recbuf.data + r->id_off, val, vlen) == 0 &&
                    strcmp(rt->topics[r->topic].name, tn) == 0)
                    r->state = 2;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (remaining > 0) {
        lm_log(LM_LOG_ERROR, "recover_timeout",
               "could not read back %d partition(s) in time", remaining);
        rc = -1;
    }
    lm_log(LM_LOG_INFO, "recovered",
           "read back %zu message(s) to verify %zu output(s) of redelivered "
           "input",
           scanned, wanted);
    free(ends);
out:
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ============================================================ one batch */

/* Round trip 2 applies a batch as ONE transaction: MULTI, every message's
 * writes followed by its done record (holding its outbox) and its index
 * commands, an INCR of the fence of every input partition in the batch,
 * EXEC. Redis applies all of it or none.
 *
 * Round trip 1 begins with WATCH on those fences, before it reads the done
 * records. If another process applied a batch from the same partition
 * between our reads and our EXEC (a replica that took the partition over
 * while this one still worked), the fence moved and EXEC refuses: the
 * batch is read again, now sees those done records, and recovers instead
 * of applying twice. A lost connection is settled the same way: EXEC is
 * all or nothing, so reading the done records again tells which it was.
 * One fence per partition instead of a WATCH per done record, and native
 * commands instead of a Lua script per message: Redis does about half the
 * work per message (docs/PERFORMANCE.md). */

static int64_t stop_deadline_ms = 0;

/* 1 once SIGTERM was seen and the drain deadline has passed. */
static int past_drain_deadline(const lm_runtime *rt) {
    if (!rt_stop)
        return 0;
    int64_t now = lm_clock_mono_ms();
    if (!stop_deadline_ms)
        stop_deadline_ms = now + rt->s.shutdown_timeout_ms;
    return now > stop_deadline_ms;
}

/* Redis errors that mean "not now" rather than "never": the batch is held
 * and tried again, nothing is dead-lettered for them. */
static int reply_error_retriable(const char *e) {
    static const char *const not_now[] = {
        "LOADING",  "BUSY",    "OOM",        "MASTERDOWN",  "READONLY",
        "TRYAGAIN", "MISCONF", "NOREPLICAS", "CLUSTERDOWN", "NOSCRIPT"};
    for (size_t i = 0; i < sizeof(not_now) / sizeof(not_now[0]); i++)
        if (strncmp(e, not_now[i], strlen(not_now[i])) == 0)
            return 1;
    return 0;
}

/* Sends rt->pipe until Redis answers; replies into rt->replies.
 * 0, or -1 if the drain deadline passed (abandon the batch). */
static int redis_roundtrip(lm_runtime *rt) {
    char err[512];
    if (grow((void **)&rt->replies, &rt->cap_replies, rt->pipe.n + 1,
             sizeof(redisReply *)) != 0)
        return -1;
    int64_t warned = 0;
    for (;;) {
        int rc =
            lm_redis_exec(rt->redis, &rt->pipe, rt->replies, err, sizeof(err));
        if (rc == 0) {
            /* a server replaying its AOF or one that lost our scripts */
            int again = 0;
            for (size_t i = 0; i < rt->pipe.n; i++) {
                redisReply *r = rt->replies[i];
                if (r && r->type == REDIS_REPLY_ERROR &&
                    reply_error_retriable(r->str)) {
                    snprintf(err, sizeof(err), "redis: %s", r->str);
                    again = 1;
                    break;
                }
            }
            if (!again) {
                if (!atomic_load(&rt->ready_redis))
                    lm_log(LM_LOG_INFO, "redis_back", "redis answers again");
                atomic_store(&rt->ready_redis, 1);
                lm_histogram_observe(rt->m_redis_rtt,
                                     lm_redis_last_rtt_ms(rt->redis) / 1e3);
                return 0;
            }
            lm_redis_replies_free(rt->replies, rt->pipe.n);
            lm_redis_disconnect(rt->redis);
        } else if (rc < 0 && rc != LM_REDIS_RETRY) {
            lm_counter_add(rt->m_errors_fatal, 1);
            lm_log(LM_LOG_ERROR, "redis_refused", "%s", err);
        }
        lm_counter_add(rt->m_errors_retriable, 1);
        atomic_store(&rt->ready_redis, 0);
        int64_t now = lm_clock_mono_ms();
        if (now - warned > 5000) {
            lm_log(LM_LOG_WARN, "redis_unavailable",
                   "%s; holding the batch (nothing is committed)", err);
            warned = now;
        }
        if (past_drain_deadline(rt))
            return -1;
        usleep(50 * 1000);
    }
}

static void item_ident_from_coordinates(const lm_runtime *rt, rt_item *it) {
    snprintf(it->ident.tag, sizeof(it->ident.tag), "%.80s:%d", rt->input_topic,
             (int)it->rkm->partition);
    snprintf(it->ident.id, sizeof(it->ident.id), "%s:%d:%lld", rt->input_topic,
             (int)it->rkm->partition, (long long)it->rkm->offset);
}

/* Drops what handle produced for an item and gives it a dead letter. */
static int item_dead_letter(lm_runtime *rt, rt_item *it, int64_t now_ms) {
    if (it->rec_first + it->rec_n == rt->n_recs) {
        /* still deciding (step 4): the item's outputs are the newest */
        rt->n_recs = it->rec_first;
        rt->writes.len = it->write_off;
        rt->n_counts = it->count_first;
        rt->index.buf.len = it->index_off;
        rt->index.n -= it->index_n;
    } else {
        /* after the writes (step 5): keep later items' records intact */
        for (size_t k = 0; k < it->rec_n; k++)
            rt->recs[it->rec_first + k].state = 2;
        for (size_t k = 0; k < it->count_n; k++)
            rt->counts[it->count_first + k].value = 0;
    }
    it->rec_first = rt->n_recs;
    it->rec_n = 0;
    it->write_n = 0;
    it->count_n = 0;
    it->index_len = it->index_n = 0;

    Lastmile__V1__DeadLetter dl = LASTMILE__V1__DEAD_LETTER__INIT;
    char dl_id[LM_ID_MAX + 64];
    snprintf(dl_id, sizeof(dl_id), "%s:%s:%d:%lld", rt->w->name,
             rt->input_topic, (int)it->rkm->partition,
             (long long)it->rkm->offset);
    dl.dead_letter_id = dl_id;
    dl.original.data = it->rkm->payload;
    dl.original.len = it->rkm->payload ? it->rkm->len : 0;
    if (dl.original.len > LM_DLQ_ORIGINAL_MAX) {
        size_t rl = strnlen(it->reason, sizeof(it->reason));
        snprintf(it->reason + rl, sizeof(it->reason) - rl,
                 " (original: first %d of %zu bytes kept)", LM_DLQ_ORIGINAL_MAX,
                 dl.original.len);
        dl.original.len = LM_DLQ_ORIGINAL_MAX;
    }
    lm_utf8_sanitize(it->reason);
    dl.original_key.data = it->rkm->key;
    dl.original_key.len = it->rkm->key ? it->rkm->key_len : 0;
    dl.topic = rt->input_topic;
    dl.partition = it->rkm->partition;
    dl.offset = it->rkm->offset;
    dl.reason = it->reason[0] ? it->reason : "rejected";
    dl.worker = (char *)rt->w->name;
    dl.failed_at_ms = now_ms;
    size_t len;
    uint8_t *buf = lm_pb_pack(&dl.base, &len);
    if (!buf)
        return -1;
    int rc = rec_add(rt, (int)(it - rt->items), rt->dlq_topic,
                     it->rkm->key ? it->rkm->key : "",
                     it->rkm->key ? it->rkm->key_len : 0, buf, len, dl_id,
                     strlen(dl_id), -1, -1);
    free(buf);
    if (rc == 0)
        it->rec_n = 1;
    lm_counter_add(rt->m_dead, 1);
    lm_log(LM_LOG_WARN, "dead_letter", "%s [%d] @%lld → %s: %s",
           rt->input_topic, (int)it->rkm->partition, (long long)it->rkm->offset,
           rt->topics[rt->dlq_topic].name, dl.reason);
    return rc;
}

/* Appends SET of an item's done record, holding its outbox (the item's
 * records as they are now), with the dedupe TTL. 0 / -1 (OOM). */
static int pipe_done_record(lm_runtime *rt, const rt_item *it, int64_t now_ms) {
    char key[LM_ID_MAX + LM_TAG_MAX + 64], ttl[LM_FMT_I64_MAX];
    lm_pipe *p = &rt->pipe;
    done_key(rt, &it->ident, key, sizeof(key));
    if (outbox_pack(rt, it, &rt->obbuf, now_ms) != 0)
        return -1;
    size_t tl = lm_fmt_i64(ttl, rt->s.dedupe_ttl_s * 1000);
    if (lm_pipe_begin(p, 5) != 0 || lm_pipe_arg(p, "SET", 3) != 0 ||
        lm_pipe_arg(p, key, strlen(key)) != 0 ||
        lm_pipe_arg(p, rt->obbuf.data, rt->obbuf.len) != 0 ||
        lm_pipe_arg(p, "PX", 2) != 0 || lm_pipe_arg(p, ttl, tl) != 0)
        return -1;
    lm_pipe_end(p);
    return 0;
}

/* Appends an item's part of the write transaction to rt->pipe: its writes
 * (stored by lm_out_write as [argc][len arg]...), SET of its done record
 * holding the outbox (by id; by offset the outbox goes in the fence), then
 * its index commands. Sets apply_first/apply_n
 * (positions among the transaction's commands). 0 / -1 (OOM). */
static int pipe_item_apply(lm_runtime *rt, rt_item *it, size_t *queued,
                           int64_t now_ms) {
    lm_pipe *p = &rt->pipe;
    it->apply_first = *queued;
    const char *w = rt->writes.data + it->write_off;
    for (size_t c = 0; c < it->write_n; c++) {
        uint32_t n;
        memcpy(&n, w, sizeof(n));
        w += sizeof(n);
        if (lm_pipe_begin(p, n) != 0)
            return -1;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t len;
            memcpy(&len, w, sizeof(len));
            w += sizeof(len);
            if (lm_pipe_arg(p, w, len) != 0)
                return -1;
            w += len;
        }
        lm_pipe_end(p);
    }
    if (!by_offset(rt) && pipe_done_record(rt, it, now_ms) != 0)
        return -1;
    if (it->index_n) {
        if (lm_buf_append(&p->buf, rt->index.buf.data + it->index_off,
                          it->index_len) < 0)
            return -1;
        p->n += it->index_n;
    }
    it->apply_n = it->write_n + (by_offset(rt) ? 0 : 1) + it->index_n;
    *queued += it->apply_n;
    return 0;
}

static void batch_release(lm_runtime *rt) {
    fences_forget(rt);
    for (size_t i = 0; i < rt->n_items; i++) {
        if (rt->items[i].event)
            protobuf_c_message_free_unpacked(rt->items[i].event, NULL);
        rd_kafka_message_destroy(rt->items[i].rkm);
    }
    rt->n_items = 0;
    rt->n_recs = 0;
    rt->n_counts = 0;
    lm_buf_reset(&rt->recbuf);
    lm_buf_reset(&rt->writes);
    lm_pipe_reset(&rt->index);
}

/* The series for a business count, from the cache or the registry. */
static void *series_for(lm_runtime *rt, const rt_count *c) {
    for (int i = 0; i < rt->n_series; i++)
        if (strcmp(rt->series[i].family, c->family) == 0 &&
            strcmp(rt->series[i].labels, c->labels) == 0)
            return rt->series[i].series;
    void *series =
        c->histogram
            ? (void *)lm_metrics_histogram(rt->metrics, c->family, c->family,
                                           NULL, lm_metrics_business_buckets,
                                           lm_metrics_business_buckets_n)
            : (void *)lm_metrics_counter(rt->metrics, c->family, c->family,
                                         c->labels[0] ? c->labels : NULL);
    if (series && rt->n_series < RT_SERIES_CACHE) {
        struct rt_series *e = &rt->series[rt->n_series++];
        memcpy(e->family, c->family, sizeof(e->family));
        memcpy(e->labels, c->labels, sizeof(e->labels));
        e->series = series;
    }
    return series;
}

static void apply_counts(lm_runtime *rt) {
    for (size_t i = 0; i < rt->n_counts; i++) {
        rt_count *c = &rt->counts[i];
        void *series = series_for(rt, c);
        if (c->histogram)
            lm_histogram_observe(series, c->value);
        else
            lm_counter_add(series, (uint64_t)c->value);
    }
}

static int commit_batch(lm_runtime *rt) {
    rd_kafka_topic_partition_list_t *offs =
        rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < rt->n_items; i++) {
        rd_kafka_message_t *m = rt->items[i].rkm;
        if (rt->items[i].kind0 == ITEM_LATER)
            continue; /* committed by the batch that decides it */
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
            offs, rd_kafka_topic_name(m->rkt), m->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(
                offs, rd_kafka_topic_name(m->rkt), m->partition);
        if (tp->offset < m->offset + 1)
            tp->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(rt->consumer, offs, 0);
    rd_kafka_topic_partition_list_destroy(offs);
    if (e) {
        lm_counter_add(rt->m_errors_retriable, 1);
        lm_log(LM_LOG_WARN, "commit_failed",
               "commit: %s; the batch will be redelivered and recovered",
               rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

static double since_ms(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
           (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Empties rt->dupslots, an open-addressing table of item indexes sized
 * for the batch. Its capacity (a power of two), or 0 (OOM). */
static size_t dupslots_reset(lm_runtime *rt) {
    size_t cap = 16;
    while (cap < 2 * rt->n_items)
        cap <<= 1;
    if (grow((void **)&rt->dupslots, &rt->cap_dupslots, cap, sizeof(size_t)) !=
        0)
        return 0;
    memset(rt->dupslots, 0xff, cap * sizeof(size_t));
    return cap;
}

/* Marks every item whose idempotency id an earlier item of the batch has
 * as ITEM_DUP: one transaction must not apply the same writes twice.
 * 0 / -1 (OOM). */
static int mark_duplicates(lm_runtime *rt) {
    size_t cap = dupslots_reset(rt);
    if (!cap)
        return -1;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        size_t h = (size_t)lm_hash64_str(it->ident.id,
                                         lm_hash64_str(it->ident.tag, 0)) &
                   (cap - 1);
        for (;; h = (h + 1) & (cap - 1)) {
            size_t j = rt->dupslots[h];
            if (j == SIZE_MAX) {
                rt->dupslots[h] = i;
                break;
            }
            if (strcmp(rt->items[j].ident.id, it->ident.id) == 0 &&
                strcmp(rt->items[j].ident.tag, it->ident.tag) == 0) {
                it->kind0 = ITEM_DUP;
                break;
            }
        }
    }
    return 0;
}

/* Marks ITEM_LATER every item whose hash tag an earlier item of the batch
 * has (another input for the same lead: an answer and its timer), and
 * every item after it on its partition, which must keep its order. Both
 * would be decided from the same reads, so the later one would not see
 * what the earlier one decided (a lead closed by its answer would still
 * get its next touch). Left for the next batch, it reads that state. The
 * batch's first item is never left, so every batch makes progress.
 * Rejected input reads no state and takes no part. 0 / -1 (OOM). */
static int mark_later(lm_runtime *rt) {
    size_t cap = dupslots_reset(rt);
    if (!cap)
        return -1;
    char later[RT_PARTITIONS_MAX] = {0};
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (later[it->fence]) {
            it->kind = it->kind0 = ITEM_LATER;
            continue;
        }
        if (it->kind0 != ITEM_NEW)
            continue;
        size_t h = (size_t)lm_hash64_str(it->ident.tag, 0) & (cap - 1);
        for (;; h = (h + 1) & (cap - 1)) {
            size_t j = rt->dupslots[h];
            if (j == SIZE_MAX) {
                rt->dupslots[h] = i;
                break;
            }
            if (strcmp(rt->items[j].ident.tag, it->ident.tag) == 0) {
                it->kind = it->kind0 = ITEM_LATER;
                later[it->fence] = 1;
                break;
            }
        }
    }
    return 0;
}

/* Seeks every partition with items left for the next batch back to the
 * first of them, so they are fetched again (librdkafka drops what it had
 * fetched beyond). Committed offsets stop before them (commit_batch). */
static void seek_back_later(lm_runtime *rt) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    for (size_t i = 0; i < rt->n_items; i++) {
        const rd_kafka_message_t *m = rt->items[i].rkm;
        if (rt->items[i].kind0 != ITEM_LATER)
            continue;
        if (!parts)
            parts = rd_kafka_topic_partition_list_new(4);
        const char *topic = rd_kafka_topic_name(m->rkt);
        if (!rd_kafka_topic_partition_list_find(parts, topic, m->partition))
            rd_kafka_topic_partition_list_add(parts, topic, m->partition)
                ->offset = m->offset;
    }
    if (!parts)
        return;
    rd_kafka_error_t *e =
        rd_kafka_seek_partitions(rt->consumer, parts, RT_META_TIMEOUT_MS);
    if (e) {
        /* the partition was taken away meanwhile: its next owner starts
           from the committed offset, which is where this seek pointed */
        lm_log(LM_LOG_WARN, "seek_failed", "%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    for (int k = 0; k < parts->cnt; k++)
        if (parts->elems[k].err)
            lm_log(LM_LOG_WARN, "seek_failed", "%s [%d]: %s",
                   parts->elems[k].topic, (int)parts->elems[k].partition,
                   rd_kafka_err2str(parts->elems[k].err));
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Forgets what an attempt decided, so the batch can be decided again. */
static void attempt_reset(lm_runtime *rt) {
    fences_forget(rt);
    rt->n_recs = 0;
    rt->n_counts = 0;
    lm_buf_reset(&rt->recbuf);
    lm_buf_reset(&rt->writes);
    lm_pipe_reset(&rt->index);
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        it->kind = it->kind0;
        if (it->kind0 != ITEM_REJECT)
            it->reason[0] = '\0';
        it->rec_first = it->rec_n = 0;
        it->write_off = it->write_n = 0;
        it->write_failed = 0;
        it->count_first = it->count_n = 0;
        it->index_off = it->index_len = it->index_n = 0;
        it->apply_first = it->apply_n = 0;
        it->plan_first = it->plan_n = 0;
    }
}

/* Round trip 1: WATCH of the batch's fences, MGET of every done record
 * (or of the fences, by offset), the batch-wide reads, then every plan.
 * Replies: [0] WATCH, [1] MGET, then plan_batch's, then the plans'.
 * 0, or -1: abandon. */
static int plan_round_trip(lm_runtime *rt, int64_t now_ms) {
    lm_pipe *p = &rt->pipe;
    char key[LM_ID_MAX + LM_TAG_MAX + 64];
    lm_pipe_reset(p);
    if (lm_pipe_begin(p, 1 + (size_t)rt->n_fences) != 0 ||
        lm_pipe_arg(p, "WATCH", 5) != 0)
        return -1;
    for (int f = 0; f < rt->n_fences; f++) {
        fence_key(rt, rt->fences[f], key, sizeof(key));
        if (lm_pipe_arg(p, key, strlen(key)) != 0)
            return -1;
    }
    lm_pipe_end(p);
    size_t n_get = by_offset(rt) ? (size_t)rt->n_fences : rt->n_items;
    if (lm_pipe_begin(p, 1 + n_get) != 0 || lm_pipe_arg(p, "MGET", 4) != 0)
        return -1;
    for (size_t i = 0; i < n_get; i++) {
        if (by_offset(rt))
            fence_key(rt, rt->fences[i], key, sizeof(key));
        else
            done_key(rt, &rt->items[i].ident, key, sizeof(key));
        if (lm_pipe_arg(p, key, strlen(key)) != 0)
            return -1;
    }
    lm_pipe_end(p);
    if (rt->w->plan_batch) {
        lm_plan plan = {p};
        if (rt->w->plan_batch(rt->w->ctx, &plan) != 0) {
            lm_log(LM_LOG_ERROR, "plan_batch_failed",
                   "could not plan the batch-wide reads (out of memory?)");
            return -1;
        }
    }
    rt->batch_plan_n = p->n - RT_REPLY_BATCH_PLAN;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        it->plan_first = p->n;
        if (it->kind == ITEM_NEW && rt->w->plan) {
            lm_plan plan = {p};
            if (rt->w->plan(rt->w->ctx, it->event, &it->ident, now_ms, &plan) !=
                0) {
                snprintf(it->reason, sizeof(it->reason),
                         "could not plan the state reads for this input");
                it->kind = it->kind0 = ITEM_REJECT;
            }
        }
        it->plan_n = p->n - it->plan_first;
    }
    if (redis_roundtrip(rt) != 0)
        return -1;
    const redisReply *mget = rt->replies[1];
    if (!mget || mget->type != REDIS_REPLY_ARRAY || mget->elements != n_get) {
        lm_log(LM_LOG_ERROR, "redis_protocol",
               "MGET of %zu %s did not answer an array of %zu", n_get,
               by_offset(rt) ? "fences" : "done records", n_get);
        lm_redis_replies_free(rt->replies, p->n);
        return -1;
    }
    return 0;
}

/* Decides every item from round trip 1's replies (which it frees):
 * recovery of items done before, handle for new ones, dead letters for
 * rejected ones. 0 / -1 (OOM: abandon). */
static int decide(lm_runtime *rt, int first_attempt, int64_t now_ms,
                  int64_t real_ms, int *any_recovering) {
    size_t n_replies = rt->pipe.n;
    const redisReply *mget = rt->replies[1];
    int64_t max_wait = 0;
    int rc = 0;
    *any_recovering = 0;
    if (rt->w->begin_batch) {
        lm_reads batch_reads = {rt->replies + RT_REPLY_BATCH_PLAN,
                                rt->batch_plan_n};
        rt->w->begin_batch(rt->w->ctx, &batch_reads);
    }
    if (by_offset(rt))
        fences_read(rt, mget);
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        size_t dlen = 0;
        const char *done =
            by_offset(rt) ? NULL : lm_reply_str(mget->element[i], &dlen);
        it->rec_first = rt->n_recs;
        it->write_off = rt->writes.len;
        it->count_first = rt->n_counts;
        it->index_off = rt->index.buf.len;
        if (it->kind == ITEM_DUP || it->kind == ITEM_LATER)
            continue;
        if (by_offset(rt) && it->rkm->offset < fence_next(rt, it->fence)) {
            it->kind = ITEM_DONE_BEFORE;
            const Lastmile__V1__Internal__FencedInput *fi =
                fence_find(rt->fence_prev[it->fence], it->rkm->offset);
            if (!fi) /* acknowledged before this batch began */
                continue;
            if (records_restore(rt, it, fi->records, fi->n_records) != 0) {
                rc = -1;
                break;
            }
            *any_recovering = 1;
            continue;
        }
        if (done) {
            it->kind = ITEM_DONE_BEFORE;
            if (outbox_restore(rt, it, done, dlen) == 0)
                *any_recovering = 1;
            else
                lm_log(LM_LOG_ERROR, "outbox_unreadable",
                       "the done record of %s does not hold a readable "
                       "outbox; its outputs cannot be checked and are not "
                       "produced again",
                       it->ident.id);
            continue;
        }
        if (it->kind == ITEM_NEW) {
            rt_out impl = {rt, it};
            lm_out out = lm_out_make(&rt_out_ops, &impl);
            lm_msg msg = {
                .event = it->event,
                .ident = &it->ident,
                .reads = {rt->replies + it->plan_first, it->plan_n},
                .now_ms = now_ms,
                .kafka_ts_ms = rd_kafka_message_timestamp(it->rkm, NULL),
            };
            msg.wait_ms = msg.kafka_ts_ms > 0 && real_ms > msg.kafka_ts_ms
                              ? real_ms - msg.kafka_ts_ms
                              : 0;
            if (first_attempt)
                lm_histogram_observe(rt->m_wait, (double)msg.wait_ms / 1e3);
            if (msg.wait_ms > max_wait)
                max_wait = msg.wait_ms;
            int hrc = rt->w->handle(rt->w->ctx, &msg, &out);
            if ((hrc != 0 || lm_out_failed(&out)) && it->kind == ITEM_NEW) {
                snprintf(it->reason, sizeof(it->reason),
                         "the %s worker could not handle this input",
                         rt->w->name);
                it->kind = ITEM_REJECT;
            }
        }
        if (it->kind == ITEM_REJECT && item_dead_letter(rt, it, now_ms) != 0)
            rc = -1;
    }
    lm_redis_replies_free(rt->replies, n_replies);
    atomic_store(&rt->last_max_wait, max_wait);
    atomic_store(&rt->last_batch_mono, lm_clock_mono_ms());
    return rc;
}

/* Replaces a fence's value only if it is still `old` (what this batch's
 * transaction wrote): a replica that took the partition over since has
 * already recovered from it. */
static const char fence_swap_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0";

/* Appends the swap of fence `f` from what round trip 2 wrote to what the
 * batch says now. 0 / -1 (OOM). */
static int pipe_fence_swap(lm_runtime *rt, int f, int64_t now_ms) {
    char key[LM_TOPIC_MAX + 96];
    fence_key(rt, rt->fences[f], key, sizeof(key));
    size_t old_off = rt->fence_bytes_off[f];
    size_t old_len = rt->fence_bytes_off[f + 1] - old_off;
    size_t new_off = rt->fence_bytes.len;
    if (fence_pack(rt, f, now_ms) != 0)
        return -1;
    lm_pipe *p = &rt->pipe;
    if (lm_pipe_begin(p, 6) != 0 || lm_pipe_arg(p, "EVAL", 4) != 0 ||
        lm_pipe_arg(p, fence_swap_lua, sizeof(fence_swap_lua) - 1) != 0 ||
        lm_pipe_arg(p, "1", 1) != 0 || lm_pipe_arg(p, key, strlen(key)) != 0 ||
        lm_pipe_arg(p, rt->fence_bytes.data + old_off, old_len) != 0 ||
        lm_pipe_arg(p, rt->fence_bytes.data + new_off,
                    rt->fence_bytes.len - new_off) != 0)
        return -1;
    lm_pipe_end(p);
    return 0;
}

/* After a write the transaction could not apply (WRONGTYPE, say): the
 * item is dead-lettered instead, and its outbox (its done record, or its
 * partition's fence) must then hold the dead letter, or a crash now would
 * recover the outputs it never earned. A rare path: its own round trip.
 * 0 / -1 (abandon). */
static int fix_failed_items(lm_runtime *rt, int64_t now_ms) {
    lm_pipe *p = &rt->pipe;
    lm_pipe_reset(p);
    char failed_fence[RT_PARTITIONS_MAX] = {0};
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (!it->write_failed)
            continue;
        it->kind = ITEM_REJECT;
        if (item_dead_letter(rt, it, now_ms) != 0)
            return -1;
        if (by_offset(rt))
            failed_fence[it->fence] = 1;
        else if (pipe_done_record(rt, it, now_ms) != 0)
            return -1;
    }
    for (int f = 0; f < rt->n_fences; f++)
        if (failed_fence[f] && pipe_fence_swap(rt, f, now_ms) != 0)
            return -1;
    if (p->n == 0)
        return 0;
    if (redis_roundtrip(rt) != 0)
        return -1;
    int rc = 0;
    for (size_t k = 0; by_offset(rt) && k < p->n; k++) {
        const redisReply *r = rt->replies[k];
        if (!r || r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
            lm_log(LM_LOG_ERROR, "fence_moved",
                   "could not record a dead letter in its partition's fence "
                   "(%s): another replica took the partition over; leaving "
                   "the batch to it",
                   r && r->type == REDIS_REPLY_ERROR ? r->str : "it moved");
            rc = -1;
        }
    }
    lm_redis_replies_free(rt->replies, p->n);
    return rc;
}

enum { WRITE_APPLIED = 0, WRITE_AGAIN = 1, WRITE_ABANDON = -1 };

/* Round trip 2: the batch's writes in one MULTI/EXEC (see the top of this
 * section). WRITE_AGAIN when the batch must be read and decided again: a
 * watched done record changed, the connection was lost, Redis said "not
 * now", or a write was refused before EXEC (that item is rejected for
 * good and the others go again). */
static int write_round_trip(lm_runtime *rt, int64_t now_ms) {
    lm_pipe *p = &rt->pipe;
    char err[512];
    size_t queued = 0;
    lm_pipe_reset(p);
    if (lm_pipe_cmd_strs(p, "MULTI", NULL) != 0)
        return WRITE_ABANDON;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (it->kind == ITEM_DONE_BEFORE || it->kind == ITEM_DUP ||
            it->kind == ITEM_LATER)
            continue;
        if (pipe_item_apply(rt, it, &queued, now_ms) != 0)
            return WRITE_ABANDON;
    }
    /* by offset, a fence is written where the batch applies input: a
       partition whose input is all recovered keeps its fence as it is */
    char applies[RT_PARTITIONS_MAX] = {0};
    int n_applies = 0;
    for (size_t i = 0; by_offset(rt) && i < rt->n_items; i++) {
        const rt_item *it = &rt->items[i];
        if (it->kind != ITEM_DONE_BEFORE && it->kind != ITEM_DUP &&
            it->kind != ITEM_LATER && !applies[it->fence]) {
            applies[it->fence] = 1;
            n_applies++;
        }
    }
    if (by_offset(rt) ? n_applies == 0 : queued == 0)
        return WRITE_APPLIED; /* only recovery: nothing to write */
    lm_buf_reset(&rt->fence_bytes);
    for (int f = 0; f < rt->n_fences; f++) {
        char key[LM_TOPIC_MAX + 96];
        fence_key(rt, rt->fences[f], key, sizeof(key));
        rt->fence_bytes_off[f] = rt->fence_bytes_off[f + 1] =
            rt->fence_bytes.len;
        if (!by_offset(rt)) {
            if (lm_pipe_cmd_strs(p, "INCR", key, NULL) != 0)
                return WRITE_ABANDON;
        } else if (!applies[f]) {
            continue;
        } else {
            if (fence_pack(rt, f, now_ms) != 0)
                return WRITE_ABANDON;
            rt->fence_bytes_off[f + 1] = rt->fence_bytes.len;
            size_t len = rt->fence_bytes.len - rt->fence_bytes_off[f];
            if (lm_pipe_begin(p, 3) != 0 || lm_pipe_arg(p, "SET", 3) != 0 ||
                lm_pipe_arg(p, key, strlen(key)) != 0 ||
                lm_pipe_arg(p, rt->fence_bytes.data + rt->fence_bytes_off[f],
                            len) != 0)
                return WRITE_ABANDON;
            lm_pipe_end(p);
        }
        queued++;
    }
    if (lm_pipe_cmd_strs(p, "EXEC", NULL) != 0 ||
        grow((void **)&rt->replies, &rt->cap_replies, p->n + 1,
             sizeof(redisReply *)) != 0)
        return WRITE_ABANDON;
    static int raced = 0;
    if (crash_point() == RACE_REPLICA_FIRST && !raced) {
        raced = 1;
        lm_redis *other = lm_redis_new(rt->s.redis_url, rt->s.redis_timeout_ms,
                                       err, sizeof(err));
        if (other &&
            lm_redis_exec(other, p, rt->replies, err, sizeof(err)) == 0)
            lm_redis_replies_free(rt->replies, p->n);
        lm_redis_destroy(other);
    }
    int rc = lm_redis_exec(rt->redis, p, rt->replies, err, sizeof(err));
    if (rc != 0) {
        lm_counter_add(rc == LM_REDIS_RETRY ? rt->m_errors_retriable
                                            : rt->m_errors_fatal,
                       1);
        atomic_store(&rt->ready_redis, 0);
        lm_log(LM_LOG_WARN, "redis_unavailable",
               "%s; the batch's writes are read back and tried again", err);
        return WRITE_AGAIN;
    }
    lm_histogram_observe(rt->m_redis_rtt,
                         lm_redis_last_rtt_ms(rt->redis) / 1e3);
    redisReply **r = rt->replies;
    size_t n = p->n;
    int result = WRITE_APPLIED;
    const redisReply *exec = r[n - 1];
    if (!r[0] || r[0]->type == REDIS_REPLY_ERROR) {
        lm_log(LM_LOG_WARN, "redis_not_now", "MULTI: %s",
               r[0] ? r[0]->str : "no reply");
        result = WRITE_AGAIN;
        goto out;
    }
    /* refused before EXEC: "not now" holds the batch; anything else is
       this item's own fault, and it is rejected for good */
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        for (size_t k = 0; k < it->apply_n; k++) {
            const redisReply *q = r[1 + it->apply_first + k];
            if (!q || q->type != REDIS_REPLY_ERROR)
                continue;
            result = WRITE_AGAIN;
            if (reply_error_retriable(q->str)) {
                lm_log(LM_LOG_WARN, "redis_not_now", "%s", q->str);
            } else if (it->kind0 != ITEM_REJECT) {
                lm_counter_add(rt->m_errors_fatal, 1);
                lm_log(LM_LOG_ERROR, "state_write_failed",
                       "a write of %s was refused: %s", it->ident.id, q->str);
                snprintf(it->reason, sizeof(it->reason),
                         "state write refused: %.400s", q->str);
                it->kind0 = ITEM_REJECT;
            } else { /* even its dead letter's done record: hold, loudly */
                lm_counter_add(rt->m_errors_fatal, 1);
                lm_log(LM_LOG_ERROR, "state_write_failed",
                       "the done record of rejected input %s was refused: "
                       "%s; holding the batch",
                       it->ident.id, q->str);
            }
            break;
        }
    }
    if (result == WRITE_AGAIN)
        goto out;
    if (!exec || exec->type == REDIS_REPLY_NIL) {
        lm_log(LM_LOG_INFO, "batch_conflict",
               "a fence of this batch moved meanwhile (another replica "
               "applied input from its partition); reading the batch again");
        result = WRITE_AGAIN;
        goto out;
    }
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != queued) {
        lm_log(LM_LOG_WARN, "redis_not_now", "EXEC: %s",
               exec->type == REDIS_REPLY_ERROR ? exec->str
                                               : "unexpected reply");
        result = WRITE_AGAIN;
        goto out;
    }
    /* applied; a write that failed inside (WRONGTYPE) fails its item */
    int any_failed = 0;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        for (size_t k = 0; k < it->apply_n; k++) {
            const redisReply *e = exec->element[it->apply_first + k];
            if (e && e->type == REDIS_REPLY_ERROR) {
                lm_counter_add(rt->m_errors_fatal, 1);
                lm_log(LM_LOG_ERROR, "state_write_failed",
                       "applying the state of %s failed: %s", it->ident.id,
                       e->str);
                snprintf(it->reason, sizeof(it->reason),
                         "state write failed: %.400s", e->str);
                it->write_failed = 1;
                any_failed = 1;
                break;
            }
        }
    }
    lm_redis_replies_free(r, n);
    if (any_failed && fix_failed_items(rt, now_ms) != 0)
        return WRITE_ABANDON;
    return WRITE_APPLIED;
out:
    lm_redis_replies_free(r, n);
    return result;
}

/* Runs one batch. 0 ok (or nothing to do), -1 abandoned (shutdown). */
static int run_batch(lm_runtime *rt) {
    /* 1. take what is there, waiting only for the first message */
    int wait = RT_POLL_FIRST_MS;
    size_t batch_bytes = 0;
    while (rt->n_items < (size_t)rt->s.batch_max &&
           batch_bytes < RT_BATCH_BYTES_MAX) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rt->consumer, wait);
        wait = 0;
        if (!m)
            break;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                lm_log(LM_LOG_WARN, "consume_error", "%s",
                       rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->partition >= RT_PARTITIONS_MAX) { /* keeps fences[] bounded */
            lm_log(LM_LOG_ERROR, "too_many_partitions",
                   "%s has partition %d; lastmile reads at most %d "
                   "partitions of a topic. Stopping without committing",
                   rt->input_topic, (int)m->partition, RT_PARTITIONS_MAX);
            rt->fatal = 1;
            rd_kafka_message_destroy(m);
            break;
        }
        if (grow((void **)&rt->items, &rt->cap_items, rt->n_items + 1,
                 sizeof(rt_item)) != 0) {
            rd_kafka_message_destroy(m);
            break;
        }
        rt_item *it = &rt->items[rt->n_items++];
        memset(it, 0, sizeof(*it));
        it->rkm = m;
        batch_bytes += m->len + m->key_len;
    }
    if (rt->n_items == 0)
        return 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double ph[6] = {0}; /* phase ends, ms since t0, for the debug log */
    int64_t now_ms = lm_clock_now_ms();
    int64_t real_ms = lm_clock_real_ms();

    /* 2. decode and identify */
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        rd_kafka_message_t *m = it->rkm;
        it->kind = ITEM_NEW;
        if (m->len > LM_INPUT_MAX_BYTES) {
            snprintf(it->reason, sizeof(it->reason),
                     "message is %zu bytes; the limit is %d", m->len,
                     LM_INPUT_MAX_BYTES);
            it->kind = ITEM_REJECT;
        } else {
            it->event = lm_decode(rt->w->input_type, m->payload, m->len,
                                  it->reason, sizeof(it->reason));
            if (!it->event) {
                it->kind = ITEM_REJECT;
            } else if (rt->w->identify(rt->w->ctx, it->event, &it->ident,
                                       it->reason, sizeof(it->reason)) != 0) {
                it->kind = ITEM_REJECT;
            }
        }
        if (it->kind == ITEM_REJECT || !it->ident.id[0] || !it->ident.tag[0])
            item_ident_from_coordinates(rt, it);
        it->kind0 = it->kind;
    }
    rt->n_fences = 0;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        int32_t part = it->rkm->partition;
        int f = 0;
        while (f < rt->n_fences && rt->fences[f] != part)
            f++;
        if (f == rt->n_fences) { /* partition < RT_PARTITIONS_MAX (step 1) */
            rt->fences[rt->n_fences++] = part;
            rt->fence_first[f] = INT64_MAX;
            rt->fence_last[f] = -1;
            rt->fence_prev[f] = NULL;
        }
        it->fence = f;
    }
    if (mark_duplicates(rt) != 0 || mark_later(rt) != 0)
        goto abandon;
    size_t n_later = 0;
    for (size_t i = 0; i < rt->n_items; i++) { /* what this batch applies */
        rt_item *it = &rt->items[i];
        if (it->kind0 == ITEM_LATER) {
            n_later++;
            continue;
        }
        if (it->rkm->offset < rt->fence_first[it->fence])
            rt->fence_first[it->fence] = it->rkm->offset;
        if (it->rkm->offset > rt->fence_last[it->fence])
            rt->fence_last[it->fence] = it->rkm->offset;
    }
    lm_histogram_observe(rt->m_batch, (double)(rt->n_items - n_later));
    lm_counter_add(rt->m_consumed, (double)(rt->n_items - n_later));

    /* 3-5. read, decide, write; again from the reads when the write
       transaction did not apply (see write_round_trip) */
    int any_recovering = 0;
    for (int attempt = 0;; attempt++) {
        attempt_reset(rt);
        if (plan_round_trip(rt, now_ms) != 0)
            goto abandon;
        ph[0] = since_ms(&t0);
        if (decide(rt, attempt == 0, now_ms, real_ms, &any_recovering) != 0)
            goto abandon;
        ph[1] = since_ms(&t0);
        int wr = write_round_trip(rt, now_ms);
        if (wr == WRITE_APPLIED)
            break;
        if (wr == WRITE_ABANDON || past_drain_deadline(rt))
            goto abandon;
        if (attempt > 0) /* a conflict is settled at once; Redis trouble not */
            usleep((useconds_t)(attempt < 40 ? attempt : 40) * 50 * 1000);
    }

    ph[2] = since_ms(&t0);
    if (crash_point() == CRASH_AFTER_WRITES)
        _exit(137);
    /* 6. produce (after recovery read-back of redelivered outputs) */
    if (any_recovering && recover_scan(rt) != 0) {
        lm_log(LM_LOG_ERROR, "recover_failed",
               "could not verify the outputs of redelivered input");
        goto abandon;
    }
    if (produce_and_wait(rt, 0, rt->n_recs,
                         rt_stop ? (past_drain_deadline(rt), stop_deadline_ms)
                                 : 0) != 0)
        goto abandon;

    ph[3] = since_ms(&t0);
    if (crash_point() == CRASH_AFTER_PRODUCE)
        _exit(137);
    /* 7. commit, and fetch again what was left for the next batch */
    if (commit_batch(rt) == 0)
        apply_counts(rt);
    if (n_later)
        seek_back_later(rt);
    ph[4] = since_ms(&t0);
    if (lm_log_enabled(LM_LOG_DEBUG))
        lm_log(LM_LOG_DEBUG, "batch",
               "%zu msgs: reads %.1f ms, decide %.1f, writes %.1f, produce "
               "%.1f, commit %.1f",
               rt->n_items, ph[0], ph[1] - ph[0], ph[2] - ph[1], ph[3] - ph[2],
               ph[4] - ph[3]);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    lm_histogram_observe(rt->m_handler, secs / (double)rt->n_items);
    batch_release(rt);
    return 0;
abandon:
    /* The consumer is already past this batch: going on would let the next
     * commit cover it. Stop without committing instead (a restart
     * redelivers it, and the outboxes recover what was done). Deliveries
     * still in flight point into the batch's buffers: wait for them. */
    if (!rt_stop) {
        rt->fatal = 1;
        lm_log(LM_LOG_ERROR, "batch_abandoned",
               "a batch could not be completed; stopping without committing "
               "it so that it is redelivered");
    }
    rd_kafka_flush(rt->producer, 10000);
    batch_release(rt);
    return -1;
}

/* ======================================================== the main loop */

static int ready_fn(void *opaque, char *why, size_t whysz) {
    lm_runtime *rt = opaque;
    if (!atomic_load(&rt->ready_redis)) {
        snprintf(why, whysz, "redis unreachable");
        return 0;
    }
    if (!atomic_load(&rt->ready_broker)) {
        snprintf(why, whysz, "kafka brokers unreachable");
        return 0;
    }
    if (atomic_load(&rt->assigned) <= 0) {
        snprintf(why, whysz, "no partitions of the input topic assigned");
        return 0;
    }
    return 1;
}

void lm_runtime_count(lm_runtime *rt, const char *family, const char *labels,
                      double value) {
    lm_counter_add(lm_metrics_counter(rt->metrics, family, family, labels),
                   (uint64_t)value);
}

void lm_runtime_gauge(lm_runtime *rt, const char *family, const char *labels,
                      double value) {
    lm_gauge_set(lm_metrics_gauge(rt->metrics, family, family, labels), value);
}

static void metrics_setup(lm_runtime *rt) {
    char labels[96];
    snprintf(labels, sizeof(labels), "worker=\"%s\"", rt->w->name);
    lm_metrics *m = rt->metrics;
    rt->m_consumed = lm_metrics_counter(m, "lastmile_consumed_total",
                                        "Input messages taken", labels);
    rt->m_dead =
        lm_metrics_counter(m, "lastmile_dead_lettered_total",
                           "Input sent to the dead-letter topic", labels);
    char cl[160];
    snprintf(cl, sizeof(cl), "worker=\"%s\",class=\"retriable\"", rt->w->name);
    rt->m_errors_retriable =
        lm_metrics_counter(m, "lastmile_errors_total", "Errors by class", cl);
    snprintf(cl, sizeof(cl), "worker=\"%s\",class=\"fatal\"", rt->w->name);
    rt->m_errors_fatal =
        lm_metrics_counter(m, "lastmile_errors_total", "Errors by class", cl);
    rt->m_handler = lm_metrics_histogram(
        m, "lastmile_handler_seconds", "Batch time per message", labels,
        lm_metrics_latency_buckets, lm_metrics_latency_buckets_n);
    rt->m_batch = lm_metrics_histogram(
        m, "lastmile_batch_size", "Messages per batch", labels,
        lm_metrics_size_buckets, lm_metrics_size_buckets_n);
    rt->m_wait = lm_metrics_histogram(
        m, "lastmile_stage_wait_seconds",
        "How long input waited in Kafka before this worker took it", labels,
        lm_metrics_latency_buckets, lm_metrics_latency_buckets_n);
    rt->m_redis_rtt = lm_metrics_histogram(
        m, "lastmile_redis_roundtrip_seconds", "Redis pipeline round trips",
        labels, lm_metrics_latency_buckets, lm_metrics_latency_buckets_n);
}

static void runtime_free(lm_runtime *rt) {
    lm_metrics_server_stop(rt->server);
    if (rt->consumer) {
        rd_kafka_consumer_close(rt->consumer);
        rd_kafka_destroy(rt->consumer);
    }
    for (int i = 0; i < rt->n_topics; i++) {
        if (rt->topics[i].rkt)
            rd_kafka_topic_destroy(rt->topics[i].rkt);
        free(rt->topics[i].known_end);
    }
    if (rt->producer) {
        rd_kafka_flush(rt->producer, 5000);
        rd_kafka_destroy(rt->producer);
    }
    lm_redis_destroy(rt->redis);
    lm_metrics_destroy(rt->metrics);
    free(rt->items);
    free(rt->recs);
    free(rt->counts);
    free(rt->replies);
    free(rt->dupslots);
    lm_buf_free(&rt->recbuf);
    lm_buf_free(&rt->writes);
    lm_buf_free(&rt->obbuf);
    lm_buf_free(&rt->fence_bytes);
    lm_pipe_free(&rt->pipe);
    lm_pipe_free(&rt->index);
    lm_settings_free(&rt->s);
    free(rt);
}

int lm_runtime_main(const lm_worker *w) {
    char err[4096] = "";
    int code = 1;
    lm_runtime *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return 1;
    rt->w = w;
    lm_log_init(w->name, LM_LOG_INFO);
    if (lm_settings_load(&rt->s, w->name, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile-%s: bad configuration:\n%s\n", w->name, err);
        free(rt);
        return 2;
    }
    lm_log_init(w->name, (lm_log_level)rt->s.log_level);
    lm_clock_init(rt->s.time_scale, rt->s.time_origin_ms, rt->s.time_start_ms);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (w->init && w->init(w->ctx, &rt->s, err, sizeof(err)) != 0) {
        lm_log(LM_LOG_ERROR, "init_failed", "%s", err);
        fprintf(stderr, "lastmile-%s: %s\n", w->name, err);
        code = 2;
        goto out;
    }
    rt->metrics = lm_metrics_new();
    if (!rt->metrics)
        goto out;
    metrics_setup(rt);
    lm_metrics_on_scrape(rt->metrics, on_scrape, rt);
    if (rt->s.metrics_addr && *rt->s.metrics_addr) {
        rt->server = lm_metrics_server_start(rt->metrics, rt->s.metrics_addr,
                                             ready_fn, rt, err, sizeof(err));
        if (!rt->server) {
            lm_log(LM_LOG_ERROR, "metrics_failed", "%s", err);
            code = 2;
            goto out;
        }
    }

    lm_topic_name(&rt->s, w->input, rt->input_topic, sizeof(rt->input_topic));
    snprintf(rt->group, sizeof(rt->group), "%s%s", rt->s.topic_prefix, w->name);
    for (int i = 0; w->outputs && w->outputs[i] && i < RT_TOPICS_MAX - 1; i++) {
        snprintf(rt->topics[rt->n_topics].suffix, sizeof(rt->topics[0].suffix),
                 "%s", w->outputs[i]);
        lm_topic_name(&rt->s, w->outputs[i], rt->topics[rt->n_topics].name,
                      LM_TOPIC_MAX);
        rt->n_topics++;
    }
    rt->dlq_topic = rt->n_topics;
    snprintf(rt->topics[rt->n_topics].suffix, sizeof(rt->topics[0].suffix),
             "%s", LM_TOPIC_DLQ);
    lm_topic_name(&rt->s, LM_TOPIC_DLQ, rt->topics[rt->n_topics].name,
                  LM_TOPIC_MAX);
    rt->n_topics++;

    for (int t = 0; t < rt->n_topics; t++) {
        char labels[LM_TOPIC_MAX + 64];
        snprintf(labels, sizeof(labels), "worker=\"%s\",topic=\"%s\"", w->name,
                 rt->topics[t].name);
        rt->m_produced[t] = lm_metrics_counter(
            rt->metrics, "lastmile_produced_total",
            "Messages produced and acknowledged, by topic", labels);
    }
    rt->redis =
        lm_redis_new(rt->s.redis_url, rt->s.redis_timeout_ms, err, sizeof(err));
    if (!rt->redis) {
        fprintf(stderr, "lastmile-%s: %s\n", w->name, err);
        code = 2;
        goto out;
    }
    for (int i = 0; w->scripts && w->scripts[i]; i++)
        lm_redis_add_script(rt->redis, w->scripts[i]);
    if (w->fire_timer)
        lm_redis_add_script(rt->redis, lm_timers_script());
    /* scripts need their sha before the first plan: connect now */
    for (int64_t warned = 0;;) {
        int rc = lm_redis_connect(rt->redis, err, sizeof(err));
        if (rc == 0)
            break;
        if (rc != LM_REDIS_RETRY) {
            lm_log(LM_LOG_ERROR, "redis_refused", "%s", err);
            code = 2;
            goto out;
        }
        if (lm_clock_mono_ms() - warned > 5000) {
            lm_log(LM_LOG_WARN, "redis_unavailable", "%s; retrying", err);
            warned = lm_clock_mono_ms();
        }
        if (rt_stop) {
            code = 0;
            goto out;
        }
        usleep(100 * 1000);
    }
    atomic_store(&rt->ready_redis, 1);
    if (kafka_setup(rt, err, sizeof(err)) != 0) {
        lm_log(LM_LOG_ERROR, "kafka_setup_failed", "%s", err);
        goto out;
    }
    lm_log(LM_LOG_INFO, "started",
           "consuming %s as group %s, batches of up to %d", rt->input_topic,
           rt->group, rt->s.batch_max);

    while (!rt_stop && !rt->fatal) {
        run_batch(rt);
        if (w->fire_timer &&
            lm_clock_mono_ms() - rt->last_tick_ms >= RT_TICK_EVERY_MS &&
            !rt_stop) {
            rt->last_tick_ms = lm_clock_mono_ms();
            lm_timers_sweep(rt, w);
            /* a sweep that lost Redis makes the worker not ready, even with
               no input to notice it in a batch */
            if (!lm_redis_connected(rt->redis))
                atomic_store(&rt->ready_redis, 0);
        }
    }
    code = rt->fatal ? 1 : 0;
    lm_log(rt->fatal ? LM_LOG_ERROR : LM_LOG_INFO, "stopping",
           rt->fatal ? "fatal error: stopping without committing further"
                     : "signal received: batch finished and committed, "
                       "leaving the group");
out:
    if (w->fini)
        w->fini(w->ctx);
    runtime_free(rt);
    if (code == 0)
        lm_log(LM_LOG_INFO, "stopped", "clean exit");
    return code;
}
