/* lm_intake_check.c — LeadSubmitted validation and normalisation (see
 * lm_intake_check.h).
 *
 * One function per field (or group of fields that depend on each other:
 * the time zone on the country, the phone on the country); each reports
 * its problem through the checker and returns, so every field is looked
 * at once and a problem in one does not hide another. */
#include "lm_intake_check.h"

#include "lm_fmt.h"
#include "lm_geo.h"
#include "lm_lead.h"
#include "lm_phone_tz.h"
#include "lm_tz.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct checker {
    lm_intake_problem_fn fn;
    void *opaque;
    int n; /* problems so far */
} checker;

/* Reports one problem; returns -1 (for `return bad(...)`). */
__attribute__((format(printf, 3, 4))) static int
bad(checker *c, const char *field, const char *fmt, ...) {
    char what[LM_INTAKE_PROBLEM_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    c->n++;
    if (c->fn)
        c->fn(c->opaque, field, what);
    return -1;
}

/* Trimmed copy of src into dst; -1 when it does not fit. */
static int trim_copy(const char *src, char *dst, size_t dstsz) {
    if (!src)
        src = "";
    while (isspace((unsigned char)*src))
        src++;
    size_t n = strlen(src);
    while (n > 0 && isspace((unsigned char)src[n - 1]))
        n--;
    if (n >= dstsz)
        return -1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

static int has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static void lower(char *s) {
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* A practical email check: one '@', a local part of allowed characters,
 * a domain of dot-separated labels with a letter-only TLD of 2+. */
static int email_ok(const char *e) {
    const char *at = strchr(e, '@');
    if (!at || at == e || strchr(at + 1, '@') || at - e > 64)
        return 0;
    for (const char *p = e; p < at; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".!#$%&'*+/=?^_`{|}~-", *p))
            return 0;
    if (e[0] == '.' || at[-1] == '.' || strstr(e, ".."))
        return 0;
    const char *d = at + 1, *last_dot = strrchr(d, '.');
    if (!*d || !last_dot || last_dot == d || strlen(last_dot + 1) < 2)
        return 0;
    for (const char *p = last_dot + 1; *p; p++)
        if (!isalpha((unsigned char)*p))
            return 0;
    size_t label = 0;
    for (const char *p = d; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)*p) || (*p == '-' && label > 0)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

/* ================================================================ fields */

static int check_event_id(checker *c, const char *id) {
    if (!id || !*id)
        return bad(c, "event_id",
                   "missing; the producer must set a unique id per "
                   "submission (its idempotency key)");
    if (strlen(id) > LM_INTAKE_EVENT_ID_MAX || has_control(id))
        return bad(c, "event_id",
                   "longer than %d bytes or has control characters",
                   LM_INTAKE_EVENT_ID_MAX);
    return 0;
}

static int check_source(checker *c, const char *src, lm_intake_norm *out) {
    if (trim_copy(src, out->source, sizeof(out->source)) != 0)
        return bad(c, "source", "longer than %d bytes", LM_INTAKE_SOURCE_MAX);
    if (!out->source[0])
        return bad(c, "source",
                   "missing; say where the lead came from, e.g. "
                   "\"web_form\"");
    lower(out->source);
    return 0;
}

static int check_email(checker *c, const char *email, lm_intake_norm *out) {
    if (trim_copy(email, out->email, sizeof(out->email)) != 0)
        return bad(c, "email", "longer than %d bytes", LM_INTAKE_EMAIL_MAX);
    if (!out->email[0])
        return bad(c, "email", "missing; every lead needs an email address");
    lower(out->email);
    if (!email_ok(out->email))
        return bad(c, "email", "not an address (expected name@example.com)");
    lm_fmt_cat(out->domain, sizeof(out->domain), strchr(out->email, '@') + 1,
               NULL);
    return 0;
}

/* An optional text field: trimmed, bounded, no control characters. */
static int check_text(checker *c, const char *field, const char *src, char *dst,
                      size_t dstsz) {
    if (trim_copy(src, dst, dstsz) != 0)
        return bad(c, field, "longer than %d bytes", LM_INTAKE_TEXT_MAX);
    if (has_control(dst))
        return bad(c, field, "control characters are not allowed");
    return 0;
}

/* The country, then the phone (its region) and the time zone (given, else
 * the phone's, else the country's), which need it. */
static void check_place(checker *c, const Lastmile__V1__LeadSubmitted *in,
                        lm_intake_norm *out) {
    char country[8];
    const struct lm_geo_country *geo = NULL;
    if (trim_copy(in->country, country, sizeof(country)) == 0)
        geo = lm_geo_country(country);
    if (!geo)
        bad(c, "country",
            "\"%.16s\" is not an ISO 3166-1 alpha-2 code (e.g. "
            "\"DE\", \"US\")",
            in->country ? in->country : "");
    else
        lm_fmt_cat(out->country, sizeof(out->country), geo->alpha2, NULL);
    if (in->phone && *in->phone && geo) {
        char perr[256];
        if (lm_geo_phone_e164(in->phone, out->country, out->phone,
                              sizeof(out->phone), perr, sizeof(perr)) != 0)
            bad(c, "phone", "%s", perr);
    }
    if (trim_copy(in->timezone, out->timezone, sizeof(out->timezone)) != 0) {
        bad(c, "timezone", "longer than %d bytes", LM_INTAKE_TEXT_MAX);
    } else if (!out->timezone[0] && geo) {
        /* none given: the phone's zone when the phone is in the lead's
           country (a (415) number is Pacific), else the country's */
        const char *tz = lm_phone_tz_lead(out->phone, geo->alpha2);
        lm_fmt_cat(out->timezone, sizeof(out->timezone), tz ? tz : geo->tz,
                   NULL);
    } else if (out->timezone[0] && !lm_tz_valid(out->timezone)) {
        bad(c, "timezone",
            "\"%.64s\" is not an IANA time zone (e.g. "
            "\"Europe/Berlin\"); leave it empty to use the phone's or the "
            "country's",
            out->timezone);
    }
}

static void check_attributes(checker *c,
                             const Lastmile__V1__LeadSubmitted *in) {
    if (in->n_attributes > LM_INTAKE_ATTRS_MAX) {
        bad(c, "attributes", "%zu entries; at most %d", in->n_attributes,
            LM_INTAKE_ATTRS_MAX);
        return;
    }
    for (size_t i = 0; i < in->n_attributes; i++) {
        const char *k = in->attributes[i]->key, *v = in->attributes[i]->value;
        if (!k || !*k || strlen(k) > LM_INTAKE_ATTR_KEY_MAX || has_control(k)) {
            bad(c, "attributes",
                "key %zu is empty, longer than %d bytes or has control "
                "characters",
                i, LM_INTAKE_ATTR_KEY_MAX);
        } else if (v && strlen(v) > LM_INTAKE_ATTR_VALUE_MAX) {
            char field[LM_INTAKE_ATTR_KEY_MAX + 16];
            snprintf(field, sizeof(field), "attributes[%s]", k);
            bad(c, field, "value longer than %d bytes",
                LM_INTAKE_ATTR_VALUE_MAX);
        }
    }
}

/* ================================================================== API */

int lm_intake_check(const Lastmile__V1__LeadSubmitted *in, int64_t now_ms,
                    lm_intake_norm *out, lm_intake_problem_fn fn,
                    void *opaque) {
    checker c = {fn, opaque, 0};
    memset(out, 0, sizeof(*out));
    check_event_id(&c, in->event_id);
    check_source(&c, in->source, out);
    check_email(&c, in->email, out);
    check_text(&c, "full_name", in->full_name, out->full_name,
               sizeof(out->full_name));
    check_text(&c, "company", in->company, out->company, sizeof(out->company));
    check_text(&c, "title", in->title, out->title, sizeof(out->title));
    if (in->company_size < 0 || in->company_size > LM_INTAKE_COMPANY_SIZE_MAX)
        bad(&c, "company_size", "%d is out of range 0..%d (0 = unknown)",
            (int)in->company_size, LM_INTAKE_COMPANY_SIZE_MAX);
    check_place(&c, in, out);
    if (in->submitted_at_ms < LM_INTAKE_MIN_TIME_MS)
        bad(&c, "submitted_at_ms",
            "%lld is not a time after 2000-01-01 in milliseconds since the "
            "epoch",
            (long long)in->submitted_at_ms);
    else if (in->submitted_at_ms > now_ms + LM_INTAKE_MAX_FUTURE_MS)
        bad(&c, "submitted_at_ms", "%lld is more than a day in the future",
            (long long)in->submitted_at_ms);
    check_attributes(&c, in);
    if (c.n == 0)
        lm_lead_person(out->email, out->person);
    return c.n;
}

typedef struct first_problem {
    char *reason;
    size_t reasonsz;
    int seen;
} first_problem;

static void keep_first(void *opaque, const char *field, const char *what) {
    first_problem *f = opaque;
    if (f->seen++ == 0)
        snprintf(f->reason, f->reasonsz, "%s: %s", field, what);
}

int lm_intake_normalise(const Lastmile__V1__LeadSubmitted *in, int64_t now_ms,
                        lm_intake_norm *out, char *reason, size_t reasonsz) {
    first_problem f = {reason, reasonsz, 0};
    return lm_intake_check(in, now_ms, out, keep_first, &f) == 0 ? 0 : -1;
}
