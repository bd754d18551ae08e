/* lm_report_lift.c — the report's timing comparison (see lm_report_lift.h
 * for the arms and the populations, lm_stats.h for the confidence
 * sequence): counting leads per arm, the lifts with their always-valid
 * intervals, states and sample still needed, and their JSON, text and
 * gauges. Reads the report only when rendering; no global state. */
#include "lm_report_lift.h"

#include "lm_stats.h"

#include <math.h>
#include <string.h>

#define FMT_MAX 48

/* ============================================================ counting */

void lm_report_lift_add(lm_report_lift_acc *a, const lm_lead_row *row,
                        int answered) {
    int arm = row->holdout == 1    ? LM_LIFT_HOLDOUT
              : row->adaptive == 1 ? LM_LIFT_ADAPTIVE
              : row->adaptive == 0 ? LM_LIFT_FIXED
                                   : -1;
    if (arm < 0)
        return;
    for (int v = 0; v < LM_LIFT_VIEWS && row->touches >= v + 1; v++) {
        a->n[arm][v]++;
        if (answered)
            a->x[arm][v]++;
    }
}

static void arm_of(const lm_report_lift_acc *a, int arm, int view,
                   lm_report_arm *out) {
    out->touched = a->n[arm][view];
    out->responded = a->x[arm][view];
    out->rate = lm_stats_ratio(out->responded, out->touched);
    lm_stats_wilson(out->responded, out->touched, &out->lo, &out->hi);
}

/* The lift of arm a over arm b with its sequence, state and sample needed
 * (the extra multiple of the present sample, in leads of each arm). */
static void lift_of(const lm_report_arm *a, const lm_report_arm *b,
                    lm_report_lift *out) {
    lm_stats_lift_cs(a->responded, a->touched, b->responded, b->touched,
                     LM_STATS_CS_ALPHA, LM_STATS_CS_TAU, &out->value, &out->lo,
                     &out->hi);
    out->state = lm_stats_lift_state(out->lo, out->hi);
    double more =
        lm_stats_lift_cs_more(a->responded, a->touched, b->responded,
                              b->touched, LM_STATS_CS_ALPHA, LM_STATS_CS_TAU);
    out->more_a = isfinite(more) ? ceil(more * (double)a->touched) : NAN;
    out->more_b = isfinite(more) ? ceil(more * (double)b->touched) : NAN;
}

void lm_report_lift_finish(const lm_report_lift_acc *a, lm_report *out) {
    arm_of(a, LM_LIFT_ADAPTIVE, 0, &out->adaptive);
    arm_of(a, LM_LIFT_FIXED, 0, &out->fixed);
    arm_of(a, LM_LIFT_HOLDOUT, 0, &out->holdout);
    lift_of(&out->adaptive, &out->fixed, &out->lift);
    lift_of(&out->adaptive, &out->holdout, &out->holdout_lift);
    for (int s = 0; s < LM_REPORT_STEP_VIEWS; s++) {
        lm_report_step_view *v = &out->steps[s];
        v->min_touches = s + 2;
        arm_of(a, LM_LIFT_ADAPTIVE, s + 1, &v->adaptive);
        arm_of(a, LM_LIFT_FIXED, s + 1, &v->fixed);
        lift_of(&v->adaptive, &v->fixed, &v->lift);
    }
}

const char *lm_report_lift_state_name(int state) {
    return state == LM_STATS_PROVEN    ? "proven_better"
           : state == LM_STATS_HARMFUL ? "harmful"
                                       : "not_proven";
}

/* The state in words, "proven better", "not proven yet", "harmful"; in
 * capitals for the headline. */
static const char *state_words(int state, int caps) {
    if (state == LM_STATS_PROVEN)
        return caps ? "PROVEN BETTER" : "proven better";
    if (state == LM_STATS_HARMFUL)
        return caps ? "HARMFUL" : "harmful";
    return caps ? "NOT PROVEN YET" : "not proven yet";
}

/* ============================================================ JSON */

#define DEC_RATE LM_REPORT_JSON_RATE_DIGITS

#define LIFT_METHOD                                                            \
    "always-valid 95% confidence sequence: normal mixture (mSPRT) on the "     \
    "log of the rate ratio, tau 0.2, delta-method variance; valid however "    \
    "often it is looked at"

static json_t *jcount_or_null(double x) {
    return isfinite(x) ? json_integer((json_int_t)x) : json_null();
}

static json_t *jarm(const lm_report_arm *a) {
    return json_pack("{s:I, s:I, s:o, s:o}", "touched", (json_int_t)a->touched,
                     "responded", (json_int_t)a->responded, "rate",
                     lm_report_json_real(a->rate, DEC_RATE), "ci95",
                     json_pack("[o, o]", lm_report_json_real(a->lo, DEC_RATE),
                               lm_report_json_real(a->hi, DEC_RATE)));
}

/* a over b; names the arms in "more_needed". */
static json_t *jlift(const lm_report_lift *l, const char *a, const char *b) {
    return json_pack("{s:o, s:o, s:b, s:s, s:i, s:{s:o, s:o}, s:s}", "value",
                     lm_report_json_real(l->value, DEC_RATE), "ci95",
                     json_pack("[o, o]", lm_report_json_real(l->lo, DEC_RATE),
                               lm_report_json_real(l->hi, DEC_RATE)),
                     "always_valid", 1, "state",
                     lm_report_lift_state_name(l->state), "state_code",
                     l->state, "more_needed", a, jcount_or_null(l->more_a), b,
                     jcount_or_null(l->more_b), "method", LIFT_METHOD);
}

json_t *lm_report_lift_json(const lm_report *r) {
    json_t *steps = json_array();
    for (int s = 0; steps && s < LM_REPORT_STEP_VIEWS; s++) {
        const lm_report_step_view *v = &r->steps[s];
        json_t *o = json_pack("{s:I, s:o, s:o, s:o}", "min_touches",
                              (json_int_t)v->min_touches, "adaptive",
                              jarm(&v->adaptive), "fixed", jarm(&v->fixed),
                              "lift", jlift(&v->lift, "adaptive", "fixed"));
        if (!o || json_array_append_new(steps, o) != 0) {
            json_decref(steps);
            steps = NULL;
        }
    }
    int has_holdout = r->holdout.touched > 0;
    json_t *arms = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:o}", "population",
        "every touched lead (intention to treat)", "interval",
        "Wilson score, 95%", "adaptive", jarm(&r->adaptive), "fixed",
        jarm(&r->fixed), "holdout", jarm(&r->holdout), "lift",
        jlift(&r->lift, "adaptive", "fixed"), "holdout_lift",
        has_holdout ? jlift(&r->holdout_lift, "adaptive", "holdout")
                    : json_null(),
        "holdout_note",
        has_holdout ? "adaptive over the global holdout"
                    : "0 touched leads in the global holdout: no comparison",
        "per_step", steps);
    return arms;
}

/* ============================================================ text */

static const char *pct(double x, int sign, char *buf, size_t sz) {
    if (!isfinite(x))
        snprintf(buf, sz, "n/a");
    else
        snprintf(buf, sz, sign ? "%+.1f%%" : "%.1f%%", 100 * x);
    return buf;
}

/* A whole count with thousands separators: 167748 -> "167,748". */
static const char *count(double x, char *buf, size_t sz) {
    char digits[32];
    snprintf(digits, sizeof(digits), "%.0f", x);
    size_t nd = strlen(digits), j = 0;
    for (size_t i = 0; i < nd && j + 2 < sz; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
    return buf;
}

static void print_arm(FILE *f, const char *name, const lm_report_arm *m) {
    char a[FMT_MAX], b[FMT_MAX], c[FMT_MAX];
    fprintf(f, "%-12s %9lld %10lld %8s   %s to %s\n", name,
            (long long)m->touched, (long long)m->responded,
            pct(m->rate, 0, a, sizeof(a)), pct(m->lo, 0, b, sizeof(b)),
            pct(m->hi, 0, c, sizeof(c)));
}

/* "lift (adaptive / fixed - 1): +12.0%, always-valid 95% interval -3.1%
 * to +29.4%: NOT PROVEN YET" and what it would take. */
static void print_lift(FILE *f, const lm_report_lift *l, const char *a,
                       const char *b) {
    char x[FMT_MAX], y[FMT_MAX], z[FMT_MAX];
    fprintf(f,
            "lift (%s / %s - 1): %s, always-valid 95%% interval %s to %s: "
            "%s\n",
            a, b, pct(l->value, 1, x, sizeof(x)), pct(l->lo, 1, y, sizeof(y)),
            pct(l->hi, 1, z, sizeof(z)), state_words(l->state, 1));
    if (l->state != LM_STATS_NOT_PROVEN)
        return;
    if (isfinite(l->more_a))
        fprintf(f,
                "  would be proven after about %s more touched leads in "
                "the %s arm and %s in the %s arm, if the rates held\n",
                count(l->more_a, x, sizeof(x)), a,
                count(l->more_b, y, sizeof(y)), b);
    else
        fprintf(f,
                "  sample needed: not estimable yet (each arm needs %d "
                "answered and %d unanswered leads, and the rates must "
                "differ)\n",
                LM_STATS_CS_MIN_COUNT, LM_STATS_CS_MIN_COUNT);
}

void lm_report_lift_print(const lm_report *r, FILE *f) {
    char x[FMT_MAX], y[FMT_MAX], z[FMT_MAX];
    fprintf(f, "\nTIMING: LEARNED vs FIXED SCHEDULE (every touched lead: "
               "intention to treat)\n");
    fprintf(f, "%-12s %9s %10s %8s   %s\n", "arm", "touched", "responded",
            "rate", "95% interval (Wilson)");
    print_arm(f, "adaptive", &r->adaptive);
    print_arm(f, "fixed", &r->fixed);
    print_arm(f, "holdout", &r->holdout);
    print_lift(f, &r->lift, "adaptive", "fixed");
    if (r->holdout.touched > 0)
        print_lift(f, &r->holdout_lift, "adaptive", "holdout");
    else
        fprintf(f, "global holdout: 0 touched leads in it, no comparison\n");
    fprintf(f, "(a confidence sequence: valid however often it is looked "
               "at, so it may be acted on\nthe first time it excludes 0; "
               "docs/REPORT.md)\n");
    fprintf(f, "per step (leads that reached touch k; who reaches it depends "
               "on the arm):\n");
    for (int s = 0; s < LM_REPORT_STEP_VIEWS; s++) {
        const lm_report_step_view *v = &r->steps[s];
        fprintf(
            f,
            "  >= %lld touches: adaptive %lld/%lld, fixed %lld/%lld, "
            "lift %s [%s, %s] %s\n",
            (long long)v->min_touches, (long long)v->adaptive.responded,
            (long long)v->adaptive.touched, (long long)v->fixed.responded,
            (long long)v->fixed.touched, pct(v->lift.value, 1, x, sizeof(x)),
            pct(v->lift.lo, 1, y, sizeof(y)), pct(v->lift.hi, 1, z, sizeof(z)),
            state_words(v->lift.state, 0));
    }
}

/* ============================================================ gauges */

#define LIFT_HELP "Lift of learned timing in the answer rate, 0.1 = +10%"

static int gauge(lm_metrics *m, const char *name, const char *help,
                 const char *labels, double v) {
    lm_gauge *g = lm_metrics_gauge(m, name, help, labels);
    if (!g)
        return -1;
    lm_gauge_set(g, v);
    return 0;
}

static int lift_gauges(lm_metrics *m, const char *cmp, const char *b,
                       const lm_report_lift *l, int known) {
    char labels[LM_METRICS_LABELS_MAX];
    int rc = 0;
    snprintf(labels, sizeof(labels), "comparison=\"%s\"", cmp);
    rc |= gauge(m, "lastmile_timing_lift", LIFT_HELP, labels,
                known ? l->value : NAN);
    rc |= gauge(m, "lastmile_timing_lift_lower",
                "Lower bound of the lift's always-valid 95% interval", labels,
                known ? l->lo : NAN);
    rc |= gauge(m, "lastmile_timing_lift_upper",
                "Upper bound of the lift's always-valid 95% interval", labels,
                known ? l->hi : NAN);
    rc |= gauge(m, "lastmile_timing_lift_state",
                "1 proven better, 0 not proven yet, -1 harmful", labels,
                known ? l->state : NAN);
    const char *arm[2] = {"adaptive", b};
    double more[2] = {l->more_a, l->more_b};
    for (int i = 0; i < 2; i++) {
        snprintf(labels, sizeof(labels), "comparison=\"%s\",arm=\"%s\"", cmp,
                 arm[i]);
        rc |= gauge(m, "lastmile_timing_lift_more_leads",
                    "Touched leads the arm still needs before the present "
                    "lift would be proven",
                    labels, known ? more[i] : NAN);
    }
    return rc;
}

int lm_report_lift_metrics(lm_metrics *m, const lm_report *r) {
    const char *names[LM_LIFT_ARMS] = {"fixed", "adaptive", "holdout"};
    const lm_report_arm *arms[LM_LIFT_ARMS] = {&r->fixed, &r->adaptive,
                                               &r->holdout};
    char labels[LM_METRICS_LABELS_MAX];
    int rc = 0;
    for (int i = 0; i < LM_LIFT_ARMS; i++) {
        snprintf(labels, sizeof(labels), "arm=\"%s\"", names[i]);
        rc |= gauge(m, "lastmile_timing_arm_touched",
                    "Touched leads per timing arm", labels,
                    (double)arms[i]->touched);
        rc |= gauge(m, "lastmile_timing_arm_answered",
                    "Touched leads that answered, per timing arm", labels,
                    (double)arms[i]->responded);
    }
    rc |= lift_gauges(m, "control", "fixed", &r->lift, 1);
    rc |= lift_gauges(m, "holdout", "holdout", &r->holdout_lift,
                      r->holdout.touched > 0);
    return rc ? -1 : 0;
}
