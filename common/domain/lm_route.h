/* lm_route.h — who gets a lead: the routing choice, pure (no I/O).
 *
 * Given the team the routing rules chose (lm_policy_route), the owners'
 * loads (open leads holding a slot), the routing options and an optional
 * account owner, lm_route_choose says which owner of which team takes the
 * lead, or that it waits unassigned. The rules (docs/ROUTING.md):
 *   - capacity is a hard limit: an owner is chosen only while load <
 *     capacity; a lead that takes no slot (NURTURE unless
 *     routing_options.nurture_takes_capacity) ignores loads;
 *   - an account's lead (same company domain as an open lead) goes to that
 *     lead's owner when the owner is available and has room;
 *   - otherwise weighted round robin inside the team: the counter rr picks
 *     a starting owner in proportion to weights, then the first available
 *     owner with room from there;
 *   - a full team passes the lead to its overflow team (and that one's
 *     overflow, each team at most once); when every team in the chain is
 *     full the lead is unassigned in the team the rules chose.
 * "Available" is the caller's predicate (an owner away or out of office is
 * not); NULL means every owner is.
 *
 * Also the free-mail table: a lead's email domain names a company account
 * only when it is not a free-mail provider's.
 *
 * Ownership: nothing is allocated; team pointers are the policy's. Pure
 * and thread-safe (the caller owns the loads and counters). */
#ifndef LM_ROUTE_H
#define LM_ROUTE_H

#include "lm_policy.h"

#include <stddef.h>
#include <stdint.h>

/* 1 when owner i of team t may take leads now. */
typedef int (*lm_route_avail_fn)(void *arg, const lm_team *t, size_t owner);

/* The owner of team t for the next lead: starting where the weighted
 * counter rr points, the first available owner whose load (loads[i], one
 * per owner) is below capacity; with ignore_capacity, the first available
 * one (and the one rr points at when none is). -1 when none qualifies. */
int64_t lm_route_pick(const lm_team *t, const int64_t *loads, uint64_t rr,
                      int ignore_capacity, lm_route_avail_fn avail, void *arg);

typedef enum lm_route_why {
    LM_ROUTE_ROUND_ROBIN = 0, /* an owner of the rules' team */
    LM_ROUTE_ACCOUNT,         /* the owner of the account's open lead */
    LM_ROUTE_OVERFLOW,        /* an owner of an overflow team */
    LM_ROUTE_UNASSIGNED,      /* every team of the chain is full */
} lm_route_why;

typedef struct lm_route_in {
    const lm_policy *policy;
    const lm_team *team; /* the rules' team (lm_policy_route) */
    int nurture;         /* a NURTURE lead */
    /* the account's owner (its team and index), or acct_team NULL */
    const lm_team *acct_team;
    size_t acct_owner;
    /* loads[lm_policy_team_index(t)][owner]: open leads holding a slot */
    const int64_t *const *loads;
    /* rr[lm_policy_team_index(t)]: the team's round-robin counter; the
       chosen team's is advanced */
    uint64_t *rr;
    lm_route_avail_fn avail; /* NULL: everyone is available */
    void *avail_arg;
} lm_route_in;

typedef struct lm_route_choice {
    const lm_team *team; /* who owns it; the rules' team when unassigned */
    size_t owner;        /* index into team->owners; 0 when unassigned */
    int takes_slot;      /* 1: the lead counts against the owner's capacity */
    lm_route_why why;
} lm_route_choice;

/* The choice for one lead (rules above). The caller adds the lead to
 * loads when takes_slot. */
void lm_route_choose(const lm_route_in *in, lm_route_choice *out);

/* 1 when owner o is away at now_ms: inside one of its configured
 * out_of_office windows (o->work), or AWAY by its run-time state
 * (OwnerStatus, lm:{owner:<hash>}:state: `status` "AWAY" with `until_ms`
 * 0 = until BACK, or after now). status NULL (no state, or BACK) and no
 * window: available. The one availability rule of routing, freed slots
 * and reassignments. */
int lm_route_owner_away(const lm_owner *o, const char *status, int64_t until_ms,
                        int64_t now_ms);

/* "round_robin", "account", "overflow", "unassigned". */
const char *lm_route_why_name(lm_route_why why);

/* 1 when domain (an email's domain, lower case) belongs to a company: not
 * empty, has a dot, and is not a free-mail provider's (gmail.com,
 * outlook.com, yahoo.*, ...). */
int lm_route_company_domain(const char *domain);

#endif
