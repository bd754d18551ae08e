/* lm_lead.h — what the workers share about a lead: its id, its Redis keys
 * and the fields of its state hash.
 *
 * lead_id = "<person hash, 16 hex>-<first event hash, 8 hex>". The person
 * hash (of the normalised email) is the Redis hash tag of every key that
 * belongs to the lead, so a lead's keys live in one Cluster slot and one
 * script may touch them together:
 *   lm:{<person>}:person        → lead_id, for the dedupe window (intake)
 *   lm:{<person>}:lead:<lead_id> hash of the lead's state (fields below),
 *                               first written by qualification with its
 *                               decision (an undecided lead is its
 *                               LeadAccepted on lastmile.qualification;
 *                               a merge may make it first, with "merged")
 *   lm:{<person>}:done:...      the runtime's done records
 * Timers are the runtime's (common/runtime/lm_timers.h: its keys, its
 * codec); a lead's response timer is kind LM_LEAD_TIMER_RESPONSE with the
 * payload below.
 * Learned timing in lm:{learn:<where>|<context>}:slots, one hash tag per
 * level and cell (lm_learn_keys; fields "<slot>:s", "<slot>:f"); owner
 * deadlines counted in 16 buckets lm:{sla:<b>}:by_owner (lm_sla.h): keys
 * that spread over a cluster's slots (docs/SCALE-OUT.md, "What spreads").
 * Owner assignment: lm:{team:<team>}:open:<owner> is the set of the
 * owner's open leads (its size is the owner's load; SADD on assignment,
 * SREM on close, both idempotent). A full team's waiting leads:
 * lm:{team:<team>}:unassigned, a sorted set (score: decided at, the lead
 * hash's decided_at) whose members are the packed decisions to emit when
 * a slot frees (their only copy; decision_id, field 1, comes first, so a
 * member starts with its lead's id); accounts: lm:{acct:<domain>}:owner,
 * a string "<team>:<owner>", and lm:{acct:<domain>}:open_count, an
 * integer string: plain strings, so qualification reads them in the
 * batch's MGET (lm_plan_get; before issue 16 one hash lm:{acct:<domain>}
 * with fields owner, team and open, moved by qual_migrate.h) (docs/ROUTING.md).
 *
 * Lead hash fields (all times simulated epoch ms): see LM_F_* below.
 * No heap, no I/O. Writing these fields through a worker's
 * outputs is workers/shared/lm_lead_wait.h's job. */
#ifndef LM_LEAD_H
#define LM_LEAD_H

#include <stddef.h>
#include <stdint.h>

#define LM_LEAD_ID_MAX 40
#define LM_PERSON_MAX  20
#define LM_KEY_MAX     256

/* lead hash fields */
#define LM_F_STAGE        "stage"   /* see LM_STAGE_* below */
#define LM_F_STATUS       "status"  /* open | closed */
#define LM_F_OUTCOME      "outcome" /* OutcomeStatus name when closed */
#define LM_F_SUBMITTED    "submitted_at"
#define LM_F_ACCEPTED     "accepted_at"
#define LM_F_DECIDED      "decided_at"
#define LM_F_FIRST_ACTION "first_action_at"
#define LM_F_LAST_ACTION  "last_action_at"
#define LM_F_NEXT_DUE     "next_due_at"
#define LM_F_CLOSED       "closed_at"
#define LM_F_DECISION     "decision" /* QUALIFIED | NURTURE | DISQUALIFIED */
#define LM_F_SCORE        "score"
#define LM_F_OWNER        "owner"
#define LM_F_TEAM         "team"
#define LM_F_SEGMENT      "segment"
#define LM_F_CADENCE      "cadence"
#define LM_F_STEP         "step" /* current step index */
#define LM_F_SLOT         "slot" /* hour-of-week slot of the last touch */
#define LM_F_TZ           "tz"
#define LM_F_ADAPTIVE     "adaptive" /* 1 learning arm, 0 control arm */
#define LM_F_HOLDOUT      "holdout"  /* 1: in the global holdout (lm_learn.h) */
/* lm_learn_role of the title, written by followup with the first touch,
 * whose response timer names it (lm_learn_timer_segment): a lead has it
 * exactly when its timers carry it */
#define LM_F_ROLE "role"
/* "slot:<step>": the hour-of-week slot of that step's touch, so an answer
 * to it (LeadResponse.action_id) is credited to its own slot */
#define LM_F_SLOT_OF "slot:"
#define LM_F_TOUCHES "touches"
#define LM_F_COST    "cost_cents"
#define LM_F_REVENUE "revenue_cents"
#define LM_F_MERGED  "merged" /* duplicate submissions merged in */
#define LM_F_SOURCE  "source"
#define LM_F_LEAD    "lead" /* LeadAccepted without personal data */
/* The answers and the deal (timing writes them; followup writes
 * first_touch_at): responded_at the answer that handed the lead off (or a
 * direct CONVERTED), first_touch_at the first automatic touch's scheduled
 * time, first_human_at the owner's first DONE activity, returns_at the
 * end of an out-of-office (no touch is scheduled before it),
 * cancelled_action the action id of the touch last taken back (CANCEL). */
#define LM_F_RESPONDED   "responded_at"
#define LM_F_FIRST_TOUCH "first_touch_at"
#define LM_F_FIRST_HUMAN "first_human_at"
#define LM_F_RETURNS     "returns_at"
#define LM_F_CANCELLED   "cancelled_action"
/* The report's system vs human delay (common/tools/lm_report_stages.c):
 * human_due_at the time the lead's first human step was due (the first
 * call/LinkedIn step's scheduled time, or the hand-off's; followup or
 * timing, HSETNX), handoff_done_at the owner's DONE on the hand-off (timing,
 * HSETNX). */
#define LM_F_HUMAN_DUE    "human_due_at"
#define LM_F_HANDOFF_DONE "handoff_done_at"
/* stage: qualification | followup | waiting | handed_off | paused |
 * closed;
 * handed_off: open, the owner has it, waiting for the CRM's result. The
 * mark of a handed-off lead is responded_at on an open lead (only timing
 * writes it; a NextTouch already on its way may still set the stage) */
#define LM_STAGE_HANDED_OFF "handed_off"
/* paused: open, its cadence waits for a colleague's deal
 * (accounts.pause_on_reply; paused_by below) */
#define LM_STAGE_PAUSED "paused"
/* waiting in its team's unassigned queue (no owner had room) */
#define LM_STAGE_UNASSIGNED "unassigned"
/* routing (docs/ROUTING.md) */
#define LM_F_HOLDS   "holds_slot" /* "1": counts in its owner's open set */
#define LM_F_ACCOUNT "account"    /* company email domain, when it is one */
/* its member of the unassigned set, on leads queued before issue 16 (the
 * queue's member is now the decision's only copy); timing still reads it */
#define LM_F_PENDING "pending_decision"
/* accounts.pause_on_reply (workers/timing/timing_account.c): a lead whose
 * cadence waits while a colleague's deal is live has paused_by = that
 * colleague's lead id; the replying lead has account_paused = "1" */
#define LM_F_PAUSED "paused_by"
/* paused_by of a lead assigned while its account's deal was live */
#define LM_PAUSED_ACCOUNT "account"
#define LM_F_ACCT_PAUSED  "account_paused"
/* dead time, real ms, summed per stage, and how many messages:
 * "wait_<stage>_ms" and "wait_<stage>_n" (stage = worker name). A stage
 * that handles a lead once writes no count: a sum without one is one
 * message's (the report reads it so). */
#define LM_F_WAIT_FMT   "wait_%s_ms"
#define LM_F_WAIT_N_FMT "wait_%s_n"

/* The person hash of a normalised email, as 16 hex digits. */
void lm_lead_person(const char *email_norm, char out[LM_PERSON_MAX]);
/* lead_id for a person's lead first submitted as event_id. */
void lm_lead_id(const char *person, const char *event_id,
                char out[LM_LEAD_ID_MAX]);
/* The hash tag (person) of a lead id; -1 when lead_id is malformed. */
int lm_lead_tag(const char *lead_id, char out[LM_PERSON_MAX]);
/* lm_lead_tag for an input's field (a worker's identify): 0 and the tag,
 * or -1 and into reason (reasonsz bytes) "<field>: \"<lead_id>\" is not a
 * lead id issued by lastmile". lead_id may be NULL. */
int lm_lead_tag_of(const char *field, const char *lead_id,
                   char out[LM_PERSON_MAX], char *reason, size_t reasonsz);
void lm_lead_key(const char *lead_id, char out[LM_KEY_MAX]);
void lm_lead_person_key(const char *person, char out[LM_KEY_MAX]);
/* lm:{team:<team>}:open:<owner> (see above). */
void lm_lead_team_open_key(const char *team, const char *owner,
                           char out[LM_KEY_MAX]);
/* lm:{team:<team>}:unassigned (see above). */
void lm_lead_team_queue_key(const char *team, char out[LM_KEY_MAX]);
/* lm:{acct:<domain>}, the account's hash before issue 16 (owner, team,
 * open): only qual_migrate.h reads it, to move it (see above). */
void lm_lead_account_old_key(const char *domain, char out[LM_KEY_MAX]);
/* lm:{acct:<domain>}:owner, "<team>:<owner>" (a team name holds no ':'),
 * written by whoever assigns the account's lead (see above). */
void lm_lead_account_owner_key(const char *domain, char out[LM_KEY_MAX]);
/* lm:{acct:<domain>}:open_count, the number of the account's open assigned
 * leads (INCRBY on assignment, -1 on close). */
void lm_lead_account_count_key(const char *domain, char out[LM_KEY_MAX]);
/* The value of an owner key: "<team>:<owner>" into out (outsz bytes).
 * Its length, or -1 when it does not fit. */
int lm_lead_account_owner_value(const char *team, const char *owner, char *out,
                                size_t outsz);
/* Splits an owner key's value v (vlen bytes) at its first ':' into team
 * and owner (NUL-terminated, each of at most LM_KEY_MAX - 1 bytes). 0, or
 * -1 when it is not such a value. */
int lm_lead_account_owner_parse(const char *v, size_t vlen,
                                char team[LM_KEY_MAX], char owner[LM_KEY_MAX]);
/* lm:{acct:<domain>}:open, the set of the account's open assigned leads
 * (qualification SADDs with the lead's row, timing SREMs on close). */
void lm_lead_account_open_key(const char *domain, char out[LM_KEY_MAX]);
/* lm:{acct:<domain>}:deals, the set of the account's leads whose deal is
 * live and pauses the others (timing, accounts.pause_on_reply). */
void lm_lead_account_deals_key(const char *domain, char out[LM_KEY_MAX]);

/* The response timer (lm_timers.h): followup arms it with each touch, due
 * when the touch's response window ends; timing cancels it when the lead
 * closes, and fires it as a TimerFired ("no response") with timer_id
 * "<lead_id>:timer:<payload>". Its payload is "<step>|<segment>": the
 * touch's step and the lead's segment (timing's plan reads the segment's
 * statistics before it has read the lead). */
#define LM_LEAD_TIMER_RESPONSE "response"
#define LM_LEAD_STEP_MAX       1000 /* cadence steps are 0..this */
/* Writes the payload into out (NUL-terminated); its length, or -1 when
 * step is out of range or it does not fit outsz. */
int lm_lead_timer_payload(int step, const char *segment, char *out,
                          size_t outsz);
/* Reads a payload of len bytes: the step, and the segment into seg
 * (NUL-terminated). 0, or -1 when malformed or the segment does not fit
 * segsz. */
int lm_lead_timer_payload_parse(const char *payload, size_t len, int *step,
                                char *seg, size_t segsz);
/* The deal window (lm_policy_deal_window_ms): timing arms it when a lead
 * is handed off, due when the window ends, and cancels it when the CRM's
 * result closes the lead; it fires as a TimerFired of kind "deal_window",
 * timer_id "<lead_id>:deal_window", and closes the lead RESPONDED. One per
 * lead: its payload is always LM_LEAD_TIMER_DEAL_PAYLOAD. */
#define LM_LEAD_TIMER_DEAL         "deal_window"
#define LM_LEAD_TIMER_DEAL_PAYLOAD "-"
/* 1 when the lead is on the learning (adaptive) arm. */
int lm_lead_adaptive(const char *lead_id, double control_share);

#endif
