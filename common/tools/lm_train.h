/* lm_train.h — fit a qualification model from labelled leads, for
 * `lastmile train` (a tool: no worker links this).
 *
 * Ownership: lm_train_fit returns a model the caller frees with
 * lm_model_free; the examples and the base model are only read.
 * Threads: runs on the calling thread, no state kept between calls. */
#ifndef LM_TRAIN_H
#define LM_TRAIN_H

#include "lm_model.h"

#include <stddef.h>

/* Distinct feature names in one training run, bias included (the dense
 * Hessian is this squared: 2 MiB). */
#define LM_TRAIN_MAX_FEATURES 512

/* A labelled example: label 1 = the lead converted, 0 = it did not. */
typedef struct lm_train_example {
    lm_features features;
    int label;
} lm_train_example;

/* l2: the L2 penalty (> 0) on every weight except bias, in the summed
 * objective  sum_i logloss_i + l2/2 * sum_{j != bias} w_j^2  (a Gaussian
 * prior of variance 1/l2, so its pull does not grow with the data);
 * max_iter: Newton iterations (> 0); tol: stop when no weight moves more
 * than tol in one iteration (> 0). */
typedef struct lm_train_opts {
    double l2;
    int max_iter;
    double tol;
} lm_train_opts;

/* {l2 = 1.0, max_iter = 100, tol = 1e-9}. */
lm_train_opts lm_train_defaults(void);

/* Fit L2-regularised logistic regression by Newton's method (IRLS) with a
 * backtracking line search; deterministic (same input, same bits).
 *
 * The intercept "bias" is always fitted as a feature of value 1, whatever
 * the examples say about "bias". The new model has one weight per feature
 * name present (with a non-zero value) in the examples plus "bias", the
 * numeric_attributes of `base` (NULL: the built-in default) and the given
 * version. Repeated names within an example are summed.
 *
 * Identifiability: every lead has exactly one title=, one region= and
 * (usually) one source= feature, so each of those one-hot groups is
 * collinear with bias; the likelihood cannot tell a constant added to a
 * group from the same constant taken off bias. The L2 penalty (bias is not
 * penalised) settles it: in the fitted model each complete one-hot group's
 * weights are centred on 0 and bias absorbs the group means. Scores are
 * unaffected. With true weights in that form, 20,000 synthetic examples
 * recover every weight to within 0.15 absolute (tests/unit/test_model_train.c;
 * there each weight's error has a standard deviation of about 0.05 or
 * less across seeds).
 *
 * Errors (NULL returned, message in err): no examples, a label other than
 * 0/1, only one class of label, a NULL/long name or a non-finite value, more
 * than LM_TRAIN_MAX_FEATURES distinct features, bad opts, a bad version,
 * no convergence within max_iter. ex and base are only read. Caller frees
 * the result with lm_model_free(). */
lm_model *lm_train_fit(const lm_model *base, const lm_train_example *ex,
                       size_t n, const lm_train_opts *opts, const char *version,
                       char *err, size_t errsz);

#endif
