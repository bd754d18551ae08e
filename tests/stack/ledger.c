/* ledger.c — open-addressing string set for tests (see ledger.h). */
#include "ledger.h"

#include "lm_hash.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(const strset *s, const char *key) {
    size_t i = (size_t)lm_hash64_str(key, 7) & (s->cap - 1);
    while (s->keys[i] && strcmp(s->keys[i], key) != 0)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static void grow(strset *s) {
    size_t old = s->cap;
    char **ok = s->keys;
    int *oc = s->counts;
    s->cap = old ? old * 2 : 1024;
    s->keys = calloc(s->cap, sizeof(char *));
    s->counts = calloc(s->cap, sizeof(int));
    for (size_t i = 0; i < old; i++)
        if (ok[i]) {
            size_t j = slot_of(s, ok[i]);
            s->keys[j] = ok[i];
            s->counts[j] = oc[i];
        }
    free(ok);
    free(oc);
}

int strset_add(strset *s, const char *key) {
    if ((s->n + 1) * 2 > s->cap)
        grow(s);
    size_t i = slot_of(s, key);
    if (!s->keys[i]) {
        s->keys[i] = strdup(key);
        s->n++;
    } else {
        s->dups++;
    }
    return ++s->counts[i];
}

int strset_count(const strset *s, const char *key) {
    if (!s->cap)
        return 0;
    size_t i = slot_of(s, key);
    return s->keys[i] ? s->counts[i] : 0;
}

void strset_free(strset *s) {
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s->counts);
    memset(s, 0, sizeof(*s));
}
