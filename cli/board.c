/* board.c — `lastmile board`: the live flow board (see board.h), its
 * start and stop, and the command. The collector is board_collect.c, the
 * page and the HTTP side board_http.c; what they share is
 * board_internal.h.
 *
 * Start order: the page and the HTTP server first (a port in use fails
 * before any Kafka handle is made), then the Kafka handles and the Redis
 * connection, then the collector thread. Stop: wake everything waiting on
 * `cv`, stop the server (joining its threads), join the collector, then
 * free what they used. */
#include "board_internal.h"
#include "cli.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_fmt.h"
#include "lm_kafka.h"
#include "lm_log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BOARD_CMD_TICK_MS 200 /* `lastmile board` checks for a signal */

/* ============================================================ lifecycle */

static rd_kafka_t *board_kafka(const lm_settings *s, lm_kafka_role role,
                               const char *group, char *err, size_t errsz) {
    char why[512];
    rd_kafka_conf_t *conf = lm_kafka_conf(s, role, group, err, errsz);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new keeps it only on success */
        lm_errf(err, errsz, "kafka: %s", why);
        return NULL;
    }
    return rk;
}

static void board_reader_destroy(rd_kafka_t *rk) {
    if (!rk)
        return;
    rd_kafka_assign(rk, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

void lm_board_stop(lm_board *b) {
    if (!b)
        return;
    /* wake the collector and any request waiting for a first snapshot */
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    lm_http_stop(b->http); /* joins its threads: no request runs after */
    if (b->thread_started)
        pthread_join(b->thread, NULL);
    for (int i = 0; i < BOARD_STAGES; i++)
        if (b->stages[i].rk) /* never joined: nothing to leave */
            rd_kafka_destroy_flags(b->stages[i].rk,
                                   RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    board_reader_destroy(b->dlq_rk);
    board_reader_destroy(b->peek_rk);
    lm_strmap_free(b->pending);
    lm_redis_destroy(b->redis);
    lm_metrics_destroy(b->metrics); /* no request, no collector any more */
    json_decref(b->last_report);
    free(b->dlq_next);
    free(b->snapshot);
    free(b->page);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

lm_board *lm_board_start(const lm_settings *s, const char *addr, char *err,
                         size_t errsz) {
    if (!addr || !*addr)
        addr = LM_BOARD_ADDR_DEFAULT;
    if (!s || !s->brokers || !*s->brokers) {
        lm_errf(err, errsz,
                "LASTMILE_BROKERS is not set (example: "
                "LASTMILE_BROKERS=localhost:9092)");
        return NULL;
    }
    if (!s->redis_url || !*s->redis_url) {
        lm_errf(err, errsz,
                "LASTMILE_REDIS_URL is not set (example: "
                "LASTMILE_REDIS_URL=redis://localhost:6379/0)");
        return NULL;
    }
    lm_board *b = calloc(1, sizeof(*b));
    if (!b) {
        lm_errf(err, errsz, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);

    if (!(b->metrics = lm_metrics_new())) {
        lm_errf(err, errsz, "out of memory");
        goto fail;
    }
    /* the page and the address first: a port in use fails before any Kafka
     * handle */
    if (board_http_start(b, addr, err, errsz) != 0)
        goto fail;
    for (int i = 0; i < BOARD_STAGES; i++) {
        board_stage *st = &b->stages[i];
        lm_topic_name(s, board_stage_names[i], st->topic, sizeof(st->topic));
        /* the worker's group: <prefix><worker>, as the runtime names it */
        lm_topic_name(s, board_stage_names[i], st->group, sizeof(st->group));
        st->prev_committed = -1;
        st->rk = board_kafka(s, LM_KAFKA_CONSUMER, st->group, err, errsz);
        if (!st->rk)
            goto fail;
    }
    lm_topic_name(s, LM_TOPIC_DLQ, b->dlq_topic, sizeof(b->dlq_topic));
    b->dlq_rk = board_kafka(s, LM_KAFKA_READER, NULL, err, errsz);
    if (!b->dlq_rk)
        goto fail;
    b->peek_rk = board_kafka(s, LM_KAFKA_READER, NULL, err, errsz);
    if (!b->peek_rk)
        goto fail;
    if (!(b->pending = lm_strmap_new(0))) {
        lm_errf(err, errsz, "out of memory");
        goto fail;
    }
    b->redis =
        lm_redis_new(s->redis_url, LM_BOARD_REDIS_TIMEOUT_MS, err, errsz);
    if (!b->redis)
        goto fail;
    if (pthread_create(&b->thread, NULL, board_collector, b) != 0) {
        lm_errf(err, errsz, "cannot start the collector thread");
        goto fail;
    }
    b->thread_started = 1;
    return b;
fail:
    lm_board_stop(b);
    return NULL;
}

int lm_board_port(const lm_board *b) {
    return b ? lm_http_port(b->http) : 0;
}

/* ============================================================ the command */

static volatile sig_atomic_t board_cmd_stop = 0;
static void board_on_signal(int sig) {
    (void)sig;
    board_cmd_stop = 1;
}

static void board_usage(FILE *f) {
    fprintf(f,
            "usage: lastmile board [--addr HOST:PORT]\n\n"
            "Serves the live flow board: one web page (nothing fetched from "
            "elsewhere) with\nthe funnel, the four stages (throughput, lag, "
            "oldest waiting lead), the leads\nwaiting longest with owner and "
            "next step, speed-to-lead, cycle time, cost and\nrevenue, and the "
            "timing lift; it refreshes every %d s. GET /api/board gives\nthe "
            "same figures as JSON, GET /metrics the timing lift's gauges\n"
            "(docs/OBSERVABILITY.md).\n\n"
            "  --addr HOST:PORT  where to listen (default %s; port 0 picks "
            "a free one)\n\n"
            "Reads LASTMILE_BROKERS (committed offsets of the workers' "
            "groups, without\njoining them), LASTMILE_REDIS_URL (lead "
            "state), LASTMILE_TOPIC_PREFIX and the\nclock "
            "(LASTMILE_TIME_SCALE, LASTMILE_TIME_ORIGIN_MS). Read-only. "
            "Prints its URL\non stdout and serves until Ctrl-C.\n",
            LM_BOARD_REFRESH_MS / 1000, LM_BOARD_ADDR_DEFAULT);
}

int lm_cmd_board(int argc, char **argv) {
    static const struct option longopts[] = {
        {"addr", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {
        .name = "board", .usage = board_usage, .longopts = longopts};
    const char *addr = LM_BOARD_ADDR_DEFAULT;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o != 'a')
            return lm_cli_exit(o);
        addr = optarg;
    }
    if (lm_cli_no_operands(&cli, argc, argv) != 0)
        return LM_EXIT_USAGE;
    char host[BOARD_HOST_MAX], err[BOARD_ERR_MAX];
    int port = 0;
    if (lm_http_parse_addr(addr, host, sizeof(host), &port, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "lastmile board: --addr %s: %s\n", addr, err);
        return LM_EXIT_USAGE;
    }
    lm_settings s;
    if (lm_settings_load(&s, "cli", err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile board: bad configuration:\n%s\n", err);
        return LM_EXIT_USAGE;
    }
    if (!s.brokers || !*s.brokers || !s.redis_url || !*s.redis_url) {
        fprintf(stderr,
                "lastmile board: LASTMILE_BROKERS and LASTMILE_REDIS_URL "
                "must be set (for the embedded stack: eval \"$(lastmile dev "
                "up)\")\n");
        lm_settings_free(&s);
        return LM_EXIT_USAGE;
    }
    lm_log_init("board", LM_LOG_WARN);
    lm_clock_init(s.time_scale, s.time_origin_ms, s.time_start_ms);
    signal(SIGINT, board_on_signal);
    signal(SIGTERM, board_on_signal);
    lm_board *b = lm_board_start(&s, addr, err, sizeof(err));
    lm_settings_free(&s);
    if (!b) {
        fprintf(stderr, "lastmile board: %s\n", err);
        return LM_EXIT_FAILED;
    }
    char hostpart[BOARD_HOST_MAX + 2];
    if (strchr(host, ':'))
        snprintf(hostpart, sizeof(hostpart), "[%s]", host);
    else
        snprintf(hostpart, sizeof(hostpart), "%s", host);
    printf("http://%s:%d/\n", hostpart, lm_board_port(b));
    fflush(stdout);
    fprintf(stderr,
            "lastmile board: serving http://%s:%d/ (JSON at /api/board); "
            "Ctrl-C stops\n",
            hostpart, lm_board_port(b));
    while (!board_cmd_stop) {
        struct timespec ts = {0, BOARD_CMD_TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    lm_board_stop(b);
    return LM_EXIT_OK;
}
