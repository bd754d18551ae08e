/* lm_timers.c — durable timers: the codec, arming through lm_out, and the
 * sweep (see lm_timers.h for the layout and the contract).
 *
 * Sections: the codec · arming and cancelling · what a sweep fires · the
 * sweep.
 *
 * Invariants: every byte of a member is written by lm_timers_encode and
 * read by lm_timers_decode; the sweep script only prefixes a member with
 * its due time and '|' to make a claim (lm_timers_decode_claim). A claim is
 * acknowledged (removed) only after the messages of every timer it fired are
 * acknowledged by the broker, or when it can never fire (malformed, or refused
 * by fire_timer). */
#include "lm_timers.h"
#include "lm_timers_internal.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_hash.h"
#include "lm_log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the bucket hash's seed ("timer"): stored layout, never change it */
#define TIMERS_SEED 0x74696d6572ULL

/* ============================================================ the codec */

int lm_timers_bucket(const char *lead) {
    return (int)(lm_hash64_str(lead, TIMERS_SEED) % LM_TIMERS_BUCKETS);
}

void lm_timers_key(int bucket, const char *suffix,
                   char out[LM_TIMERS_KEY_MAX]) {
    lm_timers_key_ns(NULL, bucket, suffix, out);
}

void lm_timers_key_ns(const char *ns, int bucket, const char *suffix,
                      char out[LM_TIMERS_KEY_MAX]) {
    char b[LM_FMT_I64_MAX];
    lm_fmt_i64(b, bucket);
    if (ns && *ns)
        lm_fmt_cat(out, LM_TIMERS_KEY_MAX, "lm:{timers:", ns, ":", b, "}",
                   suffix, NULL);
    else
        lm_fmt_cat(out, LM_TIMERS_KEY_MAX, "lm:{timers:", b, "}", suffix, NULL);
}

int lm_timers_ns_ok(const char *ns) {
    size_t n = ns ? strnlen(ns, LM_TIMERS_NS_MAX) : 0;
    if (n == 0 || n >= LM_TIMERS_NS_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9')))
            return 0;
    return 1;
}

/* A lead: printable ASCII without space or '|'. */
static int lead_ok(const char *s, size_t n) {
    if (n == 0 || n >= LM_TIMERS_LEAD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '|')
            return 0;
    return 1;
}

/* A kind: [a-z0-9_-]. */
static int kind_ok(const char *s, size_t n) {
    if (n == 0 || n >= LM_TIMERS_KIND_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int lm_timers_encode(const lm_timer *t, char member[LM_TIMERS_MEMBER_MAX],
                     size_t *len) {
    size_t ln = strnlen(t->lead, LM_TIMERS_LEAD_MAX),
           kn = strnlen(t->kind, LM_TIMERS_KIND_MAX);
    if (!lead_ok(t->lead, ln) || !kind_ok(t->kind, kn) ||
        t->payload_len > LM_TIMERS_PAYLOAD_MAX)
        return -1;
    char *p = member;
    memcpy(p, t->lead, ln);
    p += ln;
    *p++ = '|';
    memcpy(p, t->kind, kn);
    p += kn;
    *p++ = '|';
    memcpy(p, t->payload, t->payload_len);
    p += t->payload_len;
    *p = '\0';
    *len = (size_t)(p - member);
    return 0;
}

/* The next '|'-ended field of [*p, end): its start and length; -1 when
 * there is no '|'. */
static int next_field(const char **p, const char *end, const char **field,
                      size_t *n) {
    const char *bar = memchr(*p, '|', (size_t)(end - *p));
    if (!bar)
        return -1;
    *field = *p;
    *n = (size_t)(bar - *p);
    *p = bar + 1;
    return 0;
}

/* A decimal int64 >= 0 of exactly n digits. */
static int parse_due(const char *s, size_t n, int64_t *out) {
    if (n == 0 || n > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int lm_timers_decode(const char *member, size_t len, int64_t due_ms,
                     lm_timer *t) {
    if (!member || due_ms < 0)
        return -1;
    const char *p = member, *end = member + len, *lead, *kind;
    size_t ln, kn;
    if (next_field(&p, end, &lead, &ln) != 0 || !lead_ok(lead, ln) ||
        next_field(&p, end, &kind, &kn) != 0 || !kind_ok(kind, kn) ||
        (size_t)(end - p) > LM_TIMERS_PAYLOAD_MAX)
        return -1;
    memcpy(t->lead, lead, ln);
    t->lead[ln] = '\0';
    memcpy(t->kind, kind, kn);
    t->kind[kn] = '\0';
    t->due_ms = due_ms;
    t->payload_len = (size_t)(end - p);
    memcpy(t->payload, p, t->payload_len);
    t->payload[t->payload_len] = '\0';
    return 0;
}

int lm_timers_decode_claim(const char *claim, size_t len, lm_timer *t) {
    if (!claim)
        return -1;
    const char *p = claim, *end = claim + len, *due;
    size_t dn;
    int64_t due_ms;
    if (next_field(&p, end, &due, &dn) != 0 || parse_due(due, dn, &due_ms) != 0)
        return -1;
    return lm_timers_decode(p, (size_t)(end - p), due_ms, t);
}

/* ============================================ arming and cancelling */

/* Fills t from the arguments; -1 (and the input rejected with the reason)
 * when one is out of bounds. */
static int timer_fill(lm_out *o, lm_timer *t, const char *lead,
                      const char *kind, int64_t due_ms, const void *payload,
                      size_t len) {
    size_t ln = lead ? strlen(lead) : 0, kn = kind ? strlen(kind) : 0;
    if (!lead_ok(lead, ln) || !kind_ok(kind, kn) || due_ms < 0 ||
        len > LM_TIMERS_PAYLOAD_MAX || (len && !payload)) {
        lm_out_reject(o,
                      "timer: lead \"%.64s\", kind \"%.32s\", due %lld, "
                      "payload of %zu bytes: out of bounds (lead 1-%d "
                      "printable bytes without '|', kind 1-%d of [a-z0-9_-], "
                      "due >= 0, payload up to %d bytes)",
                      lead ? lead : "", kind ? kind : "", (long long)due_ms,
                      len, LM_TIMERS_LEAD_MAX - 1, LM_TIMERS_KIND_MAX - 1,
                      LM_TIMERS_PAYLOAD_MAX);
        return -1;
    }
    memcpy(t->lead, lead, ln + 1);
    memcpy(t->kind, kind, kn + 1);
    t->due_ms = due_ms;
    t->payload_len = len;
    if (len)
        memcpy(t->payload, payload, len);
    t->payload[len] = '\0';
    return 0;
}

/* The timer set's key and t's member; -1 (the input rejected) when a
 * field is out of bounds. */
static int timer_member(lm_out *o, const char *ns, const char *lead,
                        const char *kind, int64_t due_ms, const void *payload,
                        size_t len, char set[LM_TIMERS_KEY_MAX],
                        char member[LM_TIMERS_MEMBER_MAX], size_t *mlen) {
    lm_timer t;
    if (ns && !lm_timers_ns_ok(ns)) {
        lm_out_reject(o, "timer: namespace \"%.32s\" is not 1-%d of [a-z0-9]",
                      ns, LM_TIMERS_NS_MAX - 1);
        return -1;
    }
    if (timer_fill(o, &t, lead, kind, due_ms, payload, len) != 0 ||
        lm_timers_encode(&t, member, mlen) != 0)
        return -1;
    lm_timers_key_ns(ns, lm_timers_bucket(lead), "", set);
    return 0;
}

int lm_timers_arm(lm_out *o, const char *lead, const char *kind, int64_t due_ms,
                  const void *payload, size_t len) {
    return lm_timers_arm_in(o, NULL, lead, kind, due_ms, payload, len);
}

int lm_timers_cancel(lm_out *o, const char *lead, const char *kind,
                     const void *payload, size_t len) {
    return lm_timers_cancel_in(o, NULL, lead, kind, payload, len);
}

int lm_timers_arm_in(lm_out *o, const char *ns, const char *lead,
                     const char *kind, int64_t due_ms, const void *payload,
                     size_t len) {
    char set[LM_TIMERS_KEY_MAX], member[LM_TIMERS_MEMBER_MAX],
        due[LM_FMT_I64_MAX];
    size_t mlen;
    if (timer_member(o, ns, lead, kind, due_ms, payload, len, set, member,
                     &mlen) != 0)
        return -1;
    size_t dn = lm_fmt_i64(due, due_ms);
    const char *zadd[] = {"ZADD", set, due, member};
    const size_t lens[] = {4, strlen(set), dn, mlen};
    return lm_out_index(o, 4, zadd, lens);
}

int lm_timers_cancel_in(lm_out *o, const char *ns, const char *lead,
                        const char *kind, const void *payload, size_t len) {
    char set[LM_TIMERS_KEY_MAX], member[LM_TIMERS_MEMBER_MAX];
    size_t mlen;
    if (timer_member(o, ns, lead, kind, 0, payload, len, set, member, &mlen) !=
        0)
        return -1;
    const char *zrem[] = {"ZREM", set, member};
    const size_t lens[] = {4, strlen(set), mlen};
    return lm_out_index(o, 3, zrem, lens);
}

/* ============================================= what a sweep fires */

/* The messages of one sweep: requests for lm_runtime_produce_sync, each
 * with its own copy of the message (unpacked from the emitted bytes) and
 * one block holding topic, key and id. */
struct lm_timers_fired {
    const lm_worker *w;
    lm_emit_req *reqs;
    char **strs;
    size_t n, cap;
    int failed; /* an emit failed: the timer is not fired now */
};

static int declared(const lm_worker *w, const char *topic_suffix) {
    /* a delivering worker's only output is a dead letter (delivery that
       failed for good: lm_timers_deliver.c) */
    if (w->deliver_timer && strcmp(topic_suffix, LM_TOPIC_DLQ) == 0)
        return 1;
    for (size_t i = 0; w->outputs && w->outputs[i]; i++)
        if (strcmp(w->outputs[i], topic_suffix) == 0)
            return 1;
    return 0;
}

static int emit_failed(lm_timers_fired *f) {
    f->failed = 1;
    return -1;
}

int lm_timers_emit(lm_timers_fired *f, const char *topic_suffix,
                   const char *key, const char *id,
                   const ProtobufCMessage *msg) {
    if (!topic_suffix || !key || !id || !msg || !declared(f->w, topic_suffix)) {
        lm_log(LM_LOG_ERROR, "undeclared_output",
               "worker %s fired a timer to topic %s, which it did not "
               "declare",
               f->w->name, topic_suffix ? topic_suffix : "(none)");
        return emit_failed(f);
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        lm_emit_req *reqs = realloc(f->reqs, cap * sizeof(*reqs));
        if (!reqs)
            return emit_failed(f);
        f->reqs = reqs;
        char **strs = realloc(f->strs, cap * sizeof(*strs));
        if (!strs)
            return emit_failed(f);
        f->strs = strs;
        f->cap = cap;
    }
    size_t tn = strlen(topic_suffix) + 1, kn = strlen(key) + 1,
           in = strlen(id) + 1, len = protobuf_c_message_get_packed_size(msg);
    if (len > LM_OUTPUT_MAX_BYTES) {
        lm_log(LM_LOG_ERROR, "timer_too_large",
               "worker %s fired a timer as %zu bytes on %s, over the %d-byte "
               "limit",
               f->w->name, len, topic_suffix, LM_OUTPUT_MAX_BYTES);
        return -1; /* it never fits: not a failure to retry */
    }
    char *s = malloc(tn + kn + in);
    uint8_t *buf = malloc(len ? len : 1);
    ProtobufCMessage *copy = NULL;
    if (s && buf) {
        protobuf_c_message_pack(msg, buf);
        copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
    }
    free(buf);
    if (!copy) {
        free(s);
        return emit_failed(f);
    }
    memcpy(s, topic_suffix, tn);
    memcpy(s + tn, key, kn);
    memcpy(s + tn + kn, id, in);
    f->strs[f->n] = s;
    f->reqs[f->n] = (lm_emit_req){
        .topic_suffix = s, .key = s + tn, .id = s + tn + kn, .msg = copy};
    f->n++;
    return 0;
}

/* Drops what was emitted from index `from` on. */
static void fired_truncate(lm_timers_fired *f, size_t from) {
    while (f->n > from) {
        f->n--;
        protobuf_c_message_free_unpacked((ProtobufCMessage *)f->reqs[f->n].msg,
                                         NULL);
        free(f->strs[f->n]);
    }
}

lm_timers_fired *lm_timers_fired_new(const lm_worker *w) {
    lm_timers_fired *f = calloc(1, sizeof(*f));
    if (f)
        f->w = w;
    return f;
}

void lm_timers_fired_free(lm_timers_fired *f) {
    if (!f)
        return;
    fired_truncate(f, 0);
    free(f->reqs);
    free(f->strs);
    free(f);
}

size_t lm_timers_fired_count(const lm_timers_fired *f) {
    return f->n;
}

const lm_emit_req *lm_timers_fired_get(const lm_timers_fired *f, size_t i) {
    return i < f->n ? &f->reqs[i] : NULL;
}

/* ============================================================ the sweep */

/* KEYS[1] the timer set, KEYS[2] the claimed set, KEYS[3] the placed hash;
 * ARGV now, lease end, max. Returns pairs (claim, placed): expired claims
 * (a lease run out: their sweeper died) given a new lease, with where
 * their messages went if that sweeper kept it ('' if not); then due
 * timers, each moved from the set into the claimed set as
 * "<due ms>|<member>" (the score, written as an integer), with ''. */
static lm_script sweep_script = {
    .lua = "local out = {}\n"
           "local exp = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1],"
           " 'LIMIT', 0, ARGV[3])\n"
           "for i = 1, #exp do\n"
           "  redis.call('ZADD', KEYS[2], ARGV[2], exp[i])\n"
           "  out[#out + 1] = exp[i]\n"
           "  out[#out + 1] = redis.call('HGET', KEYS[3], exp[i]) or ''\n"
           "end\n"
           "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],"
           " 'WITHSCORES', 'LIMIT', 0, ARGV[3])\n"
           "for i = 1, #due, 2 do\n"
           "  local claim = string.format('%d', tonumber(due[i + 1])) .. '|'"
           " .. due[i]\n"
           "  redis.call('ZREM', KEYS[1], due[i])\n"
           "  redis.call('ZADD', KEYS[2], ARGV[2], claim)\n"
           "  out[#out + 1] = claim\n"
           "  out[#out + 1] = ''\n"
           "end\n"
           "return out\n",
    .sha = ""};

lm_script *lm_timers_script(void) {
    return &sweep_script;
}

int lm_timers_claim(lm_runtime *rt, const char *ns, int max_per_bucket,
                    lm_pipe *pipe, int64_t now_ms, redisReply **rep) {
    char now[LM_FMT_I64_MAX], lease[LM_FMT_I64_MAX], max[LM_FMT_I64_MAX],
        err[256];
    lm_fmt_i64(now, now_ms);
    /* the lease at the clock's fastest scale: a shared clock may speed up
       while the claim is held, and the lease must still outlast
       LM_TIMERS_LEASE_MS of real time */
    lm_fmt_i64(lease,
               now_ms + (int64_t)(LM_TIMERS_LEASE_MS * lm_clock_scale_max()));
    lm_fmt_i64(max, max_per_bucket);
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
        char set[LM_TIMERS_KEY_MAX], claimed[LM_TIMERS_KEY_MAX],
            placed[LM_TIMERS_KEY_MAX];
        lm_timers_key_ns(ns, b, "", set);
        lm_timers_key_ns(ns, b, ":claimed", claimed);
        lm_timers_key_ns(ns, b, ":placed", placed);
        const char *argv[] = {set, claimed, placed, now, lease, max};
        if (lm_pipe_script(pipe, &sweep_script, 3, 6, argv, NULL) != 0)
            return -1;
    }
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
        char set[LM_TIMERS_KEY_MAX];
        lm_timers_key_ns(ns, b, "", set);
        if (lm_pipe_cmd_strs(pipe, "ZCARD", set, NULL) != 0 ||
            lm_pipe_cmd_strs(pipe, "ZRANGE", set, "0", "0", "WITHSCORES",
                             NULL) != 0)
            return -1;
    }
    return lm_redis_exec(lm_runtime_redis(rt), pipe, rep, err, sizeof(err)) == 0
               ? 0
               : -1;
}

void lm_timers_gauges(lm_runtime *rt, redisReply **rep, int64_t now_ms) {
    long long pending = 0;
    int64_t oldest_due = INT64_MAX;
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
        pending += lm_reply_int(rep[LM_TIMERS_BUCKETS + 2 * b], 0);
        redisReply *z = rep[LM_TIMERS_BUCKETS + 2 * b + 1];
        const char *s = z && z->type == REDIS_REPLY_ARRAY && z->elements == 2
                            ? lm_reply_str(z->element[1], NULL)
                            : NULL;
        int64_t due;
        if (s && lm_parse_int64(s, 0, INT64_MAX, &due) == 0 && due < oldest_due)
            oldest_due = due;
    }
    lm_runtime_gauge(rt, "lastmile_timers_pending", NULL, (double)pending);
    lm_runtime_gauge(rt, "lastmile_timers_oldest_overdue_seconds", NULL,
                     oldest_due != INT64_MAX && oldest_due < now_ms
                         ? (double)(now_ms - oldest_due) / 1000.0
                         : 0.0);
}

/* Fires one claim into f: 1 fired, 0 dropped (malformed, or refused by
 * the worker: logged), -1 not fired now (out of memory, an emit that
 * failed: the claim fires again after its lease). */
static int fire_one(const lm_worker *w, int bucket, const char *claim,
                    size_t len, int64_t now_ms, lm_timers_fired *f) {
    lm_timer *t = malloc(sizeof(*t));
    if (!t)
        return -1;
    int rc = 1;
    size_t before = f->n;
    if (lm_timers_decode_claim(claim, len, t) != 0) {
        lm_log(LM_LOG_ERROR, "timer_malformed",
               "a claim of %zu bytes in lm:{timers:%d}:claimed cannot be "
               "read; dropped",
               len, bucket);
        rc = 0;
    } else if (w->fire_timer(w->ctx, t, now_ms, f) != 0 || f->failed) {
        fired_truncate(f, before);
        if (f->failed) {
            rc = -1;
        } else {
            lm_log(LM_LOG_ERROR, "timer_dropped",
                   "worker %s cannot fire the %s timer of lead %s (due "
                   "%lld); dropped",
                   w->name, t->kind, t->lead, (long long)t->due_ms);
            rc = 0;
        }
    }
    f->failed = 0;
    free(t);
    return rc;
}

/* One claim the sweep got back, and what became of it. */
typedef struct sweep_claim_ref {
    const char *s;
    size_t len;
    const char *placed; /* kept by an earlier sweep that fired it, or "" */
    size_t placed_len;
    int bucket;
    int fired;          /* 1 fired, 0 dropped, -1 not now */
    size_t first, n;    /* its messages: f->reqs[first .. first + n) */
    unsigned char keep; /* its places are to be kept (keep_places) */
    unsigned char ack;  /* to be acknowledged */
} sweep_claim_ref;

/* Which claims a per-bucket command is over. */
typedef enum claims_pick { PICK_KEEP, PICK_ACK } claims_pick;

static int picked(const sweep_claim_ref *c, claims_pick pick) {
    return pick == PICK_KEEP ? c->keep : c->ack;
}

/* The claims of every bucket's script reply, in order; *n of them, or
 * NULL (none, or out of memory). */
static sweep_claim_ref *claims_collect(redisReply **rep, size_t *n) {
    size_t total = 0;
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++)
        if (rep[b] && rep[b]->type == REDIS_REPLY_ARRAY)
            total += rep[b]->elements / 2;
    sweep_claim_ref *c = total ? calloc(total, sizeof(*c)) : NULL;
    *n = 0;
    for (int b = 0; c && b < LM_TIMERS_BUCKETS; b++) {
        if (!rep[b] || rep[b]->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t i = 0; i + 1 < rep[b]->elements; i += 2) {
            size_t len, plen = 0;
            const char *s = lm_reply_str(rep[b]->element[i], &len);
            const char *p = lm_reply_str(rep[b]->element[i + 1], &plen);
            if (s)
                c[(*n)++] = (sweep_claim_ref){.s = s,
                                              .len = len,
                                              .placed = p ? p : "",
                                              .placed_len = p ? plen : 0,
                                              .bucket = b};
        }
    }
    return c;
}

/* ------------------------------------------- where a claim's messages went */

/* "<partition>:<scan from>" per message, ','-separated: appended to out. */
static int places_encode(const lm_emit_place *pl, size_t n, lm_buf *out) {
    for (size_t i = 0; i < n; i++) {
        char p[LM_FMT_I64_MAX], o[LM_FMT_I64_MAX];
        lm_fmt_i64(p, pl[i].partition);
        lm_fmt_i64(o, pl[i].scan_from);
        if ((i && lm_buf_append(out, ",", 1) < 0) ||
            lm_buf_append(out, p, strlen(p)) < 0 ||
            lm_buf_append(out, ":", 1) < 0 ||
            lm_buf_append(out, o, strlen(o)) < 0)
            return -1;
    }
    return 0;
}

/* Reads n places from s (as places_encode wrote them). 0 / -1. */
static int places_decode(const char *s, size_t len, lm_emit_place *pl,
                         size_t n) {
    const char *p = s, *end = s + len;
    for (size_t i = 0; i < n; i++) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *comma =
            colon ? memchr(colon, ',', (size_t)(end - colon)) : NULL;
        const char *stop = comma ? comma : end;
        char a[LM_FMT_I64_MAX], b[LM_FMT_I64_MAX];
        int64_t part, from;
        if (!colon || colon - p >= (long)sizeof(a) ||
            stop - colon - 1 >= (long)sizeof(b))
            return -1;
        memcpy(a, p, (size_t)(colon - p));
        a[colon - p] = '\0';
        memcpy(b, colon + 1, (size_t)(stop - colon - 1));
        b[stop - colon - 1] = '\0';
        if (lm_parse_int64(a, 0, INT32_MAX, &part) != 0 ||
            lm_parse_int64(b, 0, INT64_MAX, &from) != 0)
            return -1;
        pl[i] = (lm_emit_place){(int32_t)part, from};
        p = comma ? comma + 1 : end;
        if ((i + 1 < n) != (comma != NULL))
            return -1; /* another count of messages than this sweep fired */
    }
    return 0;
}

/* Appends, per bucket, one command over the claims that `pick` selects:
 * `cmd key claim [value] ...` (HSET with each claim's places from `vals`
 * when vals is given). 0 / -1 (OOM). */
static int per_bucket(lm_pipe *p, const char *cmd, const char *suffix,
                      const sweep_claim_ref *c, size_t n, claims_pick pick,
                      const lm_buf *vals, const size_t *val_off) {
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            k += c[i].bucket == b && picked(&c[i], pick);
        if (!k)
            continue;
        char key[LM_TIMERS_KEY_MAX];
        lm_timers_key(b, suffix, key);
        if (lm_pipe_begin(p, 2 + k * (vals ? 2 : 1)) != 0 ||
            lm_pipe_arg(p, cmd, strlen(cmd)) != 0 ||
            lm_pipe_arg(p, key, strlen(key)) != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if (c[i].bucket != b || !picked(&c[i], pick))
                continue;
            if (lm_pipe_arg(p, c[i].s, c[i].len) != 0 ||
                (vals && lm_pipe_arg(p, vals->data + val_off[i],
                                     val_off[i + 1] - val_off[i]) != 0))
                return -1;
        }
        lm_pipe_end(p);
    }
    return 0;
}

/* Keeps where the fired claims' messages go, before any is produced, for
 * those no earlier sweep placed: an HSET per bucket. Marks in again[]
 * the messages of claims an earlier sweep placed (they take its places).
 * 0 / -1 (Redis trouble: produce nothing now). */
static int keep_places(lm_runtime *rt, sweep_claim_ref *c, size_t n,
                       lm_emit_place *pl, unsigned char *again) {
    lm_buf vals = {0};
    size_t *off = calloc(n + 1, sizeof(*off));
    lm_pipe p = {0};
    int rc = off ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        off[i] = vals.len;
        if (c[i].fired != 1)
            continue;
        if (c[i].placed_len && places_decode(c[i].placed, c[i].placed_len,
                                             pl + c[i].first, c[i].n) == 0)
            memset(again + c[i].first, 1, c[i].n); /* placed before */
        else if (places_encode(pl + c[i].first, c[i].n, &vals) == 0)
            c[i].keep = 1;
        else
            rc = -1;
    }
    if (off)
        off[n] = vals.len;
    if (rc == 0)
        rc = per_bucket(&p, "HSET", ":placed", c, n, PICK_KEEP, &vals, off);
    if (rc == 0 && p.n > 0) {
        char err[256];
        redisReply **rr = calloc(p.n, sizeof(*rr));
        rc = rr && lm_redis_exec(lm_runtime_redis(rt), &p, rr, err,
                                 sizeof(err)) == 0
                 ? 0
                 : -1;
        if (rr && rc == 0)
            lm_redis_replies_free(rr, p.n);
        free(rr);
    }
    lm_pipe_free(&p);
    lm_buf_free(&vals);
    free(off);
    return rc;
}

/* Fires the claims of rep and appends their acknowledgements to acks: a
 * dropped claim's whatever happens, a fired one's only once the broker
 * acknowledged every message of the sweep. Before producing, the sweep
 * keeps where each message goes (keep_places); a claim fired again after
 * its sweeper died reads back from there and produces only what is not on
 * its topic yet, so a timer's message is written once. Counts what it
 * fired. */
static size_t sweep_fire(lm_runtime *rt, const lm_worker *w, redisReply **rep,
                         int64_t now_ms, lm_pipe *acks) {
    size_t n, fired = 0, dropped = 0;
    sweep_claim_ref *c = claims_collect(rep, &n);
    lm_timers_fired *f = lm_timers_fired_new(w);
    for (size_t i = 0; f && i < n; i++) {
        c[i].first = f->n;
        c[i].fired = fire_one(w, c[i].bucket, c[i].s, c[i].len, now_ms, f);
        c[i].n = f->n - c[i].first;
        dropped += c[i].fired == 0;
    }
    lm_emit_place *pl = f ? calloc(f->n + 1, sizeof(*pl)) : NULL;
    unsigned char *again = f ? calloc(f->n + 1, 1) : NULL;
    int ok = pl && again &&
             (f->n == 0 ||
              (lm_runtime_place(rt, f->reqs, f->n, pl) == 0 &&
               keep_places(rt, c, n, pl, again) == 0 &&
               lm_runtime_produce_placed(rt, f->reqs, pl, again, f->n) == 0));
    /* not acknowledged when not produced: fires again after its lease */
    for (size_t i = 0; i < n; i++) {
        c[i].ack = c[i].fired == 0 || (c[i].fired == 1 && ok);
        fired += c[i].fired == 1 && ok;
    }
    if (per_bucket(acks, "ZREM", ":claimed", c, n, PICK_ACK, NULL, NULL) != 0 ||
        per_bucket(acks, "HDEL", ":placed", c, n, PICK_ACK, NULL, NULL) != 0)
        lm_pipe_reset(acks); /* out of memory: the leases run out */
    if (fired)
        lm_runtime_count(rt, "lastmile_timers_fired_total", NULL,
                         (double)fired);
    if (dropped)
        lm_runtime_count(rt, "lastmile_timers_dropped_total", NULL,
                         (double)dropped);
    free(pl);
    free(again);
    lm_timers_fired_free(f);
    free(c);
    return fired;
}

void lm_timers_sweep(lm_runtime *rt, const lm_worker *w) {
    lm_pipe pipe = {0}, acks = {0};
    redisReply *rep[3 * LM_TIMERS_BUCKETS] = {0};
    int64_t now_ms = lm_clock_now_ms();
    /* on Redis trouble nothing more: the batch loop reports it */
    size_t fired = 0;
    if (lm_timers_claim(rt, NULL, LM_TIMERS_SWEEP_MAX, &pipe, now_ms, rep) ==
        0) {
        lm_timers_gauges(rt, rep, now_ms);
        fired = sweep_fire(rt, w, rep, now_ms, &acks);
    }
    if (fired && lm_runtime_crash_at(rt, "sweep-after-produce"))
        _exit(137); /* the delivery tests' crash window */
    if (acks.n > 0) {
        char err[256];
        redisReply **rr = calloc(acks.n, sizeof(*rr));
        if (rr && lm_redis_exec(lm_runtime_redis(rt), &acks, rr, err,
                                sizeof(err)) == 0)
            lm_redis_replies_free(rr, acks.n);
        free(rr);
    }
    lm_pipe_free(&acks);
    lm_pipe_free(&pipe);
    lm_redis_replies_free(rep, 3 * LM_TIMERS_BUCKETS);
}
