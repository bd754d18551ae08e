/* test_report_stages.c — the report's system vs human delay per stage
 * (lm_report_stages.h) on four hand-made leads whose every time is known,
 * through the report's accumulator (so the hook in lm_report.c is
 * tested too), its JSON (`stage_delays`) and its text table; and the
 * lead row's two new fields parsed from a hash.
 *
 * Leads (seconds after T0, the submission):
 *   a  decided 2, first touch 2 (at once), call due 3600, owner DONE at
 *      5400 (people: 1800); replied 7200, owner's hand-off DONE 9000
 *      (people: 1800); converted at 86400 (people: 79200)
 *   b  decided 4, first touch 3604 (a night's wait: 3600), call due 7200,
 *      DONE 18000 (people: 10800); replied 20000, never contacted; the
 *      deal window closed it at 20000 + 60d (fleet)
 *   c  decided 1, first touch 61; nothing human
 *   d  accepted, not decided: in none of the figures */
#include "lm_report.h"
#include "lm_report_stages.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define T0  1764547200000LL /* 2025-12-01 00:00 UTC, simulated */
#define SEC 1000LL
#define DAY (86400LL * SEC)

static lm_lead_row lead(int64_t decided_s, int64_t touch_s) {
    lm_lead_row r;
    memset(&r, 0, sizeof(r));
    r.step = -1;
    r.adaptive = -1;
    r.status = "open";
    r.submitted_at = T0;
    r.accepted_at = T0 + 50;
    r.decided_at = decided_s >= 0 ? T0 + decided_s * SEC : 0;
    r.first_touch_at = touch_s >= 0 ? T0 + touch_s * SEC : 0;
    return r;
}

static void report_of(lm_report *out) {
    lm_lead_row a = lead(2, 2), b = lead(4, 3604), c = lead(1, 61),
                d = lead(-1, -1);
    a.human_due_at = T0 + 3600 * SEC;
    a.first_human_at = T0 + 5400 * SEC;
    a.responded_at = T0 + 7200 * SEC;
    a.handoff_done_at = T0 + 9000 * SEC;
    a.status = "closed";
    a.outcome = "CONVERTED_OUTCOME";
    a.closed_at = T0 + 86400 * SEC;
    b.human_due_at = T0 + 7200 * SEC;
    b.first_human_at = T0 + 18000 * SEC;
    b.responded_at = T0 + 20000 * SEC;
    b.status = "closed";
    b.outcome = "RESPONDED";
    b.closed_at = b.responded_at + 60 * DAY;
    lm_report_acc *acc = lm_report_acc_new(NULL);
    cr_assert_not_null(acc);
    lm_report_add_lead(acc, &a);
    lm_report_add_lead(acc, &b);
    lm_report_add_lead(acc, &c);
    lm_report_add_lead(acc, &d);
    cr_assert_eq(lm_report_finish(acc, out), 0);
    lm_report_acc_free(acc);
}

static void expect_dist(const lm_report_dist *d, size_t n, double p50,
                        double p90, const char *what) {
    cr_expect_eq(d->n, n, "%s: n %zu", what, d->n);
    if (n == 0) {
        cr_expect(isnan(d->p50), "%s: no p50 without values", what);
        return;
    }
    cr_expect_float_eq(d->p50, p50, 1e-9, "%s: p50 %f", what, d->p50);
    cr_expect_float_eq(d->p90, p90, 1e-9, "%s: p90 %f", what, d->p90);
}

Test(report_stages, fleet_and_people_per_stage) {
    lm_report r;
    report_of(&r);
    const lm_report_delay *s = r.stage_delay;
    /* intake -> decision: 1, 2, 4 s (d is undecided) */
    expect_dist(&s[0].fleet_s, 3, 2, 4, "intake -> decision, fleet");
    expect_dist(&s[0].people_s, 0, 0, 0, "intake -> decision, people");
    /* decision -> first touch: 0 (a), 60 (c), 3600 (b) */
    expect_dist(&s[1].fleet_s, 3, 60, 3600, "decision -> touch, fleet");
    /* the human step: fleet 3598 (a), 7196 (b); people 1800, 10800 */
    expect_dist(&s[2].fleet_s, 2, 3598, 7196, "human step, fleet");
    expect_dist(&s[2].people_s, 2, 1800, 10800, "human step, people");
    /* reply -> owner contact: a only, 1800 s; no fleet part */
    expect_dist(&s[3].people_s, 1, 1800, 1800, "reply -> contact, people");
    expect_dist(&s[3].fleet_s, 0, 0, 0, "reply -> contact, fleet");
    /* hand-off -> deal end: a's CRM sale (people), b's window (fleet) */
    expect_dist(&s[4].people_s, 1, 79200, 79200, "deal, people");
    expect_dist(&s[4].fleet_s, 1, 60 * 86400.0, 60 * 86400.0, "deal, fleet");
    lm_report_free(&r);
}

Test(report_stages, json_and_text) {
    lm_report r;
    report_of(&r);
    json_t *j = NULL;
    cr_assert_eq(lm_report_json(&r, &j), 0);
    json_t *sd = json_object_get(j, "stage_delays");
    cr_assert(json_is_object(sd), "stage_delays in the report's JSON");
    json_t *h = json_object_get(sd, "human_step_to_activity");
    cr_assert_not_null(h);
    cr_expect_eq(json_integer_value(
                     json_object_get(json_object_get(h, "people_s"), "n")),
                 2);
    cr_expect_float_eq(
        json_real_value(json_object_get(json_object_get(h, "people_s"), "p90")),
        10800.0, 1e-9);
    cr_expect(json_is_null(json_object_get(
                  json_object_get(sd, "intake_to_decision"), "people_s")),
              "no people part: null");
    cr_expect_eq(json_object_size(sd), LM_REPORT_DELAY_STAGES);
    json_decref(j);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    lm_report_print(&r, f, 0);
    fclose(f);
    cr_expect(strstr(text, "WHERE THE TIME GOES") != NULL, "%s", text);
    cr_expect(strstr(text, "human step due -> done") != NULL);
    cr_expect(strstr(text, "reply -> owner contact") != NULL);
    free(text);
    lm_report_free(&r);
}

static redisReply str_reply(const char *s) {
    redisReply r;
    memset(&r, 0, sizeof(r));
    r.type = REDIS_REPLY_STRING;
    r.str = (char *)s;
    r.len = strlen(s);
    return r;
}

Test(report_stages, the_row_reads_the_two_fields) {
    const char *kv[] = {"status",          "open",         "accepted_at",
                        "1764547200050",   "human_due_at", "1764550800000",
                        "handoff_done_at", "1764556200000"};
    redisReply el[8], *elp[8], arr;
    for (int i = 0; i < 8; i++) {
        el[i] = str_reply(kv[i]);
        elp[i] = &el[i];
    }
    memset(&arr, 0, sizeof(arr));
    arr.type = REDIS_REPLY_ARRAY;
    arr.elements = 8;
    arr.element = elp;
    lm_lead_row row;
    cr_assert_eq(lm_lead_row_parse(&arr, &row), 0);
    cr_expect_eq(row.human_due_at, 1764550800000LL);
    cr_expect_eq(row.handoff_done_at, 1764556200000LL);
}
