/* lm_redis_scan.c — walks over the whole keyspace (see lm_redis.h):
 * SCAN on every master in turn, and a migration's marker key that says a
 * walk found nothing left to move. Only the public lm_redis calls: a
 * second job beside lm_redis.c's connection and pipelines. */
#include "lm_redis.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* One SCAN step on master i: the reply (cursor, keys) checked, the next
 * cursor into cursor. 0, LM_REDIS_RETRY or -1 with err; *rep the caller's. */
static int scan_step(lm_redis *r, int i, lm_pipe *p, char *cursor,
                     size_t cursorsz, redisReply **rep, char *err,
                     size_t errsz) {
    int rc = lm_redis_exec_on_master(r, i, p, rep, err, errsz);
    if (rc != 0)
        return rc;
    const redisReply *x = *rep;
    if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
        x->element[0]->type != REDIS_REPLY_STRING ||
        x->element[0]->len >= cursorsz ||
        x->element[1]->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errsz, "redis SCAN: unexpected reply%s%s",
                 x->type == REDIS_REPLY_ERROR ? ": " : "",
                 x->type == REDIS_REPLY_ERROR ? x->str : "");
        return -1;
    }
    memcpy(cursor, x->element[0]->str, x->element[0]->len + 1);
    return 0;
}

/* One walk over every master, from each one's cursor 0. 0, RETRY or -1. */
static int scan_walk(lm_redis *r, lm_pipe *p, const char *pattern,
                     const char *cnt, lm_redis_keys_fn fn, void *opaque,
                     char *err, size_t errsz) {
    int n = lm_redis_masters(r, err, errsz);
    int rc = n > 0 ? 0 : n;
    for (int i = 0; rc == 0 && i < n; i++) {
        char cursor[32] = "0";
        do {
            redisReply *rep = NULL;
            lm_pipe_reset(p);
            if (lm_pipe_cmd_strs(p, "SCAN", cursor, "MATCH", pattern, "COUNT",
                                 cnt, NULL) != 0) {
                snprintf(err, errsz, "out of memory");
                return -1;
            }
            rc = scan_step(r, i, p, cursor, sizeof(cursor), &rep, err, errsz);
            if (rc == 0 && fn(opaque, rep->element[1], err, errsz) != 0)
                rc = -1;
            if (rep)
                lm_redis_replies_free(&rep, 1);
        } while (rc == 0 && strcmp(cursor, "0") != 0);
    }
    return rc;
}

int lm_redis_scan(lm_redis *r, const char *pattern, int count,
                  lm_redis_keys_fn fn, void *opaque, char *err, size_t errsz) {
    char cnt[16];
    snprintf(cnt, sizeof(cnt), "%d", count > 0 ? count : 100);
    lm_pipe p = {0};
    int rc;
    for (int retries = 0;; retries++) {
        rc = scan_walk(r, &p, pattern, cnt, fn, opaque, err, errsz);
        if (rc != LM_REDIS_RETRY || retries >= LM_REDIS_SCAN_RETRIES)
            break;
        struct timespec ts = {0, LM_REDIS_SCAN_RETRY_MS * 1000000L};
        nanosleep(&ts, NULL); /* then from the first master again */
    }
    lm_pipe_free(&p);
    return rc == 0 ? 0 : -1;
}

int lm_redis_marker(lm_redis *r, const char *key, int set, int *yes, char *err,
                    size_t errsz) {
    lm_pipe p;
    memset(&p, 0, sizeof(p));
    redisReply *rep = NULL;
    int rc = -1;
    if ((set ? lm_pipe_cmd_strs(&p, "SET", key, "1", NULL)
             : lm_pipe_cmd_strs(&p, "EXISTS", key, NULL)) != 0)
        snprintf(err, errsz, "out of memory");
    else if (lm_redis_exec(r, &p, &rep, err, errsz) == 0) {
        if (rep && rep->type == REDIS_REPLY_ERROR)
            snprintf(err, errsz, "%s: %s", key, rep->str ? rep->str : "error");
        else {
            *yes = set || (rep && rep->type == REDIS_REPLY_INTEGER &&
                           rep->integer > 0);
            rc = 0;
        }
    }
    lm_redis_replies_free(&rep, 1);
    lm_pipe_free(&p);
    return rc;
}
