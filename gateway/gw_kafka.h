/* gw_kafka.h — the gateway's producer: send a request's messages and wait
 * until the broker has acknowledged every one (or said it will not).
 *
 * An idempotent producer (lm_kafka.h's producer role: acks=all,
 * enable.idempotence) with two gateway defaults, both overridable by
 * LASTMILE_KAFKA_*: partitioner=murmur2_random (the partition Kafka's Java
 * client would pick for the key: timing needs a lead's answers on its
 * timers' partition, docs/DELIVERY.md "Known limits"), and
 * message.timeout.ms = the ack timeout (a message is given up on at the
 * same time the request is, so a request never answers 503 for a message
 * that is then delivered behind its back, except in the last instant).
 *
 * Threads: gw_kafka_send may be called from any number of threads at
 * once (one per HTTP connection); a poll thread serves the delivery
 * reports and wakes each waiting request; a probe thread asks the broker
 * for metadata every GW_KAFKA_PROBE_MS, for readiness.
 * Ownership: gw_kafka_new returns a producer the caller frees
 * (gw_kafka_free, after the HTTP server has stopped). */
#ifndef GW_KAFKA_H
#define GW_KAFKA_H

#include "gw_body.h"
#include "lm_env.h"

#include <stddef.h>

#define GW_KAFKA_PROBE_MS 2000

typedef struct gw_kafka gw_kafka;

/* NULL with err naming the property or the failure. */
gw_kafka *gw_kafka_new(const lm_settings *s, int ack_timeout_ms, char *err,
                       size_t errsz);
/* Stops the threads, flushes what is queued (up to the ack timeout),
 * destroys the producer. Call it after the HTTP server has stopped (no
 * send running). NULL ok. */
void gw_kafka_free(gw_kafka *k);

/* Produces every item to <prefix><topic_suffix>, keyed by its key, with
 * header lm-id = its id, and waits for every delivery report. 0 when the
 * broker acknowledged them all; -1 with err (some may still have been
 * written: the client retries with the same ids, which the workers
 * dedupe). */
int gw_kafka_send(gw_kafka *k, const char *topic_suffix, const gw_items *items,
                  char *err, size_t errsz);

/* 1 when the last metadata request reached a broker; 0 with why. */
int gw_kafka_ready(gw_kafka *k, char *why, size_t whysz);

#endif
