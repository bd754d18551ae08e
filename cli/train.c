/* train.c — `lastmile train`: fit the qualification model from outcomes.
 *
 * Reads <prefix>outcomes from its first offset to the high watermarks
 * taken at start (group-less, nothing committed: the whole retained
 * history, every run), turns every Outcome that carries its lead into a
 * labelled example, fits lm_train_fit from the current model
 * (LASTMILE_MODEL or the built-in default, which gives the numeric
 * attributes) and writes a model file the qualification worker loads with
 * LASTMILE_MODEL.
 *
 * Labels: what the qualification model is for. Its score decides whether
 * a lead gets sales time, so the question it answers is "will this lead
 * engage if we contact it?":
 *   1  RESPONDED, CONVERTED_OUTCOME, LOST_OUTCOME: the lead engaged (it
 *      replied and was handed off; whatever the deal became);
 *   0  NO_RESPONSE (the whole cadence, silence), UNSUBSCRIBED_OUTCOME and
 *      NOT_INTERESTED_OUTCOME (said no), BOUNCED_OUTCOME (unreachable: no
 *      sales time is worth it, and bounces cluster by source, which the
 *      model can learn);
 *   not used: DISQUALIFIED_OUTCOME. Those leads were never contacted; their
 *      outcome is the model's own past verdict, not evidence. Training on
 *      them as 0 would teach the model to repeat itself (a feedback loop
 *      that grows more confident without ever being checked);
 *   LATE_RESPONSE (an answer after the lead was closed) turns that lead's
 *      NO_RESPONSE into a 1: the person did answer, only late. It carries
 *      no lead of its own.
 * One example per lead (the first outcome of a lead id; a repeat is
 * ignored). The fitted model therefore estimates P(engage | contacted);
 * leads the model rejects stay unlabelled, which is the price of not
 * contacting them (the fixed-share control arm is about timing, not about
 * qualification).
 * Single-threaded. */
#include "cli.h"

#include "lm_env.h"
#include "lm_geo.h"
#include "lm_kafka.h"
#include "lm_lead.h"
#include "lm_model.h"
#include "lm_report.h"
#include "lm_train.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERR_MAX              2048
#define OUT_DEFAULT          "model.json"
#define MIN_EXAMPLES_DEFAULT 100
#define MIN_EXAMPLES_MAX     100000000LL
#define EXAMPLES_MAX         100000 /* ~1.7 KB each: ~170 MB at most */
#define EXAMPLES_MIN_CAP     256
#define L2_MIN               1e-9
#define L2_MAX               1e9
#define TOP_WEIGHTS          12
#define VERSION_MAX          LM_MODEL_MAX_VERSION_LEN

/* One example's bookkeeping, parallel to the examples array. */
typedef struct meta {
    char lead_id[LM_LEAD_ID_MAX];
    int no_response; /* label 0 from NO_RESPONSE: a late answer flips it */
    int drop;        /* a repeat of an earlier lead id */
} meta;

typedef struct train_ctx {
    const lm_model *base;
    lm_train_example *ex;
    meta *meta;
    size_t n, cap;
    char (*late)[LM_LEAD_ID_MAX]; /* lead ids with a late response */
    size_t n_late, cap_late;
    size_t read, disqualified, no_lead, other, dropped_over_cap;
    int oom;
} train_ctx;

static void usage(FILE *f) {
    fprintf(f,
            "usage: lastmile train [--out FILE] [--from-beginning] "
            "[--min-examples N] [--l2 X]\n\n"
            "Fits the qualification model from the leads' outcomes on the "
            "outcomes topic\nand writes a model file; point the "
            "qualification worker at it with\nLASTMILE_MODEL=FILE.\n\n"
            "Labels: 1 = responded or converted; 0 = no response, "
            "unsubscribed, bounced;\ndisqualified leads are left out (never "
            "contacted: their outcome is the model's\nown verdict, not "
            "evidence). A late response turns a no-response into a 1.\n\n"
            "  --out FILE          where to write the model (default %s)\n"
            "  --from-beginning    read the topic from its first retained "
            "offset; this is\n"
            "                      what train always does (every run fits "
            "on all retained\n"
            "                      outcomes), the flag only says so\n"
            "  --min-examples N    refuse to train on fewer examples "
            "(default %d)\n"
            "  --l2 X              L2 penalty on every weight but bias "
            "(default 1.0);\n"
            "                      larger = weights closer to 0\n\n"
            "Starts from LASTMILE_MODEL (or the built-in model) for its "
            "numeric attributes.\nNeeds LASTMILE_BROKERS.\n",
            OUT_DEFAULT, MIN_EXAMPLES_DEFAULT);
}

/* 1, 0, or -1 (not an example) for an outcome status. */
static int label_of(Lastmile__V1__OutcomeStatus s) {
    switch (s) {
    case LASTMILE__V1__OUTCOME_STATUS__RESPONDED:
    case LASTMILE__V1__OUTCOME_STATUS__CONVERTED_OUTCOME:
    case LASTMILE__V1__OUTCOME_STATUS__LOST_OUTCOME:
        return 1;
    case LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE:
    case LASTMILE__V1__OUTCOME_STATUS__UNSUBSCRIBED_OUTCOME:
    case LASTMILE__V1__OUTCOME_STATUS__NOT_INTERESTED_OUTCOME:
    case LASTMILE__V1__OUTCOME_STATUS__BOUNCED_OUTCOME:
        return 0;
    default:
        return -1;
    }
}

static int add_late(train_ctx *c, const char *lead_id) {
    if (c->n_late == c->cap_late) {
        size_t cap = c->cap_late ? c->cap_late * 2 : EXAMPLES_MIN_CAP;
        void *n = realloc(c->late, cap * sizeof(*c->late));
        if (!n)
            return -1;
        c->late = n;
        c->cap_late = cap;
    }
    snprintf(c->late[c->n_late++], LM_LEAD_ID_MAX, "%s", lead_id);
    return 0;
}

static int on_outcome(void *opaque, const rd_kafka_message_t *rkm) {
    train_ctx *c = opaque;
    Lastmile__V1__Outcome *o =
        lastmile__v1__outcome__unpack(NULL, rkm->len, rkm->payload);
    if (!o)
        return 0; /* not ours to judge: tail shows it */
    c->read++;
    int label = label_of(o->status);
    if (o->status == LASTMILE__V1__OUTCOME_STATUS__LATE_RESPONSE) {
        if (o->lead_id && add_late(c, o->lead_id) != 0)
            c->oom = 1;
    } else if (o->status ==
               LASTMILE__V1__OUTCOME_STATUS__DISQUALIFIED_OUTCOME) {
        c->disqualified++;
    } else if (label < 0) {
        c->other++;
    } else if (!o->lead) {
        c->no_lead++;
    } else if (c->n >= EXAMPLES_MAX) {
        c->dropped_over_cap++;
    } else {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : EXAMPLES_MIN_CAP;
            lm_train_example *ex = realloc(c->ex, cap * sizeof(*ex));
            if (ex)
                c->ex = ex;
            meta *m = realloc(c->meta, cap * sizeof(*m));
            if (m)
                c->meta = m;
            if (!ex || !m) {
                c->oom = 1;
                lastmile__v1__outcome__free_unpacked(o, NULL);
                return -1;
            }
            c->cap = cap;
        }
        lm_train_example *e = &c->ex[c->n];
        meta *m = &c->meta[c->n];
        const struct lm_geo_country *g = lm_geo_country(o->lead->country);
        lm_model_features(c->base, o->lead, g ? g->region : NULL, &e->features);
        e->label = label;
        snprintf(m->lead_id, sizeof(m->lead_id), "%s",
                 o->lead_id ? o->lead_id : "");
        m->no_response = o->status == LASTMILE__V1__OUTCOME_STATUS__NO_RESPONSE;
        m->drop = 0;
        c->n++;
    }
    lastmile__v1__outcome__free_unpacked(o, NULL);
    return c->oom ? -1 : 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

static const meta *sort_base;
static int cmp_idx(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(sort_base[x].lead_id, sort_base[y].lead_id);
    return c ? c : (x > y) - (x < y); /* the first outcome wins */
}

/* Drops repeated lead ids (keeping the first) and applies late answers.
 * Returns how many late answers flipped a label, or -1 (OOM). */
static long finish_labels(train_ctx *c, size_t *repeats) {
    *repeats = 0;
    long flipped = 0;
    size_t *idx = malloc((c->n ? c->n : 1) * sizeof(*idx));
    if (!idx)
        return -1;
    for (size_t i = 0; i < c->n; i++)
        idx[i] = i;
    sort_base = c->meta;
    qsort(idx, c->n, sizeof(*idx), cmp_idx);
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->meta[idx[i]].lead_id, c->meta[idx[i - 1]].lead_id) == 0) {
            c->meta[idx[i]].drop = 1;
            (*repeats)++;
        }
    free(idx);
    if (c->n_late > 0)
        qsort(c->late, c->n_late, sizeof(*c->late), cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->meta[i].drop)
            continue;
        if (c->meta[i].no_response && c->n_late &&
            bsearch(c->meta[i].lead_id, c->late, c->n_late, sizeof(*c->late),
                    cmp_str)) {
            c->ex[i].label = 1;
            flipped++;
        }
        if (w != i) {
            c->ex[w] = c->ex[i];
            c->meta[w] = c->meta[i];
        }
        w++;
    }
    c->n = w;
    return flipped;
}

typedef struct weight {
    const char *name;
    double w;
} weight;

static int cmp_weight(const void *a, const void *b) {
    double x = fabs(((const weight *)a)->w), y = fabs(((const weight *)b)->w);
    if (x != y)
        return x > y ? -1 : 1;
    return strcmp(((const weight *)a)->name, ((const weight *)b)->name);
}

static void print_top_weights(const lm_model *m) {
    size_t n = lm_model_n_weights(m);
    weight *w = calloc(n ? n : 1, sizeof(*w));
    if (!w)
        return;
    for (size_t i = 0; i < n; i++)
        lm_model_weight_at(m, i, &w[i].name, &w[i].w);
    qsort(w, n, sizeof(*w), cmp_weight);
    printf("top weights (logits; + raises the score):\n");
    for (size_t i = 0; i < n && i < TOP_WEIGHTS; i++)
        printf("  %-36s %+8.3f\n", w[i].name, w[i].w);
    free(w);
}

int lm_cmd_train(int argc, char **argv) {
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"from-beginning", no_argument, NULL, 'b'},
        {"min-examples", required_argument, NULL, 'm'},
        {"l2", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "train", .usage = usage, .longopts = longopts};
    const char *out_path = OUT_DEFAULT;
    int64_t min_examples = MIN_EXAMPLES_DEFAULT;
    lm_train_opts opts = lm_train_defaults();
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'b') {
            /* the only mode; see usage */
        } else if (o == 'o') {
            out_path = optarg;
            if (!*out_path)
                return lm_cli_usage_error(&cli, "--out needs a file name");
        } else if (o == 'm') {
            if (lm_parse_int64(optarg, 1, MIN_EXAMPLES_MAX, &min_examples) != 0)
                return lm_cli_usage_error(&cli,
                                          "--min-examples '%s' must be a "
                                          "whole number of at least 1",
                                          optarg);
        } else if (o == 'l') {
            if (lm_parse_double(optarg, L2_MIN, L2_MAX, &opts.l2) != 0)
                return lm_cli_usage_error(&cli,
                                          "--l2 '%s' must be a number above "
                                          "0, e.g. 1.0 (more = smaller "
                                          "weights)",
                                          optarg);
        } else {
            return lm_cli_exit(o);
        }
    }
    if (lm_cli_no_operands(&cli, argc, argv) != 0)
        return LM_EXIT_USAGE;

    char err[ERR_MAX], topic[LM_TOPIC_MAX];
    lm_settings s;
    if (lm_settings_load(&s, "cli", err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile train: %s\n", err);
        return LM_EXIT_FAILED;
    }
    int rc = LM_EXIT_FAILED;
    lm_model *base = NULL, *fitted = NULL;
    train_ctx c;
    memset(&c, 0, sizeof(c));
    lm_topic_name(&s, LM_TOPIC_OUTCOMES, topic, sizeof(topic));
    if (!s.brokers || !*s.brokers) {
        fprintf(stderr,
                "lastmile train: LASTMILE_BROKERS is not set (example: "
                "LASTMILE_BROKERS=localhost:9092); for the embedded stack run "
                "`eval \"$(lastmile dev up)\"` first\n");
        goto done;
    }
    base = lm_model_load(s.model_path, err, sizeof(err));
    if (!base) {
        fprintf(stderr, "lastmile train: the current model: %s\n", err);
        goto done;
    }
    c.base = base;
    if (lm_report_read_topic(&s, LM_TOPIC_OUTCOMES, 0, on_outcome, &c, err,
                             sizeof(err)) < 0) {
        fprintf(stderr, "lastmile train: reading %s: %s\n", topic,
                c.oom ? "out of memory" : err);
        goto done;
    }
    size_t repeats = 0;
    long flipped = finish_labels(&c, &repeats);
    if (flipped < 0) {
        fprintf(stderr, "lastmile train: out of memory\n");
        goto done;
    }
    size_t pos = 0;
    for (size_t i = 0; i < c.n; i++)
        pos += c.ex[i].label == 1;
    size_t neg = c.n - pos;
    printf("read %zu outcomes from %s: %zu examples (%zu positive = "
           "%.1f%%, %zu negative)\n",
           c.read, topic, c.n, pos, c.n ? 100.0 * (double)pos / (double)c.n : 0,
           neg);
    printf("left out: %zu disqualified (never contacted), %zu without lead "
           "data, %zu repeated, %zu other; %ld late answers counted as "
           "responses\n",
           c.disqualified, c.no_lead, repeats, c.other, flipped);
    if (c.dropped_over_cap)
        printf("note: %zu outcomes past the first %d were not used\n",
               c.dropped_over_cap, EXAMPLES_MAX);
    if ((int64_t)c.n < min_examples) {
        fprintf(stderr,
                "lastmile train: %zu examples, fewer than --min-examples "
                "%lld; let more leads reach an outcome (responded, "
                "converted, unsubscribed, bounced or no response) and run "
                "it again, or lower --min-examples\n",
                c.n, (long long)min_examples);
        goto done;
    }
    if (pos == 0 || neg == 0) {
        fprintf(stderr,
                "lastmile train: all %zu examples are %s; a model needs "
                "both kinds. %s\n",
                c.n, pos ? "positive" : "negative",
                pos ? "Wait until some cadences run out without a reply "
                      "(NO_RESPONSE) and run it again."
                    : "No contacted lead responded yet: check that the "
                      "connectors report answers (LeadResponse on the "
                      "timing topic) and run it again later.");
        goto done;
    }
    char version[VERSION_MAX + 1];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char day[16];
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    snprintf(version, sizeof(version), "%s.trained-%zu", day, c.n);
    fitted = lm_train_fit(base, c.ex, c.n, &opts, version, err, sizeof(err));
    if (!fitted) {
        fprintf(stderr, "lastmile train: fitting failed: %s\n", err);
        goto done;
    }
    if (lm_model_save(fitted, out_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile train: %s\n", err);
        goto done;
    }
    printf("fitted from %s (l2 %g): wrote %s, version %s\n",
           lm_model_version(base), opts.l2, out_path, version);
    print_top_weights(fitted);
    printf("use it: LASTMILE_MODEL=%s for the qualification worker\n",
           out_path);
    rc = fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_FAILED;
done:
    free(c.ex);
    free(c.meta);
    free(c.late);
    lm_model_free(fitted);
    lm_model_free(base);
    lm_settings_free(&s);
    return rc;
}
