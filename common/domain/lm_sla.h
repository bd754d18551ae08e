/* lm_sla.h — owner deadlines (SLAs on human steps): what followup and
 * timing share about them (the next owner is routing's: lm_route.h).
 *
 * A human step (a call, a LinkedIn message, a hand-off) has a deadline in
 * its owner's working time (lm_worktime.h). Followup (steps) and timing
 * (hand-offs) arm a durable timer (lm_timers.h) of kind
 * LM_SLA_TIMER_DEADLINE due at FollowUpAction.due_by_ms; OwnerActivity
 * DONE/SKIPPED cancels it, SNOOZED moves it. When it fires (TimerFired
 * kind "owner_deadline", timer_id "<action_id>:deadline:<level>"):
 *   level 0  REMINDER to the same owner, and the level 1 timer;
 *   level 1  the lead goes to a teammate with room, by routing's rule
 *            (lm_route_pick; a decision with reason "sla_breach"), who
 *            gets the step again with the level 2 timer;
 *   level 2  ESCALATION to the team's lead; nothing more is armed.
 * The lead hash holds the pending deadline (LM_F_SLA_* below), so a
 * timer that fires after its step was answered, moved or superseded is
 * recognised as stale: it fires only while the lead's sla_action,
 * sla_level and sla_due are still the timer's.
 *
 * Owner state (OwnerStatus, at run time): lm:{owner:<16 hex of the
 * name>}:state, a hash {owner, status AWAY|BACK, until (ms, 0 = until
 * BACK), at (the event's time)}. Routing reads it to skip away owners
 * (lm_route_owner_away); the teammate a lead is reassigned to is
 * routing's choice too (lm_route_pick).
 *
 * No heap, no I/O, thread-safe. */
#ifndef LM_SLA_H
#define LM_SLA_H

#include "lm_lead.h"
#include "lm_policy.h"

#include <stddef.h>
#include <stdint.h>

#define LM_SLA_TIMER_DEADLINE "owner_deadline"
#define LM_SLA_LEVEL_MAX      2 /* 0 reminder, 1 reassignment, 2 escalation */
#define LM_SLA_REASON_BREACH  "sla_breach"

/* lead hash fields */
#define LM_F_SLA_ACTION                                                        \
    "sla_action"                       /* the step's action awaiting the owner \
                                        */
#define LM_F_SLA_OWNER     "sla_owner" /* who must act on it */
#define LM_F_SLA_LEVEL     "sla_level" /* armed timer's level; "done" = none */
#define LM_F_SLA_DUE       "sla_due"   /* its due time, ms */
#define LM_F_SLA_STEP      "sla_step"  /* the step (-1: the hand-off) */
#define LM_F_REASSIGNMENTS "reassignments" /* times reassigned (sla_breach) */
#define LM_SLA_LEVEL_DONE  "done"

/* owner state hash fields */
#define LM_SLA_STATE_OWNER  "owner"
#define LM_SLA_STATE_STATUS "status" /* AWAY | BACK */
#define LM_SLA_STATE_UNTIL  "until"
#define LM_SLA_STATE_AT     "at"

#define LM_SLA_TAG_MAX 32

/* The report's counts (lm_report_owners.h): field "<what>|<team>|<owner>"
 * (the owner last: it may hold '|') of one of LM_SLA_STATS_BUCKETS hashes
 * "lm:{sla:<b>}:by_owner" (lm_sla_stats_key: b from the field), each its
 * own hash tag so a Redis Cluster spreads them over its masters;
 * incremented by timing in the message's transaction (so once per event);
 * readers read every bucket and add the fields up (one round trip). The
 * one hash before issue 17 is moved here at timing's start
 * (timing_migrate.h). */
#define LM_SLA_STATS_BUCKETS 16
#define LM_SLA_STATS_KEY_FMT "lm:{sla:%u}:by_owner"
/* The one hash before issue 17: only the migration reads it. */
#define LM_SLA_STATS_OLD_KEY  "lm:{sla}:by_owner"
#define LM_SLA_STAT_BREACHES  "breaches"        /* a deadline passed */
#define LM_SLA_STAT_REMINDERS "reminders"       /* the owner was reminded */
#define LM_SLA_STAT_LOST      "reassigned_from" /* a lead taken away */
#define LM_SLA_STAT_GAINED    "reassigned_to"   /* a lead given to them */
#define LM_SLA_STAT_ESCALATED "escalations" /* their step went to the lead */
#define LM_SLA_STAT_FIELD_MAX                                                  \
    (32 + LM_POLICY_NAME_MAX + LM_POLICY_OWNER_MAX +                           \
     3) /* "owner:" + 16 hex + NUL, rounded up */

/* The deadline timer's payload "<level>|<step>|<action_id>|<owner>" into
 * out (NUL-terminated): its length, or -1 when a value is out of range or
 * it does not fit. */
int lm_sla_payload(int level, int step, const char *action_id,
                   const char *owner, char *out, size_t outsz);
/* Reads a payload of len bytes. 0, or -1 when malformed or a string does
 * not fit its buffer. */
int lm_sla_payload_parse(const char *payload, size_t len, int *level, int *step,
                         char *action_id, size_t actionsz, char *owner,
                         size_t ownersz);

/* A reassignment's decision id, "<lead>:decision:<n>": the lead's n-th
 * reassignment (n >= 1), made by timing. followup names the new owner's
 * step "<action>:r<n>" from it, so the step's id follows from the
 * decision it answers, not from the lead hash it reads later, where a
 * later reassignment may have counted on. lm_sla_reassign_id writes it
 * into out: 0, or -1 when it does not fit outsz. lm_sla_reassign_number
 * reads n back: -1 when decision_id is not such an id of lead_id (no
 * leading zero, at most LM_SLA_REASSIGN_DIGITS digits). */
#define LM_SLA_REASSIGN_INFIX  ":decision:"
#define LM_SLA_REASSIGN_DIGITS 9
int lm_sla_reassign_id(const char *lead_id, int64_t n, char *out, size_t outsz);
int64_t lm_sla_reassign_number(const char *decision_id, const char *lead_id);

/* The stats field "<what>|<team>|<owner>" into out. */
void lm_sla_stat_field(const char *what, const char *team, const char *owner,
                       char out[LM_SLA_STAT_FIELD_MAX]);

/* The bucket of a stats field, 0..LM_SLA_STATS_BUCKETS-1: h = (h * 31 +
 * byte) mod 65521 over its bytes, then h mod LM_SLA_STATS_BUCKETS — small
 * enough that the migration's Lua computes the same (doubles stay exact).
 * Stored state: never change it. */
unsigned lm_sla_stats_bucket(const char *field);
/* The key of bucket b ("lm:{sla:<b>}:by_owner") into out. */
void lm_sla_stats_bucket_key(unsigned b, char out[LM_KEY_MAX]);
/* The key holding `field`: lm_sla_stats_bucket_key of its bucket. */
void lm_sla_stats_key(const char *field, char out[LM_KEY_MAX]);

/* The hash tag "owner:<16 hex>" of an owner's state key, and the key. */
void lm_sla_owner_tag(const char *owner, char out[LM_SLA_TAG_MAX]);
void lm_sla_state_key(const char *owner, char out[LM_KEY_MAX]);

/* The working time of `owner` in `team` (lm_worktime.h): NULL (always
 * working) when either is unknown or the owner has no hours. */
const lm_worktime *lm_sla_work(const lm_policy *p, const char *team,
                               const char *owner);

#endif
