/* lm_hash.c — FNV-1a + splitmix64 finaliser (see lm_hash.h). */
#include "lm_hash.h"

#include <string.h>

uint64_t lm_hash64(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
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
