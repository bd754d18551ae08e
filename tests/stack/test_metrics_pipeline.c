/* test_metrics_pipeline.c — /metrics, /healthz and /readyz of every worker,
 * scraped during a pipeline run on the embedded stack (mock broker over
 * TCP, real redis-server), checked against the test's own consumers.
 *
 *   metrics.counters_equal_topics: the fleet with LASTMILE_METRICS_ADDR on a
 *     free port each; 500 people (+ re-submissions and invalid ones) on an
 *     accelerated clock; the market answers 30% of first touches, the test
 *     buys (CONVERTED, with a deal value) from another 10%. Every scrape,
 * during and after the run, passes a strict exposition-format check (prom_check
 * in prom_check.h) and no counter goes down; once the topics are drained and
 * the counters are stable, each counter equals what the test's own readers
 * counted on the topics (consumed = messages on the input topic, decisions,
 * outcomes and actions by kind, dead letters, cost, revenue, timers fired,
 *     histogram counts).
 *   metrics.readyz_follows_redis: /readyz is 200 once partitions are
 *     assigned; after redis-server stops it turns 503 ("redis ...") as soon
 *     as a worker next talks to Redis (leads keep flowing in meanwhile),
 *     and 200 again when Redis is back; the leads submitted during the
 *     outage are then accepted, each once.
 *
 * The HTTP client is lm_http_get (the CLI's, tested in test_http.c) and
 * the format checker is the test's own (a strict line parser in
 * prom_check.h, tested by test_prom_check.c): neither is the server's
 * code. */
#include "market.h"

#include "lm_hash.h"
#include "lm_http_get.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include "prom_check.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MT_HTTP_TIMEOUT_S 5
#define MT_PEOPLE         500
#define MT_DUPS           25
#define MT_INVALID        10
#define MT_RESPOND_SHARE  0.3 /* first touches the market answers */
#define MT_CONVERT_SHARE  0.1 /* first touches this test buys from */
#define MT_DEAL_MIN_CENTS 10000

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

static const char *const workers[FX_WORKERS] = {"intake", "qualification",
                                                "followup", "timing"};

/* ================================================================ HTTP */

/* GET http://127.0.0.1:port/path with the one test client; 0 when a
 * whole response arrived (r filled: lm_http_get_free), -1 otherwise (r
 * empty, status 0). */
static int http_get(int port, const char *path, lm_http_get_reply *r) {
    char err[MT_ERR_MAX];
    if (lm_http_get("127.0.0.1", port, path, MT_HTTP_TIMEOUT_S * 1000, r, err,
                    sizeof(err)) == 0)
        return 0;
    cr_log_info("GET %s on port %d: %s", path, port, err);
    return -1;
}

/* Scrapes one worker's /metrics and checks the format (a failure is a
 * test failure naming the worker). 0 / -1. */
static int scrape(int port, const char *worker, prom_scrape *p) {
    lm_http_get_reply r;
    char err[MT_ERR_MAX], ctype[128] = "";
    memset(p, 0, sizeof(*p));
    if (http_get(port, "/metrics", &r) != 0 || r.status != 200) {
        cr_expect_fail("GET /metrics of %s (port %d): status %d", worker, port,
                       r.status);
        lm_http_get_free(&r);
        return -1;
    }
    lm_http_get_header(&r, "Content-Type", ctype, sizeof(ctype));
    cr_expect(strstr(ctype, "text/plain") && strstr(ctype, "0.0.4"),
              "%s /metrics Content-Type \"%s\"", worker, ctype);
    int rc = prom_check(r.body, r.body_len, p, err, sizeof(err));
    cr_expect_eq(rc, 0, "%s /metrics is not valid exposition format: %s",
                 worker, err);
    lm_http_get_free(&r);
    if (rc != 0)
        prom_free(p);
    return rc;
}

/* ============================================================ the tally */

/* What the test's own readers counted on the topics. */
typedef struct tally {
    size_t intake, qualification, followup, timing, dlq, dlq_intake;
    size_t dlq_by[FX_WORKERS]; /* dead letters by the worker that wrote them */
    size_t decisions, qualified, nurture; /* DECISION events on followup */
    size_t touches, handoffs, cancels, touches_step0;
    /* owner deadlines: decisions made again (sla_breach), steps given again
       to the new owner, reminders, escalations */
    size_t reassign_decisions, reassigned, reminders, escalations;
    int64_t cost_cents;
    size_t outcomes, by_status[16], cycle;
    int64_t revenue_cents;
    size_t timers_fired, responses;
    int convert; /* 1: buy from a share of first touches (see convert) */
} tally;

typedef struct counting {
    topic_reader *r[7];
    tally t;
} counting;

static void on_intake(void *o, const rd_kafka_message_t *rkm) {
    (void)rkm;
    ((tally *)o)->intake++;
}
static void on_qualification(void *o, const rd_kafka_message_t *rkm) {
    (void)rkm;
    ((tally *)o)->qualification++;
}
static void on_followup(void *o, const rd_kafka_message_t *rkm) {
    tally *t = o;
    t->followup++;
    Lastmile__V1__FollowUpEvent *e =
        lastmile__v1__follow_up_event__unpack(NULL, rkm->len, rkm->payload);
    if (e && e->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION &&
        e->decision->reason && strcmp(e->decision->reason, "sla_breach") == 0) {
        t->reassign_decisions++; /* timing's, not qualification's */
    } else if (e &&
               e->event_case == LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION) {
        t->decisions++;
        if (e->decision->kind == LASTMILE__V1__DECISION_KIND__QUALIFIED)
            t->qualified++;
        else if (e->decision->kind == LASTMILE__V1__DECISION_KIND__NURTURE)
            t->nurture++;
    }
    if (e)
        lastmile__v1__follow_up_event__free_unpacked(e, NULL);
}
/* The market answers a share of first touches (REPLIED); this test buys
 * from another share (CONVERTED, with a deal value), so revenue moves. */
static void convert(const Lastmile__V1__FollowUpAction *a) {
    double u = lm_hash_unit(lm_hash64_str(a->lead_id, 99));
    if (a->step != 0 || u < MT_RESPOND_SHARE ||
        u >= MT_RESPOND_SHARE + MT_CONVERT_SHARE)
        return;
    char ev[128];
    snprintf(ev, sizeof(ev), "buy-%s", a->lead_id);
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    r.event_id = ev;
    r.lead_id = a->lead_id;
    r.kind = LASTMILE__V1__RESPONSE_KIND__CONVERTED;
    r.action_id = a->action_id;
    r.deal_value_cents =
        MT_DEAL_MIN_CENTS + (int64_t)(lm_hash64_str(a->lead_id, 7) % 90000);
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    te.response = &r;
    fixture_produce(&fx, "timing", a->lead_id, &te.base);
}

static void on_action(void *o, const rd_kafka_message_t *rkm) {
    tally *t = o;
    Lastmile__V1__FollowUpAction *a =
        lastmile__v1__follow_up_action__unpack(NULL, rkm->len, rkm->payload);
    if (!a)
        return;
    if (a->reason && strcmp(a->reason, "sla_breach") == 0 &&
        (a->kind == LASTMILE__V1__ACTION_KIND__TOUCH ||
         a->kind == LASTMILE__V1__ACTION_KIND__HANDOFF)) {
        t->reassigned++; /* followup: the step again, for the new owner */
    } else if (a->kind == LASTMILE__V1__ACTION_KIND__REMINDER) {
        t->reminders++;
    } else if (a->kind == LASTMILE__V1__ACTION_KIND__ESCALATION) {
        t->escalations++;
    } else if (a->kind == LASTMILE__V1__ACTION_KIND__TOUCH) {
        t->touches++;
        t->cost_cents += a->cost_cents;
        if (a->step == 0 && a->submitted_at_ms > 0 &&
            a->scheduled_for_ms >= a->submitted_at_ms)
            t->touches_step0++;
        if (t->convert)
            convert(a);
    } else if (a->kind == LASTMILE__V1__ACTION_KIND__HANDOFF) {
        t->handoffs++;
    } else if (a->kind == LASTMILE__V1__ACTION_KIND__CANCEL) {
        t->cancels++; /* a touch taken back: the lead answered first */
    }
    lastmile__v1__follow_up_action__free_unpacked(a, NULL);
}
static void on_timing(void *o, const rd_kafka_message_t *rkm) {
    tally *t = o;
    t->timing++;
    Lastmile__V1__TimingEvent *e =
        lastmile__v1__timing_event__unpack(NULL, rkm->len, rkm->payload);
    if (e && e->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED)
        t->timers_fired++;
    else if (e)
        t->responses++;
    if (e)
        lastmile__v1__timing_event__free_unpacked(e, NULL);
}
static void on_outcome(void *o, const rd_kafka_message_t *rkm) {
    tally *t = o;
    Lastmile__V1__Outcome *oc =
        lastmile__v1__outcome__unpack(NULL, rkm->len, rkm->payload);
    if (!oc)
        return;
    t->outcomes++;
    if ((unsigned)oc->status < 16)
        t->by_status[oc->status]++;
    if (oc->status == LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME)
        t->revenue_cents += oc->deal_value_cents;
    if (oc->status != LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME &&
        oc->status != LASTMILE__V1__OUTCOME_STATUS__LATE_RESPONSE &&
        oc->submitted_at_ms > 0 && oc->closed_at_ms >= oc->submitted_at_ms)
        t->cycle++;
    lastmile__v1__outcome__free_unpacked(oc, NULL);
}
static void on_dlq(void *o, const rd_kafka_message_t *rkm) {
    tally *t = o;
    t->dlq++;
    Lastmile__V1__DeadLetter *d =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    if (d && d->worker && strcmp(d->worker, "intake") == 0)
        t->dlq_intake++;
    for (int i = 0; d && d->worker && i < FX_WORKERS; i++)
        if (strcmp(d->worker, workers[i]) == 0)
            t->dlq_by[i]++;
    if (d)
        lastmile__v1__dead_letter__free_unpacked(d, NULL);
}

static const char *const count_topics[7] = {
    "intake", "qualification", "followup", "actions",
    "timing", "outcomes",      "dlq"};
static const reader_fn count_fns[7] = {on_intake, on_qualification, on_followup,
                                       on_action, on_timing,        on_outcome,
                                       on_dlq};

static void counting_init(counting *c) {
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < 7; i++)
        c->r[i] = reader_new(&fx, count_topics[i]);
}
static void counting_drain(counting *c) {
    for (int i = 0; i < 7; i++)
        reader_drain(c->r[i], 50, count_fns[i], &c->t);
}
static void counting_free(counting *c) {
    for (int i = 0; i < 7; i++)
        reader_free(c->r[i]);
}

/* ============================================================ the fleet */

static int ports[FX_WORKERS];

static void start_fleet_with_metrics(void) {
    cr_assert_eq(fixture_start_all_with_metrics(&fx, ports), 0);
}

/* The HTTP status of GET path on worker i (0: no answer); body into why. */
static int status_of(int i, const char *path, char *why, size_t whysz) {
    lm_http_get_reply r;
    int st = http_get(ports[i], path, &r) == 0 ? r.status : 0;
    if (why)
        snprintf(why, whysz, "%s", r.body ? r.body : "");
    lm_http_get_free(&r);
    return st;
}

static void wait_all_ready(int64_t timeout_ms) {
    int64_t deadline = fixture_mono_ms() + fixture_ms(timeout_ms);
    for (int i = 0; i < FX_WORKERS; i++) {
        char why[256] = "";
        int st = 0;
        while ((st = status_of(i, "/readyz", why, sizeof(why))) != 200 &&
               fixture_mono_ms() < deadline)
            usleep(200 * 1000);
        cr_assert_eq(st, 200, "%s /readyz: %d %s", workers[i], st, why);
        cr_assert_eq(status_of(i, "/healthz", NULL, 0), 200,
                     "%s /healthz is not 200", workers[i]);
    }
}

/* ============================================================ the tests */

static size_t expected_accepted;

static int all_closed(const market *m) {
    return m->accepted.n == expected_accepted &&
           m->outcomes.n >= expected_accepted;
}

/* One comparison: a counter (summed over the series that contain `has`)
 * against the count on the topics. Returns 1 when equal. */
typedef struct expect_row {
    int worker; /* index into workers[] */
    const char *name, *has;
    double want;
} expect_row;

static int rows_equal(prom_scrape *sc, const expect_row *rows, size_t n,
                      int report) {
    int all = 1;
    for (size_t i = 0; i < n; i++) {
        const expect_row *e = &rows[i];
        double got = prom_sum(&sc[e->worker], e->name, e->has);
        if (got != e->want) {
            all = 0;
            if (report)
                cr_expect_fail("%s %s{%s} = %.0f, the topics say %.0f",
                               workers[e->worker], e->name,
                               e->has ? e->has : "", got, e->want);
        } else if (report) {
            cr_log_info("%s %s{%s} = %.0f as on the topics", workers[e->worker],
                        e->name, e->has ? e->has : "", got);
        }
    }
    return all;
}

#define ROWS_MAX 48

static size_t build_rows(const tally *t, expect_row *r) {
    size_t n = 0;
    enum { W_I = 0, W_Q, W_F, W_T };
#define ROW(w, nm, h, v) r[n++] = (expect_row){w, nm, h, (double)(v)}
    ROW(W_I, "lastmile_consumed_total", NULL, t->intake);
    ROW(W_Q, "lastmile_consumed_total", NULL, t->qualification);
    ROW(W_F, "lastmile_consumed_total", NULL, t->followup);
    ROW(W_T, "lastmile_consumed_total", NULL, t->timing);
    /* a batch's size is observed once per batch: sizes sum to consumed */
    ROW(W_I, "lastmile_batch_size_sum", NULL, t->intake);
    ROW(W_Q, "lastmile_batch_size_sum", NULL, t->qualification);
    ROW(W_F, "lastmile_batch_size_sum", NULL, t->followup);
    ROW(W_T, "lastmile_batch_size_sum", NULL, t->timing);
    ROW(W_I, "lastmile_dead_lettered_total", NULL, t->dlq_by[W_I]);
    ROW(W_Q, "lastmile_dead_lettered_total", NULL, t->dlq_by[W_Q]);
    ROW(W_F, "lastmile_dead_lettered_total", NULL, t->dlq_by[W_F]);
    ROW(W_T, "lastmile_dead_lettered_total", NULL, t->dlq_by[W_T]);
    ROW(W_I, "lastmile_intake_total", "result=\"accepted\"", t->qualification);
    ROW(W_I, "lastmile_intake_total", "result=\"merged\"",
        t->intake - t->qualification - t->dlq_intake);
    ROW(W_Q, "lastmile_decisions_total", NULL,
        t->decisions +
            t->by_status[LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME]);
    ROW(W_Q, "lastmile_decisions_total", "kind=\"QUALIFIED\"", t->qualified);
    ROW(W_Q, "lastmile_decisions_total", "kind=\"NURTURE\"", t->nurture);
    ROW(W_Q, "lastmile_decisions_total", "kind=\"DISQUALIFIED\"",
        t->by_status[LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME]);
    ROW(W_Q, "lastmile_outcomes_total", NULL,
        t->by_status[LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME]);
    ROW(W_T, "lastmile_outcomes_total", NULL,
        t->outcomes -
            t->by_status[LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME]);
    static char labels[16][64];
    for (int s = 1; s < 16; s++) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &lastmile__v1__outcome_status__descriptor, s);
        if (!v || s == LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME)
            continue;
        snprintf(labels[s], sizeof(labels[s]), "status=\"%s\"", v->name);
        ROW(W_T, "lastmile_outcomes_total", labels[s], t->by_status[s]);
    }
    ROW(W_F, "lastmile_actions_total", "kind=\"touch\"", t->touches);
    ROW(W_F, "lastmile_actions_total", "kind=\"reassigned\"", t->reassigned);
    ROW(W_F, "lastmile_actions_total", NULL, t->touches + t->reassigned);
    ROW(W_T, "lastmile_owner_reassignments_total", NULL, t->reassign_decisions);
    ROW(W_T, "lastmile_owner_reminders_total", NULL, t->reminders);
    ROW(W_T, "lastmile_owner_escalations_total", NULL, t->escalations);
    ROW(W_T, "lastmile_actions_total", "kind=\"handoff\"", t->handoffs);
    ROW(W_T, "lastmile_actions_total", "kind=\"cancel\"", t->cancels);
    ROW(W_T, "lastmile_actions_total", NULL, t->handoffs + t->cancels);
    ROW(W_F, "lastmile_cost_cents_total", NULL, t->cost_cents);
    ROW(W_T, "lastmile_revenue_cents_total", NULL, t->revenue_cents);
    ROW(W_T, "lastmile_timers_fired_total", NULL, t->timers_fired);
    ROW(W_F, "lastmile_speed_to_lead_seconds_count", NULL, t->touches_step0);
    ROW(W_T, "lastmile_cycle_time_seconds_count", NULL, t->cycle);
#undef ROW
    return n;
}

/* Every counter of `now` is >= the same series in `before`. */
static void expect_monotonic(const prom_scrape *before, const prom_scrape *now,
                             const char *worker) {
    for (size_t i = 0; i < now->n; i++) {
        const prom_sample *s = &now->s[i];
        size_t nl = strlen(s->name);
        int counter = (nl > 6 && strcmp(s->name + nl - 6, "_total") == 0) ||
                      (nl > 6 && strcmp(s->name + nl - 6, "_count") == 0) ||
                      (nl > 7 && strcmp(s->name + nl - 7, "_bucket") == 0);
        if (!counter)
            continue;
        for (size_t k = 0; k < before->n; k++) {
            const prom_sample *b = &before->s[k];
            if (strcmp(b->name, s->name) == 0 &&
                strcmp(b->labels, s->labels) == 0) {
                cr_expect_geq(s->value, b->value, "%s: %s{%s} went down",
                              worker, s->name, s->labels);
                break;
            }
        }
    }
}

/* Scrapes every worker once, checking each counter against the previous
 * scrape (prev becomes this one). The number of valid scrapes. */
static int scrape_round(prom_scrape prev[FX_WORKERS],
                        prom_scrape sc[FX_WORKERS]) {
    int n = 0;
    for (int i = 0; i < FX_WORKERS; i++) {
        if (scrape(ports[i], workers[i], &sc[i]) != 0)
            continue;
        if (prev[i].s)
            expect_monotonic(&prev[i], &sc[i], workers[i]);
        prom_free(&prev[i]);
        prev[i] = sc[i];
        memset(&sc[i], 0, sizeof(sc[i]));
        n++;
    }
    return n;
}

Test(metrics, counters_equal_topics, .fini = teardown, .timeout = 600) {
    cr_assert_eq(fixture_up(&fx, 4, 400000), 0);
    start_fleet_with_metrics();
    wait_all_ready(60000);
    counting c;
    counting_init(&c);
    c.t.convert = 1;
    market m;
    market_init(&m, &fx, MT_RESPOND_SHARE);
    expected_accepted = MT_PEOPLE;
    market_submit(&m, MT_PEOPLE, MT_DUPS, MT_INVALID, 7);

    /* during the run: every scrape valid, counters never go down */
    prom_scrape prev[FX_WORKERS], sc[FX_WORKERS];
    memset(prev, 0, sizeof(prev));
    memset(sc, 0, sizeof(sc));
    int scrapes = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(240000);
    int64_t next_scrape = 0;
    while (!all_closed(&m) && fixture_mono_ms() < deadline) {
        market_pump(&m, 200);
        counting_drain(&c);
        if (fixture_mono_ms() < next_scrape)
            continue;
        next_scrape = fixture_mono_ms() + 1000;
        scrapes += scrape_round(prev, sc);
    }
    cr_expect(all_closed(&m),
              "not every lead closed in time: accepted %zu, "
              "outcomes %zu",
              m.accepted.n, m.outcomes.n);
    /* the loop scraped at least once (its first pass); one more round now
       compares every series across the run, however fast it was */
    scrapes += scrape_round(prev, sc);
    cr_log_info("%d valid scrapes during the run", scrapes);
    cr_expect_geq(scrapes, 2 * FX_WORKERS,
                  "only %d valid scrapes: some /metrics did not parse",
                  scrapes);

    /* after: drained topics, stable counters, equal to the tally */
    expect_row rows[ROWS_MAX];
    size_t n_rows = 0;
    int equal = 0, stable = 0;
    deadline = fixture_mono_ms() + fixture_ms(60000);
    while (fixture_mono_ms() < deadline) {
        market_pump(&m, 100);
        counting_drain(&c);
        int ok = 1;
        for (int i = 0; i < FX_WORKERS; i++) {
            prom_free(&sc[i]);
            ok &= scrape(ports[i], workers[i], &sc[i]) == 0;
        }
        if (!ok)
            break;
        n_rows = build_rows(&c.t, rows);
        cr_assert_leq(n_rows, ROWS_MAX);
        equal = rows_equal(sc, rows, n_rows, 0);
        /* lag from librdkafka's statistics (every 5 s) back to 0 */
        int lag_zero = 1;
        for (int i = 0; i < FX_WORKERS; i++)
            lag_zero &= prom_count(&sc[i], "lastmile_consumer_lag") > 0 &&
                        prom_sum(&sc[i], "lastmile_consumer_lag", NULL) == 0;
        stable = equal && lag_zero ? stable + 1 : 0;
        if (stable >= 2)
            break;
        usleep(500 * 1000);
    }
    cr_log_info("topics: intake %zu, qualification %zu, followup %zu "
                "(decisions %zu), actions %zu touch + %zu handoff, timing "
                "%zu (timers %zu), outcomes %zu, dlq %zu",
                c.t.intake, c.t.qualification, c.t.followup, c.t.decisions,
                c.t.touches, c.t.handoffs, c.t.timing, c.t.timers_fired,
                c.t.outcomes, c.t.dlq);
    cr_expect_eq(c.t.intake, MT_PEOPLE + MT_DUPS + MT_INVALID);
    cr_expect_eq(c.t.qualification, MT_PEOPLE);
    cr_expect_eq(c.t.dlq_intake, MT_INVALID);
    cr_expect_gt(c.t.timers_fired, 0, "no timer fired: cadences did not run");
    cr_expect_gt(c.t.revenue_cents, 0, "no conversion: revenue not exercised");
    rows_equal(sc, rows, n_rows, 1);
    cr_expect_geq(stable, 2,
                  "counters did not settle equal to the topics with "
                  "consumer lag 0 in time");

    /* the series every worker must have */
    static const char *const must[] = {"lastmile_consumed_total",
                                       "lastmile_dead_lettered_total",
                                       "lastmile_errors_total",
                                       "lastmile_handler_seconds_count",
                                       "lastmile_batch_size_count",
                                       "lastmile_stage_wait_seconds_count",
                                       "lastmile_redis_roundtrip_seconds_count",
                                       "lastmile_consumer_lag",
                                       "lastmile_stage_oldest_waiting_seconds",
                                       NULL};
    for (int i = 0; i < FX_WORKERS; i++) {
        for (int k = 0; must[k]; k++)
            cr_expect_gt(prom_count(&sc[i], must[k]), 0, "%s has no %s",
                         workers[i], must[k]);
        cr_expect_eq(
            prom_sum(&sc[i], "lastmile_errors_total", "class=\"fatal\""), 0,
            "%s counted fatal errors", workers[i]);
        cr_expect_eq(prom_count(&sc[i], "lastmile_consumer_lag"), 4,
                     "%s: consumer lag for %zu partitions, not 4", workers[i],
                     prom_count(&sc[i], "lastmile_consumer_lag"));
    }
    cr_expect_gt(prom_count(&sc[3], "lastmile_timers_pending"), 0,
                 "timing has no lastmile_timers_pending");
    for (int i = 0; i < FX_WORKERS; i++) {
        prom_free(&sc[i]);
        prom_free(&prev[i]);
    }
    counting_free(&c);
    market_free(&m);
}

static int accepted_all(const market *m) {
    return m->accepted.n >= expected_accepted;
}

Test(metrics, readyz_follows_redis, .fini = teardown, .timeout = 600) {
    cr_assert_eq(fixture_up(&fx, 4, 400000), 0);
    start_fleet_with_metrics();
    wait_all_ready(60000);
    market m;
    market_init(&m, &fx, 0.0);
    expected_accepted = 20;
    market_submit(&m, 20, 0, 0, 21);
    cr_assert(market_until(&m, accepted_all, 60000), "the fleet is not moving");

    cr_assert_eq(lm_devstack_redis_stop(&fx.st, 0), 0);
    /* a worker notices when it next talks to Redis: keep leads coming */
    int submitted = 0, st = 0;
    char why[256] = "";
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    while (fixture_mono_ms() < deadline) {
        market_submit(&m, 1, 0, 0, 1000 + submitted++);
        market_pump(&m, 300);
        if ((st = status_of(0, "/readyz", why, sizeof(why))) == 503)
            break;
    }
    cr_expect_eq(st, 503, "intake /readyz is %d while Redis is down", st);
    cr_expect(strstr(why, "redis") != NULL,
              "the reason does not name Redis: \"%s\"", why);
    cr_expect_eq(status_of(0, "/healthz", NULL, 0), 200,
                 "/healthz must stay 200: the process is alive");
    cr_log_info("intake not ready after %d lead(s) without Redis: %s",
                submitted, why);

    char err[512];
    cr_assert_eq(lm_devstack_redis_start(&fx.st, 1, err, sizeof err), 0,
                 "redis restart: %s", err);
    deadline = fixture_mono_ms() + fixture_ms(30000);
    while (fixture_mono_ms() < deadline &&
           (st = status_of(0, "/readyz", why, sizeof(why))) != 200)
        market_pump(&m, 200);
    cr_expect_eq(st, 200, "intake /readyz is %d after Redis returned: %s", st,
                 why);
    /* the batch held during the outage goes through, once */
    expected_accepted = 20 + (size_t)submitted;
    int done = market_until(&m, accepted_all, 60000);
    for (int i = 0; i < 5; i++)
        market_pump(&m, 100);
    cr_expect(done, "accepted %zu of %zu after Redis returned", m.accepted.n,
              expected_accepted);
    cr_expect_eq(m.accepted.n, expected_accepted);
    cr_expect_eq(m.accepted.dups, 0, "a lead accepted twice");
    wait_all_ready(30000);
    market_free(&m);
}
