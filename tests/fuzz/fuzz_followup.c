/* fuzz_followup.c — lastmile.followup input: bytes → FollowUpEvent → the
 * follow-up worker's identify, then the scheduling rule it applies
 * (lm_followup_schedule: the first allowed instant in the lead's time
 * zone) with the event's own time zone and times, as handle would.
 *
 * Then the whole decision (identify, plan, handle) runs through the
 * recorder with chosen lead-hash replies (fuzz_decide, fuzz.h).
 *
 * Invariants: a rejection leaves a reason; an identified decision has id
 * "<lead>:decision" (one made again, with a reason: its own decision_id),
 * a next touch "<lead>:touch:<step>" (a kept touch_id may add a
 * ":<suffix>"); a schedule is -1
 * (bad zone) or not before the earliest instant asked for. Of the whole
 * decision: fuzz_check_recorded's (fuzz.h) and followup_decided's (below). */
#include "fuzz.h"

#include "followup.h"
#include "lm_fmt.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <string.h>

static lm_policy *policy;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[LM_POLICY_ERRSZ];
    policy = lm_policy_load(NULL, err, sizeof(err));
    if (!policy) {
        fprintf(stderr, "fuzz_followup: built-in config: %s\n", err);
        abort();
    }
    fuzz_worker_init(&lm_followup_worker);
    return 0;
}

/* What handle decided: one touch at a time not before now, of the step
 * the event asked for, written to the lead with its timer armed; or (a
 * closed lead) nothing at all. */
static void followup_decided(const lm_recorder *rec,
                             const ProtobufCMessage *in) {
    const Lastmile__V1__FollowUpEvent *ev =
        (const Lastmile__V1__FollowUpEvent *)in;
    const char *lead =
        ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION
            ? ev->decision->lead_id
            : ev->next_touch->lead_id;
    int step = ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION
                   ? 0
                   : ev->next_touch->step;
    if (ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION &&
        ((ev->decision->reason && *ev->decision->reason) ||
         ev->decision->unassigned))
        return; /* a step given again to a new owner, or a lead that waits
                   for one: fuzz_check_recorded's rules only */
    if (lm_recorder_n_emits(rec) == 0) {
        fuzz_check(lm_recorder_n_writes(rec) == 0 &&
                       lm_recorder_n_index(rec) == 0,
                   "no action, yet the lead was written");
        return;
    }
    fuzz_check(lm_recorder_n_emits(rec) == 1, "more than one action");
    Lastmile__V1__FollowUpAction *a =
        (Lastmile__V1__FollowUpAction *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__follow_up_action__descriptor);
    fuzz_check(a != NULL, "the action does not decode");
    fuzz_check(a->kind == LASTMILE__V1__ACTION_KIND__TOUCH && a->step == step,
               "not a touch of the step asked for");
    fuzz_check(a->scheduled_for_ms >= FUZZ_NOW_MS, "a touch in the past");
    fuzz_check(a->slot >= 0 && a->slot < 168, "a slot outside the week");
    fuzz_check(strcmp(a->lead_id, lead) == 0, "an action for another lead");
    char key[LM_KEY_MAX], v[LM_FMT_I64_MAX];
    lm_lead_key(lead, key);
    snprintf(v, sizeof(v), "%d", step);
    const char *st = lm_recorder_hget(rec, key, LM_F_STEP);
    fuzz_check(st && strcmp(st, v) == 0, "the lead's step is not the action's");
    snprintf(v, sizeof(v), "%lld", (long long)a->scheduled_for_ms);
    const char *last = lm_recorder_hget(rec, key, LM_F_LAST_ACTION);
    fuzz_check(last && strcmp(last, v) == 0,
               "the lead's last action is not the action's time");
    int armed = 0;
    for (size_t i = 0; i < lm_recorder_n_index(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_index(rec, i);
        for (int k = 1; k < c->argc; k++)
            armed |= strstr(c->argv[k], lead) != NULL;
    }
    fuzz_check(armed, "an action without its response timer");
    protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void check_schedule(const lm_cadence *c, const char *tz,
                           int64_t earliest) {
    int64_t when = lm_followup_schedule(c, tz, earliest);
    fuzz_check(when == -1 || when >= earliest,
               "scheduled before the earliest allowed instant");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_ident_room room; /* the ident's scratch */
    lm_ident ident = *lm_ident_room_init(&room);
    int rc;
    ProtobufCMessage *msg =
        fuzz_identify(&lm_followup_worker, data, size, &ident, &rc);
    if (!msg)
        return 0;
    const Lastmile__V1__FollowUpEvent *ev =
        (const Lastmile__V1__FollowUpEvent *)msg;
    if (rc == 0 &&
        ev->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION) {
        const Lastmile__V1__QualificationDecision *d = ev->decision;
        char want[LM_ID_MAX];
        /* a decision made again (a reason: sla_breach, slot_freed) is
           known by its own id, when that id is its lead's */
        if (d->reason && *d->reason && d->decision_id &&
            strncmp(d->decision_id, d->lead_id, strlen(d->lead_id)) == 0)
            snprintf(want, sizeof(want), "%s", d->decision_id);
        else
            snprintf(want, sizeof(want), "%s:decision", d->lead_id);
        fuzz_check(strcmp(ident.id, want) == 0,
                   "id is not <lead>:decision (or a decision made again's)");
        const lm_cadence *c = lm_policy_cadence(
            policy, d->kind == LASTMILE__V1__DECISION_KIND__QUALIFIED
                        ? "qualified"
                        : "nurture");
        fuzz_check(c != NULL, "built-in cadence missing");
        /* handle: earliest = now + the first step's wait, in the lead's
           own zone (the event carries the lead) */
        check_schedule(c, d->lead->timezone, FUZZ_NOW_MS + c->steps[0].wait_ms);
        if (d->decided_at_ms > 0 && d->decided_at_ms < INT64_MAX / 4)
            check_schedule(c, d->lead->timezone, d->decided_at_ms);
    } else if (rc == 0) {
        const Lastmile__V1__NextTouch *t = ev->next_touch;
        char want[LM_ID_MAX];
        snprintf(want, sizeof(want), "%s:touch:%d", t->lead_id, (int)t->step);
        /* identify keeps a touch_id "<lead>:touch:<step>" with or
           without a ":<suffix>" (a cadence resumed after its account's
           deal: timing_account.c) and refuses one naming another step;
           else the id is "<lead>:touch:<step>" */
        size_t wl = strlen(want);
        fuzz_check(strncmp(ident.id, want, wl) == 0 &&
                       (ident.id[wl] == '\0' || ident.id[wl] == ':'),
                   "id is not <lead>:touch:<step>, with or without a suffix");
        const lm_cadence *c = lm_policy_cadence(policy, "nurture");
        /* handle: earliest = max(scheduled_for_ms, now); the zone comes
           from Redis, so use a real one with a DST change */
        int64_t earliest = t->scheduled_for_ms > FUZZ_NOW_MS
                               ? t->scheduled_for_ms
                               : FUZZ_NOW_MS;
        check_schedule(c, "Europe/Berlin", earliest);
    }
    /* and the whole decision, with Redis answering anything */
    fuzz_decide(&lm_followup_worker, msg, lm_hash64(data, size, 0),
                followup_decided);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
