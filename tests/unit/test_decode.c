/* test_decode.c — lm_decode: protobuf decode plus proto3's UTF-8 rule.
 * Issue: a LeadSubmitted with full_name "Jos\xc3\x28 \xff\xfe" passed intake
 * and reached lastmile.qualification, where Go, Java and Python consumers
 * cannot parse it. */
#include "lm_decode.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Packs msg, decodes it as `type`; returns the decoded message or NULL
 * with the reason in reason. */
static ProtobufCMessage *roundtrip(const ProtobufCMessage *msg,
                                   const ProtobufCMessageDescriptor *type,
                                   char *reason, size_t reasonsz) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    protobuf_c_message_pack(msg, buf);
    reason[0] = '\0';
    ProtobufCMessage *m = lm_decode(type, buf, n, reason, reasonsz);
    free(buf);
    return m;
}

static Lastmile__V1__LeadSubmitted lead(void) {
    Lastmile__V1__LeadSubmitted in = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    in.event_id = "ev-1";
    in.email = "jose@example.com";
    in.full_name = "Jos\xc3\xa9 \xf0\x9f\x99\x82"; /* José 🙂 */
    return in;
}

Test(decode, utf8_text_passes) {
    Lastmile__V1__LeadSubmitted in = lead();
    char reason[256];
    ProtobufCMessage *m = roundtrip(
        &in.base, &lastmile__v1__lead_submitted__descriptor, reason, 256);
    cr_assert_not_null(m, "%s", reason);
    cr_expect_str_eq(((Lastmile__V1__LeadSubmitted *)m)->full_name,
                     in.full_name);
    protobuf_c_message_free_unpacked(m, NULL);
}

Test(decode, a_broken_string_is_refused_with_its_field_named) {
    Lastmile__V1__LeadSubmitted in = lead();
    in.full_name = "Jos\xc3\x28 \xff\xfe";
    char reason[256];
    cr_expect_null(roundtrip(&in.base,
                             &lastmile__v1__lead_submitted__descriptor, reason,
                             sizeof(reason)));
    cr_expect(strncmp(reason, "full_name: not valid UTF-8 (at byte 3)", 38) ==
                  0,
              "%s", reason);
}

Test(decode, a_broken_map_value_is_named_by_its_path) {
    Lastmile__V1__LeadSubmitted in = lead();
    Lastmile__V1__LeadSubmitted__AttributesEntry e0 =
        LASTMILE__V1__LEAD_SUBMITTED__ATTRIBUTES_ENTRY__INIT;
    Lastmile__V1__LeadSubmitted__AttributesEntry e1 = e0;
    e0.key = "pages_viewed";
    e0.value = "3";
    e1.key = "note";
    e1.value = "caf\xe9"; /* Latin-1, not UTF-8 */
    Lastmile__V1__LeadSubmitted__AttributesEntry *attrs[] = {&e0, &e1};
    in.attributes = attrs;
    in.n_attributes = 2;
    char reason[256];
    cr_expect_null(roundtrip(&in.base,
                             &lastmile__v1__lead_submitted__descriptor, reason,
                             sizeof(reason)));
    cr_expect(
        strstr(reason, "attributes[1].value: not valid UTF-8 (at byte 3)"),
        "%s", reason);
}

Test(decode, a_oneof_member_inside_is_checked) {
    Lastmile__V1__TimingEvent ev = LASTMILE__V1__TIMING_EVENT__INIT;
    Lastmile__V1__LeadResponse r = LASTMILE__V1__LEAD_RESPONSE__INIT;
    r.event_id = "r-1";
    r.lead_id = "0123456789abcdef-01234567";
    r.action_id = "\xc0\xaf"; /* an overlong '/' */
    ev.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
    ev.response = &r;
    char reason[256];
    cr_expect_null(roundtrip(&ev.base, &lastmile__v1__timing_event__descriptor,
                             reason, sizeof(reason)));
    cr_expect(strstr(reason, "response.action_id: not valid UTF-8"), "%s",
              reason);
}

Test(decode, bytes_that_are_no_message_are_refused) {
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    char reason[256];
    cr_expect_null(lm_decode(&lastmile__v1__lead_submitted__descriptor, junk,
                             sizeof(junk), reason, sizeof(reason)));
    cr_expect(strstr(reason, "not a valid lastmile.v1.LeadSubmitted"), "%s",
              reason);
}

/* Packs msg into a malloc'd buffer (*n its length). */
static uint8_t *pack(const ProtobufCMessage *msg, size_t *n) {
    *n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(*n ? *n : 1);
    protobuf_c_message_pack(msg, buf);
    return buf;
}

/* lm_decode_in: the message lives in the arena, whole (strings and the
 * map's entries), outlives the input bytes, and is gone with the reset. */
Test(decode, in_an_arena_the_message_lives_there) {
    Lastmile__V1__LeadSubmitted in = lead();
    Lastmile__V1__LeadSubmitted__AttributesEntry e0 =
        LASTMILE__V1__LEAD_SUBMITTED__ATTRIBUTES_ENTRY__INIT;
    e0.key = "pages_viewed";
    e0.value = "3";
    Lastmile__V1__LeadSubmitted__AttributesEntry *attrs[] = {&e0};
    in.attributes = attrs;
    in.n_attributes = 1;
    size_t n;
    uint8_t *buf = pack(&in.base, &n);
    lm_arena a = {0};
    char reason[256] = "";
    Lastmile__V1__LeadSubmitted *m =
        (Lastmile__V1__LeadSubmitted *)lm_decode_in(
            &a, &lastmile__v1__lead_submitted__descriptor, buf, n, reason,
            sizeof(reason));
    memset(buf, 0, n);
    free(buf);
    cr_assert_not_null(m, "%s", reason);
    cr_expect_str_eq(m->full_name, in.full_name);
    cr_expect_str_eq(m->email, "jose@example.com");
    cr_assert_eq(m->n_attributes, 1);
    cr_expect_str_eq(m->attributes[0]->value, "3");
    cr_expect_gt(lm_arena_held(&a), 0);
    lm_arena_free(&a);
}

/* A refused input rewinds the arena: a batch of refused inputs leaves
 * the arena where it stood, and what was decoded before stays whole. */
Test(decode, in_an_arena_a_refused_input_leaves_nothing) {
    Lastmile__V1__LeadSubmitted ok = lead();
    Lastmile__V1__LeadSubmitted bad = lead();
    bad.full_name = "Jos\xc3\x28";
    size_t nok, nbad;
    uint8_t *bok = pack(&ok.base, &nok), *bbad = pack(&bad.base, &nbad);
    lm_arena a = {0};
    char reason[256];
    Lastmile__V1__LeadSubmitted *first =
        (Lastmile__V1__LeadSubmitted *)lm_decode_in(
            &a, &lastmile__v1__lead_submitted__descriptor, bok, nok, reason,
            sizeof(reason));
    cr_assert_not_null(first, "%s", reason);
    lm_arena_mark before = lm_arena_mark_get(&a);
    for (int i = 0; i < 1000; i++) {
        cr_expect_null(lm_decode_in(&a,
                                    &lastmile__v1__lead_submitted__descriptor,
                                    bbad, nbad, reason, sizeof(reason)));
        const uint8_t junk[] = {0x0a, 0x7f, 'x'}; /* a string cut short */
        cr_expect_null(
            lm_decode_in(&a, &lastmile__v1__lead_submitted__descriptor, junk,
                         sizeof(junk), reason, sizeof(reason)));
    }
    lm_arena_mark after = lm_arena_mark_get(&a);
    cr_expect_eq(after.chunk, before.chunk);
    cr_expect_eq(after.used, before.used);
    cr_expect_str_eq(first->full_name, ok.full_name);
    free(bok);
    free(bbad);
    lm_arena_free(&a);
}
