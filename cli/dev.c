/* dev.c — `lastmile dev`: the embedded broker and Redis (lm_devstack).
 *
 *   lastmile dev up [--partitions N]   start both, print the environment
 *   lastmile dev down                  stop both
 *   lastmile dev env                   print the environment again
 *   lastmile dev fault broker-down SECONDS | broker-up |
 *                      request-errors APIKEY ERRCODE COUNT
 *   lastmile dev broker ...            (internal) host the mock cluster
 * The stack lives in LASTMILE_DEV_DIR (default ./.lastmile). */
#include "cli.h"

#include "lm_devstack.h"
#include "lm_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

static void dev_usage(FILE *f) {
    fprintf(f,
            "usage: lastmile dev up [--partitions N] [--prefix PREFIX]\n"
            "       lastmile dev down\n"
            "       lastmile dev env\n"
            "       lastmile dev fault broker-down SECONDS | broker-up |\n"
            "                          request-errors APIKEY ERRCODE COUNT\n\n"
            "Runs the embedded default: librdkafka's mock Kafka cluster in "
            "its own process\nand a redis-server on a free loopback port. "
            "State in LASTMILE_DEV_DIR\n(default ./.lastmile). Use it with:\n"
            "  eval \"$(lastmile dev up)\"\n");
}

static int dev_up(int argc, char **argv) {
    int partitions = 0;
    const char *prefix = getenv("LASTMILE_TOPIC_PREFIX");
    if (prefix && !*prefix)
        prefix = NULL;
    for (int i = 1; i < argc; i++) {
        int64_t v;
        if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc) {
            if (lm_parse_int64(argv[++i], 1, 256, &v) != 0) {
                fprintf(stderr, "lastmile dev up: --partitions takes a whole "
                                "number from 1 to 256\n");
                return LM_EXIT_USAGE;
            }
            partitions = (int)v;
        } else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) {
            prefix = argv[++i];
        } else {
            dev_usage(stderr);
            return LM_EXIT_USAGE;
        }
    }
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
                          .partitions = partitions};
    if (lm_devstack_up(&o, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile dev up: %s\n", err);
        return LM_EXIT_FAILED;
    }
    char env[2048];
    lm_devstack_env(&st, prefix, env, sizeof(env));
    fputs(env, stdout);
    fprintf(stderr, "# stack up in %s (broker pid %ld, redis pid %ld)\n",
            st.dir, (long)st.broker_pid, (long)st.redis_pid);
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

static int dev_fault(int argc, char **argv, lm_devstack *st) {
    char cmd[256];
    if (argc >= 3 && strcmp(argv[1], "broker-down") == 0)
        snprintf(cmd, sizeof(cmd), "down %s", argv[2]);
    else if (argc >= 2 && strcmp(argv[1], "broker-up") == 0)
        snprintf(cmd, sizeof(cmd), "up");
    else if (argc >= 5 && strcmp(argv[1], "request-errors") == 0)
        snprintf(cmd, sizeof(cmd), "errors %s %s %s", argv[2], argv[3],
                 argv[4]);
    else {
        dev_usage(stderr);
        return LM_EXIT_USAGE;
    }
    if (lm_devstack_broker_ctl(st, cmd) != 0) {
        fprintf(stderr,
                "lastmile dev fault: the broker does not listen on "
                "%s/broker.ctl\n",
                st->dir);
        return LM_EXIT_FAILED;
    }
    return LM_EXIT_OK;
}

int lm_cmd_dev(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        dev_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? LM_EXIT_USAGE : LM_EXIT_OK;
    }
    lm_devstack st;
    if (strcmp(argv[1], "up") == 0)
        return dev_up(argc - 1, argv + 1);
    if (strcmp(argv[1], "broker") == 0) {
        const char *dir = NULL, *prefix = "lastmile.";
        int64_t parts = LM_DEVSTACK_PARTITIONS_DEFAULT;
        for (int i = 2; i + 1 < argc; i += 2) {
            if (strcmp(argv[i], "--dir") == 0)
                dir = argv[i + 1];
            else if (strcmp(argv[i], "--prefix") == 0)
                prefix = argv[i + 1];
            else if (strcmp(argv[i], "--partitions") == 0 &&
                     lm_parse_int64(argv[i + 1], 1, 256, &parts) != 0)
                return LM_EXIT_USAGE;
        }
        if (!dir)
            return LM_EXIT_USAGE;
        return lm_devstack_broker_main(dir, prefix, (int)parts);
    }
    if (dev_loaded(&st) != 0)
        return LM_EXIT_FAILED;
    if (strcmp(argv[1], "down") == 0) {
        lm_devstack_down(&st);
        fprintf(stderr, "# stack in %s stopped\n", st.dir);
        return LM_EXIT_OK;
    }
    if (strcmp(argv[1], "env") == 0) {
        char env[2048];
        const char *prefix = getenv("LASTMILE_TOPIC_PREFIX");
        lm_devstack_env(&st, prefix && *prefix ? prefix : NULL, env,
                        sizeof(env));
        fputs(env, stdout);
        return LM_EXIT_OK;
    }
    if (strcmp(argv[1], "fault") == 0)
        return dev_fault(argc - 1, argv + 1, &st);
    dev_usage(stderr);
    return LM_EXIT_USAGE;
}
