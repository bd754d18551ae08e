/* fuzz_timing.c — lastmile.timing input: bytes → TimingEvent → the
 * timing worker's identify, then for a timer the next-touch choice it
 * makes (lm_timing_choose on both arms) from the event's times.
 *
 * Then the whole decision (identify, plan, handle) runs through the
 * recorder with chosen lead-hash and slot-count replies (fuzz_decide,
 * fuzz.h).
 *
 * Invariants: a rejection leaves a reason; an identified response has id
 * "response:<event_id>" and a known ResponseKind, a response timer
 * "<lead>:timer:<step>"; a chosen time is -1 or not before the earliest
 * instant, with its slot inside the week. Of the whole decision:
 * fuzz_check_recorded's (fuzz.h) and timing_decided's (below). */
#include "fuzz.h"

#include "lm_lead.h"
#include "timing.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <string.h>

static lm_policy *policy;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[LM_POLICY_ERRSZ];
    policy = lm_policy_load(NULL, err, sizeof(err));
    if (!policy) {
        fprintf(stderr, "fuzz_timing: built-in config: %s\n", err);
        abort();
    }
    fuzz_worker_init(&lm_timing_worker);
    return 0;
}

/* What handle decided: a next touch is the step after the fired one, not
 * before now, and leaves the lead open; a closing outcome closes the lead
 * (a late response writes nothing); a hand-off goes with a response. */
/* A response timer (kind "response", or none: messages before kinds). */
static int response_timer(const Lastmile__V1__TimingEvent *ev) {
    return ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED &&
           (!ev->timer_fired->kind || !*ev->timer_fired->kind ||
            strcmp(ev->timer_fired->kind, LM_LEAD_TIMER_RESPONSE) == 0);
}

/* The NextTouch among the emits on lastmile.followup, or NULL (a closing
 * lead may also give its freed slot to a waiting lead: a decision). */
static const lm_recorded_emit *next_touch_emit(const lm_recorder *rec) {
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++) {
        const lm_recorded_emit *e = lm_recorder_emit(rec, i);
        if (strcmp(e->topic, LM_TOPIC_FOLLOWUP) != 0)
            continue;
        Lastmile__V1__FollowUpEvent *f =
            (Lastmile__V1__FollowUpEvent *)protobuf_c_message_unpack(
                &lastmile__v1__follow_up_event__descriptor, NULL, e->len,
                e->data);
        int touch = f && f->event_case ==
                             LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH;
        if (f)
            protobuf_c_message_free_unpacked(&f->base, NULL);
        if (touch)
            return e;
    }
    return NULL;
}

static void timing_decided(const lm_recorder *rec, const ProtobufCMessage *in) {
    const Lastmile__V1__TimingEvent *ev = (const Lastmile__V1__TimingEvent *)in;
    /* owner events and the deal's and owners' timers follow rules of their
       own (unit tests): fuzz_check_recorded's only */
    if (ev->event_case != LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE &&
        !response_timer(ev))
        return;
    int fired = ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    const char *lead = fired ? ev->timer_fired->lead_id : ev->response->lead_id;
    char key[LM_KEY_MAX];
    lm_lead_key(lead, key);
    const char *status = lm_recorder_hget(rec, key, LM_F_STATUS);
    const lm_recorded_emit *next = next_touch_emit(rec);
    const lm_recorded_emit *out = lm_recorder_emit_on(rec, LM_TOPIC_OUTCOMES);
    const lm_recorded_emit *hand = lm_recorder_emit_on(rec, LM_TOPIC_ACTIONS);
    fuzz_check(!(next && out), "a next touch and an outcome at once");
    fuzz_check(!hand || !fired, "a hand-off without a response");
    if (next) {
        fuzz_check(fired, "a next touch for a response");
        Lastmile__V1__FollowUpEvent *f =
            (Lastmile__V1__FollowUpEvent *)protobuf_c_message_unpack(
                &lastmile__v1__follow_up_event__descriptor, NULL, next->len,
                next->data);
        fuzz_check(f && f->event_case ==
                            LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH,
                   "the next touch does not decode");
        fuzz_check(f->next_touch->step == ev->timer_fired->step + 1,
                   "the next touch is not the next step");
        fuzz_check(f->next_touch->scheduled_for_ms >= FUZZ_NOW_MS,
                   "a next touch in the past");
        fuzz_check(f->next_touch->slot >= 0 && f->next_touch->slot < 168,
                   "a slot outside the week");
        fuzz_check(!status, "a lead closed with a next touch");
        protobuf_c_message_free_unpacked(&f->base, NULL);
    }
    if (out) {
        Lastmile__V1__Outcome *o =
            (Lastmile__V1__Outcome *)protobuf_c_message_unpack(
                &lastmile__v1__outcome__descriptor, NULL, out->len, out->data);
        fuzz_check(o != NULL, "the outcome does not decode");
        if (o->status == LASTMILE__V1__OUTCOME_STATUS__LATE_RESPONSE)
            fuzz_check(!fired && lm_recorder_n_writes(rec) == 0,
                       "a late response changed the lead");
        else
            fuzz_check(status && strcmp(status, "closed") == 0,
                       "an outcome, yet the lead is not closed");
        protobuf_c_message_free_unpacked(&o->base, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_ident_room room; /* the ident's scratch */
    lm_ident ident = *lm_ident_room_init(&room);
    int rc;
    ProtobufCMessage *msg =
        fuzz_identify(&lm_timing_worker, data, size, &ident, &rc);
    if (!msg)
        return 0;
    const Lastmile__V1__TimingEvent *ev =
        (const Lastmile__V1__TimingEvent *)msg;
    if (rc == 0 &&
        ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE) {
        const Lastmile__V1__LeadResponse *r = ev->response;
        char want[LM_ID_MAX];
        snprintf(want, sizeof(want), "response:%s", r->event_id);
        fuzz_check(strcmp(ident.id, want) == 0, "id is not response:<event>");
        fuzz_check(r->kind >= LASTMILE__V1__RESPONSE_KIND__REPLIED &&
                       r->kind <= LASTMILE__V1__RESPONSE_KIND__LOST,
                   "unknown ResponseKind accepted");
    } else if (rc == 0 && response_timer(ev)) {
        const Lastmile__V1__TimerFired *t = ev->timer_fired;
        char want[LM_ID_MAX];
        snprintf(want, sizeof(want), "%s:timer:%d", t->lead_id, (int)t->step);
        fuzz_check(strcmp(ident.id, want) == 0, "id is not <lead>:timer:<n>");
        /* handle: earliest = now + the next step's wait; the event's own
           times drive the sweeper side, so try them as well */
        const lm_cadence *c = lm_policy_cadence(policy, "qualified");
        lm_slot_stats stats;
        memset(&stats, 0, sizeof(stats));
        for (size_t i = 0; i < LM_TIMING_SLOTS; i++) {
            stats.s[i] = (uint32_t)((uint64_t)t->due_at_ms >> (i % 32));
            stats.f[i] = (uint32_t)((uint64_t)t->fired_at_ms >> (i % 32));
        }
        int64_t times[] = {FUZZ_NOW_MS, t->due_at_ms, t->fired_at_ms};
        for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++) {
            if (times[k] < 0 || times[k] > INT64_MAX / 4)
                continue;
            for (int adaptive = 0; adaptive < 2; adaptive++) {
                int32_t slot = -1;
                int64_t when =
                    lm_timing_choose(c, "America/New_York", times[k], adaptive,
                                     &stats, (uint64_t)t->step, &slot);
                fuzz_check(when == -1 || when >= times[k],
                           "next touch before the earliest instant");
                fuzz_check(when == -1 || (slot >= 0 && slot < 168),
                           "slot outside the week");
            }
        }
    }
    /* and the whole decision, with Redis answering anything */
    fuzz_decide(&lm_timing_worker, msg, lm_hash64(data, size, 0),
                timing_decided);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
