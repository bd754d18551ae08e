/* lm_rt_outbox.c — the outbox: every output an input caused, kept in Redis
 * with its writes (in the input's done record, or in its partition's
 * fence), and the read-back that recovers those outputs after a crash.
 *
 * An outbox record names its topic, partition, the offset to scan from
 * (at or before where it lands: the partition's known end when it was
 * decided), its key, value and id. A redelivered input that was applied
 * before gets its records back from its outbox (rt_records_restore);
 * rt_recover_scan then reads each of their partitions from the smallest
 * scan offset to the end, matching the "lm-id" header, and marks the
 * records already there, so only the missing ones are produced. That
 * holds on the mock broker too, which appends aborted transactional
 * writes and reports no last stable offset.
 *
 * A worker may declare outbox hooks (lm_worker.outbox_compact/_expand):
 * an output's value is then kept compacted, without the bytes its input
 * gives back, when expanding the compacted form from that input gives the
 * very bytes again (checked each time: rt_item_compact), with a hash of
 * the value (OutboxRecord.compacted). A restore expands it from the
 * redelivered input and keeps it only when the hash matches: otherwise
 * (the input is not the one that wrote it: a repeat of an event id with
 * other bytes) the output is logged (outbox_not_rebuilt), counted, and
 * never produced — a missing output rather than a wrong one. A worker
 * that also declares outbox_names says which key and id the input gives
 * an output; a compacted record with those keeps neither
 * (OutboxRecord.named), gets them back from the redelivered input, and its
 * hash covers them with the value.
 *
 * Ownership: packed outboxes point into rt->recbuf (no copy); a restored
 * outbox is copied into new records. Runs on the worker's thread; the
 * read-back uses its own short-lived consumer. */
#include "lm_rt_internal.h"

#include "lm_clock.h"
#include "lm_hash.h"
#include "lm_kafka.h"
#include "lm_log.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------- compacted values */

#define RT_OUTBOX_HASH_SEED 0x6f7574626f78ULL /* "outbox"; never change */

/* The hash OutboxRecord.compacted keeps of a value: never 0 (0 says the
 * value is whole). */
static uint64_t value_hash(const void *val, size_t len) {
    uint64_t h = lm_hash64(val, len, RT_OUTBOX_HASH_SEED);
    return h ? h : 1;
}

/* The hash of a named record (OutboxRecord.named): its value's, with the
 * key and id the input names it by. */
static uint64_t named_hash(uint64_t value_h, const char *key, const char *id) {
    uint64_t h = lm_hash64(key, strlen(key), value_h);
    h = lm_hash64(id, strlen(id) + 1,
                  h); /* with its NUL: "a"+"bc" ≠ "ab"+"c" */
    return h ? h : 1;
}

static void outbox_input(const rt_item *it, lm_outbox_input *in) {
    in->event = it->event;
    in->ident = &it->ident;
    in->raw = it->rkm ? it->rkm->payload : NULL;
    in->raw_len = it->rkm ? it->rkm->len : 0;
}

/* Marks compacted record r named when the input names it by its very key
 * and id (lm_worker.outbox_names), folding them into its hash. */
static void rec_name(lm_runtime *rt, const lm_outbox_input *in,
                     const char *suffix, rt_rec *r) {
    char key[LM_ID_MAX], id[LM_ID_MAX];
    const char *rkey = rt->recbuf.data + r->key_off;
    const char *rid = rt->recbuf.data + r->id_off;
    if (!rt->w->outbox_names ||
        rt->w->outbox_names(rt->w->ctx, in, suffix, key, id) != 0 ||
        strlen(key) != r->key_len || memcmp(key, rkey, r->key_len) != 0 ||
        strlen(id) != r->id_len || memcmp(id, rid, r->id_len) != 0)
        return;
    r->full_hash = named_hash(r->full_hash, key, id);
    r->named = 1;
}

/* Compacts record r of item it when the worker's hooks can and expanding
 * gives back the very bytes. 0 / -1 (OOM). */
static int rec_compact(lm_runtime *rt, const rt_item *it, rt_rec *r) {
    const lm_worker *w = rt->w;
    r->compact = -1;
    if (!w->outbox_compact || !w->outbox_expand || !it->event || !it->rkm ||
        r->topic == rt->dlq_topic)
        return 0;
    lm_outbox_input in;
    outbox_input(it, &in);
    const char *suffix = rt->topics[r->topic].suffix;
    lm_buf *cb = &rt->obbuf; /* scratch: the outbox is packed after */
    lm_buf_reset(cb);
    int rc = w->outbox_compact(w->ctx, &in, suffix,
                               (const uint8_t *)rt->recbuf.data + r->val_off,
                               r->val_len, cb);
    if (rc <= 0)
        return rc;
    /* expand into recbuf's tail (the compacted form is in obbuf) */
    size_t mark = rt->recbuf.len;
    rc = w->outbox_expand(w->ctx, &in, suffix, (const uint8_t *)cb->data,
                          cb->len, &rt->recbuf);
    int same = rc == 0 && rt->recbuf.len - mark == r->val_len &&
               memcmp(rt->recbuf.data + mark, rt->recbuf.data + r->val_off,
                      r->val_len) == 0;
    rt->recbuf.len = mark;
    if (!same) {
        lm_log(LM_LOG_WARN, "outbox_compaction_mismatch",
               "%s: the compacted output on %s does not expand to the output "
               "(%zu bytes); the outbox keeps it whole",
               it->ident.id, suffix, r->val_len);
        return 0;
    }
    long off = lm_buf_append(&rt->recbuf, cb->data, cb->len);
    if (off < 0)
        return -1;
    r->cval_off = (size_t)off;
    r->cval_len = cb->len;
    r->full_hash = value_hash(rt->recbuf.data + r->val_off, r->val_len);
    r->compact = 1;
    rec_name(rt, &in, suffix, r);
    return 0;
}

int rt_item_compact(lm_runtime *rt, const rt_item *it) {
    for (size_t i = 0; i < it->rec_n; i++) {
        rt_rec *r = &rt->recs[it->rec_first + i];
        if (r->compact == 0 && rec_compact(rt, it, r) != 0)
            return -1;
    }
    return 0;
}

void rt_record_fill(const lm_runtime *rt, const rt_rec *r,
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
    if (r->compact == 1) {
        dst->value.data = (uint8_t *)rt->recbuf.data + r->cval_off;
        dst->value.len = r->cval_len;
        dst->compacted = r->full_hash;
    }
    if (r->compact == 1 && r->named) { /* the input names it again */
        dst->named = 1;
        dst->key.len = 0;
        dst->id = (char *)"";
    }
}

int rt_pb_pack_append(const ProtobufCMessage *msg, lm_buf *out) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (lm_buf_reserve(out, n + 1) != 0)
        return -1;
    out->len += protobuf_c_message_pack(msg, (uint8_t *)out->data + out->len);
    return 0;
}

int rt_outbox_pack(lm_runtime *rt, const rt_item *it, lm_buf *out,
                   int64_t now_ms) {
    Lastmile__V1__Internal__Outbox ob = LASTMILE__V1__INTERNAL__OUTBOX__INIT;
    Lastmile__V1__Internal__OutboxRecord recs[64];
    Lastmile__V1__Internal__OutboxRecord *ptrs[64];
    Lastmile__V1__Internal__OutboxRecord **pp = ptrs;
    Lastmile__V1__Internal__OutboxRecord *rr = recs;
    if (rt_item_compact(rt, it) != 0)
        return -1;
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
        rt_record_fill(rt, &rt->recs[it->rec_first + i], &rr[i]);
        pp[i] = &rr[i];
    }
    ob.n_records = it->rec_n;
    ob.records = pp;
    ob.written_at_ms = now_ms;
    lm_buf_reset(out);
    int rc = rt->cluster ? rt_cluster_side_fill(rt, it, &ob.side, &ob.n_side)
                         : 0; /* a cluster's side writes (lm_rt_cluster.c) */
    if (rc == 0)
        rc = rt_pb_pack_append(&ob.base, out);
    free(ob.side);
    if (pp != ptrs) {
        free(pp);
        free(rr);
    }
    return rc;
}

/* The hash a restored record must match: its value's, and for a named
 * one the names the redelivered input gives (into key and id); 0 when
 * the input names none. */
static uint64_t restored_hash(lm_runtime *rt, const lm_outbox_input *in, int t,
                              const Lastmile__V1__Internal__OutboxRecord *r,
                              char *key, char *id) {
    uint64_t h = value_hash(rt->obbuf.data, rt->obbuf.len);
    if (!r->named)
        return h;
    if (!rt->w->outbox_names ||
        rt->w->outbox_names(rt->w->ctx, in, rt->topics[t].suffix, key, id) != 0)
        return 0;
    return named_hash(h, key, id);
}

/* Record r's value rebuilt from its compacted form and the redelivered
 * input, into rt->obbuf (scratch), and for a named record its key and id
 * (into key and id): 0; or 1 when it cannot be (logged, counted: the
 * output is not produced; an expand out of memory is one). */
static int rec_expand(lm_runtime *rt, const rt_item *it, int t,
                      const Lastmile__V1__Internal__OutboxRecord *r, char *key,
                      char *id) {
    const lm_worker *w = rt->w;
    lm_outbox_input in;
    outbox_input(it, &in);
    lm_buf_reset(&rt->obbuf);
    const char *why = !w->outbox_expand
                          ? "this worker declares no outbox_expand"
                          : "the redelivered input could not be decoded";
    if (w->outbox_expand && it->event) {
        why = "the redelivered input does not rebuild it";
        int rc = w->outbox_expand(w->ctx, &in, rt->topics[t].suffix,
                                  r->value.data, r->value.len, &rt->obbuf);
        if (rc == 0 && restored_hash(rt, &in, t, r, key, id) == r->compacted)
            return 0;
        if (rc == 0)
            why = "the output rebuilt from the redelivered input is not the "
                  "one kept (another input with this id or offset)";
    }
    lm_log(LM_LOG_ERROR, "outbox_not_rebuilt",
           "%s: an output of its outbox (%s [%d], id %s) cannot be rebuilt: "
           "%s; it is not produced again (a missing output rather than a "
           "wrong one)",
           it->ident.id, r->topic, (int)r->partition,
           r->named ? "named by its input" : r->id, why);
    lm_runtime_count(rt, "lastmile_outbox_not_rebuilt_total", NULL, 1);
    return 1;
}

int rt_records_restore(lm_runtime *rt, rt_item *it,
                       Lastmile__V1__Internal__OutboxRecord *const *recs,
                       size_t n_recs) {
    it->rec_first = rt->n_recs;
    it->rec_n = 0;
    int rc = 0;
    for (size_t i = 0; i < n_recs; i++) {
        const Lastmile__V1__Internal__OutboxRecord *r = recs[i];
        const uint8_t *val = r->value.data;
        size_t val_len = r->value.len;
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
        const uint8_t *key = r->key.data;
        size_t key_len = r->key.len;
        const char *id = r->id;
        char named_key[LM_ID_MAX], named_id[LM_ID_MAX];
        if (r->compacted) {
            if (rec_expand(rt, it, t, r, named_key, named_id) != 0)
                continue;
            val = (const uint8_t *)rt->obbuf.data;
            val_len = rt->obbuf.len;
            if (r->named) {
                key = (const uint8_t *)named_key;
                key_len = strlen(named_key);
                id = named_id;
            }
        }
        if (rt_rec_add(rt, (int)(it - rt->items), t, key, key_len, val, val_len,
                       id, strlen(id), r->partition, r->scan_from) != 0) {
            rc = -1;
            break;
        }
        it->rec_n++;
    }
    return rc;
}

int rt_outbox_restore(lm_runtime *rt, rt_item *it, const char *data,
                      size_t len) {
    Lastmile__V1__Internal__Outbox *ob = lastmile__v1__internal__outbox__unpack(
        NULL, len, (const uint8_t *)data);
    if (!ob)
        return -1;
    int rc = rt_records_restore(rt, it, ob->records, ob->n_records);
    if (rc == 0 && rt->cluster && ob->n_side)
        rc = rt_cluster_side_restore(rt, it, ob->side, ob->n_side);
    lastmile__v1__internal__outbox__free_unpacked(ob, NULL);
    return rc;
}

/* ------------------------------------------------------ the read-back */

/* 1 when the record was restored from the outbox of an item applied
 * before (only such items have records that were not just decided), or
 * is a service's message produced again (rt_rec.again). */
static int rec_recovering(const lm_runtime *rt, const rt_rec *r) {
    return r->again ||
           (r->item >= 0 && rt->items[r->item].state == RT_DONE_BEFORE);
}

/* The partitions to read back, each from its smallest scan offset; the
 * number of records to verify in *wanted. */
static rd_kafka_topic_partition_list_t *scan_parts(const lm_runtime *rt,
                                                   size_t *wanted) {
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(8);
    *wanted = 0;
    for (size_t i = 0; i < rt->n_recs; i++) {
        const rt_rec *r = &rt->recs[i];
        if (!rec_recovering(rt, r) || r->state != RT_REC_TO_PRODUCE)
            continue;
        (*wanted)++;
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
    return parts;
}

/* Where each partition ends now (ends[i]), and the start clamped to the
 * log's beginning. The number of partitions with anything to read, or -1
 * when the broker could not say. */
static int scan_ends(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                     int64_t *ends) {
    int remaining = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, parts->elems[i].topic,
                                             parts->elems[i].partition, &lo,
                                             &hi, 5000) != 0)
            return -1;
        if (parts->elems[i].offset < lo)
            parts->elems[i].offset = lo;
        ends[i] = hi;
        if (parts->elems[i].offset < hi)
            remaining++;
    }
    return remaining;
}

/* Marks the records whose id message `m` carries as already there. */
static void scan_match(lm_runtime *rt, const rd_kafka_message_t *m,
                       const char *tn) {
    rd_kafka_headers_t *hdrs = NULL;
    const void *val = NULL;
    size_t vlen = 0;
    if (rd_kafka_message_headers(m, &hdrs) != 0 ||
        rd_kafka_header_get_last(hdrs, "lm-id", &val, &vlen) != 0)
        return;
    for (size_t i = 0; i < rt->n_recs; i++) {
        rt_rec *r = &rt->recs[i];
        if (r->state == RT_REC_TO_PRODUCE && rec_recovering(rt, r) &&
            r->partition == m->partition && r->id_len == vlen &&
            memcmp(rt->recbuf.data + r->id_off, val, vlen) == 0 &&
            strcmp(rt->topics[r->topic].name, tn) == 0)
            r->state = RT_REC_THERE;
    }
}

/* Reads `parts` up to `ends` (or the recovery timeout). The partitions
 * not read to their end. */
static int scan_read(lm_runtime *rt, rd_kafka_t *rk,
                     rd_kafka_topic_partition_list_t *parts, int64_t *ends,
                     int remaining, size_t *scanned) {
    rd_kafka_assign(rk, parts);
    int64_t deadline = lm_clock_mono_ms() + rt->recover_timeout_ms;
    while (remaining > 0 && lm_clock_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        (*scanned)++;
        const char *tn = rd_kafka_topic_name(m->rkt);
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].partition == m->partition &&
                strcmp(parts->elems[i].topic, tn) == 0 &&
                m->offset + 1 >= ends[i] && ends[i] >= 0) {
                ends[i] = -1; /* reached */
                remaining--;
            }
        scan_match(rt, m, tn);
        rd_kafka_message_destroy(m);
    }
    return remaining;
}

/* Runs only after a crash or an upstream duplicate, so simplicity wins
 * over speed here. */
int rt_recover_scan(lm_runtime *rt) {
    char err[512];
    rd_kafka_conf_t *conf =
        lm_kafka_conf(&rt->s, LM_KAFKA_READER, NULL, err, sizeof(err));
    if (!conf)
        return -1;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        return -1;
    size_t wanted = 0, scanned = 0;
    rd_kafka_topic_partition_list_t *parts = scan_parts(rt, &wanted);
    int rc = 0;
    if (wanted == 0)
        goto out;
    int64_t *ends = calloc((size_t)parts->cnt, sizeof(int64_t));
    int remaining = ends ? scan_ends(rk, parts, ends) : -1;
    if (remaining < 0) {
        free(ends);
        rc = -1;
        goto out;
    }
    if (rt->crash_at == RT_PAUSE_BEFORE_READ_BACK && !rt->paused) {
        rt->paused = 1; /* the test takes the broker down, then SIGCONT */
        raise(SIGSTOP);
    }
    remaining = scan_read(rt, rk, parts, ends, remaining, &scanned);
    if (remaining > 0) {
        lm_log(LM_LOG_ERROR, "recover_timeout",
               "could not read back %d partition(s) in time (%zu message(s) "
               "read); the batch is not produced and will be tried again",
               remaining, scanned);
        rc = -1;
    } else {
        lm_log(LM_LOG_INFO, "recovered",
               "read back %zu message(s) to verify %zu output(s) of "
               "redelivered input",
               scanned, wanted);
    }
    free(ends);
out:
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
