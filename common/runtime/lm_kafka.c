/* lm_kafka.c — librdkafka configuration (see lm_kafka.h).
 *
 * lastmile's defaults, and why:
 *   consumer: enable.auto.offset.store=false (an offset is stored only once
 *     what its message caused is durable), enable.auto.commit=false (the
 *     runtime commits after each batch), auto.offset.reset=earliest (a new
 *     group misses nothing), session.timeout.ms=6000 (the broker's
 *     smallest by default) with a heartbeat every second: a replica
 *     killed without leaving the group gives its partitions up within
 *     6 s, and one restarted within 6 s under the same static name keeps
 *     them with no rebalance at all (heartbeats come from librdkafka's
 *     own thread, so a slow batch does not count), group.instance.id=
 *     LASTMILE_INSTANCE_ID
 *     when that is set (static membership: a restarted replica with the
 *     same name takes its partitions back at once, with no rebalance;
 *     the name must be unique in the worker's group, or the broker fences
 *     the older replica), partition.assignment.strategy=cooperative-sticky
 *     is NOT used: eager rebalancing keeps the hand-over of a partition
 *     simple to reason about;
 *   producer: enable.idempotence=true (no duplicates or reordering from
 *     retries), message.timeout.ms=0 (never give up on a message: a broker
 *     outage stalls the fleet instead of losing work), linger.ms=5 (the
 *     runtime queues a whole batch, then flushes it at once: the batch goes
 *     out in few large requests and does not wait for the linger),
 *     compression none (loopback and small records);
 *   every client: socket.nagle.disable=true (TCP_NODELAY, as Kafka's own
 *     clients and brokers do: a small request must not wait for the
 *     peer's delayed ACK).
 * A LASTMILE_KAFKA_<PROPERTY> set for the whole fleet reaches only the
 * clients it applies to: librdkafka's own table of properties
 * (rd_kafka_conf_properties_show) says whether a property is a consumer's
 * ("C"), a producer's ("P") or both ("*"), and a client of the other side
 * does not get it. librdkafka would take it and log a warning at every
 * start ("... is a consumer property and will be ignored by this producer
 * instance"): on the embedded stack, where every client gets the fetch
 * wait, that was a warning per producer of every worker.
 * librdkafka's own log lines (connection failures, protocol warnings) go
 * through lm_log as JSON lines (event "kafka"), instead of its default
 * "%3|...|FAIL|..." lines on stderr between ours, which would break
 * JSON-lines log collection. They come from librdkafka's threads; lm_log
 * writes each line with one write(2).
 */
#include "lm_kafka.h"

#include "lm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lm_topic_suffixes[] = {
    LM_TOPIC_INTAKE,   LM_TOPIC_QUALIFICATION,
    LM_TOPIC_FOLLOWUP, LM_TOPIC_ACTIONS,
    LM_TOPIC_TIMING,   LM_TOPIC_OUTCOMES,
    LM_TOPIC_DLQ,      NULL};

void lm_topic_name(const lm_settings *s, const char *suffix, char *buf,
                   size_t bufsz) {
    snprintf(buf, bufsz, "%s%s",
             s->topic_prefix ? s->topic_prefix : "lastmile.", suffix);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                    const char *origin, char *err, size_t errsz) {
    char why[512];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(err, errsz, "%s: librdkafka rejects property %s: %s", origin,
                 name, why);
        return -1;
    }
    return 0;
}

/* librdkafka's syslog levels (0 emerg .. 7 debug) as lm_log's. */
static lm_log_level kafka_level(int level) {
    return level <= 3   ? LM_LOG_ERROR
           : level == 4 ? LM_LOG_WARN
           : level <= 6 ? LM_LOG_INFO
                        : LM_LOG_DEBUG;
}

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf) {
    lm_log_level l = kafka_level(level);
    if (!lm_log_enabled(l))
        return;
    json_t *fields = json_pack("{s:s, s:s}", "client", rd_kafka_name(rk),
                               "facility", fac ? fac : "");
    lm_log_with(l, "kafka", fields, "%s", buf ? buf : "");
}

char lm_kafka_property_side(const char *name) {
    char *table = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&table, &len);
    if (!f)
        return '*';
    rd_kafka_conf_properties_show(f); /* "name | C/P | range | ..." rows */
    fclose(f);
    char side = '*';
    size_t n = strlen(name);
    for (const char *line = table; line && *line;) {
        const char *bar = strchr(line, '|'), *nl = strchr(line, '\n');
        if (bar && (!nl || bar < nl) && strncmp(line, name, n) == 0 &&
            line[n] == ' ') {
            for (bar++; *bar == ' '; bar++)
                ;
            if (*bar == 'C' || *bar == 'P')
                side = *bar;
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(table);
    return side;
}

/* 1 when a property of `side` (lm_kafka_property_side) is not for a
 * client of `role`. */
static int other_side(char side, lm_kafka_role role) {
    return role == LM_KAFKA_PRODUCER ? side == 'C' : side == 'P';
}

rd_kafka_conf_t *lm_kafka_conf(const lm_settings *s, lm_kafka_role role,
                               const char *group_id, char *err, size_t errsz) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    static const char *const consumer_defaults[][2] = {
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "false"},
        {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "false"},
        {"fetch.wait.max.ms", "10"},
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "1000"},
        {"max.poll.interval.ms", "300000"},
        {"isolation.level", "read_committed"},
        {"reconnect.backoff.max.ms", "1000"},
        {"socket.nagle.disable", "true"},
        {NULL, NULL}};
    static const char *const reader_defaults[][2] = {
        {"enable.auto.commit", "false"},  {"enable.partition.eof", "true"},
        {"fetch.wait.max.ms", "10"},      {"group.id", "lastmile-reader"},
        {"socket.nagle.disable", "true"}, {NULL, NULL}};
    /* partitioner: a key's partition as the runtime places its outputs
       (explicit, murmur2 of the key) and as Kafka's Java client does, so a
       record the CLI produces (a dead letter replayed, a lead published)
       lands on its key's partition, with the lead's other events
       (librdkafka's default hashes with CRC32) */
    static const char *const producer_defaults[][2] = {
        {"enable.idempotence", "true"},
        {"partitioner", "murmur2_random"},
        {"message.timeout.ms", "0"},
        {"linger.ms", "5"},
        {"acks", "all"},
        {"reconnect.backoff.max.ms", "1000"},
        {"socket.nagle.disable", "true"},
        {NULL, NULL}};
    const char *const(*defaults)[2] =
        role == LM_KAFKA_CONSUMER   ? consumer_defaults
        : role == LM_KAFKA_PRODUCER ? producer_defaults
                                    : reader_defaults;

    if (conf_set(conf, "bootstrap.servers", s->brokers ? s->brokers : "",
                 "LASTMILE_BROKERS", err, errsz) != 0)
        goto fail;
    if (conf_set(conf, "client.id",
                 s->instance_id && *s->instance_id ? s->instance_id
                                                   : "lastmile",
                 "LASTMILE_INSTANCE_ID", err, errsz) != 0)
        goto fail;
    for (int i = 0; defaults[i][0]; i++)
        if (conf_set(conf, defaults[i][0], defaults[i][1], "lastmile default",
                     err, errsz) != 0)
            goto fail;
    if (role == LM_KAFKA_CONSUMER && group_id &&
        conf_set(conf, "group.id", group_id, "lastmile default", err, errsz) !=
            0)
        goto fail;
    /* a replica with a stable name rejoins its group as the member it was:
       after a restart it gets its partitions back at once, with no
       rebalance and no wait for its old session to time out */
    if (role == LM_KAFKA_CONSUMER && group_id && s->instance_id_static &&
        conf_set(conf, "group.instance.id", s->instance_id,
                 "LASTMILE_INSTANCE_ID", err, errsz) != 0)
        goto fail;
    for (int i = 0; i < s->n_kafka; i++) {
        if (other_side(lm_kafka_property_side(s->kafka[i].name), role))
            continue; /* the other side's: librdkafka would only warn */
        char origin[256];
        snprintf(origin, sizeof(origin), "LASTMILE_KAFKA_%s", s->kafka[i].name);
        for (char *p = origin; *p; p++)
            *p =
                *p == '.' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        if (conf_set(conf, s->kafka[i].name, s->kafka[i].value, origin, err,
                     errsz) != 0)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int lm_kafka_assign_all(rd_kafka_t *rk, const char *topic, int64_t offset,
                        int timeout_ms, int *n_partitions, char *err,
                        size_t errsz) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms)
                                : RD_KAFKA_RESP_ERR__INVALID_ARG;
    int rc = -1;
    if (n_partitions)
        *n_partitions = 0;
    if (e) {
        snprintf(err, errsz, "no metadata for %s: %s", topic,
                 rd_kafka_err2str(e));
        goto done;
    }
    if (md->topic_cnt != 1 || md->topics[0].err ||
        md->topics[0].partition_cnt == 0) {
        snprintf(err, errsz, "topic %s: %s", topic,
                 md->topic_cnt == 1 && md->topics[0].err
                     ? rd_kafka_err2str(md->topics[0].err)
                     : "no partitions");
        goto done;
    }
    int n = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(parts, topic,
                                          md->topics[0].partitions[i].id)
            ->offset = offset;
    e = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e) {
        snprintf(err, errsz, "cannot read %s: %s", topic, rd_kafka_err2str(e));
        goto done;
    }
    if (n_partitions)
        *n_partitions = n;
    rc = 0;
done:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return rc;
}
