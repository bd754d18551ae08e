/* cli.h — subcommands of the `lastmile` tool, one file each.
 *
 * Every subcommand takes (argc, argv) with argv[0] = its own name, prints
 * its --help, and returns the exit code: 0 ok, 1 failed, 2 usage. */
#ifndef LM_CLI_H
#define LM_CLI_H

#include <stddef.h>

#define LM_EXIT_OK     0
#define LM_EXIT_FAILED 1
#define LM_EXIT_USAGE  2

int lm_cmd_dev(int argc, char **argv);      /* dev.c */
int lm_cmd_env(int argc, char **argv);      /* env.c */
int lm_cmd_demo(int argc, char **argv);     /* demo.c */
int lm_cmd_simulate(int argc, char **argv); /* simulate.c */
int lm_cmd_publish(int argc, char **argv);  /* publish.c */
int lm_cmd_tail(int argc, char **argv);     /* tail.c */
int lm_cmd_report(int argc, char **argv);   /* report.c */
int lm_cmd_waiting(int argc, char **argv);  /* waiting.c */
int lm_cmd_train(int argc, char **argv);    /* train.c */
int lm_cmd_board(int argc, char **argv);    /* board.c */
int lm_cmd_bench(int argc, char **argv);    /* bench.c */

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
