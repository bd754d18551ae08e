/* lm_redis_cluster.c — slot map, routing and redirects for a Redis
 * Cluster behind lm_redis (see lm_redis_cluster.h).
 *
 * A pipeline's RESP buffer (always arrays of bulk strings: lm_pipe writes
 * nothing else) is read back into commands, the commands cut into units
 * (a command, or a WATCH/MULTI/EXEC transaction), the units sent node by
 * node through each node's own lm_redis, and the replies put back where
 * their commands were. Scratch arrays live in the cluster and are reused,
 * so a steady pipeline allocates nothing here. */
#include "lm_redis_cluster.h"

#include "lm_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RCL_REFRESH_MIN_MS                                                     \
    100 /* refreshes after a failure: at most this often */

enum { K_PLAIN, K_WATCH, K_MULTI, K_EXEC };

typedef struct rcl_cmd {
    size_t off, len; /* bytes in the pipeline's buffer */
    int kind;
    int slot;        /* first key's slot, -1: keyless */
    const char *key; /* first key (in the buffer) */
    size_t key_len;
    int slot2; /* a key of another slot in the same command */
    const char *key2;
    size_t key2_len;
} rcl_cmd;

typedef struct rcl_unit {
    size_t first, n; /* commands */
    int slot;        /* -1: keyless */
    int ask;         /* node to ASK next round, -1 none */
    int node;        /* this round's node */
    int done;
} rcl_unit;

typedef struct rcl_node {
    char host[256];
    int port;
    int seed;
    lm_redis *r;
} rcl_node;

typedef lm_rcluster_arg rcl_arg;

struct lm_rcluster {
    lm_redis_url url;
    int timeout_ms;
    lm_script *scripts[LM_REDIS_SCRIPTS_MAX];
    int n_scripts;
    rcl_node nodes[LM_RCL_NODES_MAX];
    int n_nodes;
    int16_t map[LM_RCL_SLOTS]; /* master node of each slot, -1 unknown */
    int map_ok, need_refresh;
    int64_t refreshed_ms, refresh_tried_ms;
    lm_rcluster_stats st;
    rcl_cmd *cmds;
    size_t cap_cmds;
    rcl_unit *units;
    size_t cap_units, n_units;
    rcl_arg *args;
    size_t cap_args;
    int *sub_cmd; /* sub-pipeline position -> command index, -1 ASKING */
    size_t cap_sub;
    redisReply **sub_rep;
    size_t cap_subrep;
    lm_pipe sub;
};

/* ---------------------------------------------------------------- nodes */

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *a = realloc(*arr, n * elem);
    if (!a)
        return -1;
    *arr = a;
    *cap = n;
    return 0;
}

static void node_clear(rcl_node *nd) {
    lm_redis_destroy(nd->r);
    memset(nd, 0, sizeof(*nd));
}

/* A node slot to reuse when the table is full: not a seed, owning no
 * slot. -1 when every node is in use. */
static int node_evictable(lm_rcluster *c) {
    static const int16_t none = -1;
    char used[LM_RCL_NODES_MAX] = {0};
    for (int s = 0; s < LM_RCL_SLOTS; s++)
        if (c->map[s] != none)
            used[c->map[s]] = 1;
    for (int i = 0; i < c->n_nodes; i++)
        if (!c->nodes[i].seed && !used[i])
            return i;
    return -1;
}

/* The node host:port, made when unknown. Its index, or -1 (OOM, full). */
static int node_get(lm_rcluster *c, const char *host, size_t host_len,
                    int port) {
    for (int i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].port == port && strlen(c->nodes[i].host) == host_len &&
            memcmp(c->nodes[i].host, host, host_len) == 0)
            return i;
    if (host_len == 0 || host_len >= sizeof(c->nodes[0].host))
        return -1;
    int i = c->n_nodes < LM_RCL_NODES_MAX ? c->n_nodes : node_evictable(c);
    if (i < 0)
        return -1;
    rcl_node *nd = &c->nodes[i];
    if (i < c->n_nodes)
        node_clear(nd);
    memcpy(nd->host, host, host_len);
    nd->host[host_len] = '\0';
    nd->port = port;
    nd->r = lm_redis_new_node(&c->url, nd->host, port, c->timeout_ms);
    if (!nd->r)
        return -1;
    for (int s = 0; s < c->n_scripts; s++)
        lm_redis_add_script(nd->r, c->scripts[s]);
    if (i == c->n_nodes)
        c->n_nodes++;
    return i;
}

lm_rcluster *lm_rcluster_new(const lm_redis_url *url, int timeout_ms) {
    lm_rcluster *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->url = *url;
    c->timeout_ms = timeout_ms;
    memset(c->map, 0xff, sizeof(c->map));
    for (int i = 0; i < url->n_seeds; i++) {
        int n = node_get(c, url->seeds[i].host, strlen(url->seeds[i].host),
                         url->seeds[i].port);
        if (n < 0) {
            lm_rcluster_destroy(c);
            return NULL;
        }
        c->nodes[n].seed = 1;
    }
    return c;
}

void lm_rcluster_destroy(lm_rcluster *c) {
    if (!c)
        return;
    for (int i = 0; i < c->n_nodes; i++)
        node_clear(&c->nodes[i]);
    free(c->cmds);
    free(c->units);
    free(c->args);
    free(c->sub_cmd);
    free(c->sub_rep);
    lm_pipe_free(&c->sub);
    memset(&c->url, 0, sizeof(c->url)); /* scrub the password */
    free(c);
}

int lm_rcluster_add_script(lm_rcluster *c, lm_script *s) {
    if (c->n_scripts >= LM_REDIS_SCRIPTS_MAX)
        return -1;
    c->scripts[c->n_scripts++] = s;
    for (int i = 0; i < c->n_nodes; i++)
        lm_redis_add_script(c->nodes[i].r, s);
    return 0;
}

void lm_rcluster_disconnect(lm_rcluster *c) {
    for (int i = 0; i < c->n_nodes; i++)
        lm_redis_disconnect(c->nodes[i].r);
    c->need_refresh = 1;
}

int lm_rcluster_connected(const lm_rcluster *c) {
    return c->map_ok && !c->need_refresh;
}

void lm_rcluster_get_stats(const lm_rcluster *c, lm_rcluster_stats *out) {
    *out = c->st;
}

/* ------------------------------------------------------------ slot map */

static const redisReply *kv_get(const redisReply *kv, const char *name) {
    if (!kv || kv->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (kv->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(kv->element[i]->str, name) == 0)
            return kv->element[i + 1];
    return NULL;
}

static int str_is(const redisReply *r, const char *s) {
    return r && r->type == REDIS_REPLY_STRING && strcmp(r->str, s) == 0;
}

/* "fail" (Redis 7.0) or "failed": a master not to route to. */
static int health_failed(const redisReply *r) {
    return r && r->type == REDIS_REPLY_STRING &&
           strncmp(r->str, "fail", 4) == 0;
}

/* The node an address reply names; host "" or "?" means the node asked. */
static int node_of(lm_rcluster *c, const redisReply *host, long long port,
                   const rcl_node *asked) {
    const char *h = host && host->type == REDIS_REPLY_STRING ? host->str : "";
    if (!h[0] || strcmp(h, "?") == 0)
        h = asked->host;
    if (port < 1 || port > 65535)
        return -1;
    return node_get(c, h, strlen(h), (int)port);
}

static int set_range(int16_t *map, long long lo, long long hi, int node) {
    if (lo < 0 || hi >= LM_RCL_SLOTS || lo > hi || node < 0)
        return -1;
    for (long long s = lo; s <= hi; s++)
        map[s] = (int16_t)node;
    return 0;
}

/* CLUSTER SHARDS: each shard's online master owns its slot ranges. */
static int parse_shards(lm_rcluster *c, const redisReply *rep,
                        const rcl_node *asked, int16_t *map) {
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *slots = kv_get(rep->element[i], "slots");
        const redisReply *nodes = kv_get(rep->element[i], "nodes");
        if (!slots || !nodes || slots->type != REDIS_REPLY_ARRAY ||
            nodes->type != REDIS_REPLY_ARRAY)
            return -1;
        int master = -1;
        for (size_t j = 0; j < nodes->elements && master < 0; j++) {
            const redisReply *nd = nodes->element[j];
            const redisReply *port = kv_get(nd, "port");
            const redisReply *ep = kv_get(nd, "endpoint");
            if (!str_is(kv_get(nd, "role"), "master") ||
                health_failed(kv_get(nd, "health")) || !port ||
                port->type != REDIS_REPLY_INTEGER)
                continue;
            if (!ep || ep->type != REDIS_REPLY_STRING || !ep->str[0] ||
                strcmp(ep->str, "?") == 0)
                ep = kv_get(nd, "ip");
            master = node_of(c, ep, port->integer, asked);
        }
        for (size_t k = 0; master >= 0 && k + 1 < slots->elements; k += 2)
            if (slots->element[k]->type != REDIS_REPLY_INTEGER ||
                set_range(map, slots->element[k]->integer,
                          slots->element[k + 1]->integer, master) != 0)
                return -1;
    }
    return 0;
}

/* CLUSTER SLOTS: [start, end, [ip, port, id], replicas...] per range. */
static int parse_slots(lm_rcluster *c, const redisReply *rep,
                       const rcl_node *asked, int16_t *map) {
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2 ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            return -1;
        const redisReply *m = e->element[2];
        int node = node_of(c, m->element[0], m->element[1]->integer, asked);
        if (set_range(map, e->element[0]->integer, e->element[1]->integer,
                      node) != 0)
            return -1;
    }
    return 0;
}

/* One node's slot map into map: 0, 1 (this node cannot tell: try
 * another), LM_REDIS_RETRY (unreachable) or -1 (refused for good). */
static int refresh_from(lm_rcluster *c, int idx, int16_t *map, char *err,
                        size_t errsz) {
    static const char *const how[2][2] = {{"CLUSTER", "SHARDS"},
                                          {"CLUSTER", "SLOTS"}};
    for (int h = 0; h < 2; h++) {
        redisReply *rep = NULL;
        lm_pipe_reset(&c->sub);
        if (lm_pipe_cmd(&c->sub, 2, how[h], NULL) != 0)
            return -1;
        int rc = lm_redis_exec(c->nodes[idx].r, &c->sub, &rep, err, errsz);
        if (rc != 0)
            return rc;
        c->st.roundtrips++;
        memset(map, 0xff, sizeof(int16_t) * LM_RCL_SLOTS);
        int bad = rep->type != REDIS_REPLY_ARRAY;
        if (!bad) {
            rcl_node asked = c->nodes[idx]; /* node_get may move the table */
            bad = h == 0 ? parse_shards(c, rep, &asked, map)
                         : parse_slots(c, rep, &asked, map);
        }
        if (bad)
            snprintf(err, errsz, "redis cluster %s:%d: CLUSTER %s: %s",
                     c->nodes[idx].host, c->nodes[idx].port, how[h][1],
                     rep->type == REDIS_REPLY_ERROR ? rep->str
                                                    : "unexpected reply");
        freeReplyObject(rep);
        if (!bad)
            return 0;
    }
    return 1;
}

/* Reads the slot map from the first node that answers: node first (a
 * MOVED's target, which knows its own slots before gossip has told the
 * others; -1 none), then known masters and seeds alike, in table order.
 * 0, LM_REDIS_RETRY or -1. */
static int refresh(lm_rcluster *c, int first, char *err, size_t errsz) {
    int16_t *map = malloc(sizeof(int16_t) * LM_RCL_SLOTS);
    if (!map) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    int rc = LM_REDIS_RETRY;
    c->refresh_tried_ms = lm_clock_mono_ms();
    snprintf(err, errsz, "redis cluster: no node answered");
    for (int k = -1; k < c->n_nodes; k++) {
        int i = k < 0 ? first : k;
        if (i < 0 || (k >= 0 && k == first))
            continue;
        int r = refresh_from(c, i, map, err, errsz);
        if (r == -1) {
            rc = -1;
            break;
        }
        if (r == 0) {
            memcpy(c->map, map, sizeof(c->map));
            c->map_ok = 1;
            c->need_refresh = 0;
            c->refreshed_ms = c->refresh_tried_ms;
            c->st.refreshes++;
            rc = 0;
            break;
        }
    }
    free(map);
    return rc;
}

int lm_rcluster_connect(lm_rcluster *c, char *err, size_t errsz) {
    return c->map_ok && !c->need_refresh ? 0 : refresh(c, -1, err, errsz);
}

/* ------------------------------------------------------------- commands */

static int name_is(const rcl_arg *a, const char *name) {
    size_t n = strlen(name);
    return a->len == n && strncasecmp(a->s, name, n) == 0;
}

static int read_int(const char *buf, size_t len, size_t *pos, char lead,
                    size_t *out) {
    if (*pos >= len || buf[*pos] != lead)
        return -1;
    size_t v = 0, i = *pos + 1;
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && v < len + 1)
        v = v * 10 + (size_t)(buf[i++] - '0');
    if (i + 1 >= len || buf[i] != '\r' || buf[i + 1] != '\n')
        return -1;
    *pos = i + 2;
    *out = v;
    return 0;
}

/* One command at *pos into cmd (kind, slots, keys). 0 / -1 (bad RESP,
 * OOM). */
static int parse_cmd(lm_rcluster *c, const lm_buf *b, size_t *pos,
                     rcl_cmd *cmd) {
    size_t argc;
    cmd->off = *pos;
    if (read_int(b->data, b->len, pos, '*', &argc) != 0 || argc == 0 ||
        grow((void **)&c->args, &c->cap_args, argc, sizeof(rcl_arg)) != 0)
        return -1;
    for (size_t i = 0; i < argc; i++) {
        size_t n;
        if (read_int(b->data, b->len, pos, '$', &n) != 0 || n > b->len ||
            *pos + n + 2 > b->len)
            return -1;
        c->args[i].s = b->data + *pos;
        c->args[i].len = n;
        *pos += n + 2;
    }
    cmd->len = *pos - cmd->off;
    const rcl_arg *a = c->args;
    cmd->kind = name_is(&a[0], "WATCH")                               ? K_WATCH
                : name_is(&a[0], "MULTI")                             ? K_MULTI
                : name_is(&a[0], "EXEC") || name_is(&a[0], "DISCARD") ? K_EXEC
                                                                      : K_PLAIN;
    cmd->slot = cmd->slot2 = -1;
    size_t first, end, step;
    lm_rcluster_key_span(a, argc, &first, &end, &step);
    for (size_t k = first; k < end && k < argc; k += step) {
        int s = (int)lm_rcluster_slot(a[k].s, a[k].len);
        if (cmd->slot < 0) {
            cmd->slot = s;
            cmd->key = a[k].s;
            cmd->key_len = a[k].len;
        } else if (s != cmd->slot && cmd->slot2 < 0) {
            cmd->slot2 = s;
            cmd->key2 = a[k].s;
            cmd->key2_len = a[k].len;
        }
    }
    return 0;
}

static int crossslot(int sa, const char *ka, size_t la, const char *kb,
                     size_t lb, int sb, char *err, size_t errsz) {
    snprintf(err, errsz,
             "CROSSSLOT a transaction's keys must share one slot (one hash "
             "tag): key '%.*s' is in slot %d, key '%.*s' in slot %d; nothing "
             "was sent",
             (int)(la > 80 ? 80 : la), ka, sa, (int)(lb > 80 ? 80 : lb), kb,
             sb);
    return -1;
}

/* The slot of a transaction unit; -1 with err when it spans slots. */
static int unit_slot(const rcl_unit *u, const rcl_cmd *cmds, int *slot,
                     char *err, size_t errsz) {
    const rcl_cmd *owner = NULL;
    *slot = -1;
    for (size_t i = u->first; i < u->first + u->n; i++) {
        const rcl_cmd *cm = &cmds[i];
        if (cm->slot < 0)
            continue;
        if (!owner)
            owner = cm;
        if (cm->slot != owner->slot)
            return crossslot(owner->slot, owner->key, owner->key_len, cm->key,
                             cm->key_len, cm->slot, err, errsz);
        if (cm->slot2 >= 0)
            return crossslot(cm->slot, cm->key, cm->key_len, cm->key2,
                             cm->key2_len, cm->slot2, err, errsz);
    }
    *slot = owner ? owner->slot : -1;
    return 0;
}

/* The pipeline into commands and units; -1 with err (bad RESP, OOM, a
 * transaction over several slots). */
static int plan(lm_rcluster *c, const lm_pipe *p, char *err, size_t errsz) {
    if (grow((void **)&c->cmds, &c->cap_cmds, p->n, sizeof(rcl_cmd)) != 0 ||
        grow((void **)&c->units, &c->cap_units, p->n, sizeof(rcl_unit)) != 0) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    size_t pos = 0;
    for (size_t i = 0; i < p->n; i++)
        if (parse_cmd(c, &p->buf, &pos, &c->cmds[i]) != 0) {
            snprintf(err, errsz,
                     "redis cluster: command %zu of the pipeline is not an "
                     "array of bulk strings",
                     i);
            return -1;
        }
    c->n_units = 0;
    for (size_t i = 0; i < p->n;) {
        rcl_unit *u = &c->units[c->n_units++];
        memset(u, 0, sizeof(*u));
        u->first = i;
        u->ask = -1;
        size_t j = i;
        while (j < p->n && c->cmds[j].kind == K_WATCH)
            j++;
        int tx = j > i;
        if (j < p->n && c->cmds[j].kind == K_MULTI) {
            tx = 1;
            while (j < p->n && c->cmds[j].kind != K_EXEC)
                j++;
            j = j < p->n ? j + 1 : j;
        } else if (!tx) {
            j = i + 1;
        }
        u->n = j - i;
        if (tx && unit_slot(u, c->cmds, &u->slot, err, errsz) != 0)
            return -1;
        if (!tx)
            u->slot = c->cmds[i].slot;
        i = j;
    }
    return 0;
}

/* ----------------------------------------------------------------- exec */

/* "MOVED 3999 127.0.0.1:6381" / "ASK ...": 1 MOVED, 2 ASK, 0 neither. */
static int redirect_of(const redisReply *r, int *slot, const char **host,
                       size_t *host_len, int *port) {
    if (!r || r->type != REDIS_REPLY_ERROR)
        return 0;
    int kind = strncmp(r->str, "MOVED ", 6) == 0 ? 1
               : strncmp(r->str, "ASK ", 4) == 0 ? 2
                                                 : 0;
    if (!kind)
        return 0;
    const char *s = r->str + (kind == 1 ? 6 : 4);
    const char *sp = strchr(s, ' ');
    const char *colon = sp ? strrchr(sp + 1, ':') : NULL;
    if (!sp || !colon)
        return 0;
    long v = strtol(s, NULL, 10), pv = strtol(colon + 1, NULL, 10);
    if (v < 0 || v >= LM_RCL_SLOTS || pv < 1 || pv > 65535)
        return 0;
    *slot = (int)v;
    *host = sp + 1;
    *host_len = (size_t)(colon - sp - 1);
    *port = (int)pv;
    return kind;
}

static int needs_asking(const rcl_unit *u, const rcl_cmd *cm, size_t i) {
    if (u->ask < 0)
        return 0;
    return cm->kind == K_WATCH || cm->kind == K_MULTI ||
           (i == u->first && cm->kind == K_PLAIN);
}

/* The pending units routed to node nd as one pipeline in c->sub. */
static int build_sub(lm_rcluster *c, const lm_pipe *p, int nd) {
    static const char *const asking[1] = {"ASKING"};
    lm_pipe_reset(&c->sub);
    for (size_t k = 0; k < c->n_units; k++) {
        const rcl_unit *u = &c->units[k];
        if (u->done || u->node != nd)
            continue;
        for (size_t i = u->first; i < u->first + u->n; i++) {
            const rcl_cmd *cm = &c->cmds[i];
            if (grow((void **)&c->sub_cmd, &c->cap_sub, c->sub.n + 2,
                     sizeof(int)) != 0)
                return -1;
            if (needs_asking(u, cm, i)) {
                if (lm_pipe_cmd(&c->sub, 1, asking, NULL) != 0)
                    return -1;
                c->sub_cmd[c->sub.n - 1] = -1;
            }
            if (lm_buf_append(&c->sub.buf, p->buf.data + cm->off, cm->len) < 0)
                return -1;
            c->sub.n++;
            c->sub_cmd[c->sub.n - 1] = (int)i;
        }
    }
    if (grow((void **)&c->sub_rep, &c->cap_subrep, c->sub.n + 1,
             sizeof(redisReply *)) != 0)
        return -1;
    memset(c->sub_rep, 0, sizeof(redisReply *) * (c->sub.n + 1));
    return 0;
}

/* The node's replies back into replies[], unit by unit; a redirected unit
 * stays pending. *moved = 1 + the node a MOVED named. -1: OOM. */
static int settle(lm_rcluster *c, int nd, redisReply **replies, int *moved) {
    size_t pos = 0;
    for (size_t k = 0; k < c->n_units; k++) {
        rcl_unit *u = &c->units[k];
        if (u->done || u->node != nd)
            continue;
        size_t start = pos;
        int kind = 0, slot = 0, port = 0;
        const char *host = NULL;
        size_t host_len = 0;
        while (pos < c->sub.n) {
            /* an ASKING is always right before a command of its unit */
            int ci = c->sub_cmd[pos] < 0 && pos + 1 < c->sub.n
                         ? c->sub_cmd[pos + 1]
                         : c->sub_cmd[pos];
            if (ci < 0 || (size_t)ci >= u->first + u->n)
                break;
            const redisReply *r = c->sub_rep[pos];
            if (!kind)
                kind = redirect_of(r, &slot, &host, &host_len, &port);
            if (r && r->type == REDIS_REPLY_ERROR &&
                strncmp(r->str, "CLUSTERDOWN", 11) == 0)
                c->need_refresh = 1;
            pos++;
        }
        if (kind) {
            int to = node_get(c, host, host_len, port);
            if (to < 0)
                return -1;
            if (kind == 1) {
                c->map[slot] = (int16_t)to;
                c->st.moved++;
                *moved = to + 1;
            } else {
                c->st.ask++;
            }
            u->ask = kind == 2 ? to : -1;
            lm_redis_replies_free(c->sub_rep + start, pos - start);
            continue;
        }
        for (size_t i = start; i < pos; i++) {
            if (c->sub_cmd[i] >= 0)
                replies[c->sub_cmd[i]] = c->sub_rep[i];
            else
                freeReplyObject(c->sub_rep[i]);
            c->sub_rep[i] = NULL;
        }
        u->done = 1;
        u->ask = -1;
    }
    return 0;
}

/* Picks each pending unit's node; -1 with err when a slot has none. */
static int route(lm_rcluster *c, size_t *pending, char *err, size_t errsz) {
    *pending = 0;
    for (size_t k = 0; k < c->n_units; k++) {
        rcl_unit *u = &c->units[k];
        if (u->done)
            continue;
        (*pending)++;
        int slot = u->slot < 0 ? 0 : u->slot;
        u->node = u->ask >= 0 ? u->ask : c->map[slot];
        if (u->node < 0) {
            c->need_refresh = 1;
            snprintf(err, errsz, "redis cluster: no master serves slot %d",
                     slot);
            return -1;
        }
    }
    return 0;
}

/* One round: every node with pending units gets its pipeline. */
static int round_trip(lm_rcluster *c, const lm_pipe *p, redisReply **replies,
                      int *moved, char *err, size_t errsz) {
    for (int nd = 0; nd < c->n_nodes; nd++) {
        int any = 0;
        for (size_t k = 0; k < c->n_units && !any; k++)
            any = !c->units[k].done && c->units[k].node == nd;
        if (!any)
            continue;
        if (build_sub(c, p, nd) != 0) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        int rc = lm_redis_exec(c->nodes[nd].r, &c->sub, c->sub_rep, err, errsz);
        if (rc != 0) {
            c->need_refresh = 1;
            return rc;
        }
        c->st.roundtrips++;
        if (settle(c, nd, replies, moved) != 0) {
            lm_redis_replies_free(c->sub_rep, c->sub.n);
            snprintf(err, errsz,
                     "redis cluster: a redirect to an unusable "
                     "node (or out of memory)");
            return LM_REDIS_RETRY;
        }
    }
    return 0;
}

static int maybe_refresh(lm_rcluster *c, char *err, size_t errsz) {
    int64_t now = lm_clock_mono_ms();
    if (!c->map_ok)
        return refresh(c, -1, err, errsz);
    if ((c->need_refresh && now - c->refresh_tried_ms >= RCL_REFRESH_MIN_MS) ||
        now - c->refreshed_ms >= LM_RCL_REFRESH_MS) {
        int rc = refresh(c, -1, err, errsz);
        if (rc == -1)
            return -1; /* otherwise go on with the map we have */
    }
    return 0;
}

int lm_rcluster_exec(lm_rcluster *c, const lm_pipe *p, redisReply **replies,
                     char *err, size_t errsz) {
    for (size_t i = 0; i < p->n; i++)
        replies[i] = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = maybe_refresh(c, err, errsz);
    if (rc != 0)
        return rc;
    if (p->n == 0)
        return 0;
    if (plan(c, p, err, errsz) != 0)
        return -1;
    for (int round = 0;; round++) {
        size_t pending;
        if (route(c, &pending, err, errsz) != 0) {
            rc = LM_REDIS_RETRY;
            break;
        }
        if (!pending)
            break;
        if (round > LM_RCL_REDIRECTS_MAX) {
            snprintf(err, errsz,
                     "redis cluster: still redirected after %d rounds "
                     "(a resharding in progress?)",
                     LM_RCL_REDIRECTS_MAX);
            rc = LM_REDIS_RETRY;
            break;
        }
        int moved = 0;
        if ((rc = round_trip(c, p, replies, &moved, err, errsz)) != 0)
            break;
        if (moved)
            refresh(c, moved - 1, err, errsz); /* else the patched map */
    }
    if (rc != 0) {
        lm_redis_replies_free(replies, p->n);
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    c->st.last_rtt_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                        (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    return 0;
}

/* ------------------------------------------------------ every master */

int lm_rcluster_masters(lm_rcluster *c, int *out, int cap, char *err,
                        size_t errsz) {
    int rc = maybe_refresh(c, err, errsz);
    if (rc != 0)
        return rc;
    char is_master[LM_RCL_NODES_MAX] = {0};
    for (int s = 0; s < LM_RCL_SLOTS; s++)
        if (c->map[s] >= 0)
            is_master[c->map[s]] = 1;
    int n = 0;
    for (int i = 0; i < c->n_nodes; i++)
        if (is_master[i] && n < cap)
            out[n++] = i;
    if (n == 0) {
        snprintf(err, errsz, "redis cluster: no master owns a slot yet");
        c->need_refresh = 1;
        return LM_REDIS_RETRY;
    }
    return n;
}

int lm_rcluster_exec_node(lm_rcluster *c, int node, const lm_pipe *p,
                          redisReply **replies, char *err, size_t errsz) {
    if (node < 0 || node >= c->n_nodes) {
        snprintf(err, errsz, "redis cluster: no node %d", node);
        return -1;
    }
    int rc = lm_redis_exec(c->nodes[node].r, p, replies, err, errsz);
    if (rc != 0)
        c->need_refresh = 1; /* a master lost: maybe failed over */
    else
        c->st.roundtrips++;
    return rc;
}

int lm_rcluster_node_name(const lm_rcluster *c, int node, char *out,
                          size_t outsz) {
    if (node < 0 || node >= c->n_nodes)
        return -1;
    int n =
        snprintf(out, outsz, "%s:%d", c->nodes[node].host, c->nodes[node].port);
    return n > 0 && (size_t)n < outsz ? 0 : -1;
}
