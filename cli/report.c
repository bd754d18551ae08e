/* report.c — `lastmile report`: placeholder until its implementation lands. */
#include "cli.h"

#include <stdio.h>

int lm_cmd_report(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lastmile report: not available in this build yet\n");
    return LM_EXIT_FAILED;
}
