/* sim.h — the simulated market: the outside world lastmile works in.
 *
 * It plays the producers (leads arrive over simulated days: a realistic mix
 * of sources, titles, company sizes, countries and time zones, some repeat
 * submissions, a small share of invalid ones) and the connectors (a touch
 * is answered with a chance that depends on the lead's hidden intent and on
 * the hour-of-week of the touch relative to its segment's hidden best
 * hours; some answers convert, with a deal value) and the CRM (a lead
 * that replied and was handed off wins its deal days later, with a value,
 * or loses it, or nothing is reported before its deal window ends).
 *
 * The hidden truth (intent, best hours) lives here only: the workers never
 * see it, so the report's timing lift is something they had to learn.
 * Everything is a pure function of (seed, index) or (seed, action id), so
 * a run can be repeated. */
#ifndef LM_SIM_H
#define LM_SIM_H

#include "lastmile/v1/lastmile.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define LM_SIM_TEXT_MAX 96

/* One submission as the simulator makes it (strings in the struct). */
typedef struct lm_sim_lead {
    char event_id[LM_SIM_TEXT_MAX];
    char email[LM_SIM_TEXT_MAX];
    char full_name[LM_SIM_TEXT_MAX];
    char company[LM_SIM_TEXT_MAX];
    char title[LM_SIM_TEXT_MAX];
    char source[32];
    char country[4];
    char phone[32];
    char pages[8], opened[8], demo[4];
    int32_t company_size;
    int64_t submitted_at_ms;
    int invalid; /* deliberately broken */
    int repeat;  /* a later submission of an earlier person */
    Lastmile__V1__LeadSubmitted msg; /* points into the above */
    Lastmile__V1__LeadSubmitted__AttributesEntry attr[3];
    Lastmile__V1__LeadSubmitted__AttributesEntry *attr_ptrs[3];
} lm_sim_lead;

typedef struct lm_sim {
    uint64_t seed;
    size_t n_leads;
    int64_t start_ms, span_ms; /* arrivals spread over [start, start+span) */
} lm_sim;

/* Submission i (0 <= i < n_leads) at its time. Pure. */
void lm_sim_lead_make(const lm_sim *s, size_t i, lm_sim_lead *out);

/* The connector's answer to a touch: 0 = no answer; else the response
 * kind, when (occurred_at) and the deal value. Pure in (seed, action). */
typedef struct lm_sim_answer {
    Lastmile__V1__ResponseKind kind;
    int64_t occurred_at_ms;
    int64_t deal_value_cents;
} lm_sim_answer;
int lm_sim_answer_touch(const lm_sim *s, const Lastmile__V1__FollowUpAction *a,
                        lm_sim_answer *out);

/* The CRM's result of a hand-off (a HANDOFF action of a lead the market
 * answered with a reply or a meeting): 0 = none reported; else CONVERTED
 * (with its value) or LOST, days after the hand-off. Pure in (seed,
 * action). */
int lm_sim_answer_handoff(const lm_sim *s,
                          const Lastmile__V1__FollowUpAction *a,
                          lm_sim_answer *out);

/* The hidden best-hours factor of a segment's slot (for tests/docs). */
double lm_sim_hour_factor(const char *segment, int32_t slot);

#endif
