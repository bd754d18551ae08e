/* bench_info.h — the pure parsing `lastmile bench` does (bench_info.c):
 * fields of Redis's INFO text, its commandstats, and the summary line a
 * floor worker logs when it stops. No I/O; unit-tested by
 * tests/unit/test_bench_info.c. */
#ifndef LM_BENCH_INFO_H
#define LM_BENCH_INFO_H

#include "lm_strmap.h"

#include <stddef.h>

/* The number after "<field>:" at the start of a line of INFO text (the
 * field name whole: "aof_rewrites" does not match
 * "aof_rewrites_consecutive_failures"). 0 with *out set, -1 when the field
 * is absent or not a number. */
int bench_info_double(const char *info, const char *field, double *out);
int bench_info_ll(const char *info, const char *field, long long *out);

/* Adds each "cmdstat_<name>:calls=<n>,..." line of INFO commandstats to
 * `calls` (key: the command's name as Redis prints it, lower case, "|"
 * for subcommands; value: calls). The caller owns the map. The number of
 * commands read, or -1 when out of memory or a line is malformed. */
int bench_info_cmdstats(const char *info, lm_strmap *calls);

/* What a floor worker did, from the line it logs when it stops
 * (BENCH_FLOOR_SUMMARY, then "batches=<n> roundtrips=<n> leads=<n>
 * commands=<n>"). */
typedef struct bench_floor_counts {
    long long batches, roundtrips, leads, commands;
} bench_floor_counts;

#define BENCH_FLOOR_SUMMARY "floor_summary"

/* Formats the summary line (with its newline) into out. */
void bench_floor_summary_format(const bench_floor_counts *c, char *out,
                                size_t outsz);
/* Finds the last summary line in a worker's log text and reads it. 0 / -1
 * (no line, or one that does not parse). */
int bench_floor_summary_parse(const char *log, bench_floor_counts *c);

#endif
