/*
 * codec.h: the event contract in C. Decoding, validating and encoding
 * inbound events (gamification.v1.Event) and encoding outbound ones.
 *
 * Validation enforces what the .proto comments promise, so that everything
 * after the codec can trust an event: ids non-empty and bounded, a known
 * body, a sane timestamp, bounded repeated fields, valid UTF-8 everywhere.
 */
#ifndef GM_CODEC_H
#define GM_CODEC_H

#include "err.h"
#include "event.pb-c.h"
#include "outbound.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define GM_ID_MAX     128                        /* bytes in any id */
#define GM_SHORT_MAX  64                         /* bytes in source and timezone */
#define GM_TEXT_MAX   1024                       /* bytes in a reason or comment */
#define GM_GROUPS_MAX 32                         /* group_ids per event */
#define GM_RULES_MAX  (1 << 20)                  /* bytes of rules YAML in RulesPublished */
#define GM_EVENT_MAX  (GM_RULES_MAX + 64 * 1024) /* bytes of one encoded event */
#define GM_TIME_MIN   946684800LL                /* 2000-01-01T00:00:00Z */
#define GM_TIME_MAX   7258118400LL               /* 2200-01-01T00:00:00Z */
#define GM_AMOUNT_MAX 1000000000                 /* |exp| and |coins| of an adjustment */

/*
 * Decodes and validates one encoded event. A message field given in
 * several parts (occurred_at, the body, a wrapper) is their merge, and of
 * the body the member given last wins, as protobuf says. On success *out is
 * new; free it with gm_event_free. Errors: GM_ETOOBIG (over GM_EVENT_MAX),
 * GM_EDECODE (not a protobuf Event; err says what is wrong and at which
 * byte when the wire format itself is broken), GM_EINVAL (decoded but
 * invalid; err names the field).
 */
int gm_event_decode(const uint8_t *buf, size_t len, Gamification__V1__Event **out,
                    struct gm_err *err);

/*
 * The same with the event's memory from alloc (NULL: malloc): *out is then
 * freed with gamification__v1__event__free_unpacked(*out, alloc), or all at
 * once with alloc's memory (an arena's reset).
 */
int gm_event_decode_in(const uint8_t *buf, size_t len, ProtobufCAllocator *alloc,
                       Gamification__V1__Event **out, struct gm_err *err);

/*
 * Checks an event against the contract. Returns 0, or GM_EINVAL with err
 * naming the first field in error (e.g. "lesson_completed.lesson_id").
 */
int gm_event_validate(const Gamification__V1__Event *ev, struct gm_err *err);

/*
 * Validates and encodes ev. On success *out is new (free with free()) and
 * *len its size. Errors: GM_EINVAL as gm_event_validate.
 */
int gm_event_encode(const Gamification__V1__Event *ev, uint8_t **out, size_t *len,
                    struct gm_err *err);

/* Frees an event from gm_event_decode or gm_event_from_json; NULL is fine. */
void gm_event_free(Gamification__V1__Event *ev);

/* The proto name of the event's body ("lesson_completed", ...), or "none". */
const char *gm_event_body_name(const Gamification__V1__Event *ev);

/* Encodes an outbound event; *out is new (free with free()). */
int gm_outbound_encode(const Gamification__V1__OutboundEvent *oev, uint8_t **out, size_t *len);

/*
 * The plain-record decoder behind gm_event_decode_in (eventdec.c): 1 with
 * *out the event protobuf-c would build (through alloc, NULL: malloc; not
 * validated), or 0 when the record is not plain and nothing was kept.
 */
int gm__event_decode_plain(const uint8_t *buf, size_t len, ProtobufCAllocator *alloc,
                           Gamification__V1__Event **out);

#endif
