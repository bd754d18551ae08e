/* fuzz_gateway.c — lastmile-gateway's request bodies: bytes → gw_body_parse
 * as a POST to one of its paths would give them (the first byte picks
 * the path and the content type: JSON, a form post, text/plain), and the
 * form decoder on its own.
 *
 * Invariants: the answer is 0 (accepted), 400, 413 or 415; a refusal has
 * a detail; a 400 names at least one field and every named field has a
 * detail; a refused body
 * leaves no item; every accepted item has an event id and a Kafka key,
 * and its bytes decode as the path's message (a lead's as LeadSubmitted,
 * the others' as a TimingEvent holding the right member). */
#include "fuzz.h"

#include "gw_body.h"

#include "lastmile/v1/lastmile.pb-c.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

static const char *const ctypes[] = {"application/json; charset=utf-8",
                                     "application/x-www-form-urlencoded",
                                     "text/plain"};

static void check_item(gw_kind kind, const gw_item *it) {
    fuzz_check(it->id[0] != '\0', "accepted item without an event id");
    fuzz_check(it->key[0] != '\0', "accepted item without a Kafka key");
    if (kind == GW_KIND_LEADS) {
        Lastmile__V1__LeadSubmitted *l =
            lastmile__v1__lead_submitted__unpack(NULL, it->len, it->value);
        fuzz_check(l != NULL, "an accepted lead does not decode");
        fuzz_check(strcmp(l->event_id, it->id) == 0, "lead id differs");
        lastmile__v1__lead_submitted__free_unpacked(l, NULL);
        return;
    }
    Lastmile__V1__TimingEvent *ev =
        lastmile__v1__timing_event__unpack(NULL, it->len, it->value);
    fuzz_check(ev != NULL, "an accepted timing event does not decode");
    fuzz_check(ev->event_case ==
                   (kind == GW_KIND_RESPONSES
                        ? LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE
                    : kind == GW_KIND_ACTIVITIES
                        ? LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_ACTIVITY
                        : LASTMILE__V1__TIMING_EVENT__EVENT_OWNER_STATUS),
               "the timing event holds another member");
    lastmile__v1__timing_event__free_unpacked(ev, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    gw_kind kind = (gw_kind)(data[0] % 4);
    gw_parse_in in = {kind,
                      ctypes[(data[0] / 4) % 3],
                      (const char *)data + 1,
                      size - 1,
                      "fz",
                      FUZZ_NOW_MS,
                      3};
    gw_items items;
    gw_problems pr = {0};
    char detail[1024] = "";
    unsigned st = gw_body_parse(&in, &items, &pr, detail, sizeof(detail));
    fuzz_check(st == 0 || st == 400 || st == 413 || st == 415,
               "an answer outside 0, 400, 413, 415");
    if (st != 0)
        fuzz_check(items.n == 0 && items.v == NULL, "a refusal left items");
    if (st == 400) {
        fuzz_check(gw_problem_count(&pr) > 0, "a 400 names no field");
        for (size_t i = 0; i < gw_problem_count(&pr); i++) {
            json_t *e = json_array_get(pr.errors, i);
            const char *f = json_string_value(json_object_get(e, "field"));
            const char *d = json_string_value(json_object_get(e, "detail"));
            fuzz_check(f && *f && d && *d, "a problem without field or detail");
        }
    }
    fuzz_check(st == 0 || detail[0] != '\0', "a refusal without a detail");
    for (size_t i = 0; i < items.n; i++)
        check_item(kind, &items.v[i]);
    gw_items_free(&items);
    gw_problems_free(&pr);
    char err[512];
    json_t *j = gw_form_to_json((const char *)data, size, err, sizeof(err));
    fuzz_check(j != NULL || err[0] != '\0', "a refused form without a reason");
    json_decref(j);
    return 0;
}
