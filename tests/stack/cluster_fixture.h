/* cluster_fixture.h — a real Redis Cluster on loopback ports for tests.
 *
 * cluster_fx_up starts six Debian redis-server processes in cluster mode
 * (cluster-enabled, a nodes file each in a temp dir, cluster-node-timeout
 * 2000 ms so a failover takes seconds), joins them with `redis-cli
 * --cluster create ... --cluster-replicas 1 --cluster-yes` (three masters,
 * three replicas) and waits until every node says cluster_state:ok.
 * Every server runs in one process group of its own and dies with the
 * test process (PR_SET_PDEATHSIG); cluster_fx_down kills the group and
 * removes the directory, whatever state the cluster is in.
 *
 * Ownership: the caller owns the struct; up fills it, down empties it.
 * Not thread-safe. */
#ifndef CLUSTER_FIXTURE_H
#define CLUSTER_FIXTURE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <sys/types.h>

#define CFX_NODES 6

typedef struct cluster_fx {
    char dir[64];
    int ports[CFX_NODES];
    pid_t pids[CFX_NODES];
    pid_t pgid;
    char url[512]; /* redis+cluster://127.0.0.1:p0,127.0.0.1:p1,... */
} cluster_fx;

/* 0 / -1 (err says what failed; everything started is stopped again). */
int cluster_fx_up(cluster_fx *c, char *err, size_t errsz);
void cluster_fx_down(cluster_fx *c); /* safe after a failed up, twice */
/* A direct hiredis connection to node i (caller frees). NULL on error. */
redisContext *cluster_fx_conn(const cluster_fx *c, int i);
/* The node index of a port, -1 when none. */
int cluster_fx_index(const cluster_fx *c, int port);
/* kill -9 node i (and reaps it). */
void cluster_fx_kill(cluster_fx *c, int i);
/* Waits (deadline ms) until node i reports cluster_state:ok. 0 / -1. */
int cluster_fx_wait_ok(const cluster_fx *c, int i, int deadline_ms);

#endif
