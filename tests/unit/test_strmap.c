/* test_strmap.c — the one string map: insert, find, grow, clear, order. */
#include "lm_strmap.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(strmap, put_get_and_insertion_order) {
    lm_strmap *m = lm_strmap_new(0);
    cr_assert_not_null(m);
    int created = -1;
    int64_t *v = lm_strmap_put_str(m, "alex", 7, &created);
    cr_assert_not_null(v);
    cr_expect_eq(created, 1);
    cr_expect_eq(*v, 7);
    *v = 8;
    cr_expect_eq(*lm_strmap_put_str(m, "alex", 0, &created), 8);
    cr_expect_eq(created, 0);
    lm_strmap_put_str(m, "kenji", 1, NULL);
    lm_strmap_put(m, "jo\0x", 4, 2, NULL); /* keys are bytes */
    cr_expect_null(lm_strmap_get_str(m, "jo"));
    cr_expect_eq(*lm_strmap_get(m, "jo\0x", 4), 2);
    cr_expect_eq(lm_strmap_count(m), 3);
    size_t len;
    cr_expect_str_eq(lm_strmap_key(m, 0, NULL), "alex");
    cr_expect_str_eq(lm_strmap_key(m, 1, &len), "kenji");
    cr_expect_eq(len, 5);
    cr_expect_eq(*lm_strmap_value(m, 2), 2);
    lm_strmap_free(m);
    lm_strmap_free(NULL);
}

Test(strmap, grows_and_finds_every_key) {
    lm_strmap *m = lm_strmap_new(2);
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key-%d", i);
        cr_assert_not_null(lm_strmap_put_str(m, k, i, NULL));
    }
    cr_expect_eq(lm_strmap_count(m), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key-%d", i);
        int64_t *v = lm_strmap_get_str(m, k);
        cr_assert_not_null(v, "%s", k);
        cr_expect_eq(*v, i);
        cr_expect_str_eq(lm_strmap_key(m, (size_t)i, NULL), k);
    }
    cr_expect_null(lm_strmap_get_str(m, "key-5000"));
    lm_strmap_free(m);
}

Test(strmap, clear_forgets_and_reuses) {
    lm_strmap *m = lm_strmap_new(8);
    char k[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++) {
            snprintf(k, sizeof(k), "r%d-%d", round, i);
            lm_strmap_put_str(m, k, i, NULL);
        }
        cr_expect_eq(lm_strmap_count(m), 100);
        snprintf(k, sizeof(k), "r%d-%d", round, 42);
        cr_expect_eq(*lm_strmap_get_str(m, k), 42);
        lm_strmap_clear(m);
        cr_expect_eq(lm_strmap_count(m), 0);
        cr_expect_null(lm_strmap_get_str(m, k));
    }
    lm_strmap_free(m);
}

/* A batch that is read again puts the same keys in the same order: after a
 * clear every one must be new. (Clearing slot by slot in insertion order
 * once broke probe chains and left slots behind that found the old keys.) */
Test(strmap, clear_leaves_no_slot_behind) {
    lm_strmap *m = lm_strmap_new(0);
    char k[32];
    for (int round = 0; round < 4; round++) {
        size_t again = 0;
        for (int i = 0; i < 2000; i++) {
            snprintf(k, sizeof(k), "tag-%d", i);
            int created = 0;
            cr_assert_not_null(lm_strmap_put_str(m, k, i, &created));
            again += !created;
        }
        cr_expect_eq(again, 0, "round %d: %zu keys found after a clear", round,
                     again);
        lm_strmap_clear(m);
        for (int i = 0; i < 2000; i++) {
            snprintf(k, sizeof(k), "tag-%d", i);
            cr_expect_null(lm_strmap_get_str(m, k), "%s after a clear", k);
            if (lm_strmap_get_str(m, k))
                break;
        }
    }
    lm_strmap_free(m);
}
