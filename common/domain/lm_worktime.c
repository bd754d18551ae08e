/* lm_worktime.c — working-time arithmetic (lm_worktime.h).
 *
 * The working hours reuse the cadence walker (lm_policy_next_allowed_ms)
 * through a cadence built on the stack with the owner's hours and days;
 * absences are skipped on top of it. A day's window ends at the instant
 * the local wall clock shows end_min (lm_tz_to_utc_ms). Pure; no heap. */
#include "lm_worktime.h"

#include "lm_tz.h"

#include <stdio.h>
#include <string.h>

static const lm_worktime wt_always = {"UTC", 0, 24 * 60, 0x7f, NULL, 0};

const lm_worktime *lm_worktime_always(void) {
    return &wt_always;
}

static const lm_worktime *wt_or_default(const lm_worktime *w) {
    return w != NULL ? w : &wt_always;
}

static lm_cadence wt_cadence(const lm_worktime *w) {
    lm_cadence c;
    memset(&c, 0, sizeof c);
    c.name = "working_hours";
    c.allowed_start_min = w->start_min;
    c.allowed_end_min = w->end_min;
    c.business_days_mask = w->days_mask;
    return c;
}

/* The absence that holds t, or NULL. */
static const lm_period *wt_away_at(const lm_worktime *w, int64_t t) {
    for (size_t i = 0; i < w->n_away; i++)
        if (t >= w->away[i].start_ms && t < w->away[i].end_ms)
            return &w->away[i];
    return NULL;
}

int64_t lm_worktime_next(const lm_worktime *w, int64_t t) {
    w = wt_or_default(w);
    lm_cadence c = wt_cadence(w);
    for (int i = 0; i < LM_WORKTIME_MAX_WINDOWS; i++) {
        const lm_period *p;
        t = lm_policy_next_allowed_ms(&c, w->tz, t);
        if (t < 0)
            return -1;
        if ((p = wt_away_at(w, t)) == NULL)
            return t;
        t = p->end_ms;
    }
    return -1;
}

/* The end of the working window that holds t (t is working time): the
 * day's end_min, or an absence starting before it. -1 on a bad tz. */
static int64_t wt_window_end(const lm_worktime *w, int64_t t) {
    lm_local_time lt;
    if (lm_tz_local(w->tz, t, &lt) != 0)
        return -1;
    int64_t end =
        lm_tz_to_utc_ms(w->tz, lt.year, lt.month, lt.mday, 0, w->end_min);
    if (end <= t) /* a DST fold: the window ends a minute on at least */
        end = t + 60000;
    for (size_t i = 0; i < w->n_away; i++)
        if (w->away[i].start_ms > t && w->away[i].start_ms < end)
            end = w->away[i].start_ms;
    return end;
}

int64_t lm_worktime_add(const lm_worktime *w, int64_t start, int64_t dur_ms) {
    w = wt_or_default(w);
    int64_t t = lm_worktime_next(w, start);
    if (t < 0 || dur_ms <= 0)
        return t;
    for (int i = 0; i < LM_WORKTIME_MAX_WINDOWS; i++) {
        int64_t end = wt_window_end(w, t);
        if (end < 0)
            return -1;
        if (dur_ms <= end - t)
            return t + dur_ms;
        dur_ms -= end - t;
        if ((t = lm_worktime_next(w, end)) < 0)
            return -1;
    }
    return -1;
}

int64_t lm_worktime_next_both(const lm_worktime *w, const lm_cadence *c,
                              const char *lead_tz, int64_t t) {
    for (int i = 0; i < LM_WORKTIME_BOTH_ITER; i++) {
        int64_t a = lm_policy_next_allowed_ms(c, lead_tz, t);
        if (a < 0)
            return -1;
        int64_t b = lm_worktime_next(w, a);
        if (b < 0)
            return -1;
        if (b == a)
            return a;
        t = b;
    }
    return -1;
}

/* "YYYY-MM-DD" at s: 0 and the date, or -1. */
static int wt_date(const char *s, int *y, int *m, int *d) {
    int v[3] = {0, 0, 0}, widths[3] = {4, 2, 2};
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < widths[k]; j++, s++) {
            if (*s < '0' || *s > '9')
                return -1;
            v[k] = v[k] * 10 + (*s - '0');
        }
        if (k < 2 && *s++ != '-')
            return -1;
    }
    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31)
        return -1;
    *y = v[0];
    *m = v[1];
    *d = v[2];
    return 0;
}

int lm_worktime_parse_period(const char *tz, const char *s, lm_period *out) {
    int y1, m1, d1, y2, m2, d2;
    if (s == NULL || strlen(s) != 22 || strncmp(s + 10, "..", 2) != 0 ||
        wt_date(s, &y1, &m1, &d1) != 0 || wt_date(s + 12, &y2, &m2, &d2) != 0)
        return -1;
    int64_t a = lm_tz_to_utc_ms(tz, y1, m1, d1, 0, 0);
    int64_t b = lm_tz_to_utc_ms(tz, y2, m2, d2 + 1, 0, 0);
    if (a < 0 || b < 0)
        return -1;
    if (b <= a)
        return -2;
    out->start_ms = a;
    out->end_ms = b;
    return 0;
}
