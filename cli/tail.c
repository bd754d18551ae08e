/* tail.c — `lastmile tail`: placeholder until its implementation lands. */
#include "cli.h"

#include <stdio.h>

int lm_cmd_tail(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lastmile tail: not available in this build yet\n");
    return LM_EXIT_FAILED;
}
