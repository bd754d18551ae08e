/* lm_pbjson_parse.c — JSON → protobuf-c message by descriptor (see
 * lm_pbjson.h; the layout facts of protobuf-c it relies on are listed atop
 * lm_pbjson.c).
 *
 * Invariant: after every step the message under construction is one that
 * protobuf_c_message_free_unpacked releases completely (array counts only
 * ever count filled elements; a oneof case is set right after its member),
 * so every failure path is a single free. Errors name the field's path.
 *
 * Thread-safe: no state beyond the arguments. */
#include "lm_pbjson_internal.h"

#include "lm_env.h"
#include "lm_utf8.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------- JSON → message */

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static const char *type_name(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return "int32";
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return "uint32";
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return "int64";
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return "uint64";
    case PROTOBUF_C_TYPE_FLOAT:
        return "float";
    case PROTOBUF_C_TYPE_DOUBLE:
        return "double";
    case PROTOBUF_C_TYPE_BOOL:
        return "bool";
    case PROTOBUF_C_TYPE_ENUM:
        return "enum";
    case PROTOBUF_C_TYPE_STRING:
        return "string";
    case PROTOBUF_C_TYPE_BYTES:
        return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE:
        return "message";
    }
    return "?";
}

/* "path: expected WHAT, got KIND" */
static int expected(const char *path, const char *what, const json_t *v,
                    char *err, size_t errsz) {
    if (json_is_string(v))
        snprintf(err, errsz, "%s: expected %s, got string \"%s\"", path, what,
                 json_string_value(v));
    else
        snprintf(err, errsz, "%s: expected %s, got %s", path, what,
                 json_kind(v));
    return -1;
}

/* path.name into out; a path too long for out is cut (it only labels an
 * error). */
static void path_join(char *out, size_t outsz, const char *path,
                      const char *name) {
    int n = *path ? snprintf(out, outsz, "%s.%s", path, name)
                  : snprintf(out, outsz, "%s", name);
    if (n < 0)
        out[0] = '\0';
}

/* path[i] into out, cut like path_join. */
static void path_index(char *out, size_t outsz, const char *path, size_t i) {
    int n = snprintf(out, outsz, "%s[%zu]", path, i);
    if (n < 0)
        out[0] = '\0';
}

/* Integers: a JSON integer or a decimal string, within [min,max]. */
static int int_value(const ProtobufCFieldDescriptor *f, const json_t *v,
                     int64_t min, int64_t max, int64_t *out, const char *path,
                     char *err, size_t errsz) {
    char what[64];
    snprintf(what, sizeof(what), "%s (a whole number)", type_name(f->type));
    int64_t x;
    if (json_is_integer(v))
        x = json_integer_value(v);
    else if (!json_is_string(v) ||
             lm_parse_int64(json_string_value(v), INT64_MIN, INT64_MAX, &x) !=
                 0)
        return expected(path, what, v, err, errsz);
    if (x < min || x > max) {
        snprintf(err, errsz, "%s: %" PRId64 " is out of range for %s", path, x,
                 type_name(f->type));
        return -1;
    }
    *out = x;
    return 0;
}

static int uint64_value(const json_t *v, uint64_t *out, const char *path,
                        char *err, size_t errsz) {
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (*s >= '0' && *s <= '9' && end && *end == '\0' && errno == 0) {
            *out = x;
            return 0;
        }
    }
    return expected(path, "uint64 (a whole number >= 0)", v, err, errsz);
}

static int double_value(const ProtobufCFieldDescriptor *f, const json_t *v,
                        double *out, const char *path, char *err,
                        size_t errsz) {
    const char *what = f->type == PROTOBUF_C_TYPE_FLOAT ? "float (a number)"
                                                        : "double (a number)";
    if (json_is_number(v)) {
        *out = json_number_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else if (lm_parse_double(s, -DBL_MAX, DBL_MAX, out) != 0)
            return expected(path, what, v, err, errsz);
    } else {
        return expected(path, what, v, err, errsz);
    }
    if (f->type == PROTOBUF_C_TYPE_FLOAT && isfinite(*out) &&
        fabs(*out) > FLT_MAX) {
        snprintf(err, errsz, "%s: %g is out of range for float", path, *out);
        return -1;
    }
    return 0;
}

static int enum_value(const ProtobufCFieldDescriptor *f, const json_t *v,
                      int *out, const char *path, char *err, size_t errsz) {
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    if (json_is_string(v)) {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(ed,
                                                         json_string_value(v));
        if (ev) {
            *out = ev->value;
            return 0;
        }
        int n = snprintf(err, errsz, "%s: \"%s\" is not a %s (one of", path,
                         json_string_value(v), ed->name);
        for (unsigned i = 0; i < ed->n_values && n >= 0 && (size_t)n < errsz;
             i++)
            n += snprintf(err + n, errsz - (size_t)n, "%s %s", i ? "," : ":",
                          ed->values[i].name);
        if (n >= 0 && (size_t)n < errsz)
            snprintf(err + n, errsz - (size_t)n, ")");
        return -1;
    }
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < INT32_MIN || x > INT32_MAX) {
            snprintf(err, errsz,
                     "%s: %" JSON_INTEGER_FORMAT " is out of range for %s",
                     path, x, ed->name);
            return -1;
        }
        *out = (int)x;
        return 0;
    }
    char what[160];
    snprintf(what, sizeof(what), "%s (a name or a number)", ed->name);
    return expected(path, what, v, err, errsz);
}

static ProtobufCMessage *message_from(const ProtobufCMessageDescriptor *d,
                                      const json_t *j, const char *path,
                                      char *err, size_t errsz);

/* One value of field f from v into the element storage at dst. */
static int value_from(const ProtobufCFieldDescriptor *f, const json_t *v,
                      void *dst, const char *path, char *err, size_t errsz) {
    int64_t x;
    double dv;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (int_value(f, v, INT32_MIN, INT32_MAX, &x, path, err, errsz) != 0)
            return -1;
        *(int32_t *)dst = (int32_t)x;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (int_value(f, v, 0, UINT32_MAX, &x, path, err, errsz) != 0)
            return -1;
        *(uint32_t *)dst = (uint32_t)x;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (int_value(f, v, INT64_MIN, INT64_MAX, &x, path, err, errsz) != 0)
            return -1;
        *(int64_t *)dst = x;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return uint64_value(v, dst, path, err, errsz);
    case PROTOBUF_C_TYPE_FLOAT:
        if (double_value(f, v, &dv, path, err, errsz) != 0)
            return -1;
        *(float *)dst = (float)dv;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return double_value(f, v, dst, path, err, errsz);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return expected(path, "bool (true or false)", v, err, errsz);
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return enum_value(f, v, dst, path, err, errsz);
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return expected(path, "string", v, err, errsz);
        size_t n = json_string_length(v);
        if (memchr(json_string_value(v), '\0', n)) {
            snprintf(err, errsz, "%s: a string may not hold a NUL character",
                     path);
            return -1;
        }
        char *s = malloc(n + 1);
        if (!s) {
            snprintf(err, errsz, "%s: out of memory", path);
            return -1;
        }
        memcpy(s, json_string_value(v), n + 1);
        *(char **)dst = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = dst;
        if (!json_is_string(v))
            return expected(path, "bytes (a base64 string)", v, err, errsz);
        if (lm_pbjson_base64_decode(json_string_value(v), json_string_length(v),
                                    &b->data, &b->len) != 0) {
            snprintf(err, errsz, "%s: \"%s\" is not base64", path,
                     json_string_value(v));
            return -1;
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub =
            message_from(f->descriptor, v, path, err, errsz);
        if (!sub)
            return -1;
        *(ProtobufCMessage **)dst = sub;
        return 0;
    }
    }
    snprintf(err, errsz, "%s: unsupported field type", path);
    return -1;
}

/* A map key from the text of a JSON object key. */
static int map_key_from(const ProtobufCFieldDescriptor *kf, const char *key,
                        size_t keylen, void *dst, const char *path, char *err,
                        size_t errsz) {
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0) {
            snprintf(err, errsz, "%s: map key must be true or false", path);
            return -1;
        }
        *(protobuf_c_boolean *)dst = strcmp(key, "true") == 0;
        return 0;
    }
    json_t *k = json_stringn_nocheck(key, keylen);
    if (!k) {
        snprintf(err, errsz, "%s: out of memory", path);
        return -1;
    }
    int rc = value_from(kf, k, dst, path, err, errsz);
    json_decref(k);
    return rc;
}

static int map_from(const ProtobufCFieldDescriptor *f, const json_t *v,
                    uint8_t *base, const char *path, char *err, size_t errsz) {
    if (!json_is_object(v))
        return expected(path, "object (a map)", v, err, errsz);
    size_t n = json_object_size(v);
    if (n == 0)
        return 0;
    ProtobufCMessage **arr = calloc(n, sizeof(*arr));
    if (!arr) {
        snprintf(err, errsz, "%s: out of memory", path);
        return -1;
    }
    size_t *count = (size_t *)(base + f->quantifier_offset);
    *(ProtobufCMessage ***)(base + f->offset) = arr;
    *count = 0;
    const ProtobufCMessageDescriptor *e = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &e->fields[0], *vf = &e->fields[1];
    const char *key;
    size_t keylen;
    json_t *val;
    /* jansson's iteration API takes a non-const object; it does not
     * modify it. */
    json_object_keylen_foreach((json_t *)v, key, keylen, val) {
        char sub[PBJSON_PATH_MAX];
        path_join(sub, sizeof(sub), path, key);
        ProtobufCMessage *entry = malloc(e->sizeof_message);
        if (!entry) {
            snprintf(err, errsz, "%s: out of memory", sub);
            return -1;
        }
        protobuf_c_message_init(e, entry);
        arr[(*count)++] = entry;
        uint8_t *eb = (uint8_t *)entry;
        if (map_key_from(kf, key, keylen, eb + kf->offset, sub, err, errsz) !=
            0)
            return -1;
        if (json_is_null(val))
            continue; /* null means "the default" */
        if (value_from(vf, val, eb + vf->offset, sub, err, errsz) != 0)
            return -1;
    }
    return 0;
}

static int repeated_from(const ProtobufCFieldDescriptor *f, const json_t *v,
                         uint8_t *base, const char *path, char *err,
                         size_t errsz) {
    if (pbj_is_map(f))
        return map_from(f, v, base, path, err, errsz);
    char what[160];
    snprintf(what, sizeof(what), "array of %s",
             f->type == PROTOBUF_C_TYPE_MESSAGE
                 ? ((const ProtobufCMessageDescriptor *)f->descriptor)->name
                 : type_name(f->type));
    if (!json_is_array(v))
        return expected(path, what, v, err, errsz);
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    size_t sz = pbj_elt_size(f->type);
    uint8_t *arr = calloc(n, sz);
    if (!arr) {
        snprintf(err, errsz, "%s: out of memory", path);
        return -1;
    }
    size_t *count = (size_t *)(base + f->quantifier_offset);
    *(uint8_t **)(base + f->offset) = arr;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        char sub[PBJSON_PATH_MAX];
        path_index(sub, sizeof(sub), path, i);
        if (value_from(f, json_array_get(v, i), arr + i * sz, sub, err,
                       errsz) != 0)
            return -1;
        (*count)++;
    }
    return 0;
}

static int field_from(const ProtobufCMessageDescriptor *d,
                      const ProtobufCFieldDescriptor *f, const json_t *v,
                      ProtobufCMessage *m, const char *path, char *err,
                      size_t errsz) {
    uint8_t *base = (uint8_t *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return repeated_from(f, v, base, path, err, errsz);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
        if (*which != 0 && *which != (uint32_t)f->id) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(d, (unsigned)*which);
            snprintf(err, errsz,
                     "%s: both %s and %s are set; they are one oneof and take "
                     "one member",
                     path, other ? other->name : "?", f->name);
            return -1;
        }
        if (value_from(f, v, base + f->offset, path, err, errsz) != 0)
            return -1;
        *which = (uint32_t)f->id;
        return 0;
    }
    if (value_from(f, v, base + f->offset, path, err, errsz) != 0)
        return -1;
    if (pbj_has_flag(f))
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    return 0;
}

static void unknown_field(const ProtobufCMessageDescriptor *d, const char *key,
                          const char *path, char *err, size_t errsz) {
    int n = *path ? snprintf(err, errsz, "%s: unknown field \"%s\" in %s", path,
                             key, d->name)
                  : snprintf(err, errsz, "unknown field \"%s\" in %s", key,
                             d->name);
    for (unsigned i = 0; i < d->n_fields && n >= 0 && (size_t)n < errsz; i++)
        n += snprintf(err + n, errsz - (size_t)n, "%s%s",
                      i ? ", " : " (fields: ", d->fields[i].name);
    if (n >= 0 && (size_t)n < errsz)
        snprintf(err + n, errsz - (size_t)n, ")");
}

static ProtobufCMessage *message_from(const ProtobufCMessageDescriptor *d,
                                      const json_t *j, const char *path,
                                      char *err, size_t errsz) {
    if (!json_is_object(j)) {
        char what[160];
        snprintf(what, sizeof(what), "object (%s)", d->name);
        if (*path)
            expected(path, what, j, err, errsz);
        else
            snprintf(err, errsz, "expected a JSON object (%s), got %s", d->name,
                     j ? json_kind(j) : "nothing");
        return NULL;
    }
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (!m) {
        snprintf(err, errsz, "%s: out of memory", *path ? path : d->name);
        return NULL;
    }
    protobuf_c_message_init(d, m);
    const char *key;
    size_t keylen;
    json_t *v;
    /* jansson's iteration API takes a non-const object; it does not
     * modify it. */
    json_object_keylen_foreach((json_t *)j, key, keylen, v) {
        const ProtobufCFieldDescriptor *f =
            strlen(key) == keylen
                ? protobuf_c_message_descriptor_get_field_by_name(d, key)
                : NULL;
        if (!f) {
            unknown_field(d, key, path, err, errsz);
            goto fail;
        }
        if (json_is_null(v))
            continue; /* null means "the default" */
        char sub[PBJSON_PATH_MAX];
        path_join(sub, sizeof(sub), path, f->name);
        if (field_from(d, f, v, m, sub, err, errsz) != 0)
            goto fail;
    }
    return m;
fail:
    protobuf_c_message_free_unpacked(m, NULL);
    return NULL;
}

ProtobufCMessage *lm_pbjson_to_message(const ProtobufCMessageDescriptor *d,
                                       const json_t *j, char *err,
                                       size_t errsz) {
    if (errsz)
        err[0] = '\0';
    return message_from(d, j, "", err, errsz);
}
