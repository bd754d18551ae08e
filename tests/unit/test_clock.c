/* test_clock.c — the shared clock (lm_clock_page.h, lm_clock.h's shared
 * part): a scale change keeps simulated time continuous and monotonic,
 * also for readers in other threads and another process while the owner
 * switches the scale thousands of times; two readers agree; missing, short or
 * foreign files are refused with the path and the fix; LASTMILE_TIME_PATH
 * attaches a process (and is refused beside a fixed scale). No wall-clock
 * duration is asserted: every bound is relative to the real time the test
 * itself measured. */
#include "lm_clock.h"
#include "lm_clock_page.h"
#include "lm_env.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAST 60480.0
#define T0   INT64_C(1796000000000) /* a simulated start, epoch ms */

static char dir[] = "/tmp/lastmile-clock-test-XXXXXX";
static char path[256];

static void setup(void) {
    cr_assert(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof(path), "%s/clock", dir);
}

static void teardown(void) {
    char junk[300];
    unlink(path);
    snprintf(junk, sizeof(junk), "%s/junk", dir);
    unlink(junk);
    rmdir(dir);
}

TestSuite(clock, .init = setup, .fini = teardown);

Test(clock, scale_change_is_continuous) {
    char err[512];
    lm_clock_page *w =
        lm_clock_page_create(path, FAST, FAST, T0, err, sizeof(err));
    cr_assert(w, "%s", err);
    int64_t m0 = lm_clock_mono_ms(), a = lm_clock_page_now_ms(w);
    cr_assert_eq(lm_clock_page_set(w, 1.0), 0);
    int64_t b = lm_clock_page_now_ms(w), m1 = lm_clock_mono_ms();
    cr_expect_eq(lm_clock_page_scale(w), 1.0);
    cr_expect_eq(lm_clock_page_max_scale(w), FAST);
    /* no jump: what passed is at most the real time passed at the fast
       scale (plus a ms of rounding at each end) */
    cr_expect_geq(b, a);
    cr_expect_leq(b - a, (int64_t)((double)(m1 - m0 + 2) * FAST));
    cr_assert_eq(lm_clock_page_set(w, FAST), 0);
    int64_t c = lm_clock_page_now_ms(w);
    cr_expect_geq(c, b);
    lm_clock_page_close(w, 1);
}

Test(clock, owner_only_and_in_range) {
    char err[512];
    lm_clock_page *w =
        lm_clock_page_create(path, FAST, FAST, T0, err, sizeof(err));
    cr_assert(w, "%s", err);
    lm_clock_page *r = lm_clock_page_open(path, err, sizeof(err));
    cr_assert(r, "%s", err);
    cr_expect_eq(lm_clock_page_set(r, 1.0), -1, "a reader cannot set");
    cr_expect_eq(lm_clock_page_set(w, FAST * 2), -1, "past the max");
    cr_expect_eq(lm_clock_page_set(w, 0), -1);
    cr_expect_eq(lm_clock_page_scale(r), FAST);
    /* the file is there once: a second owner is refused */
    cr_expect_null(lm_clock_page_create(path, 1, 1, T0, err, sizeof(err)));
    lm_clock_page_close(r, 0);
    lm_clock_page_close(w, 1);
    cr_expect_neq(access(path, F_OK), 0, "the owner removes the file");
}

/* A reader thread with its own mapping reads as fast as it can while the
 * owner flips the scale: its readings never go back. */
typedef struct reader_arg {
    atomic_int stop, started;
    int64_t backwards, reads;
} reader_arg;

static void *reader(void *p) {
    reader_arg *a = p;
    char err[512];
    lm_clock_page *r = lm_clock_page_open(path, err, sizeof(err));
    if (!r) {
        atomic_store(&a->started, 1); /* reads stays 0: the test fails */
        return NULL;
    }
    int64_t last = 0;
    while (!atomic_load(&a->stop)) {
        int64_t now = lm_clock_page_now_ms(r);
        a->backwards += now < last;
        last = now;
        a->reads++;
        atomic_store(&a->started, 1);
    }
    lm_clock_page_close(r, 0);
    return NULL;
}

Test(clock, monotonic_under_switches_two_readers_agree) {
    char err[512];
    lm_clock_page *w =
        lm_clock_page_create(path, FAST, FAST, T0, err, sizeof(err));
    cr_assert(w, "%s", err);
    lm_clock_page *r1 = lm_clock_page_open(path, err, sizeof(err));
    lm_clock_page *r2 = lm_clock_page_open(path, err, sizeof(err));
    cr_assert(r1 && r2, "%s", err);
    reader_arg arg = {0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, reader, &arg), 0);
    while (!atomic_load(&arg.started)) /* reading while the scale flips */
        usleep(1000);
    int64_t last = 0, disagree = 0, back = 0;
    for (int i = 0; i < 20000; i++) {
        lm_clock_page_set(w, i % 2 ? FAST : 1.0);
        /* read in turn through two mappings: each later read is later */
        int64_t a = lm_clock_page_now_ms(r1), b = lm_clock_page_now_ms(r2),
                c = lm_clock_page_now_ms(r1);
        disagree += b < a || c < b;
        back += a < last;
        last = c;
    }
    atomic_store(&arg.stop, 1);
    pthread_join(th, NULL);
    cr_expect_eq(disagree, 0);
    cr_expect_eq(back, 0);
    cr_expect_gt(arg.reads, 0);
    cr_expect_eq(arg.backwards, 0, "%lld of %lld reads went back",
                 (long long)arg.backwards, (long long)arg.reads);
    lm_clock_page_close(r1, 0);
    lm_clock_page_close(r2, 0);
    lm_clock_page_close(w, 1);
}

/* Another process reads between two of the owner's reads. */
Test(clock, another_process_agrees) {
    char err[512];
    lm_clock_page *w =
        lm_clock_page_create(path, FAST, FAST, T0, err, sizeof(err));
    cr_assert(w, "%s", err);
    int go[2], back[2];
    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(back), 0);
    pid_t pid = fork();
    if (pid == 0) {
        lm_clock_page *r = lm_clock_page_open(path, err, sizeof(err));
        char c;
        int64_t v = -1;
        if (r && read(go[0], &c, 1) == 1)
            v = lm_clock_page_now_ms(r);
        _exit(write(back[1], &v, sizeof(v)) == sizeof(v) ? 0 : 1);
    }
    lm_clock_page_set(w, 1.0);
    int64_t before = lm_clock_page_now_ms(w), child = -1;
    cr_assert_eq(write(go[1], "x", 1), 1);
    cr_assert_eq(read(back[0], &child, sizeof(child)), (ssize_t)sizeof(child));
    int64_t after = lm_clock_page_now_ms(w);
    int st;
    waitpid(pid, &st, 0);
    cr_expect_geq(child, before);
    cr_expect_leq(child, after);
    lm_clock_page_close(w, 1);
}

Test(clock, bad_files_are_refused_with_the_fix) {
    char err[512] = "", junk[300];
    cr_expect_null(lm_clock_page_open(path, err, sizeof(err)));
    cr_expect(strstr(err, path) && strstr(err, "cannot open the shared clock"),
              "%s", err);
    cr_expect(strstr(err, "unset LASTMILE_TIME_PATH"), "%s", err);
    snprintf(junk, sizeof(junk), "%s/junk", dir);
    FILE *f = fopen(junk, "w");
    cr_assert(f);
    fputs("not a clock\n", f);
    fclose(f);
    cr_expect_null(lm_clock_page_open(junk, err, sizeof(err)));
    cr_expect(strstr(err, "is not a lastmile clock file"), "%s", err);
    f = fopen(junk, "w");
    cr_assert(f);
    for (int i = 0; i < 4096; i++)
        fputc('x', f);
    fclose(f);
    cr_expect_null(lm_clock_page_open(junk, err, sizeof(err)));
    cr_expect(strstr(err, "bad magic"), "%s", err);
}

/* The process-wide clock: LASTMILE_TIME_PATH attaches it; the owner's
 * changes show in lm_clock_now_ms; sleeps are capped; release gives the
 * wall clock back. */
Test(clock, process_clock_follows_the_file) {
    char err[4096] = "";
    cr_assert_eq(lm_clock_own(path, FAST, T0, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(lm_clock_shared(), 2);
    cr_expect_eq(lm_clock_scale(), FAST);
    cr_expect_leq(lm_clock_real_delay_ms(86400000), LM_CLOCK_SHARED_STEP_MS);
    cr_expect_eq(lm_clock_real_delay_ms(0), 0);
    int64_t a = lm_clock_now_ms();
    cr_expect_geq(a, T0);
    cr_assert_eq(lm_clock_set(1.0), 0);
    cr_expect_eq(lm_clock_scale(), 1.0);
    cr_expect_eq(lm_clock_scale_max(), FAST);
    cr_expect_geq(lm_clock_now_ms(), a);
    /* a reader process's settings attach it to the same file */
    clearenv();
    setenv("LASTMILE_TIME_PATH", path, 1);
    lm_settings s;
    cr_assert_eq(lm_settings_load(&s, "cli", err, sizeof(err)), 0, "%s", err);
    cr_expect_str_eq(s.time_path, path);
    lm_settings_free(&s);
    setenv("LASTMILE_TIME_SCALE", "3600", 1);
    setenv("LASTMILE_TIME_ORIGIN_MS", "1764028800000", 1);
    cr_expect_neq(lm_settings_load(&s, "cli", err, sizeof(err)), 0);
    cr_expect(strstr(err, "LASTMILE_TIME_PATH is set together with"), "%s",
              err);
    lm_clock_release();
    cr_expect_eq(lm_clock_shared(), 0);
    cr_expect_neq(access(path, F_OK), 0);
    lm_clock_init(1, 0, 0);
    int64_t wall = lm_clock_real_ms();
    cr_expect_geq(lm_clock_now_ms(), wall);
}

Test(clock, attach_missing_file_is_an_error_at_start) {
    char err[4096] = "";
    clearenv();
    setenv("LASTMILE_TIME_PATH", path, 1);
    lm_settings s;
    cr_expect_neq(lm_settings_load(&s, "cli", err, sizeof(err)), 0);
    cr_expect(strstr(err, "LASTMILE_TIME_PATH: ") && strstr(err, path) &&
                  strstr(err, "cannot open the shared clock"),
              "%s", err);
    cr_expect_eq(lm_clock_shared(), 0);
}

/* An owner killed between its two sequence increments leaves `seq` odd:
 * readers do not hang on it (they read the fields after a while). */
Test(clock, a_writer_dead_mid_write_does_not_hang_readers, .timeout = 30) {
    char err[512];
    lm_clock_page *w =
        lm_clock_page_create(path, FAST, FAST, T0, err, sizeof(err));
    cr_assert(w, "%s", err);
    lm_clock_page *r = lm_clock_page_open(path, err, sizeof(err));
    cr_assert(r, "%s", err);
    int64_t a = lm_clock_page_now_ms(r);
    /* page layout: magic[8], version, size (4 each), then seq */
    int fd = open(path, O_RDWR);
    uint64_t seq = 0;
    cr_assert_eq(pread(fd, &seq, sizeof(seq), 16), (ssize_t)sizeof(seq));
    seq |= 1;
    cr_assert_eq(pwrite(fd, &seq, sizeof(seq), 16), (ssize_t)sizeof(seq));
    close(fd);
    cr_expect_geq(lm_clock_page_now_ms(r), a);
    lm_clock_page_close(r, 0);
    lm_clock_page_close(w, 1);
}
