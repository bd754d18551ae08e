/* cluster_fixture.c — see cluster_fixture.h. */
#include "cluster_fixture.h"

#include "lm_devstack.h"

_Static_assert(CFX_NODES == LM_DEVSTACK_CLUSTER_NODES,
               "the fixture's nodes are the dev stack's");

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Forks argv into the servers' process group, output to log. */
static pid_t spawn(cluster_fx *c, char *const argv[], const char *log) {
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setpgid(0, c->pgid);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid > 0) {
        setpgid(pid, c->pgid ? c->pgid : pid);
        if (!c->pgid)
            c->pgid = pid;
    }
    return pid;
}

static int start_node(cluster_fx *c, int i) {
    char port[16], conf[128], log[128];
    snprintf(port, sizeof(port), "%d", c->ports[i]);
    snprintf(conf, sizeof(conf), "%s/nodes-%d.conf", c->dir, c->ports[i]);
    snprintf(log, sizeof(log), "%s/redis-%d.log", c->dir, c->ports[i]);
    char *argv[] = {"redis-server",
                    "--port",
                    port,
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    conf,
                    "--cluster-node-timeout",
                    "2000",
                    "--cluster-replica-validity-factor",
                    "0",
                    "--dir",
                    c->dir,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--protected-mode",
                    "no",
                    NULL};
    c->pids[i] = spawn(c, argv, log);
    return c->pids[i] > 0 ? 0 : -1;
}

redisContext *cluster_fx_conn(const cluster_fx *c, int i) {
    struct timeval tv = {2, 0};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", c->ports[i], tv);
    if (ctx && ctx->err) {
        redisFree(ctx);
        return NULL;
    }
    if (ctx)
        redisSetTimeout(ctx, tv);
    return ctx;
}

int cluster_fx_index(const cluster_fx *c, int port) {
    for (int i = 0; i < CFX_NODES; i++)
        if (c->ports[i] == port)
            return i;
    return -1;
}

/* The INFO/CLUSTER INFO text of node i contains want. */
static int node_says(const cluster_fx *c, int i, const char *cmd,
                     const char *want) {
    redisContext *ctx = cluster_fx_conn(c, i);
    if (!ctx)
        return 0;
    redisReply *r = redisCommand(ctx, cmd);
    int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, want);
    if (r)
        freeReplyObject(r);
    redisFree(ctx);
    return ok;
}

int cluster_fx_wait_ok(const cluster_fx *c, int i, int deadline_ms) {
    long long end = mono_ms() + deadline_ms;
    while (mono_ms() < end) {
        if (node_says(c, i, "CLUSTER INFO", "cluster_state:ok"))
            return 0;
        usleep(50 * 1000);
    }
    return -1;
}

/* Every replica linked to its master. */
static int replicas_up(const cluster_fx *c) {
    int up = 0;
    for (int i = 0; i < CFX_NODES; i++)
        up += node_says(c, i, "INFO replication", "master_link_status:up");
    return up;
}

static int run_create(cluster_fx *c, char *err, size_t errsz) {
    char addrs[CFX_NODES][32], log[128];
    char *argv[CFX_NODES + 8];
    int a = 0;
    argv[a++] = "redis-cli";
    argv[a++] = "--cluster";
    argv[a++] = "create";
    for (int i = 0; i < CFX_NODES; i++) {
        snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d", c->ports[i]);
        argv[a++] = addrs[i];
    }
    argv[a++] = "--cluster-replicas";
    argv[a++] = "1";
    argv[a++] = "--cluster-yes";
    argv[a] = NULL;
    snprintf(log, sizeof(log), "%s/create.log", c->dir);
    pid_t pid = spawn(c, argv, log);
    int status = -1;
    long long end = mono_ms() + 30000;
    while (pid > 0 && waitpid(pid, &status, WNOHANG) == 0) {
        if (mono_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        usleep(50 * 1000);
    }
    if (pid <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errsz, "redis-cli --cluster create failed (see %s)", log);
        return -1;
    }
    return 0;
}

int cluster_fx_up(cluster_fx *c, char *err, size_t errsz) {
    memset(c, 0, sizeof(*c));
    snprintf(c->dir, sizeof(c->dir), "/tmp/lastmile-cluster-XXXXXX");
    if (!mkdtemp(c->dir)) {
        snprintf(err, errsz, "mkdtemp: %s", strerror(errno));
        c->dir[0] = '\0';
        return -1;
    }
    if (lm_devstack_cluster_ports(c->ports) != 0) {
        snprintf(err, errsz, "no six free port pairs (p, p+10000)");
        goto fail;
    }
    for (int i = 0; i < CFX_NODES; i++)
        if (start_node(c, i) != 0) {
            snprintf(err, errsz, "fork redis-server: %s", strerror(errno));
            goto fail;
        }
    long long end = mono_ms() + 10000;
    for (int i = 0; i < CFX_NODES; i++) {
        redisContext *ctx = NULL;
        while (!(ctx = cluster_fx_conn(c, i)) && mono_ms() < end)
            usleep(20 * 1000);
        if (!ctx) {
            snprintf(err, errsz,
                     "redis-server on port %d did not start (see %s)",
                     c->ports[i], c->dir);
            goto fail;
        }
        redisFree(ctx);
    }
    if (run_create(c, err, errsz) != 0)
        goto fail;
    for (int i = 0; i < CFX_NODES; i++)
        if (cluster_fx_wait_ok(c, i, 20000) != 0) {
            snprintf(err, errsz, "node %d never reached cluster_state:ok",
                     c->ports[i]);
            goto fail;
        }
    end = mono_ms() + 20000;
    while (replicas_up(c) < CFX_NODES / 2 && mono_ms() < end)
        usleep(50 * 1000);
    if (replicas_up(c) < CFX_NODES / 2) {
        snprintf(err, errsz, "the replicas never linked to their masters");
        goto fail;
    }
    size_t off = (size_t)snprintf(c->url, sizeof(c->url), "redis+cluster://");
    for (int i = 0; i < CFX_NODES; i++)
        off += (size_t)snprintf(c->url + off, sizeof(c->url) - off,
                                "%s127.0.0.1:%d", i ? "," : "", c->ports[i]);
    return 0;
fail:
    cluster_fx_down(c);
    return -1;
}

void cluster_fx_kill(cluster_fx *c, int i) {
    if (c->pids[i] <= 0)
        return;
    kill(c->pids[i], SIGKILL);
    waitpid(c->pids[i], NULL, 0);
    c->pids[i] = 0;
}

void cluster_fx_down(cluster_fx *c) {
    if (c->pgid > 0)
        kill(-c->pgid, SIGKILL);
    for (int i = 0; i < CFX_NODES; i++)
        if (c->pids[i] > 0)
            waitpid(c->pids[i], NULL, 0);
    while (c->pgid > 0 && waitpid(-c->pgid, NULL, WNOHANG) > 0)
        ;
    c->pgid = 0;
    memset(c->pids, 0, sizeof(c->pids));
    if (c->dir[0] && !getenv("LASTMILE_TEST_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", c->dir);
    }
    c->dir[0] = '\0';
}
