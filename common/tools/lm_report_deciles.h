/* lm_report_deciles.h — the report's revenue and conversion by score
 * decile: does the qualification score find the buyers?
 *
 * Every decided lead with a score (the lead hash's `score`, written by
 * qualification, disqualified leads included) is ranked by score and cut
 * into ten equal groups (by rank: ties split by arrival order); each group
 * shows its score range, leads, how many were touched, buyers (a deal won:
 * outcome CONVERTED or revenue > 0), conversion (buyers / leads) and
 * revenue. Decile 10 holds the highest scores. A model that ranks well
 * puts most buyers and revenue in the top deciles; a flat table says the
 * score does not tell buyers apart (retrain: `lastmile train`).
 *
 * Ownership: an accumulator owns its vector (lm_report_deciles_acc_free);
 * the finished table is plain data (no heap). Threads: one thread. */
#ifndef LM_REPORT_DECILES_H
#define LM_REPORT_DECILES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LM_REPORT_DECILES 10

typedef struct lm_report_decile {
    double score_min, score_max; /* NAN when the decile is empty */
    int64_t leads, touched, buyers, revenue_cents;
    double conversion; /* buyers / leads; NAN when empty */
} lm_report_decile;

typedef struct lm_report_deciles {
    int64_t scored;                        /* leads with a score */
    lm_report_decile d[LM_REPORT_DECILES]; /* d[0] lowest scores */
} lm_report_deciles;

typedef struct lm_report_deciles_acc {
    struct lm_report_deciles_item *v;
    size_t n, cap;
    int oom;
} lm_report_deciles_acc;

/* One lead: its score, touches, whether it bought, its revenue. */
void lm_report_deciles_add(lm_report_deciles_acc *a, double score,
                           int64_t touches, int buyer, int64_t revenue_cents);

/* The table into *out (sorts the accumulator). 0, or -1 when an add ran
 * out of memory. */
int lm_report_deciles_finish(lm_report_deciles_acc *a, lm_report_deciles *out);

void lm_report_deciles_acc_free(lm_report_deciles_acc *a);

/* The table as JSON: an array, highest decile first (new reference; NULL
 * on OOM). */
json_t *lm_report_deciles_json(const lm_report_deciles *t);

/* The table as text, highest decile first. */
void lm_report_deciles_print(const lm_report_deciles *t, FILE *f);

#endif
