/* unassigned.c — the unassigned queues (unassigned.h). */
#include "unassigned.h"

#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_COUNT 200
#define PREFIX     "lm:{team:"
#define SUFFIX     "}:unassigned"

static int cmp_team(const void *a, const void *b) {
    return strcmp(((const lm_unassigned_team *)a)->team,
                  ((const lm_unassigned_team *)b)->team);
}

/* The team of a queue key, or -1 when the key is not one. */
static int team_of(const char *key, size_t len, char *team, size_t sz) {
    size_t pl = strlen(PREFIX), sl = strlen(SUFFIX);
    if (len <= pl + sl || memcmp(key, PREFIX, pl) != 0 ||
        memcmp(key + len - sl, SUFFIX, sl) != 0 || len - pl - sl >= sz)
        return -1;
    memcpy(team, key + pl, len - pl - sl);
    team[len - pl - sl] = '\0';
    return 0;
}

/* ZCARD and the oldest member of each queue found, one round trip. */
static int read_queues(lm_redis *r, lm_unassigned_team *t, size_t n, char *err,
                       size_t errsz) {
    lm_pipe p = {0};
    redisReply **rep = calloc(2 * n + 1, sizeof(*rep));
    int rc = -1;
    if (!rep)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char key[LM_KEY_MAX];
        lm_lead_team_queue_key(t[i].team, key);
        if (lm_pipe_cmd_strs(&p, "ZCARD", key, NULL) != 0 ||
            lm_pipe_cmd_strs(&p, "ZRANGE", key, "0", "0", "WITHSCORES", NULL) !=
                0)
            goto out;
    }
    if (lm_redis_exec(r, &p, rep, err, errsz) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const redisReply *c = rep[2 * i], *z = rep[2 * i + 1];
        t[i].count = c && c->type == REDIS_REPLY_INTEGER ? c->integer : 0;
        if (z && z->type == REDIS_REPLY_ARRAY && z->elements == 2) {
            Lastmile__V1__QualificationDecision *d =
                lastmile__v1__qualification_decision__unpack(
                    NULL, z->element[0]->len,
                    (const uint8_t *)z->element[0]->str);
            snprintf(t[i].oldest_lead, sizeof(t[i].oldest_lead), "%s",
                     d && d->lead_id ? d->lead_id : "?");
            if (d)
                lastmile__v1__qualification_decision__free_unpacked(d, NULL);
            t[i].oldest_ms = lm_reply_int(z->element[1], 0);
        }
    }
    lm_redis_replies_free(rep, p.n);
    rc = 0;
out:
    free(rep);
    lm_pipe_free(&p);
    return rc;
}

/* The queues found so far (lm_redis_keys_fn's opaque). */
typedef struct found {
    lm_unassigned_team *out;
    size_t cap, n;
} found;

/* lm_redis_keys_fn: the teams of one SCAN batch, each team once (a key
 * may come twice: SCAN's rule, and a cluster walk started again). */
static int found_keys(void *opaque, const redisReply *keys, char *err,
                      size_t errsz) {
    found *f = opaque;
    (void)err;
    (void)errsz;
    for (size_t i = 0; i < keys->elements && f->n < f->cap; i++) {
        const redisReply *k = keys->element[i];
        lm_unassigned_team *t = &f->out[f->n];
        memset(t, 0, sizeof(*t));
        if (k->type != REDIS_REPLY_STRING ||
            team_of(k->str, k->len, t->team, sizeof(t->team)) != 0)
            continue;
        size_t j = 0;
        while (j < f->n && strcmp(f->out[j].team, t->team) != 0)
            j++;
        f->n += j == f->n;
    }
    return 0;
}

int lm_unassigned_read(lm_redis *r, lm_unassigned_team *out, size_t cap,
                       char *err, size_t errsz) {
    found f = {.out = out, .cap = cap};
    /* every master of a cluster (lm_redis_scan); reads routed by key */
    if (lm_redis_scan(r, PREFIX "*" SUFFIX, SCAN_COUNT, found_keys, &f, err,
                      errsz) != 0)
        return -1;
    size_t n = f.n;
    if (n == 0)
        return 0;
    if (read_queues(r, out, n, err, errsz) != 0)
        return -1;
    size_t k = 0; /* a queue emptied meanwhile is not shown */
    for (size_t i = 0; i < n; i++)
        if (out[i].count > 0)
            out[k++] = out[i];
    qsort(out, k, sizeof(*out), cmp_team);
    return (int)k;
}

json_t *lm_unassigned_json(const lm_unassigned_team *t, size_t n,
                           int64_t now_ms) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        double age = (double)(now_ms - t[i].oldest_ms) / 1e3;
        json_array_append_new(
            a, json_pack("{s:s, s:I, s:s, s:f}", "team", t[i].team, "count",
                         (json_int_t)t[i].count, "oldest_lead",
                         t[i].oldest_lead, "oldest_age_s", age > 0 ? age : 0));
    }
    return a;
}
