/* lm_model.c — the qualification model: features, scoring, model files,
 * training. The contract (feature definitions, file format, ownership,
 * limits) is in lm_model.h; this comment covers how it is built.
 *
 * Layout of a model: parallel arrays of weight names and values in file
 * order, the numeric attribute keys with their precomputed "attr:<key>"
 * feature names, and an open-addressing hash (linear probing, FNV-1a, a
 * power-of-two table at most half full) from weight name to index. Every
 * string is a separate heap block owned by the model; lm_model_free frees
 * them all. A model is never changed after model_finish() builds its index,
 * so it can be shared by threads without locks.
 *
 * Hot path: lm_model_features() and lm_model_score() use only the caller's
 * lm_features, the stack and the read-only model.
 *
 * Numbers are read with strtod and written with snprintf, so the process
 * must run in the "C" numeric locale (no worker calls setlocale).
 *
 * Training builds a sparse (CSR) copy of the examples, then runs Newton's
 * method on the L2-penalised log-likelihood with a dense Hessian solved by
 * Cholesky; LM_MODEL_MAX_TRAIN_FEATURES bounds the Hessian at 2 MiB. Only
 * the calling thread runs it, and it keeps no state between calls.
 */
#include "lm_model.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

/* ------------------------------------------------------------ limits */

#define LM_MODEL_MAX_WORD      24   /* bytes of one title word we compare */
#define LM_MODEL_MAX_PATH      4096 /* bytes of a model file path */
#define LM_MODEL_READ_CHUNK    65536
#define LM_MODEL_NUM_BUF       40    /* a formatted double */
#define LM_MODEL_ARMIJO        1e-4  /* sufficient decrease in line search */
#define LM_MODEL_MIN_STEP      1e-12 /* smallest line-search fraction */
#define LM_MODEL_ATTR_PREFIX   "attr:"
#define LM_MODEL_SOURCE_PREFIX "source="
#define LM_MODEL_BUILTIN_NAME  "<built-in model>"
#define LM_MODEL_DEFAULT_NAME  "<model>"

/* ------------------------------------------------------------ the default */

/* The built-in default model: the same text as config/model.json (a unit
 * test checks the two parse to the same model). A plausible B2B prior:
 * seniority and company size raise the score, a demo request strongly,
 * referrals and web forms over purchased lists. On a realistic mix of leads
 * about 30% score above 0.55 and about 30% below 0.25. */
static const char lm_model_default_text[] =
    "{\n"
    "  \"description\": \"Built-in default: a B2B prior. Seniority, company "
    "size, engagement and a demo request raise the score; referrals, partners "
    "and web forms beat purchased lists. Retrain from outcomes with `lastmile "
    "train`.\",\n"
    "  \"format\": \"lastmile-logistic-v1\",\n"
    "  \"numeric_attributes\": [\n"
    "    \"pages_viewed\",\n"
    "    \"emails_opened\",\n"
    "    \"demo_requested\",\n"
    "    \"webinar_attended\"\n"
    "  ],\n"
    "  \"version\": \"2026-11-25.default\",\n"
    "  \"weights\": {\n"
    "    \"attr:demo_requested\": 2.2,\n"
    "    \"attr:emails_opened\": 0.2,\n"
    "    \"attr:pages_viewed\": 0.35,\n"
    "    \"attr:webinar_attended\": 0.5,\n"
    "    \"bias\": -3.1,\n"
    "    \"log_company_size\": 0.3,\n"
    "    \"region=APAC\": 0.0,\n"
    "    \"region=EMEA\": 0.2,\n"
    "    \"region=LATAM\": -0.1,\n"
    "    \"region=NA\": 0.3,\n"
    "    \"region=OTHER\": -0.4,\n"
    "    \"source=ads\": 0.0,\n"
    "    \"source=crm\": 0.2,\n"
    "    \"source=event\": 0.4,\n"
    "    \"source=partner\": 0.7,\n"
    "    \"source=purchased_list\": -1.0,\n"
    "    \"source=referral\": 1.0,\n"
    "    \"source=web_form\": 0.6,\n"
    "    \"source=webinar\": 0.3,\n"
    "    \"title=c_level\": 1.2,\n"
    "    \"title=director\": 0.7,\n"
    "    \"title=individual\": -0.2,\n"
    "    \"title=manager\": 0.3,\n"
    "    \"title=unknown\": -0.6,\n"
    "    \"title=vp\": 1.0\n"
    "  }\n"
    "}\n";

/* ------------------------------------------------------------ the model */

struct lm_model {
    char *version;
    char *description;    /* NULL when the file has none */
    char **attrs;         /* numeric attribute keys, file order */
    char **attr_features; /* "attr:<key>", same order */
    size_t n_attrs;
    char **names; /* weight names, file order */
    double *weights;
    size_t n_weights;
    size_t cap_weights;
    int32_t *slots; /* hash: index into names, -1 empty */
    size_t mask;    /* table size - 1 (a power of two minus one) */
};

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errsz, const char *fmt, ...) {
    va_list ap;

    if (err == NULL || errsz == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

static char *dupstr(const char *s) {
    size_t len = strlen(s);
    char *p = malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len + 1);
    }
    return p;
}

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static lm_model *model_new(void) {
    return calloc(1, sizeof(lm_model));
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
    for (i = 0; i < m->n_weights; i++) {
        free(m->names[i]);
    }
    free(m->names);
    free(m->weights);
    free(m->slots);
    free(m);
}

/* Append a numeric attribute key (caller checked it). 0/-1 (no memory). */
static int model_add_attr(lm_model *m, const char *key) {
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
    a = dupstr(key);
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

/* Append a weight (caller checked name and value). 0/-1 (no memory). */
static int model_add_weight(lm_model *m, const char *name, double w) {
    if (m->n_weights == m->cap_weights) {
        size_t cap = m->cap_weights ? m->cap_weights * 2 : 32;
        char **names = realloc(m->names, cap * sizeof(*names));
        double *weights;

        if (names == NULL) {
            return -1;
        }
        m->names = names;
        weights = realloc(m->weights, cap * sizeof(*weights));
        if (weights == NULL) {
            return -1;
        }
        m->weights = weights;
        m->cap_weights = cap;
    }
    m->names[m->n_weights] = dupstr(name);
    if (m->names[m->n_weights] == NULL) {
        return -1;
    }
    m->weights[m->n_weights] = w;
    m->n_weights++;
    return 0;
}

static int32_t model_find(const lm_model *m, const char *name) {
    size_t i;

    if (m->slots == NULL) {
        return -1;
    }
    i = (size_t)hash_name(name) & m->mask;
    for (;;) {
        int32_t k = m->slots[i];

        if (k < 0) {
            return -1;
        }
        if (strcmp(m->names[k], name) == 0) {
            return k;
        }
        i = (i + 1) & m->mask;
    }
}

/* Build the hash index. Names must be unique. 0/-1 (no memory). */
static int model_finish(lm_model *m) {
    size_t size = 16, i;

    while (size < 2 * m->n_weights) {
        size *= 2;
    }
    free(m->slots);
    m->slots = malloc(size * sizeof(*m->slots));
    if (m->slots == NULL) {
        return -1;
    }
    m->mask = size - 1;
    for (i = 0; i < size; i++) {
        m->slots[i] = -1;
    }
    for (i = 0; i < m->n_weights; i++) {
        size_t s = (size_t)hash_name(m->names[i]) & m->mask;

        while (m->slots[s] >= 0) {
            s = (s + 1) & m->mask;
        }
        m->slots[s] = (int32_t)i;
    }
    return 0;
}

const char *lm_model_version(const lm_model *m) {
    return m != NULL ? m->version : NULL;
}

int lm_model_weight(const lm_model *m, const char *name, double *w) {
    int32_t k = (m != NULL && name != NULL) ? model_find(m, name) : -1;

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
        *name = m->names[i];
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

const char *lm_model_default_json(void) {
    return lm_model_default_text;
}

/* ------------------------------------------------------------ validation */

/* Is s free of ASCII control characters? */
static int printable(const char *s) {
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* Check a version string; on error write "what is wrong" to why. */
static int check_version(const char *v, char *why, size_t whysz) {
    if (v == NULL || v[0] == '\0') {
        seterr(why, whysz, "is empty");
        return -1;
    }
    if (strlen(v) > LM_MODEL_MAX_VERSION_LEN) {
        seterr(why, whysz, "is longer than %d bytes", LM_MODEL_MAX_VERSION_LEN);
        return -1;
    }
    if (!printable(v)) {
        seterr(why, whysz, "contains a control character");
        return -1;
    }
    return 0;
}

static const char *json_type_name(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* ------------------------------------------------------------ parsing */

static int parse_attrs(lm_model *m, json_t *arr, const char *file, char *err,
                       size_t errsz) {
    size_t i, j;
    json_t *v;

    if (!json_is_array(arr)) {
        seterr(err, errsz,
               "%s: \"numeric_attributes\" is %s; fix: make it an array of "
               "attribute keys, e.g. [\"pages_viewed\", \"demo_requested\"]",
               file, json_type_name(arr));
        return -1;
    }
    if (json_array_size(arr) > LM_MODEL_MAX_NUMERIC_ATTRS) {
        seterr(err, errsz,
               "%s: \"numeric_attributes\" has %zu keys, more than the limit "
               "of %d; fix: keep the %d that matter most",
               file, json_array_size(arr), LM_MODEL_MAX_NUMERIC_ATTRS,
               LM_MODEL_MAX_NUMERIC_ATTRS);
        return -1;
    }
    json_array_foreach(arr, i, v) {
        const char *key = json_string_value(v);

        if (key == NULL) {
            seterr(err, errsz,
                   "%s: numeric_attributes[%zu] is %s; fix: write the "
                   "attribute key as a string, e.g. \"pages_viewed\"",
                   file, i, json_type_name(v));
            return -1;
        }
        if (key[0] == '\0' || strlen(key) > LM_MODEL_MAX_ATTR_KEY_LEN ||
            !printable(key)) {
            seterr(err, errsz,
                   "%s: numeric_attributes[%zu] \"%s\" is empty, longer "
                   "than %d bytes or has a control character; fix: use the "
                   "key producers send in LeadSubmitted.attributes",
                   file, i, key, LM_MODEL_MAX_ATTR_KEY_LEN);
            return -1;
        }
        for (j = 0; j < m->n_attrs; j++) {
            if (strcmp(m->attrs[j], key) == 0) {
                seterr(err, errsz,
                       "%s: numeric_attributes lists \"%s\" twice; fix: "
                       "remove the duplicate",
                       file, key);
                return -1;
            }
        }
        if (model_add_attr(m, key) != 0) {
            seterr(err, errsz, "%s: out of memory", file);
            return -1;
        }
    }
    return 0;
}

static int parse_weights(lm_model *m, json_t *obj, const char *file, char *err,
                         size_t errsz) {
    const char *name;
    json_t *v;

    if (!json_is_object(obj)) {
        seterr(err, errsz,
               "%s: \"weights\" is %s; fix: make it an object of feature "
               "name to weight, e.g. {\"bias\": -2.0, \"title=vp\": 1.0}",
               file, json_type_name(obj));
        return -1;
    }
    if (json_object_size(obj) > LM_MODEL_MAX_WEIGHTS) {
        seterr(err, errsz,
               "%s: \"weights\" has %zu entries, more than the limit of "
               "%d; fix: drop features that never fire",
               file, json_object_size(obj), LM_MODEL_MAX_WEIGHTS);
        return -1;
    }
    json_object_foreach(obj, name, v) {
        double w;

        if (name[0] == '\0' || strlen(name) > LM_MODEL_MAX_NAME_LEN) {
            seterr(err, errsz,
                   "%s: weights key \"%.80s\" is empty or longer than %d "
                   "bytes; fix: use a feature name such as \"title=vp\" or "
                   "\"attr:pages_viewed\"",
                   file, name, LM_MODEL_MAX_NAME_LEN);
            return -1;
        }
        if (!json_is_number(v)) {
            seterr(err, errsz,
                   "%s: weights[\"%s\"] is %s, not a finite number; fix: "
                   "write a number in logits, e.g. \"%s\": 0.5",
                   file, name, json_type_name(v), name);
            return -1;
        }
        w = json_number_value(v);
        if (!isfinite(w)) {
            seterr(err, errsz,
                   "%s: weights[\"%s\"] is not a finite number; fix: write "
                   "a number in logits, e.g. \"%s\": 0.5",
                   file, name, name);
            return -1;
        }
        if (model_add_weight(m, name, w) != 0) {
            seterr(err, errsz, "%s: out of memory", file);
            return -1;
        }
    }
    if (model_finish(m) != 0) {
        seterr(err, errsz, "%s: out of memory", file);
        return -1;
    }
    if (model_find(m, "bias") < 0) {
        seterr(err, errsz,
               "%s: \"weights\" has no \"bias\"; fix: add the intercept in "
               "logits, e.g. \"bias\": -2.0",
               file);
        return -1;
    }
    return 0;
}

/* The fix for a JSON syntax error, by jansson's error code. */
static const char *syntax_fix(const json_error_t *jerr) {
    switch (json_error_code(jerr)) {
    case json_error_duplicate_key:
        return "remove the duplicate key (each key may appear once)";
    case json_error_numeric_overflow:
        return "weights must be finite numbers; write a smaller number";
    case json_error_invalid_utf8:
        return "save the file as UTF-8";
    case json_error_premature_end_of_input:
        return "the file ends early: close every string, [ and {";
    default:
        return "correct the JSON at that line and column (a missing comma, "
               "quote or brace is the usual cause)";
    }
}

lm_model *lm_model_parse(const char *json, size_t len,
                         const char *filename_for_errors, char *err,
                         size_t errsz) {
    const char *file =
        filename_for_errors != NULL && filename_for_errors[0] != '\0'
            ? filename_for_errors
            : LM_MODEL_DEFAULT_NAME;
    char why[128];
    json_error_t jerr;
    json_t *root = NULL, *v;
    const char *key, *s;
    lm_model *m = NULL;
    size_t blank;

    if (json == NULL) {
        seterr(err, errsz, "%s: no model text", file);
        goto fail;
    }
    if (len > LM_MODEL_MAX_FILE_BYTES) {
        seterr(err, errsz,
               "%s: %zu bytes, more than the model file limit of %u; fix: "
               "check that this is a model file",
               file, len, (unsigned)LM_MODEL_MAX_FILE_BYTES);
        goto fail;
    }
    for (blank = 0; blank < len && isspace((unsigned char)json[blank]);
         blank++) {
    }
    if (blank == len) {
        seterr(err, errsz,
               "%s: the model file is empty; fix: write a model (see "
               "config/model.json) or leave LASTMILE_MODEL empty for the "
               "built-in default",
               file);
        goto fail;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        seterr(err, errsz, "%s:%d:%d: invalid JSON: %s; fix: %s", file,
               jerr.line, jerr.column, jerr.text, syntax_fix(&jerr));
        goto fail;
    }
    if (!json_is_object(root)) {
        seterr(err, errsz,
               "%s: the top level is %s; fix: a model file is one JSON "
               "object {\"format\": \"" LM_MODEL_FORMAT "\", \"version\": "
               "..., \"weights\": {...}}",
               file, json_type_name(root));
        goto fail;
    }
    json_object_foreach(root, key, v) {
        if (strcmp(key, "format") != 0 && strcmp(key, "version") != 0 &&
            strcmp(key, "description") != 0 &&
            strcmp(key, "numeric_attributes") != 0 &&
            strcmp(key, "weights") != 0) {
            seterr(err, errsz,
                   "%s: unknown key \"%.80s\"; fix: remove it or correct "
                   "its spelling (the keys are format, version, "
                   "description, numeric_attributes, weights)",
                   file, key);
            goto fail;
        }
    }

    v = json_object_get(root, "format");
    if (v == NULL) {
        seterr(err, errsz,
               "%s: missing \"format\"; fix: add \"format\": "
               "\"" LM_MODEL_FORMAT "\"",
               file);
        goto fail;
    }
    s = json_string_value(v);
    if (s == NULL || strcmp(s, LM_MODEL_FORMAT) != 0) {
        seterr(err, errsz,
               "%s: \"format\" is %s%.80s%s, a format this lastmile does not "
               "read; fix: set \"format\": \"" LM_MODEL_FORMAT
               "\" and the weights that format describes",
               file, s != NULL ? "\"" : "", s != NULL ? s : json_type_name(v),
               s != NULL ? "\"" : "");
        goto fail;
    }

    m = model_new();
    if (m == NULL) {
        seterr(err, errsz, "%s: out of memory", file);
        goto fail;
    }

    v = json_object_get(root, "version");
    s = json_string_value(v);
    if (v == NULL) {
        seterr(err, errsz,
               "%s: missing \"version\"; fix: add a version string that "
               "names this model, e.g. \"version\": \"2026-11-25.retrained\"",
               file);
        goto fail;
    }
    if (s == NULL) {
        seterr(err, errsz,
               "%s: \"version\" is %s; fix: write it as a string, e.g. "
               "\"version\": \"2026-11-25.retrained\"",
               file, json_type_name(v));
        goto fail;
    }
    if (check_version(s, why, sizeof why) != 0) {
        seterr(err, errsz,
               "%s: \"version\" %s; fix: use a short printable name, e.g. "
               "\"2026-11-25.retrained\"",
               file, why);
        goto fail;
    }
    m->version = dupstr(s);
    if (m->version == NULL) {
        seterr(err, errsz, "%s: out of memory", file);
        goto fail;
    }

    v = json_object_get(root, "description");
    if (v != NULL) {
        s = json_string_value(v);
        if (s == NULL || strlen(s) > LM_MODEL_MAX_DESCRIPTION_LEN) {
            seterr(err, errsz,
                   "%s: \"description\" is %s; fix: make it a string of at "
                   "most %d bytes, or remove it",
                   file, s == NULL ? json_type_name(v) : "too long",
                   LM_MODEL_MAX_DESCRIPTION_LEN);
            goto fail;
        }
        m->description = dupstr(s);
        if (m->description == NULL) {
            seterr(err, errsz, "%s: out of memory", file);
            goto fail;
        }
    }

    v = json_object_get(root, "numeric_attributes");
    if (v != NULL && parse_attrs(m, v, file, err, errsz) != 0) {
        goto fail;
    }

    v = json_object_get(root, "weights");
    if (v == NULL) {
        seterr(err, errsz,
               "%s: missing \"weights\"; fix: add \"weights\": {\"bias\": "
               "-2.0, ...} with one weight per feature",
               file);
        goto fail;
    }
    if (parse_weights(m, v, file, err, errsz) != 0) {
        goto fail;
    }
    json_decref(root);
    return m;

fail:
    json_decref(root);
    lm_model_free(m);
    return NULL;
}

/* Read a whole file, at most LM_MODEL_MAX_FILE_BYTES. Caller frees *out. */
static int read_file(const char *path, char **out, size_t *outlen, char *err,
                     size_t errsz) {
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    if (fp == NULL) {
        seterr(err, errsz,
               "%s: cannot open model file: %s; fix: point LASTMILE_MODEL "
               "at a readable model file, or leave it empty for the "
               "built-in default",
               path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t got;

        if (len == cap) {
            size_t ncap = cap ? cap * 2 : LM_MODEL_READ_CHUNK;
            char *nbuf;

            if (cap > LM_MODEL_MAX_FILE_BYTES) {
                seterr(err, errsz,
                       "%s: more than the model file limit of %u bytes; "
                       "fix: check that this is a model file",
                       path, (unsigned)LM_MODEL_MAX_FILE_BYTES);
                goto done;
            }
            nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                seterr(err, errsz, "%s: out of memory", path);
                goto done;
            }
            buf = nbuf;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(fp)) {
        seterr(err, errsz, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    *out = buf;
    *outlen = len;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    fclose(fp);
    return rc;
}

lm_model *lm_model_load(const char *path, char *err, size_t errsz) {
    char *text = NULL;
    size_t len = 0;
    lm_model *m;

    if (path == NULL || path[0] == '\0') {
        return lm_model_parse(lm_model_default_text,
                              sizeof(lm_model_default_text) - 1,
                              LM_MODEL_BUILTIN_NAME, err, errsz);
    }
    if (read_file(path, &text, &len, err, errsz) != 0) {
        return NULL;
    }
    m = lm_model_parse(text, len, path, err, errsz);
    free(text);
    return m;
}

/* ------------------------------------------------------------ seniority */

static const char *const lm_model_seniority_names[] = {
    "unknown", "individual", "manager", "director", "vp", "c_level",
};

const char *lm_model_seniority_name(lm_model_seniority s) {
    if ((unsigned)s >= sizeof(lm_model_seniority_names) /
                           sizeof(lm_model_seniority_names[0])) {
        return "unknown";
    }
    return lm_model_seniority_names[s];
}

/* The static "title=<seniority>" feature names, same order as the enum. */
static const char *const lm_model_title_features[] = {
    "title=unknown",  "title=individual", "title=manager",
    "title=director", "title=vp",         "title=c_level",
};

static int word_in(const char *w, const char *const *list) {
    for (; *list != NULL; list++) {
        if (strcmp(w, *list) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *const lm_model_words_c_level[] = {
    "ceo", "cto", "cfo",   "coo",     "cmo",       "cro",   "cio",       "ciso",
    "cpo", "cdo", "chief", "founder", "cofounder", "owner", "president", NULL,
};
static const char *const lm_model_words_vp[] = {
    "vp", "svp", "evp", "avp", "vicepresident", NULL,
};
static const char *const lm_model_words_director[] = {
    "director",
    NULL,
};
static const char *const lm_model_words_manager[] = {
    "manager", "mgr", "lead", "leader", "supervisor", NULL,
};

/* The seniority one word signals, given the word before it. */
static lm_model_seniority word_seniority(const char *w, const char *prev,
                                         int after_to) {
    if (strcmp(w, "president") == 0 && strcmp(prev, "vice") == 0) {
        return LM_MODEL_SENIORITY_VP;
    }
    if (strcmp(w, "of") == 0 && strcmp(prev, "head") == 0) {
        return LM_MODEL_SENIORITY_VP;
    }
    if (word_in(w, lm_model_words_c_level)) {
        if (after_to ||
            (strcmp(w, "owner") == 0 && strcmp(prev, "product") == 0)) {
            return LM_MODEL_SENIORITY_INDIVIDUAL;
        }
        return LM_MODEL_SENIORITY_C_LEVEL;
    }
    if (word_in(w, lm_model_words_vp)) {
        return LM_MODEL_SENIORITY_VP;
    }
    if (word_in(w, lm_model_words_director)) {
        return LM_MODEL_SENIORITY_DIRECTOR;
    }
    if (word_in(w, lm_model_words_manager)) {
        return LM_MODEL_SENIORITY_MANAGER;
    }
    return LM_MODEL_SENIORITY_INDIVIDUAL;
}

lm_model_seniority lm_model_title_seniority(const char *title) {
    lm_model_seniority best = LM_MODEL_SENIORITY_UNKNOWN;
    char prev[LM_MODEL_MAX_WORD] = "", word[LM_MODEL_MAX_WORD];
    int after_to = 0;
    const char *p = title;

    if (title == NULL) {
        return LM_MODEL_SENIORITY_UNKNOWN;
    }
    while (*p != '\0') {
        size_t len = 0;
        lm_model_seniority s;

        if (!isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80) {
            p++;
            continue;
        }
        while (isalnum((unsigned char)*p) && (unsigned char)*p < 0x80) {
            if (len + 1 < sizeof word) {
                word[len] = (char)tolower((unsigned char)*p);
            }
            len++;
            p++;
        }
        if (len + 1 > sizeof word) {
            word[0] = '\0'; /* too long to be any keyword */
        } else {
            word[len] = '\0';
        }
        s = word[0] != '\0' ? word_seniority(word, prev, after_to)
                            : LM_MODEL_SENIORITY_INDIVIDUAL;
        if (s > best) {
            best = s;
        }
        if (strcmp(word, "to") == 0) {
            after_to = 1;
        }
        memcpy(prev, word, sizeof prev);
    }
    return best;
}

/* ------------------------------------------------------------ features */

static const char *const lm_model_regions[] = {
    "region=NA",
    "region=EMEA",
    "region=APAC",
    "region=LATAM",
};
#define LM_MODEL_REGION_OTHER  "region=OTHER"
#define LM_MODEL_REGION_PREFIX "region="

void lm_model_features_init(lm_features *f) {
    f->n = 0;
    f->names_used = 0;
}

/* Append a feature whose name is static or model-owned. */
static void push_ref(lm_features *f, const char *name, double value) {
    if (f->n >= LM_MODEL_MAX_FEATURES) {
        return;
    }
    f->items[f->n].name = name;
    f->items[f->n].value = value;
    f->name_off[f->n] = 0;
    f->n++;
}

/* Append a feature named prefix + s[0..slen), copied into f's buffer,
 * lower-cased (ASCII) when lower. -1 when it does not fit. */
static int push_own(lm_features *f, const char *prefix, const char *s,
                    size_t slen, int lower, double value) {
    size_t plen = strlen(prefix), i;
    char *dst;

    if (f->n >= LM_MODEL_MAX_FEATURES || plen + slen == 0 ||
        plen + slen > LM_MODEL_MAX_NAME_LEN ||
        f->names_used + plen + slen + 1 > LM_MODEL_FEATURE_NAMES_SIZE) {
        return -1;
    }
    dst = f->names + f->names_used;
    memcpy(dst, prefix, plen);
    for (i = 0; i < slen; i++) {
        dst[plen + i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
    }
    dst[plen + slen] = '\0';
    f->items[f->n].name = dst;
    f->items[f->n].value = value;
    f->name_off[f->n] = (uint16_t)(f->names_used + 1);
    f->names_used += plen + slen + 1;
    f->n++;
    return 0;
}

int lm_model_features_add(lm_features *f, const char *name, double value) {
    if (f == NULL || name == NULL || !isfinite(value)) {
        return -1;
    }
    return push_own(f, "", name, strlen(name), 0, value);
}

const char *lm_model_features_name(const lm_features *f, size_t i) {
    if (f == NULL || i >= f->n || i >= LM_MODEL_MAX_FEATURES) {
        return NULL;
    }
    if (f->name_off[i] != 0 && f->name_off[i] <= LM_MODEL_FEATURE_NAMES_SIZE) {
        return f->names + (f->name_off[i] - 1);
    }
    return f->items[i].name;
}

void lm_model_features_copy(lm_features *dst, const lm_features *src) {
    size_t i;

    if (dst == src) {
        return;
    }
    memcpy(dst, src, sizeof(*dst));
    for (i = 0; i < dst->n && i < LM_MODEL_MAX_FEATURES; i++) {
        if (dst->name_off[i] != 0) {
            dst->items[i].name = dst->names + (dst->name_off[i] - 1);
        }
    }
}

/* attributes[key] as a number for attr:<key>: the value, or 0 when it is
 * missing, not a plain decimal number, not finite or negative. */
static double attr_value(const Lastmile__V1__LeadAccepted *lead,
                         const char *key) {
    size_t i;

    for (i = 0; i < lead->n_attributes; i++) {
        const Lastmile__V1__LeadAccepted__AttributesEntry *e =
            lead->attributes[i];
        const char *s, *q;
        char *end;
        double v;

        if (e == NULL || e->key == NULL || strcmp(e->key, key) != 0) {
            continue;
        }
        s = e->value;
        if (s == NULL) {
            return 0.0;
        }
        for (q = s; *q != '\0'; q++) {
            if (strchr("0123456789+-.eE \t", *q) == NULL) {
                return 0.0; /* also keeps out hex, inf and nan */
            }
        }
        errno = 0;
        v = strtod(s, &end);
        if (end == s || errno == ERANGE) {
            return 0.0;
        }
        while (*end == ' ' || *end == '\t') {
            end++;
        }
        if (*end != '\0' || !isfinite(v) || v < 0) {
            return 0.0;
        }
        return v;
    }
    return 0.0;
}

void lm_model_features(const lm_model *m,
                       const Lastmile__V1__LeadAccepted *lead,
                       const char *region, lm_features *out) {
    const char *rname = LM_MODEL_REGION_OTHER;
    size_t i;

    lm_model_features_init(out);
    if (lead == NULL) {
        return;
    }
    push_ref(out, "bias", 1.0);
    if (lead->company_size > 0) {
        push_ref(out, "log_company_size", log1p((double)lead->company_size));
    }
    push_ref(out,
             lm_model_title_features[lm_model_title_seniority(lead->title)],
             1.0);
    if (lead->source != NULL && lead->source[0] != '\0') {
        size_t slen = strlen(lead->source);

        if (slen <= LM_MODEL_MAX_SOURCE_LEN) {
            push_own(out, LM_MODEL_SOURCE_PREFIX, lead->source, slen, 1, 1.0);
        }
    }
    if (region != NULL) {
        for (i = 0; i < sizeof(lm_model_regions) / sizeof(lm_model_regions[0]);
             i++) {
            if (strcasecmp(region, lm_model_regions[i] +
                                       sizeof(LM_MODEL_REGION_PREFIX) - 1) ==
                0) {
                rname = lm_model_regions[i];
                break;
            }
        }
    }
    push_ref(out, rname, 1.0);
    if (m == NULL) {
        return;
    }
    for (i = 0; i < m->n_attrs; i++) {
        double v = attr_value(lead, m->attrs[i]);

        if (v > 0) {
            push_ref(out, m->attr_features[i], log1p(v));
        }
    }
}

/* ------------------------------------------------------------ scoring */

static double sigmoid(double z) {
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
        int32_t idx = (m != NULL && name != NULL) ? model_find(m, name) : -1;

        contrib[i] = idx >= 0 ? m->weights[idx] * f->items[i].value : 0.0;
        z += contrib[i];
        eligible[i] =
            contrib[i] != 0.0 && name != NULL && strcmp(name, "bias") != 0;
    }
    if (score != NULL) {
        *score = sigmoid(z);
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

/* ------------------------------------------------------------ training */

/* Sparse copy of the examples: row r has columns col[start[r]..start[r+1])
 * with values val[...]; column 0 is bias (value 1) in every row. */
typedef struct lm_train_data {
    size_t n_rows, n_cols;
    size_t *start;
    uint32_t *col;
    double *val;
    double *y;
    const char *names[LM_MODEL_MAX_TRAIN_FEATURES]; /* borrowed from ex */
    int32_t slots[2 * LM_MODEL_MAX_TRAIN_FEATURES]; /* hash of names */
} lm_train_data;

#define LM_MODEL_TRAIN_MASK (2 * LM_MODEL_MAX_TRAIN_FEATURES - 1)

lm_train_opts lm_model_train_defaults(void) {
    lm_train_opts o = {1.0, 100, 1e-9};

    return o;
}

/* The column of a feature name, added when new; -1 when the table is full. */
static int32_t train_column(lm_train_data *d, const char *name) {
    size_t s = (size_t)hash_name(name) & LM_MODEL_TRAIN_MASK;

    while (d->slots[s] >= 0) {
        if (strcmp(d->names[d->slots[s]], name) == 0) {
            return d->slots[s];
        }
        s = (s + 1) & LM_MODEL_TRAIN_MASK;
    }
    if (d->n_cols >= LM_MODEL_MAX_TRAIN_FEATURES) {
        return -1;
    }
    d->names[d->n_cols] = name;
    d->slots[s] = (int32_t)d->n_cols;
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
    free(d);
}

static lm_train_data *train_data_build(const lm_train_example *ex, size_t n,
                                       char *err, size_t errsz) {
    lm_train_data *d = calloc(1, sizeof(*d));
    size_t r, i, nnz = 0, cap = 0;

    if (d == NULL) {
        seterr(err, errsz, "training: out of memory");
        return NULL;
    }
    memset(d->slots, 0xff, sizeof d->slots); /* all -1 */
    train_column(d, "bias");
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
        seterr(err, errsz, "training: out of memory");
        goto fail;
    }
    for (r = 0; r < n; r++) {
        const lm_features *f = &ex[r].features;
        size_t nf = f->n < LM_MODEL_MAX_FEATURES ? f->n : LM_MODEL_MAX_FEATURES;

        if (ex[r].label != 0 && ex[r].label != 1) {
            seterr(err, errsz,
                   "training example %zu: label %d; fix: label 1 for a "
                   "converted lead, 0 for one that did not convert",
                   r, ex[r].label);
            goto fail;
        }
        d->y[r] = ex[r].label;
        d->start[r] = nnz;
        d->col[nnz] = 0;
        d->val[nnz] = 1.0;
        nnz++;
        for (i = 0; i < nf; i++) {
            const char *name = lm_model_features_name(f, i);
            double x = f->items[i].value;
            int32_t c;
            size_t k;

            if (name == NULL || name[0] == '\0' ||
                strlen(name) > LM_MODEL_MAX_NAME_LEN) {
                seterr(err, errsz,
                       "training example %zu, feature %zu: the name is "
                       "missing, empty or longer than %d bytes; fix: build "
                       "features with lm_model_features()",
                       r, i, LM_MODEL_MAX_NAME_LEN);
                goto fail;
            }
            if (!isfinite(x)) {
                seterr(err, errsz,
                       "training example %zu, feature \"%s\": value is not "
                       "finite; fix: drop or repair the example",
                       r, name);
                goto fail;
            }
            if (x == 0.0 || strcmp(name, "bias") == 0) {
                continue;
            }
            c = train_column(d, name);
            if (c < 0) {
                seterr(err, errsz,
                       "training examples have more than %d distinct "
                       "features (at \"%s\" in example %zu); fix: drop rare "
                       "sources or attributes before training",
                       LM_MODEL_MAX_TRAIN_FEATURES, name, r);
                goto fail;
            }
            for (k = d->start[r]; k < nnz; k++) {
                if (d->col[k] == (uint32_t)c) {
                    break;
                }
            }
            if (k < nnz) {
                d->val[k] += x; /* repeated name: summed */
            } else {
                d->col[nnz] = (uint32_t)c;
                d->val[nnz] = x;
                nnz++;
            }
        }
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
        pr = sigmoid(z);
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

lm_model *lm_model_train(const lm_model *base, const lm_train_example *ex,
                         size_t n, const lm_train_opts *opts,
                         const char *version, char *err, size_t errsz) {
    lm_train_opts o = opts != NULL ? *opts : lm_model_train_defaults();
    lm_model *fallback = NULL, *m = NULL;
    lm_train_data *d = NULL;
    double *w = NULL, *g = NULL, *h = NULL, *step = NULL, *wt = NULL;
    char why[128];
    size_t r, j, p, pos = 0;
    int it, converged = 0, ok = 0;

    if (!(o.l2 > 0.0) || !isfinite(o.l2) || o.max_iter <= 0 || !(o.tol > 0.0) ||
        !isfinite(o.tol)) {
        seterr(err, errsz,
               "training options: l2 %g, max_iter %d, tol %g; fix: l2 > 0 "
               "(e.g. 1.0), max_iter > 0 (e.g. 100), tol > 0 (e.g. 1e-9)",
               o.l2, o.max_iter, o.tol);
        goto done;
    }
    if (check_version(version, why, sizeof why) != 0) {
        seterr(err, errsz,
               "training: the version %s; fix: pass a short printable "
               "version, e.g. \"2026-11-25.retrained\"",
               why);
        goto done;
    }
    if (ex == NULL || n == 0) {
        seterr(err, errsz,
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
        seterr(err, errsz,
               "training: all %zu examples have label %d; fix: training "
               "needs both converted (1) and lost (0) leads",
               n, pos == 0 ? 0 : 1);
        goto done;
    }

    p = d->n_cols;
    w = calloc(p, sizeof(*w));
    g = calloc(p, sizeof(*g));
    step = calloc(p, sizeof(*step));
    wt = calloc(p, sizeof(*wt));
    h = calloc(p * p, sizeof(*h));
    if (w == NULL || g == NULL || step == NULL || wt == NULL || h == NULL) {
        seterr(err, errsz, "training: out of memory");
        goto done;
    }
    w[0] = log((double)pos / (double)(n - pos)); /* start at the base rate */

    for (it = 0; it < o.max_iter; it++) {
        double f0, gd = 0.0, t = 1.0, maxstep = 0.0;

        train_derivatives(d, w, o.l2, g, h);
        if (cholesky_solve(h, p, g, step) != 0) {
            seterr(err, errsz,
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
            seterr(err, errsz,
                   "training: the Newton step is not finite at iteration "
                   "%d; fix: raise l2 or check the feature values",
                   it);
            goto done;
        }
        if (maxstep < o.tol) { /* the full step is already tiny: take it */
            for (j = 0; j < p; j++) {
                w[j] -= step[j];
            }
            converged = 1;
            break;
        }
        f0 = train_objective(d, w, o.l2);
        for (;;) {
            for (j = 0; j < p; j++) {
                wt[j] = w[j] - t * step[j];
            }
            if (train_objective(d, wt, o.l2) <= f0 - LM_MODEL_ARMIJO * t * gd ||
                t < LM_MODEL_MIN_STEP) {
                break;
            }
            t *= 0.5;
        }
        memcpy(w, wt, p * sizeof(*w));
        if (t * maxstep < o.tol) {
            converged = 1;
            break;
        }
    }
    if (!converged) {
        seterr(err, errsz,
               "training: no convergence within %d Newton iterations; fix: "
               "raise max_iter or l2, or loosen tol",
               o.max_iter);
        goto done;
    }

    m = model_new();
    if (m == NULL || (m->version = dupstr(version)) == NULL) {
        seterr(err, errsz, "training: out of memory");
        goto done;
    }
    for (j = 0; j < base->n_attrs; j++) {
        if (model_add_attr(m, base->attrs[j]) != 0) {
            seterr(err, errsz, "training: out of memory");
            goto done;
        }
    }
    for (j = 0; j < p; j++) {
        if (!isfinite(w[j])) {
            seterr(err, errsz,
                   "training: weight of \"%s\" is not finite; fix: raise l2",
                   d->names[j]);
            goto done;
        }
        if (model_add_weight(m, d->names[j], w[j]) != 0) {
            seterr(err, errsz, "training: out of memory");
            goto done;
        }
    }
    if (model_finish(m) != 0) {
        seterr(err, errsz, "training: out of memory");
        goto done;
    }
    ok = 1;

done:
    if (!ok) {
        lm_model_free(m);
        m = NULL;
    }
    free(w);
    free(g);
    free(h);
    free(step);
    free(wt);
    train_data_free(d);
    lm_model_free(fallback);
    return m;
}

/* ------------------------------------------------------------ output */

/* A growable output buffer; `failed` latches an allocation failure. */
typedef struct lm_model_buf {
    char *p;
    size_t len, cap;
    int failed;
} lm_model_buf;

static void buf_put(lm_model_buf *b, const char *s, size_t len) {
    if (b->failed) {
        return;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *np;

        while (b->len + len + 1 > cap) {
            cap *= 2;
        }
        np = realloc(b->p, cap);
        if (np == NULL) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static void buf_puts(lm_model_buf *b, const char *s) {
    buf_put(b, s, strlen(s));
}

/* A JSON string literal; s is UTF-8 (jansson checked it at load). */
static void buf_json_string(lm_model_buf *b, const char *s) {
    buf_put(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            buf_put(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            buf_puts(b, esc);
        } else {
            buf_put(b, s, 1);
        }
    }
    buf_put(b, "\"", 1);
}

/* The shortest decimal that reads back as v, always with a '.' or an
 * exponent so that it reads as a real. v is finite. */
static void format_double(double v, char *out, size_t outsz) {
    int prec;

    for (prec = 1; prec <= 17; prec++) {
        snprintf(out, outsz, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            break;
        }
    }
    if (strpbrk(out, ".eE") == NULL) {
        size_t len = strlen(out);

        if (len + 2 < outsz) {
            memcpy(out + len, ".0", 3);
        }
    }
}

static int cmp_name(const void *a, const void *b) {
    const char *const *x = a;
    const char *const *y = b;

    return strcmp(*x, *y);
}

char *lm_model_to_json(const lm_model *m) {
    lm_model_buf b = {NULL, 0, 0, 0};
    const char **sorted = NULL;
    char num[LM_MODEL_NUM_BUF];
    size_t i;

    if (m == NULL) {
        return NULL;
    }
    sorted = malloc((m->n_weights ? m->n_weights : 1) * sizeof(*sorted));
    if (sorted == NULL) {
        return NULL;
    }
    for (i = 0; i < m->n_weights; i++) {
        sorted[i] = m->names[i];
    }
    qsort(sorted, m->n_weights, sizeof(*sorted), cmp_name);

    buf_puts(&b, "{\n");
    if (m->description != NULL) {
        buf_puts(&b, "  \"description\": ");
        buf_json_string(&b, m->description);
        buf_puts(&b, ",\n");
    }
    buf_puts(&b, "  \"format\": \"" LM_MODEL_FORMAT "\",\n");
    buf_puts(&b, "  \"numeric_attributes\": [");
    for (i = 0; i < m->n_attrs; i++) {
        buf_puts(&b, i == 0 ? "\n    " : ",\n    ");
        buf_json_string(&b, m->attrs[i]);
    }
    buf_puts(&b, m->n_attrs ? "\n  ],\n" : "],\n");
    buf_puts(&b, "  \"version\": ");
    buf_json_string(&b, m->version);
    buf_puts(&b, ",\n  \"weights\": {");
    for (i = 0; i < m->n_weights; i++) {
        double wv = 0.0;

        lm_model_weight(m, sorted[i], &wv);
        buf_puts(&b, i == 0 ? "\n    " : ",\n    ");
        buf_json_string(&b, sorted[i]);
        format_double(wv, num, sizeof num);
        buf_puts(&b, ": ");
        buf_puts(&b, num);
    }
    buf_puts(&b, m->n_weights ? "\n  }\n}\n" : "}\n}\n");
    free(sorted);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int lm_model_save(const lm_model *m, const char *path, char *err,
                  size_t errsz) {
    char tmp[LM_MODEL_MAX_PATH];
    char *text = NULL;
    FILE *fp = NULL;
    size_t len;
    int rc = -1, n;

    if (m == NULL || path == NULL || path[0] == '\0') {
        seterr(err, errsz, "save: no model or no path");
        return -1;
    }
    n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        seterr(err, errsz, "%s: path too long (limit %d bytes)", path,
               LM_MODEL_MAX_PATH);
        return -1;
    }
    text = lm_model_to_json(m);
    if (text == NULL) {
        seterr(err, errsz, "%s: out of memory", path);
        return -1;
    }
    len = strlen(text);
    fp = fopen(tmp, "wb");
    if (fp == NULL) {
        seterr(err, errsz,
               "%s: cannot create %s: %s; fix: write to a directory you can "
               "write to",
               path, tmp, strerror(errno));
        goto done;
    }
    if (fwrite(text, 1, len, fp) != len || fflush(fp) != 0 ||
        fsync(fileno(fp)) != 0) {
        seterr(err, errsz, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        seterr(err, errsz, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    fp = NULL;
    if (rename(tmp, path) != 0) {
        seterr(err, errsz, "%s: cannot rename %s over it: %s", path, tmp,
               strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (fp != NULL) {
        fclose(fp);
    }
    if (rc != 0) {
        unlink(tmp);
    }
    free(text);
    return rc;
}
