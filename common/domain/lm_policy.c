/* lm_policy.c — load and query the decision config (decisions.yaml).
 *
 * Loading: libyaml's document API (yaml_parser_load) builds a node tree in
 * which every node carries its line; a schema-driven walk (one function per
 * section) checks every key and value and copies what it needs into an
 * lm_policy. The walk only descends where the schema says, so YAML aliases
 * (even cyclic ones) cannot make it loop. Errors read
 *   <file>:<line>: <key path>: <what is wrong>; <the fix>
 * and the first error stops the load.
 *
 * Ownership: a policy owns one arena (a chain of blocks); every string and
 * array in it is carved from the arena, so lm_policy_free frees the chain
 * and the struct, and getters hand out pointers into it.
 *
 * Time: next_allowed and candidate_slots walk local wall-clock time via
 * lm_tz; they never read the clock themselves.
 * Threads: a loaded policy is immutable; no globals here. */
#include "lm_policy.h"

#include "lm_geo.h"
#include "lm_tz.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

/* Generated at build time from config/decisions.yaml (common/CMakeLists). */
extern const char lm_policy_default_yaml[];
extern const size_t lm_policy_default_yaml_len;

#define LM_POLICY_ARENA_BLOCK 8192
#define LM_POLICY_PATH_MAX    256 /* key paths in error messages */
#define LM_POLICY_NEXT_ITER   32  /* day steps next_allowed may take */
#define LM_POLICY_DAY_MS      86400000LL
#define LM_POLICY_HOUR_MS     3600000LL
#define LM_POLICY_SUGGEST_MAX                                                  \
    64 /* longest key considered for "did you mean"                            \
        */

/* ------------------------------------------------------------------ */
/* The policy                                                          */
/* ------------------------------------------------------------------ */

typedef struct pol_block {
    struct pol_block *next;
    size_t used, cap;
    max_align_t data[];
} pol_block;

typedef struct pol_channel {
    const char *name;
    int64_t cost_cents;
} pol_channel;

typedef struct pol_band {
    const char *name;
    int64_t below; /* INT64_MAX for the last band */
} pol_band;

typedef struct pol_rule {
    const char **regions; /* canonical region names */
    size_t n_regions;
    const char **countries; /* canonical alpha-2 codes */
    size_t n_countries;
    const char **sources;
    size_t n_sources;
    int has_min, has_max;
    int32_t min_size, max_size;
    const lm_team *team;
} pol_rule;

struct lm_policy {
    pol_block *arena;
    double qualified, nurture;
    int64_t dedupe_ms;
    double control_share;
    pol_channel *channels;
    size_t n_channels;
    pol_band *bands;
    size_t n_bands;
    pol_rule *rules;
    size_t n_rules;
    lm_team *teams;
    size_t n_teams;
    lm_cadence *cadences;
    size_t n_cadences;
};

/* Zeroed memory from the policy's arena; NULL when out of memory. */
static void *pol_alloc(lm_policy *p, size_t n) {
    pol_block *b = p->arena;
    void *r;

    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
        sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > LM_POLICY_ARENA_BLOCK ? n : LM_POLICY_ARENA_BLOCK;
        b = calloc(1, sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->cap = cap;
        b->next = p->arena;
        p->arena = b;
    }
    r = (char *)b->data + b->used;
    b->used += n;
    return r;
}

static char *pol_strdup(lm_policy *p, const char *s) {
    size_t n = strlen(s);
    char *d = pol_alloc(p, n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

void lm_policy_free(lm_policy *p) {
    pol_block *b, *next;

    if (p == NULL)
        return;
    for (b = p->arena; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(p);
}

/* ------------------------------------------------------------------ */
/* Durations, money, hours, days                                       */
/* ------------------------------------------------------------------ */

enum { DUR_OK = 0, DUR_BAD = -1, DUR_NO_UNIT = -2, DUR_TOO_LONG = -3 };

static int pol_duration(const char *s, int64_t *ms) {
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
static int pol_money(const char *s, int64_t *cents) {
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
static int pol_hours(const char *s, int32_t *start, int32_t *end) {
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
static int pol_day(const char *s) {
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

typedef struct pctx {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t errsz;
    lm_policy *p;
} pctx;

/* A key of a fixed-schema mapping, and what pmap found for it. */
typedef struct pfield {
    const char *key;
    yaml_node_t *k, *v;
} pfield;

static int perr(pctx *c, size_t line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(pctx *c, size_t line, const char *path, const char *fmt, ...) {
    char msg[LM_POLICY_ERRSZ];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->err != NULL && c->errsz > 0) {
        if (path != NULL && path[0] != '\0')
            snprintf(c->err, c->errsz, "%s:%zu: %s: %s", c->file, line, path,
                     msg);
        else
            snprintf(c->err, c->errsz, "%s:%zu: %s", c->file, line, msg);
    }
    return -1;
}

static int poom(pctx *c) {
    if (c->err != NULL && c->errsz > 0)
        snprintf(c->err, c->errsz, "%s: out of memory", c->file);
    return -1;
}

static yaml_node_t *pnode(pctx *c, int idx) {
    return yaml_document_get_node(c->doc, idx);
}

static size_t pline(const yaml_node_t *n) {
    return n->start_mark.line + 1;
}

/* Key paths for messages; a path too long for buf ends in "...". */
static void ptrunc(char *buf, size_t sz, int w) {
    if (w >= 0 && (size_t)w >= sz && sz > 4)
        memcpy(buf + sz - 4, "...", 4);
}

static void pjoin(char *buf, size_t sz, const char *base, const char *key) {
    ptrunc(buf, sz,
           base[0] == '\0' ? snprintf(buf, sz, "%s", key)
                           : snprintf(buf, sz, "%s.%s", base, key));
}

static void pindex(char *buf, size_t sz, const char *base, size_t i) {
    ptrunc(buf, sz, snprintf(buf, sz, "%s[%zu]", base, i));
}

static int pis_null(const yaml_node_t *n) {
    const char *s;
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    s = (const char *)n->data.scalar.value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* "a list", "a mapping", "no value", "the value \"x\"" for messages. */
static const char *pfound(const yaml_node_t *n, char *buf, size_t sz) {
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (pis_null(n))
        return "no value";
    snprintf(buf, sz, "the value \"%.40s\"",
             (const char *)n->data.scalar.value);
    return buf;
}

static int pexpected(pctx *c, const yaml_node_t *n, size_t line,
                     const char *path, const char *what, const char *example) {
    char fb[64];
    /* blame the value's own line unless it is missing (then its key's) */
    return perr(c, pis_null(n) ? line : pline(n), path,
                "expected %s, found %s; write e.g. %s", what,
                pfound(n, fb, sizeof fb), example);
}

/* Edit distance (optimal string alignment: a swap of two neighbours costs
 * 1, so "emial" is 1 from "email"), case-insensitive, for "did you mean". */
static size_t pdist(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t r0[LM_POLICY_SUGGEST_MAX + 1], r1[LM_POLICY_SUGGEST_MAX + 1],
        r2[LM_POLICY_SUGGEST_MAX + 1];
    size_t *pp = r0, *prev = r1, *cur = r2, *tmp;

    if (la > LM_POLICY_SUGGEST_MAX || lb > LM_POLICY_SUGGEST_MAX)
        return (size_t)-1;
    for (j = 0; j <= lb; j++)
        prev[j] = j;
    for (i = 1; i <= la; i++) {
        int ai = tolower((unsigned char)a[i - 1]);
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            int bj = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ai == bj ? 0 : 1);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        tmp = pp;
        pp = prev;
        prev = cur;
        cur = tmp;
    }
    return prev[lb];
}

/* The closest candidate to s if it is close enough to be a typo. */
static const char *psuggest(const char *s, const char *const *cands, size_t n) {
    const char *best = NULL;
    size_t bestd = (size_t)-1, i, limit = strlen(s) >= 6 ? 2 : 1;

    for (i = 0; i < n; i++) {
        size_t d = pdist(s, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= limit ? best : NULL;
}

/* ", "-joined list of names into buf. */
static const char *plist(const char *const *names, size_t n, char *buf,
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
static int pmap(pctx *c, yaml_node_t *n, size_t line, const char *path,
                const char *example, pfield *f, size_t nf) {
    yaml_node_pair_t *pr;
    const char *keys[16];
    size_t i;

    if (n->type != YAML_MAPPING_NODE)
        return pexpected(c, n, line, path, "a mapping", example);
    for (i = 0; i < nf && i < 16; i++)
        keys[i] = f[i].key;
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = pnode(c, pr->key), *v = pnode(c, pr->value);
        char kp[LM_POLICY_PATH_MAX];
        const char *key, *hint;
        char lb[256];

        if (k == NULL || v == NULL)
            return perr(c, pline(n), path, "malformed YAML");
        if (k->type != YAML_SCALAR_NODE)
            return perr(c, pline(k), path,
                        "a key must be a plain name, found %s; write e.g. %s",
                        k->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping",
                        example);
        key = (const char *)k->data.scalar.value;
        for (i = 0; i < nf && strcmp(f[i].key, key) != 0; i++)
            ;
        pjoin(kp, sizeof kp, path, key);
        if (i == nf) {
            hint = psuggest(key, keys, nf);
            if (hint != NULL)
                return perr(c, pline(k), kp,
                            "unknown key; did you mean \"%s\"?", hint);
            return perr(c, pline(k), kp, "unknown key; the keys here are %s",
                        plist(keys, nf, lb, sizeof lb));
        }
        if (f[i].k != NULL)
            return perr(c, pline(k), kp,
                        "duplicate key (first set on line %zu); keep one",
                        pline(f[i].k));
        f[i].k = k;
        f[i].v = v;
    }
    return 0;
}

/* "missing" unless the field was given; line: the mapping's line. */
static int preq(pctx *c, size_t line, const char *path, const pfield *f,
                const char *example) {
    if (f->v != NULL)
        return 0;
    return perr(c, line, path, "missing \"%s\"; add e.g. %s", f->key, example);
}

/* The text of a scalar with a value; NULL + error otherwise. kline: the
 * line to blame when the value is missing (its key's line). */
static const char *pstr(pctx *c, const yaml_node_t *n, size_t kline,
                        const char *path, const char *example) {
    const char *s;
    if (n->type != YAML_SCALAR_NODE) {
        pexpected(c, n, pline(n), path, "a single value", example);
        return NULL;
    }
    if (pis_null(n)) {
        perr(c, kline, path, "has no value; write e.g. %s", example);
        return NULL;
    }
    s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        perr(c, pline(n), path, "contains a NUL character; remove it");
        return NULL;
    }
    return s;
}

static size_t pkline(const pfield *f) {
    return f->k != NULL ? pline(f->k) : pline(f->v);
}

static int pdouble(pctx *c, const pfield *f, const char *path, double lo,
                   double hi, const char *example, double *out) {
    const char *s = pstr(c, f->v, pkline(f), path, example);
    char *end;
    double d;

    if (s == NULL)
        return -1;
    errno = 0;
    d = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(d))
        return perr(c, pline(f->v), path,
                    "\"%.60s\" is not a number; write e.g. %s", s, example);
    if (d < lo || d > hi)
        return perr(c, pline(f->v), path,
                    "%.60s is out of range; use a number from %g to %g", s, lo,
                    hi);
    *out = d;
    return 0;
}

static int pint(pctx *c, const yaml_node_t *n, size_t kline, const char *path,
                int64_t lo, int64_t hi, const char *example, int64_t *out) {
    const char *s = pstr(c, n, kline, path, example);
    char *end;
    long long v;

    if (s == NULL)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0)
        return perr(c, pline(n), path,
                    "\"%.60s\" is not a whole number; write e.g. %s", s,
                    example);
    if (v < lo || v > hi)
        return perr(c, pline(n), path,
                    "%lld is out of range; use a whole number from %lld to "
                    "%lld",
                    v, (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

static int pduration(pctx *c, const pfield *f, const char *path, int allow_zero,
                     int64_t *out) {
    const char *s = pstr(c, f->v, pkline(f), path, "\"4h\"");
    int64_t ms = 0;
    int rc;

    if (s == NULL)
        return -1;
    rc = pol_duration(s, &ms);
    if (rc == DUR_NO_UNIT)
        return perr(c, pline(f->v), path,
                    "\"%.60s\" has no unit; write e.g. \"%.20sm\" (minutes), "
                    "\"%.20sh\" (hours) or \"%.20sd\" (days)",
                    s, s, s, s);
    if (rc == DUR_TOO_LONG)
        return perr(c, pline(f->v), path,
                    "\"%.60s\" is longer than 3660 days; use a shorter "
                    "duration",
                    s);
    if (rc != DUR_OK)
        return perr(c, pline(f->v), path,
                    "\"%.60s\" is not a duration; write e.g. \"30m\", \"4h\" "
                    "or \"2d\"",
                    s);
    if (!allow_zero && ms == 0)
        return perr(c, pline(f->v), path,
                    "must be longer than 0; write e.g. \"1d\"");
    *out = ms;
    return 0;
}

/* Names of channels, teams, cadences and bands: [A-Za-z0-9_.-]+. */
static int pname(pctx *c, const char *s, size_t line, const char *path,
                 const char *what) {
    size_t i, n = strlen(s);
    if (n == 0 || n > LM_POLICY_NAME_MAX)
        return perr(c, line, path, "%s name must be 1 to %d characters", what,
                    LM_POLICY_NAME_MAX);
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' &&
            s[i] != '.')
            return perr(c, line, path,
                        "\"%.60s\" is not a valid %s name; use letters, "
                        "digits, '_', '-' or '.'",
                        s, what);
    return 0;
}

/* Iterates the user-named keys of a mapping, refusing duplicates. */
static int puser_keys(pctx *c, yaml_node_t *n, const char *path,
                      const char *what) {
    yaml_node_pair_t *pr, *q;
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = pnode(c, pr->key);
        char kp[LM_POLICY_PATH_MAX];
        if (k == NULL || pnode(c, pr->value) == NULL)
            return perr(c, pline(n), path, "malformed YAML");
        if (k->type != YAML_SCALAR_NODE)
            return perr(c, pline(k), path,
                        "a %s name must be a plain name, found %s", what,
                        k->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping");
        pjoin(kp, sizeof kp, path, (const char *)k->data.scalar.value);
        if (pname(c, (const char *)k->data.scalar.value, pline(k), kp, what))
            return -1;
        for (q = n->data.mapping.pairs.start; q < pr; q++) {
            yaml_node_t *qk = pnode(c, q->key);
            if (strcmp((const char *)qk->data.scalar.value,
                       (const char *)k->data.scalar.value) == 0)
                return perr(c, pline(k), kp,
                            "%s defined twice (first on line %zu); keep one",
                            what, pline(qk));
        }
    }
    return 0;
}

static size_t pcount(const yaml_node_t *n) {
    if (n->type == YAML_MAPPING_NODE)
        return (size_t)(n->data.mapping.pairs.top -
                        n->data.mapping.pairs.start);
    if (n->type == YAML_SEQUENCE_NODE)
        return (size_t)(n->data.sequence.items.top -
                        n->data.sequence.items.start);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

static int parse_thresholds(pctx *c, const pfield *top) {
    pfield f[] = {{"qualified", NULL, NULL}, {"nurture", NULL, NULL}};
    const char *path = "thresholds";

    if (pmap(c, top->v, pkline(top), path,
             "\"thresholds: { qualified: 0.55, nurture: 0.25 }\"", f, 2))
        return -1;
    if (preq(c, pkline(top), path, &f[0], "\"qualified: 0.55\"") ||
        preq(c, pkline(top), path, &f[1], "\"nurture: 0.25\""))
        return -1;
    if (pdouble(c, &f[0], "thresholds.qualified", 0, 1, "0.55",
                &c->p->qualified) ||
        pdouble(c, &f[1], "thresholds.nurture", 0, 1, "0.25", &c->p->nurture))
        return -1;
    if (c->p->nurture > c->p->qualified)
        return perr(c, pline(f[1].v), "thresholds.nurture",
                    "%g is above thresholds.qualified (%g); nurture must not "
                    "be above qualified",
                    c->p->nurture, c->p->qualified);
    return 0;
}

static int parse_channels(pctx *c, const pfield *top) {
    const char *path = "channels";
    yaml_node_t *n = top->v;
    yaml_node_pair_t *pr;
    size_t i = 0, cnt;

    if (n->type != YAML_MAPPING_NODE)
        return pexpected(c, n, pkline(top), path, "a mapping of channels",
                         "\"email: { cost: 0.02 }\" under \"channels:\"");
    cnt = pcount(n);
    if (cnt == 0)
        return perr(c, pkline(top), path,
                    "no channels; add e.g. \"email: { cost: 0.02 }\"");
    if (cnt > LM_POLICY_MAX_CHANNELS)
        return perr(c, pkline(top), path, "more than %d channels",
                    LM_POLICY_MAX_CHANNELS);
    if (puser_keys(c, n, path, "channel"))
        return -1;
    c->p->channels = pol_alloc(c->p, cnt * sizeof *c->p->channels);
    if (c->p->channels == NULL)
        return poom(c);
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++, i++) {
        yaml_node_t *k = pnode(c, pr->key), *v = pnode(c, pr->value);
        const char *name = (const char *)k->data.scalar.value;
        pfield f[] = {{"cost", NULL, NULL}};
        char kp[LM_POLICY_PATH_MAX], cp[LM_POLICY_PATH_MAX], ex[128];
        const char *s;
        int rc;

        pjoin(kp, sizeof kp, path, name);
        pjoin(cp, sizeof cp, kp, "cost");
        snprintf(ex, sizeof ex, "\"%s: { cost: 0.02 }\"", name);
        if (pmap(c, v, pline(k), kp, ex, f, 1) ||
            preq(c, pline(k), kp, &f[0], "\"cost: 0.02\""))
            return -1;
        if ((s = pstr(c, f[0].v, pkline(&f[0]), cp, "\"0.02\"")) == NULL)
            return -1;
        rc = pol_money(s, &c->p->channels[i].cost_cents);
        if (rc == -2)
            return perr(c, pline(f[0].v), cp,
                        "\"%.60s\" has more than 2 decimals; costs are kept in "
                        "cents, write e.g. \"0.03\"",
                        s);
        if (rc == -3)
            return perr(c, pline(f[0].v), cp,
                        "\"%.60s\" is too large; the most a touch may cost is "
                        "\"1000000.00\"",
                        s);
        if (rc != 0)
            return perr(c, pline(f[0].v), cp,
                        "\"%.60s\" is not an amount of money; write e.g. "
                        "\"0.02\" or \"4.50\" (no currency sign, not negative)",
                        s);
        if ((c->p->channels[i].name = pol_strdup(c->p, name)) == NULL)
            return poom(c);
    }
    c->p->n_channels = cnt;
    return 0;
}

static int set_default_bands(pctx *c) {
    static const char *const names[3] = {"smb", "mid", "ent"};
    static const int64_t below[3] = {50, 1000, INT64_MAX};
    size_t i;

    c->p->bands = pol_alloc(c->p, 3 * sizeof *c->p->bands);
    if (c->p->bands == NULL)
        return poom(c);
    for (i = 0; i < 3; i++) {
        c->p->bands[i].name = names[i];
        c->p->bands[i].below = below[i];
    }
    c->p->n_bands = 3;
    return 0;
}

static int parse_segments(pctx *c, const pfield *top) {
    const char *path = "segments", *bpath = "segments.size_bands";
    pfield f[] = {{"size_bands", NULL, NULL}};
    yaml_node_item_t *it;
    yaml_node_t *seq;
    size_t i = 0, cnt;

    if (pmap(c, top->v, pkline(top), path,
             "\"size_bands:\" with a list of { name, below } on the next "
             "line",
             f, 1) ||
        preq(c, pkline(top), path, &f[0],
             "\"size_bands:\" with a list of { name, below } under it"))
        return -1;
    seq = f[0].v;
    if (seq->type != YAML_SEQUENCE_NODE)
        return pexpected(c, seq, pkline(&f[0]), bpath, "a list of bands",
                         "\"- { name: smb, below: 50 }\"");
    cnt = pcount(seq);
    if (cnt == 0)
        return perr(c, pkline(&f[0]), bpath,
                    "no bands; add e.g. \"- { name: all }\"");
    if (cnt > LM_POLICY_MAX_BANDS)
        return perr(c, pkline(&f[0]), bpath, "more than %d bands",
                    LM_POLICY_MAX_BANDS);
    c->p->bands = pol_alloc(c->p, cnt * sizeof *c->p->bands);
    if (c->p->bands == NULL)
        return poom(c);
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *n = pnode(c, *it);
        pfield bf[] = {{"name", NULL, NULL}, {"below", NULL, NULL}};
        char ip[LM_POLICY_PATH_MAX], np[LM_POLICY_PATH_MAX],
            wp[LM_POLICY_PATH_MAX];
        const char *name;
        size_t j;

        pindex(ip, sizeof ip, bpath, i);
        pjoin(np, sizeof np, ip, "name");
        pjoin(wp, sizeof wp, ip, "below");
        if (n == NULL ||
            pmap(c, n, pline(n), ip, "\"- { name: smb, below: 50 }\"", bf, 2) ||
            preq(c, pline(n), ip, &bf[0], "\"name: smb\""))
            return -1;
        if ((name = pstr(c, bf[0].v, pkline(&bf[0]), np, "smb")) == NULL ||
            pname(c, name, pline(bf[0].v), np, "band"))
            return -1;
        for (j = 0; j < i; j++)
            if (strcmp(c->p->bands[j].name, name) == 0)
                return perr(c, pline(bf[0].v), np,
                            "band \"%s\" is listed twice; give each band its "
                            "own name",
                            name);
        if ((c->p->bands[i].name = pol_strdup(c->p, name)) == NULL)
            return poom(c);
        if (i + 1 < cnt) {
            if (bf[1].v == NULL)
                return perr(c, pline(n), ip,
                            "only the last band may leave out \"below\"; add "
                            "e.g. \"below: 1000\"");
            if (pint(c, bf[1].v, pkline(&bf[1]), wp, 1, INT32_MAX, "50",
                     &c->p->bands[i].below))
                return -1;
            if (i > 0 && c->p->bands[i].below <= c->p->bands[i - 1].below)
                return perr(c, pline(bf[1].v), wp,
                            "%lld is not above the previous band's %lld; list "
                            "bands from small to large",
                            (long long)c->p->bands[i].below,
                            (long long)c->p->bands[i - 1].below);
        } else {
            if (bf[1].v != NULL)
                return perr(c, pline(bf[1].k), wp,
                            "the last band must have no \"below\" so that it "
                            "takes every larger company; remove it or add a "
                            "band after this one");
            c->p->bands[i].below = INT64_MAX;
        }
    }
    c->p->n_bands = cnt;
    return 0;
}

static int parse_teams(pctx *c, const pfield *top) {
    const char *path = "teams";
    yaml_node_t *n = top->v;
    yaml_node_pair_t *pr;
    size_t t = 0, cnt;

    if (n->type != YAML_MAPPING_NODE)
        return pexpected(c, n, pkline(top), path, "a mapping of teams",
                         "\"na:\" with \"owners:\" under it");
    cnt = pcount(n);
    if (cnt == 0)
        return perr(c, pkline(top), path,
                    "no teams; add e.g. \"general: { owners: [ { name: "
                    "robin, capacity: 50 } ] }\"");
    if (cnt > LM_POLICY_MAX_TEAMS)
        return perr(c, pkline(top), path, "more than %d teams",
                    LM_POLICY_MAX_TEAMS);
    if (puser_keys(c, n, path, "team"))
        return -1;
    c->p->teams = pol_alloc(c->p, cnt * sizeof *c->p->teams);
    if (c->p->teams == NULL)
        return poom(c);
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++, t++) {
        yaml_node_t *k = pnode(c, pr->key), *v = pnode(c, pr->value), *seq;
        const char *name = (const char *)k->data.scalar.value;
        pfield f[] = {{"owners", NULL, NULL}};
        char kp[LM_POLICY_PATH_MAX], op[LM_POLICY_PATH_MAX];
        yaml_node_item_t *it;
        lm_owner *owners;
        size_t i = 0, no;
        lm_team *team = &c->p->teams[t];

        pjoin(kp, sizeof kp, path, name);
        pjoin(op, sizeof op, kp, "owners");
        if (pmap(c, v, pline(k), kp,
                 "\"owners:\" with a list of { name, capacity } on the next "
                 "line",
                 f, 1) ||
            preq(c, pline(k), kp, &f[0],
                 "\"owners:\" with a list of { name, capacity } under it"))
            return -1;
        seq = f[0].v;
        if (seq->type != YAML_SEQUENCE_NODE)
            return pexpected(c, seq, pkline(&f[0]), op, "a list of owners",
                             "\"- { name: robin, capacity: 50 }\"");
        no = pcount(seq);
        if (no == 0)
            return perr(c, pkline(&f[0]), op,
                        "the team has no owners; add e.g. \"- { name: "
                        "robin, capacity: 50 }\"");
        if (no > LM_POLICY_MAX_OWNERS)
            return perr(c, pkline(&f[0]), op, "more than %d owners",
                        LM_POLICY_MAX_OWNERS);
        owners = pol_alloc(c->p, no * sizeof *owners);
        if (owners == NULL || (team->name = pol_strdup(c->p, name)) == NULL)
            return poom(c);
        for (it = seq->data.sequence.items.start;
             it < seq->data.sequence.items.top; it++, i++) {
            yaml_node_t *on = pnode(c, *it);
            pfield of[] = {{"name", NULL, NULL}, {"capacity", NULL, NULL}};
            char ip[LM_POLICY_PATH_MAX], np[LM_POLICY_PATH_MAX],
                cp[LM_POLICY_PATH_MAX];
            const char *oname;
            int64_t cap;
            size_t j;

            pindex(ip, sizeof ip, op, i);
            pjoin(np, sizeof np, ip, "name");
            pjoin(cp, sizeof cp, ip, "capacity");
            if (on == NULL ||
                pmap(c, on, pline(on), ip,
                     "\"- { name: robin, capacity: 50 }\"", of, 2) ||
                preq(c, pline(on), ip, &of[0], "\"name: robin\"") ||
                preq(c, pline(on), ip, &of[1], "\"capacity: 50\""))
                return -1;
            if ((oname = pstr(c, of[0].v, pkline(&of[0]), np, "robin")) == NULL)
                return -1;
            if (strlen(oname) > LM_POLICY_OWNER_MAX)
                return perr(c, pline(of[0].v), np,
                            "owner name is longer than %d characters",
                            LM_POLICY_OWNER_MAX);
            for (j = 0; oname[j] != '\0'; j++)
                if (iscntrl((unsigned char)oname[j]))
                    return perr(c, pline(of[0].v), np,
                                "owner name contains a control character; "
                                "remove it");
            for (j = 0; j < i; j++)
                if (strcmp(owners[j].name, oname) == 0)
                    return perr(c, pline(of[0].v), np,
                                "owner \"%.60s\" is listed twice in team "
                                "\"%s\"; keep one",
                                oname, name);
            if (pint(c, of[1].v, pkline(&of[1]), cp, 1, LM_POLICY_CAPACITY_MAX,
                     "50", &cap))
                return -1;
            if ((owners[i].name = pol_strdup(c->p, oname)) == NULL)
                return poom(c);
            owners[i].capacity = (int32_t)cap;
        }
        team->owners = owners;
        team->n_owners = no;
    }
    c->p->n_teams = cnt;
    return 0;
}

/* A match list: a YAML list of values (or one value). Each item goes
 * through check(), which returns the canonical string to keep or NULL
 * after setting an error. */
typedef const char *(*pcheck_fn)(pctx *c, const char *s, size_t line,
                                 const char *path);

static int plist_field(pctx *c, const pfield *f, const char *path,
                       pcheck_fn check, const char *example, const char ***out,
                       size_t *n_out) {
    yaml_node_t *n = f->v;
    const char **items;
    size_t cnt, i = 0;

    if (n->type == YAML_SCALAR_NODE && !pis_null(n)) {
        const char *s = pstr(c, n, pkline(f), path, example);
        if (s == NULL)
            return -1;
        items = pol_alloc(c->p, sizeof *items);
        if (items == NULL)
            return poom(c);
        if ((items[0] = check(c, s, pline(n), path)) == NULL)
            return -1;
        *out = items;
        *n_out = 1;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return pexpected(c, n, pkline(f), path, "a list", example);
    cnt = pcount(n);
    if (cnt == 0)
        return perr(c, pkline(f), path,
                    "the list is empty; list at least one item (e.g. %s) or "
                    "remove the key",
                    example);
    if (cnt > LM_POLICY_MAX_LIST)
        return perr(c, pkline(f), path, "more than %d items",
                    LM_POLICY_MAX_LIST);
    items = pol_alloc(c->p, cnt * sizeof *items);
    if (items == NULL)
        return poom(c);
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++, i++) {
        yaml_node_t *in = pnode(c, *it);
        char ip[LM_POLICY_PATH_MAX];
        const char *s;
        pindex(ip, sizeof ip, path, i);
        if (in == NULL || (s = pstr(c, in, pline(in), ip, example)) == NULL ||
            (items[i] = check(c, s, pline(in), ip)) == NULL)
            return -1;
    }
    *out = items;
    *n_out = cnt;
    return 0;
}

static const char *pcheck_region(pctx *c, const char *s, size_t line,
                                 const char *path) {
    const char *r = lm_geo_region(s);
    if (r == NULL)
        perr(c, line, path, "unknown region \"%.60s\"; use one of %s", s,
             LM_GEO_REGIONS);
    return r;
}

static const char *pcheck_country(pctx *c, const char *s, size_t line,
                                  const char *path) {
    const struct lm_geo_country *g = lm_geo_country(s);
    if (g != NULL)
        return g->alpha2;
    if (strcasecmp(s, "UK") == 0)
        perr(c, line, path,
             "unknown country \"%.60s\"; the ISO code of the United Kingdom "
             "is \"GB\"",
             s);
    else
        perr(c, line, path,
             "unknown country \"%.60s\"; use ISO 3166-1 alpha-2 codes such "
             "as \"US\", \"DE\" or \"JP\"",
             s);
    return NULL;
}

static const char *pcheck_source(pctx *c, const char *s, size_t line,
                                 const char *path) {
    const char *d;
    if (strlen(s) > LM_POLICY_NAME_MAX)
        perr(c, line, path, "source name is longer than %d characters",
             LM_POLICY_NAME_MAX);
    else if ((d = pol_strdup(c->p, s)) == NULL)
        poom(c);
    else
        return d;
    return NULL;
}

static int parse_routing(pctx *c, const pfield *top) {
    const char *path = "routing";
    yaml_node_t *seq = top->v;
    yaml_node_item_t *it;
    size_t i = 0, cnt;

    if (seq->type != YAML_SEQUENCE_NODE)
        return pexpected(c, seq, pkline(top), path, "a list of rules",
                         "\"- { regions: [NA], team: na }\"");
    cnt = pcount(seq);
    if (cnt == 0)
        return perr(c, pkline(top), path,
                    "no rules; add at least the fallback rule, e.g. \"- { "
                    "team: general }\"");
    if (cnt > LM_POLICY_MAX_RULES)
        return perr(c, pkline(top), path, "more than %d rules",
                    LM_POLICY_MAX_RULES);
    c->p->rules = pol_alloc(c->p, cnt * sizeof *c->p->rules);
    if (c->p->rules == NULL)
        return poom(c);
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++) {
        enum { R_REG, R_CTY, R_MIN, R_MAX, R_SRC, R_TEAM, R_N };
        pfield f[R_N] = {
            {"regions", NULL, NULL},          {"countries", NULL, NULL},
            {"min_company_size", NULL, NULL}, {"max_company_size", NULL, NULL},
            {"sources", NULL, NULL},          {"team", NULL, NULL}};
        yaml_node_t *n = pnode(c, *it);
        pol_rule *r = &c->p->rules[i];
        char ip[LM_POLICY_PATH_MAX], fp[LM_POLICY_PATH_MAX];
        const char *team;
        const char *tnames[LM_POLICY_MAX_TEAMS];
        int64_t v;
        size_t j;
        int conds;

        pindex(ip, sizeof ip, path, i);
        if (n == NULL ||
            pmap(c, n, pline(n), ip, "\"- { regions: [NA], team: na }\"", f,
                 R_N) ||
            preq(c, pline(n), ip, &f[R_TEAM], "\"team: general\""))
            return -1;
        if (f[R_REG].v != NULL) {
            pjoin(fp, sizeof fp, ip, "regions");
            if (plist_field(c, &f[R_REG], fp, pcheck_region, "[NA, EMEA]",
                            &r->regions, &r->n_regions))
                return -1;
        }
        if (f[R_CTY].v != NULL) {
            pjoin(fp, sizeof fp, ip, "countries");
            if (plist_field(c, &f[R_CTY], fp, pcheck_country, "[US, CA]",
                            &r->countries, &r->n_countries))
                return -1;
        }
        if (f[R_MIN].v != NULL) {
            pjoin(fp, sizeof fp, ip, "min_company_size");
            if (pint(c, f[R_MIN].v, pkline(&f[R_MIN]), fp, 0, INT32_MAX, "1000",
                     &v))
                return -1;
            r->has_min = 1;
            r->min_size = (int32_t)v;
        }
        if (f[R_MAX].v != NULL) {
            pjoin(fp, sizeof fp, ip, "max_company_size");
            if (pint(c, f[R_MAX].v, pkline(&f[R_MAX]), fp, 0, INT32_MAX, "999",
                     &v))
                return -1;
            r->has_max = 1;
            r->max_size = (int32_t)v;
            if (r->has_min && r->max_size < r->min_size)
                return perr(c, pline(f[R_MAX].v), fp,
                            "%d is below min_company_size (%d); no company "
                            "can match, swap them",
                            r->max_size, r->min_size);
        }
        if (f[R_SRC].v != NULL) {
            pjoin(fp, sizeof fp, ip, "sources");
            if (plist_field(c, &f[R_SRC], fp, pcheck_source,
                            "[webinar, partner]", &r->sources, &r->n_sources))
                return -1;
        }
        pjoin(fp, sizeof fp, ip, "team");
        if ((team = pstr(c, f[R_TEAM].v, pkline(&f[R_TEAM]), fp, "general")) ==
            NULL)
            return -1;
        r->team = lm_policy_team(c->p, team);
        if (r->team == NULL) {
            const char *hint;
            char lb[256];
            for (j = 0; j < c->p->n_teams; j++)
                tnames[j] = c->p->teams[j].name;
            hint = psuggest(team, tnames, c->p->n_teams);
            if (hint != NULL)
                return perr(c, pline(f[R_TEAM].v), fp,
                            "unknown team \"%.60s\"; did you mean \"%s\"?",
                            team, hint);
            return perr(c, pline(f[R_TEAM].v), fp,
                        "unknown team \"%.60s\"; the teams are %s (add it "
                        "under teams:)",
                        team, plist(tnames, c->p->n_teams, lb, sizeof lb));
        }
        conds = r->n_regions || r->n_countries || r->has_min || r->has_max ||
                r->n_sources;
        if (!conds && i + 1 < cnt)
            return perr(c, pline(n), ip,
                        "this rule has no conditions, so the rules after it "
                        "can never match; move it to the end");
        if (conds && i + 1 == cnt)
            return perr(c, pline(n), ip,
                        "the last rule must have no conditions: it is the "
                        "fallback for every other lead; add e.g. \"- { team: "
                        "%s }\" after it",
                        r->team->name);
    }
    c->p->n_rules = cnt;
    return 0;
}

static int parse_days(pctx *c, const pfield *f, const char *path,
                      uint8_t *mask) {
    yaml_node_t *n = f->v;
    yaml_node_item_t *it;
    size_t i = 0;

    if (n->type != YAML_SEQUENCE_NODE)
        return pexpected(c, n, pkline(f), path, "a list of days",
                         "[mon, tue, wed, thu, fri]");
    if (pcount(n) == 0)
        return perr(c, pkline(f), path,
                    "no days; list at least one, e.g. [mon, tue, wed, thu, "
                    "fri]");
    *mask = 0;
    for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *in = pnode(c, *it);
        char ip[LM_POLICY_PATH_MAX];
        const char *s;
        int d;
        pindex(ip, sizeof ip, path, i);
        if (in == NULL || (s = pstr(c, in, pline(in), ip, "mon")) == NULL)
            return -1;
        if ((d = pol_day(s)) < 0)
            return perr(c, pline(in), ip,
                        "\"%.60s\" is not a day; use mon, tue, wed, thu, fri, "
                        "sat or sun",
                        s);
        if (*mask & (1u << d))
            return perr(c, pline(in), ip, "\"%.60s\" is listed twice", s);
        *mask |= (uint8_t)(1u << d);
    }
    return 0;
}

static int parse_cadence(pctx *c, yaml_node_t *k, yaml_node_t *v,
                         lm_cadence *cad) {
    enum { C_STEPS, C_HOURS, C_DAYS, C_N };
    pfield f[C_N] = {{"steps", NULL, NULL},
                     {"allowed_hours", NULL, NULL},
                     {"business_days", NULL, NULL}};
    const char *name = (const char *)k->data.scalar.value;
    char kp[LM_POLICY_PATH_MAX], sp[LM_POLICY_PATH_MAX];
    const char *cnames[LM_POLICY_MAX_CHANNELS];
    yaml_node_item_t *it;
    yaml_node_t *seq;
    lm_step *steps;
    size_t i = 0, cnt, j;

    pjoin(kp, sizeof kp, "cadences", name);
    pjoin(sp, sizeof sp, kp, "steps");
    if (pmap(c, v, pline(k), kp,
             "\"steps:\" with a list of { channel, wait, response_window }", f,
             C_N) ||
        preq(c, pline(k), kp, &f[C_STEPS],
             "\"steps:\" with a list of { channel, wait, response_window } "
             "under it"))
        return -1;
    if ((cad->name = pol_strdup(c->p, name)) == NULL)
        return poom(c);
    cad->allowed_start_min = 9 * 60;
    cad->allowed_end_min = 17 * 60;
    cad->business_days_mask = 0x1f; /* Monday to Friday */
    if (f[C_HOURS].v != NULL) {
        char hp[LM_POLICY_PATH_MAX];
        const char *s;
        int rc;
        pjoin(hp, sizeof hp, kp, "allowed_hours");
        if ((s = pstr(c, f[C_HOURS].v, pkline(&f[C_HOURS]), hp,
                      "\"09:00-17:00\"")) == NULL)
            return -1;
        rc = pol_hours(s, &cad->allowed_start_min, &cad->allowed_end_min);
        if (rc == -2)
            return perr(c, pline(f[C_HOURS].v), hp,
                        "\"%.60s\" ends before it starts (windows across "
                        "midnight are not supported); write e.g. "
                        "\"09:00-17:00\"",
                        s);
        if (rc != 0)
            return perr(c, pline(f[C_HOURS].v), hp,
                        "\"%.60s\" is not a range of hours; write e.g. "
                        "\"09:00-17:00\"",
                        s);
    }
    if (f[C_DAYS].v != NULL) {
        char dp[LM_POLICY_PATH_MAX];
        pjoin(dp, sizeof dp, kp, "business_days");
        if (parse_days(c, &f[C_DAYS], dp, &cad->business_days_mask))
            return -1;
    }
    seq = f[C_STEPS].v;
    if (seq->type != YAML_SEQUENCE_NODE)
        return pexpected(c, seq, pkline(&f[C_STEPS]), sp, "a list of steps",
                         "\"- { channel: email, wait: 0, response_window: 1d "
                         "}\"");
    cnt = pcount(seq);
    if (cnt == 0)
        return perr(c, pkline(&f[C_STEPS]), sp,
                    "no steps; add e.g. \"- { channel: email, wait: 0, "
                    "response_window: 1d }\"");
    if (cnt > LM_POLICY_MAX_STEPS)
        return perr(c, pkline(&f[C_STEPS]), sp, "more than %d steps",
                    LM_POLICY_MAX_STEPS);
    steps = pol_alloc(c->p, cnt * sizeof *steps);
    if (steps == NULL)
        return poom(c);
    for (j = 0; j < c->p->n_channels; j++)
        cnames[j] = c->p->channels[j].name;
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++) {
        enum { S_CHAN, S_WAIT, S_RESP, S_N };
        pfield sf[S_N] = {{"channel", NULL, NULL},
                          {"wait", NULL, NULL},
                          {"response_window", NULL, NULL}};
        yaml_node_t *n = pnode(c, *it);
        char ip[LM_POLICY_PATH_MAX], fp[LM_POLICY_PATH_MAX];
        const char *ch;
        int64_t cost;

        pindex(ip, sizeof ip, sp, i);
        if (n == NULL ||
            pmap(c, n, pline(n), ip,
                 "\"- { channel: email, wait: 0, response_window: 1d }\"", sf,
                 S_N) ||
            preq(c, pline(n), ip, &sf[S_CHAN], "\"channel: email\"") ||
            preq(c, pline(n), ip, &sf[S_RESP], "\"response_window: 1d\""))
            return -1;
        pjoin(fp, sizeof fp, ip, "channel");
        if ((ch = pstr(c, sf[S_CHAN].v, pkline(&sf[S_CHAN]), fp, "email")) ==
            NULL)
            return -1;
        cost = lm_policy_channel_cost_cents(c->p, ch);
        if (cost < 0) {
            char lb[256];
            const char *hint = psuggest(ch, cnames, c->p->n_channels);
            if (hint != NULL)
                return perr(c, pline(sf[S_CHAN].v), fp,
                            "unknown channel \"%.60s\"; did you mean \"%s\"?",
                            ch, hint);
            return perr(c, pline(sf[S_CHAN].v), fp,
                        "unknown channel \"%.60s\"; the channels are %s (add "
                        "it under channels:)",
                        ch, plist(cnames, c->p->n_channels, lb, sizeof lb));
        }
        for (j = 0; j < c->p->n_channels; j++)
            if (strcmp(c->p->channels[j].name, ch) == 0)
                steps[i].channel = c->p->channels[j].name;
        if (sf[S_WAIT].v != NULL) {
            pjoin(fp, sizeof fp, ip, "wait");
            if (pduration(c, &sf[S_WAIT], fp, 1, &steps[i].wait_ms))
                return -1;
        }
        pjoin(fp, sizeof fp, ip, "response_window");
        if (pduration(c, &sf[S_RESP], fp, 0, &steps[i].response_window_ms))
            return -1;
    }
    cad->steps = steps;
    cad->n_steps = cnt;
    return 0;
}

static int parse_cadences(pctx *c, const pfield *top) {
    static const char *const required[2] = {"qualified", "nurture"};
    const char *path = "cadences";
    yaml_node_t *n = top->v;
    yaml_node_pair_t *pr;
    size_t i = 0, cnt, r;

    if (n->type != YAML_MAPPING_NODE)
        return pexpected(c, n, pkline(top), path, "a mapping of cadences",
                         "\"qualified:\" with \"steps:\" under it");
    cnt = pcount(n);
    if (cnt > LM_POLICY_MAX_CADENCES)
        return perr(c, pkline(top), path, "more than %d cadences",
                    LM_POLICY_MAX_CADENCES);
    if (puser_keys(c, n, path, "cadence"))
        return -1;
    for (r = 0; r < 2; r++) {
        int found = 0;
        for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++)
            if (strcmp((const char *)pnode(c, pr->key)->data.scalar.value,
                       required[r]) == 0)
                found = 1;
        if (!found) {
            const char *names[LM_POLICY_MAX_CADENCES];
            const char *hint;
            size_t k = 0;
            for (pr = n->data.mapping.pairs.start;
                 pr < n->data.mapping.pairs.top; pr++)
                names[k++] = (const char *)pnode(c, pr->key)->data.scalar.value;
            hint = psuggest(required[r], names, k);
            if (hint != NULL)
                return perr(c, pkline(top), path,
                            "missing the \"%s\" cadence (is \"%s\" a typo?); "
                            "it is required for %s leads",
                            required[r], hint,
                            r == 0 ? "QUALIFIED" : "NURTURE");
            return perr(c, pkline(top), path,
                        "missing the \"%s\" cadence; it is required for %s "
                        "leads (see the built-in default for an example)",
                        required[r], r == 0 ? "QUALIFIED" : "NURTURE");
        }
    }
    c->p->cadences = pol_alloc(c->p, cnt * sizeof *c->p->cadences);
    if (c->p->cadences == NULL)
        return poom(c);
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++, i++)
        if (parse_cadence(c, pnode(c, pr->key), pnode(c, pr->value),
                          &c->p->cadences[i]))
            return -1;
    c->p->n_cadences = cnt;
    return 0;
}

static int parse_root(pctx *c, yaml_node_t *root) {
    enum {
        T_THR,
        T_DEDUPE,
        T_CTRL,
        T_CHAN,
        T_SEG,
        T_ROUTE,
        T_TEAMS,
        T_CAD,
        T_N
    };
    pfield f[T_N] = {
        {"thresholds", NULL, NULL},    {"dedupe_window", NULL, NULL},
        {"control_share", NULL, NULL}, {"channels", NULL, NULL},
        {"segments", NULL, NULL},      {"routing", NULL, NULL},
        {"teams", NULL, NULL},         {"cadences", NULL, NULL}};
    static const char *const examples[T_N] = {
        "\"thresholds: { qualified: 0.55, nurture: 0.25 }\"",
        "",
        "",
        "\"channels: { email: { cost: 0.02 } }\"",
        "",
        "\"routing: [ { team: general } ]\" (see the built-in default)",
        "\"teams: { general: { owners: [ { name: robin, capacity: 50 } ] "
        "} }\"",
        "\"cadences:\" with a \"qualified\" and a \"nurture\" cadence "
        "under it (see the built-in default)"};
    size_t i;

    if (root->type != YAML_MAPPING_NODE)
        return perr(c, pline(root), "",
                    "the file must be a mapping of settings (thresholds:, "
                    "channels:, routing:, teams:, cadences:), found %s",
                    root->type == YAML_SEQUENCE_NODE ? "a list"
                                                     : "a single value");
    if (pmap(c, root, pline(root), "", "\"thresholds:\"", f, T_N))
        return -1;
    for (i = 0; i < T_N; i++)
        if (examples[i][0] != '\0' &&
            preq(c, pline(root), "", &f[i], examples[i]))
            return -1;
    if (parse_thresholds(c, &f[T_THR]))
        return -1;
    c->p->dedupe_ms = 30 * LM_POLICY_DAY_MS;
    if (f[T_DEDUPE].v != NULL &&
        pduration(c, &f[T_DEDUPE], "dedupe_window", 0, &c->p->dedupe_ms))
        return -1;
    c->p->control_share = 0.2;
    if (f[T_CTRL].v != NULL && pdouble(c, &f[T_CTRL], "control_share", 0, 1,
                                       "0.2", &c->p->control_share))
        return -1;
    if (parse_channels(c, &f[T_CHAN]))
        return -1;
    if (f[T_SEG].v != NULL ? parse_segments(c, &f[T_SEG])
                           : set_default_bands(c))
        return -1;
    if (parse_teams(c, &f[T_TEAMS]) || parse_routing(c, &f[T_ROUTE]) ||
        parse_cadences(c, &f[T_CAD]))
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

static size_t pol_line_at(const char *text, size_t len, size_t offset) {
    size_t i, line = 1;
    for (i = 0; i < offset && i < len; i++)
        if (text[i] == '\n')
            line++;
    return line;
}

static int pol_yaml_error(pctx *c, yaml_parser_t *parser, const char *text,
                          size_t len) {
    if (parser->error == YAML_MEMORY_ERROR)
        return poom(c);
    if (parser->error == YAML_READER_ERROR)
        return perr(c, pol_line_at(text, len, parser->problem_offset), "",
                    "the file is not valid UTF-8 text (%s at byte %zu); save "
                    "it as UTF-8 without control characters",
                    parser->problem ? parser->problem : "bad byte",
                    parser->problem_offset);
    return perr(c, parser->problem_mark.line + 1, "",
                "YAML syntax error: %s%s%s (column %zu); check the "
                "indentation, and quote values that contain \": \" or \" #\"",
                parser->problem ? parser->problem : "unknown problem",
                parser->context ? " " : "",
                parser->context ? parser->context : "",
                parser->problem_mark.column + 1);
}

lm_policy *lm_policy_parse(const char *yaml_text, size_t len,
                           const char *filename_for_errors, char *err,
                           size_t errsz) {
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    yaml_node_t *root;
    pctx c;
    lm_policy *p = NULL;
    int have_doc = 0, ok = 0;

    memset(&c, 0, sizeof c);
    c.file = filename_for_errors != NULL && filename_for_errors[0] != '\0'
                 ? filename_for_errors
                 : "decisions.yaml";
    c.err = err;
    c.errsz = errsz;
    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (yaml_text == NULL) {
        perr(&c, 1, "", "no text given");
        return NULL;
    }
    if (len > LM_POLICY_FILE_MAX) {
        perr(&c, 1, "", "the file is larger than %d bytes", LM_POLICY_FILE_MAX);
        return NULL;
    }
    if (!yaml_parser_initialize(&parser)) {
        poom(&c);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml_text,
                                 len);
    if (!yaml_parser_load(&parser, &doc)) {
        pol_yaml_error(&c, &parser, yaml_text, len);
        goto done;
    }
    have_doc = 1;
    c.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        perr(&c, 1, "",
             "the file is empty; start from the built-in default "
             "(config/decisions.yaml)");
        goto done;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        pol_yaml_error(&c, &parser, yaml_text, len);
        goto done;
    }
    if (yaml_document_get_root_node(&extra) != NULL) {
        perr(&c, extra.start_mark.line + 1, "",
             "a second YAML document starts here; keep one document per "
             "file (remove the \"---\" line and what follows)");
        yaml_document_delete(&extra);
        goto done;
    }
    yaml_document_delete(&extra);
    if ((p = calloc(1, sizeof *p)) == NULL) {
        poom(&c);
        goto done;
    }
    c.p = p;
    ok = parse_root(&c, root) == 0;
done:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!ok) {
        lm_policy_free(p);
        return NULL;
    }
    if (err != NULL && errsz > 0)
        err[0] = '\0';
    return p;
}

lm_policy *lm_policy_load(const char *path, char *err, size_t errsz) {
    FILE *f = NULL;
    struct stat st;
    char *text = NULL;
    const char *why = NULL;
    size_t got;
    lm_policy *p = NULL;

    if (path == NULL || path[0] == '\0')
        return lm_policy_parse(lm_policy_default_yaml,
                               lm_policy_default_yaml_len,
                               LM_POLICY_DEFAULT_FILE, err, errsz);
    if ((f = fopen(path, "rb")) == NULL) {
        if (err != NULL && errsz > 0)
            snprintf(err, errsz, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        why = "not a regular file";
        goto done;
    }
    if (st.st_size > LM_POLICY_FILE_MAX) {
        why = "larger than 1 MiB (LM_POLICY_FILE_MAX)";
        goto done;
    }
    if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
        why = "out of memory";
        goto done;
    }
    got = fread(text, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        why = "read error";
        goto done;
    }
    text[got] = '\0';
    p = lm_policy_parse(text, got, path, err, errsz);
done:
    if (why != NULL && err != NULL && errsz > 0)
        snprintf(err, errsz, "%s: %s", path, why);
    free(text);
    if (f != NULL)
        fclose(f);
    return p;
}

const char *lm_policy_default_text(size_t *len) {
    if (len != NULL)
        *len = lm_policy_default_yaml_len;
    return lm_policy_default_yaml;
}

/* ------------------------------------------------------------------ */
/* Getters                                                             */
/* ------------------------------------------------------------------ */

double lm_policy_threshold_qualified(const lm_policy *p) {
    return p->qualified;
}

double lm_policy_threshold_nurture(const lm_policy *p) {
    return p->nurture;
}

int64_t lm_policy_dedupe_window_ms(const lm_policy *p) {
    return p->dedupe_ms;
}

double lm_policy_control_share(const lm_policy *p) {
    return p->control_share;
}

int64_t lm_policy_channel_cost_cents(const lm_policy *p, const char *channel) {
    size_t i;
    if (p == NULL || channel == NULL)
        return -1;
    for (i = 0; i < p->n_channels; i++)
        if (strcmp(p->channels[i].name, channel) == 0)
            return p->channels[i].cost_cents;
    return -1;
}

int lm_policy_segment(const lm_policy *p, const char *country_alpha2,
                      int32_t company_size, char *buf, size_t bufsz) {
    const struct lm_geo_country *g;
    const char *region;
    size_t i;
    int w;

    if (buf == NULL || bufsz == 0)
        return -1;
    buf[0] = '\0';
    if (p == NULL || p->n_bands == 0)
        return -1;
    g = lm_geo_country(country_alpha2);
    region = g != NULL ? g->region : LM_POLICY_REGION_OTHER;
    for (i = 0; i + 1 < p->n_bands && company_size >= p->bands[i].below; i++)
        ;
    w = snprintf(buf, bufsz, "%s/%s", region, p->bands[i].name);
    if (w < 0 || (size_t)w >= bufsz) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

static int rule_has(const char *const *list, size_t n, const char *s,
                    int nocase) {
    size_t i;
    for (i = 0; i < n; i++)
        if ((nocase ? strcasecmp(list[i], s) : strcmp(list[i], s)) == 0)
            return 1;
    return 0;
}

const lm_team *lm_policy_route(const lm_policy *p, const char *country_alpha2,
                               int32_t company_size, const char *source) {
    const struct lm_geo_country *g;
    size_t i;

    if (p == NULL || p->n_rules == 0)
        return NULL;
    g = lm_geo_country(country_alpha2);
    for (i = 0; i < p->n_rules; i++) {
        const pol_rule *r = &p->rules[i];
        if (r->n_regions &&
            (g == NULL || !rule_has(r->regions, r->n_regions, g->region, 0)))
            continue;
        if (r->n_countries &&
            (g == NULL ||
             !rule_has(r->countries, r->n_countries, g->alpha2, 0)))
            continue;
        if (r->has_min && company_size < r->min_size)
            continue;
        if (r->has_max && company_size > r->max_size)
            continue;
        if (r->n_sources &&
            (source == NULL || !rule_has(r->sources, r->n_sources, source, 1)))
            continue;
        return r->team;
    }
    return p->rules[p->n_rules - 1].team; /* unreachable: the fallback */
}

const lm_team *lm_policy_team(const lm_policy *p, const char *name) {
    size_t i;
    if (p == NULL || name == NULL)
        return NULL;
    for (i = 0; i < p->n_teams; i++)
        if (strcmp(p->teams[i].name, name) == 0)
            return &p->teams[i];
    return NULL;
}

size_t lm_policy_team_count(const lm_policy *p) {
    return p != NULL ? p->n_teams : 0;
}

const lm_team *lm_policy_team_at(const lm_policy *p, size_t i) {
    return p != NULL && i < p->n_teams ? &p->teams[i] : NULL;
}

const lm_cadence *lm_policy_cadence(const lm_policy *p, const char *name) {
    size_t i;
    if (p == NULL || name == NULL)
        return NULL;
    for (i = 0; i < p->n_cadences; i++)
        if (strcmp(p->cadences[i].name, name) == 0)
            return &p->cadences[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Allowed hours                                                       */
/* ------------------------------------------------------------------ */

static int cad_ok(const lm_cadence *c) {
    return c != NULL && c->business_days_mask != 0 &&
           c->allowed_start_min >= 0 &&
           c->allowed_start_min < c->allowed_end_min &&
           c->allowed_end_min <= 24 * 60;
}

/* The first instant at which the wall clock in tz shows at least
 * y-m-d 00:00 + minute. Unlike lm_tz_to_utc_ms, a wall time skipped by a
 * DST change gives the instant of the change (when such a window opens),
 * found by bisection on whole seconds. -1 on error. */
static int64_t pol_wall_start(const char *tz, int y, int m, int d,
                              int32_t minute) {
    lm_local_time lc;
    int64_t cand = lm_tz_to_utc_ms(tz, y, m, d, 0, minute), lo, hi, want;
    int32_t off;

    if (cand == -1 || lm_tz_local(tz, cand, &lc) != 0)
        return -1;
    if (lc.minute_of_day == minute % (24 * 60) && lc.second == 0)
        return cand;
    /* In a gap: the wall time L = cand + offset-before. Find the first
     * second t in (cand - 1 day, cand] with t + offset(t) >= L. */
    if (lm_tz_offset(tz, cand - LM_POLICY_DAY_MS, &off) != 0)
        return -1;
    want = cand / 1000 + off;
    lo = cand / 1000 - 86400; /* wall < want here */
    hi = cand / 1000;         /* wall >= want here */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (lm_tz_offset(tz, mid * 1000, &off) != 0)
            return -1;
        if (mid + off >= want)
            hi = mid;
        else
            lo = mid;
    }
    return hi * 1000;
}

int64_t lm_policy_next_allowed_ms(const lm_cadence *c, const char *tz,
                                  int64_t earliest_ms) {
    lm_local_time lt, lc;
    int64_t t = earliest_ms;
    int i;

    if (!cad_ok(c))
        return -1;
    for (i = 0; i < LM_POLICY_NEXT_ITER; i++) {
        int64_t cand;
        int day_ok;

        if (lm_tz_local(tz, t, &lt) != 0)
            return -1;
        day_ok = (c->business_days_mask >> lt.weekday) & 1;
        if (day_ok && lt.minute_of_day >= c->allowed_start_min &&
            lt.minute_of_day < c->allowed_end_min)
            return t;
        if (day_ok && lt.minute_of_day < c->allowed_start_min) {
            cand = pol_wall_start(tz, lt.year, lt.month, lt.mday,
                                  c->allowed_start_min);
            if (cand != -1 && cand <= t && lm_tz_local(tz, cand, &lc) == 0) {
                /* The start's first occurrence passed before the clocks
                 * went back; take its second one. */
                cand += (int64_t)(lc.offset_s - lt.offset_s) * 1000;
                if (cand <= t)
                    cand = pol_wall_start(tz, lt.year, lt.month, lt.mday + 1,
                                          c->allowed_start_min);
            }
        } else {
            cand = pol_wall_start(tz, lt.year, lt.month, lt.mday + 1,
                                  c->allowed_start_min);
        }
        if (cand == -1 || cand <= t)
            return -1;
        t = cand;
    }
    return -1;
}

size_t lm_policy_candidate_slots(const lm_cadence *c, const char *tz,
                                 int64_t from_ms, int64_t horizon_ms,
                                 lm_slot *out, size_t max) {
    uint8_t seen[168];
    int64_t end, scan, t = from_ms;
    size_t n = 0;

    if (!cad_ok(c) || out == NULL || max == 0 || horizon_ms <= 0)
        return 0;
    scan = LM_POLICY_SLOT_SCAN_DAYS * LM_POLICY_DAY_MS;
    end = from_ms + (horizon_ms < scan ? horizon_ms : scan);
    memset(seen, 0, sizeof seen);
    while (n < max) {
        lm_local_time lt;
        int64_t sub;

        t = lm_policy_next_allowed_ms(c, tz, t);
        if (t == -1 || t >= end || lm_tz_local(tz, t, &lt) != 0)
            break;
        if (!seen[lt.hour_of_week]) {
            seen[lt.hour_of_week] = 1;
            out[n].slot = lt.hour_of_week;
            out[n].start_ms = t;
            n++;
        }
        /* on to the next local hour */
        sub = ((int64_t)lt.minute * 60 + lt.second) * 1000 +
              (t % 1000 + 1000) % 1000;
        t = t - sub + LM_POLICY_HOUR_MS;
    }
    return n;
}
