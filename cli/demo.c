/* demo.c — `lastmile demo`: the whole system on one machine.
 *
 * Starts the embedded stack (mock broker, redis-server) in a temporary
 * directory, the four workers as separate processes (as in production),
 * runs the simulated market on an accelerated clock with a progress bar,
 * stops the workers cleanly (SIGTERM: they drain and commit), prints the
 * business report, and takes the stack down — also on Ctrl-C or failure.
 *
 * The clock: the run's simulated span (arrivals + tail) is compressed into
 * about max(40 s, leads / 200) real seconds, plus the real time the fleet
 * spends on each lead's way to its first touch: the demo owns a shared
 * clock file (lm_clock.h, `<dir>/clock`, LASTMILE_TIME_PATH for every
 * process) and the market runs it at real speed while a lead is in the
 * fleet's hands ("bullet time", simrun_bullet.h), so the report's first
 * automatic touch is the fleet's true latency, not that latency times
 * 60,000. The default finishes in well under two minutes on 2 cores
 * (~100 s, against ~43 s at a fixed clock).
 *
 * The environment: the demo decides where the fleet runs (its own broker,
 * Redis, topics, clock, metrics ports), so the LASTMILE_* variables that
 * say so are replaced; every other one — the user's decisions file
 * (LASTMILE_CONFIG), model (LASTMILE_MODEL), log level, batch size,
 * LASTMILE_DEMO_KEEP — reaches the workers as given.
 *
 * A worker that exits during the run (a bad LASTMILE_CONFIG stops it at
 * start) ends the demo at once with its log, instead of a market run
 * against a fleet that is not there.
 *
 * Layout: lm_cmd_demo reads the options (lm_cli_sim_args, into a
 * demo_run on its stack, which holds all the run starts) and runs the
 * phases, one function each: demo_stack_up (directory, stack),
 * demo_env_up (clock, environment, settings), demo_fleet (board,
 * workers, market, report), demo_down (all of it stopped, the directory
 * removed). The only state at file level is the two signal flags. */
#include "board.h"
#include "cli.h"
#include "demo_ready.h"
#include "simrun.h"

#include "lm_clock.h"
#include "lm_devstack.h"
#include "lm_env.h"
#include "lm_log.h"
#include "lm_report.h"
#include "lm_report_owners.h"

#include <jansson.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEMO_WORKERS  4
#define DEMO_DRAIN_MS 20000

int lm_cli_sim_args(lm_cli_cmd *cli, int argc, char **argv, lm_sim *sim,
                    double *days, double *tail_days, int *json, int *board);

static volatile sig_atomic_t demo_stop = 0, demo_child_exited = 0;
static void on_stop(int sig) {
    (void)sig;
    demo_stop = 1;
}
static void on_child(int sig) {
    (void)sig;
    demo_child_exited = 1;
    demo_stop = 1;
}

/* The LASTMILE_* variables the demo sets itself: where the fleet runs. */
static int demo_owns(const char *name, size_t len) {
    static const char *const owned[] = {"LASTMILE_BROKERS",
                                        "LASTMILE_REDIS_URL",
                                        "LASTMILE_TOPIC_PREFIX",
                                        "LASTMILE_METRICS_ADDR",
                                        "LASTMILE_INSTANCE_ID",
                                        "LASTMILE_TIME_SCALE",
                                        "LASTMILE_TIME_ORIGIN_MS",
                                        "LASTMILE_TIME_START_MS",
                                        "LASTMILE_DEV_DIR",
                                        "LASTMILE_TIME_PATH",
                                        NULL};
    if (len > 15 && strncmp(name, "LASTMILE_KAFKA_", 15) == 0)
        return 1; /* the embedded broker needs no SASL, TLS or tuning */
    for (int i = 0; owned[i]; i++) {
        size_t n = strlen(owned[i]);
        /* NAME or NAME_FILE */
        if (strncmp(name, owned[i], n) == 0 &&
            (len == n || (len == n + 5 && strncmp(name + n, "_FILE", 5) == 0)))
            return 1;
    }
    return 0;
}

/* Removes the variables the demo owns, saying which it ignores. */
static void demo_env_reset(void) {
    for (char **e = environ; *e;) {
        size_t n = strcspn(*e, "=");
        if (strncmp(*e, "LASTMILE_", 9) == 0 && demo_owns(*e, n)) {
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)n, *e);
            fprintf(stderr,
                    "lastmile demo: ignoring %s (the demo runs its own "
                    "stack)\n",
                    name);
            unsetenv(name);
            continue; /* environ moved down: look at the same slot again */
        }
        e++;
    }
}

/* After SIGCHLD: which worker exited, with the tail of its log. */
static void report_dead_worker(const pid_t *pids, const char *const *names,
                               int n, const char *dir) {
    for (int i = 0; i < n; i++) {
        int status;
        if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) != pids[i])
            continue;
        fprintf(stderr,
                "lastmile demo: lastmile-%s exited (%s %d); the end of "
                "%s/%s.log:\n",
                names[i], WIFEXITED(status) ? "status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), dir,
                names[i]);
        char cmd[PATH_MAX + 64];
        snprintf(cmd, sizeof(cmd), "tail -n 5 '%s/%s.log' >&2", dir, names[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "lastmile demo: (the log cannot be read)\n");
        return;
    }
    fprintf(stderr,
            "lastmile demo: a process of the embedded stack exited; "
            "see the logs in %s\n",
            dir);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: lastmile demo [--leads N] [--days D] [--tail-days T] "
            "[--seed S] [--json] [--board]\n\n"
            "Runs lastmile end to end on this machine: the embedded broker "
            "and Redis, the\nfour workers, and a simulated market of N leads "
            "(default 2000) arriving over D\nsimulated days (default 7) plus "
            "T days for cadences to play out (default 21),\non an "
            "accelerated clock. Then prints the business report (--json for "
            "machines).\n\n"
            "  --leads N      leads in the market (default 2000)\n"
            "  --days D       simulated days of arrivals (default 7)\n"
            "  --tail-days T  simulated days more for cadences to play out "
            "(default 21)\n"
            "  --seed S       the market's random seed (default 42)\n"
            "  --json         print the report as one JSON object\n"
            "  --board        serve the flow board during the run, and after "
            "it until Ctrl-C\n");
}

/* The worker binaries: beside lastmile when installed, or in the build
 * tree's workers/ folder. */
static int worker_path(const char *worker, char *out, size_t outsz) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", lm_cli_self());
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, outsz, "%.3900s/lastmile-%s", dir, worker);
    if (access(out, X_OK) == 0)
        return 0;
    snprintf(out, outsz, "%.3900s/../workers/lastmile-%s", dir, worker);
    return access(out, X_OK) == 0 ? 0 : -1;
}

static pid_t start_worker(const char *worker, const char *dir,
                          int metrics_port) {
    char exe[PATH_MAX], log[PATH_MAX], addr[64];
    if (worker_path(worker, exe, sizeof(exe)) != 0)
        return -1;
    snprintf(log, sizeof(log), "%s/%s.log", dir, worker);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", metrics_port);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        if (metrics_port > 0) /* its /readyz, for lm_demo_wait_ready */
            setenv("LASTMILE_METRICS_ADDR", addr, 1);
        execl(exe, exe, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void stop_workers(pid_t *pids, int n) {
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    int64_t deadline = lm_clock_mono_ms() + DEMO_DRAIN_MS;
    for (int i = 0; i < n; i++) {
        if (pids[i] <= 0)
            continue;
        int status;
        while (waitpid(pids[i], &status, WNOHANG) == 0) {
            if (lm_clock_mono_ms() > deadline) {
                kill(pids[i], SIGKILL);
                waitpid(pids[i], &status, 0);
                break;
            }
            usleep(20 * 1000);
        }
        pids[i] = 0;
    }
}

/* The business report, plus the market's own count of what it sent, so
 * every submitted lead is seen accounted for exactly once. */
static int demo_report(const lm_settings *s, const lm_simrun_stats *st,
                       int json, char *err, size_t errsz) {
    lm_report rep;
    memset(&rep, 0, sizeof(rep));
    if (lm_cli_report_collect(s, &rep, err, errsz) != 0)
        return -1;
    int64_t accounted = rep.accepted + rep.merged + rep.invalid;
    int rc = 0;
    if (json) {
        json_t *j = NULL;
        if (lm_report_json(&rep, &j) != 0) {
            lm_report_free(&rep);
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        json_object_set_new(
            j, "market",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
                      "published", (json_int_t)st->published, "invalid_sent",
                      (json_int_t)st->invalid, "repeats_sent",
                      (json_int_t)st->repeats, "touches",
                      (json_int_t)st->touches, "answers",
                      (json_int_t)st->answers, "conversions",
                      (json_int_t)st->conversions, "deals_won",
                      (json_int_t)st->deals_won, "deals_lost",
                      (json_int_t)st->deals_lost, "accounted",
                      (json_int_t)accounted, "every_lead_accounted_once",
                      accounted == (int64_t)st->published));
        json_object_set_new(
            json_object_get(j, "market"), "owners",
            json_pack("{s:I, s:I, s:I}", "steps_done",
                      (json_int_t)st->owner_done, "reminders_seen",
                      (json_int_t)st->reminders, "escalations_seen",
                      (json_int_t)st->escalations));
        json_object_set_new(
            json_object_get(j, "market"), "real_speed",
            json_pack("{s:I, s:I, s:I, s:I, s:I}", "leads",
                      (json_int_t)st->bullet.leads, "capped",
                      (json_int_t)st->bullet.capped, "real_ms",
                      (json_int_t)st->bullet.slow_ms, "max_lead_ms",
                      (json_int_t)st->bullet.max_ms, "submitted_late_max_ms",
                      (json_int_t)st->bullet.late_ms));
        lm_report_owners_attach(s, "lastmile demo", j, NULL);
        rc = json_dumpf(j, stdout, JSON_INDENT(2) | LM_REPORT_JSON_REAL);
        fputc('\n', stdout);
        json_decref(j);
    } else {
        lm_report_print(&rep, stdout, isatty(STDOUT_FILENO));
        lm_report_owners_attach(s, "lastmile demo", NULL, stdout);
        printf("\nThe market sent %zu submissions (%zu invalid, %zu repeats "
               "of an earlier person);\nlastmile accounts for %lld: %lld "
               "accepted + %lld merged + %lld invalid — %s.\n",
               st->published, st->invalid, st->repeats, (long long)accounted,
               (long long)rep.accepted, (long long)rep.merged,
               (long long)rep.invalid,
               accounted == (int64_t)st->published ? "every one, once"
                                                   : "MISMATCH");
        printf("The market's owners reported %zu human steps done; they got "
               "%zu reminders and\ntheir team leads %zu escalations.\n",
               st->owner_done, st->reminders, st->escalations);
        printf("The clock ran at real speed for %zu leads on their way to a "
               "first touch\n(%.1f s real in all, at most %lld ms for one; "
               "%zu given up after %d ms).\n",
               st->bullet.leads, (double)st->bullet.slow_ms / 1000.0,
               (long long)st->bullet.max_ms, st->bullet.capped,
               LM_BULLET_CAP_MS);
    }
    if (accounted != (int64_t)st->published) {
        snprintf(err, errsz,
                 "%zu submissions sent but %lld accounted for (see %s)",
                 st->published, (long long)accounted,
                 "the workers' logs in the stack directory");
        rc = -1;
    }
    lm_report_free(&rep);
    return rc;
}

/* ---- the command ---------------------------------------------------- */

#define DEMO_DIR_TEMPLATE "/tmp/lastmile-demo-XXXXXX"

static const char *const demo_workers[DEMO_WORKERS] = {
    "intake", "qualification", "followup", "timing"};

/* One demo: what the options ask for and what the run holds. It lives in
 * lm_cmd_demo; demo_down releases what the run started. */
typedef struct demo_run {
    lm_sim sim;      /* --leads, --seed; the market sets start and span */
    double days;     /* --days of arrivals */
    double tail;     /* --tail-days more for cadences */
    double scale;    /* simulated seconds per real second (demo_env_up) */
    int json, board; /* --json, --board */
    char dir[sizeof(DEMO_DIR_TEMPLATE)]; /* the stack's, made by mkdtemp */
    lm_devstack st;
    lm_settings s; /* read by demo_env_up from the stack's environment */
    lm_board *brd; /* NULL: no board */
    pid_t pids[DEMO_WORKERS]; /* 0: not running */
    int ports[DEMO_WORKERS];  /* their metrics ports, for /readyz */
} demo_run;

/* The temporary directory and the embedded stack in it (d->dir, d->st);
 * SIGINT and SIGTERM stop the demo from here on. 0, or -1 said on stderr
 * (nothing left running; the directory, once made, stays). */
static int demo_stack_up(demo_run *d) {
    char err[4096];
    snprintf(d->dir, sizeof(d->dir), "%s", DEMO_DIR_TEMPLATE);
    if (!mkdtemp(d->dir)) {
        fprintf(stderr, "lastmile demo: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    fprintf(stderr,
            "lastmile demo: starting the embedded broker and Redis "
            "in %s\n",
            d->dir);
    lm_devstack_opts so = {.dir = d->dir,
                           .lastmile_exe = lm_cli_self(),
                           .topic_prefix = "lastmile.",
                           .partitions = 4,
                           .die_with_parent = 1};
    if (lm_devstack_up(&so, &d->st, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile demo: %s\n", err);
        return -1;
    }
    return 0;
}

/* One clock for every process (d->scale, the file <dir>/clock), the
 * environment pointing at the stack, and d->s read from it. 0, or -1 said
 * on stderr with the clock released; the stack is the caller's to take
 * down. */
static int demo_env_up(demo_run *d) {
    char err[4096];
    double total_days = d->days + d->tail;
    double real_s = (double)d->sim.n_leads / 200.0;
    if (real_s < 40)
        real_s = 40;
    d->scale = total_days * 86400.0 / real_s;
    char clock_path[PATH_MAX];
    snprintf(clock_path, sizeof(clock_path), "%.4000s/clock", d->dir);
    demo_env_reset();
    if (lm_clock_own(clock_path, d->scale, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile demo: %s\n", err);
        return -1;
    }
    setenv("LASTMILE_BROKERS", d->st.brokers, 1);
    lm_devstack_client_setenv(); /* after demo_env_reset: always the stack's */
    setenv("LASTMILE_REDIS_URL", d->st.redis_url, 1);
    setenv("LASTMILE_TOPIC_PREFIX", "lastmile.", 1);
    setenv("LASTMILE_TIME_PATH", clock_path, 1);
    if (lm_settings_load(&d->s, "cli", err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile demo: %s\n", err);
        lm_clock_release();
        return -1;
    }
    return 0;
}

/* The flow board on 8080, or on any free port when that is taken;
 * d->brd stays NULL (said on stderr) when neither starts. */
static void demo_board_start(demo_run *d) {
    char err[4096];
    d->brd = lm_board_start(&d->s, "127.0.0.1:8080", err, sizeof(err));
    if (!d->brd) /* 8080 taken: any free port */
        d->brd = lm_board_start(&d->s, "127.0.0.1:0", err, sizeof(err));
    if (d->brd)
        fprintf(stderr,
                "lastmile demo: the flow board is at "
                "http://127.0.0.1:%d/\n",
                lm_board_port(d->brd));
    else
        fprintf(stderr, "lastmile demo: no board: %s\n", err);
}

/* The four workers, each with a metrics port of its own (d->pids,
 * d->ports). 0, or -1 said on stderr; the ones started are in d->pids
 * for demo_down. */
static int demo_workers_start(demo_run *d) {
    for (int i = 0; i < DEMO_WORKERS; i++) {
        d->ports[i] = lm_devstack_free_port();
        d->pids[i] = start_worker(demo_workers[i], d->dir, d->ports[i]);
        if (d->pids[i] <= 0) {
            fprintf(stderr,
                    "lastmile demo: cannot find lastmile-%s beside "
                    "lastmile or in ../workers (build with `make`)\n",
                    demo_workers[i]);
            return -1;
        }
    }
    return 0;
}

/* The market, once the fleet is ready (demo_ready.h), on the shared clock
 * until the run's end, a stop, or a worker's exit; its counts in *sst.
 * 0, or -1 said on stderr (a dead worker with its log). */
static int demo_market(demo_run *d, lm_simrun_stats *sst) {
    char err[4096];
    if (lm_demo_wait_ready(d->ports, DEMO_WORKERS, LM_DEMO_READY_TIMEOUT_MS,
                           &demo_stop) != 0 &&
        !demo_stop)
        fprintf(stderr,
                "lastmile demo: the workers are not all ready after "
                "%d s; the market opens anyway\n",
                LM_DEMO_READY_TIMEOUT_MS / 1000);
    double total_days = d->days + d->tail;
    d->sim.start_ms = lm_clock_now_ms();
    d->sim.span_ms = (int64_t)(d->days * 86400000.0);
    lm_simrun_opts o = {.sim = d->sim,
                        .end_ms = d->sim.start_ms +
                                  (int64_t)(total_days * 86400000.0),
                        .progress_tty = isatty(STDERR_FILENO),
                        .stop = &demo_stop,
                        .bullet_fast = d->scale};
    int sim_rc =
        demo_child_exited ? 0 : lm_simrun(&d->s, &o, sst, err, sizeof(err));
    signal(SIGCHLD, SIG_DFL);
    if (demo_child_exited) {
        report_dead_worker(d->pids, demo_workers, DEMO_WORKERS, d->dir);
        return -1;
    }
    if (sim_rc != 0) {
        fprintf(stderr, "lastmile demo: %s\n", err);
        return -1;
    }
    return 0;
}

/* The run on the stack: the board if asked for, the workers, the market,
 * the workers drained, the report, and the board kept up until Ctrl-C.
 * The exit code; what it starts stays in d for demo_down. */
static int demo_fleet(demo_run *d) {
    char err[4096];
    if (d->board)
        demo_board_start(d);
    signal(SIGCHLD, on_child);
    if (demo_workers_start(d) != 0)
        return LM_EXIT_FAILED;
    fprintf(stderr,
            "lastmile demo: 4 workers up; %zu leads over %.0f simulated days "
            "(+%.0f), 1 s = %.1f simulated hours (real speed while a lead "
            "is on its way to its first touch)\n",
            d->sim.n_leads, d->days, d->tail, d->scale / 3600.0);
    lm_simrun_stats sst;
    if (demo_market(d, &sst) != 0)
        return LM_EXIT_FAILED;
    fprintf(stderr, "lastmile demo: stopping the workers (they drain and "
                    "commit)\n");
    stop_workers(d->pids, DEMO_WORKERS);
    int rc = LM_EXIT_OK;
    if (demo_report(&d->s, &sst, d->json, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile demo: %s\n", err);
        rc = LM_EXIT_FAILED;
    }
    if (d->brd && !demo_stop) {
        fprintf(stderr,
                "lastmile demo: the board stays up at "
                "http://127.0.0.1:%d/ — Ctrl-C to finish\n",
                lm_board_port(d->brd));
        while (!demo_stop)
            pause();
        demo_stop = 0;
    }
    return rc;
}

/* Stops what demo_stack_up, demo_env_up and demo_fleet started, and
 * removes the directory after a good run unless LASTMILE_DEMO_KEEP. */
static void demo_down(demo_run *d, int rc) {
    lm_board_stop(d->brd);
    stop_workers(d->pids, DEMO_WORKERS);
    lm_settings_free(&d->s);
    lm_devstack_down(&d->st);
    lm_clock_release(); /* the workers are gone: the file with them */
    const char *keep = getenv("LASTMILE_DEMO_KEEP"); /* empty = unset */
    if (rc == LM_EXIT_OK && !(keep && *keep)) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "lastmile demo: could not remove %s\n", d->dir);
    }
}

int lm_cmd_demo(int argc, char **argv) {
    static const struct option longopts[] = {
        {"leads", required_argument, NULL, 'n'},
        {"days", required_argument, NULL, 'd'},
        {"tail-days", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"board", no_argument, NULL, 'b'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "demo", .usage = usage, .longopts = longopts};
    demo_run d = {.sim = {.seed = 42, .n_leads = 2000}, .days = 7, .tail = 21};
    int opt = lm_cli_sim_args(&cli, argc, argv, &d.sim, &d.days, &d.tail,
                              &d.json, &d.board);
    if (opt != LM_CLI_END)
        return lm_cli_exit(opt);
    lm_log_init("demo", LM_LOG_WARN);
    if (demo_stack_up(&d) != 0)
        return LM_EXIT_FAILED;
    if (demo_env_up(&d) != 0) {
        lm_devstack_down(&d.st);
        return LM_EXIT_FAILED;
    }
    int rc = demo_fleet(&d);
    demo_down(&d, rc);
    return demo_stop ? LM_EXIT_FAILED : rc;
}
