/* test_worker_webhook.c — the webhook connector's pure parts, no server:
 *   - the signature against a value computed apart (Python's hmac);
 *   - the backoff: doubling to its cap, jitter within [d/2, d], the same
 *     for the same attempt;
 *   - the configuration: every bad variable named, routes by kind, then
 *     channel, then the default;
 *   - handle through the recorder: an action is held and its timer armed
 *     in the webhook's namespace; a repeat is nothing; a CANCEL drops a
 *     held action, is itself held when the action was posted;
 *   - settle: a 2xx marks posted; a 503 re-arms after the backoff; the
 *     last attempt, or a 404, dead-letters with status and excerpt;
 *   - identify refuses an action_id that cannot be a header value;
 *   - lm_timers namespaces: their keys, and which names are namespaces. */
#include "lm_lead.h"
#include "lm_out.h"
#include "lm_recorder.h"
#include "lm_timers.h"
#include "webhook.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEAD "0123456789abcdef-01234567"
#define NOW  1767607200000LL

Test(webhook, signature_matches_an_independent_hmac) {
    char sig[LM_WEBHOOK_SIG_MAX];
    const char *secret = "test-secret-0123456789abcdef", *body = "{\"a\":1}";
    cr_assert_eq(lm_webhook_sign(secret, strlen(secret), 1700000000, body,
                                 strlen(body), sig),
                 0);
    cr_expect_str_eq(sig, "t=1700000000,v1=9b8ebd5b30591a4540f6eea35c2cafc8ca9"
                          "6f659bc3b66994554908a236809ca");
    lm_webhook_sign(secret, strlen(secret), 1700000001, body, strlen(body),
                    sig);
    cr_expect(strstr(sig, "9b8ebd5b") == NULL, "the time is signed");
}

Test(webhook, backoff_doubles_to_its_cap_with_jitter) {
    for (int a = 1; a <= 12; a++) {
        int64_t d = 1000;
        for (int i = 1; i < a; i++)
            d = d * 2 > 60000 ? 60000 : d * 2;
        int64_t w = lm_webhook_backoff_ms(a, 1000, 60000, "L:action:1");
        cr_expect(w >= d / 2 && w <= d, "attempt %d: %lld not in [%lld, %lld]",
                  a, (long long)w, (long long)d / 2, (long long)d);
        cr_expect_eq(w, lm_webhook_backoff_ms(a, 1000, 60000, "L:action:1"));
    }
    int differ = 0;
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof(id), "L:action:%d", i);
        differ |= lm_webhook_backoff_ms(3, 1000, 60000, id) !=
                  lm_webhook_backoff_ms(3, 1000, 60000, "L:action:0");
    }
    cr_expect(differ, "jitter spreads actions");
}

static void clear_env(void) {
    const char *v[] = {
        "LASTMILE_WEBHOOK_URL",         "LASTMILE_WEBHOOK_URL_EMAIL",
        "LASTMILE_WEBHOOK_URL_HANDOFF", "LASTMILE_WEBHOOK_SECRET",
        "LASTMILE_WEBHOOK_TIMEOUT_MS",  NULL};
    for (int i = 0; v[i]; i++)
        unsetenv(v[i]);
}

Test(webhook, config_names_every_bad_variable) {
    clear_env();
    lm_webhook_config c;
    char err[2048];
    setenv("LASTMILE_WEBHOOK_URL", "ftp://x", 1);
    setenv("LASTMILE_WEBHOOK_SECRET", "short", 1);
    setenv("LASTMILE_WEBHOOK_TIMEOUT_MS", "fast", 1);
    cr_assert_eq(lm_webhook_config_load(&c, err, sizeof(err)), -1);
    cr_expect(strstr(err, "LASTMILE_WEBHOOK_URL: not an http(s) URL"), "%s",
              err);
    cr_expect(strstr(err, "LASTMILE_WEBHOOK_SECRET: too short"), "%s", err);
    cr_expect(strstr(err, "LASTMILE_WEBHOOK_TIMEOUT_MS: \"fast\""), "%s", err);
    clear_env();
    cr_assert_eq(lm_webhook_config_load(&c, err, sizeof(err)), -1);
    cr_expect(strstr(err, "LASTMILE_WEBHOOK_URL: not set"), "%s", err);
    cr_expect(strstr(err, "LASTMILE_WEBHOOK_SECRET: not set"), "%s", err);
}

Test(webhook, routes_by_kind_then_channel_then_default) {
    clear_env();
    setenv("LASTMILE_WEBHOOK_URL", "https://all.example/", 1);
    setenv("LASTMILE_WEBHOOK_URL_EMAIL", "https://mail.example/", 1);
    setenv("LASTMILE_WEBHOOK_URL_HANDOFF", "https://crm.example/", 1);
    setenv("LASTMILE_WEBHOOK_SECRET", "0123456789abcdef0123", 1);
    lm_webhook_config c;
    char err[2048];
    cr_assert_eq(lm_webhook_config_load(&c, err, sizeof(err)), 0, "%s", err);
    Lastmile__V1__FollowUpAction a = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    const char *route;
    a.channel = "email";
    a.kind = LASTMILE__V1__ACTION_KIND__TOUCH;
    cr_expect_str_eq(lm_webhook_route(&c, &a, &route), "https://mail.example/");
    cr_expect_str_eq(route, "LASTMILE_WEBHOOK_URL_EMAIL");
    a.kind = LASTMILE__V1__ACTION_KIND__HANDOFF;
    cr_expect_str_eq(lm_webhook_route(&c, &a, &route), "https://crm.example/");
    a.kind = LASTMILE__V1__ACTION_KIND__TOUCH;
    a.channel = "call";
    cr_expect_str_eq(lm_webhook_route(&c, &a, &route), "https://all.example/");
    lm_webhook_config_free(&c);
    clear_env();
}

/* ------------------------------------------------------------- handle */

static Lastmile__V1__FollowUpAction act(Lastmile__V1__ActionKind kind) {
    Lastmile__V1__FollowUpAction a = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a.action_id = LEAD ":action:1";
    a.lead_id = LEAD;
    a.channel = "email";
    a.kind = kind;
    a.scheduled_for_ms = NOW + 3600000;
    return a;
}

/* 1 when the recorder holds a ZADD on the webhook's timer set. */
static int timer_armed(lm_recorder *r) {
    char set[LM_TIMERS_KEY_MAX];
    lm_timers_key_ns(LM_WEBHOOK_NS, lm_timers_bucket(LEAD), "", set);
    return lm_recorder_find(r, "ZADD", set) != NULL;
}

Test(webhook, handle_holds_cancels_and_posts_cancels) {
    lm_recorder *r = lm_recorder_new();
    Lastmile__V1__FollowUpAction a = act(LASTMILE__V1__ACTION_KIND__TOUCH);
    char key[LM_KEY_MAX];
    lm_webhook_key(LEAD, LEAD ":action:1", key, sizeof(key));
    lm_recorder_reply_nil(r);
    cr_assert_eq(lm_recorder_handle(r, &lm_webhook_worker, &a.base, NOW), 0);
    cr_expect_str_eq(lm_recorder_hget(r, key, "state"), "held");
    cr_expect(timer_armed(r));
    const lm_recorded_cmd *z = lm_recorder_find(r, "ZADD", NULL);
    cr_assert(z);
    cr_expect_str_eq(z->argv[2], "1767610800000", "due at scheduled_for_ms");

    lm_recorder_reset(r); /* a repeat */
    lm_recorder_reply_str(r, "posted");
    lm_recorder_handle(r, &lm_webhook_worker, &a.base, NOW);
    cr_expect_eq(lm_recorder_n_writes(r) + lm_recorder_n_index(r), 0);

    Lastmile__V1__FollowUpAction c = act(LASTMILE__V1__ACTION_KIND__CANCEL);
    lm_recorder_reset(r); /* CANCEL of a held action: dropped */
    lm_recorder_reply_str(r, "held");
    lm_recorder_handle(r, &lm_webhook_worker, &c.base, NOW);
    cr_expect_str_eq(lm_recorder_ident(r)->id, LEAD ":action:1:cancel");
    cr_expect_str_eq(lm_recorder_hget(r, key, "state"), "cancelled");
    cr_expect(lm_recorder_find(r, "ZREM", NULL));

    lm_recorder_reset(r); /* CANCEL of a posted action: posted itself */
    lm_recorder_reply_str(r, "posted");
    lm_recorder_handle(r, &lm_webhook_worker, &c.base, NOW);
    char ckey[LM_KEY_MAX];
    lm_webhook_key(LEAD, LEAD ":action:1:cancel", ckey, sizeof(ckey));
    cr_expect_str_eq(lm_recorder_hget(r, ckey, "state"), "held");
    cr_expect(timer_armed(r));
    z = lm_recorder_find(r, "ZADD", NULL);
    cr_assert(z);
    cr_expect_str_eq(z->argv[2], "1767607200000", "a CANCEL goes at once");

    lm_recorder_reset(r); /* CANCEL of an unknown action: nothing */
    lm_recorder_reply_nil(r);
    lm_recorder_handle(r, &lm_webhook_worker, &c.base, NOW);
    cr_expect_eq(lm_recorder_n_writes(r) + lm_recorder_n_index(r), 0);
    lm_recorder_free(r);
}

/* ------------------------------------------------------------- settle */

typedef struct seen {
    int writes, index, emits;
    char last_write[512], dl_reason[LM_REASON_MAX];
} seen;

static int s_emit(void *impl, const char *topic, const char *key,
                  const char *id, const ProtobufCMessage *msg) {
    seen *s = impl;
    (void)key;
    (void)id;
    s->emits++;
    cr_expect_str_eq(topic, "dlq");
    const Lastmile__V1__DeadLetter *dl = (const Lastmile__V1__DeadLetter *)msg;
    snprintf(s->dl_reason, sizeof(s->dl_reason), "%s", dl->reason);
    return 0;
}

static int s_write(void *impl, int argc, const char *const *argv,
                   const size_t *lens) {
    seen *s = impl;
    (void)lens;
    s->writes++;
    s->last_write[0] = '\0';
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(s->last_write);
        snprintf(s->last_write + n, sizeof(s->last_write) - n, "%s ", argv[i]);
    }
    return 0;
}

static int s_index(void *impl, int argc, const char *const *argv,
                   const size_t *lens) {
    seen *s = impl;
    (void)argc;
    (void)argv;
    (void)lens;
    s->index++;
    return 0;
}

static void s_reject(void *impl, const char *reason) {
    (void)impl;
    cr_assert_fail("rejected: %s", reason);
}

static void s_count(void *impl, const char *f, const char *l, double v, int h) {
    (void)impl, (void)f, (void)l, (void)v, (void)h;
}

static const lm_out_ops seen_ops = {.emit = s_emit,
                                    .write = s_write,
                                    .index = s_index,
                                    .reject = s_reject,
                                    .count = s_count};

static void settle(int attempts, long status, int retriable, seen *s) {
    lm_webhook_config cfg = {
        .max_attempts = 3, .backoff_ms = 1000, .backoff_max_ms = 8000};
    Lastmile__V1__FollowUpAction a = act(LASTMILE__V1__ACTION_KIND__TOUCH);
    lm_webhook_settle_in in = {.cfg = &cfg,
                               .a = &a,
                               .action_bytes = (const uint8_t *)"x",
                               .action_len = 1,
                               .post_id = LEAD ":action:1",
                               .route = "LASTMILE_WEBHOOK_URL",
                               .actions_topic = "lastmile.actions",
                               .attempts = attempts,
                               .time_scale = 1,
                               .now_ms = NOW};
    lm_webhook_result r = {.status = status, .retriable = retriable};
    snprintf(r.detail, sizeof(r.detail), "busy");
    memset(s, 0, sizeof(*s));
    lm_out o = lm_out_make(&seen_ops, s);
    cr_assert_eq(lm_webhook_settle(&in, &r, &o), 0);
}

Test(webhook, settle_posted_retried_or_dead) {
    seen s;
    settle(0, 204, 0, &s);
    cr_expect(strstr(s.last_write, "EXPIRE") || s.writes == 2);
    cr_expect_eq(s.emits, 0);
    cr_expect_eq(s.index, 0);
    settle(0, 503, 1, &s);
    cr_expect_eq(s.index, 1, "re-armed");
    cr_expect_eq(s.emits, 0);
    settle(2, 503, 1, &s); /* the third attempt of three */
    cr_expect_eq(s.index, 0);
    cr_expect_eq(s.emits, 1);
    cr_expect_str_eq(s.dl_reason, "POST to LASTMILE_WEBHOOK_URL: HTTP 503 "
                                  "after 3 attempts: busy");
    settle(0, 404, 0, &s); /* not retriable: at once */
    cr_expect_eq(s.emits, 1);
    cr_expect(strstr(s.dl_reason, "HTTP 404 after 1 attempt:"), "%s",
              s.dl_reason);
}

Test(timers, namespaces_have_their_own_keys) {
    char k[LM_TIMERS_KEY_MAX];
    lm_timers_key_ns("webhook", 3, ":claimed", k);
    cr_expect_str_eq(k, "lm:{timers:webhook:3}:claimed");
    lm_timers_key_ns(NULL, 3, "", k);
    cr_expect_str_eq(k, "lm:{timers:3}");
    cr_expect(lm_timers_ns_ok("webhook"));
    cr_expect(!lm_timers_ns_ok("Web hook"));
    cr_expect(!lm_timers_ns_ok(""));
}

Test(webhook, identify_refuses_ids_that_cannot_be_a_header) {
    lm_recorder *r = lm_recorder_new();
    Lastmile__V1__FollowUpAction a = act(LASTMILE__V1__ACTION_KIND__TOUCH);
    a.action_id = LEAD ":action:1\r\nX-Evil: 1";
    cr_expect_eq(lm_recorder_handle(r, &lm_webhook_worker, &a.base, NOW), -1);
    cr_expect(lm_recorder_rejected(r) &&
                  strstr(lm_recorder_rejected(r), "action_id"),
              "%s", lm_recorder_rejected(r));
    lm_recorder_free(r);
}
