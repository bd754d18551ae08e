/* lm_pbjson.h — protobuf-c messages to and from JSON (jansson), for any
 * message type, by walking its ProtobufCMessageDescriptor.
 *
 * The mapping (proto3 JSON, with lastmile's choices where it differs):
 *   - keys are the proto field names (`event_id`, not `eventId`);
 *   - string → JSON string; bytes → base64 string (standard alphabet,
 *     padded; input also takes the URL-safe alphabet and no padding);
 *   - int32/int64/uint32/uint64 (all encodings) → JSON integers (int64 too,
 *     not strings); input also takes a decimal string ("42");
 *   - double/float → JSON number; NaN and ±infinity as the strings "NaN",
 *     "Infinity", "-Infinity"; input also takes a decimal string;
 *   - bool → true/false;
 *   - enum → its value's name ("QUALIFIED"); input takes a name or a number
 *     (proto3 enums are open: a number with no name is kept and printed as
 *     a number);
 *   - repeated → array; nested message → object; map<K,V> → object keyed by
 *     the key's text;
 *   - oneof → only the set member appears; setting two members is an error;
 *   - output has every singular field, defaults included, except message
 *     fields that are unset; input may leave any field out (it keeps its
 *     default) and may give null for "default".
 * Strings that are not UTF-8 (protobuf-c does not check) come out with
 * U+FFFD in place of each bad byte, so a message always prints.
 *
 * Errors name the path of the field (`decision.reasons[1].contribution`)
 * and what was expected; an unknown key names itself and the message type.
 * Recursion follows the schema, so its depth is the schema's nesting depth
 * (jansson caps the JSON nesting depth when it parses).
 *
 * Ownership is said at each function. Pure functions over their arguments:
 * thread-safe. */
#ifndef LM_PBJSON_H
#define LM_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* The message as a JSON object. Caller owns the result (json_decref).
 * NULL only when out of memory. */
json_t *lm_pbjson_from_message(const ProtobufCMessage *m);

/* A new message of type d from the JSON object j. The message and
 * everything in it is allocated with the default allocator exactly as
 * protobuf_c_message_unpack would, so the caller frees it with
 * protobuf_c_message_free_unpacked(m, NULL). NULL with a reason in err on
 * failure (nothing to free). j is borrowed. */
ProtobufCMessage *lm_pbjson_to_message(const ProtobufCMessageDescriptor *d,
                                       const json_t *j, char *err,
                                       size_t errsz);

/* The message type of a lastmile topic, by suffix: intake → LeadSubmitted,
 * qualification → LeadAccepted, followup → FollowUpEvent, actions →
 * FollowUpAction, timing → TimingEvent, outcomes → Outcome, dlq →
 * DeadLetter. NULL for anything else. Static descriptors: nothing to
 * free. */
const ProtobufCMessageDescriptor *
lm_pbjson_topic_type(const char *topic_suffix);

/* Base64 (standard alphabet, padded) of len bytes, NUL-terminated. Caller
 * frees. NULL when out of memory. */
char *lm_pbjson_base64_encode(const uint8_t *data, size_t len);
/* Decodes base64 (standard or URL-safe alphabet, padding optional).
 * 0 with a malloc'd *out (caller frees; NULL when *outlen is 0), or -1 on
 * a character outside the alphabet or a bad length (nothing to free). */
int lm_pbjson_base64_decode(const char *s, size_t slen, uint8_t **out,
                            size_t *outlen);

#endif
