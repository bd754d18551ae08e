/* main.c — lastmile-gateway: settings, keys, producer, the API server and
 * the metrics server; runs until SIGTERM or SIGINT (see gw.h).
 *
 * Settings: lm_settings_load as the CLI does (the gateway needs no Redis,
 * which the table requires of every worker), then LASTMILE_BROKERS and
 * LASTMILE_GATEWAY_KEYS(_FILE) are required here, and the
 * LASTMILE_GATEWAY_* values are read and bounded. Exit 2 on bad settings
 * (each problem on stderr, one a line), 1 on a failure to start. */
#include "gw.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_fmt.h"
#include "lm_log.h"
#include "lm_metrics.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GW_ERR_MAX  8192
#define GW_BODY_MIN 1024
#define GW_BODY_TOP (64LL * 1024 * 1024)

static volatile sig_atomic_t gw_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    gw_stop = 1;
}

typedef struct gw_conf {
    char *addr;
    char *keys;
    const char *keys_where;
    int64_t max_body, batch_max, ack_timeout_ms;
    double rate, burst;
} gw_conf;

/* A whole number or a default, bounded; adds a problem to err. */
static void conf_int(const char *name, const char *def, int64_t min,
                     int64_t max, int64_t *out, char *err, size_t errsz,
                     int *bad) {
    char *v = NULL;
    int r = lm_env_get(name, &v, err, errsz);
    if (r < 0 || lm_parse_int64(r ? v : def, min, max, out) != 0) {
        if (r >= 0)
            lm_errf_add(err, errsz,
                        "%s: \"%s\" is not a whole number from %lld to %lld",
                        name, v, (long long)min, (long long)max);
        *bad = 1;
    }
    free(v);
}

static void conf_double(const char *name, const char *def, double min,
                        double max, double *out, char *err, size_t errsz,
                        int *bad) {
    char *v = NULL;
    int r = lm_env_get(name, &v, err, errsz);
    if (r < 0 || lm_parse_double(r ? v : def, min, max, out) != 0) {
        if (r >= 0)
            lm_errf_add(err, errsz, "%s: \"%s\" is not a number from %g to %g",
                        name, v, min, max);
        *bad = 1;
    }
    free(v);
}

static int conf_load(gw_conf *c, const lm_settings *s, char *err,
                     size_t errsz) {
    int bad = 0, r;
    if (!s->brokers || !*s->brokers) {
        lm_errf_add(err, errsz,
                    "LASTMILE_BROKERS is not set: Kafka bootstrap servers "
                    "(example: LASTMILE_BROKERS=kafka-0:9092)");
        bad = 1;
    }
    r = lm_env_get("LASTMILE_GATEWAY_ADDR", &c->addr, err, errsz);
    if (r == 0)
        c->addr = strdup("0.0.0.0:8080");
    bad |= r < 0 || !c->addr;
    r = lm_env_get("LASTMILE_GATEWAY_KEYS", &c->keys, err, errsz);
    if (r == 0)
        lm_errf_add(err, errsz,
                    "LASTMILE_GATEWAY_KEYS_FILE is not set: the file of API "
                    "keys, one per line NAME SHA256_HEX SCOPES [ORIGINS] "
                    "(example: LASTMILE_GATEWAY_KEYS_FILE=/etc/lastmile/"
                    "gateway-keys; `lastmile gateway-key` prints a line)");
    bad |= r <= 0;
    c->keys_where = getenv("LASTMILE_GATEWAY_KEYS_FILE");
    if (!c->keys_where || !*c->keys_where)
        c->keys_where = "LASTMILE_GATEWAY_KEYS";
    conf_int("LASTMILE_GATEWAY_MAX_BODY", "1048576", GW_BODY_MIN, GW_BODY_TOP,
             &c->max_body, err, errsz, &bad);
    conf_int("LASTMILE_GATEWAY_BATCH_MAX", "100", 1, 100000, &c->batch_max, err,
             errsz, &bad);
    conf_int("LASTMILE_GATEWAY_ACK_TIMEOUT_MS", "10000", 100, 600000,
             &c->ack_timeout_ms, err, errsz, &bad);
    conf_double("LASTMILE_GATEWAY_RATE", "50", 0.001, 1e6, &c->rate, err, errsz,
                &bad);
    conf_double("LASTMILE_GATEWAY_BURST", "100", 1, 1e6, &c->burst, err, errsz,
                &bad);
    return bad ? -1 : 0;
}

static int ready(void *opaque, char *why, size_t whysz) {
    return gw_kafka_ready(opaque, why, whysz);
}

/* Serves until a signal. 0 / 1. */
static int serve(gw *g, const gw_conf *c, const lm_settings *s) {
    char err[GW_ERR_MAX];
    lm_metrics_server *ms = NULL;
    lm_http_server *api = NULL;
    size_t n_routes = 0;
    lm_http_config cfg = {
        .routes = gw_http_routes(&n_routes),
        .opaque = g,
        .thread_per_connection = 1, /* a handler waits for the broker */
        .body_max = (size_t)c->max_body,
    };
    cfg.n_routes = n_routes;
    if (s->metrics_addr && *s->metrics_addr) {
        ms = lm_metrics_server_start(g->metrics, s->metrics_addr, ready,
                                     g->kafka, err, sizeof(err));
        if (!ms) {
            lm_log(LM_LOG_ERROR, "metrics_failed", "%s", err);
            return 1;
        }
    }
    api = lm_http_start(c->addr, &cfg, err, sizeof(err));
    if (!api) {
        lm_log(LM_LOG_ERROR, "listen_failed", "LASTMILE_GATEWAY_ADDR=%s: %s",
               c->addr, err);
        lm_metrics_server_stop(ms);
        return 1;
    }
    lm_log(LM_LOG_INFO, "started",
           "listening on %s (port %d) with %zu keys, producing to %s", c->addr,
           lm_http_port(api), gw_keys_count(g->keys), s->brokers);
    while (!gw_stop) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    lm_log(LM_LOG_INFO, "stopping", "signal received: finishing requests");
    lm_http_stop(api); /* waits for running handlers */
    lm_metrics_server_stop(ms);
    return 0;
}

int main(void) {
    static char err[GW_ERR_MAX];
    lm_settings s;
    gw_conf c = {0};
    gw g = {0};
    int code = 2;

    lm_log_init("gateway", LM_LOG_INFO);
    if (lm_settings_load(&s, "cli", err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile-gateway: bad settings:\n%s\n", err);
        return 2;
    }
    lm_log_init("gateway", (lm_log_level)s.log_level);
    lm_clock_init(s.time_scale, s.time_origin_ms, s.time_start_ms);
    err[0] = '\0';
    if (conf_load(&c, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile-gateway: bad settings:\n%s\n", err);
        goto out;
    }
    g.keys =
        gw_keys_parse(c.keys, c.keys_where, c.rate, c.burst, err, sizeof(err));
    if (!g.keys) {
        fprintf(stderr, "lastmile-gateway: %s\n", err);
        goto out;
    }
    g.batch_max = (size_t)c.batch_max;
    code = 1;
    g.metrics = lm_metrics_new();
    g.kafka = g.metrics
                  ? gw_kafka_new(&s, (int)c.ack_timeout_ms, err, sizeof(err))
                  : NULL;
    if (!g.kafka) {
        fprintf(stderr, "lastmile-gateway: %s\n", err);
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    code = serve(&g, &c, &s);
out:
    gw_kafka_free(g.kafka);
    lm_metrics_destroy(g.metrics);
    gw_keys_free(g.keys);
    free(c.addr);
    free(c.keys);
    lm_settings_free(&s);
    return code;
}
