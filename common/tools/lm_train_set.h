/* lm_train_set.h — outcomes into labelled examples for `lastmile train`
 * and the cohort figure (`lastmile model cohorts`): one example per lead,
 * labelled by lm_train_label (lm_train_eval.h), split into a training
 * share and a held-out share by the lead id's hash.
 *
 * Use: lm_train_set_init, lm_train_set_add for every Outcome (in topic
 * order: the first outcome of a lead id wins, a repeat is ignored), then
 * lm_train_set_finish once; afterwards fit[0..n_fit) and held[0..n_held)
 * are the examples (read-only) and the counters say what was left out.
 *
 * Ownership: the set owns its arrays (lm_train_set_free). Example feature
 * names point into `base` (attr:<key>), so base must outlive the set; the
 * outcomes are only read. Threads: one set, one thread. */
#ifndef LM_TRAIN_SET_H
#define LM_TRAIN_SET_H

#include "lm_train.h"
#include "lm_train_eval.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stddef.h>

#define LM_TRAIN_SET_MAX 100000 /* examples kept; ~1.7 KB each */

typedef struct lm_train_set_meta lm_train_set_meta; /* private */

typedef struct lm_train_set {
    /* set at init */
    const lm_model *base;
    lm_train_target target;
    /* after finish */
    lm_train_example *fit, *held;
    size_t n_fit, n_held;
    /* the leads that are no example but were scored (disqualified, a
       reply with no deal reported; label -1), so the whole population's
       scores can be compared (lm_train_matching_cut); at most
       LM_TRAIN_SET_MAX, filled by add */
    lm_train_example *others;
    size_t n_others, cap_others;
    /* counters */
    size_t read;         /* outcomes given to add */
    size_t disqualified; /* never contacted */
    size_t unknown_deal; /* RESPONDED under the buyer target */
    size_t no_lead;      /* an outcome without its lead */
    size_t other;        /* any other status */
    size_t over_cap;     /* past LM_TRAIN_SET_MAX */
    size_t repeats;      /* a lead id seen before */
    size_t late_flipped; /* NO_RESPONSE turned 1 by a late answer (reply) */
    /* private */
    lm_train_example *ex;
    lm_train_set_meta *meta;
    size_t n, cap;
    char (*late)[64];
    size_t n_late, cap_late;
} lm_train_set;

/* An empty set; base (not NULL) gives the numeric attributes. */
void lm_train_set_init(lm_train_set *s, const lm_model *base,
                       lm_train_target target);

/* Takes one outcome. 0, or -1 when memory runs out. */
int lm_train_set_add(lm_train_set *s, const Lastmile__V1__Outcome *o);

/* Drops repeats, applies late answers (reply target) and splits: a lead
 * is held out when lm_train_held_out(lead_id, holdout). 0, or -1 (OOM). */
int lm_train_set_finish(lm_train_set *s, double holdout);

void lm_train_set_free(lm_train_set *s);

/* The scores of model m for n examples into p (caller's, n entries). */
void lm_train_set_score(const lm_model *m, const lm_train_example *ex, size_t n,
                        double *p);

/* lm_train_evaluate of model m on n examples. 0, or -1 (n is 0 or OOM). */
int lm_train_set_evaluate(const lm_model *m, const lm_train_example *ex,
                          size_t n, lm_train_eval *out);

#endif
