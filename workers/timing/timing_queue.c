/* timing_queue.c — what a closing lead gives back (timing_queue.h). */
#include "timing_queue.h"
#include "timing_slot.h"

#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_topics.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stdio.h>
#include <string.h>

/* 1 when `owner` is an owner of team `team` in the decisions file. */
static int owner_of(const lm_policy *p, const char *team, const char *owner) {
    const lm_team *t = lm_policy_team(p, team);
    for (size_t o = 0; t && o < t->n_owners; o++)
        if (strcmp(t->owners[o].name, owner) == 0)
            return 1;
    return 0;
}

/* The slot the lead held goes to its team's overflow group's partition
 * (timing_slot.h). */
static int announce_freed(const lm_policy *p, const lm_msg *m,
                          const timing_queue_lead *l, lm_out *out) {
    char id[LM_ID_MAX], key[LM_KEY_MAX], group[LM_POLICY_NAME_MAX];
    timing_slot_group(p, l->team, group);
    if (lm_fmt_cat(id, sizeof(id), l->lead_id, ":freed", NULL) >= sizeof(id) ||
        lm_fmt_cat(key, sizeof(key), "team:", group, NULL) >= sizeof(key))
        return -1;
    Lastmile__V1__SlotFreed f = LASTMILE__V1__SLOT_FREED__INIT;
    f.team = (char *)l->team;
    f.owner = (char *)l->owner;
    f.lead_id = (char *)l->lead_id;
    f.freed_at_ms = m->now_ms;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_SLOT_FREED;
    ev.slot_freed = &f;
    return lm_out_emit(out, LM_TOPIC_TIMING, key, id, &ev.base);
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
 * its team's queue. */
static void leave_queue(const timing_queue_lead *l, lm_out *out) {
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
}

int timing_queue_release(const lm_policy *p, const lm_msg *m,
                         const timing_queue_lead *l, lm_out *out) {
    char k[LM_KEY_MAX];
    if (l->account && *l->account) {
        lm_lead_account_count_key(l->account, k);
        const char *dec[] = {"DECR", k};
        lm_out_index(out, 2, dec, NULL);
    }
    if (l->pending && l->pending_len && l->team && *l->team) {
        /* closed while it waited, queued before issue 16: its member is
           on its hash */
        lm_lead_team_queue_key(l->team, k);
        const char *zrem[] = {"ZREM", k, l->pending};
        size_t zl[3] = {4, strlen(k), l->pending_len};
        lm_out_index(out, 3, zrem, zl);
        return 0;
    }
    if (l->stage && strcmp(l->stage, LM_STAGE_UNASSIGNED) == 0 && l->team &&
        *l->team) {
        /* closed while it waited: it leaves the queue */
        leave_queue(l, out);
        return 0;
    }
    if (!l->team || !*l->team || !l->owner || !*l->owner)
        return 0;
    int held = l->holds
                   ? strcmp(l->holds, "1") == 0
                   : (l->decision && strcmp(l->decision, "QUALIFIED") == 0);
    if (!held || !owner_of(p, l->team, l->owner))
        return 0;
    return announce_freed(p, m, l, out);
}
