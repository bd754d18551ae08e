/* lm_metrics_http.c — a worker's /metrics, /healthz and /readyz: three
 * routes on the one HTTP server (lm_http), with one internal thread.
 *
 * The handlers run on that thread: /metrics renders the registry (taking
 * its mutex, running the scrape hook), /readyz calls the readiness
 * callback, /healthz answers at once. None blocks on Kafka or Redis, so
 * one thread serves every connection, and an idle connection holds only a
 * slot (lm_http.h: the limit is high and the idle timeout short). */
#include "lm_metrics.h"

#include "lm_fmt.h"
#include "lm_http.h"

#include <stdlib.h>
#include <string.h>

#define LM_METRICS_CT_PROM "text/plain; version=0.0.4; charset=utf-8"
#define LM_METRICS_ERR_MAX 256

struct lm_metrics_server {
    lm_http_server *http;
    lm_metrics *m;      /* borrowed */
    lm_ready_fn ready;  /* may be NULL */
    void *ready_opaque; /* borrowed */
};

static void lm_metrics_get_metrics(void *opaque, const lm_http_request *req,
                                   lm_http_response *resp) {
    lm_metrics_server *s = opaque;
    char *text = NULL;
    size_t len = 0;
    (void)req;
    if (lm_metrics_render(s->m, &text, &len) != 0) {
        lm_http_text(resp, 500, "render failed");
        return;
    }
    lm_http_respond(resp, 200, LM_METRICS_CT_PROM, text, len,
                    LM_HTTP_BODY_TAKE);
}

static void lm_metrics_get_healthz(void *opaque, const lm_http_request *req,
                                   lm_http_response *resp) {
    (void)opaque;
    (void)req;
    lm_http_text(resp, 200, "ok");
}

static void lm_metrics_get_readyz(void *opaque, const lm_http_request *req,
                                  lm_http_response *resp) {
    lm_metrics_server *s = opaque;
    char why[LM_METRICS_WHY_MAX] = "";
    (void)req;
    if (s->ready == NULL || s->ready(s->ready_opaque, why, sizeof why)) {
        lm_http_text(resp, 200, "ready");
        return;
    }
    why[sizeof why - 1] = '\0';
    if (why[0] == '\0')
        lm_errf(why, sizeof why, "not ready");
    lm_http_respond(resp, 503, NULL, why, strlen(why), LM_HTTP_BODY_COPY);
}

static const lm_http_route lm_metrics_routes[] = {
    {"GET", "/metrics", lm_metrics_get_metrics},
    {"GET", "/healthz", lm_metrics_get_healthz},
    {"GET", "/readyz", lm_metrics_get_readyz},
};

lm_metrics_server *lm_metrics_server_start(lm_metrics *m, const char *addr,
                                           lm_ready_fn ready, void *opaque,
                                           char *err, size_t errsz) {
    char why[LM_METRICS_ERR_MAX];
    const char *shown = addr != NULL ? addr : "";
    lm_metrics_server *s;

    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (m == NULL) {
        lm_errf(err, errsz, "%s=%s: no metrics registry", LM_METRICS_ADDR_ENV,
                shown);
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        lm_errf(err, errsz, "%s=%s: out of memory", LM_METRICS_ADDR_ENV, shown);
        return NULL;
    }
    s->m = m;
    s->ready = ready;
    s->ready_opaque = opaque;
    lm_http_config cfg = {
        .routes = lm_metrics_routes,
        .n_routes = sizeof lm_metrics_routes / sizeof lm_metrics_routes[0],
        .opaque = s,
        .thread_per_connection = 0, /* no handler blocks */
    };
    s->http = lm_http_start(addr, &cfg, why, sizeof why);
    if (s->http == NULL) {
        lm_errf(err, errsz, "%s=%s: %s", LM_METRICS_ADDR_ENV, shown, why);
        free(s);
        return NULL;
    }
    return s;
}

int lm_metrics_server_port(const lm_metrics_server *s) {
    return s != NULL ? lm_http_port(s->http) : 0;
}

void lm_metrics_server_stop(lm_metrics_server *s) {
    if (s == NULL)
        return;
    lm_http_stop(s->http); /* joins the thread: no handler runs after */
    free(s);
}
