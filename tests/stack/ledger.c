/* ledger.c — string sets with counts for tests (see ledger.h), on the one
 * string map. */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER_HINT 1024

static void out_of_memory(void) {
    fprintf(stderr, "ledger: out of memory\n");
    abort();
}

int strset_add(strset *s, const char *key) {
    int created = 0;
    if (!s->map && !(s->map = lm_strmap_new(LEDGER_HINT)))
        out_of_memory();
    int64_t *count = lm_strmap_put_str(s->map, key, 0, &created);
    if (!count)
        out_of_memory();
    if (created)
        s->n++;
    else
        s->dups++;
    return (int)++*count;
}

int strset_count(const strset *s, const char *key) {
    const int64_t *count = s->map ? lm_strmap_get_str(s->map, key) : NULL;
    return count ? (int)*count : 0;
}

const char *strset_key(const strset *s, size_t i, int *count) {
    if (count)
        *count = (int)*lm_strmap_value(s->map, i);
    return lm_strmap_key(s->map, i, NULL);
}

void strset_free(strset *s) {
    lm_strmap_free(s->map);
    memset(s, 0, sizeof(*s));
}
