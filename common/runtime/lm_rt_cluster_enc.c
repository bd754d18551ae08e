/* lm_rt_cluster_enc.c — the pure parts of a batch on a Redis Cluster:
 * RESP read back into commands, hash tags, and the EVALSHA of the unit and
 * side scripts, a master's replicas read from its ROLE (see
 * lm_rt_cluster.h). No state; nothing allocated but
 * into the caller's lm_pipe. */
#include "lm_rt_cluster.h"

#include "lm_fmt.h"

#include <string.h>
#include <strings.h>

/* Every guard absent, or refused whole; then each command under pcall,
 * its reply (or error) in place. */
const char LM_RTC_UNIT_LUA[] =
    "local g = tonumber(ARGV[1]) "
    "for i = 1, g do "
    "if redis.call('EXISTS', KEYS[i]) == 1 then "
    "return redis.error_reply('" LM_RTC_REFUSED " ' .. KEYS[i]) end end "
    "local out, a = {}, 2 "
    "while a <= #ARGV do "
    "local n = tonumber(ARGV[a]) "
    "out[#out + 1] = redis.pcall(unpack(ARGV, a + 1, a + n)) "
    "a = a + n + 1 end "
    "return out";

/* The marker first (NX): the commands run once per marker's TTL. */
const char LM_RTC_SIDE_LUA[] =
    "if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then "
    "return 0 end "
    "local bad, first, a = 0, '', 2 "
    "while a <= #ARGV do "
    "local n = tonumber(ARGV[a]) "
    "local r = redis.pcall(unpack(ARGV, a + 1, a + n)) "
    "if type(r) == 'table' and r.err then bad = bad + 1 "
    "if first == '' then first = r.err end end "
    "a = a + n + 1 end "
    "return {1, bad, first}";

/* A decimal number ended by "\r\n" at buf[*at..len): 0 / -1. */
static int resp_num(const char *buf, size_t len, size_t *at, size_t *out) {
    size_t v = 0, i = *at, digits = 0;
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && digits < 12) {
        v = v * 10 + (size_t)(buf[i] - '0');
        i++;
        digits++;
    }
    if (digits == 0 || i + 1 >= len || buf[i] != '\r' || buf[i + 1] != '\n')
        return -1;
    *at = i + 2;
    *out = v;
    return 0;
}

int lm_rtc_next(const char *buf, size_t len, lm_rtc_cmd *c) {
    size_t at = 1, argc = 0;
    c->argc = c->len = 0;
    if (len < 4 || buf[0] != '*' || resp_num(buf, len, &at, &argc) != 0 ||
        argc == 0 || argc > LM_RTC_ARGS_MAX)
        return -1;
    for (size_t i = 0; i < argc; i++) {
        size_t n = 0;
        if (at >= len || buf[at] != '$')
            return -1;
        at++;
        if (resp_num(buf, len, &at, &n) != 0 || n > len - at ||
            len - at - n < 2 || buf[at + n] != '\r' || buf[at + n + 1] != '\n')
            return -1;
        c->args[i].s = buf + at;
        c->args[i].len = n;
        at += n + 2;
    }
    c->argc = argc;
    c->len = at;
    return 0;
}

void lm_rtc_tag(const char *key, size_t len, const char **tag, size_t *tlen) {
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) {
            *tag = open + 1;
            *tlen = (size_t)(close - open - 1);
            return;
        }
    }
    *tag = key;
    *tlen = len;
}

int lm_rtc_is_script(const lm_rtc_cmd *c) {
    static const char *const names[] = {"EVAL",       "EVALSHA", "EVAL_RO",
                                        "EVALSHA_RO", "FCALL",   "FCALL_RO"};
    if (c->argc == 0)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (c->args[0].len == strlen(names[i]) &&
            strncasecmp(c->args[0].s, names[i], c->args[0].len) == 0)
            return 1;
    return 0;
}

int lm_rtc_cmd_slot(const lm_rtc_cmd *c) {
    size_t first = 0, end = 0, step = 1;
    lm_rcluster_key_span(c->args, c->argc, &first, &end, &step);
    if (end <= first || first >= c->argc)
        return -1;
    return (int)lm_rcluster_slot(c->args[first].s, c->args[first].len);
}

/* Walks cmds: counts their keys and arguments (pass 0), or appends their
 * keys (pass 1) or their argument counts and arguments (pass 2). 0 / -1. */
static int walk(lm_pipe *out, int pass, const char *cmds, size_t cmds_len,
                size_t n_cmds, size_t *n_keys, size_t *n_args) {
    lm_rtc_cmd c;
    size_t at = 0;
    for (size_t k = 0; k < n_cmds; k++) {
        if (lm_rtc_next(cmds + at, cmds_len - at, &c) != 0)
            return -1;
        size_t first = 0, end = 0, step = 1;
        lm_rcluster_key_span(c.args, c.argc, &first, &end, &step);
        for (size_t i = first; i < end && i < c.argc; i += step) {
            if (pass == 0)
                (*n_keys)++;
            else if (pass == 1 &&
                     lm_pipe_arg(out, c.args[i].s, c.args[i].len) != 0)
                return -1;
        }
        if (pass == 0)
            *n_args += 1 + c.argc;
        if (pass == 2) {
            char num[LM_FMT_I64_MAX];
            size_t nl = lm_fmt_i64(num, (int64_t)c.argc);
            if (lm_pipe_arg(out, num, nl) != 0)
                return -1;
            for (size_t i = 0; i < c.argc; i++)
                if (lm_pipe_arg(out, c.args[i].s, c.args[i].len) != 0)
                    return -1;
        }
        at += c.len;
    }
    return 0;
}

int lm_rtc_pipe_script(lm_pipe *out, const char *sha,
                       const lm_rcluster_arg *lead_keys, size_t n_lead_keys,
                       const lm_rcluster_arg *lead_args, size_t n_lead_args,
                       const char *cmds, size_t cmds_len, size_t n_cmds) {
    size_t n_keys = n_lead_keys, n_args = n_lead_args;
    if (walk(out, 0, cmds, cmds_len, n_cmds, &n_keys, &n_args) != 0)
        return -1;
    char nk[LM_FMT_I64_MAX];
    size_t nkl = lm_fmt_i64(nk, (int64_t)n_keys);
    if (lm_pipe_begin(out, 3 + n_keys + n_args) != 0 ||
        lm_pipe_arg(out, "EVALSHA", 7) != 0 ||
        lm_pipe_arg(out, sha, strlen(sha)) != 0 ||
        lm_pipe_arg(out, nk, nkl) != 0)
        return -1;
    for (size_t i = 0; i < n_lead_keys; i++)
        if (lm_pipe_arg(out, lead_keys[i].s, lead_keys[i].len) != 0)
            return -1;
    if (walk(out, 1, cmds, cmds_len, n_cmds, NULL, NULL) != 0)
        return -1;
    for (size_t i = 0; i < n_lead_args; i++)
        if (lm_pipe_arg(out, lead_args[i].s, lead_args[i].len) != 0)
            return -1;
    if (walk(out, 2, cmds, cmds_len, n_cmds, NULL, NULL) != 0)
        return -1;
    lm_pipe_end(out);
    return 0;
}

int lm_rtc_role_replicas(const redisReply *r) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "master") != 0 ||
        r->element[2]->type != REDIS_REPLY_ARRAY)
        return -1;
    return (int)r->element[2]->elements;
}

int lm_rtc_wait_target(int want, int online) {
    return online >= 0 && online < want ? online : want;
}
