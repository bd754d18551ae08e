/* timing_learn.h — the timing worker's side of learned timing (lm_learn.h
 * is the pure part): what a timer or an answer reads of the learned
 * counts, how the next touch's time is chosen, and how a touch's answer
 * or silence is counted.
 *
 * Reads: reply 1 of the message's plan is one EVAL that returns the
 * counts of every level the next step's choice needs (lm_learn_keys),
 * flattened as "<level>:<slot>:<s|f>", "<count>" pairs. The levels' keys
 * have their own hash tags; on a Redis Cluster ("split", the worker's
 * LASTMILE_REDIS_URL is redis+cluster://) one script cannot read keys of
 * several slots, so reply 1 holds level 0 only and the other levels are
 * one EVAL each at the end of the plan (timing_learn_plan_rest): the same
 * round trip, 3 more commands; a single Redis keeps the one EVAL. A
 * response's HMGET asks for one more field, "slot:<step>" of the touch it
 * answers. Writes: HINCRBY per level, as index commands of the message's
 * transaction. No round trip is added. Threads: the worker's
 * one thread; nothing is kept between messages. */
#ifndef LM_TIMING_LEARN_H
#define LM_TIMING_LEARN_H

#include "lm_learn.h"
#include "lm_runtime.h"
#include "timing_internal.h"

#include "lastmile/v1/lastmile.pb-c.h"

/* 1 when the worker's Redis is a cluster (split reads), else 0. */
int timing_learn_split(const char *redis_url);

/* Plans reply 1: the counts for the step after a response timer's (the
 * timer's payload names segment, role and cadence); any other event reads
 * nothing useful there (an empty hash), so the replies after it keep
 * their places. 0, -1 when the plan is full. */
int timing_learn_plan(const lm_policy *pol, const Lastmile__V1__TimingEvent *ev,
                      int split, lm_plan *p);
/* Split only: the other levels' reads, planned last (after every other
 * read of the message). 0, -1 when the plan is full. */
int timing_learn_plan_rest(const lm_policy *pol,
                           const Lastmile__V1__TimingEvent *ev, int split,
                           lm_plan *p);

/* The extra HMGET field of a response: "slot:<step>" of the touch its
 * action_id names ("<lead>:action:<step>"), into buf; "" when it names
 * none (the lead's last touch is then credited). */
void timing_learn_answer_field(const Lastmile__V1__TimingEvent *ev, char *buf,
                               size_t bufsz);

/* The time of the next touch (step `step` of cad, not before earliest):
 * an "at: now" step at once, the fixed schedule (control arm, holdout)
 * at the first allowed time, the learning arm by lm_learn_choose over
 * the counts of reply 1 (and, split, the plan's last replies). *slot,
 * *probability (1 when fixed). -1 on a bad time zone. */
int64_t timing_learn_choose(const lm_policy *pol, int split, const lm_msg *m,
                            const lm_cadence *cad, int step, const char *tz,
                            int64_t earliest, int adaptive, uint64_t seed,
                            int32_t *slot, double *probability);

/* The touch's answer (success) or silence is counted at every level: the
 * touch a response's action_id names (its slot from the extra field), else
 * the lead's last touch (step, slot). Context from the lead: segment,
 * role, cadence, the step's channel. */
void timing_learn_record(const lm_policy *pol, const lm_msg *m, lm_out *out,
                         int success);

#endif
