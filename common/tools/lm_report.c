/* lm_report.c — the business report's arithmetic (see lm_report.h,
 * docs/REPORT.md): where an open lead waits, the accumulator that counts
 * leads one at a time, and lm_report_finish that turns it into figures.
 *
 * Its neighbours: lm_report_scan.c (a lead hash parsed, every lead read
 * from Redis), lm_report_read.c (a Kafka topic read to its end),
 * lm_report_print.c (JSON and text). Percentiles and intervals come from
 * the one stats module, lm_stats.h; owners are counted in an lm_strmap.
 *
 * Invariants: an accumulator only grows (counters, value vectors, owner
 * map); lm_report_finish sorts the vectors in place, which changes no
 * figure. Single-threaded; no global mutable state. */
#include "lm_report.h"
#include "lm_report_stages.h"

#include "lm_fmt.h"
#include "lm_report_lift.h"
#include "lm_stats.h"
#include "lm_strmap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OWNERS_HINT 64
#define UNASSIGNED  "(unassigned)"
#define MS_PER_S    1000.0

const char *const lm_report_stage_names[LM_REPORT_STAGES] = {
    "intake", "qualification", "followup", "timing"};

int lm_report_waiting_stage(const lm_lead_row *row, int64_t now_ms,
                            int64_t *since) {
    if (!row->status || strcmp(row->status, "open") != 0 || !row->stage)
        return -1;
    if (strcmp(row->stage, "qualification") == 0) {
        *since = row->accepted_at ? row->accepted_at : row->submitted_at;
        return *since > 0 ? LM_REPORT_STAGE_QUALIFICATION : -1;
    }
    if (strcmp(row->stage, "followup") == 0) {
        /* back here from timing (a touch's window closed): since it was
           due; straight from qualification: since the decision */
        *since = row->step >= 0 && row->next_due_at > 0 ? row->next_due_at
                 : row->decided_at                      ? row->decided_at
                                                        : row->accepted_at;
        return *since > 0 ? LM_REPORT_STAGE_FOLLOWUP : -1;
    }
    if (strcmp(row->stage, "waiting") == 0 && row->next_due_at > 0 &&
        now_ms > row->next_due_at) {
        *since = row->next_due_at;
        return LM_REPORT_STAGE_TIMING;
    }
    return -1;
}

/* ============================================================ accumulator */

typedef lm_stats_sample dvec;

struct lm_report_acc {
    lm_report_opts o;
    int oom;
    lm_report c; /* the counters; distributions and owners filled at finish */
    dvec speed, human, cycle, cycle_dq, dead[LM_REPORT_STAGES];
    lm_report_lift_acc lift; /* the timing arms (lm_report_lift.c) */
    lm_strmap *owners;       /* owner name -> open leads, insertion order */
    lm_report_deciles_acc deciles;
    lm_report_stages *stages; /* system vs human delay (lm_report_stages.h) */
};

static void dvec_push(lm_report_acc *acc, dvec *d, double x) {
    if (lm_stats_sample_push(d, x) != 0)
        acc->oom = 1;
}

lm_report_acc *lm_report_acc_new(const lm_report_opts *o) {
    lm_report_acc *acc = calloc(1, sizeof(*acc));
    if (!acc)
        return NULL;
    if (!(acc->owners = lm_strmap_new(OWNERS_HINT)) ||
        !(acc->stages = lm_report_stages_new())) {
        lm_strmap_free(acc->owners);
        free(acc);
        return NULL;
    }
    if (o)
        acc->o = *o;
    return acc;
}

void lm_report_acc_free(lm_report_acc *acc) {
    if (!acc)
        return;
    free(acc->speed.v);
    free(acc->human.v);
    free(acc->cycle.v);
    free(acc->cycle_dq.v);
    for (int i = 0; i < LM_REPORT_STAGES; i++)
        free(acc->dead[i].v);
    lm_strmap_free(acc->owners);
    lm_report_deciles_acc_free(&acc->deciles);
    lm_report_stages_free(acc->stages);
    free(acc);
}

static int is(const char *s, const char *a) {
    return s && strcmp(s, a) == 0;
}

/* Outcome names as the workers write them ("DISQUALIFIED" from
 * qualification, OutcomeStatus names from timing); the short forms of the
 * others are accepted too. */
static int is_outcome(const char *s, const char *full, const char *shrt) {
    return is(s, full) || is(s, shrt);
}

void lm_report_add_lead(lm_report_acc *acc, const lm_lead_row *row) {
    lm_report *c = &acc->c;
    lm_report_pending_found(acc->o.pending, row); /* counted here */
    c->accepted++;
    if (row->merged > 0)
        c->merged += row->merged;
    if (is(row->decision, "QUALIFIED"))
        c->qualified++;
    else if (is(row->decision, "NURTURE"))
        c->nurture++;
    else if (is(row->decision, "DISQUALIFIED"))
        c->disqualified++;
    else
        c->undecided++;
    if (row->touches > 0)
        c->touched++;

    int closed = is(row->status, "closed");
    /* an answer: handed off (open or closed since) or bought; records
       from before responded_at count by their outcome */
    int success = row->responded_at > 0;
    if (closed) {
        c->closed++;
        if (is(row->outcome, "RESPONDED")) {
            c->responded++;
            success = 1;
        } else if (is_outcome(row->outcome, "CONVERTED_OUTCOME", "CONVERTED")) {
            c->converted++;
            success = 1;
        } else if (is_outcome(row->outcome, "LOST_OUTCOME", "LOST"))
            c->lost++;
        else if (is_outcome(row->outcome, "NOT_INTERESTED_OUTCOME",
                            "NOT_INTERESTED"))
            c->not_interested++;
        else if (is_outcome(row->outcome, "UNSUBSCRIBED_OUTCOME",
                            "UNSUBSCRIBED"))
            c->unsubscribed++;
        else if (is_outcome(row->outcome, "BOUNCED_OUTCOME", "BOUNCED"))
            c->bounced++;
        else if (is(row->outcome, "NO_RESPONSE"))
            c->no_response++;
        /* cycle time: touched leads; disqualified ones (closed at once,
           untouched) apart */
        dvec *cyc = is(row->decision, "DISQUALIFIED") ? &acc->cycle_dq
                    : row->touches > 0                ? &acc->cycle
                                                      : NULL;
        if (cyc && row->closed_at > 0 && row->submitted_at > 0) {
            int64_t d = row->closed_at - row->submitted_at;
            dvec_push(acc, cyc, (double)(d > 0 ? d : 0) / MS_PER_S);
        }
    } else {
        c->open++;
        if (row->responded_at > 0) /* timing's mark: stage may lag */
            c->handed_off++;
        char name[LM_REPORT_OWNER_MAX];
        snprintf(name, sizeof(name), "%s",
                 row->owner && *row->owner ? row->owner : UNASSIGNED);
        int64_t *v = lm_strmap_put_str(acc->owners, name, 0, NULL);
        if (v)
            (*v)++;
        else
            acc->oom = 1;
    }
    c->responders += success;
    if (row->first_touch_at > 0 && row->submitted_at > 0) {
        int64_t d = row->first_touch_at - row->submitted_at;
        dvec_push(acc, &acc->speed, (double)(d > 0 ? d : 0) / MS_PER_S);
    }
    if (row->first_human_at > 0 && row->submitted_at > 0) {
        int64_t d = row->first_human_at - row->submitted_at;
        dvec_push(acc, &acc->human, (double)(d > 0 ? d : 0) / MS_PER_S);
    }
    for (int i = 0; i < LM_REPORT_STAGES; i++)
        if (row->wait_n[i] > 0)
            dvec_push(acc, &acc->dead[i],
                      (double)(row->wait_ms[i] > 0 ? row->wait_ms[i] : 0) /
                          (double)row->wait_n[i]);
    lm_report_stages_add(acc->stages, row);
    c->cost_cents += row->cost_cents;
    c->revenue_cents += row->revenue_cents;
    lm_report_lift_add(&acc->lift, row, success);
    if (row->has_score)
        lm_report_deciles_add(
            &acc->deciles, row->score, row->touches,
            is_outcome(row->outcome, "CONVERTED_OUTCOME", "CONVERTED") ||
                row->revenue_cents > 0,
            row->revenue_cents);
}

/* ============================================================ finish */

/* Sorts d in place and summarises it. */
static lm_report_dist dist_of(dvec *d) {
    lm_stats_sort(d->v, d->n);
    return (lm_report_dist){.n = d->n,
                            .mean = lm_stats_mean(d->v, d->n),
                            .p50 = lm_stats_percentile(d->v, d->n, 50),
                            .p90 = lm_stats_percentile(d->v, d->n, 90),
                            .p99 = lm_stats_percentile(d->v, d->n, 99)};
}

static int cmp_owner(const void *a, const void *b) {
    const lm_report_owner *x = a, *y = b;
    if (x->open != y->open)
        return x->open > y->open ? -1 : 1;
    return strcmp(x->name, y->name);
}

int lm_report_finish(lm_report_acc *acc, lm_report *out) {
    memset(out, 0, sizeof(*out));
    if (acc->oom)
        return -1;
    *out = acc->c;
    out->owners = NULL;
    out->n_owners = 0;
    out->now_ms = acc->o.now_ms;
    out->invalid = acc->o.invalid > 0 ? acc->o.invalid : 0;
    int64_t pending = lm_report_pending_undecided(acc->o.pending);
    out->accepted += pending;
    out->undecided += pending;
    out->submitted = out->accepted + out->merged + out->invalid;
    out->speed_to_lead_s = dist_of(&acc->speed);
    out->speed_to_human_s = dist_of(&acc->human);
    out->cycle_time_s = dist_of(&acc->cycle);
    out->cycle_time_disqualified_s = dist_of(&acc->cycle_dq);
    for (int i = 0; i < LM_REPORT_STAGES; i++)
        out->dead_ms[i] = dist_of(&acc->dead[i]);
    if (lm_report_stages_finish(acc->stages, out->stage_delay) != 0)
        return -1; /* nothing allocated in out yet */
    out->cost_per_outcome_cents = lm_stats_ratio(out->cost_cents, out->closed);
    out->cost_per_conversion_cents =
        lm_stats_ratio(out->cost_cents, out->converted);
    out->cost_per_responder_cents =
        lm_stats_ratio(out->cost_cents, out->responders);
    out->cost_per_buyer_cents = lm_stats_ratio(out->cost_cents, out->converted);
    out->revenue_per_lead_cents =
        lm_stats_ratio(out->revenue_cents, out->accepted);
    lm_report_lift_finish(&acc->lift, out);
    if (lm_report_deciles_finish(&acc->deciles, &out->deciles) != 0)
        goto oom;
    size_t n = lm_strmap_count(acc->owners);
    if (n > 0) {
        out->owners = calloc(n, sizeof(*out->owners));
        if (!out->owners)
            goto oom;
        for (size_t i = 0; i < n; i++) {
            lm_report_owner *o = &out->owners[out->n_owners++];
            o->open = *lm_strmap_value(acc->owners, i);
            if (!(o->name = strdup(lm_strmap_key(acc->owners, i, NULL))))
                goto oom;
        }
        qsort(out->owners, out->n_owners, sizeof(*out->owners), cmp_owner);
    }
    return 0;
oom:
    lm_report_free(out);
    return -1;
}

void lm_report_free(lm_report *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n_owners; i++)
        free(r->owners[i].name);
    free(r->owners);
    r->owners = NULL;
    r->n_owners = 0;
}

static int collect_row(void *opaque, const lm_lead_row *row) {
    lm_report_add_lead(opaque, row);
    return 0;
}

int lm_report_collect(lm_redis *r, const lm_report_opts *o, lm_report *out,
                      char *err, size_t errsz) {
    memset(out, 0, sizeof(*out));
    lm_report_acc *acc = lm_report_acc_new(o);
    if (!acc) {
        lm_errf(err, errsz, "out of memory");
        return -1;
    }
    int rc = lm_report_scan(r, collect_row, acc, err, errsz);
    if (rc == 0 && (rc = lm_report_finish(acc, out)) != 0)
        lm_errf(err, errsz, "out of memory");
    lm_report_acc_free(acc);
    return rc;
}
