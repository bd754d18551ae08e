/* main.c — lastmile-intake: the intake worker on the shared runtime. */
#include "intake.h"

int main(void) {
    return lm_runtime_main(&lm_intake_worker);
}
