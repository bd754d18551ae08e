/* bench.c — `lastmile bench`: the fleet against the limit of its broker.
 *
 * Two phases, each on a fresh embedded stack with the same topics:
 *   1. the limit: a do-nothing passthrough chain with the fleet's hops
 *      (intake → qualification → followup → actions), each hop its own
 *      process that consumes, produces the same bytes and commits after
 *      the acknowledgement — lastmile's commit discipline without any work;
 *   2. the fleet: the four workers on the real clock.
 * In each phase N leads are pushed as fast as the pipeline takes them and
 * the rate is N / (time from the first lead sent to the last lead's first
 * result). A lead's first result is its first action, or its outcome when
 * it is disqualified (such a lead has no action). The fleet phase then
 * offers half that rate and measures each lead's latency from send to
 * first result (the result's Kafka timestamp), and reports CPU seconds per
 * 1,000 leads and peak RSS per worker (/proc), Redis commands and
 * round trips per lead (INFO and the workers' /metrics), and Redis's own
 * CPU per 1,000 leads (main thread; AOF rewrites apart) with its busy
 * share of a core at the maximum — near 100%, Redis is the limit.
 *
 * The numbers are measurements of this machine at this moment: run on a
 * quiet machine. docs/PERFORMANCE.md has the method and the figures. */
#include "bench.h"
#include "cli.h"

#include "lm_clock.h"
#include "lm_devstack.h"
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_log.h"
#include "lm_redis.h"
#include "lm_runtime.h"
#include "lm_stats.h"
#include "lm_strmap.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define BENCH_HOPS     3
#define BENCH_WAIT_MS  600000
#define BENCH_PT_BATCH 5000

static volatile sig_atomic_t bench_stop = 0;
static void on_stop(int sig) {
    (void)sig;
    bench_stop = 1;
}

/* ============================================================ passthrough */

/* `lastmile bench --passthrough IN OUT`: the do-nothing worker. */
static int passthrough_main(const char *in_suffix, const char *out_suffix) {
    lm_settings s;
    char err[2048], in[LM_TOPIC_MAX], out[LM_TOPIC_MAX], group[200];
    if (lm_settings_load(&s, "cli", err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return LM_EXIT_USAGE;
    }
    signal(SIGTERM, on_stop);
    lm_topic_name(&s, in_suffix, in, sizeof(in));
    lm_topic_name(&s, out_suffix, out, sizeof(out));
    snprintf(group, sizeof(group), "%spassthrough-%s", s.topic_prefix,
             in_suffix);
    rd_kafka_conf_t *pc =
        lm_kafka_conf(&s, LM_KAFKA_PRODUCER, NULL, err, sizeof(err));
    rd_kafka_conf_t *cc =
        lm_kafka_conf(&s, LM_KAFKA_CONSUMER, group, err, sizeof(err));
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    if (!p || !c)
        return LM_EXIT_FAILED;
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, in, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(c, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    rd_kafka_message_t *batch[BENCH_PT_BATCH];
    while (!bench_stop) {
        size_t n = 0;
        int wait = 100;
        while (n < BENCH_PT_BATCH) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c, wait);
            wait = 0;
            if (!m)
                break;
            if (m->err) {
                rd_kafka_message_destroy(m);
                continue;
            }
            batch[n++] = m;
        }
        if (!n)
            continue;
        for (size_t i = 0; i < n; i++)
            while (rd_kafka_producev(
                       p, RD_KAFKA_V_TOPIC(out),
                       RD_KAFKA_V_KEY(batch[i]->key, batch[i]->key_len),
                       RD_KAFKA_V_VALUE(batch[i]->payload, batch[i]->len),
                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                       RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 10);
        rd_kafka_flush(p, -1); /* every output acknowledged ... */
        rd_kafka_topic_partition_list_t *offs =
            rd_kafka_topic_partition_list_new(8);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
                offs, in, batch[i]->partition);
            if (!tp)
                tp = rd_kafka_topic_partition_list_add(offs, in,
                                                       batch[i]->partition);
            if (tp->offset < batch[i]->offset + 1)
                tp->offset = batch[i]->offset + 1;
            rd_kafka_message_destroy(batch[i]);
        }
        rd_kafka_commit(c, offs, 0); /* ... before the commit */
        rd_kafka_topic_partition_list_destroy(offs);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_flush(p, 5000);
    rd_kafka_destroy(p);
    lm_settings_free(&s);
    return 0;
}

/* ================================================================ leads */

typedef struct bench_leads {
    size_t n;
    uint8_t **val;
    size_t *len;
    char (*key)[64];
    char (*lead_id)[LM_LEAD_ID_MAX];
    int64_t *sent_ms;   /* real ms */
    int64_t *result_ms; /* real ms (Kafka timestamp of the first result) */
    lm_strmap *index;   /* lead_id -> its index in the arrays above */
} bench_leads;

static const char *bench_countries[] = {"US", "DE", "GB", "IN",
                                        "BR", "JP", "FR", "CA"};
static const char *bench_titles[] = {"CEO", "VP Sales", "Director", "Manager",
                                     "Engineer"};

static int leads_make(bench_leads *b, size_t n, const char *tag) {
    memset(b, 0, sizeof(*b));
    b->n = n;
    b->val = calloc(n, sizeof(*b->val));
    b->len = calloc(n, sizeof(*b->len));
    b->key = calloc(n, sizeof(*b->key));
    b->lead_id = calloc(n, sizeof(*b->lead_id));
    b->sent_ms = calloc(n, sizeof(int64_t));
    b->result_ms = calloc(n, sizeof(int64_t));
    b->index = lm_strmap_new(n);
    if (!b->val || !b->len || !b->key || !b->lead_id || !b->sent_ms ||
        !b->result_ms || !b->index)
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

static void leads_free(bench_leads *b) {
    for (size_t i = 0; b->val && i < b->n; i++)
        free(b->val[i]);
    free(b->val);
    free(b->len);
    free(b->key);
    free(b->lead_id);
    free(b->sent_ms);
    free(b->result_ms);
    lm_strmap_free(b->index);
}

/* ============================================================ the phases */

typedef struct bench_io {
    rd_kafka_t *prod;
    rd_kafka_t *reader; /* actions + outcomes + followup, from the start */
    char t_intake[LM_TOPIC_MAX];
    size_t results;
} bench_io;

static rd_kafka_t *reader_for(const lm_settings *s, char *err, size_t errsz) {
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
                if (e &&
                    e->event_case ==
                        LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION &&
                    e->decision->unassigned)
                    idx = leads_find(b, e->decision->lead_id);
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
static double run_max(bench_io *io, bench_leads *b, int passthrough) {
    int64_t t0 = lm_clock_real_ms();
    for (size_t i = 0; i < b->n; i++) {
        send_lead(io, b, i);
        if (i % 1000 == 999)
            read_results(io, b, passthrough, 0);
    }
    rd_kafka_flush(io->prod, 60000);
    int64_t deadline = lm_clock_mono_ms() + BENCH_WAIT_MS;
    while (io->results < b->n && !bench_stop && lm_clock_mono_ms() < deadline)
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
static int run_paced(bench_io *io, bench_leads *b, double rate) {
    int64_t t0 = lm_clock_mono_ms();
    for (size_t i = 0; i < b->n && !bench_stop; i++) {
        int64_t due = t0 + (int64_t)((double)i * 1000.0 / rate);
        while (lm_clock_mono_ms() < due) {
            read_results(io, b, 0, 0);
            usleep(200);
        }
        send_lead(io, b, i);
    }
    rd_kafka_flush(io->prod, 60000);
    int64_t deadline = lm_clock_mono_ms() + BENCH_WAIT_MS;
    while (io->results < b->n && !bench_stop && lm_clock_mono_ms() < deadline)
        read_results(io, b, 0, 100);
    return io->results == b->n ? 0 : -1;
}

/* ================================================================ main */

typedef struct phase {
    char dir[64];
    lm_devstack st;
    lm_settings s;
    bench_io io;
    proc procs[8];
    int n_procs;
} phase;

static void usage(FILE *f) {
    fprintf(f, "usage: lastmile bench [--leads N] [--rate R] [--json]\n\n"
               "Measures the fleet against the limit of its broker on the "
               "embedded stack:\nsustained leads/s end to end, the ratio to a "
               "do-nothing passthrough with the\nsame hops, latency at half "
               "load, CPU and RSS per worker, and Redis commands\nand round "
               "trips per lead. N defaults to 20000; R, the load offered "
               "while latency is\nmeasured (leads/s), to half the measured "
               "maximum. Run on a quiet machine.\n\n"
               "  --leads N  leads pushed as fast as the fleet takes them "
               "(default 20000,\n"
               "             at least 100)\n"
               "  --rate R   leads/s offered while latency is measured\n"
               "  --json     one JSON object on stdout instead of text\n");
}

static int phase_up(phase *ph, const char *self, char *err, size_t errsz) {
    snprintf(ph->dir, sizeof(ph->dir), "/tmp/lastmile-bench-XXXXXX");
    if (!mkdtemp(ph->dir)) {
        snprintf(err, errsz, "mkdtemp: %s", strerror(errno));
        return -1;
    }
    lm_devstack_opts o = {.dir = ph->dir,
                          .lastmile_exe = self,
                          .topic_prefix = "lastmile.",
                          .partitions = 4,
                          .die_with_parent = 1};
    if (lm_devstack_up(&o, &ph->st, err, errsz) != 0)
        return -1;
    for (char **e = environ; *e;) {
        if (strncmp(*e, "LASTMILE_", 9) == 0) {
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
            unsetenv(name);
            continue;
        }
        e++;
    }
    setenv("LASTMILE_BROKERS", ph->st.brokers, 1);
    setenv("LASTMILE_REDIS_URL", ph->st.redis_url, 1);
    setenv("LASTMILE_LOG_LEVEL", "warn", 1);
    if (lm_settings_load(&ph->s, "cli", err, errsz) != 0)
        return -1;
    lm_topic_name(&ph->s, LM_TOPIC_INTAKE, ph->io.t_intake,
                  sizeof(ph->io.t_intake));
    rd_kafka_conf_t *pc =
        lm_kafka_conf(&ph->s, LM_KAFKA_PRODUCER, NULL, err, errsz);
    if (!pc)
        return -1;
    rd_kafka_conf_set(pc, "linger.ms", "5", NULL, 0);
    rd_kafka_conf_set(pc, "queue.buffering.max.messages", "1000000", NULL, 0);
    ph->io.prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, errsz);
    ph->io.reader = reader_for(&ph->s, err, errsz);
    return ph->io.prod && ph->io.reader ? 0 : -1;
}

static void phase_down(phase *ph) {
    bench_stop_procs(ph->procs, ph->n_procs);
    if (ph->io.reader) {
        rd_kafka_consumer_close(ph->io.reader);
        rd_kafka_destroy(ph->io.reader);
    }
    if (ph->io.prod) {
        rd_kafka_flush(ph->io.prod, 5000);
        rd_kafka_destroy(ph->io.prod);
    }
    lm_settings_free(&ph->s);
    lm_devstack_down(&ph->st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ph->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", ph->dir);
}

static int warm_up(phase *ph, int passthrough, const char *tag) {
    bench_leads w;
    if (leads_make(&w, 200, tag) != 0)
        return -1;
    size_t before = ph->io.results;
    ph->io.results = 0;
    double r = run_max(&ph->io, &w, passthrough);
    ph->io.results = before;
    leads_free(&w);
    return r > 0 ? 0 : -1;
}

static void worker_exe(const char *self, const char *w, char *out,
                       size_t outsz) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", self);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, outsz, "%.3900s/lastmile-%s", dir, w);
    if (access(out, X_OK) != 0)
        snprintf(out, outsz, "%.3900s/../workers/lastmile-%s", dir, w);
}

int lm_cmd_bench(int argc, char **argv) {
    /* internal, not in --help: bench runs itself as the passthrough worker */
    if (argc >= 4 && strcmp(argv[1], "--passthrough") == 0)
        return passthrough_main(argv[2], argv[3]);
    static const struct option longopts[] = {
        {"leads", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "bench", .usage = usage, .longopts = longopts};
    int64_t n_leads = 20000, rate_opt = 0;
    int json = 0;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'j') {
            json = 1;
        } else if (o == 'n') {
            if (lm_parse_int64(optarg, 100, 10000000, &n_leads) != 0)
                return lm_cli_usage_error(&cli,
                                          "--leads takes a whole number from "
                                          "100 to 10000000, not '%s'",
                                          optarg);
        } else if (o == 'r') {
            if (lm_parse_int64(optarg, 1, 10000000, &rate_opt) != 0)
                return lm_cli_usage_error(&cli,
                                          "--rate takes a whole number of "
                                          "leads/s from 1 to 10000000, not "
                                          "'%s'",
                                          optarg);
        } else {
            return lm_cli_exit(o);
        }
    }
    if (lm_cli_no_operands(&cli, argc, argv) != 0)
        return LM_EXIT_USAGE;
    lm_log_init("bench", LM_LOG_WARN);
    lm_clock_init(1, 0, 0);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    const char *self = lm_cli_self();
    char err[4096], log[128], exe[PATH_MAX];
    int rc = LM_EXIT_FAILED;

    /* ---- phase 1: the limit ------------------------------------------- */
    phase pt;
    memset(&pt, 0, sizeof(pt));
    fprintf(stderr, "bench: passthrough (%lld leads, %d hops)\n",
            (long long)n_leads, BENCH_HOPS);
    if (phase_up(&pt, self, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        phase_down(&pt);
        return LM_EXIT_FAILED;
    }
    const char *hops[BENCH_HOPS][2] = {
        {LM_TOPIC_INTAKE, LM_TOPIC_QUALIFICATION},
        {LM_TOPIC_QUALIFICATION, LM_TOPIC_FOLLOWUP},
        {LM_TOPIC_FOLLOWUP, LM_TOPIC_ACTIONS}};
    for (int h = 0; h < BENCH_HOPS; h++) {
        char *args[] = {(char *)self,       "bench",
                        "--passthrough",    (char *)hops[h][0],
                        (char *)hops[h][1], NULL};
        snprintf(log, sizeof(log), "%s/passthrough-%d.log", pt.dir, h);
        pt.procs[pt.n_procs].pid = bench_spawn(args, log, 0);
        snprintf(pt.procs[pt.n_procs].name, 32, "passthrough-%d", h);
        pt.n_procs++;
    }
    bench_leads bl;
    double pt_rate = 0;
    if (warm_up(&pt, 1, "ptw") == 0 &&
        leads_make(&bl, (size_t)n_leads, "pt") == 0) {
        pt_rate = run_max(&pt.io, &bl, 1);
        leads_free(&bl);
    }
    phase_down(&pt);
    fprintf(stderr, "bench: passthrough %.0f leads/s\n", pt_rate);

    /* ---- phase 2: the fleet ------------------------------------------- */
    phase fl;
    memset(&fl, 0, sizeof(fl));
    if (phase_up(&fl, self, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        phase_down(&fl);
        return LM_EXIT_FAILED;
    }
    const char *workers[4] = {"intake", "qualification", "followup", "timing"};
    for (int w = 0; w < 4; w++) {
        worker_exe(self, workers[w], exe, sizeof(exe));
        char *args[] = {exe, NULL};
        snprintf(log, sizeof(log), "%s/%s.log", fl.dir, workers[w]);
        fl.procs[w].metrics_port = lm_devstack_free_port();
        fl.procs[w].pid = bench_spawn(args, log, fl.procs[w].metrics_port);
        snprintf(fl.procs[w].name, 32, "%s", workers[w]);
        fl.n_procs++;
    }
    fprintf(stderr, "bench: fleet (%lld leads)\n", (long long)n_leads);
    double rate = 0, lat[3] = {0, 0, 0};
    double rt0 = 0, rt1 = 0, b0 = 0, b1 = 0;
    long long cmd0 = 0, cmd1 = 0;
    double rcpu0 = 0, rcpu1 = 0, rkid0 = 0, rkid1 = 0;
    size_t n_lat = 0;
    long long lat_rewrites = 0; /* AOF rewrites overlapping the latency run,
                                   -1 unknown */
    char uerr[256];
    lm_redis *redis = lm_redis_new(fl.st.redis_url, 2000, uerr, sizeof(uerr));
    if (warm_up(&fl, 0, "flw") != 0) {
        fprintf(stderr, "bench: the fleet did not answer the warm-up\n");
        goto out;
    }
    for (int w = 0; w < 4; w++) {
        fl.procs[w].cpu0 = bench_proc_cpu(fl.procs[w].pid);
        rt0 += bench_scrape_sum(fl.procs[w].metrics_port,
                                "lastmile_redis_roundtrip_seconds_count");
        b0 += bench_scrape_sum(fl.procs[w].metrics_port,
                               "lastmile_batch_size_count");
    }
    cmd0 = bench_redis_commands(redis);
    bench_redis_cpu(redis, &rcpu0, &rkid0);
    if (leads_make(&bl, (size_t)n_leads, "max") != 0)
        goto out;
    rate = run_max(&fl.io, &bl, 0);
    leads_free(&bl);
    for (int w = 0; w < 4; w++) {
        fl.procs[w].cpu1 = bench_proc_cpu(fl.procs[w].pid);
        rt1 += bench_scrape_sum(fl.procs[w].metrics_port,
                                "lastmile_redis_roundtrip_seconds_count");
        b1 += bench_scrape_sum(fl.procs[w].metrics_port,
                               "lastmile_batch_size_count");
    }
    cmd1 = bench_redis_commands(redis);
    bench_redis_cpu(redis, &rcpu1, &rkid1);
    fprintf(stderr, "bench: fleet %.0f leads/s; latency at %.0f leads/s\n",
            rate, rate_opt ? (double)rate_opt : rate / 2);
    double offered = rate_opt ? (double)rate_opt : rate / 2;
    if (rate > 0) {
        size_t m = (size_t)(offered * 10);
        if (m < 1000)
            m = 1000;
        if (m > (size_t)n_leads)
            m = (size_t)n_leads;
        fl.io.results = 0;
        aof_mark aof0 = bench_aof_mark_take(redis);
        int paced = leads_make(&bl, m, "lat") == 0 &&
                    run_paced(&fl.io, &bl, offered) == 0;
        lat_rewrites =
            bench_aof_rewrites_between(aof0, bench_aof_mark_take(redis));
        if (paced) {
            double *v = malloc(m * sizeof(double));
            for (size_t i = 0; v && i < m; i++)
                if (bl.result_ms[i] && bl.sent_ms[i])
                    v[n_lat++] = (double)(bl.result_ms[i] - bl.sent_ms[i]);
            if (v && n_lat > 0) { /* none measured: the zeros stay */
                lm_stats_sort(v, n_lat);
                lat[0] = lm_stats_percentile(v, n_lat, 50);
                lat[1] = lm_stats_percentile(v, n_lat, 99);
                lat[2] = lm_stats_percentile(v, n_lat, 99.9);
            }
            free(v);
        }
        leads_free(&bl);
    }
    double wait_mean_ms[4] = {0}, batch_mean[4] = {0};
    for (int w = 0; w < 4; w++) {
        fl.procs[w].rss_kb = bench_proc_hwm_kb(fl.procs[w].pid);
        int port = fl.procs[w].metrics_port;
        double ws = bench_scrape_sum(port, "lastmile_stage_wait_seconds_sum");
        double wc = bench_scrape_sum(port, "lastmile_stage_wait_seconds_count");
        double bs = bench_scrape_sum(port, "lastmile_batch_size_sum");
        double bc = bench_scrape_sum(port, "lastmile_batch_size_count");
        wait_mean_ms[w] = wc > 0 ? ws / wc * 1e3 : 0;
        batch_mean[w] = bc > 0 ? bs / bc : 0;
    }

    /* ---- the report --------------------------------------------------- */
    double ratio = pt_rate > 0 ? rate / pt_rate : 0;
    double cmds_per_lead = (double)(cmd1 - cmd0) / (double)n_leads;
    double rt_per_lead = (rt1 - rt0) / (double)n_leads;
    double rt_per_batch = b1 > b0 ? (rt1 - rt0) / (b1 - b0) : 0;
    /* Redis's share of one core while the fleet ran at its maximum: near
       1.0, Redis (one thread) is what limits the fleet */
    double redis_s_per_k = (rcpu1 - rcpu0) * 1000.0 / (double)n_leads;
    double rewrite_s_per_k = (rkid1 - rkid0) * 1000.0 / (double)n_leads;
    double redis_busy =
        rate > 0 ? (rcpu1 - rcpu0) / ((double)n_leads / rate) : 0;
    json_t *j = json_object();
    json_object_set_new(j, "leads", json_integer(n_leads));
    json_object_set_new(j, "throughput_leads_per_s", json_real(rate));
    json_object_set_new(j, "passthrough_leads_per_s", json_real(pt_rate));
    json_object_set_new(j, "passthrough_ratio", json_real(ratio));
    json_t *jl = json_object();
    json_object_set_new(jl, "offered_leads_per_s", json_real(offered));
    json_object_set_new(jl, "leads", json_integer((json_int_t)n_lat));
    json_object_set_new(jl, "p50_ms", json_real(lat[0]));
    json_object_set_new(jl, "p99_ms", json_real(lat[1]));
    json_object_set_new(jl, "p999_ms", json_real(lat[2]));
    json_object_set_new(jl, "aof_rewrites_during", json_integer(lat_rewrites));
    json_object_set_new(j, "latency_submit_to_first_action", jl);
    json_t *jw = json_object();
    for (int w = 0; w < 4; w++) {
        json_t *o = json_object();
        json_object_set_new(o, "cpu_s_per_1000_leads",
                            json_real((fl.procs[w].cpu1 - fl.procs[w].cpu0) *
                                      1000.0 / (double)n_leads));
        json_object_set_new(o, "peak_rss_mb",
                            json_real((double)fl.procs[w].rss_kb / 1024.0));
        json_object_set_new(o, "mean_kafka_wait_ms",
                            json_real(wait_mean_ms[w]));
        json_object_set_new(o, "mean_batch_size", json_real(batch_mean[w]));
        json_object_set_new(jw, fl.procs[w].name, o);
    }
    json_object_set_new(j, "workers", jw);
    json_t *jr = json_object();
    json_object_set_new(jr, "commands_per_lead", json_real(cmds_per_lead));
    json_object_set_new(jr, "roundtrips_per_lead", json_real(rt_per_lead));
    json_object_set_new(jr, "roundtrips_per_batch", json_real(rt_per_batch));
    json_object_set_new(jr, "cpu_s_per_1000_leads", json_real(redis_s_per_k));
    json_object_set_new(jr, "aof_rewrite_cpu_s_per_1000_leads",
                        json_real(rewrite_s_per_k));
    json_object_set_new(jr, "busy_share_at_max", json_real(redis_busy));
    json_object_set_new(j, "redis", jr);
    if (json) {
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        puts(s);
        free(s);
    } else {
        printf("lastmile bench — %lld leads, embedded stack, this machine\n\n",
               (long long)n_leads);
        printf("  throughput, submitted → first action   %10.0f leads/s\n",
               rate);
        printf("  passthrough (same hops, no work)        %10.0f leads/s\n",
               pt_rate);
        printf("  fleet / passthrough                     %10.2f\n", ratio);
        printf("  latency at %.0f leads/s (%zu leads)     p50 %.1f ms  p99 "
               "%.1f ms  p99.9 %.1f ms\n",
               offered, n_lat, lat[0], lat[1], lat[2]);
        if (lat_rewrites > 0)
            printf("    (Redis rewrote its AOF during this run: the rewrite "
                   "takes one of the machine's cores while it runs)\n");
        printf("  redis per lead: %.2f commands, %.3f round trips; %.2f round "
               "trips per batch\n",
               cmds_per_lead, rt_per_lead, rt_per_batch);
        printf("  redis cpu s / 1000 leads: %.3f (+ %.3f in AOF rewrites); "
               "busy %.0f%% of a core at the maximum\n\n",
               redis_s_per_k, rewrite_s_per_k, redis_busy * 100);
        printf("  %-14s %18s %12s %16s %11s\n", "worker", "cpu s / 1000 leads",
               "peak RSS MB", "mean wait (ms)", "mean batch");
        for (int w = 0; w < 4; w++)
            printf("  %-14s %18.3f %12.1f %16.1f %11.1f\n", fl.procs[w].name,
                   (fl.procs[w].cpu1 - fl.procs[w].cpu0) * 1000.0 /
                       (double)n_leads,
                   (double)fl.procs[w].rss_kb / 1024.0, wait_mean_ms[w],
                   batch_mean[w]);
    }
    json_decref(j);
    rc = rate > 0 ? LM_EXIT_OK : LM_EXIT_FAILED;
out:
    lm_redis_destroy(redis);
    phase_down(&fl);
    return rc;
}
