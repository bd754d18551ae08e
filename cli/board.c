/* board.c — `lastmile board`: the live flow board (see board.h).
 *
 * In this order:
 *   1. the collector: a thread that, every LM_BOARD_REFRESH_MS, asks Kafka
 *      for each stage's committed offsets and watermarks, follows the
 *      dead-letter topic, peeks at the oldest uncommitted intake messages,
 *      walks the lead rows in Redis (lm_report_scan into an lm_report
 *      accumulator, plus the stage ages and the leads waiting longest),
 *      and publishes one JSON snapshot string;
 *   2. the page (HTML, CSS and JS as string constants, joined at start);
 *   3. the HTTP server (libmicrohttpd): the page, and the snapshot;
 *   4. start and stop, and the `lastmile board` command.
 *
 * Invariants: only the collector thread touches Kafka and Redis handles
 * and the fields marked "collector"; the snapshot and `stop` are guarded by
 * `mu`; the HTTP threads never block on Kafka or Redis. A snapshot is
 * replaced whole, never edited, so a reader sees one refresh's figures. */
#include "board.h"
#include "cli.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_log.h"
#include "lm_http.h"
#include "lm_metrics.h"
#include "lm_redis.h"
#include "lm_report.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BOARD_STAGES      LM_REPORT_STAGES
#define BOARD_ERR_MAX     1024
#define BOARD_HOST_MAX    64
#define BOARD_TEXT_MAX    160 /* owner, cadence, next step texts */
#define BOARD_POLL_MS     100 /* one consumer poll while reading */
#define BOARD_CMD_TICK_MS 200 /* `lastmile board` checks for a signal */

/* The stages in flow order; each is a worker, a consumer group
 * (<prefix><name>) and its input topic (<prefix><name>). */
static const char *const board_stage_names[BOARD_STAGES] = {
    "intake", "qualification", "followup", "timing"};
enum { /* lm_report's stage indexes */
       ST_INTAKE = LM_REPORT_STAGE_INTAKE,
       ST_QUALIFICATION = LM_REPORT_STAGE_QUALIFICATION,
       ST_FOLLOWUP = LM_REPORT_STAGE_FOLLOWUP,
       ST_TIMING = LM_REPORT_STAGE_TIMING
};

/* ============================================================ state */

typedef struct board_stage {
    char topic[LM_TOPIC_MAX];
    char group[LM_TOPIC_MAX];
    rd_kafka_t *rk;         /* consumer handle of the group, never subscribed */
    int64_t prev_committed; /* collector: sum at the last refresh, -1 none */
    int64_t prev_mono_ms;
} board_stage;

/* One lead in "waiting longest"; strings copied out of the row. */
typedef struct board_waiter {
    char lead_id[BOARD_TEXT_MAX];
    char owner[BOARD_TEXT_MAX];
    char next_step[BOARD_TEXT_MAX];
    int stage; /* ST_* */
    int64_t since_ms;
} board_waiter;

struct lm_board {
    struct MHD_Daemon *daemon;
    int port;
    char mhd_err[BOARD_ERR_MAX]; /* libmicrohttpd's last message */
    char *page;                  /* the page, joined once at start */
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
    rd_kafka_t *peek_rk; /* group-less reader: oldest intake messages */
    lm_redis *redis;
    json_t *last_report; /* the last report read from Redis */
};

/* Adds one line to the snapshot's "errors" array. */
static void board_err(json_t *errors, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void board_err(json_t *errors, const char *fmt, ...) {
    char buf[BOARD_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_array_append_new(errors, json_string(buf));
}

static int board_stopping(lm_board *b) {
    pthread_mutex_lock(&b->mu);
    int s = b->stop;
    pthread_mutex_unlock(&b->mu);
    return s;
}

static json_t *jnum_or_null(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

/* ============================================================ Kafka */

/* Partition counts of the stage topics and the dead-letter topic from one
 * metadata request. parts[i] = -1 when a topic is missing. 0 / -1. */
static int board_metadata(lm_board *b, int parts[BOARD_STAGES + 1],
                          json_t *errors) {
    const struct rd_kafka_metadata *md = NULL;
    for (int i = 0; i <= BOARD_STAGES; i++)
        parts[i] = -1;
    rd_kafka_resp_err_t e = rd_kafka_metadata(b->stages[0].rk, 1, NULL, &md,
                                              LM_BOARD_KAFKA_TIMEOUT_MS);
    if (e) {
        board_err(errors, "kafka: metadata: %s", rd_kafka_err2str(e));
        return -1;
    }
    for (int t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
        if (mt->err || mt->partition_cnt <= 0)
            continue;
        int n = mt->partition_cnt > LM_BOARD_PARTITIONS_MAX
                    ? LM_BOARD_PARTITIONS_MAX
                    : mt->partition_cnt;
        for (int i = 0; i < BOARD_STAGES; i++)
            if (strcmp(mt->topic, b->stages[i].topic) == 0)
                parts[i] = n;
        if (strcmp(mt->topic, b->dlq_topic) == 0)
            parts[BOARD_STAGES] = n;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* Reads the timestamp of the message at offset `committed[p]` of each
 * lagging intake partition and returns the oldest (real epoch ms), or -1
 * when none could be read within LM_BOARD_PEEK_TIMEOUT_MS. */
static int64_t board_peek_oldest(lm_board *b, int nparts,
                                 const int64_t *committed, const int64_t *end) {
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(nparts);
    if (!l)
        return -1;
    for (int p = 0; p < nparts; p++)
        if (committed[p] >= 0 && end[p] > committed[p])
            rd_kafka_topic_partition_list_add(l, b->stages[ST_INTAKE].topic, p)
                ->offset = committed[p];
    int64_t oldest = -1;
    int want = l->cnt, got = 0;
    char *seen = calloc((size_t)nparts, 1);
    if (want == 0 || !seen || rd_kafka_assign(b->peek_rk, l) != 0)
        goto done;
    int64_t deadline = lm_clock_mono_ms() + LM_BOARD_PEEK_TIMEOUT_MS;
    while (got < want && lm_clock_mono_ms() < deadline) {
        rd_kafka_message_t *rkm =
            rd_kafka_consumer_poll(b->peek_rk, BOARD_POLL_MS);
        if (!rkm)
            continue;
        if (!rkm->err && rkm->partition >= 0 && rkm->partition < nparts &&
            !seen[rkm->partition]) {
            seen[rkm->partition] = 1;
            got++;
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(rkm, &tt);
            if (tt != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts > 0 &&
                (oldest < 0 || ts < oldest))
                oldest = ts;
        }
        rd_kafka_message_destroy(rkm);
    }
    rd_kafka_assign(b->peek_rk, NULL);
done:
    free(seen);
    rd_kafka_topic_partition_list_destroy(l);
    return oldest;
}

/* One stage from Kafka into *out (a JSON object being built): committed
 * offsets, watermarks, lag, throughput; for intake also the oldest
 * waiting message. `nparts` from the metadata (-1: topic missing). */
static void board_stage_kafka(lm_board *b, int i, int nparts, json_t *out,
                              json_t *errors) {
    board_stage *st = &b->stages[i];
    json_object_set_new(out, "partitions",
                        json_integer(nparts > 0 ? nparts : 0));
    if (nparts <= 0) {
        board_err(errors, "kafka: topic %s not found", st->topic);
        return;
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(nparts);
    int64_t *committed = calloc((size_t)nparts, sizeof(int64_t));
    int64_t *end = calloc((size_t)nparts, sizeof(int64_t));
    if (!l || !committed || !end) {
        board_err(errors, "out of memory");
        goto done;
    }
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, st->topic, p);
    /* OffsetFetch only: the handle never subscribed, so it never joins */
    rd_kafka_resp_err_t e =
        rd_kafka_committed(st->rk, l, LM_BOARD_KAFKA_TIMEOUT_MS);
    if (e) {
        board_err(errors, "kafka: committed offsets of group %s: %s", st->group,
                  rd_kafka_err2str(e));
        goto done;
    }
    int64_t sum_committed = 0, sum_end = 0, lag = 0;
    for (int p = 0; p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(st->rk, st->topic, p, &lo, &hi,
                                             LM_BOARD_KAFKA_TIMEOUT_MS);
        if (e) {
            board_err(errors, "kafka: watermarks of %s [%d]: %s", st->topic, p,
                      rd_kafka_err2str(e));
            goto done;
        }
        /* nothing committed yet: the group starts at the earliest offset */
        int64_t c =
            l->elems[p].err || l->elems[p].offset < 0 ? lo : l->elems[p].offset;
        committed[p] = c;
        end[p] = hi;
        sum_committed += c;
        sum_end += hi;
        if (hi > c)
            lag += hi - c;
    }
    json_object_set_new(out, "committed", json_integer(sum_committed));
    json_object_set_new(out, "end", json_integer(sum_end));
    json_object_set_new(out, "lag", json_integer(lag));
    int64_t now_mono = lm_clock_mono_ms();
    if (st->prev_committed >= 0 && now_mono > st->prev_mono_ms &&
        sum_committed >= st->prev_committed)
        json_object_set_new(
            out, "throughput_per_s",
            json_real((double)(sum_committed - st->prev_committed) * 1000.0 /
                      (double)(now_mono - st->prev_mono_ms)));
    st->prev_committed = sum_committed;
    st->prev_mono_ms = now_mono;
    if (i == ST_INTAKE) {
        json_object_set_new(out, "waiting", json_integer(lag));
        if (lag > 0) {
            int64_t ts = board_peek_oldest(b, nparts, committed, end);
            if (ts > 0) {
                double age = (double)(lm_clock_real_ms() - ts) / 1000.0 *
                             lm_clock_scale();
                json_object_set_new(out, "oldest_waiting_s",
                                    json_real(age > 0 ? age : 0));
            }
        }
    }
done:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    free(committed);
    free(end);
}

/* Reads the dead-letter topic on from where the last refresh stopped, up
 * to the high watermarks taken now, within LM_BOARD_DLQ_BUDGET_MS. 0 when
 * caught up, -1 (with an error line) when not. */
static int board_dlq(lm_board *b, int nparts, json_t *errors) {
    if (nparts <= 0)
        return 0; /* no dead-letter topic: nothing was invalid */
    if (nparts != b->dlq_parts) {
        /* first time, or the topic grew: read it all again */
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(nparts);
        int64_t *next = calloc((size_t)nparts, sizeof(int64_t));
        if (!l || !next) {
            if (l)
                rd_kafka_topic_partition_list_destroy(l);
            free(next);
            board_err(errors, "out of memory");
            return -1;
        }
        for (int p = 0; p < nparts; p++)
            rd_kafka_topic_partition_list_add(l, b->dlq_topic, p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_resp_err_t e = rd_kafka_assign(b->dlq_rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
            free(next);
            board_err(errors, "kafka: reading %s: %s", b->dlq_topic,
                      rd_kafka_err2str(e));
            return -1;
        }
        free(b->dlq_next);
        b->dlq_next = next;
        b->dlq_parts = nparts;
        b->invalid = 0;
    }
    int64_t *hi = calloc((size_t)nparts, sizeof(int64_t));
    if (!hi) {
        board_err(errors, "out of memory");
        return -1;
    }
    for (int p = 0; p < nparts; p++) {
        int64_t lo = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            b->dlq_rk, b->dlq_topic, p, &lo, &hi[p], LM_BOARD_KAFKA_TIMEOUT_MS);
        if (e) {
            board_err(errors, "kafka: watermarks of %s [%d]: %s", b->dlq_topic,
                      p, rd_kafka_err2str(e));
            free(hi);
            return -1;
        }
        if (b->dlq_next[p] < lo)
            b->dlq_next[p] = lo; /* deleted by retention: never seen */
    }
    int64_t deadline = lm_clock_mono_ms() + LM_BOARD_DLQ_BUDGET_MS;
    for (;;) {
        int behind = 0;
        for (int p = 0; p < nparts; p++)
            if (b->dlq_next[p] < hi[p])
                behind = 1;
        if (!behind)
            break;
        if (lm_clock_mono_ms() > deadline) {
            board_err(errors,
                      "kafka: %s: still reading the dead letters; the "
                      "invalid count is partial",
                      b->dlq_topic);
            free(hi);
            return -1;
        }
        rd_kafka_message_t *rkm =
            rd_kafka_consumer_poll(b->dlq_rk, BOARD_POLL_MS);
        if (!rkm)
            continue;
        int p = rkm->partition;
        if (p >= 0 && p < nparts) {
            if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (rkm->offset > b->dlq_next[p])
                    b->dlq_next[p] = rkm->offset;
            } else if (!rkm->err && rkm->offset >= b->dlq_next[p]) {
                /* the same rule as `lastmile report` */
                lm_report_count_invalid(&b->invalid, rkm);
                b->dlq_next[p] = rkm->offset + 1;
            }
        }
        rd_kafka_message_destroy(rkm);
    }
    free(hi);
    return 0;
}

/* ============================================================ Redis rows */

typedef struct board_scan {
    lm_report_acc *acc;
    int64_t now_ms;
    int64_t waiting[BOARD_STAGES];      /* leads waiting per stage */
    int64_t oldest_since[BOARD_STAGES]; /* 0 = none */
    board_waiter top[LM_BOARD_WAITING_TOP];
    int n_top;
} board_scan;

static void board_copy(char *dst, const char *src) {
    snprintf(dst, BOARD_TEXT_MAX, "%s", src ? src : "");
}

/* The next step of a waiting lead, as a sales team says it. */
static void board_next_step(const lm_lead_row *row, int stage, char *out) {
    const char *cad = row->cadence && *row->cadence ? row->cadence : NULL;
    switch (stage) {
    case ST_QUALIFICATION:
        snprintf(out, BOARD_TEXT_MAX, "score and decide: owner and cadence");
        break;
    case ST_FOLLOWUP:
        if (row->last_action_at > 0 && row->step >= 0)
            snprintf(out, BOARD_TEXT_MAX, "touch %lld of the %s cadence",
                     (long long)row->step + 2, cad ? cad : "lead's");
        else
            snprintf(out, BOARD_TEXT_MAX, "first touch (%s)",
                     row->decision ? row->decision : "decided");
        break;
    default:
        snprintf(out, BOARD_TEXT_MAX,
                 "no answer to touch %lld: next touch or close",
                 (long long)(row->step >= 0 ? row->step + 1 : 1));
        break;
    }
}

/* 1 when waiter a has waited longer than b (ties: by lead id). */
static int board_older(int64_t since_a, const char *id_a, int64_t since_b,
                       const char *id_b) {
    if (since_a != since_b)
        return since_a < since_b;
    return strcmp(id_a, id_b) < 0;
}

static int board_row(void *opaque, const lm_lead_row *row) {
    board_scan *sc = opaque;
    lm_report_add_lead(sc->acc, row);
    int64_t since = 0;
    /* the rule `lastmile waiting` uses; ST_* are its stage indexes */
    int stage = lm_report_waiting_stage(row, sc->now_ms, &since);
    if (stage < 0)
        return 0;
    sc->waiting[stage]++;
    if (!sc->oldest_since[stage] || since < sc->oldest_since[stage])
        sc->oldest_since[stage] = since;
    const char *id = row->lead_id ? row->lead_id : "";
    if (sc->n_top == LM_BOARD_WAITING_TOP &&
        !board_older(since, id, sc->top[sc->n_top - 1].since_ms,
                     sc->top[sc->n_top - 1].lead_id))
        return 0;
    /* insert, keeping top[] from the longest wait down */
    int at = sc->n_top < LM_BOARD_WAITING_TOP ? sc->n_top++ : sc->n_top - 1;
    while (at > 0 && board_older(since, id, sc->top[at - 1].since_ms,
                                 sc->top[at - 1].lead_id)) {
        sc->top[at] = sc->top[at - 1];
        at--;
    }
    board_waiter *w = &sc->top[at];
    board_copy(w->lead_id, id);
    board_copy(w->owner,
               row->owner && *row->owner ? row->owner : "(unassigned)");
    board_next_step(row, stage, w->next_step);
    w->stage = stage;
    w->since_ms = since;
    return 0;
}

/* The report and the Redis side of the stages. Sets *report (new
 * reference) or NULL on failure (an error line says why). */
static void board_redis(lm_board *b, board_scan *sc, json_t **report,
                        json_t *errors) {
    char err[BOARD_ERR_MAX];
    lm_report_opts o = {.invalid = b->invalid, .now_ms = sc->now_ms};
    *report = NULL;
    sc->acc = lm_report_acc_new(&o);
    if (!sc->acc) {
        board_err(errors, "out of memory");
        return;
    }
    if (lm_report_scan(b->redis, board_row, sc, err, sizeof(err)) != 0) {
        board_err(errors, "redis: %s", err);
        goto done;
    }
    lm_report rep;
    if (lm_report_finish(sc->acc, &rep) != 0) {
        board_err(errors, "out of memory");
        goto done;
    }
    if (lm_report_json(&rep, report) != 0) {
        board_err(errors, "out of memory");
        *report = NULL;
    }
    lm_report_free(&rep);
done:
    lm_report_acc_free(sc->acc);
    sc->acc = NULL;
}

/* ============================================================ snapshot */

/* One refresh: everything read now, as a JSON string (malloc'd), or NULL
 * on allocation failure. */
static char *board_collect(lm_board *b) {
    json_t *root = json_object();
    json_t *errors = json_array();
    json_t *stages = json_array();
    json_t *waiting = json_array();
    json_t *st_obj[BOARD_STAGES] = {0};
    char *out = NULL;
    if (!root || !errors || !stages || !waiting)
        goto done;
    board_scan sc;
    memset(&sc, 0, sizeof(sc));
    sc.now_ms = lm_clock_now_ms();
    for (int i = 0; i < BOARD_STAGES; i++) {
        st_obj[i] =
            json_pack("{s:s, s:s, s:s}", "name", board_stage_names[i], "topic",
                      b->stages[i].topic, "group", b->stages[i].group);
        if (!st_obj[i])
            goto done;
        json_object_set_new(st_obj[i], "partitions", json_integer(0));
    }

    int parts[BOARD_STAGES + 1];
    if (board_metadata(b, parts, errors) == 0) {
        for (int i = 0; i < BOARD_STAGES && !board_stopping(b); i++)
            board_stage_kafka(b, i, parts[i], st_obj[i], errors);
        if (!board_stopping(b))
            board_dlq(b, parts[BOARD_STAGES], errors);
    }

    json_t *report = NULL;
    if (!board_stopping(b))
        board_redis(b, &sc, &report, errors);
    int stale = 0;
    if (report) {
        json_decref(b->last_report);
        b->last_report = report;
    } else if (b->last_report) {
        stale = 1;
    }
    for (int i = ST_QUALIFICATION; report && i < BOARD_STAGES; i++) {
        json_object_set_new(st_obj[i], "waiting", json_integer(sc.waiting[i]));
        if (sc.oldest_since[i] > 0) {
            double age = (double)(sc.now_ms - sc.oldest_since[i]) / 1000.0;
            json_object_set_new(st_obj[i], "oldest_waiting_s",
                                json_real(age > 0 ? age : 0));
        }
    }
    for (int i = 0; report && i < sc.n_top; i++) {
        const board_waiter *w = &sc.top[i];
        double age = (double)(sc.now_ms - w->since_ms) / 1000.0;
        json_array_append_new(
            waiting,
            json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "lead_id", w->lead_id,
                      "owner", w->owner, "stage", board_stage_names[w->stage],
                      "age_s", jnum_or_null(age > 0 ? age : 0), "since_ms",
                      (json_int_t)w->since_ms, "next_step", w->next_step));
    }
    /* every stage field present, null when unknown */
    static const char *const fields[] = {
        "committed",        "end", "lag", "throughput_per_s", "waiting",
        "oldest_waiting_s", NULL};
    for (int i = 0; i < BOARD_STAGES; i++) {
        for (int f = 0; fields[f]; f++)
            if (!json_object_get(st_obj[i], fields[f]))
                json_object_set_new(st_obj[i], fields[f], json_null());
        json_array_append(stages, st_obj[i]);
    }

    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "generated_at_ms",
                        json_integer(lm_clock_real_ms()));
    json_object_set_new(root, "now_ms", json_integer(sc.now_ms));
    json_object_set_new(root, "refresh_ms", json_integer(LM_BOARD_REFRESH_MS));
    json_object_set_new(root, "time_scale", json_real(lm_clock_scale()));
    json_object_set(root, "errors", errors);
    json_object_set(root, "report",
                    b->last_report ? b->last_report : json_null());
    json_object_set_new(root, "report_stale", json_boolean(stale));
    json_object_set(root, "stages", stages);
    json_object_set(root, "waiting_longest", waiting);
    out = json_dumps(root, JSON_COMPACT);
done:
    for (int i = 0; i < BOARD_STAGES; i++)
        json_decref(st_obj[i]);
    json_decref(waiting);
    json_decref(stages);
    json_decref(errors);
    json_decref(root);
    return out;
}

static void board_deadline(struct timespec *ts, int64_t ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *board_collector(void *arg) {
    lm_board *b = arg;
    for (;;) {
        char *snap = board_collect(b);
        struct timespec until;
        board_deadline(&until, LM_BOARD_REFRESH_MS);
        pthread_mutex_lock(&b->mu);
        if (snap) {
            free(b->snapshot);
            b->snapshot = snap;
            b->snapshot_len = strlen(snap);
        }
        pthread_cond_broadcast(&b->cv);
        while (!b->stop &&
               pthread_cond_timedwait(&b->cv, &b->mu, &until) != ETIMEDOUT)
            ;
        int stop = b->stop;
        pthread_mutex_unlock(&b->mu);
        if (stop)
            return NULL;
    }
}

/* ============================================================ the page */

/* Every figure sits in an element with data-metric (its path: into the
 * report, or "stages.<name>.<field>") and data-fmt (how to show it); the
 * script fills its text and data-value (the raw number, "" for none).
 * Data goes in with textContent only, never as markup. */

static const char board_html_head[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, "
    "initial-scale=1\">\n"
    "<title>lastmile — flow board</title>\n"
    "<style>\n";

static const char board_css[] =
    ":root{--bg:#0f1419;--panel:#172029;--line:#263340;--text:#e6edf3;"
    "--dim:#8b9bab;--accent:#4cc2ff;--ok:#3fb950;--warn:#d29922;"
    "--bad:#f85149;--bar:#2f81f7}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:var(--bg);color:var(--text);font:14px/1.4 "
    "'DejaVu Sans',system-ui,sans-serif}\n"
    "header{display:flex;align-items:baseline;gap:16px;padding:14px 22px;"
    "border-bottom:1px solid var(--line)}\n"
    "header h1{font-size:20px;margin:0;font-weight:600}\n"
    "header h1 b{color:var(--accent)}\n"
    "header .meta{color:var(--dim);font-size:13px}\n"
    "#board-status{margin-left:auto;font-size:13px;padding:2px 10px;"
    "border-radius:10px;background:var(--line)}\n"
    "#board-status[data-state=live]{background:#12361f;color:var(--ok)}\n"
    "#board-status[data-state=error]{background:#3d1416;color:var(--bad)}\n"
    "main{display:grid;grid-template-columns:repeat(12,1fr);gap:14px;"
    "padding:14px 22px}\n"
    "section{background:var(--panel);border:1px solid var(--line);"
    "border-radius:8px;padding:12px 14px}\n"
    "section h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;"
    "color:var(--dim);margin:0 0 10px;font-weight:600}\n"
    ".w12{grid-column:span 12}.w7{grid-column:span 7}.w5{grid-column:span 5}"
    ".w4{grid-column:span 4}.w8{grid-column:span 8}\n"
    ".stages{display:grid;grid-template-columns:repeat(4,1fr) ;gap:12px}\n"
    ".stage{border:1px solid var(--line);border-radius:8px;padding:10px 12px;"
    "position:relative}\n"
    ".stage h3{margin:0 0 8px;font-size:15px;text-transform:capitalize}\n"
    ".stage:not(:last-child)::after{content:'\\25B6';position:absolute;"
    "right:-12px;top:40%;color:var(--dim);font-size:11px}\n"
    ".stage[data-health=warn]{border-color:var(--warn)}\n"
    ".stage[data-health=bad]{border-color:var(--bad)}\n"
    ".kv{display:grid;grid-template-columns:auto 1fr;gap:3px 10px}\n"
    ".kv dt{color:var(--dim)}.kv dd{margin:0;text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    ".big{font-size:22px;font-weight:600}\n"
    ".funnel .row{display:grid;grid-template-columns:150px 1fr 70px;"
    "align-items:center;gap:8px;margin:3px 0}\n"
    ".funnel .track{background:#0b1016;border-radius:3px;height:14px}\n"
    ".funnel .fill{background:var(--bar);height:14px;border-radius:3px;"
    "width:0}\n"
    ".funnel .row.sub .fill{background:#6e7681}\n"
    ".funnel .row.good .fill{background:var(--ok)}\n"
    ".funnel .row.lost .fill{background:#8957e5}\n"
    ".funnel .n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "table{width:100%;border-collapse:collapse;font-variant-numeric:"
    "tabular-nums}\n"
    "th,td{text-align:left;padding:4px 6px;border-bottom:1px solid "
    "var(--line)}\n"
    "th{color:var(--dim);font-weight:500;font-size:12px}\n"
    "td.num,th.num{text-align:right;white-space:nowrap}\n"
    "td.id{font-family:'DejaVu Sans Mono',monospace;font-size:12px}\n"
    ".lift{display:flex;gap:18px;align-items:flex-end;flex-wrap:wrap}\n"
    ".ci{position:relative;height:26px;background:#0b1016;border-radius:4px;"
    "margin:10px 0 4px}\n"
    ".ci .zero{position:absolute;top:0;bottom:0;width:1px;"
    "background:var(--dim)}\n"
    ".ci .span{position:absolute;top:8px;height:10px;background:var(--accent);"
    "opacity:.55;border-radius:3px}\n"
    ".ci .dot{position:absolute;top:5px;width:4px;height:16px;margin-left:-2px;"
    "background:var(--text)}\n"
    ".note{color:var(--dim);font-size:12px}\n"
    "#board-errors{color:var(--bad);font-size:12px;white-space:pre-line}\n"
    "@media (max-width:1000px){.w7,.w5,.w4,.w8{grid-column:span 12}"
    ".stages{grid-template-columns:repeat(2,1fr)}}\n";

static const char board_html_body[] =
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<header><h1><b>lastmile</b> flow board</h1>"
    "<span class=\"meta\">simulated now <span id=\"board-now\">—</span>"
    "</span><span class=\"meta\">refreshed <span "
    "id=\"board-refreshed\">—</span></span>"
    "<span id=\"board-status\" data-state=\"loading\">loading…</span>"
    "</header>\n"
    "<main>\n"
    "<section class=\"w12\"><h2>Stages: where the work moves and where it "
    "waits</h2><div class=\"stages\">\n"
    "</div><div id=\"board-errors\"></div></section>\n"
    "<section class=\"w5 funnel\"><h2>Funnel</h2><div id=\"funnel\">\n"
    "</div></section>\n"
    "<section class=\"w7\"><h2>Leads waiting longest</h2>\n"
    "<table id=\"waiting\"><thead><tr><th>lead</th><th>owner</th>"
    "<th>stage</th><th class=\"num\">waiting</th><th>next step</th></tr>"
    "</thead><tbody></tbody></table>\n"
    "<p class=\"note\" id=\"waiting-none\">No lead is waiting on the "
    "fleet.</p></section>\n"
    "<section class=\"w4\"><h2>Speed-to-lead and cycle time</h2>\n"
    "<table><thead><tr><th></th><th class=\"num\">n</th>"
    "<th class=\"num\">p50</th><th class=\"num\">p90</th>"
    "<th class=\"num\">p99</th><th class=\"num\">mean</th></tr></thead>"
    "<tbody><tr><td>speed-to-lead</td>"
    "<td class=\"num\" data-metric=\"speed_to_lead_s.n\" "
    "data-fmt=\"count\"></td>"
    "<td class=\"num\" data-metric=\"speed_to_lead_s.p50\" "
    "data-fmt=\"dur\"></td>"
    "<td class=\"num\" data-metric=\"speed_to_lead_s.p90\" "
    "data-fmt=\"dur\"></td>"
    "<td class=\"num\" data-metric=\"speed_to_lead_s.p99\" "
    "data-fmt=\"dur\"></td>"
    "<td class=\"num\" data-metric=\"speed_to_lead_s.mean\" "
    "data-fmt=\"dur\"></td></tr>"
    "<tr><td>cycle time</td>"
    "<td class=\"num\" data-metric=\"cycle_time_s.n\" data-fmt=\"count\"></td>"
    "<td class=\"num\" data-metric=\"cycle_time_s.p50\" data-fmt=\"dur\"></td>"
    "<td class=\"num\" data-metric=\"cycle_time_s.p90\" data-fmt=\"dur\"></td>"
    "<td class=\"num\">—</td>"
    "<td class=\"num\" data-metric=\"cycle_time_s.mean\" "
    "data-fmt=\"dur\"></td></tr></tbody></table>\n"
    "<p class=\"note\">Simulated time: first touch after submission; "
    "submission to close.</p></section>\n"
    "<section class=\"w4\"><h2>Money</h2><dl class=\"kv\">"
    "<dt>cost per outcome</dt><dd class=\"big\" "
    "data-metric=\"cost.per_outcome_cents\" data-fmt=\"money\"></dd>"
    "<dt>revenue per lead</dt><dd class=\"big\" "
    "data-metric=\"revenue.per_accepted_lead_cents\" data-fmt=\"money\"></dd>"
    "<dt>cost per conversion</dt><dd "
    "data-metric=\"cost.per_conversion_cents\" data-fmt=\"money\"></dd>"
    "<dt>cost, total</dt><dd data-metric=\"cost.total_cents\" "
    "data-fmt=\"money\"></dd>"
    "<dt>revenue, total</dt><dd data-metric=\"revenue.total_cents\" "
    "data-fmt=\"money\"></dd></dl></section>\n"
    "<section class=\"w4\"><h2>Timing: learned vs fixed schedule</h2>"
    "<div class=\"lift\"><div><div class=\"note\">lift in response "
    "rate</div><div class=\"big\" data-metric=\"timing_arms.lift.value\" "
    "data-fmt=\"pct\"></div></div><div class=\"note\">95% interval "
    "<span data-metric=\"timing_arms.lift.ci95.0\" data-fmt=\"pct\"></span> "
    "to <span data-metric=\"timing_arms.lift.ci95.1\" data-fmt=\"pct\">"
    "</span></div></div>\n"
    "<div class=\"ci\" id=\"lift-ci\"><div class=\"zero\"></div>"
    "<div class=\"span\"></div><div class=\"dot\"></div></div>\n"
    "<table><thead><tr><th>arm</th><th class=\"num\">touched</th>"
    "<th class=\"num\">responded</th><th class=\"num\">rate</th>"
    "<th class=\"num\">95% interval</th></tr></thead><tbody>"
    "</tbody></table></section>\n"
    "<section class=\"w12\"><h2>Open leads by owner</h2>"
    "<table id=\"owners\"><thead><tr><th>owner</th><th class=\"num\">open"
    "</th></tr></thead><tbody></tbody></table></section>\n"
    "</main>\n"
    "<script>\n";

static const char board_js[] =
    "'use strict';\n"
    "const STAGES=['intake','qualification','followup','timing'];\n"
    "const FUNNEL=[['submitted','submitted','sub'],['invalid','invalid "
    "(dead-lettered)','lost'],['merged','merged duplicates','lost'],"
    "['accepted','accepted',''],['qualified','qualified',''],['nurture',"
    "'nurture',''],['disqualified','disqualified','lost'],['undecided',"
    "'undecided',''],['touched','touched',''],['responded','responded',"
    "'good'],['converted','converted','good'],['unsubscribed',"
    "'unsubscribed','lost'],['bounced','bounced','lost'],['no_response',"
    "'no response','lost'],['closed','closed',''],['open','open','']];\n"
    "function el(tag,attrs,text){const e=document.createElement(tag);"
    "for(const k in attrs||{})e.setAttribute(k,attrs[k]);"
    "if(text!=null)e.textContent=text;return e}\n"
    /* the placeholders of the static markup, built once */
    "function build(){\n"
    " const card=n=>{const s=el('div',{class:'stage',id:'stage-'+n,"
    "'data-stage':n});s.appendChild(el('h3',{},n));const d=el('dl',"
    "{class:'kv'});\n"
    "  for(const [f,l,fmt] of [['throughput_per_s','throughput','rate'],"
    "['lag','lag (messages)','count'],['waiting','waiting','count'],"
    "['oldest_waiting_s','oldest waiting','dur']]){d.appendChild(el('dt',{},"
    "l));d.appendChild(el('dd',{'data-metric':'stages.'+n+'.'+f,"
    "'data-fmt':fmt,id:'stage-'+n+'-'+f.replace(/_/g,'-')}))}\n"
    "  d.appendChild(el('dt',{},'dead time p50/p90'));const dd=el('dd');"
    "dd.appendChild(el('span',{'data-metric':'dead_time_ms.'+n+'.p50',"
    "'data-fmt':'ms'}));dd.appendChild(document.createTextNode(' / '));"
    "dd.appendChild(el('span',{'data-metric':'dead_time_ms.'+n+'.p90',"
    "'data-fmt':'ms'}));d.appendChild(dd);s.appendChild(d);return s};\n"
    " const st=document.querySelector('.stages');st.textContent='';"
    "STAGES.forEach(n=>st.appendChild(card(n)));\n"
    " const f=document.getElementById('funnel');f.textContent='';\n"
    " for(const [k,l,c] of FUNNEL){const r=el('div',{class:'row '+c});"
    "r.appendChild(el('span',{},l));const t=el('div',{class:'track'});"
    "t.appendChild(el('div',{class:'fill','data-bar':'funnel.'+k}));"
    "r.appendChild(t);r.appendChild(el('span',{class:'n',id:'funnel-'+k,"
    "'data-metric':'funnel.'+k,'data-fmt':'count'}));f.appendChild(r)}\n"
    " const tb=document.querySelector('#lift-ci').nextElementSibling"
    ".querySelector('tbody');tb.textContent='';\n"
    " for(const a of ['adaptive','fixed']){const r=el('tr',{});"
    "r.appendChild(el('td',{},a==='adaptive'?'learned (adaptive)':"
    "'fixed schedule'));const p='timing_arms.'+a+'.';\n"
    "  r.appendChild(el('td',{class:'num','data-metric':p+'touched',"
    "'data-fmt':'count'}));r.appendChild(el('td',{class:'num',"
    "'data-metric':p+'responded','data-fmt':'count'}));r.appendChild(el('td',"
    "{class:'num','data-metric':p+'rate','data-fmt':'pct'}));"
    "const ci=el('td',{class:'num'});ci.appendChild(el('span',"
    "{'data-metric':p+'ci95.0','data-fmt':'pct'}));ci.appendChild("
    "document.createTextNode(' – '));ci.appendChild(el('span',"
    "{'data-metric':p+'ci95.1','data-fmt':'pct'}));r.appendChild(ci);"
    "tb.appendChild(r)}\n"
    "}\n"
    "const F={\n"
    " count:v=>Math.round(v).toLocaleString('en-US'),\n"
    " rate:v=>v.toFixed(v<10?2:1)+'/s',\n"
    " pct:v=>(v*100).toFixed(1)+'%',\n"
    " money:v=>(v/100).toLocaleString('en-US',{minimumFractionDigits:2,"
    "maximumFractionDigits:2}),\n"
    " ms:v=>v<1000?Math.round(v)+' ms':F.dur(v/1000),\n"
    " dur:v=>{if(v<60)return v.toFixed(v<10?2:1)+'s';const t=Math.round(v),"
    "p=n=>String(n).padStart(2,'0');\n"
    "  if(t<3600)return Math.floor(t/60)+'m '+p(t%60)+'s';"
    "if(t<86400)return Math.floor(t/3600)+'h '+p(Math.floor(t%3600/60))+'m';"
    "return Math.floor(t/86400)+'d '+p(Math.floor(t%86400/3600))+'h'},\n"
    "};\n"
    "function get(o,path){for(const k of path.split('.')){if(o==null)"
    "return undefined;o=o[k]}return o}\n"
    "function show(e,v){const ok=typeof v==='number'&&isFinite(v);"
    "e.dataset.value=ok?String(v):'';e.textContent=ok?(F[e.dataset.fmt]||"
    "String)(v):'n/a'}\n"
    "function render(d){\n"
    " const rep=d.report||{},stages={};"
    "(d.stages||[]).forEach(s=>stages[s.name]=s);\n"
    " document.querySelectorAll('[data-metric]').forEach(e=>{const m=e."
    "dataset.metric;show(e,m.startsWith('stages.')?get(stages,m.slice(7)):"
    "get(rep,m))});\n"
    " const top=Math.max(1,get(rep,'funnel.submitted')||0);"
    "document.querySelectorAll('[data-bar]').forEach(e=>{const v=get(rep,"
    "e.dataset.bar)||0;e.style.width=Math.min(100,100*v/top)+'%'});\n"
    " STAGES.forEach(n=>{const s=stages[n]||{},a=s.oldest_waiting_s;"
    "document.getElementById('stage-'+n).dataset.health=a==null?'ok':"
    "a>86400?'bad':a>3600?'warn':'ok'});\n"
    " const wb=document.querySelector('#waiting tbody');wb.textContent='';\n"
    " (d.waiting_longest||[]).forEach((w,i)=>{const r=el('tr',"
    "{'data-rank':String(i+1),'data-lead-id':w.lead_id});"
    "r.appendChild(el('td',{class:'id'},w.lead_id));r.appendChild(el('td',"
    "{},w.owner));r.appendChild(el('td',{},w.stage));const a=el('td',"
    "{class:'num','data-fmt':'dur'});show(a,w.age_s);r.appendChild(a);"
    "r.appendChild(el('td',{},w.next_step));wb.appendChild(r)});\n"
    " document.getElementById('waiting-none').hidden=(d.waiting_longest||[])"
    ".length>0;\n"
    " const ob=document.querySelector('#owners tbody');ob.textContent='';\n"
    " (rep.open_by_owner||[]).slice(0,12).forEach(o=>{const r=el('tr',{});"
    "r.appendChild(el('td',{},o.owner));const n=el('td',{class:'num',"
    "'data-fmt':'count'});show(n,o.open);r.appendChild(n);ob.appendChild(r)"
    "});\n"
    " const lv=get(rep,'timing_arms.lift.value'),lo=get(rep,"
    "'timing_arms.lift.ci95.0'),hi=get(rep,'timing_arms.lift.ci95.1');\n"
    " const ci=document.getElementById('lift-ci'),sp=ci.querySelector("
    "'.span'),dot=ci.querySelector('.dot'),z=ci.querySelector('.zero');\n"
    /* on the log of the rate ratio, so -50% and +100% sit equally far */
    " if(typeof lo==='number'&&typeof hi==='number'&&lo>-1){const L=v=>"
    "Math.log(1+v),m=Math.max(Math.log(1.25),-L(lo),L(hi))*1.1,x=v=>(50+50*"
    "L(v)/m)+'%';sp.style.left=x(lo);sp.style.width=(50*(L(hi)-L(lo))/m)+"
    "'%';z.style.left=x(0);dot.style.left=x(lv);ci.hidden=false}else "
    "ci.hidden=true;\n"
    " const now=document.getElementById('board-now');now.dataset.value="
    "String(d.now_ms);now.textContent=new Date(d.now_ms).toISOString()"
    ".replace('T',' ').slice(0,16)+' UTC';\n"
    " document.getElementById('board-refreshed').textContent=new Date("
    "d.generated_at_ms).toLocaleTimeString('en-GB');\n"
    " const errs=d.errors||[],st=document.getElementById('board-status');\n"
    " document.getElementById('board-errors').textContent=errs.join('\\n');\n"
    " st.dataset.state=errs.length?'error':'live';st.textContent=errs.length?"
    "'degraded: '+errs.length+' problem(s)':d.report_stale?'stale':'live';\n"
    " document.body.dataset.refreshes=String(+(document.body.dataset."
    "refreshes||0)+1);document.body.dataset.generatedAt=String("
    "d.generated_at_ms);\n"
    "}\n"
    "let period=2000;\n"
    "async function tick(){try{const r=await fetch('/api/board',"
    "{cache:'no-store'});const d=await r.json();if(!r.ok)throw new Error("
    "d.error||r.status);period=d.refresh_ms||period;render(d)}catch(e){"
    "const st=document.getElementById('board-status');st.dataset.state="
    "'error';st.textContent='board unreachable: '+e.message}finally{"
    "setTimeout(tick,period)}}\n"
    "build();tick();\n";

/* ============================================================ HTTP */

#define BOARD_CSP                                                              \
    "default-src 'none'; script-src 'unsafe-inline'; style-src "               \
    "'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; "    \
    "form-action 'none'; frame-ancestors 'none'"

static enum MHD_Result board_respond(struct MHD_Connection *conn,
                                     unsigned int status, const char *ctype,
                                     void *body, size_t len,
                                     enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy", BOARD_CSP);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result board_text(struct MHD_Connection *conn,
                                  unsigned int status, const char *text) {
    return board_respond(conn, status, "text/plain; charset=utf-8",
                         (void *)text, strlen(text), MHD_RESPMEM_PERSISTENT);
}

/* The latest snapshot, waiting up to LM_BOARD_FIRST_WAIT_MS for the first
 * (this connection's own thread waits; the others are served). */
static enum MHD_Result board_api(lm_board *b, struct MHD_Connection *conn) {
    struct timespec until;
    board_deadline(&until, LM_BOARD_FIRST_WAIT_MS);
    pthread_mutex_lock(&b->mu);
    while (!b->snapshot && !b->stop &&
           pthread_cond_timedwait(&b->cv, &b->mu, &until) != ETIMEDOUT)
        ;
    char *copy = NULL;
    size_t len = b->snapshot_len;
    if (b->snapshot) {
        copy = malloc(len + 1);
        if (copy)
            memcpy(copy, b->snapshot, len + 1);
    }
    int had = b->snapshot != NULL;
    pthread_mutex_unlock(&b->mu);
    if (!copy)
        return board_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                          had ? "{\"error\": \"out of memory\"}\n"
                              : "{\"error\": \"the first refresh is still "
                                "running\"}\n");
    return board_respond(conn, MHD_HTTP_OK, "application/json", copy, len,
                         MHD_RESPMEM_MUST_FREE);
}

/* Runs on the connection's thread, once per request (answered on the
 * first call: GET and HEAD have no body to wait for). */
static enum MHD_Result board_http(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    lm_board *b = cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return board_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "method not allowed\n");
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return board_respond(conn, MHD_HTTP_OK, "text/html; charset=utf-8",
                             b->page, b->page_len, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/api/board") == 0)
        return board_api(b, conn);
    return board_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void board_mhd_log(void *cls, const char *fmt, va_list ap) {
    lm_board *b = cls;
    vsnprintf(b->mhd_err, sizeof(b->mhd_err), fmt, ap);
    size_t n = strlen(b->mhd_err);
    while (n > 0 && (b->mhd_err[n - 1] == '\n' || b->mhd_err[n - 1] == '.'))
        b->mhd_err[--n] = '\0';
}

static int board_http_start(lm_board *b, const char *addr, char *err,
                            size_t errsz) {
    char host[BOARD_HOST_MAX], why[BOARD_ERR_MAX];
    int port = 0;
    if (lm_http_parse_addr(addr, host, sizeof(host), &port, why, sizeof(why)) !=
        0) {
        snprintf(err, errsz, "--addr %s: %s", addr, why);
        return -1;
    }
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    struct sockaddr *sa;
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    memset(&a4, 0, sizeof(a4));
    memset(&a6, 0, sizeof(a6));
    if (strchr(host, ':')) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a6.sin6_addr) != 1)
            goto bad_host;
        sa = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a4.sin_addr) != 1)
            goto bad_host;
        sa = (struct sockaddr *)&a4;
    }
    b->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, board_http, b, MHD_OPTION_SOCK_ADDR,
        sa, MHD_OPTION_EXTERNAL_LOGGER, board_mhd_log, b,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)LM_BOARD_HTTP_CONN_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)LM_BOARD_HTTP_TIMEOUT_S,
        MHD_OPTION_END);
    if (!b->daemon) {
        snprintf(err, errsz, "--addr %s: cannot serve: %s", addr,
                 b->mhd_err[0] ? b->mhd_err : "libmicrohttpd failed");
        return -1;
    }
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(b->daemon, MHD_DAEMON_INFO_BIND_PORT);
    b->port = di ? di->port : port;
    return 0;
bad_host:
    snprintf(err, errsz, "--addr %s: bad host \"%s\" (example: %s)", addr, host,
             LM_BOARD_ADDR_DEFAULT);
    return -1;
}

/* ============================================================ lifecycle */

static char *board_join_page(size_t *len) {
    const char *parts[] = {board_html_head, board_css, board_html_body,
                           board_js, "</script>\n</body>\n</html>\n"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        n += strlen(parts[i]);
    char *page = malloc(n + 1);
    if (!page)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        size_t k = strlen(parts[i]);
        memcpy(page + at, parts[i], k);
        at += k;
    }
    page[at] = '\0';
    *len = at;
    return page;
}

static rd_kafka_t *board_kafka(const lm_settings *s, lm_kafka_role role,
                               const char *group, char *err, size_t errsz) {
    char why[512];
    rd_kafka_conf_t *conf = lm_kafka_conf(s, role, group, err, errsz);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new keeps it only on success */
        snprintf(err, errsz, "kafka: %s", why);
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
    if (b->daemon)
        MHD_stop_daemon(b->daemon); /* joins its threads */
    if (b->thread_started)
        pthread_join(b->thread, NULL);
    for (int i = 0; i < BOARD_STAGES; i++)
        if (b->stages[i].rk) /* never joined: nothing to leave */
            rd_kafka_destroy_flags(b->stages[i].rk,
                                   RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    board_reader_destroy(b->dlq_rk);
    board_reader_destroy(b->peek_rk);
    lm_redis_destroy(b->redis);
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
        snprintf(err, errsz,
                 "LASTMILE_BROKERS is not set (example: "
                 "LASTMILE_BROKERS=localhost:9092)");
        return NULL;
    }
    if (!s->redis_url || !*s->redis_url) {
        snprintf(err, errsz,
                 "LASTMILE_REDIS_URL is not set (example: "
                 "LASTMILE_REDIS_URL=redis://localhost:6379/0)");
        return NULL;
    }
    lm_board *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);

    b->page = board_join_page(&b->page_len);
    if (!b->page) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    /* the address first: a port in use fails before any Kafka handle */
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
    b->redis =
        lm_redis_new(s->redis_url, LM_BOARD_REDIS_TIMEOUT_MS, err, errsz);
    if (!b->redis)
        goto fail;
    if (pthread_create(&b->thread, NULL, board_collector, b) != 0) {
        snprintf(err, errsz, "cannot start the collector thread");
        goto fail;
    }
    b->thread_started = 1;
    return b;
fail:
    lm_board_stop(b);
    return NULL;
}

int lm_board_port(const lm_board *b) {
    return b ? b->port : 0;
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
            "same figures as JSON (docs/OBSERVABILITY.md).\n\n"
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
    const char *addr = LM_BOARD_ADDR_DEFAULT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            board_usage(stdout);
            return LM_EXIT_OK;
        } else if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
            addr = argv[++i];
        } else if (strncmp(argv[i], "--addr=", 7) == 0) {
            addr = argv[i] + 7;
        } else {
            fprintf(stderr, "lastmile board: bad or incomplete option '%s'\n\n",
                    argv[i]);
            board_usage(stderr);
            return LM_EXIT_USAGE;
        }
    }
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
