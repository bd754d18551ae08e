/* lm_rt_redis.c — a batch's two Redis round trips.
 *
 * Round trip 1 (reads): WATCH of the batch's fences (one key per input
 * partition, lm:{fence}:<worker>:<topic>:<partition>; the redelivery
 * strategy's choice, rt_dedupe_ops.pipe_watch: by id with claims it may
 * be every fence, or the claims too), the MGET that says
 * which input was applied (the redelivery strategy's: done records, or
 * the fences themselves), the worker's batch-wide reads (plan_batch),
 * then each new item's plan, then one MGET of every string key the plans
 * read with lm_plan_get (qualification's accounts): last, so after every
 * WATCH a plan sent, and one command for the batch instead of one per
 * input (issue 16).
 *
 * Round trip 2 (writes) applies the batch as ONE transaction: MULTI, per
 * applied item its writes, then what records its outbox (by id: its done
 * record) and its index commands, then the strategy's fence writes (by
 * id: an INCR of every fence; by offset: a SET of each fence where the
 * batch applies input, holding the outboxes), EXEC. Redis applies all of
 * it or none.
 *
 * A worker's plan_batch or plan may add keys to the WATCH (lm_plan_watch:
 * qualification's owner loads), so a decision made from them is applied
 * only if they did not change; a refused EXEC is handled as below.
 *
 * The WATCH makes it safe against a replica: if another process applied
 * input from one of the batch's partitions between our reads and our EXEC
 * (it took the partition over while this one still worked), it wrote that
 * partition's fence, and EXEC refuses. The batch is then read again, sees
 * what that replica applied, and recovers instead of applying twice. A
 * lost connection is settled the same way: EXEC is all or nothing, so the
 * reads say which it was. One fence per partition instead of a WATCH per
 * done record, and native commands instead of a Lua script per message:
 * Redis does about half the work per message (docs/PERFORMANCE.md).
 *
 * On a Redis Cluster (rt->cluster) round trip 1 has no WATCH and reads
 * the done records with a GET each, and round trip 2 is lm_rt_cluster.c's
 * units: see there.
 *
 * Replies: on one Redis both round trips read their replies into
 * rt->reply_arena (lm_redis_exec_in: no malloc and free per reply, string
 * and array, issue 16), freed at once by rt_replies_free; on a cluster
 * they are hiredis's own (lm_redis_exec), freed one by one.
 *
 * Errors: "not now" replies (LOADING, OOM, BUSY, READONLY...) hold the
 * batch and retry; a write Redis refuses for the item itself (WRONGTYPE)
 * dead-letters that item alone. Runs on the worker's thread. */
#include "lm_rt_internal.h"

#include "lm_out.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int rt_reply_error_retriable(const char *e) {
    static const char *const not_now[] = {
        "LOADING",  "BUSY",    "OOM",        "MASTERDOWN",  "READONLY",
        "TRYAGAIN", "MISCONF", "NOREPLICAS", "CLUSTERDOWN", "NOSCRIPT"};
    for (size_t i = 0; i < sizeof(not_now) / sizeof(not_now[0]); i++)
        if (strncmp(e, not_now[i], strlen(not_now[i])) == 0)
            return 1;
    return 0;
}

void rt_replies_free(lm_runtime *rt, size_t n) {
    if (rt->cluster) {
        lm_redis_replies_free(rt->replies, n);
        return;
    }
    memset(rt->replies, 0, n * sizeof(*rt->replies));
    lm_arena_reset(&rt->reply_arena);
}

/* Sends rt->pipe into rt->replies: on one Redis into rt->reply_arena
 * (what it held is gone: the last round trip's replies were freed). As
 * lm_redis_exec. */
static int exec_pipe(lm_runtime *rt, char *err, size_t errsz) {
    if (rt->cluster)
        return lm_redis_exec(rt->redis, &rt->pipe, rt->replies, err, errsz);
    lm_arena_reset(&rt->reply_arena);
    return lm_redis_exec_in(rt->redis, &rt->pipe, rt->replies, &rt->reply_arena,
                            err, errsz);
}

/* The first "not now" error among n replies, or NULL. */
static const char *first_not_now(redisReply *const *replies, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const redisReply *r = replies[i];
        if (r && r->type == REDIS_REPLY_ERROR &&
            rt_reply_error_retriable(r->str))
            return r->str;
    }
    return NULL;
}

int rt_redis_roundtrip(lm_runtime *rt) {
    char err[512];
    if (lm_array_grow((void **)&rt->replies, &rt->cap_replies, rt->pipe.n + 1,
                      sizeof(redisReply *)) != 0)
        return -1;
    int64_t warned = 0;
    for (;;) {
        int rc = exec_pipe(rt, err, sizeof(err));
        if (rc == 0) {
            /* a server replaying its AOF or one that lost our scripts */
            const char *e = first_not_now(rt->replies, rt->pipe.n);
            if (!e) {
                if (!atomic_load(&rt->ready_redis))
                    lm_log(LM_LOG_INFO, "redis_back", "redis answers again");
                atomic_store(&rt->ready_redis, 1);
                lm_histogram_observe(rt->m_redis_rtt,
                                     lm_redis_last_rtt_ms(rt->redis) / 1e3);
                return 0;
            }
            snprintf(err, sizeof(err), "redis: %s", e);
            rt_replies_free(rt, rt->pipe.n);
            lm_redis_disconnect(rt->redis);
        } else if (rc < 0 && rc != LM_REDIS_RETRY) {
            lm_counter_add(rt->m_errors_fatal, 1);
            lm_log(LM_LOG_ERROR, "redis_refused", "%s", err);
        }
        lm_counter_add(rt->m_errors_retriable, 1);
        atomic_store(&rt->ready_redis, 0);
        /* a batch in flight needs no more of Redis: it is committed now,
           not after the outage (lm_rt_pipeline.c) */
        if (rt_inflight_settle(rt) != 0)
            return -1;
        int64_t now = lm_clock_mono_ms();
        if (now - warned > 5000) {
            lm_log(LM_LOG_WARN, "redis_unavailable",
                   "%s; holding the batch (nothing is committed)", err);
            warned = now;
        }
        if (rt_past_drain_deadline(rt))
            return -1;
        usleep(50 * 1000);
    }
}

/* ================================================ round trip 1: reads */

/* Appends the plans: the batch-wide one, then each new item's (an item
 * whose plan fails is rejected for good). 0 / -1 (OOM). */
static int pipe_plans(lm_runtime *rt, int64_t now_ms) {
    lm_pipe *p = &rt->pipe;
    size_t base = p->n; /* RT_REPLY_BATCH_PLAN, or a cluster's GETs */
    int no_watch = rt->cluster != NULL;
    if (rt->w->plan_batch) {
        lm_plan plan = {.pipe = p, .no_watch = no_watch};
        if (rt->w->plan_batch(rt->w->ctx, &plan) != 0) {
            lm_log(LM_LOG_ERROR, "plan_batch_failed",
                   "could not plan the batch-wide reads (out of memory?)");
            return -1;
        }
    }
    rt->batch_plan_n = p->n - base;
    lm_plan_gets_clear(&rt->gets);
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        it->plan_first = p->n;
        it->get_first = rt->gets.n;
        if (it->state == RT_NEW && rt->w->plan) {
            lm_plan plan = {.pipe = p,
                            .no_watch = no_watch,
                            .claim_read = rt->claims,
                            .gets = rt->cluster ? NULL : &rt->gets,
                            .first = p->n};
            if (rt->w->plan(rt->w->ctx, it->event, &it->ident, now_ms, &plan) !=
                0) {
                snprintf(it->reason, sizeof(it->reason),
                         "could not plan the state reads for this input");
                rt_item_settle(it, RT_REJECT);
                /* its gets are not read: their keys go too */
                if (rt->gets.n > it->get_first)
                    rt->gets.keys.len = rt->gets.at[it->get_first].key_off;
                rt->gets.n = it->get_first;
            }
        }
        it->plan_n = p->n - it->plan_first;
        it->get_n = rt->gets.n - it->get_first;
    }
    return 0;
}

/* The plans' gets (lm_plan_get, one Redis) as round trip 1's last
 * command: one MGET, after every WATCH the plans sent. None: nothing. */
static int pipe_gets(lm_runtime *rt) {
    lm_pipe *p = &rt->pipe;
    const lm_plan_gets *g = &rt->gets;
    rt->gets_reply = 0;
    if (g->n == 0)
        return 0;
    rt->gets_reply = p->n;
    if (lm_pipe_begin(p, 1 + g->n) != 0 || lm_pipe_arg(p, "MGET", 4) != 0)
        return -1;
    for (size_t k = 0; k < g->n; k++) {
        const char *key = g->keys.data + g->at[k].key_off;
        if (lm_pipe_arg(p, key, strlen(key)) != 0)
            return -1;
    }
    lm_pipe_end(p);
    return 0;
}

int rt_pipe_plans(lm_runtime *rt, int64_t now_ms) {
    return pipe_plans(rt, now_ms) != 0 || pipe_gets(rt) != 0 ? -1 : 0;
}

int rt_gather_gets(lm_runtime *rt) {
    const lm_plan_gets *g = &rt->gets;
    if (g->n == 0)
        return 0;
    const redisReply *mget = rt->replies[rt->gets_reply];
    if (!mget || mget->type != REDIS_REPLY_ARRAY || mget->elements != g->n) {
        lm_log(LM_LOG_ERROR, "redis_protocol",
               "MGET of %zu planned gets did not answer an array of %zu", g->n,
               g->n);
        return -1;
    }
    size_t total = 0;
    for (size_t i = 0; i < rt->n_items; i++)
        total +=
            rt->items[i].get_n ? rt->items[i].plan_n + rt->items[i].get_n : 0;
    if (lm_array_grow((void **)&rt->read_ptrs, &rt->cap_read_ptrs,
                      total ? total : 1, sizeof(*rt->read_ptrs)) != 0)
        return -1;
    size_t at = 0;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (!it->get_n)
            continue;
        it->reads_first = at;
        size_t next = it->get_first, cmd = it->plan_first;
        for (size_t k = 0; k < it->plan_n + it->get_n; k++)
            rt->read_ptrs[at++] =
                next < it->get_first + it->get_n && g->at[next].pos == k
                    ? mget->element[next++]
                    : rt->replies[cmd++];
    }
    return 0;
}

lm_reads rt_item_reads(const lm_runtime *rt, const rt_item *it) {
    lm_reads r = {rt->replies + it->plan_first, it->plan_n};
    if (it->get_n) {
        r.replies = rt->read_ptrs + it->reads_first;
        r.n = it->plan_n + it->get_n;
    }
    return r;
}

int rt_pipe_watch(lm_runtime *rt, size_t n_extra,
                  int (*extra)(lm_runtime *rt, lm_pipe *p)) {
    lm_pipe *p = &rt->pipe;
    char key[RT_KEY_MAX];
    if (lm_pipe_begin(p, 1 + (size_t)rt->n_fences + n_extra) != 0 ||
        lm_pipe_arg(p, "WATCH", 5) != 0)
        return -1;
    for (int f = 0; f < rt->n_fences; f++) {
        rt_fence_key(rt, rt->fences[f], key, sizeof(key));
        if (lm_pipe_arg(p, key, strlen(key)) != 0)
            return -1;
    }
    if (extra && extra(rt, p) != 0)
        return -1;
    lm_pipe_end(p);
    return 0;
}

int rt_pipe_watch_fences(lm_runtime *rt) {
    return rt_pipe_watch(rt, 0, NULL);
}

int rt_plan_round_trip(lm_runtime *rt, int64_t now_ms) {
    lm_pipe *p = &rt->pipe;
    lm_pipe_reset(p);
    if (rt->cluster) { /* lm_rt_cluster.c: no WATCH, a GET each */
        size_t n_get = 0;
        if (rt_cluster_pipe_reads(rt, &n_get) != 0 ||
            rt_pipe_plans(rt, now_ms) != 0 || rt_redis_roundtrip(rt) != 0)
            return -1;
        return rt_cluster_gather_reads(rt, n_get);
    }
    if (rt->dedupe->pipe_watch(rt) != 0)
        return -1;
    size_t n_get = 0;
    if (rt->dedupe->pipe_reads(rt, &n_get) != 0 ||
        rt_pipe_plans(rt, now_ms) != 0)
        return -1;
    if (rt_redis_roundtrip(rt) != 0)
        return -1;
    const redisReply *mget = rt->replies[1];
    if (!mget || mget->type != REDIS_REPLY_ARRAY || mget->elements != n_get) {
        lm_log(LM_LOG_ERROR, "redis_protocol",
               "MGET of %zu %s did not answer an array of %zu", n_get,
               rt->dedupe->what, n_get);
        rt_replies_free(rt, p->n);
        return -1;
    }
    if (rt_gather_gets(rt) != 0) {
        rt_replies_free(rt, p->n);
        return -1;
    }
    return 0;
}

/* =============================================== round trip 2: writes */

/* Appends an applied item's part of the transaction: its writes (already
 * RESP, see lm_rt_out.c), what records its outbox, its index commands.
 * Sets apply_first/apply_n (positions among the transaction's queued
 * commands). 0 / -1 (OOM). */
static int pipe_item_apply(lm_runtime *rt, rt_item *it, size_t *queued,
                           int64_t now_ms) {
    lm_pipe *p = &rt->pipe;
    it->apply_first = *queued;
    if (it->write_n) {
        if (lm_buf_append(&p->buf, rt->writes.buf.data + it->write_off,
                          it->write_len) < 0)
            return -1;
        p->n += it->write_n;
    }
    int n_outbox = rt->dedupe->pipe_item(rt, it, now_ms);
    if (n_outbox < 0)
        return -1;
    if (it->index_n) {
        if (lm_buf_append(&p->buf, rt->index.buf.data + it->index_off,
                          it->index_len) < 0)
            return -1;
        p->n += it->index_n;
    }
    it->apply_n = it->write_n + (size_t)n_outbox + it->index_n;
    *queued += it->apply_n;
    return 0;
}

/* Builds MULTI ... EXEC in rt->pipe; *queued the commands between. 1
 * built, 0 nothing to apply (only recovery), -1 (OOM). */
static int pipe_transaction(lm_runtime *rt, size_t *queued, int64_t now_ms) {
    lm_pipe *p = &rt->pipe;
    *queued = 0;
    lm_pipe_reset(p);
    if (lm_pipe_cmd_strs(p, "MULTI", NULL) != 0)
        return -1;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (rt_item_applies(it) && pipe_item_apply(rt, it, queued, now_ms) != 0)
            return -1;
    }
    int n_fences = rt->dedupe->pipe_fences(rt, *queued, now_ms);
    if (n_fences <= 0)
        return n_fences;
    *queued += (size_t)n_fences;
    if (lm_pipe_cmd_strs(p, "EXEC", NULL) != 0 ||
        lm_array_grow((void **)&rt->replies, &rt->cap_replies, p->n + 1,
                      sizeof(redisReply *)) != 0)
        return -1;
    return 1;
}

/* The replica-first test hook: another connection applies the very same
 * transaction first, once. */
static void race_replica_first(lm_runtime *rt) {
    char err[512];
    if (rt->crash_at != RT_RACE_REPLICA_FIRST || rt->raced)
        return;
    rt->raced = 1;
    lm_redis *other =
        lm_redis_new(rt->s.redis_url, rt->s.redis_timeout_ms, err, sizeof(err));
    if (other &&
        lm_redis_exec(other, &rt->pipe, rt->replies, err, sizeof(err)) == 0)
        lm_redis_replies_free(rt->replies, rt->pipe.n);
    lm_redis_destroy(other);
}

/* The claim-taken test hooks (lm_rt_internal.h): once, before the first
 * transaction that takes a claim, another connection takes the first
 * such claim for lead "<person>-00000000" (another input's Claim, no
 * outbox) and, when this replica watches every fence, INCRs the fence
 * of the partition after the item's, as a replica deciding that person
 * from there would. Watching each claim, only the claim can refuse the
 * EXEC: no fence is INCRed. */
static void race_claim_taken(lm_runtime *rt) {
    char err[512], key[RT_KEY_MAX], fence[RT_KEY_MAX], holder[LM_ID_MAX];
    size_t i = 0;
    if ((rt->crash_at != RT_RACE_CLAIM_TAKEN &&
         rt->crash_at != RT_RACE_CLAIM_TAKEN_WATCHING_CLAIMS) ||
        rt->raced)
        return;
    while (i < rt->n_items && !rt->items[i].claim_taken)
        i++;
    if (i == rt->n_items)
        return;
    rt->raced = 1;
    const rt_item *it = &rt->items[i];
    int32_t parts = rt->watch_all > 0 ? rt->watch_all : 1;
    rt_claim_key(rt, it, key, sizeof(key));
    rt_fence_key(rt, (it->rkm->partition + 1) % parts, fence, sizeof(fence));
    lm_fmt_cat(holder, sizeof(holder), it->ident.tag, "-00000000", NULL);
    Lastmile__V1__Internal__Claim c = LASTMILE__V1__INTERNAL__CLAIM__INIT;
    c.holder = holder;
    c.input_id = "claim-taken:another-partition";
    c.claimed_at_ms = lm_clock_real_ms();
    lm_buf val = {0};
    lm_pipe race = {0};
    redisReply *replies[4] = {0};
    lm_redis *other =
        lm_redis_new(rt->s.redis_url, rt->s.redis_timeout_ms, err, sizeof(err));
    if (other && rt_pb_pack_append(&c.base, &val) == 0 &&
        lm_pipe_cmd_strs(&race, "MULTI", NULL) == 0 &&
        lm_pipe_begin(&race, 3) == 0 && lm_pipe_arg(&race, "SET", 3) == 0 &&
        lm_pipe_arg(&race, key, strlen(key)) == 0 &&
        lm_pipe_arg(&race, val.data, val.len) == 0) {
        lm_pipe_end(&race);
        if ((rt->watch_all == 0 ||
             lm_pipe_cmd_strs(&race, "INCR", fence, NULL) == 0) &&
            lm_pipe_cmd_strs(&race, "EXEC", NULL) == 0 &&
            lm_redis_exec(other, &race, replies, err, sizeof(err)) == 0)
            lm_redis_replies_free(replies, race.n);
        lm_log(LM_LOG_INFO, "claim_taken_meanwhile",
               "test hook: %s taken for %s from another partition", key,
               holder);
    }
    lm_pipe_free(&race);
    lm_buf_free(&val);
    lm_redis_destroy(other);
}

/* Replies to the queued commands (before EXEC): "not now" holds the
 * batch; any other error is the item's own fault, and it is rejected for
 * good. RT_WRITE_APPLIED when none was refused, else RT_WRITE_AGAIN. */
static int check_queued(lm_runtime *rt, redisReply *const *r) {
    int result = RT_WRITE_APPLIED;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        for (size_t k = 0; k < it->apply_n; k++) {
            const redisReply *q = r[1 + it->apply_first + k];
            if (!q || q->type != REDIS_REPLY_ERROR)
                continue;
            result = RT_WRITE_AGAIN;
            if (rt_reply_error_retriable(q->str)) {
                lm_log(LM_LOG_WARN, "redis_not_now", "%s", q->str);
            } else if (it->identified != RT_REJECT) {
                lm_counter_add(rt->m_errors_fatal, 1);
                lm_log(LM_LOG_ERROR, "state_write_failed",
                       "a write of %s was refused: %s", it->ident.id, q->str);
                snprintf(it->reason, sizeof(it->reason),
                         "state write refused: %.400s", q->str);
                rt_item_settle(it, RT_REJECT);
            } else { /* even its dead letter's outbox: hold, loudly */
                lm_counter_add(rt->m_errors_fatal, 1);
                lm_log(LM_LOG_ERROR, "state_write_failed",
                       "the done record of rejected input %s was refused: "
                       "%s; holding the batch",
                       it->ident.id, q->str);
            }
            break;
        }
    }
    return result;
}

/* Marks items whose write failed inside EXEC (WRONGTYPE). 1 if any. */
static int mark_failed_writes(lm_runtime *rt, const redisReply *exec) {
    int any_failed = 0;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        for (size_t k = 0; k < it->apply_n; k++) {
            const redisReply *e = exec->element[it->apply_first + k];
            if (e && e->type == REDIS_REPLY_ERROR) {
                lm_counter_add(rt->m_errors_fatal, 1);
                lm_log(LM_LOG_ERROR, "state_write_failed",
                       "applying the state of %s failed: %s", it->ident.id,
                       e->str);
                snprintf(it->reason, sizeof(it->reason),
                         "state write failed: %.400s", e->str);
                it->write_failed = 1;
                any_failed = 1;
                break;
            }
        }
    }
    return any_failed;
}

/* What the transaction's replies say: RT_WRITE_APPLIED (*any_failed when
 * a write failed inside it) or RT_WRITE_AGAIN. */
static int check_transaction(lm_runtime *rt, size_t queued, int *any_failed) {
    redisReply **r = rt->replies;
    const redisReply *exec = r[rt->pipe.n - 1];
    *any_failed = 0;
    if (!r[0] || r[0]->type == REDIS_REPLY_ERROR) {
        lm_log(LM_LOG_WARN, "redis_not_now", "MULTI: %s",
               r[0] ? r[0]->str : "no reply");
        return RT_WRITE_AGAIN;
    }
    if (check_queued(rt, r) != RT_WRITE_APPLIED)
        return RT_WRITE_AGAIN;
    if (!exec || exec->type == REDIS_REPLY_NIL) {
        lm_log(LM_LOG_INFO, "batch_conflict",
               "a watched key moved meanwhile (a fence: another replica "
               "applied input from its partition; or a key the worker "
               "watched, lm_plan_watch); reading the batch again");
        return RT_WRITE_AGAIN;
    }
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != queued) {
        lm_log(LM_LOG_WARN, "redis_not_now", "EXEC: %s",
               exec->type == REDIS_REPLY_ERROR ? exec->str
                                               : "unexpected reply");
        return RT_WRITE_AGAIN;
    }
    *any_failed = mark_failed_writes(rt, exec);
    return RT_WRITE_APPLIED;
}

/* After a write the transaction could not apply (WRONGTYPE, say): the
 * item is dead-lettered instead, and its outbox (its done record, or its
 * partition's fence) must then hold the dead letter, or a crash now would
 * recover the outputs it never earned. A rare path: its own round trip. */
int rt_fix_failed_items(lm_runtime *rt, int64_t now_ms) {
    lm_pipe *p = &rt->pipe;
    lm_pipe_reset(p);
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (!it->write_failed)
            continue;
        rt_item_set(it, RT_REJECT);
        if (rt_item_dead_letter(rt, it, now_ms) != 0)
            return -1;
    }
    if (rt->dedupe->pipe_late(rt, now_ms) != 0)
        return -1;
    if (p->n == 0)
        return 0;
    if (rt_redis_roundtrip(rt) != 0)
        return -1;
    int rc = rt->dedupe->late_applied(rt);
    rt_replies_free(rt, p->n);
    return rc;
}

int rt_write_exec(lm_runtime *rt, const char *then) {
    char err[512];
    int rc = exec_pipe(rt, err, sizeof(err));
    if (rc != 0) {
        lm_counter_add(rc == LM_REDIS_RETRY ? rt->m_errors_retriable
                                            : rt->m_errors_fatal,
                       1);
        atomic_store(&rt->ready_redis, 0);
        lm_log(LM_LOG_WARN, "redis_unavailable", "%s; %s", err, then);
        return RT_WRITE_AGAIN;
    }
    lm_histogram_observe(rt->m_redis_rtt,
                         lm_redis_last_rtt_ms(rt->redis) / 1e3);
    return 0;
}

int rt_write_round_trip(lm_runtime *rt, int64_t now_ms) {
    size_t queued = 0;
    if (rt->cluster)
        return rt_cluster_write_round_trip(rt, now_ms);
    int built = pipe_transaction(rt, &queued, now_ms);
    if (built <= 0)
        return built == 0 ? RT_WRITE_APPLIED : RT_WRITE_ABANDON;
    race_replica_first(rt);
    race_claim_taken(rt);
    if (rt_write_exec(rt, "the batch's writes are read back and tried "
                          "again") != 0)
        return RT_WRITE_AGAIN;
    int any_failed = 0;
    int result = check_transaction(rt, queued, &any_failed);
    rt_replies_free(rt, rt->pipe.n);
    if (result == RT_WRITE_APPLIED && any_failed &&
        rt_fix_failed_items(rt, now_ms) != 0)
        return RT_WRITE_ABANDON;
    return result;
}
