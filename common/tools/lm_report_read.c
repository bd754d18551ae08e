/* lm_report_read.c — reading a Kafka topic to its end for the report (see
 * lm_report.h): the dead letters counted as invalid submissions, the
 * outcomes `lastmile train` learns from (from the start), and the leads a
 * worker has not yet taken (from its group's committed offsets).
 *
 * A reader assigned to every partition at its low watermark, or at the
 * committed offset of the group it reads for (it names that group, never
 * joins it and never commits: enable.auto.commit is off and it only
 * assigns); it stops at the high watermark taken at the start (or at the
 * end the reader sees, which read_committed may put short of it). Owns
 * its client for the length of one call. Single-threaded. */
#include "lm_report.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_kafka.h"
#include "lm_strmap.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define READ_POLL_MS 100

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

int lm_report_add_pending(void *opaque, const rd_kafka_message_t *rkm) {
    Lastmile__V1__LeadAccepted *a =
        lastmile__v1__lead_accepted__unpack(NULL, rkm->len, rkm->payload);
    if (!a)
        return 0;
    int ok = 1;
    if (a->lead_id && *a->lead_id)
        ok = lm_strmap_put_str(opaque, a->lead_id, a->accepted_at_ms, NULL) !=
             NULL;
    lastmile__v1__lead_accepted__free_unpacked(a, NULL);
    return ok ? 0 : -1;
}

void lm_report_pending_found(lm_strmap *pending, const lm_lead_row *row) {
    int64_t *at = pending && row->lead_id
                      ? lm_strmap_get_str(pending, row->lead_id)
                      : NULL;
    if (at)
        *at = -1;
}

int64_t lm_report_pending_undecided(const lm_strmap *pending) {
    int64_t n = 0;
    for (size_t i = 0; pending && i < lm_strmap_count(pending); i++)
        n += *lm_strmap_value(pending, i) >= 0;
    return n;
}

/* ============================================================ one topic */

/* One read of one topic: its client, and per partition the high
 * watermark taken at the start and whether it has been read to its end. */
typedef struct topic_read {
    rd_kafka_t *rk;
    const char *group; /* read from its committed offsets; NULL: the start */
    char topic[LM_TOPIC_MAX];
    int n_parts, remaining;
    int64_t *high;
    int *done;
} topic_read;

/* A reader that logs errors only, unless the settings' Kafka properties
 * set log_level; named for `group` when not NULL (to fetch its committed
 * offsets: it never subscribes nor commits). NULL with err. */
static rd_kafka_t *reader_new(const lm_settings *s, const char *group,
                              char *err, size_t errsz) {
    char why[512];
    rd_kafka_conf_t *conf = lm_kafka_conf(s, LM_KAFKA_READER, NULL, err, errsz);
    if (!conf)
        return NULL;
    if (group &&
        rd_kafka_conf_set(conf, "group.id", group, why, sizeof(why)) != 0) {
        rd_kafka_conf_destroy(conf);
        lm_errf(err, errsz, "group.id %s: %s", group, why);
        return NULL;
    }
    int log_level_set = 0;
    for (int i = 0; i < s->n_kafka; i++)
        log_level_set |= strcmp(s->kafka[i].name, "log_level") == 0;
    if (!log_level_set) /* a one-shot reader: errors only, unless told */
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        lm_errf(err, errsz, "Kafka client: %s", why);
    }
    return rk;
}

/* Assigns each partition p of t (0 .. n_parts-1, t->high set) that has
 * something to read from from[p], marking the others done. 1 when there
 * is something to read, 0 when not, -1 with err. */
static int assign_from(topic_read *t, const int64_t *from, char *err,
                       size_t errsz) {
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(t->n_parts > 0 ? t->n_parts : 1);
    if (!parts)
        return lm_errf(err, errsz, "out of memory");
    t->remaining = 0;
    for (int p = 0; p < t->n_parts; p++) {
        t->done[p] = t->high[p] <= from[p];
        if (!t->done[p]) {
            rd_kafka_topic_partition_list_add(parts, t->topic, p)->offset =
                from[p];
            t->remaining++;
        }
    }
    int rc = t->remaining > 0;
    rd_kafka_resp_err_t e;
    if (rc && (e = rd_kafka_assign(t->rk, parts)) != 0)
        rc = lm_errf(err, errsz, "topic %s: assign: %s", t->topic,
                     rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

/* Moves from[p] (each partition's low watermark) on to the offset
 * t->group has committed there, when it has one past it. 0, or -1 with
 * err. */
static int from_committed(topic_read *t, int64_t *from, char *err,
                          size_t errsz) {
    rd_kafka_topic_partition_list_t *c =
        rd_kafka_topic_partition_list_new(t->n_parts > 0 ? t->n_parts : 1);
    if (!c)
        return lm_errf(err, errsz, "out of memory");
    for (int p = 0; p < t->n_parts; p++)
        rd_kafka_topic_partition_list_add(c, t->topic, p);
    /* OffsetFetch only: the reader never subscribed, so it never joins */
    rd_kafka_resp_err_t e =
        rd_kafka_committed(t->rk, c, LM_REPORT_KAFKA_TIMEOUT_MS);
    if (e) {
        rd_kafka_topic_partition_list_destroy(c);
        return lm_errf(err, errsz,
                       "topic %s: the offsets group %s committed: %s; is the "
                       "broker up?",
                       t->topic, t->group, rd_kafka_err2str(e));
    }
    for (int i = 0; i < c->cnt; i++) {
        int32_t p = c->elems[i].partition;
        if (p >= 0 && p < t->n_parts && !c->elems[i].err &&
            c->elems[i].offset > from[p])
            from[p] = c->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(c);
    return 0;
}

/* Takes each partition's watermarks and assigns the non-empty ones from
 * their first offset, or from t->group's committed offset. 1 when there is
 * something to read, 0 when not (no such topic, or every partition empty), -1
 * with err. */
static int read_assign(topic_read *t, const lm_settings *s, char *err,
                       size_t errsz) {
    const struct rd_kafka_metadata *md = NULL;
    int64_t *from = NULL;
    int rc = -1;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(t->rk, t->topic, NULL);
    rd_kafka_resp_err_t e =
        rkt ? rd_kafka_metadata(t->rk, 0, rkt, &md, LM_REPORT_KAFKA_TIMEOUT_MS)
            : rd_kafka_last_error();
    if (e) {
        lm_errf(err, errsz,
                "cannot read the metadata of %s from LASTMILE_BROKERS "
                "(%s): %s; is the broker up?",
                t->topic, s->brokers ? s->brokers : "", rd_kafka_err2str(e));
        goto done;
    }
    if (md->topic_cnt < 1 ||
        md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        rc = 0; /* no such topic: nothing was ever written to it */
        goto done;
    }
    if (md->topics[0].err) {
        lm_errf(err, errsz, "topic %s: %s", t->topic,
                rd_kafka_err2str(md->topics[0].err));
        goto done;
    }
    t->n_parts = md->topics[0].partition_cnt;
    t->high = calloc((size_t)t->n_parts + 1, sizeof(*t->high));
    t->done = calloc((size_t)t->n_parts + 1, sizeof(*t->done));
    from = calloc((size_t)t->n_parts + 1, sizeof(*from));
    if (!t->high || !t->done || !from) {
        lm_errf(err, errsz, "out of memory");
        goto done;
    }
    for (int i = 0; i < t->n_parts; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        if (p < 0 || p >= t->n_parts) {
            lm_errf(err, errsz, "topic %s: partition id %d out of range",
                    t->topic, (int)p);
            goto done;
        }
        e = rd_kafka_query_watermark_offsets(t->rk, t->topic, p, &from[p],
                                             &t->high[p],
                                             LM_REPORT_KAFKA_TIMEOUT_MS);
        if (e) {
            lm_errf(err, errsz, "topic %s [%d]: watermarks: %s", t->topic,
                    (int)p, rd_kafka_err2str(e));
            goto done;
        }
    }
    if (!t->group || from_committed(t, from, err, errsz) == 0)
        rc = assign_from(t, from, err, errsz);
done:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    free(from);
    return rc;
}

/* Marks partition p read to its end. */
static void read_done(topic_read *t, int32_t p) {
    t->done[p] = 1;
    t->remaining--;
}

/* Polls until every assigned partition is read to its end, calling fn for
 * each message below its high watermark. The count read, or -1 with err
 * (timeout, fatal client error, fn said stop). */
static int64_t read_to_end(topic_read *t, int timeout_ms, lm_report_msg_fn fn,
                           void *opaque, char *err, size_t errsz) {
    char why[512];
    int64_t n = 0,
            limit = timeout_ms > 0 ? timeout_ms : LM_REPORT_READ_TIMEOUT_MS;
    int64_t t0 = lm_clock_mono_ms();
    while (t->remaining > 0) {
        if (lm_clock_mono_ms() - t0 > limit)
            return lm_errf(err, errsz,
                           "topic %s: not read to its end within %lld ms (%d "
                           "of %d partitions left); is the broker up?",
                           t->topic, (long long)limit, t->remaining,
                           t->n_parts);
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(t->rk, READ_POLL_MS);
        if (!rkm)
            continue;
        int32_t p = rkm->partition;
        int in_range = p >= 0 && p < t->n_parts && !t->done[p];
        int stop = 0;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* the end as the reader sees it (read_committed may stop short
               of the high watermark at an open transaction) */
            if (in_range)
                read_done(t, p);
        } else if (rkm->err) {
            if (rd_kafka_fatal_error(t->rk, why, sizeof(why)))
                stop = lm_errf(err, errsz, "topic %s: %s", t->topic, why);
            /* else transient: librdkafka retries */
        } else if (in_range && rkm->offset < t->high[p]) {
            n++;
            if (fn(opaque, rkm) != 0)
                stop =
                    lm_errf(err, errsz, "topic %s: reading stopped", t->topic);
            if (rkm->offset + 1 >= t->high[p])
                read_done(t, p);
        }
        rd_kafka_message_destroy(rkm);
        if (stop)
            return -1;
    }
    return n;
}

/* Reads topic <prefix><suffix> to its end, from the start or from
 * `group`'s committed offsets (group NULL: the start). */
static int64_t read_topic(const lm_settings *s, const char *suffix,
                          const char *group, int timeout_ms,
                          lm_report_msg_fn fn, void *opaque, char *err,
                          size_t errsz) {
    topic_read t = {.group = group};
    lm_topic_name(s, suffix, t.topic, sizeof(t.topic));
    if (!(t.rk = reader_new(s, group, err, errsz)))
        return -1;
    int64_t n = read_assign(&t, s, err, errsz);
    if (n > 0)
        n = read_to_end(&t, timeout_ms, fn, opaque, err, errsz);
    rd_kafka_consumer_close(t.rk);
    rd_kafka_destroy(t.rk);
    free(t.high);
    free(t.done);
    return n;
}

int64_t lm_report_read_topic(const lm_settings *s, const char *suffix,
                             int timeout_ms, lm_report_msg_fn fn, void *opaque,
                             char *err, size_t errsz) {
    return read_topic(s, suffix, NULL, timeout_ms, fn, opaque, err, errsz);
}

int64_t lm_report_read_range(rd_kafka_t *rk, const char *topic, int n_parts,
                             const int64_t *from, const int64_t *to,
                             int timeout_ms, lm_report_msg_fn fn, void *opaque,
                             char *err, size_t errsz) {
    topic_read t = {.rk = rk, .n_parts = n_parts};
    lm_fmt_cat(t.topic, sizeof(t.topic), topic, NULL);
    t.high = calloc((size_t)n_parts + 1, sizeof(*t.high));
    t.done = calloc((size_t)n_parts + 1, sizeof(*t.done));
    int64_t n = -1;
    if (!t.high || !t.done) {
        lm_errf(err, errsz, "out of memory");
    } else {
        memcpy(t.high, to, (size_t)n_parts * sizeof(*t.high));
        n = assign_from(&t, from, err, errsz);
        if (n > 0) {
            n = read_to_end(&t, timeout_ms, fn, opaque, err, errsz);
            rd_kafka_assign(rk, NULL);
        }
    }
    free(t.high);
    free(t.done);
    return n;
}

int64_t lm_report_read_pending(const lm_settings *s, const char *suffix,
                               int timeout_ms, lm_report_msg_fn fn,
                               void *opaque, char *err, size_t errsz) {
    char group[LM_TOPIC_MAX];
    /* the worker's group: <prefix><worker>, as the runtime names it, and
       each worker is named after its input topic's suffix */
    lm_topic_name(s, suffix, group, sizeof(group));
    return read_topic(s, suffix, group, timeout_ms, fn, opaque, err, errsz);
}
