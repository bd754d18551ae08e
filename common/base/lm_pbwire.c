/* lm_pbwire.c — cut and put one field of a packed protobuf message (see
 * lm_pbwire.h).
 *
 * A message is scanned field by field (pbw_next); a cut or put rebuilds
 * the message along the path into the caller's buffer: the bytes before
 * the field on the path, the field rebuilt (its tag as it was, its new
 * length, its rebuilt payload, or nothing for a cut), the bytes after.
 * Pure; state lives on the stack. */
#include "lm_pbwire.h"

#include <string.h>

#define PBW_VARINT_MAX 10 /* bytes of a 64-bit varint */

typedef struct pbw_field {
    uint32_t num;
    int wire;
    size_t start;   /* its tag's first byte */
    size_t tag_end; /* after the tag: the length's (LEN) or value's start */
    size_t payload; /* a LEN field's payload; else == tag_end */
    size_t end;     /* after the field */
    uint64_t value; /* a varint field's value */
} pbw_field;

typedef struct pbw_op {
    int cut;              /* 1 cut, 0 put */
    const uint8_t *bytes; /* what a cut expects, what a put writes */
    size_t len;
} pbw_op;

static int pbw_varint(const uint8_t *m, size_t len, size_t *pos, uint64_t *v) {
    if (*pos < len && m[*pos] < 0x80) { /* one byte: most tags and lengths */
        *v = m[(*pos)++];
        return 0;
    }
    uint64_t r = 0;
    for (int i = 0; i < PBW_VARINT_MAX && *pos < len; i++) {
        uint8_t c = m[(*pos)++];
        r |= (uint64_t)(c & 0x7F) << (7 * i);
        if (c < 0x80) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* The field at *pos: 1 and *pos past it; 0 at the end; -1 malformed. */
static int pbw_next(const uint8_t *m, size_t len, size_t *pos, pbw_field *f) {
    if (*pos >= len)
        return 0;
    uint64_t key = 0, n = 0;
    f->start = *pos;
    if (pbw_varint(m, len, pos, &key) != 0 || (key >> 3) == 0 ||
        (key >> 3) > UINT32_MAX)
        return -1;
    f->num = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    f->tag_end = f->payload = *pos;
    f->value = 0;
    switch (f->wire) {
    case 0:
        if (pbw_varint(m, len, pos, &f->value) != 0)
            return -1;
        break;
    case 1:
        n = 8;
        break;
    case 2:
        if (pbw_varint(m, len, pos, &n) != 0)
            return -1;
        f->payload = *pos;
        break;
    case 5:
        n = 4;
        break;
    default:
        return -1;
    }
    if (n > len - *pos)
        return -1;
    *pos += (size_t)n;
    f->end = *pos;
    return 1;
}

/* Finds the one length-delimited field `num` of m. 1 found (in *f); 0 not
 * there or there twice (*twice set); -1 malformed or of another type. */
static int pbw_find(const uint8_t *m, size_t len, uint32_t num, pbw_field *f,
                    int *twice) {
    size_t pos = 0;
    pbw_field g;
    int found = 0, rc;
    *twice = 0;
    while ((rc = pbw_next(m, len, &pos, &g)) == 1) {
        if (g.num != num)
            continue;
        if (g.wire != 2)
            return -1;
        if (found) {
            *twice = 1;
            return 0;
        }
        *f = g;
        found = 1;
    }
    return rc < 0 ? -1 : found;
}

int lm_pbwire_put_varint(lm_buf *out, uint64_t v) {
    uint8_t b[PBW_VARINT_MAX];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    return lm_buf_append(out, b, n) < 0 ? -1 : 0;
}

/* The last level of a put: where the field goes (before the first field
 * numbered higher). -1 when it is there already or m is malformed. */
static long pbw_put_at(const uint8_t *m, size_t len, uint32_t num) {
    size_t pos = 0, at = len;
    pbw_field g;
    int rc;
    while ((rc = pbw_next(m, len, &pos, &g)) == 1) {
        if (g.num == num)
            return -1;
        if (g.num > num && at == len)
            at = g.start;
    }
    return rc < 0 ? -1 : (long)at;
}

static int pbw_splice(const uint8_t *m, size_t len, const uint32_t *path,
                      size_t depth, const pbw_op *op, lm_buf *out);

/* The last level: cut or put field path[0] of m. */
static int pbw_splice_leaf(const uint8_t *m, size_t len, uint32_t num,
                           const pbw_op *op, lm_buf *out) {
    if (op->cut) {
        pbw_field f = {0};
        int twice = 0;
        if (pbw_find(m, len, num, &f, &twice) != 1)
            return 0; /* not there, twice, or not a message we read */
        if (f.end - f.payload != op->len ||
            (op->len && memcmp(m + f.payload, op->bytes, op->len) != 0))
            return 0;
        if (lm_buf_append(out, m, f.start) < 0 ||
            lm_buf_append(out, m + f.end, len - f.end) < 0)
            return -1;
        return 1;
    }
    long at = pbw_put_at(m, len, num);
    if (at < 0)
        return -1;
    if (lm_buf_append(out, m, (size_t)at) < 0 ||
        lm_pbwire_put_varint(out, ((uint64_t)num << 3) | 2) != 0 ||
        lm_pbwire_put_varint(out, op->len) != 0 ||
        lm_buf_append(out, op->bytes, op->len) < 0 ||
        lm_buf_append(out, m + at, len - (size_t)at) < 0)
        return -1;
    return 1;
}

/* A level above the last: m with field path[0]'s payload rebuilt. */
static int pbw_splice_inner(const uint8_t *m, size_t len, const uint32_t *path,
                            size_t depth, const pbw_op *op, lm_buf *out) {
    pbw_field f = {0};
    int twice = 0;
    int rc = pbw_find(m, len, path[0], &f, &twice);
    if (rc != 1)
        return op->cut ? 0 : -1;
    if (lm_buf_append(out, m, f.tag_end) < 0)
        return -1;
    size_t inner_at = out->len;
    rc = pbw_splice(m + f.payload, f.end - f.payload, path + 1, depth - 1, op,
                    out);
    if (rc != 1)
        return rc;
    /* the payload is at inner_at; its length goes before it */
    size_t inner_len = out->len - inner_at;
    size_t mark = out->len;
    if (lm_pbwire_put_varint(out, inner_len) != 0)
        return -1;
    size_t vlen = out->len - mark;
    uint8_t v[PBW_VARINT_MAX];
    memcpy(v, out->data + mark, vlen);
    memmove(out->data + inner_at + vlen, out->data + inner_at, inner_len);
    memcpy(out->data + inner_at, v, vlen);
    return lm_buf_append(out, m + f.end, len - f.end) < 0 ? -1 : 1;
}

/* Appends m rebuilt by op along path. 1 done; 0 (cut) not applicable;
 * -1 error. The caller restores out's length on anything but 1. */
static int pbw_splice(const uint8_t *m, size_t len, const uint32_t *path,
                      size_t depth, const pbw_op *op, lm_buf *out) {
    if (depth == 1)
        return pbw_splice_leaf(m, len, path[0], op, out);
    return pbw_splice_inner(m, len, path, depth, op, out);
}

static int pbw_run(const uint8_t *msg, size_t len, const uint32_t *path,
                   size_t depth, const pbw_op *op, lm_buf *out) {
    if (!path || depth == 0 || depth > LM_PBWIRE_DEPTH_MAX || (!msg && len))
        return -1;
    for (size_t i = 0; i < depth; i++)
        if (path[i] == 0)
            return -1;
    size_t mark = out->len;
    int rc =
        pbw_splice(msg ? msg : (const uint8_t *)"", len, path, depth, op, out);
    if (rc != 1)
        out->len = mark;
    return rc;
}

int lm_pbwire_cut(const uint8_t *msg, size_t len, const uint32_t *path,
                  size_t depth, const uint8_t *expect, size_t expect_len,
                  lm_buf *out) {
    pbw_op op = {1, expect, expect_len};
    return pbw_run(msg, len, path, depth, &op, out);
}

int lm_pbwire_put(const uint8_t *msg, size_t len, const uint32_t *path,
                  size_t depth, const uint8_t *payload, size_t payload_len,
                  lm_buf *out) {
    pbw_op op = {0, payload, payload_len};
    return pbw_run(msg, len, path, depth, &op, out) == 1 ? 0 : -1;
}

/* The last top-level field `field` of msg, which must be of wire type
 * `wire`, into *last. 0 found; 1 not there; -1 malformed or another wire
 * type. */
static int pbw_last(const uint8_t *msg, size_t len, uint32_t field, int wire,
                    pbw_field *last) {
    size_t pos = 0;
    pbw_field f = {0};
    int rc, found = 0;
    if (!msg && len)
        return -1;
    while ((rc = pbw_next(msg, len, &pos, &f)) == 1) {
        if (f.num != field)
            continue;
        if (f.wire != wire)
            return -1;
        *last = f;
        found = 1;
    }
    return rc < 0 ? -1 : found ? 0 : 1;
}

int lm_pbwire_varint(const uint8_t *msg, size_t len, uint32_t field,
                     uint64_t *v) {
    pbw_field f = {0};
    int rc = pbw_last(msg, len, field, 0, &f);
    if (rc == 0)
        *v = f.value;
    return rc;
}

int lm_pbwire_bytes(const uint8_t *msg, size_t len, uint32_t field,
                    const uint8_t **payload, size_t *payload_len) {
    pbw_field f = {0};
    int rc = pbw_last(msg, len, field, 2, &f);
    if (rc == 0) {
        *payload = msg + f.payload;
        *payload_len = f.end - f.payload;
    }
    return rc;
}
