/* fuzz_model.c — the model file (JSON): bytes → lm_model_parse.
 *
 * Invariants: a refused file gets an error; a loaded model has "bias",
 * finite weights, scores a lead to a probability, and round-trips: its
 * lm_model_to_json parses back to a model with the same weights. */
#include "fuzz.h"

#include "lm_model.h"

#include <math.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

static void score_a_lead(const lm_model *m) {
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    Lastmile__V1__LeadAccepted__AttributesEntry e =
        LASTMILE__V1__LEAD_ACCEPTED__ATTRIBUTES_ENTRY__INIT;
    Lastmile__V1__LeadAccepted__AttributesEntry *ep = &e;
    /* an attribute under each numeric key the model names */
    l.title = (char *)"VP of Sales";
    l.source = (char *)"web_form";
    l.company_size = 120;
    l.n_attributes = 1;
    l.attributes = &ep;
    e.value = (char *)"7";
    size_t n = lm_model_n_numeric_attributes(m);
    for (size_t i = 0; i <= n; i++) {
        e.key = (char *)(i < n ? lm_model_numeric_attribute(m, i) : "x");
        lm_features f;
        lm_model_features(m, &l, "EMEA", &f);
        double score = -1;
        lm_reason top[3];
        size_t k = lm_model_score(m, &f, &score, top, 3);
        fuzz_check(score >= 0 && score <= 1 && !isnan(score),
                   "score is not a probability");
        fuzz_check(k <= 3, "too many reasons");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > FUZZ_MAX_INPUT)
        return 0;
    char err[512];
    err[0] = '\0';
    lm_model *m =
        lm_model_parse((const char *)data, size, "fuzz.json", err, sizeof(err));
    if (!m) {
        fuzz_check(err[0], "model refused without an error");
        return 0;
    }
    double w;
    fuzz_check(lm_model_weight(m, "bias", &w) == 0 && isfinite(w),
               "loaded model without a finite bias");
    size_t nw = lm_model_n_weights(m);
    for (size_t i = 0; i < nw; i++) {
        const char *name;
        fuzz_check(lm_model_weight_at(m, i, &name, &w) == 0 && name &&
                       isfinite(w),
                   "weight without a name or not finite");
    }
    score_a_lead(m);
    char *json = lm_model_to_json(m);
    fuzz_check(json != NULL, "to_json failed");
    lm_model *back =
        lm_model_parse(json, strlen(json), "round-trip", err, sizeof(err));
    if (!back)
        fprintf(stderr, "round trip refused: %s\n%s\n", err, json);
    fuzz_check(back != NULL, "to_json output does not parse back");
    fuzz_check(lm_model_n_weights(back) == nw, "round trip lost weights");
    for (size_t i = 0; i < nw; i++) {
        const char *name;
        double w1, w2;
        lm_model_weight_at(m, i, &name, &w1);
        fuzz_check(lm_model_weight(back, name, &w2) == 0 && w1 == w2,
                   "round trip changed a weight");
    }
    lm_model_free(back);
    free(json);
    lm_model_free(m);
    return 0;
}
