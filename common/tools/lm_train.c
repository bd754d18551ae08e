/* lm_train.c — `lastmile train`'s fit: L2-regularised logistic
 * regression by Newton's method (see lm_train.h for the contract).
 *
 * The examples are copied into a sparse (CSR) matrix whose columns are
 * numbered by a feature dictionary (an lm_strmap, name -> column, bias
 * first); Newton's method then runs on the L2-penalised log-likelihood
 * with a dense Hessian solved by Cholesky and a backtracking line search.
 * LM_TRAIN_MAX_FEATURES bounds the Hessian at 2 MiB. The result is built
 * with lm_model_new. Only the calling thread runs it, and it keeps no
 * state between calls. */
#include "lm_train.h"

#include "lm_fmt.h"
#include "lm_strmap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LM_TRAIN_ARMIJO   1e-4  /* sufficient decrease in line search */
#define LM_TRAIN_MIN_STEP 1e-12 /* smallest line-search fraction */

/* Sparse copy of the examples: row r has columns col[start[r]..start[r+1])
 * with values val[...]; column 0 is bias (value 1) in every row. The
 * dictionary `cols` maps a feature name to its column; its keys, in
 * insertion order, are the column names. */
typedef struct lm_train_data {
    size_t n_rows, n_cols;
    size_t *start;
    uint32_t *col;
    double *val;
    double *y;
    lm_strmap *cols;
} lm_train_data;

lm_train_opts lm_train_defaults(void) {
    lm_train_opts o = {1.0, 100, 1e-9};

    return o;
}

/* The column of a feature name, added when new; -1 when the dictionary
 * is full (LM_TRAIN_MAX_FEATURES), -2 when out of memory. */
static int32_t train_column(lm_train_data *d, const char *name) {
    int64_t *c = lm_strmap_get_str(d->cols, name);

    if (c != NULL) {
        return (int32_t)*c;
    }
    if (d->n_cols >= LM_TRAIN_MAX_FEATURES) {
        return -1;
    }
    if (lm_strmap_put_str(d->cols, name, (int64_t)d->n_cols, NULL) == NULL) {
        return -2;
    }
    return (int32_t)d->n_cols++;
}

static void train_data_free(lm_train_data *d) {
    if (d == NULL) {
        return;
    }
    free(d->start);
    free(d->col);
    free(d->val);
    free(d->y);
    lm_strmap_free(d->cols);
    free(d);
}

/* Example r's row of d: the bias, then each non-zero feature in its
 * column (a repeated name summed), from d->col[*nnz] on; *nnz is moved
 * past it. 0, or -1 with what is wrong with the example into err. */
static int train_row(lm_train_data *d, const lm_train_example *ex, size_t r,
                     size_t *nnz, char *err, size_t errsz) {
    const lm_features *f = &ex->features;
    size_t nf = f->n < LM_MODEL_MAX_FEATURES ? f->n : LM_MODEL_MAX_FEATURES;
    size_t i, k;
    d->y[r] = ex->label;
    d->start[r] = *nnz;
    d->col[*nnz] = 0;
    d->val[*nnz] = 1.0;
    (*nnz)++;
    for (i = 0; i < nf; i++) {
        const char *name = lm_model_features_name(f, i);
        double x = f->items[i].value;
        int32_t c;

        if (name == NULL || name[0] == '\0' ||
            strlen(name) > LM_MODEL_MAX_NAME_LEN) {
            lm_errf(err, errsz,
                    "training example %zu, feature %zu: the name is "
                    "missing, empty or longer than %d bytes; fix: build "
                    "features with lm_model_features()",
                    r, i, LM_MODEL_MAX_NAME_LEN);
            return -1;
        }
        if (!isfinite(x)) {
            lm_errf(err, errsz,
                    "training example %zu, feature \"%s\": value is not "
                    "finite; fix: drop or repair the example",
                    r, name);
            return -1;
        }
        if (x == 0.0 || strcmp(name, "bias") == 0) {
            continue;
        }
        c = train_column(d, name);
        if (c == -2) {
            lm_errf(err, errsz, "training: out of memory");
            return -1;
        }
        if (c < 0) {
            lm_errf(err, errsz,
                    "training examples have more than %d distinct "
                    "features (at \"%s\" in example %zu); fix: drop rare "
                    "sources or attributes before training",
                    LM_TRAIN_MAX_FEATURES, name, r);
            return -1;
        }
        for (k = d->start[r]; k < *nnz; k++) {
            if (d->col[k] == (uint32_t)c) {
                break;
            }
        }
        if (k < *nnz) {
            d->val[k] += x; /* repeated name: summed */
        } else {
            d->col[*nnz] = (uint32_t)c;
            d->val[*nnz] = x;
            (*nnz)++;
        }
    }
    return 0;
}

static lm_train_data *train_data_build(const lm_train_example *ex, size_t n,
                                       char *err, size_t errsz) {
    lm_train_data *d = calloc(1, sizeof(*d));
    size_t r, nnz = 0, cap = 0;

    if (d == NULL) {
        lm_errf(err, errsz, "training: out of memory");
        return NULL;
    }
    d->cols = lm_strmap_new(LM_TRAIN_MAX_FEATURES);
    if (d->cols == NULL || train_column(d, "bias") != 0) {
        lm_errf(err, errsz, "training: out of memory");
        goto fail;
    }
    for (r = 0; r < n; r++) {
        cap +=
            (ex[r].features.n < LM_MODEL_MAX_FEATURES ? ex[r].features.n
                                                      : LM_MODEL_MAX_FEATURES) +
            1;
    }
    d->n_rows = n;
    d->start = calloc(n + 1, sizeof(*d->start));
    d->col = calloc(cap, sizeof(*d->col));
    d->val = calloc(cap, sizeof(*d->val));
    d->y = calloc(n, sizeof(*d->y));
    if (d->start == NULL || d->col == NULL || d->val == NULL || d->y == NULL) {
        lm_errf(err, errsz, "training: out of memory");
        goto fail;
    }
    for (r = 0; r < n; r++) {
        if (ex[r].label != 0 && ex[r].label != 1) {
            lm_errf(err, errsz,
                    "training example %zu: label %d; fix: label 1 for a "
                    "converted lead, 0 for one that did not convert",
                    r, ex[r].label);
            goto fail;
        }
        if (train_row(d, &ex[r], r, &nnz, err, errsz) != 0)
            goto fail;
    }
    d->start[n] = nnz;
    return d;

fail:
    train_data_free(d);
    return NULL;
}

static double log1pexp(double z) {
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* The objective: sum of log losses + l2/2 * |w without bias|^2. */
static double train_objective(const lm_train_data *d, const double *w,
                              double l2) {
    double obj = 0.0, pen = 0.0;
    size_t r, k, j;

    for (r = 0; r < d->n_rows; r++) {
        double z = 0.0;

        for (k = d->start[r]; k < d->start[r + 1]; k++) {
            z += w[d->col[k]] * d->val[k];
        }
        obj += log1pexp(z) - d->y[r] * z;
    }
    for (j = 1; j < d->n_cols; j++) {
        pen += w[j] * w[j];
    }
    return obj + 0.5 * l2 * pen;
}

/* Gradient g and Hessian h (full p x p, row-major) at w. */
static void train_derivatives(const lm_train_data *d, const double *w,
                              double l2, double *g, double *h) {
    size_t p = d->n_cols, r, a, b, j;

    memset(g, 0, p * sizeof(*g));
    memset(h, 0, p * p * sizeof(*h));
    for (r = 0; r < d->n_rows; r++) {
        size_t k0 = d->start[r], k1 = d->start[r + 1];
        double z = 0.0, pr, res, s;

        for (a = k0; a < k1; a++) {
            z += w[d->col[a]] * d->val[a];
        }
        pr = lm_model_sigmoid(z);
        res = pr - d->y[r];
        s = pr * (1.0 - pr);
        for (a = k0; a < k1; a++) {
            size_t ca = d->col[a];
            double sa = s * d->val[a];

            g[ca] += res * d->val[a];
            for (b = a; b < k1; b++) {
                size_t cb = d->col[b];
                double v = sa * d->val[b];

                /* accumulate in the upper triangle */
                if (ca <= cb) {
                    h[ca * p + cb] += v;
                } else {
                    h[cb * p + ca] += v;
                }
            }
        }
    }
    for (j = 1; j < p; j++) {
        g[j] += l2 * w[j];
        h[j * p + j] += l2;
    }
    for (a = 0; a < p; a++) { /* mirror to the lower triangle */
        for (b = a + 1; b < p; b++) {
            h[b * p + a] = h[a * p + b];
        }
    }
}

/* Solve h x = g by Cholesky (h is overwritten by its factor). 0, or -1 when
 * h is not positive definite. */
static int cholesky_solve(double *h, size_t p, const double *g, double *x) {
    size_t i, j, k;

    for (j = 0; j < p; j++) {
        double s = h[j * p + j];

        for (k = 0; k < j; k++) {
            s -= h[j * p + k] * h[j * p + k];
        }
        if (!(s > 0.0)) {
            return -1;
        }
        h[j * p + j] = sqrt(s);
        for (i = j + 1; i < p; i++) {
            double t = h[i * p + j];

            for (k = 0; k < j; k++) {
                t -= h[i * p + k] * h[j * p + k];
            }
            h[i * p + j] = t / h[j * p + j];
        }
    }
    for (i = 0; i < p; i++) { /* L y = g */
        double t = g[i];

        for (k = 0; k < i; k++) {
            t -= h[i * p + k] * x[k];
        }
        x[i] = t / h[i * p + i];
    }
    for (i = p; i-- > 0;) { /* L^T x = y */
        double t = x[i];

        for (k = i + 1; k < p; k++) {
            t -= h[k * p + i] * x[k];
        }
        x[i] = t / h[i * p + i];
    }
    return 0;
}

/* Newton's method from the base rate: the fitted weights into w (p =
 * d->n_cols, w zeroed by the caller). 0, or -1 with a message. */
static int train_newton(const lm_train_data *d, size_t pos,
                        const lm_train_opts *o, double *w, char *err,
                        size_t errsz) {
    size_t p = d->n_cols, j;
    double *g = calloc(p, sizeof(*g)), *step = calloc(p, sizeof(*step));
    double *wt = calloc(p, sizeof(*wt)), *h = calloc(p * p, sizeof(*h));
    int it, rc = -1;

    if (g == NULL || step == NULL || wt == NULL || h == NULL) {
        lm_errf(err, errsz, "training: out of memory");
        goto done;
    }
    w[0] = log((double)pos / (double)(d->n_rows - pos)); /* the base rate */
    for (it = 0; it < o->max_iter; it++) {
        double f0, gd = 0.0, t = 1.0, maxstep = 0.0;

        train_derivatives(d, w, o->l2, g, h);
        if (cholesky_solve(h, p, g, step) != 0) {
            lm_errf(err, errsz,
                    "training: the Hessian is not positive definite at "
                    "iteration %d; fix: raise l2",
                    it);
            goto done;
        }
        for (j = 0; j < p; j++) {
            gd += g[j] * step[j];
            if (fabs(step[j]) > maxstep) {
                maxstep = fabs(step[j]);
            }
        }
        if (!isfinite(maxstep)) {
            lm_errf(err, errsz,
                    "training: the Newton step is not finite at iteration "
                    "%d; fix: raise l2 or check the feature values",
                    it);
            goto done;
        }
        if (maxstep < o->tol) { /* the full step is already tiny: take it */
            for (j = 0; j < p; j++) {
                w[j] -= step[j];
            }
            rc = 0;
            goto done;
        }
        f0 = train_objective(d, w, o->l2);
        for (;;) { /* backtracking line search */
            for (j = 0; j < p; j++) {
                wt[j] = w[j] - t * step[j];
            }
            if (train_objective(d, wt, o->l2) <=
                    f0 - LM_TRAIN_ARMIJO * t * gd ||
                t < LM_TRAIN_MIN_STEP) {
                break;
            }
            t *= 0.5;
        }
        memcpy(w, wt, p * sizeof(*w));
        if (t * maxstep < o->tol) {
            rc = 0;
            goto done;
        }
    }
    lm_errf(err, errsz,
            "training: no convergence within %d Newton iterations; fix: "
            "raise max_iter or l2, or loosen tol",
            o->max_iter);
done:
    free(g);
    free(step);
    free(wt);
    free(h);
    return rc;
}

/* The fitted model: base's numeric attributes, one weight a column. */
static lm_model *train_model(const lm_model *base, const lm_train_data *d,
                             const double *w, const char *version, char *err,
                             size_t errsz) {
    const char *attrs[LM_MODEL_MAX_NUMERIC_ATTRS];
    const char **names = calloc(d->n_cols, sizeof(*names));
    size_t n_attrs = lm_model_n_numeric_attributes(base), j;
    lm_model *m = NULL;

    if (names == NULL) {
        lm_errf(err, errsz, "training: out of memory");
        return NULL;
    }
    for (j = 0; j < n_attrs && j < LM_MODEL_MAX_NUMERIC_ATTRS; j++) {
        attrs[j] = lm_model_numeric_attribute(base, j);
    }
    n_attrs = j;
    for (j = 0; j < d->n_cols; j++) {
        names[j] = lm_strmap_key(d->cols, j, NULL);
        if (!isfinite(w[j])) {
            lm_errf(err, errsz,
                    "training: weight of \"%s\" is not finite; fix: raise l2",
                    names[j]);
            goto done;
        }
    }
    m = lm_model_new(version, attrs, n_attrs, names, w, d->n_cols, err, errsz);
done:
    free(names);
    return m;
}

lm_model *lm_train_fit(const lm_model *base, const lm_train_example *ex,
                       size_t n, const lm_train_opts *opts, const char *version,
                       char *err, size_t errsz) {
    lm_train_opts o = opts != NULL ? *opts : lm_train_defaults();
    lm_model *fallback = NULL, *m = NULL;
    lm_train_data *d = NULL;
    double *w = NULL;
    char why[128];
    size_t r, pos = 0;

    if (!(o.l2 > 0.0) || !isfinite(o.l2) || o.max_iter <= 0 || !(o.tol > 0.0) ||
        !isfinite(o.tol)) {
        lm_errf(err, errsz,
                "training options: l2 %g, max_iter %d, tol %g; fix: l2 > 0 "
                "(e.g. 1.0), max_iter > 0 (e.g. 100), tol > 0 (e.g. 1e-9)",
                o.l2, o.max_iter, o.tol);
        goto done;
    }
    if (lm_model_check_version(version, why, sizeof why) != 0) {
        lm_errf(err, errsz,
                "training: the version %s; fix: pass a short printable "
                "version, e.g. \"2026-11-25.retrained\"",
                why);
        goto done;
    }
    if (ex == NULL || n == 0) {
        lm_errf(err, errsz,
                "training: no examples; fix: collect closed outcomes first");
        goto done;
    }
    if (base == NULL) {
        fallback = lm_model_load(NULL, err, errsz);
        if (fallback == NULL) {
            goto done;
        }
        base = fallback;
    }
    d = train_data_build(ex, n, err, errsz);
    if (d == NULL) {
        goto done;
    }
    for (r = 0; r < n; r++) {
        pos += d->y[r] != 0.0;
    }
    if (pos == 0 || pos == n) {
        lm_errf(err, errsz,
                "training: all %zu examples have label %d; fix: training "
                "needs both converted (1) and lost (0) leads",
                n, pos == 0 ? 0 : 1);
        goto done;
    }
    w = calloc(d->n_cols, sizeof(*w));
    if (w == NULL) {
        lm_errf(err, errsz, "training: out of memory");
        goto done;
    }
    if (train_newton(d, pos, &o, w, err, errsz) == 0) {
        m = train_model(base, d, w, version, err, errsz);
    }
done:
    free(w);
    train_data_free(d);
    lm_model_free(fallback);
    return m;
}
