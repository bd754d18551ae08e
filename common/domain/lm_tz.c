/* lm_tz.c — TZif reader, POSIX TZ rules, and a small zone cache.
 *
 * A zone is read once (RFC 8536: header, v1 block skipped when a v2+ block
 * follows, 64-bit transitions, local time types, then the "\n<TZ>\n"
 * footer) into a tz_zone: ascending transition instants, the type index of
 * each, and the UTC offset and DST flag of each type. A lookup is a binary
 * search; at or after the last transition the footer's rule decides (as
 * glibc and RFC 8536 do), before the first transition type 0 applies.
 *
 * The cache is an array of LM_TZ_CACHE_MAX owned zone pointers with a use
 * stamp each; a miss when full evicts the least recently used zone. One
 * mutex guards it and every lookup runs under it, so no zone is freed while
 * in use. Names are validated before any path is built from them.
 *
 * Calendar arithmetic is proleptic Gregorian on int64 days since
 * 1970-01-01 (Howard Hinnant's days_from_civil / civil_from_days). */
#include "lm_tz.h"

#include "lm_fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LM_TZ_MIN_S      (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define LM_TZ_MAX_S      253402300799LL   /* 9999-12-31T23:59:59Z */
#define LM_TZ_UTOFF_MIN  (-89999)         /* RFC 8536 bounds */
#define LM_TZ_UTOFF_MAX  93599
#define LM_TZ_RULE_H_MAX 167 /* TZif v3: rule times may reach 167h */
#define LM_TZ_FOOTER_MAX 256
#define LM_TZ_LEAPS_MAX  1024
#define LM_TZ_HDR_SIZE   44
#define LM_TZ_DAY_S      86400LL

/* ------------------------------------------------------------------ */
/* Calendar                                                            */
/* ------------------------------------------------------------------ */

static int64_t tz_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t tz_floor_mod(int64_t a, int64_t b) {
    return a - tz_floor_div(a, b) * b;
}

static int64_t tz_days_from_civil(int64_t y, int64_t m, int64_t d) {
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = tz_floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void tz_civil_from_days(int64_t z, int64_t *y, int32_t *m, int32_t *d) {
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = tz_floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int32_t)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int32_t)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int tz_is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int tz_days_in_month(int64_t y, int m) {
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    return m == 2 && tz_is_leap(y) ? 29 : mdays[m - 1];
}

/* ------------------------------------------------------------------ */
/* POSIX TZ strings (the TZif footer)                                  */
/* ------------------------------------------------------------------ */

enum { TZ_RULE_J1, TZ_RULE_J0, TZ_RULE_M };

typedef struct tz_rule {
    int kind;              /* TZ_RULE_J1 "Jn", TZ_RULE_J0 "n", TZ_RULE_M */
    int day;               /* Jn: 1..365; n: 0..365 */
    int month, week, wday; /* Mm.w.d: 1..12, 1..5 (5 = last), 0 = Sunday */
    int32_t secs;          /* local time of day of the change */
} tz_rule;

typedef struct tz_posix {
    int32_t std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    tz_rule start, end; /* start in standard time, end in DST */
} tz_posix;

static const char *tzp_name(const char *s) {
    const char *b = s;
    if (*s == '<') {
        s++;
        b = s;
        while (*s != '\0' && *s != '>') {
            if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                  (*s >= '0' && *s <= '9') || *s == '+' || *s == '-'))
                return NULL;
            s++;
        }
        if (*s != '>' || s - b < 3)
            return NULL;
        return s + 1;
    }
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
        s++;
    return s - b >= 3 ? s : NULL;
}

static const char *tzp_num(const char *s, int *v, int max) {
    int n = 0, k = 0;
    while (*s >= '0' && *s <= '9' && k < 4) {
        n = n * 10 + (*s - '0');
        s++;
        k++;
    }
    if (k == 0 || n > max)
        return NULL;
    *v = n;
    return s;
}

/* [+-]hh[:mm[:ss]] with hh <= hmax; signed only if allow_sign. */
static const char *tzp_time(const char *s, int32_t *secs, int hmax,
                            int allow_sign) {
    int sign = 1, h, m = 0, sec = 0;
    if (allow_sign && (*s == '+' || *s == '-')) {
        sign = *s == '-' ? -1 : 1;
        s++;
    }
    if ((s = tzp_num(s, &h, hmax)) == NULL)
        return NULL;
    if (*s == ':') {
        if ((s = tzp_num(s + 1, &m, 59)) == NULL)
            return NULL;
        if (*s == ':' && (s = tzp_num(s + 1, &sec, 59)) == NULL)
            return NULL;
    }
    *secs = sign * (h * 3600 + m * 60 + sec);
    return s;
}

static const char *tzp_rule(const char *s, tz_rule *r) {
    memset(r, 0, sizeof *r);
    if (*s == 'J') {
        r->kind = TZ_RULE_J1;
        if ((s = tzp_num(s + 1, &r->day, 365)) == NULL || r->day < 1)
            return NULL;
    } else if (*s >= '0' && *s <= '9') {
        r->kind = TZ_RULE_J0;
        if ((s = tzp_num(s, &r->day, 365)) == NULL)
            return NULL;
    } else if (*s == 'M') {
        r->kind = TZ_RULE_M;
        if ((s = tzp_num(s + 1, &r->month, 12)) == NULL || r->month < 1 ||
            *s != '.')
            return NULL;
        if ((s = tzp_num(s + 1, &r->week, 5)) == NULL || r->week < 1 ||
            *s != '.')
            return NULL;
        if ((s = tzp_num(s + 1, &r->wday, 6)) == NULL)
            return NULL;
    } else {
        return NULL;
    }
    r->secs = 2 * 3600;
    if (*s == '/')
        s = tzp_time(s + 1, &r->secs, LM_TZ_RULE_H_MAX, 1);
    return s;
}

static int tzp_parse(const char *s, tz_posix *p) {
    int32_t v;
    memset(p, 0, sizeof *p);
    if ((s = tzp_name(s)) == NULL || (s = tzp_time(s, &v, 24, 1)) == NULL)
        return -1;
    p->std_off = -v;
    p->dst_off = p->std_off;
    if (*s == '\0')
        return 0;
    if ((s = tzp_name(s)) == NULL)
        return -1;
    p->has_dst = 1;
    p->dst_off = p->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if ((s = tzp_time(s, &v, 24, 1)) == NULL)
            return -1;
        p->dst_off = -v;
    }
    if (*s == '\0') { /* POSIX leaves this to the implementation: US rules */
        s = "M3.2.0,M11.1.0";
    } else if (*s == ',') {
        s++;
    } else {
        return -1;
    }
    if ((s = tzp_rule(s, &p->start)) == NULL || *s != ',')
        return -1;
    if ((s = tzp_rule(s + 1, &p->end)) == NULL || *s != '\0')
        return -1;
    return 0;
}

/* The local-time seconds (days since epoch * 86400 + time) at which rule r
 * fires in year y. */
static int64_t tzp_rule_local(const tz_rule *r, int64_t y) {
    int64_t days;
    if (r->kind == TZ_RULE_J1) {
        int64_t doy = r->day - 1;
        if (tz_is_leap(y) && r->day >= 60)
            doy++;
        days = tz_days_from_civil(y, 1, 1) + doy;
    } else if (r->kind == TZ_RULE_J0) {
        days = tz_days_from_civil(y, 1, 1) + r->day;
    } else {
        int64_t first = tz_days_from_civil(y, r->month, 1);
        int wd_first = (int)tz_floor_mod(first + 4, 7); /* 0 = Sunday */
        int day = (r->wday - wd_first + 7) % 7 + (r->week - 1) * 7;
        int mdays = tz_days_in_month(y, r->month);
        while (day >= mdays)
            day -= 7;
        days = first + day;
    }
    return days * LM_TZ_DAY_S + r->secs;
}

static void tzp_lookup(const tz_posix *p, int64_t t, int32_t *off, int *isdst) {
    int64_t y, start, end;
    int32_t m, d;
    int dst;

    if (!p->has_dst) {
        *off = p->std_off;
        *isdst = 0;
        return;
    }
    tz_civil_from_days(tz_floor_div(t + p->std_off, LM_TZ_DAY_S), &y, &m, &d);
    start = tzp_rule_local(&p->start, y) - p->std_off;
    end = tzp_rule_local(&p->end, y) - p->dst_off;
    if (start < end)
        dst = t >= start && t < end;
    else
        dst = !(t >= end && t < start);
    *off = dst ? p->dst_off : p->std_off;
    *isdst = dst;
}

/* ------------------------------------------------------------------ */
/* TZif                                                                */
/* ------------------------------------------------------------------ */

typedef struct tz_zone {
    char name[LM_TZ_NAME_MAX + 1];
    int64_t *times; /* n_times ascending transition instants (s) */
    uint8_t *idx;   /* type index in effect from times[i] */
    size_t n_times;
    int32_t *offs; /* n_types UTC offsets (s) */
    uint8_t *dst;  /* n_types DST flags */
    size_t n_types;
    int has_footer;
    tz_posix footer;
    uint64_t used; /* LRU stamp */
} tz_zone;

typedef struct tz_hdr {
    int version; /* 0 for version 1, else the digit */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tz_hdr;

static uint32_t tz_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static int64_t tz_be64(const uint8_t *p) {
    return (int64_t)((uint64_t)tz_be32(p) << 32 | (uint64_t)tz_be32(p + 4));
}

static void tz_zone_free(tz_zone *z) {
    if (z == NULL)
        return;
    free(z->times);
    free(z->idx);
    free(z->offs);
    free(z->dst);
    free(z);
}

static int tz_read_hdr(const uint8_t *buf, size_t len, size_t pos, tz_hdr *h) {
    if (len < pos || len - pos < LM_TZ_HDR_SIZE ||
        memcmp(buf + pos, "TZif", 4) != 0)
        return -1;
    h->version = buf[pos + 4] == 0 ? 0 : buf[pos + 4] - '0';
    if (h->version != 0 && (h->version < 2 || h->version > 9))
        return -1;
    h->isutcnt = tz_be32(buf + pos + 20);
    h->isstdcnt = tz_be32(buf + pos + 24);
    h->leapcnt = tz_be32(buf + pos + 28);
    h->timecnt = tz_be32(buf + pos + 32);
    h->typecnt = tz_be32(buf + pos + 36);
    h->charcnt = tz_be32(buf + pos + 40);
    if (h->timecnt > LM_TZ_TIMES_MAX || h->typecnt < 1 ||
        h->typecnt > LM_TZ_TYPES_MAX || h->leapcnt > LM_TZ_LEAPS_MAX ||
        h->charcnt > LM_TZ_FILE_MAX ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt) ||
        (h->isutcnt != 0 && h->isutcnt != h->typecnt))
        return -1;
    return 0;
}

static size_t tz_block_size(const tz_hdr *h, size_t tsz) {
    return (size_t)h->timecnt * (tsz + 1) + (size_t)h->typecnt * 6 +
           h->charcnt + (size_t)h->leapcnt * (tsz + 4) + h->isstdcnt +
           h->isutcnt;
}

/* Parses one data block (times of tsz bytes) at buf+pos into z. */
static int tz_read_block(const uint8_t *buf, size_t len, size_t pos,
                         const tz_hdr *h, size_t tsz, tz_zone *z) {
    const uint8_t *p = buf + pos, *ip, *tp;
    size_t i;

    if (len - pos < tz_block_size(h, tsz))
        return -1;
    z->n_times = h->timecnt;
    z->n_types = h->typecnt;
    z->times = malloc(sizeof *z->times * (h->timecnt ? h->timecnt : 1));
    z->idx = malloc(h->timecnt ? h->timecnt : 1);
    z->offs = malloc(sizeof *z->offs * h->typecnt);
    z->dst = malloc(h->typecnt);
    if (z->times == NULL || z->idx == NULL || z->offs == NULL || z->dst == NULL)
        return -1;
    ip = p + (size_t)h->timecnt * tsz;
    tp = ip + h->timecnt;
    for (i = 0; i < h->timecnt; i++) {
        z->times[i] = tsz == 8 ? tz_be64(p + i * 8)
                               : (int64_t)(int32_t)tz_be32(p + i * 4);
        z->idx[i] = ip[i];
        if (ip[i] >= h->typecnt || (i > 0 && z->times[i] <= z->times[i - 1]))
            return -1;
    }
    for (i = 0; i < h->typecnt; i++) {
        int32_t off = (int32_t)tz_be32(tp + i * 6);
        if (off < LM_TZ_UTOFF_MIN || off > LM_TZ_UTOFF_MAX || tp[i * 6 + 4] > 1)
            return -1;
        z->offs[i] = off;
        z->dst[i] = tp[i * 6 + 4];
    }
    return 0;
}

static int tz_parse(const uint8_t *buf, size_t len, tz_zone *z) {
    tz_hdr h1, h2;
    size_t pos;

    if (tz_read_hdr(buf, len, 0, &h1) != 0)
        return -1;
    if (h1.version == 0)
        return tz_read_block(buf, len, LM_TZ_HDR_SIZE, &h1, 4, z);
    pos = LM_TZ_HDR_SIZE + tz_block_size(&h1, 4);
    if (pos > len || tz_read_hdr(buf, len, pos, &h2) != 0)
        return -1;
    pos += LM_TZ_HDR_SIZE;
    if (tz_read_block(buf, len, pos, &h2, 8, z) != 0)
        return -1;
    pos += tz_block_size(&h2, 8);
    if (pos < len && buf[pos] == '\n') {
        char footer[LM_TZ_FOOTER_MAX];
        size_t n = 0;
        pos++;
        while (pos < len && buf[pos] != '\n' && n < sizeof footer - 1)
            footer[n++] = (char)buf[pos++];
        if (pos >= len || buf[pos] != '\n')
            return -1;
        footer[n] = '\0';
        if (n > 0) {
            if (tzp_parse(footer, &z->footer) != 0)
                return -1;
            z->has_footer = 1;
        }
    }
    return 0;
}

static void tz_zone_lookup(const tz_zone *z, int64_t t, int32_t *off,
                           int *isdst) {
    size_t type = 0;

    if (z->n_times > 0 && t >= z->times[z->n_times - 1]) {
        if (z->has_footer) {
            tzp_lookup(&z->footer, t, off, isdst);
            return;
        }
        type = z->idx[z->n_times - 1];
    } else if (z->n_times == 0 && z->has_footer) {
        tzp_lookup(&z->footer, t, off, isdst);
        return;
    } else if (z->n_times > 0 && t >= z->times[0]) {
        size_t lo = 0, hi = z->n_times - 1; /* times[lo] <= t < times[hi] */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (z->times[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        type = z->idx[lo];
    }
    *off = z->offs[type];
    *isdst = z->dst[type];
}

/* ------------------------------------------------------------------ */
/* Names and files                                                     */
/* ------------------------------------------------------------------ */

static int tz_name_ok(const char *name, char *err, size_t errsz) {
    size_t i, n;

    if (name == NULL || name[0] == '\0') {
        lm_errf(err, errsz, "time zone is empty");
        return -1;
    }
    n = strnlen(name, LM_TZ_NAME_MAX + 1);
    if (n > LM_TZ_NAME_MAX) {
        lm_errf(err, errsz, "time zone name is longer than %d characters",
                LM_TZ_NAME_MAX);
        return -1;
    }
    if (name[0] == '/' || strstr(name, "..") != NULL) {
        lm_errf(err, errsz,
                "time zone \"%.64s\" is not a zone name; write e.g. "
                "\"Europe/Berlin\"",
                name);
        return -1;
    }
    for (i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-' ||
              c == '/')) {
            lm_errf(err, errsz,
                    "time zone \"%.64s\" has a character outside "
                    "[A-Za-z0-9_+/-]; write e.g. \"America/New_York\"",
                    name);
            return -1;
        }
    }
    return 0;
}

static tz_zone *tz_load(const char *name, char *err, size_t errsz) {
    const char *dir = getenv("TZDIR");
    char path[4096];
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    tz_zone *z = NULL;
    int fd = -1;

    if (dir == NULL || dir[0] == '\0')
        dir = LM_TZ_DEFAULT_DIR;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
        sizeof path) {
        lm_errf(err, errsz, "time zone path %s/%s is too long", dir, name);
        return NULL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            lm_errf(err, errsz,
                    "time zone \"%s\" not found in %s; write an IANA name "
                    "such as \"Europe/Berlin\"",
                    name, dir);
        else
            lm_errf(err, errsz, "time zone \"%s\": cannot open %s", name, path);
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > LM_TZ_FILE_MAX) {
        lm_errf(err, errsz, "time zone \"%s\": %s is not a time zone file",
                name, path);
        goto done;
    }
    buf = malloc((size_t)st.st_size);
    if (buf == NULL) {
        lm_errf(err, errsz, "time zone \"%s\": out of memory", name);
        goto done;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    z = calloc(1, sizeof *z);
    if (z == NULL || tz_parse(buf, got, z) != 0) {
        lm_errf(err, errsz, "time zone \"%s\": %s is not a valid TZif file",
                name, path);
        tz_zone_free(z);
        z = NULL;
        goto done;
    }
    snprintf(z->name, sizeof z->name, "%s", name);
done:
    free(buf);
    close(fd);
    return z;
}

/* ------------------------------------------------------------------ */
/* Cache                                                               */
/* ------------------------------------------------------------------ */

static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;
static tz_zone *tz_cache[LM_TZ_CACHE_MAX];
static size_t tz_cache_n;
static uint64_t tz_stamp;
static size_t tz_last; /* index of the last hit: the common case */

/* The cached (or freshly loaded) zone; tz_mu must be held. */
static tz_zone *tz_get(const char *name, char *err, size_t errsz) {
    size_t i, victim = 0;
    tz_zone *z;

    if (tz_name_ok(name, err, errsz) != 0)
        return NULL;
    if (tz_last < tz_cache_n && strcmp(tz_cache[tz_last]->name, name) == 0) {
        tz_cache[tz_last]->used = ++tz_stamp;
        return tz_cache[tz_last];
    }
    for (i = 0; i < tz_cache_n; i++) {
        if (strcmp(tz_cache[i]->name, name) == 0) {
            tz_cache[i]->used = ++tz_stamp;
            tz_last = i;
            return tz_cache[i];
        }
    }
    if ((z = tz_load(name, err, errsz)) == NULL)
        return NULL;
    if (tz_cache_n < LM_TZ_CACHE_MAX) {
        victim = tz_cache_n++;
    } else {
        for (i = 1; i < tz_cache_n; i++)
            if (tz_cache[i]->used < tz_cache[victim]->used)
                victim = i;
        tz_zone_free(tz_cache[victim]);
    }
    tz_cache[victim] = z;
    z->used = ++tz_stamp;
    tz_last = victim;
    return z;
}

void lm_tz_cache_clear(void) {
    size_t i;
    pthread_mutex_lock(&tz_mu);
    for (i = 0; i < tz_cache_n; i++) {
        tz_zone_free(tz_cache[i]);
        tz_cache[i] = NULL;
    }
    tz_cache_n = 0;
    tz_last = 0;
    pthread_mutex_unlock(&tz_mu);
}

size_t lm_tz_cache_size(void) {
    size_t n;
    pthread_mutex_lock(&tz_mu);
    n = tz_cache_n;
    pthread_mutex_unlock(&tz_mu);
    return n;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

int lm_tz_check(const char *name, char *err, size_t errsz) {
    tz_zone *z;
    pthread_mutex_lock(&tz_mu);
    z = tz_get(name, err, errsz);
    pthread_mutex_unlock(&tz_mu);
    return z != NULL ? 0 : -1;
}

int lm_tz_valid(const char *name) {
    return lm_tz_check(name, NULL, 0) == 0;
}

/* Epoch seconds of utc_ms, or -1 if outside years 1..9999. */
static int tz_seconds(int64_t utc_ms, int64_t *t) {
    *t = tz_floor_div(utc_ms, 1000);
    return *t < LM_TZ_MIN_S || *t > LM_TZ_MAX_S ? -1 : 0;
}

int lm_tz_offset(const char *name, int64_t utc_ms, int32_t *offset_s) {
    tz_zone *z;
    int64_t t;
    int32_t off = 0;
    int isdst = 0;

    if (offset_s == NULL || tz_seconds(utc_ms, &t) != 0)
        return -1;
    pthread_mutex_lock(&tz_mu);
    z = tz_get(name, NULL, 0);
    if (z != NULL)
        tz_zone_lookup(z, t, &off, &isdst);
    pthread_mutex_unlock(&tz_mu);
    if (z == NULL)
        return -1;
    *offset_s = off;
    return 0;
}

int lm_tz_local(const char *name, int64_t utc_ms, lm_local_time *out) {
    tz_zone *z;
    int64_t t, local, days, y, secs;
    int32_t off = 0, m, d;
    int isdst = 0;

    if (out == NULL || tz_seconds(utc_ms, &t) != 0)
        return -1;
    pthread_mutex_lock(&tz_mu);
    z = tz_get(name, NULL, 0);
    if (z != NULL)
        tz_zone_lookup(z, t, &off, &isdst);
    pthread_mutex_unlock(&tz_mu);
    if (z == NULL)
        return -1;
    local = t + off;
    days = tz_floor_div(local, LM_TZ_DAY_S);
    secs = local - days * LM_TZ_DAY_S;
    tz_civil_from_days(days, &y, &m, &d);
    out->year = (int32_t)y;
    out->month = m;
    out->mday = d;
    out->hour = (int32_t)(secs / 3600);
    out->minute = (int32_t)(secs / 60 % 60);
    out->second = (int32_t)(secs % 60);
    out->weekday = (int32_t)tz_floor_mod(days + 3, 7); /* 1970-01-01: Thu */
    out->hour_of_week = out->weekday * 24 + out->hour;
    out->minute_of_day = out->hour * 60 + out->minute;
    out->offset_s = off;
    out->is_dst = isdst;
    return 0;
}

int64_t lm_tz_to_utc_ms(const char *name, int year, int mon, int mday, int hour,
                        int min) {
    tz_zone *z;
    int64_t y, m, local, ta, tb, res;
    int32_t oa = 0, ob = 0, o;
    int isdst, va, vb;

    m = (int64_t)mon - 1;
    y = (int64_t)year + tz_floor_div(m, 12);
    m = tz_floor_mod(m, 12) + 1;
    if (y < 1 || y > 9999)
        return -1;
    local = (tz_days_from_civil(y, m, 1) + (int64_t)mday - 1) * LM_TZ_DAY_S +
            (int64_t)hour * 3600 + (int64_t)min * 60;
    if (local < LM_TZ_MIN_S + 2 * LM_TZ_DAY_S ||
        local > LM_TZ_MAX_S - 2 * LM_TZ_DAY_S)
        return -1;
    pthread_mutex_lock(&tz_mu);
    z = tz_get(name, NULL, 0);
    if (z == NULL) {
        pthread_mutex_unlock(&tz_mu);
        return -1;
    }
    /* The offsets a day either side bracket any single change. */
    tz_zone_lookup(z, local - LM_TZ_DAY_S, &oa, &isdst);
    tz_zone_lookup(z, local + LM_TZ_DAY_S, &ob, &isdst);
    ta = local - oa;
    tb = local - ob;
    tz_zone_lookup(z, ta, &o, &isdst);
    va = o == oa;
    tz_zone_lookup(z, tb, &o, &isdst);
    vb = o == ob;
    pthread_mutex_unlock(&tz_mu);
    if (va && vb)
        res = ta < tb ? ta : tb; /* twice on the wall clock: the first */
    else if (va)
        res = ta;
    else if (vb)
        res = tb;
    else
        res = ta; /* skipped: the offset before the change still holds */
    return res * 1000;
}
