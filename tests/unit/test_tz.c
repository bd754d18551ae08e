/* test_tz.c — lm_tz against glibc, POSIX footer rules, files, the cache.
 *
 * The reference is glibc's localtime_r with setenv("TZ"): for every zone
 * in the table, instants every ~7 hours from 2020 to 2040 plus the exact
 * second of every offset change (found by bisection on glibc) and the
 * seconds either side. Footer rules are checked by writing a TZif file
 * that has no transitions, only the footer, and comparing with glibc
 * reading the same POSIX TZ string directly. Scratch files live in a
 * mkdtemp directory that each test removes. Single-threaded (--jobs 1 not
 * required: TZ and TZDIR are process-wide, but Criterion runs each test in
 * its own process). */
#include "lm_tz.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T2020 1577836800LL /* 2020-01-01T00:00:00Z */
#define T2041 2240611200LL /* 2041-01-01T00:00:00Z */
#define STEP  25253        /* ~7 h, co-prime with hours and days */

/* ---- helpers ------------------------------------------------------------ */

static void set_tz(const char *tz) {
    setenv("TZ", tz, 1);
    tzset();
}

static long glibc_off(time_t t) {
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

/* Compares lm_tz_local(zone) with glibc (TZ already set) at t. */
static void check_at(const char *zone, time_t t, int64_t extra_ms) {
    struct tm tm;
    lm_local_time lt;
    int32_t off;

    localtime_r(&t, &tm);
    cr_assert_eq(lm_tz_local(zone, (int64_t)t * 1000 + extra_ms, &lt), 0,
                 "%s at %lld", zone, (long long)t);
    cr_assert_eq(lt.offset_s, tm.tm_gmtoff, "%s at %lld: offset %d vs %ld",
                 zone, (long long)t, lt.offset_s, tm.tm_gmtoff);
    cr_assert(lt.year == tm.tm_year + 1900 && lt.month == tm.tm_mon + 1 &&
                  lt.mday == tm.tm_mday && lt.hour == tm.tm_hour &&
                  lt.minute == tm.tm_min && lt.second == tm.tm_sec,
              "%s at %lld: %04d-%02d-%02d %02d:%02d:%02d vs glibc "
              "%04d-%02d-%02d %02d:%02d:%02d",
              zone, (long long)t, lt.year, lt.month, lt.mday, lt.hour,
              lt.minute, lt.second, tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cr_assert_eq(lt.weekday, (tm.tm_wday + 6) % 7, "%s at %lld", zone,
                 (long long)t);
    cr_assert_eq(lt.hour_of_week, lt.weekday * 24 + lt.hour);
    cr_assert_eq(lt.minute_of_day, lt.hour * 60 + lt.minute);
    cr_assert_eq(lt.is_dst, tm.tm_isdst > 0, "%s at %lld: dst", zone,
                 (long long)t);
    cr_assert_eq(lm_tz_offset(zone, (int64_t)t * 1000 + extra_ms, &off), 0);
    cr_assert_eq(off, lt.offset_s);
}

/* Walks 2020-2040 comparing zone (our name) with glibc under TZ=glibc_tz;
 * returns how many offset changes it checked exactly. */
static int sweep(const char *zone, const char *glibc_tz) {
    time_t t, prev = (time_t)T2020;
    int changes = 0;

    set_tz(glibc_tz);
    for (t = (time_t)T2020; t < (time_t)T2041; t += STEP) {
        check_at(zone, t, 0);
        check_at(zone, t, 999);
        if (t > prev && glibc_off(t) != glibc_off(prev)) {
            time_t lo = prev, hi = t; /* change in (lo, hi] */
            while (hi - lo > 1) {
                time_t mid = lo + (hi - lo) / 2;
                if (glibc_off(mid) == glibc_off(prev))
                    lo = mid;
                else
                    hi = mid;
            }
            check_at(zone, hi - 1, 999);
            check_at(zone, hi, 0);
            check_at(zone, hi + 1, 0);
            changes++;
        }
        prev = t;
    }
    return changes;
}

static char scratch[64];

static const char *scratch_dir(void) {
    snprintf(scratch, sizeof scratch, "/tmp/lm_tz_test.XXXXXX");
    cr_assert_not_null(mkdtemp(scratch));
    return scratch;
}

static void scratch_rm(void) {
    DIR *d = opendir(scratch);
    struct dirent *e;
    char path[512];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(scratch);
}

static void write_file(const char *name, const void *data, size_t len) {
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", scratch, name);
    f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static size_t put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* A TZif header: version ('2' or 0), the six counts. */
static size_t put_hdr(unsigned char *p, int version, uint32_t timecnt,
                      uint32_t typecnt, uint32_t charcnt) {
    memset(p, 0, 44);
    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)version;
    put32(p + 32, timecnt);
    put32(p + 36, typecnt);
    put32(p + 40, charcnt);
    return 44;
}

/* A version-2 TZif with no transitions, one type, and footer `posix`. */
static size_t footer_only_tzif(unsigned char *buf, const char *posix) {
    size_t n = 0, i;
    for (i = 0; i < 2; i++) {
        n += put_hdr(buf + n, '2', 0, 1, 4);
        n += put32(buf + n, 0); /* utoff: unused, the footer rules */
        buf[n++] = 0;           /* isdst */
        buf[n++] = 0;           /* desigidx */
        memcpy(buf + n, "XXX", 4);
        n += 4;
    }
    buf[n++] = '\n';
    memcpy(buf + n, posix, strlen(posix));
    n += strlen(posix);
    buf[n++] = '\n';
    return n;
}

/* ---- against glibc ------------------------------------------------------ */

Test(tz, matches_glibc_2020_2040) {
    static const struct {
        const char *zone;
        int min_changes; /* offset changes 2020-2040 */
    } zones[] = {
        {"Europe/Berlin", 40},
        {"America/New_York", 40},
        {"Asia/Kolkata", 0},
        {"Australia/Lord_Howe", 40},
        {"UTC", 0},
        {"America/Santiago", 30},
        {"Pacific/Chatham", 40},
        {"America/St_Johns", 40},
        {"Asia/Tehran", 2},
        {"Europe/Dublin", 40},
        {"America/Sao_Paulo", 0},
        {"Africa/Casablanca", 10},
        {"America/Nuuk", 10},
        {"Asia/Tokyo", 0},
        {"Pacific/Apia", 0},
        {"Etc/GMT+5", 0},
    };
    size_t i;

    for (i = 0; i < sizeof zones / sizeof *zones; i++) {
        int changes = sweep(zones[i].zone, zones[i].zone);
        cr_expect_geq(changes, zones[i].min_changes, "%s: %d changes",
                      zones[i].zone, changes);
    }
}

Test(tz, footer_rules_match_glibc) {
    static const char *const rules[] = {
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "EST5EDT,M3.2.0,M11.1.0",
        "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
        "AEST-10AEDT,M10.1.0,M4.1.0/3",
        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
        "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
        "IST-5:30",
        "<+0545>-5:45",
        "XXX3YYY,J60/2,J300/2",
        "XXX-2YYY,59/2,300",
        "NZST-12NZDT-13:45,M9.5.0,M4.1.0/3",
        "WET0WEST,M3.5.0/1,M10.5.0",
        "AAA4BBB,M3.2.0/-1:30,M11.1.0/26",
    };
    unsigned char buf[512];
    size_t i;
    char name[16];

    scratch_dir();
    setenv("TZDIR", scratch, 1);
    lm_tz_cache_clear();
    for (i = 0; i < sizeof rules / sizeof *rules; i++) {
        snprintf(name, sizeof name, "R%zu", i);
        write_file(name, buf, footer_only_tzif(buf, rules[i]));
        cr_expect(lm_tz_valid(name), "%s", rules[i]);
        sweep(name, rules[i]);
    }
    scratch_rm();
}

/* ---- specific instants -------------------------------------------------- */

Test(tz, known_offsets) {
    static const struct {
        const char *zone;
        int64_t utc_ms;
        int32_t off;
        int hour, minute, weekday, how;
    } cases[] = {
        {"Europe/Berlin", 1736938800000LL, 3600, 12, 0, 2, 60}, /* Jan */
        {"Europe/Berlin", 1752573600000LL, 7200, 12, 0, 1, 36}, /* Jul */
        {"Asia/Kolkata", 1749526200000LL, 19800, 9, 0, 1, 33},  /* +5:30 */
        {"UTC", 0, 0, 0, 0, 3, 72},                             /* Thu */
        {"UTC", -1, 0, 23, 59, 2, 71},                          /* 1969 */
        {"Australia/Lord_Howe", 1759591799000LL, 37800, 1, 59, 6, 145},
        {"Australia/Lord_Howe", 1759591800000LL, 39600, 2, 30, 6, 146},
        {"America/New_York", 2193408000000LL, -14400, 12, 0, 0, 12}, /* 2039 */
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        lm_local_time lt;
        cr_assert_eq(lm_tz_local(cases[i].zone, cases[i].utc_ms, &lt), 0);
        cr_expect_eq(lt.offset_s, cases[i].off, "case %zu", i);
        cr_expect_eq(lt.hour, cases[i].hour, "case %zu", i);
        cr_expect_eq(lt.minute, cases[i].minute, "case %zu", i);
        cr_expect_eq(lt.weekday, cases[i].weekday, "case %zu", i);
        cr_expect_eq(lt.hour_of_week, cases[i].how, "case %zu", i);
    }
}

Test(tz, to_utc) {
    static const struct {
        const char *zone;
        int y, mon, d, h, mi;
        int64_t want;
    } cases[] = {
        {"Europe/Berlin", 2025, 1, 15, 12, 0, 1736938800000LL},
        {"Europe/Berlin", 2025, 7, 15, 12, 0, 1752573600000LL},
        /* skipped by spring forward: moves on by the gap (03:30 CEST) */
        {"Europe/Berlin", 2025, 3, 30, 2, 30, 1743298200000LL},
        /* twice in autumn: the first (CEST) */
        {"Europe/Berlin", 2025, 10, 26, 2, 30, 1761438600000LL},
        {"America/New_York", 2025, 3, 9, 2, 30, 1741505400000LL},
        {"America/New_York", 2025, 11, 2, 1, 30, 1762061400000LL},
        {"America/New_York", 2039, 7, 4, 12, 0, 2193408000000LL},
        {"Asia/Kolkata", 2025, 6, 10, 9, 0, 1749526200000LL},
        {"Australia/Lord_Howe", 2025, 10, 5, 2, 15, 1759592700000LL},
        {"Australia/Lord_Howe", 2026, 4, 5, 1, 45, 1775313900000LL},
        {"UTC", 2030, 12, 31, 23, 59, 1924991940000LL},
        {"UTC", 1970, 1, 1, 0, 0, 0},
        /* normalised like mktime */
        {"UTC", 2030, 12, 32, 0, 0, 1924992000000LL},
        {"UTC", 2030, 13, 1, 0, 0, 1924992000000LL},
        {"UTC", 2030, 12, 31, 24, 0, 1924992000000LL},
        {"UTC", 2030, 12, 31, 23, 60, 1924992000000LL},
        {"UTC", 2031, 0, 1, 0, 0, 1922313600000LL},             /* 2030-12-01 */
        {"Europe/Berlin", 2025, 6, 2, 0, 540, 1748847600000LL}, /* 09:00 */
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(lm_tz_to_utc_ms(cases[i].zone, cases[i].y, cases[i].mon,
                                     cases[i].d, cases[i].h, cases[i].mi),
                     cases[i].want, "case %zu (%s)", i, cases[i].zone);
    cr_expect_eq(lm_tz_to_utc_ms("Nope/Nowhere", 2025, 1, 1, 0, 0), -1);
    cr_expect_eq(lm_tz_to_utc_ms("UTC", 10000, 1, 1, 0, 0), -1);
    cr_expect_eq(lm_tz_to_utc_ms("UTC", 0, 1, 1, 0, 0), -1);
}

Test(tz, to_utc_round_trips) {
    static const char *const zones[] = {"Europe/Berlin", "America/New_York",
                                        "Asia/Kolkata", "Australia/Lord_Howe",
                                        "UTC"};
    size_t z;

    for (z = 0; z < sizeof zones / sizeof *zones; z++) {
        int64_t t;
        for (t = T2020 * 1000; t < T2041 * 1000; t += 7919LL * 1000 * 60) {
            lm_local_time lt, back;
            int64_t u;
            cr_assert_eq(lm_tz_local(zones[z], t, &lt), 0);
            u = lm_tz_to_utc_ms(zones[z], lt.year, lt.month, lt.mday, lt.hour,
                                lt.minute);
            /* the same wall minute; the first one when it happens twice */
            cr_assert_eq(lm_tz_local(zones[z], u, &back), 0);
            cr_assert(back.hour == lt.hour && back.minute == lt.minute &&
                          back.mday == lt.mday,
                      "%s %lld", zones[z], (long long)t);
            cr_assert_leq(u, t - lt.second * 1000LL);
            cr_assert_gt(u, t - lt.second * 1000LL - 3 * 3600 * 1000LL);
        }
    }
}

/* ---- names, files, TZDIR ------------------------------------------------ */

Test(tz, names) {
    static const char *const good[] = {"UTC",
                                       "Europe/Berlin",
                                       "Etc/GMT+5",
                                       "Etc/GMT-14",
                                       "America/Port-au-Prince",
                                       "America/Argentina/Buenos_Aires"};
    static const char *const bad[] = {"",
                                      "../etc/passwd",
                                      "/etc/localtime",
                                      "Europe/../UTC",
                                      "Europe/Berlin ",
                                      "Foo/Bar",
                                      "Europe",
                                      "zone.tab",
                                      "Europe/Berl\xc3\xadn",
                                      "Europe\\Berlin",
                                      "UTC\n",
                                      "Europe//Berlin/"};
    char err[LM_TZ_ERRSZ];
    char longname[LM_TZ_NAME_MAX + 8];
    size_t i;

    for (i = 0; i < sizeof good / sizeof *good; i++)
        cr_expect(lm_tz_valid(good[i]), "%s", good[i]);
    for (i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect(!lm_tz_valid(bad[i]), "\"%s\"", bad[i]);
    cr_expect(!lm_tz_valid(NULL));
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_expect(!lm_tz_valid(longname));

    cr_expect_eq(lm_tz_check("Europe/Berln", err, sizeof err), -1);
    cr_expect_not_null(strstr(err, "time zone \"Europe/Berln\" not found in "
                                   "/usr/share/zoneinfo"),
                       "%s", err);
    cr_expect_eq(lm_tz_check("../x", err, sizeof err), -1);
    cr_expect_not_null(strstr(err, "is not a zone name"), "%s", err);
    cr_expect_eq(lm_tz_check("Eu rope", err, sizeof err), -1);
    cr_expect_not_null(strstr(err, "outside [A-Za-z0-9_+/-]"), "%s", err);
    cr_expect_eq(lm_tz_check("Europe", err, sizeof err), -1);
    cr_expect_not_null(strstr(err, "is not a time zone file"), "%s", err);

    {
        lm_local_time lt;
        int32_t off;
        cr_expect_eq(lm_tz_local("Nope/Nowhere", 0, &lt), -1);
        cr_expect_eq(lm_tz_offset("Nope/Nowhere", 0, &off), -1);
        cr_expect_eq(lm_tz_offset("UTC", INT64_MAX, &off), -1);
        cr_expect_eq(lm_tz_local("UTC", INT64_MIN, &lt), -1);
    }
}

Test(tz, bad_files_are_refused) {
    unsigned char buf[4096];
    char err[LM_TZ_ERRSZ];
    size_t n;
    FILE *f;

    scratch_dir();
    setenv("TZDIR", scratch, 1);
    lm_tz_cache_clear();
    write_file("Text", "hello, world\n", 13);
    write_file("Empty", "", 0);
    f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    cr_assert_not_null(f);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_file("Half", buf, n / 2);
    write_file("Head", buf, 44);
    /* a footer that is not a POSIX TZ string */
    n = footer_only_tzif(buf, "not a rule");
    write_file("BadFooter", buf, n);
    /* a transition pointing at a type that does not exist */
    n = 0;
    n += put_hdr(buf + n, 0, 1, 1, 4);
    n += put32(buf + n, 1000);
    buf[n++] = 5; /* type index 5 of 1 */
    n += put32(buf + n, 3600);
    buf[n++] = 0;
    buf[n++] = 0;
    memcpy(buf + n, "XXX", 4);
    n += 4;
    write_file("BadIndex", buf, n);

    cr_expect(!lm_tz_valid("Text"));
    cr_expect(!lm_tz_valid("Empty"));
    cr_expect(!lm_tz_valid("Half"));
    cr_expect(!lm_tz_valid("Head"));
    cr_expect(!lm_tz_valid("BadFooter"));
    cr_expect(!lm_tz_valid("BadIndex"));
    cr_expect_eq(lm_tz_check("Half", err, sizeof err), -1);
    cr_expect_not_null(strstr(err, "is not a valid TZif file"), "%s", err);
    cr_expect_eq(lm_tz_cache_size(), 0);
    scratch_rm();
}

Test(tz, version1_file_without_footer) {
    unsigned char buf[256];
    size_t n = 0;
    int32_t off;

    /* types: 0 = +01:00, 1 = +02:00 DST; transitions at 1e9 (to 1) and
     * 1.01e9 (back to 0); after the last one, its type holds forever. */
    n += put_hdr(buf + n, 0, 2, 2, 4);
    n += put32(buf + n, 1000000000);
    n += put32(buf + n, 1010000000);
    buf[n++] = 1;
    buf[n++] = 0;
    n += put32(buf + n, 3600);
    buf[n++] = 0;
    buf[n++] = 0;
    n += put32(buf + n, 7200);
    buf[n++] = 1;
    buf[n++] = 0;
    memcpy(buf + n, "XXX", 4);
    n += 4;

    scratch_dir();
    setenv("TZDIR", scratch, 1);
    lm_tz_cache_clear();
    write_file("V1", buf, n);
    cr_assert(lm_tz_valid("V1"));
    cr_expect_eq(lm_tz_offset("V1", 999999999999LL, &off), 0);
    cr_expect_eq(off, 3600);
    cr_expect_eq(lm_tz_offset("V1", 1000000000000LL, &off), 0);
    cr_expect_eq(off, 7200);
    cr_expect_eq(lm_tz_offset("V1", 1009999999999LL, &off), 0);
    cr_expect_eq(off, 7200);
    cr_expect_eq(lm_tz_offset("V1", 1010000000000LL, &off), 0);
    cr_expect_eq(off, 3600);
    cr_expect_eq(lm_tz_offset("V1", 4000000000000LL, &off), 0);
    cr_expect_eq(off, 3600);
    scratch_rm();
}

Test(tz, tzdir_is_honoured_and_empty_means_unset) {
    setenv("TZDIR", "/nonexistent-lm-tz", 1);
    lm_tz_cache_clear();
    cr_expect(!lm_tz_valid("UTC"));
    setenv("TZDIR", "", 1);
    lm_tz_cache_clear();
    cr_expect(lm_tz_valid("UTC"));
    unsetenv("TZDIR");
    lm_tz_cache_clear();
    cr_expect(lm_tz_valid("Europe/Berlin"));
}

Test(tz, cache_is_bounded_and_evicts) {
    char name[16], path[128], target[64];
    int32_t off;
    int i;

    scratch_dir();
    setenv("TZDIR", scratch, 1);
    lm_tz_cache_clear();
    for (i = 0; i < LM_TZ_CACHE_MAX + 88; i++) {
        snprintf(path, sizeof path, "%s/Z%03d", scratch, i);
        snprintf(target, sizeof target, "/usr/share/zoneinfo/%s",
                 i % 2 ? "Asia/Kolkata" : "Europe/Berlin");
        cr_assert_eq(symlink(target, path), 0);
    }
    for (i = 0; i < LM_TZ_CACHE_MAX + 88; i++) {
        snprintf(name, sizeof name, "Z%03d", i);
        cr_assert_eq(lm_tz_offset(name, 1752573600000LL, &off), 0, "%s", name);
        cr_assert_eq(off, i % 2 ? 19800 : 7200);
        cr_assert_leq(lm_tz_cache_size(), LM_TZ_CACHE_MAX);
    }
    cr_expect_eq(lm_tz_cache_size(), LM_TZ_CACHE_MAX);
    /* Z000 was evicted first; it loads again */
    cr_expect_eq(lm_tz_offset("Z000", 1736938800000LL, &off), 0);
    cr_expect_eq(off, 3600);
    cr_expect_eq(lm_tz_cache_size(), LM_TZ_CACHE_MAX);
    lm_tz_cache_clear();
    cr_expect_eq(lm_tz_cache_size(), 0);
    scratch_rm();
}
