/* gw_problem.h — RFC 9457 problem details: what the gateway answers
 * when it does not accept a request.
 *
 *   Content-Type: application/problem+json
 *   {"type": "urn:lastmile:problem:<slug>", "title": "...", "status": 400,
 *    "detail": "...", "errors": [{"field": "email", "detail": "..."}]}
 *
 * `errors` (an extension member) names every bad field of a 400 and says
 * how to fix it; a field of the n-th item of an array is "[n].email".
 *
 * Ownership: a gw_problems owns its JSON; gw_problems_free releases it.
 * Not thread-safe: one per request. */
#ifndef GW_PROBLEM_H
#define GW_PROBLEM_H

#include "lm_http.h"

#include <jansson.h>
#include <stddef.h>

#define GW_CT_PROBLEM "application/problem+json"
#define GW_CT_JSON    "application/json"

typedef struct gw_problems {
    json_t *errors; /* array of {field, detail}; NULL until the first */
} gw_problems;

/* Adds one bad field. `field` and the formatted detail are copied. */
__attribute__((format(printf, 3, 4))) void
gw_problem_add(gw_problems *pr, const char *field, const char *fmt, ...);
size_t gw_problem_count(const gw_problems *pr);
void gw_problems_free(gw_problems *pr);

/* Answers `status` with a problem body of type urn:lastmile:problem:<slug>
 * and the errors collected in pr (may be NULL; they are taken). */
void gw_problem_respond(lm_http_response *resp, unsigned status,
                        const char *slug, const char *title, const char *detail,
                        gw_problems *pr);

#endif
