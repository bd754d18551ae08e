/* test_model.c — unit tests of lm_model: title seniority, feature
 * extraction, scoring and reasons, every model-file error and the default
 * model (file == embedded, a plausible spread of scores). Training is in
 * test_model_train.c; the shared helpers in model_testutil.h.
 *
 * Pure code: no broker, no Redis, no clock. Randomness comes from a seeded
 * splitmix64, so every run sees the same examples. Each test owns what it
 * allocates and frees it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lm_model.h"
#include "model_testutil.h"

#define LM_TEST_MIX_N 20000

/* ------------------------------------------------------------ seniority */

Test(model, title_seniority_table) {
    static const struct {
        const char *title;
        lm_model_seniority want;
    } cases[] = {
        {NULL, LM_MODEL_SENIORITY_UNKNOWN},
        {"", LM_MODEL_SENIORITY_UNKNOWN},
        {"   ", LM_MODEL_SENIORITY_UNKNOWN},
        {" - / & ", LM_MODEL_SENIORITY_UNKNOWN},
        {"CEO", LM_MODEL_SENIORITY_C_LEVEL},
        {"cto", LM_MODEL_SENIORITY_C_LEVEL},
        {"CFO", LM_MODEL_SENIORITY_C_LEVEL},
        {"COO", LM_MODEL_SENIORITY_C_LEVEL},
        {"CMO", LM_MODEL_SENIORITY_C_LEVEL},
        {"CRO", LM_MODEL_SENIORITY_C_LEVEL},
        {"Chief Revenue Officer", LM_MODEL_SENIORITY_C_LEVEL},
        {"Founder", LM_MODEL_SENIORITY_C_LEVEL},
        {"Co-Founder & CEO", LM_MODEL_SENIORITY_C_LEVEL},
        {"Owner", LM_MODEL_SENIORITY_C_LEVEL},
        {"President", LM_MODEL_SENIORITY_C_LEVEL},
        {"CTO / VP Engineering", LM_MODEL_SENIORITY_C_LEVEL},
        {"Vice President, Marketing", LM_MODEL_SENIORITY_VP},
        {"vice-president of sales", LM_MODEL_SENIORITY_VP},
        {"VP Sales", LM_MODEL_SENIORITY_VP},
        {"SVP Operations", LM_MODEL_SENIORITY_VP},
        {"EVP", LM_MODEL_SENIORITY_VP},
        {"Head of Growth", LM_MODEL_SENIORITY_VP},
        {"HEAD OF PEOPLE", LM_MODEL_SENIORITY_VP},
        {"Senior Director of Sales", LM_MODEL_SENIORITY_DIRECTOR},
        {"director", LM_MODEL_SENIORITY_DIRECTOR},
        {"Sales Manager", LM_MODEL_SENIORITY_MANAGER},
        {"Team Lead", LM_MODEL_SENIORITY_MANAGER},
        {"Customer Support Supervisor", LM_MODEL_SENIORITY_MANAGER},
        {"Software Engineer", LM_MODEL_SENIORITY_INDIVIDUAL},
        {"Account Executive", LM_MODEL_SENIORITY_INDIVIDUAL},
        {"Head Chef", LM_MODEL_SENIORITY_INDIVIDUAL},
        {"Product Owner", LM_MODEL_SENIORITY_INDIVIDUAL},
        {"Executive Assistant to the CEO", LM_MODEL_SENIORITY_INDIVIDUAL},
        {"Chiefly harmless", LM_MODEL_SENIORITY_INDIVIDUAL}, /* word-based */
        {"Directorate liaison", LM_MODEL_SENIORITY_INDIVIDUAL},
        {"Supercalifragilisticexpialidocious Manager",
         LM_MODEL_SENIORITY_MANAGER},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lm_model_seniority got = lm_model_title_seniority(cases[i].title);

        cr_expect_eq(got, cases[i].want, "title \"%s\": got %s, want %s",
                     cases[i].title ? cases[i].title : "(null)",
                     lm_model_seniority_name(got),
                     lm_model_seniority_name(cases[i].want));
    }
    cr_expect_str_eq(lm_model_seniority_name(LM_MODEL_SENIORITY_C_LEVEL),
                     "c_level");
    cr_expect_str_eq(lm_model_seniority_name(LM_MODEL_SENIORITY_UNKNOWN),
                     "unknown");
}

/* ------------------------------------------------------------ features */

static const char *const attr_model_json =
    "{\"format\": \"lastmile-logistic-v1\", \"version\": \"t1\","
    " \"numeric_attributes\": [\"pages_viewed\", \"demo_requested\","
    " \"emails_opened\"],"
    " \"weights\": {\"bias\": -2.1, \"log_company_size\": 0.3,"
    " \"title=vp\": 1.1, \"source=referral\": 0.9, \"region=EMEA\": -0.2,"
    " \"source=ads\": 0.0, \"attr:pages_viewed\": 0.4,"
    " \"attr:demo_requested\": 1.7, \"source=purchased_list\": 5.0}}";

Test(model, features_of_a_full_lead) {
    lm_model *m = parse_ok(attr_model_json);
    test_lead t;
    lm_features f;
    static const struct {
        const char *name;
        double value;
    } want[] = {
        {"bias", 1.0},
        {"log_company_size", 0}, /* log1p(99), filled below */
        {"title=vp", 1.0},
        {"source=referral", 1.0},
        {"region=EMEA", 1.0},
        {"attr:pages_viewed", 0},   /* log1p(9) */
        {"attr:demo_requested", 0}, /* log1p(1) */
    };
    double values[sizeof want / sizeof want[0]];
    size_t i;

    lead_init(&t, "ReFerral", "VP Sales", 99);
    lead_attr(&t, "pages_viewed", "9");
    lead_attr(&t, "demo_requested", "1");
    lead_attr(&t, "emails_opened", "lots"); /* non-numeric: 0, absent */
    lead_attr(&t, "unlisted", "12");        /* not in the model: ignored */
    lm_model_features(m, &t.lead, "emea", &f);

    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        values[i] = want[i].value;
    }
    values[1] = log1p(99.0);
    values[5] = log1p(9.0);
    values[6] = log1p(1.0);
    cr_assert_eq(f.n, sizeof want / sizeof want[0], "n = %zu", f.n);
    for (i = 0; i < f.n; i++) {
        cr_expect_str_eq(lm_model_features_name(&f, i), want[i].name);
        cr_expect_str_eq(f.items[i].name, want[i].name);
        cr_expect_eq(f.items[i].value, values[i], "%s = %.17g", want[i].name,
                     f.items[i].value);
    }
    lm_model_free(m);
}

Test(model, features_edge_cases) {
    lm_model *m = parse_ok(attr_model_json);
    static const struct {
        const char *value;
        double want; /* NAN: no feature */
    } attrs[] = {
        {"3", 3.0},    {" 3 ", 3.0},     {"2.5", 2.5}, {"1e1", 10.0},
        {"0", NAN},    {"-4", NAN},      {"nan", NAN}, {"inf", NAN},
        {"0x10", NAN}, {"7 pages", NAN}, {"", NAN},    {"1e999", NAN},
        {"true", NAN},
    };
    static const struct {
        const char *region;
        const char *want;
    } regions[] = {
        {"NA", "region=NA"},       {"emea", "region=EMEA"},
        {"Apac", "region=APAC"},   {"LATAM", "region=LATAM"},
        {"OTHER", "region=OTHER"}, {"", "region=OTHER"},
        {NULL, "region=OTHER"},    {"Mars", "region=OTHER"},
    };
    char long_source[LM_MODEL_MAX_SOURCE_LEN + 2];
    test_lead t;
    lm_features f, copy;
    size_t i;

    for (i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        double got;

        lead_init(&t, "ads", "", 0);
        lead_attr(&t, "pages_viewed", attrs[i].value);
        lm_model_features(m, &t.lead, "NA", &f);
        got = feature_value(&f, "attr:pages_viewed");
        if (isnan(attrs[i].want)) {
            cr_expect(isnan(got), "pages_viewed \"%s\": got %g", attrs[i].value,
                      got);
        } else {
            cr_expect_eq(got, log1p(attrs[i].want),
                         "pages_viewed \"%s\": got %g", attrs[i].value, got);
        }
    }
    for (i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        lead_init(&t, "ads", "", 0);
        lm_model_features(m, &t.lead, regions[i].region, &f);
        cr_expect_eq(feature_value(&f, regions[i].want), 1.0, "region %s",
                     regions[i].region ? regions[i].region : "(null)");
    }

    /* unknown size and empty title; no model: no attr: features */
    lead_init(&t, "Web_Form", "", 0);
    lead_attr(&t, "pages_viewed", "5");
    lm_model_features(NULL, &t.lead, NULL, &f);
    cr_expect_eq(f.n, 4);
    cr_expect(isnan(feature_value(&f, "log_company_size")));
    cr_expect_eq(feature_value(&f, "title=unknown"), 1.0);
    cr_expect_eq(feature_value(&f, "source=web_form"), 1.0);
    cr_expect(isnan(feature_value(&f, "attr:pages_viewed")));

    /* empty and over-long sources emit no source feature */
    lead_init(&t, "", "CEO", -5);
    lm_model_features(m, &t.lead, "NA", &f);
    cr_expect_eq(f.n, 3, "bias, title, region; n = %zu", f.n);
    memset(long_source, 'x', sizeof long_source - 1);
    long_source[sizeof long_source - 1] = '\0';
    lead_init(&t, long_source, "CEO", 10);
    lm_model_features(m, &t.lead, "NA", &f);
    cr_expect_eq(f.n, 4, "bias, size, title, region; n = %zu", f.n);

    /* NULL lead: nothing */
    lm_model_features(m, NULL, "NA", &f);
    cr_expect_eq(f.n, 0);

    /* a plain struct copy keeps its names once the original is gone */
    lead_init(&t, "Referral", "VP", 0);
    lm_model_features(m, &t.lead, "NA", &f);
    copy = f;
    memset(&f, 0, sizeof f);
    cr_expect_str_eq(lm_model_features_name(&copy, 2), "source=referral");
    lm_model_features_copy(&f, &copy);
    memset(&copy, 0xff, sizeof copy);
    cr_expect_str_eq(f.items[2].name, "source=referral");

    /* hand-made features */
    lm_model_features_init(&f);
    cr_expect_eq(lm_model_features_add(&f, "title=vp", 1.0), 0);
    cr_expect_eq(lm_model_features_add(&f, "", 1.0), -1);
    cr_expect_eq(lm_model_features_add(&f, "x", NAN), -1);
    cr_expect_eq(lm_model_features_add(&f, long_source, 1.0), 0);
    cr_expect_eq(f.n, 2);
    lm_model_free(m);
}

/* ------------------------------------------------------------ scoring */

Test(model, score_and_reasons_by_hand) {
    lm_model *m = parse_ok(attr_model_json);
    test_lead t;
    lm_features f;
    lm_reason top[10];
    double score, z, want_score;
    size_t n, i;
    /* contributions w * x, strongest first, bias excluded; source=ads would
     * be zero and source=purchased_list does not fire for this lead */
    const struct {
        const char *feature;
        double contribution;
    } want[] = {
        {"log_company_size", 0.3 * log1p(99.0)},   /* 1.3815 */
        {"attr:demo_requested", 1.7 * log1p(1.0)}, /* 1.1783 */
        {"title=vp", 1.1},
        {"attr:pages_viewed", 0.4 * log1p(9.0)}, /* 0.9210 */
        {"source=referral", 0.9},
        {"region=EMEA", -0.2},
    };

    lead_init(&t, "referral", "Vice President of Sales", 99);
    lead_attr(&t, "pages_viewed", "9");
    lead_attr(&t, "demo_requested", "1");
    lm_model_features(m, &t.lead, "EMEA", &f);

    z = -2.1;
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        z += want[i].contribution;
    }
    want_score = 1.0 / (1.0 + exp(-z));

    n = lm_model_score(m, &f, &score, top, 10);
    cr_expect(fabs(score - want_score) < 1e-12, "score %.17g, want %.17g",
              score, want_score);
    cr_assert_eq(n, sizeof want / sizeof want[0], "n = %zu", n);
    for (i = 0; i < n; i++) {
        cr_expect_str_eq(top[i].feature, want[i].feature);
        cr_expect(fabs(top[i].contribution - want[i].contribution) < 1e-12,
                  "%s: %.17g, want %.17g", want[i].feature, top[i].contribution,
                  want[i].contribution);
    }

    /* fewer reasons than features; no reasons; no score */
    cr_expect_eq(lm_model_score(m, &f, &score, top, 2), 2);
    cr_expect_str_eq(top[1].feature, "attr:demo_requested");
    cr_expect_eq(lm_model_score(m, &f, &score, NULL, 0), 0);
    cr_expect(fabs(score - want_score) < 1e-12);
    cr_expect_eq(lm_model_score(m, &f, NULL, top, 1), 1);

    /* a lead with only zero and unknown weights gets sigmoid(bias) */
    lead_init(&t, "ads", "", 0);
    lm_model_features(m, &t.lead, "Mars", &f);
    cr_expect_eq(lm_model_score(m, &f, &score, top, 10), 0);
    cr_expect(fabs(score - 1.0 / (1.0 + exp(2.1))) < 1e-12);
    lm_model_free(m);
}

Test(model, lookup_accessors) {
    lm_model *m = parse_ok(attr_model_json);
    const char *name = NULL;
    double w = 1.0;

    cr_expect_str_eq(lm_model_version(m), "t1");
    cr_expect_eq(lm_model_weight(m, "title=vp", &w), 0);
    cr_expect_eq(w, 1.1);
    cr_expect_eq(lm_model_weight(m, "title=nope", &w), -1);
    cr_expect_eq(w, 0.0);
    cr_expect_eq(lm_model_n_weights(m), 9);
    cr_expect_eq(lm_model_weight_at(m, 0, &name, &w), 0);
    cr_expect_str_eq(name, "bias");
    cr_expect_eq(lm_model_weight_at(m, 9, &name, &w), -1);
    cr_expect_eq(lm_model_n_numeric_attributes(m), 3);
    cr_expect_str_eq(lm_model_numeric_attribute(m, 1), "demo_requested");
    cr_expect_null(lm_model_numeric_attribute(m, 3));
    lm_model_free(m);
    lm_model_free(NULL);
}

/* ------------------------------------------------------------ load errors */

#define HEAD "{\"format\": \"lastmile-logistic-v1\", \"version\": \"v\", "

Test(model, load_errors) {
    static const struct {
        const char *json;
        const char *want1; /* substrings the message must contain */
        const char *want2;
    } cases[] = {
        {"", "bad.json: the model file is empty", "fix:"},
        {" \n\t", "the model file is empty", "built-in default"},
        {"{\"format\": \"lastmile-logistic-v1\",\n \"version\": \"v\"\n"
         " \"weights\": {\"bias\": 1}}",
         "bad.json:3:", "invalid JSON"},
        {"{\"format\": \"lastmile-logistic-v1\", \"version\": \"v\",\n"
         " \"weights\": {\"bias\": 1, \"bias\": 2}}",
         "bad.json:2:", "remove the duplicate key"},
        {HEAD "\"weights\": {\"bias\": 1e999}}",
         "bad.json:1:", "finite numbers"},
        {HEAD "\"weights\": {\"bias\": 1}", "bad.json:1:", "ends early"},
        {"[1, 2]", "the top level is an array", "fix:"},
        {"{\"version\": \"v\", \"weights\": {\"bias\": 1}}",
         "missing \"format\"", "\"format\": \"lastmile-logistic-v1\""},
        {"{\"format\": \"lastmile-logistic-v2\", \"version\": \"v\", "
         "\"weights\": {\"bias\": 1}}",
         "\"format\" is \"lastmile-logistic-v2\"", "fix: set \"format\""},
        {"{\"format\": 1, \"version\": \"v\", \"weights\": {\"bias\": 1}}",
         "\"format\" is a number", "fix:"},
        {"{\"format\": \"lastmile-logistic-v1\", \"weights\": {\"bias\": 1}}",
         "missing \"version\"", "fix: add a version"},
        {"{\"format\": \"lastmile-logistic-v1\", \"version\": 3, "
         "\"weights\": {\"bias\": 1}}",
         "\"version\" is a number", "fix:"},
        {"{\"format\": \"lastmile-logistic-v1\", \"version\": \"\", "
         "\"weights\": {\"bias\": 1}}",
         "\"version\" is empty", "fix:"},
        {"{\"format\": \"lastmile-logistic-v1\", \"version\": \"v\"}",
         "missing \"weights\"", "fix:"},
        {HEAD "\"weights\": [1]}", "\"weights\" is an array", "fix:"},
        {HEAD "\"weights\": {\"title=vp\": 1}}", "has no \"bias\"",
         "fix: add the intercept"},
        {HEAD "\"weights\": {\"bias\": 1, \"title=vp\": \"high\"}}",
         "weights[\"title=vp\"] is a string, not a finite number",
         "fix: write a number"},
        {HEAD "\"weights\": {\"bias\": null}}",
         "weights[\"bias\"] is null, not a finite number", "fix:"},
        {HEAD "\"weights\": {\"bias\": true}}",
         "weights[\"bias\"] is a boolean", "fix:"},
        {HEAD "\"weights\": {\"bias\": 1, \"\": 2}}", "is empty or longer",
         "fix:"},
        {HEAD "\"weights\": {\"bias\": 1, \"title=0123456789012345678901234"
              "5678901234567890123456789012345678901\": 2}}",
         "is empty or longer than 63 bytes", "fix:"},
        {HEAD "\"weight\": {\"bias\": 1}}", "unknown key \"weight\"",
         "fix: remove it or correct its spelling"},
        {HEAD "\"numeric_attributes\": \"pages_viewed\", "
              "\"weights\": {\"bias\": 1}}",
         "\"numeric_attributes\" is a string", "fix:"},
        {HEAD "\"numeric_attributes\": [\"a\", 7], \"weights\": {\"bias\": 1}}",
         "numeric_attributes[1] is a number", "fix:"},
        {HEAD "\"numeric_attributes\": [\"a\", \"a\"], "
              "\"weights\": {\"bias\": 1}}",
         "lists \"a\" twice", "fix: remove the duplicate"},
        {HEAD "\"numeric_attributes\": [\"\"], \"weights\": {\"bias\": 1}}",
         "numeric_attributes[0] \"\" is empty", "fix:"},
        {HEAD "\"description\": 5, \"weights\": {\"bias\": 1}}",
         "\"description\" is a number", "fix:"},
        /* weights that would quietly never fire, or overflow a score */
        {HEAD "\"weights\": {\"bias\": 1, \"titel=vp\": 1}}",
         "weights[\"titel=vp\"] is not a feature any lead has (did you mean "
         "\"title=vp\"?)",
         "fix: use bias, log_company_size, title=<"},
        {HEAD "\"weights\": {\"bias\": 1, \"region=EU\": 1}}",
         "weights[\"region=EU\"] is not a feature any lead has", "fix:"},
        {HEAD "\"weights\": {\"bias\": 1, \"source=Web\": 1}}",
         "weights[\"source=Web\"] is not a feature any lead has",
         "source=<lower-case source>"},
        {HEAD "\"numeric_attributes\": [\"pages\"], "
              "\"weights\": {\"bias\": 1, \"attr:visits\": 1}}",
         "weighs attribute \"visits\", which is not in "
         "\"numeric_attributes\"",
         "fix: add \"visits\" to numeric_attributes, or remove the weight"},
        {HEAD "\"numeric_attributes\": [\"a\", \"b\"], \"weights\": "
              "{\"bias\": 0, \"attr:a\": 1e308, \"attr:b\": -1e308}}",
         "weights[\"attr:a\"] is 1e+308, outside -100..100",
         "fix: a weight is in logits"},
    };
    char err[LM_TEST_ERRSZ];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lm_model *m;

        err[0] = '\0';
        m = lm_model_parse(cases[i].json, strlen(cases[i].json), "bad.json",
                           err, sizeof err);
        cr_expect_null(m, "case %zu parsed: %s", i, cases[i].json);
        lm_model_free(m);
        cr_expect(strncmp(err, "bad.json", 8) == 0,
                  "case %zu: message does not name the file: %s", i, err);
        cr_expect(strstr(err, cases[i].want1) != NULL,
                  "case %zu: \"%s\" not in: %s", i, cases[i].want1, err);
        cr_expect(strstr(err, cases[i].want2) != NULL,
                  "case %zu: \"%s\" not in: %s", i, cases[i].want2, err);
        cr_expect(strstr(err, "fix:") != NULL, "case %zu: no fix: %s", i, err);
    }

    /* a name for the source is optional; an unnamed one still says where */
    cr_expect_null(lm_model_parse("{", 1, NULL, err, sizeof err));
    cr_expect(strncmp(err, "<model>:1:", 10) == 0, "%s", err);

    /* sources are open-ended: any lower-case one may have a weight */
    lm_model_free(parse_ok(
        HEAD "\"weights\": {\"bias\": -1, \"source=trade_show\": 2}}"));

    /* a content error names the line of its key */
    const char *lines = "{\n  \"format\": \"lastmile-logistic-v1\",\n"
                        "  \"version\": \"v\",\n  \"weights\": {\n"
                        "    \"bias\": 1,\n    \"titel=vp\": 2\n  }\n}\n";
    cr_expect_null(
        lm_model_parse(lines, strlen(lines), "m.json", err, sizeof err));
    cr_expect(strncmp(err, "m.json:6: weights[\"titel=vp\"]", 29) == 0, "%s",
              err);
}

Test(model, load_file_errors) {
    char path[] = "/tmp/lm_model_test_XXXXXX";
    char err[LM_TEST_ERRSZ] = "";
    const char *bad =
        "{\n  \"format\": \"lastmile-logistic-v1\",\n"
        "  \"version\": \"v\",\n  \"weights\": {\"bias\": 1,}\n}\n";
    char want[sizeof path + 8];
    int fd = mkstemp(path);
    lm_model *m;

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    m = lm_model_load(path, err, sizeof err);
    cr_expect_null(m);
    snprintf(want, sizeof want, "%s:4:", path);
    cr_expect(strncmp(err, want, strlen(want)) == 0, "want %s...: %s", want,
              err);
    unlink(path);

    m = lm_model_load("/nonexistent/lm/model.json", err, sizeof err);
    cr_expect_null(m);
    cr_expect(strstr(err, "/nonexistent/lm/model.json: cannot open model "
                          "file") != NULL,
              "%s", err);
    cr_expect(strstr(err, "fix:") != NULL, "%s", err);
}

/* ------------------------------------------------------------ default */

Test(model, builtin_loads_for_no_path) {
    char err[LM_TEST_ERRSZ] = "";
    lm_model *builtin = lm_model_load(NULL, err, sizeof err);
    lm_model *empty = lm_model_load("", err, sizeof err);
    char *json;

    cr_assert_not_null(builtin, "%s", err);
    cr_assert_not_null(empty, "%s", err);
    cr_expect_str_eq(lm_model_version(builtin), "2026-11-25.default");
    cr_expect_str_eq(lm_model_version(empty), "2026-11-25.default");
    /* the embedded bytes are a text: NUL-terminated, no NUL inside */
    cr_expect_eq(strlen(lm_model_default_json), lm_model_default_json_len);
    /* config/model.json is in the canonical form lm_model_save writes */
    json = lm_model_to_json(builtin);
    cr_assert_not_null(json);
    cr_expect_str_eq(json, lm_model_default_json);
    free(json);
    lm_model_free(builtin);
    lm_model_free(empty);
}

/* lm_model_new checks what a model file's content is checked for. */
Test(model, new_from_parts) {
    static const char *const attrs[] = {"pages_viewed", "demo_requested"};
    static const char *const names[] = {"bias", "title=vp", "attr:x"};
    const double weights[] = {-2.0, 1.5, 0.25};
    const double bad_w[] = {-2.0, INFINITY, 0.25};
    static const char *const dup[] = {"bias", "title=vp", "title=vp"};
    static const char *const no_bias[] = {"a", "b", "c"};
    char err[LM_TEST_ERRSZ] = "";
    const char *name = NULL;
    double w = 0.0;
    lm_model *m =
        lm_model_new("v1", attrs, 2, names, weights, 3, err, sizeof err);

    cr_assert_not_null(m, "%s", err);
    cr_expect_str_eq(lm_model_version(m), "v1");
    cr_expect_eq(lm_model_n_weights(m), 3);
    cr_expect_eq(lm_model_weight_at(m, 2, &name, &w), 0);
    cr_expect_str_eq(name, "attr:x");
    cr_expect_eq(w, 0.25);
    cr_expect_eq(lm_model_weight(m, "title=vp", &w), 0);
    cr_expect_eq(w, 1.5);
    cr_expect_str_eq(lm_model_numeric_attribute(m, 1), "demo_requested");
    lm_model_free(m);

    cr_expect_null(
        lm_model_new("", attrs, 2, names, weights, 3, err, sizeof err));
    cr_expect(strstr(err, "version is empty") != NULL, "%s", err);
    cr_expect_null(
        lm_model_new("v", attrs, 2, dup, weights, 3, err, sizeof err));
    cr_expect(strstr(err, "\"title=vp\" has two weights") != NULL, "%s", err);
    cr_expect_null(
        lm_model_new("v", attrs, 2, no_bias, weights, 3, err, sizeof err));
    cr_expect(strstr(err, "no \"bias\"") != NULL, "%s", err);
    cr_expect_null(
        lm_model_new("v", attrs, 2, names, bad_w, 3, err, sizeof err));
    cr_expect(strstr(err, "\"title=vp\" is not finite") != NULL, "%s", err);
    cr_expect_null(
        lm_model_new("v", dup + 1, 2, names, weights, 3, err, sizeof err));
    cr_expect(strstr(err, "listed twice") != NULL, "%s", err);
}

Test(model, default_is_a_plausible_b2b_prior) {
    lm_model *m = lm_model_load(NULL, NULL, 0);

    cr_assert_not_null(m);
    cr_expect_gt(weight(m, "title=c_level"), weight(m, "title=director"));
    cr_expect_gt(weight(m, "title=vp"), weight(m, "title=manager"));
    cr_expect_gt(weight(m, "title=director"), weight(m, "title=manager"));
    cr_expect_gt(weight(m, "title=manager"), weight(m, "title=individual"));
    cr_expect_gt(weight(m, "title=individual"), weight(m, "title=unknown"));
    cr_expect_gt(weight(m, "log_company_size"), 0.0);
    cr_expect_gt(weight(m, "attr:demo_requested"), 1.5);
    cr_expect_gt(weight(m, "source=referral"), weight(m, "source=web_form"));
    cr_expect_gt(weight(m, "source=web_form"),
                 weight(m, "source=purchased_list"));
    cr_expect_lt(weight(m, "source=purchased_list"), 0.0);
    lm_model_free(m);
}

/* A realistic mix of inbound B2B leads (frequencies as seen in typical
 * funnels): most from web forms and ads, few referrals, mostly individual
 * contributors and managers, company sizes log-uniform to 20,000. */
static const char *pick(test_rng *r, const char *const *v, const double *p,
                        size_t n) {
    double u = rng_unit(r), acc = 0.0;
    size_t i;

    for (i = 0; i < n; i++) {
        acc += p[i];
        if (u < acc) {
            return v[i];
        }
    }
    return v[n - 1];
}

static void realistic_lead(test_rng *r, test_lead *t, const char **region) {
    static const char *const sources[] = {
        "web_form", "ads",   "purchased_list", "crm",
        "referral", "event", "webinar",        "partner"};
    static const double source_p[] = {.30, .20, .15, .10, .08, .07, .05, .05};
    static const char *const titles[] = {"Software Engineer",
                                         "Marketing Manager",
                                         "Director of IT",
                                         "VP Sales",
                                         "CEO",
                                         ""};
    static const double title_p[] = {.35, .25, .12, .08, .08, .12};
    static const char *const regions[] = {"NA", "EMEA", "APAC", "LATAM",
                                          "OTHER"};
    static const double region_p[] = {.40, .30, .15, .10, .05};
    char v[32];
    int size = 0;

    if (rng_unit(r) >= 0.10) {
        size = (int)exp(rng_unit(r) * log(20000.0));
    }
    lead_init(t, pick(r, sources, source_p, 8), pick(r, titles, title_p, 6),
              size);
    *region = pick(r, regions, region_p, 5);
    snprintf(v, sizeof v, "%d", (int)(-4.0 * log(1.0 - rng_unit(r))));
    lead_attr(t, "pages_viewed", v);
    snprintf(v, sizeof v, "%d", (int)(-2.0 * log(1.0 - rng_unit(r))));
    lead_attr(t, "emails_opened", v);
    lead_attr(t, "demo_requested", rng_unit(r) < 0.10 ? "1" : "0");
    lead_attr(t, "webinar_attended", rng_unit(r) < 0.15 ? "1" : "0");
}

Test(model, default_spreads_a_realistic_mix) {
    lm_model *m = lm_model_load(NULL, NULL, 0);
    test_rng r = {42};
    size_t i, hi = 0, lo = 0;

    cr_assert_not_null(m);
    for (i = 0; i < LM_TEST_MIX_N; i++) {
        test_lead t;
        lm_features f;
        const char *region;
        double s;

        realistic_lead(&r, &t, &region);
        lm_model_features(m, &t.lead, region, &f);
        lm_model_score(m, &f, &s, NULL, 0);
        hi += s > 0.55;
        lo += s < 0.25;
    }
    /* roughly 30% each side */
    cr_expect(hi > LM_TEST_MIX_N * 0.25 && hi < LM_TEST_MIX_N * 0.35,
              "above 0.55: %zu of %d", hi, LM_TEST_MIX_N);
    cr_expect(lo > LM_TEST_MIX_N * 0.25 && lo < LM_TEST_MIX_N * 0.35,
              "below 0.25: %zu of %d", lo, LM_TEST_MIX_N);
    lm_model_free(m);
}
