/* test_key_spread.c — the learned counts and SLA counts of a deployment
 * from before issue 17 moved to their spread keys (timing_migrate.h),
 * against a real redis-server (the stack fixture's):
 *
 * - old learned hashes and the old SLA hash, some counts already under the
 *   new names (an upgraded replica wrote them), one field not an integer:
 *   after timing_migrate every count is under its new key, added to what
 *   was there, the old keys are gone but for the bad field, each SLA
 *   field is in the bucket the C side computes (the Lua hash agrees), and
 *   `report`'s owner figures (lm_report_owners_collect) sum to the old
 *   totals;
 * - an old key written again afterwards (an old replica still running) is
 *   moved by the next run, added once; a run after that moves nothing and
 *   changes nothing (never double-counts) and marks the scan done, so
 *   later runs skip the SCAN (the SLA hash is still moved) until the mark
 *   is deleted;
 * - lastmile-timing moves them at its start and logs keys_migrated;
 * - timing's reads of the learned levels (timing_learn.h), as it plans
 *   them on a single Redis (one EVAL) and on a cluster (one EVAL per
 *   level, ARGV the level), sent to the real server: each level's counts
 *   come back under its own level number either way;
 * - the account hashes of before issue 16 moved to their owner and count
 *   strings (qual_migrate.h), on one Redis and on a Redis Cluster (three
 *   masters: one pipeline's scripts go to several of them), and by
 *   lastmile-qualification at its start: counts added
 *   to what an upgraded replica counted, its owner kept, a bad count or a
 *   name too long left untouched, the account's sets untouched; a second
 *   run moves nothing and marks the scan done, a marked run does not
 *   scan, and after DEL of the mark it moves what an old replica wrote. */
#include "stack_fixture.h"

#include "lm_lead.h"
#include "lm_learn.h"
#include "lm_redis.h"
#include "lm_report_owners.h"
#include "lm_sla.h"
#include "lm_recorder.h"
#include "qualification/qual_migrate.h"
#include "timing/timing.h"
#include "timing/timing_migrate.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fixture fx;
static redisContext *rc;

static void setup(void) {
    cr_assert_eq(fixture_up(&fx, 1, 0), 0);
    rc = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(rc && !rc->err, "redis: %s", rc ? rc->errstr : "no context");
}

static void teardown(void) {
    if (rc)
        redisFree(rc);
    rc = NULL;
    fixture_down(&fx);
}

TestSuite(key_spread, .init = setup, .fini = teardown);

static void cmd(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s: %s", fmt,
              r && r->str ? r->str : "no reply");
    freeReplyObject(r);
}

/* HGET key field as a number, 0 when absent. */
static long long hget(const char *key, const char *field) {
    redisReply *r = redisCommand(rc, "HGET %s %s", key, field);
    cr_assert_not_null(r);
    long long v = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return v;
}

static long long exists(const char *key) {
    redisReply *r = redisCommand(rc, "EXISTS %s", key);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

#define OLD(x) LM_LEARN_OLD_KEY_PREFIX x
#define NEW(x) LM_LEARN_KEY_PREFIX x LM_LEARN_KEY_SUFFIX

/* The SLA fields written under the old key: many owners, odd bytes. */
#define N_OWNERS 60
static char sla_fields[N_OWNERS][LM_SLA_STAT_FIELD_MAX];
static const char *const whats[] = {LM_SLA_STAT_BREACHES, LM_SLA_STAT_REMINDERS,
                                    LM_SLA_STAT_LOST, LM_SLA_STAT_GAINED,
                                    LM_SLA_STAT_ESCALATED};

static void write_old(void) {
    cmd("HSET %s 10:s 3 10:f 5 11:f 7", OLD("*|exec"));
    cmd("HSET %s 10:s 2 10:f 1", OLD("NA|exec"));
    cmd("HSET %s 10:s 1 bad:s abc", OLD("NA/mid|exec"));
    cmd("HSET %s 63:s 4", OLD("NA/mid|exec.qualified.email"));
    /* an upgraded replica already counted under the new name */
    cmd("HSET %s 10:s 2 12:s 9", NEW("*|exec"));
    for (int i = 0; i < N_OWNERS; i++) {
        char owner[64];
        snprintf(owner, sizeof(owner), "owner-%d|\xc3\xa9t\xc3\xa9-%c", i,
                 'A' + i % 26);
        lm_sla_stat_field(whats[i % 5], i % 2 ? "na" : "emea", owner,
                          sla_fields[i]);
        cmd("HSET %s %s %d", LM_SLA_STATS_OLD_KEY, sla_fields[i], i + 1);
    }
}

static lm_redis *connect_redis(void) {
    char err[512] = "";
    lm_redis *r = lm_redis_new(fx.st.redis_url, 2000, err, sizeof(err));
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(lm_redis_connect(r, err, sizeof(err)), 0, "%s", err);
    return r;
}

/* Every count is where the new layout says, with the old totals. */
static void expect_moved(long long extra) {
    cr_expect_eq(hget(NEW("*|exec"), "10:s"), 3 + 2 + extra, "added to");
    cr_expect_eq(hget(NEW("*|exec"), "10:f"), 5);
    cr_expect_eq(hget(NEW("*|exec"), "11:f"), 7);
    cr_expect_eq(hget(NEW("*|exec"), "12:s"), 9, "kept");
    cr_expect_eq(hget(NEW("NA|exec"), "10:s"), 2);
    cr_expect_eq(hget(NEW("NA|exec"), "10:f"), 1);
    cr_expect_eq(hget(NEW("NA/mid|exec"), "10:s"), 1);
    cr_expect_eq(hget(NEW("NA/mid|exec.qualified.email"), "63:s"), 4);
    cr_expect_eq(exists(OLD("*|exec")), 0);
    cr_expect_eq(exists(OLD("NA|exec")), 0);
    cr_expect_eq(exists(OLD("NA/mid|exec.qualified.email")), 0);
    cr_expect_eq(hget(OLD("NA/mid|exec"), "10:s"), 0);
    cr_expect_eq(exists(OLD("NA/mid|exec")), 1, "the bad field stays");
    cr_expect_eq(exists(LM_SLA_STATS_OLD_KEY), 0);
    unsigned used[LM_SLA_STATS_BUCKETS] = {0};
    for (int i = 0; i < N_OWNERS; i++) {
        char key[LM_KEY_MAX];
        lm_sla_stats_key(sla_fields[i], key);
        used[lm_sla_stats_bucket(sla_fields[i])] = 1;
        cr_expect_eq(hget(key, sla_fields[i]), i + 1,
                     "%s in %s: the Lua bucket is the C one", sla_fields[i],
                     key);
    }
    unsigned n_used = 0;
    for (unsigned b = 0; b < LM_SLA_STATS_BUCKETS; b++)
        n_used += used[b];
    cr_expect_geq(n_used, 12, "60 fields spread over %u of 16 buckets", n_used);
}

/* `report`'s owner figures, summed over every row and figure. */
static long long report_total(lm_redis *r) {
    lm_owners_report o;
    char err[512] = "";
    cr_assert_eq(lm_report_owners_collect(r, 0, &o, err, sizeof(err)), 0, "%s",
                 err);
    long long t = 0;
    for (size_t i = 0; i < o.n_rows; i++)
        t += o.rows[i].breaches + o.rows[i].reminders +
             o.rows[i].reassigned_from + o.rows[i].reassigned_to +
             o.rows[i].escalations;
    cr_expect_eq(o.n_rows, N_OWNERS, "one row per (team, owner)");
    lm_report_owners_free(&o);
    return t;
}

Test(key_spread, old_keys_move_once_with_the_same_totals) {
    write_old();
    lm_redis *r = connect_redis();
    timing_migrated m;
    char err[512] = "";
    cr_assert_eq(timing_migrate(r, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.learn_keys, 4);
    cr_expect_eq(m.learn_fields, 3 + 2 + 1 + 1);
    cr_expect_eq(m.skipped, 1, "bad:s = abc");
    cr_expect_eq(m.sla_key, 1);
    cr_expect_eq(m.sla_fields, N_OWNERS);
    expect_moved(0);
    long long total = (long long)N_OWNERS * (N_OWNERS + 1) / 2;
    cr_expect_eq(report_total(r), total, "the report sums the buckets");

    /* an old replica writes the old keys again: the next run adds them once */
    cmd("HINCRBY %s 10:s 10", OLD("*|exec"));
    cmd("HINCRBY %s %s 100", LM_SLA_STATS_OLD_KEY, sla_fields[0]);
    cr_assert_eq(timing_migrate(r, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.learn_keys, 1);
    cr_expect_eq(m.learn_fields, 1);
    cr_expect_eq(m.sla_fields, 1);
    cr_expect_eq(hget(NEW("*|exec"), "10:s"), 3 + 2 + 10);
    cr_expect_eq(report_total(r), total + 100);
    cr_expect_eq(exists(TIMING_MIGRATE_SCANNED_KEY), 0,
                 "a run that moved keys scans again next time");

    /* again: nothing to move, nothing counted twice; the scan is marked
       done, later starts skip it (the SLA hash is still looked at) */
    cr_assert_eq(timing_migrate(r, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.learn_keys + m.learn_fields + m.sla_fields, 0);
    cr_expect_eq(exists(TIMING_MIGRATE_SCANNED_KEY), 1);
    cr_expect_eq(hget(NEW("*|exec"), "10:s"), 3 + 2 + 10);
    cr_expect_eq(report_total(r), total + 100);
    cmd("HINCRBY %s 10:s 1", OLD("*|exec"));
    cmd("HINCRBY %s %s 1", LM_SLA_STATS_OLD_KEY, sla_fields[1]);
    cr_assert_eq(timing_migrate(r, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.learn_fields, 0, "marked: no scan");
    cr_expect_eq(m.sla_fields, 1);
    cmd("DEL %s", TIMING_MIGRATE_SCANNED_KEY);
    cr_assert_eq(timing_migrate(r, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.learn_fields, 1, "unmarked: scanned and moved");
    cr_expect_eq(hget(NEW("*|exec"), "10:s"), 3 + 2 + 10 + 1);
    cr_expect_eq(report_total(r), total + 100 + 1);
    lm_redis_destroy(r);
}

Test(key_spread, timing_moves_them_at_its_start) {
    write_old();
    cr_assert_geq(fixture_start_worker(&fx, "timing"), 0);
    cr_assert(fixture_log_has(&fx, "timing", "keys_migrated", 30000),
              "timing logs what it moved");
    expect_moved(0);
}

/* The planned command i of the last lm_recorder_handle, run on the real
 * server: its reply's "<level>:<slot>:<s|f>" fields, each level counted
 * into per_level[level] (its value added). */
static void run_planned(lm_recorder *rec, size_t i, long long per_level[4]) {
    const lm_recorded_cmd *c = lm_recorder_planned(rec, i);
    cr_assert_not_null(c, "planned command %zu", i);
    cr_assert_str_eq(c->argv[0], "EVAL");
    redisReply *r =
        redisCommandArgv(rc, c->argc, (const char **)c->argv, c->lens);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY, "%s",
              r && r->str ? r->str : "not an array");
    for (size_t j = 0; j + 1 < r->elements; j += 2) {
        int level = r->element[j]->str[0] - '0';
        cr_assert(level >= 0 && level < 4, "%s", r->element[j]->str);
        per_level[level] += strtoll(r->element[j + 1]->str, NULL, 10);
    }
    freeReplyObject(r);
}

/* The counts of the four levels of a lead's next step, read as timing
 * plans the read (split: on a cluster). */
static void read_levels(int split, long long per_level[4]) {
    lm_settings s;
    char err[1024] = "";
    memset(&s, 0, sizeof(s));
    s.redis_url = split ? "redis+cluster://127.0.0.1:1" : fx.st.redis_url;
    cr_assert_eq(
        lm_timing_worker.init(lm_timing_worker.ctx, &s, err, sizeof(err)), 0,
        "%s", err);
    lm_recorder *rec = lm_recorder_new();
    cr_assert_not_null(rec);
    Lastmile__V1__TimerFired t = LASTMILE__V1__TIMER_FIRED__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    const char *lead = "0123456789abcdef-01234567";
    char timer_id[128], action_id[128];
    snprintf(timer_id, sizeof(timer_id), "%s:timer:1|NA/mid|exec|qualified",
             lead);
    snprintf(action_id, sizeof(action_id), "%s:action:1", lead);
    t.timer_id = timer_id;
    t.lead_id = (char *)lead;
    t.step = 1;
    t.due_at_ms = 1767607200000LL;
    t.fired_at_ms = t.due_at_ms;
    t.action_id = action_id;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    ev.timer_fired = &t;
    /* no lead hash given: handle does nothing; the plan is what counts */
    lm_recorder_handle(rec, &lm_timing_worker, &ev.base, t.due_at_ms);
    size_t n = lm_recorder_n_planned(rec);
    memset(per_level, 0, 4 * sizeof(*per_level));
    run_planned(rec, 1, per_level);
    for (size_t i = split ? n - 3 : n; i < n; i++)
        run_planned(rec, i, per_level);
    lm_recorder_free(rec);
    lm_timing_worker.fini(lm_timing_worker.ctx);
}

Test(key_spread, the_levels_read_the_same_on_one_redis_and_split) {
    cmd("HSET %s 10:s 1", NEW("*|exec"));
    cmd("HSET %s 10:s 20", NEW("NA|exec"));
    cmd("HSET %s 10:s 300 11:f 300", NEW("NA/mid|exec"));
    cmd("HSET %s 10:f 4000", NEW("NA/mid|exec.qualified.email"));
    long long one[4], split[4];
    read_levels(0, one);
    read_levels(1, split);
    long long want[4] = {1, 20, 600, 4000};
    for (int L = 0; L < 4; L++) {
        cr_expect_eq(one[L], want[L], "one EVAL, level %d", L);
        cr_expect_eq(split[L], want[L], "one EVAL per level, level %d", L);
    }
}

/* ======================================= account hashes (qual_migrate.h) */

/* The suite starts its own Redis: one server, or a cluster. */
static void no_setup(void) {
}

TestSuite(account_strings, .init = no_setup, .fini = teardown);

/* more than a pipeline's 256 scripts: two round trips */
#define N_MANY 300
/* "lm:{acct:" + 240 bytes + "}" leaves no room for ":open_count" */
#define LONG_DOM_N 240

static char long_dom[LONG_DOM_N + 1];

/* One command through the fixture's client (routed on a cluster). */
static redisReply *acmd_v(const char *arg0, va_list ap) {
    const char *argv[LM_PIPE_ARGS_MAX];
    int argc = lm_strs_collect(arg0, ap, argv);
    cr_assert_gt(argc, 0);
    redisReply *r = fixture_redis_argv(&fx, argc, argv, NULL);
    cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s: %s", arg0,
              r && r->str ? r->str : "no reply");
    return r;
}

static void acmd(const char *arg0, ...) __attribute__((sentinel));
static void acmd(const char *arg0, ...) {
    va_list ap;
    va_start(ap, arg0);
    freeReplyObject(acmd_v(arg0, ap));
    va_end(ap);
}

static long long aint(const char *arg0, ...) __attribute__((sentinel));
static long long aint(const char *arg0, ...) {
    va_list ap;
    va_start(ap, arg0);
    redisReply *r = acmd_v(arg0, ap);
    va_end(ap);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", arg0);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* Expects the owner key (count 0) or the count key (1) of domain dom to
 * hold want ("": absent). */
static void expect_new(const char *dom, int count, const char *want) {
    char key[LM_KEY_MAX];
    if (count)
        lm_lead_account_count_key(dom, key);
    else
        lm_lead_account_owner_key(dom, key);
    redisReply *r = fixture_redis_cmd(&fx, "GET", key, NULL);
    cr_assert_not_null(r);
    const char *got = r->type == REDIS_REPLY_STRING ? r->str : "";
    cr_expect_str_eq(got, want, "%s: \"%s\", want \"%s\"", key, got, want);
    freeReplyObject(r);
}

static long long old_exists(const char *dom) {
    char key[LM_KEY_MAX];
    lm_lead_account_old_key(dom, key);
    return aint("EXISTS", key, NULL);
}

static void write_old_account(const char *dom, const char *owner,
                              const char *team, const char *open) {
    char key[LM_KEY_MAX];
    lm_lead_account_old_key(dom, key);
    acmd("HSET", key, "owner", owner, "team", team, "open", open, NULL);
}

/* The old hashes: every case, and N_MANY plain ones (spread over the
 * cluster's masters), plus what an upgraded replica and timing wrote. */
static void write_old_accounts(void) {
    char key[LM_KEY_MAX], dom[64];
    write_old_account("acme.com", "alex.kim", "na", "3");
    write_old_account("zero.io", "bo.li", "emea", "0");
    write_old_account("bad.org", "cy.ng", "na", "x1");
    write_old_account("newer.net", "old.owner", "na", "1");
    lm_lead_account_owner_key("newer.net", key);
    acmd("SET", key, "emea:new.owner", NULL); /* an upgraded replica's */
    write_old_account("added.co", "di.ox", "na", "3");
    lm_lead_account_count_key("added.co", key);
    acmd("INCRBY", key, "2", NULL); /* an upgraded replica counted 2 */
    write_old_account("colon.io", "ed", "a:b", "1");
    memset(long_dom, 'l', LONG_DOM_N);
    memcpy(long_dom + LONG_DOM_N - 4, ".com", 5);
    write_old_account(long_dom, "fa", "na", "1");
    for (int i = 0; i < N_MANY; i++) {
        snprintf(dom, sizeof(dom), "d%d.example", i);
        write_old_account(dom, "gu", "na", "1");
    }
    /* the account's sets: another matter, untouched */
    lm_lead_account_open_key("acme.com", key);
    acmd("SADD", key, "lead-1", NULL);
    lm_lead_account_deals_key("acme.com", key);
    acmd("SADD", key, "lead-2", NULL);
}

/* Every moved account where the new layout says. */
static void expect_accounts_moved(void) {
    char key[LM_KEY_MAX], dom[64];
    expect_new("acme.com", 0, "na:alex.kim");
    expect_new("acme.com", 1, "3");
    expect_new("zero.io", 0, "emea:bo.li");
    expect_new("zero.io", 1, "");
    lm_lead_account_count_key("zero.io", key);
    cr_expect_eq(aint("EXISTS", key, NULL), 0, "open 0: no count written");
    expect_new("newer.net", 0, "emea:new.owner"); /* the newer one wins */
    expect_new("newer.net", 1, "1");
    expect_new("added.co", 0, "na:di.ox");
    expect_new("added.co", 1, "5"); /* 2 + 3: counts add */
    expect_new("colon.io", 0, "");  /* "a:b:ed" would not parse */
    expect_new("colon.io", 1, "1");
    for (int i = 0; i < N_MANY; i++) {
        snprintf(dom, sizeof(dom), "d%d.example", i);
        expect_new(dom, 0, "na:gu");
        expect_new(dom, 1, "1");
        cr_expect_eq(old_exists(dom), 0, "%s", dom);
    }
    const char *gone[] = {"acme.com", "zero.io", "newer.net", "added.co",
                          "colon.io"};
    for (size_t i = 0; i < sizeof(gone) / sizeof(*gone); i++)
        cr_expect_eq(old_exists(gone[i]), 0, "%s moved", gone[i]);
    /* skipped: left whole, nothing written for them */
    lm_lead_account_old_key("bad.org", key);
    redisReply *r = fixture_redis_cmd(&fx, "HGET", key, "open", NULL);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    cr_expect_str_eq(r->str, "x1");
    freeReplyObject(r);
    cr_expect_eq(aint("HLEN", key, NULL), 3);
    expect_new("bad.org", 0, "");
    expect_new("bad.org", 1, "");
    cr_expect_eq(old_exists(long_dom), 1, "a name too long stays");
    /* the sets */
    lm_lead_account_open_key("acme.com", key);
    cr_expect_eq(aint("SISMEMBER", key, "lead-1", NULL), 1);
    lm_lead_account_deals_key("acme.com", key);
    cr_expect_eq(aint("SISMEMBER", key, "lead-2", NULL), 1);
}

static void accounts_move_once(int cluster) {
    cr_assert_eq(fixture_up_on(&fx, 1, 0, cluster), 0);
    write_old_accounts();
    lm_redis *r = connect_redis();
    cr_assert_eq(lm_redis_is_cluster(r), cluster);
    qual_migrated m;
    char err[512] = "";
    cr_assert_eq(qual_migrate(r, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.accounts, 5 + N_MANY);
    cr_expect_eq(m.owners, 3 + N_MANY, "newer.net kept, colon.io dropped");
    cr_expect_eq(m.skipped, 2, "bad.org's open, the long name");
    expect_accounts_moved();
    cr_expect_eq(aint("EXISTS", QUAL_MIGRATE_SCANNED_KEY, NULL), 0,
                 "a run that moved hashes scans again next time");

    /* again: nothing moved, nothing added twice; the scan is marked done */
    cr_assert_eq(qual_migrate(r, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.accounts + m.owners, 0);
    cr_expect_eq(m.skipped, 2, "still there");
    cr_expect_eq(aint("EXISTS", QUAL_MIGRATE_SCANNED_KEY, NULL), 1);
    expect_accounts_moved();

    /* an old replica writes after the mark: left alone, no scan */
    write_old_account("late.com", "hu", "na", "2");
    write_old_account("acme.com", "alex.kim", "na", "1");
    cr_assert_eq(qual_migrate(r, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.accounts + m.owners + m.skipped, 0, "marked: no scan");
    cr_expect_eq(old_exists("late.com"), 1);
    expect_new("acme.com", 1, "3");

    /* DEL of the mark: the next run moves them, counts added once */
    acmd("DEL", QUAL_MIGRATE_SCANNED_KEY, NULL);
    cr_assert_eq(qual_migrate(r, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.accounts, 2);
    cr_expect_eq(m.owners, 1, "late.com; acme.com's owner was there");
    cr_expect_eq(m.skipped, 2);
    cr_expect_eq(old_exists("late.com") + old_exists("acme.com"), 0);
    expect_new("late.com", 0, "na:hu");
    expect_new("late.com", 1, "2");
    expect_new("acme.com", 1, "4");
    lm_redis_destroy(r);
}

Test(account_strings, old_hashes_move_once_on_one_redis) {
    accounts_move_once(0);
}

Test(account_strings, old_hashes_move_once_on_a_cluster) {
    accounts_move_once(1);
}

Test(account_strings, qualification_moves_them_at_its_start) {
    cr_assert_eq(fixture_up_on(&fx, 1, 0, 0), 0);
    write_old_account("acme.com", "alex.kim", "na", "3");
    cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
    cr_assert(fixture_log_has(&fx, "qualification", "accounts_migrated", 30000),
              "qualification logs what it moved");
    expect_new("acme.com", 0, "na:alex.kim");
    expect_new("acme.com", 1, "3");
    cr_expect_eq(old_exists("acme.com"), 0);
}
