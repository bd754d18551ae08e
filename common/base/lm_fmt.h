/* lm_fmt.h — number and string formatting for the per-message hot path,
 * the one duration formatter for people, and the one error setter.
 *
 * snprintf parses its format on every call; on the hot path (ids, Redis
 * keys, numbers in commands) that was a quarter of a worker's instructions
 * (callgrind, see docs/PERFORMANCE.md). These write straight into the
 * caller's buffer and return the length written (not counting the NUL they
 * always add). Pure, thread-safe. Each states the room it needs. */
#ifndef LM_FMT_H
#define LM_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LM_FMT_I64_MAX 21 /* "-9223372036854775808" + NUL */

/* Decimal; buf holds LM_FMT_I64_MAX. */
static inline size_t lm_fmt_i64(char *buf, int64_t v) {
    char tmp[LM_FMT_I64_MAX];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

/* The low `digits` hex digits of v, zero-padded; buf holds digits + 1. */
static inline size_t lm_fmt_hex(char *buf, uint64_t v, int digits) {
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--) {
        buf[i] = hex[v & 15];
        v >>= 4;
    }
    buf[digits] = '\0';
    return (size_t)digits;
}

#define LM_FMT_F6_MAX 32 /* room for any lm_fmt_f6 text */

/* v with six decimals, exactly as printf's "%.6f" writes it (the exact
 * binary value rounded to nearest, ties to even); buf holds
 * LM_FMT_F6_MAX, enough for |v| < 1e24 (a longer text is cut to fit; the
 * length written is returned). Direct for 0 <= v < 1e9 (a score, a
 * probability), by snprintf otherwise. */
size_t lm_fmt_f6(char *buf, double v);

/* Concatenates NUL-terminated parts (ended by NULL) into buf of size bufsz;
 * returns the length, or bufsz when it did not fit (buf then holds a
 * truncated, NUL-terminated prefix). */
size_t lm_fmt_cat(char *buf, size_t bufsz, const char *part, ...)
    __attribute__((sentinel));

#define LM_FMT_DURATION_MAX 32 /* room for any lm_fmt_duration text */
#define LM_FMT_DUR_WHOLE    1u /* under a minute: whole seconds, "42s" */

/* A duration of s seconds for people, in its two largest units:
 * "4.25s" under 10 s, "42.5s" under a minute (with LM_FMT_DUR_WHOLE in
 * flags: "4s", "42s", rounded), then rounded to the second: "4m 12s", "3h 05m",
 * "2d 07h"; "n/a" when s is not finite. Writes into buf of size sz (cut
 * to fit; LM_FMT_DURATION_MAX is always enough) and returns buf, so it
 * can be a printf argument. The board's page formats the same way. */
const char *lm_fmt_duration(char *buf, size_t sz, double s, unsigned flags);

/* The one error setter: formats into the caller's error buffer (err may
 * be NULL or errsz 0: then nothing is written). Returns -1, so a failing
 * path can `return lm_errf(err, errsz, "...", ...);`. */
int lm_errf(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends one more line to what err already holds (a '\n' between
 * lines), for collecting every problem of a config; a line that does not
 * fit is cut. Returns -1. */
int lm_errf_add(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
