/* demo_ready.h — the demo waits for its fleet before the market opens.
 *
 * The demo's clock runs some 60,000 times faster than the wall clock, so
 * the seconds a freshly started worker takes to join its consumer group
 * are days of simulated time: a market that opened at once would make its
 * first leads wait "days" for a fleet that was still starting, and the
 * report would count that as speed-to-lead. The demo gives each worker its
 * own /readyz (LASTMILE_METRICS_ADDR on a free loopback port) and opens
 * the market once every worker says ready (partitions of its input topic
 * assigned, broker and Redis reachable).
 * Threads: the demo's main thread only. */
#ifndef LM_DEMO_READY_H
#define LM_DEMO_READY_H

#include <signal.h>

#define LM_DEMO_READY_TIMEOUT_MS 60000 /* then the market opens anyway */
#define LM_DEMO_READY_POLL_MS    50

/* Polls http://127.0.0.1:<ports[i]>/readyz until each of the n answers
 * 200 (a port <= 0 is not asked), *stop is set, or timeout_ms passes.
 * 0 when all are ready, -1 otherwise (stopped or timed out). */
int lm_demo_wait_ready(const int *ports, int n, int timeout_ms,
                       volatile sig_atomic_t *stop);

#endif
