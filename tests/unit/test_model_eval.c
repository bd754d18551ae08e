/* test_model_eval.c — what `lastmile train` measures and how it labels:
 * lm_train_eval (AUC, concordance, log loss, Brier, calibration deciles,
 * labels, the held-out share) and lm_train_set (one example per lead,
 * buyer and reply labels, late answers, the split by lead id).
 *
 * Pure code: no broker, no Redis, no clock. Each test owns what it
 * allocates and frees it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_model.h"
#include "lm_train_eval.h"
#include "lm_train_set.h"

Test(model_eval, auc_by_ranks_with_ties) {
    double s[] = {0.1, 0.4, 0.35, 0.8};
    int y[] = {0, 0, 1, 1};
    /* pairs (pos, neg): 0.35>0.1 yes, 0.35>0.4 no, 0.8 beats both: 3/4 */
    cr_expect_float_eq(lm_train_auc(s, y, 4), 0.75, 1e-12);
    double t[] = {0.5, 0.5, 0.5, 0.5};
    cr_expect_float_eq(lm_train_auc(t, y, 4), 0.5, 1e-12);
    int one[] = {1, 1, 1, 1};
    cr_expect(isnan(lm_train_auc(s, one, 4)));
    double perfect[] = {0.9, 0.8, 0.2, 0.1};
    int yp[] = {1, 1, 0, 0};
    cr_expect_float_eq(lm_train_auc(perfect, yp, 4), 1.0, 1e-12);
}

Test(model_eval, concordance_matches_pair_count) {
    enum { N = 300 };
    double s[N], t[N];
    unsigned x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        t[i] = (double)((x >> 8) % 50); /* ties in truth */
        x = x * 1103515245u + 12345u;
        s[i] = t[i] + (double)((x >> 8) % 40); /* and in score */
    }
    double good = 0, pairs = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (t[i] > t[j]) {
                pairs += 1;
                good += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
            }
    cr_expect_float_eq(lm_train_concordance(s, t, N), good / pairs, 1e-12);
    double flat[3] = {1, 1, 1}, sc[3] = {0.1, 0.2, 0.3};
    cr_expect(isnan(lm_train_concordance(sc, flat, 3)));
}

Test(model_eval, matching_cut_keeps_the_share) {
    /* live: 3 of 8 below 0.25; the candidate on another scale */
    double live[] = {0.1, 0.3, 0.2, 0.9, 0.5, 0.15, 0.6, 0.7};
    double cand[] = {0.01, 0.05, 0.03, 0.2, 0.06, 0.02, 0.07, 0.08};
    double c = lm_train_matching_cut(live, cand, 8, 0.25);
    cr_expect_float_eq(c, 0.04, 1e-12, "halfway between 0.03 and 0.05: %g", c);
    size_t below = 0;
    for (int i = 0; i < 8; i++)
        below += cand[i] < c;
    cr_expect_eq(below, 3);
    cr_expect_float_eq(lm_train_matching_cut(live, cand, 8, 0.05), 0.0, 0);
    cr_expect_float_eq(lm_train_matching_cut(live, cand, 8, 1.0), 0.6, 1e-12,
                       "everyone below: halfway to 1");
    cr_expect(isnan(lm_train_matching_cut(live, cand, 0, 0.5)));
}

Test(model_eval, loss_brier_and_deciles) {
    enum { N = 20 };
    double p[N];
    int y[N];
    for (int i = 0; i < N; i++) {
        p[i] = (i + 0.5) / N;
        y[i] = i >= 10;
    }
    lm_train_eval e;
    cr_assert_eq(lm_train_evaluate(p, y, N, &e), 0);
    cr_expect_eq(e.n, N);
    cr_expect_eq(e.positives, 10);
    cr_expect_float_eq(e.auc, 1.0, 1e-12);
    double ll = 0, br = 0;
    for (int i = 0; i < N; i++) {
        ll -= y[i] ? log(p[i]) : log(1 - p[i]);
        br += (p[i] - y[i]) * (p[i] - y[i]);
    }
    cr_expect_float_eq(e.log_loss, ll / N, 1e-12);
    cr_expect_float_eq(e.brier, br / N, 1e-12);
    for (int k = 0; k < LM_TRAIN_DECILES; k++) {
        cr_expect_eq(e.decile[k].n, 2, "decile %d", k);
        cr_expect_float_eq(e.decile[k].predicted, (2 * k + 1.0) / N, 1e-12);
        cr_expect_float_eq(e.decile[k].observed, k >= 5 ? 1.0 : 0.0, 1e-12);
    }
    cr_expect_eq(lm_train_evaluate(p, y, 0, &e), -1);
}

Test(model_eval, labels_buyer_and_reply) {
    lm_train_target t;
    cr_assert_eq(lm_train_target_parse("buyer", &t), 0);
    cr_expect_eq(t, LM_TRAIN_TARGET_BUYER);
    cr_assert_eq(lm_train_target_parse("reply", &t), 0);
    cr_expect_eq(t, LM_TRAIN_TARGET_REPLY);
    cr_expect_eq(lm_train_target_parse("buyers", &t), -1);
#define L(s, tg) lm_train_label(LASTMILE__V1__OUTCOME_STATUS__##s, tg)
    cr_expect_eq(L(CONVERTED_OUTCOME, LM_TRAIN_TARGET_BUYER), 1);
    cr_expect_eq(L(LOST_OUTCOME, LM_TRAIN_TARGET_BUYER), 0);
    cr_expect_eq(L(RESPONDED, LM_TRAIN_TARGET_BUYER), -1);
    cr_expect_eq(L(NO_RESPONSE, LM_TRAIN_TARGET_BUYER), 0);
    cr_expect_eq(L(DISQUALIFIED_OUTCOME, LM_TRAIN_TARGET_BUYER), -1);
    cr_expect_eq(L(LOST_OUTCOME, LM_TRAIN_TARGET_REPLY), 1);
    cr_expect_eq(L(RESPONDED, LM_TRAIN_TARGET_REPLY), 1);
    cr_expect_eq(L(BOUNCED_OUTCOME, LM_TRAIN_TARGET_REPLY), 0);
#undef L
}

Test(model_eval, held_out_is_by_lead_id) {
    char id[40];
    int held = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "%016x-%08x", i * 7919, i);
        int h = lm_train_held_out(id, 0.2);
        cr_expect_eq(h, lm_train_held_out(id, 0.2)); /* the same each run */
        cr_expect_eq(lm_train_held_out(id, 0.0), 0);
        cr_expect_eq(lm_train_held_out(id, 1.0), 1);
        if (h)
            cr_expect_eq(lm_train_held_out(id, 0.5), 1); /* nested shares */
        held += h;
    }
    cr_expect(held > 1800 && held < 2200, "%d of 10000 held out", held);
}

/* One outcome of lead `id` with status s (and a lead). */
static void add(lm_train_set *set, const char *id,
                Lastmile__V1__OutcomeStatus s, int with_lead) {
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    Lastmile__V1__Outcome o = LASTMILE__V1__OUTCOME__INIT;
    l.lead_id = (char *)id;
    l.title = (char *)"VP Sales";
    l.source = (char *)"referral";
    l.country = (char *)"DE";
    o.lead_id = (char *)id;
    o.status = s;
    o.lead = with_lead ? &l : NULL;
    cr_assert_eq(lm_train_set_add(set, &o), 0);
}

static void fill(lm_train_set *set) {
    add(set, "a", LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME, 1);
    add(set, "b", LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME, 1);
    add(set, "c", LASTMILE__V1__OUTCOME_STATUS__RESPONDED, 1);
    add(set, "d", LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE, 1);
    add(set, "d", LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME, 1);
    add(set, "e", LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME, 1);
    add(set, "f", LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE, 0);
    add(set, "d", LASTMILE__V1__OUTCOME_STATUS__LATE_RESPONSE, 0);
}

static int label_sum(const lm_train_set *s) {
    int n = 0;
    for (size_t i = 0; i < s->n_fit; i++)
        n += s->fit[i].label;
    for (size_t i = 0; i < s->n_held; i++)
        n += s->held[i].label;
    return n;
}

Test(model_eval, set_labels_repeats_and_split) {
    char err[256];
    lm_model *base = lm_model_load(NULL, err, sizeof(err));
    cr_assert_not_null(base, "%s", err);
    lm_train_set s;

    /* buyer: a=1, b=0, d=0 (its first outcome; the repeat and the late
       answer do not make a buyer); c unknown deal, e disqualified, f no
       lead */
    lm_train_set_init(&s, base, LM_TRAIN_TARGET_BUYER);
    fill(&s);
    cr_assert_eq(lm_train_set_finish(&s, 0.0), 0);
    cr_expect_eq(s.n_fit, 3);
    cr_expect_eq(s.n_held, 0);
    cr_expect_eq(label_sum(&s), 1);
    cr_expect_eq(s.unknown_deal, 1);
    cr_expect_eq(s.disqualified, 1);
    cr_expect_eq(s.no_lead, 1);
    cr_expect_eq(s.repeats, 1);
    cr_expect_eq(s.late_flipped, 0);
    cr_expect_eq(s.read, 8);
    cr_expect_eq(s.n_others, 2, "c and e are scored, not examples");
    lm_train_set_free(&s);

    /* reply: a, b, c = 1, d's no-response flipped by its late answer */
    lm_train_set_init(&s, base, LM_TRAIN_TARGET_REPLY);
    fill(&s);
    cr_assert_eq(lm_train_set_finish(&s, 1.0), 0);
    cr_expect_eq(s.n_fit, 0);
    cr_expect_eq(s.n_held, 4);
    cr_expect_eq(label_sum(&s), 4);
    cr_expect_eq(s.late_flipped, 1);
    lm_train_eval e;
    cr_expect_eq(lm_train_set_evaluate(base, s.held, s.n_held, &e), 0);
    cr_expect_eq(e.positives, 4);
    lm_train_set_free(&s);
    lm_model_free(base);
}
