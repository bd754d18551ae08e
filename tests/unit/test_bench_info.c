/* test_bench_info.c — the bench's pure parsing (cli/bench_info.c): INFO
 * fields read whole and only at a line's start, commandstats summed by
 * name, the floor worker's summary line written and read back, and a
 * window's figures (the bench's INFO calls left out, no AOF bytes across
 * a rewrite). */
#include "bench_info.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const char *info_text = "# Persistence\r\n"
                               "aof_rewrites_consecutive_failures:7\r\n"
                               "aof_rewrites:3\r\n"
                               "aof_current_size:123456789\r\n"
                               "x_aof_base_size:5\r\n"
                               "bad:12abc\r\n"
                               "# CPU\r\n"
                               "used_cpu_user_main_thread:1.250000\r\n";

Test(bench_info, reads_a_whole_field_at_a_line_start) {
    long long n = 0;
    cr_assert_eq(bench_info_ll(info_text, "aof_rewrites", &n), 0);
    cr_assert_eq(n, 3); /* not the _consecutive_failures line's 7 */
    cr_assert_eq(bench_info_ll(info_text, "aof_current_size", &n), 0);
    cr_assert_eq(n, 123456789LL);
    double d = 0;
    cr_assert_eq(bench_info_double(info_text, "used_cpu_user_main_thread", &d),
                 0);
    cr_assert_float_eq(d, 1.25, 1e-9);
}

Test(bench_info, refuses_absent_or_malformed_fields) {
    long long n = 42;
    cr_assert_eq(bench_info_ll(info_text, "aof_base_size", &n), -1);
    cr_assert_eq(bench_info_ll(info_text, "bad", &n), -1);
    cr_assert_eq(bench_info_ll(info_text, "nothing", &n), -1);
    cr_assert_eq(bench_info_ll(NULL, "aof_rewrites", &n), -1);
    cr_assert_eq(n, 42);
}

Test(bench_info, sums_commandstats_by_name) {
    const char *stats = "# Commandstats\r\n"
                        "cmdstat_hset:calls=30,usec=90,usec_per_call=3.00,"
                        "rejected_calls=0,failed_calls=0\r\n"
                        "cmdstat_client|setname:calls=2,usec=1\r\n"
                        "cmdstat_zadd:calls=10,usec=40\r\n";
    lm_strmap *m = lm_strmap_new(8);
    cr_assert_eq(bench_info_cmdstats(stats, m), 3);
    cr_assert_eq(*lm_strmap_get_str(m, "hset"), 30);
    cr_assert_eq(*lm_strmap_get_str(m, "client|setname"), 2);
    cr_assert_eq(*lm_strmap_get_str(m, "zadd"), 10);
    cr_assert_eq(bench_info_cmdstats(stats, m), 3); /* adds up */
    cr_assert_eq(*lm_strmap_get_str(m, "hset"), 60);
    cr_assert_null(lm_strmap_get_str(m, "get"));
    cr_assert_eq(bench_info_cmdstats("cmdstat_get:usec=3\r\n", m), -1);
    cr_assert_eq(bench_info_cmdstats("cmdstat_get:calls=x\r\n", m), -1);
    lm_strmap_free(m);
}

Test(bench_info, floor_summary_round_trip) {
    bench_floor_counts c = {12, 12, 1200, 1200}, r;
    char line[256], log[512];
    bench_floor_summary_format(&c, line, sizeof(line));
    snprintf(log, sizeof(log),
             "a warning\n%s batches=1 roundtrips=1 leads=1 commands=1\n%s",
             BENCH_FLOOR_SUMMARY, line);
    cr_assert_eq(bench_floor_summary_parse(log, &r), 0); /* the last one */
    cr_assert_eq(r.batches, 12);
    cr_assert_eq(r.roundtrips, 12);
    cr_assert_eq(r.leads, 1200);
    cr_assert_eq(r.commands, 1200);
}

Test(bench_info, floor_summary_refuses_what_it_cannot_read) {
    bench_floor_counts r = {7, 7, 7, 7};
    cr_assert_eq(bench_floor_summary_parse("no summary here\n", &r), -1);
    cr_assert_eq(bench_floor_summary_parse(
                     "floor_summary batches=1 roundtrips=1 leads=1\n", &r),
                 -1);
    cr_assert_eq(bench_floor_summary_parse("floor_summary batches=1 "
                                           "roundtrips=x leads=1 commands=1\n",
                                           &r),
                 -1);
    cr_assert_eq(bench_floor_summary_parse(
                     "say floor_summary batches=1 roundtrips=1 leads=1 "
                     "commands=1\n",
                     &r),
                 -1); /* not at a line's start */
    cr_assert_eq(r.batches, 7);
}

/* A snap of `cmds` commands, `aof` AOF bytes, `rewrites` so far, and
 * commandstats from text. */
static redis_snap snap_of(long long cmds, long long aof, long long rewrites,
                          const char *stats) {
    redis_snap s = {.commands = cmds,
                    .aof_size = aof,
                    .aof = {rewrites, 0},
                    .cpu_main = 0,
                    .cpu_children = 0,
                    .cmdstats = lm_strmap_new(8)};
    cr_assert_geq(bench_info_cmdstats(stats, s.cmdstats), 0);
    return s;
}

Test(bench_info, window_figures_leave_the_info_probes_out) {
    redis_snap a = snap_of(1000, 5000, 2,
                           "cmdstat_info:calls=10,usec=1\r\n"
                           "cmdstat_hset:calls=100,usec=1\r\n");
    redis_snap b = snap_of(1000 + 300 + 4, 5000 + 2000, 2,
                           "cmdstat_info:calls=14,usec=1\r\n"
                           "cmdstat_hset:calls=300,usec=1\r\n"
                           "cmdstat_zadd:calls=100,usec=1\r\n");
    a.cpu_main = 1.0;
    b.cpu_main = 1.5;
    bench_redis_fig f;
    bench_redis_fig_from(&a, &b, 100, &f);
    cr_assert_float_eq(f.commands_per_lead, 3.0, 1e-9); /* 304 - 4 INFO */
    cr_assert_float_eq(f.aof_bytes_per_lead, 20.0, 1e-9);
    cr_assert_float_eq(f.cpu_s_per_1000_leads, 5.0, 1e-9);
    cr_assert_not_null(f.by_name);
    cr_assert_eq(*lm_strmap_get_str(f.by_name, "hset"), 200);
    cr_assert_eq(*lm_strmap_get_str(f.by_name, "zadd"), 100);
    cr_assert_null(lm_strmap_get_str(f.by_name, "info"));
    lm_strmap_free(f.by_name);
    lm_strmap_free(a.cmdstats);
    lm_strmap_free(b.cmdstats);
}

Test(bench_info, no_aof_bytes_across_a_rewrite) {
    redis_snap a = snap_of(0, 90000000, 1, "");
    redis_snap b = snap_of(10, 20000000, 2, ""); /* rewritten: smaller */
    bench_redis_fig f;
    bench_redis_fig_from(&a, &b, 10, &f);
    cr_assert_float_eq(f.aof_bytes_per_lead, -1, 1e-9);
    b.aof.rewrites = 1;
    b.aof.in_progress = 1; /* one still running at the end */
    lm_strmap_free(f.by_name);
    bench_redis_fig_from(&a, &b, 10, &f);
    cr_assert_float_eq(f.aof_bytes_per_lead, -1, 1e-9);
    b.aof.in_progress = 0;
    b.aof_size = -1; /* not read */
    lm_strmap_free(f.by_name);
    bench_redis_fig_from(&a, &b, 10, &f);
    cr_assert_float_eq(f.aof_bytes_per_lead, -1, 1e-9);
    lm_strmap_free(f.by_name);
    lm_strmap_free(a.cmdstats);
    lm_strmap_free(b.cmdstats);
}
