/* board_age.h — the age of the oldest intake message on the board, in the
 * clock domain of the time it compares (docs/OBSERVABILITY.md, the
 * board's "oldest waiting"; cli/board.h).
 *
 * Lead rows and LeadSubmitted.submitted_at_ms hold simulated epoch ms
 * (lm_clock_now_ms); Kafka's message timestamps are real (wall-clock) ms.
 * A shared demo clock (LASTMILE_TIME_PATH) changes its scale as it runs
 * (real speed while a lead is on its way to its first touch, the demo's
 * speed otherwise), so a real interval times the current scale is not the
 * simulated time that passed: ages are simulated now minus a simulated
 * time. Kafka's timestamp is used only for a message without
 * submitted_at_ms and only with a fixed scale (1 in production), which
 * maps real ms to simulated ms exactly.
 *
 * Pure but for reading lm_clock; the unpacked message is freed before
 * return; any thread. */
#ifndef BOARD_AGE_H
#define BOARD_AGE_H

#include <stddef.h>
#include <stdint.h>

/* The simulated epoch ms an intake message (a packed LeadSubmitted,
 * borrowed) has waited since: its submitted_at_ms; without one, its
 * Kafka timestamp `kafka_ts_ms` (real ms, <= 0 when none) mapped to
 * simulated ms when the clock has a fixed scale. -1 when unknown. */
int64_t board_intake_since_ms(const void *payload, size_t len,
                              int64_t kafka_ts_ms);
/* Seconds from simulated `since_ms` to simulated `now_ms` (the snapshot's
 * now, so every age on one snapshot is taken at one time), >= 0. */
double board_age_s(int64_t now_ms, int64_t since_ms);

#endif
