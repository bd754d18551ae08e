/* timing_slot.h — a freed slot goes to the team's oldest waiting lead
 * (docs/ROUTING.md).
 *
 * Input: the SlotFreed {T, O, lead} a closing lead announced
 * (timing_queue.h), on lastmile.timing keyed "team:G", G the first team
 * of T's overflow group (timing_slot_group: the teams overflow links
 * join, since a slot of T may take a waiting lead of a team overflowing
 * into T). Its hash tag is "team:G" too (id "<lead>:freed"), so every
 * SlotFreed of the group is on one partition, decided by one replica at
 * a time, one per batch (two inputs with one tag never share a batch: the
 * runtime leaves the second for the next, which reads what the first gave
 * away). So two replicas never give away the same waiting lead, on one
 * Redis or on a Redis Cluster, where nothing else could guard the queues
 * (they are on the teams' slots; the hand-out's writes are idempotent
 * side writes there, applied once the SlotFreed's done record is).
 *
 * Reads (plan): WATCH of T's queue, of the queues of the teams that
 * overflow into T and of O's open set (on one Redis a qualification that
 * queues a lead or gives O one meanwhile refuses the EXEC and the batch
 * is decided again from the new state, so O never goes over capacity; on
 * a cluster a PING: per replica there, as qualification's own watch, see
 * DELIVERY.md), the first LM_TIMING_SLOT_HEADS members of each queue, O's
 * load (SCARD of its open set) and run-time state (HMGET
 * lm:{owner:<hash>}:state status until).
 *
 * Decision: when O is available (not AWAY, not in an out_of_office
 * window: lm_route_owner_away) and below capacity, the oldest waiting lead
 * of T, else of a team whose overflow is T (it waited because T was full
 * too), gets O: SADD to O's set, ZREM from its queue, its hash updated
 * (owner, team, stage followup, holds_slot), and its QualificationDecision
 * (reason "slot_freed", decision_id "<lead_id>:decision:assigned", packed
 * by qualification when it queued the lead) emitted on lastmile.followup
 * with O as owner; a lead of a company account joins that account
 * (timing_queue_acct.h). A member that is not such a decision is dropped
 * from its queue and the next one tried. Otherwise the slot stays free for
 * a new lead or the team's next close. A team or owner no longer in the
 * decisions file gives nothing away.
 *
 * Cost: one hand-out per batch per overflow group (a slot frees when a
 * lead closes: far fewer than leads arrive).
 *
 * Not a public API (workers/timing/ only); the worker's one thread. */
#ifndef TIMING_SLOT_H
#define TIMING_SLOT_H

#include "lm_policy.h"
#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

#define LM_TIMING_SLOT_HEADS 8 /* waiting leads read per queue */

/* The team whose name keys and tags the SlotFreed of team `team`: the
 * first team, in the decisions file's order, of the teams its overflow
 * links join (X overflows into T, or T into X, and on), or the team
 * itself; `team` when unknown. The same for every team of the group, so
 * their SlotFreed share one partition and, with one tag, one batch at a
 * time: a slot of T may take a waiting lead of X. Into out
 * (LM_POLICY_NAME_MAX). */
void timing_slot_group(const lm_policy *p, const char *team, char *out);
/* 1 when ev is a SlotFreed. */
int timing_slot_event(const Lastmile__V1__TimingEvent *ev);
/* Its tag and id; -1 with reason (what, and how to fix) when it cannot be
 * placed. */
int timing_slot_identify(const lm_policy *p, const Lastmile__V1__SlotFreed *s,
                         lm_ident *ident, char *reason, size_t reasonsz);
/* Its reads (above), replies from 0. 0 / -1. */
int timing_slot_plan(const lm_policy *p, const Lastmile__V1__SlotFreed *s,
                     lm_plan *plan);
/* Its decision. 0 / -1 (an lm_out call failed). */
int timing_slot_handle(const lm_policy *p, const lm_msg *m, lm_out *out,
                       const Lastmile__V1__SlotFreed *s);

#endif
