/* webhook_config.c — LASTMILE_WEBHOOK_* read, validated and routed (see
 * webhook.h). Every problem is reported at start, one a line, naming the
 * variable and the fix; nothing is checked later. Secrets never appear in
 * an error. */
#include "webhook.h"

#include "lm_env.h"
#include "lm_fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const channel_names[LM_WH_CHANNELS] = {"email", "sms",
                                                          "call", "linkedin"};
static const char *const channel_vars[LM_WH_CHANNELS] = {
    "LASTMILE_WEBHOOK_URL_EMAIL", "LASTMILE_WEBHOOK_URL_SMS",
    "LASTMILE_WEBHOOK_URL_CALL", "LASTMILE_WEBHOOK_URL_LINKEDIN"};
static const char *const kind_vars[LM_WH_KINDS] = {
    "LASTMILE_WEBHOOK_URL_HANDOFF", "LASTMILE_WEBHOOK_URL_REMINDER",
    "LASTMILE_WEBHOOK_URL_ESCALATION"};

/* Appends one line to err. */
static void problem(char *err, size_t errsz, int *bad, const char *line) {
    size_t n = strnlen(err, errsz);
    if (n + 1 < errsz)
        snprintf(err + n, errsz - n, "%s%s", *bad ? "\n" : "", line);
    *bad = 1;
}

/* Reads a URL variable into *out (NULL when unset); a bad one is a
 * problem. */
static void read_url(const char *name, char **out, char *err, size_t errsz,
                     int *bad) {
    char e[512] = "", line[768];
    *out = NULL;
    int rc = lm_env_get(name, out, e, sizeof(e));
    if (rc < 0) {
        problem(err, errsz, bad, e);
        return;
    }
    if (rc == 0)
        return;
    const char *u = *out;
    size_t n = strlen(u);
    int ws = 0;
    for (size_t i = 0; i < n; i++)
        ws |= (unsigned char)u[i] <= ' ';
    if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
        n >= LM_WEBHOOK_URL_MAX || ws || strchr(u, '#')) {
        snprintf(line, sizeof(line),
                 "%s: not an http(s) URL without spaces or fragment, under "
                 "%d bytes; e.g. https://crm.example.com/hooks/lastmile",
                 name, LM_WEBHOOK_URL_MAX);
        problem(err, errsz, bad, line);
        free(*out);
        *out = NULL;
    }
}

/* A whole number variable within [min, max], else dflt. */
static int64_t read_int(const char *name, int64_t dflt, int64_t min,
                        int64_t max, char *err, size_t errsz, int *bad) {
    char *v = NULL, e[512] = "", line[512];
    int64_t out = dflt;
    int rc = lm_env_get(name, &v, e, sizeof(e));
    if (rc < 0)
        problem(err, errsz, bad, e);
    else if (rc == 1 && lm_parse_int64(v, min, max, &out) != 0) {
        snprintf(line, sizeof(line),
                 "%s: \"%.40s\" is not a whole number from %lld to %lld", name,
                 v, (long long)min, (long long)max);
        problem(err, errsz, bad, line);
    }
    free(v);
    return out;
}

static void read_secret(lm_webhook_config *c, char *err, size_t errsz,
                        int *bad) {
    char e[512] = "", line[512];
    int rc = lm_env_get("LASTMILE_WEBHOOK_SECRET", &c->secret, e, sizeof(e));
    if (rc < 0) {
        problem(err, errsz, bad, e);
        return;
    }
    c->secret_len = rc == 1 ? strlen(c->secret) : 0;
    if (c->secret_len < LM_WEBHOOK_SECRET_MIN) {
        snprintf(line, sizeof(line),
                 "LASTMILE_WEBHOOK_SECRET: %s; the receiver checks every "
                 "request with it. Give at least %d bytes in a file: "
                 "openssl rand -hex 32 > webhook.secret, "
                 "LASTMILE_WEBHOOK_SECRET_FILE=webhook.secret",
                 rc == 1 ? "too short" : "not set", LM_WEBHOOK_SECRET_MIN);
        problem(err, errsz, bad, line);
    }
}

int lm_webhook_config_load(lm_webhook_config *c, char *err, size_t errsz) {
    int bad = 0, any = 0;
    memset(c, 0, sizeof(*c));
    if (errsz)
        err[0] = '\0';
    read_url("LASTMILE_WEBHOOK_URL", &c->url, err, errsz, &bad);
    any |= c->url != NULL;
    for (int i = 0; i < LM_WH_CHANNELS; i++) {
        read_url(channel_vars[i], &c->url_channel[i], err, errsz, &bad);
        any |= c->url_channel[i] != NULL;
    }
    for (int i = 0; i < LM_WH_KINDS; i++) {
        read_url(kind_vars[i], &c->url_kind[i], err, errsz, &bad);
        any |= c->url_kind[i] != NULL;
    }
    if (!any && !bad)
        problem(err, errsz, &bad,
                "LASTMILE_WEBHOOK_URL: not set, nor any "
                "LASTMILE_WEBHOOK_URL_<CHANNEL|KIND>; set where actions go, "
                "e.g. LASTMILE_WEBHOOK_URL=https://crm.example.com/hooks/"
                "lastmile");
    read_secret(c, err, errsz, &bad);
    /* a POST must end well within its claim's lease (lm_timers.h) */
    c->timeout_ms = (int)read_int("LASTMILE_WEBHOOK_TIMEOUT_MS", 10000, 100,
                                  LM_WEBHOOK_TIMEOUT_MAX_MS, err, errsz, &bad);
    c->max_attempts = (int)read_int("LASTMILE_WEBHOOK_MAX_ATTEMPTS", 8, 1, 100,
                                    err, errsz, &bad);
    c->backoff_ms = read_int("LASTMILE_WEBHOOK_BACKOFF_MS", 1000, 1, 86400000,
                             err, errsz, &bad);
    c->backoff_max_ms = read_int("LASTMILE_WEBHOOK_BACKOFF_MAX_MS", 300000, 1,
                                 86400000, err, errsz, &bad);
    if (bad) {
        lm_webhook_config_free(c);
        return -1;
    }
    return 0;
}

void lm_webhook_config_free(lm_webhook_config *c) {
    if (!c)
        return;
    free(c->url);
    for (int i = 0; i < LM_WH_CHANNELS; i++)
        free(c->url_channel[i]);
    for (int i = 0; i < LM_WH_KINDS; i++)
        free(c->url_kind[i]);
    if (c->secret)
        memset(c->secret, 0, c->secret_len);
    free(c->secret);
    memset(c, 0, sizeof(*c));
}

const char *lm_webhook_route(const lm_webhook_config *c,
                             const Lastmile__V1__FollowUpAction *a,
                             const char **route) {
    int k = a->kind == LASTMILE__V1__ACTION_KIND__HANDOFF    ? LM_WH_HANDOFF
            : a->kind == LASTMILE__V1__ACTION_KIND__REMINDER ? LM_WH_REMINDER
            : a->kind == LASTMILE__V1__ACTION_KIND__ESCALATION
                ? LM_WH_ESCALATION
                : -1;
    if (k >= 0 && c->url_kind[k]) {
        *route = kind_vars[k];
        return c->url_kind[k];
    }
    for (int i = 0; a->channel && i < LM_WH_CHANNELS; i++)
        if (strcmp(a->channel, channel_names[i]) == 0 && c->url_channel[i]) {
            *route = channel_vars[i];
            return c->url_channel[i];
        }
    *route = "LASTMILE_WEBHOOK_URL";
    return c->url;
}
