/* gateway_key.c — `lastmile gateway-key NAME SCOPES [ORIGINS]`: mints an
 * API key for lastmile-gateway and prints it with its keys-file line.
 *
 *   key:  lmk_<64 hex digits>      (32 bytes from OpenSSL's RAND_bytes)
 *   line: NAME SHA256_HEX SCOPES [ORIGINS]
 *
 * Only the line goes into LASTMILE_GATEWAY_KEYS_FILE (the hash, not the
 * key); the key goes to the client. The line is checked by the gateway's
 * own parser (gw_keys_parse) before it is printed, so a line this prints
 * is one the gateway accepts. Single-threaded. */
#include "cli.h"

#include "gw_keys.h"
#include "lm_digest.h"

#include <stdio.h>
#include <string.h>

#define GK_RANDOM_BYTES 32
#define GK_PREFIX       "lmk_"
#define GK_LINE_MAX     4096
#define GK_ERR_MAX      1024

static void usage(FILE *f) {
    fprintf(f, "usage: lastmile gateway-key NAME SCOPES [ORIGINS]\n\n"
               "Mints an API key for lastmile-gateway and prints two lines:\n"
               "  key:  the key, for the client (Authorization: Bearer <key>); "
               "it is\n        not kept anywhere: store it now\n"
               "  line: the line for LASTMILE_GATEWAY_KEYS_FILE (its SHA-256, "
               "not the key)\n\n"
               "  NAME     letters, digits, '.', '_', '-' (shows in logs)\n"
               "  SCOPES   comma-separated: leads, responses, activities\n"
               "  ORIGINS  comma-separated web origins a browser may use the "
               "key from\n           (CORS), e.g. https://www.example.com\n\n"
               "Example:\n"
               "  lastmile gateway-key web-form leads https://www.example.com\n"
               "  lastmile gateway-key crm responses,activities | sed -n "
               "'s/^line: //p' >> keys\n");
}

int lm_cmd_gateway_key(int argc, char **argv) {
    static const struct option longopts[] = {{NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {
        .name = "gateway-key", .usage = usage, .longopts = longopts};
    char key[sizeof(GK_PREFIX) + 2 * GK_RANDOM_BYTES];
    char hex[LM_DIGEST_SHA256_HEX], line[GK_LINE_MAX], err[GK_ERR_MAX];
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;)
        return lm_cli_exit(o);
    int n = argc - optind;
    if (n < 2)
        return lm_cli_usage_error(&cli, "%s is missing",
                                  n == 0 ? "NAME" : "SCOPES");
    if (n > 3)
        return lm_cli_usage_error(&cli, "unexpected argument \"%s\"",
                                  argv[optind + 3]);
    memcpy(key, GK_PREFIX, strlen(GK_PREFIX));
    if (lm_digest_random_hex(GK_RANDOM_BYTES, key + strlen(GK_PREFIX),
                             sizeof(key) - strlen(GK_PREFIX)) != 0 ||
        lm_digest_sha256_hex(key, strlen(key), hex) != 0) {
        fprintf(stderr, "lastmile gateway-key: OpenSSL could not make a "
                        "random key\n");
        return LM_EXIT_FAILED;
    }
    snprintf(line, sizeof(line), "%s %s %s%s%s", argv[optind], hex,
             argv[optind + 1], n == 3 ? " " : "",
             n == 3 ? argv[optind + 2] : "");
    gw_keys *ks = gw_keys_parse(line, "line", 1, 1, err, sizeof(err));
    if (!ks) /* "line:1: what; fix": the what and the fix */
        return lm_cli_usage_error(
            &cli, "%s", strncmp(err, "line:1: ", 8) == 0 ? err + 8 : err);
    gw_keys_free(ks);
    printf("key:  %s\nline: %s\n", key, line);
    return LM_EXIT_OK;
}
