/* test_redis_cluster.c — lm_redis on a real Redis Cluster (three masters,
 * three replicas; cluster_fixture.h): key slots and hash tags, a pipeline
 * over every master answered in order, one-slot transactions applied and
 * cross-slot ones refused unsent, MOVED after a slot moved, ASK while it
 * moves, and a master killed -9 whose replica takes over. */
#include "cluster_fixture.h"

#include "lm_redis.h"
#include "lm_redis_cluster.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cluster_fx cfx;

static void teardown(void) {
    cluster_fx_down(&cfx);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned slot_of(const char *k) {
    return lm_rcluster_slot(k, strlen(k));
}

/* ------------------------------------------------------------ no server */

Test(cluster_keys, slots_and_hash_tags) {
    /* the specification's CRC16 check value, and its hash tag rules */
    cr_expect_eq(slot_of("123456789"), 0x31C3 & 16383);
    cr_expect_eq(slot_of("somekey"), 11058); /* CLUSTER KEYSLOT somekey */
    cr_expect_eq(slot_of("{user1000}.following"),
                 slot_of("{user1000}.followers"));
    cr_expect_eq(slot_of("{user1000}.following"), slot_of("user1000"));
    cr_expect_eq(slot_of("foo{}{bar}"), slot_of("foo{}{bar}"));
    cr_expect_neq(slot_of("foo{}{bar}"), slot_of("bar"),
                  "an empty first tag hashes the whole key");
    cr_expect_eq(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    cr_expect_eq(slot_of("foo{bar}{zap}"), slot_of("bar"));
    cr_expect_eq(slot_of("{lm:lead:42}:state"), slot_of("lm:lead:42"));
    cr_expect_eq(slot_of("no-close{tag"), lm_rcluster_slot("no-close{tag", 12));
}

Test(cluster_keys, key_positions) {
    lm_rcluster_arg evalsha[] = {{"EVALSHA", 7}, {"abc", 3}, {"2", 1},
                                 {"k1", 2},      {"k2", 2},  {"arg", 3}};
    size_t first, end, step;
    lm_rcluster_key_span(evalsha, 6, &first, &end, &step);
    cr_expect(first == 3 && end == 5 && step == 1);
    lm_rcluster_arg mset[] = {
        {"mset", 4}, {"a", 1}, {"1", 1}, {"b", 1}, {"2", 1}};
    lm_rcluster_key_span(mset, 5, &first, &end, &step);
    cr_expect(first == 1 && end == 5 && step == 2);
    lm_rcluster_arg ping[] = {{"PING", 4}};
    lm_rcluster_key_span(ping, 1, &first, &end, &step);
    cr_expect_eq(first, end);
    lm_rcluster_arg hset[] = {{"HSET", 4}, {"h", 1}, {"f", 1}, {"v", 1}};
    lm_rcluster_key_span(hset, 4, &first, &end, &step);
    cr_expect(first == 1 && end == 2);
}

Test(cluster_keys, urls) {
    lm_redis_url u;
    char err[512] = "";
    cr_assert_eq(lm_redis_url_parse("redis+cluster://worker:s3cret@a:7000,"
                                    "b:7001,[::1]:7002",
                                    &u, err, sizeof(err)),
                 0, "%s", err);
    cr_expect(u.is_cluster && u.n_seeds == 3);
    cr_expect_str_eq(u.seeds[1].host, "b");
    cr_expect_eq(u.seeds[2].port, 7002);
    cr_expect_str_eq(u.seeds[2].host, "::1");
    cr_expect_str_eq(u.user, "worker");
    cr_expect_str_eq(u.password, "s3cret");
    cr_expect_str_eq(u.host, "a");
    cr_expect_eq(lm_redis_url_parse("redis+cluster://:pw@a:7000/0", &u, err,
                                    sizeof(err)),
                 0);
    cr_expect_eq(lm_redis_url_parse("redis+cluster://:pw@a:7000/2", &u, err,
                                    sizeof(err)),
                 -1);
    cr_expect(strstr(err, "only database 0"), "%s", err);
    cr_expect_eq(
        lm_redis_url_parse("redis+cluster://a:7000,,b:1", &u, err, sizeof(err)),
        -1);
    cr_expect(strstr(err, "seed nodes"), "%s", err);
    cr_expect_eq(
        lm_redis_url_parse("redis+cluster://a:99999", &u, err, sizeof(err)),
        -1);
    cr_expect(strstr(err, "port"), "%s", err);
    cr_expect_eq(lm_redis_url_parse("redis://h:1", &u, err, sizeof(err)), 0);
    cr_expect(!u.is_cluster);
}

/* -------------------------------------------------------------- helpers */

/* Runs p; asserts exec answered 0. */
static void exec_ok(lm_redis *r, lm_pipe *p, redisReply **rep) {
    char err[512] = "";
    int rc = lm_redis_exec(r, p, rep, err, sizeof(err));
    cr_assert_eq(rc, 0, "exec: %d %s", rc, err);
}

static redisReply *one(lm_redis *r, const char *a0, const char *a1,
                       const char *a2) {
    lm_pipe p = {0};
    lm_pipe_cmd_strs(&p, a0, a1, a2, NULL);
    redisReply *rep[1];
    exec_ok(r, &p, rep);
    lm_pipe_free(&p);
    return rep[0];
}

static void expect_str(redisReply *rep, const char *want) {
    cr_assert(rep && rep->type == REDIS_REPLY_STRING, "reply type %d: %s",
              rep ? rep->type : -1,
              rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    cr_expect_str_eq(rep->str, want);
}

static lm_rcluster_stats stats(lm_redis *r) {
    lm_rcluster_stats st;
    lm_rcluster_get_stats(lm_redis_cluster_of(r), &st);
    return st;
}

/* Whether one CLUSTER NODES line's slot fields (from the ninth field on)
 * hold slot. */
static int line_has_slot(const char *line, const char *eol, unsigned slot) {
    const char *f = line;
    for (int k = 0; k < 8 && f && f < eol; k++) {
        f = memchr(f, ' ', (size_t)(eol - f));
        f = f ? f + 1 : NULL;
    }
    while (f && f < eol) {
        char *e;
        unsigned long lo = strtoul(f, &e, 10), hi = lo;
        if (e > f && *e == '-')
            hi = strtoul(e + 1, &e, 10);
        if (e > f && slot >= lo && slot <= hi)
            return 1;
        f = memchr(f, ' ', (size_t)(eol - f));
        f = f ? f + 1 : NULL;
    }
    return 0;
}

/* The node (index) that masters slot, from node ask's CLUSTER NODES;
 * id gets its node id. -1 when none. */
static int master_of(int ask, unsigned slot, char id[64]) {
    redisContext *ctx = cluster_fx_conn(&cfx, ask);
    cr_assert(ctx);
    redisReply *r = redisCommand(ctx, "CLUSTER NODES");
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    int found = -1;
    for (const char *line = r->str; *line && found < 0;) {
        const char *eol = strchr(line, '\n');
        eol = eol ? eol : line + strlen(line);
        char nid[64], addr[64], flags[128];
        if (sscanf(line, "%63s %63s %127s", nid, addr, flags) == 3 &&
            strstr(flags, "master") && !strstr(flags, "fail") &&
            line_has_slot(line, eol, slot)) {
            found = cluster_fx_index(
                &cfx, (int)strtol(strchr(addr, ':') + 1, NULL, 10));
            snprintf(id, 64, "%s", nid);
        }
        line = *eol ? eol + 1 : eol;
    }
    freeReplyObject(r);
    redisFree(ctx);
    return found;
}

static void node_cmd(int i, const char *fmt, const char *a, const char *b) {
    redisContext *ctx = cluster_fx_conn(&cfx, i);
    cr_assert(ctx);
    redisReply *r = redisCommand(ctx, fmt, a, b);
    cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s: %s", fmt,
              r ? r->str : ctx->errstr);
    freeReplyObject(r);
    redisFree(ctx);
}

static lm_redis *client(void) {
    char err[512] = "";
    cr_assert_eq(cluster_fx_up(&cfx, err, sizeof(err)), 0, "%s", err);
    lm_redis *r = lm_redis_new(cfx.url, 2000, err, sizeof(err));
    cr_assert(r, "%s", err);
    cr_assert_eq(lm_redis_connect(r, err, sizeof(err)), 0, "%s", err);
    cr_expect(lm_redis_connected(r));
    return r;
}

/* Every node gets an ACL user and a default password; a client with the
 * user's credentials reaches every master, a wrong password is refused
 * for good without the secret in the error. */
static void credentials_on_every_node(void) {
    for (int i = 0; i < CFX_NODES; i++) {
        redisContext *ctx = cluster_fx_conn(&cfx, i);
        cr_assert(ctx);
        redisReply *a = redisCommand(ctx, "ACL SETUSER worker on >w-secret "
                                          "+@all ~*");
        redisReply *b = redisCommand(ctx, "CONFIG SET requirepass top-secret");
        cr_assert(a && b && a->type == REDIS_REPLY_STATUS &&
                  b->type == REDIS_REPLY_STATUS);
        freeReplyObject(a);
        freeReplyObject(b);
        redisFree(ctx);
    }
    char url[600], err[512] = "";
    snprintf(url, sizeof(url), "redis+cluster://worker:w-secret@%s",
             cfx.url + strlen("redis+cluster://"));
    lm_redis *r = lm_redis_new(url, 2000, err, sizeof(err));
    cr_assert(r, "%s", err);
    lm_pipe p = {0};
    for (int i = 0; i < 30; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key:%d", i);
        lm_pipe_cmd_strs(&p, "GET", k, NULL);
    }
    redisReply *rep[30];
    exec_ok(r, &p, rep);
    for (int i = 0; i < 30; i++)
        expect_str(rep[i], "scripted");
    lm_redis_replies_free(rep, 30);
    cr_expect_eq(stats(r).roundtrips, 1 + 3, "one map read, three masters");
    lm_redis_destroy(r);

    snprintf(url, sizeof(url), "redis+cluster://worker:nope-wrong@%s",
             cfx.url + strlen("redis+cluster://"));
    r = lm_redis_new(url, 2000, err, sizeof(err));
    cr_expect_eq(lm_redis_exec(r, &p, rep, err, sizeof(err)), -1);
    cr_expect(strstr(err, "AUTH"), "%s", err);
    cr_expect(!strstr(err, "nope-wrong"), "the password leaked: %s", err);
    lm_pipe_free(&p);
    lm_redis_destroy(r);
}

/* ----------------------------------------------------------- on a cluster */

Test(cluster, pipeline_scripts_and_transactions, .fini = teardown,
     .timeout = 120) {
    lm_redis *r = client();
    /* thirty keys: every master owns some */
    enum { N = 30 };
    char keys[N][16], vals[N][16], id[64];
    int owners[CFX_NODES] = {0}, masters = 0;
    lm_pipe p = {0};
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key:%d", i);
        snprintf(vals[i], sizeof(vals[i]), "v%d", i);
        int m = master_of(0, slot_of(keys[i]), id);
        cr_assert(m >= 0);
        masters += owners[m]++ == 0;
        lm_pipe_cmd_strs(&p, "SET", keys[i], vals[i], NULL);
    }
    cr_assert_eq(masters, 3, "the keys reach %d masters", masters);
    redisReply *rep[2 * N];
    exec_ok(r, &p, rep);
    lm_redis_replies_free(rep, N);

    /* reads interleaved with a keyless command: answered in order, one
       round trip per master */
    lm_pipe_reset(&p);
    for (int i = 0; i < N; i++) {
        lm_pipe_cmd_strs(&p, "GET", keys[i], NULL);
        lm_pipe_cmd_strs(&p, "CLUSTER", "KEYSLOT", keys[i], NULL);
    }
    uint64_t rt0 = stats(r).roundtrips;
    exec_ok(r, &p, rep);
    cr_expect_eq(stats(r).roundtrips - rt0, 3);
    for (int i = 0; i < N; i++) {
        expect_str(rep[2 * i], vals[i]);
        cr_expect_eq(rep[2 * i + 1]->integer, (long long)slot_of(keys[i]),
                     "%s: the server's slot differs from ours", keys[i]);
    }
    lm_redis_replies_free(rep, 2 * N);

    /* a script, loaded on every node, routed by its first key */
    lm_redis_destroy(r);
    char err[512] = "";
    r = lm_redis_new(cfx.url, 2000, err, sizeof(err));
    lm_script set = {.lua = "return redis.call('SET', KEYS[1], ARGV[1])"};
    cr_assert_eq(lm_redis_add_script(r, &set), 0);
    cr_assert_eq(lm_redis_connect(r, err, sizeof(err)), 0, "%s", err);
    lm_pipe_reset(&p);
    for (int i = 0; i < N; i++) {
        const char *argv[2] = {keys[i], "scripted"};
        lm_pipe_script(&p, &set, 1, 2, argv, NULL);
    }
    exec_ok(r, &p, rep);
    for (int i = 0; i < N; i++)
        cr_expect(rep[i]->type == REDIS_REPLY_STATUS, "%s: %s", keys[i],
                  rep[i]->str);
    lm_redis_replies_free(rep, N);
    expect_str(rep[0] = one(r, "GET", keys[N - 1], NULL), "scripted");
    freeReplyObject(rep[0]);

    /* a transaction over two slots: refused, nothing sent */
    const char *a = "tx:a", *b = "tx:b";
    cr_assert_neq(slot_of(a), slot_of(b));
    lm_pipe_reset(&p);
    lm_pipe_cmd_strs(&p, "SET", "tx:before", "1", NULL);
    lm_pipe_cmd_strs(&p, "MULTI", NULL);
    lm_pipe_cmd_strs(&p, "SET", a, "1", NULL);
    lm_pipe_cmd_strs(&p, "SET", b, "2", NULL);
    lm_pipe_cmd_strs(&p, "EXEC", NULL);
    cr_expect_eq(lm_redis_exec(r, &p, rep, err, sizeof(err)), -1);
    char want[64];
    snprintf(want, sizeof(want), "slot %u", slot_of(b));
    cr_expect(strstr(err, "CROSSSLOT") && strstr(err, want), "%s", err);
    for (int i = 0; i < 5; i++)
        cr_expect_null(rep[i]);
    rep[0] = one(r, "GET", "tx:before", NULL);
    cr_expect_eq(rep[0]->type, REDIS_REPLY_NIL, "a refused pipeline ran");
    freeReplyObject(rep[0]);
    /* a WATCH over two slots, before its transaction: refused as well */
    lm_pipe_reset(&p);
    lm_pipe_cmd_strs(&p, "WATCH", a, b, NULL);
    cr_expect_eq(lm_redis_exec(r, &p, rep, err, sizeof(err)), -1);
    cr_expect(strstr(err, "CROSSSLOT"), "%s", err);

    /* a transaction on one hash tag, watched: applied */
    lm_pipe_reset(&p);
    lm_pipe_cmd_strs(&p, "WATCH", "{lead:7}:fence", NULL);
    lm_pipe_cmd_strs(&p, "MULTI", NULL);
    lm_pipe_cmd_strs(&p, "SET", "{lead:7}:state", "open", NULL);
    lm_pipe_cmd_strs(&p, "INCR", "{lead:7}:n", NULL);
    lm_pipe_cmd_strs(&p, "PING", NULL);
    lm_pipe_cmd_strs(&p, "EXEC", NULL);
    lm_pipe_cmd_strs(&p, "GET", keys[0], NULL);
    exec_ok(r, &p, rep);
    cr_assert_eq(rep[5]->type, REDIS_REPLY_ARRAY, "EXEC: %s", rep[5]->str);
    cr_expect_eq(rep[5]->elements, 3);
    cr_expect_eq(rep[5]->element[1]->integer, 1);
    expect_str(rep[6], "scripted");
    lm_redis_replies_free(rep, 7);
    expect_str(rep[0] = one(r, "GET", "{lead:7}:state", NULL), "open");
    freeReplyObject(rep[0]);
    lm_pipe_free(&p);
    lm_redis_destroy(r);
    credentials_on_every_node();
}

Test(cluster, moved_and_ask_while_a_slot_moves, .fini = teardown,
     .timeout = 120) {
    lm_redis *r = client();
    const char *old = "{mv}:old", *new = "{mv}:new";
    unsigned slot = slot_of(old);
    char src_id[64], dst_id[64], s[16], port[16];
    int src = master_of(0, slot, src_id), dst = -1;
    cr_assert(src >= 0);
    for (unsigned t = 0; dst < 0 || dst == src; t += 997)
        dst = master_of(0, (slot + t) % 16384, dst_id);
    snprintf(s, sizeof(s), "%u", slot);
    snprintf(port, sizeof(port), "%d", cfx.ports[dst]);
    freeReplyObject(one(r, "SET", old, "v-old"));

    /* the slot migrating: a key still at the source is served there, a
       key the source lacks is ASKed of the target; the map stays */
    node_cmd(dst, "CLUSTER SETSLOT %s IMPORTING %s", s, src_id);
    node_cmd(src, "CLUSTER SETSLOT %s MIGRATING %s", s, dst_id);
    lm_rcluster_stats st0 = stats(r);
    redisReply *rep = one(r, "SET", new, "v-new");
    cr_expect_eq(rep->type, REDIS_REPLY_STATUS, "%s", rep->str);
    freeReplyObject(rep);
    cr_expect_eq(stats(r).ask, st0.ask + 1);
    expect_str(rep = one(r, "GET", old, NULL), "v-old");
    freeReplyObject(rep);
    expect_str(rep = one(r, "GET", new, NULL), "v-new");
    freeReplyObject(rep);
    cr_expect_eq(stats(r).ask, st0.ask + 2);
    cr_expect_eq(stats(r).moved, st0.moved, "ASK must not move the slot");

    /* the slot moved: the source answers MOVED, the client follows,
       a transaction redirected whole, then straight to the new owner */
    redisContext *ctx = cluster_fx_conn(&cfx, src);
    const char *mig[] = {"MIGRATE", "127.0.0.1", port,   "",
                         "0",       "5000",      "KEYS", old};
    rep = redisCommandArgv(ctx, 8, mig, NULL);
    cr_assert(rep && rep->type != REDIS_REPLY_ERROR, "MIGRATE: %s",
              rep ? rep->str : ctx->errstr);
    freeReplyObject(rep);
    redisFree(ctx);
    node_cmd(dst, "CLUSTER SETSLOT %s NODE %s", s, dst_id);
    node_cmd(src, "CLUSTER SETSLOT %s NODE %s", s, dst_id);
    lm_pipe p = {0};
    lm_pipe_cmd_strs(&p, "MULTI", NULL);
    lm_pipe_cmd_strs(&p, "SET", new, "v-tx", NULL);
    lm_pipe_cmd_strs(&p, "EXEC", NULL);
    redisReply *reps[3];
    exec_ok(r, &p, reps);
    cr_assert_eq(reps[2]->type, REDIS_REPLY_ARRAY, "EXEC: %s", reps[2]->str);
    lm_redis_replies_free(reps, 3);
    cr_expect_eq(stats(r).moved, st0.moved + 1);
    cr_expect_gt(stats(r).refreshes, st0.refreshes);
    expect_str(rep = one(r, "GET", old, NULL), "v-old");
    freeReplyObject(rep);
    expect_str(rep = one(r, "GET", new, NULL), "v-tx");
    freeReplyObject(rep);
    cr_expect_eq(stats(r).moved, st0.moved + 1, "the map was not updated");
    lm_pipe_free(&p);
    lm_redis_destroy(r);
}

Test(cluster, failover_to_the_replica, .fini = teardown, .timeout = 120) {
    lm_redis *r = client();
    const char *key = "fo:key";
    char id[64];
    int m = master_of(0, slot_of(key), id);
    cr_assert(m >= 0);
    /* written and replicated before the master dies */
    redisContext *ctx = cluster_fx_conn(&cfx, m);
    redisReply *rep = redisCommand(ctx, "SET %s v1", key);
    freeReplyObject(rep);
    rep = redisCommand(ctx, "WAIT 1 5000");
    cr_assert(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1);
    freeReplyObject(rep);
    redisFree(ctx);
    expect_str(rep = one(r, "GET", key, NULL), "v1");
    freeReplyObject(rep);
    uint64_t refreshes = stats(r).refreshes;

    cluster_fx_kill(&cfx, m);
    int other = m == 0 ? 1 : 0;
    lm_pipe p = {0};
    lm_pipe_cmd_strs(&p, "GET", key, NULL);
    lm_pipe_cmd_strs(&p, "SET", key, "v2", NULL);
    int ok = 0, retries = 0;
    long long deadline = now_ms() + 40000;
    while (!ok && now_ms() < deadline) {
        redisReply *reps[2];
        char err[512];
        int rc = lm_redis_exec(r, &p, reps, err, sizeof(err));
        if (rc == 0 && reps[0]->type == REDIS_REPLY_STRING &&
            reps[1]->type == REDIS_REPLY_STATUS) {
            cr_expect_str_eq(reps[0]->str, "v1", "the replica lost a write");
            ok = 1;
        } else {
            cr_expect_neq(rc, -1, "refused for good: %s", err);
            retries++;
        }
        if (rc == 0)
            lm_redis_replies_free(reps, 2);
        if (!ok)
            usleep(100 * 1000);
    }
    cr_assert(ok, "no answer from the promoted replica in time");
    cr_expect_gt(retries, 0, "the master's death went unnoticed");
    int promoted = master_of(other, slot_of(key), id);
    cr_expect(promoted >= 0 && promoted != m, "no replica took over");
    cr_expect_gt(stats(r).refreshes, refreshes);
    expect_str(rep = one(r, "GET", key, NULL), "v2");
    freeReplyObject(rep);
    lm_pipe_free(&p);
    lm_redis_destroy(r);
}
