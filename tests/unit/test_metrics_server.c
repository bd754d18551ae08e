/* test_metrics_server.c — unit tests for lm_metrics' HTTP endpoints on
 * loopback (/metrics, /healthz, /readyz; the server itself and address
 * parsing are test_http.c's). The registry and the text format are
 * test_metrics.c's; every /metrics body is run through expo_check
 * (metrics_testutil.h).
 *
 * Threads: the tests talk to the server's thread with the one test client
 * (lm_http_get) and its timeouts (scaled by LASTMILE_TEST_TIMEOUT_MULT).
 * No test asserts wall-clock durations. */
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

#define T_IO_TIMEOUT_S 5

/* ==== HTTP server over loopback =========================================== */

static int t_timeout_s(void) {
    const char *e = getenv("LASTMILE_TEST_TIMEOUT_MULT");
    long long mult = 1;
    if (e != NULL && *e != '\0') {
        char *end = NULL;
        errno = 0;
        mult = strtoll(e, &end, 10);
        if (errno != 0 || *end != '\0' || mult < 1 || mult > 100)
            mult = 1;
    }
    return (int)(T_IO_TIMEOUT_S * mult);
}

/* GET path from the server on 127.0.0.1:port with the one test client
 * (lm_http_get); 0 ok (caller frees r with lm_http_get_free). */
static int t_http_get(int port, const char *path, lm_http_get_reply *r) {
    char err[T_ERR_MAX];
    if (lm_http_get("127.0.0.1", port, path, t_timeout_s() * 1000, r, err,
                    sizeof err) == 0)
        return 0;
    cr_log_error("GET %s: %s", path, err);
    return -1;
}

/* Sends a whole request to host:port; 0 ok, as t_http_get. */
static int t_http_raw(const char *host, int port, const char *request,
                      lm_http_get_reply *r) {
    char err[T_ERR_MAX];
    if (lm_http_get_raw(host, port, request, t_timeout_s() * 1000, r, err,
                        sizeof err) == 0)
        return 0;
    cr_log_error("%s: %s", request, err);
    return -1;
}

typedef struct {
    atomic_int ready;
    atomic_size_t whysz;
} t_readiness;

static int t_ready(void *opaque, char *why, size_t whysz) {
    t_readiness *t = opaque;
    atomic_store(&t->whysz, whysz);
    if (atomic_load(&t->ready))
        return 1;
    snprintf(why, whysz, "kafka: partitions not assigned yet");
    return 0;
}

static lm_metrics_server *t_start(lm_metrics *m, lm_ready_fn ready,
                                  void *opaque) {
    char err[T_ERR_MAX] = "";
    lm_metrics_server *s = lm_metrics_server_start(m, "127.0.0.1:0", ready,
                                                   opaque, err, sizeof err);
    cr_assert_not_null(s, "start: %s", err);
    cr_assert(lm_metrics_server_port(s) > 0);
    return s;
}

Test(metrics_server, endpoints) {
    lm_metrics *m = lm_metrics_new();
    t_readiness rd;
    lm_metrics_server *s;
    char ct[128], allow[64];
    lm_http_get_reply r;
    double v = 0;
    int port;

    atomic_init(&rd.ready, 0);
    atomic_init(&rd.whysz, 0);
    lm_counter_add(lm_metrics_counter(m, "lastmile_consumed_total",
                                      "Messages consumed.",
                                      "worker=\"intake\""),
                   7);
    lm_histogram_observe(lm_metrics_histogram(m, "lastmile_batch_seconds",
                                              "Batch time.", NULL,
                                              lm_metrics_latency_buckets,
                                              lm_metrics_latency_buckets_n),
                         0.02);
    s = t_start(m, t_ready, &rd);
    port = lm_metrics_server_port(s);

    /* /metrics */
    cr_assert_eq(t_http_get(port, "/metrics", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_assert_eq(lm_http_get_header(&r, "Content-Type", ct, sizeof ct), 0);
    cr_expect_eq(strncmp(ct, "text/plain; version=0.0.4", 25), 0, "%s", ct);
    {
        char err[T_ERR_MAX];
        cr_expect_eq(expo_check(r.body, err, sizeof err), 0, "%s", err);
    }
    cr_expect_eq(strlen(r.body), r.body_len);
    cr_expect_eq(
        find_sample(r.body, "lastmile_consumed_total{worker=\"intake\"}", &v),
        0, "%s", r.body);
    cr_expect_eq(v, 7);
    lm_http_get_free(&r);

    /* registration after start shows up on the next scrape */
    lm_gauge_set(lm_metrics_gauge(m, "late", "Late.", NULL), 3);
    cr_assert_eq(t_http_get(port, "/metrics", &r), 0);
    cr_expect_eq(find_sample(r.body, "late", &v), 0, "%s", r.body);
    cr_expect_eq(v, 3);
    lm_http_get_free(&r);

    /* /healthz */
    cr_assert_eq(t_http_get(port, "/healthz", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "ok");
    lm_http_get_free(&r);

    /* /readyz flips with the callback */
    cr_assert_eq(t_http_get(port, "/readyz", &r), 0);
    cr_expect_eq(r.status, 503);
    cr_expect_str_eq(r.body, "kafka: partitions not assigned yet");
    cr_expect_eq(atomic_load(&rd.whysz), LM_METRICS_WHY_MAX);
    lm_http_get_free(&r);
    atomic_store(&rd.ready, 1);
    cr_assert_eq(t_http_get(port, "/readyz", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "ready");
    lm_http_get_free(&r);
    atomic_store(&rd.ready, 0);
    cr_assert_eq(t_http_get(port, "/readyz", &r), 0);
    cr_expect_eq(r.status, 503);
    lm_http_get_free(&r);

    /* 404, and a query string does not change the path */
    cr_assert_eq(t_http_get(port, "/nope", &r), 0);
    cr_expect_eq(r.status, 404);
    lm_http_get_free(&r);
    cr_assert_eq(t_http_get(port, "/metrics/", &r), 0);
    cr_expect_eq(r.status, 404);
    lm_http_get_free(&r);
    cr_assert_eq(t_http_get(port, "/healthz?verbose=1", &r), 0);
    cr_expect_eq(r.status, 200);
    lm_http_get_free(&r);

    /* 405 for anything but GET */
    cr_assert_eq(t_http_raw("127.0.0.1", port,
                            "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n",
                            &r),
                 0);
    cr_expect_eq(r.status, 405);
    cr_expect_eq(lm_http_get_header(&r, "Allow", allow, sizeof allow), 0);
    cr_expect_str_eq(allow, "GET");
    lm_http_get_free(&r);

    lm_metrics_server_stop(s);
    lm_metrics_destroy(m);
}

Test(metrics_server, ready_when_no_callback) {
    lm_metrics *m = lm_metrics_new();
    lm_metrics_server *s = t_start(m, NULL, NULL);
    lm_http_get_reply r;
    cr_assert_eq(t_http_get(lm_metrics_server_port(s), "/readyz", &r), 0);
    cr_expect_eq(r.status, 200);
    lm_http_get_free(&r);
    /* an empty registry is an empty, valid document */
    cr_assert_eq(t_http_get(lm_metrics_server_port(s), "/metrics", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.body_len, 0);
    lm_http_get_free(&r);
    lm_metrics_server_stop(s);
    lm_metrics_destroy(m);
}

/* Issue 14, item 4: twenty idle connections (opened, nothing sent; more
 * than the old limit of 16) and /healthz still answers at once. */
Test(metrics_server, healthz_despite_idle_connections) {
    lm_metrics *m = lm_metrics_new();
    lm_metrics_server *s = t_start(m, NULL, NULL);
    int port = lm_metrics_server_port(s), fds[20];
    struct sockaddr_in a;
    lm_http_get_reply r;
    char err[T_ERR_MAX] = "";

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert(fds[i] >= 0);
        cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
    }
    /* within half the idle timeout: no idle connection has been dropped */
    cr_assert_eq(lm_http_get("127.0.0.1", port, "/healthz",
                             LM_HTTP_IDLE_S * 1000 / 2, &r, err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "ok");
    lm_http_get_free(&r);
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
    lm_metrics_server_stop(s);
    lm_metrics_destroy(m);
}

Test(metrics_server, port_taken) {
    struct sockaddr_in a;
    socklen_t sl = sizeof a;
    char addr[64], err[T_ERR_MAX] = "", want[T_ERR_MAX];
    lm_metrics *m = lm_metrics_new();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));

    cr_expect_null(
        lm_metrics_server_start(m, addr, NULL, NULL, err, sizeof err));
    snprintf(want, sizeof want,
             "LASTMILE_METRICS_ADDR=%s: bind: address already in use", addr);
    cr_expect_str_eq(err, want);
    close(fd);
    lm_metrics_destroy(m);
}

Test(metrics_server, bad_address) {
    lm_metrics *m = lm_metrics_new();
    char err[T_ERR_MAX] = "";
    cr_expect_null(lm_metrics_server_start(m, "localhost:9464", NULL, NULL, err,
                                           sizeof err));
    cr_expect_eq(strncmp(err, "LASTMILE_METRICS_ADDR=localhost:9464: ", 38), 0,
                 "%s", err);
    cr_expect_neq(strstr(err, "e.g."), NULL, "%s", err);
    lm_metrics_destroy(m);
}

Test(metrics_server, ipv6_loopback) {
    struct sockaddr_in6 a;
    char err[T_ERR_MAX] = "";
    lm_metrics *m = lm_metrics_new();
    lm_metrics_server *s;
    lm_http_get_reply r;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok) {
        lm_metrics_destroy(m);
        cr_skip_test("no IPv6 loopback here");
    }
    s = lm_metrics_server_start(m, "[::1]:0", NULL, NULL, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(lm_http_get("::1", lm_metrics_server_port(s), "/healthz",
                             t_timeout_s() * 1000, &r, err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(r.status, 200);
    lm_http_get_free(&r);
    lm_metrics_server_stop(s);
    lm_metrics_destroy(m);
}
