/* test_pipe.c — lm_pipe formats commands as RESP without a server, and
 * the *_strs form refuses a list longer than LM_PIPE_ARGS_MAX instead of
 * cutting the command short (it used to drop the rest silently); a plan
 * watches the keys it is given (lm_plan_watch). */
#include "lm_out.h"
#include "lm_redis.h"

#include <criterion/criterion.h>
#include <string.h>

Test(pipe, formats_resp) {
    lm_pipe p = {0};
    cr_assert_eq(lm_pipe_cmd_strs(&p, "SET", "k", "v", NULL), 0);
    const char want[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    cr_expect_eq(p.n, 1);
    cr_expect_eq(p.buf.len, sizeof(want) - 1);
    cr_expect(memcmp(p.buf.data, want, sizeof(want) - 1) == 0);
    lm_pipe_free(&p);
}

/* lm_pipe_cmd_strs with n copies of "x" after "DEL" (n <= 70) */
static int del_n(lm_pipe *p, int n) {
    const char *a[71];
    for (int i = 0; i < 71; i++)
        a[i] = i < n ? "x" : NULL;
    return lm_pipe_cmd_strs(
        p, "DEL", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9],
        a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19],
        a[20], a[21], a[22], a[23], a[24], a[25], a[26], a[27], a[28], a[29],
        a[30], a[31], a[32], a[33], a[34], a[35], a[36], a[37], a[38], a[39],
        a[40], a[41], a[42], a[43], a[44], a[45], a[46], a[47], a[48], a[49],
        a[50], a[51], a[52], a[53], a[54], a[55], a[56], a[57], a[58], a[59],
        a[60], a[61], a[62], a[63], a[64], a[65], a[66], a[67], a[68], a[69],
        a[70], NULL);
}

Test(pipe, too_many_strs_is_an_error_not_a_shorter_command) {
    lm_pipe p = {0};
    cr_expect_eq(del_n(&p, LM_PIPE_ARGS_MAX - 1), 0, "64 arguments fit");
    size_t len = p.buf.len;
    cr_expect_eq(del_n(&p, LM_PIPE_ARGS_MAX), -1, "65 arguments");
    cr_expect_eq(p.n, 1, "the refused command was appended");
    cr_expect_eq(p.buf.len, len, "the refused command left bytes behind");
    lm_pipe_free(&p);
}

/* lm_plan_watch: one WATCH of the keys among the plan's commands (its
 * reply takes its place); no keys, no command. What it guards (a batch
 * decided again when a watched key changed before its EXEC) is shown on
 * the stack by tests/stack/test_routing.c, which fails without it. */
Test(pipe, a_plan_watches_its_keys) {
    lm_pipe p = {0};
    lm_plan plan = {.pipe = &p};
    const char *keys[] = {"k1", "k2"};
    cr_assert_eq(lm_plan_watch(&plan, 0, NULL), 0);
    cr_expect_eq(p.n, 0, "no keys, no WATCH");
    cr_assert_eq(lm_plan_watch(&plan, 2, keys), 0);
    const char want[] = "*3\r\n$5\r\nWATCH\r\n$2\r\nk1\r\n$2\r\nk2\r\n";
    cr_expect_eq(p.n, 1);
    cr_expect_eq(p.buf.len, sizeof(want) - 1);
    cr_expect(memcmp(p.buf.data, want, sizeof(want) - 1) == 0);
    lm_pipe_free(&p);
}
