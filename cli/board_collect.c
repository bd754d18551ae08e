/* board_collect.c — the board's collector (see board.h for what it shows
 * and where each figure comes from): a thread that, every
 * LM_BOARD_REFRESH_MS, asks Kafka for each stage's committed offsets and
 * watermarks, follows the dead-letter topic, peeks at the oldest
 * uncommitted intake messages, reads the qualification messages not yet
 * committed (the undecided leads), walks the lead rows in Redis
 * (lm_report_scan into an lm_report accumulator, plus the stage ages and the
 * leads waiting longest), and publishes one JSON snapshot string under the
 * board's mutex.
 *
 * Threads: everything here runs on the collector thread, which alone owns
 * the Kafka handles and the Redis connection (board_internal.h). */
#include "board_age.h"
#include "board_internal.h"
#include "unassigned.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_report_lift.h"
#include "lm_report_owners.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOARD_TEXT_MAX 160 /* owner, cadence, next step texts */
#define BOARD_POLL_MS  100 /* one consumer poll while reading */

const char *const board_stage_names[BOARD_STAGES] = {"intake", "qualification",
                                                     "followup", "timing"};

/* One lead in "waiting longest"; strings copied out of the row. */
typedef struct board_waiter {
    char lead_id[BOARD_TEXT_MAX];
    char owner[BOARD_TEXT_MAX];
    char next_step[BOARD_TEXT_MAX];
    int stage; /* ST_* */
    int64_t since_ms;
} board_waiter;

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

/* Reads the message at offset `committed[p]` of each lagging intake
 * partition and returns the oldest time one has waited since (simulated
 * epoch ms, board_intake_since_ms), or -1 when none could be read within
 * LM_BOARD_PEEK_TIMEOUT_MS. */
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
            ts = board_intake_since_ms(
                rkm->payload, rkm->payload ? rkm->len : 0,
                tt != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? ts : -1);
            if (ts > 0 && (oldest < 0 || ts < oldest))
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

/* The leads qualification has not taken (offsets committed[p] to end[p]
 * of each partition), read whole into b->pending (lm_report_add_pending)
 * within LM_BOARD_PENDING_BUDGET_MS: the report counts those it finds no
 * row of as undecided. The oldest accepted_at_ms among them, or -1. */
static int64_t board_pending(lm_board *b, int nparts, const int64_t *committed,
                             const int64_t *end, json_t *errors) {
    char err[BOARD_ERR_MAX];
    if (lm_report_read_range(b->peek_rk, b->stages[ST_QUALIFICATION].topic,
                             nparts, committed, end, LM_BOARD_PENDING_BUDGET_MS,
                             lm_report_add_pending, b->pending, err,
                             sizeof(err)) < 0)
        board_err(errors,
                  "kafka: the leads qualification has not taken: %s (the "
                  "undecided leads are counted in part)",
                  err);
    int64_t oldest = -1;
    for (size_t k = 0; k < lm_strmap_count(b->pending); k++) {
        int64_t at = *lm_strmap_value(b->pending, k);
        if (at > 0 && (oldest < 0 || at < oldest))
            oldest = at;
    }
    return oldest;
}

/* One stage from Kafka into *out (a JSON object being built): committed
 * offsets, watermarks, lag, throughput; for intake and qualification
 * also the leads waiting (the lag: neither has a record of an undecided
 * lead in Redis) and the oldest of them. `nparts` from the metadata (-1: topic
 * missing); ages up to simulated `now_ms`, the snapshot's. */
static void board_stage_kafka(lm_board *b, int i, int nparts, int64_t now_ms,
                              json_t *out, json_t *errors) {
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
    if (i == ST_INTAKE || i == ST_QUALIFICATION) {
        json_object_set_new(out, "waiting", json_integer(lag));
        if (lag > 0) {
            int64_t ts = i == ST_INTAKE
                             ? board_peek_oldest(b, nparts, committed, end)
                             : board_pending(b, nparts, committed, end, errors);
            if (ts > 0)
                json_object_set_new(out, "oldest_waiting_s",
                                    json_real(board_age_s(now_ms, ts)));
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
    /* an undecided lead waits in qualification's lag (board_stage_kafka):
       a record in that stage is from before qualification wrote it */
    if (stage < 0 || stage == ST_QUALIFICATION)
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
    lm_report_opts o = {
        .invalid = b->invalid, .now_ms = sc->now_ms, .pending = b->pending};
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
    if (lm_report_lift_metrics(b->metrics, &rep) != 0) /* /metrics */
        board_err(errors, "metrics: out of memory");
    lm_report_free(&rep);
    /* the owners' SLA figures, as `lastmile report` attaches them */
    lm_owners_report ow;
    if (*report && lm_report_owners_collect(b->redis, lm_clock_now_ms(), &ow,
                                            err, sizeof(err)) == 0) {
        json_t *oj = lm_report_owners_json(&ow);
        if (oj)
            json_object_set_new(*report, "owners", oj);
        lm_report_owners_free(&ow);
    } else if (*report) {
        board_err(errors, "redis: %s", err);
    }
done:
    lm_report_acc_free(sc->acc);
    sc->acc = NULL;
}

/* The teams' unassigned queues (unassigned.h), a JSON array; empty when
 * Redis cannot be read (the error is listed). */
static json_t *board_unassigned(lm_board *b, const board_scan *sc,
                                json_t *errors) {
    static lm_unassigned_team q[LM_UNASSIGNED_TEAMS_MAX]; /* collector's */
    char err[BOARD_ERR_MAX] = "";
    int n = board_stopping(b)
                ? 0
                : lm_unassigned_read(b->redis, q, LM_UNASSIGNED_TEAMS_MAX, err,
                                     sizeof(err));
    if (n < 0) {
        board_err(errors, "redis: unassigned queues: %s", err);
        n = 0;
    }
    return lm_unassigned_json(q, (size_t)n, sc->now_ms);
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
    lm_strmap_clear(b->pending); /* read again by board_stage_kafka */
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
            board_stage_kafka(b, i, parts[i], sc.now_ms, st_obj[i], errors);
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
    for (int i = ST_FOLLOWUP; report && i < BOARD_STAGES; i++) {
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
    json_object_set_new(root, "unassigned", board_unassigned(b, &sc, errors));
    out = json_dumps(root, JSON_COMPACT | LM_REPORT_JSON_REAL);
done:
    for (int i = 0; i < BOARD_STAGES; i++)
        json_decref(st_obj[i]);
    json_decref(waiting);
    json_decref(stages);
    json_decref(errors);
    json_decref(root);
    return out;
}

void board_deadline(struct timespec *ts, int64_t ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void *board_collector(void *arg) {
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
