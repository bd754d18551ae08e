/* test_routing.c — capacity is a hard limit, on the embedded stack with
 * TWO qualification replicas deciding at the same time (issue 13's
 * Done-when), and a waiting lead is assigned when a slot frees.
 *
 *   routing.two_replicas_never_exceed_capacity: a team of two owners
 *     (ann capacity 30 weight 2, bob 20) and 400 leads, all QUALIFIED (a
 *     config of its own), decided by two qualification replicas that each
 *     hold two of the four partitions; both are stopped (SIGSTOP) while
 *     intake accepts every lead, then let go together with batches of 8,
 *     so both decide batch after batch at once while the owners fill. While the
 * leads flow, the owners' loads are sampled from Redis after every read of the
 * topics: never above capacity; from the decisions on lastmile.followup: ann
 * got exactly 30, bob 20, the other 350 wait unassigned (owner empty), one
 * decision per lead, and the team's queue holds those 350. (Without the
 * runtime's WATCH of the loads, lm_plan_watch, the replicas overfill the
 * owners: checked by hand.) Then one of ann's leads answers (NOT_INTERESTED: a
 * reply would keep it open for its deal): timing closes it, and the freed slot
 * goes to a waiting lead, by one QualificationDecision with reason "slot_freed"
 * and id
 * "<lead>:decision:assigned" whose owner is ann; its cadence starts (action 0);
 * the queue holds 349; ann is at capacity again, never above; and nothing is
 * decided twice. Then a waiting lead answers: it leaves the queue (348),
 * and frees no slot.
 *
 *   routing.an_owner_reported_away_gets_no_lead: bob is reported AWAY
 *     (OwnerStatus on lastmile.timing; timing records it in Redis): of 20
 *     leads bob gets none; reported BACK, he gets leads again. */
#include "lm_clock.h"
#include "lm_lead.h"
#include "lm_sla.h"
#include "market.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

static const char config[] =
    "thresholds: { qualified: 0.0, nurture: 0.0 }\n"
    "channels:\n"
    "  email: { cost: \"0.02\" }\n"
    "routing:\n"
    "  - { team: small }\n"
    "teams:\n"
    "  small:\n"
    "    owners:\n"
    "      - { name: ann, capacity: 30, weight: 2 }\n"
    "      - { name: bob, capacity: 20 }\n"
    "cadences:\n"
    "  qualified:\n"
    "    allowed_hours: \"00:00-23:59\"\n"
    "    business_days: [mon, tue, wed, thu, fri, sat, sun]\n"
    "    steps:\n"
    "      - { channel: email, response_window: 30d }\n"
    "  nurture:\n"
    "    steps:\n"
    "      - { channel: email, response_window: 30d }\n"
    "accounts: { same_owner: false }\n";

#define N_LEADS 400
#define CAP_ANN 30
#define CAP_BOB 20
#define SLOTS   (CAP_ANN + CAP_BOB)
#define MAX_IDS 512
#define ID_MAX  192

/* What the test's own reader saw on lastmile.followup. */
typedef struct seen {
    int first[2];   /* first decisions with owner ann, bob */
    int unassigned; /* first decisions with no owner */
    int other;      /* first decisions with another owner */
    char ann_lead[LM_LEAD_ID_MAX];
    char waiting[MAX_IDS][LM_LEAD_ID_MAX];
    int n_waiting;
    int freed;                       /* slot_freed decisions */
    char freed_lead[LM_LEAD_ID_MAX]; /* the last one's lead */
    char freed_owner[64], freed_id[ID_MAX];
} seen;

static void on_followup(void *opaque, const rd_kafka_message_t *rkm) {
    seen *s = opaque;
    Lastmile__V1__FollowUpEvent *e =
        lastmile__v1__follow_up_event__unpack(NULL, rkm->len, rkm->payload);
    if (!e || e->event_case != LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION) {
        if (e)
            lastmile__v1__follow_up_event__free_unpacked(e, NULL);
        return;
    }
    const Lastmile__V1__QualificationDecision *d = e->decision;
    if (d->reason && strcmp(d->reason, "slot_freed") == 0) {
        s->freed++;
        snprintf(s->freed_lead, sizeof(s->freed_lead), "%s", d->lead_id);
        snprintf(s->freed_owner, sizeof(s->freed_owner), "%s", d->owner);
        snprintf(s->freed_id, sizeof(s->freed_id), "%s", d->decision_id);
    } else if (d->unassigned) {
        cr_expect_str_eq(d->owner, "", "an unassigned lead has no owner");
        s->unassigned++;
        if (s->n_waiting < MAX_IDS)
            snprintf(s->waiting[s->n_waiting++], LM_LEAD_ID_MAX, "%s",
                     d->lead_id);
    } else if (strcmp(d->owner, "ann") == 0) {
        s->first[0]++;
        snprintf(s->ann_lead, sizeof(s->ann_lead), "%s", d->lead_id);
    } else if (strcmp(d->owner, "bob") == 0) {
        s->first[1]++;
    } else {
        s->other++;
    }
    lastmile__v1__follow_up_event__free_unpacked(e, NULL);
}

static long long redis_int(redisContext *c, const char *cmd, const char *key) {
    redisReply *r = redisCommand(c, "%s %s", cmd, key);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "%s %s", cmd, key);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* The loads now; updates the maxima and fails on a load above capacity. */
static void sample(redisContext *c, long long max[2]) {
    static const char *const owners[2] = {"ann", "bob"};
    static const long long cap[2] = {CAP_ANN, CAP_BOB};
    for (int i = 0; i < 2; i++) {
        char key[LM_KEY_MAX];
        lm_lead_team_open_key("small", owners[i], key);
        long long n = redis_int(c, "SCARD", key);
        if (n > max[i])
            max[i] = n;
        cr_assert_leq(n, cap[i], "%s holds %lld open leads (capacity %lld)",
                      owners[i], n, cap[i]);
    }
}

/* 1 once the log of the qualification replicas shows two assignments of
 * two partitions each (both replicas are in the group). */
static int both_replicas_assigned(void) {
    char path[512], line[1024];
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    snprintf(path, sizeof(path), "%s/qualification.log", fx.dir);
    while (fixture_mono_ms() < deadline) {
        FILE *f = fopen(path, "r");
        int n = 0;
        while (f && fgets(line, sizeof(line), f))
            n += strstr(line, "\"2 partition(s) of") != NULL;
        if (f)
            fclose(f);
        if (n >= 2)
            return 1;
        usleep(100 * 1000);
    }
    return 0;
}

/* `lastmile waiting --json` (the fleet's environment is exported): the
 * unassigned queue of team small, as the CLI shows it: {count, oldest}. */
static json_t *waiting_queue(void) {
    FILE *p = popen(LM_BINARY_DIR "/cli/lastmile waiting --json", "r");
    cr_assert_not_null(p);
    json_error_t je;
    json_t *root = json_loadf(p, 0, &je);
    cr_expect_eq(pclose(p), 0, "lastmile waiting failed");
    cr_assert_not_null(root, "lastmile waiting --json: %s", je.text);
    json_t *u = json_object_get(root, "unassigned");
    cr_assert(json_is_array(u) && json_array_size(u) == 1, "one team waits: %s",
              json_dumps(root, 0));
    json_t *t = json_incref(json_array_get(u, 0));
    json_decref(root);
    cr_expect_str_eq(json_string_value(json_object_get(t, "team")), "small");
    return t;
}

static int all_decided(const market *m) {
    return m->decisions.n >= N_LEADS;
}

/* The whole case; kill9: one replica is killed with -9 while both decide,
 * and started again. */
static void two_replicas(int kill9) {
    cr_assert_eq(fixture_up(&fx, 4, 0), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/decisions.yaml", fx.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(config, f);
    fclose(f);
    setenv("LASTMILE_CONFIG", path, 1);
    static const char *const workers[] = {"intake", "followup", "timing"};
    for (size_t i = 0; i < 3; i++)
        cr_assert_geq(fixture_start_worker(&fx, workers[i]), 0, "%s",
                      workers[i]);
    /* small batches: many of them, from both replicas at once */
    setenv("LASTMILE_BATCH_MAX", "8", 1);
    int q1 = fixture_start_worker(&fx, "qualification");
    int q2 = fixture_start_worker(&fx, "qualification");
    unsetenv("LASTMILE_BATCH_MAX");
    cr_assert(q1 >= 0 && q2 >= 0);
    redisContext *rc = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(rc && !rc->err);

    market m;
    market_init(&m, &fx, 0.0);
    topic_reader *r = reader_new(&fx, "followup");
    static seen s;
    memset(&s, 0, sizeof(s));
    long long max[2] = {0, 0};
    /* both replicas hold partitions before the leads come */
    cr_assert(both_replicas_assigned(), "the two replicas did not share "
                                        "the partitions");
    /* the replicas are held (SIGSTOP) while every lead is accepted, then
       let go together: each finds a backlog on its partitions and both
       decide batch after batch at the same time while the owners fill */
    kill(fx.procs[q1], SIGSTOP);
    kill(fx.procs[q2], SIGSTOP);
    market_submit(&m, N_LEADS, 0, 0, 11);
    int64_t held = fixture_mono_ms() + fixture_ms(60000);
    while (m.accepted.n < N_LEADS && fixture_mono_ms() < held)
        market_pump(&m, 20);
    kill(fx.procs[q1], SIGCONT);
    kill(fx.procs[q2], SIGCONT);
    cr_assert_eq(m.accepted.n, N_LEADS, "intake accepted %zu", m.accepted.n);
    if (kill9) {
        /* mid-flow: what it applied is recovered by its successor from
           the fences, never decided again, so no lead takes two slots */
        market_pump(&m, 30);
        sample(rc, max);
        fixture_stop_worker(&fx, q1, SIGKILL);
        setenv("LASTMILE_BATCH_MAX", "8", 1);
        cr_assert_geq(fixture_start_worker(&fx, "qualification"), 0);
        unsetenv("LASTMILE_BATCH_MAX");
    }
    int64_t deadline = fixture_mono_ms() + fixture_ms(240000);
    while (!all_decided(&m) && fixture_mono_ms() < deadline) {
        market_pump(&m, 20);
        sample(rc, max);
    }
    for (int i = 0; i < 10; i++) { /* anything late would arrive now */
        market_pump(&m, 100);
        sample(rc, max);
    }
    reader_drain(r, 1000, on_followup, &s);
    cr_log_info("decisions %zu: ann %d, bob %d, unassigned %d; max loads "
                "%lld %lld",
                m.decisions.n, s.first[0], s.first[1], s.unassigned, max[0],
                max[1]);
    cr_assert_eq(m.decisions.n, N_LEADS, "every lead decided");
    cr_expect_eq(m.decisions.dups, 0, "a lead decided twice");
    cr_expect_eq(s.first[0], CAP_ANN, "ann was given %d leads (capacity %d)",
                 s.first[0], CAP_ANN);
    cr_expect_eq(s.first[1], CAP_BOB, "bob was given %d leads (capacity %d)",
                 s.first[1], CAP_BOB);
    cr_expect_eq(s.other, 0);
    cr_expect_eq(s.unassigned, N_LEADS - SLOTS, "%d unassigned", s.unassigned);
    cr_expect_eq(m.dlq, 0);
    char queue[LM_KEY_MAX];
    lm_lead_team_queue_key("small", queue);
    cr_expect_eq(redis_int(rc, "ZCARD", queue), N_LEADS - SLOTS);
    cr_assert_neq(s.ann_lead[0], '\0');
    json_t *w = waiting_queue();
    cr_expect_eq(json_integer_value(json_object_get(w, "count")),
                 N_LEADS - SLOTS, "lastmile waiting shows the queue");
    const char *oldest = json_string_value(json_object_get(w, "oldest_lead"));
    int known = 0;
    for (int i = 0; oldest && i < s.n_waiting; i++)
        known |= strcmp(s.waiting[i], oldest) == 0;
    cr_expect(known, "the oldest waiting lead %s is one of the unassigned",
              oldest ? oldest : "(none)");
    json_decref(w);

    /* one of ann's leads answers: its slot goes to a waiting lead */
    Lastmile__V1__LeadResponse resp = LASTMILE__V1__LEAD_RESPONSE__INIT;
    resp.event_id = "routing-test-reply-1";
    resp.lead_id = s.ann_lead;
    resp.kind = LASTMILE__V1__RESPONSE_KIND__NOT_INTERESTED;
    resp.occurred_at_ms = 1;
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    te.response = &resp;
    cr_assert_eq(fixture_produce(&fx, "timing", s.ann_lead, &te.base), 0);
    deadline = fixture_mono_ms() + fixture_ms(60000);
    while (s.freed == 0 && fixture_mono_ms() < deadline) {
        market_pump(&m, 50);
        sample(rc, max);
        reader_drain(r, 50, on_followup, &s);
    }
    for (int i = 0; i < 10; i++) {
        market_pump(&m, 100);
        sample(rc, max);
        reader_drain(r, 10, on_followup, &s);
    }
    cr_assert_eq(s.freed, 1, "%d slot_freed decisions", s.freed);
    cr_expect_str_eq(s.freed_owner, "ann", "the slot ann freed");
    char want_id[ID_MAX];
    snprintf(want_id, sizeof(want_id), "%s:decision:assigned", s.freed_lead);
    cr_expect_str_eq(s.freed_id, want_id);
    int was_waiting = 0;
    for (int i = 0; i < s.n_waiting; i++)
        was_waiting |= strcmp(s.waiting[i], s.freed_lead) == 0;
    cr_expect(was_waiting, "%s was not waiting", s.freed_lead);
    char action[ID_MAX];
    snprintf(action, sizeof(action), "%s:action:0", s.freed_lead);
    deadline = fixture_mono_ms() + fixture_ms(30000);
    while (!(strset_count(&m.actions, action) > 0) &&
           fixture_mono_ms() < deadline)
        market_pump(&m, 50);
    cr_expect((strset_count(&m.actions, action) > 0),
              "its cadence did not start");
    cr_expect_eq(redis_int(rc, "ZCARD", queue), N_LEADS - SLOTS - 1);
    w = waiting_queue();
    cr_expect_eq(json_integer_value(json_object_get(w, "count")),
                 N_LEADS - SLOTS - 1);
    json_decref(w);
    char ann[LM_KEY_MAX];
    lm_lead_team_open_key("small", "ann", ann);
    cr_expect_eq(redis_int(rc, "SCARD", ann), CAP_ANN, "ann is full again");
    cr_expect_leq(max[0], CAP_ANN);
    cr_expect_leq(max[1], CAP_BOB);

    /* a lead that closes while it waits leaves the queue (its member is
       its decision's only copy: found by score and decision id, issue 16)
       and frees nothing */
    const char *gone = NULL;
    for (int i = 0; i < s.n_waiting && !gone; i++)
        if (strcmp(s.waiting[i], s.freed_lead) != 0)
            gone = s.waiting[i];
    cr_assert_not_null(gone);
    resp.event_id = "routing-test-reply-2";
    resp.lead_id = (char *)gone;
    cr_assert_eq(fixture_produce(&fx, "timing", gone, &te.base), 0);
    deadline = fixture_mono_ms() + fixture_ms(60000);
    while (redis_int(rc, "ZCARD", queue) != N_LEADS - SLOTS - 2 &&
           fixture_mono_ms() < deadline) {
        market_pump(&m, 50);
        reader_drain(r, 10, on_followup, &s);
    }
    cr_expect_eq(redis_int(rc, "ZCARD", queue), N_LEADS - SLOTS - 2,
                 "the closed waiting lead %s left the queue", gone);
    cr_expect_eq(s.freed, 1, "a waiting lead's close frees no slot");
    printf("two qualification replicas, %d leads: max open leads ann %lld/%d, "
           "bob %lld/%d; %d unassigned; slot freed -> %s to ann\n",
           N_LEADS, max[0], CAP_ANN, max[1], CAP_BOB, s.unassigned,
           s.freed_lead);
    reader_free(r);
    market_free(&m);
    redisFree(rc);
    unsetenv("LASTMILE_CONFIG");
}

Test(routing, two_replicas_never_exceed_capacity, .fini = teardown,
     .timeout = 600) {
    two_replicas(0);
}

Test(routing, a_replica_killed_mid_flow_takes_no_slot_twice, .fini = teardown,
     .timeout = 600) {
    two_replicas(1);
}

/* OwnerStatus `st` of bob on lastmile.timing, then waits until timing has
 * recorded it (lm:{owner:<hash>}:state status). */
static void bob_status(redisContext *rc, const char *event_id,
                       Lastmile__V1__OwnerAvailability st, const char *want) {
    Lastmile__V1__OwnerStatus os = LASTMILE__V1__OWNER_STATUS__INIT;
    os.event_id = (char *)event_id;
    os.owner = "bob";
    os.status = st;
    os.occurred_at_ms = lm_clock_now_ms();
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS;
    ev.owner_status = &os;
    cr_assert_eq(fixture_produce(&fx, "timing", "bob", &ev.base), 0);
    char key[LM_KEY_MAX];
    lm_sla_state_key("bob", key);
    int64_t deadline = fixture_mono_ms() + fixture_ms(60000);
    int seen_it = 0;
    while (!seen_it && fixture_mono_ms() < deadline) {
        redisReply *r = redisCommand(rc, "HGET %s status", key);
        seen_it =
            r && r->type == REDIS_REPLY_STRING && strcmp(r->str, want) == 0;
        if (r)
            freeReplyObject(r);
        if (!seen_it)
            usleep(50 * 1000);
    }
    cr_assert(seen_it, "bob's state never said %s", want);
}

Test(routing, an_owner_reported_away_gets_no_lead, .fini = teardown,
     .timeout = 300) {
    cr_assert_eq(fixture_up(&fx, 4, 0), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/decisions.yaml", fx.dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(config, f);
    fclose(f);
    setenv("LASTMILE_CONFIG", path, 1);
    static const char *const workers[] = {"intake", "qualification", "followup",
                                          "timing"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_geq(fixture_start_worker(&fx, workers[i]), 0, "%s",
                      workers[i]);
    redisContext *rc = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(rc && !rc->err);
    bob_status(rc, "routing-away-1", LASTMILE__V1__OWNER_AVAILABILITY__AWAY,
               "AWAY");
    market m;
    market_init(&m, &fx, 0.0);
    topic_reader *r = reader_new(&fx, "followup");
    static seen s;
    memset(&s, 0, sizeof(s));
    market_submit(&m, 20, 0, 0, 21);
    int64_t deadline = fixture_mono_ms() + fixture_ms(120000);
    while (m.decisions.n < 20 && fixture_mono_ms() < deadline)
        market_pump(&m, 20);
    reader_drain(r, 1000, on_followup, &s);
    cr_assert_eq(m.decisions.n, 20, "every lead decided");
    cr_expect_eq(s.first[1], 0, "bob is away: %d leads", s.first[1]);
    cr_expect_eq(s.first[0], 20, "ann took them: %d", s.first[0]);
    int ann_away = s.first[0], bob_away = s.first[1];

    bob_status(rc, "routing-back-1", LASTMILE__V1__OWNER_AVAILABILITY__BACK,
               "BACK");
    market_submit(&m, 6, 0, 0, 22);
    deadline = fixture_mono_ms() + fixture_ms(120000);
    while (m.decisions.n < 26 && fixture_mono_ms() < deadline)
        market_pump(&m, 20);
    reader_drain(r, 1000, on_followup, &s);
    cr_assert_eq(m.decisions.n, 26, "every lead decided");
    cr_expect_gt(s.first[1], 0, "bob is back: %d leads", s.first[1]);
    printf("bob away: ann %d, bob %d of 20; bob back: bob %d, ann %d of 6\n",
           ann_away, bob_away, s.first[1] - bob_away, s.first[0] - ann_away);
    reader_free(r);
    market_free(&m);
    redisFree(rc);
    unsetenv("LASTMILE_CONFIG");
}
