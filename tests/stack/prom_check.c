/* prom_check.c — the stack tests' strict Prometheus text-format checker;
 * the rules are listed in prom_check.h. Pure code, no I/O, no global
 * state: every function works on the caller's prom_scrape. */
#include "prom_check.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_free(prom_scrape *p) {
    free(p->s);
    memset(p, 0, sizeof(*p));
}

static int is_name_start(int c, int colon) {
    return isalpha(c) || c == '_' || (colon && c == ':');
}
static int is_name_char(int c, int colon) {
    return isalnum(c) || c == '_' || (colon && c == ':');
}

/* Reads a metric (colon 1) or label (colon 0) name at *p; 0 / -1. */
static int read_name(const char **p, char *out, size_t outsz, int colon) {
    const char *s = *p;
    if (!is_name_start((unsigned char)*s, colon))
        return -1;
    size_t n = 0;
    while (is_name_char((unsigned char)s[n], colon))
        n++;
    if (n >= outsz)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    *p = s + n;
    return 0;
}

/* A float as the format allows: decimal or exponent notation, NaN, +Inf,
 * -Inf (Inf). The whole token must parse. 0 / -1. */
static int read_float(const char *tok, double *out) {
    if (strcmp(tok, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    if (strcmp(tok, "+Inf") == 0 || strcmp(tok, "Inf") == 0) {
        *out = INFINITY;
        return 0;
    }
    if (strcmp(tok, "-Inf") == 0) {
        *out = -INFINITY;
        return 0;
    }
    const char *c = tok;
    if (*c == '+' || *c == '-')
        c++;
    if (!isdigit((unsigned char)*c) && *c != '.')
        return -1;
    for (const char *d = c; *d; d++)
        if (!isdigit((unsigned char)*d) && *d != '.' && *d != 'e' &&
            *d != 'E' && *d != '+' && *d != '-')
            return -1;
    char *end = NULL;
    errno = 0;
    *out = strtod(tok, &end);
    return end && *end == '\0' && end != tok && errno == 0 ? 0 : -1;
}

static prom_family *fam_find(prom_scrape *p, const char *name) {
    for (size_t i = 0; i < p->n_fam; i++)
        if (strcmp(p->fam[i].name, name) == 0)
            return &p->fam[i];
    return NULL;
}

static prom_family *fam_get(prom_scrape *p, const char *name) {
    prom_family *f = fam_find(p, name);
    if (f || p->n_fam == MT_FAMILIES_MAX)
        return f;
    f = &p->fam[p->n_fam++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    return f;
}

/* The family a sample belongs to: its own name, or for name_bucket,
 * name_sum and name_count the histogram (or summary) named name. */
static prom_family *fam_of(prom_scrape *p, const char *sample, int *part) {
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    *part = -1;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(sample), k = strlen(sfx[i]);
        if (n > k && strcmp(sample + n - k, sfx[i]) == 0) {
            char base[MT_NAME_MAX + 1];
            snprintf(base, sizeof(base), "%.*s", (int)(n - k), sample);
            prom_family *f = fam_find(p, base);
            if (f && (strcmp(f->type, "histogram") == 0 ||
                      (strcmp(f->type, "summary") == 0 && i > 0))) {
                *part = i;
                return f;
            }
        }
    }
    return fam_get(p, sample);
}

typedef struct kv {
    char k[MT_NAME_MAX + 1];
    char v[MT_LABELS_MAX];
} kv;

static int kv_cmp(const void *a, const void *b) {
    return strcmp(((const kv *)a)->k, ((const kv *)b)->k);
}

/* Parses {a="x",b="y"} at *p into kvs; 0 / -1 with err. */
static int read_labels(const char **p, kv *kvs, int *n_kv, int max_kv,
                       char *err, size_t errsz) {
    const char *s = *p + 1; /* after '{' */
    *n_kv = 0;
    for (;;) {
        if (*s == '}') {
            s++;
            break;
        }
        if (*n_kv == max_kv) {
            snprintf(err, errsz, "too many labels");
            return -1;
        }
        kv *e = &kvs[*n_kv];
        if (read_name(&s, e->k, sizeof(e->k), 0) != 0) {
            snprintf(err, errsz, "bad label name at \"%.20s\"", s);
            return -1;
        }
        if (strncmp(e->k, "__", 2) == 0) {
            snprintf(err, errsz, "reserved label name %.64s", e->k);
            return -1;
        }
        for (int i = 0; i < *n_kv; i++)
            if (strcmp(kvs[i].k, e->k) == 0) {
                snprintf(err, errsz, "label %.64s twice", e->k);
                return -1;
            }
        if (s[0] != '=' || s[1] != '"') {
            snprintf(err, errsz, "label %.64s: expected =\"", e->k);
            return -1;
        }
        s += 2;
        size_t vn = 0;
        while (*s != '"') {
            if (*s == '\0' || *s == '\n') {
                snprintf(err, errsz, "label %.64s: unterminated value", e->k);
                return -1;
            }
            char c = *s++;
            if (c == '\\') {
                if (*s != '\\' && *s != '"' && *s != 'n') {
                    snprintf(err, errsz, "label %.64s: bad escape \\%c", e->k,
                             *s);
                    return -1;
                }
                c = *s == 'n' ? '\n' : *s;
                s++;
            }
            if (vn + 1 >= sizeof(e->v)) {
                snprintf(err, errsz, "label %.64s: value too long", e->k);
                return -1;
            }
            e->v[vn++] = c;
        }
        e->v[vn] = '\0';
        s++; /* closing quote */
        (*n_kv)++;
        if (*s == ',') {
            s++;
        } else if (*s != '}') {
            snprintf(err, errsz, "expected , or } after label %.64s", e->k);
            return -1;
        }
    }
    *p = s;
    return 0;
}

/* One sample line into p; 0 / -1 with err. */
static int prom_sample_line(prom_scrape *p, const char *line, char *err,
                            size_t errsz) {
    if (p->n == MT_SAMPLES_MAX) {
        snprintf(err, errsz, "more than %d samples", MT_SAMPLES_MAX);
        return -1;
    }
    prom_sample *sm = &p->s[p->n];
    memset(sm, 0, sizeof(*sm));
    const char *s = line;
    if (read_name(&s, sm->name, sizeof(sm->name), 1) != 0) {
        snprintf(err, errsz, "bad metric name");
        return -1;
    }
    kv kvs[32];
    int n_kv = 0;
    if (*s == '{') {
        const char *open = s;
        if (read_labels(&s, kvs, &n_kv, 32, err, errsz) != 0)
            return -1;
        snprintf(sm->labels, sizeof(sm->labels), "%.*s", (int)(s - open - 2),
                 open + 1);
    }
    if (*s != ' ' && *s != '\t') {
        snprintf(err, errsz, "expected a blank before the value");
        return -1;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    char tok[64], ts[64];
    size_t tn = strcspn(s, " \t");
    if (tn == 0 || tn >= sizeof(tok)) {
        snprintf(err, errsz, "bad value");
        return -1;
    }
    memcpy(tok, s, tn);
    tok[tn] = '\0';
    s += tn;
    if (read_float(tok, &sm->value) != 0) {
        snprintf(err, errsz, "value \"%s\" is not a float", tok);
        return -1;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s) { /* a timestamp: an integer, and nothing after it */
        size_t k = strcspn(s, " \t");
        if (k >= sizeof(ts) || s[k] != '\0') {
            snprintf(err, errsz, "junk after the value");
            return -1;
        }
        memcpy(ts, s, k);
        ts[k] = '\0';
        char *end = NULL;
        errno = 0;
        (void)strtoll(ts, &end, 10);
        if (errno || !end || *end || end == ts) {
            snprintf(err, errsz, "bad timestamp \"%s\"", ts);
            return -1;
        }
    }

    int part = -1;
    prom_family *f = fam_of(p, sm->name, &part);
    if (!f) {
        snprintf(err, errsz, "too many families");
        return -1;
    }
    if (f->closed) {
        snprintf(err, errsz, "samples of %s are not contiguous", f->name);
        return -1;
    }
    for (size_t i = 0; i < p->n_fam; i++)
        if (&p->fam[i] != f && p->fam[i].samples)
            p->fam[i].closed = 1;
    f->samples++;
    if (strcmp(f->type, "histogram") == 0 && part < 0) {
        snprintf(err, errsz,
                 "histogram %s: sample %s is not _bucket, _sum or "
                 "_count",
                 f->name, sm->name);
        return -1;
    }
    if (strcmp(f->type, "counter") == 0 && !(sm->value >= 0)) {
        snprintf(err, errsz, "counter %s is %g", sm->name, sm->value);
        return -1;
    }
    /* identity: sorted labels, le apart */
    int has_le = 0;
    kv keep[32];
    int nk = 0;
    for (int i = 0; i < n_kv; i++) {
        if (part == 0 && strcmp(kvs[i].k, "le") == 0) {
            has_le = 1;
            if (read_float(kvs[i].v, &sm->le) != 0 || isnan(sm->le)) {
                snprintf(err, errsz, "%s: le=\"%s\" is not a float", sm->name,
                         kvs[i].v);
                return -1;
            }
            continue;
        }
        if (part >= 0 && strcmp(kvs[i].k, "le") == 0) {
            snprintf(err, errsz, "%s has an le label", sm->name);
            return -1;
        }
        keep[nk++] = kvs[i];
    }
    if (part == 0 && !has_le) {
        snprintf(err, errsz, "%s without le", sm->name);
        return -1;
    }
    qsort(keep, (size_t)nk, sizeof(kv), kv_cmp);
    size_t at = 0;
    for (int i = 0; i < nk && at < sizeof(sm->series); i++)
        at += (size_t)snprintf(sm->series + at, sizeof(sm->series) - at,
                               "%s=%s;", keep[i].k, keep[i].v);
    for (size_t i = 0; i < p->n; i++) {
        const prom_sample *o = &p->s[i];
        if (strcmp(o->name, sm->name) == 0 &&
            strcmp(o->series, sm->series) == 0 &&
            (part != 0 || o->le == sm->le)) {
            snprintf(err, errsz, "series %.80s{%.200s} twice", sm->name,
                     sm->labels);
            return -1;
        }
    }
    p->n++;
    return 0;
}

/* Histogram rules, once all lines are read. */
static int prom_histograms(const prom_scrape *p, char *err, size_t errsz) {
    for (size_t i = 0; i < p->n; i++) {
        const prom_sample *c = &p->s[i];
        size_t nl = strlen(c->name);
        if (nl < 7 || strcmp(c->name + nl - 6, "_count") != 0)
            continue;
        char base[MT_NAME_MAX + 1], bucket[MT_NAME_MAX + 8],
            sum[MT_NAME_MAX + 8];
        snprintf(base, sizeof(base), "%.*s", (int)(nl - 6), c->name);
        const prom_family *f = NULL;
        for (size_t k = 0; k < p->n_fam; k++)
            if (strcmp(p->fam[k].name, base) == 0)
                f = &p->fam[k];
        if (!f || strcmp(f->type, "histogram") != 0)
            continue;
        snprintf(bucket, sizeof(bucket), "%s_bucket", base);
        snprintf(sum, sizeof(sum), "%s_sum", base);
        double last_le = -INFINITY, last_n = 0;
        int n_b = 0, has_sum = 0, inf = 0;
        for (size_t k = 0; k < p->n; k++) {
            const prom_sample *b = &p->s[k];
            if (strcmp(b->series, c->series) != 0)
                continue;
            if (strcmp(b->name, sum) == 0)
                has_sum = 1;
            if (strcmp(b->name, bucket) != 0)
                continue;
            if (inf || !(b->le > last_le) || b->value < last_n ||
                b->value != floor(b->value)) {
                snprintf(err, errsz,
                         "%.80s{%.200s}: buckets out of order or decreasing at "
                         "le=%g",
                         base, c->series, b->le);
                return -1;
            }
            inf = isinf(b->le) && b->le > 0;
            last_le = b->le;
            last_n = b->value;
            n_b++;
        }
        if (!n_b || !inf || !has_sum || last_n != c->value) {
            snprintf(
                err, errsz,
                "%.80s{%.200s}: %d bucket(s), +Inf %s, _sum %s, _count %g vs "
                "+Inf bucket %g",
                base, c->series, n_b, inf ? "present" : "missing",
                has_sum ? "present" : "missing", c->value, last_n);
            return -1;
        }
    }
    return 0;
}

/* Checks a whole /metrics body. 0 / -1 with err naming the line. */
int prom_check(const char *text, size_t len, prom_scrape *p, char *err,
               size_t errsz) {
    memset(p, 0, sizeof(*p));
    p->s = calloc(MT_SAMPLES_MAX, sizeof(prom_sample));
    if (!p->s) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (len == 0 || text[len - 1] != '\n' || strlen(text) != len) {
        snprintf(err, errsz, "empty, NUL inside, or no final newline");
        return -1;
    }
    char why[MT_ERR_MAX];
    int lineno = 0;
    for (const char *l = text; l < text + len;) {
        const char *nl = memchr(l, '\n', (size_t)(text + len - l));
        size_t n = (size_t)(nl - l);
        lineno++;
        char line[MT_LINE_MAX];
        if (n >= sizeof(line)) {
            snprintf(err, errsz, "line %d: longer than %d bytes", lineno,
                     MT_LINE_MAX);
            return -1;
        }
        memcpy(line, l, n);
        line[n] = '\0';
        l = nl + 1;
        if (memchr(line, '\r', n)) {
            snprintf(err, errsz, "line %d: carriage return", lineno);
            return -1;
        }
        if (n == 0)
            continue;
        if (line[0] == '#') {
            const char *s = line + 1;
            int help = strncmp(s, " HELP ", 6) == 0;
            int type = strncmp(s, " TYPE ", 6) == 0;
            if (!help && !type)
                continue; /* a comment */
            s += 6;
            char name[MT_NAME_MAX + 1];
            if (read_name(&s, name, sizeof(name), 1) != 0 ||
                (*s != ' ' && *s != '\0')) {
                snprintf(err, errsz, "line %d: bad name in \"%.200s\"", lineno,
                         line);
                return -1;
            }
            prom_family *f = fam_get(p, name);
            if (!f) {
                snprintf(err, errsz, "line %d: too many families", lineno);
                return -1;
            }
            if (f->samples) {
                snprintf(err, errsz, "line %d: %s after samples of %s", lineno,
                         help ? "HELP" : "TYPE", name);
                return -1;
            }
            if (help) {
                if (f->help++) {
                    snprintf(err, errsz, "line %d: second HELP for %s", lineno,
                             name);
                    return -1;
                }
                for (const char *c = *s ? s + 1 : s; *c; c++)
                    if (*c == '\\' && c[1] != '\\' && c[1] != 'n') {
                        snprintf(err, errsz, "line %d: bad escape in HELP",
                                 lineno);
                        return -1;
                    } else if (*c == '\\') {
                        c++;
                    }
            } else {
                static const char *const types[] = {"counter",   "gauge",
                                                    "histogram", "summary",
                                                    "untyped",   NULL};
                const char *t = *s ? s + 1 : s;
                int known = 0;
                for (int i = 0; types[i]; i++)
                    known |= strcmp(t, types[i]) == 0;
                if (!known || f->typed++) {
                    snprintf(err, errsz, "line %d: %s TYPE \"%s\" for %s",
                             lineno, known ? "second" : "unknown", t, name);
                    return -1;
                }
                snprintf(f->type, sizeof(f->type), "%s", t);
            }
            continue;
        }
        if (prom_sample_line(p, line, why, sizeof(why)) != 0) {
            snprintf(err, errsz, "line %d: %.200s: \"%.200s\"", lineno, why,
                     line);
            return -1;
        }
    }
    return prom_histograms(p, err, errsz);
}

/* The value of sample `name` whose label set (as written) contains
 * `has` (NULL: any), summed over every match; 0 when none. */
double prom_sum(const prom_scrape *p, const char *name, const char *has) {
    double v = 0;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->s[i].name, name) == 0 &&
            (!has || strstr(p->s[i].labels, has)))
            v += p->s[i].value;
    return v;
}

size_t prom_count(const prom_scrape *p, const char *name) {
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += strcmp(p->s[i].name, name) == 0;
    return n;
}
