/* ledger.h — what a test's own consumer saw on the topics: string sets
 * with counts, so a test can say "every id exactly once". Test-only. */
#ifndef LM_TEST_LEDGER_H
#define LM_TEST_LEDGER_H

#include <stddef.h>

typedef struct strset {
    char **keys;
    int *counts;
    size_t cap, n, dups;
} strset;

/* Adds s; returns its count after adding. */
int strset_add(strset *s, const char *key);
int strset_count(const strset *s, const char *key);
void strset_free(strset *s);

#endif
