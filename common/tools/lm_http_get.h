/* lm_http_get.h — the one HTTP client of the CLI and the tests: a GET (or
 * any request written out whole) over a plain TCP socket, the response read
 * to the end, for scraping /metrics, probing /healthz and /readyz, and
 * reading /api/board of our own servers (lm_http).
 *
 * Deliberately small: one request per connection ("Connection: close"),
 * no TLS, no redirects, no chunked transfer coding (our servers send a
 * Content-Length; a chunked reply is refused, not misread). A response is
 * whole only when the server closed after it and, when it sent a
 * Content-Length, after exactly that many body bytes (a reply to HEAD has
 * no body).
 *
 * Time: every connect, send and receive waits at most timeout_ms (Linux
 * applies the send timeout to connect), so a call ends within a few times
 * timeout_ms whatever the server does. Threads: none kept; reentrant.
 * Ownership: the reply's strings are malloc'd; lm_http_get_free. */
#ifndef LM_HTTP_GET_H
#define LM_HTTP_GET_H

#include <stddef.h>

#define LM_HTTP_GET_MAX (32u * 1024u * 1024u) /* bytes of a whole response */

typedef struct lm_http_get_reply {
    int status;    /* e.g. 200 */
    char *headers; /* the header lines after the status line, each
                    * ending "\r\n"; NUL-terminated */
    char *body;    /* body_len bytes, then a NUL */
    size_t body_len;
} lm_http_get_reply;

/* GET http://host:port/path. host is an IPv4 or IPv6 address (no brackets)
 * or a name; path starts with '/'. 0 with *r filled (caller frees with
 * lm_http_get_free), whatever the status; -1 with err saying what failed
 * (connect refused, timed out, not HTTP, cut short) and *r empty. */
int lm_http_get(const char *host, int port, const char *path, int timeout_ms,
                lm_http_get_reply *r, char *err, size_t errsz);

/* Sends `request` exactly as given (the caller writes the request line,
 * the headers, "Connection: close" and the blank line) and reads the reply
 * as lm_http_get does. For tests of other methods and malformed input. */
int lm_http_get_raw(const char *host, int port, const char *request,
                    int timeout_ms, lm_http_get_reply *r, char *err,
                    size_t errsz);

/* The value of header `name` (case-insensitive), leading blanks skipped,
 * into out[outsz] (cut to fit). 0 found; -1 not there (out holds ""). */
int lm_http_get_header(const lm_http_get_reply *r, const char *name, char *out,
                       size_t outsz);

/* Frees the reply's strings and empties it. NULL ok. */
void lm_http_get_free(lm_http_get_reply *r);

#endif
