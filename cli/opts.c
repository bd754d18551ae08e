/* opts.c — the one way every `lastmile` subcommand reads its options:
 * getopt_long behind lm_cli_getopt, and the one usage-error format.
 *
 * Invariants: --help/-h is added to every command's long options here, so
 * no table lists it; errors name the option as the user wrote it (up to any
 * `=`) or, for a missing value, by its full name. getopt keeps its state in
 * globals (optind, optarg, optopt and glibc's private scan position); the
 * first call for a lm_cli_cmd sets optind = 0, which makes glibc start over
 * (re-reading the optstring too), so `lastmile dev up ...` can parse again
 * after `lastmile dev` has. Single-threaded, like getopt. */
#include "cli.h"

#include "lm_env.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* the usage line(s): usage()'s text up to its first blank line */
static void print_synopsis(const lm_cli_cmd *c, FILE *f) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) {
        c->usage(f);
        return;
    }
    c->usage(m);
    if (fclose(m) != 0 || !text) {
        free(text);
        c->usage(f);
        return;
    }
    char *blank = strstr(text, "\n\n");
    if (blank)
        fwrite(text, 1, (size_t)(blank - text) + 1, f);
    else
        fputs(text, f);
    free(text);
}

static void print_error(const lm_cli_cmd *c, const char *fmt, va_list ap) {
    const char *name = c->name ? c->name : "";
    fprintf(stderr, "lastmile%s%s: ", *name ? " " : "", name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    print_synopsis(c, stderr);
    fprintf(stderr, "Run `lastmile%s%s --help` for more.\n", *name ? " " : "",
            name);
}

int lm_cli_usage_error(const lm_cli_cmd *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_error(c, fmt, ap);
    va_end(ap);
    return LM_EXIT_USAGE;
}

int lm_cli_no_operands(const lm_cli_cmd *c, int argc, char **argv) {
    if (optind >= argc)
        return 0;
    return lm_cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
}

/* lm_settings_load writes every mistake, one a line */
#define CLI_SETTINGS_ERR_MAX 4096

int lm_cli_settings(const lm_cli_cmd *c, lm_settings *s) {
    char err[CLI_SETTINGS_ERR_MAX] = "";
    if (lm_settings_load(s, "cli", err, sizeof(err)) == 0)
        return 0;
    fprintf(stderr, "lastmile %s: %s\n", c->name, err);
    return -1;
}

int lm_cli_exit(int opt) {
    return opt == LM_CLI_HELP ? LM_EXIT_OK : LM_EXIT_USAGE;
}

static const struct option *by_val(const struct option *all, int val) {
    for (; all->name; all++)
        if (all->val == val)
            return all;
    return NULL;
}

/* "--name=value" → length of "name" */
static size_t long_len(const char *arg) {
    return strcspn(arg + 2, "=");
}

/* getopt_long said '?' or ':'; say why, the way a user reads it. glibc
 * sets optopt to 0 for an unknown or ambiguous long option (then the
 * option is argv[optind - 1]), to the option's val for a missing value
 * (':') or a flag given one, and to the letter for an unknown short option
 * (optind may still point at its cluster, as in -x.csv). */
static int explain(lm_cli_cmd *c, const struct option *all, int ret,
                   char **argv) {
    const struct option *o = optopt ? by_val(all, optopt) : NULL;
    if (ret == ':' && o)
        return lm_cli_usage_error(c,
                                  "--%s needs a value (--%s VALUE or "
                                  "--%s=VALUE)",
                                  o->name, o->name, o->name);
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    size_t n = strncmp(arg, "--", 2) == 0 ? long_len(arg) : 0;
    if (optopt && o && n > 0 && arg[2 + n] == '=' &&
        strncmp(o->name, arg + 2, n) == 0)
        return lm_cli_usage_error(c, "--%s takes no value (in '%s')", o->name,
                                  arg);
    if (optopt)
        return lm_cli_usage_error(c, "unknown option -%c", optopt);
    size_t matches = 0;
    const struct option *first = NULL, *second = NULL;
    for (const struct option *p = all; n > 0 && p->name; p++) {
        if (strncmp(p->name, arg + 2, n) != 0)
            continue;
        if (matches == 0)
            first = p;
        else if (matches == 1)
            second = p;
        matches++;
    }
    if (matches > 1)
        return lm_cli_usage_error(c, "ambiguous option --%.*s (--%s, --%s%s)",
                                  (int)n, arg + 2, first->name, second->name,
                                  matches > 2 ? ", ..." : "");
    if (n == 0) /* "--=x" */
        return lm_cli_usage_error(c, "unknown option '%s'", arg);
    return lm_cli_usage_error(c, "unknown option %.*s", (int)(n + 2), arg);
}

int lm_cli_getopt(lm_cli_cmd *c, int argc, char **argv) {
    struct option all[LM_CLI_OPTS_MAX + 2];
    size_t n = 0;
    for (; c->longopts && c->longopts[n].name && n < LM_CLI_OPTS_MAX; n++)
        all[n] = c->longopts[n];
    assert(!c->longopts || !c->longopts[n].name); /* raise LM_CLI_OPTS_MAX */
    all[n++] = (struct option){"help", no_argument, NULL, 'h'};
    all[n] = (struct option){NULL, 0, NULL, 0};
    if (!c->started) {
        c->started = 1;
        optind = 0; /* glibc: start over, re-read the optstring */
    }
    opterr = 0; /* explain() reports errors */
    int ret = getopt_long(argc, argv, c->in_order ? "+:h" : ":h", all, NULL);
    if (ret == -1)
        return LM_CLI_END;
    if (ret == 'h') {
        c->usage(stdout);
        return LM_CLI_HELP;
    }
    if (ret == '?' || ret == ':') {
        explain(c, all, ret, argv);
        return LM_CLI_BAD;
    }
    return ret;
}
