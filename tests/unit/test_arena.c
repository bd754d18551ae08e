/* test_arena.c — the bump allocator: alignment, growth past a chunk,
 * pointers that stay put, reset into one chunk, free. */
#include "lm_arena.h"

#include <criterion/criterion.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

Test(arena, aligned_distinct_and_writable) {
    lm_arena a = {0};
    char *p = lm_arena_alloc(&a, 1), *q = lm_arena_alloc(&a, 0);
    double *d = lm_arena_alloc(&a, sizeof(double) * 3);
    cr_assert(p && q && d);
    cr_expect_neq(p, q);
    cr_expect_eq((uintptr_t)p % alignof(max_align_t), 0);
    cr_expect_eq((uintptr_t)q % alignof(max_align_t), 0);
    cr_expect_eq((uintptr_t)d % alignof(max_align_t), 0);
    d[2] = 1.5;
    unsigned char *z = lm_arena_calloc(&a, 100);
    for (int i = 0; i < 100; i++)
        cr_expect_eq(z[i], 0);
    lm_arena_free(&a);
    lm_arena_free(&a); /* twice: empty */
    lm_arena_free(NULL);
}

Test(arena, grows_past_a_chunk_and_pointers_stay) {
    lm_arena a = {0};
    enum { N = 5000 };
    static char *ptrs[N];
    for (int i = 0; i < N; i++) { /* ~500 KB: several chunks */
        ptrs[i] = lm_arena_alloc(&a, 100);
        cr_assert_not_null(ptrs[i]);
        memset(ptrs[i], i & 0xff, 100);
    }
    for (int i = 0; i < N; i++)
        cr_expect_eq((unsigned char)ptrs[i][99], (unsigned)(i & 0xff));
    char *big = lm_arena_alloc(&a, 4u << 20); /* larger than any chunk */
    cr_assert_not_null(big);
    memset(big, 1, 4u << 20);
    cr_expect_geq(lm_arena_held(&a), (size_t)N * 100 + (4u << 20));
    /* a reset keeps one chunk of the size used (each 100 bytes rounded to
       the alignment): the same work again allocates nothing more */
    size_t used = (size_t)N * ((100 + alignof(max_align_t) - 1) &
                               ~(alignof(max_align_t) - 1)) +
                  (4u << 20);
    lm_arena_reset(&a);
    cr_expect_eq(lm_arena_held(&a), used);
    for (int i = 0; i < N; i++)
        cr_assert_not_null(lm_arena_alloc(&a, 100));
    cr_assert_not_null(lm_arena_alloc(&a, 4u << 20));
    cr_expect_eq(lm_arena_held(&a), used);
    lm_arena_reset(&a);
    lm_arena_reset(&a); /* nothing used since: the chunk stays */
    cr_expect_eq(lm_arena_held(&a), used);
    lm_arena_free(&a);
    cr_expect_eq(lm_arena_held(&a), 0);
    cr_assert_not_null(lm_arena_alloc(&a, 8)); /* usable after free */
    lm_arena_free(&a);
}

/* One huge round does not pin its memory: the next, small round's reset
 * gives the large chunk back for one of the size it used. */
Test(arena, a_huge_round_is_given_back) {
    lm_arena a = {0};
    cr_assert_not_null(lm_arena_alloc(&a, 32u << 20));
    lm_arena_reset(&a);
    cr_expect_eq(lm_arena_held(&a), (size_t)32 << 20);
    for (int i = 0; i < 3000; i++) /* ~300 KB: under a quarter */
        cr_assert_not_null(lm_arena_alloc(&a, 100));
    lm_arena_reset(&a);
    cr_expect_lt(lm_arena_held(&a), (size_t)1 << 20);
    cr_expect_geq(lm_arena_held(&a), (size_t)3000 * 100);
    lm_arena_free(&a);
}

Test(arena, refuses_what_cannot_fit) {
    lm_arena a = {0};
    cr_expect_null(lm_arena_alloc(&a, SIZE_MAX));
    cr_expect_null(lm_arena_alloc(&a, SIZE_MAX - 8));
    cr_expect_not_null(lm_arena_alloc(&a, 8)); /* still usable */
    lm_arena_free(&a);
}

Test(arena, rewind_takes_back_what_was_given_since) {
    lm_arena a = {0};
    char *keep = lm_arena_alloc(&a, 32);
    cr_assert_not_null(keep);
    memset(keep, 7, 32);
    lm_arena_mark m = lm_arena_mark_get(&a);
    size_t held = lm_arena_held(&a);
    char *first = lm_arena_alloc(&a, 100);
    cr_assert_not_null(first);
    /* past the first chunk: the rewind frees the chunks made since */
    for (int i = 0; i < 200; i++)
        cr_assert_not_null(lm_arena_alloc(&a, 1000));
    cr_expect_gt(lm_arena_held(&a), held);
    lm_arena_rewind(&a, m);
    cr_expect_eq(lm_arena_held(&a), held);
    cr_expect_eq(lm_arena_alloc(&a, 100), first); /* the same room again */
    for (int i = 0; i < 32; i++)
        cr_expect_eq(keep[i], 7); /* what came before the mark is kept */
    lm_arena_free(&a);
    lm_arena e = {0}; /* a mark of an empty arena */
    lm_arena_mark m0 = lm_arena_mark_get(&e);
    cr_assert_not_null(lm_arena_alloc(&e, 10));
    lm_arena_rewind(&e, m0);
    cr_expect_eq(lm_arena_held(&e), 0);
    cr_assert_not_null(lm_arena_alloc(&e, 10));
    lm_arena_free(&e);
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>

/* Under ASan what a reset or a rewind took back is poisoned, so a pointer
 * kept past them is reported on use. */
Test(arena, asan_poisons_what_was_taken_back) {
    lm_arena a = {0};
    char *p = lm_arena_alloc(&a, 24);
    cr_assert_not_null(p);
    cr_expect_eq(__asan_address_is_poisoned(p), 0);
    cr_expect_eq(__asan_address_is_poisoned(p + 23), 0);
    cr_expect_neq(__asan_address_is_poisoned(p + 24), 0); /* past its size */
    lm_arena_reset(&a);
    cr_expect_neq(__asan_address_is_poisoned(p), 0);
    lm_arena_mark m = lm_arena_mark_get(&a);
    char *q = lm_arena_alloc(&a, 16);
    cr_assert_not_null(q);
    cr_expect_eq(__asan_address_is_poisoned(q), 0);
    lm_arena_rewind(&a, m);
    cr_expect_neq(__asan_address_is_poisoned(q), 0);
    lm_arena_free(&a);
}
#endif
