/* lm_strmap.h — the one string map: byte-string keys to int64 values.
 *
 * Every table keyed by a name (model features, report owners and
 * segments, in-batch hash tags, bench and test ledgers) is an lm_strmap;
 * a caller that needs a record per key keeps the records in its own array
 * and stores the index as the value.
 *
 * Entries are kept in insertion order (iterate with i = 0 .. count-1), so
 * output built from a map is deterministic. Keys are copied into the
 * map's own arena; the value slots move when the map grows, so a pointer
 * from get/put is valid only until the next put, clear or free.
 * Open addressing with linear probing over an index of entry numbers,
 * hashed with lm_hash64; the index is kept at most half full.
 * Not thread-safe. The creator frees with lm_strmap_free. */
#ifndef LM_STRMAP_H
#define LM_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#define LM_STRMAP_MAX_ENTRIES ((size_t)1 << 30) /* put fails past this */

typedef struct lm_strmap lm_strmap;

/* A map with room for about `hint` keys before it grows (0: a default).
 * NULL when out of memory. */
lm_strmap *lm_strmap_new(size_t hint);
void lm_strmap_free(lm_strmap *m); /* NULL ok */
/* Forgets every entry and keeps the memory: O(entries), for maps reset
 * once a batch. */
void lm_strmap_clear(lm_strmap *m);

/* The value slot of `key` (len bytes, need not be NUL-terminated), or
 * NULL when absent. */
int64_t *lm_strmap_get(const lm_strmap *m, const char *key, size_t len);
/* The value slot of `key`, inserted with value `init` when absent
 * (*created = 1, else 0; created may be NULL). NULL when out of memory or
 * past LM_STRMAP_MAX_ENTRIES. */
int64_t *lm_strmap_put(lm_strmap *m, const char *key, size_t len, int64_t init,
                       int *created);
/* NUL-terminated conveniences. */
int64_t *lm_strmap_get_str(const lm_strmap *m, const char *key);
int64_t *lm_strmap_put_str(lm_strmap *m, const char *key, int64_t init,
                           int *created);

size_t lm_strmap_count(const lm_strmap *m);
/* Entry i (0 <= i < count) in insertion order: its key (NUL-terminated,
 * owned by the map; *len may be NULL) and value slot. */
const char *lm_strmap_key(const lm_strmap *m, size_t i, size_t *len);
int64_t *lm_strmap_value(const lm_strmap *m, size_t i);

#endif
