/* lm_redis_cluster_keys.c — which slot a key is in and where a command's
 * keys are (see lm_redis_cluster.h). Pure functions, no state. */
#include "lm_redis_cluster.h"

#include "lm_env.h"

#include <string.h>
#include <strings.h>

static uint16_t crc16(const char *buf, size_t len) {
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

unsigned lm_rcluster_slot(const char *key, size_t len) {
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) &
                   (LM_RCL_SLOTS - 1);
    }
    return crc16(key, len) & (LM_RCL_SLOTS - 1);
}

static int name_is(const lm_rcluster_arg *a, const char *name) {
    size_t n = strlen(name);
    return a->len == n && strncasecmp(a->s, name, n) == 0;
}

static int name_in(const lm_rcluster_arg *a, const char *const *names) {
    for (; *names; names++)
        if (name_is(a, *names))
            return 1;
    return 0;
}

/* Where a command's keys are: args [first, end) every step; end == first
 * when it has none. */
void lm_rcluster_key_span(const lm_rcluster_arg *a, size_t argc, size_t *first,
                          size_t *end, size_t *step) {
    static const char *const keyless[] = {
        "PING",      "ECHO",     "TIME",     "INFO",      "SCRIPT", "MULTI",
        "EXEC",      "DISCARD",  "UNWATCH",  "CLUSTER",   "CONFIG", "ACL",
        "CLIENT",    "DBSIZE",   "FLUSHALL", "FLUSHDB",   "SCAN",   "KEYS",
        "RANDOMKEY", "WAIT",     "SELECT",   "AUTH",      "HELLO",  "COMMAND",
        "SLOWLOG",   "LATENCY",  "DEBUG",    "SAVE",      "BGSAVE", "LASTSAVE",
        "PUBLISH",   "FUNCTION", "READONLY", "READWRITE", "ASKING", "ROLE",
        "MEMORY",    "OBJECT",   NULL};
    static const char *const all_keys[] = {
        "DEL",         "UNLINK",     "EXISTS",    "MGET",    "WATCH",
        "TOUCH",       "SINTER",     "SUNION",    "SDIFF",   "SINTERSTORE",
        "SUNIONSTORE", "SDIFFSTORE", "PFCOUNT",   "PFMERGE", "RENAME",
        "RENAMENX",    "SMOVE",      "RPOPLPUSH", "LMOVE",   "COPY",
        NULL};
    *first = *end = 1;
    *step = 1;
    if (argc < 2 || name_in(&a[0], keyless)) {
        if (argc >= 3 && (name_is(&a[0], "MEMORY") || name_is(&a[0], "OBJECT")))
            *first = 2, *end = 3; /* MEMORY USAGE key, OBJECT ENCODING key */
        return;
    }
    if (name_is(&a[0], "EVAL") || name_is(&a[0], "EVALSHA") ||
        name_is(&a[0], "EVAL_RO") || name_is(&a[0], "EVALSHA_RO") ||
        name_is(&a[0], "FCALL") || name_is(&a[0], "FCALL_RO")) {
        char nk[24];
        int64_t n = 0;
        if (argc >= 3 && a[2].len < sizeof(nk)) {
            memcpy(nk, a[2].s, a[2].len);
            nk[a[2].len] = '\0';
            if (lm_parse_int64(nk, 0, (int64_t)argc - 3, &n) != 0)
                n = 0;
        }
        *first = 3;
        *end = 3 + (size_t)n;
        return;
    }
    if (name_is(&a[0], "MSET") || name_is(&a[0], "MSETNX")) {
        *end = argc;
        *step = 2;
        return;
    }
    *end = name_in(&a[0], all_keys) ? argc : 2;
    if ((name_is(&a[0], "RENAME") || name_is(&a[0], "RENAMENX") ||
         name_is(&a[0], "SMOVE") || name_is(&a[0], "RPOPLPUSH") ||
         name_is(&a[0], "LMOVE") || name_is(&a[0], "COPY")) &&
        argc > 3)
        *end = 3;
}
