/* metrics_testutil.h — expo_check, a strict checker of the Prometheus
 * text format 0.0.4 written for the lm_metrics unit tests (test_metrics.c,
 * test_metrics_server.c), not the code under test: every line must be a
 * well-formed # HELP, # TYPE or sample line, families contiguous, HELP/TYPE
 * once per family and before its samples, no duplicate samples, and for
 * histograms buckets ascending by le, cumulative, ending in +Inf, with _sum
 * and _count, and _count equal to the +Inf bucket. Also render_checked and
 * find_sample.
 *
 * Header-only (static inline): each test binary gets its own copy. The
 * checker is reentrant (its state is a t_checker per call); a caller frees
 * what render_checked returns. */
#ifndef LM_METRICS_TESTUTIL_H
#define LM_METRICS_TESTUTIL_H

#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lm_metrics.h"

#define T_ERR_MAX      512
#define T_NAME_MAX     256
#define T_LABELS_MAX   2048
#define T_FAMILIES_MAX 256
#define T_SAMPLES_MAX  4096
#define T_HSERIES_MAX  256

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
static inline int t_fmt(char *out, size_t outsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline int t_fmt(char *out, size_t outsz, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < outsz ? 0 : -1;
}

static inline int t_name_char(char c, int first, int colon) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return 1;
    if (colon && c == ':')
        return 1;
    return !first && c >= '0' && c <= '9';
}

/* Reads a metric (colon=1) or label name at *p into out; 0 ok. */
static inline int t_read_name(const char **p, int colon, char *out,
                              size_t outsz) {
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
static inline int t_parse_value(const char *s, size_t n, double *v) {
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

static inline int t_hseries_close(t_checker *c, char *err, size_t errsz) {
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

static inline t_hseries *t_hseries_get(t_checker *c, const char *key) {
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
static inline int t_enter_family(t_checker *c, const char *name, char *err,
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

static inline int t_check_comment(t_checker *c, const char *line, char *err,
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

static inline int t_check_sample(t_checker *c, const char *line, char *err,
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
static inline int expo_check(const char *text, char *err, size_t errsz) {
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
static inline char *render_checked(lm_metrics *m) {
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
static inline int find_sample(const char *text, const char *series, double *v) {
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

#endif
