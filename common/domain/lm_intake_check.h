/* lm_intake_check.h — what makes a LeadSubmitted valid, and its
 * normalised form: the pure validation step of the intake worker, shared
 * with the gateway (which names every bad field of a lead in one answer).
 *
 * Moved here from workers/intake (issue 18) unchanged in its rules and
 * messages, except that each check reports through a callback and goes on
 * to the next field, so a caller can collect every problem.
 *
 * Pure: no I/O, no clock (the caller passes now); thread-safe. */
#ifndef LM_INTAKE_CHECK_H
#define LM_INTAKE_CHECK_H

#include "lastmile/v1/lastmile.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define LM_INTAKE_EVENT_ID_MAX     128
#define LM_INTAKE_SOURCE_MAX       64
#define LM_INTAKE_EMAIL_MAX        254
#define LM_INTAKE_TEXT_MAX         256
#define LM_INTAKE_ATTRS_MAX        64
#define LM_INTAKE_ATTR_KEY_MAX     64
#define LM_INTAKE_ATTR_VALUE_MAX   1024
#define LM_INTAKE_COMPANY_SIZE_MAX 10000000
#define LM_INTAKE_MIN_TIME_MS      946684800000LL /* 2000-01-01 */
#define LM_INTAKE_MAX_FUTURE_MS    (24LL * 3600 * 1000)
#define LM_INTAKE_PROBLEM_MAX      512 /* bytes of one problem's text */

/* A normalised lead: trimmed copies in fixed buffers. */
typedef struct lm_intake_norm {
    char email[LM_INTAKE_EMAIL_MAX + 1];
    char domain[LM_INTAKE_EMAIL_MAX + 1];
    char source[LM_INTAKE_SOURCE_MAX + 1];
    char full_name[LM_INTAKE_TEXT_MAX + 1];
    char company[LM_INTAKE_TEXT_MAX + 1];
    char title[LM_INTAKE_TEXT_MAX + 1];
    char country[3];
    char timezone[LM_INTAKE_TEXT_MAX + 1];
    char phone[24];
    char person[20];
} lm_intake_norm;

/* One bad field: `field` is its protobuf JSON name ("email",
 * "attributes"), `what` says what is wrong and the fix. Both borrowed for
 * the call. */
typedef void (*lm_intake_problem_fn)(void *opaque, const char *field,
                                     const char *what);

/* Validates every field of `in` and fills `out` (its fields are valid only
 * when the result is 0). Calls fn (may be NULL) once per bad field, in
 * field order, and goes on. `now_ms` bounds submitted_at_ms. Returns the
 * number of bad fields. */
int lm_intake_check(const Lastmile__V1__LeadSubmitted *in, int64_t now_ms,
                    lm_intake_norm *out, lm_intake_problem_fn fn, void *opaque);

/* Validates `in` and fills `out`. 0, or -1 with the first problem as
 * "field: what" in reason. */
int lm_intake_normalise(const Lastmile__V1__LeadSubmitted *in, int64_t now_ms,
                        lm_intake_norm *out, char *reason, size_t reasonsz);

#endif
