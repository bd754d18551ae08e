/* lm_timers_deliver.c — the delivering sweep: a worker's own timers (a
 * namespace, lm_worker.timer_ns) delivered to the worker itself instead of
 * fired as messages (see lm_timers.h, "Namespaces and delivered timers").
 *
 * Sections: the sweep's lm_out · one claim · the sweep.
 *
 * Invariants: a claim is acknowledged only in the MULTI/EXEC that applies
 * what its delivery decided (on a Redis Cluster, whose slots no MULTI
 * spans: right after that is applied, apply_then_ack), after the dead
 * letters it emitted are acknowledged by the broker; a claim whose
 * delivery could not be settled stays claimed and is delivered again
 * after its lease; a claim not
 * reached goes back to the timer set with its due time. Claims are
 * delivered one at a time, so a kill loses at most the one in flight.
 *
 * Ownership: everything a sweep allocates is freed before it returns.
 * Threads: the worker's one thread. */
#include "lm_timers.h"
#include "lm_timers_internal.h"

#include "lm_out.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* =================================================== the sweep's lm_out */

/* What one delivery decided: its Redis commands (applied with the
 * acknowledgement), its dead letters, a rejection. */
typedef struct deliver_out {
    lm_runtime *rt;
    lm_pipe *cmds;
    lm_timers_fired *f;
    int rejected;
    char reason[LM_REASON_MAX];
} deliver_out;

static int d_emit(void *impl, const char *topic_suffix, const char *key,
                  const char *id, const ProtobufCMessage *msg) {
    deliver_out *d = impl;
    return lm_timers_emit(d->f, topic_suffix, key, id, msg);
}

static int d_cmd(void *impl, int argc, const char *const *argv,
                 const size_t *lens) {
    deliver_out *d = impl;
    return lm_pipe_cmd(d->cmds, argc, argv, lens);
}

static void d_reject(void *impl, const char *reason) {
    deliver_out *d = impl;
    d->rejected = 1;
    lm_fmt_cat(d->reason, sizeof(d->reason), reason, NULL);
}

/* Counters count at once (the settle follows); histograms are not kept
 * by a delivering sweep. */
static void d_count(void *impl, const char *family, const char *labels,
                    double value, int histogram) {
    deliver_out *d = impl;
    if (!histogram)
        lm_runtime_count(d->rt, family, labels, value);
}

static const lm_out_ops deliver_ops = {
    .emit = d_emit,
    .write = d_cmd,
    .index = d_cmd,
    .reject = d_reject,
    .count = d_count,
};

/* ============================================================ one claim */

/* Runs pipe p and frees its replies. 0 / -1 (Redis trouble). */
static int exec_discard(lm_runtime *rt, lm_pipe *p) {
    if (p->n == 0)
        return 0;
    char err[256];
    redisReply **rr = calloc(p->n, sizeof(*rr));
    int rc =
        rr && lm_redis_exec(lm_runtime_redis(rt), p, rr, err, sizeof(err)) == 0
            ? 0
            : -1;
    if (rr && rc == 0) {
        for (size_t i = 0; i < p->n; i++)
            if (rr[i] && rr[i]->type == REDIS_REPLY_ERROR)
                rc = -1;
        lm_redis_replies_free(rr, p->n);
    }
    free(rr);
    return rc;
}

/* On a Redis Cluster the delivery's commands and the acknowledgement are
 * on different slots, which no MULTI/EXEC spans: the commands (cmds after
 * its MULTI) go first, then, once they are applied, the acknowledgement
 * (its own pipeline, ack). A crash between leaves the claim to its lease:
 * it is delivered again and decides from the state the first delivery
 * wrote (docs/DELIVERY.md, "On a Redis Cluster"). 0 / -1. */
static int apply_then_ack(lm_runtime *rt, const lm_pipe *cmds, lm_pipe *ack) {
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";
    size_t ml = sizeof(multi) - 1;
    lm_pipe effects = {0};
    int rc = -1;
    if (cmds->n >= 1 && cmds->buf.len >= ml &&
        memcmp(cmds->buf.data, multi, ml) == 0 &&
        lm_buf_append(&effects.buf, cmds->buf.data + ml, cmds->buf.len - ml) >=
            0) {
        effects.n = cmds->n - 1;
        rc = exec_discard(rt, &effects) == 0 && exec_discard(rt, ack) == 0 ? 0
                                                                           : -1;
    }
    lm_pipe_free(&effects);
    return rc;
}

/* Appends the claim's acknowledgement: ZREM from :claimed, HDEL :placed. */
static int ack_cmds(lm_pipe *p, const char *ns, int bucket, const char *claim,
                    size_t len) {
    char claimed[LM_TIMERS_KEY_MAX], placed[LM_TIMERS_KEY_MAX];
    lm_timers_key_ns(ns, bucket, ":claimed", claimed);
    lm_timers_key_ns(ns, bucket, ":placed", placed);
    const char *zrem[] = {"ZREM", claimed, claim};
    const char *hdel[] = {"HDEL", placed, claim};
    const size_t zl[] = {4, strlen(claimed), len};
    const size_t hl[] = {4, strlen(placed), len};
    return lm_pipe_cmd(p, 3, zrem, zl) == 0 && lm_pipe_cmd(p, 3, hdel, hl) == 0
               ? 0
               : -1;
}

/* The reads plan_timer asks for t: fills *rep (caller frees) and *n.
 * 0 / -1. */
static int deliver_plan(lm_runtime *rt, const lm_worker *w, const lm_timer *t,
                        redisReply ***rep, size_t *n) {
    lm_pipe p = {0};
    lm_plan plan = {.pipe = &p};
    *rep = NULL;
    *n = 0;
    int rc = w->plan_timer ? w->plan_timer(w->ctx, t, &plan) : 0;
    if (rc == 0 && p.n > 0) {
        char err[256];
        *rep = calloc(p.n, sizeof(**rep));
        rc = *rep && lm_redis_exec(lm_runtime_redis(rt), &p, *rep, err,
                                   sizeof(err)) == 0
                 ? 0
                 : -1;
        if (rc == 0)
            *n = p.n;
        else {
            free(*rep);
            *rep = NULL;
        }
    }
    lm_pipe_free(&p);
    return rc;
}

/* Delivers one claim and settles it: 1 delivered, 0 dropped (malformed or
 * rejected: acknowledged), -1 not settled (left to its lease). */
static int deliver_one(lm_runtime *rt, const lm_worker *w, int bucket,
                       const char *claim, size_t len) {
    lm_timer *t = malloc(sizeof(*t));
    lm_timers_fired *f = lm_timers_fired_new(w);
    lm_pipe cmds = {0};
    redisReply **rep = NULL;
    size_t nrep = 0;
    deliver_out d = {.rt = rt, .cmds = &cmds, .f = f};
    int rc = -1;
    if (!t || !f || lm_pipe_cmd_strs(&cmds, "MULTI", NULL) != 0)
        goto out;
    if (lm_timers_decode_claim(claim, len, t) != 0) {
        lm_log(LM_LOG_ERROR, "timer_malformed",
               "a claim of %zu bytes in %s bucket %d cannot be read; dropped",
               len, w->timer_ns, bucket);
        rc = 0;
    } else {
        if (deliver_plan(rt, w, t, &rep, &nrep) != 0)
            goto out;
        lm_reads reads = {rep, nrep};
        lm_out o = lm_out_make(&deliver_ops, &d);
        int drc = w->deliver_timer(w->ctx, t, &reads, lm_clock_now_ms(), &o);
        if (lm_runtime_crash_at(rt, "deliver-after-effect"))
            _exit(137); /* the delivery tests' crash window */
        if (d.rejected) {
            lm_log(LM_LOG_ERROR, "timer_dropped",
                   "worker %s dropped its %s timer of lead %s: %s", w->name,
                   t->kind, t->lead, d.reason);
            lm_pipe_reset(&cmds);
            if (lm_pipe_cmd_strs(&cmds, "MULTI", NULL) != 0)
                goto out;
            rc = 0;
        } else if (drc != 0 || lm_out_failed(&o)) {
            goto out; /* not now: delivered again after its lease */
        } else {
            rc = 1;
        }
    }
    size_t ne = rc == 1 ? lm_timers_fired_count(f) : 0;
    const lm_emit_req *reqs = ne ? lm_timers_fired_get(f, 0) : NULL;
    if (ne && lm_runtime_produce_sync(rt, reqs, ne) != 0) {
        rc = -1;
        goto out;
    }
    if (lm_redis_is_cluster(lm_runtime_redis(rt))) {
        lm_pipe ack = {0};
        if (ack_cmds(&ack, w->timer_ns, bucket, claim, len) != 0 ||
            apply_then_ack(rt, &cmds, &ack) != 0)
            rc = -1;
        lm_pipe_free(&ack);
        goto out;
    }
    /* what the delivery decided and the acknowledgement, at once */
    if (ack_cmds(&cmds, w->timer_ns, bucket, claim, len) != 0 ||
        lm_pipe_cmd_strs(&cmds, "EXEC", NULL) != 0 ||
        exec_discard(rt, &cmds) != 0)
        rc = -1;
out:
    lm_redis_replies_free(rep, nrep);
    free(rep);
    lm_pipe_free(&cmds);
    lm_timers_fired_free(f);
    free(t);
    return rc;
}

/* ============================================================ the sweep */

/* Puts a claim back in its timer set, due as before: ZREM from :claimed,
 * ZADD to the set. Appended to p. */
static int release_cmds(lm_pipe *p, const char *ns, int bucket,
                        const char *claim, size_t len) {
    lm_timer t;
    char member[LM_TIMERS_MEMBER_MAX], set[LM_TIMERS_KEY_MAX],
        due[LM_FMT_I64_MAX];
    size_t mlen;
    if (lm_timers_decode_claim(claim, len, &t) != 0 ||
        lm_timers_encode(&t, member, &mlen) != 0)
        return 0; /* malformed: the next sweep drops it */
    lm_timers_key_ns(ns, bucket, "", set);
    size_t dn = lm_fmt_i64(due, t.due_ms);
    const char *zadd[] = {"ZADD", set, due, member};
    const size_t zl[] = {4, strlen(set), dn, mlen};
    char claimed[LM_TIMERS_KEY_MAX];
    lm_timers_key_ns(ns, bucket, ":claimed", claimed);
    const char *zrem[] = {"ZREM", claimed, claim};
    const size_t rl[] = {4, strlen(claimed), len};
    return lm_pipe_cmd(p, 4, zadd, zl) == 0 && lm_pipe_cmd(p, 3, zrem, rl) == 0
               ? 0
               : -1;
}

void lm_timers_deliver_sweep(lm_runtime *rt, const lm_worker *w) {
    lm_pipe pipe = {0}, release = {0};
    redisReply *rep[3 * LM_TIMERS_BUCKETS] = {0};
    int64_t now_ms = lm_clock_now_ms(), t0 = lm_clock_mono_ms();
    size_t delivered = 0, dropped = 0;
    if (lm_timers_claim(rt, w->timer_ns, LM_TIMERS_DELIVER_MAX, &pipe, now_ms,
                        rep) == 0) {
        lm_timers_gauges(rt, rep, now_ms);
        for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
            if (!rep[b] || rep[b]->type != REDIS_REPLY_ARRAY)
                continue;
            for (size_t i = 0; i + 1 < rep[b]->elements; i += 2) {
                size_t len;
                const char *s = lm_reply_str(rep[b]->element[i], &len);
                if (!s)
                    continue;
                /* past half a lease, or stopping: back to the set */
                if (lm_runtime_stopping(rt) ||
                    lm_clock_mono_ms() - t0 > LM_TIMERS_LEASE_MS / 2) {
                    if (release_cmds(&release, w->timer_ns, b, s, len) != 0)
                        lm_pipe_reset(&release); /* OOM: leases run out */
                    continue;
                }
                int rc = deliver_one(rt, w, b, s, len);
                delivered += rc == 1;
                dropped += rc == 0;
            }
        }
    }
    exec_discard(rt, &release);
    if (delivered)
        lm_runtime_count(rt, "lastmile_timers_delivered_total", NULL,
                         (double)delivered);
    if (dropped)
        lm_runtime_count(rt, "lastmile_timers_dropped_total", NULL,
                         (double)dropped);
    lm_pipe_free(&release);
    lm_pipe_free(&pipe);
    lm_redis_replies_free(rep, 3 * LM_TIMERS_BUCKETS);
}
