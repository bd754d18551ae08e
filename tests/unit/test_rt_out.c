/* test_rt_out.c — the runtime's lm_out (common/runtime/lm_rt_out.c) encodes
 * a worker's writes once, as the RESP commands the batch's transaction
 * sends, and joins an HSET right after an HSET of the same key by the same
 * item into one command (the Redis command count per lead is a tracked
 * figure: docs/PERFORMANCE.md). Checked byte for byte against lm_pipe_cmd
 * of the command the joined writes stand for. No Redis, no Kafka. */
#include "lm_rt_internal.h"

#include "lm_out.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lm_runtime rt;
static rt_item items[2];
static rt_out impl[2];
static lm_out out[2];

static void setup(void) {
    memset(&rt, 0, sizeof(rt));
    memset(items, 0, sizeof(items));
    rt.items = items;
    rt.n_items = 2;
    for (int i = 0; i < 2; i++) {
        impl[i] = (rt_out){&rt, &items[i]};
        out[i] = lm_out_make(&rt_out_ops, &impl[i]);
    }
}

static void teardown(void) {
    lm_pipe_free(&rt.writes);
    lm_pipe_free(&rt.index);
}

/* Starts item i's writes where the buffer ends (as rt_decide does). */
static void item_begin(int i) {
    items[i].write_off = rt.writes.buf.len;
}

/* rt.writes holds exactly the commands argvs[0..n) (each NULL-ended). */
static void expect_commands(const char *const *const *argvs, size_t n) {
    lm_pipe want = {0};
    for (size_t c = 0; c < n; c++) {
        int argc = 0;
        while (argvs[c][argc])
            argc++;
        cr_assert_eq(lm_pipe_cmd(&want, argc, argvs[c], NULL), 0);
    }
    cr_expect_eq(rt.writes.n, want.n, "%zu commands, want %zu", rt.writes.n,
                 want.n);
    cr_expect_eq(rt.writes.buf.len, want.buf.len, "%zu bytes, want %zu",
                 rt.writes.buf.len, want.buf.len);
    if (rt.writes.buf.len == want.buf.len)
        cr_expect(memcmp(rt.writes.buf.data, want.buf.data, want.buf.len) == 0,
                  "got %.*s\nwant %.*s", (int)rt.writes.buf.len,
                  rt.writes.buf.data, (int)want.buf.len, want.buf.data);
    lm_pipe_free(&want);
}

TestSuite(rt_out, .init = setup, .fini = teardown);

Test(rt_out, hset_of_the_same_key_joins) {
    item_begin(0);
    cr_assert_eq(lm_out_write_strs(&out[0], "HSET", "k", "a", "1", NULL), 0);
    cr_assert_eq(
        lm_out_write_strs(&out[0], "HSET", "k", "b", "2", "c", "3", NULL), 0);
    static const char *const joined[] = {"HSET", "k", "a", "1", "b",
                                         "2",    "c", "3", NULL};
    const char *const *want[] = {joined};
    expect_commands(want, 1);
    cr_expect_eq(items[0].write_n, 1);
    cr_expect_eq(items[0].write_len, rt.writes.buf.len);
    cr_expect_not(lm_out_failed(&out[0]));
}

Test(rt_out, joining_past_nine_arguments_moves_the_rest) {
    /* *8 becomes *10, then *12: the header grows by a digit */
    item_begin(0);
    lm_out_write_strs(&out[0], "SET", "x", "1", NULL);
    lm_out_write_strs(&out[0], "HSET", "key", "f1", "v1", "f2", "v2", "f3",
                      "v3", NULL);
    lm_out_write_strs(&out[0], "HSET", "key", "f4", "v4", NULL);
    lm_out_write_strs(&out[0], "HSET", "key", "f5", "v5", NULL);
    static const char *const set[] = {"SET", "x", "1", NULL};
    static const char *const joined[] = {"HSET", "key", "f1", "v1", "f2",
                                         "v2",   "f3",  "v3", "f4", "v4",
                                         "f5",   "v5",  NULL};
    const char *const *want[] = {set, joined};
    expect_commands(want, 2);
    cr_expect_eq(items[0].write_n, 2);
    cr_expect_eq(items[0].last_write, (size_t)27); /* after the SET */
}

Test(rt_out, what_does_not_join) {
    item_begin(0);
    lm_out_write_strs(&out[0], "HSET", "k", "a", "1", NULL);
    lm_out_write_strs(&out[0], "HSET", "other", "a", "1", NULL); /* key */
    lm_out_write_strs(&out[0], "HINCRBY", "other", "n", "1", NULL);
    lm_out_write_strs(&out[0], "HSET", "other", "b", "2", NULL); /* not last */
    lm_out_write_strs(&out[0], "HSET", "other", "c", NULL);      /* odd argc */
    item_begin(1);
    lm_out_write_strs(&out[1], "HSET", "other", "c", "3", NULL); /* item */
    static const char *const c0[] = {"HSET", "k", "a", "1", NULL};
    static const char *const c1[] = {"HSET", "other", "a", "1", NULL};
    static const char *const c2[] = {"HINCRBY", "other", "n", "1", NULL};
    static const char *const c3[] = {"HSET", "other", "b", "2", NULL};
    static const char *const c4[] = {"HSET", "other", "c", NULL};
    static const char *const c5[] = {"HSET", "other", "c", "3", NULL};
    const char *const *want[] = {c0, c1, c2, c3, c4, c5};
    expect_commands(want, 6);
    cr_expect_eq(items[0].write_n, 5);
    cr_expect_eq(items[1].write_n, 1);
    cr_expect_eq(items[0].write_len, items[1].write_off);
}

Test(rt_out, index_commands_stay_apart) {
    item_begin(0);
    lm_out_write_strs(&out[0], "HSET", "k", "a", "1", NULL);
    const char *idx[] = {"ZADD", "timers", "5", "k"};
    cr_assert_eq(lm_out_index(&out[0], 4, idx, NULL), 0);
    lm_out_write_strs(&out[0], "HSET", "k", "b", "2", NULL);
    static const char *const joined[] = {"HSET", "k", "a", "1", "b", "2", NULL};
    const char *const *want[] = {joined};
    expect_commands(want, 1);
    cr_expect_eq(rt.index.n, 1);
    cr_expect_eq(items[0].index_n, 1);
    cr_expect_eq(items[0].index_len, rt.index.buf.len);
}

/* ------------------------------------------------ lm_out_claim (claims) */

/* The claim key of a test worker: the ident's tag, or none without one. */
static int tag_claim_key(void *ctx, const lm_ident *ident, char *key,
                         size_t keysz) {
    (void)ctx;
    if (!ident->tag[0])
        return -1;
    snprintf(key, keysz, "lm:{%s}:person", ident->tag);
    return 0;
}

static lm_worker claim_worker = {.name = "intake", .claim_key = tag_claim_key};

static void claims_on(void) {
    rt.w = &claim_worker;
    rt.claims = 1;
    for (int i = 0; i < 2; i++) {
        items[i].identified = items[i].state = RT_NEW;
        snprintf(items[i].ident.tag, sizeof(items[i].ident.tag), "p%d", i);
    }
}

Test(rt_out, a_claim_taken_is_the_items_with_its_holder_and_ttl, .init = setup,
     .fini = teardown) {
    claims_on();
    cr_assert_eq(lm_out_claim(&out[0], "p0-00000001", 5000), 0);
    cr_expect(items[0].claim_taken);
    cr_expect_str_eq(rt.recbuf.data + items[0].holder_off, "p0-00000001");
    cr_expect_eq(items[0].claim_ttl_ms, 5000);
    cr_expect_not(items[1].claim_taken);
    lm_buf_free(&rt.recbuf);
}

Test(rt_out, a_rejection_drops_the_claim_taken, .init = setup,
     .fini = teardown) {
    claims_on();
    cr_assert_eq(lm_out_claim(&out[0], "p0-00000001", 5000), 0);
    lm_out_reject(&out[0], "refused after deciding");
    cr_expect_not(items[0].claim_taken, "a dead letter takes no claim");
    cr_expect_eq(items[0].state, RT_REJECT);
    lm_buf_free(&rt.recbuf);
}

Test(rt_out, a_claim_that_cannot_be_named_fails_its_item_alone, .init = setup,
     .fini = teardown) {
    claims_on();
    items[1].ident.tag[0] = '\0'; /* the worker names no key for it */
    cr_expect_eq(lm_out_claim(&out[1], "p1-00000001", 5000), -1);
    cr_expect(lm_out_failed(&out[1]), "the item is dead-lettered");
    cr_expect_not(items[1].claim_taken);
    cr_expect_eq(lm_out_claim(&out[0], "p0-00000001", 5000), 0,
                 "the other item is not touched");
    rt.claims = 0; /* a Redis Cluster, or a worker without claim_key */
    cr_expect_eq(lm_out_claim(&out[0], "p0-00000001", 5000), -1);
    lm_buf_free(&rt.recbuf);
}
