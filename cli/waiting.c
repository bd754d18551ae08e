/* waiting.c — `lastmile waiting`: placeholder until its implementation lands.
 */
#include "cli.h"

#include <stdio.h>

int lm_cmd_waiting(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lastmile waiting: not available in this build yet\n");
    return LM_EXIT_FAILED;
}
