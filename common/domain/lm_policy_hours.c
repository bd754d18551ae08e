/* lm_policy_hours.c — when a cadence may touch a lead: the next instant
 * inside its allowed hours on a business day, and the candidate hour
 * slots for choosing a touch time, in the lead's time zone.
 *
 * Both walk local wall-clock time through lm_tz (thread-safe) and never
 * read the clock themselves; pure functions of their arguments. */
#include "lm_policy_internal.h"

#include "lm_tz.h"

#include <string.h>

#define LM_POLICY_NEXT_ITER 32 /* day steps next_allowed may take */

static int cad_ok(const lm_cadence *c) {
    return c != NULL && c->business_days_mask != 0 &&
           c->allowed_start_min >= 0 &&
           c->allowed_start_min < c->allowed_end_min &&
           c->allowed_end_min <= 24 * 60;
}

/* The first instant at which the wall clock in tz shows at least
 * y-m-d 00:00 + minute. Unlike lm_tz_to_utc_ms, a wall time skipped by a
 * DST change gives the instant of the change (when such a window opens),
 * found by bisection on whole seconds. -1 on error. */
static int64_t pol_wall_start(const char *tz, int y, int m, int d,
                              int32_t minute) {
    lm_local_time lc;
    int64_t cand = lm_tz_to_utc_ms(tz, y, m, d, 0, minute), lo, hi, want;
    int32_t off;

    if (cand == -1 || lm_tz_local(tz, cand, &lc) != 0)
        return -1;
    if (lc.minute_of_day == minute % (24 * 60) && lc.second == 0)
        return cand;
    /* In a gap: the wall time L = cand + offset-before. Find the first
     * second t in (cand - 1 day, cand] with t + offset(t) >= L. */
    if (lm_tz_offset(tz, cand - LM_POLICY_DAY_MS, &off) != 0)
        return -1;
    want = cand / 1000 + off;
    lo = cand / 1000 - 86400; /* wall < want here */
    hi = cand / 1000;         /* wall >= want here */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (lm_tz_offset(tz, mid * 1000, &off) != 0)
            return -1;
        if (mid + off >= want)
            hi = mid;
        else
            lo = mid;
    }
    return hi * 1000;
}

int64_t lm_policy_next_allowed_ms(const lm_cadence *c, const char *tz,
                                  int64_t earliest_ms) {
    lm_local_time lt, lc;
    int64_t t = earliest_ms;
    int i;

    if (!cad_ok(c))
        return -1;
    for (i = 0; i < LM_POLICY_NEXT_ITER; i++) {
        int64_t cand;
        int day_ok;

        if (lm_tz_local(tz, t, &lt) != 0)
            return -1;
        day_ok = (c->business_days_mask >> lt.weekday) & 1;
        if (day_ok && lt.minute_of_day >= c->allowed_start_min &&
            lt.minute_of_day < c->allowed_end_min)
            return t;
        if (day_ok && lt.minute_of_day < c->allowed_start_min) {
            cand = pol_wall_start(tz, lt.year, lt.month, lt.mday,
                                  c->allowed_start_min);
            if (cand != -1 && cand <= t && lm_tz_local(tz, cand, &lc) == 0) {
                /* The start's first occurrence passed before the clocks
                 * went back; take its second one. */
                cand += (int64_t)(lc.offset_s - lt.offset_s) * 1000;
                if (cand <= t)
                    cand = pol_wall_start(tz, lt.year, lt.month, lt.mday + 1,
                                          c->allowed_start_min);
            }
        } else {
            cand = pol_wall_start(tz, lt.year, lt.month, lt.mday + 1,
                                  c->allowed_start_min);
        }
        if (cand == -1 || cand <= t)
            return -1;
        t = cand;
    }
    return -1;
}

size_t lm_policy_candidate_slots(const lm_cadence *c, const char *tz,
                                 int64_t from_ms, int64_t horizon_ms,
                                 lm_slot *out, size_t max) {
    uint8_t seen[168];
    int64_t end, scan, t = from_ms;
    size_t n = 0;

    if (!cad_ok(c) || out == NULL || max == 0 || horizon_ms <= 0)
        return 0;
    scan = LM_POLICY_SLOT_SCAN_DAYS * LM_POLICY_DAY_MS;
    end = from_ms + (horizon_ms < scan ? horizon_ms : scan);
    memset(seen, 0, sizeof seen);
    while (n < max) {
        lm_local_time lt;
        int64_t sub;

        t = lm_policy_next_allowed_ms(c, tz, t);
        if (t == -1 || t >= end || lm_tz_local(tz, t, &lt) != 0)
            break;
        if (!seen[lt.hour_of_week]) {
            seen[lt.hour_of_week] = 1;
            out[n].slot = lt.hour_of_week;
            out[n].start_ms = t;
            n++;
        }
        /* on to the next local hour */
        sub = ((int64_t)lt.minute * 60 + lt.second) * 1000 +
              (t % 1000 + 1000) % 1000;
        t = t - sub + LM_POLICY_HOUR_MS;
    }
    return n;
}
