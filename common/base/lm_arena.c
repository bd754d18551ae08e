/* lm_arena.c — bump allocator in chunks (see lm_arena.h).
 *
 * Under AddressSanitizer a chunk's data is poisoned when made, each
 * allocation unpoisoned for its n bytes, and what a reset or a rewind
 * takes back poisoned again; a chunk is unpoisoned before it is freed. */
#include "lm_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_POISON(p, n)   ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_CHUNK_MIN ((size_t)64 * 1024)
#define ARENA_ALIGN     alignof(max_align_t)

struct lm_arena_chunk {
    lm_arena_chunk *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
};

static lm_arena_chunk *chunk_new(size_t cap, lm_arena_chunk *next) {
    if (cap > SIZE_MAX - sizeof(lm_arena_chunk))
        return NULL;
    lm_arena_chunk *c = malloc(sizeof(*c) + cap);
    if (!c)
        return NULL;
    c->next = next;
    c->cap = cap;
    c->used = 0;
    ARENA_POISON(c->data, cap);
    return c;
}

static void chunk_free(lm_arena_chunk *c) {
    ARENA_UNPOISON(c->data, c->cap);
    free(c);
}

void *lm_arena_alloc(lm_arena *a, size_t n) {
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    lm_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        /* a new chunk: at least double the last, at least the request */
        size_t cap = c ? c->cap : ARENA_CHUNK_MIN;
        if (c && cap <= SIZE_MAX / 2)
            cap *= 2;
        if (cap < need)
            cap = need;
        lm_arena_chunk *fresh = chunk_new(cap, c);
        if (!fresh)
            return NULL;
        a->head = c = fresh;
        a->held += cap;
    }
    void *p = c->data + c->used;
    c->used += need;
    ARENA_UNPOISON(p, n);
    return p;
}

void *lm_arena_calloc(lm_arena *a, size_t n) {
    void *p = lm_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void lm_arena_reset(lm_arena *a) {
    size_t used = 0;
    for (lm_arena_chunk *k = a->head; k; k = k->next)
        used += k->used;
    if (used == 0) /* nothing given since the last reset */
        return;
    lm_arena_chunk *c = a->head;
    /* a lone chunk is kept while this round used a quarter of it or more;
       one far larger (a batch of 32 MB of input, once) is given back, so
       a single large batch does not pin its memory for the worker's life */
    if (!c->next && (c->cap <= ARENA_CHUNK_MIN || used >= c->cap / 4)) {
        c->used = 0;
        ARENA_POISON(c->data, c->cap);
        return;
    }
    /* one chunk for what this round used: the next round of the same size
       fits it whole; when that fails, the next alloc starts small again */
    size_t cap = used < ARENA_CHUNK_MIN ? ARENA_CHUNK_MIN : used;
    lm_arena_free(a);
    a->head = chunk_new(cap, NULL);
    a->held = a->head ? cap : 0;
}

lm_arena_mark lm_arena_mark_get(const lm_arena *a) {
    return (lm_arena_mark){a->head, a->head ? a->head->used : 0};
}

void lm_arena_rewind(lm_arena *a, lm_arena_mark m) {
    while (a->head && a->head != m.chunk) { /* chunks made since the mark */
        lm_arena_chunk *c = a->head;
        a->head = c->next;
        a->held -= c->cap;
        chunk_free(c);
    }
    lm_arena_chunk *c = a->head;
    if (c && m.used < c->used) {
        ARENA_POISON(c->data + m.used, c->used - m.used);
        c->used = m.used;
    }
}

void lm_arena_free(lm_arena *a) {
    if (!a)
        return;
    lm_arena_chunk *c = a->head;
    while (c) {
        lm_arena_chunk *next = c->next;
        chunk_free(c);
        c = next;
    }
    a->head = NULL;
    a->held = 0;
}

size_t lm_arena_held(const lm_arena *a) {
    return a->held;
}
