/* ledger.h — what a test's own consumer saw on the topics: string sets
 * with counts, so a test can say "every id exactly once". Test-only.
 *
 * A strset is an lm_strmap (id -> times seen) plus two counters a test
 * reads directly: n (distinct ids) and dups (adds of an id already seen).
 * A zeroed strset ({0}) is empty and ready; strset_free returns it to
 * that state. Ids iterate in the order first seen. Out of memory aborts
 * (a test cannot go on without its ledger). Not thread-safe. */
#ifndef LM_TEST_LEDGER_H
#define LM_TEST_LEDGER_H

#include "lm_strmap.h"

#include <stddef.h>

typedef struct strset {
    lm_strmap *map; /* created by the first add */
    size_t n, dups;
} strset;

/* Adds key; returns its count after adding. */
int strset_add(strset *s, const char *key);
/* How many times key was added; 0 when never. */
int strset_count(const strset *s, const char *key);
/* The i-th distinct id (0 <= i < n) in the order first seen, and in
 * *count (may be NULL) how many times it was added. */
const char *strset_key(const strset *s, size_t i, int *count);
void strset_free(strset *s); /* frees what s holds; s is empty again */

#endif
