/* lm_lead_wait.c — a message's dead time on its lead (see lm_lead_wait.h). */
#include "lm_lead_wait.h"

#include "lm_fmt.h"

void lm_lead_record_wait(lm_out *out, const char *lead_id, const char *stage,
                         int64_t wait_ms, lm_wait_record how) {
    char key[LM_KEY_MAX], f_ms[48], f_n[48], v[LM_FMT_I64_MAX];
    lm_lead_key(lead_id, key);
    lm_fmt_cat(f_ms, sizeof(f_ms), "wait_", stage, "_ms", NULL);
    lm_fmt_cat(f_n, sizeof(f_n), "wait_", stage, "_n", NULL);
    lm_fmt_i64(v, wait_ms > 0 ? wait_ms : 0);
    /* HSETs join the stage's HSET of the lead (lm_out_write) */
    if (how == LM_WAIT_ONCE) {
        lm_out_write_strs(out, "HSET", key, f_ms, v, NULL);
        return;
    }
    if (how == LM_WAIT_FIRST) {
        lm_out_write_strs(out, "HSET", key, f_ms, v, f_n, "1", NULL);
        return;
    }
    lm_out_write_strs(out, "HINCRBY", key, f_ms, v, NULL);
    lm_out_write_strs(out, "HINCRBY", key, f_n, "1", NULL);
}
