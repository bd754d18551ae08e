/* test_worker_qual_shadow.c — a candidate model in shadow
 * (LASTMILE_MODEL_SHADOW, workers/qualification/qual_shadow.h), through
 * the recorder: both scores on the decision (a disqualified lead's on its
 * outcome), the decision by the live score alone, a bad candidate file
 * refused at start with its file:line and fix, and nothing without the
 * variable.
 *
 * Each Test runs in its own process (Criterion), so setenv and the
 * worker's state do not leak between them. No Kafka, no Redis. */
#include "lm_decode.h"
#include "lm_lead.h"
#include "lm_recorder.h"
#include "qualification.h"
#include "worker_testutil.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW_MS 1767607200000LL /* 2026-01-05T10:00:00Z, a Monday */
#define LEAD   "0123456789abcdef-00000001"

static char path[] = "/tmp/lm_shadow_XXXXXX";

static void write_model(const char *json) {
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    setenv("LASTMILE_MODEL_SHADOW", path, 1);
}

static int init_worker(char *err, size_t errsz) {
    lm_settings s;
    memset(&s, 0, sizeof(s));
    return lm_qualification_worker.init(lm_qualification_worker.ctx, &s, err,
                                        errsz);
}

/* Decides a manager from a web form in Germany (NURTURE under the
 * built-in model) and returns its decision; the test frees it with
 * decided_free. */
static Lastmile__V1__FollowUpEvent *decided;
static void decided_free(void) {
    lastmile__v1__follow_up_event__free_unpacked(decided, NULL);
    decided = NULL;
}
static const Lastmile__V1__QualificationDecision *decide(lm_recorder *rec) {
    size_t n = lm_recorder_plan_batch(rec, &lm_qualification_worker);
    lm_recorder_reply_str(rec, "OK"); /* WATCH */
    for (size_t i = 1; i < n; i++)
        lm_recorder_reply_int(rec, 0); /* every owner's load */
    lm_recorder_begin_batch(rec, &lm_qualification_worker);
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = LEAD;
    l.event_id = "ev-1";
    l.source = "web_form";
    l.title = "Manager";
    l.company_size = 200;
    l.country = "DE";
    l.timezone = "Europe/Berlin";
    l.submitted_at_ms = NOW_MS - 60000;
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_qualification_worker, &l.base, NOW_MS), 0,
        "%s", lm_recorder_rejected(rec) ? lm_recorder_rejected(rec) : "");
    const lm_recorded_emit *e = lm_recorder_emit_on(rec, LM_TOPIC_FOLLOWUP);
    cr_assert_not_null(e);
    Lastmile__V1__FollowUpEvent *ev =
        (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
            rec, 0, &lastmile__v1__follow_up_event__descriptor);
    cr_assert_not_null(ev);
    cr_assert_not_null(ev->decision);
    decided = ev;
    return ev->decision;
}

Test(worker_qual_shadow, both_scores_on_the_decision_live_decides) {
    /* the candidate thinks everyone is hot: sigmoid(3) = 0.9526 */
    write_model("{\"format\": \"lastmile-logistic-v1\", \"version\": "
                "\"candidate-1\", \"weights\": {\"bias\": 3.0}}");
    char err[2048] = "";
    cr_assert_eq(init_worker(err, sizeof(err)), 0, "%s", err);
    lm_recorder *rec = lm_recorder_new();
    const Lastmile__V1__QualificationDecision *d = decide(rec);
    cr_expect_float_eq(d->shadow_score, lm_model_sigmoid(3.0), 1e-12);
    cr_expect_str_eq(d->shadow_model_version, "candidate-1");
    cr_expect_str_eq(d->model_version, "2026-11-25.default");
    cr_expect_lt(d->score, 0.55, "the live score: %f", d->score);
    cr_expect_eq(d->kind, LASTMILE__V1__DECISION_KIND__NURTURE,
                 "the decision follows the live score");
    decided_free();
    lm_recorder_free(rec);
    lm_qualification_worker.fini(lm_qualification_worker.ctx);
    unlink(path);
}

Test(worker_qual_shadow, no_shadow_leaves_the_fields_empty) {
    unsetenv("LASTMILE_MODEL_SHADOW");
    char err[2048] = "";
    cr_assert_eq(init_worker(err, sizeof(err)), 0, "%s", err);
    lm_recorder *rec = lm_recorder_new();
    const Lastmile__V1__QualificationDecision *d = decide(rec);
    cr_expect_eq(d->shadow_score, 0.0);
    cr_expect_str_eq(d->shadow_model_version, "");
    decided_free();
    lm_recorder_free(rec);
    lm_qualification_worker.fini(lm_qualification_worker.ctx);
}

Test(worker_qual_shadow, a_bad_candidate_stops_the_start_with_file_line) {
    write_model("{\"format\": \"lastmile-logistic-v1\",\n"
                " \"version\": \"candidate-2\",\n"
                " \"weights\": {\"bias\": 0.0,\n"
                "   \"titel=vp\": 1.0}}\n");
    char err[2048] = "", want[128];
    cr_expect_eq(init_worker(err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:4: weights[\"titel=vp\"]", path);
    cr_expect(strstr(err, "LASTMILE_MODEL_SHADOW: ") == err, "%s", err);
    cr_expect(strstr(err, want) != NULL, "%s", err);
    cr_expect(strstr(err, "did you mean \"title=vp\"") != NULL, "%s", err);
    cr_expect(strstr(err, "fix:") != NULL, "%s", err);
    lm_qualification_worker.fini(lm_qualification_worker.ctx);
    unlink(path);
}

/* A disqualified lead has no decision event: its shadow score goes on its
 * Outcome, so the candidate can be judged on the leads the live model
 * turned away too. */
Test(worker_qual_shadow, a_disqualified_lead_carries_it_on_its_outcome) {
    write_model("{\"format\": \"lastmile-logistic-v1\", \"version\": "
                "\"candidate-3\", \"weights\": {\"bias\": 3.0}}");
    char err[2048] = "";
    cr_assert_eq(init_worker(err, sizeof(err)), 0, "%s", err);
    lm_recorder *rec = lm_recorder_new();
    size_t n = lm_recorder_plan_batch(rec, &lm_qualification_worker);
    lm_recorder_reply_str(rec, "OK"); /* WATCH */
    for (size_t i = 1; i < n; i++)
        lm_recorder_reply_int(rec, 0);
    lm_recorder_begin_batch(rec, &lm_qualification_worker);
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = LEAD;
    l.event_id = "ev-2";
    l.source = "purchased_list";
    l.title = "Student";
    l.company_size = 1;
    l.country = "DE";
    l.timezone = "Europe/Berlin";
    l.submitted_at_ms = NOW_MS - 60000;
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_qualification_worker, &l.base, NOW_MS), 0,
        "%s", lm_recorder_rejected(rec) ? lm_recorder_rejected(rec) : "");
    cr_assert_not_null(lm_recorder_emit_on(rec, LM_TOPIC_OUTCOMES),
                       "the lead was not disqualified");
    Lastmile__V1__Outcome *o = (Lastmile__V1__Outcome *)lm_recorder_emit_unpack(
        rec, 0, &lastmile__v1__outcome__descriptor);
    cr_assert_not_null(o);
    cr_expect_eq(o->status, LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME);
    cr_expect_float_eq(o->shadow_score, lm_model_sigmoid(3.0), 1e-12);
    cr_expect_str_eq(o->shadow_model_version, "candidate-3");
    lastmile__v1__outcome__free_unpacked(o, NULL);
    lm_recorder_free(rec);
    lm_qualification_worker.fini(lm_qualification_worker.ctx);
    unlink(path);
}
