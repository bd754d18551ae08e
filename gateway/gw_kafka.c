/* gw_kafka.c — produce and wait for acknowledgement (see gw_kafka.h).
 *
 * Each send has a waiter: a count of reports still due, the first error,
 * and a reference count (the sender and each message in flight), so a
 * sender that gives up first leaves the waiter to the last report. */
#include "gw_kafka.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_kafka.h"
#include "lm_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GW_KAFKA_POLL_MS       100
#define GW_KAFKA_MARGIN_MS     2000 /* wait past message.timeout.ms */
#define GW_KAFKA_ERR_MAX       256
#define GW_KAFKA_QUEUE_WAIT_MS 50

struct gw_kafka {
    rd_kafka_t *rk;
    lm_settings s; /* borrowed strings: only the prefix is read */
    int ack_timeout_ms;
    pthread_t poller, prober;
    atomic_int stop;
    atomic_int ready;
    char why[GW_KAFKA_ERR_MAX]; /* the last probe failure; under why_mu */
    pthread_mutex_t why_mu;
};

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t due; /* reports still to come */
    int refs;   /* the sender + messages in flight */
    int failed;
    char err[GW_KAFKA_ERR_MAX];
} waiter;

static void waiter_unref(waiter *w) { /* called with w->mu held */
    int last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque) {
    waiter *w = rkm->_private;
    (void)rk;
    (void)opaque;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (rkm->err && !w->failed) {
        w->failed = 1;
        snprintf(w->err, sizeof(w->err), "not acknowledged: %s",
                 rd_kafka_err2str(rkm->err));
    }
    w->due--;
    pthread_cond_broadcast(&w->cv);
    waiter_unref(w);
}

static void *poll_main(void *arg) {
    gw_kafka *k = arg;
    while (!atomic_load(&k->stop))
        rd_kafka_poll(k->rk, GW_KAFKA_POLL_MS);
    return NULL;
}

static void probe_once(gw_kafka *k) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, NULL, &md, 1000);
    if (md)
        rd_kafka_metadata_destroy(md);
    pthread_mutex_lock(&k->why_mu);
    if (e)
        snprintf(k->why, sizeof(k->why), "kafka brokers unreachable: %s",
                 rd_kafka_err2str(e));
    pthread_mutex_unlock(&k->why_mu);
    atomic_store(&k->ready, e == RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void *probe_main(void *arg) {
    gw_kafka *k = arg;
    while (!atomic_load(&k->stop)) {
        probe_once(k);
        for (int t = 0; t < GW_KAFKA_PROBE_MS && !atomic_load(&k->stop);
             t += GW_KAFKA_POLL_MS) {
            struct timespec ts = {0, GW_KAFKA_POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static int has_prop(const lm_settings *s, const char *name) {
    for (int i = 0; i < s->n_kafka; i++)
        if (strcmp(s->kafka[i].name, name) == 0)
            return 1;
    return 0;
}

static int conf_default(rd_kafka_conf_t *conf, const lm_settings *s,
                        const char *name, const char *value, char *err,
                        size_t errsz) {
    char why[GW_KAFKA_ERR_MAX];
    if (has_prop(s, name))
        return 0;
    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK)
        return lm_errf(err, errsz, "gateway default %s=%s: %s", name, value,
                       why);
    return 0;
}

gw_kafka *gw_kafka_new(const lm_settings *s, int ack_timeout_ms, char *err,
                       size_t errsz) {
    char num[32];
    gw_kafka *k = calloc(1, sizeof(*k));
    if (!k) {
        lm_errf(err, errsz, "out of memory");
        return NULL;
    }
    k->s = *s;
    k->ack_timeout_ms = ack_timeout_ms;
    pthread_mutex_init(&k->why_mu, NULL);
    lm_errf(k->why, sizeof(k->why), "kafka brokers not asked yet");
    rd_kafka_conf_t *conf =
        lm_kafka_conf(s, LM_KAFKA_PRODUCER, NULL, err, errsz);
    if (!conf)
        goto fail;
    snprintf(num, sizeof(num), "%d", ack_timeout_ms);
    if (conf_default(conf, s, "partitioner", "murmur2_random", err, errsz) ||
        (!has_prop(s, "delivery.timeout.ms") &&
         conf_default(conf, s, "message.timeout.ms", num, err, errsz))) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errsz);
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    if (pthread_create(&k->poller, NULL, poll_main, k) != 0) {
        lm_errf(err, errsz, "cannot start the poll thread");
        goto fail_rk;
    }
    if (pthread_create(&k->prober, NULL, probe_main, k) != 0) {
        atomic_store(&k->stop, 1);
        pthread_join(k->poller, NULL);
        lm_errf(err, errsz, "cannot start the probe thread");
        goto fail_rk;
    }
    return k;
fail_rk:
    rd_kafka_destroy(k->rk);
fail:
    pthread_mutex_destroy(&k->why_mu);
    free(k);
    return NULL;
}

void gw_kafka_free(gw_kafka *k) {
    if (!k)
        return;
    /* the threads first: flush serves the last reports on this thread */
    atomic_store(&k->stop, 1);
    pthread_join(k->prober, NULL);
    pthread_join(k->poller, NULL);
    rd_kafka_flush(k->rk, k->ack_timeout_ms);
    rd_kafka_destroy(k->rk);
    pthread_mutex_destroy(&k->why_mu);
    free(k);
}

int gw_kafka_ready(gw_kafka *k, char *why, size_t whysz) {
    if (atomic_load(&k->ready))
        return 1;
    pthread_mutex_lock(&k->why_mu);
    lm_fmt_cat(why, whysz, k->why, NULL);
    pthread_mutex_unlock(&k->why_mu);
    return 0;
}

/* Queues one item (retrying while the queue is full); 0 / -1 with err. */
static int produce_one(gw_kafka *k, const char *topic, const gw_item *it,
                       waiter *w, char *err, size_t errsz) {
    rd_kafka_resp_err_t e;
    int64_t until = lm_clock_mono_ms() + k->ack_timeout_ms;
    for (;;) {
        e = rd_kafka_producev(
            k->rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_KEY(it->key, strlen(it->key)),
            RD_KAFKA_V_VALUE(it->value, it->len),
            RD_KAFKA_V_HEADER("lm-id", it->id, (ssize_t)strlen(it->id)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(w),
            RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || lm_clock_mono_ms() >= until)
            break;
        struct timespec ts = {0, GW_KAFKA_QUEUE_WAIT_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (e)
        return lm_errf(err, errsz, "not produced: %s", rd_kafka_err2str(e));
    return 0;
}

int gw_kafka_send(gw_kafka *k, const char *topic_suffix, const gw_items *items,
                  char *err, size_t errsz) {
    char topic[LM_TOPIC_MAX];
    waiter *w = calloc(1, sizeof(*w));
    int rc = 0;
    if (!w)
        return lm_errf(err, errsz, "out of memory");
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->refs = 1;
    lm_topic_name(&k->s, topic_suffix, topic, sizeof(topic));
    for (size_t i = 0; i < items->n; i++) {
        pthread_mutex_lock(&w->mu);
        w->refs++;
        w->due++;
        pthread_mutex_unlock(&w->mu);
        if (produce_one(k, topic, &items->v[i], w, err, errsz) != 0) {
            pthread_mutex_lock(&w->mu);
            w->refs--;
            w->due--;
            pthread_mutex_unlock(&w->mu);
            rc = -1;
            break;
        }
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ms = k->ack_timeout_ms + GW_KAFKA_MARGIN_MS;
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (w->due > 0 &&
           pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
        ;
    if (rc == 0 && w->due > 0)
        rc = lm_errf(err, errsz, "no acknowledgement within %d ms",
                     k->ack_timeout_ms);
    else if (rc == 0 && w->failed)
        rc = lm_errf(err, errsz, "%s", w->err);
    waiter_unref(w); /* unlocks */
    return rc;
}
