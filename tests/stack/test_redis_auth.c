/* test_redis_auth.c — lm_redis honours Redis AUTH and ACL users, reloads
 * its scripts after a reconnect, and says clearly when credentials are
 * wrong (without printing the password). Against a real redis-server. */
#include "stack_fixture.h"

#include "lm_redis.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

static void run(lm_redis *r, const char *a0, const char *a1, const char *a2,
                const char *a3, const char *a4) {
    lm_pipe p = {0};
    const char *argv[5] = {a0, a1, a2, a3, a4};
    int argc = 0;
    while (argc < 5 && argv[argc])
        argc++;
    lm_pipe_cmd(&p, argc, argv, NULL);
    redisReply *rep[1];
    char err[256];
    cr_assert_eq(lm_redis_exec(r, &p, rep, err, sizeof(err)), 0, "%s", err);
    cr_assert_neq(rep[0]->type, REDIS_REPLY_ERROR, "%s", rep[0]->str);
    lm_redis_replies_free(rep, 1);
    lm_pipe_free(&p);
}

Test(redis, auth_and_acl_users, .fini = teardown, .timeout = 60) {
    cr_assert_eq(fixture_up(&fx, 1, 0), 0);
    char err[512], url[256];
    lm_redis *admin = lm_redis_new(fx.st.redis_url, 2000, err, sizeof(err));
    cr_assert(admin, "%s", err);
    run(admin, "ACL", "SETUSER", "worker", "on", ">w-secret");
    run(admin, "ACL", "SETUSER", "worker", "+@all", "~*");
    run(admin, "CONFIG", "SET", "requirepass", "top-secret", NULL);
    lm_redis_destroy(admin);

    /* the default user with its password */
    snprintf(url, sizeof(url), "redis://:top-secret@127.0.0.1:%d/0",
             fx.st.redis_port);
    lm_redis *r = lm_redis_new(url, 2000, err, sizeof(err));
    cr_assert_eq(lm_redis_connect(r, err, sizeof(err)), 0, "%s", err);
    run(r, "SET", "k", "v", NULL, NULL);
    lm_redis_destroy(r);

    /* an ACL user, database 1, with a script to load */
    snprintf(url, sizeof(url), "redis://worker:w-secret@127.0.0.1:%d/1",
             fx.st.redis_port);
    r = lm_redis_new(url, 2000, err, sizeof(err));
    lm_script s = {.lua = "return 7", .sha = ""};
    lm_redis_add_script(r, &s);
    cr_assert_eq(lm_redis_connect(r, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(strlen(s.sha), 40);
    lm_pipe p = {0};
    lm_pipe_script(&p, &s, 0, 0, NULL, NULL);
    redisReply *rep[1];
    cr_assert_eq(lm_redis_exec(r, &p, rep, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(rep[0]->integer, 7);
    lm_redis_replies_free(rep, 1);
    /* a dropped connection reconnects and reloads the script */
    lm_redis_disconnect(r);
    usleep(300 * 1000); /* past the reconnect backoff */
    cr_assert_eq(lm_redis_exec(r, &p, rep, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(rep[0]->integer, 7);
    lm_redis_replies_free(rep, 1);
    lm_pipe_free(&p);
    lm_redis_destroy(r);

    /* wrong password: refused for good, with a clear message, no secret */
    snprintf(url, sizeof(url), "redis://worker:nope-wrong@127.0.0.1:%d/0",
             fx.st.redis_port);
    r = lm_redis_new(url, 2000, err, sizeof(err));
    int rc = lm_redis_connect(r, err, sizeof(err));
    cr_expect_eq(rc, -1, "a wrong password must not be retried forever");
    cr_expect(strstr(err, "AUTH"), "%s", err);
    cr_expect(!strstr(err, "nope-wrong"), "the password leaked: %s", err);
    lm_redis_destroy(r);
}
