/* test_learn.c — learned timing's pure parts (lm_learn.h): the role a
 * title reads as, the keys of each level, pooled estimates, the value
 * rule and its slot probabilities, the holdout, the timer's learning
 * segment, and the config's learning: section with its errors. Pure: no
 * broker, no Redis. */
#include "lm_learn.h"
#include "lm_redis_cluster.h"
#include "lm_policy.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define HOUR_MS 3600000LL

Test(learn, a_title_reads_as_a_role) {
    static const struct {
        const char *title, *role;
    } cases[] = {{"CEO", "exec"},
                 {"Co-Founder & CTO", "exec"},
                 {"VP Sales", "exec"},
                 {"Vice President, Marketing", "exec"},
                 {"Head of Growth", "manager"},
                 {"IT Director", "manager"},
                 {"sales manager", "manager"},
                 {"Team Lead", "manager"},
                 {"Leadership coach", "ic"}, /* "lead" only as a word */
                 {"Engineer", "ic"},
                 {"Analyst", "ic"},
                 {"", "none"},
                 {"  ", "none"},
                 {NULL, "none"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        cr_expect_str_eq(lm_learn_role(cases[i].title), cases[i].role, "%s",
                         cases[i].title ? cases[i].title : "(null)");
}

Test(learn, each_level_has_its_key) {
    lm_learn_cfg c;
    lm_learn_cfg_default(&c);
    char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX];
    cr_assert_eq(lm_learn_keys(&c, "EMEA/ent", "ic", "qualified", "call", 2, k),
                 0);
    cr_expect_str_eq(k[LM_LEARN_GLOBAL], "lm:{learn:*|ic}:slots");
    cr_expect_str_eq(k[LM_LEARN_REGION], "lm:{learn:EMEA|ic}:slots");
    cr_expect_str_eq(k[LM_LEARN_SEGMENT], "lm:{learn:EMEA/ent|ic}:slots");
    cr_expect_str_eq(k[LM_LEARN_CELL],
                     "lm:{learn:EMEA/ent|ic.qualified.call}:slots");
    c.features = LM_LEARN_F_STEP;
    cr_assert_eq(lm_learn_keys(&c, "NA/smb", "ic", "q", "call", 2, k), 0);
    cr_expect_str_eq(k[LM_LEARN_SEGMENT], "lm:{learn:NA/smb|all}:slots");
    cr_expect_str_eq(k[LM_LEARN_CELL], "lm:{learn:NA/smb|all.s2}:slots");
    c.features = 0; /* no split: the cell is the segment */
    cr_assert_eq(lm_learn_keys(&c, "NA/smb", "ic", "q", "call", 2, k), 0);
    cr_expect_str_eq(k[LM_LEARN_CELL], "");
    char longseg[300];
    memset(longseg, 'x', sizeof(longseg) - 1);
    longseg[sizeof(longseg) - 1] = '\0';
    cr_expect_eq(lm_learn_keys(&c, longseg, "ic", "q", "call", 2, k), -1);
}

/* Each level and cell its own hash tag: on a Redis Cluster (CRC16 slot,
 * lm_rcluster_slot) a market's keys spread over the slots, and over the
 * three masters of a default cluster (slots 0-5460, 5461-10922,
 * 10923-16383), instead of one slot, {learn}, for every touch. */
Test(learn, the_keys_spread_over_a_clusters_slots) {
    static const char *const segs[] = {"NA/smb",   "NA/mid",   "NA/ent",
                                       "EMEA/smb", "EMEA/mid", "EMEA/ent",
                                       "APAC/smb", "APAC/mid", "APAC/ent"};
    static const char *const roles[] = {"exec", "manager", "ic", "none"};
    static const char *const cads[] = {"qualified", "nurture"};
    static const char *const chans[] = {"email", "call", "linkedin"};
    lm_learn_cfg c;
    lm_learn_cfg_default(&c);
    static unsigned char seen_slot[16384];
    memset(seen_slot, 0, sizeof(seen_slot));
    size_t cells = 0, slots = 0, per_master[3] = {0};
    for (size_t a = 0; a < 9; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t d = 0; d < 2; d++)
                for (size_t e = 0; e < 3; e++) {
                    char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX];
                    cr_assert_eq(lm_learn_keys(&c, segs[a], roles[b], cads[d],
                                               chans[e], 1, k),
                                 0);
                    unsigned s = lm_rcluster_slot(k[LM_LEARN_CELL],
                                                  strlen(k[LM_LEARN_CELL]));
                    cells++;
                    per_master[s / 5461 < 3 ? s / 5461 : 2]++;
                    slots += !seen_slot[s];
                    seen_slot[s] = 1;
                }
    cr_expect_geq(slots, cells * 95 / 100, "%zu cells on %zu slots", cells,
                  slots);
    for (int m = 0; m < 3; m++)
        cr_expect_geq(per_master[m], cells / 5, "master %d: %zu of %zu cells",
                      m, per_master[m], cells);
    /* one decision's four levels: four slots */
    char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX];
    cr_assert_eq(lm_learn_keys(&c, "NA/mid", "exec", "qualified", "call", 1, k),
                 0);
    for (int i = 0; i < LM_LEARN_LEVELS; i++)
        for (int j = i + 1; j < LM_LEARN_LEVELS; j++)
            cr_expect_neq(lm_rcluster_slot(k[i], strlen(k[i])),
                          lm_rcluster_slot(k[j], strlen(k[j])), "%s, %s", k[i],
                          k[j]);
}

/* A segment with no data of its own takes its region's curve; with much
 * data, its own. */
Test(learn, a_segment_starts_from_its_region_and_moves_away) {
    lm_learn_cfg c;
    lm_learn_cfg_default(&c);
    static lm_learn_counts lv[LM_LEARN_LEVELS];
    memset(lv, 0, sizeof(lv));
    /* the region answers at 15h (slot 15, Monday) 10%, elsewhere 2% */
    for (int k = 0; k < LM_LEARN_SLOTS; k++) {
        int hot = k % 24 == 15;
        lv[LM_LEARN_REGION].s[k] = hot ? 100 : 20;
        lv[LM_LEARN_REGION].f[k] = hot ? 900 : 980;
        lv[LM_LEARN_GLOBAL].s[k] = lv[LM_LEARN_REGION].s[k];
        lv[LM_LEARN_GLOBAL].f[k] = lv[LM_LEARN_REGION].f[k];
    }
    double est[LM_LEARN_SLOTS];
    lm_learn_estimate(&c, lv, est);
    cr_expect(est[15] > 2 * est[10],
              "no data of its own: the region's 15h "
              "(%f against %f)",
              est[15], est[10]);
    /* the segment's own data: 10h is its best, by far, in thousands */
    for (int d = 0; d < 7; d++) {
        lv[LM_LEARN_SEGMENT].s[d * 24 + 10] = 3000;
        lv[LM_LEARN_SEGMENT].f[d * 24 + 10] = 7000;
        lv[LM_LEARN_SEGMENT].f[d * 24 + 15] = 10000;
    }
    lm_learn_estimate(&c, lv, est);
    cr_expect(est[10] > est[15], "its own data: 10h (%f against %f)", est[10],
              est[15]);
    cr_expect(est[10] > 0.25 && est[10] < 0.31, "near its own rate: %f",
              est[10]);
}

Test(learn, the_value_rule_weighs_waiting_and_says_its_probability) {
    lm_learn_cfg c;
    lm_learn_cfg_default(&c);
    c.explore = 0;
    static lm_learn_counts lv[LM_LEARN_LEVELS];
    double est[LM_LEARN_SLOTS];
    for (int k = 0; k < LM_LEARN_SLOTS; k++)
        est[k] = 0.05;
    est[9] = 0.06;  /* Monday 09h, at once */
    est[57] = 0.07; /* Wednesday 09h, two days later */
    lm_slot cand[] = {{9, 0}, {10, HOUR_MS}, {57, 48 * HOUR_MS}};
    lm_learn_choice ch;
    c.half_life_ms = 7 * 24 * HOUR_MS; /* 2 days cost 18%: 0.07 -> 0.057 */
    cr_assert_eq(lm_learn_choose(&c, cand, 3, 0, est, lv, 1, &ch), 0);
    cr_expect_eq(ch.slot, 9, "the near slot is worth more than the far one");
    cr_expect_eq(ch.probability, 1);
    c.half_life_ms = 0; /* waiting costs nothing */
    cr_assert_eq(lm_learn_choose(&c, cand, 3, 0, est, lv, 1, &ch), 0);
    cr_expect_eq(ch.slot, 57);
    cr_expect_eq(ch.when_ms, 48 * HOUR_MS);
    /* exploring: each candidate's probability is known, and they add up */
    c.explore = 0.3;
    double seen[3] = {0}, total = 0;
    int counts[3] = {0};
    for (uint64_t seed = 0; seed < 3000; seed++) {
        cr_assert_eq(lm_learn_choose(&c, cand, 3, 0, est, lv, seed, &ch), 0);
        int i = ch.slot == 9 ? 0 : ch.slot == 10 ? 1 : 2;
        seen[i] = ch.probability;
        counts[i]++;
    }
    for (int i = 0; i < 3; i++)
        total += seen[i];
    cr_expect_float_eq(total, 1.0, 1e-9, "probabilities add up to 1: %f",
                       total);
    cr_expect_float_eq(seen[2], 0.7 + 0.1, 1e-9);
    for (int i = 0; i < 3; i++)
        cr_expect(counts[i] > 3000 * seen[i] - 150 &&
                      counts[i] < 3000 * seen[i] + 150,
                  "candidate %d chosen %d times in 3000, want about %.0f", i,
                  counts[i], 3000 * seen[i]);
    cr_expect_eq(lm_learn_choose(&c, cand, 0, 0, est, lv, 1, &ch), -1);
}

Test(learn, the_holdout_is_a_share_of_leads) {
    int in = 0;
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "%016x-%08x", i, i * 7);
        in += lm_learn_holdout(id, 0.1);
        cr_expect_eq(lm_learn_holdout(id, 0), 0);
    }
    cr_expect(in > 900 && in < 1100, "%d of 10000 held out at 10%%", in);
}

Test(learn, the_timer_carries_segment_role_and_cadence) {
    char buf[256], seg[LM_POLICY_SEGMENT_MAX], role[LM_LEARN_ROLE_MAX],
        cad[LM_POLICY_NAME_MAX];
    cr_assert_eq(
        lm_learn_timer_segment("NA/mid", "exec", "qualified", buf, sizeof(buf)),
        0);
    cr_expect_str_eq(buf, "NA/mid|exec|qualified");
    cr_assert_eq(lm_learn_timer_segment_parse(buf, seg, role, cad), 0);
    cr_expect_str_eq(seg, "NA/mid");
    cr_expect_str_eq(role, "exec");
    cr_expect_str_eq(cad, "qualified");
    /* a lead from before roles: the old form, both ways */
    cr_assert_eq(lm_learn_timer_segment("NA/mid", NULL, "q", buf, sizeof(buf)),
                 0);
    cr_expect_str_eq(buf, "NA/mid");
    cr_assert_eq(lm_learn_timer_segment_parse(buf, seg, role, cad), 0);
    cr_expect_str_eq(seg, "NA/mid");
    cr_expect_str_eq(role, "");
    cr_expect_eq(lm_learn_timer_segment("NA/mid", "exec", "q", buf, 8), -1);
    cr_expect_eq(lm_learn_timer_segment_parse("NA/mid|exec", seg, role, cad),
                 -1, "two parts: neither form");
}

/* ---------------------------------------------------------- the config */

#define BASE                                                                   \
    "thresholds: { qualified: 0.5, nurture: 0.2 }\n"                           \
    "channels:\n  email: { cost: \"0.02\" }\n"                                 \
    "teams:\n  sales:\n    owners:\n      - { name: ann, capacity: 5 }\n"      \
    "routing:\n  - { team: sales }\n"                                          \
    "cadences:\n"                                                              \
    "  qualified:\n    steps:\n      - { channel: email, response_window: "    \
    "1d }\n"                                                                   \
    "  nurture:\n    steps:\n      - { channel: email, response_window: "      \
    "1d }\n"
/* BASE is 16 lines: learning: is line 17, its first key line 18 */

Test(learn, the_config_sets_the_learner) {
    static const char text[] = BASE "learning:\n"
                                    "  holdout: 0.05\n"
                                    "  features: [role, step]\n"
                                    "  pool_strength: 60\n"
                                    "  explore: 0\n"
                                    "  wait_half_life: 3d\n"
                                    "  rule: thompson\n";
    char err[LM_POLICY_ERRSZ] = "";
    lm_policy *p =
        lm_policy_parse(text, strlen(text), "t.yaml", err, sizeof(err));
    cr_assert_not_null(p, "%s", err);
    const lm_learn_cfg *c = lm_policy_learning(p);
    cr_expect_float_eq(c->holdout, 0.05, 1e-12);
    cr_expect_eq(c->features, LM_LEARN_F_ROLE | LM_LEARN_F_STEP);
    cr_expect_float_eq(c->pool_strength, 60, 1e-12);
    cr_expect_float_eq(c->explore, 0, 1e-12);
    cr_expect_eq(c->half_life_ms, 3 * 24 * HOUR_MS);
    cr_expect_eq(c->rule, LM_LEARN_RULE_THOMPSON);
    lm_policy_free(p);
    /* absent: the defaults; the shipped file holds no lead out */
    p = lm_policy_parse(BASE, strlen(BASE), "t.yaml", err, sizeof(err));
    cr_assert_not_null(p, "%s", err);
    lm_learn_cfg d;
    lm_learn_cfg_default(&d);
    cr_expect_eq(memcmp(lm_policy_learning(p), &d, sizeof(d)), 0);
    lm_policy_free(p);
    p = lm_policy_load(NULL, err, sizeof(err));
    cr_assert_not_null(p, "%s", err);
    cr_expect_eq(lm_policy_learning(p)->holdout, 0);
    lm_policy_free(p);
}

Test(learn, a_bad_learning_setting_names_its_line_and_fix) {
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"learning:\n  holdout: 2\n",
         "t.yaml:18: learning.holdout: 2 is out of range; use a number from 0 "
         "to 1"},
        {"learning:\n  features: [role, weather]\n",
         "t.yaml:18: learning.features[1]: \"weather\" is not a feature; use "
         "role, channel, cadence, step, day_of_week"},
        {"learning:\n  features: [role, role]\n",
         "t.yaml:18: learning.features[1]: \"role\" is listed twice"},
        {"learning:\n  rule: greedy\n",
         "t.yaml:18: learning.rule: \"greedy\" is not a rule; use value"},
        {"learning:\n  wait_half_life: soon\n", "t.yaml:18: "
                                                "learning.wait_half_life:"},
        {"learning:\n  pool_strenght: 5\n",
         "t.yaml:18: learning.pool_strenght: unknown key; did you mean "
         "\"pool_strength\"?"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char text[2048], err[LM_POLICY_ERRSZ] = "";
        snprintf(text, sizeof(text), "%s%s", BASE, cases[i].yaml);
        lm_policy *p =
            lm_policy_parse(text, strlen(text), "t.yaml", err, sizeof(err));
        cr_expect_null(p, "case %zu parsed", i);
        lm_policy_free(p);
        cr_expect(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0,
                  "case %zu: %s\nwant: %s", i, err, cases[i].want);
    }
}

/* The arm qualification and followup both take: a held-out lead is never
 * on learned timing, whatever its control-arm hash says. */
Test(learn, a_held_out_lead_is_never_adaptive) {
    static const char all_out[] = BASE "control_share: 0\n"
                                       "learning: { holdout: 1 }\n";
    static const char none_out[] = BASE "control_share: 0\n"
                                        "learning: { holdout: 0 }\n";
    char err[LM_POLICY_ERRSZ] = "";
    lm_policy *a =
        lm_policy_parse(all_out, strlen(all_out), "t.yaml", err, sizeof(err));
    cr_assert_not_null(a, "%s", err);
    lm_policy *b =
        lm_policy_parse(none_out, strlen(none_out), "t.yaml", err, sizeof(err));
    cr_assert_not_null(b, "%s", err);
    char id[32];
    for (int i = 0; i < 200; i++) {
        int h = -1;
        snprintf(id, sizeof(id), "%016x-%08x", i * 31, i);
        cr_expect_eq(lm_learn_arm(a, id, &h), 0);
        cr_expect_eq(h, 1);
        cr_expect_eq(lm_learn_arm(b, id, &h), 1);
        cr_expect_eq(h, 0);
    }
    lm_policy_free(a);
    lm_policy_free(b);
}
