/* stack_fixture.c — see stack_fixture.h. */
#include "stack_fixture.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_kafka.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t fixture_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fixture_ms(int64_t base_ms) {
    const char *m = getenv("LASTMILE_TEST_TIMEOUT_MULT");
    double mult = 1;
    if (m && *m)
        lm_parse_double(m, 0.1, 100, &mult);
    return (int64_t)((double)base_ms * mult);
}

static char topic_prefix[64];

static int stack_up(fixture *fx, int partitions, double time_scale);
static void stop_nodes(fixture *fx);

int fixture_env_cluster(void) {
    const char *v = getenv("LASTMILE_TEST_REDIS");
    if (!v || !*v || strcmp(v, "single") == 0)
        return 0;
    if (strcmp(v, "cluster") == 0)
        return 1;
    fprintf(stderr,
            "fixture: LASTMILE_TEST_REDIS=%s: say `cluster` (a Redis "
            "Cluster of three masters) or `single` (one redis-server)\n",
            v);
    return -1;
}

int fixture_up(fixture *fx, int partitions, double time_scale) {
    int cluster = fixture_env_cluster();
    if (cluster < 0)
        return -1;
#ifndef LM_TEST_CLUSTER_CAPABLE
    if (cluster) {
        fprintf(stderr, "fixture: LASTMILE_TEST_REDIS=cluster: this test "
                        "binary does not run on a cluster (it is not built "
                        "with LM_TEST_CLUSTER_CAPABLE, tests/CMakeLists.txt); "
                        "unset it\n");
        return -1;
    }
#endif
    return fixture_up_on(fx, partitions, time_scale, cluster);
}

int fixture_up_on(fixture *fx, int partitions, double time_scale, int cluster) {
    memset(fx, 0, sizeof(*fx));
    fx->cluster = cluster;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/lastmile-test-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    return stack_up(fx, partitions, time_scale);
}

/* Workers stopped, then the stack down and up again in the same
 * directory, as `lastmile dev down` and `lastmile dev up` do. */
int fixture_restack(fixture *fx, int partitions, double time_scale) {
    for (int i = 0; i < fx->n_procs; i++)
        if (fx->procs[i] > 0)
            fixture_stop_worker(fx, i, SIGTERM);
    fx->n_procs = 0;
    if (fx->producer) {
        rd_kafka_flush(fx->producer, 5000);
        rd_kafka_destroy(fx->producer);
        fx->producer = NULL;
    }
    lm_redis_destroy(fx->redis);
    fx->redis = NULL;
    stop_nodes(fx);
    lm_devstack_down(&fx->st);
    return stack_up(fx, partitions, time_scale);
}

/* The cluster's nodes as a cluster_fx the test can kill and probe; the
 * processes stay lm_devstack's (cfx.pgid 0, no directory of its own). */
static void cluster_view(fixture *fx) {
    memset(&fx->cfx, 0, sizeof(fx->cfx));
    if (!fx->cluster)
        return;
    for (int i = 0; i < CFX_NODES; i++) {
        fx->cfx.ports[i] = fx->st.cluster_ports[i];
        fx->cfx.pids[i] = fx->st.cluster_pids[i];
    }
    snprintf(fx->cfx.url, sizeof(fx->cfx.url), "%s", fx->st.redis_url);
}

static int stack_up(fixture *fx, int partitions, double time_scale) {
    snprintf(topic_prefix, sizeof(topic_prefix), "lastmile.");
    char exe[512], err[1024];
    snprintf(exe, sizeof(exe), "%s/cli/lastmile", LM_BINARY_DIR);
    lm_devstack_opts o = {.dir = fx->dir,
                          .lastmile_exe = exe,
                          .topic_prefix = topic_prefix,
                          .partitions = partitions,
                          .die_with_parent = 1,
                          .redis_cluster = fx->cluster};
    if (lm_devstack_up(&o, &fx->st, err, sizeof(err)) != 0) {
        fprintf(stderr, "fixture: %s\n", err);
        return -1;
    }
    cluster_view(fx);
    setenv("LASTMILE_BROKERS", fx->st.brokers, 1);
    lm_devstack_client_setenv(); /* the stack's clients, as the demo's */
    setenv("LASTMILE_REDIS_URL", fx->st.redis_url, 1);
    setenv("LASTMILE_TOPIC_PREFIX", topic_prefix, 1);
    setenv("LASTMILE_LOG_LEVEL", "info", 1);
    setenv("LASTMILE_SHUTDOWN_TIMEOUT_MS", "10000", 1);
    if (time_scale > 0) {
        char scale[32], origin[32];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(scale, sizeof(scale), "%g", time_scale);
        snprintf(origin, sizeof(origin), "%lld",
                 (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        setenv("LASTMILE_TIME_SCALE", scale, 1);
        setenv("LASTMILE_TIME_ORIGIN_MS", origin, 1);
        /* the test's own clock agrees with the workers' */
        lm_clock_init(time_scale,
                      (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, 0);
    } else {
        lm_clock_init(1, 0, 0);
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", fx->st.brokers, NULL, 0);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", NULL, 0);
    rd_kafka_conf_set(conf, "linger.ms", "5", NULL, 0);
    /* as a connector must (docs/DELIVERY.md): a lead's answers on the
       partition the runtime puts its timers on, murmur2 of the lead id */
    rd_kafka_conf_set(conf, "partitioner", "murmur2_random", NULL, 0);
    fx->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    return fx->producer ? 0 : -1;
}

int fixture_start_worker(fixture *fx, const char *worker) {
    if (fx->n_procs >= FX_MAX_PROCS)
        return -1;
    char exe[512], log[512], inst[64];
    snprintf(exe, sizeof(exe), "%s/workers/lastmile-%s", LM_BINARY_DIR, worker);
    snprintf(log, sizeof(log), "%s/%s.log", fx->dir, worker);
    snprintf(inst, sizeof(inst), "%s-%d", worker, fx->n_procs);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        setenv("LASTMILE_INSTANCE_ID", inst, 1);
        execl(exe, exe, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    int slot = fx->n_procs++;
    fx->procs[slot] = pid;
    snprintf(fx->proc_names[slot], sizeof(fx->proc_names[slot]), "%s", worker);
    return slot;
}

static const char *const fx_workers[FX_WORKERS] = {"intake", "qualification",
                                                   "followup", "timing"};

int fixture_start_all(fixture *fx) {
    for (int i = 0; i < FX_WORKERS; i++)
        if (fixture_start_worker(fx, fx_workers[i]) < 0)
            return -1;
    return 0;
}

int fixture_start_all_with_metrics(fixture *fx, int ports[FX_WORKERS]) {
    int fds[FX_WORKERS], rc = 0;
    for (int i = 0; i < FX_WORKERS; i++) {
        struct sockaddr_in a;
        socklen_t sl = sizeof(a);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        ports[i] = -1;
        if (fds[i] >= 0 &&
            bind(fds[i], (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(fds[i], (struct sockaddr *)&a, &sl) == 0)
            ports[i] = ntohs(a.sin_port);
        else
            rc = -1;
    }
    for (int i = 0; i < FX_WORKERS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    for (int i = 0; rc == 0 && i < FX_WORKERS; i++) {
        char addr[64];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", ports[i]);
        setenv("LASTMILE_METRICS_ADDR", addr, 1);
        if (fixture_start_worker(fx, fx_workers[i]) < 0)
            rc = -1;
    }
    unsetenv("LASTMILE_METRICS_ADDR");
    return rc;
}

int fixture_stop_worker(fixture *fx, int slot, int sig) {
    pid_t pid = fx->procs[slot];
    if (pid <= 0)
        return -1;
    kill(pid, sig);
    int status = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (fixture_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        usleep(20000);
    }
    fx->procs[slot] = 0;
    return status;
}

void fixture_down(fixture *fx) {
    for (int i = 0; i < fx->n_procs; i++)
        if (fx->procs[i] > 0)
            fixture_stop_worker(fx, i, SIGTERM);
    if (fx->producer) {
        rd_kafka_flush(fx->producer, 5000);
        rd_kafka_destroy(fx->producer);
        fx->producer = NULL;
    }
    lm_redis_destroy(fx->redis);
    fx->redis = NULL;
    stop_nodes(fx);
    lm_devstack_down(&fx->st);
    if (!getenv("LASTMILE_TEST_KEEP")) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "fixture: could not remove %s\n", fx->dir);
    }
}

int fixture_produce(fixture *fx, const char *topic_suffix, const char *key,
                    const ProtobufCMessage *msg) {
    char topic[LM_TOPIC_MAX];
    snprintf(topic, sizeof(topic), "%s%s", topic_prefix, topic_suffix);
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    protobuf_c_message_pack(msg, buf);
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(
                fx->producer, RD_KAFKA_V_TOPIC(topic),
                RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(buf, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(fx->producer, 50);
    free(buf);
    rd_kafka_poll(fx->producer, 0);
    return e ? -1 : 0;
}

int fixture_flush(fixture *fx) {
    return rd_kafka_flush(fx->producer, (int)fixture_ms(30000)) ? -1 : 0;
}

struct topic_reader {
    rd_kafka_t *rk;
};

topic_reader *reader_new(fixture *fx, const char *topic_suffix) {
    char topic[LM_TOPIC_MAX], err[512];
    snprintf(topic, sizeof(topic), "%s%s", topic_prefix, topic_suffix);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", fx->st.brokers, NULL, 0);
    rd_kafka_conf_set(conf, "group.id", "test-reader", NULL, 0);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", NULL, 0);
    topic_reader *r = calloc(1, sizeof(*r));
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, topic, NULL);
    rd_kafka_metadata(r->rk, 0, rkt, &md, 5000);
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(8);
    for (int i = 0; md && i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_assign(r->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return r;
}

size_t reader_drain(topic_reader *r, int wait_ms, reader_fn fn, void *opaque) {
    size_t n = 0;
    int wait = wait_ms;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, wait);
        if (!m)
            break;
        wait = 20;
        if (!m->err) {
            fn(opaque, m);
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    return n;
}

void reader_free(topic_reader *r) {
    if (!r)
        return;
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    free(r);
}

int fixture_log_has(fixture *fx, const char *worker, const char *needle,
                    int64_t wait_ms) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.log", fx->dir, worker);
    int64_t deadline = fixture_mono_ms() + fixture_ms(wait_ms);
    for (;;) {
        int found = 0;
        FILE *f = fopen(path, "r");
        if (f) {
            char line[8192];
            while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, needle) != NULL;
            fclose(f);
        }
        if (found || fixture_mono_ms() >= deadline)
            return found;
        usleep(100 * 1000);
    }
}

/* ---------------------------------------------- the test's Redis client */

lm_redis *fixture_redis(fixture *fx) {
    char err[512] = "";
    if (!fx->redis &&
        !(fx->redis = lm_redis_new(fx->st.redis_url, 5000, err, sizeof(err)))) {
        fprintf(stderr, "fixture: redis %s: %s\n", fx->st.redis_url, err);
        return NULL;
    }
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    int rc;
    while ((rc = lm_redis_connect(fx->redis, err, sizeof(err))) ==
               LM_REDIS_RETRY &&
           fixture_mono_ms() < deadline)
        usleep(100 * 1000);
    if (rc != 0) {
        fprintf(stderr, "fixture: redis %s: %s\n", fx->st.redis_url, err);
        return NULL;
    }
    return fx->redis;
}

/* Runs p (commands whose replies the caller reads) into replies, retrying
 * a lost connection (a failover) until the deadline. 0 / -1. */
static int redis_exec(fixture *fx, const lm_pipe *p, redisReply **replies) {
    char err[512] = "";
    if (!fx->redis && !fixture_redis(fx))
        return -1;
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    int rc;
    while ((rc = lm_redis_exec(fx->redis, p, replies, err, sizeof(err))) ==
               LM_REDIS_RETRY &&
           fixture_mono_ms() < deadline)
        usleep(100 * 1000);
    if (rc != 0)
        fprintf(stderr, "fixture: redis: %s\n", err);
    return rc == 0 ? 0 : -1;
}

redisReply *fixture_redis_argv(fixture *fx, int argc, const char *const *argv,
                               const size_t *lens) {
    lm_pipe p = {0};
    redisReply *reply = NULL;
    if (lm_pipe_cmd(&p, argc, argv, lens) == 0 &&
        redis_exec(fx, &p, &reply) != 0)
        reply = NULL;
    lm_pipe_free(&p);
    return reply;
}

redisReply *fixture_redis_cmd(fixture *fx, const char *arg0, ...) {
    const char *argv[LM_PIPE_ARGS_MAX];
    va_list ap;
    va_start(ap, arg0);
    int argc = lm_strs_collect(arg0, ap, argv);
    va_end(ap);
    return argc < 0 ? NULL : fixture_redis_argv(fx, argc, argv, NULL);
}

typedef struct keys_walk {
    strset *out;
    long long added;
} keys_walk;

static int on_keys(void *opaque, const redisReply *keys, char *err,
                   size_t errsz) {
    keys_walk *w = opaque;
    for (size_t i = 0; i < keys->elements; i++) {
        if (keys->element[i]->type != REDIS_REPLY_STRING) {
            snprintf(err, errsz, "SCAN gave a key that is not a string");
            return -1;
        }
        if (strset_add(w->out, keys->element[i]->str) == 1)
            w->added++;
    }
    return 0;
}

long long fixture_redis_keys(fixture *fx, const char *pattern, strset *out) {
    char err[512] = "";
    keys_walk w = {.out = out};
    if (!fx->redis && !fixture_redis(fx))
        return -1;
    if (lm_redis_scan(fx->redis, pattern, 1000, on_keys, &w, err,
                      sizeof(err)) != 0) {
        fprintf(stderr, "fixture: SCAN %s: %s\n", pattern, err);
        return -1;
    }
    return w.added;
}

/* The arguments are lm_devstack_cluster.c's start_node's (its
 * NODE_TIMEOUT_MS is 5000): a node restarted with others would not be the
 * node `dev up` made. */
int fixture_cluster_restart(fixture *fx, int i) {
    if (!fx->cluster || i < 0 || i >= CFX_NODES || fx->cfx.pids[i] > 0)
        return -1;
    char port[16], ndir[700], log[760];
    snprintf(port, sizeof(port), "%d", fx->cfx.ports[i]);
    snprintf(ndir, sizeof(ndir), "%s/cluster/%d", fx->st.dir, fx->cfx.ports[i]);
    snprintf(log, sizeof(log), "%s/redis.log", ndir);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind",
               "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file",
               "nodes.conf", "--cluster-node-timeout", "5000", "--dir", ndir,
               "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
               "--daemonize", "no", "--protected-mode", "yes", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    fx->cfx.pids[i] = pid;
    fx->restarted[i] = 1;
    return 0;
}

/* kill -9 of every node of the cluster, reaped: a test's cluster keeps
 * nothing, and a SIGTERM'd master waits for its replicas (Redis 7's
 * shutdown-timeout), one node after another in lm_devstack_down (some 14 s
 * against under 1). Then lm_devstack_down finds them gone. */
static void stop_nodes(fixture *fx) {
    for (int i = 0; fx->cluster && i < CFX_NODES; i++)
        if (fx->cfx.pids[i] > 0) {
            kill(fx->cfx.pids[i], SIGKILL);
            waitpid(fx->cfx.pids[i], NULL, 0);
            fx->cfx.pids[i] = 0;
            fx->restarted[i] = 0;
        }
}

int fixture_redis_signal(fixture *fx, int sig) {
    int n = 0;
    if (!fx->cluster)
        return fx->st.redis_pid > 0 && kill(fx->st.redis_pid, sig) == 0 ? 0
                                                                        : -1;
    for (int i = 0; i < CFX_NODES; i++)
        if (fx->cfx.pids[i] > 0 && kill(fx->cfx.pids[i], sig) == 0)
            n++;
    return n > 0 ? 0 : -1;
}
