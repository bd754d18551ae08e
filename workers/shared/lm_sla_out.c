/* lm_sla_out.c — arming and clearing owner deadlines (lm_sla_out.h). */
#include "lm_sla_out.h"

#include "lm_fmt.h"
#include "lm_timers.h"

int lm_sla_arm(lm_out *out, const char *lead_id, const char *action_id,
               int step, const char *owner, int level, int64_t due_ms) {
    char payload[LM_TIMERS_PAYLOAD_MAX], key[LM_KEY_MAX], lv[LM_FMT_I64_MAX],
        due[LM_FMT_I64_MAX], st[LM_FMT_I64_MAX];
    int plen =
        lm_sla_payload(level, step, action_id, owner, payload, sizeof(payload));
    if (plen < 0) {
        lm_out_reject(out, "owner: \"%.64s\" cannot name a deadline timer",
                      owner);
        return -1;
    }
    lm_lead_key(lead_id, key);
    lm_fmt_i64(lv, level);
    lm_fmt_i64(due, due_ms);
    lm_fmt_i64(st, step);
    lm_out_write_strs(out, "HSET", key, LM_F_SLA_ACTION, action_id,
                      LM_F_SLA_OWNER, owner, LM_F_SLA_LEVEL, lv, LM_F_SLA_DUE,
                      due, LM_F_SLA_STEP, st, NULL);
    return lm_timers_arm(out, lead_id, LM_SLA_TIMER_DEADLINE, due_ms, payload,
                         (size_t)plen);
}

int lm_sla_clear(lm_out *out, const char *lead_id, const char *action_id,
                 int step, const char *owner, int level) {
    char payload[LM_TIMERS_PAYLOAD_MAX], key[LM_KEY_MAX];
    int plen =
        lm_sla_payload(level, step, action_id, owner, payload, sizeof(payload));
    lm_lead_key(lead_id, key);
    lm_out_write_strs(out, "HSET", key, LM_F_SLA_LEVEL, LM_SLA_LEVEL_DONE,
                      NULL);
    if (plen < 0)
        return 0; /* nothing could have been armed with it */
    return lm_timers_cancel(out, lead_id, LM_SLA_TIMER_DEADLINE, payload,
                            (size_t)plen);
}
