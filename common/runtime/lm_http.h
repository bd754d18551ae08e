/* lm_http.h — the one HTTP server of lastmile: libmicrohttpd behind a
 * route table. The workers' /metrics, /healthz and /readyz (lm_metrics),
 * the board's page and /api/board (cli/board) and the gateway's API
 * (gateway/gw_http.c) are all served by it.
 *
 * What it does: binds HOST:PORT (IPv4 or [IPv6]; port 0 picks a free
 * one) itself, so a bind failure names its errno, hands the socket to
 * libmicrohttpd, and answers each request on its first call, before any
 * body is read (unless the config asks for bodies, below):
 *   - the route whose method and path (query string excluded) match runs
 *     and fills the response;
 *   - a method that no route has: 405, Allow: every method of the table;
 *   - a known method on a path no route has: 404;
 *   - a known path with another method: 405, Allow: that path's methods.
 * Bodies: with body_max > 0 in the config, a POST, PUT or PATCH that
 * matches a route is answered once its whole body is read (at most
 * body_max bytes, kept in memory; the handler sees it in req->body). A
 * larger body (by its Content-Length, or as it arrives) is not kept: the
 * handler runs with req->body_over set and should answer 413. Unmatched
 * requests are still answered at once (404/405), before their body.
 * Every response carries Cache-Control: no-store, the configured extra
 * headers and the handler's own (lm_http_header_add). HEAD is a method
 * like any other: list it in the table to answer it (libmicrohttpd then
 * sends the headers only).
 *
 * Threads: either one internal thread serves every connection (handlers
 * must be quick and must not block), or a thread per connection (handlers
 * may wait). Handlers run on those threads, never on the caller's.
 *
 * Idle connections: with one internal thread an idle connection costs
 * nothing but a slot, so the default limit is high (LM_HTTP_CONN_MAX) and
 * the idle timeout short (LM_HTTP_IDLE_S): a few idle or half-open
 * connections cannot keep a health probe out (issue 14, item 4).
 *
 * Ownership: the server borrows the route table, the extra headers and the
 * opaque pointer; all must outlive it (lm_http_stop first). */
#ifndef LM_HTTP_H
#define LM_HTTP_H

#include <stddef.h>

#define LM_HTTP_HOST_MAX         46 /* INET6_ADDRSTRLEN: an IPv6 address + NUL */
#define LM_HTTP_CONN_MAX         256 /* default connection limit */
#define LM_HTTP_IDLE_S           5   /* default idle timeout, seconds */
#define LM_HTTP_CT_TEXT          "text/plain; charset=utf-8"
#define LM_HTTP_RESP_HEADERS_MAX 8   /* a handler's own response headers */
#define LM_HTTP_HEADER_VALUE_MAX 512 /* bytes of one such header's value */

typedef struct lm_http_server lm_http_server; /* opaque */

/* What a handler is asked. Borrowed for the call. */
typedef struct lm_http_request {
    const char *method; /* "GET", "HEAD", ... */
    const char *path;   /* "/metrics": no query string */
    const char *body;   /* the body (config body_max > 0), else NULL;
                           NUL-terminated after body_len bytes */
    size_t body_len;
    int body_over; /* 1: the body was larger than body_max (not kept) */
    void *conn;    /* the server's, for lm_http_header_get */
} lm_http_request;

/* The value of request header `name` (case-insensitive), or NULL.
 * Borrowed for the handler's call. */
const char *lm_http_header_get(const lm_http_request *req, const char *name);

/* Who owns a response body. */
typedef enum {
    LM_HTTP_BODY_STATIC, /* borrowed: must outlive the server (a constant) */
    LM_HTTP_BODY_COPY,   /* copied by lm_http_respond, at once */
    LM_HTTP_BODY_TAKE    /* malloc'd: the server frees it (also on failure) */
} lm_http_body;

/* What a handler answers. It arrives filled with 200, LM_HTTP_CT_TEXT and
 * an empty static body; lm_http_respond sets it all at once. */
typedef struct lm_http_response {
    unsigned int status;
    const char *ctype; /* borrowed: a constant */
    const char *body;  /* len bytes, owned as `own` says */
    size_t len;
    lm_http_body own;
    /* the handler's own headers (lm_http_header_add): names borrowed
       (constants), values copied */
    const char *hname[LM_HTTP_RESP_HEADERS_MAX];
    char hvalue[LM_HTTP_RESP_HEADERS_MAX][LM_HTTP_HEADER_VALUE_MAX];
    size_t n_headers;
} lm_http_response;

/* Runs on a server thread once per request. `opaque` is the config's. */
typedef void (*lm_http_handler)(void *opaque, const lm_http_request *req,
                                lm_http_response *resp);

/* One row of the route table: an exact method and an exact path. */
typedef struct lm_http_route {
    const char *method;
    const char *path;
    lm_http_handler fn;
} lm_http_route;

typedef struct lm_http_config {
    const lm_http_route *routes; /* n_routes rows; borrowed */
    size_t n_routes;
    void *opaque; /* passed to every handler; borrowed */
    /* Extra response headers, "Name", "Value", ..., NULL; borrowed; may be
     * NULL. */
    const char *const *headers;
    int thread_per_connection; /* 1: handlers may block; 0: one thread */
    unsigned int conn_max;     /* 0: LM_HTTP_CONN_MAX */
    unsigned int idle_s;       /* 0: LM_HTTP_IDLE_S */
    size_t body_max;           /* 0: bodies are not read; else the most kept */
} lm_http_config;

/* Sets the whole response: status, content type (NULL: LM_HTTP_CT_TEXT),
 * body of len bytes (NULL: empty) owned as `own` says. A COPY is made
 * here (it becomes a TAKE); without memory the response is a 500. Handlers
 * set the response through this and lm_http_text only. */
void lm_http_respond(lm_http_response *resp, unsigned int status,
                     const char *ctype, const char *body, size_t len,
                     lm_http_body own);
/* Adds a response header: `name` borrowed (a constant), `value` copied.
 * 0, or -1 when LM_HTTP_RESP_HEADERS_MAX are set or the value does not
 * fit LM_HTTP_HEADER_VALUE_MAX (the header is then left out). */
int lm_http_header_add(lm_http_response *resp, const char *name,
                       const char *value);
/* A constant NUL-terminated text body (LM_HTTP_CT_TEXT). */
void lm_http_text(lm_http_response *resp, unsigned int status,
                  const char *text);

/* Serves `cfg` on `addr` ("HOST:PORT", see lm_http_parse_addr). Returns
 * the server (caller owns it: lm_http_stop), or NULL with err saying what
 * failed without naming the address, e.g. "bind: address already in use"
 * (the caller knows where the address came from and says so). */
lm_http_server *lm_http_start(const char *addr, const lm_http_config *cfg,
                              char *err, size_t errsz);
/* The bound port (the real one when 0 was asked for); 0 for NULL. */
int lm_http_port(const lm_http_server *s);
/* Stops serving, joins the threads (waiting for running handlers), closes
 * the socket and every connection, frees s. NULL ok. */
void lm_http_stop(lm_http_server *s);

/* Parses "HOST:PORT" where HOST is a dotted IPv4 address or a bracketed
 * IPv6 address ("[::1]:9464"; written to `host` without brackets) and
 * PORT is 0..65535 in decimal. Names are not resolved. 0 ok; -1 with err
 * naming what is wrong and giving an example. Pure. */
int lm_http_parse_addr(const char *addr, char *host, size_t hostsz, int *port,
                       char *err, size_t errsz);

#endif
