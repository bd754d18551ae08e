/* publish.c — `lastmile publish`: placeholder until its implementation lands.
 */
#include "cli.h"

#include <stdio.h>

int lm_cmd_publish(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lastmile publish: not available in this build yet\n");
    return LM_EXIT_FAILED;
}
