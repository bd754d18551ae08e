/* test_deal_revenue.c — issue 13, item 7, end to end without servers: a
 * lead replies, and three days later the CRM reports the deal won with its
 * value. The timing worker decides both answers (through the recorder,
 * each from the lead hash the previous one left, its writes applied to a
 * small in-memory hash), and the report reads the resulting lead hash
 * (lm_lead_row_parse of an HGETALL reply) into its figures: the revenue
 * counts the deal. Before the hand-off stage the reply closed the lead
 * RESPONDED, the sale became a LATE_RESPONSE, and revenue stayed 0.
 * Single-threaded; no Kafka, no Redis. */
#include "lm_lead.h"
#include "lm_recorder.h"
#include "lm_report.h"
#include "lm_topics.h"
#include "timing.h"
#include "worker_testutil.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define NOW_MS    1767607200000LL /* 2026-01-05T10:00:00Z, a Monday */
#define DAY_MS    86400000LL
#define LEAD      "0123456789abcdef-01234567"
#define FIELDS    48
#define VALUE_MAX 64

/* ------------------------------------------------ a lead hash in memory */

typedef struct lead_hash {
    char f[FIELDS][VALUE_MAX], v[FIELDS][VALUE_MAX];
    size_t n;
} lead_hash;

static char *slot_of(lead_hash *h, const char *field, int create) {
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->f[i], field) == 0)
            return h->v[i];
    if (!create)
        return NULL;
    cr_assert_lt(h->n, FIELDS);
    snprintf(h->f[h->n], VALUE_MAX, "%s", field);
    h->v[h->n][0] = '\0';
    return h->v[h->n++];
}

static void hset(lead_hash *h, const char *field, const char *value) {
    snprintf(slot_of(h, field, 1), VALUE_MAX, "%s", value);
}

/* Applies the recorded writes to the lead's key: HSET, HSETNX, HINCRBY,
 * as Redis would. */
static void apply_writes(lm_recorder *rec, lead_hash *h) {
    char key[LM_KEY_MAX];
    lm_lead_key(LEAD, key);
    for (size_t i = 0; i < lm_recorder_n_writes(rec); i++) {
        const lm_recorded_cmd *c = lm_recorder_write(rec, i);
        if (c->argc < 4 || strcmp(c->argv[1], key) != 0)
            continue;
        for (int a = 2; a + 1 < c->argc; a += 2) {
            if (strcmp(c->argv[0], "HSET") == 0)
                hset(h, c->argv[a], c->argv[a + 1]);
            else if (strcmp(c->argv[0], "HSETNX") == 0 &&
                     !slot_of(h, c->argv[a], 0))
                hset(h, c->argv[a], c->argv[a + 1]);
            else if (strcmp(c->argv[0], "HINCRBY") == 0) {
                char *s = slot_of(h, c->argv[a], 1);
                snprintf(s, VALUE_MAX, "%lld",
                         strtoll(s, NULL, 10) +
                             strtoll(c->argv[a + 1], NULL, 10));
            }
        }
    }
}

/* ----------------------------------------------------------- the answers */

static lm_recorder *rec;

static void setup(void) {
    rec = worker_test_start(&lm_timing_worker);
}

static void teardown(void) {
    worker_test_stop(&lm_timing_worker, rec);
}

TestSuite(deal_revenue, .init = setup, .fini = teardown);

/* Timing decides one answer at `now` from the lead hash h; its writes go
 * into h. */
static void answer(lead_hash *h, const char *event_id,
                   Lastmile__V1__ResponseKind kind, int64_t deal, int64_t now) {
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    r.event_id = (char *)event_id;
    r.lead_id = LEAD;
    r.kind = kind;
    r.occurred_at_ms = now;
    r.deal_value_cents = deal;
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    ev.response = &r;
    const char *pairs[2 * FIELDS + 1];
    for (size_t i = 0; i < h->n; i++) {
        pairs[2 * i] = h->f[i];
        pairs[2 * i + 1] = h->v[i];
    }
    pairs[2 * h->n] = NULL;
    lm_recorder_reset(rec);
    cr_assert_eq(
        lm_recorder_reply_hash(rec, &lm_timing_worker, &ev.base, now, pairs),
        0);
    lm_recorder_reply_strs(rec, 0, NULL); /* no learned slots */
    cr_assert_eq(lm_recorder_handle(rec, &lm_timing_worker, &ev.base, now), 0);
    cr_assert_null(lm_recorder_rejected(rec), "%s", lm_recorder_rejected(rec));
    apply_writes(rec, h);
}

/* The lead hash as an HGETALL reply, read by the report. */
static void report_of(const lead_hash *h, lm_report *out) {
    redisReply el[2 * FIELDS], *elp[2 * FIELDS], arr;
    memset(el, 0, sizeof(el));
    for (size_t i = 0; i < 2 * h->n; i++) {
        const char *s = i % 2 ? h->v[i / 2] : h->f[i / 2];
        el[i].type = REDIS_REPLY_STRING;
        el[i].str = (char *)s;
        el[i].len = strlen(s);
        elp[i] = &el[i];
    }
    memset(&arr, 0, sizeof(arr));
    arr.type = REDIS_REPLY_ARRAY;
    arr.elements = 2 * h->n;
    arr.element = elp;
    lm_lead_row row;
    cr_assert_eq(lm_lead_row_parse(&arr, &row), 0);
    lm_report_acc *acc = lm_report_acc_new(NULL);
    cr_assert_not_null(acc);
    lm_report_add_lead(acc, &row);
    cr_assert_eq(lm_report_finish(acc, out), 0);
    lm_report_acc_free(acc);
}

Test(deal_revenue, a_deal_won_days_after_the_reply_counts_in_revenue) {
    /* the lead as followup left it: its first email sent at 09:05, its
       window open until tomorrow */
    lead_hash h = {.n = 0};
    hset(&h, LM_F_STATUS, "open");
    hset(&h, LM_F_STAGE, "waiting");
    hset(&h, LM_F_DECISION, "QUALIFIED");
    hset(&h, LM_F_CADENCE, "qualified");
    hset(&h, LM_F_TZ, "Europe/London");
    hset(&h, LM_F_OWNER, "alex.kim");
    hset(&h, LM_F_TEAM, "na");
    hset(&h, LM_F_SEGMENT, "EMEA/mid");
    hset(&h, LM_F_ADAPTIVE, "1");
    hset(&h, LM_F_SUBMITTED, "1767603600000"); /* 09:00 */
    hset(&h, LM_F_ACCEPTED, "1767603600100");
    hset(&h, LM_F_STEP, "0");
    hset(&h, LM_F_SLOT, "9");
    hset(&h, LM_F_FIRST_ACTION, "1767603900000");
    hset(&h, LM_F_FIRST_TOUCH, "1767603900000");
    hset(&h, LM_F_LAST_ACTION, "1767603900000");
    hset(&h, LM_F_NEXT_DUE, "1767690300000");
    hset(&h, LM_F_TOUCHES, "1");
    hset(&h, LM_F_COST, "2");

    answer(&h, "reply-1", LASTMILE__V1__RESPONSE_KIND__REPLIED, 0, NOW_MS);
    lm_report r;
    report_of(&h, &r);
    cr_expect_eq(r.handed_off, 1, "the reply hands off, the lead stays open");
    cr_expect_eq(r.open, 1);
    cr_expect_eq(r.responders, 1);
    cr_expect_eq(r.revenue_cents, 0, "no deal yet");
    lm_report_free(&r);

    /* three days later the CRM: won, 8,400.00 */
    answer(&h, "crm-1", LASTMILE__V1__RESPONSE_KIND__CONVERTED, 840000,
           NOW_MS + 3 * DAY_MS);
    cr_expect_not_null(lm_recorder_find(rec, "HSET", NULL),
                       "the sale wrote the lead");
    report_of(&h, &r);
    cr_expect_eq(r.closed, 1);
    cr_expect_eq(r.converted, 1);
    cr_expect_eq(r.responders, 1);
    cr_expect_eq(r.revenue_cents, 840000, "the deal after the reply counts");
    cr_expect_float_eq(r.revenue_per_lead_cents, 840000, 1e-6);
    cr_expect_float_eq(r.cost_per_buyer_cents, 2, 1e-6);
    /* cycle time: submission (09:00) to the deal, 3 days and an hour */
    cr_expect_float_eq(r.cycle_time_s.p50, 3 * 86400 + 3600, 1e-6);
    lm_report_free(&r);

    /* and a second sale after closing is late: the revenue stays */
    answer(&h, "crm-2", LASTMILE__V1__RESPONSE_KIND__CONVERTED, 100,
           NOW_MS + 4 * DAY_MS);
    const lm_recorded_emit *e = lm_recorder_emit_on(rec, LM_TOPIC_OUTCOMES);
    cr_assert_not_null(e);
    cr_expect_str_eq(e->id, LEAD ":late:crm-2");
    report_of(&h, &r);
    cr_expect_eq(r.revenue_cents, 840000);
    lm_report_free(&r);
}
