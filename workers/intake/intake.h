/* intake.h — the intake worker: lastmile.intake → lastmile.qualification.
 *
 * Validates and normalises a LeadSubmitted, dedupes the same person within
 * the configured window (the later submission is merged into the existing
 * lead: no second cadence), assigns the stable lead_id, records the stage
 * times, and emits LeadAccepted.
 *
 * lm_intake_normalise is the pure validation step, tested on its own. */
#ifndef LM_INTAKE_H
#define LM_INTAKE_H

#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

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

/* Validates `in` and fills `out`. 0, or -1 with a reason naming the field,
 * what is wrong, and the fix. `now_ms` bounds submitted_at_ms. Pure. */
int lm_intake_normalise(const Lastmile__V1__LeadSubmitted *in, int64_t now_ms,
                        lm_intake_norm *out, char *reason, size_t reasonsz);

/* The worker declaration (its ctx is file-local state). */
extern const lm_worker lm_intake_worker;

#endif
