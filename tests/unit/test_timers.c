/* test_timers.c — the timer codec (lm_timers.h), the response timer's
 * payload (lm_lead.h) and the timing worker's fire_timer, without a
 * server: round trips, malformed members and claims, the stored layout
 * pinned, arming and cancelling as one command each, and
 * the TimerFired a response timer becomes. */
#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_recorder.h"
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
    lm_fmt_cat(t.lead, sizeof(t.lead), lead, NULL);
    lm_fmt_cat(t.kind, sizeof(t.kind), kind, NULL);
    t.due_ms = due;
    memcpy(t.payload, payload, len);
    t.payload_len = len;
    return t;
}

/* What the sweep script makes of an armed timer: "<due>|<member>". */
static size_t claim_of(const lm_timer *t, char *claim) {
    char member[LM_TIMERS_MEMBER_MAX];
    size_t mlen;
    cr_assert_eq(lm_timers_encode(t, member, &mlen), 0);
    int k = snprintf(claim, LM_TIMERS_CLAIM_MAX, "%lld|", (long long)t->due_ms);
    memcpy(claim + k, member, mlen);
    return (size_t)k + mlen;
}

static void expect_same(const lm_timer *back, const lm_timer *t, size_t i) {
    cr_expect_str_eq(back->lead, t->lead, "case %zu", i);
    cr_expect_str_eq(back->kind, t->kind, "case %zu", i);
    cr_expect_eq(back->due_ms, t->due_ms, "case %zu", i);
    cr_expect_eq(back->payload_len, t->payload_len, "case %zu", i);
    cr_expect_eq(memcmp(back->payload, t->payload, t->payload_len), 0,
                 "case %zu", i);
    cr_expect_eq(back->payload[back->payload_len], '\0');
}

/* The member is the one a response timer had before lm_timers, with the
 * kind after the lead; the due time is only the score. */
Test(timers, encode_writes_the_documented_layout) {
    lm_timer t = make(LEAD, "response", 1700000000123, "2|EMEA/mid", 10);
    char member[LM_TIMERS_MEMBER_MAX];
    size_t mlen;
    cr_assert_eq(lm_timers_encode(&t, member, &mlen), 0);
    cr_expect_str_eq(member, LEAD "|response|2|EMEA/mid");
    cr_expect_eq(mlen, strlen(LEAD "|response|2|EMEA/mid"));
    t.due_ms = 5; /* the due time moves the score, not the member */
    char again[LM_TIMERS_MEMBER_MAX];
    cr_assert_eq(lm_timers_encode(&t, again, &mlen), 0);
    cr_expect_str_eq(again, member);
    t = make(LEAD, "owner_deadline", 1, "", 0);
    cr_assert_eq(lm_timers_encode(&t, member, &mlen), 0);
    cr_expect_str_eq(member, LEAD "|owner_deadline|");
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
        char member[LM_TIMERS_MEMBER_MAX], claim[LM_TIMERS_CLAIM_MAX];
        size_t mlen;
        cr_assert_eq(lm_timers_encode(&cases[i], member, &mlen), 0);
        lm_timer back;
        cr_assert_eq(lm_timers_decode(member, mlen, cases[i].due_ms, &back), 0,
                     "case %zu", i);
        expect_same(&back, &cases[i], i);
        size_t n = claim_of(&cases[i], claim);
        memset(&back, 0, sizeof(back));
        cr_assert_eq(lm_timers_decode_claim(claim, n, &back), 0, "case %zu", i);
        expect_same(&back, &cases[i], i);
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
        make(LEAD, "re sponse", 1, "", 0),
    };
    char member[LM_TIMERS_MEMBER_MAX];
    size_t mlen;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(lm_timers_encode(&bad[i], member, &mlen), -1,
                     "case %zu encoded", i);
    lm_timer t = make(LEAD, "response", 1, "", 0);
    t.payload_len = sizeof(big); /* one byte over */
    cr_expect_eq(lm_timers_encode(&t, member, &mlen), -1);
    /* a lead of LM_TIMERS_LEAD_MAX bytes: make() cuts it to fit, so the
       longest one is accepted and decoded back whole */
    t = make(lead, "response", 1, "", 0);
    cr_expect_eq(strlen(t.lead), LM_TIMERS_LEAD_MAX - 1);
    char claim[LM_TIMERS_CLAIM_MAX];
    size_t n = claim_of(&t, claim);
    lm_timer back;
    cr_expect_eq(lm_timers_decode_claim(claim, n, &back), 0);
    cr_expect_str_eq(back.lead, t.lead);
}

Test(timers, malformed_members_are_refused) {
    char over[2 * LM_TIMERS_MEMBER_MAX];
    int k = snprintf(over, sizeof(over), "%s|response|", LEAD);
    memset(over + k, 'x', LM_TIMERS_PAYLOAD_MAX + 1); /* payload one over */
    size_t over_len = (size_t)k + LM_TIMERS_PAYLOAD_MAX + 1;
    char longlead[LM_TIMERS_LEAD_MAX + 32];
    memset(longlead, 'a', LM_TIMERS_LEAD_MAX);
    snprintf(longlead + LM_TIMERS_LEAD_MAX, 32, "|response|1");
    const char *bad[] = {
        "",
        "|",
        LEAD,             /* lead only */
        LEAD "|response", /* no '|' after the kind */
        "|response|1",    /* empty lead */
        LEAD "||1",       /* empty kind */
        LEAD "|Resp|1",   /* kind outside [a-z0-9_-] */
        LEAD "|re sp|1",  /* space in the kind */
        "a b|response|1", /* space in the lead */
        longlead,         /* lead too long */
    };
    lm_timer t;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(lm_timers_decode(bad[i], strlen(bad[i]), 0, &t), -1,
                     "decoded: \"%s\"", bad[i]);
    /* a response timer armed before lm_timers ("<lead>|<step>|<segment>")
       reads as kind "<step>", which no worker fires: it is dropped */
    const char *old = LEAD "|0|EMEA/mid";
    cr_expect_eq(lm_timers_decode(old, strlen(old), 0, &t), 0);
    cr_expect_str_eq(t.kind, "0");
    cr_expect_eq(lm_timers_decode(over, over_len, 0, &t), -1);
    cr_expect_eq(lm_timers_decode(over, over_len - 1, 0, &t), 0);
    cr_expect_eq(lm_timers_decode(NULL, 0, 0, &t), -1);
    cr_expect_eq(
        lm_timers_decode(LEAD "|response|", strlen(LEAD "|response|"), -1, &t),
        -1, "a negative due time was taken");
    /* the length is the member's: bytes after it are not read */
    const char *c = LEAD "|response|2|EMEA/mid";
    cr_expect_eq(lm_timers_decode(c, strlen(LEAD "|response|2|"), 7, &t), 0);
    cr_expect_eq(t.payload_len, 2);
    cr_expect_str_eq(t.payload, "2|");
    cr_expect_eq(t.due_ms, 7);
    cr_expect_eq(lm_timers_decode(c, strlen(LEAD "|respo"), 0, &t), -1,
                 "a member cut inside its kind was read");
}

Test(timers, malformed_claims_are_refused) {
    const char *bad[] = {
        "",
        "|",
        "1700000000123",                          /* no member */
        "1700000000123|",                         /* empty member */
        "|" LEAD "|response|2|EMEA",              /* empty due */
        "-5|" LEAD "|response|2|EMEA",            /* negative due */
        "12a|" LEAD "|response|2|EMEA",           /* not a number */
        "1.7e12|" LEAD "|response|2|EMEA",        /* not an integer */
        "9223372036854775808|" LEAD "|response|", /* over INT64_MAX */
        "99999999999999999999|" LEAD "|response|",
        LEAD "|response|2|EMEA", /* a member without its due */
        "5|" LEAD "|Resp|2",     /* a malformed member */
    };
    lm_timer t;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(lm_timers_decode_claim(bad[i], strlen(bad[i]), &t), -1,
                     "decoded: \"%s\"", bad[i]);
    cr_expect_eq(lm_timers_decode_claim(NULL, 0, &t), -1);
    const char *c = "1700000000123|" LEAD "|response|2|EMEA/mid";
    cr_assert_eq(lm_timers_decode_claim(c, strlen(c), &t), 0);
    cr_expect_eq(t.due_ms, 1700000000123);
    cr_expect_str_eq(t.payload, "2|EMEA/mid");
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

/* timing's fire_timer: a deal window becomes a TimerFired of its kind. */
Test(timers, a_deal_window_fires_as_timer_fired_of_its_kind) {
    lm_timer t = make(LEAD, LM_LEAD_TIMER_DEAL, 1700000000123,
                      LM_LEAD_TIMER_DEAL_PAYLOAD, 1);
    lm_timers_fired *f = lm_timers_fired_new(&lm_timing_worker);
    cr_assert_not_null(f);
    cr_assert_eq(
        lm_timing_worker.fire_timer(lm_timing_worker.ctx, &t, 1700000000999, f),
        0);
    cr_assert_eq(lm_timers_fired_count(f), 1);
    const lm_emit_req *r = lm_timers_fired_get(f, 0);
    cr_expect_str_eq(r->topic_suffix, LM_TOPIC_TIMING);
    cr_expect_str_eq(r->key, LEAD);
    cr_expect_str_eq(r->id, LEAD ":deal_window");
    const Lastmile__V1__TimingEvent *te =
        (const Lastmile__V1__TimingEvent *)r->msg;
    cr_assert_eq(te->event_case, LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED);
    const Lastmile__V1__TimerFired *tf = te->timer_fired;
    cr_expect_str_eq(tf->kind, "deal_window");
    cr_expect_str_eq(tf->timer_id, LEAD ":deal_window");
    cr_expect_str_eq(tf->lead_id, LEAD);
    cr_expect_eq(tf->due_at_ms, 1700000000123);
    cr_expect_eq(tf->fired_at_ms, 1700000000999);
    cr_expect_str_eq(tf->action_id, LEAD ":handoff");
    lm_timers_fired_free(f);
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

/* --- arming and cancelling through a message's outputs ------------------ */

/* What the test worker's handle does: arm (or cancel) this timer. */
static struct {
    int cancel;
    const char *lead, *kind, *payload;
    size_t len;
    int64_t due_ms;
    int rc;
} op;

static int op_identify(void *ctx, const ProtobufCMessage *in, lm_ident *ident,
                       char *reason, size_t reasonsz) {
    (void)ctx, (void)in, (void)reason, (void)reasonsz;
    snprintf(ident->id, sizeof(ident->id), "op");
    snprintf(ident->tag, sizeof(ident->tag), "op");
    return 0;
}

static int op_handle(void *ctx, const lm_msg *m, lm_out *out) {
    (void)ctx, (void)m;
    op.rc = op.cancel
                ? lm_timers_cancel(out, op.lead, op.kind, op.payload, op.len)
                : lm_timers_arm(out, op.lead, op.kind, op.due_ms, op.payload,
                                op.len);
    return 0;
}

static const lm_worker op_worker = {
    .name = "timers-op",
    .input = LM_TOPIC_TIMING,
    .input_type = &lastmile__v1__timing_event__descriptor,
    .identify = op_identify,
    .handle = op_handle,
};

/* Runs op on a fresh recorder; the recorder (caller frees). */
static lm_recorder *run_op(void) {
    lm_recorder *rec = lm_recorder_new();
    cr_assert_not_null(rec);
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    lm_recorder_handle(rec, &op_worker, &te.base, 1);
    return rec;
}

/* The one index command of the recorder: argv as given. */
static void expect_one_cmd(lm_recorder *rec, int argc, const char *const *argv,
                           const size_t *lens) {
    cr_assert_eq(lm_recorder_n_index(rec), 1, "%zu index commands",
                 lm_recorder_n_index(rec));
    cr_expect_eq(lm_recorder_n_writes(rec), 0);
    const lm_recorded_cmd *c = lm_recorder_index(rec, 0);
    cr_assert_eq(c->argc, argc);
    for (int i = 0; i < argc; i++) {
        cr_expect_eq(c->lens[i], lens[i], "argument %d", i);
        cr_expect_eq(memcmp(c->argv[i], argv[i], lens[i]), 0, "argument %d", i);
    }
}

Test(timers, arming_is_one_zadd_of_the_member) {
    static const char pay[] = {'2', '|', 'E', 0, '|'};
    op.cancel = 0;
    op.lead = LEAD;
    op.kind = "response";
    op.payload = pay;
    op.len = sizeof(pay);
    op.due_ms = 1700000000123;
    lm_recorder *rec = run_op();
    cr_expect_eq(op.rc, 0);
    cr_expect_null(lm_recorder_rejected(rec));
    char set[LM_TIMERS_KEY_MAX];
    lm_timers_key(lm_timers_bucket(LEAD), "", set);
    const char member[] = LEAD "|response|2|E\0|";
    const char *argv[] = {"ZADD", set, "1700000000123", member};
    const size_t lens[] = {4, strlen(set), 13, sizeof(member) - 1};
    expect_one_cmd(rec, 4, argv, lens);
    lm_recorder_free(rec);
}

Test(timers, cancelling_is_one_zrem_of_the_member) {
    op.cancel = 1;
    op.lead = LEAD;
    op.kind = "owner_deadline";
    op.payload = "act-7";
    op.len = 5;
    lm_recorder *rec = run_op();
    cr_expect_eq(op.rc, 0);
    char set[LM_TIMERS_KEY_MAX];
    lm_timers_key(lm_timers_bucket(LEAD), "", set);
    const char *argv[] = {"ZREM", set, LEAD "|owner_deadline|act-7"};
    const size_t lens[] = {4, strlen(set), strlen(argv[2])};
    expect_one_cmd(rec, 3, argv, lens);
    lm_recorder_free(rec);
}

/* A lead or kind with '|' would make a member that reads back otherwise:
 * refused, and the input rejected with the reason. */
Test(timers, arming_or_cancelling_out_of_bounds_is_refused) {
    const struct {
        int cancel;
        const char *lead, *kind;
        int64_t due;
        size_t len;
    } bad[] = {
        {0, "a|b", "response", 1, 0},
        {1, "a|b", "response", 0, 0},
        {0, LEAD, "re|sponse", 1, 0},
        {1, LEAD, "re|sponse", 0, 0},
        {0, "", "response", 1, 0},
        {0, LEAD, "", 1, 0},
        {0, NULL, "response", 1, 0},
        {1, LEAD, NULL, 0, 0},
        {0, LEAD, "response", -1, 0},
        {0, LEAD, "Response", 1, 0},
        {0, LEAD, "response", 1, LM_TIMERS_PAYLOAD_MAX + 1},
    };
    static char big[LM_TIMERS_PAYLOAD_MAX + 1];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        op.cancel = bad[i].cancel;
        op.lead = bad[i].lead;
        op.kind = bad[i].kind;
        op.due_ms = bad[i].due;
        op.payload = big;
        op.len = bad[i].len;
        lm_recorder *rec = run_op();
        cr_expect_eq(op.rc, -1, "case %zu accepted", i);
        cr_expect_not_null(lm_recorder_rejected(rec), "case %zu", i);
        cr_expect_eq(lm_recorder_n_index(rec), 0, "case %zu", i);
        lm_recorder_free(rec);
    }
}
