/* lm_rt_cluster_side.c — on a Redis Cluster, after the batch's units and
 * before its outputs are produced: each item's side writes applied once
 * (behind markers), then WAIT for the masters' replicas (see
 * lm_rt_cluster.c for the design; docs/DELIVERY.md, "On a Redis
 * Cluster"). Also the side writes' place in the outbox (Outbox.side).
 *
 * Which items: those applied now (RT_NEW, no failed write) and those
 * recovered from their done record (RT_DONE_BEFORE, side writes restored
 * from its outbox). An item's commands are grouped by the slot of their
 * first key, in their order; a group is cut into runs at script commands
 * (EVAL: sent as they are); run k of a group is one side script with the
 * marker lm:{<tag of the group's first key>}:applied:<worker>:<id>, with
 * "#<k>" after the id for k > 0. The same outbox gives the same groups,
 * runs and markers, so a repeat finds its markers. A refused side write
 * dead-letters an item applied now (check_side, then rt_fix_failed_items:
 * its done record rewritten to hold the dead letter), as one Redis does.
 *
 * The WAIT asks each master for min(LASTMILE_REDIS_WAIT_REPLICAS, the
 * replicas it has online), learnt from ROLE when a WAIT falls short and
 * asked again every LM_RTC_ROLE_EVERY_MS while it is short: a master
 * that lost its replica (or a promoted one that has none yet) does not
 * stop the fleet; it is logged (redis_replicas_fewer) and counted
 * (lastmile_redis_masters_short_of_replicas). A replica online but
 * behind still holds the batch.
 *
 * State: rt->cluster's: the masters' replicas seen (masters) and scratch;
 * rt->pipe, rt->index.
 * Runs on the worker's thread. */
#include "lm_rt_cluster.h"
#include "lm_rt_internal.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An item's side command: where it is in rt->index, its slot. */
typedef struct side_cmd {
    size_t off, len;
    int slot;
    int script;
    int done;
} side_cmd;

/* Reads item it's side commands out of rt->index into *out (malloc'd,
 * it->index_n of them). 0 / -1 (OOM, or one does not parse). */
static int side_cmds(const lm_runtime *rt, const rt_item *it, side_cmd **out) {
    lm_rtc_cmd *c = rt->cluster->parsed;
    side_cmd *s = calloc(it->index_n ? it->index_n : 1, sizeof(*s));
    int rc = s ? 0 : -1;
    size_t at = it->index_off;
    for (size_t k = 0; rc == 0 && k < it->index_n; k++) {
        if (lm_rtc_next(rt->index.buf.data + at, rt->index.buf.len - at, c) !=
            0) {
            rc = -1;
            break;
        }
        s[k].off = at;
        s[k].len = c->len;
        s[k].slot = lm_rtc_cmd_slot(c);
        s[k].script = lm_rtc_is_script(c);
        at += c->len;
    }
    if (rc != 0)
        free(s);
    else
        *out = s;
    return rc;
}

/* The marker of run k of the group whose first command is s. */
static int marker_key(const lm_runtime *rt, const rt_item *it,
                      const side_cmd *s, int k, char *buf, size_t bufsz) {
    lm_rtc_cmd *c = rt->cluster->parsed;
    if (lm_rtc_next(rt->index.buf.data + s->off, s->len, c) != 0)
        return -1;
    size_t first = 0, end = 0, step = 1;
    lm_rcluster_key_span(c->args, c->argc, &first, &end, &step);
    const char *tag = "";
    size_t tl = 0;
    if (first < end && first < c->argc)
        lm_rtc_tag(c->args[first].s, c->args[first].len, &tag, &tl);
    char run[LM_FMT_I64_MAX + 1] = "";
    if (k > 0) {
        run[0] = '#';
        lm_fmt_i64(run + 1, k);
    }
    int n = snprintf(buf, bufsz, "lm:{%.*s}:applied:%s:%s%s", (int)tl, tag,
                     rt->w->name, it->ident.id, run);
    return n > 0 && (size_t)n < bufsz ? 0 : -1;
}

/* Appends one marked run: commands s[from..to) of slot `slot` (those not
 * done). 0 / -1. */
static int pipe_run(lm_runtime *rt, const rt_item *it, side_cmd *s, size_t from,
                    size_t to, int slot, int k) {
    lm_pipe *cmds = &rt->cluster->cmds;
    char marker[RT_KEY_MAX + 64], ttl[LM_FMT_I64_MAX];
    lm_pipe_reset(cmds);
    size_t first = to;
    for (size_t j = from; j < to; j++) {
        if (s[j].done || s[j].slot != slot || s[j].script)
            continue;
        if (first == to)
            first = j;
        if (lm_buf_append(&cmds->buf, rt->index.buf.data + s[j].off, s[j].len) <
            0)
            return -1;
        cmds->n++;
        s[j].done = 1;
    }
    if (cmds->n == 0)
        return 0;
    if (marker_key(rt, it, &s[first], k, marker, sizeof(marker)) != 0)
        return -1;
    lm_rcluster_arg key = {marker, strlen(marker)};
    lm_rcluster_arg arg = {ttl, lm_fmt_i64(ttl, rt->s.dedupe_ttl_s * 1000)};
    return lm_rtc_pipe_script(&rt->pipe, rt_cluster_side_script.sha, &key, 1,
                              &arg, 1, cmds->buf.data, cmds->buf.len, cmds->n);
}

/* Appends item it's side writes: per slot, in order, runs cut at script
 * commands. 0 / -1. */
static int pipe_item_side(lm_runtime *rt, const rt_item *it) {
    side_cmd *s = NULL;
    if (it->index_n == 0)
        return 0;
    if (side_cmds(rt, it, &s) != 0)
        return -1;
    int rc = 0;
    for (size_t g = 0; rc == 0 && g < it->index_n; g++) {
        if (s[g].done)
            continue;
        int slot = s[g].slot, k = 0;
        size_t from = g;
        for (size_t j = g; rc == 0 && j <= it->index_n; j++) {
            if (j < it->index_n && (s[j].slot != slot || !s[j].script))
                continue;
            /* a script of this slot (or the end): the run before it */
            if (pipe_run(rt, it, s, from, j, slot, k) != 0) {
                rc = -1;
                break;
            }
            k++;
            if (j < it->index_n && !s[j].done) {
                if (lm_buf_append(&rt->pipe.buf, rt->index.buf.data + s[j].off,
                                  s[j].len) < 0)
                    rc = -1;
                rt->pipe.n++;
                s[j].done = 1;
            }
            from = j + 1;
        }
    }
    free(s);
    return rc;
}

/* 1 when item it's side writes are applied now. */
static int side_due(const rt_item *it) {
    return it->index_n > 0 && ((it->state == RT_NEW && !it->write_failed) ||
                               it->state == RT_DONE_BEFORE);
}

/* Why side reply r failed, or NULL: an error reply (a script command's,
 * or a whole run refused), or a run whose commands failed in it. */
static const char *side_error(const redisReply *r) {
    if (r && r->type == REDIS_REPLY_ERROR)
        return r->str;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[1]->type == REDIS_REPLY_INTEGER &&
        r->element[1]->integer > 0 && r->element[2]->type == REDIS_REPLY_STRING)
        return r->element[2]->str;
    return NULL;
}

/* What the side writes' replies say failed, item by item (c->side_end):
 * an item applied now is marked write_failed, to be dead-lettered as a
 * write failed inside EXEC is on one Redis (its outputs are not
 * produced); one recovered from its done record is only logged (its
 * outputs may be out already). 1 when an item was marked. Not retried:
 * a refused command is the item's own. */
static int check_side(lm_runtime *rt) {
    const size_t *end = rt->cluster->side_end;
    int marked = 0;
    for (size_t i = 0, at = 0; i < rt->n_items; at = end[i], i++) {
        rt_item *it = &rt->items[i];
        const char *why = NULL;
        for (size_t k = at; !why && k < end[i]; k++)
            why = side_error(rt->replies[k]);
        if (!why)
            continue;
        lm_counter_add(rt->m_errors_fatal, 1);
        int now = it->state == RT_NEW;
        lm_log(LM_LOG_ERROR, "side_write_failed",
               "a side write of %s (another slot's key) was refused: %s; %s",
               it->ident.id, why,
               now ? "the input is dead-lettered"
                   : "it was applied before (recovered): only logged");
        if (!now)
            continue;
        snprintf(it->reason, sizeof(it->reason), "side write failed: %.400s",
                 why);
        it->write_failed = 1;
        marked = 1;
    }
    return marked;
}

/* The entry of master m (made when new; NULL on OOM or no name). */
static lm_rtc_master *master_entry(lm_runtime *rt, int m) {
    rt_cluster *c = rt->cluster;
    char name[sizeof(c->masters->name)];
    if (lm_redis_master_name(rt->redis, m, name, sizeof(name)) != 0)
        return NULL;
    for (size_t k = 0; k < c->n_masters; k++)
        if (strcmp(c->masters[k].name, name) == 0)
            return &c->masters[k];
    if (lm_array_grow((void **)&c->masters, &c->cap_masters, c->n_masters + 1,
                      sizeof(*c->masters)) != 0)
        return NULL;
    lm_rtc_master *e = &c->masters[c->n_masters++];
    memcpy(e->name, name, sizeof(name));
    e->online = -1;
    e->asked_ms = 0;
    return e;
}

/* Asks master m (entry e) how many replicas it has online (ROLE); logs a
 * change across `want`. 0 / -1 (no answer: e unchanged). */
static int ask_role(lm_runtime *rt, int m, lm_rtc_master *e, int want) {
    char err[256];
    lm_pipe p = {0};
    redisReply *rep[1] = {NULL};
    int n = -1;
    if (lm_pipe_cmd_strs(&p, "ROLE", NULL) == 0 &&
        lm_redis_exec_on_master(rt->redis, m, &p, rep, err, sizeof(err)) == 0)
        n = lm_rtc_role_replicas(rep[0]);
    lm_redis_replies_free(rep, p.n);
    lm_pipe_free(&p);
    if (n < 0)
        return -1;
    int was_short = e->online >= 0 && e->online < want;
    if (n < want && !was_short)
        lm_log(LM_LOG_WARN, "redis_replicas_fewer",
               "master %s has %d replica(s) online, fewer than "
               "LASTMILE_REDIS_WAIT_REPLICAS=%d: its writes are acknowledged "
               "by %d until more are back (a failover of it now may lose "
               "them: docs/DELIVERY.md, \"Durable before produce\")",
               e->name, n, want, n);
    else if (n >= want && was_short)
        lm_log(LM_LOG_INFO, "redis_replicas_back",
               "master %s has %d replica(s) online again", e->name, n);
    e->online = n;
    e->asked_ms = lm_clock_mono_ms();
    return 0;
}

/* WAIT on master m for min(want, the replicas it has online). 1 when
 * they acknowledged (*short_of set when fewer than want were asked for),
 * 0 when fewer did (err says so: the batch is held). */
static int wait_master(lm_runtime *rt, int m, int want, const char *ms,
                       int *short_of, char *err, size_t errsz) {
    lm_rtc_master *e = master_entry(rt, m);
    if (e && e->online >= 0 && e->online < want &&
        lm_clock_mono_ms() - e->asked_ms >= LM_RTC_ROLE_EVERY_MS)
        ask_role(rt, m, e, want); /* short: are they back? */
    int target = lm_rtc_wait_target(want, e ? e->online : -1);
    long long got = -1;
    if (target > 0) {
        char num[LM_FMT_I64_MAX];
        lm_fmt_i64(num, target);
        lm_pipe p = {0};
        redisReply *rep[1] = {NULL};
        if (lm_pipe_cmd_strs(&p, "WAIT", num, ms, NULL) == 0 &&
            lm_redis_exec_on_master(rt->redis, m, &p, rep, err, errsz) == 0) {
            if (rep[0]->type == REDIS_REPLY_INTEGER)
                got = rep[0]->integer;
            else
                snprintf(err, errsz, "master %d: WAIT %d answered %s", m,
                         target,
                         rep[0]->type == REDIS_REPLY_ERROR ? rep[0]->str
                                                           : "no number");
        }
        lm_redis_replies_free(rep, p.n);
        lm_pipe_free(&p);
        if (got >= 0 && got < target && e && ask_role(rt, m, e, want) == 0)
            target = lm_rtc_wait_target(want, e->online); /* one lost? */
        if (got < target) {
            if (got >= 0)
                snprintf(err, errsz, "master %s: WAIT %d answered %lld",
                         e ? e->name : "?", target, got);
            return 0;
        }
    }
    if (target < want)
        *short_of = 1;
    return 1;
}

/* WAIT on every master until each has min(want, its replicas online)
 * acknowledging; the batch is held meanwhile. 0, or -1 past the drain
 * deadline. */
static int wait_replicas(lm_runtime *rt, int want) {
    char err[256], ms[LM_FMT_I64_MAX];
    lm_fmt_i64(ms,
               rt->s.redis_timeout_ms / 2 > 0 ? rt->s.redis_timeout_ms / 2 : 1);
    for (int attempt = 0;; attempt++) {
        int n = lm_redis_masters(rt->redis, err, sizeof(err));
        int ok = n > 0, n_short = 0;
        for (int m = 0; ok && m < n; m++) {
            int short_of = 0;
            ok = wait_master(rt, m, want, ms, &short_of, err, sizeof(err));
            n_short += short_of;
        }
        if (ok) {
            lm_gauge_set(rt->cluster->g_short, n_short);
            if (attempt > 0)
                atomic_store(&rt->ready_redis, 1);
            return 0;
        }
        lm_counter_add(rt->m_errors_retriable, 1);
        atomic_store(&rt->ready_redis, 0);
        if (attempt % 20 == 0)
            lm_log(LM_LOG_WARN, "redis_replicas_behind",
                   "%s: a master's online replicas do not all hold the "
                   "batch's writes (or it does not answer); holding the "
                   "batch (not produced, not committed)",
                   err);
        if (rt_past_drain_deadline(rt))
            return -1;
        usleep((useconds_t)(attempt < 20 ? attempt + 1 : 20) * 50 * 1000);
    }
}

/* The side writes of every item due, one round trip; the items whose
 * side write was refused dead-lettered (rt_fix_failed_items). 0 / -1. */
static int side_writes(lm_runtime *rt) {
    rt_cluster *c = rt->cluster;
    lm_pipe_reset(&rt->pipe);
    if (lm_array_grow((void **)&c->side_end, &c->cap_side, rt->n_items + 1,
                      sizeof(*c->side_end)) != 0)
        return -1;
    for (size_t i = 0; i < rt->n_items; i++) {
        rt_item *it = &rt->items[i];
        it->write_failed = 0; /* a unit's failure is dead-lettered already */
        if (side_due(it) && pipe_item_side(rt, it) != 0) {
            lm_log(LM_LOG_ERROR, "side_writes_unreadable",
                   "the side writes of %s could not be read (out of memory?)",
                   it->ident.id);
            return -1;
        }
        c->side_end[i] = rt->pipe.n;
    }
    if (rt->pipe.n == 0)
        return 0;
    if (rt_redis_roundtrip(rt) != 0)
        return -1;
    int marked = check_side(rt);
    rt_replies_free(rt, rt->pipe.n);
    return marked ? rt_fix_failed_items(rt, lm_clock_now_ms()) : 0;
}

int rt_cluster_after_writes(lm_runtime *rt) {
    if (side_writes(rt) != 0)
        return -1;
    if (rt->crash_at == RT_CRASH_CLUSTER_AFTER_SIDE)
        _exit(137);
    int want = rt->cluster->wait_replicas;
    return want > 0 ? wait_replicas(rt, want) : 0;
}

/* ======================================================== the outbox */

int rt_cluster_side_fill(const lm_runtime *rt, const rt_item *it,
                         ProtobufCBinaryData **out, size_t *n) {
    side_cmd *s = NULL;
    *out = NULL;
    *n = 0;
    if (it->index_n == 0)
        return 0;
    if (side_cmds(rt, it, &s) != 0)
        return -1;
    ProtobufCBinaryData *b = calloc(it->index_n, sizeof(*b));
    if (!b) {
        free(s);
        return -1;
    }
    for (size_t k = 0; k < it->index_n; k++) {
        b[k].data = (uint8_t *)rt->index.buf.data + s[k].off;
        b[k].len = s[k].len;
    }
    free(s);
    *out = b;
    *n = it->index_n;
    return 0;
}

int rt_cluster_side_restore(lm_runtime *rt, rt_item *it,
                            ProtobufCBinaryData *side, size_t n) {
    lm_rtc_cmd *c = rt->cluster->parsed;
    it->index_off = rt->index.buf.len;
    it->index_len = it->index_n = 0;
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        if (lm_rtc_next((const char *)side[k].data, side[k].len, c) != 0 ||
            c->len != side[k].len) {
            lm_log(LM_LOG_ERROR, "outbox_unreadable",
                   "a side write in the done record of %s is not a command; "
                   "it is not applied again",
                   it->ident.id);
            continue;
        }
        if (lm_buf_append(&rt->index.buf, side[k].data, side[k].len) < 0) {
            rc = -1;
            break;
        }
        rt->index.n++;
        it->index_n++;
        it->index_len += side[k].len;
    }
    return rc;
}
