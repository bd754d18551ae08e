/* test_kafka_log.c — librdkafka's own log lines come out as lastmile's
 * JSON log lines (issue: "%3|...|FAIL|..." lines on stderr between the
 * JSON lines broke JSON-lines collection).
 *
 * A producer made by lm_kafka_conf is pointed at a closed loopback port
 * (127.0.0.1:1); librdkafka logs the refused connection; every line on
 * stderr must be a JSON object, and one must be that log. No broker. */
#include "lm_kafka.h"
#include "lm_log.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
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
