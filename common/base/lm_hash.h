/* lm_hash.h — stable 64-bit hashing for ids, buckets and arms.
 *
 * The values are part of lastmile's stored state (lead ids, timer buckets,
 * the control arm), so the function must never change: it is FNV-1a over
 * the bytes followed by a splitmix64 finaliser, seeded. Pure, thread-safe. */
#ifndef LM_HASH_H
#define LM_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t lm_hash64(const void *data, size_t len, uint64_t seed);
/* lm_hash64 of a NUL-terminated string. */
uint64_t lm_hash64_str(const char *s, uint64_t seed);
/* A uniform double in [0,1) from a hash (53 high bits). */
double lm_hash_unit(uint64_t h);

#endif
