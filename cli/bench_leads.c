/* bench_leads.c — the leads a bench run pushes and the results it reads
 * back (see bench_leads.h). A lead's first result is its first action,
 * its outcome when it is disqualified, or its decision when that left it
 * unassigned (no action is due); its time is the result's Kafka timestamp.
 * Single-threaded, like the bench. */
#include "bench_leads.h"

#include "lm_clock.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_stats.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_WAIT_MS 600000 /* the longest wait for a phase's results */

static const char *bench_countries[] = {"US", "DE", "GB", "IN",
                                        "BR", "JP", "FR", "CA"};
static const char *bench_titles[] = {"CEO", "VP Sales", "Director", "Manager",
                                     "Engineer"};

int bench_leads_make(bench_leads *b, size_t n, const char *tag) {
    memset(b, 0, sizeof(*b));
    b->n = n;
    b->val = calloc(n, sizeof(*b->val));
    b->len = calloc(n, sizeof(*b->len));
    b->key = calloc(n, sizeof(*b->key));
    b->lead_id = calloc(n, sizeof(*b->lead_id));
    b->sent_ms = calloc(n, sizeof(int64_t));
    b->result_ms = calloc(n, sizeof(int64_t));
    b->decided_ms = calloc(n, sizeof(int64_t));
    b->waits = calloc(n, 1);
    b->index = lm_strmap_new(n);
    if (!b->val || !b->len || !b->key || !b->lead_id || !b->sent_ms ||
        !b->result_ms || !b->decided_ms || !b->waits || !b->index)
        return -1;
    int64_t now = lm_clock_now_ms();
    for (size_t i = 0; i < n; i++) {
        char ev[64], person[LM_PERSON_MAX];
        snprintf(b->key[i], sizeof(b->key[i]), "b%zu.%s@bench%zu.example.com",
                 i, tag, i % 1000);
        snprintf(ev, sizeof(ev), "bench-%s-%zu", tag, i);
        Lastmile__V1__LeadSubmitted l = LASTMILE__V1__LEAD_SUBMITTED__INIT;
        l.event_id = ev;
        l.source = i % 3 ? "web_form" : "referral";
        l.email = b->key[i];
        l.title = (char *)bench_titles[i % 5];
        l.company_size = (int32_t)(10 + (i * 37) % 3000);
        l.country = (char *)bench_countries[i % 8];
        l.submitted_at_ms = now;
        b->len[i] = protobuf_c_message_get_packed_size(&l.base);
        b->val[i] = malloc(b->len[i]);
        if (!b->val[i])
            return -1;
        protobuf_c_message_pack(&l.base, b->val[i]);
        lm_lead_person(b->key[i], person);
        lm_lead_id(person, ev, b->lead_id[i]);
        if (!lm_strmap_put_str(b->index, b->lead_id[i], (int64_t)i, NULL))
            return -1;
    }
    return 0;
}

static int64_t leads_find(const bench_leads *b, const char *id) {
    const int64_t *i = lm_strmap_get_str(b->index, id);
    return i ? *i : -1;
}

void bench_leads_free(bench_leads *b) {
    for (size_t i = 0; b->val && i < b->n; i++)
        free(b->val[i]);
    free(b->val);
    free(b->len);
    free(b->key);
    free(b->lead_id);
    free(b->sent_ms);
    free(b->result_ms);
    free(b->decided_ms);
    free(b->waits);
    lm_strmap_free(b->index);
}

/* A worker of the phase has exited: what it was sent will not all come
 * back, so the wait ends now (bench_procs_exited told why). */
static int io_worker_gone(bench_io *io) {
    return io->procs && bench_procs_exited(io->procs, *io->n_procs) > 0;
}

rd_kafka_t *bench_reader_new(const lm_settings *s, char *err, size_t errsz) {
    rd_kafka_conf_t *c = lm_kafka_conf(s, LM_KAFKA_READER, NULL, err, errsz);
    if (!c)
        return NULL;
    rd_kafka_conf_set(c, "enable.partition.eof", "false", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, errsz);
    if (!rk)
        return NULL;
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(16);
    const char *suffixes[] = {LM_TOPIC_ACTIONS, LM_TOPIC_OUTCOMES,
                              LM_TOPIC_FOLLOWUP};
    for (int t = 0; t < 3; t++) {
        char name[LM_TOPIC_MAX];
        lm_topic_name(s, suffixes[t], name, sizeof(name));
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == 0) {
            for (int p = 0; p < md->topics[0].partition_cnt; p++)
                rd_kafka_topic_partition_list_add(parts, name, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(rkt);
    }
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return rk;
}

/* Reads results: for the fleet, a lead's first TOUCH (step 0), its
 * DISQUALIFIED outcome, or its decision when no owner had room (it waits
 * unassigned: the fleet's part is done, docs/ROUTING.md); for the
 * passthrough, the lead's bytes arriving on actions (found by key). */
static void read_results(bench_io *io, bench_leads *b, int passthrough,
                         int wait_ms) {
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(io->reader, wait_ms);
        wait_ms = 0;
        if (!m)
            return;
        int64_t idx = -1;
        if (!m->err && m->payload) {
            int64_t ts = rd_kafka_message_timestamp(m, NULL);
            const char *tn = rd_kafka_topic_name(m->rkt);
            if (passthrough && !strstr(tn, "actions")) {
                /* its copies on the other hops: not yet through */
            } else if (passthrough) {
                Lastmile__V1__LeadSubmitted *l =
                    lastmile__v1__lead_submitted__unpack(NULL, m->len,
                                                         m->payload);
                if (l) {
                    char person[LM_PERSON_MAX], id[LM_LEAD_ID_MAX];
                    lm_lead_person(l->email, person);
                    lm_lead_id(person, l->event_id, id);
                    idx = leads_find(b, id);
                    lastmile__v1__lead_submitted__free_unpacked(l, NULL);
                }
            } else if (strstr(tn, "followup")) {
                Lastmile__V1__FollowUpEvent *e =
                    lastmile__v1__follow_up_event__unpack(NULL, m->len,
                                                          m->payload);
                if (e && e->event_case ==
                             LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION) {
                    int64_t d = leads_find(b, e->decision->lead_id);
                    if (d >= 0 && b->decided_ms[d] == 0)
                        b->decided_ms[d] = ts > 0 ? ts : lm_clock_real_ms();
                    if (e->decision->unassigned && d >= 0) {
                        idx = d; /* its result: no action is due */
                        b->waits[d] = 1;
                    }
                }
                if (e)
                    lastmile__v1__follow_up_event__free_unpacked(e, NULL);
            } else if (strstr(tn, "actions")) {
                Lastmile__V1__FollowUpAction *a =
                    lastmile__v1__follow_up_action__unpack(NULL, m->len,
                                                           m->payload);
                if (a && a->kind == LASTMILE__V1__ACTION_KIND__TOUCH &&
                    a->step == 0)
                    idx = leads_find(b, a->lead_id);
                if (a)
                    lastmile__v1__follow_up_action__free_unpacked(a, NULL);
            } else {
                Lastmile__V1__Outcome *o =
                    lastmile__v1__outcome__unpack(NULL, m->len, m->payload);
                if (o && o->status ==
                             LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME)
                    idx = leads_find(b, o->lead_id);
                if (o)
                    lastmile__v1__outcome__free_unpacked(o, NULL);
            }
            if (idx >= 0 && b->result_ms[idx] == 0) {
                b->result_ms[idx] = ts > 0 ? ts : lm_clock_real_ms();
                io->results++;
            }
        }
        rd_kafka_message_destroy(m);
    }
}

static void send_lead(bench_io *io, bench_leads *b, size_t i) {
    b->sent_ms[i] = lm_clock_real_ms();
    while (rd_kafka_producev(io->prod, RD_KAFKA_V_TOPIC(io->t_intake),
                             RD_KAFKA_V_KEY(b->key[i], strlen(b->key[i])),
                             RD_KAFKA_V_VALUE(b->val[i], b->len[i]),
                             RD_KAFKA_V_MSGFLAGS(0),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(io->prod, 5);
    rd_kafka_poll(io->prod, 0);
}

/* Push all leads at once; the rate is n / (last result - first send). */
double bench_run_max(bench_io *io, bench_leads *b, int passthrough) {
    int64_t t0 = lm_clock_real_ms();
    for (size_t i = 0; i < b->n; i++) {
        send_lead(io, b, i);
        if (i % 1000 == 999)
            read_results(io, b, passthrough, 0);
    }
    rd_kafka_flush(io->prod, 60000);
    int64_t deadline = lm_clock_mono_ms() + BENCH_WAIT_MS;
    while (io->results < b->n && !*io->stop && lm_clock_mono_ms() < deadline &&
           !io_worker_gone(io))
        read_results(io, b, passthrough, 100);
    int64_t last = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->result_ms[i] > last)
            last = b->result_ms[i];
    if (io->results < b->n || last <= t0)
        return 0;
    return (double)b->n * 1000.0 / (double)(last - t0);
}

/* Offer `rate` leads/s; record latencies (ms) of the leads in [0, n). */
/* Sends b's leads at `rate`; at_half (when not NULL) is called with arg
 * once half of them are sent. */
int bench_run_paced(bench_io *io, bench_leads *b, double rate,
                    void (*at_half)(void *), void *arg) {
    int64_t t0 = lm_clock_mono_ms();
    for (size_t i = 0; i < b->n && !*io->stop; i++) {
        if (i % 1000 == 999 && io_worker_gone(io))
            break;
        int64_t due = t0 + (int64_t)((double)i * 1000.0 / rate);
        while (lm_clock_mono_ms() < due) {
            read_results(io, b, 0, 0);
            usleep(200);
        }
        if (at_half && i == b->n / 2)
            at_half(arg);
        send_lead(io, b, i);
    }
    rd_kafka_flush(io->prod, 60000);
    int64_t deadline = lm_clock_mono_ms() + BENCH_WAIT_MS;
    while (io->results < b->n && !*io->stop && lm_clock_mono_ms() < deadline &&
           !io_worker_gone(io))
        read_results(io, b, 0, 100);
    return io->results == b->n ? 0 : -1;
}

/* Percentiles pct[0..np) of the leads in [from, to) with both times set,
 * each lead's value b - a (a, b: arrays of ms); how many there were. */
static size_t span_percentiles(const int64_t *a, const int64_t *b, size_t from,
                               size_t to, const double *pct, int np,
                               double *out) {
    double *v = malloc((to > from ? to - from : 1) * sizeof(double));
    size_t n = 0;
    for (size_t i = from; v && i < to; i++)
        if (a[i] && b[i])
            v[n++] = (double)(b[i] - a[i]);
    if (v && n > 0) { /* none measured: the zeros stay */
        lm_stats_sort(v, n);
        for (int k = 0; k < np; k++)
            out[k] = lm_stats_percentile(v, n, pct[k]);
    }
    free(v);
    return n;
}

/* The latency run's figures: submit → first result for all its leads and
 * for each half (the bench's rewrite starts at the middle); submit →
 * decision for every lead decided; decision → first action for the leads
 * the decision gave an owner (an unassigned lead's result is its
 * decision, a disqualified one's its outcome). */
void bench_latency_figures(const bench_leads *bl, bench_results *r) {
    static const double all[3] = {50, 99, 99.9}, two[2] = {50, 99};
    size_t m = bl->n;
    r->n_lat =
        span_percentiles(bl->sent_ms, bl->result_ms, 0, m, all, 3, r->lat);
    span_percentiles(bl->sent_ms, bl->result_ms, 0, m / 2, two, 2,
                     r->lat_halves[0]);
    span_percentiles(bl->sent_ms, bl->result_ms, m / 2, m, two, 2,
                     r->lat_halves[1]);
    /* an unassigned lead's result is its decision: only the others split */
    int64_t *acted = calloc(m ? m : 1, sizeof(int64_t));
    for (size_t i = 0; acted && i < m; i++)
        if (!bl->waits[i])
            acted[i] = bl->result_ms[i];
    if (acted) {
        span_percentiles(bl->sent_ms, bl->decided_ms, 0, m, two, 2,
                         r->lat_to_decision);
        span_percentiles(bl->decided_ms, acted, 0, m, two, 2,
                         r->lat_decision_to_action);
    }
    free(acted);
}
