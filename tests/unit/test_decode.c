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
