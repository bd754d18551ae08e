/* test_rt_cluster.c — the pure parts of a batch on a Redis Cluster
 * (lm_rt_cluster.h): RESP read back into commands, hash tags, a command's
 * slot, the EVALSHA of a unit / side script (keys declared, commands as
 * argument count + arguments), and a plan's WATCH turned into a PING on a
 * cluster. No server. */
#include "lm_out.h"
#include "lm_rt_cluster.h"

#include <criterion/criterion.h>
#include <string.h>

static int arg_is(const lm_rcluster_arg *a, const char *s) {
    return a->len == strlen(s) && memcmp(a->s, s, a->len) == 0;
}

Test(rt_cluster, reads_commands_back_out_of_resp) {
    lm_pipe p = {0};
    cr_assert_eq(lm_pipe_cmd_strs(&p, "HSET", "lm:{p1}:lead", "f", "v", NULL),
                 0);
    cr_assert_eq(lm_pipe_cmd_strs(&p, "PING", NULL), 0);
    lm_rtc_cmd c;
    cr_assert_eq(lm_rtc_next(p.buf.data, p.buf.len, &c), 0);
    cr_expect_eq(c.argc, 4);
    cr_expect(arg_is(&c.args[1], "lm:{p1}:lead"));
    cr_expect(arg_is(&c.args[3], "v"));
    cr_assert_lt(c.len, p.buf.len);
    lm_rtc_cmd d;
    cr_assert_eq(lm_rtc_next(p.buf.data + c.len, p.buf.len - c.len, &d), 0);
    cr_expect_eq(d.argc, 1);
    cr_expect_eq(c.len + d.len, p.buf.len);
    /* truncated anywhere: refused, never read past the end */
    for (size_t cut = 0; cut < c.len; cut++)
        cr_expect_eq(lm_rtc_next(p.buf.data, cut, &d), -1, "cut at %zu", cut);
    cr_expect_eq(lm_rtc_next("$3\r\nfoo\r\n", 9, &d), -1);
    lm_pipe_free(&p);
}

Test(rt_cluster, tags_are_what_the_slot_is_computed_from) {
    const char *t = NULL;
    size_t n = 0;
    lm_rtc_tag("lm:{p1}:done:x", 14, &t, &n);
    cr_expect_eq(n, 2);
    cr_expect(memcmp(t, "p1", 2) == 0);
    lm_rtc_tag("lm:{}:x", 7, &t, &n); /* an empty tag: the whole key */
    cr_expect_eq(n, 7);
    lm_rtc_tag("plain", 5, &t, &n);
    cr_expect_eq(n, 5);
    /* the marker's key made from a tag is in the tag's slot */
    cr_expect_eq(lm_rcluster_slot("lm:{p1}:applied:w:id", 20),
                 lm_rcluster_slot("lm:{p1}:lead", 12));
}

Test(rt_cluster, slot_and_script_of_a_command) {
    lm_pipe p = {0};
    cr_assert_eq(
        lm_pipe_cmd_strs(&p, "EVAL", "return 0", "1", "{t}:a", "x", NULL), 0);
    lm_rtc_cmd c;
    cr_assert_eq(lm_rtc_next(p.buf.data, p.buf.len, &c), 0);
    cr_expect(lm_rtc_is_script(&c));
    cr_expect_eq(lm_rtc_cmd_slot(&c), (int)lm_rcluster_slot("t", 1));
    lm_pipe_reset(&p);
    cr_assert_eq(lm_pipe_cmd_strs(&p, "PING", NULL), 0);
    cr_assert_eq(lm_rtc_next(p.buf.data, p.buf.len, &c), 0);
    cr_expect(!lm_rtc_is_script(&c));
    cr_expect_eq(lm_rtc_cmd_slot(&c), -1, "a keyless command has no slot");
    lm_pipe_free(&p);
}

/* A unit: EVALSHA sha numkeys guard cmdkeys... | nguards (argc args)... */
Test(rt_cluster, unit_declares_every_key_and_encodes_each_command) {
    lm_pipe cmds = {0}, out = {0};
    cr_assert_eq(
        lm_pipe_cmd_strs(&cmds, "HSET", "lm:{p1}:lead", "a", "1", NULL), 0);
    cr_assert_eq(lm_pipe_cmd_strs(&cmds, "SET", "lm:{p1}:done:w:id", "ob", "PX",
                                  "1000", NULL),
                 0);
    char sha[41];
    memset(sha, 'a', 40);
    sha[40] = '\0';
    lm_rcluster_arg guard = {"lm:{p1}:done:w:id", 17};
    lm_rcluster_arg ng = {"1", 1};
    cr_assert_eq(lm_rtc_pipe_script(&out, sha, &guard, 1, &ng, 1, cmds.buf.data,
                                    cmds.buf.len, cmds.n),
                 0);
    cr_expect_eq(out.n, 1);
    lm_rtc_cmd c;
    cr_assert_eq(lm_rtc_next(out.buf.data, out.buf.len, &c), 0);
    cr_expect_eq(c.len, out.buf.len);
    const char *want[] = {"EVALSHA",
                          sha,
                          "3",
                          "lm:{p1}:done:w:id",
                          "lm:{p1}:lead",
                          "lm:{p1}:done:w:id",
                          "1",
                          "4",
                          "HSET",
                          "lm:{p1}:lead",
                          "a",
                          "1",
                          "5",
                          "SET",
                          "lm:{p1}:done:w:id",
                          "ob",
                          "PX",
                          "1000"};
    size_t nw = sizeof(want) / sizeof(want[0]);
    cr_assert_eq(c.argc, nw);
    for (size_t i = 0; i < nw; i++)
        cr_expect(arg_is(&c.args[i], want[i]), "argument %zu: want %s", i,
                  want[i]);
    /* the router sends it by its first key: the guard's slot */
    cr_expect_eq(lm_rtc_cmd_slot(&c),
                 (int)lm_rcluster_slot("lm:{p1}:lead", 12));
    /* a command that does not parse refuses the whole script */
    lm_pipe_reset(&out);
    cr_expect_eq(lm_rtc_pipe_script(&out, sha, &guard, 1, &ng, 1, cmds.buf.data,
                                    cmds.buf.len - 3, cmds.n),
                 -1);
    lm_pipe_free(&cmds);
    lm_pipe_free(&out);
}

Test(rt_cluster, scripts_check_their_guard_before_any_command) {
    const char *u = strstr(LM_RTC_UNIT_LUA, "EXISTS");
    const char *p = strstr(LM_RTC_UNIT_LUA, "pcall");
    cr_assert(u && p && u < p);
    const char *m = strstr(LM_RTC_SIDE_LUA, "'NX'");
    p = strstr(LM_RTC_SIDE_LUA, "pcall");
    cr_assert(m && p && m < p);
    cr_expect(strstr(LM_RTC_UNIT_LUA, LM_RTC_REFUSED) != NULL);
}

Test(rt_cluster, a_plan_on_a_cluster_pings_instead_of_watching) {
    lm_pipe p = {0};
    const char *keys[] = {"lm:{team:a}:open", "lm:{team:b}:open"};
    lm_plan single = {.pipe = &p};
    cr_assert_eq(lm_plan_watch(&single, 2, keys), 0);
    lm_plan cluster = {.pipe = &p, .no_watch = 1};
    cr_assert_eq(lm_plan_watch(&cluster, 2, keys), 0);
    cr_expect_eq(p.n, 2, "one reply each, in place");
    lm_rtc_cmd c;
    cr_assert_eq(lm_rtc_next(p.buf.data, p.buf.len, &c), 0);
    cr_expect(arg_is(&c.args[0], "WATCH"));
    cr_expect_eq(c.argc, 3);
    cr_assert_eq(lm_rtc_next(p.buf.data + c.len, p.buf.len - c.len, &c), 0);
    cr_expect(arg_is(&c.args[0], "PING"));
    cr_expect_eq(c.argc, 1);
    lm_pipe_free(&p);
}

/* A reply of `type`: a string, or an array of n elements. */
static redisReply rep_of(int type, const char *str, redisReply **el, size_t n) {
    redisReply r = {0};
    r.type = type;
    r.str = (char *)str;
    r.len = str ? strlen(str) : 0;
    r.element = el;
    r.elements = n;
    return r;
}

Test(rt_cluster, role_counts_a_masters_online_replicas) {
    redisReply master = rep_of(REDIS_REPLY_STRING, "master", NULL, 0);
    redisReply slave = rep_of(REDIS_REPLY_STRING, "slave", NULL, 0);
    redisReply offset = {.type = REDIS_REPLY_INTEGER, .integer = 42};
    redisReply one = rep_of(REDIS_REPLY_ARRAY, NULL, NULL, 0);
    redisReply *one_el[] = {&one};
    redisReply listed = rep_of(REDIS_REPLY_ARRAY, NULL, one_el, 1);
    redisReply none = rep_of(REDIS_REPLY_ARRAY, NULL, NULL, 0);
    redisReply *m1[] = {&master, &offset, &listed};
    redisReply *m0[] = {&master, &offset, &none};
    redisReply *s1[] = {&slave, &offset, &listed};
    redisReply r1 = rep_of(REDIS_REPLY_ARRAY, NULL, m1, 3);
    redisReply r0 = rep_of(REDIS_REPLY_ARRAY, NULL, m0, 3);
    redisReply rs = rep_of(REDIS_REPLY_ARRAY, NULL, s1, 3);
    redisReply err = rep_of(REDIS_REPLY_ERROR, "ERR no", NULL, 0);
    cr_expect_eq(lm_rtc_role_replicas(&r1), 1);
    cr_expect_eq(lm_rtc_role_replicas(&r0), 0, "a promoted master, alone");
    cr_expect_eq(lm_rtc_role_replicas(&rs), -1, "not a master");
    cr_expect_eq(lm_rtc_role_replicas(&err), -1);
    cr_expect_eq(lm_rtc_role_replicas(NULL), -1);
}

Test(rt_cluster, wait_is_capped_at_the_replicas_online) {
    cr_expect_eq(lm_rtc_wait_target(1, -1), 1, "not known yet: as asked");
    cr_expect_eq(lm_rtc_wait_target(1, 0), 0, "its replica lost: no WAIT");
    cr_expect_eq(lm_rtc_wait_target(2, 1), 1, "one of two");
    cr_expect_eq(lm_rtc_wait_target(1, 2), 1, "never more than asked");
    cr_expect_eq(lm_rtc_wait_target(0, 3), 0);
}
