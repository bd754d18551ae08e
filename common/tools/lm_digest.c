/* lm_digest.c — SHA-256, random hex and constant-time comparison over
 * OpenSSL's libcrypto (see lm_digest.h). */
#include "lm_digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define LM_DIGEST_RANDOM_MAX 256 /* most random bytes one call gives */

static void to_hex(const unsigned char *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int lm_digest_sha256(const void *data, size_t len,
                     unsigned char out[LM_DIGEST_SHA256_LEN]) {
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 ||
        n != LM_DIGEST_SHA256_LEN)
        return -1;
    return 0;
}

int lm_digest_sha256_hex(const void *data, size_t len,
                         char hex[LM_DIGEST_SHA256_HEX]) {
    unsigned char md[LM_DIGEST_SHA256_LEN];
    if (lm_digest_sha256(data, len, md) != 0)
        return -1;
    to_hex(md, sizeof(md), hex);
    return 0;
}

int lm_digest_random_hex(size_t n, char *out, size_t outsz) {
    unsigned char b[LM_DIGEST_RANDOM_MAX];
    if (n == 0 || n > sizeof(b) || outsz < 2 * n + 1 ||
        RAND_bytes(b, (int)n) != 1)
        return -1;
    to_hex(b, n, out);
    OPENSSL_cleanse(b, sizeof(b));
    return 0;
}

int lm_digest_equal(const void *a, const void *b, size_t n) {
    return CRYPTO_memcmp(a, b, n) == 0;
}
