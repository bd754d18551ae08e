/* board.c — `lastmile board`: placeholder until its implementation lands. */
#include "cli.h"

#include <stdio.h>

int lm_cmd_board(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lastmile board: not available in this build yet\n");
    return LM_EXIT_FAILED;
}
