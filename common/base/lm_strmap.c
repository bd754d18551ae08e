/* lm_strmap.c — the one string map (see lm_strmap.h).
 *
 * entries[] holds (key offset in keys, key length, value) in insertion
 * order; index[] is a power-of-two open-addressing table of entry numbers
 * + 1 (0 = empty), at most half full, probed linearly from the key's
 * hash. Clearing zeroes only the slots in use, found from the entries
 * (newest first: see lm_strmap_clear). */
#include "lm_strmap.h"

#include "lm_buf.h"
#include "lm_hash.h"

#include <stdlib.h>
#include <string.h>

#define STRMAP_SEED     0x6d6170ULL /* "map" */
#define STRMAP_MIN_SLOT 16

typedef struct strmap_entry {
    size_t key_off, key_len;
    uint64_t hash;
    int64_t value;
} strmap_entry;

struct lm_strmap {
    strmap_entry *entries;
    size_t n, cap;
    uint32_t *index; /* entry number + 1; 0 = empty */
    size_t mask;     /* slots - 1 */
    lm_buf keys;     /* every key, NUL-terminated */
};

static size_t slots_for(size_t entries) {
    size_t slots = STRMAP_MIN_SLOT;
    while (slots < 2 * entries)
        slots <<= 1;
    return slots;
}

lm_strmap *lm_strmap_new(size_t hint) {
    lm_strmap *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    size_t slots = slots_for(hint);
    m->index = calloc(slots, sizeof(*m->index));
    if (m->index == NULL) {
        lm_strmap_free(m);
        return NULL;
    }
    m->mask = slots - 1;
    return m;
}

void lm_strmap_free(lm_strmap *m) {
    if (m == NULL)
        return;
    free(m->entries);
    free(m->index);
    lm_buf_free(&m->keys);
    free(m);
}

/* The index slot where key is, or the empty slot where it would go. */
static size_t find_slot(const lm_strmap *m, const char *key, size_t len,
                        uint64_t h) {
    size_t i = (size_t)h & m->mask;
    for (;;) {
        uint32_t e = m->index[i];
        if (e == 0)
            return i;
        const strmap_entry *en = &m->entries[e - 1];
        if (en->hash == h && en->key_len == len &&
            memcmp(m->keys.data + en->key_off, key, len) == 0)
            return i;
        i = (i + 1) & m->mask;
    }
}

/* Newest first: removing the entries in reverse insertion order undoes the
 * insertions (grow_index re-inserts in entry order), so every probe chain
 * stays whole and find_slot finds each entry's slot. In insertion order a
 * freed slot could cut the chain of a later entry and leave it behind. */
void lm_strmap_clear(lm_strmap *m) {
    for (size_t e = m->n; e-- > 0;) {
        const strmap_entry *en = &m->entries[e];
        size_t i =
            find_slot(m, m->keys.data + en->key_off, en->key_len, en->hash);
        m->index[i] = 0;
    }
    m->n = 0;
    lm_buf_reset(&m->keys);
}

int64_t *lm_strmap_get(const lm_strmap *m, const char *key, size_t len) {
    uint32_t e =
        m->index[find_slot(m, key, len, lm_hash64(key, len, STRMAP_SEED))];
    return e ? &m->entries[e - 1].value : NULL;
}

/* Doubles the index and re-inserts every entry. 0 / -1. */
static int grow_index(lm_strmap *m) {
    size_t slots = (m->mask + 1) * 2;
    uint32_t *index = calloc(slots, sizeof(*index));
    if (index == NULL)
        return -1;
    free(m->index);
    m->index = index;
    m->mask = slots - 1;
    for (size_t e = 0; e < m->n; e++) {
        size_t i = (size_t)m->entries[e].hash & m->mask;
        while (m->index[i] != 0)
            i = (i + 1) & m->mask;
        m->index[i] = (uint32_t)(e + 1);
    }
    return 0;
}

int64_t *lm_strmap_put(lm_strmap *m, const char *key, size_t len, int64_t init,
                       int *created) {
    uint64_t h = lm_hash64(key, len, STRMAP_SEED);
    size_t i = find_slot(m, key, len, h);
    if (created)
        *created = 0;
    if (m->index[i] != 0)
        return &m->entries[m->index[i] - 1].value;
    if (m->n >= LM_STRMAP_MAX_ENTRIES)
        return NULL;
    if (2 * (m->n + 1) > m->mask + 1) { /* keep the index half empty */
        if (grow_index(m) != 0)
            return NULL;
        i = find_slot(m, key, len, h);
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : STRMAP_MIN_SLOT / 2;
        strmap_entry *entries = realloc(m->entries, cap * sizeof(*entries));
        if (entries == NULL)
            return NULL;
        m->entries = entries;
        m->cap = cap;
    }
    long off = lm_buf_append(&m->keys, key, len);
    if (off < 0 || lm_buf_append(&m->keys, "", 1) < 0)
        return NULL;
    m->entries[m->n] = (strmap_entry){(size_t)off, len, h, init};
    m->index[i] = (uint32_t)(m->n + 1);
    m->n++;
    if (created)
        *created = 1;
    return &m->entries[m->n - 1].value;
}

int64_t *lm_strmap_get_str(const lm_strmap *m, const char *key) {
    return lm_strmap_get(m, key, strlen(key));
}

int64_t *lm_strmap_put_str(lm_strmap *m, const char *key, int64_t init,
                           int *created) {
    return lm_strmap_put(m, key, strlen(key), init, created);
}

size_t lm_strmap_count(const lm_strmap *m) {
    return m->n;
}

const char *lm_strmap_key(const lm_strmap *m, size_t i, size_t *len) {
    if (len)
        *len = m->entries[i].key_len;
    return m->keys.data + m->entries[i].key_off;
}

int64_t *lm_strmap_value(const lm_strmap *m, size_t i) {
    return &m->entries[i].value;
}
