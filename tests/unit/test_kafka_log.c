/* test_kafka_log.c — librdkafka's own log lines come out as lastmile's
 * JSON log lines (issue: "%3|...|FAIL|..." lines on stderr between the
 * JSON lines broke JSON-lines collection).
 *
 * A producer made by lm_kafka_conf is pointed at a closed loopback port
 * (127.0.0.1:1); librdkafka logs the refused connection; every line on
 * stderr must be a JSON object, and one must be that log. No broker.
 *
 * And the passthrough properties (LASTMILE_KAFKA_*) reach only the
 * clients they are for: a producer given the fleet's fetch wait logged
 * "fetch.wait.max.ms is a consumer property and will be ignored by this
 * producer instance" at every start. */
#include "lm_kafka.h"
#include "lm_log.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

Test(kafka_log, librdkafka_lines_are_json_log_lines, .timeout = 60) {
    char path[] = "/tmp/lm-kafka-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);

    lm_log_init("test", LM_LOG_INFO);
    lm_settings s;
    memset(&s, 0, sizeof(s));
    s.brokers = "127.0.0.1:1";
    char err[512];
    rd_kafka_conf_t *conf =
        lm_kafka_conf(&s, LM_KAFKA_PRODUCER, NULL, err, sizeof(err));
    cr_assert_not_null(conf, "%s", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    cr_assert_not_null(rk, "%s", err);
    /* wait, bounded, until librdkafka has logged the refused connection */
    int found = 0;
    for (int i = 0; i < 100 && !found; i++) {
        rd_kafka_poll(rk, 100);
        char buf[8192];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        found = strstr(buf, "\"event\":\"kafka\"") != NULL;
    }
    rd_kafka_destroy(rk);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[8192];
    int lines = 0, kafka = 0;
    while (fgets(line, sizeof(line), f)) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        cr_expect_not_null(j, "not a JSON line: %s", line);
        if (!j)
            continue;
        lines++;
        const char *event = json_string_value(json_object_get(j, "event"));
        if (event && strcmp(event, "kafka") == 0) {
            kafka++;
            cr_expect_not_null(json_object_get(j, "facility"));
            cr_expect_str_eq(json_string_value(json_object_get(j, "level")),
                             "error", "a refused connection is an error");
        }
        json_decref(j);
    }
    fclose(f);
    unlink(path);
    cr_expect_gt(kafka, 0,
                 "librdkafka logged nothing through lm_log (%d "
                 "lines)",
                 lines);
}

/* The warning a client of the other side logged, or NULL: librdkafka
 * checks a conf's properties against the client's side in rd_kafka_new. */
static char *new_client_warning(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char path[] = "/tmp/lm-kafka-side-XXXXXX", err[512];
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    cr_assert_not_null(rk, "%s", err);
    rd_kafka_destroy(rk);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[16384];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    const char *w = strstr(buf, "will be ignored");
    return w ? strndup(w, 80) : NULL;
}

/* conf's value of property `name` (into v, vsz bytes). */
static const char *conf_value(rd_kafka_conf_t *conf, const char *name, char *v,
                              size_t vsz) {
    cr_assert_eq(rd_kafka_conf_get(conf, name, v, &vsz), RD_KAFKA_CONF_OK, "%s",
                 name);
    return v;
}

Test(kafka_log, passthrough_properties_reach_their_side_only, .timeout = 60) {
    lm_log_init("test", LM_LOG_INFO);
    cr_expect_eq(lm_kafka_property_side("fetch.wait.max.ms"), 'C');
    cr_expect_eq(lm_kafka_property_side("linger.ms"), 'P');
    cr_expect_eq(lm_kafka_property_side("socket.nagle.disable"), '*');
    cr_expect_eq(lm_kafka_property_side("no.such.property"), '*');
    cr_expect_eq(lm_kafka_property_side("fetch.wait"), '*',
                 "a prefix of a name is not the name");

    lm_settings s;
    memset(&s, 0, sizeof(s));
    s.brokers = "127.0.0.1:1";
    s.kafka[0] = (lm_kafka_prop){"fetch.wait.max.ms", "7"};
    s.kafka[1] = (lm_kafka_prop){"linger.ms", "3"};
    s.kafka[2] = (lm_kafka_prop){"socket.keepalive.enable", "true"};
    s.n_kafka = 3;
    /* a property left out keeps librdkafka's own default */
    char fetch_default[64], linger_default[64], err[512], v[64];
    rd_kafka_conf_t *bare = rd_kafka_conf_new();
    conf_value(bare, "fetch.wait.max.ms", fetch_default, sizeof(fetch_default));
    conf_value(bare, "linger.ms", linger_default, sizeof(linger_default));
    rd_kafka_conf_destroy(bare);
    const struct {
        lm_kafka_role role;
        rd_kafka_type_t type;
        const char *fetch_wait, *linger;
    } roles[] = {
        {LM_KAFKA_PRODUCER, RD_KAFKA_PRODUCER, fetch_default, "3"},
        {LM_KAFKA_CONSUMER, RD_KAFKA_CONSUMER, "7", linger_default},
        {LM_KAFKA_READER, RD_KAFKA_CONSUMER, "7", linger_default},
    };
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        rd_kafka_conf_t *conf =
            lm_kafka_conf(&s, roles[i].role, "g", err, sizeof(err));
        cr_assert_not_null(conf, "%s", err);
        cr_expect_str_eq(conf_value(conf, "fetch.wait.max.ms", v, sizeof(v)),
                         roles[i].fetch_wait, "role %zu", i);
        cr_expect_str_eq(conf_value(conf, "linger.ms", v, sizeof(v)),
                         roles[i].linger, "role %zu", i);
        cr_expect_str_eq(
            conf_value(conf, "socket.keepalive.enable", v, sizeof(v)), "true",
            "role %zu: a property of both sides reaches both", i);
        char *w = new_client_warning(roles[i].type, conf);
        cr_expect_null(w, "role %zu: librdkafka warned: %s", i, w);
        free(w);
    }
}
