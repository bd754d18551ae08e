/* qual_route.h — qualification's owner assignment (docs/ROUTING.md).
 *
 * The state a batch shares: every owner's load (open leads holding a
 * slot), read once a batch under WATCH (lm_plan_watch), so that two
 * replicas deciding at the same moment cannot both take an owner's last
 * slot: the second EXEC is refused and its batch decided again from fresh
 * loads. Each assignment adds to the loads here, so the leads of one batch
 * see each other. The owners' run-time states (AWAY/BACK) are read and
 * watched with the loads; an away owner is skipped. The choice itself is the
 * domain's (lm_route_choose); this file turns it into reads and writes:
 *   assigned    SADD lm:{team:<t>}:open:<owner> (when it takes a slot);
 *               the account's open count, its owner and team when
 *               they change (read by the plan);
 *   unassigned  ZADD lm:{team:<t>}:unassigned <now> <the pending decision>
 *               (the QualificationDecision timing emits with reason
 *               "slot_freed" when an owner of the team frees a slot).
 *
 * Ownership: a qual_route is the worker's (qual_ctx), created at init and
 * freed at fini; the policy is borrowed. One thread (the worker's). */
#ifndef QUAL_ROUTE_H
#define QUAL_ROUTE_H

#include "lm_policy.h"
#include "lm_route.h"
#include "lm_runtime.h"
#include "lm_strmap.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdint.h>

typedef struct qual_route {
    const lm_policy *policy;
    size_t n_teams;
    int64_t **loads; /* [team][owner]: as read for the batch, plus its own */
    /* [team][owner]: the run-time state as read for the batch (OwnerStatus,
       lm:{owner:<hash>}:state): until_ms of an AWAY (0 = until BACK), or
       -1 when not AWAY (BACK, or no state) */
    int64_t **away_until;
    uint64_t *rr; /* [team]: this process's round-robin counters */
    /* the company domains whose account record this batch wrote (cleared
       by qual_route_begin_batch; owned) */
    lm_strmap *accounts;
} qual_route;

/* The result of routing one lead. */
typedef struct qual_routed {
    const lm_team *team;
    const char *owner; /* "" when unassigned; the policy's string */
    int unassigned;
    int takes_slot;
    lm_route_why why;
    char account[128]; /* the company domain, "" when none */
} qual_routed;

int qual_route_init(qual_route *r, const lm_policy *p, char *err, size_t errsz);
void qual_route_free(qual_route *r); /* zeroed after; NULL-safe fields */
/* WATCH of every owner's open set and state key, then per owner (every
 * team, config order) an SCARD of the open set and an HMGET of the state
 * (status, until). 0 / -1. */
int qual_route_plan_batch(qual_route *r, lm_plan *p);
/* The replies to qual_route_plan_batch. An unreadable load makes that
 * owner unavailable for the batch (LM_QUAL_LOAD_UNREADABLE); an owner
 * AWAY at the lead's time (or in a configured out_of_office window) gets
 * no lead (lm_route_owner_away, checked per lead). */
void qual_route_begin_batch(qual_route *r, const lm_reads *reads);
/* The lead's own reads: its account's owner and open count (two
 * lm_plan_get: lm:{acct:<domain>}:owner and :open_count) when accounts
 * route or pause by it and the domain is a company's. */
int qual_route_plan(qual_route *r, const Lastmile__V1__LeadAccepted *l,
                    lm_plan *p);
/* Routes the lead (kind QUALIFIED or NURTURE, rules' team t) and queues
 * the writes of an assignment (open set, account, the lead hash's routing
 * fields). For an unassigned lead it writes nothing yet: see
 * qual_route_enqueue. 0 / -1 (an lm_out call failed). */
int qual_route_assign(qual_route *r, const lm_msg *m,
                      const Lastmile__V1__LeadAccepted *l, const lm_team *t,
                      int nurture, lm_out *out, qual_routed *res);
/* Puts an unassigned lead in its team's queue: `pending` is the decision
 * to emit once an owner has room, packed as the queue's member (its only
 * copy) with score m->now_ms, which the caller also writes as the lead's
 * LM_F_DECIDED: a lead closed while waiting leaves the queue by that
 * score and its decision id (workers/timing/timing_queue.c). The lead hash
 * gets stage "unassigned", its team, no owner. 0 / -1. */
int qual_route_enqueue(const lm_msg *m, const char *lead_id, const lm_team *t,
                       const Lastmile__V1__QualificationDecision *pending,
                       lm_out *out);

/* An owner whose open set cannot be read (a key of another type): so high
 * that the owner gets no lead that takes a slot in this batch. */
#define LM_QUAL_LOAD_UNREADABLE (INT64_MAX / 4)

#endif
