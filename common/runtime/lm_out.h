/* lm_out.h — behind the worker-facing outputs and plans: one interface,
 * two implementations.
 *
 * A worker's handle writes its decision through lm_out (lm_runtime.h):
 * outputs to produce, Redis writes, index commands, a rejection, business
 * counts. What happens to them depends on who made the lm_out:
 *   - the runtime (lm_rt_out.c) records them into the batch, applies the
 *     writes in the batch's transaction and produces the outputs;
 *   - the recorder (lm_recorder.h) keeps them for a unit test to inspect,
 *     so a worker's handle runs in a test with no Kafka and no Redis.
 * An implementation fills an lm_out_ops table; lm_out.c dispatches the
 * lm_out_* calls to it and owns the sticky `failed` flag (set when any
 * call fails, so decision code can stay linear and be checked once).
 *
 * A plan (the reads a message needs) is the same for both: commands
 * appended to an lm_pipe that the lm_plan points at, owned by its maker.
 *
 * Everything here runs on the thread that runs the worker. */
#ifndef LM_OUT_H
#define LM_OUT_H

#include "lm_runtime.h"

typedef struct lm_out_ops {
    /* msg is serialised during the call; the strings are the caller's. */
    int (*emit)(void *impl, const char *topic_suffix, const char *key,
                const char *id, const ProtobufCMessage *msg);
    int (*write)(void *impl, int argc, const char *const *argv,
                 const size_t *lens);
    int (*index)(void *impl, int argc, const char *const *argv,
                 const size_t *lens);
    /* reason: NUL-terminated, at most LM_REASON_MAX - 1 bytes. */
    void (*reject)(void *impl, const char *reason);
    /* histogram: 0 a counter (value added), 1 a histogram (observed). */
    void (*count)(void *impl, const char *family, const char *labels,
                  double value, int histogram);
    /* lm_out_claim; NULL where there is no claim to take (-1). */
    int (*claim)(void *impl, const char *holder, int64_t ttl_ms);
} lm_out_ops;

struct lm_out {
    const lm_out_ops *ops;
    void *impl;
    int failed; /* sticky: a call failed (see lm_out_failed) */
};

/* An lm_out over an implementation; failed starts at 0. */
static inline lm_out lm_out_make(const lm_out_ops *ops, void *impl) {
    lm_out o = {ops, impl, 0};
    return o;
}

/* Where lm_plan_get's keys go when the runtime reads them in one MGET
 * (one Redis): each key, and its place among its plan's replies. Owned by
 * the runtime, emptied before each round trip 1. */
typedef struct lm_plan_get_at {
    size_t key_off; /* in keys: the key, NUL-terminated */
    size_t pos;     /* its reply's index among its plan's replies */
} lm_plan_get_at;

typedef struct lm_plan_gets {
    lm_buf keys;
    lm_plan_get_at *at;
    size_t n, cap;
} lm_plan_gets;

struct lm_plan {
    lm_pipe *pipe; /* the maker's; commands are appended */
    /* 1 on a Redis Cluster: lm_plan_watch appends a PING instead of its
       WATCH (one reply all the same; docs/DELIVERY.md, "On a Redis
       Cluster") */
    int no_watch;
    /* 1 when the runtime reads the input's claim (lm_plan_claim_is_read) */
    int claim_read;
    /* The runtime's on one Redis: lm_plan_get's keys are kept here (read
       by the batch's MGET of gets) instead of a GET each in pipe; first
       is pipe->n when the plan began, n_got the gets kept so far. NULL
       (a recorder, a cluster, the batch-wide plan): a GET each. */
    lm_plan_gets *gets;
    size_t first, n_got;
};

/* Empties g (keeps its memory); frees it. */
void lm_plan_gets_clear(lm_plan_gets *g);
void lm_plan_gets_free(lm_plan_gets *g);

#endif
