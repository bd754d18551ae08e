/* test_worktime.c — owners' working time (lm_worktime.h) and the
 * decisions.yaml keys that configure it and the owner deadlines
 * (lm_policy_owners.c): deadlines across the end of the day, a weekend,
 * an absence and time zones; the keys' values and their
 * "t.yaml:<line>: <path>: <message>" errors. Pure code; needs
 * /usr/share/zoneinfo. */
#include "lm_policy.h"
#include "lm_sla.h"
#include "lm_tz.h"
#include "lm_worktime.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define MIN_MS 60000LL

static int64_t at(const char *tz, int y, int m, int d, int h, int mi) {
    int64_t t = lm_tz_to_utc_ms(tz, y, m, d, h, mi);
    cr_assert_geq(t, 0, "time %s %d-%d-%d", tz, y, m, d);
    return t;
}

static lm_worktime office(const char *tz) {
    lm_worktime w = {tz, 9 * 60, 17 * 60, 0x1f, NULL, 0};
    return w;
}

/* 2026-03-04 is a Wednesday. */
Test(worktime, deadline_across_the_end_of_the_day) {
    lm_worktime w = office("Europe/Berlin");
    int64_t s = at("Europe/Berlin", 2026, 3, 4, 16, 58);
    cr_expect_eq(lm_worktime_add(&w, s, 5 * MIN_MS),
                 at("Europe/Berlin", 2026, 3, 5, 9, 3),
                 "16:58 + 5 working minutes is 09:03 the next day");
    cr_expect_eq(
        lm_worktime_add(&w, at("Europe/Berlin", 2026, 3, 4, 10, 0), 5 * MIN_MS),
        at("Europe/Berlin", 2026, 3, 4, 10, 5));
    /* exactly to the end of the day stays on that day */
    cr_expect_eq(lm_worktime_add(&w, s, 2 * MIN_MS),
                 at("Europe/Berlin", 2026, 3, 4, 17, 0));
    /* started at night: counts from the next morning */
    cr_expect_eq(lm_worktime_add(&w, at("Europe/Berlin", 2026, 3, 4, 22, 0),
                                 60 * MIN_MS),
                 at("Europe/Berlin", 2026, 3, 5, 10, 0));
    /* longer than a day: 8 working hours a day */
    cr_expect_eq(lm_worktime_add(&w, at("Europe/Berlin", 2026, 3, 4, 9, 0),
                                 10 * 60 * MIN_MS),
                 at("Europe/Berlin", 2026, 3, 5, 11, 0));
}

Test(worktime, deadline_across_a_weekend) {
    lm_worktime w = office("Europe/Berlin");
    cr_expect_eq(lm_worktime_add(&w, at("Europe/Berlin", 2026, 3, 6, 16, 58),
                                 5 * MIN_MS),
                 at("Europe/Berlin", 2026, 3, 9, 9, 3), "Friday to Monday");
    cr_expect_eq(lm_worktime_next(&w, at("Europe/Berlin", 2026, 3, 7, 12, 0)),
                 at("Europe/Berlin", 2026, 3, 9, 9, 0), "Saturday");
    w.days_mask = 0x7f; /* works weekends too */
    cr_expect_eq(lm_worktime_add(&w, at("Europe/Berlin", 2026, 3, 6, 16, 58),
                                 5 * MIN_MS),
                 at("Europe/Berlin", 2026, 3, 7, 9, 3));
}

Test(worktime, deadline_skips_out_of_office) {
    lm_period away[2];
    cr_assert_eq(lm_worktime_parse_period("Europe/Berlin",
                                          "2026-03-05..2026-03-06", &away[0]),
                 0);
    cr_expect_eq(away[0].start_ms, at("Europe/Berlin", 2026, 3, 5, 0, 0));
    cr_expect_eq(away[0].end_ms, at("Europe/Berlin", 2026, 3, 7, 0, 0));
    lm_worktime w = office("Europe/Berlin");
    w.away = away;
    w.n_away = 1;
    cr_expect_eq(lm_worktime_add(&w, at("Europe/Berlin", 2026, 3, 4, 16, 58),
                                 5 * MIN_MS),
                 at("Europe/Berlin", 2026, 3, 9, 9, 3),
                 "Thursday and Friday off: Monday");
    /* an absence that starts mid-day cuts the window there */
    away[1].start_ms = at("Europe/Berlin", 2026, 3, 4, 12, 0);
    away[1].end_ms = at("Europe/Berlin", 2026, 3, 4, 14, 0);
    w.away = &away[1];
    cr_expect_eq(lm_worktime_add(&w, at("Europe/Berlin", 2026, 3, 4, 11, 58),
                                 5 * MIN_MS),
                 at("Europe/Berlin", 2026, 3, 4, 14, 3));
    cr_expect_eq(lm_worktime_next(&w, at("Europe/Berlin", 2026, 3, 4, 13, 0)),
                 at("Europe/Berlin", 2026, 3, 4, 14, 0));
}

Test(worktime, time_zones_and_the_default) {
    lm_worktime w = office("America/Los_Angeles");
    /* 16:00 UTC is 08:00 in Los Angeles: the day starts at 17:00 UTC */
    cr_expect_eq(lm_worktime_add(&w, at("UTC", 2026, 3, 4, 16, 0), 5 * MIN_MS),
                 at("UTC", 2026, 3, 4, 17, 5));
    /* the same instant for a Berlin owner is after work (17:00 CET) */
    lm_worktime b = office("Europe/Berlin");
    cr_expect_eq(lm_worktime_add(&b, at("UTC", 2026, 3, 4, 16, 0), 5 * MIN_MS),
                 at("UTC", 2026, 3, 5, 8, 5));
    /* no hours configured: always working */
    int64_t t = at("UTC", 2026, 3, 7, 3, 0);
    cr_expect_eq(lm_worktime_add(NULL, t, 5 * MIN_MS), t + 5 * MIN_MS);
    cr_expect_eq(lm_worktime_add(lm_worktime_always(), t, 3 * 86400000LL),
                 t + 3 * 86400000LL);
    lm_worktime bad = office("Mars/Olympus");
    cr_expect_eq(lm_worktime_add(&bad, t, MIN_MS), -1);
}

Test(worktime, a_dst_change_keeps_the_wall_clock_hours) {
    /* New York springs forward on 2026-03-08 at 02:00: a 01:00-05:00 day
       has 3 working hours that day, 4 the next */
    lm_worktime w = {"America/New_York", 60, 5 * 60, 0x7f, NULL, 0};
    int64_t s = at("America/New_York", 2026, 3, 8, 1, 0);
    cr_expect_eq(lm_worktime_add(&w, s, 3 * 60 * MIN_MS),
                 at("America/New_York", 2026, 3, 8, 5, 0));
    cr_expect_eq(lm_worktime_add(&w, s, 3 * 60 * MIN_MS + 30 * MIN_MS),
                 at("America/New_York", 2026, 3, 9, 1, 30));
}

Test(worktime, lead_hours_and_owner_hours_together) {
    lm_cadence c = {"q", NULL, 0, 9 * 60, 17 * 60, 0x1f};
    lm_worktime ny = office("America/New_York");
    /* London lead, New York owner: 14:00-17:00 UTC in March (EST) */
    cr_expect_eq(lm_worktime_next_both(&ny, &c, "Europe/London",
                                       at("UTC", 2026, 3, 4, 10, 0)),
                 at("UTC", 2026, 3, 4, 14, 0));
    cr_expect_eq(lm_worktime_next_both(&ny, &c, "Europe/London",
                                       at("UTC", 2026, 3, 4, 18, 0)),
                 at("UTC", 2026, 3, 5, 14, 0));
    /* Tokyo lead, Berlin owner from 10:00: their days never meet */
    lm_worktime be = office("Europe/Berlin");
    be.start_min = 10 * 60;
    cr_expect_eq(lm_worktime_next_both(&be, &c, "Asia/Tokyo",
                                       at("UTC", 2026, 3, 4, 10, 0)),
                 -1);
}

Test(worktime, periods) {
    lm_period p;
    cr_expect_eq(lm_worktime_parse_period("UTC", "2026-03-05", &p), -1);
    cr_expect_eq(lm_worktime_parse_period("UTC", "2026-03-05..2026-3-06", &p),
                 -1);
    cr_expect_eq(lm_worktime_parse_period("UTC", "2026-13-05..2026-03-06", &p),
                 -1);
    cr_expect_eq(lm_worktime_parse_period("UTC", "2026-03-06..2026-03-05", &p),
                 -2);
    cr_expect_eq(lm_worktime_parse_period("UTC", "2026-03-05..2026-03-05", &p),
                 0);
    cr_expect_eq(p.end_ms - p.start_ms, 86400000LL);
}

/* ---- lm_sla: payloads -------------------------------- */

Test(worktime, sla_payload_round_trip) {
    char buf[256], act[64], own[64];
    int level, step;
    int n = lm_sla_payload(1, -1, "abc-1:handoff", "ann|x", buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_expect_str_eq(buf, "1|-1|abc-1:handoff|ann|x");
    cr_assert_eq(lm_sla_payload_parse(buf, (size_t)n, &level, &step, act,
                                      sizeof act, own, sizeof own),
                 0);
    cr_expect_eq(level, 1);
    cr_expect_eq(step, -1);
    cr_expect_str_eq(act, "abc-1:handoff");
    cr_expect_str_eq(own, "ann|x");
    cr_expect_eq(lm_sla_payload(3, 1, "a", "b", buf, sizeof buf), -1);
    cr_expect_eq(lm_sla_payload_parse("9|1|a|b", 7, &level, &step, act,
                                      sizeof act, own, sizeof own),
                 -1);
    cr_expect_eq(lm_sla_payload_parse("1|x|a|b", 7, &level, &step, act,
                                      sizeof act, own, sizeof own),
                 -1);
}

/* ---- the config keys ---------------------------------------------------- */

#define HEAD                                                                   \
    "thresholds: { qualified: 0.5, nurture: 0.2 }\n"                           \
    "channels:\n  email: { cost: \"0.02\" }\n  call: { cost: 4, human: true "  \
    "}\n"
/* lines 1-4; teams start at line 5 */
#define TAIL                                                                   \
    "routing:\n  - { team: sales }\n"                                          \
    "cadences:\n"                                                              \
    "  qualified:\n"                                                           \
    "    steps:\n"                                                             \
    "      - { channel: email, response_window: 1d }\n"                        \
    "      - { channel: call, response_window: 1d, deadline: 5m }\n"           \
    "  nurture:\n"                                                             \
    "    steps:\n"                                                             \
    "      - { channel: email, response_window: 1d }\n"

static lm_policy *parse(const char *text, char *err, size_t errsz) {
    return lm_policy_parse(text, strlen(text), "t.yaml", err, errsz);
}

Test(worktime, config_keys_are_read) {
    const char *y = HEAD "teams:\n"
                         "  sales:\n"
                         "    timezone: Europe/Berlin\n"
                         "    working_hours: \"08:00-16:00\"\n"
                         "    out_of_office: [\"2026-12-24..2026-12-26\"]\n"
                         "    lead: dana.cole\n"
                         "    owners:\n"
                         "      - { name: ann, capacity: 5 }\n"
                         "      - name: bob\n"
                         "        capacity: 5\n"
                         "        timezone: America/New_York\n"
                         "        working_days: [mon, tue]\n"
                         "        out_of_office: [\"2026-03-02..2026-03-03\"]\n"
                         "  other:\n"
                         "    owners: [ { name: cy, capacity: 1 } ]\n" TAIL
                         "handoff_deadline: 1h\n";
    char err[LM_POLICY_ERRSZ] = "";
    lm_policy *p = parse(y, err, sizeof err);
    cr_assert(p, "%s", err);
    const lm_team *t = lm_policy_team(p, "sales");
    cr_assert(t);
    cr_expect_str_eq(t->lead, "dana.cole");
    const lm_owner *ann = lm_policy_owner(p, "sales", "ann");
    const lm_owner *bob = lm_policy_owner(p, "sales", "bob");
    cr_assert(ann && bob && ann->work && bob->work);
    cr_expect_str_eq(ann->work->tz, "Europe/Berlin");
    cr_expect_eq(ann->work->start_min, 8 * 60);
    cr_expect_eq(ann->work->days_mask, 0x1f);
    cr_expect_eq(ann->work->n_away, 1);
    cr_expect_str_eq(bob->work->tz, "America/New_York");
    cr_expect_eq(bob->work->start_min, 8 * 60, "the team's hours");
    cr_expect_eq(bob->work->days_mask, 0x03);
    cr_expect_eq(bob->work->n_away, 2, "the team's days off and bob's");
    cr_expect_eq(bob->work->away[0].start_ms,
                 at("America/New_York", 2026, 12, 24, 0, 0),
                 "in bob's time zone");
    cr_expect_null(lm_policy_owner(p, "other", "cy")->work, "always working");
    cr_expect_null(lm_policy_team(p, "other")->lead);
    cr_expect_null(lm_policy_owner(p, "sales", "zed"));
    const lm_cadence *c = lm_policy_cadence(p, "qualified");
    cr_expect_eq(c->steps[0].deadline_ms, 0);
    cr_expect_eq(c->steps[1].deadline_ms, 5 * MIN_MS);
    cr_expect_eq(lm_policy_handoff_deadline_ms(p), 60 * MIN_MS);
    cr_expect(lm_policy_channel_is_human(p, "call"));
    cr_expect(lm_policy_channel_is_human(p, "handoff"));
    cr_expect(!lm_policy_channel_is_human(p, "email"));
    lm_policy_free(p);
}

Test(worktime, default_config_has_hours_deadlines_and_leads) {
    char err[LM_POLICY_ERRSZ] = "";
    lm_policy *p = lm_policy_load(NULL, err, sizeof err);
    cr_assert(p, "%s", err);
    cr_expect_gt(lm_policy_handoff_deadline_ms(p), 0);
    const lm_cadence *c = lm_policy_cadence(p, "qualified");
    int human_with_deadline = 0;
    for (size_t i = 0; i < c->n_steps; i++)
        if (lm_policy_channel_is_human(p, c->steps[i].channel))
            human_with_deadline += c->steps[i].deadline_ms > 0;
    cr_expect_gt(human_with_deadline, 0);
    for (size_t i = 0; i < lm_policy_team_count(p); i++) {
        const lm_team *t = lm_policy_team_at(p, i);
        cr_expect(t->lead != NULL, "team %s has a lead", t->name);
        for (size_t j = 0; j < t->n_owners; j++)
            cr_expect(t->owners[j].work != NULL, "%s has hours",
                      t->owners[j].name);
    }
    lm_policy_free(p);
}

typedef struct bad_case {
    const char *teams; /* from line 5 */
    const char *step;  /* the call step's extra keys */
    const char *want;
} bad_case;

#define ONE_OWNER "    owners: [ { name: ann, capacity: 5 } ]\n"

Test(worktime, config_errors_name_file_line_and_fix) {
    static const bad_case cases[] = {
        {"teams:\n  sales:\n    timezone: Europe/Berln\n" ONE_OWNER, "",
         "t.yaml:7: teams.sales.timezone: "},
        {"teams:\n  sales:\n    working_hours: \"9-17\"\n" ONE_OWNER, "",
         "t.yaml:7: teams.sales.working_hours: \"9-17\" is not a range of "
         "hours; write e.g. \"09:00-17:00\""},
        {"teams:\n  sales:\n    working_hours: \"18:00-08:00\"\n" ONE_OWNER, "",
         "t.yaml:7: teams.sales.working_hours: \"18:00-08:00\" ends before "
         "it starts (hours across midnight are not supported); write e.g. "
         "\"09:00-17:00\""},
        {"teams:\n  sales:\n    working_days: [mon, funday]\n" ONE_OWNER, "",
         "t.yaml:7: teams.sales.working_days[1]: \"funday\" is not a day"},
        {"teams:\n  sales:\n    out_of_office: "
         "[\"2026-12-31..2026-12-24\"]\n" ONE_OWNER,
         "",
         "t.yaml:7: teams.sales.out_of_office[0]: \"2026-12-31..2026-12-24\" "
         "ends before it starts"},
        {"teams:\n  sales:\n    out_of_office: \"2026-12-24\"\n" ONE_OWNER, "",
         "t.yaml:7: teams.sales.out_of_office: expected a list of windows"},
        {"teams:\n  sales:\n    owners:\n"
         "      - { name: ann, capacity: 5, working_hour: \"09:00-17:00\" }\n",
         "",
         "t.yaml:8: teams.sales.owners[0].working_hour: unknown key; did "
         "you mean \"working_hours\"?"},
        {"teams:\n  sales:\n    owners:\n"
         "      - { name: ann, capacity: 5, out_of_office: [\"2026-1-1..x\"] "
         "}\n",
         "",
         "t.yaml:8: teams.sales.owners[0].out_of_office[0]: "
         "\"2026-1-1..x\" is not a window of days"},
        {"teams:\n  sales:\n    lead: [a, b]\n" ONE_OWNER, "",
         "t.yaml:7: teams.sales.lead: expected"},
        {"teams:\n  sales:\n" ONE_OWNER, ", deadline: 5x",
         "t.yaml:14: cadences.qualified.steps[1].deadline: \"5x\" is not a "
         "duration"},
        {"teams:\n  sales:\n" ONE_OWNER, ", deadline: 40d",
         "t.yaml:14: cadences.qualified.steps[1].deadline: is longer than 30 "
         "days"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char y[4096], err[LM_POLICY_ERRSZ] = "";
        snprintf(y, sizeof y,
                 HEAD "%s"
                      "routing:\n  - { team: sales }\n"
                      "cadences:\n"
                      "  qualified:\n"
                      "    steps:\n"
                      "      - { channel: email, response_window: 1d }\n"
                      "      - { channel: call, response_window: 1d%s }\n"
                      "  nurture:\n"
                      "    steps:\n"
                      "      - { channel: email, response_window: 1d }\n",
                 cases[i].teams, cases[i].step);
        lm_policy *p = parse(y, err, sizeof err);
        cr_expect_null(p, "case %zu parsed", i);
        lm_policy_free(p);
        cr_expect(strstr(err, cases[i].want) != NULL,
                  "case %zu:\n  got  %s\n  want %s", i, err, cases[i].want);
    }
    /* a deadline on an email step; handoff_deadline */
    char err[LM_POLICY_ERRSZ] = "";
    const char *y =
        HEAD "teams:\n  sales:\n" ONE_OWNER "routing:\n  - { team: sales }\n"
             "cadences:\n"
             "  qualified:\n"
             "    steps:\n"
             "      - { channel: email, response_window: 1d, "
             "deadline: 5m }\n"
             "  nurture:\n"
             "    steps:\n"
             "      - { channel: email, response_window: 1d }\n"
             "handoff_deadline: soon\n";
    cr_expect_null(parse(y, err, sizeof err));
    cr_expect(strstr(err, "t.yaml:13: cadences.qualified.steps[0].deadline: "
                          "channel \"email\" is sent by a system") != NULL,
              "%s", err);
    y = HEAD "teams:\n  sales:\n" ONE_OWNER "routing:\n  - { team: sales }\n"
             "cadences:\n"
             "  qualified:\n"
             "    steps:\n"
             "      - { channel: email, response_window: 1d }\n"
             "  nurture:\n"
             "    steps:\n"
             "      - { channel: email, response_window: 1d }\n"
             "handoff_deadline: soon\n";
    cr_expect_null(parse(y, err, sizeof err));
    cr_expect(strstr(err, "t.yaml:17: handoff_deadline: \"soon\" is not a "
                          "duration") != NULL,
              "%s", err);
}
