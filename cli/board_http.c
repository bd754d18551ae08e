/* board_http.c — the board's HTTP side: the page, /api/board and /metrics
 * (the timing lift's gauges) on the one HTTP server (lm_http), a thread
 * per connection (a request for
 * /api/board may wait up to LM_BOARD_FIRST_WAIT_MS for the first snapshot
 * while the others are served).
 *
 * The page is three files under cli/board/, compiled in by lm_embed
 * (cli/CMakeLists.txt): index.html with two placeholder lines,
 * "/" "* board.css *" "/" inside its <style> and "/" "* board.js *" "/"
 * inside its <script>, which are replaced by board.css and board.js once,
 * at start. So the page is one document and fetches nothing from
 * elsewhere (the Content-Security-Policy below says so), while each part
 * is a file a front-end editor can open.
 *
 * Threads: handlers run on the server's connection threads and only read
 * the page (fixed at start) and copy the snapshot under the board's mutex;
 * they never touch Kafka or Redis. */
#include "board_internal.h"

#include "lm_fmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* cli/board/{index.html,board.css,board.js}, by lm_embed: the bytes, a
 * NUL, and the length without it. */
extern const char lm_board_index_html[];
extern const size_t lm_board_index_html_len;
extern const char lm_board_css[];
extern const size_t lm_board_css_len;
extern const char lm_board_js[];
extern const size_t lm_board_js_len;

#define BOARD_CSS_SLOT "/* board.css */\n"
#define BOARD_JS_SLOT  "/* board.js */\n"

#define BOARD_CSP                                                              \
    "default-src 'none'; script-src 'unsafe-inline'; style-src "               \
    "'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; "    \
    "form-action 'none'; frame-ancestors 'none'"

/* ============================================================ the page */

/* index.html with its two slots filled: malloc'd (caller frees), NUL-
 * terminated, *len bytes; NULL with err when a slot is missing or out of
 * memory. */
static char *board_page(size_t *len, char *err, size_t errsz) {
    const char *html = lm_board_index_html;
    const char *css_at = strstr(html, BOARD_CSS_SLOT);
    const char *js_at = strstr(html, BOARD_JS_SLOT);
    if (!css_at || !js_at || js_at < css_at) {
        lm_errf(err, errsz,
                "cli/board/index.html lacks the lines \"%s\" then \"%s\"",
                "/* board.css */", "/* board.js */");
        return NULL;
    }
    size_t css_slot = strlen(BOARD_CSS_SLOT), js_slot = strlen(BOARD_JS_SLOT);
    size_t n = lm_board_index_html_len - css_slot - js_slot + lm_board_css_len +
               lm_board_js_len;
    char *page = malloc(n + 1), *at = page;
    if (!page) {
        lm_errf(err, errsz, "out of memory");
        return NULL;
    }
    const char *const parts[][2] = {
        {html, css_at},
        {lm_board_css, lm_board_css + lm_board_css_len},
        {css_at + css_slot, js_at},
        {lm_board_js, lm_board_js + lm_board_js_len},
        {js_at + js_slot, html + lm_board_index_html_len},
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        size_t k = (size_t)(parts[i][1] - parts[i][0]);
        memcpy(at, parts[i][0], k);
        at += k;
    }
    *at = '\0';
    *len = n;
    return page;
}

static void board_get_page(void *opaque, const lm_http_request *req,
                           lm_http_response *resp) {
    const lm_board *b = opaque;
    (void)req;
    /* the page lives until lm_board_stop, after the server is stopped */
    lm_http_respond(resp, 200, "text/html; charset=utf-8", b->page, b->page_len,
                    LM_HTTP_BODY_STATIC);
}

/* ============================================================ /api/board */

/* The latest snapshot, waiting up to LM_BOARD_FIRST_WAIT_MS for the first
 * (this connection's own thread waits; the others are served). */
static void board_get_api(void *opaque, const lm_http_request *req,
                          lm_http_response *resp) {
    lm_board *b = opaque;
    struct timespec until;
    (void)req;
    board_deadline(&until, LM_BOARD_FIRST_WAIT_MS);
    pthread_mutex_lock(&b->mu);
    while (!b->snapshot && !b->stop &&
           pthread_cond_timedwait(&b->cv, &b->mu, &until) != ETIMEDOUT)
        ;
    char *copy = NULL;
    size_t len = b->snapshot_len;
    if (b->snapshot) {
        copy = malloc(len + 1);
        if (copy)
            memcpy(copy, b->snapshot, len + 1);
    }
    int had = b->snapshot != NULL;
    pthread_mutex_unlock(&b->mu);
    if (!copy) {
        lm_http_text(resp, 503,
                     had ? "{\"error\": \"out of memory\"}\n"
                         : "{\"error\": \"the first refresh is still "
                           "running\"}\n");
        return;
    }
    lm_http_respond(resp, 200, "application/json", copy, len,
                    LM_HTTP_BODY_TAKE);
}

/* ============================================================ /metrics */

/* The timing lift's gauges (board.h), in the Prometheus text format. */
static void board_get_metrics(void *opaque, const lm_http_request *req,
                              lm_http_response *resp) {
    lm_board *b = opaque;
    char *text = NULL;
    size_t len = 0;
    (void)req;
    if (lm_metrics_render(b->metrics, &text, &len) != 0) {
        lm_http_text(resp, 500, "cannot render the metrics\n");
        return;
    }
    lm_http_respond(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                    len, LM_HTTP_BODY_TAKE);
}

/* ============================================================ the server */

static const lm_http_route board_routes[] = {
    {"GET", "/", board_get_page},
    {"HEAD", "/", board_get_page},
    {"GET", "/index.html", board_get_page},
    {"HEAD", "/index.html", board_get_page},
    {"GET", "/api/board", board_get_api},
    {"HEAD", "/api/board", board_get_api},
    {"GET", "/metrics", board_get_metrics},
};

static const char *const board_headers[] = {"X-Content-Type-Options", "nosniff",
                                            "Content-Security-Policy",
                                            BOARD_CSP, NULL};

int board_http_start(lm_board *b, const char *addr, char *err, size_t errsz) {
    char why[BOARD_ERR_MAX];
    b->page = board_page(&b->page_len, why, sizeof(why));
    if (!b->page)
        return lm_errf(err, errsz, "the page: %s", why);
    lm_http_config cfg = {
        .routes = board_routes,
        .n_routes = sizeof(board_routes) / sizeof(board_routes[0]),
        .opaque = b,
        .headers = board_headers,
        .thread_per_connection = 1, /* /api/board may wait */
        .conn_max = LM_BOARD_HTTP_CONN_MAX,
        .idle_s = LM_BOARD_HTTP_TIMEOUT_S,
    };
    b->http = lm_http_start(addr, &cfg, why, sizeof(why));
    if (!b->http)
        return lm_errf(err, errsz, "--addr %s: %s", addr, why);
    return 0;
}
