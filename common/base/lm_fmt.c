/* lm_fmt.c — see lm_fmt.h. */
#include "lm_fmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

size_t lm_fmt_cat(char *buf, size_t bufsz, const char *part, ...) {
    size_t len = 0;
    if (bufsz == 0)
        return 0;
    va_list ap;
    va_start(ap, part);
    for (const char *p = part; p; p = va_arg(ap, const char *)) {
        size_t n = strlen(p);
        if (len + n >= bufsz) {
            memcpy(buf + len, p, bufsz - 1 - len);
            buf[bufsz - 1] = '\0';
            va_end(ap);
            return bufsz;
        }
        memcpy(buf + len, p, n);
        len += n;
    }
    va_end(ap);
    buf[len] = '\0';
    return len;
}

/* v = m * 2^-k exactly (m < 2^53), so v * 10^6 = m * 10^6 / 2^k with
 * m * 10^6 < 2^73: its integer part and the rounding are exact in 128-bit
 * arithmetic, as glibc's printf computes them (round to nearest, ties to
 * even). */
size_t lm_fmt_f6(char *buf, double v) {
    if (!(v >= 0 && v < 1e9) || signbit(v)) {
        int n = snprintf(buf, LM_FMT_F6_MAX, "%.6f", v);
        return n < 0 ? 0 : n < LM_FMT_F6_MAX ? (size_t)n : LM_FMT_F6_MAX - 1;
    }
    int e;
    double f = frexp(v, &e); /* v = f * 2^e, 0.5 <= f < 1 (or v == 0) */
    uint64_t m = (uint64_t)ldexp(f, 53);
    int k = 53 - e; /* v = m * 2^-k; k > 0 as v < 2^30 */
    unsigned __int128 p = (unsigned __int128)m * 1000000u;
    uint64_t q;
    if (k >= 128) {
        q = 0; /* v * 10^6 < 2^73 / 2^128: rounds to 0 */
    } else {
        q = (uint64_t)(p >> k);
        unsigned __int128 rem = p & ((((unsigned __int128)1) << k) - 1);
        unsigned __int128 half = ((unsigned __int128)1) << (k - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
    }
    size_t len = lm_fmt_i64(buf, (int64_t)(q / 1000000u));
    uint64_t frac = q % 1000000u;
    buf[len++] = '.';
    for (int i = 5; i >= 0; i--) {
        buf[len + (size_t)i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    len += 6;
    buf[len] = '\0';
    return len;
}

int lm_errf(char *err, size_t errsz, const char *fmt, ...) {
    if (err == NULL || errsz == 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return -1;
}

int lm_errf_add(char *err, size_t errsz, const char *fmt, ...) {
    if (err == NULL || errsz == 0)
        return -1;
    size_t used = strnlen(err, errsz);
    if (used + 2 >= errsz)
        return -1;
    if (used > 0)
        err[used++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + used, errsz - used, fmt, ap);
    va_end(ap);
    return -1;
}

const char *lm_fmt_duration(char *buf, size_t sz, double s, unsigned flags) {
    if (!isfinite(s)) {
        snprintf(buf, sz, "n/a");
        return buf;
    }
    if (s < 60) {
        snprintf(buf, sz,
                 flags & LM_FMT_DUR_WHOLE ? "%.0fs"
                 : s < 10                 ? "%.2fs"
                                          : "%.1fs",
                 s);
        return buf;
    }
    long long t = llround(s);
    if (t < 3600)
        snprintf(buf, sz, "%lldm %02llds", t / 60, t % 60);
    else if (t < 86400)
        snprintf(buf, sz, "%lldh %02lldm", t / 3600, t % 3600 / 60);
    else
        snprintf(buf, sz, "%lldd %02lldh", t / 86400, t % 86400 / 3600);
    return buf;
}
