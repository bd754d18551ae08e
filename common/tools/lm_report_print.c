/* lm_report_print.c — rendering the report (see lm_report.h): one JSON
 * object (keys: docs/REPORT.md) and the aligned text tables.
 *
 * JSON numbers are rounded to what each figure means (money to the cent,
 * rates and lifts to LM_REPORT_JSON_RATE_DIGITS decimals, times to the
 * millisecond or microsecond) so that, dumped with LM_REPORT_JSON_REAL,
 * they print as the short decimals a reader expects. Text durations use
 * the one duration formatter, lm_fmt_duration.
 * Reads the report only; no global state. */
#include "lm_report.h"
#include "lm_report_stages.h"

#include "lm_fmt.h"
#include "lm_report_lift.h"
#include "lm_stats.h"

#include <math.h>
#include <string.h>
#include <time.h>

#define BAR_WIDTH 30
#define MS_PER_S  1000.0

/* Decimals kept in JSON, per kind of figure (see the file comment). */
#define DEC_CENTS 0                          /* money in cents: to the cent */
#define DEC_RATE  LM_REPORT_JSON_RATE_DIGITS /* rates, intervals, lift */
#define DEC_S     3 /* durations in seconds: to the millisecond */
#define DEC_MS    3 /* durations in milliseconds: to the microsecond */

/* ============================================================ JSON */

/* x rounded to `decimals` places as a JSON real; null when not finite. */
static json_t *jnum(double x, int decimals) {
    if (!isfinite(x))
        return json_null();
    double scale = pow(10, decimals), y = round(x * scale) / scale;
    if (!isfinite(y))
        y = x; /* too large to scale: as is */
    else if (y == 0)
        y = 0; /* -0.000000 is 0 */
    return json_real(y);
}

json_t *lm_report_json_real(double x, int decimals) {
    return jnum(x, decimals);
}

static json_t *jdist(const lm_report_dist *d, int with_p99, int decimals) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)d->n));
    json_object_set_new(o, "mean", jnum(d->mean, decimals));
    json_object_set_new(o, "p50", jnum(d->p50, decimals));
    json_object_set_new(o, "p90", jnum(d->p90, decimals));
    if (with_p99)
        json_object_set_new(o, "p99", jnum(d->p99, decimals));
    return o;
}

/* A duration in seconds as the stages' table shows it (no p99). */
static json_t *jdist_s(const lm_report_dist *d) {
    return jdist(d, 0, DEC_S);
}

int lm_report_json(const lm_report *r, json_t **out) {
    *out = NULL;
    json_t *root = json_object();
    if (!root)
        return -1;
    json_t *funnel = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:I}",
        "submitted", (json_int_t)r->submitted, "invalid",
        (json_int_t)r->invalid, "merged", (json_int_t)r->merged, "accepted",
        (json_int_t)r->accepted, "qualified", (json_int_t)r->qualified,
        "nurture", (json_int_t)r->nurture, "disqualified",
        (json_int_t)r->disqualified, "undecided", (json_int_t)r->undecided,
        "touched", (json_int_t)r->touched, "responded",
        (json_int_t)r->responded, "converted", (json_int_t)r->converted,
        "unsubscribed", (json_int_t)r->unsubscribed, "bounced",
        (json_int_t)r->bounced, "no_response", (json_int_t)r->no_response,
        "closed", (json_int_t)r->closed, "open", (json_int_t)r->open);
    /* the answers and the deal (issue 13) */
    if (funnel &&
        (json_object_set_new(funnel, "responders",
                             json_integer((json_int_t)r->responders)) ||
         json_object_set_new(funnel, "handed_off",
                             json_integer((json_int_t)r->handed_off)) ||
         json_object_set_new(funnel, "lost",
                             json_integer((json_int_t)r->lost)) ||
         json_object_set_new(funnel, "not_interested",
                             json_integer((json_int_t)r->not_interested)))) {
        json_decref(funnel);
        funnel = NULL;
    }
    json_t *dead = json_object();
    for (int i = 0; i < LM_REPORT_STAGES; i++)
        json_object_set_new(dead, lm_report_stage_names[i],
                            jdist(&r->dead_ms[i], 0, DEC_MS));
    json_t *cost = json_pack(
        "{s:I, s:o, s:o, s:o, s:o}", "total_cents", (json_int_t)r->cost_cents,
        "per_responder_cents", jnum(r->cost_per_responder_cents, DEC_CENTS),
        "per_buyer_cents", jnum(r->cost_per_buyer_cents, DEC_CENTS),
        "per_outcome_cents", jnum(r->cost_per_outcome_cents, DEC_CENTS),
        "per_conversion_cents", jnum(r->cost_per_conversion_cents, DEC_CENTS));
    json_t *revenue = json_pack(
        "{s:I, s:o}", "total_cents", (json_int_t)r->revenue_cents,
        "per_accepted_lead_cents", jnum(r->revenue_per_lead_cents, DEC_CENTS));
    json_t *arms = lm_report_lift_json(r); /* lm_report_lift.c */
    json_t *owners = json_array();
    for (size_t i = 0; owners && i < r->n_owners; i++)
        json_array_append_new(owners, json_pack("{s:s, s:I}", "owner",
                                                r->owners[i].name, "open",
                                                (json_int_t)r->owners[i].open));
    if (!funnel || !dead || !cost || !revenue || !arms || !owners) {
        json_decref(funnel);
        json_decref(dead);
        json_decref(cost);
        json_decref(revenue);
        json_decref(arms);
        json_decref(owners);
        json_decref(root);
        return -1;
    }
    json_object_set_new(root, "now_ms", json_integer((json_int_t)r->now_ms));
    json_object_set_new(root, "funnel", funnel);
    json_object_set_new(root, "speed_to_lead_s",
                        jdist(&r->speed_to_lead_s, 1, DEC_S));
    /* first human contact: null until some lead has one */
    json_object_set_new(root, "speed_to_human_s",
                        r->speed_to_human_s.n > 0
                            ? jdist(&r->speed_to_human_s, 1, DEC_S)
                            : json_null());
    json_object_set_new(root, "cycle_time_s",
                        jdist(&r->cycle_time_s, 0, DEC_S));
    json_object_set_new(root, "cycle_time_disqualified_s",
                        jdist(&r->cycle_time_disqualified_s, 0, DEC_S));
    json_object_set_new(root, "dead_time_ms", dead);
    json_t *delays = lm_report_stages_json(r, jdist_s);
    json_object_set_new(root, "stage_delays", delays ? delays : json_null());
    json_object_set_new(root, "cost", cost);
    json_object_set_new(root, "revenue", revenue);
    json_object_set_new(root, "timing_arms", arms);
    json_object_set_new(root, "open_by_owner", owners);
    json_t *deciles = lm_report_deciles_json(&r->deciles);
    if (!deciles) {
        json_decref(root);
        return -1;
    }
    json_object_set_new(root, "score_deciles", deciles);
    *out = root;
    return 0;
}

/* ============================================================ text */

#define PRINT_OWNERS_MAX 20
#define FMT_MAX          48

static const char *fmt_ms(double ms, char *buf, size_t sz) {
    if (isfinite(ms) && ms < 1000) {
        snprintf(buf, sz, "%.0f ms", ms);
        return buf;
    }
    return lm_fmt_duration(buf, sz, ms / MS_PER_S, 0);
}

/* Cents as units with thousands separators: 123456 -> "1,234.56". */
static const char *fmt_money(double cents, char *buf, size_t sz) {
    if (!isfinite(cents)) {
        snprintf(buf, sz, "n/a");
        return buf;
    }
    long long c = llround(cents);
    int neg = c < 0;
    unsigned long long u =
        neg ? (unsigned long long)(-(c + 1)) + 1 : (unsigned long long)c;
    char digits[32], grouped[32]; /* 2^64 / 100: 18 digits, 5 commas */
    snprintf(digits, sizeof(digits), "%llu", u / 100);
    size_t nd = strlen(digits), j = 0;
    for (size_t i = 0; i < nd && j + 2 < sizeof(grouped); i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            grouped[j++] = ',';
        grouped[j++] = digits[i];
    }
    grouped[j] = '\0';
    snprintf(buf, sz, "%s%s.%02llu", neg ? "-" : "", grouped, u % 100);
    return buf;
}

/* A fraction as a percentage, "12.5%" (signed: "+12.5%"), or "n/a". */
static const char *fmt_pct_sign(double x, int sign, char *buf, size_t sz) {
    if (!isfinite(x))
        snprintf(buf, sz, "n/a");
    else
        snprintf(buf, sz, sign ? "%+.1f%%" : "%.1f%%", 100 * x);
    return buf;
}

static const char *fmt_pct(double x, char *buf, size_t sz) {
    return fmt_pct_sign(x, 0, buf, sz);
}

typedef struct funnel_line {
    const char *label;
    int64_t value;
    int64_t base; /* percentage of; 0 = none */
} funnel_line;

static void print_funnel(const lm_report *r, FILE *f, int tty) {
    const funnel_line lines[] = {
        {"submitted", r->submitted, r->submitted},
        {"  invalid (dead-lettered)", r->invalid, r->submitted},
        {"  merged duplicates", r->merged, r->submitted},
        {"  accepted leads", r->accepted, r->submitted},
        {"    qualified", r->qualified, r->accepted},
        {"    nurture", r->nurture, r->accepted},
        {"    disqualified", r->disqualified, r->accepted},
        {"    not yet decided", r->undecided, r->accepted},
        {"  touched (>= 1 action)", r->touched, r->accepted},
        {"  answered (replied or bought)", r->responders, r->accepted},
        {"    handed off, deal open", r->handed_off, r->accepted},
        {"    converted", r->converted, r->accepted},
        {"    lost", r->lost, r->accepted},
        {"    deal window passed", r->responded, r->accepted},
        {"  not interested", r->not_interested, r->accepted},
        {"  unsubscribed", r->unsubscribed, r->accepted},
        {"  bounced", r->bounced, r->accepted},
        {"  closed without response", r->no_response, r->accepted},
        {"  closed", r->closed, r->accepted},
        {"  still open", r->open, r->accepted},
    };
    char pct[FMT_MAX];
    fprintf(f, "FUNNEL                               leads      share\n");
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        const funnel_line *l = &lines[i];
        fprintf(f, "%-32s %9lld %9s", l->label, (long long)l->value,
                fmt_pct(lm_stats_ratio(l->value, l->base), pct, sizeof(pct)));
        if (tty && r->submitted > 0) {
            int w = (int)((double)BAR_WIDTH * (double)l->value /
                              (double)r->submitted +
                          0.5);
            fputs("  ", f);
            for (int k = 0; k < w; k++)
                fputc('#', f);
        }
        fputc('\n', f);
    }
    fprintf(f, "(share of submitted for the first four lines, of accepted "
               "leads below)\n");
}

static void print_dist_row(FILE *f, const char *label, const lm_report_dist *d,
                           int with_p99) {
    char a[FMT_MAX], b[FMT_MAX], c[FMT_MAX];
    fprintf(f, "%-32s %7zu %10s %10s %10s\n", label, d->n,
            lm_fmt_duration(a, sizeof(a), d->p50, 0),
            lm_fmt_duration(b, sizeof(b), d->p90, 0),
            with_p99 ? lm_fmt_duration(c, sizeof(c), d->p99, 0) : "");
}

void lm_report_print(const lm_report *r, FILE *f, int tty) {
    char a[FMT_MAX], b[FMT_MAX];
    if (r->now_ms > 0) {
        time_t t = (time_t)(r->now_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(a, sizeof(a), "%Y-%m-%d %H:%M UTC", &tm);
        fprintf(f, "lastmile report, as of %s (the fleet's clock)\n\n", a);
    } else {
        fprintf(f, "lastmile report\n\n");
    }
    print_funnel(r, f, tty);

    fprintf(f, "\nSPEED                                  n        p50        "
               "p90        p99\n");
    print_dist_row(f, "speed-to-lead: first auto touch", &r->speed_to_lead_s,
                   1);
    if (r->speed_to_human_s.n > 0)
        print_dist_row(f, "speed-to-lead: first human", &r->speed_to_human_s,
                       1);
    else
        fprintf(f, "%-32s %7s %10s %10s %10s\n", "speed-to-lead: first human",
                "0", "n/a", "n/a", "n/a");
    print_dist_row(f, "cycle time, touched leads", &r->cycle_time_s, 0);
    print_dist_row(f, "cycle time, disqualified", &r->cycle_time_disqualified_s,
                   0);

    fprintf(f, "\nDEAD TIME (real time a lead's message waited for its "
               "worker, per-lead average)\n");
    fprintf(f, "%-32s %7s %10s %10s\n", "stage", "leads", "mean", "p90");
    for (int i = 0; i < LM_REPORT_STAGES; i++) {
        const lm_report_dist *d = &r->dead_ms[i];
        fprintf(f, "%-32s %7zu %10s %10s\n", lm_report_stage_names[i], d->n,
                fmt_ms(d->mean, a, sizeof(a)), fmt_ms(d->p90, b, sizeof(b)));
    }

    lm_report_stages_print(r, f); /* system vs human delay per stage */

    fprintf(f, "\nMONEY (currency units)\n");
    fprintf(f, "%-32s %14s\n", "cost, total",
            fmt_money((double)r->cost_cents, a, sizeof(a)));
    fprintf(f, "%-32s %14s\n", "cost per responder",
            fmt_money(r->cost_per_responder_cents, a, sizeof(a)));
    fprintf(f, "%-32s %14s\n", "cost per buyer",
            fmt_money(r->cost_per_buyer_cents, a, sizeof(a)));
    fprintf(f, "%-32s %14s\n", "cost per closed lead",
            fmt_money(r->cost_per_outcome_cents, a, sizeof(a)));
    fprintf(f, "%-32s %14s\n", "revenue, total",
            fmt_money((double)r->revenue_cents, a, sizeof(a)));
    fprintf(f, "%-32s %14s\n", "revenue per accepted lead",
            fmt_money(r->revenue_per_lead_cents, a, sizeof(a)));

    lm_report_deciles_print(&r->deciles, f);

    lm_report_lift_print(r, f); /* lm_report_lift.c */

    fprintf(f, "\nOPEN LEADS BY OWNER\n");
    if (r->n_owners == 0)
        fprintf(f, "(none open)\n");
    else
        fprintf(f, "%-32s %7s\n", "owner", "open");
    for (size_t i = 0; i < r->n_owners && i < PRINT_OWNERS_MAX; i++)
        fprintf(f, "%-32s %7lld\n", r->owners[i].name,
                (long long)r->owners[i].open);
    if (r->n_owners > PRINT_OWNERS_MAX)
        fprintf(f, "... and %zu more owners (--json lists all)\n",
                r->n_owners - PRINT_OWNERS_MAX);
}
