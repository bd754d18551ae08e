/* lm_buf.h — a growable byte buffer, reused across batches.
 *
 * The hot path appends into buffers that live as long as the worker and
 * are reset (not freed) after each batch, so a batch costs no allocation
 * once the buffers have grown to their working size. Offsets, not
 * pointers, refer into a buffer: it may move when it grows.
 * Not thread-safe; the owner frees with lm_buf_free. */
#ifndef LM_BUF_H
#define LM_BUF_H

#include <stddef.h>
#include <string.h>

#define LM_BUF_MAX ((size_t)1 << 31) /* refuse to grow past 2 GiB */

typedef struct lm_buf {
    char *data;
    size_t len, cap;
} lm_buf;

/* lm_buf_reserve when the room is not there: grows (doubling, from 4096),
 * never past LM_BUF_MAX. 0 / -1. */
int lm_buf_grow(lm_buf *b, size_t extra);
/* Makes room for `extra` more bytes; 0 / -1 (OOM or past LM_BUF_MAX).
 * Inline: the Redis pipeline reserves for every piece of every command
 * (issue 16). A buffer's cap never passes LM_BUF_MAX, so room already
 * there is always within it. */
static inline int lm_buf_reserve(lm_buf *b, size_t extra) {
    return extra <= b->cap - b->len ? 0 : lm_buf_grow(b, extra);
}
/* Appends bytes; returns the offset they start at, or -1. Inline: it
 * runs for every argument of every Redis command. */
static inline long lm_buf_append(lm_buf *b, const void *data, size_t len) {
    if (len > b->cap - b->len && lm_buf_reserve(b, len) != 0)
        return -1;
    long off = (long)b->len;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return off;
}
/* Appends a NUL-terminated copy; returns its offset, or -1. */
long lm_buf_append_str(lm_buf *b, const char *s);
void lm_buf_reset(lm_buf *b); /* len = 0, keeps the memory */
/* Grows *arr, an array of `size`-byte elements with room for *cap, to
 * room for at least `need` (doubling, from 64); *arr may move. 0 / -1
 * (out of memory: *arr and *cap unchanged). The one growable array. */
int lm_array_grow(void **arr, size_t *cap, size_t need, size_t size);
void lm_buf_free(lm_buf *b); /* NULL ok */

#endif
