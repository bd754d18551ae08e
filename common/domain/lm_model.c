/* lm_model.c — the qualification model in memory: its weights and their
 * index, the builder, the getters, and scoring (the hot path).
 *
 * The contract (features, file format, ownership, limits) is in
 * lm_model.h; the map of the module's files and the layout of a model in
 * lm_model_internal.h. The weight index is an lm_strmap built once and
 * only read after, so a model is shared by threads without locks.
 *
 * Hot path: lm_model_score() uses only the caller's lm_features, the
 * stack and the read-only model; it allocates nothing. */
#include "lm_model_internal.h"

#include "lm_fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the model */

lm_model *lm_model_alloc(void) {
    lm_model *m = calloc(1, sizeof(lm_model));

    if (m != NULL && (m->index = lm_strmap_new(0)) == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

char *lm_model_strdup(const char *s) {
    size_t len = strlen(s);
    char *p = malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len + 1);
    }
    return p;
}

void lm_model_free(lm_model *m) {
    size_t i;

    if (m == NULL) {
        return;
    }
    free(m->version);
    free(m->description);
    for (i = 0; i < m->n_attrs; i++) {
        free(m->attrs[i]);
        free(m->attr_features[i]);
    }
    free(m->attrs);
    free(m->attr_features);
    lm_strmap_free(m->index);
    free(m->weights);
    free(m);
}

int lm_model_add_attr(lm_model *m, const char *key) {
    size_t klen = strlen(key);
    size_t flen = sizeof(LM_MODEL_ATTR_PREFIX) - 1 + klen;
    char **attrs, **feats;
    char *a, *f;

    attrs = realloc(m->attrs, (m->n_attrs + 1) * sizeof(*attrs));
    if (attrs == NULL) {
        return -1;
    }
    m->attrs = attrs;
    feats = realloc(m->attr_features, (m->n_attrs + 1) * sizeof(*feats));
    if (feats == NULL) {
        return -1;
    }
    m->attr_features = feats;
    a = lm_model_strdup(key);
    f = malloc(flen + 1);
    if (a == NULL || f == NULL) {
        free(a);
        free(f);
        return -1;
    }
    memcpy(f, LM_MODEL_ATTR_PREFIX, sizeof(LM_MODEL_ATTR_PREFIX) - 1);
    memcpy(f + sizeof(LM_MODEL_ATTR_PREFIX) - 1, key, klen + 1);
    m->attrs[m->n_attrs] = a;
    m->attr_features[m->n_attrs] = f;
    m->n_attrs++;
    return 0;
}

int lm_model_add_weight(lm_model *m, const char *name, double w) {
    int created = 0;

    if (m->n_weights == m->cap_weights) {
        size_t cap = m->cap_weights ? m->cap_weights * 2 : 32;
        double *weights = realloc(m->weights, cap * sizeof(*weights));

        if (weights == NULL) {
            return -1;
        }
        m->weights = weights;
        m->cap_weights = cap;
    }
    if (lm_strmap_put_str(m->index, name, (int64_t)m->n_weights, &created) ==
        NULL) {
        return -1;
    }
    if (!created) {
        return -2;
    }
    m->weights[m->n_weights] = w;
    m->n_weights++;
    return 0;
}

int32_t lm_model_find(const lm_model *m, const char *name) {
    const int64_t *k = lm_strmap_get_str(m->index, name);

    return k != NULL ? (int32_t)*k : -1;
}

int lm_model_printable(const char *s) {
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int lm_model_check_version(const char *v, char *why, size_t whysz) {
    if (v == NULL || v[0] == '\0') {
        return lm_errf(why, whysz, "is empty");
    }
    if (strlen(v) > LM_MODEL_MAX_VERSION_LEN) {
        return lm_errf(why, whysz, "is longer than %d bytes",
                       LM_MODEL_MAX_VERSION_LEN);
    }
    if (!lm_model_printable(v)) {
        return lm_errf(why, whysz, "contains a control character");
    }
    return 0;
}

/* ------------------------------------------------------------ the builder */

/* The numeric attribute keys of lm_model_new, checked as a file's. */
static int build_attrs(lm_model *m, const char *const *attrs, size_t n,
                       char *err, size_t errsz) {
    size_t i;

    if (n > LM_MODEL_MAX_NUMERIC_ATTRS || (n > 0 && attrs == NULL)) {
        return lm_errf(err, errsz, "model: %zu numeric attributes; at most %d",
                       n, LM_MODEL_MAX_NUMERIC_ATTRS);
    }
    for (i = 0; i < n; i++) {
        const char *key = attrs[i];

        if (key == NULL || key[0] == '\0' ||
            strlen(key) > LM_MODEL_MAX_ATTR_KEY_LEN ||
            !lm_model_printable(key)) {
            return lm_errf(err, errsz,
                           "model: numeric attribute %zu is missing, empty, "
                           "longer than %d bytes or has a control character",
                           i, LM_MODEL_MAX_ATTR_KEY_LEN);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(attrs[j], key) == 0) {
                return lm_errf(err, errsz,
                               "model: numeric attribute \"%s\" is listed "
                               "twice",
                               key);
            }
        }
        if (lm_model_add_attr(m, key) != 0) {
            return lm_errf(err, errsz, "model: out of memory");
        }
    }
    return 0;
}

/* The weights of lm_model_new, checked as a file's. */
static int build_weights(lm_model *m, const char *const *names,
                         const double *weights, size_t n, char *err,
                         size_t errsz) {
    size_t i;

    if (n > LM_MODEL_MAX_WEIGHTS ||
        (n > 0 && (names == NULL || weights == NULL))) {
        return lm_errf(err, errsz, "model: %zu weights; at most %d", n,
                       LM_MODEL_MAX_WEIGHTS);
    }
    for (i = 0; i < n; i++) {
        int rc;

        if (names[i] == NULL || names[i][0] == '\0' ||
            strlen(names[i]) > LM_MODEL_MAX_NAME_LEN) {
            return lm_errf(err, errsz,
                           "model: weight %zu: the name is missing, empty or "
                           "longer than %d bytes",
                           i, LM_MODEL_MAX_NAME_LEN);
        }
        if (!isfinite(weights[i])) {
            return lm_errf(err, errsz,
                           "model: the weight of \"%s\" is not finite",
                           names[i]);
        }
        rc = lm_model_add_weight(m, names[i], weights[i]);
        if (rc == -2) {
            return lm_errf(err, errsz, "model: \"%s\" has two weights",
                           names[i]);
        }
        if (rc != 0) {
            return lm_errf(err, errsz, "model: out of memory");
        }
    }
    if (lm_model_find(m, "bias") < 0) {
        return lm_errf(err, errsz, "model: no \"bias\" weight");
    }
    return 0;
}

lm_model *lm_model_new(const char *version, const char *const *attrs,
                       size_t n_attrs, const char *const *names,
                       const double *weights, size_t n_weights, char *err,
                       size_t errsz) {
    char why[128];
    lm_model *m;

    if (lm_model_check_version(version, why, sizeof why) != 0) {
        lm_errf(err, errsz, "model: the version %s", why);
        return NULL;
    }
    m = lm_model_alloc();
    if (m == NULL || (m->version = lm_model_strdup(version)) == NULL) {
        lm_errf(err, errsz, "model: out of memory");
        lm_model_free(m);
        return NULL;
    }
    if (build_attrs(m, attrs, n_attrs, err, errsz) != 0 ||
        build_weights(m, names, weights, n_weights, err, errsz) != 0) {
        lm_model_free(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------ getters */

const char *lm_model_version(const lm_model *m) {
    return m != NULL ? m->version : NULL;
}

int lm_model_weight(const lm_model *m, const char *name, double *w) {
    int32_t k = (m != NULL && name != NULL) ? lm_model_find(m, name) : -1;

    if (w != NULL) {
        *w = k >= 0 ? m->weights[k] : 0.0;
    }
    return k >= 0 ? 0 : -1;
}

size_t lm_model_n_weights(const lm_model *m) {
    return m != NULL ? m->n_weights : 0;
}

int lm_model_weight_at(const lm_model *m, size_t i, const char **name,
                       double *w) {
    if (m == NULL || i >= m->n_weights) {
        return -1;
    }
    if (name != NULL) {
        *name = lm_strmap_key(m->index, i, NULL);
    }
    if (w != NULL) {
        *w = m->weights[i];
    }
    return 0;
}

size_t lm_model_n_numeric_attributes(const lm_model *m) {
    return m != NULL ? m->n_attrs : 0;
}

const char *lm_model_numeric_attribute(const lm_model *m, size_t i) {
    return (m != NULL && i < m->n_attrs) ? m->attrs[i] : NULL;
}

/* ------------------------------------------------------------ scoring */

double lm_model_sigmoid(double z) {
    if (z >= 0) {
        return 1.0 / (1.0 + exp(-z));
    } else {
        double e = exp(z);

        return e / (1.0 + e);
    }
}

size_t lm_model_score(const lm_model *m, const lm_features *f, double *score,
                      lm_reason *top, size_t n_top) {
    double contrib[LM_MODEL_MAX_FEATURES];
    unsigned char eligible[LM_MODEL_MAX_FEATURES];
    size_t n = f != NULL ? f->n : 0, i, k, written = 0;
    double z = 0.0;

    if (n > LM_MODEL_MAX_FEATURES) {
        n = LM_MODEL_MAX_FEATURES;
    }
    for (i = 0; i < n; i++) {
        const char *name = lm_model_features_name(f, i);
        int32_t idx = (m != NULL && name != NULL) ? lm_model_find(m, name) : -1;

        contrib[i] = idx >= 0 ? m->weights[idx] * f->items[i].value : 0.0;
        z += contrib[i];
        eligible[i] =
            contrib[i] != 0.0 && name != NULL && strcmp(name, "bias") != 0;
    }
    if (score != NULL) {
        *score = lm_model_sigmoid(z);
    }
    if (top == NULL) {
        return 0;
    }
    for (k = 0; k < n_top; k++) {
        size_t best = n;
        size_t len;
        const char *name;

        for (i = 0; i < n; i++) {
            if (eligible[i] &&
                (best == n || fabs(contrib[i]) > fabs(contrib[best]))) {
                best = i;
            }
        }
        if (best == n) {
            break;
        }
        eligible[best] = 0;
        name = lm_model_features_name(f, best);
        len = strlen(name);
        if (len > sizeof(top[k].feature) - 1) {
            len = sizeof(top[k].feature) - 1;
        }
        memcpy(top[k].feature, name, len);
        top[k].feature[len] = '\0';
        top[k].contribution = contrib[best];
        written++;
    }
    return written;
}
