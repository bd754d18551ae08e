/* main.c — lastmile-timing: timing-adjust and the timer sweeper. */
#include "timing.h"

int main(void) {
    return lm_runtime_main(&lm_timing_worker);
}
