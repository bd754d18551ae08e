/* webhook.h — lastmile-webhook: actions out to HTTP receivers, signed, at
 * their scheduled time (docs/DEPLOY.md "The webhook connector").
 *
 * The worker consumes lastmile.actions. Its decision (handle, pure) holds
 * each action in Redis and arms a timer of its own namespace ("webhook",
 * lm_timers.h) for the action's scheduled_for_ms; a CANCEL drops an action
 * still held, or is itself posted when the action it cancels was posted.
 * The runtime delivers due timers to deliver_timer, which POSTs the action
 * (webhook_post.c, libcurl) and settles the outcome (lm_webhook_settle,
 * pure): posted on a 2xx; else another attempt after a backoff; else a
 * dead letter with the last status and a body excerpt.
 *
 * Redis, per action, under the lead's hash tag:
 *   lm:{<tag>}:webhook:<post id>  hash: action (the FollowUpAction bytes),
 *                                 state (held | posted | cancelled | dead),
 *                                 attempts, status (the last HTTP status,
 *                                 0: none)
 * where the post id is the action_id, or "<action_id>:cancel" for a CANCEL
 * (its lm-id header), which is also the POST's Idempotency-Key. The timer
 * is (lead_id, "post", <post id>).
 *
 * Threads: the worker's one thread. Ownership: the configuration is the
 * worker's (lm_webhook_config_load / _free). */
#ifndef LM_WEBHOOK_H
#define LM_WEBHOOK_H

#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stddef.h>
#include <stdint.h>

extern const lm_worker lm_webhook_worker;

#define LM_WEBHOOK_NS          "webhook" /* its timer namespace */
#define LM_WEBHOOK_TIMER       "post"    /* its timers' kind */
#define LM_WEBHOOK_SIG_MAX     128       /* "t=<s>,v1=<64 hex>" with its NUL */
#define LM_WEBHOOK_EXCERPT_MAX 256       /* bytes of a response kept */
#define LM_WEBHOOK_URL_MAX     2048
#define LM_WEBHOOK_SECRET_MIN  16           /* bytes */
#define LM_WEBHOOK_KEEP_S      (30 * 86400) /* a settled record's TTL */
/* The longest POST: a delivering sweep starts no POST after half a claim's
 * lease (LM_TIMERS_LEASE_MS, 30 s), so one that ends within the other half
 * is never claimed again while it runs. */
#define LM_WEBHOOK_TIMEOUT_MAX_MS 15000

/* ------------------------------------------------------- configuration */

/* Where each action goes: a kind's URL (hand-offs, reminders,
 * escalations), else its channel's, else the default; NULL: none. */
enum { LM_WH_EMAIL, LM_WH_SMS, LM_WH_CALL, LM_WH_LINKEDIN, LM_WH_CHANNELS };
enum { LM_WH_HANDOFF, LM_WH_REMINDER, LM_WH_ESCALATION, LM_WH_KINDS };

typedef struct lm_webhook_config {
    char *url;                         /* LASTMILE_WEBHOOK_URL */
    char *url_channel[LM_WH_CHANNELS]; /* LASTMILE_WEBHOOK_URL_EMAIL, ... */
    char *url_kind[LM_WH_KINDS];       /* LASTMILE_WEBHOOK_URL_HANDOFF, ... */
    char *secret;                      /* LASTMILE_WEBHOOK_SECRET(_FILE) */
    size_t secret_len;
    int timeout_ms;         /* one POST, connect included */
    int max_attempts;       /* then a dead letter */
    int64_t backoff_ms;     /* real ms before the second attempt */
    int64_t backoff_max_ms; /* real ms, the longest wait */
} lm_webhook_config;

/* Reads and validates LASTMILE_WEBHOOK_* (lm_env_get: NAME_FILE works).
 * 0, or -1 with every problem in err, one a line, each naming the
 * variable and the fix; *c then holds nothing to free. */
int lm_webhook_config_load(lm_webhook_config *c, char *err, size_t errsz);
void lm_webhook_config_free(lm_webhook_config *c);
/* The URL for action a, and which setting it came from (route: e.g.
 * "LASTMILE_WEBHOOK_URL_EMAIL"); NULL when none is configured. */
const char *lm_webhook_route(const lm_webhook_config *c,
                             const Lastmile__V1__FollowUpAction *a,
                             const char **route);

/* -------------------------------------------------------- pure helpers */

/* "t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>" with secret>" into out.
 * 0 / -1 (OOM, a crypto failure). */
int lm_webhook_sign(const char *secret, size_t secret_len, int64_t t,
                    const char *body, size_t body_len,
                    char out[LM_WEBHOOK_SIG_MAX]);
/* The real ms to wait after failed attempt number `attempt` (1 = the
 * first): min(max_ms, base_ms * 2^(attempt-1)), then an equal jitter:
 * half of it fixed, the other half scaled by a hash of (post_id,
 * attempt), so actions that failed together do not come back together
 * and the same attempt always waits the same. */
int64_t lm_webhook_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
                              const char *post_id);
/* The action as the JSON the receiver gets (protobuf JSON names,
 * lm_pbjson): malloc'd, caller frees; NULL on OOM. */
char *lm_webhook_body(const Lastmile__V1__FollowUpAction *a, size_t *len);

/* What one POST came to. */
typedef struct lm_webhook_result {
    long status;   /* HTTP status; 0 when there was no answer */
    int retriable; /* 5xx, 408, 429, a timeout, a connection error */
    char detail[LM_WEBHOOK_EXCERPT_MAX]; /* body excerpt, or the error */
} lm_webhook_result;

/* What to do after a POST of the held action `a` (post id, its attempts
 * before this one) came to r: a 2xx → posted; retriable and attempts
 * left → the attempt counted and the timer armed again after the
 * backoff (real ms times time_scale); else → a dead letter (topic: the
 * actions topic's full name) and state dead. Writes through o. Pure.
 * 0 / -1 (a failed lm_out call). */
typedef struct lm_webhook_settle_in {
    const lm_webhook_config *cfg;
    const Lastmile__V1__FollowUpAction *a;
    const uint8_t *action_bytes;
    size_t action_len;
    const char *post_id, *route;
    const char *actions_topic;
    int attempts; /* before this one */
    double time_scale;
    int64_t now_ms;
} lm_webhook_settle_in;
int lm_webhook_settle(const lm_webhook_settle_in *in,
                      const lm_webhook_result *r, lm_out *o);

/* The record's key for a post id of lead_id; -1 when lead_id is not a
 * lead id. */
int lm_webhook_key(const char *lead_id, const char *post_id, char *out,
                   size_t outsz);

/* ---------------------------------------------------------- the effect */

/* Performs one POST (webhook_post.c): how the worker sends, replaceable
 * by a test. */
typedef struct lm_webhook_poster lm_webhook_poster;
lm_webhook_poster *lm_webhook_poster_new(const lm_webhook_config *cfg);
void lm_webhook_poster_free(lm_webhook_poster *p); /* NULL ok */
/* POSTs body to url with the signature (now, real seconds) and
 * Idempotency-Key: key; fills *r. Never fails otherwise. */
void lm_webhook_post(lm_webhook_poster *p, const char *url, const char *key,
                     const char *body, size_t len, lm_webhook_result *r);

#endif
