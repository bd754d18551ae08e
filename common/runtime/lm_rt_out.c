/* lm_rt_out.c — the runtime's lm_out (lm_out.h): what a worker's handle
 * emits, writes, indexes, rejects and counts, recorded straight into the
 * batch being decided.
 *
 * Outputs are serialised at once into rt->recbuf as output records
 * (rt_rec: topic, partition by murmur2 of the key, the offset the
 * read-back would scan from). Writes are encoded once, as the RESP
 * commands the write transaction sends (rt->writes, an lm_pipe), and
 * index commands likewise (rt->index); round trip 2 copies each item's
 * bytes into its MULTI/EXEC. An HSET right after an HSET of the same key
 * by the same item joins it: one command instead of two, the same effect
 * (the Redis command count per lead is a tracked figure, docs/
 * PERFORMANCE.md).
 *
 * Invariant: while an item is decided its commands are the newest in
 * rt->writes and rt->index, so a dead letter can cut them off (see
 * rt_item_dead_letter). Runs on the worker's thread. */
#include "lm_rt_internal.h"

#include "lm_out.h"

#include "lm_fmt.h"
#include "lm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_topic_index(lm_runtime *rt, const char *suffix) {
    for (int i = 0; i < rt->n_topics; i++)
        if (strcmp(rt->topics[i].suffix, suffix) == 0)
            return i;
    return -1;
}

int rt_rec_add(lm_runtime *rt, int item, int topic, const void *key,
               size_t key_len, const void *val, size_t val_len, const char *id,
               size_t id_len, int32_t partition, int64_t scan_from) {
    if (lm_array_grow((void **)&rt->recs, &rt->cap_recs, rt->n_recs + 1,
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
    r->state = RT_REC_TO_PRODUCE;
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
    o->item->claim_taken = 0; /* a dead letter takes no claim */
    rt_item_set(o->item, RT_REJECT);
}

/* The claim is written by lm_rt_by_id.c in the done record's place. A
 * claim whose key the worker cannot name fails here, so the input is
 * dead-lettered alone, not its whole batch abandoned at the write. */
static int rt_out_claim(void *impl, const char *holder, int64_t ttl_ms) {
    rt_out *o = impl;
    char key[RT_KEY_MAX];
    if (!o->rt->claims || rt_claim_key(o->rt, o->item, key, sizeof(key)) != 0)
        return -1;
    long off = lm_buf_append(&o->rt->recbuf, holder, strlen(holder) + 1);
    if (off < 0)
        return -1;
    o->item->holder_off = (size_t)off;
    o->item->claim_ttl_ms = ttl_ms;
    o->item->claim_taken = 1;
    return 0;
}

static int rt_out_emit(void *impl, const char *topic_suffix, const char *key,
                       const char *id, const ProtobufCMessage *msg) {
    rt_out *o = impl;
    lm_runtime *rt = o->rt;
    int t = rt_topic_index(rt, topic_suffix);
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
    int rc = rt_rec_add(rt, item, t, key, strlen(key), buf, n, id, strlen(id),
                        -1, -1);
    if (buf != stackbuf)
        free(buf);
    if (rc != 0)
        return -1;
    o->item->rec_n++;
    return 0;
}

/* ------------------------------------------------- writes, as RESP */

/* Parses a RESP header "<c><digits>\r\n" at s (c is '*' or '$'), within
 * the `avail` bytes there: its length (and *n), or 0 when it is not one. */
static size_t resp_header(const char *s, size_t avail, char c, uint64_t *n) {
    if (avail < 4 || s[0] != c)
        return 0;
    uint64_t v = 0;
    size_t i = 1;
    while (i < avail && i < 21 && s[i] >= '0' && s[i] <= '9')
        v = v * 10 + (uint64_t)(s[i++] - '0');
    if (i == 1 || i + 1 >= avail || s[i] != '\r' || s[i + 1] != '\n')
        return 0;
    *n = v;
    return i + 2;
}

/* 1 when an HSET of argv joins the item's last write: an HSET of the same
 * key (field-value pairs only: an even argc of at least 4). *hdr is then
 * the length of that command's "*<argc>\r\n" and *n its argc. */
static int hset_joins_last(const rt_out *o, int argc, const char *const *argv,
                           const size_t *lens, size_t *hdr, uint64_t *n) {
    const rt_item *it = o->item;
    const lm_pipe *p = &o->rt->writes;
    if (it->write_n == 0 || argc < 4 || argc % 2 != 0 ||
        strcmp(argv[0], "HSET") != 0)
        return 0;
    const char *w = p->buf.data + it->last_write;
    size_t avail = p->buf.len - it->last_write;
    uint64_t l1 = 0;
    size_t h = resp_header(w, avail, '*', n);
    if (!h || *n < 4 || avail - h < 10 || memcmp(w + h, "$4\r\nHSET\r\n", 10))
        return 0;
    size_t k = resp_header(w + h + 10, avail - h - 10, '$', &l1);
    size_t kl = lens ? lens[1] : strlen(argv[1]);
    if (!k || l1 != kl || avail - h - 10 - k < kl ||
        memcmp(w + h + 10 + k, argv[1], kl) != 0)
        return 0;
    *hdr = h;
    return 1;
}

/* Appends argv[2..argc) to the item's last command (the newest in the
 * buffer) and rewrites its argument count. 0 / -1 (OOM: unchanged). */
static int hset_join(rt_out *o, int argc, const char *const *argv,
                     const size_t *lens, size_t hdr, uint64_t n) {
    lm_pipe *p = &o->rt->writes;
    size_t last = o->item->last_write, mark = p->buf.len;
    for (int i = 2; i < argc; i++)
        if (lm_pipe_arg(p, argv[i], lens ? lens[i] : strlen(argv[i])) != 0) {
            p->buf.len = mark;
            return -1;
        }
    char head[LM_FMT_I64_MAX + 4];
    head[0] = '*';
    size_t hl = 1 + lm_fmt_i64(head + 1, (int64_t)(n + (uint64_t)argc - 2));
    head[hl++] = '\r';
    head[hl++] = '\n';
    if (hl > hdr) { /* one more digit: move the command's arguments on */
        if (lm_buf_reserve(&p->buf, hl - hdr) != 0) {
            p->buf.len = mark;
            return -1;
        }
        memmove(p->buf.data + last + hl, p->buf.data + last + hdr,
                p->buf.len - last - hdr);
        p->buf.len += hl - hdr;
    }
    memcpy(p->buf.data + last, head, hl);
    return 0;
}

static int rt_out_write(void *impl, int argc, const char *const *argv,
                        const size_t *lens) {
    rt_out *o = impl;
    lm_pipe *p = &o->rt->writes;
    size_t hdr = 0;
    uint64_t n = 0;
    if (hset_joins_last(o, argc, argv, lens, &hdr, &n)) {
        if (hset_join(o, argc, argv, lens, hdr, n) != 0)
            return -1;
    } else {
        size_t mark = p->buf.len;
        if (lm_pipe_cmd(p, argc, argv, lens) != 0)
            return -1;
        o->item->last_write = mark;
        o->item->write_n++;
    }
    o->item->write_len = p->buf.len - o->item->write_off;
    return 0;
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
        lm_array_grow((void **)&rt->counts, &rt->cap_counts, rt->n_counts + 1,
                      sizeof(rt_count)) != 0)
        return;
    rt_count *c = &rt->counts[rt->n_counts++];
    lm_fmt_cat(c->family, sizeof(c->family), family, NULL);
    lm_fmt_cat(c->labels, sizeof(c->labels), labels ? labels : "", NULL);
    c->value = value;
    c->histogram = histogram;
    o->item->count_n++;
}

const lm_out_ops rt_out_ops = {
    .emit = rt_out_emit,
    .write = rt_out_write,
    .index = rt_out_index,
    .reject = rt_out_reject,
    .count = rt_out_count,
    .claim = rt_out_claim,
};
