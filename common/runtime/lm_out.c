/* lm_out.c — the worker-facing outputs, plans and reads (lm_runtime.h),
 * dispatched to whoever made the lm_out (lm_out.h): the runtime or a
 * test's recorder. Also the reply helpers and protobuf packing that
 * decision code shares. No state of its own. */
#include "lm_out.h"

#include "lm_fmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ outputs */

int lm_out_failed(const lm_out *o) {
    return o->failed;
}

static int out_result(lm_out *o, int rc) {
    if (rc != 0)
        o->failed = 1;
    return rc;
}

int lm_out_emit(lm_out *o, const char *topic_suffix, const char *key,
                const char *id, const ProtobufCMessage *msg) {
    return out_result(o, o->ops->emit(o->impl, topic_suffix, key, id, msg));
}

int lm_out_write(lm_out *o, int argc, const char *const *argv,
                 const size_t *lens) {
    if (argc <= 0)
        return out_result(o, -1);
    return out_result(o, o->ops->write(o->impl, argc, argv, lens));
}

int lm_out_write_strs(lm_out *o, const char *arg0, ...) {
    const char *argv[LM_PIPE_ARGS_MAX];
    va_list ap;
    va_start(ap, arg0);
    int argc = lm_strs_collect(arg0, ap, argv);
    va_end(ap);
    if (argc < 0)
        return out_result(o, -1);
    return lm_out_write(o, argc, argv, NULL);
}

int lm_out_index(lm_out *o, int argc, const char *const *argv,
                 const size_t *lens) {
    if (argc <= 0)
        return out_result(o, -1);
    return out_result(o, o->ops->index(o->impl, argc, argv, lens));
}

void lm_out_reject(lm_out *o, const char *fmt, ...) {
    char reason[LM_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    o->ops->reject(o->impl, reason);
}

void lm_out_count(lm_out *o, const char *family, const char *labels,
                  double value) {
    o->ops->count(o->impl, family, labels, value, 0);
}

void lm_out_observe(lm_out *o, const char *family, double seconds) {
    o->ops->count(o->impl, family, NULL, seconds, 1);
}

int lm_out_claim(lm_out *o, const char *holder, int64_t ttl_ms) {
    if (!o->ops->claim || !holder || strlen(holder) >= LM_ID_MAX || ttl_ms <= 0)
        return out_result(o, -1);
    return out_result(o, o->ops->claim(o->impl, holder, ttl_ms));
}

/* ================================================================== plans */

int lm_plan_cmd(lm_plan *p, int argc, const char *const *argv,
                const size_t *lens) {
    return lm_pipe_cmd(p->pipe, argc, argv, lens);
}

int lm_plan_cmd_strs(lm_plan *p, const char *arg0, ...) {
    const char *argv[LM_PIPE_ARGS_MAX];
    va_list ap;
    va_start(ap, arg0);
    int argc = lm_strs_collect(arg0, ap, argv);
    va_end(ap);
    return argc < 0 ? -1 : lm_pipe_cmd(p->pipe, argc, argv, NULL);
}

int lm_plan_script(lm_plan *p, const lm_script *s, int nkeys, int argc,
                   const char *const *argv, const size_t *lens) {
    return lm_pipe_script(p->pipe, s, nkeys, argc, argv, lens);
}

int lm_plan_get(lm_plan *p, const char *key) {
    if (!key || !*key)
        return -1;
    if (!p->gets)
        return lm_pipe_cmd_strs(p->pipe, "GET", key, NULL);
    lm_plan_gets *g = p->gets;
    size_t off = g->keys.len;
    if (lm_array_grow((void **)&g->at, &g->cap, g->n + 1, sizeof(*g->at)) !=
            0 ||
        lm_buf_append(&g->keys, key, strlen(key) + 1) < 0)
        return -1;
    g->at[g->n].key_off = off;
    g->at[g->n].pos = p->pipe->n - p->first + p->n_got;
    g->n++;
    p->n_got++;
    return 0;
}

void lm_plan_gets_clear(lm_plan_gets *g) {
    g->n = 0;
    g->keys.len = 0;
}

void lm_plan_gets_free(lm_plan_gets *g) {
    lm_buf_free(&g->keys);
    free(g->at);
    memset(g, 0, sizeof(*g));
}

int lm_plan_claim_is_read(const lm_plan *p) {
    return p->claim_read;
}

int lm_plan_watch(lm_plan *p, size_t n, const char *const *keys) {
    if (n == 0)
        return 0;
    if (p->no_watch)
        return lm_pipe_cmd_strs(p->pipe, "PING", NULL);
    if (lm_pipe_begin(p->pipe, 1 + n) != 0 ||
        lm_pipe_arg(p->pipe, "WATCH", 5) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (lm_pipe_arg(p->pipe, keys[i], strlen(keys[i])) != 0)
            return -1;
    lm_pipe_end(p->pipe);
    return 0;
}

/* ================================================================== reads */

static const redisReply *read_at(const lm_reads *r, size_t i) {
    return r && i < r->n ? r->replies[i] : NULL;
}

int lm_read_is_nil(const lm_reads *r, size_t i) {
    return lm_reply_is_nil(read_at(r, i));
}

const char *lm_read_str(const lm_reads *r, size_t i, size_t *len) {
    return lm_reply_str(read_at(r, i), len);
}

long long lm_read_int(const lm_reads *r, size_t i, long long dflt) {
    return lm_reply_int(read_at(r, i), dflt);
}

int lm_read_integer(const lm_reads *r, size_t i, long long *v) {
    const redisReply *x = read_at(r, i);
    if (!x || x->type != REDIS_REPLY_INTEGER)
        return -1;
    *v = x->integer;
    return 0;
}

size_t lm_read_elems(const lm_reads *r, size_t i) {
    const redisReply *x = read_at(r, i);
    return x && x->type == REDIS_REPLY_ARRAY ? x->elements : 0;
}

const char *lm_read_elem_str(const lm_reads *r, size_t i, size_t j,
                             size_t *len) {
    if (j >= lm_read_elems(r, i))
        return NULL;
    return lm_reply_str(read_at(r, i)->element[j], len);
}

/* ========================================================= reply helpers */

int lm_reply_is_nil(const redisReply *r) {
    return !r || r->type == REDIS_REPLY_NIL;
}

const char *lm_reply_str(const redisReply *r, size_t *len) {
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS))
        return NULL;
    if (len)
        *len = r->len;
    return r->str;
}

long long lm_reply_int(const redisReply *r, long long dflt) {
    if (!r)
        return dflt;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING) {
        int64_t v;
        if (lm_parse_int64(r->str, INT64_MIN, INT64_MAX, &v) == 0)
            return v;
    }
    return dflt;
}

uint8_t *lm_pb_pack(const ProtobufCMessage *msg, size_t *len) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    *len = protobuf_c_message_pack(msg, buf);
    return buf;
}
