/* gw.h — lastmile-gateway: HTTP in, Kafka out (issue 18).
 *
 *   POST /v1/leads         LeadSubmitted → <prefix>intake   (scope leads;
 *                          JSON, a JSON array, or an HTML form post)
 *   POST /v1/responses     LeadResponse  → <prefix>timing   (scope responses)
 *   POST /v1/activities    OwnerActivity → <prefix>timing   (scope activities)
 *   POST /v1/owner-status  OwnerStatus   → <prefix>timing   (scope activities)
 *   OPTIONS on each        the CORS preflight
 *   GET /healthz, /readyz  as on the metrics port (ready: a broker answers)
 * docs/openapi.yaml describes them; tests/shell/test_gateway.sh holds the
 * server to it.
 *
 * A request is answered 202 only once the broker has acknowledged every
 * message it carried (gw_kafka.h); anything refused gets an RFC 9457
 * problem (gw_problem.h).
 *
 * Threads: the HTTP server runs a thread per connection (a handler waits
 * for the broker); the handlers share the gw read-only, but for the keys'
 * buckets (locked) and the metrics (atomic).
 * Ownership: main owns everything in a gw; the server borrows it. */
#ifndef GW_H
#define GW_H

#include "gw_kafka.h"
#include "gw_keys.h"
#include "lm_http.h"
#include "lm_metrics.h"

#include <stddef.h>

typedef struct gw {
    gw_keys *keys;
    gw_kafka *kafka;
    lm_metrics *metrics;
    size_t batch_max;
} gw;

/* The API's route table (n rows into *n), for the HTTP server's config
 * with the gw as its opaque. */
const lm_http_route *gw_http_routes(size_t *n);

#endif
