/* lm_lead.c — lead ids, keys and the response timer payload (see
 * lm_lead.h). */
#include "lm_lead.h"

#include "lm_fmt.h"
#include "lm_hash.h"

#include <stdio.h>
#include <string.h>

#define LM_SEED_PERSON 0x706572736f6eULL /* "person" */
#define LM_SEED_EVENT  0x6576656e74ULL   /* "event" */
#define LM_SEED_ARM    0x61726dULL       /* "arm" */

void lm_lead_person(const char *email_norm, char out[LM_PERSON_MAX]) {
    lm_fmt_hex(out, lm_hash64_str(email_norm, LM_SEED_PERSON), 16);
}

void lm_lead_id(const char *person, const char *event_id,
                char out[LM_LEAD_ID_MAX]) {
    memcpy(out, person, 16);
    out[16] = '-';
    lm_fmt_hex(out + 17, lm_hash64_str(event_id, LM_SEED_EVENT), 8);
}

int lm_lead_tag(const char *lead_id, char out[LM_PERSON_MAX]) {
    if (!lead_id || strlen(lead_id) != 25 || lead_id[16] != '-')
        return -1;
    for (int i = 0; i < 25; i++) {
        char c = lead_id[i];
        if (i != 16 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
    }
    memcpy(out, lead_id, 16);
    out[16] = '\0';
    return 0;
}

int lm_lead_tag_of(const char *field, const char *lead_id,
                   char out[LM_PERSON_MAX], char *reason, size_t reasonsz) {
    if (lm_lead_tag(lead_id, out) == 0)
        return 0;
    snprintf(reason, reasonsz,
             "%s: \"%.40s\" is not a lead id issued by lastmile", field,
             lead_id ? lead_id : "");
    return -1;
}

void lm_lead_key(const char *lead_id, char out[LM_KEY_MAX]) {
    char tag[17];
    size_t n = strnlen(lead_id, 16);
    memcpy(tag, lead_id, n);
    tag[n] = '\0';
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{", tag, "}:lead:", lead_id, NULL);
}

void lm_lead_person_key(const char *person, char out[LM_KEY_MAX]) {
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{", person, "}:person", NULL);
}

void lm_lead_team_open_key(const char *team, const char *owner,
                           char out[LM_KEY_MAX]) {
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{team:", team, "}:open:", owner, NULL);
}

void lm_lead_team_queue_key(const char *team, char out[LM_KEY_MAX]) {
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{team:", team, "}:unassigned", NULL);
}

void lm_lead_account_old_key(const char *domain, char out[LM_KEY_MAX]) {
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{acct:", domain, "}", NULL);
}

void lm_lead_account_owner_key(const char *domain, char out[LM_KEY_MAX]) {
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{acct:", domain, "}:owner", NULL);
}

void lm_lead_account_count_key(const char *domain, char out[LM_KEY_MAX]) {
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{acct:", domain, "}:open_count", NULL);
}

int lm_lead_account_owner_value(const char *team, const char *owner, char *out,
                                size_t outsz) {
    size_t tn = strlen(team), on = strlen(owner);
    if (!tn || strchr(team, ':') || tn + 1 + on >= outsz)
        return -1;
    memcpy(out, team, tn);
    out[tn] = ':';
    memcpy(out + tn + 1, owner, on + 1);
    return (int)(tn + 1 + on);
}

int lm_lead_account_owner_parse(const char *v, size_t vlen,
                                char team[LM_KEY_MAX], char owner[LM_KEY_MAX]) {
    const char *colon = v ? memchr(v, ':', vlen) : NULL;
    if (!colon || colon == v)
        return -1;
    size_t tn = (size_t)(colon - v), on = vlen - tn - 1;
    if (tn >= LM_KEY_MAX || on == 0 || on >= LM_KEY_MAX ||
        memchr(v, '\0', vlen))
        return -1;
    memcpy(team, v, tn);
    team[tn] = '\0';
    memcpy(owner, colon + 1, on);
    owner[on] = '\0';
    return 0;
}

void lm_lead_account_open_key(const char *domain, char out[LM_KEY_MAX]) {
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{acct:", domain, "}:open", NULL);
}

void lm_lead_account_deals_key(const char *domain, char out[LM_KEY_MAX]) {
    lm_fmt_cat(out, LM_KEY_MAX, "lm:{acct:", domain, "}:deals", NULL);
}

int lm_lead_timer_payload(int step, const char *segment, char *out,
                          size_t outsz) {
    char st[LM_FMT_I64_MAX];
    if (step < 0 || step > LM_LEAD_STEP_MAX || !segment)
        return -1;
    lm_fmt_i64(st, step);
    size_t n = lm_fmt_cat(out, outsz, st, "|", segment, NULL);
    return n < outsz ? (int)n : -1;
}

int lm_lead_timer_payload_parse(const char *payload, size_t len, int *step,
                                char *seg, size_t segsz) {
    const char *bar = payload ? memchr(payload, '|', len) : NULL;
    size_t digits = bar ? (size_t)(bar - payload) : 0;
    if (digits == 0 || digits > 4 || (digits > 1 && payload[0] == '0'))
        return -1; /* one spelling per step */
    int v = 0;
    for (size_t i = 0; i < digits; i++) {
        if (payload[i] < '0' || payload[i] > '9')
            return -1;
        v = v * 10 + (payload[i] - '0');
    }
    size_t sn = len - digits - 1;
    if (v > LM_LEAD_STEP_MAX || sn >= segsz || memchr(bar + 1, '\0', sn))
        return -1;
    memcpy(seg, bar + 1, sn);
    seg[sn] = '\0';
    *step = v;
    return 0;
}

int lm_lead_adaptive(const char *lead_id, double control_share) {
    return lm_hash_unit(lm_hash64_str(lead_id, LM_SEED_ARM)) >= control_share;
}
