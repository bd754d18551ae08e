/* test_model_train.c — unit tests of lm_train: fitting recovers a known
 * model's weights from its own samples and round-trips, and every
 * argument error is refused. The rest of lm_model is in test_model.c; the
 * shared helpers in model_testutil.h.
 *
 * Pure code: no broker, no Redis, no clock. Randomness comes from a seeded
 * splitmix64, so every run sees the same examples. Training recovery is
 * held to LM_TEST_TRAIN_TOL (0.15 absolute on every weight, as promised in
 * lm_model.h). Each test owns what it allocates and frees it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lm_model.h"
#include "lm_train.h"
#include "model_testutil.h"

#define LM_TEST_TRAIN_N   20000
#define LM_TEST_TRAIN_TOL 0.15 /* absolute, on every weight */

/* ------------------------------------------------------------ training */

/* The true model. Each one-hot group (title, source, region) sums to 0:
 * the gauge the fit reports (see lm_train_fit in lm_train.h). Bias puts
 * the mean logit near 0, where examples carry the most information. */
static const char *const true_model_json =
    "{\"format\": \"lastmile-logistic-v1\", \"version\": \"truth\","
    " \"numeric_attributes\": [\"pages_viewed\", \"emails_opened\","
    " \"demo_requested\", \"webinar_attended\"],"
    " \"weights\": {\"bias\": -2.7, \"log_company_size\": 0.25,"
    " \"title=c_level\": 1.0, \"title=vp\": 0.7, \"title=director\": 0.4,"
    " \"title=manager\": 0.0, \"title=individual\": -0.6,"
    " \"title=unknown\": -1.5,"
    " \"source=referral\": 0.9, \"source=web_form\": 0.5,"
    " \"source=event\": 0.1, \"source=crm\": 0.0, \"source=ads\": -0.4,"
    " \"source=purchased_list\": -1.1,"
    " \"region=NA\": 0.3, \"region=EMEA\": 0.2, \"region=APAC\": -0.1,"
    " \"region=LATAM\": -0.1, \"region=OTHER\": -0.3,"
    " \"attr:pages_viewed\": 0.4, \"attr:emails_opened\": 0.2,"
    " \"attr:demo_requested\": 1.5, \"attr:webinar_attended\": 0.6}}";

/* Training leads: titles, sources and regions uniform over their groups;
 * company size, pages and emails log-uniform (ln(1 + v) spread evenly, so
 * the attr: features do not mimic bias); binary attributes at 50%. On this
 * design each fitted weight's error has a standard deviation of at most
 * about 0.05 across seeds, so LM_TEST_TRAIN_TOL is three of them. */
static void training_lead(test_rng *r, test_lead *t, const char **region) {
    static const char *const sources[] = {
        "referral", "web_form", "event", "crm", "ads", "Purchased_List"};
    static const char *const titles[] = {"Founder & CEO", "SVP Sales",
                                         "Director, IT",  "Office Manager",
                                         "Analyst",       ""};
    static const char *const regions[] = {"NA", "EMEA", "APAC", "LATAM",
                                          "Atlantis"};
    char v[32];
    int size = 0;

    if (rng_unit(r) >= 0.10) {
        size = (int)exp(rng_unit(r) * log(10000.0));
    }
    lead_init(t, sources[rng_below(r, 6)], titles[rng_below(r, 6)], size);
    *region = regions[rng_below(r, 5)];
    snprintf(v, sizeof v, "%d", (int)exp(rng_unit(r) * log(41.0)) - 1);
    lead_attr(t, "pages_viewed", v);
    snprintf(v, sizeof v, "%d", (int)exp(rng_unit(r) * log(13.0)) - 1);
    lead_attr(t, "emails_opened", v);
    lead_attr(t, "demo_requested", rng_unit(r) < 0.5 ? "1" : "0");
    lead_attr(t, "webinar_attended", rng_unit(r) < 0.5 ? "1" : "0");
}

Test(model, training_recovers_weights_and_round_trips) {
    char err[LM_TEST_ERRSZ] = "";
    char path[] = "/tmp/lm_model_train_XXXXXX";
    lm_model *truth = parse_ok(true_model_json);
    lm_model *base = lm_model_load(NULL, err, sizeof err);
    lm_model *fit, *again;
    lm_train_example *ex = calloc(LM_TEST_TRAIN_N, sizeof(*ex));
    lm_train_opts opts = lm_train_defaults();
    test_rng r = {20261125};
    double worst = 0.0;
    const char *worst_name = "";
    char *j1, *j2;
    size_t i;
    int fd;

    cr_assert_not_null(ex);
    cr_assert_not_null(base, "%s", err);
    for (i = 0; i < LM_TEST_TRAIN_N; i++) {
        test_lead t;
        lm_features f;
        const char *region;
        double p;

        training_lead(&r, &t, &region);
        lm_model_features(base, &t.lead, region, &f);
        lm_model_score(truth, &f, &p, NULL, 0);
        ex[i].features = f; /* a plain copy: names still resolve */
        ex[i].label = rng_unit(&r) < p;
    }

    fit = lm_train_fit(base, ex, LM_TEST_TRAIN_N, &opts, "2026-11-26.test", err,
                       sizeof err);
    cr_assert_not_null(fit, "%s", err);
    cr_expect_str_eq(lm_model_version(fit), "2026-11-26.test");
    cr_expect_eq(lm_model_n_weights(fit), lm_model_n_weights(truth),
                 "fit has %zu weights", lm_model_n_weights(fit));
    for (i = 0; i < lm_model_n_weights(truth); i++) {
        const char *name;
        double want, got, d;

        lm_model_weight_at(truth, i, &name, &want);
        got = weight(fit, name);
        d = fabs(got - want);
        cr_expect_leq(d, LM_TEST_TRAIN_TOL, "%s: fitted %.4f, true %.4f", name,
                      got, want);
        if (d > worst) {
            worst = d;
            worst_name = name;
        }
    }
    cr_log_info("largest weight error %.4f (%s), tolerance %.2f", worst,
                worst_name, LM_TEST_TRAIN_TOL);
    cr_expect_eq(lm_model_n_numeric_attributes(fit),
                 lm_model_n_numeric_attributes(base));
    for (i = 0; i < lm_model_n_numeric_attributes(base); i++) {
        cr_expect_str_eq(lm_model_numeric_attribute(fit, i),
                         lm_model_numeric_attribute(base, i));
    }

    /* deterministic: the same input gives the same bits */
    again = lm_train_fit(base, ex, LM_TEST_TRAIN_N, &opts, "2026-11-26.test",
                         err, sizeof err);
    cr_assert_not_null(again, "%s", err);
    j1 = lm_model_to_json(fit);
    j2 = lm_model_to_json(again);
    cr_expect_str_eq(j1, j2);
    free(j2);
    lm_model_free(again);

    /* save, load: the same model, weight for weight, bit for bit */
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(lm_model_save(fit, path, err, sizeof err), 0, "%s", err);
    again = lm_model_load(path, err, sizeof err);
    cr_assert_not_null(again, "%s", err);
    unlink(path);
    j2 = lm_model_to_json(again);
    cr_expect_str_eq(j1, j2);
    for (i = 0; i < lm_model_n_weights(fit); i++) {
        const char *name;
        double w;

        lm_model_weight_at(fit, i, &name, &w);
        cr_expect_eq(weight(again, name), w, "%s", name);
    }
    free(j1);
    free(j2);
    lm_model_free(again);
    lm_model_free(fit);
    lm_model_free(base);
    lm_model_free(truth);
    free(ex);
}

Test(model, training_errors) {
    static lm_train_example ex[4];
    char err[LM_TEST_ERRSZ];
    lm_train_opts bad = {0.0, 10, 1e-9};
    size_t i;
    lm_model *m;

    for (i = 0; i < 4; i++) {
        lm_model_features_init(&ex[i].features);
        lm_model_features_add(&ex[i].features, "title=vp", (double)(i & 1));
        ex[i].label = (int)(i & 1);
    }
    cr_expect_null(lm_train_fit(NULL, ex, 0, NULL, "v", err, sizeof err));
    cr_expect(strstr(err, "no examples") != NULL, "%s", err);

    cr_expect_null(lm_train_fit(NULL, ex, 4, &bad, "v", err, sizeof err));
    cr_expect(strstr(err, "fix: l2 > 0") != NULL, "%s", err);

    cr_expect_null(lm_train_fit(NULL, ex, 4, NULL, "", err, sizeof err));
    cr_expect(strstr(err, "version is empty") != NULL, "%s", err);

    cr_expect_null(lm_train_fit(NULL, ex, 1, NULL, "v", err, sizeof err));
    cr_expect(strstr(err, "both converted (1) and lost (0)") != NULL, "%s",
              err);

    ex[2].label = 7;
    cr_expect_null(lm_train_fit(NULL, ex, 4, NULL, "v", err, sizeof err));
    cr_expect(strstr(err, "training example 2: label 7") != NULL, "%s", err);
    ex[2].label = 0;

    ex[3].features.items[0].value = INFINITY;
    cr_expect_null(lm_train_fit(NULL, ex, 4, NULL, "v", err, sizeof err));
    cr_expect(strstr(err, "not finite") != NULL, "%s", err);
    ex[3].features.items[0].value = 1.0;

    /* the feature dictionary holds LM_TRAIN_MAX_FEATURES names, bias
     * included: 9 examples of 60 new names each overflow it at f511 */
    {
        static lm_train_example many[9];
        char name[16];

        for (i = 0; i < 540; i++) {
            if (i % 60 == 0) {
                lm_model_features_init(&many[i / 60].features);
                many[i / 60].label = (int)((i / 60) & 1);
            }
            snprintf(name, sizeof name, "f%zu", i);
            cr_assert_eq(
                lm_model_features_add(&many[i / 60].features, name, 1.0), 0);
        }
        cr_expect_null(lm_train_fit(NULL, many, 9, NULL, "v", err, sizeof err));
        cr_expect(strstr(err, "more than 512 distinct features (at \"f511\" "
                              "in example 8)") != NULL,
                  "%s", err);
    }

    /* separable data still converges under L2; base NULL: the default's
     * numeric attributes */
    m = lm_train_fit(NULL, ex, 4, NULL, "v", err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    cr_expect_gt(weight(m, "title=vp"), 0.0);
    cr_expect_eq(lm_model_n_numeric_attributes(m), 4);
    lm_model_free(m);
}
