/* test_env.c — every configuration error path of lm_settings_load: each
 * message names the variable, what is wrong, and an example. */
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_redis.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void base_env(void) {
    clearenv();
    setenv("LASTMILE_BROKERS", "127.0.0.1:9092", 1);
    setenv("LASTMILE_REDIS_URL", "redis://127.0.0.1:6379/0", 1);
}

typedef struct env_case {
    const char *name, *value, *want;
} env_case;

static env_case cases[] = {
    {"LASTMILE_BROKERS", NULL, "LASTMILE_BROKERS is not set"},
    {"LASTMILE_REDIS_URL", NULL, "LASTMILE_REDIS_URL is not set"},
    {"LASTMILE_BROKERS", "a:1, b:2", "has a space"},
    {"LASTMILE_LOG_LEVEL", "loud",
     "LASTMILE_LOG_LEVEL: \"loud\" is not a level"},
    {"LASTMILE_BATCH_MAX", "0",
     "LASTMILE_BATCH_MAX: \"0\" is not a whole number"},
    {"LASTMILE_BATCH_MAX", "12abc", "example: LASTMILE_BATCH_MAX=200"},
    {"LASTMILE_TIME_SCALE", "-3", "LASTMILE_TIME_SCALE: \"-3\""},
    {"LASTMILE_TIME_SCALE", "3600", "LASTMILE_TIME_ORIGIN_MS is not set"},
    {"LASTMILE_TOPIC_PREFIX", "a b", "may hold only letters"},
    {"LASTMILE_DEDUPE_TTL_S", "5", "LASTMILE_DEDUPE_TTL_S"},
    {"LASTMILE_SHUTDOWN_TIMEOUT_MS", "x", "LASTMILE_SHUTDOWN_TIMEOUT_MS"},
    {"LASTMILE_REDIS_TIMEOUT_MS", "0", "LASTMILE_REDIS_TIMEOUT_MS"},
    {"LASTMILE_BROKER", "x:1", "did you mean LASTMILE_BROKERS"},
    {"LASTMILE_INSTANCE_ID", "intake 0", "LASTMILE_INSTANCE_ID=intake 0: only"},
    {"LASTMILE_REDIS_URL_FILE", "/nonexistent/secret",
     "LASTMILE_REDIS_URL and LASTMILE_REDIS_URL_FILE are both set"},
};

static void check_env_case(const env_case *c) {
    base_env();
    if (c->value)
        setenv(c->name, c->value, 1);
    else
        unsetenv(c->name);
    lm_settings s;
    char err[4096] = "";
    if (lm_settings_load(&s, "intake", err, sizeof(err)) == 0) {
        cr_expect_fail("%s=%s accepted", c->name,
                       c->value ? c->value : "(unset)");
        lm_settings_free(&s);
        return;
    }
    cr_expect(strstr(err, c->want), "for %s: got \"%s\", want \"%s\"", c->name,
              err, c->want);
}

Test(env, errors) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_env_case(&cases[i]);
}

Test(env, good_and_passthrough) {
    base_env();
    setenv("LASTMILE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL", 1);
    setenv("LASTMILE_LOG_LEVEL", "", 1); /* empty counts as unset */
    lm_settings s;
    char err[4096] = "";
    cr_assert_eq(lm_settings_load(&s, "intake", err, sizeof(err)), 0, "%s",
                 err);
    cr_expect_str_eq(s.topic_prefix, "lastmile.");
    cr_expect_eq(s.batch_max, 500);
    cr_expect_eq(s.n_kafka, 1);
    cr_expect_str_eq(s.kafka[0].name, "security.protocol");
    lm_settings_free(&s);
}

/* A given name is stable across restarts: the consumer joins its group as
 * a static member under it. Not given, the name holds the pid and the
 * membership stays dynamic (a static name that changes on every restart
 * would only keep dead members in the group). */
static const char *consumer_instance(const char *instance_env, char *name,
                                     size_t namesz) {
    base_env();
    if (instance_env)
        setenv("LASTMILE_INSTANCE_ID", instance_env, 1);
    lm_settings s;
    char err[4096] = "";
    cr_assert_eq(lm_settings_load(&s, "intake", err, sizeof(err)), 0, "%s",
                 err);
    snprintf(name, namesz, "%s", s.instance_id);
    rd_kafka_conf_t *conf = lm_kafka_conf(&s, LM_KAFKA_CONSUMER,
                                          "lastmile-intake", err, sizeof(err));
    cr_assert(conf, "%s", err);
    static char got[256];
    size_t len = sizeof(got);
    if (rd_kafka_conf_get(conf, "group.instance.id", got, &len) !=
        RD_KAFKA_CONF_OK)
        got[0] = '\0';
    rd_kafka_conf_destroy(conf);
    lm_settings_free(&s);
    return got;
}

Test(env, static_membership) {
    char name[256], host[128] = "";
    gethostname(host, sizeof(host) - 1);
    cr_expect_str_eq(consumer_instance("qualification-1", name, sizeof(name)),
                     "qualification-1");
    cr_expect_str_eq(consumer_instance("@hostname", name, sizeof(name)), host);
    cr_expect_str_eq(name, host);
    cr_expect_str_eq(consumer_instance(NULL, name, sizeof(name)), "");
    cr_expect(strncmp(name, host, strlen(host)) == 0 &&
                  name[strlen(host)] == '-',
              "default name %s is not <host>-<pid>", name);
}

Test(env, secret_from_file) {
    base_env();
    unsetenv("LASTMILE_REDIS_URL");
    char path[] = "/tmp/lm-secret-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("redis://:s3cret@127.0.0.1:6379/2\n", f);
    fclose(f);
    setenv("LASTMILE_REDIS_URL_FILE", path, 1);
    lm_settings s;
    char err[4096] = "";
    cr_assert_eq(lm_settings_load(&s, "intake", err, sizeof(err)), 0, "%s",
                 err);
    cr_expect_str_eq(s.redis_url, "redis://:s3cret@127.0.0.1:6379/2");
    lm_settings_free(&s);
    unlink(path);
}

typedef struct url_case {
    const char *url, *want; /* want NULL: valid */
} url_case;

static url_case urls[] = {
    {"redis://127.0.0.1:6379/0", NULL},
    {"redis://user:pw@host:7000/3", NULL},
    {"redis://[::1]:6379", NULL},
    {"unix:///run/redis.sock?db=2", NULL},
    {"http://x", "must start with redis:// or unix://"},
    {"rediss://x:1", "TLS (rediss://) is not supported"},
    {"redis://:pw@host:99999", "the port is not a number"},
    {"redis://host/99", "the database after '/' must be 0-15"},
    {"unix://relative.sock", "absolute socket path"},
    {"", "is empty"},
};

static void check_url_case(const url_case *c) {
    lm_redis_url u;
    char err[512] = "";
    int rc = lm_redis_url_parse(c->url, &u, err, sizeof(err));
    if (!c->want) {
        cr_expect_eq(rc, 0, "%s: %s", c->url, err);
    } else {
        cr_expect_eq(rc, -1, "%s accepted", c->url);
        cr_expect(strstr(err, c->want), "%s: got \"%s\"", c->url, err);
        cr_expect(!strstr(err, "pw@"), "the password leaked: %s", err);
    }
}

Test(env, redis_urls) {
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
        check_url_case(&urls[i]);
}
