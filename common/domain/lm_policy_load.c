/* lm_policy_load.c — decisions.yaml from a file, from text, or built in.
 *
 * libyaml's document API (yaml_parser_load) builds a node tree in which
 * every node carries its line; the top-level mapping is checked here and
 * each section handed to its parser (lm_policy_sections.c,
 * lm_policy_routing.c). The walk only descends where the schema says, so
 * YAML aliases (even cyclic ones) cannot make it loop. Errors read
 *   <file>:<line>: <key path>: <what is wrong>; <the fix>
 * and the first error stops the load. Threads: none shared; the built-in
 * text is read-only. */
#include "lm_policy_internal.h"

#include "lm_fmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Generated at build time from config/decisions.yaml (common/CMakeLists). */
extern const char lm_policy_default_yaml[];
extern const size_t lm_policy_default_yaml_len;

/* ------------------------------------------------------------------ */
/* The top level                                                       */
/* ------------------------------------------------------------------ */

static int parse_root(pol_ctx *c, yaml_node_t *root) {
    enum {
        T_THR,
        T_DEDUPE,
        T_DEAL,
        T_CTRL,
        T_CHAN,
        T_SEG,
        T_ROUTE,
        T_TEAMS,
        T_CAD,
        T_HANDOFF,
        T_ROPTS,
        T_ACCT,
        T_LEARN,
        T_N
    };
    pol_field f[T_N] = {
        {"thresholds", NULL, NULL},      {"dedupe_window", NULL, NULL},
        {"deal_window", NULL, NULL},     {"control_share", NULL, NULL},
        {"channels", NULL, NULL},        {"segments", NULL, NULL},
        {"routing", NULL, NULL},         {"teams", NULL, NULL},
        {"cadences", NULL, NULL},        {"handoff_deadline", NULL, NULL},
        {"routing_options", NULL, NULL}, {"accounts", NULL, NULL},
        {"learning", NULL, NULL}};
    static const char *const examples[T_N] = {
        "\"thresholds: { qualified: 0.55, nurture: 0.25 }\"",
        "",
        "",
        "",
        "\"channels: { email: { cost: 0.02 } }\"",
        "",
        "\"routing: [ { team: general } ]\" (see the built-in default)",
        "\"teams: { general: { owners: [ { name: robin, capacity: 50 } ] "
        "} }\"",
        "\"cadences:\" with a \"qualified\" and a \"nurture\" cadence "
        "under it (see the built-in default)",
        "",  /* handoff_deadline */
        "",  /* routing_options */
        "",  /* accounts */
        ""}; /* learning */
    size_t i;

    if (root->type != YAML_MAPPING_NODE)
        return pol_err(c, pol_line(root), "",
                       "the file must be a mapping of settings (thresholds:, "
                       "channels:, routing:, teams:, cadences:), found %s",
                       root->type == YAML_SEQUENCE_NODE ? "a list"
                                                        : "a single value");
    if (pol_map(c, root, pol_line(root), "", "\"thresholds:\"", f, T_N))
        return -1;
    for (i = 0; i < T_N; i++)
        if (examples[i][0] != '\0' &&
            pol_req(c, pol_line(root), "", &f[i], examples[i]))
            return -1;
    if (pol_parse_thresholds(c, &f[T_THR]))
        return -1;
    c->p->dedupe_ms = 30 * LM_POLICY_DAY_MS;
    if (f[T_DEDUPE].v != NULL &&
        pol_field_duration(c, &f[T_DEDUPE], "dedupe_window", 0,
                           &c->p->dedupe_ms))
        return -1;
    c->p->deal_window_ms = LM_POLICY_DEAL_WINDOW_DEFAULT_MS;
    if (f[T_DEAL].v != NULL && pol_field_duration(c, &f[T_DEAL], "deal_window",
                                                  0, &c->p->deal_window_ms))
        return -1;
    c->p->control_share = 0.2;
    if (f[T_CTRL].v != NULL && pol_double(c, &f[T_CTRL], "control_share", 0, 1,
                                          "0.2", &c->p->control_share))
        return -1;
    if (pol_parse_channels(c, &f[T_CHAN]))
        return -1;
    if (f[T_SEG].v != NULL ? pol_parse_segments(c, &f[T_SEG])
                           : pol_default_bands(c))
        return -1;
    if (pol_parse_teams(c, &f[T_TEAMS]) || pol_parse_routing(c, &f[T_ROUTE]) ||
        pol_parse_cadences(c, &f[T_CAD]) ||
        pol_parse_handoff_deadline(c, &f[T_HANDOFF]) ||
        pol_parse_routing_options(c, &f[T_ROPTS]) ||
        pol_parse_accounts(c, &f[T_ACCT]) || pol_parse_learning(c, &f[T_LEARN]))
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

static size_t pol_line_at(const char *text, size_t len, size_t offset) {
    size_t i, line = 1;
    for (i = 0; i < offset && i < len; i++)
        if (text[i] == '\n')
            line++;
    return line;
}

static int pol_yaml_error(pol_ctx *c, yaml_parser_t *parser, const char *text,
                          size_t len) {
    if (parser->error == YAML_MEMORY_ERROR)
        return pol_oom(c);
    if (parser->error == YAML_READER_ERROR)
        return pol_err(
            c, pol_line_at(text, len, parser->problem_offset), "",
            "the file is not valid UTF-8 text (%s at byte %zu); save "
            "it as UTF-8 without control characters",
            parser->problem ? parser->problem : "bad byte",
            parser->problem_offset);
    return pol_err(
        c, parser->problem_mark.line + 1, "",
        "YAML syntax error: %s%s%s (column %zu); check the "
        "indentation, and quote values that contain \": \" or \" #\"",
        parser->problem ? parser->problem : "unknown problem",
        parser->context ? " " : "", parser->context ? parser->context : "",
        parser->problem_mark.column + 1);
}

lm_policy *lm_policy_parse(const char *yaml_text, size_t len,
                           const char *filename_for_errors, char *err,
                           size_t errsz) {
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    yaml_node_t *root;
    pol_ctx c;
    lm_policy *p = NULL;
    int have_doc = 0, ok = 0;

    memset(&c, 0, sizeof c);
    c.file = filename_for_errors != NULL && filename_for_errors[0] != '\0'
                 ? filename_for_errors
                 : "decisions.yaml";
    c.err = err;
    c.errsz = errsz;
    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (yaml_text == NULL) {
        pol_err(&c, 1, "", "no text given");
        return NULL;
    }
    if (len > LM_POLICY_FILE_MAX) {
        pol_err(&c, 1, "", "the file is larger than %d bytes",
                LM_POLICY_FILE_MAX);
        return NULL;
    }
    if (!yaml_parser_initialize(&parser)) {
        pol_oom(&c);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml_text,
                                 len);
    if (!yaml_parser_load(&parser, &doc)) {
        pol_yaml_error(&c, &parser, yaml_text, len);
        goto done;
    }
    have_doc = 1;
    c.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        pol_err(&c, 1, "",
                "the file is empty; start from the built-in default "
                "(config/decisions.yaml)");
        goto done;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        pol_yaml_error(&c, &parser, yaml_text, len);
        goto done;
    }
    if (yaml_document_get_root_node(&extra) != NULL) {
        pol_err(&c, extra.start_mark.line + 1, "",
                "a second YAML document starts here; keep one document per "
                "file (remove the \"---\" line and what follows)");
        yaml_document_delete(&extra);
        goto done;
    }
    yaml_document_delete(&extra);
    if ((p = calloc(1, sizeof *p)) == NULL) {
        pol_oom(&c);
        goto done;
    }
    c.p = p;
    ok = parse_root(&c, root) == 0;
done:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!ok) {
        lm_policy_free(p);
        return NULL;
    }
    if (err != NULL && errsz > 0)
        err[0] = '\0';
    return p;
}

lm_policy *lm_policy_load(const char *path, char *err, size_t errsz) {
    FILE *f = NULL;
    struct stat st;
    char *text = NULL;
    const char *why = NULL;
    size_t got;
    lm_policy *p = NULL;

    if (path == NULL || path[0] == '\0')
        return lm_policy_parse(lm_policy_default_yaml,
                               lm_policy_default_yaml_len,
                               LM_POLICY_DEFAULT_FILE, err, errsz);
    if ((f = fopen(path, "rb")) == NULL) {
        lm_errf(err, errsz, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        why = "not a regular file";
        goto done;
    }
    if (st.st_size > LM_POLICY_FILE_MAX) {
        why = "larger than 1 MiB (LM_POLICY_FILE_MAX)";
        goto done;
    }
    if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
        why = "out of memory";
        goto done;
    }
    got = fread(text, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        why = "read error";
        goto done;
    }
    text[got] = '\0';
    p = lm_policy_parse(text, got, path, err, errsz);
done:
    if (why != NULL)
        lm_errf(err, errsz, "%s: %s", path, why);
    free(text);
    if (f != NULL)
        fclose(f);
    return p;
}

const char *lm_policy_default_text(size_t *len) {
    if (len != NULL)
        *len = lm_policy_default_yaml_len;
    return lm_policy_default_yaml;
}
