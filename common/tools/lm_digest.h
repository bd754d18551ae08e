/* lm_digest.h — SHA-256 and random bytes (OpenSSL's libcrypto), for the
 * gateway's API keys and `lastmile gateway-key`.
 *
 * Pure but for lm_digest_random_hex, which reads OpenSSL's CSPRNG
 * (RAND_bytes, seeded from the kernel). Thread-safe. */
#ifndef LM_DIGEST_H
#define LM_DIGEST_H

#include <stddef.h>

#define LM_DIGEST_SHA256_LEN 32
#define LM_DIGEST_SHA256_HEX (2 * LM_DIGEST_SHA256_LEN + 1) /* with NUL */

/* SHA-256 of len bytes into out[32]. 0, or -1 when libcrypto fails. */
int lm_digest_sha256(const void *data, size_t len,
                     unsigned char out[LM_DIGEST_SHA256_LEN]);
/* The same as 64 lowercase hex digits + NUL. 0 / -1. */
int lm_digest_sha256_hex(const void *data, size_t len,
                         char hex[LM_DIGEST_SHA256_HEX]);
/* n random bytes as 2n lowercase hex digits + NUL into out (outsz >=
 * 2n + 1). 0, or -1 when the generator fails or out is too small. */
int lm_digest_random_hex(size_t n, char *out, size_t outsz);
/* 1 when a and b (n bytes each) are equal, in time independent of where
 * they differ (CRYPTO_memcmp). */
int lm_digest_equal(const void *a, const void *b, size_t n);

#endif
