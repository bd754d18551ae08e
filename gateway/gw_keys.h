/* gw_keys.h — the gateway's API keys: the keys file, lookup by bearer
 * token, scopes, allowed origins and a token bucket per key.
 *
 * The file (LASTMILE_GATEWAY_KEYS_FILE), one key a line:
 *     NAME SHA256_HEX SCOPES [ORIGINS]
 *   NAME     [A-Za-z0-9._-]{1,64}, unique: shows in logs and metrics
 *   SHA256   64 hex digits: the SHA-256 of the key a client sends as
 *            `Authorization: Bearer <key>` (the key itself is never
 *            stored; `lastmile gateway-key` mints one and prints its line)
 *   SCOPES   comma-separated, from leads, responses, activities
 *   ORIGINS  optional, comma-separated web origins (https://host[:port])
 *            from which a browser may use the key (CORS)
 * `#` starts a comment; blank lines are skipped. A bad line stops the
 * gateway at start: "<where>:<line>: <what>; <fix>".
 *
 * Lookup hashes the bearer token and compares it with every key's hash in
 * constant time (CRYPTO_memcmp, no early exit), so timing tells nothing
 * about which key, or how much of one, matched.
 *
 * Threads: a gw_keys is read-only after gw_keys_parse, except each key's
 * bucket, which gw_key_take guards with the key's mutex; any thread.
 * Ownership: gw_keys_parse returns a set the caller frees (gw_keys_free);
 * keys found in it are borrowed from it. */
#ifndef GW_KEYS_H
#define GW_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define GW_KEY_NAME_MAX    64
#define GW_KEY_ORIGINS_MAX 16
#define GW_KEY_ORIGIN_MAX  256
#define GW_KEYS_MAX        1024
#define GW_KEY_TOKEN_MAX   512 /* longest bearer token looked up */

enum {
    GW_SCOPE_LEADS = 1,
    GW_SCOPE_RESPONSES = 2,
    GW_SCOPE_ACTIVITIES = 4,
};

typedef struct gw_key gw_key; /* opaque */
typedef struct gw_keys gw_keys;

/* Parses the keys file's text. `where` names it in errors (a path, or
 * the variable). rate: tokens a second each key gets; burst: the
 * bucket's size (>= 1). NULL with err "<where>:<line>: what; fix" on the
 * first bad line, or when there is no key at all. */
gw_keys *gw_keys_parse(const char *text, const char *where, double rate,
                       double burst, char *err, size_t errsz);
void gw_keys_free(gw_keys *ks); /* NULL ok */
size_t gw_keys_count(const gw_keys *ks);

/* The key whose hash is SHA-256(token), or NULL. Constant time over the
 * set's keys. */
gw_key *gw_keys_find(gw_keys *ks, const char *token);
/* 1 when some key lists `origin` (for preflights, which carry no key). */
int gw_keys_origin_known(const gw_keys *ks, const char *origin);

const char *gw_key_name(const gw_key *k);
int gw_key_has_scope(const gw_key *k, unsigned scope);
/* 1 when the key lists `origin`. */
int gw_key_allows_origin(const gw_key *k, const char *origin);
/* Takes a token from the key's bucket at monotonic time now_ms: 1, or 0
 * with *retry_after_s the whole seconds until one is there (>= 1). */
int gw_key_take(gw_key *k, int64_t now_ms, int *retry_after_s);

#endif
