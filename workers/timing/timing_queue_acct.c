/* timing_queue_acct.c — a waiting lead that takes a freed slot joins its
 * company account (timing_queue_acct.h). Writes only through the
 * message's lm_out; no state. */
#include "timing_queue_acct.h"
#include "timing_account.h"

#include "lm_lead.h"
#include "lm_route.h"

#include <string.h>

#define ACCT_DOMAIN_MAX 128 /* as qualification's account_of */

/* KEYS[1] the account's open set, KEYS[2] its open count, KEYS[3] its
 * owner key; ARGV[1] the lead, ARGV[2] the owner key's value
 * ("<team>:<owner>"). The count rises only with a new member, so a
 * repeated join changes nothing. */
static const char join_lua[] =
    "if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then "
    "redis.call('INCR', KEYS[2]) end "
    "redis.call('SET', KEYS[3], ARGV[2]) "
    "return 0";

int timing_queue_acct_join(const lm_policy *p, const lm_msg *m,
                           const Lastmile__V1__QualificationDecision *d,
                           const char *owner, const char *team, lm_out *out) {
    const lm_routing_options *o = lm_policy_routing_options(p);
    const char *dom = d->lead ? d->lead->email_domain : NULL;
    if (!(o->accounts_same_owner || o->accounts_pause_on_reply) || !dom ||
        !*dom || strlen(dom) >= ACCT_DOMAIN_MAX ||
        !lm_route_company_domain(dom))
        return 0;
    char set[LM_KEY_MAX], count[LM_KEY_MAX], okey[LM_KEY_MAX];
    char key[LM_KEY_MAX], val[2 * LM_KEY_MAX];
    if (lm_lead_account_owner_value(team, owner, val, sizeof(val)) < 0)
        return -1;
    lm_lead_account_open_key(dom, set);
    lm_lead_account_count_key(dom, count);
    lm_lead_account_owner_key(dom, okey);
    lm_lead_key(d->lead_id, key);
    const char *ev[] = {"EVAL", join_lua, "3",        set,
                        count,  okey,     d->lead_id, val};
    lm_out_index(out, 8, ev, NULL);
    /* another lead's hash than the closing one's: an index command */
    const char *hset[] = {"HSET", key, LM_F_ACCOUNT, dom};
    lm_out_index(out, 4, hset, NULL);
    /* a colleague's deal already live holds it too */
    if (timing_account_on_join(p, m, out, d->lead_id, dom) != 0)
        return -1;
    return lm_out_failed(out) ? -1 : 0;
}
