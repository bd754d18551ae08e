/* test_policy.c — the decision config: loading, errors, queries (routing,
 * segments, durations). Allowed hours and candidate slots are in
 * test_policy_time.c.
 *
 * Table-driven. Error cases are whole small YAML texts built from the
 * sections below (each section's line count is noted so the expected
 * file:line can be checked by eye); every case names the exact
 * "t.yaml:<line>: <path>: <message>" fragment it must produce. Pure code;
 * runs anywhere with /usr/share/zoneinfo. */
#include "lm_policy.h"
#include "lm_tz.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL

/* ---- building blocks for configs ---------------------------------------- */

/* 1 line */
#define THR "thresholds: { qualified: 0.5, nurture: 0.2 }\n"
/* 3 lines */
#define CHN "channels:\n  email: { cost: \"0.02\" }\n  call: { cost: 4 }\n"
/* 4 lines */
#define TMS                                                                    \
    "teams:\n  sales:\n    owners:\n      - { name: ann, capacity: 5 }\n"
/* 2 lines */
#define RTE "routing:\n  - { team: sales }\n"
/* 7 lines */
#define CAD                                                                    \
    "cadences:\n"                                                              \
    "  qualified:\n"                                                           \
    "    steps:\n"                                                             \
    "      - { channel: email, response_window: 1d }\n"                        \
    "  nurture:\n"                                                             \
    "    steps:\n"                                                             \
    "      - { channel: email, response_window: 1d }\n"
/* the nurture half of CAD: 3 lines */
#define NUR                                                                    \
    "  nurture:\n"                                                             \
    "    steps:\n"                                                             \
    "      - { channel: email, response_window: 1d }\n"

/* THR CHN TMS RTE take lines 1-10, so "cadences:" is line 11, "qualified:"
 * line 12 and the first line inside the qualified cadence line 13. */
#define HEAD THR CHN TMS RTE "cadences:\n  qualified:\n"
/* a valid steps line for the qualified cadence */
#define STEPS "    steps: [ { channel: email, response_window: 1d } ]\n"

static lm_policy *parse(const char *text, char *err, size_t errsz) {
    return lm_policy_parse(text, strlen(text), "t.yaml", err, errsz);
}

/* ---- the default ------------------------------------------------------- */

Test(policy, default_loads_and_is_sensible) {
    char err[LM_POLICY_ERRSZ] = "x";
    lm_policy *p = lm_policy_load(NULL, err, sizeof err);
    const lm_cadence *q, *n;
    const lm_team *t;
    size_t i;

    cr_assert_not_null(p, "%s", err);
    cr_expect_str_eq(err, "");
    cr_expect_float_eq(lm_policy_threshold_qualified(p), 0.55, 1e-9);
    cr_expect_float_eq(lm_policy_threshold_nurture(p), 0.25, 1e-9);
    cr_expect_eq(lm_policy_dedupe_window_ms(p), 30 * DAY_MS);
    cr_expect_float_eq(lm_policy_control_share(p), 0.2, 1e-9);
    cr_expect_eq(lm_policy_channel_cost_cents(p, "email"), 2);
    cr_expect_eq(lm_policy_channel_cost_cents(p, "call"), 450);
    cr_expect_eq(lm_policy_channel_cost_cents(p, "linkedin"), 80);
    cr_expect_eq(lm_policy_channel_cost_cents(p, "sms"), 5);
    cr_expect_eq(lm_policy_channel_cost_cents(p, "fax"), -1);
    cr_expect_eq(lm_policy_channel_cost_cents(p, NULL), -1);

    q = lm_policy_cadence(p, "qualified");
    cr_assert_not_null(q);
    cr_expect_eq(q->n_steps, 5);
    cr_expect_str_eq(q->steps[0].channel, "email");
    cr_expect_eq(q->steps[0].wait_ms, 0);
    cr_expect_eq(q->steps[0].response_window_ms, 4 * HOUR_MS);
    cr_expect_str_eq(q->steps[1].channel, "call");
    cr_expect_eq(q->steps[1].wait_ms, 0);
    cr_expect_str_eq(q->steps[3].channel, "linkedin");
    cr_expect_str_eq(q->steps[4].channel, "email");
    for (i = 0; i < q->n_steps; i++)
        cr_expect_gt(q->steps[i].response_window_ms, 0);
    cr_expect_eq(q->allowed_start_min, 9 * 60);
    cr_expect_eq(q->allowed_end_min, 17 * 60);
    cr_expect_eq(q->business_days_mask, 0x1f);
    n = lm_policy_cadence(p, "nurture");
    cr_assert_not_null(n);
    cr_expect_eq(n->n_steps, 3);
    cr_expect_eq(n->steps[1].wait_ms, 7 * DAY_MS);
    cr_expect_eq(n->business_days_mask, 0x0e); /* tue, wed, thu */
    cr_expect_eq(n->allowed_start_min, 10 * 60);
    cr_expect_eq(n->allowed_end_min, 16 * 60);
    cr_expect_null(lm_policy_cadence(p, "vip"));

    cr_expect_eq(lm_policy_team_count(p), 6);
    for (i = 0; i < lm_policy_team_count(p); i++) {
        t = lm_policy_team_at(p, i);
        cr_expect(t->n_owners >= 2 && t->n_owners <= 4, "%s", t->name);
    }
    cr_expect_null(lm_policy_team_at(p, 6));
    t = lm_policy_team(p, "enterprise");
    cr_assert_not_null(t);
    cr_expect_str_eq(t->owners[0].name, "morgan.lee");
    cr_expect_eq(t->owners[0].capacity, 25);
    cr_expect_null(lm_policy_team(p, "Enterprise"));
    lm_policy_free(p);

    p = lm_policy_load("", err, sizeof err);
    cr_expect_not_null(p, "%s", err);
    lm_policy_free(p);
    lm_policy_free(NULL);
}

Test(policy, default_text_is_the_config_file) {
    char path[] = LM_SOURCE_DIR "/config/decisions.yaml";
    char err[LM_POLICY_ERRSZ];
    size_t len, got;
    const char *text = lm_policy_default_text(&len);
    char *file;
    FILE *f = fopen(path, "rb");
    lm_policy *p;

    cr_assert_not_null(f);
    file = malloc(len + 2);
    got = fread(file, 1, len + 1, f);
    fclose(f);
    cr_expect_eq(got, len, "embedded %zu bytes, file %zu", len, got);
    cr_expect_eq(memcmp(file, text, len), 0);
    cr_expect_eq(text[len], '\0');
    free(file);
    p = lm_policy_load(path, err, sizeof err);
    cr_expect_not_null(p, "%s", err);
    lm_policy_free(p);
}

/* ---- routing and segments ---------------------------------------------- */

Test(policy, default_routing_and_segments) {
    static const struct {
        const char *country;
        int32_t size;
        const char *source, *team, *segment;
    } cases[] = {
        {"US", 5000, NULL, "enterprise", "NA/ent"},
        {"DE", 1000, "web", "enterprise", "EMEA/ent"},
        {"US", 10, "web", "na", "NA/smb"},
        {"ca", 49, NULL, "na", "NA/smb"},
        {"US", 50, NULL, "na", "NA/mid"},
        {"de", 200, NULL, "emea", "EMEA/mid"},
        {"ZA", 999, NULL, "emea", "EMEA/mid"},
        {"JP", 999, NULL, "apac", "APAC/mid"},
        {"IN", 1, NULL, "apac", "APAC/smb"},
        {"BR", 1, NULL, "latam", "LATAM/smb"},
        {"MX", 300, NULL, "latam", "LATAM/mid"},
        {NULL, 10, NULL, "general", "OTHER/smb"},
        {"ZZ", 10, NULL, "general", "OTHER/smb"},
        {"", 2000, NULL, "enterprise", "OTHER/ent"},
        {"US", -1, NULL, "na", "NA/smb"},
    };
    char err[LM_POLICY_ERRSZ], seg[LM_POLICY_SEGMENT_MAX];
    lm_policy *p = lm_policy_load(NULL, err, sizeof err);
    size_t i;

    cr_assert_not_null(p, "%s", err);
    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        const lm_team *t = lm_policy_route(p, cases[i].country, cases[i].size,
                                           cases[i].source);
        cr_assert_not_null(t);
        cr_expect_str_eq(t->name, cases[i].team, "case %zu", i);
        cr_expect_eq(lm_policy_segment(p, cases[i].country, cases[i].size, seg,
                                       sizeof seg),
                     0);
        cr_expect_str_eq(seg, cases[i].segment, "case %zu", i);
    }
    cr_expect_eq(lm_policy_segment(p, "DE", 200, seg, 6), -1); /* "EMEA/" */
    cr_expect_str_eq(seg, "");
    cr_expect_eq(lm_policy_segment(p, "DE", 200, NULL, 0), -1);
    cr_expect_eq(lm_policy_segment(NULL, "DE", 200, seg, sizeof seg), -1);
    lm_policy_free(p);
}

Test(policy, custom_routing_rules) {
    static const char *text =
        "thresholds: { qualified: 0.6, nurture: 0.6 }\n"
        "dedupe_window: 1d12h\n"
        "deal_window: 2w\n"
        "control_share: 0\n"
        "channels: { email: { cost: 0 }, call: { cost: 12.5 } }\n"
        "segments:\n"
        "  size_bands:\n"
        "    - { name: tiny, below: 10 }\n"
        "    - { name: rest }\n"
        "routing:\n"
        "  - { sources: [Partner, referral], team: partners }\n"
        "  - { countries: [de, AT, CH], max_company_size: 499, team: dach }\n"
        "  - regions: [emea, APAC]\n"
        "    min_company_size: 100\n"
        "    max_company_size: 5000\n"
        "    team: intl\n"
        "  - { countries: JP, team: japan }\n"
        "  - { team: rest }\n"
        "teams:\n"
        "  partners: { owners: [ { name: p1, capacity: 1 } ] }\n"
        "  dach: { owners: [ { name: \"Jörg Müller\", capacity: 2 } ] }\n"
        "  intl: { owners: [ { name: i1, capacity: 3 }, { name: i2, "
        "capacity: 4 } ] }\n"
        "  japan: { owners: [ { name: j1, capacity: 3 } ] }\n"
        "  rest: { owners: [ { name: r1, capacity: 1000000 } ] }\n"
        "cadences:\n"
        "  qualified:\n"
        "    allowed_hours: \"08:30 - 24:00\"\n"
        "    business_days: [Monday, sat, SUN]\n"
        "    steps: [ { channel: call, wait: 0, response_window: 90s } ]\n"
        "  nurture: { steps: [ { channel: email, response_window: 1w } ] }\n"
        "  vip: { steps: [ { channel: call, wait: 5m, response_window: 4h } "
        "] }\n";
    static const struct {
        const char *country;
        int32_t size;
        const char *source, *team;
    } cases[] = {
        {"US", 10, "partner", "partners"}, /* sources: case-insensitive */
        {"DE", 5, "REFERRAL", "partners"}, {"DE", 499, "web", "dach"},
        {"at", 0, NULL, "dach"},           {"DE", 500, NULL, "intl"},
        {"de", 5000, NULL, "intl"},        {"DE", 5001, NULL, "rest"},
        {"JP", 100, NULL, "intl"},         {"JP", 99, NULL, "japan"},
        {"US", 200, NULL, "rest"},         {NULL, 200, NULL, "rest"},
        {"ZZ", 200, "webinar", "rest"},
    };
    char err[LM_POLICY_ERRSZ], seg[LM_POLICY_SEGMENT_MAX];
    lm_policy *p = parse(text, err, sizeof err);
    const lm_cadence *c;
    size_t i;

    cr_assert_not_null(p, "%s", err);
    for (i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_str_eq(
            lm_policy_route(p, cases[i].country, cases[i].size, cases[i].source)
                ->name,
            cases[i].team, "case %zu", i);
    cr_expect_eq(lm_policy_dedupe_window_ms(p), 36 * HOUR_MS);
    cr_expect_eq(lm_policy_deal_window_ms(p), 14 * DAY_MS);
    cr_expect_float_eq(lm_policy_control_share(p), 0.0, 1e-12);
    cr_expect_float_eq(lm_policy_threshold_nurture(p), 0.6, 1e-12);
    cr_expect_eq(lm_policy_channel_cost_cents(p, "email"), 0);
    cr_expect_eq(lm_policy_channel_cost_cents(p, "call"), 1250);
    cr_expect_str_eq(lm_policy_team(p, "dach")->owners[0].name, "Jörg Müller");
    cr_expect_eq(lm_policy_team(p, "intl")->n_owners, 2);
    cr_expect_eq(lm_policy_team(p, "rest")->owners[0].capacity, 1000000);
    lm_policy_segment(p, "DE", 9, seg, sizeof seg);
    cr_expect_str_eq(seg, "EMEA/tiny");
    lm_policy_segment(p, "DE", 10, seg, sizeof seg);
    cr_expect_str_eq(seg, "EMEA/rest");
    c = lm_policy_cadence(p, "qualified");
    cr_expect_eq(c->allowed_start_min, 8 * 60 + 30);
    cr_expect_eq(c->allowed_end_min, 24 * 60);
    cr_expect_eq(c->business_days_mask, 0x61);
    cr_expect_eq(c->steps[0].response_window_ms, 90000);
    c = lm_policy_cadence(p, "nurture");
    cr_expect_eq(c->allowed_start_min, 9 * 60); /* defaults */
    cr_expect_eq(c->allowed_end_min, 17 * 60);
    cr_expect_eq(c->business_days_mask, 0x1f);
    c = lm_policy_cadence(p, "vip");
    cr_assert_not_null(c);
    cr_expect_eq(c->steps[0].wait_ms, 5 * 60000);
    lm_policy_free(p);
}

Test(policy, optional_sections_default) {
    char err[LM_POLICY_ERRSZ], seg[LM_POLICY_SEGMENT_MAX];
    lm_policy *p =
        lm_policy_parse(THR CHN TMS RTE CAD, strlen(THR CHN TMS RTE CAD), NULL,
                        err, sizeof err);

    cr_assert_not_null(p, "%s", err);
    cr_expect_eq(lm_policy_dedupe_window_ms(p), 30 * DAY_MS);
    cr_expect_eq(lm_policy_deal_window_ms(p), 60 * DAY_MS);
    cr_expect_float_eq(lm_policy_control_share(p), 0.2, 1e-12);
    lm_policy_segment(p, "US", 49, seg, sizeof seg);
    cr_expect_str_eq(seg, "NA/smb");
    lm_policy_segment(p, "US", 999, seg, sizeof seg);
    cr_expect_str_eq(seg, "NA/mid");
    lm_policy_segment(p, "US", 1000, seg, sizeof seg);
    cr_expect_str_eq(seg, "NA/ent");
    cr_expect_str_eq(lm_policy_route(p, "US", 1, NULL)->name, "sales");
    lm_policy_free(p);
}

/* ---- durations --------------------------------------------------------- */

Test(policy, durations) {
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {
        {"0", 0},
        {"90s", 90000},
        {"30m", 1800000},
        {"4h", 4 * HOUR_MS},
        {"2d", 2 * DAY_MS},
        {"1w", 7 * DAY_MS},
        {"1d12h", 36 * HOUR_MS},
        {"1h30m", 90 * 60000},
        {"1w2d3h4m5s", 9 * DAY_MS + 3 * HOUR_MS + 4 * 60000 + 5000},
        {"0s", 0},
        {"3660d", 3660 * DAY_MS},
    };
    static const char *const bad[] = {
        "",   "2x",     "30",           "d",     "-1d", "1.5h", "1d ", " 1d",
        "1D", "4hours", "99999999999w", "3661d", "1d1", "ms",   "+1d"};
    size_t i;
    int64_t ms;

    for (i = 0; i < sizeof good / sizeof *good; i++) {
        ms = -7;
        cr_expect_eq(lm_policy_parse_duration(good[i].s, &ms), 0, "%s",
                     good[i].s);
        cr_expect_eq(ms, good[i].ms, "%s", good[i].s);
    }
    for (i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(lm_policy_parse_duration(bad[i], &ms), -1, "\"%s\"",
                     bad[i]);
    cr_expect_eq(lm_policy_parse_duration(NULL, &ms), -1);
    cr_expect_eq(lm_policy_parse_duration("1d", NULL), -1);
}

/* ---- errors ------------------------------------------------------------ */

Test(policy, errors_name_file_line_and_fix) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        /* YAML itself */
        {THR "dedupe_window: 30d: x\n",
         "t.yaml:2: YAML syntax error: mapping values are not allowed"},
        {"", "t.yaml:1: the file is empty"},
        {"# only a comment\n", "t.yaml:1: the file is empty"},
        {"- a\n- b\n", "t.yaml:1: the file must be a mapping of settings"},
        {THR CHN TMS RTE CAD "---\nthresholds: {}\n",
         "t.yaml:18: a second YAML document starts here"},
        {THR "# caf\xe9\n" CHN TMS RTE CAD, "t.yaml:2: the file is not valid "
                                            "UTF-8 text"},
        /* top level */
        {THR "tresholds: 1\n" CHN TMS RTE CAD,
         "t.yaml:2: tresholds: unknown key; did you mean \"thresholds\"?"},
        {THR CHN "colour: red\n" TMS RTE CAD,
         "t.yaml:5: colour: unknown key; the keys here are thresholds, "
         "dedupe_window, deal_window, control_share, channels, segments, "
         "routing, teams, cadences"},
        {THR THR CHN TMS RTE CAD,
         "t.yaml:2: thresholds: duplicate key (first set on line 1); keep "
         "one"},
        {THR CHN RTE CAD, "t.yaml:1: missing \"teams\"; add e.g. \"teams: {"},
        {CHN TMS RTE CAD, "t.yaml:1: missing \"thresholds\"; add e.g. "
                          "\"thresholds: { qualified: 0.55, nurture: 0.25 }\""},
        /* thresholds */
        {"thresholds: { qualified: abc, nurture: 0.2 }\n" CHN TMS RTE CAD,
         "t.yaml:1: thresholds.qualified: \"abc\" is not a number; write e.g. "
         "0.55"},
        {"thresholds: { qualified: 1.5, nurture: 0.2 }\n" CHN TMS RTE CAD,
         "t.yaml:1: thresholds.qualified: 1.5 is out of range; use a number "
         "from 0 to 1"},
        {"thresholds:\n  qualified: 0.5\n  nurture: 0.7\n" CHN TMS RTE CAD,
         "t.yaml:3: thresholds.nurture: 0.7 is above thresholds.qualified "
         "(0.5); nurture must not be above qualified"},
        {"thresholds:\n  qualified: 0.5\n" CHN TMS RTE CAD,
         "t.yaml:1: thresholds: missing \"nurture\"; add e.g. \"nurture: "
         "0.25\""},
        {"thresholds:\n  qualifed: 0.5\n" CHN TMS RTE CAD,
         "t.yaml:2: thresholds.qualifed: unknown key; did you mean "
         "\"qualified\"?"},
        {"thresholds:\n  - 0.5\n" CHN TMS RTE CAD,
         "t.yaml:2: thresholds: expected a mapping, found a list"},
        {"thresholds: 0.5\n" CHN TMS RTE CAD,
         "t.yaml:1: thresholds: expected a mapping, found the value \"0.5\""},
        {"thresholds: &a { qualified: *a, nurture: 0.2 }\n" CHN TMS RTE CAD,
         "t.yaml:1: thresholds.qualified: expected a single value, found a "
         "mapping"},
        {"thresholds: { qualified: 0.5, nurture: }\n" CHN TMS RTE CAD,
         "t.yaml:1: thresholds.nurture: has no value; write e.g. 0.25"},
        /* dedupe_window, control_share */
        {THR "dedupe_window: 2x\n" CHN TMS RTE CAD,
         "t.yaml:2: dedupe_window: \"2x\" is not a duration; write e.g. "
         "\"30m\", \"4h\" or \"2d\""},
        {THR "dedupe_window: 0\n" CHN TMS RTE CAD,
         "t.yaml:2: dedupe_window: must be longer than 0; write e.g. \"1d\""},
        {THR "dedupe_window: 30\n" CHN TMS RTE CAD,
         "t.yaml:2: dedupe_window: \"30\" has no unit; write e.g. \"30m\" "
         "(minutes), \"30h\" (hours) or \"30d\" (days)"},
        {THR "dedupe_window:\n" CHN TMS RTE CAD,
         "t.yaml:2: dedupe_window: has no value; write e.g. \"4h\""},
        {THR "dedupe_window: 9999w\n" CHN TMS RTE CAD,
         "t.yaml:2: dedupe_window: \"9999w\" is longer than 3660 days"},
        /* deal_window: a duration like the others */
        {THR "deal_window: 2x\n" CHN TMS RTE CAD,
         "t.yaml:2: deal_window: \"2x\" is not a duration; write e.g. "
         "\"30m\", \"4h\" or \"2d\""},
        {THR "deal_window: 0\n" CHN TMS RTE CAD,
         "t.yaml:2: deal_window: must be longer than 0; write e.g. \"1d\""},
        {THR "deal_window: 60\n" CHN TMS RTE CAD,
         "t.yaml:2: deal_window: \"60\" has no unit; write e.g. \"60m\" "
         "(minutes), \"60h\" (hours) or \"60d\" (days)"},
        {THR "deal_windw: 60d\n" CHN TMS RTE CAD,
         "t.yaml:2: deal_windw: unknown key; did you mean \"deal_window\"?"},
        {THR "control_share: 1.2\n" CHN TMS RTE CAD,
         "t.yaml:2: control_share: 1.2 is out of range; use a number from 0 "
         "to 1"},
        {THR "control_share: lots\n" CHN TMS RTE CAD,
         "t.yaml:2: control_share: \"lots\" is not a number"},
        /* channels */
        {THR "channels:\n  email: { cost: \"0.025\" }\n" TMS RTE CAD,
         "t.yaml:3: channels.email.cost: \"0.025\" has more than 2 decimals; "
         "costs are kept in cents, write e.g. \"0.03\""},
        {THR "channels:\n  email: { cost: \"-1\" }\n" TMS RTE CAD,
         "t.yaml:3: channels.email.cost: \"-1\" is not an amount of money; "
         "write e.g. \"0.02\" or \"4.50\""},
        {THR "channels:\n  email: { cost: $1 }\n" TMS RTE CAD,
         "t.yaml:3: channels.email.cost: \"$1\" is not an amount of money"},
        {THR "channels:\n  email: { cost: 2000000 }\n" TMS RTE CAD,
         "t.yaml:3: channels.email.cost: \"2000000\" is too large"},
        {THR "channels:\n  email: {}\n" TMS RTE CAD,
         "t.yaml:3: channels.email: missing \"cost\"; add e.g. \"cost: "
         "0.02\""},
        {THR "channels:\n  email: 0.02\n" TMS RTE CAD,
         "t.yaml:3: channels.email: expected a mapping, found the value "
         "\"0.02\"; write e.g. \"email: { cost: 0.02 }\""},
        {THR "channels:\n  email: { cost: 1, costs: 2 }\n" TMS RTE CAD,
         "t.yaml:3: channels.email.costs: unknown key; did you mean "
         "\"cost\"?"},
        {THR "channels:\n  e mail: { cost: 1 }\n" TMS RTE CAD,
         "t.yaml:3: channels.e mail: \"e mail\" is not a valid channel name; "
         "use letters, digits, '_', '-' or '.'"},
        {THR
         "channels:\n  email: { cost: 1 }\n  email: { cost: 2 }\n" TMS RTE CAD,
         "t.yaml:4: channels.email: channel defined twice (first on line 3); "
         "keep one"},
        {THR "channels: {}\n" TMS RTE CAD, "t.yaml:2: channels: no channels"},
        {THR "channels: [email]\n" TMS RTE CAD,
         "t.yaml:2: channels: expected a mapping of channels, found a list"},
        /* segments */
        {THR CHN "segments:\n  size_bands:\n    - { name: smb, below: 50 }\n"
                 "    - { name: big, below: 500 }\n" TMS RTE CAD,
         "t.yaml:8: segments.size_bands[1].below: the last band must have no "
         "\"below\""},
        {THR CHN "segments:\n  size_bands:\n    - { name: smb }\n"
                 "    - { name: big }\n" TMS RTE CAD,
         "t.yaml:7: segments.size_bands[0]: only the last band may leave out "
         "\"below\"; add e.g. \"below: 1000\""},
        {THR CHN
         "segments:\n  size_bands:\n    - { name: a, below: 50 }\n"
         "    - { name: b, below: 40 }\n    - { name: c }\n" TMS RTE CAD,
         "t.yaml:8: segments.size_bands[1].below: 40 is not above the "
         "previous band's 50; list bands from small to large"},
        {THR CHN "segments:\n  size_bands:\n    - { name: a, below: 50 }\n"
                 "    - { name: a }\n" TMS RTE CAD,
         "t.yaml:8: segments.size_bands[1].name: band \"a\" is listed twice"},
        {THR CHN "segments:\n  size_bands:\n    - { name: a, below: 0 }\n"
                 "    - { name: b }\n" TMS RTE CAD,
         "t.yaml:7: segments.size_bands[0].below: 0 is out of range"},
        {THR CHN "segments:\n  size_bands: []\n" TMS RTE CAD,
         "t.yaml:6: segments.size_bands: no bands"},
        {THR CHN "segments:\n  bands: []\n" TMS RTE CAD,
         "t.yaml:6: segments.bands: unknown key; the keys here are "
         "size_bands"},
        {THR CHN "segments: {}\n" TMS RTE CAD,
         "t.yaml:5: segments: missing \"size_bands\""},
        /* teams */
        {THR CHN "teams:\n  sales: {}\n" RTE CAD,
         "t.yaml:6: teams.sales: missing \"owners\""},
        {THR CHN "teams:\n  sales:\n    owners: []\n" RTE CAD,
         "t.yaml:7: teams.sales.owners: the team has no owners"},
        {THR CHN "teams:\n  sales:\n    owners:\n      - { name: ann, "
                 "capacity: 0 }\n" RTE CAD,
         "t.yaml:8: teams.sales.owners[0].capacity: 0 is out of range; use a "
         "whole number from 1 to 1000000"},
        {THR CHN "teams:\n  sales:\n    owners:\n      - { name: ann, "
                 "capacity: lots }\n" RTE CAD,
         "t.yaml:8: teams.sales.owners[0].capacity: \"lots\" is not a whole "
         "number; write e.g. 50"},
        {THR CHN "teams:\n  sales:\n    owners:\n      - { name: ann, "
                 "capacity: 2.5 }\n" RTE CAD,
         "t.yaml:8: teams.sales.owners[0].capacity: \"2.5\" is not a whole "
         "number"},
        {THR CHN "teams:\n  sales:\n    owners:\n      - { name: ann, "
                 "capacity: 1 }\n      - { name: ann, capacity: 2 }\n" RTE CAD,
         "t.yaml:9: teams.sales.owners[1].name: owner \"ann\" is listed twice "
         "in team \"sales\"; keep one"},
        {THR CHN
         "teams:\n  sales:\n    owners:\n      - { name: ann }\n" RTE CAD,
         "t.yaml:8: teams.sales.owners[0]: missing \"capacity\"; add e.g. "
         "\"capacity: 50\""},
        {THR CHN "teams:\n  sales:\n    owners:\n      - ann\n" RTE CAD,
         "t.yaml:8: teams.sales.owners[0]: expected a mapping, found the "
         "value \"ann\""},
        {THR CHN "teams: {}\n" RTE CAD, "t.yaml:5: teams: no teams"},
        {THR CHN "teams:\n  sales: 5\n" RTE CAD,
         "t.yaml:6: teams.sales: expected a mapping, found the value \"5\"; "
         "write e.g. \"owners:\" with a list of { name, capacity } on the "
         "next line"},
        {THR CHN "teams:\n  sales:\n    owners: ann\n" RTE CAD,
         "t.yaml:7: teams.sales.owners: expected a list of owners, found the "
         "value \"ann\"; write e.g. \"- { name: robin, capacity: 50 }\""},
        {THR CHN
         "teams:\n  sales:\n    owners:\n      - { capacity: 5 }\n" RTE CAD,
         "t.yaml:8: teams.sales.owners[0]: missing \"name\"; add e.g. "
         "\"name: robin\""},
        {THR CHN "teams:\n  sales:\n    owners:\n      - name:\n"
                 "        capacity: 5\n" RTE CAD,
         "t.yaml:8: teams.sales.owners[0].name: has no value; write e.g. "
         "robin"},
        {THR CHN "teams:\n  sales:\n    owners:\n      - { name: \"a\\tb\", "
                 "capacity: 5 }\n" RTE CAD,
         "t.yaml:8: teams.sales.owners[0].name: owner name contains a control "
         "character; remove it"},
        /* routing (lines 1-8 are THR CHN TMS; "routing:" is line 9) */
        {THR CHN TMS "routing:\n  - { regions: [NA], team: sales }\n" CAD,
         "t.yaml:10: routing[0]: the last rule must have no conditions: it is "
         "the fallback for every other lead; add e.g. \"- { team: sales }\" "
         "after it"},
        {THR CHN TMS "routing:\n  - { team: sales }\n"
                     "  - { regions: [NA], team: sales }\n" CAD,
         "t.yaml:10: routing[0]: this rule has no conditions, so the rules "
         "after it can never match; move it to the end"},
        {THR CHN TMS "routing:\n  - { team: sale }\n" CAD,
         "t.yaml:10: routing[0].team: unknown team \"sale\"; did you mean "
         "\"sales\"?"},
        {THR CHN TMS "routing:\n  - { team: xyz }\n" CAD,
         "t.yaml:10: routing[0].team: unknown team \"xyz\"; the teams are "
         "sales (add it under teams:)"},
        {THR CHN TMS "routing:\n  - { regions: [NA, EU], team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].regions[1]: unknown region \"EU\"; use one of "
         "NA, LATAM, EMEA, APAC"},
        {THR CHN TMS "routing:\n  - { countries: [US, UK], team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].countries[1]: unknown country \"UK\"; the ISO "
         "code of the United Kingdom is \"GB\""},
        {THR CHN TMS "routing:\n  - countries: XX\n    team: sales\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].countries: unknown country \"XX\"; use ISO "
         "3166-1 alpha-2 codes"},
        {THR CHN TMS "routing:\n  - { min_company_size: 100, "
                     "max_company_size: 10, team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].max_company_size: 10 is below "
         "min_company_size (100); no company can match, swap them"},
        {THR CHN TMS "routing:\n  - { min_company_size: -5, team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].min_company_size: -5 is out of range"},
        {THR CHN TMS "routing:\n  - { regions: [], team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].regions: the list is empty"},
        {THR CHN TMS "routing:\n  - { region: [NA], team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].region: unknown key; did you mean "
         "\"regions\"?"},
        {THR CHN TMS
         "routing:\n  - { regions: [NA] }\n  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0]: missing \"team\"; add e.g. \"team: "
         "general\""},
        {THR CHN TMS "routing:\n  team: sales\n" CAD,
         "t.yaml:10: routing: expected a list of rules, found a mapping"},
        {THR CHN TMS "routing: []\n" CAD, "t.yaml:9: routing: no rules"},
        {THR CHN TMS "routing:\n  - sales\n" CAD,
         "t.yaml:10: routing[0]: expected a mapping, found the value "
         "\"sales\"; write e.g. \"- { regions: [NA], team: na }\""},
        {THR CHN TMS "routing:\n  - { countries: {}, team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].countries: expected a list, found a mapping; "
         "write e.g. [US, CA]"},
        {THR CHN TMS "routing:\n  - { regions: [], team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].regions: the list is empty; list at least one "
         "item (e.g. [NA, EMEA]) or remove the key"},
        {THR CHN TMS "routing:\n  - { min_company_size: few, team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].min_company_size: \"few\" is not a whole "
         "number; write e.g. 1000"},
        {THR CHN TMS "routing:\n  - { max_company_size: many, team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].max_company_size: \"many\" is not a whole "
         "number; write e.g. 999"},
        {THR CHN TMS "routing:\n  - { max_company_size: -1, team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].max_company_size: -1 is out of range; use a "
         "whole number from 0 to 2147483647"},
        {THR CHN TMS "routing:\n  - { sources: { a: 1 }, team: sales }\n"
                     "  - { team: sales }\n" CAD,
         "t.yaml:10: routing[0].sources: expected a list, found a mapping; "
         "write e.g. [webinar, partner]"},
        {THR CHN TMS "routing:\n  - { team: }\n" CAD,
         "t.yaml:10: routing[0].team: has no value; write e.g. general"},
        /* cadences ("cadences:" is line 11) */
        {THR CHN TMS RTE "cadences:\n  qualified:\n    steps:\n"
                         "      - { channel: email, response_window: 1d }\n",
         "t.yaml:11: cadences: missing the \"nurture\" cadence; it is "
         "required for NURTURE leads"},
        {THR CHN TMS RTE "cadences:\n  qualified:\n    steps:\n"
                         "      - { channel: email, response_window: 1d }\n"
                         "  nurtur:\n    steps:\n"
                         "      - { channel: email, response_window: 1d }\n",
         "t.yaml:11: cadences: missing the \"nurture\" cadence (is \"nurtur\" "
         "a typo?)"},
        {HEAD "    steps:\n"
              "      - { channel: email, response_window: 1d }\n"
              "      - { channel: email, wait: 2x, response_window: 1d }\n" NUR,
         "t.yaml:15: cadences.qualified.steps[1].wait: \"2x\" is not a "
         "duration; write e.g. \"30m\", \"4h\" or \"2d\""},
        {HEAD "    steps:\n"
              "      - { channel: phone, response_window: 1d }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0].channel: unknown channel "
         "\"phone\"; the channels are email, call (add it under channels:)"},
        {HEAD "    steps:\n"
              "      - { channel: emial, response_window: 1d }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0].channel: unknown channel "
         "\"emial\"; did you mean \"email\"?"},
        {HEAD "    steps:\n"
              "      - { channel: email, response_window: 0 }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0].response_window: must be "
         "longer than 0"},
        {HEAD "    steps:\n"
              "      - { channel: email }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0]: missing "
         "\"response_window\"; add e.g. \"response_window: 1d\""},
        {HEAD "    steps:\n"
              "      - { channel: email, respone_window: 1d }\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0].respone_window: unknown key; "
         "did you mean \"response_window\"?"},
        {HEAD "    steps:\n"
              "      - email\n" NUR,
         "t.yaml:14: cadences.qualified.steps[0]: expected a mapping, found "
         "the value \"email\""},
        {HEAD "    steps: []\n" NUR,
         "t.yaml:13: cadences.qualified.steps: no steps"},
        {HEAD "    allowed_hours: 9-17\n" STEPS NUR,
         "t.yaml:13: cadences.qualified.allowed_hours: \"9-17\" is not a "
         "range of hours; write e.g. \"09:00-17:00\""},
        {HEAD "    allowed_hours: \"17:00-09:00\"\n" STEPS NUR,
         "t.yaml:13: cadences.qualified.allowed_hours: \"17:00-09:00\" ends "
         "before it starts (windows across midnight are not supported); "
         "write e.g. \"09:00-17:00\""},
        {HEAD "    allowed_hours: \"25:00-26:00\"\n" STEPS NUR,
         "t.yaml:13: cadences.qualified.allowed_hours: \"25:00-26:00\" is not "
         "a range of hours"},
        {HEAD "    allowed_hours: \"09:60-17:00\"\n" STEPS NUR,
         "t.yaml:13: cadences.qualified.allowed_hours: \"09:60-17:00\" is not "
         "a range of hours"},
        {HEAD "    business_days: [mon, fry]\n" STEPS NUR,
         "t.yaml:13: cadences.qualified.business_days[1]: \"fry\" is not a "
         "day; use mon, tue, wed, thu, fri, sat or sun"},
        {HEAD "    business_days: [mon, Mon]\n" STEPS NUR,
         "t.yaml:13: cadences.qualified.business_days[1]: \"Mon\" is listed "
         "twice"},
        {HEAD "    business_days: []\n" STEPS NUR,
         "t.yaml:13: cadences.qualified.business_days: no days"},
        {HEAD "    business_days: mon-fri\n" STEPS NUR,
         "t.yaml:13: cadences.qualified.business_days: expected a list of "
         "days, found the value \"mon-fri\""},
        {HEAD "    step:\n" NUR,
         "t.yaml:13: cadences.qualified.step: unknown key; did you mean "
         "\"steps\"?"},
        {HEAD "    allowed_hours: \"09:00-17:00\"\n" NUR,
         "t.yaml:12: cadences.qualified: missing \"steps\""},
        {THR CHN TMS RTE
         "cadences:\n  qualified:\n    steps:\n"
         "      - { channel: email, response_window: 1d }\n" NUR NUR,
         "t.yaml:18: cadences.nurture: cadence defined twice (first on line "
         "15); keep one"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[LM_POLICY_ERRSZ] = "";
        lm_policy *p = parse(cases[i].text, err, sizeof err);
        cr_expect_null(p, "case %zu loaded; wanted %s", i, cases[i].want);
        lm_policy_free(p);
        cr_expect_eq(strncmp(err, cases[i].want, strlen(cases[i].want)), 0,
                     "case %zu:\n  got  %s\n  want %s", i, err, cases[i].want);
    }
}

/* The limits and lengths of teams and rules, too long to write out as
 * table cases: each text is built here, the message compared whole. */
Test(policy, errors_at_the_limits_of_teams_and_rules) {
    char text[16384], err[LM_POLICY_ERRSZ];
    char name[LM_POLICY_OWNER_MAX + 2];
    size_t off;
    lm_policy *p;

    /* one owner more than a team may have */
    off = (size_t)snprintf(text, sizeof text,
                           THR CHN "teams:\n  sales:\n    owners:\n");
    for (int i = 0; i <= LM_POLICY_MAX_OWNERS; i++)
        off += (size_t)snprintf(text + off, sizeof text - off,
                                "      - { name: o%d, capacity: 1 }\n", i);
    snprintf(text + off, sizeof text - off, RTE CAD);
    cr_assert_lt(strlen(text) + 1, sizeof text);
    p = parse(text, err, sizeof err);
    cr_expect_null(p);
    lm_policy_free(p);
    cr_expect_str_eq(err, "t.yaml:7: teams.sales.owners: more than 256 owners");

    /* an owner name one character too long */
    memset(name, 'x', LM_POLICY_OWNER_MAX + 1);
    name[LM_POLICY_OWNER_MAX + 1] = '\0';
    snprintf(text, sizeof text,
             THR CHN "teams:\n  sales:\n    owners:\n"
                     "      - { name: %s, capacity: 1 }\n" RTE CAD,
             name);
    p = parse(text, err, sizeof err);
    cr_expect_null(p);
    lm_policy_free(p);
    cr_expect_str_eq(err, "t.yaml:8: teams.sales.owners[0].name: owner name "
                          "is longer than 128 characters");

    /* a source name one character too long */
    name[LM_POLICY_NAME_MAX + 1] = '\0';
    snprintf(text, sizeof text,
             THR CHN TMS "routing:\n  - { sources: [webinar, %s], team: sales "
                         "}\n  - { team: sales }\n" CAD,
             name);
    p = parse(text, err, sizeof err);
    cr_expect_null(p);
    lm_policy_free(p);
    cr_expect_str_eq(err, "t.yaml:10: routing[0].sources[1]: source name is "
                          "longer than 64 characters");
}

Test(policy, load_errors_name_the_file) {
    char err[LM_POLICY_ERRSZ];
    char dir[] = "/tmp/lm_policy_test.XXXXXX";
    char path[128];
    FILE *f;

    cr_expect_null(lm_policy_load("/nonexistent/x.yaml", err, sizeof err));
    cr_expect_str_eq(err, "/nonexistent/x.yaml: cannot open: No such file "
                          "or directory");
    cr_expect_null(lm_policy_load("/tmp", err, sizeof err));
    cr_expect_str_eq(err, "/tmp: not a regular file");

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/decisions.yaml", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(THR "control_share: 2\n" CHN TMS RTE CAD, f);
    fclose(f);
    cr_expect_null(lm_policy_load(path, err, sizeof err));
    cr_expect_eq(strncmp(err, path, strlen(path)), 0, "%s", err);
    cr_expect_not_null(strstr(err, ":2: control_share: 2 is out of range"),
                       "%s", err);
    unlink(path);
    rmdir(dir);

    /* the name used when none is given, and a NULL text */
    cr_expect_null(lm_policy_parse("x: 1\n", 5, NULL, err, sizeof err));
    cr_expect_eq(strncmp(err, "decisions.yaml:1: x: unknown key", 32), 0, "%s",
                 err);
    cr_expect_null(lm_policy_parse(NULL, 0, "t.yaml", err, sizeof err));
    cr_expect_null(lm_policy_parse("x: 1\n", 5, "t.yaml", NULL, 0));
    /* a tiny err buffer is truncated, never overrun */
    {
        char tiny[8];
        memset(tiny, 'z', sizeof tiny);
        cr_expect_null(lm_policy_parse("x: 1\n", 5, "t.yaml", tiny, 6));
        cr_expect_str_eq(tiny, "t.yam");
        cr_expect_eq(tiny[6], 'z');
    }
}
