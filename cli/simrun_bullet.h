/* simrun_bullet.h — the market's "bullet time": with a shared clock it
 * owns (`lastmile demo`), the market runs the clock at real speed while a
 * lead is in the fleet's hands on its way to its first touch, and at the
 * demo's speed otherwise. So the simulated weeks still pass in seconds,
 * and the fleet's milliseconds from submission to first touch count as
 * milliseconds (at the demo's 60,000x clock they read as minutes).
 *
 * A lead is watched when it should get a decision: it passes intake's
 * checks (lm_intake_normalise) and its person was not submitted before
 * (a repeat is merged by intake's dedupe window, 30 days in the shipped
 * config, longer than the demo's run). It is done when lastmile.actions
 * carries a TOUCH for it, lastmile.followup a decision that starts no
 * cadence (unassigned: the team is full), or lastmile.outcomes an outcome
 * (disqualified); or, at the latest, after cap_ms of real time (counted,
 * and logged). The clock goes back to the demo's speed when no watched
 * lead is left.
 *
 * The market wakes up for a watched lead's submission time to the real
 * millisecond (lm_bullet_poll_ms); what it is late all the same (a
 * fraction of a millisecond, simulated seconds at the demo's speed) is the
 * market's, not the fleet's: the lead is submitted at the clock's time
 * when it is sent (lm_bullet_publishing).
 *
 * Owned by the market's one thread (simrun.c); not thread-safe. */
#ifndef LM_SIMRUN_BULLET_H
#define LM_SIMRUN_BULLET_H

#include "sim.h"

#include "lm_strmap.h"

#include <stddef.h>
#include <stdint.h>

#define LM_BULLET_CAP_MS 5000 /* real ms one lead may hold real speed */
typedef struct lm_bullet_stats {
    size_t leads;    /* leads watched at real speed */
    size_t capped;   /* of them, given up after the cap */
    int64_t slow_ms; /* real ms the clock ran at real speed */
    int64_t max_ms;  /* the longest real ms one lead was watched */
    int64_t late_ms; /* the most simulated ms the market submitted a
                        watched lead after its drawn time */
} lm_bullet_stats;

typedef struct lm_bullet_lead {
    char lead_id[40];
    int64_t t0_mono;
} lm_bullet_lead;

typedef struct lm_bullet {
    double fast; /* the demo's scale; 0: off (no clock owned) */
    int64_t cap_ms;
    lm_strmap *persons; /* every valid person submitted */
    lm_bullet_lead *v;  /* watched leads, in flight */
    size_t n, cap;
    int slow;
    int64_t slow_since;
    int64_t wake_ms; /* real ms until the next watched lead is due; -1 */
    lm_bullet_stats st;
} lm_bullet;

/* fast 0: bullet time off, every call below is a no-op. 0; -1 (memory). */
int lm_bullet_init(lm_bullet *b, double fast, int64_t cap_ms);
void lm_bullet_free(lm_bullet *b);

/* 1 when lead `l` is one to watch (fills lead_id), else 0. Pure but for
 * reading the persons seen. */
int lm_bullet_wants(const lm_bullet *b, const lm_sim_lead *l, char lead_id[40]);
/* The market's next lead is `l`, not due yet at the clock's `now_ms`:
 * when it is one to watch, notes the real ms until it is due. */
void lm_bullet_next(lm_bullet *b, const lm_sim_lead *l, int64_t now_ms);
/* How long the market may wait for messages (at most poll_ms): less when
 * the next watched lead is due sooner, so the loop turns when it is. */
int lm_bullet_poll_ms(const lm_bullet *b, int poll_ms);
/* Lead `l` is about to be published: remembers its person, and watches it
 * when it is one to watch, slowing the clock down if it is not yet. A
 * watched lead the market reaches late (its loop was busy at the demo's
 * speed) is submitted at the clock's now rather than its drawn time, so
 * the market's lateness is not counted as the fleet's. */
void lm_bullet_publishing(lm_bullet *b, lm_sim_lead *l);
/* The topics the market reads besides lastmile.actions while it watches
 * leads (names as lm_topic_name gives them). */
typedef struct lm_bullet_topics {
    const char *followup, *outcomes;
} lm_bullet_topics;
/* A message the market read on `topic`: 1 when it is a followup or
 * outcomes message (handled here: a decision that starts no cadence or an
 * outcome ends its lead's watch), 0 for any other topic. */
int lm_bullet_message(lm_bullet *b, const lm_bullet_topics *names,
                      const char *topic, const void *payload, size_t len);
/* The fleet is done with `lead_id` (its first TOUCH was read). */
void lm_bullet_done(lm_bullet *b, const char *lead_id);
/* Gives up leads past the cap; back to the demo's speed when none is left
 * (also at the end of the run with `final`). */
void lm_bullet_tick(lm_bullet *b, int final);

#endif
