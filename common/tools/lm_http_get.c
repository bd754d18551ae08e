/* lm_http_get.c — the small HTTP client (see lm_http_get.h): connect,
 * send the request, read to the end of the stream, split status line,
 * headers and body, and check the body against Content-Length.
 *
 * Invariant: on -1 the reply is empty (all zero), so a caller may always
 * call lm_http_get_free. */
#include "lm_http_get.h"

#include "lm_fmt.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define LM_HTTP_GET_REQ_MAX  2048
#define LM_HTTP_GET_INITIAL  65536
#define LM_HTTP_GET_HOST_MAX 300

/* A connected socket to host:port with both timeouts set; -1 with err. */
static int lm_http_get_connect(const char *host, int port, int timeout_ms,
                               char *err, size_t errsz) {
    struct addrinfo hints, *res = NULL;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    char service[16];
    int fd = -1, e = 0, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return lm_errf(err, errsz, "%s: %s", host, gai_strerror(rc));
    for (const struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd =
            socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return lm_errf(err, errsz, "connect to %s port %d: %s", host, port,
                       e == EINPROGRESS || e == EAGAIN ? "timed out"
                                                       : strerror(e));
    return fd;
}

/* Sends all of req and reads to EOF into a malloc'd, NUL-terminated
 * buffer (*out, *len). 0 / -1 with err. */
static int lm_http_get_exchange(int fd, const char *req, int timeout_ms,
                                char **out, size_t *len, char *err,
                                size_t errsz) {
    size_t n = strlen(req), off = 0, cap = LM_HTTP_GET_INITIAL, have = 0;
    char *buf;

    while (off < n) {
        ssize_t k = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (k <= 0)
            return lm_errf(err, errsz, "send: %s",
                           errno == EAGAIN ? "timed out" : strerror(errno));
        off += (size_t)k;
    }
    buf = malloc(cap);
    if (buf == NULL)
        return lm_errf(err, errsz, "out of memory");
    for (;;) {
        if (have + 1 == cap) {
            char *nb = cap >= LM_HTTP_GET_MAX ? NULL : realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                return lm_errf(err, errsz, "response larger than %u bytes",
                               LM_HTTP_GET_MAX);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t k = recv(fd, buf + have, cap - have - 1, 0);
        if (k == 0)
            break;
        if (k < 0) {
            int e = errno;
            free(buf);
            if (e == EAGAIN || e == EWOULDBLOCK)
                return lm_errf(err, errsz,
                               "no complete response within %d ms (%zu "
                               "bytes read)",
                               timeout_ms, have);
            return lm_errf(err, errsz, "recv: %s", strerror(e));
        }
        have += (size_t)k;
    }
    buf[have] = '\0';
    *out = buf;
    *len = have;
    return 0;
}

int lm_http_get_header(const lm_http_get_reply *r, const char *name, char *out,
                       size_t outsz) {
    size_t n = strlen(name);
    if (out != NULL && outsz > 0)
        out[0] = '\0';
    for (const char *p = r != NULL ? r->headers : NULL; p != NULL && *p;) {
        const char *eol = strstr(p, "\r\n");
        if (eol == NULL)
            break;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (out != NULL && outsz > 0) {
                size_t k = (size_t)(eol - v);
                if (k >= outsz)
                    k = outsz - 1;
                memcpy(out, v, k);
                out[k] = '\0';
            }
            return 0;
        }
        p = eol + 2;
    }
    return -1;
}

/* Splits buf (len bytes) into *r. A reply to HEAD has no body whatever
 * its Content-Length says. 0 / -1 with err. */
static int lm_http_get_parse(const char *buf, size_t len, int head,
                             lm_http_get_reply *r, char *err, size_t errsz) {
    const char *eol = strstr(buf, "\r\n"), *sep = strstr(buf, "\r\n\r\n");
    char *end;
    char cl[32];
    long status;

    if (strncmp(buf, "HTTP/1.", 7) != 0 || eol == NULL || sep == NULL ||
        buf[8] != ' ')
        return lm_errf(err, errsz, "not an HTTP response (%zu bytes)", len);
    status = strtol(buf + 9, &end, 10);
    if (end != buf + 12 || status < 100 || status > 599)
        return lm_errf(err, errsz, "bad status line");
    r->status = (int)status;
    r->headers = strndup(eol + 2, (size_t)(sep + 2 - (eol + 2)));
    r->body_len = len - (size_t)(sep + 4 - buf);
    r->body = malloc(r->body_len + 1);
    if (r->headers == NULL || r->body == NULL)
        return lm_errf(err, errsz, "out of memory");
    memcpy(r->body, sep + 4, r->body_len + 1);
    if (lm_http_get_header(r, "Transfer-Encoding", cl, sizeof cl) == 0)
        return lm_errf(err, errsz, "Transfer-Encoding %s is not supported", cl);
    if (!head && lm_http_get_header(r, "Content-Length", cl, sizeof cl) == 0 &&
        strtoull(cl, NULL, 10) != r->body_len)
        return lm_errf(err, errsz, "cut short: %zu of %s body bytes",
                       r->body_len, cl);
    return 0;
}

int lm_http_get_raw(const char *host, int port, const char *request,
                    int timeout_ms, lm_http_get_reply *r, char *err,
                    size_t errsz) {
    char *buf = NULL;
    size_t len = 0;
    int fd, rc;

    if (r == NULL)
        return lm_errf(err, errsz, "no reply to fill");
    memset(r, 0, sizeof *r);
    if (host == NULL || request == NULL || timeout_ms <= 0)
        return lm_errf(err, errsz, "no host, no request or no timeout");
    fd = lm_http_get_connect(host, port, timeout_ms, err, errsz);
    if (fd < 0)
        return -1;
    rc = lm_http_get_exchange(fd, request, timeout_ms, &buf, &len, err, errsz);
    close(fd);
    if (rc != 0)
        return -1;
    rc = lm_http_get_parse(buf, len, strncmp(request, "HEAD ", 5) == 0, r, err,
                           errsz);
    free(buf);
    if (rc != 0)
        lm_http_get_free(r);
    return rc;
}

int lm_http_get(const char *host, int port, const char *path, int timeout_ms,
                lm_http_get_reply *r, char *err, size_t errsz) {
    char req[LM_HTTP_GET_REQ_MAX], hostpart[LM_HTTP_GET_HOST_MAX];
    int n;

    if (r != NULL)
        memset(r, 0, sizeof *r);
    if (host == NULL || path == NULL || path[0] != '/')
        return lm_errf(err, errsz, "want a host and a path starting with /");
    n = snprintf(hostpart, sizeof hostpart,
                 strchr(host, ':') != NULL ? "[%s]" : "%s", host);
    if (n < 0 || (size_t)n >= sizeof hostpart)
        return lm_errf(err, errsz, "host name too long");
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                 path, hostpart, port);
    if (n < 0 || (size_t)n >= sizeof req)
        return lm_errf(err, errsz, "path too long (%zu bytes)", strlen(path));
    return lm_http_get_raw(host, port, req, timeout_ms, r, err, errsz);
}

void lm_http_get_free(lm_http_get_reply *r) {
    if (r == NULL)
        return;
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}
