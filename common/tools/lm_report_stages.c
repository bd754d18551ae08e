/* lm_report_stages.c — system vs human delay per stage
 * (lm_report_stages.h): an accumulator of per-stage durations, their
 * nearest-rank percentiles (lm_stats.h), JSON and text.
 *
 * Invariant: the vectors only grow until finish, which sorts them in
 * place. Single-threaded; no global mutable state. */
#include "lm_report_stages.h"

#include "lm_fmt.h"
#include "lm_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_S 1000.0
#define FLEET    0
#define PEOPLE   1
#define FMT_MAX  48

enum {
    ST_INTAKE_DECISION,
    ST_DECISION_TOUCH,
    ST_HUMAN_ACTIVITY,
    ST_REPLY_CONTACT,
    ST_HANDOFF_DEAL
};

const char *const lm_report_delay_names[LM_REPORT_DELAY_STAGES] = {
    "intake_to_decision", "decision_to_first_touch", "human_step_to_activity",
    "reply_to_contact", "handoff_to_deal_end"};

typedef lm_stats_sample svec;

struct lm_report_stages {
    svec v[LM_REPORT_DELAY_STAGES][2]; /* [stage][FLEET | PEOPLE] */
    int oom;
};

lm_report_stages *lm_report_stages_new(void) {
    return calloc(1, sizeof(lm_report_stages));
}

void lm_report_stages_free(lm_report_stages *s) {
    if (!s)
        return;
    for (int i = 0; i < LM_REPORT_DELAY_STAGES; i++)
        for (int k = 0; k < 2; k++)
            free(s->v[i][k].v);
    free(s);
}

/* Pushes to - from (ms, both set) in seconds, at least 0. */
static void push(lm_report_stages *s, int stage, int side, int64_t from,
                 int64_t to) {
    if (from <= 0 || to <= 0)
        return;
    if (lm_stats_sample_push(&s->v[stage][side],
                             (double)(to > from ? to - from : 0) / MS_PER_S) !=
        0)
        s->oom = 1;
}

static int is(const char *s, const char *a) {
    return s && strcmp(s, a) == 0;
}

void lm_report_stages_add(lm_report_stages *s, const lm_lead_row *row) {
    push(s, ST_INTAKE_DECISION, FLEET, row->submitted_at, row->decided_at);
    push(s, ST_DECISION_TOUCH, FLEET, row->decided_at, row->first_touch_at);
    push(s, ST_HUMAN_ACTIVITY, FLEET, row->decided_at, row->human_due_at);
    push(s, ST_HUMAN_ACTIVITY, PEOPLE, row->human_due_at, row->first_human_at);
    push(s, ST_REPLY_CONTACT, PEOPLE, row->responded_at, row->handoff_done_at);
    /* a deal after a hand-off (a sale at once has closed_at = responded_at:
       no hand-off stage) */
    if (!is(row->status, "closed") || row->responded_at <= 0 ||
        row->closed_at <= row->responded_at)
        return;
    if (is(row->outcome, "RESPONDED"))
        push(s, ST_HANDOFF_DEAL, FLEET, row->responded_at, row->closed_at);
    else
        push(s, ST_HANDOFF_DEAL, PEOPLE, row->responded_at, row->closed_at);
}

static lm_report_dist dist_of(svec *d) {
    lm_stats_sort(d->v, d->n);
    return (lm_report_dist){.n = d->n,
                            .mean = lm_stats_mean(d->v, d->n),
                            .p50 = lm_stats_percentile(d->v, d->n, 50),
                            .p90 = lm_stats_percentile(d->v, d->n, 90),
                            .p99 = lm_stats_percentile(d->v, d->n, 99)};
}

int lm_report_stages_finish(lm_report_stages *s, lm_report_delay *out) {
    if (s->oom)
        return -1;
    for (int i = 0; i < LM_REPORT_DELAY_STAGES; i++) {
        out[i].fleet_s = dist_of(&s->v[i][FLEET]);
        out[i].people_s = dist_of(&s->v[i][PEOPLE]);
    }
    return 0;
}

json_t *lm_report_stages_json(const lm_report *r, lm_report_jdist_fn jdist) {
    json_t *o = json_object();
    for (int i = 0; o && i < LM_REPORT_DELAY_STAGES; i++) {
        const lm_report_delay *d = &r->stage_delay[i];
        json_t *st = json_object();
        if (!st ||
            json_object_set_new(st, "fleet_s",
                                d->fleet_s.n ? jdist(&d->fleet_s)
                                             : json_null()) != 0 ||
            json_object_set_new(st, "people_s",
                                d->people_s.n ? jdist(&d->people_s)
                                              : json_null()) != 0 ||
            json_object_set_new(o, lm_report_delay_names[i], st) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* "n p50 p90" of a side, or "n/a" columns. */
static void print_side(FILE *f, const lm_report_dist *d) {
    char a[FMT_MAX], b[FMT_MAX];
    if (d->n == 0) {
        fprintf(f, " %6s %9s %9s", "-", "n/a", "n/a");
        return;
    }
    fprintf(f, " %6zu %9s %9s", d->n, lm_fmt_duration(a, sizeof(a), d->p50, 0),
            lm_fmt_duration(b, sizeof(b), d->p90, 0));
}

void lm_report_stages_print(const lm_report *r, FILE *f) {
    fprintf(f, "\nWHERE THE TIME GOES (system vs human delay per stage, the "
               "fleet's clock)\n");
    fprintf(f, "%-26s %6s %9s %9s %6s %9s %9s\n", "stage", "fleet", "p50",
            "p90", "people", "p50", "p90");
    static const char *const labels[LM_REPORT_DELAY_STAGES] = {
        "intake -> decision", "decision -> first touch",
        "human step due -> done", "reply -> owner contact",
        "hand-off -> deal end"};
    for (int i = 0; i < LM_REPORT_DELAY_STAGES; i++) {
        fprintf(f, "%-26s", labels[i]);
        print_side(f, &r->stage_delay[i].fleet_s);
        print_side(f, &r->stage_delay[i].people_s);
        fputc('\n', f);
    }
    fprintf(f, "(fleet / people: the leads with both times, then p50 and "
               "p90 of the time the fleet / people took)\n");
}
