/* lm_redis.c — pipelines and scripts over one hiredis connection
 * (see lm_redis.h).
 *
 * Commands are formatted by us into one buffer (RESP arrays of bulk
 * strings) and handed to hiredis in a single append, so a pipeline of a
 * thousand commands costs one allocation-free format pass and one write.
 * lm_redis_exec_in reads the replies into the caller's arena (hiredis's
 * reader with our redisReplyObjectFunctions for that call only). */
#include "lm_redis.h"

#include "lm_clock.h"
#include "lm_redis_cluster.h"
#include "lm_env.h"
#include "lm_fmt.h"
#include "lm_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct lm_redis {
    lm_redis_url url;
    int timeout_ms;
    redisContext *c;
    lm_script *scripts[LM_REDIS_SCRIPTS_MAX];
    int n_scripts;
    int64_t next_attempt_ms; /* monotonic; backoff gate for reconnects */
    int backoff_ms;
    uint64_t roundtrips;
    double last_rtt_ms;
    lm_rcluster *cl; /* redis+cluster://: every call below routes there */
    int masters[LM_RCL_NODES_MAX]; /* cluster: lm_redis_masters' node ids */
    int n_masters;
};

/* ------------------------------------------------------------------ URL */

static int url_fail(char *err, size_t errsz, const char *what) {
    snprintf(err, errsz,
             "LASTMILE_REDIS_URL: %s (example: "
             "LASTMILE_REDIS_URL=redis://:password@redis:6379/0 or "
             "unix:///run/redis/redis.sock)",
             what);
    return -1;
}

static int copy_part(char *dst, size_t dstsz, const char *src, size_t n) {
    if (n >= dstsz)
        return -1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

/* host[:port] or [ipv6][:port] in p[0..n): host and port (default kept). */
static int parse_hostport(const char *p, size_t n, char *host, size_t hostsz,
                          int *port, char *err, size_t errsz) {
    const char *hp_end = p + n;
    const char *host_end = hp_end;
    if (*p == '[') { /* [ipv6]:port */
        const char *rb = memchr(p, ']', n);
        if (!rb)
            return url_fail(err, errsz, "an IPv6 host needs a closing ']'");
        if (copy_part(host, hostsz, p + 1, (size_t)(rb - p - 1)) != 0)
            return url_fail(err, errsz, "the host is too long");
        host_end = rb + 1;
    } else {
        const char *colon = memchr(p, ':', n);
        host_end = colon ? colon : hp_end;
        if (copy_part(host, hostsz, p, (size_t)(host_end - p)) != 0)
            return url_fail(err, errsz, "the host is too long");
    }
    if (!host[0])
        return url_fail(err, errsz, "the host is missing");
    if (host_end < hp_end) {
        if (*host_end != ':')
            return url_fail(err, errsz, "expected ':' before the port");
        char digits[16];
        int64_t v;
        if (copy_part(digits, sizeof(digits), host_end + 1,
                      (size_t)(hp_end - host_end - 1)) != 0 ||
            lm_parse_int64(digits, 1, 65535, &v) != 0)
            return url_fail(err, errsz, "the port is not a number 1-65535");
        *port = (int)v;
    }
    return 0;
}

/* The seed list host:port[,host:port...] of a cluster URL, p[0..n). */
static int parse_seeds(const char *p, size_t n, lm_redis_url *out, char *err,
                       size_t errsz) {
    const char *end = p + n;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *seg_end = comma ? comma : end;
        if (out->n_seeds == LM_REDIS_SEEDS_MAX)
            return url_fail(err, errsz, "more than 16 seed nodes");
        lm_redis_seed *sd = &out->seeds[out->n_seeds];
        sd->port = 6379;
        if (seg_end == p)
            return url_fail(err, errsz,
                            "a cluster URL needs host:port seed nodes "
                            "separated by ',' (redis+cluster://h1:7000,"
                            "h2:7001)");
        if (parse_hostport(p, (size_t)(seg_end - p), sd->host, sizeof(sd->host),
                           &sd->port, err, errsz) != 0)
            return -1;
        out->n_seeds++;
        if (!comma)
            break;
        p = comma + 1;
    }
    memcpy(out->host, out->seeds[0].host, sizeof(out->host));
    out->port = out->seeds[0].port;
    return 0;
}

int lm_redis_url_parse(const char *url, lm_redis_url *out, char *err,
                       size_t errsz) {
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (!url || !*url)
        return url_fail(err, errsz, "is empty");
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        const char *q = strchr(path, '?');
        size_t plen = q ? (size_t)(q - path) : strlen(path);
        if (plen == 0 || path[0] != '/')
            return url_fail(err, errsz,
                            "a unix URL needs an absolute socket path");
        if (copy_part(out->path, sizeof(out->path), path, plen) != 0)
            return url_fail(err, errsz, "the socket path is too long");
        out->is_unix = 1;
        if (q) {
            int64_t db;
            if (strncmp(q, "?db=", 4) != 0 ||
                lm_parse_int64(q + 4, 0, 15, &db) != 0)
                return url_fail(err, errsz,
                                "after the socket path only ?db=N (0-15) "
                                "is understood");
            out->db = (int)db;
        }
        return 0;
    }
    if (strncmp(url, "rediss://", 9) == 0)
        return url_fail(err, errsz,
                        "TLS (rediss://) is not supported by this build; use "
                        "redis:// inside a trusted network or a TLS sidecar");
    int cluster = strncmp(url, "redis+cluster://", 16) == 0;
    if (!cluster && strncmp(url, "redis://", 8) != 0)
        return url_fail(err, errsz, "must start with redis:// or unix://");
    const char *p = url + (cluster ? 16 : 8);
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (copy_part(out->user, sizeof(out->user), p,
                          (size_t)(colon - p)) != 0 ||
                copy_part(out->password, sizeof(out->password), colon + 1,
                          (size_t)(at - colon - 1)) != 0)
                return url_fail(err, errsz, "user or password is too long");
        } else if (copy_part(out->password, sizeof(out->password), p,
                             (size_t)(at - p)) != 0) {
            return url_fail(err, errsz, "password is too long");
        }
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hostport_len = slash ? (size_t)(slash - p) : strlen(p);
    if (cluster) {
        out->is_cluster = 1;
        if (slash && slash[1] && strcmp(slash + 1, "0") != 0)
            return url_fail(err, errsz,
                            "a cluster has only database 0: drop the '/N' "
                            "after the seed nodes");
        return parse_seeds(p, hostport_len, out, err, errsz);
    }
    if (parse_hostport(p, hostport_len, out->host, sizeof(out->host),
                       &out->port, err, errsz) != 0)
        return -1;
    if (slash && slash[1]) {
        int64_t db;
        if (lm_parse_int64(slash + 1, 0, 15, &db) != 0)
            return url_fail(err, errsz, "the database after '/' must be 0-15");
        out->db = (int)db;
    }
    return 0;
}

static void drop(lm_redis *r);

/* ------------------------------------------------------------- pipeline */

void lm_pipe_reset(lm_pipe *p) {
    lm_buf_reset(&p->buf);
    p->n = 0;
}

void lm_pipe_free(lm_pipe *p) {
    if (!p)
        return;
    lm_buf_free(&p->buf);
    p->n = 0;
}

/* "*<n>\r\n" or "$<n>\r\n" without printf: this runs for every argument
 * of every command on the hot path. */
static int pipe_header(lm_pipe *p, char kind, size_t n) {
    char head[32], digits[24];
    size_t d = 0, len = 0;
    do {
        digits[d++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    head[len++] = kind;
    while (d)
        head[len++] = digits[--d];
    head[len++] = '\r';
    head[len++] = '\n';
    return lm_buf_append(&p->buf, head, len) < 0 ? -1 : 0;
}

static int pipe_bulk(lm_pipe *p, const char *s, size_t len) {
    if (lm_buf_reserve(&p->buf, len + 32) != 0)
        return -1;
    char *d = p->buf.data + p->buf.len;
    char digits[24];
    size_t nd = 0, n = len, w = 0;
    do {
        digits[nd++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    d[w++] = '$';
    while (nd)
        d[w++] = digits[--nd];
    d[w++] = '\r';
    d[w++] = '\n';
    if (len)
        memcpy(d + w, s, len);
    w += len;
    d[w++] = '\r';
    d[w++] = '\n';
    p->buf.len += w;
    return 0;
}

int lm_pipe_begin(lm_pipe *p, size_t argc) {
    return pipe_header(p, '*', argc);
}

int lm_pipe_arg(lm_pipe *p, const void *data, size_t len) {
    return pipe_bulk(p, data, len);
}

void lm_pipe_end(lm_pipe *p) {
    p->n++;
}

int lm_pipe_cmd(lm_pipe *p, int argc, const char *const *argv,
                const size_t *lens) {
    size_t mark = p->buf.len;
    if (pipe_header(p, '*', (size_t)argc) != 0)
        goto fail;
    for (int i = 0; i < argc; i++)
        if (pipe_bulk(p, argv[i], lens ? lens[i] : strlen(argv[i])) != 0)
            goto fail;
    p->n++;
    return 0;
fail:
    p->buf.len = mark;
    return -1;
}

int lm_strs_collect(const char *arg0, va_list ap,
                    const char *argv[LM_PIPE_ARGS_MAX]) {
    int argc = 0;
    for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
        if (argc == LM_PIPE_ARGS_MAX)
            return -1;
        argv[argc++] = a;
    }
    return argc;
}

int lm_pipe_cmd_strs(lm_pipe *p, const char *arg0, ...) {
    const char *argv[LM_PIPE_ARGS_MAX];
    va_list ap;
    va_start(ap, arg0);
    int argc = lm_strs_collect(arg0, ap, argv);
    va_end(ap);
    return argc < 0 ? -1 : lm_pipe_cmd(p, argc, argv, NULL);
}

int lm_pipe_script(lm_pipe *p, const lm_script *s, int nkeys, int argc,
                   const char *const *argv, const size_t *lens) {
    size_t mark = p->buf.len;
    char nk[LM_FMT_I64_MAX];
    lm_fmt_i64(nk, nkeys);
    if (pipe_header(p, '*', (size_t)argc + 3) != 0 ||
        pipe_bulk(p, "EVALSHA", 7) != 0 || pipe_bulk(p, s->sha, 40) != 0 ||
        pipe_bulk(p, nk, strlen(nk)) != 0)
        goto fail;
    for (int i = 0; i < argc; i++)
        if (pipe_bulk(p, argv[i], lens ? lens[i] : strlen(argv[i])) != 0)
            goto fail;
    p->n++;
    return 0;
fail:
    p->buf.len = mark;
    return -1;
}

/* ----------------------------------------------------------- connection */

lm_redis *lm_redis_new(const char *url, int timeout_ms, char *err,
                       size_t errsz) {
    lm_redis *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (lm_redis_url_parse(url, &r->url, err, errsz) != 0) {
        lm_redis_destroy(r);
        return NULL;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    r->backoff_ms = LM_REDIS_BACKOFF_MIN_MS;
    if (r->url.is_cluster &&
        !(r->cl = lm_rcluster_new(&r->url, r->timeout_ms))) {
        snprintf(err, errsz, "out of memory");
        lm_redis_destroy(r);
        return NULL;
    }
    return r;
}

lm_redis *lm_redis_new_node(const lm_redis_url *base, const char *host,
                            int port, int timeout_ms) {
    lm_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    snprintf(r->url.host, sizeof(r->url.host), "%s", host);
    r->url.port = port;
    memcpy(r->url.user, base->user, sizeof(r->url.user));
    memcpy(r->url.password, base->password, sizeof(r->url.password));
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    r->backoff_ms = LM_REDIS_BACKOFF_MIN_MS;
    return r;
}

lm_rcluster *lm_redis_cluster_of(lm_redis *r) {
    return r->cl;
}

void lm_redis_destroy(lm_redis *r) {
    if (!r)
        return;
    if (r->c)
        redisFree(r->c);
    lm_rcluster_destroy(r->cl);
    memset(&r->url, 0, sizeof(r->url)); /* scrub the password */
    free(r);
}

int lm_redis_add_script(lm_redis *r, lm_script *s) {
    if (r->n_scripts >= LM_REDIS_SCRIPTS_MAX ||
        (r->cl && lm_rcluster_add_script(r->cl, s) != 0))
        return -1;
    r->scripts[r->n_scripts++] = s;
    return 0;
}

void lm_redis_disconnect(lm_redis *r) {
    if (r->cl)
        lm_rcluster_disconnect(r->cl);
    if (r->c)
        drop(r);
}

int lm_redis_connected(const lm_redis *r) {
    return r->cl ? lm_rcluster_connected(r->cl) : r->c != NULL;
}

uint64_t lm_redis_roundtrips(const lm_redis *r) {
    lm_rcluster_stats st;
    if (!r->cl)
        return r->roundtrips;
    lm_rcluster_get_stats(r->cl, &st);
    return st.roundtrips;
}

double lm_redis_last_rtt_ms(const lm_redis *r) {
    lm_rcluster_stats st;
    if (!r->cl)
        return r->last_rtt_ms;
    lm_rcluster_get_stats(r->cl, &st);
    return st.last_rtt_ms;
}

static void drop(lm_redis *r) {
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
    r->next_attempt_ms = lm_clock_mono_ms() + r->backoff_ms;
    r->backoff_ms = r->backoff_ms * 2 > LM_REDIS_BACKOFF_MAX_MS
                        ? LM_REDIS_BACKOFF_MAX_MS
                        : r->backoff_ms * 2;
}

/* Runs one command synchronously during connect. 0, RETRY or -1. */
static int setup_cmd(lm_redis *r, int argc, const char **argv, char *out_sha,
                     const char *what, char *err, size_t errsz) {
    redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
    if (!rep) {
        snprintf(err, errsz, "redis %s: %s", what,
                 r->c->errstr[0] ? r->c->errstr : "connection lost");
        drop(r);
        return LM_REDIS_RETRY;
    }
    int rc = 0;
    if (rep->type == REDIS_REPLY_ERROR) {
        /* LOADING: the server is replaying its AOF: come back later. */
        int loading = strncmp(rep->str, "LOADING", 7) == 0;
        snprintf(err, errsz, "redis %s refused: %s", what, rep->str);
        rc = loading ? LM_REDIS_RETRY : -1;
        drop(r);
    } else if (out_sha && rep->type == REDIS_REPLY_STRING && rep->len == 40) {
        memcpy(out_sha, rep->str, 40);
        out_sha[40] = '\0';
    }
    freeReplyObject(rep);
    return rc;
}

/* lastmile needs Redis 7.0 or newer (SET ... NX GET in intake's claim):
 * say so at connect instead of failing on every message later. */
static int check_version(lm_redis *r, char *err, size_t errsz) {
    redisReply *rep = redisCommand(r->c, "INFO server");
    if (!rep) {
        snprintf(err, errsz, "redis INFO: %s",
                 r->c->errstr[0] ? r->c->errstr : "connection lost");
        drop(r);
        return LM_REDIS_RETRY;
    }
    int rc = 0;
    const char *v = rep->type == REDIS_REPLY_STRING
                        ? strstr(rep->str, "redis_version:")
                        : NULL;
    if (v) {
        v += strlen("redis_version:");
        int major = atoi(v);
        if (major < LM_REDIS_MIN_MAJOR) {
            snprintf(err, errsz,
                     "the server runs Redis %.*s; lastmile needs Redis %d.0 "
                     "or newer (it uses SET ... NX GET): upgrade the server",
                     (int)strcspn(v, "\r\n"), v, LM_REDIS_MIN_MAJOR);
            rc = -1;
            drop(r);
        }
    } /* no INFO (renamed by the operator): go on, commands will tell */
    freeReplyObject(rep);
    return rc;
}

int lm_redis_connect(lm_redis *r, char *err, size_t errsz) {
    if (r->cl)
        return lm_rcluster_connect(r->cl, err, errsz);
    if (r->c)
        return 0;
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    r->c = r->url.is_unix
               ? redisConnectUnixWithTimeout(r->url.path, tv)
               : redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!r->c || r->c->err) {
        if (r->url.is_unix)
            snprintf(err, errsz, "redis connect unix://%s: %s", r->url.path,
                     r->c ? r->c->errstr : "out of memory");
        else
            snprintf(err, errsz, "redis connect %s:%d: %s", r->url.host,
                     r->url.port, r->c ? r->c->errstr : "out of memory");
        drop(r);
        return LM_REDIS_RETRY;
    }
    redisSetTimeout(r->c, tv);
    int rc;
    if (r->url.password[0]) {
        const char *argv[3] = {"AUTH", r->url.user, r->url.password};
        if (r->url.user[0])
            rc = setup_cmd(r, 3, argv, NULL, "AUTH", err, errsz);
        else {
            argv[1] = r->url.password;
            rc = setup_cmd(r, 2, argv, NULL, "AUTH", err, errsz);
        }
        if (rc != 0)
            return rc;
    }
    if ((rc = check_version(r, err, errsz)) != 0)
        return rc;
    if (r->url.db) {
        char db[8];
        snprintf(db, sizeof(db), "%d", r->url.db);
        const char *argv[2] = {"SELECT", db};
        if ((rc = setup_cmd(r, 2, argv, NULL, "SELECT", err, errsz)) != 0)
            return rc;
    }
    for (int i = 0; i < r->n_scripts; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", r->scripts[i]->lua};
        if ((rc = setup_cmd(r, 3, argv, r->scripts[i]->sha, "SCRIPT LOAD", err,
                            errsz)) != 0)
            return rc;
    }
    r->backoff_ms = LM_REDIS_BACKOFF_MIN_MS;
    return 0;
}

void lm_redis_replies_free(redisReply **replies, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (replies[i])
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

/* ---- replies in an arena (lm_redis_exec_in) ----
 * hiredis's reader builds each reply through a table of functions and
 * hands them its reader's privdata in every task; with this table and the
 * arena as privdata, a reply, its strings and its arrays are carved from
 * the arena, in the layout hiredis's own functions give (a string NUL
 * ended; an array's element vector zeroed, each child stored into its
 * parent's slot). freeObject does nothing: the arena's reset frees. */

static void *arena_reply(const redisReadTask *task, int type) {
    redisReply *r = lm_arena_calloc(task->privdata, sizeof(*r));
    if (!r)
        return NULL;
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}

static void *arena_string(const redisReadTask *task, char *str, size_t len) {
    char *buf = len < SIZE_MAX ? lm_arena_alloc(task->privdata, len + 1) : NULL;
    redisReply *r = buf ? arena_reply(task, task->type) : NULL;
    if (!r)
        return NULL;
    memcpy(buf, str, len);
    buf[len] = '\0';
    r->str = buf;
    r->len = len;
    return r;
}

static void *arena_array(const redisReadTask *task, int elements) {
    redisReply **el = NULL;
    if (elements > 0) {
        el = lm_arena_calloc(task->privdata, (size_t)elements * sizeof(*el));
        if (!el)
            return NULL;
    }
    redisReply *r = arena_reply(task, REDIS_REPLY_ARRAY);
    if (!r)
        return NULL;
    r->element = el;
    r->elements = elements > 0 ? (size_t)elements : 0;
    return r;
}

static void *arena_integer(const redisReadTask *task, long long value) {
    redisReply *r = arena_reply(task, REDIS_REPLY_INTEGER);
    if (r)
        r->integer = value;
    return r;
}

static void *arena_nil(const redisReadTask *task) {
    return arena_reply(task, REDIS_REPLY_NIL);
}

static void arena_free_object(void *reply) {
    (void)reply;
}

static redisReplyObjectFunctions arena_reply_fns = {
    arena_string, arena_array, arena_integer, arena_nil, arena_free_object};

/* One Redis: sends p and reads its replies, built by malloc (a NULL) or in
 * arena a. */
static int exec_single(lm_redis *r, const lm_pipe *p, redisReply **replies,
                       lm_arena *a, char *err, size_t errsz) {
    for (size_t i = 0; i < p->n; i++)
        replies[i] = NULL;
    if (!r->c) {
        if (lm_clock_mono_ms() < r->next_attempt_ms) {
            snprintf(err, errsz, "redis unreachable; retrying");
            return LM_REDIS_RETRY;
        }
        int rc = lm_redis_connect(r, err, errsz);
        if (rc != 0)
            return rc;
    }
    if (p->n == 0)
        return 0;
    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    /* straight to the socket: hiredis would copy the whole pipeline into
     * its output buffer first (and grow it page by page) */
    for (size_t off = 0; off < p->buf.len;) {
        ssize_t w = write(r->c->fd, p->buf.data + off, p->buf.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(r->c->errstr, sizeof(r->c->errstr), "write: %s",
                     w < 0 ? strerror(errno) : "connection closed");
            goto lost;
        }
        off += (size_t)w;
    }
    redisReader *rd = r->c->reader;
    redisReplyObjectFunctions *fn = rd->fn;
    void *privdata = rd->privdata;
    if (a) {
        rd->fn = &arena_reply_fns;
        rd->privdata = a;
    }
    for (size_t i = 0; i < p->n; i++) {
        void *rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK || !rep) {
            /* a reply half read is dropped with the reader (drop), by the
               table it was built with: the arena's frees nothing */
            if (a)
                memset(replies, 0, i * sizeof(*replies));
            else
                lm_redis_replies_free(replies, i);
            goto lost;
        }
        replies[i] = rep;
    }
    rd->fn = fn; /* every reply read whole: nothing of the arena's left */
    rd->privdata = privdata;
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    r->roundtrips++;
    r->last_rtt_ms = (double)(ts1.tv_sec - ts0.tv_sec) * 1e3 +
                     (double)(ts1.tv_nsec - ts0.tv_nsec) / 1e6;
    return 0;
lost:
    snprintf(err, errsz, "redis: %s",
             r->c->errstr[0] ? r->c->errstr : "connection lost");
    drop(r);
    return LM_REDIS_RETRY;
}

int lm_redis_exec(lm_redis *r, const lm_pipe *p, redisReply **replies,
                  char *err, size_t errsz) {
    if (r->cl)
        return lm_rcluster_exec(r->cl, p, replies, err, errsz);
    return exec_single(r, p, replies, NULL, err, errsz);
}

int lm_redis_exec_in(lm_redis *r, const lm_pipe *p, redisReply **replies,
                     lm_arena *a, char *err, size_t errsz) {
    if (r->cl) {
        snprintf(err, errsz,
                 "lm_redis_exec_in: replies in an arena are for one Redis, "
                 "not a cluster");
        return -1;
    }
    return exec_single(r, p, replies, a, err, errsz);
}

/* ------------------------------------------------ the whole keyspace */

int lm_redis_is_cluster(const lm_redis *r) {
    return r->cl != NULL;
}

int lm_redis_masters(lm_redis *r, char *err, size_t errsz) {
    if (!r->cl)
        return 1;
    int n =
        lm_rcluster_masters(r->cl, r->masters, LM_RCL_NODES_MAX, err, errsz);
    r->n_masters = n > 0 ? n : 0;
    return n;
}

int lm_redis_exec_on_master(lm_redis *r, int i, const lm_pipe *p,
                            redisReply **replies, char *err, size_t errsz) {
    int n = r->cl ? r->n_masters : 1;
    if (i < 0 || i >= n) {
        for (size_t k = 0; k < p->n; k++)
            replies[k] = NULL;
        snprintf(err, errsz,
                 "redis: no master %d (of %d; lm_redis_masters numbers them)",
                 i, n);
        return -1;
    }
    if (!r->cl)
        return lm_redis_exec(r, p, replies, err, errsz);
    return lm_rcluster_exec_node(r->cl, r->masters[i], p, replies, err, errsz);
}

int lm_redis_master_name(lm_redis *r, int i, char *out, size_t outsz) {
    if (r->cl)
        return i >= 0 && i < r->n_masters
                   ? lm_rcluster_node_name(r->cl, r->masters[i], out, outsz)
                   : -1;
    int n = r->url.is_unix
                ? snprintf(out, outsz, "%s", r->url.path)
                : snprintf(out, outsz, "%s:%d", r->url.host, r->url.port);
    return i == 0 && n > 0 && (size_t)n < outsz ? 0 : -1;
}
