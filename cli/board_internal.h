/* board_internal.h — what the files of the board share (not an API:
 * board.h is). The board is four files:
 *   board.c          start and stop, and the `lastmile board` command;
 *   board_collect.c  the collector thread: Kafka, Redis, the JSON snapshot;
 *   board_http.c     the page (cli/board/, embedded), /api/board and
 *                    /metrics on the one HTTP server (lm_http);
 *   board/           index.html, board.css, board.js: the page's files.
 *
 * Invariants: only the collector thread touches Kafka and Redis handles
 * and the fields marked "collector"; the snapshot and `stop` are guarded by
 * `mu`; the HTTP threads never block on Kafka or Redis. A snapshot is
 * replaced whole, never edited, so a reader sees one refresh's figures. */
#ifndef BOARD_INTERNAL_H
#define BOARD_INTERNAL_H

#include "board.h"

#include "lm_http.h"
#include "lm_kafka.h"
#include "lm_metrics.h"
#include "lm_redis.h"
#include "lm_report.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define BOARD_STAGES   LM_REPORT_STAGES
#define BOARD_ERR_MAX  1024
#define BOARD_HOST_MAX 64

/* The stages in flow order; each is a worker, a consumer group
 * (<prefix><name>) and its input topic (<prefix><name>). */
extern const char *const board_stage_names[BOARD_STAGES];
enum { /* lm_report's stage indexes */
       ST_INTAKE = LM_REPORT_STAGE_INTAKE,
       ST_QUALIFICATION = LM_REPORT_STAGE_QUALIFICATION,
       ST_FOLLOWUP = LM_REPORT_STAGE_FOLLOWUP,
       ST_TIMING = LM_REPORT_STAGE_TIMING
};

typedef struct board_stage {
    char topic[LM_TOPIC_MAX];
    char group[LM_TOPIC_MAX];
    rd_kafka_t *rk;         /* consumer handle of the group, never subscribed */
    int64_t prev_committed; /* collector: sum at the last refresh, -1 none */
    int64_t prev_mono_ms;
} board_stage;

struct lm_board {
    lm_http_server *http;
    char *page; /* the page, joined once at start */
    size_t page_len;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a new snapshot, or stop */
    int stop;          /* under mu */
    char *snapshot;    /* under mu: the latest JSON, NUL-terminated */
    size_t snapshot_len;

    /* collector */
    board_stage stages[BOARD_STAGES];
    rd_kafka_t *dlq_rk; /* group-less reader of the dead-letter topic */
    char dlq_topic[LM_TOPIC_MAX];
    int dlq_parts;       /* partitions assigned; 0 = not yet */
    int64_t *dlq_next;   /* per partition: next offset to read */
    int64_t invalid;     /* intake dead letters read so far */
    rd_kafka_t *peek_rk; /* group-less reader: oldest intake messages, and
                            the leads qualification has not taken */
    /* those leads (lm_report_add_pending), read each refresh for the
       report's undecided leads and the stage's oldest */
    lm_strmap *pending;
    lm_redis *redis;
    json_t *last_report; /* the last report read from Redis */
    /* /metrics: the timing lift's gauges (lm_report_lift_metrics), set by
     * the collector after each report, rendered by the HTTP threads (the
     * registry locks itself) */
    lm_metrics *metrics;
};

/* board_collect.c: the collector thread's body (arg: the board). */
void *board_collector(void *arg);
/* *ts = CLOCK_MONOTONIC now + ms (the clock of the board's `cv`). */
void board_deadline(struct timespec *ts, int64_t ms);

/* board_http.c: joins the page and serves it and /api/board on addr. 0;
 * -1 with err ("--addr ADDR: what failed"). */
int board_http_start(lm_board *b, const char *addr, char *err, size_t errsz);

#endif
