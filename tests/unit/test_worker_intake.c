/* test_worker_intake.c — the intake worker's decisions, through the
 * recorder (lm_recorder.h): no Kafka, no Redis.
 *
 * Each case gives a LeadSubmitted and the reply of intake's one read (the
 * dedupe claim: nil when this lead is the person's first, else the lead
 * that owns the person) and checks what handle decided: the LeadAccepted
 * on lastmile.qualification, the lead hash's fields, a merge, a
 * rejection. */
#include "intake.h"
#include "lm_lead.h"
#include "lm_recorder.h"
#include "worker_testutil.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <string.h>

#define NOW_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static lm_recorder *rec;

static void setup(void) {
    rec = worker_test_start(&lm_intake_worker);
}

static void teardown(void) {
    worker_test_stop(&lm_intake_worker, rec);
}

TestSuite(worker_intake, .init = setup, .fini = teardown);

static Lastmile__V1__LeadSubmitted lead(const char *event_id,
                                        const char *email) {
    Lastmile__V1__LeadSubmitted in = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    in.event_id = (char *)event_id;
    in.source = "web";
    in.email = (char *)email;
    in.full_name = "Ada Byron";
    in.company = "Analytical";
    in.title = "VP Engineering";
    in.country = "GB";
    in.submitted_at_ms = NOW_MS - 1000;
    return in;
}

Test(worker_intake, a_new_person_is_accepted_with_its_times) {
    Lastmile__V1__LeadSubmitted in = lead("ev-1", " Ada@Example.COM ");
    lm_recorder_set_times(rec, -1, 1234); /* it waited 1,234 ms in Kafka */
    lm_recorder_reply_nil(rec); /* the claim: nobody owned the person */
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 0);
    cr_expect_null(lm_recorder_rejected(rec));

    size_t plan_n;
    const char *plan = lm_recorder_plan(rec, NULL, &plan_n);
    cr_expect_eq(plan_n, 1);
    cr_expect(strstr(plan, "SET") && strstr(plan, "NX"), "%s", plan);

    cr_assert_eq(lm_recorder_n_emits(rec), 1);
    const lm_recorded_emit *e = lm_recorder_emit(rec, 0);
    cr_expect_str_eq(e->topic, LM_TOPIC_QUALIFICATION);
    Lastmile__V1__LeadAccepted *acc =
        (Lastmile__V1__LeadAccepted *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__lead_accepted__descriptor);
    cr_assert_not_null(acc);
    cr_expect_str_eq(acc->email, "ada@example.com");
    cr_expect_str_eq(acc->email_domain, "example.com");
    cr_expect_str_eq(acc->lead_id, e->key, "keyed by the lead id");
    cr_expect_eq(acc->accepted_at_ms, NOW_MS);
    cr_assert_not_null(acc->intake_wait, "intake's wait rides along");
    cr_expect_eq(acc->intake_wait->ms, 1234, "the wait the runtime measured");
    char id[LM_ID_MAX], key[LM_KEY_MAX];
    snprintf(id, sizeof(id), "%s:accepted", acc->lead_id);
    cr_expect_str_eq(e->id, id, "a deterministic output id");

    /* no record of the lead: qualification writes it with its decision */
    lm_lead_key(acc->lead_id, key);
    cr_expect_null(lm_recorder_find(rec, "HSET", key));
    cr_expect_null(lm_recorder_hget(rec, key, LM_F_ACCEPTED));
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_intake_total",
                                     "result=\"accepted\""),
                 1);
    protobuf_c_message_free_unpacked(&acc->base, NULL);
}

Test(worker_intake, the_same_person_again_is_merged_not_accepted) {
    Lastmile__V1__LeadSubmitted in = lead("ev-2", "ada@example.com");
    char person[LM_PERSON_MAX], owner[LM_LEAD_ID_MAX];
    lm_lead_person("ada@example.com", person);
    lm_lead_id(person, "ev-1", owner); /* the person's first lead */
    lm_recorder_reply_str(rec, owner); /* the claim: already owned */
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 0);
    cr_expect_eq(lm_recorder_n_emits(rec), 0, "no second cadence");
    char key[LM_KEY_MAX];
    lm_lead_key(owner, key);
    const lm_recorded_cmd *c = lm_recorder_find(rec, "HINCRBY", key);
    cr_assert_not_null(c, "the owner's lead counts the merge");
    cr_expect_str_eq(c->argv[2], LM_F_MERGED);
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_intake_total", "result=\"merged\""),
        1);
}

Test(worker_intake, invalid_input_is_refused_with_the_field_named) {
    Lastmile__V1__LeadSubmitted in = lead("ev-3", "not-an-email");
    cr_expect_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 -1);
    cr_assert_not_null(lm_recorder_rejected(rec));
    cr_expect(strstr(lm_recorder_rejected(rec), "email"), "%s",
              lm_recorder_rejected(rec));
    cr_expect_eq(lm_recorder_n_emits(rec), 0);
}

Test(worker_intake, a_lead_from_the_future_is_rejected_by_handle) {
    Lastmile__V1__LeadSubmitted in = lead("ev-4", "ada@example.com");
    in.submitted_at_ms = NOW_MS + 2LL * 24 * 3600 * 1000;
    lm_recorder_reply_nil(rec);
    cr_expect_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 0);
    cr_assert_not_null(lm_recorder_rejected(rec));
    cr_expect(strstr(lm_recorder_rejected(rec), "submitted_at_ms"));
    cr_expect_eq(lm_recorder_n_emits(rec), 0);
}

Test(worker_intake, an_error_reply_fails_the_message) {
    Lastmile__V1__LeadSubmitted in = lead("ev-5", "ada@example.com");
    lm_recorder_reply_error(rec, "WRONGTYPE Operation against a key");
    cr_expect_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 -1, "the runtime dead-letters it as could-not-handle");
    cr_expect_eq(lm_recorder_n_emits(rec), 0);
}

Test(worker_intake, the_claim_is_one_set_nx_on_the_person_for_the_window) {
    Lastmile__V1__LeadSubmitted in = lead("ev-6", "ada@example.com");
    lm_recorder_reply_nil(rec);
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 0);
    cr_assert_eq(lm_recorder_n_planned(rec), 1);
    const lm_recorded_cmd *c = lm_recorder_planned(rec, 0);
    cr_assert_eq(c->argc, 7);
    char person[LM_PERSON_MAX], key[LM_KEY_MAX], id[LM_LEAD_ID_MAX];
    lm_lead_person("ada@example.com", person);
    lm_lead_person_key(person, key);
    lm_lead_id(person, "ev-6", id);
    cr_expect_str_eq(c->argv[0], "SET");
    cr_expect_str_eq(c->argv[1], key);
    cr_expect_str_eq(c->argv[2], id, "the claim names this lead");
    cr_expect_str_eq(c->argv[3], "NX");
    cr_expect_str_eq(c->argv[4], "GET");
    cr_expect_str_eq(c->argv[5], "PX");
    cr_expect_str_eq(c->argv[6], "2592000000", "30d, the built-in window");
    cr_expect_str_eq(lm_recorder_ident(rec)->tag, person);
    cr_expect_null(lm_recorder_planned(rec, 1));
    /* the recorder answers only HMGETs by field name */
    lm_recorder_reset(rec);
    const char *pairs[] = {"status", "open", NULL};
    cr_expect_eq(
        lm_recorder_reply_hash(rec, &lm_intake_worker, &in.base, NOW_MS, pairs),
        -1);
    cr_expect_eq(lm_recorder_reads(rec)->n, 0, "no reply given");
    cr_expect_eq(lm_recorder_plan_batch(rec, &lm_intake_worker), 0,
                 "intake reads nothing batch-wide");
}

Test(worker_intake, each_message_gets_its_own_plan) {
    /* two messages through one recorder without a reset: the records add
       up, but the plan is the last message's alone */
    Lastmile__V1__LeadSubmitted a = lead("ev-7", "ada@example.com");
    Lastmile__V1__LeadSubmitted b = lead("ev-8", "grace@example.com");
    lm_recorder_reply_nil(rec);
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &a.base, NOW_MS),
                 0);
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &b.base, NOW_MS),
                 0);
    size_t n;
    lm_recorder_plan(rec, NULL, &n);
    cr_expect_eq(n, 1);
    cr_expect_eq(lm_recorder_n_planned(rec), 1);
    char person[LM_PERSON_MAX], key[LM_KEY_MAX];
    lm_lead_person("grace@example.com", person);
    lm_lead_person_key(person, key);
    cr_expect_str_eq(lm_recorder_planned(rec, 0)->argv[1], key);
    cr_expect_eq(lm_recorder_n_emits(rec), 2);
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_intake_total", NULL), 2);
}

/* Found by fuzz_intake through the recorder: intake trusted the value of
 * the person key, and when it held something that is not a lead of this
 * person (a key edited by hand, a value of an older format) merged into
 * that "lead" with writes outside the message's hash tag (CROSSSLOT on
 * Redis Cluster: the batch failed for ever). Now the lead takes the person
 * over: every write stays in the slot, and the lead is accepted. */
Test(worker_intake, a_claim_held_by_no_lead_of_this_person_stays_in_its_slot) {
    static const char *const answers[] = {"ffffffffffffffff-01234567",
                                          "garbage", ""};
    char person[LM_PERSON_MAX], tag[LM_PERSON_MAX + 2];
    lm_lead_person("ada@example.com", person);
    snprintf(tag, sizeof(tag), "{%s}", person);
    for (size_t i = 0; i < sizeof(answers) / sizeof(*answers); i++) {
        lm_recorder_reset(rec);
        Lastmile__V1__LeadSubmitted in = lead("ev-9", "ada@example.com");
        lm_recorder_reply_str(rec, answers[i]);
        cr_expect_eq(
            lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS), 0);
        cr_assert_gt(lm_recorder_n_writes(rec), 0);
        for (size_t w = 0; w < lm_recorder_n_writes(rec); w++) {
            const lm_recorded_cmd *c = lm_recorder_write(rec, w);
            cr_expect(strstr(c->argv[1], tag), "claim \"%s\": %s %s",
                      answers[i], c->argv[0], c->argv[1]);
        }
        /* the lead is accepted, and the person key names it now */
        cr_expect_eq(lm_recorder_n_emits(rec), 1, "claim \"%s\"", answers[i]);
        char pkey[LM_KEY_MAX];
        lm_lead_person_key(person, pkey);
        const lm_recorded_cmd *set = lm_recorder_find(rec, "SET", pkey);
        cr_assert_not_null(set, "claim \"%s\": the person key is not replaced",
                           answers[i]);
        cr_expect_str_eq(set->argv[2], lm_recorder_emit(rec, 0)->key);
    }
}

/* ------------------------------- one Redis: the claim is the done record */

/* On one Redis the runtime reads the person's claim itself (in the batch's
 * MGET, watched) and hands its holder to handle: the plan reads nothing,
 * and an accepted lead takes the claim (lm_out_claim) instead of writing
 * the person key, so the runtime can keep the lead's outbox in it. */
Test(worker_intake, with_the_claim_read_a_new_person_takes_it) {
    Lastmile__V1__LeadSubmitted in = lead("ev-20", "ada@example.com");
    lm_recorder_claim(rec, NULL); /* nobody holds the person */
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 0);
    cr_expect_eq(lm_recorder_n_planned(rec), 0, "the runtime reads the claim");
    char person[LM_PERSON_MAX], pkey[LM_KEY_MAX], id[LM_LEAD_ID_MAX];
    lm_lead_person("ada@example.com", person);
    lm_lead_person_key(person, pkey);
    lm_lead_id(person, "ev-20", id);
    int64_t ttl = 0;
    cr_assert_not_null(lm_recorder_claimed(rec, &ttl));
    cr_expect_str_eq(lm_recorder_claimed(rec, NULL), id);
    cr_expect_eq(ttl, 2592000000LL, "30d, the built-in window");
    cr_expect_null(lm_recorder_find(rec, "SET", pkey),
                   "the runtime writes the claim, not handle");
    cr_assert_eq(lm_recorder_n_emits(rec), 1);
    cr_expect_str_eq(lm_recorder_emit(rec, 0)->key, id);
    /* the claim key is the person's, in the input's hash tag */
    char key[LM_KEY_MAX];
    cr_assert_eq(lm_intake_worker.claim_key(lm_intake_worker.ctx,
                                            lm_recorder_ident(rec), key,
                                            sizeof(key)),
                 0);
    cr_expect_str_eq(key, pkey);
}

Test(worker_intake, with_the_claim_read_the_same_person_is_merged) {
    char person[LM_PERSON_MAX], first[LM_LEAD_ID_MAX], key[LM_KEY_MAX];
    lm_lead_person("ada@example.com", person);
    lm_lead_id(person, "ev-21", first);
    lm_lead_key(first, key);
    Lastmile__V1__LeadSubmitted in = lead("ev-22", "ada@example.com");
    lm_recorder_claim(rec, first);
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 0);
    cr_expect_null(lm_recorder_claimed(rec, NULL), "a merge takes no claim");
    cr_expect_eq(lm_recorder_n_emits(rec), 0);
    cr_expect_not_null(lm_recorder_find(rec, "HINCRBY", key));
}

Test(worker_intake, with_the_claim_read_a_foreign_holder_is_taken_over) {
    Lastmile__V1__LeadSubmitted in = lead("ev-23", "ada@example.com");
    lm_recorder_claim(rec, "ffffffffffffffff-01234567");
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 0);
    cr_assert_eq(lm_recorder_n_emits(rec), 1);
    cr_assert_not_null(lm_recorder_claimed(rec, NULL));
    cr_expect_str_eq(lm_recorder_claimed(rec, NULL),
                     lm_recorder_emit(rec, 0)->key);
    char person[LM_PERSON_MAX], pkey[LM_KEY_MAX];
    lm_lead_person("ada@example.com", person);
    lm_lead_person_key(person, pkey);
    cr_expect_null(lm_recorder_find(rec, "SET", pkey));
}

/* (a claim taken, then a rejection: test_rt_out
 * a_rejection_drops_the_claim_taken) */
Test(worker_intake, with_the_claim_read_a_lead_refused_first_takes_none) {
    Lastmile__V1__LeadSubmitted in = lead("ev-24", "ada@example.com");
    in.submitted_at_ms = NOW_MS + 3LL * 86400000; /* days ahead */
    lm_recorder_claim(rec, NULL);
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 0);
    cr_expect_not_null(lm_recorder_rejected(rec));
    cr_expect_null(lm_recorder_claimed(rec, NULL));
}

/* ------------------------------------------------ the time zone of a lead */

typedef struct tz_case {
    const char *what, *country, *phone, *timezone; /* given */
    const char *want;                              /* the lead's zone */
} tz_case;

Test(worker_intake, the_time_zone_is_given_else_the_phones_else_the_country) {
    static const tz_case cases[] = {
        {"a (415) number: Pacific, not New York", "US", "(415) 555-0100", "",
         "America/Los_Angeles"},
        {"an international (303) number: Mountain", "US", "+1 303 555 0100",
         NULL, "America/Denver"},
        {"a (604) number in Canada: Vancouver", "CA", "604-555-0100", "",
         "America/Vancouver"},
        {"the zone given wins over the phone", "US", "(415) 555-0100",
         "America/Chicago", "America/Chicago"},
        {"no phone: the country's", "US", NULL, "", "America/New_York"},
        {"an area code not in service: the country's", "US", "(555) 555-0100",
         "", "America/New_York"},
        {"a Canadian number on a US lead: the country's", "US",
         "+1 604 555 0100", "", "America/New_York"},
        {"a UK number on a US lead: the country's", "US", "+44 20 7946 0018",
         "", "America/New_York"},
        {"a UK number on a UK lead", "GB", "+44 20 7946 0018", "",
         "Europe/London"},
        {"a German number, national form", "DE", "030 901820", "",
         "Europe/Berlin"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const tz_case *c = &cases[i];
        char ev[32];
        snprintf(ev, sizeof(ev), "tz-%zu", i);
        lm_recorder_reset(rec);
        Lastmile__V1__LeadSubmitted in = lead(ev, "ada@example.com");
        in.country = (char *)c->country;
        in.phone = (char *)c->phone;
        in.timezone = (char *)c->timezone;
        lm_recorder_reply_nil(rec);
        cr_assert_eq(
            lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS), 0,
            "%s", c->what);
        cr_assert_null(lm_recorder_rejected(rec), "%s: %s", c->what,
                       lm_recorder_rejected(rec));
        cr_assert_eq(lm_recorder_n_emits(rec), 1, "%s", c->what);
        Lastmile__V1__LeadAccepted *acc =
            (Lastmile__V1__LeadAccepted *)lm_recorder_emit_unpack(
                rec, 0, &lastmile__v1__lead_accepted__descriptor);
        cr_assert_not_null(acc);
        cr_expect_str_eq(acc->timezone, c->want, "%s: %s", c->what,
                         acc->timezone);
        protobuf_c_message_free_unpacked(&acc->base, NULL);
    }
}

Test(worker_intake, a_malformed_phone_is_still_refused) {
    Lastmile__V1__LeadSubmitted in = lead("ev-tz-bad", "ada@example.com");
    in.country = "US";
    in.phone = "415-CALL-NOW";
    cr_expect_eq(lm_recorder_handle(rec, &lm_intake_worker, &in.base, NOW_MS),
                 -1);
    cr_assert_not_null(lm_recorder_rejected(rec));
    cr_expect(strstr(lm_recorder_rejected(rec), "phone"), "%s",
              lm_recorder_rejected(rec));
}
