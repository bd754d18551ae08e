/* test_http_body.c — the HTTP server's request bodies and headers (lm_http
 * with body_max, added for lastmile-gateway): a body by Content-Length and
 * chunked, an empty one, one over the limit by Content-Length and as it
 * arrives (the handler sees body_over), unmatched requests answered before
 * their body, request headers read and response headers added (with their
 * limit), and a server without body_max giving handlers no body. Runs on
 * loopback through the raw client (lm_http_get_raw), so under ASan in
 * `make test-asan` too. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_http.h"
#include "lm_http_get.h"

#define T_ERR_MAX 512
#define T_LIMIT   16

static int t_timeout_ms(void) {
    const char *e = getenv("LASTMILE_TEST_TIMEOUT_MULT");
    long mult = e != NULL ? strtol(e, NULL, 10) : 1;
    return (int)(5000 * (mult >= 1 && mult <= 100 ? mult : 1));
}

/* Answers "len=N over=O in=<X-In>" and adds X-Out; 413 when over. */
static void t_echo(void *opaque, const lm_http_request *req,
                   lm_http_response *resp) {
    char text[256];
    const char *in = lm_http_header_get(req, "x-in"); /* any case */
    (void)opaque;
    lm_http_header_add(resp, "X-Out", "out");
    snprintf(text, sizeof text, "len=%zu over=%d body=%s in=%s", req->body_len,
             req->body_over, req->body ? req->body : "(null)", in ? in : "-");
    lm_http_respond(resp, req->body_over ? 413 : 200, NULL, text, strlen(text),
                    LM_HTTP_BODY_COPY);
}

/* Adds more headers than a response may carry. */
static void t_many(void *opaque, const lm_http_request *req,
                   lm_http_response *resp) {
    static const char *const names[] = {"X-0", "X-1", "X-2", "X-3", "X-4",
                                        "X-5", "X-6", "X-7", "X-8"};
    char text[64], big[LM_HTTP_HEADER_VALUE_MAX + 8];
    int ok = 0;
    (void)opaque;
    (void)req;
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_expect_eq(lm_http_header_add(resp, "X-Big", big), -1);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ok += lm_http_header_add(resp, names[i], "1") == 0;
    snprintf(text, sizeof text, "added=%d", ok);
    lm_http_respond(resp, 200, NULL, text, strlen(text), LM_HTTP_BODY_COPY);
}

static const lm_http_route t_routes[] = {
    {"POST", "/echo", t_echo},
    {"GET", "/echo", t_echo},
    {"GET", "/many", t_many},
};

static lm_http_server *t_start(size_t body_max) {
    char err[T_ERR_MAX] = "";
    lm_http_config cfg = {
        .routes = t_routes,
        .n_routes = sizeof t_routes / sizeof t_routes[0],
        .thread_per_connection = 1,
        .body_max = body_max,
    };
    lm_http_server *s = lm_http_start("127.0.0.1:0", &cfg, err, sizeof err);
    cr_assert_not_null(s, "start: %s", err);
    return s;
}

static void t_send(lm_http_server *s, const char *request,
                   lm_http_get_reply *r) {
    char err[T_ERR_MAX] = "";
    cr_assert_eq(lm_http_get_raw("127.0.0.1", lm_http_port(s), request,
                                 t_timeout_ms(), r, err, sizeof err),
                 0, "%s: %s", request, err);
}

static void t_expect(lm_http_server *s, const char *request, int status,
                     const char *body) {
    lm_http_get_reply r = {0};
    t_send(s, request, &r);
    cr_expect_eq(r.status, status, "%s: status %d", request, r.status);
    cr_expect(strstr(r.body, body) != NULL, "%s: body \"%s\" lacks \"%s\"",
              request, r.body, body);
    lm_http_get_free(&r);
}

Test(http_body, by_length_chunked_and_empty) {
    lm_http_server *s = t_start(T_LIMIT);
    lm_http_get_reply r = {0};
    t_send(s,
           "POST /echo HTTP/1.1\r\nHost: t\r\nX-In: hi\r\nContent-Length: 5\r\n"
           "Connection: close\r\n\r\nhello",
           &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "len=5 over=0 body=hello in=hi");
    char v[64];
    cr_expect_eq(lm_http_get_header(&r, "X-Out", v, sizeof v), 0);
    cr_expect_str_eq(v, "out");
    lm_http_get_free(&r);
    t_expect(s,
             "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
             "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
             200, "len=11 over=0 body=hello world");
    t_expect(s,
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
             "Connection: close\r\n\r\n",
             200, "len=0 over=0 body= in=-");
    /* a GET on the same route is answered at once, with no body */
    t_expect(s, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
             200, "len=0 over=0 body=(null)");
    lm_http_stop(s);
}

Test(http_body, over_the_limit) {
    lm_http_server *s = t_start(T_LIMIT);
    /* by Content-Length: answered before the body is read */
    t_expect(s,
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n"
             "Connection: close\r\n\r\n12345678901234567",
             413, "len=0 over=1 body=(null)");
    /* chunked: found out as it arrives */
    t_expect(s,
             "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
             "Connection: close\r\n\r\n"
             "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
             413, "over=1");
    /* exactly the limit is fine */
    t_expect(s,
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n"
             "Connection: close\r\n\r\n1234567890123456",
             200, "len=16 over=0");
    /* no route: 404 at once, whatever the body */
    t_expect(s,
             "POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 999999\r\n"
             "Connection: close\r\n\r\n",
             404, "not found");
    lm_http_stop(s);
}

Test(http_body, response_header_limits_and_no_body_max) {
    lm_http_server *s = t_start(0);
    t_expect(s,
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
             "Connection: close\r\n\r\nhello",
             200, "len=0 over=0 body=(null)");
    t_expect(s, "GET /many HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
             200, "added=8");
    lm_http_stop(s);
}
