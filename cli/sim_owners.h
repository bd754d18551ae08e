/* sim_owners.h — the market's people on lastmile's side: owners who do
 * their human steps within minutes, late, or not at all, and say so as a
 * connector would (OwnerActivity DONE on lastmile.timing), so the demo
 * shows owner deadlines, reminders, reassignments and escalations at work.
 *
 * Each owner has a hidden habit, a pure function of (seed, name): about
 * half act within 1-4 minutes (and forget one step in ten), a quarter act
 * 7-30 minutes late (after the 5-minute deadline: a reminder), the rest
 * never (a reminder, then the lead goes to a teammate). Which step, and
 * how late, is a pure function of (seed, action id), so a run repeats.
 * Single-threaded (the market's loop). */
#ifndef LM_SIM_OWNERS_H
#define LM_SIM_OWNERS_H

#include "sim.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lm_sim_act {
    int64_t at;
    char lead[40], action[128], owner[128];
} lm_sim_act;

/* Owner activity still to report, in no order. Zero-initialise. */
typedef struct lm_sim_owner_acts {
    lm_sim_act *v;
    size_t n, cap;
} lm_sim_owner_acts;

/* When the owner of human step `a` (kind TOUCH or HANDOFF with a
 * due_by_ms) does it: 1 and *at, or 0 (never; or not a human step). */
int lm_sim_owner_when(const lm_sim *s, const Lastmile__V1__FollowUpAction *a,
                      int64_t *at);
/* lm_sim_owner_when, queued. 1 queued, 0 not, -1 out of memory. */
int lm_sim_owner_take(const lm_sim *s, const Lastmile__V1__FollowUpAction *a,
                      lm_sim_owner_acts *q);
/* Sends, through send(opaque, key, msg), the OwnerActivity (DONE,
 * event_id "simact-<action_id>") of every queued act due by now, and
 * forgets them; how many. */
typedef int (*lm_sim_send_fn)(void *opaque, const char *key,
                              const ProtobufCMessage *msg);
size_t lm_sim_owner_release(lm_sim_owner_acts *q, int64_t now,
                            lm_sim_send_fn send, void *opaque);
void lm_sim_owner_free(lm_sim_owner_acts *q);

#endif
