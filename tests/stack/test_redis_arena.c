/* test_redis_arena.c — lm_redis_exec_in: replies built in the caller's
 * arena (issue 16) are the same as lm_redis_exec's, of every kind and
 * depth; the connection's reader gets hiredis's own functions back (a
 * plain exec after it is freed by freeReplyObject); a connection lost in
 * the middle of the replies is dropped and re-dialled; a cluster is
 * refused. Against a real redis-server (one, whatever
 * LASTMILE_TEST_REDIS says). */
#include "stack_fixture.h"

#include "lm_arena.h"
#include "lm_redis.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

/* 1 when a and b are the same reply, recursively. */
static int same_reply(const redisReply *a, const redisReply *b) {
    if (!a || !b || a->type != b->type)
        return 0;
    switch (a->type) {
    case REDIS_REPLY_INTEGER:
        return a->integer == b->integer;
    case REDIS_REPLY_NIL:
        return 1;
    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements)
            return 0;
        for (size_t i = 0; i < a->elements; i++)
            if (!same_reply(a->element[i], b->element[i]))
                return 0;
        return 1;
    default: /* string, status, error */
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0 &&
               a->str[a->len] == '\0';
    }
}

enum { N_CMDS = 12 };

/* Every kind of reply, nested ones and one larger than an arena chunk;
 * the same answers every time it is sent after the first. */
static void fill(lm_pipe *p, const char *big) {
    lm_pipe_cmd_strs(p, "SET", "k", "v", NULL);   /* status */
    lm_pipe_cmd_strs(p, "GET", "k", NULL);        /* string */
    lm_pipe_cmd_strs(p, "GET", "missing", NULL);  /* nil */
    lm_pipe_cmd_strs(p, "LPUSH", "k", "x", NULL); /* error */
    lm_pipe_cmd_strs(p, "HSET", "h", "f1", "v1", "f2", "", NULL);
    lm_pipe_cmd_strs(p, "HGETALL", "h", NULL);              /* array */
    lm_pipe_cmd_strs(p, "MGET", "k", "missing", "h", NULL); /* with nil */
    lm_pipe_cmd_strs(p, "MULTI", NULL);
    lm_pipe_cmd_strs(p, "GET", "k", NULL); /* QUEUED */
    lm_pipe_cmd_strs(p, "EXEC", NULL);     /* array in an array */
    lm_pipe_cmd_strs(p, "EVAL", "return {1, {2, 'x', {}}, false, 'y'}", "0",
                     NULL); /* nested, empty, nil */
    const char *argv[3] = {"SET", "big", big};
    lm_pipe_cmd(p, 3, argv, NULL);
}

Test(redis_arena, replies_as_hiredis_builds_them, .fini = teardown,
     .timeout = 120) {
    cr_assert_eq(fixture_up_on(&fx, 1, 0, 0), 0);
    char err[512];
    lm_redis *r = lm_redis_new(fx.st.redis_url, 2000, err, sizeof(err));
    cr_assert(r, "%s", err);
    size_t bign = 200 * 1024; /* past the arena's first chunk */
    char *big = malloc(bign + 1);
    memset(big, 'b', bign);
    big[bign] = '\0';
    lm_pipe p = {0};
    fill(&p, big);
    lm_pipe_cmd_strs(&p, "GET", "big", NULL);
    cr_assert_eq(p.n, N_CMDS + 1);

    redisReply *plain[N_CMDS + 1], *in[N_CMDS + 1];
    lm_arena a = {0};
    cr_assert_eq(lm_redis_exec(r, &p, plain, err, sizeof(err)), 0, "%s", err);
    lm_redis_replies_free(plain, p.n); /* the first: HSET creates */
    cr_assert_eq(lm_redis_exec(r, &p, plain, err, sizeof(err)), 0, "%s", err);
    for (int round = 0; round < 3; round++) { /* the arena reused */
        lm_arena_reset(&a);
        cr_assert_eq(lm_redis_exec_in(r, &p, in, &a, err, sizeof(err)), 0, "%s",
                     err);
        for (size_t i = 0; i < p.n; i++)
            cr_expect(same_reply(plain[i], in[i]), "reply %zu differs", i);
        cr_expect_eq(in[3]->type, REDIS_REPLY_ERROR);
        cr_expect_eq(in[2]->type, REDIS_REPLY_NIL);
        cr_expect_eq(in[10]->type, REDIS_REPLY_ARRAY);
        cr_expect_eq(in[12]->len, bign);
        cr_expect_geq(lm_arena_held(&a), bign);
    }
    lm_redis_replies_free(plain, p.n);

    /* the reader has hiredis's functions again: these replies are
       malloc'd, and freeReplyObject frees them (ASan: no bad free) */
    cr_assert_eq(lm_redis_exec(r, &p, plain, err, sizeof(err)), 0, "%s", err);
    cr_expect(same_reply(plain[12], in[12]));
    lm_redis_replies_free(plain, p.n);

    lm_pipe_free(&p);
    lm_arena_free(&a);
    free(big);
    lm_redis_destroy(r);
}

Test(redis_arena, a_connection_lost_mid_replies_is_dropped, .fini = teardown,
     .timeout = 120) {
    cr_assert_eq(fixture_up_on(&fx, 1, 0, 0), 0);
    char err[512];
    lm_redis *r = lm_redis_new(fx.st.redis_url, 2000, err, sizeof(err));
    cr_assert(r, "%s", err);
    lm_pipe p = {0};
    /* the server answers the first two, then closes the connection: the
       third reply never comes */
    lm_pipe_cmd_strs(&p, "SET", "k", "v", NULL);
    lm_pipe_cmd_strs(&p, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no",
                     NULL);
    lm_pipe_cmd_strs(&p, "GET", "k", NULL);
    redisReply *rep[3];
    lm_arena a = {0};
    cr_expect_eq(lm_redis_exec_in(r, &p, rep, &a, err, sizeof(err)),
                 LM_REDIS_RETRY);
    for (int i = 0; i < 3; i++)
        cr_expect_null(rep[i]);
    cr_expect_eq(lm_redis_connected(r), 0);
    lm_arena_reset(&a);
    usleep(300 * 1000); /* past the reconnect backoff */
    lm_pipe_reset(&p);
    lm_pipe_cmd_strs(&p, "GET", "k", NULL);
    cr_assert_eq(lm_redis_exec_in(r, &p, rep, &a, err, sizeof(err)), 0, "%s",
                 err);
    cr_expect_str_eq(rep[0]->str, "v");
    lm_pipe_free(&p);
    lm_arena_free(&a);
    lm_redis_destroy(r);
}

Test(redis_arena, a_cluster_is_refused) {
    char err[512];
    lm_redis *r =
        lm_redis_new("redis+cluster://127.0.0.1:1", 500, err, sizeof(err));
    cr_assert(r, "%s", err);
    lm_pipe p = {0};
    lm_pipe_cmd_strs(&p, "GET", "k", NULL);
    redisReply *rep[1];
    lm_arena a = {0};
    cr_expect_eq(lm_redis_exec_in(r, &p, rep, &a, err, sizeof(err)), -1);
    cr_expect(strstr(err, "cluster"), "%s", err);
    lm_pipe_free(&p);
    lm_redis_destroy(r);
}
