/* lm_buf.c — growable byte buffer (see lm_buf.h). */
#include "lm_buf.h"

#include <stdlib.h>
#include <string.h>

int lm_buf_grow(lm_buf *b, size_t extra) {
    if (extra > LM_BUF_MAX - b->len)
        return -1;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

long lm_buf_append_str(lm_buf *b, const char *s) {
    return lm_buf_append(b, s, strlen(s) + 1);
}

void lm_buf_reset(lm_buf *b) {
    b->len = 0;
}

void lm_buf_free(lm_buf *b) {
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int lm_array_grow(void **arr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}
