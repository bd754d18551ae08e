/* dlq_read.c — the dead-letter topic read whole, for `lastmile dlq`
 * (dlq.c): every DeadLetter from each partition's oldest message to its
 * end (the reader's partition EOF), filtered.
 *
 * A group-less reader (LM_KAFKA_READER): nothing is committed, the fleet's
 * groups are not disturbed. Ownership: dlq_set owns every DeadLetter it
 * holds (dlq_set_free). Single-threaded. */
#include "dlq.h"

#include "lm_clock.h"
#include "lm_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DLQ_METADATA_TIMEOUT_MS 10000
#define DLQ_READ_TIMEOUT_MS     30000 /* to reach every partition's end */
#define DLQ_PARTITIONS_MAX      1024

int dlq_filter_match(const dlq_filter *f, const Lastmile__V1__DeadLetter *dl) {
    if (f->worker && strcmp(f->worker, dl->worker ? dl->worker : "") != 0)
        return 0;
    if (f->reason && !strstr(dl->reason ? dl->reason : "", f->reason))
        return 0;
    if (f->id && strcmp(f->id, dl->dead_letter_id ? dl->dead_letter_id : ""))
        return 0;
    if (f->since_ms && dl->failed_at_ms < f->since_ms)
        return 0;
    if (f->until_ms && dl->failed_at_ms >= f->until_ms)
        return 0;
    return 1;
}

static int set_add(dlq_set *set, Lastmile__V1__DeadLetter *dl) {
    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 64;
        Lastmile__V1__DeadLetter **v = realloc(set->v, cap * sizeof(*v));
        if (!v)
            return -1;
        set->v = v;
        set->cap = cap;
    }
    set->v[set->n++] = dl;
    return 0;
}

void dlq_set_free(dlq_set *set) {
    for (size_t i = 0; i < set->n; i++)
        lastmile__v1__dead_letter__free_unpacked(set->v[i], NULL);
    free(set->v);
    memset(set, 0, sizeof(*set));
}

/* Assigns every partition of topic from the start; *n = how many (their
 * ids are below DLQ_PARTITIONS_MAX). 0 / -1. */
static int assign(rd_kafka_t *rk, const char *topic, int *n, char *err,
                  size_t errsz) {
    if (lm_kafka_assign_all(rk, topic, RD_KAFKA_OFFSET_BEGINNING,
                            DLQ_METADATA_TIMEOUT_MS, n, err, errsz) != 0)
        return -1;
    if (*n > DLQ_PARTITIONS_MAX) {
        snprintf(err, errsz,
                 "%s has %d partitions; lastmile dlq reads up to %d", topic, *n,
                 DLQ_PARTITIONS_MAX);
        return -1;
    }
    return 0;
}

/* Keeps one message if it is a dead letter that passes f. 0 / -1 (OOM). */
static int take(const dlq_filter *f, const rd_kafka_message_t *rkm,
                dlq_set *set) {
    Lastmile__V1__DeadLetter *dl =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    if (dl && dlq_filter_match(f, dl)) {
        if (set_add(set, dl) != 0) {
            lastmile__v1__dead_letter__free_unpacked(dl, NULL);
            return -1;
        }
    } else if (dl) {
        lastmile__v1__dead_letter__free_unpacked(dl, NULL);
    }
    return 0;
}

int dlq_read(const lm_settings *s, const dlq_filter *f, dlq_set *set, char *err,
             size_t errsz) {
    char topic[LM_TOPIC_MAX];
    memset(set, 0, sizeof(*set));
    lm_topic_name(s, LM_TOPIC_DLQ, topic, sizeof(topic));
    rd_kafka_conf_t *conf = lm_kafka_conf(s, LM_KAFKA_READER, NULL, err, errsz);
    if (!conf)
        return -1;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errsz);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    int n = 0, at_end = 0;
    int64_t t0 = lm_clock_mono_ms();
    unsigned char *eof = calloc(DLQ_PARTITIONS_MAX, 1);
    int rc = eof ? assign(rk, topic, &n, err, errsz) : -1;
    if (!eof)
        snprintf(err, errsz, "out of memory");
    while (rc == 0 && at_end < n) {
        if (lm_clock_mono_ms() - t0 > DLQ_READ_TIMEOUT_MS) {
            snprintf(err, errsz,
                     "%s: %d of %d partitions read to their end "
                     "in %d s",
                     topic, at_end, n, DLQ_READ_TIMEOUT_MS / 1000);
            rc = -1;
            break;
        }
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
        if (!rkm)
            continue;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (rkm->partition >= 0 && rkm->partition < DLQ_PARTITIONS_MAX &&
                !eof[rkm->partition]) {
                eof[rkm->partition] = 1;
                at_end++;
            }
        } else if (!rkm->err && take(f, rkm, set) != 0) {
            snprintf(err, errsz, "out of memory");
            rc = -1;
        }
        rd_kafka_message_destroy(rkm);
    }
    free(eof);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (rc != 0)
        dlq_set_free(set);
    return rc;
}
