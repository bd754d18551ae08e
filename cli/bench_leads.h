/* bench_leads.h — the leads a bench run pushes and the results it reads
 * back (bench_leads.c): making them, sending them as fast as the chain
 * takes them or at a pace, reading each lead's first result and decision
 * from the output topics, and the latency run's percentiles. Used by
 * bench.c's phases; single-threaded, like the bench. */
#ifndef LM_BENCH_LEADS_H
#define LM_BENCH_LEADS_H

#include "bench.h"
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_strmap.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdint.h>

/* N distinct leads, packed once; the arrays are the struct's (leads_free). */
typedef struct bench_leads {
    size_t n;
    uint8_t **val;
    size_t *len;
    char (*key)[64];
    char (*lead_id)[LM_LEAD_ID_MAX];
    int64_t *sent_ms;     /* real ms */
    int64_t *result_ms;   /* real ms (Kafka timestamp of the first result) */
    int64_t *decided_ms;  /* real ms (Kafka timestamp of its decision) */
    unsigned char *waits; /* 1: its decision left it unassigned */
    lm_strmap *index;     /* lead_id -> its index in the arrays above */
} bench_leads;

/* A phase's clients and what its waits watch; the handles are the
 * phase's (bench.c), results counts the leads with a first result. */
typedef struct bench_io {
    rd_kafka_t *prod;
    rd_kafka_t *reader; /* actions + outcomes + followup, from the start */
    char t_intake[LM_TOPIC_MAX];
    size_t results;
    proc *procs; /* the phase's workers (phase_up): one gone ends a wait */
    const int *n_procs;
    volatile sig_atomic_t *stop; /* set by a signal: every wait ends */
} bench_io;

/* Makes n leads tagged `tag` (distinct event ids and people). 0 / -1. */
int bench_leads_make(bench_leads *b, size_t n, const char *tag);
void bench_leads_free(bench_leads *b);
/* A reader of actions, outcomes and followup from their beginnings (no
 * group); NULL with err. The caller closes and destroys it. */
rd_kafka_t *bench_reader_new(const lm_settings *s, char *err, size_t errsz);
/* Pushes every lead at once; the rate is n / (last result - first send),
 * 0 when not every lead came back (a worker gone, stopped, 10 minutes).
 * passthrough: results are the chains' copies on the actions topic. */
double bench_run_max(bench_io *io, bench_leads *b, int passthrough);
/* Sends b's leads at `rate` leads/s; at_half (may be NULL) is called with
 * arg once half are sent. 0 when every lead came back, -1 if not. */
int bench_run_paced(bench_io *io, bench_leads *b, double rate,
                    void (*at_half)(void *), void *arg);
/* The latency run's percentiles from a paced run's times into r: the
 * whole run, each half, and split at the decision. */
void bench_latency_figures(const bench_leads *bl, bench_results *r);

#endif
