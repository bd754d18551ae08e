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
    size_t held = lm_arena_held(&a);
    cr_expect_geq(held, (size_t)N * 100 + (4u << 20));
    /* a reset keeps one chunk of the whole size: the same work again
       allocates nothing more */
    lm_arena_reset(&a);
    cr_expect_eq(lm_arena_held(&a), held);
    for (int i = 0; i < N; i++)
        cr_assert_not_null(lm_arena_alloc(&a, 100));
    cr_assert_not_null(lm_arena_alloc(&a, 4u << 20));
    cr_expect_eq(lm_arena_held(&a), held);
    lm_arena_free(&a);
    cr_expect_eq(lm_arena_held(&a), 0);
    cr_assert_not_null(lm_arena_alloc(&a, 8)); /* usable after free */
    lm_arena_free(&a);
}

Test(arena, refuses_what_cannot_fit) {
    lm_arena a = {0};
    cr_expect_null(lm_arena_alloc(&a, SIZE_MAX));
    cr_expect_null(lm_arena_alloc(&a, SIZE_MAX - 8));
    cr_expect_not_null(lm_arena_alloc(&a, 8)); /* still usable */
    lm_arena_free(&a);
}
