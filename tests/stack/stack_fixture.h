/* stack_fixture.h — a fresh embedded stack per test: the mock broker and a
 * redis-server (through lm_devstack, the code `lastmile dev up` runs), the
 * worker processes, and helpers to produce to and read topics with the
 * test's own Kafka clients (never the workers' code).
 *
 * Children get SIGTERM if the test process dies; fixture_down stops
 * everything even after a failed assertion (call it from a Criterion fini).
 * LASTMILE_TEST_TIMEOUT_MULT stretches every wait (sanitizers, valgrind).
 *
 * Redis: one redis-server, or with LASTMILE_TEST_REDIS=cluster (or
 * fixture_up_on(..., 1)) a Redis Cluster of three masters and three
 * replicas (lm_devstack's --redis-cluster, the code `lastmile dev up
 * --redis-cluster` runs), the workers given its redis+cluster:// URL. Only
 * binaries built with LM_TEST_CLUSTER_CAPABLE (tests/CMakeLists.txt) take
 * the switch: the others signal fx->st.redis_pid, which a cluster lacks,
 * so fixture_up refuses the switch there. The test's own Redis checks go
 * through fixture_redis_* (the runtime's lm_redis: routed by slot on a
 * cluster, every master scanned), so a test reads the same on both. */
#ifndef LM_STACK_FIXTURE_H
#define LM_STACK_FIXTURE_H

#include "cluster_fixture.h"
#include "ledger.h"
#include "lm_devstack.h"
#include "lm_redis.h"

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
    int cluster;     /* Redis is a cluster (st.redis_url redis+cluster://) */
    cluster_fx cfx;  /* cluster: a view of st's nodes (ports, pids) for
                        cluster_fx_kill / _wait_ok / _conn / _index; never
                        cluster_fx_down it: fixture_down stops the nodes */
    lm_redis *redis; /* the test's own client (fixture_redis), or NULL */
    int restarted[CFX_NODES]; /* nodes fixture_cluster_restart started */
} fixture;

/* Starts the stack and exports its environment (time scale as given; 0 =
 * real time); Redis a cluster when LASTMILE_TEST_REDIS=cluster. 0 / -1. */
int fixture_up(fixture *fx, int partitions, double time_scale);
/* The same with Redis a cluster (cluster = 1) or one redis-server (0),
 * whatever the environment says. 0 / -1. */
int fixture_up_on(fixture *fx, int partitions, double time_scale, int cluster);
/* 1 when LASTMILE_TEST_REDIS asks for a cluster ("cluster"), 0 when it is
 * unset, empty or "single"; -1 (said on stderr) for anything else. */
int fixture_env_cluster(void);
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

/* ---- The test's own Redis client (routed by slot on a cluster) ----
 * The client is the fixture's (made on first use, freed by fixture_down
 * and fixture_restack). A lost connection or a cluster mid-failover is
 * retried for up to fixture_ms(30000). */

/* The connected client, or NULL (said on stderr). */
lm_redis *fixture_redis(fixture *fx);
/* Runs one command of argc binary-safe arguments (lens NULL: all
 * NUL-terminated) and returns its reply, the caller's to freeReplyObject;
 * an error reply is returned as such. NULL when Redis cannot be reached. */
redisReply *fixture_redis_argv(fixture *fx, int argc, const char *const *argv,
                               const size_t *lens);
/* The same from NUL-terminated strings, ended by NULL. */
redisReply *fixture_redis_cmd(fixture *fx, const char *arg0, ...)
    __attribute__((sentinel));
/* Adds every key matching pattern (SCAN on every master) to out, each
 * once. The number of distinct keys added, or -1. */
long long fixture_redis_keys(fixture *fx, const char *pattern, strset *out);
/* Sends sig to every redis-server of the stack (the one server, or every
 * live node of the cluster). 0 / -1 (none to signal). */
int fixture_redis_signal(fixture *fx, int sig);

/* Starts node i of the fixture's cluster again after a kill
 * (cluster_fx_kill(&fx->cfx, i)): the same port, directory, nodes.conf and
 * AOF as `lastmile dev up --redis-cluster` gave it, so it rejoins, as the
 * replica of whichever node took its slots. fixture_down kills every node
 * with -9 (a test's cluster keeps nothing), this one too.
 * 0 / -1 (not a cluster, or the node still runs). */
int fixture_cluster_restart(fixture *fx, int i);

/* A group-less reader of one topic from the beginning. */
typedef struct topic_reader topic_reader;
topic_reader *reader_new(fixture *fx, const char *topic_suffix);
/* Calls fn for every message that arrived since the last call, waiting at
 * most wait_ms for the first. Returns how many. */
typedef void (*reader_fn)(void *opaque, const rd_kafka_message_t *rkm);
size_t reader_drain(topic_reader *r, int wait_ms, reader_fn fn, void *opaque);
void reader_free(topic_reader *r);

#endif
