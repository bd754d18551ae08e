/* dlq.c — `lastmile dlq`: the dead letters, listed, shown, replayed.
 *
 *   lastmile dlq list   [FILTERS] [--json]
 *   lastmile dlq show   ID
 *   lastmile dlq replay [FILTERS] [--dry-run] [--force]
 *
 * The topic is read whole (dlq_read.c). `replay` puts each dead letter's
 * original bytes back onto its topic, keyed by its original key, with the
 * header "lm-id" = "replay:<dead_letter_id>", waits for the broker, then
 * records the replay in Redis (dlq.h): a dead letter replayed once is
 * skipped after (--force replays it anyway, and the workers' own dedupe
 * then decides: intake and timing drop an event id they handled, the
 * webhook an action it holds or posted). A crash between the produce and
 * the record replays it again next time; the same dedupe covers that.
 *
 * Ownership: each command owns its settings, clients and dead letters.
 * Single-threaded. */
#include "cli.h"
#include "dlq.h"

#include "lm_clock.h"
#include "lm_kafka.h"
#include "lm_pbjson.h"
#include "lm_redis.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DLQ_ERR_MAX        2048
#define DLQ_FLUSH_MS       30000
#define DLQ_REASON_WIDTH   72
#define DLQ_REPLAYED_KEYSZ 512

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: lastmile dlq list|show|replay [OPTIONS]\n\n"
        "The dead letters (lastmile.dlq): input a worker could not use, and "
        "actions the\nwebhook could not deliver, each with its reason.\n\n"
        "  lastmile dlq list [FILTERS] [--json]   one line each, then counts "
        "by worker\n                                         and reason\n"
        "  lastmile dlq show ID                   one dead letter as JSON, "
        "its original\n                                         decoded\n"
        "  lastmile dlq replay [FILTERS] [--dry-run] [--force]\n"
        "      the originals back onto their topics; one replayed before is "
        "skipped\n      (recorded in Redis) unless --force\n\n"
        "FILTERS:\n"
        "  --worker NAME     only this worker's (intake, webhook, ...)\n"
        "  --reason TEXT     only reasons containing TEXT\n"
        "  --id ID           only this dead_letter_id\n"
        "  --since-ms MS     failed at or after MS (epoch ms)\n"
        "  --until-ms MS     failed before MS\n"
        "Exit 0 ok, 1 on Kafka or Redis errors (or no such ID), 2 on usage "
        "errors.\n");
}

/* ---------------------------------------------------------------- list */

static json_t *dl_json(const Lastmile__V1__DeadLetter *dl, int with_original) {
    json_t *o = lm_pbjson_from_message(&dl->base);
    if (!o || !with_original)
        return o;
    const char *topic = dl->topic ? dl->topic : "";
    const ProtobufCMessageDescriptor *d = NULL;
    size_t n = strlen(topic);
    for (int i = 0; lm_topic_suffixes[i] && !d; i++) {
        size_t k = strlen(lm_topic_suffixes[i]);
        if (n >= k && strcmp(topic + n - k, lm_topic_suffixes[i]) == 0)
            d = lm_pbjson_topic_type(lm_topic_suffixes[i]);
    }
    ProtobufCMessage *m = d ? protobuf_c_message_unpack(
                                  d, NULL, dl->original.len, dl->original.data)
                            : NULL;
    json_object_set_new(o, "original_decoded",
                        m ? lm_pbjson_from_message(m) : json_null());
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return o;
}

static int print_json(json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return -1;
    puts(s);
    free(s);
    return 0;
}

/* Counts by "worker  reason" (the reason up to its first ':'). */
static void print_counts(const dlq_set *set) {
    json_t *counts = json_object();
    for (size_t i = 0; counts && i < set->n; i++) {
        const Lastmile__V1__DeadLetter *dl = set->v[i];
        const char *r = dl->reason ? dl->reason : "";
        const char *colon = strchr(r, ':');
        char key[160];
        snprintf(key, sizeof(key), "%-14s %.*s", dl->worker ? dl->worker : "?",
                 (int)(colon && colon - r < 120 ? colon - r : 120), r);
        json_int_t c = json_integer_value(json_object_get(counts, key));
        json_object_set_new(counts, key, json_integer(c + 1));
    }
    printf("\n%zu dead letter%s\n", set->n, set->n == 1 ? "" : "s");
    const char *k;
    json_t *v;
    json_object_foreach(counts, k, v)
        printf("%6lld  %s\n", (long long)json_integer_value(v), k);
    json_decref(counts);
}

static int cmd_list(const dlq_set *set, int as_json) {
    for (size_t i = 0; i < set->n; i++) {
        const Lastmile__V1__DeadLetter *dl = set->v[i];
        if (as_json) {
            if (print_json(dl_json(dl, 0)) != 0)
                return LM_EXIT_FAILED;
            continue;
        }
        char when[32];
        time_t t = (time_t)(dl->failed_at_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf(
            "%s  %-10s %s\n    %.*s%s\n", when, dl->worker ? dl->worker : "",
            dl->dead_letter_id, DLQ_REASON_WIDTH, dl->reason ? dl->reason : "",
            dl->reason && strlen(dl->reason) > DLQ_REASON_WIDTH ? "..." : "");
    }
    if (!as_json)
        print_counts(set);
    return LM_EXIT_OK;
}

/* -------------------------------------------------------------- replay */

static lm_redis *redis_open(const lm_settings *s, char *err, size_t errsz) {
    lm_redis *r = lm_redis_new(s->redis_url, s->redis_timeout_ms, err, errsz);
    if (r && lm_redis_connect(r, err, errsz) != 0) {
        lm_redis_destroy(r);
        return NULL;
    }
    return r;
}

/* One command, its reply (caller frees) or NULL. */
static redisReply *redis_one(lm_redis *r, const char *a0, const char *a1,
                             const char *a2) {
    lm_pipe p = {0};
    redisReply *rep = NULL;
    char err[256];
    if (lm_pipe_cmd_strs(&p, a0, a1, a2, NULL) != 0 ||
        lm_redis_exec(r, &p, &rep, err, sizeof(err)) != 0)
        rep = NULL;
    lm_pipe_free(&p);
    return rep;
}

/* Produces the original of dl onto its topic. 0 / -1. */
static int produce(rd_kafka_t *rk, const Lastmile__V1__DeadLetter *dl) {
    char id[DLQ_REPLAYED_KEYSZ];
    snprintf(id, sizeof(id), "replay:%s", dl->dead_letter_id);
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "lm-id", -1, id, -1);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(dl->topic),
        RD_KAFKA_V_VALUE(dl->original.data, dl->original.len),
        RD_KAFKA_V_KEY(dl->original_key.data, dl->original_key.len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_END);
    if (e) {
        rd_kafka_headers_destroy(h);
        fprintf(stderr, "lastmile dlq replay: %s: %s\n", dl->dead_letter_id,
                rd_kafka_err2str(e));
        return -1;
    }
    return rd_kafka_flush(rk, DLQ_FLUSH_MS) == 0 ? 0 : -1;
}

static int cmd_replay(const lm_settings *s, const dlq_set *set, int dry_run,
                      int force) {
    char err[DLQ_ERR_MAX] = "";
    lm_redis *r = redis_open(s, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "lastmile dlq replay: Redis: %s\n", err);
        return LM_EXIT_FAILED;
    }
    rd_kafka_t *rk = NULL;
    if (!dry_run) {
        rd_kafka_conf_t *conf =
            lm_kafka_conf(s, LM_KAFKA_PRODUCER, NULL, err, sizeof(err));
        rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))
                  : NULL;
        if (!rk) {
            if (conf)
                rd_kafka_conf_destroy(conf);
            fprintf(stderr, "lastmile dlq replay: %s\n", err);
            lm_redis_destroy(r);
            return LM_EXIT_FAILED;
        }
    }
    size_t replayed = 0, skipped = 0, failed = 0;
    for (size_t i = 0; i < set->n; i++) {
        const Lastmile__V1__DeadLetter *dl = set->v[i];
        char key[DLQ_REPLAYED_KEYSZ], at[32];
        snprintf(key, sizeof(key), "%s%s", DLQ_REPLAYED_PREFIX,
                 dl->dead_letter_id);
        redisReply *rep = redis_one(r, "GET", key, NULL);
        int before = rep && rep->type == REDIS_REPLY_STRING;
        freeReplyObject(rep);
        if (before && !force) {
            printf("skip     %s (replayed before)\n", dl->dead_letter_id);
            skipped++;
            continue;
        }
        if (dry_run) {
            printf("would    %s → %s\n", dl->dead_letter_id, dl->topic);
            replayed++;
            continue;
        }
        snprintf(at, sizeof(at), "%lld", (long long)lm_clock_now_ms());
        if (produce(rk, dl) != 0 || !(rep = redis_one(r, "SET", key, at))) {
            failed++;
            continue;
        }
        freeReplyObject(rep);
        printf("replayed %s → %s\n", dl->dead_letter_id, dl->topic);
        replayed++;
    }
    printf("%zu %s, %zu skipped, %zu failed\n", replayed,
           dry_run ? "to replay" : "replayed", skipped, failed);
    if (rk)
        rd_kafka_destroy(rk);
    lm_redis_destroy(r);
    return failed ? LM_EXIT_FAILED : LM_EXIT_OK;
}

/* ---------------------------------------------------------------- main */

static int parse_ms(const lm_cli_cmd *cli, const char *opt, int64_t *out) {
    if (lm_parse_int64(optarg, 0, INT64_MAX, out) != 0) {
        lm_cli_usage_error(cli,
                           "%s takes epoch milliseconds, e.g. %s "
                           "1764547200000",
                           opt, opt);
        return -1;
    }
    return 0;
}

int lm_cmd_dlq(int argc, char **argv) {
    static const struct option longopts[] = {
        {"worker", required_argument, NULL, 'w'},
        {"reason", required_argument, NULL, 'r'},
        {"id", required_argument, NULL, 'i'},
        {"since-ms", required_argument, NULL, 's'},
        {"until-ms", required_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},
        {"dry-run", no_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "dlq", .usage = usage, .longopts = longopts};
    dlq_filter f = {0};
    int as_json = 0, dry_run = 0, force = 0;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'w')
            f.worker = optarg;
        else if (o == 'r')
            f.reason = optarg;
        else if (o == 'i')
            f.id = optarg;
        else if (o == 's' || o == 'u') {
            if (parse_ms(&cli, o == 's' ? "--since-ms" : "--until-ms",
                         o == 's' ? &f.since_ms : &f.until_ms) != 0)
                return LM_EXIT_USAGE;
        } else if (o == 'j')
            as_json = 1;
        else if (o == 'n')
            dry_run = 1;
        else if (o == 'f')
            force = 1;
        else
            return lm_cli_exit(o);
    }
    if (optind >= argc)
        return lm_cli_usage_error(&cli, "list, show or replay?");
    const char *sub = argv[optind];
    int list = strcmp(sub, "list") == 0, show = strcmp(sub, "show") == 0,
        replay = strcmp(sub, "replay") == 0;
    if (!list && !show && !replay)
        return lm_cli_usage_error(&cli, "%s: not list, show or replay", sub);
    if (show && optind + 2 != argc)
        return lm_cli_usage_error(&cli, "show takes one ID");
    if (!show && optind + 1 != argc)
        return lm_cli_usage_error(&cli, "%s takes no operand", sub);
    if (show)
        f.id = argv[optind + 1];

    char err[DLQ_ERR_MAX] = "";
    lm_settings s;
    if (lm_cli_settings(&cli, &s) != 0)
        return LM_EXIT_FAILED;
    if (!s.brokers || !*s.brokers) {
        fprintf(stderr, "lastmile dlq: LASTMILE_BROKERS is not set (e.g. "
                        "eval \"$(lastmile dev up)\")\n");
        lm_settings_free(&s);
        return LM_EXIT_FAILED;
    }
    lm_clock_init(s.time_scale, s.time_origin_ms, s.time_start_ms);
    dlq_set set;
    int rc = LM_EXIT_FAILED;
    if (dlq_read(&s, &f, &set, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile dlq: %s\n", err);
        lm_settings_free(&s);
        return LM_EXIT_FAILED;
    }
    if (list)
        rc = cmd_list(&set, as_json);
    else if (show && set.n == 0)
        fprintf(stderr, "lastmile dlq show: no dead letter %s\n", f.id);
    else if (show)
        rc = print_json(dl_json(set.v[set.n - 1], 1)) == 0 ? LM_EXIT_OK
                                                           : LM_EXIT_FAILED;
    else
        rc = cmd_replay(&s, &set, dry_run, force);
    dlq_set_free(&set);
    lm_settings_free(&s);
    return rc;
}
