/* lm_report_stages.h — the report's system vs human delay per stage
 * (issue 13 item 9; docs/REPORT.md "Where the time goes"): for each stage
 * of a lead's path, how long the fleet took and how long people took,
 * from what the lead rows hold (simulated time, seconds):
 *
 *   intake_to_decision       fleet: decided_at - submitted_at
 *   decision_to_first_touch  fleet: first_touch_at - decided_at (the
 *                            cadence's wait for the first automatic touch)
 *   human_step_to_activity   fleet: human_due_at - decided_at (until the
 *                            first human step, or the hand-off, was due);
 *                            people: first_human_at - human_due_at (the
 *                            owner's first DONE after it)
 *   reply_to_contact         people: handoff_done_at - responded_at (the
 *                            owner's DONE on the hand-off; the fleet hands
 *                            off in the transaction that records the reply:
 *                            no fleet part)
 *   handoff_to_deal_end      people: closed_at - responded_at when the CRM
 *                            reported the deal (CONVERTED, LOST,
 *                            NOT_INTERESTED); fleet: the same when the
 *                            fleet's deal window closed it (RESPONDED)
 * A negative difference (clocks of two producers) counts as 0; a lead
 * without both times is not in that figure. A side with no part has n 0
 * (null in JSON, n/a in text).
 *
 * Ownership: the accumulator is the caller's (new/free); figures are
 * written into the caller's lm_report. Single-threaded; no global mutable
 * state. */
#ifndef LM_REPORT_STAGES_H
#define LM_REPORT_STAGES_H

#include "lm_report.h"

#include <jansson.h>
#include <stdio.h>

/* The stages' names, in path order (JSON `stage_delays.<name>`). */
extern const char *const lm_report_delay_names[LM_REPORT_DELAY_STAGES];

typedef struct lm_report_stages lm_report_stages;

/* A new, empty accumulator; NULL on OOM. Free with lm_report_stages_free. */
lm_report_stages *lm_report_stages_new(void);
void lm_report_stages_free(lm_report_stages *s); /* NULL ok */
/* Counts one lead (row only read during the call); an allocation failure
 * is remembered and reported by lm_report_stages_finish. */
void lm_report_stages_add(lm_report_stages *s, const lm_lead_row *row);
/* The figures into out[LM_REPORT_DELAY_STAGES]. 0, or -1 when memory ran
 * out. Sorts the accumulator's values in place (no figure changes). */
int lm_report_stages_finish(lm_report_stages *s, lm_report_delay *out);

/* One distribution as JSON (the report's rounding), for _json below. */
typedef json_t *(*lm_report_jdist_fn)(const lm_report_dist *d);
/* {"<stage>": {"fleet_s": dist|null, "people_s": dist|null}, ...}, a new
 * reference (NULL on OOM). */
json_t *lm_report_stages_json(const lm_report *r, lm_report_jdist_fn jdist);
/* The text table: stage, fleet n p50 p90, people n p50 p90. */
void lm_report_stages_print(const lm_report *r, FILE *f);

#endif
