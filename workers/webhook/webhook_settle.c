/* webhook_settle.c — the webhook's pure parts: the body, the record key,
 * the backoff, and what a POST's outcome decides (see webhook.h). No
 * I/O, no clock: unit-tested with lm_recorder. */
#include "webhook.h"

#include "lm_fmt.h"
#include "lm_hash.h"
#include "lm_lead.h"
#include "lm_pbjson.h"
#include "lm_timers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the jitter hash's seed ("webhook") */
#define JITTER_SEED 0x776562686f6f6bULL

int lm_webhook_key(const char *lead_id, const char *post_id, char *out,
                   size_t outsz) {
    char tag[LM_PERSON_MAX];
    if (!lead_id || lm_lead_tag(lead_id, tag) != 0)
        return -1;
    int n = snprintf(out, outsz, "lm:{%s}:webhook:%s", tag, post_id);
    return n > 0 && (size_t)n < outsz ? 0 : -1;
}

int64_t lm_webhook_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
                              const char *post_id) {
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    char a[LM_FMT_I64_MAX], seed[LM_ID_MAX + LM_FMT_I64_MAX + 1];
    lm_fmt_i64(a, attempt);
    lm_fmt_cat(seed, sizeof(seed), post_id, "#", a, NULL);
    uint64_t h = lm_hash64_str(seed, JITTER_SEED);
    int64_t half = d / 2;
    return d - half + (int64_t)(h % (uint64_t)(half + 1));
}

char *lm_webhook_body(const Lastmile__V1__FollowUpAction *a, size_t *len) {
    json_t *j = lm_pbjson_from_message(&a->base);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s)
        *len = strlen(s);
    return s;
}

/* Marks the record settled: state, status, and its TTL. */
static void record_settled(lm_out *o, const char *key, const char *state,
                           long status, int attempts) {
    char st[LM_FMT_I64_MAX], at[LM_FMT_I64_MAX], ttl[LM_FMT_I64_MAX];
    lm_fmt_i64(st, status);
    lm_fmt_i64(at, attempts);
    lm_fmt_i64(ttl, LM_WEBHOOK_KEEP_S);
    lm_out_write_strs(o, "HSET", key, "state", state, "status", st, "attempts",
                      at, NULL);
    lm_out_write_strs(o, "EXPIRE", key, ttl, NULL);
}

/* The dead letter of a held action that will not be posted. */
static void dead_letter(const lm_webhook_settle_in *in, const char *reason,
                        lm_out *o) {
    Lastmile__V1__DeadLetter dl = LASTMILE__V1__DEAD_LETTER__INIT;
    char id[LM_ID_MAX + 256];
    snprintf(id, sizeof(id), "webhook:%s:%s", in->actions_topic, in->post_id);
    dl.dead_letter_id = id;
    dl.original.data = (uint8_t *)in->action_bytes;
    dl.original.len = in->action_len;
    dl.original_key.data = (uint8_t *)in->a->lead_id;
    dl.original_key.len = strlen(in->a->lead_id);
    dl.topic = (char *)in->actions_topic;
    dl.partition = -1; /* the POST failed, not the message at an offset */
    dl.offset = -1;
    dl.reason = (char *)reason;
    dl.worker = "webhook";
    dl.failed_at_ms = in->now_ms;
    lm_out_emit(o, LM_TOPIC_DLQ, in->a->lead_id, id, &dl.base);
}

int lm_webhook_settle(const lm_webhook_settle_in *in,
                      const lm_webhook_result *r, lm_out *o) {
    char key[LM_KEY_MAX], reason[LM_REASON_MAX];
    int attempts = in->attempts + 1;
    if (lm_webhook_key(in->a->lead_id, in->post_id, key, sizeof(key)) != 0) {
        lm_out_reject(o, "lead_id: \"%.40s\" is not a lead id", in->a->lead_id);
        return -1;
    }
    if (r->status >= 200 && r->status < 300) {
        record_settled(o, key, "posted", r->status, attempts);
        lm_out_count(o, "lastmile_webhook_posts_total", "result=\"posted\"", 1);
        return lm_out_failed(o) ? -1 : 0;
    }
    lm_out_count(o, "lastmile_webhook_posts_total", "result=\"failed\"", 1);
    if (r->retriable && attempts < in->cfg->max_attempts) {
        int64_t wait =
            lm_webhook_backoff_ms(attempts, in->cfg->backoff_ms,
                                  in->cfg->backoff_max_ms, in->post_id);
        char at[LM_FMT_I64_MAX], st[LM_FMT_I64_MAX];
        lm_fmt_i64(at, attempts);
        lm_fmt_i64(st, r->status);
        lm_out_write_strs(o, "HSET", key, "attempts", at, "status", st, NULL);
        lm_timers_arm_in(o, LM_WEBHOOK_NS, in->a->lead_id, LM_WEBHOOK_TIMER,
                         in->now_ms + (int64_t)((double)wait * in->time_scale),
                         in->post_id, strlen(in->post_id));
        return lm_out_failed(o) ? -1 : 0;
    }
    if (r->status)
        snprintf(reason, sizeof(reason),
                 "POST to %s: HTTP %ld after %d attempt%s: %.200s", in->route,
                 r->status, attempts, attempts == 1 ? "" : "s", r->detail);
    else
        snprintf(reason, sizeof(reason),
                 "POST to %s: no answer after %d attempt%s: %.200s", in->route,
                 attempts, attempts == 1 ? "" : "s", r->detail);
    dead_letter(in, reason, o);
    record_settled(o, key, "dead", r->status, attempts);
    lm_out_count(o, "lastmile_webhook_dead_letters_total", NULL, 1);
    return lm_out_failed(o) ? -1 : 0;
}
