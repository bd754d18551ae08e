/* lm_model.h — the qualification model: a logistic scorer over lead features.
 *
 * What it is
 *   A lead (LeadAccepted) is turned into a small set of named numeric
 *   features; the model holds one weight per feature name; the score is
 *   sigmoid(sum w_i * x_i), and the reasons are the features that moved the
 *   logit most. Weights come from a model file users can replace
 *   (LASTMILE_MODEL), or from the built-in default (config/model.json,
 *   compiled in at build time). Training a new model from labelled
 *   outcomes (`lastmile train`) is a tool: common/tools/lm_train.h.
 *
 * Features (fixed extraction; lm_model_features() emits them in this order,
 * and only those whose value is non-zero)
 *   bias                 always 1.
 *   log_company_size     ln(1 + company_size); absent when company_size <= 0
 *                        (unknown).
 *   title=<seniority>    exactly one of c_level, vp, director, manager,
 *                        individual, unknown; see lm_model_title_seniority().
 *   source=<source>      the lead's source in lower case (ASCII); absent when
 *                        the source is empty or longer than
 *                        LM_MODEL_MAX_SOURCE_LEN bytes.
 *   region=<region>      exactly one of NA, EMEA, APAC, LATAM, OTHER: the
 *                        `region` argument matched case-insensitively; NULL,
 *                        empty or anything else is OTHER. The caller looks
 *                        the region up (lm_geo) so this module stays pure.
 *   attr:<key>           ln(1 + v) for every key listed in the model's
 *                        "numeric_attributes", where v is the lead's
 *                        attributes[key] parsed as a number; a missing,
 *                        non-numeric, non-finite or negative value counts as
 *                        0 (and so emits nothing).
 *
 * Model file (JSON, UTF-8)
 *   {
 *     "format": "lastmile-logistic-v1",          required, exactly this
 *     "version": "2026-11-25.default",           required, non-empty
 *     "description": "...",                      optional
 *     "numeric_attributes": ["pages_viewed"],    optional, unique keys
 *     "weights": {"bias": -3.1, "title=vp": 1.0} required, needs "bias"
 *   }
 *   Weights are finite numbers within +-LM_MODEL_MAX_ABS_WEIGHT, each for a
 *   feature some lead can produce: a misspelt name ("titel=vp", with a
 *   "did you mean"), a source= in upper case, or attr:<key> for a key not
 *   in "numeric_attributes" would never fire, and a huge weight would turn
 *   a score into NaN, so they are errors too. So are any other top-level
 *   key, a duplicate key, a missing or unknown format, a missing version,
 *   no bias and malformed JSON; the message names the file, then the line
 *   and column (syntax) or the line and key (content), then the fix.
 *
 * Invariants
 *   A loaded lm_model is immutable: every weight finite, "bias" present,
 *   every name at most LM_MODEL_MAX_NAME_LEN bytes, at most
 *   LM_MODEL_MAX_WEIGHTS weights and LM_MODEL_MAX_NUMERIC_ATTRS attributes.
 *
 * Ownership
 *   lm_model_load/parse/new return a model the caller frees with
 *   lm_model_free(). lm_model_to_json() returns a string the caller frees.
 *   lm_features is caller-allocated and never allocates; its feature names
 *   point into static storage, into the model (attr:<key>, so the features
 *   must not outlive the model) or into the features' own `names` buffer
 *   (source=<source>).
 *
 * Threads
 *   A model is read-only after it is built: any number of threads may call
 *   lm_model_features/score/version/to_json on one model at once. No
 *   function here keeps global mutable state.
 *
 * Hot path
 *   lm_model_features() and lm_model_score() allocate nothing; a weight is
 *   found through an lm_strmap built at load.
 */
#ifndef LM_MODEL_H
#define LM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "lastmile/v1/lastmile.pb-c.h"

/* ------------------------------------------------------------ limits */

/* LM_MODEL_MAX_FEATURES: active features of one lead.
 * LM_MODEL_FEATURE_NAMES_SIZE: bytes of names one lm_features holds itself.
 * LM_MODEL_MAX_NAME_LEN: bytes of a feature name (fits lm_reason.feature).
 * LM_MODEL_MAX_SOURCE_LEN: longer sources emit no source= feature. */
#define LM_MODEL_MAX_FEATURES        64
#define LM_MODEL_FEATURE_NAMES_SIZE  512
#define LM_MODEL_MAX_NAME_LEN        63
#define LM_MODEL_MAX_SOURCE_LEN      48
#define LM_MODEL_MAX_ATTR_KEY_LEN    48   /* a numeric attribute key */
#define LM_MODEL_MAX_NUMERIC_ATTRS   32   /* keys in "numeric_attributes" */
#define LM_MODEL_MAX_WEIGHTS         4096 /* entries in "weights" */
#define LM_MODEL_MAX_ABS_WEIGHT      100  /* |weight| in logits */
#define LM_MODEL_MAX_VERSION_LEN     128  /* bytes of "version" */
#define LM_MODEL_MAX_DESCRIPTION_LEN 1024 /* bytes of "description" */
#define LM_MODEL_MAX_FILE_BYTES      (4u << 20) /* bytes of a model file */

#define LM_MODEL_FORMAT "lastmile-logistic-v1"

/* ------------------------------------------------------------ features */

/* One feature. `name` points into static storage, into the model, or into
 * the owning lm_features' `names` buffer (see lm_model_features_name()). */
typedef struct lm_feature {
    const char *name;
    double value;
} lm_feature;

/* The active features of one lead: caller-allocated, no heap.
 *
 * Start from lm_model_features() (which fills it), lm_model_features_init()
 * or a zero-initialised struct; add hand-made features with
 * lm_model_features_add(). A plain struct copy (`a = b`) is safe for every
 * function in this module, which read names through name_off; but a copy's
 * items[i].name may still point into the original's buffer, so read names
 * of a copy with lm_model_features_name() or copy with
 * lm_model_features_copy(). The fields after `n` are private. */
typedef struct lm_features {
    lm_feature items[LM_MODEL_MAX_FEATURES];
    size_t n;
    /* private: 1 + offset into names of items[i].name when it lives there,
     * 0 when items[i].name points elsewhere */
    uint16_t name_off[LM_MODEL_MAX_FEATURES];
    size_t names_used;
    char names[LM_MODEL_FEATURE_NAMES_SIZE];
} lm_features;

/* Title seniority, derived from a free-text job title. */
typedef enum lm_model_seniority {
    LM_MODEL_SENIORITY_UNKNOWN = 0, /* empty title, or no word in it */
    LM_MODEL_SENIORITY_INDIVIDUAL,  /* any other non-empty title */
    LM_MODEL_SENIORITY_MANAGER,     /* manager, mgr, lead, leader, supervisor */
    LM_MODEL_SENIORITY_DIRECTOR,    /* director */
    LM_MODEL_SENIORITY_VP,          /* vp, svp, evp, avp, "vice president",
                                       "head of" */
    LM_MODEL_SENIORITY_C_LEVEL,     /* ceo cto cfo coo cmo cro cio ciso cpo
                                       cdo, chief, founder, cofounder,
                                       owner, president */
} lm_model_seniority;

/* The seniority of a job title. Word-based and case-insensitive: the title
 * is split into words at every character that is not an ASCII letter or
 * digit, and the most senior rule any word matches wins
 * (c_level > vp > director > manager > individual). "President" preceded by
 * "vice" is vp; "head" followed by "of" is vp; "owner" preceded by
 * "product" (the Scrum role) and any c-level word after the word "to"
 * ("Assistant to the CEO") do not count as c_level. Words are ASCII; other
 * bytes separate words. NULL or a title with no words is unknown.
 * E.g. "Senior Director of Sales" -> director, "Head of Growth" -> vp,
 * "Co-Founder & CEO" -> c_level, "Team Lead" -> manager. */
lm_model_seniority lm_model_title_seniority(const char *title);

/* "c_level", "vp", "director", "manager", "individual" or "unknown": the
 * name used in the title=<seniority> feature. Static storage. */
const char *lm_model_seniority_name(lm_model_seniority s);

/* Empty `f` (n = 0, names buffer empty). No heap. */
void lm_model_features_init(lm_features *f);

/* Append a feature, copying `name` into f's own buffer. 0, or -1 (f
 * unchanged) when f is full, the buffer is full, or name is NULL, empty or
 * longer than LM_MODEL_MAX_NAME_LEN. No heap. */
int lm_model_features_add(lm_features *f, const char *name, double value);

/* The name of feature i, valid for as long as `f` (and, for names that
 * point into a model, that model) lives; correct after a plain struct copy.
 * NULL when i >= f->n. */
const char *lm_model_features_name(const lm_features *f, size_t i);

/* Copy src into dst so that dst's names point into dst's own buffer (or the
 * same static/model storage as src's). No heap. */
void lm_model_features_copy(lm_features *dst, const lm_features *src);

/* ------------------------------------------------------------ the model */

typedef struct lm_model lm_model;

/* Load a model file. path NULL or "" loads the built-in default. On error
 * returns NULL and writes a message (file, line/column or key, fix) to err.
 * Caller frees with lm_model_free(). */
lm_model *lm_model_load(const char *path, char *err, size_t errsz);

/* Parse a model from `len` bytes of JSON (need not be NUL-terminated).
 * filename_for_errors names the source in messages (NULL: "<model>").
 * Caller frees with lm_model_free(). */
lm_model *lm_model_parse(const char *json, size_t len,
                         const char *filename_for_errors, char *err,
                         size_t errsz);

/* The built-in default model file: the bytes of config/model.json,
 * compiled in at build time (common/CMakeLists.txt, lm_embed), then a NUL;
 * _len excludes the NUL. Static storage. */
extern const char lm_model_default_json[];
extern const size_t lm_model_default_json_len;

/* A model from parts, checked as a model file's content is (for training
 * and tests): `version` non-empty, printable, at most
 * LM_MODEL_MAX_VERSION_LEN bytes; n_attrs unique numeric attribute keys
 * (at most LM_MODEL_MAX_NUMERIC_ATTRS, each 1..LM_MODEL_MAX_ATTR_KEY_LEN
 * printable bytes); n_weights weights names[i] -> weights[i] (at most
 * LM_MODEL_MAX_WEIGHTS, names unique and 1..LM_MODEL_MAX_NAME_LEN bytes,
 * values finite, "bias" among them), kept in the given order. No
 * description. The arrays are only read. Caller frees with lm_model_free;
 * NULL and a message in err when a check fails or memory runs out. */
lm_model *lm_model_new(const char *version, const char *const *attrs,
                       size_t n_attrs, const char *const *names,
                       const double *weights, size_t n_weights, char *err,
                       size_t errsz);

/* Checks a model version as lm_model_new does: 0, or -1 and what is wrong
 * ("is empty", ...) in why. */
int lm_model_check_version(const char *version, char *why, size_t whysz);

/* Free a model and everything it owns. Accepts NULL. */
void lm_model_free(lm_model *m);

/* The model's "version", owned by the model. */
const char *lm_model_version(const lm_model *m);

/* The weight of feature `name`: 0 and *w set when the model has it, -1
 * (and *w = 0) when not. */
int lm_model_weight(const lm_model *m, const char *name, double *w);

/* How many weights the model has, and the i-th in file order (name owned by
 * the model). lm_model_weight_at returns -1 when i is out of range. */
size_t lm_model_n_weights(const lm_model *m);
int lm_model_weight_at(const lm_model *m, size_t i, const char **name,
                       double *w);

/* The model's numeric attribute keys, in file order (owned by the model);
 * NULL when i is out of range. */
size_t lm_model_n_numeric_attributes(const lm_model *m);
const char *lm_model_numeric_attribute(const lm_model *m, size_t i);

/* Extract the features of `lead` (see the top of this file) into *out,
 * which is overwritten. `region` is the lead's region (NA, EMEA, APAC,
 * LATAM, OTHER) or NULL. m may be NULL (no attr: features). lead NULL gives
 * n = 0. No heap; out's names point into m, so out must not outlive m. */
void lm_model_features(const lm_model *m,
                       const Lastmile__V1__LeadAccepted *lead,
                       const char *region, lm_features *out);

/* One reason behind a score: the feature and weight * value, in logits. */
typedef struct lm_reason {
    char feature[64]; /* NUL-terminated; LM_MODEL_MAX_NAME_LEN bytes fit */
    double contribution;
} lm_reason;

/* score = sigmoid(sum w_i x_i) over f's features (a feature the model has
 * no weight for contributes 0; a repeated name counts each time). Fills up
 * to n_top reasons: the features with the largest |w_i x_i|, excluding
 * "bias" and zero contributions, strongest first (ties in feature order).
 * Returns the number of reasons written. score and top may be NULL (top
 * only when n_top is 0). No heap. */
size_t lm_model_score(const lm_model *m, const lm_features *f, double *score,
                      lm_reason *top, size_t n_top);

/* 1 / (1 + e^-z), computed without overflow for any finite z. */
double lm_model_sigmoid(double z);

/* ------------------------------------------------------------ output */

/* The model as a model file: JSON, 2-space indent, keys sorted (bytewise),
 * numeric_attributes in model order, each weight the shortest decimal that
 * reads back to the same double, trailing newline. NULL on allocation
 * failure. Caller frees with free(). */
char *lm_model_to_json(const lm_model *m);

/* Write lm_model_to_json(m) to path (through a temporary file in the same
 * directory, renamed over path). 0, or -1 with a message in err. */
int lm_model_save(const lm_model *m, const char *path, char *err, size_t errsz);

#endif /* LM_MODEL_H */
