/* test_timers.c — the timer codec (lm_timers.h), the response timer's
 * payload (lm_lead.h) and the timing worker's fire_timer, without a
 * server: round trips, malformed claims, the stored layout pinned, and
 * the TimerFired a response timer becomes. */
#include "lm_lead.h"
#include "lm_timers.h"
#include "timing.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define LEAD "0123456789abcdef-01234567"

static lm_timer make(const char *lead, const char *kind, int64_t due,
                     const void *payload, size_t len) {
    lm_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.lead, sizeof(t.lead), "%s", lead);
    snprintf(t.kind, sizeof(t.kind), "%s", kind);
    t.due_ms = due;
    memcpy(t.payload, payload, len);
    t.payload_len = len;
    return t;
}

/* What the sweep script makes of an armed timer: member '|' value. */
static size_t claim_of(const lm_timer *t, char *claim) {
    char member[LM_TIMERS_MEMBER_MAX], value[LM_TIMERS_VALUE_MAX];
    size_t vlen;
    cr_assert_eq(lm_timers_encode(t, member, value, &vlen), 0);
    size_t mlen = strlen(member);
    memcpy(claim, member, mlen);
    claim[mlen] = '|';
    memcpy(claim + mlen + 1, value, vlen);
    return mlen + 1 + vlen;
}

Test(timers, encode_writes_the_documented_layout) {
    lm_timer t = make(LEAD, "response", 1700000000123, "2|EMEA/mid", 10);
    char member[LM_TIMERS_MEMBER_MAX], value[LM_TIMERS_VALUE_MAX];
    size_t vlen;
    cr_assert_eq(lm_timers_encode(&t, member, value, &vlen), 0);
    cr_expect_str_eq(member, LEAD "|response");
    cr_expect_eq(vlen, strlen("1700000000123|2|EMEA/mid"));
    cr_expect_eq(memcmp(value, "1700000000123|2|EMEA/mid", vlen), 0);
}

Test(timers, round_trips) {
    static const char binary[] = {'a', '|', 0, '\n', (char)0xff, '|'};
    char big[LM_TIMERS_PAYLOAD_MAX];
    memset(big, 'x', sizeof(big));
    const lm_timer cases[] = {
        make(LEAD, "response", 1700000000123, "2|EMEA/mid", 10),
        make(LEAD, "owner_deadline", 0, "", 0),
        make("L-1", "k", INT64_MAX, binary, sizeof(binary)),
        make("~!#$%^&*()", "a-b_c9", 42, big, sizeof(big)),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char claim[LM_TIMERS_CLAIM_MAX];
        size_t n = claim_of(&cases[i], claim);
        lm_timer back;
        cr_assert_eq(lm_timers_decode(claim, n, &back), 0, "case %zu", i);
        cr_expect_str_eq(back.lead, cases[i].lead);
        cr_expect_str_eq(back.kind, cases[i].kind);
        cr_expect_eq(back.due_ms, cases[i].due_ms, "case %zu", i);
        cr_expect_eq(back.payload_len, cases[i].payload_len, "case %zu", i);
        cr_expect_eq(
            memcmp(back.payload, cases[i].payload, cases[i].payload_len), 0,
            "case %zu", i);
        cr_expect_eq(back.payload[back.payload_len], '\0');
    }
}

Test(timers, encode_refuses_what_decode_could_not_read) {
    char big[LM_TIMERS_PAYLOAD_MAX + 1], lead[LM_TIMERS_LEAD_MAX + 8];
    memset(big, 'x', sizeof(big));
    memset(lead, 'a', sizeof(lead));
    lead[sizeof(lead) - 1] = '\0';
    const lm_timer bad[] = {
        make("", "response", 1, "", 0),    make("a|b", "response", 1, "", 0),
        make("a b", "response", 1, "", 0), make(LEAD, "", 1, "", 0),
        make(LEAD, "Response", 1, "", 0),  make(LEAD, "re|sponse", 1, "", 0),
        make(LEAD, "response", -1, "", 0),
    };
    char member[LM_TIMERS_MEMBER_MAX], value[LM_TIMERS_VALUE_MAX];
    size_t vlen;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(lm_timers_encode(&bad[i], member, value, &vlen), -1,
                     "case %zu encoded", i);
    lm_timer t = make(LEAD, "response", 1, "", 0);
    t.payload_len = sizeof(big); /* one byte over */
    cr_expect_eq(lm_timers_encode(&t, member, value, &vlen), -1);
    /* a lead of LM_TIMERS_LEAD_MAX bytes: make() cuts it to fit, so the
       longest one is accepted and decoded back whole */
    t = make(lead, "response", 1, "", 0);
    cr_expect_eq(strlen(t.lead), LM_TIMERS_LEAD_MAX - 1);
    char claim[LM_TIMERS_CLAIM_MAX];
    size_t n = claim_of(&t, claim);
    lm_timer back;
    cr_expect_eq(lm_timers_decode(claim, n, &back), 0);
    cr_expect_str_eq(back.lead, t.lead);
}

Test(timers, malformed_claims_are_refused) {
    char over[2 * LM_TIMERS_CLAIM_MAX];
    int k = snprintf(over, sizeof(over), "%s|response|1|", LEAD);
    memset(over + k, 'x', LM_TIMERS_PAYLOAD_MAX + 1); /* payload one over */
    size_t over_len = (size_t)k + LM_TIMERS_PAYLOAD_MAX + 1;
    char longlead[LM_TIMERS_LEAD_MAX + 32];
    memset(longlead, 'a', LM_TIMERS_LEAD_MAX);
    snprintf(longlead + LM_TIMERS_LEAD_MAX, 32, "|response|1|");
    const char *bad[] = {
        "",
        "|",
        LEAD,                                  /* member only */
        LEAD "|response",                      /* no value */
        LEAD "|response|",                     /* no due */
        LEAD "|response|1700000000123",        /* no '|' after the due */
        LEAD "|response||2|EMEA",              /* empty due */
        LEAD "|response|-5|2|EMEA",            /* negative due */
        LEAD "|response|12a|2|EMEA",           /* not a number */
        LEAD "|response|9223372036854775808|", /* over INT64_MAX */
        LEAD "|response|99999999999999999999|",
        "|response|1|",    /* empty lead */
        LEAD "||1|",       /* empty kind */
        LEAD "|Resp|1|",   /* kind outside [a-z0-9_-] */
        "a b|response|1|", /* space in the lead */
        longlead,          /* lead too long */
    };
    lm_timer t;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(lm_timers_decode(bad[i], strlen(bad[i]), &t), -1,
                     "decoded: \"%s\"", bad[i]);
    cr_expect_eq(lm_timers_decode(over, over_len, &t), -1);
    cr_expect_eq(lm_timers_decode(NULL, 0, &t), -1);
    /* the length is the claim's: bytes after it are not read */
    const char *c = LEAD "|response|5|2|EMEA/mid";
    cr_expect_eq(lm_timers_decode(c, strlen(LEAD "|response|5|2|"), &t), 0);
    cr_expect_eq(t.payload_len, 2);
    cr_expect_str_eq(t.payload, "2|");
    cr_expect_eq(lm_timers_decode(c, strlen(LEAD "|response|5"), &t), -1,
                 "a claim cut inside its due was read");
}

/* The bucket of a lead is stored state: these are the buckets timers were
 * put in before lm_timers existed (lm_lead_timer_bucket), and must stay. */
Test(timers, buckets_and_keys_are_the_stored_layout) {
    static const struct {
        const char *lead;
        int bucket;
    } pinned[] = {
        {"0123456789abcdef-01234567", 4},
        {"fedcba9876543210-89abcdef", 4},
        {"00000000000000aa-00000001", 6},
        {"a1b2c3d4e5f60718-deadbeef", 0},
    };
    for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++)
        cr_expect_eq(lm_timers_bucket(pinned[i].lead), pinned[i].bucket, "%s",
                     pinned[i].lead);
    int seen[LM_TIMERS_BUCKETS] = {0};
    for (int i = 0; i < 1000; i++) {
        char lead[32];
        snprintf(lead, sizeof(lead), "lead-%d", i);
        int b = lm_timers_bucket(lead);
        cr_assert(b >= 0 && b < LM_TIMERS_BUCKETS);
        seen[b]++;
    }
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++)
        cr_expect_gt(seen[b], 20, "bucket %d nearly empty", b);
    char key[LM_TIMERS_KEY_MAX];
    lm_timers_key(15, "", key);
    cr_expect_str_eq(key, "lm:{timers:15}");
    lm_timers_key(3, ":claimed", key);
    cr_expect_str_eq(key, "lm:{timers:3}:claimed");
    lm_timers_key(0, ":payload", key);
    cr_expect_str_eq(key, "lm:{timers:0}:payload");
}

Test(timers, response_payload_round_trips) {
    char p[64], seg[32];
    int step = -1;
    int n = lm_lead_timer_payload(3, "EMEA/mid|x", p, sizeof(p));
    cr_assert_eq(n, (int)strlen("3|EMEA/mid|x"));
    cr_expect_str_eq(p, "3|EMEA/mid|x");
    cr_assert_eq(
        lm_lead_timer_payload_parse(p, (size_t)n, &step, seg, sizeof(seg)), 0);
    cr_expect_eq(step, 3);
    cr_expect_str_eq(seg, "EMEA/mid|x");
    cr_expect_eq(lm_lead_timer_payload(0, "", p, sizeof(p)), 2);
    cr_expect_eq(lm_lead_timer_payload_parse(p, 2, &step, seg, sizeof(seg)), 0);
    cr_expect_eq(step, 0);
    cr_expect_str_eq(seg, "");
    cr_expect_eq(lm_lead_timer_payload(LM_LEAD_STEP_MAX + 1, "s", p, sizeof(p)),
                 -1);
    cr_expect_eq(lm_lead_timer_payload(-1, "s", p, sizeof(p)), -1);
    cr_expect_eq(lm_lead_timer_payload(1, "a-long-segment", p, 8), -1);
}

Test(timers, malformed_response_payloads_are_refused) {
    const char *bad[] = {"",       "2",       "|EMEA",
                         "x|EMEA", "-1|EMEA", "01|EU",
                         "1001|E", "99999|E", "2|toolongsegment"};
    char seg[8];
    int step;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(lm_lead_timer_payload_parse(bad[i], strlen(bad[i]), &step,
                                                 seg, sizeof(seg)),
                     -1, "parsed: \"%s\"", bad[i]);
    cr_expect_eq(
        lm_lead_timer_payload_parse("2|a\0b", 5, &step, seg, sizeof(seg)), -1,
        "a NUL inside the segment was kept");
}

/* timing's fire_timer: a response timer becomes today's TimerFired. */
Test(timers, a_response_timer_fires_as_timer_fired) {
    lm_timer t =
        make(LEAD, LM_LEAD_TIMER_RESPONSE, 1700000000123, "2|EMEA/mid", 10);
    lm_timers_fired *f = lm_timers_fired_new(&lm_timing_worker);
    cr_assert_not_null(f);
    cr_assert_eq(
        lm_timing_worker.fire_timer(lm_timing_worker.ctx, &t, 1700000000999, f),
        0);
    cr_assert_eq(lm_timers_fired_count(f), 1);
    const lm_emit_req *r = lm_timers_fired_get(f, 0);
    cr_expect_str_eq(r->topic_suffix, LM_TOPIC_TIMING);
    cr_expect_str_eq(r->key, LEAD);
    cr_expect_str_eq(r->id, LEAD ":timer:2|EMEA/mid");
    cr_assert_eq(r->msg->descriptor, &lastmile__v1__timing_event__descriptor);
    const Lastmile__V1__TimingEvent *te =
        (const Lastmile__V1__TimingEvent *)r->msg;
    cr_assert_eq(te->event_case, LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED);
    const Lastmile__V1__TimerFired *tf = te->timer_fired;
    cr_expect_str_eq(tf->timer_id, LEAD ":timer:2|EMEA/mid");
    cr_expect_str_eq(tf->lead_id, LEAD);
    cr_expect_eq(tf->step, 2);
    cr_expect_eq(tf->due_at_ms, 1700000000123);
    cr_expect_eq(tf->fired_at_ms, 1700000000999);
    cr_expect_str_eq(tf->action_id, LEAD ":action:2");
    cr_expect_null(lm_timers_fired_get(f, 1));
    lm_timers_fired_free(f);
    lm_timers_fired_free(NULL);
}

Test(timers, timing_refuses_other_kinds_and_bad_payloads) {
    const lm_timer bad[] = {
        make(LEAD, "owner_deadline", 1, "2|EMEA/mid", 10),
        make(LEAD, LM_LEAD_TIMER_RESPONSE, 1, "x|EMEA/mid", 10),
        make(LEAD, LM_LEAD_TIMER_RESPONSE, 1, "", 0),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lm_timers_fired *f = lm_timers_fired_new(&lm_timing_worker);
        cr_expect_eq(
            lm_timing_worker.fire_timer(lm_timing_worker.ctx, &bad[i], 1, f),
            -1, "case %zu fired", i);
        cr_expect_eq(lm_timers_fired_count(f), 0);
        lm_timers_fired_free(f);
    }
}

Test(timers, emit_refuses_an_undeclared_topic) {
    lm_timers_fired *f = lm_timers_fired_new(&lm_timing_worker);
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    cr_expect_eq(lm_timers_emit(f, LM_TOPIC_INTAKE, LEAD, "id", &te.base), -1);
    cr_expect_eq(lm_timers_emit(f, LM_TOPIC_TIMING, LEAD, "id", &te.base), 0);
    cr_expect_eq(lm_timers_fired_count(f), 1);
    lm_timers_fired_free(f);
}

Test(timers, emit_refuses_a_message_over_the_output_limit) {
    static char huge[LM_OUTPUT_MAX_BYTES + 2];
    memset(huge, 'x', sizeof(huge) - 1);
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    r.event_id = huge;
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    te.response = &r;
    lm_timers_fired *f = lm_timers_fired_new(&lm_timing_worker);
    cr_expect_eq(lm_timers_emit(f, LM_TOPIC_TIMING, LEAD, "id", &te.base), -1);
    cr_expect_eq(lm_timers_fired_count(f), 0);
    lm_timers_fired_free(f);
}
