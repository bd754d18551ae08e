/* main.c — `lastmile`, the one command-line tool: dispatch to subcommands.
 *
 * Each subcommand lives in its own file (cli/<name>.c) and owns its usage
 * text and options; this file reads the options before the command
 * (--help, --version), routes, and prints the overview. LM_VERSION comes
 * from CMake's project(VERSION). */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"dev", lm_cmd_dev,
     "start/stop the embedded broker and Redis, print their environment"},
    {"demo", lm_cmd_demo,
     "run the embedded stack, the fleet and a simulated market; report"},
    {"simulate", lm_cmd_simulate,
     "play the outside world (leads, responses) against LASTMILE_BROKERS"},
    {"publish", lm_cmd_publish, "publish leads from JSON lines or CSV"},
    {"tail", lm_cmd_tail, "decode a lastmile topic to JSON lines"},
    {"report", lm_cmd_report, "the business report: funnel, speed, cost"},
    {"waiting", lm_cmd_waiting, "where decisions wait, by stage and owner"},
    {"train", lm_cmd_train, "fit the qualification model from outcomes"},
    {"model", lm_cmd_model,
     "show a model file, promote a candidate, the cohort figure"},
    {"board", lm_cmd_board, "serve the live flow board in a browser"},
    {"bench", lm_cmd_bench, "measure the fleet against its broker's limit"},
    {"learn-bench", lm_cmd_learn_bench,
     "the learning figure: learned timing against the simulated market"},
    {"dlq", lm_cmd_dlq, "dead letters: list, show, replay"},
    {"gateway-key", lm_cmd_gateway_key,
     "mint an API key for lastmile-gateway; print its keys-file line"},
    {"env", lm_cmd_env, "list every environment variable lastmile reads"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: lastmile COMMAND [ARGS]\n"
               "       lastmile --version\n\n"
               "lastmile turns every model output into a decision with an "
               "owner and a next step.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-11s %s\n", "version", "print the version");
    fprintf(f, "\n`lastmile COMMAND --help` describes each one.\n");
}

static int version(void) {
    printf("lastmile %s\n", LM_VERSION);
    return LM_EXIT_OK;
}

static char self_path[PATH_MAX];

const char *lm_cli_self(void) {
    return self_path;
}

const char *lm_cli_dev_dir(void) {
    const char *d = getenv("LASTMILE_DEV_DIR");
    return d && *d ? d : ".lastmile";
}

int main(int argc, char **argv) {
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
    if (n > 0)
        self_path[n] = '\0';
    else
        snprintf(self_path, sizeof(self_path), "%s", argv[0]);
    static const struct option longopts[] = {
        {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.usage = usage, .longopts = longopts, .in_order = 1};
    int o = lm_cli_getopt(&cli, argc, argv); /* one: the rest is the cmd's */
    if (o == 'V')
        return version();
    if (o != LM_CLI_END)
        return lm_cli_exit(o);
    if (optind >= argc) {
        usage(stderr);
        return LM_EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        usage(stdout);
        return LM_EXIT_OK;
    }
    if (strcmp(name, "version") == 0)
        return version();
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].fn(argc - optind, argv + optind);
    return lm_cli_usage_error(&cli, "unknown command '%s'", name);
}
