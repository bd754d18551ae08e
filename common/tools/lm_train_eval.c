/* lm_train_eval.c — labels, the held-out share and held-out quality of a
 * model's scores (see lm_train_eval.h for the contract and the reasoning
 * behind the labels).
 *
 * AUC is the Mann-Whitney statistic over ranks (ties averaged);
 * concordance counts ordered pairs with a Fenwick tree over score ranks.
 * Both sort a scratch index they allocate and free. Pure; any thread. */
#include "lm_train_eval.h"

#include "lm_hash.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LM_TRAIN_HOLDOUT_SEED 0x686f6c646f7574ULL /* "holdout" */
#define LM_TRAIN_P_MIN        1e-12

int lm_train_label(Lastmile__V1__OutcomeStatus s, lm_train_target t) {
    switch (s) {
    case LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME:
        return 1;
    case LASTMILE__V1__OUTCOME_STATUS__RESPONDED:
        return t == LM_TRAIN_TARGET_REPLY ? 1 : -1;
    case LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME:
        return t == LM_TRAIN_TARGET_REPLY ? 1 : 0;
    case LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE:
    case LASTMILE__V1__OUTCOME_STATUS__UNSUBSCRIBED_OUTCOME:
    case LASTMILE__V1__OUTCOME_STATUS__NOT_INTERESTED_OUTCOME:
    case LASTMILE__V1__OUTCOME_STATUS__BOUNCED_OUTCOME:
        return 0;
    default:
        return -1;
    }
}

int lm_train_target_parse(const char *name, lm_train_target *t) {
    if (name != NULL && strcmp(name, "buyer") == 0) {
        *t = LM_TRAIN_TARGET_BUYER;
        return 0;
    }
    if (name != NULL && strcmp(name, "reply") == 0) {
        *t = LM_TRAIN_TARGET_REPLY;
        return 0;
    }
    return -1;
}

int lm_train_held_out(const char *lead_id, double share) {
    if (lead_id == NULL || !(share > 0.0)) {
        return 0;
    }
    return lm_hash_unit(lm_hash64_str(lead_id, LM_TRAIN_HOLDOUT_SEED)) < share;
}

typedef struct keyed {
    double key;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return (x->i > y->i) - (x->i < y->i);
}

/* Indices 0..n-1 sorted by keys ascending (stable by index); NULL on OOM.
 * No global state: the keys travel with the indices. */
static size_t *sorted_index(const double *keys, size_t n) {
    keyed *k = malloc((n ? n : 1) * sizeof(*k));
    size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    if (k == NULL || idx == NULL) {
        free(k);
        free(idx);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        k[i] = (keyed){keys[i], i};
    }
    qsort(k, n, sizeof(*k), cmp_keyed);
    for (size_t i = 0; i < n; i++) {
        idx[i] = k[i].i;
    }
    free(k);
    return idx;
}

double lm_train_auc(const double *score, const int *y, size_t n) {
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        pos += y[i] == 1;
    }
    if (pos == 0 || pos == n) {
        return NAN;
    }
    size_t *idx = sorted_index(score, n);
    if (idx == NULL) {
        return NAN;
    }
    double rank_sum = 0.0; /* ranks of the positives, 1-based */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && score[idx[j]] == score[idx[i]]) {
            j++;
        }
        double avg = 0.5 * (double)(i + 1 + j); /* mean of ranks i+1..j */
        for (size_t k = i; k < j; k++) {
            if (y[idx[k]] == 1) {
                rank_sum += avg;
            }
        }
        i = j;
    }
    free(idx);
    double np = (double)pos, nn = (double)(n - pos);
    return (rank_sum - np * (np + 1.0) / 2.0) / (np * nn);
}

static void fenwick_add(double *t, size_t n, size_t i) {
    for (i++; i <= n; i += i & (~i + 1)) {
        t[i - 1] += 1.0;
    }
}

static double fenwick_sum(const double *t, size_t i) { /* ranks < i */
    double s = 0.0;
    for (; i > 0; i -= i & (~i + 1)) {
        s += t[i - 1];
    }
    return s;
}

double lm_train_concordance(const double *score, const double *truth,
                            size_t n) {
    size_t *by_score = sorted_index(score, n);
    size_t *by_truth = sorted_index(truth, n);
    size_t *rank = malloc((n ? n : 1) * sizeof(*rank));
    double *tree = calloc(n ? n : 1, sizeof(*tree));
    double good = 0.0, pairs = 0.0, result = NAN;

    if (by_score == NULL || by_truth == NULL || rank == NULL || tree == NULL) {
        goto done;
    }
    /* dense ranks of the scores: equal scores share a rank */
    for (size_t i = 0, r = 0; i < n; i++) {
        if (i > 0 && score[by_score[i]] != score[by_score[i - 1]]) {
            r++;
        }
        rank[by_score[i]] = r;
    }
    /* in truth order: each lead against every earlier, lower-truth one */
    for (size_t i = 0, seen = 0; i < n;) {
        size_t j = i;
        while (j < n && truth[by_truth[j]] == truth[by_truth[i]]) {
            j++;
        }
        for (size_t k = i; k < j; k++) {
            size_t r = rank[by_truth[k]];
            double below = fenwick_sum(tree, r);
            double tied = fenwick_sum(tree, r + 1) - below;
            good += below + 0.5 * tied;
        }
        pairs += (double)seen * (double)(j - i);
        for (size_t k = i; k < j; k++) {
            fenwick_add(tree, n, rank[by_truth[k]]);
        }
        seen += j - i;
        i = j;
    }
    if (pairs > 0.0) {
        result = good / pairs;
    }
done:
    free(by_score);
    free(by_truth);
    free(rank);
    free(tree);
    return result;
}

double lm_train_matching_cut(const double *live, const double *cand, size_t n,
                             double live_cut) {
    size_t below = 0;
    for (size_t i = 0; i < n; i++) {
        below += live[i] < live_cut;
    }
    if (n == 0) {
        return NAN;
    }
    if (below == 0) {
        return 0.0; /* nobody below: no cut needed */
    }
    size_t *idx = sorted_index(cand, n);
    if (idx == NULL) {
        return NAN;
    }
    /* halfway between the last lead below and the first at or above */
    double lo = cand[idx[below - 1]];
    double hi = below < n ? cand[idx[below]] : 1.0;
    free(idx);
    return 0.5 * (lo + hi);
}

int lm_train_evaluate(const double *p, const int *y, size_t n,
                      lm_train_eval *out) {
    memset(out, 0, sizeof(*out));
    if (n == 0) {
        return -1;
    }
    size_t *idx = sorted_index(p, n);
    if (idx == NULL) {
        return -1;
    }
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        double q = fmin(fmax(p[i], LM_TRAIN_P_MIN), 1.0 - LM_TRAIN_P_MIN);
        out->positives += y[i] == 1;
        out->log_loss -= y[i] == 1 ? log(q) : log(1.0 - q);
        out->brier += (p[i] - y[i]) * (p[i] - y[i]);
    }
    out->log_loss /= (double)n;
    out->brier /= (double)n;
    for (size_t i = 0; i < n; i++) {
        lm_train_decile *d = &out->decile[i * LM_TRAIN_DECILES / n];
        d->n++;
        d->predicted += p[idx[i]];
        d->observed += y[idx[i]] == 1;
    }
    for (size_t k = 0; k < LM_TRAIN_DECILES; k++) {
        lm_train_decile *d = &out->decile[k];
        if (d->n > 0) {
            d->predicted /= (double)d->n;
            d->observed /= (double)d->n;
        }
    }
    free(idx);
    out->auc = lm_train_auc(p, y, n);
    return 0;
}
