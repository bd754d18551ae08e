/* fuzz_redis_url.c — LASTMILE_REDIS_URL: bytes → lm_redis_url_parse.
 *
 * Invariants: every field of the result is NUL-terminated; a parsed TCP
 * URL has a host and a port 1-65535, a unix URL an absolute path; a
 * refused URL gets an error, and that error does not depend on the
 * password (a URL's secret must not reach a log). */
#include "fuzz.h"

#include "lm_redis.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

/* Where the password of a redis:// URL lies: between the first ':' after
 * the scheme and the last '@' (as the parser reads it). -1 if none. */
static int password_span(const char *url, size_t *off, size_t *len) {
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    const char *p = url + 8, *at = strrchr(p, '@');
    if (!at)
        return -1;
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *start = colon ? colon + 1 : p;
    *off = (size_t)(start - url);
    *len = (size_t)(at - start);
    return *len ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096)
        return 0;
    char *url = malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    lm_redis_url u;
    char err[512];
    err[0] = '\0';
    int rc = lm_redis_url_parse(url, &u, err, sizeof(err));
    fuzz_check(memchr(u.host, 0, sizeof(u.host)) &&
                   memchr(u.path, 0, sizeof(u.path)) &&
                   memchr(u.user, 0, sizeof(u.user)) &&
                   memchr(u.password, 0, sizeof(u.password)),
               "a URL field is not terminated");
    size_t off, len;
    if (rc != 0) {
        fuzz_check(err[0], "refused without an error");
        /* the same URL with the password's bytes masked must fail with
           the very same words: the error does not depend on the secret */
        if (password_span(url, &off, &len) == 0) {
            memset(url + off, 0x01, len);
            lm_redis_url u2;
            char err2[512];
            err2[0] = '\0';
            fuzz_check(lm_redis_url_parse(url, &u2, err2, sizeof(err2)) != 0 &&
                           strcmp(err, err2) == 0,
                       "the error depends on the password");
        }
    } else if (u.is_unix) {
        fuzz_check(u.path[0] == '/', "unix URL without an absolute path");
    } else {
        fuzz_check(u.host[0] && u.port >= 1 && u.port <= 65535,
                   "TCP URL without host or port");
    }
    fuzz_check(u.db >= 0, "negative db");
    free(url);
    return 0;
}
