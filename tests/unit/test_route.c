/* test_route.c — the routing choice (lm_route.h) and its config keys
 * (routing_options, accounts, teams.<t>.overflow, owners[i].weight).
 *
 * A small config: team a (ann capacity 2 weight 2, al capacity 1)
 * overflows into b (bea capacity 1); c (cy capacity 1) has no overflow.
 * Loads are given per team; every case checks who gets the lead, whether
 * it takes a slot, and why. Pure code. */
#include "lm_policy.h"
#include "lm_route.h"
#include "lm_worktime.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define THR "thresholds: { qualified: 0.5, nurture: 0.2 }\n"
#define CHN "channels:\n  email: { cost: \"0.02\" }\n"
#define CAD                                                                    \
    "cadences:\n"                                                              \
    "  qualified:\n"                                                           \
    "    steps:\n"                                                             \
    "      - { channel: email, response_window: 1d }\n"                        \
    "  nurture:\n"                                                             \
    "    steps:\n"                                                             \
    "      - { channel: email, response_window: 1d }\n"
/* lines 4-14 */
#define TEAMS                                                                  \
    "teams:\n"                                                                 \
    "  a:\n"                                                                   \
    "    overflow: b\n"                                                        \
    "    owners:\n"                                                            \
    "      - { name: ann, capacity: 2, weight: 2 }\n"                          \
    "      - { name: al, capacity: 1 }\n"                                      \
    "  b:\n"                                                                   \
    "    owners: [ { name: bea, capacity: 1 } ]\n"                             \
    "  c:\n"                                                                   \
    "    owners: [ { name: cy, capacity: 1 } ]\n"
#define RTE "routing:\n  - { countries: [US], team: c }\n  - { team: a }\n"

static lm_policy *parse(const char *text, char *err, size_t errsz) {
    return lm_policy_parse(text, strlen(text), "t.yaml", err, errsz);
}

static lm_policy *pol;
static int64_t la[2], lb[1], lc[1];
static const int64_t *loads[3];
static uint64_t rr[3];

static void setup(void) {
    char err[LM_POLICY_ERRSZ] = "";
    pol = parse(THR CHN TEAMS RTE CAD, err, sizeof err);
    cr_assert_not_null(pol, "%s", err);
    memset(la, 0, sizeof la);
    memset(lb, 0, sizeof lb);
    memset(lc, 0, sizeof lc);
    memset(rr, 0, sizeof rr);
    loads[0] = la;
    loads[1] = lb;
    loads[2] = lc;
}

static void teardown(void) {
    lm_policy_free(pol);
}

TestSuite(route, .init = setup, .fini = teardown);

static lm_route_choice choose(const char *team, int nurture,
                              const char *acct_team, size_t acct_owner,
                              lm_route_avail_fn avail) {
    lm_route_in in = {0};
    lm_route_choice ch;
    in.policy = pol;
    in.team = lm_policy_team(pol, team);
    in.nurture = nurture;
    in.acct_team = acct_team ? lm_policy_team(pol, acct_team) : NULL;
    in.acct_owner = acct_owner;
    in.loads = loads;
    in.rr = rr;
    in.avail = avail;
    lm_route_choose(&in, &ch);
    return ch;
}

static const char *who(lm_route_choice ch) {
    return ch.why == LM_ROUTE_UNASSIGNED ? "-" : ch.team->owners[ch.owner].name;
}

Test(route, config_keys_are_read) {
    const lm_team *a = lm_policy_team(pol, "a");
    cr_assert_not_null(a);
    cr_expect_eq(a->owners[0].weight, 2);
    cr_expect_eq(a->owners[1].weight, 1, "weight defaults to 1");
    cr_expect_eq(a->overflow, lm_policy_team(pol, "b"));
    cr_expect_null(lm_policy_team(pol, "c")->overflow);
    const lm_routing_options *o = lm_policy_routing_options(pol);
    cr_expect_eq(o->nurture_takes_capacity, 0, "default: nurture is free");
    cr_expect_eq(o->accounts_same_owner, 1, "default: accounts on");
    cr_expect_eq(o->accounts_pause_on_reply, 0);
    cr_expect_eq(lm_policy_team_index(pol, lm_policy_team(pol, "c")), 2);
    cr_expect_eq(lm_policy_team_index(pol, NULL), (size_t)-1);

    char err[LM_POLICY_ERRSZ] = "";
    lm_policy *p = parse(THR CHN TEAMS RTE CAD
                         "routing_options: { nurture_takes_capacity: true }\n"
                         "accounts: { same_owner: off, pause_on_reply: yes }\n",
                         err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_expect_eq(lm_policy_routing_options(p)->nurture_takes_capacity, 1);
    cr_expect_eq(lm_policy_routing_options(p)->accounts_same_owner, 0);
    cr_expect_eq(lm_policy_routing_options(p)->accounts_pause_on_reply, 1);
    lm_policy_free(p);
}

Test(route, config_errors_name_line_and_fix) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        {THR CHN TEAMS RTE CAD "routing_options: { nurture_takes_capacity: "
                               "maybe }\n",
         "t.yaml:24: routing_options.nurture_takes_capacity: \"maybe\" is "
         "not true or false; write true or false"},
        {THR CHN TEAMS RTE CAD "routing_options: { nurture_capacity: no }\n",
         "t.yaml:24: routing_options.nurture_capacity: unknown key; the keys "
         "here are nurture_takes_capacity"},
        {THR CHN TEAMS RTE CAD "routing_options: true\n",
         "t.yaml:24: routing_options: expected a mapping"},
        {THR CHN TEAMS RTE CAD "accounts: { same_owners: true }\n",
         "t.yaml:24: accounts.same_owners: unknown key; did you mean "
         "\"same_owner\"?"},
        {THR CHN TEAMS RTE CAD "accounts: { pause_on_reply: 2 }\n",
         "t.yaml:24: accounts.pause_on_reply: \"2\" is not true or false"},
        {THR CHN
         "teams:\n  a:\n    overflow: bb\n    owners: [ { name: x, "
         "capacity: 1 } ]\n  b:\n    owners: [ { name: y, capacity: 1 } ]\n"
         "routing: [ { team: a } ]\n" CAD,
         "t.yaml:6: teams.a.overflow: unknown team \"bb\"; did you mean "
         "\"b\"?"},
        {THR CHN "teams:\n  a:\n    overflow: a\n    owners: [ { name: x, "
                 "capacity: 1 } ]\n"
                 "routing: [ { team: a } ]\n" CAD,
         "t.yaml:6: teams.a.overflow: a team cannot overflow into itself"},
        {THR CHN
         "teams:\n  a:\n    owners: [ { name: x, capacity: 1, weight: 0 } "
         "]\n"
         "routing: [ { team: a } ]\n" CAD,
         "t.yaml:6: teams.a.owners[0].weight: 0 is out of range"},
        {THR CHN
         "teams:\n  a:\n    owners: [ { name: x, capacity: 1, wieght: 2 } "
         "]\n"
         "routing: [ { team: a } ]\n" CAD,
         "t.yaml:6: teams.a.owners[0].wieght: unknown key; did you mean "
         "\"weight\"?"},
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

Test(route, capacity_is_a_limit_then_overflow_then_unassigned) {
    /* a holds 3 slots (ann 2, al 1), then b's one, then nobody */
    const char *want[] = {"ann", "al", "ann", "bea", "-", "-"};
    const lm_route_why why[] = {LM_ROUTE_ROUND_ROBIN, LM_ROUTE_ROUND_ROBIN,
                                LM_ROUTE_ROUND_ROBIN, LM_ROUTE_OVERFLOW,
                                LM_ROUTE_UNASSIGNED,  LM_ROUTE_UNASSIGNED};
    int held = 0;
    for (size_t k = 0; k < 6; k++) {
        lm_route_choice ch = choose("a", 0, NULL, 0, NULL);
        if (ch.why != LM_ROUTE_UNASSIGNED) {
            size_t ti = lm_policy_team_index(pol, ch.team);
            ((int64_t *)loads[ti])[ch.owner]++;
            held++;
        }
        cr_expect_eq(ch.why, why[k], "lead %zu: %s", k,
                     lm_route_why_name(ch.why));
        if (k < 4)
            cr_expect_str_eq(who(ch), want[k], "lead %zu", k);
        if (ch.why == LM_ROUTE_UNASSIGNED) {
            cr_expect_eq(ch.team, lm_policy_team(pol, "a"),
                         "waits in the rules' team");
            cr_expect_eq(ch.takes_slot, 0);
        }
    }
    cr_expect(la[0] == 2 && la[1] == 1 && lb[0] == 1, "%lld %lld %lld",
              (long long)la[0], (long long)la[1], (long long)lb[0]);
    cr_expect_eq(held, 4);
}

Test(route, a_full_team_without_overflow_leaves_the_lead_unassigned) {
    lc[0] = 1;
    lm_route_choice ch = choose("c", 0, NULL, 0, NULL);
    cr_expect_eq(ch.why, LM_ROUTE_UNASSIGNED);
    cr_expect_eq(ch.team, lm_policy_team(pol, "c"));
}

Test(route, weights_share_the_round_robin) {
    /* room for all: ann (weight 2) gets two leads of every three */
    la[0] = la[1] = -1000; /* room enough, loads not updated */
    int ann = 0;
    for (int k = 0; k < 30; k++)
        ann += strcmp(who(choose("a", 0, NULL, 0, NULL)), "ann") == 0;
    cr_expect_eq(ann, 20, "ann got %d of 30", ann);
}

Test(route, nurture_takes_no_capacity_unless_configured) {
    la[0] = 2;
    la[1] = 1;
    lb[0] = 1; /* everyone full */
    lm_route_choice ch = choose("a", 1, NULL, 0, NULL);
    cr_expect_neq(ch.why, LM_ROUTE_UNASSIGNED);
    cr_expect_eq(ch.takes_slot, 0);
    cr_expect_eq(ch.team, lm_policy_team(pol, "a"));

    char err[LM_POLICY_ERRSZ] = "";
    lm_policy *p = parse(THR CHN TEAMS RTE CAD
                         "routing_options: { nurture_takes_capacity: true }\n",
                         err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    lm_policy *keep = pol;
    pol = p;
    ch = choose("a", 1, NULL, 0, NULL);
    cr_expect_eq(ch.why, LM_ROUTE_UNASSIGNED, "nurture counts: team full");
    pol = keep;
    lm_policy_free(p);
}

Test(route, an_account_goes_to_its_owner_while_they_have_room) {
    /* the account's owner is al of team a; the rules say c */
    lm_route_choice ch = choose("c", 0, "a", 1, NULL);
    cr_expect_eq(ch.why, LM_ROUTE_ACCOUNT);
    cr_expect_str_eq(who(ch), "al");
    cr_expect_eq(ch.takes_slot, 1);
    la[1] = 1; /* al is full: the rules decide */
    ch = choose("c", 0, "a", 1, NULL);
    cr_expect_eq(ch.why, LM_ROUTE_ROUND_ROBIN);
    cr_expect_str_eq(who(ch), "cy");
}

static int not_ann(void *arg, const lm_team *t, size_t owner) {
    (void)arg;
    return strcmp(t->owners[owner].name, "ann") != 0;
}

Test(route, an_unavailable_owner_is_skipped) {
    for (int k = 0; k < 4; k++) {
        lm_route_choice ch = choose("a", 0, NULL, 0, not_ann);
        cr_expect_str_neq(who(ch), "ann", "lead %d", k);
        if (ch.why != LM_ROUTE_UNASSIGNED)
            ((int64_t *)loads[lm_policy_team_index(pol, ch.team)])[ch.owner]++;
    }
    cr_expect_eq(la[0], 0);
    /* nor does an account go to them */
    la[1] = 0;
    lm_route_choice ch = choose("c", 0, "a", 0, not_ann);
    cr_expect_neq(ch.why, LM_ROUTE_ACCOUNT);
}

Test(route, free_mail_is_no_account) {
    static const struct {
        const char *d;
        int company;
    } cases[] = {
        {"acme.com", 1},
        {"gmail.com", 0},
        {"GMail.com", 0},
        {"yahoo.co.uk", 0},
        {"hotmail.fr", 0},
        {"outlook.com", 0},
        {"icloud.com", 0},
        {"proton.me", 0},
        {"example.com", 1},
        {"", 0},
        {"localhost", 0},
        {"mail.acme.com", 1},
        {"qq.com", 0},
        {"web.de", 0},
        /* the longest entries, any case; longer names only by prefix */
        {"GoogleMail.COM", 0},
        {"btinternet.com", 0},
        {"rediffmail.com", 0},
        {"protonmail.com", 0},
        {"gmail.community", 1},
        {"googlemail.com.x", 1},
        {"HOTMAIL.co.uk.example", 0},
        {"yahoo", 0},
        {"Live.co.za", 0},
        {"outlook.example.org", 0},
        {"xgmail.com", 1},
        {"gmail.co", 1},
        /* past the fast path's 63 bytes: the same answers */
        {"Yahoo.averyveryveryveryveryveryveryveryveryveryverylongname.example",
         0},
        {"averyveryveryveryveryveryveryveryveryveryveryverylongname.example",
         1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(lm_route_company_domain(cases[i].d), cases[i].company,
                     "%s", cases[i].d);
    cr_expect_eq(lm_route_company_domain(NULL), 0);
}

/* Away: a run-time AWAY (until BACK, or until a time) or a configured
 * out_of_office window; BACK (status NULL or "BACK") and outside the
 * windows: available. */
Test(route, an_owner_is_away_by_status_or_out_of_office) {
    static const lm_period off[] = {{1000, 2000}};
    const lm_worktime w = {.tz = "UTC",
                           .start_min = 0,
                           .end_min = 1440,
                           .days_mask = 0x7f,
                           .away = off,
                           .n_away = 1};
    const lm_owner o = {.name = "ann", .capacity = 1, .work = &w, .weight = 1};
    cr_expect_eq(lm_route_owner_away(&o, NULL, 0, 500), 0);
    cr_expect_eq(lm_route_owner_away(&o, NULL, 0, 1000), 1, "out of office");
    cr_expect_eq(lm_route_owner_away(&o, NULL, 0, 2000), 0, "back at its end");
    cr_expect_eq(lm_route_owner_away(&o, "AWAY", 0, 500), 1, "until BACK");
    cr_expect_eq(lm_route_owner_away(&o, "AWAY", 600, 500), 1);
    cr_expect_eq(lm_route_owner_away(&o, "AWAY", 600, 600), 0, "until passed");
    cr_expect_eq(lm_route_owner_away(&o, "BACK", 0, 500), 0);
    const lm_owner always = {.name = "al", .capacity = 1, .weight = 1};
    cr_expect_eq(lm_route_owner_away(&always, NULL, 0, 1500), 0);
}
