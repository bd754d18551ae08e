/* lm_metrics_render.c — the Prometheus text exposition format 0.0.4 of a
 * registry (lm_metrics_render), and label-value escaping.
 *
 * A render runs the scrape hook outside the registry mutex (it may
 * register series), then walks the families under the mutex into one
 * growing buffer. _count is the sum of a histogram's buckets as read
 * during the render, so _count always equals the +Inf bucket even while
 * other threads observe. */
#include "lm_metrics_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Enough for any double as %.17g, "+Inf" or "NaN". */
#define LM_METRICS_NUM_MAX        40
#define LM_METRICS_RENDER_INITIAL 4096

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
