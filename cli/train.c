/* train.c — `lastmile train`: fit the qualification model from outcomes.
 *
 * Reads <prefix>outcomes from its first offset to the high watermarks
 * taken at start (group-less, nothing committed: the whole retained
 * history, every run), turns every Outcome that carries its lead into a
 * labelled example (lm_train_set.h), holds out a share of the leads
 * (deterministic by lead id, --holdout), fits lm_train_fit on the rest
 * from the current model (LASTMILE_MODEL or the built-in default, which
 * gives the numeric attributes), reports the candidate's and the live
 * model's held-out AUC, log loss, Brier score and calibration by decile,
 * and writes a candidate model file. It never writes over the live model
 * (LASTMILE_MODEL) unless --replace-live says so; the way to go live is
 * `lastmile model promote` (model.c), after a look at the figures or a
 * run in shadow (LASTMILE_MODEL_SHADOW).
 *
 * Labels: the question the score answers is "will this lead become a
 * buyer if we work it?" (--label buyer, the default; lm_train_eval.h has
 * the table and the reasons): a deal won is 1, a deal lost after a reply
 * and every no (silence, not interested, unsubscribed, bounced) is 0, a
 * reply whose deal the CRM never reported is left out, and so are
 * disqualified leads: never contacted, their outcome is the model's own
 * verdict, and training on it would teach the model to repeat itself.
 * --label reply keeps the older "will this lead engage?" (a reply is 1,
 * whatever the deal became; a late answer turns a no-response into 1).
 * One example per lead (the first outcome of a lead id).
 *
 * Layout: lm_cmd_train reads the options (parse_options, into a
 * train_args) and the settings, then train() runs the phases in order,
 * one function each: load_inputs, read_examples, print_examples,
 * check_examples, fit_candidate, the two reports, save_candidate. train()
 * owns and frees the models, the policy and the example set; the settings
 * are lm_cmd_train's. Single-threaded. */
#include "cli.h"

#include "lm_env.h"
#include "lm_kafka.h"
#include "lm_model.h"
#include "lm_policy.h"
#include "lm_report.h"
#include "lm_train.h"
#include "lm_train_eval.h"
#include "lm_train_set.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ERR_MAX              2048
#define OUT_DEFAULT          "model.candidate.json"
#define MIN_EXAMPLES_DEFAULT 100
#define MIN_EXAMPLES_MAX     100000000LL
#define L2_MIN               1e-9
#define L2_MAX               1e9
#define TOP_WEIGHTS          12
#define VERSION_MAX          LM_MODEL_MAX_VERSION_LEN

#define HOLDOUT_DEFAULT 0.2
#define FEW_POSITIVES   30 /* held-out leads of a kind */

typedef struct train_ctx {
    lm_train_set set;
    int oom;
} train_ctx;

static void usage(FILE *f) {
    fprintf(f,
            "usage: lastmile train [--out FILE] [--holdout SHARE] "
            "[--label buyer|reply]\n"
            "                      [--min-examples N] [--l2 X] "
            "[--replace-live] [--from-beginning]\n\n"
            "Fits the qualification model from the leads' outcomes on the "
            "outcomes topic,\nholds out a share of the leads, reports how "
            "the candidate and the live model\nrank and calibrate on them, "
            "and writes a candidate model file. Score it in\nshadow "
            "(LASTMILE_MODEL_SHADOW=FILE on the qualification worker), then "
            "make it\nlive with `lastmile model promote FILE`.\n\n"
            "Labels (--label buyer, the default): 1 = the deal was won (at "
            "once or after a\nreply); 0 = the deal was lost after a reply, "
            "no response, not interested,\nunsubscribed, bounced. Left out: "
            "replies whose deal the CRM never reported,\nand disqualified "
            "leads (never contacted: their outcome is the model's own\n"
            "verdict, not evidence). --label reply: 1 = the lead replied, "
            "whatever the deal\nbecame (a late answer counts).\n\n"
            "  --out FILE          the candidate model (default %s); never "
            "the live\n"
            "                      model's file (LASTMILE_MODEL) unless "
            "--replace-live\n"
            "  --holdout SHARE     share of leads kept out of the fit to "
            "measure it, 0..0.9\n"
            "                      (default %.1f); the same leads every run "
            "(by lead id)\n"
            "  --label buyer|reply what a positive is (default buyer)\n"
            "  --min-examples N    refuse to train on fewer examples "
            "(default %d)\n"
            "  --l2 X              L2 penalty on every weight but bias "
            "(default 1.0);\n"
            "                      larger = weights closer to 0\n"
            "  --replace-live      allow --out to be the live model's file\n"
            "  --from-beginning    read the topic from its first retained "
            "offset; this is\n"
            "                      what train always does, the flag only "
            "says so\n\n"
            "Starts from LASTMILE_MODEL (or the built-in model) for its "
            "numeric attributes;\nshows the decisions both models make at "
            "LASTMILE_CONFIG's thresholds and the\ncandidate's thresholds "
            "that keep today's shares. Needs LASTMILE_BROKERS.\n",
            OUT_DEFAULT, HOLDOUT_DEFAULT, MIN_EXAMPLES_DEFAULT);
}

static int on_outcome(void *opaque, const rd_kafka_message_t *rkm) {
    train_ctx *c = opaque;
    Lastmile__V1__Outcome *o =
        lastmile__v1__outcome__unpack(NULL, rkm->len, rkm->payload);
    if (!o)
        return 0; /* not ours to judge: tail shows it */
    if (lm_train_set_add(&c->set, o) != 0)
        c->oom = 1;
    lastmile__v1__outcome__free_unpacked(o, NULL);
    return c->oom ? -1 : 0;
}

/* The held-out figures of one model, and its calibration table. */
static void print_eval(const char *who, const lm_model *m,
                       const lm_train_eval *e) {
    printf("%-10s AUC %.3f  log loss %.4f  Brier %.4f  (%s)\n", who, e->auc,
           e->log_loss, e->brier, lm_model_version(m));
}

static void print_calibration(const lm_train_eval *cand,
                              const lm_train_eval *live) {
    printf("calibration on the held-out leads (score deciles, lowest "
           "first):\n");
    printf("  %-7s %6s  %-21s %-21s\n", "decile", "leads", "candidate pred/obs",
           "live pred/obs");
    for (int k = 0; k < LM_TRAIN_DECILES; k++) {
        const lm_train_decile *a = &cand->decile[k], *b = &live->decile[k];
        printf("  %-7d %6zu  %6.1f%% / %6.1f%%     %6.1f%% / %6.1f%%\n", k + 1,
               a->n, 100 * a->predicted, 100 * a->observed, 100 * b->predicted,
               100 * b->observed);
    }
}

/* Is `out` the live model's file (the same path or the same inode)? */
static int is_live_file(const char *out, const char *live) {
    struct stat a, b;
    if (!live || !*live)
        return 0;
    if (strcmp(out, live) == 0)
        return 1;
    return stat(out, &a) == 0 && stat(live, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
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

/* The held-out report: both models on the same held-out leads. */
static void report_held_out(const lm_train_set *set, const lm_model *cand,
                            const lm_model *live, double holdout) {
    lm_train_eval ec, el;
    if (set->n_held == 0 ||
        lm_train_set_evaluate(cand, set->held, set->n_held, &ec) != 0 ||
        lm_train_set_evaluate(live, set->held, set->n_held, &el) != 0) {
        printf("held out: no leads (--holdout %g); nothing measured\n",
               holdout);
        return;
    }
    printf("held out: %zu leads (%.0f%%), %zu positive\n", ec.n, 100 * holdout,
           ec.positives);
    if (ec.positives == 0 || ec.positives == ec.n) {
        printf("held out: only one kind of label; AUC needs both (wait for "
               "more outcomes or raise --holdout)\n");
        return;
    }
    print_eval("candidate", cand, &ec);
    print_eval("live", live, &el);
    if (ec.positives < FEW_POSITIVES || ec.n - ec.positives < FEW_POSITIVES)
        printf("note: fewer than %d held-out leads of one kind: these "
               "figures are noisy (a difference of a few AUC points is "
               "chance)\n",
               FEW_POSITIVES);
    print_calibration(&ec, &el);
}

/* The decisions each model makes at the config's thresholds over every
 * scored lead in the topic, and the candidate's thresholds that keep the
 * live model's shares (a model trained on deals scores on its own scale:
 * P(buyer) is far below P(reply)). */
static void report_thresholds(const lm_train_set *set, const lm_model *cand,
                              const lm_model *live, const lm_policy *pol) {
    size_t n = set->n_fit + set->n_held + set->n_others;
    double *pl = malloc((n ? n : 1) * sizeof(*pl));
    double *pc = malloc((n ? n : 1) * sizeof(*pc));
    if (!pl || !pc || n == 0) {
        free(pl);
        free(pc);
        return;
    }
    const lm_train_example *parts[] = {set->fit, set->held, set->others};
    size_t sizes[] = {set->n_fit, set->n_held, set->n_others}, at = 0;
    for (int k = 0; k < 3; k++) {
        lm_train_set_score(live, parts[k], sizes[k], pl + at);
        lm_train_set_score(cand, parts[k], sizes[k], pc + at);
        at += sizes[k];
    }
    double tq = lm_policy_threshold_qualified(pol);
    double tn = lm_policy_threshold_nurture(pol);
    printf("decisions over the %zu scored leads in the topic at the "
           "config's thresholds (qualified %.2f, nurture %.2f):\n",
           n, tq, tn);
    const double *sc[] = {pl, pc};
    const char *who[] = {"live", "candidate"};
    for (int m = 0; m < 2; m++) {
        size_t q = 0, d = 0;
        for (size_t i = 0; i < n; i++) {
            q += sc[m][i] >= tq;
            d += sc[m][i] < tn;
        }
        printf("  %-10s qualified %5.1f%%  nurture %5.1f%%  disqualified "
               "%5.1f%%\n",
               who[m], 100.0 * (double)q / (double)n,
               100.0 * (double)(n - q - d) / (double)n,
               100.0 * (double)d / (double)n);
    }
    double mq = lm_train_matching_cut(pl, pc, n, tq);
    double mn = lm_train_matching_cut(pl, pc, n, tn);
    if (isfinite(mq) && isfinite(mn))
        printf("to keep the live shares with the candidate, promote it "
               "together with\n  thresholds: {qualified: %.3f, nurture: "
               "%.3f}   (decisions.yaml)\n",
               mq, mn);
    free(pl);
    free(pc);
}

/* ---- the command ---------------------------------------------------- */

/* The options of one run, as parse_options leaves them. out_path points
 * into argv or at OUT_DEFAULT: nothing here is owned. */
typedef struct train_args {
    const char *out_path;
    int64_t min_examples;
    double holdout;
    lm_train_target target;
    int replace_live;
    lm_train_opts opts; /* the fit's: l2 from --l2 */
} train_args;

/* Reads the options into a (defaults first). LM_CLI_END when they are
 * read; LM_CLI_HELP after --help; LM_CLI_BAD after a usage error, said on
 * stderr. */
static int parse_options(lm_cli_cmd *cli, int argc, char **argv,
                         train_args *a) {
    *a = (train_args){.out_path = OUT_DEFAULT,
                      .min_examples = MIN_EXAMPLES_DEFAULT,
                      .holdout = HOLDOUT_DEFAULT,
                      .target = LM_TRAIN_TARGET_BUYER,
                      .opts = lm_train_defaults()};
    for (int o; (o = lm_cli_getopt(cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'b') {
            /* the only mode; see usage */
        } else if (o == 'R') {
            a->replace_live = 1;
        } else if (o == 'o') {
            a->out_path = optarg;
            if (!*a->out_path) {
                lm_cli_usage_error(cli, "--out needs a file name");
                return LM_CLI_BAD;
            }
        } else if (o == 'm') {
            if (lm_parse_int64(optarg, 1, MIN_EXAMPLES_MAX, &a->min_examples) !=
                0) {
                lm_cli_usage_error(cli,
                                   "--min-examples '%s' must be a whole "
                                   "number of at least 1",
                                   optarg);
                return LM_CLI_BAD;
            }
        } else if (o == 'l') {
            if (lm_parse_double(optarg, L2_MIN, L2_MAX, &a->opts.l2) != 0) {
                lm_cli_usage_error(cli,
                                   "--l2 '%s' must be a number above 0, "
                                   "e.g. 1.0 (more = smaller weights)",
                                   optarg);
                return LM_CLI_BAD;
            }
        } else if (o == 'H') {
            if (lm_parse_double(optarg, 0.0, 0.9, &a->holdout) != 0) {
                lm_cli_usage_error(cli,
                                   "--holdout '%s' must be a share from 0 "
                                   "to 0.9, e.g. 0.2",
                                   optarg);
                return LM_CLI_BAD;
            }
        } else if (o == 'L') {
            if (lm_train_target_parse(optarg, &a->target) != 0) {
                lm_cli_usage_error(cli,
                                   "--label '%s' must be buyer (a won deal) "
                                   "or reply (any answer)",
                                   optarg);
                return LM_CLI_BAD;
            }
        } else {
            return o;
        }
    }
    return lm_cli_no_operands(cli, argc, argv) ? LM_CLI_BAD : LM_CLI_END;
}

/* Checks that LASTMILE_BROKERS is set, then loads the current model
 * (*base) and the decision config (*pol). 0, or -1 said on stderr; the
 * caller frees both either way (NULL when not loaded). */
static int load_inputs(const lm_settings *s, lm_model **base, lm_policy **pol) {
    char err[ERR_MAX];
    if (!s->brokers || !*s->brokers) {
        fprintf(stderr,
                "lastmile train: LASTMILE_BROKERS is not set (example: "
                "LASTMILE_BROKERS=localhost:9092); for the embedded stack run "
                "`eval \"$(lastmile dev up)\"` first\n");
        return -1;
    }
    *base = lm_model_load(s->model_path, err, sizeof(err));
    if (!*base) {
        fprintf(stderr, "lastmile train: the current model: %s\n", err);
        return -1;
    }
    *pol = lm_policy_load(s->config_path, err, sizeof(err));
    if (!*pol) {
        fprintf(stderr, "lastmile train: the decision config: %s\n", err);
        return -1;
    }
    return 0;
}

/* Every Outcome on the topic into c->set, then held out and split. 0, or
 * -1 said on stderr; c->set is the caller's to free either way. */
static int read_examples(const lm_settings *s, const char *topic,
                         const lm_model *base, const train_args *a,
                         train_ctx *c) {
    char err[ERR_MAX];
    lm_train_set_init(&c->set, base, a->target);
    if (lm_report_read_topic(s, LM_TOPIC_OUTCOMES, 0, on_outcome, c, err,
                             sizeof(err)) < 0) {
        fprintf(stderr, "lastmile train: reading %s: %s\n", topic,
                c->oom ? "out of memory" : err);
        return -1;
    }
    if (lm_train_set_finish(&c->set, a->holdout) != 0) {
        fprintf(stderr, "lastmile train: out of memory\n");
        return -1;
    }
    return 0;
}

/* The positive examples of the fit. */
static size_t count_positives(const lm_train_set *set) {
    size_t pos = 0;
    for (size_t i = 0; i < set->n_fit; i++)
        pos += set->fit[i].label == 1;
    return pos;
}

/* What was read, what the fit gets and what was left out, on stdout. */
static void print_examples(const lm_train_set *set, const char *topic,
                           lm_train_target target, size_t pos) {
    size_t neg = set->n_fit - pos;
    printf("read %zu outcomes from %s (label: %s)\n", set->read, topic,
           target == LM_TRAIN_TARGET_BUYER ? "buyer = a won deal"
                                           : "reply = any answer");
    printf("fit on %zu examples (%zu positive = %.1f%%, %zu negative), %zu "
           "held out\n",
           set->n_fit, pos,
           set->n_fit ? 100.0 * (double)pos / (double)set->n_fit : 0, neg,
           set->n_held);
    printf("left out: %zu disqualified (never contacted), %zu replies with "
           "no deal reported, %zu without lead data, %zu repeated, %zu "
           "other; %zu late answers counted as replies\n",
           set->disqualified, set->unknown_deal, set->no_lead, set->repeats,
           set->other, set->late_flipped);
    if (set->over_cap)
        printf("note: %zu outcomes past the first %d were not used\n",
               set->over_cap, LM_TRAIN_SET_MAX);
}

/* Enough examples to fit, of both kinds? 0, or -1 with the fix on
 * stderr. */
static int check_examples(const lm_train_set *set, int64_t min_examples,
                          size_t pos) {
    size_t neg = set->n_fit - pos;
    if ((int64_t)set->n_fit < min_examples) {
        fprintf(stderr,
                "lastmile train: %zu examples to fit, fewer than "
                "--min-examples %lld; let more leads reach an outcome (a "
                "deal won or lost, no response, unsubscribed, bounced) and "
                "run it again, or lower --min-examples or --holdout\n",
                set->n_fit, (long long)min_examples);
        return -1;
    }
    if (pos == 0 || neg == 0) {
        fprintf(stderr,
                "lastmile train: all %zu examples are %s; a model needs "
                "both kinds. %s\n",
                set->n_fit, pos ? "positive" : "negative",
                pos ? "Wait until some cadences run out without a reply "
                      "(NO_RESPONSE) and run it again."
                    : "No contacted lead has a won deal yet: check that the "
                      "CRM reports deals (LeadResponse CONVERTED on the "
                      "timing topic), or train on replies with --label "
                      "reply.");
        return -1;
    }
    return 0;
}

/* The candidate fitted from base on the set's fit examples, named
 * version (DAY.trained-LABEL-N, written into version[VERSION_MAX + 1]).
 * The caller frees it (lm_model_free); NULL said on stderr. */
static lm_model *fit_candidate(const lm_model *base, const lm_train_set *set,
                               const train_args *a, char *version) {
    char err[ERR_MAX];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char day[16];
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    snprintf(version, VERSION_MAX + 1, "%s.trained-%s-%zu", day,
             a->target == LM_TRAIN_TARGET_BUYER ? "buyer" : "reply",
             set->n_fit);
    lm_model *fitted = lm_train_fit(base, set->fit, set->n_fit, &a->opts,
                                    version, err, sizeof(err));
    if (!fitted)
        fprintf(stderr, "lastmile train: fitting failed: %s\n", err);
    return fitted;
}

/* Writes the candidate to --out and says what it is and what to do next.
 * The exit code: LM_EXIT_OK once stdout is flushed. */
static int save_candidate(const lm_model *fitted, const lm_model *base,
                          const train_args *a, const char *version) {
    char err[ERR_MAX];
    if (lm_model_save(fitted, a->out_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "lastmile train: %s\n", err);
        return LM_EXIT_FAILED;
    }
    printf("fitted from %s (l2 %g): wrote %s, version %s\n",
           lm_model_version(base), a->opts.l2, a->out_path, version);
    print_top_weights(fitted);
    printf("next: score it in shadow (LASTMILE_MODEL_SHADOW=%s on the "
           "qualification worker), then `lastmile model promote %s`\n",
           a->out_path, a->out_path);
    return fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_FAILED;
}

/* The run once the options and settings are read: read, check, fit,
 * report, write. The exit code; frees all it loads (s stays the
 * caller's). */
static int train(const lm_settings *s, const train_args *a) {
    int rc = LM_EXIT_FAILED;
    lm_model *base = NULL, *fitted = NULL;
    lm_policy *pol = NULL;
    train_ctx c;
    memset(&c, 0, sizeof(c));
    char topic[LM_TOPIC_MAX], version[VERSION_MAX + 1];
    lm_topic_name(s, LM_TOPIC_OUTCOMES, topic, sizeof(topic));
    if (load_inputs(s, &base, &pol) != 0 ||
        read_examples(s, topic, base, a, &c) != 0)
        goto done;
    size_t pos = count_positives(&c.set);
    print_examples(&c.set, topic, a->target, pos);
    if (check_examples(&c.set, a->min_examples, pos) != 0)
        goto done;
    fitted = fit_candidate(base, &c.set, a, version);
    if (!fitted)
        goto done;
    report_held_out(&c.set, fitted, base, a->holdout);
    report_thresholds(&c.set, fitted, base, pol);
    rc = save_candidate(fitted, base, a, version);
done:
    lm_train_set_free(&c.set);
    lm_model_free(fitted);
    lm_model_free(base);
    lm_policy_free(pol);
    return rc;
}

int lm_cmd_train(int argc, char **argv) {
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"from-beginning", no_argument, NULL, 'b'},
        {"min-examples", required_argument, NULL, 'm'},
        {"l2", required_argument, NULL, 'l'},
        {"holdout", required_argument, NULL, 'H'},
        {"label", required_argument, NULL, 'L'},
        {"replace-live", no_argument, NULL, 'R'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "train", .usage = usage, .longopts = longopts};
    train_args a;
    int opt = parse_options(&cli, argc, argv, &a);
    if (opt != LM_CLI_END)
        return lm_cli_exit(opt);

    lm_settings s;
    if (lm_cli_settings(&cli, &s) != 0)
        return LM_EXIT_FAILED;
    if (!a.replace_live && is_live_file(a.out_path, s.model_path)) {
        lm_settings_free(&s);
        return lm_cli_usage_error(&cli,
                                  "--out %s is the live model "
                                  "(LASTMILE_MODEL); write a candidate "
                                  "elsewhere and `lastmile model promote` "
                                  "it, or add --replace-live",
                                  a.out_path);
    }
    int rc = train(&s, &a);
    lm_settings_free(&s);
    return rc;
}
