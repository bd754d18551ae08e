/* lm_redis.h — Redis for workers: one connection, pipelines, Lua scripts.
 *
 * A worker talks to Redis in whole pipelines: it appends commands to an
 * lm_pipe (formatted straight into a reusable buffer), then lm_redis_exec
 * sends them all and reads every reply in one round trip.
 *
 * Connection: from LASTMILE_REDIS_URL, `redis://[user:password@]host:port[/db]`
 * or `unix:///path/to/redis.sock[?db=N]`, or a Redis Cluster by its seed
 * nodes, `redis+cluster://[user:password@]host:port[,host:port...]`: then
 * every call below routes through lm_redis_cluster.h (same API, same
 * return codes; see its design comment). AUTH (with an ACL user when one is
 * given), SELECT and SCRIPT LOAD of every registered script run on each
 * (re)connect, so scripts survive a Redis restart. A lost connection is
 * dropped and re-dialled on the next exec, with exponential backoff between
 * attempts; until then exec returns LM_REDIS_RETRY. Every connect and
 * command has the configured timeout.
 *
 * Commands about the whole keyspace (SCAN, INFO) have no key to route by:
 * lm_redis_masters, lm_redis_exec_on_master and lm_redis_scan (below) send
 * them to every master of a cluster, and to the one server otherwise; every
 * tool that scans or reads INFO goes through them.
 *
 * Ownership: lm_redis owns its connection; the caller owns lm_pipe and the
 * replies array exec fills (free them with lm_redis_replies_free), or,
 * with lm_redis_exec_in, the arena that holds the replies.
 * Not thread-safe: one lm_redis per thread. */
#ifndef LM_REDIS_H
#define LM_REDIS_H

#include "lm_arena.h"
#include "lm_buf.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define LM_REDIS_RETRY          (-2) /* connection lost or refused: try again later */
#define LM_REDIS_SCRIPTS_MAX    16
#define LM_REDIS_BACKOFF_MIN_MS 50
#define LM_REDIS_BACKOFF_MAX_MS 2000
#define LM_REDIS_MIN_MAJOR      7  /* connect refuses older servers */
#define LM_PIPE_ARGS_MAX        64 /* arguments of one *_strs command */
#define LM_REDIS_SEEDS_MAX      16 /* seed nodes of a redis+cluster:// URL */

typedef struct lm_redis_seed {
    char host[256];
    int port;
} lm_redis_seed;

typedef struct lm_redis_url {
    int is_unix;
    char host[256];
    int port;
    char path[256];
    char user[128];
    char password[256];
    int db;
    /* redis+cluster://: is_cluster, the seeds (host/port above = seeds[0]) */
    int is_cluster;
    int n_seeds;
    lm_redis_seed seeds[LM_REDIS_SEEDS_MAX];
} lm_redis_url;

/* Parses a Redis URL; 0 / -1 with err naming what is wrong and an example.
 * The password never appears in err. A cluster URL takes no database
 * (a cluster has only database 0). */
int lm_redis_url_parse(const char *url, lm_redis_url *out, char *err,
                       size_t errsz);

/* A Lua script. The runtime fills `sha` when it loads the script; the
 * struct is usually a static owned by the worker that declares it. */
typedef struct lm_script {
    const char *lua;
    char sha[41];
} lm_script;

/* A pipeline of formatted commands. Zero-initialise; reuse with reset. */
typedef struct lm_pipe {
    lm_buf buf;
    size_t n; /* commands */
} lm_pipe;

void lm_pipe_reset(lm_pipe *p);
void lm_pipe_free(lm_pipe *p);
/* Appends one command of argc binary-safe arguments. lens may be NULL when
 * every argument is a NUL-terminated string. 0 / -1 (OOM). */
int lm_pipe_cmd(lm_pipe *p, int argc, const char *const *argv,
                const size_t *lens);
/* Collects a NULL-ended list of NUL-terminated strings (arg0, then ap)
 * into argv: the count, or -1 when there are more than LM_PIPE_ARGS_MAX
 * (build the argv yourself then). The *_strs functions use it. */
int lm_strs_collect(const char *arg0, va_list ap,
                    const char *argv[LM_PIPE_ARGS_MAX]);
/* Appends a command from NUL-terminated strings, ended by NULL. -1 also
 * when there are more than LM_PIPE_ARGS_MAX. */
int lm_pipe_cmd_strs(lm_pipe *p, const char *arg0, ...)
    __attribute__((sentinel));
/* Appends one command argument by argument, without an argv array:
 * lm_pipe_begin(p, argc), then exactly argc lm_pipe_arg calls, then
 * lm_pipe_end. On -1 (OOM) the pipeline is unusable: reset it. */
int lm_pipe_begin(lm_pipe *p, size_t argc);
int lm_pipe_arg(lm_pipe *p, const void *data, size_t len);
void lm_pipe_end(lm_pipe *p);
/* Appends EVALSHA of a loaded script: nkeys keys then the arguments, all
 * from argv (argc = nkeys + number of args). */
int lm_pipe_script(lm_pipe *p, const lm_script *s, int nkeys, int argc,
                   const char *const *argv, const size_t *lens);

typedef struct lm_redis lm_redis;

/* Parses url; does not connect. Caller frees with lm_redis_destroy.
 * NULL with err when the URL is bad. */
lm_redis *lm_redis_new(const char *url, int timeout_ms, char *err,
                       size_t errsz);
void lm_redis_destroy(lm_redis *r); /* NULL ok */
/* Registers a script to load on every connect (before the first connect);
 * the caller keeps `s` alive as long as `r`. 0 / -1 (too many). */
int lm_redis_add_script(lm_redis *r, lm_script *s);
/* Connects now (and loads scripts). 0, LM_REDIS_RETRY (unreachable; err
 * says why), or -1 (refused for good: bad password, unknown db, bad
 * script, a server older than Redis 7.0; err says why). */
int lm_redis_connect(lm_redis *r, char *err, size_t errsz);
/* Sends every command of p and reads every reply into replies[0..p->n).
 * 0: all replies read (each may be an error reply: check its type);
 * LM_REDIS_RETRY: connection problem, nothing usable read, replies all
 * NULL; -1: refused for good. Reconnects first when needed, honouring the
 * backoff. */
int lm_redis_exec(lm_redis *r, const lm_pipe *p, redisReply **replies,
                  char *err, size_t errsz);
/* lm_redis_exec with every reply (its strings and arrays included) built
 * in arena `a` instead of one malloc per object (hiredis's reader runs
 * with lastmile's redisReplyObjectFunctions for the call): the replies
 * are valid until the caller resets or frees `a`, and must NOT be given to
 * lm_redis_replies_free or freeReplyObject. On LM_REDIS_RETRY what was
 * read stays in the arena until its reset. One Redis only: on a cluster
 * it returns -1 (use lm_redis_exec). For the workers' hot path (a batch's
 * two round trips); every other caller keeps lm_redis_exec. */
int lm_redis_exec_in(lm_redis *r, const lm_pipe *p, redisReply **replies,
                     lm_arena *a, char *err, size_t errsz);
void lm_redis_replies_free(redisReply **replies, size_t n);
int lm_redis_connected(const lm_redis *r);
/* Drops the connection; the next exec reconnects (and reloads scripts). */
void lm_redis_disconnect(lm_redis *r);
/* Round trips made so far, and the time the last one took (ms). */
uint64_t lm_redis_roundtrips(const lm_redis *r);
double lm_redis_last_rtt_ms(const lm_redis *r);

/* 1 when r names a Redis Cluster (redis+cluster://), else 0. */
int lm_redis_is_cluster(const lm_redis *r);

/* ---- The whole keyspace: every master ----
 * Keys are routed by lm_redis_exec; a command about the whole keyspace
 * (SCAN, INFO, DBSIZE) is not: on a cluster it must be sent to every
 * master and the answers put together. A single Redis is one master. */

/* How many masters: 1 for a single Redis (without connecting); for a
 * cluster, the masters of its slot map (read now when due), numbered
 * 0..n-1 until the next call. n > 0, LM_REDIS_RETRY or -1 with err. */
int lm_redis_masters(lm_redis *r, char *err, size_t errsz);
/* lm_redis_exec with every command of p sent to master i (0 <= i < the
 * last lm_redis_masters), whatever its keys. Returns as lm_redis_exec;
 * on a cluster a lost master makes the next lm_redis_masters read the map
 * again (its replica may have been promoted). */
int lm_redis_exec_on_master(lm_redis *r, int i, const lm_pipe *p,
                            redisReply **replies, char *err, size_t errsz);
/* "host:port" (or the socket's path) of master i into out. 0 / -1. */
int lm_redis_master_name(lm_redis *r, int i, char *out, size_t outsz);

#define LM_REDIS_SCAN_RETRIES  10  /* lost connections retried by a scan */
#define LM_REDIS_SCAN_RETRY_MS 200 /* pause between those retries */

/* A batch of keys from SCAN: an array reply of strings, valid during the
 * call. 0 to go on; nonzero stops the scan (say why in err). */
typedef int (*lm_redis_keys_fn)(void *opaque, const redisReply *keys, char *err,
                                size_t errsz);
/* Walks the whole keyspace: `SCAN cursor MATCH pattern COUNT count` to
 * the end on every master in turn, each batch of keys to fn. A key may
 * come more than once (SCAN's own rule; and after a master is lost the
 * walk starts again from the first master, as its replica's cursor would
 * mean nothing): callers that count must dedupe. A lost connection is
 * retried LM_REDIS_SCAN_RETRIES times, LM_REDIS_SCAN_RETRY_MS apart.
 * 0 (every master walked), or -1 with err (unreachable, an error or
 * unexpected reply, or fn stopped it). */
int lm_redis_scan(lm_redis *r, const char *pattern, int count,
                  lm_redis_keys_fn fn, void *opaque, char *err, size_t errsz);

/* A migration's marker (a key that says a scan found nothing left to
 * move, so later starts skip it): EXISTS of key into *yes (set 0), or
 * SET key "1" (set 1; *yes then 1). 0, or -1 with err (unreachable, or
 * an error reply). */
int lm_redis_marker(lm_redis *r, const char *key, int set, int *yes, char *err,
                    size_t errsz);

#endif
