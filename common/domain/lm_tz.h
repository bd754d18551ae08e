/* lm_tz.h — IANA time zones, read from the system's TZif files.
 *
 * Leads live in time zones; cadences run in business hours of the lead's
 * local time. This module answers "what is the local time there at this
 * instant" and "which instant is this local wall time" without touching the
 * process's TZ environment (glibc's localtime is process-global and slow to
 * switch). Zones are read from $TZDIR (an empty TZDIR counts as unset) or
 * /usr/share/zoneinfo: the 64-bit (version 2+) data when present, and past
 * the last transition the POSIX TZ footer's rule (Jn, n and Mm.w.d forms),
 * else the last transition's type. Leap-second records ("right/" zones)
 * are ignored: times are POSIX times.
 *
 * Invariants: a zone name is 1..LM_TZ_NAME_MAX characters of
 * [A-Za-z0-9_+/-], contains no "..", does not start with '/'. Instants are
 * epoch milliseconds; the supported range is years 1..9999.
 * Ownership: nothing is handed out; results are copied into the caller's
 * structs. Parsed zones are cached by name in a fixed table of
 * LM_TZ_CACHE_MAX entries (least recently used evicted) for the life of
 * the process; lm_tz_cache_clear empties it.
 * Threads: the cache is guarded by a mutex, so every function is
 * thread-safe (workers are single-threaded; the CLI may not be). */
#ifndef LM_TZ_H
#define LM_TZ_H

#include <stddef.h>
#include <stdint.h>

#define LM_TZ_CACHE_MAX   512          /* zones kept parsed at once */
#define LM_TZ_NAME_MAX    128          /* longest accepted zone name */
#define LM_TZ_FILE_MAX    (512 * 1024) /* largest TZif file read */
#define LM_TZ_TIMES_MAX   8192         /* transitions per zone */
#define LM_TZ_TYPES_MAX   256          /* local time types per zone */
#define LM_TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define LM_TZ_ERRSZ       256 /* err buffer that holds any message */

/* A local wall-clock reading. */
typedef struct lm_local_time {
    int32_t year;          /* e.g. 2025 */
    int32_t month;         /* 1..12 */
    int32_t mday;          /* 1..31 */
    int32_t hour;          /* 0..23 */
    int32_t minute;        /* 0..59 */
    int32_t second;        /* 0..59 */
    int32_t weekday;       /* 0 = Monday .. 6 = Sunday */
    int32_t hour_of_week;  /* 0..167, 0 = Monday 00:00-00:59 local */
    int32_t minute_of_day; /* 0..1439 */
    int32_t offset_s;      /* UTC offset in effect, DST included */
    int32_t is_dst;        /* 1 if daylight saving time is in effect */
} lm_local_time;

/* 1 if name is a well-formed zone name whose TZif file exists and parses
 * (the zone is then cached), 0 if not. Note: 1 = valid, not 0/-1. */
int lm_tz_valid(const char *name);
/* The same check with the reason: 0, or -1 with e.g. "time zone
 * \"Europe/Berln\" not found in /usr/share/zoneinfo" in err (may be NULL). */
int lm_tz_check(const char *name, char *err, size_t errsz);

/* UTC offset in seconds (DST included) in zone `name` at instant utc_ms
 * into *offset_s. 0, or -1 on a bad zone or an instant out of range. */
int lm_tz_offset(const char *name, int64_t utc_ms, int32_t *offset_s);

/* The local time in zone `name` at instant utc_ms into *out. 0 / -1. */
int lm_tz_local(const char *name, int64_t utc_ms, lm_local_time *out);

/* The instant at which the wall clock in zone `name` shows year-mon-mday
 * hour:min (mon 1..12). Out-of-range fields are normalised like mktime
 * (mday 32 is a day after the 31st, hour 24 is the next midnight). A wall
 * time skipped by a DST change maps as if the offset before the change
 * still held, i.e. it moves forward by the gap (Berlin 02:30 on the spring
 * change is 03:30 CEST); a wall time that happens twice maps to the first
 * (earlier) instant. Returns epoch ms, or -1 on a bad zone or a date out
 * of range (-1 is never a valid result: results are whole minutes). */
int64_t lm_tz_to_utc_ms(const char *name, int year, int mon, int mday, int hour,
                        int min);

/* Forgets every cached zone (e.g. after TZDIR changed). */
void lm_tz_cache_clear(void);
/* How many zones are cached now (for tests and metrics). */
size_t lm_tz_cache_size(void);

#endif
