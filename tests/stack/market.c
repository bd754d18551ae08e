/* market.c — see market.h. */
#include "market.h"

#include "lm_clock.h"
#include "lm_hash.h"
#include "lm_policy.h"
#include "lm_tz.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lm_policy *policy;

void market_init(market *m, fixture *fx, double respond_share) {
    memset(m, 0, sizeof(*m));
    m->fx = fx;
    m->respond_share = respond_share;
    m->r_accepted = reader_new(fx, "qualification");
    m->r_followup = reader_new(fx, "followup");
    m->r_actions = reader_new(fx, "actions");
    m->r_outcomes = reader_new(fx, "outcomes");
    m->r_dlq = reader_new(fx, "dlq");
    char err[512];
    if (!policy)
        policy = lm_policy_load(NULL, err, sizeof(err));
}

void market_free(market *m) {
    reader_free(m->r_accepted);
    reader_free(m->r_followup);
    reader_free(m->r_actions);
    reader_free(m->r_outcomes);
    reader_free(m->r_dlq);
    strset_free(&m->accepted);
    strset_free(&m->decisions);
    strset_free(&m->actions);
    strset_free(&m->outcomes);
    strset_free(&m->responders);
}

static const char *countries[] = {"US", "DE", "GB", "FR", "IN",
                                  "JP", "BR", "AU", "CA", "NL"};
static const char *titles[] = {
    "CEO", "VP Sales", "Director of IT", "Marketing Manager", "Engineer", ""};
static const char *sources[] = {"web_form", "referral", "ads", "crm"};

static void submit_one(market *m, int person, int event, int invalid) {
    char email[64], event_id[64], name[32];
    snprintf(email, sizeof(email), "person%d@company%d.example.com", person,
             person % 97);
    snprintf(event_id, sizeof(event_id), "ev-%d-%d", person, event);
    snprintf(name, sizeof(name), "Person %d", person);
    uint64_t h = lm_hash64_str(email, 1);
    Lastmile__V1__LeadSubmitted l = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    l.event_id = event_id;
    l.source = (char *)sources[h % 4];
    l.email = invalid ? (char *)"not-an-email" : email;
    l.full_name = name;
    l.company = (char *)"Example Co";
    l.title = (char *)titles[(h >> 8) % 6];
    l.company_size = (int32_t)((h >> 16) % 3000);
    l.country = (char *)countries[(h >> 24) % 10];
    l.submitted_at_ms = lm_clock_now_ms();
    fixture_produce(m->fx, "intake", email, &l.base);
}

void market_submit(market *m, int n, int dups, int invalid, int seed) {
    for (int i = 0; i < n; i++)
        submit_one(m, seed * 1000000 + i, 0, 0);
    for (int i = 0; i < dups; i++)
        submit_one(m, seed * 1000000 + i, 1, 0);
    for (int i = 0; i < invalid; i++)
        submit_one(m, seed * 1000000 + n + i, 0, 1);
    fixture_flush(m->fx);
}

static void on_accepted(void *opaque, const rd_kafka_message_t *rkm) {
    market *m = opaque;
    Lastmile__V1__LeadAccepted *a =
        lastmile__v1__lead_accepted__unpack(NULL, rkm->len, rkm->payload);
    if (a) {
        strset_add(&m->accepted, a->lead_id);
        lastmile__v1__lead_accepted__free_unpacked(a, NULL);
    }
}

static void on_followup(void *opaque, const rd_kafka_message_t *rkm) {
    market *m = opaque;
    Lastmile__V1__FollowUpEvent *e =
        lastmile__v1__follow_up_event__unpack(NULL, rkm->len, rkm->payload);
    if (e && e->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION) {
        if (e->decision->reason && *e->decision->reason)
            m->slot_freed++; /* a lead decided again: not a new decision */
        else
            strset_add(&m->decisions, e->decision->lead_id);
        m->unassigned += e->decision->unassigned;
        m->holding +=
            !e->decision->unassigned &&
            e->decision->kind == LASTMILE__V1__DECISION_KIND__QUALIFIED;
    }
    if (e)
        lastmile__v1__follow_up_event__free_unpacked(e, NULL);
}

static void on_action(void *opaque, const rd_kafka_message_t *rkm) {
    market *m = opaque;
    Lastmile__V1__FollowUpAction *a =
        lastmile__v1__follow_up_action__unpack(NULL, rkm->len, rkm->payload);
    if (!a)
        return;
    strset_add(&m->actions, a->action_id);
    if (a->kind == LASTMILE__V1__ACTION_KIND__TOUCH) {
        m->touches++;
        const lm_cadence *c = lm_policy_cadence(policy, a->cadence);
        /* inside the allowed hours on a business day, lead's own zone:
           the action names no zone, so check in the zone of its country
           default through the slot it reports */
        int32_t slot = a->slot;
        int day = slot / 24, minute = (slot % 24) * 60;
        if (!c || !(c->business_days_mask & (1u << day)) ||
            minute + 59 < c->allowed_start_min || minute >= c->allowed_end_min)
            m->off_hours++;
        if (a->step == 0 &&
            lm_hash_unit(lm_hash64_str(a->lead_id, 99)) < m->respond_share &&
            strset_add(&m->responders, a->lead_id) == 1) {
            char ev[128];
            snprintf(ev, sizeof(ev), "resp-%s", a->lead_id);
            Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
            r.event_id = ev;
            r.lead_id = a->lead_id;
            r.kind = LASTMILE__V1__RESPONSE_KIND__REPLIED;
            r.action_id = a->action_id;
            Lastmile__V1__TimingEvent t = LASTMILE__V1__TIMING_EVENT__INIT;
            t.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
            t.response = &r;
            fixture_produce(m->fx, "timing", a->lead_id, &t.base);
        }
    }
    lastmile__v1__follow_up_action__free_unpacked(a, NULL);
}

static void on_outcome(void *opaque, const rd_kafka_message_t *rkm) {
    market *m = opaque;
    Lastmile__V1__Outcome *o =
        lastmile__v1__outcome__unpack(NULL, rkm->len, rkm->payload);
    if (!o)
        return;
    if (o->status == LASTMILE__V1__OUTCOME_STATUS__LATE_RESPONSE) {
        m->late++;
    } else {
        strset_add(&m->outcomes, o->lead_id);
        if (o->status == LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME)
            strset_add(&m->decisions, o->lead_id);
        if (o->status == LASTMILE__V1__OUTCOME_STATUS__RESPONDED)
            m->n_responded_outcomes++;
    }
    lastmile__v1__outcome__free_unpacked(o, NULL);
}

static void on_dlq(void *opaque, const rd_kafka_message_t *rkm) {
    market *m = opaque;
    (void)rkm;
    m->dlq++;
}

void market_pump(market *m, int wait_ms) {
    reader_drain(m->r_accepted, wait_ms, on_accepted, m);
    reader_drain(m->r_followup, 10, on_followup, m);
    reader_drain(m->r_actions, 10, on_action, m);
    fixture_flush(m->fx);
    reader_drain(m->r_outcomes, 10, on_outcome, m);
    reader_drain(m->r_dlq, 10, on_dlq, m);
}

int market_until(market *m, int (*pred)(const market *m), int64_t timeout_ms) {
    int64_t deadline = fixture_mono_ms() + fixture_ms(timeout_ms);
    while (fixture_mono_ms() < deadline) {
        market_pump(m, 200);
        if (pred(m))
            return 1;
    }
    market_pump(m, 200);
    return pred(m);
}
