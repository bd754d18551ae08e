/* test_simrun_bullet.c — the market's bullet time (cli/simrun_bullet.h)
 * without a broker: which submissions are watched (valid, a new person;
 * not the invalid ones nor repeats), the clock at real speed from the
 * first watched lead until the last one is done (a touch, a decision that
 * starts no cadence, an outcome) or given up after the cap, and a lead
 * the market reaches late submitted at the clock's time. The clock is a
 * real shared clock file this test owns. */
#include "simrun_bullet.h"

#include "lm_clock.h"
#include "lm_lead.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAST 60480.0

static char dir[] = "/tmp/lastmile-bullet-test-XXXXXX";
static char path[256];
static lm_sim sim;

static void setup(void) {
    cr_assert(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof(path), "%s/clock", dir);
    char err[512];
    cr_assert_eq(lm_clock_own(path, FAST, 0, err, sizeof(err)), 0, "%s", err);
    sim = (lm_sim){.seed = 42,
                   .n_leads = 2000,
                   .start_ms = lm_clock_now_ms(),
                   .span_ms = 7 * 86400000LL};
}

static void teardown(void) {
    lm_clock_release();
    rmdir(dir);
}

TestSuite(bullet, .init = setup, .fini = teardown);

/* The first submission of sim index >= from that is valid (want 1) or
 * deliberately invalid (want 0). */
static size_t find(size_t from, int valid, lm_sim_lead *l) {
    for (size_t i = from; i < sim.n_leads; i++) {
        lm_sim_lead_make(&sim, i, l);
        if (!l->repeat && l->invalid == !valid)
            return i;
    }
    cr_assert_fail("no such lead");
    return 0;
}

static size_t packed(const ProtobufCMessage *m, uint8_t *buf) {
    size_t n = protobuf_c_message_get_packed_size(m);
    cr_assert_leq(n, 4096);
    protobuf_c_message_pack(m, buf);
    return n;
}

Test(bullet, watches_valid_new_persons_only) {
    lm_bullet b;
    cr_assert_eq(lm_bullet_init(&b, FAST, 5000), 0);
    lm_sim_lead l;
    char id[40];
    find(0, 0, &l);
    cr_expect_eq(lm_bullet_wants(&b, &l, id), 0, "an invalid submission");
    size_t i = find(0, 1, &l);
    cr_assert_eq(lm_bullet_wants(&b, &l, id), 1);
    char person[LM_PERSON_MAX], want[LM_LEAD_ID_MAX];
    lm_lead_person(l.email, person);
    lm_lead_id(person, l.event_id, want);
    cr_expect_str_eq(id, want, "intake's lead id");
    lm_bullet_publishing(&b, &l);
    cr_expect_eq(b.n, 1);
    /* a repeat of a person already submitted is merged by intake */
    for (size_t k = i + 1; k < sim.n_leads; k++) {
        lm_sim_lead r;
        lm_sim_lead_make(&sim, k, &r);
        if (strcmp(r.email, l.email) == 0) {
            cr_expect_eq(lm_bullet_wants(&b, &r, id), 0, "a repeat");
            break;
        }
    }
    lm_bullet_free(&b);
}

Test(bullet, real_speed_until_the_fleet_is_done) {
    lm_bullet b;
    cr_assert_eq(lm_bullet_init(&b, FAST, 5000), 0);
    lm_bullet_topics names = {"lastmile.followup", "lastmile.outcomes"};
    lm_sim_lead a, c, d;
    char ida[40], idc[40], idd[40];
    size_t i = find(0, 1, &a);
    i = find(i + 1, 1, &c);
    find(i + 1, 1, &d);
    cr_assert(lm_bullet_wants(&b, &a, ida) && lm_bullet_wants(&b, &c, idc) &&
              lm_bullet_wants(&b, &d, idd));
    cr_expect_eq(lm_clock_scale(), FAST);
    lm_bullet_publishing(&b, &a);
    lm_bullet_publishing(&b, &c);
    lm_bullet_publishing(&b, &d);
    cr_expect_eq(lm_clock_scale(), 1.0, "real speed with leads in flight");
    cr_expect_eq(b.st.leads, 3);

    uint8_t buf[4096];
    /* a's first touch */
    lm_bullet_done(&b, ida);
    lm_bullet_tick(&b, 0);
    cr_expect_eq(lm_clock_scale(), 1.0, "two still in flight");
    /* c: a decision with a cadence does not end the watch; unassigned
       (the team is full: no touch now) does */
    Lastmile__V1__QualificationDecision dec =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    dec.lead_id = idc;
    dec.kind = LASTMILE__V1__DECISION_KIND__QUALIFIED;
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    ev.decision = &dec;
    size_t n = packed(&ev.base, buf);
    cr_expect_eq(lm_bullet_message(&b, &names, "lastmile.followup", buf, n), 1);
    cr_expect_eq(b.n, 2, "a decision with a cadence: wait for its touch");
    dec.unassigned = 1;
    n = packed(&ev.base, buf);
    lm_bullet_message(&b, &names, "lastmile.followup", buf, n);
    cr_expect_eq(b.n, 1);
    /* d: disqualified, an outcome */
    Lastmile__V1__Outcome out = LASTMILE__V1__OUTCOME__INIT;
    out.lead_id = idd;
    out.status = LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME;
    n = packed(&out.base, buf);
    cr_expect_eq(lm_bullet_message(&b, &names, "lastmile.outcomes", buf, n), 1);
    cr_expect_eq(lm_bullet_message(&b, &names, "lastmile.actions", buf, n), 0,
                 "actions are the market's to read");
    cr_expect_eq(b.n, 0);
    cr_expect_eq(lm_clock_scale(), 1.0, "until the next tick");
    lm_bullet_tick(&b, 0);
    cr_expect_eq(lm_clock_scale(), FAST, "back to the demo's speed");
    cr_expect_eq(b.st.capped, 0);
    lm_bullet_free(&b);
}

Test(bullet, a_lead_never_heard_of_is_given_up_after_the_cap) {
    lm_bullet b;
    cr_assert_eq(lm_bullet_init(&b, FAST, 30), 0); /* 30 real ms */
    lm_sim_lead a;
    find(0, 1, &a);
    lm_bullet_publishing(&b, &a);
    cr_expect_eq(lm_clock_scale(), 1.0);
    lm_bullet_tick(&b, 0);
    cr_expect_eq(b.n, 1, "not before the cap");
    int64_t t0 = lm_clock_mono_ms();
    while (lm_clock_mono_ms() - t0 < 40)
        usleep(5000);
    lm_bullet_tick(&b, 0);
    cr_expect_eq(b.n, 0);
    cr_expect_eq(b.st.capped, 1);
    cr_expect_eq(lm_clock_scale(), FAST);
    lm_bullet_free(&b);
}

Test(bullet, late_submission_is_stamped_with_the_clock) {
    lm_bullet b;
    cr_assert_eq(lm_bullet_init(&b, FAST, 5000), 0);
    lm_sim_lead a;
    find(0, 1, &a);
    int64_t drawn = lm_clock_now_ms() - 600000; /* 10 minutes ago */
    a.submitted_at_ms = a.msg.submitted_at_ms = drawn;
    lm_bullet_publishing(&b, &a);
    cr_expect_gt(a.msg.submitted_at_ms, drawn);
    cr_expect_eq(a.msg.submitted_at_ms, a.submitted_at_ms);
    cr_expect_leq(a.msg.submitted_at_ms, lm_clock_now_ms());
    cr_expect_geq(b.st.late_ms, 600000);
    lm_bullet_free(&b);
}

Test(bullet, off_without_a_clock_of_its_own) {
    lm_bullet b;
    cr_assert_eq(lm_bullet_init(&b, 0, 5000), 0);
    lm_sim_lead a;
    char id[40];
    find(0, 1, &a);
    cr_expect_eq(lm_bullet_wants(&b, &a, id), 0);
    lm_bullet_publishing(&b, &a);
    cr_expect_eq(b.n, 0);
    cr_expect_eq(lm_clock_scale(), FAST, "the clock is left alone");
    cr_expect_eq(lm_bullet_poll_ms(&b, 10), 10);
    lm_bullet_free(&b);
}
