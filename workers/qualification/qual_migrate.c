/* qual_migrate.c — the old account hashes moved to their owner and count
 * strings (qual_migrate.h). Sections: the script · the keys · the hook. */
#include "qual_migrate.h"

#include "lm_lead.h"
#include "lm_log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_SCAN_COUNT 1000
#define MIGRATE_PIPE_KEYS  256 /* old hashes moved per round trip */

#define OLD_PREFIX   "lm:{acct:"
#define OLD_SUFFIX   "}"
#define COUNT_SUFFIX ":open_count" /* the longer of the two new suffixes */

/* ============================================================ the script */

/* KEYS[1] the old hash, KEYS[2] its owner key, KEYS[3] its count key (one
 * hash tag: one slot). Not a hash (gone: moved by another run; or another
 * type): nothing. The one write that can fail (INCRBY: overflow, a count
 * key that is not an integer) comes first, so a skipped hash has changed
 * nothing; then the owner (NX: a newer one stays), then the DEL. Returns
 * {moved, skipped, owner written}. */
static const char *const move_script =
    "if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return {0, 0, 0} end\n"
    "local h = redis.call('HMGET', KEYS[1], 'owner', 'team', 'open')\n"
    "local owner, team, open = h[1], h[2], h[3]\n"
    "if open then\n"
    "  if not string.match(open, '^%-?%d+$') then return {0, 1, 0} end\n"
    "  if tonumber(open) ~= 0 then\n"
    "    local ok = redis.pcall('INCRBY', KEYS[3], open)\n"
    "    if type(ok) ~= 'number' then return {0, 1, 0} end\n"
    "  end\n"
    "end\n"
    "local wrote = 0\n"
    "if owner and team and #owner > 0 and #team > 0 and\n"
    "   not string.find(team, ':', 1, true) and\n"
    "   redis.call('SET', KEYS[2], team .. ':' .. owner, 'NX') then\n"
    "  wrote = 1\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return {1, 0, wrote}\n";

/* {moved, skipped, owner} of reply rep added to *out. 0 / -1 (err). */
static int moved_of(const redisReply *rep, qual_migrated *out, char *err,
                    size_t errsz) {
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER &&
        rep->element[2]->type == REDIS_REPLY_INTEGER) {
        out->accounts += rep->element[0]->integer > 0;
        out->skipped += rep->element[1]->integer;
        out->owners += rep->element[2]->integer > 0;
        return 0;
    }
    snprintf(err, errsz, "moving an old account hash: %s",
             rep && rep->type == REDIS_REPLY_ERROR && rep->str
                 ? rep->str
                 : "unexpected reply");
    return -1;
}

/* ============================================================== the keys */

typedef struct old_keys {
    char **keys; /* the domains of the old hashes found */
    size_t n, cap;
    long long too_long; /* old hashes whose new keys would not fit */
} old_keys;

/* The domain of old key k into *dom (a copy, the caller's), or NULL when
 * k is not "lm:{acct:<domain>}" as qualification wrote it. -1 on OOM. */
static int domain_of(const redisReply *k, old_keys *o, char **dom) {
    size_t pn = strlen(OLD_PREFIX), sn = strlen(OLD_SUFFIX);
    *dom = NULL;
    if (k->type != REDIS_REPLY_STRING || k->len <= pn + sn ||
        strlen(k->str) != k->len || strncmp(k->str, OLD_PREFIX, pn) != 0 ||
        strcmp(k->str + k->len - sn, OLD_SUFFIX) != 0)
        return 0; /* not one qualification wrote */
    if (k->len + strlen(COUNT_SUFFIX) >= LM_KEY_MAX) {
        o->too_long++; /* its new keys would be cut: left as it is */
        return 0;
    }
    if (!(*dom = strndup(k->str + pn, k->len - pn - sn)))
        return -1;
    return 0;
}

static int collect(void *opaque, const redisReply *keys, char *err,
                   size_t errsz) {
    old_keys *o = opaque;
    for (size_t i = 0; i < keys->elements; i++) {
        char *dom;
        if (domain_of(keys->element[i], o, &dom) != 0)
            goto oom;
        if (!dom)
            continue;
        if (o->n == o->cap) {
            size_t cap = o->cap ? 2 * o->cap : 64;
            char **nk = realloc(o->keys, cap * sizeof(*nk));
            if (!nk) {
                free(dom);
                goto oom;
            }
            o->keys = nk;
            o->cap = cap;
        }
        o->keys[o->n++] = dom;
    }
    return 0;
oom:
    snprintf(err, errsz, "out of memory");
    return -1;
}

/* Appends the script moving the old hash of domain dom to p. 0 / -1. */
static int move_cmd(lm_pipe *p, const char *dom) {
    char old[LM_KEY_MAX], owner[LM_KEY_MAX], count[LM_KEY_MAX];
    lm_lead_account_old_key(dom, old);
    lm_lead_account_owner_key(dom, owner);
    lm_lead_account_count_key(dom, count);
    const char *argv[] = {"EVAL", move_script, "3", old, owner, count};
    return lm_pipe_cmd(p, 6, argv, NULL);
}

/* The hashes of domains [from, to) of o moved in one pipeline (on a
 * cluster each script goes to its key's master). 0 / -1. */
static int move_accounts(lm_redis *r, const old_keys *o, size_t from, size_t to,
                         qual_migrated *out, char *err, size_t errsz) {
    lm_pipe p;
    memset(&p, 0, sizeof(p));
    redisReply *rep[MIGRATE_PIPE_KEYS] = {0};
    size_t n = to - from;
    int rc = 0;
    for (size_t i = from; i < to && rc == 0; i++)
        rc = move_cmd(&p, o->keys[i]);
    if (rc != 0)
        snprintf(err, errsz, "out of memory");
    else if ((rc = lm_redis_exec(r, &p, rep, err, errsz)) == 0)
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = moved_of(rep[i], out, err, errsz);
    lm_redis_replies_free(rep, n);
    lm_pipe_free(&p);
    return rc == 0 ? 0 : -1;
}

int qual_migrate(lm_redis *r, qual_migrated *out, char *err, size_t errsz) {
    memset(out, 0, sizeof(*out));
    int done = 0;
    if (lm_redis_marker(r, QUAL_MIGRATE_SCANNED_KEY, 0, &done, err, errsz) != 0)
        return -1;
    if (done)
        return 0;
    old_keys o = {0};
    int rc = lm_redis_scan(r, OLD_PREFIX "*" OLD_SUFFIX, MIGRATE_SCAN_COUNT,
                           collect, &o, err, errsz);
    for (size_t i = 0; rc == 0 && i < o.n; i += MIGRATE_PIPE_KEYS)
        rc = move_accounts(
            r, &o, i, o.n - i < MIGRATE_PIPE_KEYS ? o.n : i + MIGRATE_PIPE_KEYS,
            out, err, errsz);
    out->skipped += o.too_long;
    if (rc == 0 && out->accounts == 0) /* nothing (movable) left */
        rc = lm_redis_marker(r, QUAL_MIGRATE_SCANNED_KEY, 1, &done, err, errsz);
    for (size_t i = 0; i < o.n; i++)
        free(o.keys[i]);
    free(o.keys);
    return rc;
}

/* ============================================================== the hook */

int qual_migrate_start(void *ctx, lm_redis *r, char *err, size_t errsz) {
    (void)ctx;
    qual_migrated m;
    if (qual_migrate(r, &m, err, errsz) != 0)
        return -1;
    if (!m.accounts && !m.skipped)
        return 0;
    json_t *f = json_pack("{sI sI}", "accounts", (json_int_t)m.accounts,
                          "skipped", (json_int_t)m.skipped);
    lm_log_with(m.skipped ? LM_LOG_WARN : LM_LOG_INFO, "accounts_migrated", f,
                "moved %zu account hashes to their owner and open_count "
                "keys (%zu owners written; docs/ROUTING.md); %lld were not "
                "(open not an integer, or the name too long) and stay as "
                "they are",
                m.accounts, m.owners, m.skipped);
    return 0;
}
