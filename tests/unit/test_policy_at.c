/* test_policy_at.c — "at: now" steps and human channels (lm_policy_at.c):
 * the keys as decisions.yaml writes them, every bad value refused with
 * "<file>:<line>: <key path>: <what>; <fix>", the shipped config's instant
 * first touch, and the time a step gets (lm_policy_step_time_ms, and
 * timing's lm_timing_choose_step on both arms). Pure: no broker, no Redis. */
#include "lm_policy.h"
#include "lm_tz.h"
#include "timing.h"

#include <criterion/criterion.h>
#include <string.h>

#define HOUR_MS 3600000LL
#define DAY_MS  (24 * HOUR_MS)
/* 2026-01-10T08:00:00Z, a Saturday: 03:00 in New York */
#define SAT_MS 1768032000000LL

/* Lines 1-10; "cadences:" is line 11, "qualified:" line 12 and the first
 * line inside the qualified cadence line 13. */
#define PRE_EMAIL(email)                                                       \
    "thresholds: { qualified: 0.5, nurture: 0.2 }\n"                           \
    "channels:\n" email "  call: { cost: 4, human: true }\n"                   \
    "teams:\n  sales:\n    owners:\n      - { name: ann, capacity: 5 }\n"      \
    "routing:\n  - { team: sales }\n"
#define PRE  PRE_EMAIL("  email: { cost: \"0.02\" }\n")
#define HEAD PRE "cadences:\n  qualified:\n    steps:\n"
#define NUR                                                                    \
    "  nurture:\n"                                                             \
    "    steps:\n"                                                             \
    "      - { channel: email, response_window: 1d, at: now }\n"

static lm_policy *parse(const char *text, char *err, size_t errsz) {
    return lm_policy_parse(text, strlen(text), "t.yaml", err, errsz);
}

Test(policy_at, the_keys_parse) {
    char err[LM_POLICY_ERRSZ] = "";
    lm_policy *p =
        parse(HEAD "      - { channel: email, response_window: 1d, at: now }\n"
                   "      - { channel: call, response_window: 1d }\n"
                   "      - { channel: call, response_window: 1d, at: "
                   "allowed_hours }\n"
                   "      - { channel: email, response_window: 1d, at: "
                   "allowed_hours }\n" NUR,
              err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    const lm_cadence *q = lm_policy_cadence(p, "qualified");
    cr_assert_not_null(q);
    cr_expect_eq(q->steps[0].at_now, 1);
    cr_expect_eq(q->steps[0].human, 0);
    cr_expect_eq(q->steps[1].at_now, 0, "the default is allowed_hours");
    cr_expect_eq(q->steps[1].human, 1, "call is human: true");
    cr_expect_eq(q->steps[2].at_now, 0);
    cr_expect_eq(q->steps[2].human, 1);
    cr_expect_eq(q->steps[3].at_now, 0);
    cr_expect_eq(lm_policy_cadence(p, "nurture")->steps[0].at_now, 1);
    cr_expect_eq(lm_policy_channel_human(p, "email"), 0, "the default");
    cr_expect_eq(lm_policy_channel_human(p, "call"), 1);
    cr_expect_eq(lm_policy_channel_human(p, "fax"), -1);
    cr_expect_eq(lm_policy_channel_human(p, NULL), -1);
    cr_expect_eq(lm_policy_channel_human(NULL, "email"), -1);
    lm_policy_free(p);

    p = parse(PRE "cadences:\n  qualified:\n    steps:\n"
                  "      - { channel: email, response_window: 1d }\n"
                  "  nurture:\n    steps:\n"
                  "      - { channel: email, response_window: 1d }\n",
              err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_expect_eq(lm_policy_cadence(p, "qualified")->steps[0].at_now, 0,
                 "a config without \"at\" keeps every step in the hours");
    lm_policy_free(p);

    p = parse("thresholds: { qualified: 0.5, nurture: 0.2 }\n"
              "channels:\n  email: { cost: 0, human: false }\n"
              "teams:\n  s:\n    owners: [ { name: a, capacity: 1 } ]\n"
              "routing: [ { team: s } ]\n"
              "cadences:\n  qualified:\n    steps:\n"
              "      - { channel: email, response_window: 1d }\n" NUR,
              err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_expect_eq(lm_policy_channel_human(p, "email"), 0);
    lm_policy_free(p);
}

Test(policy_at, the_shipped_cadences_start_at_once) {
    char err[LM_POLICY_ERRSZ] = "";
    lm_policy *p = lm_policy_load(NULL, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    static const char *const names[] = {"qualified", "nurture"};
    for (size_t i = 0; i < 2; i++) {
        const lm_cadence *c = lm_policy_cadence(p, names[i]);
        cr_assert_not_null(c);
        cr_expect_str_eq(c->steps[0].channel, "email", "%s", names[i]);
        cr_expect_eq(c->steps[0].at_now, 1, "%s starts at once", names[i]);
        cr_expect_eq(c->steps[0].wait_ms, 0, "%s", names[i]);
        for (size_t k = 0; k < c->n_steps; k++)
            cr_expect(!(c->steps[k].human && c->steps[k].at_now),
                      "%s step %zu: a human step at once", names[i], k);
    }
    cr_expect_eq(lm_policy_channel_human(p, "call"), 1);
    cr_expect_eq(lm_policy_channel_human(p, "linkedin"), 1);
    cr_expect_eq(lm_policy_channel_human(p, "email"), 0);
    cr_expect_eq(lm_policy_channel_human(p, "sms"), 0);
    const lm_cadence *q = lm_policy_cadence(p, "qualified");
    cr_expect_str_eq(q->steps[1].channel, "call");
    cr_expect_eq(q->steps[1].at_now, 0, "the call keeps to the hours");
    lm_policy_free(p);
}

Test(policy_at, bad_values_name_file_line_and_fix) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        {HEAD "      - { channel: email, response_window: 1d, at: soon }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0].at: \"soon\" is not a time "
         "rule; write \"now\" (as soon as the wait is over, any hour) or "
         "\"allowed_hours\" (the default: in the lead's allowed hours)"},
        {HEAD "      - { channel: email, response_window: 1d, at: Now }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0].at: \"Now\" is not a time "
         "rule"},
        {HEAD "      - { channel: email, response_window: 1d, at: }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0].at: has no value; write "
         "e.g. now"},
        {HEAD
         "      - { channel: email, response_window: 1d, at: [now] }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0].at: expected a single "
         "value"},
        {HEAD "      - { channel: email, response_window: 1d }\n"
              "      - { channel: call, response_window: 1d, at: now }\n" NUR,
         "t.yaml:15: cadences.qualified.steps[1].at: \"now\" is for "
         "automatic steps, and channel \"call\" is performed by a person "
         "(human: true); remove \"at: now\" so the step keeps to the lead's "
         "allowed hours, or use an automatic channel such as email"},
        {HEAD "      - { channel: email, response_window: 1d, a: now }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0].a: unknown key; did you "
         "mean \"at\"?"},
        {PRE_EMAIL(
             "  email: { cost: \"0.02\", human: yes }\n") "cadences:\n"
                                                          "  qualified:\n    "
                                                          "steps:\n" NUR,
         "t.yaml:3: channels.email.human: \"yes\" is not true or false; "
         "write \"human: true\" for a channel a person performs (call, "
         "linkedin), \"human: false\" (the default) for one a system sends"},
        {PRE_EMAIL("  email: { cost: \"0.02\", human: }\n") "cadences:\n"
                                                            "  qualified:\n    "
                                                            "steps:\n" NUR,
         "t.yaml:3: channels.email.human: has no value; write e.g. true"},
        {PRE_EMAIL(
             "  email: { cost: \"0.02\", humans: true }\n") "cadences:\n"
                                                            "  qualified:\n    "
                                                            "steps:\n" NUR,
         "t.yaml:3: channels.email.humans: unknown key; did you mean "
         "\"human\"?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[LM_POLICY_ERRSZ] = "";
        lm_policy *p = parse(cases[i].text, err, sizeof err);
        cr_expect_null(p, "case %zu loaded; wanted %s", i, cases[i].want);
        lm_policy_free(p);
        cr_expect_eq(strncmp(err, cases[i].want, strlen(cases[i].want)), 0,
                     "case %zu:\n  got  %s\n  want %s", i, err, cases[i].want);
    }
}

/* A cadence in New York hours whose steps are: email now, call (human),
 * email now after a day, email in the hours. */
static lm_policy *timed(void) {
    char err[LM_POLICY_ERRSZ] = "";
    lm_policy *p =
        parse(HEAD "      - { channel: email, response_window: 1h, at: now }\n"
                   "      - { channel: call, response_window: 1d }\n"
                   "      - { channel: email, wait: 1d, response_window: 1d, "
                   "at: now }\n"
                   "      - { channel: email, response_window: 1d }\n" NUR,
              err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    return p;
}

Test(policy_at, a_step_at_once_goes_out_any_hour) {
    lm_policy *p = timed();
    const lm_cadence *q = lm_policy_cadence(p, "qualified");
    const char *ny = "America/New_York";
    /* 03:00 on a Saturday in New York: at once */
    cr_expect_eq(lm_policy_step_time_ms(q, 0, ny, SAT_MS), SAT_MS);
    cr_expect_eq(lm_policy_step_time_ms(q, 2, ny, SAT_MS + 7), SAT_MS + 7);
    /* the call and the plain email: Monday 09:00 New York (14:00Z) */
    int64_t mon9 = SAT_MS + 2 * DAY_MS + 6 * HOUR_MS;
    cr_expect_eq(lm_policy_step_time_ms(q, 1, ny, SAT_MS), mon9);
    cr_expect_eq(lm_policy_step_time_ms(q, 3, ny, SAT_MS), mon9);
    cr_expect_eq(lm_policy_step_time_ms(q, 1, ny, SAT_MS),
                 lm_policy_next_allowed_ms(q, ny, SAT_MS));
    /* errors */
    cr_expect_eq(lm_policy_step_time_ms(q, 0, "Mars/Olympus", SAT_MS), -1);
    cr_expect_eq(lm_policy_step_time_ms(q, 0, NULL, SAT_MS), -1);
    cr_expect_eq(lm_policy_step_time_ms(q, 4, ny, SAT_MS), -1);
    cr_expect_eq(lm_policy_step_time_ms(NULL, 0, ny, SAT_MS), -1);
    lm_policy_free(p);
}

Test(policy_at, learned_timing_never_moves_a_step_at_once) {
    lm_policy *p = timed();
    const lm_cadence *q = lm_policy_cadence(p, "qualified");
    const char *ny = "America/New_York";
    /* statistics that make Monday 15:00 local (slot 15) the best by far;
       Monday is inside the 3-day horizon from Saturday */
    static lm_slot_stats st;
    memset(&st, 0, sizeof st);
    for (int k = 0; k < LM_TIMING_SLOTS; k++)
        st.f[k] = 500;
    st.s[15] = 500;
    st.f[15] = 0;
    for (int adaptive = 0; adaptive <= 1; adaptive++) {
        for (uint64_t seed = 1; seed < 20; seed++) {
            int32_t slot = -1;
            int64_t when = lm_timing_choose_step(q, 2, ny, SAT_MS, adaptive,
                                                 &st, seed, &slot);
            cr_expect_eq(when, SAT_MS, "arm %d seed %llu", adaptive,
                         (unsigned long long)seed);
            cr_expect_eq(slot, 5 * 24 + 3, "Saturday 03:00 local");
        }
    }
    /* a step in the hours on the learning arm does move to the slot */
    int32_t slot = -1;
    int64_t when = lm_timing_choose_step(q, 3, ny, SAT_MS, 1, &st, 3, &slot);
    cr_expect_eq(slot, 15, "learning picks Monday 15:00: slot %d", slot);
    cr_expect_eq(when, lm_timing_choose(q, ny, SAT_MS, 1, &st, 3, &slot));
    /* and the human step keeps to the hours */
    when = lm_timing_choose_step(q, 1, ny, SAT_MS, 0, &st, 3, &slot);
    cr_expect_eq(when, lm_policy_next_allowed_ms(q, ny, SAT_MS));
    cr_expect_eq(lm_timing_choose_step(q, 9, ny, SAT_MS, 0, &st, 3, &slot), -1);
    cr_expect_eq(
        lm_timing_choose_step(q, 2, "Mars/Olympus", SAT_MS, 0, &st, 3, &slot),
        -1);
    lm_policy_free(p);
}
