/* timing_learn.c — learned timing in the timing worker (timing_learn.h). */
#include "timing_learn.h"
#include "timing.h"

#include "lm_env.h"
#include "lm_fmt.h"
#include "lm_lead.h"
#include "lm_redis.h"
#include "lm_tz.h"

#include <stdio.h>
#include <string.h>

int timing_learn_split(const char *redis_url) {
    lm_redis_url u;
    char err[256];
    return redis_url && lm_redis_url_parse(redis_url, &u, err, sizeof(err)) == 0
               ? u.is_cluster
               : 0; /* a bad URL: the runtime refuses it at start */
}

/* Every level's hash, flattened with its level (ARGV[1], default 0, plus
 * its place among KEYS): on a single Redis one reply holds every level;
 * on a cluster, where the levels' keys are on different slots, one EVAL
 * per level (ARGV[1] its level). */
static const char *const read_script =
    "local r = {}\n"
    "local base = tonumber(ARGV[1]) or 0\n"
    "for i, k in ipairs(KEYS) do\n"
    "  local h = redis.call('HGETALL', k)\n"
    "  for j = 1, #h, 2 do\n"
    "    r[#r + 1] = (base + i - 1) .. ':' .. h[j]\n"
    "    r[#r + 1] = h[j + 1]\n"
    "  end\n"
    "end\n"
    "return r\n";

/* The keys of step `step` of cadence `cad_name` for segment and role. */
static int keys_for(const lm_policy *pol, const char *segment, const char *role,
                    const char *cad_name, int step,
                    char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX]) {
    const lm_cadence *cad = cad_name ? lm_policy_cadence(pol, cad_name) : NULL;
    if (!cad || step < 0 || (size_t)step >= cad->n_steps || !segment)
        return -1;
    return lm_learn_keys(lm_policy_learning(pol), segment,
                         role && *role ? role : NULL, cad->name,
                         cad->steps[step].channel, step, k);
}

/* The keys the event's choice reads: how many levels (3 or 4), or 0 when
 * it reads none (not a response timer, or one timing cannot read). */
static int event_keys(const lm_policy *pol, const Lastmile__V1__TimingEvent *ev,
                      char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX]) {
    if (ev->event_case != LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED)
        return 0;
    /* "<lead>:timer:<step>|<segment>[|<role>|<cadence>]" */
    const char *id = ev->timer_fired->timer_id;
    const char *pl = id ? strstr(id, ":timer:") : NULL;
    char ts[LM_TIMERS_PAYLOAD_MAX], seg[LM_POLICY_SEGMENT_MAX],
        role[LM_LEARN_ROLE_MAX], cad[LM_POLICY_NAME_MAX];
    int step;
    if (!pl ||
        lm_lead_timer_payload_parse(pl + 7, strlen(pl + 7), &step, ts,
                                    sizeof(ts)) != 0 ||
        lm_learn_timer_segment_parse(ts, seg, role, cad) != 0 ||
        keys_for(pol, seg, role, cad, step + 1, k) != 0)
        return 0;
    return k[LM_LEARN_CELL][0] ? LM_LEARN_LEVELS : LM_LEARN_CELL;
}

/* EVAL read_script over keys[0..nk) whose first is level `level`. */
static int plan_read(lm_plan *p, char (*keys)[LM_LEARN_KEY_MAX], int nk,
                     int level) {
    char nkb[16], lvb[16];
    snprintf(nkb, sizeof(nkb), "%d", nk);
    snprintf(lvb, sizeof(lvb), "%d", level);
    const char *argv[4 + LM_LEARN_LEVELS] = {"EVAL", read_script, nkb};
    for (int i = 0; i < nk; i++)
        argv[3 + i] = keys[i];
    argv[3 + nk] = lvb; /* level 0 needs no ARGV: the form before issue 17 */
    return lm_plan_cmd(p, 3 + nk + (level ? 1 : 0), argv, NULL);
}

int timing_learn_plan(const lm_policy *pol, const Lastmile__V1__TimingEvent *ev,
                      int split, lm_plan *p) {
    char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX];
    int nk = event_keys(pol, ev, k);
    if (nk == 0) /* an empty hash: the replies after it keep their places */
        return lm_plan_cmd_strs(
            p, "HGETALL", LM_LEARN_KEY_PREFIX "-" LM_LEARN_KEY_SUFFIX, NULL);
    return plan_read(p, k, split ? 1 : nk, 0);
}

int timing_learn_plan_rest(const lm_policy *pol,
                           const Lastmile__V1__TimingEvent *ev, int split,
                           lm_plan *p) {
    char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX];
    int nk = split ? event_keys(pol, ev, k) : 0;
    for (int L = 1; L < nk; L++)
        if (plan_read(p, k + L, 1, L) != 0)
            return -1;
    return 0;
}

void timing_learn_answer_field(const Lastmile__V1__TimingEvent *ev, char *buf,
                               size_t bufsz) {
    buf[0] = '\0';
    if (ev->event_case != LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE)
        return;
    const char *a = ev->response->action_id;
    const char *at = a ? strstr(a, ":action:") : NULL;
    int64_t step;
    if (at && lm_parse_int64(at + 8, 0, LM_LEAD_STEP_MAX, &step) == 0)
        lm_fmt_cat(buf, bufsz, LM_F_SLOT_OF, at + 8, NULL);
}

/* Reply i's "<level>:<slot>:<s|f>" -> count pairs into lv. */
static void counts_from_reply(const lm_reads *r, size_t i0,
                              lm_learn_counts *lv) {
    size_t n = lm_read_elems(r, i0);
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *f = lm_read_elem_str(r, i0, i, NULL);
        int64_t v, level, slot;
        char num[8];
        const char *c1 = f ? strchr(f, ':') : NULL;
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c1 - f != 1 || c2 - c1 - 1 >= (long)sizeof(num) ||
            lm_parse_int64(lm_read_elem_str(r, i0, i + 1, NULL), 0, UINT32_MAX,
                           &v) != 0)
            continue;
        memcpy(num, c1 + 1, (size_t)(c2 - c1 - 1));
        num[c2 - c1 - 1] = '\0';
        level = f[0] - '0';
        if (level < 0 || level >= LM_LEARN_LEVELS ||
            lm_parse_int64(num, 0, LM_LEARN_SLOTS - 1, &slot) != 0)
            continue;
        if (c2[1] == 's' && c2[2] == '\0')
            lv[level].s[slot] = (uint32_t)v;
        else if (c2[1] == 'f' && c2[2] == '\0')
            lv[level].f[slot] = (uint32_t)v;
    }
}

/* Reply 1 (and, split, the last nk - 1 replies) into lv. */
static void counts_from_reads(const lm_policy *pol, const lm_msg *m, int split,
                              lm_learn_counts *lv) {
    memset(lv, 0, LM_LEARN_LEVELS * sizeof(*lv));
    counts_from_reply(&m->reads, 1, lv);
    char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX];
    int nk =
        split ? event_keys(pol, (const Lastmile__V1__TimingEvent *)m->event, k)
              : 0;
    for (int L = 1; L < nk && (size_t)(nk - 1) < m->reads.n; L++)
        counts_from_reply(&m->reads, m->reads.n - (size_t)(nk - L), lv);
}

int64_t timing_learn_choose(const lm_policy *pol, int split, const lm_msg *m,
                            const lm_cadence *cad, int step, const char *tz,
                            int64_t earliest, int adaptive, uint64_t seed,
                            int32_t *slot, double *probability) {
    *probability = 1;
    int64_t when = lm_policy_step_time_ms(cad, (size_t)step, tz, earliest);
    if (when < 0)
        return -1;
    if (adaptive && !cad->steps[step].at_now) {
        lm_slot cand[LM_LEARN_SLOTS];
        size_t n = lm_policy_candidate_slots(
            cad, tz, earliest, LM_TIMING_HORIZON_MS, cand, LM_LEARN_SLOTS);
        lm_learn_counts lv[LM_LEARN_LEVELS];
        double est[LM_LEARN_SLOTS];
        lm_learn_choice ch;
        const lm_learn_cfg *lc = lm_policy_learning(pol);
        counts_from_reads(pol, m, split, lv);
        lm_learn_estimate(lc, lv, est);
        if (lm_learn_choose(lc, cand, n, earliest, est, lv, seed, &ch) == 0) {
            when = ch.when_ms;
            *probability = ch.probability;
        }
    }
    lm_local_time lt;
    if (lm_tz_local(tz, when, &lt) != 0)
        return -1;
    *slot = lt.hour_of_week;
    return when;
}

void timing_learn_record(const lm_policy *pol, const lm_msg *m, lm_out *out,
                         int success) {
    int64_t step = lm_timing_field_int(m, R_STEP);
    const char *slot = lm_timing_field(m, R_SLOT, NULL);
    const char *own = success ? lm_timing_field(m, R_N, NULL) : NULL;
    if (own) {
        /* the touch the answer names: its step is in the field's name */
        char name[32];
        const Lastmile__V1__TimingEvent *ev =
            (const Lastmile__V1__TimingEvent *)m->event;
        timing_learn_answer_field(ev, name, sizeof(name));
        if (name[0] && lm_parse_int64(name + strlen(LM_F_SLOT_OF), 0,
                                      LM_LEAD_STEP_MAX, &step) == 0)
            slot = own;
    }
    int64_t k;
    char keys[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX], f[32];
    if (!slot || lm_parse_int64(slot, 0, LM_LEARN_SLOTS - 1, &k) != 0 ||
        keys_for(pol, lm_timing_field(m, R_SEGMENT, NULL),
                 lm_timing_field(m, R_ROLE, NULL),
                 lm_timing_field(m, R_CADENCE, NULL), (int)step, keys) != 0)
        return;
    lm_fmt_cat(f, sizeof(f), slot, success ? ":s" : ":f", NULL);
    for (int L = 0; L < LM_LEARN_LEVELS; L++) {
        if (!keys[L][0])
            continue;
        const char *inc[] = {"HINCRBY", keys[L], f, "1"};
        lm_out_index(out, 4, inc, NULL);
    }
}
