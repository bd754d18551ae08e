/* lm_model_features.c — a lead as the model sees it: the named features
 * of lm_model_features() (bias, company size, title seniority, source,
 * region, numeric attributes; defined at the top of lm_model.h) and the
 * word rules of lm_model_title_seniority().
 *
 * Hot path: lm_model_features() writes only into the caller's lm_features
 * (no heap); feature names point into static storage, into the model
 * (attr:<key>) or into the features' own buffer (source=<source>).
 * Pure functions; any thread. */
#include "lm_model_internal.h"

#include "lm_suggest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LM_MODEL_MAX_WORD      24 /* bytes of one title word we compare */
#define LM_MODEL_SOURCE_PREFIX "source="

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

/* The first bytes are compared before strcmp: every word of every title
 * goes through the lists (issue 16). */
static int word_in(const char *w, const char *const *list) {
    for (; *list != NULL; list++) {
        if (w[0] == (*list)[0] && strcmp(w, *list) == 0) {
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

/* ---------------------------------------------------- the feature names */

static const char *const lm_model_fixed_features[] = {
    "bias",          "log_company_size", "title=unknown", "title=individual",
    "title=manager", "title=director",   "title=vp",      "title=c_level",
    "region=NA",     "region=EMEA",      "region=APAC",   "region=LATAM",
    "region=OTHER",
};
#define LM_MODEL_N_FIXED                                                       \
    (sizeof(lm_model_fixed_features) / sizeof(lm_model_fixed_features[0]))

/* A source= name lm_model_features can emit: lower case, not too long. */
static int source_feature_ok(const char *src) {
    if (!*src || strlen(src) > LM_MODEL_MAX_SOURCE_LEN)
        return 0;
    for (const char *p = src; *p; p++)
        if (isupper((unsigned char)*p))
            return 0;
    return 1;
}

int lm_model_feature_known(const lm_model *m, const char *name,
                           const char **hint) {
    const char *cands[LM_MODEL_N_FIXED + LM_MODEL_MAX_NUMERIC_ATTRS];
    size_t n = 0;

    *hint = NULL;
    for (size_t i = 0; i < LM_MODEL_N_FIXED; i++) {
        if (strcmp(name, lm_model_fixed_features[i]) == 0)
            return 1;
        cands[n++] = lm_model_fixed_features[i];
    }
    for (size_t i = 0; i < m->n_attrs && n < sizeof(cands) / sizeof(*cands);
         i++) {
        if (strcmp(name, m->attr_features[i]) == 0)
            return 1;
        cands[n++] = m->attr_features[i];
    }
    if (strncmp(name, LM_MODEL_SOURCE_PREFIX, strlen(LM_MODEL_SOURCE_PREFIX)) ==
            0 &&
        source_feature_ok(name + strlen(LM_MODEL_SOURCE_PREFIX)))
        return 1;
    *hint = lm_suggest(name, cands, n);
    return 0;
}
