/* fuzz_publish.c — the CSV and JSON-lines publish input: bytes → a file →
 * `lastmile publish --dry-run --format csv|jsonl FILE` (lm_cmd_publish,
 * cli/publish.c, compiled into this target), which parses every row into
 * a LeadSubmitted exactly as a real publish does, without a broker. The
 * first byte picks the format (even: CSV, odd: JSON lines).
 *
 * CSV has no parse function of its own outside publish.c (its splitter
 * and header logic are file-local), so the whole subcommand is the unit.
 * Invariants: it returns 0 (all rows fine) or 1 (a row skipped), never a
 * usage error, and never crashes, leaks or reads out of bounds. Its
 * per-row JSON (stdout) goes to /dev/null; its row errors to stderr. */
#include "fuzz.h"

#include "cli.h"

#include <string.h>
#include <unistd.h>

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(path, sizeof(path), "/tmp/lm-fuzz-publish-%ld.txt",
             (long)getpid());
    if (!freopen("/dev/null", "w", stdout))
        abort();
    /* a fixed clock, so defaults are the same every run */
    setenv("LASTMILE_TIME_SCALE", "1", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
        abort();
    fclose(f);
    char a0[] = "publish", a1[] = "--dry-run", a2[] = "--format", csv[] = "csv",
         jsonl[] = "jsonl";
    char *argv[] = {a0, a1, a2, data[0] % 2 ? jsonl : csv, path, NULL};
    int rc = lm_cmd_publish(5, argv);
    fuzz_check(rc == LM_EXIT_OK || rc == LM_EXIT_FAILED,
               "publish --dry-run gave a usage error on data");
    unlink(path);
    return 0;
}
