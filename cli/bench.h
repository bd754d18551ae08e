/* bench.h — what bench.c and bench_probe.c share: the bench's worker
 * processes and its probes of them and of Redis (bench_probe.c). */
#ifndef LM_BENCH_H
#define LM_BENCH_H

#include "lm_redis.h"

#include <sys/types.h>

typedef struct proc {
    pid_t pid;
    char name[32];
    int metrics_port;
    double cpu0, cpu1; /* seconds */
    long rss_kb;
} proc;

/* Starts argv[0] with stderr to `log` and, when metrics_port > 0,
 * LASTMILE_METRICS_ADDR on it; it gets SIGTERM if the bench dies. */
pid_t bench_spawn(char *const argv[], const char *log, int metrics_port);
/* CPU seconds (user + system) of a running process, 0 when unknown. */
double bench_proc_cpu(pid_t pid);
/* Peak resident set size of a running process (VmHWM), kB. */
long bench_proc_hwm_kb(pid_t pid);
/* SIGTERM to each, then waits for each. */
void bench_stop_procs(proc *p, int n);
/* One series' sum over its label sets in a worker's /metrics on
 * 127.0.0.1:port; -1 when the scrape fails. */
double bench_scrape_sum(int port, const char *series);
/* Redis's total_commands_processed, -1 when it cannot be read. */
long long bench_redis_commands(lm_redis *r);

/* Where Redis's AOF rewrites stand: how many so far, and whether one is
 * running. On two cores the rewrite child takes one of them while it runs,
 * and every worker's round trips wait. */
typedef struct aof_mark {
    long long rewrites, in_progress; /* -1: could not be read */
} aof_mark;

aof_mark bench_aof_mark_take(lm_redis *r);
/* The rewrites that overlapped the window between two marks: counted, or
 * one that was running at either end (whether Redis counts a rewrite when
 * it starts or when it ends); -1 when a mark could not be read. */
long long bench_aof_rewrites_between(aof_mark a, aof_mark b);
/* Redis's CPU seconds so far: its main thread, and its children (the AOF
 * rewrites it forks). 0 / -1. */
int bench_redis_cpu(lm_redis *r, double *main_s, double *children_s);

#endif
