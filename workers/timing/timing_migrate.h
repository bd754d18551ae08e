/* timing_migrate.h — moving the learned counts and the SLA counts of a
 * deployment from before issue 17 to their spread layout, at timing's
 * start.
 *
 * Before: every learned level in "lm:{learn}:slots:<where>|<context>" and
 * every SLA count in the one hash "lm:{sla}:by_owner" (one hash tag each:
 * one slot of a Redis Cluster). Now: "lm:{learn:<where>|<context>}:slots"
 * (lm_learn.h) and the LM_SLA_STATS_BUCKETS hashes "lm:{sla:<b>}:by_owner"
 * (lm_sla.h). Old keys exist only on a single Redis (the workers never
 * ran on a cluster before this layout), so on a cluster nothing is done.
 *
 * Exactly once, whatever dies when: each old key is moved by one script
 * that reads it, adds every field to its new key (HINCRBY: counts already
 * written under the new name by an upgraded replica are kept, added to)
 * and deletes it, atomically (a script is applied whole or not at all,
 * in the AOF as in memory). A run that dies half way has moved some keys
 * whole and left the others whole; the next run moves the rest. A key
 * moved is gone, so a second run (or a second replica at the same time)
 * finds nothing to add twice. An old replica still running during a
 * rolling upgrade may write an old key again after it was moved: the next
 * start of any timing replica moves that too. A field whose value is not
 * an integer is left in the old key, untouched, and counted as skipped
 * (never seen: only timing writes these).
 *
 * Finding the old learned hashes takes a SCAN of the whole keyspace; a
 * start whose SCAN found nothing to move (no old hash, or only skipped
 * fields) sets TIMING_MIGRATE_SCANNED_KEY, and later
 * starts skip the SCAN (DEL it to scan again: an old replica that wrote
 * after that start). The one old SLA hash is looked at every start.
 *
 * Ownership: the caller owns r (connected or not; exec connects).
 * Threads: the caller's; blocking I/O. */
#ifndef TIMING_MIGRATE_H
#define TIMING_MIGRATE_H

#include "lm_redis.h"

#include <stddef.h>

/* Set by the first start that found no old learned hash (see above). */
#define TIMING_MIGRATE_SCANNED_KEY "lm:migrated:learn_spread"

typedef struct timing_migrated {
    size_t learn_keys;      /* old learned-count hashes moved */
    long long learn_fields; /* their fields added to the new keys */
    int sla_key;            /* 1 when the old SLA hash was moved */
    long long sla_fields;   /* its fields added to the buckets */
    long long skipped;      /* fields left behind: not an integer */
} timing_migrated;

/* Moves every old key of r (see above) and fills *out. 0, or -1 with err
 * (Redis unreachable or an error reply: keys moved so far stay moved; run
 * it again). */
int timing_migrate(lm_redis *r, timing_migrated *out, char *err, size_t errsz);

/* The worker's start hook (lm_worker.start): timing_migrate, then one log
 * line "keys_migrated" saying what moved (none when nothing did). */
int timing_migrate_start(void *ctx, lm_redis *r, char *err, size_t errsz);

#endif
