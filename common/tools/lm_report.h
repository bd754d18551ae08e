/* lm_report.h — the business report: what the fleet did with the leads,
 * in the figures a sales leader reads (docs/REPORT.md explains each one).
 *
 * Three layers, kept apart so the arithmetic is tested without servers:
 *   1. reading: lm_report_scan walks every lead hash in Redis
 *      (lm:{<person>}:lead:<lead_id>, see common/domain/lm_lead.h) with
 *      SCAN + pipelined HGETALL and hands each one, parsed into an
 *      lm_lead_row, to a callback; lm_report_read_topic reads a Kafka topic
 *      from its first offset to its high watermarks (invalid input on the
 *      dlq, outcomes for training);
 *   2. arithmetic (pure): an lm_report_acc takes rows one at a time
 *      (lm_report_add_lead) and lm_report_finish turns them into an
 *      lm_report: the funnel, speed-to-lead, cycle time, dead time per
 *      stage, cost and revenue per outcome and per lead, the adaptive vs
 *      fixed-schedule (and global holdout) comparison with its always-valid
 *      intervals, open leads per owner;
 *   3. rendering: lm_report_json and lm_report_print.
 * lm_report_collect is 1 + 2 in one call. The files: lm_report_scan.c
 * (Redis, parsing a lead hash), lm_report_read.c (Kafka), lm_report.c (the
 * arithmetic), lm_report_print.c (JSON, text), lm_report_lift.c (the
 * timing arms: always-valid lift, its state, the sample still needed);
 * percentiles, intervals and confidence sequences are the one stats
 * module's (common/base/lm_stats.h).
 *
 * Conventions: times in the lead hash are simulated epoch ms; durations in
 * the report are seconds (speed-to-lead, cycle time) or real milliseconds
 * (dead time, as the workers record it); money is in cents. A figure that
 * cannot be computed (nothing to divide by, no leads in a distribution) is
 * NAN in the struct, null in JSON and "n/a" in print.
 * Percentiles are nearest-rank (lm_stats_percentile): the p-th percentile
 * of n sorted values is the value at rank ceil(p * n / 100) (1-based), so
 * "p90 = 4m" reads "90% of leads took 4 minutes or less".
 *
 * Ownership: lm_lead_row strings point into the reply they were parsed
 * from (valid during the callback only). lm_report_acc_new returns an
 * accumulator the caller frees with lm_report_acc_free; lm_report_finish
 * fills a caller-owned lm_report the caller releases with lm_report_free.
 * Threads: no global state; one accumulator per thread. */
#ifndef LM_REPORT_H
#define LM_REPORT_H

#include "lm_env.h"
#include "lm_report_deciles.h"
#include "lm_redis.h"
#include "lm_strmap.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------------------ limits */

#define LM_REPORT_SCAN_COUNT       1000  /* SCAN COUNT hint (keys per batch) */
#define LM_REPORT_RETRIES          10    /* Redis round trips retried on loss */
#define LM_REPORT_RETRY_SLEEP_MS   200   /* pause between those retries */
#define LM_REPORT_OWNER_MAX        128   /* bytes of an owner name kept */
#define LM_REPORT_KAFKA_TIMEOUT_MS 10000 /* metadata and watermark queries */
#define LM_REPORT_READ_TIMEOUT_MS  120000 /* reading a topic to its end */
#define LM_REPORT_STAGES           4 /* intake qualification followup timing */
#define LM_REPORT_JSON_RATE_DIGITS 6 /* decimals of a rate or lift in JSON */

/* The stages whose dead time the workers record (wait_<stage>_ms), in
 * flow order: "intake", "qualification", "followup", "timing". */
extern const char *const lm_report_stage_names[LM_REPORT_STAGES];

/* ------------------------------------------------------------ one lead */

/* One lead hash, parsed. Times are simulated epoch ms, 0 when the field is
 * absent; counters are 0 when absent; strings are NULL when absent and
 * point into the parsed reply. */
typedef struct lm_lead_row {
    const char *lead_id;  /* from the key; may be NULL (tests) */
    const char *stage;    /* qualification | followup | waiting |
                             handed_off | paused | closed */
    const char *status;   /* open | closed */
    const char *outcome;  /* OutcomeStatus name when closed */
    const char *decision; /* QUALIFIED | NURTURE | DISQUALIFIED */
    const char *owner;
    const char *cadence;
    int64_t submitted_at, accepted_at, decided_at, first_action_at,
        last_action_at, next_due_at, closed_at;
    /* the answer that handed it off (or a sale's), the first automatic
       touch (scheduled), the owner's first contact: 0 when none */
    int64_t responded_at, first_touch_at, first_human_at;
    /* when its first human step (or hand-off) was due, and the owner's
       DONE on the hand-off: 0 when none (lm_report_stages.h) */
    int64_t human_due_at, handoff_done_at;
    int64_t step; /* current cadence step; -1 when absent */
    int adaptive; /* 1 learning arm, 0 fixed-schedule arm, -1 unknown */
    int holdout;  /* 1 in the global holdout ("holdout" is "1"), else 0 */
    int64_t touches, cost_cents, revenue_cents, merged;
    int64_t wait_ms[LM_REPORT_STAGES]; /* real ms summed over messages */
    int64_t wait_n[LM_REPORT_STAGES];  /* messages */
    double score;                      /* qualification score, when has_score */
    int has_score; /* the hash has a score (decided leads) */
} lm_lead_row;

/* Indexes into lm_report_stage_names. */
enum {
    LM_REPORT_STAGE_INTAKE,
    LM_REPORT_STAGE_QUALIFICATION,
    LM_REPORT_STAGE_FOLLOWUP,
    LM_REPORT_STAGE_TIMING
};

/* Where an open lead waits on the fleet now, the one rule `lastmile
 * waiting` and the board share: LM_REPORT_STAGE_QUALIFICATION (accepted,
 * not decided), _FOLLOWUP (decided, or a touch's window closed, and no
 * touch made yet) or _TIMING (its timer is due), with *since the simulated
 * ms it has waited from; -1 when it waits on no one (closed, or inside a
 * response window). */
int lm_report_waiting_stage(const lm_lead_row *row, int64_t now_ms,
                            int64_t *since);

/* Parses an HGETALL reply (RESP2 array of field, value or RESP3 map) into
 * *row (overwritten; lead_id set to NULL). Unknown fields and the binary
 * "lead" field are ignored; a number that does not parse counts as absent.
 * 0, or -1 when the reply is not a hash (an error reply such as WRONGTYPE,
 * nil, or another type) or holds neither "status" nor "accepted_at". The
 * row's strings point into `reply`. */
int lm_lead_row_parse(const redisReply *reply, lm_lead_row *row);

/* ------------------------------------------------------------ reading */

/* Called once per lead; return 0 to go on, -1 to stop the scan (the scan
 * then returns -1; the callback writes its own error). */
typedef int (*lm_report_row_fn)(void *opaque, const lm_lead_row *row);

/* Walks every lead hash with SCAN (MATCH lm:{*}:lead:*, COUNT
 * LM_REPORT_SCAN_COUNT) and one pipelined HGETALL per SCAN batch. Keys that
 * are not a lead hash (the ...:lead:<id>:sources set, anything malformed)
 * are skipped; a key SCAN returns twice is read once. SCAN walks every
 * master of a Redis Cluster (lm_redis_scan), the HGETALLs are routed by
 * key. Lost connections are retried LM_REPORT_RETRIES times.
 * 0, or -1 with err. r is borrowed (connected or not). */
int lm_report_scan(lm_redis *r, lm_report_row_fn fn, void *opaque, char *err,
                   size_t errsz);

/* Called once per message read; return 0 to go on, -1 to stop. */
typedef int (*lm_report_msg_fn)(void *opaque, const rd_kafka_message_t *rkm);

/* Reads topic <prefix><suffix> with a group-less reader (LM_KAFKA_READER)
 * on every partition from its first offset to the high watermark taken at
 * the start, calling fn for each message. A topic that does not exist has
 * no messages. Gives up after timeout_ms (<= 0: LM_REPORT_READ_TIMEOUT_MS).
 * Returns the number of messages read, or -1 with err. s is borrowed. */
int64_t lm_report_read_topic(const lm_settings *s, const char *suffix,
                             int timeout_ms, lm_report_msg_fn fn, void *opaque,
                             char *err, size_t errsz);

/* Reads what the worker of topic <prefix><suffix> has not taken yet: every
 * partition from the offset its consumer group (<prefix><suffix>, as the
 * runtime names it) committed (from the first offset when it committed
 * none) to the high watermark taken at the start, calling fn for each
 * message. The reader names the group only to fetch those offsets: it never
 * joins it and never commits. A message taken but not yet committed is
 * read too. Returns the number of messages read, or -1 with err. s is
 * borrowed. */
int64_t lm_report_read_pending(const lm_settings *s, const char *suffix,
                               int timeout_ms, lm_report_msg_fn fn,
                               void *opaque, char *err, size_t errsz);

/* Reads partitions 0 .. n_parts-1 of `topic` (a full name) from offset
 * from[p] up to to[p] (exclusive) with `rk`, a reader the caller owns
 * (LM_KAFKA_READER: partition EOF on), assigned here and unassigned
 * before return, calling fn for each message. For a caller that already
 * knows the offsets (the board). The number read, or -1 with err (as
 * lm_report_read_topic; timeout_ms <= 0: LM_REPORT_READ_TIMEOUT_MS). */
int64_t lm_report_read_range(rd_kafka_t *rk, const char *topic, int n_parts,
                             const int64_t *from, const int64_t *to,
                             int timeout_ms, lm_report_msg_fn fn, void *opaque,
                             char *err, size_t errsz);

/* An lm_report_msg_fn for lm_report_read_pending on the qualification
 * topic: puts each LeadAccepted's lead id into the lm_strmap `opaque`
 * (the caller's) with its accepted_at_ms (the first one read). A message
 * that is not a LeadAccepted, or names no lead, is skipped (qualification
 * dead-letters it). -1 only when out of memory. */
int lm_report_add_pending(void *opaque, const rd_kafka_message_t *rkm);

/* Marks the lead of `row`, when it is in `pending` (NULL: none), as
 * found in Redis (-1): a lead with a record is counted and listed by that
 * record, whatever its stage, not from Kafka. */
void lm_report_pending_found(lm_strmap *pending, const lm_lead_row *row);

/* How many of `pending` (from lm_report_add_pending) a scan that passed
 * it as lm_report_opts.pending found no record of. */
int64_t lm_report_pending_undecided(const lm_strmap *pending);

/* An lm_report_msg_fn for the dead-letter topic: counts into *(int64_t *)
 * opaque the invalid submissions, i.e. the intake worker's dead letters
 * (later workers' dead letters are not submissions). Always 0. */
int lm_report_count_invalid(void *opaque, const rd_kafka_message_t *rkm);

/* ------------------------------------------------------------ the report */

typedef struct lm_report_opts {
    int64_t invalid; /* invalid submissions (dead letters of intake), from
                        Kafka: the report cannot see them in Redis */
    int64_t now_ms;  /* simulated "now" the report is taken at (shown only) */
    /* the leads qualification has not taken (lm_report_add_pending), from
       Kafka: accepted and undecided, with no record in Redis yet. NULL:
       none. Borrowed; the accumulator marks (-1) each it finds a record
       of, which it counts as that record says. */
    lm_strmap *pending;
} lm_report_opts;

/* A distribution: n values, their mean and nearest-rank percentiles (NAN
 * when n is 0). */
typedef struct lm_report_dist {
    size_t n;
    double mean, p50, p90, p99;
} lm_report_dist;

/* One timing arm, over leads that were touched at least once. */
/* System vs human delay of one stage of a lead's path, seconds
 * (lm_report_stages.h): how long the fleet took, how long people took;
 * n 0 where a side has no part in the stage. */
#define LM_REPORT_DELAY_STAGES 5
typedef struct lm_report_delay {
    lm_report_dist fleet_s, people_s;
} lm_report_delay;
typedef struct lm_report_arm {
    int64_t touched;   /* n */
    int64_t responded; /* answered: handed off or bought */
    double rate;       /* responded / touched; NAN when touched is 0 */
    double lo, hi;     /* 95% Wilson score interval; NAN when touched is 0 */
} lm_report_arm;

/* A lift of one arm over another (lm_report_lift.c): the estimate, its
 * always-valid 95% interval (a confidence sequence, lm_stats_lift_cs:
 * valid however often it is looked at), what it proves, and how many more
 * touched leads each arm needs before the present effect would be proven
 * (lm_stats_lift_cs_more; 0 once proven or harmful, NAN when it cannot be
 * estimated: too few answers, or no difference). */
typedef struct lm_report_lift {
    double value;          /* rate_a / rate_b - 1; NAN when undefined */
    double lo, hi;         /* always-valid 95%; NAN until computable */
    int state;             /* LM_STATS_PROVEN, _NOT_PROVEN or _HARMFUL */
    double more_a, more_b; /* touched leads each arm still needs */
} lm_report_lift;

/* The per-step view: the arms over leads that reached a given touch. */
#define LM_REPORT_STEP_VIEWS 2 /* touches >= 2, touches >= 3 */
typedef struct lm_report_step_view {
    int64_t min_touches;
    lm_report_arm adaptive, fixed;
    lm_report_lift lift; /* adaptive over fixed */
} lm_report_step_view;

typedef struct lm_report_owner {
    char *name; /* "(unassigned)" for open leads with no owner yet */
    int64_t open;
} lm_report_owner;

typedef struct lm_report {
    int64_t now_ms;
    /* funnel: submitted = accepted + merged + invalid */
    int64_t submitted, invalid, accepted, merged;
    int64_t qualified, nurture, disqualified, undecided;
    int64_t touched;    /* touches > 0 */
    int64_t responders; /* answered: handed off or bought (responded_at) */
    int64_t handed_off; /* open, with its owner, waiting for the CRM */
    int64_t responded;  /* outcome RESPONDED: the deal window passed */
    int64_t converted, lost, not_interested, unsubscribed, bounced, no_response;
    int64_t closed, open;
    /* speed-to-lead, seconds: to the first automatic touch
     * (first_touch_at - submitted_at), and to the owner's first contact
     * (first_human_at - submitted_at; n 0 when no lead has one) */
    lm_report_dist speed_to_lead_s, speed_to_human_s;
    /* cycle time: closed_at - submitted_at, seconds, over closed leads
     * that were touched, and over closed disqualified leads apart */
    lm_report_dist cycle_time_s, cycle_time_disqualified_s;
    /* dead time: per lead, wait_<stage>_ms / wait_<stage>_n (real ms);
     * the distribution of that per-lead average over leads that have it */
    lm_report_dist dead_ms[LM_REPORT_STAGES];
    /* system vs human delay per stage (lm_report_stages.h) */
    lm_report_delay stage_delay[LM_REPORT_DELAY_STAGES];
    /* money, cents */
    int64_t cost_cents, revenue_cents;
    double cost_per_outcome_cents;    /* cost / closed leads */
    double cost_per_conversion_cents; /* cost / converted leads */
    double cost_per_responder_cents;  /* cost / responders */
    double cost_per_buyer_cents;      /* cost / converted leads */
    double revenue_per_lead_cents;    /* revenue / accepted leads */
    /* timing (lm_report_lift.c): the learning arm, the control arm (the
     * fixed schedule) and the global holdout (fixed schedule, and no
     * learning anywhere), over every touched lead: intention to treat */
    lm_report_arm adaptive, fixed, holdout;
    lm_report_lift lift;         /* adaptive over fixed */
    lm_report_lift holdout_lift; /* adaptive over holdout (NAN: none) */
    lm_report_step_view steps[LM_REPORT_STEP_VIEWS]; /* beside it */
    /* open leads per owner, most first (then by name) */
    lm_report_owner *owners;
    size_t n_owners;
    /* revenue and conversion by score decile (lm_report_deciles.h) */
    lm_report_deciles deciles;
} lm_report;

typedef struct lm_report_acc lm_report_acc;

/* A new, empty accumulator; o is copied (NULL: all zero). NULL on OOM.
 * Caller frees with lm_report_acc_free. */
lm_report_acc *lm_report_acc_new(const lm_report_opts *o);
void lm_report_acc_free(lm_report_acc *acc); /* NULL ok */
/* Counts one lead. row is only read during the call. An allocation
 * failure is remembered and reported by lm_report_finish. */
void lm_report_add_lead(lm_report_acc *acc, const lm_lead_row *row);
/* Computes the report from every lead added so far into *out (overwritten;
 * release with lm_report_free). acc stays valid and unchanged in meaning.
 * 0, or -1 when memory ran out (out then holds nothing to free). */
int lm_report_finish(lm_report_acc *acc, lm_report *out);
void lm_report_free(lm_report *r); /* NULL ok; frees what r holds */

/* lm_report_scan into an accumulator, then lm_report_finish into *out
 * (release with lm_report_free). 0, or -1 with err. r is borrowed. */
int lm_report_collect(lm_redis *r, const lm_report_opts *o, lm_report *out,
                      char *err, size_t errsz);

/* ------------------------------------------------------------ rendering */

/* The report as a JSON object (keys: docs/REPORT.md), new reference owned
 * by the caller (json_decref). 0, or -1 on allocation failure. Each real
 * is rounded to what it means: cents to the cent, rates, their intervals
 * and the lift to LM_REPORT_JSON_RATE_DIGITS decimals, seconds to the
 * millisecond, milliseconds to the microsecond. */
int lm_report_json(const lm_report *r, json_t **out);
/* x rounded to `decimals` places as a new JSON real (null when not
 * finite; -0 as 0): the one rounding of the report's JSON, for the files
 * that render a section of it. NULL on OOM. */
json_t *lm_report_json_real(double x, int decimals);
/* The report as aligned text tables; tty adds bar charts to the funnel. */
void lm_report_print(const lm_report *r, FILE *f, int tty);

/* jansson dump flag for the report's JSON (or it with the layout flags):
 * 15 significant digits print every rounded figure as its short decimal,
 * 0.253782 rather than jansson's default 17 digits, 0.25378200000000001. */
#define LM_REPORT_JSON_REAL JSON_REAL_PRECISION(15)

#endif
