/* lm_pbjson.c — protobuf-c ↔ JSON by descriptor (see lm_pbjson.h).
 *
 * Layout facts of protobuf-c this file relies on (protobuf-c.h):
 *   - a field's value lives at `offset` in the message struct; a repeated
 *     field's element count is a size_t at `quantifier_offset` and its
 *     value is a malloc'd array of elements;
 *   - a oneof member's `quantifier_offset` is the oneof's uint32_t case,
 *     which holds the set member's field number (0 = none); members share
 *     storage (a union);
 *   - an optional field of a non-pointer type has a protobuf_c_boolean
 *     `has_` at `quantifier_offset`;
 *   - a map<K,V> field is a repeated message of a generated entry type
 *     "<FieldInCamelCase>Entry" with fields key = 1 and value = 2;
 *   - protobuf_c_message_free_unpacked frees every string, bytes buffer,
 *     sub-message and array that differs from the descriptor's default.
 * The JSON → message direction is lm_pbjson_parse.c; the schema helpers
 * both use are here (lm_pbjson_internal.h).
 *
 * Thread-safe: no state beyond the arguments. */
#include "lm_pbjson_internal.h"

#include "lm_env.h"
#include "lm_topics.h"
#include "lm_utf8.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ schema helpers */

size_t pbj_elt_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return sizeof(int32_t);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(uint32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return sizeof(int64_t);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* Whether a singular field has a `has_` flag at quantifier_offset. */
int pbj_has_flag(const ProtobufCFieldDescriptor *f) {
    return f->label == PROTOBUF_C_LABEL_OPTIONAL &&
           !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
           f->type != PROTOBUF_C_TYPE_STRING &&
           f->type != PROTOBUF_C_TYPE_MESSAGE;
}

/* Whether a field is a map: a repeated "<CamelName>Entry" message whose
 * fields are exactly key = 1 and value = 2 (what protoc generates). */
int pbj_is_map(const ProtobufCFieldDescriptor *f) {
    if (f->label != PROTOBUF_C_LABEL_REPEATED ||
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    const ProtobufCMessageDescriptor *e = f->descriptor;
    if (e->n_fields != 2 || strcmp(e->fields[0].name, "key") != 0 ||
        e->fields[0].id != 1 || strcmp(e->fields[1].name, "value") != 0 ||
        e->fields[1].id != 2)
        return 0;
    char want[PBJSON_NAME_MAX];
    size_t o = 0;
    int up = 1;
    for (const char *p = f->name; *p && o + 1 < sizeof(want); p++) {
        if (*p == '_') {
            up = 1;
            continue;
        }
        want[o++] = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        up = 0;
    }
    want[o] = '\0';
    return strlen(e->short_name) == o + strlen("Entry") &&
           strncmp(e->short_name, want, o) == 0 &&
           strcmp(e->short_name + o, "Entry") == 0;
}

/* ------------------------------------------------------------- base64 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *lm_pbjson_base64_encode(const uint8_t *data, size_t len) {
    size_t outlen = (len + 2) / 3 * 4;
    char *out = malloc(outlen + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int lm_pbjson_base64_decode(const char *s, size_t slen, uint8_t **out,
                            size_t *outlen) {
    *out = NULL;
    *outlen = 0;
    /* padding only at the end, at most two, and only to a multiple of 4 */
    size_t n = slen;
    while (n > 0 && s[n - 1] == '=' && slen - n < 2)
        n--;
    if (n < slen && slen % 4 != 0)
        return -1;
    if (n % 4 == 1)
        return -1;
    size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len == 0)
        return n == 0 ? 0 : -1;
    uint8_t *buf = malloc(len);
    if (!buf)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out = buf;
    *outlen = o;
    return 0;
}

/* ------------------------------------------------- message → JSON */

/* A JSON string of s; bytes that are not UTF-8 become U+FFFD. */
static json_t *string_json(const char *s) {
    size_t n = s ? strlen(s) : 0;
    json_t *j = json_stringn(s ? s : "", n);
    if (j)
        return j;
    char *fixed = malloc(n * 3 + 1);
    if (!fixed)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = lm_utf8_seq(u + i, n - i);
        if (k == 0) {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(fixed + o, u + i, k);
            o += k;
            i += k;
        }
    }
    j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

static json_t *double_json(double v) {
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static json_t *message_json(const ProtobufCMessage *m);

/* One value of field f stored at p. */
static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t v = *(const uint64_t *)p;
        if (v <= (uint64_t)INT64_MAX)
            return json_integer((json_int_t)v);
        char text[PBJSON_NUMBER_MAX]; /* beyond json_int_t: as text */
        snprintf(text, sizeof(text), "%" PRIu64, v);
        return json_string(text);
    }
    case PROTOBUF_C_TYPE_FLOAT:
        return double_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return double_json(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        return ev ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING:
        return string_json(*(char *const *)p);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char *text = lm_pbjson_base64_encode(b->data, b->len);
        json_t *j = text ? json_string(text) : NULL;
        free(text);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        return sub ? message_json(sub) : json_null();
    }
    }
    return NULL;
}

/* The text of a map key (JSON object keys are strings). */
static json_t *map_key_text(const ProtobufCFieldDescriptor *kf, const void *p) {
    if (kf->type == PROTOBUF_C_TYPE_STRING)
        return string_json(*(char *const *)p);
    if (kf->type == PROTOBUF_C_TYPE_BOOL)
        return json_string(*(const protobuf_c_boolean *)p ? "true" : "false");
    json_t *v = value_json(kf, p);
    if (!v || json_is_string(v))
        return v;
    char text[PBJSON_NUMBER_MAX];
    snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
             json_integer_value(v));
    json_decref(v);
    return json_string(text);
}

static json_t *map_json(const ProtobufCFieldDescriptor *f, size_t n,
                        ProtobufCMessage *const *entries) {
    const ProtobufCMessageDescriptor *e = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &e->fields[0], *vf = &e->fields[1];
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < n; i++) {
        const uint8_t *base = (const uint8_t *)entries[i];
        json_t *k = map_key_text(kf, base + kf->offset);
        json_t *v = value_json(vf, base + vf->offset);
        if (!k || !v ||
            json_object_setn_new(obj, json_string_value(k),
                                 json_string_length(k), v) != 0) {
            if (k && v)
                v = NULL; /* setn_new consumed it */
            json_decref(k);
            json_decref(v);
            json_decref(obj);
            return NULL;
        }
        json_decref(k);
    }
    return obj;
}

static json_t *field_json(const ProtobufCMessage *m,
                          const ProtobufCFieldDescriptor *f) {
    const uint8_t *base = (const uint8_t *)m;
    const void *p = base + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)(base + f->quantifier_offset);
        const uint8_t *arr = *(const uint8_t *const *)p;
        if (pbj_is_map(f))
            return map_json(f, n, (ProtobufCMessage *const *)arr);
        json_t *a = json_array();
        size_t sz = pbj_elt_size(f->type);
        for (size_t i = 0; a && i < n; i++)
            if (json_array_append_new(a, value_json(f, arr + i * sz)) != 0) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    return value_json(f, p);
}

/* Whether a singular field is present in the output. */
static int field_present(const ProtobufCMessage *m,
                         const ProtobufCFieldDescriptor *f) {
    const uint8_t *base = (const uint8_t *)m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) ==
               (uint32_t)f->id;
    if (pbj_has_flag(f))
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
    if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
        return *(void *const *)(base + f->offset) != NULL;
    return 1;
}

static json_t *message_json(const ProtobufCMessage *m) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    json_t *obj = json_object();
    for (unsigned i = 0; obj && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REPEATED && !field_present(m, f))
            continue;
        if (json_object_set_new(obj, f->name, field_json(m, f)) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

json_t *lm_pbjson_from_message(const ProtobufCMessage *m) {
    return m ? message_json(m) : NULL;
}

/* ------------------------------------------------------------ topics */

/* The one table of topic types is the domain's (lm_topics.h). */
const ProtobufCMessageDescriptor *lm_pbjson_topic_type(const char *suffix) {
    return lm_topics_type(suffix);
}
