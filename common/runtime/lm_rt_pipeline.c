/* lm_rt_pipeline.c — overlapped batches: batch N waits for its
 * acknowledgements while batch N+1 is taken, read and decided.
 *
 * The order, per worker (docs/DELIVERY.md, "Overlapped batches"):
 *   EXEC N → produce N (queued, sent) → park N
 *   → take, identify, read, decide N+1 (N's deliveries in flight)
 *   → settle N: wait for its acknowledgements, commit it (asynchronously:
 *     the broker's answer is not waited for), free it
 *   → EXEC N+1 → produce N+1 → park N+1 → ...
 * N+1's reads follow N's EXEC, so they see N's writes. N+1's EXEC follows
 * N's acknowledgements: a worker known by offset keeps one fence per input
 * partition holding the last applied batch's outboxes, and N+1's EXEC
 * replaces it; were N's outputs not all acknowledged then, a crash would
 * lose them (the fence would no longer say what they were). Input is
 * committed in batch order, each batch only after what it caused is
 * durable. A batch that cannot be finished is not committed, and the next
 * one is dropped unapplied (the caller abandons it: stop, redeliver).
 *
 * Parking moves the batch's arrays and buffers (items, records and their
 * bytes, counts, writes, fences, the arena of its decoded inputs) out of
 * lm_runtime into an rt_parked, and gives lm_runtime the parked struct's empty
 * ones: the rest of the runtime keeps working on "the live batch" (rt->items,
 * rt->recs, ...). Settling swaps them back for the time it takes. A delivery
 * report names its record by the arrays' generation (rec_seq) and index, so it
 * finds it live or parked. Any per-batch state added to lm_runtime that is used
 * after a batch's EXEC (by produce, the read-back or commit) must be
 * swapped in swap_live too, or a parked batch shares it with the next.
 *
 * LASTMILE_OVERLAP=0 turns it off: each batch is finished before the next
 * is taken, as before. Ownership: rt->parked and its arrays are the
 * runtime's, freed by rt_pipeline_free after the producer is gone.
 * Threads: the worker's only (the rebalance callback that settles runs
 * inside its consumer poll). */
#include "lm_rt_internal.h"

#include "lm_clock.h"
#include "lm_log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(uintptr_t) >= 8, "a delivery's opaque holds 64 bits");

struct rt_parked {
    int busy; /* holds a batch in flight */
    uint32_t seq_next;
    rt_item *items;
    size_t n_items, cap_items;
    rt_rec *recs;
    size_t n_recs, cap_recs;
    rt_count *counts;
    size_t n_counts, cap_counts;
    lm_buf recbuf;
    lm_pipe writes, index;
    lm_arena inputs;
    size_t batch_plan_n, n_later;
    int n_fences;
    int32_t fences[RT_PARTITIONS_MAX];
    int64_t fence_first[RT_PARTITIONS_MAX], fence_last[RT_PARTITIONS_MAX];
    uint32_t rec_seq;
    rt_phases ph;
};

#define RT_SWAP(type, a, b)                                                    \
    do {                                                                       \
        type swap_tmp_ = (a);                                                  \
        (a) = (b);                                                             \
        (b) = swap_tmp_;                                                       \
    } while (0)

/* Exchanges the live batch with the parked one. */
static void swap_live(lm_runtime *rt, rt_parked *p) {
    RT_SWAP(rt_item *, rt->items, p->items);
    RT_SWAP(size_t, rt->n_items, p->n_items);
    RT_SWAP(size_t, rt->cap_items, p->cap_items);
    RT_SWAP(rt_rec *, rt->recs, p->recs);
    RT_SWAP(size_t, rt->n_recs, p->n_recs);
    RT_SWAP(size_t, rt->cap_recs, p->cap_recs);
    RT_SWAP(rt_count *, rt->counts, p->counts);
    RT_SWAP(size_t, rt->n_counts, p->n_counts);
    RT_SWAP(size_t, rt->cap_counts, p->cap_counts);
    RT_SWAP(lm_buf, rt->recbuf, p->recbuf);
    RT_SWAP(lm_pipe, rt->writes, p->writes);
    RT_SWAP(lm_pipe, rt->index, p->index);
    RT_SWAP(lm_arena, rt->inputs, p->inputs);
    RT_SWAP(size_t, rt->batch_plan_n, p->batch_plan_n);
    RT_SWAP(size_t, rt->n_later, p->n_later);
    int nf = rt->n_fences > p->n_fences ? rt->n_fences : p->n_fences;
    for (int f = 0; f < nf; f++) {
        RT_SWAP(int32_t, rt->fences[f], p->fences[f]);
        RT_SWAP(int64_t, rt->fence_first[f], p->fence_first[f]);
        RT_SWAP(int64_t, rt->fence_last[f], p->fence_last[f]);
    }
    RT_SWAP(int, rt->n_fences, p->n_fences);
    RT_SWAP(uint32_t, rt->rec_seq, p->rec_seq);
    RT_SWAP(rt_phases, rt->ph, p->ph);
}

static rt_parked *parked_get(lm_runtime *rt) {
    if (!rt->parked) {
        rt->parked = calloc(1, sizeof(*rt->parked));
        if (rt->parked) /* the live arrays are generation 0 */
            rt->parked->rec_seq = rt->parked->seq_next = 1;
    }
    return rt->parked;
}

void rt_pipeline_free(lm_runtime *rt) {
    rt_parked *p = rt->parked;
    if (!p)
        return;
    free(p->items);
    free(p->recs);
    free(p->counts);
    lm_buf_free(&p->recbuf);
    lm_pipe_free(&p->writes);
    lm_pipe_free(&p->index);
    lm_arena_free(&p->inputs);
    free(p);
    rt->parked = NULL;
}

int rt_inflight(const lm_runtime *rt) {
    return rt->parked && rt->parked->busy;
}

void *rt_delivery_opaque(const lm_runtime *rt, size_t i) {
    return (void *)(((uintptr_t)rt->rec_seq << 32) | (uintptr_t)(uint32_t)i);
}

rt_rec *rt_delivery_rec(lm_runtime *rt, void *opaque) {
    uintptr_t v = (uintptr_t)opaque;
    uint32_t seq = (uint32_t)(v >> 32);
    size_t i = (size_t)(uint32_t)v;
    const rt_parked *p = rt->parked;
    if (seq == rt->rec_seq)
        return i < rt->n_recs ? &rt->recs[i] : NULL;
    if (p && p->busy && seq == p->rec_seq && i < p->n_recs)
        return &p->recs[i];
    return NULL; /* a batch given up (its reports come after it) */
}

/* ============================================================ phases */

static int64_t mono_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

void rt_phases_start(lm_runtime *rt) {
    memset(&rt->ph, 0, sizeof(rt->ph));
    rt->ph.t0_us = mono_us();
}

void rt_phase_end(lm_runtime *rt, int phase) {
    rt->ph.end[phase] = (double)(mono_us() - rt->ph.t0_us) / 1e3;
}

/* The batch's phases, each as its own duration, for the debug log. */
static void log_phases(const lm_runtime *rt) {
    double d[RT_PH_N], prev = 0;
    for (int i = 0; i < RT_PH_N; i++) {
        double e = rt->ph.end[i];
        d[i] = e > prev ? e - prev : 0;
        if (e > prev)
            prev = e;
    }
    lm_log(LM_LOG_DEBUG, "batch",
           "%zu msgs: reads %.1f ms, decide %.1f, wait for the previous "
           "batch %.1f, writes %.1f, produce %.1f, next batch decided %.1f, "
           "acks %.1f, commit %.1f",
           rt->n_items, d[RT_PH_READS], d[RT_PH_DECIDE], d[RT_PH_WAIT_PREV],
           d[RT_PH_WRITES], d[RT_PH_PRODUCE], d[RT_PH_PARKED], d[RT_PH_ACKS],
           d[RT_PH_COMMIT]);
}

/* ========================================================== finishing */

/* After the commit: the committed inputs that were not decided again (an
 * event published twice, a redelivery after a crash, a repeat within the
 * batch), so an operator sees duplicates arrive. */
static void count_seen_before(lm_runtime *rt) {
    uint64_t n = 0;
    for (size_t i = 0; i < rt->n_items; i++)
        n += rt->items[i].state == RT_DUP ||
             rt->items[i].state == RT_DONE_BEFORE;
    if (n)
        lm_counter_add(rt->m_seen_before, n);
}

/* A fresh generation for the live arrays, once their batch is gone: a late
 * report of that batch finds no record. */
static void next_generation(lm_runtime *rt) {
    rt_parked *p = parked_get(rt);
    if (p)
        rt->rec_seq = ++p->seq_next;
    else
        rt->rec_seq++;
}

/* Steps 6 (the wait) and 7 for the live batch, whose outputs are queued:
 * waits for every acknowledgement, commits, frees the batch. 0 / -1 (not
 * committed). */
static int batch_finish(lm_runtime *rt) {
    int64_t deadline = 0;
    if (lm_runtime_stopping(rt)) {
        rt_past_drain_deadline(rt);
        deadline = rt->stop_deadline_ms;
    }
    int rc = rt_produce_wait(rt, deadline);
    rt_phase_end(rt, RT_PH_ACKS);
    if (rc == 0) {
        if (rt->crash_at == RT_CRASH_AFTER_PRODUCE)
            _exit(137);
        /* overlapped, the next transaction need not wait for the
           broker's answer: a commit lost in a crash only redelivers input
           whose outputs are acknowledged (the fences and done records
           recover it). Synchronous when stopping, losing partitions or
           without the overlap. */
        int async = rt->overlap && !rt->revoking && !rt->fatal &&
                    !lm_runtime_stopping(rt);
        if (rt_commit_batch(rt, async) == 0) {
            rt_apply_counts(rt);
            count_seen_before(rt);
        }
        rt_phase_end(rt, RT_PH_COMMIT);
        if (lm_log_enabled(LM_LOG_DEBUG))
            log_phases(rt);
        lm_histogram_observe(rt->m_handler, rt->ph.end[RT_PH_COMMIT] / 1e3 /
                                                (double)rt->n_items);
    }
    /* On -1 deliveries still in flight point into the batch's buffers:
       they are emptied, not freed, and the worker stops without using them
       again (abandon_batch waits for the producer, runtime_free frees them
       after it). */
    rt_batch_drop(rt);
    next_generation(rt);
    return rc;
}

int rt_batch_after_produce(lm_runtime *rt) {
    rt_phase_end(rt, RT_PH_PRODUCE);
    rt->dedupe->forget(rt); /* the batch's reads are not needed any more */
    rt_parked *p =
        rt->overlap && !lm_runtime_stopping(rt) ? parked_get(rt) : NULL;
    if (!p || p->busy) /* (busy: never, the previous one was settled) */
        return batch_finish(rt);
    swap_live(rt, p);
    p->busy = 1;
    return 0;
}

int rt_inflight_settle(lm_runtime *rt) {
    rt_parked *p = rt->parked;
    if (!p || !p->busy)
        return 0;
    swap_live(rt, p); /* the batch in flight is live, the next one parked */
    p->busy = 0;
    rt_phase_end(rt, RT_PH_PARKED);
    int rc = batch_finish(rt);
    swap_live(rt, p);
    if (rc != 0 && !lm_runtime_stopping(rt)) {
        rt->fatal = 1;
        lm_log(LM_LOG_ERROR, "batch_abandoned",
               "the batch in flight could not be completed; stopping without "
               "committing it or applying the next one, so that both are "
               "redelivered");
    }
    return rc;
}
