/* lm_metrics_internal.h — the registry's data structures, shared by the
 * files of lm_metrics only (lm_metrics.c: registration and updates;
 * lm_metrics_render.c: the text exposition). Not a public API: include
 * lm_metrics.h.
 *
 * Layout: a registry is a singly linked list of families (registration
 * order), each a list of series (registration order). Families and series
 * are only ever appended, never removed before lm_metrics_destroy, so a
 * handle (a pointer into a series) is stable for the registry's lifetime.
 *
 * Invariants:
 *   - A family is linked only together with its first series: no family is
 *     ever rendered empty.
 *   - Every series' label string is canonical: exposition syntax, values
 *     escaped, no trailing comma. Identity is byte equality of that string.
 *   - A histogram family's bounds are fixed at creation, finite and strictly
 *     ascending; each series has n_bounds + 1 non-cumulative bucket counters
 *     (the last is +Inf).
 *
 * Threads: values are C11 atomics (relaxed: each is an independent
 * statistic), so updates never lock. `mu` guards the family/series lists
 * and the scrape hook. */
#ifndef LM_METRICS_INTERNAL_H
#define LM_METRICS_INTERNAL_H

#include "lm_metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* ==== types =============================================================== */

typedef enum {
    LM_METRICS_COUNTER,
    LM_METRICS_GAUGE,
    LM_METRICS_HISTOGRAM
} lm_metrics_kind;

struct lm_counter {
    _Atomic uint64_t value;
};

struct lm_gauge {
    _Atomic uint64_t bits; /* the double's bit pattern */
};

struct lm_histogram {
    const double *bounds; /* the family's; n_bounds finite, ascending */
    size_t n_bounds;
    _Atomic uint64_t *buckets; /* n_bounds + 1, non-cumulative; owned */
    _Atomic uint64_t sum_bits; /* the double sum's bit pattern */
};

typedef struct lm_metrics_series {
    struct lm_metrics_series *next;
    char *labels; /* canonical; "" for none; owned */
    union {
        struct lm_counter counter;
        struct lm_gauge gauge;
        struct lm_histogram histogram;
    } u;
} lm_metrics_series;

typedef struct lm_metrics_family {
    struct lm_metrics_family *next;
    char *name; /* owned */
    char *help; /* raw (unescaped); owned */
    lm_metrics_kind kind;
    double *bounds; /* histograms; owned */
    size_t n_bounds;
    lm_metrics_series *head, *tail;
} lm_metrics_family;

struct lm_metrics {
    pthread_mutex_t mu; /* guards the lists and the hook */
    lm_metrics_family *head, *tail;
    void (*scrape_fn)(void *opaque);
    void *scrape_opaque;
};

/* A double kept as its bit pattern in an atomic uint64. */
static inline uint64_t lm_metrics_d2u(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double lm_metrics_u2d(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

#endif
