/* lm_decode.h — input bytes to a message a worker may trust.
 *
 * protobuf-c decodes a proto3 string field without checking that it is
 * UTF-8, as the proto3 spec requires; a message that passes through with
 * a broken string is one that Go, Java and Python consumers downstream
 * fail to parse. lm_decode refuses it at the door, naming the field, so
 * the runtime dead-letters it with that reason and nothing downstream
 * ever sees it.
 *
 * lm_decode_in takes the message's memory from an lm_arena instead of
 * malloc (a batch's inputs die together: one reset frees them all, issue
 * 16). Pure; thread-safe (lm_decode_in: as its arena is, one owner). */
#ifndef LM_DECODE_H
#define LM_DECODE_H

#include "lm_arena.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Decodes len bytes of `type`. On success returns the message (caller
 * frees with protobuf_c_message_free_unpacked(msg, NULL)); on failure NULL
 * with the reason in `reason`: not a valid message of the type (a field
 * numbered 0 included, which protobuf-c takes but cannot write back), or
 * a string field (at any depth) that is not UTF-8, named by its path,
 * e.g. "attributes[2].value". */
ProtobufCMessage *lm_decode(const ProtobufCMessageDescriptor *type,
                            const void *data, size_t len, char *reason,
                            size_t reasonsz);

/* lm_decode with every part of the message (strings, arrays, nested
 * messages) taken from arena `a`: the message is valid until the arena's
 * next lm_arena_reset or lm_arena_free, and is never freed on its own
 * (not with protobuf_c_message_free_unpacked). On failure the arena is
 * rewound to where it stood: a refused input leaves nothing in it. */
ProtobufCMessage *lm_decode_in(lm_arena *a,
                               const ProtobufCMessageDescriptor *type,
                               const void *data, size_t len, char *reason,
                               size_t reasonsz);

/* The first string field of msg (at any depth) that is not well-formed
 * UTF-8: 1 with its path in path[pathsz] and the offending byte's index in
 * *at; 0 when every string is UTF-8. */
int lm_decode_find_bad_utf8(const ProtobufCMessage *msg, char *path,
                            size_t pathsz, size_t *at);

#endif
