/* lm_report_scan.c — reading the leads out of Redis for the report (see
 * lm_report.h): parsing one lead hash (HGETALL reply) into an
 * lm_lead_row, and walking every lead hash with SCAN + pipelined HGETALL.
 *
 * The field names of the lead hash come from common/domain/lm_lead.h, the
 * one place that defines the data model; only its macros are used here.
 * A row's strings point into the reply it was parsed from.
 * Single-threaded per call; no global mutable state. */
#include "lm_report.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_strmap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_FIELD_MAX 48
#define KEY_PATTERN    "lm:{*}:lead:*"
#define LEAD_ID_LEN    25 /* 16 hex, '-', 8 hex */
#define LEAD_ID_DASH   16
#define SEEN_HINT      LM_REPORT_SCAN_COUNT
/* The global holdout's field ("1": the lead is in it), written by the
 * timing worker; lm_lead.h names it once the worker writes it. */
#ifndef LM_F_HOLDOUT
#define LM_F_HOLDOUT "holdout"
#endif

/* ============================================================ parsing */

static int64_t parse_i64(const char *s) {
    int64_t v = 0;
    if (lm_parse_int64(s, INT64_MIN, INT64_MAX, &v) != 0)
        return 0;
    return v;
}

static int stage_index(const char *name, size_t len) {
    for (int i = 0; i < LM_REPORT_STAGES; i++)
        if (strlen(lm_report_stage_names[i]) == len &&
            memcmp(lm_report_stage_names[i], name, len) == 0)
            return i;
    return -1;
}

/* "wait_<stage>_ms" / "wait_<stage>_n"; a sum without a count is one
 * message's (stages that handle a lead once write no count) */
static void parse_wait(lm_lead_row *row, const char *f, const char *v) {
    size_t len = strlen(f);
    if (len < 7 || strncmp(f, "wait_", 5) != 0 || len > WAIT_FIELD_MAX)
        return;
    const char *name = f + 5;
    if (len > 8 && strcmp(f + len - 3, "_ms") == 0) {
        int i = stage_index(name, len - 8);
        if (i >= 0) {
            row->wait_ms[i] = parse_i64(v);
            if (row->wait_n[i] == 0)
                row->wait_n[i] = 1; /* a count field, if any, overrides */
        }
    } else if (strcmp(f + len - 2, "_n") == 0) {
        int i = stage_index(name, len - 7);
        if (i >= 0)
            row->wait_n[i] = parse_i64(v);
    }
}

static void parse_field(lm_lead_row *row, const char *f, const char *v) {
    static const struct {
        const char *name;
        size_t off;
    } nums[] = {
        {LM_F_SUBMITTED, offsetof(lm_lead_row, submitted_at)},
        {LM_F_ACCEPTED, offsetof(lm_lead_row, accepted_at)},
        {LM_F_DECIDED, offsetof(lm_lead_row, decided_at)},
        {LM_F_FIRST_ACTION, offsetof(lm_lead_row, first_action_at)},
        {LM_F_LAST_ACTION, offsetof(lm_lead_row, last_action_at)},
        {LM_F_NEXT_DUE, offsetof(lm_lead_row, next_due_at)},
        {LM_F_CLOSED, offsetof(lm_lead_row, closed_at)},
        {LM_F_RESPONDED, offsetof(lm_lead_row, responded_at)},
        {LM_F_FIRST_TOUCH, offsetof(lm_lead_row, first_touch_at)},
        {LM_F_FIRST_HUMAN, offsetof(lm_lead_row, first_human_at)},
        {LM_F_HUMAN_DUE, offsetof(lm_lead_row, human_due_at)},
        {LM_F_HANDOFF_DONE, offsetof(lm_lead_row, handoff_done_at)},
        {LM_F_TOUCHES, offsetof(lm_lead_row, touches)},
        {LM_F_COST, offsetof(lm_lead_row, cost_cents)},
        {LM_F_REVENUE, offsetof(lm_lead_row, revenue_cents)},
        {LM_F_MERGED, offsetof(lm_lead_row, merged)},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (strcmp(f, nums[i].name) == 0) {
            *(int64_t *)((char *)row + nums[i].off) = parse_i64(v);
            return;
        }
    if (strcmp(f, LM_F_STAGE) == 0)
        row->stage = v;
    else if (strcmp(f, LM_F_STATUS) == 0)
        row->status = v;
    else if (strcmp(f, LM_F_OUTCOME) == 0)
        row->outcome = v;
    else if (strcmp(f, LM_F_DECISION) == 0)
        row->decision = v;
    else if (strcmp(f, LM_F_OWNER) == 0)
        row->owner = v;
    else if (strcmp(f, LM_F_CADENCE) == 0)
        row->cadence = v;
    else if (strcmp(f, LM_F_STEP) == 0) {
        int64_t s = 0;
        row->step = lm_parse_int64(v, 0, INT32_MAX, &s) == 0 ? s : -1;
    } else if (strcmp(f, LM_F_ADAPTIVE) == 0)
        row->adaptive = strcmp(v, "1") == 0 ? 1 : strcmp(v, "0") == 0 ? 0 : -1;
    else if (strcmp(f, LM_F_HOLDOUT) == 0)
        row->holdout = strcmp(v, "1") == 0;
    else if (strcmp(f, LM_F_SCORE) == 0)
        row->has_score = lm_parse_double(v, 0.0, 1.0, &row->score) == 0;
    else
        parse_wait(row, f, v);
}

/* HGETALL answers an array (RESP2), or a map (RESP3, newer hiredis). */
static int is_hash_reply(const redisReply *r) {
#ifdef REDIS_REPLY_MAP
    if (r->type == REDIS_REPLY_MAP)
        return 1;
#endif
    return r->type == REDIS_REPLY_ARRAY;
}

int lm_lead_row_parse(const redisReply *reply, lm_lead_row *row) {
    memset(row, 0, sizeof(*row));
    row->step = -1;
    row->adaptive = -1;
    if (!reply || !is_hash_reply(reply) || reply->elements % 2 != 0)
        return -1;
    int has_accepted = 0;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *f = reply->element[i], *v = reply->element[i + 1];
        if (!f || !v || f->type != REDIS_REPLY_STRING ||
            v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(f->str, LM_F_LEAD) == 0)
            continue; /* binary protobuf */
        if (strcmp(f->str, LM_F_ACCEPTED) == 0)
            has_accepted = 1;
        parse_field(row, f->str, v->str);
    }
    return row->status || has_accepted ? 0 : -1;
}

/* ============================================================ Redis */

/* lm:{<16 hex>}:lead:<16 hex>-<8 hex> and nothing after: the lead id, or
 * NULL. */
static const char *lead_key_id(const char *key, size_t len) {
    static const char head[] = "lm:{";
    const size_t hl = sizeof(head) - 1, tag = 16;
    static const char mid[] = "}:lead:";
    const size_t ml = sizeof(mid) - 1;
    if (len != hl + tag + ml + LEAD_ID_LEN || memcmp(key, head, hl) != 0 ||
        memcmp(key + hl + tag, mid, ml) != 0)
        return NULL;
    const char *id = key + hl + tag + ml;
    if (memcmp(id, key + hl, tag) != 0)
        return NULL; /* the tag is the id's person part */
    for (size_t i = 0; i < LEAD_ID_LEN; i++) {
        char c = id[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (i == LEAD_ID_DASH ? c != '-' : !hex)
            return NULL;
    }
    return id;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* exec with retries on a lost connection. */
static int exec_retry(lm_redis *r, const lm_pipe *p, redisReply **replies,
                      char *err, size_t errsz) {
    for (int attempt = 0;; attempt++) {
        int rc = lm_redis_exec(r, p, replies, err, errsz);
        if (rc != LM_REDIS_RETRY)
            return rc;
        if (attempt >= LM_REPORT_RETRIES)
            return -1; /* err says why */
        sleep_ms(LM_REPORT_RETRY_SLEEP_MS);
    }
}

/* One walk over the lead hashes: the keys read so far and the buffers
 * each SCAN batch reuses. */
typedef struct scan_walk {
    lm_redis *r;
    lm_report_row_fn fn;
    void *opaque;
    lm_strmap *seen; /* every lead key read so far */
    lm_pipe get;     /* one batch's HGETALLs */
    redisReply **gr; /* their replies (gr_cap slots) */
    size_t gr_cap;
    const char **ids; /* the lead id of each HGETALL, into the SCAN reply */
} scan_walk;

/* Queues one HGETALL per lead key of a SCAN batch not read before. */
static int walk_queue(scan_walk *w, const redisReply *keys, char *err,
                      size_t errsz) {
    lm_pipe_reset(&w->get);
    const char **ids = realloc(w->ids, (keys->elements + 1) * sizeof(*ids));
    if (!ids)
        return lm_errf(err, errsz, "out of memory");
    w->ids = ids;
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        const char *id;
        int created = 0;
        if (k->type != REDIS_REPLY_STRING ||
            !(id = lead_key_id(k->str, k->len)))
            continue;
        if (!lm_strmap_put(w->seen, k->str, k->len, 0, &created))
            return lm_errf(err, errsz, "out of memory");
        if (!created)
            continue; /* SCAN may return a key twice: read it once */
        if (lm_pipe_cmd_strs(&w->get, "HGETALL", k->str, NULL) != 0)
            return lm_errf(err, errsz, "out of memory");
        ids[w->get.n - 1] = id;
    }
    return 0;
}

/* Reads the lead hashes of one SCAN batch's keys and hands each lead to
 * the callback. 0, or -1 (with err, or the callback said stop). */
static int walk_batch(scan_walk *w, const redisReply *keys, char *err,
                      size_t errsz) {
    if (walk_queue(w, keys, err, errsz) != 0)
        return -1;
    if (w->get.n == 0)
        return 0;
    if (w->get.n > w->gr_cap) {
        redisReply **gr = realloc(w->gr, w->get.n * sizeof(*gr));
        if (!gr)
            return lm_errf(err, errsz, "out of memory");
        w->gr = gr;
        w->gr_cap = w->get.n;
    }
    if (exec_retry(w->r, &w->get, w->gr, err, errsz) != 0)
        return -1;
    int stop = 0;
    for (size_t i = 0; i < w->get.n && !stop; i++) {
        lm_lead_row row;
        if (lm_lead_row_parse(w->gr[i], &row) != 0)
            continue; /* not a hash (WRONGTYPE), or not a lead */
        row.lead_id = w->ids[i];
        stop = w->fn(w->opaque, &row) != 0;
    }
    lm_redis_replies_free(w->gr, w->get.n);
    return stop ? -1 : 0;
}

/* lm_redis_keys_fn: one SCAN batch of one master. */
static int walk_keys(void *opaque, const redisReply *keys, char *err,
                     size_t errsz) {
    return walk_batch(opaque, keys, err, errsz);
}

int lm_report_scan(lm_redis *r, lm_report_row_fn fn, void *opaque, char *err,
                   size_t errsz) {
    scan_walk w = {.r = r, .fn = fn, .opaque = opaque};
    int rc = -1;
    if (!(w.seen = lm_strmap_new(SEEN_HINT)))
        lm_errf(err, errsz, "out of memory");
    else /* every master's keys (lm_redis.h); a key seen twice is read once */
        rc = lm_redis_scan(r, KEY_PATTERN, LM_REPORT_SCAN_COUNT, walk_keys, &w,
                           err, errsz);
    lm_pipe_free(&w.get);
    lm_strmap_free(w.seen);
    free(w.gr);
    free(w.ids);
    return rc;
}
