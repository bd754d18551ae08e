/* qual_shadow.h — a candidate model scored in shadow beside the live one.
 *
 * LASTMILE_MODEL_SHADOW names a candidate model file (from `lastmile
 * train`). When set, the worker loads it at start as strictly as the live
 * model (a bad file stops the start with its file:line and fix), scores
 * every lead with it too, and puts that score and the candidate's version
 * on the QualificationDecision (shadow_score, shadow_model_version), so
 * the two can be compared on the same leads before `lastmile model
 * promote`. A disqualified lead has no decision event: its shadow score
 * goes on its Outcome (same fields). The decision, the reasons and the
 * routing follow the live score only. Unset or empty: no shadow, the fields
 * stay 0/"".
 *
 * Ownership: qual_shadow owns its model (qual_shadow_free). Threads: the
 * worker's one thread; the model is read-only once loaded. */
#ifndef QUAL_SHADOW_H
#define QUAL_SHADOW_H

#include "lm_model.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stddef.h>

typedef struct qual_shadow {
    lm_model *model; /* NULL: no shadow */
} qual_shadow;

/* Loads LASTMILE_MODEL_SHADOW when set. 0, or -1 with err (the variable,
 * then the model file's own message: file, line or key, fix). */
int qual_shadow_init(qual_shadow *s, char *err, size_t errsz);

/* The candidate's score of `lead` with region `region` into *score and
 * its version (pointing into the model) into *version; 0, or -1 and
 * nothing set without a shadow. */
int qual_shadow_score(const qual_shadow *s,
                      const Lastmile__V1__LeadAccepted *lead,
                      const char *region, double *score, char **version);

void qual_shadow_free(qual_shadow *s);

#endif
