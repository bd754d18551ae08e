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
