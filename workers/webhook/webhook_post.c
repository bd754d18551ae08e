/* webhook_post.c — the webhook's one effect: a signed POST with libcurl,
 * and the signature (OpenSSL HMAC-SHA256).
 *
 * The poster keeps one curl easy handle (its connection cache: keep-alive
 * to the receivers) and the secret it signs with (borrowed from the
 * configuration, which outlives it). Redirects are not followed (a 3xx is
 * not a success); only http and https are spoken; no signals (timeouts
 * are curl's own). The response body is read up to
 * LM_WEBHOOK_EXCERPT_MAX - 1 bytes, the rest discarded.
 *
 * Threads: the worker's one thread; curl_global_init is called by the
 * worker's init, before any thread exists. */
#include "webhook.h"

#include "lm_fmt.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POST_CONNECT_MAX_MS 5000 /* connect timeout, within the POST's */

int lm_webhook_sign(const char *secret, size_t secret_len, int64_t t,
                    const char *body, size_t body_len,
                    char out[LM_WEBHOOK_SIG_MAX]) {
    char ts[LM_FMT_I64_MAX];
    size_t tn = lm_fmt_i64(ts, t);
    size_t n = tn + 1 + body_len;
    unsigned char *msg = malloc(n ? n : 1), md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!msg)
        return -1;
    memcpy(msg, ts, tn);
    msg[tn] = '.';
    if (body_len)
        memcpy(msg + tn + 1, body, body_len);
    const unsigned char *ok =
        HMAC(EVP_sha256(), secret, (int)secret_len, msg, n, md, &mdlen);
    free(msg);
    if (!ok || mdlen != 32)
        return -1;
    char hex[65];
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    lm_fmt_cat(out, LM_WEBHOOK_SIG_MAX, "t=", ts, ",v1=", hex, NULL);
    return 0;
}

struct lm_webhook_poster {
    const lm_webhook_config *cfg;
    CURL *curl;
};

lm_webhook_poster *lm_webhook_poster_new(const lm_webhook_config *cfg) {
    lm_webhook_poster *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->cfg = cfg;
    p->curl = curl_easy_init();
    if (!p->curl) {
        free(p);
        return NULL;
    }
    return p;
}

void lm_webhook_poster_free(lm_webhook_poster *p) {
    if (!p)
        return;
    curl_easy_cleanup(p->curl);
    free(p);
}

/* The excerpt being read: up to its size, the rest dropped. */
typedef struct excerpt {
    char *buf;
    size_t len, cap;
} excerpt;

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque) {
    excerpt *e = opaque;
    size_t n = size * nmemb, room = e->cap - 1 - e->len;
    size_t k = n < room ? n : room;
    memcpy(e->buf + e->len, data, k);
    e->len += k;
    e->buf[e->len] = '\0';
    return n;
}

/* Printable ASCII only, for logs and dead letters; no trailing blanks. */
static void excerpt_clean(char *s) {
    char *end = s;
    for (char *p = s; *p; p++) {
        if ((unsigned char)*p < ' ' || (unsigned char)*p > '~')
            *p = ' ';
        if (*p != ' ')
            end = p + 1;
    }
    *end = '\0';
}

void lm_webhook_post(lm_webhook_poster *p, const char *url, const char *key,
                     const char *body, size_t len, lm_webhook_result *r) {
    char sig[LM_WEBHOOK_SIG_MAX], h_sig[LM_WEBHOOK_SIG_MAX + 32],
        h_key[LM_ID_MAX + 32];
    memset(r, 0, sizeof(*r));
    if (lm_webhook_sign(p->cfg->secret, p->cfg->secret_len, (int64_t)time(NULL),
                        body, len, sig) != 0) {
        r->retriable = 1;
        snprintf(r->detail, sizeof(r->detail), "cannot sign (out of memory)");
        return;
    }
    lm_fmt_cat(h_sig, sizeof(h_sig), "Lastmile-Signature: ", sig, NULL);
    lm_fmt_cat(h_key, sizeof(h_key), "Idempotency-Key: ", key, NULL);
    struct curl_slist *hs = NULL, *h;
    const char *lines[] = {"Content-Type: application/json", h_sig, h_key,
                           "User-Agent: lastmile-webhook", "Expect:"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        h = curl_slist_append(hs, lines[i]);
        if (!h) {
            curl_slist_free_all(hs);
            r->retriable = 1;
            snprintf(r->detail, sizeof(r->detail), "out of memory");
            return;
        }
        hs = h;
    }
    excerpt e = {r->detail, 0, sizeof(r->detail)};
    CURL *c = p->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->cfg->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(p->cfg->timeout_ms < POST_CONNECT_MAX_MS
                                ? p->cfg->timeout_ms
                                : POST_CONNECT_MAX_MS));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &e);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hs);
    if (rc != CURLE_OK) {
        /* no answer: a timeout, a refused or reset connection, DNS */
        r->retriable = 1;
        snprintf(r->detail, sizeof(r->detail), "%s", curl_easy_strerror(rc));
        return;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    r->retriable = r->status >= 500 || r->status == 408 || r->status == 429;
    excerpt_clean(r->detail);
}
