/* cli.h — subcommands of the `lastmile` tool, one file each, and the one
 * way they read their options (opts.c).
 *
 * Every subcommand takes (argc, argv) with argv[0] = its own name, parses
 * its options with lm_cli_getopt, prints its --help on stdout, and returns
 * the exit code: 0 ok, 1 failed, 2 usage (said on stderr). Single-threaded:
 * getopt's state is global. */
#ifndef LM_CLI_H
#define LM_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#define LM_EXIT_OK     0
#define LM_EXIT_FAILED 1
#define LM_EXIT_USAGE  2

int lm_cmd_dev(int argc, char **argv);         /* dev.c */
int lm_cmd_env(int argc, char **argv);         /* env.c */
int lm_cmd_demo(int argc, char **argv);        /* demo.c */
int lm_cmd_simulate(int argc, char **argv);    /* simulate.c */
int lm_cmd_publish(int argc, char **argv);     /* publish.c */
int lm_cmd_tail(int argc, char **argv);        /* tail.c */
int lm_cmd_report(int argc, char **argv);      /* report.c */
int lm_cmd_waiting(int argc, char **argv);     /* waiting.c */
int lm_cmd_train(int argc, char **argv);       /* train.c */
int lm_cmd_model(int argc, char **argv);       /* model.c */
int lm_cmd_board(int argc, char **argv);       /* board.c */
int lm_cmd_bench(int argc, char **argv);       /* bench.c */
int lm_cmd_gateway_key(int argc, char **argv); /* gateway_key.c */
int lm_cmd_dlq(int argc, char **argv);         /* dlq.c */
int lm_cmd_learn_bench(int argc, char **argv); /* learnbench_cmd.c */

/* ---- options (opts.c) ---------------------------------------------------
 *
 * A subcommand describes itself once and loops on lm_cli_getopt, which is
 * getopt_long with the same rules everywhere: `--opt value` and
 * `--opt=value`, unique prefixes (`--lim` for `--limit`), `--` ends the
 * options, options may follow operands (GNU permutation; in_order stops at
 * the first operand instead, for commands with subcommands), `--help` and
 * `-h` print usage() on stdout. Unknown options, missing values and values
 * given to flags are reported on stderr the same way as any usage error:
 *
 *   lastmile tail: unknown option --follow
 *   usage: lastmile tail TOPIC [--from-beginning] [--limit N] [--timeout-ms MS]
 *   Run `lastmile tail --help` for more.
 *
 * (the usage line is usage()'s text up to its first blank line). */

#define LM_CLI_OPTS_MAX 16 /* long options per command, --help not counted */

/* What lm_cli_getopt returns besides an option's val (never 'h'). */
#define LM_CLI_END  (-1) /* no more options: operands at argv[optind..argc) */
#define LM_CLI_HELP (-2) /* usage printed on stdout: exit LM_EXIT_OK */
#define LM_CLI_BAD  (-3) /* error printed on stderr: exit LM_EXIT_USAGE */

typedef struct lm_cli_cmd {
    const char *name;       /* "tail", "dev up"; NULL = lastmile itself */
    void (*usage)(FILE *f); /* the whole --help text, "usage: ..." first */
    const struct option *longopts; /* <= LM_CLI_OPTS_MAX, then all-zero; flag
                                      NULL; vals > 0, not 'h' (--help is
                                      added), '?' or ':' */
    int in_order;                  /* 1: options end at the first operand */
    int started;                   /* lm_cli_getopt's; zero-initialise */
} lm_cli_cmd;

/* The next option of argv (argv[0] = the command's name): its val, its
 * value in optarg; or LM_CLI_END / LM_CLI_HELP / LM_CLI_BAD. The first call
 * on c resets getopt (optind = 0), so commands may parse in turn. */
int lm_cli_getopt(lm_cli_cmd *c, int argc, char **argv);
/* The exit code after LM_CLI_HELP (0) or LM_CLI_BAD (2). */
int lm_cli_exit(int opt);
/* A usage error: "lastmile NAME: <fmt>", the usage line and the pointer to
 * --help, on stderr. Returns LM_EXIT_USAGE. */
int lm_cli_usage_error(const lm_cli_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* After the options of a command that takes no operands: 0, or the usage
 * error for the first operand (LM_EXIT_USAGE). */
int lm_cli_no_operands(const lm_cli_cmd *c, int argc, char **argv);
/* The command's settings (the environment, lm_settings_load for "cli")
 * into s: 0, and s is the caller's to lm_settings_free; or -1 after
 * "lastmile NAME: <every mistake>" on stderr (the caller exits with
 * LM_EXIT_FAILED). */
struct lm_settings;
int lm_cli_settings(const lm_cli_cmd *c, struct lm_settings *s);

/* Invalid input off the dead-letter topic + every lead in Redis → rep
 * (release with lm_report_free). Clock initialised by the caller. 0 / -1. */
struct lm_settings;
struct lm_report;
int lm_cli_report_collect(const struct lm_settings *s, struct lm_report *rep,
                          char *err, size_t errsz);

/* The path of the running lastmile binary (for spawning children). */
const char *lm_cli_self(void);
/* The stack directory: LASTMILE_DEV_DIR or ./.lastmile. */
const char *lm_cli_dev_dir(void);

#endif
