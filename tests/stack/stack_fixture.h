/* stack_fixture.h — a fresh embedded stack per test: the mock broker and a
 * redis-server (through lm_devstack, the code `lastmile dev up` runs), the
 * worker processes, and helpers to produce to and read topics with the
 * test's own Kafka clients (never the workers' code).
 *
 * Children get SIGTERM if the test process dies; fixture_down stops
 * everything even after a failed assertion (call it from a Criterion fini).
 * LASTMILE_TEST_TIMEOUT_MULT stretches every wait (sanitizers, valgrind). */
#ifndef LM_STACK_FIXTURE_H
#define LM_STACK_FIXTURE_H

#include "lm_devstack.h"

#include <librdkafka/rdkafka.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FX_WORKERS   4
#define FX_MAX_PROCS 16

typedef struct fixture {
    lm_devstack st;
    char dir[256];
    pid_t procs[FX_MAX_PROCS];
    char proc_names[FX_MAX_PROCS][32];
    int n_procs;
    rd_kafka_t *producer;
} fixture;

/* Starts the stack and exports its environment (time scale as given; 0 =
 * real time). 0 / -1. */
int fixture_up(fixture *fx, int partitions, double time_scale);
void fixture_down(fixture *fx);
/* Stops the workers, takes the stack down and brings it up again in the
 * same directory (`lastmile dev down`, `lastmile dev up`); the
 * environment is exported again (new ports). 0 / -1. */
int fixture_restack(fixture *fx, int partitions, double time_scale);
/* Starts lastmile-<worker>; returns its slot index or -1. */
int fixture_start_worker(fixture *fx, const char *worker);
int fixture_start_all(fixture *fx);
/* fixture_start_all with /metrics on: each worker (intake, qualification,
 * followup, timing) serves on 127.0.0.1:ports[i], ports picked free and
 * distinct (bound together, then released). 0 / -1. */
int fixture_start_all_with_metrics(fixture *fx, int ports[FX_WORKERS]);
/* Sends sig to the worker in slot i and waits for it to exit. */
int fixture_stop_worker(fixture *fx, int slot, int sig);
/* Produces a message (copied) and waits for delivery of all. */
int fixture_produce(fixture *fx, const char *topic_suffix, const char *key,
                    const ProtobufCMessage *msg);
int fixture_flush(fixture *fx);
/* Scaled test timeout in ms. */
int64_t fixture_ms(int64_t base_ms);
/* 1 when the log of `worker` (every replica writes fx->dir/<worker>.log)
 * contains needle; waits for it up to wait_ms (scaled by fixture_ms). */
int fixture_log_has(fixture *fx, const char *worker, const char *needle,
                    int64_t wait_ms);
int64_t fixture_mono_ms(void);

/* A group-less reader of one topic from the beginning. */
typedef struct topic_reader topic_reader;
topic_reader *reader_new(fixture *fx, const char *topic_suffix);
/* Calls fn for every message that arrived since the last call, waiting at
 * most wait_ms for the first. Returns how many. */
typedef void (*reader_fn)(void *opaque, const rd_kafka_message_t *rkm);
size_t reader_drain(topic_reader *r, int wait_ms, reader_fn fn, void *opaque);
void reader_free(topic_reader *r);

#endif
