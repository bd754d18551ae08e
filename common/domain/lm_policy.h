/* lm_policy.h — the decision config: thresholds, routing, teams, cadences.
 *
 * One human-editable YAML file (config/decisions.yaml is the default and
 * documents every knob) says how a score becomes a decision: the score
 * thresholds, the dedupe window, the control-arm share, what each channel
 * costs, how leads are segmented for timing statistics, which team owns a
 * lead, and the cadence of touches per decision kind. Bad config is
 * refused with "<file>:<line>: <key path>: <what is wrong>; <the fix>".
 *
 * Invariants of a loaded policy (checked at load, so callers need not):
 *   0 <= nurture <= qualified <= 1; 0 <= control_share <= 1;
 *   dedupe window > 0; deal window > 0; every channel cost >= 0 (cents);
 *   size bands ascending, the last one unbounded;
 *   routing ends with a rule with no conditions, so route never fails;
 *   every routed team exists and has >= 1 owner, every capacity >= 1;
 *   cadences "qualified" and "nurture" exist, every cadence has >= 1 step,
 *   every step's channel is a configured channel, wait >= 0,
 *   no human step (its channel's human: true) is at_now,
 *   response_window > 0, 0 <= allowed_start_min < allowed_end_min <= 1440,
 *   business_days_mask != 0; a step's deadline_ms only on a human channel
 *   (lm_policy_channel_is_human), 0 < deadline <= 30 days; an owner's
 *   work (lm_worktime.h) NULL or valid.
 * Ownership: lm_policy_load/parse return a policy the caller frees with
 * lm_policy_free; every pointer a getter returns (teams, owners, cadences,
 * steps, names) is owned by the policy and valid until lm_policy_free.
 * Threads: a policy is immutable after load; share it freely. The time
 * functions use lm_tz (thread-safe). */
#ifndef LM_POLICY_H
#define LM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define LM_POLICY_FILE_MAX       (1024 * 1024) /* largest config file read */
#define LM_POLICY_ERRSZ          512 /* err buffer that holds any message */
#define LM_POLICY_NAME_MAX       64  /* channel, team, cadence, band names */
#define LM_POLICY_OWNER_MAX      128 /* owner names (free text) */
#define LM_POLICY_MAX_CHANNELS   32
#define LM_POLICY_MAX_BANDS      16
#define LM_POLICY_MAX_RULES      256
#define LM_POLICY_MAX_TEAMS      128
#define LM_POLICY_MAX_OWNERS     256 /* per team */
#define LM_POLICY_MAX_CADENCES   32
#define LM_POLICY_MAX_STEPS      32  /* per cadence */
#define LM_POLICY_MAX_LIST       512 /* items in a rule's match list */
#define LM_POLICY_CAPACITY_MAX   1000000
#define LM_POLICY_WEIGHT_MAX     100
#define LM_POLICY_DURATION_MAX   (3660LL * 86400 * 1000) /* ~10 years, ms */
#define LM_POLICY_COST_MAX       100000000LL /* cents: 1,000,000.00 */
#define LM_POLICY_SEGMENT_MAX    (8 + 1 + LM_POLICY_NAME_MAX + 1) /* bufsz */
#define LM_POLICY_SLOT_SCAN_DAYS 15 /* candidate_slots looks this far */
#define LM_POLICY_DEFAULT_FILE   "decisions.yaml (built-in)" /* in errors */
/* Segment region of a lead whose country is missing or unknown. */
#define LM_POLICY_REGION_OTHER "OTHER"

typedef struct lm_policy lm_policy; /* immutable after load */

/* ---- loading ---------------------------------------------------------- */

/* Loads the config file at path; path NULL or "" loads the built-in
 * default (config/decisions.yaml, embedded at build time). Errors name the
 * file as given in path. Caller frees with lm_policy_free. NULL + err on
 * failure (LM_POLICY_ERRSZ holds any message; err may be NULL). */
lm_policy *lm_policy_load(const char *path, char *err, size_t errsz);
/* Parses YAML text of len bytes (need not be NUL-terminated; read only
 * during the call, the caller keeps it). filename_for_errors prefixes
 * every error (NULL: "decisions.yaml"). Caller frees with lm_policy_free.
 * NULL + err on failure. */
lm_policy *lm_policy_parse(const char *yaml_text, size_t len,
                           const char *filename_for_errors, char *err,
                           size_t errsz);
void lm_policy_free(lm_policy *p); /* NULL ok */

/* The built-in default config text (NUL-terminated, static storage; *len
 * gets its length if len is not NULL), e.g. for `lastmile` to print it. */
const char *lm_policy_default_text(size_t *len);

/* Parses a duration: "0", or one or more <integer><unit> with units
 * s, m, h, d, w ("90s", "30m", "4h", "2d", "1w", "1d12h") into *ms.
 * 0, or -1 if it is not one or exceeds LM_POLICY_DURATION_MAX. */
int lm_policy_parse_duration(const char *s, int64_t *ms);

/* ---- decisions --------------------------------------------------------- */

/* score >= qualified: QUALIFIED; >= nurture: NURTURE; else DISQUALIFIED. */
double lm_policy_threshold_qualified(const lm_policy *p);
double lm_policy_threshold_nurture(const lm_policy *p);
/* The same person resubmitting within this window merges into the lead. */
int64_t lm_policy_dedupe_window_ms(const lm_policy *p);
/* A lead handed to its owner (it replied or booked a meeting) stays open
 * this long for the CRM's result (CONVERTED or LOST); then it closes
 * RESPONDED. Key `deal_window`, default LM_POLICY_DEAL_WINDOW_DEFAULT_MS. */
#define LM_POLICY_DEAL_WINDOW_DEFAULT_MS (60LL * 86400 * 1000) /* 60d */
int64_t lm_policy_deal_window_ms(const lm_policy *p);
/* Share 0..1 of leads on the fixed-schedule control arm. */
double lm_policy_control_share(const lm_policy *p);
/* Learned timing's settings (`learning:`; lm_learn.h): features, pooling,
 * exploration, the value of waiting, the global holdout share. */
struct lm_learn_cfg;
const struct lm_learn_cfg *lm_policy_learning(const lm_policy *p);
/* Cost of one touch on `channel` in cents; -1 if the channel is unknown. */
int64_t lm_policy_channel_cost_cents(const lm_policy *p, const char *channel);
/* 1 if a person performs touches on `channel` (channels.<c>.human: true),
 * 0 if a system sends them, -1 if the channel is unknown. */
int lm_policy_channel_human(const lm_policy *p, const char *channel);

/* The segment key "<region>/<size band>" (e.g. "EMEA/mid") into buf.
 * country_alpha2 is matched case-insensitively; a missing or unknown
 * country gives region LM_POLICY_REGION_OTHER. A size falls in the first
 * band whose `below` exceeds it (negative sizes: the first band).
 * 0, or -1 if p or buf is NULL or buf is too small (LM_POLICY_SEGMENT_MAX
 * always suffices); buf then holds "". */
int lm_policy_segment(const lm_policy *p, const char *country_alpha2,
                      int32_t company_size, char *buf, size_t bufsz);

/* ---- routing ----------------------------------------------------------- */

typedef struct lm_worktime lm_worktime; /* lm_worktime.h */

typedef struct lm_owner {
    const char *name;
    int32_t capacity; /* max open leads, >= 1 */
    /* working hours, time zone, absences (the team's defaults filled in);
       NULL = always working (lm_worktime.h) */
    const lm_worktime *work;
    int32_t weight; /* round-robin share, 1..LM_POLICY_WEIGHT_MAX (1) */
} lm_owner;

typedef struct lm_team {
    const char *name;
    const lm_owner *owners; /* in config order */
    size_t n_owners;        /* >= 1 */
    const char *lead;       /* who escalations go to (`lead:`); NULL = none */
    /* Where a lead goes when every owner is full (`overflow:`), or NULL:
     * the lead then waits in the team's unassigned queue. Never the team
     * itself. */
    const struct lm_team *overflow;
} lm_team;

/* routing_options: and accounts: (lm_policy_route_opts.c). */
typedef struct lm_routing_options {
    int nurture_takes_capacity;  /* NURTURE leads count against capacity (0) */
    int accounts_same_owner;     /* a company's next lead goes to the owner of
                                    its open lead (1) */
    int accounts_pause_on_reply; /* parsed; see docs/ROUTING.md (0) */
} lm_routing_options;
const lm_routing_options *lm_policy_routing_options(const lm_policy *p);
/* The position of team t in the config (lm_policy_team_at(p, i) == t), or
 * (size_t)-1 when t is not one of p's teams. */
size_t lm_policy_team_index(const lm_policy *p, const lm_team *t);

/* The team for a lead: the first routing rule all of whose conditions
 * hold (regions/countries: the lead's country, case-insensitive; company
 * size bounds inclusive; sources: case-insensitive). Any argument may be
 * NULL/unknown: conditions on it then do not hold. Never NULL for a loaded
 * policy (the fallback rule); valid until lm_policy_free. */
const lm_team *lm_policy_route(const lm_policy *p, const char *country_alpha2,
                               int32_t company_size, const char *source);
/* A team by name (case-sensitive); NULL if unknown. */
const lm_team *lm_policy_team(const lm_policy *p, const char *name);
size_t lm_policy_team_count(const lm_policy *p);
const lm_team *lm_policy_team_at(const lm_policy *p, size_t i); /* NULL past
                                                                   the end */

/* ---- owners' deadlines (lm_policy_owners.c) ----------------------------- */

/* 1 when a step on `channel` is performed by a person (call, linkedin,
 * handoff), so it keeps to its owner's working hours and may carry a
 * deadline. */
int lm_policy_channel_is_human(const lm_policy *p, const char *channel);
/* The owner's deadline for a hand-off (top-level `handoff_deadline`), in
 * working time; 0 = none. */
int64_t lm_policy_handoff_deadline_ms(const lm_policy *p);
/* The owner `name` of team `team`; NULL if either is unknown. */
const lm_owner *lm_policy_owner(const lm_policy *p, const char *team,
                                const char *name);

/* ---- cadences ---------------------------------------------------------- */

typedef struct lm_step {
    const char *channel;        /* a configured channel */
    int64_t wait_ms;            /* after the previous step (step 0: after the
                                   decision), >= 0 */
    int64_t response_window_ms; /* wait this long for a reply, > 0 */
    int human;                  /* 1: the channel is human (a person
                                   performs it: channels.<c>.human) */
    int at_now; /* 1: "at: now", goes out as soon as the wait is over, any
                   hour, never moved by learned timing; never set on a
                   human step (refused at load) */
    int64_t deadline_ms; /* human steps: the owner's SLA in working time;
                            0 = none */
} lm_step;

typedef struct lm_cadence {
    const char *name;
    const lm_step *steps;
    size_t n_steps;                             /* >= 1 */
    int32_t allowed_start_min, allowed_end_min; /* minutes after local
                                                   midnight, start < end */
    uint8_t business_days_mask; /* bit 0 = Monday .. bit 6 = Sunday */
} lm_cadence;

/* A cadence by name ("qualified", "nurture", or any other configured);
 * NULL if unknown. Valid until lm_policy_free. */
const lm_cadence *lm_policy_cadence(const lm_policy *p, const char *name);

/* The earliest instant >= earliest_ms inside the cadence's allowed hours
 * on a business day, in time zone tz (an IANA name). Wall-clock hours:
 * on DST change days the window keeps its local hours; a window start
 * skipped by the change opens when the clocks jump (a 02:30 start on
 * Berlin's spring change day opens at 03:00 CEST); a start that happens
 * twice opens at its first occurrence. -1 on a bad tz. */
int64_t lm_policy_next_allowed_ms(const lm_cadence *c, const char *tz,
                                  int64_t earliest_ms);

/* When step `step` of c goes out if it may not go out before earliest_ms:
 * an "at: now" step at earliest_ms itself (day or night), any other at
 * lm_policy_next_allowed_ms. Callers must not move an "at: now" step to
 * a learned slot. -1 on a bad tz or a step past the end. Pure. */
int64_t lm_policy_step_time_ms(const lm_cadence *c, size_t step, const char *tz,
                               int64_t earliest_ms);

/* Candidate slots for choosing a touch time: every local hour-of-week slot
 * (0 = Monday 00:00-00:59) whose allowed part, clipped to start no earlier
 * than from_ms, starts in [from_ms, from_ms + horizon_ms). Each slot is
 * written at most once, for its first such hour, as {slot, start_ms =
 * first allowed instant of that hour (>= from_ms)}; out is in ascending
 * start_ms order. Looks at most LM_POLICY_SLOT_SCAN_DAYS ahead. Returns
 * the count (<= max); 0 on a bad tz or bad arguments. */
typedef struct lm_slot {
    int32_t slot;
    int64_t start_ms;
} lm_slot;
size_t lm_policy_candidate_slots(const lm_cadence *c, const char *tz,
                                 int64_t from_ms, int64_t horizon_ms,
                                 lm_slot *out, size_t max);

#endif
