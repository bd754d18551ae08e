/* lm_metrics.c — the metrics registry, its text rendering, and the HTTP
 * server for /metrics, /healthz and /readyz.
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
 *     (the last is +Inf). _count is the sum of the buckets as read during the
 *     render, so _count always equals the +Inf bucket.
 *
 * Threads: values are C11 atomics (relaxed: each is an independent
 * statistic), so updates never lock. The mutex guards the family/series
 * lists and the scrape hook; registration (worker thread) and rendering
 * (server thread) take it. The scrape hook runs outside the mutex so it may
 * register series. The HTTP server is libmicrohttpd with one internal
 * thread; the handler renders and calls the readiness callback there.
 *
 * The listen socket is made here (so a bind failure names its errno) and
 * handed to libmicrohttpd, which closes it in MHD_stop_daemon. */
#include "lm_metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ==== limits ============================================================== */

/* Room for a canonical label set: a raw newline in a value becomes "\n". */
#define LM_METRICS_CANON_MAX (2 * LM_METRICS_LABELS_MAX + 1)
/* Most labels in one set ("a=\"\"," is the shortest pair). */
#define LM_METRICS_LABEL_PAIRS_MAX (LM_METRICS_LABELS_MAX / 5 + 1)
/* Enough for any double as %.17g, "+Inf" or "NaN". */
#define LM_METRICS_NUM_MAX        40
#define LM_METRICS_RENDER_INITIAL 4096
#define LM_METRICS_HTTP_TIMEOUT_S 10 /* idle connection timeout */
#define LM_METRICS_HTTP_CONN_MAX  16 /* concurrent scrapers */
#define LM_METRICS_LISTEN_BACKLOG 16
#define LM_METRICS_ERR_MAX        256
#define LM_METRICS_HOST_MAX       INET6_ADDRSTRLEN
#define LM_METRICS_ADDR_EXAMPLE   "e.g. 0.0.0.0:9464 or [::]:9464"

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

struct lm_metrics_server {
    struct MHD_Daemon *daemon;
    lm_metrics *m;      /* borrowed */
    lm_ready_fn ready;  /* may be NULL */
    void *ready_opaque; /* borrowed */
    int port;
    char mhd_err[LM_METRICS_ERR_MAX]; /* last libmicrohttpd message */
};

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

static uint64_t lm_metrics_d2u(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double lm_metrics_u2d(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

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

static void lm_metrics_seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void lm_metrics_seterr(char *err, size_t errsz, const char *fmt, ...) {
    va_list ap;
    if (err == NULL || errsz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
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

/* A number as the exposition format wants it: shortest round-trip decimal,
 * "+Inf", "-Inf" or "NaN". */
static void lm_metrics_fmt_double(double v, char *out, size_t outsz) {
    if (isnan(v)) {
        snprintf(out, outsz, "NaN");
    } else if (isinf(v)) {
        snprintf(out, outsz, "%s", v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, outsz, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, outsz, "%.17g", v);
    }
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

/* ==== rendering =========================================================== */

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} lm_metrics_buf;

static void lm_metrics_buf_add(lm_metrics_buf *b, const char *s, size_t n) {
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : LM_METRICS_RENDER_INITIAL;
        char *p;
        while (b->len + n + 1 > cap)
            cap *= 2;
        if (cap > LM_METRICS_RENDER_MAX + 1) {
            if (b->len + n + 1 > LM_METRICS_RENDER_MAX + 1) {
                b->failed = 1;
                return;
            }
            cap = LM_METRICS_RENDER_MAX + 1;
        }
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void lm_metrics_buf_str(lm_metrics_buf *b, const char *s) {
    lm_metrics_buf_add(b, s, strlen(s));
}

/* HELP text: \ and newline escaped. */
static void lm_metrics_buf_help(lm_metrics_buf *b, const char *s) {
    const char *run = s;
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '\n') {
            lm_metrics_buf_add(b, run, (size_t)(s - run));
            lm_metrics_buf_str(b, *s == '\\' ? "\\\\" : "\\n");
            run = s + 1;
        }
    }
    lm_metrics_buf_str(b, run);
}

/* name[suffix]{labels[,extra]} value\n */
static void lm_metrics_buf_sample(lm_metrics_buf *b, const char *name,
                                  const char *suffix, const char *labels,
                                  const char *extra, const char *value) {
    lm_metrics_buf_str(b, name);
    lm_metrics_buf_str(b, suffix);
    if (labels[0] != '\0' || extra[0] != '\0') {
        lm_metrics_buf_str(b, "{");
        lm_metrics_buf_str(b, labels);
        if (labels[0] != '\0' && extra[0] != '\0')
            lm_metrics_buf_str(b, ",");
        lm_metrics_buf_str(b, extra);
        lm_metrics_buf_str(b, "}");
    }
    lm_metrics_buf_str(b, " ");
    lm_metrics_buf_str(b, value);
    lm_metrics_buf_str(b, "\n");
}

static void lm_metrics_render_histogram(lm_metrics_buf *b,
                                        const lm_metrics_family *f,
                                        const lm_metrics_series *s) {
    const struct lm_histogram *h = &s->u.histogram;
    char num[LM_METRICS_NUM_MAX], le[LM_METRICS_NUM_MAX + 8];
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i <= h->n_bounds; i++) {
        char bound[LM_METRICS_NUM_MAX];
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < h->n_bounds)
            lm_metrics_fmt_double(h->bounds[i], bound, sizeof bound);
        else
            snprintf(bound, sizeof bound, "+Inf");
        snprintf(le, sizeof le, "le=\"%s\"", bound);
        snprintf(num, sizeof num, "%llu", (unsigned long long)cum);
        lm_metrics_buf_sample(b, f->name, "_bucket", s->labels, le, num);
    }
    lm_metrics_fmt_double(
        lm_metrics_u2d(atomic_load_explicit((_Atomic uint64_t *)&h->sum_bits,
                                            memory_order_relaxed)),
        num, sizeof num);
    lm_metrics_buf_sample(b, f->name, "_sum", s->labels, "", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)cum);
    lm_metrics_buf_sample(b, f->name, "_count", s->labels, "", num);
}

static const char *lm_metrics_kind_name(lm_metrics_kind kind) {
    switch (kind) {
    case LM_METRICS_COUNTER:
        return "counter";
    case LM_METRICS_GAUGE:
        return "gauge";
    case LM_METRICS_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

int lm_metrics_render(lm_metrics *m, char **out, size_t *len) {
    lm_metrics_buf b = {NULL, 0, 0, 0};
    void (*fn)(void *) = NULL;
    void *opaque = NULL;
    const lm_metrics_family *f;

    if (out == NULL)
        return -1;
    *out = NULL;
    if (len != NULL)
        *len = 0;
    if (m == NULL)
        return -1;

    pthread_mutex_lock(&m->mu);
    fn = m->scrape_fn;
    opaque = m->scrape_opaque;
    pthread_mutex_unlock(&m->mu);
    if (fn != NULL)
        fn(opaque); /* outside the lock: it may register series */

    lm_metrics_buf_add(&b, "", 0); /* an empty registry still gets "" */
    pthread_mutex_lock(&m->mu);
    for (f = m->head; f != NULL && !b.failed; f = f->next) {
        const lm_metrics_series *s;
        lm_metrics_buf_str(&b, "# HELP ");
        lm_metrics_buf_str(&b, f->name);
        lm_metrics_buf_str(&b, " ");
        lm_metrics_buf_help(&b, f->help);
        lm_metrics_buf_str(&b, "\n# TYPE ");
        lm_metrics_buf_str(&b, f->name);
        lm_metrics_buf_str(&b, " ");
        lm_metrics_buf_str(&b, lm_metrics_kind_name(f->kind));
        lm_metrics_buf_str(&b, "\n");
        for (s = f->head; s != NULL; s = s->next) {
            char num[LM_METRICS_NUM_MAX];
            switch (f->kind) {
            case LM_METRICS_COUNTER:
                snprintf(num, sizeof num, "%llu",
                         (unsigned long long)lm_counter_value(&s->u.counter));
                lm_metrics_buf_sample(&b, f->name, "", s->labels, "", num);
                break;
            case LM_METRICS_GAUGE:
                lm_metrics_fmt_double(lm_gauge_value(&s->u.gauge), num,
                                      sizeof num);
                lm_metrics_buf_sample(&b, f->name, "", s->labels, "", num);
                break;
            case LM_METRICS_HISTOGRAM:
                lm_metrics_render_histogram(&b, f, s);
                break;
            }
        }
    }
    pthread_mutex_unlock(&m->mu);

    if (b.failed) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    if (len != NULL)
        *len = b.len;
    return 0;
}

int lm_metrics_label_escape(const char *in, char *out, size_t outsz) {
    size_t o = 0;
    if (out == NULL || outsz == 0)
        return -1;
    out[0] = '\0';
    if (in == NULL)
        return 0;
    for (; *in != '\0'; in++) {
        const char *rep = NULL;
        size_t n = 1;
        if (*in == '\\')
            rep = "\\\\";
        else if (*in == '"')
            rep = "\\\"";
        else if (*in == '\n')
            rep = "\\n";
        if (rep != NULL)
            n = 2;
        if (o + n + 1 > outsz) {
            out[0] = '\0';
            return -1;
        }
        if (rep != NULL)
            memcpy(out + o, rep, 2);
        else
            out[o] = *in;
        o += n;
    }
    out[o] = '\0';
    return 0;
}

/* ==== address parsing ===================================================== */

int lm_metrics_parse_addr(const char *addr, char *host, size_t hostsz,
                          int *port, char *err, size_t errsz) {
    const char *h, *colon, *ps;
    size_t hlen;
    char hbuf[LM_METRICS_HOST_MAX + 1];
    unsigned char sa[sizeof(struct in6_addr)];
    int v6 = 0;
    char *end = NULL;
    long long pv;

    if (addr == NULL || addr[0] == '\0') {
        lm_metrics_seterr(
            err, errsz,
            "empty address: want HOST:PORT, " LM_METRICS_ADDR_EXAMPLE);
        return -1;
    }
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (rb == NULL) {
            lm_metrics_seterr(err, errsz,
                              "missing ']' after the IPv6 address: want "
                              "[IPV6]:PORT, e.g. [::]:9464 or [::1]:9464");
            return -1;
        }
        h = addr + 1;
        hlen = (size_t)(rb - h);
        colon = rb + 1;
        if (*colon != ':') {
            lm_metrics_seterr(err, errsz,
                              "missing ':PORT' after ']': want [IPV6]:PORT, "
                              "e.g. [::]:9464");
            return -1;
        }
        v6 = 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            lm_metrics_seterr(
                err, errsz,
                "missing ':PORT': want HOST:PORT, " LM_METRICS_ADDR_EXAMPLE);
            return -1;
        }
        if (memchr(addr, ':', (size_t)(colon - addr)) != NULL) {
            lm_metrics_seterr(err, errsz,
                              "an IPv6 host must be in brackets: want "
                              "[IPV6]:PORT, e.g. [::]:9464");
            return -1;
        }
        h = addr;
        hlen = (size_t)(colon - addr);
    }
    if (hlen == 0) {
        lm_metrics_seterr(
            err, errsz, "empty host: want HOST:PORT, " LM_METRICS_ADDR_EXAMPLE);
        return -1;
    }
    if (hlen > LM_METRICS_HOST_MAX) {
        lm_metrics_seterr(err, errsz,
                          "host is too long (%zu bytes): want an IP "
                          "address, " LM_METRICS_ADDR_EXAMPLE,
                          hlen);
        return -1;
    }
    memcpy(hbuf, h, hlen);
    hbuf[hlen] = '\0';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, hbuf, sa) != 1) {
        lm_metrics_seterr(err, errsz,
                          "host \"%s\" is not an %s address (names are not "
                          "resolved): want HOST:PORT, " LM_METRICS_ADDR_EXAMPLE,
                          hbuf, v6 ? "IPv6" : "IPv4");
        return -1;
    }

    ps = colon + 1;
    if (*ps == '\0') {
        lm_metrics_seterr(err, errsz,
                          "empty port: want HOST:PORT with PORT "
                          "0..65535, " LM_METRICS_ADDR_EXAMPLE);
        return -1;
    }
    if (!isdigit((unsigned char)*ps)) {
        lm_metrics_seterr(
            err, errsz,
            "port \"%s\" is not a number 0..65535, " LM_METRICS_ADDR_EXAMPLE,
            ps);
        return -1;
    }
    errno = 0;
    pv = strtoll(ps, &end, 10);
    if (errno != 0 || end == ps || *end != '\0' || pv < 0 || pv > 65535) {
        lm_metrics_seterr(
            err, errsz,
            "port \"%s\" is not a number 0..65535, " LM_METRICS_ADDR_EXAMPLE,
            ps);
        return -1;
    }
    if (host != NULL) {
        if (hostsz <= hlen) {
            lm_metrics_seterr(err, errsz,
                              "host \"%s\" does not fit in %zu bytes", hbuf,
                              hostsz);
            return -1;
        }
        memcpy(host, hbuf, hlen + 1);
    }
    if (port != NULL)
        *port = (int)pv;
    return 0;
}

/* ==== HTTP server ========================================================= */

static enum MHD_Result lm_metrics_respond(struct MHD_Connection *conn,
                                          unsigned int status,
                                          const char *ctype, void *body,
                                          size_t len,
                                          enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, body, mode);
    if (resp == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

#define LM_METRICS_CT_TEXT "text/plain; charset=utf-8"
#define LM_METRICS_CT_PROM "text/plain; version=0.0.4; charset=utf-8"

static enum MHD_Result lm_metrics_respond_static(struct MHD_Connection *conn,
                                                 unsigned int status,
                                                 const char *body) {
    return lm_metrics_respond(conn, status, LM_METRICS_CT_TEXT, (void *)body,
                              strlen(body), MHD_RESPMEM_PERSISTENT);
}

/* Runs on the libmicrohttpd thread, once per request (we answer on the
 * first call, before any body is read). */
static enum MHD_Result
lm_metrics_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                        const char *method, const char *version,
                        const char *upload_data, size_t *upload_data_size,
                        void **con_cls) {
    lm_metrics_server *s = cls;

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return lm_metrics_respond_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                         "method not allowed");
    if (strcmp(url, "/metrics") == 0) {
        char *text = NULL;
        size_t len = 0;
        if (lm_metrics_render(s->m, &text, &len) != 0)
            return lm_metrics_respond_static(
                conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "render failed");
        return lm_metrics_respond(conn, MHD_HTTP_OK, LM_METRICS_CT_PROM, text,
                                  len, MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/healthz") == 0)
        return lm_metrics_respond_static(conn, MHD_HTTP_OK, "ok");
    if (strcmp(url, "/readyz") == 0) {
        char why[LM_METRICS_WHY_MAX] = "";
        if (s->ready == NULL || s->ready(s->ready_opaque, why, sizeof why))
            return lm_metrics_respond_static(conn, MHD_HTTP_OK, "ready");
        why[sizeof why - 1] = '\0';
        if (why[0] == '\0')
            snprintf(why, sizeof why, "not ready");
        return lm_metrics_respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  LM_METRICS_CT_TEXT, why, strlen(why),
                                  MHD_RESPMEM_MUST_COPY);
    }
    return lm_metrics_respond_static(conn, MHD_HTTP_NOT_FOUND, "not found");
}

/* Keeps libmicrohttpd's last message for start-up errors. */
static void lm_metrics_mhd_log(void *cls, const char *fmt, va_list ap) {
    lm_metrics_server *s = cls;
    size_t n;
    vsnprintf(s->mhd_err, sizeof s->mhd_err, fmt, ap);
    n = strlen(s->mhd_err);
    while (n > 0 && (s->mhd_err[n - 1] == '\n' || s->mhd_err[n - 1] == '.'))
        s->mhd_err[--n] = '\0';
}

/* "what: strerror(e)" with the message's first letter lower-cased. */
static void lm_metrics_syserr(char *why, size_t whysz, const char *what,
                              int e) {
    size_t n;
    snprintf(why, whysz, "%s: %s", what, strerror(e));
    n = strlen(what) + 2;
    if (n < whysz && why[n] != '\0')
        why[n] = (char)tolower((unsigned char)why[n]);
}

/* Makes a bound, listening, non-blocking socket. 0 ok; -1 with why. */
static int lm_metrics_listen(const char *host, int port, int *fd_out,
                             int *bound_port, char *why, size_t whysz) {
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = -1, one = 1, flags;

    memset(&ss, 0, sizeof ss);
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            goto bad_host;
        sl = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            goto bad_host;
        sl = sizeof *a4;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        lm_metrics_syserr(why, whysz, "socket", errno);
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        lm_metrics_syserr(why, whysz, "setsockopt SO_REUSEADDR", errno);
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        lm_metrics_syserr(why, whysz, "bind", errno);
        goto fail;
    }
    if (listen(fd, LM_METRICS_LISTEN_BACKLOG) != 0) {
        lm_metrics_syserr(why, whysz, "listen", errno);
        goto fail;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        lm_metrics_syserr(why, whysz, "fcntl O_NONBLOCK", errno);
        goto fail;
    }
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        lm_metrics_syserr(why, whysz, "getsockname", errno);
        goto fail;
    }
    *bound_port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
bad_host:
    snprintf(why, whysz, "bad host \"%s\"", host);
    return -1;
fail:
    close(fd);
    return -1;
}

lm_metrics_server *lm_metrics_server_start(lm_metrics *m, const char *addr,
                                           lm_ready_fn ready, void *opaque,
                                           char *err, size_t errsz) {
    char host[LM_METRICS_HOST_MAX + 1], why[2 * LM_METRICS_ERR_MAX];
    const char *shown = addr != NULL ? addr : "";
    lm_metrics_server *s = NULL;
    int port = 0, fd = -1;

    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (m == NULL) {
        lm_metrics_seterr(err, errsz, "%s=%s: no metrics registry",
                          LM_METRICS_ADDR_ENV, shown);
        return NULL;
    }
    if (lm_metrics_parse_addr(addr, host, sizeof host, &port, why,
                              sizeof why) != 0)
        goto fail;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(why, sizeof why, "out of memory");
        goto fail;
    }
    s->m = m;
    s->ready = ready;
    s->ready_opaque = opaque;
    if (lm_metrics_listen(host, port, &fd, &s->port, why, sizeof why) != 0)
        goto fail;
    s->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        lm_metrics_http_handler, s, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_EXTERNAL_LOGGER, lm_metrics_mhd_log, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)LM_METRICS_HTTP_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)LM_METRICS_HTTP_CONN_MAX,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        snprintf(why, sizeof why, "start HTTP server: %s",
                 s->mhd_err[0] != '\0' ? s->mhd_err : "libmicrohttpd failed");
        /* Whether libmicrohttpd closed the socket it was given on a failed
         * start differs between versions: close it only if still open. */
        if (fcntl(fd, F_GETFD) != -1)
            close(fd);
        goto fail;
    }
    return s;
fail:
    lm_metrics_seterr(err, errsz, "%s=%s: %s", LM_METRICS_ADDR_ENV, shown, why);
    free(s);
    return NULL;
}

int lm_metrics_server_port(const lm_metrics_server *s) {
    return s != NULL ? s->port : 0;
}

void lm_metrics_server_stop(lm_metrics_server *s) {
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon); /* joins the thread, closes the socket */
    free(s);
}
