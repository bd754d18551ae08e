/* timing_queue.h — a freed slot goes to the team's oldest unassigned lead
 * (docs/ROUTING.md).
 *
 * When timing closes a lead that held a slot of owner O in team T (the
 * SREM of O's open set), the slot goes at once to the oldest lead waiting
 * in T's unassigned queue (lm:{team:T}:unassigned, filled by
 * qualification), if O is available and now below capacity: SADD to O's
 * set, ZREM from the queue, the waiting lead's hash updated, and its
 * QualificationDecision (reason "slot_freed", decision_id
 * "<lead_id>:decision:assigned", packed by qualification when it queued
 * the lead) emitted on lastmile.followup with O as owner, and a lead of a
 * company account joins that account (timing_queue_acct.h) — all in the
 * closing message's outputs, so effectively once: a redelivered close is
 * recovered from its done record and assigns nothing again.
 *
 * Why this keeps capacity a hard limit without watching the open sets:
 * the close and the assignment are one exchange (one lead out, one in) in
 * one transaction, so they never raise O's load; qualification, which
 * raises loads, watches the open sets and is decided again when this
 * exchange changed them. Two timing replicas cannot take the same waiting
 * lead: the queues are watched (lm_plan_watch), and the second EXEC is
 * refused. A lead that closes while it waits (stage "unassigned") leaves
 * the queue: the member is the decision's only copy, so it is found by
 * its score (the lead's decided_at) and its first bytes (the packed
 * decision_id "<lead_id>:decision:assigned", field 1) in one EVAL on the
 * queue's key; a lead queued before that layout has its member on its
 * hash (pending_decision) and leaves by ZREM of it. When T's
 * queue is empty, the slot goes to the oldest waiting lead of a team
 * whose overflow is T (it waited because T was full too).
 *
 * O is not available while away (OwnerStatus AWAY, or a configured
 * out_of_office window: lm_route_owner_away); the slot then stays free
 * for a new lead or the team's next close.
 *
 * Reads (plan_batch): WATCH of every team's queue, its first
 * LM_TIMING_QUEUE_HEADS members, and every owner's load (SCARD) and
 * run-time state (HMGET lm:{owner:<hash>}:state status until).
 * Ownership: a timing_queue is the worker's (timing_ctx), made at init,
 * freed at fini; the policy is borrowed. One thread. */
#ifndef TIMING_QUEUE_H
#define TIMING_QUEUE_H

#include "lm_policy.h"
#include "lm_route.h"
#include "lm_runtime.h"

#include <stddef.h>
#include <stdint.h>

#define LM_TIMING_QUEUE_HEADS 32 /* waiting leads read per team a batch */

typedef struct timing_queue_head {
    uint8_t *data; /* the packed pending decision (the queue's member) */
    size_t len;
    int taken; /* given a slot (or closed) in this batch */
} timing_queue_head;

typedef struct timing_queue {
    const lm_policy *policy;
    size_t n_teams;
    int64_t **loads;           /* [team][owner], as read, plus this batch */
    timing_queue_head **heads; /* [team][LM_TIMING_QUEUE_HEADS] */
    size_t *n_heads;           /* [team] */
    /* [team][owner]: until_ms of an AWAY state (0 = until BACK), or -1
       when not AWAY, as read for the batch */
    int64_t **away_until;
} timing_queue;

/* What the closing lead's hash says about its slot and its account. */
typedef struct timing_queue_lead {
    const char *lead_id;
    const char *team, *owner; /* NULL or "" when none */
    const char *holds;        /* LM_F_HOLDS, NULL for leads before it */
    const char *decision;     /* LM_F_DECISION */
    const char *account;      /* LM_F_ACCOUNT or NULL */
    const char *pending;      /* LM_F_PENDING (binary) or NULL: queued
                                 before issue 16 */
    size_t pending_len;
    const char *stage;      /* LM_F_STAGE: "unassigned" while it waits */
    const char *decided_at; /* LM_F_DECIDED: its score in the queue */
} timing_queue_lead;

int timing_queue_init(timing_queue *q, const lm_policy *p, char *err,
                      size_t errsz);
void timing_queue_free(timing_queue *q);
int timing_queue_plan_batch(timing_queue *q, lm_plan *p);
void timing_queue_begin_batch(timing_queue *q, const lm_reads *reads);
/* Called where a closing lead releases its owner's load: its account's
 * open count falls, a lead that was waiting leaves its queue, and a slot
 * it freed goes to its team's oldest waiting lead. 0 / -1. */
int timing_queue_release(timing_queue *q, const lm_msg *m,
                         const timing_queue_lead *l, lm_out *out);

#endif
