/*
 * json.h: the proto3 canonical JSON mapping for gamify's messages (jansson).
 *
 * Field names are accepted in lowerCamelCase (as written) or as in the
 * .proto; output uses lowerCamelCase, fields in field-number order, scalar
 * fields at their default value omitted (proto3), 64-bit integers as
 * strings, enums by name, google.protobuf.Timestamp as RFC 3339 and the
 * wrapper types (Int32Value, ...) as their plain value. An unknown field, a
 * value of the wrong type, an out-of-range number, an unknown enum name or
 * two members of one oneof are errors naming the field. float, double,
 * bytes and map fields are not used by the contract and are rejected.
 */
#ifndef GM_JSON_H
#define GM_JSON_H

#include "codec.h"

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#define GM_JSON_MAX          (2 * GM_EVENT_MAX) /* bytes of one JSON document */
#define GM_JSON_REPEATED_MAX 1024               /* elements of one repeated field */

/*
 * Builds a message of type desc from a parsed JSON object. Borrows v. On
 * success *out is new; free with protobuf_c_message_free_unpacked(*out,
 * NULL). Errors: GM_EINVAL with err->where the JSON path of the field.
 */
int gm_pb_from_json_value(const ProtobufCMessageDescriptor *desc, json_t *v, ProtobufCMessage **out,
                          struct gm_err *err);

/*
 * Parses text (len bytes, one JSON object) into a message of type desc.
 * Errors: GM_ETOOBIG, GM_EJSON (with line and column), GM_EINVAL.
 */
int gm_pb_from_json(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                    ProtobufCMessage **out, struct gm_err *err);

/* Returns a new JSON object for msg (json_decref it); NULL if msg holds a
 * value the mapping cannot express (a Timestamp out of range). */
json_t *gm_pb_to_json_value(const ProtobufCMessage *msg);

/* Returns new compact JSON text for msg (free with free()), or NULL. */
char *gm_pb_to_json(const ProtobufCMessage *msg);

/*
 * Parses and validates one JSON event. On success *out is new; free with
 * gm_event_free. Errors as gm_pb_from_json, then as gm_event_validate.
 */
int gm_event_from_json(const char *text, size_t len, Gamification__V1__Event **out,
                       struct gm_err *err);

/* Returns new compact JSON text for ev (free with free()), or NULL. */
char *gm_event_to_json(const Gamification__V1__Event *ev);

#endif
