/* bench_info.h — the pure parsing and arithmetic `lastmile bench` does
 * (bench_info.c): fields of Redis's INFO text, its commandstats, the
 * summary line a floor worker logs when it stops, and the Redis figures of
 * a window between two readings. No I/O; unit-tested by
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

/* Where Redis's AOF rewrites stand: how many so far, and whether one is
 * running. On two cores the rewrite child takes one of them while it runs,
 * and every worker's round trips wait. */
typedef struct aof_mark {
    long long rewrites, in_progress; /* -1: could not be read */
} aof_mark;

/* The rewrites that overlapped the window between two marks: counted, or
 * one that was running at either end (whether Redis counts a rewrite when
 * it starts or when it ends); -1 when a mark could not be read. */
long long bench_aof_rewrites_between(aof_mark a, aof_mark b);

/* Redis as the bench reads it at one moment (bench.h's bench_redis_snap).
 * The caller owns cmdstats (bench_redis_snap_free, or lm_strmap_free). */
typedef struct redis_snap {
    long long commands, aof_size; /* -1: could not be read */
    aof_mark aof;
    double cpu_main, cpu_children;
    lm_strmap *cmdstats; /* command -> calls so far; NULL: not read */
} redis_snap;

/* The Redis figures of a window between two snaps, over n leads (the
 * bench's own INFO probes left out of the commands). */
typedef struct bench_redis_fig {
    double commands_per_lead;
    double aof_bytes_per_lead; /* -1: a rewrite in the window, or unknown */
    double roundtrips_per_lead, roundtrips_per_batch;
    double cpu_s_per_1000_leads, rewrite_cpu_s_per_1000_leads;
    lm_strmap *by_name; /* command -> calls in the window; owned */
} bench_redis_fig;

/* The figures of the window from a to b over n_leads leads: commands
 * less the INFO calls, AOF bytes (-1 when a rewrite overlapped the window
 * or a size is unknown), CPU, and by_name (every command but INFO whose
 * calls grew; NULL when a snap has no cmdstats). Round trips are the
 * caller's. The caller frees out->by_name. */
void bench_redis_fig_from(const redis_snap *a, const redis_snap *b,
                          double n_leads, bench_redis_fig *out);

#endif
