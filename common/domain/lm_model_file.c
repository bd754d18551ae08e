/* lm_model_file.c — the model file: JSON in (lm_model_parse,
 * lm_model_load, the built-in default) and JSON out (lm_model_to_json,
 * lm_model_save).
 *
 * Reading checks every key and value and names the file, then the line
 * and column (syntax) or the key (content), then the fix. Writing is
 * canonical (keys sorted, shortest round-trip numbers), so a saved model
 * reads back bit for bit. Numbers are read with strtod and written with
 * snprintf, so the process must run in the "C" numeric locale (no worker
 * calls setlocale). No state between calls; any thread. */
#include "lm_model_internal.h"

#include "lm_buf.h"
#include "lm_fmt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define LM_MODEL_MAX_PATH     4096 /* bytes of a model file path */
#define LM_MODEL_READ_CHUNK   65536
#define LM_MODEL_NUM_BUF      40 /* a formatted double */
#define LM_MODEL_BUILTIN_NAME "<built-in model>"
#define LM_MODEL_DEFAULT_NAME "<model>"

/* ------------------------------------------------------------ reading */

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

static int parse_attrs(lm_model *m, json_t *arr, const char *file, char *err,
                       size_t errsz) {
    size_t i, j;
    json_t *v;

    if (!json_is_array(arr)) {
        lm_errf(err, errsz,
                "%s: \"numeric_attributes\" is %s; fix: make it an array of "
                "attribute keys, e.g. [\"pages_viewed\", \"demo_requested\"]",
                file, json_type_name(arr));
        return -1;
    }
    if (json_array_size(arr) > LM_MODEL_MAX_NUMERIC_ATTRS) {
        lm_errf(err, errsz,
                "%s: \"numeric_attributes\" has %zu keys, more than the limit "
                "of %d; fix: keep the %d that matter most",
                file, json_array_size(arr), LM_MODEL_MAX_NUMERIC_ATTRS,
                LM_MODEL_MAX_NUMERIC_ATTRS);
        return -1;
    }
    json_array_foreach(arr, i, v) {
        const char *key = json_string_value(v);

        if (key == NULL) {
            lm_errf(err, errsz,
                    "%s: numeric_attributes[%zu] is %s; fix: write the "
                    "attribute key as a string, e.g. \"pages_viewed\"",
                    file, i, json_type_name(v));
            return -1;
        }
        if (key[0] == '\0' || strlen(key) > LM_MODEL_MAX_ATTR_KEY_LEN ||
            !lm_model_printable(key)) {
            lm_errf(err, errsz,
                    "%s: numeric_attributes[%zu] \"%s\" is empty, longer "
                    "than %d bytes or has a control character; fix: use the "
                    "key producers send in LeadSubmitted.attributes",
                    file, i, key, LM_MODEL_MAX_ATTR_KEY_LEN);
            return -1;
        }
        for (j = 0; j < m->n_attrs; j++) {
            if (strcmp(m->attrs[j], key) == 0) {
                lm_errf(err, errsz,
                        "%s: numeric_attributes lists \"%s\" twice; fix: "
                        "remove the duplicate",
                        file, key);
                return -1;
            }
        }
        if (lm_model_add_attr(m, key) != 0) {
            lm_errf(err, errsz, "%s: out of memory", file);
            return -1;
        }
    }
    return 0;
}

/* The line of `"key":` in text (1-based), or 0 when it is not found. */
static int key_line(const char *text, size_t len, const char *key) {
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 2 <= len; i++) {
        if (text[i] != '"' || memcmp(text + i + 1, key, kl) != 0 ||
            text[i + 1 + kl] != '"')
            continue;
        size_t j = i + kl + 2;
        while (j < len && isspace((unsigned char)text[j]))
            j++;
        if (j < len && text[j] == ':') {
            int line = 1;
            for (size_t k = 0; k < i; k++)
                line += text[k] == '\n';
            return line;
        }
    }
    return 0;
}

/* "file:line" of a weight's key into buf (just "file" when not found). */
static const char *where(const char *file, const char *text, size_t len,
                         const char *key, char *buf, size_t bufsz) {
    int line = key_line(text, len, key);
    if (line > 0)
        snprintf(buf, bufsz, "%s:%d", file, line);
    else
        snprintf(buf, bufsz, "%s", file);
    return buf;
}

/* A weight's name is one some lead can produce, and its value is in
 * range: otherwise the model would quietly never use it (a misspelt
 * "titel=vp", an attribute not in numeric_attributes), or overflow a score
 * to NaN (weights of +-1e308 add up to inf - inf). 0 / -1 with err. */
static int check_weight(const lm_model *m, const char *name, double w,
                        const char *at, char *err, size_t errsz) {
    const char *hint;
    size_t ap = strlen(LM_MODEL_ATTR_PREFIX);
    if (fabs(w) > LM_MODEL_MAX_ABS_WEIGHT)
        return lm_errf(err, errsz,
                       "%s: weights[\"%s\"] is %g, outside -%d..%d; fix: a "
                       "weight is in logits, and %d already means certainty",
                       at, name, w, LM_MODEL_MAX_ABS_WEIGHT,
                       LM_MODEL_MAX_ABS_WEIGHT, LM_MODEL_MAX_ABS_WEIGHT);
    if (lm_model_feature_known(m, name, &hint))
        return 0;
    if (strncmp(name, LM_MODEL_ATTR_PREFIX, ap) == 0)
        return lm_errf(err, errsz,
                       "%s: weights[\"%s\"] weighs attribute \"%s\", which "
                       "is not in \"numeric_attributes\"; fix: add \"%s\" to "
                       "numeric_attributes, or remove the weight",
                       at, name, name + ap, name + ap);
    return lm_errf(err, errsz,
                   "%s: weights[\"%s\"] is not a feature any lead has%s%s%s; "
                   "fix: use bias, log_company_size, title=<c_level|vp|"
                   "director|manager|individual|unknown>, region=<NA|EMEA|"
                   "APAC|LATAM|OTHER>, source=<lower-case source> or "
                   "attr:<a numeric attribute>",
                   at, name, hint ? " (did you mean \"" : "", hint ? hint : "",
                   hint ? "\"?)" : "");
}

static int parse_weights(lm_model *m, json_t *obj, const char *text, size_t len,
                         const char *file, char *err, size_t errsz) {
    const char *name;
    json_t *v;
    char at[600];

    if (!json_is_object(obj)) {
        lm_errf(err, errsz,
                "%s: \"weights\" is %s; fix: make it an object of feature "
                "name to weight, e.g. {\"bias\": -2.0, \"title=vp\": 1.0}",
                file, json_type_name(obj));
        return -1;
    }
    if (json_object_size(obj) > LM_MODEL_MAX_WEIGHTS) {
        lm_errf(err, errsz,
                "%s: \"weights\" has %zu entries, more than the limit of "
                "%d; fix: drop features that never fire",
                file, json_object_size(obj), LM_MODEL_MAX_WEIGHTS);
        return -1;
    }
    json_object_foreach(obj, name, v) {
        double w;

        if (name[0] == '\0' || strlen(name) > LM_MODEL_MAX_NAME_LEN) {
            lm_errf(err, errsz,
                    "%s: weights key \"%.80s\" is empty or longer than %d "
                    "bytes; fix: use a feature name such as \"title=vp\" or "
                    "\"attr:pages_viewed\"",
                    file, name, LM_MODEL_MAX_NAME_LEN);
            return -1;
        }
        if (!json_is_number(v)) {
            lm_errf(err, errsz,
                    "%s: weights[\"%s\"] is %s, not a finite number; fix: "
                    "write a number in logits, e.g. \"%s\": 0.5",
                    file, name, json_type_name(v), name);
            return -1;
        }
        w = json_number_value(v);
        if (!isfinite(w)) {
            lm_errf(err, errsz,
                    "%s: weights[\"%s\"] is not a finite number; fix: write "
                    "a number in logits, e.g. \"%s\": 0.5",
                    file, name, name);
            return -1;
        }
        if (check_weight(m, name, w,
                         where(file, text, len, name, at, sizeof(at)), err,
                         errsz) != 0)
            return -1;
        if (lm_model_add_weight(m, name, w) != 0) { /* names are unique */
            lm_errf(err, errsz, "%s: out of memory", file);
            return -1;
        }
    }
    if (lm_model_find(m, "bias") < 0) {
        lm_errf(err, errsz,
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

/* The text before JSON parsing: present, within the size limit, not
 * blank. 0/-1. */
static int check_text(const char *json, size_t len, const char *file, char *err,
                      size_t errsz) {
    size_t blank;

    if (json == NULL) {
        return lm_errf(err, errsz, "%s: no model text", file);
    }
    if (len > LM_MODEL_MAX_FILE_BYTES) {
        return lm_errf(err, errsz,
                       "%s: %zu bytes, more than the model file limit of %u; "
                       "fix: check that this is a model file",
                       file, len, (unsigned)LM_MODEL_MAX_FILE_BYTES);
    }
    for (blank = 0; blank < len && isspace((unsigned char)json[blank]);
         blank++) {
    }
    if (blank == len) {
        return lm_errf(err, errsz,
                       "%s: the model file is empty; fix: write a model (see "
                       "config/model.json) or leave LASTMILE_MODEL empty for "
                       "the built-in default",
                       file);
    }
    return 0;
}

/* The top level: an object of known keys with the one format. 0/-1. */
static int check_top(json_t *root, const char *file, char *err, size_t errsz) {
    const char *key, *s;
    json_t *v;

    if (!json_is_object(root)) {
        return lm_errf(err, errsz,
                       "%s: the top level is %s; fix: a model file is one "
                       "JSON object {\"format\": \"" LM_MODEL_FORMAT
                       "\", \"version\": ..., \"weights\": {...}}",
                       file, json_type_name(root));
    }
    json_object_foreach(root, key, v) {
        if (strcmp(key, "format") != 0 && strcmp(key, "version") != 0 &&
            strcmp(key, "description") != 0 &&
            strcmp(key, "numeric_attributes") != 0 &&
            strcmp(key, "weights") != 0) {
            return lm_errf(err, errsz,
                           "%s: unknown key \"%.80s\"; fix: remove it or "
                           "correct its spelling (the keys are format, "
                           "version, description, numeric_attributes, "
                           "weights)",
                           file, key);
        }
    }
    v = json_object_get(root, "format");
    if (v == NULL) {
        return lm_errf(err, errsz,
                       "%s: missing \"format\"; fix: add \"format\": "
                       "\"" LM_MODEL_FORMAT "\"",
                       file);
    }
    s = json_string_value(v);
    if (s == NULL || strcmp(s, LM_MODEL_FORMAT) != 0) {
        return lm_errf(err, errsz,
                       "%s: \"format\" is %s%.80s%s, a format this lastmile "
                       "does not read; fix: set \"format\": \"" LM_MODEL_FORMAT
                       "\" and the weights that format describes",
                       file, s != NULL ? "\"" : "",
                       s != NULL ? s : json_type_name(v),
                       s != NULL ? "\"" : "");
    }
    return 0;
}

/* "version" and "description" into m. 0/-1. */
static int parse_meta(lm_model *m, json_t *root, const char *file, char *err,
                      size_t errsz) {
    json_t *v = json_object_get(root, "version");
    const char *s = json_string_value(v);
    char why[128];

    if (v == NULL) {
        return lm_errf(err, errsz,
                       "%s: missing \"version\"; fix: add a version string "
                       "that names this model, e.g. \"version\": "
                       "\"2026-11-25.retrained\"",
                       file);
    }
    if (s == NULL) {
        return lm_errf(err, errsz,
                       "%s: \"version\" is %s; fix: write it as a string, "
                       "e.g. \"version\": \"2026-11-25.retrained\"",
                       file, json_type_name(v));
    }
    if (lm_model_check_version(s, why, sizeof why) != 0) {
        return lm_errf(err, errsz,
                       "%s: \"version\" %s; fix: use a short printable name, "
                       "e.g. \"2026-11-25.retrained\"",
                       file, why);
    }
    if ((m->version = lm_model_strdup(s)) == NULL) {
        return lm_errf(err, errsz, "%s: out of memory", file);
    }
    v = json_object_get(root, "description");
    if (v == NULL) {
        return 0;
    }
    s = json_string_value(v);
    if (s == NULL || strlen(s) > LM_MODEL_MAX_DESCRIPTION_LEN) {
        return lm_errf(err, errsz,
                       "%s: \"description\" is %s; fix: make it a string of "
                       "at most %d bytes, or remove it",
                       file, s == NULL ? json_type_name(v) : "too long",
                       LM_MODEL_MAX_DESCRIPTION_LEN);
    }
    if ((m->description = lm_model_strdup(s)) == NULL) {
        return lm_errf(err, errsz, "%s: out of memory", file);
    }
    return 0;
}

lm_model *lm_model_parse(const char *json, size_t len,
                         const char *filename_for_errors, char *err,
                         size_t errsz) {
    const char *file =
        filename_for_errors != NULL && filename_for_errors[0] != '\0'
            ? filename_for_errors
            : LM_MODEL_DEFAULT_NAME;
    json_error_t jerr;
    json_t *root = NULL, *v;
    lm_model *m = NULL;

    if (check_text(json, len, file, err, errsz) != 0) {
        return NULL;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        lm_errf(err, errsz, "%s:%d:%d: invalid JSON: %s; fix: %s", file,
                jerr.line, jerr.column, jerr.text, syntax_fix(&jerr));
        return NULL;
    }
    if (check_top(root, file, err, errsz) != 0) {
        goto fail;
    }
    if ((m = lm_model_alloc()) == NULL) {
        lm_errf(err, errsz, "%s: out of memory", file);
        goto fail;
    }
    if (parse_meta(m, root, file, err, errsz) != 0) {
        goto fail;
    }
    v = json_object_get(root, "numeric_attributes");
    if (v != NULL && parse_attrs(m, v, file, err, errsz) != 0) {
        goto fail;
    }
    v = json_object_get(root, "weights");
    if (v == NULL) {
        lm_errf(err, errsz,
                "%s: missing \"weights\"; fix: add \"weights\": {\"bias\": "
                "-2.0, ...} with one weight per feature",
                file);
        goto fail;
    }
    if (parse_weights(m, v, json, len, file, err, errsz) != 0) {
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
        lm_errf(err, errsz,
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
                lm_errf(err, errsz,
                        "%s: more than the model file limit of %u bytes; "
                        "fix: check that this is a model file",
                        path, (unsigned)LM_MODEL_MAX_FILE_BYTES);
                goto done;
            }
            nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                lm_errf(err, errsz, "%s: out of memory", path);
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
        lm_errf(err, errsz, "%s: read error: %s", path, strerror(errno));
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
        return lm_model_parse(lm_model_default_json, lm_model_default_json_len,
                              LM_MODEL_BUILTIN_NAME, err, errsz);
    }
    if (read_file(path, &text, &len, err, errsz) != 0) {
        return NULL;
    }
    m = lm_model_parse(text, len, path, err, errsz);
    free(text);
    return m;
}

/* ------------------------------------------------------------ output */

/* A growable output buffer; `failed` latches an allocation failure. */
typedef struct lm_model_buf {
    lm_buf b;
    int failed;
} lm_model_buf;

static void buf_put(lm_model_buf *b, const char *s, size_t len) {
    if (!b->failed && lm_buf_append(&b->b, s, len) < 0) {
        b->failed = 1;
    }
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
    lm_model_buf b = {{NULL, 0, 0}, 0};
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
        sorted[i] = lm_strmap_key(m->index, i, NULL);
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
    buf_put(&b, "", 1); /* the NUL */
    if (b.failed) {
        lm_buf_free(&b.b);
        return NULL;
    }
    return b.b.data; /* the caller frees */
}

int lm_model_save(const lm_model *m, const char *path, char *err,
                  size_t errsz) {
    char tmp[LM_MODEL_MAX_PATH];
    char *text = NULL;
    FILE *fp = NULL;
    size_t len;
    int rc = -1, n;

    if (m == NULL || path == NULL || path[0] == '\0') {
        lm_errf(err, errsz, "save: no model or no path");
        return -1;
    }
    n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        lm_errf(err, errsz, "%s: path too long (limit %d bytes)", path,
                LM_MODEL_MAX_PATH);
        return -1;
    }
    text = lm_model_to_json(m);
    if (text == NULL) {
        lm_errf(err, errsz, "%s: out of memory", path);
        return -1;
    }
    len = strlen(text);
    fp = fopen(tmp, "wb");
    if (fp == NULL) {
        lm_errf(err, errsz,
                "%s: cannot create %s: %s; fix: write to a directory you can "
                "write to",
                path, tmp, strerror(errno));
        goto done;
    }
    if (fwrite(text, 1, len, fp) != len || fflush(fp) != 0 ||
        fsync(fileno(fp)) != 0) {
        lm_errf(err, errsz, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        lm_errf(err, errsz, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    fp = NULL;
    if (rename(tmp, path) != 0) {
        lm_errf(err, errsz, "%s: cannot rename %s over it: %s", path, tmp,
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
