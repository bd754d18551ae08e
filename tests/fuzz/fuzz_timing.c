/* fuzz_timing.c — lastmile.timing input: bytes → TimingEvent → the
 * timing worker's identify, then for a timer the next-touch choice it
 * makes (lm_timing_choose on both arms) from the event's times.
 *
 * Then the whole decision (identify, plan, handle) runs through the
 * recorder with chosen lead-hash and slot-count replies (fuzz_decide,
 * fuzz.h).
 *
 * Invariants: a rejection leaves a reason; an identified response has id
 * "response:<event_id>" and a known ResponseKind, a timer
 * "<lead>:timer:<step>"; a chosen time is -1 or not before the earliest
 * instant, with its slot inside the week. */
#include "fuzz.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_ident ident;
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
                       r->kind <= LASTMILE__V1__RESPONSE_KIND__BOUNCED,
                   "unknown ResponseKind accepted");
    } else if (rc == 0) {
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
    fuzz_decide(&lm_timing_worker, msg, lm_hash64(data, size, 0), 0);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
