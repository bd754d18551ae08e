/* bench.c — `lastmile bench`: the fleet against two limits.
 *
 * Three phases, each on a fresh embedded stack with the same topics:
 *   1. the passthrough, the limit of the broker: a do-nothing chain with
 *      the fleet's hops (intake → qualification → followup → actions),
 *      each hop its own process that consumes, produces the same bytes and
 *      commits after the acknowledgement — lastmile's commit discipline
 *      without any work (bench_worker.c);
 *   2. the state floor: the same chain, plus per lead only the Redis work
 *      the mission cannot do without (the dedupe claim, one HSET of the
 *      lead's record, the response timer), one pipelined round trip per
 *      batch per hop (bench_worker.c);
 *   3. the fleet: the four workers on the real clock.
 * In each phase N leads are pushed as fast as the pipeline takes them and
 * the rate is N / (time from the first lead sent to the last lead's first
 * result). A lead's first result is its first action, or its outcome when
 * it is disqualified (such a lead has no action). The fleet phase then
 * offers half that rate and measures each lead's latency from send to
 * first result (the result's Kafka timestamp). For the floor and the fleet
 * the bench reads Redis around the maximum phase (INFO: commands and
 * commandstats, AOF bytes, CPU; bench_probe.c), round trips per batch per
 * worker (the fleet's /metrics, the floor's own counts), and CPU seconds
 * per 1,000 leads and peak RSS of every process it started (/proc).
 * bench_report.c prints them.
 *
 * The leads themselves, sending them and reading their results back are
 * bench_leads.c's. The numbers are measurements of this machine at this
 * moment: run on a quiet machine. docs/PERFORMANCE.md has the method and the
 * figures. */
#include "bench.h"
#include "bench_leads.h"
#include "cli.h"

#include "lm_clock.h"
#include "lm_devstack.h"
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_log.h"
#include "lm_redis.h"
#include "lm_runtime.h"
#include "lm_strmap.h"

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

static volatile sig_atomic_t bench_stop = 0; /* SIGINT, SIGTERM */
static void on_stop(int sig) {
    (void)sig;
    bench_stop = 1;
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
    fprintf(f, "usage: lastmile bench [--leads N] [--rate R] "
               "[--redis-cluster] [--no-rewrite] [--json]\n\n"
               "Measures the fleet against two limits on the embedded stack: "
               "the state floor\n(the same hops doing only the Redis work "
               "the mission needs: the dedupe\nclaim, the lead's record, "
               "the response timer) and a do-nothing passthrough.\nPrints "
               "sustained leads/s end to end and its ratios to both, latency "
               "at half\nload, CPU and RSS per worker, and Redis commands, "
               "AOF bytes and round trips\nper lead. N defaults to 20000; R, "
               "the load offered while latency is measured\n(leads/s), to "
               "half the measured maximum. Run on a quiet machine.\n\n"
               "  --leads N  leads pushed as fast as the fleet takes them "
               "(default 20000,\n"
               "             at least 100)\n"
               "  --rate R   leads/s offered while latency is measured\n"
               "  --redis-cluster\n"
               "             every phase on a local Redis Cluster (3 masters, "
               "3 replicas,\n"
               "             as `lastmile dev up --redis-cluster`) instead "
               "of one Redis:\n"
               "             Redis figures are summed over the masters\n"
               "  --no-rewrite\n"
               "             no AOF rewrite started for the latency run (by "
               "default, when\n"
               "             Redis has started none by the run's middle, the "
               "bench starts\n"
               "             one there, so the tail is measured with one in "
               "the window)\n"
               "  --json     one JSON object on stdout instead of text\n");
}

/* --redis-cluster: every phase's stack gets a local Redis Cluster. */
static int bench_redis_cluster;
/* --no-rewrite clears it: the latency run gets no AOF rewrite of the
 * bench's own (Redis's thresholds may still start one) */
static int bench_latency_rewrite = 1;

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
                          .die_with_parent = 1,
                          .redis_cluster = bench_redis_cluster};
    if (lm_devstack_up(&o, &ph->st, err, errsz) != 0)
        return -1;
    ph->io.procs = ph->procs;
    ph->io.stop = &bench_stop;
    ph->io.n_procs = &ph->n_procs;
    for (char **e = environ; *e;) {
        /* LASTMILE_OVERLAP, LASTMILE_BATCH_MAX and LASTMILE_KAFKA_*
           (librdkafka properties) go through: runs with them set
           otherwise compare (the chains take the same cap and the same
           client settings) */
        if (strncmp(*e, "LASTMILE_", 9) == 0 &&
            strncmp(*e, "LASTMILE_OVERLAP=", 17) != 0 &&
            strncmp(*e, "LASTMILE_BATCH_MAX=", 19) != 0 &&
            strncmp(*e, "LASTMILE_KAFKA_", 15) != 0) {
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
            unsetenv(name);
            continue;
        }
        e++;
    }
    setenv("LASTMILE_BROKERS", ph->st.brokers, 1);
    lm_devstack_client_setenv(); /* unless the run asks for its own */
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
    ph->io.reader = bench_reader_new(&ph->s, err, errsz);
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
    if (bench_leads_make(&w, 200, tag) != 0)
        return -1;
    size_t before = ph->io.results;
    ph->io.results = 0;
    double r = bench_run_max(&ph->io, &w, passthrough);
    ph->io.results = before;
    bench_leads_free(&w);
    return r > 0 ? 0 : -1;
}

static const char *const worker_names[BENCH_WORKERS] = {
    "intake", "qualification", "followup", "timing"};

/* The worker's executable beside `self` (installed) or in ../workers (the
 * build tree). 0, or -1 with err saying where it was looked for. */
static int worker_exe(const char *self, const char *w, char *out, size_t outsz,
                      char *err, size_t errsz) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", self);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, outsz, "%.3900s/lastmile-%s", dir, w);
    if (access(out, X_OK) == 0)
        return 0;
    snprintf(out, outsz, "%.3900s/../workers/lastmile-%s", dir, w);
    if (access(out, X_OK) == 0)
        return 0;
    snprintf(
        err, errsz,
        "no executable lastmile-%s beside %.1900s nor in %.1900s/../workers: "
        "install the workers beside lastmile (cmake --install build), or run "
        "the "
        "bench from the build tree (build/cli/lastmile)",
        w, self, dir);
    return -1;
}

/* A chain phase: the passthrough (floor = 0) or the state floor, one
 * process per hop on a fresh stack; its rate, its processes' CPU and RSS,
 * and (the floor) Redis in the maximum phase and each hop's counts. */
static void run_chain(const char *self, int floor, size_t n, bench_chain *c) {
    static const char *hops[BENCH_HOPS][2] = {
        {LM_TOPIC_INTAKE, LM_TOPIC_QUALIFICATION},
        {LM_TOPIC_QUALIFICATION, LM_TOPIC_FOLLOWUP},
        {LM_TOPIC_FOLLOWUP, LM_TOPIC_ACTIONS}};
    const char *what = floor ? "floor" : "passthrough";
    char err[4096];
    phase ph;
    memset(&ph, 0, sizeof(ph));
    memset(c, 0, sizeof(*c));
    for (int h = 0; h < BENCH_HOPS; h++)
        c->counts[h] = (bench_floor_counts){-1, -1, -1, -1};
    c->redis.aof_bytes_per_lead = -1;
    fprintf(stderr, "bench: %s (%zu leads, %d hops)\n", what, n, BENCH_HOPS);
    if (phase_up(&ph, self, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        phase_down(&ph);
        return;
    }
    for (int h = 0; h < BENCH_HOPS; h++) {
        char flag[32];
        snprintf(flag, sizeof(flag), "--%s", what);
        char *args[] = {(char *)self,       "bench", flag, (char *)hops[h][0],
                        (char *)hops[h][1], NULL};
        snprintf(ph.procs[h].log, sizeof(ph.procs[h].log), "%s/%s-%d.log",
                 ph.dir, what, h);
        ph.procs[h].pid = bench_spawn(args, ph.procs[h].log, 0);
        snprintf(ph.procs[h].name, 32, "%s-%s", what, hops[h][0]);
        ph.n_procs++;
    }
    char uerr[256];
    lm_redis *redis = lm_redis_new(ph.st.redis_url, 2000, uerr, sizeof(uerr));
    redis_snap r0 = {0}, r1 = {0};
    bench_leads bl;
    if (redis && warm_up(&ph, 1, floor ? "flw" : "ptw") == 0 &&
        bench_leads_make(&bl, n, floor ? "fl" : "pt") == 0) {
        for (int h = 0; h < BENCH_HOPS; h++)
            ph.procs[h].cpu0 = bench_proc_cpu(ph.procs[h].pid);
        bench_redis_snap(redis, &r0);
        c->rate = bench_run_max(&ph.io, &bl, 1);
        bench_redis_snap(redis, &r1);
        for (int h = 0; h < BENCH_HOPS; h++) {
            ph.procs[h].cpu1 = bench_proc_cpu(ph.procs[h].pid);
            ph.procs[h].rss_kb = bench_proc_hwm_kb(ph.procs[h].pid);
        }
        bench_leads_free(&bl);
        bench_redis_fig_from(&r0, &r1, (double)n, &c->redis);
    }
    bench_redis_snap_free(&r0);
    bench_redis_snap_free(&r1);
    lm_redis_destroy(redis);
    /* stopped, a floor hop logs what it counted (its warm-up included) */
    bench_stop_procs(ph.procs, ph.n_procs);
    long long rt = 0, batches = 0;
    for (int h = 0; h < BENCH_HOPS; h++) {
        c->procs[h] = ph.procs[h];
        char *text = floor ? bench_read_file(ph.procs[h].log) : NULL;
        if (text && bench_floor_summary_parse(text, &c->counts[h]) == 0) {
            rt += c->counts[h].roundtrips;
            batches += c->counts[h].batches;
        }
        free(text);
    }
    c->redis.roundtrips_per_batch =
        batches > 0 ? (double)rt / (double)batches : 0;
    /* the hops' counts include the warm-up: per lead over what they took */
    c->redis.roundtrips_per_lead = floor && c->counts[0].leads > 0
                                       ? (double)rt / (double)c->counts[0].leads
                                       : 0;
    phase_down(&ph);
    fprintf(stderr, "bench: %s %.0f leads/s\n", what, c->rate);
}

/* The latency run at `offered` leads/s: percentiles into r. */
/* The latency run meets an AOF rewrite by construction, not by where the
 * AOF's size happens to cross Redis's threshold (a fleet writing fewer
 * bytes per lead must not look faster for missing it): when none has run
 * or is running by the time half the run's leads are sent, the bench
 * starts one there, where Redis's own would fall in a 20,000-lead run
 * (one started as the run opens rewrites a smaller dataset and ends
 * sooner: p99 41-45 ms against 48-51 with Redis's own, 2026-12-04). */
typedef struct latency_rewrite {
    lm_redis *redis;
    aof_mark at_start;
    bench_results *r;
} latency_rewrite;

static void rewrite_at_half(void *arg) {
    latency_rewrite *lr = arg;
    if (bench_aof_rewrites_between(lr->at_start,
                                   bench_aof_mark_take(lr->redis)) != 0)
        return; /* Redis's own: in the window already */
    lr->r->lat_rewrite_started = bench_aof_rewrite_start(lr->redis) == 0;
    if (!lr->r->lat_rewrite_started)
        fprintf(stderr, "bench: could not start an AOF rewrite for the "
                        "latency run; its figure says whether one ran\n");
}

static void run_latency(phase *fl, lm_redis *redis, size_t n_leads,
                        bench_results *r) {
    size_t m = (size_t)(r->offered * 10);
    if (m < 1000)
        m = 1000;
    if (m > n_leads)
        m = n_leads;
    fl->io.results = 0;
    bench_leads bl;
    latency_rewrite lr = {redis, bench_aof_mark_take(redis), r};
    int made = bench_leads_make(&bl, m, "lat") == 0;
    int paced =
        made && bench_run_paced(&fl->io, &bl, r->offered,
                                bench_latency_rewrite ? rewrite_at_half : NULL,
                                &lr) == 0;
    r->lat_rewrites =
        bench_aof_rewrites_between(lr.at_start, bench_aof_mark_take(redis));
    if (paced)
        bench_latency_figures(&bl, r);
    if (made)
        bench_leads_free(&bl);
}

static void scrape_workers(phase *fl, int after) {
    for (int w = 0; w < BENCH_WORKERS; w++) {
        proc *p = &fl->procs[w];
        double cpu = bench_proc_cpu(p->pid);
        double rt = bench_scrape_sum(p->metrics_port,
                                     "lastmile_redis_roundtrip_seconds_count");
        double b =
            bench_scrape_sum(p->metrics_port, "lastmile_batch_size_count");
        *(after ? &p->cpu1 : &p->cpu0) = cpu;
        *(after ? &p->rt1 : &p->rt0) = rt;
        *(after ? &p->batches1 : &p->batches0) = b;
    }
}

/* The fleet phase: the four workers, their maximum rate, Redis in that
 * window, then the latency run. 0 / -1 (the fleet did not answer). */
static int run_fleet(const char *self, size_t n_leads, int64_t rate_opt,
                     bench_results *r) {
    char err[4096], exe[PATH_MAX], uerr[256];
    phase fl;
    memset(&fl, 0, sizeof(fl));
    if (phase_up(&fl, self, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        phase_down(&fl);
        return -1;
    }
    for (int w = 0; w < BENCH_WORKERS; w++) {
        if (worker_exe(self, worker_names[w], exe, sizeof(exe), err,
                       sizeof(err))) {
            fprintf(stderr, "bench: %s\n", err);
            phase_down(&fl);
            return -1;
        }
        char *args[] = {exe, NULL};
        snprintf(fl.procs[w].log, sizeof(fl.procs[w].log), "%s/%s.log", fl.dir,
                 worker_names[w]);
        fl.procs[w].metrics_port = lm_devstack_free_port();
        fl.procs[w].pid =
            bench_spawn(args, fl.procs[w].log, fl.procs[w].metrics_port);
        snprintf(fl.procs[w].name, 32, "%s", worker_names[w]);
        fl.n_procs++;
    }
    fprintf(stderr, "bench: fleet (%zu leads)\n", n_leads);
    int rc = -1;
    redis_snap s0 = {0}, s1 = {0};
    bench_leads bl;
    lm_redis *redis = lm_redis_new(fl.st.redis_url, 2000, uerr, sizeof(uerr));
    if (!redis || warm_up(&fl, 0, "flw") != 0) {
        fprintf(stderr, "bench: the fleet did not answer the warm-up\n");
        goto out;
    }
    scrape_workers(&fl, 0);
    bench_redis_snap(redis, &s0);
    if (bench_leads_make(&bl, n_leads, "max") != 0)
        goto out;
    r->rate = bench_run_max(&fl.io, &bl, 0);
    bench_leads_free(&bl);
    scrape_workers(&fl, 1);
    bench_redis_snap(redis, &s1);
    bench_redis_fig_from(&s0, &s1, (double)n_leads, &r->redis);
    double rt = 0, b = 0;
    for (int w = 0; w < BENCH_WORKERS; w++) {
        rt += fl.procs[w].rt1 - fl.procs[w].rt0;
        b += fl.procs[w].batches1 - fl.procs[w].batches0;
    }
    r->redis.roundtrips_per_lead = rt / (double)n_leads;
    r->redis.roundtrips_per_batch = b > 0 ? rt / b : 0;
    /* Redis's share of one core while the fleet ran at its maximum: near
       1.0, Redis (one thread) is what limits the fleet */
    r->redis_busy =
        r->rate > 0 ? (s1.cpu_main - s0.cpu_main) / ((double)n_leads / r->rate)
                    : 0;
    r->offered = rate_opt ? (double)rate_opt : r->rate / 2;
    fprintf(stderr, "bench: fleet %.0f leads/s; latency at %.0f leads/s\n",
            r->rate, r->offered);
    if (r->rate > 0)
        run_latency(&fl, redis, n_leads, r);
    for (int w = 0; w < BENCH_WORKERS; w++) {
        fl.procs[w].rss_kb = bench_proc_hwm_kb(fl.procs[w].pid);
        int port = fl.procs[w].metrics_port;
        double ws = bench_scrape_sum(port, "lastmile_stage_wait_seconds_sum");
        double wc = bench_scrape_sum(port, "lastmile_stage_wait_seconds_count");
        double bs = bench_scrape_sum(port, "lastmile_batch_size_sum");
        double bc = bench_scrape_sum(port, "lastmile_batch_size_count");
        r->wait_mean_ms[w] = wc > 0 ? ws / wc * 1e3 : 0;
        r->batch_mean[w] = bc > 0 ? bs / bc : 0;
        r->workers[w] = fl.procs[w];
    }
    rc = r->rate > 0 ? 0 : -1;
out:
    bench_redis_snap_free(&s0);
    bench_redis_snap_free(&s1);
    lm_redis_destroy(redis);
    phase_down(&fl);
    return rc;
}

static void results_free(bench_results *r) {
    lm_strmap_free(r->redis.by_name);
    lm_strmap_free(r->floor.redis.by_name);
    lm_strmap_free(r->pt.redis.by_name);
}

int lm_cmd_bench(int argc, char **argv) {
    /* internal, not in --help: bench runs itself as a chain's worker */
    if (argc >= 4 && strcmp(argv[1], "--passthrough") == 0)
        return bench_chain_worker_main(argv[2], argv[3], 0);
    if (argc >= 4 && strcmp(argv[1], "--floor") == 0)
        return bench_chain_worker_main(argv[2], argv[3], 1);
    static const struct option longopts[] = {
        {"leads", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"redis-cluster", no_argument, NULL, 'c'},
        {"no-rewrite", no_argument, NULL, 'w'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "bench", .usage = usage, .longopts = longopts};
    int64_t n_leads = 20000, rate_opt = 0;
    int json = 0;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'j') {
            json = 1;
        } else if (o == 'c') {
            bench_redis_cluster = 1;
        } else if (o == 'w') {
            bench_latency_rewrite = 0;
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
    bench_results r;
    memset(&r, 0, sizeof(r));
    r.leads = n_leads;
    r.redis_cluster = bench_redis_cluster;
    char exe[PATH_MAX], err[4096];
    for (int w = 0; w < BENCH_WORKERS; w++)
        if (worker_exe(self, worker_names[w], exe, sizeof(exe), err,
                       sizeof(err)) != 0) {
            /* before the chains: no minute spent on a run that cannot end */
            fprintf(stderr, "bench: %s\n", err);
            return LM_EXIT_FAILED;
        }
    run_chain(self, 0, (size_t)n_leads, &r.pt);
    run_chain(self, 1, (size_t)n_leads, &r.floor);
    int rc = LM_EXIT_FAILED;
    if (run_fleet(self, (size_t)n_leads, rate_opt, &r) == 0) {
        bench_report_print(&r, json);
        rc = LM_EXIT_OK;
    }
    results_free(&r);
    return rc;
}
