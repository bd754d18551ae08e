/* env.c — `lastmile env [--json]`: every variable lastmile reads. */
#include "cli.h"

#include "lm_env.h"

#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void print_text(void *opaque, const char *name, const char *who,
                       int required, const char *dflt, const char *example,
                       const char *doc) {
    (void)opaque;
    printf("%-30s %-14s %s\n    %s%s%s (example: %s)\n", name, who,
           required ? "required" : "optional", doc, *dflt ? "; default " : "",
           dflt, example);
}

static void add_json(void *opaque, const char *name, const char *who,
                     int required, const char *dflt, const char *example,
                     const char *doc) {
    json_array_append_new((json_t *)opaque,
                          json_pack("{s:s, s:s, s:b, s:s, s:s, s:s}", "name",
                                    name, "who", who, "required", required,
                                    "default", dflt, "example", example, "doc",
                                    doc));
}

static void usage(FILE *f) {
    fprintf(f, "usage: lastmile env [--json]\n\nLists every environment "
               "variable lastmile reads. Any of them may be given as\n"
               "NAME_FILE (a file holding the value), and "
               "LASTMILE_KAFKA_<PROPERTY> passes\nlibrdkafka properties "
               "through (dots as underscores).\n\n"
               "  --json  one JSON array on stdout instead of text\n");
}

int lm_cmd_env(int argc, char **argv) {
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "env", .usage = usage, .longopts = longopts};
    int json = 0;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o != 'j')
            return lm_cli_exit(o);
        json = 1;
    }
    if (lm_cli_no_operands(&cli, argc, argv) != 0)
        return LM_EXIT_USAGE;
    if (!json) {
        lm_env_visit(print_text, NULL);
        return LM_EXIT_OK;
    }
    json_t *arr = json_array();
    lm_env_visit(add_json, arr);
    char *s = json_dumps(arr, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(arr);
    return LM_EXIT_OK;
}
