/* test_lag_handover.c — lastmile_consumer_lag after a rebalance.
 *
 *   lag.revoked_partitions_read_zero: one qualification replica owns all
 *     four partitions of a large backlog and exports each one's lag; a
 *     second replica joins and takes some over. From then on the first
 *     one's series of the partitions it gave up read 0, so that a sum
 *     across replicas (what KEDA scales on) counts each partition once.
 *     Before the runtime zeroed them on revoke, the first replica kept
 *     exporting its last figure for them next to the second's.
 *
 * The backlog is produced straight onto lastmile.qualification, and the
 * replicas take one input per batch (LASTMILE_BATCH_MAX=1), so the lag
 * stays above zero for the whole test. No assertion is on a wall-clock
 * time: the waits are upper bounds. */
#include "stack_fixture.h"

#include "lm_devstack.h"
#include "lm_http_get.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LAG_PARTITIONS 4
#define LAG_BACKLOG    150000

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

/* The lag of each partition in a replica's /metrics (-1: no series). 0 /
 * -1 when /metrics did not answer. */
static int lag_of(int port, long long lag[LAG_PARTITIONS]) {
    for (int p = 0; p < LAG_PARTITIONS; p++)
        lag[p] = -1;
    lm_http_get_reply r;
    char err[256];
    if (lm_http_get("127.0.0.1", port, "/metrics", 5000, &r, err,
                    sizeof(err)) != 0)
        return -1;
    for (const char *l = r.body; l && *l;) {
        const char *eol = strchr(l, '\n');
        const char *part = strstr(l, "partition=\"");
        if (strncmp(l, "lastmile_consumer_lag{", 22) == 0 && part &&
            (!eol || part < eol)) {
            int p = atoi(part + 11);
            const char *v = strstr(part, "} ");
            if (p >= 0 && p < LAG_PARTITIONS && v)
                lag[p] = (long long)strtod(v + 2, NULL);
        }
        l = eol ? eol + 1 : NULL;
    }
    lm_http_get_free(&r);
    return 0;
}

/* Produces LAG_BACKLOG leads onto lastmile.qualification, keyed by lead
 * id (spread over every partition). */
static void backlog(void) {
    for (int i = 0; i < LAG_BACKLOG; i++) {
        char id[32], email[64];
        snprintf(id, sizeof(id), "lag-%06d", i);
        snprintf(email, sizeof(email), "person%d@lag.example.com", i);
        Lastmile__V1__LeadAccepted a = LASTMILE__V1__LEAD_ACCEPTED__INIT;
        a.lead_id = id;
        a.event_id = id;
        a.source = (char *)"web_form";
        a.email = email;
        a.email_domain = (char *)"lag.example.com";
        a.country = (char *)"DE";
        a.timezone = (char *)"Europe/Berlin";
        a.submitted_at_ms = a.accepted_at_ms = 1764000000000;
        size_t len = lastmile__v1__lead_accepted__get_packed_size(&a);
        uint8_t buf[512];
        cr_assert_lt(len, sizeof(buf));
        lastmile__v1__lead_accepted__pack(&a, buf);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(
                    fx.producer, RD_KAFKA_V_TOPIC("lastmile.qualification"),
                    RD_KAFKA_V_KEY(id, strlen(id)), RD_KAFKA_V_VALUE(buf, len),
                    RD_KAFKA_V_HEADER("lm-id", id, (ssize_t)strlen(id)),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(fx.producer, 50);
        cr_assert_eq(e, 0, "produce: %s", rd_kafka_err2str(e));
    }
    cr_assert_eq(fixture_flush(&fx), 0);
}

static int start_replica(int port) {
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    setenv("LASTMILE_METRICS_ADDR", addr, 1);
    setenv("LASTMILE_BATCH_MAX", "1", 1);
    int slot = fixture_start_worker(&fx, "qualification");
    unsetenv("LASTMILE_METRICS_ADDR");
    unsetenv("LASTMILE_BATCH_MAX");
    return slot;
}

/* Partitions with a lag above 0 in lag[]. */
static int busy(const long long lag[LAG_PARTITIONS]) {
    int n = 0;
    for (int p = 0; p < LAG_PARTITIONS; p++)
        n += lag[p] > 0;
    return n;
}

Test(lag, revoked_partitions_read_zero, .fini = teardown, .timeout = 300) {
    cr_assert_eq(fixture_up(&fx, LAG_PARTITIONS, 0), 0);
    backlog();
    int port_a = lm_devstack_free_port(), port_b = lm_devstack_free_port();
    cr_assert(port_a > 0 && port_b > 0 && port_a != port_b);
    cr_assert_geq(start_replica(port_a), 0);
    long long a[LAG_PARTITIONS], b[LAG_PARTITIONS];
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    do {
        usleep(500 * 1000);
        lag_of(port_a, a);
    } while (busy(a) < LAG_PARTITIONS && fixture_mono_ms() < deadline);
    cr_assert_eq(busy(a), LAG_PARTITIONS,
                 "replica A never showed a lag on every partition");

    cr_assert_geq(start_replica(port_b), 0);
    deadline = fixture_mono_ms() + fixture_ms(90000);
    do {
        usleep(500 * 1000);
        lag_of(port_b, b);
    } while (busy(b) == 0 && fixture_mono_ms() < deadline);
    cr_assert_gt(busy(b), 0, "replica B never owned a partition with a lag");
    /* B exports a partition's lag only once it owns it, so A has given it
       up: without the zeroing A would still show its figure from before */
    lag_of(port_a, a);
    lag_of(port_b, b);
    int twice = 0;
    for (int p = 0; p < LAG_PARTITIONS; p++) {
        printf("partition %d: lag %lld on A, %lld on B\n", p, a[p], b[p]);
        twice += a[p] > 0 && b[p] > 0;
    }
    cr_expect_gt(busy(b), 0, "the backlog ran out before the check");
    cr_expect_eq(twice, 0,
                 "%d partition(s) exported with a lag by both replicas", twice);
}
