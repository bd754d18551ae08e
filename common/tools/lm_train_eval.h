/* lm_train_eval.h — what `lastmile train` needs besides the fit: the label
 * of an outcome, the held-out share of leads, and how good a model's
 * scores are on leads it was not fitted on (AUC, log loss, Brier score, a
 * calibration table by score decile).
 *
 * Labels (LM_TRAIN_TARGET_BUYER, the default): the question the score
 * answers is "will this lead become a buyer if we work it?", because the
 * score decides who gets sales time and a deal is what that time is for.
 *   1  CONVERTED_OUTCOME (a deal won, at once or after a reply and a
 *      hand-off; its value goes to the report, not the label);
 *   0  LOST_OUTCOME (replied, talked, did not buy), NO_RESPONSE,
 *      NOT_INTERESTED_OUTCOME, UNSUBSCRIBED_OUTCOME, BOUNCED_OUTCOME;
 *   -  RESPONDED (replied, but the CRM reported nothing within the deal
 *      window: the deal is unknown, not lost; counting it either way would
 *      teach the model the CRM's reporting habits), DISQUALIFIED_OUTCOME
 *      (never contacted: the model's own verdict, not evidence) and
 *      LATE_RESPONSE (an answer after closing, not a deal).
 * LM_TRAIN_TARGET_REPLY keeps the older question "will this lead engage?":
 * RESPONDED, CONVERTED and LOST are 1 and a LATE_RESPONSE turns the lead's
 * NO_RESPONSE into 1 (the caller applies that); the zeros are the same.
 *
 * Ownership: the functions read their arrays and write only *out.
 * Threads: pure functions, no state. */
#ifndef LM_TRAIN_EVAL_H
#define LM_TRAIN_EVAL_H

#include "lastmile/v1/lastmile.pb-c.h"

#include <stddef.h>

typedef enum lm_train_target {
    LM_TRAIN_TARGET_BUYER = 0, /* 1 = the deal was won */
    LM_TRAIN_TARGET_REPLY,     /* 1 = the lead replied (any deal) */
} lm_train_target;

#define LM_TRAIN_DECILES 10

/* 1, 0, or -1 (not an example) for an outcome status under `t`. */
int lm_train_label(Lastmile__V1__OutcomeStatus s, lm_train_target t);

/* "buyer" or "reply" to its target: 0, or -1 for any other name. */
int lm_train_target_parse(const char *name, lm_train_target *t);

/* Is this lead in the held-out share? Deterministic in the lead id (its
 * 64-bit hash as a fraction below `share`), so the same leads stay out
 * run after run while the topic grows. share 0: none, 1: all. */
int lm_train_held_out(const char *lead_id, double share);

/* One row of the calibration table: the leads whose score falls in this
 * decile of the scores (sorted, equal-sized groups), their mean score and
 * the share whose label is 1. */
typedef struct lm_train_decile {
    size_t n;
    double predicted, observed;
} lm_train_decile;

typedef struct lm_train_eval {
    size_t n, positives;
    double auc;      /* P(a positive outscores a negative), ties half; NAN
                        when either class is missing */
    double log_loss; /* mean -[y ln p + (1-y) ln(1-p)], p clipped 1e-12 */
    double brier;    /* mean (p - y)^2 */
    lm_train_decile decile[LM_TRAIN_DECILES]; /* lowest scores first */
} lm_train_eval;

/* The area under the ROC curve of `score` for labels y (0/1), by ranks
 * (ties get their average rank). NAN when n has no positive or no
 * negative. Allocates a scratch index (n entries); NAN when that fails. */
double lm_train_auc(const double *score, const int *y, size_t n);

/* How often `score` orders two leads as `truth` does, over every pair
 * with different truths (score ties count half): the AUC's continuous
 * cousin, for a market that knows each person's true intent. NAN when
 * all truths are equal. O(n log n); allocates scratch. */
double lm_train_concordance(const double *score, const double *truth, size_t n);

/* The candidate's cut that keeps the live model's share: the value c such
 * that as many of the n leads have cand < c as have live < live_cut (so a
 * retrained model on another scale disqualifies, or qualifies, as many
 * leads as today). NAN when n is 0 or memory runs out. */
double lm_train_matching_cut(const double *live, const double *cand, size_t n,
                             double live_cut);

/* Fills *out for scores p (0..1) and labels y. 0, or -1 when n is 0 or
 * memory runs out. */
int lm_train_evaluate(const double *p, const int *y, size_t n,
                      lm_train_eval *out);

#endif
