/* webhook.c — lastmile-webhook's declaration: hold actions, cancel them,
 * and deliver them when due (see webhook.h for the state and keys).
 *
 * handle (pure), per action from lastmile.actions:
 *   - an action (not CANCEL) whose record is absent, or dead (a replay of
 *     its dead letter), is held: its bytes stored with state held and
 *     attempts 0, its timer armed for scheduled_for_ms (one already past
 *     is due at once); a record in any other state means the action was
 *     seen before: nothing;
 *   - a CANCEL of an action still held drops it (timer cancelled, state
 *     cancelled: it is never posted); of an action already posted, the
 *     CANCEL itself is held and posted (post id "<action_id>:cancel");
 *     of an action unknown, cancelled or dead: nothing (the receiver never
 *     saw it).
 * deliver_timer (the effect), per due timer: reads the record; posts it
 * when it is still held (webhook_post.c) and settles the outcome
 * (lm_webhook_settle).
 *
 * The worker dedupes by offset: lastmile.actions is written by lastmile's
 * workers only, and the record's state makes a repeated action (a replay
 * by `lastmile dlq replay` included) a no-op.
 *
 * Threads: the worker's one thread. The context is the process's. */
#include "webhook.h"

#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_log.h"
#include "lm_timers.h"
#include "lm_topics.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct webhook_ctx {
    lm_webhook_config cfg;
    lm_webhook_poster *poster;
    char actions_topic[LM_TOPIC_MAX];
    double time_scale;
} webhook_ctx;

static webhook_ctx webhook_state;

static const char *const webhook_outputs[] = {NULL};

/* The record's fields, in plan order. */
enum { F_ACTION, F_STATE, F_ATTEMPTS, F_N };

static int is_cancel(const Lastmile__V1__FollowUpAction *a) {
    return a->kind == LASTMILE__V1__ACTION_KIND__CANCEL;
}

static int webhook_init(void *ctx, const lm_settings *s, char *err,
                        size_t errsz) {
    webhook_ctx *c = ctx;
    if (lm_webhook_config_load(&c->cfg, err, errsz) != 0)
        return -1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
        !(c->poster = lm_webhook_poster_new(&c->cfg))) {
        snprintf(err, errsz, "libcurl: cannot initialise");
        lm_webhook_config_free(&c->cfg);
        return -1;
    }
    lm_topic_name(s, LM_TOPIC_ACTIONS, c->actions_topic,
                  sizeof(c->actions_topic));
    c->time_scale = s->time_scale > 0 ? s->time_scale : 1;
    return 0;
}

static void webhook_fini(void *ctx) {
    webhook_ctx *c = ctx;
    lm_webhook_poster_free(c->poster);
    c->poster = NULL;
    lm_webhook_config_free(&c->cfg);
    curl_global_cleanup();
}

/* An action id: 1 to LM_ID_MAX - 16 printable ASCII bytes, no space and
 * no '|' (it becomes a timer payload, a key and the Idempotency-Key
 * header). */
static int action_id_ok(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > LM_ID_MAX - 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (id[i] <= ' ' || id[i] > '~' || id[i] == '|')
            return 0;
    return 1;
}

static int webhook_identify(void *ctx, const ProtobufCMessage *msg,
                            lm_ident *ident, char *reason, size_t reasonsz) {
    (void)ctx;
    const Lastmile__V1__FollowUpAction *a =
        (const Lastmile__V1__FollowUpAction *)msg;
    if (!action_id_ok(a->action_id)) {
        snprintf(reason, reasonsz,
                 "action_id: \"%.64s\" is not 1-%d printable bytes without "
                 "space or '|'",
                 a->action_id ? a->action_id : "", LM_ID_MAX - 16);
        return -1;
    }
    if (lm_lead_tag_of("lead_id", a->lead_id, ident->tag, reason, reasonsz))
        return -1;
    snprintf(ident->id, sizeof(ident->id), "%s%s", a->action_id,
             is_cancel(a) ? ":cancel" : "");
    return 0;
}

/* HMGET state of the action's record (the original's, for a CANCEL). */
static int webhook_plan(void *ctx, const ProtobufCMessage *msg,
                        const lm_ident *ident, int64_t now_ms, lm_plan *p) {
    (void)ctx;
    (void)ident;
    (void)now_ms;
    const Lastmile__V1__FollowUpAction *a =
        (const Lastmile__V1__FollowUpAction *)msg;
    char key[LM_KEY_MAX];
    if (lm_webhook_key(a->lead_id, a->action_id, key, sizeof(key)) != 0)
        return -1;
    return lm_plan_cmd_strs(p, "HGET", key, "state", NULL);
}

/* Stores the action's bytes as held and arms its timer: at its
 * scheduled_for_ms (one already past is due at once), a CANCEL now. */
static void hold(const lm_msg *m, const Lastmile__V1__FollowUpAction *a,
                 const char *post_id, lm_out *out) {
    char key[LM_KEY_MAX];
    size_t len;
    uint8_t *bytes = lm_pb_pack(&a->base, &len);
    if (!bytes || lm_webhook_key(a->lead_id, post_id, key, sizeof(key)) != 0) {
        free(bytes);
        lm_out_reject(out, "action: cannot be held (out of memory)");
        return;
    }
    const char *argv[] = {"HSET",   key,    "action",   (const char *)bytes,
                          "state",  "held", "attempts", "0",
                          "status", "0"};
    const size_t lens[] = {4, strlen(key), 6, len, 5, 4, 8, 1, 6, 1};
    lm_out_write(out, 10, argv, lens);
    lm_out_write_strs(out, "PERSIST", key, NULL);
    free(bytes);
    /* a CANCEL goes at once, whatever time it carries */
    int64_t due = !is_cancel(a) && a->scheduled_for_ms > 0 ? a->scheduled_for_ms
                                                           : m->now_ms;
    lm_timers_arm_in(out, LM_WEBHOOK_NS, a->lead_id, LM_WEBHOOK_TIMER, due,
                     post_id, strlen(post_id));
    lm_out_count(out, "lastmile_webhook_held_total", NULL, 1);
}

static int webhook_handle(void *ctx, const lm_msg *m, lm_out *out) {
    (void)ctx;
    const Lastmile__V1__FollowUpAction *a =
        (const Lastmile__V1__FollowUpAction *)m->event;
    const char *state = lm_read_str(&m->reads, 0, NULL);
    if (!is_cancel(a)) {
        if (!state || strcmp(state, "dead") == 0)
            hold(m, a, a->action_id, out);
        else
            lm_out_count(out, "lastmile_webhook_repeats_total", NULL, 1);
        return lm_out_failed(out) ? -1 : 0;
    }
    if (state && strcmp(state, "held") == 0) {
        char key[LM_KEY_MAX];
        lm_webhook_key(a->lead_id, a->action_id, key, sizeof(key));
        lm_timers_cancel_in(out, LM_WEBHOOK_NS, a->lead_id, LM_WEBHOOK_TIMER,
                            a->action_id, strlen(a->action_id));
        lm_out_write_strs(out, "HSET", key, "state", "cancelled", NULL);
        lm_out_count(out, "lastmile_webhook_cancels_total",
                     "result=\"dropped\"", 1);
    } else if (state && strcmp(state, "posted") == 0) {
        hold(m, a, m->ident->id, out); /* "<action_id>:cancel" */
        lm_out_count(out, "lastmile_webhook_cancels_total", "result=\"posted\"",
                     1);
    } else {
        lm_out_count(out, "lastmile_webhook_cancels_total",
                     "result=\"ignored\"", 1);
    }
    return lm_out_failed(out) ? -1 : 0;
}

/* HMGET action state attempts of the timer's record. */
static int webhook_plan_timer(void *ctx, const lm_timer *t, lm_plan *p) {
    (void)ctx;
    char key[LM_KEY_MAX];
    if (lm_webhook_key(t->lead, t->payload, key, sizeof(key)) != 0)
        return 0; /* deliver rejects it */
    return lm_plan_cmd_strs(p, "HMGET", key, "action", "state", "attempts",
                            NULL);
}

static int webhook_deliver(void *ctx, const lm_timer *t, const lm_reads *reads,
                           int64_t now_ms, lm_out *out) {
    webhook_ctx *c = ctx;
    size_t len = 0;
    const char *bytes = lm_read_elem_str(reads, 0, F_ACTION, &len);
    const char *state = lm_read_elem_str(reads, 0, F_STATE, NULL);
    const char *at = lm_read_elem_str(reads, 0, F_ATTEMPTS, NULL);
    if (!state || strcmp(state, "held") != 0)
        return 0; /* cancelled, or settled: nothing to post */
    Lastmile__V1__FollowUpAction *a =
        bytes ? lastmile__v1__follow_up_action__unpack(NULL, len,
                                                       (const uint8_t *)bytes)
              : NULL;
    if (!a) {
        lm_out_reject(out, "record of %s: the held action cannot be read",
                      t->payload);
        return 0;
    }
    int64_t attempts = 0;
    if (at)
        lm_parse_int64(at, 0, 1000, &attempts);
    const char *route = NULL;
    const char *url = lm_webhook_route(&c->cfg, a, &route);
    lm_webhook_result r = {0};
    size_t blen = 0;
    char *body = url ? lm_webhook_body(a, &blen) : NULL;
    int rc = 0;
    if (!url)
        snprintf(r.detail, sizeof(r.detail),
                 "no URL for channel \"%.32s\": set LASTMILE_WEBHOOK_URL or "
                 "LASTMILE_WEBHOOK_URL_<CHANNEL>",
                 a->channel ? a->channel : "");
    else if (!body)
        rc = -1; /* out of memory: again after the lease */
    else
        lm_webhook_post(c->poster, url, t->payload, body, blen, &r);
    if (rc == 0) {
        lm_log(r.status >= 200 && r.status < 300 ? LM_LOG_DEBUG : LM_LOG_WARN,
               "webhook_post", "%s via %s: %ld %s", t->payload, route, r.status,
               r.status >= 200 && r.status < 300 ? "" : r.detail);
        lm_webhook_settle_in in = {.cfg = &c->cfg,
                                   .a = a,
                                   .action_bytes = (const uint8_t *)bytes,
                                   .action_len = len,
                                   .post_id = t->payload,
                                   .route = route,
                                   .actions_topic = c->actions_topic,
                                   .attempts = (int)attempts,
                                   .time_scale = c->time_scale,
                                   .now_ms = now_ms};
        rc = lm_webhook_settle(&in, &r, out);
    }
    free(body);
    lastmile__v1__follow_up_action__free_unpacked(a, NULL);
    return rc;
}

const lm_worker lm_webhook_worker = {
    .name = "webhook",
    .input = LM_TOPIC_ACTIONS,
    .keyed_input = 1, /* by lead id: murmur2 of it names the partition */
    .outputs = webhook_outputs,
    .input_type = LM_TOPIC_ACTIONS_TYPE,
    .dedupe = LM_DEDUPE_BY_OFFSET,
    .ctx = &webhook_state,
    .identify = webhook_identify,
    .plan = webhook_plan,
    .handle = webhook_handle,
    .timer_ns = LM_WEBHOOK_NS,
    .plan_timer = webhook_plan_timer,
    .deliver_timer = webhook_deliver,
    .init = webhook_init,
    .fini = webhook_fini,
};
