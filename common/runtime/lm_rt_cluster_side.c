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
 * runs and markers, so a repeat finds its markers.
 *
 * State: none of its own (rt->pipe, rt->index, rt->cluster's scratch).
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

/* Logs what the side writes' replies say failed (they are not retried: a
 * refused command is the item's own, as a failed write inside EXEC). */
static void check_side(lm_runtime *rt) {
    for (size_t i = 0; i < rt->pipe.n; i++) {
        const redisReply *r = rt->replies[i];
        const char *why = NULL;
        if (r && r->type == REDIS_REPLY_ERROR)
            why = r->str;
        else if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                 r->element[1]->type == REDIS_REPLY_INTEGER &&
                 r->element[1]->integer > 0)
            why = r->element[2]->str;
        if (why) {
            lm_counter_add(rt->m_errors_fatal, 1);
            lm_log(LM_LOG_ERROR, "side_write_failed",
                   "a side write (another slot's key) was refused: %s", why);
        }
    }
}

/* WAIT on every master until each has `want` replicas acknowledging; the
 * batch is held meanwhile. 0, or -1 past the drain deadline. */
static int wait_replicas(lm_runtime *rt, int want) {
    char err[256], num[LM_FMT_I64_MAX], ms[LM_FMT_I64_MAX];
    lm_pipe p = {0};
    redisReply *rep[1] = {NULL};
    int rc = -1;
    lm_fmt_i64(num, want);
    lm_fmt_i64(ms,
               rt->s.redis_timeout_ms / 2 > 0 ? rt->s.redis_timeout_ms / 2 : 1);
    if (lm_pipe_cmd_strs(&p, "WAIT", num, ms, NULL) != 0)
        goto out;
    for (int attempt = 0;; attempt++) {
        int n = lm_redis_masters(rt->redis, err, sizeof(err));
        int ok = n > 0;
        for (int m = 0; ok && m < n; m++) {
            ok = lm_redis_exec_on_master(rt->redis, m, &p, rep, err,
                                         sizeof(err)) == 0 &&
                 rep[0]->type == REDIS_REPLY_INTEGER && rep[0]->integer >= want;
            if (!ok && rep[0])
                snprintf(err, sizeof(err), "master %d: WAIT %d answered %lld%s",
                         m, want,
                         rep[0]->type == REDIS_REPLY_INTEGER
                             ? (long long)rep[0]->integer
                             : -1LL,
                         rep[0]->type == REDIS_REPLY_ERROR ? rep[0]->str : "");
            lm_redis_replies_free(rep, 1);
        }
        if (ok) {
            if (attempt > 0)
                atomic_store(&rt->ready_redis, 1);
            rc = 0;
            break;
        }
        lm_counter_add(rt->m_errors_retriable, 1);
        atomic_store(&rt->ready_redis, 0);
        if (attempt % 20 == 0)
            lm_log(LM_LOG_WARN, "redis_replicas_behind",
                   "%s: fewer replicas than LASTMILE_REDIS_WAIT_REPLICAS=%d "
                   "hold the batch's writes; holding it (not produced, not "
                   "committed)",
                   err, want);
        if (rt_past_drain_deadline(rt))
            break;
        usleep((useconds_t)(attempt < 20 ? attempt + 1 : 20) * 50 * 1000);
    }
out:
    lm_pipe_free(&p);
    return rc;
}

int rt_cluster_after_writes(lm_runtime *rt) {
    lm_pipe_reset(&rt->pipe);
    for (size_t i = 0; i < rt->n_items; i++)
        if (side_due(&rt->items[i]) && pipe_item_side(rt, &rt->items[i]) != 0) {
            lm_log(LM_LOG_ERROR, "side_writes_unreadable",
                   "the side writes of %s could not be read (out of memory?)",
                   rt->items[i].ident.id);
            return -1;
        }
    if (rt->pipe.n > 0) {
        if (rt_redis_roundtrip(rt) != 0)
            return -1;
        check_side(rt);
        lm_redis_replies_free(rt->replies, rt->pipe.n);
    }
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
