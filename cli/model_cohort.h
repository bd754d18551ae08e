/* model_cohort.h — the cohort figure: does retraining on one cohort's
 * outcomes rank the next cohort better? (`lastmile model cohorts`, and
 * tests/unit/test_model_cohort.c.)
 *
 * Offline and pure: the people are the simulated market's
 * (lm_sim_lead_make, sim.h); each has a hidden intent to buy that depends
 * on who they are (title, source, company size, pages, demo request,
 * region) and on something no feature shows (a personal draw), and that
 * the built-in model's prior gets only partly right. Cohort A is leads
 * [0, n), cohort B [n, 2n). Each cohort is worked under the built-in model
 * as the fleet would: disqualified below the nurture threshold (no
 * outcome but DISQUALIFIED), otherwise touched along its cadence with a
 * chance of an answer that grows with intent, and a reply's deal won,
 * lost or never reported, as the demo's market does (sim.c). `lastmile
 * train`'s own code turns A's outcomes into examples (lm_train_set.h,
 * buyer labels) and fits; B is then scored by the built-in and the
 * retrained model, and compared against B's outcomes (AUC on the leads
 * with a label) and against B's true intents (concordance, every valid
 * lead, the disqualified too).
 *
 * Ownership: the caller's options and result; no state kept.
 * Threads: any, one call at a time per result. */
#ifndef LM_MODEL_COHORT_H
#define LM_MODEL_COHORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_cohort_result {
    size_t n_a, labelled_a, positives_a; /* cohort A: leads, examples, 1s */
    size_t n_b, labelled_b, positives_b;
    double auc_default, auc_retrained;   /* B's outcomes */
    double conc_default, conc_retrained; /* B's true intents */
    /* share of B's top tenth by true intent that each model would
       disqualify (score below the nurture threshold: never contacted);
       _matched: the retrained model with the nurture cut that disqualifies
       as many of B's leads as the built-in one does
       (lm_train_matching_cut: a model fitted on deals scores P(buyer),
       on another scale than the thresholds were set for) */
    double dq_top_default, dq_top_retrained, dq_top_matched;
} lm_cohort_result;

/* Runs the figure for one seed with `leads` submissions a cohort.
 * 0, or -1 with a message in err. */
int lm_cohort_run(uint64_t seed, size_t leads, lm_cohort_result *r, char *err,
                  size_t errsz);

#endif
