/* lm_report_deciles.c — revenue and conversion by score decile (see
 * lm_report_deciles.h). Leads are kept as (score, touched, buyer,
 * revenue) and sorted once at finish: by score, ties by what the lead
 * holds (buyer, revenue, touches), never by arrival, so the deciles do not
 * depend on the order Redis's SCAN returns the leads in (a cluster's
 * masters, one after another, give another order than one Redis). */
#include "lm_report_deciles.h"

#include "lm_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEC_MIN_CAP 1024
#define JSON_DIGITS 6

struct lm_report_deciles_item {
    double score;
    int64_t touches, revenue;
    int buyer;
};

void lm_report_deciles_add(lm_report_deciles_acc *a, double score,
                           int64_t touches, int buyer, int64_t revenue_cents) {
    if (!isfinite(score))
        return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : DEC_MIN_CAP;
        struct lm_report_deciles_item *v = realloc(a->v, cap * sizeof(*v));
        if (!v) {
            a->oom = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n] =
        (struct lm_report_deciles_item){score, touches, revenue_cents, buyer};
    a->n++;
}

static int cmp_item(const void *x, const void *y) {
    const struct lm_report_deciles_item *a = x, *b = y;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    if (a->buyer != b->buyer)
        return a->buyer - b->buyer;
    if (a->revenue != b->revenue)
        return a->revenue < b->revenue ? -1 : 1;
    return (a->touches > b->touches) - (a->touches < b->touches);
}

int lm_report_deciles_finish(lm_report_deciles_acc *a, lm_report_deciles *out) {
    memset(out, 0, sizeof(*out));
    if (a->oom)
        return -1;
    if (a->n > 0) /* qsort's array may not be NULL, even for 0 items */
        qsort(a->v, a->n, sizeof(*a->v), cmp_item);
    for (int k = 0; k < LM_REPORT_DECILES; k++)
        out->d[k].score_min = out->d[k].score_max = NAN;
    for (size_t i = 0; i < a->n; i++) {
        const struct lm_report_deciles_item *it = &a->v[i];
        lm_report_decile *d = &out->d[i * LM_REPORT_DECILES / a->n];
        if (d->leads == 0)
            d->score_min = it->score;
        d->score_max = it->score;
        d->leads++;
        d->touched += it->touches > 0;
        d->buyers += it->buyer != 0;
        d->revenue_cents += it->revenue;
    }
    for (int k = 0; k < LM_REPORT_DECILES; k++)
        out->d[k].conversion =
            lm_stats_ratio(out->d[k].buyers, out->d[k].leads);
    out->scored = (int64_t)a->n;
    return 0;
}

void lm_report_deciles_acc_free(lm_report_deciles_acc *a) {
    free(a->v);
    memset(a, 0, sizeof(*a));
}

static json_t *jreal(double x) {
    if (!isfinite(x))
        return json_null();
    double p = pow(10, JSON_DIGITS);
    return json_real(round(x * p) / p);
}

json_t *lm_report_deciles_json(const lm_report_deciles *t) {
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (int k = LM_REPORT_DECILES - 1; k >= 0; k--) {
        const lm_report_decile *d = &t->d[k];
        json_t *o = json_pack(
            "{s:i, s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:o}", "decile", k + 1,
            "score_min", jreal(d->score_min), "score_max", jreal(d->score_max),
            "leads", (json_int_t)d->leads, "touched", (json_int_t)d->touched,
            "buyers", (json_int_t)d->buyers, "conversion", jreal(d->conversion),
            "revenue_cents", (json_int_t)d->revenue_cents,
            "revenue_per_lead_cents",
            jreal(lm_stats_ratio(d->revenue_cents, d->leads)));
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

void lm_report_deciles_print(const lm_report_deciles *t, FILE *f) {
    fprintf(f, "\nSCORE DECILES (the qualification score at decision; 10 = "
               "highest scores)\n");
    if (t->scored == 0) {
        fprintf(f, "(no scored leads yet)\n");
        return;
    }
    fprintf(f, "%-7s %13s %7s %8s %7s %10s %14s\n", "decile", "score", "leads",
            "touched", "buyers", "conversion", "revenue");
    int64_t buyers = 0, revenue = 0;
    for (int k = 0; k < LM_REPORT_DECILES; k++) {
        buyers += t->d[k].buyers;
        revenue += t->d[k].revenue_cents;
    }
    for (int k = LM_REPORT_DECILES - 1; k >= 0; k--) {
        const lm_report_decile *d = &t->d[k];
        if (d->leads == 0) {
            fprintf(f, "%-7d %13s %7d\n", k + 1, "-", 0);
            continue;
        }
        fprintf(f, "%-7d %6.3f-%6.3f %7lld %8lld %7lld %9.1f%% %14.2f\n", k + 1,
                d->score_min, d->score_max, (long long)d->leads,
                (long long)d->touched, (long long)d->buyers,
                100 * d->conversion, (double)d->revenue_cents / 100);
    }
    const lm_report_decile *top = &t->d[LM_REPORT_DECILES - 1];
    const lm_report_decile *top2 = &t->d[LM_REPORT_DECILES - 2];
    fprintf(
        f, "top two deciles: %.0f%% of buyers, %.0f%% of revenue\n",
        buyers ? 100.0 * (double)(top->buyers + top2->buyers) / (double)buyers
               : 0.0,
        revenue ? 100.0 * (double)(top->revenue_cents + top2->revenue_cents) /
                      (double)revenue
                : 0.0);
}
