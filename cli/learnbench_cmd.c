/* learnbench_cmd.c — `lastmile learn-bench`: the learning figure
 * (learnbench.h) over several seeds, for today's learner ("old":
 * Thompson sampling per segment, no pooling, waiting free) and the
 * configured one ("new": learning: in the config), as a table or JSON.
 * Single-threaded. */
#include "cli.h"
#include "learnbench.h"

#include "lm_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEEDS_MAX 100
#define LEADS_MAX 100000

static void usage(FILE *f) {
    fprintf(f,
            "usage: lastmile learn-bench [--seeds N] [--first-seed S] [--weeks "
            "W] [--leads N] "
            "[--learner old|new|both] [--json]\n\n"
            "Runs the simulated market's people (each seed draws its own "
            "answer curves by\nregion and role, and its own decay) against "
            "the timing learner, offline, week\nby week, and prints per week "
            "the share of gain: (learned - random) / (best -\nrandom), where "
            "random is a uniformly random allowed slot and best the allowed\n"
            "slot that is best for the lead's segment; \"value\" weighs each "
            "slot by the\ndecay of the chance since the person asked. The "
            "learner's settings are the\nconfig's learning: section "
            "(LASTMILE_CONFIG, else the built-in default).\n\n"
            "  --seeds N      how many seeds (default 5)\n"
            "  --first-seed S the first seed (default 1): seeds S..S+N-1\n"
            "  --weeks W      simulated weeks of arrivals (default 8, at most "
            "%d)\n"
            "  --leads N      leads a week (default 2000)\n"
            "  --learner L    old (Thompson per segment: today's before issue "
            "19), new (the\n"
            "                 configured learner) or both (default)\n"
            "  --json         one JSON object\n",
            LM_LEARNBENCH_WEEKS_MAX);
}

typedef struct lb_sum {
    lm_learnbench_week w[LM_LEARNBENCH_WEEKS_MAX];
    double seed_share[SEEDS_MAX][LM_LEARNBENCH_WEEKS_MAX];
} lb_sum;

static void add(lm_learnbench_week *a, const lm_learnbench_week *b) {
    a->touches += b->touches;
    a->learned += b->learned;
    a->random += b->random;
    a->best += b->best;
    a->v_learned += b->v_learned;
    a->v_random += b->v_random;
    a->v_best += b->v_best;
    a->answers += b->answers;
}

static int run(const lm_policy *p, const lm_learn_cfg *lc, int64_t first,
               int seeds, int weeks, size_t leads, lb_sum *sum) {
    memset(sum, 0, sizeof(*sum));
    for (int s = 0; s < seeds; s++) {
        lm_learnbench_run r;
        if (lm_learnbench_run_seed(p, lc, (uint64_t)(first + s), weeks, leads,
                                   &r) != 0)
            return -1;
        for (int w = 0; w < weeks; w++) {
            add(&sum->w[w], &r.w[w]);
            sum->seed_share[s][w] = lm_learnbench_share(&r.w[w], 0);
        }
    }
    return 0;
}

static void print_json(const char *name, const lb_sum *s, int seeds, int weeks,
                       int last) {
    printf("\"%s\":{\"weeks\":[", name);
    for (int w = 0; w < weeks; w++) {
        const lm_learnbench_week *x = &s->w[w];
        double t = x->touches > 0 ? x->touches : 1;
        printf("%s{\"week\":%d,\"touches\":%.0f,\"answers\":%.0f,"
               "\"learned\":%.4f,\"random\":%.4f,\"best\":%.4f,"
               "\"share\":%.4f,\"value_share\":%.4f,\"seed_share\":[",
               w ? "," : "", w + 1, x->touches, x->answers, x->learned / t,
               x->random / t, x->best / t, lm_learnbench_share(x, 0),
               lm_learnbench_share(x, 1));
        for (int k = 0; k < seeds; k++)
            printf("%s%.4f", k ? "," : "", s->seed_share[k][w]);
        printf("]}");
    }
    printf("]}%s", last ? "" : ",");
}

static void print_table(const char *name, const lb_sum *s, int seeds,
                        int weeks) {
    printf("%s learner\n  week  touches  learned  random   best  share  "
           "value-share  per seed\n",
           name);
    for (int w = 0; w < weeks; w++) {
        const lm_learnbench_week *x = &s->w[w];
        double t = x->touches > 0 ? x->touches : 1;
        printf("  %4d  %7.0f  %7.3f  %6.3f  %5.3f  %4.0f%%  %10.0f%%  ", w + 1,
               x->touches, x->learned / t, x->random / t, x->best / t,
               100 * lm_learnbench_share(x, 0),
               100 * lm_learnbench_share(x, 1));
        for (int k = 0; k < seeds; k++)
            printf("%s%.0f%%", k ? " " : "", 100 * s->seed_share[k][w]);
        printf("\n");
    }
}

int lm_cmd_learn_bench(int argc, char **argv) {
    static const struct option longopts[] = {
        {"seeds", required_argument, NULL, 's'},
        {"weeks", required_argument, NULL, 'w'},
        {"leads", required_argument, NULL, 'n'},
        {"learner", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"first-seed", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {
        .name = "learn-bench", .usage = usage, .longopts = longopts};
    int64_t seeds = 5, weeks = 8, leads = 2000, first = 1;
    int json = 0, old = 1, neu = 1;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o == 's' && lm_parse_int64(optarg, 1, SEEDS_MAX, &seeds) != 0)
            return lm_cli_usage_error(&cli, "--seeds: \"%s\" is not 1..%d",
                                      optarg, SEEDS_MAX);
        if (o == 'w' &&
            lm_parse_int64(optarg, 1, LM_LEARNBENCH_WEEKS_MAX, &weeks) != 0)
            return lm_cli_usage_error(&cli, "--weeks: \"%s\" is not 1..%d",
                                      optarg, LM_LEARNBENCH_WEEKS_MAX);
        if (o == 'n' && lm_parse_int64(optarg, 1, LEADS_MAX, &leads) != 0)
            return lm_cli_usage_error(&cli, "--leads: \"%s\" is not 1..%d",
                                      optarg, LEADS_MAX);
        if (o == 'l') {
            old = strcmp(optarg, "old") == 0 || strcmp(optarg, "both") == 0;
            neu = strcmp(optarg, "new") == 0 || strcmp(optarg, "both") == 0;
            if (!old && !neu)
                return lm_cli_usage_error(
                    &cli, "--learner: \"%s\" is not old, new or both", optarg);
        }
        if (o == 'f' && lm_parse_int64(optarg, 0, INT64_MAX / 2, &first) != 0)
            return lm_cli_usage_error(&cli,
                                      "--first-seed: \"%s\" is not a seed "
                                      "(a whole number >= 0)",
                                      optarg);
        if (o == 'j')
            json = 1;
        if (o == LM_CLI_HELP || o == LM_CLI_BAD)
            return lm_cli_exit(o);
    }
    int rc = lm_cli_no_operands(&cli, argc, argv);
    if (rc != 0)
        return rc;
    char err[LM_POLICY_ERRSZ];
    const char *path = getenv("LASTMILE_CONFIG");
    lm_policy *p = lm_policy_load(path, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "lastmile learn-bench: %s\n", err);
        return LM_EXIT_FAILED;
    }
    lm_learn_cfg lc_new = *lm_policy_learning(p), lc_old = lc_new;
    lc_old.rule = LM_LEARN_RULE_THOMPSON;
    lc_old.features = 0;
    lc_old.explore = 0;
    lc_old.half_life_ms = 0;
    lb_sum *sum = calloc(2, sizeof(lb_sum));
    rc = LM_EXIT_OK;
    if (!sum ||
        (old && run(p, &lc_old, first, (int)seeds, (int)weeks, (size_t)leads,
                    &sum[0]) != 0) ||
        (neu && run(p, &lc_new, first, (int)seeds, (int)weeks, (size_t)leads,
                    &sum[1]) != 0)) {
        fprintf(stderr, "lastmile learn-bench: out of memory\n");
        rc = LM_EXIT_FAILED;
    } else if (json) {
        printf("{\"first_seed\":%lld,\"seeds\":%d,\"weeks\":%d,"
               "\"leads_per_week\":%d,",
               (long long)first, (int)seeds, (int)weeks, (int)leads);
        if (old)
            print_json("old", &sum[0], (int)seeds, (int)weeks, !neu);
        if (neu)
            print_json("new", &sum[1], (int)seeds, (int)weeks, 1);
        printf("}\n");
    } else {
        printf("learning figure: %d seeds, %d weeks, %d leads a week; share "
               "= (learned - random) / (best of segment - random)\n",
               (int)seeds, (int)weeks, (int)leads);
        if (old)
            print_table("old", &sum[0], (int)seeds, (int)weeks);
        if (neu)
            print_table("new", &sum[1], (int)seeds, (int)weeks);
    }
    free(sum);
    lm_policy_free(p);
    return rc;
}
