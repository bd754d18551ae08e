/* simrun.h — runs the simulated market (sim.h) against a broker: publishes
 * leads as simulated time reaches them, consumes lastmile.actions as a
 * connector would (its own consumer group), and publishes the answers when
 * they occur. Used by `lastmile simulate` and `lastmile demo`. */
#ifndef LM_SIMRUN_H
#define LM_SIMRUN_H

#include "sim.h"
#include "simrun_bullet.h"

#include "lm_env.h"

#include <signal.h>

typedef struct lm_simrun_opts {
    lm_sim sim;
    int64_t end_ms;   /* simulated time at which the run ends */
    int progress_tty; /* 1: a live bar on stderr; 0: a line every 5 s */
    int quiet;        /* no progress at all */
    volatile sig_atomic_t *stop; /* set by a signal handler */
    /* the demo's scale when this process owns a shared clock (lm_clock_own):
       bullet time (simrun_bullet.h); 0: the clock is left alone */
    double bullet_fast;
} lm_simrun_opts;

typedef struct lm_simrun_stats {
    size_t published, invalid, repeats;
    size_t touches, handoffs, answers, conversions, late_answers;
    size_t deals_won, deals_lost; /* the CRM's results after hand-offs */
    size_t owner_done, reminders, escalations; /* the owners' side */
    lm_bullet_stats bullet; /* real speed while leads were in flight */
} lm_simrun_stats;

/* 0 when the end time was reached (or stop was set), -1 with err. */
int lm_simrun(const lm_settings *s, const lm_simrun_opts *o,
              lm_simrun_stats *st, char *err, size_t errsz);

#endif
