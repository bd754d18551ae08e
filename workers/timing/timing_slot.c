/* timing_slot.c — a freed slot goes to the team's oldest waiting lead
 * (timing_slot.h).
 *
 * Sections: identify · plan · the hand-out. */
#include "timing_slot.h"
#include "timing_queue_acct.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_route.h"
#include "lm_sla.h"
#include "lm_topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void timing_slot_group(const lm_policy *p, const char *team, char *out) {
    size_t n = lm_policy_team_count(p);
    const lm_team *t = lm_policy_team(p, team);
    unsigned char in[LM_POLICY_MAX_TEAMS] = {0};
    lm_fmt_cat(out, LM_POLICY_NAME_MAX, team, NULL);
    if (!t || n > LM_POLICY_MAX_TEAMS)
        return;
    in[lm_policy_team_index(p, t)] = 1;
    /* grow the group until no team joins it: n rounds at most */
    for (int grew = 1; grew;) {
        grew = 0;
        for (size_t i = 0; i < n; i++) {
            const lm_team *x = lm_policy_team_at(p, i);
            size_t o = x->overflow ? lm_policy_team_index(p, x->overflow) : n;
            if (o < n && in[i] != in[o]) {
                in[i] = in[o] = 1;
                grew = 1;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (in[i]) {
            lm_fmt_cat(out, LM_POLICY_NAME_MAX, lm_policy_team_at(p, i)->name,
                       NULL);
            return;
        }
}

int timing_slot_event(const Lastmile__V1__TimingEvent *ev) {
    return ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_SLOT_FREED;
}

/* ============================================================ identify */

int timing_slot_identify(const lm_policy *p, const Lastmile__V1__SlotFreed *s,
                         lm_ident *ident, char *reason, size_t reasonsz) {
    if (!s->team || !*s->team || strlen(s->team) >= LM_POLICY_NAME_MAX) {
        snprintf(reason, reasonsz,
                 "slot_freed.team: missing or longer than %d bytes; "
                 "SlotFreed is timing's own event",
                 LM_POLICY_NAME_MAX - 1);
        return -1;
    }
    if (!s->owner || !*s->owner || strlen(s->owner) >= LM_POLICY_OWNER_MAX) {
        snprintf(reason, reasonsz,
                 "slot_freed.owner: missing or longer than %d bytes",
                 LM_POLICY_OWNER_MAX - 1);
        return -1;
    }
    char lead_tag[LM_PERSON_MAX]; /* checks the id; the tag is the group's */
    if (lm_lead_tag_of("slot_freed.lead_id", s->lead_id, lead_tag, reason,
                       reasonsz))
        return -1;
    /* the overflow group's tag: one batch at a time (timing_slot.h) */
    char group[LM_POLICY_NAME_MAX];
    timing_slot_group(p, s->team, group);
    lm_fmt_cat(ident->tag, LM_TAG_MAX, "team:", group, NULL);
    lm_fmt_cat(ident->id, sizeof(ident->id), s->lead_id, ":freed", NULL);
    return 0;
}

/* ================================================================ plan */

/* The teams whose waiting leads a slot of t takes: t, then those whose
 * overflow is t, in the decisions file's order. Into teams (cap
 * LM_POLICY_MAX_TEAMS); their number. */
static size_t queues_of(const lm_policy *p, const lm_team *t,
                        const lm_team **teams) {
    size_t n = 0;
    teams[n++] = t;
    for (size_t x = 0; x < lm_policy_team_count(p); x++) {
        const lm_team *o = lm_policy_team_at(p, x);
        if (o != t && o->overflow == t && n < LM_POLICY_MAX_TEAMS)
            teams[n++] = o;
    }
    return n;
}

int timing_slot_plan(const lm_policy *p, const Lastmile__V1__SlotFreed *s,
                     lm_plan *plan) {
    const lm_team *t = lm_policy_team(p, s->team);
    if (!t)
        return 0; /* handle gives nothing away */
    const lm_team *teams[LM_POLICY_MAX_TEAMS];
    size_t n = queues_of(p, t, teams);
    /* the queues and the owner's open set: a qualification that assigns
       the owner a lead meanwhile refuses this EXEC (capacity holds) */
    char(*keys)[LM_KEY_MAX] = calloc(n + 1, sizeof(*keys));
    const char **argv = calloc(n + 1, sizeof(*argv));
    char last[LM_FMT_I64_MAX], state[LM_KEY_MAX];
    int rc = keys && argv ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        lm_lead_team_queue_key(teams[i]->name, keys[i]);
        argv[i] = keys[i];
    }
    const char *open = keys ? keys[n] : NULL;
    if (rc == 0) {
        lm_lead_team_open_key(t->name, s->owner, keys[n]);
        argv[n] = keys[n];
    }
    lm_fmt_i64(last, LM_TIMING_SLOT_HEADS - 1);
    if (rc == 0) /* reply 0 */
        rc = lm_plan_watch(plan, n + 1, argv);
    for (size_t i = 0; rc == 0 && i < n; i++) /* replies 1..n */
        rc = lm_plan_cmd_strs(plan, "ZRANGE", keys[i], "0", last, NULL);
    lm_sla_state_key(s->owner, state);
    if (rc == 0) /* reply n+1, n+2 */
        rc = lm_plan_cmd_strs(plan, "SCARD", open, NULL) != 0 ||
                     lm_plan_cmd_strs(plan, "HMGET", state, LM_SLA_STATE_STATUS,
                                      LM_SLA_STATE_UNTIL, NULL) != 0
                 ? -1
                 : 0;
    free(keys);
    free(argv);
    return rc;
}

/* ========================================================= the hand-out */

/* Gives owner `owner` of team t the waiting lead `data` (len) of queue
 * team qt: its writes and its decision. 1 given, 0 when the member is not
 * a decision qualification queued (dropped from its queue), -1 when an
 * lm_out call failed. */
static int assign_head(const lm_policy *p, const lm_msg *m, const lm_team *t,
                       const char *owner, const lm_team *qt,
                       const uint8_t *data, size_t len, lm_out *out) {
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    Lastmile__V1__QualificationDecision *d =
        lastmile__v1__qualification_decision__unpack(NULL, len, data);
    char key[LM_KEY_MAX], open[LM_KEY_MAX], queue[LM_KEY_MAX], next[160];
    lm_lead_team_queue_key(qt->name, queue);
    const char *zrem[] = {"ZREM", queue, (const char *)data};
    size_t zl[3] = {4, strlen(queue), len};
    if (!d || !d->lead_id || lm_lead_tag(d->lead_id, key) != 0 ||
        !d->decision_id || !d->lead) {
        /* not one qualification wrote: drop it from the queue */
        lm_out_index(out, 3, zrem, zl);
        lm_out_count(out, "lastmile_unassigned_dropped_total", NULL, 1);
        if (d)
            lastmile__v1__qualification_decision__free_unpacked(d, NULL);
        return lm_out_failed(out) ? -1 : 0;
    }
    lm_lead_key(d->lead_id, key);
    lm_lead_team_open_key(t->name, owner, open);
    const char *sadd[] = {"SADD", open, d->lead_id};
    const char *hset[] = {"HSET",     key,     LM_F_OWNER, owner,
                          LM_F_TEAM,  t->name, LM_F_STAGE, "followup",
                          LM_F_HOLDS, "1"};
    const char *hdel[] = {"HDEL", key, LM_F_PENDING};
    lm_out_index(out, 3, sadd, NULL);
    lm_out_index(out, 3, zrem, zl);
    lm_out_index(out, 10, hset, NULL);
    lm_out_index(out, 3, hdel, NULL);
    /* its account's open leads: a colleague's reply pauses it */
    if (timing_queue_acct_join(p, m, d, owner, t->name, out) != 0) {
        lastmile__v1__qualification_decision__free_unpacked(d, NULL);
        return -1;
    }
    lm_fmt_cat(next, sizeof(next), "cadence from step 1 by ", owner,
               " (a slot freed)", NULL);
    /* the message's own strings, put back before it is freed */
    char *own_owner = d->owner, *own_team = d->team, *own_next = d->next_step;
    d->owner = (char *)owner;
    d->team = (char *)t->name;
    d->unassigned = 0;
    d->next_step = next;
    if (!d->decided_at_ms || d->decided_at_ms < m->now_ms)
        d->decided_at_ms = m->now_ms;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    ev.decision = d;
    lm_out_count(out, "lastmile_routed_total", "how=\"slot_freed\"", 1);
    int rc = lm_out_emit(out, LM_TOPIC_FOLLOWUP, d->lead_id, d->decision_id,
                         &ev.base);
    d->owner = own_owner;
    d->team = own_team;
    d->next_step = own_next;
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    return rc != 0 ? -1 : 1;
}

/* Counts a freed slot that gave nothing away, and why. */
static int kept(lm_out *out, const char *why) {
    char labels[64];
    snprintf(labels, sizeof(labels), "why=\"%s\"", why);
    lm_out_count(out, "lastmile_slot_freed_kept_total", labels, 1);
    return 0;
}

int timing_slot_handle(const lm_policy *p, const lm_msg *m, lm_out *out,
                       const Lastmile__V1__SlotFreed *s) {
    const lm_team *t = lm_policy_team(p, s->team);
    const lm_owner *o = NULL;
    for (size_t i = 0; t && i < t->n_owners; i++)
        if (strcmp(t->owners[i].name, s->owner) == 0)
            o = &t->owners[i];
    if (!o)
        return kept(out, "not_configured"); /* a decisions file change */
    const lm_team *teams[LM_POLICY_MAX_TEAMS];
    size_t n = queues_of(p, t, teams);
    long long load;
    if (lm_read_integer(&m->reads, n + 1, &load) != 0)
        return kept(out, "load_unreadable");
    const char *st = lm_read_elem_str(&m->reads, n + 2, 0, NULL);
    const char *until = lm_read_elem_str(&m->reads, n + 2, 1, NULL);
    int64_t u = 0;
    if (until && lm_parse_int64(until, 0, INT64_MAX, &u) != 0)
        u = 0;
    if (load >= o->capacity)
        return kept(out, "at_capacity");
    if (lm_route_owner_away(o, st, u, m->now_ms))
        return kept(out, "away");
    /* the team's own waiting leads first, then those of the teams that
       overflow into it (they waited because it was full too) */
    for (size_t q = 0; q < n; q++) {
        size_t heads = lm_read_elems(&m->reads, 1 + q);
        for (size_t i = 0; i < heads; i++) {
            size_t len = 0;
            const char *h = lm_read_elem_str(&m->reads, 1 + q, i, &len);
            int rc = h ? assign_head(p, m, t, o->name, teams[q],
                                     (const uint8_t *)h, len, out)
                       : 0;
            if (rc != 0)
                return rc < 0 ? -1 : 0;
        }
    }
    return kept(out, "none_waiting");
}
