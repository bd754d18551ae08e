/* lm_rt_batch.c — a batch's items and their state machine.
 *
 * Each input message is an rt_item. Its state (rt_state) moves only
 * through the transitions below:
 *
 *   identify:  NEW, or REJECT (too large, undecodable, refused by the
 *              worker's identify)                       rt_item_settle
 *   in-batch:  DUP (an earlier item has its idempotency id), LATER (an
 *              earlier item has its hash tag, or an earlier item of its
 *              partition is LATER)                      rt_item_settle
 *   attempt:   every attempt at the batch starts each item from the state
 *              it was settled in (rt_attempt_reset); then round trip 1
 *              may find it applied before (DONE_BEFORE), its plan may fail
 *              (REJECT for good), handle may reject it or fail (REJECT,
 *              this attempt), a write refused before EXEC rejects it for
 *              good, one failed inside EXEC rejects it late (this attempt)
 *                                               rt_item_set / rt_item_settle
 *
 * An attempt is read (round trip 1), decide, write (round trip 2); a
 * refused transaction starts another from fresh reads, so nothing an
 * attempt decided survives it except what was settled for good.
 *
 * Ownership: items hold their Kafka message and decoded event until
 * rt_batch_release; the events live in the batch's arena (rt->inputs,
 * one reset frees them all: no malloc and free per string), which moves
 * with the batch when it is parked (lm_rt_pipeline.c). Nothing keeps a
 * pointer into an event past its batch: outputs, writes, outboxes and
 * dead letters are copied into the batch's buffers or packed (dead
 * letters carry the Kafka payload, not the event); records, writes, index
 * commands and counts of an item are ranges (first, n) into the runtime's
 * shared arrays and buffers, reset at each attempt. Runs on the worker's
 * thread. */
#include "lm_rt_internal.h"

#include "lm_decode.h"

#include "lm_out.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_log.h"
#include "lm_utf8.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================= transitions */

void rt_item_settle(rt_item *it, rt_state s) {
    it->state = it->identified = s;
}

void rt_item_set(rt_item *it, rt_state s) {
    it->state = s;
}

int rt_item_applies(const rt_item *it) {
    return it->state == RT_NEW || it->state == RT_REJECT;
}

/* The start of an attempt: the settled state, no outputs, no reads. */
static void item_attempt_begin(rt_item *it) {
    it->state = it->identified;
    if (it->identified != RT_REJECT)
        it->reason[0] = '\0';
    it->rec_first = it->rec_n = 0;
    it->write_off = it->write_len = it->write_n = 0;
    it->write_failed = 0;
    it->count_first = it->count_n = 0;
    it->index_off = it->index_len = it->index_n = 0;
    it->apply_first = it->apply_n = 0;
    it->plan_first = it->plan_n = 0;
    it->get_first = it->get_n = it->reads_first = 0;
    it->has_claim = it->claim_taken = 0;
}

/* The fence of one input partition: every write transaction of this
 * worker on input from that partition writes it, and every batch watches
 * it from its reads to its EXEC (see lm_rt_redis.c). */
void rt_fence_key(const lm_runtime *rt, int32_t partition, char *buf,
                  size_t bufsz) {
    char num[LM_FMT_I64_MAX];
    lm_fmt_i64(num, partition);
    lm_fmt_cat(buf, bufsz, "lm:{fence}:", rt->w->name, ":", rt->input_topic,
               ":", num, NULL);
}

/* ================================================== step 1: take */

/* Appends message m as an item. 0 / -1 (it was dropped: OOM). */
static int item_add(lm_runtime *rt, rd_kafka_message_t *m) {
    if (lm_array_grow((void **)&rt->items, &rt->cap_items, rt->n_items + 1,
                      sizeof(rt_item)) != 0) {
        rd_kafka_message_destroy(m);
        return -1;
    }
    rt_item *it = &rt->items[rt->n_items++];
    memset(it, 0, sizeof(*it));
    it->rkm = m;
    return 0;
}

/* How many inputs the next batch takes: LASTMILE_BATCH_MAX, or fewer when
 * the batch will watch each claim (RT_CLAIMS_WATCHED_MAX). */
size_t rt_batch_limit(const lm_runtime *rt) {
    size_t max = (size_t)rt->s.batch_max;
    if (rt_watches_each_claim(rt) && max > RT_CLAIMS_WATCHED_MAX)
        max = RT_CLAIMS_WATCHED_MAX;
    return max;
}

size_t rt_batch_take(lm_runtime *rt) {
    /* with a batch in flight, only what is fetched already: when there is
       nothing to overlap, that batch is finished at once */
    int wait = rt_inflight(rt) ? 0 : RT_POLL_FIRST_MS;
    size_t batch_bytes = 0, max = rt_batch_limit(rt);
    while (rt->n_items < max && batch_bytes < RT_BATCH_BYTES_MAX) {
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
        size_t bytes = m->len + m->key_len;
        if (item_add(rt, m) != 0)
            break;
        batch_bytes += bytes;
    }
    return rt->n_items;
}

/* ============================================== step 2: identify */

static void item_ident_from_coordinates(const lm_runtime *rt, rt_item *it) {
    snprintf(it->ident.tag, sizeof(it->ident.tag), "%.80s:%d", rt->input_topic,
             (int)it->rkm->partition);
    snprintf(it->ident.id, sizeof(it->ident.id), "%s:%d:%lld", rt->input_topic,
             (int)it->rkm->partition, (long long)it->rkm->offset);
}

lm_ident *lm_ident_room_init(lm_ident_room *room) {
    memset(room, 0, sizeof(*room));
    room->ident.scratch = room->scratch;
    return &room->ident;
}

/* Decodes and identifies one item: NEW, or REJECT with its reason. An
 * item without an id or tag is known by its coordinates. */
static void item_identify(lm_runtime *rt, rt_item *it) {
    const rd_kafka_message_t *m = it->rkm;
    rt_state s = RT_NEW;
    if (m->len > LM_INPUT_MAX_BYTES) {
        snprintf(it->reason, sizeof(it->reason),
                 "message is %zu bytes; the limit is %d", m->len,
                 LM_INPUT_MAX_BYTES);
        s = RT_REJECT;
    } else {
        it->event = lm_decode_in(&rt->inputs, rt->w->input_type, m->payload,
                                 m->len, it->reason, sizeof(it->reason));
        size_t ss = rt->w->scratch_size;
        if (!it->event) {
            s = RT_REJECT;
        } else if (ss &&
                   !(it->ident.scratch = lm_arena_calloc(&rt->inputs, ss))) {
            snprintf(it->reason, sizeof(it->reason),
                     "out of memory for the worker's %zu bytes of scratch", ss);
            s = RT_REJECT;
        } else if (rt->w->identify(rt->w->ctx, it->event, &it->ident,
                                   it->reason, sizeof(it->reason)) != 0) {
            s = RT_REJECT;
        }
    }
    if (s == RT_REJECT || !it->ident.id[0] || !it->ident.tag[0])
        item_ident_from_coordinates(rt, it);
    rt_item_settle(it, s);
}

/* Gives each item the index of its partition's fence. */
static void assign_fences(lm_runtime *rt) {
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
        }
        it->fence = f;
    }
}

/* Settles DUP every item whose idempotency id (within its hash tag) an
 * earlier item of the batch has: one transaction must not apply the same
 * writes twice. 0 / -1 (OOM). */
static int mark_duplicates(lm_runtime *rt) {
    char key[LM_TAG_MAX + LM_ID_MAX];
    lm_strmap_clear(rt->seen);
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        size_t tl = strnlen(it->ident.tag, LM_TAG_MAX - 1);
        size_t il = strnlen(it->ident.id, LM_ID_MAX - 1);
        memcpy(key, it->ident.tag, tl);
        key[tl] = '\0'; /* a tag holds no NUL: tag, NUL, id is unique */
        memcpy(key + tl + 1, it->ident.id, il);
        int created = 0;
        if (!lm_strmap_put(rt->seen, key, tl + 1 + il, (int64_t)i, &created))
            return -1;
        if (!created)
            rt_item_settle(it, RT_DUP);
    }
    return 0;
}

/* Settles LATER every item whose hash tag an earlier item of the batch
 * has (another input for the same lead: an answer and its timer), and
 * every item after it on its partition, which must keep its order. Both
 * would be decided from the same reads, so the later one would not see
 * what the earlier one decided (a lead closed by its answer would still
 * get its next touch). Left for the next batch, it reads that state. The
 * batch's first item is never left, so every batch makes progress.
 * Rejected input reads no state and takes no part. 0 / -1 (OOM). */
static int mark_later(lm_runtime *rt) {
    char later[RT_PARTITIONS_MAX] = {0};
    lm_strmap_clear(rt->seen);
    rt->n_later = 0;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (later[it->fence]) {
            rt_item_settle(it, RT_LATER);
            rt->n_later++;
            continue;
        }
        if (it->identified != RT_NEW)
            continue;
        int created = 0;
        if (!lm_strmap_put_str(rt->seen, it->ident.tag, (int64_t)i, &created))
            return -1;
        if (!created) {
            rt_item_settle(it, RT_LATER);
            rt->n_later++;
            later[it->fence] = 1;
        }
    }
    return 0;
}

/* A keyed record off the partition murmur2 of its key names (keyed_input):
 * its producer partitions otherwise, and another replica may be deciding
 * the same lead's records from their partition. Counted and logged (the
 * first and every 1,000th); decided as any. */
static void check_partition(lm_runtime *rt, const rd_kafka_message_t *m) {
    if (!m->key_len || rt->input_partitions <= 1)
        return;
    int32_t want = rd_kafka_msg_partitioner_murmur2(
        NULL, m->key, m->key_len, rt->input_partitions, NULL, NULL);
    if (want == m->partition)
        return;
    uint64_t before = lm_counter_value(rt->m_misplaced);
    lm_counter_add(rt->m_misplaced, 1);
    if (before % 1000 == 0)
        lm_log(LM_LOG_WARN, "input_misplaced",
               "a record keyed \"%.*s\" is on %s [%d] at offset %lld; "
               "murmur2 of its key names partition %d (%llu such so far). "
               "Its producer must partition as Kafka's Java client does "
               "(librdkafka: partitioner=murmur2_random), or two replicas "
               "may decide one lead's events at once",
               (int)(m->key_len < 64 ? m->key_len : 64), (const char *)m->key,
               rt->input_topic, (int)m->partition, (long long)m->offset,
               (int)want, (unsigned long long)before + 1);
}

int rt_batch_identify(lm_runtime *rt) {
    for (size_t i = 0; i < rt->n_items; i++) {
        item_identify(rt, &rt->items[i]);
        if (rt->w->keyed_input)
            check_partition(rt, rt->items[i].rkm);
    }
    assign_fences(rt);
    if (mark_duplicates(rt) != 0 || mark_later(rt) != 0)
        return -1;
    for (size_t i = 0; i < rt->n_items; i++) { /* what this batch applies */
        const rt_item *it = &rt->items[i];
        if (it->identified == RT_LATER)
            continue;
        if (it->rkm->offset < rt->fence_first[it->fence])
            rt->fence_first[it->fence] = it->rkm->offset;
        if (it->rkm->offset > rt->fence_last[it->fence])
            rt->fence_last[it->fence] = it->rkm->offset;
    }
    return 0;
}

/* ========================================================= attempts */

void rt_attempt_reset(lm_runtime *rt) {
    rt->dedupe->forget(rt);
    rt->n_recs = 0;
    rt->n_counts = 0;
    lm_buf_reset(&rt->recbuf);
    lm_buf_reset(&rt->claims_read);
    lm_pipe_reset(&rt->writes);
    lm_pipe_reset(&rt->index);
    for (size_t i = 0; i < rt->n_items; i++)
        item_attempt_begin(&rt->items[i]);
}

int rt_item_dead_letter(lm_runtime *rt, rt_item *it, int64_t now_ms) {
    if (it->rec_first + it->rec_n == rt->n_recs) {
        /* still deciding (step 4): the item's outputs are the newest */
        rt->n_recs = it->rec_first;
        rt->writes.buf.len = it->write_off;
        rt->writes.n -= it->write_n;
        rt->n_counts = it->count_first;
        rt->index.buf.len = it->index_off;
        rt->index.n -= it->index_n;
    } else {
        /* after the writes (step 5): keep later items' records intact */
        for (size_t k = 0; k < it->rec_n; k++)
            rt->recs[it->rec_first + k].state = RT_REC_THERE;
        for (size_t k = 0; k < it->count_n; k++)
            rt->counts[it->count_first + k].value = 0;
    }
    it->rec_first = rt->n_recs;
    it->rec_n = 0;
    it->write_len = it->write_n = 0;
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
    int rc = rt_rec_add(rt, (int)(it - rt->items), rt->dlq_topic,
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

/* ================================================== step 4: decide */

/* Runs the worker's handle on a NEW item; a failure rejects it. The
 * input's wait in Kafka (real ms) is returned. */
static int64_t item_handle(lm_runtime *rt, rt_item *it, int first_attempt,
                           int64_t now_ms, int64_t real_ms) {
    rt_out impl = {rt, it};
    lm_out out = lm_out_make(&rt_out_ops, &impl);
    lm_msg msg = {
        .event = it->event,
        .ident = &it->ident,
        .reads = rt_item_reads(rt, it),
        .now_ms = now_ms,
        .kafka_ts_ms = rd_kafka_message_timestamp(it->rkm, NULL),
        .claim_read = rt->claims,
        .claim = it->has_claim ? rt->claims_read.data + it->claim_off : NULL,
    };
    msg.wait_ms = msg.kafka_ts_ms > 0 && real_ms > msg.kafka_ts_ms
                      ? real_ms - msg.kafka_ts_ms
                      : 0;
    if (first_attempt)
        lm_histogram_observe(rt->m_wait, (double)msg.wait_ms / 1e3);
    int hrc = rt->w->handle(rt->w->ctx, &msg, &out);
    if ((hrc != 0 || lm_out_failed(&out)) && it->state == RT_NEW) {
        snprintf(it->reason, sizeof(it->reason),
                 "the %s worker could not handle this input", rt->w->name);
        rt_item_set(it, RT_REJECT);
    }
    return msg.wait_ms;
}

int rt_decide(lm_runtime *rt, int first_attempt, int64_t now_ms,
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
    if (rt->dedupe->read(rt, mget) != 0) {
        rt_replies_free(rt, n_replies);
        return -1;
    }
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        it->rec_first = rt->n_recs;
        it->write_off = rt->writes.buf.len;
        it->count_first = rt->n_counts;
        it->index_off = rt->index.buf.len;
        if (it->state == RT_DUP || it->state == RT_LATER)
            continue;
        int before =
            rt->dedupe->applied_before(rt, it, i, mget, any_recovering);
        if (before != 0) {
            rt_item_set(it, RT_DONE_BEFORE);
            if (before < 0) {
                rc = -1;
                break;
            }
            continue;
        }
        if (it->state == RT_NEW) {
            int64_t wait = item_handle(rt, it, first_attempt, now_ms, real_ms);
            if (wait > max_wait)
                max_wait = wait;
        }
        if (it->state == RT_REJECT) {
            it->claim_taken = 0; /* a dead letter takes no claim */
            if (rt_item_dead_letter(rt, it, now_ms) != 0)
                rc = -1;
        }
    }
    rt_replies_free(rt, n_replies);
    atomic_store(&rt->last_max_wait, max_wait);
    atomic_store(&rt->last_batch_mono, lm_clock_mono_ms());
    return rc;
}

/* ====================================================== batch's end */

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

void rt_apply_counts(lm_runtime *rt) {
    for (size_t i = 0; i < rt->n_counts; i++) {
        rt_count *c = &rt->counts[i];
        void *series = series_for(rt, c);
        if (c->histogram)
            lm_histogram_observe(series, c->value);
        else
            lm_counter_add(series, (uint64_t)c->value);
    }
}

void rt_batch_release(lm_runtime *rt) {
    rt->dedupe->forget(rt);
    rt_batch_drop(rt);
}

void rt_batch_drop(lm_runtime *rt) {
    for (size_t i = 0; i < rt->n_items; i++) {
        rt->items[i].event = NULL; /* freed with the arena's reset */
        rd_kafka_message_destroy(rt->items[i].rkm);
    }
    lm_arena_reset(&rt->inputs);
    rt->n_items = 0;
    rt->n_recs = 0;
    rt->n_counts = 0;
    rt->n_later = 0;
    lm_buf_reset(&rt->recbuf);
    lm_buf_reset(&rt->claims_read);
    lm_pipe_reset(&rt->writes);
    lm_pipe_reset(&rt->index);
}
