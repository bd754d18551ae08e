/* test_http.c — unit tests for the one HTTP server (lm_http: address
 * parsing, the route table, 404/405, body ownership, the two thread
 * modes, start errors, stop) and the one HTTP client (lm_http_get:
 * replies, headers, and what it refuses: a refused connection, a reply
 * that is not HTTP, a body cut short).
 *
 * Everything runs on loopback with ports picked by the kernel. The client
 * is checked against a canned server written here (t_canned: one
 * connection, fixed bytes), so its checks do not rest on the server under
 * test. Waits are bounded (scaled by LASTMILE_TEST_TIMEOUT_MULT); no test
 * asserts a wall-clock duration. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lm_http.h"
#include "lm_http_get.h"

#define T_ERR_MAX      512
#define T_IO_TIMEOUT_S 5

static int t_timeout_ms(void) {
    const char *e = getenv("LASTMILE_TEST_TIMEOUT_MULT");
    long mult = e != NULL ? strtol(e, NULL, 10) : 1;
    if (mult < 1 || mult > 100)
        mult = 1;
    return (int)(T_IO_TIMEOUT_S * 1000 * mult);
}

/* ==== address parsing, table-driven ====================================== */

Test(http_addr, parse_ok) {
    static const struct {
        const char *in, *host;
        int port;
    } ok[] = {
        {"127.0.0.1:9464", "127.0.0.1", 9464},
        {"0.0.0.0:0", "0.0.0.0", 0},
        {"10.1.2.3:65535", "10.1.2.3", 65535},
        {"[::1]:80", "::1", 80},
        {"[::]:9464", "::", 9464},
        {"[fe80::1:2]:1", "fe80::1:2", 1},
    };
    size_t i;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char host[64] = "", err[T_ERR_MAX] = "";
        int port = -1;
        cr_expect_eq(lm_http_parse_addr(ok[i].in, host, sizeof host, &port, err,
                                        sizeof err),
                     0, "%s: %s", ok[i].in, err);
        cr_expect_str_eq(host, ok[i].host);
        cr_expect_eq(port, ok[i].port, "%s", ok[i].in);
    }
}

Test(http_addr, parse_errors) {
    static const struct {
        const char *in, *says; /* says: a fragment the message must have */
    } bad[] = {
        {NULL, "empty address"},
        {"", "empty address"},
        {"127.0.0.1", "missing ':PORT'"},
        {"127.0.0.1:", "empty port"},
        {":9464", "empty host"},
        {"127.0.0.1:65536", "port \"65536\""},
        {"127.0.0.1:-1", "port \"-1\""},
        {"127.0.0.1:+80", "port \"+80\""},
        {"127.0.0.1:80x", "port \"80x\""},
        {"127.0.0.1: 80", "port \" 80\""},
        {"127.0.0.1:99999999999999999999", "is not a number"},
        {"localhost:80", "host \"localhost\" is not an IPv4"},
        {"300.1.1.1:80", "host \"300.1.1.1\""},
        {"::1:80", "must be in brackets"},
        {"[::1]80", "missing ':PORT' after ']'"},
        {"[::1", "missing ']'"},
        {"[]:80", "empty host"},
        {"[127.0.0.1]:80", "not an IPv6"},
        {"[::1]:", "empty port"},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char host[64], err[T_ERR_MAX] = "";
        int port = 0;
        const char *in = bad[i].in ? bad[i].in : "NULL";
        cr_expect_eq(lm_http_parse_addr(bad[i].in, host, sizeof host, &port,
                                        err, sizeof err),
                     -1, "%s accepted", in);
        cr_expect_neq(strstr(err, bad[i].says), NULL, "%s: \"%s\" lacks \"%s\"",
                      in, err, bad[i].says);
        cr_expect_neq(strstr(err, "e.g."), NULL, "%s: no example in \"%s\"", in,
                      err);
    }
    {
        char small[4], err[T_ERR_MAX] = "";
        int port;
        cr_expect_eq(lm_http_parse_addr("127.0.0.1:1", small, sizeof small,
                                        &port, err, sizeof err),
                     -1);
        cr_expect_neq(strstr(err, "does not fit"), NULL, "%s", err);
    }
}

/* ==== the server: a route table ========================================== */

static atomic_int t_release; /* /slow returns once set */

static void t_get_a(void *opaque, const lm_http_request *req,
                    lm_http_response *resp) {
    (void)opaque;
    (void)req;
    lm_http_text(resp, 200, "a\n");
}

static void t_get_take(void *opaque, const lm_http_request *req,
                       lm_http_response *resp) {
    char *body = strdup("taken");
    (void)opaque;
    (void)req;
    cr_assert_not_null(body);
    lm_http_respond(resp, 201, "application/x-test", body, 5,
                    LM_HTTP_BODY_TAKE);
}

static void t_get_copy(void *opaque, const lm_http_request *req,
                       lm_http_response *resp) {
    char body[32];
    int n = snprintf(body, sizeof body, "%s %s %s", (const char *)opaque,
                     req->method, req->path);
    lm_http_respond(resp, 200, NULL, body, (size_t)n, LM_HTTP_BODY_COPY);
    memset(body, 'x', sizeof body); /* the server copied it already */
}

static void t_get_slow(void *opaque, const lm_http_request *req,
                       lm_http_response *resp) {
    (void)opaque;
    (void)req;
    for (int i = 0; i < 1000 && !atomic_load(&t_release); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    lm_http_text(resp, 200, "slow\n");
}

static const lm_http_route t_routes[] = {
    {"GET", "/a", t_get_a},       {"HEAD", "/a", t_get_a},
    {"GET", "/take", t_get_take}, {"GET", "/copy", t_get_copy},
    {"GET", "/slow", t_get_slow},
};
static const char *const t_headers[] = {"X-Test", "yes", NULL};

static lm_http_server *t_start(int thread_per_connection) {
    char err[T_ERR_MAX] = "";
    lm_http_config cfg = {
        .routes = t_routes,
        .n_routes = sizeof t_routes / sizeof t_routes[0],
        .opaque = "opaque",
        .headers = t_headers,
        .thread_per_connection = thread_per_connection,
    };
    lm_http_server *s = lm_http_start("127.0.0.1:0", &cfg, err, sizeof err);
    cr_assert_not_null(s, "start: %s", err);
    cr_assert(lm_http_port(s) > 0);
    return s;
}

static void t_get(int port, const char *path, lm_http_get_reply *r) {
    char err[T_ERR_MAX] = "";
    cr_assert_eq(lm_http_get("127.0.0.1", port, path, t_timeout_ms(), r, err,
                             sizeof err),
                 0, "GET %s: %s", path, err);
}

static void t_send(int port, const char *request, lm_http_get_reply *r) {
    char err[T_ERR_MAX] = "";
    cr_assert_eq(lm_http_get_raw("127.0.0.1", port, request, t_timeout_ms(), r,
                                 err, sizeof err),
                 0, "%s: %s", request, err);
}

static void t_expect_header(const lm_http_get_reply *r, const char *name,
                            const char *want) {
    char v[256];
    cr_expect_eq(lm_http_get_header(r, name, v, sizeof v), 0, "no %s in %s",
                 name, r->headers);
    cr_expect_str_eq(v, want, "%s", name);
}

Test(http_server, routes) {
    lm_http_server *s = t_start(0);
    int port = lm_http_port(s);
    lm_http_get_reply r;

    t_get(port, "/a", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "a\n");
    t_expect_header(&r, "Content-Type", LM_HTTP_CT_TEXT);
    t_expect_header(&r, "Cache-Control", "no-store");
    t_expect_header(&r, "X-Test", "yes");
    cr_expect_eq(lm_http_get_header(&r, "Allow", NULL, 0), -1);
    lm_http_get_free(&r);

    t_get(port, "/a?x=1", &r); /* the query string is not the path */
    cr_expect_eq(r.status, 200);
    lm_http_get_free(&r);

    t_get(port, "/take", &r);
    cr_expect_eq(r.status, 201);
    cr_expect_str_eq(r.body, "taken");
    t_expect_header(&r, "Content-Type", "application/x-test");
    lm_http_get_free(&r);

    t_get(port, "/copy", &r);
    cr_expect_str_eq(r.body, "opaque GET /copy");
    lm_http_get_free(&r);

    t_send(port, "HEAD /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           &r);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.body_len, 0);
    lm_http_get_free(&r);

    lm_http_stop(s);
}

Test(http_server, not_found_and_method_not_allowed) {
    lm_http_server *s = t_start(0);
    int port = lm_http_port(s);
    lm_http_get_reply r;

    /* a known method on an unknown path */
    t_get(port, "/nope", &r);
    cr_expect_eq(r.status, 404);
    cr_expect_str_eq(r.body, "not found\n");
    t_expect_header(&r, "X-Test", "yes");
    lm_http_get_free(&r);
    t_get(port, "/a/", &r);
    cr_expect_eq(r.status, 404);
    lm_http_get_free(&r);

    /* a known path with another method: that path's methods */
    t_send(port,
           "POST /take HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
           "Connection: close\r\n\r\n",
           &r);
    cr_expect_eq(r.status, 405);
    t_expect_header(&r, "Allow", "GET");
    lm_http_get_free(&r);
    t_send(port,
           "PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
           "Connection: close\r\n\r\n",
           &r);
    cr_expect_eq(r.status, 405);
    t_expect_header(&r, "Allow", "GET, HEAD");
    lm_http_get_free(&r);

    /* a method no route has, on any path: every method of the table */
    t_send(port,
           "DELETE /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    cr_expect_eq(r.status, 405);
    cr_expect_str_eq(r.body, "method not allowed\n");
    t_expect_header(&r, "Allow", "GET, HEAD");
    lm_http_get_free(&r);

    lm_http_stop(s);
}

typedef struct {
    int port;
    lm_http_get_reply r;
    int rc;
} t_slow_call;

static void *t_slow_thread(void *arg) {
    t_slow_call *c = arg;
    char err[T_ERR_MAX];
    c->rc = lm_http_get("127.0.0.1", c->port, "/slow", t_timeout_ms() * 2,
                        &c->r, err, sizeof err);
    return NULL;
}

/* With a thread per connection a handler may wait while others answer. */
Test(http_server, thread_per_connection) {
    lm_http_server *s = t_start(1);
    t_slow_call c = {.port = lm_http_port(s)};
    pthread_t th;
    lm_http_get_reply r;

    atomic_store(&t_release, 0);
    cr_assert_eq(pthread_create(&th, NULL, t_slow_thread, &c), 0);
    t_get(c.port, "/a", &r); /* answered while /slow waits */
    cr_expect_eq(r.status, 200);
    lm_http_get_free(&r);
    atomic_store(&t_release, 1);
    pthread_join(th, NULL);
    cr_expect_eq(c.rc, 0);
    cr_expect_str_eq(c.r.body != NULL ? c.r.body : "", "slow\n");
    lm_http_get_free(&c.r);
    lm_http_stop(s);
}

/* Idle connections (opened, nothing sent) do not keep a request out. */
Test(http_server, idle_connections) {
    lm_http_server *s = t_start(0);
    int port = lm_http_port(s), fds[20];
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
    /* shorter than the idle timeout: no idle connection has gone yet */
    cr_assert_eq(lm_http_get("127.0.0.1", port, "/a", LM_HTTP_IDLE_S * 1000 / 2,
                             &r, err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(r.status, 200);
    lm_http_get_free(&r);
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
    lm_http_stop(s);
}

Test(http_server, stop_closes_the_port) {
    lm_http_server *s = t_start(0);
    int port = lm_http_port(s);
    lm_http_get_reply r;
    char err[T_ERR_MAX] = "";

    lm_http_stop(s);
    cr_expect_eq(lm_http_get("127.0.0.1", port, "/a", t_timeout_ms(), &r, err,
                             sizeof err),
                 -1);
    cr_expect_neq(strstr(err, "connect"), NULL, "%s", err);
    cr_expect_null(r.body);
    lm_http_stop(NULL);
    cr_expect_eq(lm_http_port(NULL), 0);
}

Test(http_server, start_errors) {
    struct sockaddr_in a;
    socklen_t sl = sizeof a;
    char addr[64], err[T_ERR_MAX] = "";
    lm_http_config cfg = {.routes = t_routes, .n_routes = 1};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
    cr_expect_null(lm_http_start(addr, &cfg, err, sizeof err));
    cr_expect_str_eq(err, "bind: address already in use");
    close(fd);

    cr_expect_null(lm_http_start("localhost:80", &cfg, err, sizeof err));
    cr_expect_neq(strstr(err, "e.g."), NULL, "%s", err);
    cr_expect_null(lm_http_start("127.0.0.1:0", NULL, err, sizeof err));
    cr_expect_str_eq(err, "no route table");
}

/* ==== the client against canned replies =================================== */

typedef struct {
    int fd, port;
    const char *reply; /* sent whole after the request arrives */
    pthread_t th;
} t_canned;

static void *t_canned_thread(void *arg) {
    t_canned *c = arg;
    char buf[4096];
    int conn = accept(c->fd, NULL, NULL);
    if (conn < 0)
        return NULL;
    (void)recv(conn, buf, sizeof buf, 0);
    (void)send(conn, c->reply, strlen(c->reply), MSG_NOSIGNAL);
    close(conn);
    return NULL;
}

static void t_canned_start(t_canned *c, const char *reply) {
    struct sockaddr_in a;
    socklen_t sl = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->reply = reply;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(c->fd >= 0);
    cr_assert_eq(bind(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(c->fd, 1), 0);
    cr_assert_eq(getsockname(c->fd, (struct sockaddr *)&a, &sl), 0);
    c->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&c->th, NULL, t_canned_thread, c), 0);
}

static void t_canned_end(t_canned *c) {
    pthread_join(c->th, NULL);
    close(c->fd);
}

/* One canned reply through lm_http_get: its return code, err and reply. */
static int t_canned_get(const char *reply, lm_http_get_reply *r, char *err) {
    t_canned c;
    int rc;
    t_canned_start(&c, reply);
    rc = lm_http_get("127.0.0.1", c.port, "/x", t_timeout_ms(), r, err,
                     T_ERR_MAX);
    t_canned_end(&c);
    return rc;
}

Test(http_client, replies) {
    lm_http_get_reply r;
    char err[T_ERR_MAX] = "", v[64];

    cr_assert_eq(t_canned_get("HTTP/1.1 503 Service Unavailable\r\n"
                              "content-type: text/plain\r\n"
                              "Content-Length: 6\r\n\r\nnot ok",
                              &r, err),
                 0, "%s", err);
    cr_expect_eq(r.status, 503);
    cr_expect_eq(r.body_len, 6);
    cr_expect_str_eq(r.body, "not ok");
    cr_expect_eq(lm_http_get_header(&r, "Content-Type", v, sizeof v), 0);
    cr_expect_str_eq(v, "text/plain");
    cr_expect_eq(lm_http_get_header(&r, "Content-Typ", v, sizeof v), -1);
    cr_expect_eq(lm_http_get_header(&r, "Content-Length", v, 2), 0);
    cr_expect_str_eq(v, "6"); /* cut to fit */
    lm_http_get_free(&r);
    lm_http_get_free(&r); /* twice is fine */
    lm_http_get_free(NULL);

    /* no Content-Length: the body is what came before the close */
    cr_assert_eq(t_canned_get("HTTP/1.0 200 OK\r\n\r\nabc", &r, err), 0, "%s",
                 err);
    cr_expect_str_eq(r.body, "abc");
    lm_http_get_free(&r);
}

Test(http_client, refuses) {
    static const struct {
        const char *reply, *says;
    } bad[] = {
        {"", "not an HTTP response"},
        {"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n", "not an HTTP response"},
        {"HTTP/1.1 2000 OK\r\n\r\n", "bad status line"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "cut short"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
         "not supported"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lm_http_get_reply r;
        char err[T_ERR_MAX] = "";
        cr_expect_eq(t_canned_get(bad[i].reply, &r, err), -1, "%s accepted",
                     bad[i].reply);
        cr_expect_neq(strstr(err, bad[i].says), NULL, "%s: \"%s\" lacks %s",
                      bad[i].reply, err, bad[i].says);
        cr_expect_null(r.body);
        cr_expect_null(r.headers);
    }
    {
        lm_http_get_reply r;
        char err[T_ERR_MAX] = "";
        cr_expect_eq(
            lm_http_get("127.0.0.1", 1, "no-slash", 100, &r, err, sizeof err),
            -1);
        cr_expect_neq(strstr(err, "path"), NULL, "%s", err);
    }
}
