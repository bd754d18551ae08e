/* lm_recorder.c — the recording lm_out (see lm_recorder.h).
 *
 * Records live in growable arrays of plain structs; every string is a
 * malloc'd copy owned by the recorder and freed on reset. Replies are
 * hiredis redisReply trees built here (calloc'd, freed on reset), so the
 * worker reads them through the same lm_read_* accessors as in the
 * fleet. Plans are kept as the RESP the lm_pipe wrote (what the runtime
 * would send) and decoded back into argv form for tests to read. */
#include "lm_recorder.h"

#include "lm_buf.h"
#include "lm_fmt.h"
#include "lm_out.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REC_REPLIES_MAX  256         /* replies a test gives one message */
#define REC_ARGS_MAX     1024        /* arguments of one decoded plan command */
#define REC_RESP_NUM_MAX (1LL << 40) /* a RESP count or length, at most */

/* Decoded commands of a plan (lm_recorder_planned, _batch_planned). */
typedef struct cmd_list {
    lm_recorded_cmd *v;
    size_t n, cap;
} cmd_list;

struct lm_recorder {
    const lm_worker *w; /* the worker being run, for declared outputs */
    redisReply *replies[REC_REPLIES_MAX];
    lm_reads reads;
    int replies_failed; /* a reply could not be built */
    lm_ident_room room; /* the last message's ident, with its scratch */
    lm_pipe plan;
    cmd_list planned;       /* the plan of the last message, decoded */
    cmd_list batch_planned; /* plan_batch's commands, decoded */
    lm_recorded_emit *emits;
    size_t n_emits, cap_emits;
    lm_recorded_cmd *cmds; /* writes, then index commands, interleaved */
    int *cmd_is_index;     /* per command: 1 an index command */
    size_t n_cmds, cap_cmds, cap_is_index;
    lm_recorded_count *counts;
    size_t n_counts, cap_counts;
    char *rejected;
    int failed;
    int64_t kafka_ts_ms, wait_ms; /* what the next message carries */
    int claim_read;               /* lm_recorder_claim: the claim is read */
    char *claim;                  /* its holder (NULL: nobody) */
    char *claimed;                /* the claim handle took (lm_out_claim) */
    int64_t claimed_ttl_ms;
};

static char *copy_bytes(const void *data, size_t len) {
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, data, len);
    p[len] = '\0';
    return p;
}

lm_recorder *lm_recorder_new(void) {
    lm_recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->reads.replies = r->replies;
    r->kafka_ts_ms = -1;
    return r;
}

static void reply_free(redisReply *x) {
    if (!x)
        return;
    for (size_t i = 0; i < x->elements; i++)
        reply_free(x->element[i]);
    free(x->element);
    free(x->str);
    free(x);
}

static void replies_forget(lm_recorder *r) {
    for (size_t i = 0; i < r->reads.n; i++)
        reply_free(r->replies[i]);
    r->reads.n = 0;
    r->replies_failed = 0;
}

static void cmd_free(lm_recorded_cmd *c) {
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    free((size_t *)c->lens);
}

static void cmd_list_clear(cmd_list *l) {
    for (size_t i = 0; i < l->n; i++)
        cmd_free(&l->v[i]);
    l->n = 0;
}

void lm_recorder_reset(lm_recorder *r) {
    replies_forget(r);
    for (size_t i = 0; i < r->n_emits; i++) {
        lm_recorded_emit *e = &r->emits[i];
        free((char *)e->topic);
        free((char *)e->key);
        free((char *)e->id);
        free((uint8_t *)e->data);
    }
    r->n_emits = 0;
    for (size_t i = 0; i < r->n_cmds; i++)
        cmd_free(&r->cmds[i]);
    r->n_cmds = 0;
    for (size_t i = 0; i < r->n_counts; i++) {
        free((char *)r->counts[i].family);
        free((char *)r->counts[i].labels);
    }
    r->n_counts = 0;
    free(r->rejected);
    r->rejected = NULL;
    r->failed = 0;
    lm_recorder_claim_unread(r);
    free(r->claimed);
    r->claimed = NULL;
    lm_ident_room_init(&r->room);
    lm_pipe_reset(&r->plan);
    cmd_list_clear(&r->planned);
    cmd_list_clear(&r->batch_planned);
}

void lm_recorder_free(lm_recorder *r) {
    if (!r)
        return;
    lm_recorder_reset(r);
    lm_pipe_free(&r->plan);
    free(r->planned.v);
    free(r->batch_planned.v);
    free(r->emits);
    free(r->cmds);
    free(r->cmd_is_index);
    free(r->counts);
    free(r);
}

/* ================================================================ replies */

static redisReply *reply_add(lm_recorder *r, int type) {
    redisReply *x = calloc(1, sizeof(*x));
    if (!x || r->reads.n >= REC_REPLIES_MAX) {
        free(x);
        r->replies_failed = 1;
        return NULL;
    }
    x->type = type;
    r->replies[r->reads.n++] = x;
    return x;
}

static int reply_set_str(redisReply *x, const char *s) {
    x->len = strlen(s);
    x->str = copy_bytes(s, x->len);
    return x->str ? 0 : -1;
}

void lm_recorder_reply_nil(lm_recorder *r) {
    reply_add(r, REDIS_REPLY_NIL);
}

void lm_recorder_reply_str(lm_recorder *r, const char *s) {
    redisReply *x = reply_add(r, REDIS_REPLY_STRING);
    if (x && reply_set_str(x, s) != 0)
        r->replies_failed = 1;
}

void lm_recorder_reply_int(lm_recorder *r, long long v) {
    redisReply *x = reply_add(r, REDIS_REPLY_INTEGER);
    if (x)
        x->integer = v;
}

void lm_recorder_reply_error(lm_recorder *r, const char *message) {
    redisReply *x = reply_add(r, REDIS_REPLY_ERROR);
    if (x && reply_set_str(x, message) != 0)
        r->replies_failed = 1;
}

void lm_recorder_reply_strs(lm_recorder *r, size_t n,
                            const char *const *elems) {
    redisReply *x = reply_add(r, REDIS_REPLY_ARRAY);
    if (!x)
        return;
    x->element = calloc(n ? n : 1, sizeof(*x->element));
    if (!x->element) {
        r->replies_failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *e = calloc(1, sizeof(*e));
        if (!e) {
            r->replies_failed = 1;
            return;
        }
        x->element[x->elements++] = e;
        e->type = elems[i] ? REDIS_REPLY_STRING : REDIS_REPLY_NIL;
        if (elems[i] && reply_set_str(e, elems[i]) != 0)
            r->replies_failed = 1;
    }
}

const lm_reads *lm_recorder_reads(lm_recorder *r) {
    return &r->reads;
}

/* ========================================================= the lm_out side */

static int declared(const lm_worker *w, const char *topic) {
    for (const char *const *o = w ? w->outputs : NULL; o && *o; o++)
        if (strcmp(*o, topic) == 0)
            return 1;
    return 0;
}

static void rec_reject(void *impl, const char *reason) {
    lm_recorder *r = impl;
    free(r->rejected);
    r->rejected = copy_bytes(reason, strlen(reason));
    free(r->claimed); /* as the runtime: a dead letter takes no claim */
    r->claimed = NULL;
}

static int rec_claim(void *impl, const char *holder, int64_t ttl_ms) {
    lm_recorder *r = impl;
    if (!r->claim_read)
        return -1; /* as the runtime: no claim was read to take */
    free(r->claimed);
    r->claimed = copy_bytes(holder, strlen(holder));
    r->claimed_ttl_ms = ttl_ms;
    return r->claimed ? 0 : -1;
}

static int rec_emit(void *impl, const char *topic, const char *key,
                    const char *id, const ProtobufCMessage *msg) {
    lm_recorder *r = impl;
    if (!declared(r->w, topic))
        return -1; /* as the runtime: an undeclared output fails */
    if (lm_array_grow((void **)&r->emits, &r->cap_emits, r->n_emits + 1,
                      sizeof(*r->emits)) != 0)
        return -1;
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *data = malloc(n ? n : 1);
    lm_recorded_emit e = {copy_bytes(topic, strlen(topic)),
                          copy_bytes(key, strlen(key)),
                          copy_bytes(id, strlen(id)), data, n};
    if (!e.topic || !e.key || !e.id || !data) {
        free((char *)e.topic);
        free((char *)e.key);
        free((char *)e.id);
        free(data);
        return -1;
    }
    protobuf_c_message_pack(msg, data);
    r->emits[r->n_emits++] = e;
    return 0;
}

/* Copies argv (lens NULL: NUL-terminated strings) into *c. 0 / -1. */
static int cmd_copy(int argc, const char *const *argv, const size_t *lens,
                    lm_recorded_cmd *c) {
    c->argc = argc;
    c->argv = calloc(argc > 0 ? (size_t)argc : 1, sizeof(char *));
    c->lens = calloc(argc > 0 ? (size_t)argc : 1, sizeof(size_t));
    if (!c->argv || !c->lens) {
        free(c->argv);
        free((size_t *)c->lens);
        return -1;
    }
    size_t *l = (size_t *)c->lens;
    for (int i = 0; i < argc; i++) {
        l[i] = lens ? lens[i] : strlen(argv[i]);
        c->argv[i] = copy_bytes(argv[i], l[i]);
        if (!c->argv[i]) {
            c->argc = i;
            cmd_free(c);
            return -1;
        }
    }
    return 0;
}

static int rec_cmd(lm_recorder *r, int is_index, int argc,
                   const char *const *argv, const size_t *lens) {
    if (lm_array_grow((void **)&r->cmds, &r->cap_cmds, r->n_cmds + 1,
                      sizeof(*r->cmds)) != 0)
        return -1;
    if (lm_array_grow((void **)&r->cmd_is_index, &r->cap_is_index,
                      r->n_cmds + 1, sizeof(int)) != 0)
        return -1;
    lm_recorded_cmd c;
    if (cmd_copy(argc, argv, lens, &c) != 0)
        return -1;
    r->cmd_is_index[r->n_cmds] = is_index;
    r->cmds[r->n_cmds++] = c;
    return 0;
}

static int rec_write(void *impl, int argc, const char *const *argv,
                     const size_t *lens) {
    return rec_cmd(impl, 0, argc, argv, lens);
}

static int rec_index(void *impl, int argc, const char *const *argv,
                     const size_t *lens) {
    return rec_cmd(impl, 1, argc, argv, lens);
}

static void rec_count(void *impl, const char *family, const char *labels,
                      double value, int histogram) {
    lm_recorder *r = impl;
    if (lm_array_grow((void **)&r->counts, &r->cap_counts, r->n_counts + 1,
                      sizeof(*r->counts)) != 0)
        return; /* as the runtime: a count that cannot be kept is lost */
    if (!labels)
        labels = "";
    lm_recorded_count c = {copy_bytes(family, strlen(family)),
                           copy_bytes(labels, strlen(labels)), value,
                           histogram};
    if (!c.family || !c.labels) {
        free((char *)c.family);
        free((char *)c.labels);
        return;
    }
    r->counts[r->n_counts++] = c;
}

static const lm_out_ops rec_ops = {
    .emit = rec_emit,
    .write = rec_write,
    .index = rec_index,
    .reject = rec_reject,
    .count = rec_count,
    .claim = rec_claim,
};

/* ========================================================= plans decoded */

/* Parses "<prefix><digits>\r\n" at *p (before end): the number, or -1. */
static long long resp_num(const char **p, const char *end, char prefix) {
    const char *q = *p;
    if (q >= end || *q++ != prefix)
        return -1;
    long long v = 0;
    const char *digits = q;
    while (q < end && *q >= '0' && *q <= '9') {
        v = v * 10 + (*q++ - '0');
        if (v > REC_RESP_NUM_MAX)
            return -1;
    }
    if (q == digits || end - q < 2 || q[0] != '\r' || q[1] != '\n')
        return -1;
    *p = q + 2;
    return v;
}

/* Decodes the RESP commands of pipe p (as lm_pipe_* wrote them) into l,
 * cleared first. 0 / -1 (malformed, out of memory). */
static int plan_decode(const lm_pipe *p, cmd_list *l) {
    const char *argv[REC_ARGS_MAX];
    size_t lens[REC_ARGS_MAX];
    cmd_list_clear(l);
    const char *s = p->buf.data, *end = s ? s + p->buf.len : s;
    while (s < end) {
        long long argc = resp_num(&s, end, '*');
        if (argc <= 0 || argc > REC_ARGS_MAX)
            return -1;
        for (long long i = 0; i < argc; i++) {
            long long len = resp_num(&s, end, '$');
            if (len < 0 || end - s < len + 2)
                return -1;
            argv[i] = s;
            lens[i] = (size_t)len;
            s += len + 2;
        }
        if (lm_array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)) !=
                0 ||
            cmd_copy((int)argc, argv, lens, &l->v[l->n]) != 0)
            return -1;
        l->n++;
    }
    return 0;
}

size_t lm_recorder_n_planned(const lm_recorder *r) {
    return r->planned.n;
}

const lm_recorded_cmd *lm_recorder_planned(const lm_recorder *r, size_t i) {
    return i < r->planned.n ? &r->planned.v[i] : NULL;
}

size_t lm_recorder_plan_batch(lm_recorder *r, const lm_worker *w) {
    lm_pipe pipe = {0};
    lm_plan plan = {.pipe = &pipe};
    cmd_list_clear(&r->batch_planned);
    if (w->plan_batch && (w->plan_batch(w->ctx, &plan) != 0 ||
                          plan_decode(&pipe, &r->batch_planned) != 0))
        cmd_list_clear(&r->batch_planned);
    lm_pipe_free(&pipe);
    return r->batch_planned.n;
}

const lm_recorded_cmd *lm_recorder_batch_planned(const lm_recorder *r,
                                                 size_t i) {
    return i < r->batch_planned.n ? &r->batch_planned.v[i] : NULL;
}

int lm_recorder_reply_hash(lm_recorder *r, const lm_worker *w,
                           const ProtobufCMessage *in, int64_t now_ms,
                           const char *const *pairs) {
    const char *vals[REC_ARGS_MAX];
    lm_ident_room room;
    lm_ident *ident = lm_ident_room_init(&room);
    char reason[LM_REASON_MAX];
    lm_pipe pipe = {0};
    lm_plan plan = {.pipe = &pipe, .claim_read = r->claim_read};
    cmd_list l = {0};
    int rc = -1;
    if (w->identify(w->ctx, in, ident, reason, sizeof(reason)) != 0 ||
        !w->plan || w->plan(w->ctx, in, ident, now_ms, &plan) != 0 ||
        plan_decode(&pipe, &l) != 0 || r->reads.n >= l.n)
        goto done;
    const lm_recorded_cmd *c = &l.v[r->reads.n];
    if (strcasecmp(c->argv[0], "HMGET") != 0 || c->argc < 3)
        goto done;
    for (int i = 2; i < c->argc; i++) {
        vals[i - 2] = NULL;
        for (size_t k = 0; pairs && pairs[k]; k += 2)
            if (strcmp(pairs[k], c->argv[i]) == 0) {
                vals[i - 2] = pairs[k + 1];
                break;
            }
    }
    lm_recorder_reply_strs(r, (size_t)c->argc - 2, vals);
    rc = 0;
done:
    cmd_list_clear(&l);
    free(l.v);
    lm_pipe_free(&pipe);
    return rc;
}

/* =============================================================== running */

void lm_recorder_set_times(lm_recorder *r, int64_t kafka_ts_ms,
                           int64_t wait_ms) {
    r->kafka_ts_ms = kafka_ts_ms;
    r->wait_ms = wait_ms > 0 ? wait_ms : 0;
}

void lm_recorder_claim(lm_recorder *r, const char *holder) {
    lm_recorder_claim_unread(r);
    r->claim_read = 1;
    r->claim = holder ? copy_bytes(holder, strlen(holder)) : NULL;
    if (holder && !r->claim)
        r->replies_failed = 1; /* out of memory: the next handle fails */
}

void lm_recorder_claim_unread(lm_recorder *r) {
    free(r->claim);
    r->claim = NULL;
    r->claim_read = 0;
}

void lm_recorder_begin_batch(lm_recorder *r, const lm_worker *w) {
    if (w->begin_batch)
        w->begin_batch(w->ctx, &r->reads);
    replies_forget(r);
}

int lm_recorder_handle(lm_recorder *r, const lm_worker *w,
                       const ProtobufCMessage *in, int64_t now_ms) {
    char reason[LM_REASON_MAX] = "";
    r->w = w;
    if (r->replies_failed)
        return -1;
    if (w->identify(w->ctx, in, lm_ident_room_init(&r->room), reason,
                    sizeof(reason)) != 0) {
        rec_reject(r, reason);
        return -1;
    }
    lm_plan plan = {.pipe = &r->plan, .claim_read = r->claim_read};
    lm_pipe_reset(&r->plan);
    cmd_list_clear(&r->planned);
    if (w->plan && (w->plan(w->ctx, in, &r->room.ident, now_ms, &plan) != 0 ||
                    plan_decode(&r->plan, &r->planned) != 0))
        return -1;
    lm_out out = lm_out_make(&rec_ops, r);
    lm_msg msg = {
        .event = in,
        .ident = &r->room.ident,
        .reads = r->reads,
        .now_ms = now_ms,
        .kafka_ts_ms = r->kafka_ts_ms,
        .wait_ms = r->wait_ms,
        .claim_read = r->claim_read,
        .claim = r->claim,
    };
    int rc = w->handle(w->ctx, &msg, &out);
    r->failed = lm_out_failed(&out);
    return rc != 0 || r->failed ? -1 : 0;
}

/* ============================================================ inspecting */

const char *lm_recorder_claimed(const lm_recorder *r, int64_t *ttl_ms) {
    if (ttl_ms)
        *ttl_ms = r->claimed ? r->claimed_ttl_ms : 0;
    return r->claimed;
}

const lm_ident *lm_recorder_ident(const lm_recorder *r) {
    return &r->room.ident;
}

const char *lm_recorder_plan(const lm_recorder *r, size_t *len, size_t *n) {
    if (len)
        *len = r->plan.buf.len;
    if (n)
        *n = r->plan.n;
    return r->plan.buf.data ? r->plan.buf.data : "";
}

size_t lm_recorder_n_emits(const lm_recorder *r) {
    return r->n_emits;
}

const lm_recorded_emit *lm_recorder_emit(const lm_recorder *r, size_t i) {
    return i < r->n_emits ? &r->emits[i] : NULL;
}

ProtobufCMessage *
lm_recorder_emit_unpack(const lm_recorder *r, size_t i,
                        const ProtobufCMessageDescriptor *type) {
    const lm_recorded_emit *e = lm_recorder_emit(r, i);
    return e ? protobuf_c_message_unpack(type, NULL, e->len, e->data) : NULL;
}

const lm_recorded_emit *lm_recorder_emit_on(const lm_recorder *r,
                                            const char *topic) {
    for (size_t i = 0; i < r->n_emits; i++)
        if (strcmp(r->emits[i].topic, topic) == 0)
            return &r->emits[i];
    return NULL;
}

/* The i-th command of one kind (writes or index commands). */
static const lm_recorded_cmd *nth_cmd(const lm_recorder *r, int is_index,
                                      size_t i) {
    for (size_t k = 0; k < r->n_cmds; k++)
        if (r->cmd_is_index[k] == is_index && i-- == 0)
            return &r->cmds[k];
    return NULL;
}

static size_t count_cmds(const lm_recorder *r, int is_index) {
    size_t n = 0;
    for (size_t k = 0; k < r->n_cmds; k++)
        n += r->cmd_is_index[k] == is_index;
    return n;
}

size_t lm_recorder_n_writes(const lm_recorder *r) {
    return count_cmds(r, 0);
}

const lm_recorded_cmd *lm_recorder_write(const lm_recorder *r, size_t i) {
    return nth_cmd(r, 0, i);
}

size_t lm_recorder_n_index(const lm_recorder *r) {
    return count_cmds(r, 1);
}

const lm_recorded_cmd *lm_recorder_index(const lm_recorder *r, size_t i) {
    return nth_cmd(r, 1, i);
}

static int cmd_matches(const lm_recorded_cmd *c, const char *cmd,
                       const char *key) {
    return (!cmd || strcasecmp(c->argv[0], cmd) == 0) &&
           (!key || (c->argc > 1 && strcmp(c->argv[1], key) == 0));
}

const lm_recorded_cmd *lm_recorder_find(const lm_recorder *r, const char *cmd,
                                        const char *key) {
    for (int is_index = 0; is_index <= 1; is_index++)
        for (size_t k = 0; k < r->n_cmds; k++)
            if (r->cmd_is_index[k] == is_index &&
                cmd_matches(&r->cmds[k], cmd, key))
                return &r->cmds[k];
    return NULL;
}

const char *lm_recorder_hget(const lm_recorder *r, const char *key,
                             const char *field) {
    const char *v = NULL;
    for (size_t k = 0; k < r->n_cmds; k++) {
        const lm_recorded_cmd *c = &r->cmds[k];
        if (r->cmd_is_index[k] ||
            !(cmd_matches(c, "HSET", key) || cmd_matches(c, "HSETNX", key)))
            continue;
        int nx = strcasecmp(c->argv[0], "HSETNX") == 0;
        for (int i = 2; i + 1 < c->argc; i += 2)
            if (strcmp(c->argv[i], field) == 0 && !(nx && v))
                v = c->argv[i + 1];
    }
    return v;
}

const char *lm_recorder_rejected(const lm_recorder *r) {
    return r->rejected;
}

int lm_recorder_failed(const lm_recorder *r) {
    return r->failed;
}

size_t lm_recorder_n_counts(const lm_recorder *r) {
    return r->n_counts;
}

const lm_recorded_count *lm_recorder_count(const lm_recorder *r, size_t i) {
    return i < r->n_counts ? &r->counts[i] : NULL;
}

double lm_recorder_counted(const lm_recorder *r, const char *family,
                           const char *labels) {
    double sum = 0;
    for (size_t i = 0; i < r->n_counts; i++) {
        const lm_recorded_count *c = &r->counts[i];
        if (!c->histogram && strcmp(c->family, family) == 0 &&
            (!labels || strcmp(c->labels, labels) == 0))
            sum += c->value;
    }
    return sum;
}
