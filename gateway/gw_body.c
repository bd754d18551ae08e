/* gw_body.c — request bodies to messages (see gw_body.h).
 *
 * In this order: the form decoder, the per-kind table (descriptor,
 * required fields, key field), one item (field-by-field reading,
 * defaults, validation, packing), and the body (content type, object or
 * array). */
#include "gw_body.h"

#include "lm_fmt.h"
#include "lm_intake_check.h"
#include "lm_kafka.h"
#include "lm_pbjson.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GW_ERR_MAX        1024
#define GW_FIELD_MAX      256
#define GW_ATTR_PREFIX    "attributes."
#define GW_NUM_MAX        64
#define GW_FORM_VALUE_MAX (64 * 1024)

/* ================================================================ forms */

static int unhex(int c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes s[0..n) ('+' is a space) into a malloc'd string. */
static char *form_decode(const char *s, size_t n) {
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < n ? unhex((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? unhex((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (strlen(out) != o) { /* %00 */
        free(out);
        return NULL;
    }
    return out;
}

/* Sets name = value in obj (or obj.attributes); -1 with err. */
static int form_set(json_t *obj, const char *name, const char *value, char *err,
                    size_t errsz) {
    json_t *target = obj;
    const char *key = name;
    if (strncmp(name, GW_ATTR_PREFIX, strlen(GW_ATTR_PREFIX)) == 0) {
        key = name + strlen(GW_ATTR_PREFIX);
        target = json_object_get(obj, "attributes");
        if (!target) {
            target = json_object();
            if (!target || json_object_set_new(obj, "attributes", target))
                return lm_errf(err, errsz, "out of memory");
        }
    }
    if (!*key)
        return lm_errf(err, errsz, "%s: a field with no name", name);
    if (json_object_get(target, key))
        return lm_errf(err, errsz, "%s: given twice; give each field once",
                       name);
    json_t *v = json_string(value);
    if (!v)
        return lm_errf(err, errsz, "%s: not UTF-8 text", name);
    if (json_object_set_new(target, key, v) != 0)
        return lm_errf(err, errsz, "out of memory");
    return 0;
}

json_t *gw_form_to_json(const char *body, size_t len, char *err, size_t errsz) {
    json_t *obj = json_object();
    if (!obj) {
        lm_errf(err, errsz, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && body[i + n] != '&')
            n++;
        const char *pair = body + i, *eq = memchr(pair, '=', n);
        i += n + 1;
        if (n == 0)
            continue;
        size_t kn = eq ? (size_t)(eq - pair) : n;
        char *name = form_decode(pair, kn);
        char *value = eq ? form_decode(eq + 1, n - kn - 1) : strdup("");
        int rc = 0;
        if (!name || !value)
            rc = lm_errf(err, errsz,
                         "a field has a bad %%-escape (\"%.40s\"); encode "
                         "the form as application/x-www-form-urlencoded",
                         name ? name : "?");
        else if (*value)
            rc = form_set(obj, name, value, err, errsz);
        free(name);
        free(value);
        if (rc != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

/* ================================================================ kinds */

typedef struct gw_kind_info {
    const ProtobufCMessageDescriptor *d;
    const char *topic;
    const char *key_field;       /* the Kafka key; NULL: a lead's email */
    const char *const *required; /* beyond a lead's own checks */
} gw_kind_info;

static const char *const req_response[] = {"event_id", "lead_id", "kind", NULL};
static const char *const req_activity[] = {"event_id", "action_id", "lead_id",
                                           "owner",    "kind",      NULL};
static const char *const req_status[] = {"event_id", "owner", "status", NULL};

static const gw_kind_info gw_kinds[] = {
    [GW_KIND_LEADS] = {&lastmile__v1__lead_submitted__descriptor,
                       LM_TOPIC_INTAKE, NULL, NULL},
    [GW_KIND_RESPONSES] = {&lastmile__v1__lead_response__descriptor,
                           LM_TOPIC_TIMING, "lead_id", req_response},
    [GW_KIND_ACTIVITIES] = {&lastmile__v1__owner_activity__descriptor,
                            LM_TOPIC_TIMING, "lead_id", req_activity},
    [GW_KIND_OWNER_STATUS] = {&lastmile__v1__owner_status__descriptor,
                              LM_TOPIC_TIMING, "owner", req_status},
};

const char *gw_kind_topic(gw_kind kind) {
    return gw_kinds[kind].topic;
}

/* A string field's value by name ("" when unset or not a string). */
static const char *str_field(const ProtobufCMessage *m, const char *name) {
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING)
        return "";
    const char *v = *(const char *const *)((const char *)m + f->offset);
    return v ? v : "";
}

/* 1 when a required field holds its default (unset). */
static int field_unset(const ProtobufCMessage *m, const char *name) {
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    const char *at = f ? (const char *)m + f->offset : NULL;
    if (!f)
        return 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return str_field(m, name)[0] == '\0';
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_INT32:
        return *(const int32_t *)at == 0;
    case PROTOBUF_C_TYPE_INT64:
        return *(const int64_t *)at == 0;
    default:
        return 0;
    }
}

/* ================================================================ items */

/* Problems of one item go under "[i]." in an array. */
typedef struct item_ctx {
    gw_problems *pr;
    char prefix[32];
    json_t *reported; /* top-level keys already named: no second problem */
} item_ctx;

static void add_prefixed(item_ctx *c, const char *field, const char *what) {
    char f[GW_FIELD_MAX];
    if (c->reported && json_object_get(c->reported, field))
        return;
    if (!*field) /* a key "" in the body: the body is named */
        field = "body";
    snprintf(f, sizeof(f), "%s%s", c->prefix, field);
    gw_problem_add(c->pr, f, "%s", what);
}

#define GW_NO_EVENT_ID                                                         \
    "missing; send an Idempotency-Key header (or an event_id field): one "     \
    "unique id per submission, the same when a request is retried"

static void intake_problem(void *opaque, const char *field, const char *what) {
    if (strcmp(field, "event_id") == 0 && strncmp(what, "missing", 7) == 0)
        what = GW_NO_EVENT_ID;
    add_prefixed(opaque, field, what);
}

/* A lead's attribute values given as numbers or booleans become their
 * JSON text ("7", "2.5", "true"). */
static void attributes_to_strings(json_t *item) {
    json_t *attrs = json_object_get(item, "attributes"), *v;
    const char *k;
    if (!json_is_object(attrs))
        return;
    json_object_foreach(attrs, k, v) {
        if (json_is_number(v) || json_is_boolean(v)) {
            char *text =
                json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
            if (text)
                json_object_set_new(attrs, k, json_string(text));
            free(text);
        }
    }
}

/* Reads every field of `item` on its own, so each bad one is named; the
 * bad ones are taken out of the item (into c->reported), so that the
 * rest is still read and validated. */
static void check_fields(const gw_kind_info *ki, json_t *item, item_ctx *c) {
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(item, tmp, k, v) {
        char err[GW_ERR_MAX];
        json_t *one = json_pack("{s:O}", k, v);
        ProtobufCMessage *m =
            one ? lm_pbjson_to_message(ki->d, one, err, sizeof(err)) : NULL;
        json_decref(one);
        if (m) {
            protobuf_c_message_free_unpacked(m, NULL);
            continue;
        }
        size_t kn = strlen(k);
        const char *sep = strstr(err, ": ");
        if (strncmp(err, k, kn) == 0 && sep && strchr(":.[", err[kn]) != NULL) {
            char field[GW_FIELD_MAX];
            size_t fn = (size_t)(sep - err);
            snprintf(field, sizeof(field), "%.*s", (int)fn, err);
            add_prefixed(c, field, sep + 2);
        } else {
            add_prefixed(c, k, err);
        }
        json_object_set_new(c->reported, k, json_true());
        json_object_del(item, k);
    }
}

/* Fills a missing event_id (from the Idempotency-Key) and, for a lead, a
 * missing submitted_at_ms. */
static void set_defaults(const gw_parse_in *in, json_t *item, size_t i,
                         int array) {
    json_t *id = json_object_get(item, "event_id");
    if ((!id || (json_is_string(id) && !*json_string_value(id))) &&
        in->idem_key && *in->idem_key) {
        char buf[GW_ITEM_ID_MAX];
        if (array)
            snprintf(buf, sizeof(buf), "%s:%zu", in->idem_key, i);
        else
            snprintf(buf, sizeof(buf), "%s", in->idem_key);
        json_object_set_new(item, "event_id", json_string(buf));
    }
    json_t *at = json_object_get(item, "submitted_at_ms");
    if (in->kind == GW_KIND_LEADS && (!at || json_is_null(at)))
        json_object_set_new(item, "submitted_at_ms",
                            json_integer((json_int_t)in->now_ms));
}

/* Validates a read message, fills the item's key and id. 0 / -1. */
static int validate(const gw_parse_in *in, const ProtobufCMessage *m,
                    gw_item *it, item_ctx *c) {
    const gw_kind_info *ki = &gw_kinds[in->kind];
    int bad = 0;
    if (in->kind == GW_KIND_LEADS) {
        lm_intake_norm norm;
        if (lm_intake_check((const Lastmile__V1__LeadSubmitted *)m, in->now_ms,
                            &norm, intake_problem, c) != 0)
            return -1;
        lm_fmt_cat(it->key, sizeof(it->key), norm.email, NULL);
    } else {
        for (const char *const *r = ki->required; *r; r++)
            if (field_unset(m, *r)) {
                add_prefixed(c, *r,
                             strcmp(*r, "event_id") == 0
                                 ? GW_NO_EVENT_ID
                                 : "missing; it is required (see "
                                   "docs/openapi.yaml)");
                bad++;
            }
        const char *id = str_field(m, "event_id");
        if (strlen(id) > LM_INTAKE_EVENT_ID_MAX) {
            char what[96];
            snprintf(what, sizeof(what), "longer than %d bytes",
                     LM_INTAKE_EVENT_ID_MAX);
            add_prefixed(c, "event_id", what);
            bad++;
        }
        if (strlen(str_field(m, ki->key_field)) >= sizeof(it->key)) {
            char what[96];
            snprintf(what, sizeof(what), "longer than %zu bytes",
                     sizeof(it->key) - 1);
            add_prefixed(c, ki->key_field, what);
            bad++;
        }
        if (bad)
            return -1;
        lm_fmt_cat(it->key, sizeof(it->key), str_field(m, ki->key_field), NULL);
    }
    lm_fmt_cat(it->id, sizeof(it->id), str_field(m, "event_id"), NULL);
    return 0;
}

/* The bytes to produce: a lead as it is, the rest inside a TimingEvent. */
static int pack(gw_kind kind, ProtobufCMessage *m, gw_item *it) {
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    const ProtobufCMessage *out = m;
    if (kind == GW_KIND_RESPONSES) {
        ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
        ev.response = (Lastmile__V1__LeadResponse *)m;
        out = &ev.base;
    } else if (kind == GW_KIND_ACTIVITIES) {
        ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_ACTIVITY;
        ev.owner_activity = (Lastmile__V1__OwnerActivity *)m;
        out = &ev.base;
    } else if (kind == GW_KIND_OWNER_STATUS) {
        ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS;
        ev.owner_status = (Lastmile__V1__OwnerStatus *)m;
        out = &ev.base;
    }
    it->len = protobuf_c_message_get_packed_size(out);
    it->value = malloc(it->len ? it->len : 1);
    if (!it->value)
        return -1;
    protobuf_c_message_pack(out, it->value);
    return 0;
}

/* One object of the body into *it. 0, or -1 with its problems added. */
static int read_item(const gw_parse_in *in, const json_t *src, size_t i,
                     int array, gw_item *it, gw_problems *pr) {
    const gw_kind_info *ki = &gw_kinds[in->kind];
    item_ctx c = {pr, "", NULL};
    char err[GW_ERR_MAX];
    int rc = -1;
    if (array)
        snprintf(c.prefix, sizeof(c.prefix), "[%zu].", i);
    if (!json_is_object(src)) {
        char f[GW_FIELD_MAX];
        snprintf(f, sizeof(f), array ? "[%zu]" : "body", i);
        gw_problem_add(pr, f, "expected a JSON object (%s)", ki->d->name);
        return -1;
    }
    json_t *item = json_deep_copy(src);
    c.reported = json_object();
    if (!item || !c.reported) {
        gw_problem_add(pr, "body", "out of memory");
        json_decref(item);
        json_decref(c.reported);
        return -1;
    }
    if (in->kind == GW_KIND_LEADS)
        attributes_to_strings(item);
    set_defaults(in, item, i, array);
    check_fields(ki, item, &c);
    size_t bad = json_object_size(c.reported);
    ProtobufCMessage *m = lm_pbjson_to_message(ki->d, item, err, sizeof(err));
    if (!m) { /* every field read alone: only a oneof clash gets here */
        add_prefixed(&c, "body", err);
        goto done;
    }
    if (validate(in, m, it, &c) == 0 && bad == 0)
        rc = pack(in->kind, m, it) == 0 ? 0 : -1;
    protobuf_c_message_free_unpacked(m, NULL);
done:
    json_decref(item);
    json_decref(c.reported);
    return rc;
}

/* ================================================================= body */

/* 1 when ctype is `want` (case-insensitive), parameters allowed. */
static int ctype_is(const char *ctype, const char *want) {
    size_t n = strlen(want);
    if (!ctype)
        return 0;
    while (*ctype == ' ')
        ctype++;
    return strncasecmp(ctype, want, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* The body as JSON (an object or an array), or NULL with the status. */
static json_t *body_json(const gw_parse_in *in, gw_problems *pr,
                         unsigned *status, char *detail, size_t detailsz) {
    int form = ctype_is(in->ctype, "application/x-www-form-urlencoded");
    json_t *j = NULL;
    char err[GW_ERR_MAX];
    if (!ctype_is(in->ctype, "application/json") &&
        !(form && in->kind == GW_KIND_LEADS)) {
        *status = 415;
        snprintf(detail, detailsz,
                 "Content-Type \"%.80s\" is not accepted here; send "
                 "application/json%s",
                 in->ctype ? in->ctype : "(none)",
                 in->kind == GW_KIND_LEADS
                     ? " or application/x-www-form-urlencoded"
                     : "");
        return NULL;
    }
    if (form) {
        j = gw_form_to_json(in->body, in->len, err, sizeof(err));
    } else {
        json_error_t je;
        j = json_loadb(in->body, in->len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
            snprintf(err, sizeof(err),
                     "not JSON: %s (line %d, column %d); send one JSON "
                     "object, or an array of them",
                     je.text, je.line, je.column);
    }
    if (!j) {
        gw_problem_add(pr, "body", "%s", err);
        *status = 400;
        snprintf(detail, detailsz, "the body could not be read");
    }
    return j;
}

unsigned gw_body_parse(const gw_parse_in *in, gw_items *out, gw_problems *pr,
                       char *detail, size_t detailsz) {
    unsigned status = 0;
    memset(out, 0, sizeof(*out));
    if (detailsz > 0)
        detail[0] = '\0';
    json_t *j = body_json(in, pr, &status, detail, detailsz);
    if (!j)
        return status;
    size_t n = json_is_array(j) ? json_array_size(j) : 1;
    out->array = json_is_array(j);
    if (out->array && n == 0) {
        gw_problem_add(pr, "body", "an empty array; send at least one item");
        status = 400;
    } else if (n > in->batch_max) {
        snprintf(detail, detailsz,
                 "%zu items in one array; at most %zu "
                 "(LASTMILE_GATEWAY_BATCH_MAX): split the array",
                 n, in->batch_max);
        status = 413;
    } else if ((out->v = calloc(n, sizeof(gw_item))) == NULL) {
        gw_problem_add(pr, "body", "out of memory");
        status = 400;
    }
    for (size_t i = 0; status == 0 && i < n; i++) {
        const json_t *src = out->array ? json_array_get(j, i) : j;
        read_item(in, src, i, out->array, &out->v[i], pr);
        out->n = i + 1; /* a bad item's buffers are freed with the rest */
    }
    json_decref(j);
    if ((status == 0 || status == 400) && gw_problem_count(pr) > 0) {
        status = 400;
        snprintf(detail, detailsz,
                 "%zu field%s to fix (see errors); nothing was accepted",
                 gw_problem_count(pr), gw_problem_count(pr) == 1 ? "" : "s");
    }
    if (status != 0)
        gw_items_free(out);
    return status;
}

void gw_items_free(gw_items *items) {
    if (!items)
        return;
    for (size_t i = 0; i < items->n; i++)
        free(items->v[i].value);
    free(items->v);
    memset(items, 0, sizeof(*items));
}
