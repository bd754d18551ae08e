/* test_model_cohort.c — the cohort figure as a behaviour test: in the
 * simulated market (the demo's people, a hidden intent that depends on
 * who they are), a model retrained on cohort A's outcomes with `lastmile
 * train`'s code ranks cohort B better than the built-in model, against
 * B's outcomes and against B's true intent, for fixed seeds.
 *
 * Links cli/sim.c and cli/model_cohort.c (tests/CMakeLists.txt). Pure:
 * no broker, no Redis, no clock; ~0.1 s a seed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

#include "model_cohort.h"
#include "sim.h"

#define LEADS 3000

Test(model_cohort, retraining_on_one_cohort_raises_auc_on_the_next) {
    for (uint64_t seed = 1; seed <= 3; seed++) {
        lm_cohort_result r;
        char err[512] = "";
        cr_assert_eq(lm_cohort_run(seed, LEADS, &r, err, sizeof(err)), 0, "%s",
                     err);
        cr_log_info("seed %llu: AUC %.3f -> %.3f, intent %.3f -> %.3f",
                    (unsigned long long)seed, r.auc_default, r.auc_retrained,
                    r.conc_default, r.conc_retrained);
        cr_expect_gt(r.positives_a, 100, "seed %llu: %zu buyers in A",
                     (unsigned long long)seed, r.positives_a);
        cr_expect_lt(r.labelled_a, r.n_a, "the disqualified are unlabelled");
        cr_expect_gt(r.auc_retrained, r.auc_default + 0.02,
                     "seed %llu: AUC on B %.3f -> %.3f",
                     (unsigned long long)seed, r.auc_default, r.auc_retrained);
        /* at a cut that disqualifies as many leads, the retrained model
           drops fewer of the hottest people than the built-in one */
        cr_expect_lt(r.dq_top_matched, r.dq_top_default,
                     "seed %llu: hot leads disqualified %.3f -> %.3f",
                     (unsigned long long)seed, r.dq_top_default,
                     r.dq_top_matched);
        cr_expect_gt(r.conc_retrained, r.conc_default + 0.05,
                     "seed %llu: concordance with intent %.3f -> %.3f",
                     (unsigned long long)seed, r.conc_default,
                     r.conc_retrained);
    }
}

Test(model_cohort, intent_follows_the_market_truth) {
    /* an engineer at a mid-sized company, referred, who read a lot,
       against an unknown title from a tiny ad lead; same personal draw
       (same seed and submission index) */
    lm_sim sim = {7, 10, 0, 0, NULL};
    lm_sim_lead a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    snprintf(a.title, sizeof(a.title), "Engineer");
    snprintf(a.source, sizeof(a.source), "referral");
    snprintf(a.country, sizeof(a.country), "BR");
    snprintf(a.pages, sizeof(a.pages), "14");
    snprintf(a.demo, sizeof(a.demo), "1");
    a.company_size = 200;
    snprintf(b.source, sizeof(b.source), "ads");
    snprintf(b.country, sizeof(b.country), "JP");
    snprintf(b.pages, sizeof(b.pages), "0");
    snprintf(b.demo, sizeof(b.demo), "0");
    double hi = lm_sim_truth_intent(&sim, 3, &a);
    double lo = lm_sim_truth_intent(&sim, 3, &b);
    cr_expect_gt(hi, 0.4, "intent %.3f", hi);
    cr_expect_lt(lo, 0.1, "intent %.3f", lo);
    cr_expect_gt(hi, 5 * lo);
}
