/* timing.c — responses and no-responses (timing.h).
 *
 * Sections: sampling · the decision · firing timers. A lead's answers and
 * its deal are timing_deal.c's (timing_internal.h). */
#include "timing.h"
#include "timing_account.h"
#include "timing_internal.h"
#include "timing_learn.h"
#include "timing_migrate.h"
#include "timing_owner.h"
#include "timing_queue.h"
#include "timing_slot.h"

#include "lm_fmt.h"
#include "lm_hash.h"
#include "lm_lead.h"
#include "lm_lead_wait.h"
#include "lm_timers.h"
#include "lm_topics.h"
#include "lm_tz.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* How far ahead of this process's clock a fired timer's due time may be
 * (real ms, scaled to the simulated clock at init): the sweeper and this
 * worker may run on hosts whose clocks differ by that much. */
#define LM_TIMING_CLOCK_SKEW_REAL_MS 10000
/* The latest returns_at_ms an out-of-office reply may give (year 3000). */
#define LM_TIMING_RETURNS_MAX_MS 32503680000000LL

static timing_ctx timing_state;

/* ============================================================= sampling */

double lm_timing_beta(double a, double b, uint64_t *rng) {
    return lm_learn_beta(a, b, rng);
}

int64_t lm_timing_choose(const lm_cadence *c, const char *tz,
                         int64_t earliest_ms, int adaptive,
                         const lm_slot_stats *stats, uint64_t seed,
                         int32_t *slot) {
    int64_t when = lm_policy_next_allowed_ms(c, tz, earliest_ms);
    if (when < 0)
        return -1;
    if (adaptive && stats) {
        /* the per-segment Thompson rule (lm_learn.h, learning.rule:
           thompson) over these counts */
        lm_slot cand[LM_TIMING_SLOTS];
        size_t n = lm_policy_candidate_slots(
            c, tz, earliest_ms, LM_TIMING_HORIZON_MS, cand, LM_TIMING_SLOTS);
        lm_learn_counts lv[LM_LEARN_LEVELS];
        memset(lv, 0, sizeof(lv));
        lm_learn_cfg lc;
        lm_learn_choice ch;
        lm_learn_cfg_default(&lc);
        lc.rule = LM_LEARN_RULE_THOMPSON;
        memcpy(lv[LM_LEARN_SEGMENT].s, stats->s, sizeof(stats->s));
        memcpy(lv[LM_LEARN_SEGMENT].f, stats->f, sizeof(stats->f));
        if (lm_learn_choose(&lc, cand, n, earliest_ms, NULL, lv, seed, &ch) ==
            0)
            when = ch.when_ms;
    }
    lm_local_time lt;
    if (lm_tz_local(tz, when, &lt) != 0)
        return -1;
    *slot = lt.hour_of_week;
    return when;
}

int64_t lm_timing_choose_step(const lm_cadence *c, size_t step, const char *tz,
                              int64_t earliest_ms, int adaptive,
                              const lm_slot_stats *stats, uint64_t seed,
                              int32_t *slot) {
    if (c == NULL || step >= c->n_steps)
        return -1;
    if (!c->steps[step].at_now)
        return lm_timing_choose(c, tz, earliest_ms, adaptive, stats, seed,
                                slot);
    /* "at: now": as soon as the wait is over, never moved to a slot */
    int64_t when = lm_policy_step_time_ms(c, step, tz, earliest_ms);
    lm_local_time lt;
    if (when < 0 || lm_tz_local(tz, when, &lt) != 0)
        return -1;
    *slot = lt.hour_of_week;
    return when;
}

/* ========================================================= the decision */

/* HMGET order: enum timing_read (timing_internal.h) */
static const char *const read_fields[R_N] = {
    LM_F_STATUS,      LM_F_STEP,        LM_F_CADENCE,     LM_F_TZ,
    LM_F_OWNER,       LM_F_TEAM,        LM_F_SEGMENT,     LM_F_ADAPTIVE,
    LM_F_SUBMITTED,   LM_F_TOUCHES,     LM_F_COST,        LM_F_SCORE,
    LM_F_DECISION,    LM_F_SLOT,        LM_F_LEAD,        LM_F_STAGE,
    LM_F_RESPONDED,   LM_F_FIRST_TOUCH, LM_F_FIRST_HUMAN, LM_F_LAST_ACTION,
    LM_F_NEXT_DUE,    LM_F_CANCELLED,   LM_F_HOLDS,       LM_F_ACCOUNT,
    LM_F_PENDING,     LM_F_ROLE,        LM_F_HOLDOUT,     LM_F_PAUSED,
    LM_F_ACCT_PAUSED, LM_F_DECIDED};

/* Field i of the lead's HMGET (read_fields), or NULL. */
static const char *field(const lm_msg *m, int i, size_t *len) {
    return lm_read_elem_str(&m->reads, 0, (size_t)i, len);
}

static int64_t field_int(const lm_msg *m, int i) {
    const char *s = field(m, i, NULL);
    int64_t v = 0;
    if (s)
        lm_parse_int64(s, INT64_MIN, INT64_MAX, &v);
    return v;
}

const char *lm_timing_field(const lm_msg *m, int i, size_t *len) {
    return field(m, i, len);
}

int64_t lm_timing_field_int(const lm_msg *m, int i) {
    return field_int(m, i);
}

static const char *timing_lead(const Lastmile__V1__TimingEvent *ev) {
    if (ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED)
        return ev->timer_fired->lead_id;
    if (ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE)
        return ev->response->lead_id;
    return timing_owner_lead(ev);
}

static int timing_init(void *ctx, const lm_settings *s, char *err,
                       size_t errsz) {
    timing_ctx *c = ctx;
    double scale = s->time_scale > 0 ? s->time_scale : 1;
    c->clock_skew_ms = (int64_t)(LM_TIMING_CLOCK_SKEW_REAL_MS * scale);
    c->policy = lm_policy_load(s->config_path, err, errsz);
    if (!c->policy)
        return -1;
    c->learn_split = timing_learn_split(s->redis_url);
    return 0;
}

static void timing_fini(void *ctx) {
    timing_ctx *c = ctx;
    lm_policy_free(c->policy);
    c->policy = NULL;
}

static int timing_identify(void *ctx, const ProtobufCMessage *msg,
                           lm_ident *ident, char *reason, size_t reasonsz) {
    const Lastmile__V1__TimingEvent *ev =
        (const Lastmile__V1__TimingEvent *)msg;
    if (timing_owner_event(ev)) /* owner deadlines: timing_owner.c */
        return timing_owner_identify(((timing_ctx *)ctx)->policy, ev, ident,
                                     reason, reasonsz);
    if (timing_account_event(ev)) /* pause_on_reply: timing_account.c */
        return timing_account_identify(ev->timer_fired, ident, reason,
                                       reasonsz);
    if (timing_slot_event(ev)) /* a freed slot: timing_slot.c */
        return timing_slot_identify(((timing_ctx *)ctx)->policy, ev->slot_freed,
                                    ident, reason, reasonsz);
    const char *lead = timing_lead(ev);
    if (!lead) {
        snprintf(reason, reasonsz,
                 "event: neither timer_fired nor response is set");
        return -1;
    }
    if (lm_lead_tag_of("lead_id", lead, ident->tag, reason, reasonsz))
        return -1;
    if (ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE) {
        const Lastmile__V1__LeadResponse *r = ev->response;
        if (!r->event_id || !*r->event_id || strlen(r->event_id) > 128) {
            snprintf(reason, reasonsz,
                     "response.event_id: missing or longer than 128 bytes; "
                     "connectors must set a unique id per response");
            return -1;
        }
        if (r->kind < LASTMILE__V1__RESPONSE_KIND__REPLIED ||
            r->kind > LASTMILE__V1__RESPONSE_KIND__LOST) {
            snprintf(reason, reasonsz,
                     "response.kind: %d is not a known ResponseKind "
                     "(REPLIED=1 .. LOST=8)",
                     (int)r->kind);
            return -1;
        }
        if (r->returns_at_ms < 0 ||
            r->returns_at_ms > LM_TIMING_RETURNS_MAX_MS) {
            snprintf(reason, reasonsz,
                     "response.returns_at_ms: %lld is not a time before "
                     "the year 3000 in ms since the epoch (0 = unknown)",
                     (long long)r->returns_at_ms);
            return -1;
        }
        if (r->deal_value_cents < 0 ||
            r->deal_value_cents > INT64_C(100000000000)) {
            snprintf(reason, reasonsz,
                     "response.deal_value_cents: %lld is out of range",
                     (long long)r->deal_value_cents);
            return -1;
        }
        snprintf(ident->id, sizeof(ident->id), "response:%s", r->event_id);
    } else if (lm_timing_is_deal_window(ev->timer_fired)) {
        snprintf(ident->id, sizeof(ident->id), "%s:" LM_LEAD_TIMER_DEAL,
                 lead); /* one per lead */
    } else {
        /* one per step: the timer_id without its segment */
        snprintf(ident->id, sizeof(ident->id), "%s:timer:%d", lead,
                 (int)ev->timer_fired->step);
    }
    return 0;
}

static int timing_plan(void *ctx, const ProtobufCMessage *msg,
                       const lm_ident *ident, int64_t now_ms, lm_plan *p) {
    (void)ident;
    (void)now_ms;
    const Lastmile__V1__TimingEvent *ev =
        (const Lastmile__V1__TimingEvent *)msg;
    int rc;
    if (timing_owner_plan_alone(ev, p, &rc) ||
        timing_account_plan_alone(ev, p, &rc))
        return rc;
    if (timing_slot_event(ev))
        return timing_slot_plan(((timing_ctx *)ctx)->policy, ev->slot_freed, p);
    char key[LM_KEY_MAX];
    lm_lead_key(timing_lead(ev), key);
    /* a response also reads the slot of the touch it answers */
    char own[32];
    timing_learn_answer_field(ev, own, sizeof(own));
    const char *argv[3 + R_N] = {"HMGET", key};
    for (int i = 0; i < R_N; i++)
        argv[2 + i] = read_fields[i];
    argv[2 + R_N] = own;
    if (lm_plan_cmd(p, 2 + R_N + (own[0] ? 1 : 0), argv, NULL) != 0)
        return -1;
    /* reply 1: the learned counts the next step's choice needs (the
       timer's payload names its segment, role and cadence) */
    const timing_ctx *c = ctx;
    if (timing_learn_plan(c->policy, ev, c->learn_split, p) != 0)
        return -1;
    /* from reply 2 on (timing_owner.c counts on it), then on a cluster the
       other learned levels (timing_learn.h) */
    return timing_owner_plan(c->policy, ev, p) != 0 ||
                   timing_learn_plan_rest(c->policy, ev, c->learn_split, p) != 0
               ? -1
               : 0;
}

static const char *outcome_name(Lastmile__V1__OutcomeStatus s) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &lastmile__v1__outcome_status__descriptor, (int)s);
    return v ? v->name : "UNKNOWN";
}

/* The closed lead's outcome, from its hash, emitted to lastmile.outcomes
 * with id (the caller's). On return *o's strings borrow from the
 * message's reads and id; its lead, unpacked for the emit, is freed and
 * NULL. 0 / -1. */
static int emit_outcome(timing_ctx *c, const lm_msg *m, lm_out *out,
                        const char *lead_id, Lastmile__V1__OutcomeStatus status,
                        int64_t deal_cents, const char *id,
                        Lastmile__V1__Outcome *o) {
    size_t lead_len = 0;
    const char *lead_bytes = field(m, R_LEAD, &lead_len);
    *o = (Lastmile__V1__Outcome)LASTMILE__V1__OUTCOME__INIT;
    o->outcome_id = (char *)id;
    o->lead_id = (char *)lead_id;
    o->status = status;
    o->submitted_at_ms = field_int(m, R_SUBMITTED);
    o->closed_at_ms = m->now_ms;
    o->deal_value_cents = deal_cents;
    o->owner = (char *)(field(m, R_OWNER, NULL) ? field(m, R_OWNER, NULL) : "");
    o->touches = (int32_t)field_int(m, R_TOUCHES);
    o->cost_cents = field_int(m, R_COST);
    const char *a = field(m, R_ADAPTIVE, NULL);
    o->adaptive = a && a[0] == '1';
    const char *seg = field(m, R_SEGMENT, NULL);
    o->segment = (char *)(seg ? seg : "");
    const char *sc = field(m, R_SCORE, NULL);
    double score = 0;
    if (sc)
        lm_parse_double(sc, 0, 1, &score);
    o->score = score;
    const char *dec = field(m, R_DECISION, NULL);
    o->decision = dec && strcmp(dec, "QUALIFIED") == 0
                      ? LASTMILE__V1__DECISION_KIND__QUALIFIED
                      : LASTMILE__V1__DECISION_KIND__NURTURE;
    /* the answer that handed it off; a sale with no reply before it is
       its own answer */
    o->responded_at_ms = field_int(m, R_RESPONDED);
    if (!o->responded_at_ms &&
        status == LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME)
        o->responded_at_ms = m->now_ms;
    o->first_touch_at_ms = field_int(m, R_FIRST_TOUCH);
    o->first_human_at_ms = field_int(m, R_FIRST_HUMAN);
    const char *team = field(m, R_TEAM, NULL);
    o->team = (char *)(team ? team : "");
    timing_owner_outcome(c->policy, m, o); /* reassignments */
    o->lead = lead_bytes ? lastmile__v1__lead_accepted__unpack(
                               NULL, lead_len, (const uint8_t *)lead_bytes)
                         : NULL;
    int rc = lm_out_emit(out, LM_TOPIC_OUTCOMES, lead_id, id, &o->base);
    if (o->lead)
        lastmile__v1__lead_accepted__free_unpacked(o->lead, NULL);
    o->lead = NULL;
    return rc != 0 ? -1 : 0;
}

/* The lead hash closed (a sale with no reply before it is its own
 * answer), and the outcome, revenue and cycle-time metrics. */
static void record_close(const lm_msg *m, lm_out *out, const char *lead_id,
                         const Lastmile__V1__Outcome *o, int direct_sale) {
    char key[LM_KEY_MAX], now[32], rev[32], labels[96];
    const char *name = outcome_name(o->status);
    lm_lead_key(lead_id, key);
    snprintf(now, sizeof(now), "%lld", (long long)m->now_ms);
    snprintf(rev, sizeof(rev), "%lld", (long long)o->deal_value_cents);
    lm_out_write_strs(out, "HSET", key, LM_F_STATUS, "closed", LM_F_STAGE,
                      "closed", LM_F_CLOSED, now, LM_F_OUTCOME, name,
                      LM_F_REVENUE, rev, NULL);
    if (direct_sale)
        lm_out_write_strs(out, "HSET", key, LM_F_RESPONDED, now, NULL);
    snprintf(labels, sizeof(labels), "status=\"%s\"", name);
    lm_out_count(out, "lastmile_outcomes_total", labels, 1);
    if (o->deal_value_cents > 0)
        lm_out_count(out, "lastmile_revenue_cents_total", NULL,
                     (double)o->deal_value_cents);
    if (o->submitted_at_ms > 0 && m->now_ms >= o->submitted_at_ms)
        lm_out_observe(out, "lastmile_cycle_time_seconds",
                       (double)(m->now_ms - o->submitted_at_ms) / 1000.0);
}

/* What the closed lead held, let go: its timer, its owner's seat, its
 * account's set, its pending owner step, its place in a team's queue.
 * Outside the lead's slot: idempotent index commands. 0 / -1. */
static int release_lead(timing_ctx *c, const lm_msg *m, lm_out *out,
                        const char *lead_id, const Lastmile__V1__Outcome *o) {
    const char *team = field(m, R_TEAM, NULL);
    /* a handed-off lead waits on its deal window (its response timer went
       at the hand-off); any other on the response timer of its step */
    if (field_int(m, R_RESPONDED) > 0)
        lm_timers_cancel(out, lead_id, LM_LEAD_TIMER_DEAL,
                         LM_LEAD_TIMER_DEAL_PAYLOAD,
                         strlen(LM_LEAD_TIMER_DEAL_PAYLOAD));
    else
        lm_timing_cancel_response_timer(m, out, lead_id);
    if (team && o->owner[0]) {
        /* the owner's load falls by one: idempotent, so a lead closed
           twice releases once */
        char open[LM_KEY_MAX];
        lm_lead_team_open_key(team, o->owner, open);
        const char *rel[] = {"SREM", open, lead_id};
        lm_out_index(out, 3, rel, NULL);
    }
    if (timing_account_on_close(c, m, out, lead_id, o->status) != 0)
        return -1; /* its account's set; pause_on_reply */
    if (timing_owner_on_close(m, out, lead_id, o->status) != 0)
        return -1; /* a pending owner step, unless a sale's hand-off */
    timing_queue_lead ql = {lead_id,
                            team,
                            o->owner,
                            field(m, R_HOLDS, NULL),
                            field(m, R_DECISION, NULL),
                            field(m, R_ACCOUNT, NULL),
                            NULL,
                            0,
                            field(m, R_STAGE, NULL),
                            field(m, R_DECIDED, NULL)};
    ql.pending = field(m, R_PENDING, &ql.pending_len);
    return timing_queue_release(c->policy, m, &ql, out);
}

/* Closes the lead: outcome, state, timer cancel, owner release, stats
 * (timing_internal.h). */
int lm_timing_close_lead(timing_ctx *c, const lm_msg *m, lm_out *out,
                         const char *lead_id,
                         Lastmile__V1__OutcomeStatus status, int64_t deal_cents,
                         int success) {
    char id[LM_ID_MAX];
    snprintf(id, sizeof(id), "%s:outcome", lead_id);
    int direct_sale = !field_int(m, R_RESPONDED) &&
                      status == LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME;
    Lastmile__V1__Outcome o;
    if (emit_outcome(c, m, out, lead_id, status, deal_cents, id, &o) != 0)
        return -1;
    record_close(m, out, lead_id, &o, direct_sale);
    if (release_lead(c, m, out, lead_id, &o) != 0)
        return -1;
    if (success) /* the answered touch's slot learns a success */
        timing_learn_record(c->policy, m, out, 1);
    return 0;
}

int lm_timing_response_payload(const lm_msg *m,
                               char payload[LM_TIMERS_PAYLOAD_MAX]) {
    /* the response timer followup armed with the lead's current step: its
       payload is that step and the segment, both read from the lead */
    int64_t step = field_int(m, R_STEP);
    const char *seg = field(m, R_SEGMENT, NULL);
    char ts[LM_TIMERS_PAYLOAD_MAX];
    if (!field(m, R_STEP, NULL) || step < 0 || step > LM_LEAD_STEP_MAX ||
        lm_learn_timer_segment(seg ? seg : "", field(m, R_ROLE, NULL),
                               field(m, R_CADENCE, NULL), ts, sizeof(ts)) != 0)
        return -1;
    return lm_lead_timer_payload((int)step, ts, payload, LM_TIMERS_PAYLOAD_MAX);
}

void lm_timing_cancel_response_timer(const lm_msg *m, lm_out *out,
                                     const char *lead_id) {
    char payload[LM_TIMERS_PAYLOAD_MAX];
    int plen = lm_timing_response_payload(m, payload);
    if (plen >= 0)
        lm_timers_cancel(out, lead_id, LM_LEAD_TIMER_RESPONSE, payload,
                         (size_t)plen);
}

/* Whether a response timer is stale: the lead answered, closed or moved
 * on, or waits on its account's live deal (then its stage says so; the
 * deal's release moves it on). Counted when stale. */
static int timer_is_stale(const lm_msg *m, lm_out *out,
                          const Lastmile__V1__TimerFired *t) {
    const char *status = field(m, R_STATUS, NULL);
    const char *paused = field(m, R_PAUSED, NULL);
    if (status && strcmp(status, "open") == 0 &&
        field_int(m, R_STEP) == t->step && field_int(m, R_RESPONDED) <= 0 &&
        !(paused && *paused))
        return 0;
    if (paused && *paused && status && strcmp(status, "open") == 0 &&
        field_int(m, R_RESPONDED) <= 0) {
        /* its account's deal is live: it waits (not overdue) */
        char pk[LM_KEY_MAX];
        lm_lead_key(t->lead_id, pk);
        lm_out_write_strs(out, "HSET", pk, LM_F_STAGE, LM_STAGE_PAUSED, NULL);
    }
    lm_out_count(out, "lastmile_timers_stale_total", NULL, 1);
    return 1;
}

/* The next step of cadence cad after an unanswered step: its time (the
 * learned slot, or the cadence's), sent to followup as a NextTouch. 0 / -1,
 * or 0 with the message rejected into out (a time zone that does not
 * resolve). */
static int schedule_next(timing_ctx *c, const lm_msg *m, lm_out *out,
                         const Lastmile__V1__TimerFired *t,
                         const lm_cadence *cad, const char *tz, int next) {
    const char *ad = field(m, R_ADAPTIVE, NULL);
    const char *ho = field(m, R_HOLDOUT, NULL);
    int holdout = ho && ho[0] == '1';
    int adaptive = ad && ad[0] == '1' && !holdout;
    int64_t earliest = m->now_ms + cad->steps[next].wait_ms;
    int32_t chosen = 0;
    double prob = 1;
    uint64_t seed = lm_hash64_str(t->lead_id, (uint64_t)next);
    int64_t when =
        timing_learn_choose(c->policy, c->learn_split, m, cad, next, tz,
                            earliest, adaptive, seed, &chosen, &prob);
    if (when < 0) {
        lm_out_reject(out, "timezone: \"%.64s\" cannot be resolved", tz);
        return 0;
    }
    char id[LM_ID_MAX], key[LM_KEY_MAX];
    snprintf(id, sizeof(id), "%s:touch:%d", t->lead_id, next);
    Lastmile__V1__NextTouch nt = LASTMILE__V1__NEXT_TOUCH__INIT;
    nt.touch_id = id;
    nt.lead_id = t->lead_id;
    nt.step = next;
    nt.scheduled_for_ms = when;
    nt.adaptive = adaptive;
    nt.slot = chosen;
    nt.slot_probability = prob;
    nt.holdout = holdout;
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH;
    ev.next_touch = &nt;
    lm_lead_key(t->lead_id, key);
    lm_out_write_strs(out, "HSET", key, LM_F_STAGE, "followup", NULL);
    return lm_out_emit(out, LM_TOPIC_FOLLOWUP, t->lead_id, id, &ev.base);
}

static int on_timer(timing_ctx *c, const lm_msg *m, lm_out *out,
                    const Lastmile__V1__TimerFired *t) {
    if (lm_timing_is_deal_window(t))
        return lm_timing_on_deal_window(c, m, out, t);
    if (timer_is_stale(m, out, t))
        return 0;
    timing_learn_record(c->policy, m, out, 0); /* its slot: a failure */
    const char *cad_name = field(m, R_CADENCE, NULL);
    const char *tz = field(m, R_TZ, NULL);
    const lm_cadence *cad =
        cad_name ? lm_policy_cadence(c->policy, cad_name) : NULL;
    if (!cad || !tz) {
        lm_out_reject(out, "timer for lead %s, which has no cadence state",
                      t->lead_id);
        return 0;
    }
    int next = t->step + 1;
    if ((size_t)next >= cad->n_steps)
        return lm_timing_close_lead(c, m, out, t->lead_id,
                                    LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE,
                                    0, 0);
    return schedule_next(c, m, out, t, cad, tz, next);
}

/* 1 when a TimerFired is not due yet, refused into out: lastmile.timing
 * is also the connectors' topic, and the sweeper fires a timer only once
 * due (on the clock every process shares, give or take the hosts' clock
 * skew); timing's own account events are due when emitted. Acting on one
 * would cut a response window or a deadline short. Every TimerFired
 * (response, deal window, owner deadline, account) passes here. */
static int timer_not_due(const timing_ctx *c, const lm_msg *m, lm_out *out,
                         const Lastmile__V1__TimerFired *t) {
    if (t->due_at_ms <= m->now_ms + c->clock_skew_ms)
        return 0;
    lm_out_reject(out,
                  "timer_fired.due_at_ms: %lld is in the future (now "
                  "%lld); TimerFired is the timer sweeper's event, not "
                  "a connector's",
                  (long long)t->due_at_ms, (long long)m->now_ms);
    return 1;
}

static int timing_handle(void *ctx, const lm_msg *m, lm_out *out) {
    timing_ctx *c = ctx;
    const Lastmile__V1__TimingEvent *ev =
        (const Lastmile__V1__TimingEvent *)m->event;
    if (ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED &&
        timer_not_due(c, m, out, ev->timer_fired))
        return 0;
    if (timing_owner_event(ev))
        return timing_owner_handle(c->policy, m, out, ev);
    if (timing_account_event(ev))
        return timing_account_handle(c, m, out, ev->timer_fired);
    if (timing_slot_event(ev))
        return timing_slot_handle(c->policy, m, out, ev->slot_freed);
    const char *status = field(m, R_STATUS, NULL);
    if (status && strcmp(status, "open") == 0)
        lm_lead_record_wait(out, timing_lead(ev), "timing", m->wait_ms,
                            LM_WAIT_AGAIN);
    if (ev->event_case == LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE)
        return lm_timing_on_response(c, m, out, ev->response);
    return on_timer(c, m, out, ev->timer_fired);
}

/* ======================================================= firing timers */

/* A response timer fired (no answer in the touch's window): the
 * TimerFired that timing reads back from its own topic; a deal window's
 * is timing_deal.c's; an owner's deadline (kind "owner_deadline"):
 * timing_owner_fire. Other kinds are not timing's. */
static int timing_fire_timer(void *ctx, const lm_timer *t, int64_t now_ms,
                             lm_timers_fired *f) {
    (void)ctx;
    char seg[LM_TIMERS_PAYLOAD_MAX], id[LM_ID_MAX], act[LM_ID_MAX],
        stepb[LM_FMT_I64_MAX];
    int step, rc;
    if (strcmp(t->kind, LM_LEAD_TIMER_DEAL) == 0)
        return lm_timing_fire_deal_window(t, now_ms, f);
    if (timing_owner_fire(t, now_ms, f, &rc)) /* an owner's deadline */
        return rc;
    if (strcmp(t->kind, LM_LEAD_TIMER_RESPONSE) != 0 ||
        lm_lead_timer_payload_parse(t->payload, t->payload_len, &step, seg,
                                    sizeof(seg)) != 0)
        return -1;
    lm_fmt_i64(stepb, step);
    /* the id carries the payload, whose segment timing's plan reads */
    if (lm_fmt_cat(id, sizeof(id), t->lead, ":timer:", t->payload, NULL) >=
        sizeof(id))
        return -1;
    lm_fmt_cat(act, sizeof(act), t->lead, ":action:", stepb, NULL);
    Lastmile__V1__TimerFired tf = LASTMILE__V1__TIMER_FIRED__INIT;
    tf.timer_id = id;
    tf.lead_id = (char *)t->lead;
    tf.step = step;
    tf.due_at_ms = t->due_ms;
    tf.fired_at_ms = now_ms;
    tf.action_id = act;
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    te.timer_fired = &tf;
    return lm_timers_emit(f, LM_TOPIC_TIMING, t->lead, id, &te.base);
}

static const char *const timing_outputs[] = {
    LM_TOPIC_FOLLOWUP, LM_TOPIC_ACTIONS, LM_TOPIC_OUTCOMES, LM_TOPIC_TIMING,
    NULL};

const lm_worker lm_timing_worker = {
    .name = "timing",
    .input = LM_TOPIC_TIMING,
    .keyed_input = 1, /* by lead id (a freed slot by its overflow group, an
                         owner's status by the owner): murmur2 of the key
                         names the partition */
    .outputs = timing_outputs,
    .input_type = LM_TOPIC_TIMING_TYPE,
    .ctx = &timing_state,
    .identify = timing_identify,
    .plan = timing_plan,
    .handle = timing_handle,
    .fire_timer = timing_fire_timer,
    .init = timing_init,
    .fini = timing_fini,
    .start = timing_migrate_start, /* old key layouts (timing_migrate.h) */
};
