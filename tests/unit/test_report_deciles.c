/* test_report_deciles.c — the report's revenue and conversion by score
 * decile (lm_report_deciles.h) through the report's accumulator: leads
 * ranked by score into ten groups, buyers and revenue counted per group,
 * unscored leads left out, the JSON array highest decile first, the text
 * table. Pure: no Redis. */
#include "lm_report.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 100 leads with scores 0.005..0.995; lead i buys when i % 10 < i / 10
 * (so decile k, scores k/10.., has k buyers), revenue 1000 cents a
 * buyer; plus 5 leads without a score. */
static void fill(lm_report_acc *acc) {
    for (int i = 0; i < 105; i++) {
        lm_lead_row r;
        memset(&r, 0, sizeof(r));
        r.status = "closed";
        r.decision = i < 30 ? "DISQUALIFIED" : "QUALIFIED";
        r.touches = i < 30 ? 0 : 3;
        r.adaptive = -1;
        r.step = -1;
        if (i < 100) {
            int j = 99 - i; /* arrive highest first: order must not matter */
            r.has_score = 1;
            r.score = (j + 0.5) / 100.0;
            int buyer = j % 10 < j / 10;
            r.outcome = buyer ? "CONVERTED_OUTCOME" : "NO_RESPONSE";
            r.revenue_cents = buyer ? 1000 : 0;
            r.touches = j < 30 ? 0 : 3;
        }
        lm_report_add_lead(acc, &r);
    }
}

Test(report_deciles, buyers_and_revenue_by_score_decile) {
    lm_report_opts o = {.invalid = 0};
    lm_report_acc *acc = lm_report_acc_new(&o);
    cr_assert_not_null(acc);
    fill(acc);
    lm_report r;
    cr_assert_eq(lm_report_finish(acc, &r), 0);
    cr_expect_eq(r.deciles.scored, 100);
    for (int k = 0; k < LM_REPORT_DECILES; k++) {
        const lm_report_decile *d = &r.deciles.d[k];
        cr_expect_eq(d->leads, 10, "decile %d", k + 1);
        cr_expect_eq(d->buyers, k, "decile %d", k + 1);
        cr_expect_eq(d->revenue_cents, 1000 * k, "decile %d", k + 1);
        cr_expect_eq(d->touched, k < 3 ? 0 : 10, "decile %d", k + 1);
        cr_expect_float_eq(d->conversion, k / 10.0, 1e-12);
        cr_expect_float_eq(d->score_min, (10 * k + 0.5) / 100.0, 1e-12);
        cr_expect_float_eq(d->score_max, (10 * k + 9.5) / 100.0, 1e-12);
    }

    json_t *j = NULL;
    cr_assert_eq(lm_report_json(&r, &j), 0);
    json_t *arr = json_object_get(j, "score_deciles");
    cr_assert(json_is_array(arr));
    cr_assert_eq(json_array_size(arr), 10);
    json_t *top = json_array_get(arr, 0);
    cr_expect_eq(json_integer_value(json_object_get(top, "decile")), 10);
    cr_expect_eq(json_integer_value(json_object_get(top, "buyers")), 9);
    cr_expect_eq(json_integer_value(json_object_get(top, "revenue_cents")),
                 9000);
    cr_expect_float_eq(
        json_real_value(json_object_get(top, "revenue_per_lead_cents")), 900.0,
        1e-9);
    json_decref(j);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    lm_report_print(&r, f, 0);
    fclose(f);
    cr_expect(strstr(text, "SCORE DECILES") != NULL);
    cr_expect(strstr(text, "top two deciles: 38% of buyers, 38% of revenue") !=
                  NULL,
              "%s", text);
    free(text);
    lm_report_free(&r);
    lm_report_acc_free(acc);
}

Test(report_deciles, no_scores_no_table) {
    lm_report_opts o = {.invalid = 0};
    lm_report_acc *acc = lm_report_acc_new(&o);
    lm_report r;
    cr_assert_eq(lm_report_finish(acc, &r), 0);
    cr_expect_eq(r.deciles.scored, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    lm_report_print(&r, f, 0);
    fclose(f);
    cr_expect(strstr(text, "(no scored leads yet)") != NULL);
    free(text);
    lm_report_free(&r);
    lm_report_acc_free(acc);
}
