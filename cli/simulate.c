/* simulate.c — `lastmile simulate`: the simulated market against whatever
 * LASTMILE_BROKERS points at (the compose profile `sim` runs this). */
#include "cli.h"
#include "simrun.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t sim_stop = 0;
static void on_stop(int sig) {
    (void)sig;
    sim_stop = 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: lastmile simulate [--leads N] [--days D] [--tail-days T] "
            "[--seed S]\n\n"
            "Plays the world outside lastmile against LASTMILE_BROKERS: N "
            "leads (default 2000)\narrive over D simulated days (default 7), "
            "and the connector answers touches\nuntil T more days have "
            "passed (default 21). Honours LASTMILE_TIME_SCALE and\n"
            "LASTMILE_TIME_ORIGIN_MS, which must match the workers'.\n");
}

/* Shared by simulate and demo: parses the market options. 0 / 2 (usage). */
int lm_cli_sim_args(int argc, char **argv, lm_sim *sim, double *days,
                    double *tail_days, int *json, int *board);
int lm_cli_sim_args(int argc, char **argv, lm_sim *sim, double *days,
                    double *tail_days, int *json, int *board) {
    int64_t v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0 && json) {
            *json = 1;
        } else if (strcmp(a, "--board") == 0 && board) {
            *board = 1;
        } else if (strcmp(a, "--leads") == 0 && val &&
                   lm_parse_int64(val, 1, 10000000, &v) == 0) {
            sim->n_leads = (size_t)v;
            i++;
        } else if (strcmp(a, "--seed") == 0 && val &&
                   lm_parse_int64(val, 0, INT64_MAX, &v) == 0) {
            sim->seed = (uint64_t)v;
            i++;
        } else if (strcmp(a, "--days") == 0 && val &&
                   lm_parse_double(val, 0.01, 3650, days) == 0) {
            i++;
        } else if (strcmp(a, "--tail-days") == 0 && val &&
                   lm_parse_double(val, 0, 3650, tail_days) == 0) {
            i++;
        } else {
            fprintf(stderr, "lastmile: bad or incomplete option '%s'%s%s\n", a,
                    val ? " " : "", val ? val : "");
            return LM_EXIT_USAGE;
        }
    }
    return 0;
}

int lm_cmd_simulate(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return LM_EXIT_OK;
    }
    lm_sim sim = {.seed = 1, .n_leads = 2000};
    double days = 7, tail = 21;
    if (lm_cli_sim_args(argc, argv, &sim, &days, &tail, NULL, NULL) != 0) {
        usage(stderr);
        return LM_EXIT_USAGE;
    }
    lm_settings s;
    char err[4096];
    if (lm_settings_load(&s, "cli", err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile simulate: bad configuration:\n%s\n", err);
        return LM_EXIT_USAGE;
    }
    if (!s.brokers || !*s.brokers) {
        fprintf(stderr, "lastmile simulate: LASTMILE_BROKERS is not set "
                        "(example: LASTMILE_BROKERS=kafka:9092)\n");
        lm_settings_free(&s);
        return LM_EXIT_USAGE;
    }
    lm_log_init("simulate", LM_LOG_WARN);
    lm_clock_init(s.time_scale, s.time_origin_ms, s.time_start_ms);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    sim.start_ms = lm_clock_now_ms();
    sim.span_ms = (int64_t)(days * 86400000.0);
    lm_simrun_opts o = {.sim = sim,
                        .end_ms = sim.start_ms + sim.span_ms +
                                  (int64_t)(tail * 86400000.0),
                        .progress_tty = isatty(STDERR_FILENO),
                        .stop = &sim_stop};
    lm_simrun_stats st;
    int rc = lm_simrun(&s, &o, &st, err, sizeof(err));
    lm_settings_free(&s);
    if (rc != 0) {
        fprintf(stderr, "lastmile simulate: %s\n", err);
        return LM_EXIT_FAILED;
    }
    printf("{\"published\": %zu, \"invalid\": %zu, \"repeats\": %zu, "
           "\"touches\": %zu, \"answers\": %zu, \"conversions\": %zu}\n",
           st.published, st.invalid, st.repeats, st.touches, st.answers,
           st.conversions);
    return LM_EXIT_OK;
}
