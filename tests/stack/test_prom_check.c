/* test_prom_check.c — the stack tests' Prometheus format checker
 * (prom_check.h) tested on its own: it must reject what Prometheus would
 * (or what breaks its rules) and accept the format's corners. No stack,
 * no threads; the test frees what it reads. */
#include "prom_check.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* The checker itself: it must reject what Prometheus would (or what breaks
 * the rules above) and accept the format's corners. No stack needed. */
Test(metrics, checker_is_strict) {
    static const char *const bad[] = {
        "a 1",                                  /* no final newline */
        "a 1\r\n",                              /* carriage return */
        "1a 1\n",                               /* metric name */
        "a{b=x} 1\n",                           /* unquoted value */
        "a{b=\"x\\q\"} 1\n",                    /* escape */
        "a{__b=\"x\"} 1\n",                     /* reserved label */
        "a{b=\"1\",b=\"2\"} 1\n",               /* label twice */
        "a{b=\"1\"c=\"2\"} 1\n",                /* missing comma */
        "a one\n",                              /* value */
        "a 1 2 3\n",                            /* junk */
        "a 1 x\n",                              /* timestamp */
        "a1\n",                                 /* no blank */
        "a 1\na 2\n",                           /* series twice */
        "a{x=\"1\"} 1\nb 1\na{x=\"2\"} 1\n",    /* not contiguous */
        "a 1\n# TYPE a counter\n",              /* TYPE after samples */
        "# TYPE a counter\n# TYPE a counter\n", /* TYPE twice */
        "# HELP a x\n# HELP a y\n",             /* HELP twice */
        "# HELP a bad \\t escape\n",            /* HELP escape */
        "# TYPE a blah\n",                      /* type */
        "# TYPE c counter\nc -1\n",             /* negative counter */
        "# TYPE h histogram\nh 1\n",            /* bare histogram sample */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} "
        "1\nh_sum 1\nh_count 1\n", /* decreasing buckets */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", /* _sum */
        "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",        /* le order */
        "# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n", /* no le */
        NULL};
    prom_scrape p;
    char err[MT_ERR_MAX];
    for (int i = 0; bad[i]; i++) {
        cr_expect_neq(prom_check(bad[i], strlen(bad[i]), &p, err, sizeof(err)),
                      0, "accepted bad text #%d: \"%s\"", i, bad[i]);
        prom_free(&p);
    }
    static const char good[] = "# HELP a Help with \\\\ and \\n escapes\n"
                               "# TYPE a counter\n"
                               "a{b=\"x\\\"y\\\\z\\n\",c=\"\"} 1.5e3\n"
                               "a{b=\"w\",} 0\n"
                               "# a comment\n"
                               "\n"
                               "# TYPE h histogram\n"
                               "h_bucket{w=\"1\",le=\"0.5\"} 1\n"
                               "h_bucket{w=\"1\",le=\"+Inf\"} 2\n"
                               "h_sum{w=\"1\"} 3.25\n"
                               "h_count{w=\"1\"} 2\n"
                               "g NaN\n"
                               "g2 -Inf 1700000000000\n"
                               "u:sub_total 7\n";
    int rc = prom_check(good, strlen(good), &p, err, sizeof(err));
    cr_expect_eq(rc, 0, "rejected good text: %s", err);
    cr_expect_eq(prom_sum(&p, "a", NULL), 1500);
    cr_expect_eq(prom_sum(&p, "h_count", "w=\"1\""), 2);
    prom_free(&p);
}
