/* unassigned.h — the unassigned queues, as `lastmile waiting` and the
 * board show them (docs/ROUTING.md).
 *
 * A full team's leads wait in lm:{team:<team>}:unassigned (a sorted set:
 * score the decision time, member the packed decision qualification left
 * for timing). lm_unassigned_read finds every team's queue (SCAN), counts
 * it and names its oldest lead. Read-only; single-threaded; the caller's
 * Redis connection. */
#ifndef LM_CLI_UNASSIGNED_H
#define LM_CLI_UNASSIGNED_H

#include "lm_lead.h"
#include "lm_policy.h"
#include "lm_redis.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define LM_UNASSIGNED_TEAMS_MAX 128

typedef struct lm_unassigned_team {
    char team[LM_POLICY_NAME_MAX + 1];
    int64_t count;
    int64_t oldest_ms; /* the oldest lead's decision time (simulated) */
    char oldest_lead[LM_LEAD_ID_MAX];
} lm_unassigned_team;

/* Fills out (up to cap, teams in name order) with every non-empty queue;
 * the count, or -1 with err (Redis unreachable, a reply of another
 * shape). */
int lm_unassigned_read(lm_redis *r, lm_unassigned_team *out, size_t cap,
                       char *err, size_t errsz);
/* The queues as a JSON array of {team, count, oldest_lead, oldest_age_s}
 * (new reference), ages against now_ms. */
json_t *lm_unassigned_json(const lm_unassigned_team *t, size_t n,
                           int64_t now_ms);

#endif
