/* lm_rt_by_offset.c — knowing a redelivery by its offset
 * (LM_DEDUPE_BY_OFFSET: qualification, followup).
 *
 * A worker whose input only lastmile's runtime writes knows a redelivery
 * by its offset. The partition's fence (lastmile.v1.internal.
 * PartitionFence at lm:{fence}:<worker>:<topic>:<partition>) holds the
 * next offset to apply and the outboxes of the inputs whose outputs may
 * not all be acknowledged. Which are those? A batch is produced and
 * acknowledged before the next one is read, and input is committed only
 * after that, so a batch that starts at offset s (it was fetched from a
 * committed offset, or right after this process's previous batch) knows
 * every input below s is acknowledged. A batch that applies input from
 * the partition rewrites its fence (one SET in its transaction) with its
 * own inputs' outboxes (the recovered ones with the outboxes they were
 * recovered from); one that only recovers leaves it. No key per input.
 *
 * Round trip 1 reads the fences (the MGET); an item below its fence's next
 * offset was applied before, and its outbox, if the fence still holds it,
 * is restored. A fence that does not decode (fence_unreadable), or was
 * written for another log of its partition (the topic was made again:
 * fence_of_another_log when the record at its anchor — the last input it
 * applied — is another one or gone, checked once an assignment before
 * input is skipped; fence_ahead_of_log for fences without an anchor) is
 * logged and taken as empty; one whose log cannot be told
 * (fence_log_unknown: the broker does not answer) abandons the batch. A dead
 * letter decided after the writes swaps the fence with a Lua compare-and-set:
 * only if it still holds what this batch wrote (fence_moved otherwise, and the
 * batch is left to the replica that moved it).
 *
 * A fence keeps each output as rt_item_compact makes it: qualification's
 * decisions without the lead, which the redelivered input (the same
 * offset of the same log) gives back on restore (lm_rt_outbox.c). Its
 * inputs are kept compressed (PartitionFence.inputs_zstd: zstd level 1,
 * a 128 KB window): a batch's outboxes are records of one shape, which
 * zstd takes to a quarter to a sixth (docs/PERFORMANCE.md). They are
 * decompressed only for a batch that skips input below the fence, the
 * rare redelivery; fences written before (`inputs`) are read as they are.
 *
 * State (rt->dedupe_state, an rt_fences): the fences as round trip 1 read
 * them, their inputs decompressed, the bytes round trip 2 wrote and the
 * compressor; owned here, freed by fini. Runs on the worker's thread. */
#include "lm_rt_internal.h"

#include "lm_log.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define RT_FENCE_ZSTD_LEVEL      1
#define RT_FENCE_ZSTD_WINDOW_LOG 17 /* 128 KB: ~300 KB of compressor state */
/* the most a fence's inputs decompress to: Redis's largest value, which
   the uncompressed inputs had to fit before */
#define RT_FENCE_INPUTS_MAX (512u << 20)

typedef struct rt_fences {
    /* each fence as round trip 1 read it (NULL when there was none, or it
       is not taken: see by_offset_read) */
    Lastmile__V1__Internal__PartitionFence *prev[RT_PARTITIONS_MAX];
    /* prev[f]'s inputs_zstd decompressed, when the batch skips input below
       it (else NULL; a fence written before holds prev[f]->inputs) */
    Lastmile__V1__Internal__FencedInputs *unzipped[RT_PARTITIONS_MAX];
    /* the bytes round trip 2 wrote to fence f: bytes, from off[f] to
       off[f + 1] */
    lm_buf bytes;
    size_t off[RT_PARTITIONS_MAX + 1];
    lm_buf packed, zipped; /* one fence's inputs, packed and compressed */
    ZSTD_CCtx *zc;         /* made on the first fence written */
} rt_fences;

static int by_offset_init(lm_runtime *rt) {
    rt->dedupe_state = calloc(1, sizeof(rt_fences));
    return rt->dedupe_state ? 0 : -1;
}

/* Frees fence f as round trip 1 read it. */
static void fence_drop(rt_fences *fs, int f) {
    if (fs->prev[f])
        lastmile__v1__internal__partition_fence__free_unpacked(fs->prev[f],
                                                               NULL);
    if (fs->unzipped[f])
        lastmile__v1__internal__fenced_inputs__free_unpacked(fs->unzipped[f],
                                                             NULL);
    fs->prev[f] = NULL;
    fs->unzipped[f] = NULL;
}

static void by_offset_forget(lm_runtime *rt) {
    rt_fences *fs = rt->dedupe_state;
    for (int f = 0; fs && f < rt->n_fences; f++)
        fence_drop(fs, f);
}

static void by_offset_fini(lm_runtime *rt) {
    rt_fences *fs = rt->dedupe_state;
    if (!fs)
        return;
    for (int f = 0; f < RT_PARTITIONS_MAX; f++)
        fence_drop(fs, f);
    lm_buf_free(&fs->bytes);
    lm_buf_free(&fs->packed);
    lm_buf_free(&fs->zipped);
    ZSTD_freeCCtx(fs->zc);
    free(fs);
    rt->dedupe_state = NULL;
}

/* MGET of every fence of the batch. */
static int by_offset_pipe_reads(lm_runtime *rt, size_t *n_keys) {
    lm_pipe *p = &rt->pipe;
    char key[RT_KEY_MAX];
    *n_keys = (size_t)rt->n_fences;
    if (lm_pipe_begin(p, 1 + (size_t)rt->n_fences) != 0 ||
        lm_pipe_arg(p, "MGET", 4) != 0)
        return -1;
    for (int f = 0; f < rt->n_fences; f++) {
        rt_fence_key(rt, rt->fences[f], key, sizeof(key));
        if (lm_pipe_arg(p, key, strlen(key)) != 0)
            return -1;
    }
    lm_pipe_end(p);
    return 0;
}

/* The batch's record at `offset` on fence f's partition, or NULL. */
static const rd_kafka_message_t *batch_record_at(const lm_runtime *rt, int f,
                                                 int64_t offset) {
    for (size_t i = 0; i < rt->n_items; i++)
        if (rt->items[i].fence == f && rt->items[i].rkm->offset == offset)
            return rt->items[i].rkm;
    return NULL;
}

/* Does anchored fence pf (fence f of the batch) belong to the partition's
 * log? The record at its anchor must be the one it names: read from the
 * batch when there, else from the broker. 1 yes, 0 no (logged), -1 the
 * broker could not say (logged). */
static int fence_of_this_log(lm_runtime *rt, int f,
                             const Lastmile__V1__Internal__PartitionFence *pf,
                             const char *key) {
    const rd_kafka_message_t *rec = batch_record_at(rt, f, pf->anchor_offset);
    uint64_t fp = 0;
    char err[256] = "";
    int got =
        rec ? 0
            : rt_kafka_fingerprint_at(rt, rt->fences[f], pf->anchor_offset, &fp,
                                      err, sizeof(err));
    if (rec)
        fp = rt_record_fingerprint(rec);
    if (got < 0) {
        lm_log(LM_LOG_ERROR, "fence_log_unknown",
               "%s says input below offset %lld was applied, and the record "
               "at %lld that would prove it is of this log could not be "
               "read (%s); stopping rather than skip or repeat input. It is "
               "tried again on restart; if the broker answers and this "
               "persists, delete the key (its partition's input is then "
               "decided as new)",
               key, (long long)pf->next_offset, (long long)pf->anchor_offset,
               err);
        return -1;
    }
    if (got == 0 && fp == pf->anchor_fingerprint)
        return 1;
    lm_log(LM_LOG_WARN, "fence_of_another_log",
           "%s says input below offset %lld was applied, but the record at "
           "%lld is %s: the topic was created again. Its input is decided as "
           "new",
           key, (long long)pf->next_offset, (long long)pf->anchor_offset,
           got == 0 ? "another one" : "not in the log");
    return 0;
}

/* Decompresses and unpacks pf's inputs_zstd into *out (the caller frees
 * it). 0; -1 when they are not a zstd frame of a FencedInputs within
 * RT_FENCE_INPUTS_MAX; -2 out of memory. */
static int fence_unzip(const Lastmile__V1__Internal__PartitionFence *pf,
                       Lastmile__V1__Internal__FencedInputs **out) {
    const ProtobufCBinaryData *z = &pf->inputs_zstd;
    unsigned long long n = ZSTD_getFrameContentSize(z->data, z->len);
    if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR ||
        n > RT_FENCE_INPUTS_MAX)
        return -1;
    uint8_t *raw = malloc(n ? (size_t)n : 1);
    if (!raw)
        return -2;
    size_t got = ZSTD_decompress(raw, (size_t)n, z->data, z->len);
    *out = ZSTD_isError(got) || got != n
               ? NULL
               : lastmile__v1__internal__fenced_inputs__unpack(NULL, got, raw);
    free(raw);
    return *out ? 0 : -1;
}

/* Takes fence f's compressed inputs (pf, read from `key`) for a batch that
 * skips input below it. 1 taken; 0 unreadable (logged: the fence is then
 * taken as empty); -1 out of memory. */
static int fence_take_inputs(rt_fences *fs, int f,
                             const Lastmile__V1__Internal__PartitionFence *pf,
                             const char *key, const char *worker) {
    int z = fence_unzip(pf, &fs->unzipped[f]);
    if (z == -1)
        lm_log(LM_LOG_ERROR, "fence_unreadable",
               "%s holds compressed inputs that do not decompress to a "
               "fence's inputs (%zu bytes); input from its partition is "
               "decided as new. Delete the key if it was not written by "
               "lastmile %s",
               key, pf->inputs_zstd.len, worker);
    return z == 0 ? 1 : z == -1 ? 0 : -1;
}

/* Takes the fences the MGET read. A fence that is not a PartitionFence,
 * or belongs to another log of its partition (ahead of the log's end, or
 * its anchor is another record), is logged and taken as empty: its
 * partition's input is decided as new. A fence whose log cannot be told
 * stops the batch (-1). */
static int by_offset_read(lm_runtime *rt, const redisReply *mget) {
    rt_fences *fs = rt->dedupe_state;
    char key[RT_KEY_MAX];
    by_offset_forget(rt);
    for (int f = 0; f < rt->n_fences; f++) {
        size_t len = 0;
        const char *v = lm_reply_str(mget->element[f], &len);
        if (!v)
            continue;
        Lastmile__V1__Internal__PartitionFence *pf =
            lastmile__v1__internal__partition_fence__unpack(NULL, len,
                                                            (const uint8_t *)v);
        rt_fence_key(rt, rt->fences[f], key, sizeof(key));
        if (!pf) {
            lm_log(LM_LOG_ERROR, "fence_unreadable",
                   "%s does not hold a readable fence (%zu bytes); input "
                   "from its partition is decided as new. Delete the key if "
                   "it was not written by lastmile %s",
                   key, len, rt->w->name);
            continue;
        }
        int skips = rt->fence_first[f] < pf->next_offset;
        if (skips && !pf->anchored &&
            rt_kafka_log_ends_before(rt, rt->fences[f], pf->next_offset)) {
            lm_log(LM_LOG_WARN, "fence_ahead_of_log",
                   "%s says input below offset %lld was applied, but the "
                   "partition ends before it: the topic was created again. "
                   "Its input is decided as new",
                   key, (long long)pf->next_offset);
            lastmile__v1__internal__partition_fence__free_unpacked(pf, NULL);
            continue;
        }
        if (skips && pf->anchored && !rt->log_known[rt->fences[f]]) {
            int ours = fence_of_this_log(rt, f, pf, key);
            if (ours < 0) {
                lastmile__v1__internal__partition_fence__free_unpacked(pf,
                                                                       NULL);
                return -1;
            }
            rt->log_known[rt->fences[f]] = 1;
            if (!ours) {
                lastmile__v1__internal__partition_fence__free_unpacked(pf,
                                                                       NULL);
                continue;
            }
        }
        int taken = skips && pf->inputs_zstd.len > 0
                        ? fence_take_inputs(fs, f, pf, key, rt->w->name)
                        : 1;
        if (taken <= 0) {
            lastmile__v1__internal__partition_fence__free_unpacked(pf, NULL);
            if (taken < 0)
                return -1;
            continue;
        }
        fs->prev[f] = pf;
    }
    return 0;
}

/* The outputs of the input at `offset` among a fence's n inputs, or
 * NULL. */
static const Lastmile__V1__Internal__FencedInput *
fence_find(Lastmile__V1__Internal__FencedInput *const *inputs, size_t n,
           int64_t offset) {
    size_t lo = 0, hi = n;
    while (lo < hi) { /* inputs are in increasing offset order */
        size_t mid = lo + (hi - lo) / 2;
        if (inputs[mid]->offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && inputs[lo]->offset == offset ? inputs[lo] : NULL;
}

/* Applied before when below its fence's next offset; its outbox is
 * restored when the fence holds it (else it was acknowledged before this
 * batch began). */
static int by_offset_applied_before(lm_runtime *rt, rt_item *it, size_t i,
                                    const redisReply *mget, int *recovering) {
    const rt_fences *fs = rt->dedupe_state;
    const Lastmile__V1__Internal__PartitionFence *pf = fs->prev[it->fence];
    const Lastmile__V1__Internal__FencedInputs *unz = fs->unzipped[it->fence];
    (void)i;
    (void)mget;
    if (!pf || it->rkm->offset >= pf->next_offset)
        return 0;
    const Lastmile__V1__Internal__FencedInput *fi =
        unz ? fence_find(unz->inputs, unz->n_inputs, it->rkm->offset)
            : fence_find(pf->inputs, pf->n_inputs, it->rkm->offset);
    if (!fi)
        return 1;
    if (rt_records_restore(rt, it, fi->records, fi->n_records) != 0)
        return -1;
    *recovering = 1;
    return 1;
}

/* The outbox goes in the fence, not in a command of its own. */
static int by_offset_pipe_item(lm_runtime *rt, const rt_item *it,
                               int64_t now_ms) {
    (void)rt;
    (void)it;
    (void)now_ms;
    return 0;
}

/* Packs and compresses a fence's inputs into fs->zipped, and points *z
 * there. 0 / -1 (out of memory, or the compressor refused). */
static int fence_zip(rt_fences *fs,
                     const Lastmile__V1__Internal__FencedInputs *in,
                     ProtobufCBinaryData *z) {
    lm_buf_reset(&fs->packed);
    lm_buf_reset(&fs->zipped);
    if (rt_pb_pack_append(&in->base, &fs->packed) != 0)
        return -1;
    if (!fs->zc) {
        ZSTD_CCtx *zc = ZSTD_createCCtx();
        if (!zc ||
            ZSTD_isError(ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel,
                                                RT_FENCE_ZSTD_LEVEL)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(zc, ZSTD_c_windowLog,
                                                RT_FENCE_ZSTD_WINDOW_LOG)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1))) {
            ZSTD_freeCCtx(zc); /* NULL ok */
            return -1;
        }
        fs->zc = zc; /* set up whole, or not kept */
    }
    size_t cap = ZSTD_compressBound(fs->packed.len);
    if (lm_buf_reserve(&fs->zipped, cap) != 0)
        return -1;
    size_t n = ZSTD_compress2(fs->zc, fs->zipped.data, cap, fs->packed.data,
                              fs->packed.len);
    if (ZSTD_isError(n))
        return -1;
    fs->zipped.len = n;
    z->data = (uint8_t *)fs->zipped.data;
    z->len = n;
    return 0;
}

/* Appends fence `f` as this batch leaves it to the fences' bytes: the next
 * offset after the batch's last on the partition, and the outboxes of the
 * batch's inputs there (compressed: fence_zip). Written only where the batch
 * applies input (see by_offset_pipe_fences), so that offset is past every input
 * of the fence it replaces, and none of that fence's outboxes is kept: those
 * inputs are all in this batch (recovered, with their outboxes) or were
 * acknowledged before it began. 0 / -1 (OOM). */
static int fence_pack(lm_runtime *rt, int f, int64_t now_ms) {
    rt_fences *fs = rt->dedupe_state;
    size_t n_in = 0, n_recs = 0;
    for (size_t i = 0; i < rt->n_items; i++) {
        const rt_item *it = &rt->items[i];
        if (it->fence == f && it->state != RT_DUP && it->rec_n) {
            n_in++;
            n_recs += it->rec_n;
            if (rt_item_compact(rt, it) != 0)
                return -1;
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
        if (it->fence != f || it->state == RT_DUP || !it->rec_n)
            continue;
        lastmile__v1__internal__fenced_input__init(&in[ni]);
        in[ni].offset = it->rkm->offset;
        in[ni].records = rp + nr;
        in[ni].n_records = it->rec_n;
        for (size_t k = 0; k < it->rec_n; k++, nr++) {
            rt_record_fill(rt, &rt->recs[it->rec_first + k], &rr[nr]);
            rp[nr] = &rr[nr];
        }
        inp[ni] = &in[ni];
        ni++;
    }
    Lastmile__V1__Internal__PartitionFence pf =
        LASTMILE__V1__INTERNAL__PARTITION_FENCE__INIT;
    pf.next_offset = rt->fence_last[f] + 1;
    const rd_kafka_message_t *last = batch_record_at(rt, f, rt->fence_last[f]);
    if (last) { /* always: fence_last is an item's offset */
        pf.anchored = 1;
        pf.anchor_offset = last->offset;
        pf.anchor_fingerprint = rt_record_fingerprint(last);
    }
    Lastmile__V1__Internal__FencedInputs fin =
        LASTMILE__V1__INTERNAL__FENCED_INPUTS__INIT;
    fin.n_inputs = ni;
    fin.inputs = inp;
    if (ni > 0 && fence_zip(fs, &fin, &pf.inputs_zstd) != 0)
        goto out;
    pf.written_at_ms = now_ms;
    rc = rt_pb_pack_append(&pf.base, &fs->bytes);
out:
    free(in);
    free(inp);
    free(rr);
    free(rp);
    return rc;
}

/* A SET of each fence where the batch applies input: a partition whose
 * input is all recovered (or deferred) keeps its fence as it is. */
static int by_offset_pipe_fences(lm_runtime *rt, size_t item_cmds,
                                 int64_t now_ms) {
    rt_fences *fs = rt->dedupe_state;
    lm_pipe *p = &rt->pipe;
    char applies[RT_PARTITIONS_MAX] = {0};
    int n_applies = 0;
    (void)item_cmds; /* an applied item may have no command at all */
    for (size_t i = 0; i < rt->n_items; i++) {
        const rt_item *it = &rt->items[i];
        if (rt_item_applies(it) && !applies[it->fence]) {
            applies[it->fence] = 1;
            n_applies++;
        }
    }
    if (n_applies == 0)
        return 0; /* only recovery: nothing to write */
    lm_buf_reset(&fs->bytes);
    for (int f = 0; f < rt->n_fences; f++) {
        char key[RT_KEY_MAX];
        fs->off[f] = fs->off[f + 1] = fs->bytes.len;
        if (!applies[f])
            continue;
        rt_fence_key(rt, rt->fences[f], key, sizeof(key));
        if (fence_pack(rt, f, now_ms) != 0)
            return -1;
        fs->off[f + 1] = fs->bytes.len;
        if (lm_pipe_begin(p, 3) != 0 || lm_pipe_arg(p, "SET", 3) != 0 ||
            lm_pipe_arg(p, key, strlen(key)) != 0 ||
            lm_pipe_arg(p, fs->bytes.data + fs->off[f],
                        fs->off[f + 1] - fs->off[f]) != 0)
            return -1;
        lm_pipe_end(p);
    }
    return n_applies;
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
    rt_fences *fs = rt->dedupe_state;
    char key[RT_KEY_MAX];
    rt_fence_key(rt, rt->fences[f], key, sizeof(key));
    size_t old_off = fs->off[f];
    size_t old_len = fs->off[f + 1] - old_off;
    size_t new_off = fs->bytes.len;
    if (fence_pack(rt, f, now_ms) != 0)
        return -1;
    lm_pipe *p = &rt->pipe;
    if (lm_pipe_begin(p, 6) != 0 || lm_pipe_arg(p, "EVAL", 4) != 0 ||
        lm_pipe_arg(p, fence_swap_lua, sizeof(fence_swap_lua) - 1) != 0 ||
        lm_pipe_arg(p, "1", 1) != 0 || lm_pipe_arg(p, key, strlen(key)) != 0 ||
        lm_pipe_arg(p, fs->bytes.data + old_off, old_len) != 0 ||
        lm_pipe_arg(p, fs->bytes.data + new_off, fs->bytes.len - new_off) != 0)
        return -1;
    lm_pipe_end(p);
    return 0;
}

/* The swap of every fence with a late dead letter. */
static int by_offset_pipe_late(lm_runtime *rt, int64_t now_ms) {
    char failed[RT_PARTITIONS_MAX] = {0};
    for (size_t i = 0; i < rt->n_items; i++)
        if (rt->items[i].write_failed)
            failed[rt->items[i].fence] = 1;
    for (int f = 0; f < rt->n_fences; f++)
        if (failed[f] && pipe_fence_swap(rt, f, now_ms) != 0)
            return -1;
    return 0;
}

/* Every swap must have found the fence as this batch wrote it. */
static int by_offset_late_applied(lm_runtime *rt) {
    int rc = 0;
    for (size_t k = 0; k < rt->pipe.n; k++) {
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
    return rc;
}

const rt_dedupe_ops rt_dedupe_by_offset = {
    .what = "fences",
    .init = by_offset_init,
    .fini = by_offset_fini,
    .pipe_watch = rt_pipe_watch_fences,
    .pipe_reads = by_offset_pipe_reads,
    .read = by_offset_read,
    .applied_before = by_offset_applied_before,
    .pipe_item = by_offset_pipe_item,
    .pipe_fences = by_offset_pipe_fences,
    .pipe_late = by_offset_pipe_late,
    .late_applied = by_offset_late_applied,
    .forget = by_offset_forget,
};
