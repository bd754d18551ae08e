/* sim_owners.c — the market's owners (see sim_owners.h). */
#include "sim_owners.h"

#include "lm_hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_MIN_MS 60000LL

int lm_sim_owner_when(const lm_sim *s, const Lastmile__V1__FollowUpAction *a,
                      int64_t *at) {
    if (a->due_by_ms <= 0 || !a->owner || !*a->owner ||
        (a->kind != LASTMILE__V1__ACTION_KIND__TOUCH &&
         a->kind != LASTMILE__V1__ACTION_KIND__HANDOFF))
        return 0;
    double habit = lm_hash_unit(lm_hash64_str(a->owner, s->seed ^ 0x6f776eULL));
    double u = lm_hash_unit(lm_hash64_str(a->action_id, s->seed ^ 0x616374ULL));
    int64_t delay;
    if (habit < 0.5) { /* prompt: 1-4 minutes, forgets one step in ten */
        if (u < 0.1)
            return 0;
        delay = SIM_MIN_MS + (int64_t)(u * 3 * SIM_MIN_MS);
    } else if (habit < 0.75) { /* late: 7-30 minutes */
        delay = 7 * SIM_MIN_MS + (int64_t)(u * 23 * SIM_MIN_MS);
    } else {
        return 0; /* never */
    }
    *at = a->scheduled_for_ms + delay;
    return 1;
}

int lm_sim_owner_take(const lm_sim *s, const Lastmile__V1__FollowUpAction *a,
                      lm_sim_owner_acts *q) {
    int64_t at;
    if (!lm_sim_owner_when(s, a, &at))
        return 0;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        lm_sim_act *v = realloc(q->v, cap * sizeof(*v));
        if (!v)
            return -1;
        q->v = v;
        q->cap = cap;
    }
    lm_sim_act *x = &q->v[q->n++];
    x->at = at;
    snprintf(x->lead, sizeof(x->lead), "%s", a->lead_id);
    snprintf(x->action, sizeof(x->action), "%s", a->action_id);
    snprintf(x->owner, sizeof(x->owner), "%s", a->owner);
    return 1;
}

size_t lm_sim_owner_release(lm_sim_owner_acts *q, int64_t now,
                            lm_sim_send_fn send, void *opaque) {
    size_t sent = 0;
    for (size_t i = 0; i < q->n;) {
        lm_sim_act *x = &q->v[i];
        if (x->at > now) {
            i++;
            continue;
        }
        char ev[160];
        snprintf(ev, sizeof(ev), "simact-%s", x->action);
        Lastmile__V1__OwnerActivity oa = LASTMILE__V1__OWNER_ACTIVITY__INIT;
        oa.event_id = ev;
        oa.action_id = x->action;
        oa.lead_id = x->lead;
        oa.owner = x->owner;
        oa.kind = LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE;
        oa.occurred_at_ms = x->at;
        Lastmile__V1__TimingEvent t = LASTMILE__V1__TIMING_EVENT__INIT;
        t.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_ACTIVITY;
        t.owner_activity = &oa;
        if (send(opaque, x->lead, &t.base) == 0)
            sent++;
        q->v[i] = q->v[--q->n]; /* order does not matter */
    }
    return sent;
}

void lm_sim_owner_free(lm_sim_owner_acts *q) {
    free(q->v);
    memset(q, 0, sizeof(*q));
}
