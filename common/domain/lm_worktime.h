/* lm_worktime.h — an owner's working time: hours, days, time zone and
 * out-of-office windows, and the arithmetic of deadlines in it.
 *
 * A human step's deadline counts working time only: "within 5 working
 * minutes" started at 16:58 with the day ending at 17:00 ends 3 minutes
 * into the next working day; a weekend, a day off or an out-of-office
 * window does not count. Working hours are wall-clock hours in the
 * owner's time zone (DST changes keep the local hours, as a cadence's
 * allowed hours do: lm_policy_next_allowed_ms).
 *
 * Invariants of an lm_worktime the policy hands out (checked at load):
 * tz is a valid IANA name; 0 <= start_min < end_min <= 1440;
 * days_mask != 0 (bit 0 = Monday); every away window has start < end.
 * The default (no keys configured) is always working: UTC, 00:00-24:00,
 * every day, no absences.
 *
 * Ownership: lm_worktime values belong to the policy (valid until
 * lm_policy_free) or to the caller that built one. Pure functions of
 * their arguments: no clock, no I/O; thread-safe (lm_tz is). */
#ifndef LM_WORKTIME_H
#define LM_WORKTIME_H

#include "lm_policy.h"

#include <stddef.h>
#include <stdint.h>

#define LM_WORKTIME_MAX_WINDOWS 800 /* working windows a deadline may span */
#define LM_WORKTIME_MAX_AWAY    64  /* out-of-office windows per owner */
#define LM_WORKTIME_BOTH_ITER   96  /* steps looking for lead and owner hours */

/* [start_ms, end_ms): an absence. */
typedef struct lm_period {
    int64_t start_ms, end_ms;
} lm_period;

struct lm_worktime {
    const char *tz;             /* IANA name */
    int32_t start_min, end_min; /* minutes after local midnight */
    uint8_t days_mask;          /* bit 0 = Monday .. bit 6 = Sunday */
    const lm_period *away;      /* out-of-office windows, any order */
    size_t n_away;
};

/* The always-working default (static storage). */
const lm_worktime *lm_worktime_always(void);

/* The earliest instant >= t inside working hours, on a working day, not
 * in an absence. -1 on a bad time zone or none within
 * LM_WORKTIME_MAX_WINDOWS days. */
int64_t lm_worktime_next(const lm_worktime *w, int64_t t);

/* The instant at which dur_ms of working time have passed since `start`
 * (working time before start does not count; dur_ms 0 gives
 * lm_worktime_next(start)). -1 as lm_worktime_next, or when the deadline
 * spans more than LM_WORKTIME_MAX_WINDOWS working windows. */
int64_t lm_worktime_add(const lm_worktime *w, int64_t start, int64_t dur_ms);

/* The earliest instant >= t inside both the cadence's allowed hours in the
 * lead's time zone and the owner's working time (a human step). -1 when
 * the two never meet within LM_WORKTIME_BOTH_ITER steps (callers fall
 * back to the cadence's hours alone) or on a bad time zone. */
int64_t lm_worktime_next_both(const lm_worktime *w, const lm_cadence *c,
                              const char *lead_tz, int64_t t);

/* "YYYY-MM-DD..YYYY-MM-DD" (both days included, local days in tz) into
 * *out: from the first day's midnight to the midnight after the last day.
 * 0; -1 not such a range or a bad tz; -2 the last day is before the
 * first. */
int lm_worktime_parse_period(const char *tz, const char *s, lm_period *out);

#endif
