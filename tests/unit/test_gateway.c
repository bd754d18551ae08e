/* test_gateway.c — lastmile-gateway's pure parts, without a server:
 * intake's validation naming every bad field at once (lm_intake_check,
 * shared with the intake worker), the keys file (each kind of bad line
 * with its line number, lookup, scopes, origins, the token bucket), the
 * form decoder and the body reader (defaults, numbers as attribute
 * strings, every bad field named, all or nothing, 413, 415). The HTTP
 * paths are tests/shell/test_gateway.sh's. */
#include "gw_body.h"
#include "gw_keys.h"
#include "lm_digest.h"
#include "lm_intake_check.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define NOW 1764547200000LL

/* ---- lm_intake_check -------------------------------------------------- */

typedef struct seen {
    char fields[16][64];
    int n;
} seen;

static void note(void *opaque, const char *field, const char *what) {
    seen *s = opaque;
    cr_assert(strlen(what) > 5, "%s: no fix given", field);
    if (s->n < 16)
        snprintf(s->fields[s->n++], 64, "%s", field);
}

Test(intake_check, names_every_bad_field_in_order) {
    Lastmile__V1__LeadSubmitted l = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    l.email = "nope";
    l.country = "XX";
    l.full_name = "a\001b";
    l.company_size = -1;
    l.submitted_at_ms = 5;
    lm_intake_norm n;
    seen s = {0};
    cr_assert_eq(lm_intake_check(&l, NOW, &n, note, &s), 7);
    const char *want[] = {"event_id",       "source",       "email",
                          "full_name",      "company_size", "country",
                          "submitted_at_ms"};
    for (int i = 0; i < 7; i++)
        cr_expect_str_eq(s.fields[i], want[i]);
    char reason[256];
    cr_assert_eq(lm_intake_normalise(&l, NOW, &n, reason, sizeof(reason)), -1);
    cr_expect(strncmp(reason, "event_id: missing", 17) == 0, "%s", reason);
}

/* ---- keys ------------------------------------------------------------- */

static char line_buf[512];
static const char *key_line(const char *name, const char *key,
                            const char *rest) {
    char hex[LM_DIGEST_SHA256_HEX];
    lm_digest_sha256_hex(key, strlen(key), hex);
    snprintf(line_buf, sizeof(line_buf), "%s %s %s", name, hex, rest);
    return line_buf;
}

Test(keys, bad_lines_name_their_line_and_fix) {
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"web abc leads", "not 64 hex digits"},
        {"web", "1 field;"},
        {"w eb", "2 fields;"},
        {"web 0000000000000000000000000000000000000000000000000000000000000000 "
         "leeds",
         "unknown scope \"leeds\""},
        {"web 0000000000000000000000000000000000000000000000000000000000000000 "
         "leads example.com",
         "not a web origin"},
        {"web 0000000000000000000000000000000000000000000000000000000000000000 "
         "leads https://a.test extra",
         "more than 4 fields"},
        {"w!b 0000000000000000000000000000000000000000000000000000000000000000 "
         "leads",
         "has '!'"},
        {"web 000000000000000000000000000000000000000000000000000000000000000g "
         "leads",
         "not a hex digit"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024], err[1024] = "";
        snprintf(text, sizeof(text), "# keys\n\n%s\n", cases[i].line);
        cr_expect_null(gw_keys_parse(text, "keys", 1, 1, err, sizeof(err)));
        cr_expect(strstr(err, "keys:3: ") == err && strstr(err, cases[i].want),
                  "%s: got \"%s\", want keys:3: ...%s", cases[i].line, err,
                  cases[i].want);
    }
    char err[256];
    cr_expect_null(
        gw_keys_parse("# only a comment\n", "k", 1, 1, err, sizeof(err)));
    cr_expect(strstr(err, "no key"), "%s", err);
}

Test(keys, find_scopes_origins) {
    char text[2048], err[512];
    snprintf(
        text, sizeof(text), "%s # the page\n",
        key_line("web", "lmk_web", "leads https://a.test,http://b.test:8"));
    size_t n = strlen(text);
    snprintf(text + n, sizeof(text) - n, "%s\n",
             key_line("crm", "lmk_crm", "responses,activities"));
    gw_keys *ks = gw_keys_parse(text, "keys", 1, 1, err, sizeof(err));
    cr_assert_not_null(ks, "%s", err);
    cr_expect_eq(gw_keys_count(ks), 2);
    gw_key *web = gw_keys_find(ks, "lmk_web"),
           *crm = gw_keys_find(ks, "lmk_crm");
    cr_assert(web && crm);
    cr_expect_str_eq(gw_key_name(web), "web");
    cr_expect_null(gw_keys_find(ks, "lmk_we"));
    cr_expect_null(gw_keys_find(ks, ""));
    cr_expect(gw_key_has_scope(web, GW_SCOPE_LEADS));
    cr_expect(!gw_key_has_scope(web, GW_SCOPE_RESPONSES));
    cr_expect(gw_key_has_scope(crm, GW_SCOPE_ACTIVITIES));
    cr_expect(gw_key_allows_origin(web, "http://b.test:8"));
    cr_expect(!gw_key_allows_origin(web, "https://a.test/"));
    cr_expect(!gw_key_allows_origin(crm, "https://a.test"));
    cr_expect(gw_keys_origin_known(ks, "https://a.test"));
    cr_expect(!gw_keys_origin_known(ks, "https://c.test"));
    gw_keys_free(ks);
}

Test(keys, token_bucket) {
    char err[512];
    gw_keys *ks = gw_keys_parse(key_line("k", "lmk_k", "leads"), "keys", 0.5, 2,
                                err, sizeof(err));
    cr_assert_not_null(ks, "%s", err);
    gw_key *k = gw_keys_find(ks, "lmk_k");
    int retry = 0;
    cr_expect(gw_key_take(k, 1000, &retry));
    cr_expect(gw_key_take(k, 1000, &retry));
    cr_expect(!gw_key_take(k, 1000, &retry));
    cr_expect_eq(retry, 2, "one token at 0.5/s: 2 s, got %d", retry);
    cr_expect(!gw_key_take(k, 2000, &retry));
    cr_expect_eq(retry, 1);
    cr_expect(gw_key_take(k, 3000, &retry)); /* 1 token after 2 s */
    cr_expect(gw_key_take(k, 100000, &retry));
    cr_expect(gw_key_take(k, 100000, &retry)); /* the burst caps at 2 */
    cr_expect(!gw_key_take(k, 100000, &retry));
    gw_keys_free(ks);
}

/* ---- bodies ----------------------------------------------------------- */

static unsigned parse(gw_kind kind, const char *ctype, const char *body,
                      const char *idem, gw_items *items, gw_problems *pr) {
    gw_parse_in in = {kind, ctype, body, strlen(body), idem, NOW, 3};
    char detail[512];
    memset(detail, 'x', sizeof(detail)); /* as if never initialised */
    unsigned st = gw_body_parse(&in, items, pr, detail, sizeof(detail));
    cr_expect(st == 0 || (memchr(detail, '\0', sizeof(detail)) && *detail),
              "answer %u without a detail", st);
    return st;
}

static int named(const gw_problems *pr, const char *field) {
    for (size_t i = 0; i < gw_problem_count(pr); i++) {
        json_t *e = json_array_get(pr->errors, i);
        if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
            return 1;
    }
    return 0;
}

Test(body, a_json_lead_with_defaults_and_number_attributes) {
    gw_items items;
    gw_problems pr = {0};
    cr_assert_eq(parse(GW_KIND_LEADS, "application/json; charset=utf-8",
                       "{\"source\":\"web\",\"email\":\" Ada@Example.com \","
                       "\"country\":\"GB\",\"attributes\":{\"pages\":7,"
                       "\"ok\":true}}",
                       "idem-1", &items, &pr),
                 0);
    cr_assert_eq(items.n, 1);
    cr_expect_str_eq(items.v[0].id, "idem-1");
    cr_expect_str_eq(items.v[0].key, "ada@example.com");
    Lastmile__V1__LeadSubmitted *l = lastmile__v1__lead_submitted__unpack(
        NULL, items.v[0].len, items.v[0].value);
    cr_assert_not_null(l);
    cr_expect_eq(l->submitted_at_ms, NOW);
    cr_assert_eq(l->n_attributes, 2);
    for (size_t i = 0; i < 2; i++)
        cr_expect_str_eq(l->attributes[i]->value,
                         strcmp(l->attributes[i]->key, "pages") == 0 ? "7"
                                                                     : "true");
    lastmile__v1__lead_submitted__free_unpacked(l, NULL);
    gw_items_free(&items);
}

Test(body, an_array_is_all_or_nothing_and_names_fields_by_index) {
    gw_items items;
    gw_problems pr = {0};
    const char *ok =
        "{\"source\":\"w\",\"email\":\"a@b.de\",\"country\":\"DE\"}";
    char body[1024];
    snprintf(body, sizeof(body),
             "[%s, {\"source\":\"w\",\"email\":\"bad\",\"country\":\"DE\","
             "\"company_size\":\"x\"}, 3]",
             ok);
    cr_assert_eq(
        parse(GW_KIND_LEADS, "application/json", body, "b", &items, &pr), 400);
    cr_expect_eq(items.n, 0);
    cr_expect(named(&pr, "[1].email") && named(&pr, "[1].company_size") &&
              named(&pr, "[2]"));
    cr_expect(!named(&pr, "[0].event_id"));
    gw_problems_free(&pr);
    snprintf(body, sizeof(body), "[%s,%s,%s,%s]", ok, ok, ok, ok);
    cr_expect_eq(
        parse(GW_KIND_LEADS, "application/json", body, "b", &items, &pr), 413);
    snprintf(body, sizeof(body), "[%s,%s]", ok, ok);
    cr_assert_eq(
        parse(GW_KIND_LEADS, "application/json", body, "b", &items, &pr), 0);
    cr_expect_str_eq(items.v[1].id, "b:1");
    gw_items_free(&items);
}

Test(body, content_types_and_forms) {
    gw_items items;
    gw_problems pr = {0};
    cr_expect_eq(parse(GW_KIND_LEADS, "text/plain", "x", "i", &items, &pr),
                 415);
    cr_expect_eq(
        parse(GW_KIND_LEADS, "application/json", "[]", "i", &items, &pr), 400);
    cr_expect(named(&pr, "body"));
    gw_problems_free(&pr);
    cr_expect_eq(parse(GW_KIND_RESPONSES, "application/x-www-form-urlencoded",
                       "lead_id=x", "i", &items, &pr),
                 415);
    cr_expect_eq(parse(GW_KIND_LEADS, NULL, "{}", "i", &items, &pr), 415);
    cr_assert_eq(parse(GW_KIND_LEADS, "application/x-www-form-urlencoded",
                       "source=web&email=a%40b.de&country=DE&company_size=12&"
                       "attributes.page=%2Fpricing&phone=",
                       "f", &items, &pr),
                 0);
    Lastmile__V1__LeadSubmitted *l = lastmile__v1__lead_submitted__unpack(
        NULL, items.v[0].len, items.v[0].value);
    cr_assert_not_null(l);
    cr_expect_eq(l->company_size, 12);
    cr_expect_str_eq(l->attributes[0]->value, "/pricing");
    lastmile__v1__lead_submitted__free_unpacked(l, NULL);
    gw_items_free(&items);
    char err[256];
    cr_expect_null(gw_form_to_json("a=%4", 5, err, sizeof(err)));
    cr_expect_null(gw_form_to_json("a=1&a=2", 7, err, sizeof(err)));
    cr_expect(strstr(err, "given twice"), "%s", err);
    cr_expect_null(gw_form_to_json("a=%00", 5, err, sizeof(err)));
    json_t *j = gw_form_to_json("a=x+y%21&&b", 11, err, sizeof(err));
    cr_assert_not_null(j, "%s", err);
    cr_expect_str_eq(json_string_value(json_object_get(j, "a")), "x y!");
    cr_expect_null(json_object_get(j, "b"));
    json_decref(j);
}

Test(body, timing_kinds_need_their_fields_and_are_wrapped) {
    gw_items items;
    gw_problems pr = {0};
    cr_assert_eq(parse(GW_KIND_ACTIVITIES, "application/json",
                       "{\"kind\":\"DONE\"}", NULL, &items, &pr),
                 400);
    cr_expect(named(&pr, "event_id") && named(&pr, "action_id") &&
              named(&pr, "lead_id") && named(&pr, "owner") &&
              !named(&pr, "kind"));
    gw_problems_free(&pr);
    cr_assert_eq(parse(GW_KIND_RESPONSES, "application/json",
                       "{\"lead_id\":\"L-1\",\"kind\":\"REPLIED\"}", "r",
                       &items, &pr),
                 0);
    cr_expect_str_eq(items.v[0].key, "L-1");
    Lastmile__V1__TimingEvent *ev = lastmile__v1__timing_event__unpack(
        NULL, items.v[0].len, items.v[0].value);
    cr_assert_not_null(ev);
    cr_expect_eq(ev->event_case, LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE);
    cr_expect_str_eq(ev->response->event_id, "r");
    lastmile__v1__timing_event__free_unpacked(ev, NULL);
    gw_items_free(&items);
    char longid[400] = "{\"kind\":\"REPLIED\",\"lead_id\":\"";
    memset(longid + strlen(longid), 'x', 300);
    memcpy(longid + strlen(longid), "\"}", 3);
    cr_assert_eq(
        parse(GW_KIND_RESPONSES, "application/json", longid, "r2", &items, &pr),
        400);
    cr_expect(named(&pr, "lead_id"));
    gw_problems_free(&pr);
    cr_assert_eq(parse(GW_KIND_OWNER_STATUS, "application/json",
                       "{\"owner\":\"ana\",\"status\":\"AWAY\"}", "s", &items,
                       &pr),
                 0);
    cr_expect_str_eq(items.v[0].key, "ana");
    gw_items_free(&items);
}

/* ---- lm_digest -------------------------------------------------------- */

Test(digest, sha256_random_and_equal) {
    char hex[LM_DIGEST_SHA256_HEX], a[65], b[65];
    cr_assert_eq(lm_digest_sha256_hex("abc", 3, hex), 0);
    cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
                          "b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(lm_digest_random_hex(32, a, sizeof(a)), 0);
    cr_assert_eq(lm_digest_random_hex(32, b, sizeof(b)), 0);
    cr_expect_eq(strlen(a), 64);
    cr_expect_str_neq(a, b);
    cr_expect_eq(lm_digest_random_hex(33, a, sizeof(a)), -1); /* too small */
    cr_expect(lm_digest_equal("abcd", "abcd", 4));
    cr_expect(!lm_digest_equal("abcd", "abce", 4));
}
