/* lm_hash.c — FNV-1a + splitmix64 finaliser (see lm_hash.h). */
#include "lm_hash.h"

#include <string.h>

#define FNV_PRIME 0x100000001b3ULL

/* One FNV-1a step. */
#define FNV_STEP(h, byte) ((h) = ((h) ^ (byte)) * FNV_PRIME)

uint64_t lm_hash64(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    /* eight bytes a turn: the same steps in the same order, with an eighth
       of the loop's own work (the outbox's hash of whole messages is the
       hot caller; issue 16) */
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        FNV_STEP(h, p[i]);
        FNV_STEP(h, p[i + 1]);
        FNV_STEP(h, p[i + 2]);
        FNV_STEP(h, p[i + 3]);
        FNV_STEP(h, p[i + 4]);
        FNV_STEP(h, p[i + 5]);
        FNV_STEP(h, p[i + 6]);
        FNV_STEP(h, p[i + 7]);
    }
    for (; i < len; i++)
        FNV_STEP(h, p[i]);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

uint64_t lm_hash64_str(const char *s, uint64_t seed) {
    return lm_hash64(s, strlen(s), seed);
}

double lm_hash_unit(uint64_t h) {
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}
