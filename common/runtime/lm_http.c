/* lm_http.c — the HTTP server behind a route table (see lm_http.h).
 *
 * In this order: address parsing, the listen socket, the dispatcher (the
 * libmicrohttpd access handler: route lookup, 404/405, reading a body when
 * the config asks, the response), and start/stop.
 *
 * The listen socket is made here (so a bind failure names its errno) and
 * handed to libmicrohttpd, which closes it in MHD_stop_daemon.
 * libmicrohttpd's own messages are kept in the server (mhd_err) for the
 * start-up error; after start they are dropped. */
#include "lm_http.h"

#include "lm_fmt.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LM_HTTP_ERR_MAX        256
#define LM_HTTP_LISTEN_BACKLOG 64
#define LM_HTTP_ALLOW_MAX      128 /* "GET, HEAD, ..." */
#define LM_HTTP_ADDR_EXAMPLE   "e.g. 0.0.0.0:9464 or [::]:9464"

struct lm_http_server {
    struct MHD_Daemon *daemon;
    lm_http_config cfg; /* the caller's; what it points to is borrowed */
    int port;
    char mhd_err[LM_HTTP_ERR_MAX]; /* libmicrohttpd's last message */
};

/* ==== address parsing ===================================================== */

/* The host part of addr into *h and *hlen, and the ':' before the port into
 * *colon; *v6 when bracketed. 0 / -1 with err. */
static int lm_http_split_addr(const char *addr, const char **h, size_t *hlen,
                              const char **colon, int *v6, char *err,
                              size_t errsz) {
    *v6 = 0;
    if (addr == NULL || addr[0] == '\0')
        return lm_errf(err, errsz,
                       "empty address: want HOST:PORT, " LM_HTTP_ADDR_EXAMPLE);
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (rb == NULL)
            return lm_errf(err, errsz,
                           "missing ']' after the IPv6 address: want "
                           "[IPV6]:PORT, e.g. [::]:9464 or [::1]:9464");
        *h = addr + 1;
        *hlen = (size_t)(rb - *h);
        *colon = rb + 1;
        if (**colon != ':')
            return lm_errf(err, errsz,
                           "missing ':PORT' after ']': want [IPV6]:PORT, "
                           "e.g. [::]:9464");
        *v6 = 1;
        return 0;
    }
    *colon = strrchr(addr, ':');
    if (*colon == NULL)
        return lm_errf(
            err, errsz,
            "missing ':PORT': want HOST:PORT, " LM_HTTP_ADDR_EXAMPLE);
    if (memchr(addr, ':', (size_t)(*colon - addr)) != NULL)
        return lm_errf(err, errsz,
                       "an IPv6 host must be in brackets: want "
                       "[IPV6]:PORT, e.g. [::]:9464");
    *h = addr;
    *hlen = (size_t)(*colon - addr);
    return 0;
}

int lm_http_parse_addr(const char *addr, char *host, size_t hostsz, int *port,
                       char *err, size_t errsz) {
    const char *h = NULL, *colon = NULL, *ps;
    size_t hlen = 0;
    char hbuf[LM_HTTP_HOST_MAX + 1];
    unsigned char sa[sizeof(struct in6_addr)];
    int v6 = 0;
    char *end = NULL;
    long long pv;

    if (lm_http_split_addr(addr, &h, &hlen, &colon, &v6, err, errsz) != 0)
        return -1;
    if (hlen == 0)
        return lm_errf(err, errsz,
                       "empty host: want HOST:PORT, " LM_HTTP_ADDR_EXAMPLE);
    if (hlen > LM_HTTP_HOST_MAX)
        return lm_errf(err, errsz,
                       "host is too long (%zu bytes): want an IP "
                       "address, " LM_HTTP_ADDR_EXAMPLE,
                       hlen);
    memcpy(hbuf, h, hlen);
    hbuf[hlen] = '\0';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, hbuf, sa) != 1)
        return lm_errf(err, errsz,
                       "host \"%s\" is not an %s address (names are not "
                       "resolved): want HOST:PORT, " LM_HTTP_ADDR_EXAMPLE,
                       hbuf, v6 ? "IPv6" : "IPv4");
    ps = colon + 1;
    if (*ps == '\0')
        return lm_errf(err, errsz,
                       "empty port: want HOST:PORT with PORT "
                       "0..65535, " LM_HTTP_ADDR_EXAMPLE);
    errno = 0;
    pv = isdigit((unsigned char)*ps) ? strtoll(ps, &end, 10) : -1;
    if (pv < 0 || errno != 0 || end == ps || *end != '\0' || pv > 65535)
        return lm_errf(err, errsz,
                       "port \"%s\" is not a number 0..65535, "
                       "" LM_HTTP_ADDR_EXAMPLE,
                       ps);
    if (host != NULL) {
        if (hostsz <= hlen)
            return lm_errf(err, errsz, "host \"%s\" does not fit in %zu bytes",
                           hbuf, hostsz);
        memcpy(host, hbuf, hlen + 1);
    }
    if (port != NULL)
        *port = (int)pv;
    return 0;
}

/* ==== the listen socket =================================================== */

/* "what: strerror(e)" with the message's first letter lower-cased. */
static int lm_http_syserr(char *why, size_t whysz, const char *what, int e) {
    size_t n = strlen(what) + 2;
    lm_errf(why, whysz, "%s: %s", what, strerror(e));
    if (n < whysz && why[n] != '\0')
        why[n] = (char)tolower((unsigned char)why[n]);
    return -1;
}

/* The address of host:port (host a parsed IP) into *ss. 0 / -1. */
static int lm_http_sockaddr(const char *host, int port,
                            struct sockaddr_storage *ss, socklen_t *sl) {
    memset(ss, 0, sizeof *ss);
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *sl = sizeof *a6;
        return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *sl = sizeof *a4;
    return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -1;
}

/* Makes a bound, listening, non-blocking socket. 0 ok; -1 with why. */
static int lm_http_listen(const char *host, int port, int *fd_out,
                          int *bound_port, char *why, size_t whysz) {
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, one = 1, flags;

    if (lm_http_sockaddr(host, port, &ss, &sl) != 0)
        return lm_errf(why, whysz, "bad host \"%s\"", host);
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return lm_http_syserr(why, whysz, "socket", errno);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        lm_http_syserr(why, whysz, "setsockopt SO_REUSEADDR", errno);
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        lm_http_syserr(why, whysz, "bind", errno);
        goto fail;
    }
    if (listen(fd, LM_HTTP_LISTEN_BACKLOG) != 0) {
        lm_http_syserr(why, whysz, "listen", errno);
        goto fail;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        lm_http_syserr(why, whysz, "fcntl O_NONBLOCK", errno);
        goto fail;
    }
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        lm_http_syserr(why, whysz, "getsockname", errno);
        goto fail;
    }
    *bound_port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
fail:
    close(fd);
    return -1;
}

/* ==== responses and dispatch ============================================== */

void lm_http_respond(lm_http_response *resp, unsigned int status,
                     const char *ctype, const char *body, size_t len,
                     lm_http_body own) {
    resp->status = status;
    resp->ctype = ctype != NULL ? ctype : LM_HTTP_CT_TEXT;
    resp->body = body != NULL ? body : "";
    resp->len = body != NULL ? len : 0;
    resp->own = body != NULL ? own : LM_HTTP_BODY_STATIC;
    if (resp->own == LM_HTTP_BODY_COPY) {
        /* now: the body may live on the handler's stack */
        char *copy = malloc(len > 0 ? len : 1);
        if (copy == NULL) {
            lm_http_text(resp, 500, "out of memory\n");
            return;
        }
        memcpy(copy, body, len);
        resp->body = copy;
        resp->own = LM_HTTP_BODY_TAKE;
    }
}

int lm_http_header_add(lm_http_response *resp, const char *name,
                       const char *value) {
    size_t n = strlen(value);
    if (resp->n_headers >= LM_HTTP_RESP_HEADERS_MAX ||
        n >= LM_HTTP_HEADER_VALUE_MAX)
        return -1;
    resp->hname[resp->n_headers] = name;
    memcpy(resp->hvalue[resp->n_headers], value, n + 1);
    resp->n_headers++;
    return 0;
}

void lm_http_text(lm_http_response *resp, unsigned int status,
                  const char *text) {
    lm_http_respond(resp, status, LM_HTTP_CT_TEXT, text, strlen(text),
                    LM_HTTP_BODY_STATIC);
}

/* Appends m to the ", "-separated list in allow unless it is there. */
static void lm_http_allow_add(char *allow, const char *m) {
    size_t n = strlen(m), at = strlen(allow);
    for (const char *p = allow; *p != '\0';) {
        size_t k = strcspn(p, ",");
        if (k == n && memcmp(p, m, n) == 0)
            return;
        p += k;
        while (*p == ',' || *p == ' ')
            p++;
    }
    if (at + 2 + n + 1 > LM_HTTP_ALLOW_MAX)
        return;
    if (at > 0) {
        allow[at++] = ',';
        allow[at++] = ' ';
    }
    memcpy(allow + at, m, n + 1);
}

/* Finds the route; else fills resp with 404/405 and *allow. */
static const lm_http_route *
lm_http_route_find(const lm_http_config *cfg, const char *method,
                   const char *path, lm_http_response *resp, char *allow) {
    int method_known = 0, path_known = 0;
    char all[LM_HTTP_ALLOW_MAX] = "";

    allow[0] = '\0';
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const lm_http_route *r = &cfg->routes[i];
        int m = strcmp(r->method, method) == 0, p = strcmp(r->path, path) == 0;
        if (m && p) {
            allow[0] = '\0';
            return r;
        }
        method_known |= m;
        path_known |= p;
        lm_http_allow_add(all, r->method);
        if (p)
            lm_http_allow_add(allow, r->method);
    }
    if (method_known && !path_known) {
        lm_http_text(resp, MHD_HTTP_NOT_FOUND, "not found\n");
        return NULL;
    }
    if (!path_known)
        memcpy(allow, all, sizeof all);
    lm_http_text(resp, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    return NULL;
}

static enum MHD_Result lm_http_queue(lm_http_server *s,
                                     struct MHD_Connection *conn,
                                     const lm_http_response *resp,
                                     const char *allow) {
    /* lm_http_respond made every COPY a TAKE */
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->len, (void *)resp->body,
        resp->own == LM_HTTP_BODY_TAKE ? MHD_RESPMEM_MUST_FREE
                                       : MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    if (r == NULL) {
        if (resp->own == LM_HTTP_BODY_TAKE)
            free((void *)resp->body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (const char *const *h = s->cfg.headers; h != NULL && h[0] != NULL;
         h += 2)
        MHD_add_response_header(r, h[0], h[1]);
    for (size_t i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->hname[i], resp->hvalue[i]);
    if (allow[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    ret = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A request whose body is being read (the connection's con_cls). */
typedef struct lm_http_upload {
    const lm_http_route *route;
    char *buf; /* body so far, NUL-terminated; NULL when empty or over */
    size_t len;
    int over;     /* more than body_max: not kept */
    int answered; /* a response is queued */
} lm_http_upload;

static int lm_http_has_body(const char *method) {
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

const char *lm_http_header_get(const lm_http_request *req, const char *name) {
    if (req == NULL || req->conn == NULL)
        return NULL;
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn,
                                       MHD_HEADER_KIND, name);
}

/* Runs the route's handler (r may be NULL: resp holds the 404/405) and
 * queues the response. */
static enum MHD_Result
lm_http_answer(lm_http_server *s, struct MHD_Connection *conn,
               const lm_http_route *r, const char *method, const char *url,
               const lm_http_upload *up, lm_http_response *resp,
               const char *allow) {
    if (r != NULL) {
        lm_http_request req = {method, url, NULL, 0, 0, conn};
        if (up != NULL) {
            req.body = up->buf != NULL ? up->buf : "";
            req.body_len = up->len;
            req.body_over = up->over;
            if (up->over)
                req.body = NULL;
        }
        r->fn(s->cfg.opaque, &req, resp);
    }
    return lm_http_queue(s, conn, resp, allow);
}

/* Appends an upload chunk, or marks the body over the limit. */
static void lm_http_take_chunk(lm_http_upload *up, size_t body_max,
                               const char *data, size_t n) {
    if (up->over)
        return;
    if (n > body_max - up->len) {
        up->over = 1;
        free(up->buf);
        up->buf = NULL;
        up->len = 0;
        return;
    }
    char *nb = realloc(up->buf, up->len + n + 1);
    if (nb == NULL) { /* out of memory: answered as too large */
        up->over = 1;
        free(up->buf);
        up->buf = NULL;
        up->len = 0;
        return;
    }
    memcpy(nb + up->len, data, n);
    up->len += n;
    nb[up->len] = '\0';
    up->buf = nb;
}

/* The upload of a matched request with a body, or NULL when out of
 * memory. Over the limit at once when its Content-Length says so. */
static lm_http_upload *lm_http_upload_new(struct MHD_Connection *conn,
                                          const lm_http_route *r,
                                          size_t body_max) {
    lm_http_upload *up = calloc(1, sizeof *up);
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (up == NULL)
        return NULL;
    up->route = r;
    if (cl != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno != 0 || end == cl || v > body_max)
            up->over = 1;
    }
    return up;
}

/* libmicrohttpd's access handler: runs on a server thread. A request
 * without a body to read is answered on the first call; one with a body
 * (config body_max) once the body is in (or at once when it is too
 * large). */
static enum MHD_Result lm_http_dispatch(void *cls, struct MHD_Connection *conn,
                                        const char *url, const char *method,
                                        const char *version,
                                        const char *upload_data,
                                        size_t *upload_data_size,
                                        void **con_cls) {
    lm_http_server *s = cls;
    lm_http_upload *up = *con_cls;
    char allow[LM_HTTP_ALLOW_MAX] = "";
    lm_http_response *resp;
    const lm_http_route *r;
    enum MHD_Result ret;

    if (up != NULL && *upload_data_size > 0) {
        lm_http_take_chunk(up, s->cfg.body_max, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (up != NULL && up->answered)
        return MHD_YES;
    resp = calloc(1, sizeof *resp); /* a few KB: not on the stack */
    if (resp == NULL)
        return MHD_NO;
    lm_http_respond(resp, MHD_HTTP_OK, NULL, NULL, 0, LM_HTTP_BODY_STATIC);
    if (up != NULL) { /* the whole body is in */
        up->answered = 1;
        ret = lm_http_answer(s, conn, up->route, method, url, up, resp, allow);
        free(resp);
        return ret;
    }
    r = lm_http_route_find(&s->cfg, method, url, resp, allow);
    if (r != NULL && s->cfg.body_max > 0 && lm_http_has_body(method)) {
        up = lm_http_upload_new(conn, r, s->cfg.body_max);
        if (up == NULL) {
            free(resp);
            return MHD_NO;
        }
        *con_cls = up; /* freed in lm_http_completed */
        if (!up->over) {
            free(resp);
            return MHD_YES; /* the body comes in the next calls */
        }
        up->answered = 1;
        ret = lm_http_answer(s, conn, r, method, url, up, resp, allow);
        free(resp);
        return ret;
    }
    ret = lm_http_answer(s, conn, r, method, url, NULL, resp, allow);
    free(resp);
    return ret;
}

/* libmicrohttpd's request-completed callback: frees the upload. */
static void lm_http_completed(void *cls, struct MHD_Connection *conn,
                              void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    lm_http_upload *up = *con_cls;
    if (up != NULL) {
        free(up->buf);
        free(up);
        *con_cls = NULL;
    }
}

/* ==== start and stop ====================================================== */

/* Keeps libmicrohttpd's last message for start-up errors. */
static void lm_http_mhd_log(void *cls, const char *fmt, va_list ap) {
    lm_http_server *s = cls;
    size_t n;
    vsnprintf(s->mhd_err, sizeof s->mhd_err, fmt, ap);
    n = strlen(s->mhd_err);
    while (n > 0 && (s->mhd_err[n - 1] == '\n' || s->mhd_err[n - 1] == '.'))
        s->mhd_err[--n] = '\0';
}

lm_http_server *lm_http_start(const char *addr, const lm_http_config *cfg,
                              char *err, size_t errsz) {
    char host[LM_HTTP_HOST_MAX + 1];
    lm_http_server *s;
    unsigned int flags;
    int port = 0, fd = -1;

    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (cfg == NULL || (cfg->n_routes > 0 && cfg->routes == NULL)) {
        lm_errf(err, errsz, "no route table");
        return NULL;
    }
    if (lm_http_parse_addr(addr, host, sizeof host, &port, err, errsz) != 0)
        return NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        lm_errf(err, errsz, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    if (lm_http_listen(host, port, &fd, &s->port, err, errsz) != 0) {
        free(s);
        return NULL;
    }
    flags = MHD_USE_ERROR_LOG |
            (cfg->thread_per_connection ? MHD_USE_THREAD_PER_CONNECTION |
                                              MHD_USE_INTERNAL_POLLING_THREAD
                                        : MHD_USE_AUTO_INTERNAL_THREAD);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, lm_http_dispatch, s, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_EXTERNAL_LOGGER, lm_http_mhd_log, s,
        MHD_OPTION_NOTIFY_COMPLETED, lm_http_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT,
        cfg->idle_s > 0 ? cfg->idle_s : (unsigned int)LM_HTTP_IDLE_S,
        MHD_OPTION_CONNECTION_LIMIT,
        cfg->conn_max > 0 ? cfg->conn_max : (unsigned int)LM_HTTP_CONN_MAX,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        lm_errf(err, errsz, "start HTTP server: %s",
                s->mhd_err[0] != '\0' ? s->mhd_err : "libmicrohttpd failed");
        /* Whether libmicrohttpd closed the socket it was given on a failed
         * start differs between versions: close it only if still open. */
        if (fcntl(fd, F_GETFD) != -1)
            close(fd);
        free(s);
        return NULL;
    }
    return s;
}

int lm_http_port(const lm_http_server *s) {
    return s != NULL ? s->port : 0;
}

void lm_http_stop(lm_http_server *s) {
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon); /* joins the threads, closes the socket */
    free(s);
}
