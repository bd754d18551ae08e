/* lm_model_internal.h — what the files of the model module share; not for
 * use outside common/domain/lm_model*.c (the contract is lm_model.h).
 *
 * The module's files, one job each:
 *   lm_model.c          the model in memory: weights, their index, the
 *                       builder, getters, scoring
 *   lm_model_file.c     the model file: JSON in (parse, load), JSON out
 *                       (to_json, save)
 *   lm_model_features.c a lead's features, title seniority
 * The built-in default is config/model.json, compiled in at build time
 * (lm_model_default_json; see common/CMakeLists.txt).
 *
 * Layout of a model: the weight values in file order, an lm_strmap from
 * weight name to its index in that order (its keys, in insertion order,
 * are the weight names), and the numeric attribute keys with their
 * precomputed "attr:<key>" feature names. Every string is owned by the
 * model; lm_model_free frees them all. A model is never changed once
 * built, so threads share it without locks (and the map's key pointers
 * stay valid: no put follows the build). */
#ifndef LM_MODEL_INTERNAL_H
#define LM_MODEL_INTERNAL_H

#include "lm_model.h"
#include "lm_strmap.h"

#include <stddef.h>

#define LM_MODEL_ATTR_PREFIX "attr:"

struct lm_model {
    char *version;
    char *description;    /* NULL when the file has none */
    char **attrs;         /* numeric attribute keys, file order */
    char **attr_features; /* "attr:<key>", same order */
    size_t n_attrs;
    lm_strmap *index; /* weight name -> position in weights, file order */
    double *weights;
    size_t n_weights;
    size_t cap_weights;
};

/* An empty model (no version, no weights); NULL when out of memory.
 * Free with lm_model_free. */
lm_model *lm_model_alloc(void);
/* A heap copy of s; NULL when out of memory. */
char *lm_model_strdup(const char *s);
/* Is s free of ASCII control characters? */
int lm_model_printable(const char *s);

/* Append a numeric attribute key (the caller checked it). 0, or -1 when
 * out of memory. */
int lm_model_add_attr(lm_model *m, const char *key);
/* Append a weight (the caller checked name and value). 0, -1 when out of
 * memory, -2 when the name is already there. */
int lm_model_add_weight(lm_model *m, const char *name, double w);
/* The index of weight `name`, or -1. */
int32_t lm_model_find(const lm_model *m, const char *name);
/* 1 when some lead can produce feature `name` under m (bias,
 * log_company_size, a title seniority, a region, a lower-case source, an
 * attribute listed in m's numeric_attributes), else 0 with *hint the
 * closest name that can (NULL when none is close). lm_model_features.c. */
int lm_model_feature_known(const lm_model *m, const char *name,
                           const char **hint);

#endif
