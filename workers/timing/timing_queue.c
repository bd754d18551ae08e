/* timing_queue.c — a freed slot goes to the team's oldest unassigned lead
 * (timing_queue.h). */
#include "timing_queue.h"
#include "timing_queue_acct.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_sla.h"
#include "lm_topics.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void heads_clear(timing_queue *q) {
    for (size_t t = 0; q->heads && t < q->n_teams; t++) {
        for (size_t i = 0; i < q->n_heads[t]; i++)
            free(q->heads[t][i].data);
        q->n_heads[t] = 0;
    }
}

int timing_queue_init(timing_queue *q, const lm_policy *p, char *err,
                      size_t errsz) {
    size_t n = lm_policy_team_count(p);
    memset(q, 0, sizeof(*q));
    q->policy = p;
    q->loads = calloc(n ? n : 1, sizeof(*q->loads));
    q->heads = calloc(n ? n : 1, sizeof(*q->heads));
    q->n_heads = calloc(n ? n : 1, sizeof(*q->n_heads));
    q->away_until = calloc(n ? n : 1, sizeof(*q->away_until));
    if (!q->loads || !q->heads || !q->n_heads || !q->away_until)
        goto oom;
    for (q->n_teams = 0; q->n_teams < n; q->n_teams++) {
        const lm_team *t = lm_policy_team_at(p, q->n_teams);
        q->loads[q->n_teams] = calloc(t->n_owners, sizeof(int64_t));
        q->heads[q->n_teams] =
            calloc(LM_TIMING_QUEUE_HEADS, sizeof(timing_queue_head));
        q->away_until[q->n_teams] = calloc(t->n_owners, sizeof(int64_t));
        if (!q->loads[q->n_teams] || !q->heads[q->n_teams] ||
            !q->away_until[q->n_teams]) {
            q->n_teams++; /* free what this one got */
            goto oom;
        }
    }
    return 0;
oom:
    snprintf(err, errsz, "out of memory for %zu teams' queues", n);
    timing_queue_free(q);
    return -1;
}

void timing_queue_free(timing_queue *q) {
    heads_clear(q);
    for (size_t t = 0; t < q->n_teams; t++) {
        if (q->loads)
            free(q->loads[t]);
        if (q->heads)
            free(q->heads[t]);
        if (q->away_until)
            free(q->away_until[t]);
    }
    free(q->away_until);
    free(q->loads);
    free(q->heads);
    free(q->n_heads);
    memset(q, 0, sizeof(*q));
}

int timing_queue_plan_batch(timing_queue *q, lm_plan *p) {
    char keys[LM_POLICY_MAX_TEAMS][LM_KEY_MAX];
    const char *argv[LM_POLICY_MAX_TEAMS];
    char last[LM_FMT_I64_MAX];
    lm_fmt_i64(last, LM_TIMING_QUEUE_HEADS - 1);
    for (size_t t = 0; t < q->n_teams; t++) {
        lm_lead_team_queue_key(lm_policy_team_at(q->policy, t)->name, keys[t]);
        argv[t] = keys[t];
    }
    if (lm_plan_watch(p, q->n_teams, argv) != 0)
        return -1;
    for (size_t t = 0; t < q->n_teams; t++) {
        const lm_team *team = lm_policy_team_at(q->policy, t);
        char open[LM_KEY_MAX];
        if (lm_plan_cmd_strs(p, "ZRANGE", keys[t], "0", last, NULL) != 0)
            return -1;
        for (size_t o = 0; o < team->n_owners; o++) {
            char state[LM_KEY_MAX];
            lm_lead_team_open_key(team->name, team->owners[o].name, open);
            lm_sla_state_key(team->owners[o].name, state);
            if (lm_plan_cmd_strs(p, "SCARD", open, NULL) != 0 ||
                lm_plan_cmd_strs(p, "HMGET", state, LM_SLA_STATE_STATUS,
                                 LM_SLA_STATE_UNTIL, NULL) != 0)
                return -1;
        }
    }
    return 0;
}

void timing_queue_begin_batch(timing_queue *q, const lm_reads *reads) {
    size_t at = q->n_teams ? 1 : 0; /* reply 0: the WATCH */
    heads_clear(q);
    for (size_t t = 0; t < q->n_teams; t++, at++) {
        const lm_team *team = lm_policy_team_at(q->policy, t);
        size_t n = lm_read_elems(reads, at);
        for (size_t i = 0; i < n && q->n_heads[t] < LM_TIMING_QUEUE_HEADS;
             i++) {
            size_t len = 0;
            const char *s = lm_read_elem_str(reads, at, i, &len);
            timing_queue_head *h = &q->heads[t][q->n_heads[t]];
            if (!s || !(h->data = malloc(len ? len : 1)))
                continue;
            memcpy(h->data, s, len);
            h->len = len;
            h->taken = 0;
            q->n_heads[t]++;
        }
        for (size_t o = 0; o < team->n_owners; o++) {
            long long v;
            at++;
            /* unreadable: no slot is given on it this batch */
            q->loads[t][o] =
                lm_read_integer(reads, at, &v) == 0 ? v : INT64_MAX / 4;
            at++; /* the state: status, until */
            const char *st = lm_read_elem_str(reads, at, 0, NULL);
            const char *until = lm_read_elem_str(reads, at, 1, NULL);
            int64_t u = 0;
            if (until && lm_parse_int64(until, 0, INT64_MAX, &u) != 0)
                u = 0;
            q->away_until[t][o] = st && strcmp(st, "AWAY") == 0 ? u : -1;
        }
    }
}

/* Team and owner index of a lead's owner; -1 when not configured. */
static int owner_at(const timing_queue *q, const char *team, const char *owner,
                    size_t *ti, size_t *oi) {
    const lm_team *t = lm_policy_team(q->policy, team);
    if (!t)
        return -1;
    *ti = lm_policy_team_index(q->policy, t);
    for (size_t o = 0; o < t->n_owners; o++)
        if (strcmp(t->owners[o].name, owner) == 0) {
            *oi = o;
            return 0;
        }
    return -1;
}

/* Gives owner oi of team ti the waiting lead h of team qi's queue: its
 * writes and its decision. 0 / -1. */
static int assign_head(timing_queue *q, const lm_msg *m, size_t ti, size_t oi,
                       size_t qi, timing_queue_head *h, lm_out *out) {
    const lm_team *t = lm_policy_team_at(q->policy, ti);
    const char *qteam = lm_policy_team_at(q->policy, qi)->name;
    const char *owner = t->owners[oi].name;
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    Lastmile__V1__QualificationDecision *d =
        lastmile__v1__qualification_decision__unpack(NULL, h->len, h->data);
    char key[LM_KEY_MAX], open[LM_KEY_MAX], queue[LM_KEY_MAX], next[160];
    int rc = -1;
    h->taken = 1;
    if (!d || !d->lead_id || lm_lead_tag(d->lead_id, key) != 0 ||
        !d->decision_id || !d->lead) {
        /* not one qualification wrote: drop it from the queue */
        lm_lead_team_queue_key(qteam, queue);
        const char *zrem[] = {"ZREM", queue, (const char *)h->data};
        size_t zl[3] = {4, strlen(queue), h->len};
        lm_out_index(out, 3, zrem, zl);
        lm_out_count(out, "lastmile_unassigned_dropped_total", NULL, 1);
        if (d)
            lastmile__v1__qualification_decision__free_unpacked(d, NULL);
        return 0;
    }
    lm_lead_key(d->lead_id, key);
    lm_lead_team_open_key(t->name, owner, open);
    lm_lead_team_queue_key(qteam, queue);
    const char *sadd[] = {"SADD", open, d->lead_id};
    const char *zrem[] = {"ZREM", queue, (const char *)h->data};
    size_t zl[3] = {4, strlen(queue), h->len};
    const char *hset[] = {"HSET",     key,     LM_F_OWNER, owner,
                          LM_F_TEAM,  t->name, LM_F_STAGE, "followup",
                          LM_F_HOLDS, "1"};
    const char *hdel[] = {"HDEL", key, LM_F_PENDING};
    lm_out_index(out, 3, sadd, NULL);
    lm_out_index(out, 3, zrem, zl);
    lm_out_index(out, 10, hset, NULL);
    lm_out_index(out, 3, hdel, NULL);
    /* its account's open leads: a colleague's reply pauses it */
    if (timing_queue_acct_join(q->policy, m, d, owner, t->name, out) != 0) {
        lastmile__v1__qualification_decision__free_unpacked(d, NULL);
        return -1;
    }
    q->loads[ti][oi]++;
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
    rc = lm_out_emit(out, LM_TOPIC_FOLLOWUP, d->lead_id, d->decision_id,
                     &ev.base);
    /* the strings set above are not the message's: its own go back */
    d->owner = own_owner;
    d->team = own_team;
    d->next_step = own_next;
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    return rc;
}

/* Removes from KEYS[1] the members scored ARGV[1]..ARGV[2] that start
 * with ARGV[3]: a waiting lead's member, found by its score and its
 * packed decision id (one key: one slot on a cluster). */
static const char leave_lua[] =
    "for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], "
    "ARGV[2])) do if string.sub(m, 1, #ARGV[3]) == ARGV[3] then "
    "redis.call('ZREM', KEYS[1], m) end end return 0";

/* The first bytes of a waiting lead's member: its pending decision's
 * decision_id packed alone (field 1 comes first in the member). Into
 * buf (bufsz); its length, or 0 when it does not fit. */
static size_t member_prefix(const char *lead_id, uint8_t *buf, size_t bufsz) {
    char id[LM_ID_MAX];
    lm_fmt_cat(id, sizeof(id), lead_id, ":decision:assigned", NULL);
    Lastmile__V1__QualificationDecision d =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    d.decision_id = id;
    size_t n = lastmile__v1__qualification_decision__get_packed_size(&d);
    if (n > bufsz)
        return 0;
    return lastmile__v1__qualification_decision__pack(&d, buf);
}

/* A lead closed while it waited (no pending_decision on its hash) leaves
 * its team's queue, and this batch's heads. */
static void leave_queue(timing_queue *q, const timing_queue_lead *l,
                        lm_out *out) {
    uint8_t pre[LM_ID_MAX + 8];
    size_t pl = member_prefix(l->lead_id, pre, sizeof(pre));
    int64_t at = 0;
    char k[LM_KEY_MAX], score[LM_FMT_I64_MAX];
    int scored =
        l->decided_at && lm_parse_int64(l->decided_at, 0, INT64_MAX, &at) == 0;
    if (!pl)
        return;
    lm_fmt_i64(score, at);
    lm_lead_team_queue_key(l->team, k);
    const char *ev[] = {"EVAL",
                        leave_lua,
                        "1",
                        k,
                        scored ? score : "-inf",
                        scored ? score : "+inf",
                        (const char *)pre};
    size_t el[7] = {4, strlen(leave_lua), 1, strlen(k), 0, 0, pl};
    el[4] = strlen(ev[4]);
    el[5] = strlen(ev[5]);
    lm_out_index(out, 7, ev, el);
    const lm_team *t = lm_policy_team(q->policy, l->team);
    size_t ti = lm_policy_team_index(q->policy, t);
    for (size_t i = 0; t && ti < q->n_teams && i < q->n_heads[ti]; i++)
        if (q->heads[ti][i].len > pl &&
            memcmp(q->heads[ti][i].data, pre, pl) == 0)
            q->heads[ti][i].taken = 1;
}

int timing_queue_release(timing_queue *q, const lm_msg *m,
                         const timing_queue_lead *l, lm_out *out) {
    size_t ti = 0, oi = 0;
    char k[LM_KEY_MAX];
    if (l->account && *l->account) {
        lm_lead_account_key(l->account, k);
        const char *dec[] = {"HINCRBY", k, "open", "-1"};
        lm_out_index(out, 4, dec, NULL);
    }
    if (l->pending && l->pending_len && l->team && *l->team) {
        /* closed while it waited, queued before issue 16: its member is
           on its hash */
        lm_lead_team_queue_key(l->team, k);
        const char *zrem[] = {"ZREM", k, l->pending};
        size_t zl[3] = {4, strlen(k), l->pending_len};
        lm_out_index(out, 3, zrem, zl);
        const lm_team *t = lm_policy_team(q->policy, l->team);
        size_t at = lm_policy_team_index(q->policy, t);
        for (size_t i = 0; t && at < q->n_teams && i < q->n_heads[at]; i++)
            if (q->heads[at][i].len == l->pending_len &&
                memcmp(q->heads[at][i].data, l->pending, l->pending_len) == 0)
                q->heads[at][i].taken = 1;
        return 0;
    }
    if (l->stage && strcmp(l->stage, LM_STAGE_UNASSIGNED) == 0 && l->team &&
        *l->team) {
        /* closed while it waited: it leaves the queue */
        leave_queue(q, l, out);
        return 0;
    }
    if (!l->team || !*l->team || !l->owner || !*l->owner)
        return 0;
    int held = l->holds
                   ? strcmp(l->holds, "1") == 0
                   : (l->decision && strcmp(l->decision, "QUALIFIED") == 0);
    if (!held || owner_at(q, l->team, l->owner, &ti, &oi) != 0)
        return 0;
    q->loads[ti][oi]--;
    const lm_team *t = lm_policy_team_at(q->policy, ti);
    int64_t until = q->away_until[ti][oi];
    if (q->loads[ti][oi] >= t->owners[oi].capacity ||
        lm_route_owner_away(&t->owners[oi], until >= 0 ? "AWAY" : NULL,
                            until > 0 ? until : 0, m->now_ms))
        return 0;
    /* the team's own waiting leads first, then those of the teams that
       overflow into it (they waited because it was full too) */
    for (size_t i = 0; i < q->n_heads[ti]; i++)
        if (!q->heads[ti][i].taken)
            return assign_head(q, m, ti, oi, ti, &q->heads[ti][i], out);
    for (size_t x = 0; x < q->n_teams; x++) {
        if (x == ti || lm_policy_team_at(q->policy, x)->overflow != t)
            continue;
        for (size_t i = 0; i < q->n_heads[x]; i++)
            if (!q->heads[x][i].taken)
                return assign_head(q, m, ti, oi, x, &q->heads[x][i], out);
    }
    return 0;
}
