/* lm_report.c — the business report (see lm_report.h, docs/REPORT.md).
 *
 * Banner sections: a small string map (seen keys, owners), parsing a lead
 * hash, reading Redis and Kafka, the accumulator and its math, JSON, text.
 *
 * The field names of the lead hash come from common/domain/lm_lead.h, the
 * one place that defines the data model; only its macros are used here, so
 * lm_common does not link against lm_workers.
 *
 * Invariants: an accumulator only grows (counters, value vectors, owner
 * map); lm_report_finish sorts the vectors in place, which changes no
 * figure. Single-threaded; no global mutable state. */
#include "lm_report.h"

#include "lm_lead.h"
#include "lm_hash.h"
#include "lm_kafka.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAP_MIN_CAP    64
#define VEC_MIN_CAP    256
#define WAIT_FIELD_MAX 48
#define KEY_PATTERN    "lm:{*}:lead:*"
#define UNASSIGNED     "(unassigned)"
#define BAR_WIDTH      30
#define LEAD_ID_LEN    25 /* 16 hex, '-', 8 hex */
#define LEAD_ID_DASH   16
#define READ_POLL_MS   100
#define HASH_SEED_MAP  0x6d6170ULL /* "map" */
#define MS_PER_S       1000.0

const char *const lm_report_stage_names[LM_REPORT_STAGES] = {
    "intake", "qualification", "followup", "timing"};

int lm_report_waiting_stage(const lm_lead_row *row, int64_t now_ms,
                            int64_t *since) {
    if (!row->status || strcmp(row->status, "open") != 0 || !row->stage)
        return -1;
    if (strcmp(row->stage, "qualification") == 0) {
        *since = row->accepted_at ? row->accepted_at : row->submitted_at;
        return *since > 0 ? LM_REPORT_STAGE_QUALIFICATION : -1;
    }
    if (strcmp(row->stage, "followup") == 0) {
        /* back here from timing (a touch's window closed): since it was
           due; straight from qualification: since the decision */
        *since = row->step >= 0 && row->next_due_at > 0 ? row->next_due_at
                 : row->decided_at                      ? row->decided_at
                                                        : row->accepted_at;
        return *since > 0 ? LM_REPORT_STAGE_FOLLOWUP : -1;
    }
    if (strcmp(row->stage, "waiting") == 0 && row->next_due_at > 0 &&
        now_ms > row->next_due_at) {
        *since = row->next_due_at;
        return LM_REPORT_STAGE_TIMING;
    }
    return -1;
}

int lm_report_count_invalid(void *opaque, const rd_kafka_message_t *rkm) {
    int64_t *n = opaque;
    Lastmile__V1__DeadLetter *d =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    if (!d)
        return 0;
    if (d->worker && strcmp(d->worker, "intake") == 0)
        (*n)++;
    lastmile__v1__dead_letter__free_unpacked(d, NULL);
    return 0;
}

/* ============================================================ string map */

/* Open addressing, linear probing; keys are owned copies. */
typedef struct strmap {
    char **keys;
    int64_t *vals;
    size_t cap, n;
} strmap;

static void strmap_free(strmap *m) {
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static int strmap_grow(strmap *m) {
    size_t cap = m->cap ? m->cap * 2 : MAP_MIN_CAP;
    char **keys = calloc(cap, sizeof(*keys));
    int64_t *vals = calloc(cap, sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = lm_hash64_str(m->keys[i], HASH_SEED_MAP) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

/* The value slot of key, created (value 0) when absent; *created says
 * which. NULL on allocation failure. */
static int64_t *strmap_slot(strmap *m, const char *key, int *created) {
    if ((m->n + 1) * 10 > m->cap * 7 && strmap_grow(m) != 0)
        return NULL;
    size_t j = lm_hash64_str(key, HASH_SEED_MAP) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) {
            if (created)
                *created = 0;
            return &m->vals[j];
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = strdup(key);
    if (!m->keys[j])
        return NULL;
    m->n++;
    if (created)
        *created = 1;
    return &m->vals[j];
}

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

int lm_report_scan(lm_redis *r, lm_report_row_fn fn, void *opaque, char *err,
                   size_t errsz) {
    char cursor[32] = "0", count[16];
    snprintf(count, sizeof(count), "%d", LM_REPORT_SCAN_COUNT);
    lm_pipe scan = {0}, get = {0};
    strmap seen = {0};
    redisReply *sr = NULL, **gr = NULL;
    size_t gr_cap = 0;
    const char **ids = NULL;
    int rc = -1;
    do {
        lm_pipe_reset(&scan);
        if (lm_pipe_cmd_strs(&scan, "SCAN", cursor, "MATCH", KEY_PATTERN,
                             "COUNT", count, NULL) != 0) {
            snprintf(err, errsz, "out of memory");
            goto done;
        }
        if (exec_retry(r, &scan, &sr, err, errsz) != 0)
            goto done;
        if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
            sr->element[0]->type != REDIS_REPLY_STRING ||
            sr->element[0]->len >= sizeof(cursor) ||
            sr->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errsz, "Redis SCAN: unexpected reply%s%s",
                     sr->type == REDIS_REPLY_ERROR ? ": " : "",
                     sr->type == REDIS_REPLY_ERROR ? sr->str : "");
            goto done;
        }
        memcpy(cursor, sr->element[0]->str, sr->element[0]->len + 1);
        const redisReply *keys = sr->element[1];
        lm_pipe_reset(&get);
        const char **nids = realloc(ids, (keys->elements + 1) * sizeof(*ids));
        if (!nids) {
            snprintf(err, errsz, "out of memory");
            goto done;
        }
        ids = nids;
        for (size_t i = 0; i < keys->elements; i++) {
            const redisReply *k = keys->element[i];
            const char *id;
            int created = 0;
            if (k->type != REDIS_REPLY_STRING ||
                !(id = lead_key_id(k->str, k->len)))
                continue;
            if (!strmap_slot(&seen, k->str, &created)) {
                snprintf(err, errsz, "out of memory");
                goto done;
            }
            if (!created)
                continue; /* SCAN may return a key twice: read it once */
            if (lm_pipe_cmd_strs(&get, "HGETALL", k->str, NULL) != 0) {
                snprintf(err, errsz, "out of memory");
                goto done;
            }
            ids[get.n - 1] = id;
        }
        if (get.n > 0) {
            if (get.n > gr_cap) {
                redisReply **ngr = realloc(gr, get.n * sizeof(*gr));
                if (!ngr) {
                    snprintf(err, errsz, "out of memory");
                    goto done;
                }
                gr = ngr;
                gr_cap = get.n;
            }
            if (exec_retry(r, &get, gr, err, errsz) != 0)
                goto done;
            int stop = 0;
            for (size_t i = 0; i < get.n && !stop; i++) {
                lm_lead_row row;
                if (lm_lead_row_parse(gr[i], &row) != 0)
                    continue; /* not a hash (WRONGTYPE), or not a lead */
                row.lead_id = ids[i];
                stop = fn(opaque, &row) != 0;
            }
            lm_redis_replies_free(gr, get.n);
            if (stop) {
                lm_redis_replies_free(&sr, 1);
                goto done;
            }
        }
        lm_redis_replies_free(&sr, 1);
    } while (strcmp(cursor, "0") != 0);
    rc = 0;
done:
    lm_redis_replies_free(&sr, sr ? 1 : 0);
    lm_pipe_free(&scan);
    lm_pipe_free(&get);
    strmap_free(&seen);
    free(gr);
    free(ids);
    return rc;
}

/* ============================================================ Kafka */

int64_t lm_report_read_topic(const lm_settings *s, const char *suffix,
                             int timeout_ms, lm_report_msg_fn fn, void *opaque,
                             char *err, size_t errsz) {
    char topic[LM_TOPIC_MAX], why[512];
    lm_topic_name(s, suffix, topic, sizeof(topic));
    rd_kafka_conf_t *conf = lm_kafka_conf(s, LM_KAFKA_READER, NULL, err, errsz);
    if (!conf)
        return -1;
    int log_level_set = 0;
    for (int i = 0; i < s->n_kafka; i++)
        log_level_set |= strcmp(s->kafka[i].name, "log_level") == 0;
    if (!log_level_set) /* a one-shot reader: errors only, unless told */
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsz, "Kafka client: %s", why);
        return -1;
    }
    int64_t n = -1, *high = NULL;
    int *done = NULL, n_parts = 0, remaining = 0;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e =
        rkt ? rd_kafka_metadata(rk, 0, rkt, &md, LM_REPORT_KAFKA_TIMEOUT_MS)
            : rd_kafka_last_error();
    if (e) {
        snprintf(err, errsz,
                 "cannot read the metadata of %s from LASTMILE_BROKERS "
                 "(%s): %s; is the broker up?",
                 topic, s->brokers ? s->brokers : "", rd_kafka_err2str(e));
        goto done;
    }
    if (md->topic_cnt < 1 ||
        md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        n = 0; /* no such topic: nothing was ever written to it */
        goto done;
    }
    if (md->topics[0].err) {
        snprintf(err, errsz, "topic %s: %s", topic,
                 rd_kafka_err2str(md->topics[0].err));
        goto done;
    }
    n_parts = md->topics[0].partition_cnt;
    high = calloc((size_t)n_parts + 1, sizeof(*high));
    done = calloc((size_t)n_parts + 1, sizeof(*done));
    parts = rd_kafka_topic_partition_list_new(n_parts > 0 ? n_parts : 1);
    if (!high || !done || !parts) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_parts; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo = 0, hi = 0;
        if (p < 0 || p >= n_parts) {
            snprintf(err, errsz, "topic %s: partition id %d out of range",
                     topic, (int)p);
            goto done;
        }
        e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi,
                                             LM_REPORT_KAFKA_TIMEOUT_MS);
        if (e) {
            snprintf(err, errsz, "topic %s [%d]: watermarks: %s", topic, (int)p,
                     rd_kafka_err2str(e));
            goto done;
        }
        high[p] = hi;
        done[p] = hi <= lo;
        if (!done[p]) {
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = lo;
            remaining++;
        }
    }
    n = 0;
    if (remaining == 0)
        goto done;
    if ((e = rd_kafka_assign(rk, parts)) != 0) {
        snprintf(err, errsz, "topic %s: assign: %s", topic,
                 rd_kafka_err2str(e));
        n = -1;
        goto done;
    }
    int64_t limit = timeout_ms > 0 ? timeout_ms : LM_REPORT_READ_TIMEOUT_MS;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (remaining > 0) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t spent = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
                        (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent > limit) {
            snprintf(err, errsz,
                     "topic %s: not read to its end within %lld ms (%d of "
                     "%d partitions left); is the broker up?",
                     topic, (long long)limit, remaining, n_parts);
            n = -1;
            goto done;
        }
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, READ_POLL_MS);
        if (!rkm)
            continue;
        int32_t p = rkm->partition;
        int in_range = p >= 0 && p < n_parts && !done[p];
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* the end as the reader sees it (read_committed may stop short
               of the high watermark at an open transaction) */
            if (in_range) {
                done[p] = 1;
                remaining--;
            }
        } else if (rkm->err) {
            if (rd_kafka_fatal_error(rk, why, sizeof(why))) {
                snprintf(err, errsz, "topic %s: %s", topic, why);
                rd_kafka_message_destroy(rkm);
                n = -1;
                goto done;
            } /* else transient: librdkafka retries */
        } else if (in_range && rkm->offset < high[p]) {
            n++;
            int stop = fn(opaque, rkm) != 0;
            if (rkm->offset + 1 >= high[p]) {
                done[p] = 1;
                remaining--;
            }
            if (stop) {
                snprintf(err, errsz, "topic %s: reading stopped", topic);
                rd_kafka_message_destroy(rkm);
                n = -1;
                goto done;
            }
        }
        rd_kafka_message_destroy(rkm);
    }
done:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(high);
    free(done);
    return n;
}

/* ============================================================ accumulator */

typedef struct dvec {
    double *v;
    size_t n, cap;
} dvec;

enum { ARM_FIXED = 0, ARM_ADAPTIVE = 1 };

struct lm_report_acc {
    lm_report_opts o;
    int oom;
    lm_report c; /* the counters; distributions and owners filled at finish */
    dvec speed, cycle, dead[LM_REPORT_STAGES];
    int64_t arm_n[2], arm_x[2];
    strmap owners;
};

static void dvec_push(lm_report_acc *acc, dvec *d, double x) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : VEC_MIN_CAP;
        double *v = realloc(d->v, cap * sizeof(*v));
        if (!v) {
            acc->oom = 1;
            return;
        }
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = x;
}

lm_report_acc *lm_report_acc_new(const lm_report_opts *o) {
    lm_report_acc *acc = calloc(1, sizeof(*acc));
    if (acc && o)
        acc->o = *o;
    return acc;
}

void lm_report_acc_free(lm_report_acc *acc) {
    if (!acc)
        return;
    free(acc->speed.v);
    free(acc->cycle.v);
    for (int i = 0; i < LM_REPORT_STAGES; i++)
        free(acc->dead[i].v);
    strmap_free(&acc->owners);
    free(acc);
}

static int is(const char *s, const char *a) {
    return s && strcmp(s, a) == 0;
}

/* Outcome names as the workers write them ("DISQUALIFIED" from
 * qualification, OutcomeStatus names from timing); the short forms of the
 * others are accepted too. */
static int is_outcome(const char *s, const char *full, const char *shrt) {
    return is(s, full) || is(s, shrt);
}

void lm_report_add_lead(lm_report_acc *acc, const lm_lead_row *row) {
    lm_report *c = &acc->c;
    c->accepted++;
    if (row->merged > 0)
        c->merged += row->merged;
    if (is(row->decision, "QUALIFIED"))
        c->qualified++;
    else if (is(row->decision, "NURTURE"))
        c->nurture++;
    else if (is(row->decision, "DISQUALIFIED"))
        c->disqualified++;
    else
        c->undecided++;
    if (row->touches > 0)
        c->touched++;

    int closed = is(row->status, "closed");
    int success = 0;
    if (closed) {
        c->closed++;
        if (is(row->outcome, "RESPONDED")) {
            c->responded++;
            success = 1;
        } else if (is_outcome(row->outcome, "CONVERTED_OUTCOME", "CONVERTED")) {
            c->converted++;
            success = 1;
        } else if (is_outcome(row->outcome, "UNSUBSCRIBED_OUTCOME",
                              "UNSUBSCRIBED"))
            c->unsubscribed++;
        else if (is_outcome(row->outcome, "BOUNCED_OUTCOME", "BOUNCED"))
            c->bounced++;
        else if (is(row->outcome, "NO_RESPONSE"))
            c->no_response++;
        if (row->closed_at > 0 && row->submitted_at > 0) {
            int64_t d = row->closed_at - row->submitted_at;
            dvec_push(acc, &acc->cycle, (double)(d > 0 ? d : 0) / MS_PER_S);
        }
    } else {
        c->open++;
        char name[LM_REPORT_OWNER_MAX];
        snprintf(name, sizeof(name), "%s",
                 row->owner && *row->owner ? row->owner : UNASSIGNED);
        int64_t *v = strmap_slot(&acc->owners, name, NULL);
        if (v)
            (*v)++;
        else
            acc->oom = 1;
    }
    if (row->first_action_at > 0 && row->submitted_at > 0) {
        int64_t d = row->first_action_at - row->submitted_at;
        dvec_push(acc, &acc->speed, (double)(d > 0 ? d : 0) / MS_PER_S);
    }
    for (int i = 0; i < LM_REPORT_STAGES; i++)
        if (row->wait_n[i] > 0)
            dvec_push(acc, &acc->dead[i],
                      (double)(row->wait_ms[i] > 0 ? row->wait_ms[i] : 0) /
                          (double)row->wait_n[i]);
    c->cost_cents += row->cost_cents;
    c->revenue_cents += row->revenue_cents;
    /* The arms differ only in when touches after the first happen (the
     * first touch is scheduled the same way on both), so the comparison is
     * over leads that reached a second touch: the ones whose timing the
     * arm chose. */
    if (row->touches >= 2 && (row->adaptive == 0 || row->adaptive == 1)) {
        int arm = row->adaptive ? ARM_ADAPTIVE : ARM_FIXED;
        acc->arm_n[arm]++;
        if (success)
            acc->arm_x[arm]++;
    }
}

/* ============================================================ math */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double lm_report_percentile(const double *sorted, size_t n, int p) {
    if (n == 0 || p <= 0 || p > 100)
        return NAN;
    size_t rank = ((size_t)p * n + 99) / 100; /* ceil(p * n / 100) */
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static lm_report_dist dist_of(dvec *d) {
    lm_report_dist r = {
        .n = d->n, .mean = NAN, .p50 = NAN, .p90 = NAN, .p99 = NAN};
    if (d->n == 0)
        return r;
    qsort(d->v, d->n, sizeof(*d->v), cmp_double);
    double sum = 0;
    for (size_t i = 0; i < d->n; i++)
        sum += d->v[i];
    r.mean = sum / (double)d->n;
    r.p50 = lm_report_percentile(d->v, d->n, 50);
    r.p90 = lm_report_percentile(d->v, d->n, 90);
    r.p99 = lm_report_percentile(d->v, d->n, 99);
    return r;
}

void lm_report_wilson(int64_t x, int64_t n, double *lo, double *hi) {
    if (n <= 0 || x < 0 || x > n) {
        *lo = *hi = NAN;
        return;
    }
    const double z = LM_REPORT_Z95, z2 = z * z, nn = (double)n;
    double p = (double)x / nn;
    double denom = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = z / denom * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    *lo = centre - half < 0 ? 0 : centre - half;
    *hi = centre + half > 1 ? 1 : centre + half;
}

void lm_report_lift(int64_t xa, int64_t na, int64_t xb, int64_t nb,
                    double *lift, double *lo, double *hi) {
    *lift = *lo = *hi = NAN;
    if (na <= 0 || nb <= 0 || xb <= 0 || xa < 0)
        return;
    double ra = (double)xa / (double)na, rb = (double)xb / (double)nb;
    *lift = ra / rb - 1;
    if (xa == 0)
        return;
    double se = sqrt(1.0 / (double)xa - 1.0 / (double)na + 1.0 / (double)xb -
                     1.0 / (double)nb);
    double l = log(ra / rb);
    *lo = exp(l - LM_REPORT_Z95 * se) - 1;
    *hi = exp(l + LM_REPORT_Z95 * se) - 1;
}

static void arm_of(int64_t x, int64_t n, lm_report_arm *a) {
    a->touched = n;
    a->responded = x;
    a->rate = n > 0 ? (double)x / (double)n : NAN;
    lm_report_wilson(x, n, &a->lo, &a->hi);
}

static int cmp_owner(const void *a, const void *b) {
    const lm_report_owner *x = a, *y = b;
    if (x->open != y->open)
        return x->open > y->open ? -1 : 1;
    return strcmp(x->name, y->name);
}

static double ratio(int64_t num, int64_t den) {
    return den > 0 ? (double)num / (double)den : NAN;
}

int lm_report_finish(lm_report_acc *acc, lm_report *out) {
    memset(out, 0, sizeof(*out));
    if (acc->oom)
        return -1;
    *out = acc->c;
    out->owners = NULL;
    out->n_owners = 0;
    out->now_ms = acc->o.now_ms;
    out->invalid = acc->o.invalid > 0 ? acc->o.invalid : 0;
    out->submitted = out->accepted + out->merged + out->invalid;
    out->speed_to_lead_s = dist_of(&acc->speed);
    out->cycle_time_s = dist_of(&acc->cycle);
    for (int i = 0; i < LM_REPORT_STAGES; i++)
        out->dead_ms[i] = dist_of(&acc->dead[i]);
    out->cost_per_outcome_cents = ratio(out->cost_cents, out->closed);
    out->cost_per_conversion_cents = ratio(out->cost_cents, out->converted);
    out->revenue_per_lead_cents = ratio(out->revenue_cents, out->accepted);
    arm_of(acc->arm_x[ARM_ADAPTIVE], acc->arm_n[ARM_ADAPTIVE], &out->adaptive);
    arm_of(acc->arm_x[ARM_FIXED], acc->arm_n[ARM_FIXED], &out->fixed);
    lm_report_lift(acc->arm_x[ARM_ADAPTIVE], acc->arm_n[ARM_ADAPTIVE],
                   acc->arm_x[ARM_FIXED], acc->arm_n[ARM_FIXED], &out->lift,
                   &out->lift_lo, &out->lift_hi);
    const strmap *m = &acc->owners;
    if (m->n > 0) {
        out->owners = calloc(m->n, sizeof(*out->owners));
        if (!out->owners)
            goto oom;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            lm_report_owner *o = &out->owners[out->n_owners++];
            o->open = m->vals[i];
            if (!(o->name = strdup(m->keys[i])))
                goto oom;
        }
        qsort(out->owners, out->n_owners, sizeof(*out->owners), cmp_owner);
    }
    return 0;
oom:
    lm_report_free(out);
    return -1;
}

void lm_report_free(lm_report *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n_owners; i++)
        free(r->owners[i].name);
    free(r->owners);
    r->owners = NULL;
    r->n_owners = 0;
}

static int collect_row(void *opaque, const lm_lead_row *row) {
    lm_report_add_lead(opaque, row);
    return 0;
}

int lm_report_collect(lm_redis *r, const lm_report_opts *o, lm_report *out,
                      char *err, size_t errsz) {
    memset(out, 0, sizeof(*out));
    lm_report_acc *acc = lm_report_acc_new(o);
    if (!acc) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    int rc = lm_report_scan(r, collect_row, acc, err, errsz);
    if (rc == 0 && (rc = lm_report_finish(acc, out)) != 0)
        snprintf(err, errsz, "out of memory");
    lm_report_acc_free(acc);
    return rc;
}

/* ============================================================ JSON */

static json_t *jnum(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *jdist(const lm_report_dist *d, int with_p99) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)d->n));
    json_object_set_new(o, "mean", jnum(d->mean));
    json_object_set_new(o, "p50", jnum(d->p50));
    json_object_set_new(o, "p90", jnum(d->p90));
    if (with_p99)
        json_object_set_new(o, "p99", jnum(d->p99));
    return o;
}

static json_t *jinterval(double lo, double hi) {
    return json_pack("[o, o]", jnum(lo), jnum(hi));
}

static json_t *jarm(const lm_report_arm *a) {
    return json_pack("{s:I, s:I, s:o, s:o}", "touched", (json_int_t)a->touched,
                     "responded", (json_int_t)a->responded, "rate",
                     jnum(a->rate), "ci95", jinterval(a->lo, a->hi));
}

int lm_report_json(const lm_report *r, json_t **out) {
    *out = NULL;
    json_t *root = json_object();
    if (!root)
        return -1;
    json_t *funnel = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:I}",
        "submitted", (json_int_t)r->submitted, "invalid",
        (json_int_t)r->invalid, "merged", (json_int_t)r->merged, "accepted",
        (json_int_t)r->accepted, "qualified", (json_int_t)r->qualified,
        "nurture", (json_int_t)r->nurture, "disqualified",
        (json_int_t)r->disqualified, "undecided", (json_int_t)r->undecided,
        "touched", (json_int_t)r->touched, "responded",
        (json_int_t)r->responded, "converted", (json_int_t)r->converted,
        "unsubscribed", (json_int_t)r->unsubscribed, "bounced",
        (json_int_t)r->bounced, "no_response", (json_int_t)r->no_response,
        "closed", (json_int_t)r->closed, "open", (json_int_t)r->open);
    json_t *dead = json_object();
    for (int i = 0; i < LM_REPORT_STAGES; i++)
        json_object_set_new(dead, lm_report_stage_names[i],
                            jdist(&r->dead_ms[i], 0));
    json_t *cost =
        json_pack("{s:I, s:o, s:o}", "total_cents", (json_int_t)r->cost_cents,
                  "per_outcome_cents", jnum(r->cost_per_outcome_cents),
                  "per_conversion_cents", jnum(r->cost_per_conversion_cents));
    json_t *revenue =
        json_pack("{s:I, s:o}", "total_cents", (json_int_t)r->revenue_cents,
                  "per_accepted_lead_cents", jnum(r->revenue_per_lead_cents));
    json_t *lift = json_pack(
        "{s:o, s:o, s:s}", "value", jnum(r->lift), "ci95",
        jinterval(r->lift_lo, r->lift_hi), "method",
        "delta method on the log of the rate ratio, 95% normal interval");
    json_t *arms = json_pack("{s:s, s:o, s:o, s:o, s:s}", "population",
                             "leads that reached a second touch", "adaptive",
                             jarm(&r->adaptive), "fixed", jarm(&r->fixed),
                             "lift", lift, "interval", "Wilson score, 95%");
    json_t *owners = json_array();
    for (size_t i = 0; owners && i < r->n_owners; i++)
        json_array_append_new(owners, json_pack("{s:s, s:I}", "owner",
                                                r->owners[i].name, "open",
                                                (json_int_t)r->owners[i].open));
    if (!funnel || !dead || !cost || !revenue || !lift || !arms || !owners) {
        json_decref(funnel);
        json_decref(dead);
        json_decref(cost);
        json_decref(revenue);
        json_decref(arms);
        json_decref(owners);
        json_decref(root);
        return -1;
    }
    json_object_set_new(root, "now_ms", json_integer((json_int_t)r->now_ms));
    json_object_set_new(root, "funnel", funnel);
    json_object_set_new(root, "speed_to_lead_s", jdist(&r->speed_to_lead_s, 1));
    json_object_set_new(root, "cycle_time_s", jdist(&r->cycle_time_s, 0));
    json_object_set_new(root, "dead_time_ms", dead);
    json_object_set_new(root, "cost", cost);
    json_object_set_new(root, "revenue", revenue);
    json_object_set_new(root, "timing_arms", arms);
    json_object_set_new(root, "open_by_owner", owners);
    *out = root;
    return 0;
}

/* ============================================================ text */

#define PRINT_OWNERS_MAX 20
#define FMT_MAX          48

/* A duration in seconds, in the two largest units: "4m 12s", "3h 05m". */
static const char *fmt_dur(double s, char *buf, size_t sz) {
    if (!isfinite(s)) {
        snprintf(buf, sz, "n/a");
        return buf;
    }
    if (s < 60) {
        snprintf(buf, sz, s < 10 ? "%.2fs" : "%.1fs", s);
        return buf;
    }
    long long t = llround(s);
    if (t < 3600)
        snprintf(buf, sz, "%lldm %02llds", t / 60, t % 60);
    else if (t < 86400)
        snprintf(buf, sz, "%lldh %02lldm", t / 3600, t % 3600 / 60);
    else
        snprintf(buf, sz, "%lldd %02lldh", t / 86400, t % 86400 / 3600);
    return buf;
}

static const char *fmt_ms(double ms, char *buf, size_t sz) {
    if (isfinite(ms) && ms < 1000) {
        snprintf(buf, sz, "%.0f ms", ms);
        return buf;
    }
    return fmt_dur(ms / MS_PER_S, buf, sz);
}

/* Cents as units with thousands separators: 123456 -> "1,234.56". */
static const char *fmt_money(double cents, char *buf, size_t sz) {
    if (!isfinite(cents)) {
        snprintf(buf, sz, "n/a");
        return buf;
    }
    long long c = llround(cents);
    int neg = c < 0;
    unsigned long long u =
        neg ? (unsigned long long)(-(c + 1)) + 1 : (unsigned long long)c;
    char digits[32], grouped[32]; /* 2^64 / 100: 18 digits, 5 commas */
    snprintf(digits, sizeof(digits), "%llu", u / 100);
    size_t nd = strlen(digits), j = 0;
    for (size_t i = 0; i < nd && j + 2 < sizeof(grouped); i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            grouped[j++] = ',';
        grouped[j++] = digits[i];
    }
    grouped[j] = '\0';
    snprintf(buf, sz, "%s%s.%02llu", neg ? "-" : "", grouped, u % 100);
    return buf;
}

static const char *fmt_pct(double x, char *buf, size_t sz) {
    if (!isfinite(x))
        snprintf(buf, sz, "n/a");
    else
        snprintf(buf, sz, "%.1f%%", 100 * x);
    return buf;
}

static const char *fmt_signed_pct(double x, char *buf, size_t sz) {
    if (!isfinite(x))
        snprintf(buf, sz, "n/a");
    else
        snprintf(buf, sz, "%+.1f%%", 100 * x);
    return buf;
}

typedef struct funnel_line {
    const char *label;
    int64_t value;
    int64_t base; /* percentage of; 0 = none */
} funnel_line;

static void print_funnel(const lm_report *r, FILE *f, int tty) {
    const funnel_line lines[] = {
        {"submitted", r->submitted, r->submitted},
        {"  invalid (dead-lettered)", r->invalid, r->submitted},
        {"  merged duplicates", r->merged, r->submitted},
        {"  accepted leads", r->accepted, r->submitted},
        {"    qualified", r->qualified, r->accepted},
        {"    nurture", r->nurture, r->accepted},
        {"    disqualified", r->disqualified, r->accepted},
        {"    not yet decided", r->undecided, r->accepted},
        {"  touched (>= 1 action)", r->touched, r->accepted},
        {"    responded", r->responded, r->accepted},
        {"    converted", r->converted, r->accepted},
        {"    unsubscribed", r->unsubscribed, r->accepted},
        {"    bounced", r->bounced, r->accepted},
        {"    closed without response", r->no_response, r->accepted},
        {"  closed", r->closed, r->accepted},
        {"  still open", r->open, r->accepted},
    };
    char pct[FMT_MAX];
    fprintf(f, "FUNNEL                               leads      share\n");
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        const funnel_line *l = &lines[i];
        fprintf(f, "%-32s %9lld %9s", l->label, (long long)l->value,
                fmt_pct(ratio(l->value, l->base), pct, sizeof(pct)));
        if (tty && r->submitted > 0) {
            int w = (int)((double)BAR_WIDTH * (double)l->value /
                              (double)r->submitted +
                          0.5);
            fputs("  ", f);
            for (int k = 0; k < w; k++)
                fputc('#', f);
        }
        fputc('\n', f);
    }
    fprintf(f, "(share of submitted for the first four lines, of accepted "
               "leads below)\n");
}

static void print_dist_row(FILE *f, const char *label, const lm_report_dist *d,
                           int with_p99) {
    char a[FMT_MAX], b[FMT_MAX], c[FMT_MAX];
    fprintf(f, "%-32s %7zu %10s %10s %10s\n", label, d->n,
            fmt_dur(d->p50, a, sizeof(a)), fmt_dur(d->p90, b, sizeof(b)),
            with_p99 ? fmt_dur(d->p99, c, sizeof(c)) : "");
}

void lm_report_print(const lm_report *r, FILE *f, int tty) {
    char a[FMT_MAX], b[FMT_MAX], c[FMT_MAX];
    if (r->now_ms > 0) {
        time_t t = (time_t)(r->now_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(a, sizeof(a), "%Y-%m-%d %H:%M UTC", &tm);
        fprintf(f, "lastmile report, as of %s (the fleet's clock)\n\n", a);
    } else {
        fprintf(f, "lastmile report\n\n");
    }
    print_funnel(r, f, tty);

    fprintf(f, "\nSPEED                                  n        p50        "
               "p90        p99\n");
    print_dist_row(f, "speed-to-lead (to first touch)", &r->speed_to_lead_s, 1);
    print_dist_row(f, "cycle time (to close)", &r->cycle_time_s, 0);

    fprintf(f, "\nDEAD TIME (real time a lead's message waited for its "
               "worker, per-lead average)\n");
    fprintf(f, "%-32s %7s %10s %10s\n", "stage", "leads", "mean", "p90");
    for (int i = 0; i < LM_REPORT_STAGES; i++) {
        const lm_report_dist *d = &r->dead_ms[i];
        fprintf(f, "%-32s %7zu %10s %10s\n", lm_report_stage_names[i], d->n,
                fmt_ms(d->mean, a, sizeof(a)), fmt_ms(d->p90, b, sizeof(b)));
    }

    fprintf(f, "\nMONEY (currency units)\n");
    fprintf(f, "%-32s %14s\n", "cost, total",
            fmt_money((double)r->cost_cents, a, sizeof(a)));
    fprintf(f, "%-32s %14s\n", "cost per outcome (closed lead)",
            fmt_money(r->cost_per_outcome_cents, a, sizeof(a)));
    fprintf(f, "%-32s %14s\n", "cost per conversion",
            fmt_money(r->cost_per_conversion_cents, a, sizeof(a)));
    fprintf(f, "%-32s %14s\n", "revenue, total",
            fmt_money((double)r->revenue_cents, a, sizeof(a)));
    fprintf(f, "%-32s %14s\n", "revenue per accepted lead",
            fmt_money(r->revenue_per_lead_cents, a, sizeof(a)));

    fprintf(f, "\nTIMING: LEARNED vs FIXED SCHEDULE (leads that reached a "
               "second touch,\nwhose timing the arm chose)\n");
    fprintf(f, "%-12s %9s %10s %8s   %s\n", "arm", "touched", "responded",
            "rate", "95% interval (Wilson)");
    const lm_report_arm *arms[] = {&r->adaptive, &r->fixed};
    const char *names[] = {"adaptive", "fixed"};
    for (int i = 0; i < 2; i++) {
        const lm_report_arm *m = arms[i];
        fprintf(f, "%-12s %9lld %10lld %8s   %s to %s\n", names[i],
                (long long)m->touched, (long long)m->responded,
                fmt_pct(m->rate, a, sizeof(a)), fmt_pct(m->lo, b, sizeof(b)),
                fmt_pct(m->hi, c, sizeof(c)));
    }
    fprintf(f, "lift (adaptive / fixed - 1): %s, 95%% interval %s to %s\n",
            fmt_signed_pct(r->lift, a, sizeof(a)),
            fmt_signed_pct(r->lift_lo, b, sizeof(b)),
            fmt_signed_pct(r->lift_hi, c, sizeof(c)));
    fprintf(f, "(delta method on the log of the rate ratio; an interval "
               "that spans 0 means no proven lift yet)\n");

    fprintf(f, "\nOPEN LEADS BY OWNER\n");
    if (r->n_owners == 0)
        fprintf(f, "(none open)\n");
    else
        fprintf(f, "%-32s %7s\n", "owner", "open");
    for (size_t i = 0; i < r->n_owners && i < PRINT_OWNERS_MAX; i++)
        fprintf(f, "%-32s %7lld\n", r->owners[i].name,
                (long long)r->owners[i].open);
    if (r->n_owners > PRINT_OWNERS_MAX)
        fprintf(f, "... and %zu more owners (--json lists all)\n",
                r->n_owners - PRINT_OWNERS_MAX);
}
