/* timing_account.c — accounts.pause_on_reply: an account's positive
 * answer pauses its other cadences while its deal is live
 * (timing_account.h).
 *
 * Sections: ids · hop 1 (the account) · hop 2 (each lead) · hooks. All
 * writes through the message's lm_out; the worker's one thread. */
#include "timing_account.h"
#include "timing.h"

#include "lm_fmt.h"
#include "lm_hash.h"
#include "lm_lead.h"
#include "lm_route.h"
#include "lm_sla.h"
#include "lm_topics.h"

#include <stdio.h>
#include <string.h>

#define ACCT_DOMAIN_MAX 128

/* ================================================================ ids */

static int kind_is(const Lastmile__V1__TimerFired *t, const char *k) {
    return t->kind && strcmp(t->kind, k) == 0;
}

/* Hop 1: about the answering lead, the account in the id. */
static int fan_out_kind(const Lastmile__V1__TimerFired *t) {
    return kind_is(t, LM_ACCT_PAUSE) || kind_is(t, LM_ACCT_RESUME) ||
           kind_is(t, LM_ACCT_END) || kind_is(t, LM_ACCT_JOIN);
}

int timing_account_event(const Lastmile__V1__TimingEvent *ev) {
    if (ev->event_case != LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED)
        return 0;
    const Lastmile__V1__TimerFired *t = ev->timer_fired;
    return fan_out_kind(t) || kind_is(t, LM_ACCT_HOLD) ||
           kind_is(t, LM_ACCT_RELEASE) || kind_is(t, LM_ACCT_CLOSE);
}

/* What follows "<lead>:<kind>:" in the timer_id (the domain of hop 1, the
 * answering lead of hop 2), or NULL when the id is not of that form. */
static const char *id_tail(const Lastmile__V1__TimerFired *t) {
    size_t nl = t->lead_id ? strlen(t->lead_id) : 0;
    size_t nk = t->kind ? strlen(t->kind) : 0;
    const char *id = t->timer_id;
    if (!id || !nl || strncmp(id, t->lead_id, nl) != 0 || id[nl] != ':' ||
        strncmp(id + nl + 1, t->kind, nk) != 0 || id[nl + 1 + nk] != ':')
        return NULL;
    return id + nl + nk + 2;
}

int timing_account_identify(const Lastmile__V1__TimerFired *t, lm_ident *ident,
                            char *reason, size_t reasonsz) {
    char tag[LM_PERSON_MAX];
    if (lm_lead_tag_of("timer_fired.lead_id", t->lead_id, ident->tag, reason,
                       reasonsz))
        return -1;
    const char *tail = id_tail(t);
    int ok = tail && *tail && strlen(t->timer_id) < sizeof(ident->id);
    if (ok && fan_out_kind(t))
        ok = strlen(tail) < ACCT_DOMAIN_MAX && lm_route_company_domain(tail);
    else if (ok)
        ok = lm_lead_tag(tail, tag) == 0;
    if (!ok) {
        snprintf(reason, reasonsz,
                 "timer_fired.timer_id: \"%.80s\" is not \"<lead_id>:%s:%s\"",
                 t->timer_id ? t->timer_id : "", t->kind,
                 fan_out_kind(t) ? "<company domain>" : "<lead_id>");
        return -1;
    }
    snprintf(ident->id, sizeof(ident->id), "%s", t->timer_id);
    return 0;
}

int timing_account_plan_alone(const Lastmile__V1__TimingEvent *ev, lm_plan *p,
                              int *rc) {
    if (!timing_account_event(ev) || !fan_out_kind(ev->timer_fired))
        return 0;
    char key[LM_KEY_MAX], deals[LM_KEY_MAX];
    lm_lead_account_open_key(id_tail(ev->timer_fired), key);
    lm_lead_account_deals_key(id_tail(ev->timer_fired), deals);
    *rc = lm_plan_cmd_strs(p, "SMEMBERS", key, NULL) != 0 ||
                  lm_plan_cmd_strs(p, "SMEMBERS", deals, NULL) != 0
              ? -1
              : 0;
    return 1;
}

/* A TimerFired of `kind` about `lead`, id "<lead>:<kind>:<tail>", on
 * lastmile.timing keyed by the lead. 0 / -1. */
static int emit_event(const lm_msg *m, lm_out *out, const char *lead,
                      const char *kind, const char *tail) {
    char id[LM_ID_MAX];
    if (lm_fmt_cat(id, sizeof(id), lead, ":", kind, ":", tail, NULL) >=
        sizeof(id))
        return -1;
    Lastmile__V1__TimerFired tf = LASTMILE__V1__TIMER_FIRED__INIT;
    tf.timer_id = id;
    tf.lead_id = (char *)lead;
    tf.step = -1;
    tf.due_at_ms = m->now_ms;
    tf.fired_at_ms = m->now_ms;
    tf.action_id = (char *)"";
    tf.kind = (char *)kind;
    Lastmile__V1__TimingEvent te = LASTMILE__V1__TIMING_EVENT__INIT;
    te.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_TIMER_FIRED;
    te.timer_fired = &tf;
    return lm_out_emit(out, LM_TOPIC_TIMING, lead, id, &te.base);
}

/* ================================================== hop 1: the account */

/* 1 when the account has a live deal other than lead's (reply 1, the
 * deals set as read). */
static int other_deal(const lm_msg *m, const char *lead) {
    size_t n = lm_read_elems(&m->reads, 1);
    for (size_t i = 0; i < n; i++) {
        const char *d = lm_read_elem_str(&m->reads, 1, i, NULL);
        if (d && strcmp(d, lead) != 0)
            return 1;
    }
    return 0;
}

/* A lead that joined the account from the queue: held by the live deal
 * of the smallest colleague's lead id, if any (reply 1). */
static int join(const lm_msg *m, lm_out *out,
                const Lastmile__V1__TimerFired *t) {
    const char *by = NULL;
    size_t n = lm_read_elems(&m->reads, 1);
    for (size_t i = 0; i < n; i++) {
        const char *d = lm_read_elem_str(&m->reads, 1, i, NULL);
        char tag[LM_PERSON_MAX];
        if (d && strcmp(d, t->lead_id) != 0 && lm_lead_tag(d, tag) == 0 &&
            (!by || strcmp(d, by) < 0))
            by = d;
    }
    lm_out_count(out, "lastmile_account_events_total",
                 "kind=\"" LM_ACCT_JOIN "\"", 1);
    return by ? emit_event(m, out, t->lead_id, LM_ACCT_HOLD, by) : 0;
}

static int fan_out(const lm_msg *m, lm_out *out,
                   const Lastmile__V1__TimerFired *t) {
    char deals[LM_KEY_MAX], labels[48];
    if (kind_is(t, LM_ACCT_JOIN))
        return join(m, out, t);
    lm_lead_account_deals_key(id_tail(t), deals);
    const char *upd[] = {kind_is(t, LM_ACCT_PAUSE) ? "SADD" : "SREM", deals,
                         t->lead_id};
    lm_out_index(out, 3, upd, NULL);
    snprintf(labels, sizeof(labels), "kind=\"%s\"", t->kind);
    lm_out_count(out, "lastmile_account_events_total", labels, 1);
    if (kind_is(t, LM_ACCT_RESUME) && other_deal(m, t->lead_id))
        return 0; /* a colleague's deal is still live: they stay paused */
    const char *per = kind_is(t, LM_ACCT_PAUSE)    ? LM_ACCT_HOLD
                      : kind_is(t, LM_ACCT_RESUME) ? LM_ACCT_RELEASE
                                                   : LM_ACCT_CLOSE;
    size_t n = lm_read_elems(&m->reads, 0);
    for (size_t i = 0; i < n; i++) {
        const char *b = lm_read_elem_str(&m->reads, 0, i, NULL);
        char tag[LM_PERSON_MAX];
        if (!b || strcmp(b, t->lead_id) == 0 || lm_lead_tag(b, tag) != 0)
            continue; /* the answering lead itself, or not a lead id */
        if (emit_event(m, out, b, per, t->lead_id) != 0)
            return -1;
    }
    return 0;
}

/* ==================================================== hop 2: each lead */

static int is_open(const lm_msg *m) {
    const char *s = lm_timing_field(m, R_STATUS, NULL);
    return s && strcmp(s, "open") == 0 &&
           lm_timing_field_int(m, R_RESPONDED) <= 0;
}

/* B's cadence waits: its pending touch taken back, its response timer
 * and owner deadline ended, paused_by = A. */
static int hold(timing_ctx *c, const lm_msg *m, lm_out *out, const char *b,
                const char *a) {
    const char *by = lm_timing_field(m, R_PAUSED, NULL);
    if (!is_open(m) || (by && *by))
        return 0; /* closed, handed off, or paused already */
    if (lm_timing_take_back(c, m, out, b, "account_paused", INT64_MAX) != 0)
        return -1;
    lm_timing_cancel_response_timer(m, out, b);
    char key[LM_KEY_MAX];
    lm_lead_key(b, key);
    /* stage paused: no stage waits on the fleet (lastmile waiting) */
    lm_out_write_strs(out, "HSET", key, LM_F_PAUSED, a, LM_F_SLA_LEVEL,
                      LM_SLA_LEVEL_DONE, LM_F_STAGE, LM_STAGE_PAUSED, NULL);
    lm_out_count(out, "lastmile_account_paused_total", NULL, 1);
    return 0;
}

/* The account's last live deal (A's) ended: B, paused, goes on with its
 * next step from now, or closes at the cadence's end. */
static int release(timing_ctx *c, const lm_msg *m, lm_out *out, const char *b,
                   const char *a) {
    const char *by = lm_timing_field(m, R_PAUSED, NULL);
    if (!is_open(m) || !by || !*by)
        return 0; /* closed, handed off, or not paused */
    char key[LM_KEY_MAX];
    lm_lead_key(b, key);
    lm_out_write_strs(out, "HDEL", key, LM_F_PAUSED, NULL);
    lm_out_count(out, "lastmile_account_resumed_total", NULL, 1);
    const char *cad_name = lm_timing_field(m, R_CADENCE, NULL);
    const char *tz = lm_timing_field(m, R_TZ, NULL);
    const lm_cadence *cad =
        cad_name ? lm_policy_cadence(c->policy, cad_name) : NULL;
    if (!cad || !tz || !lm_timing_field(m, R_STEP, NULL))
        return 0; /* no cadence state: nothing to resume */
    int64_t next = lm_timing_field_int(m, R_STEP) + 1;
    if (next < 1 || (size_t)next >= cad->n_steps)
        return lm_timing_close_lead(
            c, m, out, b, LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE, 0, 0);
    const char *ad = lm_timing_field(m, R_ADAPTIVE, NULL);
    int adaptive = ad && ad[0] == '1';
    lm_slot_stats none;
    memset(&none, 0, sizeof(none));
    int32_t slot = 0;
    int64_t when = lm_timing_choose_step(
        cad, (size_t)next, tz, m->now_ms + cad->steps[next].wait_ms, adaptive,
        &none, lm_hash64_str(b, (uint64_t)next), &slot);
    if (when < 0) {
        lm_out_reject(out, "timezone: \"%.64s\" cannot be resolved", tz);
        return 0;
    }
    char id[LM_ID_MAX], nb[LM_FMT_I64_MAX];
    lm_fmt_i64(nb, next);
    if (lm_fmt_cat(id, sizeof(id), b, ":touch:", nb, ":after:", a, NULL) >=
        sizeof(id))
        return -1;
    Lastmile__V1__NextTouch nt = LASTMILE__V1__NEXT_TOUCH__INIT;
    nt.touch_id = id;
    nt.lead_id = (char *)b;
    nt.step = (int32_t)next;
    nt.scheduled_for_ms = when;
    nt.adaptive = adaptive;
    nt.slot = slot;
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_NEXT_TOUCH;
    ev.next_touch = &nt;
    lm_out_write_strs(out, "HSET", key, LM_F_STAGE, "followup", NULL);
    return lm_out_emit(out, LM_TOPIC_FOLLOWUP, b, id, &ev.base);
}

/* The account bought through A: B's cadence ends (paused or not). */
static int close_other(timing_ctx *c, const lm_msg *m, lm_out *out,
                       const char *b, const char *a) {
    (void)a;
    if (!is_open(m))
        return 0; /* closed, or handed off: its own deal */
    if (lm_timing_take_back(c, m, out, b, "account_converted", INT64_MAX) != 0)
        return -1;
    lm_out_count(out, "lastmile_account_closed_total", NULL, 1);
    return lm_timing_close_lead(
        c, m, out, b, LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE, 0, 0);
}

int timing_account_handle(timing_ctx *c, const lm_msg *m, lm_out *out,
                          const Lastmile__V1__TimerFired *t) {
    if (fan_out_kind(t))
        return fan_out(m, out, t);
    const char *a = id_tail(t);
    if (!lm_timing_field(m, R_STATUS, NULL) || !a) {
        lm_out_count(out, "lastmile_timers_stale_total", NULL, 1);
        return 0; /* a lead that is not (or no longer) there */
    }
    if (kind_is(t, LM_ACCT_HOLD))
        return hold(c, m, out, t->lead_id, a);
    if (kind_is(t, LM_ACCT_RELEASE))
        return release(c, m, out, t->lead_id, a);
    return close_other(c, m, out, t->lead_id, a);
}

/* ============================================================== hooks */

/* The lead's company domain when pause_on_reply is on, else NULL. */
static const char *pausing_account(const timing_ctx *c, const lm_msg *m) {
    const char *dom = lm_timing_field(m, R_ACCOUNT, NULL);
    if (!lm_policy_routing_options(c->policy)->accounts_pause_on_reply ||
        !dom || !*dom || strlen(dom) >= ACCT_DOMAIN_MAX ||
        !lm_route_company_domain(dom))
        return NULL;
    return dom;
}

int timing_account_on_reply(timing_ctx *c, const lm_msg *m, lm_out *out,
                            const char *lead_id) {
    const char *dom = pausing_account(c, m);
    if (!dom)
        return 0;
    char key[LM_KEY_MAX];
    lm_lead_key(lead_id, key);
    lm_out_write_strs(out, "HSET", key, LM_F_ACCT_PAUSED, "1", NULL);
    return emit_event(m, out, lead_id, LM_ACCT_PAUSE, dom);
}

int timing_account_on_join(const lm_policy *p, const lm_msg *m, lm_out *out,
                           const char *lead_id, const char *domain) {
    if (!lm_policy_routing_options(p)->accounts_pause_on_reply || !domain ||
        strlen(domain) >= ACCT_DOMAIN_MAX || !lm_route_company_domain(domain))
        return 0;
    return emit_event(m, out, lead_id, LM_ACCT_JOIN, domain);
}

int timing_account_on_close(timing_ctx *c, const lm_msg *m, lm_out *out,
                            const char *lead_id,
                            Lastmile__V1__OutcomeStatus status) {
    const char *dom = lm_timing_field(m, R_ACCOUNT, NULL);
    if (dom && *dom) {
        char key[LM_KEY_MAX];
        lm_lead_account_open_key(dom, key);
        const char *srem[] = {"SREM", key, lead_id};
        lm_out_index(out, 3, srem, NULL);
    }
    /* a lead that paused its account ends its pause even if the switch
       was turned off since (its colleagues would wait for ever) */
    const char *paused = lm_timing_field(m, R_ACCT_PAUSED, NULL);
    int did_pause = paused && strcmp(paused, "1") == 0 && dom &&
                    strlen(dom) < ACCT_DOMAIN_MAX &&
                    lm_route_company_domain(dom);
    int sale = status == LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME;
    if (sale && (did_pause || pausing_account(c, m)))
        return emit_event(m, out, lead_id, LM_ACCT_END, dom);
    if (did_pause)
        return emit_event(m, out, lead_id, LM_ACCT_RESUME, dom);
    return 0;
}
