/* train.c — `lastmile train`: placeholder until its implementation lands. */
#include "cli.h"

#include <stdio.h>

int lm_cmd_train(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lastmile train: not available in this build yet\n");
    return LM_EXIT_FAILED;
}
