/* timing_account.h — accounts.pause_on_reply in timing (docs/ROUTING.md,
 * "An account's reply pauses its other cadences").
 *
 * With `accounts: { pause_on_reply: true }`, when a lead of a company
 * account answers positively (REPLIED or MEETING_BOOKED: the hand-off) the
 * account's other open leads' cadences pause while its deal is live. They
 * resume (the next step chosen from now) when the deal ends without a sale
 * (LOST, NOT_INTERESTED after the hand-off, or the deal window), and close
 * NO_RESPONSE when it ends in a sale (CONVERTED: the account bought; their
 * own cadences would now be noise, and a closed lead frees its slot).
 *
 * The account's open leads are the set lm:{acct:<domain>}:open
 * (lm_lead_account_open_key): qualification adds a lead in the transaction
 * that assigns it, timing removes it in the one that closes it.
 *
 * Two hops, each a TimerFired on lastmile.timing emitted in the outputs of
 * the message before it, with a deterministic id (effectively once):
 *   1. about the answering lead A, kind account_pause | account_resume |
 *      account_end, timer_id "<A>:<kind>:<domain>" (the id): planned alone
 *      (SMEMBERS of the account's open set and of its live deals,
 *      lm:{acct:<domain>}:deals), handled by adding A to the live deals
 *      (pause) or removing it (resume, end) and emitting hop 2 for every
 *      other member B — but a resume while another colleague's deal is
 *      still live releases nobody (the last deal to end does);
 *   2. about B, kind account_hold | account_release | account_close,
 *      timer_id "<B>:<kind>:<A>" (the id): planned as any event of B's
 *      (its hash), handled:
 *        hold     B open, not handed off, not paused: its pending touch
 *                 taken back (CANCEL, reason "account_paused"), its
 *                 response timer cancelled, its owner deadline ended
 *                 (sla_level done), paused_by = A, stage paused;
 *        release  B paused (by A or by a colleague whose deal ended
 *                 before A's): paused_by removed; the next step (step
 *                 + 1) from now, NextTouch "<B>:touch:<n>:after:<A>" (a
 *                 touch taken back is not sent again); past the cadence's
 *                 end: closed NO_RESPONSE;
 *        close    B open, not handed off (paused or not): its pending
 *                 touch taken back, closed NO_RESPONSE.
 * A lead assigned while a deal is live is paused by qualification
 * (paused_by "account", LM_PAUSED_ACCOUNT) after its first touch's
 * decision. A lead B that waited unassigned and joins its account with a
 * freed slot (timing_queue_acct.h) emits account_join (hop 1, id
 * "<B>:account_join:<domain>", planned as the others): when a deal of a
 * colleague A is live, it emits the account_hold "<B>:account_hold:<A>"
 * (A the smallest such lead id), so B waits for the deal's end like the
 * others (the same id as A's own pause would give it: once). A paused lead that
 * answers itself is handled as any lead (its own hand-off). followup sends no
 * NextTouch of a paused lead; timing moves no paused lead on when a response
 * timer of it fires.
 *
 * Not a public API (workers/timing/ only). The worker's one thread. */
#ifndef TIMING_ACCOUNT_H
#define TIMING_ACCOUNT_H

#include "timing_internal.h"

#define LM_ACCT_PAUSE   "account_pause"
#define LM_ACCT_RESUME  "account_resume"
#define LM_ACCT_END     "account_end"
#define LM_ACCT_HOLD    "account_hold"
#define LM_ACCT_RELEASE "account_release"
#define LM_ACCT_CLOSE   "account_close"
/* hop 1 of a lead that joined its account from the unassigned queue */
#define LM_ACCT_JOIN "account_join"

/* 1 when the event is one of the six kinds above. */
int timing_account_event(const Lastmile__V1__TimingEvent *ev);
/* The id (the timer_id) and tag (the lead's) of such an event, or -1
 * with the field named in reason. */
int timing_account_identify(const Lastmile__V1__TimerFired *t, lm_ident *ident,
                            char *reason, size_t reasonsz);
/* A hop-1 event plans its own reads (the account's set): 1 and *rc the
 * plan's result; 0 for anything else (timing plans it as ever). */
int timing_account_plan_alone(const Lastmile__V1__TimingEvent *ev, lm_plan *p,
                              int *rc);
/* Handles an event of timing_account_event. 0, -1 on an output failure. */
int timing_account_handle(timing_ctx *c, const lm_msg *m, lm_out *out,
                          const Lastmile__V1__TimerFired *t);

/* Hooks. The lead handed off (timing_deal.c): with pause_on_reply and a
 * company account, marks it and emits account_pause. 0 / -1. */
int timing_account_on_reply(timing_ctx *c, const lm_msg *m, lm_out *out,
                            const char *lead_id);
/* A waiting lead joined its company account `domain` with a freed slot
 * (timing_queue_acct.c): with pause_on_reply, emits account_join. 0 / -1. */
int timing_account_on_join(const lm_policy *p, const lm_msg *m, lm_out *out,
                           const char *lead_id, const char *domain);
/* The lead closes with `status` (lm_timing_close_lead): it leaves its
 * account's set; with pause_on_reply, a sale emits account_end, another
 * end of a deal that paused the account account_resume. 0 / -1. */
int timing_account_on_close(timing_ctx *c, const lm_msg *m, lm_out *out,
                            const char *lead_id,
                            Lastmile__V1__OutcomeStatus status);

#endif
