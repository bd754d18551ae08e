/* lm_report_owners.h — where decisions wait on people: SLA breaches,
 * reminders, reassignments and escalations by team and owner, and the
 * owner steps that wait now (overdue first), for `lastmile report` and
 * `lastmile waiting`.
 *
 * Read from Redis, read-only, in one pipeline: the counts timing keeps in
 * the LM_SLA_STATS_BUCKETS hashes lm_sla_stats_bucket_key (lm_sla.h; a
 * field in several buckets is added up) and the pending owner deadlines in the
 * timer sets (lm_timers.h, kind "owner_deadline"). A step is overdue when its
 * deadline passed (a level >= 1 timer: the owner was reminded or the lead
 * was reassigned; or any level due before now). An escalated step has no
 * timer left: it is counted under escalations, not listed.
 *
 * Ownership: lm_report_owners_collect fills a caller-owned report the
 * caller releases with lm_report_owners_free. No global state. */
#ifndef LM_REPORT_OWNERS_H
#define LM_REPORT_OWNERS_H

#include "lm_env.h"
#include "lm_redis.h"
#include "lm_report.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#define LM_REPORT_OWNERS_ROWS_MAX  4096   /* (team, owner) rows kept */
#define LM_REPORT_OWNERS_STEPS_MAX 100000 /* owner steps kept */
#define LM_REPORT_OWNERS_TEAM_MAX  72
#define LM_REPORT_OWNERS_ID_MAX    192

typedef struct lm_owner_sla_row {
    char team[LM_REPORT_OWNERS_TEAM_MAX];
    char owner[LM_REPORT_OWNER_MAX];
    int64_t breaches, reminders, reassigned_from, reassigned_to, escalations;
} lm_owner_sla_row;

typedef struct lm_owner_step {
    char lead[64];
    char action[LM_REPORT_OWNERS_ID_MAX];
    char owner[LM_REPORT_OWNER_MAX];
    int level; /* of the armed deadline: 0 first, 1 reminded, 2 reassigned */
    int step;  /* cadence step; -1 the hand-off */
    int64_t due_ms;
    int overdue;
} lm_owner_step;

typedef struct lm_owners_report {
    int64_t now_ms;
    lm_owner_sla_row *rows; /* by team, then owner */
    size_t n_rows;
    lm_owner_step *steps; /* overdue first (highest level, oldest due) */
    size_t n_steps, n_overdue;
} lm_owners_report;

/* ---- pure parts (tested without Redis) ---------------------------------- */
/* Adds one stats field ("<what>|<team>|<owner>") with its count. 0, or -1
 * (out of memory, or past LM_REPORT_OWNERS_ROWS_MAX: the rest is left
 * out). Unknown "what" is ignored. */
int lm_report_owners_add_stat(lm_owners_report *o, const char *field,
                              int64_t count);
/* Adds one timer member of the timer sets (any kind; only owner deadlines
 * are kept) with its due time. 0 / -1 (out of memory or full). */
int lm_report_owners_add_timer(lm_owners_report *o, const char *member,
                               size_t len, int64_t due_ms);
/* Sorts rows and steps (after the adds). */
void lm_report_owners_sort(lm_owners_report *o);

/* ---- reading ------------------------------------------------------------ */
/* Reads the counts and every pending or claimed owner deadline from r. 0,
 * or -1 with err. */
int lm_report_owners_collect(lm_redis *r, int64_t now_ms, lm_owners_report *o,
                             char *err, size_t errsz);
/* lm_report_owners_collect over a connection of its own (s's Redis). */
int lm_report_owners_load(const lm_settings *s, int64_t now_ms,
                          lm_owners_report *o, char *err, size_t errsz);
void lm_report_owners_free(lm_owners_report *o);

/* The owners' figures next to a report: read from s's Redis at the fleet's
 * now, then set as "owners" in j when j is not NULL, else printed to f. A
 * Redis failure is said on stderr, prefixed with who; the report stands
 * without them. */
void lm_report_owners_attach(const lm_settings *s, const char *who, json_t *j,
                             FILE *f);

/* ---- rendering ---------------------------------------------------------- */
/* {"by_owner": [{team, owner, breaches, reminders, reassigned_from,
 * reassigned_to, escalations}], "by_team": [...same without owner],
 * "steps_waiting": n, "steps_overdue": n}; NULL when out of memory. */
json_t *lm_report_owners_json(const lm_owners_report *o);
/* [{lead_id, action_id, owner, level, step, due_ms, overdue_s}], at most
 * limit; NULL when out of memory. */
json_t *lm_report_owners_steps_json(const lm_owners_report *o, size_t limit);
/* The table of counts by team and owner. */
void lm_report_owners_print(const lm_owners_report *o, FILE *f);
/* The owner steps waiting, overdue first, at most limit. */
void lm_report_owners_print_steps(const lm_owners_report *o, FILE *f,
                                  size_t limit);

#endif
