/* lm_policy_owners.c — the keys of decisions.yaml that hold owners to
 * their human steps: an owner's (or, as a default, a team's) `timezone`,
 * `working_hours`, `working_days` and `out_of_office` windows; a team's
 * `lead:` for escalations; a human step's `deadline:`; the top-level
 * `handoff_deadline:`. And the queries over them (lm_policy.h, "owners'
 * deadlines").
 *
 * Parsing runs on the loading thread, from lm_policy_routing.c (teams),
 * lm_policy_sections.c (steps) and lm_policy_load.c (top level); every
 * value lives in the policy's arena. */
#include "lm_policy_internal.h"

#include "lm_tz.h"
#include "lm_worktime.h"

#include <ctype.h>
#include <string.h>

enum { W_TZ, W_HOURS, W_DAYS, W_AWAY };

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

int lm_policy_channel_is_human(const lm_policy *p, const char *channel) {
    if (channel == NULL)
        return 0;
    if (strcmp(channel, "handoff") == 0) /* the owner takes the lead over */
        return 1;
    for (size_t i = 0; p != NULL && i < p->n_channels; i++)
        if (strcmp(p->channels[i].name, channel) == 0)
            return p->channels[i].human; /* channels.<c>.human */
    return 0;
}

int64_t lm_policy_handoff_deadline_ms(const lm_policy *p) {
    return p != NULL ? p->handoff_deadline_ms : 0;
}

const lm_owner *lm_policy_owner(const lm_policy *p, const char *team,
                                const char *name) {
    const lm_team *t = lm_policy_team(p, team);
    if (t == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < t->n_owners; i++)
        if (strcmp(t->owners[i].name, name) == 0)
            return &t->owners[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Working time                                                        */
/* ------------------------------------------------------------------ */

/* The owner's field k, else the team's; *path gets the one used. */
static const pol_field *work_pick(const pol_field *tf, const char *tp,
                                  const pol_field *of, const char *op, int k,
                                  char *path, size_t pathsz) {
    const pol_field *f = of[k].v != NULL ? &of[k] : &tf[k];
    pol_join(path, pathsz, f == &of[k] ? op : tp, f->key);
    return f->v != NULL ? f : NULL;
}

static int work_tz(pol_ctx *c, const pol_field *f, const char *path,
                   const char **out) {
    char why[LM_TZ_ERRSZ];
    const char *s = pol_str(c, f->v, pol_kline(f), path, "\"Europe/Berlin\"");
    if (s == NULL)
        return -1;
    if (lm_tz_check(s, why, sizeof why) != 0)
        return pol_err(c, pol_line(f->v), path,
                       "%s; write an IANA name such as \"America/New_York\" "
                       "or \"Europe/Berlin\"",
                       why);
    if ((*out = pol_strdup(c->p, s)) == NULL)
        return pol_oom(c);
    return 0;
}

/* Appends the windows of list f (path) in tz to away[*n]. */
static int work_away(pol_ctx *c, const pol_field *f, const char *path,
                     const char *tz, lm_period *away, size_t *n) {
    static const char *const ex = "[\"2026-12-24..2026-12-31\"]";
    yaml_node_t *seq = f->v;
    size_t i = 0;
    if (seq->type != YAML_SEQUENCE_NODE)
        return pol_expected(c, seq, pol_kline(f), path, "a list of windows",
                            ex);
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++, i++) {
        yaml_node_t *in = pol_node(c, *it);
        char ip[LM_POLICY_PATH_MAX];
        const char *s;
        int rc;
        pol_index(ip, sizeof ip, path, i);
        if (in == NULL || (s = pol_str(c, in, pol_line(in), ip,
                                       "\"2026-12-24..2026-12-31\"")) == NULL)
            return -1;
        if (*n >= LM_WORKTIME_MAX_AWAY)
            return pol_err(c, pol_line(in), ip,
                           "more than %d out-of-office windows for one owner; "
                           "merge or drop past ones",
                           LM_WORKTIME_MAX_AWAY);
        rc = lm_worktime_parse_period(tz, s, &away[*n]);
        if (rc == -2)
            return pol_err(
                c, pol_line(in), ip,
                "\"%.60s\" ends before it starts; write the first "
                "day, then the last, e.g. \"2026-12-24..2026-12-31\"",
                s);
        if (rc != 0)
            return pol_err(c, pol_line(in), ip,
                           "\"%.60s\" is not a window of days; write "
                           "\"YYYY-MM-DD..YYYY-MM-DD\" (both days included), "
                           "e.g. \"2026-12-24..2026-12-31\"",
                           s);
        (*n)++;
    }
    return 0;
}

int pol_parse_work(pol_ctx *c, const pol_field *tf, const char *tp,
                   const pol_field *of, const char *op,
                   const lm_worktime **out) {
    char path[LM_POLICY_PATH_MAX];
    lm_period away[LM_WORKTIME_MAX_AWAY];
    lm_worktime w = *lm_worktime_always();
    const pol_field *f;
    int any = 0;

    *out = NULL;
    for (int k = 0; k < POL_WORK_N; k++)
        any |= of[k].v != NULL || tf[k].v != NULL;
    if (!any)
        return 0;
    w.start_min = 9 * 60; /* the hours given by no key: an office day */
    w.end_min = 17 * 60;
    w.days_mask = 0x1f;
    w.n_away = 0;
    if ((f = work_pick(tf, tp, of, op, W_TZ, path, sizeof path)) != NULL &&
        work_tz(c, f, path, &w.tz))
        return -1;
    if ((f = work_pick(tf, tp, of, op, W_HOURS, path, sizeof path)) != NULL &&
        pol_field_hours(c, f, path, "hours", &w.start_min, &w.end_min))
        return -1;
    if ((f = work_pick(tf, tp, of, op, W_DAYS, path, sizeof path)) != NULL &&
        pol_parse_days(c, f, path, &w.days_mask))
        return -1;
    if (tf[W_AWAY].v != NULL) {
        pol_join(path, sizeof path, tp, "out_of_office");
        if (work_away(c, &tf[W_AWAY], path, w.tz, away, &w.n_away))
            return -1;
    }
    if (of[W_AWAY].v != NULL) {
        pol_join(path, sizeof path, op, "out_of_office");
        if (work_away(c, &of[W_AWAY], path, w.tz, away, &w.n_away))
            return -1;
    }
    lm_worktime *dst = pol_alloc(c->p, sizeof *dst);
    lm_period *pa = w.n_away ? pol_alloc(c->p, w.n_away * sizeof *pa) : NULL;
    if (dst == NULL || (w.n_away && pa == NULL))
        return pol_oom(c);
    if (w.n_away)
        memcpy(pa, away, w.n_away * sizeof *pa);
    w.away = pa;
    *dst = w;
    *out = dst;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Team leads and deadlines                                            */
/* ------------------------------------------------------------------ */

int pol_parse_team_lead(pol_ctx *c, const pol_field *f, const char *tp,
                        const char **out) {
    char path[LM_POLICY_PATH_MAX];
    const char *s;
    *out = NULL;
    if (f->v == NULL)
        return 0;
    pol_join(path, sizeof path, tp, "lead");
    if ((s = pol_str(c, f->v, pol_kline(f), path, "\"dana.cole\"")) == NULL)
        return -1;
    if (strlen(s) > LM_POLICY_OWNER_MAX)
        return pol_err(c, pol_line(f->v), path,
                       "the name is longer than %d characters",
                       LM_POLICY_OWNER_MAX);
    for (size_t j = 0; s[j] != '\0'; j++)
        if (iscntrl((unsigned char)s[j]))
            return pol_err(c, pol_line(f->v), path,
                           "the name contains a control character; remove it");
    if ((*out = pol_strdup(c->p, s)) == NULL)
        return pol_oom(c);
    return 0;
}

int pol_parse_step_deadline(pol_ctx *c, const pol_field *f, const char *ip,
                            const char *channel, int64_t *out) {
    char path[LM_POLICY_PATH_MAX];
    *out = 0;
    if (f->v == NULL)
        return 0;
    pol_join(path, sizeof path, ip, "deadline");
    if (!lm_policy_channel_is_human(c->p, channel))
        return pol_err(c, pol_kline(f), path,
                       "channel \"%.60s\" is sent by a system, not done by a "
                       "person; deadlines are for human steps (a channel "
                       "with human: true): remove it, or mark the channel "
                       "human",
                       channel);
    if (pol_field_duration(c, f, path, 0, out))
        return -1;
    if (*out > 30 * LM_POLICY_DAY_MS)
        return pol_err(c, pol_line(f->v), path,
                       "is longer than 30 days of working time; an owner's "
                       "deadline is minutes or hours, e.g. \"5m\"");
    return 0;
}

int pol_parse_handoff_deadline(pol_ctx *c, const pol_field *f) {
    c->p->handoff_deadline_ms = 0;
    if (f->v == NULL)
        return 0;
    if (pol_field_duration(c, f, "handoff_deadline", 0,
                           &c->p->handoff_deadline_ms))
        return -1;
    if (c->p->handoff_deadline_ms > 30 * LM_POLICY_DAY_MS)
        return pol_err(c, pol_line(f->v), "handoff_deadline",
                       "is longer than 30 days of working time; write e.g. "
                       "\"1h\"");
    return 0;
}
