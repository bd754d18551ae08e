/* waiting.c — `lastmile waiting`: where decisions still wait, by stage and
 * owner, oldest first.
 *
 * An open lead waits when the fleet owes it its next move:
 *   qualification  accepted, no decision yet; waiting since accepted_at.
 *                  These are the LeadAccepted messages the qualification
 *                  worker has not committed (lm_report_read_pending):
 *                  intake writes no record of the lead, qualification
 *                  writes it with the decision; a lead with a record
 *                  (taken, not yet committed; or recorded by an intake
 *                  older than that) is listed by its record instead;
 *   followup       decided (or its reply timer fired) and the next touch is
 *                  not yet scheduled; waiting since the last timer's due
 *                  time when there was one (step set), else decided_at;
 *   waiting        touched and awaiting a reply: it waits only once its
 *                  reply timer is overdue (now > next_due_at), since then.
 * "now" is the fleet's clock (LASTMILE_TIME_SCALE / _ORIGIN_MS), so ages
 * are simulated time, like every time in Redis. Read-only (SCAN + HGETALL
 * through lm_report_scan, a group-less read of lastmile.qualification);
 * single-threaded. The cadence in the decision
 * config (LASTMILE_CONFIG) names the next step's channel when it loads.
 *
 * Layout: lm_cmd_waiting reads the options (parse_options, into a
 * waiting_args) and the settings; waiting() connects, collects the leads
 * and queues into a scan_ctx, groups them (make_groups) and prints
 * (print_waiting). waiting() owns and frees the client, the policy, the
 * items and the groups; the settings are lm_cmd_waiting's. */
#include "cli.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_fmt.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_policy.h"
#include "lm_redis.h"
#include "lm_report.h"
#include "lm_report_owners.h"
#include "lm_strmap.h"
#include "unassigned.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERR_MAX       2048
#define LIMIT_DEFAULT 20
#define LIMIT_MAX     100000
#define NEXT_STEP_MAX 160
#define CADENCE_MAX   64
#define DUR_MAX       32
#define ITEMS_MIN_CAP 256
#define UNASSIGNED    "(unassigned)"

/* in the order of lm_report_waiting_stage's stages */
enum { ST_QUALIFICATION, ST_FOLLOWUP, ST_WAITING, ST_N };
static const char *const stage_names[ST_N] = {"qualification", "followup",
                                              "waiting"};
static const char *const stage_what[ST_N] = {
    "to be decided", "next touch to schedule", "reply timer overdue"};

typedef struct item {
    char lead_id[LM_LEAD_ID_MAX];
    char owner[LM_REPORT_OWNER_MAX];
    char cadence[CADENCE_MAX];
    int stage;
    int64_t step; /* -1: none yet */
    int64_t since_ms, age_ms;
} item;

typedef struct scan_ctx {
    int64_t now_ms, older_than_ms;
    item *items;
    size_t n, cap;
    int oom;
    /* the leads qualification has not taken: lead id -> accepted_at_ms,
       -1 once the scan finds a record of the lead */
    lm_strmap *pending;
    /* the teams' unassigned queues (unassigned.h): leads no owner had
       room for, assigned when a slot frees */
    lm_unassigned_team queues[LM_UNASSIGNED_TEAMS_MAX];
    size_t n_queues;
} scan_ctx;

static void usage(FILE *f) {
    fprintf(f,
            "usage: lastmile waiting [--older-than DURATION] [--json] "
            "[--limit N]\n\n"
            "Where decisions still wait: open leads whose decision or next "
            "step is due,\nby stage and owner, oldest first.\n"
            "  qualification  accepted but not yet decided (since "
            "acceptance)\n"
            "  followup       decided, or its reply timer fired, and the "
            "next touch is\n"
            "                 not scheduled yet (since the decision or "
            "the timer)\n"
            "  waiting        touched, and the reply timer is overdue "
            "(since it was due)\n"
            "Owner steps (calls, LinkedIn, hand-offs waiting on their owner) "
            "come first,\noverdue ones (a deadline missed) at the top. "
            "Then the unassigned queues: leads of a full team that wait for "
            "an owner with\nroom (assigned the moment a slot frees).\n\n"
            "  --older-than DURATION  only leads waiting at least this long, "
            "e.g. 30m, 4h, 2d\n"
            "                         (simulated time, like the fleet's "
            "clock; default 0)\n"
            "  --limit N              list the N oldest leads (default %d)\n"
            "  --json                 one JSON object on stdout\n\n"
            "Needs LASTMILE_REDIS_URL and LASTMILE_BROKERS.\n",
            LIMIT_DEFAULT);
}

/* ST_* of a lead waiting on the fleet (lm_report_waiting_stage), or -1. */
static int classify(const lm_lead_row *row, int64_t now, int64_t *since) {
    int st = lm_report_waiting_stage(row, now, since);
    return st < 0 ? -1 : st - LM_REPORT_STAGE_QUALIFICATION;
}

/* A new item of stage st waiting since `since`, or NULL when it waits
 * less than --older-than or memory ran out (c->oom). */
static item *add_item(scan_ctx *c, int st, int64_t since) {
    int64_t age = c->now_ms - since;
    if (age < 0)
        age = 0;
    if (age < c->older_than_ms)
        return NULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : ITEMS_MIN_CAP;
        item *n = realloc(c->items, cap * sizeof(*n));
        if (!n) {
            c->oom = 1;
            return NULL;
        }
        c->items = n;
        c->cap = cap;
    }
    item *it = &c->items[c->n++];
    memset(it, 0, sizeof(*it));
    it->stage = st;
    it->step = -1;
    it->since_ms = since;
    it->age_ms = age;
    return it;
}

static int on_row(void *opaque, const lm_lead_row *row) {
    scan_ctx *c = opaque;
    int64_t since = 0;
    lm_report_pending_found(c->pending, row); /* listed here, if at all */
    int st = classify(row, c->now_ms, &since);
    if (st < 0)
        return 0;
    item *it = add_item(c, st, since);
    if (!it)
        return c->oom ? -1 : 0;
    snprintf(it->lead_id, sizeof(it->lead_id), "%s",
             row->lead_id ? row->lead_id : "");
    snprintf(it->owner, sizeof(it->owner), "%s",
             row->owner && *row->owner ? row->owner : UNASSIGNED);
    snprintf(it->cadence, sizeof(it->cadence), "%s",
             row->cadence ? row->cadence : "");
    it->step = row->step;
    return 0;
}

/* The pending leads the scan found no record of, as items. 0 / -1 (out
 * of memory). */
static int add_pending(scan_ctx *c) {
    for (size_t i = 0; i < lm_strmap_count(c->pending); i++) {
        int64_t at = *lm_strmap_value(c->pending, i);
        if (at < 0)
            continue;
        item *it = add_item(c, ST_QUALIFICATION, at);
        if (!it && c->oom)
            return -1;
        if (!it)
            continue;
        snprintf(it->lead_id, sizeof(it->lead_id), "%s",
                 lm_strmap_key(c->pending, i, NULL));
        snprintf(it->owner, sizeof(it->owner), "%s", UNASSIGNED);
    }
    return 0;
}

/* oldest first; ties by lead id, so the output is stable */
static int cmp_age(const void *a, const void *b) {
    const item *x = a, *y = b;
    if (x->age_ms != y->age_ms)
        return x->age_ms > y->age_ms ? -1 : 1;
    return strcmp(x->lead_id, y->lead_id);
}

/* The next thing the fleet owes the lead, for a human. */
static void next_step(const item *it, const lm_policy *p, char *buf,
                      size_t sz) {
    const lm_cadence *cad =
        p && it->cadence[0] ? lm_policy_cadence(p, it->cadence) : NULL;
    if (it->stage == ST_QUALIFICATION) {
        snprintf(buf, sz, "score and decide; route to an owner");
        return;
    }
    /* followup: touch step+1 (step 0 after a decision); waiting: the timer
       of `step` fires, then touch step+1 or close */
    int64_t next = it->step + 1;
    if (it->stage == ST_WAITING && cad && (size_t)next >= cad->n_steps) {
        snprintf(buf, sz, "timer: close as no response (last of %zu touches)",
                 cad->n_steps);
        return;
    }
    const char *pre = it->stage == ST_WAITING ? "timer, then " : "";
    if (cad && next >= 0 && (size_t)next < cad->n_steps)
        snprintf(buf, sz, "%stouch %lld of %zu (%s, %s cadence)", pre,
                 (long long)next + 1, cad->n_steps, cad->steps[next].channel,
                 cad->name);
    else
        snprintf(buf, sz, "%stouch %lld%s%s", pre, (long long)next + 1,
                 it->cadence[0] ? " of the " : "", it->cadence);
}

/* An age in whole seconds (cut down), in the one duration format. */
static const char *fmt_age(int64_t ms, char *buf, size_t sz) {
    return lm_fmt_duration(buf, sz, (double)(ms / 1000), LM_FMT_DUR_WHOLE);
}

/* Groups of (stage, owner): items sorted by stage, owner, age; each group
 * is a run. */
typedef struct group {
    int stage;
    const char *owner;
    size_t count;
    int64_t oldest_ms;
} group;

static int cmp_stage_owner(const void *a, const void *b) {
    const item *x = a, *y = b;
    if (x->stage != y->stage)
        return x->stage - y->stage;
    int c = strcmp(x->owner, y->owner);
    return c ? c : cmp_age(a, b);
}

static int cmp_group(const void *a, const void *b) {
    const group *x = a, *y = b;
    if (x->stage != y->stage)
        return x->stage - y->stage;
    if (x->oldest_ms != y->oldest_ms)
        return x->oldest_ms > y->oldest_ms ? -1 : 1;
    return strcmp(x->owner, y->owner);
}

/* Builds the groups from c's items (reordered by stage and owner). */
static group *make_groups(scan_ctx *c, size_t *n_groups) {
    *n_groups = 0;
    if (c->n > 0)
        qsort(c->items, c->n, sizeof(*c->items), cmp_stage_owner);
    group *g = calloc(c->n ? c->n : 1, sizeof(*g));
    if (!g)
        return NULL;
    for (size_t i = 0; i < c->n; i++) {
        const item *it = &c->items[i];
        group *last = *n_groups ? &g[*n_groups - 1] : NULL;
        if (!last || last->stage != it->stage ||
            strcmp(last->owner, it->owner) != 0) {
            last = &g[(*n_groups)++];
            last->stage = it->stage;
            last->owner = it->owner;
        }
        last->count++;
        if (it->age_ms > last->oldest_ms)
            last->oldest_ms = it->age_ms;
    }
    if (*n_groups > 0)
        qsort(g, *n_groups, sizeof(*g), cmp_group);
    return g;
}

static int emit_json(const scan_ctx *c, const group *g, size_t n_groups,
                     size_t limit, const lm_policy *p,
                     const lm_owners_report *ow) {
    json_t *root = json_object(), *by_stage = json_object(),
           *by_owner = json_array(), *leads = json_array();
    size_t count[ST_N] = {0};
    int64_t oldest[ST_N] = {0};
    for (size_t i = 0; i < n_groups; i++) {
        count[g[i].stage] += g[i].count;
        if (g[i].oldest_ms > oldest[g[i].stage])
            oldest[g[i].stage] = g[i].oldest_ms;
        json_array_append_new(
            by_owner,
            json_pack("{s:s, s:s, s:I, s:f}", "stage", stage_names[g[i].stage],
                      "owner", g[i].owner, "count", (json_int_t)g[i].count,
                      "oldest_age_s", (double)g[i].oldest_ms / 1e3));
    }
    for (int s = 0; s < ST_N; s++)
        json_object_set_new(by_stage, stage_names[s],
                            json_pack("{s:I, s:f}", "count",
                                      (json_int_t)count[s], "oldest_age_s",
                                      (double)oldest[s] / 1e3));
    for (size_t i = 0; i < c->n && i < limit; i++) {
        const item *it = &c->items[i];
        char next[NEXT_STEP_MAX];
        next_step(it, p, next, sizeof(next));
        json_array_append_new(
            leads,
            json_pack("{s:s, s:s, s:s, s:I, s:f, s:s}", "lead_id", it->lead_id,
                      "stage", stage_names[it->stage], "owner", it->owner,
                      "since_ms", (json_int_t)it->since_ms, "age_s",
                      (double)it->age_ms / 1e3, "next_step", next));
    }
    json_object_set_new(root, "now_ms", json_integer((json_int_t)c->now_ms));
    json_object_set_new(root, "older_than_ms",
                        json_integer((json_int_t)c->older_than_ms));
    json_object_set_new(root, "total", json_integer((json_int_t)c->n));
    json_object_set_new(root, "by_stage", by_stage);
    json_object_set_new(root, "by_owner", by_owner);
    json_object_set_new(root, "leads", leads);
    /* owner steps (human steps waiting on their owner), overdue first */
    json_object_set_new(root, "owner_steps",
                        lm_report_owners_steps_json(ow, limit));
    json_object_set_new(root, "owner_steps_overdue",
                        json_integer((json_int_t)ow->n_overdue));
    json_object_set_new(root, "unassigned",
                        lm_unassigned_json(c->queues, c->n_queues, c->now_ms));
    int rc = json_dumpf(root, stdout, JSON_INDENT(2));
    json_decref(root);
    return rc == 0 && fputc('\n', stdout) != EOF ? 0 : -1;
}

static void emit_text(const scan_ctx *c, const group *g, size_t n_groups,
                      size_t limit, const lm_policy *p) {
    char a[DUR_MAX], when[DUR_MAX];
    time_t t = (time_t)(c->now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
    printf("%zu lead%s waiting%s%s, as of %s (the fleet's clock)\n", c->n,
           c->n == 1 ? "" : "s", c->older_than_ms ? " at least " : "",
           c->older_than_ms ? fmt_age(c->older_than_ms, a, sizeof(a)) : "",
           when);
    if (c->n_queues > 0) {
        printf("\nUNASSIGNED: no owner had room; each is assigned when one "
               "frees a slot\n%-24s %7s %10s  %s\n",
               "TEAM", "leads", "oldest", "OLDEST LEAD");
        for (size_t i = 0; i < c->n_queues; i++)
            printf("%-24s %7lld %10s  %s\n", c->queues[i].team,
                   (long long)c->queues[i].count,
                   fmt_age(c->now_ms - c->queues[i].oldest_ms, a, sizeof(a)),
                   c->queues[i].oldest_lead);
    }
    if (c->n == 0) {
        printf("%s: every open lead is decided, scheduled or "
               "inside its reply window.\n",
               c->n_queues ? "Nothing else waits" : "Nothing waits");
        return;
    }
    size_t count[ST_N] = {0};
    int64_t oldest[ST_N] = {0};
    for (size_t i = 0; i < n_groups; i++) {
        count[g[i].stage] += g[i].count;
        if (g[i].oldest_ms > oldest[g[i].stage])
            oldest[g[i].stage] = g[i].oldest_ms;
    }
    printf("\n%-15s %-24s %7s %10s\n", "STAGE", "waits for", "leads", "oldest");
    for (int s = 0; s < ST_N; s++)
        printf("%-15s %-24s %7zu %10s\n", stage_names[s], stage_what[s],
               count[s], count[s] ? fmt_age(oldest[s], a, sizeof(a)) : "-");
    printf("\n%-15s %-32s %7s %10s\n", "STAGE", "OWNER", "leads", "oldest");
    for (size_t i = 0; i < n_groups; i++)
        printf("%-15s %-32s %7zu %10s\n", stage_names[g[i].stage], g[i].owner,
               g[i].count, fmt_age(g[i].oldest_ms, a, sizeof(a)));
    size_t shown = c->n < limit ? c->n : limit;
    printf("\nOLDEST %zu\n%-26s %-14s %-24s %10s  %s\n", shown, "LEAD", "STAGE",
           "OWNER", "AGE", "NEXT STEP");
    for (size_t i = 0; i < shown; i++) {
        const item *it = &c->items[i];
        char next[NEXT_STEP_MAX];
        next_step(it, p, next, sizeof(next));
        printf("%-26s %-14s %-24s %10s  %s\n", it->lead_id,
               stage_names[it->stage], it->owner,
               fmt_age(it->age_ms, a, sizeof(a)), next);
    }
    if (c->n > shown)
        printf("... and %zu more (--limit N shows more)\n", c->n - shown);
}

/* ---- the command ---------------------------------------------------- */

/* The options of one run, as parse_options leaves them. */
typedef struct waiting_args {
    int json;
    int64_t older_than_ms; /* --older-than; 0: every waiting lead */
    int64_t limit;         /* --limit: the oldest leads listed */
} waiting_args;

/* Reads the options into a (defaults first). LM_CLI_END when they are
 * read; LM_CLI_HELP after --help; LM_CLI_BAD after a usage error, said on
 * stderr. */
static int parse_options(lm_cli_cmd *cli, int argc, char **argv,
                         waiting_args *a) {
    *a = (waiting_args){.limit = LIMIT_DEFAULT};
    for (int o; (o = lm_cli_getopt(cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'j') {
            a->json = 1;
        } else if (o == 'o') {
            if (lm_policy_parse_duration(optarg, &a->older_than_ms) != 0) {
                lm_cli_usage_error(
                    cli,
                    "--older-than '%s' is not a duration; write e.g. 90s, "
                    "30m, 4h, 2d or 1d12h",
                    optarg);
                return LM_CLI_BAD;
            }
        } else if (o == 'l') {
            if (lm_parse_int64(optarg, 0, LIMIT_MAX, &a->limit) != 0) {
                lm_cli_usage_error(cli,
                                   "--limit '%s' must be a whole number from "
                                   "0 to %d",
                                   optarg, LIMIT_MAX);
                return LM_CLI_BAD;
            }
        } else {
            return o;
        }
    }
    return lm_cli_no_operands(cli, argc, argv) ? LM_CLI_BAD : LM_CLI_END;
}

/* The waiting leads (lm_report_add_pending from Kafka, then on_row from
 * Redis) and
 * the teams' unassigned queues into c; c->items and c->pending are c's to
 * free, also on failure. 0, or -1 said on stderr. */
static int collect(const lm_settings *s, lm_redis *r, scan_ctx *c) {
    char err[ERR_MAX];
    if (!(c->pending = lm_strmap_new(0))) {
        fprintf(stderr, "lastmile waiting: out of memory\n");
        return -1;
    }
    /* Kafka first: a lead decided while the scan runs is then found
       decided, not left out of both */
    if (lm_report_read_pending(s, LM_TOPIC_QUALIFICATION, 0,
                               lm_report_add_pending, c->pending, err,
                               sizeof(err)) < 0) {
        fprintf(stderr,
                "lastmile waiting: reading the leads qualification has not "
                "taken (LASTMILE_BROKERS): %s\n",
                err);
        return -1;
    }
    if (lm_report_scan(r, on_row, c, err, sizeof(err)) != 0 ||
        add_pending(c) != 0) {
        fprintf(stderr, "lastmile waiting: reading leads from Redis: %s\n",
                c->oom ? "out of memory" : err);
        return -1;
    }
    int nq = lm_unassigned_read(r, c->queues, LM_UNASSIGNED_TEAMS_MAX, err,
                                sizeof(err));
    if (nq < 0) {
        fprintf(stderr, "lastmile waiting: reading the unassigned queues: %s\n",
                err);
        return -1;
    }
    c->n_queues = (size_t)nq;
    return 0;
}

/* A copy of c's items, oldest first (the groups point into c's own, which
 * stay in stage and owner order). The caller frees it; NULL when out of
 * memory. */
static item *items_by_age(const scan_ctx *c) {
    item *by_age = malloc((c->n ? c->n : 1) * sizeof(*by_age));
    if (by_age && c->n > 0) {
        memcpy(by_age, c->items, c->n * sizeof(*by_age));
        qsort(by_age, c->n, sizeof(*by_age), cmp_age);
    }
    return by_age;
}

/* The owner steps, then the stages, owners and oldest leads, as text or
 * JSON on stdout. The exit code. */
static int print_waiting(lm_redis *r, const scan_ctx *c, const group *g,
                         size_t n_groups, const waiting_args *a,
                         const lm_policy *p) {
    char err[ERR_MAX];
    item *by_age = items_by_age(c);
    if (!by_age) {
        fprintf(stderr, "lastmile waiting: out of memory\n");
        return LM_EXIT_FAILED;
    }
    scan_ctx oldest = *c;
    oldest.items = by_age;
    lm_owners_report ow;
    if (lm_report_owners_collect(r, c->now_ms, &ow, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile waiting: owner steps: %s\n", err);
        memset(&ow, 0, sizeof(ow));
    }
    int printed = 1;
    if (a->json) {
        printed =
            emit_json(&oldest, g, n_groups, (size_t)a->limit, p, &ow) == 0;
        lm_report_owners_free(&ow);
    } else {
        lm_report_owners_print_steps(&ow, stdout, (size_t)a->limit);
        printf("\n");
        lm_report_owners_free(&ow);
        emit_text(&oldest, g, n_groups, (size_t)a->limit, p);
    }
    free(by_age);
    return printed && fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_FAILED;
}

/* The run once the options and settings are read: connect, collect,
 * group, print. The exit code; frees all it makes (s stays the
 * caller's). */
static int waiting(const lm_settings *s, const waiting_args *a) {
    char err[ERR_MAX];
    int rc = LM_EXIT_FAILED;
    lm_redis *r = NULL;
    lm_policy *p = NULL;
    group *g = NULL;
    size_t n_groups = 0;
    scan_ctx c = {.older_than_ms = a->older_than_ms};
    if (!s->redis_url || !*s->redis_url) {
        fprintf(stderr,
                "lastmile waiting: LASTMILE_REDIS_URL is not set "
                "(example: LASTMILE_REDIS_URL=redis://localhost:6379/0); "
                "for the embedded stack run `eval \"$(lastmile dev "
                "up)\"` first\n");
        goto done;
    }
    if (!s->brokers || !*s->brokers) {
        fprintf(stderr,
                "lastmile waiting: LASTMILE_BROKERS is not set (example: "
                "LASTMILE_BROKERS=localhost:9092): the leads not yet decided "
                "are read from lastmile.qualification; for the embedded "
                "stack run `eval \"$(lastmile dev up)\"` first\n");
        goto done;
    }
    lm_clock_init(s->time_scale, s->time_origin_ms, s->time_start_ms);
    c.now_ms = lm_clock_now_ms();
    p = lm_policy_load(s->config_path, err, sizeof(err));
    if (!p) /* only used to name the next step's channel */
        fprintf(stderr, "lastmile waiting: (next steps without channels) %s\n",
                err);
    r = lm_redis_new(s->redis_url, s->redis_timeout_ms, err, sizeof(err));
    if (!r || lm_redis_connect(r, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile waiting: Redis: %s\n", err);
        goto done;
    }
    if (collect(s, r, &c) != 0)
        goto done;
    if (!(g = make_groups(&c, &n_groups))) {
        fprintf(stderr, "lastmile waiting: out of memory\n");
        goto done;
    }
    rc = print_waiting(r, &c, g, n_groups, a, p);
done:
    free(g);
    free(c.items);
    lm_strmap_free(c.pending);
    lm_policy_free(p);
    lm_redis_destroy(r);
    return rc;
}

int lm_cmd_waiting(int argc, char **argv) {
    static const struct option longopts[] = {
        {"older-than", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "waiting", .usage = usage, .longopts = longopts};
    waiting_args a;
    int opt = parse_options(&cli, argc, argv, &a);
    if (opt != LM_CLI_END)
        return lm_cli_exit(opt);

    lm_settings s;
    if (lm_cli_settings(&cli, &s) != 0)
        return LM_EXIT_FAILED;
    int rc = waiting(&s, &a);
    lm_settings_free(&s);
    return rc;
}
