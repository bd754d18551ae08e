/* market.c — see market.h. */
#include "market.h"

#include "lm_clock.h"
#include "lm_hash.h"
#include "lm_pbjson.h"
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
    m->crm_share = 1.0;
    m->r_accepted = reader_new(fx, "qualification");
    m->r_followup = reader_new(fx, "followup");
    m->r_actions = reader_new(fx, "actions");
    m->r_outcomes = reader_new(fx, "outcomes");
    m->r_dlq = reader_new(fx, "dlq");
    m->r_timing = reader_new(fx, "timing");
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
    reader_free(m->r_timing);
    strset_free(&m->copies);
    strset_free(&m->dup_topics);
    lm_strmap_free(m->first_at);
    m->first_at = NULL;
    strset_free(&m->accepted);
    strset_free(&m->decisions);
    strset_free(&m->actions);
    strset_free(&m->outcomes);
    strset_free(&m->responders);
    strset_free(&m->deals);
    strset_free(&m->redecided);
    strset_free(&m->handed_out);
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

#define COPY_JSON_MAX 600 /* bytes of a doubled record's JSON printed */

/* Prints a record seen twice (`what`: "byte for byte", "action id", ...):
 * its topic, where it is and where the first one was (first_at:
 * partition << 40 | offset), its key, its lm-id header (the output's id)
 * and its value as JSON (cut at COPY_JSON_MAX), so a failing run names
 * the worker that wrote it. */
static void print_twice(const char *what, const rd_kafka_message_t *rkm,
                        int64_t first_at) {
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    const char *dot = strrchr(topic, '.');
    const ProtobufCMessageDescriptor *d =
        lm_pbjson_topic_type(dot ? dot + 1 : topic);
    rd_kafka_headers_t *hdrs = NULL;
    const void *idv = NULL;
    size_t idlen = 0;
    if (rd_kafka_message_headers(rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, "lm-id", &idv, &idlen) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
        idv = NULL;
    ProtobufCMessage *msg =
        d ? protobuf_c_message_unpack(d, NULL, rkm->len, rkm->payload) : NULL;
    json_t *j = msg ? lm_pbjson_from_message(msg) : NULL;
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    printf("twice (%s) on %s: partition %d offset %lld, first at partition "
           "%d offset %lld; key %.*s; lm-id %.*s; %.*s\n",
           what, topic, (int)rkm->partition, (long long)rkm->offset,
           (int)(first_at >> 40), (long long)(first_at & ((1LL << 40) - 1)),
           (int)rkm->key_len, rkm->key ? (const char *)rkm->key : "",
           idv ? (int)idlen : 6, idv ? (const char *)idv : "(none)",
           COPY_JSON_MAX, text ? text : "(not decoded)");
    fflush(stdout);
    free(text);
    json_decref(j);
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

/* Adds `key` to s for record rkm; the second time (and after) prints the
 * record with where the first was (m->first_at, under "<what>|<key>"). */
static void ledger_add(market *m, strset *s, const char *what, const char *key,
                       const rd_kafka_message_t *rkm) {
    char at_key[320];
    snprintf(at_key, sizeof(at_key), "%s|%s", what, key);
    if (!m->first_at && !(m->first_at = lm_strmap_new(0)))
        abort(); /* a test cannot go on without its ledger */
    int64_t *at =
        lm_strmap_put_str(m->first_at, at_key,
                          ((int64_t)rkm->partition << 40) | rkm->offset, NULL);
    if (!at)
        abort();
    if (strset_add(s, key) > 1)
        print_twice(what, rkm, *at);
}

static void on_accepted(void *opaque, const rd_kafka_message_t *rkm) {
    market *m = opaque;
    Lastmile__V1__LeadAccepted *a =
        lastmile__v1__lead_accepted__unpack(NULL, rkm->len, rkm->payload);
    if (a) {
        ledger_add(m, &m->accepted, "accepted lead", a->lead_id, rkm);
        lastmile__v1__lead_accepted__free_unpacked(a, NULL);
    }
}

static void on_followup(void *opaque, const rd_kafka_message_t *rkm) {
    market *m = opaque;
    Lastmile__V1__FollowUpEvent *e =
        lastmile__v1__follow_up_event__unpack(NULL, rkm->len, rkm->payload);
    if (e && e->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION) {
        if (e->decision->reason && *e->decision->reason) {
            /* a lead decided again: not a new decision */
            int handed = strcmp(e->decision->reason, "slot_freed") == 0;
            ledger_add(m, handed ? &m->handed_out : &m->redecided,
                       handed ? "waiting lead handed out again"
                              : "decision id decided again",
                       e->decision->decision_id ? e->decision->decision_id : "",
                       rkm);
        } else
            ledger_add(m, &m->decisions, "decided lead", e->decision->lead_id,
                       rkm);
        m->unassigned += e->decision->unassigned;
        m->holding +=
            !e->decision->unassigned &&
            e->decision->kind == LASTMILE__V1__DECISION_KIND__QUALIFIED;
    }
    if (e)
        lastmile__v1__follow_up_event__free_unpacked(e, NULL);
}

/* The CRM: the deal of a lead the market answered, once it is handed
 * off: won (with a value) or lost, by a stable hash of the lead. */
static void crm_result(market *m, const char *lead_id) {
    if (strset_count(&m->responders, lead_id) == 0 ||
        lm_hash_unit(lm_hash64_str(lead_id, 7)) >= m->crm_share ||
        strset_add(&m->deals, lead_id) != 1)
        return;
    char ev[128];
    snprintf(ev, sizeof(ev), "crm-%s", lead_id);
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    r.event_id = ev;
    r.lead_id = (char *)lead_id;
    uint64_t h = lm_hash64_str(lead_id, 8);
    if (lm_hash_unit(h) < 0.5) {
        r.kind = LASTMILE__V1__RESPONSE_KIND__CONVERTED;
        r.deal_value_cents = 100000 + (int64_t)(h % 900000);
        m->n_won++;
        m->won_cents += r.deal_value_cents;
    } else {
        r.kind = LASTMILE__V1__RESPONSE_KIND__LOST;
        m->n_lost++;
    }
    Lastmile__V1__TimingEvent t = LASTMILE__V1__TIMING_EVENT__INIT;
    t.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    t.response = &r;
    fixture_produce(m->fx, "timing", lead_id, &t.base);
}

static void on_action(void *opaque, const rd_kafka_message_t *rkm) {
    market *m = opaque;
    Lastmile__V1__FollowUpAction *a =
        lastmile__v1__follow_up_action__unpack(NULL, rkm->len, rkm->payload);
    if (!a)
        return;
    if (a->kind == LASTMILE__V1__ACTION_KIND__CANCEL) {
        /* a touch taken back: the same action id, its own event id */
        char id[160];
        snprintf(id, sizeof(id), "%s:cancel", a->action_id);
        ledger_add(m, &m->actions, "action id", id, rkm);
        m->cancels++;
    } else {
        ledger_add(m, &m->actions, "action id", a->action_id, rkm);
    }
    if (a->kind == LASTMILE__V1__ACTION_KIND__HANDOFF)
        crm_result(m, a->lead_id);
    if (a->kind == LASTMILE__V1__ACTION_KIND__TOUCH) {
        m->touches++;
        const lm_cadence *c = lm_policy_cadence(policy, a->cadence);
        const lm_step *st = c && a->step >= 0 && (size_t)a->step < c->n_steps
                                ? &c->steps[a->step]
                                : NULL;
        /* inside the allowed hours on a business day, lead's own zone:
           the action names no zone, so check in the zone of its country
           default through the slot it reports. An "at: now" step goes out
           at any hour; a human one never is "at: now", and says so. */
        int32_t slot = a->slot;
        int day = slot / 24, minute = (slot % 24) * 60;
        if (!st || a->human != st->human)
            m->off_hours++;
        else if (!st->at_now && (!(c->business_days_mask & (1u << day)) ||
                                 minute + 59 < c->allowed_start_min ||
                                 minute >= c->allowed_end_min))
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
        ledger_add(m, &m->outcomes, "outcome lead", o->lead_id, rkm);
        if (o->status == LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME)
            ledger_add(m, &m->decisions, "decided lead", o->lead_id, rkm);
        if (o->status == LASTMILE__V1__OUTCOME_STATUS__RESPONDED)
            m->n_responded_outcomes++;
        if (o->status == LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME)
            m->n_converted_outcomes++;
        if (o->status == LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME)
            m->n_lost_outcomes++;
    }
    lastmile__v1__outcome__free_unpacked(o, NULL);
}

static void on_dlq(void *opaque, const rd_kafka_message_t *rkm) {
    market *m = opaque;
    (void)rkm;
    m->dlq++;
}

/* A reader's callback that first counts the record's bytes in m->copies. */
typedef struct copy_check {
    market *m;
    reader_fn fn; /* NULL: only counted */
} copy_check;

static void on_any(void *opaque, const rd_kafka_message_t *rkm) {
    copy_check *cc = opaque;
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    uint64_t h1 =
        lm_hash64(rkm->payload, rkm->len, lm_hash64(rkm->key, rkm->key_len, 1));
    uint64_t h2 =
        lm_hash64(rkm->payload, rkm->len, lm_hash64(rkm->key, rkm->key_len, 2));
    char id[256];
    snprintf(id, sizeof(id), "%s:%016llx%016llx", topic, (unsigned long long)h1,
             (unsigned long long)h2);
    size_t dups = cc->m->copies.dups;
    ledger_add(cc->m, &cc->m->copies, "byte for byte", id, rkm);
    if (cc->m->copies.dups > dups)
        strset_add(&cc->m->dup_topics, topic);
    if (cc->fn)
        cc->fn(cc->m, rkm);
}

static void drain(market *m, topic_reader *r, int wait_ms, reader_fn fn) {
    copy_check cc = {m, fn};
    reader_drain(r, wait_ms, on_any, &cc);
}

void market_pump(market *m, int wait_ms) {
    drain(m, m->r_accepted, wait_ms, on_accepted);
    drain(m, m->r_followup, 10, on_followup);
    drain(m, m->r_actions, 10, on_action);
    fixture_flush(m->fx);
    drain(m, m->r_outcomes, 10, on_outcome);
    drain(m, m->r_dlq, 10, on_dlq);
    drain(m, m->r_timing, 10, NULL);
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
