/* sim.h — the simulated market: the outside world lastmile works in.
 *
 * It plays the producers (leads arrive over simulated days: a realistic mix
 * of sources, titles, company sizes, countries and time zones, some repeat
 * submissions, a small share of invalid ones) and the connectors (a touch
 * is answered with a chance that depends on the lead's hidden intent, on
 * the hour-of-week of the touch in the person's hidden answer curve — one
 * per region and role (from the title), drawn per seed — and on how long
 * ago the person asked, with a decay drawn per seed; some answers convert,
 * with a deal value) and the CRM (a lead
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

typedef struct lm_sim_people lm_sim_people; /* sim_truth.c */

typedef struct lm_sim {
    uint64_t seed;
    size_t n_leads;
    int64_t start_ms, span_ms; /* arrivals spread over [start, start+span) */
    /* who is behind a lead id (lm_sim_people_build), so an answer follows
       the person's role; NULL: a role drawn from the lead id. Borrowed. */
    const lm_sim_people *people;
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

/* ---- the hidden truths (sim_truth.c) -------------------------------------
 * Pure functions of the seed: each seed is its own world. */
enum {
    LM_SIM_NA,
    LM_SIM_EMEA,
    LM_SIM_APAC,
    LM_SIM_LATAM,
    LM_SIM_OTHER,
    LM_SIM_N_REGIONS
};
enum { LM_SIM_EXEC, LM_SIM_MANAGER, LM_SIM_IC, LM_SIM_NONE, LM_SIM_N_ROLES };

/* The region of a segment ("NA/mid") or region name ("NA"); OTHER when
 * unknown. Its name (static). */
int lm_sim_region_of(const char *segment);
const char *lm_sim_region_name(int region);
/* The market's own reading of a title it made (sim.c's titles): exec
 * (CEO, founder, VP), manager (heads, directors, managers), ic, none. */
int lm_sim_role_of_title(const char *title);
/* How the chance of an answer at local hour-of-week `slot` compares
 * across the week (about 0.3 to 3) for a person of this region and role;
 * the peak hour, width, best weekday and height are drawn per seed. */
double lm_sim_truth_hour(uint64_t seed, int region, int role, int32_t slot);
/* The share (0..1] of the chance of answering left `hours` after the
 * person asked: 1 at once, halving every 3 to 12 days (drawn per seed)
 * down to a floor of 10-30% (drawn too). */
double lm_sim_truth_decay(uint64_t seed, double hours);
/* The hour factor of a segment's slot averaged over the market's role
 * mix (for tests and docs). */
double lm_sim_hour_factor(const lm_sim *s, const char *segment, int32_t slot);
/* The submission behind a lead id, from s->people: 0 and *i, or -1 when
 * there is no index or the id is not one of its submissions'. */
int lm_sim_person_of(const lm_sim *s, const char *lead_id, size_t *i);
/* The hidden intent to buy (0..1) of the person of submission i: who
 * buys in this market (title, source, company size, region, pages read,
 * a demo asked for) and a personal draw no feature shows. Pure. */
double lm_sim_truth_intent(const lm_sim *s, size_t i, const lm_sim_lead *l);
/* The role of the person behind a lead id (s->people, else drawn). */
int lm_sim_person_role(const lm_sim *s, const char *lead_id);

/* The index of who is behind each of s's lead ids (the tail of a lead id
 * is intake's hash of the submission's event id). Caller frees with
 * lm_sim_people_free (NULL ok); NULL when out of memory. */
lm_sim_people *lm_sim_people_build(const lm_sim *s);
void lm_sim_people_free(lm_sim_people *p);

#endif
