/* faults_common.h — what the fault tests share (test_faults.c,
 * test_hostile.c, test_chaos.c; suite `faults`; and test_cluster_failover.c):
 * the fixture, the worker names, the delivery-rule check and probes of the
 * stack (worker logs, /readyz, committed and log-end offsets, Redis keys
 * and timer sets). faults_common.c is linked into those four binaries only
 * (tests/CMakeLists.txt).
 *
 * State: one fixture `fx` and one `want_people` per test process (Criterion
 * runs each test in its own process); teardown stops that fixture. Single
 * thread, the test's. Helpers that fail say so (-1) or assert, as noted. */
#ifndef LM_FAULTS_COMMON_H
#define LM_FAULTS_COMMON_H

#include "market.h"

#include <stddef.h>
#include <stdint.h>

#define FAULT_SCALE   400000 /* simulated s per real s, as test_pipeline */
#define FAULT_PEOPLE  1000
#define FAULT_DUPS    20
#define FAULT_INVALID 10
#define FAULT_RESPOND 0.3
#define N_WORKERS     4

/* The test's stack; every test brings it up and uses .fini = teardown. */
extern fixture fx;

/* Leads the running test expects accepted: all_closed and some_outcomes
 * compare against it. */
extern size_t want_people;

/* The workers in fixture_start_all's order (their log files' names). */
extern const char *const worker_names[N_WORKERS];

/* Stops fx (fixture_down). */
void teardown(void);

/* Wall-clock time in ms (gettimeofday). */
int64_t wall_ms(void);

/* Market predicates: every wanted lead accepted and closed / an eighth of
 * them closed. */
int all_closed(const market *m);
int some_outcomes(const market *m);

/* Pumps a few more rounds so that anything late reaches the ledger. */
void settle(market *m);

/* The delivery rule (each lead accepted, decided and closed once, no
 * action twice, `invalid` dead letters, no off-hours touch, no record
 * written twice), as the test's consumers saw it; cr_expect on each, on
 * one Redis and on a Redis Cluster alike; prints the figures. */
void check_once(const market *m, size_t people, size_t invalid,
                const char *what);

/* A whole file as a NUL-terminated buffer (caller frees), its length in
 * *len (len may be NULL); NULL when it cannot be read. */
char *slurp(const char *path, size_t *len);

/* Occurrences of needle in every worker log of the run. */
size_t count_in_logs(const char *needle);

/* HTTP status of GET path on 127.0.0.1:port; -1 when nothing answers. */
int http_status(int port, const char *path);

/* Sum of the committed offsets of `group` on lastmile.<topic_suffix>
 * (partitions without a commit count 0); -1 on error. */
int64_t committed_sum(const char *group, const char *topic_suffix,
                      int partitions);

/* Sum of the log-end offsets of lastmile.<topic_suffix>; -1 on error. */
int64_t topic_end(const char *topic_suffix, int partitions);

/* Raw bytes (copied) onto lastmile.<topic_suffix> with the fixture's
 * producer; asserts the produce call succeeded. */
void produce_raw(const char *topic_suffix, const char *key, const void *val,
                 size_t len);

/* Distinct Redis keys matching a pattern (SCAN on every master of a
 * cluster: fixture_redis_keys); -1 on error. */
long long redis_count_keys(const char *pattern);

/* Members of the timer sets, {pending, claimed} summed over the buckets;
 * 0, or -1 when Redis cannot be reached. */
int redis_timers(long long *pending, long long *claimed);

/* Restarts slot `slot` with the same worker, in the same slot; the new
 * slot index (>= 0) or -1, as fixture_start_worker. */
int restart_in_slot(int slot);

#endif
