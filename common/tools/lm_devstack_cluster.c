/* lm_devstack_cluster.c — `lastmile dev up --redis-cluster`: the embedded
 * stack with a local Redis Cluster instead of one redis-server (see
 * lm_devstack.h).
 *
 * Six Debian redis-server processes in cluster mode on loopback ports p
 * whose cluster bus port p+10000 is free too, each in <dir>/cluster/<p>/
 * (its nodes.conf and AOF), joined by `redis-cli --cluster create ...
 * --cluster-replicas 1 --cluster-yes` into three masters and three
 * replicas; up waits until every node says cluster_state:ok and every
 * replica is linked. The pids go to <dir>/cluster.pids (one a line), the
 * URL redis+cluster://127.0.0.1:p0,...,127.0.0.1:p5 to <dir>/env like the
 * single Redis's. A new up starts empty: the last run's <dir>/cluster/ is
 * moved to <dir>/previous-cluster/ (as the single Redis's files go to
 * previous-redis/). The same approach as tests/stack/cluster_fixture.c.
 *
 * Ownership: plain structs; the processes are the stack's until down.
 * Not thread-safe. */
#include "lm_devstack.h"
#include "lm_devstack_internal.h"

#include "lm_redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PORT_LO         20000 /* bus ports p+10000 stay below 40000 */
#define PORT_HI         30000
#define CREATE_LOG      "cluster-create.log"
#define CLUSTER_PIDS    "cluster.pids"
#define NODE_TIMEOUT_MS "5000"

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int port_free(int port) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

int lm_devstack_cluster_ports(int ports[LM_DEVSTACK_CLUSTER_NODES]) {
    int span = PORT_HI - PORT_LO;
    int p = PORT_LO + (int)(((int64_t)getpid() * 7919 + now_ms()) % span);
    int n = 0;
    for (int tried = 0; n < LM_DEVSTACK_CLUSTER_NODES && tried < span;
         tried++, p = p + 1 >= PORT_HI ? PORT_LO : p + 1)
        if (port_free(p) && port_free(p + 10000))
            ports[n++] = p;
    return n == LM_DEVSTACK_CLUSTER_NODES ? 0 : -1;
}

/* One INFO-like reply of node port holds want. */
static int node_says(int port, const char *a0, const char *a1,
                     const char *want) {
    char url[64], err[256];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    lm_redis *r = lm_redis_new(url, 1000, err, sizeof(err));
    lm_pipe p = {0};
    redisReply *rep[1] = {NULL};
    int ok = r && lm_pipe_cmd_strs(&p, a0, a1, NULL) == 0 &&
             lm_redis_exec(r, &p, rep, err, sizeof(err)) == 0 &&
             (rep[0]->type == REDIS_REPLY_STRING ||
              rep[0]->type == REDIS_REPLY_STATUS) &&
             strstr(rep[0]->str, want);
    if (rep[0])
        lm_redis_replies_free(rep, 1);
    lm_pipe_free(&p);
    lm_redis_destroy(r);
    return ok;
}

/* Starts node i in <dir>/cluster/<port>/. 0 / -1 with err. */
static int start_node(lm_devstack *st, int i, int die_with_parent, char *err,
                      size_t errsz) {
    char port[16], ndir[700], log[760];
    snprintf(port, sizeof(port), "%d", st->cluster_ports[i]);
    snprintf(ndir, sizeof(ndir), "%s/cluster/%d", st->dir,
             st->cluster_ports[i]);
    snprintf(log, sizeof(log), "%s/redis.log", ndir);
    if (mkdir(ndir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errsz, "cannot create %s: %s", ndir, strerror(errno));
        return -1;
    }
    char *const cluster_opts[] = {"--cluster-enabled",
                                  "yes",
                                  "--cluster-config-file",
                                  "nodes.conf",
                                  "--cluster-node-timeout",
                                  NODE_TIMEOUT_MS,
                                  NULL};
    char *argv[32];
    if (lm_devstack_redis_argv(argv, 32, port, ndir, cluster_opts) < 0) {
        snprintf(err, errsz, "redis-server: too many arguments");
        return -1;
    }
    st->cluster_pids[i] = lm_devstack_spawn(argv, log, die_with_parent);
    if (st->cluster_pids[i] <= 0) {
        st->cluster_pids[i] = 0;
        snprintf(err, errsz, "fork: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Runs redis-cli --cluster create over the six nodes. 0 / -1 with err. */
static int create(lm_devstack *st, int die_with_parent, char *err,
                  size_t errsz) {
    char addrs[LM_DEVSTACK_CLUSTER_NODES][32], log[700];
    char *argv[LM_DEVSTACK_CLUSTER_NODES + 8];
    int a = 0;
    argv[a++] = "redis-cli";
    argv[a++] = "--cluster";
    argv[a++] = "create";
    for (int i = 0; i < LM_DEVSTACK_CLUSTER_NODES; i++) {
        snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d",
                 st->cluster_ports[i]);
        argv[a++] = addrs[i];
    }
    argv[a++] = "--cluster-replicas";
    argv[a++] = "1";
    argv[a++] = "--cluster-yes";
    argv[a] = NULL;
    snprintf(log, sizeof(log), "%s/" CREATE_LOG, st->dir);
    pid_t pid = lm_devstack_spawn(argv, log, die_with_parent);
    int status = -1;
    int64_t end = now_ms() + LM_DEVSTACK_READY_TIMEOUT_MS;
    while (pid > 0 && waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > end) {
            lm_devstack_stop_pid(pid, 1);
            status = -1;
            break;
        }
        usleep(50 * 1000);
    }
    if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    snprintf(err, errsz,
             "redis-cli --cluster create failed (see %s; is Debian's "
             "redis-tools installed? `make deps` installs it)",
             log);
    return -1;
}

/* Until every node says cluster_state:ok and three replicas are linked,
 * or the ready timeout. 0 / -1 with err. */
static int wait_ready(const lm_devstack *st, char *err, size_t errsz) {
    int64_t end = now_ms() + LM_DEVSTACK_READY_TIMEOUT_MS;
    for (;;) {
        int ok = 0, linked = 0;
        for (int i = 0; i < LM_DEVSTACK_CLUSTER_NODES; i++) {
            ok += node_says(st->cluster_ports[i], "CLUSTER", "INFO",
                            "cluster_state:ok");
            linked += node_says(st->cluster_ports[i], "INFO", "replication",
                                "master_link_status:up");
        }
        if (ok == LM_DEVSTACK_CLUSTER_NODES &&
            linked == LM_DEVSTACK_CLUSTER_NODES / 2)
            return 0;
        if (now_ms() > end) {
            snprintf(err, errsz,
                     "the Redis Cluster did not become ready: %d of %d "
                     "nodes say cluster_state:ok, %d of %d replicas linked "
                     "(see %s/cluster/*/redis.log)",
                     ok, LM_DEVSTACK_CLUSTER_NODES, linked,
                     LM_DEVSTACK_CLUSTER_NODES / 2, st->dir);
            return -1;
        }
        usleep(100 * 1000);
    }
}

/* The last run's <dir>/cluster/ to <dir>/previous-cluster/; a new empty
 * <dir>/cluster/. 0 / -1 with err. */
static int fresh_dir(lm_devstack *st, char *err, size_t errsz) {
    char cur[600], prev[620], cmd[2000];
    snprintf(cur, sizeof(cur), "%s/cluster", st->dir);
    snprintf(prev, sizeof(prev), "%s/previous-cluster", st->dir);
    struct stat sb;
    if (lstat(cur, &sb) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mv '%s' '%s'", prev, cur,
                 prev);
        if (system(cmd) != 0) {
            snprintf(err, errsz, "cannot move %s aside to %s", cur, prev);
            return -1;
        }
        st->redis_previous = 1;
    }
    if (mkdir(cur, 0755) != 0) {
        snprintf(err, errsz, "cannot create %s: %s", cur, strerror(errno));
        return -1;
    }
    return 0;
}

static void write_pids(const lm_devstack *st) {
    char text[LM_DEVSTACK_CLUSTER_NODES * 16] = "";
    size_t off = 0;
    for (int i = 0; i < LM_DEVSTACK_CLUSTER_NODES; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "%ld\n",
                                (long)st->cluster_pids[i]);
    lm_devstack_write_file(st->dir, CLUSTER_PIDS, text);
}

int lm_devstack_cluster_up(const lm_devstack_opts *o, lm_devstack *st,
                           char *err, size_t errsz) {
    if (fresh_dir(st, err, errsz) != 0)
        goto fail;
    if (lm_devstack_cluster_ports(st->cluster_ports) != 0) {
        snprintf(err, errsz,
                 "no six free loopback ports p with p+10000 free between %d "
                 "and %d",
                 PORT_LO, PORT_HI);
        goto fail;
    }
    for (int i = 0; i < LM_DEVSTACK_CLUSTER_NODES; i++)
        if (start_node(st, i, o->die_with_parent, err, errsz) != 0)
            goto fail;
    write_pids(st);
    int64_t end = now_ms() + LM_DEVSTACK_READY_TIMEOUT_MS;
    for (int i = 0; i < LM_DEVSTACK_CLUSTER_NODES; i++)
        while (!node_says(st->cluster_ports[i], "PING", NULL, "PONG")) {
            if (now_ms() > end || waitpid(st->cluster_pids[i], NULL, WNOHANG) ==
                                      st->cluster_pids[i]) {
                snprintf(err, errsz,
                         "redis-server on 127.0.0.1:%d did not start (see "
                         "%s/cluster/%d/redis.log; is Debian's redis-server "
                         "installed? `make deps` installs it)",
                         st->cluster_ports[i], st->dir, st->cluster_ports[i]);
                goto fail;
            }
            usleep(20 * 1000);
        }
    if (create(st, o->die_with_parent, err, errsz) != 0 ||
        wait_ready(st, err, errsz) != 0)
        goto fail;
    size_t off = (size_t)snprintf(st->redis_url, sizeof(st->redis_url),
                                  "redis+cluster://");
    for (int i = 0; i < LM_DEVSTACK_CLUSTER_NODES; i++)
        off += (size_t)snprintf(st->redis_url + off,
                                sizeof(st->redis_url) - off, "%s127.0.0.1:%d",
                                i ? "," : "", st->cluster_ports[i]);
    st->redis_port = st->cluster_ports[0];
    st->redis_cluster = 1;
    char env[2048];
    lm_devstack_env(st, o->topic_prefix, env, sizeof(env));
    lm_devstack_write_file(st->dir, "env", env);
    return 0;
fail:
    for (int i = 0; i < LM_DEVSTACK_CLUSTER_NODES; i++)
        lm_devstack_stop_pid(st->cluster_pids[i], 1);
    memset(st->cluster_pids, 0, sizeof(st->cluster_pids));
    lm_devstack_down(st); /* the broker, the pid files */
    return -1;
}

void lm_devstack_cluster_stop(const char *dir) {
    char text[LM_DEVSTACK_CLUSTER_NODES * 16 + 16], path[700];
    if (lm_devstack_read_file(dir, CLUSTER_PIDS, text, sizeof(text)) != 0)
        return;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *end = NULL;
        long pid = strtol(line, &end, 10);
        if (end && end != line && pid > 1)
            lm_devstack_stop_pid((pid_t)pid, 0);
        line = nl ? nl + 1 : NULL;
    }
    snprintf(path, sizeof(path), "%s/" CLUSTER_PIDS, dir);
    unlink(path);
}
