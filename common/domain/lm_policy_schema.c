/* lm_policy_schema.c — the tools the section parsers of decisions.yaml
 * are written with: the value syntaxes (durations, money, clock hours, day
 * names) and typed reads of libyaml nodes that fail with
 *   <file>:<line>: <key path>: <what is wrong>; <the fix>
 * ("did you mean" for a misspelt key). Contracts in lm_policy_internal.h.
 * Pure functions over the caller's pol_ctx; no globals. */
#include "lm_policy_internal.h"

#include "lm_suggest.h"

#include "lm_fmt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Durations, money, hours, days                                       */
/* ------------------------------------------------------------------ */

int pol_duration(const char *s, int64_t *ms) {
    int64_t total = 0;

    if (s == NULL || *s == '\0')
        return DUR_BAD;
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return DUR_OK;
    }
    while (*s != '\0') {
        int64_t n = 0, unit;
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            if (n > LM_POLICY_DURATION_MAX / 1000)
                return DUR_TOO_LONG;
            n = n * 10 + (*s - '0');
            s++;
            digits++;
        }
        if (digits == 0)
            return DUR_BAD;
        switch (*s) {
        case 's':
            unit = 1000;
            break;
        case 'm':
            unit = 60 * 1000;
            break;
        case 'h':
            unit = LM_POLICY_HOUR_MS;
            break;
        case 'd':
            unit = LM_POLICY_DAY_MS;
            break;
        case 'w':
            unit = 7 * LM_POLICY_DAY_MS;
            break;
        case '\0':
            return DUR_NO_UNIT;
        default:
            return DUR_BAD;
        }
        s++;
        if (n > (LM_POLICY_DURATION_MAX - total) / unit)
            return DUR_TOO_LONG;
        total += n * unit;
    }
    *ms = total;
    return DUR_OK;
}

int lm_policy_parse_duration(const char *s, int64_t *ms) {
    int64_t v;
    if (ms == NULL || pol_duration(s, &v) != DUR_OK)
        return -1;
    *ms = v;
    return 0;
}

/* "4.50" -> 450. 0, -1 not money, -2 more than two decimals. */
int pol_money(const char *s, int64_t *cents) {
    int64_t whole = 0, frac = 0;
    int digits = 0, fd = 0;

    while (*s >= '0' && *s <= '9') {
        if (whole > LM_POLICY_COST_MAX / 100)
            return -3;
        whole = whole * 10 + (*s++ - '0');
        digits++;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            if (fd == 2)
                return -2;
            frac = frac * 10 + (*s++ - '0');
            fd++;
        }
        if (fd == 0)
            return -1;
    }
    if (*s != '\0' || digits == 0)
        return -1;
    if (fd == 1)
        frac *= 10;
    if (whole * 100 + frac > LM_POLICY_COST_MAX)
        return -3;
    *cents = whole * 100 + frac;
    return 0;
}

/* "H:MM" or "HH:MM", hours 0..24 (24 only as 24:00) -> minutes. */
static const char *pol_clock(const char *s, int32_t *min) {
    int h = 0, m = 0, hd = 0;
    while (*s >= '0' && *s <= '9' && hd < 2) {
        h = h * 10 + (*s++ - '0');
        hd++;
    }
    if (hd == 0 || *s != ':')
        return NULL;
    s++;
    if (!(s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9'))
        return NULL;
    m = (s[0] - '0') * 10 + (s[1] - '0');
    s += 2;
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return NULL;
    *min = h * 60 + m;
    return s;
}

/* "09:00-17:00" (spaces around '-' allowed). 0, -1 bad, -2 start >= end. */
int pol_hours(const char *s, int32_t *start, int32_t *end) {
    if ((s = pol_clock(s, start)) == NULL)
        return -1;
    while (*s == ' ')
        s++;
    if (*s != '-')
        return -1;
    s++;
    while (*s == ' ')
        s++;
    if ((s = pol_clock(s, end)) == NULL || *s != '\0')
        return -1;
    return *start < *end ? 0 : -2;
}

/* Day name -> 0 (Monday) .. 6, or -1. Accepts "mon" and "monday". */
int pol_day(const char *s) {
    static const char *const days[7] = {"monday",   "tuesday", "wednesday",
                                        "thursday", "friday",  "saturday",
                                        "sunday"};
    int i;
    for (i = 0; i < 7; i++)
        if (strcasecmp(s, days[i]) == 0 ||
            (strlen(s) == 3 && strncasecmp(s, days[i], 3) == 0))
            return i;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Parser context and error messages                                   */
/* ------------------------------------------------------------------ */

int pol_err(pol_ctx *c, size_t line, const char *path, const char *fmt, ...) {
    char msg[LM_POLICY_ERRSZ];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path != NULL && path[0] != '\0')
        return lm_errf(c->err, c->errsz, "%s:%zu: %s: %s", c->file, line, path,
                       msg);
    return lm_errf(c->err, c->errsz, "%s:%zu: %s", c->file, line, msg);
}

int pol_oom(pol_ctx *c) {
    return lm_errf(c->err, c->errsz, "%s: out of memory", c->file);
}

yaml_node_t *pol_node(pol_ctx *c, int idx) {
    return yaml_document_get_node(c->doc, idx);
}

size_t pol_line(const yaml_node_t *n) {
    return n->start_mark.line + 1;
}

/* Key paths for messages; a path too long for buf ends in "...". */
static void pol_trunc(char *buf, size_t sz, int w) {
    if (w >= 0 && (size_t)w >= sz && sz > 4)
        memcpy(buf + sz - 4, "...", 4);
}

void pol_join(char *buf, size_t sz, const char *base, const char *key) {
    pol_trunc(buf, sz,
              base[0] == '\0' ? snprintf(buf, sz, "%s", key)
                              : snprintf(buf, sz, "%s.%s", base, key));
}

void pol_index(char *buf, size_t sz, const char *base, size_t i) {
    pol_trunc(buf, sz, snprintf(buf, sz, "%s[%zu]", base, i));
}

int pol_is_null(const yaml_node_t *n) {
    const char *s;
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    s = (const char *)n->data.scalar.value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* "a list", "a mapping", "no value", "the value \"x\"" for messages. */
static const char *pol_found(const yaml_node_t *n, char *buf, size_t sz) {
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (pol_is_null(n))
        return "no value";
    snprintf(buf, sz, "the value \"%.40s\"",
             (const char *)n->data.scalar.value);
    return buf;
}

int pol_expected(pol_ctx *c, const yaml_node_t *n, size_t line,
                 const char *path, const char *what, const char *example) {
    char fb[64];
    /* blame the value's own line unless it is missing (then its key's) */
    return pol_err(c, pol_is_null(n) ? line : pol_line(n), path,
                   "expected %s, found %s; write e.g. %s", what,
                   pol_found(n, fb, sizeof fb), example);
}

/* ", "-joined list of names into buf. */
const char *pol_names(const char *const *names, size_t n, char *buf,
                      size_t sz) {
    size_t i, off = 0;
    buf[0] = '\0';
    for (i = 0; i < n && off < sz; i++) {
        int w = snprintf(buf + off, sz - off, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return buf;
}

/* Checks a fixed-schema mapping: every key known, none twice; fills f. */
int pol_map(pol_ctx *c, yaml_node_t *n, size_t line, const char *path,
            const char *example, pol_field *f, size_t nf) {
    yaml_node_pair_t *pr;
    const char *keys[16];
    size_t i;

    if (n->type != YAML_MAPPING_NODE)
        return pol_expected(c, n, line, path, "a mapping", example);
    for (i = 0; i < nf && i < 16; i++)
        keys[i] = f[i].key;
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = pol_node(c, pr->key), *v = pol_node(c, pr->value);
        char kp[LM_POLICY_PATH_MAX];
        const char *key, *hint;
        char lb[256];

        if (k == NULL || v == NULL)
            return pol_err(c, pol_line(n), path, "malformed YAML");
        if (k->type != YAML_SCALAR_NODE)
            return pol_err(
                c, pol_line(k), path,
                "a key must be a plain name, found %s; write e.g. %s",
                k->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping",
                example);
        key = (const char *)k->data.scalar.value;
        for (i = 0; i < nf && strcmp(f[i].key, key) != 0; i++)
            ;
        pol_join(kp, sizeof kp, path, key);
        if (i == nf) {
            hint = lm_suggest(key, keys, nf);
            if (hint != NULL)
                return pol_err(c, pol_line(k), kp,
                               "unknown key; did you mean \"%s\"?", hint);
            return pol_err(c, pol_line(k), kp,
                           "unknown key; the keys here are %s",
                           pol_names(keys, nf, lb, sizeof lb));
        }
        if (f[i].k != NULL)
            return pol_err(c, pol_line(k), kp,
                           "duplicate key (first set on line %zu); keep one",
                           pol_line(f[i].k));
        f[i].k = k;
        f[i].v = v;
    }
    return 0;
}

/* "missing" unless the field was given; line: the mapping's line. */
int pol_req(pol_ctx *c, size_t line, const char *path, const pol_field *f,
            const char *example) {
    if (f->v != NULL)
        return 0;
    return pol_err(c, line, path, "missing \"%s\"; add e.g. %s", f->key,
                   example);
}

/* The text of a scalar with a value; NULL + error otherwise. kline: the
 * line to blame when the value is missing (its key's line). */
const char *pol_str(pol_ctx *c, const yaml_node_t *n, size_t kline,
                    const char *path, const char *example) {
    const char *s;
    if (n->type != YAML_SCALAR_NODE) {
        pol_expected(c, n, pol_line(n), path, "a single value", example);
        return NULL;
    }
    if (pol_is_null(n)) {
        pol_err(c, kline, path, "has no value; write e.g. %s", example);
        return NULL;
    }
    s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        pol_err(c, pol_line(n), path, "contains a NUL character; remove it");
        return NULL;
    }
    return s;
}

size_t pol_kline(const pol_field *f) {
    return f->k != NULL ? pol_line(f->k) : pol_line(f->v);
}

int pol_double(pol_ctx *c, const pol_field *f, const char *path, double lo,
               double hi, const char *example, double *out) {
    const char *s = pol_str(c, f->v, pol_kline(f), path, example);
    char *end;
    double d;

    if (s == NULL)
        return -1;
    errno = 0;
    d = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(d))
        return pol_err(c, pol_line(f->v), path,
                       "\"%.60s\" is not a number; write e.g. %s", s, example);
    if (d < lo || d > hi)
        return pol_err(c, pol_line(f->v), path,
                       "%.60s is out of range; use a number from %g to %g", s,
                       lo, hi);
    *out = d;
    return 0;
}

int pol_int(pol_ctx *c, const yaml_node_t *n, size_t kline, const char *path,
            int64_t lo, int64_t hi, const char *example, int64_t *out) {
    const char *s = pol_str(c, n, kline, path, example);
    char *end;
    long long v;

    if (s == NULL)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0)
        return pol_err(c, pol_line(n), path,
                       "\"%.60s\" is not a whole number; write e.g. %s", s,
                       example);
    if (v < lo || v > hi)
        return pol_err(c, pol_line(n), path,
                       "%lld is out of range; use a whole number from %lld to "
                       "%lld",
                       v, (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

int pol_field_duration(pol_ctx *c, const pol_field *f, const char *path,
                       int allow_zero, int64_t *out) {
    const char *s = pol_str(c, f->v, pol_kline(f), path, "\"4h\"");
    int64_t ms = 0;
    int rc;

    if (s == NULL)
        return -1;
    rc = pol_duration(s, &ms);
    if (rc == DUR_NO_UNIT)
        return pol_err(
            c, pol_line(f->v), path,
            "\"%.60s\" has no unit; write e.g. \"%.20sm\" (minutes), "
            "\"%.20sh\" (hours) or \"%.20sd\" (days)",
            s, s, s, s);
    if (rc == DUR_TOO_LONG)
        return pol_err(c, pol_line(f->v), path,
                       "\"%.60s\" is longer than 3660 days; use a shorter "
                       "duration",
                       s);
    if (rc != DUR_OK)
        return pol_err(
            c, pol_line(f->v), path,
            "\"%.60s\" is not a duration; write e.g. \"30m\", \"4h\" "
            "or \"2d\"",
            s);
    if (!allow_zero && ms == 0)
        return pol_err(c, pol_line(f->v), path,
                       "must be longer than 0; write e.g. \"1d\"");
    *out = ms;
    return 0;
}

int pol_field_hours(pol_ctx *c, const pol_field *f, const char *path,
                    const char *what, int32_t *start, int32_t *end) {
    const char *s = pol_str(c, f->v, pol_kline(f), path, "\"09:00-17:00\"");
    int rc;
    if (s == NULL)
        return -1;
    rc = pol_hours(s, start, end);
    if (rc == -2)
        return pol_err(c, pol_line(f->v), path,
                       "\"%.60s\" ends before it starts (%s across "
                       "midnight are not supported); write e.g. "
                       "\"09:00-17:00\"",
                       s, what);
    if (rc != 0)
        return pol_err(c, pol_line(f->v), path,
                       "\"%.60s\" is not a range of hours; write e.g. "
                       "\"09:00-17:00\"",
                       s);
    return 0;
}

/* Names of channels, teams, cadences and bands: [A-Za-z0-9_.-]+. */
int pol_name(pol_ctx *c, const char *s, size_t line, const char *path,
             const char *what) {
    size_t i, n = strlen(s);
    if (n == 0 || n > LM_POLICY_NAME_MAX)
        return pol_err(c, line, path, "%s name must be 1 to %d characters",
                       what, LM_POLICY_NAME_MAX);
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' &&
            s[i] != '.')
            return pol_err(c, line, path,
                           "\"%.60s\" is not a valid %s name; use letters, "
                           "digits, '_', '-' or '.'",
                           s, what);
    return 0;
}

/* Iterates the user-named keys of a mapping, refusing duplicates. */
int pol_user_keys(pol_ctx *c, yaml_node_t *n, const char *path,
                  const char *what) {
    yaml_node_pair_t *pr, *q;
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = pol_node(c, pr->key);
        char kp[LM_POLICY_PATH_MAX];
        if (k == NULL || pol_node(c, pr->value) == NULL)
            return pol_err(c, pol_line(n), path, "malformed YAML");
        if (k->type != YAML_SCALAR_NODE)
            return pol_err(c, pol_line(k), path,
                           "a %s name must be a plain name, found %s", what,
                           k->type == YAML_SEQUENCE_NODE ? "a list"
                                                         : "a mapping");
        pol_join(kp, sizeof kp, path, (const char *)k->data.scalar.value);
        if (pol_name(c, (const char *)k->data.scalar.value, pol_line(k), kp,
                     what))
            return -1;
        for (q = n->data.mapping.pairs.start; q < pr; q++) {
            yaml_node_t *qk = pol_node(c, q->key);
            if (strcmp((const char *)qk->data.scalar.value,
                       (const char *)k->data.scalar.value) == 0)
                return pol_err(c, pol_line(k), kp,
                               "%s defined twice (first on line %zu); keep one",
                               what, pol_line(qk));
        }
    }
    return 0;
}

size_t pol_count(const yaml_node_t *n) {
    if (n->type == YAML_MAPPING_NODE)
        return (size_t)(n->data.mapping.pairs.top -
                        n->data.mapping.pairs.start);
    if (n->type == YAML_SEQUENCE_NODE)
        return (size_t)(n->data.sequence.items.top -
                        n->data.sequence.items.start);
    return 0;
}
