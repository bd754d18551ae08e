/* publish.c — `lastmile publish`: leads from JSON lines or CSV onto the
 * intake topic.
 *
 *   lastmile publish FILE [--format jsonl|csv] [--dry-run]
 *
 * Each row becomes one LeadSubmitted (through lm_pbjson, so the field
 * names, types and error messages are the contract's), produced to
 * <prefix>intake keyed by the lowercased, trimmed email, with header lm-id
 * = event_id. Checks here are syntactic only (the row parses, its fields
 * have the right types, an email is there to key by); the intake worker
 * validates and dead-letters the rest.
 *
 * Invariants: a bad row is reported on stderr as `FILE:LINE: reason` and
 * skipped, never half-sent; a row counts as published only once its
 * delivery report says so; the exit code is 0 only if every row was
 * published. Defaults filled in here are deterministic per row (event_id
 * from the file's base name and the row's first line) except
 * submitted_at_ms, which is the fleet clock's now (lm_clock).
 *
 * Ownership: one publisher per run owns the producer, the input stream and
 * the CSV header; rows are parsed into buffers reused from row to row.
 * Single-threaded; librdkafka's delivery reports run inside rd_kafka_poll
 * on this thread. SIGINT/SIGTERM stop reading; what was queued is still
 * awaited. */
#include "cli.h"

#include "lm_buf.h"
#include "lm_clock.h"
#include "lm_env.h"
#include "lm_hash.h"
#include "lm_kafka.h"
#include "lm_pbjson.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUBLISH_RECORD_MAX   (1 << 20) /* bytes in one line or CSV record */
#define PUBLISH_COLUMNS_MAX  128       /* columns in a CSV file */
#define PUBLISH_EVENT_ID_MAX 128       /* intake's limit for event_id */
#define PUBLISH_KEY_MAX      512       /* bytes of the Kafka key */
#define PUBLISH_ERR_MAX      2048
#define PUBLISH_POLL_MS      100
/* Give up on an undeliverable row after this long, unless
 * LASTMILE_KAFKA_MESSAGE_TIMEOUT_MS says otherwise (the fleet's own
 * producers wait forever; a command should end). */
#define PUBLISH_MESSAGE_TIMEOUT_MS "30000"
#define PUBLISH_ATTR_PREFIX        "attributes."

typedef enum publish_format {
    FORMAT_NONE,
    FORMAT_JSONL,
    FORMAT_CSV
} publish_format;

typedef struct publisher {
    const char *file; /* as given, for reports */
    char base[256];   /* base name, for default event ids */
    int dry_run;
    rd_kafka_t *rk;
    char topic[LM_TOPIC_MAX];
    size_t published, skipped;
    int counting; /* rows so far (off while reading a CSV header) */
    /* CSV header: per column, a field or an attribute key */
    size_t n_columns;
    const ProtobufCFieldDescriptor *column_field[PUBLISH_COLUMNS_MAX];
    char *column_attr[PUBLISH_COLUMNS_MAX]; /* malloc'd; NULL for a field */
} publisher;

static volatile sig_atomic_t publish_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    publish_stop = 1;
}

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: lastmile publish FILE [--format jsonl|csv] [--dry-run]\n\n"
        "Publishes leads (LeadSubmitted) from FILE onto <prefix>intake, keyed "
        "by the\nlowercased email. FILE `-` reads stdin.\n\n"
        "  --format jsonl|csv  the input format; by default from the "
        "extension\n"
        "                      (.jsonl or .json: JSON lines; .csv: CSV), "
        "and jsonl\n"
        "                      for stdin\n"
        "  --dry-run           check every row and print what would be "
        "published\n"
        "                      ({\"key\":...,\"value\":{...}} per row) "
        "without a broker\n\n"
        "JSON lines: one LeadSubmitted object per line, in the proto field "
        "names:\n"
        "  {\"event_id\":\"f-1\",\"source\":\"web_form\",\"email\":"
        "\"ada@example.com\",\n"
        "   \"country\":\"GB\",\"company_size\":40,"
        "\"attributes\":{\"pages_viewed\":\"7\"}}\n"
        "CSV: a header row naming LeadSubmitted fields; a column "
        "attributes.KEY\nfeeds attributes[KEY]. Quote a field with \"...\" to "
        "hold commas, line\nbreaks or \"\" (one quote). Empty cells count as "
        "unset.\n\n"
        "Defaults: a row without submitted_at_ms gets now; a row without "
        "event_id\ngets NAME:LINE, the file's base name and the row's line "
        "(e.g. leads.csv:7;\n\"stdin:7\" for stdin), so publishing the same "
        "file again is deduplicated\nby intake. Blank lines are skipped.\n\n"
        "Checks here are syntactic (the row parses, types fit, an email is "
        "there);\nthe intake worker validates the rest and dead-letters what "
        "fails. Each bad\nrow is reported as FILE:LINE: REASON on stderr and "
        "skipped. At the end:\n`published N, skipped M`. Exit 0 if every row "
        "was published, 1 if any row\nwas skipped or not delivered, 2 on "
        "usage errors.\n\n"
        "Kafka: LASTMILE_BROKERS, LASTMILE_TOPIC_PREFIX and any "
        "LASTMILE_KAFKA_*\nproperty (`lastmile env` lists them).\n");
}

/* FILE:LINE: reason on stderr; a skipped row unless it is the header. */
static void report(publisher *p, long line, const char *reason) {
    fprintf(stderr, "%s:%ld: %s\n", p->file, line, reason);
    if (p->counting)
        p->skipped++;
}

/* ------------------------------------------------------------ Kafka */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque) {
    (void)rk;
    publisher *p = opaque;
    long line = (long)(intptr_t)rkm->_private;
    if (rkm->err) {
        char why[PUBLISH_ERR_MAX];
        snprintf(why, sizeof(why), "not delivered: %s",
                 rd_kafka_err2str(rkm->err));
        report(p, line, why);
    } else {
        p->published++;
    }
}

static int has_kafka_prop(const lm_settings *s, const char *name) {
    for (int i = 0; i < s->n_kafka; i++)
        if (strcmp(s->kafka[i].name, name) == 0)
            return 1;
    return 0;
}

/* The producer, or -1 with the reason on stderr. */
static int producer_open(publisher *p, const lm_settings *s) {
    char err[PUBLISH_ERR_MAX];
    if (!s->brokers || !*s->brokers) {
        fprintf(stderr,
                "lastmile publish: LASTMILE_BROKERS is not set (e.g. "
                "LASTMILE_BROKERS=kafka-0:9092, or eval \"$(lastmile dev "
                "up)\")\n");
        return -1;
    }
    rd_kafka_conf_t *conf =
        lm_kafka_conf(s, LM_KAFKA_PRODUCER, NULL, err, sizeof(err));
    if (!conf) {
        fprintf(stderr, "lastmile publish: %s\n", err);
        return -1;
    }
    if (!has_kafka_prop(s, "message.timeout.ms") &&
        !has_kafka_prop(s, "delivery.timeout.ms") &&
        rd_kafka_conf_set(conf, "message.timeout.ms",
                          PUBLISH_MESSAGE_TIMEOUT_MS, err,
                          sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "lastmile publish: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!p->rk) {
        rd_kafka_conf_destroy(conf); /* not taken on failure */
        fprintf(stderr, "lastmile publish: %s\n", err);
        return -1;
    }
    lm_topic_name(s, LM_TOPIC_INTAKE, p->topic, sizeof(p->topic));
    return 0;
}

/* Waits until every queued row has its delivery report. */
static void producer_drain(publisher *p) {
    if (!p->rk)
        return;
    while (rd_kafka_outq_len(p->rk) > 0)
        rd_kafka_flush(p->rk, PUBLISH_POLL_MS);
    rd_kafka_poll(p->rk, 0);
}

/* -------------------------------------------------------------- rows */

/* The Kafka key: the email, trimmed and in lower case (ASCII). 0, -1 when
 * it is empty, -2 when it does not fit keysz. */
static int email_key(const char *email, char *key, size_t keysz) {
    while (*email == ' ' || *email == '\t')
        email++;
    size_t n = strlen(email);
    while (n > 0 && (email[n - 1] == ' ' || email[n - 1] == '\t'))
        n--;
    if (n == 0)
        return -1;
    if (n >= keysz)
        return -2;
    for (size_t i = 0; i < n; i++)
        key[i] = email[i] >= 'A' && email[i] <= 'Z'
                     ? (char)(email[i] - 'A' + 'a')
                     : email[i];
    key[n] = '\0';
    return 0;
}

static void default_event_id(const publisher *p, long line, char *out,
                             size_t outsz) {
    int n = snprintf(out, outsz, "%s:%ld", p->base, line);
    if (n < 0 || (size_t)n > PUBLISH_EVENT_ID_MAX || (size_t)n >= outsz)
        snprintf(out, outsz, "file-%016" PRIx64 ":%ld",
                 lm_hash64_str(p->base, 0), line);
}

static int produce(publisher *p, long line, const char *key,
                   const Lastmile__V1__LeadSubmitted *lead) {
    size_t len = lastmile__v1__lead_submitted__get_packed_size(lead);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        report(p, line, "out of memory");
        return -1;
    }
    lastmile__v1__lead_submitted__pack(lead, buf);
    rd_kafka_resp_err_t e;
    for (;;) {
        e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(buf, len),
            RD_KAFKA_V_HEADER("lm-id", lead->event_id,
                              (ssize_t)strlen(lead->event_id)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(intptr_t)line), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p->rk, PUBLISH_POLL_MS);
    }
    free(buf);
    rd_kafka_poll(p->rk, 0);
    if (e) {
        char why[PUBLISH_ERR_MAX];
        snprintf(why, sizeof(why), "not produced: %s", rd_kafka_err2str(e));
        report(p, line, why);
        return -1;
    }
    return 0;
}

/* One row as a JSON object (borrowed): to a LeadSubmitted, defaults, out. */
static void publish_row(publisher *p, long line, const json_t *row) {
    char err[PUBLISH_ERR_MAX];
    ProtobufCMessage *m = lm_pbjson_to_message(
        &lastmile__v1__lead_submitted__descriptor, row, err, sizeof(err));
    if (!m) {
        report(p, line, err);
        return;
    }
    Lastmile__V1__LeadSubmitted *lead = (Lastmile__V1__LeadSubmitted *)m;
    char key[PUBLISH_KEY_MAX], id[PUBLISH_EVENT_ID_MAX + 1];
    int kr = email_key(lead->email, key, sizeof(key));
    if (kr != 0) {
        report(p, line,
               kr == -2 ? "email: too long to be a Kafka key"
                        : "email: missing (every lead needs one; its "
                          "lowercased form is the Kafka key)");
        goto done;
    }
    char *own_id = NULL;
    if (!lead->event_id || !*lead->event_id) {
        default_event_id(p, line, id, sizeof(id));
        own_id = lead->event_id; /* the default (static) or a malloc'd "" */
        lead->event_id = id;
    }
    if (lead->submitted_at_ms == 0)
        lead->submitted_at_ms = lm_clock_now_ms();
    if (p->dry_run) {
        json_t *out = json_pack("{s:s, s:o}", "key", key, "value",
                                lm_pbjson_from_message(m));
        char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
        if (text) {
            printf("%s\n", text);
            p->published++;
        } else {
            report(p, line, "out of memory");
        }
        free(text);
        json_decref(out);
    } else {
        produce(p, line, key, lead);
    }
    if (lead->event_id == id)
        lead->event_id = own_id; /* free_unpacked must see its own */
done:
    protobuf_c_message_free_unpacked(m, NULL);
}

/* -------------------------------------------------------- JSON lines */

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

static void publish_jsonl(publisher *p, FILE *in) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    while (!publish_stop && (n = getline(&line, &cap, in)) != -1) {
        lineno++;
        if (blank(line, (size_t)n))
            continue;
        if (n > PUBLISH_RECORD_MAX) {
            char why[128];
            snprintf(why, sizeof(why), "line longer than %d bytes",
                     PUBLISH_RECORD_MAX);
            report(p, lineno, why);
            continue;
        }
        json_error_t jerr;
        json_t *row =
            json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
        if (!row) {
            char why[PUBLISH_ERR_MAX];
            snprintf(why, sizeof(why), "not JSON: %s (column %d)", jerr.text,
                     jerr.column);
            report(p, lineno, why);
            continue;
        }
        publish_row(p, lineno, row);
        json_decref(row);
    }
    free(line);
}

/* --------------------------------------------------------------- CSV */

typedef enum csv_status { CSV_OK, CSV_MORE, CSV_BAD } csv_status;

/* Splits one record (without its final line break) into cells: each cell
 * NUL-terminated in `cells`, its offset in offs. CSV_MORE when the record
 * ends inside a quoted field (it goes on on the next line). */
static csv_status csv_split(const char *rec, size_t len, lm_buf *cells,
                            size_t *offs, size_t *n, char *err, size_t errsz) {
    lm_buf_reset(cells);
    *n = 0;
    size_t i = 0;
    for (;;) {
        if (*n == PUBLISH_COLUMNS_MAX) {
            snprintf(err, errsz, "more than %d fields", PUBLISH_COLUMNS_MAX);
            return CSV_BAD;
        }
        offs[(*n)++] = cells->len;
        if (i < len && rec[i] == '"') {
            for (i++;; i++) {
                if (i >= len)
                    return CSV_MORE;
                if (rec[i] != '"') {
                    if (lm_buf_append(cells, &rec[i], 1) < 0)
                        goto oom;
                    continue;
                }
                if (i + 1 < len && rec[i + 1] == '"') {
                    if (lm_buf_append(cells, "\"", 1) < 0)
                        goto oom;
                    i++;
                    continue;
                }
                i++; /* the closing quote */
                break;
            }
            if (i < len && rec[i] != ',') {
                snprintf(err, errsz,
                         "field %zu: text after its closing quote; write a "
                         "quote inside a quoted field as \"\"",
                         *n);
                return CSV_BAD;
            }
        } else {
            while (i < len && rec[i] != ',') {
                if (rec[i] == '"') {
                    snprintf(err, errsz,
                             "field %zu: a quote inside an unquoted field "
                             "(column %zu); quote the whole field and write "
                             "the quote as \"\"",
                             *n, i + 1);
                    return CSV_BAD;
                }
                if (lm_buf_append(cells, &rec[i], 1) < 0)
                    goto oom;
                i++;
            }
        }
        if (lm_buf_append(cells, "", 1) < 0)
            goto oom;
        if (i >= len)
            return CSV_OK;
        i++; /* the comma */
    }
oom:
    snprintf(err, errsz, "out of memory");
    return CSV_BAD;
}

/* The CSV reader's state: the current line and record, and the record's
 * cells. Owned by publish_csv; csv_reader_free releases it. */
typedef struct csv_reader {
    char *line;
    size_t cap;
    lm_buf rec, cells;
    size_t offs[PUBLISH_COLUMNS_MAX], n; /* cell i at cells.data + offs[i] */
    long lineno;                         /* lines read so far */
    long first;                          /* first line of the record */
} csv_reader;

static void csv_reader_free(csv_reader *r) {
    free(r->line);
    lm_buf_free(&r->rec);
    lm_buf_free(&r->cells);
}

/* Reads the next non-blank record, joining lines while a quoted field is
 * open. 1 with the cells in r, 0 at the end, -1 for a bad record (reported
 * and skipped). */
static int csv_next(publisher *p, FILE *in, csv_reader *r) {
    char err[PUBLISH_ERR_MAX];
    ssize_t got;
    for (;;) {
        if (publish_stop || (got = getline(&r->line, &r->cap, in)) == -1)
            return 0;
        r->lineno++;
        if (blank(r->line, (size_t)got))
            continue;
        r->first = r->lineno;
        lm_buf_reset(&r->rec);
        for (;;) {
            size_t k = (size_t)got;
            if (k > 0 && r->line[k - 1] == '\n')
                k--;
            if (k > 0 && r->line[k - 1] == '\r')
                k--;
            if (r->rec.len + k > PUBLISH_RECORD_MAX) {
                snprintf(err, sizeof(err), "record longer than %d bytes",
                         PUBLISH_RECORD_MAX);
                report(p, r->first, err);
                return -1;
            }
            if (lm_buf_append(&r->rec, r->line, k) < 0) {
                report(p, r->first, "out of memory");
                return -1;
            }
            csv_status st = csv_split(r->rec.data, r->rec.len, &r->cells,
                                      r->offs, &r->n, err, sizeof(err));
            if (st == CSV_OK)
                return 1;
            if (st == CSV_BAD) {
                report(p, r->first, err);
                return -1;
            }
            if ((got = getline(&r->line, &r->cap, in)) == -1) {
                report(p, r->first,
                       "a quoted field is never closed (a \" is missing)");
                return 0;
            }
            r->lineno++;
            if (lm_buf_append(&r->rec, "\n", 1) < 0) {
                report(p, r->first, "out of memory");
                return -1;
            }
        }
    }
}

/* Checks the header; on failure reports it and returns -1. */
static int csv_header(publisher *p, long line, const lm_buf *cells,
                      const size_t *offs, size_t n) {
    const ProtobufCMessageDescriptor *d =
        &lastmile__v1__lead_submitted__descriptor;
    char why[PUBLISH_ERR_MAX];
    const char *cell = cells->data;
    if (n > 0 && strncmp(cell, "\xEF\xBB\xBF", 3) == 0)
        cell += 3; /* a byte-order mark, as spreadsheets write */
    for (size_t i = 0; i < n; i++, cell = cells->data + (i < n ? offs[i] : 0)) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(d, cell);
        size_t plen = strlen(PUBLISH_ATTR_PREFIX);
        if (strncmp(cell, PUBLISH_ATTR_PREFIX, plen) == 0 && cell[plen]) {
            p->column_attr[i] = strdup(cell + plen);
            if (!p->column_attr[i]) {
                report(p, line, "out of memory");
                return -1;
            }
        } else if (f && f->label != PROTOBUF_C_LABEL_REPEATED &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE) {
            p->column_field[i] = f;
        } else {
            int k = snprintf(why, sizeof(why),
                             "column %zu: \"%s\" is not a LeadSubmitted "
                             "field (columns: ",
                             i + 1, cell);
            for (unsigned j = 0;
                 j < d->n_fields && k > 0 && (size_t)k < sizeof(why); j++)
                if (d->fields[j].label != PROTOBUF_C_LABEL_REPEATED)
                    k += snprintf(why + k, sizeof(why) - (size_t)k, "%s, ",
                                  d->fields[j].name);
            if (k > 0 && (size_t)k < sizeof(why))
                snprintf(why + k, sizeof(why) - (size_t)k,
                         "and attributes.KEY for an attribute)");
            report(p, line, why);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if ((p->column_field[j] &&
                 p->column_field[j] == p->column_field[i]) ||
                (p->column_attr[j] && p->column_attr[i] &&
                 strcmp(p->column_attr[j], p->column_attr[i]) == 0)) {
                snprintf(why, sizeof(why),
                         "column %zu: \"%s\" appears twice (also column %zu)",
                         i + 1, cell, j + 1);
                report(p, line, why);
                return -1;
            }
    }
    p->n_columns = n;
    return 0;
}

/* One data record as a LeadSubmitted JSON object; NULL with why. Every
 * cell goes in as a string: lm_pbjson reads numbers from strings and names
 * the field when one is not. */
static json_t *csv_row(const publisher *p, const lm_buf *cells,
                       const size_t *offs, size_t n, char *why, size_t whysz) {
    if (n != p->n_columns) {
        snprintf(why, whysz, "%zu fields, but the header has %zu", n,
                 p->n_columns);
        return NULL;
    }
    json_t *row = json_object(), *attrs = json_object();
    if (!row || !attrs)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const char *cell = cells->data + offs[i];
        if (!*cell)
            continue; /* empty: unset */
        json_t *v = json_string(cell);
        if (!v) {
            snprintf(why, whysz, "%s%s: not UTF-8 text",
                     p->column_attr[i] ? PUBLISH_ATTR_PREFIX : "",
                     p->column_attr[i] ? p->column_attr[i]
                                       : p->column_field[i]->name);
            json_decref(row);
            json_decref(attrs);
            return NULL;
        }
        if (json_object_set_new(p->column_attr[i] ? attrs : row,
                                p->column_attr[i] ? p->column_attr[i]
                                                  : p->column_field[i]->name,
                                v) != 0)
            goto oom;
    }
    if (json_object_size(attrs) > 0) {
        if (json_object_set_new(row, "attributes", attrs) != 0) {
            attrs = NULL; /* consumed */
            goto oom;
        }
    } else {
        json_decref(attrs);
    }
    return row;
oom:
    snprintf(why, whysz, "out of memory");
    json_decref(row);
    json_decref(attrs);
    return NULL;
}

/* 0, or -1 when the header is bad (nothing can be published). */
static int publish_csv(publisher *p, FILE *in) {
    csv_reader r = {0};
    int rc = 0, got, have_header = 0;
    while ((got = csv_next(p, in, &r)) != 0) {
        if (got < 0) {
            if (!have_header) {
                rc = -1;
                break;
            }
            continue;
        }
        if (!have_header) {
            if (csv_header(p, r.first, &r.cells, r.offs, r.n) != 0) {
                rc = -1;
                break;
            }
            have_header = 1;
            p->counting = 1;
            continue;
        }
        char why[PUBLISH_ERR_MAX];
        json_t *row = csv_row(p, &r.cells, r.offs, r.n, why, sizeof(why));
        if (!row) {
            report(p, r.first, why);
            continue;
        }
        publish_row(p, r.first, row);
        json_decref(row);
    }
    csv_reader_free(&r);
    if (rc != 0)
        fprintf(stderr,
                "lastmile publish: the header of %s names the columns; "
                "nothing was published\n",
                p->file);
    return rc;
}

/* ------------------------------------------------------------- main */

static publish_format format_of(const char *file) {
    if (strcmp(file, "-") == 0)
        return FORMAT_JSONL;
    const char *dot = strrchr(file, '.');
    if (dot && (strcmp(dot, ".jsonl") == 0 || strcmp(dot, ".json") == 0))
        return FORMAT_JSONL;
    if (dot && strcmp(dot, ".csv") == 0)
        return FORMAT_CSV;
    return FORMAT_NONE;
}

int lm_cmd_publish(int argc, char **argv) {
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"dry-run", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    lm_cli_cmd cli = {.name = "publish", .usage = usage, .longopts = longopts};
    publish_format fmt = FORMAT_NONE;
    int dry_run = 0;
    for (int o; (o = lm_cli_getopt(&cli, argc, argv)) != LM_CLI_END;) {
        if (o == 'n') {
            dry_run = 1;
        } else if (o == 'f') {
            if (strcmp(optarg, "jsonl") == 0)
                fmt = FORMAT_JSONL;
            else if (strcmp(optarg, "csv") == 0)
                fmt = FORMAT_CSV;
            else
                return lm_cli_usage_error(
                    &cli, "--format takes jsonl or csv, not \"%s\"", optarg);
        } else {
            return lm_cli_exit(o);
        }
    }
    if (optind >= argc)
        return lm_cli_usage_error(&cli, "FILE is missing");
    if (optind + 1 < argc)
        return lm_cli_usage_error(&cli, "one FILE at a time");
    const char *file = argv[optind];
    if (fmt == FORMAT_NONE && (fmt = format_of(file)) == FORMAT_NONE)
        return lm_cli_usage_error(&cli,
                                  "cannot tell the format of %s from its "
                                  "name; add --format jsonl or --format csv",
                                  file);

    lm_settings s;
    if (lm_cli_settings(&cli, &s) != 0)
        return LM_EXIT_FAILED;
    lm_clock_init(s.time_scale, s.time_origin_ms, s.time_start_ms);

    publisher p = {
        .file = file, .dry_run = dry_run, .counting = fmt == FORMAT_JSONL};
    int stdin_in = strcmp(file, "-") == 0;
    const char *slash = strrchr(file, '/');
    snprintf(p.base, sizeof(p.base), "%s",
             stdin_in ? "stdin"
             : slash  ? slash + 1
                      : file);
    int rc = LM_EXIT_FAILED;
    FILE *in = stdin_in ? stdin : fopen(file, "r");
    if (!in) {
        fprintf(stderr, "lastmile publish: cannot open %s: %s\n", file,
                strerror(errno));
        goto out;
    }
    if (!dry_run && producer_open(&p, &s) != 0)
        goto out;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int bad_header =
        fmt == FORMAT_CSV ? publish_csv(&p, in) : (publish_jsonl(&p, in), 0);
    if (ferror(in)) {
        fprintf(stderr, "%s: read error: %s\n", file, strerror(errno));
        bad_header = -1;
    }
    producer_drain(&p);
    if (publish_stop)
        fprintf(stderr,
                "lastmile publish: interrupted; the rest of %s was "
                "not read\n",
                file);
    fprintf(stderr, "%s %zu, skipped %zu\n",
            dry_run ? "dry run: would publish" : "published", p.published,
            p.skipped);
    rc = p.skipped == 0 && bad_header == 0 && !publish_stop ? LM_EXIT_OK
                                                            : LM_EXIT_FAILED;
out:
    if (p.rk)
        rd_kafka_destroy(p.rk);
    for (size_t i = 0; i < PUBLISH_COLUMNS_MAX; i++)
        free(p.column_attr[i]);
    if (in && !stdin_in)
        fclose(in);
    lm_settings_free(&s);
    return rc;
}
