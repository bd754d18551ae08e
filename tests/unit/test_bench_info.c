/* test_bench_info.c — the bench's pure parsing (cli/bench_info.c): INFO
 * fields read whole and only at a line's start, commandstats summed by
 * name, and the floor worker's summary line written and read back. */
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
