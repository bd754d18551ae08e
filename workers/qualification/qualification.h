/* qualification.h — lastmile.qualification → lastmile.followup | outcomes.
 *
 * Scores a LeadAccepted with the logistic model, turns the score into a
 * decision (thresholds from the decision config), names the top three
 * factors, routes the lead to a team and an owner (qual_route.h,
 * docs/ROUTING.md: capacity a hard limit, weighted round robin, overflow,
 * accounts, or the team's unassigned queue) and says the next step. A
 * disqualified lead gets its Outcome at once and takes no owner.
 * A candidate model (LASTMILE_MODEL_SHADOW) can be scored beside the live
 * one, its score on the decision only (qual_shadow.h).
 *
 * lm_qualify is the pure decision, tested without servers. */
#ifndef LM_QUALIFICATION_H
#define LM_QUALIFICATION_H

#include "lm_model.h"
#include "lm_policy.h"
#include "lm_runtime.h"

#include <stdint.h>

#include "lastmile/v1/lastmile.pb-c.h"

#define LM_QUAL_REASONS 3

typedef struct lm_qualify_result {
    double score;
    Lastmile__V1__DecisionKind kind;
    lm_reason reasons[LM_QUAL_REASONS];
    size_t n_reasons;
    const lm_team *team; /* NULL when disqualified */
    char segment[96];
    int adaptive;
    int holdout; /* in the global holdout (learning.holdout) */
} lm_qualify_result;

/* Scores and decides; pure. */
void lm_qualify(const lm_model *model, const lm_policy *policy,
                const Lastmile__V1__LeadAccepted *lead, lm_qualify_result *out);

extern const lm_worker lm_qualification_worker;

#endif
