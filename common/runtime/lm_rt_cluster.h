/* lm_rt_cluster.h — a worker's batch on a Redis Cluster: the pure parts
 * (reading commands back out of RESP, grouping keys by slot, encoding the
 * guarded units and the marked side writes as EVALSHA of the runtime's
 * scripts), kept apart from the runtime so they are unit-tested alone
 * (tests/unit/test_rt_cluster.c). The batch's steps that use them are in
 * lm_rt_cluster.c; the design is docs/DELIVERY.md, "On a Redis Cluster".
 *
 * The two scripts (LM_RTC_UNIT_LUA, LM_RTC_SIDE_LUA) take the commands
 * they run as ARGV, each as its argument count then its arguments, and
 * declare every key those commands name in KEYS (after their own keys), so
 * the cluster routes them and refuses a unit whose keys span slots:
 *   unit: KEYS = the guards (done records), then the commands' keys;
 *         ARGV = the number of guards, then the commands. Refused whole
 *         (error reply "LMDONE <key>") when a guard exists; else every
 *         command runs with redis.pcall and the reply is an array of
 *         their replies, one each, errors in place, as EXEC's;
 *   side: KEYS = the marker, then the commands' keys; ARGV = the marker's
 *         TTL in ms, then the commands. 0 when the marker was there
 *         (applied before); else it sets the marker (NX, PX) and runs the
 *         commands with redis.pcall: {1, failed commands, first error}.
 *
 * Ownership: nothing is allocated here except into the caller's lm_pipe;
 * parsed arguments point into the caller's buffer. Threads: any. */
#ifndef LM_RT_CLUSTER_H
#define LM_RT_CLUSTER_H

#include "lm_redis.h"
#include "lm_redis_cluster.h"

#include <stddef.h>
#include <stdint.h>

#define LM_RTC_ARGS_MAX 256 /* arguments of one command a batch writes */

/* The guard's refusal, at the start of the unit script's error reply. */
#define LM_RTC_REFUSED "LMDONE"

extern const char LM_RTC_UNIT_LUA[];
extern const char LM_RTC_SIDE_LUA[];

/* One command read back from a RESP buffer; args point into it. */
typedef struct lm_rtc_cmd {
    lm_rcluster_arg args[LM_RTC_ARGS_MAX];
    size_t argc;
    size_t len; /* its bytes in the buffer */
} lm_rtc_cmd;

/* Reads the command at buf[0..len) (`*argc\r\n` then `$n\r\n<n bytes>\r\n`
 * each). 0, or -1 when it is not one (truncated, malformed, more than
 * LM_RTC_ARGS_MAX arguments). */
int lm_rtc_next(const char *buf, size_t len, lm_rtc_cmd *c);

/* The hash tag of a key: what is between its first '{' and the next '}'
 * when not empty, else the whole key (the part its slot is computed
 * from). */
void lm_rtc_tag(const char *key, size_t len, const char **tag, size_t *tlen);

/* 1 when the command runs a script (EVAL, EVALSHA, FCALL...): a script
 * cannot call those, so they are sent as they are, outside the side
 * script (their Lua must be idempotent: see lm_rt_cluster.c). */
int lm_rtc_is_script(const lm_rtc_cmd *c);

/* The slot of the command's first key, or -1 when it has none. */
int lm_rtc_cmd_slot(const lm_rtc_cmd *c);

/* Appends `EVALSHA sha` of a unit or side script to out: KEYS = lead_keys
 * then the keys of every command in cmds[0..cmds_len) (n_cmds commands,
 * RESP), ARGV = lead_args then each command's argument count and
 * arguments. 0; -1 on OOM or a command that does not parse (out is then
 * unusable: reset it). */
int lm_rtc_pipe_script(lm_pipe *out, const char *sha,
                       const lm_rcluster_arg *lead_keys, size_t n_lead_keys,
                       const lm_rcluster_arg *lead_args, size_t n_lead_args,
                       const char *cmds, size_t cmds_len, size_t n_cmds);

/* How often a master with fewer replicas online than wanted is asked
 * again (ROLE) whether they are back, while it stays short. */
#define LM_RTC_ROLE_EVERY_MS 1000

/* What the batch knows of one master's replicas (lm_rt_cluster_side.c
 * keeps one per master it has seen, by name). */
typedef struct lm_rtc_master {
    char name[64];    /* "host:port" */
    int online;       /* replicas its ROLE listed, -1 never asked */
    int64_t asked_ms; /* when (monotonic) */
} lm_rtc_master;

/* The replicas a master's ROLE reply lists (["master", offset, [[ip,
 * port, offset], ...]]; Redis lists only the online ones, those a WAIT
 * can count), or -1 when r is not a master's ROLE. */
int lm_rtc_role_replicas(const redisReply *r);

/* How many replicas to WAIT for on a master: `want`
 * (LASTMILE_REDIS_WAIT_REPLICAS), capped at the replicas it has online
 * when that is known (online >= 0). 0: no WAIT on that master. */
int lm_rtc_wait_target(int want, int online);

#endif
