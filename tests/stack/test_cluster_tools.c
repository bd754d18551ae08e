/* test_cluster_tools.c — the tools that read the whole keyspace, on a real
 * Redis Cluster (three masters, three replicas; cluster_fixture.h):
 *
 *   cluster_tools.scan_walks_every_master: keys written on every master
 *     are all found by lm_redis_scan, each once after dedupe, and INFO is
 *     read from each master (lm_redis_masters / lm_redis_exec_on_master);
 *     a plain SCAN (slot 0's master only) finds fewer: what the helper
 *     fixes; and `lastmile bench`'s Redis figures (bench_redis_snap) are
 *     every master's INFO summed: the SETs written are all counted;
 *   cluster_tools.report_same_as_one_redis: the same fixed set of lead
 *     hashes (every stage, decision and outcome; scores with ties) and two
 *     teams' unassigned queues written on one Redis and on the cluster;
 *     `lastmile report --json` and `lastmile waiting --json` give the same
 *     figures on both (issue 17's "Done when"; the members that say when
 *     the report was made left out);
 *   cluster_tools.dev_up_redis_cluster: `lastmile dev up --redis-cluster`
 *     starts a cluster of three masters and three replicas, says the
 *     workers run on it, and a worker given its URL runs (it says so in
 *     its log and is still running when stopped; it used to exit 2 with
 *     redis_cluster_unsupported); `lastmile dev down` stops every node.
 * Every server started is stopped in .fini, even when a check fails. */
#include "bench.h"
#include "cluster_fixture.h"

#include "lm_devstack.h"
#include "lm_lead.h"
#include "lm_redis.h"
#include "lm_strmap.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>

#define LASTMILE   LM_BINARY_DIR "/cli/lastmile"
#define KEYS       300
#define LEADS      240
#define OUTPUT_MAX (4 << 20)

static cluster_fx cfx;
static lm_devstack st;
static char dir[] = "/tmp/lastmile-cltools-XXXXXX";

static void teardown(void) {
    cluster_fx_down(&cfx);
    if (st.dir[0])
        lm_devstack_down(&st);
    if (strstr(dir, "XXXXXX") == NULL) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
}

static void cluster_up(void) {
    char err[512];
    cr_assert_eq(cluster_fx_up(&cfx, err, sizeof(err)), 0, "%s", err);
}

static lm_redis *client(const char *url) {
    char err[512] = "";
    lm_redis *r = lm_redis_new(url, 2000, err, sizeof(err));
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(lm_redis_connect(r, err, sizeof(err)), 0, "%s", err);
    return r;
}

static void exec_ok(lm_redis *r, lm_pipe *p) {
    redisReply **rep = calloc(p->n, sizeof(*rep));
    char err[512] = "";
    cr_assert_eq(lm_redis_exec(r, p, rep, err, sizeof(err)), 0, "%s", err);
    for (size_t i = 0; i < p->n; i++)
        cr_assert(rep[i]->type != REDIS_REPLY_ERROR, "%s", rep[i]->str);
    lm_redis_replies_free(rep, p->n);
    free(rep);
    lm_pipe_reset(p);
}

/* lm_redis_keys_fn: every key found into the map, counting repeats. */
typedef struct keys_seen {
    lm_strmap *m;
    size_t batches, repeats;
} keys_seen;

static int on_keys(void *opaque, const redisReply *keys, char *err,
                   size_t errsz) {
    keys_seen *k = opaque;
    (void)err;
    (void)errsz;
    k->batches++;
    for (size_t i = 0; i < keys->elements; i++) {
        int created = 0;
        cr_assert_not_null(lm_strmap_put(k->m, keys->element[i]->str,
                                         keys->element[i]->len, 0, &created));
        k->repeats += !created;
    }
    return 0;
}

/* One INFO field of master i, as a number (-1 when absent). */
static long long master_info(lm_redis *r, int i, const char *section,
                             const char *field) {
    lm_pipe p = {0};
    lm_pipe_cmd_strs(&p, "INFO", section, NULL);
    redisReply *rep[1];
    char err[512] = "";
    cr_assert_eq(lm_redis_exec_on_master(r, i, &p, rep, err, sizeof(err)), 0,
                 "%s", err);
    lm_pipe_free(&p);
    const char *at = strstr(rep[0]->str, field);
    long long v = at ? strtoll(at + strlen(field) + 1, NULL, 10) : -1;
    lm_redis_replies_free(rep, 1);
    return v;
}

Test(cluster_tools, scan_walks_every_master, .fini = teardown, .timeout = 180) {
    cluster_up();
    lm_redis *r = client(cfx.url);
    lm_pipe p = {0};
    char key[64];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "lm:{t%d}:probe", i);
        lm_pipe_cmd_strs(&p, "SET", key, "1", NULL);
    }
    lm_pipe_cmd_strs(&p, "SET", "other:{x}", "1", NULL); /* not matched */
    exec_ok(r, &p);

    char err[512] = "";
    int n = lm_redis_masters(r, err, sizeof(err));
    cr_assert_eq(n, 3, "masters: %d (%s)", n, err);
    long long keys_total = 0;
    char names[3][64];
    for (int i = 0; i < n; i++) {
        long long k = master_info(r, i, "keyspace", "keys");
        printf("master %d: %lld keys\n", i, k);
        cr_expect_gt(k, 0, "master %d holds none of the keys", i);
        keys_total += k;
        cr_assert_eq(lm_redis_master_name(r, i, names[i], sizeof(names[i])), 0);
        cr_expect_eq(master_info(r, i, "replication", "role:master") == -1, 0,
                     "%s is not a master", names[i]);
    }
    cr_expect_str_neq(names[0], names[1]);
    cr_expect_str_neq(names[1], names[2]);
    cr_expect_eq(keys_total, KEYS + 1);
    cr_expect_neq(lm_redis_exec_on_master(r, 3, &p, NULL, err, sizeof(err)), 0,
                  "a fourth master does not exist");

    /* bench: every master's INFO summed (commandstats, commands) */
    redis_snap snap;
    bench_redis_snap(r, &snap); /* -1: the fixture has no AOF to size */
    cr_assert_not_null(snap.cmdstats, "bench read no commandstats");
    const int64_t *sets = lm_strmap_get_str(snap.cmdstats, "set");
    printf("bench: %lld SETs, %lld commands over the masters\n",
           sets ? (long long)*sets : -1LL, snap.commands);
    cr_expect(sets && *sets == KEYS + 1, "bench counts %lld SETs, not %d",
              sets ? (long long)*sets : -1LL, KEYS + 1);
    cr_expect_geq(snap.commands, KEYS + 1);
    bench_redis_snap_free(&snap);

    keys_seen seen = {.m = lm_strmap_new(KEYS)};
    cr_assert_eq(
        lm_redis_scan(r, "lm:{*}:probe", 50, on_keys, &seen, err, sizeof(err)),
        0, "%s", err);
    printf("scan: %zu keys, %zu batches, %zu repeats\n",
           lm_strmap_count(seen.m), seen.batches, seen.repeats);
    cr_expect_eq(lm_strmap_count(seen.m), KEYS, "every master's keys");
    lm_strmap_free(seen.m);

    /* what the tools did before: SCAN routed like any keyless command */
    size_t plain = 0;
    char cursor[32] = "0";
    do {
        redisReply *rep[1];
        lm_pipe_cmd_strs(&p, "SCAN", cursor, "MATCH", "lm:{*}:probe", "COUNT",
                         "50", NULL);
        cr_assert_eq(lm_redis_exec(r, &p, rep, err, sizeof(err)), 0, "%s", err);
        lm_pipe_reset(&p);
        snprintf(cursor, sizeof(cursor), "%s", rep[0]->element[0]->str);
        plain += rep[0]->element[1]->elements;
        lm_redis_replies_free(rep, 1);
    } while (strcmp(cursor, "0") != 0);
    printf("plain SCAN (one master): %zu keys\n", plain);
    cr_expect_lt(plain, KEYS, "a plain SCAN sees one master only");
    lm_pipe_free(&p);
    lm_redis_destroy(r);
}

/* A fixed, varied set of lead hashes (every stage, decision and outcome
 * the report counts) and one team's unassigned queue, into r. */
static void write_leads(lm_redis *r) {
    static const char *const decisions[] = {"QUALIFIED", "NURTURE",
                                            "DISQUALIFIED"};
    static const char *const outcomes[] = {
        "RESPONDED", "CONVERTED_OUTCOME", "NO_RESPONSE", "UNSUBSCRIBED_OUTCOME",
        "LOST_OUTCOME"};
    static const char *const stages[] = {"intake", "qualification", "cadence",
                                         "handed_off", "paused"};
    lm_pipe p = {0};
    const long long t0 = 1767225600000LL; /* 2026-01-01, well past */
    for (int i = 0; i < LEADS; i++) {
        char id[LM_LEAD_ID_MAX], key[LM_KEY_MAX], v[16][32];
        snprintf(id, sizeof(id), "%016x-%08x", 0x1000u + (unsigned)i * 7919u,
                 (unsigned)i);
        lm_lead_key(id, key);
        long long sub = t0 + (long long)i * 60000;
        int closed = i % 3 == 0, dec = i % 7 != 0;
        snprintf(v[0], 32, "%lld", sub);
        snprintf(v[1], 32, "%lld", sub + 1000 + i);
        snprintf(v[2], 32, "%lld", sub + 5000 + 37LL * i);
        snprintf(v[3], 32, "%lld", sub + 60000 + 1000LL * i);
        snprintf(v[4], 32, "%lld", sub + 86400000LL);
        snprintf(v[5], 32, "%d", i % 5);
        snprintf(v[6], 32, "%d", 20 * (i % 9));
        snprintf(v[7], 32, "%d", i % 4 == 0 ? 150000 : 0);
        snprintf(v[8], 32, "0.%02d", i % 100);
        snprintf(v[9], 32, "owner-%d", i % 6);
        snprintf(v[10], 32, "%d", i % 2);
        const char *argv[40];
        int a = 0;
        argv[a++] = "HSET";
        argv[a++] = key;
        argv[a++] = LM_F_STATUS;
        argv[a++] = closed ? "closed" : "open";
        argv[a++] = LM_F_STAGE;
        argv[a++] = stages[i % 5];
        argv[a++] = LM_F_SUBMITTED;
        argv[a++] = v[0];
        argv[a++] = LM_F_ACCEPTED;
        argv[a++] = v[1];
        if (dec) {
            argv[a++] = LM_F_DECIDED;
            argv[a++] = v[2];
            argv[a++] = LM_F_DECISION;
            argv[a++] = decisions[i % 3];
            argv[a++] = LM_F_SCORE;
            argv[a++] = v[8];
            argv[a++] = LM_F_OWNER;
            argv[a++] = v[9];
            argv[a++] = LM_F_TEAM;
            argv[a++] = i % 2 ? "north" : "south";
            argv[a++] = LM_F_ADAPTIVE;
            argv[a++] = v[10];
            argv[a++] = LM_F_SEGMENT;
            argv[a++] = i % 2 ? "smb" : "ent";
        }
        if (dec && i % 5 != 1) {
            argv[a++] = LM_F_FIRST_ACTION;
            argv[a++] = v[3];
            argv[a++] = LM_F_LAST_ACTION;
            argv[a++] = v[3];
            argv[a++] = LM_F_TOUCHES;
            argv[a++] = v[5];
            argv[a++] = LM_F_COST;
            argv[a++] = v[6];
        }
        if (closed) {
            argv[a++] = LM_F_CLOSED;
            argv[a++] = v[4];
            argv[a++] = LM_F_OUTCOME;
            argv[a++] = outcomes[i % 5];
            argv[a++] = LM_F_REVENUE;
            argv[a++] = v[7];
        } else {
            argv[a++] = LM_F_NEXT_DUE;
            argv[a++] = v[4];
        }
        cr_assert_eq(lm_pipe_cmd(&p, a, argv, NULL), 0);
    }
    char q[LM_KEY_MAX];
    lm_lead_team_queue_key("north", q);
    lm_pipe_cmd_strs(&p, "ZADD", q, "1767225600000", "x", NULL);
    lm_lead_team_queue_key("south", q);
    lm_pipe_cmd_strs(&p, "ZADD", q, "1767225700000", "y", "1767225800000", "z",
                     NULL);
    exec_ok(r, &p);
    lm_pipe_free(&p);
}

/* `lastmile <args>` against redis_url and the stack's broker: its JSON. */
static json_t *run_json(const char *redis_url, const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "LASTMILE_BROKERS='%s' LASTMILE_REDIS_URL='%s' "
             "LASTMILE_TOPIC_PREFIX=lastmile. %s %s",
             st.brokers, redis_url, LASTMILE, args);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char *buf = malloc(OUTPUT_MAX);
    size_t n = fread(buf, 1, OUTPUT_MAX - 1, f);
    buf[n] = '\0';
    int status = pclose(f);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed: %s",
              cmd, buf);
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    cr_assert_not_null(j, "%s: not JSON (%s): %s", cmd, e.text, buf);
    free(buf);
    return j;
}

/* Drops the members that say when the report was made (not what it
 * found), anywhere in j. */
static void drop_clock(json_t *j) {
    static const char *const clock_keys[] = {"now_ms", "generated_at",
                                             "oldest_age_s", "age_s", NULL};
    if (json_is_object(j)) {
        for (int i = 0; clock_keys[i]; i++)
            json_object_del(j, clock_keys[i]);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) drop_clock(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) drop_clock(v);
    }
}

static void expect_same(const char *what, json_t *one, json_t *cl) {
    drop_clock(one);
    drop_clock(cl);
    char *a = json_dumps(one, JSON_SORT_KEYS | JSON_INDENT(1));
    char *b = json_dumps(cl, JSON_SORT_KEYS | JSON_INDENT(1));
    printf("%s: %zu bytes of JSON each\n", what, strlen(a));
    if (!json_equal(one, cl)) { /* for diff(1) */
        json_dump_file(one, "/tmp/lastmile-cltools-one.json",
                       JSON_SORT_KEYS | JSON_INDENT(1));
        json_dump_file(cl, "/tmp/lastmile-cltools-cluster.json",
                       JSON_SORT_KEYS | JSON_INDENT(1));
    }
    cr_expect(json_equal(one, cl),
              "%s differs (diff /tmp/lastmile-cltools-one.json "
              "/tmp/lastmile-cltools-cluster.json)",
              what);
    free(a);
    free(b);
    json_decref(one);
    json_decref(cl);
}

Test(cluster_tools, report_same_as_one_redis, .fini = teardown,
     .timeout = 300) {
    cr_assert_not_null(mkdtemp(dir));
    char err[1024];
    lm_devstack_opts o = {.dir = dir,
                          .lastmile_exe = LASTMILE,
                          .partitions = 1,
                          .die_with_parent = 1};
    cr_assert_eq(lm_devstack_up(&o, &st, err, sizeof(err)), 0, "%s", err);
    cluster_up();
    lm_redis *one = client(st.redis_url), *cl = client(cfx.url);
    write_leads(one);
    write_leads(cl);
    lm_redis_destroy(one);
    lm_redis_destroy(cl);

    json_t *r1 = run_json(st.redis_url, "report --json");
    json_t *funnel = json_object_get(r1, "funnel");
    cr_assert_not_null(funnel, "no funnel in the report");
    printf("funnel (one Redis): %s\n",
           json_dumps(funnel, JSON_COMPACT | JSON_SORT_KEYS));
    expect_same("report --json", r1, run_json(cfx.url, "report --json"));
    expect_same("waiting --json", run_json(st.redis_url, "waiting --json"),
                run_json(cfx.url, "waiting --json"));
}

/* ============================= lastmile dev up --redis-cluster / down */

static char devdir[] = "/tmp/lastmile-devcluster-XXXXXX";

/* The pids of <devdir>/cluster.pids into pids; how many. */
static int cluster_pids(pid_t pids[LM_DEVSTACK_CLUSTER_NODES]) {
    char path[128];
    snprintf(path, sizeof(path), "%s/cluster.pids", devdir);
    FILE *f = fopen(path, "r");
    int n = 0;
    long v;
    while (f && n < LM_DEVSTACK_CLUSTER_NODES && fscanf(f, "%ld", &v) == 1)
        pids[n++] = (pid_t)v;
    if (f)
        fclose(f);
    return n;
}

static void dev_teardown(void) {
    if (strstr(devdir, "XXXXXX"))
        return;
    pid_t pids[LM_DEVSTACK_CLUSTER_NODES];
    int n = cluster_pids(pids);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "LASTMILE_DEV_DIR='%s' %s dev down >/dev/null 2>&1", devdir,
             LASTMILE);
    if (system(cmd) != 0)
        fprintf(stderr, "dev down failed\n");
    for (int i = 0; i < n; i++) /* whatever dev down left */
        kill(pids[i], SIGKILL);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", devdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", devdir);
}

/* Runs cmd; stdout and stderr into out (caller frees); the exit code. */
static int run_all(const char *cmd, char **out) {
    char full[2048];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *f = popen(full, "r");
    cr_assert_not_null(f);
    char *buf = malloc(OUTPUT_MAX);
    size_t n = fread(buf, 1, OUTPUT_MAX - 1, f);
    buf[n] = '\0';
    int status = pclose(f);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(cluster_tools, dev_up_redis_cluster, .fini = dev_teardown,
     .timeout = 180) {
    cr_assert_not_null(mkdtemp(devdir));
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof(cmd),
             "LASTMILE_DEV_DIR='%s' %s dev up --redis-cluster --partitions 1",
             devdir, LASTMILE);
    int rc = run_all(cmd, &out);
    printf("%s", out);
    cr_assert_eq(rc, 0, "dev up --redis-cluster: %s", out);
    cr_expect_not_null(strstr(out, "workers run on it"),
                       "dev up does not say the workers run on it");
    const char *u = strstr(out, "LASTMILE_REDIS_URL=");
    cr_assert_not_null(u);
    char url[256];
    snprintf(url, sizeof(url), "%.*s", (int)strcspn(u + 19, "\n"), u + 19);
    free(out);
    cr_assert_eq(strncmp(url, "redis+cluster://", 16), 0, "%s", url);

    pid_t pids[LM_DEVSTACK_CLUSTER_NODES];
    cr_assert_eq(cluster_pids(pids), LM_DEVSTACK_CLUSTER_NODES);
    lm_redis *r = client(url);
    char err[512] = "";
    cr_expect_eq(lm_redis_masters(r, err, sizeof(err)), 3, "%s", err);
    for (int i = 0; i < 3; i++) /* each master has its replica linked */
        cr_expect_eq(master_info(r, i, "replication", "connected_slaves"), 1);
    lm_pipe p = {0};
    lm_pipe_cmd_strs(&p, "SET", "lm:{a}:probe", "1", NULL);
    lm_pipe_cmd_strs(&p, "SET", "lm:{b}:probe", "1", NULL);
    exec_ok(r, &p);
    lm_pipe_free(&p);
    lm_redis_destroy(r);

    /* a worker on it runs (docs/DELIVERY.md, "On a Redis Cluster"): still
       running when timeout stops it (124), having said it is on a cluster */
    snprintf(cmd, sizeof(cmd),
             ". '%s/env' && LASTMILE_METRICS_ADDR=127.0.0.1:0 timeout 8 "
             "%s/workers/lastmile-intake",
             devdir, LM_BINARY_DIR);
    rc = run_all(cmd, &out);
    printf("worker: exit %d: %s", rc, out);
    cr_expect_eq(rc, 124, "the worker did not run on the cluster: %s", out);
    cr_expect_not_null(strstr(out, "\"redis_cluster\""), "%s", out);
    cr_expect_null(strstr(out, "redis_cluster_unsupported"), "%s", out);
    free(out);

    snprintf(cmd, sizeof(cmd), "LASTMILE_DEV_DIR='%s' %s dev down", devdir,
             LASTMILE);
    rc = run_all(cmd, &out);
    cr_expect_eq(rc, 0, "dev down: %s", out);
    free(out);
    for (int i = 0; i < LM_DEVSTACK_CLUSTER_NODES; i++)
        cr_expect_neq(kill(pids[i], 0), 0, "node pid %ld still runs",
                      (long)pids[i]);
    pid_t left[LM_DEVSTACK_CLUSTER_NODES];
    cr_expect_eq(cluster_pids(left), 0, "cluster.pids is left");
}
