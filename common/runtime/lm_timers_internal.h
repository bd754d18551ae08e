/* lm_timers_internal.h — what the two sweeps of lm_timers share: the
 * shared timers' (lm_timers.c, fire_timer) and a namespace's delivering
 * sweep (lm_timers_deliver.c, deliver_timer). Not for workers.
 *
 * Threads: the worker's one thread. */
#ifndef LM_TIMERS_INTERNAL_H
#define LM_TIMERS_INTERNAL_H

#include "lm_redis.h"
#include "lm_timers.h"

/* Round trip 1 of a sweep in namespace ns (NULL: the shared timers): per
 * bucket the claim script (at most max_per_bucket due timers, and the
 * expired claims), then per bucket the set's size and its earliest timer.
 * Fills rep[3 * LM_TIMERS_BUCKETS] (caller frees with
 * lm_redis_replies_free); -1 on Redis trouble. */
int lm_timers_claim(lm_runtime *rt, const char *ns, int max_per_bucket,
                    lm_pipe *pipe, int64_t now_ms, redisReply **rep);
/* The gauges lastmile_timers_pending and
 * lastmile_timers_oldest_overdue_seconds from lm_timers_claim's replies. */
void lm_timers_gauges(lm_runtime *rt, redisReply **rep, int64_t now_ms);

#endif
