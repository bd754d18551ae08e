/* dlq.h — what `lastmile dlq` (dlq.c) shares with its reader
 * (dlq_read.c): the dead letters of the topic, read whole and filtered.
 *
 * A replay is recorded in Redis, one key per dead letter:
 *   lm:dlq:replayed:<dead_letter_id>  the simulated ms it was replayed at
 * written after the broker acknowledged the replayed message; a dead
 * letter with a record is not replayed again (unless --force). */
#ifndef LM_CLI_DLQ_H
#define LM_CLI_DLQ_H

#include "lm_env.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define DLQ_REPLAYED_PREFIX "lm:dlq:replayed:"

/* Which dead letters: every field NULL / 0 means any. */
typedef struct dlq_filter {
    const char *worker; /* exactly */
    const char *reason; /* a substring of the reason */
    const char *id;     /* exactly, a dead_letter_id */
    int64_t since_ms;   /* failed_at_ms >= since */
    int64_t until_ms;   /* failed_at_ms < until */
} dlq_filter;

typedef struct dlq_set {
    Lastmile__V1__DeadLetter **v; /* owned */
    size_t n, cap;
} dlq_set;

/* 1 when dl passes f. */
int dlq_filter_match(const dlq_filter *f, const Lastmile__V1__DeadLetter *dl);
/* Every dead letter on the topic up to its end now that passes f, in
 * partition order. 0, or -1 with err (set then holds nothing). */
int dlq_read(const lm_settings *s, const dlq_filter *f, dlq_set *set, char *err,
             size_t errsz);
void dlq_set_free(dlq_set *set);

#endif
