/* lm_clock_page.h — a simulated clock shared by the processes of one
 * machine through a small file (the demo's "bullet time").
 *
 * The file holds one page: (real anchor, simulated anchor, scale) under a
 * seqlock. Every process maps it and computes
 *     now = sim_anchor + (mono_now - real_anchor) * scale
 * with the real side on CLOCK_MONOTONIC (one clock for every process of a
 * machine, never stepped), so all of them agree and the owner can change
 * the scale at any moment: lm_clock_page_set re-anchors at the current
 * instant, so simulated time stays continuous and never goes back.
 *
 * Ownership: one process creates the file (lm_clock_page_create, mapped
 * read-write) and is its only writer, from one thread at a time; any number
 * of processes open it read-only (lm_clock_page_open). The file outlives a
 * dead owner: readers then keep the last anchor and scale (the clock runs
 * on, it never stops or goes back). The creator removes the file when it
 * is done (lm_clock_page_close with unlink).
 *
 * Reads are lock-free and thread-safe: a reader retries while the writer
 * is between its two sequence increments, and samples the real clock
 * inside the read, so a read that overlaps a re-anchoring is retried and
 * no reader ever extrapolates an old scale past the moment it changed.
 *
 * Failure modes: a missing, short or foreign file (bad magic or version)
 * is refused at open with a sentence naming the path and the fix. An
 * owner that dies between its two sequence increments (a few instructions)
 * leaves the page mid-write: readers wait 1 s for it, then read the fields
 * as they are. */
#ifndef LM_CLOCK_PAGE_H
#define LM_CLOCK_PAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_clock_page lm_clock_page;

/* Creates `path` (it must not exist), sets scale and the simulated time at
 * this instant, and maps it read-write. `max_scale` is the fastest scale
 * the owner will ever set (readers use it for leases that must outlast a
 * real interval at any scale). The caller owns the handle. NULL with err. */
lm_clock_page *lm_clock_page_create(const char *path, double scale,
                                    double max_scale, int64_t sim_now_ms,
                                    char *err, size_t errsz);
/* Maps an existing clock file read-only. NULL with err. */
lm_clock_page *lm_clock_page_open(const char *path, char *err, size_t errsz);
/* Unmaps; with `unlink_file` (the creator) removes the file too. NULL ok. */
void lm_clock_page_close(lm_clock_page *p, int unlink_file);

/* Simulated epoch ms now. Thread-safe. */
int64_t lm_clock_page_now_ms(const lm_clock_page *p);
/* The current scale (simulated per real second) and the fastest one. */
double lm_clock_page_scale(const lm_clock_page *p);
double lm_clock_page_max_scale(const lm_clock_page *p);
/* Owner only: from this instant the clock runs at `scale` (0 < scale <=
 * max_scale), continuing from the simulated time it shows now (no jump,
 * never back). 0; -1 when the handle is read-only or the scale out of
 * range. */
int lm_clock_page_set(lm_clock_page *p, double scale);

#endif
