/* lm_pbwire.h — protobuf's wire format at the byte level: cut one
 * length-delimited field out of a packed message, or put it back, along a
 * path of nested messages; read one varint field.
 *
 * For the workers' outbox hooks (lm_runtime.h, outbox_compact/_expand):
 * they drop from an output the bytes that copy its input and put them
 * back on restore, without decoding and encoding the whole message. A
 * put writes the field where an encoder that writes fields in number
 * order (protobuf-c) writes it, so a cut then a put of the same bytes
 * gives back the very message; callers still compare (the runtime does).
 *
 * Messages are the caller's; results are appended to the caller's lm_buf,
 * which is left as it was on any result but success. Groups (wire types
 * 3, 4) count as malformed. Pure, no allocation but the lm_buf's,
 * thread-safe. */
#ifndef LM_PBWIRE_H
#define LM_PBWIRE_H

#include "lm_buf.h"

#include <stddef.h>
#include <stdint.h>

#define LM_PBWIRE_DEPTH_MAX 8 /* nested messages along a path */

/* Cuts field path[depth-1] of the message at path[0..depth-2] (each of
 * those a length-delimited field of the one before, once in it) when that
 * field occurs once, is length-delimited and its payload is exactly
 * `expect`. Appends msg without it to `out`, the lengths of the enclosing
 * fields rewritten. 1 cut; 0 not there, there twice, another payload,
 * or msg malformed; -1 a bad path or out of memory. */
int lm_pbwire_cut(const uint8_t *msg, size_t len, const uint32_t *path,
                  size_t depth, const uint8_t *expect, size_t expect_len,
                  lm_buf *out);

/* Puts field path[depth-1], length-delimited, holding `payload`, into the
 * message at path[0..depth-2], before that message's first field with a
 * higher number (at its end when none). Appends the result to `out`. 0;
 * -1 malformed, a message of the path not there (or twice), the field
 * already there, a bad path, or out of memory. */
int lm_pbwire_put(const uint8_t *msg, size_t len, const uint32_t *path,
                  size_t depth, const uint8_t *payload, size_t payload_len,
                  lm_buf *out);

/* The value of varint field `field` at the top level of msg (the last one
 * when it occurs more than once). 0 found; 1 not there; -1 malformed or
 * the field has another wire type. */
int lm_pbwire_varint(const uint8_t *msg, size_t len, uint32_t field,
                     uint64_t *v);

/* The payload of length-delimited field `field` at the top level of msg
 * (the last one when it occurs more than once), pointing into msg. 0
 * found; 1 not there; -1 malformed or the field has another wire type. */
int lm_pbwire_bytes(const uint8_t *msg, size_t len, uint32_t field,
                    const uint8_t **payload, size_t *payload_len);

/* Appends v as a varint to `out`. 0 / -1 (out of memory). */
int lm_pbwire_put_varint(lm_buf *out, uint64_t v);

#endif
