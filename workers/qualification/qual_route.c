/* qual_route.c — qualification's owner assignment (qual_route.h).
 *
 * Reads: round trip 1 holds WATCH of every owner's open set and state
 * key, an SCARD of each open set and an HMGET of each state (plan_batch),
 * and per lead its account's owner and open count (plan: two lm_plan_get,
 * read in the batch's MGET) and, with accounts.pause_on_reply, the
 * account's live deals (a lead assigned while one is live is paused). Writes,
 * in the batch's transaction: the lead hash's routing fields; SADD to the
 * owner's open set when the lead takes a slot; the account record; or,
 * for a lead no owner has room for, the team's unassigned queue. The
 * account's owner and team are written only when they change (one HSET
 * less per lead of a known account; issue 16, reduction 6). A
 * redelivered lead is recovered from its outbox (the fences), never
 * routed again, so it never takes a second slot. */
#include "qual_route.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_log.h"
#include "lm_sla.h"
#include "lm_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qual_route_init(qual_route *r, const lm_policy *p, char *err,
                    size_t errsz) {
    size_t n = lm_policy_team_count(p);
    memset(r, 0, sizeof(*r));
    r->policy = p;
    r->loads = calloc(n ? n : 1, sizeof(*r->loads));
    r->away_until = calloc(n ? n : 1, sizeof(*r->away_until));
    r->rr = calloc(n ? n : 1, sizeof(*r->rr));
    r->accounts = lm_strmap_new(64);
    if (!r->loads || !r->away_until || !r->rr || !r->accounts)
        goto oom;
    for (r->n_teams = 0; r->n_teams < n; r->n_teams++) {
        const lm_team *t = lm_policy_team_at(p, r->n_teams);
        r->loads[r->n_teams] = calloc(t->n_owners, sizeof(int64_t));
        r->away_until[r->n_teams] = calloc(t->n_owners, sizeof(int64_t));
        if (!r->loads[r->n_teams] || !r->away_until[r->n_teams]) {
            r->n_teams++; /* freed below */
            goto oom;
        }
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
    for (size_t i = 0; r->away_until && i < r->n_teams; i++)
        free(r->away_until[i]);
    free(r->loads);
    free(r->away_until);
    free(r->rr);
    lm_strmap_free(r->accounts);
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
    /* the open sets, then the state keys, in one WATCH */
    char(*keys)[LM_KEY_MAX] = calloc(total ? 2 * total : 1, sizeof(*keys));
    const char **argv = calloc(total ? 2 * total : 1, sizeof(*argv));
    int rc = -1;
    if (!keys || !argv)
        goto out;
    size_t n = open_keys(r, keys, total), k = n;
    for (size_t i = 0; i < r->n_teams; i++) {
        const lm_team *t = lm_policy_team_at(r->policy, i);
        for (size_t o = 0; o < t->n_owners && k < 2 * total; o++, k++)
            lm_sla_state_key(t->owners[o].name, keys[k]);
    }
    for (size_t i = 0; i < k; i++)
        argv[i] = keys[i];
    if (lm_plan_watch(p, k, argv) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (lm_plan_cmd_strs(p, "SCARD", keys[i], NULL) != 0 ||
            lm_plan_cmd_strs(p, "HMGET", keys[n + i], LM_SLA_STATE_STATUS,
                             LM_SLA_STATE_UNTIL, NULL) != 0)
            goto out;
    rc = 0;
out:
    free(keys);
    free(argv);
    return rc;
}

/* The state reply at `at`: until of an AWAY (0 = until BACK), else -1. */
static int64_t away_until(const lm_reads *reads, size_t at) {
    const char *st = lm_read_elem_str(reads, at, 0, NULL);
    const char *until = lm_read_elem_str(reads, at, 1, NULL);
    int64_t v = 0;
    if (!st || strcmp(st, "AWAY") != 0)
        return -1;
    if (until && lm_parse_int64(until, 0, INT64_MAX, &v) != 0)
        v = 0;
    return v;
}

void qual_route_begin_batch(qual_route *r, const lm_reads *reads) {
    size_t at = 1, bad = 0; /* reply 0: the WATCH */
    lm_strmap_clear(r->accounts);
    for (size_t i = 0; i < r->n_teams; i++) {
        const lm_team *t = lm_policy_team_at(r->policy, i);
        for (size_t o = 0; o < t->n_owners; o++, at += 2) {
            long long load;
            if (lm_read_integer(reads, at, &load) == 0) {
                r->loads[i][o] = load;
            } else {
                r->loads[i][o] = LM_QUAL_LOAD_UNREADABLE;
                bad++;
            }
            r->away_until[i][o] = away_until(reads, at + 1);
        }
    }
    if (bad)
        lm_log(LM_LOG_WARN, "team_state_unreadable",
               "%zu owner load(s) could not be read (SCARD of the "
               "lm:{team:*}:open:* keys: delete or fix the key); those owners "
               "get no lead in this batch",
               bad);
}

/* The availability predicate of lm_route_choose: not away at the lead's
 * time (run-time state or out_of_office, lm_route_owner_away). */
typedef struct qual_avail {
    const qual_route *r;
    int64_t now_ms;
} qual_avail;

static int available(void *arg, const lm_team *t, size_t owner) {
    const qual_avail *a = arg;
    size_t ti = lm_policy_team_index(a->r->policy, t);
    if (ti == (size_t)-1 || owner >= t->n_owners)
        return 0;
    int64_t until = a->r->away_until[ti][owner];
    return !lm_route_owner_away(&t->owners[owner], until >= 0 ? "AWAY" : NULL,
                                until > 0 ? until : 0, a->now_ms);
}

/* The lead's company domain when accounts route or pause by it, else
 * NULL. */
static const char *account_of(const qual_route *r,
                              const Lastmile__V1__LeadAccepted *l) {
    const lm_routing_options *o = lm_policy_routing_options(r->policy);
    if (!(o->accounts_same_owner || o->accounts_pause_on_reply) ||
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
    /* replies 0 and 1: the account's owner and open count, strings read
       in the batch's MGET (lm_plan_get): no command per lead */
    lm_lead_account_owner_key(dom, key);
    if (lm_plan_get(p, key) != 0)
        return -1;
    lm_lead_account_count_key(dom, key);
    if (lm_plan_get(p, key) != 0)
        return -1;
    if (!lm_policy_routing_options(r->policy)->accounts_pause_on_reply)
        return 0;
    /* reply 2: the account's live deals (a colleague's reply pauses it) */
    lm_lead_account_deals_key(dom, key);
    return lm_plan_cmd_strs(p, "SCARD", key, NULL);
}

/* The account's owner from the plan's replies: team and index, when it
 * has an open lead and both still exist in the config. */
static const lm_team *account_owner(const qual_route *r, const lm_msg *m,
                                    size_t *owner) {
    size_t vlen = 0;
    const char *v = lm_read_str(&m->reads, 0, &vlen);
    const char *open = lm_read_str(&m->reads, 1, NULL);
    char tn[LM_KEY_MAX], o[LM_KEY_MAX];
    int64_t n = 0;
    if (!v || !open || lm_parse_int64(open, 0, INT64_MAX, &n) != 0 || n <= 0 ||
        lm_lead_account_owner_parse(v, vlen, tn, o) != 0)
        return NULL;
    const lm_team *t = lm_policy_team(r->policy, tn);
    for (size_t i = 0; t && i < t->n_owners; i++)
        if (strcmp(t->owners[i].name, o) == 0) {
            *owner = i;
            return t;
        }
    return NULL;
}

/* The account's owner key (lm:{acct:<dom>}:owner, "<team>:<owner>"):
 * written only when it is not what the plan read, or when a lead of this
 * batch wrote it already (then the last lead's choice must win, as when
 * every lead wrote it). The same record as writing it for every lead, one
 * command less for most. 0 / -1 (out of memory, or names too long). */
static int account_write(qual_route *r, const lm_msg *m, const char *dom,
                         const char *owner, const char *team, lm_out *out) {
    char val[2 * LM_KEY_MAX], key[LM_KEY_MAX];
    size_t rlen = 0;
    const char *read = lm_read_str(&m->reads, 0, &rlen);
    int n = lm_lead_account_owner_value(team, owner, val, sizeof(val));
    if (n < 0)
        return -1;
    if (!lm_strmap_get_str(r->accounts, dom) && read && rlen == (size_t)n &&
        memcmp(read, val, rlen) == 0)
        return 0;
    if (!lm_strmap_put_str(r->accounts, dom, 1, NULL))
        return -1;
    lm_lead_account_owner_key(dom, key);
    const char *set[] = {"SET", key, val};
    lm_out_index(out, 3, set, NULL);
    return 0;
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
    qual_avail av = {r, m->now_ms};
    in.avail = available;
    in.avail_arg = &av;
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
        lm_fmt_cat(res->account, sizeof(res->account), dom, NULL);
        if (account_write(r, m, dom, res->owner, ch.team->name, out) != 0)
            return -1;
        lm_lead_account_count_key(dom, k2);
        const char *incr[] = {"INCR", k2};
        lm_out_index(out, 2, incr, NULL);
        /* the account's open leads (accounts.pause_on_reply finds the
           others there: workers/timing/timing_account.c) */
        lm_lead_account_open_key(dom, k2);
        const char *sadd[] = {"SADD", k2, l->lead_id};
        lm_out_index(out, 3, sadd, NULL);
        if (lm_policy_routing_options(r->policy)->accounts_pause_on_reply &&
            lm_read_int(&m->reads, 2, 0) > 0) {
            /* a colleague's deal is live: the first touch goes out, the
               next steps wait for the deal's end (timing_account.c) */
            lm_out_write_strs(out, "HSET", key, LM_F_PAUSED, LM_PAUSED_ACCOUNT,
                              NULL);
            lm_out_count(out, "lastmile_account_paused_total", NULL, 1);
        }
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
    /* the decision is kept once, as the queue's member (its score is the
       hash's decided_at: timing finds a closed waiting lead's member by
       both, timing_queue.c) */
    lm_out_write_strs(out, "HSET", key, LM_F_OWNER, "", LM_F_TEAM, t->name,
                      LM_F_STAGE, LM_STAGE_UNASSIGNED, LM_F_HOLDS, "0", NULL);
    const char *zadd[] = {"ZADD", q, now, (char *)buf};
    size_t zl[4] = {4, strlen(q), strlen(now), len};
    lm_out_index(out, 4, zadd, zl);
    free(buf);
    lm_out_count(out, "lastmile_unassigned_total", NULL, 1);
    return lm_out_failed(out) ? -1 : 0;
}
