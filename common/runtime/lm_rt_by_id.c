/* lm_rt_by_id.c — knowing a redelivery by its id (LM_DEDUPE_BY_ID:
 * intake, timing).
 *
 * Every applied input gets a done record, lm:{<tag>}:done:<worker>:<id>,
 * kept LASTMILE_DEDUPE_TTL_S and holding the input's outbox; it is set in
 * the batch's transaction right after the input's writes. Round trip 1
 * reads every item's done record: an item that has one was applied before
 * (a redelivery, or the same event published twice at two offsets) and
 * is recovered from it. Each transaction also INCRs every fence of the
 * batch, so a replica working on the same partitions sees its WATCH fail.
 * A dead letter decided after the writes rewrites the item's done record.
 * A replay (`lastmile dlq replay`: header lm-id "replay:<dead_letter_id>")
 * of an input whose done record holds only its dead letter is decided
 * again, and its new done record then makes a second replay a redelivery.
 *
 * A done record keeps each output as rt_item_compact makes it (intake's
 * LeadAccepted as its accepted_at_ms alone, rebuilt from the input on
 * restore: lm_rt_outbox.c).
 *
 * On a Redis Cluster every worker knows redeliveries this way (fences are
 * not used there), and the done record also keeps the input's side writes
 * (Outbox.side; lm_rt_cluster.c); lm_rt_cluster.c builds its units with
 * rt_done_key and rt_done_record_pipe.
 *
 * No state of its own. Runs on the worker's thread. */
#include "lm_rt_internal.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_log.h"

#include <string.h>

void rt_done_key(const lm_runtime *rt, const lm_ident *id, char *buf,
                 size_t bufsz) {
    lm_fmt_cat(buf, bufsz, "lm:{", id->tag, "}:done:", rt->w->name, ":", id->id,
               NULL);
}

static int by_id_init(lm_runtime *rt) {
    (void)rt;
    return 0;
}

static void by_id_nothing(lm_runtime *rt) {
    (void)rt;
}

int rt_claim_key(const lm_runtime *rt, const rt_item *it, char *buf,
                 size_t bufsz) {
    if (!rt->claims || it->identified != RT_NEW)
        return -1;
    return rt->w->claim_key(rt->w->ctx, &it->ident, buf, bufsz);
}

/* WATCH of every partition's fence of the input topic (rt->watch_all of
 * them). 0 / -1 (OOM). */
static int pipe_watch_every_fence(lm_runtime *rt) {
    lm_pipe *p = &rt->pipe;
    char key[RT_KEY_MAX];
    if (lm_pipe_begin(p, 1 + (size_t)rt->watch_all) != 0 ||
        lm_pipe_arg(p, "WATCH", 5) != 0)
        return -1;
    for (int32_t f = 0; f < rt->watch_all; f++) {
        rt_fence_key(rt, f, key, sizeof(key));
        if (lm_pipe_arg(p, key, strlen(key)) != 0)
            return -1;
    }
    lm_pipe_end(p);
    return 0;
}

/* The claims of the items to decide, as more keys of the WATCH. */
static int watch_claims(lm_runtime *rt, lm_pipe *p) {
    char key[RT_KEY_MAX];
    for (size_t i = 0; i < rt->n_items; i++) {
        const rt_item *it = &rt->items[i];
        if (it->identified != RT_NEW)
            continue;
        /* a key the worker cannot name: its done record keeps the count */
        if (rt_claim_key(rt, it, key, sizeof(key)) != 0)
            rt_done_key(rt, &it->ident, key, sizeof(key));
        if (lm_pipe_arg(p, key, strlen(key)) != 0)
            return -1;
    }
    return 0;
}

/* Round trip 1's WATCH: the batch's fences; with claims, what guards a
 * claim against another replica taking it meanwhile (docs/DELIVERY.md,
 * "A claim that is the done record"): every partition's fence when this
 * replica holds every partition (watch_all: that count, for the attempt,
 * which by_id_pipe_fences then INCRs), else each claim too. */
static int by_id_pipe_watch(lm_runtime *rt) {
    rt->watch_all = rt->claims ? rt->every_partition : 0;
    if (rt->watch_all > 0)
        return pipe_watch_every_fence(rt);
    size_t n_claims = 0;
    for (size_t i = 0; rt->claims && i < rt->n_items; i++)
        n_claims += rt->items[i].identified == RT_NEW;
    return rt_pipe_watch(rt, n_claims, n_claims ? watch_claims : NULL);
}

/* MGET of every item's done record, then (with claims) of every item's
 * claim: an item without one reads its done record again in its place. */
static int by_id_pipe_reads(lm_runtime *rt, size_t *n_keys) {
    lm_pipe *p = &rt->pipe;
    char key[RT_KEY_MAX];
    *n_keys = rt->n_items * (rt->claims ? 2 : 1);
    if (lm_pipe_begin(p, 1 + *n_keys) != 0 || lm_pipe_arg(p, "MGET", 4))
        return -1;
    for (size_t i = 0; i < *n_keys; i++) {
        const rt_item *it = &rt->items[i % rt->n_items];
        if (i < rt->n_items || rt_claim_key(rt, it, key, sizeof(key)) != 0)
            rt_done_key(rt, &it->ident, key, sizeof(key));
        if (lm_pipe_arg(p, key, strlen(key)) != 0)
            return -1;
    }
    lm_pipe_end(p);
    return 0;
}

static int by_id_read(lm_runtime *rt, const redisReply *mget) {
    (void)rt;
    (void)mget;
    return 0;
}

/* 1 when the item is a replay of a dead letter (its lm-id header says so)
 * and the outbox just restored for it holds nothing but dead letters. */
static int replay_of_dead_letter(const lm_runtime *rt, const rt_item *it) {
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t vn = 0;
    if (it->rec_n == 0 || !it->rkm ||
        rd_kafka_message_headers(it->rkm, &hdrs) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, "lm-id", &v, &vn) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        !v || vn < 7 || memcmp(v, "replay:", 7) != 0)
        return 0;
    for (size_t k = 0; k < it->rec_n; k++)
        if (rt->recs[it->rec_first + k].topic != rt->dlq_topic)
            return 0;
    return 1;
}

/* Restores the item's outbox from a done record or a claim naming it
 * (one that does not decode is logged and its outputs not produced): 1.
 * A replayed dead letter is not applied (replay_of_dead_letter): 0,
 * decided again. */
static int restore_applied(lm_runtime *rt, rt_item *it, const char *done,
                           size_t len, int *recovering) {
    int restored = rt_outbox_restore(rt, it, done, len) == 0;
    if (restored && replay_of_dead_letter(rt, it)) {
        rt->n_recs = it->rec_first; /* the restored records are the newest */
        it->rec_n = 0;
        rt->index.buf.len = it->index_off; /* and its side writes, if any */
        rt->index.n -= it->index_n;
        it->index_len = it->index_n = 0;
        lm_log(LM_LOG_INFO, "replayed",
               "%s was dead-lettered before and is replayed: decided again",
               it->ident.id);
        return 0;
    }
    if (restored)
        *recovering = 1;
    else
        lm_log(LM_LOG_ERROR, "outbox_unreadable",
               "the done record of %s does not hold a readable outbox; its "
               "outputs cannot be checked and are not produced again",
               it->ident.id);
    return 1;
}

/* The item's claim as round trip 1 read it (reply r), kept for handle.
 * When it names this very input, the input was applied: its outbox is
 * restored from the claim (1); past the dedupe TTL its outputs are taken
 * as delivered (a batch's outputs are acknowledged before its input is
 * committed: this is a repeat of the event, not a crash's redelivery)
 * and none is produced or read back. 0 not applied; -1 out of memory. */
static int claim_applied_before(lm_runtime *rt, rt_item *it,
                                const redisReply *r, int *recovering) {
    size_t len = 0;
    const char *v = lm_reply_str(r, &len);
    if (!v)
        return 0;
    Lastmile__V1__Internal__Claim *c =
        len && v[0] == '\n' /* field 1: a lead id never starts so */
            ? lastmile__v1__internal__claim__unpack(NULL, len,
                                                    (const uint8_t *)v)
            : NULL;
    int plain = !c || !c->holder[0] || !c->input_id[0]; /* as before */
    const char *holder = plain ? v : c->holder;
    size_t n = plain ? strnlen(v, len) : strlen(c->holder);
    long off = lm_buf_append(&rt->claims_read, holder, n);
    if (off < 0 || lm_buf_append(&rt->claims_read, "", 1) < 0) {
        if (c)
            lastmile__v1__internal__claim__free_unpacked(c, NULL);
        return -1;
    }
    it->claim_off = (size_t)off;
    it->has_claim = 1;
    int rc = 0;
    if (plain) {
        if (c)
            lastmile__v1__internal__claim__free_unpacked(c, NULL);
        return 0;
    }
    if (strcmp(c->input_id, it->ident.id) == 0) {
        int64_t age_ms = lm_clock_real_ms() - c->claimed_at_ms;
        if (age_ms > rt->s.dedupe_ttl_s * 1000) {
            lm_log(LM_LOG_INFO, "seen_long_ago",
                   "%s took its claim %lld s ago, past the dedupe TTL: "
                   "applied, its outputs taken as delivered",
                   it->ident.id, (long long)(age_ms / 1000));
            rc = 1;
        } else {
            rc = restore_applied(rt, it, (const char *)c->outbox.data,
                                 c->outbox.len, recovering);
        }
    }
    lastmile__v1__internal__claim__free_unpacked(c, NULL);
    return rc;
}

/* Applied before when its claim names it (claim_applied_before) or it
 * has a done record; its outbox is restored from that. */
static int by_id_applied_before(lm_runtime *rt, rt_item *it, size_t i,
                                const redisReply *mget, int *recovering) {
    if (rt->claims && it->identified == RT_NEW) {
        int c = claim_applied_before(rt, it, mget->element[rt->n_items + i],
                                     recovering);
        if (c != 0)
            return c;
    }
    size_t len = 0;
    const char *done = lm_reply_str(mget->element[i], &len);
    return done ? restore_applied(rt, it, done, len, recovering) : 0;
}

/* Appends SET key val PX ttl_ms to p. 0 / -1 (OOM). */
static int pipe_set_px(lm_pipe *p, const char *key, const char *val, size_t len,
                       int64_t ttl_ms) {
    char ttl[LM_FMT_I64_MAX];
    size_t tl = lm_fmt_i64(ttl, ttl_ms);
    if (lm_pipe_begin(p, 5) != 0 || lm_pipe_arg(p, "SET", 3) != 0 ||
        lm_pipe_arg(p, key, strlen(key)) != 0 ||
        lm_pipe_arg(p, val, len) != 0 || lm_pipe_arg(p, "PX", 2) != 0 ||
        lm_pipe_arg(p, ttl, tl) != 0)
        return -1;
    lm_pipe_end(p);
    return 0;
}

/* Appends SET of the claim the item took, holding its holder, its id and
 * its outbox, for the claim's TTL. 0 / -1 (OOM). */
static int claim_pipe(lm_runtime *rt, const rt_item *it, lm_pipe *p) {
    char key[RT_KEY_MAX];
    /* the outbox without its own time: claimed_at_ms says it */
    if (rt_claim_key(rt, it, key, sizeof(key)) != 0 ||
        rt_outbox_pack(rt, it, &rt->obbuf, 0) != 0)
        return -1;
    Lastmile__V1__Internal__Claim c = LASTMILE__V1__INTERNAL__CLAIM__INIT;
    c.holder = rt->recbuf.data + it->holder_off; /* pack only reads */
    c.input_id = (char *)it->ident.id;
    c.outbox.data = (uint8_t *)rt->obbuf.data;
    c.outbox.len = rt->obbuf.len;
    c.claimed_at_ms = lm_clock_real_ms(); /* as Redis ages the TTLs */
    lm_buf_reset(&rt->claimbuf);
    if (rt_pb_pack_append(&c.base, &rt->claimbuf) != 0)
        return -1;
    return pipe_set_px(p, key, rt->claimbuf.data, rt->claimbuf.len,
                       it->claim_ttl_ms);
}

/* What records the item's outbox: the claim it took, else a done record. */
static int outbox_pipe(lm_runtime *rt, const rt_item *it, int64_t now_ms) {
    return it->claim_taken ? claim_pipe(rt, it, &rt->pipe)
                           : rt_done_record_pipe(rt, it, &rt->pipe, now_ms);
}

/* Appends SET of an item's done record, holding its outbox (the item's
 * records as they are now), with the dedupe TTL. 0 / -1 (OOM). */
int rt_done_record_pipe(lm_runtime *rt, const rt_item *it, lm_pipe *p,
                        int64_t now_ms) {
    char key[RT_KEY_MAX];
    rt_done_key(rt, &it->ident, key, sizeof(key));
    if (rt_outbox_pack(rt, it, &rt->obbuf, now_ms) != 0)
        return -1;
    return pipe_set_px(p, key, rt->obbuf.data, rt->obbuf.len,
                       rt->s.dedupe_ttl_s * 1000);
}

static int by_id_pipe_item(lm_runtime *rt, const rt_item *it, int64_t now_ms) {
    return outbox_pipe(rt, it, now_ms) == 0 ? 1 : -1;
}

/* An INCR of every fence of the batch (each applied item queued its done
 * record, so item_cmds == 0 means nothing is applied); of every fence of
 * the input topic when the batch watched them all (rt->watch_all: as
 * many as it watched, even if a rebalance took partitions meanwhile). */
static int by_id_pipe_fences(lm_runtime *rt, size_t item_cmds, int64_t now_ms) {
    char key[RT_KEY_MAX];
    (void)now_ms;
    if (item_cmds == 0)
        return 0;
    int n = rt->watch_all > 0 ? (int)rt->watch_all : rt->n_fences;
    for (int f = 0; f < n; f++) {
        rt_fence_key(rt, rt->watch_all > 0 ? f : rt->fences[f], key,
                     sizeof(key));
        if (lm_pipe_cmd_strs(&rt->pipe, "INCR", key, NULL) != 0)
            return -1;
    }
    return n;
}

/* Each late dead letter's done record (or the claim it took, which keeps
 * its holder), rewritten to hold it. */
static int by_id_pipe_late(lm_runtime *rt, int64_t now_ms) {
    for (size_t i = 0; i < rt->n_items; i++)
        if (rt->items[i].write_failed &&
            outbox_pipe(rt, &rt->items[i], now_ms) != 0)
            return -1;
    return 0;
}

static int by_id_late_applied(lm_runtime *rt) {
    (void)rt;
    return 0;
}

const rt_dedupe_ops rt_dedupe_by_id = {
    .what = "done records",
    .init = by_id_init,
    .fini = by_id_nothing,
    .pipe_watch = by_id_pipe_watch,
    .pipe_reads = by_id_pipe_reads,
    .read = by_id_read,
    .applied_before = by_id_applied_before,
    .pipe_item = by_id_pipe_item,
    .pipe_fences = by_id_pipe_fences,
    .pipe_late = by_id_pipe_late,
    .late_applied = by_id_late_applied,
    .forget = by_id_nothing,
};
