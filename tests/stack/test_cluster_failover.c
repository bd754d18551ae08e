/* test_cluster_failover.c — the delivery rule through a Redis Cluster
 * failover (issue 17): the fleet (intake, qualification, followup, timing)
 * on three masters and three replicas (stack_fixture.h's cluster, the
 * nodes of `lastmile dev up --redis-cluster`), leads published in waves
 * all along, and `kill -9` of one master a few waves in:
 *
 *   cluster_failover.master_killed_under_load: the killed master's replica
 *     is promoted (its ROLE says master and the cluster says
 *     cluster_state:ok again); the lost node is NOT started again, so the
 *     promoted master has no replica. The fleet runs with the default
 *     LASTMILE_REDIS_WAIT_REPLICAS (1): it waits on that master for the
 *     replicas it has online (none), says so (redis_replicas_fewer), and
 *     goes on without a worker restarted (docs/DELIVERY.md, "Durable
 *     before produce"); at the end every lead is accepted, decided and
 *     closed exactly once: 0
 *     lost, 0 doubled on every topic (faults_common.h's check_once: ids and
 *     records byte for byte), no worker that died by itself, no timer left
 *     behind, and `lastmile report --json` on the cluster gives the figures
 *     the test's own consumers saw.
 *
 * How long the failover and the fleet's recovery took is printed for the
 * record, never asserted. Everything started is stopped in .fini
 * (teardown), even when a check fails. */
#include "faults_common.h"

#include "cluster_fixture.h"
#include "market.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FO_LEADS     1500
#define FO_WAVES     12
#define FO_WAVE_MS   1500
#define FO_KILL_WAVE 4 /* the master dies after this many waves */
#define OUTPUT_MAX   (1 << 20)

/* The ROLE of node i: "master", "slave", or "" when it does not answer;
 * for a replica, the port of its master in *master_port. */
static void node_role(int i, char *role, size_t rolesz, int *master_port) {
    role[0] = '\0';
    *master_port = -1;
    redisContext *c = cluster_fx_conn(&fx.cfx, i);
    if (!c)
        return;
    redisReply *r = redisCommand(c, "ROLE");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(role, rolesz, "%s", r->element[0]->str);
        if (strcmp(role, "slave") == 0 && r->elements >= 3 &&
            r->element[2]->type == REDIS_REPLY_INTEGER)
            *master_port = (int)r->element[2]->integer;
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
}

/* A master with a replica linked to it: its index, the replica's in
 * *replica. */
static int pick_master(int *replica) {
    for (int i = 0; i < CFX_NODES; i++) {
        char role[16];
        int mport;
        node_role(i, role, sizeof(role), &mport);
        if (strcmp(role, "slave") != 0)
            continue;
        int m = cluster_fx_index(&fx.cfx, mport);
        if (m >= 0) {
            *replica = i;
            return m;
        }
    }
    return -1;
}

/* Reaps workers that exited by themselves and starts them again (as their
 * supervisor would); how many did. */
static int reap_and_restart(void) {
    int died = 0;
    for (int slot = 0; slot < fx.n_procs; slot++) {
        int status = 0;
        if (fx.procs[slot] > 0 &&
            waitpid(fx.procs[slot], &status, WNOHANG) == fx.procs[slot]) {
            printf("failover: %s (slot %d) exited on its own, status %d\n",
                   fx.proc_names[slot], slot, status);
            died++;
            fx.procs[slot] = 0;
            cr_assert_geq(restart_in_slot(slot), 0);
        }
    }
    return died;
}

/* `lastmile report --json` against the fixture's cluster. */
static json_t *report_json(void) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/cli/lastmile report --json", LM_BINARY_DIR);
    FILE *f = popen(cmd, "r"); /* the fixture exported the stack's env */
    cr_assert_not_null(f, "popen %s", cmd);
    char *buf = malloc(OUTPUT_MAX);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, OUTPUT_MAX - 1, f);
    buf[n] = '\0';
    int status = pclose(f);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed: %s",
              cmd, buf);
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    cr_assert_not_null(j, "%s: not JSON (%s): %s", cmd, e.text, buf);
    free(buf);
    return j;
}

static json_int_t funnel(json_t *report, const char *name) {
    json_t *v = json_object_get(json_object_get(report, "funnel"), name);
    cr_assert(json_is_integer(v), "funnel.%s is not an integer", name);
    return json_integer_value(v);
}

/* The report's funnel against what the test's consumers saw. */
static void check_report(const market *m) {
    json_t *j = report_json();
    printf("failover: report funnel accepted %lld, invalid %lld, closed %lld, "
           "responders %lld, converted %lld, lost %lld\n",
           (long long)funnel(j, "accepted"), (long long)funnel(j, "invalid"),
           (long long)funnel(j, "closed"), (long long)funnel(j, "responders"),
           (long long)funnel(j, "converted"), (long long)funnel(j, "lost"));
    cr_expect_eq(funnel(j, "accepted"), (json_int_t)m->accepted.n,
                 "report: accepted");
    cr_expect_eq(funnel(j, "invalid"), (json_int_t)m->dlq, "report: invalid");
    cr_expect_eq(funnel(j, "closed"), (json_int_t)m->outcomes.n,
                 "report: closed");
    cr_expect_eq(funnel(j, "responders"), (json_int_t)m->responders.n,
                 "report: responders");
    cr_expect_eq(funnel(j, "converted"), (json_int_t)m->n_won,
                 "report: converted");
    cr_expect_eq(funnel(j, "lost"), (json_int_t)m->n_lost, "report: lost");
    json_decref(j);
}

Test(cluster_failover, master_killed_under_load, .fini = teardown,
     .timeout = 900) {
    cr_assert_eq(fixture_up_on(&fx, 4, FAULT_SCALE, 1), 0);
    cr_assert_eq(fixture_start_all(&fx), 0);
    int replica = -1;
    int master = pick_master(&replica);
    cr_assert_geq(master, 0, "no master with a linked replica");
    market m;
    market_init(&m, &fx, FAULT_RESPOND);
    want_people = FO_LEADS;
    int submitted = 0, invalid = 0, wave = 0, died = 0;
    int killed = 0, promoted = 0;
    int64_t start = fixture_mono_ms(), next_wave = start;
    int64_t killed_at = 0, promoted_at = 0;
    int64_t deadline = start + fixture_ms(480000);
    while ((wave < FO_WAVES || !all_closed(&m)) &&
           fixture_mono_ms() < deadline) {
        if (wave < FO_WAVES && fixture_mono_ms() >= next_wave) {
            int n = FO_LEADS * (wave + 1) / FO_WAVES - submitted;
            market_submit(&m, n, n / 50, n / 100, 300 + wave);
            submitted += n;
            invalid += n / 100;
            wave++;
            next_wave = fixture_mono_ms() + FO_WAVE_MS;
        }
        if (!killed && wave == FO_KILL_WAVE) {
            printf("failover: kill -9 master %d (port %d), its replica %d "
                   "(port %d); %zu accepted, %zu decided so far\n",
                   master, fx.cfx.ports[master], replica, fx.cfx.ports[replica],
                   m.accepted.n, m.decisions.n);
            cluster_fx_kill(&fx.cfx, master);
            killed = 1;
            killed_at = fixture_mono_ms();
        }
        if (killed && !promoted) {
            char role[16];
            int mport;
            node_role(replica, role, sizeof(role), &mport);
            if (strcmp(role, "master") == 0 &&
                cluster_fx_wait_ok(&fx.cfx, replica, 200) == 0) {
                promoted = 1;
                promoted_at = fixture_mono_ms();
            }
        }
        market_pump(&m, 200);
        died += reap_and_restart();
    }
    int done = all_closed(&m);
    char role_after[16];
    int mport_after;
    settle(&m);
    long long pending = -1, claimed = -1;
    int64_t tdeadline = fixture_mono_ms() + fixture_ms(60000);
    do {
        market_pump(&m, 200);
        redis_timers(&pending, &claimed);
    } while ((pending != 0 || claimed != 0) && fixture_mono_ms() < tdeadline);
    printf("failover: %d leads in %d waves; master killed %.1f s in, its "
           "replica promoted %.1f s later (the lost node not started "
           "again); %s %.1f s after the start; timers left: %lld pending, "
           "%lld claimed\n",
           FO_LEADS, FO_WAVES, (double)(killed_at - start) / 1000.0,
           promoted ? (double)(promoted_at - killed_at) / 1000.0 : -1.0,
           done ? "every lead closed" : "NOT every lead closed",
           (double)(fixture_mono_ms() - start) / 1000.0, pending, claimed);
    cr_expect(killed, "the master was never killed");
    cr_expect(promoted, "the killed master's replica was not promoted");
    node_role(master, role_after, sizeof(role_after), &mport_after);
    cr_expect_str_empty(role_after, "the lost node answers again (%s)",
                        role_after);
    cr_expect(fixture_log_has(&fx, "qualification", "redis_replicas_fewer", 0),
              "qualification did not say the promoted master has fewer "
              "replicas than it asks for");
    cr_expect(done, "not every lead closed after the failover");
    cr_expect_eq(died, 0, "%d worker(s) exited without being killed", died);
    check_once(&m, FO_LEADS, (size_t)invalid, "failover");
    cr_expect_eq(pending, 0, "%lld timer(s) left for closed leads", pending);
    cr_expect_eq(claimed, 0, "%lld timer claim(s) never released", claimed);
    check_report(&m);
    market_free(&m);
}
