/* report.c — `lastmile report [--json]`: the business report.
 *
 * Reads the invalid submissions off the dead-letter topic (group-less,
 * from the first offset to the high watermarks taken at start: a snapshot,
 * nothing committed), then every lead hash in Redis, and prints the figures
 * of lm_report (docs/REPORT.md says what each one means). Read-only: it
 * changes nothing in Kafka or Redis, so it is safe to run at any time,
 * as often as wanted, next to a running fleet. Single-threaded. */
#include "cli.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_report.h"
#include "lm_report_owners.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ERR_MAX 2048

static void usage(FILE *f) {
    fprintf(f,
            "usage: lastmile report [--json]\n\n"
            "The business report of the fleet: the funnel (submitted, "
            "accepted, decided,\ntouched, outcomes), speed-to-lead, cycle "
            "time, dead time per stage, cost per\noutcome, revenue per lead, "
            "and whether learned timing beats the fixed\nschedule. Read-only; "
            "see docs/REPORT.md for every figure.\n\n"
            "  --json   one JSON object on stdout instead of tables\n\n"
            "Needs LASTMILE_BROKERS (invalid input is counted on the "
            "dead-letter topic)\nand LASTMILE_REDIS_URL (lead state). "
            "`eval \"$(lastmile dev up)\"` sets both\nfor the embedded "
            "stack.\n");
}

static int need(const char *value, const char *name, const char *example) {
    if (value && *value)
        return 0;
    fprintf(stderr,
            "lastmile report: %s is not set (example: %s=%s); for the "
            "embedded stack run `eval \"$(lastmile dev up)\"` first\n",
            name, name, example);
    return -1;
}

int lm_cli_report_collect(const lm_settings *s, lm_report *rep, char *err,
                          size_t errsz) {
    lm_report_opts o = {.now_ms = lm_clock_now_ms()};
    char why[ERR_MAX];
    if (lm_report_read_topic(s, LM_TOPIC_DLQ, 0, lm_report_count_invalid,
                             &o.invalid, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "counting invalid input: %s", why);
        return -1;
    }
    /* before the scan: a lead decided while it runs is then found */
    if (!(o.pending = lm_strmap_new(0))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (lm_report_read_pending(s, LM_TOPIC_QUALIFICATION, 0,
                               lm_report_add_pending, o.pending, why,
                               sizeof(why)) < 0) {
        snprintf(err, errsz,
                 "counting the leads qualification has not taken: %s", why);
        lm_strmap_free(o.pending);
        return -1;
    }
    lm_redis *r =
        lm_redis_new(s->redis_url, s->redis_timeout_ms, why, sizeof(why));
    int rc = -1;
    if (!r || lm_redis_connect(r, why, sizeof(why)) != 0)
        snprintf(err, errsz, "Redis: %s", why);
    else if (lm_report_collect(r, &o, rep, why, sizeof(why)) != 0)
        snprintf(err, errsz, "reading leads from Redis: %s", why);
    else
        rc = 0;
    lm_redis_destroy(r);
    lm_strmap_free(o.pending);
    return rc;
}

int lm_cmd_report(int argc, char **argv) {
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "report", .usage = usage, .longopts = longopts};
    int json = 0;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o != 'j')
            return lm_cli_exit(o);
        json = 1;
    }
    if (lm_cli_no_operands(&cli, argc, argv) != 0)
        return LM_EXIT_USAGE;

    char err[ERR_MAX];
    lm_settings s;
    if (lm_cli_settings(&cli, &s) != 0)
        return LM_EXIT_FAILED;
    int rc = LM_EXIT_FAILED;
    lm_report rep;
    memset(&rep, 0, sizeof(rep));
    if (need(s.brokers, "LASTMILE_BROKERS", "localhost:9092") != 0 ||
        need(s.redis_url, "LASTMILE_REDIS_URL", "redis://localhost:6379/0") !=
            0)
        goto done;
    lm_clock_init(s.time_scale, s.time_origin_ms, s.time_start_ms);

    if (lm_cli_report_collect(&s, &rep, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile report: %s\n", err);
        goto done;
    }
    if (json) {
        json_t *j = NULL;
        if (lm_report_json(&rep, &j) != 0) {
            fprintf(stderr, "lastmile report: out of memory\n");
            goto done;
        }
        lm_report_owners_attach(&s, "lastmile report", j, NULL);
        int w = json_dumpf(j, stdout, JSON_INDENT(2) | LM_REPORT_JSON_REAL);
        json_decref(j);
        if (w != 0 || fputc('\n', stdout) == EOF)
            goto done;
    } else {
        lm_report_print(&rep, stdout, isatty(STDOUT_FILENO));
        lm_report_owners_attach(&s, "lastmile report", NULL, stdout);
    }
    rc = fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_FAILED;
done:
    lm_report_free(&rep);
    lm_settings_free(&s);
    return rc;
}
