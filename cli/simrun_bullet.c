/* simrun_bullet.c — the market's bullet time (see simrun_bullet.h).
 *
 * The watched leads are few at a time (one, usually: at real speed the
 * next submission is minutes of real time away), so they sit in a small
 * array searched linearly; the persons seen are an lm_strmap. */
#include "simrun_bullet.h"

#include "lm_clock.h"
#include "lm_intake_check.h"
#include "lm_lead.h"
#include "lm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lm_bullet_init(lm_bullet *b, double fast, int64_t cap_ms) {
    memset(b, 0, sizeof(*b));
    if (!(fast > 1))
        return 0; /* off */
    b->persons = lm_strmap_new(0);
    if (!b->persons)
        return -1;
    b->fast = fast;
    b->cap_ms = cap_ms > 0 ? cap_ms : LM_BULLET_CAP_MS;
    return 0;
}

void lm_bullet_free(lm_bullet *b) {
    lm_strmap_free(b->persons);
    free(b->v);
    memset(b, 0, sizeof(*b));
}

/* Intake's own checks: the person of a valid submission, else -1. */
static int lead_person(const lm_sim_lead *l, char person[LM_PERSON_MAX]) {
    lm_intake_norm n;
    char why[256];
    if (lm_intake_normalise(&l->msg, INT64_MAX / 2, &n, why, sizeof(why)) != 0)
        return -1;
    snprintf(person, LM_PERSON_MAX, "%s", n.person);
    return 0;
}

int lm_bullet_wants(const lm_bullet *b, const lm_sim_lead *l,
                    char lead_id[40]) {
    char person[LM_PERSON_MAX];
    if (b->fast == 0 || lead_person(l, person) != 0 ||
        lm_strmap_get_str(b->persons, person))
        return 0;
    lm_lead_id(person, l->event_id, lead_id);
    return 1;
}

static void go_slow(lm_bullet *b) {
    if (b->slow)
        return;
    if (lm_clock_set(1.0) == 0) {
        b->slow = 1;
        b->slow_since = lm_clock_mono_ms();
    }
}

static void go_fast(lm_bullet *b) {
    if (!b->slow)
        return;
    lm_clock_set(b->fast);
    b->slow = 0;
    b->st.slow_ms += lm_clock_mono_ms() - b->slow_since;
}

void lm_bullet_next(lm_bullet *b, const lm_sim_lead *l, int64_t now_ms) {
    char lead_id[40];
    b->wake_ms = -1;
    if (b->fast == 0 || b->slow || !lm_bullet_wants(b, l, lead_id))
        return;
    b->wake_ms = (int64_t)((double)(l->submitted_at_ms - now_ms) / b->fast);
}

int lm_bullet_poll_ms(const lm_bullet *b, int poll_ms) {
    if (b->fast == 0 || b->slow || b->wake_ms < 0 || b->wake_ms >= poll_ms)
        return poll_ms;
    return (int)b->wake_ms;
}

void lm_bullet_publishing(lm_bullet *b, lm_sim_lead *l) {
    char person[LM_PERSON_MAX], lead_id[40];
    if (b->fast == 0)
        return;
    int want = lm_bullet_wants(b, l, lead_id);
    if (lead_person(l, person) == 0)
        lm_strmap_put_str(b->persons, person, 1, NULL);
    if (!want)
        return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        lm_bullet_lead *v = realloc(b->v, cap * sizeof(*v));
        if (!v)
            return; /* not watched: measured at the demo's speed */
        b->v = v;
        b->cap = cap;
    }
    snprintf(b->v[b->n].lead_id, sizeof(b->v[b->n].lead_id), "%s", lead_id);
    b->v[b->n].t0_mono = lm_clock_mono_ms();
    b->n++;
    b->st.leads++;
    go_slow(b);
    int64_t now = lm_clock_now_ms();
    if (l->submitted_at_ms < now) {
        if (now - l->submitted_at_ms > b->st.late_ms)
            b->st.late_ms = now - l->submitted_at_ms;
        l->submitted_at_ms = l->msg.submitted_at_ms = now;
    }
}

static void drop(lm_bullet *b, size_t i) {
    int64_t held = lm_clock_mono_ms() - b->v[i].t0_mono;
    if (held > b->st.max_ms)
        b->st.max_ms = held;
    b->v[i] = b->v[--b->n];
}

void lm_bullet_done(lm_bullet *b, const char *lead_id) {
    for (size_t i = 0; lead_id && i < b->n; i++)
        if (strcmp(b->v[i].lead_id, lead_id) == 0) {
            drop(b, i);
            return;
        }
}

int lm_bullet_message(lm_bullet *b, const lm_bullet_topics *names,
                      const char *topic, const void *payload, size_t len) {
    if (b->fast == 0 || !topic)
        return 0;
    if (strcmp(topic, names->followup) == 0) {
        Lastmile__V1__FollowUpEvent *ev =
            lastmile__v1__follow_up_event__unpack(NULL, len, payload);
        /* a decision that starts no cadence now: the fleet is done */
        if (ev &&
            ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION &&
            (ev->decision->unassigned ||
             (ev->decision->kind != LASTMILE__V1__DECISION_KIND__QUALIFIED &&
              ev->decision->kind != LASTMILE__V1__DECISION_KIND__NURTURE)))
            lm_bullet_done(b, ev->decision->lead_id);
        if (ev)
            lastmile__v1__follow_up_event__free_unpacked(ev, NULL);
        return 1;
    }
    if (strcmp(topic, names->outcomes) == 0) {
        Lastmile__V1__Outcome *o =
            lastmile__v1__outcome__unpack(NULL, len, payload);
        if (o) {
            lm_bullet_done(b, o->lead_id);
            lastmile__v1__outcome__free_unpacked(o, NULL);
        }
        return 1;
    }
    return 0;
}

void lm_bullet_tick(lm_bullet *b, int final) {
    if (b->fast == 0)
        return;
    int64_t mono = lm_clock_mono_ms();
    for (size_t i = 0; i < b->n;) {
        if (!final && mono - b->v[i].t0_mono < b->cap_ms) {
            i++;
            continue;
        }
        lm_log(LM_LOG_WARN, "bullet_cap",
               "lead %s had no first touch, decision or outcome after %lld "
               "real ms: back to the demo's speed without it",
               b->v[i].lead_id, (long long)(mono - b->v[i].t0_mono));
        b->st.capped++;
        drop(b, i);
    }
    if (b->n == 0)
        go_fast(b);
}
