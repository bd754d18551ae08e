/* lm_policy_at.c — when a step may go out: at once, or in allowed hours.
 *
 * Two keys of decisions.yaml and the rule they make:
 *   channels.<name>.human  true: a person performs the touch (a call, a
 *                          LinkedIn message); false (the default): a system
 *                          sends it (email, sms).
 *   cadences.<c>.steps[i].at
 *                          "allowed_hours" (the default): the touch goes
 *                          out at the first allowed instant (allowed_hours
 *                          on business_days, the lead's time zone), and
 *                          learned timing may move it to a better hour;
 *                          "now": the touch goes out as soon as its wait
 *                          is over, day or night, never moved.
 * A human channel may not use "now": people keep to the lead's allowed
 * hours, so the load refuses it with the file, the line and the fix.
 *
 * The readers below run on the loading thread, called from
 * lm_policy_sections.c; lm_policy_step_time_ms is pure (lm_tz is
 * thread-safe) and shared by follow-up and timing. */
#include "lm_policy_internal.h"

#include "lm_tz.h"

#include <string.h>

#define POL_AT_NOW     "now"
#define POL_AT_ALLOWED "allowed_hours"

int pol_channel_human(pol_ctx *c, const pol_field *f, const char *path,
                      int *human) {
    const char *s;

    *human = 0;
    if (f->v == NULL)
        return 0;
    if ((s = pol_str(c, f->v, pol_kline(f), path, "true")) == NULL)
        return -1;
    if (strcmp(s, "true") == 0) {
        *human = 1;
        return 0;
    }
    if (strcmp(s, "false") == 0)
        return 0;
    return pol_err(c, pol_line(f->v), path,
                   "\"%.60s\" is not true or false; write \"human: true\" "
                   "for a channel a person performs (call, linkedin), "
                   "\"human: false\" (the default) for one a system sends",
                   s);
}

int pol_step_at(pol_ctx *c, const pol_field *f, const char *path, lm_step *st) {
    const char *s;

    st->at_now = 0;
    if (f->v == NULL)
        return 0;
    if ((s = pol_str(c, f->v, pol_kline(f), path, "now")) == NULL)
        return -1;
    if (strcmp(s, POL_AT_ALLOWED) == 0)
        return 0;
    if (strcmp(s, POL_AT_NOW) != 0)
        return pol_err(c, pol_line(f->v), path,
                       "\"%.60s\" is not a time rule; write \"now\" (as soon "
                       "as the wait is over, any hour) or \"allowed_hours\" "
                       "(the default: in the lead's allowed hours)",
                       s);
    if (st->human)
        return pol_err(c, pol_line(f->v), path,
                       "\"now\" is for automatic steps, and channel \"%s\" is "
                       "performed by a person (human: true); remove \"at: "
                       "now\" so the step keeps to the lead's allowed hours, "
                       "or use an automatic channel such as email",
                       st->channel);
    st->at_now = 1;
    return 0;
}

int lm_policy_channel_human(const lm_policy *p, const char *channel) {
    size_t i;

    if (p == NULL || channel == NULL)
        return -1;
    for (i = 0; i < p->n_channels; i++)
        if (strcmp(p->channels[i].name, channel) == 0)
            return p->channels[i].human;
    return -1;
}

int64_t lm_policy_step_time_ms(const lm_cadence *c, size_t step, const char *tz,
                               int64_t earliest_ms) {
    lm_local_time lt;

    if (c == NULL || step >= c->n_steps)
        return -1;
    if (!c->steps[step].at_now)
        return lm_policy_next_allowed_ms(c, tz, earliest_ms);
    /* at once; the zone must still resolve (the action carries the local
       hour-of-week slot of the touch) */
    if (tz == NULL || lm_tz_local(tz, earliest_ms, &lt) != 0)
        return -1;
    return earliest_ms;
}
