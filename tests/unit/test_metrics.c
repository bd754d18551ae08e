/* test_metrics.c — unit tests for lm_metrics: the registry, the text
 * exposition format (rendering, registration errors, the scrape hook) and
 * concurrent updates; the checker itself is tested first. The HTTP
 * endpoints are test_metrics_server.c's.
 *
 * Every rendered document is run through expo_check (metrics_testutil.h),
 * a strict checker of the Prometheus text format 0.0.4 written for these
 * tests (not the code under test).
 *
 * Threads: the concurrency test runs 4 updater threads against a rendering
 * main thread. No test asserts wall-clock durations. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lm_http.h"
#include "lm_http_get.h"
#include "lm_metrics.h"
#include "metrics_testutil.h"

#define T_THREADS         4
#define T_ADDS_PER_THREAD 200000

/* ==== the checker itself ================================================== */

Test(metrics_checker, rejects_malformed_documents) {
    static const char *const bad[] = {
        "x 1\n",                                      /* no TYPE */
        "# TYPE x counter\nx 1",                      /* no newline */
        "# TYPE x counter\n\nx 1\n",                  /* empty line */
        "# TYPE x counter\nx{a=b} 1\n",               /* unquoted */
        "# TYPE x counter\nx{1a=\"b\"} 1\n",          /* label name */
        "# TYPE x counter\nx{a=\"\\q\"} 1\n",         /* escape */
        "# TYPE x counter\nx abc\n",                  /* value */
        "# TYPE x counter\nx  1\n",                   /* two spaces */
        "# TYPE x counter\nx inf\n",                  /* not +Inf */
        "# TYPE x counter\nx 1\nx 2\n",               /* duplicate */
        "# TYPE x counter\n# TYPE x counter\nx 1\n",  /* TYPE twice */
        "# HELP x a\n# HELP x b\n# TYPE x counter\n", /* HELP twice */
        "# TYPE x wat\n",                             /* type */
        "# TYPE x counter\nx 1\n# TYPE y gauge\ny 1\n"
        "# TYPE x counter\n",        /* contiguity */
        "# TYPE x counter\ny 1\n",   /* foreign */
        "# TYPE x counter\nx -1\n",  /* negative */
        "# just a comment\n",        /* comment */
        "# HELP x bad \\x escape\n", /* HELP escape */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", /* cumulative */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
        "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", /* count */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
        "h_sum 1\nh_count 1\n", /* no +Inf */
        "# TYPE h histogram\nh_bucket{le=\"2\"} 1\n"
        "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",             /* le order */
        "# TYPE h histogram\nh_bucket 1\n", /* no le */
        "# TYPE h histogram\nh 1\n",        /* suffix */
    };
    static const char *const good[] = {
        "",
        "# HELP x a \\\\ b \\n c\n# TYPE x counter\nx 1\n",
        "# TYPE x gauge\nx{a=\"q\\\"\\n\\\\\"} -Inf\nx{a=\"2\"} NaN\n"
        "x{a=\"3\"} 1.5e-07 1700000000000\n",
        "# TYPE h histogram\nh_bucket{a=\"1\",le=\"0.5\"} 1\n"
        "h_bucket{a=\"1\",le=\"+Inf\"} 2\nh_sum{a=\"1\"} 3\n"
        "h_count{a=\"1\"} 2\n",
    };
    char err[T_ERR_MAX];
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(expo_check(bad[i], err, sizeof err), -1,
                     "checker accepted bad[%zu]: %s", i, bad[i]);
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(expo_check(good[i], err, sizeof err), 0,
                     "checker rejected good[%zu]: %s", i, err);
}

/* ==== rendering, table-driven ============================================= */

static void setup_empty(lm_metrics *m) {
    (void)m;
}

static void setup_counter(lm_metrics *m) {
    lm_counter *c =
        lm_metrics_counter(m, "lastmile_done_total", "Things done.", NULL);
    cr_assert_not_null(c);
    lm_counter_add(c, 3);
}

static void setup_counter_labels(lm_metrics *m) {
    lm_counter *a =
        lm_metrics_counter(m, "lastmile_consumed_total", "Messages consumed.",
                           "worker=\"intake\"");
    lm_counter *b = lm_metrics_counter(m, "lastmile_consumed_total",
                                       "ignored: first HELP wins",
                                       "worker=\"timing\",topic=\"t.1\"");
    lm_counter *none =
        lm_metrics_counter(m, "lastmile_consumed_total", NULL, "");
    cr_assert(a != NULL && b != NULL && none != NULL);
    cr_assert(a != b && b != none && a != none);
    lm_counter_add(a, 1);
    lm_counter_add(b, 2);
    lm_counter_add(b, 5);
}

static void setup_counter_max(lm_metrics *m) {
    lm_counter *c = lm_metrics_counter(m, "big_total", "Big.", NULL);
    lm_counter_add(c, UINT64_MAX);
}

static void setup_gauges(lm_metrics *m) {
    static const struct {
        const char *labels;
        double v;
    } g[] = {
        {"k=\"tenth\"", 0.1},       {"k=\"inf\"", INFINITY},
        {"k=\"ninf\"", -INFINITY},  {"k=\"nan\"", NAN},
        {"k=\"tiny\"", 1e-9},       {"k=\"huge\"", 1e21},
        {"k=\"third\"", 1.0 / 3.0}, {"k=\"neg\"", -42},
    };
    lm_gauge *x = lm_metrics_gauge(m, "lag", "Lag, messages.", NULL);
    size_t i;
    lm_gauge_set(x, 2.5);
    lm_gauge_add(x, -1);
    for (i = 0; i < sizeof g / sizeof g[0]; i++)
        lm_gauge_set(lm_metrics_gauge(m, "lag", NULL, g[i].labels), g[i].v);
}

static void setup_help_escape(lm_metrics *m) {
    lm_gauge_set(
        lm_metrics_gauge(m, "esc", "line1\nback\\slash \"quoted\" {x}", NULL),
        1);
}

static void setup_label_escape(lm_metrics *m) {
    /* escaped as given: a\b"c<newline>d */
    lm_counter *a =
        lm_metrics_counter(m, "esc_total", "Esc.", "path=\"a\\\\b\\\"c\\nd\"");
    /* a raw newline is accepted and escaped on output; trailing comma ok */
    lm_counter *b = lm_metrics_counter(m, "esc_total", "Esc.", "v=\"x\ny\",");
    /* the same series written canonically */
    lm_counter *b2 = lm_metrics_counter(m, "esc_total", "Esc.", "v=\"x\\ny\"");
    cr_assert(a != NULL && b != NULL && b == b2);
    lm_counter_add(a, 1);
    lm_counter_add(b2, 2);
}

static void setup_histogram(lm_metrics *m) {
    static const double bounds[] = {0.25, 0.5, 1};
    lm_histogram *h =
        lm_metrics_histogram(m, "op_seconds", "Op time.", NULL, bounds, 3);
    cr_assert_not_null(h);
    lm_histogram_observe(h, 0.125);
    lm_histogram_observe(h, 0.25); /* le is inclusive */
    lm_histogram_observe(h, 0.375);
    lm_histogram_observe(h, 2);
    lm_histogram_observe(h, 2);
    lm_histogram_observe(h, NAN); /* dropped */
}

static void setup_histogram_labels(lm_metrics *m) {
    static const double bounds[] = {1, 10};
    lm_histogram *a = lm_metrics_histogram(m, "batch_size", "Batch.",
                                           "worker=\"intake\"", bounds, 2);
    lm_histogram *b = lm_metrics_histogram(m, "batch_size", "Batch.",
                                           "worker=\"timing\"", bounds, 2);
    lm_histogram *none =
        lm_metrics_histogram(m, "no_bounds", "Only +Inf.", NULL, NULL, 0);
    cr_assert(a != NULL && b != NULL && none != NULL);
    lm_histogram_observe(a, 1);
    lm_histogram_observe(a, 7);
    lm_histogram_observe(none, -3);
}

static void setup_family_order(lm_metrics *m) {
    lm_gauge_set(lm_metrics_gauge(m, "b", "B.", "x=\"1\""), 1);
    lm_counter_add(lm_metrics_counter(m, "a_total", "A.", NULL), 1);
    lm_gauge_set(lm_metrics_gauge(m, "b", "B.", "x=\"2\""), 2);
}

static const struct {
    const char *name;
    void (*setup)(lm_metrics *m);
    const char *want;
} render_cases[] = {
    {"empty", setup_empty, ""},
    {"counter", setup_counter,
     "# HELP lastmile_done_total Things done.\n"
     "# TYPE lastmile_done_total counter\n"
     "lastmile_done_total 3\n"},
    {"counter labels, one family", setup_counter_labels,
     "# HELP lastmile_consumed_total Messages consumed.\n"
     "# TYPE lastmile_consumed_total counter\n"
     "lastmile_consumed_total{worker=\"intake\"} 1\n"
     "lastmile_consumed_total{worker=\"timing\",topic=\"t.1\"} 7\n"
     "lastmile_consumed_total 0\n"},
    {"counter uint64 max", setup_counter_max,
     "# HELP big_total Big.\n# TYPE big_total counter\n"
     "big_total 18446744073709551615\n"},
    {"gauges", setup_gauges,
     "# HELP lag Lag, messages.\n# TYPE lag gauge\n"
     "lag 1.5\n"
     "lag{k=\"tenth\"} 0.1\n"
     "lag{k=\"inf\"} +Inf\n"
     "lag{k=\"ninf\"} -Inf\n"
     "lag{k=\"nan\"} NaN\n"
     "lag{k=\"tiny\"} 1e-09\n"
     "lag{k=\"huge\"} 1e+21\n"
     "lag{k=\"third\"} 0.33333333333333331\n"
     "lag{k=\"neg\"} -42\n"},
    {"help escaping", setup_help_escape,
     "# HELP esc line1\\nback\\\\slash \"quoted\" {x}\n# TYPE esc gauge\n"
     "esc 1\n"},
    {"label escaping", setup_label_escape,
     "# HELP esc_total Esc.\n# TYPE esc_total counter\n"
     "esc_total{path=\"a\\\\b\\\"c\\nd\"} 1\n"
     "esc_total{v=\"x\\ny\"} 2\n"},
    {"histogram", setup_histogram,
     "# HELP op_seconds Op time.\n# TYPE op_seconds histogram\n"
     "op_seconds_bucket{le=\"0.25\"} 2\n"
     "op_seconds_bucket{le=\"0.5\"} 3\n"
     "op_seconds_bucket{le=\"1\"} 3\n"
     "op_seconds_bucket{le=\"+Inf\"} 5\n"
     "op_seconds_sum 4.75\n"
     "op_seconds_count 5\n"},
    {"histogram labels", setup_histogram_labels,
     "# HELP batch_size Batch.\n# TYPE batch_size histogram\n"
     "batch_size_bucket{worker=\"intake\",le=\"1\"} 1\n"
     "batch_size_bucket{worker=\"intake\",le=\"10\"} 2\n"
     "batch_size_bucket{worker=\"intake\",le=\"+Inf\"} 2\n"
     "batch_size_sum{worker=\"intake\"} 8\n"
     "batch_size_count{worker=\"intake\"} 2\n"
     "batch_size_bucket{worker=\"timing\",le=\"1\"} 0\n"
     "batch_size_bucket{worker=\"timing\",le=\"10\"} 0\n"
     "batch_size_bucket{worker=\"timing\",le=\"+Inf\"} 0\n"
     "batch_size_sum{worker=\"timing\"} 0\n"
     "batch_size_count{worker=\"timing\"} 0\n"
     "# HELP no_bounds Only +Inf.\n# TYPE no_bounds histogram\n"
     "no_bounds_bucket{le=\"+Inf\"} 1\n"
     "no_bounds_sum -3\n"
     "no_bounds_count 1\n"},
    {"family order", setup_family_order,
     "# HELP b B.\n# TYPE b gauge\nb{x=\"1\"} 1\nb{x=\"2\"} 2\n"
     "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"},
};

Test(metrics_render, table) {
    size_t i;
    for (i = 0; i < sizeof render_cases / sizeof render_cases[0]; i++) {
        lm_metrics *m = lm_metrics_new();
        char *text;
        cr_assert_not_null(m);
        render_cases[i].setup(m);
        text = render_checked(m);
        cr_expect_str_eq(text, render_cases[i].want, "case \"%s\"",
                         render_cases[i].name);
        free(text);
        lm_metrics_destroy(m);
    }
}

Test(metrics_render, values_and_identity) {
    lm_metrics *m = lm_metrics_new();
    lm_counter *c = lm_metrics_counter(m, "c_total", "C.", "a=\"1\"");
    lm_gauge *g = lm_metrics_gauge(m, "g", "G.", NULL);
    cr_assert_eq(lm_metrics_counter(m, "c_total", "C.", "a=\"1\""), c);
    cr_assert_neq(lm_metrics_counter(m, "c_total", "C.", "a=\"2\""), c);
    cr_assert_eq(lm_metrics_gauge(m, "g", "other help", ""), g);
    lm_counter_add(c, 40);
    lm_counter_add(c, 2);
    cr_assert_eq(lm_counter_value(c), 42);
    lm_gauge_set(g, -1.25);
    lm_gauge_add(g, 0.5);
    cr_assert_eq(lm_gauge_value(g), -0.75);
    lm_metrics_destroy(m);
}

Test(metrics_render, null_handles_are_noops) {
    lm_counter_add(NULL, 1);
    lm_gauge_set(NULL, 1);
    lm_gauge_add(NULL, 1);
    lm_histogram_observe(NULL, 1);
    cr_assert_eq(lm_counter_value(NULL), 0);
    cr_assert_eq(lm_gauge_value(NULL), 0.0);
    lm_metrics_destroy(NULL);
    lm_metrics_server_stop(NULL);
    cr_assert_null(lm_metrics_counter(NULL, "x", "", NULL));
}

/* ==== registration errors, table-driven =================================== */

enum { T_COUNTER, T_GAUGE, T_HISTOGRAM };

Test(metrics_register, rejects_malformed) {
    static const double ok_b[] = {1, 2};
    static const double desc[] = {2, 1};
    static const double dup[] = {1, 1};
    static const double nan_b[] = {NAN};
    static const double inf_b[] = {1, INFINITY};
    static const struct {
        int kind;
        const char *name, *labels;
        const double *bounds;
        size_t n;
    } cases[] = {
        {T_COUNTER, "", NULL, NULL, 0},
        {T_COUNTER, NULL, NULL, NULL, 0},
        {T_COUNTER, "1abc", NULL, NULL, 0},
        {T_COUNTER, "a-b", NULL, NULL, 0},
        {T_COUNTER, "a b", NULL, NULL, 0},
        {T_GAUGE, "caf\xc3\xa9", NULL, NULL, 0},
        {T_COUNTER, "x", "worker=intake", NULL, 0},
        {T_COUNTER, "x", "worker=\"intake", NULL, 0},
        {T_COUNTER, "x", "1a=\"x\"", NULL, 0},
        {T_COUNTER, "x", "a:b=\"x\"", NULL, 0},
        {T_COUNTER, "x", "a=\"x\"b=\"y\"", NULL, 0},
        {T_COUNTER, "x", "a=\"x\",a=\"y\"", NULL, 0},
        {T_COUNTER, "x", "a=\"\\q\"", NULL, 0},
        {T_COUNTER, "x", " a=\"x\"", NULL, 0},
        {T_COUNTER, "x", "a =\"x\"", NULL, 0},
        {T_COUNTER, "x", "a=\"x\" ", NULL, 0},
        {T_COUNTER, "x", "__name__=\"x\"", NULL, 0},
        {T_COUNTER, "x", ",", NULL, 0},
        {T_COUNTER, "x", "a=\"x\",,", NULL, 0},
        {T_COUNTER, "x", "{a=\"x\"}", NULL, 0},
        {T_HISTOGRAM, "h", "le=\"1\"", ok_b, 2},
        {T_HISTOGRAM, "h", NULL, desc, 2},
        {T_HISTOGRAM, "h", NULL, dup, 2},
        {T_HISTOGRAM, "h", NULL, nan_b, 1},
        {T_HISTOGRAM, "h", NULL, inf_b, 2},
        {T_HISTOGRAM, "h", NULL, NULL, 1},
        {T_HISTOGRAM, "h", NULL, ok_b, LM_METRICS_BUCKETS_MAX + 1},
    };
    lm_metrics *m = lm_metrics_new();
    char long_name[LM_METRICS_NAME_MAX + 2];
    char *text;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *h = NULL;
        switch (cases[i].kind) {
        case T_COUNTER:
            h = lm_metrics_counter(m, cases[i].name, "h", cases[i].labels);
            break;
        case T_GAUGE:
            h = lm_metrics_gauge(m, cases[i].name, "h", cases[i].labels);
            break;
        default:
            h = lm_metrics_histogram(m, cases[i].name, "h", cases[i].labels,
                                     cases[i].bounds, cases[i].n);
        }
        cr_expect_null(h, "case %zu (%s / %s) was accepted", i,
                       cases[i].name ? cases[i].name : "NULL",
                       cases[i].labels ? cases[i].labels : "NULL");
    }
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_expect_null(lm_metrics_gauge(m, long_name, "h", NULL));
    long_name[LM_METRICS_NAME_MAX] = '\0';
    cr_expect_not_null(lm_metrics_gauge(m, long_name, "h", NULL));

    /* nothing was left behind but the one good gauge */
    text = render_checked(m);
    cr_expect_eq(strstr(text, "\nx"), NULL, "%s", text);
    cr_expect_eq(strstr(text, "# TYPE h "), NULL, "%s", text);
    free(text);
    lm_metrics_destroy(m);
}

Test(metrics_register, type_and_bounds_clash) {
    static const double b1[] = {1, 2};
    static const double b2[] = {1, 3};
    lm_metrics *m = lm_metrics_new();
    cr_assert_not_null(lm_metrics_counter(m, "x_total", "X.", NULL));
    cr_expect_null(lm_metrics_gauge(m, "x_total", "X.", NULL));
    cr_expect_null(lm_metrics_gauge(m, "x_total", "X.", "a=\"1\""));
    cr_expect_null(lm_metrics_histogram(m, "x_total", "X.", NULL, b1, 2));
    cr_assert_not_null(lm_metrics_histogram(m, "h", "H.", NULL, b1, 2));
    cr_expect_null(lm_metrics_histogram(m, "h", "H.", "a=\"1\"", b2, 2));
    cr_expect_null(lm_metrics_histogram(m, "h", "H.", "a=\"1\"", b1, 1));
    cr_expect_not_null(lm_metrics_histogram(m, "h", "H.", "a=\"1\"", b1, 2));
    cr_expect_null(lm_metrics_counter(m, "h", "H.", NULL));
    free(render_checked(m));
    lm_metrics_destroy(m);
}

Test(metrics_register, standard_buckets) {
    static const struct {
        const double *b;
        size_t n;
        double first, last;
    } sets[] = {
        {lm_metrics_latency_buckets, 0, 0.0005, 10},
        {lm_metrics_business_buckets, 0, 1, 30 * 86400},
        {lm_metrics_size_buckets, 0, 1, 10000},
    };
    const size_t ns[] = {lm_metrics_latency_buckets_n,
                         lm_metrics_business_buckets_n,
                         lm_metrics_size_buckets_n};
    lm_metrics *m = lm_metrics_new();
    size_t i, j;
    cr_expect_eq(lm_metrics_latency_buckets_n, 14);
    for (i = 0; i < 3; i++) {
        char name[32];
        lm_histogram *h;
        cr_assert(ns[i] > 0 && ns[i] <= LM_METRICS_BUCKETS_MAX);
        cr_expect_eq(sets[i].b[0], sets[i].first);
        cr_expect_eq(sets[i].b[ns[i] - 1], sets[i].last);
        for (j = 1; j < ns[i]; j++)
            cr_expect(sets[i].b[j] > sets[i].b[j - 1]);
        snprintf(name, sizeof name, "set%zu", i);
        h = lm_metrics_histogram(m, name, "S.", NULL, sets[i].b, ns[i]);
        cr_assert_not_null(h);
        lm_histogram_observe(h, sets[i].last);
        lm_histogram_observe(h, sets[i].last * 2);
    }
    free(render_checked(m));
    lm_metrics_destroy(m);
}

Test(metrics_register, label_escape) {
    char out[16];
    cr_assert_eq(lm_metrics_label_escape("a\\b\"c\nd", out, sizeof out), 0);
    cr_expect_str_eq(out, "a\\\\b\\\"c\\nd");
    cr_assert_eq(lm_metrics_label_escape("", out, sizeof out), 0);
    cr_expect_str_eq(out, "");
    cr_expect_eq(lm_metrics_label_escape("\"\"\"\"\"\"\"\"", out, sizeof out),
                 -1);
    cr_expect_str_eq(out, "");
    cr_expect_eq(lm_metrics_label_escape("0123456789abcde", out, sizeof out),
                 0);
    cr_expect_eq(lm_metrics_label_escape("0123456789abcdef", out, sizeof out),
                 -1);
}

/* ==== scrape hook ========================================================= */

typedef struct {
    lm_metrics *m;
    int calls;
} t_hook;

static void t_hook_fn(void *opaque) {
    t_hook *h = opaque;
    h->calls++;
    /* registering from the hook must not deadlock */
    lm_gauge_set(lm_metrics_gauge(h->m, "scrapes", "Scrapes.", NULL), h->calls);
}

Test(metrics_render, scrape_hook) {
    t_hook h = {lm_metrics_new(), 0};
    char *text;
    double v = 0;
    lm_metrics_on_scrape(h.m, t_hook_fn, &h);
    free(render_checked(h.m));
    text = render_checked(h.m);
    cr_expect_eq(h.calls, 2);
    cr_assert_eq(find_sample(text, "scrapes", &v), 0, "%s", text);
    cr_expect_eq(v, 2);
    free(text);
    lm_metrics_on_scrape(h.m, NULL, NULL);
    free(render_checked(h.m));
    cr_expect_eq(h.calls, 2);
    lm_metrics_destroy(h.m);
}

/* ==== concurrency ========================================================= */

typedef struct {
    lm_metrics *m;
    int id;
    atomic_int *failures;
} t_worker;

static void *t_worker_run(void *arg) {
    t_worker *w = arg;
    char labels[64];
    lm_counter *shared, *own;
    lm_gauge *g;
    lm_histogram *h;
    int i;

    /* concurrent registration of the same and of distinct series */
    shared = lm_metrics_counter(w->m, "shared_total", "S.", "k=\"v\"");
    snprintf(labels, sizeof labels, "worker=\"t%d\"", w->id);
    own = lm_metrics_counter(w->m, "own_total", "O.", labels);
    g = lm_metrics_gauge(w->m, "level", "L.", NULL);
    h = lm_metrics_histogram(w->m, "obs_seconds", "O.", NULL,
                             lm_metrics_latency_buckets,
                             lm_metrics_latency_buckets_n);
    if (shared == NULL || own == NULL || g == NULL || h == NULL) {
        atomic_fetch_add(w->failures, 1);
        return NULL;
    }
    for (i = 0; i < T_ADDS_PER_THREAD; i++) {
        lm_counter_add(shared, 1);
        lm_counter_add(own, 3);
        lm_gauge_add(g, 1.0);
        lm_histogram_observe(h, (double)(i % 20) * 0.001);
    }
    return NULL;
}

Test(metrics_concurrency, four_threads_exact) {
    lm_metrics *m = lm_metrics_new();
    pthread_t th[T_THREADS];
    t_worker w[T_THREADS];
    atomic_int failures = 0;
    char *text;
    double v = 0;
    int i, renders = 0;

    for (i = 0; i < T_THREADS; i++) {
        w[i] = (t_worker){m, i, &failures};
        cr_assert_eq(pthread_create(&th[i], NULL, t_worker_run, &w[i]), 0);
    }
    /* render while the workers update: every document must check out */
    for (renders = 0; renders < 50; renders++) {
        char name[32];
        snprintf(name, sizeof name, "late_%d", renders);
        lm_gauge_set(lm_metrics_gauge(m, name, "Late.", NULL), renders);
        free(render_checked(m));
    }
    for (i = 0; i < T_THREADS; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&failures), 0);

    cr_expect_eq(lm_counter_value(
                     lm_metrics_counter(m, "shared_total", "S.", "k=\"v\"")),
                 (uint64_t)T_THREADS * T_ADDS_PER_THREAD);
    cr_expect_eq(lm_gauge_value(lm_metrics_gauge(m, "level", "L.", NULL)),
                 (double)T_THREADS * T_ADDS_PER_THREAD);
    text = render_checked(m);
    for (i = 0; i < T_THREADS; i++) {
        char series[64];
        snprintf(series, sizeof series, "own_total{worker=\"t%d\"}", i);
        cr_assert_eq(find_sample(text, series, &v), 0, "%s", series);
        cr_expect_eq(v, 3.0 * T_ADDS_PER_THREAD);
    }
    cr_assert_eq(find_sample(text, "obs_seconds_count", &v), 0);
    cr_expect_eq(v, (double)T_THREADS * T_ADDS_PER_THREAD);
    cr_assert_eq(find_sample(text, "obs_seconds_bucket{le=\"+Inf\"}", &v), 0);
    cr_expect_eq(v, (double)T_THREADS * T_ADDS_PER_THREAD);
    free(text);
    lm_metrics_destroy(m);
}
