/* faults_common.c — the fault tests' shared fixture and probes; the
 * contract is faults_common.h. One fixture per test process; single
 * thread. */
#include "faults_common.h"

#include "lm_clock.h"
#include "lm_http_get.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

fixture fx;
size_t want_people;
const char *const worker_names[N_WORKERS] = {"intake", "qualification",
                                             "followup", "timing"};

void teardown(void) {
    fixture_down(&fx);
}

int64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int all_closed(const market *m) {
    return m->accepted.n >= want_people && m->outcomes.n >= m->accepted.n;
}

int some_outcomes(const market *m) {
    return m->outcomes.n >= want_people / 8;
}

/* Pumps a few more rounds so that anything late (a duplicate would be
 * late) reaches the ledger. */
void settle(market *m) {
    for (int i = 0; i < 5; i++)
        market_pump(m, 200);
}

/* The delivery rule, as the test's consumers saw it. Prints the figures.
 * A waiting lead handed out twice (a slot_freed decision id on
 * lastmile.followup twice) fails on one Redis and on a Redis Cluster (a
 * team's freed slots are given away by one timing replica at a time:
 * workers/timing/timing_slot.h). So does a reassignment's decision id
 * (an owner deadline's, sla_breach) twice, and a record written twice
 * byte for byte. */
void check_once(const market *m, size_t people, size_t invalid,
                const char *what) {
    printf("%s: submitted %zu people (+ re-submissions), %zu invalid; "
           "accepted %zu (twice: %zu), decisions %zu (twice: %zu), outcomes "
           "%zu (twice: %zu), actions %zu (id twice: %zu), dead letters %zu, "
           "late responses %zu, responders %zu; leads that waited for an "
           "owner %zu, handed out %zu (twice: %zu), leads reassigned %zu "
           "(decision id twice: %zu)\n",
           what, people, invalid, m->accepted.n, m->accepted.dups,
           m->decisions.n, m->decisions.dups, m->outcomes.n, m->outcomes.dups,
           m->actions.n, m->actions.dups, m->dlq, m->late, m->responders.n,
           m->unassigned, m->handed_out.n, m->handed_out.dups, m->redecided.n,
           m->redecided.dups);
    fflush(stdout);
    cr_expect_eq(m->accepted.n, people, "%s: %zu leads accepted for %zu people",
                 what, m->accepted.n, people);
    cr_expect_eq(m->accepted.dups, 0, "%s: a lead accepted twice", what);
    cr_expect_eq(m->decisions.n, m->accepted.n,
                 "%s: decisions %zu != leads %zu", what, m->decisions.n,
                 m->accepted.n);
    cr_expect_eq(m->decisions.dups, 0, "%s: a lead decided twice", what);
    cr_expect_eq(m->outcomes.n, m->accepted.n, "%s: outcomes %zu != leads %zu",
                 what, m->outcomes.n, m->accepted.n);
    cr_expect_eq(m->outcomes.dups, 0, "%s: %zu outcome(s) twice", what,
                 m->outcomes.dups);
    cr_expect_eq(m->actions.dups, 0, "%s: %zu action id(s) twice", what,
                 m->actions.dups);
    cr_expect_eq(m->dlq, invalid, "%s: dead letters %zu != invalid %zu", what,
                 m->dlq, invalid);
    cr_expect_eq(m->handed_out.dups, 0,
                 "%s: %zu waiting lead(s) handed out twice (decision id)", what,
                 m->handed_out.dups);
    cr_expect_eq(m->redecided.dups, 0,
                 "%s: %zu lead(s) reassigned twice (decision id)", what,
                 m->redecided.dups);
    cr_expect_eq(m->off_hours, 0, "%s: %zu touch(es) outside allowed hours",
                 what, m->off_hours);
    /* every topic, byte for byte: a record written twice (the same key and
       value) is an output produced twice, whatever its id */
    char topics[512] = "";
    for (size_t i = 0; i < m->dup_topics.n; i++) {
        int n = 0;
        const char *t = strset_key(&m->dup_topics, i, &n);
        size_t len = strlen(topics);
        snprintf(topics + len, sizeof(topics) - len, " %s (%d)", t, n);
    }
    printf("%s: %zu records on the fleet's topics, %zu written twice byte for "
           "byte%s\n",
           what, m->copies.n, m->copies.dups, topics);
    cr_expect_eq(m->copies.dups, 0, "%s: %zu record(s) written twice:%s", what,
                 m->copies.dups, topics);
}

/* Reads a whole file into a NUL-terminated malloc'd buffer (NULL if none). */
char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (n + 4096 + 1 > cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Occurrences of needle in every worker log of the run. */
size_t count_in_logs(const char *needle) {
    size_t n = 0;
    for (int w = 0; w < N_WORKERS; w++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.log", fx.dir, worker_names[w]);
        char *log = slurp(path, NULL);
        for (const char *p = log; p && (p = strstr(p, needle)); p++)
            n++;
        free(log);
    }
    return n;
}

/* HTTP status of GET path on 127.0.0.1:port; -1 when nothing answers. */
int http_status(int port, const char *path) {
    lm_http_get_reply r;
    char err[256];
    if (lm_http_get("127.0.0.1", port, path, 2000, &r, err, sizeof(err)) != 0)
        return -1;
    int status = r.status;
    lm_http_get_free(&r);
    return status;
}

/* Sum of the committed offsets of group `group` on a topic (partitions
 * without a commit count 0); -1 on error. */
int64_t committed_sum(const char *group, const char *topic_suffix,
                      int partitions) {
    char topic[LM_TOPIC_MAX], err[512];
    snprintf(topic, sizeof(topic), "lastmile.%s", topic_suffix);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", fx.st.brokers, NULL, 0);
    rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        return -1;
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p);
    int64_t sum = -1;
    if (rd_kafka_committed(rk, parts, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        sum = 0;
        for (int p = 0; p < parts->cnt; p++)
            if (parts->elems[p].offset > 0)
                sum += parts->elems[p].offset;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return sum;
}

/* Sum of the log-end offsets of a topic; -1 on error. */
int64_t topic_end(const char *topic_suffix, int partitions) {
    char topic[LM_TOPIC_MAX];
    snprintf(topic, sizeof(topic), "lastmile.%s", topic_suffix);
    int64_t sum = 0;
    for (int p = 0; p < partitions; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(fx.producer, topic, p, &lo, &hi,
                                             10000) != 0)
            return -1;
        sum += hi;
    }
    return sum;
}

/* Raw bytes onto a topic with the fixture's producer. */
void produce_raw(const char *topic_suffix, const char *key, const void *val,
                 size_t len) {
    char topic[LM_TOPIC_MAX];
    snprintf(topic, sizeof(topic), "lastmile.%s", topic_suffix);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        fx.producer, RD_KAFKA_V_TOPIC(topic),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)val, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "produce to %s: %s", topic,
                 rd_kafka_err2str(e));
}

/* Redis keys matching a pattern (SCAN), and the members of the timer
 * sets: {pending, claimed} summed over the buckets. -1 on error. */
long long redis_count_keys(const char *pattern) {
    strset keys = {0};
    long long n = fixture_redis_keys(&fx, pattern, &keys);
    strset_free(&keys);
    return n;
}

int redis_timers(long long *pending, long long *claimed) {
    *pending = *claimed = 0;
    for (int b = 0; b < 16; b++) {
        char key[64], claims[80];
        snprintf(key, sizeof(key), "lm:{timers:%d}", b);
        snprintf(claims, sizeof(claims), "%s:claimed", key);
        redisReply *r = fixture_redis_cmd(&fx, "ZCARD", key, NULL);
        if (!r)
            return -1;
        if (r->type == REDIS_REPLY_INTEGER)
            *pending += r->integer;
        freeReplyObject(r);
        r = fixture_redis_cmd(&fx, "ZCARD", claims, NULL);
        if (!r)
            return -1;
        if (r->type == REDIS_REPLY_INTEGER)
            *claimed += r->integer;
        freeReplyObject(r);
    }
    return 0;
}

/* Restarts slot `slot` with the same worker, in the same slot (the
 * fixture only appends; a long chaos run would run out of slots). */
int restart_in_slot(int slot) {
    char name[sizeof(fx.proc_names[0])];
    /* a copy: fixture_start_worker writes the name into this very slot */
    snprintf(name, sizeof(name), "%s", fx.proc_names[slot]);
    int n = fx.n_procs;
    fx.n_procs = slot;
    int got = fixture_start_worker(&fx, name);
    fx.n_procs = n;
    return got;
}
