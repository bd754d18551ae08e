/* lm_sla.c — owner deadlines: payload codec, owner state keys, working time
 * (lm_sla.h). Pure; no heap. */
#include "lm_sla.h"

#include "lm_fmt.h"
#include "lm_hash.h"

#include <stdio.h>
#include <string.h>

#define LM_SLA_SEED_OWNER 0x6f776e6572ULL /* "owner" */

int lm_sla_payload(int level, int step, const char *action_id,
                   const char *owner, char *out, size_t outsz) {
    char lv[LM_FMT_I64_MAX], st[LM_FMT_I64_MAX];
    if (level < 0 || level > LM_SLA_LEVEL_MAX || step < -1 ||
        step > LM_LEAD_STEP_MAX || !action_id || !*action_id ||
        strchr(action_id, '|') || !owner)
        return -1;
    lm_fmt_i64(lv, level);
    lm_fmt_i64(st, step);
    size_t n =
        lm_fmt_cat(out, outsz, lv, "|", st, "|", action_id, "|", owner, NULL);
    return n < outsz ? (int)n : -1;
}

/* A decimal in [lo, hi] from s up to the next '|' within end: 0 and *v,
 * *next after the '|', or -1. */
static int sla_num(const char *s, const char *end, int lo, int hi, int *v,
                   const char **next) {
    const char *bar = memchr(s, '|', (size_t)(end - s));
    int neg = 0, x = 0;
    if (!bar || bar == s)
        return -1;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (s == bar || bar - s > 4)
        return -1;
    for (; s < bar; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        x = x * 10 + (*s - '0');
    }
    x = neg ? -x : x;
    if (x < lo || x > hi)
        return -1;
    *v = x;
    *next = bar + 1;
    return 0;
}

int lm_sla_payload_parse(const char *payload, size_t len, int *level, int *step,
                         char *action_id, size_t actionsz, char *owner,
                         size_t ownersz) {
    const char *end = payload + len, *p;
    if (!payload || sla_num(payload, end, 0, LM_SLA_LEVEL_MAX, level, &p) ||
        sla_num(p, end, -1, LM_LEAD_STEP_MAX, step, &p))
        return -1;
    const char *bar = memchr(p, '|', (size_t)(end - p));
    if (!bar || bar == p || (size_t)(bar - p) >= actionsz ||
        (size_t)(end - bar - 1) >= ownersz ||
        memchr(p, '\0', len - (size_t)(p - payload)))
        return -1;
    memcpy(action_id, p, (size_t)(bar - p));
    action_id[bar - p] = '\0';
    memcpy(owner, bar + 1, (size_t)(end - bar - 1));
    owner[end - bar - 1] = '\0';
    return 0;
}

int lm_sla_reassign_id(const char *lead_id, int64_t n, char *out,
                       size_t outsz) {
    int w = snprintf(out, outsz, "%s" LM_SLA_REASSIGN_INFIX "%lld", lead_id,
                     (long long)n);
    return n >= 1 && w > 0 && (size_t)w < outsz ? 0 : -1;
}

int64_t lm_sla_reassign_number(const char *decision_id, const char *lead_id) {
    size_t lead_len = strlen(lead_id), infix = strlen(LM_SLA_REASSIGN_INFIX);
    if (!decision_id || strncmp(decision_id, lead_id, lead_len) != 0 ||
        strncmp(decision_id + lead_len, LM_SLA_REASSIGN_INFIX, infix) != 0)
        return -1;
    const char *s = decision_id + lead_len + infix;
    size_t digits = strlen(s);
    if (digits == 0 || digits > LM_SLA_REASSIGN_DIGITS || s[0] == '0')
        return -1;
    int64_t n = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        n = n * 10 + (*s - '0');
    }
    return n;
}

void lm_sla_stat_field(const char *what, const char *team, const char *owner,
                       char out[LM_SLA_STAT_FIELD_MAX]) {
    lm_fmt_cat(out, LM_SLA_STAT_FIELD_MAX, what, "|", team ? team : "", "|",
               owner ? owner : "", NULL);
}

unsigned lm_sla_stats_bucket(const char *field) {
    unsigned h = 0;
    for (const unsigned char *p = (const unsigned char *)(field ? field : "");
         *p; p++)
        h = (h * 31u + *p) % 65521u;
    return h % LM_SLA_STATS_BUCKETS;
}

void lm_sla_stats_bucket_key(unsigned b, char out[LM_KEY_MAX]) {
    snprintf(out, LM_KEY_MAX, LM_SLA_STATS_KEY_FMT, b % LM_SLA_STATS_BUCKETS);
}

void lm_sla_stats_key(const char *field, char out[LM_KEY_MAX]) {
    lm_sla_stats_bucket_key(lm_sla_stats_bucket(field), out);
}

void lm_sla_owner_tag(const char *owner, char out[LM_SLA_TAG_MAX]) {
    snprintf(out, LM_SLA_TAG_MAX, "owner:%016llx",
             (unsigned long long)lm_hash64_str(owner ? owner : "",
                                               LM_SLA_SEED_OWNER));
}

void lm_sla_state_key(const char *owner, char out[LM_KEY_MAX]) {
    char tag[LM_SLA_TAG_MAX];
    lm_sla_owner_tag(owner, tag);
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{", tag, "}:state", NULL);
}

const lm_worktime *lm_sla_work(const lm_policy *p, const char *team,
                               const char *owner) {
    const lm_owner *o = lm_policy_owner(p, team, owner);
    return o ? o->work : NULL;
}
