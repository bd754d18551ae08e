/* lm_arena.h — a bump allocator for memory that dies all at once.
 *
 * What a batch decodes (its inputs' messages) and what one Redis round
 * trip parses (its replies) is freed together when the batch or the round
 * trip is done; an arena hands that memory out by moving a pointer and
 * takes it all back with one reset, instead of a malloc and a free per
 * string, array and message (issue 16: malloc and free were a fifth of
 * the workers' instructions).
 *
 * Memory comes in chunks; a pointer it gave stays valid until the next
 * lm_arena_reset or lm_arena_free (chunks never move). A reset keeps one
 * chunk, as large as what was used since the last reset, so an arena that
 * served a batch serves the next one of the same size from a single chunk;
 * a chunk four times larger than a round used is given back (one huge
 * batch does not pin its memory).
 * Every pointer is aligned for any type (max_align_t). Not thread-safe:
 * one owner, who frees it with lm_arena_free. A zeroed lm_arena is an
 * empty one.
 *
 * Under AddressSanitizer (make test-asan) the room no allocation holds is
 * poisoned: a read or write through a pointer kept past a reset, a rewind
 * or beyond its size (into the padding or the chunk's free end) is
 * reported, as a use after free of malloc'd memory would be. */
#ifndef LM_ARENA_H
#define LM_ARENA_H

#include <stddef.h>

typedef struct lm_arena_chunk lm_arena_chunk;

typedef struct lm_arena {
    lm_arena_chunk *head; /* the chunk being filled; older ones follow */
    size_t held;          /* bytes of every chunk's room, for the reset */
} lm_arena;

/* Where an arena stands, to take back what was given since (a decode that
 * failed half-way). */
typedef struct lm_arena_mark {
    lm_arena_chunk *chunk;
    size_t used;
} lm_arena_mark;

/* n bytes (n = 0 gives a valid, unique pointer), or NULL when out of
 * memory. Not zeroed. */
void *lm_arena_alloc(lm_arena *a, size_t n);
/* n zeroed bytes, or NULL. */
void *lm_arena_calloc(lm_arena *a, size_t n);
/* Takes back everything given; keeps one chunk of the size used since the
 * last reset (see above). Nothing used since: nothing done. */
void lm_arena_reset(lm_arena *a);
/* Where the arena stands now. */
lm_arena_mark lm_arena_mark_get(const lm_arena *a);
/* Takes back everything given since mark m (which must be of this arena,
 * taken after its last reset): chunks made since are freed. */
void lm_arena_rewind(lm_arena *a, lm_arena_mark m);
/* Frees every chunk; the arena is empty and usable again. NULL ok. */
void lm_arena_free(lm_arena *a);
/* Bytes of room the arena holds (its chunks' sizes), for the metrics. */
size_t lm_arena_held(const lm_arena *a);

#endif
