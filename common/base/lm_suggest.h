/* lm_suggest.h — "did you mean": the closest known name to a misspelt one.
 *
 * Every error about an unknown name (a config key, a team, a channel, a
 * model feature) offers the nearest valid one when it is close enough to
 * be a typo. Pure; thread-safe; no heap. */
#ifndef LM_SUGGEST_H
#define LM_SUGGEST_H

#include <stddef.h>

#define LM_SUGGEST_MAX 64 /* longer names get no suggestion */

/* Edit distance, case-insensitive (optimal string alignment: a swap of
 * two neighbours costs 1, so "emial" is 1 from "email"); (size_t)-1 when
 * either is longer than LM_SUGGEST_MAX bytes. */
size_t lm_edit_distance(const char *a, const char *b);

/* The candidate closest to s when it is close enough to be a typo (at
 * most 1 edit, 2 for names of 6 bytes or more), else NULL. The result
 * points into cands. */
const char *lm_suggest(const char *s, const char *const *cands, size_t n);

#endif
