/* lm_clock.h — the one clock every worker reads.
 *
 * "Now" is simulated epoch milliseconds: with scale 1 and no origin it is
 * the wall clock. A demo compresses weeks into seconds with
 * LASTMILE_TIME_SCALE (simulated seconds per real second) and
 * LASTMILE_TIME_ORIGIN_MS (the real epoch ms at which the simulation
 * starts); every process computes
 *     now = start + (real_now - origin) * scale
 * so all of them agree without talking to each other. Deadlines inside a
 * process use lm_clock_mono_ms (never simulated, never jumps).
 *
 * Decision functions never call this module: the runtime reads the clock
 * once per batch and hands `now` to them, which keeps them pure. Process-
 * wide state, set once at start before threads; reads are thread-safe. */
#ifndef LM_CLOCK_H
#define LM_CLOCK_H

#include <stdint.h>

/* scale 1 and origin 0: the wall clock. start 0: same as origin. */
void lm_clock_init(double scale, int64_t origin_ms, int64_t start_ms);
int64_t lm_clock_now_ms(void);  /* simulated epoch ms */
int64_t lm_clock_real_ms(void); /* wall-clock epoch ms */
int64_t lm_clock_mono_ms(void); /* monotonic ms, for deadlines */
double lm_clock_scale(void);
/* Real milliseconds until simulated duration `sim_ms` has passed (>= 0). */
int64_t lm_clock_real_delay_ms(int64_t sim_ms);

#endif
