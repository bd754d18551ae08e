/* test_cli_publish.c — `lastmile publish` and `lastmile tail`, run as the
 * built binary against a fresh embedded stack (no workers):
 *   cli_publish.publish_and_tail: a JSON-lines file and a CSV file, each
 *     mixing good and bad rows: every bad row is reported as FILE:LINE:
 *     reason, the summary counts, the exit code is 1, exactly the good rows
 *     are on lastmile.intake (fields, defaults, key, lm-id header), and
 *     `tail intake --from-beginning --limit N` prints them back as JSON
 *     lines that re-encode to the very bytes on the topic; an undecodable
 *     value prints as an error with its base64 and tail goes on;
 *   cli_publish.dry_run: --dry-run needs no broker, reads stdin, and a bad
 *     CSV header stops the file;
 *   cli_publish.usage_and_help: --help (stdout, exit 0) and usage errors
 *     (stderr, exit 2) of both commands.
 * Every wait is bounded (fixture_ms) and no test asserts a duration. */
#include "stack_fixture.h"

#include "lm_pbjson.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CLI_EXE        LM_BINARY_DIR "/cli/lastmile"
#define CLI_RUN_MS     60000 /* longest a CLI run may take (scaled) */
#define CLI_READ_MS    30000 /* longest wait for records on a topic */
#define CLI_MAX_ARGS   16
#define CLI_MAX_LEADS  16
#define CLI_OUTPUT_MAX (1 << 20)

static fixture fx;

static void teardown(void) {
    fixture_down(&fx);
}

/* ------------------------------------------------------------ helpers */

typedef struct cli_run {
    int code; /* exit code; -1 if it did not exit by itself */
    char *out, *err;
} cli_run;

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    char *buf = calloc(1, CLI_OUTPUT_MAX + 1);
    cr_assert(buf);
    size_t n = fread(buf, 1, CLI_OUTPUT_MAX, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Runs `lastmile ARGS...` in dir with stdin from in_path (NULL:
 * /dev/null); its stdout and stderr land in files under dir. */
static cli_run run_cli(const char *dir, const char *in_path,
                       const char *const *args) {
    char out_path[512], err_path[512];
    snprintf(out_path, sizeof(out_path), "%s/cli.out", dir);
    snprintf(err_path, sizeof(err_path), "%s/cli.err", dir);
    const char *argv[CLI_MAX_ARGS + 2] = {CLI_EXE};
    int n = 1;
    for (; args[n - 1] && n <= CLI_MAX_ARGS; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork");
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0 || chdir(dir) != 0)
            _exit(126);
        dup2(in, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execv(CLI_EXE, (char *const *)argv);
        _exit(127);
    }
    cli_run r = {.code = -1};
    int status = 0;
    int64_t deadline = fixture_mono_ms() + fixture_ms(CLI_RUN_MS);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (fixture_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            cr_expect_fail("lastmile %s did not finish", args[0]);
            break;
        }
        usleep(20000);
    }
    if (WIFEXITED(status))
        r.code = WEXITSTATUS(status);
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    return r;
}

static void run_free(cli_run *r) {
    free(r->out);
    free(r->err);
}

static void expect_in(const char *hay, const char *needle, const char *what) {
    cr_expect(strstr(hay, needle), "%s lacks \"%s\":\n%s", what, needle, hay);
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------- what is on lastmile.intake */

typedef struct seen_lead {
    Lastmile__V1__LeadSubmitted *lead;
    char key[256], lm_id[256];
    int32_t partition;
    int64_t offset;
    uint8_t *raw;
    size_t raw_len;
} seen_lead;

typedef struct seen {
    seen_lead leads[CLI_MAX_LEADS];
    size_t n;
    int extra; /* records beyond CLI_MAX_LEADS */
} seen;

static void on_intake(void *opaque, const rd_kafka_message_t *rkm) {
    seen *s = opaque;
    if (s->n == CLI_MAX_LEADS) {
        s->extra++;
        return;
    }
    seen_lead *l = &s->leads[s->n++];
    l->lead =
        lastmile__v1__lead_submitted__unpack(NULL, rkm->len, rkm->payload);
    cr_assert(l->lead, "a record on intake does not decode");
    snprintf(l->key, sizeof(l->key), "%.*s", (int)rkm->key_len,
             (const char *)rkm->key);
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t vlen = 0;
    if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(hdrs, "lm-id", &v, &vlen) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(l->lm_id, sizeof(l->lm_id), "%.*s", (int)vlen,
                 (const char *)v);
    l->partition = rkm->partition;
    l->offset = rkm->offset;
    l->raw = malloc(rkm->len ? rkm->len : 1);
    cr_assert(l->raw);
    memcpy(l->raw, rkm->payload, rkm->len);
    l->raw_len = rkm->len;
}

static void seen_free(seen *s) {
    for (size_t i = 0; i < s->n; i++) {
        lastmile__v1__lead_submitted__free_unpacked(s->leads[i].lead, NULL);
        free(s->leads[i].raw);
    }
}

static const seen_lead *find(const seen *s, const char *event_id) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->leads[i].lead->event_id, event_id) == 0)
            return &s->leads[i];
    cr_assert_fail("no lead %s on lastmile.intake", event_id);
    return NULL;
}

static const char *attr(const Lastmile__V1__LeadSubmitted *l, const char *key) {
    for (size_t i = 0; i < l->n_attributes; i++)
        if (strcmp(l->attributes[i]->key, key) == 0)
            return l->attributes[i]->value;
    return NULL;
}

/* ------------------------------------------------------------- inputs */

static const char jsonl_text[] =
    /* 1 */ "{\"event_id\":\"j-1\",\"source\":\"web_form\",\"email\":"
            "\"Ada@Example.COM\",\"full_name\":\"Ada\",\"company\":"
            "\"Analytical\",\"title\":\"VP\",\"company_size\":250,"
            "\"country\":\"GB\",\"timezone\":\"Europe/London\",\"phone\":"
            "\"+44 20 1234\",\"submitted_at_ms\":1700000000001,"
            "\"attributes\":{\"pages_viewed\":\"7\",\"webinar\":\"yes\"}}\n"
            /* 2 */ "\n"
            /* 3 */ "{\"source\":\"crm\",\"email\":\"bob@example.com\","
            "\"company_size\":\"12\"}\n"
            /* 4 */ "{\"email\":\"x@y.z\",\"company_size\":\"many\"}\n"
            /* 5 */ "not json\n"
            /* 6 */ "{\"emial\":\"t@x.y\"}\n"
            /* 7 */ "{\"source\":\"ads\"}\n"
            /* 8 */ "{\"event_id\":\"j-8\",\"email\":\"cy@example.com\","
            "\"submitted_at_ms\":1700000000008,\"country\":\"DE\"}\n";

static const char *const jsonl_reports[] = {
    "leads.jsonl:4: company_size: expected int32 (a whole number), got "
    "string \"many\"",
    "leads.jsonl:5: not JSON: ",
    "leads.jsonl:6: unknown field \"emial\" in lastmile.v1.LeadSubmitted",
    "leads.jsonl:7: email: missing",
    "published 3, skipped 4",
};

static const char csv_text[] =
    /* 1 */ "event_id,source,email,company,company_size,submitted_at_ms,"
            "attributes.pages_viewed,attributes.note\r\n"
            /* 2 */ "c-1,web_form,Dee@Example.com,\"Acme, "
            "Inc\",40,1700000000021,3,"
            "\"said \"\"hi\"\"\"\r\n"
            /* 3 */ "c-2,crm,eve@example.com,Solo,lots,,,\n"
            /* 4 */ "\n"
            /* 5 */ ",ads,fay@example.com,\"Multi\n"
            /* 6 */ "Line Co\",,1700000000025,,\n"
            /* 7 */ "c-4,ads,gil@example.com,X,1\n"
            /* 8 */ "c-5,ads,h\"al@example.com,X,1,,,\n"
            /* 9 */ "c-6,ads,,X,1,,,\n"
            /* 10 */ "c-7,ads,ivy@example.com,,,1700000000030,,\n";

static const char *const csv_reports[] = {
    "leads.csv:3: company_size: expected int32 (a whole number), got string "
    "\"lots\"",
    "leads.csv:7: 5 fields, but the header has 8",
    "leads.csv:8: field 3: a quote inside an unquoted field",
    "leads.csv:9: email: missing",
    "published 3, skipped 4",
};

/* -------------------------------------------------------------- tests */

Test(cli_publish, publish_and_tail, .fini = teardown, .timeout = 240) {
    cr_assert_eq(fixture_up(&fx, 2, 0), 0);
    char path[512];

    /* JSON lines */
    snprintf(path, sizeof(path), "%s/leads.jsonl", fx.dir);
    write_file(path, jsonl_text);
    int64_t before = wall_ms();
    cli_run r =
        run_cli(fx.dir, NULL, (const char *[]){"publish", "leads.jsonl", NULL});
    int64_t after = wall_ms();
    cr_expect_eq(r.code, 1, "exit %d; stderr:\n%s", r.code, r.err);
    for (size_t i = 0; i < sizeof(jsonl_reports) / sizeof(*jsonl_reports); i++)
        expect_in(r.err, jsonl_reports[i], "publish leads.jsonl stderr");
    cr_expect(!strstr(r.err, "leads.jsonl:1:") &&
                  !strstr(r.err, "leads.jsonl:3:") &&
                  !strstr(r.err, "leads.jsonl:8:"),
              "a good row was reported:\n%s", r.err);
    run_free(&r);

    /* CSV, by absolute path: reports name the file as given */
    snprintf(path, sizeof(path), "%s/leads.csv", fx.dir);
    write_file(path, csv_text);
    r = run_cli(fx.dir, NULL, (const char *[]){"publish", path, NULL});
    cr_expect_eq(r.code, 1, "exit %d; stderr:\n%s", r.code, r.err);
    for (size_t i = 0; i < sizeof(csv_reports) / sizeof(*csv_reports); i++) {
        char want[1024];
        if (strncmp(csv_reports[i], "leads.csv:", 10) == 0)
            snprintf(want, sizeof(want), "%s/%s", fx.dir, csv_reports[i]);
        else
            snprintf(want, sizeof(want), "%s", csv_reports[i]);
        expect_in(r.err, want, "publish leads.csv stderr");
    }
    run_free(&r);

    /* exactly the six good rows are on lastmile.intake */
    seen s = {0};
    topic_reader *rd = reader_new(&fx, "intake");
    int64_t deadline = fixture_mono_ms() + fixture_ms(CLI_READ_MS);
    while (s.n < 6 && fixture_mono_ms() < deadline)
        reader_drain(rd, 200, on_intake, &s);
    reader_drain(rd, 500, on_intake, &s); /* anything more shows up too */
    reader_free(rd);
    cr_assert_eq(s.n, 6, "%zu records on lastmile.intake, want 6", s.n);
    cr_expect_eq(s.extra, 0);

    const seen_lead *l = find(&s, "j-1");
    cr_expect_str_eq(l->key, "ada@example.com");
    cr_expect_str_eq(l->lm_id, "j-1");
    cr_expect_str_eq(l->lead->email, "Ada@Example.COM", "sent as given");
    cr_expect_str_eq(l->lead->source, "web_form");
    cr_expect_str_eq(l->lead->full_name, "Ada");
    cr_expect_str_eq(l->lead->title, "VP");
    cr_expect_eq(l->lead->company_size, 250);
    cr_expect_str_eq(l->lead->country, "GB");
    cr_expect_str_eq(l->lead->timezone, "Europe/London");
    cr_expect_str_eq(l->lead->phone, "+44 20 1234");
    cr_expect_eq(l->lead->submitted_at_ms, 1700000000001);
    cr_expect_eq(l->lead->n_attributes, 2);
    cr_expect_str_eq(attr(l->lead, "webinar"), "yes");

    l = find(&s, "leads.jsonl:3"); /* the default id: base name + line */
    cr_expect_str_eq(l->key, "bob@example.com");
    cr_expect_eq(l->lead->company_size, 12);
    cr_expect(l->lead->submitted_at_ms >= before &&
                  l->lead->submitted_at_ms <= after,
              "default submitted_at_ms %lld is not the time of the run",
              (long long)l->lead->submitted_at_ms);

    l = find(&s, "j-8");
    cr_expect_str_eq(l->lead->country, "DE");
    cr_expect_eq(l->lead->submitted_at_ms, 1700000000008);

    l = find(&s, "c-1");
    cr_expect_str_eq(l->key, "dee@example.com");
    cr_expect_str_eq(l->lead->company, "Acme, Inc");
    cr_expect_eq(l->lead->company_size, 40);
    cr_expect_eq(l->lead->submitted_at_ms, 1700000000021);
    cr_expect_str_eq(attr(l->lead, "pages_viewed"), "3");
    cr_expect_str_eq(attr(l->lead, "note"), "said \"hi\"");

    l = find(&s, "leads.csv:5");
    cr_expect_str_eq(l->lead->company, "Multi\nLine Co");
    cr_expect_eq(l->lead->company_size, 0, "an empty cell is unset");
    cr_expect_eq(l->lead->n_attributes, 0);

    l = find(&s, "c-7");
    cr_expect_str_eq(l->key, "ivy@example.com");
    cr_expect_eq(l->lead->submitted_at_ms, 1700000000030);

    /* tail prints the same records; each value re-encodes to its bytes */
    char limit[16];
    snprintf(limit, sizeof(limit), "%zu", s.n);
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%lld",
             (long long)fixture_ms(CLI_READ_MS));
    r = run_cli(fx.dir, NULL,
                (const char *[]){"tail", "intake", "--from-beginning",
                                 "--limit", limit, "--timeout-ms", timeout,
                                 NULL});
    cr_expect_eq(r.code, 0, "tail exit %d; stderr:\n%s", r.code, r.err);
    size_t lines = 0;
    for (char *line = r.out, *nl; *line; line = nl + 1, lines++) {
        nl = strchr(line, '\n');
        cr_assert(nl, "tail's last line has no newline");
        *nl = '\0';
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        cr_assert(j, "tail printed no JSON: %s", line);
        cr_expect_str_eq(json_string_value(json_object_get(j, "topic")),
                         "lastmile.intake");
        json_t *value = json_object_get(j, "value");
        const char *id = json_string_value(json_object_get(value, "event_id"));
        cr_assert(id, "no value.event_id in %s", line);
        const seen_lead *want = find(&s, id);
        cr_expect_str_eq(json_string_value(json_object_get(j, "key")),
                         want->key);
        cr_expect_eq(json_integer_value(json_object_get(j, "partition")),
                     want->partition);
        cr_expect_eq(json_integer_value(json_object_get(j, "offset")),
                     want->offset);
        cr_expect(json_integer_value(json_object_get(j, "timestamp_ms")) > 0);
        char err[1024] = "";
        ProtobufCMessage *m = lm_pbjson_to_message(
            &lastmile__v1__lead_submitted__descriptor, value, err, sizeof(err));
        cr_assert(m, "tail's value does not parse back: %s", err);
        size_t len = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(len ? len : 1);
        protobuf_c_message_pack(m, buf);
        cr_expect(len == want->raw_len && memcmp(buf, want->raw, len) == 0,
                  "tail's value of %s differs from the record", id);
        free(buf);
        protobuf_c_message_free_unpacked(m, NULL);
        json_decref(j);
    }
    cr_expect_eq(lines, s.n, "tail printed %zu lines, want %zu", lines, s.n);
    run_free(&r);
    seen_free(&s);

    /* an undecodable value: an error, its bytes, and tail goes on */
    static const char garbage[] = "\xff\xff\xff not protobuf";
    rd_kafka_producev(fx.producer, RD_KAFKA_V_TOPIC("lastmile.actions"),
                      RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY("k", 1),
                      RD_KAFKA_V_VALUE((void *)garbage, sizeof(garbage) - 1),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    Lastmile__V1__FollowUpAction act = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    act.action_id = "L-1:action:0";
    act.kind = LASTMILE__V1__ACTION_KIND__TOUCH;
    cr_assert_eq(fixture_produce(&fx, "actions", "L-1", &act.base), 0);
    cr_assert_eq(fixture_flush(&fx), 0);
    r = run_cli(fx.dir, NULL,
                (const char *[]){"tail", "actions", "--from-beginning",
                                 "--limit", "2", "--timeout-ms", timeout,
                                 NULL});
    cr_expect_eq(r.code, 0, "tail exit %d; stderr:\n%s", r.code, r.err);
    expect_in(r.out,
              "\"error\":\"value does not decode as "
              "lastmile.v1.FollowUpAction",
              "tail actions");
    expect_in(r.out, "\"value_base64\":\"////IG5vdCBwcm90b2J1Zg==\"",
              "tail actions");
    expect_in(r.out, "\"action_id\":\"L-1:action:0\"", "tail actions");
    expect_in(r.out, "\"kind\":\"TOUCH\"", "tail actions");
    run_free(&r);
}

Test(cli_publish, dry_run, .timeout = 60) {
    char dir[] = "/tmp/lastmile-cli-XXXXXX";
    cr_assert(mkdtemp(dir));
    unsetenv("LASTMILE_BROKERS"); /* --dry-run needs no broker */
    char path[512];
    snprintf(path, sizeof(path), "%s/in.jsonl", dir);
    write_file(path, "{\"email\":\" Zed@Example.com \",\"source\":\"ads\"}\n");
    cli_run r =
        run_cli(dir, path, (const char *[]){"publish", "-", "--dry-run", NULL});
    cr_expect_eq(r.code, 0, "exit %d; stderr:\n%s", r.code, r.err);
    expect_in(r.out, "{\"key\":\"zed@example.com\",\"value\":{", "dry run");
    expect_in(r.out, "\"event_id\":\"stdin:1\"", "dry run");
    expect_in(r.err, "dry run: would publish 1, skipped 0", "dry run");
    run_free(&r);

    snprintf(path, sizeof(path), "%s/bad.csv", dir);
    write_file(path, "email,id\na@b.c,1\n");
    r = run_cli(dir, NULL,
                (const char *[]){"publish", "bad.csv", "--dry-run", NULL});
    cr_expect_eq(r.code, 1);
    expect_in(r.err, "bad.csv:1: column 2: \"id\" is not a LeadSubmitted field",
              "bad header");
    expect_in(r.err, "nothing was published", "bad header");
    cr_expect_str_empty(r.out);
    run_free(&r);

    /* a .txt file read as CSV by --format */
    snprintf(path, sizeof(path), "%s/leads.txt", dir);
    write_file(path, "email\n\"open\n");
    r = run_cli(dir, NULL,
                (const char *[]){"publish", "leads.txt", "--format", "csv",
                                 "--dry-run", NULL});
    cr_expect_eq(r.code, 1);
    expect_in(r.err, "leads.txt:2: a quoted field is never closed",
              "open quote");
    run_free(&r);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

typedef struct usage_case {
    const char *args[8];
    int code;
    const char *stream_has; /* in stdout for exit 0, else in stderr */
} usage_case;

static const usage_case usage_cases[] = {
    {{"publish", "--help"}, 0, "usage: lastmile publish FILE"},
    {{"publish", "--help"}, 0, "NAME:LINE"},
    {{"tail", "--help"}, 0, "usage: lastmile tail TOPIC"},
    {{"publish"}, 2, "FILE is missing"},
    {{"publish", "leads.txt"}, 2, "cannot tell the format of leads.txt"},
    {{"publish", "--format", "xml", "a.csv"}, 2, "--format takes jsonl or csv"},
    {{"publish", "a.csv", "b.csv"}, 2, "one FILE at a time"},
    {{"publish", "--bogus", "a.csv"}, 2, "unknown option --bogus"},
    {{"tail"}, 2, "TOPIC is missing"},
    {{"tail", "nosuch"}, 2, "nosuch is not a lastmile topic"},
    {{"tail", "intake", "--limit", "0"}, 2, "--limit takes a whole number"},
    {{"tail", "intake", "--limit"}, 2, "--limit needs a value"},
    {{"tail", "intake", "--timeout-ms", "soon"},
     2,
     "--timeout-ms takes a whole number"},
    {{"tail", "intake", "--follow"}, 2, "unknown option --follow"},
};

Test(cli_publish, usage_and_help, .timeout = 60) {
    char dir[] = "/tmp/lastmile-cli-XXXXXX";
    cr_assert(mkdtemp(dir));
    for (size_t i = 0; i < sizeof(usage_cases) / sizeof(*usage_cases); i++) {
        const usage_case *c = &usage_cases[i];
        cli_run r = run_cli(dir, NULL, c->args);
        cr_expect_eq(r.code, c->code, "lastmile %s %s: exit %d, want %d",
                     c->args[0], c->args[1] ? c->args[1] : "", r.code, c->code);
        expect_in(c->code == 0 ? r.out : r.err, c->stream_has, c->args[0]);
        if (c->code == 2)
            expect_in(r.err, "usage: lastmile", "a usage error");
        run_free(&r);
    }
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}
