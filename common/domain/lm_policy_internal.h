/* lm_policy_internal.h — what the files of the policy module share; not
 * for use outside common/domain/lm_policy*.c (the contract is lm_policy.h).
 *
 * The module's files, one job each:
 *   lm_policy.c          the policy struct, its arena, the queries
 *   lm_policy_schema.c   value syntaxes and the typed YAML reads below
 *   lm_policy_sections.c thresholds, channels, segments, cadences
 *   lm_policy_routing.c  teams and routing rules
 *   lm_policy_route_opts.c  routing_options, accounts, overflow, weights
 *   lm_policy_load.c     libyaml set-up, the top-level mapping, files
 *   lm_policy_hours.c    allowed hours and business days (lm_tz)
 *   lm_policy_at.c       human channels, "at: now" steps, a step's time
 *   lm_policy_owners.c   owners' working time, team leads, deadlines
 *   lm_policy_learning.c learned timing (learning:)
 *
 * Ownership: a policy owns one arena (a chain of blocks); every string and
 * array in it is carved from the arena by pol_alloc/pol_strdup, so
 * lm_policy_free frees the chain and the struct.
 * Errors: every pol_* reader that fails has written the one message of
 * the load into the context's err (see pol_err) and returns -1 or NULL;
 * the first error stops the load. */
#ifndef LM_POLICY_INTERNAL_H
#define LM_POLICY_INTERNAL_H

#include "lm_learn.h"
#include "lm_policy.h"

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#define LM_POLICY_PATH_MAX 256 /* key paths in error messages */
#define LM_POLICY_DAY_MS   86400000LL
#define LM_POLICY_HOUR_MS  3600000LL

/* ---- the policy --------------------------------------------------------- */

typedef struct pol_block {
    struct pol_block *next;
    size_t used, cap;
    max_align_t data[];
} pol_block;

typedef struct pol_channel {
    const char *name;
    int64_t cost_cents;
    int human; /* channels.<name>.human */
} pol_channel;

typedef struct pol_band {
    const char *name;
    int64_t below; /* INT64_MAX for the last band */
} pol_band;

typedef struct pol_rule {
    const char **regions; /* canonical region names */
    size_t n_regions;
    const char **countries; /* canonical alpha-2 codes */
    size_t n_countries;
    const char **sources;
    size_t n_sources;
    int has_min, has_max;
    int32_t min_size, max_size;
    const lm_team *team;
} pol_rule;

struct lm_policy {
    pol_block *arena;
    double qualified, nurture;
    int64_t dedupe_ms;
    int64_t deal_window_ms;
    double control_share;
    pol_channel *channels;
    size_t n_channels;
    pol_band *bands;
    size_t n_bands;
    pol_rule *rules;
    size_t n_rules;
    lm_team *teams;
    size_t n_teams;
    lm_cadence *cadences;
    size_t n_cadences;
    int64_t handoff_deadline_ms; /* 0 = none */
    lm_routing_options routing_opts;
    lm_learn_cfg learning; /* learning: (lm_policy_learning.c) */
    /* per team: its overflow's name and line, until pol_resolve_overflow */
    const char **overflow_names;
    size_t *overflow_lines;
};

/* Zeroed memory from the policy's arena; NULL when out of memory. */
void *pol_alloc(lm_policy *p, size_t n);
/* A copy of s in the arena; NULL when out of memory. */
char *pol_strdup(lm_policy *p, const char *s);

/* ---- value syntaxes (lm_policy_schema.c) --------------------------------- */

enum { DUR_OK = 0, DUR_BAD = -1, DUR_NO_UNIT = -2, DUR_TOO_LONG = -3 };

/* "0" or <integer><unit>... (s m h d w) into *ms: a DUR_* code. */
int pol_duration(const char *s, int64_t *ms);
/* "4.50" -> 450. 0, -1 not money, -2 more than two decimals, -3 too big. */
int pol_money(const char *s, int64_t *cents);
/* "09:00-17:00" (spaces around '-' allowed) into minutes after midnight.
 * 0, -1 bad, -2 start >= end. */
int pol_hours(const char *s, int32_t *start, int32_t *end);
/* Day name -> 0 (Monday) .. 6, or -1. Accepts "mon" and "monday". */
int pol_day(const char *s);

/* ---- the schema walker (lm_policy_schema.c) ------------------------------ */

typedef struct pol_ctx {
    yaml_document_t *doc;
    const char *file; /* as the errors name it */
    char *err;        /* the caller's buffer; may be NULL */
    size_t errsz;
    lm_policy *p; /* being filled */
} pol_ctx;

/* A key of a fixed-schema mapping, and what pol_map found for it. */
typedef struct pol_field {
    const char *key;
    yaml_node_t *k, *v;
} pol_field;

/* "<file>:<line>: <path>: <message>" (no path: "<file>:<line>: <message>")
 * into c->err through lm_errf. Returns -1. */
int pol_err(pol_ctx *c, size_t line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int pol_oom(pol_ctx *c); /* "<file>: out of memory"; -1 */

yaml_node_t *pol_node(pol_ctx *c, int idx);
size_t pol_line(const yaml_node_t *n); /* 1-based */
size_t pol_kline(const pol_field *f);  /* the key's line (else the value's) */
/* Key paths for messages, "base.key" and "base[i]"; a path too long for
 * buf ends in "...". */
void pol_join(char *buf, size_t sz, const char *base, const char *key);
void pol_index(char *buf, size_t sz, const char *base, size_t i);
int pol_is_null(const yaml_node_t *n);  /* "", ~, null as a plain scalar */
size_t pol_count(const yaml_node_t *n); /* pairs or items; 0 for a scalar */

/* "expected <what>, found <n>; write e.g. <example>"; -1. */
int pol_expected(pol_ctx *c, const yaml_node_t *n, size_t line,
                 const char *path, const char *what, const char *example);
/* ", "-joined list of names into buf; returns buf. */
const char *pol_names(const char *const *names, size_t n, char *buf, size_t sz);

/* Checks a fixed-schema mapping: every key known (else "did you mean"),
 * none twice; fills f[i].k/.v for the keys given. 0/-1. */
int pol_map(pol_ctx *c, yaml_node_t *n, size_t line, const char *path,
            const char *example, pol_field *f, size_t nf);
/* "missing" unless the field was given; line: the mapping's line. 0/-1. */
int pol_req(pol_ctx *c, size_t line, const char *path, const pol_field *f,
            const char *example);
/* The text of a scalar with a value; NULL + error otherwise. kline: the
 * line to blame when the value is missing (its key's line). */
const char *pol_str(pol_ctx *c, const yaml_node_t *n, size_t kline,
                    const char *path, const char *example);
/* Typed values in [lo, hi]; 0/-1. */
int pol_double(pol_ctx *c, const pol_field *f, const char *path, double lo,
               double hi, const char *example, double *out);
int pol_int(pol_ctx *c, const yaml_node_t *n, size_t kline, const char *path,
            int64_t lo, int64_t hi, const char *example, int64_t *out);
int pol_field_duration(pol_ctx *c, const pol_field *f, const char *path,
                       int allow_zero, int64_t *out);
/* A "09:00-17:00" field into minutes after midnight (pol_hours); `what`
 * names the ranges in the error for one across midnight ("windows",
 * "hours"). 0/-1. */
int pol_field_hours(pol_ctx *c, const pol_field *f, const char *path,
                    const char *what, int32_t *start, int32_t *end);
/* Names of channels, teams, cadences and bands: [A-Za-z0-9_.-]+. 0/-1. */
int pol_name(pol_ctx *c, const char *s, size_t line, const char *path,
             const char *what);
/* Checks the user-named keys of a mapping: plain valid names, no
 * duplicates. 0/-1. */
int pol_user_keys(pol_ctx *c, yaml_node_t *n, const char *path,
                  const char *what);

/* ---- the sections, each filling c->p (0/-1) ------------------------------ */

int pol_parse_thresholds(pol_ctx *c, const pol_field *top);
int pol_parse_channels(pol_ctx *c, const pol_field *top);
int pol_parse_segments(pol_ctx *c, const pol_field *top);
int pol_default_bands(pol_ctx *c); /* the bands when "segments" is absent */
int pol_parse_cadences(pol_ctx *c, const pol_field *top); /* needs channels */
int pol_parse_teams(pol_ctx *c, const pol_field *top);
int pol_parse_routing(pol_ctx *c, const pol_field *top); /* needs teams */
/* A list of day names into a mask (cadences' business_days). */
int pol_parse_days(pol_ctx *c, const pol_field *f, const char *path,
                   uint8_t *mask);

/* ---- owners' working time and deadlines (lm_policy_owners.c) ------------ */

/* The keys a team (defaults for its owners) or an owner may give for
 * working time, in this order, for a pol_field array. */
/* clang-format off */
#define POL_WORK_FIELDS                                                        \
    {"timezone", NULL, NULL}, {"working_hours", NULL, NULL},                   \
    {"working_days", NULL, NULL}, {"out_of_office", NULL, NULL}
/* clang-format on */
#define POL_WORK_N 4
/* An owner's working time from its POL_WORK_N fields `of` (key path op)
 * over its team's `tf` (path tp): a key the owner leaves out comes from
 * the team; the absences are the team's and the owner's, in the owner's
 * time zone. *out = NULL when neither gives any key (always working). */
int pol_parse_work(pol_ctx *c, const pol_field *tf, const char *tp,
                   const pol_field *of, const char *op,
                   const lm_worktime **out);
/* A team's `lead:` (a person's name); path: the team's. */
int pol_parse_team_lead(pol_ctx *c, const pol_field *f, const char *tp,
                        const char **out);
/* A cadence step's `deadline:` (item path ip) on `channel`: only on a
 * human channel (lm_policy_channel_is_human). */
int pol_parse_step_deadline(pol_ctx *c, const pol_field *f, const char *ip,
                            const char *channel, int64_t *out);
/* The top-level `handoff_deadline:` into c->p. */
int pol_parse_handoff_deadline(pol_ctx *c, const pol_field *f);

/* ---- human channels and "at" (lm_policy_at.c), 0/-1 ---------------------- */

/* channels.<c>.human (f->v NULL: absent, false) into *human. */
int pol_channel_human(pol_ctx *c, const pol_field *f, const char *path,
                      int *human);
/* steps[i].at (f->v NULL: absent, allowed_hours) into st->at_now; needs
 * st->channel and st->human set (a human step may not be "now"). */
int pol_step_at(pol_ctx *c, const pol_field *f, const char *path, lm_step *st);
/* lm_policy_route_opts.c: routing_options:, accounts: (either may be
 * absent: top->v NULL gives the defaults), a team's overflow: and an
 * owner's weight:. */
int pol_parse_routing_options(pol_ctx *c, const pol_field *top);
int pol_parse_accounts(pol_ctx *c, const pol_field *top);
int pol_team_overflow(pol_ctx *c, size_t team, const pol_field *f,
                      const char *path);
int pol_owner_weight(pol_ctx *c, const pol_field *f, const char *path,
                     int32_t *out);
int pol_resolve_overflow(pol_ctx *c); /* after every team is read */
/* lm_policy_learning.c: learning: (absent: lm_learn_cfg_default). */
int pol_parse_learning(pol_ctx *c, const pol_field *top);

#endif
