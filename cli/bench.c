/* bench.c — `lastmile bench`: placeholder until its implementation lands. */
#include "cli.h"

#include <stdio.h>

int lm_cmd_bench(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lastmile bench: not available in this build yet\n");
    return LM_EXIT_FAILED;
}
