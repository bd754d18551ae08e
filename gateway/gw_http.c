/* gw_http.c — the gateway's handlers: CORS, auth, scope, rate, size,
 * body, produce, answer (see gw.h). Every /v1 answer but the 202 is a
 * problem (gw_problem.h). Runs on the HTTP server's connection threads. */
#include "gw.h"

#include "gw_body.h"
#include "gw_problem.h"
#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GW_ERR_MAX      1024
#define GW_DETAIL_MAX   1024
#define GW_RETRY_503_S  "1"
#define GW_CORS_METHODS "POST, OPTIONS"
#define GW_CORS_HEADERS "Authorization, Content-Type, Idempotency-Key"
#define GW_CORS_MAX_AGE "600"

typedef struct gw_route_info {
    const char *path;
    gw_kind kind;
    unsigned scope;
    const char *scope_name;
} gw_route_info;

static const gw_route_info gw_route_infos[] = {
    {"/v1/leads", GW_KIND_LEADS, GW_SCOPE_LEADS, "leads"},
    {"/v1/responses", GW_KIND_RESPONSES, GW_SCOPE_RESPONSES, "responses"},
    {"/v1/activities", GW_KIND_ACTIVITIES, GW_SCOPE_ACTIVITIES, "activities"},
    {"/v1/owner-status", GW_KIND_OWNER_STATUS, GW_SCOPE_ACTIVITIES,
     "activities"},
};

static const gw_route_info *route_info(const char *path) {
    for (size_t i = 0; i < sizeof(gw_route_infos) / sizeof(gw_route_infos[0]);
         i++)
        if (strcmp(gw_route_infos[i].path, path) == 0)
            return &gw_route_infos[i];
    return NULL;
}

static void count(gw *g, const char *path, unsigned status, int64_t t0) {
    char labels[160];
    snprintf(labels, sizeof(labels), "path=\"%s\",status=\"%u\"", path, status);
    lm_counter_add(
        lm_metrics_counter(g->metrics, "lastmile_gateway_requests_total",
                           "Requests answered, by path and status", labels),
        1);
    snprintf(labels, sizeof(labels), "path=\"%s\"", path);
    lm_histogram_observe(
        lm_metrics_histogram(g->metrics, "lastmile_gateway_request_seconds",
                             "Time to answer a request (202: until the "
                             "broker acknowledged)",
                             labels, lm_metrics_latency_buckets,
                             lm_metrics_latency_buckets_n),
        (double)(lm_clock_mono_ms() - t0) / 1000.0);
}

/* CORS: a listed origin may read every answer. */
static const char *cors(gw *g, const lm_http_request *req,
                        lm_http_response *resp) {
    const char *origin = lm_http_header_get(req, "Origin");
    if (origin && gw_keys_origin_known(g->keys, origin)) {
        lm_http_header_add(resp, "Access-Control-Allow-Origin", origin);
        lm_http_header_add(resp, "Vary", "Origin");
    }
    return origin;
}

/* The bearer token of the request, or NULL. */
static const char *bearer(const lm_http_request *req) {
    const char *a = lm_http_header_get(req, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return *a ? a : NULL;
}

/* Who may do this: 0, or the problem is in resp. */
static int authorize(gw *g, const gw_route_info *ri, const char *origin,
                     const lm_http_request *req, lm_http_response *resp,
                     const gw_key **out) {
    const char *token = bearer(req);
    gw_key *k = token ? gw_keys_find(g->keys, token) : NULL;
    int retry = 0;
    char detail[GW_DETAIL_MAX], num[16];
    if (!k) {
        lm_http_header_add(resp, "WWW-Authenticate",
                           token ? "Bearer realm=\"lastmile\", "
                                   "error=\"invalid_token\""
                                 : "Bearer realm=\"lastmile\"");
        gw_problem_respond(resp, 401, "unauthorized",
                           token ? "Unknown key" : "No key",
                           token ? "the bearer key is not one of the "
                                   "gateway's keys; ask for a key "
                                   "(`lastmile gateway-key`)"
                                 : "send the header Authorization: Bearer "
                                   "<key>",
                           NULL);
        return -1;
    }
    if (origin && !gw_key_allows_origin(k, origin)) {
        snprintf(detail, sizeof(detail),
                 "key \"%s\" may not be used from origin %.200s; add the "
                 "origin to the key's line in the keys file",
                 gw_key_name(k), origin);
        gw_problem_respond(resp, 403, "origin-not-allowed",
                           "Origin not allowed", detail, NULL);
        return -1;
    }
    if (!gw_key_has_scope(k, ri->scope)) {
        snprintf(detail, sizeof(detail),
                 "key \"%s\" has no scope \"%s\", which %s needs; use a key "
                 "with that scope",
                 gw_key_name(k), ri->scope_name, ri->path);
        gw_problem_respond(resp, 403, "scope", "Key lacks the scope", detail,
                           NULL);
        return -1;
    }
    if (!gw_key_take(k, lm_clock_mono_ms(), &retry)) {
        snprintf(num, sizeof(num), "%d", retry);
        lm_http_header_add(resp, "Retry-After", num);
        snprintf(detail, sizeof(detail),
                 "key \"%s\" is over its rate (LASTMILE_GATEWAY_RATE); retry "
                 "after %d s",
                 gw_key_name(k), retry);
        gw_problem_respond(resp, 429, "rate-limited", "Too many requests",
                           detail, NULL);
        return -1;
    }
    *out = k;
    return 0;
}

/* The 202 body: the event id(s). */
static void accepted(const gw_items *items, lm_http_response *resp) {
    json_t *j = json_object(), *ids = json_array();
    for (size_t i = 0; ids && i < items->n; i++)
        json_array_append_new(ids, json_string(items->v[i].id));
    if (items->array)
        json_object_set_new(j, "event_ids", ids);
    else {
        json_object_set(j, "event_id", json_array_get(ids, 0));
        json_decref(ids);
    }
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text) {
        lm_http_text(resp, 500, "out of memory\n");
        return;
    }
    lm_http_respond(resp, 202, GW_CT_JSON, text, strlen(text),
                    LM_HTTP_BODY_TAKE);
}

/* The body, produced and acknowledged. */
static void take_body(gw *g, const gw_route_info *ri, const gw_key *k,
                      const lm_http_request *req, lm_http_response *resp) {
    gw_parse_in in = {ri->kind,
                      lm_http_header_get(req, "Content-Type"),
                      req->body,
                      req->body_len,
                      lm_http_header_get(req, "Idempotency-Key"),
                      lm_clock_now_ms(),
                      g->batch_max};
    gw_items items;
    gw_problems pr = {0};
    char detail[GW_DETAIL_MAX], err[GW_ERR_MAX];
    unsigned st = gw_body_parse(&in, &items, &pr, detail, sizeof(detail));
    if (st != 0) {
        gw_problem_respond(resp, st,
                           st == 415   ? "unsupported-media-type"
                           : st == 413 ? "too-large"
                                       : "invalid",
                           st == 415   ? "Unsupported content type"
                           : st == 413 ? "Too many items"
                                       : "Invalid request",
                           detail, &pr);
        gw_problems_free(&pr);
        return;
    }
    if (gw_kafka_send(g->kafka, gw_kind_topic(ri->kind), &items, err,
                      sizeof(err)) != 0) {
        lm_log(LM_LOG_WARN, "not_acknowledged", "%s from key %s: %s", ri->path,
               gw_key_name(k), err);
        lm_http_header_add(resp, "Retry-After", GW_RETRY_503_S);
        snprintf(detail, sizeof(detail),
                 "the broker did not acknowledge (%.300s); retry with the same "
                 "Idempotency-Key or event_id: it is not taken twice",
                 err);
        gw_problem_respond(resp, 503, "unavailable", "Broker unavailable",
                           detail, NULL);
    } else {
        accepted(&items, resp);
    }
    gw_items_free(&items);
}

static void gw_post(void *opaque, const lm_http_request *req,
                    lm_http_response *resp) {
    gw *g = opaque;
    const gw_route_info *ri = route_info(req->path);
    const gw_key *k = NULL;
    int64_t t0 = lm_clock_mono_ms();
    char detail[GW_DETAIL_MAX];
    const char *origin = cors(g, req, resp);
    if (authorize(g, ri, origin, req, resp, &k) != 0) {
        /* answered */
    } else if (req->body_over) {
        snprintf(detail, sizeof(detail),
                 "the body is larger than LASTMILE_GATEWAY_MAX_BODY; send "
                 "fewer items a request");
        gw_problem_respond(resp, 413, "too-large", "Body too large", detail,
                           NULL);
    } else {
        take_body(g, ri, k, req, resp);
    }
    count(g, ri->path, resp->status, t0);
}

static void gw_options(void *opaque, const lm_http_request *req,
                       lm_http_response *resp) {
    gw *g = opaque;
    const char *origin = lm_http_header_get(req, "Origin");
    int64_t t0 = lm_clock_mono_ms();
    if (!origin || !gw_keys_origin_known(g->keys, origin)) {
        gw_problem_respond(resp, 403, "origin-not-allowed",
                           "Origin not allowed",
                           "no key lists this origin; add it to the line "
                           "of the key the page uses",
                           NULL);
    } else {
        cors(g, req, resp);
        lm_http_header_add(resp, "Access-Control-Allow-Methods",
                           GW_CORS_METHODS);
        lm_http_header_add(resp, "Access-Control-Allow-Headers",
                           GW_CORS_HEADERS);
        lm_http_header_add(resp, "Access-Control-Max-Age", GW_CORS_MAX_AGE);
        lm_http_respond(resp, 204, NULL, NULL, 0, LM_HTTP_BODY_STATIC);
    }
    count(g, req->path, resp->status, t0);
}

static void gw_healthz(void *opaque, const lm_http_request *req,
                       lm_http_response *resp) {
    (void)opaque;
    (void)req;
    lm_http_text(resp, 200, "ok");
}

static void gw_readyz(void *opaque, const lm_http_request *req,
                      lm_http_response *resp) {
    gw *g = opaque;
    char why[LM_METRICS_WHY_MAX] = "";
    (void)req;
    if (gw_kafka_ready(g->kafka, why, sizeof(why)))
        lm_http_text(resp, 200, "ready");
    else
        lm_http_respond(resp, 503, NULL, why, strlen(why), LM_HTTP_BODY_COPY);
}

static const lm_http_route gw_routes[] = {
    {"POST", "/v1/leads", gw_post},
    {"OPTIONS", "/v1/leads", gw_options},
    {"POST", "/v1/responses", gw_post},
    {"OPTIONS", "/v1/responses", gw_options},
    {"POST", "/v1/activities", gw_post},
    {"OPTIONS", "/v1/activities", gw_options},
    {"POST", "/v1/owner-status", gw_post},
    {"OPTIONS", "/v1/owner-status", gw_options},
    {"GET", "/healthz", gw_healthz},
    {"GET", "/readyz", gw_readyz},
};

const lm_http_route *gw_http_routes(size_t *n) {
    *n = sizeof(gw_routes) / sizeof(gw_routes[0]);
    return gw_routes;
}
