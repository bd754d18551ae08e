/* tail.c — `lastmile tail`: a lastmile topic, decoded to JSON lines.
 *
 *   lastmile tail TOPIC [--from-beginning] [--limit N] [--timeout-ms MS]
 *
 * TOPIC is a suffix (`actions`) or a full topic name; the message type
 * comes from the suffix (lm_pbjson_topic_type). Each message prints as one
 * JSON object on stdout:
 *   {"topic":..,"partition":..,"offset":..,"key":..,"timestamp_ms":..,
 *    "value":{..}}
 * and a value that does not decode prints "error" and "value_base64"
 * instead of "value"; tail goes on.
 *
 * A group-less reader (LM_KAFKA_READER): every partition is assigned at
 * the start or the end, nothing is committed, so tail never disturbs the
 * fleet's consumer groups. Messages come in partition order per partition
 * only. It stops after --limit messages, after --timeout-ms without a
 * message, or on SIGINT/SIGTERM (the handler only sets a flag); every stop
 * is exit 0.
 *
 * Layout and ownership: lm_cmd_tail reads the options (parse_options,
 * into a tail_args) and the settings, opens the reader (open_reader) and
 * follows it (follow); it owns the settings and the client, and
 * print_message every JSON value it builds. Single-threaded. */
#include "cli.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_pbjson.h"

#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAIL_POLL_MS             100
#define TAIL_METADATA_TIMEOUT_MS 10000
#define TAIL_ERR_MAX             2048
#define TAIL_TIMEOUT_MAX_MS      (INT64_C(1) << 40)

static volatile sig_atomic_t tail_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    tail_stop = 1;
}

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: lastmile tail TOPIC [--from-beginning] [--limit N] "
        "[--timeout-ms MS]\n\n"
        "Prints the messages of a lastmile topic as JSON lines, decoded "
        "from protobuf:\n"
        "  {\"topic\":\"lastmile.actions\",\"partition\":0,\"offset\":12,"
        "\"key\":\"L-1\",\n"
        "   \"timestamp_ms\":1700000000000,\"value\":{...}}\n"
        "A value that does not decode prints \"error\" and its bytes as "
        "\"value_base64\".\n\n"
        "TOPIC is a suffix (intake, qualification, followup, actions, "
        "timing,\noutcomes, dlq), which gets LASTMILE_TOPIC_PREFIX, or a full "
        "topic name\nending in one of them.\n\n"
        "  --from-beginning  start at the oldest message (default: only new "
        "ones)\n"
        "  --limit N         stop after N messages\n"
        "  --timeout-ms MS   stop after MS milliseconds without a message\n"
        "Without --limit or --timeout-ms it follows until Ctrl-C. It reads "
        "with no\nconsumer group and commits nothing. Exit 0 when it stops, "
        "1 on Kafka\nerrors, 2 on usage errors.\n");
}

/* The full topic name and its message type; NULL when TOPIC names no
 * lastmile topic. */
static const ProtobufCMessageDescriptor *
resolve(const lm_settings *s, const char *arg, char *topic, size_t topicsz) {
    const ProtobufCMessageDescriptor *d = lm_pbjson_topic_type(arg);
    if (d) {
        lm_topic_name(s, arg, topic, topicsz);
        return d;
    }
    snprintf(topic, topicsz, "%s", arg);
    size_t n = strlen(arg);
    for (int i = 0; lm_topic_suffixes[i]; i++) {
        size_t k = strlen(lm_topic_suffixes[i]);
        if (n > k && strcmp(arg + n - k, lm_topic_suffixes[i]) == 0)
            return lm_pbjson_topic_type(lm_topic_suffixes[i]);
    }
    return NULL;
}

/* obj[name] = the bytes as a JSON string, or null when there are none.
 * Bytes that are not UTF-8 text go under NAME_base64 instead (obj[name] is
 * then null). 0 / -1 (out of memory). */
static int set_bytes(json_t *obj, const char *name, const void *data,
                     size_t len) {
    if (!data)
        return json_object_set_new(obj, name, json_null());
    json_t *v = json_stringn(data, len);
    if (v)
        return json_object_set_new(obj, name, v);
    char *b64 = lm_pbjson_base64_encode(data, len);
    char key[64];
    snprintf(key, sizeof(key), "%s_base64", name);
    int rc = b64 && json_object_set_new(obj, name, json_null()) == 0 &&
                     json_object_set_new(obj, key, json_string(b64)) == 0
                 ? 0
                 : -1;
    free(b64);
    return rc;
}

/* "value", or "error" and "value_base64" when it does not decode as d. */
static int set_value(json_t *obj, const ProtobufCMessageDescriptor *d,
                     const rd_kafka_message_t *rkm) {
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, NULL, rkm->len, rkm->payload);
    if (m) {
        int rc = json_object_set_new(obj, "value", lm_pbjson_from_message(m));
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    char why[256];
    snprintf(why, sizeof(why), "value does not decode as %s (%zu bytes)",
             d->name, rkm->len);
    char *b64 = lm_pbjson_base64_encode(rkm->payload, rkm->len);
    int rc =
        !b64 || json_object_set_new(obj, "error", json_string(why)) != 0 ||
                json_object_set_new(obj, "value_base64", json_string(b64)) != 0
            ? -1
            : 0;
    free(b64);
    return rc;
}

/* One message as a JSON line on stdout. 0 / -1 (out of memory). */
static int print_message(const ProtobufCMessageDescriptor *d,
                         const rd_kafka_message_t *rkm) {
    int64_t ts = rd_kafka_message_timestamp(rkm, NULL);
    json_t *o = json_object();
    if (!o)
        return -1;
    char *text = NULL;
    if (json_object_set_new(o, "topic",
                            json_string(rd_kafka_topic_name(rkm->rkt))) != 0 ||
        json_object_set_new(o, "partition", json_integer(rkm->partition)) !=
            0 ||
        json_object_set_new(o, "offset", json_integer(rkm->offset)) != 0 ||
        set_bytes(o, "key", rkm->key, rkm->key_len) != 0 ||
        json_object_set_new(o, "timestamp_ms",
                            ts >= 0 ? json_integer(ts) : json_null()) != 0 ||
        set_value(o, d, rkm) != 0 || !(text = json_dumps(o, JSON_COMPACT))) {
        json_decref(o);
        return -1;
    }
    json_decref(o);
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(text);
    return 0;
}

static int parse_count(const lm_cli_cmd *cli, const char *opt, const char *val,
                       int64_t max, int64_t *out) {
    if (lm_parse_int64(val, 1, max, out) != 0) {
        lm_cli_usage_error(
            cli, "%s takes a whole number of at least 1, e.g. %s 10", opt, opt);
        return -1;
    }
    return 0;
}

/* ---- the command ---------------------------------------------------- */

/* The options and operand of one run, as parse_options leaves them.
 * topic_arg points into argv. */
typedef struct tail_args {
    const char *topic_arg; /* TOPIC as given: a suffix or a full name */
    int from_beginning;
    int64_t limit, timeout_ms; /* 0: no limit, no timeout */
} tail_args;

/* Reads the options and the one TOPIC into a (defaults first).
 * LM_CLI_END when they are read; LM_CLI_HELP after --help; LM_CLI_BAD
 * after a usage error, said on stderr. */
static int parse_options(lm_cli_cmd *cli, int argc, char **argv, tail_args *a) {
    *a = (tail_args){0};
    for (int o; (o = lm_cli_getopt(cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'b') {
            a->from_beginning = 1;
        } else if (o == 'l') {
            if (parse_count(cli, "--limit", optarg, INT64_MAX, &a->limit) != 0)
                return LM_CLI_BAD;
        } else if (o == 't') {
            if (parse_count(cli, "--timeout-ms", optarg, TAIL_TIMEOUT_MAX_MS,
                            &a->timeout_ms) != 0)
                return LM_CLI_BAD;
        } else {
            return o;
        }
    }
    if (optind >= argc) {
        lm_cli_usage_error(cli, "TOPIC is missing");
        return LM_CLI_BAD;
    }
    if (optind + 1 < argc) {
        lm_cli_usage_error(cli, "one TOPIC at a time");
        return LM_CLI_BAD;
    }
    a->topic_arg = argv[optind];
    return LM_CLI_END;
}

/* A group-less reader with every partition of topic assigned at its
 * start or its end. The caller closes and destroys it; NULL said on
 * stderr. */
static rd_kafka_t *open_reader(const lm_settings *s, const char *topic,
                               int from_beginning) {
    char err[TAIL_ERR_MAX] = "";
    rd_kafka_conf_t *conf =
        lm_kafka_conf(s, LM_KAFKA_READER, NULL, err, sizeof(err));
    if (!conf) {
        fprintf(stderr, "lastmile tail: %s\n", err);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* not taken on failure */
        fprintf(stderr, "lastmile tail: %s\n", err);
        return NULL;
    }
    if (lm_kafka_assign_all(
            rk, topic,
            from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END,
            TAIL_METADATA_TIMEOUT_MS, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile tail: %s\n", err);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

/* Prints messages off rk, decoded as d, until --limit, --timeout-ms, a
 * signal or a fatal error. LM_EXIT_OK, or LM_EXIT_FAILED after a fatal
 * Kafka error or out of memory. */
static int follow(rd_kafka_t *rk, const ProtobufCMessageDescriptor *d,
                  const tail_args *a) {
    int rc = LM_EXIT_OK;
    int64_t n = 0, last = lm_clock_mono_ms();
    while (!tail_stop && (a->limit == 0 || n < a->limit)) {
        if (a->timeout_ms > 0 && lm_clock_mono_ms() - last >= a->timeout_ms)
            break;
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, TAIL_POLL_MS);
        if (!rkm)
            continue;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* caught up on one partition: not a message */
        } else if (rkm->err) {
            fprintf(stderr, "lastmile tail: %s\n",
                    rd_kafka_message_errstr(rkm));
            if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
                rc = LM_EXIT_FAILED;
                tail_stop = 1;
            }
        } else {
            if (print_message(d, rkm) != 0) {
                fprintf(stderr, "lastmile tail: out of memory\n");
                rc = LM_EXIT_FAILED;
                tail_stop = 1;
            }
            n++;
            last = lm_clock_mono_ms();
        }
        rd_kafka_message_destroy(rkm);
    }
    return rc;
}

int lm_cmd_tail(int argc, char **argv) {
    static const struct option longopts[] = {
        {"from-beginning", no_argument, NULL, 'b'},
        {"limit", required_argument, NULL, 'l'},
        {"timeout-ms", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "tail", .usage = usage, .longopts = longopts};
    tail_args a;
    int opt = parse_options(&cli, argc, argv, &a);
    if (opt != LM_CLI_END)
        return lm_cli_exit(opt);

    lm_settings s;
    if (lm_cli_settings(&cli, &s) != 0)
        return LM_EXIT_FAILED;
    char topic[LM_TOPIC_MAX];
    const ProtobufCMessageDescriptor *d =
        resolve(&s, a.topic_arg, topic, sizeof(topic));
    if (!d) {
        lm_cli_usage_error(&cli,
                           "%s is not a lastmile topic; give a suffix "
                           "(intake, qualification, followup, actions, "
                           "timing, outcomes, dlq) or a full name ending "
                           "in one",
                           a.topic_arg);
        lm_settings_free(&s);
        return LM_EXIT_USAGE;
    }
    if (!s.brokers || !*s.brokers) {
        fprintf(stderr,
                "lastmile tail: LASTMILE_BROKERS is not set (e.g. "
                "LASTMILE_BROKERS=kafka-0:9092, or eval \"$(lastmile dev "
                "up)\")\n");
        lm_settings_free(&s);
        return LM_EXIT_FAILED;
    }
    int rc = LM_EXIT_FAILED;
    rd_kafka_t *rk = open_reader(&s, topic, a.from_beginning);
    if (rk) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = follow(rk, d, &a);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    lm_settings_free(&s);
    return rc;
}
