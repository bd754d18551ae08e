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
            "LASTMILE_TIME_ORIGIN_MS, which must match the workers'.\n\n"
            "  --leads N      leads in the market (default 2000)\n"
            "  --days D       simulated days of arrivals (default 7)\n"
            "  --tail-days T  simulated days more for answers (default 21)\n"
            "  --seed S       the market's random seed (default 1)\n");
}

/* Shared by simulate and demo: parses the market options of cli (whose
 * table has "leads", "days", "tail-days", "seed" and may have "json" and
 * "board": vals 'n', 'd', 't', 's', 'j', 'b'). LM_CLI_END when the options
 * are read, LM_CLI_HELP after --help, LM_CLI_BAD after a usage error. */
int lm_cli_sim_args(lm_cli_cmd *cli, int argc, char **argv, lm_sim *sim,
                    double *days, double *tail_days, int *json, int *board);
int lm_cli_sim_args(lm_cli_cmd *cli, int argc, char **argv, lm_sim *sim,
                    double *days, double *tail_days, int *json, int *board) {
    int64_t v;
    for (int o; (o = lm_cli_getopt(cli, argc, argv)) != LM_CLI_END;) {
        const char *bad = NULL;
        if (o == 'j' && json) {
            *json = 1;
        } else if (o == 'b' && board) {
            *board = 1;
        } else if (o == 'n') {
            if (lm_parse_int64(optarg, 1, 10000000, &v) == 0)
                sim->n_leads = (size_t)v;
            else
                bad = "--leads takes a whole number from 1 to 10000000";
        } else if (o == 's') {
            if (lm_parse_int64(optarg, 0, INT64_MAX, &v) == 0)
                sim->seed = (uint64_t)v;
            else
                bad = "--seed takes a whole number of at least 0";
        } else if (o == 'd') {
            if (lm_parse_double(optarg, 0.01, 3650, days) != 0)
                bad = "--days takes a number of days from 0.01 to 3650";
        } else if (o == 't') {
            if (lm_parse_double(optarg, 0, 3650, tail_days) != 0)
                bad = "--tail-days takes a number of days from 0 to 3650";
        } else {
            return o;
        }
        if (bad) {
            lm_cli_usage_error(cli, "%s, not '%s'", bad, optarg);
            return LM_CLI_BAD;
        }
    }
    return lm_cli_no_operands(cli, argc, argv) ? LM_CLI_BAD : LM_CLI_END;
}

int lm_cmd_simulate(int argc, char **argv) {
    static const struct option longopts[] = {
        {"leads", required_argument, NULL, 'n'},
        {"days", required_argument, NULL, 'd'},
        {"tail-days", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "simulate", .usage = usage, .longopts = longopts};
    lm_sim sim = {.seed = 1, .n_leads = 2000};
    double days = 7, tail = 21;
    int opt = lm_cli_sim_args(&cli, argc, argv, &sim, &days, &tail, NULL, NULL);
    if (opt != LM_CLI_END)
        return lm_cli_exit(opt);
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
