/* lm_devstack.h — the embedded default stack: a mock Kafka cluster and a
 * real redis-server on this machine, for development, tests and the demo.
 *
 * The broker is librdkafka's mock cluster (rdkafka_mock.h), hosted in its
 * own process (`lastmile dev broker`) and reached over TCP with the real
 * Kafka protocol; it keeps data in memory only. Redis is Debian's
 * redis-server, started on a free loopback port with AOF on, its files in
 * the stack's directory. Both listen on 127.0.0.1 only.
 *
 * `lastmile dev up --redis-cluster` starts a local Redis Cluster (three
 * masters, three replicas) in place of the one redis-server: see
 * lm_devstack_cluster_up.
 *
 * A stack lives in a directory (default ./.lastmile): `env` holds the
 * variables to export, `broker.pid` and `redis.pid` the processes, and the
 * logs sit beside them.
 *
 * The stack is one unit: the broker keeps nothing across a restart, so
 * neither does its Redis. lm_devstack_up starts both empty; the AOF and
 * RDB files of a previous run are moved to <dir>/previous-redis/ (for a
 * look with redis-check-aof; replaced on the next up), never loaded —
 * Redis holding fences, done records and timers for topics that no longer
 * hold their messages would make the fleet skip or decide input twice.
 * A Redis restart within a run (lm_devstack_redis_stop, fault tests) keeps
 * its AOF, as a real one would. `lastmile dev up|down|env` and the tests use
 * the same functions.
 *
 * The embedded broker's client setting: librdkafka's mock cluster holds a
 * fetch that finds no data for the whole fetch.wait.max.ms, and does not
 * answer early when a producer writes (a real broker does), so each hop
 * of the fleet waits up to that long for its input. The stack's clients
 * ask for LM_DEVSTACK_FETCH_WAIT_MS instead of the runtime's 10 ms
 * (lm_kafka.c): `lastmile dev up` exports it, and the demo, the bench and
 * the stack tests set it (lm_devstack_client_setenv). Measured in
 * docs/PERFORMANCE.md ("The embedded broker's fetch wait"): p99 at half
 * load 42-54 -> 26-34 ms, the fleet's share of the floor as before, idle
 * +0.015 of a core.
 *
 * Fault injection: the broker process reads commands from the FIFO
 * `<dir>/broker.ctl` (one per line): `down SECONDS`, `up`,
 * `errors APIKEY ERRCODE COUNT` (rd_kafka_mock_push_request_errors).
 *
 * Ownership: plain structs, no heap. Not thread-safe. */
#ifndef LM_DEVSTACK_H
#define LM_DEVSTACK_H

#include <stddef.h>
#include <sys/types.h>

#define LM_DEVSTACK_PARTITIONS_DEFAULT 4
#define LM_DEVSTACK_FETCH_WAIT_MS      "5" /* the stack's clients: above */
#define LM_DEVSTACK_READY_TIMEOUT_MS   20000
#define LM_DEVSTACK_CLUSTER_NODES                                              \
    6 /* --redis-cluster: 3 masters + 3 replicas */

typedef struct lm_devstack_opts {
    const char *dir;          /* created if missing */
    const char *lastmile_exe; /* path of the `lastmile` binary */
    const char *topic_prefix; /* NULL = "lastmile." */
    int partitions;           /* per topic; 0 = default */
    int die_with_parent;      /* tests: children get SIGTERM if we die */
    int redis_cluster;        /* a local Redis Cluster, not one redis-server */
} lm_devstack_opts;

typedef struct lm_devstack {
    char dir[512];
    char brokers[256];
    char redis_url[128];
    int redis_port;
    pid_t broker_pid, redis_pid;
    int redis_previous; /* up moved a previous run's Redis files aside */
    /* --redis-cluster (lm_devstack_cluster.c): redis_url is
     * redis+cluster://..., redis_port the first node's, redis_pid 0 */
    int redis_cluster;
    int cluster_ports[LM_DEVSTACK_CLUSTER_NODES];
    pid_t cluster_pids[LM_DEVSTACK_CLUSTER_NODES];
} lm_devstack;

/* Starts both servers, waits until both answer, writes <dir>/env.
 * 0 / -1 with err (what failed and how to fix); on failure nothing is left
 * running. */
int lm_devstack_up(const lm_devstack_opts *o, lm_devstack *st, char *err,
                   size_t errsz);
/* Stops both (SIGTERM, then SIGKILL after a grace period); removes the pid
 * files. Safe when already down. */
void lm_devstack_down(lm_devstack *st);
/* Reads a running stack's state from its directory. 0 / -1. */
int lm_devstack_load(const char *dir, lm_devstack *st, char *err, size_t errsz);
/* The `export NAME=value` lines for the stack into buf: where it runs,
 * and its client setting (LASTMILE_KAFKA_FETCH_WAIT_MAX_MS, above). */
int lm_devstack_env(const lm_devstack *st, const char *topic_prefix, char *buf,
                    size_t bufsz);
/* Sets the embedded broker's client setting in this process's
 * environment (LASTMILE_KAFKA_FETCH_WAIT_MAX_MS, above) unless it is set
 * already: a value of the caller's own wins. For the demo, the bench and
 * the tests, whose workers inherit it. */
void lm_devstack_client_setenv(void);
/* Stops redis-server (SIGKILL when hard, else SIGTERM); for fault tests.
 * 0 / -1. */
int lm_devstack_redis_stop(lm_devstack *st, int hard);
/* Starts redis-server on st->redis_port with the AOF in st->dir (the one a
 * stop left): a restart within a run keeps Redis's data. 0 / -1 with err. */
int lm_devstack_redis_start(lm_devstack *st, int die_with_parent, char *err,
                            size_t errsz);
/* A TCP port on 127.0.0.1 that was free a moment ago, for a process
 * started next to listen on, or -1: a random one of the
 * LM_DEVSTACK_PORT_SPAN ports just below the kernel's ephemeral range
 * (which outgoing connections take their local ports from, so none of
 * them takes it meanwhile), else one from bind(0). One thread at a time
 * (it counts its draws). */
int lm_devstack_free_port(void);
#define LM_DEVSTACK_PORT_SPAN     12000
#define LM_DEVSTACK_EPHEMERAL_LOW 32768 /* Linux's default */
/* The low end of the ephemeral range (ip_local_port_range), or Linux's
 * default when it cannot be read. */
int lm_devstack_ephemeral_low(void);
/* Sends one fault command to the broker process. 0 / -1. */
int lm_devstack_broker_ctl(const lm_devstack *st, const char *command);

/* `lastmile dev up --redis-cluster` (lm_devstack_cluster.c), called by
 * lm_devstack_up once the broker runs: six redis-server in cluster mode
 * on loopback ports p (p+10000, their bus ports, free too), each in
 * <dir>/cluster/<p>/, joined by `redis-cli --cluster create
 * --cluster-replicas 1` into three masters and three replicas; waits for
 * cluster_state:ok on every node and every replica linked; pids in
 * <dir>/cluster.pids; redis_url = redis+cluster://127.0.0.1:p,... into
 * <dir>/env. The last run's <dir>/cluster/ goes to previous-cluster/.
 * The workers' key layout does not fit a cluster yet (docs/SCALE-OUT.md):
 * the tools run on it, the workers refuse it at start.
 * 0 / -1 with err; on failure everything started is stopped. */
int lm_devstack_cluster_up(const lm_devstack_opts *o, lm_devstack *st,
                           char *err, size_t errsz);
/* Fills ports with LM_DEVSTACK_CLUSTER_NODES loopback ports p whose
 * cluster bus port p+10000 is free too, from a start that differs per
 * process (so parallel stacks and tests rarely collide). 0 / -1. Used by
 * lm_devstack_cluster_up and by the tests' cluster fixture. */
int lm_devstack_cluster_ports(int ports[LM_DEVSTACK_CLUSTER_NODES]);
/* Stops the cluster whose pids <dir>/cluster.pids holds (SIGTERM, then
 * SIGKILL after a grace period) and removes the file. Safe when none. */
void lm_devstack_cluster_stop(const char *dir);

/* The body of `lastmile dev broker`: hosts the mock cluster until SIGTERM,
 * after writing its bootstrap servers to <dir>/brokers. Exit code. */
int lm_devstack_broker_main(const char *dir, const char *topic_prefix,
                            int partitions);

#endif
