/* test_decisions.c — the workers' pure decisions, without Kafka or Redis:
 * intake validation and normalisation, qualification's decision and
 * routing, follow-up's business-hours schedule, timing's Thompson choice
 * (deterministic per seed, learns the better slot, control arm fixed). */
#include "followup.h"
#include "intake.h"
#include "lm_lead.h"
#include "lm_model.h"
#include "lm_policy.h"
#include "lm_tz.h"
#include "qualification.h"
#include "qual_route.h"
#include "lm_route.h"
#include "timing.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define NOW 1764547200000LL /* 2025-12-01T00:00:00Z, a Monday */

static Lastmile__V1__LeadSubmitted good_lead(void) {
    Lastmile__V1__LeadSubmitted l = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    l.event_id = "ev-1";
    l.source = "  Web_Form ";
    l.email = "  Ada.Lovelace@Example.COM ";
    l.full_name = "Ada Lovelace";
    l.company = "Analytical Engines";
    l.title = "VP Engineering";
    l.company_size = 120;
    l.country = "gb";
    l.phone = "020 7946 0018";
    l.submitted_at_ms = NOW - 1000;
    return l;
}

Test(intake, normalises_a_good_lead) {
    Lastmile__V1__LeadSubmitted l = good_lead();
    lm_intake_norm n;
    char reason[256] = "";
    cr_assert_eq(lm_intake_normalise(&l, NOW, &n, reason, sizeof(reason)), 0,
                 "%s", reason);
    cr_expect_str_eq(n.email, "ada.lovelace@example.com");
    cr_expect_str_eq(n.domain, "example.com");
    cr_expect_str_eq(n.source, "web_form");
    cr_expect_str_eq(n.country, "GB");
    cr_expect_str_eq(n.timezone, "Europe/London");
    cr_expect_str_eq(n.phone, "+442079460018");
    /* the same person, other spelling: the same person hash */
    Lastmile__V1__LeadSubmitted l2 = good_lead();
    l2.email = "ada.lovelace@example.com";
    lm_intake_norm n2;
    cr_assert_eq(lm_intake_normalise(&l2, NOW, &n2, reason, sizeof(reason)), 0);
    cr_expect_str_eq(n.person, n2.person);
}

typedef struct bad_case {
    const char *field, *value, *want;
} bad_case;

Test(intake, rejects_with_the_field_and_reason) {
    static const bad_case cases[] = {
        {"event_id", "", "event_id: missing"},
        {"email", "", "email: missing"},
        {"email", "no-at-sign", "email: not an address"},
        {"email", "a@b", "email: not an address"},
        {"email", "a b@example.com", "email: not an address"},
        {"source", "", "source: missing"},
        {"country", "XX", "country: \"XX\" is not an ISO 3166-1"},
        {"timezone", "Mars/Olympus", "timezone: \"Mars/Olympus\""},
        {"timezone", "../../etc/passwd", "timezone:"},
        {"phone", "12", "phone:"},
        {"submitted_at_ms", "5", "submitted_at_ms: 5 is not a time"},
        {"submitted_at_ms", "9999999999999", "more than a day in the future"},
        {"company_size", "-4", "company_size: -4 is out of range"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const bad_case *c = &cases[i];
        Lastmile__V1__LeadSubmitted l = good_lead();
        if (!strcmp(c->field, "event_id"))
            l.event_id = (char *)c->value;
        else if (!strcmp(c->field, "email"))
            l.email = (char *)c->value;
        else if (!strcmp(c->field, "source"))
            l.source = (char *)c->value;
        else if (!strcmp(c->field, "country"))
            l.country = (char *)c->value;
        else if (!strcmp(c->field, "timezone"))
            l.timezone = (char *)c->value;
        else if (!strcmp(c->field, "phone"))
            l.phone = (char *)c->value;
        else if (!strcmp(c->field, "submitted_at_ms"))
            lm_parse_int64(c->value, 0, INT64_MAX, &l.submitted_at_ms);
        else if (!strcmp(c->field, "company_size"))
            l.company_size = -4;
        lm_intake_norm n;
        char reason[256] = "";
        cr_expect_eq(lm_intake_normalise(&l, NOW, &n, reason, sizeof(reason)),
                     -1, "%s=%s accepted", c->field, c->value);
        cr_expect(strstr(reason, c->want), "%s=%s: got \"%s\", want \"%s\"",
                  c->field, c->value, reason, c->want);
    }
}

Test(qualification, decides_routes_and_explains) {
    char err[512];
    lm_model *model = lm_model_load(NULL, err, sizeof(err));
    lm_policy *policy = lm_policy_load(NULL, err, sizeof(err));
    cr_assert(model && policy, "%s", err);
    Lastmile__V1__LeadAccepted__AttributesEntry demo =
        LASTMILE__V1__LEAD_ACCEPTED__ATTRIBUTES_ENTRY__INIT;
    demo.key = "demo_requested";
    demo.value = "1";
    Lastmile__V1__LeadAccepted__AttributesEntry *attrs[] = {&demo};
    Lastmile__V1__LeadAccepted hot = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    hot.lead_id = "0123456789abcdef-01234567";
    hot.source = "referral";
    hot.title = "CEO";
    hot.company_size = 5000;
    hot.country = "US";
    hot.timezone = "America/New_York";
    hot.n_attributes = 1;
    hot.attributes = attrs;
    lm_qualify_result q;
    lm_qualify(model, policy, &hot, &q);
    cr_expect_eq(q.kind, LASTMILE__V1__DECISION_KIND__QUALIFIED, "score %f",
                 q.score);
    cr_assert(q.team);
    cr_expect_str_eq(q.team->name, "enterprise");
    cr_expect_eq(q.n_reasons, 3);
    cr_expect_str_eq(q.segment, "NA/ent");

    Lastmile__V1__LeadAccepted cold = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    cold.lead_id = "0123456789abcdef-89abcdef";
    cold.source = "purchased_list";
    cold.country = "DE";
    cold.timezone = "Europe/Berlin";
    lm_qualify(model, policy, &cold, &q);
    cr_expect_eq(q.kind, LASTMILE__V1__DECISION_KIND__DISQUALIFIED, "score %f",
                 q.score);
    cr_expect_null(q.team, "a disqualified lead takes no owner");
    lm_model_free(model);
    lm_policy_free(policy);
}

typedef struct pick_case {
    const char *what;
    int64_t loads[3];
    uint64_t rr;
    int64_t want; /* -1: nobody has room */
} pick_case;

Test(qualification, picks_owners_round_robin_within_capacity) {
    static const lm_owner owners[] = {
        {.name = "ann", .capacity = 2, .weight = 1},
        {.name = "bob", .capacity = 2, .weight = 1},
        {.name = "cat", .capacity = 1, .weight = 1}};
    const lm_team team = {.name = "sales", .owners = owners, .n_owners = 3};
    static const pick_case cases[] = {
        {"room everywhere: the counter's owner", {0, 0, 0}, 0, 0},
        {"room everywhere: the next one", {0, 0, 0}, 1, 1},
        {"the counter wraps", {0, 0, 0}, 5, 2},
        {"a full owner is skipped", {0, 2, 0}, 1, 2},
        {"skipping wraps to the start", {2, 2, 0}, 0, 2},
        {"all full: nobody (capacity is a limit)", {4, 3, 3}, 0, -1},
        {"all exactly full: nobody", {2, 2, 1}, 1, -1},
        {"an unreadable load is passed over",
         {LM_QUAL_LOAD_UNREADABLE, 0, 0},
         0,
         1},
        {"... and with the others full, nobody",
         {LM_QUAL_LOAD_UNREADABLE, 7, 9},
         0,
         -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const pick_case *c = &cases[i];
        int64_t got = lm_route_pick(&team, c->loads, c->rr, 0, NULL, NULL);
        cr_expect_eq(got, c->want, "%s: got %lld", c->what, (long long)got);
    }
    /* a run of leads with loads updated as the worker does: the team's
     * capacity is 5, every owner is filled, and the sixth gets nobody */
    int64_t loads[3] = {0, 0, 0};
    for (uint64_t rr = 1; rr <= 5; rr++) {
        int64_t o = lm_route_pick(&team, loads, rr, 0, NULL, NULL);
        cr_assert_geq(o, 0);
        loads[o]++;
    }
    cr_expect(loads[0] == 2 && loads[1] == 2 && loads[2] == 1,
              "after 5 leads: %lld %lld %lld", (long long)loads[0],
              (long long)loads[1], (long long)loads[2]);
    cr_expect_eq(lm_route_pick(&team, loads, 6, 0, NULL, NULL), -1,
                 "the sixth lead finds the team full");
}

Test(followup, schedules_inside_business_hours) {
    char err[512];
    lm_policy *policy = lm_policy_load(NULL, err, sizeof(err));
    cr_assert(policy, "%s", err);
    const lm_cadence *c = lm_policy_cadence(policy, "qualified");
    cr_assert(c);
    /* Saturday 2025-12-06 12:00 UTC → Monday 09:00 in New York */
    int64_t sat = NOW + 5 * 86400000LL + 12 * 3600000LL;
    int64_t when = lm_followup_schedule(c, "America/New_York", sat);
    lm_local_time lt;
    cr_assert_eq(lm_tz_local("America/New_York", when, &lt), 0);
    cr_expect_eq(lt.weekday, 0);
    cr_expect_eq(lt.hour, 9);
    cr_expect_eq(lt.minute, 0);
    /* inside the window: unchanged */
    int64_t tue = NOW + 86400000LL + 15 * 3600000LL; /* Tue 10:00 NY */
    cr_expect_eq(lm_followup_schedule(c, "America/New_York", tue), tue);
    lm_policy_free(policy);
}

Test(timing, thompson_is_deterministic_and_learns) {
    char err[512];
    lm_policy *policy = lm_policy_load(NULL, err, sizeof(err));
    cr_assert(policy, "%s", err);
    const lm_cadence *c = lm_policy_cadence(policy, "qualified");
    lm_slot_stats st;
    memset(&st, 0, sizeof(st));
    /* Tuesday 14:00 (slot 24+14 = 38) answers; everything else does not */
    for (int s = 0; s < LM_TIMING_SLOTS; s++)
        st.f[s] = 40;
    st.s[38] = 30;
    st.f[38] = 10;
    int picked_best = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        int32_t slot1 = -1, slot2 = -1;
        int64_t a = lm_timing_choose(c, "UTC", NOW, 1, &st, seed, &slot1);
        int64_t b = lm_timing_choose(c, "UTC", NOW, 1, &st, seed, &slot2);
        cr_assert_eq(a, b, "the same seed chose differently");
        cr_assert_eq(slot1, slot2);
        picked_best += slot1 == 38;
    }
    cr_expect_geq(picked_best, 45, "learned slot chosen %d/50", picked_best);
    /* the control arm keeps the fixed schedule: the first allowed time */
    int32_t slot = -1;
    int64_t ctl = lm_timing_choose(c, "UTC", NOW, 0, &st, 7, &slot);
    cr_expect_eq(ctl, lm_policy_next_allowed_ms(c, "UTC", NOW));
    cr_expect_eq(slot, 9); /* Monday 09:00 */
    lm_policy_free(policy);
}

Test(timing, beta_draws_have_the_right_mean) {
    uint64_t rng = 42;
    double sum = 0;
    for (int i = 0; i < 20000; i++)
        sum += lm_timing_beta(3, 7, &rng);
    cr_expect_float_eq(sum / 20000, 0.3, 0.01);
}

Test(lead, ids_tags_and_arms) {
    char person[LM_PERSON_MAX], id[LM_LEAD_ID_MAX], tag[LM_PERSON_MAX];
    lm_lead_person("ada@example.com", person);
    lm_lead_id(person, "ev-1", id);
    cr_expect_eq(strlen(id), 25);
    cr_assert_eq(lm_lead_tag(id, tag), 0);
    cr_expect_str_eq(tag, person);
    cr_expect_eq(lm_lead_tag("not-a-lead", tag), -1);
    char reason[128] = "";
    cr_expect_eq(lm_lead_tag_of("lead_id", id, tag, reason, sizeof(reason)), 0);
    cr_expect_str_eq(tag, person);
    cr_expect_str_eq(reason, "", "no reason for a lead id");
    cr_expect_eq(lm_lead_tag_of("slot_freed.lead_id", "not-a-lead", tag, reason,
                                sizeof(reason)),
                 -1);
    cr_expect_str_eq(reason, "slot_freed.lead_id: \"not-a-lead\" is not a "
                             "lead id issued by lastmile");
    cr_expect_eq(lm_lead_tag_of("lead_id", NULL, tag, reason, sizeof(reason)),
                 -1);
    cr_expect_str_eq(reason,
                     "lead_id: \"\" is not a lead id issued by lastmile");
    int adaptive = 0;
    for (int i = 0; i < 10000; i++) {
        char ev[32];
        snprintf(ev, sizeof(ev), "ev-%d", i);
        lm_lead_id(person, ev, id);
        adaptive += lm_lead_adaptive(id, 0.2);
    }
    cr_expect(adaptive > 7700 && adaptive < 8300, "adaptive share %d/10000",
              adaptive);
}
