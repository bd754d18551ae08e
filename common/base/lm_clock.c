/* lm_clock.c — simulated and monotonic time (see lm_clock.h).
 *
 * Without a shared clock: today's fixed-scale arithmetic, exactly. With
 * one: every read goes to the mapped page (lm_clock_page.c). */
#include "lm_clock.h"
#include "lm_clock_page.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double clock_scale = 1.0;
static int64_t clock_origin_ms = 0;
static int64_t clock_start_ms = 0;
static lm_clock_page *clock_page = NULL; /* set once at start */
static int clock_owner = 0;
static char clock_path[4096];

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
    if (clock_page)
        return lm_clock_page_now_ms(clock_page);
    int64_t real = lm_clock_real_ms();
    if (clock_origin_ms == 0)
        return real;
    return clock_start_ms +
           (int64_t)((double)(real - clock_origin_ms) * clock_scale);
}

double lm_clock_scale(void) {
    return clock_page ? lm_clock_page_scale(clock_page) : clock_scale;
}

double lm_clock_scale_max(void) {
    return clock_page ? lm_clock_page_max_scale(clock_page) : clock_scale;
}

int64_t lm_clock_real_delay_ms(int64_t sim_ms) {
    if (sim_ms <= 0)
        return 0;
    if (clock_page) {
        double real = (double)sim_ms / lm_clock_page_scale(clock_page);
        if (real < 1)
            return 1;
        return real > LM_CLOCK_SHARED_STEP_MS ? LM_CLOCK_SHARED_STEP_MS
                                              : (int64_t)real;
    }
    if (clock_origin_ms == 0)
        return sim_ms;
    return (int64_t)((double)sim_ms / clock_scale);
}

int lm_clock_attach(const char *path, char *err, size_t errsz) {
    if (clock_page && strcmp(path, clock_path) == 0)
        return 0;
    lm_clock_page *p = lm_clock_page_open(path, err, errsz);
    if (!p)
        return -1;
    lm_clock_page_close(clock_page, 0);
    clock_page = p;
    clock_owner = 0;
    snprintf(clock_path, sizeof(clock_path), "%s", path);
    return 0;
}

int lm_clock_own(const char *path, double scale, int64_t start_ms, char *err,
                 size_t errsz) {
    lm_clock_page *p = lm_clock_page_create(
        path, scale, scale, start_ms ? start_ms : lm_clock_real_ms(), err,
        errsz);
    if (!p)
        return -1;
    lm_clock_release();
    clock_page = p;
    clock_owner = 1;
    snprintf(clock_path, sizeof(clock_path), "%s", path);
    return 0;
}

int lm_clock_set(double scale) {
    if (!clock_page || !clock_owner)
        return -1;
    return lm_clock_page_set(clock_page, scale);
}

int lm_clock_shared(void) {
    return clock_page ? 1 + clock_owner : 0;
}

void lm_clock_release(void) {
    lm_clock_page_close(clock_page, clock_owner);
    clock_page = NULL;
    clock_owner = 0;
    clock_path[0] = '\0';
}
