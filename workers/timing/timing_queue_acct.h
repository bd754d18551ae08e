/* timing_queue_acct.h — a waiting lead that takes a freed slot joins its
 * company account (docs/ROUTING.md, "An account's reply pauses its other
 * cadences"; issue 13).
 *
 * qualification puts an assigned lead of a company account into the
 * account's open leads (lm:{acct:<domain>}:open, where
 * accounts.pause_on_reply finds the colleagues to pause), raises the
 * account's open count and writes the lead hash's account; a lead that
 * waits unassigned gets none of these until it has an owner. timing_slot
 * calls this where it gives such a lead a freed slot, so the same writes
 * go into the same outputs (one transaction) as the assignment.
 *
 * Idempotent: one EVAL on the account's two keys (one hash tag: one slot
 * on a cluster) adds the lead to the set and raises the count only when
 * the lead was not a member yet; it writes the account's owner and team
 * (the last assigned lead's, as qualification does). The hash's account
 * makes the lead's close leave the set and lower the count
 * (timing_account_on_close, timing_queue_release).
 *
 * A colleague's deal that is already live: with pause_on_reply the join
 * emits account_join (timing_account.h), whose handling reads the
 * account's live deals and holds the lead when one is live (the freed
 * slot's batch does not read them; qualification does for its own).
 *
 * Not a public API (workers/timing/ only); the worker's one thread. */
#ifndef TIMING_QUEUE_ACCT_H
#define TIMING_QUEUE_ACCT_H

#include "lm_policy.h"
#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

/* The waiting lead `d` (borrowed) of message m's outputs takes a slot of
 * `owner` in `team`: with accounts.same_owner or accounts.pause_on_reply and a
 * company email domain, its account writes go into out. 0 / -1 (an output
 * failed). */
int timing_queue_acct_join(const lm_policy *p, const lm_msg *m,
                           const Lastmile__V1__QualificationDecision *d,
                           const char *owner, const char *team, lm_out *out);

#endif
