/* lm_report_read.c — reading a Kafka topic from its start to its end for
 * the report (see lm_report.h): the dead letters counted as invalid
 * submissions, the outcomes `lastmile train` learns from.
 *
 * A group-less reader assigned to every partition at its low watermark;
 * it stops at the high watermark taken at the start (or at the end the
 * reader sees, which read_committed may put short of it). Owns its client
 * for the length of one call. Single-threaded. */
#include "lm_report.h"

#include "lm_fmt.h"
#include "lm_kafka.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        lm_errf(err, errsz, "Kafka client: %s", why);
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
        lm_errf(err, errsz,
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
        lm_errf(err, errsz, "topic %s: %s", topic,
                rd_kafka_err2str(md->topics[0].err));
        goto done;
    }
    n_parts = md->topics[0].partition_cnt;
    high = calloc((size_t)n_parts + 1, sizeof(*high));
    done = calloc((size_t)n_parts + 1, sizeof(*done));
    parts = rd_kafka_topic_partition_list_new(n_parts > 0 ? n_parts : 1);
    if (!high || !done || !parts) {
        lm_errf(err, errsz, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_parts; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo = 0, hi = 0;
        if (p < 0 || p >= n_parts) {
            lm_errf(err, errsz, "topic %s: partition id %d out of range", topic,
                    (int)p);
            goto done;
        }
        e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi,
                                             LM_REPORT_KAFKA_TIMEOUT_MS);
        if (e) {
            lm_errf(err, errsz, "topic %s [%d]: watermarks: %s", topic, (int)p,
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
        lm_errf(err, errsz, "topic %s: assign: %s", topic, rd_kafka_err2str(e));
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
            lm_errf(err, errsz,
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
                lm_errf(err, errsz, "topic %s: %s", topic, why);
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
                lm_errf(err, errsz, "topic %s: reading stopped", topic);
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
