/* bench_probe.c — what `lastmile bench` measures with: its worker
 * processes (start, CPU seconds and peak RSS from /proc, their logs, stop),
 * a worker's /metrics, and Redis's INFO (commands, commandstats, AOF size
 * and rewrites, CPU; parsed by bench_info.c). Single-threaded, like the
 * bench. */
#include "bench.h"

#include "lm_http_get.h"
#include "lm_runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t bench_spawn(char *const argv[], const char *log, int metrics_port) {
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        if (metrics_port > 0) {
            char addr[64];
            snprintf(addr, sizeof(addr), "127.0.0.1:%d", metrics_port);
            setenv("LASTMILE_METRICS_ADDR", addr, 1);
        }
        execv(argv[0], argv);
        fprintf(stderr, "bench: cannot run %s: %s\n", argv[0],
                strerror(errno)); /* into the log: bench_procs_exited */
        _exit(127);
    }
    return pid;
}

double bench_proc_cpu(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    int field = 2;
    for (char *q = p; q && *q; q++) {
        if (*q == ' ') {
            field++;
            if (field == 14)
                ut = strtoull(q + 1, NULL, 10);
            else if (field == 15) {
                st = strtoull(q + 1, NULL, 10);
                break;
            }
        }
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long bench_proc_hwm_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

char *bench_read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

void bench_stop_procs(proc *p, int n) {
    for (int i = 0; i < n; i++)
        if (p[i].pid > 0)
            kill(p[i].pid, SIGTERM);
    for (int i = 0; i < n; i++)
        if (p[i].pid > 0) {
            int st;
            waitpid(p[i].pid, &st, 0);
            p[i].pid = 0;
        }
}

/* The last lines of a log (at most 2 kB of its end) to stderr. */
static void print_log_tail(const char *path) {
    char *text = bench_read_file(path);
    if (!text || !*text) {
        fprintf(stderr, "bench:   (its log %s is empty)\n", path);
        free(text);
        return;
    }
    size_t len = strlen(text);
    const char *from = len > 2048 ? text + len - 2048 : text;
    if (from != text && strchr(from, '\n'))
        from = strchr(from, '\n') + 1; /* from a line's start */
    fprintf(stderr, "bench:   the end of %s:\n%s%s", path, from,
            text[len - 1] == '\n' ? "" : "\n");
    free(text);
}

int bench_procs_exited(proc *p, int n) {
    int gone = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].pid <= 0) {
            gone += p[i].pid == 0 && p[i].name[0];
            continue;
        }
        int st;
        if (waitpid(p[i].pid, &st, WNOHANG) != p[i].pid)
            continue;
        p[i].pid = 0;
        gone++;
        if (WIFEXITED(st))
            fprintf(stderr, "bench: %s exited with status %d\n", p[i].name,
                    WEXITSTATUS(st));
        else
            fprintf(stderr, "bench: %s was killed by signal %d\n", p[i].name,
                    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        if (p[i].log[0])
            print_log_tail(p[i].log);
    }
    return gone;
}

#define BENCH_SCRAPE_TIMEOUT_MS 10000 /* each connect, send, receive */

/* A scrape of one series' sum over label sets from a worker's /metrics;
 * -1 when the scrape fails. */
double bench_scrape_sum(int port, const char *series) {
    lm_http_get_reply r;
    char err[256];
    double sum = 0;
    if (lm_http_get("127.0.0.1", port, "/metrics", BENCH_SCRAPE_TIMEOUT_MS, &r,
                    err, sizeof(err)) != 0)
        return -1;
    if (r.status != 200) {
        lm_http_get_free(&r);
        return -1;
    }
    char *buf = r.body;
    size_t sl = strlen(series);
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, series, sl) == 0 &&
            (line[sl] == ' ' || line[sl] == '{')) {
            char *sp = strrchr(line, ' ');
            if (sp)
                sum += strtod(sp + 1, NULL);
        }
        line = nl ? nl + 1 : NULL;
    }
    lm_http_get_free(&r);
    return sum;
}

/* One INFO section's text of every master (a single Redis is one; a
 * cluster's masters each their own), each malloc'd into text[0..n): n,
 * or -1 when a master cannot be read (nothing left to free then). */
static int redis_info(lm_redis *r, const char *section,
                      char *text[BENCH_MASTERS_MAX]) {
    char err[256];
    int n = lm_redis_masters(r, err, sizeof(err));
    if (n <= 0 || n > BENCH_MASTERS_MAX)
        return -1;
    lm_pipe p = {0};
    lm_pipe_cmd_strs(&p, "INFO", section, NULL);
    int got = 0;
    for (; got < n; got++) {
        redisReply *rep[1];
        if (lm_redis_exec_on_master(r, got, &p, rep, err, sizeof(err)) != 0)
            break;
        const char *s = lm_reply_str(rep[0], NULL);
        text[got] = s ? strdup(s) : NULL;
        lm_redis_replies_free(rep, 1);
        if (!text[got])
            break;
    }
    lm_pipe_free(&p);
    if (got == n)
        return n;
    while (got > 0)
        free(text[--got]);
    return -1;
}

static void redis_info_free(char *text[], int n) {
    for (int i = 0; i < n; i++)
        free(text[i]);
}

/* A whole-number field of one INFO section ("total_commands_processed"),
 * summed over the masters, or -1 when it cannot be read on one. */
static long long redis_info_ll(lm_redis *r, const char *section,
                               const char *field) {
    char *text[BENCH_MASTERS_MAX];
    int n = redis_info(r, section, text);
    long long sum = n > 0 ? 0 : -1;
    for (int i = 0; i < n && sum >= 0; i++) {
        long long v;
        sum = bench_info_ll(text[i], field, &v) == 0 ? sum + v : -1;
    }
    redis_info_free(text, n);
    return sum;
}

long long bench_redis_commands(lm_redis *r) {
    return redis_info_ll(r, "stats", "total_commands_processed");
}

int bench_aof_rewrite_start(lm_redis *r) {
    char err[256];
    int n = lm_redis_masters(r, err, sizeof(err));
    if (n <= 0 || n > BENCH_MASTERS_MAX)
        return -1;
    lm_pipe p = {0};
    lm_pipe_cmd_strs(&p, "BGREWRITEAOF", NULL);
    int started = 0;
    for (int m = 0; m < n; m++) {
        redisReply *rep[1];
        if (lm_redis_exec_on_master(r, m, &p, rep, err, sizeof(err)) != 0)
            continue;
        /* "... already in progress" is an error reply: one is running */
        if (rep[0]->type == REDIS_REPLY_STATUS ||
            (rep[0]->type == REDIS_REPLY_ERROR &&
             strstr(rep[0]->str, "already in progress")))
            started++;
        lm_redis_replies_free(rep, 1);
    }
    lm_pipe_free(&p);
    return started == n ? 0 : -1;
}

aof_mark bench_aof_mark_take(lm_redis *r) {
    aof_mark a = {redis_info_ll(r, "persistence", "aof_rewrites"),
                  redis_info_ll(r, "persistence", "aof_rewrite_in_progress")};
    return a;
}

/* Redis's CPU seconds so far: its main thread, and its children (the
 * AOF rewrites it forks). 0 / -1. */
int bench_redis_cpu(lm_redis *r, double *main_s, double *children_s) {
    static const char *const fields[4] = {
        "used_cpu_user_main_thread", "used_cpu_sys_main_thread",
        "used_cpu_user_children", "used_cpu_sys_children"};
    *main_s = *children_s = 0;
    char *text[BENCH_MASTERS_MAX];
    int n = redis_info(r, "cpu", text);
    for (int m = 0; m < n; m++) /* every master's CPU, summed */
        for (int i = 0; i < 4; i++) {
            double v = 0;
            if (bench_info_double(text[m], fields[i], &v) == 0)
                *(i < 2 ? main_s : children_s) += v;
        }
    redis_info_free(text, n);
    return n > 0 ? 0 : -1;
}

int bench_redis_snap(lm_redis *r, redis_snap *out) {
    memset(out, 0, sizeof(*out));
    out->commands = bench_redis_commands(r);
    out->aof = bench_aof_mark_take(r);
    out->aof_size = redis_info_ll(r, "persistence", "aof_current_size");
    int rc = bench_redis_cpu(r, &out->cpu_main, &out->cpu_children);
    char *text[BENCH_MASTERS_MAX];
    int n = redis_info(r, "commandstats", text);
    out->cmdstats = n > 0 ? lm_strmap_new(64) : NULL;
    for (int m = 0; m < n && out->cmdstats; m++) /* calls summed */
        if (bench_info_cmdstats(text[m], out->cmdstats) < 0) {
            lm_strmap_free(out->cmdstats);
            out->cmdstats = NULL;
        }
    redis_info_free(text, n);
    return rc == 0 && out->commands >= 0 && out->aof_size >= 0 && out->cmdstats
               ? 0
               : -1;
}

void bench_redis_snap_free(redis_snap *s) {
    lm_strmap_free(s->cmdstats);
    s->cmdstats = NULL;
}
