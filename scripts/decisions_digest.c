/* decisions_digest.c — every output of intake → qualification → followup
 * on a fixed set of leads, one line each, to compare two builds byte for
 * byte (scripts/decisions-digest.sh builds and runs it; issue 16: CPU
 * work must keep the decisions identical).
 *
 * Each lead is built from its number alone (domains free-mail or not, in
 * mixed case; countries, one unknown; phones, zones, titles, sizes), run
 * through the built-in policy and model with lm_recorder at a fixed time,
 * and what intake accepted goes to qualification, what qualification
 * decided to followup. Replies to the plans are made up from the lead's
 * number (nil, an HMGET's fields, an open-set size, an owner), and a new
 * batch with its own queue loads starts every 50 leads. Printed: each
 * handle's result and reject reason, then every planned, written and
 * indexed argument and every emit, in hex. Pure; one thread; not part of
 * the build (the script compiles it against a build's libraries). */
#include "followup.h"
#include "intake.h"
#include "lastmile/v1/lastmile.pb-c.h"
#include "lm_recorder.h"
#include "qualification.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DG_NOW 1764806400000LL /* 2025-12-04T00:00:00Z */

static void dg_hex(const char *tag, const void *d, size_t n) {
    const unsigned char *p = d;
    printf("%s ", tag);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

static void dg_cmds(const char *tag, size_t n,
                    const lm_recorded_cmd *(*at)(const lm_recorder *, size_t),
                    const lm_recorder *r) {
    for (size_t i = 0; i < n; i++) {
        const lm_recorded_cmd *c = at(r, i);
        for (int a = 0; a < c->argc; a++)
            dg_hex(tag, c->argv[a], c->lens[a]);
    }
}

static void dg_dump(const lm_recorder *r, const char *who, int rc) {
    printf("%s rc=%d rejected=%s\n", who, rc,
           lm_recorder_rejected(r) ? lm_recorder_rejected(r) : "-");
    dg_cmds("plan", lm_recorder_n_planned(r), lm_recorder_planned, r);
    dg_cmds("write", lm_recorder_n_writes(r), lm_recorder_write, r);
    dg_cmds("index", lm_recorder_n_index(r), lm_recorder_index, r);
    for (size_t i = 0; i < lm_recorder_n_emits(r); i++) {
        const lm_recorded_emit *e = lm_recorder_emit(r, i);
        printf("emit %s %s %s\n", e->topic, e->key, e->id);
        dg_hex("emitv", e->data, e->len);
    }
}

/* One reply to planned command c, made up from salt. */
static void dg_reply(lm_recorder *r, const char *cmd, int argc, unsigned salt) {
    static const char *const vals[] = {NULL,  "open", "1", NULL,
                                       "ann", "0",    "7"};
    if (strcmp(cmd, "HMGET") == 0) {
        size_t k = argc > 2 ? (size_t)argc - 2 : 0;
        const char **e = calloc(k + 1, sizeof(*e));
        if (!e)
            exit(1);
        for (size_t j = 0; j < k; j++)
            e[j] = salt % 3 == 0 ? NULL : vals[(salt + j) % 7];
        if (salt % 5 == 1 && k > 0)
            e[0] = "open";
        lm_recorder_reply_strs(r, k, e);
        free(e);
    } else if (strcmp(cmd, "SCARD") == 0) {
        lm_recorder_reply_int(r, (long long)(salt % 4));
    } else if (salt % 7 == 3 && strcmp(cmd, "GET") == 0) {
        lm_recorder_reply_str(r, "ann");
    } else {
        lm_recorder_reply_nil(r);
    }
}

/* Handles m once to learn its plan, then again with a reply to each of
 * the plan's commands. */
static int dg_run(lm_recorder *r, const lm_worker *w, const ProtobufCMessage *m,
                  unsigned salt) {
    lm_recorder_reset(r);
    lm_recorder_handle(r, w, m, DG_NOW);
    size_t n = lm_recorder_n_planned(r);
    char **cmds = calloc(n + 1, sizeof(*cmds));
    int *argcs = calloc(n + 1, sizeof(*argcs));
    if (!cmds || !argcs)
        exit(1);
    for (size_t i = 0; i < n; i++) {
        const lm_recorded_cmd *c = lm_recorder_planned(r, i);
        cmds[i] = strdup(c->argv[0]);
        argcs[i] = c->argc;
        if (!cmds[i])
            exit(1);
    }
    lm_recorder_reset(r);
    for (size_t i = 0; i < n; i++) {
        dg_reply(r, cmds[i], argcs[i], salt);
        free(cmds[i]);
    }
    free(cmds);
    free(argcs);
    return lm_recorder_handle(r, w, m, DG_NOW);
}

/* A new qualification batch: its WATCH, open-set sizes and owners'
 * states. */
static void dg_new_batch(lm_recorder *r, unsigned salt) {
    lm_recorder_reset(r);
    size_t k = lm_recorder_plan_batch(r, &lm_qualification_worker);
    for (size_t j = 0; j < k; j++) {
        const lm_recorded_cmd *c = lm_recorder_batch_planned(r, j);
        const char *none[] = {NULL, NULL};
        if (strcmp(c->argv[0], "WATCH") == 0)
            lm_recorder_reply_str(r, "OK");
        else if (strcmp(c->argv[0], "SCARD") == 0)
            lm_recorder_reply_int(r, (long long)((salt / 50 + j) % 5));
        else
            lm_recorder_reply_strs(r, 2, none);
    }
    lm_recorder_begin_batch(r, &lm_qualification_worker);
}

/* Emit number `i` of r on topic (NULL: any) decoded as type, or NULL. */
static ProtobufCMessage *dg_emitted(const lm_recorder *r, const char *topic,
                                    const ProtobufCMessageDescriptor *type) {
    for (size_t e = 0; e < lm_recorder_n_emits(r); e++)
        if (!topic || strcmp(lm_recorder_emit(r, e)->topic, topic) == 0) {
            ProtobufCMessage *m = lm_recorder_emit_unpack(r, e, type);
            if (m)
                return m;
        }
    return NULL;
}

/* Lead i through the three workers. */
static void dg_lead(lm_recorder *r, int i) {
    static const char *const cc[] = {"US", "DE", "gb", "FR", "IN", "BR",
                                     "JP", "CA", "XX", "AU", "ch", "NL"};
    static const char *const ti[] = {
        "CTO", "VP Sales", "Engineer", "Head of Ops",           "Intern",
        "CEO", "Director", "",         "chief revenue officer", "Student"};
    static const char *const so[] = {
        "web_form", "ads", "crm", "referral", "purchased_list", "event"};
    static const char *const dom[] = {
        "gmail.com",      "Acme.io",     "GMAIL.COM",         "yahoo.co.uk",
        "hotmail.fr",     "example.com", "outlook.com",       "big.corp",
        "Protonmail.com", "web.de",      "sub.mail.acme.com", "live.co.za"};
    static const char *const tz[] = {"", "Europe/Berlin", "America/New_York",
                                     "", "Asia/Tokyo"};
    static const char *const ph[] = {"", "+1 415 555 0100", "+49 30 1234567",
                                     "", "+81 3 1234 5678", "12"};
    static const int sz[] = {0, 5, 50, 250, 2000, 10000};
    char eid[32], email[96], name[32], pv[16];
    snprintf(eid, sizeof eid, "dg-%d", i);
    snprintf(email, sizeof email, " P%d@%s ", i % 1500, dom[i % 12]);
    snprintf(name, sizeof name, "Person %d", i);
    snprintf(pv, sizeof pv, "%d", i % 23);
    Lastmile__V1__LeadSubmitted in = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    Lastmile__V1__LeadSubmitted__AttributesEntry a =
        LASTMILE__V1__LEAD_SUBMITTED__ATTRIBUTES_ENTRY__INIT;
    Lastmile__V1__LeadSubmitted__AttributesEntry *ap[] = {&a};
    a.key = (char *)"pages_viewed";
    a.value = pv;
    in.event_id = eid;
    in.source = (char *)so[i % 6];
    in.email = email;
    in.full_name = name;
    in.company = (char *)(i % 4 ? "Acme" : "");
    in.title = (char *)ti[i % 10];
    in.company_size = sz[i % 6];
    in.country = (char *)cc[i % 12];
    in.timezone = (char *)tz[i % 5];
    in.phone = (char *)ph[i % 6];
    in.submitted_at_ms = DG_NOW - (i % 50) * 60000LL;
    in.n_attributes = i % 3 ? 1 : 0;
    in.attributes = ap;
    printf("== lead %d\n", i);
    dg_dump(r, "intake", dg_run(r, &lm_intake_worker, &in.base, (unsigned)i));
    ProtobufCMessage *acc =
        dg_emitted(r, NULL, &lastmile__v1__lead_accepted__descriptor);
    if (!acc)
        return;
    if (i % 50 == 0)
        dg_new_batch(r, (unsigned)i);
    dg_dump(r, "qualification",
            dg_run(r, &lm_qualification_worker, acc, (unsigned)i));
    protobuf_c_message_free_unpacked(acc, NULL);
    ProtobufCMessage *ev =
        dg_emitted(r, "followup", &lastmile__v1__follow_up_event__descriptor);
    if (!ev)
        return;
    dg_dump(r, "followup", dg_run(r, &lm_followup_worker, ev, (unsigned)i));
    protobuf_c_message_free_unpacked(ev, NULL);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 3000;
    if (n <= 0 || n > 1000000) {
        fprintf(stderr, "decisions-digest: leads: 1 to 1000000\n");
        return 2;
    }
    lm_settings s;
    char err[1024] = "";
    memset(&s, 0, sizeof(s));
    const lm_worker *ws[] = {&lm_intake_worker, &lm_qualification_worker,
                             &lm_followup_worker};
    for (int i = 0; i < 3; i++)
        if (ws[i]->init(ws[i]->ctx, &s, err, sizeof(err)) != 0) {
            fprintf(stderr, "decisions-digest: %s: %s\n", ws[i]->name, err);
            return 1;
        }
    lm_recorder *r = lm_recorder_new();
    if (!r)
        return 1;
    for (long i = 0; i < n; i++)
        dg_lead(r, (int)i);
    lm_recorder_free(r);
    for (int i = 0; i < 3; i++)
        ws[i]->fini(ws[i]->ctx);
    return 0;
}
