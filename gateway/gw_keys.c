/* gw_keys.c — the keys file, lookup, origins and rate buckets (see
 * gw_keys.h). */
#include "gw_keys.h"

#include "lm_digest.h"
#include "lm_fmt.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_KEYS_LINE_MAX 4096
#define GW_KEYS_FIX      "lines are NAME SHA256_HEX SCOPES [ORIGINS]"

struct gw_key {
    char name[GW_KEY_NAME_MAX + 1];
    unsigned char hash[LM_DIGEST_SHA256_LEN];
    unsigned scopes;
    char origins[GW_KEY_ORIGINS_MAX][GW_KEY_ORIGIN_MAX + 1];
    size_t n_origins;
    double rate, burst; /* the set's, copied */
    pthread_mutex_t mu; /* guards the bucket */
    double tokens;
    int64_t last_ms; /* monotonic; 0 = never */
};

struct gw_keys {
    gw_key *keys;
    size_t n;
    double rate, burst;
    int ready; /* the mutexes are made */
};

static const struct {
    const char *name;
    unsigned bit;
} gw_scopes[] = {{"leads", GW_SCOPE_LEADS},
                 {"responses", GW_SCOPE_RESPONSES},
                 {"activities", GW_SCOPE_ACTIVITIES}};

/* ================================================================ parse */

/* The next field of *p separated by any of `seps` (NUL-terminated in
 * place), or NULL at the end. */
static char *next_field(char **p, const char *seps) {
    char *s = *p + strspn(*p, seps);
    if (!*s) {
        *p = s;
        return NULL;
    }
    size_t n = strcspn(s, seps);
    *p = s + n + (s[n] != '\0');
    s[n] = '\0';
    return s;
}

static int hexval(int c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int parse_name(const char *f, gw_key *k, char *why, size_t whysz) {
    size_t n = strlen(f);
    if (n > GW_KEY_NAME_MAX)
        return lm_errf(why, whysz,
                       "name \"%.32s...\" is longer than %d bytes; use a "
                       "shorter name",
                       f, GW_KEY_NAME_MAX);
    for (const char *p = f; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
            return lm_errf(why, whysz,
                           "name \"%s\" has '%c'; use letters, digits, '.', "
                           "'_' and '-' only",
                           f, *p);
    memcpy(k->name, f, n + 1);
    return 0;
}

static int parse_hash(const char *f, gw_key *k, char *why, size_t whysz) {
    if (strlen(f) != 2 * LM_DIGEST_SHA256_LEN)
        return lm_errf(why, whysz,
                       "\"%.80s\" is not 64 hex digits; the second field is "
                       "the SHA-256 of the key (`lastmile gateway-key NAME "
                       "SCOPES` prints a whole line)",
                       f);
    for (size_t i = 0; i < LM_DIGEST_SHA256_LEN; i++) {
        int hi = hexval((unsigned char)f[2 * i]),
            lo = hexval((unsigned char)f[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return lm_errf(why, whysz,
                           "\"%.80s\" has a character that is not a hex "
                           "digit; the second field is the SHA-256 of the "
                           "key in hex",
                           f);
        k->hash[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int parse_scopes(const char *f, gw_key *k, char *why, size_t whysz) {
    char buf[GW_KEYS_LINE_MAX];
    lm_fmt_cat(buf, sizeof(buf), f, NULL);
    for (char *at = buf, *s = next_field(&at, ","); s;
         s = next_field(&at, ",")) {
        size_t i, n = sizeof(gw_scopes) / sizeof(gw_scopes[0]);
        for (i = 0; i < n && strcmp(s, gw_scopes[i].name) != 0; i++)
            ;
        if (i == n)
            return lm_errf(why, whysz,
                           "unknown scope \"%.40s\"; scopes are leads, "
                           "responses and activities, comma-separated with "
                           "no spaces",
                           s);
        k->scopes |= gw_scopes[i].bit;
    }
    if (k->scopes == 0)
        return lm_errf(why, whysz,
                       "no scope; give leads, responses or activities "
                       "(comma-separated)");
    return 0;
}

/* An origin is scheme://host[:port]: no path, no trailing slash. */
static int origin_ok(const char *o) {
    const char *h = strncmp(o, "https://", 8) == 0  ? o + 8
                    : strncmp(o, "http://", 7) == 0 ? o + 7
                                                    : NULL;
    if (!h || !*h)
        return 0;
    for (const char *p = h; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p))
            return 0;
    return 1;
}

static int parse_origins(const char *f, gw_key *k, char *why, size_t whysz) {
    char buf[GW_KEYS_LINE_MAX];
    lm_fmt_cat(buf, sizeof(buf), f, NULL);
    for (char *at = buf, *s = next_field(&at, ","); s;
         s = next_field(&at, ",")) {
        if (strlen(s) > GW_KEY_ORIGIN_MAX || !origin_ok(s))
            return lm_errf(why, whysz,
                           "\"%.80s\" is not a web origin; write "
                           "scheme://host[:port] with no path, e.g. "
                           "https://www.example.com",
                           s);
        if (k->n_origins == GW_KEY_ORIGINS_MAX)
            return lm_errf(why, whysz, "more than %d origins; use fewer",
                           GW_KEY_ORIGINS_MAX);
        lm_fmt_cat(k->origins[k->n_origins++], GW_KEY_ORIGIN_MAX + 1, s, NULL);
    }
    return 0;
}

/* One line's fields into k. 1 parsed, 0 blank/comment, -1 with why. */
static int parse_line(char *line, gw_key *k, char *why, size_t whysz) {
    char *fields[5] = {0};
    int n = 0;
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    for (char *at = line, *f = next_field(&at, " \t\r"); f;
         f = next_field(&at, " \t\r")) {
        if (n == 4)
            return lm_errf(why, whysz,
                           "more than 4 fields (\"%.40s\"); " GW_KEYS_FIX
                           ", origins comma-separated with no spaces",
                           f);
        fields[n++] = f;
    }
    if (n == 0)
        return 0;
    if (n < 3)
        return lm_errf(why, whysz, "%d field%s; " GW_KEYS_FIX, n,
                       n == 1 ? "" : "s");
    if (parse_name(fields[0], k, why, whysz) != 0 ||
        parse_hash(fields[1], k, why, whysz) != 0 ||
        parse_scopes(fields[2], k, why, whysz) != 0 ||
        (n == 4 && parse_origins(fields[3], k, why, whysz) != 0))
        return -1;
    return 1;
}

static int add_line(gw_keys *ks, char *line, char *why, size_t whysz) {
    gw_key k;
    memset(&k, 0, sizeof(k));
    int r = parse_line(line, &k, why, whysz);
    if (r <= 0)
        return r;
    for (size_t i = 0; i < ks->n; i++) {
        if (strcmp(ks->keys[i].name, k.name) == 0)
            return lm_errf(why, whysz,
                           "name \"%s\" is used twice; give each key its "
                           "own name",
                           k.name);
        if (memcmp(ks->keys[i].hash, k.hash, sizeof(k.hash)) == 0)
            return lm_errf(why, whysz,
                           "the hash of \"%s\" is the hash of \"%s\" too; "
                           "mint a new key for one of them",
                           k.name, ks->keys[i].name);
    }
    if (ks->n == GW_KEYS_MAX)
        return lm_errf(why, whysz, "more than %d keys", GW_KEYS_MAX);
    gw_key *nk = realloc(ks->keys, (ks->n + 1) * sizeof(*nk));
    if (!nk)
        return lm_errf(why, whysz, "out of memory");
    ks->keys = nk;
    k.rate = ks->rate;
    k.burst = ks->burst;
    k.tokens = ks->burst;
    nk[ks->n++] = k; /* mutexes are made once the array stops moving */
    return 1;
}

gw_keys *gw_keys_parse(const char *text, const char *where, double rate,
                       double burst, char *err, size_t errsz) {
    gw_keys *ks = calloc(1, sizeof(*ks));
    if (!ks) {
        lm_errf(err, errsz, "%s: out of memory", where);
        return NULL;
    }
    ks->rate = rate;
    ks->burst = burst < 1 ? 1 : burst;
    long lineno = 0;
    for (const char *p = text ? text : ""; *p;) {
        size_t n = strcspn(p, "\n");
        char line[GW_KEYS_LINE_MAX], why[768];
        lineno++;
        if (n >= sizeof(line)) {
            lm_errf(err, errsz, "%s:%ld: longer than %d bytes; one key a line",
                    where, lineno, GW_KEYS_LINE_MAX - 1);
            goto fail;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (p[n] == '\n');
        if (add_line(ks, line, why, sizeof(why)) < 0) {
            lm_errf(err, errsz, "%s:%ld: %s", where, lineno, why);
            goto fail;
        }
    }
    if (ks->n == 0) {
        lm_errf(err, errsz,
                "%s: no key; add a line NAME SHA256_HEX SCOPES [ORIGINS] "
                "(`lastmile gateway-key NAME SCOPES` prints one)",
                where);
        goto fail;
    }
    for (size_t i = 0; i < ks->n; i++)
        pthread_mutex_init(&ks->keys[i].mu, NULL);
    ks->ready = 1;
    return ks;
fail:
    gw_keys_free(ks);
    return NULL;
}

void gw_keys_free(gw_keys *ks) {
    if (!ks)
        return;
    for (size_t i = 0; ks->ready && i < ks->n; i++)
        pthread_mutex_destroy(&ks->keys[i].mu);
    free(ks->keys);
    free(ks);
}

size_t gw_keys_count(const gw_keys *ks) {
    return ks ? ks->n : 0;
}

/* =============================================================== lookup */

gw_key *gw_keys_find(gw_keys *ks, const char *token) {
    unsigned char md[LM_DIGEST_SHA256_LEN];
    gw_key *found = NULL;
    if (!token || !*token || strlen(token) > GW_KEY_TOKEN_MAX ||
        lm_digest_sha256(token, strlen(token), md) != 0)
        return NULL;
    /* every key is compared, match or not */
    for (size_t i = 0; i < ks->n; i++) {
        int eq = lm_digest_equal(md, ks->keys[i].hash, sizeof(md));
        found = eq ? &ks->keys[i] : found;
    }
    return found;
}

int gw_keys_origin_known(const gw_keys *ks, const char *origin) {
    for (size_t i = 0; origin && i < ks->n; i++)
        if (gw_key_allows_origin(&ks->keys[i], origin))
            return 1;
    return 0;
}

const char *gw_key_name(const gw_key *k) {
    return k->name;
}

int gw_key_has_scope(const gw_key *k, unsigned scope) {
    return (k->scopes & scope) != 0;
}

int gw_key_allows_origin(const gw_key *k, const char *origin) {
    for (size_t i = 0; origin && i < k->n_origins; i++)
        if (strcmp(k->origins[i], origin) == 0)
            return 1;
    return 0;
}

/* ========================================================= rate buckets */

int gw_key_take(gw_key *k, int64_t now_ms, int *retry_after_s) {
    int ok;
    pthread_mutex_lock(&k->mu);
    if (k->last_ms != 0 && now_ms > k->last_ms)
        k->tokens += (double)(now_ms - k->last_ms) / 1000.0 * k->rate;
    if (k->tokens > k->burst)
        k->tokens = k->burst;
    if (now_ms > k->last_ms)
        k->last_ms = now_ms;
    ok = k->tokens >= 1.0;
    if (ok) {
        k->tokens -= 1.0;
    } else if (retry_after_s) {
        double s = k->rate > 0 ? (1.0 - k->tokens) / k->rate : 3600;
        *retry_after_s = s < 1 ? 1 : (int)ceil(s);
    }
    pthread_mutex_unlock(&k->mu);
    return ok;
}
