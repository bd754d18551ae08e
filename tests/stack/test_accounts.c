/* test_accounts.c — accounts.pause_on_reply on the embedded stack (the
 * four workers, the mock broker, a real redis-server), in simulated time
 * (LASTMILE_TIME_SCALE 60: a 10-minute response window is 10 real s):
 *   accounts.a_reply_pauses_the_account_a_lost_deal_resumes_it: two
 *     people of acme.com get their first email; one replies: the other's
 *     lead records paused_by (the replying lead) and gets no further touch
 *     while more than two of its response windows pass; the reply's deal
 *     is reported LOST: the other lead's next step is sent
 *     ("<lead>:action:1", from now), once. A third person of acme.com who
 *     asks while the deal is live gets the first email at once, then
 *     waits too, and goes on after the lost deal.
 *   accounts.a_lead_assigned_from_the_queue_is_paused_by_a_colleague: with
 *     one slot per owner, a third person of acme.com waits unassigned; a
 *     colleague's close frees a slot, the lead is assigned (first email),
 *     and the other colleague's reply pauses it (issue 13: it joined its
 *     account with the slot, workers/timing/timing_queue_acct.c);
 *   accounts.a_lead_assigned_from_the_queue_during_a_deal_waits: the same
 *     with the colleague's reply before the slot frees: the live deal
 *     holds the lead when it joins (account_join).
 * The config (written per test): everyone QUALIFIED, team sales (ann,
 * bob), always allowed, a cadence of three emails 10 minutes apart,
 * accounts { same_owner: true, pause_on_reply: true }. */
#include "stack_fixture.h"

#include "lm_clock.h"
#include "lm_lead.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCALE 60 /* simulated s per real s */

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

static const char config[] =
    "thresholds: { qualified: 0.0, nurture: 0.0 }\n"
    "channels:\n"
    "  email: { cost: \"0.02\" }\n"
    "routing:\n"
    "  - { team: sales }\n"
    "teams:\n"
    "  sales:\n"
    "    owners:\n"
    "      - { name: ann, capacity: 10 }\n"
    "      - { name: bob, capacity: 10 }\n"
    "cadences:\n"
    "  qualified:\n"
    "    allowed_hours: \"00:00-24:00\"\n"
    "    business_days: [mon, tue, wed, thu, fri, sat, sun]\n"
    "    steps:\n"
    "      - { channel: email, wait: 0, response_window: 10m, at: now }\n"
    "      - { channel: email, wait: 0, response_window: 10m }\n"
    "      - { channel: email, wait: 0, response_window: 10m }\n"
    "  nurture:\n"
    "    steps:\n"
    "      - { channel: email, wait: 0, response_window: 2w }\n"
    "accounts: { same_owner: true, pause_on_reply: true }\n";

/* The touches seen: the first two leads' ids and how many touches of
 * each step of the second one. */
typedef struct seen {
    char lead[3][LM_LEAD_ID_MAX];
    int n_leads;
    int steps[3][3]; /* touches of each lead by step */
    topic_reader *actions;
} seen;

static void on_action(void *opaque, const rd_kafka_message_t *rkm) {
    seen *s = opaque;
    Lastmile__V1__FollowUpAction *a =
        lastmile__v1__follow_up_action__unpack(NULL, rkm->len, rkm->payload);
    if (!a)
        return;
    if (a->kind == LASTMILE__V1__ACTION_KIND__TOUCH) {
        int known = -1;
        for (int i = 0; i < s->n_leads; i++)
            if (strcmp(s->lead[i], a->lead_id) == 0)
                known = i;
        if (known < 0 && s->n_leads < 3) {
            known = s->n_leads++;
            snprintf(s->lead[known], sizeof(s->lead[known]), "%s", a->lead_id);
        }
        if (known >= 0 && a->step >= 0 && a->step < 3)
            s->steps[known][a->step]++;
    }
    lastmile__v1__follow_up_action__free_unpacked(a, NULL);
}

static void submit(const char *event_id, const char *email) {
    Lastmile__V1__LeadSubmitted l = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    l.event_id = (char *)event_id;
    l.source = "web_form";
    l.email = (char *)email;
    l.full_name = "Acme Person";
    l.company = "Acme";
    l.title = "VP Sales";
    l.company_size = 200;
    l.country = "US";
    l.timezone = "America/New_York";
    l.submitted_at_ms = lm_clock_now_ms();
    cr_assert_eq(fixture_produce(&fx, "intake", email, &l.base), 0);
}

static void answer(const char *event_id, const char *lead,
                   Lastmile__V1__ResponseKind kind) {
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    r.event_id = (char *)event_id;
    r.lead_id = (char *)lead;
    r.kind = kind;
    r.occurred_at_ms = lm_clock_now_ms();
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    ev.response = &r;
    cr_assert_eq(fixture_produce(&fx, "timing", lead, &ev.base), 0);
}

/* The lead's paused_by, or "" (static buffer). */
static const char *paused_by(redisContext *rc, const char *lead) {
    static char out[LM_LEAD_ID_MAX + 8];
    char key[LM_KEY_MAX];
    lm_lead_key(lead, key);
    redisReply *r = redisCommand(rc, "HGET %s %s", key, LM_F_PAUSED);
    snprintf(out, sizeof(out), "%s",
             r && r->type == REDIS_REPLY_STRING ? r->str : "");
    if (r)
        freeReplyObject(r);
    return out;
}

/* The stack up with config `cfg`, the four workers started; a Redis
 * connection (caller frees). */
static redisContext *start(const char *cfg) {
    cr_assert_eq(fixture_up(&fx, 2, SCALE), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/decisions.yaml", fx.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(cfg, f);
    fclose(f);
    setenv("LASTMILE_CONFIG", path, 1);
    static const char *const names[4] = {"intake", "qualification", "followup",
                                         "timing"};
    for (int i = 0; i < 4; i++)
        cr_assert_geq(fixture_start_worker(&fx, names[i]), 0);
    redisContext *rc = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(rc && !rc->err);
    return rc;
}

Test(accounts, a_reply_pauses_the_account_a_lost_deal_resumes_it,
     .fini = teardown, .timeout = 300) {
    redisContext *rc = start(config);
    static seen s;
    memset(&s, 0, sizeof(s));
    s.actions = reader_new(&fx, "actions");
    submit("acct-1", "ada@acme.com");
    int64_t end = fixture_mono_ms() + fixture_ms(60000);
    while (s.n_leads < 1 && fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    cr_assert_eq(s.n_leads, 1, "the first lead's email");
    submit("acct-2", "bea@acme.com");
    while (s.n_leads < 2 && fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    cr_assert_eq(s.n_leads, 2, "the second lead's email");
    const char *a = s.lead[0], *b = s.lead[1];

    /* a replies: b pauses */
    answer("acct-reply-1", a, LASTMILE__V1__RESPONSE_KIND__REPLIED);
    end = fixture_mono_ms() + fixture_ms(30000);
    while (strcmp(paused_by(rc, b), a) != 0 && fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    cr_assert_str_eq(paused_by(rc, b), a, "b is paused by a's reply");
    int before = s.steps[1][1] + s.steps[1][2];
    /* a third colleague asks now: the first email, then the wait */
    submit("acct-3", "cy@acme.com");
    /* more than two of b's response windows (10 simulated minutes) */
    end = fixture_mono_ms() + 25000;
    while (fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    cr_expect_eq(s.steps[1][1] + s.steps[1][2], before,
                 "no touch of b while a's deal is live");
    cr_assert_eq(s.n_leads, 3, "c's first email");
    const char *c = s.lead[2];
    cr_expect_eq(s.steps[2][0], 1, "c got its first email at once");
    cr_expect_eq(s.steps[2][1] + s.steps[2][2], 0, "then c waits");
    cr_expect_str_eq(paused_by(rc, c), "account");

    /* a's deal is lost: b goes on with its next step, once */
    answer("acct-lost-1", a, LASTMILE__V1__RESPONSE_KIND__LOST);
    end = fixture_mono_ms() + fixture_ms(60000);
    while ((s.steps[1][1] + s.steps[1][2] == before || s.steps[2][1] == 0) &&
           fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    cr_expect_str_eq(paused_by(rc, b), "", "b is no longer paused");
    cr_expect_eq(s.steps[1][1] + s.steps[1][2], before + 1,
                 "b's next step after the lost deal");
    cr_expect_eq(s.steps[2][1], 1, "c's next step after the lost deal");
    printf("pause_on_reply: b paused by a's reply, no touch for 25 s real "
           "(%d simulated min), next step after the lost deal: b steps "
           "%d/%d/%d, c (asked during the deal) %d/%d/%d\n",
           25 * SCALE / 60, s.steps[1][0], s.steps[1][1], s.steps[1][2],
           s.steps[2][0], s.steps[2][1], s.steps[2][2]);
    reader_free(s.actions);
    redisFree(rc);
    unsetenv("LASTMILE_CONFIG");
}

/* One slot each (ann, bob), response windows of 2 simulated hours (no
 * cadence ends while the case runs). */
static const char config_full[] =
    "thresholds: { qualified: 0.0, nurture: 0.0 }\n"
    "channels:\n"
    "  email: { cost: \"0.02\" }\n"
    "routing:\n"
    "  - { team: sales }\n"
    "teams:\n"
    "  sales:\n"
    "    owners:\n"
    "      - { name: ann, capacity: 1 }\n"
    "      - { name: bob, capacity: 1 }\n"
    "cadences:\n"
    "  qualified:\n"
    "    allowed_hours: \"00:00-24:00\"\n"
    "    business_days: [mon, tue, wed, thu, fri, sat, sun]\n"
    "    steps:\n"
    "      - { channel: email, wait: 0, response_window: 2h, at: now }\n"
    "      - { channel: email, wait: 0, response_window: 2h }\n"
    "  nurture:\n"
    "    steps:\n"
    "      - { channel: email, wait: 0, response_window: 2w }\n"
    "accounts: { same_owner: true, pause_on_reply: true }\n";

/* The number of leads waiting in team sales' queue, -1 on error. */
static long long waiting_in_sales(redisContext *rc) {
    char q[LM_KEY_MAX];
    lm_lead_team_queue_key("sales", q);
    redisReply *r = redisCommand(rc, "ZCARD %s", q);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return n;
}

/* 1 when lead's deal is in acme.com's live deals. */
static int deal_live(redisContext *rc, const char *lead) {
    char k[LM_KEY_MAX];
    lm_lead_account_deals_key("acme.com", k);
    redisReply *r = redisCommand(rc, "SISMEMBER %s %s", k, lead);
    int live = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r)
        freeReplyObject(r);
    return live;
}

/* Issue 13: a lead of acme.com that waited unassigned and then took a
 * freed slot is one of the account's open leads: a colleague's reply
 * pauses it. a and c take the two slots, b waits; a answers
 * NOT_INTERESTED (closes, frees its slot): b is assigned and gets its
 * first email; c replies (after b's assignment, or before it when
 * reply_first): b records paused_by c. */
static void queue_then_pause(int reply_first) {
    redisContext *rc = start(config_full);
    static seen s;
    memset(&s, 0, sizeof(s));
    s.actions = reader_new(&fx, "actions");
    submit("full-1", "ada@acme.com");
    int64_t end = fixture_mono_ms() + fixture_ms(60000);
    while (s.n_leads < 1 && fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    submit("full-2", "cy@acme.com");
    while (s.n_leads < 2 && fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    cr_assert_eq(s.n_leads, 2, "a's and c's first emails");
    submit("full-3", "bea@acme.com");
    while (waiting_in_sales(rc) != 1 && fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    cr_assert_eq(waiting_in_sales(rc), 1, "b waits: both owners are full");
    const char *a = s.lead[0], *c = s.lead[1];

    if (reply_first) { /* c's deal is live before b has an owner */
        answer("full-reply-2", c, LASTMILE__V1__RESPONSE_KIND__REPLIED);
        end = fixture_mono_ms() + fixture_ms(30000);
        while (!deal_live(rc, c) && fixture_mono_ms() < end)
            reader_drain(s.actions, 200, on_action, &s);
        cr_assert(deal_live(rc, c), "c's deal is live (account_pause done)");
    }
    /* a closes: its slot goes to b, whose cadence starts */
    answer("full-no-1", a, LASTMILE__V1__RESPONSE_KIND__NOT_INTERESTED);
    end = fixture_mono_ms() + fixture_ms(30000);
    while (s.n_leads < 3 && fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    cr_assert_eq(s.n_leads, 3, "b's first email after the freed slot");
    cr_expect_eq(waiting_in_sales(rc), 0);
    const char *b = s.lead[2];

    /* c replies (or replied): b, assigned from the queue, pauses */
    if (!reply_first)
        answer("full-reply-2", c, LASTMILE__V1__RESPONSE_KIND__REPLIED);
    end = fixture_mono_ms() + fixture_ms(30000);
    while (strcmp(paused_by(rc, b), c) != 0 && fixture_mono_ms() < end)
        reader_drain(s.actions, 200, on_action, &s);
    cr_expect_str_eq(paused_by(rc, b), c,
                     "b (assigned from the queue) is paused by c's reply");
    printf("pause_on_reply after a freed slot (c replied %s b's "
           "assignment): b paused_by \"%s\"\n",
           reply_first ? "before" : "after", paused_by(rc, b));
    reader_free(s.actions);
    redisFree(rc);
    unsetenv("LASTMILE_CONFIG");
}

Test(accounts, a_lead_assigned_from_the_queue_is_paused_by_a_colleague,
     .fini = teardown, .timeout = 300) {
    queue_then_pause(0);
}

Test(accounts, a_lead_assigned_from_the_queue_during_a_deal_waits,
     .fini = teardown, .timeout = 300) {
    queue_then_pause(1);
}
