/* lm_report_lift.h — the report's timing comparison: does learning when
 * to follow up beat the fixed schedule, and is that proven yet?
 *
 * Three arms, from each lead row's `adaptive` and `holdout` fields:
 *   holdout   holdout = "1": the global holdout (fixed schedule, and no
 *             learning anywhere), whatever `adaptive` says;
 *   adaptive  adaptive = "1" (and not in the holdout): learned timing;
 *   fixed     adaptive = "0" (and not in the holdout): the control arm.
 * A lead with no arm (no `adaptive`) is in none. The headline is over
 * every touched lead (touches >= 1: intention to treat; whether a lead is
 * touched at all does not depend on its arm, since the first touch is
 * scheduled the same way on every arm); the per-step view (touches >= 2,
 * >= 3) stands beside it, since who reaches a later touch depends on the
 * arm (a lead that answered early never does).
 *
 * Each lift (adaptive over fixed, adaptive over holdout, and per step)
 * carries its always-valid 95% interval (lm_stats_lift_cs), its state
 * (lm_stats_lift_state: proven better / not proven yet / harmful) and the
 * touched leads each arm still needs (lm_stats_lift_cs_more).
 * docs/REPORT.md explains them in plain words.
 *
 * Pure arithmetic and rendering over the report; the metrics function
 * sets gauges of a caller's registry (any thread, as lm_metrics allows).
 * No global mutable state. */
#ifndef LM_REPORT_LIFT_H
#define LM_REPORT_LIFT_H

#include "lm_metrics.h"
#include "lm_report.h"

#include <jansson.h>
#include <stdio.h>

enum { LM_LIFT_FIXED, LM_LIFT_ADAPTIVE, LM_LIFT_HOLDOUT, LM_LIFT_ARMS };
#define LM_LIFT_VIEWS (1 + LM_REPORT_STEP_VIEWS) /* touched, then per step */

/* The counts behind the comparison, part of the report's accumulator:
 * leads (n) and answered leads (x) per arm and view, view 0 touched at
 * least once, view v touched at least v + 1 times. Zero it to start. */
typedef struct lm_report_lift_acc {
    int64_t n[LM_LIFT_ARMS][LM_LIFT_VIEWS];
    int64_t x[LM_LIFT_ARMS][LM_LIFT_VIEWS];
} lm_report_lift_acc;

/* Counts one lead (answered: it replied, booked or bought). */
void lm_report_lift_add(lm_report_lift_acc *a, const lm_lead_row *row,
                        int answered);
/* Fills out's adaptive, fixed, holdout, lift, holdout_lift and steps. */
void lm_report_lift_finish(const lm_report_lift_acc *a, lm_report *out);

/* "proven_better", "not_proven" or "harmful" (JSON); the words in text
 * are "proven better", "not proven yet", "harmful". */
const char *lm_report_lift_state_name(int state);

/* The report's "timing_arms" object (keys: docs/REPORT.md), a new
 * reference (caller owns it), or NULL when memory ran out. */
json_t *lm_report_lift_json(const lm_report *r);
/* The TIMING section of the text report. */
void lm_report_lift_print(const lm_report *r, FILE *f);

/* Sets (registering them the first time) the gauges of the comparison in
 * m, for /metrics (docs/OBSERVABILITY.md):
 *   lastmile_timing_lift{comparison}        the lift, 0.1 = +10%
 *   lastmile_timing_lift_lower{comparison}  its always-valid 95% interval
 *   lastmile_timing_lift_upper{comparison}
 *   lastmile_timing_lift_state{comparison}  1 proven better, 0 not proven
 *                                           yet, -1 harmful
 *   lastmile_timing_lift_more_leads{comparison,arm}  touched leads the arm
 *                                           still needs (0 once decided)
 *   lastmile_timing_arm_touched{arm}, lastmile_timing_arm_answered{arm}
 * with comparison "control" (adaptive over fixed) or "holdout" (adaptive
 * over holdout) and arm "adaptive", "fixed" or "holdout", over every
 * touched lead. A figure that cannot be computed is NaN (every holdout
 * figure while no lead is in the holdout). 0, or -1 when a gauge could
 * not be registered (out of memory). */
int lm_report_lift_metrics(lm_metrics *m, const lm_report *r);

#endif
