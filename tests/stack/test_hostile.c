/* test_hostile.c — the delivery rule under hostile input (issue 7), on
 * the embedded stack (the mock broker over TCP, a real redis-server),
 * checked by the test's own consumers. The other fault tests are
 * test_faults.c and test_chaos.c; what they share is faults_common.h.
 *
 *   faults.hostile_input: oversize, wrong-type, unknown-enum, missing-field,
 *     absurd-time, huge-string and non-UTF-8 input on every input topic:
 *     each gets a dead letter with a precise reason, carrying the original
 *     bytes; its log line keeps its message; no worker exits; a valid lead
 *     after them is processed. Its BUG assertions guard two defects it
 *     found, since fixed: input whose dead letter or output was over the
 *     producer's message.max.bytes vanished, and a reason quoting non-UTF-8
 *     bytes was dropped from the log line.
 *
 * Figures are printed (printf) for the record; no assertion is on a
 * wall-clock time. A failing assertion that exposes a known defect says
 * "BUG:" and the comment above it names the defect. Criterion runs each test in
 * its own process, so environment changes (metrics ports) stay local. */
#include "faults_common.h"

#include "market.h"

#include "lm_clock.h"
#include "lm_http_get.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_runtime.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* One hostile message: where it goes and what its dead letter must say. */
typedef struct hostile {
    const char *topic;
    const char *what;   /* for the report */
    const char *reason; /* substring the dead letter's reason must have */
    uint8_t *val;
    size_t len;
    int64_t offset; /* from the delivery report */
    int seen;
} hostile;

#define HOSTILE_MAX 32
static hostile hostiles[HOSTILE_MAX];
static size_t n_hostiles;

static void add_hostile(const char *topic, const char *what, const char *reason,
                        const ProtobufCMessage *msg) {
    cr_assert_lt(n_hostiles, HOSTILE_MAX);
    hostile *h = &hostiles[n_hostiles++];
    h->topic = topic;
    h->what = what;
    h->reason = reason;
    h->val = lm_pb_pack(msg, &h->len);
    cr_assert(h->val);
}

static void add_hostile_bytes(const char *topic, const char *what,
                              const char *reason, const void *val, size_t len) {
    cr_assert_lt(n_hostiles, HOSTILE_MAX);
    hostile *h = &hostiles[n_hostiles++];
    h->topic = topic;
    h->what = what;
    h->reason = reason;
    h->val = malloc(len ? len : 1);
    cr_assert(h->val);
    memcpy(h->val, val, len);
    h->len = len;
}

static char *big_string(size_t n, char c) {
    char *s = malloc(n + 1);
    cr_assert(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* The hostile set, per input topic. offsets: the i-th message produced to
 * a topic (1 partition) has offset i, so a dead letter names its message. */
static void make_hostiles(void) {
    const char *lead = "0123456789abcdef-01234567"; /* well-formed, unknown */
    int64_t now = lm_clock_real_ms();
    /* ---- intake: LeadSubmitted */
    Lastmile__V1__LeadSubmitted s = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    s.event_id = (char *)"hostile-1";
    s.source = (char *)"web_form";
    s.email = (char *)"hostile@example.com";
    s.country = (char *)"DE";
    s.submitted_at_ms = now;
    char *huge = big_string(1100 * 1024, 'x'); /* > LM_INPUT_MAX_BYTES */
    s.full_name = huge;
    add_hostile(LM_TOPIC_INTAKE, "oversize LeadSubmitted (1.1 MiB)",
                "the limit is", &s.base);
    char *big = big_string(200 * 1024, 'y');
    s.full_name = big;
    s.event_id = (char *)"hostile-2";
    add_hostile(LM_TOPIC_INTAKE, "huge full_name (200 KiB)",
                "full_name:", &s.base);
    s.full_name = (char *)"Hostile";
    s.event_id = (char *)"hostile-3";
    s.email = (char *)"";
    add_hostile(LM_TOPIC_INTAKE, "missing email", "email: missing", &s.base);
    s.email = (char *)"hostile@example.com";
    s.event_id = (char *)"";
    add_hostile(LM_TOPIC_INTAKE, "missing event_id", "event_id: missing",
                &s.base);
    s.event_id = (char *)"hostile-4";
    s.submitted_at_ms = 0;
    add_hostile(LM_TOPIC_INTAKE, "submitted_at_ms = 0",
                "submitted_at_ms:", &s.base);
    s.event_id = (char *)"hostile-5";
    s.submitted_at_ms = INT64_MAX;
    add_hostile(LM_TOPIC_INTAKE, "submitted_at_ms = INT64_MAX",
                "more than a day in the future", &s.base);
    s.event_id = (char *)"hostile-6";
    s.submitted_at_ms = now;
    s.company_size = -7;
    add_hostile(LM_TOPIC_INTAKE, "negative company_size",
                "company_size:", &s.base);
    s.company_size = 10;
    /* the wrong type: a FollowUpAction. Its int fields (step, time) clash
       with LeadSubmitted's string fields, so it does not decode... */
    Lastmile__V1__FollowUpAction a = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a.action_id = (char *)"x:action:1";
    a.lead_id = (char *)lead;
    a.channel = (char *)"email";
    a.step = 1;
    a.scheduled_for_ms = now;
    a.kind = LASTMILE__V1__ACTION_KIND__TOUCH;
    add_hostile(LM_TOPIC_INTAKE, "FollowUpAction (wrong type)",
                "not a valid lastmile.v1.LeadSubmitted", &a.base);
    /* ...but one with only its string fields decodes as a LeadSubmitted
       (action_id → event_id, lead_id → source, channel → email): protobuf
       cannot tell; validation has to */
    Lastmile__V1__FollowUpAction a2 = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a2.action_id = (char *)"x:action:0";
    a2.lead_id = (char *)lead;
    a2.channel = (char *)"email";
    add_hostile(LM_TOPIC_INTAKE, "FollowUpAction, strings only (wrong type)",
                "email: not an address", &a2.base);
    /* not UTF-8: the reason quotes the country back */
    s.event_id = (char *)"hostile-7";
    s.country = (char *)"\xff\xfe";
    add_hostile(LM_TOPIC_INTAKE, "country of invalid UTF-8 bytes",
                "country:", &s.base);
    s.country = (char *)"DE";
    static const char garbage[] = "\xff\xff\xff\xff not protobuf";
    add_hostile_bytes(LM_TOPIC_INTAKE, "garbage bytes",
                      "not a valid lastmile.v1.LeadSubmitted", garbage,
                      sizeof(garbage));

    /* ---- qualification: LeadAccepted */
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = (char *)"not-a-lead-id";
    l.country = (char *)"DE";
    l.timezone = (char *)"Europe/Berlin";
    add_hostile(LM_TOPIC_QUALIFICATION, "malformed lead_id",
                "lead_id:", &l.base);
    l.lead_id = (char *)lead;
    l.country = (char *)"";
    add_hostile(LM_TOPIC_QUALIFICATION, "missing country",
                "country/timezone: missing", &l.base);
    add_hostile_bytes(LM_TOPIC_QUALIFICATION, "garbage bytes",
                      "not a valid lastmile.v1.LeadAccepted", garbage,
                      sizeof(garbage));
    /* just under the input limit: accepted as input, but the decision that
       carries it is larger than the broker takes (message.max.bytes) */
    l.country = (char *)"DE";
    l.lead_id = (char *)"fedcba9876543210-89abcdef";
    char *near = big_string(1020 * 1000, 'z');
    Lastmile__V1__LeadAccepted__AttributesEntry e =
        LASTMILE__V1__LEAD_ACCEPTED__ATTRIBUTES_ENTRY__INIT;
    Lastmile__V1__LeadAccepted__AttributesEntry *ep = &e;
    e.key = (char *)"notes";
    e.value = near;
    l.n_attributes = 1;
    l.attributes = &ep;
    add_hostile(LM_TOPIC_QUALIFICATION,
                "LeadAccepted of 1,020,000 bytes (its outputs exceed "
                "message.max.bytes)",
                "", &l.base);

    /* ---- followup: FollowUpEvent */
    Lastmile__V1__FollowUpEvent f = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    add_hostile(LM_TOPIC_FOLLOWUP, "empty event (no oneof member)",
                "neither decision nor next_touch", &f.base);
    Lastmile__V1__QualificationDecision d =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    Lastmile__V1__LeadAccepted dl = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    dl.lead_id = (char *)lead;
    dl.timezone = (char *)"Europe/Berlin";
    d.lead_id = (char *)lead;
    d.kind = (Lastmile__V1__DecisionKind)42; /* unknown enum value */
    d.owner = (char *)"robin.hale";
    d.lead = &dl;
    f.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    f.decision = &d;
    add_hostile(LM_TOPIC_FOLLOWUP, "decision kind 42 (unknown enum)",
                "kind QUALIFIED or NURTURE", &f.base);
    d.kind = LASTMILE__V1__DECISION_KIND__QUALIFIED;
    d.owner = (char *)"";
    add_hostile(LM_TOPIC_FOLLOWUP, "decision without an owner", "an owner",
                &f.base);
    Lastmile__V1__NextTouch t = LASTMILE__V1__NEXT_TOUCH__INIT;
    t.lead_id = (char *)lead;
    t.step = 5000;
    f.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH;
    f.next_touch = &t;
    add_hostile(LM_TOPIC_FOLLOWUP, "next_touch step 5000",
                "next_touch.step: 5000", &f.base);
    t.step = 2;
    t.scheduled_for_ms = INT64_MAX;
    add_hostile(LM_TOPIC_FOLLOWUP, "next_touch at INT64_MAX ms",
                "next_touch.scheduled_for_ms: 9223372036854775807", &f.base);
    t.scheduled_for_ms = 1764547200000LL;
    add_hostile(LM_TOPIC_FOLLOWUP, "next_touch for an unknown lead",
                "has no cadence state", &f.base);
    add_hostile_bytes(LM_TOPIC_FOLLOWUP, "garbage bytes",
                      "not a valid lastmile.v1.FollowUpEvent", garbage,
                      sizeof(garbage));

    /* ---- timing: TimingEvent */
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    r.event_id = (char *)"hostile-resp-1";
    r.lead_id = (char *)lead;
    r.kind = (Lastmile__V1__ResponseKind)99;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    te.response = &r;
    add_hostile(LM_TOPIC_TIMING, "response kind 99 (unknown enum)",
                "response.kind: 99", &te.base);
    r.kind = LASTMILE__V1__RESPONSE_KIND__REPLIED;
    r.event_id = (char *)"";
    add_hostile(LM_TOPIC_TIMING, "response without event_id",
                "response.event_id: missing", &te.base);
    r.event_id = (char *)"hostile-resp-2";
    r.kind = LASTMILE__V1__RESPONSE_KIND__CONVERTED;
    r.deal_value_cents = -5;
    add_hostile(LM_TOPIC_TIMING, "negative deal value",
                "response.deal_value_cents: -5", &te.base);
    r.deal_value_cents = 0;
    char *long_id = big_string(300, 'e');
    r.event_id = long_id;
    add_hostile(LM_TOPIC_TIMING, "event_id of 300 bytes",
                "longer than 128 bytes", &te.base);
    Lastmile__V1__TimerFired tf = LASTMILE__V1__TIMER_FIRED__INIT;
    tf.lead_id = (char *)"../../etc/passwd";
    tf.step = 1;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    te.timer_fired = &tf;
    add_hostile(LM_TOPIC_TIMING, "timer for a malformed lead id",
                "lead_id:", &te.base);
    add_hostile_bytes(LM_TOPIC_TIMING, "garbage bytes",
                      "not a valid lastmile.v1.TimingEvent", garbage,
                      sizeof(garbage));
    free(huge);
    free(big);
    free(near);
    free(long_id);
}

typedef struct dlq_seen {
    size_t n, unmatched;
} dlq_seen;

static void on_hostile_dead(void *opaque, const rd_kafka_message_t *rkm) {
    dlq_seen *ds = opaque;
    ds->n++;
    Lastmile__V1__DeadLetter *d =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    cr_assert(d, "a dead letter that does not decode");
    size_t i = 0;
    for (; i < n_hostiles; i++) {
        char topic[LM_TOPIC_MAX];
        snprintf(topic, sizeof(topic), "lastmile.%s", hostiles[i].topic);
        if (strcmp(topic, d->topic) == 0 && hostiles[i].offset == d->offset)
            break;
    }
    if (i == n_hostiles) {
        printf("hostile: unexpected dead letter from %s: %s @%lld: %s\n",
               d->worker, d->topic, (long long)d->offset, d->reason);
        ds->unmatched++;
    } else {
        hostile *h = &hostiles[i];
        h->seen++;
        printf("hostile: %-13s %-58s -> %s: \"%s\"\n", h->topic, h->what,
               d->worker, d->reason);
        cr_expect(strstr(d->reason, h->reason),
                  "%s on %s: reason \"%s\" lacks \"%s\"", h->what, h->topic,
                  d->reason, h->reason);
        /* a dead letter keeps the original, up to LM_DLQ_ORIGINAL_MAX; the
           reason says when it was cut */
        size_t kept =
            h->len > LM_DLQ_ORIGINAL_MAX ? LM_DLQ_ORIGINAL_MAX : h->len;
        cr_expect_eq(d->original.len, kept,
                     "%s: the dead letter does not carry the original bytes "
                     "(%zu of %zu)",
                     h->what, d->original.len, h->len);
        if (h->len > LM_DLQ_ORIGINAL_MAX)
            cr_expect(strstr(d->reason, "bytes kept"),
                      "%s: the reason does not say the original was cut: %s",
                      h->what, d->reason);
    }
    lastmile__v1__dead_letter__free_unpacked(d, NULL);
}

static void on_hostile_delivered(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                                 void *opaque) {
    (void)rk;
    (void)opaque;
    size_t i = (size_t)(uintptr_t)rkm->_private;
    if (i < n_hostiles)
        hostiles[i].offset = rkm->err ? -1 : rkm->offset;
}

/* A producer that can send more than 1 MB (the mock broker takes it). */
static rd_kafka_t *big_producer(void) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", fx.st.brokers, NULL, 0);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", NULL, 0);
    cr_assert_eq(rd_kafka_conf_set(conf, "message.max.bytes", "10000000", err,
                                   sizeof(err)),
                 RD_KAFKA_CONF_OK, "%s", err);
    /* one record batch may hold a near-1 MB message and what follows it,
       so that a consumer fetches them together */
    rd_kafka_conf_set(conf, "batch.size", "4000000", NULL, 0);
    rd_kafka_conf_set(conf, "linger.ms", "50", NULL, 0);
    rd_kafka_conf_set_dr_msg_cb(conf, on_hostile_delivered);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    cr_assert(rk, "%s", err);
    return rk;
}

/* Sends hostiles [first, n_hostiles); flush_each keeps them in separate
 * fetches (and so, most likely, separate batches). */
static void send_hostiles(rd_kafka_t *rk, size_t first, int flush_each) {
    for (size_t i = first; i < n_hostiles; i++) {
        char topic[LM_TOPIC_MAX];
        snprintf(topic, sizeof(topic), "lastmile.%s", hostiles[i].topic);
        hostiles[i].offset = -1;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY("hostile", 7),
            RD_KAFKA_V_VALUE(hostiles[i].val, hostiles[i].len),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "produce %s: %s",
                     hostiles[i].what, rd_kafka_err2str(e));
        if (flush_each)
            cr_assert_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR,
                         "%s not delivered", hostiles[i].what);
    }
    cr_assert_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (size_t i = first; i < n_hostiles; i++)
        cr_assert_geq(hostiles[i].offset, 0, "%s not delivered",
                      hostiles[i].what);
}

/* The lead id intake gives the market's person `person` (market.c). */
static void market_lead_id(int person, char out[LM_LEAD_ID_MAX]) {
    char email[64], ev[64], who[LM_PERSON_MAX];
    snprintf(email, sizeof(email), "person%d@company%d.example.com", person,
             person % 97);
    snprintf(ev, sizeof(ev), "ev-%d-0", person);
    lm_lead_person(email, who);
    lm_lead_id(who, ev, out);
}

static char valid_lead[LM_LEAD_ID_MAX];
static int valid_closed(const market *m) {
    return strset_count(&m->outcomes, valid_lead) > 0;
}

Test(faults, hostile_input, .fini = teardown, .timeout = 600) {
    /* one partition per topic: on every topic the valid lead comes after
       the hostile input */
    cr_assert_eq(fixture_up(&fx, 1, FAULT_SCALE), 0);
    cr_assert_eq(fixture_start_all(&fx), 0);
    make_hostiles();
    rd_kafka_t *big = big_producer();
    send_hostiles(big, 0, 1);
    size_t n_pass1 = n_hostiles;

    /* then a valid lead: every worker must go on */
    market m;
    market_init(&m, &fx, 0);
    market_lead_id(28 * 1000000, valid_lead);
    market_submit(&m, 1, 0, 0, 28);
    int done = market_until(&m, valid_closed, 120000);
    printf("hostile input: %zu messages on 4 topics; the valid lead after "
           "them: accepted %d, outcome %d\n",
           n_pass1, strset_count(&m.accepted, valid_lead),
           strset_count(&m.outcomes, valid_lead));
    cr_expect(done && strset_count(&m.accepted, valid_lead) == 1 &&
                  strset_count(&m.outcomes, valid_lead) == 1,
              "the valid lead after the hostile input was not processed");

    /* pass 2, a poison message and a valid lead B right behind it: the
       input (999,800 bytes) is under the input limit, but its dead letter,
       which carries it, is over the 1,000,000 bytes the worker's producer
       may send (message.max.bytes) */
    Lastmile__V1__LeadSubmitted s = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    char *huge = big_string(999800, 'x');
    s.event_id = (char *)"poison-2";
    s.source = (char *)"web_form";
    s.email = (char *)"poison@example.com";
    s.country = (char *)"DE";
    s.submitted_at_ms = lm_clock_real_ms();
    s.full_name = huge;
    add_hostile(LM_TOPIC_INTAKE,
                "999,800-byte full_name (its dead letter exceeds "
                "message.max.bytes)",
                "full_name:", &s.base);
    free(huge);
    size_t poison = n_hostiles - 1;
    char b_lead[LM_LEAD_ID_MAX], b_email[64], b_ev[32];
    int b_person = 32 * 1000000;
    snprintf(b_email, sizeof(b_email), "person%d@company%d.example.com",
             b_person, b_person % 97);
    snprintf(b_ev, sizeof(b_ev), "ev-%d-0", b_person);
    market_lead_id(b_person, b_lead);
    s.event_id = b_ev;
    s.email = b_email;
    s.full_name = (char *)"Lead B";
    uint8_t *bval = NULL;
    size_t blen = 0;
    bval = lm_pb_pack(&s.base, &blen);
    cr_assert(bval);
    /* with intake stopped, so that its first fetch may take both */
    int intake_slot = -1;
    for (int w = 0; w < fx.n_procs; w++)
        if (strcmp(fx.proc_names[w], "intake") == 0)
            intake_slot = w;
    cr_assert_geq(intake_slot, 0);
    fixture_stop_worker(&fx, intake_slot, SIGTERM);
    send_hostiles(big, poison, 0);
    rd_kafka_producev(big, RD_KAFKA_V_TOPIC("lastmile.intake"),
                      RD_KAFKA_V_KEY(b_email, strlen(b_email)),
                      RD_KAFKA_V_VALUE(bval, blen),
                      RD_KAFKA_V_OPAQUE((void *)(uintptr_t)SIZE_MAX),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(rd_kafka_flush(big, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    free(bval);
    rd_kafka_destroy(big);
    cr_assert_geq(restart_in_slot(intake_slot), 0);
    int64_t deadline = fixture_mono_ms() + fixture_ms(30000);
    while (strset_count(&m.accepted, b_lead) == 0 &&
           fixture_mono_ms() < deadline)
        market_pump(&m, 200);
    printf("hostile input, pass 2: a 999,800-byte input (offset %lld) and "
           "lead B right behind it: B accepted %d time(s); intake's committed "
           "offset %lld\n",
           (long long)hostiles[poison].offset,
           strset_count(&m.accepted, b_lead),
           (long long)committed_sum("lastmile.intake", LM_TOPIC_INTAKE, 1));
    /* when B shares the poison's batch, the runtime (which abandons a batch
       whose produce fails, without rewinding the consumer) loses B too; the
       mock's fetches usually split them, so this mostly passes */
    cr_expect_eq(strset_count(&m.accepted, b_lead), 1,
                 "lead B, right behind a poison input, was lost");

    topic_reader *dlq = reader_new(&fx, "dlq");
    dlq_seen ds = {0};
    deadline = fixture_mono_ms() + fixture_ms(20000);
    while (ds.n < n_hostiles && fixture_mono_ms() < deadline)
        reader_drain(dlq, 200, on_hostile_dead, &ds);
    reader_drain(dlq, 500, on_hostile_dead, &ds);
    printf("hostile input: %zu hostile messages, %zu dead letters\n",
           n_hostiles, ds.n);
    for (size_t i = 0; i < n_hostiles; i++) {
        if (strstr(hostiles[i].what, "oversize") ||
            strstr(hostiles[i].what, "exceed")) {
            /* BUG (report: runtime, output larger than message.max.bytes):
               the dead letter (or the output) is larger than the broker
               takes; the produce fails, the batch is abandoned and the
               input silently vanishes */
            cr_expect_eq(hostiles[i].seen, 1,
                         "BUG: %s on %s: no dead letter (input dropped)",
                         hostiles[i].what, hostiles[i].topic);
            continue;
        }
        cr_expect_eq(hostiles[i].seen, 1, "%s on %s: %d dead letters, want 1",
                     hostiles[i].what, hostiles[i].topic, hostiles[i].seen);
    }
    cr_expect_eq(ds.unmatched, 0, "%zu unexpected dead letter(s)",
                 ds.unmatched);
    /* every dead letter is logged with its reason */
    size_t dl_lines = 0, dl_no_msg = 0;
    for (int w = 0; w < N_WORKERS; w++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.log", fx.dir, worker_names[w]);
        char *log = slurp(path, NULL);
        for (char *line = log; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strstr(line, "\"event\":\"dead_letter\"")) {
                dl_lines++;
                if (!strstr(line, "\"msg\":"))
                    dl_no_msg++;
            }
            line = nl ? nl + 1 : line + strlen(line);
        }
        free(log);
    }
    printf("hostile input: %zu dead_letter log lines, %zu without a msg\n",
           dl_lines, dl_no_msg);
    /* BUG (report: lm_log drops a msg that is not UTF-8) */
    cr_expect_eq(dl_no_msg, 0,
                 "BUG: %zu dead_letter log line(s) lost their message (a "
                 "reason quoting non-UTF-8 input)",
                 dl_no_msg);
    for (int w = 0; w < fx.n_procs; w++) {
        int status = 0;
        if (fx.procs[w] <= 0)
            continue;
        pid_t gone = waitpid(fx.procs[w], &status, WNOHANG);
        cr_expect_eq(gone, 0, "worker %s exited (status %d) on hostile input",
                     fx.proc_names[w], status);
    }
    reader_free(dlq);
    market_free(&m);
    for (size_t i = 0; i < n_hostiles; i++)
        free(hostiles[i].val);
}
