/* demo_ready.c — wait until every demo worker says ready (demo_ready.h).
 * Main thread of `lastmile demo` only. */
#include "demo_ready.h"

#include "lm_clock.h"
#include "lm_http_get.h"

#include <time.h>

#define DEMO_READY_HTTP_TIMEOUT_MS 500

static int worker_ready(int port) {
    lm_http_get_reply r;
    char err[256];
    if (port <= 0)
        return 1; /* no free port was found for it: nothing to ask */
    if (lm_http_get("127.0.0.1", port, "/readyz", DEMO_READY_HTTP_TIMEOUT_MS,
                    &r, err, sizeof(err)) != 0)
        return 0; /* not listening yet */
    int ok = r.status == 200;
    lm_http_get_free(&r);
    return ok;
}

int lm_demo_wait_ready(const int *ports, int n, int timeout_ms,
                       volatile sig_atomic_t *stop) {
    int64_t deadline = lm_clock_mono_ms() + timeout_ms;
    int next = 0; /* workers before it are ready */
    while (!*stop && lm_clock_mono_ms() < deadline) {
        while (next < n && worker_ready(ports[next]))
            next++;
        if (next == n)
            return 0;
        struct timespec ts = {0, LM_DEMO_READY_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}
