/* lm_redis_cluster.h — Redis Cluster routing behind lm_redis's API.
 *
 * What: when LASTMILE_REDIS_URL is `redis+cluster://[user:pw@]h:p[,h:p...]`
 * lm_redis hands every call to this module. It keeps the slot map (from
 * `CLUSTER SHARDS`, or `CLUSTER SLOTS` when a server does not know it),
 * one connection per node made on demand (each an ordinary lm_redis, so
 * the same timeout, AUTH/ACL user, version check, backoff and script load
 * as a single Redis), and routes each command of a pipeline to the master
 * of its key's slot (CRC16 of the key or of its `{hash tag}`, as the
 * Redis Cluster specification says).
 *
 * Design decision: a cluster mode behind the existing API, not a parallel
 * one. Callers keep building lm_pipe and calling lm_redis_exec; the
 * workers, the runtime, the sweeper and the tools need no change to run on
 * a cluster, and the single-Redis path stays exactly as it was (lm_redis
 * checks one pointer). The price is that routing must read the commands
 * back out of the RESP buffer the pipeline already holds; that parse is
 * linear and only runs in cluster mode.
 *
 * Routing rules, per lm_redis_exec:
 * - The pipeline is cut into units: a command alone, or a transaction —
 *   WATCH..., MULTI, ..., EXEC/DISCARD (WATCHes directly before MULTI
 *   belong to it; a WATCH not followed by MULTI in the same pipeline is a
 *   unit of its own). Every key of a transaction must hash to one slot;
 *   a pipeline holding one that spans slots is refused whole, before
 *   anything is sent: -1 and err "CROSSSLOT ... key 'tx:a' is in slot
 *   12276, key 'tx:b' in slot 8087". A WATCH in one exec and its MULTI in
 *   the next reach the same node connection when their keys share a slot.
 * - A command's slot is its first key's (EVAL/EVALSHA/FCALL: the first of
 *   their numkeys keys); other multi-key commands are sent by their first
 *   key and the server answers CROSSSLOT if they span slots. Keyless
 *   commands (PING, INFO, SCRIPT, ...) go to the master of slot 0; the
 *   whole keyspace's (SCAN, INFO of every node) go through
 *   lm_redis_exec_on_master, which uses lm_rcluster_masters/_exec_node.
 * - Units are grouped by node; each node's group is one pipeline, one
 *   round trip; replies are put back in command order.
 * - `MOVED slot host:port`: the slot is pointed at that node at once, the
 *   map is refreshed, and the unit is sent again there. `ASK slot
 *   host:port`: the unit is sent to that node once, preceded by ASKING
 *   (before each of its WATCHes and its MULTI), the map unchanged.
 *   At most LM_RCL_REDIRECTS_MAX rounds of redirects; then RETRY.
 *   A transaction redirected as a whole is sent whole again (a MOVED
 *   reply inside MULTI makes the server abort it: nothing was applied).
 * - The map is refreshed when empty, after a MOVED, after a lost or
 *   refused node connection, on CLUSTERDOWN, and at most every
 *   LM_RCL_REFRESH_MS otherwise. A refresh asks the known nodes, then the
 *   seeds, until one answers.
 * - Return codes as lm_redis_exec: 0 (every reply read; each may be an
 *   error reply, e.g. CLUSTERDOWN or TRYAGAIN during a failover or a
 *   migration), LM_REDIS_RETRY (a node lost: some units may have run on
 *   other nodes, exactly as a single Redis lost mid-read; replies all
 *   NULL), -1 (refused for good: bad credentials, a cross-slot
 *   transaction).
 *
 * Ownership: lm_redis owns its lm_rcluster; the cluster owns its nodes'
 * connections and the map. Scripts are the caller's (as lm_redis).
 * Threads: none; one lm_redis (and so one cluster client) per thread. */
#ifndef LM_REDIS_CLUSTER_H
#define LM_REDIS_CLUSTER_H

#include "lm_redis.h"

#include <stddef.h>
#include <stdint.h>

#define LM_RCL_SLOTS         16384
#define LM_RCL_NODES_MAX     64
#define LM_RCL_REDIRECTS_MAX 5
#define LM_RCL_REFRESH_MS    10000

/* The cluster slot of a key: CRC16-XMODEM of the key, or of the part
 * between the first '{' and the next '}' when that part is not empty,
 * modulo 16384. */
unsigned lm_rcluster_slot(const char *key, size_t len);

/* One argument of a command, in a pipeline's buffer. */
typedef struct lm_rcluster_arg {
    const char *s;
    size_t len;
} lm_rcluster_arg;

/* Where the keys of command a[0..argc) are: a[first], a[first+step], ...
 * below end; end == first when it has none (PING, SCRIPT, MULTI, ...).
 * EVAL/EVALSHA/FCALL: their numkeys keys; MSET: every other argument;
 * DEL/MGET/WATCH/...: every argument; others: a[1]. */
void lm_rcluster_key_span(const lm_rcluster_arg *a, size_t argc, size_t *first,
                          size_t *end, size_t *step);

typedef struct lm_rcluster lm_rcluster;

/* Counters for tests and metrics. */
typedef struct lm_rcluster_stats {
    uint64_t moved;     /* MOVED replies followed */
    uint64_t ask;       /* ASK replies followed */
    uint64_t refreshes; /* slot maps read */
    uint64_t roundtrips;
    double last_rtt_ms; /* the last exec, every node's round trip */
} lm_rcluster_stats;

/* A client for url (is_cluster set); does not connect. NULL on OOM.
 * The cluster copies url and scrubs its copy on destroy. */
lm_rcluster *lm_rcluster_new(const lm_redis_url *url, int timeout_ms);
void lm_rcluster_destroy(lm_rcluster *c); /* NULL ok */
/* Registers a script to load on every node connection; 0 / -1. */
int lm_rcluster_add_script(lm_rcluster *c, lm_script *s);
/* Reads the slot map now. 0, LM_REDIS_RETRY or -1 as lm_redis_connect. */
int lm_rcluster_connect(lm_rcluster *c, char *err, size_t errsz);
/* lm_redis_exec on a cluster (rules above). */
int lm_rcluster_exec(lm_rcluster *c, const lm_pipe *p, redisReply **replies,
                     char *err, size_t errsz);
int lm_rcluster_connected(const lm_rcluster *c);
/* Drops every node connection; the next exec refreshes the map. */
void lm_rcluster_disconnect(lm_rcluster *c);
void lm_rcluster_get_stats(const lm_rcluster *c, lm_rcluster_stats *out);

/* Whole-keyspace commands (SCAN, INFO, DBSIZE) must visit every master:
 * lm_redis_masters / lm_redis_exec_on_master (lm_redis.h) use these.
 * The masters of the slot map (read first when due), as node indexes in
 * ascending order, into out[0..cap): their count, LM_REDIS_RETRY (no map,
 * or no master yet) or -1, with err. An index stays the same node until
 * the node table changes (a node evicted: a master never is). */
int lm_rcluster_masters(lm_rcluster *c, int *out, int cap, char *err,
                        size_t errsz);
/* lm_redis_exec on node `node` itself, whatever the commands' keys (no
 * routing, no redirects followed: an error reply is the caller's). A lost
 * node marks the map for a refresh. Returns as lm_redis_exec. */
int lm_rcluster_exec_node(lm_rcluster *c, int node, const lm_pipe *p,
                          redisReply **replies, char *err, size_t errsz);
/* "host:port" of node `node` into out. 0 / -1. */
int lm_rcluster_node_name(const lm_rcluster *c, int node, char *out,
                          size_t outsz);

/* lm_redis on one node of a cluster: the URL's credentials, host:port.
 * Defined in lm_redis.c; NULL on OOM. */
lm_redis *lm_redis_new_node(const lm_redis_url *base, const char *host,
                            int port, int timeout_ms);
/* The cluster behind r, or NULL for a single Redis (for tests/metrics). */
lm_rcluster *lm_redis_cluster_of(lm_redis *r);

#endif
