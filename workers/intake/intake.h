/* intake.h — the intake worker: lastmile.intake → lastmile.qualification.
 *
 * Validates and normalises a LeadSubmitted, dedupes the same person within
 * the configured window (the later submission is merged into the existing
 * lead: no second cadence), assigns the stable lead_id, and emits
 * LeadAccepted with when it was accepted and how long it waited on Kafka.
 * It writes no record of the lead: qualification writes it, with those
 * times, when it decides (an undecided lead is a message on its topic;
 * `lastmile waiting` and the board read it there).
 *
 * The pure validation step, lm_intake_normalise, lives in
 * common/domain/lm_intake_check.h (the gateway shares it). */
#ifndef LM_INTAKE_H
#define LM_INTAKE_H

#include "lm_intake_check.h"
#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

/* The worker declaration (its ctx is file-local state). */
extern const lm_worker lm_intake_worker;

#endif
