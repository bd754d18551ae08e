/* qual_migrate.h — moving the account records of a deployment from before
 * issue 16 to their two string keys, at qualification's start.
 *
 * Before: one hash per company domain, "lm:{acct:<domain>}" with fields
 * owner, team and open (the account's open assigned leads). Now: the
 * string "lm:{acct:<domain>}:owner", "<team>:<owner>", and the integer
 * string "lm:{acct:<domain>}:open_count" (lm_lead.h), so qualification
 * reads both in its batch's MGET. The keys "lm:{acct:<domain>}:open" and
 * ":deals" (sets) are another matter and stay as they are.
 *
 * Exactly once, whatever dies when: each old hash is moved by one script
 * that reads it, adds its open count to the count key (INCRBY: a count an
 * upgraded replica already wrote there is kept, added to), writes its
 * owner unless the owner key exists (SET NX: an owner an upgraded replica
 * wrote is newer and wins) and deletes it, atomically (a script is applied
 * whole or not at all, in the AOF as in memory). A run that dies half way
 * has moved some hashes whole and left the others whole; the next run
 * moves the rest. A hash moved is gone, so a second run (or a second
 * replica at the same time) finds nothing to add twice. An old replica
 * still running during a rolling upgrade may write an old hash again
 * after it was moved: see the marker below. A hash whose open is not an
 * integer (or whose count would overflow, or whose name leaves no room
 * for its new keys in LM_KEY_MAX) is left untouched and counted as
 * skipped; an owner whose team holds a ':' cannot be written as
 * "<team>:<owner>" and is dropped (never seen: team names hold none).
 *
 * Finding the old hashes takes a SCAN of the whole keyspace (every master
 * of a cluster: account hashes existed on clusters too); a start whose
 * SCAN moved nothing sets QUAL_MIGRATE_SCANNED_KEY, and later starts skip
 * the SCAN (DEL it to scan again: an old replica that wrote after that
 * start). On a cluster every script goes to its own key's master: its
 * three keys share the hash tag {acct:<domain>}, and lm_redis_exec routes
 * each command of a pipeline by its first key (lm_redis_cluster.h).
 *
 * Ownership: the caller owns r (connected or not; exec connects).
 * Threads: the caller's; blocking I/O. */
#ifndef QUAL_MIGRATE_H
#define QUAL_MIGRATE_H

#include "lm_redis.h"

#include <stddef.h>

/* Set by the first start whose SCAN moved nothing (see above). */
#define QUAL_MIGRATE_SCANNED_KEY "lm:migrated:account_strings"

typedef struct qual_migrated {
    size_t accounts;   /* old hashes moved (and deleted) */
    size_t owners;     /* owner keys written (an existing one is kept) */
    long long skipped; /* old hashes left as they were (see above) */
} qual_migrated;

/* Moves every old account hash of r (see above) and fills *out. 0, or -1
 * with err (Redis unreachable or an error reply: hashes moved so far stay
 * moved; run it again). */
int qual_migrate(lm_redis *r, qual_migrated *out, char *err, size_t errsz);

/* The worker's start hook (lm_worker.start): qual_migrate, then one log
 * line "accounts_migrated" saying what moved (none when nothing did or
 * was skipped; WARN when a hash was skipped). */
int qual_migrate_start(void *ctx, lm_redis *r, char *err, size_t errsz);

#endif
