/* timing_internal.h — what the timing worker's files share (timing.c: the
 * worker, its reads, no-response timers, closing a lead; timing_deal.c: a
 * lead's answers, touches taken back, the hand-off and the deal window;
 * timing_account.c: accounts.pause_on_reply).
 *
 * Every handler gets the message's reads: reply 0 is the HMGET of the
 * lead hash in timing_read order (lm_timing_field), reply 1 the learned
 * slot counts the next step's choice needs (timing_learn.h). Handlers write
 * only through the message's lm_out (one transaction per input). Not a public
 * API: only workers/timing/ includes it. Threads: the worker's one thread. */
#ifndef LM_TIMING_INTERNAL_H
#define LM_TIMING_INTERNAL_H

#include "lm_policy.h"
#include "lm_runtime.h"
#include "lm_timers.h"
#include "timing_queue.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdint.h>

typedef struct timing_ctx {
    lm_policy *policy;
    int64_t clock_skew_ms; /* LM_TIMING_CLOCK_SKEW_REAL_MS, simulated */
    int learn_split;       /* on a Redis Cluster: learned counts read per level
                              (timing_learn.h) */
} timing_ctx;

/* The lead hash fields timing reads, in HMGET order (timing.c).
 * An open lead is handed off when it has responded_at (R_RESPONDED > 0):
 * only timing writes that field, while its stage (handed_off) is also
 * written by followup, which a NextTouch on its way may still run. */
enum timing_read {
    R_STATUS,
    R_STEP,
    R_CADENCE,
    R_TZ,
    R_OWNER,
    R_TEAM,
    R_SEGMENT,
    R_ADAPTIVE,
    R_SUBMITTED,
    R_TOUCHES,
    R_COST,
    R_SCORE,
    R_DECISION,
    R_SLOT,
    R_LEAD,
    R_STAGE,
    R_RESPONDED,
    R_FIRST_TOUCH,
    R_FIRST_HUMAN,
    R_LAST_ACTION,
    R_NEXT_DUE,
    R_CANCELLED,
    R_HOLDS,       /* routing: the lead holds a slot in its owner's open set */
    R_ACCOUNT,     /* routing: its company domain */
    R_PENDING,     /* routing: its queue member (leads queued before 16) */
    R_ROLE,        /* learning: the role of its title (timing_learn.c) */
    R_HOLDOUT,     /* learning: in the global holdout */
    R_PAUSED,      /* accounts: the colleague whose deal pauses it */
    R_ACCT_PAUSED, /* accounts: "1" when its answer paused its account */
    R_DECIDED,     /* routing: a waiting lead's score in its queue */
    R_N
};
/* After the R_N fields a response's HMGET asks for one more: the slot of
 * the touch it answers (timing_learn.c), read as lm_timing_field(m, R_N). */

/* Field i (enum timing_read) of the lead's HMGET, or NULL; *len gets its
 * length when len is not NULL. Points into m's reads. */
const char *lm_timing_field(const lm_msg *m, int i, size_t *len);
/* The field as a number; 0 when absent or not a number. */
int64_t lm_timing_field_int(const lm_msg *m, int i);

/* The one place a lead closes (timing.c): the Outcome (with its answer,
 * first touch, first human contact, team), the lead hash closed, its
 * timers cancelled (the response timer, or the deal window of a
 * handed-off lead), the owner's load released, and with success the
 * touch's slot learning a success. Whatever else must happen when a lead
 * closes (an owner's freed slot, its deadlines) hooks in here. 0, -1 on
 * an output failure. */
int lm_timing_close_lead(timing_ctx *c, const lm_msg *m, lm_out *out,
                         const char *lead_id,
                         Lastmile__V1__OutcomeStatus status, int64_t deal_cents,
                         int success);

/* The payload of the lead's response timer, the one followup armed for
 * the lead's current step and segment (lm_lead_timer_payload): its
 * length, or -1 when the lead has no step or segment. */
int lm_timing_response_payload(const lm_msg *m,
                               char payload[LM_TIMERS_PAYLOAD_MAX]);
/* Cancels the lead's response timer, the one followup armed for the
 * lead's current step (the payload is read from the lead). */
void lm_timing_cancel_response_timer(const lm_msg *m, lm_out *out,
                                     const char *lead_id);

/* timing_deal.c: takes back the lead's pending touch (emitted ahead of
 * its scheduled time, still ahead of now and before before_ms) with a
 * CANCEL of its action_id, id "<action_id>:cancel", giving `reason`. 0,
 * -1 on an output failure. */
int lm_timing_take_back(timing_ctx *c, const lm_msg *m, lm_out *out,
                        const char *lead, const char *reason,
                        int64_t before_ms);
/* timing_deal.c: a LeadResponse (the lead is known or not, open or not,
 * handed off or not). 0, -1 on an output failure. */
int lm_timing_on_response(timing_ctx *c, const lm_msg *m, lm_out *out,
                          const Lastmile__V1__LeadResponse *r);
/* timing_deal.c: the deal window of a handed-off lead passed. */
int lm_timing_on_deal_window(timing_ctx *c, const lm_msg *m, lm_out *out,
                             const Lastmile__V1__TimerFired *t);
/* timing_deal.c: the TimerFired a due deal window timer makes (kind
 * LM_LEAD_TIMER_DEAL). 0, -1 (see lm_worker.fire_timer). */
int lm_timing_fire_deal_window(const lm_timer *t, int64_t now_ms,
                               lm_timers_fired *f);
/* 1 when the TimerFired is a deal window's (kind "deal_window"). */
int lm_timing_is_deal_window(const Lastmile__V1__TimerFired *t);

#endif
