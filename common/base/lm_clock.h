/* lm_clock.h — the one clock every worker reads.
 *
 * "Now" is simulated epoch milliseconds: with scale 1 and no origin it is
 * the wall clock. A demo compresses weeks into seconds, in one of two ways:
 *
 * - a fixed scale: LASTMILE_TIME_SCALE (simulated seconds per real second)
 *   and LASTMILE_TIME_ORIGIN_MS (the real epoch ms at which the simulation
 *   starts); every process computes
 *       now = start + (real_now - origin) * scale
 *   so all of them agree without talking to each other;
 * - a shared clock: LASTMILE_TIME_PATH names a clock file (lm_clock_page.h)
 *   that one process owns (`lastmile demo`) and may re-scale at any moment
 *   (real speed while a lead is in the fleet's hands, the demo's speed
 *   otherwise); every process maps it and reads the same time. The file
 *   must exist when a process attaches (an error at start otherwise).
 *
 * In production neither is set: the wall clock, scale 1. Deadlines inside a
 * process use lm_clock_mono_ms (never simulated, never jumps).
 *
 * Decision functions never call this module: the runtime reads the clock
 * once per batch and hands `now` to them, which keeps them pure. Process-
 * wide state, set once at start before threads (init, attach, own); reads
 * are thread-safe; lm_clock_set is the owner's, from one thread. */
#ifndef LM_CLOCK_H
#define LM_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* The longest real sleep lm_clock_real_delay_ms answers with a shared
 * clock: its scale may change meanwhile, so sleepers look again this
 * often. */
#define LM_CLOCK_SHARED_STEP_MS 50

/* scale 1 and origin 0: the wall clock. start 0: same as origin. Ignored
 * once a shared clock is attached (the file carries the scale). */
void lm_clock_init(double scale, int64_t origin_ms, int64_t start_ms);
int64_t lm_clock_now_ms(void);  /* simulated epoch ms */
int64_t lm_clock_real_ms(void); /* wall-clock epoch ms */
int64_t lm_clock_mono_ms(void); /* monotonic ms, for deadlines */
/* The current scale (a shared clock's may change from call to call). */
double lm_clock_scale(void);
/* The fastest scale this clock runs at: a shared clock's owner never goes
 * faster. For leases that must outlast a real interval at any scale. */
double lm_clock_scale_max(void);
/* Real milliseconds until simulated duration `sim_ms` has passed (>= 0) at
 * the current scale. With a shared clock at most LM_CLOCK_SHARED_STEP_MS:
 * sleep that, then compare lm_clock_now_ms with the target again. */
int64_t lm_clock_real_delay_ms(int64_t sim_ms);

/* ---- the shared clock (lm_clock_page.h) ---- */

/* Attaches this process to the clock file at `path`, read-only. Idempotent
 * for the path already attached (the owner's own mapping stays). 0; -1
 * with err naming the path and the fix (missing, short, foreign file). */
int lm_clock_attach(const char *path, char *err, size_t errsz);
/* Creates the clock file at `path` (must not exist) running at `scale`
 * from `start_ms` (0: the wall clock's now), the fastest scale being
 * `scale`; this process becomes its owner and reads it. 0; -1 with err. */
int lm_clock_own(const char *path, double scale, int64_t start_ms, char *err,
                 size_t errsz);
/* Owner only: the clock runs at `scale` from now on, continuing from the
 * time it shows (lm_clock_page_set: no jump, never back). 0; -1 when this
 * process does not own a clock or the scale is out of range. */
int lm_clock_set(double scale);
/* 1 when this process reads a shared clock; 2 when it owns it. */
int lm_clock_shared(void);
/* Detaches; the owner also removes the file. After every reader thread
 * of this process has stopped; the clock is the wall clock again. */
void lm_clock_release(void);

#endif
