/* lm_rt_cluster.c — a worker's batch on a Redis Cluster (docs/DELIVERY.md,
 * "On a Redis Cluster"). Used only when lm_redis_is_cluster; a single
 * Redis never reaches this file.
 *
 * A cluster runs a transaction within one slot only, and a batch spans
 * many. So on a cluster:
 *   - every worker knows a redelivery by its done record (lm_rt_by_id.c),
 *     in the input's own tag slot, read with one GET each (round trip 1:
 *     no fence, no WATCH; a PING keeps their replies' places);
 *   - round trip 2 is one guarded unit per slot of the applied items'
 *     tags: the unit script (lm_rt_cluster.h) refuses the whole unit when
 *     any of its done records exists (another replica applied that input:
 *     the batch is read again and recovers, as after a refused EXEC), else
 *     runs those items' writes and their done records, each under pcall,
 *     as EXEC would. Every unit goes in one pipeline (one per node);
 *   - an item's side writes (lm_out_index: other slots' keys) are kept in
 *     its outbox (Outbox.side) and applied after the units, per (item,
 *     slot) by the side script behind a marker lm:{<tag>}:applied:<worker>:
 *     <id> (SET NX PX), so each applies once even if repeated; an input
 *     recovered from its done record applies them again (its markers say
 *     which were). A script command (EVAL) cannot run inside a script: it
 *     is sent as it is, between the marked runs (its Lua must be
 *     idempotent; lastmile's are: SADD/HSET/ZREM);
 *   - a side write Redis refuses (WRONGTYPE) dead-letters its item when
 *     the item was applied now, as a failed write inside EXEC does on one
 *     Redis (rt_fix_failed_items);
 *   - then WAIT on every master (LASTMILE_REDIS_WAIT_REPLICAS, capped at
 *     the replicas the master has online: ROLE), so an acknowledged batch
 *     survives its master's failover; fewer replicas acknowledging than
 *     the master has online holds the batch (not produced, not
 *     committed), while a master with fewer online than asked (its
 *     replica lost, or promoted) is waited on for those it has, logged
 *     and counted, and the fleet goes on.
 *
 * State: rt->cluster (an rt_cluster), owned by the runtime, freed by
 * rt_cluster_free. Runs on the worker's thread. */
#include "lm_rt_cluster.h"
#include "lm_rt_internal.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_log.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

lm_script rt_cluster_unit_script = {LM_RTC_UNIT_LUA, ""};
lm_script rt_cluster_side_script = {LM_RTC_SIDE_LUA, ""};

int rt_cluster_setup(lm_runtime *rt) {
    rt->cluster = calloc(1, sizeof(*rt->cluster));
    if (!rt->cluster ||
        !(rt->cluster->parsed = malloc(sizeof(*rt->cluster->parsed))) ||
        lm_redis_add_script(rt->redis, &rt_cluster_unit_script) != 0 ||
        lm_redis_add_script(rt->redis, &rt_cluster_side_script) != 0)
        return -1;
    rt->cluster->wait_replicas =
        rt->s.redis_wait_replicas < 0 ? 1 : rt->s.redis_wait_replicas;
    char labels[96];
    snprintf(labels, sizeof(labels), "worker=\"%s\"", rt->w->name);
    rt->cluster->g_short = lm_metrics_gauge(
        rt->metrics, "lastmile_redis_masters_short_of_replicas",
        "Masters whose writes were acknowledged by fewer replicas than "
        "LASTMILE_REDIS_WAIT_REPLICAS (they have fewer online)",
        labels);
    if (rt->dedupe != &rt_dedupe_by_id) {
        rt->dedupe->fini(rt);
        rt->dedupe = &rt_dedupe_by_id;
        if (rt->dedupe->init(rt) != 0)
            return -1;
    }
    lm_log(LM_LOG_INFO, "redis_cluster",
           "on a Redis Cluster: redeliveries known by done records, one "
           "guarded unit per slot, side writes once behind markers, WAIT %d "
           "replica(s) before producing. Capacity and queue hand-outs "
           "(lm_plan_watch) are checked per replica on a cluster, not "
           "across replicas (docs/DELIVERY.md, \"Known limits\")",
           rt->cluster->wait_replicas);
    return 0;
}

void rt_cluster_free(lm_runtime *rt) {
    if (!rt->cluster)
        return;
    lm_pipe_free(&rt->cluster->cmds);
    lm_buf_free(&rt->cluster->guards);
    free(rt->cluster->slots);
    free(rt->cluster->unit_off);
    free(rt->cluster->parsed);
    free(rt->cluster->masters);
    free(rt->cluster->side_end);
    free(rt->cluster);
    rt->cluster = NULL;
}

/* ================================================ round trip 1: reads */

int rt_cluster_pipe_reads(lm_runtime *rt, size_t *n_get) {
    char key[RT_KEY_MAX];
    if (lm_pipe_cmd_strs(&rt->pipe, "PING", NULL) != 0)
        return -1;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_done_key(rt, &rt->items[i].ident, key, sizeof(key));
        if (lm_pipe_cmd_strs(&rt->pipe, "GET", key, NULL) != 0)
            return -1;
    }
    *n_get = rt->n_items;
    return 0;
}

int rt_cluster_gather_reads(lm_runtime *rt, size_t n_get) {
    redisReply **r = rt->replies;
    redisReply *arr = calloc(1, sizeof(*arr));
    redisReply **el = calloc(n_get ? n_get : 1, sizeof(*el));
    if (!arr || !el) {
        free(arr);
        free(el);
        rt_replies_free(rt, rt->pipe.n);
        return -1;
    }
    memcpy(el, r + 1, n_get * sizeof(*el));
    arr->type = REDIS_REPLY_ARRAY;
    arr->elements = n_get;
    arr->element = el;
    /* [0] PING, [1] the GETs as one array (an MGET's place), the plans */
    size_t tail = rt->pipe.n - 1 - n_get;
    memmove(r + 2, r + 1 + n_get, tail * sizeof(*r));
    r[1] = arr;
    for (size_t k = 2 + tail; k < rt->pipe.n; k++)
        r[k] = NULL;
    for (size_t i = 0; i < rt->n_items; i++)
        rt->items[i].plan_first -= n_get - 1;
    rt->pipe.n = 2 + tail; /* what rt_decide frees */
    return 0;
}

/* =============================================== round trip 2: units */

/* The unit of slot s (made when new): its index, or -1 (OOM). */
static long unit_of(rt_cluster *c, unsigned s) {
    for (size_t u = 0; u < c->n_units; u++)
        if (c->slots[u] == s)
            return (long)u;
    if (lm_array_grow((void **)&c->slots, &c->cap_units, c->n_units + 1,
                      sizeof(*c->slots)) != 0)
        return -1;
    c->slots[c->n_units] = s;
    return (long)c->n_units++;
}

/* Appends unit u's EVALSHA to rt->pipe: its items' writes and done
 * records, guarded by the done records. 0 / -1 (OOM). */
static int pipe_unit(lm_runtime *rt, size_t u, int64_t now_ms) {
    rt_cluster *c = rt->cluster;
    lm_rcluster_arg guards[RT_PARTITIONS_MAX];
    char key[RT_KEY_MAX];
    size_t n_guards = 0, n_alloc = 0;
    lm_pipe_reset(&c->cmds);
    lm_buf_reset(&c->guards);
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (!rt_item_applies(it) || it->unit != u)
            continue;
        n_alloc++;
    }
    lm_rcluster_arg *g =
        n_alloc <= RT_PARTITIONS_MAX ? guards : malloc(n_alloc * sizeof(*g));
    if (!g)
        return -1;
    int rc = -1;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (!rt_item_applies(it) || it->unit != u)
            continue;
        it->apply_first = c->cmds.n;
        if (it->write_n) {
            if (lm_buf_append(&c->cmds.buf, rt->writes.buf.data + it->write_off,
                              it->write_len) < 0)
                goto out;
            c->cmds.n += it->write_n;
        }
        if (rt_done_record_pipe(rt, it, &c->cmds, now_ms) != 0)
            goto out;
        it->apply_n = it->write_n + 1;
        rt_done_key(rt, &it->ident, key, sizeof(key));
        if (lm_buf_append(&c->guards, key, strlen(key) + 1) < 0)
            goto out;
        n_guards++;
    }
    for (size_t k = 0, at = 0; k < n_guards; k++) { /* after any realloc */
        g[k].s = c->guards.data + at;
        g[k].len = strlen(g[k].s);
        at += g[k].len + 1;
    }
    char ng[LM_FMT_I64_MAX];
    lm_rcluster_arg arg = {ng, lm_fmt_i64(ng, (int64_t)n_guards)};
    rc = lm_rtc_pipe_script(&rt->pipe, rt_cluster_unit_script.sha, g, n_guards,
                            &arg, 1, c->cmds.buf.data, c->cmds.buf.len,
                            c->cmds.n);
out:
    if (g != guards)
        free(g);
    return rc;
}

/* Builds every unit in rt->pipe. The number of units (0: nothing to
 * apply), or -1 (OOM). */
static long pipe_units(lm_runtime *rt, int64_t now_ms) {
    rt_cluster *c = rt->cluster;
    char key[RT_KEY_MAX];
    c->n_units = 0;
    lm_pipe_reset(&rt->pipe);
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (!rt_item_applies(it))
            continue;
        rt_done_key(rt, &it->ident, key, sizeof(key));
        long u = unit_of(c, lm_rcluster_slot(key, strlen(key)));
        if (u < 0)
            return -1;
        it->unit = (size_t)u;
    }
    if (lm_array_grow((void **)&c->unit_off, &c->cap_off, c->n_units + 1,
                      sizeof(*c->unit_off)) != 0)
        return -1;
    for (size_t u = 0; u < c->n_units; u++) {
        c->unit_off[u] = rt->pipe.buf.len;
        if (pipe_unit(rt, u, now_ms) != 0)
            return -1;
    }
    c->unit_off[c->n_units] = rt->pipe.buf.len;
    if (lm_array_grow((void **)&rt->replies, &rt->cap_replies, rt->pipe.n + 1,
                      sizeof(redisReply *)) != 0)
        return -1;
    return (long)c->n_units;
}

/* The crash test's window "cluster-between-units": the first unit alone
 * is applied, then the process dies as under kill -9. */
static void crash_between_units(lm_runtime *rt) {
    char err[256];
    rt_cluster *c = rt->cluster;
    if (rt->crash_at != RT_CRASH_CLUSTER_BETWEEN_UNITS || c->n_units < 2)
        return;
    lm_pipe one = {0};
    if (lm_buf_append(&one.buf, rt->pipe.buf.data, c->unit_off[1]) >= 0) {
        one.n = 1;
        if (lm_redis_exec(rt->redis, &one, rt->replies, err, sizeof(err)) == 0)
            lm_redis_replies_free(rt->replies, 1);
    }
    _exit(137);
}

/* The replica-first test hook (LASTMILE_TEST_CRASH_AT=replica-first):
 * another client applies the very same units first, once, as a replica
 * that took the partitions over meanwhile would; ours are then refused
 * by their guards. */
static void race_replica_first(lm_runtime *rt) {
    char err[256];
    if (rt->crash_at != RT_RACE_REPLICA_FIRST || rt->raced)
        return;
    rt->raced = 1;
    lm_redis *other =
        lm_redis_new(rt->s.redis_url, rt->s.redis_timeout_ms, err, sizeof(err));
    if (other && lm_redis_add_script(other, &rt_cluster_unit_script) == 0 &&
        lm_redis_exec(other, &rt->pipe, rt->replies, err, sizeof(err)) == 0)
        lm_redis_replies_free(rt->replies, rt->pipe.n);
    lm_redis_destroy(other);
}

/* Item it's part of unit reply r: marks it write_failed when a command
 * of it failed. 1 when it did. */
static int item_failed(lm_runtime *rt, rt_item *it, const redisReply *r) {
    for (size_t k = 0; k < it->apply_n; k++) {
        const redisReply *e = r->element[it->apply_first + k];
        if (e && e->type == REDIS_REPLY_ERROR) {
            lm_counter_add(rt->m_errors_fatal, 1);
            lm_log(LM_LOG_ERROR, "state_write_failed",
                   "applying the state of %s failed: %s", it->ident.id, e->str);
            snprintf(it->reason, sizeof(it->reason),
                     "state write failed: %.400s", e->str);
            it->write_failed = 1;
            return 1;
        }
    }
    return 0;
}

/* A unit refused or failed as a whole (not "not now", not the guard):
 * every item of it is failed (dead-lettered after). */
static void unit_failed(lm_runtime *rt, size_t u, const char *why) {
    lm_counter_add(rt->m_errors_fatal, 1);
    lm_log(LM_LOG_ERROR, "state_write_failed",
           "a unit of slot %u was refused: %s", rt->cluster->slots[u], why);
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        if (!rt_item_applies(it) || it->unit != u)
            continue;
        snprintf(it->reason, sizeof(it->reason), "state write refused: %.400s",
                 why);
        it->write_failed = 1;
    }
}

/* What the units' replies say: RT_WRITE_APPLIED (*any_failed when an
 * item's write failed) or RT_WRITE_AGAIN (some units may have applied:
 * the reads of the next attempt find their done records). */
static int check_units(lm_runtime *rt, int *any_failed) {
    rt_cluster *c = rt->cluster;
    int result = RT_WRITE_APPLIED;
    *any_failed = 0;
    for (size_t u = 0; u < c->n_units; u++) {
        const redisReply *r = rt->replies[u];
        size_t expect = 0;
        for (size_t i = 0; i < rt->n_items; i++)
            if (rt_item_applies(&rt->items[i]) && rt->items[i].unit == u)
                expect += rt->items[i].apply_n;
        if (r && r->type == REDIS_REPLY_ERROR &&
            strncmp(r->str, LM_RTC_REFUSED, strlen(LM_RTC_REFUSED)) == 0) {
            lm_log(LM_LOG_INFO, "batch_conflict",
                   "%s exists already (another replica applied that input); "
                   "reading the batch again",
                   r->str + strlen(LM_RTC_REFUSED) + 1);
            result = RT_WRITE_AGAIN;
        } else if (!r || (r->type == REDIS_REPLY_ERROR &&
                          rt_reply_error_retriable(r->str))) {
            lm_log(LM_LOG_WARN, "redis_not_now", "a unit: %s",
                   r ? r->str : "no reply");
            result = RT_WRITE_AGAIN;
        } else if (r->type != REDIS_REPLY_ARRAY || r->elements != expect) {
            unit_failed(rt, u,
                        r->type == REDIS_REPLY_ERROR ? r->str
                                                     : "unexpected reply");
            *any_failed = 1;
        } else {
            for (size_t i = 0; i < rt->n_items; i++) {
                rt_item *it = &rt->items[i];
                if (rt_item_applies(it) && it->unit == u &&
                    item_failed(rt, it, r))
                    *any_failed = 1;
            }
        }
    }
    return result;
}

int rt_cluster_write_round_trip(lm_runtime *rt, int64_t now_ms) {
    long n = pipe_units(rt, now_ms);
    if (n <= 0)
        return n == 0 ? RT_WRITE_APPLIED : RT_WRITE_ABANDON;
    crash_between_units(rt);
    race_replica_first(rt);
    if (rt_write_exec(rt, "the batch is read again (its done records say "
                          "which units applied) and tried again") != 0)
        return RT_WRITE_AGAIN;
    int any_failed = 0;
    int result = check_units(rt, &any_failed);
    rt_replies_free(rt, rt->pipe.n);
    if (result == RT_WRITE_APPLIED && any_failed &&
        rt_fix_failed_items(rt, now_ms) != 0)
        return RT_WRITE_ABANDON;
    return result;
}
