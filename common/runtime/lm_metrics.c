/* lm_metrics.c — the metrics registry: validation of names and label
 * sets, registration of series, and their lock-free updates. The text
 * exposition is in lm_metrics_render.c, the HTTP side in lm_metrics_http.c;
 * the data structures and their invariants in lm_metrics_internal.h.
 *
 * Threads: registration takes the registry mutex (any thread); updates are
 * relaxed C11 atomics and never lock. */
#include "lm_metrics_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

/* ==== limits ============================================================== */

/* Room for a canonical label set: a raw newline in a value becomes "\n". */
#define LM_METRICS_CANON_MAX (2 * LM_METRICS_LABELS_MAX + 1)
/* Most labels in one set ("a=\"\"," is the shortest pair). */
#define LM_METRICS_LABEL_PAIRS_MAX (LM_METRICS_LABELS_MAX / 5 + 1)

/* ==== bucket sets ========================================================= */

const double lm_metrics_latency_buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1,     2.5,  5,     10,
};
const size_t lm_metrics_latency_buckets_n =
    sizeof lm_metrics_latency_buckets / sizeof lm_metrics_latency_buckets[0];

/* 1 s, 5 s, 15 s, 30 s, 1 m, 2 m, 5 m, 10 m, 30 m, 1 h, 2 h, 4 h, 8 h, 1 d,
 * 2 d, 3 d, 7 d, 14 d, 30 d. */
const double lm_metrics_business_buckets[] = {
    1,    5,     15,    30,    60,     120,    300,    600,     1800,    3600,
    7200, 14400, 28800, 86400, 172800, 259200, 604800, 1209600, 2592000,
};
const size_t lm_metrics_business_buckets_n =
    sizeof lm_metrics_business_buckets / sizeof lm_metrics_business_buckets[0];

const double lm_metrics_size_buckets[] = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
};
const size_t lm_metrics_size_buckets_n =
    sizeof lm_metrics_size_buckets / sizeof lm_metrics_size_buckets[0];

/* ==== small helpers ======================================================= */

/* Atomically adds v to the double stored as bits in *a. */
static void lm_metrics_atomic_add_double(_Atomic uint64_t *a, double v) {
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    for (;;) {
        uint64_t next = lm_metrics_d2u(lm_metrics_u2d(old) + v);
        if (atomic_compare_exchange_weak_explicit(
                a, &old, next, memory_order_relaxed, memory_order_relaxed))
            return;
    }
}

static char *lm_metrics_strdup(const char *s, size_t maxlen) {
    size_t n = strnlen(s, maxlen);
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ==== validation ========================================================== */

static int lm_metrics_label_name_char(unsigned char c, int first) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return 1;
    return !first && c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]*, at most LM_METRICS_NAME_MAX bytes. */
static int lm_metrics_valid_name(const char *name) {
    size_t i;
    if (name == NULL || name[0] == '\0' || isdigit((unsigned char)name[0]))
        return 0;
    for (i = 0; name[i] != '\0'; i++) {
        unsigned char c = (unsigned char)name[i];
        if (i >= LM_METRICS_NAME_MAX)
            return 0;
        if (!lm_metrics_label_name_char(c, 0) && c != ':')
            return 0;
    }
    return 1;
}

/* Parses a label set as given by a caller and writes its canonical form to
 * out[LM_METRICS_CANON_MAX]. 0 ok, -1 malformed. forbid_le: histograms. */
static int lm_metrics_canon_labels(const char *in, int forbid_le, char *out) {
    struct {
        const char *p;
        size_t n;
    } names[LM_METRICS_LABEL_PAIRS_MAX];
    size_t n_names = 0, o = 0;
    const char *p = in;

    out[0] = '\0';
    if (in == NULL || in[0] == '\0')
        return 0;
    if (strnlen(in, LM_METRICS_LABELS_MAX + 1) > LM_METRICS_LABELS_MAX)
        return -1;
    for (;;) {
        const char *nm = p;
        size_t nlen, k;

        if (!lm_metrics_label_name_char((unsigned char)*p, 1))
            return -1;
        while (lm_metrics_label_name_char((unsigned char)*p, 0))
            p++;
        nlen = (size_t)(p - nm);
        if (nlen >= 2 && nm[0] == '_' && nm[1] == '_')
            return -1; /* reserved */
        if (forbid_le && nlen == 2 && memcmp(nm, "le", 2) == 0)
            return -1;
        for (k = 0; k < n_names; k++)
            if (names[k].n == nlen && memcmp(names[k].p, nm, nlen) == 0)
                return -1; /* duplicate */
        if (n_names == LM_METRICS_LABEL_PAIRS_MAX)
            return -1;
        names[n_names].p = nm;
        names[n_names].n = nlen;
        n_names++;
        if (p[0] != '=' || p[1] != '"')
            return -1;
        p += 2;
        /* name="  — the output never exceeds 2x the input, so no checks
         * against LM_METRICS_CANON_MAX are needed below. */
        if (o > 0)
            out[o++] = ',';
        memcpy(out + o, nm, nlen);
        o += nlen;
        out[o++] = '=';
        out[o++] = '"';
        while (*p != '"') {
            if (*p == '\0')
                return -1; /* unterminated */
            if (*p == '\\') {
                if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                    return -1;
                out[o++] = p[0];
                out[o++] = p[1];
                p += 2;
            } else if (*p == '\n') {
                out[o++] = '\\';
                out[o++] = 'n';
                p++;
            } else {
                out[o++] = *p++;
            }
        }
        out[o++] = '"';
        p++;
        if (*p == '\0')
            break;
        if (*p != ',')
            return -1;
        p++;
        if (*p == '\0')
            break; /* trailing comma, allowed by the format */
    }
    out[o] = '\0';
    return 0;
}

static int lm_metrics_valid_bounds(const double *b, size_t n) {
    size_t i;
    if (n > LM_METRICS_BUCKETS_MAX || (n > 0 && b == NULL))
        return 0;
    for (i = 0; i < n; i++) {
        if (!isfinite(b[i]))
            return 0;
        if (i > 0 && !(b[i] > b[i - 1]))
            return 0;
    }
    return 1;
}

/* ==== registry ============================================================ */

lm_metrics *lm_metrics_new(void) {
    lm_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void lm_metrics_series_free(lm_metrics_series *s) {
    if (s == NULL)
        return;
    free(s->labels);
    free(s->u.histogram.buckets); /* NULL unless a histogram */
    free(s);
}

static void lm_metrics_family_free(lm_metrics_family *f) {
    lm_metrics_series *s, *next;
    if (f == NULL)
        return;
    for (s = f->head; s != NULL; s = next) {
        next = s->next;
        lm_metrics_series_free(s);
    }
    free(f->name);
    free(f->help);
    free(f->bounds);
    free(f);
}

void lm_metrics_destroy(lm_metrics *m) {
    lm_metrics_family *f, *next;
    if (m == NULL)
        return;
    for (f = m->head; f != NULL; f = next) {
        next = f->next;
        lm_metrics_family_free(f);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static lm_metrics_family *
lm_metrics_family_new(const char *name, const char *help, lm_metrics_kind kind,
                      const double *bounds, size_t n_bounds) {
    lm_metrics_family *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->kind = kind;
    f->name = lm_metrics_strdup(name, LM_METRICS_NAME_MAX);
    f->help = lm_metrics_strdup(help != NULL ? help : "", LM_METRICS_HELP_MAX);
    if (f->name == NULL || f->help == NULL)
        goto fail;
    if (kind == LM_METRICS_HISTOGRAM && n_bounds > 0) {
        f->bounds = malloc(n_bounds * sizeof *f->bounds);
        if (f->bounds == NULL)
            goto fail;
        memcpy(f->bounds, bounds, n_bounds * sizeof *f->bounds);
    }
    f->n_bounds = n_bounds;
    return f;
fail:
    lm_metrics_family_free(f);
    return NULL;
}

static lm_metrics_series *lm_metrics_series_new(const lm_metrics_family *f,
                                                const char *canon) {
    lm_metrics_series *s = calloc(1, sizeof *s);
    size_t i;
    if (s == NULL)
        return NULL;
    s->labels = lm_metrics_strdup(canon, LM_METRICS_CANON_MAX);
    if (s->labels == NULL)
        goto fail;
    switch (f->kind) {
    case LM_METRICS_COUNTER:
        atomic_init(&s->u.counter.value, 0);
        break;
    case LM_METRICS_GAUGE:
        atomic_init(&s->u.gauge.bits, lm_metrics_d2u(0.0));
        break;
    case LM_METRICS_HISTOGRAM:
        s->u.histogram.bounds = f->bounds;
        s->u.histogram.n_bounds = f->n_bounds;
        s->u.histogram.buckets =
            malloc((f->n_bounds + 1) * sizeof *s->u.histogram.buckets);
        if (s->u.histogram.buckets == NULL)
            goto fail;
        for (i = 0; i <= f->n_bounds; i++)
            atomic_init(&s->u.histogram.buckets[i], 0);
        atomic_init(&s->u.histogram.sum_bits, lm_metrics_d2u(0.0));
        break;
    }
    return s;
fail:
    lm_metrics_series_free(s);
    return NULL;
}

/* Finds or creates the series; NULL on a malformed input, a type or bounds
 * clash, or OOM. */
static lm_metrics_series *
lm_metrics_register(lm_metrics *m, const char *name, const char *help,
                    const char *labels, lm_metrics_kind kind,
                    const double *bounds, size_t n_bounds) {
    char canon[LM_METRICS_CANON_MAX];
    lm_metrics_family *f, *fresh = NULL;
    lm_metrics_series *s = NULL;

    if (m == NULL || !lm_metrics_valid_name(name))
        return NULL;
    if (lm_metrics_canon_labels(labels, kind == LM_METRICS_HISTOGRAM, canon) !=
        0)
        return NULL;
    if (kind == LM_METRICS_HISTOGRAM &&
        !lm_metrics_valid_bounds(bounds, n_bounds))
        return NULL;

    pthread_mutex_lock(&m->mu);
    for (f = m->head; f != NULL; f = f->next)
        if (strcmp(f->name, name) == 0)
            break;
    if (f != NULL) {
        if (f->kind != kind)
            goto done;
        if (kind == LM_METRICS_HISTOGRAM &&
            (f->n_bounds != n_bounds ||
             (n_bounds > 0 &&
              memcmp(f->bounds, bounds, n_bounds * sizeof *bounds) != 0)))
            goto done;
        for (s = f->head; s != NULL; s = s->next)
            if (strcmp(s->labels, canon) == 0)
                goto done;
    } else {
        fresh = lm_metrics_family_new(name, help, kind, bounds, n_bounds);
        if (fresh == NULL)
            goto done;
        f = fresh;
    }
    s = lm_metrics_series_new(f, canon);
    if (s == NULL) {
        lm_metrics_family_free(fresh); /* unlinked: never rendered empty */
        goto done;
    }
    if (f->tail != NULL)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    if (fresh != NULL) {
        if (m->tail != NULL)
            m->tail->next = fresh;
        else
            m->head = fresh;
        m->tail = fresh;
    }
done:
    pthread_mutex_unlock(&m->mu);
    return s;
}

lm_counter *lm_metrics_counter(lm_metrics *m, const char *name,
                               const char *help, const char *labels) {
    lm_metrics_series *s =
        lm_metrics_register(m, name, help, labels, LM_METRICS_COUNTER, NULL, 0);
    return s != NULL ? &s->u.counter : NULL;
}

lm_gauge *lm_metrics_gauge(lm_metrics *m, const char *name, const char *help,
                           const char *labels) {
    lm_metrics_series *s =
        lm_metrics_register(m, name, help, labels, LM_METRICS_GAUGE, NULL, 0);
    return s != NULL ? &s->u.gauge : NULL;
}

lm_histogram *lm_metrics_histogram(lm_metrics *m, const char *name,
                                   const char *help, const char *labels,
                                   const double *upper_bounds,
                                   size_t n_bounds) {
    lm_metrics_series *s = lm_metrics_register(
        m, name, help, labels, LM_METRICS_HISTOGRAM, upper_bounds, n_bounds);
    return s != NULL ? &s->u.histogram : NULL;
}

void lm_metrics_on_scrape(lm_metrics *m, void (*fn)(void *opaque),
                          void *opaque) {
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    m->scrape_fn = fn;
    m->scrape_opaque = opaque;
    pthread_mutex_unlock(&m->mu);
}

/* ==== updates ============================================================= */

void lm_counter_add(lm_counter *c, uint64_t n) {
    if (c != NULL)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t lm_counter_value(const lm_counter *c) {
    if (c == NULL)
        return 0;
    return atomic_load_explicit((_Atomic uint64_t *)&c->value,
                                memory_order_relaxed);
}

void lm_gauge_set(lm_gauge *g, double v) {
    if (g != NULL)
        atomic_store_explicit(&g->bits, lm_metrics_d2u(v),
                              memory_order_relaxed);
}

void lm_gauge_add(lm_gauge *g, double v) {
    if (g != NULL)
        lm_metrics_atomic_add_double(&g->bits, v);
}

double lm_gauge_value(const lm_gauge *g) {
    if (g == NULL)
        return 0.0;
    return lm_metrics_u2d(atomic_load_explicit((_Atomic uint64_t *)&g->bits,
                                               memory_order_relaxed));
}

void lm_histogram_observe(lm_histogram *h, double v) {
    size_t lo = 0, hi;
    if (h == NULL || isnan(v))
        return;
    /* first bound >= v; n_bounds (the +Inf bucket) if none */
    hi = h->n_bounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->bounds[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
    lm_metrics_atomic_add_double(&h->sum_bits, v);
}
