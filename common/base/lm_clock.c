/* lm_clock.c — simulated and monotonic time (see lm_clock.h). */
#include "lm_clock.h"

#include <time.h>

static double clock_scale = 1.0;
static int64_t clock_origin_ms = 0;
static int64_t clock_start_ms = 0;

void lm_clock_init(double scale, int64_t origin_ms, int64_t start_ms) {
    clock_scale = scale > 0 ? scale : 1.0;
    clock_origin_ms = origin_ms;
    clock_start_ms = start_ms ? start_ms : origin_ms;
}

int64_t lm_clock_real_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lm_clock_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lm_clock_now_ms(void) {
    int64_t real = lm_clock_real_ms();
    if (clock_origin_ms == 0)
        return real;
    return clock_start_ms +
           (int64_t)((double)(real - clock_origin_ms) * clock_scale);
}

double lm_clock_scale(void) {
    return clock_scale;
}

int64_t lm_clock_real_delay_ms(int64_t sim_ms) {
    if (sim_ms <= 0)
        return 0;
    if (clock_origin_ms == 0)
        return sim_ms;
    return (int64_t)((double)sim_ms / clock_scale);
}
