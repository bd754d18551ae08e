/* model_testutil.h — helpers shared by the lm_model unit tests
 * (test_model.c, test_model_train.c): a seeded splitmix64, a lead with
 * storage for its attributes, parse-or-fail and the lookups of a feature
 * value and a weight. Header-only (static inline): each test binary gets
 * its own copy, nothing is shared between binaries. Single-threaded, as
 * the tests are; every helper that can fail asserts. */
#ifndef LM_MODEL_TESTUTIL_H
#define LM_MODEL_TESTUTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lm_model.h"

#define LM_TEST_ERRSZ     512
#define LM_TEST_MAX_ATTRS 8

typedef struct test_rng {
    uint64_t s;
} test_rng;

static inline uint64_t rng_next(test_rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double rng_unit(test_rng *r) {
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static inline size_t rng_below(test_rng *r, size_t n) {
    return (size_t)(rng_unit(r) * (double)n);
}

/* A lead with storage for its attributes; set() fills it. */
typedef struct test_lead {
    Lastmile__V1__LeadAccepted lead;
    Lastmile__V1__LeadAccepted__AttributesEntry entries[LM_TEST_MAX_ATTRS];
    Lastmile__V1__LeadAccepted__AttributesEntry *ptrs[LM_TEST_MAX_ATTRS];
    char keys[LM_TEST_MAX_ATTRS][32];
    char values[LM_TEST_MAX_ATTRS][32];
} test_lead;

static inline void lead_init(test_lead *t, const char *source,
                             const char *title, int company_size) {
    Lastmile__V1__LeadAccepted init = LASTMILE__V1__LEAD_ACCEPTED__INIT;

    t->lead = init;
    t->lead.source = (char *)source;
    t->lead.title = (char *)title;
    t->lead.company_size = company_size;
    t->lead.n_attributes = 0;
    t->lead.attributes = t->ptrs;
}

static inline void lead_attr(test_lead *t, const char *key, const char *value) {
    Lastmile__V1__LeadAccepted__AttributesEntry init =
        LASTMILE__V1__LEAD_ACCEPTED__ATTRIBUTES_ENTRY__INIT;
    size_t i = t->lead.n_attributes;

    cr_assert_lt(i, LM_TEST_MAX_ATTRS);
    snprintf(t->keys[i], sizeof t->keys[i], "%s", key);
    snprintf(t->values[i], sizeof t->values[i], "%s", value);
    t->entries[i] = init;
    t->entries[i].key = t->keys[i];
    t->entries[i].value = t->values[i];
    t->ptrs[i] = &t->entries[i];
    t->lead.n_attributes++;
}

static inline lm_model *parse_ok(const char *json) {
    char err[LM_TEST_ERRSZ] = "";
    lm_model *m =
        lm_model_parse(json, strlen(json), "test.json", err, sizeof err);

    cr_assert_not_null(m, "parse failed: %s", err);
    return m;
}

/* The value of feature `name` in f, or NAN when absent. */
static inline double feature_value(const lm_features *f, const char *name) {
    size_t i;

    for (i = 0; i < f->n; i++) {
        if (strcmp(lm_model_features_name(f, i), name) == 0) {
            return f->items[i].value;
        }
    }
    return NAN;
}

/* The weight of name in m (the test fails when it is missing). */
static inline double weight(const lm_model *m, const char *name) {
    double w = 0.0;

    cr_assert_eq(lm_model_weight(m, name, &w), 0, "no weight \"%s\"", name);
    return w;
}

#endif
