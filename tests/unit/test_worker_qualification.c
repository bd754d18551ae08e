/* test_worker_qualification.c — the qualification worker's decisions,
 * through the recorder (lm_recorder.h): no Kafka, no Redis.
 *
 * The worker runs with the built-in decision config and model (init with
 * no paths: thresholds qualified 0.55, nurture 0.25). Each case gives a
 * LeadAccepted and the owners' loads of the batch (one SCARD reply per
 * owner, in the order plan_batch asks, given by owner name: see
 * give_loads) and checks what handle decided: the kind against the
 * thresholds, the top reasons, the owner, the decision on
 * lastmile.followup or the outcome on lastmile.outcomes, the lead hash's
 * fields, the owner's open-set SADD and the counts.
 *
 * Each Test runs in its own process (Criterion), so the worker's
 * round-robin counter starts at 0 in every one. */
#include "lm_lead.h"
#include "lm_decode.h"
#include "lm_recorder.h"
#include "lm_sla.h"
#include "worker_testutil.h"
#include "qualification.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define NOW_MS 1767607200000LL /* 2026-01-05T10:00:00Z, a Monday */

static lm_recorder *rec;
static lm_policy *policy; /* the built-in config, as the worker loads it */

static void setup(void) {
    rec = worker_test_start(&lm_qualification_worker);
    char err[1024] = "";
    policy = lm_policy_load(NULL, err, sizeof(err));
    cr_assert_not_null(policy, "%s", err);
}

static void teardown(void) {
    lm_policy_free(policy);
    worker_test_stop(&lm_qualification_worker, rec);
}

TestSuite(worker_qualification, .init = setup, .fini = teardown);

/* ------------------------------------------------------------- helpers */

/* A lead profile: what the model and the routing rules read. */
typedef struct profile {
    const char *source, *title, *country, *timezone;
    int32_t company_size;
    int demo; /* attribute demo_requested=1 */
} profile;

static Lastmile__V1__LeadAccepted__AttributesEntry demo_attr = {
    PROTOBUF_C_MESSAGE_INIT(
        &lastmile__v1__lead_accepted__attributes_entry__descriptor),
    "demo_requested", "1"};
static Lastmile__V1__LeadAccepted__AttributesEntry *demo_attrs[] = {&demo_attr};

static Lastmile__V1__LeadAccepted lead(const char *lead_id, const profile *p) {
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = (char *)lead_id;
    l.event_id = "ev-1";
    l.source = (char *)p->source;
    l.email = "ada@example.com";
    l.email_domain = "example.com";
    l.full_name = "Ada Byron";
    l.phone = "+442079460018";
    l.company = "Analytical";
    l.title = (char *)p->title;
    l.company_size = p->company_size;
    l.country = (char *)p->country;
    l.timezone = (char *)p->timezone;
    l.submitted_at_ms = NOW_MS - 60000;
    l.accepted_at_ms = NOW_MS - 30000;
    if (p->demo) {
        l.n_attributes = 1;
        l.attributes = demo_attrs;
    }
    return l;
}

/* One owner's load for the batch: a number, or unreadable (an error
 * reply, as for a key of another type), and their run-time state
 * (OwnerStatus): away_until -1 AWAY until BACK, > 0 AWAY until then, 0 not
 * away. Owners not listed have load 0 and no state. */
typedef struct load {
    const char *owner;
    long long n;
    int unreadable;
    long long away_until;
} load;

/* Runs plan_batch, answers each SCARD (lm:{team:<t>}:open:<owner>) from
 * `loads` by owner name, in the order asked, and each owner's state
 * (HMGET lm:{owner:<hash>}:state status until), and begins the batch. */
static void give_loads(const load *loads, size_t n_loads) {
    size_t n = lm_recorder_plan_batch(rec, &lm_qualification_worker);
    size_t owners = 0;
    for (size_t t = 0; t < lm_policy_team_count(policy); t++)
        owners += lm_policy_team_at(policy, t)->n_owners;
    cr_assert_eq(n, 2 * owners + 1,
                 "a WATCH, then one SCARD and one state per owner");
    const lm_recorded_cmd *w = lm_recorder_batch_planned(rec, 0);
    cr_assert_str_eq(w->argv[0], "WATCH");
    cr_assert_eq((size_t)w->argc, 2 * owners + 1,
                 "every owner's open set and state");
    lm_recorder_reply_str(rec, "OK");
    for (size_t i = 0; i < owners; i++) {
        const lm_recorded_cmd *c = lm_recorder_batch_planned(rec, 1 + 2 * i);
        const lm_recorded_cmd *st = lm_recorder_batch_planned(rec, 2 + 2 * i);
        cr_assert_str_eq(c->argv[1], w->argv[1 + i], "watched, then counted");
        cr_assert_str_eq(c->argv[0], "SCARD");
        cr_assert_str_eq(st->argv[0], "HMGET");
        cr_assert_str_eq(st->argv[1], w->argv[1 + owners + i],
                         "the state watched too");
        const char *open = strstr(c->argv[1], "}:open:");
        cr_assert_not_null(open, "%s", c->argv[1]);
        const load *l = NULL;
        for (size_t k = 0; k < n_loads && !l; k++)
            if (strcmp(open + 7, loads[k].owner) == 0)
                l = &loads[k];
        char key[LM_KEY_MAX];
        lm_sla_state_key(open + 7, key);
        cr_assert_str_eq(st->argv[1], key);
        if (l && l->unreadable)
            lm_recorder_reply_error(
                rec, "WRONGTYPE Operation against a key holding the wrong "
                     "kind of value");
        else
            lm_recorder_reply_int(rec, l ? l->n : 0);
        char until[32];
        snprintf(until, sizeof(until), "%lld",
                 l && l->away_until > 0 ? l->away_until : 0);
        const char *away[] = {"AWAY", until};
        const char *none[] = {NULL, NULL};
        lm_recorder_reply_strs(rec, 2, l && l->away_until ? away : none);
    }
    lm_recorder_begin_batch(rec, &lm_qualification_worker);
}

/* Decides one lead in the current batch; returns the owner it got (a
 * static copy), or "" for none. The recorder keeps only this lead's
 * record (it is reset first; the batch's loads live in the worker). */
static const char *decide(const char *lead_id, const profile *p) {
    static char owner[64];
    lm_recorder_reset(rec);
    Lastmile__V1__LeadAccepted l = lead(lead_id, p);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_qualification_worker, &l.base, NOW_MS), 0,
        "%s: %s", lead_id,
        lm_recorder_rejected(rec) ? lm_recorder_rejected(rec) : "failed");
    char key[LM_KEY_MAX];
    lm_lead_key(lead_id, key);
    const char *o = lm_recorder_hget(rec, key, LM_F_OWNER);
    snprintf(owner, sizeof(owner), "%s", o ? o : "");
    return owner;
}

static const profile hot_na = {"referral",         "CEO", "US",
                               "America/New_York", 60,    1};
static const profile hot_ent = {"referral",         "CEO", "US",
                                "America/New_York", 5000,  1};
static const profile warm_emea = {"web_form",      "Manager", "DE",
                                  "Europe/Berlin", 200,       0};
static const profile cold = {"purchased_list", "", "DE", "Europe/Berlin", 0, 0};

/* ---------------------------------------------------------- decisions */

typedef struct decision_case {
    const char *what;
    profile p;
    Lastmile__V1__DecisionKind kind;
    const char *kind_name, *team, *segment, *first_reason;
} decision_case;

static const decision_case decision_cases[] = {
    {"a senior buyer who asked for a demo", hot_na,
     LASTMILE__V1__DECISION_KIND__QUALIFIED, "QUALIFIED", "na", "NA/mid",
     "attr:demo_requested"},
    {"a large company routes to enterprise", hot_ent,
     LASTMILE__V1__DECISION_KIND__QUALIFIED, "QUALIFIED", "enterprise",
     "NA/ent", "log_company_size"},
    {"a manager from a web form is nurtured", warm_emea,
     LASTMILE__V1__DECISION_KIND__NURTURE, "NURTURE", "emea", "EMEA/mid",
     "log_company_size"},
    {"a purchased-list lead is disqualified", cold,
     LASTMILE__V1__DECISION_KIND__DISQUALIFIED, "DISQUALIFIED", NULL,
     "EMEA/smb", "source=purchased_list"},
};

/* The checks every decided lead shares: the hash, the counts. */
static void expect_decided(const decision_case *c, const char *lead_id,
                           double score) {
    char key[LM_KEY_MAX], labels[64], want[32];
    lm_lead_key(lead_id, key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_DECISION), c->kind_name,
                     "%s", c->what);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_DECIDED), "1767607200000");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SEGMENT), c->segment, "%s",
                     c->what);
    snprintf(want, sizeof(want), "%.6f", score);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SCORE), want, "%s",
                     c->what);
    cr_expect_str_eq(
        lm_recorder_hget(rec, key, LM_F_ADAPTIVE),
        lm_lead_adaptive(lead_id, lm_policy_control_share(policy)) ? "1" : "0");
    cr_expect_str_eq(lm_recorder_hget(rec, key, "wait_qualification_ms"), "0");
    /* the record starts here: intake writes none */
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SUBMITTED),
                     "1767607140000");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_ACCEPTED),
                     "1767607170000");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_SOURCE), c->p.source);
    cr_expect_null(lm_recorder_hget(rec, key, "wait_intake_ms"),
                   "a LeadAccepted without intake_wait (an older intake's, "
                   "which wrote it) leaves it");
    /* the lead kept for outcomes and training, without personal data */
    const char *bare = lm_recorder_hget(rec, key, LM_F_LEAD);
    cr_assert_not_null(bare, "%s: the lead is kept", c->what);
    snprintf(labels, sizeof(labels), "kind=\"%s\"", c->kind_name);
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_decisions_total", labels),
                 1, "%s", c->what);
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_decisions_total", NULL), 1);
}

static void expect_reasons(const decision_case *c,
                           const Lastmile__V1__QualificationDecision *d) {
    cr_assert_eq(d->n_reasons, LM_QUAL_REASONS, "%s", c->what);
    cr_expect_str_eq(d->reasons[0]->feature, c->first_reason, "%s: %s %s %s",
                     c->what, d->reasons[0]->feature, d->reasons[1]->feature,
                     d->reasons[2]->feature);
    for (size_t i = 1; i < d->n_reasons; i++)
        cr_expect_geq(fabs(d->reasons[i - 1]->contribution),
                      fabs(d->reasons[i]->contribution), "%s: strongest first",
                      c->what);
}

Test(worker_qualification, decides_by_score_against_the_thresholds) {
    double qualified = lm_policy_threshold_qualified(policy);
    double nurture = lm_policy_threshold_nurture(policy);
    cr_assert_float_eq(qualified, 0.55, 1e-9, "the built-in config");
    cr_assert_float_eq(nurture, 0.25, 1e-9, "the built-in config");
    for (size_t i = 0; i < sizeof(decision_cases) / sizeof(*decision_cases);
         i++) {
        const decision_case *c = &decision_cases[i];
        char lead_id[LM_LEAD_ID_MAX];
        snprintf(lead_id, sizeof(lead_id), "0123456789abcdef-0000000%zu", i);
        give_loads(NULL, 0);
        decide(lead_id, &c->p);
        cr_expect_null(lm_recorder_rejected(rec), "%s", c->what);
        cr_assert_eq(lm_recorder_n_emits(rec), 1, "%s: one output", c->what);
        const lm_recorded_emit *e = lm_recorder_emit(rec, 0);
        cr_expect_str_eq(e->key, lead_id, "%s: keyed by the lead", c->what);
        if (c->kind == LASTMILE__V1__DECISION_KIND__DISQUALIFIED)
            continue; /* its own test below */
        cr_assert_str_eq(e->topic, LM_TOPIC_FOLLOWUP, "%s", c->what);
        char id[LM_ID_MAX];
        snprintf(id, sizeof(id), "%s:decision", lead_id);
        cr_expect_str_eq(e->id, id);
        Lastmile__V1__FollowUpEvent *ev =
            (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
                rec, 0, &lastmile__v1__follow_up_event__descriptor);
        cr_assert_not_null(ev);
        cr_assert_eq(ev->event_case,
                     LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION);
        const Lastmile__V1__QualificationDecision *d = ev->decision;
        cr_expect_eq(d->kind, c->kind, "%s: kind %d score %f", c->what, d->kind,
                     d->score);
        if (c->kind == LASTMILE__V1__DECISION_KIND__QUALIFIED)
            cr_expect_geq(d->score, qualified, "%s", c->what);
        else
            cr_expect(d->score >= nurture && d->score < qualified,
                      "%s: score %f", c->what, d->score);
        cr_expect_str_eq(d->decision_id, id);
        cr_expect_str_eq(d->lead_id, lead_id);
        cr_expect_str_eq(d->team, c->team, "%s", c->what);
        cr_expect_str_eq(d->segment, c->segment, "%s", c->what);
        cr_expect_eq(d->decided_at_ms, NOW_MS);
        cr_expect_str_eq(d->model_version, "2026-11-25.default");
        cr_assert_not_null(d->lead);
        cr_expect_str_eq(d->lead->email, "ada@example.com",
                         "the owner's copy keeps the contact");
        cr_expect(strstr(d->next_step,
                         c->kind == LASTMILE__V1__DECISION_KIND__QUALIFIED
                             ? "qualified cadence: email (step 1 of 5)"
                             : "nurture cadence: email (step 1 of 3)"),
                  "%s: %s", c->what, d->next_step);
        cr_expect(strstr(d->next_step, d->owner), "%s", d->next_step);
        expect_reasons(c, d);
        expect_decided(c, lead_id, d->score);

        /* the owner: one of the team's, written and counted in its set */
        const lm_team *team = lm_policy_team(policy, c->team);
        cr_assert_not_null(team);
        int in_team = 0;
        for (size_t o = 0; o < team->n_owners; o++)
            in_team |= strcmp(team->owners[o].name, d->owner) == 0;
        cr_expect(in_team, "%s: owner %s", c->what, d->owner);
        char key[LM_KEY_MAX], open[LM_KEY_MAX];
        lm_lead_key(lead_id, key);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_OWNER), d->owner);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_TEAM), c->team);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STAGE), "followup");
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STATUS), "open",
                         "the record starts here, open");
        lm_lead_team_open_key(c->team, d->owner, open);
        const lm_recorded_cmd *sadd = lm_recorder_find(rec, "SADD", open);
        /* example.com is a company: its account's owner and open count
           (SET, INCR) and its open leads (SADD lm:{acct:example.com}:open) */
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_ACCOUNT),
                         "example.com");
        if (c->kind == LASTMILE__V1__DECISION_KIND__NURTURE) {
            cr_expect_null(sadd, "%s: nurture takes no slot", c->what);
            cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_HOLDS), "0");
            cr_expect_eq(lm_recorder_n_index(rec), 3, "the account alone");
        } else {
            cr_assert_not_null(sadd, "%s: the owner's open set", c->what);
            cr_expect_eq(sadd->argc, 3);
            cr_expect_str_eq(sadd->argv[2], lead_id);
            cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_HOLDS), "1");
            cr_expect_eq(lm_recorder_n_index(rec), 4,
                         "the SADD and the account");
        }
        protobuf_c_message_free_unpacked(&ev->base, NULL);
    }
}

/* intake's wait rides on the LeadAccepted and is recorded with the
 * decision, even a wait of 0 ms; the lead kept for training leaves it */
Test(worker_qualification, intakes_wait_is_recorded_with_the_decision) {
    static const Lastmile__V1__Millis waits[] = {
        {PROTOBUF_C_MESSAGE_INIT(&lastmile__v1__millis__descriptor), 1234},
        {PROTOBUF_C_MESSAGE_INIT(&lastmile__v1__millis__descriptor), 0}};
    static const char *const want[] = {"1234", "0"};
    for (size_t i = 0; i < 2; i++) {
        const char *lead_id = "0123456789abcdef-eeeeeeee";
        give_loads(NULL, 0);
        lm_recorder_reset(rec);
        Lastmile__V1__LeadAccepted l = lead(lead_id, &hot_na);
        l.intake_wait = (Lastmile__V1__Millis *)&waits[i];
        cr_assert_eq(
            lm_recorder_handle(rec, &lm_qualification_worker, &l.base, NOW_MS),
            0);
        char key[LM_KEY_MAX];
        lm_lead_key(lead_id, key);
        cr_expect_str_eq(lm_recorder_hget(rec, key, "wait_intake_ms"), want[i]);
        cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STATUS), "open");
        /* the bare lead, binary: read with its length from the HSET */
        const lm_recorded_cmd *h = lm_recorder_find(rec, "HSET", key);
        cr_assert_not_null(h);
        int at = -1;
        for (int a = 2; a + 1 < h->argc; a += 2)
            if (strcmp(h->argv[a], LM_F_LEAD) == 0)
                at = a + 1;
        cr_assert_geq(at, 0, "the bare lead in the decision's HSET");
        Lastmile__V1__LeadAccepted *b = lastmile__v1__lead_accepted__unpack(
            NULL, h->lens[at], (const uint8_t *)h->argv[at]);
        cr_assert_not_null(b);
        cr_expect_null(b->intake_wait, "not kept in the bare lead");
        cr_expect_str_eq(b->lead_id, lead_id);
        lastmile__v1__lead_accepted__free_unpacked(b, NULL);
    }
}

Test(worker_qualification, a_disqualified_lead_closes_with_its_outcome) {
    const decision_case *c = &decision_cases[3];
    const char *lead_id = "0123456789abcdef-dddddddd";
    give_loads(NULL, 0);
    cr_expect_str_eq(decide(lead_id, &c->p), "", "no owner");
    cr_assert_eq(lm_recorder_n_emits(rec), 1);
    const lm_recorded_emit *e = lm_recorder_emit(rec, 0);
    cr_expect_str_eq(e->topic, LM_TOPIC_OUTCOMES);
    cr_expect_str_eq(e->id, "0123456789abcdef-dddddddd:outcome");
    cr_expect_null(lm_recorder_emit_on(rec, LM_TOPIC_FOLLOWUP), "no cadence");
    Lastmile__V1__Outcome *o = (Lastmile__V1__Outcome *)lm_recorder_emit_unpack(
        rec, 0, &lastmile__v1__outcome__descriptor);
    cr_assert_not_null(o);
    cr_expect_eq(o->status, LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME);
    cr_expect_str_eq(o->outcome_id, e->id);
    cr_expect_str_eq(o->lead_id, lead_id);
    cr_expect_eq(o->decision, LASTMILE__V1__DECISION_KIND__DISQUALIFIED);
    cr_expect_lt(o->score, lm_policy_threshold_nurture(policy), "score %f",
                 o->score);
    cr_expect_eq(o->closed_at_ms, NOW_MS);
    cr_expect_eq(o->submitted_at_ms, NOW_MS - 60000);
    cr_expect_str_eq(o->segment, "EMEA/smb");
    cr_expect_eq(o->adaptive, lm_lead_adaptive(lead_id, 0.2));
    cr_assert_not_null(o->lead, "features kept for training");
    cr_expect_str_eq(o->lead->email, "", "no personal data in outcomes");
    cr_expect_str_eq(o->lead->full_name, "");
    cr_expect_str_eq(o->lead->phone, "");
    cr_expect_str_eq(o->lead->country, "DE");
    cr_expect_str_eq(o->lead->source, "purchased_list");
    expect_decided(c, lead_id, o->score);

    char key[LM_KEY_MAX];
    lm_lead_key(lead_id, key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STATUS), "closed");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STAGE), "closed");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_CLOSED), "1767607200000");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_OUTCOME), "DISQUALIFIED");
    cr_expect_null(lm_recorder_hget(rec, key, LM_F_OWNER));
    cr_expect_eq(lm_recorder_n_index(rec), 0, "no owner's set grows");
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_outcomes_total",
                                     "status=\"DISQUALIFIED\""),
                 1);
    protobuf_c_message_free_unpacked(&o->base, NULL);
}

/* ------------------------------------------------------------- owners */

/* The na team (alex.kim 60, sam.ortiz 60, jordan.blake 40) gets US leads
 * of companies under 1000 people. */
typedef struct owner_case {
    const char *what;
    load loads[3];
    const char *want[4]; /* the owners of 4 leads of one batch, in order;
                            NULL: any but `never` */
    const char *never;   /* an owner that must get none of them */
} owner_case;

static const owner_case owner_cases[] = {
    {"the only owner with room fills up first",
     {{"alex.kim", 58, 0, 0},
      {"sam.ortiz", 60, 0, 0},
      {"jordan.blake", 40, 0, 0}},
     {"alex.kim", "alex.kim", NULL, NULL},
     NULL},
    {"all full: the overflow team's (general, the built-in config)",
     {{"alex.kim", 70, 0, 0},
      {"sam.ortiz", 60, 0, 0},
      {"jordan.blake", 40, 0, 0}},
     {NULL, NULL, NULL, NULL},
     "alex.kim"},
    {"an unreadable load gives that owner no lead",
     {{"alex.kim", 0, 1, 0}, {"sam.ortiz", 0, 0, 0}, {"jordan.blake", 0, 0, 0}},
     {NULL, NULL, NULL, NULL},
     "alex.kim"},
    {"unreadable, and the other full: the one with room",
     {{"alex.kim", 0, 1, 0},
      {"sam.ortiz", 60, 0, 0},
      {"jordan.blake", 0, 0, 0}},
     {"jordan.blake", "jordan.blake", "jordan.blake", "jordan.blake"},
     NULL},
};

Test(worker_qualification, the_owner_comes_from_the_team_loads) {
    for (size_t i = 0; i < sizeof(owner_cases) / sizeof(*owner_cases); i++) {
        const owner_case *c = &owner_cases[i];
        give_loads(c->loads, 3);
        for (size_t k = 0; k < 4; k++) {
            char lead_id[LM_LEAD_ID_MAX];
            snprintf(lead_id, sizeof(lead_id), "0123456789abcdef-000000%zu%zu",
                     i, k);
            const char *owner = decide(lead_id, &hot_na);
            if (c->want[k])
                cr_expect_str_eq(owner, c->want[k], "%s: lead %zu", c->what, k);
            if (c->never)
                cr_expect_str_neq(owner, c->never, "%s: lead %zu", c->what, k);
            char open[LM_KEY_MAX], key[LM_KEY_MAX];
            lm_lead_key(lead_id, key);
            const char *team = lm_recorder_hget(rec, key, LM_F_TEAM);
            lm_lead_team_open_key(team ? team : "na", owner, open);
            if (*owner)
                cr_expect_not_null(lm_recorder_find(rec, "SADD", open), "%s",
                                   c->what);
            else
                cr_expect_null(lm_recorder_find(rec, "SADD", NULL), "%s",
                               c->what);
        }
    }
}

Test(worker_qualification, owners_with_room_take_turns) {
    give_loads(NULL, 0);
    const char *seen[6];
    char names[6][64];
    for (size_t k = 0; k < 6; k++) {
        char lead_id[LM_LEAD_ID_MAX];
        snprintf(lead_id, sizeof(lead_id), "0123456789abcdef-0000010%zu", k);
        snprintf(names[k], sizeof(names[k]), "%s", decide(lead_id, &hot_na));
        seen[k] = names[k];
    }
    /* round robin over three owners: any three in a row are all
       different, and the turn comes round again */
    for (size_t k = 0; k + 2 < 6; k++) {
        cr_expect_str_neq(seen[k], seen[k + 1]);
        cr_expect_str_neq(seen[k], seen[k + 2]);
        cr_expect_str_neq(seen[k + 1], seen[k + 2]);
    }
    for (size_t k = 0; k + 3 < 6; k++)
        cr_expect_str_eq(seen[k], seen[k + 3]);
}

Test(worker_qualification, a_new_batch_reads_fresh_loads) {
    /* the loads a batch's leads added are forgotten: the next batch reads
       them again from Redis (where the SADDs were applied) */
    const load full[] = {{"alex.kim", 60, 0, 0},
                         {"sam.ortiz", 60, 0, 0},
                         {"jordan.blake", 39, 0, 0}};
    give_loads(full, 3);
    cr_expect_str_eq(decide("0123456789abcdef-00000200", &hot_na),
                     "jordan.blake");
    const load freed[] = {{"alex.kim", 0, 0, 0},
                          {"sam.ortiz", 60, 0, 0},
                          {"jordan.blake", 40, 0, 0}};
    give_loads(freed, 3);
    cr_expect_str_eq(decide("0123456789abcdef-00000201", &hot_na), "alex.kim");
}

/* An owner reported AWAY (OwnerStatus, at run time) gets no lead while
 * away; BACK (no AWAY state), or an AWAY whose `until` has passed, makes
 * them eligible again. */
Test(worker_qualification, an_owner_reported_away_gets_no_lead) {
    const load away[] = {{"alex.kim", 0, 0, -1},
                         {"sam.ortiz", 0, 0, NOW_MS + 60000},
                         {"jordan.blake", 0, 0, 0}};
    give_loads(away, 3);
    for (size_t k = 0; k < 4; k++) {
        char lead_id[LM_LEAD_ID_MAX];
        snprintf(lead_id, sizeof(lead_id), "0123456789abcdef-0000030%zu", k);
        cr_expect_str_eq(decide(lead_id, &hot_na), "jordan.blake",
                         "alex.kim and sam.ortiz are away: lead %zu", k);
    }
    const load back[] = {{"alex.kim", 0, 0, 0},
                         {"sam.ortiz", 0, 0, NOW_MS - 1},
                         {"jordan.blake", 40, 0, 0}};
    give_loads(back, 3);
    int alex = 0, sam = 0;
    for (size_t k = 0; k < 4; k++) {
        char lead_id[LM_LEAD_ID_MAX];
        snprintf(lead_id, sizeof(lead_id), "0123456789abcdef-0000031%zu", k);
        const char *o = decide(lead_id, &hot_na);
        alex += strcmp(o, "alex.kim") == 0;
        sam += strcmp(o, "sam.ortiz") == 0;
    }
    cr_expect_geq(alex, 1, "alex.kim is back");
    cr_expect_geq(sam, 1, "sam.ortiz's away time has passed");
    cr_expect_eq(alex + sam, 4, "jordan.blake is full");
}

/* ---------------------------------------------------------- rejections */

Test(worker_qualification, a_lead_without_an_intake_id_is_refused) {
    static const struct {
        const char *what, *lead_id, *country, *tz, *want;
    } cases[] = {
        {"not a lead id", "lead-1", "US", "America/New_York", "lead_id"},
        {"no country", "0123456789abcdef-00000300", "", "America/New_York",
         "country"},
        {"no time zone", "0123456789abcdef-00000301", "US", "", "timezone"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        lm_recorder_reset(rec);
        profile p = hot_na;
        p.country = cases[i].country;
        p.timezone = cases[i].tz;
        Lastmile__V1__LeadAccepted l = lead(cases[i].lead_id, &p);
        cr_expect_eq(
            lm_recorder_handle(rec, &lm_qualification_worker, &l.base, NOW_MS),
            -1, "%s", cases[i].what);
        const char *why = lm_recorder_rejected(rec);
        cr_assert_not_null(why, "%s", cases[i].what);
        cr_expect(strstr(why, cases[i].want), "%s: %s", cases[i].what, why);
        cr_expect_eq(lm_recorder_n_emits(rec), 0);
        cr_expect_eq(lm_recorder_n_writes(rec), 0);
    }
}

/* Found by fuzz_qualification through the recorder: protobuf-c 1.4.1
 * accepts an unknown field numbered 0 when its tag is written in two bytes
 * (82 00), packs it back in one byte (02), and refuses that on unpack, so
 * a decision forwarding such a lead could not be decoded by followup.
 * Field numbers start at 1: the runtime's decode (lm_decode) refuses such
 * input before any worker sees it, and a well-formed lead's decision
 * always decodes. */
Test(worker_qualification, input_that_could_not_be_forwarded_never_arrives) {
    Lastmile__V1__LeadAccepted l = lead("0123456789abcdef-00000400", &hot_na);
    uint8_t buf[1024];
    size_t n = lastmile__v1__lead_accepted__pack(&l, buf);
    static const uint8_t field0[] = {0x82, 0x00, 0x03, 'a', 'd', 's'};
    memcpy(buf + n, field0, sizeof(field0));
    char reason[LM_REASON_MAX];
    cr_expect_null(lm_decode(&lastmile__v1__lead_accepted__descriptor, buf,
                             n + sizeof(field0), reason, sizeof(reason)));
    cr_expect(strstr(reason, "a field numbered 0"), "%s", reason);

    /* a field the reader does not know (a newer producer's) is kept and
       forwarded, and what is emitted decodes */
    static const uint8_t field99[] = {0x9a, 0x06, 0x03, 'a', 'd', 's'};
    memcpy(buf + n, field99, sizeof(field99));
    ProtobufCMessage *in =
        lm_decode(&lastmile__v1__lead_accepted__descriptor, buf,
                  n + sizeof(field99), reason, sizeof(reason));
    cr_assert_not_null(in, "%s", reason);
    give_loads(NULL, 0);
    cr_assert_eq(lm_recorder_handle(rec, &lm_qualification_worker, in, NOW_MS),
                 0);
    cr_assert_eq(lm_recorder_n_emits(rec), 1);
    ProtobufCMessage *out = lm_recorder_emit_unpack(
        rec, 0, &lastmile__v1__follow_up_event__descriptor);
    cr_expect_not_null(out, "followup could not decode the decision");
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    protobuf_c_message_free_unpacked(in, NULL);
}

Test(worker_qualification, the_wait_in_kafka_is_kept_on_the_lead) {
    lm_recorder_set_times(rec, NOW_MS - 5000, 1234);
    give_loads(NULL, 0);
    decide("0123456789abcdef-00000500", &hot_na);
    char key[LM_KEY_MAX];
    lm_lead_key("0123456789abcdef-00000500", key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, "wait_qualification_ms"),
                     "1234");
    cr_expect_null(lm_recorder_hget(rec, key, "wait_qualification_n"),
                   "a stage that sees a lead once keeps no count");
}

/* ------------------------------------------------------------ routing */

/* The followup decision of the last lead decided (caller frees). */
static Lastmile__V1__QualificationDecision *last_decision(void) {
    const lm_recorded_emit *e = lm_recorder_emit_on(rec, LM_TOPIC_FOLLOWUP);
    cr_assert_not_null(e);
    size_t i = (size_t)(e - lm_recorder_emit(rec, 0));
    Lastmile__V1__FollowUpEvent *ev =
        (Lastmile__V1__FollowUpEvent *)lm_recorder_emit_unpack(
            rec, i, &lastmile__v1__follow_up_event__descriptor);
    cr_assert_not_null(ev);
    Lastmile__V1__QualificationDecision *d = ev->decision;
    ev->decision = NULL;
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    return d;
}

Test(worker_qualification, a_full_team_overflows_into_its_overflow_team) {
    const load full[] = {{"alex.kim", 60, 0, 0},
                         {"sam.ortiz", 60, 0, 0},
                         {"jordan.blake", 40, 0, 0}};
    give_loads(full, 3);
    const char *owner = decide("0123456789abcdef-00000610", &hot_na);
    cr_expect(strcmp(owner, "robin.hale") == 0 ||
                  strcmp(owner, "casey.ng") == 0,
              "na overflows into general (built-in config): %s", owner);
    char key[LM_KEY_MAX];
    lm_lead_key("0123456789abcdef-00000610", key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_TEAM), "general");
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_routed_total", "how=\"overflow\""),
        1);
}

Test(worker_qualification, a_full_team_queues_the_lead_unassigned) {
    /* na is full, and so is general, its overflow */
    const load full[] = {{"alex.kim", 60, 0, 0},
                         {"sam.ortiz", 60, 0, 0},
                         {"jordan.blake", 40, 0, 0},
                         {"robin.hale", 80, 0, 0},
                         {"casey.ng", 80, 0, 0}};
    const char *lead_id = "0123456789abcdef-00000600";
    give_loads(full, 5);
    cr_expect_str_eq(decide(lead_id, &hot_na), "", "no owner had room");
    Lastmile__V1__QualificationDecision *d = last_decision();
    cr_expect_eq(d->unassigned, 1);
    cr_expect_str_eq(d->owner, "");
    cr_expect_str_eq(d->team, "na");
    cr_expect_str_eq(d->decision_id, "0123456789abcdef-00000600:decision");
    cr_expect_str_eq(d->reason, "", "a first decision has no reason");
    cr_expect(strstr(d->next_step, "unassigned") != NULL, "%s", d->next_step);
    lastmile__v1__qualification_decision__free_unpacked(d, NULL);
    char key[LM_KEY_MAX];
    lm_lead_key(lead_id, key);
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_STAGE), "unassigned");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_HOLDS), "0");
    cr_expect_null(lm_recorder_find(rec, "SADD", NULL), "no slot taken");
    /* the queue's member is the decision timing emits when a slot frees */
    const lm_recorded_cmd *z =
        lm_recorder_find(rec, "ZADD", "lm:{team:na}:unassigned");
    cr_assert_not_null(z, "queued in its team");
    cr_expect_str_eq(z->argv[2], "1767607200000", "oldest first");
    Lastmile__V1__QualificationDecision *p =
        lastmile__v1__qualification_decision__unpack(NULL, z->lens[3],
                                                     (uint8_t *)z->argv[3]);
    cr_assert_not_null(p);
    cr_expect_str_eq(p->decision_id,
                     "0123456789abcdef-00000600:decision:assigned");
    cr_expect_str_eq(p->reason, "slot_freed");
    cr_expect_eq(p->unassigned, 0);
    cr_expect_eq(p->kind, LASTMILE__V1__DECISION_KIND__QUALIFIED);
    cr_assert_not_null(p->lead);
    cr_expect_str_eq(p->lead->email, "", "kept without personal data");
    cr_expect_str_eq(p->lead->timezone, "America/New_York");
    lastmile__v1__qualification_decision__free_unpacked(p, NULL);
    /* the member is the decision's only copy (issue 16, reduction 3): the
       lead hash has no pending_decision, and its decided_at is the
       member's score (how timing finds it when the lead closes) */
    const lm_recorded_cmd *h = NULL;
    for (size_t i = 0; i < lm_recorder_n_writes(rec) && !h; i++) {
        const lm_recorded_cmd *c = lm_recorder_write(rec, i);
        for (int a = 2; a + 1 < c->argc; a += 2)
            if (strcmp(c->argv[a], LM_F_PENDING) == 0)
                h = c;
    }
    cr_expect_null(h, "the decision is not kept twice");
    cr_expect_str_eq(lm_recorder_hget(rec, key, LM_F_DECIDED), z->argv[2]);
    cr_expect_eq(lm_recorder_counted(rec, "lastmile_unassigned_total", NULL),
                 1);
    cr_expect_eq(
        lm_recorder_counted(rec, "lastmile_routed_total", "how=\"unassigned\""),
        1);
}

Test(worker_qualification, a_full_team_still_takes_nurture_leads) {
    const load full[] = {{"lena.fischer", 60, 0, 0},
                         {"tom.baker", 50, 0, 0},
                         {"chloe.martin", 40, 0, 0}};
    give_loads(full, 3);
    const char *owner = decide("0123456789abcdef-00000601", &warm_emea);
    cr_expect_str_neq(owner, "", "nurture takes no owner time");
    char open[LM_KEY_MAX];
    lm_lead_team_open_key("emea", owner, open);
    cr_expect_null(lm_recorder_find(rec, "SADD", open), "nor a slot");
}

#define ACCT_OWNER "lm:{acct:example.com}:owner"
#define ACCT_COUNT "lm:{acct:example.com}:open_count"

/* Decides a lead whose account (lm:{acct:example.com}:owner and
 * :open_count) has `open` open leads owned by acct_owner of na; returns
 * the owner it got. */
static const char *decide_account(const char *lead_id, const char *acct_owner,
                                  const char *open) {
    static char owner[64];
    char val[128];
    lm_recorder_reset(rec);
    Lastmile__V1__LeadAccepted l = lead(lead_id, &hot_na);
    snprintf(val, sizeof(val), "na:%s", acct_owner);
    lm_recorder_reply_str(rec, val);
    lm_recorder_reply_str(rec, open);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_qualification_worker, &l.base, NOW_MS), 0);
    /* in a recorder (as on a cluster) lm_plan_get is a GET each; on one
       Redis the runtime reads them in the batch's MGET */
    const lm_recorded_cmd *c = lm_recorder_planned(rec, 0);
    cr_assert_not_null(c, "the plan reads the account");
    cr_expect_str_eq(c->argv[0], "GET");
    cr_expect_str_eq(c->argv[1], ACCT_OWNER);
    c = lm_recorder_planned(rec, 1);
    cr_assert_not_null(c);
    cr_expect_str_eq(c->argv[0], "GET");
    cr_expect_str_eq(c->argv[1], ACCT_COUNT);
    char key[LM_KEY_MAX];
    lm_lead_key(lead_id, key);
    const char *o = lm_recorder_hget(rec, key, LM_F_OWNER);
    snprintf(owner, sizeof(owner), "%s", o ? o : "");
    return owner;
}

Test(worker_qualification, an_account_goes_to_its_open_lead_owner) {
    const load some[] = {{"alex.kim", 10, 0, 0},
                         {"sam.ortiz", 10, 0, 0},
                         {"jordan.blake", 39, 0, 0}};
    give_loads(some, 3);
    for (int k = 0; k < 3; k++) {
        char id[LM_LEAD_ID_MAX];
        snprintf(id, sizeof(id), "0123456789abcdef-0000070%d", k);
        const char *o = decide_account(id, "jordan.blake", "1");
        if (k == 0)
            cr_expect_str_eq(o, "jordan.blake", "the account's owner");
        else
            cr_expect(*o && strcmp(o, "jordan.blake") != 0,
                      "lead %d: jordan.blake is full now: %s", k, o);
    }
    cr_expect(lm_recorder_find(rec, "INCR", ACCT_COUNT),
              "the account counts its open leads");
    /* an account with no open lead left routes by the rules */
    cr_expect_str_neq(
        decide_account("0123456789abcdef-00000710", "sam.ortiz", "0"),
        "sam.ortiz");
}

/* Issue 16, reduction 6: the account's owner and team are written only
 * when they change; once a lead of the batch wrote them, every later lead
 * of that account in the batch writes its own (the last one wins, as when
 * each lead wrote them). The open count is incremented for every lead. */
Test(worker_qualification, an_account_is_written_only_when_its_owner_changes) {
    const load some[] = {{"alex.kim", 10, 0, 0},
                         {"sam.ortiz", 10, 0, 0},
                         {"jordan.blake", 39, 0, 0}};
    give_loads(some, 3);
    const char *acct = ACCT_OWNER;
    /* jordan.blake owns it and has room: nothing to write but the count */
    cr_assert_str_eq(
        decide_account("0123456789abcdef-00000720", "jordan.blake", "1"),
        "jordan.blake");
    cr_expect_null(lm_recorder_find(rec, "SET", acct), "the owner is known");
    cr_expect_not_null(lm_recorder_find(rec, "INCR", ACCT_COUNT));
    /* jordan.blake is full now: another owner, written */
    const char *o =
        decide_account("0123456789abcdef-00000721", "jordan.blake", "1");
    const lm_recorded_cmd *h = lm_recorder_find(rec, "SET", acct);
    cr_assert_not_null(h, "a new owner is written");
    char want[128];
    snprintf(want, sizeof(want), "na:%s", o);
    cr_expect_str_eq(h->argv[2], want);
    /* the same batch, an account read that happens to name the new owner:
       written all the same, this batch wrote it already */
    char again[64];
    snprintf(again, sizeof(again), "%s", o);
    o = decide_account("0123456789abcdef-00000722", again, "1");
    cr_expect_not_null(lm_recorder_find(rec, "SET", acct),
                       "a batch that wrote the account writes it again");
    /* a new batch: the account as read is the lead's owner, no write */
    lm_recorder_reset(rec);
    give_loads(some, 3);
    snprintf(again, sizeof(again), "%s", o);
    cr_expect_str_eq(decide_account("0123456789abcdef-00000723", again, "1"),
                     again);
    cr_expect_null(lm_recorder_find(rec, "SET", acct));
    /* an account with no owner yet (a first lead): written */
    lm_recorder_reset(rec);
    give_loads(some, 3);
    Lastmile__V1__LeadAccepted l = lead("0123456789abcdef-00000724", &hot_na);
    lm_recorder_reply_nil(rec);
    lm_recorder_reply_nil(rec);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_qualification_worker, &l.base, NOW_MS), 0);
    cr_expect_not_null(lm_recorder_find(rec, "SET", acct));
}

/* An owner key that is not "<team>:<owner>" (written by hand, or cut),
 * or a count that is not a number, is no owner to follow: the lead is
 * routed by the rules (and an owner key it cannot read is written again
 * with the lead's owner). The same account read well is followed. */
static double routed_by_account(const char *id, const char *owner_val,
                                const char *count) {
    const load some[] = {{"alex.kim", 10, 0, 0},
                         {"sam.ortiz", 10, 0, 0},
                         {"jordan.blake", 10, 0, 0}};
    give_loads(some, 3);
    lm_recorder_reset(rec);
    Lastmile__V1__LeadAccepted l = lead(id, &hot_na);
    lm_recorder_reply_str(rec, owner_val);
    lm_recorder_reply_str(rec, count);
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_qualification_worker, &l.base, NOW_MS), 0,
        "%s / %s", owner_val, count);
    char key[LM_KEY_MAX];
    lm_lead_key(id, key);
    cr_assert_not_null(lm_recorder_hget(rec, key, LM_F_OWNER), "%s: routed",
                       owner_val);
    return lm_recorder_counted(rec, "lastmile_routed_total", "how=\"account\"");
}

Test(worker_qualification, an_unreadable_account_routes_by_the_rules) {
    cr_expect_eq(
        routed_by_account("0123456789abcdef-00000730", "na:jordan.blake", "1"),
        1, "read well: followed");
    const char *bad_owner[] = {"jordan.blake", ":jordan.blake", "na:"};
    for (size_t k = 0; k < sizeof(bad_owner) / sizeof(*bad_owner); k++) {
        char id[LM_LEAD_ID_MAX];
        snprintf(id, sizeof(id), "0123456789abcdef-0000074%zu", k);
        cr_expect_eq(routed_by_account(id, bad_owner[k], "1"), 0, "%s",
                     bad_owner[k]);
        const lm_recorded_cmd *set = lm_recorder_find(rec, "SET", ACCT_OWNER);
        cr_assert_not_null(set, "%s: written again", bad_owner[k]);
        cr_expect(strchr(set->argv[2], ':') != set->argv[2], "%s",
                  set->argv[2]);
    }
    cr_expect_eq(routed_by_account("0123456789abcdef-00000750",
                                   "na:jordan.blake", "one"),
                 0, "a count that is not a number");
}

Test(worker_qualification, a_free_mail_lead_is_no_account) {
    give_loads(NULL, 0);
    lm_recorder_reset(rec);
    Lastmile__V1__LeadAccepted l = lead("0123456789abcdef-00000800", &hot_na);
    l.email = "ada@gmail.com";
    l.email_domain = "gmail.com";
    cr_assert_eq(
        lm_recorder_handle(rec, &lm_qualification_worker, &l.base, NOW_MS), 0);
    cr_expect_eq(lm_recorder_n_planned(rec), 0, "no account read");
    cr_expect_null(lm_recorder_find(rec, "INCR", NULL));
}
