/* timing_owner.c — owner activity, owner status and deadline timers in
 * timing (timing_owner.h).
 *
 * Sections: identify · plan · the deadline levels · activity and status ·
 * hooks for timing.c (hand-off, outcome, firing). */
#include "timing_owner.h"

#include "lm_fmt.h"
#include "lm_hash.h"
#include "lm_lead.h"
#include "lm_route.h"
#include "lm_sla.h"
#include "lm_sla_out.h"
#include "lm_timers.h"
#include "lm_topics.h"
#include "lm_worktime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* timing plans the lead hash and its segment's statistics first: the
 * owner reads start here (keep in step with timing_plan) */
#define OWNER_AT     2
#define EVENT_ID_MAX 128
#define SLA_FALLBACK_MS                                                        \
    (60LL * 60 * 1000) /* a level whose step lost its                          \
                          deadline in a config change */

/* the lead's fields, reply OWNER_AT */
enum {
    S_STATUS,
    S_OWNER,
    S_TEAM,
    S_DECISION,
    S_SCORE,
    S_LEAD,
    S_SEGMENT,
    S_CADENCE,
    S_SLA_ACTION,
    S_SLA_OWNER,
    S_SLA_LEVEL,
    S_SLA_DUE,
    S_SLA_STEP,
    S_REASSIGN,
    S_FIRST_HUMAN,
    S_HOLDS,
    S_OUTCOME,
    S_N
};
static const char *const sla_fields[S_N] = {
    LM_F_STATUS,     LM_F_OWNER,         LM_F_TEAM,        LM_F_DECISION,
    LM_F_SCORE,      LM_F_LEAD,          LM_F_SEGMENT,     LM_F_CADENCE,
    LM_F_SLA_ACTION, LM_F_SLA_OWNER,     LM_F_SLA_LEVEL,   LM_F_SLA_DUE,
    LM_F_SLA_STEP,   LM_F_REASSIGNMENTS, LM_F_FIRST_HUMAN, LM_F_HOLDS,
    LM_F_OUTCOME};

/* an owner's state, HMGET of these */
enum { ST_STATUS, ST_UNTIL, ST_AT, ST_N };
static const char *const state_fields[ST_N] = {
    LM_SLA_STATE_STATUS, LM_SLA_STATE_UNTIL, LM_SLA_STATE_AT};

static const char *sf(const lm_msg *m, int i, size_t *len) {
    return lm_read_elem_str(&m->reads, OWNER_AT, (size_t)i, len);
}

static int64_t to_i64(const char *s, int64_t dflt) {
    int64_t v;
    return s && lm_parse_int64(s, INT64_MIN, INT64_MAX, &v) == 0 ? v : dflt;
}

static int64_t sf_int(const lm_msg *m, int i, int64_t dflt) {
    return to_i64(sf(m, i, NULL), dflt);
}

static int is_deadline(const Lastmile__V1__TimingEvent *ev) {
    return ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED &&
           ev->timer_fired->kind &&
           strcmp(ev->timer_fired->kind, LM_SLA_TIMER_DEADLINE) == 0;
}

int timing_owner_event(const Lastmile__V1__TimingEvent *ev) {
    return ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_ACTIVITY ||
           ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS ||
           is_deadline(ev);
}

const char *timing_owner_lead(const Lastmile__V1__TimingEvent *ev) {
    return ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_ACTIVITY
               ? ev->owner_activity->lead_id
               : NULL;
}

/* 1 when `owner` is an owner of some team. */
static int known_owner(const lm_policy *pol, const char *owner) {
    for (size_t i = 0; i < lm_policy_team_count(pol); i++) {
        const lm_team *t = lm_policy_team_at(pol, i);
        for (size_t j = 0; j < t->n_owners; j++)
            if (strcmp(t->owners[j].name, owner) == 0)
                return 1;
    }
    return 0;
}

static int bad_str(const char *s, size_t max) {
    return !s || !*s || strlen(s) > max;
}

/* ============================================================ identify */

static int identify_activity(const Lastmile__V1__OwnerActivity *a,
                             lm_ident *ident, char *reason, size_t reasonsz) {
    if (bad_str(a->event_id, EVENT_ID_MAX)) {
        snprintf(reason, reasonsz,
                 "owner_activity.event_id: missing or longer than 128 bytes; "
                 "connectors must set a unique id per activity");
        return -1;
    }
    if (lm_lead_tag_of("owner_activity.lead_id", a->lead_id, ident->tag, reason,
                       reasonsz))
        return -1;
    if (bad_str(a->action_id, EVENT_ID_MAX) || strchr(a->action_id, '|')) {
        snprintf(reason, reasonsz,
                 "owner_activity.action_id: missing or not an action id; "
                 "name the human step's action_id");
        return -1;
    }
    if (bad_str(a->owner, LM_POLICY_OWNER_MAX)) {
        snprintf(reason, reasonsz,
                 "owner_activity.owner: missing; name who acted");
        return -1;
    }
    if (a->kind < LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE ||
        a->kind > LASTMILE__V1__OWNER_ACTIVITY_KIND__SNOOZED) {
        snprintf(reason, reasonsz,
                 "owner_activity.kind: %d is not a known OwnerActivityKind "
                 "(DONE=1 .. SNOOZED=3)",
                 (int)a->kind);
        return -1;
    }
    if (a->kind == LASTMILE__V1__OWNER_ACTIVITY_KIND__SNOOZED &&
        a->snoozed_until_ms <= 0) {
        snprintf(reason, reasonsz,
                 "owner_activity.snoozed_until_ms: SNOOZED needs the time "
                 "the deadline moves to");
        return -1;
    }
    if (a->occurred_at_ms < 0) {
        snprintf(reason, reasonsz,
                 "owner_activity.occurred_at_ms: %lld is negative",
                 (long long)a->occurred_at_ms);
        return -1;
    }
    snprintf(ident->id, sizeof(ident->id), "activity:%s", a->event_id);
    return 0;
}

static int identify_status(const lm_policy *pol,
                           const Lastmile__V1__OwnerStatus *s, lm_ident *ident,
                           char *reason, size_t reasonsz) {
    if (bad_str(s->event_id, EVENT_ID_MAX)) {
        snprintf(reason, reasonsz,
                 "owner_status.event_id: missing or longer than 128 bytes; "
                 "connectors must set a unique id per status");
        return -1;
    }
    if (bad_str(s->owner, LM_POLICY_OWNER_MAX) || !known_owner(pol, s->owner)) {
        snprintf(reason, reasonsz,
                 "owner_status.owner: \"%.64s\" is not an owner in the "
                 "decisions file",
                 s->owner ? s->owner : "");
        return -1;
    }
    if (s->status != LASTMILE__V1__OWNER_AVAILABILITY__AWAY &&
        s->status != LASTMILE__V1__OWNER_AVAILABILITY__BACK) {
        snprintf(reason, reasonsz,
                 "owner_status.status: %d is neither AWAY (1) nor BACK (2)",
                 (int)s->status);
        return -1;
    }
    if (s->until_ms < 0 || s->occurred_at_ms < 0) {
        snprintf(reason, reasonsz,
                 "owner_status.until_ms: negative times are not times");
        return -1;
    }
    lm_sla_owner_tag(s->owner, ident->tag);
    snprintf(ident->id, sizeof(ident->id), "status:%s", s->event_id);
    return 0;
}

static int identify_deadline(const Lastmile__V1__TimerFired *t, lm_ident *ident,
                             char *reason, size_t reasonsz) {
    if (lm_lead_tag_of("timer_fired.lead_id", t->lead_id, ident->tag, reason,
                       reasonsz))
        return -1;
    if (bad_str(t->action_id, EVENT_ID_MAX) || strchr(t->action_id, '|')) {
        snprintf(reason, reasonsz,
                 "timer_fired.action_id: an owner_deadline names its step's "
                 "action_id");
        return -1;
    }
    if (t->level < 0 || t->level > LM_SLA_LEVEL_MAX) {
        snprintf(reason, reasonsz, "timer_fired.level: %d is not 0, 1 or 2",
                 (int)t->level);
        return -1;
    }
    /* one per level and due time: a deadline moved (snoozed) fires anew */
    snprintf(ident->id, sizeof(ident->id), "%s:deadline:%d@%lld", t->action_id,
             (int)t->level, (long long)t->due_at_ms);
    return 0;
}

int timing_owner_identify(const lm_policy *pol,
                          const Lastmile__V1__TimingEvent *ev, lm_ident *ident,
                          char *reason, size_t reasonsz) {
    if (ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_ACTIVITY)
        return identify_activity(ev->owner_activity, ident, reason, reasonsz);
    if (ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS)
        return identify_status(pol, ev->owner_status, ident, reason, reasonsz);
    return identify_deadline(ev->timer_fired, ident, reason, reasonsz);
}

/* One WATCH of every owner's open set (their loads). 0 / -1. */
static int watch_loads(const lm_policy *pol, lm_plan *p) {
    size_t n = 0;
    for (size_t i = 0; i < lm_policy_team_count(pol); i++)
        n += lm_policy_team_at(pol, i)->n_owners;
    char(*keys)[LM_KEY_MAX] = calloc(n ? n : 1, sizeof(*keys));
    const char **argv = calloc(n ? n : 1, sizeof(*argv));
    int rc = keys && argv ? 0 : -1;
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < lm_policy_team_count(pol); i++) {
        const lm_team *t = lm_policy_team_at(pol, i);
        for (size_t j = 0; j < t->n_owners; j++, k++) {
            lm_lead_team_open_key(t->name, t->owners[j].name, keys[k]);
            argv[k] = keys[k];
        }
    }
    if (rc == 0)
        rc = lm_plan_watch(p, n, argv);
    free(keys);
    free(argv);
    return rc;
}

/* ================================================================ plan */

static int plan_state(const char *owner, lm_plan *p) {
    char key[LM_KEY_MAX];
    lm_sla_state_key(owner, key);
    const char *argv[2 + ST_N] = {"HMGET", key};
    for (int i = 0; i < ST_N; i++)
        argv[2 + i] = state_fields[i];
    return lm_plan_cmd(p, 2 + ST_N, argv, NULL);
}

int timing_owner_plan_alone(const Lastmile__V1__TimingEvent *ev, lm_plan *p,
                            int *rc) {
    if (ev->event_case != LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS)
        return 0;
    *rc = plan_state(ev->owner_status->owner, p);
    return 1;
}

int timing_owner_plan(const lm_policy *pol, const Lastmile__V1__TimingEvent *ev,
                      lm_plan *p) {
    const char *lead =
        ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED
            ? ev->timer_fired->lead_id
        : ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE
            ? ev->response->lead_id
            : timing_owner_lead(ev);
    char key[LM_KEY_MAX];
    lm_lead_key(lead, key);
    const char *argv[2 + S_N] = {"HMGET", key};
    for (int i = 0; i < S_N; i++)
        argv[2 + i] = sla_fields[i];
    if (lm_plan_cmd(p, 2 + S_N, argv, NULL) != 0)
        return -1;
    if (!is_deadline(ev))
        return 0;
    /* every owner's load and state, team by team (the next owner is
       chosen in the lead's team, known only once the lead is read); the
       loads under WATCH, so that capacity holds against a qualification
       or timing replica that changes them before this batch applies
       (lm_plan_watch: the batch is then decided again) */
    if (watch_loads(pol, p) != 0)
        return -1;
    for (size_t i = 0; i < lm_policy_team_count(pol); i++) {
        const lm_team *t = lm_policy_team_at(pol, i);
        for (size_t j = 0; j < t->n_owners; j++) {
            char open[LM_KEY_MAX];
            lm_lead_team_open_key(t->name, t->owners[j].name, open);
            if (lm_plan_cmd_strs(p, "SCARD", open, NULL) != 0 ||
                plan_state(t->owners[j].name, p) != 0)
                return -1;
        }
    }
    return 0;
}

/* The reply index of owner j of team `team` (SCARD; its state follows),
 * or 0 when the team is unknown. After the lead's HMGET (OWNER_AT) comes
 * the WATCH of the loads (one reply), then the owners. */
static size_t owner_reply(const lm_policy *pol, const lm_team *team, size_t j) {
    size_t at = OWNER_AT + 2;
    for (size_t i = 0; i < lm_policy_team_count(pol); i++) {
        const lm_team *t = lm_policy_team_at(pol, i);
        if (t == team)
            return at + 2 * j;
        at += 2 * t->n_owners;
    }
    return 0;
}

/* 1 when owner o, whose state reply is at `at`, is away now: AWAY by
 * that state or inside a configured out_of_office window
 * (lm_route_owner_away, routing's rule). */
static int away_at(const lm_msg *m, const lm_owner *o, size_t at,
                   int64_t now_ms) {
    const char *st = lm_read_elem_str(&m->reads, at, ST_STATUS, NULL);
    int64_t until = to_i64(lm_read_elem_str(&m->reads, at, ST_UNTIL, NULL), 0);
    return lm_route_owner_away(o, st, until, now_ms);
}

/* ========================================================= the levels */

/* +1 to the report's count `what` of (team, owner). */
static void stat(lm_out *out, const char *what, const char *team,
                 const char *owner) {
    char f[LM_SLA_STAT_FIELD_MAX], key[LM_KEY_MAX];
    lm_sla_stat_field(what, team, owner, f);
    lm_sla_stats_key(f, key); /* one of LM_SLA_STATS_BUCKETS hashes */
    const char *argv[] = {"HINCRBY", key, f, "1"};
    lm_out_index(out, 4, argv, NULL);
}

typedef struct deadline {
    const Lastmile__V1__TimerFired *t;
    const char *lead, *owner, *team_name, *channel, *cadence, *segment;
    const lm_team *team;
    int step;
    int64_t deadline_ms;
} deadline;

/* A REMINDER / ESCALATION action about the step. */
static int emit_about(const deadline *d, const lm_msg *m, lm_out *out,
                      Lastmile__V1__ActionKind kind, const char *suffix,
                      const char *to, int64_t due_by) {
    char id[LM_ID_MAX];
    snprintf(id, sizeof(id), "%s:%s", d->t->action_id, suffix);
    Lastmile__V1__FollowUpAction a = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a.action_id = id;
    a.lead_id = (char *)d->lead;
    a.channel = (char *)d->channel;
    a.step = d->step;
    a.scheduled_for_ms = m->now_ms;
    a.owner = (char *)to;
    a.kind = kind;
    a.segment = (char *)d->segment;
    a.cadence = (char *)d->cadence;
    a.due_by_ms = due_by;
    a.reason = (char *)LM_SLA_REASON_BREACH;
    a.human = 1;
    a.team = (char *)d->team_name;
    return lm_out_emit(out, LM_TOPIC_ACTIONS, d->lead, id, &a.base);
}

static int escalate(const lm_policy *pol, const deadline *d, const lm_msg *m,
                    lm_out *out) {
    (void)pol;
    const char *to = d->team && d->team->lead ? d->team->lead : "";
    char key[LM_KEY_MAX];
    if (emit_about(d, m, out, LASTMILE__V1__ACTION_KIND__ESCALATION,
                   "escalation", to, 0) != 0)
        return -1;
    lm_lead_key(d->lead, key);
    lm_out_write_strs(out, "HSET", key, LM_F_SLA_LEVEL, LM_SLA_LEVEL_DONE,
                      NULL);
    lm_out_count(out, "lastmile_owner_escalations_total", NULL, 1);
    stat(out, LM_SLA_STAT_ESCALATED, d->team_name, d->owner);
    return 0;
}

static int remind(const lm_policy *pol, const deadline *d, const lm_msg *m,
                  lm_out *out) {
    const lm_worktime *work = lm_sla_work(pol, d->team_name, d->owner);
    int64_t due = lm_worktime_add(work, m->now_ms, d->deadline_ms);
    if (due <= 0)
        due = m->now_ms + d->deadline_ms;
    if (emit_about(d, m, out, LASTMILE__V1__ACTION_KIND__REMINDER, "reminder",
                   d->owner, due) != 0)
        return -1;
    lm_out_count(out, "lastmile_owner_reminders_total", NULL, 1);
    stat(out, LM_SLA_STAT_REMINDERS, d->team_name, d->owner);
    return lm_sla_arm(out, d->lead, d->t->action_id, d->step, d->owner, 1, due);
}

/* 1 when the lead holds a slot of its owner (holds_slot "1"; a lead
 * written before that field: unless NURTURE without
 * routing_options.nurture_takes_capacity, as routing decides). */
static int lead_holds_slot(const lm_policy *pol, const lm_msg *m) {
    const char *h = sf(m, S_HOLDS, NULL);
    if (h)
        return strcmp(h, "1") == 0;
    const char *kind = sf(m, S_DECISION, NULL);
    return !(kind && strcmp(kind, "NURTURE") == 0) ||
           lm_policy_routing_options(pol)->nurture_takes_capacity;
}

static int not_away(void *arg, const lm_team *t, size_t i) {
    (void)t;
    return !((const uint8_t *)arg)[i];
}

/* The teammate a lead goes to (routing's rule, lm_route_pick): weighted
 * round robin from a counter drawn from the lead and its reassignment
 * number (deterministic: the same event decides the same), an owner who
 * is not away (away[] also marks the owner it leaves) with room — any
 * such owner when the lead holds no slot. -1 when none. */
static int64_t next_owner(const char *lead, int64_t n, const lm_team *t,
                          const int64_t *loads, uint8_t *away, int holds) {
    uint64_t rr = lm_hash64_str(lead, (uint64_t)n);
    int64_t k = lm_route_pick(t, loads, rr, !holds, not_away, away);
    return k >= 0 && !away[k] ? k : -1;
}

/* The teammate who takes the lead's n-th reassignment: the next by the
 * routing rule among those with room and not away, never the step's own
 * owner; -1 when nobody has room (or the team has no owner replies). */
static int64_t pick_teammate(const lm_policy *pol, const deadline *d,
                             const lm_msg *m, int64_t n, int holds) {
    int64_t loads[LM_POLICY_MAX_OWNERS];
    uint8_t away[LM_POLICY_MAX_OWNERS];
    for (size_t j = 0; j < d->team->n_owners; j++) {
        size_t at = owner_reply(pol, d->team, j);
        loads[j] = lm_read_int(&m->reads, at, 0);
        away[j] =
            (uint8_t)(away_at(m, &d->team->owners[j], at + 1, m->now_ms) ||
                      strcmp(d->team->owners[j].name, d->owner) == 0);
    }
    return next_owner(d->lead, n, d->team, loads, away, holds);
}

/* The reassignment as a decision to followup (id "<lead>:decision:<n>",
 * the lead's kind, score, segment and bare lead from its hash), naming
 * the new owner `to`. 0 / -1. */
static int emit_reassignment(const deadline *d, const lm_msg *m, lm_out *out,
                             const char *to, int64_t n) {
    char id[LM_ID_MAX], next[LM_ID_MAX];
    if (lm_sla_reassign_id(d->lead, n, id, sizeof(id)) != 0)
        return -1;
    snprintf(next, sizeof(next), "%s again, owner %.64s (sla_breach)",
             d->channel, to);
    size_t lead_len = 0;
    const char *lead_bytes = sf(m, S_LEAD, &lead_len);
    Lastmile__V1__LeadAccepted empty = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    Lastmile__V1__LeadAccepted *lead =
        lead_bytes ? lastmile__v1__lead_accepted__unpack(
                         NULL, lead_len, (const uint8_t *)lead_bytes)
                   : NULL;
    Lastmile__V1__QualificationDecision q =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    const char *kind = sf(m, S_DECISION, NULL);
    double score = 0;
    lm_parse_double(sf(m, S_SCORE, NULL), 0, 1, &score);
    q.decision_id = id;
    q.lead_id = (char *)d->lead;
    q.score = score;
    q.kind = kind && strcmp(kind, "NURTURE") == 0
                 ? LASTMILE__V1__DECISION_KIND__NURTURE
                 : LASTMILE__V1__DECISION_KIND__QUALIFIED;
    q.owner = (char *)to;
    q.team = (char *)d->team_name;
    q.next_step = next;
    q.decided_at_ms = m->now_ms;
    q.lead = lead ? lead : &empty;
    q.segment = (char *)d->segment;
    q.reason = (char *)LM_SLA_REASON_BREACH;
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    ev.decision = &q;
    int rc = lm_out_emit(out, LM_TOPIC_FOLLOWUP, d->lead, id, &ev.base);
    if (lead)
        lastmile__v1__lead_accepted__free_unpacked(lead, NULL);
    return rc != 0 ? -1 : 0;
}

/* The lead is `to`'s now: its hash's owner and count, the load moved
 * between the two owners' open sets when it holds a slot, the counters. */
static void move_lead(const deadline *d, const lm_msg *m, lm_out *out,
                      const char *to, int64_t n, int holds) {
    char nb[LM_FMT_I64_MAX], key[LM_KEY_MAX];
    lm_fmt_i64(nb, n);
    lm_lead_key(d->lead, key);
    lm_out_write_strs(out, "HSET", key, LM_F_OWNER, to, LM_F_REASSIGNMENTS, nb,
                      NULL);
    const char *status = sf(m, S_STATUS, NULL);
    if (holds && status && strcmp(status, "open") == 0) {
        /* the load moves with the lead: idempotent set commands (a lead
           that holds no slot, NURTURE by default, moves no load) */
        char from_set[LM_KEY_MAX], to_set[LM_KEY_MAX];
        lm_lead_team_open_key(d->team_name, d->owner, from_set);
        lm_lead_team_open_key(d->team_name, to, to_set);
        const char *rem[] = {"SREM", from_set, d->lead};
        const char *add[] = {"SADD", to_set, d->lead};
        lm_out_index(out, 3, rem, NULL);
        lm_out_index(out, 3, add, NULL);
    }
    lm_out_count(out, "lastmile_owner_reassignments_total", NULL, 1);
    stat(out, LM_SLA_STAT_LOST, d->team_name, d->owner);
    stat(out, LM_SLA_STAT_GAINED, d->team_name, to);
}

/* A step overdue after its reminder (or with its owner away): the lead goes to
 * a teammate with room, or, when nobody has room, the team's lead is told
 * (escalate). 0 / -1. */
static int reassign(const lm_policy *pol, const deadline *d, const lm_msg *m,
                    lm_out *out) {
    if (!d->team || !owner_reply(pol, d->team, 0))
        return escalate(pol, d, m, out);
    /* the lead's next reassignment; a count that is no count (edited by
       hand) restarts at 1 rather than failing the deadline for good */
    int64_t done = sf_int(m, S_REASSIGN, 0);
    int64_t n = (done > 0 && done < INT32_MAX ? done : 0) + 1;
    int holds = lead_holds_slot(pol, m);
    int64_t k = pick_teammate(pol, d, m, n, holds);
    if (k < 0) /* nobody with room: the team's lead is told at once */
        return escalate(pol, d, m, out);
    const char *to = d->team->owners[k].name;
    if (emit_reassignment(d, m, out, to, n) != 0)
        return -1;
    move_lead(d, m, out, to, n, holds);
    return 0;
}

/* 1 when the lead is closed other than by a sale (a lead closed before
 * timing_owner_on_close dropped its pending step may still fire one). */
static int closed_unsold(const lm_msg *m) {
    const char *status = sf(m, S_STATUS, NULL),
               *outcome = sf(m, S_OUTCOME, NULL);
    /* the hash holds the outcome's name (lm_timing_close_lead) */
    const ProtobufCEnumValue *sale = protobuf_c_enum_descriptor_get_value(
        &lastmile__v1__outcome_status__descriptor,
        LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME);
    return status && strcmp(status, "closed") == 0 &&
           !(outcome && sale && strcmp(outcome, sale->name) == 0);
}

static int on_deadline(const lm_policy *pol, const lm_msg *m, lm_out *out,
                       const Lastmile__V1__TimerFired *t) {
    const char *action = sf(m, S_SLA_ACTION, NULL);
    const char *level = sf(m, S_SLA_LEVEL, NULL);
    if (!sf(m, S_STATUS, NULL) || !action || strcmp(action, t->action_id) ||
        !level || to_i64(level, -1) != t->level ||
        sf_int(m, S_SLA_DUE, -1) != t->due_at_ms || closed_unsold(m)) {
        lm_out_count(out, "lastmile_owner_deadlines_stale_total", NULL, 1);
        return 0; /* done, snoozed, moved on, reassigned or closed since */
    }
    deadline d;
    memset(&d, 0, sizeof(d));
    d.t = t;
    d.lead = t->lead_id;
    const char *o = sf(m, S_SLA_OWNER, NULL), *tn = sf(m, S_TEAM, NULL),
               *seg = sf(m, S_SEGMENT, NULL), *cn = sf(m, S_CADENCE, NULL);
    d.owner = o ? o : "";
    d.team_name = tn ? tn : "";
    d.team = lm_policy_team(pol, d.team_name);
    d.segment = seg ? seg : "";
    d.cadence = cn ? cn : "";
    d.step = (int)sf_int(m, S_SLA_STEP, -1);
    const lm_cadence *cad = lm_policy_cadence(pol, d.cadence);
    if (d.step >= 0 && cad && (size_t)d.step < cad->n_steps) {
        d.channel = cad->steps[d.step].channel;
        d.deadline_ms = cad->steps[d.step].deadline_ms;
    } else {
        d.channel = "handoff";
        d.deadline_ms = lm_policy_handoff_deadline_ms(pol);
    }
    if (d.deadline_ms <= 0)
        d.deadline_ms = SLA_FALLBACK_MS;
    char labels[32];
    snprintf(labels, sizeof(labels), "level=\"%d\"", (int)t->level);
    lm_out_count(out, "lastmile_owner_sla_breaches_total", labels, 1);
    stat(out, LM_SLA_STAT_BREACHES, d.team_name, d.owner);
    size_t me = 0, me_i = 0;
    if (d.team)
        for (size_t j = 0; j < d.team->n_owners; j++)
            if (strcmp(d.team->owners[j].name, d.owner) == 0) {
                me = owner_reply(pol, d.team, j) + 1;
                me_i = j;
            }
    int away = me && away_at(m, &d.team->owners[me_i], me, m->now_ms);
    if (t->level == 0 && !away)
        return remind(pol, &d, m, out);
    if (t->level <= 1)
        return reassign(pol, &d, m, out);
    return escalate(pol, &d, m, out);
}

/* ================================================= activity and status */

static const char *activity_name(Lastmile__V1__OwnerActivityKind k) {
    return k == LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE      ? "done"
           : k == LASTMILE__V1__OWNER_ACTIVITY_KIND__SKIPPED ? "skipped"
                                                             : "snoozed";
}

static int on_activity(const lm_msg *m, lm_out *out,
                       const Lastmile__V1__OwnerActivity *a) {
    if (!sf(m, S_STATUS, NULL)) {
        lm_out_reject(out,
                      "owner_activity.lead_id: no lead %.64s is known to "
                      "lastmile; name a lead_id from a lastmile action",
                      a->lead_id);
        return 0;
    }
    char key[LM_KEY_MAX], labels[48];
    lm_lead_key(a->lead_id, key);
    snprintf(labels, sizeof(labels), "kind=\"%s\"", activity_name(a->kind));
    lm_out_count(out, "lastmile_owner_activity_total", labels, 1);
    int64_t at = a->occurred_at_ms > 0 ? a->occurred_at_ms : m->now_ms;
    if (a->kind == LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE &&
        !sf(m, S_FIRST_HUMAN, NULL)) {
        char atb[LM_FMT_I64_MAX];
        lm_fmt_i64(atb, at);
        lm_out_write_strs(out, "HSET", key, LM_F_FIRST_HUMAN, atb, NULL);
    }
    if (a->kind == LASTMILE__V1__OWNER_ACTIVITY_KIND__DONE && a->action_id &&
        strstr(a->action_id, ":handoff")) {
        /* the owner's first contact after the reply, on the hand-off or
           its reassigned copy "<lead>:handoff:r<n>" (the report's) */
        char atb[LM_FMT_I64_MAX];
        lm_fmt_i64(atb, at);
        lm_out_write_strs(out, "HSETNX", key, LM_F_HANDOFF_DONE, atb, NULL);
    }
    const char *action = sf(m, S_SLA_ACTION, NULL);
    const char *level = sf(m, S_SLA_LEVEL, NULL);
    int64_t lv = to_i64(level, -1);
    if (!action || strcmp(action, a->action_id) != 0 || lv < 0) {
        /* not the step that waits (an older one, or already answered) */
        lm_out_count(out, "lastmile_owner_activity_stale_total", NULL, 1);
        return 0;
    }
    const char *owner = sf(m, S_SLA_OWNER, NULL);
    int step = (int)sf_int(m, S_SLA_STEP, -1);
    if (!owner)
        owner = "";
    if (a->kind != LASTMILE__V1__OWNER_ACTIVITY_KIND__SNOOZED)
        return lm_sla_clear(out, a->lead_id, action, step, owner, (int)lv);
    int64_t until =
        a->snoozed_until_ms > m->now_ms ? a->snoozed_until_ms : m->now_ms;
    return lm_sla_arm(out, a->lead_id, action, step, owner, (int)lv, until);
}

static int on_status(const lm_msg *m, lm_out *out,
                     const Lastmile__V1__OwnerStatus *s) {
    int64_t at = s->occurred_at_ms > 0 ? s->occurred_at_ms : m->now_ms;
    int64_t prev = to_i64(lm_read_elem_str(&m->reads, 0, ST_AT, NULL), -1);
    if (prev > at) {
        lm_out_count(out, "lastmile_owner_status_stale_total", NULL, 1);
        return 0; /* a newer status is recorded already */
    }
    char key[LM_KEY_MAX], atb[LM_FMT_I64_MAX], until[LM_FMT_I64_MAX];
    lm_sla_state_key(s->owner, key);
    lm_fmt_i64(atb, at);
    lm_fmt_i64(until, s->status == LASTMILE__V1__OWNER_AVAILABILITY__AWAY
                          ? s->until_ms
                          : 0);
    lm_out_write_strs(
        out, "HSET", key, LM_SLA_STATE_OWNER, s->owner, LM_SLA_STATE_STATUS,
        s->status == LASTMILE__V1__OWNER_AVAILABILITY__AWAY ? "AWAY" : "BACK",
        LM_SLA_STATE_UNTIL, until, LM_SLA_STATE_AT, atb, NULL);
    lm_out_count(out, "lastmile_owner_status_total",
                 s->status == LASTMILE__V1__OWNER_AVAILABILITY__AWAY
                     ? "status=\"away\""
                     : "status=\"back\"",
                 1);
    return 0;
}

int timing_owner_handle(const lm_policy *pol, const lm_msg *m, lm_out *out,
                        const Lastmile__V1__TimingEvent *ev) {
    if (ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_ACTIVITY)
        return on_activity(m, out, ev->owner_activity);
    if (ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS)
        return on_status(m, out, ev->owner_status);
    return on_deadline(pol, m, out, ev->timer_fired);
}

/* ============================================================= hooks */

int timing_owner_handoff(const lm_policy *pol, const lm_msg *m, lm_out *out,
                         Lastmile__V1__FollowUpAction *a) {
    const char *team = a->team && *a->team ? a->team : sf(m, S_TEAM, NULL);
    a->team = (char *)(team ? team : "");
    a->human = 1;
    char key[LM_KEY_MAX], at[LM_FMT_I64_MAX];
    lm_lead_key(a->lead_id, key);
    lm_fmt_i64(at, a->scheduled_for_ms); /* the report's human delay */
    lm_out_write_strs(out, "HSETNX", key, LM_F_HUMAN_DUE, at, NULL);
    int64_t dl = lm_policy_handoff_deadline_ms(pol);
    if (dl <= 0)
        return 0;
    int64_t due = lm_worktime_add(lm_sla_work(pol, team, a->owner),
                                  a->scheduled_for_ms, dl);
    a->due_by_ms = due > 0 ? due : a->scheduled_for_ms + dl;
    lm_out_count(out, "lastmile_owner_deadlines_total", "level=\"0\"", 1);
    return lm_sla_arm(out, a->lead_id, a->action_id, -1, a->owner, 0,
                      a->due_by_ms);
}

int timing_owner_on_close(const lm_msg *m, lm_out *out, const char *lead_id,
                          Lastmile__V1__OutcomeStatus status) {
    if (status == LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME)
        return 0; /* the buyer's hand-off stays the owner's */
    const char *action = sf(m, S_SLA_ACTION, NULL),
               *owner = sf(m, S_SLA_OWNER, NULL);
    int64_t level = to_i64(sf(m, S_SLA_LEVEL, NULL), -1);
    if (!action || level < 0 || level > LM_SLA_LEVEL_MAX)
        return 0; /* no step pending ("done", or none ever) */
    lm_out_count(out, "lastmile_owner_steps_dropped_total", NULL, 1);
    return lm_sla_clear(out, lead_id, action, (int)sf_int(m, S_SLA_STEP, -1),
                        owner ? owner : "", (int)level);
}

void timing_owner_outcome(const lm_policy *pol, const lm_msg *m,
                          Lastmile__V1__Outcome *o) {
    (void)pol; /* first_human_at and team: lm_timing_close_lead reads them */
    const char *team = sf(m, S_TEAM, NULL);
    o->reassignments = (int32_t)sf_int(m, S_REASSIGN, 0);
    if (team && (!o->team || !*o->team))
        o->team = (char *)team;
}

int timing_owner_fire(const lm_timer *t, int64_t now_ms, lm_timers_fired *f,
                      int *rc) {
    if (strcmp(t->kind, LM_SLA_TIMER_DEADLINE) != 0)
        return 0;
    char action[LM_ID_MAX], owner[LM_POLICY_OWNER_MAX + 1], id[LM_ID_MAX],
        lid[LM_ID_MAX + 32];
    int level, step;
    *rc = -1;
    if (lm_sla_payload_parse(t->payload, t->payload_len, &level, &step, action,
                             sizeof(action), owner, sizeof(owner)) != 0)
        return 1; /* logged and dropped by the sweep */
    char lv[LM_FMT_I64_MAX], due[LM_FMT_I64_MAX];
    lm_fmt_i64(lv, level);
    lm_fmt_i64(due, t->due_ms);
    if (lm_fmt_cat(id, sizeof(id), action, ":deadline:", lv, NULL) >=
        sizeof(id))
        return 1;
    lm_fmt_cat(lid, sizeof(lid), id, "@", due, NULL);
    Lastmile__V1__TimerFired tf = LASTMILE__V1__TIMER_FIRED__INIT;
    tf.timer_id = id;
    tf.lead_id = (char *)t->lead;
    tf.step = step;
    tf.due_at_ms = t->due_ms;
    tf.fired_at_ms = now_ms;
    tf.action_id = action;
    tf.kind = (char *)LM_SLA_TIMER_DEADLINE;
    tf.level = level;
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    te.timer_fired = &tf;
    *rc = lm_timers_emit(f, LM_TOPIC_TIMING, t->lead, lid, &te.base);
    return 1;
}
