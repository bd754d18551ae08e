/* lm_train_set.c — outcomes into labelled, split examples (see
 * lm_train_set.h; the labels are lm_train_label's, lm_train_eval.h).
 *
 * Examples are kept in arrival order beside their lead ids; finish sorts
 * an index by lead id to drop repeats (the first outcome wins), looks up
 * late answers by binary search, and copies the survivors into the
 * training and held-out arrays. The lead's region comes from lm_geo, as
 * the qualification worker computes it, so a training example has the
 * features the live scorer saw. */
#include "lm_train_set.h"

#include "lm_geo.h"
#include "lm_lead.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LM_TRAIN_SET_MIN_CAP 256

struct lm_train_set_meta {
    char lead_id[LM_LEAD_ID_MAX];
    int no_response; /* label 0 from NO_RESPONSE: a late answer flips it */
    int drop;        /* a repeat of an earlier lead id */
};

void lm_train_set_init(lm_train_set *s, const lm_model *base,
                       lm_train_target target) {
    memset(s, 0, sizeof(*s));
    s->base = base;
    s->target = target;
}

void lm_train_set_free(lm_train_set *s) {
    free(s->ex);
    free(s->meta);
    free(s->late);
    free(s->fit);
    free(s->held);
    free(s->others);
    memset(s, 0, sizeof(*s));
}

static int add_late(lm_train_set *s, const char *lead_id) {
    if (s->n_late == s->cap_late) {
        size_t cap = s->cap_late ? s->cap_late * 2 : LM_TRAIN_SET_MIN_CAP;
        void *n = realloc(s->late, cap * sizeof(*s->late));
        if (n == NULL) {
            return -1;
        }
        s->late = n;
        s->cap_late = cap;
    }
    snprintf(s->late[s->n_late++], sizeof(*s->late), "%s", lead_id);
    return 0;
}

static int grow(lm_train_set *s) {
    size_t cap = s->cap ? s->cap * 2 : LM_TRAIN_SET_MIN_CAP;
    lm_train_example *ex = realloc(s->ex, cap * sizeof(*ex));
    if (ex != NULL) {
        s->ex = ex;
    }
    lm_train_set_meta *m = realloc(s->meta, cap * sizeof(*m));
    if (m != NULL) {
        s->meta = m;
    }
    if (ex == NULL || m == NULL) {
        return -1;
    }
    s->cap = cap;
    return 0;
}

/* Keeps the features of a scored lead that is no example. 0/-1 (OOM). */
static int add_other(lm_train_set *s, const Lastmile__V1__Outcome *o) {
    if (o->lead == NULL || s->n_others >= LM_TRAIN_SET_MAX) {
        return 0;
    }
    if (s->n_others == s->cap_others) {
        size_t cap = s->cap_others ? s->cap_others * 2 : LM_TRAIN_SET_MIN_CAP;
        lm_train_example *n = realloc(s->others, cap * sizeof(*n));
        if (n == NULL) {
            return -1;
        }
        s->others = n;
        s->cap_others = cap;
    }
    lm_train_example *e = &s->others[s->n_others++];
    const struct lm_geo_country *g = lm_geo_country(o->lead->country);
    lm_model_features(s->base, o->lead, g ? g->region : NULL, &e->features);
    e->label = -1;
    return 0;
}

int lm_train_set_add(lm_train_set *s, const Lastmile__V1__Outcome *o) {
    int label = lm_train_label(o->status, s->target);
    s->read++;
    if (o->status == LASTMILE__V1__OUTCOME_STATUS__LATE_RESPONSE) {
        if (s->target == LM_TRAIN_TARGET_REPLY && o->lead_id != NULL) {
            return add_late(s, o->lead_id);
        }
        s->other++;
        return 0;
    }
    if (o->status == LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME) {
        s->disqualified++;
        return add_other(s, o);
    } else if (o->status == LASTMILE__V1__OUTCOME_STATUS__RESPONDED &&
               label < 0) {
        s->unknown_deal++;
        return add_other(s, o);
    } else if (label < 0) {
        s->other++;
    } else if (o->lead == NULL) {
        s->no_lead++;
    } else if (s->n >= LM_TRAIN_SET_MAX) {
        s->over_cap++;
    } else {
        if (s->n == s->cap && grow(s) != 0) {
            return -1;
        }
        lm_train_example *e = &s->ex[s->n];
        lm_train_set_meta *m = &s->meta[s->n];
        const struct lm_geo_country *g = lm_geo_country(o->lead->country);
        lm_model_features(s->base, o->lead, g ? g->region : NULL, &e->features);
        e->label = label;
        snprintf(m->lead_id, sizeof(m->lead_id), "%s",
                 o->lead_id ? o->lead_id : "");
        m->no_response = o->status == LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE;
        m->drop = 0;
        s->n++;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

typedef struct by_id {
    const char *id;
    size_t i;
} by_id;

static int cmp_by_id(const void *a, const void *b) {
    const by_id *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i); /* the first one wins */
}

/* Marks every outcome of a lead id after its first. No global state. */
static int mark_repeats(lm_train_set *s) {
    by_id *idx = malloc((s->n ? s->n : 1) * sizeof(*idx));
    if (idx == NULL) {
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        idx[i] = (by_id){s->meta[i].lead_id, i};
    }
    qsort(idx, s->n, sizeof(*idx), cmp_by_id);
    for (size_t i = 1; i < s->n; i++) {
        if (strcmp(idx[i].id, idx[i - 1].id) == 0) {
            s->meta[idx[i].i].drop = 1;
            s->repeats++;
        }
    }
    free(idx);
    return 0;
}

int lm_train_set_finish(lm_train_set *s, double holdout) {
    if (mark_repeats(s) != 0) {
        return -1;
    }
    if (s->n_late > 0) {
        qsort(s->late, s->n_late, sizeof(*s->late), cmp_str);
    }
    size_t cap = s->n ? s->n : 1;
    s->fit = malloc(cap * sizeof(*s->fit));
    s->held = malloc(cap * sizeof(*s->held));
    if (s->fit == NULL || s->held == NULL) {
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->meta[i].drop) {
            continue;
        }
        if (s->meta[i].no_response && s->n_late &&
            bsearch(s->meta[i].lead_id, s->late, s->n_late, sizeof(*s->late),
                    cmp_str)) {
            s->ex[i].label = 1;
            s->late_flipped++;
        }
        /* a plain struct copy: feature names resolve through name_off */
        if (lm_train_held_out(s->meta[i].lead_id, holdout)) {
            s->held[s->n_held++] = s->ex[i];
        } else {
            s->fit[s->n_fit++] = s->ex[i];
        }
    }
    return 0;
}

void lm_train_set_score(const lm_model *m, const lm_train_example *ex, size_t n,
                        double *p) {
    for (size_t i = 0; i < n; i++) {
        lm_model_score(m, &ex[i].features, &p[i], NULL, 0);
    }
}

int lm_train_set_evaluate(const lm_model *m, const lm_train_example *ex,
                          size_t n, lm_train_eval *out) {
    double *p = malloc((n ? n : 1) * sizeof(*p));
    int *y = malloc((n ? n : 1) * sizeof(*y));
    int rc = -1;
    if (p != NULL && y != NULL && n > 0) {
        lm_train_set_score(m, ex, n, p);
        for (size_t i = 0; i < n; i++) {
            y[i] = ex[i].label;
        }
        rc = lm_train_evaluate(p, y, n, out);
    }
    free(p);
    free(y);
    return rc;
}
