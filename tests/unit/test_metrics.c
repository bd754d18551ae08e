/* test_metrics.c — unit tests for lm_metrics: the registry, the text
 * exposition format, concurrent updates, and the HTTP endpoints on
 * loopback (/metrics, /healthz, /readyz; the server itself and address
 * parsing are test_http.c's).
 *
 * Every rendered document is run through expo_check, a strict checker of
 * the Prometheus text format 0.0.4 written here (not the code under test):
 * every line must be a well-formed # HELP, # TYPE or sample line, families
 * contiguous, HELP/TYPE once per family and before its samples, no
 * duplicate samples, and for histograms buckets ascending by le, cumulative,
 * ending in +Inf, with _sum and _count, and _count equal to the +Inf bucket.
 *
 * Threads: the concurrency test runs 4 updater threads against a rendering
 * main thread; the server tests talk to the server's thread with the one
 * test client (lm_http_get) and its timeouts (scaled by
 * LASTMILE_TEST_TIMEOUT_MULT). No test asserts wall-clock durations. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lm_http.h"
#include "lm_http_get.h"
#include "lm_metrics.h"

/* ==== limits ============================================================== */

#define T_ERR_MAX         512
#define T_NAME_MAX        256
#define T_LABELS_MAX      2048
#define T_FAMILIES_MAX    256
#define T_SAMPLES_MAX     4096
#define T_HSERIES_MAX     256
#define T_IO_TIMEOUT_S    5
#define T_THREADS         4
#define T_ADDS_PER_THREAD 200000

/* ==== the exposition-format checker ======================================= */

typedef struct {
    char key[T_LABELS_MAX]; /* labels without le */
    double last_le;
    double last_count;
    int n_buckets, has_inf, has_sum, has_count;
    double inf_count, count;
} t_hseries;

typedef struct {
    char families[T_FAMILIES_MAX][T_NAME_MAX];
    size_t n_families;
    char cur[T_NAME_MAX];
    char cur_type[16];
    int cur_help, cur_type_seen, cur_samples;
    char *samples[T_SAMPLES_MAX]; /* "name{labels}" seen, for duplicates */
    size_t n_samples;
    t_hseries hs[T_HSERIES_MAX];
    size_t n_hs;
} t_checker;

/* snprintf that reports truncation: 0 fit, -1 truncated. */
static int t_fmt(char *out, size_t outsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int t_fmt(char *out, size_t outsz, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < outsz ? 0 : -1;
}

static int t_name_char(char c, int first, int colon) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return 1;
    if (colon && c == ':')
        return 1;
    return !first && c >= '0' && c <= '9';
}

/* Reads a metric (colon=1) or label name at *p into out; 0 ok. */
static int t_read_name(const char **p, int colon, char *out, size_t outsz) {
    size_t n = 0;
    if (!t_name_char(**p, 1, colon))
        return -1;
    while (t_name_char(**p, 0, colon)) {
        if (n + 1 >= outsz)
            return -1;
        out[n++] = *(*p)++;
    }
    out[n] = '\0';
    return 0;
}

/* A sample value: a float, "+Inf", "-Inf" or "NaN" (the whole token). */
static int t_parse_value(const char *s, size_t n, double *v) {
    char buf[64];
    char *end = NULL;
    size_t i;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strcmp(buf, "+Inf") == 0) {
        *v = INFINITY;
        return 0;
    }
    if (strcmp(buf, "-Inf") == 0) {
        *v = -INFINITY;
        return 0;
    }
    if (strcmp(buf, "NaN") == 0) {
        *v = NAN;
        return 0;
    }
    for (i = 0; i < n; i++)
        if (!strchr("0123456789.eE+-", buf[i]))
            return -1;
    errno = 0;
    *v = strtod(buf, &end);
    if (end != buf + n || errno != 0 || !isfinite(*v))
        return -1;
    return 0;
}

static int t_hseries_close(t_checker *c, char *err, size_t errsz) {
    size_t i;
    for (i = 0; i < c->n_hs; i++) {
        t_hseries *h = &c->hs[i];
        if (!h->has_inf || !h->has_sum || !h->has_count) {
            t_fmt(err, errsz,
                  "histogram %s{%s}: missing +Inf bucket, _sum or _count",
                  c->cur, h->key);
            return -1;
        }
        if (h->count != h->inf_count) {
            t_fmt(err, errsz, "histogram %s{%s}: _count %g != +Inf %g", c->cur,
                  h->key, h->count, h->inf_count);
            return -1;
        }
    }
    c->n_hs = 0;
    return 0;
}

static t_hseries *t_hseries_get(t_checker *c, const char *key) {
    size_t i;
    for (i = 0; i < c->n_hs; i++)
        if (strcmp(c->hs[i].key, key) == 0)
            return &c->hs[i];
    if (c->n_hs == T_HSERIES_MAX)
        return NULL;
    memset(&c->hs[c->n_hs], 0, sizeof c->hs[0]);
    snprintf(c->hs[c->n_hs].key, sizeof c->hs[0].key, "%s", key);
    c->hs[c->n_hs].last_le = -INFINITY;
    return &c->hs[c->n_hs++];
}

/* Makes `name` the current family: it must be new unless it is current. */
static int t_enter_family(t_checker *c, const char *name, char *err,
                          size_t errsz) {
    size_t i;
    if (c->cur[0] != '\0' && strcmp(c->cur, name) == 0)
        return 0;
    if (c->cur[0] != '\0' && t_hseries_close(c, err, errsz) != 0)
        return -1;
    for (i = 0; i < c->n_families; i++)
        if (strcmp(c->families[i], name) == 0) {
            t_fmt(err, errsz, "family %s is not contiguous", name);
            return -1;
        }
    if (c->n_families == T_FAMILIES_MAX) {
        t_fmt(err, errsz, "too many families");
        return -1;
    }
    snprintf(c->families[c->n_families++], T_NAME_MAX, "%s", name);
    snprintf(c->cur, sizeof c->cur, "%s", name);
    c->cur_type[0] = '\0';
    c->cur_help = c->cur_type_seen = c->cur_samples = 0;
    return 0;
}

static int t_check_comment(t_checker *c, const char *line, char *err,
                           size_t errsz) {
    char name[T_NAME_MAX];
    const char *p;
    int help;

    if (strncmp(line, "# HELP ", 7) == 0)
        help = 1;
    else if (strncmp(line, "# TYPE ", 7) == 0)
        help = 0;
    else {
        t_fmt(err, errsz, "not a HELP or TYPE comment");
        return -1;
    }
    p = line + 7;
    if (t_read_name(&p, 1, name, sizeof name) != 0 || *p != ' ') {
        t_fmt(err, errsz, "bad metric name in comment");
        return -1;
    }
    p++;
    if (t_enter_family(c, name, err, errsz) != 0)
        return -1;
    if (help) {
        if (c->cur_help++) {
            t_fmt(err, errsz, "second HELP for %s", name);
            return -1;
        }
        for (; *p != '\0'; p++)
            if (*p == '\\' && (p[1] == '\\' || p[1] == 'n'))
                p++;
            else if (*p == '\\') {
                t_fmt(err, errsz, "bad escape in HELP");
                return -1;
            }
        return 0;
    }
    if (c->cur_type_seen++ || c->cur_samples) {
        t_fmt(err, errsz, "TYPE for %s repeated or after samples", name);
        return -1;
    }
    if (strcmp(p, "counter") != 0 && strcmp(p, "gauge") != 0 &&
        strcmp(p, "histogram") != 0 && strcmp(p, "summary") != 0 &&
        strcmp(p, "untyped") != 0) {
        t_fmt(err, errsz, "bad TYPE \"%s\"", p);
        return -1;
    }
    snprintf(c->cur_type, sizeof c->cur_type, "%s", p);
    return 0;
}

static int t_check_sample(t_checker *c, const char *line, char *err,
                          size_t errsz) {
    char name[T_NAME_MAX], lname[T_NAME_MAX];
    char key[T_LABELS_MAX] = "", all[T_LABELS_MAX] = "", le[64] = "";
    const char *p = line, *vs;
    const char *suffix = "";
    double v, lev = 0;
    size_t i, flen;
    char *id;
    int has_le = 0;

    if (t_read_name(&p, 1, name, sizeof name) != 0) {
        t_fmt(err, errsz, "bad metric name");
        return -1;
    }
    if (*p == '{') {
        p++;
        while (*p != '}') {
            const char *vstart;
            char val[T_LABELS_MAX];
            size_t n = 0;
            if (t_read_name(&p, 0, lname, sizeof lname) != 0 || p[0] != '=' ||
                p[1] != '"') {
                t_fmt(err, errsz, "bad label name or missing =\"");
                return -1;
            }
            p += 2;
            vstart = p;
            while (*p != '"') {
                if (*p == '\0' || *p == '\n') {
                    t_fmt(err, errsz, "unterminated label value");
                    return -1;
                }
                if (*p == '\\') {
                    if (p[1] != '\\' && p[1] != '"' && p[1] != 'n') {
                        t_fmt(err, errsz, "bad escape in label value");
                        return -1;
                    }
                    p++;
                }
                p++;
            }
            n = (size_t)(p - vstart);
            if (n >= sizeof val) {
                t_fmt(err, errsz, "label value too long");
                return -1;
            }
            memcpy(val, vstart, n);
            val[n] = '\0';
            p++;
            if (strcmp(lname, "le") == 0) {
                has_le = 1;
                if (t_fmt(le, sizeof le, "%s", val) != 0) {
                    t_fmt(err, errsz, "le value too long");
                    return -1;
                }
            } else if (t_fmt(key + strlen(key), sizeof key - strlen(key),
                             "%s%s=\"%s\"", key[0] ? "," : "", lname,
                             val) != 0) {
                t_fmt(err, errsz, "labels too long");
                return -1;
            }
            if (t_fmt(all + strlen(all), sizeof all - strlen(all),
                      "%s%s=\"%s\"", all[0] ? "," : "", lname, val) != 0) {
                t_fmt(err, errsz, "labels too long");
                return -1;
            }
            if (*p == ',')
                p++;
            else if (*p != '}') {
                t_fmt(err, errsz, "expected , or } after label");
                return -1;
            }
        }
        p++;
    }
    if (*p != ' ') {
        t_fmt(err, errsz, "expected one space before the value");
        return -1;
    }
    vs = ++p;
    while (*p != '\0' && *p != ' ')
        p++;
    if (t_parse_value(vs, (size_t)(p - vs), &v) != 0) {
        t_fmt(err, errsz, "bad value");
        return -1;
    }
    if (*p == ' ') { /* optional timestamp: an integer */
        char *end = NULL;
        p++;
        errno = 0;
        (void)strtoll(p, &end, 10);
        if (end == p || *end != '\0' || errno != 0) {
            t_fmt(err, errsz, "bad timestamp");
            return -1;
        }
    }

    /* which family: the current one, with a histogram's suffixes */
    if (c->cur[0] == '\0' || !c->cur_type_seen) {
        t_fmt(err, errsz, "sample %s before any TYPE", name);
        return -1;
    }
    flen = strlen(c->cur);
    if (strncmp(name, c->cur, flen) != 0) {
        t_fmt(err, errsz, "sample %s outside family %s", name, c->cur);
        return -1;
    }
    suffix = name + flen;
    if (strcmp(c->cur_type, "histogram") == 0) {
        t_hseries *h;
        if (strcmp(suffix, "_bucket") != 0 && strcmp(suffix, "_sum") != 0 &&
            strcmp(suffix, "_count") != 0) {
            t_fmt(err, errsz, "histogram sample %s has a bad suffix", name);
            return -1;
        }
        h = t_hseries_get(c, key);
        if (h == NULL) {
            t_fmt(err, errsz, "too many histogram series");
            return -1;
        }
        if (strcmp(suffix, "_bucket") == 0) {
            if (!has_le || t_parse_value(le, strlen(le), &lev) != 0 ||
                isnan(lev)) {
                t_fmt(err, errsz, "bucket without a valid le");
                return -1;
            }
            if (h->has_inf || !(lev > h->last_le) ||
                (h->n_buckets > 0 && v < h->last_count)) {
                t_fmt(err, errsz, "buckets not ascending or cumulative");
                return -1;
            }
            h->n_buckets++;
            h->last_le = lev;
            h->last_count = v;
            if (isinf(lev)) {
                h->has_inf = 1;
                h->inf_count = v;
            }
        } else if (has_le) {
            t_fmt(err, errsz, "le on %s", name);
            return -1;
        } else if (strcmp(suffix, "_sum") == 0) {
            if (h->has_sum++) {
                t_fmt(err, errsz, "second _sum");
                return -1;
            }
        } else {
            if (h->has_count++) {
                t_fmt(err, errsz, "second _count");
                return -1;
            }
            h->count = v;
        }
    } else {
        if (suffix[0] != '\0') {
            t_fmt(err, errsz, "sample %s outside family %s", name, c->cur);
            return -1;
        }
        if (strcmp(c->cur_type, "counter") == 0 && (v < 0 || isnan(v))) {
            t_fmt(err, errsz, "counter %s is negative or NaN", name);
            return -1;
        }
    }
    c->cur_samples++;

    /* duplicates: name{all labels in order} */
    if (c->n_samples == T_SAMPLES_MAX) {
        t_fmt(err, errsz, "too many samples");
        return -1;
    }
    {
        size_t idsz = strlen(name) + strlen(all) + 3;
        id = malloc(idsz);
        cr_assert_not_null(id);
        snprintf(id, idsz, "%s{%s}", name, all);
    }
    for (i = 0; i < c->n_samples; i++)
        if (strcmp(c->samples[i], id) == 0) {
            t_fmt(err, errsz, "duplicate sample %s", id);
            free(id);
            return -1;
        }
    c->samples[c->n_samples++] = id;
    return 0;
}

/* 0 if `text` is a strict 0.0.4 document; else -1 with the line and why. */
static int expo_check(const char *text, char *err, size_t errsz) {
    t_checker *c = calloc(1, sizeof *c);
    const char *p = text;
    int lineno = 0, rc = 0;
    size_t i;

    cr_assert_not_null(c);
    err[0] = '\0';
    while (*p != '\0' && rc == 0) {
        const char *nl = strchr(p, '\n');
        char *line;
        char why[T_ERR_MAX] = "";
        lineno++;
        if (nl == NULL) {
            t_fmt(err, errsz, "line %d: no final newline", lineno);
            rc = -1;
            break;
        }
        line = strndup(p, (size_t)(nl - p));
        cr_assert_not_null(line);
        if (line[0] == '\0')
            rc = (t_fmt(why, sizeof why, "empty line"), -1);
        else if (line[0] == '#')
            rc = t_check_comment(c, line, why, sizeof why);
        else
            rc = t_check_sample(c, line, why, sizeof why);
        if (rc != 0)
            t_fmt(err, errsz, "line %d: %s: \"%s\"", lineno, why, line);
        free(line);
        p = nl + 1;
    }
    if (rc == 0 && c->cur[0] != '\0') {
        char why[T_ERR_MAX] = "";
        if (t_hseries_close(c, why, sizeof why) != 0) {
            t_fmt(err, errsz, "end: %s", why);
            rc = -1;
        }
    }
    for (i = 0; i < c->n_samples; i++)
        free(c->samples[i]);
    free(c);
    return rc;
}

/* Renders m, checks the document, returns it (caller frees). */
static char *render_checked(lm_metrics *m) {
    char *text = NULL, err[T_ERR_MAX];
    size_t len = 0;
    cr_assert_eq(lm_metrics_render(m, &text, &len), 0);
    cr_assert_not_null(text);
    cr_assert_eq(strlen(text), len);
    cr_assert_eq(expo_check(text, err, sizeof err), 0, "%s\n---\n%s", err,
                 text);
    return text;
}

/* The value of the sample line starting "<series> "; 0 found. */
static int find_sample(const char *text, const char *series, double *v) {
    size_t n = strlen(series);
    const char *p = text;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            const char *vs = p + n + 1, *e = strchr(vs, '\n');
            return t_parse_value(vs, (size_t)(e - vs), v);
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

/* ==== the checker itself ================================================== */

Test(metrics_checker, rejects_malformed_documents) {
    static const char *const bad[] = {
        "x 1\n",                                      /* no TYPE */
        "# TYPE x counter\nx 1",                      /* no newline */
        "# TYPE x counter\n\nx 1\n",                  /* empty line */
        "# TYPE x counter\nx{a=b} 1\n",               /* unquoted */
        "# TYPE x counter\nx{1a=\"b\"} 1\n",          /* label name */
        "# TYPE x counter\nx{a=\"\\q\"} 1\n",         /* escape */
        "# TYPE x counter\nx abc\n",                  /* value */
        "# TYPE x counter\nx  1\n",                   /* two spaces */
        "# TYPE x counter\nx inf\n",                  /* not +Inf */
        "# TYPE x counter\nx 1\nx 2\n",               /* duplicate */
        "# TYPE x counter\n# TYPE x counter\nx 1\n",  /* TYPE twice */
        "# HELP x a\n# HELP x b\n# TYPE x counter\n", /* HELP twice */
        "# TYPE x wat\n",                             /* type */
        "# TYPE x counter\nx 1\n# TYPE y gauge\ny 1\n"
        "# TYPE x counter\n",        /* contiguity */
        "# TYPE x counter\ny 1\n",   /* foreign */
        "# TYPE x counter\nx -1\n",  /* negative */
        "# just a comment\n",        /* comment */
        "# HELP x bad \\x escape\n", /* HELP escape */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", /* cumulative */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
        "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", /* count */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
        "h_sum 1\nh_count 1\n", /* no +Inf */
        "# TYPE h histogram\nh_bucket{le=\"2\"} 1\n"
        "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",             /* le order */
        "# TYPE h histogram\nh_bucket 1\n", /* no le */
        "# TYPE h histogram\nh 1\n",        /* suffix */
    };
    static const char *const good[] = {
        "",
        "# HELP x a \\\\ b \\n c\n# TYPE x counter\nx 1\n",
        "# TYPE x gauge\nx{a=\"q\\\"\\n\\\\\"} -Inf\nx{a=\"2\"} NaN\n"
        "x{a=\"3\"} 1.5e-07 1700000000000\n",
        "# TYPE h histogram\nh_bucket{a=\"1\",le=\"0.5\"} 1\n"
        "h_bucket{a=\"1\",le=\"+Inf\"} 2\nh_sum{a=\"1\"} 3\n"
        "h_count{a=\"1\"} 2\n",
    };
    char err[T_ERR_MAX];
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(expo_check(bad[i], err, sizeof err), -1,
                     "checker accepted bad[%zu]: %s", i, bad[i]);
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(expo_check(good[i], err, sizeof err), 0,
                     "checker rejected good[%zu]: %s", i, err);
}

/* ==== rendering, table-driven ============================================= */

static void setup_empty(lm_metrics *m) {
    (void)m;
}

static void setup_counter(lm_metrics *m) {
    lm_counter *c =
        lm_metrics_counter(m, "lastmile_done_total", "Things done.", NULL);
    cr_assert_not_null(c);
    lm_counter_add(c, 3);
}

static void setup_counter_labels(lm_metrics *m) {
    lm_counter *a =
        lm_metrics_counter(m, "lastmile_consumed_total", "Messages consumed.",
                           "worker=\"intake\"");
    lm_counter *b = lm_metrics_counter(m, "lastmile_consumed_total",
                                       "ignored: first HELP wins",
                                       "worker=\"timing\",topic=\"t.1\"");
    lm_counter *none =
        lm_metrics_counter(m, "lastmile_consumed_total", NULL, "");
    cr_assert(a != NULL && b != NULL && none != NULL);
    cr_assert(a != b && b != none && a != none);
    lm_counter_add(a, 1);
    lm_counter_add(b, 2);
    lm_counter_add(b, 5);
}

static void setup_counter_max(lm_metrics *m) {
    lm_counter *c = lm_metrics_counter(m, "big_total", "Big.", NULL);
    lm_counter_add(c, UINT64_MAX);
}

static void setup_gauges(lm_metrics *m) {
    static const struct {
        const char *labels;
        double v;
    } g[] = {
        {"k=\"tenth\"", 0.1},       {"k=\"inf\"", INFINITY},
        {"k=\"ninf\"", -INFINITY},  {"k=\"nan\"", NAN},
        {"k=\"tiny\"", 1e-9},       {"k=\"huge\"", 1e21},
        {"k=\"third\"", 1.0 / 3.0}, {"k=\"neg\"", -42},
    };
    lm_gauge *x = lm_metrics_gauge(m, "lag", "Lag, messages.", NULL);
    size_t i;
    lm_gauge_set(x, 2.5);
    lm_gauge_add(x, -1);
    for (i = 0; i < sizeof g / sizeof g[0]; i++)
        lm_gauge_set(lm_metrics_gauge(m, "lag", NULL, g[i].labels), g[i].v);
}

static void setup_help_escape(lm_metrics *m) {
    lm_gauge_set(
        lm_metrics_gauge(m, "esc", "line1\nback\\slash \"quoted\" {x}", NULL),
        1);
}

static void setup_label_escape(lm_metrics *m) {
    /* escaped as given: a\b"c<newline>d */
    lm_counter *a =
        lm_metrics_counter(m, "esc_total", "Esc.", "path=\"a\\\\b\\\"c\\nd\"");
    /* a raw newline is accepted and escaped on output; trailing comma ok */
    lm_counter *b = lm_metrics_counter(m, "esc_total", "Esc.", "v=\"x\ny\",");
    /* the same series written canonically */
    lm_counter *b2 = lm_metrics_counter(m, "esc_total", "Esc.", "v=\"x\\ny\"");
    cr_assert(a != NULL && b != NULL && b == b2);
    lm_counter_add(a, 1);
    lm_counter_add(b2, 2);
}

static void setup_histogram(lm_metrics *m) {
    static const double bounds[] = {0.25, 0.5, 1};
    lm_histogram *h =
        lm_metrics_histogram(m, "op_seconds", "Op time.", NULL, bounds, 3);
    cr_assert_not_null(h);
    lm_histogram_observe(h, 0.125);
    lm_histogram_observe(h, 0.25); /* le is inclusive */
    lm_histogram_observe(h, 0.375);
    lm_histogram_observe(h, 2);
    lm_histogram_observe(h, 2);
    lm_histogram_observe(h, NAN); /* dropped */
}

static void setup_histogram_labels(lm_metrics *m) {
    static const double bounds[] = {1, 10};
    lm_histogram *a = lm_metrics_histogram(m, "batch_size", "Batch.",
                                           "worker=\"intake\"", bounds, 2);
    lm_histogram *b = lm_metrics_histogram(m, "batch_size", "Batch.",
                                           "worker=\"timing\"", bounds, 2);
    lm_histogram *none =
        lm_metrics_histogram(m, "no_bounds", "Only +Inf.", NULL, NULL, 0);
    cr_assert(a != NULL && b != NULL && none != NULL);
    lm_histogram_observe(a, 1);
    lm_histogram_observe(a, 7);
    lm_histogram_observe(none, -3);
}

static void setup_family_order(lm_metrics *m) {
    lm_gauge_set(lm_metrics_gauge(m, "b", "B.", "x=\"1\""), 1);
    lm_counter_add(lm_metrics_counter(m, "a_total", "A.", NULL), 1);
    lm_gauge_set(lm_metrics_gauge(m, "b", "B.", "x=\"2\""), 2);
}

static const struct {
    const char *name;
    void (*setup)(lm_metrics *m);
    const char *want;
} render_cases[] = {
    {"empty", setup_empty, ""},
    {"counter", setup_counter,
     "# HELP lastmile_done_total Things done.\n"
     "# TYPE lastmile_done_total counter\n"
     "lastmile_done_total 3\n"},
    {"counter labels, one family", setup_counter_labels,
     "# HELP lastmile_consumed_total Messages consumed.\n"
     "# TYPE lastmile_consumed_total counter\n"
     "lastmile_consumed_total{worker=\"intake\"} 1\n"
     "lastmile_consumed_total{worker=\"timing\",topic=\"t.1\"} 7\n"
     "lastmile_consumed_total 0\n"},
    {"counter uint64 max", setup_counter_max,
     "# HELP big_total Big.\n# TYPE big_total counter\n"
     "big_total 18446744073709551615\n"},
    {"gauges", setup_gauges,
     "# HELP lag Lag, messages.\n# TYPE lag gauge\n"
     "lag 1.5\n"
     "lag{k=\"tenth\"} 0.1\n"
     "lag{k=\"inf\"} +Inf\n"
     "lag{k=\"ninf\"} -Inf\n"
     "lag{k=\"nan\"} NaN\n"
     "lag{k=\"tiny\"} 1e-09\n"
     "lag{k=\"huge\"} 1e+21\n"
     "lag{k=\"third\"} 0.33333333333333331\n"
     "lag{k=\"neg\"} -42\n"},
    {"help escaping", setup_help_escape,
     "# HELP esc line1\\nback\\\\slash \"quoted\" {x}\n# TYPE esc gauge\n"
     "esc 1\n"},
    {"label escaping", setup_label_escape,
     "# HELP esc_total Esc.\n# TYPE esc_total counter\n"
     "esc_total{path=\"a\\\\b\\\"c\\nd\"} 1\n"
     "esc_total{v=\"x\\ny\"} 2\n"},
    {"histogram", setup_histogram,
     "# HELP op_seconds Op time.\n# TYPE op_seconds histogram\n"
     "op_seconds_bucket{le=\"0.25\"} 2\n"
     "op_seconds_bucket{le=\"0.5\"} 3\n"
     "op_seconds_bucket{le=\"1\"} 3\n"
     "op_seconds_bucket{le=\"+Inf\"} 5\n"
     "op_seconds_sum 4.75\n"
     "op_seconds_count 5\n"},
    {"histogram labels", setup_histogram_labels,
     "# HELP batch_size Batch.\n# TYPE batch_size histogram\n"
     "batch_size_bucket{worker=\"intake\",le=\"1\"} 1\n"
     "batch_size_bucket{worker=\"intake\",le=\"10\"} 2\n"
     "batch_size_bucket{worker=\"intake\",le=\"+Inf\"} 2\n"
     "batch_size_sum{worker=\"intake\"} 8\n"
     "batch_size_count{worker=\"intake\"} 2\n"
     "batch_size_bucket{worker=\"timing\",le=\"1\"} 0\n"
     "batch_size_bucket{worker=\"timing\",le=\"10\"} 0\n"
     "batch_size_bucket{worker=\"timing\",le=\"+Inf\"} 0\n"
     "batch_size_sum{worker=\"timing\"} 0\n"
     "batch_size_count{worker=\"timing\"} 0\n"
     "# HELP no_bounds Only +Inf.\n# TYPE no_bounds histogram\n"
     "no_bounds_bucket{le=\"+Inf\"} 1\n"
     "no_bounds_sum -3\n"
     "no_bounds_count 1\n"},
    {"family order", setup_family_order,
     "# HELP b B.\n# TYPE b gauge\nb{x=\"1\"} 1\nb{x=\"2\"} 2\n"
     "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"},
};

Test(metrics_render, table) {
    size_t i;
    for (i = 0; i < sizeof render_cases / sizeof render_cases[0]; i++) {
        lm_metrics *m = lm_metrics_new();
        char *text;
        cr_assert_not_null(m);
        render_cases[i].setup(m);
        text = render_checked(m);
        cr_expect_str_eq(text, render_cases[i].want, "case \"%s\"",
                         render_cases[i].name);
        free(text);
        lm_metrics_destroy(m);
    }
}

Test(metrics_render, values_and_identity) {
    lm_metrics *m = lm_metrics_new();
    lm_counter *c = lm_metrics_counter(m, "c_total", "C.", "a=\"1\"");
    lm_gauge *g = lm_metrics_gauge(m, "g", "G.", NULL);
    cr_assert_eq(lm_metrics_counter(m, "c_total", "C.", "a=\"1\""), c);
    cr_assert_neq(lm_metrics_counter(m, "c_total", "C.", "a=\"2\""), c);
    cr_assert_eq(lm_metrics_gauge(m, "g", "other help", ""), g);
    lm_counter_add(c, 40);
    lm_counter_add(c, 2);
    cr_assert_eq(lm_counter_value(c), 42);
    lm_gauge_set(g, -1.25);
    lm_gauge_add(g, 0.5);
    cr_assert_eq(lm_gauge_value(g), -0.75);
    lm_metrics_destroy(m);
}

Test(metrics_render, null_handles_are_noops) {
    lm_counter_add(NULL, 1);
    lm_gauge_set(NULL, 1);
    lm_gauge_add(NULL, 1);
    lm_histogram_observe(NULL, 1);
    cr_assert_eq(lm_counter_value(NULL), 0);
    cr_assert_eq(lm_gauge_value(NULL), 0.0);
    lm_metrics_destroy(NULL);
    lm_metrics_server_stop(NULL);
    cr_assert_null(lm_metrics_counter(NULL, "x", "", NULL));
}

/* ==== registration errors, table-driven =================================== */

enum { T_COUNTER, T_GAUGE, T_HISTOGRAM };

Test(metrics_register, rejects_malformed) {
    static const double ok_b[] = {1, 2};
    static const double desc[] = {2, 1};
    static const double dup[] = {1, 1};
    static const double nan_b[] = {NAN};
    static const double inf_b[] = {1, INFINITY};
    static const struct {
        int kind;
        const char *name, *labels;
        const double *bounds;
        size_t n;
    } cases[] = {
        {T_COUNTER, "", NULL, NULL, 0},
        {T_COUNTER, NULL, NULL, NULL, 0},
        {T_COUNTER, "1abc", NULL, NULL, 0},
        {T_COUNTER, "a-b", NULL, NULL, 0},
        {T_COUNTER, "a b", NULL, NULL, 0},
        {T_GAUGE, "caf\xc3\xa9", NULL, NULL, 0},
        {T_COUNTER, "x", "worker=intake", NULL, 0},
        {T_COUNTER, "x", "worker=\"intake", NULL, 0},
        {T_COUNTER, "x", "1a=\"x\"", NULL, 0},
        {T_COUNTER, "x", "a:b=\"x\"", NULL, 0},
        {T_COUNTER, "x", "a=\"x\"b=\"y\"", NULL, 0},
        {T_COUNTER, "x", "a=\"x\",a=\"y\"", NULL, 0},
        {T_COUNTER, "x", "a=\"\\q\"", NULL, 0},
        {T_COUNTER, "x", " a=\"x\"", NULL, 0},
        {T_COUNTER, "x", "a =\"x\"", NULL, 0},
        {T_COUNTER, "x", "a=\"x\" ", NULL, 0},
        {T_COUNTER, "x", "__name__=\"x\"", NULL, 0},
        {T_COUNTER, "x", ",", NULL, 0},
        {T_COUNTER, "x", "a=\"x\",,", NULL, 0},
        {T_COUNTER, "x", "{a=\"x\"}", NULL, 0},
        {T_HISTOGRAM, "h", "le=\"1\"", ok_b, 2},
        {T_HISTOGRAM, "h", NULL, desc, 2},
        {T_HISTOGRAM, "h", NULL, dup, 2},
        {T_HISTOGRAM, "h", NULL, nan_b, 1},
        {T_HISTOGRAM, "h", NULL, inf_b, 2},
        {T_HISTOGRAM, "h", NULL, NULL, 1},
        {T_HISTOGRAM, "h", NULL, ok_b, LM_METRICS_BUCKETS_MAX + 1},
    };
    lm_metrics *m = lm_metrics_new();
    char long_name[LM_METRICS_NAME_MAX + 2];
    char *text;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *h = NULL;
        switch (cases[i].kind) {
        case T_COUNTER:
            h = lm_metrics_counter(m, cases[i].name, "h", cases[i].labels);
            break;
        case T_GAUGE:
            h = lm_metrics_gauge(m, cases[i].name, "h", cases[i].labels);
            break;
        default:
            h = lm_metrics_histogram(m, cases[i].name, "h", cases[i].labels,
                                     cases[i].bounds, cases[i].n);
        }
        cr_expect_null(h, "case %zu (%s / %s) was accepted", i,
                       cases[i].name ? cases[i].name : "NULL",
                       cases[i].labels ? cases[i].labels : "NULL");
    }
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_expect_null(lm_metrics_gauge(m, long_name, "h", NULL));
    long_name[LM_METRICS_NAME_MAX] = '\0';
    cr_expect_not_null(lm_metrics_gauge(m, long_name, "h", NULL));

    /* nothing was left behind but the one good gauge */
    text = render_checked(m);
    cr_expect_eq(strstr(text, "\nx"), NULL, "%s", text);
    cr_expect_eq(strstr(text, "# TYPE h "), NULL, "%s", text);
    free(text);
    lm_metrics_destroy(m);
}

Test(metrics_register, type_and_bounds_clash) {
    static const double b1[] = {1, 2};
    static const double b2[] = {1, 3};
    lm_metrics *m = lm_metrics_new();
    cr_assert_not_null(lm_metrics_counter(m, "x_total", "X.", NULL));
    cr_expect_null(lm_metrics_gauge(m, "x_total", "X.", NULL));
    cr_expect_null(lm_metrics_gauge(m, "x_total", "X.", "a=\"1\""));
    cr_expect_null(lm_metrics_histogram(m, "x_total", "X.", NULL, b1, 2));
    cr_assert_not_null(lm_metrics_histogram(m, "h", "H.", NULL, b1, 2));
    cr_expect_null(lm_metrics_histogram(m, "h", "H.", "a=\"1\"", b2, 2));
    cr_expect_null(lm_metrics_histogram(m, "h", "H.", "a=\"1\"", b1, 1));
    cr_expect_not_null(lm_metrics_histogram(m, "h", "H.", "a=\"1\"", b1, 2));
    cr_expect_null(lm_metrics_counter(m, "h", "H.", NULL));
    free(render_checked(m));
    lm_metrics_destroy(m);
}

Test(metrics_register, standard_buckets) {
    static const struct {
        const double *b;
        size_t n;
        double first, last;
    } sets[] = {
        {lm_metrics_latency_buckets, 0, 0.0005, 10},
        {lm_metrics_business_buckets, 0, 1, 30 * 86400},
        {lm_metrics_size_buckets, 0, 1, 10000},
    };
    const size_t ns[] = {lm_metrics_latency_buckets_n,
                         lm_metrics_business_buckets_n,
                         lm_metrics_size_buckets_n};
    lm_metrics *m = lm_metrics_new();
    size_t i, j;
    cr_expect_eq(lm_metrics_latency_buckets_n, 14);
    for (i = 0; i < 3; i++) {
        char name[32];
        lm_histogram *h;
        cr_assert(ns[i] > 0 && ns[i] <= LM_METRICS_BUCKETS_MAX);
        cr_expect_eq(sets[i].b[0], sets[i].first);
        cr_expect_eq(sets[i].b[ns[i] - 1], sets[i].last);
        for (j = 1; j < ns[i]; j++)
            cr_expect(sets[i].b[j] > sets[i].b[j - 1]);
        snprintf(name, sizeof name, "set%zu", i);
        h = lm_metrics_histogram(m, name, "S.", NULL, sets[i].b, ns[i]);
        cr_assert_not_null(h);
        lm_histogram_observe(h, sets[i].last);
        lm_histogram_observe(h, sets[i].last * 2);
    }
    free(render_checked(m));
    lm_metrics_destroy(m);
}

Test(metrics_register, label_escape) {
    char out[16];
    cr_assert_eq(lm_metrics_label_escape("a\\b\"c\nd", out, sizeof out), 0);
    cr_expect_str_eq(out, "a\\\\b\\\"c\\nd");
    cr_assert_eq(lm_metrics_label_escape("", out, sizeof out), 0);
    cr_expect_str_eq(out, "");
    cr_expect_eq(lm_metrics_label_escape("\"\"\"\"\"\"\"\"", out, sizeof out),
                 -1);
    cr_expect_str_eq(out, "");
    cr_expect_eq(lm_metrics_label_escape("0123456789abcde", out, sizeof out),
                 0);
    cr_expect_eq(lm_metrics_label_escape("0123456789abcdef", out, sizeof out),
                 -1);
}

/* ==== scrape hook ========================================================= */

typedef struct {
    lm_metrics *m;
    int calls;
} t_hook;

static void t_hook_fn(void *opaque) {
    t_hook *h = opaque;
    h->calls++;
    /* registering from the hook must not deadlock */
    lm_gauge_set(lm_metrics_gauge(h->m, "scrapes", "Scrapes.", NULL), h->calls);
}

Test(metrics_render, scrape_hook) {
    t_hook h = {lm_metrics_new(), 0};
    char *text;
    double v = 0;
    lm_metrics_on_scrape(h.m, t_hook_fn, &h);
    free(render_checked(h.m));
    text = render_checked(h.m);
    cr_expect_eq(h.calls, 2);
    cr_assert_eq(find_sample(text, "scrapes", &v), 0, "%s", text);
    cr_expect_eq(v, 2);
    free(text);
    lm_metrics_on_scrape(h.m, NULL, NULL);
    free(render_checked(h.m));
    cr_expect_eq(h.calls, 2);
    lm_metrics_destroy(h.m);
}

/* ==== concurrency ========================================================= */

typedef struct {
    lm_metrics *m;
    int id;
    atomic_int *failures;
} t_worker;

static void *t_worker_run(void *arg) {
    t_worker *w = arg;
    char labels[64];
    lm_counter *shared, *own;
    lm_gauge *g;
    lm_histogram *h;
    int i;

    /* concurrent registration of the same and of distinct series */
    shared = lm_metrics_counter(w->m, "shared_total", "S.", "k=\"v\"");
    snprintf(labels, sizeof labels, "worker=\"t%d\"", w->id);
    own = lm_metrics_counter(w->m, "own_total", "O.", labels);
    g = lm_metrics_gauge(w->m, "level", "L.", NULL);
    h = lm_metrics_histogram(w->m, "obs_seconds", "O.", NULL,
                             lm_metrics_latency_buckets,
                             lm_metrics_latency_buckets_n);
    if (shared == NULL || own == NULL || g == NULL || h == NULL) {
        atomic_fetch_add(w->failures, 1);
        return NULL;
    }
    for (i = 0; i < T_ADDS_PER_THREAD; i++) {
        lm_counter_add(shared, 1);
        lm_counter_add(own, 3);
        lm_gauge_add(g, 1.0);
        lm_histogram_observe(h, (double)(i % 20) * 0.001);
    }
    return NULL;
}

Test(metrics_concurrency, four_threads_exact) {
    lm_metrics *m = lm_metrics_new();
    pthread_t th[T_THREADS];
    t_worker w[T_THREADS];
    atomic_int failures = 0;
    char *text;
    double v = 0;
    int i, renders = 0;

    for (i = 0; i < T_THREADS; i++) {
        w[i] = (t_worker){m, i, &failures};
        cr_assert_eq(pthread_create(&th[i], NULL, t_worker_run, &w[i]), 0);
    }
    /* render while the workers update: every document must check out */
    for (renders = 0; renders < 50; renders++) {
        char name[32];
        snprintf(name, sizeof name, "late_%d", renders);
        lm_gauge_set(lm_metrics_gauge(m, name, "Late.", NULL), renders);
        free(render_checked(m));
    }
    for (i = 0; i < T_THREADS; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&failures), 0);

    cr_expect_eq(lm_counter_value(
                     lm_metrics_counter(m, "shared_total", "S.", "k=\"v\"")),
                 (uint64_t)T_THREADS * T_ADDS_PER_THREAD);
    cr_expect_eq(lm_gauge_value(lm_metrics_gauge(m, "level", "L.", NULL)),
                 (double)T_THREADS * T_ADDS_PER_THREAD);
    text = render_checked(m);
    for (i = 0; i < T_THREADS; i++) {
        char series[64];
        snprintf(series, sizeof series, "own_total{worker=\"t%d\"}", i);
        cr_assert_eq(find_sample(text, series, &v), 0, "%s", series);
        cr_expect_eq(v, 3.0 * T_ADDS_PER_THREAD);
    }
    cr_assert_eq(find_sample(text, "obs_seconds_count", &v), 0);
    cr_expect_eq(v, (double)T_THREADS * T_ADDS_PER_THREAD);
    cr_assert_eq(find_sample(text, "obs_seconds_bucket{le=\"+Inf\"}", &v), 0);
    cr_expect_eq(v, (double)T_THREADS * T_ADDS_PER_THREAD);
    free(text);
    lm_metrics_destroy(m);
}

/* ==== HTTP server over loopback =========================================== */

static int t_timeout_s(void) {
    const char *e = getenv("LASTMILE_TEST_TIMEOUT_MULT");
    long long mult = 1;
    if (e != NULL && *e != '\0') {
        char *end = NULL;
        errno = 0;
        mult = strtoll(e, &end, 10);
        if (errno != 0 || *end != '\0' || mult < 1 || mult > 100)
            mult = 1;
    }
    return (int)(T_IO_TIMEOUT_S * mult);
}

/* GET path from the server on 127.0.0.1:port with the one test client
 * (lm_http_get); 0 ok (caller frees r with lm_http_get_free). */
static int t_http_get(int port, const char *path, lm_http_get_reply *r) {
    char err[T_ERR_MAX];
    if (lm_http_get("127.0.0.1", port, path, t_timeout_s() * 1000, r, err,
                    sizeof err) == 0)
        return 0;
    cr_log_error("GET %s: %s", path, err);
    return -1;
}

/* Sends a whole request to host:port; 0 ok, as t_http_get. */
static int t_http_raw(const char *host, int port, const char *request,
                      lm_http_get_reply *r) {
    char err[T_ERR_MAX];
    if (lm_http_get_raw(host, port, request, t_timeout_s() * 1000, r, err,
                        sizeof err) == 0)
        return 0;
    cr_log_error("%s: %s", request, err);
    return -1;
}

typedef struct {
    atomic_int ready;
    atomic_size_t whysz;
} t_readiness;

static int t_ready(void *opaque, char *why, size_t whysz) {
    t_readiness *t = opaque;
    atomic_store(&t->whysz, whysz);
    if (atomic_load(&t->ready))
        return 1;
    snprintf(why, whysz, "kafka: partitions not assigned yet");
    return 0;
}

static lm_metrics_server *t_start(lm_metrics *m, lm_ready_fn ready,
                                  void *opaque) {
    char err[T_ERR_MAX] = "";
    lm_metrics_server *s = lm_metrics_server_start(m, "127.0.0.1:0", ready,
                                                   opaque, err, sizeof err);
    cr_assert_not_null(s, "start: %s", err);
    cr_assert(lm_metrics_server_port(s) > 0);
    return s;
}

Test(metrics_server, endpoints) {
    lm_metrics *m = lm_metrics_new();
    t_readiness rd;
    lm_metrics_server *s;
    char ct[128], allow[64];
    lm_http_get_reply r;
    double v = 0;
    int port;

    atomic_init(&rd.ready, 0);
    atomic_init(&rd.whysz, 0);
    lm_counter_add(lm_metrics_counter(m, "lastmile_consumed_total",
                                      "Messages consumed.",
                                      "worker=\"intake\""),
                   7);
    lm_histogram_observe(lm_metrics_histogram(m, "lastmile_batch_seconds",
                                              "Batch time.", NULL,
                                              lm_metrics_latency_buckets,
                                              lm_metrics_latency_buckets_n),
                         0.02);
    s = t_start(m, t_ready, &rd);
    port = lm_metrics_server_port(s);

    /* /metrics */
    cr_assert_eq(t_http_get(port, "/metrics", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_assert_eq(lm_http_get_header(&r, "Content-Type", ct, sizeof ct), 0);
    cr_expect_eq(strncmp(ct, "text/plain; version=0.0.4", 25), 0, "%s", ct);
    {
        char err[T_ERR_MAX];
        cr_expect_eq(expo_check(r.body, err, sizeof err), 0, "%s", err);
    }
    cr_expect_eq(strlen(r.body), r.body_len);
    cr_expect_eq(
        find_sample(r.body, "lastmile_consumed_total{worker=\"intake\"}", &v),
        0, "%s", r.body);
    cr_expect_eq(v, 7);
    lm_http_get_free(&r);

    /* registration after start shows up on the next scrape */
    lm_gauge_set(lm_metrics_gauge(m, "late", "Late.", NULL), 3);
    cr_assert_eq(t_http_get(port, "/metrics", &r), 0);
    cr_expect_eq(find_sample(r.body, "late", &v), 0, "%s", r.body);
    cr_expect_eq(v, 3);
    lm_http_get_free(&r);

    /* /healthz */
    cr_assert_eq(t_http_get(port, "/healthz", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "ok");
    lm_http_get_free(&r);

    /* /readyz flips with the callback */
    cr_assert_eq(t_http_get(port, "/readyz", &r), 0);
    cr_expect_eq(r.status, 503);
    cr_expect_str_eq(r.body, "kafka: partitions not assigned yet");
    cr_expect_eq(atomic_load(&rd.whysz), LM_METRICS_WHY_MAX);
    lm_http_get_free(&r);
    atomic_store(&rd.ready, 1);
    cr_assert_eq(t_http_get(port, "/readyz", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "ready");
    lm_http_get_free(&r);
    atomic_store(&rd.ready, 0);
    cr_assert_eq(t_http_get(port, "/readyz", &r), 0);
    cr_expect_eq(r.status, 503);
    lm_http_get_free(&r);

    /* 404, and a query string does not change the path */
    cr_assert_eq(t_http_get(port, "/nope", &r), 0);
    cr_expect_eq(r.status, 404);
    lm_http_get_free(&r);
    cr_assert_eq(t_http_get(port, "/metrics/", &r), 0);
    cr_expect_eq(r.status, 404);
    lm_http_get_free(&r);
    cr_assert_eq(t_http_get(port, "/healthz?verbose=1", &r), 0);
    cr_expect_eq(r.status, 200);
    lm_http_get_free(&r);

    /* 405 for anything but GET */
    cr_assert_eq(t_http_raw("127.0.0.1", port,
                            "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n",
                            &r),
                 0);
    cr_expect_eq(r.status, 405);
    cr_expect_eq(lm_http_get_header(&r, "Allow", allow, sizeof allow), 0);
    cr_expect_str_eq(allow, "GET");
    lm_http_get_free(&r);

    lm_metrics_server_stop(s);
    lm_metrics_destroy(m);
}

Test(metrics_server, ready_when_no_callback) {
    lm_metrics *m = lm_metrics_new();
    lm_metrics_server *s = t_start(m, NULL, NULL);
    lm_http_get_reply r;
    cr_assert_eq(t_http_get(lm_metrics_server_port(s), "/readyz", &r), 0);
    cr_expect_eq(r.status, 200);
    lm_http_get_free(&r);
    /* an empty registry is an empty, valid document */
    cr_assert_eq(t_http_get(lm_metrics_server_port(s), "/metrics", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.body_len, 0);
    lm_http_get_free(&r);
    lm_metrics_server_stop(s);
    lm_metrics_destroy(m);
}

/* Issue 14, item 4: twenty idle connections (opened, nothing sent; more
 * than the old limit of 16) and /healthz still answers at once. */
Test(metrics_server, healthz_despite_idle_connections) {
    lm_metrics *m = lm_metrics_new();
    lm_metrics_server *s = t_start(m, NULL, NULL);
    int port = lm_metrics_server_port(s), fds[20];
    struct sockaddr_in a;
    lm_http_get_reply r;
    char err[T_ERR_MAX] = "";

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert(fds[i] >= 0);
        cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
    }
    /* within half the idle timeout: no idle connection has been dropped */
    cr_assert_eq(lm_http_get("127.0.0.1", port, "/healthz",
                             LM_HTTP_IDLE_S * 1000 / 2, &r, err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "ok");
    lm_http_get_free(&r);
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
    lm_metrics_server_stop(s);
    lm_metrics_destroy(m);
}

Test(metrics_server, port_taken) {
    struct sockaddr_in a;
    socklen_t sl = sizeof a;
    char addr[64], err[T_ERR_MAX] = "", want[T_ERR_MAX];
    lm_metrics *m = lm_metrics_new();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));

    cr_expect_null(
        lm_metrics_server_start(m, addr, NULL, NULL, err, sizeof err));
    snprintf(want, sizeof want,
             "LASTMILE_METRICS_ADDR=%s: bind: address already in use", addr);
    cr_expect_str_eq(err, want);
    close(fd);
    lm_metrics_destroy(m);
}

Test(metrics_server, bad_address) {
    lm_metrics *m = lm_metrics_new();
    char err[T_ERR_MAX] = "";
    cr_expect_null(lm_metrics_server_start(m, "localhost:9464", NULL, NULL, err,
                                           sizeof err));
    cr_expect_eq(strncmp(err, "LASTMILE_METRICS_ADDR=localhost:9464: ", 38), 0,
                 "%s", err);
    cr_expect_neq(strstr(err, "e.g."), NULL, "%s", err);
    lm_metrics_destroy(m);
}

Test(metrics_server, ipv6_loopback) {
    struct sockaddr_in6 a;
    char err[T_ERR_MAX] = "";
    lm_metrics *m = lm_metrics_new();
    lm_metrics_server *s;
    lm_http_get_reply r;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok) {
        lm_metrics_destroy(m);
        cr_skip_test("no IPv6 loopback here");
    }
    s = lm_metrics_server_start(m, "[::1]:0", NULL, NULL, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(lm_http_get("::1", lm_metrics_server_port(s), "/healthz",
                             t_timeout_s() * 1000, &r, err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(r.status, 200);
    lm_http_get_free(&r);
    lm_metrics_server_stop(s);
    lm_metrics_destroy(m);
}
