/* model_cohort.c — the cohort figure (see model_cohort.h).
 *
 * Every draw is a hash of (seed, submission index, purpose), so a seed
 * gives the same cohorts, outcomes and models every run. The funnel's
 * chances are the demo market's (sim.c: 0.18 x intent a touch, a bounce
 * at the first touch 0.5%, unsubscribe 5% of answers, a direct sale
 * 0.35 x intent of them, and a handed-off reply's deal won 0.2 + 0.5 x
 * intent, lost 0.45, else never reported); the hour of the touch is left
 * out (its factor averages near 1 and is timing's business, not the
 * model's). */
#include "model_cohort.h"
#include "sim.h"

#include "lm_fmt.h"
#include "lm_geo.h"
#include "lm_hash.h"
#include "lm_model.h"
#include "lm_policy.h"
#include "lm_stats.h"
#include "lm_train.h"
#include "lm_train_eval.h"
#include "lm_train_set.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COHORT_START_MS 1764547200000LL /* 2025-12-01T00:00:00Z */
#define COHORT_SPAN_MS  (28LL * 86400000LL)
#define COHORT_VERSION  "cohort-a.retrained"

/* A draw in [0, 1) for (seed, submission, purpose). */
static double draw(uint64_t seed, size_t i, unsigned k) {
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "cohort/%llu/%zu/%u",
                     (unsigned long long)seed, i, k);
    return lm_hash_unit(lm_hash64(buf, (size_t)n, 0x636f686f7274ULL));
}

/* One market: the cohort's leads, their features and fates. */
typedef struct cohort_lead {
    lm_sim_lead sl; /* the submission: acc's strings point into it */
    Lastmile__V1__LeadAccepted acc;
    Lastmile__V1__LeadAccepted__AttributesEntry attr[3], *attr_ptrs[3];
    char lead_id[40];
    const char *region;
    double intent;
} cohort_lead;

/* LeadAccepted of submission i, as intake would pass it on; -1 for an
 * invalid submission or a repeat (intake rejects or merges those). */
static int cohort_lead_make(const lm_sim *sim, size_t i, cohort_lead *c) {
    memset(c, 0, sizeof(*c));
    lm_sim_lead *sl = &c->sl;
    lm_sim_lead_make(sim, i, sl);
    if (sl->invalid || sl->repeat)
        return -1;
    const struct lm_geo_country *g = lm_geo_country(sl->country);
    uint64_t h = lm_hash64_str(sl->event_id, sim->seed);
    snprintf(c->lead_id, sizeof(c->lead_id), "%016llx-%08x",
             (unsigned long long)h, (unsigned)(h >> 17));
    lastmile__v1__lead_accepted__init(&c->acc);
    c->acc.lead_id = c->lead_id;
    c->acc.source = sl->source;
    c->acc.title = sl->title;
    c->acc.company_size = sl->company_size;
    c->acc.country = sl->country;
    for (size_t k = 0; k < 3; k++) {
        lastmile__v1__lead_accepted__attributes_entry__init(&c->attr[k]);
        c->attr[k].key = sl->attr[k].key;
        c->attr[k].value = sl->attr[k].value;
        c->attr_ptrs[k] = &c->attr[k];
    }
    c->acc.n_attributes = 3;
    c->acc.attributes = c->attr_ptrs;
    c->region = g ? g->region : "OTHER";
    c->intent = lm_sim_truth_intent(sim, i, sl);
    return 0;
}

/* The lead's fate under `live`: its Outcome status (and value). The
 * cadence's steps are the touches; the first answer decides. */
static Lastmile__V1__OutcomeStatus
cohort_fate(uint64_t seed, size_t i, const cohort_lead *c, double score,
            const lm_policy *pol, int64_t *value_cents) {
    *value_cents = 0;
    if (score < lm_policy_threshold_nurture(pol))
        return LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME;
    const lm_cadence *cad = lm_policy_cadence(
        pol,
        score >= lm_policy_threshold_qualified(pol) ? "qualified" : "nurture");
    size_t steps = cad ? cad->n_steps : 3;
    double p = 0.18 * c->intent;
    for (size_t k = 0; k < steps; k++) {
        double x = draw(seed, i, 10 + (unsigned)k);
        if (k == 0 && x > 0.995)
            return LASTMILE__V1__OUTCOME_STATUS__BOUNCED_OUTCOME;
        if (x >= p)
            continue;
        double y = draw(seed, i, 30 + (unsigned)k);
        if (y < 0.05)
            return LASTMILE__V1__OUTCOME_STATUS__UNSUBSCRIBED_OUTCOME;
        if (y < 0.05 + 0.35 * c->intent) {
            *value_cents = 500000 + (int64_t)(4500000 * draw(seed, i, 50));
            return LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME;
        }
        double d = draw(seed, i, 51); /* the hand-off's deal */
        double won = 0.2 + 0.5 * c->intent;
        if (d < won) {
            *value_cents = 500000 + (int64_t)(4500000 * draw(seed, i, 50));
            return LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME;
        }
        return d < won + 0.45 ? LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME
                              : LASTMILE__V1__OUTCOME_STATUS__RESPONDED;
    }
    return LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE;
}

/* Works cohort [from, to) under `live` into `set` (its outcomes) and,
 * when scores is not NULL, keeps every valid lead's intent and its score
 * under `live` and `other` (for B). Returns the valid leads, or -1 (OOM). */
static long cohort_work(uint64_t seed, size_t from, size_t to,
                        const lm_model *live, const lm_model *other,
                        const lm_policy *pol, lm_train_set *set, double *intent,
                        double *s_live, double *s_other) {
    lm_sim sim = {seed, to, COHORT_START_MS, COHORT_SPAN_MS, NULL};
    cohort_lead *c = malloc(sizeof(*c));
    long n = 0;
    if (c == NULL)
        return -1;
    for (size_t i = from; i < to; i++) {
        if (cohort_lead_make(&sim, i, c) != 0)
            continue;
        lm_features f;
        double score = 0.0;
        lm_model_features(live, &c->acc, c->region, &f);
        lm_model_score(live, &f, &score, NULL, 0);
        if (intent != NULL) {
            intent[n] = c->intent;
            s_live[n] = score;
            lm_model_score(other, &f, &s_other[n], NULL, 0);
        }
        Lastmile__V1__Outcome o = LASTMILE__V1__OUTCOME__INIT;
        char id[64];
        lm_fmt_cat(id, sizeof(id), c->lead_id, ":outcome", NULL);
        o.outcome_id = id;
        o.lead_id = c->lead_id;
        o.status = cohort_fate(seed, i, c, score, pol, &o.deal_value_cents);
        o.score = score;
        o.lead = &c->acc;
        if (lm_train_set_add(set, &o) != 0) {
            free(c);
            return -1;
        }
        n++;
    }
    free(c);
    return n;
}

/* The share of the top tenth of leads by intent whose score is below
 * `cut`; NAN on OOM. */
static double dq_top(const double *intent, const double *score, size_t n,
                     double cut) {
    double *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (sorted == NULL || n == 0) {
        free(sorted);
        return NAN;
    }
    memcpy(sorted, intent, n * sizeof(*sorted));
    lm_stats_sort(sorted, n);
    double floor_ = sorted[n - 1 - (n - 1) / 10]; /* the top tenth's least */
    free(sorted);
    size_t top = 0, dq = 0;
    for (size_t i = 0; i < n; i++)
        if (intent[i] >= floor_) {
            top++;
            dq += score[i] < cut;
        }
    return top ? (double)dq / (double)top : NAN;
}

static size_t positives(const lm_train_example *ex, size_t n) {
    size_t p = 0;
    for (size_t i = 0; i < n; i++)
        p += ex[i].label == 1;
    return p;
}

int lm_cohort_run(uint64_t seed, size_t leads, lm_cohort_result *r, char *err,
                  size_t errsz) {
    memset(r, 0, sizeof(*r));
    lm_model *def = lm_model_load(NULL, err, errsz), *fit = NULL;
    lm_policy *pol = lm_policy_load(NULL, err, errsz);
    lm_train_set a, b;
    double *intent = malloc((leads ? leads : 1) * sizeof(double) * 3);
    int rc = -1;
    lm_train_set_init(&a, def, LM_TRAIN_TARGET_BUYER);
    lm_train_set_init(&b, def, LM_TRAIN_TARGET_BUYER);
    if (def == NULL || pol == NULL || intent == NULL) {
        if (intent == NULL)
            lm_errf(err, errsz, "cohorts: out of memory");
        goto done;
    }
    long na = cohort_work(seed, 0, leads, def, NULL, pol, &a, NULL, NULL, NULL);
    if (na < 0 || lm_train_set_finish(&a, 0.0) != 0) {
        lm_errf(err, errsz, "cohorts: out of memory");
        goto done;
    }
    r->n_a = (size_t)na;
    r->labelled_a = a.n_fit;
    r->positives_a = positives(a.fit, a.n_fit);
    lm_train_opts opts = lm_train_defaults();
    fit = lm_train_fit(def, a.fit, a.n_fit, &opts, COHORT_VERSION, err, errsz);
    if (fit == NULL)
        goto done;
    double *s_def = intent + leads, *s_fit = intent + 2 * leads;
    long nb = cohort_work(seed, leads, 2 * leads, def, fit, pol, &b, intent,
                          s_def, s_fit);
    if (nb < 0 || lm_train_set_finish(&b, 0.0) != 0) {
        lm_errf(err, errsz, "cohorts: out of memory");
        goto done;
    }
    r->n_b = (size_t)nb;
    r->labelled_b = b.n_fit;
    r->positives_b = positives(b.fit, b.n_fit);
    lm_train_eval e;
    if (lm_train_set_evaluate(def, b.fit, b.n_fit, &e) != 0)
        goto oom;
    r->auc_default = e.auc;
    if (lm_train_set_evaluate(fit, b.fit, b.n_fit, &e) != 0)
        goto oom;
    r->auc_retrained = e.auc;
    r->conc_default = lm_train_concordance(s_def, intent, (size_t)nb);
    r->conc_retrained = lm_train_concordance(s_fit, intent, (size_t)nb);
    double cut = lm_policy_threshold_nurture(pol);
    r->dq_top_default = dq_top(intent, s_def, (size_t)nb, cut);
    r->dq_top_retrained = dq_top(intent, s_fit, (size_t)nb, cut);
    r->dq_top_matched =
        dq_top(intent, s_fit, (size_t)nb,
               lm_train_matching_cut(s_def, s_fit, (size_t)nb, cut));
    rc = 0;
    goto done;
oom:
    lm_errf(err, errsz, "cohorts: out of memory");
done:
    lm_train_set_free(&a);
    lm_train_set_free(&b);
    lm_model_free(fit);
    lm_model_free(def);
    lm_policy_free(pol);
    free(intent);
    return rc;
}
