/* lm_kafka.h — Kafka settings and topic names shared by workers and CLI.
 *
 * Kafka properties pass straight through to librdkafka: lastmile sets a few
 * defaults of its own (listed in lm_kafka.c), then applies every
 * LASTMILE_KAFKA_* property on top, so a deployment can override anything.
 * Property values are never logged (they may be SASL passwords). */
#ifndef LM_KAFKA_H
#define LM_KAFKA_H

#include "lm_env.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#define LM_TOPIC_MAX 160

/* The topics, by suffix. */
#define LM_TOPIC_INTAKE        "intake"
#define LM_TOPIC_QUALIFICATION "qualification"
#define LM_TOPIC_FOLLOWUP      "followup"
#define LM_TOPIC_ACTIONS       "actions"
#define LM_TOPIC_TIMING        "timing"
#define LM_TOPIC_OUTCOMES      "outcomes"
#define LM_TOPIC_DLQ           "dlq"
extern const char *const lm_topic_suffixes[]; /* all seven, NULL-ended */

typedef enum lm_kafka_role {
    LM_KAFKA_CONSUMER,
    LM_KAFKA_PRODUCER,
    LM_KAFKA_READER, /* group-less consumer for reading topics (tail, tests) */
} lm_kafka_role;

/* A new conf for `role` with bootstrap servers, lastmile's defaults and the
 * passthrough properties that apply to the role (a consumer's property is
 * not given to a producer, nor a producer's to a consumer or reader).
 * group_id is used for LM_KAFKA_CONSUMER (may be NULL otherwise). Caller
 * owns the conf (rd_kafka_new takes it). NULL with err naming the
 * offending property on failure. */
rd_kafka_conf_t *lm_kafka_conf(const lm_settings *s, lm_kafka_role role,
                               const char *group_id, char *err, size_t errsz);
/* Which clients librdkafka property `name` is for, as librdkafka's own
 * table says: 'C' consumers, 'P' producers, '*' both, or a name it does
 * not list (then setting it says what is wrong). Reads the table each
 * call (start-up only); any thread. */
char lm_kafka_property_side(const char *name);
/* prefix + suffix into buf. */
void lm_topic_name(const lm_settings *s, const char *suffix, char *buf,
                   size_t bufsz);

/* Assigns every partition of `topic` to the group-less reader rk (an
 * LM_KAFKA_READER), each from `offset` (RD_KAFKA_OFFSET_BEGINNING or
 * _END), after asking the brokers for the topic's metadata (up to
 * timeout_ms). *n_partitions = how many (may be NULL); their ids are
 * 0 .. n-1. 0, or -1 with err saying why (no metadata, no such topic, no
 * partitions, assign refused). rk stays the caller's. */
int lm_kafka_assign_all(rd_kafka_t *rk, const char *topic, int64_t offset,
                        int timeout_ms, int *n_partitions, char *err,
                        size_t errsz);

#endif
