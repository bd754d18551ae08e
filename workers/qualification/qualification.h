/* qualification.h — lastmile.qualification → lastmile.followup | outcomes.
 *
 * Scores a LeadAccepted with the logistic model, turns the score into a
 * decision (thresholds from the decision config), names the top three
 * factors, routes the lead to a team and an owner (round-robin inside the
 * team, owners at capacity skipped) and says the next step. A disqualified
 * lead gets its Outcome at once and takes no owner.
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
} lm_qualify_result;

/* Scores and decides; pure. */
void lm_qualify(const lm_model *model, const lm_policy *policy,
                const Lastmile__V1__LeadAccepted *lead, lm_qualify_result *out);

/* The owner for a team's next lead: starting at owner rr % n_owners, the
 * first whose load (loads[i], one per owner) is under its capacity; when
 * every owner is full, the one least over it (ties: the first from the
 * start), so no lead waits unowned. Returns the owner's index; pure. */
size_t lm_qualify_pick_owner(const lm_team *t, const int64_t *loads,
                             int64_t rr);
/* The load given to an owner whose open set cannot be read (a key of
 * another type, say): so high that the owner is passed over while any
 * other has a readable load, since its SADD would fail and dead-letter
 * the lead. */
#define LM_QUAL_LOAD_UNREADABLE (INT64_MAX / 4)

extern const lm_worker lm_qualification_worker;

#endif
