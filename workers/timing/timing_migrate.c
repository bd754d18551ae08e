/* timing_migrate.c — the old learned and SLA counts moved to their spread
 * keys (timing_migrate.h). Sections: the script · the keys · the hook. */
#include "timing_migrate.h"

#include "lm_learn.h"
#include "lm_log.h"
#include "lm_sla.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_SCAN_COUNT 1000
#define MIGRATE_PIPE_KEYS  256 /* old keys moved per round trip */

/* ============================================================ the script */

/* KEYS[1] the old hash, KEYS[2..] its new keys: one (learned counts) or
 * LM_SLA_STATS_BUCKETS (lm_sla_stats_bucket, the same arithmetic: every
 * value stays below 2^31, exact in Lua's doubles). Field by field: added
 * to its new key, then deleted from the old one, so whatever stops the
 * script leaves each field in exactly one place. Returns {moved, skipped}
 * (skipped: not an integer, or the sum would overflow; left in place). */
static const char *const move_script =
    "local n = #KEYS - 1\n"
    "local moved, skipped = 0, 0\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "for j = 1, #h, 2 do\n"
    "  local f, v = h[j], h[j + 1]\n"
    "  local b = 0\n"
    "  if n > 1 then\n"
    "    local x = 0\n"
    "    for i = 1, #f do x = (x * 31 + string.byte(f, i)) % 65521 end\n"
    "    b = x % n\n"
    "  end\n"
    "  local ok = string.match(v, '^%-?%d+$') and\n"
    "             redis.pcall('HINCRBY', KEYS[2 + b], f, v)\n"
    "  if type(ok) == 'number' then\n"
    "    redis.call('HDEL', KEYS[1], f)\n"
    "    moved = moved + 1\n"
    "  else\n"
    "    skipped = skipped + 1\n"
    "  end\n"
    "end\n"
    "return {moved, skipped}\n";

/* {moved, skipped} of reply rep into *moved, *skipped. 0 / -1 (err). */
static int moved_of(const redisReply *rep, long long *moved, long long *skipped,
                    char *err, size_t errsz) {
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER) {
        *moved = rep->element[0]->integer;
        *skipped = rep->element[1]->integer;
        return 0;
    }
    snprintf(err, errsz, "moving an old key: %s",
             rep && rep->type == REDIS_REPLY_ERROR && rep->str
                 ? rep->str
                 : "unexpected reply");
    return -1;
}

/* ============================================================== the keys */

typedef struct old_keys {
    char **keys;
    size_t n, cap;
} old_keys;

static int collect(void *opaque, const redisReply *keys, char *err,
                   size_t errsz) {
    old_keys *o = opaque;
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if (k->type != REDIS_REPLY_STRING ||
            k->len >= LM_LEARN_KEY_MAX - sizeof(LM_LEARN_KEY_SUFFIX))
            continue; /* not one timing wrote */
        if (o->n == o->cap) {
            size_t cap = o->cap ? 2 * o->cap : 64;
            char **nk = realloc(o->keys, cap * sizeof(*nk));
            if (!nk)
                goto oom;
            o->keys = nk;
            o->cap = cap;
        }
        if (!(o->keys[o->n] = strdup(k->str)))
            goto oom;
        o->n++;
    }
    return 0;
oom:
    snprintf(err, errsz, "out of memory");
    return -1;
}

/* Keys [from, to) of o moved in one pipeline. 0 / -1. */
static int move_learn(lm_redis *r, const old_keys *o, size_t from, size_t to,
                      timing_migrated *out, char *err, size_t errsz) {
    lm_pipe p;
    memset(&p, 0, sizeof(p));
    redisReply *rep[MIGRATE_PIPE_KEYS] = {0};
    size_t n = to - from;
    for (size_t i = from; i < to; i++) {
        char nk[LM_LEARN_KEY_MAX];
        snprintf(nk, sizeof(nk), LM_LEARN_KEY_PREFIX "%s" LM_LEARN_KEY_SUFFIX,
                 o->keys[i] + strlen(LM_LEARN_OLD_KEY_PREFIX));
        const char *argv[] = {"EVAL", move_script, "2", o->keys[i], nk};
        lm_pipe_cmd(&p, 5, argv, NULL);
    }
    int rc = -1;
    if (p.n != n)
        snprintf(err, errsz, "out of memory");
    else if (lm_redis_exec(r, &p, rep, err, errsz) == 0) {
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            long long moved, skipped;
            rc = moved_of(rep[i], &moved, &skipped, err, errsz);
            if (rc == 0) {
                out->learn_keys += moved > 0;
                out->learn_fields += moved;
                out->skipped += skipped;
            }
        }
    }
    lm_redis_replies_free(rep, n);
    lm_pipe_free(&p);
    return rc;
}

static int move_sla(lm_redis *r, timing_migrated *out, char *err,
                    size_t errsz) {
    char keys[LM_SLA_STATS_BUCKETS][LM_KEY_MAX], nkeys[16];
    const char *argv[4 + LM_SLA_STATS_BUCKETS] = {"EVAL", move_script, nkeys,
                                                  LM_SLA_STATS_OLD_KEY};
    snprintf(nkeys, sizeof(nkeys), "%d", 1 + LM_SLA_STATS_BUCKETS);
    for (unsigned b = 0; b < LM_SLA_STATS_BUCKETS; b++) {
        lm_sla_stats_bucket_key(b, keys[b]);
        argv[4 + b] = keys[b];
    }
    lm_pipe p;
    memset(&p, 0, sizeof(p));
    redisReply *rep = NULL;
    long long moved = 0, skipped = 0;
    int rc = -1;
    if (lm_pipe_cmd(&p, 4 + LM_SLA_STATS_BUCKETS, argv, NULL) != 0)
        snprintf(err, errsz, "out of memory");
    else if (lm_redis_exec(r, &p, &rep, err, errsz) == 0 &&
             moved_of(rep, &moved, &skipped, err, errsz) == 0) {
        out->sla_key = moved > 0;
        out->sla_fields = moved;
        out->skipped += skipped;
        rc = 0;
    }
    lm_redis_replies_free(&rep, 1);
    lm_pipe_free(&p);
    return rc;
}

/* The old learned hashes, unless a start found none to move before. */
static int migrate_learn(lm_redis *r, timing_migrated *out, char *err,
                         size_t errsz) {
    int done = 0;
    if (lm_redis_marker(r, TIMING_MIGRATE_SCANNED_KEY, 0, &done, err, errsz) !=
        0)
        return -1;
    if (done)
        return 0;
    old_keys o = {0};
    int rc = lm_redis_scan(r, LM_LEARN_OLD_KEY_PREFIX "*", MIGRATE_SCAN_COUNT,
                           collect, &o, err, errsz);
    for (size_t i = 0; rc == 0 && i < o.n; i += MIGRATE_PIPE_KEYS)
        rc = move_learn(
            r, &o, i, o.n - i < MIGRATE_PIPE_KEYS ? o.n : i + MIGRATE_PIPE_KEYS,
            out, err, errsz);
    if (rc == 0 && out->learn_fields == 0) /* nothing (movable) left */
        rc = lm_redis_marker(r, TIMING_MIGRATE_SCANNED_KEY, 1, &done, err,
                             errsz);
    for (size_t i = 0; i < o.n; i++)
        free(o.keys[i]);
    free(o.keys);
    return rc;
}

int timing_migrate(lm_redis *r, timing_migrated *out, char *err, size_t errsz) {
    memset(out, 0, sizeof(*out));
    if (lm_redis_is_cluster(r))
        return 0; /* old keys were only ever on a single Redis */
    if (migrate_learn(r, out, err, errsz) != 0)
        return -1;
    return move_sla(r, out, err, errsz);
}

/* ============================================================== the hook */

int timing_migrate_start(void *ctx, lm_redis *r, char *err, size_t errsz) {
    (void)ctx;
    timing_migrated m;
    if (timing_migrate(r, &m, err, errsz) != 0)
        return -1;
    if (!m.learn_keys && !m.sla_key && !m.skipped)
        return 0;
    json_t *f =
        json_pack("{sI sI sI sI sI}", "learn_keys", (json_int_t)m.learn_keys,
                  "learn_fields", (json_int_t)m.learn_fields, "sla_key",
                  (json_int_t)m.sla_key, "sla_fields", (json_int_t)m.sla_fields,
                  "skipped", (json_int_t)m.skipped);
    lm_log_with(m.skipped ? LM_LOG_WARN : LM_LOG_INFO, "keys_migrated", f,
                "moved %zu learned-count hashes (%lld fields) and %lld SLA "
                "counts to the spread layout (docs/SCALE-OUT.md); %lld "
                "fields were not integers and stay in the old keys",
                m.learn_keys, m.learn_fields, m.sla_fields, m.skipped);
    return 0;
}
