/* dev.c — `lastmile dev`: the embedded broker and Redis (lm_devstack).
 *
 *   lastmile dev up [--partitions N] [--prefix P] [--redis-cluster]
 *                                      start both, print the env
 *   lastmile dev down                  stop both
 *   lastmile dev env                   print the environment again
 *   lastmile dev fault broker-down SECONDS | broker-up |
 *                      request-errors APIKEY ERRCODE COUNT
 *   lastmile dev broker --dir D ...    (internal) host the mock cluster
 * The stack lives in LASTMILE_DEV_DIR (default ./.lastmile). Every
 * subcommand reads its own options (lm_cli_getopt) from its argv, whose
 * argv[0] is its name; a fault's numbers are checked here, before the
 * broker is told anything (it ignores what it cannot parse). */
#include "cli.h"

#include "lm_devstack.h"
#include "lm_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

/* what the broker accepts (lm_devstack.c's broker_command) */
#define FAULT_DOWN_SECONDS_MAX 3600
#define FAULT_APIKEY_MAX       100
#define FAULT_ERRCODE_MAX      200
#define FAULT_COUNT_MAX        1000

static void dev_usage(FILE *f) {
    fprintf(f,
            "usage: lastmile dev up [--partitions N] [--prefix PREFIX] "
            "[--redis-cluster]\n"
            "       lastmile dev down\n"
            "       lastmile dev env\n"
            "       lastmile dev fault broker-down SECONDS | broker-up |\n"
            "                          request-errors APIKEY ERRCODE COUNT\n\n"
            "Runs the embedded default: librdkafka's mock Kafka cluster in "
            "its own process\nand a redis-server on a free loopback port. "
            "State in LASTMILE_DEV_DIR\n(default ./.lastmile). Use it with:\n"
            "  eval \"$(lastmile dev up)\"\n\n"
            "  --partitions N   (up) partitions per topic, 1 to 256 "
            "(default %d)\n"
            "  --prefix PREFIX  (up) the topic prefix (default "
            "LASTMILE_TOPIC_PREFIX,\n"
            "                   else lastmile.)\n"
            "  --redis-cluster  (up) a local Redis Cluster (3 masters, 3 "
            "replicas) instead\n"
            "                   of one redis-server, for the tools (report, "
            "waiting, board,\n"
            "                   bench) and the workers "
            "(docs/DELIVERY.md)\n\n"
            "Faults for the running stack's broker: broker-down SECONDS "
            "(1 to %d) takes it\ndown and brings it back; request-errors "
            "makes its next COUNT (1 to %d)\nrequests of Kafka API APIKEY "
            "(0 to %d) fail with error ERRCODE (-%d to %d).\n",
            LM_DEVSTACK_PARTITIONS_DEFAULT, FAULT_DOWN_SECONDS_MAX,
            FAULT_COUNT_MAX, FAULT_APIKEY_MAX, FAULT_ERRCODE_MAX,
            FAULT_ERRCODE_MAX);
}

/* What `dev up --redis-cluster` started, and what runs on it. */
static void dev_cluster_note(const lm_devstack *st) {
    fprintf(stderr,
            "# stack up in %s (broker pid %ld; Redis Cluster of %d nodes, "
            "3 masters + 3 replicas,\n# on 127.0.0.1:%d and the ports in "
            "LASTMILE_REDIS_URL)\n"
            "# The tools (report, waiting, board, bench) read every master; "
            "the workers run on it:\n# one guarded unit per slot, side "
            "writes behind markers, WAIT for a replica\n# "
            "(docs/DELIVERY.md, \"On a Redis Cluster\").\n",
            st->dir, (long)st->broker_pid, LM_DEVSTACK_CLUSTER_NODES,
            st->redis_port);
}

static int dev_up(int argc, char **argv) {
    static const struct option longopts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"prefix", required_argument, NULL, 'x'},
        {"redis-cluster", no_argument, NULL, 'c'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {
        .name = "dev up", .usage = dev_usage, .longopts = longopts};
    int partitions = 0, cluster = 0;
    const char *prefix = getenv("LASTMILE_TOPIC_PREFIX");
    if (prefix && !*prefix)
        prefix = NULL;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        int64_t v;
        if (o == 'p') {
            if (lm_parse_int64(optarg, 1, 256, &v) != 0)
                return lm_cli_usage_error(&cli, "--partitions takes a whole "
                                                "number from 1 to 256");
            partitions = (int)v;
        } else if (o == 'x') {
            prefix = optarg;
        } else if (o == 'c') {
            cluster = 1;
        } else {
            return lm_cli_exit(o);
        }
    }
    if (lm_cli_no_operands(&cli, argc, argv) != 0)
        return LM_EXIT_USAGE;
    char err[1024];
    lm_devstack st;
    if (lm_devstack_load(lm_cli_dev_dir(), &st, err, sizeof(err)) == 0 &&
        st.broker_pid > 0 && kill(st.broker_pid, 0) == 0) {
        fprintf(stderr,
                "lastmile dev up: a stack is already running in %s "
                "(`lastmile dev down` stops it)\n",
                lm_cli_dev_dir());
        return LM_EXIT_FAILED;
    }
    lm_devstack_opts o = {.dir = lm_cli_dev_dir(),
                          .lastmile_exe = lm_cli_self(),
                          .topic_prefix = prefix,
                          .partitions = partitions,
                          .redis_cluster = cluster};
    if (lm_devstack_up(&o, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile dev up: %s\n", err);
        return LM_EXIT_FAILED;
    }
    char env[2048];
    lm_devstack_env(&st, prefix, env, sizeof(env));
    fputs(env, stdout);
    if (st.redis_cluster)
        dev_cluster_note(&st);
    else
        fprintf(stderr, "# stack up in %s (broker pid %ld, redis pid %ld)\n",
                st.dir, (long)st.broker_pid, (long)st.redis_pid);
    if (st.redis_previous)
        fprintf(stderr,
                "# both start empty (the embedded broker keeps nothing "
                "across a restart);\n# the last run's Redis files are in "
                "%s/previous-%s/\n",
                st.dir, st.redis_cluster ? "cluster" : "redis");
    return LM_EXIT_OK;
}

static int dev_loaded(lm_devstack *st) {
    char err[1024];
    if (lm_devstack_load(lm_cli_dev_dir(), st, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile dev: %s\n", err);
        return -1;
    }
    return 0;
}

/* fault operand a[i] as a whole number in [min, max], or a usage error */
static int fault_number(const lm_cli_cmd *cli, char **a, int i,
                        const char *what, int64_t min, int64_t max) {
    int64_t v;
    if (lm_parse_int64(a[i], min, max, &v) == 0)
        return 0;
    lm_cli_usage_error(cli,
                       "%s: %s takes a whole number from %lld to %lld, "
                       "not '%s'",
                       a[0], what, (long long)min, (long long)max, a[i]);
    return -1;
}

/* `dev fault KIND ARGS...` (argv[0] = "fault") → the broker's control
 * command in cmd. LM_CLI_END when cmd is made, else LM_CLI_HELP or
 * LM_CLI_BAD (said). */
static int fault_command(int argc, char **argv, char *cmd, size_t cmdsz) {
    /* in order: an ERRCODE may be negative, which is not an option */
    lm_cli_cmd cli = {.name = "dev fault", .usage = dev_usage, .in_order = 1};
    int o = lm_cli_getopt(&cli, argc, argv);
    if (o != LM_CLI_END)
        return o;
    char **a = argv + optind; /* a[0] the kind, then its numbers */
    int n = argc - optind;
    const char *kind = n > 0 ? a[0] : "";
    int want = strcmp(kind, "broker-down") == 0      ? 2
               : strcmp(kind, "broker-up") == 0      ? 1
               : strcmp(kind, "request-errors") == 0 ? 4
                                                     : 0;
    if (want == 0) {
        lm_cli_usage_error(&cli,
                           "%s%s%s; give broker-down SECONDS, broker-up or "
                           "request-errors APIKEY ERRCODE COUNT",
                           *kind ? "unknown fault '" : "the fault is missing",
                           kind, *kind ? "'" : "");
        return LM_CLI_BAD;
    }
    if (n != want) {
        lm_cli_usage_error(&cli, "%s takes %d argument%s, not %d", kind,
                           want - 1, want == 2 ? "" : "s", n - 1);
        return LM_CLI_BAD;
    }
    if (want == 2) {
        if (fault_number(&cli, a, 1, "SECONDS", 1, FAULT_DOWN_SECONDS_MAX))
            return LM_CLI_BAD;
        snprintf(cmd, cmdsz, "down %s", a[1]);
    } else if (want == 1) {
        snprintf(cmd, cmdsz, "up");
    } else {
        if (fault_number(&cli, a, 1, "APIKEY", 0, FAULT_APIKEY_MAX) ||
            fault_number(&cli, a, 2, "ERRCODE", -FAULT_ERRCODE_MAX,
                         FAULT_ERRCODE_MAX) ||
            fault_number(&cli, a, 3, "COUNT", 1, FAULT_COUNT_MAX))
            return LM_CLI_BAD;
        snprintf(cmd, cmdsz, "errors %s %s %s", a[1], a[2], a[3]);
    }
    return LM_CLI_END;
}

static int dev_fault(const char *cmd, lm_devstack *st) {
    if (lm_devstack_broker_ctl(st, cmd) != 0) {
        fprintf(stderr,
                "lastmile dev fault: the broker does not listen on "
                "%s/broker.ctl\n",
                st->dir);
        return LM_EXIT_FAILED;
    }
    return LM_EXIT_OK;
}

/* `dev broker --dir D [--partitions N] [--prefix P]`: what lm_devstack_up
 * spawns to host the mock cluster; not in --help. */
static int dev_broker(int argc, char **argv) {
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"partitions", required_argument, NULL, 'p'},
        {"prefix", required_argument, NULL, 'x'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {
        .name = "dev broker", .usage = dev_usage, .longopts = longopts};
    const char *dir = NULL, *prefix = "lastmile.";
    int64_t parts = LM_DEVSTACK_PARTITIONS_DEFAULT;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'd')
            dir = optarg;
        else if (o == 'x')
            prefix = optarg;
        else if (o != 'p')
            return lm_cli_exit(o);
        else if (lm_parse_int64(optarg, 1, 256, &parts) != 0)
            return lm_cli_usage_error(&cli, "--partitions takes a whole "
                                            "number from 1 to 256");
    }
    if (lm_cli_no_operands(&cli, argc, argv) != 0)
        return LM_EXIT_USAGE;
    if (!dir)
        return lm_cli_usage_error(&cli, "--dir is missing");
    return lm_devstack_broker_main(dir, prefix, (int)parts);
}

/* `dev down` and `dev env`: no options but --help, no operands.
 * LM_CLI_END to go on, else LM_CLI_HELP or LM_CLI_BAD (said). */
static int dev_plain(const char *name, int argc, char **argv) {
    lm_cli_cmd cli = {.name = name, .usage = dev_usage};
    int o = lm_cli_getopt(&cli, argc, argv);
    if (o == LM_CLI_END && lm_cli_no_operands(&cli, argc, argv) != 0)
        return LM_CLI_BAD;
    return o;
}

int lm_cmd_dev(int argc, char **argv) {
    lm_cli_cmd cli = {.name = "dev", .usage = dev_usage, .in_order = 1};
    int o = lm_cli_getopt(&cli, argc, argv);
    if (o != LM_CLI_END)
        return lm_cli_exit(o);
    if (optind >= argc) {
        dev_usage(stderr);
        return LM_EXIT_USAGE;
    }
    const char *sub = argv[optind];
    argc -= optind; /* the subcommand's argv: argv[0] = its name */
    argv += optind;
    if (strcmp(sub, "up") == 0)
        return dev_up(argc, argv);
    if (strcmp(sub, "broker") == 0)
        return dev_broker(argc, argv);
    char cmd[256];
    if (strcmp(sub, "fault") == 0)
        o = fault_command(argc, argv, cmd, sizeof(cmd));
    else if (strcmp(sub, "down") == 0)
        o = dev_plain("dev down", argc, argv);
    else if (strcmp(sub, "env") == 0)
        o = dev_plain("dev env", argc, argv);
    else
        return lm_cli_usage_error(&cli,
                                  "unknown subcommand '%s'; give up, down, "
                                  "env or fault",
                                  sub);
    if (o != LM_CLI_END)
        return lm_cli_exit(o);
    lm_devstack st;
    if (dev_loaded(&st) != 0)
        return LM_EXIT_FAILED;
    if (strcmp(sub, "down") == 0) {
        lm_devstack_down(&st);
        fprintf(stderr, "# stack in %s stopped\n", st.dir);
        return LM_EXIT_OK;
    }
    if (strcmp(sub, "env") == 0) {
        char env[2048];
        const char *prefix = getenv("LASTMILE_TOPIC_PREFIX");
        lm_devstack_env(&st, prefix && *prefix ? prefix : NULL, env,
                        sizeof(env));
        fputs(env, stdout);
        return LM_EXIT_OK;
    }
    return dev_fault(cmd, &st);
}
