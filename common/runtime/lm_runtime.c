/* lm_runtime.c — the worker loop and its lifecycle (see lm_runtime.h for
 * the contract, lm_rt_internal.h for the rooms the rest lives in).
 *
 * lm_runtime_main reads the settings, starts /metrics, connects Redis and
 * Kafka, then runs batches until SIGTERM/SIGINT or a fatal error, with the
 * timer sweep between them (lm_timers.c, for the worker that fires timers). One
 * batch (run_batch) is a sequence of named steps, numbered as in lm_runtime.h
 * and docs/DELIVERY.md:
 *   1. take      rt_batch_take            lm_rt_batch.c
 *   2. identify  rt_batch_identify        lm_rt_batch.c
 *   3. read      rt_plan_round_trip       lm_rt_redis.c
 *   4. decide    rt_decide                lm_rt_batch.c
 *   5. write     rt_write_round_trip      lm_rt_redis.c (3-5 again when the
 *                                         transaction did not apply)
 *   6. produce   rt_recover_scan          lm_rt_outbox.c (after a crash)
 *                rt_produce_start         lm_rt_kafka.c
 *                rt_produce_wait          lm_rt_pipeline.c (batch_finish)
 *   7. commit    rt_commit_batch          lm_rt_kafka.c
 * With overlapped batches (LASTMILE_OVERLAP, on by default) the wait and
 * the commit of batch N run after batch N+1 is taken and decided, and
 * before N+1's transaction (settle_previous; lm_rt_pipeline.c has the
 * order and why). A batch that cannot be completed is abandoned: the
 * process stops without committing it, and a restart redelivers it
 * (abandon_batch).
 *
 * Invariants:
 *   - an input offset is committed only after its Redis writes (including
 *     its outbox) are applied and every output it caused is acknowledged;
 *   - no transaction is sent while a batch is in flight (settle_previous);
 *   - the crash hooks of the delivery tests (LASTMILE_TEST_CRASH_AT) are
 *     read once, at start;
 *   - everything runs on the thread that called lm_runtime_main, except
 *     the metrics server's reads of the atomics (ready_fn, on_scrape). */
#include "lm_rt_internal.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_log.h"
#include "lm_timers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t rt_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    rt_stop = 1;
}

int lm_runtime_stopping(const lm_runtime *rt) {
    (void)rt;
    return rt_stop != 0;
}

lm_redis *lm_runtime_redis(lm_runtime *rt) {
    return rt->redis;
}

const lm_settings *lm_runtime_settings(lm_runtime *rt) {
    return &rt->s;
}

int rt_past_drain_deadline(lm_runtime *rt) {
    if (!rt_stop)
        return 0;
    int64_t now = lm_clock_mono_ms();
    if (!rt->stop_deadline_ms)
        rt->stop_deadline_ms = now + rt->s.shutdown_timeout_ms;
    return now > rt->stop_deadline_ms;
}

/* A read-back's deadline: LASTMILE_TEST_RECOVER_TIMEOUT_MS (the pause
 * test's, 100 ms to the default) or RT_RECOVER_TIMEOUT_MS. */
static int64_t recover_timeout_from_env(void) {
    const char *v = getenv("LASTMILE_TEST_RECOVER_TIMEOUT_MS");
    int64_t ms = RT_RECOVER_TIMEOUT_MS;
    if (v && lm_parse_int64(v, 100, RT_RECOVER_TIMEOUT_MS, &ms) != 0)
        ms = RT_RECOVER_TIMEOUT_MS;
    return ms;
}

/* LASTMILE_TEST_CRASH_AT (see rt_crash_at), read once at start. */
static rt_crash_at crash_at_from_env(void) {
    const char *v = getenv("LASTMILE_TEST_CRASH_AT");
    return !v                                ? RT_CRASH_NONE
           : strcmp(v, "after-writes") == 0  ? RT_CRASH_AFTER_WRITES
           : strcmp(v, "after-produce") == 0 ? RT_CRASH_AFTER_PRODUCE
           : strcmp(v, "replica-first") == 0 ? RT_RACE_REPLICA_FIRST
           : strcmp(v, "sweep-after-produce") == 0
               ? RT_CRASH_SWEEP_AFTER_PRODUCE
           : strcmp(v, "deliver-after-effect") == 0
               ? RT_CRASH_DELIVER_AFTER_EFFECT
           : strcmp(v, "pause-before-read-back") == 0
               ? RT_PAUSE_BEFORE_READ_BACK
           : strcmp(v, "overlap-decided") == 0     ? RT_CRASH_OVERLAP_DECIDED
           : strcmp(v, "overlap-committed") == 0   ? RT_CRASH_OVERLAP_COMMITTED
           : strcmp(v, "pause-overlap-taken") == 0 ? RT_PAUSE_OVERLAP_TAKEN
           : strcmp(v, "cluster-between-units") == 0
               ? RT_CRASH_CLUSTER_BETWEEN_UNITS
           : strcmp(v, "cluster-after-side") == 0 ? RT_CRASH_CLUSTER_AFTER_SIDE
           : strcmp(v, "commit-lost") == 0        ? RT_CRASH_COMMIT_LOST
           : strcmp(v, "claim-taken") == 0        ? RT_RACE_CLAIM_TAKEN
           : strcmp(v, "claim-taken-watching-claims") == 0
               ? RT_RACE_CLAIM_TAKEN_WATCHING_CLAIMS
               : RT_CRASH_NONE;
}

int lm_runtime_crash_at(const lm_runtime *rt, const char *point) {
    return (rt->crash_at == RT_CRASH_SWEEP_AFTER_PRODUCE &&
            strcmp(point, "sweep-after-produce") == 0) ||
           (rt->crash_at == RT_CRASH_DELIVER_AFTER_EFFECT &&
            strcmp(point, "deliver-after-effect") == 0);
}

/* ============================================================ one batch */

/* After step 2: what the batch takes, and what it leaves for the next. */
static void count_taken(lm_runtime *rt) {
    size_t n = rt->n_items - rt->n_later;
    lm_histogram_observe(rt->m_batch, (double)n);
    lm_counter_add(rt->m_consumed, (uint64_t)n);
    if (!rt->n_later)
        return;
    lm_counter_add(rt->m_deferred, (uint64_t)rt->n_later);
    lm_log(LM_LOG_INFO, "deferred",
           "%zu input(s) of %s left for the next batch: an earlier input of "
           "the batch has the same hash tag",
           rt->n_later, rt->input_topic);
}

/* Right before a transaction: the batch in flight (overlapped batches)
 * is acknowledged and committed first, since this transaction rewrites
 * the fences that hold its outboxes (lm_rt_pipeline.c). 0 / -1. */
static int settle_previous(lm_runtime *rt) {
    if (!rt_inflight(rt))
        return 0;
    if (rt->crash_at == RT_CRASH_OVERLAP_DECIDED)
        _exit(137);
    int rc = rt_inflight_settle(rt);
    rt_phase_end(rt, RT_PH_WAIT_PREV);
    if (rc == 0 && rt->crash_at == RT_CRASH_OVERLAP_COMMITTED)
        _exit(137);
    return rc;
}

/* Steps 3-5: read, decide, write; again from the reads when the write
 * transaction did not apply (see rt_write_round_trip). 0 / -1 (abandon). */
static int apply_batch(lm_runtime *rt, int64_t now_ms, int64_t real_ms,
                       int *any_recovering) {
    for (int attempt = 0;; attempt++) {
        rt_attempt_reset(rt);
        if (rt_plan_round_trip(rt, now_ms) != 0)
            return -1;
        rt_phase_end(rt, RT_PH_READS);
        if (rt_decide(rt, attempt == 0, now_ms, real_ms, any_recovering) != 0)
            return -1;
        rt_phase_end(rt, RT_PH_DECIDE);
        if (settle_previous(rt) != 0)
            return -1;
        int wr = rt_write_round_trip(rt, now_ms);
        if (wr == RT_WRITE_APPLIED)
            return 0;
        if (wr == RT_WRITE_ABANDON || rt_past_drain_deadline(rt))
            return -1;
        if (attempt > 0) /* a conflict is settled at once; Redis trouble not */
            usleep((useconds_t)(attempt < 40 ? attempt : 40) * 50 * 1000);
    }
}

/* Step 6, its first half: the read-back of redelivered outputs, then every
 * output queued and sent (the wait is lm_rt_pipeline.c's). 0 / -1. */
static int produce_batch(lm_runtime *rt, int any_recovering) {
    if (any_recovering && rt_recover_scan(rt) != 0) {
        lm_log(LM_LOG_ERROR, "recover_failed",
               "could not verify the outputs of redelivered input");
        return -1;
    }
    return rt_produce_start(rt, 0, rt->n_recs);
}

/* The consumer is already past an abandoned batch: going on would let the
 * next commit cover it. Stop without committing it instead (a restart
 * redelivers it, and the outboxes recover what was done). A batch in
 * flight before it is finished first (its transaction is applied). Deliveries
 * still in flight point into the batch's buffers: wait for them. */
static int abandon_batch(lm_runtime *rt) {
    rt_inflight_settle(rt);
    if (!rt_stop && !rt->fatal)
        lm_log(LM_LOG_ERROR, "batch_abandoned",
               "a batch could not be completed; stopping without committing "
               "it so that it is redelivered");
    if (!rt_stop)
        rt->fatal = 1;
    rd_kafka_flush(rt->producer, 10000);
    rt_batch_release(rt);
    return -1;
}

/* Runs one batch: steps 1-6, then parks it in flight or finishes it
 * (lm_rt_pipeline.c). 0 ok (or nothing to do), -1 abandoned. */
static int run_batch(lm_runtime *rt) {
    if (rt_batch_take(rt) == 0) /* 1: nothing new, finish the one in flight */
        return rt_inflight_settle(rt);
    if (rt->fatal)
        return abandon_batch(rt);
    if (rt->crash_at == RT_PAUSE_OVERLAP_TAKEN && rt_inflight(rt) &&
        !rt->paused) {
        rt->paused = 1; /* the test stops Redis, then SIGCONT */
        raise(SIGSTOP);
    }
    rt_phases_start(rt);
    int64_t now_ms = lm_clock_now_ms();
    int64_t real_ms = lm_clock_real_ms();
    if (rt_batch_identify(rt) != 0) /* 2 */
        return abandon_batch(rt);
    count_taken(rt);
    int any_recovering = 0;
    if (apply_batch(rt, now_ms, real_ms, &any_recovering) != 0)
        return abandon_batch(rt); /* 3-5 */
    rt_phase_end(rt, RT_PH_WRITES);
    if (rt->crash_at == RT_CRASH_AFTER_WRITES)
        _exit(137);
    /* on a cluster: side writes, WAIT (lm_rt_cluster_side.c) */
    if (rt->cluster && rt_cluster_after_writes(rt) != 0)
        return abandon_batch(rt);
    /* what was left for the next batch is fetched again (before the next
       take, which may come before this batch's commit) */
    if (rt->n_later)
        rt_seek_back_later(rt);
    if (produce_batch(rt, any_recovering) != 0) /* 6 */
        return abandon_batch(rt);
    if (rt_batch_after_produce(rt) != 0) /* 6-7, now or while the next runs */
        return abandon_batch(rt);
    return 0;
}

/* ===================================================== health, metrics */

/* On every scrape: how long the oldest input of this stage has waited. With
 * no lag it is 0; otherwise the wait of the oldest input of the last batch
 * plus the time since that batch (the backlog has aged since). */
static void on_scrape(void *opaque) {
    lm_runtime *rt = opaque;
    double age = 0;
    if (atomic_load(&rt->lag_total) > 0) {
        long long since =
            lm_clock_mono_ms() - atomic_load(&rt->last_batch_mono);
        age = (double)(atomic_load(&rt->last_max_wait) + since) / 1000.0;
    }
    char labels[96];
    snprintf(labels, sizeof(labels), "stage=\"%s\"", rt->w->name);
    lm_gauge_set(
        lm_metrics_gauge(rt->metrics, "lastmile_stage_oldest_waiting_seconds",
                         "Age of the oldest input waiting at a stage", labels),
        age);
}

/* A worker that lost Redis and has no input (no batch to try it) asks
 * Redis once a second, so /readyz says ready again as soon as Redis is
 * back, not at the next input. */
static void redis_probe_when_not_ready(lm_runtime *rt) {
    int64_t now = lm_clock_mono_ms();
    if (atomic_load(&rt->ready_redis) ||
        now - rt->last_probe_ms < RT_PROBE_EVERY_MS)
        return;
    rt->last_probe_ms = now;
    lm_pipe p = {0};
    redisReply *rep[1];
    char err[256];
    if (lm_pipe_cmd_strs(&p, "PING", NULL) == 0 &&
        lm_redis_exec(rt->redis, &p, rep, err, sizeof(err)) == 0) {
        lm_redis_replies_free(rep, 1);
        atomic_store(&rt->ready_redis, 1);
        lm_log(LM_LOG_INFO, "redis_back", "Redis answers again");
    }
    lm_pipe_free(&p);
}

static int ready_fn(void *opaque, char *why, size_t whysz) {
    lm_runtime *rt = opaque;
    if (!atomic_load(&rt->ready_redis)) {
        snprintf(why, whysz, "redis unreachable");
        return 0;
    }
    if (!atomic_load(&rt->ready_broker)) {
        snprintf(why, whysz, "kafka brokers unreachable");
        return 0;
    }
    if (atomic_load(&rt->assigned) <= 0) {
        snprintf(why, whysz, "no partitions of the input topic assigned");
        return 0;
    }
    return 1;
}

void lm_runtime_count(lm_runtime *rt, const char *family, const char *labels,
                      double value) {
    lm_counter_add(lm_metrics_counter(rt->metrics, family, family, labels),
                   (uint64_t)value);
}

void lm_runtime_gauge(lm_runtime *rt, const char *family, const char *labels,
                      double value) {
    lm_gauge_set(lm_metrics_gauge(rt->metrics, family, family, labels), value);
}

static void metrics_setup(lm_runtime *rt) {
    char labels[96];
    snprintf(labels, sizeof(labels), "worker=\"%s\"", rt->w->name);
    lm_metrics *m = rt->metrics;
    rt->m_consumed = lm_metrics_counter(m, "lastmile_consumed_total",
                                        "Input messages taken", labels);
    rt->m_dead =
        lm_metrics_counter(m, "lastmile_dead_lettered_total",
                           "Input sent to the dead-letter topic", labels);
    char cl[160];
    snprintf(cl, sizeof(cl), "worker=\"%s\",class=\"retriable\"", rt->w->name);
    rt->m_errors_retriable =
        lm_metrics_counter(m, "lastmile_errors_total", "Errors by class", cl);
    snprintf(cl, sizeof(cl), "worker=\"%s\",class=\"fatal\"", rt->w->name);
    rt->m_errors_fatal =
        lm_metrics_counter(m, "lastmile_errors_total", "Errors by class", cl);
    rt->m_handler = lm_metrics_histogram(
        m, "lastmile_handler_seconds", "Batch time per message", labels,
        lm_metrics_latency_buckets, lm_metrics_latency_buckets_n);
    rt->m_batch = lm_metrics_histogram(
        m, "lastmile_batch_size", "Messages per batch", labels,
        lm_metrics_size_buckets, lm_metrics_size_buckets_n);
    rt->m_wait = lm_metrics_histogram(
        m, "lastmile_stage_wait_seconds",
        "How long input waited in Kafka before this worker took it", labels,
        lm_metrics_latency_buckets, lm_metrics_latency_buckets_n);
    rt->m_redis_rtt = lm_metrics_histogram(
        m, "lastmile_redis_roundtrip_seconds", "Redis pipeline round trips",
        labels, lm_metrics_latency_buckets, lm_metrics_latency_buckets_n);
    rt->m_deferred = lm_metrics_counter(
        m, "lastmile_inputs_deferred_total",
        "Inputs left for the next batch because an earlier input of the "
        "batch has the same hash tag",
        labels);
    rt->m_misplaced = lm_metrics_counter(
        m, "lastmile_input_misplaced_total",
        "Keyed inputs on another partition than murmur2 of their key names "
        "(their producer partitions otherwise)",
        labels);
    rt->m_seen_before = lm_metrics_counter(
        m, "lastmile_inputs_seen_before_total",
        "Inputs committed without being decided again: applied before (an "
        "event published twice, a redelivery) or repeated in the batch",
        labels);
}

static void runtime_free(lm_runtime *rt) {
    lm_metrics_server_stop(rt->server);
    rt_kafka_close(rt);
    rt_pipeline_free(rt);
    if (rt->dedupe)
        rt->dedupe->fini(rt);
    rt_cluster_free(rt);
    lm_redis_destroy(rt->redis);
    lm_metrics_destroy(rt->metrics);
    free(rt->items);
    lm_arena_free(&rt->inputs);
    free(rt->recs);
    free(rt->counts);
    free(rt->replies);
    free(rt->read_ptrs);
    lm_plan_gets_free(&rt->gets);
    lm_arena_free(&rt->reply_arena);
    lm_strmap_free(rt->seen);
    lm_buf_free(&rt->recbuf);
    lm_buf_free(&rt->obbuf);
    lm_buf_free(&rt->claimbuf);
    lm_buf_free(&rt->claims_read);
    lm_pipe_free(&rt->writes);
    lm_pipe_free(&rt->pipe);
    lm_pipe_free(&rt->index);
    lm_settings_free(&rt->s);
    free(rt);
}

/* The input topic, the group, and the output topics (the worker's, then
 * the dead-letter topic), each with its produced counter. */
static void topics_name(lm_runtime *rt) {
    const lm_worker *w = rt->w;
    lm_topic_name(&rt->s, w->input, rt->input_topic, sizeof(rt->input_topic));
    snprintf(rt->group, sizeof(rt->group), "%s%s", rt->s.topic_prefix, w->name);
    for (int i = 0; w->outputs && w->outputs[i] && i < RT_TOPICS_MAX - 1; i++) {
        snprintf(rt->topics[rt->n_topics].suffix, sizeof(rt->topics[0].suffix),
                 "%s", w->outputs[i]);
        lm_topic_name(&rt->s, w->outputs[i], rt->topics[rt->n_topics].name,
                      LM_TOPIC_MAX);
        rt->n_topics++;
    }
    rt->dlq_topic = rt->n_topics;
    snprintf(rt->topics[rt->n_topics].suffix, sizeof(rt->topics[0].suffix),
             "%s", LM_TOPIC_DLQ);
    lm_topic_name(&rt->s, LM_TOPIC_DLQ, rt->topics[rt->n_topics].name,
                  LM_TOPIC_MAX);
    rt->n_topics++;

    for (int t = 0; t < rt->n_topics; t++) {
        char labels[LM_TOPIC_MAX + 64];
        snprintf(labels, sizeof(labels), "worker=\"%s\",topic=\"%s\"", w->name,
                 rt->topics[t].name);
        rt->m_produced[t] = lm_metrics_counter(
            rt->metrics, "lastmile_produced_total",
            "Messages produced and acknowledged, by topic", labels);
    }
}

/* Connects Redis now (the scripts need their sha before the first plan).
 * -1 connected; else the exit code (2: refused for good; 0: stopped). */
static int redis_setup(lm_runtime *rt, char *err, size_t errsz) {
    const lm_worker *w = rt->w;
    rt->redis =
        lm_redis_new(rt->s.redis_url, rt->s.redis_timeout_ms, err, errsz);
    if (!rt->redis) {
        fprintf(stderr, "lastmile-%s: %s\n", w->name, err);
        return 2;
    }
    if (lm_redis_is_cluster(rt->redis) && rt_cluster_setup(rt) != 0) {
        fprintf(stderr, "lastmile-%s: out of memory\n", w->name);
        return 1;
    }
    rt->claims = w->claim_key && !rt->cluster && rt->dedupe == &rt_dedupe_by_id;
    for (int i = 0; w->scripts && w->scripts[i]; i++)
        lm_redis_add_script(rt->redis, w->scripts[i]);
    if (w->fire_timer || w->deliver_timer)
        lm_redis_add_script(rt->redis, lm_timers_script());
    /* scripts need their sha before the first plan: connect now */
    for (int64_t warned = 0;;) {
        int rc = lm_redis_connect(rt->redis, err, errsz);
        if (rc == 0)
            break;
        if (rc != LM_REDIS_RETRY) {
            lm_log(LM_LOG_ERROR, "redis_refused", "%s", err);
            return 2;
        }
        if (lm_clock_mono_ms() - warned > 5000) {
            lm_log(LM_LOG_WARN, "redis_unavailable", "%s; retrying", err);
            warned = lm_clock_mono_ms();
        }
        if (rt_stop)
            return 0;
        usleep(100 * 1000);
    }
    return -1;
}

/* A runtime for w with its settings loaded, its clock set and its
 * delivery state made; NULL with *code the exit code (2: a bad
 * configuration, said on stderr; 1: out of memory). The caller owns it
 * (runtime_free). */
static lm_runtime *runtime_new(const lm_worker *w, int *code) {
    char err[4096] = "";
    lm_runtime *rt = calloc(1, sizeof(*rt));
    *code = 1;
    if (!rt)
        return NULL;
    rt->w = w;
    lm_log_init(w->name, LM_LOG_INFO);
    if (lm_settings_load(&rt->s, w->name, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile-%s: bad configuration:\n%s\n", w->name, err);
        free(rt);
        *code = 2;
        return NULL;
    }
    lm_log_init(w->name, (lm_log_level)rt->s.log_level);
    lm_clock_init(rt->s.time_scale, rt->s.time_origin_ms, rt->s.time_start_ms);
    rt->crash_at = crash_at_from_env();
    rt->overlap = rt->s.overlap;
    rt->recover_timeout_ms = recover_timeout_from_env();
    rt->dedupe = w->dedupe == LM_DEDUPE_BY_OFFSET ? &rt_dedupe_by_offset
                                                  : &rt_dedupe_by_id;
    rt->seen = lm_strmap_new(0);
    if (!rt->seen || rt->dedupe->init(rt) != 0) {
        fprintf(stderr, "lastmile-%s: out of memory\n", w->name);
        runtime_free(rt);
        return NULL;
    }
    return rt;
}

/* Everything a batch needs, in order: the worker's init, the metrics
 * server, Redis, the worker's start, Kafka. -1 when all started, else the
 * exit code (2: the worker's configuration or the metrics address; 1 or
 * Redis's code: a failure, logged). */
static int runtime_start(lm_runtime *rt) {
    const lm_worker *w = rt->w;
    char err[4096] = "";
    if (w->init && w->init(w->ctx, &rt->s, err, sizeof(err)) != 0) {
        lm_log(LM_LOG_ERROR, "init_failed", "%s", err);
        fprintf(stderr, "lastmile-%s: %s\n", w->name, err);
        return 2;
    }
    rt->metrics = lm_metrics_new();
    if (!rt->metrics)
        return 1;
    metrics_setup(rt);
    lm_metrics_on_scrape(rt->metrics, on_scrape, rt);
    if (rt->s.metrics_addr && *rt->s.metrics_addr) {
        rt->server = lm_metrics_server_start(rt->metrics, rt->s.metrics_addr,
                                             ready_fn, rt, err, sizeof(err));
        if (!rt->server) {
            lm_log(LM_LOG_ERROR, "metrics_failed", "%s", err);
            return 2;
        }
    }
    topics_name(rt);
    int code = redis_setup(rt, err, sizeof(err));
    if (code != -1)
        return code;
    if (w->start && w->start(w->ctx, rt->redis, err, sizeof(err)) != 0) {
        lm_log(LM_LOG_ERROR, "start_failed", "%s", err);
        return 1;
    }
    atomic_store(&rt->ready_redis, 1);
    if (rt_kafka_setup(rt, err, sizeof(err)) != 0) {
        lm_log(LM_LOG_ERROR, "kafka_setup_failed", "%s", err);
        return 1;
    }
    return -1;
}

/* Batches, and the timer sweep between them, until a signal or a fatal
 * error; then the batch in flight settled. The exit code: 0, or 1 after
 * a fatal error. */
static int runtime_loop(lm_runtime *rt) {
    const lm_worker *w = rt->w;
    lm_log(LM_LOG_INFO, "started",
           "consuming %s as group %s, batches of up to %d", rt->input_topic,
           rt->group, rt->s.batch_max);
    while (!rt_stop && !rt->fatal) {
        run_batch(rt);
        if ((w->fire_timer || w->deliver_timer) &&
            lm_clock_mono_ms() - rt->last_tick_ms >= RT_TICK_EVERY_MS &&
            !rt_stop) {
            /* the sweep produces through the live batch's arrays, and a
               batch's outputs come before the timers it armed fire */
            if (rt_inflight_settle(rt) != 0)
                break;
            rt->last_tick_ms = lm_clock_mono_ms();
            if (w->deliver_timer)
                lm_timers_deliver_sweep(rt, w);
            else
                lm_timers_sweep(rt, w);
            /* readiness follows the sweep's connection, lost or found
               again, even with no input to notice it in a batch */
            atomic_store(&rt->ready_redis, lm_redis_connected(rt->redis));
        }
        redis_probe_when_not_ready(rt);
    }
    rt_inflight_settle(rt); /* within the drain deadline on SIGTERM */
    lm_log(rt->fatal ? LM_LOG_ERROR : LM_LOG_INFO, "stopping",
           rt->fatal ? "fatal error: stopping without committing further"
                     : "signal received: batch finished and committed, "
                       "leaving the group");
    return rt->fatal ? 1 : 0;
}

int lm_runtime_main(const lm_worker *w) {
    int code;
    lm_runtime *rt = runtime_new(w, &code);
    if (!rt)
        return code;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    code = runtime_start(rt);
    if (code == -1)
        code = runtime_loop(rt);
    if (w->fini)
        w->fini(w->ctx);
    runtime_free(rt);
    if (code == 0)
        lm_log(LM_LOG_INFO, "stopped", "clean exit");
    return code;
}
