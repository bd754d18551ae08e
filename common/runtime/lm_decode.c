/* lm_decode.c — protobuf decode plus proto3's UTF-8 rule (see lm_decode.h).
 *
 * Also refused: an unknown field numbered 0 (has_field_zero says why).
 * The walk follows the descriptor: singular and repeated strings, nested
 * and repeated messages (map entries are repeated messages), and a oneof
 * member only when it is the one set. Depth is bounded by the contracts
 * (LM_DECODE_DEPTH_MAX guards against a recursive type).
 *
 * lm_decode and lm_decode_in share one path (decode_with); they differ
 * only in protobuf-c's allocator: malloc, or the arena's (whose free does
 * nothing: protobuf-c's own scratch and a refused message stay in the
 * arena until lm_decode_in rewinds it or its owner resets it). */
#include "lm_decode.h"

#include "lm_utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LM_DECODE_DEPTH_MAX 16

/* Index of the first byte of s not in a well-formed sequence, or -1. */
static long bad_utf8_at(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t k = lm_utf8_seq(p + i, n - i);
        if (k == 0)
            return (long)i;
        i += k;
    }
    return -1;
}

static int field_present(const ProtobufCMessage *m,
                         const ProtobufCFieldDescriptor *f) {
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return 1;
    uint32_t which;
    memcpy(&which, (const char *)m + f->quantifier_offset, sizeof(which));
    return which == f->id;
}

static int walk(const ProtobufCMessage *m, char *path, size_t pathsz,
                size_t used, size_t *at, int depth);

/* Appends ".name" or "name[i]" to path at `used`; the new length. */
static size_t path_push(char *path, size_t pathsz, size_t used,
                        const char *name, long index) {
    int n = index < 0 ? snprintf(path + used, pathsz - used, "%s%s",
                                 used ? "." : "", name)
                      : snprintf(path + used, pathsz - used, "%s%s[%ld]",
                                 used ? "." : "", name, index);
    size_t add = n < 0 ? 0 : (size_t)n;
    return used + add < pathsz ? used + add : pathsz - 1;
}

static int check_value(const ProtobufCFieldDescriptor *f, const void *v,
                       char *path, size_t pathsz, size_t used, long index,
                       size_t *at, int depth) {
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char *const *)v;
        long bad = s ? bad_utf8_at(s) : -1;
        if (bad < 0)
            return 0;
        path_push(path, pathsz, used, f->name, index);
        *at = (size_t)bad;
        return 1;
    }
    const ProtobufCMessage *sub = *(ProtobufCMessage *const *)v;
    if (f->type != PROTOBUF_C_TYPE_MESSAGE || !sub)
        return 0;
    size_t u = path_push(path, pathsz, used, f->name, index);
    return walk(sub, path, pathsz, u, at, depth + 1);
}

static int walk(const ProtobufCMessage *m, char *path, size_t pathsz,
                size_t used, size_t *at, int depth) {
    if (depth > LM_DECODE_DEPTH_MAX)
        return 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if ((f->type != PROTOBUF_C_TYPE_STRING &&
             f->type != PROTOBUF_C_TYPE_MESSAGE) ||
            !field_present(m, f))
            continue;
        const char *base = (const char *)m + f->offset;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (check_value(f, base, path, pathsz, used, -1, at, depth))
                return 1;
            continue;
        }
        size_t n;
        memcpy(&n, (const char *)m + f->quantifier_offset, sizeof(n));
        void *const *arr = *(void *const *const *)base;
        for (size_t k = 0; k < n; k++)
            if (check_value(f, &arr[k], path, pathsz, used, (long)k, at, depth))
                return 1;
    }
    path[used] = '\0';
    return 0;
}

/* 1 when m or a message inside it kept an unknown field numbered 0.
 * Field numbers start at 1; protobuf-c 1.4 accepts a 0 written in a
 * two-byte tag, keeps it as an unknown field, writes it back in one byte
 * when the message is forwarded, and then refuses its own output: the
 * next worker could not decode it. */
static int has_field_zero(const ProtobufCMessage *m, int depth) {
    if (!m || depth > LM_DECODE_DEPTH_MAX)
        return 0;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || !field_present(m, f))
            continue;
        const char *base = (const char *)m + f->offset;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (has_field_zero(*(ProtobufCMessage *const *)base, depth + 1))
                return 1;
            continue;
        }
        size_t n;
        memcpy(&n, (const char *)m + f->quantifier_offset, sizeof(n));
        ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)base;
        for (size_t k = 0; k < n; k++)
            if (has_field_zero(arr[k], depth + 1))
                return 1;
    }
    return 0;
}

int lm_decode_find_bad_utf8(const ProtobufCMessage *msg, char *path,
                            size_t pathsz, size_t *at) {
    if (pathsz == 0)
        return 0;
    path[0] = '\0';
    return walk(msg, path, pathsz, 0, at, 0);
}

/* protobuf-c's allocator over an arena: free gives nothing back (the
 * arena's reset does). */
static void *arena_pb_alloc(void *data, size_t size) {
    return lm_arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *p) {
    (void)data;
    (void)p;
}

/* Decodes with `al` (NULL: malloc); a refused message is freed with it. */
static ProtobufCMessage *decode_with(ProtobufCAllocator *al,
                                     const ProtobufCMessageDescriptor *type,
                                     const void *data, size_t len, char *reason,
                                     size_t reasonsz) {
    ProtobufCMessage *m =
        protobuf_c_message_unpack(type, al, data ? len : 0, data);
    if (!m) {
        snprintf(reason, reasonsz,
                 "not a valid %s protobuf message (%zu bytes); producers "
                 "must send %s as documented in "
                 "proto/lastmile/v1/lastmile.proto",
                 type->name, len, type->name);
        return NULL;
    }
    if (has_field_zero(m, 0)) {
        snprintf(reason, reasonsz,
                 "not a valid %s protobuf message (%zu bytes): it has a "
                 "field numbered 0, and field numbers start at 1",
                 type->name, len);
        protobuf_c_message_free_unpacked(m, al);
        return NULL;
    }
    char path[128];
    size_t at = 0;
    if (lm_decode_find_bad_utf8(m, path, sizeof(path), &at)) {
        snprintf(reason, reasonsz,
                 "%s: not valid UTF-8 (at byte %zu); proto3 strings must be "
                 "UTF-8: send the text UTF-8 encoded",
                 path, at);
        protobuf_c_message_free_unpacked(m, al);
        return NULL;
    }
    return m;
}

ProtobufCMessage *lm_decode(const ProtobufCMessageDescriptor *type,
                            const void *data, size_t len, char *reason,
                            size_t reasonsz) {
    return decode_with(NULL, type, data, len, reason, reasonsz);
}

ProtobufCMessage *lm_decode_in(lm_arena *a,
                               const ProtobufCMessageDescriptor *type,
                               const void *data, size_t len, char *reason,
                               size_t reasonsz) {
    ProtobufCAllocator al = {arena_pb_alloc, arena_pb_free, a};
    lm_arena_mark m = lm_arena_mark_get(a);
    ProtobufCMessage *msg = decode_with(&al, type, data, len, reason, reasonsz);
    if (!msg)
        lm_arena_rewind(a, m);
    return msg;
}
