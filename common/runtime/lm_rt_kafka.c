/* lm_rt_kafka.c — the runtime's Kafka: set-up, produce-and-wait, commit,
 * seek, and the callbacks librdkafka calls (delivery reports, errors,
 * rebalances, statistics).
 *
 * Two clients: a producer (idempotent, acks=all, message.timeout.ms=0: a
 * broker outage stalls, it never drops; lm_kafka.c) and a consumer in the
 * worker's group with offsets stored and committed by hand, only after
 * what a batch caused is durable. Outputs go to an explicit partition
 * (murmur2 of the key, as Kafka's Java client does) with header "lm-id";
 * each output topic's known end (an offset at or before its log end) is
 * where a new output's read-back would start.
 *
 * Ownership: the producer points into rt->recbuf until the batch's last
 * delivery report (rt->outstanding counts them down); a batch parked in
 * flight keeps its recbuf (lm_rt_pipeline.c), and a report names its
 * record by the arrays' generation and index. Threads: every
 * callback runs inside a poll on the worker's thread; the atomics they set
 * are read by the metrics server. */
#include "lm_rt_internal.h"

#include "lm_clock.h"
#include "lm_hash.h"
#include "lm_kafka.h"
#include "lm_log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ====================================================== the callbacks */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque) {
    lm_runtime *rt = opaque;
    (void)rk;
    if (rt->outstanding > 0)
        rt->outstanding--;
    rt_rec *r = rt_delivery_rec(rt, rkm->_private);
    if (rkm->err) {
        lm_log(LM_LOG_ERROR, "produce_failed",
               "delivery to %s [%d] failed for good: %s",
               rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
               rd_kafka_err2str(rkm->err));
        if (r)
            r->state = RT_REC_FAILED;
        rt->fatal = 1;
        return;
    }
    if (r) {
        r->state = RT_REC_ACKED;
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
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&rt->ready_broker, 0);
    snprintf(rt->kafka_last_error, sizeof(rt->kafka_last_error), "%s: %s",
             rd_kafka_err2name(err), reason);
    if (err != RD_KAFKA_RESP_ERR__FATAL) {
        lm_log(LM_LOG_WARN, "kafka_error", "%s: %s", rd_kafka_err2name(err),
               reason);
        return;
    }
    char why[256] = "";
    rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, why, sizeof(why));
    if (cause == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID)
        lm_log(LM_LOG_ERROR, "kafka_error",
               "%s: another replica of %s joined its group as "
               "LASTMILE_INSTANCE_ID=%s; give each replica a name of its own "
               "(Kubernetes: the pod name; compose: @hostname)",
               why, rt->w->name, rt->s.instance_id);
    else
        lm_log(LM_LOG_ERROR, "kafka_error", "%s: %s", rd_kafka_err2name(err),
               reason);
    rt->fatal = 1;
}

/* The lag series of partitions this replica gave up read 0 from now on:
 * the replica that took them over exports their lag, and a sum across
 * replicas (what KEDA scales on) must count each partition once. */
static void lag_forget(lm_runtime *rt,
                       const rd_kafka_topic_partition_list_t *parts) {
    if (!rt->metrics || !parts)
        return;
    for (int i = 0; i < parts->cnt; i++) {
        char labels[256];
        snprintf(labels, sizeof(labels),
                 "worker=\"%s\",topic=\"%s\",partition=\"%d\"", rt->w->name,
                 parts->elems[i].topic, (int)parts->elems[i].partition);
        lm_gauge_set(lm_metrics_gauge(rt->metrics, "lastmile_consumer_lag",
                                      "Messages behind the log end", labels),
                     0);
    }
}

/* Readiness follows the broker connection: UP when the statistics show a
 * broker of the cluster (not a bootstrap address) connected, so a worker
 * with no input says ready again within one statistics interval of the
 * broker's return. While outputs wait for acknowledgement the produce
 * path decides instead (rt_produce_and_wait). */
static void brokers_ready(lm_runtime *rt, json_t *root) {
    const char *bname;
    json_t *b;
    int up = 0;
    json_object_foreach(json_object_get(root, "brokers"), bname, b) {
        const char *state = json_string_value(json_object_get(b, "state"));
        json_int_t node = json_integer_value(json_object_get(b, "nodeid"));
        up |= node >= 0 && state && strcmp(state, "UP") == 0;
    }
    if (rt->outstanding == 0)
        atomic_store(&rt->ready_broker, up);
}

/* With claims (lm_worker.claim_key): the input topic's partition count
 * when `parts` is every one of them, else 0 (also when the metadata
 * cannot say: then each claim is watched, which is always safe). */
static int32_t every_partition(lm_runtime *rt,
                               const rd_kafka_topic_partition_list_t *parts) {
    const struct rd_kafka_metadata *md = NULL;
    int32_t n = 0;
    if (!rt->w->claim_key || !rt->producer ||
        rt->crash_at == RT_RACE_CLAIM_TAKEN_WATCHING_CLAIMS)
        return 0;
    rd_kafka_topic_t *in =
        rd_kafka_topic_new(rt->producer, rt->input_topic, NULL);
    if (in &&
        rd_kafka_metadata(rt->producer, 0, in, &md, 2000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && !md->topics[0].err &&
        md->topics[0].partition_cnt == parts->cnt &&
        parts->cnt <= RT_PARTITIONS_MAX)
        n = parts->cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (in)
        rd_kafka_topic_destroy(in);
    return n;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    lm_runtime *rt = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        atomic_store(&rt->assigned, parts->cnt);
        rt->every_partition = every_partition(rt, parts);
        memset(rt->log_known, 0, sizeof(rt->log_known));
        lm_log(LM_LOG_INFO, "assigned", "%d partition(s) of %s assigned",
               parts->cnt, rt->input_topic);
        if (rt_watches_each_claim(rt) && parts->cnt > 0)
            lm_log(LM_LOG_INFO, "claims_watched",
                   "this replica holds part of %s: each claim is watched, "
                   "in batches of at most %zu inputs",
                   rt->input_topic, rt_batch_limit(rt));
    } else {
        /* the batch in flight is finished while its partitions are still
           ours: committed now (synchronously), not redone by their next
           owner while its outputs are still on their way */
        rt->revoking = 1;
        rt_inflight_settle(rt);
        rt->revoking = 0;
        rd_kafka_assign(rk, NULL);
        atomic_store(&rt->assigned, 0);
        rt->every_partition = 0;
        memset(rt->log_known, 0, sizeof(rt->log_known));
        lag_forget(rt, parts);
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
    if (root)
        brokers_ready(rt, root);
    json_decref(root);
    return 0; /* librdkafka frees json */
}

/* ============================================================ set-up */

/* Why a topic's metadata could not be had, and the fix: a cluster that
 * answers without the topic wants it created; one that never answered (a
 * wrong address, TLS or SASL refused) is named with the last error the
 * client reported, instead of a misleading "create it". */
static void topic_unavailable(const lm_runtime *rt, const char *topic,
                              rd_kafka_resp_err_t e,
                              const struct rd_kafka_metadata *md, char *err,
                              size_t errsz) {
    if (!e && md && md->broker_cnt > 0) {
        snprintf(err, errsz,
                 "topic %s is not available (%s); create it, or check "
                 "LASTMILE_TOPIC_PREFIX",
                 topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
                               : "no metadata");
        return;
    }
    snprintf(err, errsz,
             "no broker answered for topic %s (%s%s%s); check "
             "LASTMILE_BROKERS=%s and the LASTMILE_KAFKA_SECURITY_PROTOCOL / "
             "SASL / SSL settings",
             topic, e ? rd_kafka_err2str(e) : "no metadata",
             rt->kafka_last_error[0] ? "; last error: " : "",
             rt->kafka_last_error, rt->s.brokers ? rt->s.brokers : "");
}

/* The partition count of topic `name` (its handle rkt), waiting up to
 * RT_META_TIMEOUT_MS for the metadata. 0, or -1 with err. */
static int topic_partitions(lm_runtime *rt, const char *name,
                            rd_kafka_topic_t *rkt, int32_t *partitions,
                            char *err, size_t errsz) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    int64_t deadline = lm_clock_mono_ms() + RT_META_TIMEOUT_MS;
    do {
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
        e = rd_kafka_metadata(rt->producer, 0, rkt, &md, 2000);
        if (!e && md->topic_cnt == 1 && !md->topics[0].err &&
            md->topics[0].partition_cnt > 0)
            break;
        rd_kafka_poll(rt->producer, 200); /* errors reach on_error */
    } while (lm_clock_mono_ms() < deadline && !lm_runtime_stopping(rt));
    if (e || !md || md->topic_cnt != 1 || md->topics[0].err ||
        md->topics[0].partition_cnt <= 0) {
        topic_unavailable(rt, name, e, md, err, errsz);
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    *partitions = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* Metadata: partition counts (the input's too, for keyed_input);
 * watermarks: where each output log ends. */
static int topics_setup(lm_runtime *rt, char *err, size_t errsz) {
    if (rt->w->keyed_input) {
        rd_kafka_topic_t *in =
            rd_kafka_topic_new(rt->producer, rt->input_topic, NULL);
        int rc = in ? topic_partitions(rt, rt->input_topic, in,
                                       &rt->input_partitions, err, errsz)
                    : -1;
        if (in)
            rd_kafka_topic_destroy(in);
        else
            snprintf(err, errsz, "topic %s: no handle", rt->input_topic);
        if (rc != 0)
            return -1;
    }
    for (int i = 0; i < rt->n_topics; i++) {
        rt_topic *t = &rt->topics[i];
        t->rkt = rd_kafka_topic_new(rt->producer, t->name, NULL);
        if (topic_partitions(rt, t->name, t->rkt, &t->partitions, err, errsz) !=
            0)
            return -1;
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

int rt_kafka_setup(lm_runtime *rt, char *err, size_t errsz) {
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
    /* asynchronous commits post their results here: served, and their
       callback run, by the worker's consumer poll */
    rt->commit_queue = rd_kafka_queue_get_consumer(rt->consumer);
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

/* ============================================ produce, commit, seek */

int rt_produce_start(lm_runtime *rt, size_t first, size_t last) {
    for (size_t i = first; i < last; i++) {
        rt_rec *r = &rt->recs[i];
        if (r->state != RT_REC_TO_PRODUCE)
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
                RD_KAFKA_V_OPAQUE(rt_delivery_opaque(rt, i)), RD_KAFKA_V_END);
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
    return rt->fatal ? -1 : 0;
}

/* On -1 nothing may be committed. */
int rt_produce_wait(lm_runtime *rt, int64_t deadline_ms) {
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

int rt_produce_and_wait(lm_runtime *rt, size_t first, size_t last,
                        int64_t deadline_ms) {
    if (rt_produce_start(rt, first, last) != 0)
        return -1;
    return rt_produce_wait(rt, deadline_ms);
}

/* Adds reqs as records after the batch's (placed where places say, or
 * where they go now when places is NULL). 0 / -1. */
static int sync_recs_add(lm_runtime *rt, const lm_emit_req *reqs,
                         const lm_emit_place *places,
                         const unsigned char *again, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int t = rt_topic_index(rt, reqs[i].topic_suffix);
        if (t < 0)
            return -1;
        size_t len = protobuf_c_message_get_packed_size(reqs[i].msg);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
            return -1;
        protobuf_c_message_pack(reqs[i].msg, buf);
        int rc = rt_rec_add(rt, -1, t, reqs[i].key, strlen(reqs[i].key), buf,
                            len, reqs[i].id, strlen(reqs[i].id),
                            places ? places[i].partition : -1,
                            places ? places[i].scan_from : -1);
        free(buf);
        if (rc != 0)
            return -1;
        rt->recs[rt->n_recs - 1].again = again && again[i];
    }
    return 0;
}

int lm_runtime_produce_sync(lm_runtime *rt, const lm_emit_req *reqs, size_t n) {
    return lm_runtime_produce_placed(rt, reqs, NULL, NULL, n);
}

int lm_runtime_place(lm_runtime *rt, const lm_emit_req *reqs, size_t n,
                     lm_emit_place *places) {
    size_t first = rt->n_recs;
    int rc = sync_recs_add(rt, reqs, NULL, NULL, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        places[i] = (lm_emit_place){rt->recs[first + i].partition,
                                    rt->recs[first + i].scan_from};
    rt->n_recs = first;
    return rc;
}

int lm_runtime_produce_placed(lm_runtime *rt, const lm_emit_req *reqs,
                              const lm_emit_place *places,
                              const unsigned char *again, size_t n) {
    size_t first = rt->n_recs;
    int rc = sync_recs_add(rt, reqs, places, again, n);
    int any_again = 0;
    for (size_t i = 0; again && i < n; i++)
        any_again |= again[i];
    /* the read-back marks the messages already there (RT_REC_THERE); a
       read-back that fails produces nothing */
    if (rc == 0 && any_again)
        rc = rt_recover_scan(rt);
    if (rc == 0)
        rc = rt_produce_and_wait(rt, first, rt->n_recs, 0);
    rt->n_recs = first;
    return rc;
}

/* A commit that failed, synchronous or not, leaves its input to be
 * redelivered and recovered: its outputs are acknowledged, so the fences
 * and done records know it. */
static void commit_failed(lm_runtime *rt, rd_kafka_resp_err_t err) {
    lm_counter_add(rt->m_errors_retriable, 1);
    lm_log(LM_LOG_WARN, "commit_failed",
           "commit: %s; the batch will be redelivered and recovered",
           rd_kafka_err2str(err));
}

/* The broker's answer to an asynchronous commit (rt_commit_batch), on the
 * consumer's poll. */
static void on_async_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *offsets,
                            void *opaque) {
    (void)rk;
    for (int i = 0; !err && offsets && i < offsets->cnt; i++)
        err = offsets->elems[i].err;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        commit_failed(opaque, err);
}

int rt_commit_batch(lm_runtime *rt, int async) {
    rd_kafka_topic_partition_list_t *offs =
        rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < rt->n_items; i++) {
        rd_kafka_message_t *m = rt->items[i].rkm;
        if (rt->items[i].identified == RT_LATER)
            continue; /* committed by the batch that decides it */
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
            offs, rd_kafka_topic_name(m->rkt), m->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(
                offs, rd_kafka_topic_name(m->rkt), m->partition);
        if (tp->offset < m->offset + 1)
            tp->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t e;
    if (rt->crash_at == RT_CRASH_COMMIT_LOST && rt->commit_skipped)
        _exit(137); /* the next batch applied and acknowledged */
    if (rt->crash_at == RT_CRASH_COMMIT_LOST && offs->cnt > 0) {
        rt->commit_skipped = 1; /* as an asynchronous commit lost */
        e = RD_KAFKA_RESP_ERR_NO_ERROR;
    } else if (async && rt->commit_queue)
        e = rd_kafka_commit_queue(rt->consumer, offs, rt->commit_queue,
                                  on_async_commit, rt);
    else
        e = rd_kafka_commit(rt->consumer, offs, 0);
    rd_kafka_topic_partition_list_destroy(offs);
    if (e) {
        commit_failed(rt, e);
        return -1;
    }
    return 0;
}

/* Seeks every partition with items left for the next batch back to the
 * first of them, so they are fetched again (librdkafka drops what it had
 * fetched beyond). Committed offsets stop before them (rt_commit_batch). */
void rt_seek_back_later(lm_runtime *rt) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    for (size_t i = 0; i < rt->n_items; i++) {
        const rd_kafka_message_t *m = rt->items[i].rkm;
        if (rt->items[i].identified != RT_LATER)
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

/* 1 when the partition's log ends below `next`: its topic was deleted and
 * created again, so the fence speaks of input that no longer exists. The
 * consumer's cached watermark first; the broker is asked only when that
 * says so. */
int rt_kafka_log_ends_before(lm_runtime *rt, int32_t partition, int64_t next) {
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

uint64_t rt_record_fingerprint(const rd_kafka_message_t *rkm) {
    int64_t ts = rd_kafka_message_timestamp(rkm, NULL);
    uint64_t h = lm_hash64(&ts, sizeof(ts), 0x6c6f67);
    h = lm_hash64(rkm->key, rkm->key ? rkm->key_len : 0, h);
    return lm_hash64(rkm->payload, rkm->payload ? rkm->len : 0, h);
}

/* The anchor reader: a consumer with no group, assigned one offset at a
 * time; an offset outside the log is an error, not a reset. */
static rd_kafka_t *anchor_reader(lm_runtime *rt, char *err, size_t errsz) {
    if (rt->anchor_reader)
        return rt->anchor_reader;
    rd_kafka_conf_t *conf =
        lm_kafka_conf(&rt->s, LM_KAFKA_READER, NULL, err, errsz);
    char why[512];
    if (!conf ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "error", why,
                          sizeof(why)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", why,
                          sizeof(why)) != RD_KAFKA_CONF_OK) {
        if (conf) {
            snprintf(err, errsz, "anchor reader: %s", why);
            rd_kafka_conf_destroy(conf);
        }
        return NULL;
    }
    rt->anchor_reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!rt->anchor_reader)
        snprintf(err, errsz, "anchor reader: %s", why);
    else
        rd_kafka_poll_set_consumer(rt->anchor_reader);
    return rt->anchor_reader;
}

int rt_kafka_fingerprint_at(lm_runtime *rt, int32_t partition, int64_t offset,
                            uint64_t *fingerprint, char *err, size_t errsz) {
    rd_kafka_t *rk = anchor_reader(rt, err, errsz);
    if (!rk)
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rt->input_topic, partition)->offset =
        offset;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int rc = -1;
    snprintf(err, errsz, "%s", e ? rd_kafka_err2str(e) : "no answer in time");
    int64_t deadline = lm_clock_mono_ms() + RT_META_TIMEOUT_MS;
    while (!e && rc == -1 && lm_clock_mono_ms() < deadline &&
           !lm_runtime_stopping(rt)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
            m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
            m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
            rc = 1; /* the log ends before it, or starts after it */
        else if (m->err)
            snprintf(err, errsz, "%s", rd_kafka_message_errstr(m));
        else if (m->offset != offset)
            rc = 1; /* a gap where the record was */
        else {
            *fingerprint = rt_record_fingerprint(m);
            rc = 0;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    return rc;
}

void rt_kafka_close(lm_runtime *rt) {
    if (rt->anchor_reader) {
        rd_kafka_consumer_close(rt->anchor_reader);
        rd_kafka_destroy(rt->anchor_reader);
        rt->anchor_reader = NULL;
    }
    if (rt->commit_queue) {
        rd_kafka_queue_destroy(rt->commit_queue);
        rt->commit_queue = NULL;
    }
    if (rt->consumer) {
        rd_kafka_consumer_close(rt->consumer);
        rd_kafka_destroy(rt->consumer);
        rt->consumer = NULL;
    }
    for (int i = 0; i < rt->n_topics; i++) {
        if (rt->topics[i].rkt)
            rd_kafka_topic_destroy(rt->topics[i].rkt);
        rt->topics[i].rkt = NULL;
        free(rt->topics[i].known_end);
        rt->topics[i].known_end = NULL;
    }
    if (rt->producer) {
        rd_kafka_flush(rt->producer, 5000);
        rd_kafka_destroy(rt->producer);
        rt->producer = NULL;
    }
}
