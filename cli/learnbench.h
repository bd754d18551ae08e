/* learnbench.h — the learning figure: the simulated market's people
 * (sim.h, truths drawn per seed) against the timing learner (lm_learn.h),
 * offline — no broker, no Redis — week by week (learnbench.c; the command
 * `lastmile learn-bench`, learnbench_cmd.c).
 *
 * Per simulated week it sums, over the touches whose time the learner
 * chose (steps not "at: now"), the true hour quality (lm_sim_truth_hour of
 * the person) of the chosen slot, of a uniformly random candidate slot
 * (the mean over the candidates) and of the candidate that is best for the
 * lead's segment (its role mix); "share of gain" = (learned - random) /
 * (best - random). The same with the decay of the chance since the person
 * asked ("value"). Pure in (seed, options); single-threaded. */
#ifndef LM_LEARNBENCH_H
#define LM_LEARNBENCH_H

#include "lm_learn.h"
#include "lm_policy.h"

#include <stddef.h>
#include <stdint.h>

#define LM_LEARNBENCH_WEEKS_MAX 52

typedef struct lm_learnbench_week {
    double touches;                     /* chosen touches */
    double learned, random, best;       /* summed hour quality */
    double v_learned, v_random, v_best; /* the same times the decay */
    double answers;                     /* answered touches (all steps) */
} lm_learnbench_week;

typedef struct lm_learnbench_run {
    int weeks;
    lm_learnbench_week w[LM_LEARNBENCH_WEEKS_MAX];
} lm_learnbench_run;

/* Runs one seed: leads_per_week leads a week for `weeks` weeks, every
 * lead on the learner with config lc, cadences from policy p. 0, -1 when
 * out of memory. */
int lm_learnbench_run_seed(const lm_policy *p, const lm_learn_cfg *lc,
                           uint64_t seed, int weeks, size_t leads_per_week,
                           lm_learnbench_run *out);

/* (learned - random) / (best - random) of a week; 0 when best == random. */
double lm_learnbench_share(const lm_learnbench_week *w, int value);

#endif
