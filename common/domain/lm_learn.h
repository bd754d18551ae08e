/* lm_learn.h — learned timing: when the next touch of a lead should go
 * out, from what answered before (pure: no I/O; the timing worker and the
 * learning bench both call it).
 *
 * What is learned: per hour-of-week slot (the lead's local time), how
 * many touches were answered (s) and not (f), kept per *context* — the
 * features the config turns on (learning.features): the person's role
 * from the title, the cadence, the step's channel, the step — and at
 * four levels: the whole market ("*"), the lead's region ("NA"), its
 * segment ("NA/mid") — these three by the role alone (when the feature is
 * on) — and the segment's cell, which splits the segment's counts by the
 * channel, cadence and step features that are on. The estimate of a slot
 * is hierarchical shrinkage
 * (empirical Bayes with a fixed prior strength m = learning.pool_strength
 * touches): the market's hour-of-day curve starts from the overall rate,
 * each level's curve starts from the level above and moves away as its
 * own data grows:
 *     hod_L[h]  = (S_L[h] + m * hod_up[h]) / (N_L[h] + m)      hour of day
 *     est_L[k]  = (s_L[k] + m * est_up[k] * hod_L[h] / hod_up[h])
 *                 / (n_L[k] + m)                                hour of week
 * (without the day_of_week feature est_L = hod_L: weekdays share a curve).
 *
 * The choice weighs a better slot against the cost of waiting: among the
 * candidate slots (lm_policy_candidate_slots) the one with the highest
 * est[k] * 2^(-wait / half_life), wait = the slot's start - earliest; with
 * probability `explore` a candidate drawn uniformly instead, so every
 * choice has a known probability (recorded as slot_probability for
 * off-policy evaluation). Deterministic in the seed.
 *
 * The old learner (LM_LEARN_RULE_THOMPSON: Thompson sampling over each
 * slot's Beta(1+s, 1+f) of the segment level only) stays selectable for
 * comparison (the bench's baseline).
 *
 * Ownership: callers own every buffer; nothing is allocated. Threads:
 * pure functions, any thread. */
#ifndef LM_LEARN_H
#define LM_LEARN_H

#include "lm_policy.h"

#include <stddef.h>
#include <stdint.h>

#define LM_LEARN_SLOTS 168

/* features (learning.features) */
#define LM_LEARN_F_ROLE    1  /* role from the title: exec manager ic none */
#define LM_LEARN_F_CHANNEL 2  /* the step's channel */
#define LM_LEARN_F_CADENCE 4  /* the cadence */
#define LM_LEARN_F_STEP    8  /* the step's index */
#define LM_LEARN_F_DAY     16 /* hour-of-week (else weekdays share a curve) */

enum { LM_LEARN_RULE_VALUE = 0, LM_LEARN_RULE_THOMPSON = 1 };
enum {
    LM_LEARN_GLOBAL,
    LM_LEARN_REGION,
    LM_LEARN_SEGMENT,
    LM_LEARN_CELL,
    LM_LEARN_LEVELS
};
#define LM_LEARN_KEY_MAX 256
/* A level's key: LM_LEARN_KEY_PREFIX "<where>|<context>" LM_LEARN_KEY_SUFFIX,
 * e.g. "lm:{learn:NA|exec}:slots": each hash its own hash tag, so on a
 * Redis Cluster the cells spread over the slots (docs/SCALE-OUT.md). */
#define LM_LEARN_KEY_PREFIX "lm:{learn:"
#define LM_LEARN_KEY_SUFFIX "}:slots"
/* The layout before issue 17, "lm:{learn}:slots:<where>|<context>" (one
 * hash tag for all): only the migration (timing_migrate.h) reads it. */
#define LM_LEARN_OLD_KEY_PREFIX "lm:{learn}:slots:"
#define LM_LEARN_ROLE_MAX       16 /* a role's name, NUL included */

typedef struct lm_learn_cfg {
    int features;         /* LM_LEARN_F_* bits */
    int rule;             /* LM_LEARN_RULE_* */
    double pool_strength; /* m, touches; > 0 */
    double explore;       /* 0..1 */
    int64_t half_life_ms; /* value of waiting; 0 = waiting costs nothing */
    double holdout;       /* share of leads always on the fixed schedule */
} lm_learn_cfg;

/* The defaults (docs/LEARNING.md; config/decisions.yaml's learning:). */
void lm_learn_cfg_default(lm_learn_cfg *c);

/* One level's counts for one context. */
typedef struct lm_learn_counts {
    uint32_t s[LM_LEARN_SLOTS], f[LM_LEARN_SLOTS];
} lm_learn_counts;

/* The role a title reads as: "exec" (chief, founder, owner, president,
 * VP, CxO), "manager" (head, director, manager, lead), "ic" (any other
 * title), "none" (no title). Static storage. */
const char *lm_learn_role(const char *title);

/* The keys of a touch's counts, one per level (fields "<slot>:s" and
 * "<slot>:f"), each under its own hash tag (a cluster spreads them; a
 * single Redis reads them with one script, timing_learn.c):
 *   lm:{learn:*|<base>}:slots          the market
 *   lm:{learn:<region>|<base>}:slots   the region (the segment before '/')
 *   lm:{learn:<segment>|<base>}:slots  the segment
 *   lm:{learn:<segment>|<full>}:slots  its cell
 * base: the role ("exec") when the role feature is on, else "all"; full:
 * base and the cadence, channel and "s<step>" that are on, joined by '.'
 * ("exec.qualified.call"). When no split feature is on, the cell is the
 * segment and keys[LM_LEARN_CELL] is "" (no fourth level). NULL parts
 * count as "-". 0, -1 when a key would not fit. */
int lm_learn_keys(const lm_learn_cfg *c, const char *segment, const char *role,
                  const char *cadence, const char *channel, int step,
                  char keys[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX]);

/* The estimated answer chance per slot (see above). lv[LM_LEARN_LEVELS]. */
void lm_learn_estimate(const lm_learn_cfg *c, const lm_learn_counts *lv,
                       double est[LM_LEARN_SLOTS]);

typedef struct lm_learn_choice {
    int64_t when_ms;    /* the chosen candidate's start */
    int32_t slot;       /* its slot */
    double probability; /* with which it was chosen (Thompson: estimated) */
} lm_learn_choice;

/* Chooses among n >= 1 candidates (in ascending start order) by c's rule:
 * the value rule over est, or Thompson over lv[LM_LEARN_SEGMENT] (est
 * unused). Deterministic in seed. 0, -1 when n == 0. */
int lm_learn_choose(const lm_learn_cfg *c, const lm_slot *cand, size_t n,
                    int64_t earliest_ms, const double est[LM_LEARN_SLOTS],
                    const lm_learn_counts *lv, uint64_t seed,
                    lm_learn_choice *out);

/* A draw from Beta(a, b), a, b >= 1, advancing the generator *rng. */
double lm_learn_beta(double a, double b, uint64_t *rng);
/* 1 when the lead is in the global holdout (hashed from its id). */
int lm_learn_holdout(const char *lead_id, double share);
/* The lead's arm: 1 learned timing, 0 the fixed schedule — a lead in the
 * global holdout (learning.holdout; *holdout = 1) or on the control arm
 * (control_share, lm_lead_adaptive). Qualification and followup both ask
 * here, so they agree. */
int lm_learn_arm(const lm_policy *p, const char *lead_id, int *holdout);

/* What a response timer's payload carries after its step (lm_lead.h):
 * "<segment>|<role>|<cadence>", so that timing knows, before it reads the
 * lead, which counts the next step's choice needs; just "<segment>" when
 * role is NULL or "" (a lead from before issue 19: its hash has no role).
 * 0, -1 when it does not fit bufsz. */
int lm_learn_timer_segment(const char *segment, const char *role,
                           const char *cadence, char *buf, size_t bufsz);
/* Splits it: segment (LM_POLICY_SEGMENT_MAX), role (LM_LEARN_ROLE_MAX)
 * and cadence (LM_POLICY_NAME_MAX); role and cadence "" for the old form.
 * 0, -1 when a part is too long or the form is neither. */
int lm_learn_timer_segment_parse(const char *s, char *segment, char *role,
                                 char *cadence);

#endif
