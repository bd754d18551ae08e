/* timing_queue.h — what a closing lead gives back: its account's open
 * count, its place in its team's unassigned queue, its owner's slot
 * (docs/ROUTING.md).
 *
 * When timing closes a lead that held a slot of owner O in team T (the
 * SREM of O's open set, lm_timing_close_lead), the closing message emits
 * a SlotFreed {T, O, lead} on lastmile.timing keyed "team:G" (G: T's
 * overflow group, timing_slot_group), id "<lead>:freed": every freed slot
 * of a group goes to one partition, so one timing replica at a time gives
 * them to the oldest waiting leads (timing_slot.h). Why not here: a closing
 * lead's batch runs on the lead's partition, so two replicas closing leads of
 * one team at once would both read the queue's head, and on a Redis Cluster
 * nothing in a lead's batch can guard the team's keys (they are on the team's
 * slot, not the lead's): both gave the same waiting lead away (DELIVERY.md,
 * "Known limits", before 2026-12-05).
 *
 * A lead that closes while it waits (stage "unassigned") leaves its queue:
 * the member is the pending decision's only copy, so it is found by its
 * score (the lead's decided_at) and its first bytes (the packed
 * decision_id "<lead_id>:decision:assigned", field 1) in one EVAL on the
 * queue's key; a lead queued before that layout has its member on its
 * hash (pending_decision) and leaves by ZREM of it.
 *
 * Reads: none of its own (the closing lead's hash fields, read by timing).
 * Writes: idempotent index commands, and the SlotFreed output; all in the
 * closing message's outputs, so effectively once. Not a public API
 * (workers/timing/ only); the worker's one thread. */
#ifndef TIMING_QUEUE_H
#define TIMING_QUEUE_H

#include "lm_policy.h"
#include "lm_runtime.h"

#include <stddef.h>

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

/* Called where a closing lead releases its owner's load: its account's
 * open count falls, a lead that was waiting leaves its queue, and a slot
 * it held is announced (SlotFreed) to its team's partition. 0 / -1. */
int timing_queue_release(const lm_policy *p, const lm_msg *m,
                         const timing_queue_lead *l, lm_out *out);

#endif
