/* demo.c — `lastmile demo`: placeholder until its implementation lands. */
#include "cli.h"

#include <stdio.h>

int lm_cmd_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lastmile demo: not available in this build yet\n");
    return LM_EXIT_FAILED;
}
