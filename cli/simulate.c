/* simulate.c — `lastmile simulate`: placeholder until its implementation lands.
 */
#include "cli.h"

#include <stdio.h>

int lm_cmd_simulate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lastmile simulate: not available in this build yet\n");
    return LM_EXIT_FAILED;
}
