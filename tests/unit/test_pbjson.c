/* test_pbjson.c — unit tests of lm_pbjson, the protobuf-c ↔ JSON mapping.
 *
 *   pbjson.roundtrip_*: every message type of lastmile.proto (and the
 *     internal outbox) with every field set goes message → JSON text →
 *     message and packs to the same bytes; the JSON has the promised
 *     shape (enum names, int64 numbers, base64 bytes, map objects, only
 *     the set oneof member, unset sub-messages left out);
 *   pbjson.input_*: what input accepts besides the canonical form (enum
 *     numbers, numbers in strings, null, URL-safe unpadded base64);
 *   pbjson.errors: every error path, table-driven, each with its message;
 *   pbjson.base64, pbjson.topic_types: the helpers.
 *
 * Pure code: no broker, no Redis, no clock. Each test frees what it
 * allocates (run it under valgrind to check the error paths free). */
#include "lm_pbjson.h"

#include "lastmile/v1/internal.pb-c.h"
#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_ERRSZ 1024

/* ------------------------------------------------------------ helpers */

static json_t *parse(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    cr_assert(j, "bad test JSON %s: %s", text, e.text);
    return j;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len) {
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    cr_assert(buf);
    protobuf_c_message_pack(m, buf);
    return buf;
}

/* m → JSON → text → JSON → message; the result packs to m's bytes.
 * Returns the JSON of m (caller decrefs) for shape checks. */
static json_t *roundtrip(const ProtobufCMessage *m) {
    json_t *j = lm_pbjson_from_message(m);
    cr_assert(j, "from_message failed for %s", m->descriptor->name);
    char *text = json_dumps(j, JSON_COMPACT);
    cr_assert(text);
    json_t *back = parse(text);
    char err[TEST_ERRSZ] = "";
    ProtobufCMessage *m2 =
        lm_pbjson_to_message(m->descriptor, back, err, sizeof(err));
    cr_assert(m2, "to_message(%s) failed: %s\n%s", m->descriptor->name, err,
              text);
    cr_expect(protobuf_c_message_check(m2), "%s fails its check",
              m->descriptor->name);
    size_t la, lb;
    uint8_t *a = pack(m, &la), *b = pack(m2, &lb);
    cr_expect(la == lb && memcmp(a, b, la) == 0,
              "%s does not round-trip (%zu vs %zu bytes): %s",
              m->descriptor->name, la, lb, text);
    free(a);
    free(b);
    protobuf_c_message_free_unpacked(m2, NULL);
    json_decref(back);
    free(text);
    return j;
}

static void expect_str(const json_t *obj, const char *key, const char *want) {
    const json_t *v = json_object_get(obj, key);
    cr_expect(json_is_string(v), "%s is not a string", key);
    if (json_is_string(v))
        cr_expect_str_eq(json_string_value(v), want, "%s", key);
}

static void expect_int(const json_t *obj, const char *key, json_int_t want) {
    const json_t *v = json_object_get(obj, key);
    cr_expect(json_is_integer(v), "%s is not an integer", key);
    cr_expect_eq(json_integer_value(v), want, "%s: %lld != %lld", key,
                 (long long)json_integer_value(v), (long long)want);
}

/* ------------------------------------------------------------ fixtures */

static Lastmile__V1__LeadSubmitted__AttributesEntry sub_attr[2] = {
    LASTMILE__V1__LEAD_SUBMITTED__ATTRIBUTES_ENTRY__INIT,
    LASTMILE__V1__LEAD_SUBMITTED__ATTRIBUTES_ENTRY__INIT};
static Lastmile__V1__LeadSubmitted__AttributesEntry *sub_attrs[2] = {
    &sub_attr[0], &sub_attr[1]};

static Lastmile__V1__LeadSubmitted lead_submitted(void) {
    Lastmile__V1__LeadSubmitted m = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    sub_attr[0].key = "pages_viewed";
    sub_attr[0].value = "7";
    sub_attr[1].key = "utm source";
    sub_attr[1].value = "ads \"spring\" ünïcode";
    m.event_id = "form-1";
    m.source = "web_form";
    m.email = "Ada@Example.com";
    m.full_name = "Ada Lovelace";
    m.company = "Analytical, Ltd";
    m.title = "VP Engineering";
    m.company_size = 250;
    m.country = "GB";
    m.timezone = "Europe/London";
    m.phone = "+44 20 1234 5678";
    m.submitted_at_ms = INT64_C(1700000000123);
    m.n_attributes = 2;
    m.attributes = sub_attrs;
    return m;
}

static Lastmile__V1__LeadAccepted__AttributesEntry acc_attr =
    LASTMILE__V1__LEAD_ACCEPTED__ATTRIBUTES_ENTRY__INIT;
static Lastmile__V1__LeadAccepted__AttributesEntry *acc_attrs[1] = {&acc_attr};
static char *merged[3] = {"crm", "ads", ""};

static Lastmile__V1__LeadAccepted lead_accepted(void) {
    Lastmile__V1__LeadAccepted m = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    acc_attr.key = "webinar";
    acc_attr.value = "yes";
    m.lead_id = "L-42";
    m.event_id = "form-1";
    m.source = "web_form";
    m.email = "ada@example.com";
    m.email_domain = "example.com";
    m.full_name = "Ada";
    m.company = "Analytical";
    m.title = "VP";
    m.company_size = 250;
    m.country = "GB";
    m.timezone = "Europe/London";
    m.phone = "+442012345678";
    m.submitted_at_ms = 1700000000123;
    m.accepted_at_ms = 1700000000456;
    m.n_attributes = 1;
    m.attributes = acc_attrs;
    m.n_merged_sources = 3;
    m.merged_sources = merged;
    return m;
}

static Lastmile__V1__Reason reason_v[3] = {LASTMILE__V1__REASON__INIT,
                                           LASTMILE__V1__REASON__INIT,
                                           LASTMILE__V1__REASON__INIT};
static Lastmile__V1__Reason *reasons[3] = {&reason_v[0], &reason_v[1],
                                           &reason_v[2]};
static Lastmile__V1__LeadAccepted decision_lead;

static Lastmile__V1__QualificationDecision decision(void) {
    Lastmile__V1__QualificationDecision m =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    reason_v[0].feature = "title=vp";
    reason_v[0].contribution = 1.25;
    reason_v[1].feature = "company_size";
    reason_v[1].contribution = -0.1234567890123456789;
    reason_v[2].feature = "tiny";
    reason_v[2].contribution = 5e-324; /* the smallest subnormal */
    decision_lead = lead_accepted();
    m.decision_id = "L-42:decision";
    m.lead_id = "L-42";
    m.score = 0.8125;
    m.kind = LASTMILE__V1__DECISION_KIND__QUALIFIED;
    m.n_reasons = 3;
    m.reasons = reasons;
    m.owner = "grace";
    m.team = "emea";
    m.next_step = "email step 1 within 5m";
    m.model_version = "v3";
    m.decided_at_ms = 1700000001000;
    m.lead = &decision_lead;
    m.segment = "GB/vp/web_form";
    return m;
}

static Lastmile__V1__NextTouch next_touch(void) {
    Lastmile__V1__NextTouch m = LASTMILE__V1__NEXT_TOUCH__INIT;
    m.touch_id = "L-42:touch:2";
    m.lead_id = "L-42";
    m.step = 2;
    m.scheduled_for_ms = 1700000360000;
    m.adaptive = 1;
    m.slot = 167;
    return m;
}

static Lastmile__V1__LeadResponse response(void) {
    Lastmile__V1__LeadResponse m = LASTMILE__V1__LEAD_RESPONSE__INIT;
    m.event_id = "crm-9";
    m.lead_id = "L-42";
    m.kind = LASTMILE__V1__RESPONSE_KIND__CONVERTED;
    m.occurred_at_ms = 1700000999000;
    m.deal_value_cents = 1234500;
    m.action_id = "L-42:action:1";
    return m;
}

static Lastmile__V1__TimerFired timer_fired(void) {
    Lastmile__V1__TimerFired m = LASTMILE__V1__TIMER_FIRED__INIT;
    m.timer_id = "L-42:timer:1";
    m.lead_id = "L-42";
    m.step = 1;
    m.due_at_ms = 1700000500000;
    m.fired_at_ms = 1700000500007;
    m.action_id = "L-42:action:1";
    return m;
}

/* ------------------------------------------------------ round trips */

Test(pbjson, roundtrip_lead_submitted) {
    Lastmile__V1__LeadSubmitted m = lead_submitted();
    json_t *j = roundtrip(&m.base);
    expect_str(j, "event_id", "form-1");
    expect_str(j, "company", "Analytical, Ltd");
    expect_int(j, "company_size", 250);
    expect_int(j, "submitted_at_ms", INT64_C(1700000000123));
    json_t *attrs = json_object_get(j, "attributes");
    cr_assert(json_is_object(attrs), "attributes is not a JSON object");
    cr_expect_eq(json_object_size(attrs), 2);
    expect_str(attrs, "pages_viewed", "7");
    expect_str(attrs, "utm source", "ads \"spring\" ünïcode");
    json_decref(j);

    /* defaults print too; an empty map is an empty object */
    Lastmile__V1__LeadSubmitted empty = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    j = roundtrip(&empty.base);
    expect_str(j, "email", "");
    expect_int(j, "company_size", 0);
    cr_expect(json_is_object(json_object_get(j, "attributes")));
    cr_expect_eq(json_object_size(json_object_get(j, "attributes")), 0);
    json_decref(j);
}

Test(pbjson, roundtrip_lead_accepted) {
    Lastmile__V1__LeadAccepted m = lead_accepted();
    json_t *j = roundtrip(&m.base);
    json_t *ms = json_object_get(j, "merged_sources");
    cr_assert(json_is_array(ms));
    cr_expect_eq(json_array_size(ms), 3);
    cr_expect_str_eq(json_string_value(json_array_get(ms, 1)), "ads");
    cr_expect_str_eq(json_string_value(json_array_get(ms, 2)), "");
    expect_str(json_object_get(j, "attributes"), "webinar", "yes");
    json_decref(j);
}

Test(pbjson, roundtrip_decision_and_reason) {
    Lastmile__V1__QualificationDecision m = decision();
    json_t *j = roundtrip(&m.base);
    expect_str(j, "kind", "QUALIFIED");
    cr_expect(json_is_real(json_object_get(j, "score")));
    json_t *rs = json_object_get(j, "reasons");
    cr_assert_eq(json_array_size(rs), 3);
    expect_str(json_array_get(rs, 0), "feature", "title=vp");
    cr_expect(json_is_object(json_object_get(j, "lead")));
    expect_str(json_object_get(j, "lead"), "lead_id", "L-42");
    json_decref(j);

    /* an unset sub-message is left out */
    m.lead = NULL;
    j = roundtrip(&m.base);
    cr_expect_null(json_object_get(j, "lead"));
    json_decref(j);

    /* doubles JSON cannot hold travel as strings */
    Lastmile__V1__Reason r = LASTMILE__V1__REASON__INIT;
    r.feature = "odd";
    const double odd[] = {NAN, INFINITY, -INFINITY};
    const char *const text[] = {"NaN", "Infinity", "-Infinity"};
    for (int i = 0; i < 3; i++) {
        r.contribution = odd[i];
        j = roundtrip(&r.base);
        expect_str(j, "contribution", text[i]);
        json_decref(j);
    }
}

Test(pbjson, roundtrip_followup_event_oneof) {
    Lastmile__V1__QualificationDecision d = decision();
    Lastmile__V1__NextTouch t = next_touch();
    Lastmile__V1__FollowUpEvent m = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;

    m.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    m.decision = &d;
    json_t *j = roundtrip(&m.base);
    cr_expect_eq(json_object_size(j), 1, "only the set member prints");
    cr_expect(json_is_object(json_object_get(j, "decision")));
    json_decref(j);

    m.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH;
    m.next_touch = &t;
    j = roundtrip(&m.base);
    cr_expect_eq(json_object_size(j), 1);
    json_t *nt = json_object_get(j, "next_touch");
    cr_expect(json_is_true(json_object_get(nt, "adaptive")));
    expect_int(nt, "slot", 167);
    json_decref(j);

    m.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT__NOT_SET;
    j = roundtrip(&m.base);
    cr_expect_eq(json_object_size(j), 0, "no member set: an empty object");
    json_decref(j);
}

Test(pbjson, roundtrip_action) {
    Lastmile__V1__FollowUpAction m = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    m.action_id = "L-42:handoff";
    m.lead_id = "L-42";
    m.channel = "call";
    m.step = -1;
    m.scheduled_for_ms = 1700000000000;
    m.owner = "grace";
    m.kind = LASTMILE__V1__ACTION_KIND__HANDOFF;
    m.cost_cents = 250;
    m.adaptive = 1;
    m.slot = 9;
    m.segment = "GB/vp";
    m.cadence = "qualified";
    m.submitted_at_ms = 1699999999000;
    json_t *j = roundtrip(&m.base);
    expect_int(j, "step", -1);
    expect_str(j, "kind", "HANDOFF");
    cr_expect(json_is_true(json_object_get(j, "adaptive")));
    json_decref(j);
}

Test(pbjson, roundtrip_timing_event_oneof) {
    Lastmile__V1__TimerFired tf = timer_fired();
    Lastmile__V1__LeadResponse r = response();
    Lastmile__V1__TimingEvent m = LASTMILE__V1__TIMING_EVENT__INIT;
    m.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    m.timer_fired = &tf;
    json_t *j = roundtrip(&m.base);
    cr_expect_eq(json_object_size(j), 1);
    expect_str(json_object_get(j, "timer_fired"), "timer_id", "L-42:timer:1");
    json_decref(j);

    m.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    m.response = &r;
    j = roundtrip(&m.base);
    cr_expect_eq(json_object_size(j), 1);
    expect_str(json_object_get(j, "response"), "kind", "CONVERTED");
    expect_int(json_object_get(j, "response"), "deal_value_cents", 1234500);
    json_decref(j);
}

Test(pbjson, roundtrip_outcome) {
    Lastmile__V1__LeadAccepted lead = lead_accepted();
    Lastmile__V1__Outcome m = LASTMILE__V1__OUTCOME__INIT;
    m.outcome_id = "L-42:outcome";
    m.lead_id = "L-42";
    m.status = LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME;
    m.submitted_at_ms = 1700000000000;
    m.closed_at_ms = INT64_MAX; /* int64 beyond 2^53 stays exact */
    m.deal_value_cents = INT64_MIN;
    m.owner = "grace";
    m.touches = 3;
    m.cost_cents = 75;
    m.adaptive = 0;
    m.segment = "GB/vp";
    m.score = 0.5;
    m.decision = LASTMILE__V1__DECISION_KIND__NURTURE;
    m.lead = &lead;
    json_t *j = roundtrip(&m.base);
    expect_int(j, "closed_at_ms", INT64_MAX);
    expect_int(j, "deal_value_cents", INT64_MIN);
    expect_str(j, "status", "CONVERTED_OUTCOME");
    expect_str(j, "decision", "NURTURE");
    cr_expect(json_is_false(json_object_get(j, "adaptive")));
    json_decref(j);

    /* an enum value with no name (proto3 enums are open) prints as a
     * number and comes back */
    m.status = (Lastmile__V1__OutcomeStatus)42;
    j = roundtrip(&m.base);
    expect_int(j, "status", 42);
    json_decref(j);
}

Test(pbjson, roundtrip_dead_letter_bytes) {
    static const uint8_t raw[] = {0x00, 0xff, 0x10, 'a', 0x00};
    static const uint8_t key1[] = {0xfb};
    Lastmile__V1__DeadLetter m = LASTMILE__V1__DEAD_LETTER__INIT;
    m.dead_letter_id = "intake:lastmile.intake:1:7";
    m.original.data = (uint8_t *)raw;
    m.original.len = sizeof(raw);
    m.original_key.data = (uint8_t *)key1;
    m.original_key.len = sizeof(key1);
    m.topic = "lastmile.intake";
    m.partition = 1;
    m.offset = 7;
    m.reason = "email: not an address";
    m.worker = "intake";
    m.failed_at_ms = 1700000000000;
    json_t *j = roundtrip(&m.base);
    expect_str(j, "original", "AP8QYQA=");
    expect_str(j, "original_key", "+w==");
    json_decref(j);

    m.original.len = 0;
    m.original.data = NULL;
    j = roundtrip(&m.base);
    expect_str(j, "original", "");
    json_decref(j);
}

Test(pbjson, roundtrip_internal_outbox) {
    Lastmile__V1__Internal__OutboxRecord r[2] = {
        LASTMILE__V1__INTERNAL__OUTBOX_RECORD__INIT,
        LASTMILE__V1__INTERNAL__OUTBOX_RECORD__INIT};
    Lastmile__V1__Internal__OutboxRecord *rp[2] = {&r[0], &r[1]};
    r[0].topic = "lastmile.actions";
    r[0].partition = 3;
    r[0].scan_from = 99;
    r[0].key.data = (uint8_t *)"L-1";
    r[0].key.len = 3;
    r[0].value.data = (uint8_t *)"\x0a\x01x";
    r[0].value.len = 3;
    r[0].id = "L-1:action:0";
    Lastmile__V1__Internal__Outbox m = LASTMILE__V1__INTERNAL__OUTBOX__INIT;
    m.n_records = 2;
    m.records = rp;
    m.written_at_ms = 5;
    json_t *j = roundtrip(&m.base);
    cr_expect_eq(json_array_size(json_object_get(j, "records")), 2);
    json_decref(j);
}

Test(pbjson, not_utf8_prints_replacement) {
    Lastmile__V1__TimerFired m = timer_fired();
    m.lead_id = "L-\xff\xc3-\xe2\x82\xac"; /* two bad bytes, then a euro */
    json_t *j = lm_pbjson_from_message(&m.base);
    cr_assert(j);
    expect_str(j, "lead_id", "L-\xef\xbf\xbd\xef\xbf\xbd-\xe2\x82\xac");
    json_decref(j);
}

/* ------------------------------------------------------------- input */

static ProtobufCMessage *from_text(const ProtobufCMessageDescriptor *d,
                                   const char *text) {
    json_t *j = parse(text);
    char err[TEST_ERRSZ] = "";
    ProtobufCMessage *m = lm_pbjson_to_message(d, j, err, sizeof(err));
    json_decref(j);
    cr_assert(m, "%s rejected: %s", text, err);
    return m;
}

Test(pbjson, input_enums_by_name_and_number) {
    const ProtobufCMessageDescriptor *d =
        &lastmile__v1__qualification_decision__descriptor;
    const struct {
        const char *text;
        int want;
    } cases[] = {
        {"{\"kind\":\"QUALIFIED\"}", LASTMILE__V1__DECISION_KIND__QUALIFIED},
        {"{\"kind\":2}", LASTMILE__V1__DECISION_KIND__NURTURE},
        {"{\"kind\":\"DISQUALIFIED\"}",
         LASTMILE__V1__DECISION_KIND__DISQUALIFIED},
        {"{\"kind\":0}",
         LASTMILE__V1__DECISION_KIND__DECISION_KIND_UNSPECIFIED},
        {"{\"kind\":-7}", -7},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Lastmile__V1__QualificationDecision *m =
            (Lastmile__V1__QualificationDecision *)from_text(d, cases[i].text);
        cr_expect_eq((int)m->kind, cases[i].want, "%s", cases[i].text);
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
}

Test(pbjson, input_lenient_forms) {
    /* numbers in strings, null as the default, ints for doubles */
    Lastmile__V1__Outcome *o = (Lastmile__V1__Outcome *)from_text(
        &lastmile__v1__outcome__descriptor,
        "{\"closed_at_ms\":\"1700000000000\",\"touches\":\"-3\","
        "\"score\":1,\"owner\":null,\"lead\":null,\"status\":null}");
    cr_expect_eq(o->closed_at_ms, INT64_C(1700000000000));
    cr_expect_eq(o->touches, -3);
    cr_expect(o->score == 1.0);
    cr_expect_str_eq(o->owner, "");
    cr_expect_null(o->lead);
    protobuf_c_message_free_unpacked(&o->base, NULL);

    Lastmile__V1__Reason *r = (Lastmile__V1__Reason *)from_text(
        &lastmile__v1__reason__descriptor, "{\"contribution\":\"-0.25\"}");
    cr_expect(r->contribution == -0.25);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* URL-safe alphabet, no padding */
    Lastmile__V1__DeadLetter *dl = (Lastmile__V1__DeadLetter *)from_text(
        &lastmile__v1__dead_letter__descriptor,
        "{\"original\":\"AP8QYQA\",\"original_key\":\"-_8\"}");
    cr_assert_eq(dl->original.len, 5);
    cr_expect_eq(memcmp(dl->original.data,
                        "\x00\xff\x10"
                        "a\x00",
                        5),
                 0);
    cr_assert_eq(dl->original_key.len, 2);
    cr_expect_eq(memcmp(dl->original_key.data, "\xfb\xff", 2), 0);
    protobuf_c_message_free_unpacked(&dl->base, NULL);

    /* a map value of null is the default; empty map and array are fine */
    Lastmile__V1__LeadAccepted *la = (Lastmile__V1__LeadAccepted *)from_text(
        &lastmile__v1__lead_accepted__descriptor,
        "{\"attributes\":{\"a\":null},\"merged_sources\":[]}");
    cr_assert_eq(la->n_attributes, 1);
    cr_expect_str_eq(la->attributes[0]->key, "a");
    cr_expect_str_eq(la->attributes[0]->value, "");
    cr_expect_eq(la->n_merged_sources, 0);
    protobuf_c_message_free_unpacked(&la->base, NULL);
}

/* ------------------------------------------------------------ errors */

typedef struct error_case {
    const ProtobufCMessageDescriptor *d;
    const char *json; /* NULL: no JSON value at all */
    const char *want; /* a substring of the error */
} error_case;

static const error_case error_cases[] = {
    /* unknown keys name the key and the message type */
    {&lastmile__v1__lead_submitted__descriptor, "{\"emial\":\"a@b.c\"}",
     "unknown field \"emial\" in lastmile.v1.LeadSubmitted (fields: "
     "event_id, source, email,"},
    {&lastmile__v1__follow_up_event__descriptor,
     "{\"decision\":{\"lead\":{\"bogus\":1}}}",
     "decision.lead: unknown field \"bogus\" in lastmile.v1.LeadAccepted"},
    /* wrong types name the field and the expected type */
    {&lastmile__v1__lead_submitted__descriptor, "{\"email\":5}",
     "email: expected string, got integer"},
    {&lastmile__v1__lead_submitted__descriptor, "{\"company_size\":\"abc\"}",
     "company_size: expected int32 (a whole number), got string \"abc\""},
    {&lastmile__v1__lead_submitted__descriptor, "{\"company_size\":1.5}",
     "company_size: expected int32 (a whole number), got real"},
    {&lastmile__v1__lead_submitted__descriptor, "{\"company_size\":3000000000}",
     "company_size: 3000000000 is out of range for int32"},
    {&lastmile__v1__lead_submitted__descriptor, "{\"submitted_at_ms\":true}",
     "submitted_at_ms: expected int64 (a whole number), got boolean"},
    {&lastmile__v1__outcome__descriptor, "{\"deal_value_cents\":\"12x\"}",
     "deal_value_cents: expected int64 (a whole number), got string \"12x\""},
    {&lastmile__v1__outcome__descriptor,
     "{\"deal_value_cents\":\"99999999999999999999\"}",
     "deal_value_cents: expected int64 (a whole number)"},
    {&lastmile__v1__reason__descriptor, "{\"contribution\":\"x\"}",
     "contribution: expected double (a number), got string \"x\""},
    {&lastmile__v1__reason__descriptor, "{\"contribution\":{}}",
     "contribution: expected double (a number), got object"},
    {&lastmile__v1__next_touch__descriptor, "{\"adaptive\":\"yes\"}",
     "adaptive: expected bool (true or false), got string \"yes\""},
    {&lastmile__v1__next_touch__descriptor, "{\"adaptive\":1}",
     "adaptive: expected bool (true or false), got integer"},
    {&lastmile__v1__qualification_decision__descriptor, "{\"kind\":\"MAYBE\"}",
     "kind: \"MAYBE\" is not a lastmile.v1.DecisionKind (one of: "
     "DECISION_KIND_UNSPECIFIED, QUALIFIED, NURTURE, DISQUALIFIED)"},
    {&lastmile__v1__qualification_decision__descriptor, "{\"kind\":4294967296}",
     "kind: 4294967296 is out of range for lastmile.v1.DecisionKind"},
    {&lastmile__v1__qualification_decision__descriptor, "{\"kind\":[1]}",
     "kind: expected lastmile.v1.DecisionKind (a name or a number), got "
     "array"},
    {&lastmile__v1__dead_letter__descriptor, "{\"original\":\"not base64!\"}",
     "original: \"not base64!\" is not base64"},
    {&lastmile__v1__dead_letter__descriptor, "{\"original\":\"Z\"}",
     "original: \"Z\" is not base64"},
    {&lastmile__v1__dead_letter__descriptor, "{\"original\":12}",
     "original: expected bytes (a base64 string), got integer"},
    {&lastmile__v1__qualification_decision__descriptor, "{\"lead\":\"x\"}",
     "lead: expected object (lastmile.v1.LeadAccepted), got string \"x\""},
    {&lastmile__v1__qualification_decision__descriptor, "{\"reasons\":{}}",
     "reasons: expected array of lastmile.v1.Reason, got object"},
    {&lastmile__v1__qualification_decision__descriptor,
     "{\"reasons\":[{\"feature\":\"a\"},{\"contribution\":\"z\"}]}",
     "reasons[1].contribution: expected double (a number), got string "
     "\"z\""},
    {&lastmile__v1__qualification_decision__descriptor,
     "{\"reasons\":[{\"feature\":\"a\"},7]}",
     "reasons[1]: expected object (lastmile.v1.Reason), got integer"},
    {&lastmile__v1__lead_accepted__descriptor, "{\"merged_sources\":[\"a\",3]}",
     "merged_sources[1]: expected string, got integer"},
    {&lastmile__v1__lead_accepted__descriptor, "{\"merged_sources\":\"a\"}",
     "merged_sources: expected array of string, got string \"a\""},
    {&lastmile__v1__lead_submitted__descriptor, "{\"attributes\":[\"a\"]}",
     "attributes: expected object (a map), got array"},
    {&lastmile__v1__lead_submitted__descriptor,
     "{\"attributes\":{\"ok\":\"1\",\"pages\":7}}",
     "attributes.pages: expected string, got integer"},
    {&lastmile__v1__lead_submitted__descriptor, "{\"email\":\"a\\u0000b\"}",
     "email: a string may not hold a NUL character"},
    /* a oneof takes one member */
    {&lastmile__v1__follow_up_event__descriptor,
     "{\"decision\":{},\"next_touch\":{}}",
     "next_touch: both decision and next_touch are set"},
    {&lastmile__v1__timing_event__descriptor,
     "{\"response\":{\"kind\":\"REPLIED\"},\"timer_fired\":{}}",
     "timer_fired: both response and timer_fired are set"},
    {&lastmile__v1__timing_event__descriptor,
     "{\"response\":{\"kind\":\"SHOUTED\"}}",
     "response.kind: \"SHOUTED\" is not a lastmile.v1.ResponseKind"},
    /* the top level must be an object */
    {&lastmile__v1__lead_submitted__descriptor, "[1]",
     "expected a JSON object (lastmile.v1.LeadSubmitted), got array"},
    {&lastmile__v1__lead_submitted__descriptor, "\"x\"",
     "expected a JSON object (lastmile.v1.LeadSubmitted), got string"},
    {&lastmile__v1__lead_submitted__descriptor, NULL,
     "expected a JSON object (lastmile.v1.LeadSubmitted), got nothing"},
    /* internal records go through the same code */
    {&lastmile__v1__internal__outbox__descriptor,
     "{\"records\":[{\"key\":\"%%\"}]}",
     "records[0].key: \"%%\" is not base64"},
};

Test(pbjson, errors) {
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case *c = &error_cases[i];
        json_t *j = c->json ? parse(c->json) : NULL;
        char err[TEST_ERRSZ] = "";
        ProtobufCMessage *m = lm_pbjson_to_message(c->d, j, err, sizeof(err));
        cr_expect_null(m, "%s accepted as %s", c->json, c->d->name);
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
        cr_expect(strstr(err, c->want), "for %s:\n got  \"%s\"\n want \"%s\"",
                  c->json ? c->json : "(NULL)", err, c->want);
        json_decref(j);
    }
}

Test(pbjson, error_fits_small_buffer) {
    json_t *j = parse("{\"emial\":1}");
    char err[16];
    memset(err, 'x', sizeof(err));
    cr_expect_null(lm_pbjson_to_message(
        &lastmile__v1__lead_submitted__descriptor, j, err, sizeof(err)));
    cr_expect_eq(strlen(err), sizeof(err) - 1, "cut, and NUL-terminated");
    json_decref(j);
}

/* ----------------------------------------------------------- helpers */

Test(pbjson, base64) {
    const struct {
        const char *raw, *b64;
    } v[] = {{"", ""},
             {"f", "Zg=="},
             {"fo", "Zm8="},
             {"foo", "Zm9v"},
             {"foob", "Zm9vYg=="},
             {"fooba", "Zm9vYmE="},
             {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *e = lm_pbjson_base64_encode((const uint8_t *)v[i].raw,
                                          strlen(v[i].raw));
        cr_expect_str_eq(e, v[i].b64);
        free(e);
        uint8_t *out;
        size_t len;
        cr_assert_eq(
            lm_pbjson_base64_decode(v[i].b64, strlen(v[i].b64), &out, &len), 0);
        cr_expect_eq(len, strlen(v[i].raw));
        cr_expect(len == 0 || memcmp(out, v[i].raw, len) == 0);
        free(out);
    }
    const char *bad[] = {"Z",     "Zg=",   "Z===",   "====",    "=",
                         "Zm9v=", "Zm 9v", "Zm9v\n", "Zg==Zg=="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *out = (uint8_t *)"untouched";
        size_t len = 99;
        cr_expect_eq(
            lm_pbjson_base64_decode(bad[i], strlen(bad[i]), &out, &len), -1,
            "\"%s\" accepted", bad[i]);
        cr_expect_null(out);
    }
}

Test(pbjson, topic_types) {
    const struct {
        const char *suffix;
        const ProtobufCMessageDescriptor *d;
    } t[] = {
        {"intake", &lastmile__v1__lead_submitted__descriptor},
        {"qualification", &lastmile__v1__lead_accepted__descriptor},
        {"followup", &lastmile__v1__follow_up_event__descriptor},
        {"actions", &lastmile__v1__follow_up_action__descriptor},
        {"timing", &lastmile__v1__timing_event__descriptor},
        {"outcomes", &lastmile__v1__outcome__descriptor},
        {"dlq", &lastmile__v1__dead_letter__descriptor},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        cr_expect_eq(lm_pbjson_topic_type(t[i].suffix), t[i].d, "%s",
                     t[i].suffix);
    cr_expect_null(lm_pbjson_topic_type("lastmile.intake"));
    cr_expect_null(lm_pbjson_topic_type(""));
    cr_expect_null(lm_pbjson_topic_type(NULL));
}
