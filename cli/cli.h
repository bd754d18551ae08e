/* cli.h — subcommands of the `lastmile` tool, one file each.
 *
 * Every subcommand takes (argc, argv) with argv[0] = its own name, prints
 * its --help, and returns the exit code: 0 ok, 1 failed, 2 usage. */
#ifndef LM_CLI_H
#define LM_CLI_H

#define LM_EXIT_OK     0
#define LM_EXIT_FAILED 1
#define LM_EXIT_USAGE  2

int lm_cmd_dev(int argc, char **argv);
int lm_cmd_env(int argc, char **argv);

/* The path of the running lastmile binary (for spawning children). */
const char *lm_cli_self(void);
/* The stack directory: LASTMILE_DEV_DIR or ./.lastmile. */
const char *lm_cli_dev_dir(void);

#endif
