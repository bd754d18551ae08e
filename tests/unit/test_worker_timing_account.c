/* test_worker_timing_account.c — accounts.pause_on_reply through the
 * recorder (no Kafka, no Redis): a reply of an account's lead A marks it
 * and emits account_pause; that event reads the account's open set and
 * emits account_hold for every other lead; a hold takes back B's pending
 * touch, cancels its response timer and marks it paused; a paused lead's
 * response timer moves nothing and followup sends none of its touches;
 * A's deal lost emits account_resume, whose release gives B its next step
 * from now (or closes it past the end); A's sale emits account_end, whose
 * close ends B's cadence; qualification keeps the account's open set; a
 * lead that joined from the unassigned queue (account_join) is held by a
 * colleague's live deal; the switch off does nothing of it.
 *
 * The config is the shipped config/decisions.yaml with pause_on_reply
 * switched on (the qualified cadence: email now, call, email after 2d,
 * linkedin after 2d, email after 3d). */
#include "followup.h"
#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_recorder.h"
#include "lm_sla.h"
#include "lm_timers.h"
#include "qualification.h"
#include "timing.h"
#include "timing_account.h"
#include "worker_testutil.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW_MS 1767607200000LL /* 2026-01-05T10:00:00Z, a Monday */
#define DAY_MS (24 * 3600000LL)
#define LEAD_A "0123456789abcdef-0000000a"
#define LEAD_B "1123456789abcdef-0000000b"
#define LEAD_C "2123456789abcdef-0000000c"
#define ACCT   "acme.com"

static lm_recorder *rec;

/* Inits w on the shipped config with pause_on_reply `on`. */
static void init_with(const lm_worker *w, int on) {
    FILE *in = fopen(LM_SOURCE_DIR "/config/decisions.yaml", "r");
    cr_assert_not_null(in);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    char *at = strstr(text, "pause_on_reply: false");
    cr_assert_not_null(at, "the shipped config has pause_on_reply: false");
    if (on)
        memcpy(at, "pause_on_reply:  true", 21);
    char path[] = "/tmp/lm_test_acct_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fputs(text, f) >= 0 && fclose(f) == 0, 1);
    lm_settings s;
    char err[1024] = "";
    memset(&s, 0, sizeof(s));
    s.config_path = path;
    cr_assert_eq(w->init(w->ctx, &s, err, sizeof(err)), 0, "%s", err);
    unlink(path);
}

static void setup(void) {
    init_with(&lm_timing_worker, 1);
    rec = lm_recorder_new();
    cr_assert_not_null(rec);
}

static void teardown(void) {
    worker_test_stop(&lm_timing_worker, rec);
}

TestSuite(timing_account, .init = setup, .fini = teardown);

/* ------------------------------------------------------------- inputs */

typedef struct ev_buf {
    Lastmile__V1__TimerFired t;
    Lastmile__V1__LeadResponse r;
    Lastmile__V1__TimingEvent ev;
    char id[LM_ID_MAX];
} ev_buf;

static ProtobufCMessage *account_event(ev_buf *x, const char *lead,
                                       const char *kind, const char *tail) {
    lastmile__v1__timer_fired__init(&x->t);
    lastmile__v1__timing_event__init(&x->ev);
    snprintf(x->id, sizeof(x->id), "%s:%s:%s", lead, kind, tail);
    x->t.timer_id = x->id;
    x->t.lead_id = (char *)lead;
    x->t.step = -1;
    x->t.due_at_ms = NOW_MS;
    x->t.fired_at_ms = NOW_MS;
    x->t.kind = (char *)kind;
    x->ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    x->ev.timer_fired = &x->t;
    return &x->ev.base;
}

static ProtobufCMessage *answer(ev_buf *x, const char *lead,
                                Lastmile__V1__ResponseKind kind) {
    lastmile__v1__lead_response__init(&x->r);
    lastmile__v1__timing_event__init(&x->ev);
    snprintf(x->id, sizeof(x->id), "answer-%s-%d", lead, (int)kind);
    x->r.event_id = x->id;
    x->r.lead_id = (char *)lead;
    x->r.kind = kind;
    x->r.occurred_at_ms = NOW_MS - 1000;
    x->ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    x->ev.response = &x->r;
    return &x->ev.base;
}

/* A lead of the account: open, in the qualified cadence at `step`, its
 * last touch at `last_action`, paused by `paused_by` (NULL: not),
 * `more` (two more fields, or NULL). */
static void give_lead(ProtobufCMessage *in, const char *step,
                      const char *last_action, const char *paused_by,
                      const char *f1, const char *v1) {
    const char *hash[] = {LM_F_STATUS,
                          "open",
                          LM_F_STEP,
                          step,
                          LM_F_CADENCE,
                          "qualified",
                          LM_F_TZ,
                          "America/New_York",
                          LM_F_OWNER,
                          "alex.kim",
                          LM_F_TEAM,
                          "na",
                          LM_F_SEGMENT,
                          "NA/mid",
                          LM_F_ADAPTIVE,
                          "0",
                          LM_F_SUBMITTED,
                          "1767600000000",
                          LM_F_DECISION,
                          "QUALIFIED",
                          LM_F_SLOT,
                          "10",
                          LM_F_HOLDS,
                          "1",
                          LM_F_ACCOUNT,
                          ACCT,
                          LM_F_LAST_ACTION,
                          last_action,
                          LM_F_PAUSED,
                          paused_by,
                          f1 ? f1 : LM_F_STAGE,
                          f1 ? v1 : "followup",
                          NULL};
    lm_recorder_reset(rec);
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS, hash), 0);
    lm_recorder_reply_strs(rec, 0, NULL); /* the segment's counts */
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS, hash), 0);
}

static void run(ProtobufCMessage *in) {
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), 0,
                 "%s",
                 lm_recorder_rejected(rec) ? lm_recorder_rejected(rec) : "");
    cr_expect_null(lm_recorder_rejected(rec));
}

/* The TimerFired emitted on lastmile.timing with id `id`, or NULL. */
static const lm_recorded_emit *emitted_id(const char *topic, const char *id) {
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++) {
        const lm_recorded_emit *e = lm_recorder_emit(rec, i);
        if (strcmp(e->topic, topic) == 0 && strcmp(e->id, id) == 0)
            return e;
    }
    return NULL;
}

static int n_on(const char *topic) {
    int n = 0;
    for (size_t i = 0; i < lm_recorder_n_emits(rec); i++)
        n += strcmp(lm_recorder_emit(rec, i)->topic, topic) == 0;
    return n;
}

/* ------------------------------------------------------------- cases */

Test(timing_account, a_reply_pauses_the_account_and_a_close_resumes_it) {
    ev_buf x;
    ProtobufCMessage *in =
        answer(&x, LEAD_A, LASTMILE__V1__RESPONSE_KIND__REPLIED);
    give_lead(in, "1", "1767600000000", NULL, NULL, NULL);
    run(in);
    const lm_recorded_emit *e =
        emitted_id("timing", LEAD_A ":account_pause:" ACCT);
    cr_assert_not_null(e, "account_pause emitted");
    cr_expect_str_eq(e->key, LEAD_A);
    Lastmile__V1__TimingEvent *te =
        lastmile__v1__timing_event__unpack(NULL, e->len, e->data);
    cr_assert_not_null(te);
    cr_expect_str_eq(te->timer_fired->kind, LM_ACCT_PAUSE);
    lastmile__v1__timing_event__free_unpacked(te, NULL);
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD_A, key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_ACCT_PAUSED), "1");

    /* the deal lost: the account's cadences go on */
    in = answer(&x, LEAD_A, LASTMILE__V1__RESPONSE_KIND__LOST);
    const char *more[] = {LM_F_STATUS,
                          "open",
                          LM_F_RESPONDED,
                          "1767607000000",
                          LM_F_ACCT_PAUSED,
                          "1",
                          LM_F_ACCOUNT,
                          ACCT,
                          LM_F_OWNER,
                          "alex.kim",
                          LM_F_TEAM,
                          "na",
                          NULL};
    lm_recorder_reset(rec);
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS, more), 0);
    lm_recorder_reply_strs(rec, 0, NULL);
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS, more), 0);
    run(in);
    cr_expect_not_null(emitted_id("timing", LEAD_A ":account_resume:" ACCT));
    char set[LM_KEY_MAX];
    lm_lead_account_open_key(ACCT, set);
    cr_expect_not_null(lm_recorder_find(rec, "SREM", set),
                       "A leaves the account's open leads");
}

Test(timing_account, a_sale_ends_the_account_cadences) {
    ev_buf x;
    ProtobufCMessage *in =
        answer(&x, LEAD_A, LASTMILE__V1__RESPONSE_KIND__CONVERTED);
    give_lead(in, "1", "1767600000000", NULL, LM_F_ACCT_PAUSED, "1");
    run(in);
    cr_expect_not_null(emitted_id("timing", LEAD_A ":account_end:" ACCT));
    cr_expect_null(emitted_id("timing", LEAD_A ":account_resume:" ACCT));
}

/* timing emits an account's events due at once; one due later was not
 * timing's (a connector may write lastmile.timing): it is refused before
 * it pauses anybody, as every TimerFired not yet due is. */
Test(timing_account, an_account_event_not_yet_due_is_refused) {
    ev_buf x;
    ProtobufCMessage *in = account_event(&x, LEAD_A, LM_ACCT_PAUSE, ACCT);
    x.t.due_at_ms = NOW_MS + 3600000;
    lm_recorder_reset(rec);
    const char *members[] = {LEAD_C, LEAD_A, LEAD_B};
    lm_recorder_reply_strs(rec, 3, members);
    lm_recorder_reply_strs(rec, 0, NULL);
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), 0);
    cr_assert_not_null(lm_recorder_rejected(rec), "a forged event was taken");
    cr_expect(strstr(lm_recorder_rejected(rec), "is in the future"), "%s",
              lm_recorder_rejected(rec));
    cr_expect_eq(lm_recorder_n_emits(rec), 0, "nobody paused");
    cr_expect_eq(lm_recorder_n_writes(rec), 0, "no lead hash written");
    cr_expect_eq(lm_recorder_n_index(rec), 0, "no timer moved");
}

Test(timing_account, the_account_event_reaches_every_other_open_lead) {
    ev_buf x;
    ProtobufCMessage *in = account_event(&x, LEAD_A, LM_ACCT_PAUSE, ACCT);
    lm_recorder_reset(rec);
    const char *members[] = {LEAD_C, LEAD_A, LEAD_B};
    const char *deals[] = {LEAD_A};
    lm_recorder_reply_strs(rec, 3, members);
    lm_recorder_reply_strs(rec, 0, NULL); /* no live deal yet */
    run(in);
    cr_assert_eq(lm_recorder_n_planned(rec), 2,
                 "the account's sets alone: open leads, live deals");
    char set[LM_KEY_MAX];
    lm_lead_account_open_key(ACCT, set);
    cr_expect_str_eq(lm_recorder_planned(rec, 0)->argv[0], "SMEMBERS");
    cr_expect_str_eq(lm_recorder_planned(rec, 0)->argv[1], set);
    cr_expect_str_eq(lm_recorder_ident(rec)->id, LEAD_A ":account_pause:" ACCT);
    cr_expect_eq(n_on("timing"), 2, "B and C, not A");
    const lm_recorded_emit *b =
        emitted_id("timing", LEAD_B ":account_hold:" LEAD_A);
    cr_assert_not_null(b);
    cr_expect_str_eq(b->key, LEAD_B);
    cr_expect_not_null(emitted_id("timing", LEAD_C ":account_hold:" LEAD_A));
    char dset[LM_KEY_MAX];
    lm_lead_account_deals_key(ACCT, dset);
    const lm_recorded_cmd *d = lm_recorder_find(rec, "SADD", dset);
    cr_assert_not_null(d, "A's deal is live");
    cr_expect_str_eq(d->argv[2], LEAD_A);

    in = account_event(&x, LEAD_A, LM_ACCT_RESUME, ACCT);
    lm_recorder_reset(rec);
    lm_recorder_reply_strs(rec, 3, members);
    lm_recorder_reply_strs(rec, 1, deals);
    run(in);
    cr_expect_not_null(emitted_id("timing", LEAD_B ":account_release:" LEAD_A));
    cr_expect_not_null(lm_recorder_find(rec, "SREM", dset), "A's deal ended");
    in = account_event(&x, LEAD_A, LM_ACCT_END, ACCT);
    lm_recorder_reset(rec);
    lm_recorder_reply_strs(rec, 3, members);
    lm_recorder_reply_strs(rec, 1, deals);
    run(in);
    cr_expect_not_null(emitted_id("timing", LEAD_B ":account_close:" LEAD_A));
}

/* B joined the account with a freed slot (timing_queue_acct.c): a live
 * deal of a colleague holds it, the smallest lead id's (the hold A's own
 * pause gave B would have had); no live deal, or B's own, holds nothing. */
Test(timing_account, a_lead_joining_from_the_queue_is_held_by_a_live_deal) {
    ev_buf x;
    const char *members[] = {LEAD_A, LEAD_B, LEAD_C};
    const char *deals[] = {LEAD_C, LEAD_A}, *own[] = {LEAD_B};
    ProtobufCMessage *in = account_event(&x, LEAD_B, LM_ACCT_JOIN, ACCT);
    lm_recorder_reset(rec);
    lm_recorder_reply_strs(rec, 3, members);
    lm_recorder_reply_strs(rec, 2, deals);
    run(in);
    cr_expect_eq(lm_recorder_n_planned(rec), 2, "the account's sets alone");
    cr_expect_str_eq(lm_recorder_ident(rec)->id, LEAD_B ":account_join:" ACCT);
    cr_expect_eq(n_on("timing"), 1, "one hold");
    cr_expect_not_null(emitted_id("timing", LEAD_B ":account_hold:" LEAD_A));
    char dset[LM_KEY_MAX];
    lm_lead_account_deals_key(ACCT, dset);
    cr_expect_null(lm_recorder_find(rec, "SADD", dset), "no deal of B's");
    cr_expect_null(lm_recorder_find(rec, "SREM", dset));
    lm_recorder_reset(rec);
    lm_recorder_reply_strs(rec, 3, members);
    lm_recorder_reply_strs(rec, 0, NULL);
    run(in);
    cr_expect_eq(n_on("timing"), 0, "no live deal: nothing to wait for");
    lm_recorder_reset(rec);
    lm_recorder_reply_strs(rec, 3, members);
    lm_recorder_reply_strs(rec, 1, own);
    run(in);
    cr_expect_eq(n_on("timing"), 0, "its own deal does not hold it");
}

/* Two colleagues' deals live (A's and C's): A's lost deal releases nobody;
 * C's, the last, releases the others. */
Test(timing_account, the_last_live_deal_to_end_releases_the_account) {
    ev_buf x;
    const char *members[] = {LEAD_C, LEAD_A, LEAD_B};
    const char *both[] = {LEAD_A, LEAD_C}, *only_c[] = {LEAD_C};
    ProtobufCMessage *in = account_event(&x, LEAD_A, LM_ACCT_RESUME, ACCT);
    lm_recorder_reset(rec);
    lm_recorder_reply_strs(rec, 3, members);
    lm_recorder_reply_strs(rec, 2, both);
    run(in);
    cr_expect_eq(n_on("timing"), 0, "C's deal is still live");
    in = account_event(&x, LEAD_C, LM_ACCT_RESUME, ACCT);
    lm_recorder_reset(rec);
    lm_recorder_reply_strs(rec, 3, members);
    lm_recorder_reply_strs(rec, 1, only_c);
    run(in);
    cr_expect_not_null(emitted_id("timing", LEAD_B ":account_release:" LEAD_C));
    cr_expect_not_null(emitted_id("timing", LEAD_A ":account_release:" LEAD_C),
                       "A is handed off: its release will do nothing");
}

Test(timing_account, a_hold_takes_back_the_pending_touch_and_pauses) {
    ev_buf x;
    ProtobufCMessage *in = account_event(&x, LEAD_B, LM_ACCT_HOLD, LEAD_A);
    /* step 2 emitted ahead, due in a day */
    give_lead(in, "2", "1767693600000", NULL, NULL, NULL);
    run(in);
    const lm_recorded_emit *e =
        emitted_id("actions", LEAD_B ":action:2:cancel");
    cr_assert_not_null(e, "the pending touch is taken back");
    Lastmile__V1__FollowUpAction *a =
        lastmile__v1__follow_up_action__unpack(NULL, e->len, e->data);
    cr_assert_not_null(a);
    cr_expect_eq(a->kind, LASTMILE__V1__ACTION_KIND__CANCEL);
    cr_expect_str_eq(a->reason, "account_paused");
    lastmile__v1__follow_up_action__free_unpacked(a, NULL);
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD_B, key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_PAUSED), LEAD_A);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SLA_LEVEL), "done");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STAGE), "paused",
                     "it waits on no worker (lastmile waiting)");
    cr_expect_not_null(lm_recorder_find(rec, "ZREM", NULL),
                       "its response timer is cancelled");
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_account_paused_total", NULL), 1);

    /* paused already (by another colleague): nothing */
    give_lead(in, "2", "1767693600000", LEAD_C, NULL, NULL);
    run(in);
    cr_expect_eq(lm_recorder_n_emits(rec), 0);
    cr_expect_eq(lm_recorder_n_writes(rec), 0);
}

Test(timing_account, a_paused_lead_is_not_moved_on_by_its_timer) {
    Lastmile__V1__TimerFired t = LASTMILE__V1__TIMER_FIRED__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    char id[LM_ID_MAX];
    size_t n = lm_fmt_cat(id, sizeof(id), LEAD_B, ":timer:", NULL);
    cr_assert_gt(lm_lead_timer_payload(1, "NA/mid", id + n, sizeof(id) - n), 0);
    t.timer_id = id;
    t.lead_id = LEAD_B;
    t.step = 1;
    t.due_at_ms = NOW_MS - 1000;
    t.fired_at_ms = NOW_MS;
    t.action_id = LEAD_B ":action:1";
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    ev.timer_fired = &t;
    give_lead(&ev.base, "1", "1767600000000", LEAD_A, NULL, NULL);
    run(&ev.base);
    cr_expect_null(lm_recorder_emit_on(rec, "followup"), "no next touch");
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_timers_stale_total", NULL),
                 1);
}

Test(timing_account, a_release_gives_the_next_step_from_now) {
    ev_buf x;
    ProtobufCMessage *in = account_event(&x, LEAD_B, LM_ACCT_RELEASE, LEAD_A);
    give_lead(in, "1", "1767600000000", LEAD_A, NULL, NULL);
    run(in);
    const lm_recorded_emit *e =
        emitted_id("followup", LEAD_B ":touch:2:after:" LEAD_A);
    cr_assert_not_null(e, "step 2 from now");
    Lastmile__V1__FollowUpEvent *fe =
        lastmile__v1__follow_up_event__unpack(NULL, e->len, e->data);
    cr_assert_not_null(fe);
    cr_assert_eq(fe->event_case,
                 LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH);
    cr_expect_eq(fe->next_touch->step, 2);
    cr_expect_geq(fe->next_touch->scheduled_for_ms, NOW_MS + 2 * DAY_MS,
                  "step 2 waits 2d, counted from now");
    lastmile__v1__follow_up_event__free_unpacked(fe, NULL);
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD_B, key);
    const lm_recorded_cmd *d = lm_recorder_find(rec, "HDEL", key);
    cr_assert_not_null(d);
    cr_expect_str_eq(d->argv[2], LM_F_PAUSED);

    /* paused by a colleague whose deal ended first: released too (the
       last deal's end releases the account) */
    give_lead(in, "1", "1767600000000", LEAD_C, NULL, NULL);
    run(in);
    cr_expect_not_null(emitted_id("followup", LEAD_B ":touch:2:after:" LEAD_A));
    /* not paused (it answered, or was never held): nothing */
    give_lead(in, "1", "1767600000000", NULL, NULL, NULL);
    run(in);
    cr_expect_eq(lm_recorder_n_emits(rec), 0);
    /* at the last step: the cadence is over */
    give_lead(in, "4", "1767600000000", LEAD_A, NULL, NULL);
    run(in);
    const lm_recorded_emit *o = lm_recorder_emit_on(rec, "outcomes");
    cr_assert_not_null(o, "closed");
    Lastmile__V1__Outcome *out =
        lastmile__v1__outcome__unpack(NULL, o->len, o->data);
    cr_assert_not_null(out);
    cr_expect_eq(out->status, LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE);
    lastmile__v1__outcome__free_unpacked(out, NULL);
}

Test(timing_account, a_close_ends_the_cadence) {
    ev_buf x;
    ProtobufCMessage *in = account_event(&x, LEAD_B, LM_ACCT_CLOSE, LEAD_A);
    give_lead(in, "2", "1767693600000", LEAD_A, NULL, NULL);
    run(in);
    cr_expect_not_null(emitted_id("actions", LEAD_B ":action:2:cancel"));
    const lm_recorded_emit *o = lm_recorder_emit_on(rec, "outcomes");
    cr_assert_not_null(o, "closed");
    Lastmile__V1__Outcome *out =
        lastmile__v1__outcome__unpack(NULL, o->len, o->data);
    cr_assert_not_null(out);
    cr_expect_eq(out->status, LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE);
    lastmile__v1__outcome__free_unpacked(out, NULL);
}

Test(timing_account, bad_account_events_are_refused_with_the_field) {
    ev_buf x;
    ProtobufCMessage *in =
        account_event(&x, LEAD_A, LM_ACCT_PAUSE, "gmail.com");
    lm_recorder_reset(rec);
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), -1);
    cr_assert_not_null(lm_recorder_rejected(rec));
    cr_expect(strstr(lm_recorder_rejected(rec), "timer_fired.timer_id"));
    in = account_event(&x, LEAD_B, LM_ACCT_HOLD, "not-a-lead");
    lm_recorder_reset(rec);
    cr_expect_eq(lm_recorder_handle(rec, &lm_timing_worker, in, NOW_MS), -1);
}

Test(timing_account, switched_off_a_reply_pauses_nothing) {
    lm_timing_worker.fini(lm_timing_worker.ctx);
    init_with(&lm_timing_worker, 0);
    ev_buf x;
    ProtobufCMessage *in =
        answer(&x, LEAD_A, LASTMILE__V1__RESPONSE_KIND__REPLIED);
    give_lead(in, "1", "1767600000000", NULL, NULL, NULL);
    run(in);
    cr_expect_null(emitted_id("timing", LEAD_A ":account_pause:" ACCT));
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD_A, key);
    cr_expect_null(lm_recorder_hget(rec, key, LM_F_ACCT_PAUSED));

    /* a deal that paused its account before the switch went off still
       releases it when it ends */
    in = answer(&x, LEAD_A, LASTMILE__V1__RESPONSE_KIND__LOST);
    const char *paused_before[] = {LM_F_STATUS,
                                   "open",
                                   LM_F_RESPONDED,
                                   "1767607000000",
                                   LM_F_ACCT_PAUSED,
                                   "1",
                                   LM_F_ACCOUNT,
                                   ACCT,
                                   LM_F_OWNER,
                                   "alex.kim",
                                   LM_F_TEAM,
                                   "na",
                                   NULL};
    lm_recorder_reset(rec);
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS,
                                        paused_before),
                 0);
    lm_recorder_reply_strs(rec, 0, NULL);
    cr_assert_eq(lm_recorder_reply_hash(rec, &lm_timing_worker, in, NOW_MS,
                                        paused_before),
                 0);
    run(in);
    cr_expect_not_null(emitted_id("timing", LEAD_A ":account_resume:" ACCT));
}

/* followup: a paused lead's NextTouch is not sent; a resumed one's (its
 * own id) is. */
Test(timing_account, followup_skips_a_paused_lead_and_takes_the_resumed) {
    lm_recorder *fr = worker_test_start(&lm_followup_worker);
    Lastmile__V1__NextTouch nt = LASTMILE__V1__NEXT_TOUCH__INIT;
    nt.touch_id = LEAD_B ":touch:2:after:" LEAD_A;
    nt.lead_id = LEAD_B;
    nt.step = 2;
    nt.scheduled_for_ms = NOW_MS + 2 * DAY_MS;
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH;
    ev.next_touch = &nt;
    const char *paused[] = {LM_F_STATUS,
                            "open",
                            LM_F_CADENCE,
                            "qualified",
                            LM_F_TZ,
                            "America/New_York",
                            LM_F_OWNER,
                            "alex.kim",
                            LM_F_SEGMENT,
                            "NA/mid",
                            LM_F_ADAPTIVE,
                            "0",
                            LM_F_SUBMITTED,
                            "1767600000000",
                            LM_F_TEAM,
                            "na",
                            LM_F_PAUSED,
                            LEAD_A,
                            NULL};
    size_t n_given = 0;
    while (n_given < 8 && lm_recorder_reply_hash(fr, &lm_followup_worker,
                                                 &ev.base, NOW_MS, paused) == 0)
        n_given++;
    cr_assert_eq(lm_recorder_handle(fr, &lm_followup_worker, &ev.base, NOW_MS),
                 0);
    cr_expect_str_eq(lm_recorder_ident(fr)->id, LEAD_B ":touch:2:after:" LEAD_A,
                     "a resumed touch is its own message");
    cr_expect_null(lm_recorder_emit_on(fr, "actions"), "paused: no touch");
    cr_expect_eq(lm_recorder_counted(fr, "lastmile_followup_skipped_total",
                                     "reason=\"account_paused\""),
                 1);
    lm_recorder_reset(fr);
    paused[16] = NULL; /* paused_by removed */
    n_given = 0;
    while (n_given < 8 && lm_recorder_reply_hash(fr, &lm_followup_worker,
                                                 &ev.base, NOW_MS, paused) == 0)
        n_given++;
    cr_assert_eq(lm_recorder_handle(fr, &lm_followup_worker, &ev.base, NOW_MS),
                 0);
    cr_expect_not_null(lm_recorder_emit_on(fr, "actions"), "resumed: sent");
    worker_test_stop(&lm_followup_worker, fr);
}

/* qualification keeps the account's open set with the lead's row. */
Test(timing_account, qualification_adds_the_lead_to_its_account) {
    lm_recorder *qr = lm_recorder_new();
    init_with(&lm_qualification_worker, 1);
    size_t n = lm_recorder_plan_batch(qr, &lm_qualification_worker);
    lm_recorder_reply_str(qr, "OK");
    for (size_t i = 1; i < n; i++) {
        if (strcmp(lm_recorder_batch_planned(qr, i)->argv[0], "SCARD") == 0)
            lm_recorder_reply_int(qr, 0);
        else
            lm_recorder_reply_strs(qr, 2, (const char *const[]){NULL, NULL});
    }
    lm_recorder_begin_batch(qr, &lm_qualification_worker);
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = LEAD_B;
    l.event_id = "ev-b";
    l.source = "referral";
    l.email = "bea@acme.com";
    l.title = "CEO";
    l.country = "US";
    l.timezone = "America/New_York";
    l.company_size = 50;
    l.email_domain = ACCT;
    l.submitted_at_ms = NOW_MS - 1000;
    l.accepted_at_ms = NOW_MS - 500;
    lm_recorder_reply_nil(qr);    /* the account's owner */
    lm_recorder_reply_nil(qr);    /* its open count */
    lm_recorder_reply_int(qr, 0); /* no live deal */
    cr_assert_eq(
        lm_recorder_handle(qr, &lm_qualification_worker, &l.base, NOW_MS), 0,
        "%s", lm_recorder_rejected(qr) ? lm_recorder_rejected(qr) : "");
    char set[LM_KEY_MAX], key[LM_KEY_MAX];
    lm_lead_account_open_key(ACCT, set);
    const lm_recorded_cmd *c = lm_recorder_find(qr, "SADD", set);
    cr_assert_not_null(c, "the lead joins its account's open leads");
    cr_expect_str_eq(c->argv[2], LEAD_B);
    lm_lead_key(LEAD_B, key);
    cr_expect_null(lm_recorder_hget(qr, key, LM_F_PAUSED));

    /* a colleague's deal is live: it is paused from the start */
    lm_recorder_reset(qr);
    l.lead_id = LEAD_C;
    l.event_id = "ev-c";
    l.email = "cy@acme.com";
    lm_recorder_reply_nil(qr);
    lm_recorder_reply_nil(qr);
    lm_recorder_reply_int(qr, 1);
    cr_assert_eq(
        lm_recorder_handle(qr, &lm_qualification_worker, &l.base, NOW_MS), 0,
        "%s", lm_recorder_rejected(qr) ? lm_recorder_rejected(qr) : "");
    lm_lead_key(LEAD_C, key);
    cr_expect_str_eq(lm_recorder_hget(qr, key, LM_F_PAUSED), "account");
    worker_test_stop(&lm_qualification_worker, qr);
}
