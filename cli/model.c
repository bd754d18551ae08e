/* model.c — `lastmile model`: show a model file, promote a candidate to
 * live, and the cohort figure.
 *
 *   show FILE         checks FILE as the qualification worker does and
 *                     prints its version, attributes and weights.
 *   promote FILE      makes FILE the live model: checks it (a bad file is
 *                     refused with its file:line and fix, the live file
 *                     untouched), copies the live file to <live>.previous,
 *                     then writes FILE's bytes to a temporary file beside
 *                     the live one and renames it over the live file
 *                     (atomic: a worker starting at any moment reads the
 *                     old model or the new one, never half of either).
 *                     The live file is --live, else LASTMILE_MODEL. Running
 *                     qualification workers keep the model they loaded at
 *                     start: restart them (one at a time) to pick it up.
 *                     Going back is `promote <live>.previous`.
 *   cohorts           model_cohort.h's figure, per seed.
 *
 * Single-threaded; files are read whole (a model is at most
 * LM_MODEL_MAX_FILE_BYTES). */
#include "cli.h"
#include "model_cohort.h"

#include "lm_env.h"
#include "lm_fmt.h"
#include "lm_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR_MAX       2048
#define PATH_MAX_LEN  4096
#define SEEDS_MAX     100
#define LEADS_DEFAULT 8000
#define LEADS_MIN     500
#define LEADS_MAX     200000
#define SEED_DEFAULT  1
#define SEEDS_DEFAULT 5

static void usage(FILE *f) {
    fprintf(f,
            "usage: lastmile model show FILE | promote FILE [--live FILE] | "
            "cohorts [--seed N] [--seeds K] [--leads N]\n\n"
            "  show FILE        check a model file as the qualification "
            "worker does and\n"
            "                   print its version, attributes and weights\n"
            "  promote FILE     make a candidate (from `lastmile train`) the "
            "live model: it\n"
            "                   is checked first; the live file is kept as "
            "<live>.previous\n"
            "                   and replaced atomically. The live file is "
            "--live FILE, else\n"
            "                   LASTMILE_MODEL. Restart the qualification "
            "workers to load it\n"
            "                   (they read the model at start); undo with "
            "`promote <live>.previous`\n"
            "  cohorts          the cohort figure, offline: for each seed, "
            "retrain on cohort\n"
            "                   A's outcomes and compare the built-in and "
            "the retrained model\n"
            "                   on cohort B (AUC on B's outcomes, "
            "concordance with B's true\n"
            "                   intent)\n\n"
            "  --live FILE      promote: the live model file\n"
            "  --seed N         cohorts: the first seed (default %d)\n"
            "  --seeds K        cohorts: how many seeds (default %d, at most "
            "%d)\n"
            "  --leads N        cohorts: submissions per cohort (default %d, "
            "%d..%d)\n",
            SEED_DEFAULT, SEEDS_DEFAULT, SEEDS_MAX, LEADS_DEFAULT, LEADS_MIN,
            LEADS_MAX);
}

static int cmd_show(const char *path) {
    char err[ERR_MAX];
    lm_model *m = lm_model_load(path, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "lastmile model show: %s\n", err);
        return LM_EXIT_FAILED;
    }
    printf("file     %s\nformat   %s\nversion  %s\n", path, LM_MODEL_FORMAT,
           lm_model_version(m));
    printf("numeric attributes:");
    for (size_t i = 0; i < lm_model_n_numeric_attributes(m); i++)
        printf(" %s", lm_model_numeric_attribute(m, i));
    printf("\nweights (%zu, logits; + raises the score):\n",
           lm_model_n_weights(m));
    for (size_t i = 0; i < lm_model_n_weights(m); i++) {
        const char *name;
        double w;
        lm_model_weight_at(m, i, &name, &w);
        printf("  %-36s %+8.3f\n", name, w);
    }
    lm_model_free(m);
    return fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_FAILED;
}

/* The bytes of a file (at most LM_MODEL_MAX_FILE_BYTES + 1 read); caller
 * frees *out. 0, or -1 with err. */
static int slurp(const char *path, char **out, size_t *len, char *err,
                 size_t errsz) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return lm_errf(err, errsz, "%s: %s", path, strerror(errno));
    size_t cap = (size_t)LM_MODEL_MAX_FILE_BYTES + 1;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return lm_errf(err, errsz, "%s: out of memory", path);
    }
    *len = fread(buf, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return lm_errf(err, errsz, "%s: read error", path);
    }
    *out = buf;
    return 0;
}

/* Writes bytes to path through path.tmp.<pid> (fsync, rename). 0/-1. */
static int write_atomic(const char *path, const char *bytes, size_t len,
                        char *err, size_t errsz) {
    char tmp[PATH_MAX_LEN];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return lm_errf(err, errsz, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return lm_errf(err, errsz,
                       "%s: %s; fix: promote into a directory you can write",
                       tmp, strerror(errno));
    int ok = fwrite(bytes, 1, len, f) == len && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return lm_errf(err, errsz, "%s: write failed: %s", path, strerror(e));
    }
    return 0;
}

static int same_file(const char *a, const char *b) {
    struct stat x, y;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
           x.st_ino == y.st_ino;
}

static int cmd_promote(const char *cand, const char *live) {
    char err[ERR_MAX], prev[PATH_MAX_LEN];
    char *bytes = NULL, *old = NULL;
    size_t len = 0, old_len = 0;
    lm_model *m = NULL, *was = NULL;
    int rc = LM_EXIT_FAILED;
    if (same_file(cand, live)) {
        fprintf(stderr,
                "lastmile model promote: %s is already the live model\n", cand);
        return LM_EXIT_USAGE;
    }
    int n = snprintf(prev, sizeof(prev), "%s.previous", live);
    if (n < 0 || (size_t)n >= sizeof(prev)) {
        fprintf(stderr, "lastmile model promote: %s: path too long\n", live);
        return LM_EXIT_USAGE;
    }
    if (slurp(cand, &bytes, &len, err, sizeof(err)) != 0 ||
        !(m = lm_model_parse(bytes, len, cand, err, sizeof(err)))) {
        fprintf(stderr,
                "lastmile model promote: the candidate is not a model the "
                "workers would load; the live model is unchanged.\n%s\n",
                err);
        goto done;
    }
    if (access(live, F_OK) == 0) {
        if (slurp(live, &old, &old_len, err, sizeof(err)) != 0 ||
            write_atomic(prev, old, old_len, err, sizeof(err)) != 0) {
            fprintf(stderr,
                    "lastmile model promote: keeping the old live model: "
                    "%s; nothing was changed\n",
                    err);
            goto done;
        }
        char why[ERR_MAX];
        was = lm_model_parse(old, old_len, live, why, sizeof(why));
    }
    if (write_atomic(live, bytes, len, err, sizeof(err)) != 0) {
        fprintf(stderr,
                "lastmile model promote: %s; the live model is "
                "unchanged\n",
                err);
        goto done;
    }
    printf("promoted %s (version %s) to %s\n", cand, lm_model_version(m), live);
    if (old)
        printf("the previous live model (%s) is in %s; undo with `lastmile "
               "model promote %s --live %s`\n",
               was ? lm_model_version(was) : "not a valid model", prev, prev,
               live);
    printf("thresholds are in the decision config, not the model: if `lastmile "
           "train` printed new ones for this candidate, put them in "
           "decisions.yaml now\n");
    printf("running qualification workers keep the model they started "
           "with: restart them, one at a time, to score with %s\n",
           lm_model_version(m));
    rc = fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_FAILED;
done:
    lm_model_free(m);
    lm_model_free(was);
    free(bytes);
    free(old);
    return rc;
}

static int cmd_cohorts(int64_t seed, int64_t seeds, int64_t leads) {
    char err[ERR_MAX];
    double sum_d = 0, sum_r = 0;
    printf("cohort figure: %lld submissions a cohort; retrained on A's "
           "outcomes (buyer labels), scored on B\n",
           (long long)leads);
    printf("%6s %6s %5s %6s %5s  %-17s  %-17s  %s\n", "seed", "A exs", "A 1s",
           "B exs", "B 1s", "AUC on B def->re", "intent C def->re",
           "hot DQ def / re / re matched");
    for (int64_t k = 0; k < seeds; k++) {
        lm_cohort_result r;
        if (lm_cohort_run((uint64_t)(seed + k), (size_t)leads, &r, err,
                          sizeof(err)) != 0) {
            fprintf(stderr, "lastmile model cohorts: seed %lld: %s\n",
                    (long long)(seed + k), err);
            return LM_EXIT_FAILED;
        }
        printf("%6lld %6zu %5zu %6zu %5zu  %.3f -> %.3f     %.3f -> %.3f     "
               "%4.1f%% / %4.1f%% / %4.1f%%\n",
               (long long)(seed + k), r.labelled_a, r.positives_a, r.labelled_b,
               r.positives_b, r.auc_default, r.auc_retrained, r.conc_default,
               r.conc_retrained, 100 * r.dq_top_default,
               100 * r.dq_top_retrained, 100 * r.dq_top_matched);
        sum_d += r.auc_default;
        sum_r += r.auc_retrained;
    }
    printf("mean AUC on the next cohort: default %.3f, retrained %.3f\n",
           sum_d / (double)seeds, sum_r / (double)seeds);
    printf("exs: labelled leads; 1s: buyers; intent C: concordance with "
           "the true intent over every\nlead; hot DQ: share of the top "
           "tenth by true intent that is disqualified, by the\nbuilt-in "
           "model, the retrained one at the config's thresholds, and the "
           "retrained one\nwith a cut that disqualifies as many leads as "
           "the built-in (matched)\n");
    return fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_FAILED;
}

int lm_cmd_model(int argc, char **argv) {
    static const struct option longopts[] = {
        {"live", required_argument, NULL, 'l'},
        {"seed", required_argument, NULL, 's'},
        {"seeds", required_argument, NULL, 'k'},
        {"leads", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "model", .usage = usage, .longopts = longopts};
    const char *live = NULL;
    int64_t seed = SEED_DEFAULT, seeds = SEEDS_DEFAULT, leads = LEADS_DEFAULT;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'l') {
            live = optarg;
        } else if (o == 's') {
            if (lm_parse_int64(optarg, 0, INT64_MAX / 2, &seed) != 0)
                return lm_cli_usage_error(&cli,
                                          "--seed '%s' must be a whole "
                                          "number of at least 0",
                                          optarg);
        } else if (o == 'k') {
            if (lm_parse_int64(optarg, 1, SEEDS_MAX, &seeds) != 0)
                return lm_cli_usage_error(
                    &cli, "--seeds '%s' must be a whole number 1..%d", optarg,
                    SEEDS_MAX);
        } else if (o == 'n') {
            if (lm_parse_int64(optarg, LEADS_MIN, LEADS_MAX, &leads) != 0)
                return lm_cli_usage_error(
                    &cli, "--leads '%s' must be a whole number %d..%d", optarg,
                    LEADS_MIN, LEADS_MAX);
        } else {
            return lm_cli_exit(o);
        }
    }
    if (optind >= argc)
        return lm_cli_usage_error(&cli, "show, promote or cohorts?");
    const char *sub = argv[optind];
    int nops = argc - optind - 1;
    if (strcmp(sub, "cohorts") == 0) {
        if (nops != 0)
            return lm_cli_usage_error(&cli, "cohorts takes no operand");
        return cmd_cohorts(seed, seeds, leads);
    }
    if (strcmp(sub, "show") != 0 && strcmp(sub, "promote") != 0)
        return lm_cli_usage_error(&cli, "%s: not show, promote or cohorts",
                                  sub);
    if (nops != 1)
        return lm_cli_usage_error(&cli, "%s takes one model FILE", sub);
    const char *file = argv[optind + 1];
    if (strcmp(sub, "show") == 0)
        return cmd_show(file);
    char err[ERR_MAX];
    lm_settings s;
    if (!live) {
        if (lm_settings_load(&s, "cli", err, sizeof(err)) != 0) {
            fprintf(stderr, "lastmile model promote: %s\n", err);
            return LM_EXIT_FAILED;
        }
        if (!s.model_path || !*s.model_path) {
            lm_settings_free(&s);
            return lm_cli_usage_error(
                &cli,
                "promote: which file is live? The workers use the built-in "
                "model (LASTMILE_MODEL is empty); pass --live FILE (and set "
                "LASTMILE_MODEL=FILE for the qualification workers) or set "
                "LASTMILE_MODEL");
        }
        int rc = cmd_promote(file, s.model_path);
        lm_settings_free(&s);
        return rc;
    }
    return cmd_promote(file, live);
}
