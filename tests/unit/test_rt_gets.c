/* test_rt_gets.c — a plan's string reads (lm_plan_get) in round trip 1
 * (common/runtime/lm_rt_redis.c): on one Redis every input's gets are one
 * MGET sent after every other read, and each input still reads its
 * replies in the order it planned them, gets and commands interleaved; on
 * a Redis Cluster each get is a GET in its place. The replies are made
 * here: no Redis, no Kafka (tests/stack/test_accounts.c runs
 * qualification's account reads through a real Redis). */
#define _GNU_SOURCE /* memmem */
#include "lm_rt_internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* What each input's plan does, by its index (the ident's scratch holds
 * it): 0 HMGET, get, SCARD, get; 1 a get alone; 2 a command alone; 3 a
 * get, then fails; 4 is a duplicate (not planned). */
static int plan(void *ctx, const ProtobufCMessage *in, const lm_ident *ident,
                int64_t now_ms, lm_plan *p) {
    (void)ctx;
    (void)in;
    (void)now_ms;
    switch (*(const int *)ident->scratch) {
    case 0:
        return lm_plan_cmd_strs(p, "HMGET", "h0", "a", "b", NULL) ||
               lm_plan_get(p, "k0a") ||
               lm_plan_cmd_strs(p, "SCARD", "s0", NULL) ||
               lm_plan_get(p, "k0b");
    case 1:
        return lm_plan_get(p, "k1");
    case 2:
        return lm_plan_cmd_strs(p, "SCARD", "s2", NULL);
    default:
        lm_plan_get(p, "k3");
        return -1;
    }
}

static const lm_worker worker = {.name = "gets", .plan = plan};
static lm_runtime rt;
static int index_of[5] = {0, 1, 2, 3, 4};

static void setup(void) {
    memset(&rt, 0, sizeof(rt));
    rt.w = &worker;
    rt.n_items = 5;
    rt.items = calloc(rt.n_items, sizeof(*rt.items));
    cr_assert_not_null(rt.items);
    for (size_t i = 0; i < rt.n_items; i++) {
        rt.items[i].state = i == 4 ? RT_DUP : RT_NEW;
        rt.items[i].ident.scratch = (unsigned char *)&index_of[i];
    }
}

static void teardown(void) {
    free(rt.items);
    free(rt.read_ptrs);
    lm_plan_gets_free(&rt.gets);
    lm_pipe_free(&rt.pipe);
}

TestSuite(rt_gets, .init = setup, .fini = teardown);

static redisReply reply_of(int type) {
    redisReply r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    return r;
}

Test(rt_gets, one_mget_last_and_each_input_reads_in_plan_order) {
    cr_assert_eq(rt_pipe_plans(&rt, 0), 0);
    cr_expect_eq(rt.items[3].state, RT_REJECT, "a plan that fails");
    cr_expect_eq(rt.items[3].get_n, 0, "its get is not read");
    cr_expect_eq(rt.gets.n, 3);
    cr_expect_eq(rt.gets.keys.len, sizeof("k0a") + sizeof("k0b") + sizeof("k1"),
                 "the rejected plan's key is gone too");
    /* HMGET, SCARD (input 0), SCARD (input 2), the MGET */
    cr_assert_eq(rt.pipe.n, 4, "no GET of its own: %zu commands", rt.pipe.n);
    cr_expect_eq(rt.gets_reply, 3);
    static const char mget[] = "*4\r\n$4\r\nMGET\r\n$3\r\nk0a\r\n$3\r\nk0b\r\n"
                               "$2\r\nk1\r\n";
    cr_assert_geq(rt.pipe.buf.len, sizeof(mget) - 1);
    cr_expect_eq(memcmp(rt.pipe.buf.data + rt.pipe.buf.len - (sizeof(mget) - 1),
                        mget, sizeof(mget) - 1),
                 0, "the MGET is last, its keys in plan order");

    redisReply hmget = reply_of(REDIS_REPLY_ARRAY);
    redisReply scard0 = reply_of(REDIS_REPLY_INTEGER);
    redisReply scard2 = reply_of(REDIS_REPLY_INTEGER);
    redisReply el[3] = {reply_of(REDIS_REPLY_STRING), reply_of(REDIS_REPLY_NIL),
                        reply_of(REDIS_REPLY_STRING)};
    redisReply *elp[3] = {&el[0], &el[1], &el[2]};
    redisReply arr = reply_of(REDIS_REPLY_ARRAY);
    arr.elements = 3;
    arr.element = elp;
    redisReply *replies[4] = {&hmget, &scard0, &scard2, &arr};
    rt.replies = replies;
    cr_assert_eq(rt_gather_gets(&rt), 0);

    lm_reads r0 = rt_item_reads(&rt, &rt.items[0]);
    cr_assert_eq(r0.n, 4);
    cr_expect_eq(r0.replies[0], &hmget);
    cr_expect_eq(r0.replies[1], &el[0], "k0a in its place");
    cr_expect_eq(r0.replies[2], &scard0);
    cr_expect_eq(r0.replies[3], &el[1], "k0b in its place");
    lm_reads r1 = rt_item_reads(&rt, &rt.items[1]);
    cr_assert_eq(r1.n, 1);
    cr_expect_eq(r1.replies[0], &el[2]);
    lm_reads r2 = rt_item_reads(&rt, &rt.items[2]);
    cr_assert_eq(r2.n, 1);
    cr_expect_eq(r2.replies[0], &scard2, "no gets: the replies themselves");
    cr_expect_eq(rt_item_reads(&rt, &rt.items[4]).n, 0);

    /* an MGET that does not answer one element per get fails the round */
    arr.elements = 2;
    cr_expect_eq(rt_gather_gets(&rt), -1);
    rt.replies = NULL;
}

Test(rt_gets, on_a_cluster_each_get_is_a_get_in_its_place) {
    rt_cluster *c = calloc(1, sizeof(*c));
    cr_assert_not_null(c);
    rt.cluster = c;
    cr_assert_eq(rt_pipe_plans(&rt, 0), 0);
    rt.cluster = NULL;
    free(c);
    cr_expect_eq(rt.gets.n, 0);
    cr_expect_eq(rt.gets_reply, 0, "no MGET");
    /* HMGET, GET, SCARD, GET (0); GET (1); SCARD (2); GET (3, rejected) */
    cr_expect_eq(rt.pipe.n, 7);
    cr_expect_eq(rt.items[0].plan_n, 4);
    cr_expect_eq(rt.items[1].plan_n, 1);
    cr_expect(memmem(rt.pipe.buf.data, rt.pipe.buf.len,
                     "$3\r\nGET\r\n$3\r\nk0a\r\n", 18) != NULL);
}
