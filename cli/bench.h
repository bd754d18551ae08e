/* bench.h — what the bench's files share: its worker processes and its
 * probes of them and of Redis (bench_probe.c), its own chain workers
 * (bench_worker.c: the passthrough and the state floor), and the figures
 * a run gathers and prints (bench_report.c). */
#ifndef LM_BENCH_H
#define LM_BENCH_H

#include "bench_info.h"
#include "lm_redis.h"
#include "lm_strmap.h"

#include <sys/types.h>

typedef struct proc {
    pid_t pid;
    char name[32];
    char log[160]; /* its stderr, in the phase's directory */
    int metrics_port;
    double cpu0, cpu1; /* seconds */
    long rss_kb;
    /* the fleet's workers: /metrics before and after the maximum phase */
    double rt0, rt1, batches0, batches1;
} proc;

/* Starts argv[0] with stderr to `log` and, when metrics_port > 0,
 * LASTMILE_METRICS_ADDR on it; it gets SIGTERM if the bench dies. */
pid_t bench_spawn(char *const argv[], const char *log, int metrics_port);
/* CPU seconds (user + system) of a running process, 0 when unknown. */
double bench_proc_cpu(pid_t pid);
/* Peak resident set size of a running process (VmHWM), kB. */
long bench_proc_hwm_kb(pid_t pid);
/* A whole file's text (malloc'd, NUL-terminated; the caller frees), or
 * NULL. */
char *bench_read_file(const char *path);
/* SIGTERM to each, then waits for each. */
void bench_stop_procs(proc *p, int n);
/* How many of the n processes have exited (each reaped once, its pid set
 * to 0); each one found gone now is told on stderr with its exit status
 * and the end of its log, so a bench that cannot finish says why at once
 * instead of waiting for leads that will not come. */
int bench_procs_exited(proc *p, int n);
/* One series' sum over its label sets in a worker's /metrics on
 * 127.0.0.1:port; -1 when the scrape fails. */
double bench_scrape_sum(int port, const char *series);
/* Every Redis figure below is INFO of every master summed (a single Redis
 * is one master; on a Redis Cluster the masters hold the fleet's writes,
 * lm_redis_masters), at most BENCH_MASTERS_MAX of them. */
#define BENCH_MASTERS_MAX 64
/* Redis's total_commands_processed, -1 when it cannot be read. */
long long bench_redis_commands(lm_redis *r);

/* Starts an AOF rewrite on every master (BGREWRITEAOF; one already
 * running counts). 0 / -1 (a master refused or did not answer). */
int bench_aof_rewrite_start(lm_redis *r);
/* Where Redis's AOF rewrites stand now (bench_info.h's aof_mark). */
aof_mark bench_aof_mark_take(lm_redis *r);
/* Redis's CPU seconds so far: its main thread, and its children (the AOF
 * rewrites it forks). 0 / -1. */
int bench_redis_cpu(lm_redis *r, double *main_s, double *children_s);

/* Reads Redis now into *out (bench_info.h's redis_snap). 0 / -1 (some part
 * could not be read: its field is -1 or NULL). */
int bench_redis_snap(lm_redis *r, redis_snap *out);
void bench_redis_snap_free(redis_snap *s);

/* `lastmile bench --passthrough|--floor IN OUT` (bench_worker.c). */
int bench_chain_worker_main(const char *in_suffix, const char *out_suffix,
                            int floor);

#define BENCH_HOPS    3
#define BENCH_WORKERS 4

/* One chain phase (the passthrough or the floor): its rate, its hops'
 * processes, what each floor hop counted, and Redis in its window. */
typedef struct bench_chain {
    double rate;
    proc procs[BENCH_HOPS];
    bench_floor_counts counts[BENCH_HOPS]; /* the floor's; -1 unknown */
    bench_redis_fig redis;
} bench_chain;

/* Everything a run prints (bench_report.c). */
typedef struct bench_results {
    long long leads;
    bench_chain pt, floor;
    double rate; /* the fleet */
    proc workers[BENCH_WORKERS];
    double wait_mean_ms[BENCH_WORKERS], batch_mean[BENCH_WORKERS];
    bench_redis_fig redis; /* the fleet's maximum phase */
    double redis_busy;
    double offered, lat[3]; /* p50, p99, p99.9 */
    size_t n_lat;
    /* where the latency run's time went: p50 and p99 of the leads sent in
       its first half (before the bench's AOF rewrite) and in its second
       half; p50 and p99 of submit → decision (intake and qualification,
       every lead decided) and of decision → first action (followup, the
       leads the decision gave an owner) */
    double lat_halves[2][2], lat_to_decision[2], lat_decision_to_action[2];
    long long lat_rewrites;
    int lat_rewrite_started; /* the bench started one as the run opened */
    int redis_cluster; /* --redis-cluster: every phase on a local cluster */
} bench_results;

/* Prints the results as one JSON object or as text, on stdout. */
void bench_report_print(const bench_results *r, int json);

#endif
