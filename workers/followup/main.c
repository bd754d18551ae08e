/* main.c — lastmile-followup: the follow-up worker. */
#include "followup.h"

int main(void) {
    return lm_runtime_main(&lm_followup_worker);
}
