/* qualification.c — score, decide, route (see qualification.h).
 *
 * Owner assignment is the one decision that needs shared state: each
 * owner's load, the size of its set of open leads. qual_route.c reads the
 * loads once per batch under WATCH (plan_batch), keeps them for the
 * batch (begin_batch), and each assignment updates them there, so the
 * leads of one batch see each other. The assignment is written with the
 * lead's decision, in the batch's transaction (SADD to the owner's set):
 * it is applied exactly once, and a redelivered lead is recovered from its
 * outbox, never assigned again. Two replicas deciding at the same moment
 * cannot both take an owner's last slot: the watched set changed, so the
 * later EXEC is refused and that batch is decided again from fresh loads
 * (capacity is a hard limit, docs/ROUTING.md). timing-adjust releases the
 * load (SREM) when the lead closes and announces the freed slot, which it
 * then gives to the team's oldest unassigned lead, one team's slots at a
 * time (workers/timing/timing_slot.c). The round-robin
 * counters are the process's own: they only say where the search for an
 * owner with room starts. */
#include "qualification.h"
#include "qual_route.h"
#include "qual_migrate.h"
#include "qual_outbox.h"
#include "qual_shadow.h"

#include "lm_fmt.h"
#include "lm_geo.h"
#include "lm_lead.h"
#include "lm_learn.h"
#include "lm_lead_wait.h"
#include "lm_log.h"
#include "lm_topics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct qual_ctx {
    lm_model *model;
    lm_policy *policy;
    qual_route route;
    qual_shadow shadow; /* LASTMILE_MODEL_SHADOW, scored beside */
} qual_ctx;

static qual_ctx qual_state;

void lm_qualify(const lm_model *model, const lm_policy *policy,
                const Lastmile__V1__LeadAccepted *lead,
                lm_qualify_result *out) {
    memset(out, 0, sizeof(*out));
    const struct lm_geo_country *c = lm_geo_country(lead->country);
    lm_features f;
    lm_model_features(model, lead, c ? c->region : "OTHER", &f);
    out->n_reasons =
        lm_model_score(model, &f, &out->score, out->reasons, LM_QUAL_REASONS);
    if (out->score >= lm_policy_threshold_qualified(policy))
        out->kind = LASTMILE__V1__DECISION_KIND__QUALIFIED;
    else if (out->score >= lm_policy_threshold_nurture(policy))
        out->kind = LASTMILE__V1__DECISION_KIND__NURTURE;
    else
        out->kind = LASTMILE__V1__DECISION_KIND__DISQUALIFIED;
    if (lm_policy_segment(policy, lead->country, lead->company_size,
                          out->segment, sizeof(out->segment)) != 0)
        snprintf(out->segment, sizeof(out->segment), "OTHER/unknown");
    if (out->kind != LASTMILE__V1__DECISION_KIND__DISQUALIFIED)
        out->team = lm_policy_route(policy, lead->country, lead->company_size,
                                    lead->source);
    /* the control arm or the global holdout: the fixed schedule */
    out->adaptive = lm_learn_arm(policy, lead->lead_id, &out->holdout);
}

static int qual_init(void *ctx, const lm_settings *s, char *err, size_t errsz) {
    qual_ctx *c = ctx;
    c->policy = lm_policy_load(s->config_path, err, errsz);
    if (!c->policy)
        return -1;
    c->model = lm_model_load(s->model_path, err, errsz);
    if (!c->model)
        return -1;
    if (qual_shadow_init(&c->shadow, err, errsz) != 0)
        return -1;
    if (qual_route_init(&c->route, c->policy, err, errsz) != 0)
        return -1;
    lm_log(LM_LOG_INFO, "model_loaded", "model %s", lm_model_version(c->model));
    return 0;
}

static void qual_fini(void *ctx) {
    qual_ctx *c = ctx;
    qual_route_free(&c->route);
    lm_policy_free(c->policy);
    lm_model_free(c->model);
    qual_shadow_free(&c->shadow);
    c->policy = NULL;
    c->model = NULL;
}

static int qual_plan_batch(void *ctx, lm_plan *p) {
    return qual_route_plan_batch(&((qual_ctx *)ctx)->route, p);
}

/* A batch decided again starts from fresh loads; the counters go on
 * where they were (they only spread the starting point). */
static void qual_begin_batch(void *ctx, const lm_reads *reads) {
    qual_route_begin_batch(&((qual_ctx *)ctx)->route, reads);
}

/* The lead's own reads: its account's owner (qual_route_plan). */
static int qual_plan(void *ctx, const ProtobufCMessage *msg,
                     const lm_ident *ident, int64_t now_ms, lm_plan *p) {
    (void)now_ms;
    const lm_qualify_result *q = (const lm_qualify_result *)ident->scratch;
    if (q->kind == LASTMILE__V1__DECISION_KIND__DISQUALIFIED)
        return 0;
    return qual_route_plan(&((qual_ctx *)ctx)->route,
                           (const Lastmile__V1__LeadAccepted *)msg, p);
}

static int qual_identify(void *ctx, const ProtobufCMessage *msg,
                         lm_ident *ident, char *reason, size_t reasonsz) {
    const Lastmile__V1__LeadAccepted *l =
        (const Lastmile__V1__LeadAccepted *)msg;
    if (lm_lead_tag_of("lead_id", l->lead_id, ident->tag, reason, reasonsz))
        return -1;
    if (!l->country || !*l->country || !l->timezone || !*l->timezone) {
        snprintf(reason, reasonsz, "country/timezone: missing");
        return -1;
    }
    lm_fmt_cat(ident->id, sizeof(ident->id), l->lead_id, ":accepted", NULL);
    /* score once: plan (owner assignment) and handle read the result */
    qual_ctx *c = ctx;
    lm_qualify(c->model, c->policy, l, (lm_qualify_result *)ident->scratch);
    return 0;
}

_Static_assert(sizeof(lm_qualify_result) <= LM_SCRATCH_MAX,
               "the decision must fit the runtime's scratch");

static const char *kind_name(Lastmile__V1__DecisionKind k) {
    switch (k) {
    case LASTMILE__V1__DECISION_KIND__QUALIFIED:
        return "QUALIFIED";
    case LASTMILE__V1__DECISION_KIND__NURTURE:
        return "NURTURE";
    case LASTMILE__V1__DECISION_KIND__DISQUALIFIED:
        return "DISQUALIFIED";
    default:
        return "UNSPECIFIED";
    }
}

/* The lead's record, written here first (intake writes none: an
 * undecided lead is its LeadAccepted on this worker's input): when it was
 * submitted and accepted, its source, open (a disqualified lead is closed
 * by disqualify), intake's wait; then the decision: when, what, the
 * score, the segment, the arm, the holdout and `bare` (the lead without
 * personal data, packed here), and qualification's wait. 0 / -1 (out of
 * memory). */
static int record_decision(const lm_msg *m, lm_out *out, const char *key,
                           const lm_qualify_result *q, const char *now,
                           const Lastmile__V1__LeadAccepted *l,
                           const Lastmile__V1__LeadAccepted *bare) {
    char score[LM_FMT_F6_MAX], sub[LM_FMT_I64_MAX], acc[LM_FMT_I64_MAX];
    lm_fmt_f6(score, q->score); /* "%.6f", without snprintf (issue 16) */
    lm_fmt_i64(sub, l->submitted_at_ms);
    lm_fmt_i64(acc, l->accepted_at_ms);
    size_t bare_len = 0;
    uint8_t *bare_buf = lm_pb_pack(&bare->base, &bare_len);
    if (!bare_buf)
        return -1;
    /* one HSET: the record's fields, the decision's, the holdout (learned
       timing: the lead is in the global holdout, or not; its role is
       followup's to write, with the timer that names it), open unless
       disqualify closes it, and the bare lead last (binary) */
    const char *hset[24] = {"HSET",         key,
                            LM_F_SUBMITTED, sub,
                            LM_F_ACCEPTED,  acc,
                            LM_F_SOURCE,    l->source ? l->source : "",
                            LM_F_DECIDED,   now,
                            LM_F_DECISION,  kind_name(q->kind),
                            LM_F_SCORE,     score,
                            LM_F_SEGMENT,   q->segment,
                            LM_F_ADAPTIVE,  q->adaptive ? "1" : "0",
                            LM_F_HOLDOUT,   q->holdout ? "1" : "0"};
    size_t n = 20, lens[24];
    if (q->kind != LASTMILE__V1__DECISION_KIND__DISQUALIFIED) {
        hset[n++] = LM_F_STATUS;
        hset[n++] = "open";
    }
    hset[n++] = LM_F_LEAD;
    hset[n++] = (const char *)bare_buf;
    for (size_t i = 0; i + 1 < n; i++)
        lens[i] = strlen(hset[i]);
    lens[n - 1] = bare_len;
    lm_out_write(out, (int)n, hset, lens);
    /* intake's wait, as intake measured it; unset in a LeadAccepted from
       an older intake, which wrote it on the lead itself */
    if (l->intake_wait)
        lm_lead_record_wait(out, l->lead_id, "intake", l->intake_wait->ms,
                            LM_WAIT_ONCE);
    free(bare_buf);
    lm_lead_record_wait(out, bare->lead_id, "qualification", m->wait_ms,
                        LM_WAIT_ONCE);
    return 0;
}

/* A disqualified lead closes here: its outcome, and the lead hash
 * closed. 0 / -1. */
static int disqualify(qual_ctx *c, const lm_msg *m, lm_out *out,
                      const char *key, const lm_qualify_result *q,
                      const char *now, Lastmile__V1__LeadAccepted *bare) {
    const Lastmile__V1__LeadAccepted *l =
        (const Lastmile__V1__LeadAccepted *)m->event;
    char id[LM_ID_MAX];
    Lastmile__V1__Outcome o = LASTMILE__V1__OUTCOME__INIT;
    lm_fmt_cat(id, sizeof(id), l->lead_id, ":outcome", NULL);
    o.outcome_id = id;
    o.lead_id = l->lead_id;
    o.status = LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME;
    o.submitted_at_ms = l->submitted_at_ms;
    o.closed_at_ms = m->now_ms;
    o.adaptive = q->adaptive;
    o.segment = (char *)q->segment;
    o.score = q->score;
    o.decision = q->kind;
    o.lead = bare;
    const struct lm_geo_country *gc = lm_geo_country(l->country);
    qual_shadow_score(&c->shadow, l, gc ? gc->region : "OTHER", &o.shadow_score,
                      &o.shadow_model_version);
    lm_out_write_strs(out, "HSET", key, LM_F_STATUS, "closed", LM_F_STAGE,
                      "closed", LM_F_CLOSED, now, LM_F_OUTCOME, "DISQUALIFIED",
                      NULL);
    lm_out_count(out, "lastmile_outcomes_total", "status=\"DISQUALIFIED\"", 1);
    return lm_out_emit(out, LM_TOPIC_OUTCOMES, l->lead_id, id, &o.base);
}

/* The decision's next_step, for people: the cadence, its first channel
 * and the owner, or the team the lead waits for. */
static void next_step_text(const qual_ctx *c, const lm_qualify_result *q,
                           const qual_routed *rt, char *next, size_t nextsz) {
    const lm_cadence *cad = lm_policy_cadence(
        c->policy, q->kind == LASTMILE__V1__DECISION_KIND__QUALIFIED
                       ? "qualified"
                       : "nurture");
    char n_steps[LM_FMT_I64_MAX];
    lm_fmt_i64(n_steps, cad ? (int64_t)cad->n_steps : 0);
    if (rt->unassigned)
        lm_fmt_cat(next, nextsz, "waits for an owner of team ", rt->team->name,
                   " with room (unassigned)", NULL);
    else
        lm_fmt_cat(next, nextsz, cad ? cad->name : "?",
                   " cadence: ", cad ? cad->steps[0].channel : "?",
                   " (step 1 of ", n_steps, ") by ", rt->owner, NULL);
}

/* A decision's reasons, as protobuf-c wants them: reasons[] and the
 * pointers rp[] to them are the caller's (LM_QUAL_REASONS each) and
 * borrow q's feature names. */
static void decision_reasons(const lm_qualify_result *q,
                             Lastmile__V1__Reason *reasons,
                             Lastmile__V1__Reason **rp) {
    for (size_t i = 0; i < q->n_reasons; i++) {
        lastmile__v1__reason__init(&reasons[i]);
        reasons[i].feature = (char *)q->reasons[i].feature;
        reasons[i].contribution = q->reasons[i].contribution;
        rp[i] = &reasons[i];
    }
}

/* A lead no owner has room for waits in its team's queue as the decision
 * timing emits once an owner has room (timing_slot.c): `d` made again,
 * reason "slot_freed", with the bare lead. 0 / -1. */
static int enqueue_waiting(const lm_msg *m, lm_out *out, const qual_routed *rt,
                           const Lastmile__V1__QualificationDecision *d,
                           Lastmile__V1__LeadAccepted *bare) {
    Lastmile__V1__QualificationDecision pending = *d;
    char pid[LM_ID_MAX];
    lm_fmt_cat(pid, sizeof(pid), d->lead_id, ":decision:assigned", NULL);
    pending.decision_id = pid;
    pending.unassigned = 0;
    pending.reason = (char *)"slot_freed";
    pending.next_step = (char *)"";
    pending.lead = bare;
    return qual_route_enqueue(m, d->lead_id, rt->team, &pending, out);
}

/* One lead: scored in identify, recorded here, then closed
 * (disqualified) or routed, and its decision emitted to followup. */
static int qual_handle(void *ctx, const lm_msg *m, lm_out *out) {
    qual_ctx *c = ctx;
    const Lastmile__V1__LeadAccepted *l =
        (const Lastmile__V1__LeadAccepted *)m->event;
    lm_qualify_result q = *(const lm_qualify_result *)m->ident->scratch;
    char key[LM_KEY_MAX], now[32], id[LM_ID_MAX], labels[64], next[160];
    lm_lead_key(l->lead_id, key);
    lm_fmt_i64(now, m->now_ms);
    lm_fmt_cat(labels, sizeof(labels), "kind=\"", kind_name(q.kind), "\"",
               NULL);
    lm_out_count(out, "lastmile_decisions_total", labels, 1);

    /* the lead without personal data, kept for outcomes and training */
    Lastmile__V1__LeadAccepted bare = *l;
    bare.email = bare.full_name = bare.phone = (char *)"";
    bare.intake_wait = NULL; /* on the record as wait_intake_ms */
    if (record_decision(m, out, key, &q, now, l, &bare) != 0)
        return -1;
    if (q.kind == LASTMILE__V1__DECISION_KIND__DISQUALIFIED)
        return disqualify(c, m, out, key, &q, now, &bare);

    qual_routed rt;
    if (qual_route_assign(&c->route, m, l, q.team,
                          q.kind == LASTMILE__V1__DECISION_KIND__NURTURE, out,
                          &rt) != 0)
        return -1;
    lm_fmt_cat(labels, sizeof(labels), "how=\"", lm_route_why_name(rt.why),
               "\"", NULL);
    lm_out_count(out, "lastmile_routed_total", labels, 1);
    next_step_text(c, &q, &rt, next, sizeof(next));

    Lastmile__V1__Reason reasons[LM_QUAL_REASONS];
    Lastmile__V1__Reason *rp[LM_QUAL_REASONS];
    decision_reasons(&q, reasons, rp);
    Lastmile__V1__QualificationDecision d =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    lm_fmt_cat(id, sizeof(id), l->lead_id, ":decision", NULL);
    d.decision_id = id;
    d.lead_id = l->lead_id;
    d.score = q.score;
    d.kind = q.kind;
    d.n_reasons = q.n_reasons;
    d.reasons = rp;
    d.owner = (char *)rt.owner;
    d.team = (char *)rt.team->name;
    d.unassigned = rt.unassigned;
    d.next_step = next;
    d.model_version = (char *)lm_model_version(c->model);
    d.decided_at_ms = m->now_ms;
    d.lead = (Lastmile__V1__LeadAccepted *)l;
    d.segment = q.segment;
    const struct lm_geo_country *gc = lm_geo_country(l->country);
    qual_shadow_score(&c->shadow, l, gc ? gc->region : "OTHER", &d.shadow_score,
                      &d.shadow_model_version);
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    ev.decision = &d;
    if (rt.unassigned && enqueue_waiting(m, out, &rt, &d, &bare) != 0)
        return -1;
    return lm_out_emit(out, LM_TOPIC_FOLLOWUP, l->lead_id, id, &ev.base);
}

static const char *const qual_outputs[] = {LM_TOPIC_FOLLOWUP, LM_TOPIC_OUTCOMES,
                                           NULL};

const lm_worker lm_qualification_worker = {
    .name = "qualification",
    .input = LM_TOPIC_QUALIFICATION,
    .keyed_input = 1, /* by lead id: murmur2 of it names the partition */
    .dedupe = LM_DEDUPE_BY_OFFSET, /* only intake writes its input */
    .outputs = qual_outputs,
    .input_type = LM_TOPIC_QUALIFICATION_TYPE,
    .ctx = &qual_state,
    .scratch_size = sizeof(lm_qualify_result), /* identify's score */
    .identify = qual_identify,
    .plan = qual_plan,
    .plan_batch = qual_plan_batch,
    .begin_batch = qual_begin_batch,
    .handle = qual_handle,
    .outbox_compact = qual_outbox_compact, /* the lead: the input's bytes */
    .outbox_expand = qual_outbox_expand,
    .init = qual_init,
    .fini = qual_fini,
    .start = qual_migrate_start, /* old account hashes (qual_migrate.h) */
};
