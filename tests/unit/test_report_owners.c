/* test_report_owners.c — the owners' figures (lm_report_owners.h) without
 * Redis: the counts by team and owner from the stats hash's fields, the
 * owner steps from timer members (only owner deadlines; overdue first),
 * and their JSON. */
#include "lm_report_owners.h"
#include "lm_sla.h"
#include "lm_timers.h"

#include <criterion/criterion.h>
#include <string.h>

static void add_deadline(lm_owners_report *o, const char *lead, int level,
                         const char *action, const char *owner, int64_t due) {
    lm_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.lead, sizeof(t.lead), "%s", lead);
    snprintf(t.kind, sizeof(t.kind), "%s", LM_SLA_TIMER_DEADLINE);
    int n =
        lm_sla_payload(level, 1, action, owner, t.payload, sizeof(t.payload));
    cr_assert_gt(n, 0);
    t.payload_len = (size_t)n;
    char member[LM_TIMERS_MEMBER_MAX];
    size_t len;
    cr_assert_eq(lm_timers_encode(&t, member, &len), 0);
    cr_assert_eq(lm_report_owners_add_timer(o, member, len, due), 0);
}

/* The counts' keys: LM_SLA_STATS_BUCKETS hashes, a field's bucket from
 * its bytes (stored state: the values below must never change; the
 * migration's Lua computes the same, stack.test_key_spread), and many
 * owners' fields spread over every bucket. */
Test(report_owners, the_counts_are_in_sixteen_buckets) {
    char f[LM_SLA_STAT_FIELD_MAX], key[LM_KEY_MAX];
    lm_sla_stat_field(LM_SLA_STAT_BREACHES, "na", "ann|x", f);
    cr_expect_eq(lm_sla_stats_bucket(f), 5);
    lm_sla_stats_key(f, key);
    cr_expect_str_eq(key, "lm:{sla:5}:by_owner");
    cr_expect_eq(lm_sla_stats_bucket(""), 0);
    cr_expect_eq(lm_sla_stats_bucket("\xc3\xa9"), (0xc3u * 31 + 0xa9) % 16,
                 "bytes read unsigned, as Lua's string.byte");
    lm_sla_stats_bucket_key(15, key);
    cr_expect_str_eq(key, "lm:{sla:15}:by_owner");
    size_t used[LM_SLA_STATS_BUCKETS] = {0};
    for (int i = 0; i < 320; i++) {
        char owner[32];
        snprintf(owner, sizeof(owner), "owner-%d", i);
        lm_sla_stat_field(LM_SLA_STAT_REMINDERS, "na", owner, f);
        unsigned b = lm_sla_stats_bucket(f);
        cr_assert_lt(b, LM_SLA_STATS_BUCKETS);
        used[b]++;
    }
    for (int b = 0; b < LM_SLA_STATS_BUCKETS; b++)
        cr_expect_geq(used[b], 8, "bucket %d: %zu of 320 (20 on average)", b,
                      used[b]);
}

/* A field met in two buckets (the report reads them all) is added up. */
Test(report_owners, a_field_in_two_buckets_is_added_up) {
    lm_owners_report o;
    memset(&o, 0, sizeof(o));
    char f[LM_SLA_STAT_FIELD_MAX];
    lm_sla_stat_field(LM_SLA_STAT_BREACHES, "na", "ann", f);
    cr_assert_eq(lm_report_owners_add_stat(&o, f, 2), 0);
    cr_assert_eq(lm_report_owners_add_stat(&o, f, 5), 0);
    cr_assert_eq(o.n_rows, 1);
    cr_expect_eq(o.rows[0].breaches, 7);
    lm_report_owners_free(&o);
}

Test(report_owners, counts_by_team_and_owner) {
    lm_owners_report o;
    memset(&o, 0, sizeof(o));
    char f[LM_SLA_STAT_FIELD_MAX];
    lm_sla_stat_field(LM_SLA_STAT_BREACHES, "na", "ann|x", f);
    cr_assert_eq(lm_report_owners_add_stat(&o, f, 2), 0);
    lm_sla_stat_field(LM_SLA_STAT_REMINDERS, "na", "ann|x", f);
    cr_assert_eq(lm_report_owners_add_stat(&o, f, 1), 0);
    lm_sla_stat_field(LM_SLA_STAT_GAINED, "na", "bob", f);
    cr_assert_eq(lm_report_owners_add_stat(&o, f, 1), 0);
    lm_sla_stat_field(LM_SLA_STAT_ESCALATED, "emea", "cy", f);
    cr_assert_eq(lm_report_owners_add_stat(&o, f, 3), 0);
    cr_assert_eq(lm_report_owners_add_stat(&o, "nonsense|a|b", 5), 0);
    cr_assert_eq(lm_report_owners_add_stat(&o, "nobar", 5), 0);
    lm_report_owners_sort(&o);
    cr_assert_eq(o.n_rows, 3);
    cr_expect_str_eq(o.rows[0].team, "emea");
    cr_expect_eq(o.rows[0].escalations, 3);
    cr_expect_str_eq(o.rows[1].owner, "ann|x", "an owner may hold '|'");
    cr_expect_eq(o.rows[1].breaches, 2);
    cr_expect_eq(o.rows[1].reminders, 1);
    cr_expect_eq(o.rows[2].reassigned_to, 1);
    json_t *j = lm_report_owners_json(&o);
    cr_assert_not_null(j);
    json_t *teams = json_object_get(j, "by_team");
    cr_assert_eq(json_array_size(teams), 2);
    json_t *na = json_array_get(teams, 1);
    cr_expect_str_eq(json_string_value(json_object_get(na, "team")), "na");
    cr_expect_eq(json_integer_value(json_object_get(na, "breaches")), 2);
    cr_expect_eq(json_integer_value(json_object_get(na, "reassigned_to")), 1);
    cr_expect_eq(json_array_size(json_object_get(j, "by_owner")), 3);
    json_decref(j);
    lm_report_owners_free(&o);
}

Test(report_owners, owner_steps_overdue_first) {
    lm_owners_report o;
    memset(&o, 0, sizeof(o));
    o.now_ms = 1000000;
    add_deadline(&o, "aaaaaaaaaaaaaaaa-00000001", 0, "a:action:1", "ann",
                 2000000); /* not due yet */
    add_deadline(&o, "aaaaaaaaaaaaaaaa-00000002", 1, "b:action:1", "ann",
                 3000000); /* reminded: overdue */
    add_deadline(&o, "aaaaaaaaaaaaaaaa-00000003", 0, "c:action:1", "bob",
                 900000); /* past due, not fired yet */
    add_deadline(&o, "aaaaaaaaaaaaaaaa-00000004", 2, "d:action:1:r1", "cy",
                 5000000); /* reassigned */
    /* a response timer is not an owner step */
    lm_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.lead, sizeof(t.lead), "aaaaaaaaaaaaaaaa-00000005");
    snprintf(t.kind, sizeof(t.kind), "response");
    memcpy(t.payload, "1|NA/mid", 8);
    t.payload_len = 8;
    char member[LM_TIMERS_MEMBER_MAX];
    size_t len;
    cr_assert_eq(lm_timers_encode(&t, member, &len), 0);
    cr_assert_eq(lm_report_owners_add_timer(&o, member, len, 1), 0);
    lm_report_owners_sort(&o);
    cr_assert_eq(o.n_steps, 4);
    cr_expect_eq(o.n_overdue, 3);
    cr_expect_str_eq(o.steps[0].action, "d:action:1:r1");
    cr_expect_str_eq(o.steps[1].action, "b:action:1");
    cr_expect_str_eq(o.steps[2].action, "c:action:1");
    cr_expect_str_eq(o.steps[3].action, "a:action:1");
    cr_expect(!o.steps[3].overdue);
    json_t *a = lm_report_owners_steps_json(&o, 2);
    cr_assert_eq(json_array_size(a), 2);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_array_get(a, 0), "owner")),
        "cy");
    json_decref(a);
    lm_report_owners_free(&o);
}
