/* lm_pbjson_internal.h — what the two directions of lm_pbjson share:
 * the schema helpers over protobuf-c's descriptors (lm_pbjson.c) used by
 * message → JSON (lm_pbjson.c) and JSON → message (lm_pbjson_parse.c).
 * Private to those files. */
#ifndef LM_PBJSON_INTERNAL_H
#define LM_PBJSON_INTERNAL_H

#include "lm_pbjson.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define PBJSON_PATH_MAX   256 /* longest field path kept for errors */
#define PBJSON_NAME_MAX   128 /* longest field name for map-entry checks */
#define PBJSON_NUMBER_MAX 32  /* longest text of an integer map key */

/* Bytes of one element of a field of type t (in a repeated array). */
size_t pbj_elt_size(ProtobufCType t);
/* Whether a singular field has a `has_` flag at quantifier_offset. */
int pbj_has_flag(const ProtobufCFieldDescriptor *f);
/* Whether a field is a map: a repeated "<CamelName>Entry" message whose
 * fields are exactly key = 1 and value = 2 (what protoc generates). */
int pbj_is_map(const ProtobufCFieldDescriptor *f);

#endif
