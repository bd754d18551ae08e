/* main.c — lastmile-qualification: the qualification worker. */
#include "qualification.h"

int main(void) {
    return lm_runtime_main(&lm_qualification_worker);
}
