/* lm_fmt.c — see lm_fmt.h. */
#include "lm_fmt.h"

#include <stdarg.h>

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
