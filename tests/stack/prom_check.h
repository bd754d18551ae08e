/* prom_check.h — a strict checker of the Prometheus text format 0.0.4
 * for the stack tests (test_metrics_pipeline.c scrapes every worker with
 * it; test_prom_check.c tests the checker itself). It is the tests' own
 * line parser, not the workers' code. Linked into every stack test binary
 * (tests/CMakeLists.txt), like stack_fixture.c.
 *
 * Ownership: prom_check fills a caller's prom_scrape with the samples it
 * read; the caller frees them with prom_free (also after a failure).
 * No global state; a prom_scrape belongs to one thread. */
#ifndef LM_PROM_CHECK_H
#define LM_PROM_CHECK_H

#include <stddef.h>

#define MT_SAMPLES_MAX  2048 /* samples in one scrape */
#define MT_NAME_MAX     200  /* bytes of a metric or label name */
#define MT_LABELS_MAX   512  /* bytes of a label set or a label value */
#define MT_FAMILIES_MAX 256
#define MT_LINE_MAX     2048
#define MT_ERR_MAX      512

/* A strict checker of the Prometheus text format 0.0.4, and the samples it
 * read. Rules: lines end with \n; "# HELP name text" and "# TYPE name type"
 * at most once per family, before its samples (HELP text escapes: \\ and
 * \n only); a family's samples are contiguous; metric and label names are
 * valid, label names not "__"-prefixed nor repeated, label values quoted
 * with \\, \" and \n as the only escapes; values are floats (or NaN, +Inf,
 * -Inf), an optional integer timestamp follows; no series twice; counters
 * are >= 0; a histogram has _bucket{le} series with strictly ascending le
 * ending at +Inf and non-decreasing counts, and _sum and _count, _count
 * equal to the +Inf bucket. */

typedef struct prom_sample {
    char name[MT_NAME_MAX + 1];
    char labels[MT_LABELS_MAX]; /* as written between the braces */
    char series[MT_LABELS_MAX]; /* labels sorted and without le: identity */
    double le;                  /* _bucket only */
    double value;
} prom_sample;

typedef struct prom_family {
    char name[MT_NAME_MAX + 1];
    char type[16]; /* "" = untyped */
    int help, typed, samples, closed;
} prom_family;

typedef struct prom_scrape {
    prom_sample *s;
    size_t n;
    prom_family fam[MT_FAMILIES_MAX];
    size_t n_fam;
} prom_scrape;

/* Checks a whole /metrics body of len bytes and reads its samples into p
 * (zeroed first; free with prom_free). 0 / -1 with err naming the line. */
int prom_check(const char *text, size_t len, prom_scrape *p, char *err,
               size_t errsz);

/* Frees what prom_check read (p->s) and zeroes p. */
void prom_free(prom_scrape *p);

/* The value of sample `name` whose label set (as written) contains
 * `has` (NULL: any), summed over every match; 0 when none. */
double prom_sum(const prom_scrape *p, const char *name, const char *has);

/* How many samples are named `name`. */
size_t prom_count(const prom_scrape *p, const char *name);

#endif
