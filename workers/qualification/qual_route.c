/* qual_route.c — qualification's owner assignment (qual_route.h).
 *
 * Reads: round trip 1 holds WATCH of every owner's open set and an SCARD
 * of each (plan_batch), and per lead its account (plan). Writes, in the
 * batch's transaction: the lead hash's routing fields; SADD to the
 * owner's open set when the lead takes a slot; the account record; or,
 * for a lead no owner has room for, the team's unassigned queue. A
 * redelivered lead is recovered from its outbox (the fences), never
 * routed again, so it never takes a second slot. */
#include "qual_route.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qual_route_init(qual_route *r, const lm_policy *p, char *err,
                    size_t errsz) {
    size_t n = lm_policy_team_count(p);
    memset(r, 0, sizeof(*r));
    r->policy = p;
    r->loads = calloc(n ? n : 1, sizeof(*r->loads));
    r->rr = calloc(n ? n : 1, sizeof(*r->rr));
    if (!r->loads || !r->rr)
        goto oom;
    for (r->n_teams = 0; r->n_teams < n; r->n_teams++) {
        const lm_team *t = lm_policy_team_at(p, r->n_teams);
        r->loads[r->n_teams] = calloc(t->n_owners, sizeof(int64_t));
        if (!r->loads[r->n_teams])
            goto oom;
    }
    return 0;
oom:
    snprintf(err, errsz, "out of memory for %zu teams", n);
    qual_route_free(r);
    return -1;
}

void qual_route_free(qual_route *r) {
    for (size_t i = 0; r->loads && i < r->n_teams; i++)
        free(r->loads[i]);
    free(r->loads);
    free(r->rr);
    memset(r, 0, sizeof(*r));
}

/* Every owner's open-set key, in config order, into keys (n_max). */
static size_t open_keys(const qual_route *r, char (*keys)[LM_KEY_MAX],
                        size_t n_max) {
    size_t n = 0;
    for (size_t i = 0; i < r->n_teams; i++) {
        const lm_team *t = lm_policy_team_at(r->policy, i);
        for (size_t o = 0; o < t->n_owners && n < n_max; o++, n++)
            lm_lead_team_open_key(t->name, t->owners[o].name, keys[n]);
    }
    return n;
}

int qual_route_plan_batch(qual_route *r, lm_plan *p) {
    size_t total = 0;
    for (size_t i = 0; i < r->n_teams; i++)
        total += lm_policy_team_at(r->policy, i)->n_owners;
    char(*keys)[LM_KEY_MAX] = calloc(total ? total : 1, sizeof(*keys));
    const char **argv = calloc(total ? total : 1, sizeof(*argv));
    int rc = -1;
    if (!keys || !argv)
        goto out;
    size_t n = open_keys(r, keys, total);
    for (size_t i = 0; i < n; i++)
        argv[i] = keys[i];
    if (lm_plan_watch(p, n, argv) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (lm_plan_cmd_strs(p, "SCARD", keys[i], NULL) != 0)
            goto out;
    rc = 0;
out:
    free(keys);
    free(argv);
    return rc;
}

void qual_route_begin_batch(qual_route *r, const lm_reads *reads) {
    size_t at = 1, bad = 0; /* reply 0: the WATCH */
    for (size_t i = 0; i < r->n_teams; i++) {
        const lm_team *t = lm_policy_team_at(r->policy, i);
        for (size_t o = 0; o < t->n_owners; o++, at++) {
            long long load;
            if (lm_read_integer(reads, at, &load) == 0) {
                r->loads[i][o] = load;
            } else {
                r->loads[i][o] = LM_QUAL_LOAD_UNREADABLE;
                bad++;
            }
        }
    }
    if (bad)
        lm_log(LM_LOG_WARN, "team_state_unreadable",
               "%zu owner load(s) could not be read (SCARD of the "
               "lm:{team:*}:open:* keys: delete or fix the key); those owners "
               "get no lead in this batch",
               bad);
}

/* The lead's company domain when accounts route by it, else NULL. */
static const char *account_of(const qual_route *r,
                              const Lastmile__V1__LeadAccepted *l) {
    if (!lm_policy_routing_options(r->policy)->accounts_same_owner ||
        !l->email_domain || strlen(l->email_domain) >= 128 ||
        !lm_route_company_domain(l->email_domain))
        return NULL;
    return l->email_domain;
}

int qual_route_plan(qual_route *r, const Lastmile__V1__LeadAccepted *l,
                    lm_plan *p) {
    const char *dom = account_of(r, l);
    char key[LM_KEY_MAX];
    if (!dom)
        return 0;
    lm_lead_account_key(dom, key);
    return lm_plan_cmd_strs(p, "HMGET", key, "owner", "team", "open", NULL);
}

/* The account's owner from the plan's reply: team and index, when it has
 * an open lead and both still exist in the config. */
static const lm_team *account_owner(const qual_route *r, const lm_msg *m,
                                    size_t *owner) {
    const char *o = lm_read_elem_str(&m->reads, 0, 0, NULL);
    const char *tn = lm_read_elem_str(&m->reads, 0, 1, NULL);
    const char *open = lm_read_elem_str(&m->reads, 0, 2, NULL);
    int64_t n = 0;
    if (!o || !tn || !open || lm_parse_int64(open, 0, INT64_MAX, &n) != 0 ||
        n <= 0)
        return NULL;
    const lm_team *t = lm_policy_team(r->policy, tn);
    for (size_t i = 0; t && i < t->n_owners; i++)
        if (strcmp(t->owners[i].name, o) == 0) {
            *owner = i;
            return t;
        }
    return NULL;
}

int qual_route_assign(qual_route *r, const lm_msg *m,
                      const Lastmile__V1__LeadAccepted *l, const lm_team *t,
                      int nurture, lm_out *out, qual_routed *res) {
    const char *dom = account_of(r, l);
    lm_route_in in = {0};
    lm_route_choice ch;
    char key[LM_KEY_MAX], k2[LM_KEY_MAX];
    memset(res, 0, sizeof(*res));
    in.policy = r->policy;
    in.team = t;
    in.nurture = nurture;
    in.loads = (const int64_t *const *)r->loads;
    in.rr = r->rr;
    if (dom)
        in.acct_team = account_owner(r, m, &in.acct_owner);
    lm_route_choose(&in, &ch);
    res->team = ch.team;
    res->why = ch.why;
    res->takes_slot = ch.takes_slot;
    lm_lead_key(l->lead_id, key);
    if (ch.why == LM_ROUTE_UNASSIGNED) {
        res->unassigned = 1;
        res->owner = "";
        return 0;
    }
    res->owner = ch.team->owners[ch.owner].name;
    if (ch.takes_slot) {
        size_t ti = lm_policy_team_index(r->policy, ch.team);
        r->loads[ti][ch.owner]++;
        lm_lead_team_open_key(ch.team->name, res->owner, k2);
        const char *sadd[] = {"SADD", k2, l->lead_id};
        lm_out_index(out, 3, sadd, NULL);
    }
    lm_out_write_strs(out, "HSET", key, LM_F_OWNER, res->owner, LM_F_TEAM,
                      ch.team->name, LM_F_STAGE, "followup", LM_F_HOLDS,
                      ch.takes_slot ? "1" : "0", NULL);
    if (dom) {
        snprintf(res->account, sizeof(res->account), "%s", dom);
        lm_lead_account_key(dom, k2);
        const char *hset[] = {"HSET",     k2,     "owner",
                              res->owner, "team", ch.team->name};
        const char *incr[] = {"HINCRBY", k2, "open", "1"};
        lm_out_index(out, 6, hset, NULL);
        lm_out_index(out, 4, incr, NULL);
        lm_out_write_strs(out, "HSET", key, LM_F_ACCOUNT, dom, NULL);
    }
    return lm_out_failed(out) ? -1 : 0;
}

int qual_route_enqueue(const lm_msg *m, const char *lead_id, const lm_team *t,
                       const Lastmile__V1__QualificationDecision *pending,
                       lm_out *out) {
    char key[LM_KEY_MAX], q[LM_KEY_MAX], now[LM_FMT_I64_MAX];
    size_t len = 0;
    uint8_t *buf = lm_pb_pack(&pending->base, &len);
    if (!buf)
        return -1;
    lm_lead_key(lead_id, key);
    lm_lead_team_queue_key(t->name, q);
    lm_fmt_i64(now, m->now_ms);
    const char *hset[] = {"HSET",     key,     LM_F_OWNER,   "",
                          LM_F_TEAM,  t->name, LM_F_STAGE,   "unassigned",
                          LM_F_HOLDS, "0",     LM_F_PENDING, (char *)buf};
    size_t hl[12];
    for (int i = 0; i < 11; i++)
        hl[i] = strlen(hset[i]);
    hl[11] = len;
    lm_out_write(out, 12, hset, hl);
    const char *zadd[] = {"ZADD", q, now, (char *)buf};
    size_t zl[4] = {4, strlen(q), strlen(now), len};
    lm_out_index(out, 4, zadd, zl);
    free(buf);
    lm_out_count(out, "lastmile_unassigned_total", NULL, 1);
    return lm_out_failed(out) ? -1 : 0;
}
