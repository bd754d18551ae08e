/* bench_worker.c — the bench's own workers, one hop of a chain each:
 *
 *   lastmile bench --passthrough IN OUT   the limit of the broker: consume,
 *       produce the same bytes, commit after the acknowledgement;
 *   lastmile bench --floor IN OUT         the state floor: the same, plus
 *       per lead only the Redis work the mission cannot do without, one
 *       pipelined round trip per batch:
 *         intake hop         the dedupe claim, SET lm:{P}:person NX GET PX
 *                            (a lead claimed by another is not forwarded);
 *         qualification hop  the lead's record, ONE HSET of the 32 fields
 *                            the fleet's lead hash holds after a lead's
 *                            first touch (docs/PERFORMANCE.md lists them);
 *         followup hop       the response timer, one ZADD into its bucket
 *                            (lm_timers' key and member).
 *
 * The floor's commands are idempotent (a redelivered batch claims, writes
 * and arms the same again), so it needs no fence, no done record and no
 * MULTI/EXEC: what it leaves out is what effectively-once output costs the
 * fleet. Its outputs are the passthrough's (the input's bytes), so a
 * redelivery repeats them: the floor is a limit, not a worker.
 *
 * Commit discipline as the fleet's: a batch's input is committed only after
 * its Redis round trip and its outputs' acknowledgement. On SIGTERM the
 * floor logs its counts to stderr (bench_floor_summary_format), which
 * the bench reads back. Single-threaded; argv's strings are borrowed. */
#include "bench.h"
#include "bench_info.h"
#include "cli.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_fmt.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_redis.h"
#include "lm_timers.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_FLOOR_CLAIM_PX "2592000000" /* 30 days, the dedupe window */
#define BENCH_FLOOR_FIELDS   32
#define BENCH_FLOOR_LEAD_MAX 4096 /* bytes of a lead's record value */

static volatile sig_atomic_t worker_stop = 0;
static void on_stop(int sig) {
    (void)sig;
    worker_stop = 1;
}

typedef enum { HOP_CLAIM, HOP_RECORD, HOP_TIMER } floor_hop;

typedef struct floor_ctx {
    lm_redis *redis;
    floor_hop hop;
    lm_pipe pipe;
    redisReply **replies;
    char (*ids)[LM_LEAD_ID_MAX]; /* the batch's lead ids ("" undecodable) */
    bench_floor_counts n;
} floor_ctx;

/* The lead's person and id from its LeadSubmitted bytes, and (bare not
 * NULL) the lead as the fleet keeps it in its hash: a LeadAccepted without
 * personal data (packed into bare, *bare_len bytes). -1 when the message
 * does not decode (it is forwarded without Redis work). */
static int lead_of(const rd_kafka_message_t *m, char person[LM_PERSON_MAX],
                   char id[LM_LEAD_ID_MAX], uint8_t *bare, size_t *bare_len) {
    Lastmile__V1__LeadSubmitted *l =
        lastmile__v1__lead_submitted__unpack(NULL, m->len, m->payload);
    if (!l)
        return -1;
    int ok = l->email && l->email[0] && l->event_id && l->event_id[0];
    if (ok) {
        lm_lead_person(l->email, person);
        lm_lead_id(person, l->event_id, id);
    }
    if (ok && bare) {
        const char *at = strchr(l->email, '@');
        Lastmile__V1__LeadAccepted a = LASTMILE__V1__LEAD_ACCEPTED__INIT;
        a.lead_id = id;
        a.event_id = l->event_id;
        a.source = l->source;
        a.email_domain = at ? (char *)at + 1 : (char *)"";
        a.company = l->company;
        a.title = l->title;
        a.company_size = l->company_size;
        a.country = l->country;
        a.timezone = l->timezone && l->timezone[0] ? l->timezone
                                                   : (char *)"America/New_York";
        a.submitted_at_ms = l->submitted_at_ms;
        a.accepted_at_ms = lm_clock_now_ms();
        Lastmile__V1__LeadAccepted__AttributesEntry e[16], *ep[16];
        for (size_t i = 0; i < l->n_attributes && i < 16; i++) {
            lastmile__v1__lead_accepted__attributes_entry__init(&e[i]);
            e[i].key = l->attributes[i]->key;
            e[i].value = l->attributes[i]->value;
            ep[i] = &e[i];
        }
        a.n_attributes = l->n_attributes < 16 ? l->n_attributes : 16;
        a.attributes = ep;
        *bare_len = protobuf_c_message_get_packed_size(&a.base);
        ok = *bare_len <= BENCH_FLOOR_LEAD_MAX;
        if (ok)
            protobuf_c_message_pack(&a.base, bare);
    }
    lastmile__v1__lead_submitted__free_unpacked(l, NULL);
    return ok ? 0 : -1;
}

/* One HSET of the fields the fleet's lead hash holds after the first
 * touch, with values of their usual length; `lead` is the LeadAccepted
 * without personal data (bare, len bytes), as the fleet keeps it. */
static int record_cmd(lm_pipe *p, const char *key, const uint8_t *bare,
                      size_t len, const char *now, const char *due) {
    const char *fv[BENCH_FLOOR_FIELDS * 2] = {LM_F_SUBMITTED,
                                              now,
                                              LM_F_ACCEPTED,
                                              now,
                                              LM_F_STAGE,
                                              "waiting",
                                              LM_F_STATUS,
                                              "open",
                                              LM_F_SOURCE,
                                              "web_form",
                                              "wait_intake_ms",
                                              "3",
                                              LM_F_DECIDED,
                                              now,
                                              LM_F_DECISION,
                                              "QUALIFIED",
                                              LM_F_SCORE,
                                              "0.734000",
                                              LM_F_SEGMENT,
                                              "NA/smb",
                                              LM_F_ADAPTIVE,
                                              "1",
                                              LM_F_LEAD,
                                              "",
                                              LM_F_HOLDOUT,
                                              "0",
                                              "wait_qualification_ms",
                                              "4",
                                              LM_F_OWNER,
                                              "alex.kim",
                                              LM_F_TEAM,
                                              "na",
                                              LM_F_HOLDS,
                                              "1",
                                              LM_F_ACCOUNT,
                                              "ex0.com",
                                              LM_F_STEP,
                                              "0",
                                              LM_F_SLOT,
                                              "87",
                                              LM_F_LAST_ACTION,
                                              now,
                                              LM_F_NEXT_DUE,
                                              due,
                                              "slot:0",
                                              "87",
                                              LM_F_CADENCE,
                                              "nurture",
                                              LM_F_TZ,
                                              "America/New_York",
                                              LM_F_FIRST_ACTION,
                                              now,
                                              LM_F_ROLE,
                                              "exec",
                                              LM_F_TOUCHES,
                                              "1",
                                              LM_F_COST,
                                              "2",
                                              "wait_followup_ms",
                                              "5",
                                              "wait_followup_n",
                                              "1",
                                              LM_F_FIRST_TOUCH,
                                              now};
    if (lm_pipe_begin(p, 2 + BENCH_FLOOR_FIELDS * 2) != 0)
        return -1;
    lm_pipe_arg(p, "HSET", 4);
    lm_pipe_arg(p, key, strlen(key));
    for (int i = 0; i < BENCH_FLOOR_FIELDS * 2; i++) {
        if (i % 2 && strcmp(fv[i - 1], LM_F_LEAD) == 0) /* the lead's bytes */
            lm_pipe_arg(p, bare, len);
        else
            lm_pipe_arg(p, fv[i], strlen(fv[i]));
    }
    lm_pipe_end(p);
    return 0;
}

/* The response timer of step 0, due a week from now (lm_timers' member). */
static int timer_cmd(lm_pipe *p, const char *id, int64_t due_ms) {
    lm_timer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.lead, sizeof(t.lead), "%s", id);
    snprintf(t.kind, sizeof(t.kind), "%s", LM_LEAD_TIMER_RESPONSE);
    t.payload_len = (size_t)snprintf(t.payload, sizeof(t.payload), "0|NA/smb");
    char member[LM_TIMERS_MEMBER_MAX], key[LM_TIMERS_KEY_MAX];
    char score[LM_FMT_I64_MAX];
    size_t len;
    if (lm_timers_encode(&t, member, &len) != 0)
        return -1;
    lm_timers_key(lm_timers_bucket(id), "", key);
    lm_fmt_i64(score, due_ms);
    const char *argv[] = {"ZADD", key, score, member};
    const size_t lens[] = {4, strlen(key), strlen(score), len};
    return lm_pipe_cmd(p, 4, argv, lens);
}

/* The batch's Redis work in one round trip; keep[i] = 0 for a lead another
 * one claimed (not forwarded). Retries while Redis cannot be reached.
 * 0 / -1 (refused for good, or stopped). */
static int floor_batch(floor_ctx *f, rd_kafka_message_t **batch, size_t n,
                       char *keep) {
    char person[LM_PERSON_MAX], key[LM_KEY_MAX], now[LM_FMT_I64_MAX],
        due[LM_FMT_I64_MAX];
    int64_t now_ms = lm_clock_now_ms();
    lm_fmt_i64(now, now_ms);
    lm_fmt_i64(due, now_ms + 7 * 86400000LL);
    lm_pipe_reset(&f->pipe);
    for (size_t i = 0; i < n; i++) {
        keep[i] = 1;
        f->ids[i][0] = '\0';
        uint8_t bare[BENCH_FLOOR_LEAD_MAX];
        size_t bare_len = 0;
        if (lead_of(batch[i], person, f->ids[i],
                    f->hop == HOP_RECORD ? bare : NULL, &bare_len) != 0) {
            f->ids[i][0] = '\0';
            continue;
        }
        int rc;
        if (f->hop == HOP_CLAIM) {
            lm_lead_person_key(person, key);
            rc = lm_pipe_cmd_strs(&f->pipe, "SET", key, f->ids[i], "NX", "GET",
                                  "PX", BENCH_FLOOR_CLAIM_PX, NULL);
        } else if (f->hop == HOP_RECORD) {
            lm_lead_key(f->ids[i], key);
            rc = record_cmd(&f->pipe, key, bare, bare_len, now, due);
        } else {
            rc = timer_cmd(&f->pipe, f->ids[i], now_ms + 7 * 86400000LL);
        }
        if (rc != 0)
            return -1;
    }
    if (f->pipe.n == 0)
        return 0;
    char err[512];
    int rc;
    while ((rc = lm_redis_exec(f->redis, &f->pipe, f->replies, err,
                               sizeof(err))) == LM_REDIS_RETRY &&
           !worker_stop)
        usleep(50000);
    if (rc != 0) {
        fprintf(stderr, "floor: redis: %s\n", err);
        return -1;
    }
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (!f->ids[i][0])
            continue;
        const redisReply *rep = f->replies[r++];
        if (f->hop == HOP_CLAIM && rep && rep->type == REDIS_REPLY_STRING &&
            strcmp(rep->str, f->ids[i]) != 0)
            keep[i] = 0; /* another lead of the person: merged */
    }
    lm_redis_replies_free(f->replies, f->pipe.n);
    f->n.commands += (long long)f->pipe.n;
    return 0;
}

static int floor_open(floor_ctx *f, const lm_settings *s, const char *in,
                      size_t batch_max, char *err, size_t errsz) {
    memset(f, 0, sizeof(*f));
    f->hop = strcmp(in, LM_TOPIC_INTAKE) == 0          ? HOP_CLAIM
             : strcmp(in, LM_TOPIC_QUALIFICATION) == 0 ? HOP_RECORD
                                                       : HOP_TIMER;
    f->redis = lm_redis_new(s->redis_url, s->redis_timeout_ms, err, errsz);
    f->replies = calloc(batch_max, sizeof(*f->replies));
    f->ids = calloc(batch_max, sizeof(*f->ids));
    return f->redis && f->replies && f->ids ? 0 : -1;
}

static void floor_close(floor_ctx *f) {
    if (f->redis)
        f->n.roundtrips = (long long)lm_redis_roundtrips(f->redis);
    char line[256];
    bench_floor_summary_format(&f->n, line, sizeof(line));
    fputs(line, stderr);
    fflush(stderr);
    lm_redis_destroy(f->redis);
    lm_pipe_free(&f->pipe);
    free(f->replies);
    free(f->ids);
}

/* Takes what the consumer has, up to max (chain_batch_max), waiting only
 * for the first message. */
static size_t take_batch(rd_kafka_t *c, rd_kafka_message_t **batch,
                         size_t max) {
    size_t n = 0;
    int wait = 100;
    while (n < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, wait);
        wait = 0;
        if (!m)
            break;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        batch[n++] = m;
    }
    return n;
}

/* Commits the batch's offsets (after its outputs were acknowledged) and
 * destroys its messages. */
static void commit_batch(rd_kafka_t *c, const char *in,
                         rd_kafka_message_t **batch, size_t n) {
    rd_kafka_topic_partition_list_t *offs =
        rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(offs, in, batch[i]->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(offs, in,
                                                   batch[i]->partition);
        if (tp->offset < batch[i]->offset + 1)
            tp->offset = batch[i]->offset + 1;
        rd_kafka_message_destroy(batch[i]);
    }
    rd_kafka_commit(c, offs, 0);
    rd_kafka_topic_partition_list_destroy(offs);
}

/* A chain's batches: as large as the fleet's (LASTMILE_BATCH_MAX), and
 * never below BENCH_CHAIN_BATCH_MIN. The chains differ from the fleet in
 * their work, not in how much one round trip and one commit carry; but
 * they run their phases one after another (the fleet overlaps a batch's
 * acknowledgement with the next one's reads), so a round trip and an
 * acknowledgement wait per batch weigh on them more: at batches of 500
 * the floor loses a third of its rate on the 2-core machine while the
 * fleet keeps its own (docs/PERFORMANCE.md, "Targets", 2026-12-06).
 * A limit taken below its best would flatter the fleet's ratio. */
#define BENCH_CHAIN_BATCH_MIN 1000
static size_t chain_batch_max(const lm_settings *s) {
    return s->batch_max > BENCH_CHAIN_BATCH_MIN ? (size_t)s->batch_max
                                                : BENCH_CHAIN_BATCH_MIN;
}

int bench_chain_worker_main(const char *in_suffix, const char *out_suffix,
                            int floor) {
    lm_settings s;
    char err[2048], in[LM_TOPIC_MAX], out[LM_TOPIC_MAX], group[200];
    if (lm_settings_load(&s, "cli", err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return LM_EXIT_USAGE;
    }
    signal(SIGTERM, on_stop);
    lm_clock_init(1, 0, 0);
    lm_topic_name(&s, in_suffix, in, sizeof(in));
    lm_topic_name(&s, out_suffix, out, sizeof(out));
    snprintf(group, sizeof(group), "%s%s-%s", s.topic_prefix,
             floor ? "floor" : "passthrough", in_suffix);
    size_t max = chain_batch_max(&s);
    rd_kafka_message_t **batch = calloc(max, sizeof(*batch));
    char *keep = calloc(max, 1);
    if (!batch || !keep) {
        fprintf(stderr, "bench: out of memory for a batch of %zu\n", max);
        free(batch);
        free(keep);
        return LM_EXIT_FAILED;
    }
    floor_ctx f;
    if (floor && floor_open(&f, &s, in_suffix, max, err, sizeof(err)) != 0) {
        fprintf(stderr, "floor: %s\n", err);
        return LM_EXIT_FAILED;
    }
    rd_kafka_conf_t *pc =
        lm_kafka_conf(&s, LM_KAFKA_PRODUCER, NULL, err, sizeof(err));
    rd_kafka_conf_t *cc =
        lm_kafka_conf(&s, LM_KAFKA_CONSUMER, group, err, sizeof(err));
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    if (!p || !c)
        return LM_EXIT_FAILED;
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, in, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(c, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    int rc = 0;
    while (!worker_stop) {
        size_t n = take_batch(c, batch, max);
        if (!n)
            continue;
        memset(keep, 1, n);
        if (floor) {
            if (floor_batch(&f, batch, n, keep) != 0) {
                rc = LM_EXIT_FAILED; /* nothing produced nor committed */
                for (size_t i = 0; i < n; i++)
                    rd_kafka_message_destroy(batch[i]);
                break;
            }
            f.n.batches++;
            f.n.leads += (long long)n;
        }
        for (size_t i = 0; i < n; i++)
            while (keep[i] &&
                   rd_kafka_producev(
                       p, RD_KAFKA_V_TOPIC(out),
                       RD_KAFKA_V_KEY(batch[i]->key, batch[i]->key_len),
                       RD_KAFKA_V_VALUE(batch[i]->payload, batch[i]->len),
                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                       RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 10);
        rd_kafka_flush(p, -1);         /* every output acknowledged ... */
        commit_batch(c, in, batch, n); /* ... before the commit */
    }
    if (floor)
        floor_close(&f);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_flush(p, 5000);
    rd_kafka_destroy(p);
    lm_settings_free(&s);
    free(batch);
    free(keep);
    return rc;
}
